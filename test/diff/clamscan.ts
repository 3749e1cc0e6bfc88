/**
 * Running a clamscan-compatible scanner and reading what it prints.
 *
 * In: command-line arguments (clamscan's), a working directory. Out: stdout, stderr, exit code,
 * elapsed time; and a parser that turns clamscan's per-file lines (`path: Name FOUND`,
 * `path: OK`, `path: Empty file`, ...) and its summary block into maps.
 *
 * The same Runner shape serves clamscan (here) and vigil (run-vigil.ts), so the differential
 * suite drives both through one helper. Scans are always whole directories in one process
 * (`scanTree`): loading the databases costs more than scanning a small file, so one process per
 * file would dominate the suite's time.
 */

import { spawn, spawnSync } from 'node:child_process';

export interface RunResult {
  stdout: string;
  stderr: string;
  /** Exit status; for a process killed by a signal, 128 + the signal number (as a shell reports it). */
  exitCode: number;
  /** The signal that killed the process, if any (e.g. 'SIGSEGV'). */
  signal: NodeJS.Signals | null;
  ms: number;
}

/** Runs a scanner with arguments in a working directory. */
export type Runner = (args: readonly string[], cwd?: string) => Promise<RunResult>;

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGSEGV: 11, SIGABRT: 6, SIGKILL: 9, SIGTERM: 15, SIGBUS: 7, SIGILL: 4, SIGFPE: 8 };

/** Spawns a program and collects its output (no shell, no size limit). */
export function runProgram(program: string, args: readonly string[], cwd?: string, timeoutMs = 600_000): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(program, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      resolve({ stdout: '', stderr: String(e), exitCode: 127, signal: null, ms: Date.now() - t0 });
    });
    child.on('close', (code, signal) => {
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        exitCode: code ?? (signal ? 128 + (SIGNALS[signal] ?? 0) : 1),
        signal,
        ms: Date.now() - t0,
      });
    });
  });
}

export const runClamscan: Runner = (args, cwd) => runProgram('clamscan', args, cwd);

let clamscanChecked: string | null | undefined;

/** clamscan's version line (`ClamAV 1.4.6`), or null when it is not installed. */
export function clamscanVersion(): string | null {
  if (clamscanChecked === undefined) {
    const r = spawnSync('clamscan', ['--version'], { encoding: 'utf8' });
    clamscanChecked = r.status === 0 ? r.stdout.trim().split('/')[0] ?? null : null;
  }
  return clamscanChecked;
}

export function hasClamscan(): boolean {
  return clamscanVersion() !== null;
}

// ---------------------------------------------------------------------------------------------
// Output parsing

export interface ScanOutput {
  /** Per scanned path, the statuses printed for it in order: 'OK', 'Empty file', 'X FOUND', ... */
  files: Map<string, string[]>;
  /** Summary block fields ('Known viruses' -> '2140', ...), empty with --no-summary. */
  summary: Map<string, string>;
  /** Lines that were neither a per-file line nor part of the summary. */
  other: string[];
}

const STATUS = /^(?:OK|Empty file|Symbolic link|Excluded(?: \(.*\))?|Access denied|.+ FOUND|.+ ERROR)$/;

/**
 * Parses clamscan's stdout. A per-file line is `<path>: <status>`; paths may contain ': ', so
 * known paths (when given) are matched first, and otherwise the line splits at the last ': '
 * before a recognised status.
 */
export function parseScanOutput(stdout: string, knownPaths?: Iterable<string>): ScanOutput {
  const known = new Set(knownPaths ?? []);
  const files = new Map<string, string[]>();
  const summary = new Map<string, string>();
  const other: string[] = [];
  let inSummary = false;
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    if (line === '----------- SCAN SUMMARY -----------') {
      inSummary = true;
      continue;
    }
    if (inSummary) {
      const i = line.indexOf(': ');
      if (i > 0) summary.set(line.slice(0, i), line.slice(i + 2).trim());
      else other.push(line);
      continue;
    }
    const split = splitFileLine(line, known);
    if (!split) {
      other.push(line);
      continue;
    }
    const [path, status] = split;
    let list = files.get(path);
    if (!list) files.set(path, (list = []));
    list.push(status);
  }
  return { files, summary, other };
}

function splitFileLine(line: string, known: Set<string>): [string, string] | undefined {
  if (known.size > 0) {
    // Fast path: the path ends at the first ': ' in the common case; verify it is known.
    const i = line.indexOf(': ');
    if (i > 0 && known.has(line.slice(0, i))) return [line.slice(0, i), line.slice(i + 2)];
  }
  for (let i = line.lastIndexOf(': '); i > 0; i = line.lastIndexOf(': ', i - 1)) {
    const status = line.slice(i + 2);
    if (STATUS.test(status)) return [line.slice(0, i), status];
  }
  return undefined;
}

/** The `ERROR: ...` lines of stderr (clamscan's fatal messages, e.g. `ERROR: Malformed database`). */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('ERROR: '));
}

// ---------------------------------------------------------------------------------------------
// One scan of a directory tree

export interface TreeScanOptions {
  /** Databases, passed as one -d each, in this order. */
  dbPaths: readonly string[];
  /** Directory (scanned with -r) or file. */
  target: string;
  allmatch: boolean;
  /** Print the summary block (default: --no-summary). */
  summary?: boolean;
  extraArgs?: readonly string[];
  cwd?: string;
}

export interface TreeScan {
  args: string[];
  result: RunResult;
  output: ScanOutput;
}

export function treeScanArgs(o: TreeScanOptions): string[] {
  const args: string[] = [];
  for (const d of o.dbPaths) args.push('-d', d);
  if (o.allmatch) args.push('--allmatch');
  if (!o.summary) args.push('--no-summary');
  args.push(...(o.extraArgs ?? []), '-r', o.target);
  return args;
}

/** Scans a whole tree in one process and parses the result. */
export async function scanTree(run: Runner, o: TreeScanOptions, knownPaths?: Iterable<string>): Promise<TreeScan> {
  const args = treeScanArgs(o);
  const result = await run(args, o.cwd);
  return { args, result, output: parseScanOutput(result.stdout, knownPaths) };
}

/** Quotes an argument for a POSIX shell, for printed repro commands. */
export function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}
