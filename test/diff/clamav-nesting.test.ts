/**
 * Nesting and limits inside containers: `vigil scan` against `clamscan` on containers nested up to
 * 20 deep (zip, gzip and tar mixed, seeded), with a planted mark at one depth each; the recursion
 * limit (17 by default, and lower ones) must stop at the same layer, and `--alert-exceeds-max`
 * must alert the same limits (MaxRecursion, MaxFileSize, MaxFiles, MaxScanSize) with the same
 * lines and exit codes. Bombs (a gzip of 10 GiB of zeros in 10 MB, nested ZIPs) must end under
 * 2 s each with clamscan's verdict.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP, runClamscan } from '../helpers/clamscan-run.js';
import { compareLayers, foundLines, MARKS, vigilScan } from './layers-diff.js';
import { loadSignatures } from '../../src/signatures/clamav/loader.js';
import { Engine } from '../../src/engine/engine.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const HAVE_ZIP = spawnSync('zip', ['-v']).status === 0;

/** A one-entry ZIP made by `zip` (stored or deflated) around `bytes`. */
function zipOf(bytes: Buffer, name: string, work: string, store: boolean): Buffer {
  const dir = mkdtempSync(join(work, 'z-'));
  writeFileSync(join(dir, name), bytes);
  const r = spawnSync('zip', ['-q', ...(store ? ['-0'] : []), 'out.zip', name], { cwd: dir });
  assert.equal(r.status, 0, 'zip works');
  return spawnSync('cat', [join(dir, 'out.zip')], { maxBuffer: 1 << 28 }).stdout;
}

/** A one-file POSIX tar made by `tar` around `bytes`. */
function tarOf(bytes: Buffer, name: string, work: string): Buffer {
  const dir = mkdtempSync(join(work, 't-'));
  writeFileSync(join(dir, name), bytes);
  const r = spawnSync('tar', ['--format=ustar', '-cf', 'out.tar', name], { cwd: dir });
  assert.equal(r.status, 0, 'tar works');
  return spawnSync('cat', [join(dir, 'out.tar')], { maxBuffer: 1 << 28 }).stdout;
}

test(`nesting: containers 1..20 deep stop where clamscan stops (seed ${SEED})`, { skip: CLAMSCAN_SKIP || (!HAVE_ZIP && 'zip is not installed') }, async (t) => {
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-nest-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  for (let f = 0; f < 40; f++) {
    const depth = 1 + (f % 20);
    let bytes: Buffer = Buffer.concat([Buffer.from(rng.bytes(rng.int(10, 200))), Buffer.from(rng.pick(MARKS), 'latin1'), Buffer.from(rng.bytes(rng.int(0, 200)))]);
    if (f % 3 === 0) hashes.push(`${createHash('md5').update(bytes).digest('hex')}:${bytes.length}:Inner.Hash.${f}`);
    for (let d = 0; d < depth; d++) {
      const kind = rng.int(0, 2);
      bytes = kind === 0 ? zipOf(bytes, `l${d}.bin`, dir, rng.chance(0.5)) : kind === 1 ? gzipSync(bytes) : tarOf(bytes, `l${d}.bin`, dir);
    }
    writeFileSync(join(data, `n${String(f).padStart(2, '0')}-d${depth}.bin`), bytes);
  }
  await compareLayers(t, dir, hashes, [
    [], ['--allmatch'], ['--alert-exceeds-max'], ['--allmatch', '--alert-exceeds-max'],
    ['--max-recursion=5'], ['--max-recursion=5', '--alert-exceeds-max'], ['--max-recursion=20'], ['-a'], ['-a', '--max-recursion=5'],
  ]);
});

test('limits inside containers alert as clamscan alerts them (MaxFileSize, MaxFiles, MaxScanSize)', { skip: CLAMSCAN_SKIP || (!HAVE_ZIP && 'zip is not installed') }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-lim-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const mark = Buffer.from(MARKS[1]!, 'latin1');
  const src = mkdtempSync(join(dir, 'src-'));
  for (let i = 0; i < 6; i++) writeFileSync(join(src, `m${i}.bin`), Buffer.concat([Buffer.alloc(500 * (i + 1), 0x41 + i), i === 5 ? mark : Buffer.alloc(0)]));
  spawnSync('zip', ['-q', join(data, 'six.zip'), ...Array.from({ length: 6 }, (_, i) => `m${i}.bin`)], { cwd: src });
  writeFileSync(join(data, 'big.gz'), gzipSync(Buffer.concat([Buffer.alloc(5000, 0x7a), mark])));
  writeFileSync(join(dir, 'm.ndb'), `Mark.1:0:*:${mark.toString('hex')}\n`);
  for (const extra of [[], ['--alert-exceeds-max'], ['--max-filesize=2000'], ['--max-filesize=2000', '--alert-exceeds-max'], ['--max-files=3'], ['--max-files=3', '--alert-exceeds-max'],
    ['--max-scansize=4000'], ['--max-scansize=4000', '--alert-exceeds-max'], ['--max-scansize=4000', '--allmatch', '--alert-exceeds-max']]) {
    const args = ['--no-summary', ...extra, '-d', join(dir, 'm.ndb'), join(data, 'six.zip'), join(data, 'big.gz')];
    const clam = await runClamscan(args);
    const mine = vigilScan(args);
    const lines = (out: string) => out.split('\n').filter((l) => l.includes(': ')).sort();
    assert.deepEqual(lines(mine.out), lines(clam.out), extra.join(' ') || 'default');
    assert.equal(mine.code, clam.code, extra.join(' '));
  }
});

test('bombs end under 2 s with clamscan\'s verdict: 10 GiB of zeros in gzip, a 42.zip-style nest', { skip: CLAMSCAN_SKIP || (!HAVE_ZIP && 'zip is not installed') }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-bomb-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  // 10 GiB of zeros as 640 gzip members of 16 MiB each (about 10 MB on disk): ClamAV and vigil read members in turn.
  const member = gzipSync(Buffer.alloc(16 << 20), { level: 9 });
  writeFileSync(join(data, 'zeros.gz'), Buffer.concat(Array.from({ length: 640 }, () => member)));
  // 42.zip style: 16 copies of a deflated 64 MiB of zeros per level, 3 levels.
  let layer = zipOf(Buffer.alloc(64 << 20), 'zero.bin', dir, false);
  for (let level = 0; level < 3; level++) {
    const d = mkdtempSync(join(dir, 'lvl-'));
    for (let k = 0; k < 16; k++) writeFileSync(join(d, `p${k}.zip`), layer);
    spawnSync('zip', ['-q', '-0', 'out.zip', ...Array.from({ length: 16 }, (_, k) => `p${k}.zip`)], { cwd: d });
    layer = spawnSync('cat', [join(d, 'out.zip')], { maxBuffer: 1 << 30 }).stdout;
  }
  writeFileSync(join(data, 'nest.zip'), layer);
  writeFileSync(join(dir, 'm.ndb'), `Mark.0:0:*:${Buffer.from(MARKS[0]!, 'latin1').toString('hex')}\n`);
  const engine = new Engine(loadSignatures({ paths: [join(dir, 'm.ndb')] }));
  for (const name of ['zeros.gz', 'nest.zip']) {
    for (const extra of [[], ['--alert-exceeds-max']]) {
      const args = ['--no-summary', ...extra, '-d', join(dir, 'm.ndb'), join(data, name)];
      const clam = await runClamscan(args);
      const mine = vigilScan(args);
      assert.deepEqual(foundLines(mine.out), foundLines(clam.out), `${name} ${extra.join(' ')}`);
      assert.equal(mine.code, clam.code);
      // The time bound is on the engine's CPU time, in this process: other work on the machine does not count.
      const bytes = readFileSync(join(data, name));
      const cpu0 = process.cpuUsage();
      engine.scan(bytes, { alertExceedsMax: extra.length > 0 });
      const cpu = process.cpuUsage(cpu0);
      const seconds = (cpu.user + cpu.system) / 1e6;
      t.diagnostic(`${name} ${extra.join(' ') || 'default'}: ${seconds.toFixed(2)} s of CPU`);
      assert.ok(seconds < 2, `${name} ends in time (${seconds.toFixed(2)} s of CPU)`);
    }
  }
});

test(`Container and Intermediates conditions of logical signatures see the enclosing layers as clamscan does (seed ${SEED})`, { skip: CLAMSCAN_SKIP || (!HAVE_ZIP && 'zip is not installed') }, async (t) => {
  const rng = new Prng(`${SEED}-containers`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-cont-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  for (let f = 0; f < 36; f++) {
    let bytes: Buffer = Buffer.concat([Buffer.from(rng.bytes(rng.int(10, 100))), Buffer.from(rng.pick(MARKS), 'latin1'), Buffer.from(rng.bytes(rng.int(0, 100)))]);
    for (let d = rng.int(0, 4); d > 0; d--) {
      const kind = rng.int(0, 2);
      bytes = kind === 0 ? zipOf(bytes, `l${d}.bin`, dir, rng.chance(0.5)) : kind === 1 ? gzipSync(bytes) : tarOf(bytes, `l${d}.bin`, dir);
    }
    writeFileSync(join(data, `c${String(f).padStart(2, '0')}.bin`), bytes);
  }
  const types = ['CL_TYPE_ZIP', 'CL_TYPE_GZ', 'CL_TYPE_POSIX_TAR', 'CL_TYPE_ANY'];
  const lines: string[] = [];
  MARKS.forEach((m, i) => {
    const hex = Buffer.from(m, 'latin1').toString('hex');
    for (const c of types) lines.push(`Cont.${i}.${c.slice(8)};Engine:81-255,Container:${c},Target:0;0;${hex}`);
    for (const a of types) for (const b of types) lines.push(`Inter.${i}.${a.slice(8)}.${b.slice(8)};Engine:81-255,Intermediates:${a}>${b},Target:0;0;${hex}`);
    lines.push(`Inter1.${i}.ZIP;Engine:81-255,Intermediates:CL_TYPE_ZIP,Target:0;0;${hex}`);
  });
  writeFileSync(join(dir, 'c.ldb'), lines.join('\n') + '\n');
  for (const mode of [['--allmatch'], []]) {
    const args = ['--no-summary', ...mode, '-d', join(dir, 'c.ldb'), data];
    const clam = await runClamscan(args);
    const mine = vigilScan(args);
    const want = foundLines(clam.out);
    assert.ok(want.length >= 20, `the conditions hold somewhere (${want.length})`);
    assert.deepEqual(foundLines(mine.out), want, `mode ${mode.join(' ') || 'default'}; files in ${dir}`);
    assert.equal(mine.code, clam.code);
    t.diagnostic(`${mode.join(' ') || 'default'}: ${want.length} FOUND lines agree`);
  }
});
