import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { LIMIT } from './common.js';
import { lzma2Decode, lzma2DictSize, lzmaAloneDecode, lzmaDecode } from './lzma.js';
import { Prng } from '../../../test/helpers/prng.js';

const HAVE = spawnSync('xz', ['--version'], { stdio: 'ignore' }).status === 0;
const SKIP = HAVE ? false : 'xz is not installed';
const xz = (args: string[], data: Uint8Array): Uint8Array => spawnSync('xz', ['-c', ...args], { input: data, maxBuffer: 1 << 28 }).stdout;

function sample(rng: Prng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const len = Math.min(n - i, rng.int(1, 3000));
    const kind = rng.int(0, 2);
    if (kind === 0) out.set(rng.bytes(len), i);
    else if (kind === 1) out.fill(rng.int(0, 255), i, i + len);
    else out.set(out.subarray(Math.max(0, i - rng.int(1, 5000)), Math.max(0, i - rng.int(1, 5000)) + len).subarray(0, len), i);
    i += len;
  }
  return out;
}

test('lzma: .lzma files round trip at several sizes and settings', { skip: SKIP }, () => {
  const rng = new Prng('lzma-roundtrip');
  const settings = ['preset=0', 'preset=6', 'preset=1,lc=0,lp=2,pb=0', 'preset=2,lc=4,lp=0,pb=4', 'preset=3,dict=4KiB'];
  for (const [i, n] of [0, 1, 100, 5000, 300000, 1_600_000].entries()) {
    const data = sample(rng, n);
    const z = xz(['--format=lzma', `--lzma1=${settings[i % settings.length]!}`], data);
    const r = lzmaAloneDecode(z, 1 << 30);
    assert.equal(r.complete, true, `${n} bytes: ${r.error ?? ''}`);
    assert.deepEqual(Buffer.from(r.data), Buffer.from(data));
    // The same stream with its size known (the end marker after it is not needed).
    const k = lzmaDecode(z.subarray(0, 5), z.subarray(13), 1 << 30, n);
    assert.equal(k.complete, true);
    assert.equal(k.data.length, n);
  }
});

test('lzma2: raw streams round trip; dictionary sizes', { skip: SKIP }, () => {
  const rng = new Prng('lzma2-roundtrip');
  assert.equal(lzma2DictSize(0), 4096);
  assert.equal(lzma2DictSize(16), 1 << 20);
  assert.equal(lzma2DictSize(40), 0xffffffff);
  assert.equal(lzma2DictSize(41), undefined);
  for (const n of [0, 10, 70000, 2_500_000]) {
    const data = n === 70000 ? rng.bytes(n) : sample(rng, n); // random data: uncompressed chunks
    const z = xz(['--format=raw', '--lzma2=preset=1,dict=1MiB'], data);
    const r = lzma2Decode(16, z, 1 << 30);
    assert.equal(r.complete, true, `${n}: ${r.error ?? ''}`);
    assert.deepEqual(Buffer.from(r.data), Buffer.from(data));
  }
});

test('lzma: damage is reported, not thrown', { skip: SKIP }, () => {
  const data = new TextEncoder().encode('abcabcabd'.repeat(500));
  const z = xz(['--format=lzma'], data);
  assert.equal(lzmaDecode(Uint8Array.of(225, 0, 0, 1, 0), z.subarray(13), 100).error, 'bad properties');
  const bad = Buffer.from(z.subarray(13));
  bad[0] = 1;
  assert.equal(lzmaDecode(z.subarray(0, 5), bad, 1 << 20).error, 'bad range coder start');
  assert.equal(lzma2Decode(16, Uint8Array.of(0x02, 0x00, 0x00, 0x41, 0x00), 100).error, 'no dictionary reset');
  assert.equal(lzma2Decode(16, Uint8Array.of(0x05), 100).error, 'bad chunk');
  assert.equal(lzma2Decode(16, Uint8Array.of(0x01, 0x00, 0x02, 0x41, 0x42, 0x43, 0x00), 100).complete, true);
  assert.equal(lzma2Decode(41, Uint8Array.of(0x00), 100).error, 'bad dictionary size');
});

test('lzma/lzma2: truncation gives a prefix, at many points', { skip: SKIP }, () => {
  const rng = new Prng('lzma-trunc');
  const data = sample(rng, 200000);
  const a = xz(['--format=lzma', '--lzma1=preset=1'], data);
  const b = xz(['--format=raw', '--lzma2=preset=1,dict=1MiB'], data);
  for (let k = 0; k < 100; k++) {
    const ra = lzmaAloneDecode(a.subarray(0, rng.int(0, a.length - 1)), 1 << 20);
    assert.equal(ra.complete, false);
    assert.deepEqual(Buffer.from(ra.data), Buffer.from(data.subarray(0, ra.data.length)));
    const rb = lzma2Decode(16, b.subarray(0, rng.int(0, b.length - 1)), 1 << 20);
    assert.equal(rb.complete, false);
    assert.deepEqual(Buffer.from(rb.data), Buffer.from(data.subarray(0, rb.data.length)));
  }
});

test('lzma/lzma2: 400 random mutations never throw and stay bounded', { skip: SKIP }, () => {
  const rng = new Prng('lzma-mutate');
  const data = sample(rng, 30000);
  const a = xz(['--format=lzma', '--lzma1=preset=1'], data);
  const b = xz(['--format=raw', '--lzma2=preset=1,dict=1MiB'], data);
  const t0 = Date.now();
  for (let k = 0; k < 400; k++) {
    const src = k % 2 ? a : b;
    const m = Buffer.from(src);
    for (let j = rng.int(1, 4); j > 0; j--) m[rng.int(0, m.length - 1)] = rng.int(0, 255);
    const r = k % 2 ? lzmaAloneDecode(m, 100000) : lzma2Decode(16, m, 100000);
    assert.ok(r.data.length <= 100000);
  }
  assert.ok(Date.now() - t0 < 20000, 'bounded time');
});

/**
 * An LZMA2 stream of about 10 GB of zeros: the chunk xz makes first from zeros (pb=lp=lc=0, so
 * every chunk decodes alike), then the same chunk again and again with "state reset, no
 * dictionary reset".
 */
function lzma2ZeroBomb(copies: number): Uint8Array {
  const raw = xz(['--format=raw', '--lzma2=preset=0,pb=0,lp=0,lc=0,dict=1MiB'], new Uint8Array(2 << 20));
  assert.equal(raw[0]! & 0xe0, 0xe0, 'an LZMA chunk with a dictionary reset first');
  const packed = ((raw[3]! << 8) | raw[4]!) + 1;
  const first = raw.subarray(0, 6 + packed);
  const again = Buffer.concat([Buffer.from([0xa0 | (raw[0]! & 0x1f), raw[1]!, raw[2]!, raw[3]!, raw[4]!]), raw.subarray(6, 6 + packed)]);
  const parts: Uint8Array[] = [first];
  for (let k = 0; k < copies; k++) parts.push(again);
  parts.push(Uint8Array.of(0));
  return Buffer.concat(parts);
}

test('lzma2: a 10 GB bomb stops at the bound in well under 2 s', { skip: SKIP }, () => {
  const small = lzma2ZeroBomb(4);
  const ok = lzma2Decode(16, small, 1 << 30);
  assert.equal(ok.complete, true, ok.error);
  const chunk = ((small[0]! & 0x1f) << 16) + ((small[1]! << 8) | small[2]!) + 1;
  assert.equal(ok.data.length, 5 * chunk);
  assert.ok(ok.data.every((x) => x === 0));
  const bomb = lzma2ZeroBomb(5000); // 5001 chunks of 2 MiB less a few bytes: 10.5 GB
  const t0 = Date.now();
  const r = lzma2Decode(16, bomb, 8 << 20);
  const ms = Date.now() - t0;
  assert.equal(r.error, LIMIT);
  assert.equal(r.data.length, 8 << 20);
  assert.ok(ms < 2000, `${ms} ms`);
});

test('lzma: a stream declaring 10 GB stops at the bound in well under 2 s', { skip: SKIP }, () => {
  const z = Buffer.from(xz(['--format=lzma', '--lzma1=preset=0'], new Uint8Array(64 << 20)));
  z.writeUInt32LE(0x80000000, 5);
  z.writeUInt32LE(2, 9); // 10 GiB declared
  const t0 = Date.now();
  const r = lzmaAloneDecode(z, 8 << 20);
  const ms = Date.now() - t0;
  assert.equal(r.error, LIMIT);
  assert.equal(r.data.length, 8 << 20);
  assert.ok(ms < 2000, `${ms} ms`);
});
