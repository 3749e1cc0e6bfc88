import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isChild, isLimited, type UnpackContext, type UnpackItem } from '../unpack.js';
import { unpackTnef } from './tnef.js';

const ctx = (maxFileSize = 100 << 20): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 10000, maxScanSize: 0 },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false },
});
const items = (b: Uint8Array, c = ctx()): UnpackItem[] => [...unpackTnef(b, c)];

/** One TNEF attribute record: level, tag|type, length, data, checksum. */
function rec(level: number, tag: number, type: number, data: Uint8Array): Buffer {
  const h = Buffer.alloc(9);
  h[0] = level;
  h.writeUInt32LE(((type << 16) | tag) >>> 0, 1);
  h.writeUInt32LE(data.length, 5);
  let sum = 0;
  for (const b of data) sum = (sum + b) & 0xffff;
  const c = Buffer.alloc(2);
  c.writeUInt16LE(sum);
  return Buffer.concat([h, data, c]);
}

/** A winmail.dat with the given attachments; `between` puts a message-level record between attachments. */
function tnef(atts: { name?: string; data: Uint8Array }[], between = false): Buffer {
  const parts: Buffer[] = [Buffer.from([0x78, 0x9f, 0x3e, 0x22, 0x34, 0x12])];
  parts.push(rec(1, 0x9006, 9, Buffer.from([0, 0, 1, 0])));
  parts.push(rec(1, 0x8008, 7, Buffer.from('IPM.Microsoft Mail.Note\0')));
  atts.forEach((a, i) => {
    if (between && i > 0) parts.push(rec(1, 0x8020, 3, Buffer.alloc(14)));
    parts.push(rec(2, 0x9002, 6, Buffer.from([1, 0, 0, 0, 255, 255, 255, 255])));
    if (a.name !== undefined) parts.push(rec(2, 0x8010, 1, Buffer.from(`${a.name}\0`, 'latin1')));
    parts.push(rec(2, 0x800f, 6, a.data));
    parts.push(rec(2, 0x9005, 6, Buffer.alloc(16)));
  });
  return Buffer.concat(parts);
}

const A = Buffer.from('first attachment data '.repeat(20));
const B = Buffer.from('second one '.repeat(30));

test('TNEF: attachments with their names; consecutive ones end up in one file, as in ClamAV', () => {
  const split = items(tnef([{ name: 'a.exe', data: A }, { name: 'b.doc', data: B }], true));
  assert.deepEqual(split.map((i) => (isChild(i) ? [i.name, Buffer.from(i.data).equals(i.name === 'a.exe' ? A : B)] : i)), [['a.exe', true], ['b.doc', true]]);
  const joined = items(tnef([{ name: 'a.exe', data: A }, { name: 'b.doc', data: B }]));
  assert.equal(joined.length, 1);
  assert.ok(isChild(joined[0]!) && joined[0].name === 'a.exe' && Buffer.from(joined[0].data).equals(Buffer.concat([A, B])));
});

test('TNEF: data without a title is dropped at the next message record; the last file is named "tnef"', () => {
  const r = items(tnef([{ data: A }, { data: B }], true));
  assert.deepEqual(r.map((i) => (isChild(i) ? i.name : '')), ['tnef']);
  assert.ok(isChild(r[0]!) && Buffer.from(r[0].data).equals(B));
});

test('TNEF: a record running past the end, a negative length or an unknown level gives nothing', () => {
  const good = tnef([{ name: 'a.exe', data: A }]);
  assert.equal(items(good.subarray(0, good.length - 40)).length, 0);
  const neg = Buffer.concat([good, Buffer.from([2, 0x0f, 0x80, 6, 0, 0xfb, 0xff, 0xff, 0xff])]);
  assert.equal(items(neg).length, 0);
  assert.equal(items(Buffer.concat([good, rec(3, 1, 1, Buffer.from('zz'))])).length, 0);
  // a file cut inside a record header keeps what was read; a trailing newline is fine
  assert.equal(items(Buffer.concat([good, Buffer.from([2, 1, 2])])).length, 1);
  assert.equal(items(Buffer.concat([good, Buffer.from('\n')])).length, 1);
  assert.equal(items(Buffer.from('not tnef at all')).length, 0);
});

test('TNEF: MaxFileSize is reported for an attachment over the limit', () => {
  const r = items(tnef([{ name: 'big', data: Buffer.alloc(5000) }]), ctx(1000));
  assert.deepEqual(r, [{ name: 'big', limit: 'MaxFileSize', size: 5000 }]);
});

test('TNEF: the tnef tool reads the files built here the same way', { skip: spawnSync('tnef', ['--version']).status === 0 ? false : 'tnef is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-tnef-'));
  writeFileSync(join(dir, 'winmail.dat'), tnef([{ name: 'a.exe', data: A }, { name: 'b.doc', data: B }], true));
  const r = spawnSync('tnef', ['-C', dir, join(dir, 'winmail.dat')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(dir).filter((f) => f !== 'winmail.dat').sort(), ['a.exe', 'b.doc']);
  assert.ok(readFileSync(join(dir, 'a.exe')).equals(A));
  const mine = items(readFileSync(join(dir, 'winmail.dat'))).filter(isChild);
  assert.deepEqual(mine.map((i) => i.name), ['a.exe', 'b.doc']);
});

test('TNEF: truncation everywhere and 300 mutations: no throw, bounded time', () => {
  const good = tnef([{ name: 'a.exe', data: A }, { name: 'b', data: B }], true);
  for (let n = 0; n <= good.length; n += 3) assert.doesNotThrow(() => items(good.subarray(0, n)));
  let x = 7;
  const t0 = Date.now();
  for (let i = 0; i < 300; i++) {
    const b = Buffer.from(good);
    for (let k = 0; k < 4; k++) {
      x = (x * 1103515245 + 12345) >>> 0;
      b[6 + (x % (b.length - 6))] = x >>> 24;
    }
    const r = items(b);
    assert.ok(r.every((it) => isChild(it) || isLimited(it)));
  }
  assert.ok(Date.now() - t0 < 10_000);
});
