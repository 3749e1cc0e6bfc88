/**
 * One ZIP entry's compressed bytes → the files ClamAV 1.4 scans for it (its `unz()`).
 *
 * In: the entry's data (exactly its compressed size), method, general-purpose flags, declared
 * uncompressed size and MaxFileSize (0 for none). Out: the outputs in the order ClamAV scans them
 * (none, one, or two for a stored entry that also inflates), and how many files ClamAV counts as
 * unzipped (its `num_files_unzipped`, which drives its MaxFiles check and the local-header walk).
 *
 * What ClamAV extracts: stored (cut at MaxFileSize exactly), deflate, Deflate64, bzip2 and
 * implode. Other methods (LZMA included: "not a single sample in the zoo", shrink, reduce, PPMd,
 * WavPack, AES's 99…) give nothing. A decoder's output is scanned when the stream ended, when the
 * input ran out first (zlib's Z_BUF_ERROR, libbzip2's BZ_OK, explode's end of bits) or when it
 * passed MaxFileSize; it is dropped on damage, even with bytes already produced. ClamAV writes
 * decoded bytes in 8 KiB pieces and stops before the piece that passes MaxFileSize, so a bomb
 * gives its first floor(MaxFileSize / 8192) × 8192 bytes (nothing skipped, no limit reported).
 *
 * A stored entry whose compressed size is below its declared size is first tried as deflate: when
 * that gives something, it is scanned, then the stored bytes too; when it fails, ClamAV scans an
 * empty temporary file (nothing here) and still counts two files.
 */
import { constants, inflateRawSync } from 'node:zlib';
import { bunzip2 } from '../compress/bzip2.js';
import { LIMIT, type DecodeResult } from '../compress/common.js';
import { explode } from './explode.js';
import { inflateRaw, TRUNCATED } from './inflate.js';

export const METHOD_STORED = 0;
export const METHOD_IMPLODE = 6;
export const METHOD_DEFLATE = 8;
export const METHOD_DEFLATE64 = 9;
export const METHOD_BZIP2 = 12;
export const METHOD_LZMA = 14;

/** ClamAV's output buffer (BUFSIZ): decoded bytes are written, and limits checked, in pieces of this size. */
export const CLAM_PIECE = 8192;
/** The bound used when MaxFileSize is 0 (unlimited): ClamAV cannot scan files over 2 GiB either. */
export const HARD_OUTPUT_CAP = 1 << 30;

export interface UnzResult {
  /** What ClamAV scans, in order. */
  outputs: Uint8Array[];
  /** Files ClamAV counts as unzipped for this entry. */
  unzipped: number;
}

/** What ClamAV keeps of a decoder's result: the bytes, or undefined when it drops them. */
function kept(r: DecodeResult, maxFileSize: number): Uint8Array | undefined {
  if (r.error === LIMIT) return r.data.subarray(0, maxFileSize > 0 ? Math.floor(maxFileSize / CLAM_PIECE) * CLAM_PIECE : r.data.length);
  if (r.complete || r.error === TRUNCATED || r.error === 'truncated') return r.data;
  return undefined;
}

/** Raw deflate as zlib gives it (truncation is not an error); our decoder at the bound. */
function inflateClam(data: Uint8Array, maxFileSize: number): Uint8Array | undefined {
  const cap = maxFileSize > 0 ? maxFileSize : HARD_OUTPUT_CAP;
  try {
    return inflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: cap });
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ERR_BUFFER_TOO_LARGE') return undefined;
  }
  return kept(inflateRaw(data, cap, false), maxFileSize);
}

/**
 * bzip2 as libbzip2 ends it for ClamAV: input running out anywhere (even inside a block's tables)
 * is BZ_OK, never an error. The decoder may name such an end by the check that saw the missing
 * bits, so an error is taken for truncation when it is in the last block and that block runs to
 * the end of the input: no end-of-stream mark follows the last block mark, and decoding only up to
 * that block mark gives the same bytes.
 */
function bunzip2Clam(data: Uint8Array, cap: number): DecodeResult {
  const r = bunzip2(data, cap, { firstStreamOnly: true });
  if (r.complete || r.error === LIMIT || r.error === 'truncated') return r;
  const last = lastBlockMark(data);
  if (last === undefined) return r;
  const before = bunzip2(data.subarray(0, (last + 7) >>> 3), cap, { firstStreamOnly: true });
  return before.data.length === r.data.length ? { data: r.data, complete: false, error: TRUNCATED } : r;
}

/**
 * The bit offset of the last block mark (0x314159265359) when no end-of-stream mark
 * (0x177245385090) comes after it; undefined otherwise. Marks are not byte-aligned.
 */
function lastBlockMark(data: Uint8Array): number | undefined {
  let hi = 0, lo = 0, last: number | undefined;
  for (let i = 0; i < data.length; i++) {
    const byte = data[i]!;
    for (let k = 7; k >= 0; k--) {
      hi = ((hi << 1) | (lo >>> 23)) & 0xffffff;
      lo = ((lo << 1) | ((byte >>> k) & 1)) & 0xffffff;
      const end = i * 8 + (7 - k) + 1;
      if (hi === 0x314159 && lo === 0x265359) last = end - 48;
      else if (hi === 0x177245 && lo === 0x385090 && last !== undefined) last = undefined;
    }
  }
  return last;
}

/** One method's output as ClamAV keeps it, or undefined. */
export function decodeClam(method: number, flags: number, data: Uint8Array, maxFileSize: number): Uint8Array | undefined {
  const cap = maxFileSize > 0 ? maxFileSize : HARD_OUTPUT_CAP;
  switch (method) {
    case METHOD_DEFLATE: return inflateClam(data, maxFileSize);
    case METHOD_DEFLATE64: return kept(inflateRaw(data, cap, true), maxFileSize);
    case METHOD_BZIP2: return kept(bunzip2Clam(data, cap), maxFileSize);
    case METHOD_IMPLODE: return kept(explode(data, flags, cap), maxFileSize);
    default: return undefined;
  }
}

/** ClamAV's `unz()` for one unencrypted entry. Never throws. */
export function unz(data: Uint8Array, usize: number, method: number, flags: number, maxFileSize: number): UnzResult {
  if (method !== METHOD_STORED) {
    const out = decodeClam(method, flags, data, maxFileSize);
    return out ? { outputs: [out], unzipped: 1 } : { outputs: [], unzipped: 0 };
  }
  const stored = maxFileSize > 0 && data.length > maxFileSize ? data.subarray(0, maxFileSize) : data;
  if (data.length >= usize) return { outputs: [stored], unzipped: 1 };
  const inflated = inflateClam(data, maxFileSize);
  return inflated ? { outputs: [inflated, stored], unzipped: 2 } : { outputs: [], unzipped: 2 };
}
