/**
 * UPX-packed Win32 executables → the unpacked image, rebuilt as a PE the way ClamAV 1.4 does it.
 *
 * In: the bytes of a layer typed as a PE. Out: at most one child layer `upx`, the rebuilt file
 * (or `{ limit }` when the image would exceed MaxFileSize / MaxScanSize).
 *
 * What is recognised (ClamAV's `cli_scanpe`): a PE32 whose section table has a section with no
 * raw data but a virtual size followed by one with both (UPX0 then UPX1), an entry point with at
 * least 168 bytes of file behind it, and UPX1's raw data larger than 0x19 bytes and smaller than
 * the two sections' virtual sizes together. The decoder the loader stub names (13 bytes at entry
 * + 0x69 or + 0x71 found in the NRV2B/2D/2E loop's code) is tried first, with UPX1 skewed when the
 * stub starts `pusha; mov esi, <address inside UPX1>`; then each other NRV decoder, on UPX1 and
 * on UPX1 + 0x15. All attempts write into one buffer of the two sections' size + 8 KiB, and a
 * failed attempt's bytes stay in it (they can reach the output). The decoded image is then made a
 * PE (ClamAV's `pefromupx`): the original header is found after the import table the stub points
 * at (`lea edi, [esi + imports]` at a method-specific distance from the entry, else searched for),
 * else by scanning backwards for `PE\0\0`; its sections are laid out again after a fixed 0xd0-byte
 * DOS header, aligned to the section alignment. When no header is found, a fixed one-section
 * header is put in front of the decoded bytes. When the header's sections do not fit, the decoded
 * bytes are given as they are (ClamAV scans those too).
 *
 * UPX's LZMA stubs are recognised after the NRV decoders (either of the two forms ClamAV knows:
 * the decoded size and the lc/lp/pb properties read from the stub, the stream 2 bytes into UPX1,
 * or 0x15 bytes further with the stub's skew), and their result replaces the NRV one.
 *
 * The MEW, Upack and FSG branches run before UPX, in `cli_scanpe`'s order (./index.ts).
 *
 * Why: ClamAV scans the unpacked image as a child layer of the PE, so signatures written for the
 * original program match inside the packed one. Never throws; the work is bounded by the sizes
 * the headers declare, themselves bounded by MaxFileSize.
 */
import { parsePe, peClamavView, type PeClamavSection } from '../pe.js';
import type { UnpackContext } from '../unpack.js';
import { nrvDecode, type NrvMethod } from './nrv.js';
import { lzmaDecode } from '../compress/lzma.js';

const UPX_NRV2B = hex('11db11c901db75078b1e83eefc11db11c911c975204101db');
const UPX_NRV2D = hex('83f0ff7478d1f889c5eb0b01db75078b1e83eefc11db11c9');
const UPX_NRV2E = hex('eb5231c983e8037211c1e0088a064683f0ff7475d1f889c5');
const UPX_LZMA1_FIRST = hex('5683c3045350c703');
const UPX_LZMA1_SECOND = hex('9090905557565383');
const UPX_LZMA2 = hex('5683c3045350c703030002009090909090555756');

/** Distance from the entry (in UPX1) of the `lea edi, [esi + imports]` operand, per method. */
const MAGIC: Record<NrvMethod, readonly number[]> = { '2b': [0x108, 0x110, 0xd5], '2d': [0x11c, 0x124], '2e': [0x128, 0x130] };

/** The DOS header and stub ClamAV puts in front of a rebuilt image (e_lfanew = 0xd0). */
const HEADERS = hex(
  '4d5a90000200000004000f00ffff0000b00000000000000040001a0000000000' +
  '00000000000000000000000000000000000000000000000000000000d0000000' +
  '0e1fb409ba0d00cd21b44ccd21546869732066696c6520776173206372656174' +
  '656420627920436c616d415620666f7220696e7465726e616c2075736520616e' +
  '642073686f756c64206e6f742062652072756e2e0d0a436c616d4156202d2041' +
  '2047504c207669727573207363616e6e6572202d20687474703a2f2f7777772e' +
  '636c616d61762e6e65740d0a24000000',
);

/** The one-section PE header ClamAV forges when the image holds none (0x120 bytes). */
const FAKEPE = (() => {
  const b = new Uint8Array(0x120);
  b.set(hex(
    '504500004c010100434c414d0000000000000000e000838f0b01000000100000' +
    '0010000000000000001000000010000000100000000040000010000000020000' +
    '010000000000000003000a0000000000ffffffff000200000000000002000000' +
    '000010000010000000001000001000000000000010',
  ));
  b.set(hex('2e636c616d303100ffffffff00100000ffffffff00020000000000000000000000000000ffffffff'), 0xf8);
  return b;
})();

function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, '');
  const out = new Uint8Array(t.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
function w32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; b[o + 2] = (v >>> 16) & 0xff; b[o + 3] = (v >>> 24) & 0xff;
}
const alignUp = (o: number, a: number): number => (a ? ((Math.floor(o / a) + (o % a ? 1 : 0)) * a) >>> 0 : o);
const alignDown = (o: number, a: number): number => (a ? Math.floor(o / a) * a : o);

/** ClamAV's containment check of [sb, sb+size) in [bb, bb+bbSize), both sizes non-zero. */
function contained(bb: number, bbSize: number, sb: number, size: number): boolean {
  return bbSize > 0 && size > 0 && size <= bbSize && sb >= bb && sb + size <= bb + bbSize && sb < bb + bbSize;
}

/** Whether the `n` bytes at `b[at]` occur anywhere in `hay` (ClamAV's `cli_memstr(hay, needle)`). */
function occursIn(hay: Uint8Array, b: Uint8Array, at: number, n: number): boolean {
  if (at + n > b.length) return false;
  outer: for (let i = 0; i + n <= hay.length; i++) {
    for (let j = 0; j < n; j++) if (hay[i + j] !== b[at + j]) continue outer;
    return true;
  }
  return false;
}

/** First index of `8d be` in `b[from, from + len)`, or -1. */
function findLea(b: Uint8Array, from: number, len: number): number {
  for (let i = from; i + 2 <= from + len && i + 1 < b.length; i++) if (b[i] === 0x8d && b[i + 1] === 0xbe) return i;
  return -1;
}

/** ClamAV's `checkpe`: a PE header at `at` inside `dst[0, dsize)` with its section table. */
function checkPe(dst: Uint8Array, dsize: number, at: number, out: { valign: number; sectcnt: number }): boolean {
  if (!contained(0, dsize, at, 0xf8)) return false;
  if (u32(dst, at) !== 0x4550) return false;
  if (!(out.valign = u32(dst, at + 0x38))) return false;
  if (!(out.sectcnt = dst[at + 6]! | (dst[at + 7]! << 8))) return false;
  return contained(0, dsize, at + 0xf8, out.sectcnt * 0x28);
}

/**
 * ClamAV's `pefromupx`: makes a PE of the decoded bytes `dst[0, dend)`, in place. `src` is the
 * stream as the decoder saw it (`ssize` bytes), `ep` the entry RVA as adjusted for that view.
 * Returns the size of the result in `dst` (the caller's `dsize` when the image is left as is).
 */
function peFromUpx(src: Uint8Array, ssize: number, dst: Uint8Array, dsize: number, ep: number, upx0: number, upx1: number, magic: readonly number[], dend: number): number {
  const epOff = (ep - upx1) >>> 0;
  let valign = 0;
  for (const m of magic) {
    const o = (epOff + m - 2) >>> 0;
    if (contained(0, ssize - 5, o, 2) && src[o] === 0x8d && src[o + 1] === 0xbe) { valign = m; break; }
  }
  if (!valign && contained(0, ssize - 8, (epOff + 0x80) >>> 0, 8)) {
    let pt = (epOff + 0x80) >>> 0;
    for (;;) {
      const hs = ssize - pt - 8;
      if (hs < 2) break;
      const q = findLea(src, pt, hs);
      if (q < 0) break;
      if (src[q + 6] === 0x8b && src[q + 7] === 0x07) { valign = (q + 2 - epOff) >>> 0; break; }
      pt = q + 1;
    }
  }
  const pe = { valign: 0, sectcnt: 0 };
  let pehdr = -1;
  let realstuffsz = 0;
  if (valign && contained(0, ssize, (epOff + valign) >>> 0, 4)) {
    const imports = u32(src, (epOff + valign) >>> 0);
    realstuffsz = imports;
    if (realstuffsz < dsize) {
      let p = imports;
      while (contained(0, dsize, p, 8) && u32(dst, p)) {
        p += 8;
        while (contained(0, dsize, p, 2) && dst[p]) {
          p++;
          while (contained(0, dsize, p, 2) && dst[p]) p++;
          p++;
        }
        p++;
      }
      p += 4;
      if (checkPe(dst, dsize, p, pe)) pehdr = p;
    }
  }
  if (pehdr < 0 && dend > 0xf8 + 0x28) {
    let p = dend - 0xf8 - 0x28;
    while (p > 0) {
      if (checkPe(dst, dsize, p, pe)) break;
      p--;
    }
    realstuffsz = p;
    if (p > 0) pehdr = p;
  }
  if (pehdr < 0) {
    // A forged header in front of the decoded bytes.
    const rebsz = alignUp(dend, 0x1000);
    dst.copyWithin(0x200, 0, dend);
    dst.fill(0, 0, 0x200);
    dst.set(HEADERS, 0);
    dst.set(FAKEPE, 0xd0);
    w32(dst, 0xd0 + 0x50, rebsz + 0x1000);
    w32(dst, 0xd0 + 0x100, rebsz);
    w32(dst, 0xd0 + 0x108, rebsz);
    return rebsz + 0x200;
  }
  valign = pe.valign;
  const sectcnt = pe.sectcnt;
  let foffset = alignUp(0xd0 + 0xf8 + 0x28 * sectcnt, valign);
  const table = pehdr + 0xf8;
  for (let k = 0; k < sectcnt; k++) {
    const s = table + 0x28 * k;
    const vsize = alignUp(u32(dst, s + 8), valign);
    const urva = alignDown(u32(dst, s + 12), valign);
    if (!contained(upx0, realstuffsz, urva, vsize)) return dsize;
    w32(dst, s + 8, vsize);
    w32(dst, s + 12, urva);
    w32(dst, s + 16, vsize);
    w32(dst, s + 20, foffset);
    if (foffset + vsize > 0xffffffff) return dsize;
    foffset += vsize;
  }
  w32(dst, pehdr + 8, 0x4d414c43);
  w32(dst, pehdr + 0x3c, valign);
  // A result larger than the buffer is refused (ClamAV checks it after laying the sections out).
  if (foffset > dsize + 8192) return dsize;
  const out = new Uint8Array(foffset);
  out.set(HEADERS, 0);
  out.set(dst.subarray(pehdr, pehdr + 0xf8 + 0x28 * sectcnt), 0xd0);
  for (let k = 0; k < sectcnt; k++) {
    const s = table + 0x28 * k;
    const off1 = u32(dst, s + 20), off2 = u32(dst, s + 16);
    if (off1 > foffset || off2 > foffset || ((off1 + off2) >>> 0) > foffset) return dsize;
    const from = (u32(dst, s + 12) - upx0) >>> 0;
    if (from > dsize) return dsize;
    out.set(dst.subarray(from, Math.min(from + off2, dst.length)), off1);
  }
  dst.set(out, 0);
  return foffset;
}

/** A PE as `cli_scanpe` sees it: sections lying wholly past the end of the file removed. */
export interface ScanpeInfo {
  sections: PeClamavSection[];
  /** Entry point: file offset and RVA. */
  ep: number;
  vep: number;
  imageBase: number;
  lfanew: number;
  /** SizeOfHeaders rounded up to the section alignment: RVAs below map to the same offset. */
  hdrSize: number;
  /** The lowest section RVA (ClamAV's `peinfo->min`). */
  min: number;
  /** Up to 4096 bytes at the entry point (`epbuff`); `epsize` is its length. */
  epbuff: Uint8Array;
}

/** What one packer's branch of `cli_scanpe` decided. */
export type PackerOutcome =
  | { data: Uint8Array }
  | { limit: 'MaxFileSize' | 'MaxScanSize'; size: number }
  /** A heuristic alert, after which `cli_scanpe` returns. */
  | { alert: string }
  /** `cli_scanpe` returns: no later packer is tried. */
  | 'stop'
  /** Not this packer, or it failed quietly: the next one is tried. */
  | 'next';

/** The PE32 `cli_scanpe` goes on with, or undefined where it returns before its packers. */
export function scanpeInfo(bytes: Uint8Array): ScanpeInfo | undefined {
  const pe = parsePe(bytes).pe;
  if (!pe || !pe.optionalHeader || pe.optionalHeader.pe32plus) return undefined;
  const v = peClamavView(pe);
  if (!v.ok) return undefined;
  const falign = v.view.fileAlignment;
  const sections = v.view.sections.filter((s, i) => {
    const h = pe.sections[i]!;
    return !(alignUp(h.sizeOfRawData, falign) && (alignDown(h.pointerToRawData, falign) >= bytes.length || h.pointerToRawData >= bytes.length));
  });
  if (sections.length === 0) return undefined;
  const ep = v.view.ep;
  if (ep > bytes.length) return undefined;
  return {
    sections, ep, vep: v.view.vep, imageBase: Number(pe.optionalHeader.imageBase & 0xffffffffn), lfanew: pe.dos.lfanew,
    hdrSize: v.view.hdrSize, min: Math.min(...sections.map((s) => s.rva)),
    epbuff: bytes.subarray(ep, ep + 4096),
  };
}

/** Checks ClamAV's unpacker size limits (`CLI_UNPSIZELIMITS`) for `need` bytes. */
export function sizeLimit(need: number, ctx: UnpackContext): PackerOutcome | undefined {
  if (ctx.limits.maxScanSize && need > ctx.limits.maxScanSize) return { limit: 'MaxScanSize', size: need };
  if (ctx.limits.maxFileSize && need > ctx.limits.maxFileSize) return { limit: 'MaxFileSize', size: need };
  return undefined;
}

/** The first section with no raw data but a virtual size followed by one with both, or -1. */
export function emptySection(info: ScanpeInfo): number {
  const s = info.sections;
  for (let i = 0; i < s.length - 1; i++) {
    const a = s[i]!, b = s[i + 1]!;
    if (!a.rsz && a.vsz && b.rsz && b.vsz) return i;
  }
  return -1;
}

/** The UPX branch of `cli_scanpe` (with the checks on the entry that come before it). */
export function upxStep(bytes: Uint8Array, info: ScanpeInfo, ctx: UnpackContext): PackerOutcome {
  const { sections, vep, imageBase, epbuff } = info;
  const i = emptySection(info);
  if (epbuff.length < 168) return 'stop';
  if (i < 0) return 'next';
  const upx0 = sections[i]!, upx1 = sections[i + 1]!;
  const ssize = upx1.rsz;
  const dsize = (upx0.vsz + upx1.vsz) >>> 0;
  const limited = sizeLimit(Math.max(dsize, ssize), ctx);
  if (limited) return limited;
  if (ssize <= 0x19 || dsize <= ssize || dsize > 1024 * 1024 * 1024) return 'stop';
  if (upx1.raw + ssize > bytes.length) return 'stop';
  const src = bytes.subarray(upx1.raw, upx1.raw + ssize);
  const dst = new Uint8Array(dsize + 8192);

  let method: NrvMethod | undefined;
  for (const [m, pat] of [['2b', UPX_NRV2B], ['2d', UPX_NRV2D], ['2e', UPX_NRV2E]] as const) {
    if (occursIn(pat, epbuff, 0x69, 13) || occursIn(pat, epbuff, 0x71, 13)) { method = m; break; }
  }
  const attempt = (m: NrvMethod, skew: number): number | undefined => {
    if (skew > ssize) return undefined;
    const view = src.subarray(skew);
    const dend = nrvDecode(m, view, ssize - skew, dst, dsize);
    if (dend < 0) return undefined;
    return peFromUpx(view, ssize - skew, dst, dsize, (vep - skew) >>> 0, upx0.rva, upx1.rva, MAGIC[m], dend);
  };
  let size: number | undefined;
  if (method) {
    let skew = (u32(epbuff, 2) - imageBase - upx1.rva) | 0;
    if (epbuff[1] !== 0xbe || skew <= 0 || skew > 0xfff || skew > ssize) skew = 0;
    size = attempt(method, skew);
    if (size === undefined && skew) size = attempt(method, 0);
  }
  for (const m of ['2b', '2d', '2e'] as const) {
    if (size !== undefined || m === method) continue;
    size = attempt(m, 0) ?? attempt(m, 0x15);
  }
  // The LZMA stubs are checked next, whatever happened before; when one is recognised and its
  // size fits, its result replaces the NRV one. The output keeps the size the NRV branch left
  // (the LZMA rebuild does not change it).
  let out = size ?? dsize;
  let lzma: { strict: number; props: number } | undefined;
  if (occursIn(UPX_LZMA2, epbuff, 0x2f, 20)) lzma = { strict: u32(epbuff, 0x21), props: 0x20003 };
  else if (occursIn(UPX_LZMA1_FIRST, epbuff, 0x39, 8) && occursIn(UPX_LZMA1_SECOND, epbuff, 0x45, 8)) lzma = { strict: u32(epbuff, 0x2b), props: u32(epbuff, 0x41) };
  if (lzma && lzma.strict <= out) {
    let skew = 0;
    if (ssize > 0x15 && epbuff[0] === 0x60 && epbuff[1] === 0xbe) {
      skew = (u32(epbuff, 2) - upx1.rva - imageBase) >>> 0;
      if (skew !== 0x15) skew = 0;
    }
    // The stream is read from 2 bytes in, for as many bytes as the section holds (past its end).
    const input = bytes.subarray(upx1.raw + skew + 2, Math.min(bytes.length, upx1.raw + ssize + 2));
    const ok = upxLzma(input, dst, lzma.strict, lzma.props);
    if (ok) peFromUpx(src.subarray(skew), ssize - skew, dst, lzma.strict, vep, upx0.rva, upx1.rva, [0xb16, 0xb1e], lzma.strict);
    size = ok ? out : undefined;
  }
  if (size === undefined) return 'next';
  out = Math.min(size, dst.length);
  return { data: dst.slice(0, out) };
}

/** Errors of LZMA's reference decoder (the others only mean the stream stopped early). */
const LZMA_DATA_ERRORS = new Set(['bad properties', 'bad range coder start', 'repeat before any output', 'distance outside the dictionary', 'bad end marker']);

/** ClamAV's `upx_inflatelzma` decoding: `size` bytes into `dst`; false on a data error. */
function upxLzma(input: Uint8Array, dst: Uint8Array, size: number, props: number): boolean {
  const lc = props & 0xff, lp = (props >>> 8) & 0xff, pb = (props >>> 16) & 0xff;
  if (lc >= 9 || lp >= 5 || pb >= 5) return false;
  const header = new Uint8Array(5);
  header[0] = lc + 9 * (5 * pb + lp);
  w32(header, 1, size);
  const r = lzmaDecode(header, input, size, size);
  if (r.error && LZMA_DATA_ERRORS.has(r.error)) return false;
  dst.set(r.data.subarray(0, Math.min(r.data.length, size)), 0);
  return true;
}

/** The UPX branch alone on a whole file: the rebuilt image, a limit, or undefined. */
export function upxUnpack(bytes: Uint8Array, ctx: UnpackContext): { data: Uint8Array } | { limit: 'MaxFileSize' | 'MaxScanSize'; size: number } | undefined {
  const info = scanpeInfo(bytes);
  const r = info ? upxStep(bytes, info, ctx) : 'stop';
  return typeof r === 'string' || 'alert' in r ? undefined : r;
}
