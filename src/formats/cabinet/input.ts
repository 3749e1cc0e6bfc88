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

/**
 * The output side of a reader that extracts files from one decompressed stream (a cabinet folder,
 * a CHM's LZX section): every byte the decoder writes advances the stream position `dOffset` and
 * spends the work `budget`; the bytes of the file being extracted (`out`, undefined while
 * skipping to its offset) are kept up to the file's cap (`maxOut` unless `begin` sets less).
 */
export class FolderOutput {
  dOffset = 0;
  out: Uint8Array | undefined;
  outLen = 0;
  private cap: number;

  constructor(readonly maxOut: number, public budget: number, private readonly step: number) {
    this.cap = maxOut;
  }

  readonly sink: Sink = (data, start, end) => {
    const n = end - start;
    this.dOffset += n;
    this.budget -= n;
    const out = this.out;
    if (!out) return;
    const k = Math.min(n, this.cap - this.outLen);
    if (k <= 0) return;
    let dst = out;
    if (this.outLen + k > out.length) {
      dst = new Uint8Array(Math.min(this.cap, Math.max(this.outLen + k, out.length * 2)));
      dst.set(out.subarray(0, this.outLen));
      this.out = dst;
    }
    dst.set(data.subarray(start, start + k), this.outLen);
    this.outLen += k;
  };

  /** Starts a file's output with room for `capacity` bytes; it grows up to `cap` (default `maxOut`). */
  begin(capacity: number, cap = this.maxOut): void {
    this.cap = Math.min(cap, this.maxOut);
    this.out = new Uint8Array(Math.max(0, Math.min(capacity, this.cap, 1 << 16)));
    this.outLen = 0;
  }

  /**
   * Runs `decoder` for `n` bytes in steps; -1 once the budget is spent, OK early when a file being
   * written is full, else the decoder's status.
   */
  run(decoder: StreamDecoder, n: number, writing: boolean): number {
    while (n > 0) {
      if (this.budget <= 0) return -1;
      if (writing && this.outLen >= this.cap) return OK;
      const step = Math.min(n, this.step);
      const err = decoder.decompress(step, this.sink);
      if (err) return err;
      n -= step;
    }
    return OK;
  }

  /** The file's bytes so far; the output is reset. */
  take(): Uint8Array {
    const data = this.out ? this.out.subarray(0, this.outLen) : new Uint8Array(0);
    this.out = undefined;
    this.outLen = 0;
    return data;
  }
}

/**
 * How much of the next file ClamAV's libmspack glue keeps (`max_size`), given the scan size used
 * so far: MaxFileSize, or less when that would pass MaxScanSize; undefined when the scan size is
 * spent and the archive ends there.
 */
export function mspackFileCap(limits: { maxFileSize: number; maxScanSize: number }, scanned: number): number | undefined {
  const { maxFileSize, maxScanSize } = limits;
  if (maxScanSize > 0 && scanned >= maxScanSize) return undefined;
  const want = maxFileSize > 0 ? maxFileSize : 0xffffffff;
  return maxScanSize > 0 && scanned + want >= maxScanSize ? maxScanSize - scanned : want;
}

/** The most a reader decodes for one archive, skipped parts included: MaxScanSize or 1 GiB, whichever is more. */
export const workBudget = (maxScanSize: number): number => Math.max(maxScanSize, 1 << 30);
