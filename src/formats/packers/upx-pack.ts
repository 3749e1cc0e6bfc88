/**
 * A UPX-style packer for tests: an image's sections → a packed Win32 PE that ClamAV 1.4 unpacks.
 *
 * In: the original sections (data and optional virtual size) and the packing options. Out: the
 * packed PE: UPX0 (virtual only, the size of the image), UPX1 (the NRV stream, then a loader stub
 * at the entry point) and, optionally, a section with raw data after them (as UPX leaves
 * resources). The stream decodes to the image from its first section, then a UPX-style import
 * list, then the original PE header and section table, which ClamAV's rebuild looks for.
 *
 * The stub is not a working loader: it carries only the bytes ClamAV's detection reads — `pusha;
 * mov esi, <UPX1 + skew>` at the entry, 13 bytes of the NRV decoder's loop at entry + 0x69 (or
 * + 0x71), and `lea edi, [esi + <imports>]` at the method's distance from the entry — the rest
 * is NOPs. Options leave some of them out to reach ClamAV's other paths: no decoder bytes (each
 * decoder tried in turn), the import pointer found by a search (`lea edi, [esi + x]; mov eax,
 * [edi]` after entry + 0x80), no pointer (the header found by scanning backwards), no header at
 * all (ClamAV forges one).
 *
 * Why: no packer is installed where samples are made; this builds them from code.
 */
import { nrvEncode } from './nrv-encode.js';
import type { NrvMethod } from './nrv.js';

export interface UpxSection {
  name?: string;
  data: Uint8Array;
  /** Virtual size (default: the data's length). */
  vsize?: number;
}

export interface UpxPackOptions {
  method: NrvMethod;
  /** How ClamAV finds the original header: the stub's pointer at the method's distance, a searched pointer, a backward scan, none. */
  header?: 'magic' | 'scan' | 'backscan' | 'none';
  /** Junk bytes before the stream in UPX1, pointed past by the stub's `mov esi`. */
  skew?: number;
  /** Put the decoder's bytes in the stub (default true); where: entry + 0x69 or + 0x71. */
  signature?: false | 0x69 | 0x71;
  /** Import entries in the decoded import list (each: a DLL and one function). */
  imports?: number;
  /** Raw data of a third section after UPX1. */
  extra?: Uint8Array;
  /** ImageBase of both headers (default 0x400000). */
  imageBase?: number;
  /**
   * An LZMA stub instead of an NRV one: `compress` makes a raw LZMA stream (lc 3, lp 0, pb 2) of
   * the image, `form` chooses which of ClamAV's two stub patterns the entry carries. Only skews
   * 0 and 0x15 are recognised with LZMA.
   */
  lzma?: { compress: (data: Uint8Array) => Uint8Array; form: 1 | 2 };
}

const PATTERNS: Record<NrvMethod, number[]> = {
  '2b': [0x11, 0xdb, 0x11, 0xc9, 0x01, 0xdb, 0x75, 0x07, 0x8b, 0x1e, 0x83, 0xee, 0xfc],
  '2d': [0x83, 0xf0, 0xff, 0x74, 0x78, 0xd1, 0xf8, 0x89, 0xc5, 0xeb, 0x0b, 0x01, 0xdb],
  '2e': [0xeb, 0x52, 0x31, 0xc9, 0x83, 0xe8, 0x03, 0x72, 0x11, 0xc1, 0xe0, 0x08, 0x8a],
};
const MAGIC: Record<NrvMethod, number> = { '2b': 0x108, '2d': 0x11c, '2e': 0x128 };

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

class Buf {
  constructor(readonly b: Uint8Array) {}
  u16(o: number, v: number): void { this.b[o] = v & 0xff; this.b[o + 1] = (v >>> 8) & 0xff; }
  u32(o: number, v: number): void { this.u16(o, v & 0xffff); this.u16(o + 2, v >>> 16); }
  ascii(o: number, s: string): void { for (let i = 0; i < s.length; i++) this.b[o + i] = s.charCodeAt(i); }
}

/** A PE header (from `PE\0\0`, 0xf8 bytes) and section table; `sections` are [name, rva, vsize, rawPtr, rawSize, chr]. */
function peHeader(sections: [string, number, number, number, number, number][], entry: number, imageSize: number, imageBase: number): Uint8Array {
  const h = new Uint8Array(0xf8 + 0x28 * sections.length);
  const w = new Buf(h);
  w.ascii(0, 'PE\0\0');
  w.u16(4, 0x14c);
  w.u16(6, sections.length);
  w.u32(8, 0x5f5e1000);
  w.u16(20, 0xe0);
  w.u16(22, 0x010f);
  const o = 24;
  w.u16(o, 0x10b);
  w.u32(o + 16, entry);
  w.u32(o + 20, 0x1000);
  w.u32(o + 28, imageBase);
  w.u32(o + 32, 0x1000);
  w.u32(o + 36, 0x200);
  w.u16(o + 40, 4);
  w.u16(o + 48, 4);
  w.u32(o + 56, imageSize);
  w.u32(o + 60, 0x400);
  w.u16(o + 68, 2);
  w.u32(o + 72, 0x100000);
  w.u32(o + 76, 0x1000);
  w.u32(o + 80, 0x100000);
  w.u32(o + 84, 0x1000);
  w.u32(o + 92, 16);
  sections.forEach(([name, rva, vsize, ptr, size, chr], i) => {
    const s = 0xf8 + 0x28 * i;
    w.ascii(s, name.slice(0, 8));
    w.u32(s + 8, vsize);
    w.u32(s + 12, rva);
    w.u32(s + 16, size);
    w.u32(s + 20, ptr);
    w.u32(s + 36, chr);
  });
  return h;
}

/** The decoded stream: the image from RVA 0x1000, the import list, then the original header. */
export function upxImage(sections: readonly UpxSection[], importCount = 0, withHeader = true, imageBase = 0x400000): { image: Uint8Array; importsAt: number } {
  let rva = 0x1000, raw = 0x400;
  const table: [string, number, number, number, number, number][] = [];
  for (const [i, s] of sections.entries()) {
    const vsize = Math.max(s.vsize ?? s.data.length, s.data.length, 1);
    const size = alignUp(s.data.length, 0x200);
    table.push([s.name ?? `.sec${i}`, rva, vsize, size ? raw : 0, size, 0xe0000020]);
    raw += size;
    rva += alignUp(vsize, 0x1000);
  }
  const importsAt = rva - 0x1000;
  const imports: number[] = [];
  for (let k = 0; k < importCount; k++) {
    imports.push(0x10 + k, 0, 0, 0, 0, 0x20, 0, 0, 1, ...Array.from(`Func${k}`, (c) => c.charCodeAt(0)), 0, 0);
  }
  imports.push(0, 0, 0, 0);
  const header = withHeader ? peHeader(table, table[0]?.[1] ?? 0x1000, rva, imageBase) : new Uint8Array(0);
  const image = new Uint8Array(importsAt + imports.length + header.length);
  for (const [i, s] of sections.entries()) image.set(s.data, table[i]![1] - 0x1000);
  image.set(imports, importsAt);
  image.set(header, importsAt + imports.length);
  return { image, importsAt };
}

/** Packs the sections into a UPX-style PE32. */
export function upxPack(sections: readonly UpxSection[], opts: UpxPackOptions): Uint8Array {
  const mode = opts.header ?? 'magic';
  const imageBase = opts.imageBase ?? 0x400000;
  const { image, importsAt } = upxImage(sections, opts.imports ?? 0, mode !== 'none', imageBase);
  const lz = opts.lzma;
  const stream = lz ? Uint8Array.from([0x5d, 0x00, ...lz.compress(image)]) : nrvEncode(opts.method, image);
  const skew = opts.skew ?? 0;
  const stubAt = alignUp(skew + stream.length, 16);
  const stub = new Uint8Array(lz && mode === 'magic' ? 0xb40 : 0x140).fill(0x90);
  const upx0Size = alignUp(image.length + 0x1000, 0x1000);
  const upx1Rva = 0x1000 + upx0Size;
  stub[0] = 0x60;
  stub[1] = 0xbe;
  new Buf(stub).u32(2, imageBase + upx1Rva + skew);
  const sigAt = opts.signature === undefined ? 0x69 : opts.signature;
  if (lz?.form === 2) {
    new Buf(stub).u32(0x21, image.length);
    stub.set([0x56, 0x83, 0xc3, 0x04, 0x53, 0x50, 0xc7, 0x03, 0x03, 0x00, 0x02, 0x00, 0x90, 0x90, 0x90, 0x90, 0x90, 0x55, 0x57, 0x56], 0x2f);
  } else if (lz) {
    new Buf(stub).u32(0x2b, image.length);
    stub.set([0x56, 0x83, 0xc3, 0x04, 0x53, 0x50, 0xc7, 0x03], 0x39);
    new Buf(stub).u32(0x41, 0x20003);
    stub.set([0x90, 0x90, 0x90, 0x55, 0x57, 0x56, 0x53, 0x83], 0x45);
  } else if (sigAt !== false) stub.set(PATTERNS[opts.method], sigAt);
  if (mode === 'magic') {
    const m = lz ? 0xb16 : MAGIC[opts.method];
    stub[m - 2] = 0x8d;
    stub[m - 1] = 0xbe;
    new Buf(stub).u32(m, importsAt);
  } else if (mode === 'scan') {
    stub.set([0x8d, 0xbe, 0, 0, 0, 0, 0x8b, 0x07], 0xa0);
    new Buf(stub).u32(0xa2, importsAt);
  }
  const upx1Len = stubAt + stub.length;
  const upx1Raw = alignUp(upx1Len, 0x200);
  const extra = opts.extra ?? new Uint8Array(0);
  const extraRaw = alignUp(extra.length, 0x200);
  const upx1V = alignUp(upx1Raw, 0x1000);
  const table: [string, number, number, number, number, number][] = [
    ['UPX0', 0x1000, upx0Size, 0x400, 0, 0xe0000080],
    ['UPX1', upx1Rva, upx1V, 0x400, upx1Raw, 0xe0000040],
  ];
  if (extra.length) table.push(['.rsrc', upx1Rva + upx1V, alignUp(extra.length, 0x1000), 0x400 + upx1Raw, extraRaw, 0xc0000040]);
  const last = table[table.length - 1]!;
  const header = peHeader(table, upx1Rva + stubAt, last[1] + last[2], imageBase);
  const out = new Uint8Array(0x400 + upx1Raw + extraRaw);
  const w = new Buf(out);
  w.ascii(0, 'MZ');
  w.u16(2, 0x90);
  w.u32(0x3c, 0x80);
  out.set(header, 0x80);
  for (let k = 0; k < skew; k++) out[0x400 + k] = (k * 37 + 11) & 0xff;
  out.set(stream, 0x400 + skew);
  out.set(stub, 0x400 + stubAt);
  out.set(extra, 0x400 + upx1Raw);
  return out;
}
