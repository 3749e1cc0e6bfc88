import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scanAutoitEmbedded } from './autoit.js';
import { buildAutoit } from './fixtures.js';
import { DEFAULT_UNPACK_OPTIONS, isChild, isLimited, type UnpackContext, type UnpackItem } from '../unpack.js';

const ctx = (maxFileSize = 1 << 26): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 10000, maxScanSize: 1 << 28 },
  options: { ...DEFAULT_UNPACK_OPTIONS },
});
const list = (it: Iterable<UnpackItem>): UnpackItem[] => [...it];
const files = [
  { name: 'a.exe', data: Buffer.from('MZ first file '.repeat(300) + 'x'.repeat(2000) + 'tail') },
  { name: 'b.txt', data: Buffer.from('second, with no repeats at all') },
  { name: 'c.bin', data: Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) & 0xff)) },
];

for (const v6 of [false, true]) {
  for (const stored of [false, true]) {
    test(`AutoIt ${v6 ? 'EA06' : 'EA05'}${stored ? ' stored' : ''}: every file, unpacked`, () => {
      const data = Buffer.concat([Buffer.alloc(50, 0x90), buildAutoit(files, v6, { stored })]);
      const kids = list(scanAutoitEmbedded(data, 50, ctx())).filter(isChild);
      assert.deepEqual(kids.map((k) => Buffer.from(k.data)), files.map((f) => f.data));
      assert.deepEqual(kids.map((k) => k.name), ['autoit.001', 'autoit.002', 'autoit.003']);
    });
  }
}

test('AutoIt: an unknown version byte or a wrong tag gives nothing; sizes over MaxFileSize are limited', () => {
  const au = Buffer.from(buildAutoit(files, false));
  const other = Buffer.from(au);
  other[23] = 0x37;
  assert.deepEqual(list(scanAutoitEmbedded(other, 0, ctx())), []);
  const tag = Buffer.from(au);
  tag[40] = tag[40]! ^ 1;
  assert.deepEqual(list(scanAutoitEmbedded(tag, 0, ctx())), []);
  const items = list(scanAutoitEmbedded(au, 0, ctx(1000)));
  assert.deepEqual(items.map((i) => (isLimited(i) ? 'limit' : isChild(i) ? 'child' : '?')), ['limit', 'child', 'limit']);
});

test('AutoIt: the EA06 script entry is not given (ClamAV decompiles it)', () => {
  const au = buildAutoit(files.slice(0, 1), true, { magic: '>>>AUTOIT SCRIPT<<<' });
  assert.deepEqual(list(scanAutoitEmbedded(au, 0, ctx())).filter(isChild), []);
});

test('AutoIt: truncation and random damage never throw and stay bounded', () => {
  let seed = 7;
  for (const v6 of [false, true]) {
    const au = Buffer.from(buildAutoit(files, v6));
    const run = (b: Uint8Array): void => {
      for (const i of scanAutoitEmbedded(b, 0, ctx(1 << 16))) if (isChild(i)) assert.ok(i.data.length <= 1 << 16);
    };
    for (let cut = 0; cut <= au.length; cut += 3) run(au.subarray(0, cut));
    for (let round = 0; round < 300; round++) {
      const m = Buffer.from(au);
      for (let k = 0; k < 3; k++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        m[24 + (seed % (m.length - 24))] = seed >>> 24;
      }
      run(m);
    }
  }
});

test('AutoIt: the layer given (a Buffer) is left as it was', () => {
  for (const v6 of [false, true]) {
    const au = Buffer.from(buildAutoit(files, v6, { stored: true }));
    const before = Buffer.from(au);
    assert.equal(list(scanAutoitEmbedded(au, 0, ctx())).filter(isChild).length, 3);
    assert.ok(au.equals(before));
  }
});
