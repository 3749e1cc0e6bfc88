/**
 * Tests for the tar reader. Archives are generated here, block by block, so that each test
 * controls every header byte; one test also reads the tar inside ClamAV's test-6.cvd when the
 * shared test data is present.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { readTar, TAR_BLOCK } from './tar.js';

interface HeaderSpec {
  name: string;
  size?: number;
  typeflag?: string;
  magic?: 'v7' | 'ustar' | 'gnu';
  prefix?: string;
  linkname?: string;
  /** Raw bytes for the 12-byte size field instead of octal text. */
  sizeField?: Uint8Array;
  /** Added to the computed checksum, to make it wrong. */
  checksumDelta?: number;
}

function header(spec: HeaderSpec): Uint8Array {
  const h = new Uint8Array(TAR_BLOCK);
  const put = (off: number, text: string) => h.set(Buffer.from(text, 'latin1'), off);
  put(0, spec.name);
  put(100, '0000644\0');
  if (spec.sizeField) h.set(spec.sizeField, 124);
  else put(124, (spec.size ?? 0).toString(8).padStart(11, '0') + '\0');
  put(136, '00000000000\0');
  h[156] = (spec.typeflag ?? '0').charCodeAt(0);
  if (spec.linkname) put(157, spec.linkname);
  if (spec.magic === 'ustar') put(257, 'ustar\x0000');
  if (spec.magic === 'gnu') put(257, 'ustar  \0');
  if (spec.prefix) put(345, spec.prefix);
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  sum += spec.checksumDelta ?? 0;
  put(148, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / TAR_BLOCK) * TAR_BLOCK);
  out.set(data);
  return out;
}

function member(spec: HeaderSpec, data: string | Uint8Array = ''): Uint8Array {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  return concat(header({ size: bytes.length, ...spec }), padded(bytes));
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyBytes = Buffer.byteLength(body, 'utf8');
  let len = bodyBytes + 1;
  while (String(len).length + bodyBytes !== len) len++;
  return `${len}${body}`;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

const END = new Uint8Array(2 * TAR_BLOCK);
const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

test('readTar reads regular files with their names, data and offsets', () => {
  const tar = concat(member({ name: 'a.txt' }, 'hello'), member({ name: 'b.bin' }, new Uint8Array(600).fill(7)), END);
  const r = readTar(tar);
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.terminator, 'zero-blocks');
  assert.deepEqual(r.entries.map((e) => [e.name, e.type, e.offset, e.dataOffset, e.data.length]), [
    ['a.txt', 'file', 0, 512, 5],
    ['b.bin', 'file', 1024, 1536, 600],
  ]);
  assert.equal(text(r.entries[0]!.data), 'hello');
  assert.equal(r.entries[0]!.mode, 0o644);
  assert.equal(r.end, 2560);
});

test('readTar accepts an archive that ends right after its last entry, as sigtool writes them', () => {
  const r = readTar(member({ name: 'COPYING', typeflag: '\0' }, 'text'));
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.terminator, 'eof');
  assert.equal(r.entries[0]!.typeflag, '\0');
  assert.equal(r.entries[0]!.type, 'file');
});

test('readTar reports every other typeflag with its type and no data for links, devices and directories', () => {
  const tar = concat(
    member({ name: 'dir/', typeflag: '5', magic: 'ustar' }),
    member({ name: 'link', typeflag: '2', linkname: 'target', magic: 'ustar' }),
    member({ name: 'hard', typeflag: '1', linkname: 'a.txt', magic: 'ustar' }),
    member({ name: 'cdev', typeflag: '3' }),
    member({ name: 'bdev', typeflag: '4' }),
    member({ name: 'fifo', typeflag: '6' }),
    member({ name: 'cont', typeflag: '7' }, 'x'),
    member({ name: 'weird', typeflag: 'Q' }, 'y'),
    member({ name: 'olddir/', typeflag: '0' }),
    END,
  );
  const r = readTar(tar);
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.entries.map((e) => [e.name, e.type, e.typeflag, e.data.length]), [
    ['dir/', 'directory', '5', 0],
    ['link', 'symlink', '2', 0],
    ['hard', 'hardlink', '1', 0],
    ['cdev', 'char-device', '3', 0],
    ['bdev', 'block-device', '4', 0],
    ['fifo', 'fifo', '6', 0],
    ['cont', 'contiguous', '7', 1],
    ['weird', 'unknown', 'Q', 1],
    ['olddir/', 'directory', '0', 0],
  ]);
  assert.equal(r.entries[1]!.linkName, 'target');
  assert.equal(r.entries[0]!.format, 'ustar');
});

test('readTar warns when a directory declares a size and does not read data for it', () => {
  const r = readTar(concat(header({ name: 'd/', typeflag: '5', size: 100 }), END));
  assert.equal(r.entries.length, 1);
  assert.equal(r.entries[0]!.data.length, 0);
  assert.deepEqual(r.diagnostics.map((d) => d.code), ['tar.ignored-size']);
});

test('readTar joins the ustar prefix and name', () => {
  const r = readTar(concat(member({ name: 'file.txt', prefix: 'some/dir', magic: 'ustar' }, 'x'), END));
  assert.equal(r.entries[0]!.name, 'some/dir/file.txt');
});

test('readTar ignores the prefix area of old GNU headers', () => {
  const r = readTar(concat(member({ name: 'file.txt', prefix: 'junk', magic: 'gnu' }, 'x'), END));
  assert.equal(r.entries[0]!.name, 'file.txt');
  assert.equal(r.entries[0]!.format, 'gnu');
});

test('readTar applies a pax path, linkpath and size to the next entry and records the extension', () => {
  const long = 'd/'.repeat(80) + 'file-with-a-long-name.txt';
  const pax = paxRecord('path', long) + paxRecord('mtime', '1.5') + paxRecord('size', '3');
  const tar = concat(
    member({ name: 'PaxHeader', typeflag: 'x', magic: 'ustar' }, pax),
    header({ name: 'short', size: 999, magic: 'ustar' }),
    padded(Buffer.from('abc')),
    member({ name: 'next' }, 'z'),
    END,
  );
  const r = readTar(tar);
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.entries.length, 2);
  assert.equal(r.entries[0]!.name, long);
  assert.equal(text(r.entries[0]!.data), 'abc');
  assert.deepEqual(r.entries[0]!.extensions, ['x']);
  assert.equal(r.entries[1]!.name, 'next');
  assert.deepEqual(r.entries[1]!.extensions, []);
});

test('readTar decodes pax paths as UTF-8', () => {
  const tar = concat(member({ name: 'PaxHeader', typeflag: 'x' }, Buffer.from(paxRecord('path', 'café.txt'), 'utf8')), member({ name: 'cafe.txt' }, 'x'), END);
  assert.equal(readTar(tar).entries[0]!.name, 'café.txt');
});

test('readTar applies GNU long names and long link names', () => {
  const long = 'x'.repeat(150);
  const tar = concat(
    member({ name: '././@LongLink', typeflag: 'L', magic: 'gnu' }, long + '\0'),
    member({ name: '././@LongLink', typeflag: 'K', magic: 'gnu' }, 'y'.repeat(120) + '\0'),
    member({ name: long.slice(0, 99), typeflag: '2', magic: 'gnu' }),
    END,
  );
  const r = readTar(tar);
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.entries.length, 1);
  assert.equal(r.entries[0]!.name, long);
  assert.equal(r.entries[0]!.linkName, 'y'.repeat(120));
  assert.deepEqual(r.entries[0]!.extensions, ['L', 'K']);
});

test('readTar reads a GNU base-256 size', () => {
  const field = new Uint8Array(12);
  field[0] = 0x80;
  field[11] = 5;
  const r = readTar(concat(header({ name: 'b256', sizeField: field }), padded(Buffer.from('12345')), END));
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.entries[0]!.data.length, 5);
});

test('readTar refuses a negative base-256 size', () => {
  const r = readTar(concat(header({ name: 'neg', sizeField: new Uint8Array(12).fill(0xff) }), END));
  assert.deepEqual(r.diagnostics.map((d) => d.code), ['tar.bad-size']);
  assert.equal(r.terminator, 'error');
});

test('readTar refuses a size field with stray characters', () => {
  const r = readTar(concat(header({ name: 'bad', sizeField: Buffer.from('12x\0\0\0\0\0\0\0\0\0') }), END));
  assert.deepEqual(r.diagnostics.map((d) => d.code), ['tar.bad-size']);
  assert.match(r.diagnostics[0]!.message, /entry 'bad' at offset 0 has an unreadable size field/);
});

test('readTar stops at a header whose checksum does not match and keeps the entries before it', () => {
  const tar = concat(member({ name: 'good' }, 'a'), member({ name: 'bad', checksumDelta: 1 }, 'b'), member({ name: 'after' }, 'c'), END);
  const r = readTar(tar);
  assert.deepEqual(r.entries.map((e) => e.name), ['good']);
  assert.deepEqual(r.diagnostics.map((d) => [d.code, d.severity]), [['tar.bad-checksum', 'error']]);
  assert.match(r.diagnostics[0]!.message, /header at offset 1024 \("bad.*has checksum/);
  assert.equal(r.terminator, 'error');
});

test('readTar accepts a checksum computed over signed bytes, as some old writers did', () => {
  const h = header({ name: 'n\xe9' });
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK; i++) signed += i >= 148 && i < 156 ? 0x20 : h[i]! >= 0x80 ? h[i]! - 256 : h[i]!;
  h.set(Buffer.from(signed.toString(8).padStart(6, '0') + '\0 '), 148);
  const r = readTar(concat(h, END));
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.entries[0]!.name, 'n\xe9');
});

test('readTar reports an archive truncated inside a header', () => {
  const tar = member({ name: 'a' }, 'x');
  const r = readTar(concat(tar, header({ name: 'b' }).subarray(0, 100)));
  assert.deepEqual(r.entries.map((e) => e.name), ['a']);
  assert.deepEqual(r.diagnostics.map((d) => d.code), ['tar.truncated']);
  assert.match(r.diagnostics[0]!.message, /100 bytes at offset 1024/);
});

test('readTar reports an archive truncated inside an entry\'s data', () => {
  const full = member({ name: 'big' }, new Uint8Array(2000).fill(1));
  const r = readTar(full.subarray(0, 1500));
  assert.deepEqual(r.entries, []);
  assert.deepEqual(r.diagnostics.map((d) => d.code), ['tar.truncated']);
  assert.match(r.diagnostics[0]!.message, /'big' at offset 0 declares 2000 bytes of data but only 988 remain/);
});

test('readTar warns when the archive ends inside an entry\'s padding', () => {
  const full = member({ name: 'a' }, 'abc');
  const r = readTar(full.subarray(0, 512 + 10));
  assert.equal(r.entries.length, 1);
  assert.deepEqual(r.diagnostics.map((d) => d.code), ['tar.truncated']);
});

test('readTar never throws on any truncation of an archive', () => {
  const tar = concat(
    member({ name: 'PaxHeader', typeflag: 'x' }, paxRecord('path', 'p')),
    member({ name: 'a' }, 'abc'),
    member({ name: '././@LongLink', typeflag: 'L' }, 'long\0'),
    member({ name: 'b' }, new Uint8Array(700)),
    END,
  );
  for (let n = 0; n <= tar.length; n++) {
    const r = readTar(tar.subarray(0, n));
    assert.ok(Array.isArray(r.entries));
  }
});

test('readTar warns about non-zero padding after an entry', () => {
  const m = member({ name: 'a' }, 'abc');
  m[600] = 1;
  const r = readTar(concat(m, END));
  assert.deepEqual(r.diagnostics.map((d) => d.code), ['tar.nonzero-padding']);
});

test('readTar warns about a lone zero block and about data after the end marker', () => {
  const lone = readTar(concat(member({ name: 'a' }, 'x'), new Uint8Array(TAR_BLOCK)));
  assert.equal(lone.terminator, 'single-zero-block');
  assert.deepEqual(lone.diagnostics.map((d) => d.code), ['tar.lone-zero-block']);

  const trailing = concat(member({ name: 'a' }, 'x'), END, Buffer.from('junk'));
  const r = readTar(trailing);
  assert.equal(r.terminator, 'zero-blocks');
  assert.deepEqual(r.diagnostics.map((d) => d.code), ['tar.trailing-data']);
  assert.match(r.diagnostics[0]!.message, /non-zero data at offset 2048, after the end-of-archive marker at offset 1024/);
});

test('readTar accepts zero records after the end marker, as GNU tar pads archives', () => {
  const r = readTar(concat(member({ name: 'a' }, 'x'), new Uint8Array(10240 - 1024)));
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.terminator, 'zero-blocks');
  assert.equal(r.end, 1024);
});

test('readTar refuses a malformed pax record', () => {
  const r = readTar(concat(member({ name: 'PaxHeader', typeflag: 'x' }, '99 path=x\n'), member({ name: 'a' }), END));
  assert.deepEqual(r.diagnostics.map((d) => d.code), ['tar.bad-pax']);
});

test('readTar warns about an extension header with no entry after it', () => {
  const r = readTar(concat(member({ name: '././@LongLink', typeflag: 'L' }, 'name\0'), END));
  assert.deepEqual(r.entries, []);
  assert.deepEqual(r.diagnostics.map((d) => d.code), ['tar.dangling-extension']);
});

test('readTar puts the file name in diagnostic locations when given one', () => {
  const r = readTar(new Uint8Array(100).fill(1), { fileName: 'x.tar' });
  assert.equal(r.diagnostics[0]!.location?.file, 'x.tar');
});

function sharedData(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
  const data = join(dir, '..', 'shared', 'data', 'clamav');
  return existsSync(join(data, 'test-6.cvd')) ? data : undefined;
}
const DATA = sharedData();

test('readTar reads the sigtool-written tar inside test-6.cvd', { skip: DATA ? false : 'shared test data not found (../shared/data/clamav from the repository)' }, () => {
  const cvd = readFileSync(join(DATA!, 'test-6.cvd'));
  const r = readTar(gunzipSync(cvd.subarray(512)));
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.terminator, 'eof');
  assert.equal(r.entries.length, 20);
  assert.deepEqual(r.entries.slice(0, 3).map((e) => [e.name, e.type, e.typeflag, e.format, e.data.length]), [
    ['COPYING', 'file', '\0', 'v7', 17992],
    ['test.info', 'file', '\0', 'v7', 1802],
    ['test.cfg', 'file', '\0', 'v7', 44],
  ]);
});
