/**
 * tar layers: `vigil scan` against `clamscan` on seeded tar archives — files with planted body and
 * hash signatures, directories, links, pax and GNU long-name headers, damaged headers, truncated
 * archives, tar inside gzip and gzip inside tar — the same `FOUND` lines in default mode, with
 * `--allmatch`, and with a limit on the files per file (MaxFiles), and the same exit code. Skips with a message when clamscan 1.4 is absent.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';

const SEED = process.env['VIGIL_CLAM_TAR_SEED'] ?? '20261129';

/** One ustar header block (checksum filled in) for `name`, `size` and `type`. */
function header(name: string, size: number, type: string, ustar: boolean): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 99), 0, 'latin1');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  h.write('14712345670\0', 136, 'latin1');
  h.write(type, 156, 'latin1');
  if (ustar) h.write('ustar\x0000', 257, 'latin1');
  h.write('        ', 148, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

function entry(name: string, data: Buffer, type: string, ustar: boolean): Buffer {
  const pad = (512 - (data.length % 512)) % 512;
  return Buffer.concat([header(name, data.length, type, ustar), data, Buffer.alloc(pad)]);
}

test(`tar layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-tar-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  const payload = (): Buffer => {
    const parts: Buffer[] = [Buffer.from(rng.bytes(rng.int(0, 700)))];
    if (rng.chance(0.5)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    parts.push(Buffer.from(rng.bytes(rng.int(0, 700))));
    return Buffer.concat(parts);
  };
  for (let f = 0; f < 50; f++) {
    const ustar = rng.chance(0.85);
    const parts: Buffer[] = [];
    for (let e = rng.int(1, 5); e > 0; e--) {
      const kind = rng.int(0, 9);
      const body = payload();
      if (rng.chance(0.15)) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${f}.${e}`);
      if (kind === 0) parts.push(header(`dir${e}/`, 0, '5', ustar));
      else if (kind === 1) parts.push(entry(`PaxHeaders/${e}`, Buffer.from(`30 path=${rng.word(5, 12)}\n`), 'x', ustar), entry(`f${e}`, body, '0', ustar));
      else if (kind === 2) parts.push(entry('././@LongLink', Buffer.from(`${rng.word(120, 140)}\0`), 'L', ustar), entry(`f${e}`, body, '0', ustar));
      else if (kind === 3) parts.push(entry(`z${e}`, Buffer.alloc(0), '0', ustar));
      else if (kind === 4) parts.push(entry(`g${e}.gz`, gzipSync(body), '0', ustar));
      else if (kind === 5) {
        const bad = entry(`b${e}`, body, '0', ustar);
        bad[148] = 0x37; // a damaged checksum: the header is skipped and its data read as headers
        parts.push(bad);
      } else parts.push(entry(`f${e}`, body, rng.pick(['0', '\0', '7']), ustar));
    }
    let bytes = Buffer.concat([...parts, Buffer.alloc(1024)]);
    if (rng.chance(0.2)) bytes = bytes.subarray(0, rng.int(600, bytes.length));
    if (rng.chance(0.15)) bytes = gzipSync(bytes);
    writeFileSync(join(data, `t${String(f).padStart(2, '0')}.tar`), bytes);
  }
  // MaxFiles counts every layer of a file, itself included.
  await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['--allmatch', '--max-files=3'], ['--max-files=2']]);
});
