import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { isChild, isLimited, type UnpackItem } from '../unpack.js';
import { drain, fuzz, fuzzContext, toolExists } from './fuzz-check.js';
import { xarMembers } from './xar.js';
import { buildXar, type XarEncoding } from './xar-build.js';
import { xmlNodes } from '../xmlreader.js';

const hasXz = toolExists('xz') && toolExists('bzip2');
const ctx = fuzzContext(1 << 20);
const read = (b: Uint8Array, c = ctx): UnpackItem[] => drain(xarMembers, b, c, 'xar');
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

test('every encoding is extracted in TOC order after the TOC itself', { skip: hasXz ? false : 'xz or bzip2 is not installed' }, () => {
  const encodings: XarEncoding[] = ['gzip', 'lzma', 'none', 'bzip2', 'xz'];
  const files = encodings.map((encoding, i) => ({ name: `f${i}`, data: Buffer.from(`payload ${i} `.repeat(40 + i)), encoding }));
  const items = read(buildXar(files)).filter(isChild);
  assert.equal(items.length, 6);
  assert.match(text(items[0]!.data), /^<\?xml[\s\S]*<toc>/);
  // gzip (zlib), LZMA and stored extents come out decoded; bzip2 and xz are left to their own readers.
  for (const i of [0, 1, 2]) assert.deepEqual(Buffer.from(items[i + 1]!.data), files[i]!.data);
  assert.equal(text(items[4]!.data).slice(0, 3), 'BZh');
  assert.deepEqual([...items[5]!.data.subarray(0, 6)], [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
});

test('subdocuments come before the files; extended attributes are files too', () => {
  const items = read(buildXar([{ name: 'a', data: Buffer.from('data-a'), encoding: 'none', ea: true }], { subdocs: ['<info>kept</info>'] })).filter(isChild);
  assert.deepEqual(items.map((i) => i.name), ['toc', 'subdoc0', 'file0']);
  assert.equal(text(items[1]!.data), '<info>kept</info>');
  assert.equal(text(items[2]!.data), 'data-a');
});

test('limits: the TOC over MaxFileSize ends the archive; stored extents are cut, decoded ones refused', () => {
  const big = Buffer.alloc(5000, 0x41);
  const small = fuzzContext(3000);
  const items = read(buildXar([{ name: 's', data: big, encoding: 'none' }, { name: 'z', data: big, encoding: 'gzip' }]), small);
  const stored = items.filter(isChild).find((i) => i.name === 'file0');
  assert.equal(stored?.data.length, 3000);
  assert.ok(items.some((i) => isLimited(i) && i.name === 'file1' && i.limit === 'MaxFileSize'));
  const tiny = read(buildXar([{ name: 's', data: big, encoding: 'none' }]), fuzzContext(100));
  assert.deepEqual(tiny.map((i) => (isLimited(i) ? `${i.name}:${i.limit}` : 'child')), ['toc:MaxFileSize']);
});

test('damage: a TOC that does not inflate to its end gives nothing; a bad extent is skipped; a missing size ends the walk', () => {
  const x = Buffer.from(buildXar([{ name: 'a', data: Buffer.from('aaaa'), encoding: 'none' }]));
  const cut = Buffer.from(x);
  cut.writeBigUInt64BE(cut.readBigUInt64BE(8) - 5n, 8);
  assert.deepEqual(read(cut), []);
  const badExtent = Uint8Array.from(deflateSync(Buffer.from('bad')));
  badExtent[3] = badExtent[3]! ^ 0xff;
  const items = read(buildXar([
    { name: 'bad', data: Buffer.from('bad'), encoding: 'gzip', archived: badExtent },
    { name: 'good', data: Buffer.from('good'), encoding: 'gzip' },
  ])).filter(isChild);
  assert.deepEqual(items.map((i) => i.name), ['toc', 'file1']);
  const noSize = read(buildXar([{ name: 'a', data: Buffer.from('aaaa'), encoding: 'none' }], {
    tocTemplate: '<xar><toc><file><data><offset>20</offset><length>4</length></data></file>{{FILES}}</toc></xar>',
  })).filter(isChild);
  assert.deepEqual(noSize.map((i) => i.name), ['toc']);
});

test('the XML reader stops as libxml2 does: at the chunk holding an error, looking one tag ahead', () => {
  const pad = '<p>x</p>'.repeat(80); // 640 bytes: the error falls in the second 512-byte chunk
  const nodes = [...xmlNodes(`<a>${pad}<b>1</b><c/></wrong></a>`)];
  const names = nodes.filter((n) => n.kind === 'element').map((n) => (n.kind === 'element' ? n.name : ''));
  assert.ok(names.length > 1 && names.length < 82, `${names.length} elements before the failing chunk`);
  assert.ok(!names.includes('c'));
  // An error found only at the end (an element left open) keeps every node.
  const open = [...xmlNodes(`<a>${pad}<b>1</b>`)];
  assert.equal(open.filter((n) => n.kind === 'element').length, 82);
});

test('hostile input: cuts and mutations of a XAR never throw, hang or pass the limit', { skip: hasXz ? false : 'xz is not installed' }, () => {
  const sample = buildXar([
    { name: 'a', data: Buffer.from('first file '.repeat(50)), encoding: 'gzip' },
    { name: 'b', data: Buffer.from('second file '.repeat(50)), encoding: 'lzma' },
    { name: 'c', data: Buffer.from('third file'), encoding: 'none' },
  ], { subdocs: ['<i>s</i>'] });
  const runs = fuzz((b, c) => xarMembers(b, c), sample, 20261129, 150, 300, [0, 60]);
  assert.ok(runs >= 450);
});
