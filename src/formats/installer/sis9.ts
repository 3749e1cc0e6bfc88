/**
 * Symbian 9 installer (SIS, UID 0x10201A7A) → the files it installs, as ClamAV 1.4 reads them.
 *
 * In: the bytes of a CL_TYPE_SIS layer whose first UID is 0x10201A7A, and where the field walk
 * starts. Out: lazily, each file of the package's data units (`sis9xNN`, counted from 00), a limit
 * met, or nothing.
 *
 * Why this shape: a SIS 9 package is a tree of fields, each a 32-bit type, a 32-bit length and
 * its contents padded to 4 bytes; array elements have no type of their own. ClamAV walks
 * Contents → (ControllerChecksum) (DataChecksum) Compressed(controller, skipped) → Data →
 * Array of DataUnit → each an Array of FileData → each a Compressed field: an algorithm word (0
 * stored, else zlib), a 64-bit size (its high word must be 0) and the data. A field may be at most
 * twice the length of the one holding it; after each element the walk goes on where that element's
 * length says it ends. A stored file is its data; a zlib one must inflate completely, checksum
 * included, into three times the stored length (when the size it declares fits there and the
 * limits allow) or else into the declared size; otherwise it is dropped. The data is read padded
 * to 4 bytes, so a file whose padding is missing at the end of the package is dropped too. Every
 * size ClamAV checks against MaxFileSize alerts the limit (with AlertExceedsMax) when over it,
 * even where the file is then extracted with the smaller size.
 *
 * ClamAV 1.4 starts this walk at the very first byte of the file, where the UIDs are, not after
 * them: the first field it reads is UID 0x10201A7A, never Contents, so it extracts nothing from
 * any SIS 9 package. `scanSis9` does the same (start 0); the walk itself is exported with its
 * start so that the reading behind it is tested (from 16, where Contents really begins).
 */
import { inflateSync } from 'node:zlib';
import type { UnpackContext, UnpackItem } from '../unpack.js';

const T_ARRAY = 2;
const T_COMPRESSED = 3;
const T_CONTENTS = 12;
const T_DATA = 30;
const T_DATAUNIT = 31;
const T_FILEDATA = 32;
const T_CONTROLLERCHECKSUM = 34;
const T_DATACHECKSUM = 35;
/** ClamAV's largest allocation (CLI_MAX_ALLOCATION). */
const MAX_ALLOCATION = 1024 * 1024 * 1024;

const align4 = (x: number): number => (((x & ~3) >>> 0) + ((((x & 1) | ((x >>> 1) & 1)) << 2))) >>> 0;

/** The files of the SIS 9 package `b`, walking its fields from `start` as ClamAV does. */
export function* walkSis9(b: Uint8Array, ctx: UnpackContext, start: number): Generator<UnpackItem> {
  let pos = start;
  let level = 0;
  const fsize = new Array<number>(7).fill(0);
  const fnext = new Array<number>(7).fill(0);
  const getd = (): number | undefined => {
    if (pos < 0 || pos + 4 > b.length) return undefined;
    const v = (b[pos]! | (b[pos + 1]! << 8) | (b[pos + 2]! << 16) | (b[pos + 3]! << 24)) >>> 0;
    pos += 4;
    return v;
  };
  const getsize = (): boolean => {
    const v = getd();
    if (v === undefined) return false;
    fsize[level] = v;
    if (!v || v >>> 31 || (level && v > ((fsize[level - 1]! * 2) >>> 0))) return false;
    fnext[level] = pos + v;
    return true;
  };
  const getfield = (): number | undefined => {
    const f = getd();
    if (f === undefined || !getsize()) return undefined;
    return f;
  };
  const seeknext = (): void => { pos = fnext[level]!; };
  const shrinkParent = (): void => {
    const a = align4(fsize[level]!);
    fsize[level - 1] = a < fsize[level - 1]! ? fsize[level - 1]! - a : 0;
  };
  const maxFile = ctx.limits.maxFileSize;
  const maxFiles = ctx.limits.maxFiles;
  /** ClamAV's `cli_checklimits` for `need` bytes: the limit it meets, if any. */
  const limitFor = (need: number): 'MaxFileSize' | 'MaxFiles' | undefined => {
    if (need && maxFile && need > maxFile) return 'MaxFileSize';
    if (maxFiles && ctx.scannedFiles && ctx.scannedFiles() >= maxFiles) return 'MaxFiles';
    return undefined;
  };

  if (getfield() !== T_CONTENTS) return;
  level = 1;
  const optional = [T_CONTROLLERCHECKSUM, T_DATACHECKSUM, T_COMPRESSED];
  let field: number | undefined;
  for (let i = 0; i < 3;) {
    field = getfield();
    if (field === undefined) return;
    for (; i < 3; i++) {
      if (field === optional[i]) {
        pos += align4(fsize[level]!);
        i++;
        break;
      }
    }
  }
  if (field !== T_COMPRESSED) return;

  let index = 0;
  for (;;) {
    if (getfield() !== T_DATA) break;
    level = 2;
    if (getfield() === T_ARRAY && getd() === T_DATAUNIT && fsize[2]! >= 4) {
      fsize[2] = fsize[2]! - 4;
      level = 3;
      while (fsize[2] && getsize()) {
        shrinkParent();
        level = 4;
        if (getfield() === T_ARRAY && getd() === T_FILEDATA && fsize[4]! >= 4) {
          fsize[4] = fsize[4]! - 4;
          level = 5;
          while (fsize[4] && getsize()) {
            shrinkParent();
            level = 6;
            yield* fileData();
            level = 5;
            seeknext();
          }
          level = 4;
        }
        level = 3;
        seeknext();
      }
      level = 2;
    }
    level = 1;
    seeknext();
  }

  /** One Compressed field of a FileData element (level 6). */
  function* fileData(): Generator<UnpackItem> {
    if (getfield() !== T_COMPRESSED) return;
    const algorithm = getd();
    const usize = getd();
    if (algorithm === undefined || usize === undefined || getd() !== 0) return;
    fsize[6] = (fsize[6]! - 12) >>> 0;
    const name = `sis9x${String(index++).padStart(2, '0')}`;
    const stored = fsize[6]!;
    const len = align4(stored);
    const first = limitFor(len);
    if (first) { yield { name, limit: first }; return; }
    if (!len || len > MAX_ALLOCATION || pos + len > b.length) return;
    const src = b.subarray(pos, pos + len);
    pos += len;
    let data: Uint8Array;
    if (algorithm) {
      const triple = Math.imul(stored, 3) >>> 0;
      let room: number | undefined;
      if (usize <= triple) {
        const l = limitFor(triple);
        if (l) yield { name, limit: l };
        else room = triple;
      }
      if (room === undefined) {
        const l = limitFor(usize);
        if (l) { yield { name, limit: l }; return; }
        room = usize;
      }
      if (!room || room > MAX_ALLOCATION) return;
      try {
        data = inflateSync(src.subarray(0, stored), { maxOutputLength: room });
      } catch {
        return;
      }
    } else data = src.subarray(0, stored);
    yield { name, data };
  }
}

/** The reader for SIS 9 packages: ClamAV's walk from the first byte (which finds nothing, see above). */
export function scanSis9(b: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  return walkSis9(b, ctx, 0);
}
