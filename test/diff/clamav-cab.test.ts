/**
 * Cabinet-family layers: `vigil scan` against `clamscan` on seeded files.
 *
 * CAB and CHM: cabinets made by gcab (stored and MSZIP), LZX, Quantum and multi-folder cabinets
 * and CHM files made by code, cabinets inside zip and gzip and zip/gzip inside cabinets, cabinets after
 * junk (CABSFX) and appended to a PE made by the MinGW compiler, cabinets and CHM files cut short —
 * the same `FOUND` lines in default mode, with `--allmatch`, with a small `--max-filesize` (members
 * cut at the limit are still scanned), and the same exit code.
 *
 * RAR: ClamAV reads RAR only through libclamunrar, which Debian's build lacks (its debug output
 * says "unrar support unavailable"); vigil extracts stored entries itself. The test asserts that
 * difference exactly: vigil prints clamscan's lines plus the hash signatures of stored entries
 * (which clamscan cannot reach) and, with `--alert-encrypted-archive`, `Heuristics.Encrypted.RAR`
 * for archives with encrypted entries. With a clamscan that has unrar support, the lines must
 * simply agree.
 *
 * Damaged CAB and CHM files: the children clamscan extracts (kept with `--leave-temps`) and the
 * ones vigil's readers give are the same bytes (MD5 lists compared per file), for stored, MSZIP,
 * LZX and Quantum folders and CHM sections cut short or with bytes changed — this checks the
 * decoders' damage handling byte for byte, beyond what signatures see.
 *
 * Skips with a message when clamscan 1.4 or gcab is absent; the PE case is left out without MinGW.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { buildZip } from '../helpers/zip-writer.js';
import { CLAMSCAN_SKIP, runClamscan } from '../helpers/clamscan-run.js';
import { compareLayers, foundLines, MARKS, vigilScan } from './layers-diff.js';
import { buildCab, buildChm, buildRar4, buildRar5, type CabCompression, type LzxBlockType, type RarSampleFile } from '../../src/formats/cabinet/samples.js';
import { unpackCab } from '../../src/formats/cabinet/cab.js';
import { unpackChm } from '../../src/formats/cabinet/chm.js';
import { DEFAULT_UNPACK_OPTIONS, isChild } from '../../src/formats/unpack.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const have = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

test(`cab and chm layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP || (!have('gcab') && 'gcab is not installed: differential test skipped') }, async (t) => {
  const rng = new Prng(`cab-${SEED}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-cab-'));
  const data = join(dir, 'data');
  const work = join(dir, 'work');
  mkdirSync(data);
  mkdirSync(work);
  const hashes: string[] = [];
  const payload = (): Buffer => {
    const parts: Buffer[] = [Buffer.from(rng.bytes(rng.int(0, 3000)))];
    if (rng.chance(0.5)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    if (rng.chance(0.3)) parts.push(Buffer.from('text '.repeat(rng.int(10, 3000))));
    parts.push(Buffer.from(rng.bytes(rng.int(0, 3000))));
    return Buffer.concat(parts);
  };
  const hashed = (b: Buffer): Buffer => {
    if (rng.chance(0.25)) hashes.push(`${md5(b)}:${b.length}:Inner.Hash.${hashes.length}`);
    return b;
  };
  const members = (): Array<{ name: string; data: Buffer }> => {
    const out: Array<{ name: string; data: Buffer }> = [];
    for (let i = rng.int(1, 5); i > 0; i--) {
      const k = rng.int(0, 9);
      const body = k === 0 ? gzipSync(payload()) : k === 1 ? Buffer.from(buildZip([{ name: 'in.bin', data: payload(), method: rng.pick([0, 8]) }]).bytes) : payload();
      out.push({ name: `m${i}.bin`, data: hashed(body) });
    }
    return out;
  };
  let gcabRuns = 0;
  const gcab = (files: Array<{ name: string; data: Buffer }>, zip: boolean): Buffer => {
    const sub = join(work, `g${gcabRuns++}`);
    mkdirSync(sub);
    for (const f of files) writeFileSync(join(sub, f.name), f.data);
    const r = spawnSync('gcab', ['-c', ...(zip ? ['-z'] : []), join(sub, 'out.cab'), ...files.map((f) => f.name)], { cwd: sub });
    assert.equal(r.status, 0, r.stderr.toString());
    return readFileSync(join(sub, 'out.cab'));
  };
  const blocks = (): LzxBlockType[] => [rng.pick(['verbatim', 'aligned', 'uncompressed'] as const), rng.pick(['verbatim', 'aligned'] as const)];
  const codeCab = (files: Array<{ name: string; data: Buffer }>): Buffer => {
    const nFolders = rng.int(1, 3);
    const folders = Array.from({ length: nFolders }, () => {
      const comp = rng.pick(['none', 'mszip', 'lzx', 'lzx', 'quantum'] as CabCompression[]);
      return { comp, windowBits: rng.int(comp === 'quantum' ? 10 : 15, 21), blocks: blocks() };
    });
    return Buffer.from(buildCab(files.map((f) => ({ ...f, folder: rng.int(0, nFolders - 1) })), { folders }));
  };
  let pe: Buffer | undefined;
  if (have('x86_64-w64-mingw32-gcc')) {
    writeFileSync(join(work, 'p.c'), 'int main(void) { return 0; }\n');
    const r = spawnSync('x86_64-w64-mingw32-gcc', ['-O2', '-s', '-o', join(work, 'p.exe'), join(work, 'p.c')]);
    if (r.status === 0) pe = readFileSync(join(work, 'p.exe'));
  }
  if (!pe) t.diagnostic('x86_64-w64-mingw32-gcc is not installed: no CAB appended to a PE');

  for (let f = 0; f < 48; f++) {
    const kind = f % 12;
    let bytes: Buffer;
    if (kind <= 1) bytes = gcab(members(), kind === 1);
    else if (kind <= 4) bytes = codeCab(members());
    else if (kind === 5) bytes = Buffer.from(buildZip([{ name: 'x.cab', data: gcab(members(), true), method: rng.pick([0, 8]) }]).bytes);
    else if (kind === 6) bytes = gzipSync(codeCab(members()));
    else if (kind === 7) bytes = Buffer.concat([Buffer.from(rng.bytes(rng.int(1, 4000))), gcab(members(), rng.chance(0.5))]);
    else if (kind === 8 && pe) bytes = Buffer.concat([pe, gcab(members(), true)]);
    else if (kind === 9) {
      const whole = rng.chance(0.5) ? gcab(members(), true) : codeCab(members());
      bytes = whole.subarray(0, rng.int(40, whole.length));
    } else {
      const files = members().map((m, i) => ({ name: `/${i}/${m.name}`, data: m.data, section: rng.pick([0, 1, 1] as const) }));
      const order = files.map((_, i) => i).sort(() => rng.int(-1, 1));
      bytes = Buffer.from(buildChm(files, { windowBits: rng.int(15, 21), resetFrames: rng.pick([1, 2, 4]), blocks: blocks(), listOrder: order }));
      if (rng.chance(0.25)) bytes = bytes.subarray(0, rng.int(0x100, bytes.length));
    }
    const ext = kind >= 10 ? 'chm' : 'cab';
    writeFileSync(join(data, `c${String(f).padStart(2, '0')}.${ext}`), bytes);
  }
  await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['--allmatch', '--max-filesize=20000'], ['--max-filesize=20000', '--alert-exceeds-max'], ['-a'], ['--allmatch', '--max-scansize=60000'], ['--allmatch', '--max-scansize=150000']]);
});

test(`rar layers: vigil adds exactly the stored entries' detections (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(`rar-${SEED}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-rar-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  /** Lines vigil prints and clamscan (without unrar) cannot: per mode. */
  const extraDefault: string[] = [];
  const extraAlert: string[] = [];
  const extraAll = new Set<string>();
  const noise = (): Buffer => Buffer.from(rng.bytes(rng.int(50, 2000)));
  for (let f = 0; f < 30; f++) {
    const path = join(data, `r${String(f).padStart(2, '0')}.rar`);
    const group = f % 3; // 0: marks in stored entries; 1: one hash-signed stored entry; 2: encrypted entries only
    const files: RarSampleFile[] = [];
    files.push({ name: 'packed/c.bin', data: noise(), kind: 'compressed' });
    if (group === 0) {
      for (let i = rng.int(1, 3); i > 0; i--) files.push({ name: `dir/m${i}.txt`, data: Buffer.concat([noise(), Buffer.from(rng.pick(MARKS), 'latin1'), noise()]) });
    } else if (group === 1) {
      const body = noise();
      const name = `Inner.Hash.${hashes.length}`;
      hashes.push(`${md5(body)}:${body.length}:${name}`);
      files.push({ name: 'dir/h.bin', data: body });
      extraDefault.push(`${path}: ${name}.UNOFFICIAL FOUND`);
      extraAlert.push(`${path}: ${name}.UNOFFICIAL FOUND`);
      extraAll.add(`${path}: ${name}.UNOFFICIAL FOUND`);
    } else {
      files.push({ name: 'secret.bin', data: noise(), kind: 'encrypted' });
      extraAlert.push(`${path}: Heuristics.Encrypted.RAR FOUND`);
    }
    files.push({ name: 'dir', data: new Uint8Array(0), kind: 'dir' });
    let bytes = Buffer.from((f & 1 ? buildRar5 : buildRar4)(rng.chance(0.5) ? files.reverse() : files));
    // A few RAR 4 archives after junk (RAR-SFX); hash-signed ones only, where the difference shows.
    if (group === 1 && !(f & 1) && rng.chance(0.5)) bytes = Buffer.concat([Buffer.from(rng.bytes(rng.int(100, 2000)).map((x) => (x === 0x52 ? 0x53 : x))), bytes]);
    writeFileSync(path, bytes);
  }
  writeFileSync(join(dir, 'marks.ndb'), MARKS.map((m, i) => `Mark.${i}:0:*:${Buffer.from(m, 'latin1').toString('hex')}`).join('\n') + '\n');
  writeFileSync(join(dir, 'inner.hdb'), hashes.join('\n') + '\n');
  const db = ['-d', join(dir, 'marks.ndb'), '-d', join(dir, 'inner.hdb')];
  const probe = await runClamscan(['--debug', '--no-summary', ...db, join(data, 'r00.rar')]);
  const noUnrar = probe.out.includes('unrar support unavailable');
  t.diagnostic(noUnrar ? 'clamscan has no unrar support: asserting the difference' : 'clamscan has unrar support: asserting agreement');
  if (!noUnrar) {
    await compareLayers(t, dir, hashes, [[], ['--allmatch']]);
    return;
  }
  for (const [mode, extra] of [[[], extraDefault], [['--alert-encrypted-archive'], extraAlert]] as const) {
    const args = ['--no-summary', ...mode, ...db, data];
    const clam = await runClamscan(args);
    const mine = vigilScan(args);
    const want = foundLines(clam.out);
    assert.ok(want.length >= 10, `clamscan finds the marks in stored entries (${want.length})`);
    assert.deepEqual(foundLines(mine.out), [...want, ...extra].sort(), `mode ${mode.join(' ') || 'default'}; files in ${dir}`);
    assert.equal(mine.code, 1);
    t.diagnostic(`${mode.join(' ') || 'default'}: clamscan ${want.length} FOUND lines, vigil ${want.length} + ${extra.length} from stored or encrypted RAR entries`);
  }
  const args = ['--no-summary', '--allmatch', ...db, data];
  const clam = new Set(foundLines((await runClamscan(args)).out));
  const mine = new Set(foundLines(vigilScan(args).out));
  assert.deepEqual([...mine].sort(), [...new Set([...clam, ...extraAll])].sort(), `mode --allmatch; files in ${dir}`);
  t.diagnostic(`--allmatch: clamscan ${clam.size} distinct FOUND lines, vigil ${mine.size} (${extraAll.size} hash lines from stored entries)`);
});

test(`damaged cab and chm: the same children as clamscan extracts (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(`damage-${SEED}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-cabdmg-'));
  writeFileSync(join(dir, 'none.hdb'), '44d88612fea8a8f36de82e1278abb02f:68:Never.Matches\n');
  const ctx = { limits: { maxFileSize: 100 << 20, maxFiles: 0, maxScanSize: 400 << 20 }, options: { ...DEFAULT_UNPACK_OPTIONS } };
  const text = Buffer.from(Array.from({ length: 3000 }, (_, i) => `line ${i} ${(i * i) % 97}\n`).join(''));
  const noise = Buffer.from(rng.bytes(40000));
  let children = 0, intact = 0;
  for (let f = 0; f < 40; f++) {
    const chm = f % 5 === 4;
    const comp = (['none', 'mszip', 'lzx', 'quantum'] as const)[f % 4]!;
    const whole = Buffer.from(chm
      ? buildChm([{ name: '/a.txt', data: text }, { name: '/n.bin', data: noise, section: rng.pick([0, 1] as const) }, { name: '/b.txt', data: text.subarray(100, 30000) }], { windowBits: rng.int(15, 17), resetFrames: rng.pick([1, 2]) })
      : buildCab([{ name: 'a.txt', data: text }, { name: 'n.bin', data: noise, folder: 1 }, { name: 'b.txt', data: text.subarray(100, 30000) }],
        { folders: [{ comp, windowBits: comp === 'quantum' ? rng.int(10, 17) : rng.int(15, 17), blocks: [rng.pick(['verbatim', 'aligned', 'uncompressed'] as const)] }, { comp: 'mszip' }] }));
    let bytes = whole;
    if (rng.chance(0.4)) bytes = whole.subarray(0, rng.int(8, whole.length));
    else {
      // Changed bytes anywhere past the magic (the file must still be typed as before).
      for (let k = rng.int(1, 6); k > 0; k--) bytes[rng.int(8, bytes.length - 1)] = rng.int(0, 255);
    }
    const name = `d${String(f).padStart(2, '0')}.${chm ? 'chm' : 'cab'}`;
    writeFileSync(join(dir, name), bytes);
    const temp = join(dir, `t${f}`);
    mkdirSync(temp);
    await runClamscan(['--no-summary', '--leave-temps', `--tempdir=${temp}`, '-d', join(dir, 'none.hdb'), join(dir, name)]);
    // Children are written two directories down (the scan's and the file's); deeper ones are theirs.
    const theirs: string[] = [];
    for (const a of readdirSync(temp)) {
      for (const b of readdirSync(join(temp, a), { withFileTypes: true })) {
        if (!b.isDirectory()) continue;
        for (const c of readdirSync(join(temp, a, b.name), { withFileTypes: true })) {
          if (c.isFile()) theirs.push(md5(readFileSync(join(temp, a, b.name, c.name))));
        }
      }
    }
    rmSync(temp, { recursive: true, force: true });
    const mine = [...(chm ? unpackChm(bytes, ctx) : unpackCab(bytes, ctx))].filter(isChild).map((c) => md5(c.data));
    assert.deepEqual(mine.sort(), theirs.sort(), `${name} in ${dir}`);
    children += mine.length;
    intact += mine.filter((h) => [md5(text), md5(noise), md5(text.subarray(100, 30000))].includes(h)).length;
  }
  assert.ok(children > 40, `the damaged files still have children (${children})`);
  t.diagnostic(`40 damaged files: ${children} children identical to clamscan's (${intact} intact, ${children - intact} damaged)`);
});
