/**
 * Tests for the ALZ reader: archives in ALZip's layout (built here; bzip2 members need the `bzip2`
 * tool), ClamAV's rules (metadata first, members after the walk; encrypted, data-descriptor and
 * unknown-method members skipped; a damaged first record fails the archive, a later one ends it;
 * stored members cut at MaxFileSize and still scanned; a too-far deflate distance reads zeros),
 * truncation and random mutation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { alzMembers } from './alz.js';
import { alzEntry, buildAlz, type AlzEntry } from './alz-build.js';
import { drain, fuzz, fuzzContext, toolExists, wordText } from './fuzz-check.js';
import { isChild, isLimited, isMeta, type UnpackItem } from '../unpack.js';

const ctx = fuzzContext();
const hasBzip2 = toolExists('bzip2');
const read = (b: Uint8Array, c = ctx): UnpackItem[] => drain(alzMembers, b, c, 'alz');
const children = (items: UnpackItem[]): [string, string][] => items.filter(isChild).map((c) => [c.name, Buffer.from(c.data).toString('latin1')]);
const text = (s: string): Buffer => Buffer.from(s, 'latin1');

test('stored, deflate and bzip2 members come out after every member\'s metadata', { skip: hasBzip2 ? false : 'bzip2 is not installed' }, () => {
  const entries: AlzEntry[] = [
    { name: 'a/stored.txt', data: text('stored member data'), method: 'stored' },
    { name: 'dir/', directory: true },
    { name: 'b/deflate.txt', data: wordText(3000, 1), method: 'deflate' },
    { name: 'c/bzip2.txt', data: wordText(5000, 2), method: 'bzip2', width: 4 },
    { name: 'd/wide.txt', data: text('eight-byte sizes'), width: 8 },
  ];
  const items = read(buildAlz(entries));
  // Directories have no metadata check; the others are reported in order, before any member.
  assert.deepEqual(items.filter(isMeta).map((m) => [m.meta, m.position]), [['a/stored.txt', 1], ['b/deflate.txt', 3], ['c/bzip2.txt', 4], ['d/wide.txt', 5]]);
  assert.ok(items.findIndex(isChild) > items.findLastIndex(isMeta));
  assert.deepEqual(children(items), entries.filter((e) => !e.directory).map((e) => [e.name, Buffer.from(e.data!).toString('latin1')]));
});

test('the unit-test archive layout: header, local headers, central and end records', () => {
  const b = buildAlz([{ name: '1/test.txt', data: text('Test file 1.\r\n'), method: 'deflate', width: 2 }]);
  assert.deepEqual([...b.subarray(0, 12)], [0x41, 0x4c, 0x5a, 0x01, 0x0a, 0, 0, 0, 0x42, 0x4c, 0x5a, 0x01]);
  assert.deepEqual([...b.subarray(b.length - 4)], [0x43, 0x4c, 0x5a, 0x02]);
  assert.deepEqual(children(read(b)), [['1/test.txt', 'Test file 1.\r\n']]);
});

test('encrypted, data-descriptor and unknown-method members are skipped; the walk goes on', () => {
  const items = read(buildAlz([
    { name: 'enc', data: text('secret data here'), encrypted: true },
    { name: 'dd', data: text('described later'), dataDescriptor: true },
    { name: 'm9', data: text('unknown method!!'), methodByte: 9 },
    { name: 'ok', data: text('plain member') },
  ]));
  assert.deepEqual(children(items), [['ok', 'plain member']]);
  const enc = items.filter(isMeta).find((m) => m.meta === 'enc');
  assert.equal(enc?.encrypted, true);
  // No encryption heuristic for ALZ, even when asked for.
  const alerting = { ...ctx, options: { ...ctx.options, alertEncryptedArchive: true } };
  assert.ok(!read(buildAlz([{ name: 'enc', data: text('secret'), encrypted: true }]), alerting).some((i) => 'alert' in i));
});

test('a bad first record fails the archive; a later one ends the walk, keeping earlier members', () => {
  const good = alzEntry({ name: 'good', data: text('good member') });
  const head = Buffer.from([0x41, 0x4c, 0x5a, 0x01, 0x0a, 0, 0, 0]);
  const junk = Buffer.from('JUNKJUNKJUNK');
  assert.deepEqual(children(read(Buffer.concat([head, junk, good]))), []);
  assert.deepEqual(children(read(Buffer.concat([head, good, junk, good]))), [['good', 'good member']]);
  // A zero-length name fails the header.
  assert.deepEqual(children(read(Buffer.concat([head, alzEntry({ name: '', data: text('x') }), good]))), []);
  // A member whose data runs past the end ends the walk: it is not extracted.
  const past = buildAlz([{ name: 'a', data: text('first member') }, { name: 'b', data: text('second'), packedSize: 5000 }], { noEnd: true });
  assert.deepEqual(children(read(past)), [['a', 'first member']]);
  // Nothing after the end record is read.
  assert.deepEqual(children(read(Buffer.concat([buildAlz([{ name: 'a', data: text('before end') }]), good]))), [['a', 'before end']]);
});

/** Raw deflate: a non-final stored block of `data`, then a block of the reserved type 3 (damage). */
function storedThenBad(data: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from([0x00, data.length & 0xff, data.length >> 8, ~data.length & 0xff, (~data.length >> 8) & 0xff]), data, Buffer.from([0x07])]);
}

test('damaged streams: what the reads before the damage returned; empty output is not a member', () => {
  const long = wordText(40000, 3);
  const cut = deflateRawSync(wordText(20000, 4)).subarray(0, 3000);
  const items = read(buildAlz([
    { name: 'bad', data: new Uint8Array(100), method: 'deflate', packedData: storedThenBad(wordText(100, 5)) },
    { name: 'bad-long', data: long, method: 'deflate', packedData: storedThenBad(long) },
    { name: 'cut', data: new Uint8Array(20000), method: 'deflate', packedData: cut },
    { name: 'empty', data: new Uint8Array(0), method: 'stored' },
    { name: 'after', data: text('after damage') },
  ]));
  const got = new Map(items.filter(isChild).map((c) => [c.name, c.data]));
  // The read that meets damage returns nothing: here all but the output of the first 32 KiB input
  // chunk (its 5-byte block header and 32763 bytes); a cut stream keeps all it gave.
  assert.equal(got.has('bad'), false);
  assert.deepEqual(Buffer.from(got.get('bad-long')!), long.subarray(0, 32763));
  assert.ok((got.get('cut')?.length ?? 0) > 3000);
  assert.deepEqual(Buffer.from(got.get('cut')!), wordText(20000, 4).subarray(0, got.get('cut')!.length));
  assert.equal(got.has('empty'), false);
  assert.equal(Buffer.from(got.get('after')!).toString(), 'after damage');
});

test('a distance before the start of the output copies zeros', () => {
  // A fixed-Huffman block: literal 'A', then a match of length 3 at distance 4 (one byte too far), then end.
  const bits: number[] = [];
  const put = (v: number, n: number, reversed = false): void => { for (let i = 0; i < n; i++) bits.push(reversed ? (v >> (n - 1 - i)) & 1 : (v >> i) & 1); };
  put(1, 1); put(1, 2);
  put(0x30 + 0x41, 8, true); // literal 'A'
  put(1, 7, true); // length code 257 (3)
  put(3, 5, true); // distance code 3 (4)
  put(0, 7, true); // end of block
  const bytes = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((bit, i) => { bytes[i >> 3]! |= bit << (i & 7); });
  const items = read(buildAlz([{ name: 'far', data: new Uint8Array(4), method: 'deflate', packedData: bytes }]));
  assert.deepEqual([...items.filter(isChild)[0]!.data], [0x41, 0, 0, 0]);
});

test('limits: output past MaxFileSize is cut and still scanned, with the limit reported first', () => {
  const big = wordText(5000, 5);
  const small = fuzzContext(1000);
  const items = read(buildAlz([{ name: 's', data: big }, { name: 'd', data: big, method: 'deflate' }, { name: 't', data: text('tiny') }]), small);
  const limited = items.filter(isLimited);
  assert.deepEqual(limited.map((l) => l.limit), ['MaxFileSize']);
  assert.ok(items.indexOf(limited[0]!) < items.findIndex(isChild));
  assert.deepEqual(children(items).map(([n, d]) => [n, d.length]), [['s', 1000], ['d', 1000], ['t', 4]]);
  assert.equal(children(items)[1]![1], big.subarray(0, 1000).toString('latin1'));
  // MaxFiles: the first member past it ends the walk (members of 5 bytes or less do not count).
  const few = { ...ctx, limits: { ...ctx.limits, maxFiles: 2 } };
  const list = read(buildAlz([{ name: 'a', data: text('member a') }, { name: 'b', data: text('tiny') }, { name: 'c', data: text('member c') }, { name: 'd', data: text('member d') }]), few);
  assert.deepEqual(children(list).map(([n]) => n), ['a', 'b', 'c']);
  assert.ok(list.some((i) => isLimited(i) && i.limit === 'MaxFiles'));
});

test('a name holding a NUL gets no metadata check', () => {
  const items = read(buildAlz([{ name: 'a\0b', data: text('nul in name') }]));
  assert.equal(items.filter(isMeta).length, 0);
  assert.equal(items.filter(isChild).length, 1);
});

test('truncation and random mutation: no throw, bounded output and time', { skip: hasBzip2 ? false : 'bzip2 is not installed' }, () => {
  const sample = buildAlz([
    { name: 'one', data: wordText(900, 6), method: 'deflate' },
    { name: 'two', data: wordText(700, 7), method: 'bzip2' },
    { name: 'dir/', directory: true },
    { name: 'three', data: wordText(300, 8), encrypted: true },
    { name: 'four', data: wordText(400, 9), width: 8 },
  ]);
  assert.ok(fuzz(alzMembers, sample, 20261129) > 300);
});

test('MaxScanSize: members are cut to what remains of it after the layers already scanned', () => {
  const c = { ...ctx, limits: { ...ctx.limits, maxScanSize: 1000 }, scannedSize: () => 400 };
  const items = read(buildAlz([{ name: 'a', data: wordText(500, 10) }, { name: 'b', data: wordText(500, 11), method: 'deflate' }]), c);
  assert.deepEqual(children(items).map(([n, d]) => [n, d.length]), [['a', 500], ['b', 100]]);
  assert.deepEqual(items.filter(isLimited).map((l) => l.limit), ['MaxScanSize']);
});
