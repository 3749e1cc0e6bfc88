/**
 * Finding the process that is writing protected files, and stopping it.
 *
 * In: protected roots, the files an alert is about, PIDs never to touch. Out: the processes
 * (pid, exe, cmdline, uid, the matching descriptors) that hold a protected file open for writing
 * or hold one of the alert's files open at all, found by reading `/proc/PID/fd` (Linux; every
 * process as root, the user's own otherwise); `SIGSTOP`/`SIGKILL` with the refusals the policy
 * demands; optionally the PIDs `fatrace` (fanotify, root only) saw writing under a root.
 * Why: a notify watcher never says who wrote (reference §4.1, "process attribution, the hard
 * part"). An encryptor at full speed has some protected file open most of the time, so a few fast
 * passes over `/proc` catch it in the act; each pass goes newest PID first (the encryptor is
 * usually recent) and stops a match the moment it is found, before reading anything else about it,
 * because every millisecond is files lost. PID 1, this process and its parent are never signalled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { sep } from 'node:path';
import { createInterface } from 'node:readline';

export interface OpenFile {
  fd: number;
  path: string;
  write: boolean;
}

export interface ProcessInfo {
  pid: number;
  ppid: number | null;
  uid: number | null;
  exe: string | null;
  cmdline: string[];
  comm: string | null;
  /** Descriptors that made it a match. */
  files: OpenFile[];
}

export interface ScanOptions {
  roots: string[];
  /** Files named by the alert: any descriptor on one of them is a match. */
  files?: Iterable<string>;
  /** PIDs never reported (added to PID 1, this process and its parent). */
  exclude?: Iterable<number>;
  /** Called as soon as a match is found, before its details are read (to stop it at once). */
  onMatch?: (pid: number) => void;
  /** Look at these PIDs only (default: every process). */
  pids?: number[];
  /** Also match read-only descriptors under the roots (for processes already suspect: busy writers). */
  readers?: boolean;
  /**
   * Descriptors known not to be files (sockets, pipes, event and epoll handles), by `pid:fd`:
   * passes over the same processes within one search skip reading those links again.
   */
  notFiles?: Set<string>;
}

/** PIDs that must never be stopped or killed. */
export function untouchablePids(extra: Iterable<number> = []): Set<number> {
  const s = new Set<number>([0, 1, process.pid, process.ppid, ...extra]);
  return s;
}

/** Whether this platform lets us see other processes' descriptors. */
export function canAttribute(): boolean {
  return process.platform === 'linux' && existsSync('/proc/self/fd');
}

const under = (path: string, roots: string[]): boolean =>
  roots.some((r) => path === r || path.startsWith(r.endsWith(sep) ? r : r + sep));

function writeMode(pid: string, fd: string): boolean {
  try {
    const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1');
    const m = /^flags:\s*([0-7]+)/m.exec(info);
    // O_ACCMODE: 1 = O_WRONLY, 2 = O_RDWR.
    return m ? (parseInt(m[1]!, 8) & 3) !== 0 : false;
  } catch {
    return false;
  }
}

/**
 * One synchronous pass over `/proc`: the processes holding a protected file open for writing or an
 * alert file open at all. Processes we may not inspect (other users' as non-root) are skipped.
 */
export function scanProcesses(opts: ScanOptions): ProcessInfo[] {
  if (!canAttribute()) return [];
  const skip = untouchablePids(opts.exclude ?? []);
  const files = new Set(opts.files ?? []);
  const roots = opts.roots;
  let pids: string[];
  try {
    pids = opts.pids ? opts.pids.map(String) : readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  pids.sort((a, b) => Number(b) - Number(a));
  const out: ProcessInfo[] = [];
  for (const pid of pids) {
    if (skip.has(Number(pid))) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    let hits: OpenFile[] | undefined;
    for (const fd of fds) {
      const key = opts.notFiles ? `${pid}:${fd}` : '';
      if (opts.notFiles?.has(key)) continue;
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (target.charCodeAt(0) !== 47 /* '/' */) {
        // A descriptor number stays a socket or pipe until closed; within one short search, a
        // reuse of the number for a file is a risk taken for speed.
        opts.notFiles?.add(key);
        continue;
      }
      if (target.endsWith(' (deleted)')) target = target.slice(0, -10);
      const named = files.has(target);
      if (!named && !under(target, roots)) continue;
      const write = writeMode(pid, fd);
      if (!named && !write && !opts.readers) continue;
      if (!hits) {
        hits = [];
        opts.onMatch?.(Number(pid));
      }
      hits.push({ fd: Number(fd), path: target, write });
    }
    if (hits) out.push({ ...describe(Number(pid)), files: hits });
  }
  return out;
}

/** Write system calls made so far by each process we may inspect (`syscw` of `/proc/PID/io`). */
export function writeCounters(exclude: Set<number>): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    if (exclude.has(Number(pid))) continue;
    try {
      const io = readFileSync(`/proc/${pid}/io`, 'latin1');
      const m = /^syscw:\s*(\d+)/m.exec(io);
      if (m) out.set(Number(pid), Number(m[1]));
    } catch {
      // Gone, or not ours.
    }
  }
  return out;
}

/** PIDs (of `pids`) that are running or in uninterruptible I/O right now (state R or D). */
export function busyPids(pids: number[]): number[] {
  const out: number[] = [];
  for (const pid of pids) {
    const st = processState(pid);
    if (st === 'R' || st === 'D') out.push(pid);
  }
  return out;
}

/**
 * Looks for the writer for up to `budgetMs`, synchronously. A full pass over `/proc` costs a few
 * milliseconds, during which an encryptor at full speed finishes several files; and one that
 * spends most of its time creating or unlinking files holds a descriptor only briefly. So the
 * search interleaves: the processes that are busy right now (running or in disk I/O: an encryptor
 * at full speed always is, most others sleep), those making the most write calls (`syscw` of
 * `/proc/PID/io`) and the newest ones are looked at again and again, between slices of the
 * others, which are gone through round-robin. These suspects (busy, writing, new) also match by a
 * read-only descriptor under a root (an encryptor writing copies holds the original open only to
 * read it, and spends most of its time creating and unlinking files, holding nothing); a backup
 * tool reading the tree at the moment of an alert may thus be stopped too — SIGSTOP is reversible,
 * and the alert names it. Returns at the first look with matches (each already handed to
 * `onMatch`).
 */
export function hunt(opts: ScanOptions, budgetMs: number): ProcessInfo[] {
  if (!canAttribute()) return [];
  const deadline = performance.now() + budgetMs;
  const skip = untouchablePids(opts.exclude ?? []);
  opts = { ...opts, notFiles: opts.notFiles ?? new Set() };
  const listPids = (): number[] => {
    try {
      return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => !skip.has(p)).sort((a, b) => b - a);
    } catch {
      return [];
    }
  };
  let all = listPids();
  let counters: Map<number, number> | undefined;
  let hot: number[] = [];
  let busyAt = 0;
  let priority: number[] = [];
  let rest: number[] = [];
  let at = 0;
  const reprioritise = (): void => {
    priority = [...new Set([...busyPids(all), ...hot, ...all.slice(0, 6)])];
    rest = all.filter((p) => !priority.includes(p));
    busyAt = performance.now();
  };
  reprioritise();
  while (true) {
    for (let i = 0; i < 4; i++) {
      const first = scanProcesses({ ...opts, pids: priority, readers: true });
      if (first.length > 0) return first;
    }
    const slice = rest.slice(at, at + 12);
    at += 12;
    const others = slice.length > 0 ? scanProcesses({ ...opts, pids: slice }) : [];
    if (others.length > 0) return others;
    if (performance.now() >= deadline) return [];
    if (at >= rest.length) {
      // A full cycle: new processes, and who has been writing since the last cycle.
      const now = writeCounters(skip);
      if (counters) {
        hot = [...now.entries()].map(([pid, c]) => [pid, c - (counters!.get(pid) ?? c)] as const)
          .filter(([, d]) => d > 0).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([pid]) => pid);
      }
      counters = now;
      all = listPids();
      at = 0;
      reprioritise();
    } else if (performance.now() - busyAt > 8) {
      reprioritise();
    }
  }
}

/** What `/proc` says about a process (fields it cannot read are null). */
export function describe(pid: number): Omit<ProcessInfo, 'files'> {
  let exe: string | null = null;
  let cmdline: string[] = [];
  let comm: string | null = null;
  let ppid: number | null = null;
  let uid: number | null = null;
  try { exe = readlinkSync(`/proc/${pid}/exe`); } catch { /* kernel thread, gone, or not ours */ }
  try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s, i, a) => s !== '' || i < a.length - 1); } catch { /* gone */ }
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    comm = /^Name:\s*(.*)$/m.exec(status)?.[1] ?? null;
    const pp = /^PPid:\s*(\d+)/m.exec(status)?.[1];
    ppid = pp !== undefined ? Number(pp) : null;
    const u = /^Uid:\s*(\d+)/m.exec(status)?.[1];
    uid = u !== undefined ? Number(u) : null;
  } catch { /* gone */ }
  return { pid, ppid, uid, exe, cmdline, comm };
}

/** The one-letter state of a process (`R`, `S`, `T` stopped, `Z`…), or null when it is gone. */
export function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name is in parentheses and may itself contain them: the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) || null;
  } catch {
    return null;
  }
}

export type SignalOutcome = 'ok' | 'refused' | 'gone' | 'denied';

/** Sends `signal` unless the PID is untouchable. */
export function signalProcess(pid: number, signal: 'SIGSTOP' | 'SIGKILL' | 'SIGCONT', exclude: Iterable<number> = []): SignalOutcome {
  if (!Number.isInteger(pid) || pid <= 1 || untouchablePids(exclude).has(pid)) return 'refused';
  try {
    process.kill(pid, signal);
    return 'ok';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ESRCH' ? 'gone' : 'denied';
  }
}

/** One fatrace line: `[time ]comm(pid): TYPES path`. */
export interface FatraceEvent {
  pid: number;
  comm: string;
  types: string;
  path: string;
}

/** Parses a line of `fatrace [-t]` output; null for anything else. */
export function parseFatraceLine(line: string): FatraceEvent | null {
  const m = /^(?:\d{2}:\d{2}:\d{2}(?:\.\d+)?\s+)?(.*)\((\d+)\): ([A-Z<>+]+)\s+(.*)$/.exec(line.trimEnd());
  if (!m) return null;
  return { comm: m[1]!, pid: Number(m[2]), types: m[3]!, path: m[4]! };
}

/**
 * PID attribution from fanotify through `fatrace` (Debian package `fatrace`; not installed by
 * default; root only). Keeps the writers seen under the roots in the last `windowMs`.
 */
export class FatraceFeed {
  private child: ChildProcess | undefined;
  private recent: { time: number; ev: FatraceEvent }[] = [];

  constructor(private readonly roots: string[], private readonly windowMs = 10_000) {}

  /** Whether `fatrace` is on the PATH and we are root. */
  static available(): boolean {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
    return (process.env.PATH ?? '/usr/bin:/usr/sbin').split(':').some((d) => d !== '' && existsSync(`${d}/fatrace`));
  }

  start(): boolean {
    if (!FatraceFeed.available()) return false;
    try {
      this.child = spawn('fatrace', ['-t', '-f', 'WD<>'], { stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return false;
    }
    this.child.on('error', () => { this.child = undefined; });
    const rl = createInterface({ input: this.child.stdout! });
    rl.on('line', (line) => {
      const ev = parseFatraceLine(line);
      if (!ev || !under(ev.path, this.roots)) return;
      const now = Date.now();
      this.recent.push({ time: now, ev });
      if (this.recent.length > 4096) this.recent = this.recent.filter((r) => r.time >= now - this.windowMs);
    });
    return true;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** PIDs that wrote, deleted or renamed under the roots in the window (most recent first). */
  writers(): number[] {
    const now = Date.now();
    const seen = new Set<number>();
    for (let i = this.recent.length - 1; i >= 0; i--) {
      const r = this.recent[i]!;
      if (r.time < now - this.windowMs) break;
      seen.add(r.ev.pid);
    }
    return [...seen];
  }

  stop(): void {
    this.child?.kill();
    this.child = undefined;
  }
}
