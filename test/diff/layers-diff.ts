/**
 * What the container differentials (gzip, tar, ZIP) share: planted marks and their body
 * signatures, `vigil scan` run as a process, and the comparison of `FOUND` lines and exit codes
 * with clamscan in several modes.
 *
 * In: a work directory holding `data/` and the inner hashes the generator recorded. Out: assertions
 * that vigil and clamscan print the same sorted `FOUND` lines and exit codes in each mode, with
 * the count per mode as a test diagnostic.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { runClamscan } from '../helpers/clamscan-run.js';
import { vigilBin } from './run-vigil.js';

/** Strings planted in generated files; each has a body signature `Mark.<index>`. */
export const MARKS = ['kestrel-plover-0001', 'merlin-osprey-0002', 'curlew-dunlin-0003', 'gannet-puffin-0004'];

/** `vigil scan ARGS` as a process: exit code and stdout (Latin-1). */
export function vigilScan(args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, [vigilBin(), 'scan', ...args], { encoding: 'latin1', maxBuffer: 512 * 1024 * 1024 });
  return { code: r.status ?? -1, out: r.stdout };
}

/** The `FOUND` lines of a scan's output, sorted. */
export const foundLines = (out: string): string[] => out.split('\n').filter((l) => l.endsWith(' FOUND')).sort();

/**
 * Writes `marks.ndb` and `inner.hdb` (the given MD5 lines) into `dir`, then scans `dir/data` with
 * both tools in each mode and asserts the same `FOUND` lines (at least 10) and exit codes.
 */
export async function compareLayers(t: TestContext, dir: string, hashes: readonly string[], modes: readonly (readonly string[])[]): Promise<void> {
  const data = join(dir, 'data');
  writeFileSync(join(dir, 'marks.ndb'), MARKS.map((m, i) => `Mark.${i}:0:*:${Buffer.from(m, 'latin1').toString('hex')}`).join('\n') + '\n');
  writeFileSync(join(dir, 'inner.hdb'), hashes.join('\n') + '\n');
  for (const mode of modes) {
    const args = ['--no-summary', ...mode, '-d', join(dir, 'marks.ndb'), '-d', join(dir, 'inner.hdb'), data];
    const clam = await runClamscan(args);
    const mine = vigilScan(args);
    const want = foundLines(clam.out);
    assert.ok(want.length >= 10, `the generated files carry detections (${want.length})`);
    assert.deepEqual(foundLines(mine.out), want, `mode ${mode.join(' ') || 'default'}; files in ${dir}`);
    assert.equal(mine.code, clam.code);
    t.diagnostic(`${mode.join(' ') || 'default'}: ${want.length} FOUND lines agree`);
  }
}
