/**
 * LZMA and LZMA2 → the decompressed bytes, bounded.
 *
 * In: a raw LZMA stream with its properties (the lc/lp/pb byte and the dictionary size, as 7z, ZIP
 * method 14 and the `.lzma` header carry them), the size it unpacks to when known, and the most
 * bytes to produce; or an LZMA2 stream (a sequence of chunks) with its dictionary-size byte. Out:
 * a `DecodeResult` (`LIMIT` as the error when the bound was reached, the bytes decoded until then
 * in `data`). Never throws.
 *
 * The whole output is kept (callers scan it), so it is its own dictionary: a match may reach back
 * as far as the dictionary size and the start of the current dictionary (an LZMA2 dictionary
 * reset starts a new one), which is what LZMA's own decoder allows. The checks are the reference
 * decoder's: the range coder's first byte is zero, distances stay inside the dictionary, a stream
 * with an end marker leaves the range coder at zero, every LZMA2 chunk uses exactly its packed size
 * and produces exactly its unpacked size, and the first LZMA2 chunk resets the dictionary.
 *
 * Hot loop: one method decodes symbols with the range coder's state in locals; output grows in
 * steps and is checked against the bound once per symbol (a match is at most 273 bytes).
 */
import { type DecodeResult, LIMIT, Sink, u32le } from './common.js';

const TOP = 1 << 24;
const MATCH_MAX = 273;

class DataError extends Error {}

/** Probabilities of one length coder. */
class LenCoder {
  choice = new Uint16Array(2);
  low = new Uint16Array(16 << 3);
  mid = new Uint16Array(16 << 3);
  high = new Uint16Array(256);
  reset(): void { this.choice.fill(1024); this.low.fill(1024); this.mid.fill(1024); this.high.fill(1024); }
}

/** One LZMA decoder: properties, adaptive state and the range coder over one input. */
export class LzmaCore {
  lc = 3; lp = 0; pb = 2; dictSize = 1 << 23;
  // Adaptive state.
  private isMatch = new Uint16Array(192);
  private isRep = new Uint16Array(12);
  private isRepG0 = new Uint16Array(12);
  private isRepG1 = new Uint16Array(12);
  private isRepG2 = new Uint16Array(12);
  private isRep0Long = new Uint16Array(192);
  private posSlot = new Uint16Array(256);
  private specPos = new Uint16Array(115);
  private align = new Uint16Array(16);
  private lenCoder = new LenCoder();
  private repLenCoder = new LenCoder();
  private literal = new Uint16Array(0x300 << 3);
  state = 0;
  rep0 = 0; rep1 = 0; rep2 = 0; rep3 = 0;
  // Range coder.
  private range = 0;
  private code = 0;
  private inp: Uint8Array = new Uint8Array(0);
  inPos = 0;
  private inEnd = 0;
  /** Set when the range coder read past `inEnd` (zeros were used). */
  overrun = false;
  /** Where the current dictionary starts in the output (an LZMA2 dictionary reset moves it). */
  dictStart = 0;
  /** A pending match not yet copied because the output stopped (LZMA2 chunk boundary). */
  private pendingLen = 0;

  constructor(readonly out: Sink) {}

  /** Sets lc/lp/pb from the properties byte; false when it is out of range. */
  setProps(b: number): boolean {
    if (b >= 9 * 5 * 5) return false;
    this.lc = b % 9;
    this.lp = Math.floor(b / 9) % 5;
    this.pb = Math.floor(b / 45);
    return true;
  }

  resetState(): void {
    const n = 0x300 << (this.lc + this.lp);
    if (this.literal.length !== n) this.literal = new Uint16Array(n);
    for (const a of [this.isMatch, this.isRep, this.isRepG0, this.isRepG1, this.isRepG2, this.isRep0Long, this.posSlot, this.specPos, this.align, this.literal]) a.fill(1024);
    this.lenCoder.reset();
    this.repLenCoder.reset();
    this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
    this.pendingLen = 0;
  }

  /** Starts the range coder on `inp[pos, end)`; false when its first byte is not zero. */
  initRange(inp: Uint8Array, pos: number, end: number): boolean {
    this.inp = inp;
    this.inEnd = end;
    if (end - pos < 5) { this.overrun = true; this.inPos = end; return false; }
    if (inp[pos] !== 0) return false;
    this.code = ((inp[pos + 1]! << 24) | (inp[pos + 2]! << 16) | (inp[pos + 3]! << 8) | inp[pos + 4]!) >>> 0;
    this.range = 0xffffffff;
    this.inPos = pos + 5;
    return true;
  }

  get codeIsZero(): boolean { return this.code === 0; }

  private bit(probs: Uint16Array, i: number): number {
    let range = this.range, code = this.code;
    const p = probs[i]!;
    const bound = (range >>> 11) * p;
    let b: number;
    if (code < bound) {
      range = bound;
      probs[i] = p + ((2048 - p) >>> 5);
      b = 0;
    } else {
      range -= bound;
      code -= bound;
      probs[i] = p - (p >>> 5);
      b = 1;
    }
    if (range < TOP) {
      range = (range * 256) >>> 0;
      let byte = 0;
      if (this.inPos < this.inEnd) byte = this.inp[this.inPos]!;
      else this.overrun = true;
      this.inPos++;
      code = ((code * 256) + byte) >>> 0;
    }
    this.range = range;
    this.code = code;
    return b;
  }

  private direct(n: number): number {
    let range = this.range, code = this.code, v = 0;
    for (let i = 0; i < n; i++) {
      range = range >>> 1;
      let b = 0;
      if (code >= range) { code -= range; b = 1; }
      v = ((v << 1) | b) >>> 0;
      if (range < TOP) {
        range = (range * 256) >>> 0;
        let byte = 0;
        if (this.inPos < this.inEnd) byte = this.inp[this.inPos]!;
        else this.overrun = true;
        this.inPos++;
        code = ((code * 256) + byte) >>> 0;
      }
    }
    this.range = range;
    this.code = code;
    return v;
  }

  private tree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1;
    for (let i = 0; i < bits; i++) m = (m << 1) | this.bit(probs, base + m);
    return m - (1 << bits);
  }

  private reverse(probs: Uint16Array, base: number, bits: number): number {
    let m = 1, v = 0;
    for (let i = 0; i < bits; i++) {
      const b = this.bit(probs, base + m);
      m = (m << 1) | b;
      v |= b << i;
    }
    return v;
  }

  private len(c: LenCoder, posState: number): number {
    if (this.bit(c.choice, 0) === 0) return this.tree(c.low, posState << 3, 3);
    if (this.bit(c.choice, 1) === 0) return 8 + this.tree(c.mid, posState << 3, 3);
    return 16 + this.tree(c.high, 0, 8);
  }

  /**
   * Decodes until the output reaches `stopAt` (absolute output length), the end marker, damage or
   * the output bound. Returns 'mark' at the end marker, 'size' at `stopAt`, 'limit' at the bound;
   * throws DataError on damage.
   */
  decode(stopAt: number): 'mark' | 'size' | 'limit' {
    const out = this.out;
    const pbMask = (1 << this.pb) - 1, lpMask = (1 << this.lp) - 1, lc = this.lc;
    const dictSize = this.dictSize;
    if (this.pendingLen > 0) {
      const r = this.copyMatch(this.pendingLen, stopAt);
      if (r !== undefined) return r;
    }
    for (;;) {
      const pos = out.length;
      if (pos >= stopAt) return 'size';
      if (this.overrun) throw new DataError('truncated');
      if (pos + MATCH_MAX > out.buf.length && !out.ensure(Math.min(MATCH_MAX, out.limit - pos))) return 'limit';
      const buf = out.buf;
      const rel = pos - this.dictStart;
      const posState = rel & pbMask;
      const st = this.state;
      if (this.bit(this.isMatch, (st << 4) | posState) === 0) {
        if (pos >= out.limit) return 'limit';
        const prev = rel > 0 ? buf[pos - 1]! : 0;
        const base = 0x300 * (((rel & lpMask) << lc) + (prev >>> (8 - lc)));
        const lit = this.literal;
        let sym = 1;
        // The literal's bits with the range coder in locals (the hottest loop).
        let range = this.range, code = this.code, ip = this.inPos;
        const inp = this.inp, end = this.inEnd;
        if (st >= 7) {
          let matchByte = this.rep0 < rel ? buf[pos - this.rep0 - 1]! : 0;
          while (sym < 0x100) {
            const mb = (matchByte >>> 7) & 1;
            matchByte <<= 1;
            const i = base + ((1 + mb) << 8) + sym;
            const p = lit[i]!;
            const bound = (range >>> 11) * p;
            let b: number;
            if (code < bound) { range = bound; lit[i] = p + ((2048 - p) >>> 5); b = 0; }
            else { range -= bound; code -= bound; lit[i] = p - (p >>> 5); b = 1; }
            if (range < TOP) { range = (range * 256) >>> 0; code = ((code * 256) + (ip < end ? inp[ip]! : 0)) >>> 0; ip++; }
            sym = (sym << 1) | b;
            if (mb !== b) break;
          }
        }
        while (sym < 0x100) {
          const i = base + sym;
          const p = lit[i]!;
          const bound = (range >>> 11) * p;
          if (code < bound) { range = bound; lit[i] = p + ((2048 - p) >>> 5); sym <<= 1; }
          else { range -= bound; code -= bound; lit[i] = p - (p >>> 5); sym = (sym << 1) | 1; }
          if (range < TOP) { range = (range * 256) >>> 0; code = ((code * 256) + (ip < end ? inp[ip]! : 0)) >>> 0; ip++; }
        }
        this.range = range;
        this.code = code;
        this.inPos = ip;
        if (ip > end) this.overrun = true;
        buf[pos] = sym & 0xff;
        out.length = pos + 1;
        this.state = st < 4 ? 0 : st < 10 ? st - 3 : st - 6;
        continue;
      }
      let len: number;
      if (this.bit(this.isRep, st) === 0) {
        len = this.len(this.lenCoder, posState);
        this.state = st < 7 ? 7 : 10;
        const lenState = len < 4 ? len : 3;
        const slot = this.tree(this.posSlot, lenState << 6, 6);
        let dist: number;
        if (slot < 4) dist = slot;
        else {
          const nd = (slot >>> 1) - 1;
          dist = ((2 | (slot & 1)) << nd) >>> 0;
          if (slot < 14) dist += this.reverse(this.specPos, dist - slot, nd);
          else dist = (dist + ((this.direct(nd - 4) << 4) >>> 0) + this.reverse(this.align, 0, 4)) >>> 0;
        }
        if (dist === 0xffffffff) {
          if (this.overrun) throw new DataError('truncated');
          return 'mark';
        }
        this.rep3 = this.rep2; this.rep2 = this.rep1; this.rep1 = this.rep0; this.rep0 = dist;
      } else {
        if (rel === 0) throw new DataError('repeat before any output');
        if (this.bit(this.isRepG0, st) === 0) {
          if (this.bit(this.isRep0Long, (st << 4) | posState) === 0) {
            // A single byte from rep0.
            if (this.rep0 >= rel) throw new DataError('distance outside the dictionary');
            if (pos >= out.limit) return 'limit';
            this.state = st < 7 ? 9 : 11;
            buf[pos] = buf[pos - this.rep0 - 1]!;
            out.length = pos + 1;
            continue;
          }
        } else {
          let d: number;
          if (this.bit(this.isRepG1, st) === 0) d = this.rep1;
          else {
            if (this.bit(this.isRepG2, st) === 0) d = this.rep2;
            else { d = this.rep3; this.rep3 = this.rep2; }
            this.rep2 = this.rep1;
          }
          this.rep1 = this.rep0;
          this.rep0 = d;
        }
        len = this.len(this.repLenCoder, posState);
        this.state = st < 7 ? 8 : 11;
      }
      if (this.rep0 >= rel || this.rep0 >= dictSize) throw new DataError('distance outside the dictionary');
      const r = this.copyMatch(len + 2, stopAt);
      if (r !== undefined) return r;
    }
  }

  /** Copies a match of `n` bytes from rep0; what does not fit before `stopAt` waits in `pendingLen`. */
  private copyMatch(n: number, stopAt: number): 'size' | 'limit' | undefined {
    const out = this.out;
    let pos = out.length;
    let k = Math.min(n, stopAt - pos);
    let limited = false;
    if (pos + k > out.limit) { k = out.limit - pos; limited = true; }
    if (k > 0 && !out.ensure(k)) return 'limit';
    const buf = out.buf;
    const d = this.rep0 + 1;
    for (let i = 0; i < k; i++, pos++) buf[pos] = buf[pos - d]!;
    out.length = pos;
    this.pendingLen = n - k;
    if (limited) return 'limit';
    if (this.pendingLen > 0) return 'size';
    return undefined;
  }

  get hasPending(): boolean { return this.pendingLen > 0; }
}

/** Dictionary size from LZMA2's property byte (40 = 4 GiB - 1); undefined above 40. */
export function lzma2DictSize(b: number): number | undefined {
  if (b > 40) return undefined;
  if (b === 40) return 0xffffffff;
  return (2 | (b & 1)) * 2 ** (Math.floor(b / 2) + 11);
}

/**
 * Raw LZMA. `props` is the 5-byte property block (lc/lp/pb byte, then the dictionary size, little
 * endian). With `unpackSize` the stream ends there (an end marker right there is accepted too);
 * without it the end marker ends it.
 */
export function lzmaDecode(props: Uint8Array, input: Uint8Array, maxOutput: number, unpackSize?: number): DecodeResult {
  const bound = unpackSize === undefined ? maxOutput : Math.min(maxOutput, unpackSize);
  const sink = new Sink(Math.max(0, bound), Math.min(1 << 20, unpackSize ?? 1 << 16));
  const dec = new LzmaCore(sink);
  if (props.length < 5 || !dec.setProps(props[0]!)) return { data: sink.view(), complete: false, error: 'bad properties' };
  dec.dictSize = Math.max(4096, u32le(props, 1));
  dec.resetState();
  try {
    if (!dec.initRange(input, 0, input.length)) return { data: sink.view(), complete: false, error: dec.overrun ? 'truncated' : 'bad range coder start' };
    const stop = unpackSize ?? Infinity;
    const r = dec.decode(stop);
    if (r === 'limit' || (r === 'size' && sink.length < stop)) {
      return { data: sink.view(), complete: false, error: LIMIT };
    }
    if (r === 'mark') {
      if (!dec.codeIsZero) return { data: sink.view(), complete: false, error: 'bad end marker' };
      if (unpackSize !== undefined && sink.length !== unpackSize) return { data: sink.view(), complete: false, error: 'end marker before the size' };
      return { data: sink.view(), complete: true };
    }
    if (unpackSize !== undefined && unpackSize > maxOutput && sink.length >= maxOutput) return { data: sink.view(), complete: false, error: LIMIT };
    if (dec.overrun) return { data: sink.view(), complete: false, error: 'truncated' };
    // At the size, as LZMA's own decoder finishes: no match left over, and the range coder at
    // zero or an end marker next.
    if (dec.hasPending) return { data: sink.view(), complete: false, error: 'match beyond the size' };
    if (!dec.codeIsZero) {
      const next = dec.decode(Infinity);
      if (next !== 'mark' || !dec.codeIsZero || dec.overrun) return { data: sink.view(), complete: false, error: 'data beyond the size' };
    }
    return { data: sink.view(), complete: true };
  } catch (e) {
    if (e instanceof DataError) return { data: sink.view(), complete: false, error: e.message };
    throw e;
  }
}

/** LZMA2 decoding of `input[from, to)` into `sink`; the end position is returned with the result. */
export function lzma2DecodeInto(dictByte: number, input: Uint8Array, sink: Sink, from = 0, to = input.length): { complete: boolean; error?: string; end: number } {
  const dictSize = lzma2DictSize(dictByte);
  if (dictSize === undefined) return { complete: false, error: 'bad dictionary size', end: from };
  const dec = new LzmaCore(sink);
  dec.dictSize = dictSize;
  dec.dictStart = sink.length;
  let p = from;
  let needDict = true, needState = true, needProps = true;
  try {
    for (;;) {
      if (p >= to) return { complete: false, error: 'truncated', end: p };
      const control = input[p]!;
      if (control === 0) return { complete: true, end: p + 1 };
      if (control < 0x80) {
        if (control > 2) return { complete: false, error: 'bad chunk', end: p };
        if (p + 3 > to) return { complete: false, error: 'truncated', end: to };
        const size = ((input[p + 1]! << 8) | input[p + 2]!) + 1;
        if (control === 1) { dec.dictStart = sink.length; needProps = needState = true; needDict = false; }
        else if (needDict) return { complete: false, error: 'no dictionary reset', end: p };
        p += 3;
        const avail = Math.min(size, to - p);
        if (!sink.write(input.subarray(p, p + avail))) return { complete: false, error: LIMIT, end: p };
        if (avail < size) return { complete: false, error: 'truncated', end: to };
        p += size;
        continue;
      }
      if (p + 5 > to) return { complete: false, error: 'truncated', end: to };
      const unpacked = ((control & 0x1f) * 65536) + ((input[p + 1]! << 8) | input[p + 2]!) + 1;
      const packed = ((input[p + 3]! << 8) | input[p + 4]!) + 1;
      const mode = (control >>> 5) & 3;
      p += 5;
      if (mode === 3) { dec.dictStart = sink.length; needDict = false; }
      else if (needDict) return { complete: false, error: 'no dictionary reset', end: p };
      if (mode >= 2) {
        if (p >= to) return { complete: false, error: 'truncated', end: to };
        const pb = input[p++]!;
        if (!dec.setProps(pb) || dec.lc + dec.lp > 4) return { complete: false, error: 'bad properties', end: p };
        needProps = false;
      } else if (needProps) return { complete: false, error: 'no properties', end: p };
      if (mode >= 1) { dec.resetState(); needState = false; }
      else if (needState) return { complete: false, error: 'no state reset', end: p };
      const end = p + packed;
      if (!dec.initRange(input, p, Math.min(end, to))) return { complete: false, error: dec.overrun ? 'truncated' : 'bad range coder start', end: p };
      const target = sink.length + unpacked;
      const r = dec.decode(target);
      if (r === 'limit') return { complete: false, error: LIMIT, end: p };
      if (dec.overrun) return { complete: false, error: 'truncated', end: to };
      if (r === 'mark' || dec.hasPending || sink.length !== target || dec.inPos !== end || !dec.codeIsZero) {
        return { complete: false, error: 'bad chunk', end: p };
      }
      p = end;
    }
  } catch (e) {
    if (e instanceof DataError) return { complete: false, error: e.message, end: p };
    throw e;
  }
}

/** LZMA2 stream (as in xz and 7z) with its dictionary-size property byte. */
export function lzma2Decode(dictByte: number, input: Uint8Array, maxOutput: number): DecodeResult {
  const sink = new Sink(Math.max(0, maxOutput));
  const r = lzma2DecodeInto(dictByte, input, sink);
  return r.complete ? { data: sink.view(), complete: true } : { data: sink.view(), complete: false, error: r.error ?? 'damaged' };
}

/**
 * A `.lzma` file (LZMA "alone": properties, dictionary size, 64-bit size or all ones for unknown,
 * then the stream). ClamAV has no type for it and does not open it.
 */
export function lzmaAloneDecode(input: Uint8Array, maxOutput: number): DecodeResult {
  if (input.length < 13) return { data: new Uint8Array(0), complete: false, error: 'truncated' };
  const lo = u32le(input, 5), hi = u32le(input, 9);
  const unknown = lo === 0xffffffff && hi === 0xffffffff;
  const size = hi * 2 ** 32 + lo;
  if (!unknown && size > Number.MAX_SAFE_INTEGER) return { data: new Uint8Array(0), complete: false, error: 'bad size' };
  return lzmaDecode(input.subarray(0, 5), input.subarray(13), maxOutput, unknown ? undefined : size);
}
