/**
 * `.cdb` container metadata signatures against clamscan: ZIP (stored, deflated, encrypted), tar,
 * cpio and 7z archives made by their tools, with members whose names, sizes, positions and
 * encryption the signatures select; the same `FOUND` lines in default mode and with `--allmatch`.
 * Skips with a message when clamscan or a tool is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP, runClamscan } from '../helpers/clamscan-run.js';
import { foundLines, vigilScan } from './layers-diff.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const HAVE = ['zip', 'tar', 'cpio'].every((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);
const NAMES = ['payload1.bin', 'report.exe', 'notes.txt', 'secret-plan.doc', 'image.png', 'run.bat'];

test(`.cdb signatures on archive members agree with clamscan (seed ${SEED})`, { skip: CLAMSCAN_SKIP || (!HAVE && 'zip, tar or cpio is not installed') }, async (t) => {
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-cdb-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  for (let f = 0; f < 30; f++) {
    const src = mkdtempSync(join(dir, 'src-'));
    const names = NAMES.filter(() => rng.chance(0.5));
    if (names.length === 0) names.push(rng.pick(NAMES));
    for (const n of names) writeFileSync(join(src, n), Buffer.from(rng.bytes(rng.int(10, 400))));
    const out = join(data, `a${String(f).padStart(2, '0')}`);
    switch (f % 5) {
      case 0: spawnSync('zip', ['-q', '-0', `${out}.zip`, ...names], { cwd: src }); break;
      case 1: spawnSync('zip', ['-q', `${out}.zip`, ...names], { cwd: src }); break;
      case 2: spawnSync('zip', ['-q', '-P', 'pw', `${out}.zip`, ...names], { cwd: src }); break;
      case 3: spawnSync('tar', ['--format=ustar', '-cf', `${out}.tar`, ...names], { cwd: src }); break;
      default: spawnSync('sh', ['-c', `printf '%s\\n' ${names.join(' ')} | cpio -o -H newc > '${out}.cpio' 2>/dev/null`], { cwd: src }); break;
    }
  }
  writeFileSync(join(dir, 'm.cdb'), [
    'Cdb.ZipPayload:CL_TYPE_ZIP:*:payload[0-9]+\\.bin:*:*:*:*:*:*',
    'Cdb.AnyExe:CL_TYPE_ANY:*:.*\\.exe:*:*:*:*:*:*',
    'Cdb.Encrypted:CL_TYPE_ZIP:*:*:*:*:1:*:*:*',
    'Cdb.Second:CL_TYPE_ANY:*:*:*:*:*:2:*:*',
    'Cdb.TarSecret:CL_TYPE_POSIX_TAR:*:.*secret.*:*:*:*:*:*:*',
    'Cdb.CpioBat:CL_TYPE_CPIO_NEWC:*:.*\\.bat:*:*:*:*:*:*',
    'Cdb.Small:CL_TYPE_ANY:*:.*\\.png:*:0-200:*:*:*:*',
    'Cdb.Stored:CL_TYPE_ZIP:*:notes\\.txt:100-400:*:0:*:*:*',
    '',
  ].join('\n'));
  for (const mode of [[], ['--allmatch']]) {
    const args = ['--no-summary', ...mode, '-d', join(dir, 'm.cdb'), data];
    const clam = await runClamscan(args);
    const mine = vigilScan(args);
    const want = foundLines(clam.out);
    assert.ok(want.length >= 10, `the signatures match (${want.length})`);
    assert.deepEqual(foundLines(mine.out), want, `mode ${mode.join(' ') || 'default'}; files in ${dir}`);
    assert.equal(mine.code, clam.code);
    t.diagnostic(`${mode.join(' ') || 'default'}: ${want.length} FOUND lines agree`);
  }
});
