/**
 * 7z archives with the PPMd coder: `vigil scan` against `clamscan` on seeded archives made by
 * 7-Zip with PPMd of orders 2..32 and model sizes from 64 KiB to 64 MiB, solid and not, headers
 * packed or not, with the BCJ filter or not, 7z in 7z, and damaged: cut short, a byte flipped, a
 * pack size made smaller or larger than what the coder uses (7-Zip's decoder reads on past its
 * stream and then fails; the files it decoded in a solid folder still pass their CRC), and a model
 * size or order changed (a model above ClamAV's 1 GiB allocation bound gives nothing). The same
 * `FOUND` lines and exit code in default mode, with `--allmatch`, and with a MaxFileSize limit.
 *
 * Skips with a message when clamscan 1.4 or 7-Zip (`7zz`, `7z`) is absent.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { SEVEN, sevenZip } from '../helpers/seven-zip.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { crc32 } from '../../src/core/crc32.js';
import { compareLayers, MARKS } from './layers-diff.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';

const SKIP = CLAMSCAN_SKIP || (!SEVEN ? '7-Zip (7zz) is not installed: differential test skipped' : false);


/** Reads a 7z number at `p`: its value and length. */
function num7z(b: Uint8Array, p: number): { v: number; len: number } {
  const first = b[p]!;
  let mask = 0x80, v = 0, i = 0;
  for (; i < 8 && (first & mask); i++, mask >>= 1) v += b[p + 1 + i]! * 2 ** (8 * i);
  return { v: v + (i < 8 ? (first & (mask - 1)) * 2 ** (8 * i) : 0), len: i + 1 };
}

/** Rewrites a 7z number in place with the same length; false when `v` does not fit. */
function put7z(b: Uint8Array, p: number, len: number, v: number): boolean {
  const i = len - 1;
  const high = Math.floor(v / 2 ** (8 * i));
  const prefix = (0xff00 >> i) & 0xff;
  if (i >= 8 || high >= 0x80 >> i) return false;
  b[p] = prefix | high;
  for (let k = 0; k < i; k++) b[p + 1 + k] = Math.floor(v / 2 ** (8 * k)) & 0xff;
  return true;
}

/** Recomputes the next-header and start-header CRCs after a header edit. */
function fixCrcs(b: Buffer): void {
  const nextOff = b.readUInt32LE(12), nextSize = b.readUInt32LE(20);
  b.writeUInt32LE(crc32(b.subarray(32 + nextOff, 32 + nextOff + nextSize)) >>> 0, 28);
  b.writeUInt32LE(crc32(b.subarray(12, 32)) >>> 0, 8);
}

/** In a plain header: changes the first pack size by `delta`; false when not possible. */
function shiftPackSize(b: Buffer, delta: number): boolean {
  const h = 32 + b.readUInt32LE(12);
  if (b[h] !== 0x01 || b[h + 1] !== 0x04 || b[h + 2] !== 0x06) return false;
  let p = h + 3;
  p += num7z(b, p).len; // pack position
  p += num7z(b, p).len; // number of pack streams
  if (b[p] !== 0x09) return false;
  p++;
  const size = num7z(b, p);
  if (size.v + delta <= 0 || !put7z(b, p, size.len, size.v + delta)) return false;
  fixCrcs(b);
  return true;
}

/** In a plain header: rewrites the first PPMd coder's order or model size; false when absent. */
function patchProps(b: Buffer, order: number | undefined, mem: number | undefined): boolean {
  const h = 32 + b.readUInt32LE(12);
  const at = b.indexOf(Buffer.from([0x23, 0x03, 0x04, 0x01, 0x05]), h);
  if (at < 0) return false;
  if (order !== undefined) b[at + 5] = order;
  if (mem !== undefined) b.writeUInt32LE(mem >>> 0, at + 6);
  fixCrcs(b);
  return true;
}

test(`7z PPMd layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: SKIP }, async (t) => {
  const rng = new Prng(`7z-ppmd:${SEED}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-7zp-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const work = join(dir, 'work');
  const hashes: string[] = [];
  const words = ['scan', 'the', 'archive', 'model', 'context', 'order', 'escape', 'symbol', '\n', 'and'];
  const text = (n: number): Buffer => {
    const parts: string[] = [];
    let len = 0;
    while (len < n) { const w = rng.pick(words); parts.push(w); len += w.length + 1; }
    return Buffer.from(parts.join(' '), 'latin1');
  };
  const payload = (): Buffer => {
    const big = rng.chance(0.2);
    const parts: Buffer[] = [rng.chance(0.7) ? text(big ? rng.int(20000, 200000) : rng.int(0, 3000)) : Buffer.from(rng.bytes(big ? rng.int(20000, 100000) : rng.int(0, 1500)))];
    if (rng.chance(0.6)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    parts.push(text(rng.int(0, 800)));
    const body = Buffer.concat(parts);
    if (rng.chance(0.35) && body.length > 5) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${hashes.length}`);
    return body;
  };
  const archive = (depth: number, plainHeader: boolean): Buffer => {
    const files: [string, Uint8Array | null][] = [];
    for (let e = rng.int(1, 5); e > 0; e--) {
      const kind = rng.int(0, 9);
      if (kind === 0 && depth < 1) files.push([`in${e}.7z`, archive(depth + 1, false)]);
      else if (kind === 1) files.push([`d${e}/`, null]);
      else if (kind === 2) files.push([`empty${e}.txt`, new Uint8Array(0)]);
      else files.push([`${rng.chance(0.3) ? `sub${e}/` : ''}f${e}.txt`, payload()]);
    }
    const mem = rng.pick(['64k', '256k', '1m', '4m', '16m', '64m']);
    const order = rng.pick([2, 3, 4, 6, 8, 12, 16, 24, 32]);
    const sw = [`-m0=PPMd:mem=${mem}:o=${order}`, `-ms=${rng.pick(['on', 'off'])}`, `-mhc=${plainHeader ? 'off' : rng.pick(['on', 'off'])}`];
    if (rng.chance(0.15)) sw.push('-mf=BCJ');
    return sevenZip(work, files, sw);
  };
  const counts = new Map<string, number>();
  for (let f = 0; f < 60; f++) {
    const damage = rng.int(0, 11);
    let bytes = Buffer.from(archive(0, damage >= 4 && damage <= 7));
    let kind = 'intact';
    if (damage === 0) { bytes = bytes.subarray(0, rng.int(1, bytes.length)); kind = 'cut'; }
    else if ((damage === 1 || damage === 2) && bytes.length > 40) {
      // A byte flipped in the pack streams (damage to the PPMd data itself).
      const end = 32 + bytes.readUInt32LE(12);
      if (end > 33) { bytes[rng.int(33, end - 1)]! ^= 1 << rng.int(0, 7); kind = 'flip'; }
    } else if (damage === 4 || damage === 5) {
      if (shiftPackSize(bytes, rng.pick([-3, -1, 1, 2]))) kind = 'packsize';
    } else if (damage === 6) {
      if (patchProps(bytes, undefined, rng.pick([0x7fffffff, 0x40000000, 3 << 20, 4096]))) kind = 'mem';
    } else if (damage === 7) {
      if (patchProps(bytes, rng.pick([1, 2, 5, 33, 64, 65]), undefined)) kind = 'order';
    }
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    writeFileSync(join(data, `s${String(f).padStart(2, '0')}.7z`), bytes);
  }
  rmSync(work, { recursive: true, force: true });
  t.diagnostic(`archives: ${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['--allmatch', '--max-filesize=30000', '--alert-exceeds-max']]);
});
