/**
 * Pieces the compress decoders share: the result shape, a bounded growable output buffer and the
 * checksums the formats carry (CRC-32 both bit orders, CRC-64/XZ).
 *
 * In: nothing. Out: `DecodeResult` (what every decoder here returns: the bytes it produced, whether
 * the stream ended properly with its checks passed, and why not), `Sink` (an output buffer that
 * refuses to pass a limit) and the CRC functions.
 *
 * Why one shape: ZIP, 7z, NSIS and the compress readers call these decoders and need to tell three
 * cases apart without exceptions: a clean end (`complete`), damage (`error`, with what came before
 * still in `data`), and an output bound reached (`error === LIMIT`, `data` cut at the bound).
 */

export interface DecodeResult {
  /** The bytes produced, up to the damage or the bound. */
  data: Uint8Array;
  /** True when the stream ended where its format says it ends and every check it carries passed. */
  complete: boolean;
  /** Why the stream did not complete: `LIMIT` when the output bound was reached, else a reason. */
  error?: string;
  /** Input bytes the stream used, when the decoder knows (a complete raw deflate stream: up to its last whole byte). */
  inputEnd?: number;
}

/** The `error` of a decoder stopped by its output bound. */
export const LIMIT = 'limit';

/** The bounded output buffer the decoders write into (shared with the other readers). */
export { Sink } from '../unpack.js';

/** CRC-32 as in zlib, xz and 7z (reflected), over a whole buffer, continuing from a previous CRC. */
export { crc32 } from '../../core/crc32.js';

/** The table of bzip2's CRC-32 (not reflected, polynomial 0x04C11DB7). */
export const CRC32_BE_TABLE = (() => {
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c;
  }
  return t;
})();

/** CRC-64 as in xz (ECMA-182, reflected), kept as two 32-bit halves in the table. */
const CRC64_LO = new Int32Array(256), CRC64_HI = new Int32Array(256);
(() => {
  const polyLo = 0xd7870f42, polyHi = 0xc96c5795;
  for (let i = 0; i < 256; i++) {
    let lo = i, hi = 0;
    for (let k = 0; k < 8; k++) {
      const bit = lo & 1;
      lo = (lo >>> 1) | ((hi & 1) << 31);
      hi = hi >>> 1;
      if (bit) { lo ^= polyLo; hi ^= polyHi; }
    }
    CRC64_LO[i] = lo;
    CRC64_HI[i] = hi;
  }
})();

/** CRC-64/XZ of `b[from, to)`, as its 8 little-endian bytes. */
export function crc64(b: Uint8Array, from = 0, to = b.length): Uint8Array {
  let lo = -1, hi = -1;
  for (let i = from; i < to; i++) {
    const x = (lo ^ b[i]!) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ CRC64_LO[x]!;
    hi = (hi >>> 8) ^ CRC64_HI[x]!;
  }
  lo = ~lo; hi = ~hi;
  const out = new Uint8Array(8);
  for (let k = 0; k < 4; k++) { out[k] = (lo >>> (8 * k)) & 0xff; out[4 + k] = (hi >>> (8 * k)) & 0xff; }
  return out;
}

/** Little-endian unsigned 32-bit read; 0 past the end. */
export function u32le(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) | ((b[at + 1] ?? 0) << 8) | ((b[at + 2] ?? 0) << 16) | ((b[at + 3] ?? 0) << 24)) >>> 0;
}
