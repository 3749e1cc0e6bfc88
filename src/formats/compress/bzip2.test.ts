import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { bunzip2, bunzip2Nsis, scanBzip2 } from './bzip2.js';
import { LIMIT } from './common.js';
import { DEFAULT_UNPACK_OPTIONS, isChild, isLimited, type UnpackItem } from '../unpack.js';
import { Prng } from '../../../test/helpers/prng.js';

const HAVE = spawnSync('bzip2', ['--help'], { stdio: 'ignore' }).status === 0;
const SKIP = HAVE ? false : 'bzip2 is not installed';
const bzip2 = (data: Uint8Array, level = 9): Uint8Array => spawnSync('bzip2', ['-c', `-${level}`], { input: data, maxBuffer: 1 << 28 }).stdout;
const ctx = (maxFileSize: number) => ({ limits: { maxFileSize, maxFiles: 0, maxScanSize: 0 }, options: { ...DEFAULT_UNPACK_OPTIONS } });

/** Text-like and random data mixed, `n` bytes. */
function sample(rng: Prng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const kind = rng.int(0, 2);
    const len = Math.min(n - i, rng.int(1, 4000));
    if (kind === 0) out.set(rng.bytes(len), i);
    else if (kind === 1) out.fill(rng.int(0, 255), i, i + len);
    else for (let k = 0; k < len; k++) out[i + k] = 0x61 + ((k * 7 + (k >> 3)) % 26);
    i += len;
  }
  return out;
}

test('bzip2: round trips with the bzip2 tool at several sizes and levels', { skip: SKIP }, () => {
  const rng = new Prng('bzip2-roundtrip');
  for (const [n, level] of [[0, 9], [1, 1], [4, 9], [100, 5], [5000, 1], [300000, 2], [1_600_000, 9]] as const) {
    const data = sample(rng, n);
    const r = bunzip2(bzip2(data, level), 1 << 30);
    assert.equal(r.complete, true, `${n} bytes at -${level}: ${r.error ?? ''}`);
    assert.deepEqual(Buffer.from(r.data), Buffer.from(data));
  }
});

test('bzip2: several streams; ClamAV reads the first only', { skip: SKIP }, () => {
  const a = new TextEncoder().encode('first stream '.repeat(100));
  const b = new TextEncoder().encode('second stream '.repeat(100));
  const both = Buffer.concat([bzip2(a), bzip2(b)]);
  assert.deepEqual(Buffer.from(bunzip2(both, 1 << 20).data), Buffer.concat([a, b]));
  const first = bunzip2(both, 1 << 20, { firstStreamOnly: true });
  assert.equal(first.complete, true);
  assert.deepEqual(Buffer.from(first.data), Buffer.from(a));
  // Appended bytes that are no stream end the reading; what came before is complete.
  const tail = bunzip2(Buffer.concat([bzip2(a), Buffer.from('garbage')]), 1 << 20);
  assert.equal(tail.complete, true);
  assert.equal(tail.data.length, a.length);
});

test('bzip2: not bzip2, bad level, damaged CRC', { skip: SKIP }, () => {
  assert.equal(bunzip2(new TextEncoder().encode('hello world'), 100).error, 'not bzip2');
  assert.equal(bunzip2(Uint8Array.of(0x42, 0x5a, 0x68, 0x30, 0, 0), 100).error, 'not bzip2');
  const data = new TextEncoder().encode('abcdefgh'.repeat(1000));
  const z = Buffer.from(bzip2(data));
  // The block CRC is the 4 bytes after the block magic (bytes 10..13).
  z[10]! ^= 0xff;
  const r = bunzip2(z, 1 << 20);
  assert.equal(r.complete, false);
  assert.equal(r.error, 'block crc');
  assert.equal(r.data.length, data.length, 'the block is still given');
});

test('bzip2: truncation at many points gives a prefix and never throws', { skip: SKIP }, () => {
  const rng = new Prng('bzip2-trunc');
  const data = sample(rng, 250000);
  const z = bzip2(data, 1); // 100k blocks: several of them
  for (let k = 0; k < 120; k++) {
    const cut = rng.int(0, z.length - 1);
    const r = bunzip2(z.subarray(0, cut), 1 << 20);
    assert.equal(r.complete, false, `cut at ${cut}`);
    assert.deepEqual(Buffer.from(r.data), Buffer.from(data.subarray(0, r.data.length)));
  }
});

test('bzip2: 400 random mutations never throw and stay bounded', { skip: SKIP }, () => {
  const rng = new Prng('bzip2-mutate');
  const data = sample(rng, 40000);
  const z = bzip2(data, 1);
  const t0 = Date.now();
  for (let k = 0; k < 400; k++) {
    const m = Buffer.from(z);
    for (let j = rng.int(1, 4); j > 0; j--) m[rng.int(0, m.length - 1)] = rng.int(0, 255);
    const r = bunzip2(m, 100000);
    assert.ok(r.data.length <= 100000);
  }
  assert.ok(Date.now() - t0 < 20000, 'bounded time');
});

/** Reads `n` bits at bit offset `at` (MSB first). */
function bitsAt(b: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 2 + ((b[(at + i) >> 3]! >> (7 - ((at + i) & 7))) & 1);
  return v;
}

/** A bit writer for building streams in tests. */
class BitWriter {
  bytes: number[] = [];
  private cur = 0;
  private n = 0;
  put(v: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) {
      this.cur = (this.cur << 1) | (Math.floor(v / 2 ** i) & 1);
      if (++this.n === 8) { this.bytes.push(this.cur); this.cur = 0; this.n = 0; }
    }
  }
  copyBits(src: Uint8Array, from: number, to: number): void {
    for (let i = from; i < to; i++) this.put((src[i >> 3]! >> (7 - (i & 7))) & 1, 1);
  }
  done(): Uint8Array {
    if (this.n > 0) this.put(0, 8 - this.n);
    return Uint8Array.from(this.bytes);
  }
}

/**
 * A bzip2 stream of `blocks` copies of the one block bzip2 makes from 4.5 MB of zeros, with the
 * combined CRC recomputed.
 */
function zeroBomb(blocks: number): Uint8Array {
  const one = bzip2(new Uint8Array(4_500_000), 9);
  // The end-of-stream mark, searched bit by bit from the end.
  let eos = -1;
  for (let at = one.length * 8 - 80; at >= 32; at--) {
    if (bitsAt(one, at, 24) === 0x177245 && bitsAt(one, at + 24, 24) === 0x385090) { eos = at; break; }
  }
  assert.ok(eos > 0);
  const blockCrc = bitsAt(one, 32 + 48, 32);
  const w = new BitWriter();
  for (const c of [0x42, 0x5a, 0x68, 0x39]) w.put(c, 8);
  let combined = 0;
  for (let k = 0; k < blocks; k++) {
    w.copyBits(one, 32, eos);
    combined = (((combined << 1) | (combined >>> 31)) ^ blockCrc) >>> 0;
  }
  w.put(0x177245, 24);
  w.put(0x385090, 24);
  w.put(combined, 32);
  return w.done();
}

test('bzip2: a 10 GB bomb stops at the bound in well under 2 s', { skip: SKIP }, () => {
  const small = zeroBomb(2);
  const ok = bunzip2(small, 1 << 30);
  assert.equal(ok.complete, true, 'the constructed stream is valid');
  assert.equal(ok.data.length, 9_000_000);
  const bomb = zeroBomb(2223); // 10.0 GB
  const t0 = Date.now();
  const r = bunzip2(bomb, 8 << 20);
  const ms = Date.now() - t0;
  assert.equal(r.error, LIMIT);
  assert.equal(r.data.length, 8 << 20);
  assert.ok(ms < 2000, `${ms} ms`);
  const items = [...scanBzip2(bomb, ctx(8 << 20))];
  assert.deepEqual(items, [{ name: 'bzip2', limit: 'MaxFileSize' }]);
});

test('bzip2: randomised blocks are derandomised', { skip: SKIP }, () => {
  // Data without runs of 4, so the only change the randomised flag makes is the XOR mask.
  const rng = new Prng('bzip2-rand');
  const data = new Uint8Array(3000);
  for (let i = 0; i < data.length; i++) data[i] = (i % 3) * 80 + rng.int(0, 3);
  const z = bzip2(data, 1);
  const flipped = Buffer.from(z);
  // The randomised bit follows the 48-bit magic and 32-bit CRC after 'BZh1' (bit 32 + 80).
  const bit = 32 + 80;
  flipped[bit >> 3]! |= 0x80 >> (bit & 7);
  const r = bunzip2(flipped, 1 << 20);
  assert.equal(r.error, 'block crc');
  // The format's table starts 619, 720, 127, 481, 931: masks at 617, then at those steps.
  const diff: number[] = [];
  for (let i = 0; i < data.length; i++) if (r.data[i] !== data[i]) diff.push(i);
  assert.deepEqual(diff, [617, 1337, 1464, 1945, 2876]);
  for (const i of diff) assert.equal(r.data[i]! ^ data[i]!, 1);
});

test('bzip2 reader: first stream, 8 KiB pieces on damage, MaxFileSize', { skip: SKIP }, () => {
  const rng = new Prng('bzip2-reader');
  const data = rng.bytes(150000); // two blocks at -1
  const z = bzip2(data, 1);
  const whole = [...scanBzip2(z, ctx(1 << 20))].filter(isChild);
  assert.equal(whole.length, 1);
  assert.deepEqual(Buffer.from(whole[0]!.data), Buffer.from(data));
  // Cut inside the second block: the first block's 100 000 bytes, less the partial 8 KiB piece.
  const cut = [...scanBzip2(z.subarray(0, Math.floor(z.length * 0.8)), ctx(1 << 20))].filter(isChild);
  assert.equal(cut.length, 1);
  assert.equal(cut[0]!.data.length % 8192, 0);
  assert.deepEqual(Buffer.from(cut[0]!.data), Buffer.from(data.subarray(0, cut[0]!.data.length)));
  const limited: UnpackItem[] = [...scanBzip2(z, ctx(50000))];
  assert.ok(limited.length === 1 && isLimited(limited[0]!));
  assert.deepEqual([...scanBzip2(new Uint8Array(10), ctx(100))], []);
});

test('bzip2: the NSIS variant (one-byte block and end marks, no CRCs)', { skip: SKIP }, () => {
  const rng = new Prng('bzip2-nsis');
  const data = sample(rng, 200000);
  const z = bzip2(data, 9);
  let eos = -1;
  for (let at = z.length * 8 - 80; at >= 32; at--) {
    if (bitsAt(z, at, 24) === 0x177245 && bitsAt(z, at + 24, 24) === 0x385090) { eos = at; break; }
  }
  const w = new BitWriter();
  w.put(0x31, 8);
  w.copyBits(z, 32 + 48 + 32 + 1, eos); // the block after its magic, CRC and randomised bit
  w.put(0x17, 8);
  const nsis = w.done();
  const r = bunzip2Nsis(nsis, 1 << 20);
  assert.equal(r.complete, true, r.error);
  assert.deepEqual(Buffer.from(r.data), Buffer.from(data));
  assert.equal(bunzip2Nsis(nsis.subarray(0, nsis.length >> 1), 1 << 20).complete, false);
  assert.equal(bunzip2Nsis(nsis, 1000).error, LIMIT);
  assert.equal(bunzip2Nsis(Uint8Array.of(0x42), 1000).error, 'bad block magic');
});

test('bzip2 reader: MaxFileSize is met at the 8 KiB piece that passes it, not before damage', { skip: SKIP }, () => {
  const rng = new Prng('bzip2-limit');
  const data = rng.bytes(150000); // blocks of 100 000 and 50 000 bytes at -1
  const z = bzip2(data, 1);
  // The first block (100 000 bytes) decodes, then damage: ClamAV wrote 12 pieces (98 304 bytes).
  const cut = z.subarray(0, Math.floor(z.length * 0.8));
  const under = [...scanBzip2(cut, ctx(100000))];
  assert.ok(under.length === 1 && isChild(under[0]!) && under[0].data.length === 98304, 'the limit falls inside the 13th piece, never filled');
  const over = [...scanBzip2(cut, ctx(90000))];
  assert.ok(over.length === 1 && isLimited(over[0]!), 'the 12th piece passes the limit');
});
