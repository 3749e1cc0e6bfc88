import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { crc32 } from '../../core/crc32.js';
import { LIMIT } from './common.js';
import { clamavXzScanned, scanXz, xzDecode } from './xz.js';
import { DEFAULT_UNPACK_OPTIONS, isAlert, isChild, isLimited } from '../unpack.js';
import { Prng } from '../../../test/helpers/prng.js';

const HAVE = spawnSync('xz', ['--version'], { stdio: 'ignore' }).status === 0;
const SKIP = HAVE ? false : 'xz is not installed';
const xz = (args: string[], data: Uint8Array): Buffer => spawnSync('xz', ['-c', ...args], { input: data, maxBuffer: 1 << 28 }).stdout;
const ctx = (maxFileSize: number) => ({ limits: { maxFileSize, maxFiles: 0, maxScanSize: 0 }, options: { ...DEFAULT_UNPACK_OPTIONS } });

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

/** x86-looking code: CALL/JMP opcodes with nearby targets among random bytes. */
function code(rng: Prng, n: number): Uint8Array {
  const out = rng.bytes(n);
  for (let i = 0; i + 5 < n; i += rng.int(5, 40)) {
    out[i] = rng.pick([0xe8, 0xe9]);
    const rel = rng.int(-5000, 5000);
    new DataView(out.buffer, out.byteOffset).setInt32(i + 1, rel, true);
  }
  return out;
}

test('xz: round trips with every check type and filter the xz tool offers', { skip: SKIP }, () => {
  const rng = new Prng('xz-roundtrip');
  const cases: [number, string[]][] = [
    [0, []],
    [1, ['--check=none']],
    [1000, ['--check=crc32']],
    [70000, ['--check=crc64', '--x86', '--lzma2=preset=1']],
    [70000, ['--check=sha256', '--arm', '--lzma2=preset=1']],
    [70000, ['--armthumb', '--lzma2=preset=1']],
    [70000, ['--powerpc', '--lzma2=preset=1']],
    [70000, ['--sparc', '--lzma2=preset=1']],
    [70000, ['--delta=dist=7', '--lzma2=preset=1']],
    [70000, ['--x86', '--delta=dist=2', '--lzma2=preset=1']],
    [1_500_000, ['-1', '--block-size=300000']],
  ];
  for (const [n, args] of cases) {
    const data = args.some((a) => /x86|arm|powerpc|sparc/.test(a)) ? code(rng, n) : sample(rng, n);
    const r = xzDecode(xz(args, data), 1 << 30);
    assert.equal(r.complete, true, `${n} ${args.join(' ')}: ${r.error ?? ''}`);
    assert.deepEqual(Buffer.from(r.data), Buffer.from(data), args.join(' '));
  }
});

test('xz: several streams with padding; IA-64 is unsupported as in ClamAV', { skip: SKIP }, () => {
  const a = new TextEncoder().encode('first '.repeat(300)), b = new TextEncoder().encode('second '.repeat(300));
  const two = Buffer.concat([xz([], a), Buffer.alloc(8), xz(['--check=sha256'], b), Buffer.alloc(4)]);
  const r = xzDecode(two, 1 << 20);
  assert.equal(r.complete, true);
  assert.equal(r.streams, 2);
  assert.deepEqual(Buffer.from(r.data), Buffer.concat([a, b]));
  assert.equal(xzDecode(Buffer.concat([xz([], a), Buffer.alloc(3)]), 1 << 20).error, 'bad padding');
  assert.equal(xzDecode(xz(['--ia64', '--lzma2=preset=0'], a), 1 << 20).error, 'unsupported filter');
  assert.equal(xzDecode(new TextEncoder().encode('not xz at all'), 100).error, 'not xz');
});

test('xz: a wrong check, a wrong index, a wrong footer are damage', { skip: SKIP }, () => {
  const data = new TextEncoder().encode('check me '.repeat(500));
  for (const [check, size] of [['crc32', 4], ['crc64', 8], ['sha256', 32]] as const) {
    const z = xz([`--check=${check}`], data);
    // The check sits right before the index, which starts 12 + index bytes before the end.
    const backward = (z.readUInt32LE(z.length - 8) + 1) * 4;
    const at = z.length - 12 - backward - size;
    const bad = Buffer.from(z);
    bad[at]! ^= 1;
    assert.equal(xzDecode(bad, 1 << 20).error, 'check mismatch', check);
    const idx = Buffer.from(z);
    idx[z.length - 12 - backward + 2]! ^= 1;
    assert.equal(xzDecode(idx, 1 << 20).complete, false);
    const foot = Buffer.from(z);
    foot[z.length - 1] = 0;
    assert.equal(xzDecode(foot, 1 << 20).error, 'bad footer');
  }
});

test('xz: truncation gives a prefix and nothing for ClamAV, at many points', { skip: SKIP }, () => {
  const rng = new Prng('xz-trunc');
  const data = sample(rng, 200000);
  const z = xz(['-1', '--block-size=50000'], data);
  for (let k = 0; k < 120; k++) {
    const cut = rng.int(0, z.length - 1);
    const r = xzDecode(z.subarray(0, cut), 1 << 20);
    assert.equal(r.complete, false);
    assert.deepEqual(Buffer.from(r.data), Buffer.from(data.subarray(0, r.data.length)));
    assert.equal(clamavXzScanned(r, cut), undefined);
    assert.deepEqual([...scanXz(z.subarray(0, cut), ctx(1 << 20))], []);
  }
});

test('xz: 400 random mutations never throw and stay bounded', { skip: SKIP }, () => {
  const rng = new Prng('xz-mutate');
  const z = xz(['-1', '--block-size=9000', '--x86', '--lzma2=preset=1'], code(rng, 30000));
  const t0 = Date.now();
  for (let k = 0; k < 400; k++) {
    const m = Buffer.from(z);
    for (let j = rng.int(1, 4); j > 0; j--) m[rng.int(0, m.length - 1)] = rng.int(0, 255);
    const r = xzDecode(m, 100000);
    assert.ok(r.data.length <= 100000);
    for (const item of scanXz(m, ctx(100000))) if (isChild(item)) assert.ok(item.data.length <= 100000);
  }
  assert.ok(Date.now() - t0 < 20000, 'bounded time');
});

/** About 10 GB of zeros as LZMA2: one chunk of zeros from xz, repeated with "state reset" (see lzma.test.ts). */
function lzma2ZeroBomb(copies: number): Buffer {
  const raw = xz(['--format=raw', '--lzma2=preset=0,pb=0,lp=0,lc=0,dict=1MiB'], new Uint8Array(2 << 20));
  const packed = ((raw[3]! << 8) | raw[4]!) + 1;
  const again = Buffer.concat([Buffer.from([0xa0 | (raw[0]! & 0x1f), raw[1]!, raw[2]!, raw[3]!, raw[4]!]), raw.subarray(6, 6 + packed)]);
  return Buffer.concat([raw.subarray(0, 6 + packed), ...new Array<Buffer>(copies).fill(again), Buffer.from([0])]);
}

/** An xz stream header (CRC-32 check) and one block header for LZMA2 with dictionary byte `dict`. */
function xzHead(dict: number): Buffer {
  const sh = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x01, 0, 0, 0, 0]);
  sh.writeUInt32LE(crc32(sh.subarray(6, 8)), 8);
  const bh = Buffer.from([0x02, 0x00, 0x21, 0x01, dict, 0, 0, 0, 0, 0, 0, 0]);
  bh.writeUInt32LE(crc32(bh.subarray(0, 8)), 8);
  return Buffer.concat([sh, bh]);
}

test('xz: a 10 GB bomb stops at the bound in well under 2 s', { skip: SKIP }, () => {
  const bomb = Buffer.concat([xzHead(16), lzma2ZeroBomb(5000)]);
  const t0 = Date.now();
  const r = xzDecode(bomb, 8 << 20);
  const ms = Date.now() - t0;
  assert.equal(r.error, LIMIT);
  assert.equal(r.data.length, 8 << 20);
  assert.ok(ms < 2000, `${ms} ms`);
  assert.deepEqual([...scanXz(bomb, ctx(8 << 20))], [{ name: 'xz', limit: 'MaxFileSize' }]);
});

test('xz reader: DicSizeLimit above 1 GiB, appended bytes, stream ends on a 256 KiB boundary', { skip: SKIP }, () => {
  const data = new TextEncoder().encode('dictionary '.repeat(100));
  const z = xz(['--lzma2=preset=0'], data);
  const withDict = (b: number): Buffer => {
    const out = Buffer.from(z);
    const hsize = (out[12]! + 1) * 4;
    const at = out.indexOf(Buffer.from([0x21, 0x01]), 13);
    out[at + 2] = b;
    out.writeUInt32LE(crc32(out.subarray(12, 12 + hsize - 4)), 12 + hsize - 4);
    return out;
  };
  assert.ok([...scanXz(withDict(36), ctx(1 << 20))].some(isChild), '1 GiB is allocated');
  for (const b of [37, 38, 40]) assert.deepEqual([...scanXz(withDict(b), ctx(1 << 20))], [{ alert: 'Heuristics.XZ.DicSizeLimit' }]);
  // Bytes after a small file: the error comes in the call where the block ended, data scanned.
  const tail = [...scanXz(Buffer.concat([z, Buffer.from('stray')]), ctx(1 << 20))];
  assert.ok(tail.length === 1 && isChild(tail[0]!) && tail[0].data.length === data.length);
  // A large first stream whose trailing zeros reach a 256 KiB boundary: the second stream is never read.
  const rng = new Prng('xz-boundary');
  const big = xz(['-0'], rng.bytes(300000));
  const pad = Buffer.alloc(Math.ceil((524288 - big.length + 8) / 4) * 4);
  const two = Buffer.concat([big, pad, xz([], data)]);
  const r = xzDecode(two, 1 << 21);
  assert.equal(r.complete, true);
  assert.equal(clamavXzScanned(r, two.length), 300000);
  // The same zeros stopping short of the boundary: both streams.
  const short = Buffer.concat([big, Buffer.alloc(8), xz([], data)]);
  assert.equal(clamavXzScanned(xzDecode(short, 1 << 21), short.length), 300000 + data.length);
  const lim = [...scanXz(z, ctx(100))];
  assert.ok(lim.length === 1 && isLimited(lim[0]!));
  assert.ok(![...scanXz(z, ctx(1 << 20))].some(isAlert));
});

test('xz reader: MaxFileSize is met at a full 1 MiB piece or at the end, not before damage', { skip: SKIP }, () => {
  const rng = new Prng('xz-limit');
  const words = ['alpha', 'beta', 'gamma', 'delta'];
  const text = new TextEncoder().encode(Array.from({ length: 150000 }, () => rng.pick(words)).join(' '));
  const z = xz(['-1'], text);
  assert.ok(text.length < 1 << 20);
  const full = [...scanXz(z, ctx(300000))];
  assert.ok(full.length === 1 && isLimited(full[0]!), 'the stream ends past the limit');
  assert.deepEqual([...scanXz(z.subarray(0, Math.floor(z.length * 0.7)), ctx(300000))], [], 'cut short before the first full piece: nothing, no limit');
});
