/**
 * Builders of sample cabinets, CHM files and RAR archives, for tests and differential runs where
 * no tool makes them (LZX cabinets, CHM, RAR).
 *
 * In: files (name, bytes) and layout options. Out: the container's bytes, written from the format
 * descriptions: CAB with stored, MSZIP (zlib deflate with the previous 32 KiB as dictionary, after
 * "CK"), LZX or Quantum folders; CHM with section-0 files and an LZX-compressed section 1 with ControlData,
 * ResetTable and SpanInfo; RAR 4 and RAR 5 with stored, "compressed" (bytes copied, method set)
 * and encrypted entries.
 *
 * The LZX encoder is deliberately plain: one block per 32 KiB frame, greedy matches found by a
 * hash chain, flat Huffman codes sent as deltas through a flat pretree; verbatim, aligned-offset
 * and uncompressed blocks; no E8 translation (the header bit is 0).
 */
import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../../core/crc32.js';
import { EXTRA_BITS, LENGTH_BASE, LENGTH_EXTRA, Model, POSITION_BASE } from './quantum.js';

const FRAME = 32768;

// ---------------------------------------------------------------- LZX

class BitWriter {
  private readonly out: number[] = [];
  private cur = 0;
  private n = 0;
  put(v: number, bits: number): void {
    for (let i = bits - 1; i >= 0; i--) {
      this.cur = (this.cur << 1) | ((v >>> i) & 1);
      if (++this.n === 16) { this.out.push(this.cur & 0xff, this.cur >>> 8); this.cur = 0; this.n = 0; }
    }
  }
  /** Bits used in the current 16-bit word. */
  get pending(): number { return this.n; }
  align(): void { if (this.n) this.put(0, 16 - this.n); }
  rawBytes(b: Uint8Array): void { for (const x of b) this.out.push(x); }
  bytes(): Uint8Array { return Uint8Array.from(this.out); }
}

/** Lengths of a complete "flat" prefix code over the symbols marked used (at least two). */
function flatLengths(used: boolean[], total: number): Uint8Array {
  const lens = new Uint8Array(total);
  const syms: number[] = [];
  for (let s = 0; s < total; s++) if (used[s]) syms.push(s);
  if (syms.length === 1) syms.push(syms[0] === 0 ? 1 : 0);
  if (syms.length === 0) return lens;
  syms.sort((a, b) => a - b);
  const n = syms.length;
  let k = 0;
  while ((1 << k) < n) k++;
  const short = (1 << k) - n;
  syms.forEach((s, i) => { lens[s] = i < short ? k - 1 : k; });
  return lens;
}

/** Canonical codes for lengths (shorter first, then by symbol). */
function canonical(lens: Uint8Array): Uint32Array {
  const codes = new Uint32Array(lens.length);
  let code = 0;
  for (let l = 1; l <= 16; l++) {
    for (let s = 0; s < lens.length; s++) if (lens[s] === l) codes[s] = code++;
    code <<= 1;
  }
  return codes;
}

const POSITION_SLOTS = [30, 32, 34, 36, 38, 42, 50, 66, 98, 162, 290];
const EXTRA = new Uint8Array(290);
const BASE = new Uint32Array(290);
for (let i = 0; i < 290; i++) {
  EXTRA[i] = i < 4 ? 0 : i < 36 ? (i >> 1) - 1 : 17;
  if (i > 0) BASE[i] = BASE[i - 1]! + 2 ** EXTRA[i - 1]!;
}

export type LzxBlockType = 'verbatim' | 'aligned' | 'uncompressed';

export interface LzxOptions {
  windowBits: number;
  /** Block type per frame (cycled). */
  blocks?: LzxBlockType[];
  /** Reset the encoder state every this many frames (CHM); 0 for never. */
  resetFrames?: number;
}

/** LZX-compresses `data`; returns the compressed bytes of each 32 KiB frame. */
export function lzxCompress(data: Uint8Array, opts: LzxOptions): Uint8Array[] {
  const windowSize = 2 ** opts.windowBits;
  const numOffsets = POSITION_SLOTS[opts.windowBits - 15]! << 3;
  const blocks = opts.blocks ?? ['verbatim'];
  const reset = opts.resetFrames ?? 0;
  const mainLens = new Uint8Array(256 + 290 * 8);
  const lengthLens = new Uint8Array(250);
  const head = new Int32Array(1 << 15).fill(-1);
  const prev = new Int32Array(data.length);
  const frames: Uint8Array[] = [];
  let resetStart = 0;
  const nFrames = Math.max(1, Math.ceil(data.length / FRAME));
  for (let f = 0; f < nFrames; f++) {
    const w = new BitWriter();
    const start = f * FRAME, end = Math.min(data.length, start + FRAME);
    if (f === 0 || (reset && f % reset === 0)) {
      mainLens.fill(0);
      lengthLens.fill(0);
      resetStart = start;
      head.fill(-1);
      w.put(0, 1); // no E8 translation
    }
    const type = blocks[f % blocks.length]!;
    if (type === 'uncompressed') {
      w.put(3, 3);
      w.put((end - start) >>> 8, 16);
      w.put((end - start) & 0xff, 8);
      if (w.pending === 0) w.put(0, 16); else w.align();
      w.rawBytes(new Uint8Array([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]));
      w.rawBytes(data.subarray(start, end));
      if ((end - start) & 1) w.rawBytes(new Uint8Array([0]));
      frames.push(w.bytes());
      // Keep the match finder's chains over this frame too.
      for (let i = start; i + 2 < end; i++) {
        const h = ((data[i]! << 7) ^ (data[i + 1]! << 4) ^ data[i + 2]!) & 0x7fff;
        prev[i] = head[h]!;
        head[h] = i;
      }
      continue;
    }
    // Greedy matching within the current reset span and the window.
    const tok: Array<[number, number]> = [];
    for (let i = start; i < end;) {
      let bestLen = 0, bestOff = 0;
      if (i + 2 < end) {
        const h = ((data[i]! << 7) ^ (data[i + 1]! << 4) ^ data[i + 2]!) & 0x7fff;
        let cand = head[h]!;
        for (let depth = 0; cand >= resetStart && depth < 24; depth++, cand = prev[cand]!) {
          const off = i - cand;
          if (off > windowSize - 3) break;
          let l = 0;
          const max = Math.min(257, end - i);
          while (l < max && data[cand + l] === data[i + l]) l++;
          if (l > bestLen) { bestLen = l; bestOff = off; }
        }
      }
      const step = bestLen >= 3 ? bestLen : 1;
      for (let k = 0; k < step; k++) {
        const j = i + k;
        if (j + 2 < data.length) {
          const h = ((data[j]! << 7) ^ (data[j + 1]! << 4) ^ data[j + 2]!) & 0x7fff;
          prev[j] = head[h]!;
          head[h] = j;
        }
      }
      if (bestLen >= 3) tok.push([bestLen, bestOff]);
      else tok.push([0, data[i]!]);
      i += step;
    }
    const aligned = type === 'aligned';
    const usedMain: boolean[] = new Array<boolean>(256 + numOffsets).fill(false);
    for (let s = 0; s < 256; s++) usedMain[s] = true;
    const usedLen: boolean[] = new Array<boolean>(249).fill(false);
    const enc = tok.map(([len, v]) => {
      if (len === 0) return { main: v, footer: -1, slot: 0, extra: 0, rest: 0 };
      const formatted = v + 2;
      let slot = 3;
      while (slot + 1 < 290 && BASE[slot + 1]! <= formatted) slot++;
      const hdr = Math.min(len - 2, 7);
      const main = 256 + slot * 8 + hdr;
      usedMain[main] = true;
      const footer = hdr === 7 ? len - 9 : -1;
      if (footer >= 0) usedLen[footer] = true;
      return { main, footer, slot, extra: EXTRA[slot]!, rest: formatted - BASE[slot]! };
    });
    const newMain = flatLengths(usedMain, 256 + numOffsets);
    const anyLen = usedLen.some(Boolean);
    const newLen = anyLen ? flatLengths(usedLen, 249) : new Uint8Array(249);
    w.put(aligned ? 2 : 1, 3);
    w.put((end - start) >>> 8, 16);
    w.put((end - start) & 0xff, 8);
    if (aligned) for (let i = 0; i < 8; i++) w.put(3, 3);
    const pretreeLens = flatLengths(new Array<boolean>(20).fill(true), 20);
    const pretreeCodes = canonical(pretreeLens);
    const sendLens = (old: Uint8Array, next: Uint8Array, first: number, last: number): void => {
      for (let i = 0; i < 20; i++) w.put(pretreeLens[i]!, 4);
      for (let x = first; x < last; x++) {
        const z = (old[x]! - next[x - first]! + 17) % 17;
        w.put(pretreeCodes[z]!, pretreeLens[z]!);
        old[x] = next[x - first]!;
      }
    };
    sendLens(mainLens, newMain.subarray(0, 256), 0, 256);
    sendLens(mainLens, newMain.subarray(256), 256, 256 + numOffsets);
    sendLens(lengthLens, newLen, 0, 249);
    const mainCodes = canonical(newMain);
    const lenCodes = canonical(newLen);
    for (const e of enc) {
      w.put(mainCodes[e.main]!, newMain[e.main]!);
      if (e.main < 256) continue;
      if (e.footer >= 0) w.put(lenCodes[e.footer]!, newLen[e.footer]!);
      if (e.extra >= 3 && aligned) {
        if (e.extra > 3) w.put(e.rest >>> 3, e.extra - 3);
        w.put(e.rest & 7, 3);
      } else if (e.extra) {
        w.put(e.rest, e.extra);
      }
    }
    w.align();
    frames.push(w.bytes());
  }
  return frames;
}

// ---------------------------------------------------------------- CAB

export type CabCompression = 'none' | 'mszip' | 'lzx' | 'quantum';

export interface CabSampleFile {
  name: string;
  data: Uint8Array;
  /** Folder index (default 0). */
  folder?: number;
}

export interface CabSampleOptions {
  /** One entry per folder (default one MSZIP folder). */
  folders?: Array<{ comp: CabCompression; windowBits?: number; blocks?: LzxBlockType[] }>;
  /** Reserved bytes in the header, each folder entry and each data block. */
  reserve?: { header: number; folder: number; data: number };
  /** Store data block checksums (default true). */
  checksums?: boolean;
}

function cabChecksum(b: Uint8Array, seed: number): number {
  let c = seed >>> 0;
  let i = 0;
  for (; i + 4 <= b.length; i += 4) c = (c ^ (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24))) >>> 0;
  let ul = 0;
  const r = b.length & 3;
  if (r === 3) ul = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
  else if (r === 2) ul = (b[i]! << 8) | b[i + 1]!;
  else if (r === 1) ul = b[i]!;
  return (c ^ ul) >>> 0;
}

const le16 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff];
const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const le64 = (v: number): number[] => [...le32(v >>> 0), ...le32(Math.floor(v / 0x100000000))];

/** A cabinet holding `files`. */
export function buildCab(files: CabSampleFile[], opts: CabSampleOptions = {}): Uint8Array {
  const folders = opts.folders ?? [{ comp: 'mszip' as const }];
  const resv = opts.reserve;
  const checksums = opts.checksums ?? true;
  // Each folder's uncompressed stream and the files' offsets in it.
  const streams: number[][] = folders.map(() => []);
  const offsets = files.map((f) => {
    const s = streams[f.folder ?? 0]!;
    const off = s.length;
    for (const x of f.data) s.push(x);
    return off;
  });
  const blocksOf = (fi: number): Array<{ data: Uint8Array; ulen: number }> => {
    const fol = folders[fi]!;
    const s = Uint8Array.from(streams[fi]!);
    const out: Array<{ data: Uint8Array; ulen: number }> = [];
    if (fol.comp === 'quantum') {
      const frames = quantumCompress(s, fol.windowBits ?? 16);
      frames.forEach((data, i) => out.push({ data, ulen: Math.min(FRAME, s.length - i * FRAME) }));
      return out;
    }
    if (fol.comp === 'lzx') {
      const frames = lzxCompress(s, { windowBits: fol.windowBits ?? 16, ...(fol.blocks ? { blocks: fol.blocks } : {}) });
      frames.forEach((data, i) => out.push({ data, ulen: Math.min(FRAME, s.length - i * FRAME) }));
      if (s.length === 0) out[0]!.ulen = 0;
      return out;
    }
    for (let at = 0; at < s.length || out.length === 0; at += FRAME) {
      const chunk = s.subarray(at, Math.min(s.length, at + FRAME));
      if (fol.comp === 'none') out.push({ data: chunk, ulen: chunk.length });
      else {
        const dict = s.subarray(Math.max(0, at - FRAME), at);
        const z = deflateRawSync(chunk, dict.length ? { dictionary: dict } : {});
        out.push({ data: Uint8Array.from(Buffer.concat([Buffer.from('CK'), z])), ulen: chunk.length });
      }
      if (s.length === 0) break;
    }
    return out;
  };
  const allBlocks = folders.map((_, i) => blocksOf(i));
  const names = files.map((f) => Buffer.from(f.name, 'utf8'));
  let headerSize = 36 + (resv ? 4 + resv.header : 0);
  const folderSize = 8 + (resv ? resv.folder : 0);
  const filesStart = headerSize + folders.length * folderSize;
  let dataStart = filesStart;
  names.forEach((n) => { dataStart += 16 + n.length + 1; });
  const blockHdr = 8 + (resv ? resv.data : 0);
  const folderOffsets: number[] = [];
  let at = dataStart;
  for (const bl of allBlocks) {
    folderOffsets.push(at);
    for (const b of bl) at += blockHdr + b.data.length;
  }
  const total = at;
  const out: number[] = [];
  out.push(0x4d, 0x53, 0x43, 0x46, 0, 0, 0, 0, ...le32(total), 0, 0, 0, 0, ...le32(filesStart), 0, 0, 0, 0, 3, 1,
    ...le16(folders.length), ...le16(files.length), ...le16(resv ? 4 : 0), ...le16(0x1234), ...le16(0));
  if (resv) {
    out.push(...le16(resv.header), resv.folder, resv.data);
    for (let i = 0; i < resv.header; i++) out.push(0xaa);
  }
  headerSize = out.length;
  folders.forEach((f, i) => {
    const ct = f.comp === 'none' ? 0 : f.comp === 'mszip' ? 1 : (f.comp === 'quantum' ? 2 : 3) | ((f.windowBits ?? 16) << 8);
    out.push(...le32(folderOffsets[i]!), ...le16(allBlocks[i]!.length), ...le16(ct));
    for (let k = 0; k < (resv ? resv.folder : 0); k++) out.push(0xbb);
  });
  files.forEach((f, i) => {
    out.push(...le32(f.data.length), ...le32(offsets[i]!), ...le16(f.folder ?? 0), ...le16(0x5b7d), ...le16(0x4a21), ...le16(0x20), ...names[i]!, 0);
  });
  for (const bl of allBlocks) {
    for (const b of bl) {
      const sizes = [...le16(b.data.length), ...le16(b.ulen)];
      const sum = checksums ? cabChecksum(Uint8Array.from(sizes), cabChecksum(b.data, 0)) : 0;
      out.push(...le32(sum), ...sizes);
      for (let k = 0; k < (resv ? resv.data : 0); k++) out.push(0xcc);
      for (const x of b.data) out.push(x);
    }
  }
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------- CHM

export interface ChmSampleFile {
  name: string;
  data: Uint8Array;
  /** 0 stored, 1 LZX-compressed (default 1). */
  section?: 0 | 1;
}

export interface ChmSampleOptions {
  windowBits?: number;
  /** Reset interval in frames (default 2). */
  resetFrames?: number;
  blocks?: LzxBlockType[];
  /** Directory chunk size (default 4096). */
  chunkSize?: number;
  /** ITSF version (default 3). */
  version?: number;
  /** Leave the ResetTable out (the length then comes from SpanInfo). */
  noResetTable?: boolean;
  /** Directory order of the files (indexes into `files`; default their order, which is also the layout order). */
  listOrder?: number[];
}

const encint = (v: number): number[] => {
  const out = [v & 0x7f];
  v = Math.floor(v / 128);
  while (v > 0) { out.unshift((v & 0x7f) | 0x80); v = Math.floor(v / 128); }
  return out;
};

export const CHM_CONTENT = '::DataSpace/Storage/MSCompressed/Content';
export const CHM_CONTROL = '::DataSpace/Storage/MSCompressed/ControlData';
export const CHM_SPANINFO = '::DataSpace/Storage/MSCompressed/SpanInfo';
export const CHM_RTABLE = '::DataSpace/Storage/MSCompressed/Transform/{7FC28940-9D31-11D0-9B27-00A0C91E9C7C}/InstanceData/ResetTable';

/** A CHM holding `files` (section 1 files LZX-compressed). */
export function buildChm(files: ChmSampleFile[], opts: ChmSampleOptions = {}): Uint8Array {
  const windowBits = opts.windowBits ?? 16;
  const resetFrames = opts.resetFrames ?? 2;
  const chunkSize = opts.chunkSize ?? 4096;
  const version = opts.version ?? 3;
  // Section 1: the files one after another, padded to whole reset intervals.
  const s1: number[] = [];
  const s1Off = files.map((f) => {
    if ((f.section ?? 1) !== 1) return -1;
    const o = s1.length;
    for (const x of f.data) s1.push(x);
    return o;
  });
  const uncompLen = s1.length;
  const span = resetFrames * FRAME;
  const padded = Math.max(span, Math.ceil(uncompLen / span) * span);
  const s1Bytes = new Uint8Array(padded);
  s1Bytes.set(Uint8Array.from(s1));
  const frames = lzxCompress(s1Bytes, { windowBits, resetFrames, ...(opts.blocks ? { blocks: opts.blocks } : {}) });
  const frameOffsets: number[] = [];
  let clen = 0;
  for (const fr of frames) { frameOffsets.push(clen); clen += fr.length; }
  const content = new Uint8Array(clen);
  frames.forEach((fr, i) => content.set(fr, frameOffsets[i]!));
  const control = Uint8Array.from([...le32(6), 0x4c, 0x5a, 0x58, 0x43, ...le32(2), ...le32(resetFrames), ...le32(2 ** windowBits / FRAME), ...le32(resetFrames), ...le32(0)]);
  const rtable = Uint8Array.from([...le32(2), ...le32(frames.length), ...le32(8), ...le32(0x28), ...le64(uncompLen), ...le64(clen), ...le32(FRAME), ...le32(0),
    ...frameOffsets.flatMap((o) => le64(o))]);
  const spaninfo = Uint8Array.from(le64(uncompLen));
  // Section 0: stored files and the system files.
  const s0: number[] = [];
  const place = (d: Uint8Array): number => { const o = s0.length; for (const x of d) s0.push(x); return o; };
  const entries: Array<{ name: string; section: number; offset: number; length: number }> = [];
  const fileEntries = files.map((f, i) => (f.section ?? 1) === 0
    ? { name: f.name, section: 0, offset: place(f.data), length: f.data.length }
    : { name: f.name, section: 1, offset: s1Off[i]!, length: f.data.length });
  for (const i of opts.listOrder ?? files.map((_, k) => k)) entries.push(fileEntries[i]!);
  entries.push({ name: CHM_CONTENT, section: 0, offset: place(content), length: content.length });
  entries.push({ name: CHM_CONTROL, section: 0, offset: place(control), length: control.length });
  entries.push({ name: CHM_SPANINFO, section: 0, offset: place(spaninfo), length: spaninfo.length });
  if (!opts.noResetTable) entries.push({ name: CHM_RTABLE, section: 0, offset: place(rtable), length: rtable.length });
  // Directory chunks.
  const chunks: number[][] = [];
  let cur: number[] = [];
  let count = 0;
  const flush = (): void => {
    const c = new Array<number>(chunkSize).fill(0);
    const head = [0x50, 0x4d, 0x47, 0x4c, ...le32(chunkSize - 0x14 - cur.length), ...le32(0), ...le32(0xffffffff), ...le32(0xffffffff)];
    head.forEach((x, i) => { c[i] = x; });
    cur.forEach((x, i) => { c[0x14 + i] = x; });
    c[chunkSize - 2] = count & 0xff;
    c[chunkSize - 1] = count >>> 8;
    chunks.push(c);
    cur = [];
    count = 0;
  };
  for (const e of entries) {
    const nb = Buffer.from(e.name, 'utf8');
    const rec = [...encint(nb.length), ...nb, ...encint(e.section), ...encint(e.offset), ...encint(e.length)];
    if (0x14 + cur.length + rec.length + 2 > chunkSize) flush();
    cur.push(...rec);
    count++;
  }
  flush();
  const hs1 = 0x60 + 0x18;
  const dirStart = hs1 + 0x54;
  const sec0 = dirStart + chunks.length * chunkSize;
  const fileLen = sec0 + s0.length;
  const guid = Buffer.from('10fd017caa7bd0119e0c00a0c922e6ec11fd017caa7bd0119e0c00a0c922e6ec', 'hex');
  const out: number[] = [0x49, 0x54, 0x53, 0x46, ...le32(version), ...le32(0x60), ...le32(1), ...le32(0x12345678), ...le32(0x409), ...guid];
  out.push(...le64(0x60), ...le64(0x18), ...le64(hs1), ...le64(0x54 + chunks.length * chunkSize), ...le64(sec0));
  out.push(...le32(0x1fe), ...le32(0), ...le64(fileLen), ...le32(0), ...le32(0));
  out.push(0x49, 0x54, 0x53, 0x50, ...le32(1), ...le32(0x54), ...le32(0x0a), ...le32(chunkSize), ...le32(2), ...le32(1), ...le32(0xffffffff),
    ...le32(0), ...le32(chunks.length - 1), ...le32(0xffffffff), ...le32(chunks.length), ...le32(0x409), ...new Array<number>(16).fill(0x11),
    ...le32(0x54), ...le32(0xffffffff), ...le32(0xffffffff), ...le32(0xffffffff));
  for (const c of chunks) for (const x of c) out.push(x);
  return Uint8Array.from(Buffer.concat([Uint8Array.from(out), Uint8Array.from(s0)]));
}

// ---------------------------------------------------------------- RAR

export interface RarSampleFile {
  name: string;
  data: Uint8Array;
  /** 'stored' (default), 'compressed' (bytes copied but a compressing method declared) or 'encrypted' (stored, flagged encrypted). */
  kind?: 'stored' | 'compressed' | 'encrypted' | 'dir';
}

export interface RarSampleOptions {
  /** Headers encrypted (RAR 4 main-header flag 0x80, RAR 5 archive encryption header). */
  encryptedHeaders?: boolean;
}

/** A RAR 4 archive. */
export function buildRar4(files: RarSampleFile[], opts: RarSampleOptions = {}): Uint8Array {
  const out: number[] = [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x00];
  const block = (type: number, flags: number, body: number[]): void => {
    const h = [type, ...le16(flags), ...le16(7 + body.length), ...body];
    const c = crc32(Uint8Array.from(h)) & 0xffff;
    out.push(...le16(c), ...h);
  };
  block(0x73, opts.encryptedHeaders ? 0x80 : 0, [0, 0, 0, 0, 0, 0]);
  if (opts.encryptedHeaders) {
    for (let i = 0; i < 64; i++) out.push((i * 37) & 0xff);
    return Uint8Array.from(out);
  }
  for (const f of files) {
    const kind = f.kind ?? 'stored';
    const name = Buffer.from(f.name.replace(/\//g, '\\'), 'utf8');
    const data = kind === 'dir' ? new Uint8Array(0) : f.data;
    let flags = 0x8000;
    if (kind === 'encrypted') flags |= 0x0004;
    if (kind === 'dir') flags |= 0x00e0;
    const body = [...le32(data.length), ...le32(data.length), 3, ...le32(crc32(data)), ...le32(0x5b7d4a21), 29,
      kind === 'compressed' ? 0x33 : 0x30, ...le16(name.length), ...le32(kind === 'dir' ? 0x41ed : 0x81a4), ...name];
    block(0x74, flags, body);
    for (const x of data) out.push(x);
  }
  block(0x7b, 0x4000, []);
  return Uint8Array.from(out);
}

const vint = (v: number): number[] => {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return out;
};

/** A RAR 5 archive. */
export function buildRar5(files: RarSampleFile[], opts: RarSampleOptions = {}): Uint8Array {
  const out: number[] = [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x01, 0x00];
  const block = (fields: number[]): void => {
    const h = [...vint(fields.length), ...fields];
    out.push(...le32(crc32(Uint8Array.from(h))), ...h);
  };
  if (opts.encryptedHeaders) {
    block([4, 0, 0, 0, 15, ...new Array<number>(16).fill(7), ...new Array<number>(12).fill(9)]);
    for (let i = 0; i < 64; i++) out.push((i * 53) & 0xff);
    return Uint8Array.from(out);
  }
  block([1, 0, 0]);
  for (const f of files) {
    const kind = f.kind ?? 'stored';
    const data = kind === 'dir' ? new Uint8Array(0) : f.data;
    const name = Buffer.from(f.name, 'utf8');
    const extra = kind === 'encrypted'
      ? (() => { const rec = [1, 0, 0, 15, ...new Array<number>(16).fill(3), ...new Array<number>(16).fill(4)]; return [...vint(rec.length), ...rec]; })()
      : [];
    const flags = 2 | (extra.length ? 1 : 0);
    const fileFlags = kind === 'dir' ? 1 : 4;
    const comp = kind === 'compressed' ? (3 << 7) : 0;
    const fields = [2, ...vint(flags), ...(extra.length ? vint(extra.length) : []), ...vint(data.length), ...vint(fileFlags), ...vint(data.length),
      ...vint(0x20), ...(fileFlags & 4 ? le32(crc32(data)) : []), ...vint(comp), ...vint(1), ...vint(name.length), ...name, ...extra];
    block(fields);
    for (const x of data) out.push(x);
  }
  block([5, 0, 0]);
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------- Quantum

/**
 * Quantum-compresses `data` with the decoder's adaptive models (a classic 16-bit arithmetic coder
 * with underflow bits); returns each 32 KiB frame's bytes (the raw offset and length bits placed
 * where the decoder, 16 bits ahead, reads them; four zero bytes of padding before the block end).
 */
export function quantumCompress(data: Uint8Array, windowBits: number): Uint8Array[] {
  const windowSize = 2 ** windowBits;
  const i2 = windowBits * 2;
  const lit = [new Model(0, 64), new Model(64, 64), new Model(128, 64), new Model(192, 64)];
  const m4 = new Model(0, i2 > 24 ? 24 : i2), m5 = new Model(0, i2 > 36 ? 36 : i2), m6 = new Model(0, i2), m6len = new Model(0, 27), m7 = new Model(0, 7);
  const frames: Uint8Array[] = [];
  const head = new Int32Array(1 << 15).fill(-1);
  const prev = new Int32Array(data.length);
  const slotOf = (v: number, entries: number): number => {
    let s = 0;
    while (s + 1 < entries && POSITION_BASE[s + 1]! <= v) s++;
    return s;
  };
  for (let start = 0; start < data.length || frames.length === 0; start += FRAME) {
    const end = Math.min(data.length, start + FRAME);
    const arith: number[] = [];
    const raw: Array<{ at: number; value: number; bits: number }> = [];
    let L = 0, H = 0xffff, under = 0, shifts = 0;
    const emit = (bit: number): void => {
      arith.push(bit);
      for (; under > 0; under--) arith.push(bit ^ 1);
    };
    const encode = (m: Model, value: number): void => {
      let k = 0;
      while (m.sym[k] !== value) k++;
      const range = H - L + 1;
      const total = m.cum[0]!;
      H = (L + Math.floor((m.cum[k]! * range) / total) - 1) & 0xffff;
      L = (L + Math.floor((m.cum[k + 1]! * range) / total)) & 0xffff;
      for (let j = k + 1; j > 0;) { --j; m.cum[j] = m.cum[j]! + 8; }
      if (m.cum[0]! > 3800) m.update();
      for (;;) {
        if ((L & 0x8000) === (H & 0x8000)) emit(H >>> 15);
        else if ((L & 0x4000) && !(H & 0x4000)) { under++; L &= 0x3fff; H |= 0x4000; }
        else break;
        L = (L << 1) & 0xffff;
        H = ((H << 1) | 1) & 0xffff;
        shifts++;
      }
    };
    const rawBits = (value: number, bits: number): void => { if (bits) raw.push({ at: 16 + shifts, value, bits }); };
    for (let i = start; i < end;) {
      let bestLen = 0, bestOff = 0;
      if (i + 2 < end) {
        const h = ((data[i]! << 7) ^ (data[i + 1]! << 4) ^ data[i + 2]!) & 0x7fff;
        for (let cand = head[h]!, depth = 0; cand >= 0 && depth < 16; depth++, cand = prev[cand]!) {
          const off = i - cand;
          if (off > windowSize || off > POSITION_BASE[i2 - 1]! + 1) break;
          let l = 0;
          const max = Math.min(259, end - i);
          while (l < max && data[cand + l] === data[i + l]) l++;
          if (l > bestLen) { bestLen = l; bestOff = off; }
        }
      }
      // Lengths 3 and 4 use their own models, whose slots are fewer.
      if ((bestLen === 3 && bestOff - 1 >= POSITION_BASE[m4.entries - 1]! + 2 ** EXTRA_BITS[m4.entries - 1]!) ||
          (bestLen === 4 && bestOff - 1 >= POSITION_BASE[m5.entries - 1]! + 2 ** EXTRA_BITS[m5.entries - 1]!)) bestLen = 0;
      const step = bestLen >= 3 ? bestLen : 1;
      for (let k = 0; k < step; k++) {
        const j = i + k;
        if (j + 2 < data.length) {
          const h = ((data[j]! << 7) ^ (data[j + 1]! << 4) ^ data[j + 2]!) & 0x7fff;
          prev[j] = head[h]!;
          head[h] = j;
        }
      }
      if (bestLen >= 3) {
        const v = bestOff - 1;
        if (bestLen <= 4) {
          const m = bestLen === 3 ? m4 : m5;
          encode(m7, bestLen === 3 ? 4 : 5);
          const s = slotOf(v, m.entries);
          encode(m, s);
          rawBits(v - POSITION_BASE[s]!, EXTRA_BITS[s]!);
        } else {
          encode(m7, 6);
          const lv = bestLen - 5;
          let ls = 0;
          while (ls + 1 < 27 && LENGTH_BASE[ls + 1]! <= lv) ls++;
          encode(m6len, ls);
          rawBits(lv - LENGTH_BASE[ls]!, LENGTH_EXTRA[ls]!);
          const s = slotOf(v, m6.entries);
          encode(m6, s);
          rawBits(v - POSITION_BASE[s]!, EXTRA_BITS[s]!);
        }
        i += bestLen;
      } else {
        const b = data[i]!;
        encode(m7, b >> 6);
        encode(lit[b >> 6]!, b);
        i++;
      }
    }
    // Flush: two bits that place any continuation inside the final interval.
    under++;
    emit(L & 0x4000 ? 1 : 0);
    const last = raw.length ? raw[raw.length - 1]!.at : 0;
    while (arith.length < last + 32) arith.push(0);
    const bitsOut: number[] = [];
    let r = 0;
    for (let k = 0; k < arith.length; k++) {
      for (; r < raw.length && raw[r]!.at === k; r++) {
        const { value, bits } = raw[r]!;
        for (let b = bits - 1; b >= 0; b--) bitsOut.push((value >>> b) & 1);
      }
      bitsOut.push(arith[k]!);
    }
    while (bitsOut.length % 8) bitsOut.push(0);
    const bytes = new Uint8Array(bitsOut.length / 8 + 4);
    for (let k = 0; k < bitsOut.length; k++) bytes[k >> 3]! |= bitsOut[k]! << (7 - (k & 7));
    frames.push(bytes);
    if (data.length === 0) break;
  }
  return frames;
}
