/**
 * Tests for the EGG reader: archives in ALZip's layout (built here; bzip2 blocks need the `bzip2`
 * tool, LZMA ones `xz`), ClamAV's rules (comments first, then files; blocks joined; LZMA, AZO and
 * solid archives not extracted; directories by ClamAV's constants; encrypted files skipped and
 * alerted once; a damaged file or block header fails the whole archive, a damaged extra field only
 * ends its list; the code-page filename overshoot), limits, truncation and random mutation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { eggMembers } from './egg.js';
import { buildEgg, type EggFileSpec } from './egg-build.js';
import { drain, fuzz, fuzzContext, toolExists, wordText } from './fuzz-check.js';
import { isAlert, isChild, isLimited, isMeta, type UnpackContext, type UnpackItem } from '../unpack.js';

const ctx = fuzzContext();
const alerting: UnpackContext = { ...ctx, options: { ...ctx.options, alertEncryptedArchive: true } };
const hasTools = toolExists('bzip2') && toolExists('xz');
const read = (b: Uint8Array, c = ctx): UnpackItem[] => drain(eggMembers, b, c, 'egg');
const children = (items: UnpackItem[]): [string, string][] => items.filter(isChild).map((c) => [c.name, Buffer.from(c.data).toString('latin1')]);
const text = (s: string): Buffer => Buffer.from(s, 'latin1');

test('stored, deflate and bzip2 files, in several blocks, after the archive comments', { skip: hasTools ? false : 'bzip2 or xz is not installed' }, () => {
  const files: EggFileSpec[] = [
    { name: 'a/stored.txt', data: text('stored file data') },
    { name: 'b/deflate.txt', data: wordText(5000, 1), method: 'deflate', blocks: 3 },
    { name: 'c/bzip2.txt', data: wordText(4000, 2), method: 'bzip2', blocks: 2 },
  ];
  const items = read(buildEgg(files, { comments: ['first comment', 'cut\0here'] }));
  assert.deepEqual(children(items), [['comment0', 'first comment'], ['comment1', 'cut'], ...files.map((f): [string, string] => [f.name, Buffer.from(f.data!).toString('latin1')])]);
  // Each file's metadata comes before the file.
  assert.deepEqual(items.filter(isMeta).map((m) => [m.meta, m.position, m.size]), files.map((f, i) => [f.name, i + 1, f.data!.length]));
});

test('LZMA and AZO blocks, solid archives: listed, not extracted', { skip: hasTools ? false : 'bzip2 or xz is not installed' }, () => {
  const items = read(buildEgg([{ name: 'l', data: wordText(500, 3), method: 'lzma' }, { name: 'z', data: wordText(500, 4), method: 'azo' }, { name: 'ok', data: text('plain') }]));
  assert.deepEqual(children(items), [['ok', 'plain']]);
  const solid = read(buildEgg([{ name: 's1', data: wordText(300, 5) }, { name: 's2', data: wordText(300, 6) }], { solid: true, comments: ['solid comment'] }));
  assert.deepEqual(children(solid), [['comment0', 'solid comment']]);
  assert.deepEqual(solid.filter(isMeta).map((m) => [m.meta, m.compressedSize, m.size]), [['s1', 0, 300], ['s2', 0, 300]]);
});

test('directories by ClamAV\'s constants; stored blocks whose sizes differ are skipped', () => {
  const items = read(buildEgg([
    { name: 'win-dir', directory: true },
    { name: 'posix-hex-dir', data: text('not extracted'), posixMode: 0x40000 | 0o644 },
    { name: 'posix-real-dir', data: text('a file to ClamAV'), posixMode: 0o40755 },
    { name: 'mismatch', data: text('declared wrong'), unpackedSize: 3 },
  ]));
  assert.deepEqual(children(items), [['posix-real-dir', 'a file to ClamAV']]);
  assert.deepEqual(items.filter(isMeta).map((m) => m.meta), ['win-dir', 'posix-hex-dir', 'posix-real-dir', 'mismatch']);
});

test('encrypted files: skipped; with AlertEncryptedArchive one alert, and the listing ends after the first', () => {
  const files: EggFileSpec[] = [
    { name: 'p1', data: text('plain one') },
    { name: 'e1', data: text('secret one'), encrypt: 'xor' },
    { name: 'e2', data: text('secret two'), encrypt: 'aes256' },
    { name: 'p2', data: text('plain two') },
  ];
  const quiet = read(buildEgg(files));
  assert.deepEqual(children(quiet), [['p1', 'plain one'], ['p2', 'plain two']]);
  assert.ok(!quiet.some(isAlert));
  const loud = read(buildEgg(files), alerting);
  assert.deepEqual(children(loud), [['p1', 'plain one']]);
  assert.deepEqual(loud.filter(isAlert).map((a) => a.alert), ['Heuristics.Encrypted.EGG']);
  assert.equal(loud.filter(isMeta).at(-1)?.meta, 'e1');
  // An encryption field of a size ClamAV does not accept ends the field list: the file is not encrypted to it.
  const odd = buildEgg([{ name: 'x', data: text('odd encryption'), encrypt: 'xor' }]);
  const at = Buffer.from(odd).indexOf(Buffer.from([0x0f, 0x47, 0xd1, 0x08]));
  odd[at + 5] = 30; // declared size: 23 data bytes where KeyBase needs 17
  assert.ok(!read(odd, alerting).some(isAlert));
});

test('damage: a bad file or block header fails the whole archive; a file without a name ends the listing', () => {
  const good = buildEgg([{ name: 'a', data: text('first file') }, { name: 'b', data: text('second file') }]);
  const blockAt = Buffer.from(good).lastIndexOf(Buffer.from([0x13, 0x0c, 0xb5, 0x02]));
  const noMark = Uint8Array.from(good);
  noMark[blockAt + 18] = noMark[blockAt + 18]! ^ 0xff; // the EOFARC after the second block header
  assert.deepEqual(children(read(noMark)), []);
  const unknown = Uint8Array.from(good);
  unknown[good.length - 4] = 0x99; // the final EOFARC becomes an unknown record
  assert.deepEqual(children(read(unknown)), []);
  // A cut: the second block's data is not all there.
  assert.deepEqual(children(read(good.subarray(0, good.length - 6))), []);
  // Bytes running out after a whole record are the end.
  assert.deepEqual(children(read(good.subarray(0, good.length - 4))).map(([n]) => n), ['a', 'b']);
  const nameless = buildEgg([{ name: 'a', data: text('first') }, { name: 'b', data: text('second'), noName: true }, { name: 'c', data: text('third') }]);
  assert.deepEqual(children(read(nameless)).map(([n]) => n), ['a']);
  // An empty block (no data) fails the archive.
  const empty = buildEgg([{ name: 'a', data: text('x'), packedData: new Uint8Array(0), packedSize: 0 }]);
  assert.deepEqual(children(read(empty)), []);
});

test('a filename field with a code page is skipped by its size plus 2 bytes', () => {
  // The overshoot lands inside the next field: here the Windows field's 9-byte body is read as an
  // unknown field whose size runs past the end, and no file is read at all.
  const items = read(buildEgg([{ name: 'cp.txt', data: text('code page name'), nameFlags: 0x08 }, { name: 'b', data: text('after') }]));
  assert.deepEqual(children(items), []);
});

test('damaged streams: what came before the damage; a block that gives nothing leaves the file out', () => {
  const data = wordText(3000, 7);
  const stored = Buffer.concat([Buffer.from([0x00, 0xb8, 0x0b, 0x47, 0xf4]), data, Buffer.from([0x07])]);
  const items = read(buildEgg([
    { name: 'partial', data, method: 'deflate', packedData: stored },
    { name: 'garbage', data: text('xx'), method: 'deflate', packedData: Buffer.from([0x07, 0, 0]) },
    { name: 'cut', data: wordText(9000, 8), method: 'deflate', packedData: deflateRawSync(wordText(9000, 8)).subarray(0, 400) },
  ]));
  const got = new Map(children(items));
  assert.equal(got.get('partial'), data.toString('latin1'));
  assert.equal(got.has('garbage'), false);
  assert.ok(wordText(9000, 8).toString('latin1').startsWith(got.get('cut')!));
});

test('limits: a file whose declared size passes MaxFileSize is refused; a bomb is stopped at the limit', () => {
  const small = fuzzContext(1000);
  const big = wordText(5000, 9);
  const items = read(buildEgg([{ name: 'big', data: big, method: 'deflate' }, { name: 'lie', data: big, method: 'deflate', unpackedSize: 10 }, { name: 's', data: text('small') }]), small);
  assert.deepEqual(items.filter(isLimited).map((l) => [l.name, l.limit]), [['big', 'MaxFileSize'], ['lie', 'MaxFileSize']]);
  assert.deepEqual(children(items), [['s', 'small']]);
});

test('an EGG found inside another layer is read from its offset', async () => {
  const { family } = await import('./index.js');
  const egg = buildEgg([{ name: 'in', data: text('inside a host') }]);
  const host = Buffer.concat([Buffer.alloc(300, 0x90), egg]);
  const items = [...family.embedded!.CL_TYPE_EGGSFX!(host, 300, ctx)];
  assert.deepEqual(children(items), [['in', 'inside a host']]);
});

test('truncation and random mutation: no throw, bounded output and time', { skip: hasTools ? false : 'bzip2 or xz is not installed' }, () => {
  const sample = buildEgg([
    { name: 'one', data: wordText(900, 10), method: 'deflate', blocks: 2, comment: 'note' },
    { name: 'two', data: wordText(700, 11), method: 'bzip2' },
    { name: 'dir', directory: true },
    { name: 'three', data: wordText(300, 12), encrypt: 'aes128' },
    { name: 'four', data: wordText(400, 13), nameFlags: 0x18, posixMode: 0o100644 },
  ], { comments: ['archive comment'], split: { prev: 0, next: 2 } });
  assert.ok(fuzz(eggMembers, sample, 20261129) > 300);
  assert.ok(fuzz((b, c) => eggMembers(b, { ...c, options: { ...c.options, alertEncryptedArchive: true } }), sample, 7, 50, 100) > 100);
});

test('MaxScanSize: a declared size past what remains is refused; a full budget ends the listing', () => {
  let used = 600;
  const c: UnpackContext = { ...ctx, limits: { ...ctx.limits, maxScanSize: 1000 }, scannedSize: () => used };
  const items: UnpackItem[] = [];
  for (const item of eggMembers(buildEgg([{ name: 'big', data: wordText(500, 14) }, { name: 'fits', data: wordText(300, 15) }, { name: 'after', data: wordText(50, 16) }]), c)) {
    items.push(item);
    if (isChild(item)) used += 400;
  }
  assert.deepEqual(items.filter(isLimited).map((l) => [l.name, l.limit]), [['big', 'MaxScanSize']]);
  assert.deepEqual(children(items).map(([n]) => n), ['fits']);
  assert.ok(!items.some((i) => isMeta(i) && i.meta === 'after'));
});
