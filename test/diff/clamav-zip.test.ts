/**
 * ZIP layers: `vigil scan` against `clamscan` on seeded archives — stored and deflated files with
 * planted body and hash signatures, data descriptors, directories, prepended stubs (reached as
 * embedded entries), zip inside zip, gzip inside zip and zip inside gzip, archives cut short — the
 * same `FOUND` lines in default mode and with `--allmatch`, and the same exit code. Skips with a
 * message when clamscan 1.4 is absent.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { buildZip, type WriterEntry } from '../helpers/zip-writer.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';

const SEED = process.env['VIGIL_CLAM_ZIP_SEED'] ?? '20261129';

test(`zip layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-zip-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  const payload = (): Buffer => {
    const parts: Buffer[] = [Buffer.from(rng.bytes(rng.int(0, 700)))];
    if (rng.chance(0.5)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    parts.push(Buffer.from(rng.bytes(rng.int(0, 700))));
    return Buffer.concat(parts);
  };
  const archive = (depth: number): Buffer => {
    const entries: WriterEntry[] = [];
    for (let e = rng.int(1, 5); e > 0; e--) {
      const kind = rng.int(0, 7);
      const body = kind === 0 && depth < 2 ? archive(depth + 1) : kind === 1 ? gzipSync(payload()) : payload();
      if (rng.chance(0.15)) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${hashes.length}`);
      if (kind === 2) entries.push({ name: `dir${e}/`, data: '' });
      entries.push({
        name: `f${e}.bin`, data: body, method: rng.pick([0, 8]),
        ...(rng.chance(0.2) ? { descriptor: rng.pick(['signed', 'unsigned'] as const) } : {}),
      });
    }
    const built = buildZip(entries, rng.chance(0.1) ? { prefix: Buffer.from(rng.bytes(rng.int(10, 300))) } : {});
    return Buffer.from(built.bytes);
  };
  for (let f = 0; f < 50; f++) {
    let bytes = archive(0);
    if (rng.chance(0.15)) bytes = bytes.subarray(0, rng.int(30, bytes.length));
    if (rng.chance(0.15)) bytes = gzipSync(bytes);
    writeFileSync(join(data, `z${String(f).padStart(2, '0')}.zip`), bytes);
  }
  await compareLayers(t, dir, hashes, [[], ['--allmatch']]);
});
