/**
 * What the watcher's tests share: a one-signature EICAR database, a scanner over it (in a worker
 * thread, as in production), a quarantine sink that records when each file reached it, and
 * polling helpers. In: a temporary directory. Out: those objects. Why: the real-time tests measure
 * latency from write to quarantine; the sink stamps the moment the watcher handed the file over.
 */
import { mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { createScanner, type Scanner } from '../../lib/scanner.js';
import type { QuarantineInfo, QuarantineRecord, QuarantineSink } from '../types.js';

export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

/** Writes `eicar.ndb` (body signature) and `eicar.hdb` (MD5 of the 68-byte file) into `dir`. */
export function writeEicarDb(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const bytes = Buffer.from(EICAR, 'latin1');
  writeFileSync(join(dir, 'eicar.ndb'), `Eicar-Test-Signature.Body:0:*:${bytes.toString('hex')}\n`);
  writeFileSync(join(dir, 'eicar.hdb'), `${createHash('md5').update(bytes).digest('hex')}:${bytes.length}:Eicar-Test-Signature\n`);
  return dir;
}

export async function eicarScanner(dbDir: string, extra: { maxFileSize?: number } = {}): Promise<Scanner> {
  return createScanner({ databases: [writeEicarDb(dbDir)], threads: 1, cache: false, ...(extra.maxFileSize ? { limits: { maxFileSize: extra.maxFileSize } } : {}) });
}

export interface SinkCall { path: string; at: number; info: QuarantineInfo; content: Buffer }

/** A vault stand-in: moves the file into `dir` (rename) and remembers when, what and with which detections. */
export class RecordingSink implements QuarantineSink {
  readonly calls: SinkCall[] = [];
  private n = 0;
  fail = false;
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  async quarantine(path: string, info: QuarantineInfo): Promise<QuarantineRecord> {
    const at = Date.now();
    if (this.fail) throw new Error('vault unavailable');
    const content = await readFile(path);
    const st = statSync(path);
    const id = `q${String(++this.n).padStart(6, '0')}`;
    renameSync(path, join(this.dir, id));
    this.calls.push({ path, at, info, content });
    return {
      id, originalPath: path, size: st.size, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs,
      sha256: createHash('sha256').update(content).digest('hex'), detections: info.detections, engine: info.engine,
      database: info.database, quarantinedAt: new Date(at).toISOString(),
    };
  }

  /** Resolves with the call for `path` once there is one; rejects after `ms`. */
  async waitFor(path: string, ms = 5000): Promise<SinkCall> {
    return until(() => this.calls.find((c) => c.path === path), ms, `quarantine of ${path}`);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `f` every 10 ms until it gives a value; rejects naming `what` after `ms`. */
export async function until<T>(f: () => T | undefined | false, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Writes a file outside the tree, then moves it in (a rename into the watched tree). */
export function moveIn(outside: string, target: string, content: string | Buffer): void {
  writeFileSync(outside, content);
  renameSync(outside, target);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
