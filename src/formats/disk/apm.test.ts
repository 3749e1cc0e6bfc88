import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_UNPACK_OPTIONS, isAlert, isChild, type UnpackContext, type UnpackOptions } from '../unpack.js';
import { apmMembers } from './apm.js';
import { buildApm } from './apm-build.js';

const ctxWith = (o: Partial<UnpackOptions> = {}): UnpackContext => ({ limits: { maxFileSize: 1 << 26, maxFiles: 10000, maxScanSize: 1 << 28 }, options: { ...DEFAULT_UNPACK_OPTIONS, ...o } });
const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);
const got = (img: Uint8Array, o: Partial<UnpackOptions> = {}): [string, number, number][] =>
  [...apmMembers(img, ctxWith(o))].filter(isChild).map((c) => [c.name, c.data.length, c.data[0]!]);

test('the partitions of the map from its second entry, the map itself passed over', () => {
  const img = buildApm([
    { start: 8, blocks: 4, type: 'Apple_HFS', name: 'one', data: fill(10, 1) },
    { start: 12, blocks: 2, type: 'Apple_partition_map', name: 'again' },
    { start: 20, blocks: 6, type: 'Apple_Free', name: 'three', data: fill(10, 3) },
  ]);
  assert.deepEqual(got(img), [['one', 2048, 1], ['three', 3072, 3]]);
  assert.deepEqual(got(img, { maxPartitions: 2 }), [['one', 2048, 1]]);
});

test('the checks ClamAV makes: descriptor signature, size, first entry, bounds', () => {
  const parts = [{ start: 8, blocks: 4, type: 'Apple_HFS', data: fill(10, 1) }, { start: 14, blocks: 4, type: 'Apple_HFS', data: fill(10, 2) }];
  const img = buildApm(parts);
  const count = Uint8Array.from(img); new DataView(count.buffer).setUint32(4, img.length / 512 + 1, false);
  assert.deepEqual(got(count), []);
  const sig = Uint8Array.from(img); sig[0] = 0;
  assert.deepEqual(got(sig), []);
  assert.deepEqual(got(buildApm(parts, { mapType: 'Apple_Free' })), []);
  // An entry past the end is passed over; one at 0 too.
  assert.deepEqual(got(buildApm([{ start: 0, blocks: 2, type: 'A' }, { start: 8, blocks: 400, type: 'B' }, { start: 8, blocks: 2, type: 'C', data: fill(4, 9) }], { totalBlocks: 16 })).map((g) => g[2]), [9]);
  // An inflated count stops at the first entry it cannot read, bounded by MaxPartitions.
  assert.equal(got(buildApm(parts, { declaredCount: 1000 })).length, 2);
});

test('old-school maps: 2048-byte descriptor, 512-byte entries', () => {
  const img = buildApm([{ start: 8, blocks: 4, type: 'Apple_HFS', data: fill(10, 1) }], { totalBlocks: 16 });
  const dv = new DataView(img.buffer);
  dv.setUint16(2, 2048, false);
  dv.setUint32(4, img.length / 2048, false);
  assert.deepEqual(got(img), [['part1', 2048, 1]]);
});

test('overlapping entries raise the intersection heuristic only when asked', () => {
  const img = buildApm([{ start: 8, blocks: 8, type: 'Apple_HFS' }, { start: 12, blocks: 8, type: 'Apple_HFS' }]);
  assert.equal([...apmMembers(img, ctxWith())].filter(isAlert).length, 0);
  assert.deepEqual([...apmMembers(img, ctxWith({ alertPartitionIntersection: true }))].filter(isAlert).map((a) => a.alert), ['Heuristics.APMPartitionIntersection']);
});

test('cut short or mutated, the reader never throws and stays bounded', () => {
  const img = buildApm([{ start: 8, blocks: 4, type: 'Apple_HFS', data: fill(10, 1) }, { start: 14, blocks: 4, type: 'Apple_Driver43', data: fill(10, 2) }]);
  for (let cut = 0; cut <= img.length; cut += 64) assert.doesNotThrow(() => [...apmMembers(img.subarray(0, cut), ctxWith({ alertPartitionIntersection: true }))]);
  let seed = 3;
  const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let round = 0; round < 500; round++) {
    const m = Uint8Array.from(img);
    for (let k = 0; k < 5; k++) m[Math.floor(rnd() * 4 * 512)] = Math.floor(rnd() * 256);
    assert.ok([...apmMembers(m, ctxWith({ alertPartitionIntersection: true }))].length <= 120);
  }
});
