/**
 * MEW's LZMA form and Upack: `vigil scan` against `clamscan` on seeded samples, the same `FOUND`
 * lines and exit code in each mode. Skips with a message when clamscan 1.4 is absent.
 *
 * No such packer is installed: the samples come from src/formats/packers/mew-pack.ts
 * (`mewPackLzma`: the loader's `call` to the LZMA procedure, one aPLib-style stream, then LZMA
 * blocks, one per section or one for the image with the call fix-up, loader at 0x154 or 0x158)
 * and upack-pack.ts (`upackPack`: Upack 0.39 with three sections (and the two variants ClamAV
 * names after samples 0151477 and 0297729), with two sections, and 1.1/1.2;
 * literal context bits 0 to 6; call fix-up or not). Payloads with marks lie in the original
 * sections, so a mark is found only in the unpacked image (unless the coder left it as literals);
 * hash signatures are the MD5s of the rebuilt images vigil makes, damaged ones included, so they
 * match only when the rebuilt PE is byte for byte ClamAV's. Damaged copies (bytes changed in the
 * loader's fields, in the tables or in the streams; cut files) and packed files inside ZIPs are
 * added. Modes: default, `--allmatch`, a MaxFileSize between the packed and the unpacked sizes
 * with `--alert-exceeds-max`.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { buildZip } from '../helpers/zip-writer.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';
import { mewPackLzma } from '../../src/formats/packers/mew-pack.js';
import { upackPack } from '../../src/formats/packers/upack-pack.js';
import type { UpxSection } from '../../src/formats/packers/upx-pack.js';
import { unpackPe } from '../../src/formats/packers/index.js';
import { DEFAULT_UNPACK_OPTIONS } from '../../src/formats/unpack.js';
import { CONTAINERS } from '../../src/formats/registry.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';

const SKIP: false | string = CLAMSCAN_SKIP || (CONTAINERS.has('CL_TYPE_MSEXE') ? false : 'the packers family (src/formats/packers) is not in src/formats/registry.ts yet: differential skipped');

test(`MEW LZMA and Upack: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: SKIP }, async (t) => {
  const rng = new Prng(`${SEED}-packers-lzma`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-lzmapack-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  const ctx = { limits: { maxFileSize: 25 * 1024 * 1024, maxFiles: 0, maxScanSize: 100 * 1024 * 1024 }, options: { ...DEFAULT_UNPACK_OPTIONS } };
  const payload = (): Uint8Array => {
    const parts: Uint8Array[] = [rng.bytes(rng.int(0, 1500))];
    if (rng.chance(0.4)) parts.push(new Uint8Array(rng.int(100, 30000)));
    if (rng.chance(0.3)) parts.push(Uint8Array.from([0xe8, rng.int(0, 255), rng.int(0, 0x20), 0, 0, 0x90, 0xe9, 0xf0, 0xff, 0xff, 0xff]));
    if (rng.chance(0.6)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    parts.push(rng.bytes(rng.int(0, 1500)));
    return Buffer.concat(parts);
  };
  const sections = (): UpxSection[] =>
    Array.from({ length: rng.int(1, 4) }, (_, i) => ({ name: `.s${i}`, data: payload(), ...(rng.chance(0.3) ? { vsize: rng.int(0x100, 0x6000) } : {}) }));
  const counts = { mew: 0, mewSpecial: 0, three: 0, three0151477: 0, three0297729: 0, two: 0, v11: 0, damaged: 0, unpackedDamaged: 0 };
  /** Records the MD5 of what vigil unpacks, now and then (`always` for damaged files that still unpack). */
  const record = (bytes: Uint8Array, always = false): boolean => {
    const r = unpackPe(bytes, ctx).outcome;
    if (typeof r === 'string' || !('data' in r)) return false;
    if (always || rng.chance(0.5)) hashes.push(`${createHash('md5').update(r.data).digest('hex')}:${r.data.length}:Packed.Hash.${hashes.length}`);
    return true;
  };
  const pack = (secs: UpxSection[]): Uint8Array => {
    const entry = 0x1000 + rng.int(0, 0x100);
    const kind = rng.pick(['mew', 'mew', 'mew', 'three', 'three0151477', 'three0297729', 'two', 'v11'] as const);
    let packed: Uint8Array;
    if (kind === 'mew') {
      const special = rng.chance(0.5);
      if (special) counts.mewSpecial++;
      packed = mewPackLzma(secs, entry, rng.pick([0x154, 0x158] as const), special);
    } else packed = upackPack(secs, entry, { form: kind, lc: rng.int(0, 6), calls: rng.chance(0.6) });
    counts[kind]++;
    record(packed);
    return packed;
  };
  let k = 0;
  const put = (bytes: Uint8Array, ext = 'exe'): void => writeFileSync(join(data, `p${String(k++).padStart(3, '0')}.${ext}`), bytes);
  for (let f = 0; f < 60; f++) {
    const packed = pack(sections());
    put(packed);
    if (rng.chance(0.45)) {
      const bad = packed.slice();
      for (let n = rng.int(1, 3); n > 0; n--) {
        // In the stream's last fifth (the decoders run on through garbage), anywhere in the packed
        // data, or in the headers and the loader's fields.
        const where = rng.int(0, 2);
        const at = where === 0 ? rng.int(Math.floor(bad.length * 0.8), bad.length - 1) : where === 1 ? rng.int(0x200, bad.length - 1) : rng.int(0x40, Math.min(0x600, bad.length - 1));
        bad[at] = rng.chance(0.5) ? bad[at]! ^ (1 << rng.int(0, 7)) : rng.int(0, 255);
      }
      counts.damaged++;
      if (record(bad, true)) counts.unpackedDamaged++;
      put(bad);
    }
    if (rng.chance(0.12)) {
      counts.damaged++;
      put(packed.subarray(0, rng.int(0x300, packed.length - 1)));
    }
  }
  for (let f = 0; f < 5; f++) put(buildZip(Array.from({ length: rng.int(1, 3) }, (_, i) => ({ name: `p${i}.exe`, data: pack(sections()), method: rng.pick([0, 8]) }))).bytes, 'zip');
  t.diagnostic(`samples: ${counts.mew} MEW LZMA (${counts.mewSpecial} with the call fix-up), Upack ${counts.three} three-section (+ ${counts.three0151477} 0151477, ${counts.three0297729} 0297729 variants), ${counts.two} two-section, ${counts.v11} 1.1/1.2; ${counts.damaged} damaged or cut (${counts.unpackedDamaged} still unpacked by vigil); ${hashes.length} image hashes`);
  await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['--max-filesize=30000', '--alert-exceeds-max']]);
});
