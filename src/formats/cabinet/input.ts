/**
 * The compressed-input side shared by the Microsoft decompressors (MSZIP, LZX, Quantum).
 *
 * In: a `ByteSource` that hands out compressed bytes in requested amounts (fewer at its end, -1
 * on a read error). Out: an input buffer refilled 4096 bytes at a time, with libmspack's rule for
 * the end of input: the first empty read yields two zero bytes (decoders may look ahead past the
 * last code), the second is a read error. Decoders stop by throwing `Stop` internally and turn
 * it into a status before returning; nothing escapes to the readers.
 */

/** Compressed bytes in order; `read` returns how many it copied into `dst`, or -1 on error. */
export interface ByteSource {
  read(dst: Uint8Array, n: number): number;
}

/** Status codes (the values libmspack uses, for the few places that compare them). */
export const OK = 0;
export const ERR_READ = 3;
export const ERR_DATAFORMAT = 7;
export const ERR_DECRUNCH = 11;

/** Internal early exit of a decoder, with its status. */
export class Stop {
  constructor(readonly code: number) {}
}

export class InputBuffer {
  readonly buf: Uint8Array;
  /** Next byte to read and end of the valid bytes. */
  p = 0;
  end = 0;
  /** The two padding bytes were given. */
  inputEnd = false;
  /** Saved position, updated by a refill as libmspack's refill updates its stored pointers. */
  sp = 0;
  send = 0;

  constructor(readonly src: ByteSource, size = 4096) {
    this.buf = new Uint8Array(size);
  }

  /** Refills the buffer; throws `Stop(ERR_READ)` on a read error or after the padding was used. */
  fill(): void {
    let n = this.src.read(this.buf, this.buf.length);
    if (n < 0) throw new Stop(ERR_READ);
    if (n === 0) {
      if (this.inputEnd) throw new Stop(ERR_READ);
      this.buf[0] = 0;
      this.buf[1] = 0;
      n = 2;
      this.inputEnd = true;
    }
    this.p = this.sp = 0;
    this.end = this.send = n;
  }

  /** The next byte, refilling when needed. */
  byte(): number {
    if (this.p >= this.end) this.fill();
    return this.buf[this.p++]!;
  }
}

/** A `ByteSource` over a slice of bytes from `pos` on (CHM content, tests). */
export class SliceSource implements ByteSource {
  constructor(private readonly bytes: Uint8Array, public pos: number) {}
  read(dst: Uint8Array, n: number): number {
    const k = Math.max(0, Math.min(n, this.bytes.length - this.pos));
    if (k > 0) dst.set(this.bytes.subarray(this.pos, this.pos + k));
    this.pos += k;
    return k;
  }
}

/** Where a decoder writes its output: `data[start, end)`, all of which is taken. */
export type Sink = (data: Uint8Array, start: number, end: number) => void;

/** A decoder that produces a stream on demand (libmspack's `decompress(state, bytes)`). */
export interface StreamDecoder {
  /** Writes the next `outBytes` bytes to `sink`; OK, or an error status (sticky where libmspack's is). */
  decompress(outBytes: number, sink: Sink): number;
}
