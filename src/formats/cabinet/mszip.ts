/**
 * MSZIP (cabinet compression type 1) → bytes, as libmspack decodes it in ClamAV with its repair
 * mode on.
 *
 * In: the folder's compressed bytes as one stream (the data blocks one after another). Out: the
 * folder's bytes, on demand. Each frame starts at the next byte-aligned "CK" and is a deflate
 * stream (RFC 1951) whose matches may reach into the previous frame (the 32 KiB window is kept);
 * a frame produces at most 32 KiB.
 *
 * Damage, as libmspack's repair mode handles it: a frame that fails to inflate is kept as far as
 * it went and padded with zeros to 32 KiB, and decoding resumes at the next "CK" after the
 * position the decoder last saved; the end of the input (or a read error) ends the stream after
 * the frame in progress is written, and every later request fails.
 *
 * Why our own inflate: zlib's error handling differs (it keeps no partial frame, accepts
 * incomplete Huffman codes that libmspack refuses), and the frame/window rules are MSZIP's.
 */
import { Huffman } from './huffman.js';
import { ByteSource, ERR_READ, InputBuffer, OK, Sink, Stop, StreamDecoder } from './input.js';

const FRAME = 32768;

const LIT_LENGTHS = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LIT_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_OFFSETS = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const BITLEN_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** An inflate failure inside a frame (repaired), as opposed to a read failure (fatal). */
const BAD = -1;

export class MszipDecoder implements StreamDecoder {
  private readonly window = new Uint8Array(FRAME);
  private windowPosn = 0;
  private bytesOutput = 0;
  private oPtr = 0;
  private oEnd = 0;
  private readonly inp: InputBuffer;
  // Working bit state and the state last saved (restored after a repaired failure).
  private bb = 0;
  private bl = 0;
  private sbb = 0;
  private sbl = 0;
  private error = OK;
  private readonly lit = new Huffman(288, 9, false);
  private readonly dist = new Huffman(32, 7, false, 6);
  private readonly bitlen = new Huffman(19, 7, false);
  private readonly fixedLit = new Huffman(288, 9, false);
  private readonly fixedDist = new Huffman(32, 7, false, 6);
  private readonly lens = new Uint8Array(288 + 32);

  constructor(src: ByteSource) {
    this.inp = new InputBuffer(src);
    let i = 0;
    const fl = this.fixedLit.lens;
    while (i < 144) fl[i++] = 8;
    while (i < 256) fl[i++] = 9;
    while (i < 280) fl[i++] = 7;
    while (i < 288) fl[i++] = 8;
    this.fixedLit.build(288);
    this.fixedDist.lens.fill(5, 0, 32);
    this.fixedDist.build(32);
  }

  private store(): void { this.sbb = this.bb; this.sbl = this.bl; this.inp.sp = this.inp.p; this.inp.send = this.inp.end; }
  private restore(): void { this.bb = this.sbb; this.bl = this.sbl; this.inp.p = this.inp.sp; this.inp.end = this.inp.send; }

  private ensure(n: number): void {
    const inp = this.inp;
    while (this.bl < n) {
      if (inp.p >= inp.end) inp.fill();
      this.bb |= inp.buf[inp.p++]! << this.bl;
      this.bl += 8;
    }
  }

  private bits(n: number): number {
    this.ensure(n);
    const v = this.bb & ((1 << n) - 1);
    this.bb >>>= n;
    this.bl -= n;
    return v;
  }

  private sym(h: Huffman): number {
    this.ensure(16);
    const e = h.decode(this.bb & 0xffff);
    const len = e >>> 16;
    this.bb >>>= len;
    this.bl -= len;
    return e & 0xffff;
  }

  /** Counts `n` window bytes as output; false past one frame (libmspack's flush check). */
  private flush(n: number): boolean {
    this.bytesOutput += n;
    return this.bytesOutput <= FRAME;
  }

  private put(b: number): void {
    this.window[this.windowPosn++] = b;
    if (this.windowPosn === FRAME) {
      if (!this.flush(FRAME)) throw new Stop(BAD);
      this.windowPosn = 0;
    }
  }

  private readLens(): void {
    this.restore();
    const litCodes = this.bits(5) + 257;
    const distCodes = this.bits(5) + 1;
    const blCodes = this.bits(4) + 4;
    if (litCodes > 288 || distCodes > 32) throw new Stop(BAD);
    const bl = this.bitlen.lens;
    let i = 0;
    for (; i < blCodes; i++) bl[BITLEN_ORDER[i]!] = this.bits(3);
    for (; i < 19; i++) bl[BITLEN_ORDER[i]!] = 0;
    if (!this.bitlen.build(19)) throw new Stop(BAD);
    const total = litCodes + distCodes;
    const lens = this.lens;
    let last = 0;
    for (i = 0; i < total;) {
      // A 7-bit lookahead only, as libmspack reads these codes.
      this.ensure(7);
      const e = this.bitlen.decode(this.bb & 0x7f);
      const code = e & 0xffff;
      this.bb >>>= e >>> 16;
      this.bl -= e >>> 16;
      if (code < 16) { lens[i++] = last = code; continue; }
      let run: number, v: number;
      if (code === 16) { run = this.bits(2) + 3; v = last; }
      else if (code === 17) { run = this.bits(3) + 3; v = 0; }
      else { run = this.bits(7) + 11; v = 0; }
      if (i + run > total) throw new Stop(BAD);
      while (run-- > 0) lens[i++] = v;
    }
    this.lit.lens.set(lens.subarray(0, litCodes));
    this.lit.lens.fill(0, litCodes, 288);
    this.dist.lens.set(lens.subarray(litCodes, total));
    this.dist.lens.fill(0, distCodes, 32);
    this.store();
  }

  /** One frame: deflate blocks up to the last one. OK, BAD, or ERR_READ. */
  private inflate(): number {
    try {
      this.restore();
      const win = this.window;
      let last: number;
      do {
        last = this.bits(1);
        const type = this.bits(2);
        if (type === 0) {
          this.bits(this.bl & 7);
          const hdr = [0, 0, 0, 0];
          let i = 0;
          for (; this.bl >= 8; i++) {
            if (i === 4) return BAD;
            hdr[i] = this.bb & 0xff;
            this.bb >>>= 8;
            this.bl -= 8;
          }
          if (this.bl !== 0) return BAD;
          while (i < 4) hdr[i++] = this.inp.byte();
          let length = hdr[0]! | (hdr[1]! << 8);
          const nlen = hdr[2]! | (hdr[3]! << 8);
          if (length !== (~nlen & 0xffff)) return BAD;
          const inp = this.inp;
          while (length > 0) {
            if (inp.p >= inp.end) inp.fill();
            const run = Math.min(length, inp.end - inp.p, FRAME - this.windowPosn);
            win.set(inp.buf.subarray(inp.p, inp.p + run), this.windowPosn);
            this.windowPosn += run;
            inp.p += run;
            length -= run;
            if (this.windowPosn === FRAME) {
              if (!this.flush(FRAME)) return BAD;
              this.windowPosn = 0;
            }
          }
        } else if (type === 1 || type === 2) {
          let lit = this.fixedLit, dist = this.fixedDist;
          if (type === 2) {
            this.store();
            this.readLens();
            this.restore();
            if (!this.lit.build(288)) return BAD;
            if (!this.dist.build(32)) return BAD;
            lit = this.lit;
            dist = this.dist;
          }
          for (;;) {
            let code = this.sym(lit);
            if (code < 256) { this.put(code); continue; }
            if (code === 256) break;
            code -= 257;
            if (code >= 29) return BAD;
            let length = this.bits(LIT_EXTRA[code]!) + LIT_LENGTHS[code]!;
            code = this.sym(dist);
            if (code >= 30) return BAD;
            const distance = this.bits(DIST_EXTRA[code]!) + DIST_OFFSETS[code]!;
            let from = (distance > this.windowPosn ? FRAME : 0) + this.windowPosn - distance;
            while (length-- > 0) {
              this.put(win[from]!);
              from = (from + 1) & (FRAME - 1);
            }
          }
        } else {
          return BAD;
        }
      } while (!last);
      if (this.windowPosn && !this.flush(this.windowPosn)) return BAD;
      this.store();
      return OK;
    } catch (e) {
      if (e instanceof Stop) return e.code === ERR_READ ? ERR_READ : BAD;
      throw e;
    }
  }

  decompress(outBytes: number, sink: Sink): number {
    if (this.error) return this.error;
    let i = Math.min(this.oEnd - this.oPtr, outBytes);
    if (i > 0) {
      sink(this.window, this.oPtr, this.oPtr + i);
      this.oPtr += i;
      outBytes -= i;
    }
    while (outBytes > 0) {
      try {
        this.restore();
        this.bits(this.bl & 7);
        let state = 0;
        do {
          const c = this.bits(8);
          if (c === 0x43) state = 1;
          else if (state === 1 && c === 0x4b) state = 2;
          else state = 0;
        } while (state !== 2);
        this.store();
      } catch (e) {
        if (e instanceof Stop) return (this.error = e.code);
        throw e;
      }
      this.windowPosn = 0;
      this.bytesOutput = 0;
      const err = this.inflate();
      if (err !== OK) {
        if (err === ERR_READ) this.error = ERR_READ;
        if (this.bytesOutput === 0 && this.windowPosn > 0) this.flush(this.windowPosn);
        if (this.bytesOutput < FRAME) this.window.fill(0, this.bytesOutput, FRAME);
        this.bytesOutput = FRAME;
      }
      this.oPtr = 0;
      this.oEnd = this.bytesOutput;
      i = Math.min(outBytes, this.bytesOutput);
      sink(this.window, 0, i);
      if (err === ERR_READ) return err;
      this.oPtr += i;
      outBytes -= i;
    }
    return OK;
  }
}
