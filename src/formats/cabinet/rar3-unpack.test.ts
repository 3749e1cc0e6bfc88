import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRar3Unpacker } from './rar3-unpack.js';
import { encodeRar15Stream, encodeRar20Stream, encodeRar3Archive, type Rar3EncodeFile, type Rar3EncodeOptions } from './rar3-encode.js';
import { executeFilter, FLT_AUDIO, FLT_DELTA, FLT_E8, FLT_E8E9, FLT_ITANIUM, FLT_NONE, FLT_RGB, recogniseFilter, VM_MEMSIZE } from './rar3-filters.js';

/** xorshift32 */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

const WORDS = ['the', 'virus', 'scanner', 'archive', 'RAR', 'window', 'match', 'literal', 'Huffman', 'table', 'block', 'filter', 'solid', '\n', ', ', '. '];

/** Seeded inputs of several kinds. */
function sample(seed: number, kind: number, size: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(size);
  switch (kind % 6) {
    case 0: { // text
      let p = 0;
      while (p < size) {
        const w = Buffer.from(WORDS[Math.floor(r() * WORDS.length)]! + ' ');
        for (let i = 0; i < w.length && p < size; i++) out[p++] = w[i]!;
      }
      break;
    }
    case 1: // random binary
      for (let i = 0; i < size; i++) out[i] = Math.floor(r() * 256);
      break;
    case 2: { // runs
      let p = 0;
      while (p < size) {
        const v = Math.floor(r() * 256), n = 1 + Math.floor(r() * 300);
        for (let i = 0; i < n && p < size; i++) out[p++] = v;
      }
      break;
    }
    case 3: { // long repeats at far distances
      const chunk = new Uint8Array(2000).map(() => Math.floor(r() * 256));
      let p = 0;
      while (p < size) {
        if (r() < 0.3) { out[p++] = Math.floor(r() * 256); continue; }
        const off = Math.floor(r() * 1500), n = Math.min(size - p, 1 + Math.floor(r() * 400));
        for (let i = 0; i < n; i++) out[p + i] = chunk[(off + i) % chunk.length]!;
        p += n;
      }
      break;
    }
    case 4: { // x86-like: E8/E9 calls among small numbers
      for (let i = 0; i < size; i++) out[i] = r() < 0.05 ? (r() < 0.5 ? 0xe8 : 0xe9) : Math.floor(r() * 16);
      break;
    }
    default: { // 16-bit stereo-like samples (for DELTA)
      let a = 0, b = 0;
      for (let i = 0; i + 3 < size; i += 4) {
        a += Math.floor(r() * 9) - 4; b += Math.floor(r() * 5) - 2;
        out[i] = a & 0xff; out[i + 1] = (a >> 8) & 0xff; out[i + 2] = b & 0xff; out[i + 3] = (b >> 8) & 0xff;
      }
    }
  }
  return out;
}

const hasBsdtar = spawnSync('bsdtar', ['--version']).status === 0;

function bsdtarExtract(archive: Uint8Array): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'rar3-'));
  try {
    const f = join(dir, 'a.rar');
    writeFileSync(f, archive);
    return execFileSync('bsdtar', ['-xOf', f], { maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function decodeAll(files: Rar3EncodeFile[], opts: Rar3EncodeOptions): void {
  const enc = encodeRar3Archive(files, opts);
  const u = createRar3Unpacker();
  enc.entries.forEach((e, i) => {
    const r = u.unpack(29, e.packed, e.unpackedSize, e.solid, e.dictSize, 1 << 30);
    assert.equal(r.error, undefined, `${e.name}: ${r.error}`);
    assert.ok(r.ok, e.name);
    assert.ok(Buffer.from(r.data).equals(Buffer.from(files[i]!.data)), `${e.name} differs`);
  });
}

test('method 2.9 archives from the test encoder: bsdtar extracts the input, the decoder too', (t) => {
  if (!hasBsdtar) { t.skip('bsdtar (libarchive-tools) not installed'); return; }
  let checked = 0;
  for (let seed = 1; seed <= 24; seed++) {
    const r = rng(seed * 7);
    const files: Rar3EncodeFile[] = [];
    const n = 1 + (seed % 3);
    for (let i = 0; i < n; i++) {
      const kind = (seed + i) % 6;
      const size = Math.floor(r() * (seed % 4 === 0 ? 150000 : 20000));
      const f: Rar3EncodeFile = { name: `f${seed}_${i}.bin`, data: sample(seed * 100 + i, kind, size) };
      if (kind === 4 && r() < 0.8) f.filter = 'e8e9';
      if (kind === 5 && r() < 0.8) { f.filter = 'delta'; f.deltaChannels = 1 + Math.floor(r() * 4); }
      files.push(f);
    }
    const opts: Rar3EncodeOptions = { seed, blockTokens: 200 + Math.floor(r() * 3000), dictIndex: seed % 7, maxChain: 4 + (seed % 16), filterChunk: 0x1000 << (seed % 4) };
    const enc = encodeRar3Archive(files, opts);
    const out = bsdtarExtract(enc.archive);
    assert.ok(out.equals(Buffer.concat(files.map((f) => f.data))), `seed ${seed}: bsdtar output differs`);
    decodeAll(files, opts);
    checked += files.length;
  }
  assert.ok(checked >= 40);
});

test('solid series: window, tables and filters carry across entries', () => {
  for (let seed = 1; seed <= 12; seed++) {
    const r = rng(seed * 13);
    const files: Rar3EncodeFile[] = [];
    const base = sample(seed, seed % 6, 8000);
    for (let i = 0; i < 5; i++) {
      // Later files repeat parts of earlier ones, so matches reach back across entries.
      const own = sample(seed * 10 + i, (seed + i) % 6, Math.floor(r() * 12000));
      const data = new Uint8Array(own.length + base.length);
      data.set(own); data.set(base, own.length);
      const f: Rar3EncodeFile = { name: `s${i}`, data };
      if (i % 2 === 1) f.filter = r() < 0.5 ? 'e8e9' : 'delta';
      files.push(f);
    }
    files.push({ name: 'empty', data: new Uint8Array(0) });
    files.push({ name: 'again', data: base });
    decodeAll(files, { solid: true, seed, blockTokens: 500 + Math.floor(r() * 2000), dictIndex: 2 });
  }
});

test('solid entries depend on the previous entry: decoding one alone fails', () => {
  const base = sample(5, 1, 30000);
  const enc = encodeRar3Archive([{ name: 'a', data: base }, { name: 'b', data: base }], { solid: true, seed: 3 });
  const second = enc.entries[1]!;
  assert.ok(second.packed.length < 1500, `the second entry is coded as matches into the first (${second.packed.length} bytes)`);
  const u = createRar3Unpacker();
  const r = u.unpack(29, second.packed, second.unpackedSize, true, second.dictSize, 1 << 30);
  assert.ok(!Buffer.from(r.data).equals(Buffer.from(base)));
});

test('a skipped solid entry is decoded without output, and the next one still decodes', () => {
  const a = sample(8, 1, 20000), b = sample(9, 0, 20000);
  const both = new Uint8Array(40000); both.set(b); both.set(a, 20000);
  const enc = encodeRar3Archive([{ name: 'a', data: a }, { name: 'b', data: both }], { solid: true, seed: 5 });
  const u = createRar3Unpacker();
  const [ea, eb] = enc.entries as [typeof enc.entries[0], typeof enc.entries[0]];
  const skipped = u.unpack(29, ea.packed, ea.unpackedSize, false, ea.dictSize, 10, true);
  assert.equal(skipped.ok, true);
  assert.equal(skipped.data.length, 0);
  const r = u.unpack(29, eb.packed, eb.unpackedSize, true, eb.dictSize, 1 << 20);
  assert.ok(r.ok && Buffer.from(r.data).equals(Buffer.from(both)));
});

test('method 2.0: LZ blocks and multimedia (audio) blocks of 1..4 channels', () => {
  for (let seed = 1; seed <= 16; seed++) {
    const data = sample(seed, seed % 6, 3000 + seed * 2500);
    const channels = seed % 5;
    const packed = encodeRar20Stream(data, { seed, blockTokens: 300 + seed * 97, audioChannels: channels });
    for (const version of [20, 26]) {
      const r = createRar3Unpacker().unpack(version, packed, data.length, false, 0x400000, 1 << 24);
      assert.equal(r.error, undefined, `seed ${seed}`);
      assert.ok(r.ok && Buffer.from(r.data).equals(Buffer.from(data)), `seed ${seed} (${channels} channels) differs`);
    }
  }
});

test('method 1.5: flag-coded literals, run mode, short, repeated and long matches', () => {
  for (let seed = 1; seed <= 12; seed++) {
    const data = sample(seed, [0, 1, 2, 3][seed % 4]!, 1000 + seed * 1500);
    const packed = encodeRar15Stream(data, seed);
    const r = createRar3Unpacker().unpack(15, packed, data.length, false, 0x10000, 1 << 24);
    assert.equal(r.error, undefined, `seed ${seed}`);
    assert.ok(r.ok && Buffer.from(r.data).equals(Buffer.from(data)), `seed ${seed} differs`);
  }
});

test('versions 1.5 and 2.0 write a last match whole, past the unpacked size (as RAR does); 2.9 stops there', () => {
  const data = new Uint8Array(Buffer.from('abcdefgh'.repeat(40)));
  const p20 = encodeRar20Stream(data, { seed: 1 });
  const r20 = createRar3Unpacker().unpack(20, p20, data.length - 5, false, 0x10000, 1 << 20);
  assert.equal(r20.ok, false);
  assert.equal(r20.error, 'more data than the unpacked size');
  assert.ok(Buffer.from(r20.data).equals(Buffer.from(data)));
  const e29 = encodeRar3Archive([{ name: 'x', data }], { seed: 1 }).entries[0]!;
  const r29 = createRar3Unpacker().unpack(29, e29.packed, data.length - 5, false, e29.dictSize, 1 << 20);
  assert.equal(r29.ok, true);
  assert.ok(Buffer.from(r29.data).equals(Buffer.from(data.subarray(0, data.length - 5))));
});

test('window wrap: data longer than the window with a small dictionary', () => {
  const data = new Uint8Array(700000);
  data.set(sample(1, 0, 350000));
  data.set(sample(2, 3, 350000), 350000);
  decodeAll([{ name: 'big', data }], { seed: 9, dictIndex: 0, blockTokens: 20000 });
});

test('filter blocks across the end of a small window', (t) => {
  const r = rng(9);
  const data = new Uint8Array(600000).map((_, i) => (r() < 0.05 ? 0xe8 : (i >> 9) & 0x1f));
  for (const [filter, chunk] of [['e8e9', 0x3000], ['delta', 0x5000], ['e8e9', 0x3c000], ['delta', 0x20000]] as const) {
    const files: Rar3EncodeFile[] = [{ name: 'w', data, filter, deltaChannels: 3 }];
    const opts: Rar3EncodeOptions = { seed: 3, dictIndex: 0, filterChunk: chunk, blockTokens: 30000 };
    decodeAll(files, opts);
    // (The installed bsdtar mis-handles 128 KiB DELTA blocks in a 256 KiB window; the others it reads.)
    if (hasBsdtar && chunk !== 0x20000) assert.ok(bsdtarExtract(encodeRar3Archive(files, opts).archive).equals(Buffer.from(data)));
    else if (!hasBsdtar) t.diagnostic('bsdtar not installed: archives not cross-checked');
  }
});

test('a filter program that is not a standard filter drops its blocks, as UnRAR 5+ does', () => {
  const data = sample(4, 0, 10000);
  const enc = encodeRar3Archive([{ name: 'u', data, filter: 'unknown' }], { seed: 2, filterChunk: 0x1000 });
  const e = enc.entries[0]!;
  const r = createRar3Unpacker().unpack(29, e.packed, e.unpackedSize, false, e.dictSize, 1 << 30);
  assert.equal(r.ok, false);
  // Every 4 KiB chunk is filtered by the unknown program: nothing is written.
  assert.equal(r.data.length, 0);
});

test('standard filters: E8 and E8E9 translate call targets, DELTA de-interleaves channels', () => {
  const mem = new Uint8Array(VM_MEMSIZE + 4);
  // A call at offset 0 to absolute 0x1005 in a block at file offset 0x100: relative is 0x1005 - (1 + 0x100).
  mem.set([0xe8, 0x05, 0x10, 0x00, 0x00, 0x90, 0x90, 0x90, 0x90], 0);
  const r = new Uint32Array(7);
  r[4] = 9; r[6] = 0x100;
  let res = executeFilter(FLT_E8, mem, r);
  assert.deepEqual({ ...res }, { offset: 0, size: 9 });
  assert.equal(mem[1]! | (mem[2]! << 8), 0x1005 - 0x101);
  mem.set([0xe9, 0x05, 0x10, 0x00, 0x00, 0x90, 0x90, 0x90, 0x90], 0);
  executeFilter(FLT_E8, mem, r);
  assert.equal(mem[1], 0x05, 'E8 leaves E9 alone');
  executeFilter(FLT_E8E9, mem, r);
  assert.equal(mem[1]! | (mem[2]! << 8), 0x1005 - 0x101);
  // DELTA, 2 channels: grouped deltas → interleaved bytes after the block.
  mem.set([0xff, 0xff, 0xfe, 0xfe], 0);
  r.fill(0); r[0] = 2; r[4] = 4;
  res = executeFilter(FLT_DELTA, mem, r);
  assert.deepEqual({ ...res }, { offset: 4, size: 4 });
  assert.deepEqual([...mem.subarray(4, 8)], [1, 2, 2, 4]);
  // Out-of-range parameters: the block stays as it was.
  r[0] = 0;
  res = executeFilter(FLT_DELTA, mem, r);
  assert.equal(res.offset, 0);
});

test('RGB, AUDIO and ITANIUM filters undo their forward transforms', () => {
  const r = rng(77);
  const mem = new Uint8Array(VM_MEMSIZE + 4);
  // RGB: 3 bytes per pixel, rows of `width` bytes; R and B were stored minus G, then each channel
  // predicted (Paeth-like) from its left, upper and upper-left neighbours.
  {
    const width = 3 * 20, size = width * 15, posR = 1;
    const orig = new Uint8Array(size).map((_, i) => (Math.floor(i / width) * 3 + (i % width) + Math.floor(r() * 4)) & 0xff);
    const t = orig.slice();
    for (let i = posR; i < size - 2; i += 3) { t[i] = (orig[i]! - orig[i + 1]!) & 0xff; t[i + 2] = (orig[i + 2]! - orig[i + 1]!) & 0xff; }
    let k = 0;
    for (let c = 0; c < 3; c++) {
      let prev = 0;
      for (let i = c; i < size; i += 3) {
        let pred = prev;
        if (i >= width + 3) {
          const up = t[i - width]!, ul = t[i - width - 3]!;
          const p = prev + up - ul;
          const pa = Math.abs(p - prev), pb = Math.abs(p - up), pc = Math.abs(p - ul);
          pred = pa <= pb && pa <= pc ? prev : pb <= pc ? up : ul;
        }
        mem[k++] = (pred - t[i]!) & 0xff;
        prev = t[i]!;
      }
    }
    const regs = new Uint32Array(7);
    regs[0] = width + 3; regs[1] = posR; regs[4] = size;
    const res = executeFilter(FLT_RGB, mem, regs);
    assert.deepEqual({ ...res }, { offset: size, size });
    assert.deepEqual([...mem.subarray(size, 2 * size)], [...orig]);
  }
  // AUDIO: per channel, an adaptive linear predictor; the stored byte is prediction minus sample.
  {
    const channels = 2, size = 4000;
    const orig = new Uint8Array(size).map((_, i) => (Math.round(60 * Math.sin(i / (7 + (i % channels)))) + Math.floor(r() * 3)) & 0xff);
    let k = 0;
    for (let c = 0; c < channels; c++) {
      let prevByte = 0, prevDelta = 0, d1 = 0, d2 = 0, d3 = 0;
      const kk = [0, 0, 0];
      const dif = new Array<number>(7).fill(0);
      for (let i = c, n = 0; i < size; i += channels, n++) {
        d3 = d2; d2 = prevDelta - d1; d1 = prevDelta;
        const pred = ((8 * prevByte + kk[0]! * d1 + kk[1]! * d2 + kk[2]! * d3) >>> 3) & 0xff;
        const cur = (pred - orig[i]!) & 0xff;
        mem[k++] = cur;
        prevDelta = ((orig[i]! - prevByte) << 24) >> 24;
        prevByte = orig[i]!;
        const d = ((cur << 24) >> 24) * 8;
        [d, d - d1, d + d1, d - d2, d + d2, d - d3, d + d3].forEach((v, j) => { dif[j]! += Math.abs(v); });
        if ((n & 0x1f) === 0) {
          let min = dif[0]!, num = 0;
          for (let j = 1; j < 7; j++) if (dif[j]! < min) { min = dif[j]!; num = j; }
          dif.fill(0);
          if (num > 0) { const q = (num - 1) >> 1; if (num & 1) { if (kk[q]! >= -16) kk[q]!--; } else if (kk[q]! < 16) kk[q]!++; }
        }
      }
    }
    const regs = new Uint32Array(7);
    regs[0] = channels; regs[4] = size;
    const res = executeFilter(FLT_AUDIO, mem, regs);
    assert.equal(res.offset, size);
    assert.deepEqual([...mem.subarray(size, 2 * size)], [...orig]);
  }
  // ITANIUM: in a bundle with template 0x10, slot 2's branch target (opcode 5) is made relative.
  {
    mem.fill(0, 0, 64);
    mem[0] = 0x10; // template 0x10: mask 4 (slot 2 only)
    const start = 2 * 41 + 5;
    const setBits = (v: number, pos: number, n: number): void => {
      for (let b = 0; b < n; b++) {
        const bit = (v >>> b) & 1, at = pos + b;
        mem[at >> 3] = (mem[at >> 3]! & ~(1 << (at & 7))) | (bit << (at & 7));
      }
    };
    const getBits = (pos: number, n: number): number => {
      let v = 0;
      for (let b = 0; b < n; b++) v |= ((mem[(pos + b) >> 3]! >> ((pos + b) & 7)) & 1) << b;
      return v >>> 0;
    };
    setBits(5, start + 37, 4);
    setBits(0x12345, start + 13, 20);
    const regs = new Uint32Array(7);
    regs[4] = 48; regs[6] = 0x300; // file offset 0x300: bundle number 0x30
    executeFilter(FLT_ITANIUM, mem, regs);
    assert.equal(getBits(start + 13, 20), (0x12345 - 0x30) & 0xfffff);
    assert.equal(getBits(start + 37, 4), 5);
  }
  // Programs are recognised by checksum, CRC and length only.
  assert.equal(recogniseFilter(new Uint8Array([0])), FLT_NONE);
  assert.equal(recogniseFilter(new Uint8Array([1, 1])), FLT_NONE);
});

test('maxOut bounds a bomb: output stops there, ok false', () => {
  const data = new Uint8Array(3_000_000);
  const enc = encodeRar3Archive([{ name: 'z', data }], { seed: 1 });
  const e = enc.entries[0]!;
  assert.ok(e.packed.length < 100000);
  const r = createRar3Unpacker().unpack(29, e.packed, e.unpackedSize, false, e.dictSize, 100000);
  assert.equal(r.ok, false);
  assert.equal(r.data.length, 100000);
  assert.ok(r.data.every((b) => b === 0));
  // A header claiming more than the stream holds is cut at maxOut too.
  const r2 = createRar3Unpacker().unpack(29, e.packed, 0xffffffff * 4, false, e.dictSize, 50000);
  assert.equal(r2.data.length, 50000);
  assert.equal(r2.ok, false);
});

test('truncated streams: no throw, bounded, a correct prefix', () => {
  const data = sample(3, 0, 40000);
  const enc = encodeRar3Archive([{ name: 'x', data, filter: 'e8e9' }], { seed: 4, blockTokens: 700 });
  const e = enc.entries[0]!;
  for (let cut = 0; cut < e.packed.length; cut += Math.max(1, Math.floor(e.packed.length / 150))) {
    const r = createRar3Unpacker().unpack(29, e.packed.subarray(0, cut), e.unpackedSize, false, e.dictSize, 1 << 20);
    // Only the end-of-file mark may be cut off without losing data.
    if (r.ok) assert.ok(cut > e.packed.length - 4 && Buffer.from(r.data).equals(Buffer.from(data)), `cut ${cut}`);
    assert.ok(r.data.length <= data.length);
    const good = Math.max(0, r.data.length - 0x10000);
    assert.ok(Buffer.from(r.data.subarray(0, good)).equals(Buffer.from(data.subarray(0, good))), `cut ${cut}: prefix`);
  }
});

test('mutated streams of every version: no throw, bounded time and output', () => {
  const data = sample(6, 3, 30000);
  const enc = encodeRar3Archive([{ name: 'm', data, filter: 'delta' }, { name: 'n', data: sample(7, 0, 20000) }], { seed: 6, solid: true, blockTokens: 900 });
  const r = rng(99);
  const started = Date.now();
  for (let iter = 0; iter < 300; iter++) {
    const e = enc.entries[iter % 2]!;
    const p = e.packed.slice();
    const flips = 1 + Math.floor(r() * 6);
    for (let k = 0; k < flips; k++) p[Math.floor(r() * p.length)] = Math.floor(r() * 256);
    const version = [29, 29, 29, 20, 26, 15, 36][iter % 7]!;
    const maxOut = iter % 3 === 0 ? 5000 : 1 << 20;
    const u = createRar3Unpacker();
    const t0 = Date.now();
    const res = u.unpack(version, p, e.unpackedSize + (iter % 5) * 1000, false, e.dictSize, maxOut);
    assert.ok(res.data.length <= maxOut);
    assert.ok(Date.now() - t0 < 5000, `iteration ${iter} too slow`);
    // A second entry continuing the damaged state must not throw either.
    const res2 = u.unpack(version, enc.entries[1]!.packed, 20000, true, e.dictSize, maxOut);
    assert.ok(res2.data.length <= maxOut);
  }
  // Random bytes as every version.
  for (let iter = 0; iter < 200; iter++) {
    const p = new Uint8Array(1 + Math.floor(r() * 3000)).map(() => Math.floor(r() * 256));
    const version = [15, 20, 26, 29, 36][iter % 5]!;
    const res = createRar3Unpacker().unpack(version, p, Math.floor(r() * 200000), iter % 2 === 1, 0x10000 << (iter % 7), 100000);
    assert.ok(res.data.length <= 100000);
  }
  assert.ok(Date.now() - started < 60000);
});

test('unknown unpack version: nothing, ok false', () => {
  const r = createRar3Unpacker().unpack(50, new Uint8Array(10), 5, false, 0x10000, 100);
  assert.equal(r.ok, false);
  assert.equal(r.data.length, 0);
  const empty = createRar3Unpacker().unpack(29, new Uint8Array(0), 0, false, 0x10000, 100);
  assert.equal(empty.data.length, 0);
});
