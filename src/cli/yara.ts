/**
 * `vigil yara [OPTION]... [NAMESPACE:]RULES_FILE... FILE | DIR`: scan files with YARA rules and
 * print what `yara` 4.2.3 prints, with its options, its messages and its exit codes.
 *
 * In: arguments and output streams. Out: on stdout `rule target` lines (`-e` namespace, `-g`
 * tags, `-m` meta, `-s`/`-L` matched strings, `-n` the rules that did not match, `-c` counts,
 * `-D` module data, `console.log` lines; `--json`, vigil's own, one JSON object per file); on
 * stderr yara's compile errors and warnings, `error scanning FILE: …` lines and option errors.
 * Exit code 1 when options, module data, rule files or compilation fail, or when a single target
 * file cannot be scanned (unreadable, timed out); 0 otherwise — as yara, errors on files found
 * in a directory or a scan list are printed but do not change the exit code.
 *
 * Why the shape: yara's behaviour is the specification, option by option (cli/yara.c and
 * cli/args.c of yara 4.2.3, and the observed output). Parsing is in yara-args.ts, scanning and
 * rendering one file in yara-report.ts (shared with the `-p` workers, yara-worker.ts); this file
 * loads the rules, walks the targets as yara does (directory order, symlinks, `-z`, `--scan-list`)
 * and prints each file's report whole, in file order, applying the run-wide `-l` count. With
 * `-p N` (N ≥ 2) files are scanned in N worker threads (at most one per core) and the output is
 * the same as with one thread; yara's own order under threads is not deterministic. Paths are
 * byte strings (latin1, one character per byte) from the directory listing to the output, so
 * that names which are not UTF-8 are scanned and printed as yara prints them. `-k` is accepted
 * and checked but has no effect: yara's stack overflow depends on the path its evaluation takes
 * (short-circuits included), which only the evaluator could follow.
 */
import { lstatSync, openSync, closeSync, fstatSync, opendirSync, readFileSync, readlinkSync, readSync, statSync, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Diagnostic } from '../core/diagnostics.js';
import { compileYara, type YaraCompileResult, type YaraSource } from '../engine/yara/rules.js';
import type { ExternalValue } from '../signatures/yara/check.js';
import { renderYaraDiagnostics } from '../signatures/yara/render.js';
import { orderedMap, WorkerPool } from '../scan/pool.js';
import { parseYaraArgs, yaraHelp, YARA_MAX_THREADS, type YaraOptions } from './yara-args.js';
import { openTarget, pathBytes, readInclude, scanFile, scanListedFile, scanSetup, toByteString, type FileReport, type RenderOptions, type ScanTarget } from './yara-report.js';
import type { YaraWorkerInit, YaraWorkerTask } from './yara-worker.js';

export interface YaraDeps {
  stdout: { write(s: string | Uint8Array): unknown };
  stderr: { write(s: string | Uint8Array): unknown };
  version: string;
}

/** Writes a byte string (paths and scanned bytes in it) as its bytes. */
function writeBytes(stream: YaraDeps['stdout'], text: string): void {
  stream.write(Buffer.from(text, 'latin1'));
}

const USAGE = 'Usage: vigil yara [OPTION]... [NAMESPACE:]RULES_FILE... FILE | DIR';
/** yara's print_error texts for the codes the command line can meet. */
const ERROR_DUPLICATED_EXTERNAL_VARIABLE = 56;
/** YR_ARENA_FILE_VERSION of yara 4.2 and the arena header (`YARA`, version, buffer count). */
const YARA_ARENA_FILE_VERSION = 19;
const YR_MAX_ARENA_BUFFERS = 16;
/** yara builds paths in a MAX_PATH buffer: longer paths are cut, and the cut path is not found. */
const YARA_MAX_PATH = 256;

/** yara's is_integer / is_float / true|false / string typing of `-d NAME=VALUE`. */
export function externalValue(v: string): ExternalValue {
  const body = v.startsWith('-') ? v.slice(1) : v;
  if (/^[0-9]*\.[0-9]*$/.test(body) && !body.startsWith('.')) return Number(v);
  if (/^[0-9]+$/.test(body)) {
    // atoi: strtol saturated to 64 bits, then cut to a C int.
    let n = BigInt(v);
    const max = 2n ** 63n - 1n;
    if (n > max) n = max;
    if (n < -max - 1n) n = -max - 1n;
    return BigInt.asIntN(32, n);
  }
  if (v === 'true' || v === 'false') return v === 'true';
  return v;
}

/**
 * `-d` options as yara applies them: the first definition of a name wins, a definition without
 * `=` prints an error and ends the list (yara goes on without the rest), and only the result of
 * the last definition decides whether yara stops (`error: 56` for a repeated name).
 */
export function defineExternals(defines: readonly string[]): { externals: Record<string, ExternalValue>; stderr: string; fail: boolean } {
  const externals: Record<string, ExternalValue> = {};
  let stderr = '';
  let fail = false;
  for (const d of defines) {
    const eq = d.indexOf('=');
    if (eq < 0) {
      stderr += 'error: wrong syntax for `-d` option.\n';
      fail = false;
      break;
    }
    const name = d.slice(0, eq);
    if (Object.prototype.hasOwnProperty.call(externals, name)) { fail = true; continue; }
    externals[name] = externalValue(d.slice(eq + 1));
    fail = false;
  }
  if (fail) stderr += `error: ${ERROR_DUPLICATED_EXTERNAL_VARIABLE}\n`;
  return { externals, stderr, fail };
}

/** `[NAMESPACE:]FILE`: a colon splits only when the word is not an existing path (as yara). */
export function splitNamespace(arg: string, exists: (p: string) => boolean = existsSync): { file: string; namespace?: string } {
  if (exists(arg)) return { file: arg };
  const colon = arg.indexOf(':');
  if (colon < 0 || arg[colon + 1] === '\\') return { file: arg };
  return { namespace: arg.slice(0, colon), file: arg.slice(colon + 1) };
}

function lineOfOffset(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let k = 0; k < offset && k < bytes.length; k++) if (bytes[k] === 0x0a) line++;
  return line;
}

/**
 * yara's `--max-strings-per-rule` check: a rule with more strings than the limit fails with
 * `too many strings in rule "R" (limit: N)` at its closing brace, unless an earlier error in the
 * rule stopped yara before that point. The limit is a 32-bit unsigned setting.
 */
function tooManyStrings(result: YaraCompileResult, limit: number): Diagnostic[] {
  const max = BigInt.asUintN(32, BigInt(Math.trunc(limit)));
  const out: Diagnostic[] = [];
  for (const p of result.parsed) {
    const bytes = typeof p.text === 'string' ? new TextEncoder().encode(p.text) : p.text;
    for (const rule of p.ast.rules) {
      if (BigInt(rule.strings.length) <= max) continue;
      const first = lineOfOffset(bytes, rule.span.start);
      const last = lineOfOffset(bytes, Math.max(rule.span.start, rule.span.end - 1));
      const failed = result.diagnostics.some((d) => d.severity === 'error' && d.location?.file === p.file && d.location.line >= first && d.location.line <= last);
      if (failed) continue;
      out.push({
        code: 'yara.cli.too-many-strings', severity: 'error',
        message: `too many strings in rule "${rule.name.name}" (limit: ${max})`,
        location: { file: p.file, line: last, column: 0 },
      });
    }
  }
  return out;
}

/** Inserts extra diagnostics after those of the same file on the same or earlier lines. */
function mergeDiagnostics(base: readonly Diagnostic[], extra: readonly Diagnostic[]): Diagnostic[] {
  const out = [...base];
  for (const d of extra) {
    let at = out.length;
    const sameFile = out.map((x, k) => [x, k] as const).filter(([x]) => x.location?.file === d.location?.file);
    const after = sameFile.find(([x]) => (x.location?.line ?? 0) > (d.location?.line ?? 0));
    if (after) at = after[1];
    else if (sameFile.length > 0) at = sameFile[sameFile.length - 1]![1] + 1;
    out.splice(at, 0, d);
  }
  return out;
}

/**
 * Prints compilation diagnostics as yara does: file by file, stopping after the first file with
 * an error (yara stops compiling there). Returns whether compilation failed and the number of
 * warnings printed (for `--fail-on-warnings`).
 */
function reportDiagnostics(result: YaraCompileResult, diagnostics: readonly Diagnostic[], o: YaraOptions, deps: YaraDeps): { failed: boolean; warnings: number } {
  const shownOf = (ds: readonly Diagnostic[]): Diagnostic[] => ds.filter((d) => {
    if (d.severity === 'error') return true;
    if (o.noWarnings) return false;
    return !(o.atomQualityTable !== undefined && d.message.endsWith('may slow down scanning'));
  });
  let warnings = 0;
  for (const p of result.parsed) {
    const mine = diagnostics.filter((d) => d.location?.file === p.file);
    const shown = shownOf(mine);
    warnings += shown.filter((d) => d.severity !== 'error').length;
    if (shown.length > 0) deps.stderr.write(renderYaraDiagnostics(shown, p.text, p.ast));
    if (mine.some((d) => d.severity === 'error')) return { failed: true, warnings };
  }
  const orphan = shownOf(diagnostics.filter((d) => !result.parsed.some((p) => p.file === d.location?.file)));
  if (orphan.length > 0) deps.stderr.write(renderYaraDiagnostics(orphan));
  warnings += orphan.filter((d) => d.severity !== 'error').length;
  return { failed: diagnostics.some((d) => d.severity === 'error'), warnings };
}

/** yara's `-C`: vigil cannot load yarac's binary format; check the header as yara does, then refuse. */
function compiledRules(positional: readonly string[], deps: YaraDeps): number {
  if (positional.length !== 2) {
    deps.stderr.write("error: can't accept multiple rules files if one of them is in compiled form.\n");
    return 1;
  }
  let head: Buffer;
  try {
    const fd = openSync(positional[0]!, 'r');
    try {
      head = Buffer.alloc(6);
      const n = readSync(fd, head, 0, 6, 0);
      head = head.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  } catch {
    deps.stderr.write('could not open file\n');
    return 1;
  }
  if (head.length < 6 || head.toString('latin1', 0, 4) !== 'YARA') {
    deps.stderr.write('invalid compiled rules file.\n');
    return 1;
  }
  if (head[4] !== YARA_ARENA_FILE_VERSION) {
    deps.stderr.write('rules were compiled with a different version of YARA\n');
    return 1;
  }
  if (head[5]! > YR_MAX_ARENA_BUFFERS) {
    deps.stderr.write('invalid compiled rules file.\n');
    return 1;
  }
  deps.stderr.write('error: vigil cannot load compiled rules (yarac\'s binary format): give the rule source files instead of -C\n');
  return 1;
}

/** The files of a directory as yara's scan_dir finds them: directory order, symlinks, `-r`, `-z`. */
function* walkDir(dir: string, o: YaraOptions, warn: (s: string) => void): Generator<string> {
  let d;
  try {
    d = opendirSync(pathBytes(dir), { encoding: 'buffer' as BufferEncoding });
  } catch {
    return;
  }
  try {
    for (let e = d.readSync(); e !== null; e = d.readSync()) {
      // Directory and paths are byte strings (names need not be UTF-8).
      const name = e.name as unknown as Buffer | string;
      const full = `${dir}/${typeof name === 'string' ? toByteString(name) : name.toString('latin1')}`;
      if (full.length >= YARA_MAX_PATH) continue;
      const bytes = pathBytes(full);
      let st;
      try { st = lstatSync(bytes); } catch { continue; }
      if (st.isSymbolicLink()) {
        if (o.noFollowSymlinks) continue;
        try { if (readlinkSync(bytes, 'buffer').toString('latin1') === '.') continue; } catch { /* yara goes on to stat */ }
      }
      try { st = statSync(bytes); } catch { continue; }
      if (st.isFile()) {
        if (o.skipLarger > st.size || o.skipLarger <= 0) yield full;
        else warn(`skipping ${full} (${st.size} bytes) because it's larger than ${o.skipLarger} bytes.\n`);
      } else if (o.recursive && st.isDirectory()) {
        yield* walkDir(full, o, warn);
      }
    }
  } finally {
    d.closeSync();
  }
}

/** Whether a byte-string path names a directory (following symlinks). */
function isDirectory(path: string): boolean {
  try { return statSync(pathBytes(path)).isDirectory(); } catch { return false; }
}

/** `--scan-list`: each line a file, or a directory scanned as yara scans one (with -r, -z). */
function* walkList(lines: readonly string[], o: YaraOptions, warn: (s: string) => void): Generator<string> {
  for (const line of lines) {
    if (isDirectory(line)) yield* walkDir(line, o, warn);
    else yield line;
  }
}

function renderOptions(o: YaraOptions): RenderOptions {
  return {
    printNamespace: o.printNamespace, printTags: o.printTags, printMeta: o.printMeta, printStrings: o.printStrings,
    printStringLength: o.printStringLength, printModuleData: o.printModuleData, negate: o.negate, tags: o.tags,
    identifiers: o.identifiers, fastScan: o.fastScan, noWarnings: o.noWarnings, failOnWarnings: o.failOnWarnings, json: o.json,
  };
}

/**
 * Prints one file's report; keeps yara's run-wide `-l` count. In a directory scan `-c` prints
 * `FILE: N` (before the file's error), for a single file `N` (and nothing after an error).
 */
class Printer {
  private total = 0;

  constructor(private readonly o: YaraOptions, private readonly deps: YaraDeps) {}

  print(report: FileReport, path: string, single: boolean): void {
    const { o, deps } = this;
    if (report.warnings) deps.stderr.write(report.warnings);
    if (report.pre.length > 0) deps.stdout.write(report.pre);
    const limit = o.maxRules;
    let current = 0;
    let text = '';
    const json: Record<string, unknown>[] = [];
    const take = (ev: FileReport['events'][number]): void => {
      if (ev.t !== undefined && !o.count) text += ev.t;
      if (ev.j !== undefined) json.push(ev.j);
      if (ev.m) { current++; this.total++; }
    };
    if (!report.error) {
      if (limit !== 0 && this.total >= limit) {
        // The limit was reached in an earlier file: yara aborts after this file's first message.
        const first = report.events[0];
        if (first && first.i === 0) take(first);
      } else {
        for (const ev of report.events) {
          take(ev);
          if (limit !== 0 && this.total >= limit) break;
        }
      }
    }
    if (o.json) {
      const obj: Record<string, unknown> = { file: pathBytes(path).toString('utf8'), matches: json, count: current };
      if (report.console) obj['console'] = report.console;
      if (report.error) obj['error'] = report.error;
      deps.stdout.write(`${JSON.stringify(obj)}\n`);
    } else {
      if (o.count && !(single && report.error)) text += single ? `${current}\n` : `${path}: ${current}\n`;
      if (text) writeBytes(deps.stdout, text);
    }
    if (report.error) writeBytes(deps.stderr, `error scanning ${path}: ${report.error}\n`);
  }
}

export async function runYara(argv: string[], deps: YaraDeps): Promise<number> {
  const parsed = parseYaraArgs(argv);
  if (!parsed.ok) {
    deps.stderr.write(parsed.stderr);
    return 1;
  }
  const o = parsed.options;
  const positional = parsed.positional;
  if (o.version) {
    deps.stdout.write(`${deps.version}\n`);
    return 0;
  }
  if (o.help) {
    deps.stdout.write(yaraHelp(deps.version));
    return 0;
  }
  if (o.threads !== undefined && o.threads > YARA_MAX_THREADS) {
    deps.stderr.write(`maximum number of threads is ${YARA_MAX_THREADS}\n`);
    return 1;
  }
  if (positional.length < 2) {
    deps.stderr.write(`yara: wrong number of arguments\n${USAGE}\n\nTry \`--help\` for more options\n`);
    return 1;
  }
  if (o.printStats) {
    deps.stderr.write("error: -S/--print-stats prints statistics of yara's Aho-Corasick automaton, which vigil does not build\n");
    return 1;
  }
  // Module data (-x) is loaded first, as yara maps it before compiling. vigil's modules take no
  // data, as yara's math, time, hash and console ignore theirs: the file only has to open.
  for (const x of o.moduleData) {
    const eq = x.indexOf('=');
    if (eq < 0) {
      deps.stderr.write('error: wrong syntax for `-x` option.\n');
      return 1;
    }
    const file = x.slice(eq + 1);
    try {
      const fd = openSync(file, 'r');
      try {
        if (!fstatSync(fd).isFile()) throw new Error('not a file');
      } finally {
        closeSync(fd);
      }
    } catch {
      deps.stderr.write(`error: could not open file "${file}".\n`);
      return 1;
    }
  }
  if (o.compiledRules) return compiledRules(positional, deps);

  const ext = defineExternals(o.defines);
  if (ext.stderr) deps.stderr.write(ext.stderr);
  if (ext.fail) return 1;
  if (o.atomQualityTable !== undefined) {
    try {
      readFileSync(o.atomQualityTable);
    } catch {
      deps.stderr.write('error loading atom quality table: could not open file\n');
      return 1;
    }
  }

  // Rule files, read in order; one that cannot be opened ends the run after the files before it
  // have been compiled (and their diagnostics printed), as yara compiles file by file.
  // A directory opens as a file in C and fails in yara's lexer: `DIR(1): error: input in flex
  // scanner failed`, printed where that file's diagnostics would be.
  const sources: YaraSource[] = [];
  let missing: string | undefined;
  for (const arg of positional.slice(0, -1)) {
    const { file, namespace } = splitNamespace(arg);
    if (file !== '-' && isDirectory(file)) {
      missing = `${file}(1): error: input in flex scanner failed\n`;
      break;
    }
    try {
      sources.push({ file, text: file === '-' ? readFileSync(0) : readFileSync(file), ...(namespace !== undefined ? { namespace } : {}) });
    } catch {
      missing = `error: could not open file: ${file}\n`;
      break;
    }
  }
  const render = renderOptions(o);
  const target = toByteString(positional[positional.length - 1]!);
  // With -p N on a directory or a list, the workers start (and compile the rules) while this
  // thread compiles them for the diagnostics; they are closed on every way out.
  let early: Promise<WorkerPool<YaraWorkerTask, FileReport>> | undefined;
  const threads = o.threads ?? 1;
  if (missing === undefined && threads >= 2 && (o.scanList || isDirectory(target))) {
    const init: YaraWorkerInit = { sources, externals: ext.externals, strictEscape: o.strictEscape, render };
    // The main thread scans too (it compiled the rules anyway), so the pool is one thread smaller.
    const workers = Math.min(threads, availableParallelism()) - 1;
    if (workers > 0) {
      early = WorkerPool.create<YaraWorkerTask, FileReport>({
        module: new URL('./yara-worker.js', import.meta.url).href, exportName: 'createYaraWorker', init, size: workers,
        // This thread scans too and cannot feed a worker while it does: keep them well supplied.
        jobsPerWorker: 16,
      });
      early.catch(() => undefined);
    }
  }
  try {
    return await compileAndScan(deps, o, sources, ext.externals, missing, render, target, early);
  } finally {
    if (early) await early.then((pool) => pool.close(), () => undefined);
  }
}

async function compileAndScan(
  deps: YaraDeps, o: YaraOptions, sources: YaraSource[], externals: Record<string, ExternalValue>, missing: string | undefined,
  render: RenderOptions, target: string, early: Promise<WorkerPool<YaraWorkerTask, FileReport>> | undefined,
): Promise<number> {
  const result = compileYara(sources, { externals, strictEscape: o.strictEscape, include: readInclude });
  const diagnostics = mergeDiagnostics(result.diagnostics, tooManyStrings(result, o.maxStringsPerRule));
  const { failed, warnings } = reportDiagnostics(result, diagnostics, o, deps);
  if (failed) return 1;
  if (missing !== undefined) {
    deps.stderr.write(missing);
    return 1;
  }
  if (o.failOnWarnings && warnings > 0) return 1;
  const setup = scanSetup(result);
  if (!setup) return 1;

  const printer = new Printer(o, deps);
  const targetIsDir = isDirectory(target);
  if (o.scanList && targetIsDir) {
    deps.stderr.write('error: cannot use a directory as scan list.\n');
    return 1;
  }

  if (!o.scanList && !targetIsDir) {
    let data: ScanTarget;
    try {
      data = openTarget(pathBytes(target));
    } catch {
      const pid = /^\s*\+?[0-9]+$/.test(target) && Number(target) > 0;
      writeBytes(deps.stderr, `error scanning ${target}: ${pid ? 'vigil cannot scan process memory' : 'could not open file'}\n`);
      return 1;
    }
    // yara's per-scan timeout is an int of seconds; 0 or less means none.
    const seconds = BigInt.asIntN(32, BigInt(o.timeout));
    let report;
    try {
      report = scanFile(setup, target, data, render, seconds > 0n ? performance.now() + Number(seconds) * 1000 : undefined);
    } finally {
      if (!(data instanceof Uint8Array)) data.close();
    }
    printer.print(report, target, true);
    return report.error ? 1 : 0;
  }

  const warn = (s: string): void => { writeBytes(deps.stderr, s); };
  let paths: Iterable<string>;
  if (o.scanList) {
    let text: string;
    try {
      text = readFileSync(pathBytes(target)).toString('latin1');
    } catch {
      writeBytes(deps.stderr, `error: could not open file "${target}".\n`);
      return 1;
    }
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    paths = walkList(lines, o, warn);
  } else {
    paths = walkDir(target, o, warn);
  }
  const deadlineSec = Math.floor(Date.now() / 1000) + o.timeout;
  const threads = o.threads ?? 1;
  if (threads <= 0) {
    // yara starts no scanning thread: the tree is walked (and -z messages printed), nothing scanned.
    for (const p of paths) void p;
    return 0;
  }
  let stopped = false;
  if (threads === 1) {
    for (const path of paths) {
      const report = scanListedFile(setup, path, render, deadlineSec);
      if (report.skipped) break;
      printer.print(report, path, false);
    }
    return 0;
  }

  // The pool was started before compiling under the same condition (threads ≥ 2, directory or
  // list), one thread smaller than asked: this thread takes a file whenever it is free, the
  // workers the others (their tasks are posted before this thread blocks in a scan).
  const pool = early ? await early : undefined;
  let mainBusy = false;
  const scanHere = async (path: string): Promise<FileReport> => {
    mainBusy = true;
    try {
      await new Promise<void>((r) => setImmediate(r)); // let the other files of this round reach the workers first
      return scanListedFile(setup, path, render, deadlineSec);
    } finally {
      mainBusy = false;
    }
  };
  await orderedMap(
    paths,
    async (path) => (stopped ? undefined : !pool || !mainBusy ? scanHere(path) : pool.run({ path, deadlineSec })),
    (report, path) => {
      if (stopped || !report) return;
      if (report.skipped) { stopped = true; return; }
      printer.print(report, path, false);
    },
    // Workers read their files themselves and reports are small, so many can wait for their turn:
    // a large file at the head of the order must not leave the other workers idle.
    { concurrency: (pool?.size ?? 0) * 16 + 2, window: 512 },
  );
  return 0;
}

