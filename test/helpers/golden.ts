/**
 * Golden-file helper: a suite directory of `<name>.in` inputs in, one test case per input out, each
 * compared with its `<name>.out`.
 *
 * `listGoldenCases(dir)` finds the cases (sorted by name, so runs are stable); `expectGolden(path,
 * actual)` compares the actual text with the file and fails with a unified-style first difference,
 * or, when the environment has `UPDATE_GOLDEN=1`, rewrites the file and passes. A missing `.out`
 * fails with a hint to run with `UPDATE_GOLDEN=1`, so that a new case is reviewed before it is
 * trusted.
 *
 * Suites live under `test/golden/<suite>/`; `goldenDir(suite)` finds that folder from the sources
 * or from the compiled `dist/` tree alike (the `.in`/`.out` files are never copied into `dist`).
 */

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

export interface GoldenCase {
  name: string;
  inPath: string;
  outPath: string;
}

/** The directory `test/golden/<suite>` of the repository containing this helper. */
export function goldenDir(suite: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'test', 'golden', suite);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`golden suite not found: test/golden/${suite}`);
}

/** Every `<name><inExt>` in `dir`, with the matching `<name>.out` path, sorted by name. */
export function listGoldenCases(dir: string, inExt = '.in'): GoldenCase[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(inExt))
    .sort()
    .map((f) => {
      const name = f.slice(0, -inExt.length);
      return { name, inPath: join(dir, f), outPath: join(dir, `${name}.out`) };
    });
}

export function updatingGolden(): boolean {
  return process.env.UPDATE_GOLDEN === '1';
}

/** Compares `actual` with the golden file, or rewrites the file under `UPDATE_GOLDEN=1`. */
export function expectGolden(outPath: string, actual: string): void {
  if (updatingGolden()) {
    writeFileSync(outPath, actual);
    return;
  }
  if (!existsSync(outPath)) {
    assert.fail(`missing golden file ${outPath}; run the test with UPDATE_GOLDEN=1 to create it, then review it`);
  }
  const expected = readFileSync(outPath, 'utf8');
  if (expected === actual) return;
  const e = expected.split('\n');
  const a = actual.split('\n');
  let i = 0;
  while (i < e.length && i < a.length && e[i] === a[i]) i++;
  assert.fail(
    `${outPath} differs at line ${i + 1}:\n- ${e[i] ?? '(end of file)'}\n+ ${a[i] ?? '(end of output)'}\n` +
      '(run with UPDATE_GOLDEN=1 to accept the new output)',
  );
}
