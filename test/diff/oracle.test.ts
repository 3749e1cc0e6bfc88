/**
 * The oracle check: the generator's expectations against clamscan itself, today, without vigil.
 *
 * In: a seeded corpus (gen-clamav.ts; seed from VIGIL_DIFF_SEED, printed in the suite name).
 * Out: pass, or a report listing every file where clamscan disagrees with what the file was built
 * to do, with the signatures involved and a repro command. Each disagreement is either a
 * generator bug or a ClamAV behaviour the generator must encode; the expectations therefore
 * describe ClamAV 1.4's real behaviour, which is what vigil is compared against.
 *
 * Skipped (with a message) when clamscan is not installed.
 */

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clamscanVersion, runClamscan } from './clamscan.js';
import { fileCount, GENERIC_PIN_LEN, SCANBUFF, signatureCount } from './gen-clamav.js';
import { checkExpectations, checkMalformed, corpusStats, formatReport, prepare, resolveSeed, runMalformed, scanGroups, type Disagreement, type GroupScans, type MalformedRun, type Prepared } from './harness.js';

const seed = resolveSeed();
const version = clamscanVersion();
const skip = version === null ? 'clamscan is not installed: the ClamAV oracle cannot run' : false;

describe(`ClamAV oracle: generated expectations agree with clamscan (seed ${seed})`, { skip }, () => {
  let prep: Prepared;
  let scans: GroupScans[];
  let malformed: MalformedRun[];
  let failed = false;
  let scanMs = 0;

  before(async () => {
    prep = prepare(seed);
    const t0 = Date.now();
    scans = await scanGroups(runClamscan, prep.written);
    malformed = await runMalformed(runClamscan, prep.written);
    scanMs = Date.now() - t0;
  });

  after(() => {
    const kept = prep?.cleanup(failed);
    if (kept) console.log(`corpus kept in ${kept}`);
  });

  const fail = (title: string, list: Disagreement[]): void => {
    if (list.length === 0) return;
    failed = true;
    assert.fail(`${formatReport(title, list, 'clamscan')}\n(seed ${seed}; rerun with VIGIL_DIFF_SEED=${seed})`);
  };

  test('the corpus has at least 2,000 signatures and 2,000 files', (t) => {
    t.diagnostic(corpusStats(prep));
    t.diagnostic(`${version}: ${scans.map((s) => `${s.wg.group.id} ${s.allmatch.result.ms} ms + ${s.normal.result.ms} ms`).join(', ')}; ${malformed.length} malformed-database runs; all clamscan runs ${scanMs} ms wall`);
    assert.ok(signatureCount(prep.corpus) >= 2000, `only ${signatureCount(prep.corpus)} signatures`);
    assert.ok(fileCount(prep.corpus) >= 2000, `only ${fileCount(prep.corpus)} files`);
  });

  test('every group loads, scans every file and exits 1 (infected files present) or 0', () => {
    fail('exit codes', scans.flatMap((s) => checkExpectations(s).filter((d) => d.mode === 'exit')));
  });

  test('--allmatch reports exactly the expected names (and counts, where known) per file', () => {
    fail('--allmatch', scans.flatMap((s) => checkExpectations(s).filter((d) => d.mode === 'allmatch')));
  });

  test('default mode prints one line per file: OK, Empty file, or an expected name', () => {
    fail('default mode', scans.flatMap((s) => checkExpectations(s).filter((d) => d.mode === 'default')));
  });

  test('malformed databases exit 2 with their ERROR line; look-alikes load', () => {
    fail('malformed databases', checkMalformed(malformed));
  });

  test('clamscan 1.4.6 crashes on a negated left-edge class matching at the start of a scan window (the generator avoids it)', async (t) => {
    // Recorded, not required: if a future clamscan stops crashing, this reports the change.
    const dir = prep.written.dir;
    const pin = Buffer.alloc(GENERIC_PIN_LEN, 0xee).toString('hex');
    const db = join(dir, 'crash.ndb');
    writeFileSync(db, `Diff.Crash.Pin:0:*:${pin}\nDiff.Crash.1:0:*:!(W)e1a117ca\n`);
    const atStart = join(dir, 'crash-file-start.bin');
    writeFileSync(atStart, Buffer.concat([Buffer.from('e1a117ca', 'hex'), Buffer.from('VG\0\0tail', 'latin1')]));
    const atWindow = join(dir, 'crash-window-start.bin');
    const big = Buffer.alloc(SCANBUFF + 5000, 0x05);
    big.write('VG\0\0', 0, 'latin1');
    big.write('e1a117ca', SCANBUFF - GENERIC_PIN_LEN, 'hex');
    writeFileSync(atWindow, big);
    for (const [label, file] of [
      ['pattern at offset 0', atStart],
      [`pattern at ${SCANBUFF - GENERIC_PIN_LEN}, the start of the second window`, atWindow],
    ] as const) {
      const r = await runClamscan(['--no-summary', '-d', db, file]);
      t.diagnostic(`!(W)e1a117ca with the ${label}: ${r.signal ?? `exit ${r.exitCode}`}`);
    }
    assert.ok(true);
  });
});
