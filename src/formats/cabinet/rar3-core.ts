/**
 * Shared machinery of the RAR 1.5/2.x/2.9 decoders: the MSB-first bit input over one entry's
 * packed bytes, the canonical Huffman tables RAR builds from code lengths, the window ring and the
 * bounded output of one entry.
 *
 * In: packed bytes (copied once into a zero-padded buffer), code-length arrays. Out: decoded
 * symbols, bytes appended to the entry's output (never more than maxOut). Why here:
 * the three decoder generations share the window (a solid archive may in principle mix them) and
 * the table construction. Tables are decoded exactly as RAR's own decoder does, including the
 * handling of over- or under-subscribed code lengths in damaged data (a position past the
 * alphabet decodes as symbol 0), so damaged archives decode to the same bytes.
 */

export class Huff {
  readonly decodeLen = new Int32Array(16);
  readonly decodePos = new Int32Array(16);
  readonly decodeNum: Uint16Array;
  quickBits = 0;
  readonly quickLen: Uint8Array;
  readonly quickNum: Uint16Array;
  maxNum = 0;
  private readonly defaultQuick: number;
  private readonly count = new Int32Array(16);
  private readonly next = new Int32Array(16);

  constructor(maxSize: number, quickBits: number) {
    this.decodeNum = new Uint16Array(maxSize);
    this.defaultQuick = quickBits;
    this.quickLen = new Uint8Array(1 << quickBits);
    this.quickNum = new Uint16Array(1 << quickBits);
  }

  /** All zero: the state of a table never read. */
  clear(): void {
    this.decodeLen.fill(0);
    this.decodePos.fill(0);
    this.decodeNum.fill(0);
    this.quickLen.fill(0);
    this.quickNum.fill(0);
    this.quickBits = 0;
    this.maxNum = 0;
  }

  build(lengths: Uint8Array, off: number, size: number): void {
    this.maxNum = size;
    const count = this.count;
    count.fill(0);
    for (let i = 0; i < size; i++) count[lengths[off + i]! & 0xf]!++;
    count[0] = 0;
    this.decodeNum.fill(0, 0, size);
    const len = this.decodeLen, pos = this.decodePos;
    len[0] = 0;
    pos[0] = 0;
    let upper = 0;
    for (let i = 1; i < 16; i++) {
      upper += count[i]!;
      len[i] = upper * (1 << (16 - i));
      upper *= 2;
      pos[i] = pos[i - 1]! + count[i - 1]!;
    }
    const next = this.next;
    next.set(pos);
    for (let i = 0; i < size; i++) {
      const l = lengths[off + i]! & 0xf;
      if (l !== 0) this.decodeNum[next[l]!++] = i;
    }
    const qb = this.defaultQuick;
    this.quickBits = qb;
    let cur = 1;
    for (let code = 0; code < 1 << qb; code++) {
      const bf = code << (16 - qb);
      while (cur < 16 && bf >= len[cur]!) cur++;
      this.quickLen[code] = cur;
      let p: number;
      if (cur < 16 && (p = pos[cur]! + ((bf - len[cur - 1]!) >>> (16 - cur))) < size) this.quickNum[code] = this.decodeNum[p]!;
      else this.quickNum[code] = 0;
    }
  }
}

export const EMPTY = new Uint8Array(0);

/** One decoder's state: input bits, window, output. Kept across the entries of a solid archive. */
export class RarCore {
  // Input of the current entry (read in place, never written).
  inp: Uint8Array = EMPTY;
  bitPos = 0;
  inLen = 0;
  endBits = 0;

  // Window ring.
  win: Uint8Array = EMPTY;
  winSize = 0;
  mask = 0;
  unpPtr = 0;
  wrPtr = 0;

  // Distances shared by the LZ generations.
  readonly oldDist = new Uint32Array(4);
  oldDistPtr = 0;
  lastDist = 0;
  lastLength = 0;

  // Output of the current entry.
  out: Uint8Array = EMPTY;
  outLen = 0;
  /** Bytes of the file written so far, counted as RAR counts them (beyond the cap too). */
  written = 0;
  /** The entry's unpacked size. */
  destSize = 0;
  /** min(unpacked size, maxOut): below the unpacked size, reaching it means the bound cut the entry. */
  cap = 0;
  maxOut = 0;
  error: string | undefined = undefined;
  /** Bytes placed in the window since the last write (runaway guard). */
  sinceWrite = 0;

  setInput(packed: Uint8Array): void {
    this.inp = packed;
    this.inLen = packed.length;
    this.bitPos = 0;
    this.endBits = packed.length * 8;
  }

  /** Ensures a window of at least `size` bytes (a power of two); a solid entry keeps its data. */
  initWindow(dictSize: number, solid: boolean): void {
    let size = 0x40000;
    const want = Math.min(Math.max(dictSize, 0x40000), 0x400000);
    while (size < want) size *= 2;
    if (size <= this.winSize) return;
    const w = new Uint8Array(size);
    if (solid && this.winSize > 0) {
      const m = size - 1;
      for (let i = 1; i <= this.winSize; i++) w[(this.unpPtr - i) & m] = this.win[(this.unpPtr - i) & this.mask]!;
    }
    this.win = w;
    this.winSize = size;
    this.mask = size - 1;
  }

  /** Output nothing, count only (a skipped solid entry). */
  discard = false;

  startOutput(unpackedSize: number, maxOut: number, discard = false): void {
    this.destSize = unpackedSize;
    this.discard = discard;
    this.maxOut = discard ? unpackedSize : maxOut;
    this.cap = Math.max(0, Math.min(unpackedSize, this.maxOut));
    this.out = discard ? EMPTY : new Uint8Array(Math.min(this.cap, 1 << 20));
    this.outLen = 0;
    this.written = 0;
    this.error = undefined;
    this.sinceWrite = 0;
  }

  /** 16 bits at the bit position, MSB first. */
  getbits(): number {
    const p = this.bitPos;
    const i = p >>> 3;
    const b = this.inp;
    if (i + 2 < b.length) return ((((b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!) >>> (8 - (p & 7))) & 0xffff);
    // Across the end: zeros past it, as RAR's zero-filled buffer gives.
    const n = b.length;
    const v = ((i < n ? b[i]! : 0) << 16) | ((i + 1 < n ? b[i + 1]! : 0) << 8) | (i + 2 < n ? b[i + 2]! : 0);
    return (v >>> (8 - (p & 7))) & 0xffff;
  }

  decode(t: Huff): number {
    const bf = this.getbits() & 0xfffe;
    const qb = t.quickBits;
    if (bf < t.decodeLen[qb]!) {
      const c = bf >>> (16 - qb);
      this.bitPos += t.quickLen[c]!;
      return t.quickNum[c]!;
    }
    let bits = 15;
    const len = t.decodeLen;
    for (let i = qb + 1; i < 15; i++) {
      if (bf < len[i]!) { bits = i; break; }
    }
    this.bitPos += bits;
    let pos = t.decodePos[bits]! + ((bf - len[bits - 1]!) >>> (16 - bits));
    if (pos >= t.maxNum) pos = 0;
    return t.decodeNum[pos]!;
  }

  /**
   * Appends bytes [from, to) of `src` to the file, as RAR's writers do: `capped` (window areas of
   * version 2.9) stops at the unpacked size; the other writers (filtered blocks, versions 1.5 and
   * 2.0) write all they are given. Stored bytes stop at maxOut in any case.
   */
  writeData(src: Uint8Array, from: number, to: number, capped = false): void {
    const size = to - from;
    if (size <= 0) return;
    let n = size;
    if (capped) {
      if (this.written >= this.destSize) return;
      n = Math.min(n, this.destSize - this.written);
    }
    this.written += size;
    n = Math.min(n, this.maxOut - this.outLen);
    if (n <= 0) return;
    if (!this.discard) {
      this.ensure(this.outLen + n);
      this.out.set(src.subarray(from, from + n), this.outLen);
    }
    this.outLen += n;
  }

  /** Writes window area [start, end) (with wrap-around). */
  writeArea(start: number, end: number, capped = false): void {
    if (end < start) {
      this.writeData(this.win, start, this.winSize, capped);
      this.writeData(this.win, 0, end, capped);
    } else {
      this.writeData(this.win, start, end, capped);
    }
  }

  private ensure(n: number): void {
    if (n <= this.out.length) return;
    let size = Math.max(this.out.length * 2, 1 << 16);
    while (size < n) size *= 2;
    size = Math.min(size, Math.max(this.cap, n, Math.min(this.maxOut, this.destSize + 0x10000)));
    const o = new Uint8Array(size);
    o.set(this.out.subarray(0, this.outLen));
    this.out = o;
  }

  /** Copies a match inside the window. */
  copyString(length: number, distance: number): void {
    const w = this.win;
    let dst = this.unpPtr;
    let src = dst - distance;
    const m = this.mask;
    this.sinceWrite += length;
    if (src >= 0 && dst + length <= this.winSize && distance > 0) {
      const end = dst + length;
      while (dst < end) w[dst++] = w[src++]!;
      this.unpPtr = dst & m;
    } else {
      src &= m;
      while (length-- > 0) {
        w[dst] = w[src]!;
        src = (src + 1) & m;
        dst = (dst + 1) & m;
      }
      this.unpPtr = dst;
    }
  }

  result(): { data: Uint8Array; ok: boolean; error?: string } {
    const data = this.discard ? EMPTY : this.out.length === this.outLen ? this.out : this.out.slice(0, this.outLen);
    this.out = EMPTY;
    if (this.outLen === this.destSize) return { data, ok: true };
    const error = this.outLen > this.destSize ? 'more data than the unpacked size'
      : this.outLen >= this.maxOut ? 'output limit reached' : this.error ?? 'stream ended early';
    return { data, ok: false, error };
  }
}
