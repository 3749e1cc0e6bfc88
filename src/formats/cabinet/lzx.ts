/**
 * LZX (cabinet compression type 3, CHM's MSCompressed section) → bytes, following the rules of
 * libmspack's decoder, which ClamAV uses.
 *
 * In: the compressed stream, the window size (2^15..2^21), the reset interval in 32 KiB frames (0
 * for none: cabinets) and the output length when known. Out: the bytes on demand, one 32 KiB frame
 * at a time (the last frame shorter when the length is known).
 *
 * The stream: 16-bit little-endian words read most significant bit first. A header bit says
 * whether E8 call translation is on (then a 32-bit "file size"). Blocks: verbatim (main tree of
 * literals and match headers, length tree), aligned offset (an 8-symbol tree for the low 3 bits of
 * long offsets) and uncompressed (byte aligned, three repeated offsets, raw bytes, padded to even
 * length). Trees are sent as deltas to the previous lengths through a 20-symbol pretree. Matches
 * use three repeated offsets (R0, R1, R2) and position slots; a frame ends on a 16-bit boundary.
 * After each frame, E8 translation turns absolute call targets back into relative ones, on a copy.
 *
 * Any error is sticky: later requests fail and the caller keeps what was written.
 */
import { Huffman } from './huffman.js';
import { ByteSource, ERR_DECRUNCH, ERR_READ, InputBuffer, OK, Sink, Stop, StreamDecoder } from './input.js';

const FRAME = 32768;
const NUM_CHARS = 256;
const MAIN_MAXSYMBOLS = NUM_CHARS + 290 * 8;
const LENGTH_MAXSYMBOLS = 250;
const NUM_SECONDARY_LENGTHS = 249;
const VERBATIM = 1, ALIGNED = 2, UNCOMPRESSED = 3;

const POSITION_SLOTS = [30, 32, 34, 36, 38, 42, 50, 66, 98, 162, 290];
const EXTRA_BITS = new Uint8Array(290);
const POSITION_BASE = new Uint32Array(290);
for (let i = 0; i < 290; i++) {
  EXTRA_BITS[i] = i < 4 ? 0 : i < 36 ? (i >> 1) - 1 : 17;
  if (i > 0) POSITION_BASE[i] = POSITION_BASE[i - 1]! + 2 ** EXTRA_BITS[i - 1]!;
}
const MASKS = new Int32Array(33);
for (let i = 0; i < 32; i++) MASKS[i] = (2 ** i - 1) | 0;
MASKS[32] = -1;

export class LzxDecoder implements StreamDecoder {
  private readonly window: Uint8Array;
  private readonly windowSize: number;
  private readonly numOffsets: number;
  private readonly e8 = new Uint8Array(FRAME);
  private readonly inp: InputBuffer;
  private bb = 0;
  private bl = 0;
  /** Bytes output so far (relative to the stream start). */
  private offset = 0;
  private length: number;
  private windowPosn = 0;
  private framePosn = 0;
  private frame = 0;
  private R0 = 1;
  private R1 = 1;
  private R2 = 1;
  private headerRead = false;
  private blockRemaining = 0;
  private blockLength = 0;
  private blockType = 0;
  private intelFilesize = 0;
  private intelStarted = false;
  private error = OK;
  private oBuf: Uint8Array;
  private oPtr = 0;
  private oEnd = 0;
  private readonly pretree = new Huffman(20, 6, true);
  // libmspack's table sizes decide which codes it accepts (see huffman.ts): 6, 12, 12 and 7 bits.
  private readonly main = new Huffman(MAIN_MAXSYMBOLS, 10, true, 12);
  private readonly lengthTree = new Huffman(LENGTH_MAXSYMBOLS, 10, true, 12);
  private lengthEmpty = false;
  private readonly aligned = new Huffman(8, 7, true);

  /**
   * `windowBits` must be 15..21 (the caller refuses others, as libmspack's constructor does);
   * `resetInterval` in frames (0: never); `outputLength` 0 when unknown.
   */
  constructor(src: ByteSource, windowBits: number, private readonly resetInterval: number, outputLength: number) {
    this.windowSize = 2 ** windowBits;
    this.window = new Uint8Array(this.windowSize);
    this.numOffsets = POSITION_SLOTS[windowBits - 15]! << 3;
    this.length = outputLength;
    this.inp = new InputBuffer(src);
    this.oBuf = this.window;
    this.resetState();
  }

  /** The total output length, once known (cabinets learn it at the last data block). */
  setOutputLength(n: number): void { if (n > 0) this.length = n; }

  private resetState(): void {
    this.R0 = this.R1 = this.R2 = 1;
    this.headerRead = false;
    this.blockRemaining = 0;
    this.blockType = 0;
    this.main.lens.fill(0, 0, MAIN_MAXSYMBOLS);
    this.lengthTree.lens.fill(0, 0, LENGTH_MAXSYMBOLS);
  }

  private ensure(n: number): void {
    const inp = this.inp;
    while (this.bl < n) {
      const b0 = inp.p < inp.end ? inp.buf[inp.p++]! : inp.byte();
      const b1 = inp.p < inp.end ? inp.buf[inp.p++]! : inp.byte();
      this.bb = this.bb * 65536 + ((b1 << 8) | b0);
      this.bl += 16;
    }
  }

  private bits(n: number): number {
    if (n === 0) return 0;
    this.ensure(n);
    this.bl -= n;
    const v = (this.bb >>> this.bl) & MASKS[n]!;
    this.bb = (this.bb & MASKS[this.bl]!) >>> 0;
    return v;
  }

  private drop(n: number): void {
    this.bl -= n;
    this.bb = (this.bb & MASKS[this.bl]!) >>> 0;
  }

  private sym(h: Huffman): number {
    this.ensure(16);
    const e = h.decode((this.bb >>> (this.bl - 16)) & 0xffff);
    this.drop(e >>> 16);
    return e & 0xffff;
  }

  private readLens(lens: Uint8Array, first: number, last: number): void {
    const pl = this.pretree.lens;
    for (let x = 0; x < 20; x++) pl[x] = this.bits(4);
    if (!this.pretree.build(20)) throw new Stop(ERR_DECRUNCH);
    for (let x = first; x < last;) {
      let z = this.sym(this.pretree);
      if (z === 17) {
        let y = this.bits(4) + 4;
        while (y-- > 0) lens[x++] = 0;
      } else if (z === 18) {
        let y = this.bits(5) + 20;
        while (y-- > 0) lens[x++] = 0;
      } else if (z === 19) {
        let y = this.bits(1) + 4;
        z = this.sym(this.pretree);
        z = lens[x]! - z;
        if (z < 0) z += 17;
        while (y-- > 0) lens[x++] = z;
      } else {
        z = lens[x]! - z;
        if (z < 0) z += 17;
        lens[x++] = z;
      }
    }
  }

  private readBlockHeader(): void {
    if (this.blockType === UNCOMPRESSED && (this.blockLength & 1)) this.inp.byte();
    this.blockType = this.bits(3);
    const hi = this.bits(16);
    const lo = this.bits(8);
    this.blockRemaining = this.blockLength = hi * 256 + lo;
    switch (this.blockType) {
      case ALIGNED:
      case VERBATIM: {
        if (this.blockType === ALIGNED) {
          for (let i = 0; i < 8; i++) this.aligned.lens[i] = this.bits(3);
          if (!this.aligned.build(8)) throw new Stop(ERR_DECRUNCH);
        }
        const ml = this.main.lens;
        this.readLens(ml, 0, 256);
        this.readLens(ml, 256, NUM_CHARS + this.numOffsets);
        if (!this.main.build(MAIN_MAXSYMBOLS)) throw new Stop(ERR_DECRUNCH);
        if (ml[0xe8] !== 0) this.intelStarted = true;
        this.readLens(this.lengthTree.lens, 0, NUM_SECONDARY_LENGTHS);
        this.lengthEmpty = false;
        if (!this.lengthTree.build(LENGTH_MAXSYMBOLS)) {
          const ll = this.lengthTree.lens;
          for (let i = 0; i < LENGTH_MAXSYMBOLS; i++) if (ll[i]! > 0) throw new Stop(ERR_DECRUNCH);
          this.lengthEmpty = true;
        }
        break;
      }
      case UNCOMPRESSED: {
        this.intelStarted = true;
        if (this.bl === 0) this.ensure(16);
        this.bl = 0;
        this.bb = 0;
        const r = [0, 0, 0];
        for (let k = 0; k < 3; k++) {
          const b0 = this.inp.byte(), b1 = this.inp.byte(), b2 = this.inp.byte(), b3 = this.inp.byte();
          r[k] = (b0 | (b1 << 8) | (b2 << 16)) + b3 * 0x1000000;
        }
        this.R0 = r[0]!;
        this.R1 = r[1]!;
        this.R2 = r[2]!;
        break;
      }
      default:
        throw new Stop(ERR_DECRUNCH);
    }
  }

  /** Decodes `run` more bytes of the current block into the window; returns the overrun (≥ 0). */
  private decodeRun(run: number): number {
    const win = this.window;
    if (this.blockType === UNCOMPRESSED) {
      const inp = this.inp;
      while (run > 0) {
        if (inp.p >= inp.end) { inp.fill(); continue; }
        const k = Math.min(inp.end - inp.p, run);
        win.set(inp.buf.subarray(inp.p, inp.p + k), this.windowPosn);
        this.windowPosn += k;
        inp.p += k;
        run -= k;
      }
      return 0;
    }
    const isAligned = this.blockType === ALIGNED;
    let posn = this.windowPosn;
    try {
      while (run > 0) {
        let el = this.sym(this.main);
        if (el < NUM_CHARS) {
          win[posn++] = el;
          run--;
          continue;
        }
        el -= NUM_CHARS;
        let matchLength = el & 7;
        if (matchLength === 7) {
          if (this.lengthEmpty) throw new Stop(ERR_DECRUNCH);
          matchLength += this.sym(this.lengthTree);
        }
        matchLength += 2;
        let slot = el >>> 3;
        let matchOffset: number;
        if (slot === 0) matchOffset = this.R0;
        else if (slot === 1) { matchOffset = this.R1; this.R1 = this.R0; this.R0 = matchOffset; }
        else if (slot === 2) { matchOffset = this.R2; this.R2 = this.R0; this.R0 = matchOffset; }
        else {
          if (slot >= 290) slot = 289; // cannot happen: the main tree has 290 slots at most
          const extra = EXTRA_BITS[slot]!;
          matchOffset = POSITION_BASE[slot]! - 2;
          if (extra >= 3 && isAligned) {
            if (extra > 3) matchOffset += this.bits(extra - 3) << 3;
            matchOffset += this.sym(this.aligned);
          } else if (extra) {
            matchOffset += this.bits(extra);
          }
          this.R2 = this.R1;
          this.R1 = this.R0;
          this.R0 = matchOffset;
        }
        if (posn + matchLength > this.windowSize) throw new Stop(ERR_DECRUNCH);
        let dst = posn;
        let i = matchLength;
        if (matchOffset > posn) {
          if (matchOffset > this.offset) throw new Stop(ERR_DECRUNCH);
          let j = matchOffset - posn;
          if (j > this.windowSize) throw new Stop(ERR_DECRUNCH);
          let src = this.windowSize - j;
          if (j < i) {
            i -= j;
            while (j-- > 0) win[dst++] = win[src++]!;
            src = 0;
          }
          while (i-- > 0) win[dst++] = win[src++]!;
        } else {
          let src = dst - matchOffset;
          while (i-- > 0) win[dst++] = win[src++]!;
        }
        run -= matchLength;
        posn += matchLength;
      }
    } finally {
      this.windowPosn = posn;
    }
    return -run;
  }

  decompress(outBytes: number, sink: Sink): number {
    if (this.error) return this.error;
    let i = Math.min(this.oEnd - this.oPtr, outBytes);
    if (i > 0) {
      sink(this.oBuf, this.oPtr, this.oPtr + i);
      this.oPtr += i;
      this.offset += i;
      outBytes -= i;
    }
    if (outBytes === 0) return OK;
    try {
      const endFrame = Math.floor((this.offset + outBytes) / FRAME) + 1;
      while (this.frame < endFrame) {
        if (this.resetInterval && this.frame % this.resetInterval === 0) this.resetState();
        if (!this.headerRead) {
          let hi = 0, lo = 0;
          if (this.bits(1)) { hi = this.bits(16); lo = this.bits(16); }
          this.intelFilesize = ((hi << 16) | lo) | 0;
          this.headerRead = true;
        }
        let frameSize = FRAME;
        if (this.length && this.length - this.offset < frameSize) frameSize = this.length - this.offset;
        if (frameSize < 0) throw new Stop(ERR_DECRUNCH);
        let todo = this.framePosn + frameSize - this.windowPosn;
        while (todo > 0) {
          if (this.blockRemaining === 0) this.readBlockHeader();
          const run = Math.min(this.blockRemaining, todo);
          todo -= run;
          this.blockRemaining -= run;
          const over = this.decodeRun(run);
          if (over > 0) {
            if (over > this.blockRemaining) throw new Stop(ERR_DECRUNCH);
            this.blockRemaining -= over;
          }
        }
        if (this.windowPosn - this.framePosn !== frameSize) throw new Stop(ERR_DECRUNCH);
        if (this.bl > 0) this.ensure(16);
        if (this.bl & 15) this.drop(this.bl & 15);
        if (this.oPtr !== this.oEnd) throw new Stop(ERR_DECRUNCH);
        if (this.intelStarted && this.intelFilesize && this.frame < 32768 && frameSize > 10) {
          this.translateE8(frameSize);
        } else {
          this.oBuf = this.window;
          this.oPtr = this.framePosn;
        }
        this.oEnd = this.oPtr + frameSize;
        i = Math.min(outBytes, frameSize);
        sink(this.oBuf, this.oPtr, this.oPtr + i);
        this.oPtr += i;
        this.offset += i;
        outBytes -= i;
        this.framePosn += frameSize;
        this.frame++;
        if (this.windowPosn === this.windowSize) this.windowPosn = 0;
        if (this.framePosn === this.windowSize) this.framePosn = 0;
      }
      if (outBytes) throw new Stop(ERR_DECRUNCH);
      return OK;
    } catch (e) {
      if (e instanceof Stop) return (this.error = e.code === ERR_READ ? ERR_READ : ERR_DECRUNCH);
      throw e;
    }
  }

  private translateE8(frameSize: number): void {
    const d = this.e8;
    d.set(this.window.subarray(this.framePosn, this.framePosn + frameSize));
    this.oBuf = d;
    this.oPtr = 0;
    let curpos = this.offset | 0;
    const filesize = this.intelFilesize;
    const end = frameSize - 10;
    let p = 0;
    while (p < end) {
      if (d[p++] !== 0xe8) { curpos++; continue; }
      const abs = d[p]! | (d[p + 1]! << 8) | (d[p + 2]! << 16) | (d[p + 3]! << 24);
      if (abs >= -curpos && abs < filesize) {
        const rel = (abs >= 0 ? abs - curpos : abs + filesize) | 0;
        d[p] = rel & 0xff;
        d[p + 1] = (rel >>> 8) & 0xff;
        d[p + 2] = (rel >>> 16) & 0xff;
        d[p + 3] = (rel >>> 24) & 0xff;
      }
      p += 4;
      curpos += 5;
    }
  }
}
