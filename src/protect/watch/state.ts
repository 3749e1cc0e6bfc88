/**
 * The real-time watcher's persistent state: one JSON file and one @parcel/watcher snapshot per
 * watched root, in the state directory (`$VIGIL_HOME/watch` by default).
 *
 * In: a state directory and a root. Out: where its files live, the last state written (or why it
 * could not be read), and an atomic writer (temporary file, fsync, rename). Why: after a restart the
 * watcher scans what changed while it was down (the snapshot) and what it had seen but not yet
 * scanned (`pending`); `vigil status` reads the same files to say what is watched. A damaged
 * state file is reported and replaced, never a reason to refuse to start.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface RootState {
  /** Format version of this file. */
  version: 1;
  /** The watched directory (absolute, real path). */
  root: string;
  /** When this root was first watched from this state directory (ISO 8601). */
  since: string;
  /** The process that wrote this state last, and whether it was still watching then. */
  pid: number;
  running: boolean;
  /** When the file was written (ISO 8601). */
  updatedAt: string;
  /** Snapshot file name (in the state directory) and when it was taken; absent before the first. */
  snapshot?: string;
  snapshotAt?: string;
  /** Counters over the root's whole history (kept across restarts). */
  eventsSeen: number;
  scanned: number;
  infected: number;
  /** The last scan: when, which file, the verdict. */
  lastScan?: { time: string; path: string; verdict: string };
  /** Paths seen but not scanned yet when the file was written: scanned on the next start. */
  pending: string[];
}

/** The base name (without extension) of a root's files: a hash of its path. */
export function rootKey(root: string): string {
  return createHash('sha256').update(root).digest('hex').slice(0, 20);
}

export function statePath(stateDir: string, root: string): string {
  return join(stateDir, `${rootKey(root)}.json`);
}

export function snapshotPath(stateDir: string, root: string): string {
  return join(stateDir, `${rootKey(root)}.snapshot`);
}

/** Reads a root's state: the state, nothing (never written), or an error naming the file and what is wrong. */
export function readRootState(file: string): { state?: RootState; error?: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { error: `${file}: ${(e as Error).message}` };
  }
  try {
    const v = JSON.parse(text) as Partial<RootState>;
    if (v === null || typeof v !== 'object' || v.version !== 1 || typeof v.root !== 'string') return { error: `${file}: not a watcher state (version 1)` };
    return {
      state: {
        version: 1, root: v.root, since: str(v.since) ?? new Date(0).toISOString(), pid: num(v.pid), running: v.running === true,
        updatedAt: str(v.updatedAt) ?? '', ...(str(v.snapshot) ? { snapshot: str(v.snapshot)! } : {}), ...(str(v.snapshotAt) ? { snapshotAt: str(v.snapshotAt)! } : {}),
        eventsSeen: num(v.eventsSeen), scanned: num(v.scanned), infected: num(v.infected),
        ...(v.lastScan && typeof v.lastScan === 'object' && typeof v.lastScan.path === 'string' ? { lastScan: { time: str(v.lastScan.time) ?? '', path: v.lastScan.path, verdict: str(v.lastScan.verdict) ?? '' } } : {}),
        pending: Array.isArray(v.pending) ? v.pending.filter((p): p is string => typeof p === 'string') : [],
      },
    };
  } catch (e) {
    return { error: `${file}: ${(e as Error).message}` };
  }
}

/** Every root state in a state directory (for `vigil status`), with the files that could not be read. */
export function readAllStates(stateDir: string): { states: RootState[]; errors: string[] } {
  let names: string[];
  try {
    names = readdirSync(stateDir).filter((n) => /^[0-9a-f]{20}\.json$/.test(n)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { states: [], errors: [] };
    return { states: [], errors: [`${stateDir}: ${(e as Error).message}`] };
  }
  const states: RootState[] = [];
  const errors: string[] = [];
  for (const n of names) {
    const r = readRootState(join(stateDir, n));
    if (r.state) states.push(r.state);
    if (r.error) errors.push(r.error);
  }
  return { states, errors };
}

/** Writes `data` to `file` atomically: a crash leaves the old content or the new, never a mix. */
export function writeFileAtomic(file: string, data: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    const buf = Buffer.from(data);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function writeRootState(stateDir: string, state: RootState): void {
  writeFileAtomic(statePath(stateDir, state.root), `${JSON.stringify(state, null, 1)}\n`);
}

/** Whether a process with this id is alive (on this machine). */
export function processAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
}
