/**
 * Installer layers: `vigil scan` against `clamscan` on seeded installers — NSIS installers built by
 * `makensis` (zlib, bzip2 and LZMA, solid and not, with and without CRC, several files with planted
 * body and hash signatures, some large, some truncated or damaged, some as bare data or behind
 * bytes that are not a PE), and SIS packages, InstallShield payloads and AutoIt EA05/EA06 data built
 * by code (some truncated or damaged, HTML files among them) — the same `FOUND` lines and exit code
 * in default mode, with `--allmatch`, with limits on the files per file (MaxFiles) and on the file
 * size (MaxFileSize, also under ClamAV's 8 KiB output pieces). Skips with a message when clamscan
 * 1.4, makensis or the NSIS stub carrying the InstallShield and AutoIt data is absent.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';
import { buildAutoit, buildIshieldMsi, buildSis } from '../../src/formats/installer/fixtures.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const HAVE_MAKENSIS = spawnSync('makensis', ['-VERSION'], { encoding: 'utf8' }).status === 0;
const NSIS_SKIP = CLAMSCAN_SKIP || (HAVE_MAKENSIS ? false : 'makensis is not installed: NSIS differential skipped');

test(`NSIS layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: NSIS_SKIP }, async (t) => {
  const rng = new Prng(`nsis-${SEED}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-nsis-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  const payload = (): Buffer => {
    const parts: Buffer[] = [];
    // Text compresses (the mark is then hidden in the compressed stream), random bytes do not.
    parts.push(rng.chance(0.6) ? Buffer.from(rng.words(rng.int(5, 400)), 'latin1') : Buffer.from(rng.bytes(rng.int(0, 3000))));
    if (rng.chance(0.5)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    parts.push(Buffer.from(rng.words(rng.int(0, 200)), 'latin1'));
    return Buffer.concat(parts);
  };
  const modes = ['zlib', 'bzip2', 'lzma'];
  for (let f = 0; f < 42; f++) {
    const work = join(dir, `w${f}`);
    mkdirSync(work);
    const solid = f % 2 === 1;
    const comp = modes[Math.floor(f / 2) % 3]!;
    const files: string[] = [];
    for (let e = rng.int(1, 4); e > 0; e--) {
      // Now and then a large file, over the MaxFileSize of the limited modes below.
      const body = rng.chance(0.15) ? Buffer.concat([Buffer.from(rng.words(40000), 'latin1'), payload()]) : payload();
      const name = `f${e}.bin`;
      writeFileSync(join(work, name), body);
      utimesSync(join(work, name), 1.7e9, 1.7e9); // the header block holds file times: fixed, for the same installers each run
      files.push(name);
      if (rng.chance(0.3)) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${f}.${e}`);
    }
    const script = [
      `SetCompressor ${solid ? '/SOLID ' : ''}${comp}`,
      'OutFile out.exe',
      'RequestExecutionLevel user',
      ...(rng.chance(0.2) ? ['CRCCheck off'] : []),
      'Section',
      'SetOutPath $TEMP\\vigil',
      ...files.map((n) => `File ${n}`),
      'SectionEnd',
    ].join('\n');
    writeFileSync(join(work, 's.nsi'), script + '\n');
    const r = spawnSync('makensis', ['-V1', 's.nsi'], { cwd: work, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`makensis failed: ${r.stderr}`);
    let bytes = readFileSync(join(work, 'out.exe'));
    // Some installers cut or damaged inside their data (the stub, about 90 KiB, stays whole).
    const at = bytes.indexOf(Buffer.from('efbeadde4e756c6c736f6674496e7374', 'hex'));
    if (rng.chance(0.2)) bytes = bytes.subarray(0, rng.int(at + 40, bytes.length - 1));
    else if (rng.chance(0.25)) {
      // A damaged byte inside the data (its compressed streams, sizes or CRC).
      const p = rng.int(at + 40, bytes.length - 1);
      bytes[p] = bytes[p]! ^ (1 << rng.int(0, 7));
    }
    // Some as bare NSIS data (typed NSIS from its first bytes), or behind bytes that are not a PE
    // (ClamAV reads installers found inside PE layers only).
    const form = rng.int(0, 9);
    if (form === 0) bytes = bytes.subarray(at - 4);
    else if (form === 1) bytes = Buffer.concat([Buffer.from(rng.bytes(rng.int(10, 300))), bytes.subarray(at - 4)]);
    writeFileSync(join(data, `n${String(f).padStart(2, '0')}-${comp}${solid ? '-solid' : ''}.${form <= 1 ? 'bin' : 'exe'}`), bytes);
  }
  // MaxFiles is left out: ClamAV scans the header block without counting it as a file (cli_scan_desc),
  // which the engine does not do yet (see the last test).
  // Not with --alert-exceeds-max: clamscan's PE scan then alerts MaxFileSize for the stub itself
  // (its UPX/FSG/MEW guess on a section with no raw data asks for 184320 bytes with the zlib stub,
  // 3801088 with bzip2), which is a matter of the PE layer, not of the installer.
  await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['--max-filesize=200000'], ['--allmatch', '--max-filesize=200000']]);
});

/** Bare NSIS data (the stub would pass the limits) with entries around ClamAV's 8 KiB output pieces. */
function smallEntries(): { dir: string; hashes: string[] } {
  const rng = new Prng(`nsis-small-${SEED}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-nsis-small-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  for (let f = 0; f < 18; f++) {
    const work = join(dir, `w${f}`);
    mkdirSync(work);
    const names: string[] = [];
    for (let e = rng.int(2, 5); e > 0; e--) {
      const mark = Buffer.from(`${rng.pick(MARKS)}\n`, 'latin1');
      // Repetitive text: the entries inflate to 1-13 KiB from a few hundred bytes.
      const line = `${rng.words(rng.int(2, 12))}\n`;
      const body = Buffer.concat([Buffer.from(line.repeat(Math.ceil(rng.int(1000, 13000) / line.length)), 'latin1'), mark]);
      writeFileSync(join(work, `f${e}.txt`), body);
      utimesSync(join(work, `f${e}.txt`), 1.7e9, 1.7e9);
      names.push(`f${e}.txt`);
      if (rng.chance(0.3)) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${f}.${e}`);
    }
    const comp = rng.pick(['zlib', 'bzip2', 'lzma']);
    const solid = rng.chance(0.4);
    writeFileSync(join(work, 's.nsi'), [`SetCompressor ${solid ? '/SOLID ' : ''}${comp}`, 'OutFile out.exe', 'RequestExecutionLevel user', 'Section', 'SetOutPath $TEMP\\v', ...names.map((n) => `File ${n}`), 'SectionEnd'].join('\n') + '\n');
    const r = spawnSync('makensis', ['-V1', 's.nsi'], { cwd: work, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`makensis failed: ${r.stderr}`);
    const exe = readFileSync(join(work, 'out.exe'));
    const at = exe.indexOf(Buffer.from('efbeadde4e756c6c736f6674496e7374', 'hex'));
    writeFileSync(join(data, `d${String(f).padStart(2, '0')}-${comp}${solid ? '-solid' : ''}.bin`), exe.subarray(at - 4));
  }
  return { dir, hashes };
}

test(`NSIS data under small MaxFileSize: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: NSIS_SKIP }, async (t) => {
  const { dir, hashes } = smallEntries();
  await compareLayers(t, dir, hashes, [['--allmatch', '--max-filesize=9000'], ['--max-filesize=12000', '--alert-exceeds-max'], ['--allmatch']]);
});

// ClamAV checks each 8 KiB piece of inflated output against MaxFileSize except the piece its
// decoder reports with the end of the stream, which NSIS's inflater reports only when the last
// code had its look-ahead bits.
test(`NSIS data under a MaxFileSize below 8 KiB: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: NSIS_SKIP }, async (t) => {
  const { dir, hashes } = smallEntries();
  await compareLayers(t, dir, hashes, [['--allmatch', '--max-filesize=5000'], ['--allmatch', '--max-filesize=7000', '--alert-exceeds-max']]);
});

const STUB = '/usr/share/nsis/Stubs/zlib-x86-ansi';
let stub: Buffer | undefined;
try { stub = readFileSync(STUB); } catch { stub = undefined; }
const IS_SKIP = CLAMSCAN_SKIP || (stub ? false : `${STUB} (a PE to carry the InstallShield payload) is absent`);

/** SIS packages, InstallShield payloads and AutoIt data carrying seeded files (HTML ones too with `html`). */
function sisIsAutoit(html: boolean): { dir: string; hashes: string[] } {
  const rng = new Prng(`sis-is-${html ? 'html-' : ''}${SEED}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-sis-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  const payload = (): Buffer => {
    if (html && rng.chance(0.3)) {
      // HTML whose mark only its normalised form shows (a script string split in two, an entity).
      const mark = rng.pick(MARKS);
      const cut = rng.int(1, mark.length - 1);
      return Buffer.from(`<html><head><script>var s = "${mark.slice(0, cut)}" + "${mark.slice(cut)}";</script></head><body>${rng.words(rng.int(3, 40))} ${mark.replace('-', '&#45;')}</body></html>\n`, 'latin1');
    }
    const parts: Buffer[] = [];
    parts.push(rng.chance(0.6) ? Buffer.from(rng.words(rng.int(5, 200)), 'latin1') : Buffer.from(rng.bytes(rng.int(10, 2000))));
    if (rng.chance(0.6)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    parts.push(Buffer.from(rng.words(rng.int(1, 100)), 'latin1'));
    return Buffer.concat(parts);
  };
  for (let f = 0; f < 40; f++) {
    const files = [];
    for (let e = rng.int(1, 4); e > 0; e--) {
      const body = payload();
      files.push({ name: rng.chance(0.5) ? `c:\\system\\apps\\${rng.word(3, 8)}.app` : `${rng.word(3, 10)}.dat`, data: body });
      if (rng.chance(0.4)) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${f}.${e}`);
    }
    const kind = f % 4; // 0, 2: SIS; 1: InstallShield; 3: AutoIt EA05 or EA06 (in a PE or bare)
    const sis = kind % 2 === 0;
    const host = sis ? Buffer.alloc(0) : kind === 3 && rng.chance(0.3) ? Buffer.alloc(0) : stub!;
    let bytes = Buffer.from(sis ? buildSis(files, { stored: rng.chance(0.3), langs: rng.int(1, 3) })
      : Buffer.concat([host, kind === 1 ? buildIshieldMsi(files) : buildAutoit(files, rng.chance(0.5), { stored: rng.chance(0.25) })]));
    const cutFrom = sis ? 90 : host.length + 60;
    if (rng.chance(0.2)) bytes = bytes.subarray(0, rng.int(cutFrom, bytes.length - 1));
    else if (rng.chance(0.15)) {
      const at = rng.int(cutFrom, bytes.length - 1);
      bytes[at] = bytes[at]! ^ (1 << rng.int(0, 7));
    }
    writeFileSync(join(data, `${sis ? 's' : kind === 1 ? 'i' : 'a'}${String(f).padStart(2, '0')}.${sis ? 'sis' : 'exe'}`), bytes);
  }
  return { dir, hashes };
}

test(`SIS, InstallShield and AutoIt layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: IS_SKIP }, async (t) => {
  const { dir, hashes } = sisIsAutoit(false);
  await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['--allmatch', '--max-files=3'], ['--max-files=2']]);
});

// Not with MaxFiles: the normalised copies of an HTML file count as files in ClamAV (a matter of the
// HTML layer, not of the installers).
test(`SIS, InstallShield and AutoIt layers with HTML files: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: IS_SKIP }, async (t) => {
  const { dir, hashes } = sisIsAutoit(true);
  await compareLayers(t, dir, hashes, [[], ['--allmatch']]);
});

test('NSIS with MaxFiles: clamscan does not count the header block as a file', {
  skip: NSIS_SKIP,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-nsis-mf-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  for (let f = 0; f < 10; f++) {
    const work = join(dir, `w${f}`);
    mkdirSync(work);
    const names: string[] = [];
    for (let e = 0; e < 3; e++) {
      const body = Buffer.from(`file ${f}.${e} ${MARKS[e]!} ${'filler '.repeat(40 + f)}`, 'latin1');
      writeFileSync(join(work, `f${e}.txt`), body);
      names.push(`f${e}.txt`);
      hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${f}.${e}`);
    }
    writeFileSync(join(work, 's.nsi'), ['SetCompressor lzma', 'OutFile out.exe', 'RequestExecutionLevel user', 'Section', 'SetOutPath $TEMP\\v', ...names.map((n) => `File ${n}`), 'SectionEnd'].join('\n') + '\n');
    const r = spawnSync('makensis', ['-V1', 's.nsi'], { cwd: work, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`makensis failed: ${r.stderr}`);
    writeFileSync(join(data, `m${f}.exe`), readFileSync(join(work, 'out.exe')));
  }
  await compareLayers(t, dir, hashes, [['--allmatch', '--max-files=3']]);
});
