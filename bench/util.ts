/**
 * Small shared pieces of the benchmark: where the repository and the cache live, size parsing and
 * printing, medians, a fast seeded byte stream, and running a child process while measuring its
 * wall time, CPU time and peak resident set size.
 *
 * In: sizes as text (`64M`), seeds, commands. Out: numbers, bytes, `Measured` records.
 *
 * Why built this way:
 * - Bulk pseudo-random bytes come from AES-128-CTR keyed by the seeded PRNG: the stream is fully
 *   determined by the seed (CTR mode over zeros is a fixed function of key and IV), runs at
 *   gigabytes per second in OpenSSL, and so generating a 1 GiB corpus is bounded by the disk,
 *   not by JavaScript arithmetic.
 * - Peak RSS is read from GNU time (`/usr/bin/time -f %M`), which reports the kernel's
 *   `ru_maxrss` of the waited child: exact, and with no polling race. Without GNU time, Python's
 *   `resource.getrusage(RUSAGE_CHILDREN)` after `wait` gives the same number; without either,
 *   RSS is reported as unavailable rather than guessed.
 * - Each child runs in its own process group so that a timeout can stop it and everything it
 *   started, and nothing else.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Prng } from '../test/helpers/prng.js';

/** The repository root: the nearest ancestor of this file with a package.json (works from bench/ and dist/bench/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin', 'vigil.js'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

/** `1G`, `64M`, `512K`, `1000` (bytes); binary multiples. Returns NaN when the text is not a size. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) return NaN;
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  return Math.round(Number(m[1]) * (mult[(m[2] ?? '').toLowerCase()] ?? NaN));
}

/** Bytes as `12.3 MiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[u]}`;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** A deterministic byte stream: `take(n)` returns the next n bytes of AES-128-CTR(key, iv) over zeros. */
export class ByteStream {
  private readonly cipher;
  constructor(rng: Prng) {
    const key = Buffer.from(rng.bytes(16));
    const iv = Buffer.from(rng.bytes(16));
    this.cipher = createCipheriv('aes-128-ctr', key, iv);
  }
  take(n: number): Buffer {
    return this.cipher.update(Buffer.alloc(n));
  }
}

/** Lower-case hex of bytes. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

// ───────────────────────────── measured child processes ─────────────────────────────

export interface Measured {
  stdout: string;
  stderr: string;
  /** Exit status; 128 + signal number when killed by a signal; -1 when it could not be started. */
  exitCode: number;
  timedOut: boolean;
  /** Wall time in seconds, measured here around the child (includes process start and exit). */
  wallSec: number;
  /** User + system CPU seconds of the child and its descendants, when known. */
  cpuSec: number | undefined;
  /** Peak resident set size in bytes, when known. */
  maxRssBytes: number | undefined;
}

export type RssMethod = 'gnu-time' | 'python-rusage' | 'none';

let rssMethodCache: RssMethod | undefined;

/** How peak RSS will be measured on this machine. */
export function rssMethod(): RssMethod {
  if (rssMethodCache) return rssMethodCache;
  const gnu = spawnSync('/usr/bin/time', ['-f', '%M', 'true'], { encoding: 'utf8' });
  if (gnu.status === 0 && /^\d+\s*$/m.test(gnu.stderr)) rssMethodCache = 'gnu-time';
  else if (spawnSync('python3', ['-c', 'import resource'], { encoding: 'utf8' }).status === 0) rssMethodCache = 'python-rusage';
  else rssMethodCache = 'none';
  return rssMethodCache;
}

const PY_WRAPPER = [
  'import os, resource, subprocess, sys, time',
  'p = subprocess.run(sys.argv[2:])',
  'r = resource.getrusage(resource.RUSAGE_CHILDREN)',
  'open(sys.argv[1], "w").write("%d %f %f\\n" % (r.ru_maxrss, r.ru_utime, r.ru_stime))',
  'sys.exit(p.returncode if p.returncode >= 0 else 128 - p.returncode)',
].join('\n');

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGILL: 4, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 };

/**
 * Runs `program args` with `env` added to the environment and measures it. `statsFile` is a
 * scratch path for the resource report. The child is started in its own process group; on timeout
 * that group is killed.
 */
export function runMeasured(program: string, args: readonly string[], opts: { env?: Record<string, string>; timeoutMs: number; statsFile: string; cwd?: string }): Promise<Measured> {
  const method = rssMethod();
  let cmd = program;
  let argv = [...args];
  if (method === 'gnu-time') {
    cmd = '/usr/bin/time';
    argv = ['-f', '%M %U %S', '-o', opts.statsFile, program, ...args];
  } else if (method === 'python-rusage') {
    cmd = 'python3';
    argv = ['-c', PY_WRAPPER, opts.statsFile, program, ...args];
  }
  rmSync(opts.statsFile, { force: true });
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ stdout: '', stderr: String(e), exitCode: -1, timedOut: false, wallSec: 0, cpuSec: undefined, maxRssBytes: undefined });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const wallSec = Number(process.hrtime.bigint() - t0) / 1e9;
      let cpuSec: number | undefined;
      let maxRssBytes: number | undefined;
      let stderr = Buffer.concat(err).toString('utf8');
      let exitCode = code ?? (signal ? 128 + (SIGNAL_NUMBERS[signal] ?? 0) : 1);
      if (method !== 'none') {
        try {
          const report = readFileSync(opts.statsFile, 'utf8');
          // GNU time writes "Command terminated by signal N" / "Command exited with non-zero status N" first.
          const sig = /terminated by signal (\d+)/.exec(report);
          if (sig) exitCode = 128 + Number(sig[1]);
          const last = report.trim().split('\n').pop() ?? '';
          const [rss, user, sys] = last.trim().split(/\s+/).map(Number);
          if (rss !== undefined && Number.isFinite(rss)) maxRssBytes = rss * 1024; // both report KiB on Linux
          if (user !== undefined && sys !== undefined && Number.isFinite(user) && Number.isFinite(sys)) cpuSec = user + sys;
        } catch {
          stderr += '\n(bench: no resource report from the wrapper)';
        }
      }
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr, exitCode, timedOut, wallSec, cpuSec, maxRssBytes });
    });
  });
}
