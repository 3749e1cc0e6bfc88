/**
 * Every limit of the scanner, in one place, with its reason and default.
 *
 * Names and defaults follow ClamAV 1.4 (`libclamav/default.h`, clamd.conf keys) so that
 * `--max-filesize` and friends mean the same thing here as there. Hitting a scan limit is not an
 * error and not a detection by default: the layer is skipped and reported as `not-scanned` in
 * JSON (clamscan prints `OK`); `--alert-exceeds-max` turns the first one hit into
 * `Heuristics.Limits.Exceeded.<Name>`.
 */

export interface ScanLimits {
  /** Bytes of one file or extracted child above which it is skipped (ClamAV MaxFileSize, 100 MiB). */
  maxFileSize: number;
  /** Bytes scanned per top-level file, container and children together (MaxScanSize, 400 MiB). */
  maxScanSize: number;
  /** Container nesting depth (MaxRecursion, 17). */
  maxRecursion: number;
  /** Members extracted per top-level file (MaxFiles, 10000). */
  maxFiles: number;
  /** Milliseconds per top-level file; 0 = off (MaxScanTime, 120000). */
  maxScanTime: number;
  /** Files larger than this skip PCRE subsignatures (PCREMaxFileSize, 100 MiB). */
  pcreMaxFileSize: number;
  /** A PE found inside another layer is scanned only when the rest of the layer is this size or less (MaxEmbeddedPE, 40 MiB). */
  maxEmbeddedPE: number;
  /** HTML larger than this is not normalised (MaxHTMLNormalize, 40 MiB). */
  maxHtmlNormalize: number;
  /** HTML larger than this gets no tag-stripped copy (MaxHTMLNoTags, 8 MiB). */
  maxHtmlNoTags: number;
  /** Text larger than this gets no normalised copy (MaxScriptNormalize, 20 MiB). */
  maxScriptNormalize: number;
}

export const DEFAULT_LIMITS: Readonly<ScanLimits> = Object.freeze({
  maxFileSize: 100 * 1024 * 1024,
  maxScanSize: 400 * 1024 * 1024,
  maxRecursion: 17,
  maxFiles: 10000,
  maxScanTime: 120000,
  pcreMaxFileSize: 100 * 1024 * 1024,
  maxEmbeddedPE: 40 * 1024 * 1024,
  maxHtmlNormalize: 40 * 1024 * 1024,
  maxHtmlNoTags: 8 * 1024 * 1024,
  maxScriptNormalize: 20 * 1024 * 1024,
});

/** ClamAV's name for each limit, used in `Heuristics.Limits.Exceeded.<Name>`. */
export const LIMIT_NAMES: Readonly<Record<keyof ScanLimits, string>> = Object.freeze({
  maxFileSize: 'MaxFileSize',
  maxScanSize: 'MaxScanSize',
  maxRecursion: 'MaxRecursion',
  maxFiles: 'MaxFiles',
  maxScanTime: 'MaxScanTime',
  pcreMaxFileSize: 'PCREMaxFileSize',
  maxEmbeddedPE: 'MaxEmbeddedPE',
  maxHtmlNormalize: 'MaxHTMLNormalize',
  maxHtmlNoTags: 'MaxHTMLNoTags',
  maxScriptNormalize: 'MaxScriptNormalize',
});

/**
 * Engine-internal caps. Not user options: they bound work on hostile signatures and inputs.
 */
export const ENGINE_LIMITS = Object.freeze({
  /** Longest line of a line-based database (ClamAV FILEBUFF, 8192). */
  maxDbLine: 8192,
  /** Longest `.ldb` line (CLI_DEFAULT_LSIG_BUFSIZE, 32768). */
  maxLdbLine: 32768,
  /** Subsignatures per logical signature (MAX_LDB_SUBSIGS, 64). */
  maxLdbSubsigs: 64,
  /** Nesting of generic alternatives in a body signature (ACPATT_ALTN_MAXNEST, 15). */
  maxAltNesting: 15,
  /** Widest `[x-y]` edge range (AC_CH_MAXDIST, 32). */
  maxEdgeRange: 32,
  /** Matches of one part of one signature remembered per layer; further ones are counted only. */
  maxMatchesPerPart: 1000,
  /** Chunk size for streaming a large file through the matcher. */
  streamChunk: 4 * 1024 * 1024,
  /** Files up to this size are read whole; larger ones stream in chunks. */
  wholeFileRead: 32 * 1024 * 1024,
});

/** Parses ClamAV-style sizes: `100`, `100K`, `100M`, `1G` (case-insensitive). Returns undefined on bad input. */
/** YARA's own limits, with the names its sources give them; the YARA engine reads them from here. */
export const YARA_LIMITS = Object.freeze({
  /** Matches kept per string (YR_MAX_STRING_MATCHES); later ones are dropped. */
  maxStringMatches: 1_000_000,
  /** Farthest a regex or hex-string match reaches from its start (RE_SCAN_LIMIT). */
  scanLimit: 4096,
  /** Jumps longer than this split a hex string into chained pieces (YR_STRING_CHAINING_THRESHOLD). */
  chainingThreshold: 200,
  /** Bytes of a match kept as its data (YR_CONFIG_MAX_MATCH_DATA): what `-s` prints. */
  maxMatchData: 512,
  /** The deadline of a scan (`-a`) is checked every this many atom hits or positions (YARA: every 4 KiB). */
  deadlineCheckEvery: 4096,
  /** Default scan timeout of `vigil yara` in seconds (yara's `-a` default: 1,000,000). */
  defaultTimeout: 1_000_000,
  /** Files larger than this are scanned in blocks rather than read whole. */
  wholeFileMax: 256 * 1024 * 1024,
  /** Block size of a file scanned in blocks. */
  blockSize: 16 * 1024 * 1024,
  /** Most bytes read on each side of a block (matches longer than this across a border are missed). */
  maxBlockOverlap: 1024 * 1024,
  /** Largest range a module function reads from a file scanned in blocks (beyond: undefined). */
  maxRangeRead: 256 * 1024 * 1024,
});

export function parseSize(text: string): number | undefined {
  const m = /^(\d+)([kKmMgG]?)$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : unit === 'g' ? 1024 * 1024 * 1024 : 1;
  const v = n * mult;
  return Number.isSafeInteger(v) ? v : undefined;
}

/**
 * ClamAV's parse switches (clamscan `--scan-*`, clamd `Scan*`): which kinds of readers run. A
 * switch turned off leaves the layers of its types to the raw scan alone; absent means on.
 * `html` also governs text normalisation (`--normalize=no` turns it off), `pe` the PE's
 * unpackers and section/import hashes, `mail` mail found inside text.
 */
export type ParseFlag = 'archive' | 'elf' | 'pdf' | 'swf' | 'hwp3' | 'xmldocs' | 'mail' | 'ole2' | 'html' | 'pe' | 'onenote' | 'image';
export type ParseOptions = Partial<Record<ParseFlag, boolean>>;

const ARCHIVE_TYPES = [
  'ZIP', 'ZIPSFX', 'GZ', 'BZ', 'XZ', 'GPT', 'APM', 'MBR', 'ARJ', 'ARJSFX', 'NULSFT', 'AUTOIT', 'MSSZDD', 'MSCAB', 'CABSFX', 'MSCHM',
  '7Z', '7ZSFX', 'POSIX_TAR', 'OLD_TAR', 'CPIO_OLD', 'CPIO_ODC', 'CPIO_NEWC', 'CPIO_CRC', 'BINHEX', 'SIS', 'XAR', 'PART_HFSPLUS',
  'RAR', 'RARSFX', 'EGG', 'EGGSFX', 'ALZ', 'LHA_LZH', 'RTF', 'ISO9660', 'DMG', 'UDF', 'ISHIELD_MSI',
  'OOXML_WORD', 'OOXML_PPT', 'OOXML_XL', 'OOXML_HWP',
];

/** The switch that governs each type's reader (ClamAV 1.4's `cli_magic_scan` and `scanraw`); types absent are always read. */
const PARSE_FLAG_OF: ReadonlyMap<string, ParseFlag> = new Map<string, ParseFlag>([
  ...ARCHIVE_TYPES.map((t): [string, ParseFlag] => [`CL_TYPE_${t}`, 'archive']),
  ['CL_TYPE_HWP3', 'hwp3'], ['CL_TYPE_HWPOLE2', 'ole2'], ['CL_TYPE_MSOLE2', 'ole2'],
  ['CL_TYPE_XML_WORD', 'xmldocs'], ['CL_TYPE_XML_XL', 'xmldocs'], ['CL_TYPE_XML_HWP', 'xmldocs'],
  ['CL_TYPE_PDF', 'pdf'], ['CL_TYPE_XDP', 'pdf'], ['CL_TYPE_ONENOTE', 'onenote'],
  ['CL_TYPE_HTML', 'html'], ['CL_TYPE_HTML_UTF16', 'html'], ['CL_TYPE_SWF', 'swf'],
  ['CL_TYPE_MAIL', 'mail'], ['CL_TYPE_MHTML', 'mail'], ['CL_TYPE_TNEF', 'mail'],
  ['CL_TYPE_GRAPHICS', 'image'], ['CL_TYPE_GIF', 'image'], ['CL_TYPE_PNG', 'image'], ['CL_TYPE_JPEG', 'image'], ['CL_TYPE_TIFF', 'image'],
  ['CL_TYPE_ELF', 'elf'], ['CL_TYPE_MSEXE', 'pe'],
]);

/** Whether the reader of `type` runs under `parse` (vigil's zstd reader, `type` undefined, counts as an archive). */
export function parses(parse: ParseOptions | undefined, type: string | undefined): boolean {
  if (!parse) return true;
  const flag = type === undefined ? 'archive' : PARSE_FLAG_OF.get(type);
  return flag === undefined || parse[flag] !== false;
}
