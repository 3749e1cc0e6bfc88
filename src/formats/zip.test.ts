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
import { CHILD_REFUSED, clamCentralOffset, clamIndex, clamUnzipItems, clamUnzipSingle, extractEntry, newBudget, readZip, type ZipEntry, type ZipExtractResult, type ZipListing } from './zip.js';
import { LIMIT } from './compress/common.js';
import { DEFAULT_UNPACK_OPTIONS, type UnpackContext, type UnpackItem } from './unpack.js';
import { explode } from './zipmethods/explode.js';
import { deflate64Greedy, deflateFixed, implode, implodeFlags, overlappingBomb, type DeflateToken, type ImplodeOptions } from './zipmethods/encoders.js';
import { inflateRaw, TRUNCATED } from './zipmethods/inflate.js';
import { decodeClam, unz } from './zipmethods/unz.js';
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

test('extractEntry reports unsupported methods with their number and damaged streams of the supported ones as failures', () => {
  const z = buildZip([1, 93, 95, 97, 98, 6, 9, 12, 14].map((method) => ({ name: `m${method}`, data: 'compressed?', method })));
  const l = readZip(z.bytes, LIMITS);
  for (const e of l.entries) {
    const r = extractEntry(z.bytes, e, LIMITS);
    if ([6, 9, 12, 14].includes(e.method)) {
      assert.ok('error' in r && r.error !== 'unsupported-method', `method ${e.method} is decoded, and this is not its format`);
      continue;
    }
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

// ---------------------------------------------------------------------------------------------
// The decoders of the other methods: Deflate64, implode, and bzip2 / LZMA through the compress family

const has7z = tool('7zz', ['i']);
const hasUnzip = tool('unzip', ['-v']);

/** Mixed text, random bytes and long runs, so that every kind of match occurs. */
function sample(rng: Prng, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let i = 0;
  while (i < size) {
    const kind = rng.int(0, 3);
    const n = Math.min(size - i, rng.int(1, 3000));
    if (kind === 0) out.set(rng.bytes(n), i);
    else if (kind === 1) out.fill(rng.int(0, 255), i, i + n);
    else if (kind === 2 && i > 0) { const from = rng.int(0, i - 1); for (let k = 0; k < n; k++) out[i + k] = out[from + (k % (i - from))]!; }
    else out.set(new TextEncoder().encode(LOREM).subarray(0, n), i);
    i += n;
  }
  return out;
}

function sameAs(a: Uint8Array, b: Uint8Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  assert.ok(Buffer.from(a).equals(Buffer.from(b)), `${what}: bytes differ`);
}

/** Cuts at `points` places and `mutations` random damages: never a throw, output within the bound, a short time. */
function hostile(name: string, packed: Uint8Array, decode: (b: Uint8Array, max: number) => { data: Uint8Array }, mutations: number, seed: string): void {
  const rng = new Prng(seed);
  const max = 1 << 20;
  const started = Date.now();
  for (let k = 1; k <= 60; k++) {
    const cut = Math.floor((packed.length * k) / 61);
    const r = decode(packed.subarray(0, cut), max);
    assert.ok(r.data.length <= max, `${name} cut at ${cut}`);
  }
  for (let m = 0; m < mutations; m++) {
    const b = Uint8Array.from(packed);
    for (let n = rng.int(1, 8); n > 0; n--) {
      const at = rng.int(0, b.length - 1);
      if (rng.chance(0.5)) b[at] = rng.int(0, 255); else b[at]! ^= 1 << rng.int(0, 7);
    }
    const r = decode(b, max);
    assert.ok(r.data.length <= max, `${name} mutation ${m}`);
  }
  assert.ok(Date.now() - started < 20000, `${name}: hostile inputs took ${Date.now() - started} ms`);
}

test('inflateRaw decodes what zlib writes at every level and strategy, and refuses Deflate64-only codes', () => {
  const rng = new Prng('inflate-zlib');
  for (let i = 0; i < 30; i++) {
    const src = sample(rng, rng.int(0, 200000));
    const packed = deflateRawSync(src, { level: i % 10, strategy: i % 5 });
    const r = inflateRaw(packed, 1 << 24);
    assert.equal(r.complete, true, r.error);
    sameAs(r.data, src, `zlib level ${i % 10}`);
  }
  // Distance code 30 and a 258-byte match are deflate's own meaning of these codes, not Deflate64's.
  const far = deflateFixed([{ lit: 1 }, { len: 258, dist: 1 }], false);
  const r = inflateRaw(far, 1000);
  assert.equal(r.complete, true);
  assert.equal(r.data.length, 259);
  const bad = deflateFixed([...Array.from({ length: 40000 }, () => ({ lit: 7 })), { len: 3, dist: 33000 }], true);
  assert.equal(inflateRaw(bad, 1 << 20, false).error, 'invalid distance code');
  assert.equal(inflateRaw(bad, 1 << 20, true).complete, true);
});

test('inflateRaw with deflate64 decodes 16-bit-extra lengths, distances past 32 KiB and the 64 KiB window', () => {
  const rng = new Prng('inflate64');
  const head = rng.bytes(50000);
  const src = new Uint8Array(50000 + 60000 + 3000);
  src.set(head);
  src.set(head, 50000);
  for (let i = 100000; i < src.length; i++) src[i] = src[i - 60000]!;
  const tokens = deflate64Greedy(src);
  assert.ok(tokens.some((t) => 'len' in t && t.len > 258), 'a long match');
  assert.ok(tokens.some((t) => 'dist' in t && t.dist > 49152), 'a distance code 31');
  const packed = deflateFixed(tokens, true);
  const r = inflateRaw(packed, 1 << 24, true);
  assert.equal(r.complete, true, r.error);
  sameAs(r.data, src, 'deflate64');
  // The same stream read as plain deflate is refused (distance codes 30/31 do not exist there).
  assert.notEqual(inflateRaw(packed, 1 << 24, false).complete, true);
  // A dynamic header declaring 31 distance codes: refused by deflate's bound, not by Deflate64's.
  // bits: final 1, type 2, HLIT 0, HDIST 30 (31 codes), HCLEN 0.
  const dyn = Uint8Array.from([0x05, 0x1e, 0, 0, 0, 0, 0]);
  assert.equal(inflateRaw(dyn, 100, false).error, 'too many length or distance symbols');
  assert.notEqual(inflateRaw(dyn, 100, true).error, 'too many length or distance symbols');
});

test('inflateRaw on truncated streams gives a prefix and TRUNCATED, never more than the bound, never a throw', () => {
  const rng = new Prng('inflate-cut');
  const src = sample(rng, 120000);
  for (const deflate64 of [false, true]) {
    const packed = deflate64 ? deflateFixed(deflate64Greedy(src), true) : deflateRawSync(src);
    for (let k = 0; k < 80; k++) {
      const cut = Math.floor((packed.length * k) / 80);
      const r = inflateRaw(packed.subarray(0, cut), 1 << 24, deflate64);
      assert.equal(r.error, TRUNCATED, `cut ${cut}`);
      sameAs(r.data, src.subarray(0, r.data.length), `prefix at cut ${cut}`);
    }
    const bounded = inflateRaw(packed, 5000, deflate64);
    assert.equal(bounded.error, LIMIT);
    sameAs(bounded.data, src.subarray(0, 5000), 'bounded');
  }
});

test('inflateRaw survives 400 mutated deflate and Deflate64 streams', () => {
  const rng = new Prng('inflate-mut');
  const src = sample(rng, 60000);
  hostile('deflate', deflateRawSync(src), (b, max) => inflateRaw(b, max, false), 200, 'm-deflate');
  hostile('deflate64', deflateFixed(deflate64Greedy(src), true), (b, max) => inflateRaw(b, max, true), 200, 'm-deflate64');
});

test('inflateRaw stops deflate and Deflate64 bombs at the bound in well under 2 s', () => {
  const started = Date.now();
  const bomb = deflateRawSync(new Uint8Array(64 << 20));
  const r = inflateRaw(bomb, 16 << 20);
  assert.equal(r.error, LIMIT);
  assert.equal(r.data.length, 16 << 20);
  // 20 000 matches of 65 538 bytes: 1.3 GB declared by 60 KB of Deflate64.
  const tokens: DeflateToken[] = [{ lit: 0 }, ...Array.from({ length: 20000 }, () => ({ len: 65538, dist: 1 }))];
  const r64 = inflateRaw(deflateFixed(tokens, true), 16 << 20, true);
  assert.equal(r64.error, LIMIT);
  assert.equal(r64.data.length, 16 << 20);
  assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
});

test('inflateRaw agrees with 7-Zip Deflate64 streams', { skip: has7z ? false : '7zz is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-zip-'));
  try {
    const src = sample(new Prng('7z-d64'), 300000);
    writeFileSync(join(dir, 'in.bin'), src);
    assert.ok(tool('sh', ['-c', `cd '${dir}' && 7zz a -bd -tzip -mm=Deflate64 -mx=9 d64.zip in.bin`]));
    const bytes = new Uint8Array(readFileSync(join(dir, 'd64.zip')));
    const l = readZip(bytes, LIMITS);
    const e = entry(l, 'in.bin');
    assert.equal(e.method, 9);
    sameAs(dataOf(extractEntry(bytes, e, LIMITS)), src, '7-Zip Deflate64 through extractEntry');
    const packed = bytes.subarray(e.dataOffset!, e.dataOffset! + e.compressedSize);
    sameAs(inflateRaw(packed, 1 << 24, true).data, src, 'inflateRaw');
    // 7-Zip declares 31 or 32 distance codes here; zlib's bound of 30 would refuse the stream,
    // ClamAV's inflate64 (built with PKZIP_BUG_WORKAROUND) does not, and neither does unz.
    assert.match(inflateRaw(packed, 1 << 24, true, { maxDistCodes: 30 }).error ?? '', /too many/);
    sameAs(unz(packed, e.uncompressedSize, 9, 0, 1 << 24).outputs[0] ?? new Uint8Array(0), src, 'unz Deflate64');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const IMPLODE_VARIANTS: ImplodeOptions[] = [false, true].flatMap((largeWindow) => [false, true].flatMap((literalTree) => (['flat', 'mixed'] as const).map((shape) => ({ largeWindow, literalTree, shape }))));

test('explode decodes all eight implode variants, stops at the declared size, and without it reads on as ClamAV does', () => {
  const rng = new Prng('explode');
  for (const o of IMPLODE_VARIANTS) {
    const src = sample(rng, rng.int(1, 40000));
    const packed = implode(src, o);
    const exact = explode(packed, implodeFlags(o), 1 << 24, src.length);
    assert.equal(exact.complete, true, JSON.stringify(o));
    sameAs(exact.data, src, JSON.stringify(o));
    const open = explode(packed, implodeFlags(o), 1 << 24);
    assert.equal(open.error, TRUNCATED);
    sameAs(open.data.subarray(0, src.length), src, 'prefix without a size');
    assert.ok(open.data.length - src.length <= 3, 'padding bits give at most a few bytes');
  }
});

test('explode rejects trees that do not cover their symbols and copies zeros before the first byte', () => {
  // Two trees of 64 six-bit codes, then: match (0), distance low bits 5 → distance 6, length symbol 0 → 2 bytes.
  const tree = [3, 0xf5, 0xf5, 0xf5, 0xf5];
  const bits: number[] = [0, 1, 0, 1, 0, 0, 0, ...[1, 1, 1, 1, 1, 1], ...[1, 1, 1, 1, 1, 1]];
  const body: number[] = [];
  for (let i = 0; i < bits.length; i += 8) body.push(bits.slice(i, i + 8).reduce((a, b, k) => a | (b << k), 0));
  const r = explode(Uint8Array.from([...tree, ...tree, ...body]), 0, 100, 2);
  assert.equal(r.complete, true);
  assert.deepEqual([...r.data], [0, 0]);
  assert.match(explode(Uint8Array.from([3, 0xf5, 0xf5, 0xf5, 0xe5, ...tree, 0]), 0, 100).error ?? '', /tree/);
  assert.match(explode(Uint8Array.from([64, ...tree]), 0, 100).error ?? '', /tree/);
});

test('explode output agrees with Info-ZIP unzip on every variant', { skip: hasUnzip ? false : 'Info-ZIP unzip is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-zip-'));
  try {
    const rng = new Prng('explode-unzip');
    IMPLODE_VARIANTS.forEach((o, i) => {
      const src = sample(rng, rng.int(1000, 30000));
      const z = buildZip([{ name: 'x.bin', data: src, method: 6, compressed: implode(src, o), flags: implodeFlags(o) }]);
      writeFileSync(join(dir, `i${i}.zip`), z.bytes);
      const u = spawnSync('unzip', ['-p', join(dir, `i${i}.zip`)], { maxBuffer: 1 << 26 });
      assert.equal(u.status, 0, `unzip on ${JSON.stringify(o)}`);
      sameAs(new Uint8Array(u.stdout), src, `unzip ${JSON.stringify(o)}`);
      const l = readZip(z.bytes, LIMITS);
      sameAs(dataOf(extractEntry(z.bytes, entry(l, 'x.bin'), LIMITS)), src, `extractEntry ${JSON.stringify(o)}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('explode survives truncation and 400 mutations, and an implode bomb stops at the bound in under 2 s', () => {
  const rng = new Prng('explode-hostile');
  const src = sample(rng, 30000);
  hostile('implode', implode(src, { literalTree: true, largeWindow: true, shape: 'mixed' }), (b, max) => explode(b, 6, max), 200, 'm-imp1');
  hostile('implode2', implode(src, { shape: 'flat' }), (b, max) => explode(b, 0, max), 200, 'm-imp2');
  const bomb = implode(new Uint8Array(1 << 20), { largeWindow: true });
  const started = Date.now();
  const r = explode(bomb, 2, 1 << 18);
  assert.equal(r.error, LIMIT);
  assert.equal(r.data.length, 1 << 18);
  assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
});

test('bzip2 and LZMA entries decode through the compress family, as 7-Zip and Info-ZIP write them', { skip: has7z && hasZip ? false : '7zz or zip is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-zip-'));
  try {
    const src = sample(new Prng('bz-lz'), 200000);
    writeFileSync(join(dir, 'in.bin'), src);
    assert.ok(tool('sh', ['-c', `cd '${dir}' && 7zz a -bd -tzip -mm=BZip2 b7.zip in.bin && 7zz a -bd -tzip -mm=LZMA lz.zip in.bin && 7zz a -bd -tzip -mm=LZMA:eos lze.zip in.bin && zip -q -Z bzip2 bz.zip in.bin`]));
    for (const [file, method] of [['b7.zip', 12], ['bz.zip', 12], ['lz.zip', 14], ['lze.zip', 14]] as const) {
      const bytes = new Uint8Array(readFileSync(join(dir, file)));
      const l = readZip(bytes, LIMITS);
      const e = entry(l, 'in.bin');
      assert.equal(e.method, method, file);
      sameAs(dataOf(extractEntry(bytes, e, LIMITS)), src, file);
      assert.equal(errorOf(extractEntry(bytes, e, { maxEntrySize: 1000 })), 'entry-too-large');
      // Cut data and flipped bytes: typed errors, never a throw.
      const packed = Uint8Array.from(bytes);
      for (let k = 0; k < 40; k++) {
        const m = Uint8Array.from(packed);
        m[e.dataOffset! + 20 + ((k * 7919) % (e.compressedSize - 20))]! ^= 1 << (k % 8);
        const r = extractEntry(m, e, LIMITS);
        assert.ok('data' in r || 'error' in r);
      }
      const lz = unz(bytes.subarray(e.dataOffset!, e.dataOffset! + e.compressedSize), e.uncompressedSize, e.method, e.flags, 1 << 24);
      // ClamAV 1.4 extracts bzip2 but not LZMA.
      assert.equal(lz.outputs.length, method === 12 ? 1 : 0, file);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const hasBzip2 = tool('bzip2', ['--help']);

test('ClamAV keeps what bzip2 gave when the input ends anywhere, and drops it on damage', { skip: hasBzip2 ? false : 'bzip2 is not installed' }, () => {
  const src = sample(new Prng('bz-cut'), 350000);
  const bz = new Uint8Array(spawnSync('bzip2', ['-1', '-c'], { input: src, maxBuffer: 1 << 24 }).stdout);
  const full = decodeClam(12, 0, bz, 0);
  assert.ok(full);
  sameAs(full, src, 'whole stream');
  for (let k = 1; k < 40; k++) {
    const cut = Math.floor((bz.length * k) / 40);
    const out = decodeClam(12, 0, bz.subarray(0, cut), 0);
    assert.ok(out, `cut at ${cut} of ${bz.length}: libbzip2 says BZ_OK, ClamAV scans the blocks before`);
    sameAs(out, src.subarray(0, out.length), `prefix at ${cut}`);
  }
  for (let k = 0; k < 20; k++) {
    const b = Uint8Array.from(bz);
    b[Math.floor(bz.length * (0.1 + k / 25))]! ^= 0x10;
    assert.equal(decodeClam(12, 0, b, 0), undefined, `damage ${k}`);
  }
  // At MaxFileSize: whole 8 KiB pieces.
  assert.equal(decodeClam(12, 0, bz, 100000)?.length, 98304);
});

// ---------------------------------------------------------------------------------------------
// ClamAV's unzip: what the scanner extracts from a layer typed ZIP

const CTX = (o: Partial<UnpackContext['options']> = {}, l: Partial<UnpackContext['limits']> = {}): UnpackContext => ({
  limits: { maxFileSize: 100 << 20, maxFiles: 10000, maxScanSize: 400 << 20, ...l },
  options: { ...DEFAULT_UNPACK_OPTIONS, ...o },
});
/** The reader's items without its metadata reports (they only feed clamscan's \`-a\` chain). */
const items = (bytes: Uint8Array, ctx = CTX()): UnpackItem[] => [...clamUnzipItems(bytes, ctx)].filter((i) => !('meta' in i));
const childText = (it: UnpackItem[]): string[] => it.map((i) => ('data' in i ? `${i.name}=${text(i.data)}` : 'alert' in i ? `!${i.alert}` : 'limit' in i ? `~${i.limit}` : '?'));

test('clamUnzipItems extracts stored, deflate, Deflate64, bzip2 and implode in local-header order, and skips LZMA', () => {
  const src = new TextEncoder().encode(LOREM);
  const bz = spawnSync('bzip2', ['-c'], { input: src });
  const z = buildZip([
    { name: 'b-deflate', data: src, method: 8 },
    { name: 'a-stored', data: 'stored bytes' },
    { name: 'c-d64', data: src, method: 9, compressed: deflateFixed(deflate64Greedy(src), true) },
    { name: 'd-implode', data: src, method: 6, compressed: implode(src, { literalTree: true }), flags: 4 },
    { name: 'e-lzma', data: src, method: 14, compressed: new Uint8Array(40) },
    ...(bz.status === 0 ? [{ name: 'f-bzip2', data: src, method: 12, compressed: new Uint8Array(bz.stdout) }] : []),
    { name: 'dir/', data: '' },
  ]);
  const got = items(z.bytes).map((i) => ('data' in i ? [i.name, i.data.length] : i));
  assert.deepEqual(got, [['b-deflate', src.length], ['a-stored', 12], ['c-d64', src.length], ['d-implode', src.length], ...(bz.status === 0 ? [['f-bzip2', src.length]] : [])]);
});

test('clamUnzipItems cuts a bomb to whole 8 KiB pieces below MaxFileSize, and stored data at MaxFileSize exactly', () => {
  const zeros = new Uint8Array(10 << 20);
  const z = buildZip([{ name: 'bomb', data: zeros, method: 8 }, { name: 'raw', data: zeros.subarray(0, 70000) }]);
  const started = Date.now();
  const out = items(z.bytes, CTX({}, { maxFileSize: 50000 }));
  assert.ok(Date.now() - started < 2000);
  assert.deepEqual(out.map((i) => ('data' in i ? i.data.length : -1)), [49152, 50000]);
  // Exactly at the limit: not cut.
  const exact = buildZip([{ name: 'x', data: zeros.subarray(0, 8192 * 3), method: 8 }]);
  assert.deepEqual(items(exact.bytes, CTX({}, { maxFileSize: 8192 * 3 })).map((i) => ('data' in i ? i.data.length : -1)), [8192 * 3]);
});

test('clamUnzipItems alerts Heuristics.Encrypted.Zip only when asked, once, and never extracts encrypted entries', () => {
  const z = buildZip([
    { name: 'pk', data: 'xxxxxxxxxxxxsecret', flags: 1 },
    { name: 'strong', data: 'opaque', flags: 0x41 },
    { name: 'aes', data: 'opaque-aes', method: 99, flags: 1 },
    { name: 'plain', data: 'visible!' },
  ]);
  // One file of four: ClamAV's second walk over the local headers gives it again.
  assert.deepEqual(childText(items(z.bytes)), ['plain=visible!', 'plain=visible!']);
  assert.deepEqual(childText(items(z.bytes, CTX({ alertEncryptedArchive: true }))), ['!Heuristics.Encrypted.Zip', 'plain=visible!', 'plain=visible!']);
  const more = buildZip([{ name: 'pk', data: 'xxxxxxxxxxxxsecret', flags: 1 }, ...['p1', 'p2'].map((name) => ({ name, data: `${name}-data` }))]);
  assert.deepEqual(childText(items(more.bytes, CTX({ alertEncryptedArchive: true }))), ['!Heuristics.Encrypted.Zip', 'p1=p1-data', 'p2=p2-data']);
  // Bit 6 without bit 0 is not encryption to ClamAV: the entry is read as stored.
  const odd = buildZip([{ name: 'strong-only', data: 'readable', flags: 0x40 }]);
  assert.deepEqual(childText(items(odd.bytes, CTX({ alertEncryptedArchive: true }))), ['strong-only=readable']);
});

test('clamUnzipItems raises Heuristics.Zip.OverlappingFiles on a Fifield bomb in well under 2 s, and extracts nothing', () => {
  const kernel = deflateRawSync(new Uint8Array(20 << 20));
  const bomb = overlappingBomb(50, 20 << 20, kernel);
  let started = Date.now();
  assert.deepEqual(childText(items(bomb)), ['!Heuristics.Zip.OverlappingFiles']);
  assert.deepEqual(childText(items(bomb, CTX({ heuristicAlerts: false }))), []);
  assert.ok(Date.now() - started < 2000);
  // Five overlaps are tolerated: then every entry is extracted (and is what unzip would give).
  started = Date.now();
  const five = items(overlappingBomb(6, 1 << 20, deflateRawSync(new Uint8Array(1 << 20))));
  assert.equal(five.length, 6);
  assert.ok(Date.now() - started < 2000);
  // Duplicates (the same local header listed twice) are counted but never alert, and are extracted once.
  const dup = buildZip([{ name: 'a', data: 'AAAA' }], { aliases: Array.from({ length: 10 }, (_, i) => ({ of: 0, name: `alias${i}` })) });
  assert.deepEqual(childText(items(dup.bytes)), ['a=AAAA']);
  const listing = clamIndex(dup.bytes, clamCentralOffset(dup.bytes), 0);
  assert.equal(listing.overlapCount, 10);
  assert.equal(listing.overlapping, false);
});

test('clamUnzipItems stops at MaxFiles, reporting it when the catalogue reaches it', () => {
  const z = buildZip(['a', 'b', 'c'].map((n) => ({ name: n, data: `${n}${n}${n}${n}${n}${n}` })));
  assert.deepEqual(childText(items(z.bytes, CTX({}, { maxFiles: 2 }))), ['~MaxFiles', 'a=aaaaaa', 'b=bbbbbb', '~MaxFiles']);
  assert.deepEqual(childText(items(z.bytes, CTX({}, { maxFiles: 3 }))), ['~MaxFiles', 'a=aaaaaa', 'b=bbbbbb', 'c=cccccc', '~MaxFiles']);
  assert.deepEqual(childText(items(z.bytes, CTX({}, { maxFiles: 4 }))), ['a=aaaaaa', 'b=bbbbbb', 'c=cccccc']);
});

test('clamUnzipItems stops at a child its consumer reports refused by a limit, as ClamAV stops at CL_EMAX*', () => {
  const z = buildZip(['a', 'b', 'c', 'd', 'e'].map((n) => ({ name: n, data: n.repeat(10) })));
  const it = clamUnzipItems(z.bytes, CTX());
  let first = it.next();
  while (!first.done && 'meta' in first.value) first = it.next();
  assert.equal(first.done, false);
  assert.deepEqual(childText([first.value as UnpackItem]), ['a=aaaaaaaaaa']);
  assert.equal(it.next(CHILD_REFUSED).done, true);
  assert.equal(items(z.bytes).length, 5);
});

test('clamUnzipItems follows ClamAV where other readers differ: no end record, prefixes, ZIP64 sizes, lying sizes, the local walk', () => {
  const plain = [{ name: 'a', data: 'alpha-alpha' }, { name: 'b', data: LOREM, method: 8 }];
  // No end record, or offsets that only work shifted: nothing (the embedded-ZIP scan reads them).
  assert.deepEqual(items(buildZip(plain, { noCentral: true }).bytes), []);
  assert.deepEqual(items(buildZip(plain, { prefix: new Uint8Array(100).fill(0x20) }).bytes), []);
  // Descriptors: sizes from the central directory.
  assert.equal(items(buildZip(plain.map((e) => ({ ...e, descriptor: 'signed' as const }))).bytes).length, 2);
  // ZIP64: ClamAV reads the 32-bit local sizes (0xFFFFFFFF) and gives up on the entry.
  assert.deepEqual(items(buildZip(plain.map((e) => ({ ...e, zip64: true }))).bytes), []);
  // A stored entry declared larger than its data is tried as deflate first, then given as stored.
  const packed = deflateRawSync(new TextEncoder().encode(LOREM));
  const lying = buildZip([{ name: 's', data: LOREM, method: 0, compressed: packed, uncompressedSize: LOREM.length }]);
  assert.deepEqual(items(lying.bytes).map((i) => ('data' in i ? i.data.length : -1)), [LOREM.length, packed.length]);
  // One entry of four gives a file: ClamAV walks the local headers again and extracts it twice.
  const few = buildZip([{ name: 'ok', data: 'readable' }, ...[1, 2, 3].map((k) => ({ name: `lz${k}`, data: 'x', method: 14, compressed: new Uint8Array(20) }))]);
  assert.deepEqual(childText(items(few.bytes)), ['ok=readable', 'ok=readable']);
  // The embedded-ZIP path: one entry from its local header.
  const sfx = buildZip(plain, { prefix: new Uint8Array(64) });
  const one = [...clamUnzipSingle(sfx.bytes, sfx.localOffsets[1]!, CTX())].filter((i) => !('meta' in i));
  assert.deepEqual(one.map((i) => ('data' in i ? text(i.data) : '')), [LOREM]);
});

test('clamUnzipItems never throws on cut or mutated archives of every method and stays bounded', () => {
  const rng = new Prng('clam-unzip-hostile');
  const src = sample(rng, 20000);
  const z = buildZip([
    { name: 'd', data: src, method: 8 },
    { name: 'd64', data: src, method: 9, compressed: deflateFixed(deflate64Greedy(src), true) },
    { name: 'imp', data: src, method: 6, compressed: implode(src, { largeWindow: true, literalTree: true }), flags: 6 },
    { name: 's', data: src.subarray(0, 3000) },
    { name: 'e', data: 'xxxxxxxxxxxxyyyy', flags: 1 },
  ]).bytes;
  const ctx = CTX({ alertEncryptedArchive: true }, { maxFileSize: 1 << 20 });
  const started = Date.now();
  for (let k = 0; k < 100; k++) {
    for (const it of clamUnzipItems(z.subarray(0, Math.floor((z.length * k) / 100)), ctx)) if ('data' in it) assert.ok(it.data.length <= 1 << 20);
  }
  for (let m = 0; m < 300; m++) {
    const b = Uint8Array.from(z);
    for (let n = rng.int(1, 6); n > 0; n--) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
    for (const it of clamUnzipItems(b, ctx)) if ('data' in it) assert.ok(it.data.length <= 1 << 20);
    for (let off = 0; off < 5; off++) assert.ok([...clamUnzipSingle(b, rng.int(0, b.length), ctx)].filter((i) => !('meta' in i)).length <= 2);
  }
  assert.ok(Date.now() - started < 20000, `${Date.now() - started} ms`);
});
