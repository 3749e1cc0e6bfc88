import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from '../../core/crc32.js';
import { DEFAULT_UNPACK_OPTIONS, isAlert, isChild, type UnpackContext, type UnpackOptions } from '../unpack.js';
import { gptMembers, gptSectorSize } from './gpt.js';
import { mbrOrGptMembers } from './mbr.js';

const ctxWith = (o: Partial<UnpackOptions> = {}): UnpackContext => ({ limits: { maxFileSize: 1 << 26, maxFiles: 10000, maxScanSize: 1 << 28 }, options: { ...DEFAULT_UNPACK_OPTIONS, ...o } });
const S = 512;
const HAVE_SFDISK = spawnSync('sfdisk', ['--version'], { stdio: 'ignore' }).error === undefined;

/** A GPT image written by sfdisk: partitions at 40 (+20), 70 (+10), 90 (+5), each filled with its number. */
function sample(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-gpt-'));
  try {
    const f = join(dir, 'g.img');
    writeFileSync(f, Buffer.alloc(200 * S));
    const r = spawnSync('sfdisk', ['-q', f], { input: 'label: gpt\nstart=40, size=20\nstart=70, size=10\nstart=90, size=5\n' });
    assert.equal(r.status, 0, r.stderr?.toString());
    const img = readFileSync(f);
    [[40, 20], [70, 10], [90, 5]].forEach(([s, n], i) => img.fill(i + 1, s! * S, (s! + n!) * S));
    return img;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function fix(img: Buffer, hdr: number): void {
  const table = Number(img.readBigUInt64LE(hdr + 72)) * S;
  img.writeUInt32LE(crc32(img.subarray(table, table + img.readUInt32LE(hdr + 80) * 128)), hdr + 88);
  img.writeUInt32LE(0, hdr + 16);
  img.writeUInt32LE(crc32(img.subarray(hdr, hdr + 92)), hdr + 16);
}

const sizes = (img: Uint8Array, o: Partial<UnpackOptions> = {}): number[] => [...gptMembers(img, ctxWith(o))].filter(isChild).map((c) => c.data.length);

test('the partitions of the primary table, the backup when the primary header is damaged', { skip: HAVE_SFDISK ? false : 'sfdisk (fdisk) is not installed' }, () => {
  const img = sample();
  assert.equal(gptSectorSize(img), 512);
  assert.deepEqual(sizes(img), [20 * S, 10 * S, 5 * S]);
  assert.deepEqual([...mbrOrGptMembers(img, ctxWith())].filter(isChild).length, 3);
  const bad = Buffer.from(img); bad[S + 16] = bad[S + 16]! ^ 1;
  assert.deepEqual(sizes(bad), [20 * S, 10 * S, 5 * S]);
  const both = Buffer.from(bad); both[both.length - S + 16] = both[both.length - S + 16]! ^ 1;
  assert.deepEqual(sizes(both), []);
  assert.deepEqual(sizes(img.subarray(0, img.length - 1)), []);
  assert.deepEqual(sizes(img, { maxPartitions: 2 }), [20 * S, 10 * S]);
});

test('both tables are read when both are valid and their CRCs differ', { skip: HAVE_SFDISK ? false : 'sfdisk (fdisk) is not installed' }, () => {
  const img = sample();
  const hdr = img.length - S;
  const table = Number(img.readBigUInt64LE(hdr + 72)) * S;
  img.fill(0, table, table + 128);
  fix(img, hdr);
  assert.deepEqual(sizes(img), [20 * S, 10 * S, 5 * S, 10 * S, 5 * S]);
});

test('overlapping entries raise the intersection heuristic for each header', { skip: HAVE_SFDISK ? false : 'sfdisk (fdisk) is not installed' }, () => {
  const img = sample();
  const pt = Number(img.readBigUInt64LE(S + 72)) * S;
  img.writeBigUInt64LE(45n, pt + 128 + 32);
  fix(img, S);
  const items = [...gptMembers(img, ctxWith({ alertPartitionIntersection: true }))];
  // The primary table overlaps; the backup's does not (it was left as it was, and is not read).
  assert.deepEqual(items.filter(isAlert).map((a) => a.alert), ['Heuristics.GPTPartitionIntersection']);
  assert.equal([...gptMembers(img, ctxWith())].filter(isAlert).length, 0);
});

test('cut short or mutated, the reader never throws and stays bounded', { skip: HAVE_SFDISK ? false : 'sfdisk (fdisk) is not installed' }, () => {
  const img = sample();
  for (let cut = 0; cut <= img.length; cut += 128) assert.doesNotThrow(() => [...gptMembers(img.subarray(0, cut), ctxWith({ alertPartitionIntersection: true }))]);
  let seed = 5;
  const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let round = 0; round < 300; round++) {
    const m = Buffer.from(img);
    for (let k = 0; k < 4; k++) m[S + Math.floor(rnd() * 92)] = Math.floor(rnd() * 256);
    if (round % 2) fix(m, S);
    const items = [...gptMembers(m, ctxWith({ alertPartitionIntersection: true }))];
    assert.ok(items.length <= 200);
  }
});

test('sector sizes 512 to 4096 are detected from where the header signature is', async () => {
  const { buildGpt } = await import('./gpt-build.js');
  for (const ss of [512, 1024, 2048, 4096]) {
    const img = buildGpt([{ first: 40, last: 45, data: new Uint8Array(10).fill(1) }, { first: 50, last: 50, data: new Uint8Array(10).fill(2) }], ss);
    assert.equal(gptSectorSize(img), ss);
    assert.deepEqual(sizes(img), [6 * ss, ss]);
    // Reached through the protective MBR, as ClamAV's raw scan reaches it.
    assert.equal([...mbrOrGptMembers(img, ctxWith())].filter(isChild).length, 2);
    // Cut by 512 bytes: not a whole number of sectors, or the headers no longer point at the last one.
    assert.deepEqual(sizes(img.subarray(0, img.length - 512)), []);
  }
});
