import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { LIMIT } from './common.js';
import { isZstd, scanZstd, zstdDecode } from './zstd.js';
import { DEFAULT_UNPACK_OPTIONS, isChild, isLimited } from '../unpack.js';
import { Prng } from '../../../test/helpers/prng.js';

const HAVE = spawnSync('zstd', ['--version'], { stdio: 'ignore' }).status === 0;
const SKIP = HAVE ? false : 'zstd is not installed';
const zstd = (args: string[], data: Uint8Array): Buffer => spawnSync('zstd', ['-q', '-c', ...args], { input: data, maxBuffer: 1 << 28 }).stdout;
const ctx = (maxFileSize: number) => ({ limits: { maxFileSize, maxFiles: 0, maxScanSize: 0 }, options: { ...DEFAULT_UNPACK_OPTIONS } });
const skippable = (n: number): Buffer => Buffer.concat([Buffer.from([0x5a, 0x2a, 0x4d, 0x18, n, 0, 0, 0]), Buffer.alloc(n, 0x41)]);

function sample(rng: Prng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n;) {
    const len = Math.min(n - i, rng.int(1, 3000));
    if (rng.chance(0.5)) out.set(rng.bytes(len), i);
    else out.fill(rng.int(0, 255), i, i + len);
    i += len;
  }
  return out;
}

test('zstd: round trips at several sizes and levels, with and without checksums', { skip: SKIP }, () => {
  const rng = new Prng('zstd-roundtrip');
  for (const [n, args] of [[0, []], [1, ['-1']], [100, ['--no-check']], [70000, ['-19']], [1_600_000, ['-3']], [300000, ['--ultra', '-20']]] as const) {
    const data = sample(rng, n);
    const z = zstd([...args], data);
    assert.ok(isZstd(z));
    const r = zstdDecode(z, 1 << 30);
    assert.equal(r.complete, true, `${n} ${args.join(' ')}: ${r.error ?? ''}`);
    assert.deepEqual(Buffer.from(r.data), Buffer.from(data));
  }
});

test('zstd: several frames, skippable frames, data after the frames', { skip: SKIP }, () => {
  const a = new TextEncoder().encode('first frame '.repeat(200)), b = new TextEncoder().encode('second frame '.repeat(200));
  const many = Buffer.concat([skippable(5), zstd([], a), skippable(0), zstd([], b), skippable(3)]);
  const r = zstdDecode(many, 1 << 20);
  assert.equal(r.complete, true);
  assert.deepEqual(Buffer.from(r.data), Buffer.concat([a, b]));
  const tail = zstdDecode(Buffer.concat([zstd([], a), Buffer.from('stray bytes')]), 1 << 20);
  assert.equal(tail.error, 'data after the frames');
  assert.equal(tail.data.length, a.length);
  assert.equal(zstdDecode(new TextEncoder().encode('plain text'), 100).error, 'not zstd');
  assert.equal(isZstd(new TextEncoder().encode('plain text')), false);
});

test('zstd: truncation gives a prefix, at many points', { skip: SKIP }, () => {
  const rng = new Prng('zstd-trunc');
  const data = sample(rng, 600000);
  const z = zstd(['-3'], data);
  for (let k = 0; k < 120; k++) {
    const r = zstdDecode(z.subarray(0, rng.int(0, z.length - 1)), 1 << 21);
    assert.equal(r.complete, false);
    assert.deepEqual(Buffer.from(r.data), Buffer.from(data.subarray(0, r.data.length)));
  }
});

test('zstd: 400 random mutations never throw and stay bounded', { skip: SKIP }, () => {
  const rng = new Prng('zstd-mutate');
  const z = zstd(['-3'], sample(rng, 40000));
  const t0 = Date.now();
  for (let k = 0; k < 400; k++) {
    const m = Buffer.from(z);
    for (let j = rng.int(1, 4); j > 0; j--) m[rng.int(0, m.length - 1)] = rng.int(0, 255);
    const r = zstdDecode(m, 100000);
    assert.ok(r.data.length <= 100000);
  }
  assert.ok(Date.now() - t0 < 20000, 'bounded time');
});

test('zstd: a 10 GB bomb stops at the bound in well under 2 s', { skip: SKIP }, () => {
  const frame = zstd(['-1'], new Uint8Array(64 << 20));
  const bomb = Buffer.concat(new Array<Buffer>(160).fill(frame)); // 160 frames of 64 MiB
  const t0 = Date.now();
  const r = zstdDecode(bomb, 8 << 20);
  const ms = Date.now() - t0;
  assert.equal(r.error, LIMIT);
  assert.ok(r.data.length <= 8 << 20);
  assert.ok(ms < 2000, `${ms} ms`);
  const items = [...scanZstd(bomb, ctx(8 << 20))];
  assert.ok(items.length === 1 && isLimited(items[0]!));
  // Many frames that each ask for a large window are refused before the work adds up.
  const tiny = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x68, 0x01, 0x00, 0x00]); // 8 MiB window, one empty last raw block
  const t1 = Date.now();
  const many = zstdDecode(Buffer.concat(new Array<Buffer>(20000).fill(tiny)), 1 << 20);
  assert.equal(many.error, 'too many frames');
  assert.ok(Date.now() - t1 < 5000);
  // A header asking for a 1.9 GiB window and no size: refused before the decoder allocates it.
  assert.equal(zstdDecode(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x00, (20 << 3) | 7, 0x05, 0x00), 1 << 20).error, 'window too large');
  // A frame made at the highest level, larger than the bound: the limit.
  const declared = zstd(['--ultra', '-22', `--stream-size=${3 << 20}`], new Uint8Array(3 << 20));
  assert.equal(zstdDecode(declared, 1 << 20).error, LIMIT);
});

test('zstd reader: one child named zstd, or nothing', { skip: SKIP }, () => {
  const data = new TextEncoder().encode('payload '.repeat(100));
  const items = [...scanZstd(zstd([], data), ctx(1 << 20))];
  assert.equal(items.length, 1);
  assert.ok(isChild(items[0]!) && items[0].name === 'zstd' && items[0].data.length === data.length);
  assert.deepEqual([...scanZstd(skippable(4), ctx(1 << 20))], []);
});
