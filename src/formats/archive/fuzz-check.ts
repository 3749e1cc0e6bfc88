/**
 * Robustness checks shared by the archive readers' tests: a reader run over every cut of a
 * sample and over seeded random mutations of it must not throw, must finish in bounded time and
 * must keep each child within the file-size limit.
 *
 * In: samples (real archives), the reader, a seed. Out: assertions; the number of runs made.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { isChild, type UnpackContext, type UnpackItem } from '../unpack.js';

/** A small deterministic generator (xorshift32) so that a failing case replays. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

export const fuzzContext = (maxFileSize = 1 << 20): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 0, maxScanSize: 0 },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false },
});

/** Drains a reader, asserting it neither throws nor passes the limit nor runs too long. */
export function drain(read: (b: Uint8Array, ctx: UnpackContext) => Iterable<UnpackItem>, b: Uint8Array, ctx: UnpackContext, label: string, ms = 2000): UnpackItem[] {
  const start = Date.now();
  const items: UnpackItem[] = [];
  assert.doesNotThrow(() => {
    for (const item of read(b, ctx)) {
      items.push(item);
      if (isChild(item)) assert.ok(item.data.length <= ctx.limits.maxFileSize + 4096, `${label}: a child of ${item.data.length} bytes`);
      assert.ok(items.length < 100000, `${label}: too many items`);
    }
  }, label);
  assert.ok(Date.now() - start < ms, `${label}: took ${Date.now() - start} ms`);
  return items;
}

/** Every cut (stepped to about `cuts` points, the first 64 bytes each) and `mutations` mutated copies. */
export function fuzz(read: (b: Uint8Array, ctx: UnpackContext) => Iterable<UnpackItem>, sample: Uint8Array, seed: number, cuts = 200, mutations = 320, hot: readonly [number, number] = [0, 128]): number {
  const ctx = fuzzContext();
  let runs = 0;
  const step = Math.max(1, Math.floor(sample.length / cuts));
  for (let n = 0; n < sample.length; n += n < 64 ? 1 : step) {
    drain(read, sample.subarray(0, n), ctx, `cut at ${n}`);
    runs++;
  }
  const next = rng(seed);
  for (let m = 0; m < mutations; m++) {
    const b = Uint8Array.from(sample);
    const edits = 1 + Math.floor(next() * 8);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(next() * b.length);
      const kind = next();
      if (kind < 0.6) b[at] = Math.floor(next() * 256);
      else if (kind < 0.8) b[at] = b[at]! ^ (1 << Math.floor(next() * 8));
      else b[at] = next() < 0.5 ? 0 : 0xff;
    }
    // Some mutations hit the `hot` range (the first headers by default), where the structure is.
    const [from, to] = [Math.min(hot[0], b.length), Math.min(hot[1], b.length)];
    if (to > from && next() < 0.5) {
      for (let e = 1 + Math.floor(next() * 4); e > 0; e--) b[from + Math.floor(next() * (to - from))] = Math.floor(next() * 256);
    }
    drain(read, b, ctx, `mutation ${m} (seed ${seed})`);
    runs++;
  }
  return runs;
}

/** Whether `tool` runs at all (it may exit non-zero when run without arguments). */
export function toolExists(tool: string): boolean {
  try {
    execFileSync(tool, [], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number | null }).status != null;
  }
}

/** `n` bytes of seeded word-like text with some random punctuation: compressible, not trivial. */
export function wordText(n: number, seed: number): Buffer {
  const r = rng(seed);
  const words = ['kestrel ', 'plover ', 'merlin\n', 'osprey ', 'curlew, ', 'dunlin. '];
  let s = '';
  while (s.length < n) s += r() < 0.1 ? String.fromCharCode(33 + Math.floor(r() * 90)) : words[Math.floor(r() * words.length)]!;
  return Buffer.from(s.slice(0, n), 'latin1');
}
