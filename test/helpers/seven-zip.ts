/**
 * 7-Zip for the tests: which command is installed, and an archive of given files built with it.
 *
 * In: a work directory (emptied), the files (name → bytes; null for a directory) and 7-Zip's
 * switches. Out: the archive's bytes; an error with 7-Zip's message when it fails.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The 7-Zip command installed (`7zz`, `7z` or `7za`), if any. */
export const SEVEN = ['7zz', '7z', '7za'].find((t) => spawnSync(t, ['i'], { stdio: 'ignore' }).status === 0);

export function sevenZip(work: string, files: [string, Uint8Array | null][], switches: string[]): Buffer {
  if (!SEVEN) throw new Error('7-Zip is not installed');
  rmSync(work, { recursive: true, force: true });
  const src = join(work, 'src');
  mkdirSync(src, { recursive: true });
  for (const [name, bytes] of files) {
    const path = join(src, name);
    if (bytes === null) mkdirSync(path, { recursive: true });
    else {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, bytes);
    }
  }
  const out = join(work, 'a.7z');
  const r = spawnSync(SEVEN, ['a', '-bd', '-bso0', '-bsp0', '-y', ...switches, out, '.'], { cwd: src });
  if (r.status !== 0) throw new Error(`7-Zip ${switches.join(' ')} failed: ${String(r.stderr)}`);
  return readFileSync(out);
}
