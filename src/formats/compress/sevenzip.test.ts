import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from '../../core/crc32.js';
import { scan7z, scan7zAt, scan7zEmbedded } from './sevenzip.js';
import { DEFAULT_UNPACK_OPTIONS, isAlert, isChild, isLimited, isMeta, type UnpackItem } from '../unpack.js';
import { Prng } from '../../../test/helpers/prng.js';

const SEVEN = ['7zz', '7z', '7za'].find((t) => spawnSync(t, ['i'], { stdio: 'ignore' }).status === 0);
const SKIP = SEVEN ? false : '7-Zip (7zz) is not installed';
const HAVE_XZ = spawnSync('xz', ['--version'], { stdio: 'ignore' }).status === 0;

const ctx = (maxFileSize: number, alertEncryptedArchive = false) => ({
  limits: { maxFileSize, maxFiles: 0, maxScanSize: 0 },
  options: { ...DEFAULT_UNPACK_OPTIONS, alertEncryptedArchive },
});

/** Builds an archive of `files` (a null body is a directory) with 7-Zip's `switches`. */
function sevenZip(files: [string, Uint8Array | null][], switches: string[]): Buffer {
  const work = mkdtempSync(join(tmpdir(), 'vigil-7z-'));
  try {
    const src = join(work, 'src');
    mkdirSync(src);
    for (const [name, body] of files) {
      if (body === null) mkdirSync(join(src, name), { recursive: true });
      else {
        mkdirSync(join(src, name, '..'), { recursive: true });
        writeFileSync(join(src, name), body);
      }
    }
    const r = spawnSync(SEVEN!, ['a', '-bd', '-bso0', '-bsp0', ...switches, join(work, 'a.7z'), '.'], { cwd: src });
    assert.equal(r.status, 0, String(r.stderr));
    return readFileSync(join(work, 'a.7z'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const children = (items: Iterable<UnpackItem>): Map<string, string> =>
  new Map([...items].filter(isChild).map((c) => [c.name, createHash('md5').update(c.data).digest('hex')]));
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');
/** The items other than metadata reports. */
const noMeta = (items: Iterable<UnpackItem>): UnpackItem[] => [...items].filter((i) => !isMeta(i));

/** x86-looking code, text and random bytes. */
function sample(rng: Prng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n;) {
    const len = Math.min(n - i, rng.int(1, 2000));
    const kind = rng.int(0, 2);
    if (kind === 0) out.set(rng.bytes(len), i);
    else if (kind === 1) for (let k = 0; k < len; k++) out[i + k] = k % 7 === 0 ? 0xe8 : 0x61 + (k % 13);
    else out.fill(rng.int(0, 255), i, i + len);
    i += len;
  }
  return out;
}

test('7z: every coder 7-Zip offers that is decoded here, solid and not', { skip: SKIP }, () => {
  const rng = new Prng('7z-methods');
  const files: [string, Uint8Array | null][] = [
    ['a.bin', sample(rng, 50000)], ['dir/b.txt', sample(rng, 1200)], ['dir/empty.txt', new Uint8Array(0)],
    ['emptydir', null], ['ü-名前.bin', sample(rng, 300)],
  ];
  const want = new Map(files.filter(([, b]) => b && b.length > 0).map(([n, b]) => [n, md5(b!)]));
  const methods = [
    ['-m0=lzma2'], ['-m0=lzma'], ['-m0=copy'], ['-m0=deflate'], ['-m0=bzip2'], ['-m0=delta:4', '-m1=lzma2'],
    ['-mf=BCJ'], ['-mf=BCJ2'], ['-mf=ARM'], ['-mf=ARMT'], ['-mf=PPC'], ['-mf=SPARC'], ['-mhc=off'], ['-mhe=on'],
  ];
  for (const m of methods) {
    for (const solid of ['-ms=on', '-ms=off']) {
      const z = sevenZip(files, [...m, solid, '-mx=1']);
      assert.deepEqual(children(scan7z(z, ctx(1 << 30))), want, `${m.join(' ')} ${solid}`);
    }
  }
  // More than 1 MiB in a solid folder with a small file after it.
  const big = sample(rng, 1_300_000), tail = sample(rng, 999);
  for (const m of [['-m0=lzma2'], ['-mf=BCJ2']]) {
    const z = sevenZip([['big.bin', big], ['tail.bin', tail]], [...m, '-ms=on', '-mx=1']);
    assert.deepEqual(children(scan7z(z, ctx(1 << 30))), new Map([['big.bin', md5(big)], ['tail.bin', md5(tail)]]));
  }
});

test('7z: encrypted files and headers alert only with AlertEncryptedArchive', { skip: SKIP }, () => {
  const files: [string, Uint8Array | null][] = [['a.txt', new TextEncoder().encode('secret '.repeat(50))], ['b.txt', new TextEncoder().encode('other '.repeat(50))]];
  for (const sw of [['-pvigil'], ['-pvigil', '-mhe=on'], ['-pvigil', '-ms=off']]) {
    const z = sevenZip(files, sw);
    assert.deepEqual(noMeta(scan7z(z, ctx(1 << 20))), [], sw.join(' '));
    const alerts = noMeta(scan7z(z, ctx(1 << 20, true)));
    assert.equal(alerts.length, 1, `${sw.join(' ')}: one alert per archive`);
    assert.ok(isAlert(alerts[0]!) && alerts[0].alert === 'Heuristics.Encrypted.7Zip');
  }
  // BCJ2 with AES has eight coders: ClamAV calls that unsupported, not encrypted.
  const bcj2 = sevenZip([['x.exe', new Uint8Array(5000).fill(0xe8)]], ['-pvigil', '-mf=BCJ2']);
  assert.deepEqual([...scan7z(bcj2, ctx(1 << 20, true))], [{ meta: 'x.exe' }], 'its metadata only');
});

test('7z: MaxFileSize by declared size; embedded at an offset; damage', { skip: SKIP }, () => {
  const rng = new Prng('7z-limits');
  const big = sample(rng, 100000), small = sample(rng, 1000);
  const z = sevenZip([['big.bin', big], ['small.bin', small]], ['-ms=on']);
  const items = [...scan7z(z, ctx(50000))];
  assert.deepEqual(items.filter(isLimited), [{ name: 'big.bin', limit: 'MaxFileSize', size: 100000 }]);
  assert.deepEqual(children(items), new Map([['small.bin', md5(small)]]));
  // After a PE stub (self-extractor): read from the offset; not inside a layer that is itself 7z.
  const stub = Buffer.concat([Buffer.from('MZ'), Buffer.from(rng.bytes(3000))]);
  const sfx = Buffer.concat([stub, z]);
  assert.equal(children(scan7zEmbedded(sfx, stub.length, ctx(1 << 20))).size, 2);
  assert.equal(children(scan7zEmbedded(Buffer.concat([z, z]), z.length, ctx(1 << 20))).size, 0);
  assert.equal(children(scan7zAt(Buffer.concat([z, z]), z.length, ctx(1 << 20))).size, 2);
  // A file whose CRC fails is not given; its neighbour in another folder is.
  const two = Buffer.from(sevenZip([['a.bin', big], ['b.bin', small]], ['-ms=off', '-m0=copy']));
  const at = two.indexOf(Buffer.from(big.subarray(5000, 5016)));
  two[at]! ^= 1;
  assert.deepEqual(children(scan7z(two, ctx(1 << 20))), new Map([['b.bin', md5(small)]]));
});

test('7z: truncation and 400 random mutations never throw and stay bounded', { skip: SKIP }, () => {
  const rng = new Prng('7z-mutate');
  const z = sevenZip([['a.bin', sample(rng, 20000)], ['b.bin', sample(rng, 5000)], ['c', null]], ['-mf=BCJ2', '-ms=on']);
  const h = sevenZip([['a.bin', sample(rng, 20000)], ['b.bin', sample(rng, 5000)]], ['-mhc=off', '-ms=off']);
  const t0 = Date.now();
  for (let k = 0; k < 100; k++) {
    const cut = rng.int(0, z.length - 1);
    for (const item of scan7z(z.subarray(0, cut), ctx(1 << 20))) assert.ok(!isChild(item) || item.data.length <= 20000);
  }
  for (let k = 0; k < 400; k++) {
    const m = Buffer.from(k % 2 ? z : h);
    for (let j = rng.int(1, 4); j > 0; j--) m[rng.int(0, m.length - 1)] = rng.int(0, 255);
    for (const item of scan7z(m, ctx(1 << 20, true))) assert.ok(!isChild(item) || item.data.length <= 1 << 20);
  }
  assert.ok(Date.now() - t0 < 30000, 'bounded time');
});

/** 7z's variable-length number. */
function num(v: number): number[] {
  for (let n = 0; n < 8; n++) {
    if (v < 2 ** (8 * n + 7 - n)) {
      const out = [((0xff << (8 - n)) & 0xff) | Math.floor(v / 2 ** (8 * n))];
      for (let i = 0; i < n; i++) out.push(Math.floor(v / 2 ** (8 * i)) & 0xff);
      return out;
    }
  }
  const out = [0xff];
  for (let i = 0; i < 8; i++) out.push(Math.floor(v / 2 ** (8 * i)) & 0xff);
  return out;
}

/** A one-file archive around `packed` (LZMA2, dictionary byte `dict`) declaring `size` bytes. */
function handMade(packed: Uint8Array, size: number, dict: number): Buffer {
  const name = Buffer.from('bomb.bin\0', 'utf16le');
  const header = Buffer.from([
    0x01, 0x04,
    0x06, 0x00, 0x01, 0x09, ...num(packed.length), 0x00,
    0x07, 0x0b, 0x01, 0x00, 0x01, 0x21, 0x21, 0x01, dict, 0x0c, ...num(size), 0x00,
    0x08, 0x00,
    0x00,
    0x05, 0x01, 0x11, ...num(name.length + 1), 0x00, ...name, 0x00,
    0x00,
  ]);
  const start = Buffer.alloc(20);
  start.writeUInt32LE(packed.length, 0);
  start.writeUInt32LE(header.length, 8);
  start.writeUInt32LE(crc32(header), 16);
  const sig = Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4, 0, 0, 0, 0]);
  sig.writeUInt32LE(crc32(start), 8);
  return Buffer.concat([sig, start, packed, header]);
}

test('7z: a 10 GB bomb is a limited child, or nothing past ClamAV\'s 1 GiB folder bound, at once', { skip: HAVE_XZ ? false : 'xz is not installed' }, () => {
  const raw = spawnSync('xz', ['-c', '--format=raw', '--lzma2=preset=0,pb=0,lp=0,lc=0,dict=1MiB'], { input: new Uint8Array(2 << 20) }).stdout as Buffer;
  const packed = ((raw[3]! << 8) | raw[4]!) + 1;
  const chunk = ((raw[0]! & 0x1f) << 16) + ((raw[1]! << 8) | raw[2]!) + 1;
  const again = Buffer.concat([Buffer.from([0xa0 | (raw[0]! & 0x1f), raw[1]!, raw[2]!, raw[3]!, raw[4]!]), raw.subarray(6, 6 + packed)]);
  const stream = (copies: number): Buffer => Buffer.concat([raw.subarray(0, 6 + packed), ...new Array<Buffer>(copies).fill(again), Buffer.from([0])]);
  // The hand-made archive is sound: three chunks decode.
  const ok = [...scan7z(handMade(stream(2), 3 * chunk, 16), ctx(1 << 30))];
  assert.equal(ok.length, 1);
  assert.ok(isChild(ok[0]!) && ok[0].data.length === 3 * chunk && ok[0].name === 'bomb.bin');
  const bomb = handMade(stream(5000), 5001 * chunk, 16);
  const t0 = Date.now();
  assert.deepEqual([...scan7z(bomb, ctx(8 << 20))], [{ name: 'bomb.bin', limit: 'MaxFileSize', size: 5001 * chunk }]);
  assert.deepEqual(noMeta(scan7z(bomb, ctx(0))), []);
  assert.ok(Date.now() - t0 < 2000);
  // A declared size smaller than the stream: the decoder stops there and the file is not given.
  assert.deepEqual(children(scan7z(handMade(stream(2), chunk + 10, 16), ctx(1 << 30))).size, 0);
});

test('7z: PPMd folders, solid and not, with BCJ, packed headers, several orders and model sizes', { skip: SKIP }, () => {
  const rng = new Prng('7z-ppmd');
  const text = new TextEncoder().encode('the model predicts the next symbol from its context; '.repeat(900));
  const files: [string, Uint8Array | null][] = [
    ['a.txt', text], ['dir/b.bin', sample(rng, 40000)], ['dir/empty.txt', new Uint8Array(0)], ['emptydir', null], ['c.bin', sample(rng, 700)],
  ];
  const want = new Map(files.filter(([, b]) => b && b.length > 0).map(([n, b]) => [n, md5(b!)]));
  for (const m of [['-m0=PPMd'], ['-m0=PPMd:mem=64k:o=2'], ['-m0=PPMd:mem=1m:o=32', '-mhc=off'], ['-m0=PPMd:mem=256k:o=8', '-mf=BCJ']]) {
    for (const solid of ['-ms=on', '-ms=off']) {
      const z = sevenZip(files, [...m, solid]);
      assert.deepEqual(children(scan7z(z, ctx(1 << 30))), want, `${m.join(' ')} ${solid}`);
    }
  }
});

test('7z: a PPMd pack size off by some bytes fails the folder\'s first file, as in ClamAV', { skip: SKIP }, () => {
  const rng = new Prng('7z-ppmd-size');
  const a = sample(rng, 3000), b = new TextEncoder().encode('second file '.repeat(300));
  const z = Buffer.from(sevenZip([['a.bin', a], ['b.txt', b]], ['-m0=PPMd:mem=1m:o=6', '-ms=on', '-mhc=off']));
  assert.deepEqual(children(scan7z(z, ctx(1 << 20))), new Map([['a.bin', md5(a)], ['b.txt', md5(b)]]));
  // The single pack size, a one- or two-byte 7z number after 01 04 06 <pos> <count> 09.
  const h = 32 + z.readUInt32LE(12);
  assert.deepEqual([...z.subarray(h, h + 6)], [0x01, 0x04, 0x06, 0x00, 0x01, 0x09]);
  for (const delta of [-2, 1]) {
    const m = Buffer.from(z);
    if (m[h + 6]! < 0x80) m[h + 6] = m[h + 6]! + delta;
    else m[h + 7] = m[h + 7]! + delta;
    m.writeUInt32LE(crc32(m.subarray(h, h + m.readUInt32LE(20))) >>> 0, 28);
    m.writeUInt32LE(crc32(m.subarray(12, 32)) >>> 0, 8);
    // The stream is decoded whole (7-Zip reads on past its pack size), then called damaged: the
    // first file is not given, the next one passes its CRC on the decoded buffer.
    const items = [...scan7z(m, ctx(1 << 20))];
    assert.deepEqual(children(items), new Map([['b.txt', md5(b)]]), `pack size ${delta}`);
    assert.ok(items.some((i) => isMeta(i) && i.meta === 'a.bin'));
  }
});

test('7z: PPMd archives cut short and mutated never throw and stay bounded', { skip: SKIP }, () => {
  const rng = new Prng('7z-ppmd-mutate');
  const text = new TextEncoder().encode('escape to a shorter context when the symbol is new; '.repeat(400));
  const z = sevenZip([['a.txt', text], ['b.bin', sample(rng, 8000)]], ['-m0=PPMd:mem=64k:o=16', '-ms=on']);
  const h = sevenZip([['a.txt', text], ['b.bin', sample(rng, 8000)]], ['-m0=PPMd:mem=1m:o=4', '-ms=off', '-mhc=off']);
  const t0 = Date.now();
  for (let k = 0; k < 60; k++) {
    for (const item of scan7z(z.subarray(0, rng.int(0, z.length - 1)), ctx(1 << 20))) assert.ok(!isChild(item) || item.data.length <= text.length);
  }
  let given = 0;
  for (let k = 0; k < 200; k++) {
    const m = Buffer.from(k % 2 ? z : h);
    for (let j = rng.int(1, 3); j > 0; j--) m[rng.int(32, m.length - 1)] = rng.int(0, 255);
    for (const item of scan7z(m, ctx(1 << 20))) if (isChild(item)) { given++; assert.ok(item.data.length <= text.length); }
  }
  assert.ok(given < 400, 'damage is noticed');
  assert.ok(Date.now() - t0 < 30000, 'bounded time');
});
