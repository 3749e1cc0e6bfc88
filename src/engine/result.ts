/**
 * What a scan returns: a three-valued verdict and, for every detection, the evidence behind it.
 *
 * `not-scanned` is never folded into `clean`: a file skipped for a limit or an error says so, with
 * the reason (clamscan prints `OK` for those; our JSON output and library do not).
 */

export type Verdict = 'clean' | 'infected' | 'not-scanned';

export type DetectionKind = 'hash' | 'body' | 'logical' | 'yara' | 'heuristic' | 'limit' | 'metadata';

export interface Detection {
  /** The name as reported, e.g. `Eicar-Test-Signature` or `Test.Sig.UNOFFICIAL`. */
  name: string;
  kind: DetectionKind;
  /** Database file (or `container:member`) and line of the signature; absent for heuristics. */
  db?: string;
  line?: number;
  /** Layer path inside containers, outermost first; empty for the file itself. */
  layer: string[];
  /** Offset of the first matched byte in the layer, and the matched bytes (hex), for body/logical matches. */
  offset?: number;
  matched?: string;
}

export interface ScanResult {
  verdict: Verdict;
  detections: Detection[];
  /** Why the file was not scanned (`MaxFileSize`, `read error: …`), when `verdict` is `not-scanned`. */
  reason?: string;
  /** Layers a scan limit stopped (not scanned), with the limit's name (`MaxFileSize`…). */
  limits?: { layer: string[]; limit: string }[];
  /** clamscan's `--archive-verbose` chain when asked for and something was found: `TYPE:member` links and the level of the first detection. */
  chain?: { links: string[]; lastvir: number };
  /** Bytes fed to the matcher, all layers together. */
  bytesScanned: number;
}
