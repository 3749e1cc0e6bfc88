import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isChild, type UnpackContext, type UnpackItem } from '../unpack.js';
import { unpackUuencoded } from './uuencode.js';

const ctx = (maxFileSize = 100 << 20): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 10000, maxScanSize: 0 },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false },
});
const items = (b: Uint8Array | string, c = ctx()): UnpackItem[] => [...unpackUuencoded(typeof b === 'string' ? Buffer.from(b, 'latin1') : b, c)];
const data = Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 31 + (i >> 5)) & 0xff));

/** uuencode of `d` by code: 45-byte lines, "`" for zero. */
function uu(d: Uint8Array, head = 'begin 644 f.bin'): string {
  const ch = (v: number): string => (v === 0 ? '`' : String.fromCharCode(v + 32));
  let s = `${head}\n`;
  for (let i = 0; i < d.length; i += 45) {
    const l = d.subarray(i, i + 45);
    s += ch(l.length);
    for (let k = 0; k < l.length; k += 3) {
      const a = l[k]!, b = l[k + 1] ?? 0, c = l[k + 2] ?? 0;
      s += ch(a >> 2) + ch(((a << 4) | (b >> 4)) & 63) + ch(((b << 2) | (c >> 6)) & 63) + ch(c & 63);
    }
    s += '\n';
  }
  return `${s}\`\nend\n`;
}

test('uuencode (sharutils) output decodes to the file, named from the begin line', { skip: spawnSync('uuencode', ['--version']).status === 0 ? false : 'uuencode (sharutils) is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-uu-'));
  writeFileSync(join(dir, 'd.bin'), data);
  const text = spawnSync('uuencode', [join(dir, 'd.bin'), 'd.bin'], { encoding: 'latin1' }).stdout;
  const r = items(text);
  assert.equal(r.length, 1);
  assert.ok(isChild(r[0]!) && r[0].name === 'd.bin' && Buffer.from(r[0].data).equals(data));
});

test('uuencode: CRLF lines, "end" without "`", and a missing end all decode', () => {
  for (const t of [uu(data).replace(/\n/g, '\r\n'), uu(data).replace('`\nend', 'end'), uu(data).replace('`\nend\n', '')]) {
    const r = items(t);
    assert.ok(isChild(r[0]!) && Buffer.from(r[0].data).equals(data));
  }
});

test('uuencode: the begin line must be "begin", three digits, a space and a name', () => {
  assert.equal(items(uu(data, 'begin 0644 f.bin')).length, 0);
  assert.equal(items(uu(data, 'begin 644')).length, 0);
  assert.equal(items(uu(data, 'begin-base64 644 f')).length, 0);
});

test('uuencode: decoding stops at an empty line or a bad length character, keeping what came before', () => {
  const lines = uu(data).split('\n');
  const stopAt = (i: number, line: string): Buffer => {
    const l = [...lines];
    l[i] = line;
    const r = items(l.join('\n'));
    return isChild(r[0]!) ? Buffer.from(r[0].data) : Buffer.alloc(0);
  };
  assert.ok(stopAt(5, '').equals(data.subarray(0, 4 * 45)));
  assert.ok(stopAt(5, '~abc').equals(data.subarray(0, 4 * 45)));
  assert.ok(stopAt(3, 'M').equals(data.subarray(0, 2 * 45)));
});

test('uuencode: MaxFileSize, truncation everywhere and 300 mutations: no throw, bounded time', () => {
  assert.deepEqual(items(uu(data), ctx(1000)), [{ name: 'f.bin', limit: 'MaxFileSize' }]);
  const good = uu(data.subarray(0, 900));
  for (let n = 0; n <= good.length; n += 3) assert.doesNotThrow(() => items(good.slice(0, n)));
  let x = 5;
  const t0 = Date.now();
  for (let i = 0; i < 300; i++) {
    const b = Buffer.from(good, 'latin1');
    for (let k = 0; k < 3; k++) {
      x = (x * 1103515245 + 12345) >>> 0;
      b[x % b.length] = x >>> 24;
    }
    assert.doesNotThrow(() => items(b));
  }
  assert.ok(Date.now() - t0 < 10_000);
});
