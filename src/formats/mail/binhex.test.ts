import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isChild, type UnpackContext, type UnpackItem } from '../unpack.js';
import { unpackBinhex } from './binhex.js';

const ctx = (maxFileSize = 100 << 20): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 10000, maxScanSize: 0 },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false },
});
const items = (b: Uint8Array, c = ctx()): UnpackItem[] => [...unpackBinhex(b, c)];
const BANNER = '(This file must be converted with BinHex 4.0)';
const ALPHA = '!"#$%&\'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr';

function crc(d: Uint8Array): number {
  let c = 0;
  for (const b of [...d, 0, 0]) {
    c ^= b << 8;
    for (let k = 0; k < 8; k++) c = (c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1) & 0xffff;
  }
  return c;
}
const fork = (d: Uint8Array): Buffer => { const c = crc(d); return Buffer.concat([d, Buffer.from([c >> 8, c & 255])]); };

/** BinHex 4.0 of a file: header, data fork, resource fork, RLE90, 64-character lines. */
function binhex(name: string, data: Uint8Array, res: Uint8Array = new Uint8Array(0)): string {
  const hdr = Buffer.concat([Buffer.from([name.length]), Buffer.from(name, 'latin1'), Buffer.from([0]), Buffer.from('TEXTttxt'), Buffer.alloc(2), Buffer.alloc(8)]);
  hdr.writeUInt32BE(data.length, hdr.length - 8);
  hdr.writeUInt32BE(res.length, hdr.length - 4);
  const raw = Buffer.concat([fork(hdr), fork(data), fork(res)]);
  const rle: number[] = [];
  for (let i = 0; i < raw.length;) {
    const b = raw[i]!;
    let j = i;
    while (j < raw.length && raw[j] === b && j - i < 255) j++;
    if (b === 0x90) { rle.push(0x90, 0); i++; } else if (j - i >= 3) { rle.push(b, 0x90, j - i); i = j; } else { rle.push(b); i++; }
  }
  let bits = rle.map((b) => b.toString(2).padStart(8, '0')).join('');
  bits += '0'.repeat((6 - (bits.length % 6)) % 6);
  let s = '';
  for (let i = 0; i < bits.length; i += 6) s += ALPHA[parseInt(bits.slice(i, i + 6), 2)];
  return `${BANNER}\n:${s.match(/.{1,64}/g)!.join('\n')}:\n`;
}

const data = Buffer.from(Array.from({ length: 9000 }, (_, i) => ((i * 7) ^ (i >> 3)) & 0xff));
const runs = Buffer.concat([Buffer.alloc(3000, 0x41), Buffer.alloc(700, 0x90), Buffer.from('tail')]);

test('BinHex: the data fork, then the resource fork (RLE runs and literal 0x90 expanded)', () => {
  const r = items(Buffer.from(binhex('f.bin', data, runs), 'latin1'));
  assert.equal(r.length, 2);
  assert.ok(isChild(r[0]!) && Buffer.from(r[0].data).equals(data));
  assert.ok(isChild(r[1]!) && Buffer.from(r[1].data).equals(runs));
  const crlf = items(Buffer.from(binhex('f', runs).replace(/\n/g, '\r\n'), 'latin1'));
  assert.ok(isChild(crlf[0]!) && Buffer.from(crlf[0].data).equals(runs));
});

test('BinHex: a resource fork under 5 bytes is skipped; a truncated file gives the fork as far as it got', () => {
  assert.equal(items(Buffer.from(binhex('f', data, Buffer.from('abc')), 'latin1')).length, 1);
  const text = binhex('f', data);
  const cut = items(Buffer.from(text.slice(0, Math.floor(text.length * 0.6)), 'latin1'));
  assert.equal(cut.length, 1);
  assert.ok(isChild(cut[0]!) && cut[0].data.length < data.length && Buffer.from(cut[0].data).equals(data.subarray(0, cut[0].data.length)));
});

test('BinHex: a character outside the alphabet ends the reading and drops what was in hand', () => {
  const text = binhex('f', data);
  const bad = `${text.slice(0, 200)}.${text.slice(200)}`;
  assert.equal(items(Buffer.from(bad, 'latin1')).length, 0);
  // anything but ":" after the banner line: nothing
  assert.equal(items(Buffer.from(`${BANNER}\nxx:abc:\n`, 'latin1')).length, 0);
});

test('BinHex: a data fork over MaxFileSize is reported and nothing more read', () => {
  assert.deepEqual(items(Buffer.from(binhex('f', data, runs), 'latin1'), ctx(1000)), [{ name: 'binhex-data', limit: 'MaxFileSize', size: data.length }]);
});

test('BinHex from macutils (banner line replaced, as ClamAV types only its own banner)', { skip: spawnSync('binhex', ['-V']).error ? 'binhex (macutils) is not installed' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-hqx-'));
  writeFileSync(join(dir, 'd.bin'), data);
  const out = spawnSync('binhex', ['-d', join(dir, 'd.bin')], { encoding: 'latin1' });
  assert.equal(out.status, 0);
  const text = out.stdout.replace(/^\(This file must be converted[^\n]*\)/, BANNER);
  const r = items(Buffer.from(text, 'latin1'));
  assert.ok(isChild(r[0]!) && Buffer.from(r[0].data).equals(data));
});

test('BinHex: truncation everywhere and 300 mutations: no throw, bounded time', () => {
  const good = Buffer.from(binhex('f.bin', data.subarray(0, 2000), runs), 'latin1');
  for (let n = 0; n <= good.length; n += 5) assert.doesNotThrow(() => items(good.subarray(0, n)));
  let x = 99;
  const t0 = Date.now();
  for (let i = 0; i < 300; i++) {
    const b = Buffer.from(good);
    for (let k = 0; k < 3; k++) {
      x = (x * 1103515245 + 12345) >>> 0;
      b[50 + (x % (b.length - 50))] = ALPHA.charCodeAt(x >>> 26);
    }
    assert.doesNotThrow(() => items(b));
  }
  // a bomb: runs of 255 from a few bytes stop at MaxFileSize
  const bomb = Buffer.from(binhex('b', Buffer.alloc(2_000_000, 7)), 'latin1');
  assert.deepEqual(items(bomb, ctx(100_000)).map((it) => ('limit' in it ? it.limit : 'data')), ['MaxFileSize']);
  assert.ok(Date.now() - t0 < 15_000);
});
