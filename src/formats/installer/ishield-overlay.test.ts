import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { peOverlay, scanIshieldOverlay, scanPeOverlay } from './ishield-overlay.js';
import { buildIsCabinets, buildIsOverlay, buildSetupPe, type IsCabFile, type IsRecord } from './fixtures.js';
import { scanpeInfo } from '../packers/upx.js';
import { scanPacked } from '../packers/index.js';
import { DEFAULT_UNPACK_OPTIONS, isChild, isLimited, isMeta, type UnpackContext, type UnpackItem } from '../unpack.js';

const ctx = (maxFileSize = 1 << 26, maxFiles = 10000): UnpackContext => ({
  limits: { maxFileSize, maxFiles, maxScanSize: 1 << 28 },
  options: { ...DEFAULT_UNPACK_OPTIONS },
});
const text = (s: string, n = 1): Buffer => Buffer.from(s.repeat(n), 'latin1');
/** The items of a setup PE carrying `records` (and `tail` after them), as short strings. */
function run(records: readonly IsRecord[], opts: { tail?: Uint8Array; c?: UnpackContext } = {}): string[] {
  const pe = buildSetupPe(Buffer.concat([buildIsOverlay(records), opts.tail ?? Buffer.from('END')]));
  return [...scanPacked(pe, opts.c ?? ctx())].map(show);
}
function show(i: UnpackItem): string {
  if (isMeta(i)) return `meta ${i.meta} ${i.size} #${i.position}`;
  if (isLimited(i)) return `limit ${i.name} ${i.limit}`;
  if (isChild(i)) return `child ${i.name} ${Buffer.from(i.data).toString('latin1').slice(0, 24)}`;
  return `alert ${i.alert}`;
}

test('overlay: where ClamAV puts it (after the section reaching furthest in memory, never after the first alone)', () => {
  const pe = buildSetupPe(Buffer.from('tail'));
  const info = scanpeInfo(pe)!;
  assert.deepEqual(peOverlay(info.sections, pe.length), { start: 0x600, size: 4 });
  assert.deepEqual(peOverlay(info.sections.slice(0, 1), pe.length), { start: 0, size: pe.length });
  // The furthest section first in the table: the overlay is not set.
  assert.equal(peOverlay([info.sections[1]!, info.sections[0]!], pe.length).start, 0);
});

test('overlay records: metadata for each, plain files given, the last one only with bytes after it', () => {
  const recs = [{ name: 'setup.ini', data: text('[Startup]\n') }, { name: 'readme.txt', data: text('read me') }];
  assert.deepEqual(run(recs), [
    'meta setup.ini 10 #0', 'child setup.ini [Startup]\n', 'meta readme.txt 7 #1', 'child readme.txt read me',
  ]);
  // Nothing after the last record: ClamAV's size check refuses it.
  const pe = buildSetupPe(buildIsOverlay(recs));
  assert.deepEqual([...scanPacked(pe, ctx())].map(show), ['meta setup.ini 10 #0', 'child setup.ini [Startup]\n']);
  // An empty file is reported but not given.
  assert.deepEqual(run([{ name: 'empty', data: Buffer.alloc(0) }]), ['meta empty 0 #0']);
});

test('overlay records: size strings as strtol reads them', () => {
  const one = (size: string): string[] => run([{ name: 'a', size, data: text('abcd') }]);
  for (const ok of ['4', ' 4', '+4', '0004', '\t4']) assert.deepEqual(one(ok), ['meta a 4 #0', 'child a abcd'], ok);
  for (const bad of ['4 ', '4x', '', '-4', 'x', '99999999999999999999999']) assert.deepEqual(one(bad), [], bad);
  // A size reaching past the overlay ends the walk.
  assert.deepEqual(one('9999'), []);
});

function cabSet(files: IsCabFile[]): { hdr: Uint8Array; cabs: Map<number, Uint8Array> } {
  return buildIsCabinets(files);
}

test('cabinets: the header\'s files are inflated; header and cabinets are not given when all came out', () => {
  const big = text('line of text in a big file\n', 4000);
  const { hdr, cabs } = cabSet([
    { name: 'a.exe', dir: 'INSTALLDIR', data: text('alpha file') },
    { name: 'b.dll', dir: 'SYS', data: big, cab: 2, chunk: 0x400 },
    { name: 'c.txt', data: text('duplicate'), dup: 1 },
    { name: 'd.txt', data: text('external'), flags: 0 },
  ]);
  const items = run([{ name: 'data1.hdr', data: hdr }, { name: 'data1.cab', data: cabs.get(1)! }, { name: 'data2.cab', data: cabs.get(2)! }]);
  assert.deepEqual(items.filter((s) => !s.startsWith('meta')), ['child INSTALLDIR\\a.exe alpha file', 'child SYS\\b.dll line of text in a big fi']);
  const pe = buildSetupPe(Buffer.concat([buildIsOverlay([{ name: 'data1.hdr', data: hdr }, { name: 'DATA2.CAB', data: cabs.get(2)! }]), text('x')]));
  const kid = [...scanPacked(pe, ctx())].filter(isChild);
  // data1.cab missing: a.exe (and the others in it) cannot be read, so the header and cabinet are given whole.
  assert.deepEqual(kid.map((k) => k.name), ['SYS\\b.dll', 'data1.hdr', 'data2.cab']);
  assert.ok(Buffer.from(kid[0]!.data).equals(big));
});

test('cabinets: a damaged chunk drops its file; a bad header magic or no cabinet gives everything whole', () => {
  const { hdr, cabs } = cabSet([{ name: 'a.exe', data: text('alpha file '.repeat(30)) }, { name: 'b.exe', data: text('beta file') }]);
  const cab = Buffer.from(cabs.get(1)!);
  // The first file's stream: a block type of 3 (invalid) in its first byte.
  cab[6] = cab[6]! | 0x06;
  const items = run([{ name: 'data1.hdr', data: hdr }, { name: 'data1.cab', data: cab }]).filter((s) => s.startsWith('child'));
  assert.deepEqual(items.map((s) => s.split(' ')[1]), ['INSTALLDIR\\b.exe', 'data1.hdr', 'data1.cab']);
  const bad = Buffer.from(hdr);
  bad[0] = 0;
  assert.deepEqual(run([{ name: 'data1.hdr', data: bad }, { name: 'data1.cab', data: cabs.get(1)! }]).filter((s) => s.startsWith('child')).map((s) => s.split(' ')[1]), ['data1.hdr', 'data1.cab']);
  assert.deepEqual(run([{ name: 'data1.hdr', data: hdr }]).filter((s) => s.startsWith('child')).map((s) => s.split(' ')[1]), ['data1.hdr']);
});

test('cabinets: ClamAV\'s repeat check compares the index with the cabinet number', () => {
  const { hdr, cabs } = cabSet([{ name: 'one', data: text('in cab two'), cab: 2 }, { name: 'two', data: text('in cab one'), cab: 1 }]);
  const extra = text('not a cabinet really');
  const items = run([
    { name: 'data2.cab', data: cabs.get(2)! }, { name: 'data1.cab', data: cabs.get(1)! }, { name: 'data3.cab', data: extra }, { name: 'data1.hdr', data: hdr },
  ]);
  // cabs[1] is number 1: data3.cab counts as a repeat and is given as a plain file at once.
  assert.deepEqual(items.filter((s) => s.startsWith('child')), ['child data3.cab not a cabinet really', 'child INSTALLDIR\\one in cab two', 'child INSTALLDIR\\two in cab one']);
  // A second data1.hdr is a plain file.
  const twice = run([{ name: 'data1.hdr', data: hdr }, { name: 'DATA1.HDR', data: text('second') }, { name: 'data1.cab', data: cabs.get(1)! }]);
  assert.ok(twice.includes('child DATA1.HDR second'));
});

test('cabinets: output past MaxFileSize is cut there and still given, after the limit', () => {
  const big = text('0123456789abcdef', 20000); // 320000 bytes in 64 KiB-input chunks
  const { hdr, cabs } = cabSet([{ name: 'big', data: big, chunk: 0x8000 }]);
  const recs = [{ name: 'data1.hdr', data: hdr }, { name: 'data1.cab', data: cabs.get(1)! }];
  const items = [...scanPacked(buildSetupPe(Buffer.concat([buildIsOverlay(recs), text('x')])), ctx(100000))];
  const lim = items.filter(isLimited);
  const kids = items.filter(isChild);
  assert.equal(lim.length, 1);
  assert.equal(kids.length, 1);
  assert.equal(kids[0]!.data.length, 100000);
  assert.ok(Buffer.from(kids[0]!.data).equals(big.subarray(0, 100000)));
});

test('cabinets: chunk framing (an empty chunk last, an odd byte left, a chunk longer than the data) drops the file', () => {
  const base = cabSet([{ name: 'f', data: text('framed file') }]);
  const z = deflateRawSync(text('framed file'));
  const hdrFor = (stream: Buffer): { hdr: Buffer; cab: Buffer } => {
    const hdr = Buffer.from(base.hdr);
    const at = hdr.length - 87 - 2; // the one descriptor, before its name "f\0"
    hdr.writeBigUInt64LE(BigInt(stream.length), at + 10);
    return { hdr, cab: Buffer.concat([Buffer.from('ISc('), stream]) };
  };
  const len = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(n, 0); return b; };
  const cases: [string, Buffer, boolean][] = [
    ['plain', Buffer.concat([len(z.length), z]), true],
    ['empty chunk last', Buffer.concat([len(z.length), z, len(0)]), false],
    ['odd byte left', Buffer.concat([len(z.length), z, Buffer.from([7])]), false],
    ['chunk longer than the data', Buffer.concat([len(z.length + 5), z]), false],
    ['stream cut short', Buffer.concat([len(z.length - 3), z.subarray(0, z.length - 3)]), true],
  ];
  for (const [what, stream, given] of cases) {
    const { hdr, cab } = hdrFor(stream);
    const kids = run([{ name: 'data1.hdr', data: hdr }, { name: 'data1.cab', data: cab }]).filter((s) => s.startsWith('child'));
    assert.equal(kids.some((s) => s.startsWith('child INSTALLDIR\\f')), given, what);
  }
});

test('InstallShield overlay: truncation and random damage never throw, output bounded', () => {
  const { hdr, cabs } = cabSet([{ name: 'a', data: text('some text ', 3000) }, { name: 'b', data: text('more'), cab: 2 }]);
  const overlay = Buffer.concat([buildIsOverlay([{ name: 'setup.ini', data: text('[x]') }, { name: 'data1.hdr', data: hdr }, { name: 'data1.cab', data: cabs.get(1)! }, { name: 'data2.cab', data: cabs.get(2)! }]), text('tail')]);
  const pe = Buffer.from(buildSetupPe(overlay));
  const start = pe.length - overlay.length;
  const check = (b: Uint8Array): void => {
    for (const i of scanIshieldOverlay(b, start, (b.length - start) >>> 0, ctx(20000))) if (isChild(i)) assert.ok(i.data.length <= Math.max(20000, b.length));
  };
  for (let cut = start; cut <= pe.length; cut += 3) check(pe.subarray(0, cut));
  let seed = 7;
  for (let round = 0; round < 400; round++) {
    const m = Buffer.from(pe);
    for (let k = 0; k < 4; k++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      m[start + (seed % overlay.length)] = seed >>> 24;
    }
    check(m);
    const info = scanpeInfo(m);
    if (info) for (const _ of scanPeOverlay(m, info, ctx())) { /* drain */ }
  }
  // A header claiming billions of descriptors out of the file ends quickly.
  const h = Buffer.from(hdr);
  h.writeUInt32LE(0xffffffff, 0x200 + 40);
  const t0 = Date.now();
  check(buildSetupPe(Buffer.concat([buildIsOverlay([{ name: 'data1.hdr', data: h }, { name: 'data1.cab', data: cabs.get(1)! }]), text('x')])));
  assert.ok(Date.now() - t0 < 5000);
});
