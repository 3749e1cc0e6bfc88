/**
 * RAR 5 decompression (compression version 0, "RAR 5.0"): the LZ method used by RAR 5 archives for
 * methods 1..5 (fastest..best all share one bit stream format).
 *
 * In: one entry's packed data, its declared unpacked size, whether it continues the previous
 * entry's state (solid), the dictionary size from its compression information, and a bound on the
 * bytes kept. Out: the entry's bytes (at most `maxOut`; decoding goes on to the declared size past
 * that bound so that a solid successor still finds its dictionary) and whether the stream decoded
 * cleanly; on damage, what was decoded before it and an error.
 *
 * Format: the stream is a run of byte-aligned blocks. A block header is a flags byte (bits 0..2:
 * valid bits in the block's last byte minus one; bits 3..4: bytes of the size field minus one;
 * 0x40: last block of the entry; 0x80: Huffman tables follow), a check byte (0x5A xor the flags and
 * the size bytes) and the block size, little-endian. Tables: 20 four-bit code lengths for the
 * length alphabet (15 then 0 means 15, 15 then n means n+2 zeros), then the lengths of the four
 * alphabets (306 main symbols, 64 distance slots, 16 low-distance codes, 44 repeat-length slots)
 * coded with it (16/17 repeat the previous length 3+3 bits / 11+7 bits times, 18/19 zeros). Codes
 * are canonical Huffman read most significant bit first. Main symbols: < 256 a literal; 256 a
 * filter; 257 the last match again; 258..261 a match at one of the four last distances with a
 * length from the repeat-length table; 262.. a length slot then a distance slot (distances over
 * 0x100, 0x2000, 0x40000 add one to the length each). Filters (DELTA with 1..32 channels, E8,
 * E8E9, ARM) transform a range of the entry's output after it is decoded; their positions are
 * relative to the entry. In a solid run, the window, the last distances and length and the tables
 * carry over from entry to entry; filters never do.
 *
 * Damage: a bad block check byte, unreadable tables, a zero distance, or data that ends first stop
 * decoding (what was decoded is returned, not ok, and a solid successor is refused); a symbol may
 * end past its block's last bit (UnRAR and libarchive test only where symbols start). A filter that
 * cannot apply (unknown type, longer than 4 MiB, overlapping the previous one) is dropped and
 * decoding goes on. Speed: about 80 MB/s on executables once the JIT has warmed up.
 *
 * Memory: the window is a ring of a power of two bytes holding min(dictionary size, bytes of the
 * solid run so far), at least 256 KiB and at most 1 GiB: a header may declare a dictionary up to
 * 4 GiB (version 0) but no valid distance reaches before the start of the run, so a smaller ring
 * loses nothing. It is sized for the entry's declared size (up to 16 MiB of it) and doubles,
 * keeping its content, while the decoded data goes beyond it. The output buffer also grows with
 * the bytes decoded (never from the declared size alone), up to `maxOut`. Data whose distances
 * reach before the run reads whatever the ring holds (UnRAR reads its window there too).
 * Compression version 1 (RAR 7.0: 80 distance slots, dictionaries beyond 4 GiB) is not handled
 * here: the archive reader does not pass it (the UnRAR of ClamAV 1.4 refuses it too).
 *
 * Why: ClamAV extracts RAR entries with UnRAR and scans them; vigil decodes them itself.
 */

const NC = 306;
const DC = 64;
const LDC = 16;
const RC = 44;
const BC = 20;
const TABLE_SIZE = NC + DC + LDC + RC;
const MIN_WINDOW = 1 << 18;
const MAX_WINDOW = 1 << 30;
const INITIAL_WINDOW_SHARE = 1 << 24;
/** Input padding: the decoder peeks ahead of the bits it uses without checking the input's end. */
const PAD = 64;
const MAX_FILTER_LENGTH = 0x400000;
const MAX_FILTERS = 1 << 20;

export interface Rar5Result {
  data: Uint8Array;
  ok: boolean;
  error?: string;
}

export interface Rar5Unpacker {
  unpack(packed: Uint8Array, unpackedSize: number, solid: boolean, dictSize: number, maxOut: number): Rar5Result;
  /** Bytes of the window ring allocated so far. */
  windowSize(): number;
}

/** A canonical Huffman decoder (most significant bit first), with a direct table for short codes. */
class HuffTable {
  readonly decodeLen = new Uint32Array(16);
  readonly decodePos = new Uint32Array(16);
  readonly decodeNum: Uint16Array;
  readonly quickLen: Uint8Array;
  readonly quickNum: Uint16Array;
  constructor(readonly size: number, readonly quickBits: number) {
    this.decodeNum = new Uint16Array(size);
    this.quickLen = new Uint8Array(1 << quickBits);
    this.quickNum = new Uint16Array(1 << quickBits);
  }

  /** Builds the decoder from `size` code lengths at `lengths[from]`. Any lengths are accepted. */
  build(lengths: Uint8Array, from: number): void {
    const count = new Uint32Array(16);
    for (let i = 0; i < this.size; i++) count[lengths[from + i]! & 15]!++;
    count[0] = 0;
    const { decodeLen, decodePos, decodeNum, quickLen, quickNum, size, quickBits } = this;
    decodeNum.fill(0);
    decodePos[0] = 0;
    decodeLen[0] = 0;
    let upper = 0;
    for (let i = 1; i < 16; i++) {
      upper += count[i]!;
      const left = upper * 2 ** (16 - i);
      decodeLen[i] = Math.min(left, 0xffffffff);
      upper *= 2;
      decodePos[i] = decodePos[i - 1]! + count[i - 1]!;
    }
    const fill = new Uint32Array(16);
    fill.set(decodePos);
    for (let i = 0; i < size; i++) {
      const l = lengths[from + i]! & 15;
      if (l !== 0) decodeNum[fill[l]!++] = i;
    }
    const n = 1 << quickBits;
    let l = 1;
    for (let code = 0; code < n; code++) {
      const bits = code << (16 - quickBits);
      while (l < 15 && bits >= decodeLen[l]!) l++;
      quickLen[code] = l;
      const pos = decodePos[l]! + ((bits - decodeLen[l - 1]!) >>> (16 - l));
      quickNum[code] = pos < size ? decodeNum[pos]! : 0;
    }
  }
}

interface Filter {
  type: number;
  start: number;
  length: number;
  channels: number;
}

/** Undoes the filters on the entry's output (positions relative to the entry; clipped to `n`). */
function applyFilters(out: Uint8Array, n: number, filters: Filter[]): void {
  let scratch = new Uint8Array(0);
  for (const f of filters) {
    const start = f.start;
    if (start >= n) continue;
    const len = Math.min(f.length, n - start);
    if (f.type === 0) {
      if (len < f.length) continue; // a DELTA layout needs the whole block
      if (scratch.length < len) scratch = new Uint8Array(len);
      scratch.set(out.subarray(start, start + len));
      let s = 0;
      for (let c = 0; c < f.channels; c++) {
        let prev = 0;
        for (let d = c; d < len; d += f.channels) {
          prev = (prev - scratch[s++]!) & 0xff;
          out[start + d] = prev;
        }
      }
    } else if (f.type === 1 || f.type === 2) {
      const e9 = f.type === 2;
      const fileSize = 0x1000000;
      for (let i = 0; i < len - 4;) {
        const b = out[start + i++]!;
        if (b === 0xe8 || (e9 && b === 0xe9)) {
          const offset = (start + i) % fileSize;
          const at = start + i;
          const addr = (out[at]! | (out[at + 1]! << 8) | (out[at + 2]! << 16) | (out[at + 3]! << 24)) >>> 0;
          let w = -1;
          if (addr & 0x80000000) {
            if (((addr + offset) & 0x80000000) === 0) w = (addr + fileSize) >>> 0;
          } else if (((addr - fileSize) & 0x80000000) !== 0) {
            w = (addr - offset) >>> 0;
          }
          if (w >= 0) {
            out[at] = w & 0xff;
            out[at + 1] = (w >>> 8) & 0xff;
            out[at + 2] = (w >>> 16) & 0xff;
            out[at + 3] = w >>> 24;
          }
          i += 4;
        }
      }
    } else if (f.type === 3) {
      for (let i = 0; i + 3 < len; i += 4) {
        const at = start + i;
        if (out[at + 3] === 0xeb) {
          const v = (out[at]! | (out[at + 1]! << 8) | (out[at + 2]! << 16)) - Math.floor((start + i) / 4);
          out[at] = v & 0xff;
          out[at + 1] = (v >>> 8) & 0xff;
          out[at + 2] = (v >>> 16) & 0xff;
        }
      }
    }
  }
}

class Rar5Decoder implements Rar5Unpacker {
  private win = new Uint8Array(0);
  private mask = 0;
  /** Bytes written into the ring since the start of the solid run. */
  private wp = 0;
  private readonly rep = new Uint32Array(4);
  private lastLen = 0;
  private tablesRead = false;
  /** False after an entry of the run failed: a solid successor cannot be decoded. */
  private stateOk = true;
  private readonly ld = new HuffTable(NC, 10);
  private readonly dd = new HuffTable(DC, 7);
  private readonly ldd = new HuffTable(LDC, 7);
  private readonly rd = new HuffTable(RC, 7);
  private readonly bd = new HuffTable(BC, 7);
  private readonly lengths = new Uint8Array(TABLE_SIZE);

  windowSize(): number {
    return this.win.length;
  }

  /** Makes the ring hold at least `need` bytes (a power of two), keeping the last bytes written. */
  private ensureWindow(need: number): void {
    let size = MIN_WINDOW;
    while (size < need && size < MAX_WINDOW) size *= 2;
    if (size <= this.win.length) return;
    const old = this.win;
    const next = new Uint8Array(size);
    if (old.length > 0 && this.wp > 0) {
      const keep = Math.min(old.length, this.wp);
      const oldMask = old.length - 1;
      for (let k = this.wp - keep; k < this.wp;) {
        const o = k & oldMask;
        const at = k & (size - 1);
        const run = Math.min(this.wp - k, old.length - o, size - at);
        next.set(old.subarray(o, o + run), at);
        k += run;
      }
    }
    this.win = next;
    this.mask = size - 1;
  }

  unpack(packed: Uint8Array, unpackedSize: number, solid: boolean, dictSize: number, maxOut: number): Rar5Result {
    const size = Math.max(0, Math.floor(unpackedSize));
    const keep = Math.max(0, Math.min(size, Math.floor(maxOut)));
    if (!solid) {
      this.wp = 0;
      this.rep.fill(0);
      this.lastLen = 0;
      this.tablesRead = false;
      this.stateOk = true;
    } else if (!this.stateOk) {
      return { data: new Uint8Array(0), ok: false, error: 'solid predecessor failed' };
    }
    const dict = dictSize > 0 ? dictSize : MIN_WINDOW;
    // Sized for the entry up front (up to 16 MiB of it); grown while decoding if the data goes on.
    this.ensureWindow(Math.min(dict, this.wp + Math.min(size, INITIAL_WINDOW_SHARE)));
    const res = this.decode(packed, size, keep, Math.min(dict, MAX_WINDOW));
    if (!res.ok) this.stateOk = false;
    return res;
  }

  /** Reads the tables at bit `bp` of `inp`, not past bit `limit`; the bit position after them, or -1. */
  private readTables(inp: Uint8Array, bp: number, limit: number): number {
    const bl = this.lengths.subarray(0, BC);
    for (let w = 0; w < BC;) {
      if (bp + 4 > limit) return -1;
      const v = peek16(inp, bp) >>> 12;
      bp += 4;
      if (v === 15) {
        const z = peek16(inp, bp) >>> 12;
        bp += 4;
        if (z === 0) bl[w++] = 15;
        else for (let k = 0; k < z + 2 && w < BC; k++) bl[w++] = 0;
      } else {
        bl[w++] = v;
      }
    }
    this.bd.build(bl, 0);
    const t = new Uint8Array(TABLE_SIZE);
    for (let i = 0; i < TABLE_SIZE;) {
      if (bp > limit) return -1;
      const r = decodeSym(this.bd, inp, bp);
      bp += r >>> 16;
      const num = r & 0xffff;
      if (num < 16) {
        t[i++] = num;
        continue;
      }
      const x = peek16(inp, bp);
      let n: number;
      if (num === 16 || num === 18) { n = 3 + (x >>> 13); bp += 3; } else { n = 11 + (x >>> 9); bp += 7; }
      if (num < 18) {
        if (i === 0) return -1;
        for (let k = 0; k < n && i < TABLE_SIZE; k++, i++) t[i] = t[i - 1]!;
      } else {
        for (let k = 0; k < n && i < TABLE_SIZE; k++) t[i++] = 0;
      }
    }
    if (bp > limit) return -1;
    this.ld.build(t, 0);
    this.dd.build(t, NC);
    this.ldd.build(t, NC + DC);
    this.rd.build(t, NC + DC + LDC);
    return bp;
  }

  private decode(packed: Uint8Array, size: number, keep: number, windowCap: number): Rar5Result {
    const inp = new Uint8Array(packed.length + PAD);
    inp.set(packed);
    const inBits = packed.length * 8;
    // The output holds the bytes kept, and the whole of a filter block beginning among them.
    // Allocated as bytes come (a header's size is not trusted), up to `held`.
    let out: Uint8Array = new Uint8Array(Math.min(keep, 1 << 20));
    let held = keep;
    let win = this.win;
    let mask = this.mask;
    let half = mask >>> 1;
    // The ring grows (doubling, up to the dictionary) before its first wrap-around.
    let growAt = win.length < windowCap ? win.length - 0x2000 : Infinity;
    const base = this.wp;
    const end = base + size;
    const rep = this.rep;
    const { ld, dd, ldd, rd } = this;
    const ldLen = ld.decodeLen, ldQLen = ld.quickLen, ldQNum = ld.quickNum;
    const filters: Filter[] = [];
    let wp = base;
    let flushed = base;
    let nextCheck = Math.min(flushed + half, growAt);
    let lastLen = this.lastLen;
    let bp = 0;
    let error: string | undefined;
    let lastFilterEnd = 0;

    let lastBlock = false;
    outer: while (wp < end && !lastBlock) {
      // Block header, byte-aligned.
      bp = (bp + 7) & ~7;
      const h = bp >>> 3;
      if (h + 3 > packed.length) { error = 'truncated block header'; break; }
      const flags = inp[h]!;
      const byteCount = ((flags >>> 3) & 3) + 1;
      if (byteCount === 4) { error = 'bad block header'; break; }
      if (h + 2 + byteCount > packed.length) { error = 'truncated block header'; break; }
      let blockSize = 0;
      for (let i = 0; i < byteCount; i++) blockSize += inp[h + 2 + i]! << (8 * i);
      let check = 0x5a ^ flags;
      for (let i = 0; i < byteCount; i++) check ^= inp[h + 2 + i]!;
      if ((check & 0xff) !== inp[h + 1]) { error = 'block header checksum'; break; }
      const dataStart = h + 2 + byteCount;
      bp = dataStart * 8;
      const blockEnd = (dataStart + blockSize - 1) * 8 + (flags & 7) + 1;
      lastBlock = (flags & 0x40) !== 0;
      const limit = Math.min(blockEnd, inBits);
      if (flags & 0x80) {
        bp = this.readTables(inp, bp, limit);
        if (bp < 0) { error = 'bad Huffman tables'; break; }
        this.tablesRead = true;
      }
      if (!this.tablesRead) { error = 'no Huffman tables'; break; }
      const quickLimit = ldLen[10]!;
      while (bp < limit) {
        if (wp >= end) break outer;
        if (wp >= nextCheck) {
          if (out.length < Math.min(held, wp - base)) out = growOut(out, Math.min(held, wp - base), held);
          flushed = flushRing(win, mask, out, base, flushed, wp, held);
          if (wp >= growAt) {
            this.wp = wp;
            const before = win.length;
            this.ensureWindow(Math.min(windowCap, before * 2));
            win = this.win;
            mask = this.mask;
            half = mask >>> 1;
            growAt = win.length > before && win.length < windowCap ? win.length - 0x2000 : Infinity;
          }
          nextCheck = Math.min(flushed + half, growAt);
        }
        // Main symbol, short codes inline.
        const i3 = bp >>> 3;
        const bf = ((((inp[i3]! << 16) | (inp[i3 + 1]! << 8) | inp[i3 + 2]!) >>> (8 - (bp & 7))) & 0xfffe);
        let sym: number;
        if (bf < quickLimit) {
          const code = bf >>> 6;
          bp += ldQLen[code]!;
          sym = ldQNum[code]!;
        } else {
          let l = 15;
          for (let i = 11; i < 15; i++) if (bf < ldLen[i]!) { l = i; break; }
          bp += l;
          const pos = ld.decodePos[l]! + ((bf - ldLen[l - 1]!) >>> (16 - l));
          sym = pos < NC ? ld.decodeNum[pos]! : 0;
        }
        if (sym < 256) {
          if (bp > inBits) break;
          win[wp & mask] = sym;
          wp++;
          continue;
        }
        let len: number;
        let dist: number;
        if (sym >= 262) {
          const ls = sym - 262;
          if (ls < 8) {
            len = 2 + ls;
          } else {
            const lb = (ls >>> 2) - 1;
            len = 2 + ((4 | (ls & 3)) << lb) + (peek16(inp, bp) >>> (16 - lb));
            bp += lb;
          }
          const r = decodeSym(dd, inp, bp);
          bp += r >>> 16;
          const slot = r & 0xffff;
          if (slot < 4) {
            dist = 1 + slot;
          } else {
            const db = (slot >>> 1) - 1;
            dist = (1 + ((2 | (slot & 1)) << db)) >>> 0;
            if (db >= 4) {
              const hb = db - 4;
              if (hb > 16) {
                dist = (dist + ((peek16(inp, bp) >>> (32 - hb)) << 20)) >>> 0;
                bp += hb - 16;
                dist = (dist + (peek16(inp, bp) << 4)) >>> 0;
                bp += 16;
              } else if (hb > 0) {
                dist = (dist + ((peek16(inp, bp) >>> (16 - hb)) << 4)) >>> 0;
                bp += hb;
              }
              const q = decodeSym(ldd, inp, bp);
              bp += q >>> 16;
              dist = (dist + (q & 0xffff)) >>> 0;
            } else {
              dist += peek16(inp, bp) >>> (16 - db);
              bp += db;
            }
          }
          if (dist > 0x100) {
            len++;
            if (dist > 0x2000) {
              len++;
              if (dist > 0x40000) len++;
            }
          }
          rep[3] = rep[2]!; rep[2] = rep[1]!; rep[1] = rep[0]!; rep[0] = dist;
          lastLen = len;
        } else if (sym === 256) {
          let start = 0, length = 0;
          for (let k = 0; k < 2; k++) {
            const n = (peek16(inp, bp) >>> 14) + 1;
            bp += 2;
            let v = 0;
            for (let i = 0; i < n; i++) { v += (peek16(inp, bp) >>> 8) * 2 ** (8 * i); bp += 8; }
            if (k === 0) start = v; else length = v;
          }
          const type = peek16(inp, bp) >>> 13;
          bp += 3;
          let channels = 0;
          if (type === 0) { channels = (peek16(inp, bp) >>> 11) + 1; bp += 5; }
          if (bp > inBits) break;
          const at = wp - base + start;
          // A filter that cannot apply (unknown type, too long, overlapping the previous one, too
          // many) is dropped and decoding goes on, as UnRAR drops a block longer than 4 MiB.
          if (type > 3 || length === 0 || length > MAX_FILTER_LENGTH || at < lastFilterEnd || filters.length >= MAX_FILTERS) continue;
          filters.push({ type, start: at, length, channels });
          if (at < keep && at + length > held) {
            held = Math.min(size, at + length);
          }
          lastFilterEnd = at + length;
          continue;
        } else if (sym === 257) {
          if (lastLen === 0) continue;
          len = lastLen;
          dist = rep[0]!;
        } else {
          const idx = sym - 258;
          dist = rep[idx]!;
          for (let i = idx; i > 0; i--) rep[i] = rep[i - 1]!;
          rep[0] = dist;
          const r = decodeSym(rd, inp, bp);
          bp += r >>> 16;
          const ls = r & 0xffff;
          if (ls < 8) {
            len = 2 + ls;
          } else {
            const lb = (ls >>> 2) - 1;
            len = 2 + ((4 | (ls & 3)) << lb) + (peek16(inp, bp) >>> (16 - lb));
            bp += lb;
          }
          lastLen = len;
        }
        // A zero distance (the last distances of a fresh stream) is damage; one reaching before the
        // ring's content reads what the ring holds (UnRAR reads its window there too).
        if (bp > inBits) break;
        if (dist === 0) { error = 'zero distance'; break outer; }
        if (len > end - wp) len = end - wp;
        const d = wp & mask;
        const s = (wp - dist) & mask;
        if (d + len <= mask && s + len <= mask) {
          if (dist >= len && len > 64) win.copyWithin(d, s, s + len);
          else for (let i = 0; i < len; i++) win[d + i] = win[s + i]!;
        } else {
          for (let i = 0; i < len; i++) win[(d + i) & mask] = win[(s + i) & mask]!;
        }
        wp += len;
      }
      // A symbol may end past its block (UnRAR and libarchive only check where symbols start), not past the data.
      if (bp > inBits) { error = 'truncated data'; break; }
      if (wp >= end) break;
    }
    if (!error && wp < end) error = lastBlock ? 'data ends before the declared size' : 'truncated data';
    if (out.length < Math.min(held, wp - base)) out = growOut(out, Math.min(held, wp - base), held);
    flushRing(win, mask, out, base, flushed, wp, held);
    this.wp = wp;
    this.lastLen = lastLen;
    applyFilters(out, Math.min(held, wp - base), filters);
    const n = Math.min(keep, wp - base);
    const data = n < out.length ? out.subarray(0, n) : out;
    return error ? { data, ok: false, error } : { data, ok: true };
  }
}

/** 16 bits at bit `bp` of `inp`, most significant first (the input is padded). */
function peek16(inp: Uint8Array, bp: number): number {
  const i = bp >>> 3;
  return (((inp[i]! << 16) | (inp[i + 1]! << 8) | inp[i + 2]!) >>> (8 - (bp & 7))) & 0xffff;
}

/** A symbol of `t` at bit `bp`: the symbol in the low 16 bits, the bits it used above. */
function decodeSym(t: HuffTable, inp: Uint8Array, bp: number): number {
  const bf = peek16(inp, bp) & 0xfffe;
  const qb = t.quickBits;
  if (bf < t.decodeLen[qb]!) {
    const code = bf >>> (16 - qb);
    return t.quickNum[code]! | (t.quickLen[code]! << 16);
  }
  let l = 15;
  for (let i = qb + 1; i < 15; i++) if (bf < t.decodeLen[i]!) { l = i; break; }
  const pos = t.decodePos[l]! + ((bf - t.decodeLen[l - 1]!) >>> (16 - l));
  return (pos < t.size ? t.decodeNum[pos]! : 0) | (l << 16);
}

/** A larger output buffer holding `need` bytes (doubling, at most `max`), with the bytes of `out`. */
function growOut(out: Uint8Array, need: number, max: number): Uint8Array {
  let n = Math.max(out.length, 1 << 16);
  while (n < need) n *= 2;
  const next = new Uint8Array(Math.min(n, max));
  next.set(out);
  return next;
}

/** Copies ring bytes [flushed, wp) (absolute positions) to the entry's output, up to `keep`; the new `flushed`. */
function flushRing(win: Uint8Array, mask: number, out: Uint8Array, base: number, flushed: number, wp: number, keep: number): number {
  while (flushed < wp) {
    const rel = flushed - base;
    if (rel >= keep) return wp;
    const from = flushed & mask;
    const n = Math.min(wp - flushed, mask + 1 - from, keep - rel);
    out.set(win.subarray(from, from + n), rel);
    flushed += n;
  }
  return flushed;
}

/** A RAR 5 decoder keeping the state a solid archive carries from entry to entry. */
export function createRar5Unpacker(): Rar5Unpacker {
  return new Rar5Decoder();
}

/** Dictionary size from a RAR 5 file header's compression information (version 0: 128 KiB << bits 10..13). */
export function rar5DictSize(compInfo: number): number {
  return 0x20000 * 2 ** ((compInfo >>> 10) & 15);
}
