/**
 * gzip layers: `vigil scan` against `clamscan` on seeded `.gz` files — nested up to three deep,
 * several members, truncated at random points, with planted body and hash signatures inside and
 * outside the compressed data — the same `FOUND` lines in default mode and with `--allmatch`, and
 * the same exit code. Skips with a message when clamscan 1.4 is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP, runClamscan } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS, vigilScan } from './layers-diff.js';

const SEED = process.env['VIGIL_CLAM_GZ_SEED'] ?? '20261129';

test(`gzip layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-gz-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  // Signatures: each mark as a body signature; the exact bytes of a few inner payloads as MD5s.
  const hashes: string[] = [];
  const payload = (): Buffer => {
    const parts: Buffer[] = [Buffer.from(rng.bytes(rng.int(0, 300)))];
    if (rng.chance(0.6)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    parts.push(Buffer.from(rng.bytes(rng.int(0, 300))));
    return Buffer.concat(parts);
  };
  for (let f = 0; f < 60; f++) {
    let bytes = payload();
    if (rng.chance(0.2)) hashes.push(`${createHash('md5').update(bytes).digest('hex')}:${bytes.length}:Inner.Hash.${f}`);
    for (let d = rng.int(1, 3); d > 0; d--) {
      bytes = gzipSync(bytes);
      if (rng.chance(0.2)) bytes = Buffer.concat([bytes, gzipSync(payload())]);
    }
    if (rng.chance(0.25)) bytes = bytes.subarray(0, rng.int(12, bytes.length));
    if (rng.chance(0.15)) bytes = Buffer.concat([bytes, Buffer.from(rng.pick(MARKS), 'latin1')]);
    writeFileSync(join(data, `f${String(f).padStart(2, '0')}.gz`), bytes);
  }
  await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['--allmatch', '--max-recursion=2']]);
});

test('MaxScanSize on plain files: a file larger than the limit is skipped (or alerted), as clamscan does', { skip: CLAMSCAN_SKIP }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-mss-'));
  const mark = Buffer.from(MARKS[0]!, 'latin1');
  writeFileSync(join(dir, 'small.bin'), Buffer.concat([Buffer.alloc(40, 0x61), mark]));
  writeFileSync(join(dir, 'edge.bin'), Buffer.concat([Buffer.alloc(100 - mark.length, 0x62), mark]));
  writeFileSync(join(dir, 'large.bin'), Buffer.concat([Buffer.alloc(3000, 0x63), mark]));
  writeFileSync(join(dir, 'm.ndb'), `Mark.0:0:*:${mark.toString('hex')}\n`);
  for (const extra of [[], ['--alert-exceeds-max'], ['--max-filesize=50', '--alert-exceeds-max']]) {
    const args = ['--no-summary', '--max-scansize=100', ...extra, '-d', join(dir, 'm.ndb'), join(dir, 'small.bin'), join(dir, 'edge.bin'), join(dir, 'large.bin')];
    const clam = await runClamscan(args);
    const mine = vigilScan(args);
    const lines = (out: string) => out.split('\n').filter((l) => l.includes(': ')).sort();
    assert.deepEqual(lines(mine.out), lines(clam.out), extra.join(' '));
    assert.equal(mine.code, clam.code);
  }
});
