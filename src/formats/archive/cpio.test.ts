/**
 * Tests for the cpio reader: archives made by `cpio -o -H bin|odc|newc|crc` (skipped when cpio
 * is absent) and big-endian old binary archives built here, ClamAV's rules on members (regular
 * files only in binary archives, links in the text formats, empty members skipped), damage
 * (bad magic, cut names, cut data, after the trailer), truncation and random mutation.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpioMembers, type CpioFormat } from './cpio.js';
import { drain, fuzz, fuzzContext } from './fuzz-check.js';
import { isChild, type UnpackItem } from '../unpack.js';

const ctx = fuzzContext();
const hasCpio = (() => { try { execFileSync('cpio', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
const children = (items: UnpackItem[]): [string, string][] => items.filter(isChild).map((c) => [c.name, Buffer.from(c.data).toString('latin1')]);

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

function tree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cpio-'));
  made.push(dir);
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'alpha payload\n');
  writeFileSync(join(src, 'sub', 'odd.bin'), 'odd-sized!');
  writeFileSync(join(src, 'empty'), '');
  symlinkSync('a.txt', join(src, 'link'));
  return dir;
}

function archive(dir: string, format: string): Uint8Array {
  const list = ['a.txt', 'sub', 'sub/odd.bin', 'empty', 'link'].join('\n') + '\n';
  return new Uint8Array(execFileSync('cpio', ['-o', '-H', format], { cwd: join(dir, 'src'), input: list, stdio: ['pipe', 'pipe', 'ignore'] }));
}

test('cpio archives from cpio -o: members named by their path, in order', { skip: hasCpio ? false : 'cpio is not installed' }, () => {
  const dir = tree();
  const formats: [string, CpioFormat][] = [['bin', 'old'], ['odc', 'odc'], ['newc', 'newc'], ['crc', 'crc']];
  for (const [flag, format] of formats) {
    const got = children([...cpioMembers(archive(dir, flag), format, ctx)]);
    const expected: [string, string][] = [['a.txt', 'alpha payload\n'], ['sub/odd.bin', 'odd-sized!']];
    // The text formats give a symbolic link's target as its content; binary archives only regular files.
    if (format !== 'old') expected.push(['link', 'a.txt']);
    assert.deepEqual(got, expected, flag);
  }
});

test('cpio: the wrong reader for a format reads nothing', { skip: hasCpio ? false : 'cpio is not installed' }, () => {
  const dir = tree();
  assert.equal([...cpioMembers(archive(dir, 'newc'), 'crc', ctx)].length, 0);
  assert.equal([...cpioMembers(archive(dir, 'odc'), 'newc', ctx)].length, 0);
  assert.equal([...cpioMembers(archive(dir, 'bin'), 'odc', ctx)].length, 0);
});

/** One old binary entry in either byte order. */
function oldEntry(name: string, data: string, be: boolean, mode = 0o100644): Buffer {
  const h = Buffer.alloc(26);
  const w = (at: number, v: number) => (be ? h.writeUInt16BE(v, at) : h.writeUInt16LE(v, at));
  w(0, 0o070707);
  w(6, mode);
  w(20, name.length + 1);
  w(22, data.length >>> 16);
  w(24, data.length & 0xffff);
  const n = Buffer.from(name + '\0', 'latin1');
  const pad = (b: Buffer) => (b.length % 2 ? Buffer.concat([b, Buffer.alloc(1)]) : b);
  return Buffer.concat([h, pad(n), pad(Buffer.from(data, 'latin1'))]);
}

test('cpio old binary: big-endian archives built by code, directories skipped', () => {
  for (const be of [true, false]) {
    const b = Buffer.concat([
      oldEntry('first.txt', 'first body', be),
      oldEntry('dir', 'xxxxxxx', be, 0o040755),
      oldEntry('second.txt', 'second body!', be),
      oldEntry('TRAILER!!!', '', be),
      Buffer.alloc(64),
    ]);
    assert.deepEqual(children([...cpioMembers(b, 'old', ctx)]), [['first.txt', 'first body'], ['second.txt', 'second body!']], be ? 'BE' : 'LE');
  }
});

test('cpio old binary: names are cleaned as ClamAV shows them; a nameless header keeps the last name', () => {
  const e1 = oldEntry('we%ird\\na\tme\u00e9', 'payload one', false);
  const e2 = oldEntry('x', 'payload two', false);
  e2.writeUInt16LE(0, 20); // no name: the name bytes are read as data
  const body = Buffer.concat([e2.subarray(0, 26), Buffer.from('payload two', 'latin1'), Buffer.alloc(1)]);
  const got = children([...cpioMembers(Buffer.concat([e1, body]), 'old', ctx)]);
  assert.deepEqual(got, [['we_ird_na_me_', 'payload one'], ['we_ird_na_me_', 'payload two']]);
});

function newcEntry(name: string, data: string, magic = '070701'): Buffer {
  const hex = (v: number) => v.toString(16).padStart(8, '0');
  const h = magic + hex(1) + hex(0o100644) + hex(0) + hex(0) + hex(1) + hex(0) + hex(data.length) + hex(0) + hex(0) + hex(0) + hex(0) + hex(name.length + 1) + hex(0);
  const pad4 = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const head = Buffer.from(h + name + '\0', 'latin1');
  return Buffer.concat([head, pad4(head.length), Buffer.from(data, 'latin1'), pad4(data.length)]);
}

test('cpio newc: damage ends the archive where ClamAV stops', () => {
  const good = Buffer.concat([newcEntry('one', 'first payload'), newcEntry('two', 'second payload')]);
  assert.deepEqual(children([...cpioMembers(good, 'newc', ctx)]).map((c) => c[0]), ['one', 'two']);
  // A bad magic in the second header: only the first member.
  const bad = Buffer.from(good);
  bad.write('0707X1', newcEntry('one', 'first payload').length, 'latin1');
  assert.deepEqual(children([...cpioMembers(bad, 'newc', ctx)]).map((c) => c[0]), ['one']);
  // A size field that is not hex: the archive ends at that header.
  const badSize = Buffer.from(good);
  badSize.write('zzzzzzzz', 54, 'latin1');
  assert.equal(children([...cpioMembers(badSize, 'newc', ctx)]).length, 0);
  // Cut inside the second member's data: it keeps what is there.
  const cut = good.subarray(0, good.length - 6);
  assert.deepEqual(children([...cpioMembers(cut, 'newc', ctx)])[1], ['two', 'second pay']);
  // After the trailer a zero byte ends the archive; other bytes are read as headers.
  const trailer = Buffer.concat([good, newcEntry('TRAILER!!!', ''), Buffer.alloc(200)]);
  assert.equal(children([...cpioMembers(trailer, 'newc', ctx)]).length, 2);
  const more = Buffer.concat([good, newcEntry('TRAILER!!!', ''), newcEntry('three', 'third payload')]);
  assert.deepEqual(children([...cpioMembers(more, 'newc', ctx)]).map((c) => c[0]), ['one', 'two', 'three']);
  // The crc format differs by its magic alone.
  assert.equal(children([...cpioMembers(Buffer.concat([newcEntry('c', 'crc payload', '070702')]), 'crc', ctx)]).length, 1);
});

test('cpio: truncation at every point and 320 random mutations per format neither throw nor hang', { skip: hasCpio ? false : 'cpio is not installed' }, () => {
  const dir = tree();
  let runs = 0;
  const formats: [string, CpioFormat][] = [['bin', 'old'], ['odc', 'odc'], ['newc', 'newc'], ['crc', 'crc']];
  for (const [i, [flag, format]] of formats.entries()) {
    const sample = archive(dir, flag).subarray(0, 1024);
    runs += fuzz((b, c) => cpioMembers(b, format, c), sample, 1000 + i);
  }
  const be = Buffer.concat([oldEntry('first.txt', 'first body', true), oldEntry('TRAILER!!!', '', true)]);
  runs += fuzz((b, c) => cpioMembers(b, 'old', c), be, 77);
  assert.ok(runs > 1500);
  drain((b, c) => cpioMembers(b, 'newc', c), new Uint8Array(0), ctx, 'empty');
});
