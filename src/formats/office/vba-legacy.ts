/**
 * ClamAV's older macro readers, which still run in 1.4 beside the `dir` stream reader:
 * - the `_VBA_PROJECT` stream read for module names and source offsets (Office 97-2003 layout:
 *   a 34-byte header, reference strings `*\G…`, then the module table), each module's source
 *   decompressed and scanned raw with the OLE2 target;
 * - Word 6 macros: the macro table the `WordDocument` stream points at (offset 0x118), each macro
 *   XOR-decoded with its key and scanned the same way;
 * - PowerPoint: the `PowerPoint Document` stream's records walked, each compressed embedded
 *   storage (record 0x1011) inflated and scanned as a file (usually an OLE2 holding the VBA).
 *
 * In: the stream bytes (and, for module lookups, ClamAV's count of streams by lower-case name).
 * Out: what ClamAV extracts, or undefined where its reader gives up. The byte-level walks follow
 * ClamAV's reads and seeks, short reads included, because where they land decides what is read
 * next. Never throws.
 */
import { inflateLikeClamav } from './inflate.js';

/** PowerPoint's compressed records are read in pieces of this size. */
const CHUNK = 8192;

/** A file position with C's read and seek rules: reads stop at the end, seeks may pass it but not go below 0. */
class Cursor {
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  read(n: number): Uint8Array {
    const start = Math.min(this.pos, this.b.length);
    const got = this.b.subarray(start, Math.min(this.b.length, start + n));
    this.pos = start + got.length;
    return got;
  }
  u16(big = false): number | undefined {
    const r = this.read(2);
    if (r.length !== 2) return undefined;
    return big ? (r[0]! << 8) | r[1]! : r[0]! | (r[1]! << 8);
  }
  u32(big = false): number | undefined {
    const r = this.read(4);
    if (r.length !== 4) return undefined;
    return (big ? ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) : (r[0]! | (r[1]! << 8) | (r[2]! << 16) | (r[3]! << 24))) >>> 0;
  }
  seek(delta: number): boolean {
    if (this.pos + delta < 0) return false;
    this.pos += delta;
    return true;
  }
}

/** ClamAV's `get_unicode_name`: the lower-case form it looks module names up by. */
export function unicodeName(b: Uint8Array, size: number, big: boolean): string | undefined {
  if (size <= 0 || b[0] === 0) return undefined;
  if (!big && size & 1) size--;
  const step = big ? 1 : 2;
  const signed = (c: number): number => (c & 0x80 ? c - 256 : c);
  let out = '';
  for (let i = 0; i < size; i += step) {
    const c = signed(b[i] ?? 0);
    if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
    else if (c >= 0 && c < 10) out += `_${c}_`;
    else {
      if (i + 1 >= size) break;
      const lo = signed(b[i + 1] ?? 0);
      const x = ((c < 0 ? 0 : c << 8) | lo) & 0xffff;
      out += '_' + String.fromCharCode(0x61 + (x & 0xf), 0x61 + ((x >> 4) & 0xf), 0x61 + ((x >> 8) & 0xf)) + 'aa_';
    }
  }
  return out;
}

const MIDDLES = [
  [0x00, 0x01, 0x0d, 0x45, 0x2e, 0xe1, 0xe0, 0x8f, 0x10, 0x1a, 0x85, 0x2e, 0x02, 0x60, 0x8c, 0x4d, 0x0b, 0xb4, 0x00, 0x00],
  [0x00, 0x00, 0xe1, 0x2e, 0x45, 0x0d, 0x8f, 0xe0, 0x1a, 0x10, 0x85, 0x2e, 0x02, 0x60, 0x8c, 0x4d, 0x0b, 0xb4, 0x00, 0x00],
];

/** ClamAV's count of reference strings (`*\G…`, `*\H…`, `*\C…`, `*\D…`) from the cursor, leaving it where ClamAV's file position ends. */
function projectStrings(c: Cursor, big: boolean): number {
  let ret = 0;
  let fresh = true;
  let length = 0;
  for (;;) {
    if (fresh) {
      const l = c.u16(big);
      if (l === undefined) return 0;
      length = l;
    }
    fresh = false;
    if (length < 6) {
      if (!c.seek(-2)) ret = 0;
      break;
    }
    const at = c.pos;
    const buf = c.read(length);
    if (buf.length !== length) { c.pos = at; break; }
    const name = unicodeName(buf, length, big);
    if (name === undefined || !name.startsWith('*\\') || !(name.length === 2 || 'ghcd'.includes(name[2]!))) {
      if (!c.seek(-(length + 2))) ret = 0;
      break;
    }
    const next = c.u16(big);
    if (next === undefined) break;
    length = next;
    ret++;
    if (length !== 0 && length !== 65535) continue;
    c.seek(10);
    const middle = c.read(20);
    if (middle.length !== 20) { fresh = true; continue; }
    if (!MIDDLES.some((m) => m.every((v, k) => middle[k] === v))) c.seek(-20);
    fresh = true;
  }
  return ret;
}

/** A module of the old project table: ClamAV's lower-case name for it and where its source starts. */
export interface LegacyModule { name: string; offset: number }

/**
 * ClamAV's `cli_vba_readdir`: the module table of a `_VBA_PROJECT` stream. `known(name)` is
 * whether a stream of that lower-case name was written out (ClamAV gives up at one that was not).
 */
export function legacyVbaModules(s: Uint8Array, known: (name: string) => boolean): LegacyModule[] | undefined {
  if (s.length < 34 || s[0] !== 0xcc || s[1] !== 0x61) return undefined;
  const c = new Cursor(s);
  c.pos = 34;
  const i = projectStrings(c, true);
  const afterBig = c.pos;
  c.pos = 34;
  const j = projectStrings(c, false);
  if (!i && !j) return undefined;
  const big = i > j;
  if (big) c.pos = afterBig;
  for (;;) {
    const r = c.read(2);
    if (r.length !== 2) return undefined;
    if (r[0] === 0xff && r[1] === 0xff) break;
  }
  if (!c.seek(-3)) return undefined;
  const check = c.read(2);
  if (check.length !== 2) return undefined;
  if (!(check[0] === 0xff && check[1] === 0xff)) c.seek(1);
  let ffff = c.u16(big);
  if (ffff === undefined) return undefined;
  if (ffff !== 0xffff) c.seek(ffff);
  ffff = c.u16(big);
  if (ffff === undefined) return undefined;
  if (ffff === 0xffff) ffff = 0;
  c.seek(ffff + 100);
  const count = c.u16(big);
  if (!count || count > 1000) return undefined;
  const out: LegacyModule[] = [];
  for (let k = 0; k < count; k++) {
    const length = c.u16(big);
    if (!length) return undefined;
    const buf = c.read(length);
    if (buf.length !== length) return undefined;
    const name = unicodeName(buf, length, big);
    if (name === undefined || !known(name)) return undefined;
    const skip = c.u16(big);
    if (skip === undefined) return undefined;
    c.seek(skip);
    let x = c.u16(big);
    if (x === undefined) return undefined;
    if (x === 0xffff) {
      c.seek(2);
      x = c.u16(big);
      if (x === undefined) return undefined;
      c.seek(x + 8);
    } else c.seek(x + 10);
    const bytes = c.u16(big);
    if (bytes === undefined) return undefined;
    c.seek(8 * bytes + 5);
    const offset = c.u32(big);
    if (offset === undefined) return undefined;
    out.push({ name, offset });
    c.seek(2);
  }
  return out;
}

/** ClamAV's `cli_wm_readdir` and `cli_wm_decrypt_macro`: the Word 6 macros of a `WordDocument` stream, decoded. */
export function wordMacros(s: Uint8Array): Uint8Array[] {
  const c = new Cursor(s);
  c.pos = 0x118;
  const macroOffset = c.u32(), macroLen = c.u32();
  if (macroOffset === undefined || macroLen === undefined || macroLen === 0) return [];
  c.pos = (macroOffset + 1) >>> 0;
  const end = (macroOffset + macroLen) >>> 0;
  let entries: { key: number; len: number; offset: number }[] = [];
  let done = false;
  while (c.pos < end && !done) {
    const id = c.read(1);
    if (id.length !== 1) break;
    switch (id[0]) {
      case 0x01: {
        entries = [];
        const n = c.u16();
        if (n) {
          const table = c.read(n * 24);
          if (table.length === n * 24) {
            const v = new DataView(table.buffer, table.byteOffset, table.byteLength);
            for (let k = 0; k < n; k++) entries.push({ key: table[k * 24 + 1]!, len: v.getUint32(k * 24 + 12, true), offset: v.getUint32(k * 24 + 20, true) });
          }
        }
        done = true;
        break;
      }
      case 0x03: {
        // A table of 14-byte entries, then an optional count of 4-byte ones.
        const n = c.read(1);
        if (n.length !== 1) { done = true; break; }
        c.seek(n[0]! * 14);
        const m = c.read(1);
        if (m.length !== 1) { done = true; break; }
        let count = m[0]!;
        if (count === 0) {
          const two = c.read(2);
          if (two.length !== 2) { done = true; break; }
          if (two[0] !== 2) { c.seek(-2); break; }
          count = two[1]!;
        }
        if (count > 0) c.seek(count * 4 + 1);
        break;
      }
      case 0x05: {
        const n = c.u16();
        if (n === undefined) { done = true; break; }
        if (n) c.seek(n * 12);
        break;
      }
      case 0x10: {
        let size = c.u16();
        if (size === undefined) { done = true; break; }
        let unicode = false;
        if (size === 0xffff) {
          size = c.u16();
          if (size === undefined) { done = true; break; }
          unicode = true;
        }
        const signedSize = size & 0x8000 ? size - 0x10000 : size;
        // ClamAV subtracts the whole size each round: one name at most is skipped.
        if (signedSize > 0) {
          const l = c.read(1);
          if (l.length !== 1) { done = true; break; }
          c.seek((unicode ? l[0]! * 2 + 1 : l[0]!) + 2);
        }
        break;
      }
      case 0x11: {
        let n = c.u16();
        if (n === undefined) { done = true; break; }
        let ok = true;
        while (n-- > 0) {
          c.seek(2);
          const l = c.read(1);
          if (l.length !== 1) { ok = false; break; }
          c.seek(l[0]! + 1);
        }
        if (!ok) done = true;
        break;
      }
      default:
        done = true;
    }
  }
  const out: Uint8Array[] = [];
  for (const e of entries) {
    if (e.len === 0 || e.offset + e.len > s.length) continue;
    const data = new Uint8Array(s.subarray(e.offset, e.offset + e.len));
    if (e.key) for (let k = 0; k < data.length; k++) data[k]! ^= e.key;
    out.push(data);
  }
  return out;
}

/**
 * ClamAV's `cli_ppt_vba_read`: the compressed storages of a `PowerPoint Document` stream,
 * inflated (each named by where its data starts; no data when it passes `cap`). Undefined when
 * ClamAV discards them all: a record of length 0, or compressed data cut short.
 */
export function pptStorages(s: Uint8Array, cap: number): { offset: number; data: Uint8Array | undefined }[] | undefined {
  const c = new Cursor(s);
  const out: { offset: number; data: Uint8Array | undefined }[] = [];
  for (;;) {
    const h = c.read(8);
    if (h.length !== 8) break;
    const type = h[2]! | (h[3]! << 8);
    const length = (h[4]! | (h[5]! << 8) | (h[6]! << 16) | (h[7]! << 24)) >>> 0;
    if (length === 0) return undefined;
    if (type !== 0x1011) { c.seek(length); continue; }
    c.seek(4);
    const at = c.pos;
    const packedLength = (length - 4) >>> 0;
    const avail = Math.max(0, Math.min(packedLength, s.length - Math.min(at, s.length)));
    if (avail < Math.min(packedLength, CHUNK)) return undefined;
    // Input is read 8 KiB at a time; a short read while zlib still wants input discards everything.
    const short = avail < packedLength;
    const usable = s.subarray(at, at + (short ? Math.floor(avail / CHUNK) * CHUNK : avail));
    const r = inflateLikeClamav(usable, false, cap);
    if (short && r.state === 'wanting') return undefined;
    out.push({ offset: at, data: r.state === 'limit' ? undefined : r.data });
    c.pos = at + (r.state === 'ended' ? Math.min(usable.length, Math.max(1, Math.ceil(r.consumed / CHUNK)) * CHUNK) : usable.length);
  }
  return out;
}
