/**
 * Tests for the ZIP reader. Archives are built by `test/helpers/zip-writer.ts` so that each test
 * controls every header field (descriptors, ZIP64, overlaps, bad offsets, cuts); when Python's
 * `zipfile` or Info-ZIP's `zip` is installed, listings are also checked against archives they make.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../core/crc32.js';
import { extractEntry, newBudget, readZip, type ZipEntry, type ZipExtractResult, type ZipListing } from './zip.js';
import { buildZip, type WriterEntry } from '../../test/helpers/zip-writer.js';
import { Prng } from '../../test/helpers/prng.js';

const LIMITS = { maxFiles: 1000, maxEntrySize: 16 * 1024 * 1024, maxTotal: 64 * 1024 * 1024 };
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
const codes = (l: ZipListing): string[] => l.problems.map((p) => p.code);

function dataOf(r: ZipExtractResult): Uint8Array {
  if (!('data' in r) || 'error' in r) assert.fail(`expected data, got ${JSON.stringify(r)}`);
  return r.data;
}

function errorOf(r: ZipExtractResult): string {
  if (!('error' in r)) assert.fail('expected an error, got data');
  return r.error;
}

function entry(l: ZipListing, name: string): ZipEntry {
  const e = l.entries.find((x) => x.name.text === name);
  assert.ok(e, `no entry named ${name} in ${l.entries.map((x) => x.name.text).join(', ')}`);
  return e;
}

const LOREM = 'lorem ipsum dolor sit amet '.repeat(40);

test('crc32 in core gives the standard check value and continues across pieces', () => {
  const all = new TextEncoder().encode('123456789');
  assert.equal(crc32(all), 0xcbf43926);
  assert.equal(crc32(all.subarray(4), crc32(all.subarray(0, 4))), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

test('readZip lists stored and deflated entries from the central directory and extractEntry returns their bytes', () => {
  const z = buildZip([
    { name: 'a.txt', data: 'hello' },
    { name: 'dir/', data: '' },
    { name: 'b.txt', data: LOREM, method: 8 },
  ]);
  const l = readZip(z.bytes, LIMITS);
  assert.deepEqual(l.problems, []);
  assert.equal(l.centralDirectory, true);
  assert.equal(l.localScan, false);
  assert.deepEqual(l.entries.map((e) => e.name.text), ['a.txt', 'dir/', 'b.txt']);
  const a = entry(l, 'a.txt');
  assert.equal(a.method, 0);
  assert.equal(a.compressedSize, 5);
  assert.equal(a.uncompressedSize, 5);
  assert.equal(a.crc32, crc32(new TextEncoder().encode('hello')));
  assert.equal(a.localHeaderOffset, z.localOffsets[0]);
  assert.equal(a.dataOffset, z.localOffsets[0]! + 30 + 5);
  assert.equal(a.source, 'central');
  assert.equal(entry(l, 'dir/').isDirectory, true);
  const b = entry(l, 'b.txt');
  assert.equal(b.method, 8);
  assert.ok(b.compressedSize < b.uncompressedSize);
  assert.equal(text(dataOf(extractEntry(z.bytes, a, LIMITS))), 'hello');
  assert.equal(text(dataOf(extractEntry(z.bytes, b, LIMITS))), LOREM);
  assert.equal(dataOf(extractEntry(z.bytes, entry(l, 'dir/'), LIMITS)).length, 0);
  assert.equal(l.overlapping, false);
  assert.equal(l.overlapCount, 0);
});

test('readZip accepts an empty archive and a comment that contains a fake end record', () => {
  const empty = readZip(buildZip([]).bytes, LIMITS);
  assert.deepEqual(empty.entries, []);
  assert.deepEqual(empty.problems, []);
  // The fake record's directory offset leads nowhere, so the search goes on to the real one.
  const fake = Buffer.alloc(22);
  fake.writeUInt32LE(0x06054b50, 0);
  fake.writeUInt16LE(1, 10);
  fake.writeUInt32LE(46, 12);
  fake.writeUInt32LE(0x7fff0000, 16);
  const z = buildZip([{ name: 'x', data: 'y' }], { comment: fake.toString('latin1') });
  const l = readZip(z.bytes, LIMITS);
  assert.deepEqual(l.entries.map((e) => e.name.text), ['x']);
  assert.ok(codes(l).includes('zip.bad-central-offset'));
});

test('readZip decodes UTF-8 names (flag bit 11), CP437 names and Info-ZIP Unicode Path fields', () => {
  const raw = new Uint8Array([0x63, 0x61, 0x66, 0x82]); // "café" in CP437
  const utfName = new TextEncoder().encode('ünï.txt');
  const up = Buffer.alloc(9 + utfName.length);
  up.writeUInt16LE(0x7075, 0);
  up.writeUInt16LE(5 + utfName.length, 2);
  up[4] = 1;
  up.writeUInt32LE(crc32(new TextEncoder().encode('uni.txt')), 5);
  up.set(utfName, 9);
  const z = buildZip([
    { name: 'ñandú/ok.txt', data: '1' },
    { name: raw, data: '2' },
    { name: 'uni.txt', data: '3', extra: up },
    { name: '../../etc/passwd', data: '4' },
  ]);
  const l = readZip(z.bytes, LIMITS);
  assert.deepEqual(l.entries.map((e) => e.name.text), ['ñandú/ok.txt', 'café', 'ünï.txt', '../../etc/passwd']);
  assert.deepEqual([...l.entries[1]!.name.raw], [...raw]);
  assert.equal(l.entries[1]!.flags & 0x800, 0);
});

for (const descriptor of ['signed', 'unsigned'] as const) {
  test(`readZip takes sizes from the central directory for entries with ${descriptor} data descriptors`, () => {
    const z = buildZip([
      { name: 'd1', data: LOREM, method: 8, descriptor },
      { name: 'd2', data: 'stored text', descriptor },
    ]);
    const l = readZip(z.bytes, LIMITS);
    assert.deepEqual(l.problems, []);
    assert.equal(l.entries[0]!.flags & 8, 8);
    assert.equal(text(dataOf(extractEntry(z.bytes, entry(l, 'd1'), LIMITS))), LOREM);
    assert.equal(text(dataOf(extractEntry(z.bytes, entry(l, 'd2'), LIMITS))), 'stored text');
  });

  test(`readZip walks local headers with ${descriptor} data descriptors when there is no central directory`, () => {
    // Stored data that itself contains a local-header signature must not end the entry early.
    const tricky = 'PK\x03\x04 inside PK\x07\x08 data';
    const entries: WriterEntry[] = [
      { name: 'one', data: LOREM, method: 8, descriptor },
      { name: 'two', data: tricky, descriptor },
      { name: 'three', data: 'plain' },
      { name: 'four', data: LOREM.slice(0, 100), method: 8, descriptor },
    ];
    const z = buildZip(entries, { noCentral: true });
    const l = readZip(z.bytes, LIMITS);
    assert.equal(l.centralDirectory, false);
    assert.equal(l.localScan, true);
    assert.deepEqual(codes(l), ['zip.no-eocd']);
    assert.deepEqual(l.entries.map((e) => e.name.text), ['one', 'two', 'three', 'four']);
    assert.deepEqual(l.entries.map((e) => e.localHeaderOffset), z.localOffsets);
    assert.ok(l.entries.every((e) => e.source === 'local'));
    assert.equal(text(dataOf(extractEntry(z.bytes, entry(l, 'one'), LIMITS))), LOREM);
    assert.equal(text(dataOf(extractEntry(z.bytes, entry(l, 'two'), LIMITS))), tricky);
    assert.equal(text(dataOf(extractEntry(z.bytes, entry(l, 'three'), LIMITS))), 'plain');
    assert.equal(text(dataOf(extractEntry(z.bytes, entry(l, 'four'), LIMITS))), LOREM.slice(0, 100));
  });
}

test('readZip reports a descriptor entry whose descriptor never comes and stops the walk', () => {
  const z = buildZip([{ name: 'ok', data: 'fine' }, { name: 'lost', data: 'x'.repeat(50), descriptor: 'signed' }], { noCentral: true });
  const cut = z.bytes.subarray(0, z.bytes.length - 16); // drop the descriptor
  const l = readZip(cut, LIMITS);
  assert.deepEqual(l.entries.map((e) => e.name.text), ['ok', 'lost']);
  assert.ok(codes(l).includes('zip.no-data-descriptor'));
});

test('readZip reads ZIP64 extra fields, the ZIP64 end record and ZIP64 descriptors', () => {
  const z = buildZip([
    { name: 'big1', data: LOREM, method: 8, zip64: true },
    { name: 'big2', data: 'zip64 stored', zip64: true },
    { name: 'small', data: 'tiny' },
  ]);
  const l = readZip(z.bytes, LIMITS);
  assert.deepEqual(l.problems, []);
  assert.deepEqual(l.entries.map((e) => [e.name.text, e.zip64]), [['big1', true], ['big2', true], ['small', false]]);
  assert.equal(entry(l, 'big1').uncompressedSize, LOREM.length);
  assert.equal(entry(l, 'big2').localHeaderOffset, z.localOffsets[1]);
  assert.equal(text(dataOf(extractEntry(z.bytes, entry(l, 'big1'), LIMITS))), LOREM);
  assert.equal(text(dataOf(extractEntry(z.bytes, entry(l, 'big2'), LIMITS))), 'zip64 stored');

  const w = buildZip([
    { name: 'w', data: LOREM, method: 8, zip64: true, descriptor: 'signed' },
    { name: 'u', data: 'unsigned 64', zip64: true, descriptor: 'unsigned' },
    { name: 'v', data: 'x', zip64: true },
  ], { noCentral: true });
  const walked = readZip(w.bytes, LIMITS);
  assert.deepEqual(walked.entries.map((e) => [e.name.text, e.zip64, e.uncompressedSize]), [['w', true, LOREM.length], ['u', true, 11], ['v', true, 1]]);
  assert.deepEqual(walked.entries.map((e) => e.localHeaderOffset), w.localOffsets);
  assert.equal(text(dataOf(extractEntry(w.bytes, entry(walked, 'u'), LIMITS))), 'unsigned 64');
  // A signed 64-bit descriptor also reads as a 32-bit one; with no header after it to tell them
  // apart, the local header's ZIP64 field decides.
  const last = buildZip([{ name: 'tail', data: LOREM, zip64: true, descriptor: 'signed' }], { noCentral: true }).bytes;
  const junk = readZip(Buffer.concat([last, Buffer.from('trailing junk')]), LIMITS);
  assert.deepEqual(junk.entries.map((e) => [e.name.text, e.compressedSize, e.uncompressedSize]), [['tail', LOREM.length, LOREM.length]]);
});

test('readZip shifts offsets past bytes prepended to the archive (self-extractor stubs)', () => {
  const prefix = new Uint8Array(1000).fill(0x90);
  for (const zip64 of [false, true]) {
    const z = buildZip([{ name: 'in-sfx', data: LOREM, method: 8, zip64 }], { prefix });
    const l = readZip(z.bytes, LIMITS);
    assert.equal(l.prefixBytes, 1000, `zip64=${zip64}`);
    assert.deepEqual(codes(l), ['zip.prefix-bytes']);
    assert.equal(entry(l, 'in-sfx').localHeaderOffset, 1000);
    assert.equal(text(dataOf(extractEntry(z.bytes, entry(l, 'in-sfx'), LIMITS))), LOREM);
  }
});

test('readZip falls back to the local headers when the central directory is damaged, without repeating entries', () => {
  const z = buildZip([{ name: 'a', data: 'A' }, { name: 'b', data: 'B' }, { name: 'c', data: 'C' }]);
  const bytes = Uint8Array.from(z.bytes);
  // Break the signature of the second central record: the directory now holds one of three.
  const second = z.centralOffset + 46 + 1;
  bytes[second] = 0;
  const l = readZip(bytes, LIMITS);
  assert.equal(l.localScan, true);
  assert.ok(codes(l).includes('zip.entry-count-mismatch'));
  assert.deepEqual(l.entries.map((e) => [e.name.text, e.source]), [['a', 'central'], ['b', 'local'], ['c', 'local']]);
});

test('readZip reports central entries whose local header is missing or disagrees', () => {
  const z = buildZip([{ name: 'real', data: 'R', localName: 'fake' }, { name: 'ok', data: 'O' }], { aliases: [{ of: 1, name: 'nowhere', localOffset: 0x7ffffff0 }] });
  const l = readZip(z.bytes, LIMITS);
  assert.ok(codes(l).includes('zip.header-mismatch'));
  assert.ok(codes(l).includes('zip.bad-local-header'));
  const nowhere = entry(l, 'nowhere');
  assert.equal(nowhere.dataOffset, undefined);
  assert.equal(errorOf(extractEntry(z.bytes, nowhere, LIMITS)), 'no-local-header');
  assert.equal(text(dataOf(extractEntry(z.bytes, entry(l, 'real'), LIMITS))), 'R');
});

test('readZip never throws on an archive cut at every 97th byte and reports each cut', () => {
  const z = buildZip([
    { name: 'first.txt', data: LOREM, method: 8 },
    { name: 'stored.txt', data: LOREM },
    { name: 'desc.bin', data: LOREM.slice(0, 300), descriptor: 'signed' },
    { name: 'z64', data: 'sixty-four', zip64: true },
    { name: 'last', data: LOREM, method: 8, descriptor: 'unsigned' },
  ]);
  let cuts = 0;
  for (let n = 0; n < z.bytes.length; n += 97) {
    const cut = z.bytes.subarray(0, n);
    const l = readZip(cut, LIMITS);
    assert.ok(l.problems.length > 0, `cut at ${n} reports no problem`);
    for (const e of l.entries) {
      if (e.dataOffset !== undefined) assert.ok(e.dataOffset <= n, `cut at ${n}: data offset ${e.dataOffset} past the end`);
      const r = extractEntry(cut, e, LIMITS);
      if ('data' in r && !('error' in r)) assert.ok(e.dataOffset! + e.compressedSize <= n);
    }
    cuts++;
  }
  assert.ok(cuts > 10);
});

test('readZip never throws on random bytes or randomly corrupted archives', () => {
  const rng = new Prng('zip-fuzz');
  const base = buildZip([
    { name: 'a', data: LOREM, method: 8 },
    { name: 'b', data: 'bbbb', descriptor: 'unsigned' },
    { name: 'c', data: LOREM, zip64: true },
  ]).bytes;
  for (let i = 0; i < 300; i++) {
    const bytes = Uint8Array.from(base);
    const flips = rng.int(1, 8);
    for (let k = 0; k < flips; k++) bytes[rng.int(0, bytes.length - 1)] = rng.int(0, 255);
    const l = readZip(bytes, LIMITS);
    for (const e of l.entries) extractEntry(bytes, e, LIMITS);
  }
  for (let i = 0; i < 50; i++) {
    const bytes = new Uint8Array(rng.int(0, 300));
    for (let k = 0; k < bytes.length; k++) bytes[k] = rng.chance(0.2) ? 0x50 : rng.int(0, 255);
    readZip(bytes, LIMITS);
  }
});

test('readZip survives self-referencing and zero-size records', () => {
  // An end record whose directory is the end record itself, declaring entries.
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(5, 10);
  eocd.writeUInt32LE(0, 16);
  const l1 = readZip(eocd, LIMITS);
  assert.deepEqual(l1.entries, []);
  assert.ok(l1.problems.length > 0);
  // A local header of size zero everywhere: 2000 empty entries, capped by maxFiles.
  const one = buildZip([{ name: '', data: '' }], { noCentral: true }).bytes;
  const many = Buffer.concat(Array.from({ length: 2000 }, () => one));
  const l2 = readZip(many, { maxFiles: 100 });
  assert.equal(l2.entries.length, 100);
  assert.equal(l2.maxFilesReached, true);
});

test('readZip flags overlapping entries as ClamAV does: more than five overlaps, duplicates ignored', () => {
  const build = (n: number): Uint8Array =>
    buildZip(Array.from({ length: n }, (_, i): WriterEntry => ({ name: `o${i}`, data: `entry number ${i}`, centralCompressedSize: 200 }))).bytes;
  const seven = readZip(build(7), LIMITS);
  assert.equal(seven.overlapCount, 6);
  assert.equal(seven.overlapping, true);
  const six = readZip(build(6), LIMITS);
  assert.equal(six.overlapCount, 5);
  assert.equal(six.overlapping, false);

  // Two central entries pointing at the same local data: a duplicate, counted but not flagged.
  const dup = buildZip([{ name: 'x', data: LOREM }], { aliases: [{ of: 0, name: 'x-again' }] });
  const l = readZip(dup.bytes, LIMITS);
  assert.equal(l.entries.length, 2);
  assert.equal(l.entries[0]!.dataOffset, l.entries[1]!.dataOffset);
  assert.equal(l.overlapCount, 1);
  assert.equal(l.overlapping, false);
  // Many duplicates alone never trigger it.
  const dups = buildZip([{ name: 'x', data: LOREM }], { aliases: Array.from({ length: 8 }, (_, i) => ({ of: 0, name: `x${i}` })) });
  const ld = readZip(dups.bytes, LIMITS);
  assert.equal(ld.overlapCount, 8);
  assert.equal(ld.overlapping, false);
  // A non-duplicate overlap once five have been counted does.
  const mixed = buildZip([{ name: 'x', data: LOREM }], {
    aliases: [...Array.from({ length: 6 }, (_, i) => ({ of: 0, name: `x${i}` })), { of: 0, name: 'shorter', compressedSize: 100 }],
  });
  assert.equal(readZip(mixed.bytes, LIMITS).overlapping, true);
  // Adjacent entries overlapping by two bytes or fewer are tolerated.
  const touching = buildZip([{ name: 'p', data: 'payload', centralCompressedSize: 9 }, { name: 'q', data: 'x' }]);
  assert.equal(readZip(touching.bytes, LIMITS).overlapCount, 0);
});

test('readZip marks encrypted and AES entries, and extractEntry refuses them', () => {
  const z = buildZip([
    { name: 'pk', data: 'xxxxxxxxxxxxsecret', flags: 1 },
    { name: 'aes', data: 'opaque', method: 99 },
    { name: 'strong', data: 'opaque', flags: 0x41 },
    { name: 'plain', data: 'p' },
  ]);
  const l = readZip(z.bytes, LIMITS);
  assert.deepEqual(l.entries.map((e) => e.encrypted), [true, true, true, false]);
  for (const name of ['pk', 'aes', 'strong']) assert.equal(errorOf(extractEntry(z.bytes, entry(l, name), LIMITS)), 'encrypted');
});

test('extractEntry reports unsupported methods with their number instead of returning garbage', () => {
  const z = buildZip([6, 9, 12, 14, 93, 95].map((method) => ({ name: `m${method}`, data: 'compressed?', method })));
  const l = readZip(z.bytes, LIMITS);
  for (const e of l.entries) {
    const r = extractEntry(z.bytes, e, LIMITS);
    assert.equal(errorOf(r), 'unsupported-method');
    assert.equal('method' in r ? r.method : undefined, e.method);
  }
});

test('extractEntry stops a deflate bomb at maxEntrySize even when the declared size lies', () => {
  const zeros = new Uint8Array(32 * 1024 * 1024);
  const packed = deflateRawSync(zeros);
  assert.ok(packed.length < 64 * 1024);
  const z = buildZip([
    { name: 'honest', data: zeros, method: 8, compressed: packed },
    { name: 'liar', method: 8, compressed: packed, uncompressedSize: 10, crc: 0 },
  ]);
  const l = readZip(z.bytes, LIMITS);
  const limits = { ...LIMITS, maxEntrySize: 1024 * 1024 };
  assert.equal(errorOf(extractEntry(z.bytes, entry(l, 'honest'), limits)), 'entry-too-large');
  assert.equal(errorOf(extractEntry(z.bytes, entry(l, 'liar'), limits)), 'entry-too-large');
  // Within a generous limit the liar inflates, and the size disagreement is reported with the data.
  const big = extractEntry(z.bytes, entry(l, 'liar'), { maxEntrySize: 40 * 1024 * 1024 });
  assert.equal(errorOf(big), 'size-mismatch');
  assert.equal('data' in big ? big.data?.length : -1, zeros.length);
});

test('extractEntry charges a shared budget and stops at maxTotal', () => {
  const z = buildZip([1, 2, 3].map((i) => ({ name: `f${i}`, data: 'x'.repeat(400), method: 8 })));
  const l = readZip(z.bytes, LIMITS);
  const budget = newBudget({ maxTotal: 1000 });
  assert.equal(dataOf(extractEntry(z.bytes, l.entries[0]!, LIMITS, budget)).length, 400);
  assert.equal(dataOf(extractEntry(z.bytes, l.entries[1]!, LIMITS, budget)).length, 400);
  assert.equal(budget.remaining, 200);
  assert.equal(errorOf(extractEntry(z.bytes, l.entries[2]!, LIMITS, budget)), 'total-exceeded');
});

test('extractEntry reports a CRC mismatch, a corrupt deflate stream and truncated data', () => {
  const z = buildZip([
    { name: 'badcrc', data: LOREM, method: 8, crc: 0x12345678 },
    { name: 'corrupt', method: 8, compressed: new Uint8Array([0xff, 0xff, 0xff, 0xff]), uncompressedSize: 4 },
    { name: 'stored-badcrc', data: 'abc', crc: 1 },
  ]);
  const l = readZip(z.bytes, LIMITS);
  const bad = extractEntry(z.bytes, entry(l, 'badcrc'), LIMITS);
  assert.equal(errorOf(bad), 'crc-mismatch');
  assert.equal('data' in bad && bad.data ? text(bad.data) : '', LOREM);
  assert.equal(errorOf(extractEntry(z.bytes, entry(l, 'corrupt'), LIMITS)), 'inflate-failed');
  assert.equal(errorOf(extractEntry(z.bytes, entry(l, 'stored-badcrc'), LIMITS)), 'crc-mismatch');
  const e = entry(l, 'badcrc');
  assert.equal(errorOf(extractEntry(z.bytes.subarray(0, e.dataOffset! + 5), e, LIMITS)), 'truncated');
});

test('readZip stops listing at maxFiles and says so', () => {
  const z = buildZip(Array.from({ length: 10 }, (_, i) => ({ name: `n${i}`, data: String(i) })));
  const l = readZip(z.bytes, { maxFiles: 3 });
  assert.deepEqual(l.entries.map((e) => e.name.text), ['n0', 'n1', 'n2']);
  assert.equal(l.maxFilesReached, true);
  assert.ok(codes(l).includes('zip.max-files'));
  assert.equal(l.localScan, false);
});

test('readZip with localScan "always" finds local entries hidden from the central directory', () => {
  // Local headers for two entries, a central directory that lists only the first.
  const locals = buildZip([{ name: 'listed', data: 'L' }, { name: 'hidden', data: 'H' }], { noCentral: true }).bytes;
  const one = buildZip([{ name: 'listed', data: 'L' }]);
  const tail = Buffer.from(one.bytes.subarray(one.centralOffset));
  tail.writeUInt32LE(locals.length, one.eocdOffset - one.centralOffset + 16);
  const bytes = new Uint8Array(Buffer.concat([locals, tail]));
  const usual = readZip(bytes, LIMITS);
  assert.deepEqual(usual.problems, []);
  assert.deepEqual(usual.entries.map((e) => e.name.text), ['listed']);
  const l = readZip(bytes, LIMITS, { localScan: 'always' });
  assert.equal(l.localScan, true);
  assert.deepEqual(l.entries.map((e) => [e.name.text, e.source]), [['listed', 'central'], ['hidden', 'local']]);
  assert.equal(text(dataOf(extractEntry(bytes, entry(l, 'hidden'), LIMITS))), 'H');
  const never = readZip(buildZip([{ name: 'a', data: 'A' }], { noCentral: true }).bytes, LIMITS, { localScan: 'never' });
  assert.deepEqual(never.entries, []);
});

// ---------------------------------------------------------------------------------------------
// Archives made by other tools

function tool(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.status === 0;
}

const hasPython = tool('python3', ['-c', 'import zipfile, zlib']);
const hasZip = tool('zip', ['-v']);

test('readZip agrees with Python zipfile on archives it writes', { skip: hasPython ? false : 'python3 with zipfile is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-zip-'));
  try {
    const script = `
import zipfile, json, sys
path = sys.argv[1]
with zipfile.ZipFile(path, 'w') as z:
    z.writestr(zipfile.ZipInfo('stored.txt'), b'plain text ' * 10)
    z.writestr('deflated.txt', b'abc' * 1000, compress_type=zipfile.ZIP_DEFLATED)
    z.writestr('dir/', b'')
    z.writestr('\\u00fcnicode/\\u00e9t\\u00e9.txt', b'utf8 name', compress_type=zipfile.ZIP_DEFLATED)
    with z.open('forced64.bin', 'w', force_zip64=True) as f:
        f.write(b'x' * 5000)
with zipfile.ZipFile(path) as z:
    print(json.dumps([[i.filename, i.compress_type, i.file_size, i.compress_size, i.CRC, i.header_offset] for i in z.infolist()]))
`;
    const path = join(dir, 'py.zip');
    const r = spawnSync('python3', ['-c', script, path], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const expected = JSON.parse(r.stdout) as [string, number, number, number, number, number][];
    const bytes = new Uint8Array(readFileSync(path));
    const l = readZip(bytes, LIMITS);
    assert.deepEqual(l.problems, []);
    assert.deepEqual(l.entries.map((e) => [e.name.text, e.method, e.uncompressedSize, e.compressedSize, e.crc32, e.localHeaderOffset]), expected);
    for (const e of l.entries) dataOf(extractEntry(bytes, e, LIMITS));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readZip agrees with Info-ZIP zip, including streamed archives with data descriptors', { skip: hasZip ? false : 'Info-ZIP zip is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-zip-'));
  try {
    writeFileSync(join(dir, 'one.txt'), LOREM);
    writeFileSync(join(dir, 'two.bin'), Buffer.alloc(3000, 7));
    assert.ok(tool('sh', ['-c', `cd '${dir}' && zip -q -X plain.zip one.txt two.bin && zip -q -X - one.txt two.bin | cat > streamed.zip && zip -q -X -fz big64.zip one.txt`]));
    for (const file of ['plain.zip', 'streamed.zip', 'big64.zip']) {
      const bytes = new Uint8Array(readFileSync(join(dir, file)));
      const l = readZip(bytes, LIMITS);
      assert.deepEqual(l.problems, [], file);
      const names = l.entries.map((e) => e.name.text);
      assert.deepEqual(names, file === 'big64.zip' ? ['one.txt'] : ['one.txt', 'two.bin'], file);
      assert.equal(text(dataOf(extractEntry(bytes, entry(l, 'one.txt'), LIMITS))), LOREM, file);
      if (file === 'streamed.zip') {
        assert.ok(l.entries.every((e) => (e.flags & 8) !== 0), 'streamed entries use descriptors');
        // The same archive cut before its central directory: the descriptor walk finds the same entries.
        const cd = Buffer.from(bytes).indexOf(Buffer.from([0x50, 0x4b, 1, 2]));
        const walked = readZip(bytes.subarray(0, cd), LIMITS);
        assert.deepEqual(codes(walked), ['zip.no-eocd']);
        const summary = (x: ZipListing): unknown => x.entries.map((e) => [e.name.text, e.compressedSize, e.uncompressedSize, e.crc32, e.dataOffset]);
        assert.deepEqual(summary(walked), summary(l));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
