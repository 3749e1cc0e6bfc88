/**
 * FSG 2.0-, 1.33- and 1.31-packed executables → the rebuilt image, as ClamAV 1.4 unpacks them.
 *
 * In: the bytes of a PE layer and ClamAV's view of it (./upx.ts `scanpeInfo`), with the index of
 * the first virtual-only section followed by one with raw data (the layout UPX also uses). Out:
 * the branch's outcome.
 *
 * Recognised (ClamAV's `cli_scanpe`): `xchg esp, [addr]` at the entry (`87 25`), `addr` inside the
 * packed section, pointing at the loader's new stack inside it, whose first 32 bytes give the
 * destination (the virtual-only section's address), the compressed data's address and the address
 * of a 16-byte table whose last dword is the original entry point. The data is decoded with
 * FSG's aPLib-style coder into a buffer of the virtual-only section's size, and that buffer is made
 * a PE of one section (ClamAV's `cli_rebuildpe`: its fixed headers, an `empty` section first when
 * the data starts above 0x1000). A decoding failure drops the result; the UPX branch then runs.
 *
 * FSG 1.33 (`mov esi, <table in the headers' padding>` at the entry): the table gives the
 * destination, the source and the address of each original section after the first; one stream
 * per section is decoded, each after the previous one, and the sections (sorted by address,
 * sized by the gaps between them) are rebuilt as a PE whose entry point the loader's code at
 * entry + 161 names.
 * FSG 1.31 (`mov ebx, <table>; mov edi, <destination>; mov esi, <source>` at the entry, the
 * entry far enough into the packed section): the table holds each later section's page number
 * (+ 2) as 16-bit values, ended by 1 or 2 with a dword 2 six bytes on; the streams are decoded as
 * for 1.33, the original entry point read from the loader's code at entry + 0xda (or + 0xe0).
 *
 * Why: ClamAV scans the unpacked image as a child layer. Never throws; work is bounded by the
 * section sizes, themselves bounded by MaxFileSize.
 */
import type { UnpackContext } from '../unpack.js';
import { sizeLimit, type PackerOutcome, type ScanpeInfo } from './upx.js';

const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
function w32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; b[o + 2] = (v >>> 16) & 0xff; b[o + 3] = (v >>> 24) & 0xff;
}
const contained = (bb: number, bbSize: number, sb: number, size: number): boolean =>
  bbSize > 0 && size > 0 && size <= bbSize && sb >= bb && sb + size <= bb + bbSize && sb < bb + bbSize;
const alignUp = (o: number, a: number): number => (a ? ((Math.floor(o / a) + (o % a ? 1 : 0)) * a) >>> 0 : o);

function hex(s: string): Uint8Array {
  const out = new Uint8Array(s.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The headers ClamAV's PE rebuild starts from: its DOS stub (e_lfanew 0xd0), then a PE header without data directories. */
const REBUILD_HEADERS = (() => {
  const b = new Uint8Array(0x148);
  b.set(hex(
    '4d5a90000200000004000f00ffff0000b00000000000000040001a0000000000' +
    '00000000000000000000000000000000000000000000000000000000d0000000' +
    '0e1fb409ba0d00cd21b44ccd21546869732066696c6520776173206372656174' +
    '656420627920436c616d415620666f7220696e7465726e616c2075736520616e' +
    '642073686f756c64206e6f742062652072756e2e0d0a436c616d4156202d2041' +
    '2047504c207669727573207363616e6e6572202d20687474703a2f2f7777772e' +
    '636c616d61762e6e65740d0a24000000',
  ));
  b.set(hex(
    '504500004c01ffff434c414d0000000000000000e000838f0b01000000100000' +
    '0010000000000000ffffffff0010000000100000ffffffff0010000000020000' +
    '010000000000000003000a000000000000100000000400000000000002000000' +
    '000010000010000000001000001000000000000010000000',
  ), 0xd0);
  return b;
})();

export interface RebuildSection { rva: number; vsz: number; raw: number; rsz: number }

/**
 * ClamAV's `cli_rebuildpe_align`: the sections of `buf` as a PE, or undefined when it refuses;
 * `align` (0 for none) rounds each section's address and sizes up first.
 */
export function rebuildPe(buf: Uint8Array, sections: readonly RebuildSection[], base: number, ep: number, align = 0): Uint8Array | undefined {
  const n = sections.length;
  const first = sections[0];
  if (!first) return undefined;
  let rawbase = alignUp(0x148 + 0x80 + 0x28 * n, 0x200);
  const ghost = first.rva > alignUp(rawbase, 0x1000) ? 1 : 0;
  if (ghost) rawbase = alignUp(0x148 + 0x80 + 0x28 * (n + 1), 0x200);
  if (n + ghost > 96) return undefined;
  let packed = 0;
  for (const s of sections) packed += alignUp(alignUp(s.rsz, align), 0x200);
  if (packed > 1024 * 1024 * 1024 || rawbase + packed > 1024 * 1024 * 1024) return undefined;
  const pe = new Uint8Array(rawbase + packed);
  pe.set(REBUILD_HEADERS, 0);
  let datasize = alignUp(rawbase, 0x1000);
  const h = 0xd0;
  pe[h + 6] = (n + ghost) & 0xff;
  pe[h + 7] = ((n + ghost) >>> 8) & 0xff;
  w32(pe, h + 0x28, ep);
  w32(pe, h + 0x34, base);
  w32(pe, h + 0x54, rawbase);
  let cur = 0x148 + 0x80;
  if (ghost) {
    pe.set([0x65, 0x6d, 0x70, 0x74, 0x79], cur); // "empty"
    w32(pe, cur + 8, first.rva - datasize);
    w32(pe, cur + 12, datasize);
    w32(pe, cur + 0x24, 0xffffffff);
    cur += 40;
    datasize += alignUp((first.rva - datasize) >>> 0, 0x1000);
  }
  sections.forEach((s, i) => {
    const name = `.clam${String(i + 1).padStart(2, '0')}`.slice(0, 7);
    for (let k = 0; k < name.length; k++) pe[cur + k] = name.charCodeAt(k);
    w32(pe, cur + 8, alignUp(s.vsz, align));
    w32(pe, cur + 12, alignUp(s.rva, align));
    w32(pe, cur + 16, alignUp(s.rsz, align));
    w32(pe, cur + 20, rawbase);
    w32(pe, cur + 0x24, 0xffffffff);
    pe.set(buf.subarray(s.raw, Math.min(s.raw + s.rsz, buf.length)), rawbase);
    cur += 40;
    rawbase += alignUp(alignUp(s.rsz, align), 0x200);
    datasize = (datasize + alignUp(alignUp(s.vsz, align), 0x1000)) >>> 0;
  });
  w32(pe, h + 0x50, datasize);
  return pe.subarray(0, rawbase);
}

/** FSG's bit reader: bytes MSB first with a sentinel bit, a new one fetched when its first bit is needed. */
class Bits {
  dl = 0x80;
  constructor(readonly src: Uint8Array, readonly size: number, public pos: number) {}
  bit(): number {
    let old = this.dl;
    this.dl = (this.dl << 1) & 0xff;
    if (!(old & 0x7f)) {
      if (this.pos >= this.size - 1) return -1;
      old = this.src[this.pos++]!;
      this.dl = ((old << 1) | 1) & 0xff;
    }
    return (old >>> 7) & 1;
  }
  gamma(): number {
    let v = 1, b: number;
    do {
      b = this.bit();
      if (b < 0) return -1;
      v = v * 2 + b;
      if (v > 0x7fffffff) return -1;
      b = this.bit();
      if (b < 0) return -1;
    } while (b);
    return v;
  }
}

/** ClamAV's `cli_unfsg`: decodes `src[0, ssize)` into `dst[0, dsize)`; false on damage. */
export function unfsg(src: Uint8Array, ssize: number, dst: Uint8Array, dsize: number): boolean {
  return unfsgAt(src, 0, ssize, dst, 0, dsize) !== undefined;
}

/**
 * `cli_unfsg` on `src[s0, s0 + ssize)` into `dst[d0, d0 + dsize)`: where source and output ended,
 * or undefined on damage.
 */
export function unfsgAt(whole: Uint8Array, s0: number, ssize: number, out: Uint8Array, d0: number, dsize: number): { src: number; dst: number } | undefined {
  const src = whole.subarray(s0);
  const dst = out.subarray(d0);
  ssize = Math.min(ssize, src.length);
  if (ssize <= 0 || dsize <= 0) return undefined;
  dst[0] = src[0]!;
  let d = 1;
  const br = new Bits(src, ssize, 1);
  let oldback = 0, lostbit = 1;
  for (;;) {
    let b = br.bit();
    if (b < 0) return undefined;
    if (!b) {
      if (d >= dsize || br.pos >= ssize) return undefined;
      dst[d++] = src[br.pos++]!;
      lostbit = 1;
      continue;
    }
    let back: number, len: number;
    b = br.bit();
    if (b < 0) return undefined;
    if (b) {
      b = br.bit();
      if (b < 0) return undefined;
      if (b) {
        lostbit = 1;
        len = 1;
        back = 0x10;
        while (back < 0x100) {
          b = br.bit();
          if (b < 0) return undefined;
          back = back * 2 + b;
        }
        back &= 0xff;
        if (!back) {
          if (d >= dsize) return undefined;
          dst[d++] = 0;
          continue;
        }
      } else {
        if (br.pos >= ssize) return undefined;
        const v = src[br.pos++]!;
        len = v & 1;
        back = v >>> 1;
        if (!back) break;
        len += 2;
        oldback = back;
        lostbit = 0;
      }
    } else {
      const g = br.gamma();
      if (g < 0) return undefined;
      len = g - 1 - lostbit;
      if (!len) {
        len = br.gamma();
        if (len < 0) return undefined;
        back = oldback;
      } else {
        if (br.pos >= ssize) return undefined;
        back = (src[br.pos++]! + (len - 1) * 256) >>> 0;
        len = br.gamma();
        if (len < 0) return undefined;
        if (back >= 0x7d00) len++;
        if (back >= 0x500) len++;
        if (back <= 0x7f) len += 2;
        oldback = back;
      }
      lostbit = 0;
    }
    if (!contained(0, dsize, d, len) || !contained(0, dsize, d - back, len)) return undefined;
    for (let i = 0; i < len; i++) dst[d + i] = dst[d - back + i]!;
    d += len;
  }
  return { src: s0 + br.pos, dst: d0 + d };
}

/** The FSG 2.0 branch of `cli_scanpe`; `i` is the virtual-only section's index. */
export function fsg200Step(bytes: Uint8Array, info: ScanpeInfo, i: number, ctx: UnpackContext): PackerOutcome {
  const { sections, imageBase, epbuff } = info;
  if (epbuff[0] !== 0x87 || epbuff[1] !== 0x25) return 'next';
  const s0 = sections[i]!, s1 = sections[i + 1]!;
  const ssize = s1.rsz, dsize = s0.vsz;
  const limited = sizeLimit(Math.max(dsize, ssize), ctx);
  if (limited) return limited;
  if (ssize <= 0x19 || dsize <= ssize) return 'stop';
  let edx = (u32(epbuff, 2) - imageBase) >>> 0;
  if (!contained(s1.rva, s1.rsz, edx, 4)) return 'next';
  if (s1.raw + ssize > bytes.length) return 'stop';
  const src = bytes.subarray(s1.raw, s1.raw + ssize);
  let at = edx - s1.rva;
  if (edx < s1.rva || !contained(0, ssize, at, 4)) return 'next';
  edx = (u32(src, at) - imageBase) >>> 0;
  if (!contained(s1.rva, s1.rsz, edx, 4)) return 'next';
  at = edx - s1.rva;
  if (!contained(0, ssize, at, 32)) return 'next';
  const edi = (u32(src, at) - imageBase) >>> 0;
  const esi = (u32(src, at + 4) - imageBase) >>> 0;
  const ebx = (u32(src, at + 16) - imageBase) >>> 0;
  if (edi !== s0.rva) return 'next';
  if (esi < s1.rva || esi - s1.rva >= s1.rsz) return 'next';
  if (!contained(s1.rva, s1.rsz, ebx, 16)) return 'next';
  const oep = (u32(src, ebx + 12 - s1.rva) - imageBase) >>> 0;
  const dst = new Uint8Array(dsize);
  const from = esi - s1.rva;
  if (!unfsg(src.subarray(from), ssize - from, dst, dsize)) return 'next';
  return { data: rebuildPe(dst, [{ rva: edi, vsz: dsize, raw: 0, rsz: dsize }], imageBase, oep) ?? dst };
}

/** The FSG 1.33 branch of `cli_scanpe`; `i` is the virtual-only section's index. */
export function fsg133Step(bytes: Uint8Array, info: ScanpeInfo, i: number, ctx: UnpackContext): PackerOutcome {
  const { sections, imageBase, epbuff, vep } = info;
  const esiRva = (u32(epbuff, 1) - imageBase) >>> 0;
  if (epbuff[0] !== 0xbe || esiRva >= info.min) return 'next';
  const s0 = sections[i]!, s1 = sections[i + 1]!;
  const ssize = s1.rsz, dsize = s0.vsz;
  let limited = sizeLimit(Math.max(dsize, ssize), ctx);
  if (limited) return limited;
  if (ssize <= 0x19 || dsize <= ssize) return 'stop';
  // The loader's table lies in the headers' padding.
  const fsize = bytes.length;
  let t = 0;
  if (esiRva < info.hdrSize) {
    if (esiRva >= fsize) return 'next';
    t = esiRva;
  } else return 'next';
  const gp = (s1.raw - t) >>> 0;
  limited = sizeLimit(gp, ctx);
  if (limited) return limited;
  if (t + gp > fsize) return 'stop';
  const at = (k: number): number => (t + k + 4 <= fsize ? u32(bytes, t + k) : 0);
  const edi = (at(4) - imageBase) >>> 0;
  const esi = (at(8) - imageBase) >>> 0;
  if (esi < s1.rva || esi - s1.rva >= s1.rsz) return 'next';
  if (edi !== s0.rva) return 'next';
  let count = 0;
  let k = 12;
  const end = (gp - 4) >>> 0;
  for (; k < end; k += 4) {
    if (t + k + 4 > fsize) return 'next';
    let rva = at(k);
    if (!rva) break;
    rva = (rva - (imageBase + 1)) >>> 0;
    count++;
    if (rva < s0.rva || rva - s0.rva >= s0.vsz) break;
  }
  if (k >= end || at(k)) return 'next';
  const rvas = [edi];
  for (let n = 1; n <= count; n++) rvas.push((at(8 + n * 4) - 1 - imageBase) >>> 0);
  const oep = (vep + 161 + 6 + (u32(epbuff, 163) | 0)) >>> 0;
  if (s1.raw + ssize > fsize) return 'stop';
  return unfsg133(bytes.subarray(s1.raw, s1.raw + ssize), esi - s1.rva, dsize, rvas, imageBase, oep);
}

/** ClamAV's `unfsg_133`: one stream per section from `start`, each after the previous one, then the rebuild. */
function unfsg133(src: Uint8Array, start: number, dsize: number, rvas: readonly number[], imageBase: number, oep: number): PackerOutcome {
  const ssize = src.length;
  const dst = new Uint8Array(dsize);
  const parts: RebuildSection[] = [];
  let ps = start, pd = 0;
  for (const rva of rvas) {
    const r = unfsgAt(src, ps, ssize - ps, dst, pd, dsize - pd);
    if (!r) return 'next';
    parts.push({ rva, vsz: 0, raw: pd, rsz: r.dst - pd });
    ps = r.src;
    pd = r.dst;
  }
  // Sorted by address (ClamAV's bubble sort: equal addresses keep their order), sizes from the gaps.
  for (let swapped = true; swapped;) {
    swapped = false;
    for (let n = 0; n + 1 < parts.length; n++) {
      if (parts[n]!.rva <= parts[n + 1]!.rva) continue;
      [parts[n], parts[n + 1]] = [parts[n + 1]!, parts[n]!];
      swapped = true;
    }
  }
  let lastsz = dsize;
  parts.forEach((p, n) => {
    const next = parts[n + 1];
    if (next) {
      p.vsz = (next.rva - p.rva) >>> 0;
      lastsz = (lastsz - p.vsz) >>> 0;
    } else p.vsz = lastsz;
  });
  return { data: rebuildPe(dst, parts, imageBase, oep) ?? dst };
}

/** The FSG 1.31 branch of `cli_scanpe`; `i` is the virtual-only section's index. */
export function fsg131Step(bytes: Uint8Array, info: ScanpeInfo, i: number, ctx: UnpackContext): PackerOutcome {
  const { sections, imageBase, epbuff, vep } = info;
  const s0 = sections[i]!, s1 = sections[i + 1]!;
  const tabRva = (u32(epbuff, 1) - imageBase) >>> 0;
  if (epbuff[0] !== 0xbb || tabRva >= info.min || epbuff[5] !== 0xbf || epbuff[10] !== 0xbe || vep < s1.rva || ((vep - s1.rva) >>> 0) <= ((s1.rva - 0xe0) >>> 0)) return 'next';
  const fsize = bytes.length;
  if (tabRva >= info.hdrSize || tabRva >= fsize) return 'next';
  const t = tabRva;
  const esi = (u32(epbuff, 11) - imageBase) >>> 0;
  const edi = (u32(epbuff, 6) - imageBase) >>> 0;
  let oldep = (vep - s1.rva) >>> 0;
  const ssize = s1.rsz, dsize = s0.vsz;
  if (esi < s1.rva || esi - s1.rva >= s1.raw) return 'next';
  if (edi !== s0.rva) return 'next';
  let limited = sizeLimit(Math.max(dsize, ssize), ctx);
  if (limited) return limited;
  if (ssize <= 0x19 || dsize <= ssize) return 'stop';
  const gp = (s1.raw - t) >>> 0;
  limited = sizeLimit(gp, ctx);
  if (limited) return limited;
  if (t + gp > fsize) return 'stop';
  const u16 = (k: number): number => (t + k + 2 <= fsize ? bytes[t + k]! | (bytes[t + k + 1]! << 8) : 1);
  let count = 0, k = 0;
  const end = (gp - 2) >>> 0;
  for (; k < end; k += 2) {
    const v = u16(k);
    if (v === 2 || v === 1) break;
    const rva = ((((v - 2) << 12) >>> 0) - imageBase) >>> 0;
    count++;
    if (rva < s0.rva || rva - s0.rva >= s0.vsz) break;
  }
  if (k >= ((gp - 10) >>> 0) || t + k + 10 > fsize || u32(bytes, t + k + 6) !== 2) return 'next';
  const rvas = [edi];
  for (let n = 0; n < count; n++) rvas.push(((((u16(2 * n) - 2) << 12) >>> 0) - imageBase) >>> 0);
  if (s1.raw + ssize > fsize) return 'stop';
  const src = bytes.subarray(s1.raw, s1.raw + ssize);
  const g = 0xda + (epbuff[16] === 0xe8 ? 6 : 0);
  const at = g + 2 + oldep;
  if (at + 4 > src.length) return 'next';
  oldep = (vep + g + 6 + (u32(src, at) | 0)) >>> 0;
  return unfsg133(src, esi - s1.rva, dsize, rvas, imageBase, oldep);
}
