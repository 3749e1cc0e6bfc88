import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../../test/helpers/prng.js';
import { create7zRangeDecoder, createRarRangeDecoder, Ppmd7, ppmd7Decode7z, PPMD7_MAX_MEMORY } from './ppmd7.js';

const SEVEN = ['7zz', '7z', '7za'].find((t) => spawnSync(t, ['i'], { stdio: 'ignore' }).status === 0);
const SKIP = SEVEN ? false : '7-Zip (7zz) is not installed';

/** Text with a vocabulary, runs, and random and structured binary stretches. */
function mixed(rng: Prng, n: number): Uint8Array {
  const words = ['virus', 'signature', 'the', 'scanner', 'archive', 'PPMd', 'model', 'context', '\n', 'of', 'and', 'zero', ' '];
  const out = new Uint8Array(n);
  for (let i = 0; i < n;) {
    const kind = rng.int(0, 9);
    const len = Math.min(n - i, rng.int(1, 3000));
    if (kind <= 5) {
      let k = 0;
      while (k < len) {
        const w = words[rng.int(0, words.length - 1)]!;
        for (let j = 0; j < w.length && k < len; j++) out[i + k++] = w.charCodeAt(j);
        if (k < len) out[i + k++] = 0x20;
      }
    } else if (kind === 6) out.set(rng.bytes(len), i);
    else if (kind === 7) out.fill(rng.int(0, 255), i, i + len);
    else for (let k = 0; k < len; k++) out[i + k] = (k * 7 + (k >> 3)) & 0xff;
    i += len;
  }
  return out;
}

interface PpmdStream { stream: Uint8Array; props: Uint8Array; size: number }

/** Compresses `data` with 7-Zip's PPMd coder and returns the raw coder stream and properties. */
function ppmd7z(data: Uint8Array, method: string): PpmdStream {
  const work = mkdtempSync(join(tmpdir(), 'vigil-ppmd-'));
  try {
    writeFileSync(join(work, 'f'), data);
    const r = spawnSync(SEVEN!, ['a', '-bd', '-bso0', '-bsp0', '-mhc=off', `-m0=${method}`, join(work, 'a.7z'), 'f'], { cwd: work });
    assert.equal(r.status, 0, String(r.stderr));
    const a = readFileSync(join(work, 'a.7z'));
    // One file, one folder: its pack stream starts after the signature header and ends at the
    // (plain) header; the coder is 23 03 04 01 05 <order> <mem LE32>.
    const nextOff = a.readUInt32LE(12);
    const header = a.subarray(32 + nextOff);
    const at = header.indexOf(Buffer.from([0x23, 0x03, 0x04, 0x01, 0x05]));
    assert.ok(at >= 0, 'PPMd coder in the header');
    // Plain Uint8Array copies (a Buffer's slice() would share memory).
    return { stream: new Uint8Array(a.subarray(32, 32 + nextOff)), props: new Uint8Array(header.subarray(at + 5, at + 10)), size: data.length };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

test('7-Zip PPMd streams of every order and several model sizes decode exactly', { skip: SKIP }, () => {
  const rng = new Prng(7);
  const data = mixed(rng, 150_000);
  for (const [o, mem] of [[2, '1m'], [3, '64k'], [4, '256k'], [6, '16m'], [8, '2m'], [16, '1m'], [24, '64k'], [32, '4m']] as const) {
    const s = ppmd7z(data, `PPMd:mem=${mem}:o=${o}`);
    assert.equal(s.props[0], o);
    const r = ppmd7Decode7z(s.stream, s.props, s.size);
    assert.equal(r.error, undefined, `o=${o} mem=${mem}`);
    assert.ok(r.ok && same(r.data, data), `o=${o} mem=${mem}`);
  }
});

test('a small model over a large input restarts many times and still decodes exactly', { skip: SKIP }, () => {
  const rng = new Prng(11);
  const data = mixed(rng, 8 << 20);
  const s = ppmd7z(data, 'PPMd:mem=1m:o=8');
  const r = ppmd7Decode7z(s.stream, s.props, s.size);
  assert.ok(r.ok, r.error);
  assert.ok(same(r.data, data));
});

test('truncated streams fail cleanly with an exact prefix of the data', { skip: SKIP }, () => {
  const rng = new Prng(3);
  const data = mixed(rng, 40_000);
  const s = ppmd7z(data, 'PPMd:mem=64k:o=6');
  const t0 = Date.now();
  let partial = 0;
  for (let cut = 0; cut < s.stream.length; cut += Math.max(1, Math.floor(s.stream.length / 97))) {
    const r = ppmd7Decode7z(s.stream.subarray(0, cut), s.props, s.size);
    assert.equal(r.ok, false);
    assert.ok(r.data.length < s.size);
    assert.ok(same(r.data, data.subarray(0, r.data.length)), `cut ${cut}`);
    if (r.data.length > 0) partial++;
  }
  assert.ok(partial > 50, 'most cuts keep what came before them');
  assert.ok(Date.now() - t0 < 30_000);
});

test('the stream must use exactly its pack size (7-Zip reads on past it, and fails)', { skip: SKIP }, () => {
  const data = mixed(new Prng(5), 20_000);
  const s = ppmd7z(data, 'PPMd:mem=1m:o=6');
  const longer = new Uint8Array(s.stream.length + 10);
  longer.set(s.stream);
  // Followed by other bytes of the file: fine when the pack size is right.
  const r1 = ppmd7Decode7z(longer, s.props, s.size, s.stream.length);
  assert.ok(r1.ok && same(r1.data, data));
  // A pack size larger than what the coder uses: all the data, but an error.
  const r2 = ppmd7Decode7z(longer, s.props, s.size, s.stream.length + 3);
  assert.equal(r2.ok, false);
  assert.ok(same(r2.data, data));
  // A pack size smaller than what the coder uses: same, the coder read on past it.
  const r3 = ppmd7Decode7z(longer, s.props, s.size, s.stream.length - 3);
  assert.equal(r3.ok, false);
  assert.ok(same(r3.data, data));
  // Asking for fewer bytes than were coded leaves bytes unused: an error with that prefix.
  const r4 = ppmd7Decode7z(s.stream, s.props, s.size - 100);
  assert.equal(r4.ok, false);
  assert.ok(same(r4.data, data.subarray(0, s.size - 100)));
  // The range coder's first byte must be zero.
  const bad = s.stream.slice();
  bad[0] = 1;
  assert.deepEqual(ppmd7Decode7z(bad, s.props, s.size).data.length, 0);
});

test('properties are checked as ClamAV checks them', () => {
  const stream = new Uint8Array(16);
  const props = (order: number, mem: number): Uint8Array => Uint8Array.of(order, mem & 0xff, (mem >>> 8) & 0xff, (mem >>> 16) & 0xff, mem >>> 24);
  assert.equal(ppmd7Decode7z(stream, props(6, 1 << 20).subarray(0, 4), 10).error, 'unsupported properties');
  assert.equal(ppmd7Decode7z(stream, props(1, 1 << 20), 10).error, 'unsupported properties');
  assert.equal(ppmd7Decode7z(stream, props(65, 1 << 20), 10).error, 'unsupported properties');
  assert.equal(ppmd7Decode7z(stream, props(6, 2047), 10).error, 'unsupported properties');
  assert.equal(ppmd7Decode7z(stream, props(6, 0xffffffff), 10).error, 'unsupported properties');
  // Above ClamAV's allocation bound (the block plus alignment and guard unit): a memory error.
  assert.equal(ppmd7Decode7z(stream, props(6, PPMD7_MAX_MEMORY - 12), 10).error, 'memory');
  assert.equal(ppmd7Decode7z(stream, props(6, 0xf0000000), 10).error, 'memory');
  assert.equal(new Ppmd7(PPMD7_MAX_MEMORY - 12).ok, false);
  assert.equal(new Ppmd7(PPMD7_MAX_MEMORY - 16).ok, true);
  assert.equal(new Ppmd7(100).ok, false);
});

test('a large declared model costs only what the data touches', () => {
  const before = process.memoryUsage().rss;
  const models: Ppmd7[] = [];
  const rng = new Prng(9);
  for (let i = 0; i < 6; i++) {
    const m = new Ppmd7(PPMD7_MAX_MEMORY - 64);
    assert.ok(m.ok);
    m.init(64);
    const input = rng.bytes(4000);
    input[0] = 0;
    const rc = create7zRangeDecoder(input, 0);
    for (let k = 0; k < 20_000; k++) if (m.decodeSymbol(rc) < 0) break;
    models.push(m);
  }
  const grown = process.memoryUsage().rss - before;
  assert.ok(grown < 512 << 20, `RSS grew by ${grown} bytes for 6 models of 1 GiB`);
  assert.equal(models.length, 6);
});

test('random damage never throws and stays bounded', { skip: SKIP }, () => {
  const rng = new Prng(21);
  const data = mixed(rng, 30_000);
  const s = ppmd7z(data, 'PPMd:mem=256k:o=12');
  const t0 = Date.now();
  let failed = 0;
  for (let round = 0; round < 150; round++) {
    const m = s.stream.slice();
    const flips = rng.int(1, 6);
    for (let k = 0; k < flips; k++) m[rng.int(1, m.length - 1)] = rng.int(0, 255);
    const r = ppmd7Decode7z(m, s.props, s.size);
    assert.ok(r.data.length <= s.size);
    if (!r.ok) failed++;
  }
  // Order and memory mutated too.
  for (let round = 0; round < 40; round++) {
    const p = s.props.slice();
    p[rng.int(0, 4)] = rng.int(0, 255);
    if (p[1]! + p[2]! * 256 + p[3]! * 65536 + p[4]! * 2 ** 24 > 64 << 20) continue;
    const r = ppmd7Decode7z(s.stream, p, s.size);
    assert.ok(r.data.length <= s.size);
  }
  // Garbage streams of every order.
  for (let order = 2; order <= 64; order += 3) {
    const g = rng.bytes(3000);
    g[0] = 0;
    const r = ppmd7Decode7z(g, Uint8Array.of(order, 0, 0, 1, 0), 200_000);
    assert.ok(r.data.length <= 200_000);
    assert.equal(r.ok, false);
  }
  assert.ok(failed > 100, `damage detected in ${failed}/150`);
  assert.ok(Date.now() - t0 < 60_000);
});

test('init restarts the model; alloc keeps or replaces the block', { skip: SKIP }, () => {
  const data = mixed(new Prng(13), 10_000);
  const s = ppmd7z(data, 'PPMd:mem=1m:o=6');
  const m = new Ppmd7(1 << 20);
  const run = (): Uint8Array => {
    m.init(6);
    const rc = create7zRangeDecoder(s.stream, 0);
    assert.ok(rc.ok);
    const out = new Uint8Array(s.size);
    for (let i = 0; i < s.size; i++) { const c = m.decodeSymbol(rc); assert.ok(c >= 0); out[i] = c; }
    assert.ok(rc.finishedOk());
    assert.equal(rc.pos, s.stream.length);
    return out;
  };
  assert.ok(same(run(), data));
  assert.ok(same(run(), data));
  assert.ok(m.alloc(1 << 20));
  assert.ok(same(run(), data));
  assert.ok(m.alloc(2 << 20));
  assert.equal(m.memSize, 2 << 20);
  assert.equal(m.alloc(1), false);
  assert.equal(m.ok, false);
  assert.equal(m.decodeSymbol(create7zRangeDecoder(s.stream, 0)), -2);
});

/** RAR 3's carry-less range encoder (the inverse of the decoder), for a static-model check. */
class RarRangeEncoder {
  low = 0; range = 0xffffffff; out: number[] = [];
  encode(start: number, size: number, total: number): void {
    this.range = Math.floor(this.range / total) >>> 0;
    this.low = (this.low + Math.imul(start, this.range)) >>> 0;
    this.range = Math.imul(this.range, size) >>> 0;
    for (;;) {
      if (((this.low ^ ((this.low + this.range) >>> 0)) >>> 0) >= 1 << 24) {
        if (this.range >= 0x8000) break;
        this.range = (-this.low >>> 0) & 0x7fff;
      }
      this.out.push(this.low >>> 24);
      this.low = (this.low << 8) >>> 0;
      this.range = (this.range << 8) >>> 0;
    }
  }
  flush(): Uint8Array {
    for (let i = 0; i < 4; i++) { this.out.push(this.low >>> 24); this.low = (this.low << 8) >>> 0; }
    return Uint8Array.from(this.out);
  }
}

test('RAR range decoder: symbols and bits coded by a carry-less encoder come back', () => {
  const rng = new Prng(17);
  const enc = new RarRangeEncoder();
  const freqs = [1, 3, 60, 7, 200, 1, 1, 9000];
  const cum = freqs.map((_, i) => freqs.slice(0, i).reduce((a, b) => a + b, 0));
  const total = freqs.reduce((a, b) => a + b, 0);
  const plan: [number, number][] = [];
  for (let i = 0; i < 20_000; i++) {
    if (rng.int(0, 1)) {
      const sym = rng.int(0, 9) < 8 ? 7 : rng.int(0, 7);
      plan.push([0, sym]);
      enc.encode(cum[sym]!, freqs[sym]!, total);
    } else {
      const size0 = rng.int(1, (1 << 14) - 1);
      const bit = rng.int(0, 99) < 90 ? 0 : 1;
      plan.push([size0, bit]);
      if (bit === 0) enc.encode(0, size0, 1 << 14);
      else enc.encode(size0, (1 << 14) - size0, 1 << 14);
    }
  }
  const bytes = enc.flush();
  const padded = new Uint8Array(bytes.length + 3);
  padded.set(bytes, 3);
  const rc = createRarRangeDecoder(padded, 3);
  for (const [kind, want] of plan) {
    if (kind === 0) {
      const c = rc.getThreshold(total);
      let sym = 0;
      while (cum[sym]! + freqs[sym]! <= c) sym++;
      assert.equal(sym, want);
      rc.decode(cum[sym]!, freqs[sym]!);
    } else assert.equal(rc.decodeBit(kind, 1 << 14), want);
  }
  assert.ok(rc.pos <= padded.length);
});

test('a model keeps decoding across a new RAR range decoder (RAR blocks without reset)', () => {
  // Garbage through two decoders on one model gives the same symbols as the same bytes decoded by
  // the same decoders on a copy of the model: the model carries all state across.
  const rng = new Prng(19);
  const a = rng.bytes(5000), b = rng.bytes(5000);
  const decodeBoth = (): number[] => {
    const m = new Ppmd7(1 << 20);
    m.init(8);
    const out: number[] = [];
    for (const input of [a, b]) {
      const rc = createRarRangeDecoder(input, 0);
      for (let i = 0; i < 3000; i++) { const c = m.decodeSymbol(rc); if (c < 0) break; out.push(c); }
    }
    return out;
  };
  const x = decodeBoth(), y = decodeBoth();
  assert.ok(x.length > 100);
  assert.deepEqual(x, y);
});

test('a damaged stream decodes to the same bytes as 7-Zip\'s own decoder gives', { skip: SKIP }, () => {
  // Damage still decodes to something (ClamAV keeps it in the folder's buffer): the model must
  // follow 7-Zip's exactly, through memory exhaustion (small models), gluing and restarts.
  const rng = new Prng(23);
  const data = mixed(rng, 120_000);
  const work = mkdtempSync(join(tmpdir(), 'vigil-ppmd-dmg-'));
  try {
    let compared = 0;
    for (const method of ['PPMd:mem=64k:o=4', 'PPMd:mem=256k:o=32', 'PPMd:mem=1m:o=12']) {
      const s = ppmd7z(data, method);
      for (let k = 0; k < 4; k++) {
        const bad = s.stream.slice();
        const at = rng.int(8, bad.length - 40);
        bad[at]! ^= 1 << rng.int(0, 7);
        // The same damage inside an archive 7-Zip extracts (its decoder stops at the stream's end).
        writeFileSync(join(work, 'f'), data);
        rmSync(join(work, 'a.7z'), { force: true });
        spawnSync(SEVEN!, ['a', '-bd', '-bso0', '-bsp0', '-mhc=off', `-m0=${method}`, join(work, 'a.7z'), 'f'], { cwd: work });
        const a = readFileSync(join(work, 'a.7z'));
        assert.ok(Buffer.from(a.subarray(32, 32 + s.stream.length)).equals(Buffer.from(s.stream)), `same stream ${a.length} ${s.stream.length} ${a.readUInt32LE(12)}`);
        a.set(bad, 32);
        writeFileSync(join(work, 'a.7z'), a);
        rmSync(join(work, 'out'), { recursive: true, force: true });
        spawnSync(SEVEN!, ['x', '-y', '-bd', '-bso0', '-bse0', '-bsp0', `-o${join(work, 'out')}`, join(work, 'a.7z')]);
        let theirs: Buffer;
        try { theirs = readFileSync(join(work, 'out', 'f')); } catch { continue; }
        const mine = ppmd7Decode7z(bad, s.props, s.size);
        assert.equal(mine.ok, false);
        const n = Math.min(theirs.length, mine.data.length);
        assert.ok(n > 0);
        assert.ok(Buffer.from(mine.data.subarray(0, n)).equals(theirs.subarray(0, n)), `${method} flip at ${at}`);
        compared++;
      }
    }
    assert.ok(compared >= 6, `compared ${compared} damaged streams`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
