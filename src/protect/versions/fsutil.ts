/**
 * File-system primitives for versioned copies that never follow a symbolic link: walking a
 * protected tree, reading a file whose writes may still be in progress, checking that a path's
 * directories are real directories, and writing a restored file atomically.
 *
 * In: absolute paths inside a protected root. Out: file contents and `lstat` results, or typed
 * failures (`gone`, `skipped` with a reason).
 *
 * Why: rollback runs after an attack, when the tree may contain symbolic links or FIFOs planted to
 * redirect or hang the tool. Files are opened with O_NOFOLLOW|O_NONBLOCK and checked with fstat
 * (a FIFO or device swapped in after the walk is skipped, not read); directories are descended
 * with `readdir`'s own entry types (a link to a directory is an entry, not a directory); a
 * restored file is written to a temporary file in its final directory and renamed over the target
 * (rename replaces a link planted there, never writes through it). Node has no openat(2), so a
 * directory swapped for a link between the check and the rename is a remaining race; the check
 * is repeated right before the rename to keep that window as short as possible.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsc, type Stats } from 'node:fs';
import { lstat, mkdir, open, opendir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

export const RESTORE_TMP_PREFIX = '.vigil-restore-';

/** `child` is `parent` or lies below it (both absolute and normalized). */
export function isInside(child: string, parent: string): boolean {
  if (child === parent) return true;
  const base = parent.endsWith(sep) ? parent : parent + sep;
  return child.startsWith(base);
}

export interface WalkHandlers {
  /** A regular file and its lstat. */
  file(path: string, st: Stats): Promise<void> | void;
  /** A directory or file that could not be read. */
  error(path: string, err: Error): void;
  /** Directories not to descend (the store's own directory when it lies inside a root). */
  skip?: (path: string) => boolean;
  /** A temporary file a restore left behind (killed before its rename). */
  leftover?: ((path: string) => Promise<unknown>) | undefined;
}

/**
 * Walks `root` depth first without following symbolic links; special files (FIFOs, sockets,
 * devices) and links are skipped. Returns the directories that could not be listed, below which
 * nothing can be concluded (a file there is not "deleted").
 */
export async function walkTree(root: string, h: WalkHandlers): Promise<Set<string>> {
  const failed = new Set<string>();
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    if (h.skip?.(dir)) continue;
    let handle;
    try {
      handle = await opendir(dir, { bufferSize: 256 });
    } catch (e) {
      failed.add(dir);
      h.error(dir, e as Error);
      continue;
    }
    const files: string[] = [];
    try {
      for await (const ent of handle) {
        const p = join(dir, ent.name);
        if (ent.name.includes('\uFFFD')) {
          // Node decodes names as UTF-8: a name that is not cannot be opened by its decoded form.
          h.error(p, new Error('the name is not valid UTF-8 (or contains U+FFFD); not copied'));
          continue;
        }
        if (ent.isDirectory()) stack.push(p);
        else if (ent.isFile()) {
          if (!ent.name.startsWith(RESTORE_TMP_PREFIX)) files.push(p);
          else if (h.leftover) await h.leftover(p);
        }
      }
    } catch (e) {
      failed.add(dir);
      h.error(dir, e as Error);
    }
    // lstat a directory's files concurrently: most of the cost of an unchanged tree.
    const stats = await Promise.all(files.map((p) => lstat(p).then((st) => ({ p, st }), (e: Error) => ({ p, e }))));
    for (const r of stats) {
      if ('e' in r) {
        if ((r.e as NodeJS.ErrnoException).code !== 'ENOENT') h.error(r.p, r.e);
      } else if (r.st.isFile()) await h.file(r.p, r.st);
    }
  }
  return failed;
}

export type ReadResult =
  | { kind: 'ok'; data: Buffer; st: Stats }
  | { kind: 'gone' }
  | { kind: 'skipped'; reason: string; tooLarge?: boolean };

export function sameWrite(a: Stats, b: Stats): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

/**
 * Reads a regular file without following a link at its place, retrying while it changes under
 * the read (at most `tries` times). `maxSize` bounds what is read into memory.
 */
export async function readStable(path: string, maxSize: number, tries = 3): Promise<ReadResult> {
  for (let attempt = 0; attempt < tries; attempt++) {
    let fh;
    try {
      fh = await open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'gone' };
      if (code === 'ELOOP') return { kind: 'skipped', reason: 'a symbolic link' };
      return { kind: 'skipped', reason: (e as Error).message };
    }
    try {
      const before = await fh.stat();
      if (!before.isFile()) return { kind: 'skipped', reason: 'not a regular file' };
      if (before.size > maxSize) return { kind: 'skipped', reason: `larger than the ${maxSize}-byte limit for versioned copies`, tooLarge: true };
      const data = await fh.readFile();
      const after = await fh.stat();
      if (sameWrite(before, after) && data.length === after.size) return { kind: 'ok', data, st: after };
    } catch (e) {
      return { kind: 'skipped', reason: (e as Error).message };
    } finally {
      await fh.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 20 * (attempt + 1)));
  }
  return { kind: 'skipped', reason: 'still being written' };
}

/** Opens a regular file for reading without following a link at its place or blocking on a FIFO. */
export async function openRegular(path: string, maxSize: number): Promise<{ kind: 'ok'; fh: FileHandle; st: Stats } | { kind: 'gone' } | { kind: 'skipped'; reason: string }> {
  let fh: FileHandle;
  try {
    fh = await open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'gone' };
    if (code === 'ELOOP') return { kind: 'skipped', reason: 'a symbolic link' };
    return { kind: 'skipped', reason: (e as Error).message };
  }
  const st = await fh.stat().catch(() => undefined);
  const why = !st ? 'cannot stat' : !st.isFile() ? 'not a regular file' : st.size > maxSize ? `larger than the ${maxSize}-byte limit for versioned copies` : undefined;
  if (why || !st) {
    await fh.close().catch(() => undefined);
    return { kind: 'skipped', reason: why ?? 'cannot stat' };
  }
  return { kind: 'ok', fh, st };
}

/** SHA-256 of a regular file, read in chunks without following a link; undefined when it cannot be read. */
export async function hashFile(path: string): Promise<string | undefined> {
  const o = await openRegular(path, Number.MAX_SAFE_INTEGER);
  if (o.kind !== 'ok') return undefined;
  try {
    const hash = createHash('sha256');
    const buf = Buffer.alloc(1024 * 1024);
    let pos = 0;
    while (true) {
      const { bytesRead } = await o.fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return hash.digest('hex');
  } catch {
    return undefined;
  } finally {
    await o.fh.close().catch(() => undefined);
  }
}

/**
 * Checks that every directory from `root` (exclusive) down to `dirname(path)` is a real directory.
 * Returns the first component that is not (a link, a file), or undefined when all are, or
 * `missing` with the first absent component.
 */
export async function checkParents(path: string, root: string): Promise<{ bad?: string; kind?: 'link' | 'file' | 'missing' }> {
  const top = await checkRoot(root);
  if (top.bad) return top;
  const rel = relative(root, dirname(path));
  if (rel === '') return {};
  let cur = root;
  for (const part of rel.split(sep)) {
    cur = join(cur, part);
    let st: Stats;
    try {
      st = await lstat(cur);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { bad: cur, kind: 'missing' };
      throw e;
    }
    if (st.isSymbolicLink()) return { bad: cur, kind: 'link' };
    if (!st.isDirectory()) return { bad: cur, kind: 'file' };
  }
  return {};
}

/** The protected root itself must still be a real directory (not replaced by a link). */
export async function checkRoot(root: string): Promise<{ bad?: string; kind?: 'link' | 'file' | 'missing' }> {
  let st: Stats;
  try {
    st = await lstat(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { bad: root, kind: 'missing' };
    throw e;
  }
  if (st.isSymbolicLink()) return { bad: root, kind: 'link' };
  if (!st.isDirectory()) return { bad: root, kind: 'file' };
  return {};
}

/**
 * Makes the directories from `root` down to `dirname(path)` real directories: creates the missing
 * ones, and replaces a symbolic link found in place of one (the link itself is removed, what it
 * points to is not touched). A regular file in the way is an error. Returns the links removed.
 */
export async function ensureParents(path: string, root: string): Promise<string[]> {
  const top = await checkRoot(root);
  // A protected root deleted as a whole is made again (its parent is not ours to create).
  if (top.kind === 'missing') await mkdir(root, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
  else if (top.bad) throw new Error(`the protected root ${root} is now a ${top.kind}; not touched`);
  if ((await checkRoot(root)).bad) throw new Error(`the protected root ${root} is not a directory; not touched`);
  const removed: string[] = [];
  const rel = relative(root, dirname(path));
  if (rel === '') return removed;
  let cur = root;
  for (const part of rel.split(sep)) {
    cur = join(cur, part);
    let st: Stats | undefined;
    try {
      st = await lstat(cur);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (st?.isSymbolicLink()) {
      // Another restore in the same directory may have replaced the link already (ENOENT), or even
      // made the directory in its place (EISDIR/EPERM): then the directory below is used.
      const gone = await unlink(cur).then(() => true, (e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT' && e.code !== 'EISDIR' && e.code !== 'EPERM') throw e;
        return false;
      });
      if (gone) removed.push(cur);
      st = undefined;
    }
    if (!st) {
      // Another restore may create the same directory at the same moment.
      const made = await mkdir(cur, { mode: 0o755 }).then(() => true, (e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; return false; });
      if (made) continue;
      st = await lstat(cur);
    }
    if (!st.isDirectory()) throw new Error(`${cur} is in the way: not a directory`);
  }
  return removed;
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try { await fh.sync(); } finally { await fh.close(); }
}

export interface RestoreMeta {
  mode: number;
  mtimeMs: number;
  uid: number;
  gid: number;
}

/**
 * Writes `data` to `path` atomically with its mode, owner (when running as root) and mtime:
 * a temporary file beside it (O_EXCL|O_NOFOLLOW), fsync, a last check of the parents, rename,
 * fsync of the directory.
 */
export async function writeAtomic(path: string, root: string, data: Buffer | ((fh: FileHandle) => Promise<unknown>), meta: RestoreMeta): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `${RESTORE_TMP_PREFIX}${randomBytes(8).toString('hex')}`);
  const fh = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    if (Buffer.isBuffer(data)) await fh.writeFile(data);
    else await data(fh);
    if (typeof process.getuid === 'function' && process.getuid() === 0) await fh.chown(meta.uid, meta.gid);
    await fh.chmod(meta.mode & 0o7777);
    // libuv keeps microseconds of a double of seconds, truncating: half a microsecond more makes
    // that the nearest microsecond (within 0.5 µs of the original; nanoseconds are out of reach).
    await fh.utimes(new Date(), (meta.mtimeMs + 0.0005) / 1000);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  try {
    const chk = await checkParents(path, root);
    if (chk.bad) throw new Error(`${chk.bad} changed into a ${chk.kind} during the restore`);
    const st = await lstat(path).catch(() => undefined);
    if (st?.isDirectory()) throw new Error(`a directory stands at ${path}`);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fsyncDir(dir);
}
