import { test } from 'node:test';
import assert from 'node:assert/strict';
import { walkSis9, scanSis9 } from './sis9.js';
import { scanSis } from './sis.js';
import { buildSis, buildSis9 } from './fixtures.js';
import { DEFAULT_UNPACK_OPTIONS, isChild, isLimited, type UnpackContext, type UnpackItem } from '../unpack.js';

const ctx = (maxFileSize = 1 << 26, maxFiles = 10000): UnpackContext => ({
  limits: { maxFileSize, maxFiles, maxScanSize: 1 << 28 },
  options: { ...DEFAULT_UNPACK_OPTIONS },
});
const show = (i: UnpackItem): string => (isChild(i) ? `${i.name}=${Buffer.from(i.data).toString('latin1')}` : isLimited(i) ? `${i.name}:${i.limit}` : '?');
const walk = (b: Uint8Array, c = ctx()): string[] => [...walkSis9(b, c, 16)].map(show);

test('SIS 9: ClamAV starts its walk on the UIDs and so extracts nothing', () => {
  const sis = buildSis9([[{ data: Buffer.from('stored'), stored: true }, { data: Buffer.from('compressed') }]]);
  assert.deepEqual([...scanSis9(sis, ctx())], []);
  assert.deepEqual([...scanSis(sis, ctx())], []);
});

test('SIS 9 walk: stored and zlib files of every data unit, with or without checksums', () => {
  const units = [[{ data: Buffer.from('one stored'), stored: true }, { data: Buffer.from('two zlib '.repeat(20)) }], [{ data: Buffer.from('three') }]];
  for (const checksums of [false, true]) {
    assert.deepEqual(walk(buildSis9(units, { checksums })), ['sis9x00=one stored', `sis9x01=${'two zlib '.repeat(20)}`, 'sis9x02=three']);
  }
});

test('SIS 9 walk: the room a zlib file gets, and MaxFileSize', () => {
  const body = Buffer.from('abcdefgh'.repeat(400)); // deflates to far less than a third
  // The declared size fits in three times the stored size: the room is that, too small here.
  assert.deepEqual(walk(buildSis9([[{ data: body, usize: 10 }]])), []);
  // Declared larger: the room is the declared size.
  assert.deepEqual(walk(buildSis9([[{ data: body }]])), [`sis9x00=${body.toString()}`]);
  // Three times the stored size over MaxFileSize: the limit is met (an alert), then the declared size is used.
  const sis = buildSis9([[{ data: Buffer.from('x'.repeat(30)), usize: 30 }]]);
  const stored = walk(sis, ctx(1 << 20)).length;
  assert.equal(stored, 1);
  const items = [...walkSis9(sis, ctx(31), 16)];
  assert.deepEqual(items.map((i) => (isLimited(i) ? 'limit' : isChild(i) ? `child ${i.data.length}` : '?')), ['limit', 'child 30']);
  // Stored size over MaxFileSize: only the limit.
  assert.deepEqual([...walkSis9(buildSis9([[{ data: Buffer.alloc(100, 1), stored: true }]]), ctx(50), 16)].map((i) => isLimited(i)), [true]);
});

test('SIS 9 walk: damage drops a file, the walk goes on with the next', () => {
  const sis = Buffer.from(buildSis9([[{ data: Buffer.from('first file, compressed') }, { data: Buffer.from('second'), stored: true }]]));
  // The controller's zlib stream comes first; the file's is the next one.
  const z = sis.indexOf(Buffer.from([0x78, 0x9c]), sis.indexOf(Buffer.from([0x78, 0x9c])) + 2);
  sis[z + 4] = sis[z + 4]! ^ 0x55;
  assert.deepEqual(walk(sis), ['sis9x01=second']);
  // A stored file whose padding is missing at the end of the package is dropped.
  const odd = buildSis9([[{ data: Buffer.from('abcde'), stored: true }]]);
  assert.deepEqual(walk(odd), ['sis9x00=abcde']);
  assert.deepEqual(walk(odd.subarray(0, odd.length - 3)), []);
});

test('SIS 9 walk: truncation and random damage never throw, output bounded', () => {
  const sis = Buffer.from(buildSis9([[{ data: Buffer.from('hello '.repeat(300)) }, { data: Buffer.from('plain'), stored: true }], [{ data: Buffer.from('more') }]], { checksums: true }));
  const run = (b: Uint8Array): void => {
    for (const i of walkSis9(b, ctx(4096), 16)) if (isChild(i)) assert.ok(i.data.length <= 4096 * 3);
    for (const _ of scanSis(b, ctx(4096))) { /* drain */ }
  };
  for (let cut = 0; cut <= sis.length; cut++) run(sis.subarray(0, cut));
  let seed = 5;
  for (let round = 0; round < 500; round++) {
    const m = Buffer.from(sis);
    for (let k = 0; k < 3; k++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      m[16 + (seed % (m.length - 16))] = seed >>> 24;
    }
    run(m);
  }
});

test('SIS: the old format is read first when the third UID is its own, whatever the first', () => {
  const old = Buffer.from(buildSis([{ name: 'a.txt', data: Buffer.from('old format file') }]));
  old.writeUInt32LE(0x10201a7a, 0);
  assert.deepEqual([...scanSis(old, ctx())].map(show), ['a.txt=old format file']);
});
