/**
 * Running clamscan from unit tests: whether ClamAV 1.4 is installed (a skip reason otherwise),
 * one asynchronous run with stdout and stderr together, and a small concurrency pool so that a
 * batch of runs uses both cores without starting them all at once.
 */
import { spawn, spawnSync } from 'node:child_process';

const VERSION = spawnSync('clamscan', ['--version'], { encoding: 'utf8' });

/** True when clamscan 1.4 (the oracle these tests were written against) is on the PATH. */
export const HAVE_CLAMSCAN = VERSION.status === 0 && /ClamAV 1\.4\./.test(VERSION.stdout);

/** `skip` value for node:test: false, or the reason the differential test is skipped. */
export const CLAMSCAN_SKIP: false | string = HAVE_CLAMSCAN ? false : 'clamscan 1.4 is not installed: differential test skipped';

/** Runs clamscan with `args`; resolves to its exit code and its stdout and stderr (Latin-1). */
export function runClamscan(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('clamscan', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString('latin1'); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString('latin1'); });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

/** Runs `fn` over `items` with at most `width` calls in flight. */
export async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}
