/**
 * Quantum (cabinet compression type 2) → bytes, following the rules of libmspack's decoder, which
 * ClamAV uses.
 *
 * In: the folder's compressed stream (the cabinet reader appends a 0xFF byte after each data
 * block, which lets the decoder find the end of a frame) and the window size (2^10..2^21). Out:
 * the bytes on demand.
 *
 * The stream: 16-bit big-endian words read most significant bit first, decoded by an arithmetic
 * coder with adaptive models: a selector (7 symbols: four literal models of 64 byte values each,
 * matches of 3 and 4 bytes, and variable-length matches), position slots with extra bits for
 * offsets, and a length model. Each 32 KiB frame starts with a 16-bit coder state and ends at the
 * next 0xFF byte after byte alignment. Models are rescaled when their total passes 3800 and
 * re-sorted every 50 rescalings.
 *
 * Any error is sticky: later requests fail and the caller keeps what was written.
 */
import { ByteSource, ERR_DECRUNCH, ERR_READ, InputBuffer, OK, Sink, Stop, StreamDecoder } from './input.js';

const FRAME = 32768;
export const POSITION_BASE = new Uint32Array(42);
export const EXTRA_BITS = new Uint8Array(42);
for (let i = 0, off = 0; i < 42; i++) {
  POSITION_BASE[i] = off;
  EXTRA_BITS[i] = (i < 2 ? 0 : i - 2) >> 1;
  off += 2 ** EXTRA_BITS[i]!;
}
export const LENGTH_BASE = new Uint8Array(27);
export const LENGTH_EXTRA = new Uint8Array(27);
for (let i = 0, off = 0; i < 26; i++) {
  LENGTH_BASE[i] = off;
  LENGTH_EXTRA[i] = (i < 2 ? 0 : i - 2) >> 2;
  off += 1 << LENGTH_EXTRA[i]!;
}
LENGTH_BASE[26] = 254;

/** An adaptive frequency model: `sym[i]` with cumulative frequency `cum[i]` (cum[entries] = 0). */
export class Model {
  shiftsLeft = 4;
  readonly sym: Uint16Array;
  readonly cum: Uint16Array;
  constructor(start: number, readonly entries: number) {
    this.sym = new Uint16Array(entries + 1);
    this.cum = new Uint16Array(entries + 1);
    for (let i = 0; i <= entries; i++) { this.sym[i] = start + i; this.cum[i] = entries - i; }
  }
  update(): void {
    const { sym, cum, entries } = this;
    if (--this.shiftsLeft) {
      for (let i = entries - 1; i >= 0; i--) {
        cum[i] = cum[i]! >> 1;
        if (cum[i]! <= cum[i + 1]!) cum[i] = cum[i + 1]! + 1;
      }
      return;
    }
    this.shiftsLeft = 50;
    for (let i = 0; i < entries; i++) {
      cum[i] = cum[i]! - cum[i + 1]!;
      cum[i] = cum[i]! + 1;
      cum[i] = cum[i]! >> 1;
    }
    // Selection sort by decreasing frequency, with the same (in)stability as libmspack's.
    for (let i = 0; i < entries - 1; i++) {
      for (let j = i + 1; j < entries; j++) {
        if (cum[i]! < cum[j]!) {
          const s = sym[i]!, c = cum[i]!;
          sym[i] = sym[j]!; cum[i] = cum[j]!;
          sym[j] = s; cum[j] = c;
        }
      }
    }
    for (let i = entries - 1; i >= 0; i--) cum[i] = cum[i]! + cum[i + 1]!;
  }
}

export class QuantumDecoder implements StreamDecoder {
  private readonly window: Uint8Array;
  private readonly windowSize: number;
  private readonly inp: InputBuffer;
  private bb = 0;
  private bl = 0;
  private windowPosn = 0;
  private frameTodo = FRAME;
  private H = 0;
  private L = 0;
  private C = 0;
  private headerRead = false;
  private error = OK;
  private oPtr = 0;
  private oEnd = 0;
  private readonly lit: Model[];
  private readonly m4: Model;
  private readonly m5: Model;
  private readonly m6: Model;
  private readonly m6len: Model;
  private readonly m7: Model;

  /** `windowBits` must be 10..21 (the caller refuses others, as libmspack's constructor does). */
  constructor(src: ByteSource, windowBits: number) {
    this.windowSize = 2 ** windowBits;
    this.window = new Uint8Array(this.windowSize);
    this.inp = new InputBuffer(src);
    const i = windowBits * 2;
    this.lit = [new Model(0, 64), new Model(64, 64), new Model(128, 64), new Model(192, 64)];
    this.m4 = new Model(0, i > 24 ? 24 : i);
    this.m5 = new Model(0, i > 36 ? 36 : i);
    this.m6 = new Model(0, i);
    this.m6len = new Model(0, 27);
    this.m7 = new Model(0, 7);
  }

  private readWord(): void {
    const inp = this.inp;
    const b0 = inp.p < inp.end ? inp.buf[inp.p++]! : inp.byte();
    const b1 = inp.p < inp.end ? inp.buf[inp.p++]! : inp.byte();
    this.bb = this.bb * 65536 + ((b0 << 8) | b1);
    this.bl += 16;
  }

  private take(n: number): number {
    this.bl -= n;
    const v = Math.floor(this.bb / 2 ** this.bl) & ((1 << n) - 1);
    this.bb %= 2 ** this.bl;
    return v;
  }

  private bits(n: number): number {
    while (this.bl < n) this.readWord();
    return this.take(n);
  }

  /** libmspack's READ_MANY_BITS: refills whenever 16 bits fit, then takes what is there. */
  private manyBits(n: number): number {
    let v = 0;
    while (n > 0) {
      if (this.bl <= 16) this.readWord();
      const run = Math.min(this.bl, n);
      v = v * 2 ** run + this.take(run);
      n -= run;
    }
    return v;
  }

  private symbol(m: Model): number {
    const { sym, cum } = m;
    let range = ((this.H - this.L) & 0xffff) + 1;
    const num = (((this.C - this.L + 1) * cum[0]!) - 1) >>> 0;
    const symf = Math.floor(num / range) & 0xffff;
    let i = 1;
    for (; i < m.entries; i++) if (cum[i]! <= symf) break;
    const v = sym[i - 1]!;
    range = (this.H - this.L + 1) >>> 0;
    const total = cum[0]!;
    if (total === 0) throw new Stop(ERR_DECRUNCH);
    const hi = Math.floor((Math.imul(cum[i - 1]!, range) >>> 0) / total);
    const lo = Math.floor((Math.imul(cum[i]!, range) >>> 0) / total);
    this.H = (this.L + hi - 1) & 0xffff;
    this.L = (this.L + lo) & 0xffff;
    do { --i; cum[i] = cum[i]! + 8; } while (i > 0);
    if (cum[0]! > 3800) m.update();
    for (;;) {
      if ((this.L & 0x8000) !== (this.H & 0x8000)) {
        if ((this.L & 0x4000) && !(this.H & 0x4000)) {
          this.C ^= 0x4000;
          this.L &= 0x3fff;
          this.H |= 0x4000;
        } else break;
      }
      this.L = (this.L << 1) & 0xffff;
      this.H = ((this.H << 1) | 1) & 0xffff;
      this.C = ((this.C << 1) | this.bits(1)) & 0xffff;
    }
    return v;
  }

  decompress(outBytes: number, sink: Sink): number {
    if (this.error) return this.error;
    const win = this.window;
    let i = Math.min(this.oEnd - this.oPtr, outBytes);
    if (i > 0) {
      sink(win, this.oPtr, this.oPtr + i);
      this.oPtr += i;
      outBytes -= i;
    }
    if (outBytes === 0) return OK;
    try {
      while (this.oEnd - this.oPtr < outBytes) {
        if (!this.headerRead) {
          this.H = 0xffff;
          this.L = 0;
          this.C = this.bits(16);
          this.headerRead = true;
        }
        let frameEnd = this.windowPosn + (outBytes - (this.oEnd - this.oPtr));
        if (this.windowPosn + this.frameTodo < frameEnd) frameEnd = this.windowPosn + this.frameTodo;
        if (frameEnd > this.windowSize) frameEnd = this.windowSize;
        while (this.windowPosn < frameEnd) {
          const selector = this.symbol(this.m7);
          if (selector < 4) {
            win[this.windowPosn++] = this.symbol(this.lit[selector]!);
            this.frameTodo--;
            continue;
          }
          let matchOffset: number, matchLength: number, s: number;
          if (selector === 4) {
            s = this.symbol(this.m4);
            matchOffset = POSITION_BASE[s]! + this.manyBits(EXTRA_BITS[s]!) + 1;
            matchLength = 3;
          } else if (selector === 5) {
            s = this.symbol(this.m5);
            matchOffset = POSITION_BASE[s]! + this.manyBits(EXTRA_BITS[s]!) + 1;
            matchLength = 4;
          } else if (selector === 6) {
            s = this.symbol(this.m6len);
            matchLength = LENGTH_BASE[s]! + this.manyBits(LENGTH_EXTRA[s]!) + 5;
            s = this.symbol(this.m6);
            matchOffset = POSITION_BASE[s]! + this.manyBits(EXTRA_BITS[s]!) + 1;
          } else {
            throw new Stop(ERR_DECRUNCH);
          }
          this.frameTodo -= matchLength;
          const mask = this.windowSize - 1;
          if (this.windowPosn + matchLength > this.windowSize) {
            // The match wraps the window: flush up to the window's end between its two parts.
            let dst = this.windowPosn;
            let j = this.windowPosn - matchOffset;
            for (let k = this.windowSize - this.windowPosn; k > 0; k--) win[dst++] = win[j++ & mask]!;
            i = this.windowSize - this.oPtr;
            if (i > outBytes) throw new Stop(ERR_DECRUNCH);
            sink(win, this.oPtr, this.oPtr + i);
            outBytes -= i;
            this.oPtr = this.oEnd = 0;
            dst = 0;
            for (let k = matchLength - (this.windowSize - this.windowPosn); k > 0; k--) win[dst++] = win[j++ & mask]!;
            this.windowPosn = this.windowPosn + matchLength - this.windowSize;
            break;
          }
          let dst = this.windowPosn;
          let n = matchLength;
          if (matchOffset > this.windowPosn) {
            let j = matchOffset - this.windowPosn;
            if (j > this.windowSize) throw new Stop(ERR_DECRUNCH);
            let src = this.windowSize - j;
            if (j < n) {
              n -= j;
              while (j-- > 0) win[dst++] = win[src++]!;
              src = 0;
            }
            while (n-- > 0) win[dst++] = win[src++]!;
          } else {
            let src = dst - matchOffset;
            while (n-- > 0) win[dst++] = win[src++]!;
          }
          this.windowPosn += matchLength;
        }
        this.oEnd = this.windowPosn;
        if (this.frameTodo < 0 || this.frameTodo > FRAME) throw new Stop(ERR_DECRUNCH);
        if (this.frameTodo === 0) {
          if (this.bl & 7) this.take(this.bl & 7);
          while (this.bits(8) !== 0xff) { /* skip to the block trailer */ }
          this.headerRead = false;
          this.frameTodo = FRAME;
        }
        if (this.windowPosn === this.windowSize) {
          i = this.oEnd - this.oPtr;
          if (i >= outBytes) break;
          sink(win, this.oPtr, this.oPtr + i);
          outBytes -= i;
          this.oPtr = this.oEnd = 0;
          this.windowPosn = 0;
        }
      }
      if (outBytes) {
        sink(win, this.oPtr, this.oPtr + outBytes);
        this.oPtr += outBytes;
      }
      return OK;
    } catch (e) {
      if (e instanceof Stop) return (this.error = e.code === ERR_READ ? ERR_READ : ERR_DECRUNCH);
      throw e;
    }
  }
}
