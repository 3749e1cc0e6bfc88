/**
 * What the daemon's front ends (clamd's protocol, the HTTP API) ask of the scanner behind them.
 *
 * In: bytes or a path, and per-request options. Out: a three-valued verdict with its detections,
 * never "clean" when the scan could not be completed (an error, a limit). The implementation owns
 * the loaded database, its reload and the worker threads.
 */

export type Verdict = 'clean' | 'infected' | 'not-scanned';

export interface ServiceDetection {
  /** The signature's name as clamscan prints it (e.g. `Eicar-Test-Signature`, `Mark.0.UNOFFICIAL`). */
  name: string;
  /** Layer path inside containers (`[]` for the file itself). */
  layer: string[];
}

export interface ServiceResult {
  verdict: Verdict;
  detections: ServiceDetection[];
  /** Why the scan is `not-scanned`: a limit's name (`MaxFileSize`…) or an error message. */
  reason?: string;
  /**
   * Set when a scan limit (not an error) is why the scan is `not-scanned`: clamd's protocol reports
   * such an object as OK, as clamd does; the HTTP API and the library say `not-scanned`.
   */
  limit?: string;
}

export interface ServiceScanOptions {
  /** Report every detection (clamd's ALLMATCHSCAN). */
  allmatch?: boolean;
  /** The bytes may move to a scanning thread (their buffer is unusable after the call). */
  transfer?: boolean;
}

export interface ScanService {
  /** The engine and database versions, as the VERSION reply carries them. */
  version(): string;
  scanBuffer(bytes: Uint8Array, opts?: ServiceScanOptions): Promise<ServiceResult>;
  scanPath(path: string, opts?: ServiceScanOptions): Promise<ServiceResult>;
  /** The file behind an open descriptor, from offset 0 (the descriptor stays the caller's). */
  scanFd?(fd: number, opts?: ServiceScanOptions): Promise<ServiceResult>;
  /** Loads the database again and swaps it in; scans in flight finish on the old one. */
  reload(): Promise<void>;
}
