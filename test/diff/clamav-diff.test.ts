/**
 * The differential suite: vigil and clamscan scan the same generated files with the same
 * databases, and must print the same thing.
 *
 * In: a seeded corpus (gen-clamav.ts; > 2,000 signatures and > 2,000 files; seed from
 * VIGIL_DIFF_SEED, printed in the suite name and in every failure). Out: per file, the same
 * per-file line in default mode, the same lines (compared as sorted lists, duplicates included)
 * with --allmatch, the same exit codes, the same summary fields (all but times, dates and the
 * engine version: Known viruses, Scanned files, Infected files, Data scanned...); for each
 * malformed database, the same exit code and `ERROR:` line (vigil may add its own diagnostics on
 * stderr).
 *
 * Skipped only when clamscan is missing. When vigil cannot run (bin/vigil.js fails to start, or
 * dist/ is not built) the comparisons FAIL with that diagnosis: a differential suite that skips
 * silently would hide exactly what it is for. oracle.test.ts checks the corpus against clamscan
 * alone.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { clamscanVersion, runClamscan } from './clamscan.js';
import { compareMalformed, compareScans, corpusStats, formatReport, prepare, resolveSeed, runMalformed, scanGroups, type Disagreement, type GroupScans, type MalformedRun, type Prepared } from './harness.js';
import { runVigil, vigilBin, vigilReadiness, type Readiness } from './run-vigil.js';

const seed = resolveSeed();
const skip = clamscanVersion() === null ? 'clamscan is not installed: nothing to compare vigil with' : false;

describe(`vigil scan agrees with clamscan on the generated corpus (seed ${seed})`, { skip }, () => {
  let prep: Prepared;
  let ready: Readiness;
  let clam: GroupScans[];
  let clamMalformed: MalformedRun[];
  let vigil: GroupScans[] = [];
  let vigilMalformed: MalformedRun[] = [];
  let failed = false;
  const ms = { clamscan: 0, vigil: 0 };

  before(async () => {
    prep = prepare(seed);
    ready = await vigilReadiness();
    let t0 = Date.now();
    clam = await scanGroups(runClamscan, prep.written);
    clamMalformed = await runMalformed(runClamscan, prep.written);
    ms.clamscan = Date.now() - t0;
    if (ready.ok) {
      t0 = Date.now();
      vigil = await scanGroups(runVigil, prep.written);
      vigilMalformed = await runMalformed(runVigil, prep.written);
      ms.vigil = Date.now() - t0;
    }
  });

  after(() => {
    const kept = prep?.cleanup(failed);
    if (kept) console.log(`corpus kept in ${kept}`);
  });

  const vigilProgram = `node ${vigilBin()} scan`;

  const requireVigil = (): void => {
    if (!ready.ok) {
      assert.fail(`vigil cannot run, so nothing was compared:\n${ready.reason}\n(seed ${seed})`);
    }
  };

  const compare = (keep: (d: Disagreement) => boolean): Disagreement[] =>
    clam.flatMap((c, i) => {
      const v = vigil[i];
      return v ? compareScans(c, v, ['clamscan', 'vigil']).filter(keep) : [];
    });

  const fail = (title: string, list: Disagreement[]): void => {
    if (list.length === 0) return;
    failed = true;
    assert.fail(`${formatReport(title, list, vigilProgram)}\n(seed ${seed}; rerun with VIGIL_DIFF_SEED=${seed})`);
  };

  test('vigil scan starts and scans a clean file', (t) => {
    t.diagnostic(corpusStats(prep));
    t.diagnostic(`clamscan ${ms.clamscan} ms, vigil ${ready.ok ? `${ms.vigil} ms` : 'not run'} (all groups, both modes, malformed databases)`);
    requireVigil();
  });

  test('default mode: the same line for every file and the same exit code', () => {
    requireVigil();
    fail('default mode (clamscan vs vigil)', compare((d) => d.mode === 'default' || (d.mode === 'exit' && d.what.startsWith('default'))));
  });

  test('the summary block: the same fields (all but times, dates and the engine version)', () => {
    requireVigil();
    fail('summary (clamscan vs vigil)', compare((d) => d.mode === 'summary'));
  });

  test('--allmatch: the same lines for every file (sorted, duplicates included) and the same exit code', () => {
    requireVigil();
    fail('--allmatch (clamscan vs vigil)', compare((d) => d.mode === 'allmatch' || (d.mode === 'exit' && d.what.startsWith('allmatch'))));
  });

  test('malformed databases: the same exit code and ERROR line', () => {
    requireVigil();
    fail('malformed databases (clamscan vs vigil)', compareMalformed(clamMalformed, vigilMalformed, ['clamscan', vigilProgram]));
  });
});
