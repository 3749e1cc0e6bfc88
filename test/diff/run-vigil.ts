/**
 * Running vigil the way the differential suite runs clamscan.
 *
 * In: clamscan-style arguments (-d repeated, -r, --allmatch, --no-summary, ...). Out: the same
 * RunResult as clamscan.ts, from `node bin/vigil.js scan <args>` started in the repository root
 * (or a given directory). `vigil scan` is meant to print byte-identical per-file lines and exit
 * codes, so everything else (parsing, comparing) is shared with clamscan.
 *
 * `vigilReadiness()` tells whether vigil can run at all (bin/vigil.js loads dist/, so the project
 * must be built): the differential tests fail with that diagnosis instead of a wall of
 * per-file mismatches.
 */

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProgram, type RunResult, type Runner } from './clamscan.js';

/** The repository root: the nearest ancestor of this file with vigil's package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'vigil') return dir;
      } catch {
        // not a package.json we can read: keep climbing
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('repoRoot: no vigil package.json above test/diff');
    dir = up;
  }
}

export function vigilBin(): string {
  return join(repoRoot(), 'bin', 'vigil.js');
}

export const runVigil: Runner = (args, cwd) => runProgram(process.execPath, [vigilBin(), 'scan', ...args], cwd ?? repoRoot());

export interface Readiness {
  ok: boolean;
  /** What went wrong, with the command and its output, when not ok. */
  reason: string;
  probe?: RunResult;
}

/**
 * Checks that `vigil scan` starts and scans: one clean file with one tiny database must give
 * `<path>: OK` and exit 0.
 */
export async function vigilReadiness(): Promise<Readiness> {
  const bin = vigilBin();
  if (!existsSync(bin)) return { ok: false, reason: `${bin} does not exist` };
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ready-'));
  try {
    const db = join(dir, 'ready.ndb');
    const file = join(dir, 'clean.txt');
    writeFileSync(db, 'Diff.Ready.1:0:*:e1e2e3e4e5\n');
    writeFileSync(file, 'nothing to see here\n');
    const probe = await runVigil(['--no-summary', '-d', db, file]);
    const want = `${file}: OK`;
    if (probe.exitCode === 0 && probe.stdout.split('\n').includes(want)) return { ok: true, reason: '', probe };
    const tail = (s: string): string => s.trim().split('\n').slice(-8).join('\n    ');
    return {
      ok: false,
      probe,
      reason:
        `\`node ${bin} scan --no-summary -d ${db} ${file}\` should print "${want}" and exit 0; ` +
        `it exited ${probe.exitCode}${probe.signal ? ` (${probe.signal})` : ''}.\n  stdout:\n    ${tail(probe.stdout) || '(empty)'}\n  stderr:\n    ${tail(probe.stderr) || '(empty)'}\n` +
        `  (bin/vigil.js loads dist/: run \`npm run build\` first.)`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
