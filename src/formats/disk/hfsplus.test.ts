import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHfsPlus, type HfsFile } from './hfsplus-build.js';
import { hfsplusMembers, partitionType } from './hfsplus.js';
import { isChild, isLimited, type UnpackContext, type UnpackItem } from '../unpack.js';

const ctx = (maxFileSize = 100 * 1024 * 1024): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 10000, maxScanSize: 400 * 1024 * 1024 },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false },
});

const list = (img: Uint8Array, c = ctx()): UnpackItem[] => [...hfsplusMembers(img, c)];
const names = (items: UnpackItem[]): string[] => items.map((i) => (isChild(i) ? `${i.name}:${i.data.length}` : isLimited(i) ? `${i.name}!${i.limit}` : '?'));

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff);
const u32 = (b: Uint8Array, p: number): number => ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;

test('files come out in catalog order with their data and resource forks', () => {
  const files: HfsFile[] = [
    { name: 'zeta.txt', data: Buffer.from('last one') },
    { name: 'Alpha.bin', data: bytes(10000, 1), resource: Buffer.from('the resource fork') },
    { name: 'beta', data: bytes(5000, 2), extents: 4 },
  ];
  for (const blockSize of [512, 1024, 4096]) {
    for (const hfsx of [false, true]) {
      const img = buildHfsPlus(files, { blockSize, hfsx });
      assert.equal(partitionType(img), 'CL_TYPE_PART_HFSPLUS');
      const items = list(img);
      assert.deepEqual(names(items), ['Alpha.bin:10000', 'Alpha.bin:17', 'beta:5000', 'zeta.txt:8'], `block size ${blockSize}`);
      const beta = items[2]!;
      assert.ok(isChild(beta) && Buffer.from(beta.data).equals(Buffer.from(bytes(5000, 2))), 'fragmented file joined in extent order');
    }
  }
});

test('a file past its record\'s eight extents ends the walk unread (no extents overflow)', () => {
  const img = buildHfsPlus([
    { name: 'a', data: bytes(3000, 1) },
    { name: 'b', data: bytes(9 * 512, 2), extents: 9 },
    { name: 'c', data: bytes(100, 3) },
  ], { blockSize: 512 });
  assert.deepEqual(names(list(img)), ['a:3000']);
  const eight = buildHfsPlus([{ name: 'b', data: bytes(8 * 512, 2), extents: 8 }, { name: 'c', data: bytes(100, 3) }], { blockSize: 512 });
  assert.deepEqual(names(list(eight)), ['b:4096', 'c:100']);
});

test('decmpfs: inline zlib data and resource-fork blocks are decompressed, then the forks scanned', () => {
  const text = Buffer.from('compressed file body '.repeat(300));
  const big = Buffer.from(bytes(150000, 5));
  const img = buildHfsPlus([{ name: 'inline', data: text, decmpfs: 3 }, { name: 'rsrc', data: big, decmpfs: 4 }]);
  const items = list(img);
  const got = items.filter(isChild);
  assert.equal(got[0]!.name, 'inline');
  assert.ok(Buffer.from(got[0]!.data).equals(text));
  assert.equal(got[1]!.name, 'rsrc');
  assert.ok(Buffer.from(got[1]!.data).equals(big));
  // The resource fork itself follows, scanned as it is.
  assert.equal(got.length, 3);
  assert.equal(got[2]!.name, 'rsrc');
});

test('only regular files are extracted', () => {
  const img = buildHfsPlus([{ name: 'link', data: Buffer.from('target'), mode: 0o120755 }, { name: 'file', data: Buffer.from('data!!') }]);
  assert.deepEqual(names(list(img)), ['file:6']);
});

test('MaxFileSize: a fork over the limit ends the walk with that limit', () => {
  const img = buildHfsPlus([{ name: 'a', data: bytes(100, 1) }, { name: 'b', data: bytes(50000, 2) }, { name: 'c', data: bytes(100, 3) }]);
  assert.deepEqual(names(list(img, ctx(40000))), ['a:100', 'b!MaxFileSize']);
});

test('many files spread over several leaf nodes (with an index node)', () => {
  const files: HfsFile[] = [];
  for (let i = 0; i < 60; i++) files.push({ name: `file-${String(i).padStart(3, '0')}-${'x'.repeat(20)}`, data: bytes(100 + i, i) });
  const img = buildHfsPlus(files);
  const got = list(img).filter(isChild);
  assert.equal(got.length, 60);
  assert.equal(got[59]!.name, files[59]!.name);
});

test('damaged volumes: header checks, self-linked leaf, bad record offsets', () => {
  const img = buildHfsPlus([{ name: 'a', data: bytes(100, 1) }, { name: 'b', data: bytes(200, 2) }]);
  assert.equal(list(img).length, 2);
  const bs = u32(img, 1024 + 40);
  const cat = u32(img, 1024 + 272 + 16) * bs;
  const bad = (f: (b: Uint8Array) => void): number => { const c = Uint8Array.from(img); f(c); return list(c).length; };
  assert.equal(bad((b) => { b[1024 + 3] = 5; }), 0, 'H+ must be version 4');
  assert.equal(bad((b) => { b[1024 + 43] = 0x10; }), 0, 'block size not a power of two');
  assert.equal(bad((b) => { b[cat + 8] = 0; }), 0, 'catalog header node kind');
  assert.equal(bad((b) => { b[cat + 14 + 20] = 0; b[cat + 14 + 21] = 4; }), 0, 'catalog key length under 6');
  assert.equal(bad((b) => { b.set([0, 0, 0, 1], cat + 4096); }), 2, 'a leaf linking to itself: its records, then the end');
  assert.equal(bad((b) => { b[cat + 4096 + 4096 - 4] = 0xff; }), 0, 'a record offset out of order');
  assert.equal(partitionType(new Uint8Array(2000)), 'CL_TYPE_PART_ANY');
});

test('truncated and mutated volumes never throw and stay bounded', () => {
  const img = buildHfsPlus([
    { name: 'a', data: bytes(7000, 1), extents: 3 },
    { name: 'b', data: Buffer.from('compressible '.repeat(400)), decmpfs: 3 },
    { name: 'c', data: bytes(70000, 3), decmpfs: 4 },
    { name: 'd', data: bytes(300, 4), resource: bytes(900, 5) },
  ], { blockSize: 1024 });
  const full = list(img).length;
  assert.ok(full >= 5);
  const started = Date.now();
  for (let cut = 0; cut < img.length; cut += 997) list(img.subarray(0, cut));
  let seed = 12345;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let round = 0; round < 300; round++) {
    const m = Uint8Array.from(img);
    for (let k = 1 + Math.floor(rnd() * 8); k > 0; k--) m[Math.floor(rnd() * 40000)] = Math.floor(rnd() * 256);
    for (const it of list(m, ctx(1 << 20))) if (isChild(it)) assert.ok(it.data.length <= 1 << 20);
  }
  assert.ok(Date.now() - started < 20000);
});
