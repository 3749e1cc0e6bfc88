/**
 * Tests for the MS-SZDD reader. No packer for the format is installed, so the archives are made
 * by a small LZSS encoder here, with `compress.exe`'s layout (4096-byte window starting at 4080,
 * flag bytes with a set bit for a literal, 12-bit position + 4-bit length - 3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { szddMembers } from './szdd.js';
import { szdd } from './szdd-encode.js';
import { fuzz, fuzzContext, rng } from './fuzz-check.js';
import { isChild, isLimited, type UnpackItem } from '../unpack.js';

const ctx = fuzzContext();
const one = (items: UnpackItem[]): Uint8Array => {
  assert.equal(items.length, 1);
  const c = items[0]!;
  assert.ok(isChild(c));
  return c.data;
};

function sample(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const words = ['kestrel', 'plover', 'merlin', 'osprey', ' ', '\n', 'curlew'];
  const parts: string[] = [];
  let len = 0;
  while (len < n) { const w = words[Math.floor(r() * words.length)]!; parts.push(w); len += w.length; }
  return Buffer.from(parts.join('').slice(0, n), 'latin1');
}

test('szdd: encoded files expand to their data', () => {
  for (const n of [0, 1, 17, 2047, 2048, 2049, 10000, 70000]) {
    const data = sample(n, n + 1);
    const got = one([...szddMembers(szdd(data), ctx)]);
    assert.deepEqual(Buffer.from(got), Buffer.from(data), `${n} bytes`);
  }
});

test('szdd: output stops at the first 2048-byte block reaching the declared size', () => {
  const data = sample(9000, 5);
  // Declared 100: one block of 2048 is written.
  assert.equal(one([...szddMembers(szdd(data, { declared: 100 }), ctx)]).length, 2048);
  assert.equal(one([...szddMembers(szdd(data, { declared: 4097 }), ctx)]).length, 6144);
  // Declared larger than the data: all of it.
  assert.equal(one([...szddMembers(szdd(data, { declared: 50000 }), ctx)]).length, 9000);
});

test('szdd: a cut file keeps what it expanded; the initial window reads as zeros', () => {
  const data = sample(5000, 9);
  const file = szdd(data);
  const got = one([...szddMembers(file.subarray(0, file.length >> 1), ctx)]);
  assert.ok(got.length > 0 && got.length < 5000);
  assert.deepEqual(Buffer.from(got), Buffer.from(data.subarray(0, got.length)));
  // A back-reference into the untouched window at the start: ClamAV's window starts zero-filled.
  const raw = Uint8Array.from([0x53, 0x5a, 0x44, 0x44, 0x88, 0xf0, 0x27, 0x33, 0x41, 0, 8, 0, 0, 0, 0x00, 0x00, 0x05]);
  assert.deepEqual([...one([...szddMembers(raw, ctx)])], [0, 0, 0, 0, 0, 0, 0, 0]);
});

test('szdd: a missing-character byte other than 0, or another mode, is not read', () => {
  const data = sample(300, 3);
  assert.equal([...szddMembers(szdd(data, { missing: 0x45 }), ctx)].length, 0);
  const b = szdd(data);
  b[8] = 0x42;
  assert.equal([...szddMembers(b, ctx)].length, 0);
  assert.equal([...szddMembers(b.subarray(0, 13), ctx)].length, 0);
});

test('szdd: a declared size over the file-size limit is reported, not expanded', () => {
  const items = [...szddMembers(szdd(sample(100, 4), { declared: 5_000_000 }), fuzzContext(1_000_000))];
  assert.equal(items.length, 1);
  assert.ok(isLimited(items[0]!) && items[0].limit === 'MaxFileSize');
});

test('szdd: a bomb is bounded by the declared size', () => {
  // Every item a match of 18 bytes: 8 items per 17 input bytes.
  const body: number[] = [];
  body.push(0x01, 0x41); // one literal
  for (let k = 0; k < 20000; k++) body.push(0x00, ...Array(8).fill([0xf0, 0xff]).flat());
  const b = Uint8Array.from([0x53, 0x5a, 0x44, 0x44, 0x88, 0xf0, 0x27, 0x33, 0x41, 0, 0x00, 0x00, 0x01, 0x00, ...body]);
  assert.equal(one([...szddMembers(b, ctx)]).length, 65536);
});

test('szdd: truncation at every point and 320 random mutations neither throw nor hang', () => {
  const runs = fuzz(szddMembers, szdd(sample(3000, 11)), 4242) + fuzz(szddMembers, szdd(sample(200, 12), { declared: 10 }), 4343);
  assert.ok(runs > 600);
});
