/**
 * Writing files whole: a new file that must not replace an existing one (`writeNewFile`), a file
 * replaced atomically (`writeFileAtomic`), all of a buffer to a descriptor (`writeFully`).
 *
 * In: a path and the bytes to put there. Out: the file, complete and fsynced, or an error
 * (`writeNewFile`: EEXIST when something already has that name; nothing is replaced).
 * Why: bundles, proofs and keys are evidence; a command that writes one must never overwrite an
 * earlier one, and a crash must never leave a half-written file under the final name.
 */
import { closeSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** Writes all of `data` at the descriptor's position. */
export function writeFully(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

/** A new file `path` with `data`, written and fsynced (it must not exist). */
export function writeSynced(path: string, data: Uint8Array, mode = 0o644): void {
  const fd = openSync(path, 'wx', mode);
  try {
    writeFully(fd, data);
    fsyncSync(fd);
  } finally { closeSync(fd); }
}

function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
}

/** Fsyncs a directory (so a rename in it is durable) where the file system allows it. */
export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch { /* not every file system lets a directory be fsynced */ }
}

/** Replaces `path` atomically: a complete, fsynced temporary sibling renamed over it. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = tempSibling(path);
  try {
    writeSynced(tmp, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, mode);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dirname(path));
}

/** Writes a new file (never replacing one): a complete, fsynced temporary sibling, then a hard link. */
export function writeNewFile(path: string, data: Uint8Array, mode = 0o644): void {
  const tmp = tempSibling(path);
  writeSynced(tmp, data, mode);
  try {
    linkSync(tmp, path); // atomic, and fails with EEXIST rather than replacing a file
  } finally {
    rmSync(tmp, { force: true });
  }
}
