import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_UNPACK_OPTIONS, isChild, type UnpackContext, type UnpackItem } from '../unpack.js';
import { udfMembers } from './udf.js';
import { buildUdf, type UdfNode } from './udf-build.js';

const ctx: UnpackContext = { limits: { maxFileSize: 1 << 26, maxFiles: 10000, maxScanSize: 1 << 28 }, options: { ...DEFAULT_UNPACK_OPTIONS } };
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);
const list = (b: Uint8Array, offset = 32768): UnpackItem[] => [...udfMembers(b, offset, ctx)];
const datas = (b: Uint8Array, offset = 32768): string[] => list(b, offset).filter(isChild).map((c) => str(c.data));

const tree = (): UdfNode[] => [
  { name: 'a.txt', data: text('alpha file') },
  { name: 'b.txt', data: text('bravo '.repeat(600)) },
  { name: 'sub', children: [{ name: 'c.txt', data: text('charlie in sub') }] },
];

test('files of a UDF volume are extracted in the pairing ClamAV makes', () => {
  // Entries: root, a, b, sub, c; identifiers: root's parent, a, b, sub, sub's parent, c.
  // The fifth pair is (c's entry, sub's parent identifier): a directory, skipped.
  assert.deepEqual(datas(buildUdf(tree())), ['alpha file', 'bravo '.repeat(600)]);
});

test('entries packed in one block are all collected', () => {
  const files = [{ name: 'a', data: text('one file') }, { name: 'b', data: text('two file') }, { name: 'c', data: text('three file') }];
  assert.deepEqual(datas(buildUdf(files, { packEntries: true })), ['one file', 'two file', 'three file']);
});

test('nothing is extracted without a block that ends the collection, or with descriptors out of order', () => {
  // File data starting with a non-zero tag ends the collection too: data starting with zeros does not.
  const quiet: UdfNode[] = [{ name: 'a', data: text('\0\0quiet one') }, { name: 'b', data: text('\0\0quiet two') }];
  assert.deepEqual(datas(buildUdf(quiet, { trailer: false })), []);
  assert.deepEqual(datas(buildUdf(quiet)), ['\0\0quiet one', '\0\0quiet two']);
  assert.deepEqual(datas(buildUdf(tree(), { trailer: false })), ['alpha file', 'bravo '.repeat(600)]);
  assert.deepEqual(datas(buildUdf(tree(), { lvdFirst: false })), []);
  assert.deepEqual(datas(buildUdf(tree()), 32767), []);
});

test('a volume without a file set descriptor is still walked', () => {
  assert.deepEqual(datas(buildUdf(tree(), { fsd: false })), ['alpha file', 'bravo '.repeat(600)]);
});

test('in-ICB data and a foreign partition reference end the extraction; long descriptors are moved by the partition start', () => {
  const files: UdfNode[] = [{ name: 'a', data: text('first one') }, { name: 'b', data: text('embedded'), ad: 'inicb' }, { name: 'c', data: text('never') }];
  assert.deepEqual(datas(buildUdf(files)), ['first one']);
  const ref: UdfNode[] = [{ name: 'a', data: text('first one') }, { name: 'b', data: text('xx'), ad: 'long' }, { name: 'c', data: text('never') }];
  assert.deepEqual(datas(buildUdf(ref, { partRef: 3 })), ['first one']);
  const body = new Uint8Array(4000).map((_, i) => i & 0xff);
  const img = buildUdf([{ name: 'l', data: body, ad: 'long' }, { name: 'e', data: body, ad: 'ext' }]);
  const got = list(img).filter(isChild);
  assert.equal(got.length, 2);
  // ClamAV adds the partition start (257) as bytes: the data read starts 257 bytes later.
  assert.equal(got[0]!.data[0], body[257]);
  assert.equal(got[0]!.data.length, body.length);
});

test('extended file entries are passed over', () => {
  const files: UdfNode[] = [{ name: 'a', data: text('plain entry'), efe: true }, { name: 'b', data: text('second entry') }];
  // The extended entry is not collected: the second file's entry pairs with the first identifier.
  assert.deepEqual(datas(buildUdf(files)), ['second entry']);
});

test('cut short or mutated, the reader never throws and stays bounded', () => {
  const img = buildUdf(tree());
  for (let cut = 0; cut <= img.length; cut += 509) assert.doesNotThrow(() => list(img.subarray(0, cut)));
  let seed = 7;
  const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let round = 0; round < 300; round++) {
    const m = Uint8Array.from(img);
    for (let k = 0; k < 12; k++) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
    const t0 = Date.now();
    for (const item of udfMembers(m, 32768, ctx)) if (isChild(item)) assert.ok(item.data.length <= m.length);
    assert.ok(Date.now() - t0 < 2000);
  }
});
