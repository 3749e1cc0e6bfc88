import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_UNPACK_OPTIONS, isAlert, isChild, type UnpackContext, type UnpackItem, type UnpackOptions } from '../unpack.js';
import { IntersectionList, mbrCheck, mbrMembers, mbrOrGptMembers, partitionChild } from './mbr.js';

const ctxWith = (o: Partial<UnpackOptions> = {}): UnpackContext => ({ limits: { maxFileSize: 1 << 26, maxFiles: 10000, maxScanSize: 1 << 28 }, options: { ...DEFAULT_UNPACK_OPTIONS, ...o } });
const S = 512;

interface E { status?: number; type: number; first: number; count: number }
function record(img: Uint8Array, sector: number, entries: E[]): void {
  const base = sector * S + 446;
  entries.forEach((e, i) => {
    const dv = new DataView(img.buffer, base + i * 16, 16);
    dv.setUint8(0, e.status ?? 0);
    dv.setUint8(4, e.type);
    dv.setUint32(8, e.first, true);
    dv.setUint32(12, e.count, true);
  });
  img[base + 64] = 0x55;
  img[base + 65] = 0xaa;
}
/** Partition i filled with the byte i+1. */
function disk(sectors: number, primaries: E[], fillFrom: E[] = primaries): Uint8Array {
  const img = new Uint8Array(sectors * S);
  fillFrom.forEach((e, i) => { if (e.type !== 5 && e.type !== 0) img.fill(i + 1, e.first * S, (e.first + e.count) * S); });
  record(img, 0, primaries);
  return img;
}
const children = (items: UnpackItem[]) => items.filter(isChild);

test('primary partitions are scanned in table order after the boot sector', () => {
  const img = disk(100, [{ type: 0x83, first: 10, count: 5, status: 0x80 }, { type: 0, first: 0, count: 0 }, { type: 0x0c, first: 40, count: 3 }]);
  const got = children([...mbrMembers(img, ctxWith())]);
  assert.deepEqual(got.map((c) => [c.name, c.data.length, c.type ?? 'ANY']), [['mbr-boot', 512, 'ANY'], ['partition1', 2560, 'CL_TYPE_PART_ANY'], ['partition3', 1536, 'CL_TYPE_PART_ANY']]);
  assert.equal(got[1]!.data[0], 1);
});

test('an extended partition is followed through its boot records', () => {
  const img = new Uint8Array(200 * S);
  record(img, 0, [{ type: 0x83, first: 4, count: 4 }, { type: 5, first: 50, count: 100 }]);
  // Logical 1 at 52 (+2 from the extended start), link to the next record at +20.
  record(img, 50, [{ type: 0x83, first: 2, count: 10 }, { type: 5, first: 20, count: 30 }]);
  record(img, 70, [{ type: 0x83, first: 2, count: 5 }]);
  img.fill(7, 52 * S, 62 * S);
  img.fill(8, 72 * S, 77 * S);
  const got = children([...mbrMembers(img, ctxWith())]);
  assert.deepEqual(got.map((c) => [c.data.length, c.data[0]]), [[512, 0], [2048, 0], [5120, 7], [2560, 8]]);
  // MaxPartitions counts the first primary and each record: 2 stops after the first record.
  assert.equal(children([...mbrMembers(img, ctxWith({ maxPartitions: 2 }))]).length, 3);
  // A logical partition past the extended partition ends everything.
  const past = Uint8Array.from(img);
  new DataView(past.buffer).setUint32(70 * S + 446 + 12, 1000, true);
  assert.equal(children([...mbrMembers(past, ctxWith())]).length, 3);
  // A record linking to itself is bounded by MaxPartitions.
  const loop = Uint8Array.from(img);
  new DataView(loop.buffer).setUint32(70 * S + 446 + 16 + 8, 20, true);
  loop[70 * S + 446 + 16 + 4] = 5;
  assert.equal(children([...mbrMembers(loop, ctxWith())]).length, 2 + 49);
});

test('the checks ClamAV makes: size, status, bounds, signature, protective entries', () => {
  const good = disk(100, [{ type: 0x83, first: 10, count: 5 }]);
  assert.equal(mbrCheck(good), 'mbr');
  assert.equal(mbrCheck(good.subarray(0, good.length - 1)), undefined);
  const st = Uint8Array.from(good); st[446] = 0x7f;
  assert.equal(mbrCheck(st), undefined);
  const far = disk(100, [{ type: 0x83, first: 98, count: 5 }]);
  assert.equal(mbrCheck(far), undefined);
  const sig = Uint8Array.from(good); sig[511] = 0;
  assert.equal(mbrCheck(sig), undefined);
  assert.equal(mbrCheck(good.subarray(0, 512)), undefined);
  const prot = disk(100, [{ type: 0xee, first: 1, count: 99 }]);
  assert.equal(mbrCheck(prot), 'gpt');
  assert.deepEqual([...mbrOrGptMembers(prot, ctxWith())], []);
});

test('overlapping entries raise the intersection heuristic only when asked', () => {
  const img = disk(100, [{ type: 0x83, first: 10, count: 20 }, { type: 0x83, first: 20, count: 5 }]);
  assert.equal([...mbrMembers(img, ctxWith())].filter(isAlert).length, 0);
  const items = [...mbrMembers(img, ctxWith({ alertPartitionIntersection: true }))];
  assert.deepEqual(items.filter(isAlert).map((a) => a.alert), ['Heuristics.MBRPartitionnIntersect']);
  const list = new IntersectionList();
  assert.equal(list.check(5, 0), false);
  assert.equal(list.check(5, 0), true);
  assert.equal(list.check(6, 1), false);
});

test('a partition child follows ClamAV nested-scan rules', () => {
  const b = new Uint8Array(2000);
  assert.equal(partitionChild(b, 2000, 10, 'x'), undefined);
  assert.equal(partitionChild(b, 1995, 0, 'x'), undefined);
  assert.equal(partitionChild(b, 1000, 0, 'x')!.data.length, 1000);
  assert.equal(partitionChild(b, 1000, 5000, 'x')!.data.length, 1000);
  b.set([0x48, 0x2b, 0, 4], 1024);
  assert.equal(partitionChild(b, 0, 1500, 'x')!.type, 'CL_TYPE_PART_HFSPLUS');
});

test('cut short or mutated, the reader never throws and stays bounded', () => {
  const img = new Uint8Array(200 * S);
  record(img, 0, [{ type: 0x83, first: 4, count: 4 }, { type: 5, first: 50, count: 100 }]);
  record(img, 50, [{ type: 0x83, first: 2, count: 10 }, { type: 5, first: 20, count: 30 }]);
  record(img, 70, [{ type: 0x83, first: 2, count: 5 }]);
  for (let cut = 0; cut <= img.length; cut += 256) assert.doesNotThrow(() => [...mbrOrGptMembers(img.subarray(0, cut), ctxWith({ alertPartitionIntersection: true }))]);
  let seed = 11;
  const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const hot = [446, 50 * S + 446, 70 * S + 446];
  for (let round = 0; round < 500; round++) {
    const m = Uint8Array.from(img);
    for (let k = 0; k < 6; k++) m[hot[k % 3]! + Math.floor(rnd() * 66)] = Math.floor(rnd() * 256);
    const items = [...mbrOrGptMembers(m, ctxWith({ alertPartitionIntersection: true }))];
    assert.ok(items.length < 200);
  }
});
