/**
 * The scan options of a clamd.conf: limits, parse switches, heuristic alerts, PUA and SelfCheck,
 * as clamd applies them to every scan.
 *
 * In: the configuration text. Out: the options for the scanner (ClamAV's names mapped to the
 * library's), the SelfCheck interval, the keys this reads (so that the protocol's parser does not
 * warn about them), and errors with their line for values clamd would refuse. Keys are read as
 * clamd reads them: `Key value` per line, `#` comments, the last occurrence wins; sizes take K/M/G
 * suffixes; booleans are yes/no, true/false, 1/0.
 */
import type { ParseFlag, ParseOptions, ScanLimits } from '../core/limits.js';
import type { UnpackOptions } from '../formats/unpack.js';

export interface ScanConfig {
  limits: Partial<ScanLimits>;
  unpack: Partial<UnpackOptions>;
  parse: ParseOptions;
  alertExceedsMax?: boolean;
  detectPua?: boolean;
  /** Seconds between database checks (SelfCheck; 0 off). */
  selfCheck?: number;
  errors: string[];
}

type Kind = 'size' | 'number' | 'bool';

const LIMIT_KEYS: Readonly<Record<string, [keyof ScanLimits, Kind]>> = {
  MaxFileSize: ['maxFileSize', 'size'], MaxScanSize: ['maxScanSize', 'size'], MaxRecursion: ['maxRecursion', 'number'],
  MaxFiles: ['maxFiles', 'number'], MaxScanTime: ['maxScanTime', 'number'], MaxEmbeddedPE: ['maxEmbeddedPE', 'size'],
  MaxHTMLNormalize: ['maxHtmlNormalize', 'size'], MaxHTMLNoTags: ['maxHtmlNoTags', 'size'],
  MaxScriptNormalize: ['maxScriptNormalize', 'size'], PCREMaxFileSize: ['pcreMaxFileSize', 'size'],
};

const PARSE_KEYS: Readonly<Record<string, ParseFlag>> = {
  ScanArchive: 'archive', ScanPE: 'pe', ScanELF: 'elf', ScanOLE2: 'ole2', ScanPDF: 'pdf', ScanSWF: 'swf', ScanHTML: 'html',
  ScanMail: 'mail', ScanXMLDOCS: 'xmldocs', ScanHWP3: 'hwp3', ScanOneNote: 'onenote', ScanImage: 'image',
};

const UNPACK_BOOLS: Readonly<Record<string, keyof UnpackOptions>> = {
  HeuristicAlerts: 'heuristicAlerts', AlertEncryptedArchive: 'alertEncryptedArchive', AlertEncryptedDoc: 'alertEncryptedDoc',
  AlertOLE2Macros: 'alertMacros', AlertBrokenMedia: 'alertBrokenMedia', AlertPartitionIntersection: 'alertPartitionIntersection',
};

const OTHER_KEYS = ['AlertEncrypted', 'AlertExceedsMax', 'DetectPUA', 'SelfCheck', 'MaxPartitions', 'MaxRecHWP3'];

/** The keys `scanConfig` reads. */
export const SCAN_CONFIG_KEYS: ReadonlySet<string> = new Set([...Object.keys(LIMIT_KEYS), ...Object.keys(PARSE_KEYS), ...Object.keys(UNPACK_BOOLS), ...OTHER_KEYS]);

function size(v: string): number | undefined {
  const m = /^(\d+)([kKmMgG]?)$/.exec(v);
  if (!m) return undefined;
  const s = (m[2] ?? '').toLowerCase();
  return Number(m[1]) * (s === 'k' ? 1024 : s === 'm' ? 1024 ** 2 : s === 'g' ? 1024 ** 3 : 1);
}

function bool(v: string): boolean | undefined {
  const l = v.toLowerCase();
  return l === 'yes' || l === 'true' || l === '1' ? true : l === 'no' || l === 'false' || l === '0' ? false : undefined;
}

export function scanConfig(text: string): ScanConfig {
  const out: ScanConfig = { limits: {}, unpack: {}, parse: {}, errors: [] };
  let alertEncrypted: boolean | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(\S+)\s+(.*)$/.exec(line);
    const key = m?.[1] ?? line;
    const value = (m?.[2] ?? '').trim();
    if (!SCAN_CONFIG_KEYS.has(key)) return;
    const bad = (): void => { out.errors.push(`line ${i + 1}: ${key}: invalid value ${JSON.stringify(value)}`); };
    const limit = LIMIT_KEYS[key];
    if (limit) {
      const n = limit[1] === 'size' ? size(value) : /^\d+$/.test(value) ? Number(value) : undefined;
      if (n === undefined) bad(); else out.limits[limit[0]] = n;
      return;
    }
    if (key === 'MaxPartitions' || key === 'MaxRecHWP3' || key === 'SelfCheck') {
      if (!/^\d+$/.test(value)) { bad(); return; }
      const n = Number(value);
      if (key === 'MaxPartitions') out.unpack.maxPartitions = n;
      else if (key === 'MaxRecHWP3') out.unpack.maxRecHwp3 = n;
      else out.selfCheck = n;
      return;
    }
    const b = bool(value);
    if (b === undefined) { bad(); return; }
    const flag = PARSE_KEYS[key];
    if (flag) out.parse[flag] = b;
    else if (UNPACK_BOOLS[key]) (out.unpack as Record<string, unknown>)[UNPACK_BOOLS[key]] = b;
    else if (key === 'AlertEncrypted') alertEncrypted = b;
    else if (key === 'AlertExceedsMax') out.alertExceedsMax = b;
    else if (key === 'DetectPUA') out.detectPua = b;
  });
  // AlertEncrypted sets both of its parts unless they are given themselves.
  if (alertEncrypted !== undefined) {
    out.unpack.alertEncryptedArchive ??= alertEncrypted;
    out.unpack.alertEncryptedDoc ??= alertEncrypted;
  }
  return out;
}
