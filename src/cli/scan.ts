/**
 * `vigil scan`: the clamscan-compatible command.
 *
 * In: the arguments after `scan` (clamscan 1.4.6's option syntax), an engine loader, and the
 * process's streams. Out: clamscan's per-file lines, summary block, log file and exit code, byte
 * for byte where the engine agrees, or one JSON object per path (`--json`); the exit code is
 * returned (1 if anything was infected, else 2 if anything failed, else 0).
 *
 * Why it is built this way:
 * - Options are parsed by a small getopt_long work-alike over clamscan's own option table, so that
 *   everything clamscan accepts parses the same way here: permutation of options and paths,
 *   unambiguous long-option prefixes, `--opt=value`, `-dDIR`, `--bool[=yes|no]`, sizes with
 *   K/M/G suffixes and C's leading-zero octal, repeatable options. Options vigil does not implement
 *   are accepted with a warning (or refused, for actions on infected files such as `--remove`),
 *   never silently misread. A general-purpose parser cannot express `--recursive[=yes]` without
 *   swallowing the following path, hence the hand-written one.
 * - Output goes through one object that mirrors clamscan's two printers: lines that clamscan
 *   "logs" (FOUND, Empty file, Excluded, Symbolic link, errors, warnings, the summary) go to the
 *   terminal and to `--log`; `OK` lines go to the terminal only. Warnings and errors go to stderr
 *   unless `--stdout`.
 * - Files are walked in order by `scan/walk.ts`, read once each (one read of the whole file; the
 *   size is checked first so that a file over `--max-filesize` is never read), and scanned in
 *   parallel with `-j N` through `scan/pool.ts`, which hands results back in walk order: the output
 *   of `-j 8` is the output of `-j 1`.
 * - Deliberate differences from clamscan (each is reported on stderr or in JSON, never in the
 *   per-file lines): directory loops are reported once instead of re-entered; a command-line
 *   symlink that cannot be followed gets a warning instead of silence; an invalid `--exclude*` or
 *   `--include*` pattern gets a warning (it still matches nothing, as in clamscan); blank lines in
 *   a `--file-list` are skipped instead of being scanned as a file named "\n"; a missing file list
 *   exits 2 (clamscan leaks exit code 54); and `-` after a missing path does not reset the exit
 *   code to 0.
 */

import { loadProvenance, provenanceForJson, type ProvenanceIndex } from '../update/provenance.js';
import { defaultDatabases } from './home.js';
import { recordAudit } from './audit.js';
import { closeSync, constants as fsc, openSync, writeSync, promises as fsp } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { TransferListItem } from 'node:worker_threads';
import { DEFAULT_LIMITS, LIMIT_NAMES, type ParseFlag, type ParseOptions, type ScanLimits } from '../core/limits.js';
import type { Detection, Verdict } from '../engine/result.js';
import type { UnpackOptions } from '../formats/unpack.js';
import type { EngineLoader, EngineScanResult, LoadedEngine, ScanCallOptions, WorkerScanTask } from '../scan/engine-port.js';
import { orderedMap, WorkerPool } from '../scan/pool.js';
import { PathPattern, toFailure, walk, type FsFailure, type WalkEvent } from '../scan/walk.js';

// ---------------------------------------------------------------------------------------------
// Public surface

/** A writable text/byte sink: `process.stdout`, `process.stderr`, or a test collector. */
export interface OutStream {
  write(chunk: string | Uint8Array): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ScanDeps {
  loader: EngineLoader;
  stdout: OutStream;
  stderr: OutStream;
  /** Standard input for `-`; defaults to `process.stdin`. */
  stdin?: AsyncIterable<Uint8Array | string>;
  /** Clock; defaults to `() => new Date()`. Tests pass a fixed clock for stable summaries. */
  now?: () => Date;
  /** vigil's version for `-V` and the fallback engine version; defaults to `0.0.0`. */
  version?: string;
  /** Reads one whole file; defaults to open + read. Errors carry errno codes (`EACCES`, `EIO`, …). */
  readFile?: (path: Buffer) => Promise<Uint8Array>;
  /** Checks that a file is readable without reading it (files skipped for their size); defaults to `access(R_OK)`. */
  canRead?: (path: Buffer) => Promise<void>;
}

/** The version clamscan's behaviour is taken from. */
export const CLAMSCAN_COMPAT_VERSION = '1.4.6';

export function versionLine(version: string): string {
  return `vigil ${version} (ClamAV ${CLAMSCAN_COMPAT_VERSION} compatible)`;
}

// ---------------------------------------------------------------------------------------------
// Option table and parser

type ArgType = 'bool' | 'string' | 'number' | 'size';
/** `yes`: implemented. `ignored`: accepted with a warning. `refused`: an error. `deprecated`: accepted silently (clamscan ignores them too). */
type Support = 'yes' | 'ignored' | 'refused' | 'deprecated';

interface OptionSpec {
  long: string;
  short?: string;
  type: ArgType;
  /** The argument may only be attached with `=` (clamscan: booleans and options with a default string). */
  optionalArg?: boolean;
  multiple?: boolean;
  /** Extra constraint on string arguments (case-insensitive), as clamscan's table has. */
  pattern?: RegExp;
  support: Support;
  /** Default for an optional string argument given without `=`. */
  defaultArg?: string;
}

const b = (long: string, support: Support, short?: string): OptionSpec => ({ long, short, type: 'bool', optionalArg: true, support });
const s = (long: string, support: Support, extra: Partial<OptionSpec> = {}): OptionSpec => ({ long, type: 'string', support, ...extra });
const n = (long: string, support: Support, short?: string): OptionSpec => ({ long, short, type: 'number', support });
const z = (long: string, support: Support): OptionSpec => ({ long, type: 'size', support });

/** clamscan's `--scan-*` switches and the parse flag each sets (`--scan-html` also needs `--normalize`). */
const PARSE_SWITCHES: readonly (readonly [string, ParseFlag])[] = [
  ['scan-archive', 'archive'], ['scan-pe', 'pe'], ['scan-elf', 'elf'], ['scan-ole2', 'ole2'], ['scan-pdf', 'pdf'], ['scan-swf', 'swf'],
  ['scan-html', 'html'], ['scan-mail', 'mail'], ['scan-xmldocs', 'xmldocs'], ['scan-hwp3', 'hwp3'], ['scan-onenote', 'onenote'], ['scan-image', 'image'],
];

/** clamscan 1.4's options (Linux build), plus vigil's own at the end. */
const OPTIONS: readonly OptionSpec[] = [
  b('help', 'yes', 'h'), b('version', 'yes', 'V'), b('debug', 'ignored'), b('gen-json', 'ignored'), b('verbose', 'yes', 'v'),
  b('dumpcerts', 'ignored'), b('quiet', 'yes'), b('leave-temps', 'ignored'), b('stdout', 'yes'), b('allmatch', 'yes', 'z'),
  b('normalize', 'yes'), s('database', 'yes', { short: 'd', multiple: true }), b('recursive', 'yes', 'r'), b('gen-mdb', 'ignored'),
  n('follow-dir-symlinks', 'yes'), n('follow-file-symlinks', 'yes'), b('bell', 'yes'), b('no-summary', 'yes'),
  s('file-list', 'yes', { short: 'f' }), b('infected', 'yes', 'i'), b('suppress-ok-results', 'yes', 'o'),
  s('move', 'refused'), s('copy', 'refused'), b('remove', 'refused'),
  s('exclude', 'yes', { multiple: true }), s('exclude-dir', 'yes', { multiple: true }), s('include', 'yes', { multiple: true }), s('include-dir', 'yes', { multiple: true }),
  n('structured-ssn-format', 'ignored'), b('archive-verbose', 'yes', 'a'),
  b('bytecode-trust-all', 'deprecated', 't'), b('force', 'deprecated'), b('disable-summary', 'deprecated'), b('disable-archive', 'deprecated'),
  b('no-archive', 'deprecated'), b('no-pe', 'deprecated'), b('no-elf', 'deprecated'), b('no-ole2', 'deprecated'), b('no-pdf', 'deprecated'),
  b('no-html', 'deprecated'), b('no-mail', 'deprecated'), b('no-phishing-sigs', 'deprecated'), b('no-phishing-scan-urls', 'deprecated'),
  b('no-algorithmic', 'deprecated'), b('no-phishing-restrictedscan', 'deprecated'), n('max-ratio', 'deprecated'), z('max-space', 'deprecated'),
  ...['unzip', 'unrar', 'arj', 'unzoo', 'lha', 'jar', 'tar', 'tgz', 'deb'].map((name) => s(name, 'deprecated', { optionalArg: true, defaultArg: 'foo' })),
  b('alert-exceeds-max', 'yes'), n('cache-size', 'ignored'), s('log', 'yes', { short: 'l' }), s('tempdir', 'ignored'), b('official-db-only', 'yes'),
  n('fail-if-cvd-older-than', 'ignored'), s('yara-rules', 'ignored'), n('max-dir-recursion', 'yes'), b('cross-fs', 'yes'), b('disable-cache', 'ignored'),
  b('bytecode', 'ignored'), n('bytecode-timeout', 'ignored'), b('bytecode-unsigned', 'ignored'),
  s('bytecode-mode', 'ignored', { pattern: /^(Auto|ForceJIT|ForceInterpreter|Test)$/i }),
  s('statistics', 'ignored', { multiple: true, pattern: /^(none|None|bytecode|Bytecode|pcre|PCRE)$/i }),
  b('detect-pua', 'yes'), s('exclude-pua', 'ignored', { multiple: true }), s('include-pua', 'ignored', { multiple: true }),
  b('heuristic-alerts', 'yes'), b('alert-encrypted', 'yes'), b('alert-encrypted-archive', 'yes'), b('alert-encrypted-doc', 'yes'), b('alert-macros', 'yes'), b('alert-broken-media', 'yes'),
  ...PARSE_SWITCHES.map(([o]) => b(o, 'yes')),
  ...['phishing-sigs', 'phishing-scan-urls', 'heuristic-scan-precedence', 'detect-structured'].map((o) => b(o, 'ignored')),
  n('structured-cc-count', 'ignored'), n('structured-ssn-count', 'ignored'),
  ...['alert-broken', 'structured-cc-mode', 'alert-phishing-ssl', 'alert-phishing-cloak',
    'scan-image-fuzzy-hash', 'force-to-disk'].map((o) => b(o, 'ignored')), b('alert-partition-intersection', 'yes'),
  n('max-scantime', 'yes'), z('max-scansize', 'yes'), z('max-filesize', 'yes'), n('max-recursion', 'yes'), n('max-files', 'yes'),
  z('max-embeddedpe', 'yes'), z('max-htmlnormalize', 'yes'), z('max-htmlnotags', 'yes'), z('max-scriptnormalize', 'yes'),
  z('max-ziptypercg', 'ignored'), n('max-partitions', 'yes'), n('max-iconspe', 'ignored'), n('max-rechwp3', 'yes'),
  n('pcre-match-limit', 'ignored'), n('pcre-recmatch-limit', 'ignored'), z('pcre-max-filesize', 'yes'),
  b('dev-ac-only', 'ignored'), n('dev-ac-depth', 'ignored'), b('dev-collect-hashes', 'ignored'), b('dev-performance', 'ignored'),
  b('nocerts', 'ignored'), n('timelimit', 'deprecated'), b('detect-broken', 'deprecated'), b('algorithmic-detection', 'ignored'),
  b('block-max', 'yes'), b('phishing-ssl', 'ignored'), b('phishing-cloak', 'ignored'), b('partition-intersection', 'ignored'),
  b('block-macros', 'ignored'), b('block-encrypted', 'ignored'), b('mail-follow-urls', 'deprecated'),
  // vigil's own
  b('json', 'yes'), n('jobs', 'yes', 'j'), b('progress', 'yes'), b('no-progress', 'yes'),
];

const BY_LONG = new Map(OPTIONS.map((o) => [o.long, o]));
const BY_SHORT = new Map(OPTIONS.filter((o) => o.short).map((o) => [o.short as string, o]));

export interface ParsedScanArgs {
  bools: Map<string, boolean>;
  strings: Map<string, string[]>;
  numbers: Map<string, number>;
  operands: string[];
  /** Options accepted but not implemented, in first-use order. */
  ignored: string[];
  /** Options refused (actions vigil does not perform). */
  refused: string[];
}

export type ParseOutcome = { ok: true; args: ParsedScanArgs } | { ok: false; messages: string[] };

function optName(o: OptionSpec): string {
  return o.short ? `--${o.long} (-${o.short})` : `--${o.long}`;
}

/** C `strtoll(text, &end, 0)` for the digit strings the size pattern admits: leading 0 means octal. */
function parseSizeArg(text: string): number | undefined {
  const m = /^([0-9]+)([kKmMgG]?)$/.exec(text);
  if (!m) return undefined;
  const digits = m[1] as string;
  let value: number;
  if (digits.length > 1 && digits.startsWith('0')) {
    const oct = /^[0-7]+/.exec(digits)?.[0] ?? '0';
    if (oct.length !== digits.length) return undefined; // strtoll stops at 8 or 9: not a number plus suffix
    value = parseInt(oct, 8);
  } else {
    value = parseInt(digits, 10);
  }
  const unit = (m[2] ?? '').toLowerCase();
  const mult = unit === 'g' ? 1024 ** 3 : unit === 'm' ? 1024 ** 2 : unit === 'k' ? 1024 : 1;
  return Math.min(value * mult, Number.MAX_SAFE_INTEGER);
}

/** Parses `vigil scan` arguments with clamscan's option syntax. */
export function parseScanArgs(argv: readonly string[], prog = 'vigil scan'): ParseOutcome {
  const args: ParsedScanArgs = { bools: new Map(), strings: new Map(), numbers: new Map(), operands: [], ignored: [], refused: [] };
  const fail = (...messages: string[]): ParseOutcome => ({ ok: false, messages });

  const apply = (o: OptionSpec, value: string | undefined): string | undefined => {
    if (o.support === 'deprecated') return undefined;
    if (o.support === 'ignored' && !args.ignored.includes(o.long)) args.ignored.push(o.long);
    if (o.support === 'refused' && !args.refused.includes(o.long)) args.refused.push(o.long);
    switch (o.type) {
      case 'bool': {
        const v = value ?? 'yes';
        if (!/^(yes|true|1|no|false|0)$/i.test(v)) return `ERROR: Incorrect argument format for option ${optName(o)}`;
        args.bools.set(o.long, /^(yes|true|1)$/i.test(v));
        return undefined;
      }
      case 'string': {
        const v = value ?? o.defaultArg ?? '';
        if (o.pattern && !o.pattern.test(v)) return `ERROR: Incorrect argument format for option ${optName(o)}`;
        if (v === '') return `ERROR: Option ${optName(o)} requires a non-empty string argument`;
        const list = args.strings.get(o.long) ?? [];
        if (o.multiple) list.push(v);
        else list.splice(0, list.length, v);
        args.strings.set(o.long, list);
        return undefined;
      }
      case 'number': {
        const v = value ?? '';
        if (!/^[0-9]+$/.test(v)) return `ERROR: Incorrect argument format for option ${optName(o)}`;
        args.numbers.set(o.long, Math.min(parseInt(v, 10), 2 ** 31 - 1));
        return undefined;
      }
      case 'size': {
        const v = value ?? '';
        if (!/^[0-9]+[KMG]?$/i.test(v)) return `ERROR: Incorrect argument format for option ${optName(o)}`;
        const size = parseSizeArg(v);
        if (size === undefined) return `ERROR: Can't parse numerical argument for option ${optName(o)}`;
        args.numbers.set(o.long, size);
        return undefined;
      }
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      args.operands.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      let spec = BY_LONG.get(name);
      if (!spec) {
        const hits = OPTIONS.filter((o) => o.long.startsWith(name));
        if (hits.length === 0) return fail(`${prog}: unrecognized option \`${arg}'`, 'ERROR: Unknown option passed');
        if (hits.length > 1) return fail(`${prog}: option \`${arg}' is ambiguous`, 'ERROR: Unknown option passed');
        spec = hits[0] as OptionSpec;
      }
      let value: string | undefined;
      if (eq >= 0) value = arg.slice(eq + 1);
      else if (!spec.optionalArg) {
        if (i + 1 >= argv.length) return fail(`${prog}: option \`--${spec.long}' requires an argument`, 'ERROR: Incomplete option passed (missing argument)');
        value = argv[++i];
      }
      const err = apply(spec, value);
      if (err) return fail(err);
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let k = 1; k < arg.length; k++) {
        const c = arg[k] as string;
        const spec = BY_SHORT.get(c);
        if (!spec) return fail(`${prog}: illegal option -- ${c}`, 'ERROR: Unknown option passed');
        if (spec.type === 'bool') {
          const err = apply(spec, undefined);
          if (err) return fail(err);
          continue;
        }
        let value: string;
        if (k + 1 < arg.length) value = arg.slice(k + 1);
        else if (i + 1 < argv.length) value = argv[++i] as string;
        else return fail(`${prog}: option requires an argument -- ${c}`, 'ERROR: Incomplete option passed (missing argument)');
        const err = apply(spec, value);
        if (err) return fail(err);
        break;
      }
      continue;
    }
    args.operands.push(arg);
  }
  return { ok: true, args };
}

// ---------------------------------------------------------------------------------------------
// Configuration

export interface ScanConfig {
  databases: string[];
  recursive: boolean;
  infectedOnly: boolean;
  suppressOk: boolean;
  noSummary: boolean;
  allmatch: boolean;
  detectPua: boolean;
  officialOnly: boolean;
  alertExceedsMax: boolean;
  /** `-a/--archive-verbose`: the layer chain of a detection, as clamscan prints it. */
  archiveVerbose: boolean;
  /** Heuristic switches of the container readers. */
  unpack: UnpackOptions;
  limits: ScanLimits;
  /** The `--scan-*` switches (and `--normalize` for HTML). */
  parse: ParseOptions;
  exclude: PathPattern[];
  excludeDir: PathPattern[];
  include: PathPattern[];
  includeDir: PathPattern[];
  log: string | undefined;
  toStdout: boolean;
  quiet: boolean;
  verbose: boolean;
  bell: boolean;
  fileList: string | undefined;
  followDirSymlinks: number;
  followFileSymlinks: number;
  maxDirRecursion: number;
  crossFs: boolean;
  json: boolean;
  jobs: number;
  progress: 'auto' | 'on' | 'off';
  operands: string[];
}

/** libclamav refuses files of 2 GiB and more (INT_MAX - 2 is its largest MaxFileSize). */
const LARGEST_FILE = 2 ** 31 - 3;

export function buildConfig(a: ParsedScanArgs): ScanConfig {
  const bool = (k: string, dflt = false): boolean => a.bools.get(k) ?? dflt;
  const num = (k: string): number | undefined => a.numbers.get(k);
  const strs = (k: string): string[] => a.strings.get(k) ?? [];
  const limits: ScanLimits = { ...DEFAULT_LIMITS };
  const mfs = num('max-filesize');
  if (mfs !== undefined) limits.maxFileSize = Math.min(mfs, LARGEST_FILE);
  const mss = num('max-scansize');
  if (mss !== undefined) limits.maxScanSize = mss;
  const mr = num('max-recursion');
  if (mr !== undefined) limits.maxRecursion = mr === 0 ? DEFAULT_LIMITS.maxRecursion : mr; // libclamav: 0 is not allowed
  const mf = num('max-files');
  if (mf !== undefined) limits.maxFiles = mf;
  const mst = num('max-scantime');
  if (mst !== undefined) limits.maxScanTime = mst;
  const mhn = num('max-htmlnormalize');
  if (mhn !== undefined) limits.maxHtmlNormalize = mhn;
  const mht = num('max-htmlnotags');
  if (mht !== undefined) limits.maxHtmlNoTags = mht;
  const mep = num('max-embeddedpe');
  if (mep !== undefined) limits.maxEmbeddedPE = mep;
  const msn = num('max-scriptnormalize');
  if (msn !== undefined) limits.maxScriptNormalize = msn;
  const pmf = num('pcre-max-filesize');
  if (pmf !== undefined) limits.pcreMaxFileSize = pmf;
  const jobs = num('jobs');
  const progressFlag = a.bools.get('progress');
  return {
    databases: strs('database'),
    recursive: bool('recursive'),
    infectedOnly: bool('infected'),
    suppressOk: bool('suppress-ok-results'),
    noSummary: bool('no-summary'),
    allmatch: bool('allmatch'),
    detectPua: bool('detect-pua'),
    officialOnly: bool('official-db-only'),
    alertExceedsMax: bool('alert-exceeds-max') || bool('block-max'),
    archiveVerbose: bool('archive-verbose'),
    unpack: {
      heuristicAlerts: bool('heuristic-alerts', true),
      alertEncryptedArchive: bool('alert-encrypted-archive', bool('alert-encrypted')),
      alertEncryptedDoc: bool('alert-encrypted-doc', bool('alert-encrypted')),
      alertMacros: bool('alert-macros'),
      alertBrokenMedia: bool('alert-broken-media'),
      alertPartitionIntersection: bool('alert-partition-intersection'),
      ...(num('max-partitions') !== undefined ? { maxPartitions: num('max-partitions') } : {}),
      ...(num('max-rechwp3') !== undefined ? { maxRecHwp3: num('max-rechwp3') } : {}),
    },
    limits,
    parse: Object.fromEntries(PARSE_SWITCHES.map(([o, flag]) => [flag, bool(o, true) && (flag !== 'html' || bool('normalize', true))])),
    exclude: strs('exclude').map((p) => PathPattern.compile(p)),
    excludeDir: strs('exclude-dir').map((p) => PathPattern.compile(p)),
    include: strs('include').map((p) => PathPattern.compile(p)),
    includeDir: strs('include-dir').map((p) => PathPattern.compile(p)),
    log: strs('log')[0],
    toStdout: bool('stdout'),
    quiet: bool('quiet'),
    verbose: bool('verbose'),
    bell: bool('bell'),
    fileList: strs('file-list')[0],
    followDirSymlinks: num('follow-dir-symlinks') ?? 1,
    followFileSymlinks: num('follow-file-symlinks') ?? 1,
    maxDirRecursion: num('max-dir-recursion') ?? 15,
    crossFs: bool('cross-fs', true),
    json: bool('json'),
    jobs: jobs === undefined ? 1 : jobs === 0 ? availableParallelism() : jobs,
    progress: bool('no-progress') ? 'off' : progressFlag === undefined ? 'auto' : progressFlag ? 'on' : 'off',
    operands: a.operands,
  };
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** `errno` code → the C library's message (glibc wording), for lines clamscan builds with strerror. */
const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory', EACCES: 'Permission denied', EPERM: 'Operation not permitted',
  ENOTDIR: 'Not a directory', EISDIR: 'Is a directory', ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long', EIO: 'Input/output error', EMFILE: 'Too many open files',
  ENFILE: 'Too many open files in system', ENXIO: 'No such device or address', ENODEV: 'No such device',
  EBUSY: 'Device or resource busy', ETXTBSY: 'Text file busy', EROFS: 'Read-only file system',
  ENOMEM: 'Cannot allocate memory', EINVAL: 'Invalid argument', EAGAIN: 'Resource temporarily unavailable',
  ESTALE: 'Stale file handle', EOVERFLOW: 'Value too large for defined data type', EFBIG: 'File too large',
  ENOSPC: 'No space left on device', EEXIST: 'File exists', EBADF: 'Bad file descriptor', EINTR: 'Interrupted system call',
};

export function strerror(f: FsFailure): string {
  const known = STRERROR[f.code];
  if (known) return known;
  // libuv messages look like "EXYZ: some text, syscall 'path'": keep the text, capitalised.
  const m = /^[A-Z0-9_]+: ([^,]+)/.exec(f.message);
  const text = m?.[1] ?? f.message;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * clamscan 1.4's "Data scanned/read" value: 4096-byte blocks shown as `%2.2lf MB`, i.e.
 * blocks/256 rounded to two decimals with C's round-half-to-even on exact ties.
 */
export function formatBlocksMB(blocks: number): string {
  const num = blocks * 25; // hundredths = blocks * 100 / 256 = blocks * 25 / 64
  let q = Math.floor(num / 64);
  const r = num - q * 64;
  if (r * 2 > 64 || (r * 2 === 64 && q % 2 === 1)) q++;
  return `${Math.floor(q / 100)}.${String(q % 100).padStart(2, '0')}`;
}

/** `printf("%.2f", x)` for non-negative x: exact ties (x*8 odd) round half to even. */
export function formatFixed2(x: number): string {
  const e = x * 8;
  if (Number.isInteger(e) && e % 2 === 1) {
    let q = Math.floor(x * 100);
    if (q % 2 === 1) q++;
    return `${Math.floor(q / 100)}.${String(q % 100).padStart(2, '0')}`;
  }
  return x.toFixed(2);
}

/** `%Y:%m:%d %H:%M:%S` in local time. */
export function formatClamDate(d: Date): string {
  const p = (v: number): string => String(v).padStart(2, '0');
  return `${d.getFullYear()}:${p(d.getMonth() + 1)}:${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export interface ScanStats {
  knownSignatures: number;
  engineVersion: string;
  dirs: number;
  files: number;
  infected: number;
  errors: number;
  /** 4096-byte blocks fed to the engine (clamscan's info.blocks). */
  blocks: number;
  /** 4096-byte blocks of the files' sizes (clamscan's info.rblocks). */
  rblocks: number;
  bytesScanned: number;
  bytesRead: number;
}

/** The summary block, one string per line (the first is empty), exactly as clamscan 1.4.6 prints it. */
export function summaryLines(st: ScanStats, start: Date, end: Date): string[] {
  const ms = Math.max(0, end.getTime() - start.getTime());
  const secs = Math.floor(ms / 1000);
  const lines = [
    '',
    '----------- SCAN SUMMARY -----------',
    `Known viruses: ${st.knownSignatures}`,
    `Engine version: ${st.engineVersion}`,
    `Scanned directories: ${st.dirs}`,
    `Scanned files: ${st.files}`,
    `Infected files: ${st.infected}`,
  ];
  if (st.errors > 0) lines.push(`Total errors: ${st.errors}`);
  const ratio = st.rblocks > 0 ? st.blocks / st.rblocks : 0;
  lines.push(
    `Data scanned: ${formatBlocksMB(st.blocks)} MB`,
    `Data read: ${formatBlocksMB(st.rblocks)} MB (ratio ${formatFixed2(ratio)}:1)`,
    `Time: ${secs}.${String(ms % 1000).padStart(3, '0')} sec (${Math.floor(secs / 60)} m ${secs % 60} s)`,
    `Start Date: ${formatClamDate(start)}`,
    `End Date:   ${formatClamDate(end)}`,
  );
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Output: clamscan's logg()/mprintf() split, plus JSON and the progress bar

type Chunk = string | Uint8Array;

function bytesOf(parts: readonly Chunk[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
}

class LogFile {
  private constructor(private fd: number) {}
  static open(path: string): { log?: LogFile; error?: string } {
    try {
      const fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_APPEND | fsc.O_NOFOLLOW, 0o640);
      return { log: new LogFile(fd) };
    } catch (e) {
      return { error: strerror(toFailure(e)) };
    }
  }
  write(data: Buffer): void {
    let off = 0;
    while (off < data.length) off += writeSync(this.fd, data, off);
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** A one-line status on a terminal's stderr, redrawn at most ten times a second and erased before other output. */
class ProgressBar {
  private drawn = false;
  private last = 0;
  private readonly started: number;
  constructor(private readonly stream: OutStream, private readonly clock: () => number) {
    this.started = clock();
  }
  update(st: ScanStats, current: string, force = false): void {
    const t = this.clock();
    if (!force && t - this.last < 100) return;
    this.last = t;
    const secs = Math.max(0.001, (t - this.started) / 1000);
    const mib = st.bytesRead / (1024 * 1024);
    let text = `Scanning: ${st.files} files, ${st.infected} infected, ${st.errors} errors, ${mib.toFixed(1)} MiB (${(mib / secs).toFixed(1)} MiB/s) ${current}`;
    const cols = this.stream.columns !== undefined && this.stream.columns > 0 ? this.stream.columns : 80;
    const width = Math.max(20, cols - 1);
    if (text.length > width) text = `${text.slice(0, width - 1)}…`;
    this.stream.write(`\r\x1b[K${text}`);
    this.drawn = true;
  }
  clear(): void {
    if (!this.drawn) return;
    this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}

class Output {
  constructor(
    private readonly stdout: OutStream,
    private readonly stderr: OutStream,
    private readonly log: LogFile | undefined,
    private readonly quiet: boolean,
    private readonly toStdout: boolean,
    readonly progress: ProgressBar | undefined,
  ) {}

  private put(stream: OutStream, data: Buffer): void {
    if (this.progress && (stream === this.stderr || this.stdout.isTTY)) this.progress.clear();
    stream.write(data);
  }
  private toLog(data: Buffer): void {
    this.log?.write(data);
  }
  /** logg(LOGG_INFO): log file and stdout. */
  info(...parts: Chunk[]): void {
    const data = bytesOf([...parts, '\n']);
    this.toLog(data);
    if (!this.quiet) this.put(this.stdout, data);
  }
  /** mprintf(LOGG_INFO): stdout only. */
  print(...parts: Chunk[]): void {
    if (!this.quiet) this.put(this.stdout, bytesOf([...parts, '\n']));
  }
  /** logg(LOGG_INFO_NF): log file only. */
  logOnly(...parts: Chunk[]): void {
    this.toLog(bytesOf(parts));
  }
  warn(...parts: Chunk[]): void {
    const data = bytesOf(['WARNING: ', ...parts, '\n']);
    this.toLog(data);
    if (!this.quiet) this.put(this.toStdout ? this.stdout : this.stderr, data);
  }
  error(...parts: Chunk[]): void {
    const data = bytesOf(['ERROR: ', ...parts, '\n']);
    this.toLog(data);
    this.put(this.toStdout ? this.stdout : this.stderr, data);
  }
  /** Diagnostics from the loader: stderr (or stdout with --stdout) and the log, verbatim. */
  diagnostic(text: string): void {
    const data = bytesOf([text.endsWith('\n') ? text : `${text}\n`]);
    this.toLog(data);
    this.put(this.toStdout ? this.stdout : this.stderr, data);
  }
  /** perror(): always stderr, never logged. */
  perror(...parts: Chunk[]): void {
    this.put(this.stderr, bytesOf([...parts, '\n']));
  }
  bell(): void {
    this.put(this.stderr, Buffer.from('\x07'));
  }
  json(value: unknown): void {
    if (!this.quiet) this.put(this.stdout, Buffer.from(`${JSON.stringify(value)}\n`));
  }
}

// ---------------------------------------------------------------------------------------------
// JSON records

export interface JsonDetection {
  name: string;
  kind: Detection['kind'];
  db?: string;
  line?: number;
  layer: string[];
  offset?: number;
  matched?: string;
  /** Where an imported signature came from (`vigil db import`): source, event or indicator, time. */
  provenance?: ReturnType<typeof provenanceForJson>;
}

export interface JsonRecord {
  path: string;
  /** The path's bytes in hex, present only when they are not valid UTF-8. */
  pathHex?: string;
  verdict: Verdict;
  reason?: string;
  detections: JsonDetection[];
  /** Layers a scan limit left unscanned, each with its path inside the file and the limit. */
  notScanned?: { layer: string[]; limit: string }[];
}

function displayPath(path: Buffer | string): { path: string; pathHex?: string } {
  if (typeof path === 'string') return { path };
  const text = path.toString('utf8');
  return Buffer.from(text, 'utf8').equals(path) ? { path: text } : { path: text, pathHex: path.toString('hex') };
}

function jsonDetection(d: Detection, prov?: ProvenanceIndex): JsonDetection {
  const p = prov?.get(d.name);
  return {
    name: d.name,
    kind: d.kind,
    ...(d.db !== undefined ? { db: d.db } : {}),
    ...(d.line !== undefined ? { line: d.line } : {}),
    layer: [...d.layer],
    ...(d.offset !== undefined ? { offset: d.offset } : {}),
    ...(d.matched !== undefined ? { matched: d.matched } : {}),
    ...(p ? { provenance: provenanceForJson(p) } : {}),
  };
}

/**
 * clamscan's `-a` line: the file and the members on the way to the detection, joined by `!`, with
 * the detection's layer level before the last member (`file!ZIP:in.zip!(2)ZIP:eicar.com: X FOUND`);
 * the joined part is cut at 128 bytes and marked `...`, as clamscan's buffer cuts it.
 */
export function archiveChainLine(label: Chunk, chain: { links: readonly string[]; lastvir: number }, name: string): Chunk[] {
  const file = typeof label === 'string' ? Buffer.from(label, 'latin1') : Buffer.from(label);
  const links = [file, ...chain.links.map((l) => Buffer.from(l, 'utf8'))];
  if (links.length > 1) {
    const LEN = 128;
    const parts: Buffer[] = [];
    let na = 0;
    let i = 0;
    for (; i < links.length - 1; i++) {
      const n = links[i]!.length;
      if (na) { parts.push(Buffer.from('!')); na++; }
      if (n + na + 2 > LEN) break;
      parts.push(links[i]!);
      na += n;
    }
    const str = Buffer.concat(parts).subarray(0, LEN - 1);
    return [str, `${i === links.length - 1 ? '' : '...'}!(${chain.lastvir - 1})`, links[links.length - 1]!, `: ${name} FOUND`];
  }
  if (chain.lastvir) return [file, `!(${chain.lastvir - 1}): ${name} FOUND`];
  return [];
}

/** A record with the layers the engine's limits left unscanned, when there are any. */
function withLimits(r: JsonRecord, result: unknown): JsonRecord {
  const limits = (result as EngineScanResult | undefined)?.limits;
  return limits && limits.length > 0 ? { ...r, notScanned: limits.map((l) => ({ layer: [...l.layer], limit: l.limit })) } : r;
}

function record(path: Buffer | string, verdict: Verdict, reason: string | undefined, detections: readonly Detection[] = [], prov?: ProvenanceIndex): JsonRecord {
  return {
    ...displayPath(path),
    verdict,
    ...(reason !== undefined ? { reason } : {}),
    detections: detections.map((d) => jsonDetection(d, prov)),
  };
}

// ---------------------------------------------------------------------------------------------
// Scanning one file

/** libclamav does not scan files of five bytes or fewer (they are reported clean). */
export const TOO_SMALL = 5;

type FileFailure =
  | { type: 'access' }
  | { type: 'open'; error: FsFailure }
  | { type: 'read'; error: FsFailure }
  | { type: 'engine'; message: string };

interface FileOutcome {
  kind: 'file';
  /** Bytes of the path, or `stdin`. */
  path: Buffer | 'stdin';
  /** Size from stat, when known (for "Data read"). */
  size: number | undefined;
  failure?: FileFailure;
  /** Not scanned for its size: the reason (`too small`, `MaxFileSize`). */
  skipped?: string;
  result?: EngineScanResult;
  /** Bytes actually read from the file (0 when it was not read). */
  bytesRead: number;
}

type Outcome = FileOutcome | { kind: 'event'; event: WalkEvent };

function isErrno(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string';
}

/** Error codes that mean "could not open" rather than "could not read". */
const OPEN_ERRORS = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EMFILE', 'ENFILE', 'ENXIO', 'ENODEV', 'ETXTBSY', 'EROFS', 'EBUSY', 'ESTALE']);

async function defaultReadFile(path: Buffer): Promise<Uint8Array> {
  const handle = await fsp.open(path, 'r');
  try {
    return await handle.readFile();
  } catch (e) {
    if (isErrno(e)) Object.assign(e, { phase: 'read' });
    throw e;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

async function defaultCanRead(path: Buffer): Promise<void> {
  await fsp.access(path, fsc.R_OK);
}

function classifyReadError(e: unknown): FileFailure {
  const f = toFailure(e);
  if (f.code === 'EACCES' || f.code === 'EPERM') return { type: 'access' };
  const phase = (e as { phase?: string } | undefined)?.phase;
  if (phase === 'read' || !OPEN_ERRORS.has(f.code)) return { type: 'read', error: f };
  return { type: 'open', error: f };
}

/** The buffer's own ArrayBuffer when the view covers all of it (then it can be transferred, not copied). */
function transferable(bytes: Uint8Array): TransferListItem[] {
  const buf = bytes.buffer;
  if (buf instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buf.byteLength) return [buf];
  return [];
}

// ---------------------------------------------------------------------------------------------
// The command

const HELP = `
vigil scan: scan files and directories for malware (clamscan-compatible)

Usage: vigil scan [options] [file | directory | -]...

With no path, the current directory is scanned. '-' scans standard input.

Output
  -i, --infected              print only infected files
  -o, --suppress-ok-results   do not print clean files
      --no-summary            do not print the summary block
  -l, --log=FILE              append the report (all lines but OK ones) to FILE
      --stdout                write warnings and errors to stdout instead of stderr
      --quiet                 print only error messages
  -v, --verbose               print each file's name before scanning it
      --bell                  ring the terminal bell on each detection
      --json                  one JSON object per path, then a summary object
      --progress[=yes|no]     status line on a terminal's stderr (default: when stderr is a terminal)

What to scan
  -r, --recursive             descend into subdirectories
  -f, --file-list=FILE        scan the paths listed in FILE, one per line
      --exclude=REGEX         skip files whose resolved path matches REGEX (POSIX extended)
      --exclude-dir=REGEX     skip directories whose path matches REGEX
      --include=REGEX         scan only files whose resolved path matches REGEX
      --include-dir=REGEX     scan only directories whose path matches REGEX
      --follow-dir-symlinks=N   0 never, 1 on the command line (default), 2 always
      --follow-file-symlinks=N  0 never, 1 on the command line (default), 2 always
      --max-dir-recursion=N   deepest directory level (default 15)
      --cross-fs[=yes|no]     enter other file systems (default yes)

Signatures and matching
  -d, --database=FILE|DIR     load signatures from FILE or DIR (repeatable)
      --official-db-only      load only signed databases
      --detect-pua            also detect potentially unwanted applications
  -z, --allmatch              report every match, not only the first

Limits (sizes accept K, M, G; 0 disables a limit)
      --max-filesize=SIZE     skip files larger than SIZE (default 100M)
      --max-scansize=SIZE     bytes scanned per file, container members included (default 400M)
      --max-files=N           members extracted per file (default 10000)
      --max-recursion=N       container nesting depth (default 17)
      --max-scantime=MS       time per file in milliseconds (default 120000)
      --alert-exceeds-max     report a file that hits a limit as Heuristics.Limits.Exceeded.<Limit>

Performance
  -j, --jobs=N                read and scan N files at a time (0: one per CPU); output order is unchanged

  -h, --help                  show this help
  -V, --version               show the version

Exit status: 0 nothing found, 1 something infected, 2 an error occurred (1 takes precedence).
Other clamscan options are accepted and ignored with a warning; --remove, --move and --copy are refused.
`;

/** Reads a `--file-list` into paths: one per line, CR/LF stripped, blank lines skipped. */
function fileListPaths(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(0x0a, start);
    if (end < 0) end = data.length;
    let stop = end;
    while (stop > start && (data[stop - 1] === 0x0d || data[stop - 1] === 0x0a)) stop--;
    if (stop > start) out.push(data.subarray(start, stop));
    start = end + 1;
  }
  return out;
}

async function readAll(stream: AsyncIterable<Uint8Array | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  return Buffer.concat(chunks);
}

/** Runs `vigil scan` and returns the exit code. Never throws for user input or file-system conditions. */
export async function runScan(argv: readonly string[], deps: ScanDeps): Promise<number> {
  const version = deps.version ?? '0.0.0';
  const parsed = parseScanArgs(argv);
  const errOut = (text: string): void => { deps.stderr.write(`${text}\n`); };
  if (!parsed.ok) {
    for (const m of parsed.messages) errOut(m);
    errOut("ERROR: Can't parse command line options");
    return 2;
  }
  const a = parsed.args;
  if (a.bools.get('version')) {
    deps.stdout.write(`${versionLine(version)}\n`);
    return 0;
  }
  if (a.bools.get('help')) {
    deps.stdout.write(HELP);
    return 0;
  }
  if (a.refused.length > 0) {
    for (const r of a.refused) errOut(`ERROR: --${r} is not supported by vigil: it never modifies, moves or removes scanned files`);
    return 2;
  }
  const cfg = buildConfig(a);
  if (!cfg.quiet) for (const ig of a.ignored) errOut(`WARNING: Ignoring unsupported option --${ig}`);

  let log: LogFile | undefined;
  if (cfg.log !== undefined) {
    const opened = LogFile.open(cfg.log);
    if (!opened.log) {
      deps.stdout.write(`ERROR: Failed to open log file ${cfg.log}: ${opened.error ?? 'unknown error'}\n`);
      errOut('ERROR: Problem with internal logger.');
      return 2;
    }
    log = opened.log;
  }
  try {
    return await scanWithLog(cfg, deps, version, log);
  } finally {
    log?.close();
  }
}

async function scanWithLog(cfg: ScanConfig, deps: ScanDeps, version: string, log: LogFile | undefined): Promise<number> {
  const now = deps.now ?? ((): Date => new Date());
  const wantProgress = cfg.progress !== 'off' && !cfg.quiet && deps.stderr.isTTY === true;
  const progress = wantProgress ? new ProgressBar(deps.stderr, () => now().getTime()) : undefined;
  const out = new Output(deps.stdout, deps.stderr, log, cfg.quiet, cfg.toStdout, progress);
  out.logOnly('\n-------------------------------------------------------------------------------\n\n');

  const start = now();
  const st: ScanStats = {
    knownSignatures: 0, engineVersion: `vigil-${version}`, dirs: 0, files: 0, infected: 0, errors: 0,
    blocks: 0, rblocks: 0, bytesScanned: 0, bytesRead: 0,
  };
  let ret = 0;
  /** What this run found, for the audit log (one entry per run; the first 1,000 files). */
  const found: { path: string; names: string[] }[] = [];
  const finish = (): number => {
    const end = now();
    progress?.clear();
    const code = st.infected > 0 ? 1 : st.errors > 0 ? 2 : ret;
    if (st.infected > 0) {
      recordAudit('scan-detections', { source: 'scan', files: st.files, infected: st.infected, detections: found, truncated: st.infected > found.length });
    }
    if (!cfg.noSummary) {
      if (cfg.json) {
        for (const line of summaryLines(st, start, end)) out.logOnly(`${line}\n`);
        out.json({
          summary: {
            knownViruses: st.knownSignatures, engineVersion: st.engineVersion, scannedDirectories: st.dirs,
            scannedFiles: st.files, infectedFiles: st.infected, totalErrors: st.errors,
            bytesScanned: st.bytesScanned, bytesRead: st.bytesRead,
            timeSeconds: Math.max(0, end.getTime() - start.getTime()) / 1000,
            startDate: start.toISOString(), endDate: end.toISOString(), exitCode: code,
          },
        });
      } else {
        for (const line of summaryLines(st, start, end)) out.info(line);
      }
    }
    return code;
  };

  if (cfg.followDirSymlinks > 2) {
    out.error('--follow-dir-symlinks: Invalid argument');
    ret = 2;
    return finish();
  }
  if (cfg.followFileSymlinks > 2) {
    out.error('--follow-file-symlinks: Invalid argument');
    ret = 2;
    return finish();
  }
  for (const [opt, list] of [['exclude', cfg.exclude], ['exclude-dir', cfg.excludeDir], ['include', cfg.include], ['include-dir', cfg.includeDir]] as const) {
    for (const p of list) if (p.error) out.warn(`--${opt}: '${p.source}' is not a valid regular expression (${p.error}); it matches nothing`);
  }

  // Load the engine.
  let engine: LoadedEngine | undefined;
  try {
    const loaded = await deps.loader({ databases: cfg.databases, detectPua: cfg.detectPua, officialOnly: cfg.officialOnly });
    for (const e of loaded.errors) out.diagnostic(e);
    engine = loaded.engine;
    if (!engine && loaded.errors.length === 0) out.error("Can't load the signature databases");
  } catch (e) {
    out.error(e instanceof Error ? e.message : String(e));
  }
  if (!engine) {
    ret = 2;
    return finish();
  }
  st.knownSignatures = engine.knownSignatures;
  st.engineVersion = engine.engineVersion;
  // Imported threat intelligence carries its provenance in sidecars, read on the first detection.
  const provenance = cfg.json ? loadProvenance(cfg.databases.length > 0 ? cfg.databases : defaultDatabases()) : undefined;

  // The list of targets.
  let targets: Buffer[];
  if (cfg.fileList !== undefined) {
    if (cfg.operands.length > 0) out.warn('Only scanning files from --file-list (files passed at cmdline are ignored)');
    try {
      targets = fileListPaths(await fsp.readFile(cfg.fileList));
    } catch {
      deps.stderr.write(`ERROR: --file-list: Can't open file ${cfg.fileList}\n`);
      targets = [];
      ret = 2;
    }
  } else if (cfg.operands.length > 0) {
    targets = cfg.operands.map((o) => Buffer.from(o, 'utf8'));
  } else {
    targets = [Buffer.from(process.cwd(), 'utf8')];
  }

  // Workers, when asked for and the engine supports them.
  let pool: WorkerPool<WorkerScanTask, EngineScanResult> | undefined;
  if (cfg.jobs > 1 && engine.parallel) {
    try {
      pool = await WorkerPool.create<WorkerScanTask, EngineScanResult>({
        module: engine.parallel.module, exportName: engine.parallel.exportName ?? 'createWorkerScanner', init: engine.parallel.init, size: cfg.jobs,
      });
    } catch (e) {
      out.warn(`Can't start ${cfg.jobs} scanning threads (${e instanceof Error ? e.message : String(e)}); scanning in one thread`);
    }
  }
  const readFile = deps.readFile ?? defaultReadFile;
  const canRead = deps.canRead ?? defaultCanRead;
  const loadedEngine = engine;
  const callOpts = (name: string): ScanCallOptions => ({ name, limits: cfg.limits, allmatch: cfg.allmatch, alertExceedsMax: cfg.alertExceedsMax, unpack: cfg.unpack, parse: cfg.parse, ...(cfg.archiveVerbose ? { archiveVerbose: true } : {}) });

  const scanBytes = async (bytes: Uint8Array, name: string): Promise<EngineScanResult> =>
    pool ? pool.run({ bytes, opts: callOpts(name) }, transferable(bytes)) : loadedEngine.scan(bytes, callOpts(name));

  const sizeSkip = (size: number): string | undefined => {
    if (size <= TOO_SMALL) return 'too small';
    if (cfg.limits.maxFileSize > 0 && size > cfg.limits.maxFileSize) return LIMIT_NAMES.maxFileSize;
    if (size > LARGEST_FILE) return LIMIT_NAMES.maxFileSize;
    if (cfg.limits.maxScanSize > 0 && size > cfg.limits.maxScanSize) return LIMIT_NAMES.maxScanSize;
    return undefined;
  };

  const scanOne = async (path: Buffer | 'stdin', bytes: Uint8Array, size: number | undefined): Promise<FileOutcome> => {
    const bytesRead = bytes.byteLength;
    const skipped = sizeSkip(bytesRead);
    if (skipped) return { kind: 'file', path, size, skipped, bytesRead };
    const name = path === 'stdin' ? 'stdin' : path.toString('utf8');
    try {
      return { kind: 'file', path, size, result: await scanBytes(bytes, name), bytesRead };
    } catch (e) {
      return { kind: 'file', path, size, failure: { type: 'engine', message: e instanceof Error ? e.message : String(e) }, bytesRead };
    }
  };

  const processEvent = async (ev: WalkEvent): Promise<Outcome> => {
    if (ev.type === 'stdin') {
      let bytes: Buffer;
      try {
        bytes = await readAll(deps.stdin ?? process.stdin);
      } catch (e) {
        return { kind: 'file', path: 'stdin', size: 0, failure: { type: 'read', error: toFailure(e) }, bytesRead: 0 };
      }
      return scanOne('stdin', bytes, bytes.length);
    }
    if (ev.type !== 'file') return { kind: 'event', event: ev };
    const { path, size } = ev;
    if (size !== undefined) {
      const skipped = sizeSkip(size);
      if (skipped) {
        try {
          await canRead(path);
        } catch (e) {
          return { kind: 'file', path, size, failure: classifyReadError(e), bytesRead: 0 };
        }
        return { kind: 'file', path, size, skipped, bytesRead: 0 };
      }
    }
    // Large files are streamed through the engine window by window, never read whole.
    if (size !== undefined && loadedEngine.scanPath && loadedEngine.streamAbove !== undefined && size > loadedEngine.streamAbove) {
      try {
        return { kind: 'file', path, size, result: loadedEngine.scanPath(path, size, callOpts(path.toString('utf8'))), bytesRead: size };
      } catch (e) {
        return { kind: 'file', path, size, failure: classifyReadError(e), bytesRead: 0 };
      }
    }
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (e) {
      return { kind: 'file', path, size, failure: classifyReadError(e), bytesRead: 0 };
    }
    return scanOne(path, bytes, size);
  };

  const showOther = !cfg.infectedOnly;
  const showOk = !cfg.infectedOnly && !cfg.suppressOk;
  const other = (rec: JsonRecord, ...line: Chunk[]): void => {
    if (!showOther) return;
    if (cfg.json) {
      out.logOnly(...line, '\n');
      out.json(rec);
    } else {
      out.info(...line);
    }
  };

  const emitFile = (o: FileOutcome): void => {
    const label: Chunk = o.path === 'stdin' ? 'stdin' : o.path;
    if (o.path === 'stdin') {
      st.files++;
      st.rblocks += Math.floor((o.size ?? 0) / 4096);
    } else if (o.size !== undefined) {
      st.rblocks += Math.floor(o.size / 4096);
    }
    const f = o.failure;
    if (f) {
      if (f.type === 'access') {
        st.errors++;
        other(record(o.path, 'not-scanned', 'access denied'), label, ': Access denied');
      } else if (f.type === 'open') {
        st.errors++;
        out.warn("Can't open file ", label, `: ${strerror(f.error)}`);
        if (cfg.json && showOther) out.json(record(o.path, 'not-scanned', `can't open file: ${strerror(f.error)}`));
      } else if (f.type === 'read') {
        st.errors++;
        other(record(o.path, 'not-scanned', `can't read file: ${strerror(f.error)}`), label, ": Can't read file ERROR");
      } else {
        st.errors++;
        other(record(o.path, 'not-scanned', `error: ${f.message}`), label, `: ${f.message} ERROR`);
      }
      return;
    }
    if (cfg.verbose) out.info('Scanning ', label);
    if (o.path !== 'stdin') st.files++;
    let detections: Detection[] = [];
    let verdict: Verdict;
    let reason: string | undefined;
    if (o.skipped) {
      verdict = 'not-scanned';
      reason = o.skipped;
      if ((o.skipped === LIMIT_NAMES.maxFileSize || o.skipped === LIMIT_NAMES.maxScanSize) && cfg.alertExceedsMax) {
        detections = [{ name: `Heuristics.Limits.Exceeded.${o.skipped}`, kind: 'limit', layer: [] }];
        verdict = 'infected';
      }
    } else {
      const r = o.result as EngineScanResult;
      detections = r.detections;
      verdict = r.verdict;
      reason = r.reason;
      // A layer a limit stopped leaves the file not wholly scanned: never reported clean.
      if (verdict === 'clean' && r.limits && r.limits.length > 0) {
        verdict = 'not-scanned';
        reason = r.limits.map((l) => `${l.limit}${l.layer.length > 0 ? ` (${l.layer.join('/')})` : ''}`).join(', ');
      }
      st.bytesScanned += r.bytesScanned;
      st.blocks += r.scannedBlocks ?? Math.floor(r.bytesScanned / 4096);
    }
    st.bytesRead += o.bytesRead;
    if (detections.length > 0) {
      st.infected++;
      if (found.length < 1000) found.push({ path: displayPath(o.path).path, names: detections.map((d) => d.name) });
      for (const d of detections) {
        if (cfg.json) out.logOnly(label, `: ${d.name} FOUND\n`);
        else out.info(label, `: ${d.name} FOUND`);
      }
      const chain = cfg.archiveVerbose && o.result ? (o.result as EngineScanResult).chain : undefined;
      if (chain && !cfg.json) out.info(...archiveChainLine(label, chain, detections[0]!.name));
      if (cfg.json) out.json(withLimits(record(o.path, verdict === 'clean' ? 'infected' : verdict, reason, detections, provenance), o.result));
      if (cfg.bell) out.bell();
    } else if (showOk) {
      if (cfg.json) out.json(withLimits(record(o.path, verdict, reason), o.result));
      else out.print(label, ': OK');
    }
  };

  const emitEvent = (ev: WalkEvent): void => {
    switch (ev.type) {
      case 'dir':
        st.dirs++;
        return;
      case 'empty':
        other(record(ev.path, 'not-scanned', 'empty file'), ev.path, ': Empty file');
        return;
      case 'excluded':
        other(record(ev.path, 'not-scanned', ev.proc ? 'excluded (/proc)' : 'excluded'), ev.path, ev.proc ? ': Excluded (/proc)' : ': Excluded');
        return;
      case 'symlink':
        other(record(ev.path, 'not-scanned', 'symbolic link'), ev.path, ': Symbolic link');
        return;
      case 'dir-error':
        st.errors++;
        other(record(ev.path, 'not-scanned', `can't open directory: ${strerror(ev.error)}`), ev.path, ": Can't open directory.");
        return;
      case 'loop':
        out.warn(ev.path, ': Directory loop detected, not entered again');
        if (cfg.json && showOther) out.json(record(ev.path, 'not-scanned', 'directory loop'));
        return;
      case 'broken-link':
        out.warn(ev.path, `: Can't follow symbolic link: ${strerror(ev.error)}`);
        if (cfg.json && showOther) out.json(record(ev.path, 'not-scanned', `broken symbolic link: ${strerror(ev.error)}`));
        return;
      case 'missing':
        ret = 2;
        out.perror(ev.path, `: ${strerror(ev.error)}`);
        out.warn(ev.path, ": Can't access file");
        if (cfg.json && showOther) out.json(record(ev.path, 'not-scanned', `can't access file: ${strerror(ev.error)}`));
        return;
      case 'unsupported':
        ret = 2;
        out.warn(ev.path, ': Not supported file type');
        if (cfg.json && showOther) out.json(record(ev.path, 'not-scanned', 'not supported file type'));
        return;
      case 'stdin':
      case 'file':
        return; // processed into FileOutcomes
    }
  };

  const events = walk(targets, {
    recursive: cfg.recursive,
    followDirSymlinks: cfg.followDirSymlinks as 0 | 1 | 2,
    followFileSymlinks: cfg.followFileSymlinks as 0 | 1 | 2,
    maxDirRecursion: cfg.maxDirRecursion,
    crossFs: cfg.crossFs,
    exclude: cfg.exclude,
    include: cfg.include,
    excludeDir: cfg.excludeDir,
    includeDir: cfg.includeDir,
  });

  try {
    await orderedMap(
      events,
      processEvent,
      (o) => {
        if (o.kind === 'file') {
          emitFile(o);
          progress?.update(st, o.path === 'stdin' ? 'stdin' : o.path.toString('utf8'));
        } else {
          emitEvent(o.event);
        }
      },
      { concurrency: Math.max(1, cfg.jobs) * 2, window: Math.max(1, cfg.jobs) * 4 },
    );
  } catch (e) {
    out.error(`Scan aborted: ${e instanceof Error ? e.message : String(e)}`);
    ret = 2;
  } finally {
    await pool?.close();
  }
  return finish();
}
