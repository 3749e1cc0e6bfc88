/**
 * A MEW 11-style packer for tests (its aPLib-style coder): sections → a PE32 ClamAV 1.4 unpacks.
 *
 * In: the original sections (placed from RVA 0x1000, 4 KiB apart), the original entry point and
 * where the loader sits (file offset 0x154 or 0x158, inside the section table as MEW puts it).
 * Out: a PE with the headers at 0x40, a virtual-only section the size of the image and a packed
 * section holding the block the loader's `mov esi` points at (entry point, first destination,
 * one stream per section each followed by the next destination, 0 at the end) and the entry
 * point's `jmp` to the loader. Not a working loader.
 *
 * Why: no such packer is installed where samples are made; tests build them from code.
 */
import { fsgEncode } from './fsg-pack.js';
import type { UpxSection } from './upx-pack.js';

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

/**
 * MEW's LZMA form: one aPLib-style stream (standing for the LZMA decoder's code), then the LZMA
 * blocks ClamAV decodes. `special`: one block holding the whole image, its `call`/`jmp` operands
 * stored the way ClamAV's fix-up turns back (the loader procedure's byte 8 is `push eax`);
 * otherwise one block per section (lc 4, lp 0, pb 2; some with an end marker) and a zero size.
 * The probability table lies in the packed section's virtual tail.
 */
export function mewPackLzma(sections: readonly UpxSection[], entry = 0x1000, loaderAt: 0x154 | 0x158 = 0x154, special = false, imageBase = 0x400000): Uint8Array {
  const offsets: number[] = [];
  let span = 0;
  for (const s of sections) {
    offsets.push(span);
    span += alignUp(Math.max(s.vsize ?? 0, s.data.length, 1), 0x1000);
  }
  const layout = standardLayout(4, 2);
  const block: number[] = [0, 0, 0, 0];
  const dword = (v: number): void => { block.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24); };
  dword(imageBase + entry);
  dword(imageBase + 0x1000);
  const code = new Uint8Array(48).map((_, i) => (i * 37 + 11) & 0xff);
  block.push(...fsgEncode(code, false));
  dword(0);
  // The packed section's RVA is known once the block's length is: fill the table address in afterwards.
  const fixAt = block.length;
  if (special) dword(0);
  const probsAt = block.length;
  dword(0);
  const put = (data: Uint8Array, rva: number, end: boolean): void => {
    const enc = lzmaEncode(data, layout, end);
    dword(data.length);
    dword(imageBase + rva);
    dword(enc.length);
    block.push(0x5d);
    for (const x of enc) block.push(x);
  };
  if (special) {
    const image = new Uint8Array(Math.max(span, 5));
    sections.forEach((s, i) => image.set(s.data, offsets[i]!));
    const n = image.length;
    for (let i = 0; i < n - 5; i++) {
      const c = image[i];
      if (c !== 0xe8 && c !== 0xe9) continue;
      const r = (image[i + 1]! | (image[i + 2]! << 8) | (image[i + 3]! << 16) | (image[i + 4]! << 24)) + i + 1;
      image[i + 1] = (r >>> 24) & 0xff; image[i + 2] = (r >>> 16) & 0xff; image[i + 3] = (r >>> 8) & 0xff; image[i + 4] = r & 0xff;
      i += 4;
    }
    block[fixAt] = n & 0xff; block[fixAt + 1] = (n >>> 8) & 0xff; block[fixAt + 2] = (n >>> 16) & 0xff; block[fixAt + 3] = n >>> 24;
    put(image, 0x1000, false);
  } else {
    sections.forEach((s, i) => put(s.data.length ? s.data : new Uint8Array(1), 0x1000 + offsets[i]!, i % 2 === 1));
    dword(0);
  }
  for (let k = 0; k < 16; k++) block.push(0);
  const s0V = alignUp(Math.max(span, 0x1000), 0x1000);
  const s1Rva = 0x1000 + s0V;
  const probs = imageBase + s1Rva + alignUp(alignUp(0x10 + block.length + 16, 16) + 0x40, 0x200);
  block[probsAt] = probs & 0xff; block[probsAt + 1] = (probs >>> 8) & 0xff; block[probsAt + 2] = (probs >>> 16) & 0xff; block[probsAt + 3] = probs >>> 24;
  return mewPe(block, span, entry, loaderAt, imageBase, { special, extra: 0x7000 });
}

export function mewPack(sections: readonly UpxSection[], entry = 0x1000, loaderAt: 0x154 | 0x158 = 0x154, imageBase = 0x400000): Uint8Array {
  const offsets: number[] = [];
  let span = 0;
  for (const s of sections) {
    offsets.push(span);
    span += alignUp(Math.max(s.vsize ?? 0, s.data.length, 1), 0x1000);
  }
  const block: number[] = [0, 0, 0, 0];
  const dword = (v: number): void => { block.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24); };
  dword(imageBase + entry);
  dword(imageBase + 0x1000);
  sections.forEach((s, i) => {
    block.push(...fsgEncode(s.data.length ? s.data : new Uint8Array(1), false));
    dword(i + 1 < sections.length ? imageBase + 0x1000 + offsets[i + 1]! : 0);
  });
  return mewPe(block, span, entry, loaderAt, imageBase);
}

/** The PE around a MEW block: the virtual-only section (`span` bytes), the packed one, the loader's first instructions. */
function mewPe(block: number[], span: number, entry: number, loaderAt: number, imageBase: number, lzma?: { special: boolean; extra: number }): Uint8Array {
  const off = 0x10;
  // With LZMA, the procedure the loader calls (16 bytes, its byte 8 telling the fix-up form) follows the block.
  const procAt = alignUp(off + block.length, 16);
  const epAt = alignUp(off + block.length + (lzma ? 16 : 0), 16);
  const s1Raw = alignUp(epAt + 0x40, 0x200);
  const s0V = alignUp(Math.max(span, 0x1000), 0x1000);
  const s1Rva = 0x1000 + s0V;
  const s1V = alignUp(s1Raw + (lzma?.extra ?? 0), 0x1000);
  const ep = s1Rva + epAt;
  const out = new Uint8Array(0x200 + s1Raw);
  const o = new DataView(out.buffer);
  out.set([0x4d, 0x5a], 0);
  const pe = 0x40;
  o.setUint32(0x3c, pe, true);
  out.set([0x50, 0x45, 0, 0], pe);
  o.setUint16(pe + 4, 0x14c, true);
  o.setUint16(pe + 6, 2, true);
  o.setUint16(pe + 20, 0xe0, true);
  o.setUint16(pe + 22, 0x010f, true);
  const opt = pe + 24;
  o.setUint16(opt, 0x10b, true);
  o.setUint32(opt + 16, ep, true);
  o.setUint32(opt + 28, imageBase, true);
  o.setUint32(opt + 32, 0x1000, true);
  o.setUint32(opt + 36, 0x200, true);
  o.setUint16(opt + 40, 4, true);
  o.setUint16(opt + 48, 4, true);
  o.setUint32(opt + 56, s1Rva + s1V, true);
  o.setUint32(opt + 60, 0x200, true);
  o.setUint16(opt + 68, 2, true);
  o.setUint32(opt + 92, 16, true);
  const table: [string, number, number, number, number][] = [['MEW', 0x1000, s0V, 0, 0], ['.mew', s1Rva, s1V, 0x200, s1Raw]];
  table.forEach(([name, rva, vsize, raw, size], i) => {
    const h = pe + 0xf8 + 0x28 * i;
    for (let k = 0; k < name.length; k++) out[h + k] = name.charCodeAt(k);
    o.setUint32(h + 8, vsize, true);
    o.setUint32(h + 12, rva, true);
    o.setUint32(h + 16, size, true);
    o.setUint32(h + 20, raw, true);
    o.setUint32(h + 36, 0xe0000060, true);
  });
  // The loader's first instruction, over fields of the first section header ClamAV does not read.
  out[loaderAt] = 0xbe;
  o.setUint32(loaderAt + 1, imageBase + s1Rva + off, true);
  out.set(block, 0x200 + off);
  if (lzma) {
    // `call` to the LZMA procedure, 0x7b bytes into the loader.
    out[loaderAt + 0x7b] = 0xe8;
    o.setUint32(loaderAt + 0x7c, (s1Rva + procAt - loaderAt - 0x80) >>> 0, true);
    out.fill(0x90, 0x200 + procAt, 0x200 + procAt + 16);
    out[0x200 + procAt + 8] = lzma.special ? 0x50 : 0x53;
  }
  out[0x200 + epAt] = 0xe9;
  o.setUint32(0x200 + epAt + 1, (loaderAt - ep - 5) >>> 0, true);
  return out;
}

/**
 * Where an LZMA-style coder keeps each probability (indices into one table), so one encoder serves
 * the standard layout (MEW's) and Upack's. Trees are addressed as `base + node`, nodes from 1.
 */
export interface LzmaLayout {
  /** Literal context bits (the previous byte's top `lc` bits select the literal table). */
  lc: number;
  /** Position-state mask (pb bits); 0 when the coder has no position states. */
  pbMask: number;
  isMatch(state: number, ps: number): number;
  isRep(state: number): number;
  isRepG0(state: number): number;
  isRepG1(state: number): number;
  isRepG2(state: number): number;
  isRep0Long(state: number, ps: number): number;
  /** Length coders: choice, choice 2, and the bases of the low (per position state), mid and high trees. */
  len: LenLayout;
  repLen: LenLayout;
  posSlot(lenState: number): number;
  specPos(slot: number, distBase: number): number;
  align: number;
  literal(prev: number): number;
  /** Number of probabilities. */
  size: number;
}

export interface LenLayout {
  choice: number;
  choice2: number;
  low(ps: number): number;
  mid(ps: number): number;
  high: number;
}

/** The standard LZMA layout (lc, lp 0, pb), as MEW's decoder reads it. */
export function standardLayout(lc: number, pb: number): LzmaLayout {
  const len = (b: number): LenLayout => ({ choice: b, choice2: b + 1, low: (ps) => b + 2 + ps * 8, mid: (ps) => b + 130 + ps * 8, high: b + 258 });
  return {
    lc, pbMask: (1 << pb) - 1,
    isMatch: (s, ps) => s * 16 + ps, isRep: (s) => 192 + s, isRepG0: (s) => 204 + s, isRepG1: (s) => 216 + s, isRepG2: (s) => 228 + s,
    isRep0Long: (s, ps) => 240 + s * 16 + ps,
    len: len(818), repLen: len(1332),
    posSlot: (l) => 432 + l * 64, specPos: (slot, base) => 688 + base - slot - 1, align: 802,
    literal: (prev) => 1846 + 0x300 * (prev >> (8 - lc)),
    size: 1846 + (0x300 << lc),
  };
}

/** A range coder (LZMA's), bytes out. */
class RangeEncoder {
  readonly out: number[] = [];
  private low = 0;
  private range = 0xffffffff;
  private cache = 0;
  private cacheSize = 1;
  constructor(readonly probs: Uint16Array) {}
  private shiftLow(): void {
    if (this.low < 0xff000000 || this.low >= 0x100000000) {
      const carry = this.low >= 0x100000000 ? 1 : 0;
      let temp = this.cache;
      do {
        this.out.push((temp + carry) & 0xff);
        temp = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = Math.floor(this.low / 0x1000000) & 0xff;
    }
    this.cacheSize++;
    this.low = (this.low % 0x1000000) * 256;
  }
  bit(i: number, b: number): void {
    const p = this.probs[i]!;
    const bound = (this.range >>> 11) * p;
    if (!b) {
      this.range = bound;
      this.probs[i] = p + ((2048 - p) >> 5);
    } else {
      this.low += bound;
      this.range = (this.range - bound) >>> 0;
      this.probs[i] = p - (p >> 5);
    }
    while (this.range < 0x1000000) {
      this.range = (this.range << 8) >>> 0;
      this.shiftLow();
    }
  }
  direct(v: number, n: number): void {
    for (let i = n - 1; i >= 0; i--) {
      this.range >>>= 1;
      if ((v >>> i) & 1) this.low += this.range;
      while (this.range < 0x1000000) {
        this.range = (this.range << 8) >>> 0;
        this.shiftLow();
      }
    }
  }
  tree(base: number, v: number, n: number): void {
    let m = 1;
    for (let i = n - 1; i >= 0; i--) {
      const b = (v >>> i) & 1;
      this.bit(base + m, b);
      m = 2 * m + b;
    }
  }
  reverse(base: number, v: number, n: number): void {
    let m = 1;
    for (let i = 0; i < n; i++) {
      const b = (v >>> i) & 1;
      this.bit(base + m, b);
      m = 2 * m + b;
    }
  }
  finish(): Uint8Array {
    for (let i = 0; i < 5; i++) this.shiftLow();
    return Uint8Array.from(this.out);
  }
}

/**
 * Encodes `data` for a decoder using `layout`: greedy matches (hash chains), the four repeated
 * distances, short repeats, matched literals; an end marker when asked. The output starts with the
 * range coder's leading zero byte.
 */
export function lzmaEncode(data: Uint8Array, layout: LzmaLayout, endMarker = false): Uint8Array {
  const probs = new Uint16Array(layout.size).fill(0x400);
  const rc = new RangeEncoder(probs);
  const HASH = 1 << 14;
  const head = new Int32Array(HASH).fill(-1);
  const chain = new Int32Array(data.length).fill(-1);
  const hash = (p: number): number => ((data[p]! << 8) ^ (data[p + 1]! << 4) ^ data[p + 2]! ^ (data[p + 2]! << 11)) & (HASH - 1);
  const insert = (p: number): void => {
    if (p + 2 >= data.length) return;
    const h = hash(p);
    chain[p] = head[h]!;
    head[h] = p;
  };
  const reps = [0, 0, 0, 0];
  let state = 0;
  const encodeLen = (l: LenLayout, len: number, ps: number): void => {
    const s = len - 2;
    if (s < 8) {
      rc.bit(l.choice, 0);
      rc.tree(l.low(ps), s, 3);
    } else if (s < 16) {
      rc.bit(l.choice, 1);
      rc.bit(l.choice2, 0);
      rc.tree(l.mid(ps), s - 8, 3);
    } else {
      rc.bit(l.choice, 1);
      rc.bit(l.choice2, 1);
      rc.tree(l.high, s - 16, 8);
    }
  };
  const encodeDist = (dist: number, len: number): void => {
    const lps = Math.min(len - 2, 3);
    let slot: number;
    if (dist < 4) slot = dist;
    else {
      const lg = 31 - Math.clz32(dist);
      slot = 2 * lg + ((dist >>> (lg - 1)) & 1);
    }
    rc.tree(layout.posSlot(lps), slot, 6);
    if (slot >= 4) {
      const nd = (slot >>> 1) - 1;
      const base = ((2 | (slot & 1)) << nd) >>> 0;
      const rem = (dist - base) >>> 0;
      if (slot < 14) rc.reverse(layout.specPos(slot, base), rem, nd);
      else {
        rc.direct(rem >>> 4, nd - 4);
        rc.reverse(layout.align, rem & 15, 4);
      }
    }
  };
  const matchLen = (a: number, b: number, max: number): number => {
    let n = 0;
    while (n < max && data[a + n] === data[b + n]) n++;
    return n;
  };
  let pos = 0;
  while (pos < data.length) {
    const ps = pos & layout.pbMask;
    const max = Math.min(273, data.length - pos);
    // Longest repeated-distance match, then the longest new one.
    let repLen = 0, repIdx = 0;
    for (let r = 0; r < 4; r++) {
      const from = pos - reps[r]! - 1;
      if (from < 0) continue;
      const n = matchLen(from, pos, max);
      if (n > repLen) { repLen = n; repIdx = r; }
    }
    let best = 0, bestDist = 0;
    if (max >= 3) {
      let c = head[hash(pos)]!;
      for (let k = 0; k < 32 && c >= 0; k++, c = chain[c]!) {
        const n = matchLen(c, pos, max);
        if (n > best) { best = n; bestDist = pos - c - 1; }
      }
    }
    if (best < 3 || (bestDist >= 0x10000 && best < 5)) best = 0;
    let advance: number;
    if (repLen >= 2 && repLen + 1 >= best) {
      rc.bit(layout.isMatch(state, ps), 1);
      rc.bit(layout.isRep(state), 1);
      if (repIdx === 0) {
        rc.bit(layout.isRepG0(state), 0);
        rc.bit(layout.isRep0Long(state, ps), 1);
      } else {
        rc.bit(layout.isRepG0(state), 1);
        const d = reps[repIdx]!;
        if (repIdx === 1) rc.bit(layout.isRepG1(state), 0);
        else {
          rc.bit(layout.isRepG1(state), 1);
          rc.bit(layout.isRepG2(state), repIdx === 3 ? 1 : 0);
          if (repIdx === 3) reps[3] = reps[2]!;
          reps[2] = reps[1]!;
        }
        reps[1] = reps[0]!;
        reps[0] = d;
      }
      encodeLen(layout.repLen, repLen, ps);
      state = state < 7 ? 8 : 11;
      advance = repLen;
    } else if (best) {
      rc.bit(layout.isMatch(state, ps), 1);
      rc.bit(layout.isRep(state), 0);
      encodeLen(layout.len, best, ps);
      encodeDist(bestDist, best);
      reps[3] = reps[2]!; reps[2] = reps[1]!; reps[1] = reps[0]!; reps[0] = bestDist;
      state = state < 7 ? 7 : 10;
      advance = best;
    } else if (pos > reps[0]! && data[pos] === data[pos - reps[0]! - 1] && pos % 7 === 3) {
      // A short repeat now and then (one byte at the last distance).
      rc.bit(layout.isMatch(state, ps), 1);
      rc.bit(layout.isRep(state), 1);
      rc.bit(layout.isRepG0(state), 0);
      rc.bit(layout.isRep0Long(state, ps), 0);
      state = state < 7 ? 9 : 11;
      advance = 1;
    } else {
      rc.bit(layout.isMatch(state, ps), 0);
      const base = layout.literal(pos ? data[pos - 1]! : 0);
      const byte = data[pos]!;
      let m = 1;
      let matched = state >= 7;
      const mb = matched ? data[pos - reps[0]! - 1]! : 0;
      for (let i = 7; i >= 0; i--) {
        const b = (byte >> i) & 1;
        if (matched) {
          const x = (mb >> i) & 1;
          rc.bit(base + 0x100 + (x << 8) + m, b);
          matched = x === b;
        } else rc.bit(base + m, b);
        m = 2 * m + b;
      }
      state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
      advance = 1;
    }
    for (let k = 0; k < advance; k++) insert(pos + k);
    pos += advance;
  }
  if (endMarker) {
    const ps = pos & layout.pbMask;
    rc.bit(layout.isMatch(state, ps), 1);
    rc.bit(layout.isRep(state), 0);
    encodeLen(layout.len, 2, ps);
    encodeDist(0xffffffff, 2);
  }
  return rc.finish();
}
