/**
 * 7z layers: `vigil scan` against `clamscan` on seeded archives made by 7-Zip — LZMA, LZMA2 and
 * Copy, with the BCJ, BCJ2 and ARM filters, solid and not, headers packed or not, empty files and
 * directories, encrypted files and encrypted headers, 7z inside 7z, bzip2/xz inside 7z, 7z inside
 * gzip, 7z appended to a PE (ClamAV's 7ZSFX), archives cut short or with a byte flipped — the same
 * `FOUND` lines and exit code in default mode, with `--allmatch`, with AlertEncryptedArchive, and
 * with a MaxFileSize limit alerted.
 *
 * A second test covers the coders ClamAV 1.4's 7z decoder lacks (Deflate, BZip2, Delta, and the
 * PowerPC, SPARC and ARM-Thumb branch filters): clamscan finds nothing inside such archives, vigil
 * finds every payload.
 *
 * Skips with a message when clamscan 1.4 or 7-Zip (`7zz`, `7z`) is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { SEVEN, sevenZip } from '../helpers/seven-zip.js';
import { CLAMSCAN_SKIP, runClamscan } from '../helpers/clamscan-run.js';
import { compareLayers, foundLines, MARKS, vigilScan } from './layers-diff.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';

const works = (tool: string, args: string[]): boolean => spawnSync(tool, args, { stdio: 'ignore' }).status === 0;
const SKIP = CLAMSCAN_SKIP || (!SEVEN ? '7-Zip (7zz) is not installed: differential test skipped' : !works('bzip2', ['--version']) || !works('xz', ['--version']) ? 'bzip2 or xz not installed: differential test skipped' : false);
const MINGW = works('x86_64-w64-mingw32-gcc', ['--version']) ? 'x86_64-w64-mingw32-gcc' : undefined;


const run = (tool: string, args: string[], input: Uint8Array): Buffer => {
  const r = spawnSync(tool, args, { input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${tool} failed`);
  return r.stdout;
};

/** A small Windows executable (the self-extractor stub), or undefined without a cross compiler. */
function peStub(work: string): Buffer | undefined {
  if (!MINGW) return undefined;
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'stub.c'), 'int main(void) { return 0; }\n');
  const r = spawnSync(MINGW, ['-O1', '-s', '-o', join(work, 'stub.exe'), join(work, 'stub.c')]);
  return r.status === 0 ? readFileSync(join(work, 'stub.exe')) : undefined;
}

test(`7z layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: SKIP }, async (t) => {
  const rng = new Prng(`7z:${SEED}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-7z-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const work = join(dir, 'work');
  const hashes: string[] = [];
  const payload = (): Buffer => {
    const big = rng.chance(0.15);
    const parts: Buffer[] = [Buffer.from(rng.bytes(big ? rng.int(20000, 150000) : rng.int(0, 1400)))];
    if (rng.chance(0.6)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    parts.push(Buffer.from(rng.bytes(rng.int(0, 700))));
    const body = Buffer.concat(parts);
    if (rng.chance(0.3) && body.length > 5) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${hashes.length}`);
    return body;
  };
  const stub = peStub(join(dir, 'stub'));
  const archive = (depth: number): Buffer => {
    const files: [string, Uint8Array | null][] = [];
    for (let e = rng.int(1, 5); e > 0; e--) {
      const kind = rng.int(0, 9);
      if (kind === 0 && depth < 1) files.push([`in${e}.7z`, archive(depth + 1)]);
      else if (kind === 1) files.push([`d${e}/`, null]);
      else if (kind === 2) files.push([`empty${e}.txt`, new Uint8Array(0)]);
      else if (kind === 3) files.push([`p${e}.bz2`, run('bzip2', ['-c'], payload())]);
      else if (kind === 4) files.push([`p${e}.xz`, run('xz', ['-c'], payload())]);
      else files.push([`${rng.chance(0.3) ? `sub${e}/` : ''}f${e}.bin`, payload()]);
    }
    const sw = [`-m0=${rng.pick(['lzma2', 'lzma', 'copy', 'lzma2'])}`, `-ms=${rng.pick(['on', 'off'])}`, `-mhc=${rng.pick(['on', 'off'])}`, `-mx=${rng.pick([1, 5, 9])}`];
    const filter = rng.int(0, 5);
    if (filter === 0) sw.push('-mf=BCJ');
    else if (filter === 1) sw.push('-mf=BCJ2');
    else if (filter === 2) sw.push('-mf=ARM');
    else sw.push('-mf=off');
    const enc = rng.int(0, 9);
    if (enc === 0) sw.push('-pvigil', '-mhe=on');
    else if (enc === 1) sw.push('-pvigil');
    return sevenZip(work, files, sw);
  };
  for (let f = 0; f < 40; f++) {
    let bytes = archive(0);
    let ext = '7z';
    const damage = rng.int(0, 19);
    if (damage < 2) bytes = bytes.subarray(0, rng.int(1, bytes.length));
    else if (damage === 2 && bytes.length > 40) { bytes = Buffer.from(bytes); bytes[rng.int(32, bytes.length - 1)]! ^= 1 << rng.int(0, 7); }
    const wrap = rng.int(0, 9);
    if (wrap === 0) { bytes = gzipSync(bytes); ext = 'gz'; }
    else if ((wrap === 1 || wrap === 2) && stub) { bytes = Buffer.concat([stub, bytes]); ext = 'exe'; }
    writeFileSync(join(data, `s${String(f).padStart(2, '0')}.${ext}`), bytes);
  }
  rmSync(work, { recursive: true, force: true });
  await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['-a'], ['--allmatch', '--alert-encrypted-archive'], ['--allmatch', '--max-filesize=30000', '--alert-exceeds-max']]);
});

test(`7z coders ClamAV lacks: vigil finds what clamscan does not (seed ${SEED})`, { skip: SKIP }, async (t) => {
  const rng = new Prng(`7z-extra:${SEED}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-7zx-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  const expected: string[] = [];
  const methods = [['-m0=deflate'], ['-m0=bzip2'], ['-m0=delta:4', '-m1=lzma2'], ['-mf=PPC'], ['-mf=SPARC'], ['-mf=ARMT']];
  for (let f = 0; f < 12; f++) {
    const body = Buffer.concat([Buffer.from(rng.bytes(rng.int(100, 3000))), Buffer.from(rng.bytes(rng.int(0, 90000)).map((b) => b & 0x0f))]);
    const sig = `Extra.Hash.${f}`;
    hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:${sig}`);
    const name = `x${String(f).padStart(2, '0')}.7z`;
    writeFileSync(join(data, name), sevenZip(join(dir, 'work'), [[`f${f}.bin`, body]], methods[f % methods.length]!));
    expected.push(`${join(data, name)}: ${sig}.UNOFFICIAL FOUND`);
  }
  rmSync(join(dir, 'work'), { recursive: true, force: true });
  writeFileSync(join(dir, 'inner.hdb'), hashes.join('\n') + '\n');
  const args = ['--no-summary', '--allmatch', '-d', join(dir, 'inner.hdb'), data];
  const clam = foundLines((await runClamscan(args)).out);
  assert.deepEqual(clam, [], 'clamscan 1.4 does not decode these coders in 7z');
  // A payload may be reported twice (clamscan does so too for such a file scanned on its own).
  const mine = foundLines(vigilScan(args).out);
  assert.deepEqual([...new Set(mine)], expected.sort());
  t.diagnostic(`clamscan: ${clam.length} FOUND lines; vigil: ${mine.length}`);
});
