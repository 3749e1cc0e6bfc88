/**
 * InstallShield setup data appended to a PE (its overlay) → the files it carries, as ClamAV 1.4's
 * PE scan reads them before it tries the packers.
 *
 * In: the bytes of a PE32 layer and the overlay ClamAV computes for it (see `peOverlay`). Out,
 * lazily: a metadata report for each file listed (`{ meta: name, size, compressedSize, position }`,
 * position counted from 0), each listed file as a child, except `data1.hdr` and `dataN.cab`, which
 * are kept for last: the header is read and the files of the cabinets it describes are inflated
 * and given as children; when that reading stopped on something it did not like, the header and
 * the cabinets are given whole as children too. The generator's return value says whether the PE
 * scan ends there (a files limit met while reading the header).
 *
 * Why this shape: the overlay is a list of records, each four NUL-terminated strings (a name, a
 * path, a version and the decimal size, each found within 2 KiB) followed by that many bytes. The
 * walk ends at the first record whose strings are missing, whose size is not a plain decimal
 * number or does not fit in what is left of the overlay. The header (`ISc(` magic) points at an
 * object table giving the count and place of 87-byte file descriptors; a descriptor flagged
 * internal (4), not a duplicate and not empty, names a cabinet number, an offset into it and a
 * stored size. The stored data is a run of chunks, each a 16-bit length and a raw deflate stream
 * of its own; the chunks' output, written 64 KiB at a time, is the file. One damaged chunk drops
 * the whole file; output past MaxFileSize is cut there (the cut file is still scanned, and the
 * limit alerted with AlertExceedsMax). The MD5 each descriptor carries is not checked (ClamAV only
 * prints it). ClamAV's quirks are kept: a cabinet is taken as a repeated one (and given as a plain
 * file) as soon as the cabinet kept at some index `i` has number `i`; descriptors past the end of
 * the file are passed over with the walk going on (their offsets wrap at 32 bits); a header whose
 * files all came out clean is not given whole.
 */
import type { ScanpeInfo } from '../packers/upx.js';
import { inflateRaw, TRUNCATED } from '../zipmethods/inflate.js';
import { LIMIT } from '../compress/common.js';
import type { UnpackContext, UnpackItem } from '../unpack.js';

const u16 = (b: Uint8Array, at: number): number => (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8);
const u32 = (b: Uint8Array, at: number): number => (u16(b, at) | (u16(b, at + 2) << 16)) >>> 0;
const u64 = (b: Uint8Array, at: number): bigint => BigInt(u32(b, at)) | (BigInt(u32(b, at + 4)) << 32n);

/** Where ClamAV's PE header reader puts the overlay: after the section reaching furthest in memory. */
export function peOverlay(sections: ScanpeInfo['sections'], fileSize: number): { start: number; size: number } {
  let start = 0, max = 0;
  sections.forEach((s, i) => {
    const end = (s.rva + s.rsz) >>> 0;
    if (i === 0) max = end;
    else if (end > max) {
      max = end;
      start = (s.raw + s.rsz) >>> 0;
    }
  });
  return { start, size: (fileSize - start) >>> 0 };
}

const STR_HINT = 2048;
const FILE_ITEM = 87;
const OBJECTS = 74;
const MAGIC = 0x28635349;
const OUT_PIECE = 65536;
/** Output bound when MaxFileSize is off. */
const NO_LIMIT_CAP = 0x7fffffff;

/** The NUL-terminated string at `at` when its NUL comes within `hint` bytes (and the file); else undefined. */
function cString(b: Uint8Array, at: number, hint: number): { text: string; end: number } | undefined {
  if (at < 0 || at >= b.length) return undefined;
  const rel = b.subarray(at, Math.min(b.length, at + hint)).indexOf(0);
  if (rel < 0) return undefined;
  return { text: Buffer.from(b.buffer, b.byteOffset + at, rel).toString('latin1'), end: at + rel };
}

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
/** Lower case as C's `tolower` in the C locale (ASCII letters only). */
const lower = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/** C's `strtol(s, &end, 10)` on a string: the value (huge values stay huge) and where parsing stopped (-1: no digits). */
function strtol(s: string, from = 0): { value: number; end: number } {
  let i = from;
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  let sign = 1;
  if (s[i] === '+' || s[i] === '-') { if (s[i] === '-') sign = -1; i++; }
  const digits = i;
  let v = 0;
  while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) v = v * 10 + (s.charCodeAt(i++) - 0x30);
  if (i === digits) return { value: 0, end: -1 };
  return { value: sign * v, end: i };
}

interface Cab { cabno: number; off: number; sz: number }

/** ClamAV's containment check in 64-bit arithmetic. */
function contained(bb: bigint, bbSize: bigint, sb: bigint, sbSize: bigint): boolean {
  const M = (1n << 64n) - 1n;
  const end = (sb + sbSize) & M, bend = (bb + bbSize) & M;
  return bbSize > 0n && sbSize > 0n && sbSize <= bbSize && sb >= bb && end <= bend && end > bb && sb < bend;
}

/** The items of the InstallShield records found in the overlay at `start` (`size` bytes, as ClamAV's 32-bit size). */
export function* scanIshieldOverlay(b: Uint8Array, start: number, size: number, ctx: UnpackContext): Generator<UnpackItem, boolean> {
  let coff = start;
  let sz = size;
  let fc = 0;
  let hdr = -1, hdrsz = 0;
  const cabs: Cab[] = [];
  for (;;) {
    const strs: string[] = [];
    const from = coff;
    for (let k = 0; k < 4; k++) {
      const s = cString(b, coff, STR_HINT);
      if (!s) break;
      strs.push(s.text);
      coff = s.end + 1;
    }
    if (strs.length < 4) break;
    const [fname, , , strsz] = strs as [string, string, string, string];
    const head = coff - from;
    const n = strtol(strsz);
    const fsize = n.value;
    if (fsize < 0 || !strsz.length || n.end !== strsz.length || fsize >= sz || head >= sz - fsize) break;
    yield { meta: fname, size: fsize, compressedSize: fsize, position: fc++ };
    sz -= head + fsize;
    if (lower(fname.slice(0, 4)) === 'data') {
      const rest = fname.slice(4);
      if (lower(rest) === '1.hdr' && hdr === -1) {
        hdr = coff;
        hdrsz = fsize;
        coff += fsize;
        continue;
      }
      const c = strtol(rest);
      if (c.value > 0 && c.value < 65536 && c.end > 0 && lower(rest.slice(c.end)) === '.cab') {
        // ClamAV looks for a repeat by comparing each index with the cabinet number kept there.
        let i = 0;
        while (i < cabs.length && i !== cabs[i]!.cabno) i++;
        if (i === cabs.length) {
          cabs.push({ cabno: c.value, off: coff, sz: fsize });
          coff += fsize;
          continue;
        }
      }
    }
    if (fsize) yield { name: fname, data: b.subarray(coff, coff + fsize) };
    coff += fsize;
  }
  if (!cabs.length && hdr === -1) return false;
  const parsed = yield* parseHeader(b, hdr, hdrsz, cabs, ctx);
  if (parsed === 'stop') return true;
  if (parsed === 'done') return false;
  if (hdr !== -1 && hdrsz) yield { name: 'data1.hdr', data: b.subarray(hdr, hdr + hdrsz) };
  for (const c of cabs) if (c.sz) yield { name: `data${c.cabno}.cab`, data: b.subarray(c.off, c.off + c.sz) };
  return false;
}

/**
 * ClamAV's reading of `data1.hdr`: 'whole' when the header and cabinets are then given whole,
 * 'done' when not (every file it tried came out, or none was tried), 'stop' on a files limit.
 */
function* parseHeader(b: Uint8Array, hdr: number, hdrsz: number, cabs: readonly Cab[], ctx: UnpackContext): Generator<UnpackItem, 'whole' | 'done' | 'stop'> {
  if (hdr === -1 || !hdrsz || !cabs.length) return 'whole';
  const dataOff = u32(b, hdr + 12);
  const objs = hdr + dataOff;
  if (objs + OBJECTS > b.length) return 'whole';
  if (u32(b, hdr) !== MAGIC) return 'whole';
  const dirsOff = u32(b, objs + 12);
  const filesCnt = u32(b, objs + 40);
  let off = (dataOff + dirsOff + u32(b, objs + 44)) >>> 0;
  let whole = false;
  let scanned = 0;
  const maxFiles = ctx.limits.maxFiles;
  for (let i = 0; i < filesCnt;) {
    const at = hdr + off;
    if (at + FILE_ITEM > b.length) {
      // Out of the file: every descriptor until the offset wraps is too.
      whole = true;
      const steps = Math.max(1, Math.ceil((0x100000000 - off) / FILE_ITEM));
      const k = Math.min(steps, filesCnt - i);
      off = (off + k * FILE_ITEM) >>> 0;
      i += k;
      continue;
    }
    i++;
    off = (off + FILE_ITEM) >>> 0;
    if (u16(b, at) !== 4 || (b[at + 84]! & 1)) continue;
    const fileSize = u64(b, at + 2);
    if (!fileSize) continue;
    if (maxFiles && ctx.scannedFiles && ctx.scannedFiles() >= maxFiles) {
      yield { name: 'InstallShield', limit: 'MaxFiles' };
      return 'stop';
    }
    const csize = u64(b, at + 10);
    const streamOff = u64(b, at + 18);
    const cabno = u16(b, at + 85);
    const cab = cabs.find((c) => c.cabno === cabno);
    if (!cab || !contained(BigInt(cab.off), BigInt(cab.sz), streamOff + BigInt(cab.off), csize)) { whole = true; continue; }
    scanned++;
    if (maxFiles && scanned >= maxFiles) return 'stop';
    const name = headerName(b, hdr, hdrsz, dataOff, dirsOff, at) ?? `ishield@${cab.off + Number(streamOff)}`;
    const r = yield* extractCabFile(b, cab.off + Number(streamOff), Number(csize), name, ctx);
    if (!r) whole = true;
  }
  return whole ? 'whole' : 'done';
}

/** The `dir\name` a file descriptor gives, when both strings are there (for naming only). */
function headerName(b: Uint8Array, hdr: number, hdrsz: number, dataOff: number, dirsOff: number, at: number): string | undefined {
  const str = (rel: number): string | undefined => cString(b, hdr + rel, rel <= hdrsz ? hdrsz - rel : b.length)?.text;
  const file = str((dirsOff + dataOff + u32(b, at + 58)) >>> 0);
  if (file === undefined) return undefined;
  const dirRel = (dataOff + dirsOff + 4 * u16(b, at + 62)) >>> 0;
  const dir = hdr + dirRel + 4 <= b.length ? str((u32(b, hdr + dirRel) + dataOff + dirsOff) >>> 0) : undefined;
  return dir ? `${dir}\\${file}` : file;
}

/**
 * One file of a cabinet: its chunks inflated into one output, cut at MaxFileSize. True when the
 * file was given (or cut), false when a chunk failed (the file is then dropped).
 */
function* extractCabFile(b: Uint8Array, off: number, csize: number, name: string, ctx: UnpackContext): Generator<UnpackItem, boolean> {
  const max = ctx.limits.maxFileSize > 0 ? ctx.limits.maxFileSize : NO_LIMIT_CAP;
  const parts: Uint8Array[] = [];
  let outsz = 0;
  let success = false;
  let alerted = false;
  while (csize > 0) {
    success = false;
    if (csize < 2) break;
    csize -= 2;
    if (off + 2 > b.length) break;
    const chunk = u16(b, off);
    off += 2;
    if (!chunk) continue;
    if (csize < chunk) break;
    csize -= chunk;
    if (off + chunk > b.length) break;
    const input = b.subarray(off, off + chunk);
    off += chunk;
    // ClamAV writes each 64 KiB piece of output after the inflate call that made it; the call
    // crossing MaxFileSize has its output cut there, and the chunk's rest is not read.
    const room = max - outsz;
    const bound = (Math.floor(room / OUT_PIECE) + 1) * OUT_PIECE;
    // Damage is met in a call at or before the one that would cut (the bound ends with that call):
    // the whole file is dropped. A stream cut short keeps what it gave.
    const r = inflateRaw(input, Math.min(bound, NO_LIMIT_CAP));
    if (r.error !== undefined && r.error !== LIMIT && r.error !== TRUNCATED) break;
    const cut = r.error === LIMIT || r.data.length > room;
    if (cut) {
      if (!alerted && ctx.limits.maxFileSize > 0) {
        alerted = true;
        yield { name, limit: 'MaxFileSize' };
      }
      if (room > 0) parts.push(r.data.subarray(0, room));
      outsz += Math.max(0, room);
    } else {
      parts.push(r.data);
      outsz += r.data.length;
    }
    success = true;
  }
  if (!success) return false;
  const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  yield { name, data };
  return true;
}

/** The overlay step of ClamAV's PE scan, for the packer chain: the InstallShield records, if any. */
export function* scanPeOverlay(b: Uint8Array, info: ScanpeInfo, ctx: UnpackContext): Generator<UnpackItem, boolean> {
  const { start, size } = peOverlay(info.sections, b.length);
  if (!start || !size) return false;
  try {
    return yield* scanIshieldOverlay(b, start, size, ctx);
  } catch {
    return false;
  }
}
