/**
 * Tests for the CHM reader: files built by `samples.ts` (no CHM compiler exists here) with
 * section-0 and LZX section-1 files, window sizes, reset intervals, versions 2 and 3, SpanInfo in
 * place of the ResetTable; directory rules; limits; truncation and mutation loops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../test/helpers/prng.js';
import { DEFAULT_UNPACK_OPTIONS, isChild, type ChildLayer, type UnpackContext } from '../unpack.js';
import { readChm, unpackChm } from './chm.js';
import { buildChm, type ChmSampleFile } from './samples.js';

const ctx = (maxFileSize = 64 << 20): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 0, maxScanSize: 256 << 20 },
  options: { ...DEFAULT_UNPACK_OPTIONS },
});
const children = (b: Uint8Array, c = ctx()): ChildLayer[] => [...unpackChm(b, c)].filter(isChild);

const rng = new Prng('chm-tests');
const page = Buffer.from(Array.from({ length: 3000 }, (_, i) => `<p>topic ${i} ${(i * 31) % 101}</p>\n`).join(''));
const blob = Buffer.from(rng.bytes(90000));
const FILES: ChmSampleFile[] = [
  { name: '/index.html', data: page },
  { name: '/blob.bin', data: blob },
  { name: '/raw.txt', data: page.subarray(0, 5000), section: 0 },
  { name: '/empty', data: new Uint8Array(0) },
  { name: '/more.html', data: page.subarray(1000, 70000) },
];

function assertSame(got: ChildLayer[], want: ChmSampleFile[]): void {
  assert.deepEqual(got.map((c) => c.name), want.map((f) => f.name));
  got.forEach((c, i) => assert.ok(Buffer.from(c.data).equals(Buffer.from(want[i]!.data)), `content of ${c.name}`));
}

test('section 0 and LZX section 1 files, several windows and reset intervals', () => {
  for (const [windowBits, resetFrames] of [[15, 1], [16, 2], [17, 4], [21, 2]] as const) {
    const bytes = buildChm(FILES, { windowBits, resetFrames, blocks: ['verbatim', 'aligned', 'uncompressed'] });
    assertSame(children(bytes), FILES);
  }
});

test('version 2 (content offset computed), SpanInfo without ResetTable, small chunks', () => {
  assertSame(children(buildChm(FILES, { version: 2 })), FILES);
  assertSame(children(buildChm(FILES, { noResetTable: true })), FILES);
  const many: ChmSampleFile[] = Array.from({ length: 60 }, (_, i) => ({ name: `/dir/file-${i}.html`, data: page.subarray(i * 100, i * 100 + 700), section: (i % 3 === 0 ? 0 : 1) as 0 | 1 }));
  const bytes = buildChm(many, { chunkSize: 512 });
  assertSame(children(bytes), many);
  assert.ok(readChm(bytes)!.files.length === 60);
});

test('system files are not children; directories and one-byte names are skipped', () => {
  const files: ChmSampleFile[] = [
    { name: '/', data: new Uint8Array(0), section: 0 },
    { name: '/sub/', data: new Uint8Array(0), section: 0 },
    { name: '/a', data: page.subarray(0, 10) },
    { name: '#SYSTEM', data: page.subarray(0, 20), section: 0 },
  ];
  const got = children(buildChm(files));
  assert.deepEqual(got.map((c) => c.name), ['/a', '#SYSTEM']);
  const info = readChm(buildChm(files))!;
  assert.ok(info.sysfiles.has('::DataSpace/Storage/MSCompressed/Content'));
});

test('files listed out of order: the decoder restarts from the reset table', () => {
  for (const resetFrames of [1, 2, 4]) {
    const order = [4, 1, 0, 2, 3];
    const bytes = buildChm(FILES, { resetFrames, listOrder: order });
    assertSame(children(bytes), order.map((i) => FILES[i]!));
  }
  // Without a ResetTable the decoder restarts from the beginning of the stream.
  assertSame(children(buildChm(FILES, { noResetTable: true, listOrder: [4, 0] })), [FILES[4]!, FILES[0]!]);
});

test('output past MaxFileSize is cut there', () => {
  const got = children(buildChm(FILES), ctx(1000));
  for (const c of got) assert.ok(c.data.length <= 1000);
  assert.ok(Buffer.from(got[1]!.data).equals(blob.subarray(0, 1000)));
});

test('truncation at many points: no exception; children are prefixes or empty', () => {
  const bytes = buildChm(FILES, { resetFrames: 2 });
  for (let cut = 0; cut < bytes.length; cut += 613) {
    for (const c of children(bytes.subarray(0, cut))) {
      const want = FILES.find((f) => f.name === c.name)!.data;
      assert.ok(Buffer.from(c.data).equals(Buffer.from(want).subarray(0, c.data.length)), `cut ${cut}: ${c.name}`);
    }
  }
});

test('400 random mutations: no exception, bounded output and time', () => {
  const base = buildChm(FILES, { resetFrames: 2, blocks: ['verbatim', 'aligned'] });
  const start = Date.now();
  for (let i = 0; i < 400; i++) {
    const b = Buffer.from(base);
    for (let k = rng.int(1, 10); k > 0; k--) {
      const p = rng.chance(0.5) ? rng.int(0, 0x200) : rng.int(0, b.length - 1);
      b[p] = rng.int(0, 255);
    }
    for (const c of children(b, ctx(300000))) assert.ok(c.data.length <= 300000);
  }
  assert.ok(Date.now() - start < 60000);
});
