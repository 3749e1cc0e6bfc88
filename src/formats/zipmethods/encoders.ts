/**
 * Encoders for the ZIP methods no installed tool writes, so that tests can build such entries.
 *
 * In: bytes to compress. Out: `implode` gives PKWARE imploded data (method 6; flag bit 1 for the
 * 8 KiB dictionary, bit 2 for the literal tree) with flat or mixed Shannon-Fano trees and a greedy
 * LZ77 parse; `deflateFixed` gives one fixed-Huffman deflate or Deflate64 block from explicit
 * tokens (Deflate64's 16-bit-extra length code 285 and distance codes 30/31 included), and
 * `deflate64Greedy` makes such tokens from bytes with the 64 KiB window. Info-ZIP's `unzip`
 * reads what `implode` writes, which is how the decoder is checked against an independent one.
 */

class BitWriter {
  private bytes: number[] = [];
  private acc = 0;
  private n = 0;
  /** `count` bits of `value`, least significant first. */
  bits(value: number, count: number): void {
    for (let i = 0; i < count; i++) {
      this.acc |= ((value >>> i) & 1) << this.n;
      if (++this.n === 8) { this.bytes.push(this.acc); this.acc = 0; this.n = 0; }
    }
  }
  /** A `count`-bit code, most significant bit first. */
  code(value: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) this.bits((value >>> i) & 1, 1);
  }
  done(): Uint8Array {
    if (this.n > 0) { this.bytes.push(this.acc); this.acc = 0; this.n = 0; }
    return Uint8Array.from(this.bytes);
  }
}

/** Runs of (count, length) → the tree description bytes: N, then N + 1 bytes of (count-1)<<4 | (length-1). */
function describe(runs: [number, number][]): { bytes: number[]; lens: number[] } {
  const out: number[] = [];
  const lens: number[] = [];
  for (const [count, len] of runs) {
    for (let left = count; left > 0; left -= 16) out.push(((Math.min(16, left) - 1) << 4) | (len - 1));
    for (let i = 0; i < count; i++) lens.push(len);
  }
  return { bytes: [out.length - 1, ...out], lens };
}

/** The APPNOTE's Shannon-Fano codes for bit lengths: longest first, counting up from zero. */
function shannonCodes(lens: number[]): number[] {
  const order = lens.map((_, i) => i).sort((a, b) => lens[a]! - lens[b]! || a - b);
  const codes = new Array<number>(lens.length).fill(0);
  let code = 0, inc = 0, last = 0;
  for (let i = order.length - 1; i >= 0; i--) {
    const s = order[i]!;
    code = (code + inc) & 0xffff;
    if (lens[s] !== last) { last = lens[s]!; inc = 1 << (16 - last); }
    codes[s] = code >>> (16 - last);
  }
  return codes;
}

export interface ImplodeOptions {
  /** 8 KiB dictionary (flag bit 1) instead of 4 KiB. */
  largeWindow?: boolean;
  /** Literals coded with a third tree (flag bit 2) instead of 8 raw bits. */
  literalTree?: boolean;
  /** `flat`: every code the same length; `mixed`: lengths 2, 6 and 7 in the length and distance trees. */
  shape?: 'flat' | 'mixed';
}

/** The general-purpose flags that go with these options. */
export function implodeFlags(o: ImplodeOptions): number {
  return (o.largeWindow ? 2 : 0) | (o.literalTree ? 4 : 0);
}

/** PKWARE implode of `data`. */
export function implode(data: Uint8Array, o: ImplodeOptions = {}): Uint8Array {
  const lit = describe([[256, 8]]);
  const small = o.shape === 'mixed' ? describe([[2, 2], [60, 7], [2, 6]]) : describe([[64, 6]]);
  const litCodes = shannonCodes(lit.lens);
  const smallCodes = shannonCodes(small.lens);
  const header = [...(o.literalTree ? lit.bytes : []), ...small.bytes, ...small.bytes];
  const minLen = o.literalTree ? 3 : 2;
  const maxLen = minLen + 63 + 255;
  const distBits = o.largeWindow ? 7 : 6;
  const window = o.largeWindow ? 8192 : 4096;
  const w = new BitWriter();
  const head = new Int32Array(1 << 16).fill(-1);
  const prev = new Int32Array(data.length).fill(-1);
  const hash = (i: number): number => ((data[i]! << 8) ^ (data[i + 1]! << 4) ^ data[i + 2]!) & 0xffff;
  const insert = (i: number): void => {
    if (i + 2 >= data.length) return;
    const h = hash(i);
    prev[i] = head[h]!;
    head[h] = i;
  };
  let i = 0;
  while (i < data.length) {
    let bestLen = 0, bestDist = 0;
    if (i + 2 < data.length) {
      let cand = head[hash(i)]!;
      for (let tries = 0; cand >= 0 && i - cand <= window && tries < 64; tries++, cand = prev[cand]!) {
        let l = 0;
        while (l < maxLen && i + l < data.length && data[cand + l] === data[i + l]) l++;
        if (l > bestLen) { bestLen = l; bestDist = i - cand; }
      }
    }
    if (bestLen >= minLen) {
      w.bits(0, 1);
      const d = bestDist - 1;
      w.bits(d & ((1 << distBits) - 1), distBits);
      const high = d >>> distBits;
      w.code(smallCodes[high]!, small.lens[high]!);
      const l = bestLen - minLen;
      const sym = Math.min(l, 63);
      w.code(smallCodes[sym]!, small.lens[sym]!);
      if (sym === 63) w.bits(l - 63, 8);
      for (let k = 0; k < bestLen; k++) insert(i + k);
      i += bestLen;
    } else {
      w.bits(1, 1);
      const b = data[i]!;
      if (o.literalTree) w.code(litCodes[b]!, 8);
      else w.bits(b, 8);
      insert(i);
      i++;
    }
  }
  const body = w.done();
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

export type DeflateToken = { lit: number } | { len: number; dist: number };

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577, 32769, 49153];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14];

function fixedLit(w: BitWriter, sym: number): void {
  if (sym < 144) w.code(0x30 + sym, 8);
  else if (sym < 256) w.code(0x190 + sym - 144, 9);
  else if (sym < 280) w.code(sym - 256, 7);
  else w.code(0xc0 + sym - 280, 8);
}

/** One final fixed-Huffman block holding `tokens` (deflate when `deflate64` is false: lengths ≤ 258, distances ≤ 32768). */
export function deflateFixed(tokens: DeflateToken[], deflate64: boolean): Uint8Array {
  const w = new BitWriter();
  w.bits(1, 1);
  w.bits(1, 2);
  for (const t of tokens) {
    if ('lit' in t) { fixedLit(w, t.lit); continue; }
    if (deflate64 && t.len > 258) {
      fixedLit(w, 285);
      w.bits(t.len - 3, 16);
    } else if (!deflate64 && t.len === 258) {
      fixedLit(w, 285);
    } else {
      let c = LEN_BASE.length - 1;
      while (LEN_BASE[c]! > t.len) c--;
      fixedLit(w, 257 + c);
      w.bits(t.len - LEN_BASE[c]!, LEN_EXTRA[c]!);
    }
    let d = DIST_BASE.length - 1;
    while (DIST_BASE[d]! > t.dist) d--;
    w.code(d, 5);
    w.bits(t.dist - DIST_BASE[d]!, DIST_EXTRA[d]!);
  }
  fixedLit(w, 256);
  return w.done();
}

/** Greedy Deflate64 tokens for `data`: matches up to 65538 bytes long and 65536 back. */
export function deflate64Greedy(data: Uint8Array): DeflateToken[] {
  const tokens: DeflateToken[] = [];
  const head = new Int32Array(1 << 16).fill(-1);
  const prev = new Int32Array(data.length).fill(-1);
  const hash = (i: number): number => ((data[i]! << 8) ^ (data[i + 1]! << 4) ^ data[i + 2]!) & 0xffff;
  const insert = (i: number): void => {
    if (i + 2 >= data.length) return;
    const h = hash(i);
    prev[i] = head[h]!;
    head[h] = i;
  };
  let i = 0;
  while (i < data.length) {
    let bestLen = 0, bestDist = 0;
    if (i + 2 < data.length) {
      let cand = head[hash(i)]!;
      for (let tries = 0; cand >= 0 && i - cand <= 65536 && tries < 32; tries++, cand = prev[cand]!) {
        let l = 0;
        while (l < 65538 && i + l < data.length && data[cand + l] === data[i + l]) l++;
        if (l > bestLen) { bestLen = l; bestDist = i - cand; }
      }
    }
    if (bestLen >= 3) {
      tokens.push({ len: bestLen, dist: bestDist });
      for (let k = 0; k < bestLen; k++) insert(i + k);
      i += bestLen;
    } else {
      tokens.push({ lit: data[i]! });
      insert(i);
      i++;
    }
  }
  return tokens;
}

/**
 * A non-recursive overlapping-entries bomb (Fifield's construction): `files` local headers one
 * after another, then one deflate stream of `kernelZeros` zero bytes; each entry's data is a
 * stored deflate block quoting the next local header, then the next entry's data, so every entry
 * inflates to the headers after it plus the whole kernel. CRCs are left 0.
 */
export function overlappingBomb(files: number, kernelZeros: number, kernel: Uint8Array): Uint8Array {
  const names = Array.from({ length: files }, (_, i) => `f${String(i).padStart(4, '0')}`);
  const lhSize = (i: number): number => 30 + names[i]!.length;
  // Sizes from the last entry back: data(i) = quote(5) + LH(i+1) + data(i+1).
  const csize = new Array<number>(files).fill(0);
  const usize = new Array<number>(files).fill(0);
  csize[files - 1] = kernel.length;
  usize[files - 1] = kernelZeros;
  for (let i = files - 2; i >= 0; i--) {
    csize[i] = 5 + lhSize(i + 1) + csize[i + 1]!;
    usize[i] = lhSize(i + 1) + usize[i + 1]!;
  }
  const parts: number[] = [];
  const u16 = (v: number): void => { parts.push(v & 0xff, (v >>> 8) & 0xff); };
  const u32 = (v: number): void => { u16(v & 0xffff); u16(v >>> 16); };
  const offsets: number[] = [];
  for (let i = 0; i < files; i++) {
    offsets.push(parts.length);
    u32(0x04034b50); u16(20); u16(0); u16(8); u16(0); u16(0); u32(0); u32(csize[i]!); u32(usize[i]!); u16(names[i]!.length); u16(0);
    for (const c of names[i]!) parts.push(c.charCodeAt(0));
    if (i < files - 1) { const n = lhSize(i + 1); parts.push(0); u16(n); u16(~n & 0xffff); }
  }
  for (const b of kernel) parts.push(b);
  const cd = parts.length;
  for (let i = 0; i < files; i++) {
    u32(0x02014b50); u16(20); u16(20); u16(0); u16(8); u16(0); u16(0); u32(0); u32(csize[i]!); u32(usize[i]!);
    u16(names[i]!.length); u16(0); u16(0); u16(0); u16(0); u32(0); u32(offsets[i]!);
    for (const c of names[i]!) parts.push(c.charCodeAt(0));
  }
  const cdSize = parts.length - cd;
  u32(0x06054b50); u16(0); u16(0); u16(files); u16(files); u32(cdSize); u32(cd); u16(0);
  return Uint8Array.from(parts);
}
