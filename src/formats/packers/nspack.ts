/**
 * NsPack-packed executables → the rebuilt image, as ClamAV 1.4 unpacks them (`unspack`).
 *
 * In: the bytes of a PE layer and ClamAV's view of it (./upx.ts `scanpeInfo`). Out: the branch's
 * outcome: the rebuilt image, a limit, or why nothing came out.
 *
 * Recognised (ClamAV's `cli_scanpe`, last of its packers): `pushf; pusha; call $+5; pop ebp; mov
 * eax, 7` at the entry point, or where a `jmp` at the entry point leads. A dword at entry + 17
 * gives where, before the loader, a dword gives the distance from the loader to the packed data
 * (its first dword skipped when zero): a properties byte (lc, lp and pb as LZMA has them), the
 * packed size (at +5) and the unpacked size (at +9), which must equal the first section's virtual
 * size, then the stream. The original entry point is the target of the `jmp` at loader + 0x27a.
 * The stream is LZMA as NsPack's loader decodes it (a match reaching past the end, a distance
 * past what is decoded or a short repeat at the start fail; the end marker ends it early). The
 * decoded bytes become the one section of a rebuilt PE (ClamAV's `cli_rebuildpe`) at the first
 * section's address. The probability table's size is checked against the limits like a file.
 *
 * Not matched: a stream ended early by its end marker leaves the rest of ClamAV's output buffer
 * uninitialised; here it is zeros.
 *
 * Why: ClamAV scans the unpacked image as a child layer. Never throws; the work is bounded by the
 * declared unpacked size (bounded by MaxFileSize) and the file.
 */
import type { UnpackContext } from '../unpack.js';
import { rebuildPe } from './fsg.js';
import { sizeLimit, type PackerOutcome, type ScanpeInfo } from './upx.js';

const u32 = (b: Uint8Array, o: number): number => ((b[o] ?? 0) | ((b[o + 1] ?? 0) << 8) | ((b[o + 2] ?? 0) << 16) | ((b[o + 3] ?? 0) << 24)) >>> 0;
const s32 = (b: Uint8Array, o: number): number => u32(b, o) | 0;
const LOADER = [0x9c, 0x60, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x5d, 0xb8, 0x07, 0x00, 0x00, 0x00];

/** NsPack's range decoder over a probability table. */
class Rc {
  error = false;
  code = 0;
  range = 0xffffffff;
  pos: number;
  constructor(readonly src: Uint8Array, start: number, readonly end: number, readonly table: Uint16Array) {
    this.pos = start;
  }
  byte(): number {
    if (this.pos >= this.end) { this.error = true; return 0xff; }
    return this.src[this.pos++]!;
  }
  bit(p: number): number {
    const t = this.table;
    if (p < 0 || p >= t.length) { this.error = true; return 0xff; }
    const prob = t[p]!;
    const bound = prob * (this.range >>> 11);
    let r: number;
    if (this.code < bound) {
      this.range = bound;
      t[p] = prob + ((0x800 - prob) >> 5);
      r = 0;
    } else {
      this.range = (this.range - bound) >>> 0;
      this.code = (this.code - bound) >>> 0;
      t[p] = prob - (prob >>> 5);
      r = 1;
    }
    if (this.range < 0x1000000) {
      this.code = ((this.code << 8) | this.byte()) >>> 0;
      this.range = (this.range << 8) >>> 0;
    }
    return r;
  }
  /** A bit tree of `bits` levels from `p`. */
  tree(p: number, bits: number): number {
    let count = 1;
    for (let i = 0; i < bits; i++) count = count * 2 + this.bit(p + count);
    return count - 2 ** bits;
  }
  /** A reversed bit tree. */
  reverse(p: number, bits: number): number {
    if ((bits | 0) <= 0) return 0;
    let pos = 1, v = 0;
    for (let i = 0; i < bits; i++) {
      const b = this.bit(p + pos);
      pos = pos * 2 + b;
      v = (v | (b << i)) >>> 0;
    }
    return v;
  }
  direct(bits: number): number {
    if ((bits | 0) <= 0) return 0;
    let v = 0;
    while (bits--) {
      this.range >>>= 1;
      v = (v << 1) >>> 0;
      if (this.code >= this.range) { this.code = (this.code - this.range) >>> 0; v |= 1; }
      if (this.range < 0x1000000) {
        this.range = (this.range << 8) >>> 0;
        this.code = ((this.code << 8) | this.byte()) >>> 0;
      }
    }
    return v >>> 0;
  }
  /** A length: choice, then 3, 3 or 8 bits. */
  len(p: number, posState: number): number {
    if (!this.bit(p)) return this.tree(p + (posState << 3) + 2, 3);
    if (!this.bit(p + 1)) return 8 + this.tree(p + (posState << 3) + 0x82, 3);
    return 0x10 + this.tree(p + 0x102, 8);
  }
  literal(p: number): number {
    let c = 1;
    while (c < 0x100) c = (c * 2) | this.bit(p + c);
    return c & 0xff;
  }
  matched(p: number, match: number): number {
    let c = 1;
    while (c < 0x100) {
      const mbit = (match >>> 7) & 1;
      match = (match << 1) & 0xff;
      const b = this.bit(p + ((mbit + 1) << 8) + c);
      c = (c * 2) | b;
      if (mbit !== b) {
        while (c < 0x100) c = (c * 2) | this.bit(p + c);
      }
    }
    return c & 0xff;
  }
}

/** ClamAV's `very_real_unpack`: 0 when the output is complete, non-zero on failure. */
export function nspackDecode(src: Uint8Array, start: number, srcLen: number, lc: number, lp: number, pb: number, dst: Uint8Array): number {
  const dsize = dst.length;
  const n = 0x300 * 2 ** ((lc + lp) & 0xff) + 0x736;
  const table = new Uint16Array(n).fill(0x400);
  const rc = new Rc(src, start, start + srcLen, table);
  for (let i = 0; i < 5; i++) rc.code = ((rc.code << 8) | rc.byte()) >>> 0;
  if (rc.error) return 1;
  const pbMask = 2 ** pb - 1, lpMask = 2 ** lp - 1;
  let prevMatch = false;
  let pos = 0, rep0 = 1, rep1 = 1, rep2 = 1, rep3 = 1;
  let state = 0, prev = 0;
  const ok = (at: number, size: number): boolean => size > 0 && size <= dsize && at >= 0 && at + size <= dsize;
  for (;;) {
    if (rc.error) return 1;
    let posState = (pbMask & pos) >>> 0;
    if (!rc.bit((state << 4) + posState)) {
      const ctx = ((prev >>> ((8 - lc) & 31)) + (((lpMask & pos) << lc) >>> 0)) >>> 0;
      const p = 0x736 + ctx * 0x300;
      state = state >= 4 ? (state >= 10 ? state - 6 : state - 3) : 0;
      if (prevMatch) {
        if (!ok(pos - rep0, 1)) return 1;
        prev = rc.matched(p, dst[pos - rep0]!);
        prevMatch = false;
      } else prev = rc.literal(p);
      if (!ok(pos, 1)) return 1;
      dst[pos++] = prev;
      if (pos >= dsize) return 0;
      continue;
    }
    prev = 1;
    prevMatch = true;
    let dist: number;
    if (rc.bit(state + 0xc0)) {
      if (!rc.bit(state + 0xcc)) {
        if (!rc.bit(((state + 0xf) << 4) + posState)) {
          if (!pos) return 1;
          state = state >= 7 ? 11 : 9;
          if (!ok(pos - rep0, 1)) return 1;
          prev = dst[pos - rep0]!;
          dst[pos++] = prev;
          if (pos >= dsize) return 0;
          continue;
        }
      } else {
        if (!rc.bit(state + 0xd8)) dist = rep1;
        else {
          if (!rc.bit(state + 0xe4)) dist = rep2;
          else { dist = rep3; rep3 = rep2; }
          rep2 = rep1;
        }
        rep1 = rep0;
        rep0 = dist;
      }
      posState = rc.len(0x534, posState);
      state = state >= 7 ? 11 : 8;
    } else {
      rep3 = rep2; rep2 = rep1; rep1 = rep0;
      state = state >= 7 ? 10 : 7;
      posState = rc.len(0x332, posState);
      const slot = rc.tree(0x1b0 + ((posState >= 4 ? 3 : posState) << 6), 6);
      let d: number;
      if (slot >= 4) {
        const s = (slot >>> 1) - 1;
        d = ((((slot & 1) | 2) << (s & 31)) >>> 0);
        if (slot < 0xe) d = (d + rc.reverse(d - slot + 0x2af, s)) >>> 0;
        else {
          d = (d + ((rc.direct(s - 4) << 4) >>> 0)) >>> 0;
          d = (d + rc.reverse(0x322, 4)) >>> 0;
        }
      } else d = slot;
      rep0 = (d + 1) >>> 0;
    }
    // posState now holds the length less 2.
    if (!rep0) return 0;
    if (rep0 > pos) return 1;
    const len = posState + 2;
    if (!ok(pos, len) || !ok(pos - rep0, len)) return 1;
    for (let k = 0; k < len && pos < dsize; k++, pos++) dst[pos] = dst[pos - rep0]!;
    prev = dst[pos - 1]!;
    if (pos >= dsize) return 0;
  }
}

/** ClamAV's `cli_rawaddr`: the file offset of an RVA, or undefined. */
function rawaddr(rva: number, info: ScanpeInfo, fsize: number): number | undefined {
  if (rva < info.hdrSize) return rva >= fsize ? undefined : rva;
  for (let i = info.sections.length - 1; i >= 0; i--) {
    const s = info.sections[i]!;
    if (s.rsz && s.rva <= rva && s.rsz > rva - s.rva) return (rva - s.rva + s.raw) >>> 0;
  }
  return undefined;
}

/** The NsPack branch of `cli_scanpe`. */
export function nspackStep(bytes: Uint8Array, info: ScanpeInfo, ctx: UnpackContext): PackerOutcome {
  const fsize = bytes.length;
  const has = (off: number, n: number): boolean => off >= 0 && off + n <= fsize;
  let eprva = info.vep;
  let rep: number | undefined = info.ep;
  let at = -1;
  if (info.epbuff[0] === 0xe9) {
    eprva = (s32(info.epbuff, 1) + info.vep + 5) >>> 0;
    rep = rawaddr(eprva, info, fsize);
    if (rep === undefined || !has(rep, 24)) return 'next';
    at = rep;
  }
  const src = at < 0 ? info.epbuff : bytes.subarray(at);
  if (src.length < 13 || LOADER.some((v, i) => src[i] !== v)) return 'next';
  const nowinldr = (0x54 - s32(src, 17)) >>> 0;
  const ptr = (rep - nowinldr) >>> 0;
  if (!has(ptr, 4)) return 'next';
  let stuff = (rep + s32(bytes, ptr)) >>> 0;
  if (!has(stuff, 20)) return 'next';
  if (!u32(bytes, stuff)) stuff += 4;
  const ssize = (u32(bytes, stuff + 5) | 0xff) >>> 0;
  const dsize = u32(bytes, stuff + 9);
  const limited = sizeLimit(Math.max(ssize, dsize), ctx);
  if (limited) return limited;
  if (!ssize || !dsize || dsize !== info.sections[0]!.vsz) return 'next';
  if (!has(stuff, ssize)) return 'next';
  eprva = (eprva + 0x27a) >>> 0;
  const jmp = rawaddr(eprva, info, fsize);
  if (jmp === undefined || !has(jmp, 5)) return 'next';
  eprva = (eprva + 5 + s32(bytes, jmp + 1)) >>> 0;
  // `unspack`: the properties byte, the probability table's size against the limits.
  const c = bytes[stuff]!;
  if (c >= 0xe1) return 'next';
  const pb = Math.floor(c / 45), lp = Math.floor((c % 45) / 9), lc = c % 9;
  const tablesz = (0x300 * 2 ** ((lc + lp) & 0xff) + 0x736) * 2;
  const tlimit = sizeLimit(tablesz, ctx);
  if (tlimit) return tlimit;
  const declared = u32(bytes, stuff + 5);
  if (declared <= 13) return 'next';
  if (dsize > 1024 * 1024 * 1024) return 'stop';
  const dst = new Uint8Array(dsize);
  // The stream may be declared longer than the file: reading stops at the file's end.
  const srcEnd = Math.min(fsize, stuff + 13 + (declared - 13));
  if (nspackDecode(bytes, stuff + 13, srcEnd - (stuff + 13), lc, lp, pb, dst)) return 'next';
  const pe = rebuildPe(dst, [{ raw: 0, rsz: dsize, vsz: dsize, rva: info.sections[0]!.rva }], info.imageBase, eprva);
  return pe ? { data: pe } : 'next';
}
