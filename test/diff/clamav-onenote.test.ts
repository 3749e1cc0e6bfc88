/**
 * OneNote sections against clamscan: `.one` files built by code (OneNote's magic, file data store
 * objects holding attachments with planted marks and hashed payloads, junk between them, cut
 * files, lengths past the end), alone and inside ZIP; the same `FOUND` lines in default mode and
 * with `--allmatch`. No tool here writes OneNote files. Skips with a message when clamscan is absent.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';
import { buildZip } from '../helpers/zip-writer.js';
import { FILE_DATA_STORE_OBJECT, ONENOTE_MAGIC } from '../../src/formats/office/onenote.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';

test(`OneNote attachments: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-one-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  for (let f = 0; f < 40; f++) {
    const parts: Buffer[] = [ONENOTE_MAGIC, Buffer.from(rng.bytes(rng.int(0, 300)))];
    for (let k = rng.int(0, 3); k > 0; k--) {
      const payload = Buffer.concat([Buffer.from(rng.bytes(rng.int(10, 500))), ...(rng.chance(0.7) ? [Buffer.from(rng.pick(MARKS), 'latin1')] : []), Buffer.from(rng.bytes(rng.int(0, 300)))]);
      if (rng.chance(0.4)) hashes.push(`${createHash('md5').update(payload).digest('hex')}:${payload.length}:One.Hash.${f}.${k}`);
      const header = Buffer.alloc(36);
      FILE_DATA_STORE_OBJECT.copy(header, 0);
      header.writeUInt32LE(rng.chance(0.1) ? payload.length + rng.int(1, 5000) : payload.length, 16);
      parts.push(header, payload, Buffer.from(rng.bytes(rng.int(0, 200))));
    }
    let bytes = Buffer.concat(parts);
    if (rng.chance(0.15)) bytes = bytes.subarray(0, rng.int(20, bytes.length));
    if (rng.chance(0.2)) bytes = Buffer.from(buildZip([{ name: `n${f}.one`, data: bytes, method: 8 }]).bytes);
    writeFileSync(join(data, `o${String(f).padStart(2, '0')}.one`), bytes);
  }
  await compareLayers(t, dir, hashes, [[], ['--allmatch']]);
});
