/**
 * Writing a file that must not replace an existing one.
 *
 * In: a path that should not exist yet and the bytes to put there. Out: the file, complete and
 * fsynced, or an error (EEXIST when something already has that name; nothing is replaced).
 * Why: bundles, proofs and keys are evidence; a command that writes one must never overwrite an
 * earlier one, and a crash must never leave a half-written file under the final name.
 */
import { closeSync, fsyncSync, linkSync, openSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** Writes a new file (never replacing one): a complete, fsynced temporary sibling, then a hard link. */
export function writeNewFile(path: string, data: Uint8Array, mode = 0o644): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally { closeSync(fd); }
  try {
    linkSync(tmp, path); // atomic, and fails with EEXIST rather than replacing a file
  } finally {
    rmSync(tmp, { force: true });
  }
}
