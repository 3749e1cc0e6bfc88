/**
 * zlib stream → its inflated bytes, keeping what came out before any damage.
 *
 * In: bytes that should be a zlib stream (RFC 1950 header, deflate data, Adler-32) and the most
 * bytes to produce. Out: the bytes inflated, how the stream ended (`end` after a good checksum,
 * `more` when the input ran out first, `error` at damage, `need-dict` for a preset dictionary) and
 * whether the output limit stopped it. Never throws.
 *
 * Why not Node's zlib: ClamAV's readers (PDF, SWF) drive zlib's `inflate()` themselves and keep
 * every byte written before an error (a corrupt block, a wrong checksum), while Node's zlib
 * functions throw the output away with the error. The header checks are zlib's; the deflate data
 * goes through the project's raw inflater (`../zipmethods/inflate.ts`), which stops where zlib
 * stops.
 */
import { inflateRaw, TRUNCATED } from '../zipmethods/inflate.js';
import { LIMIT } from '../compress/common.js';

export type InflateEnd = 'end' | 'more' | 'error' | 'need-dict';

export interface InflateResult {
  data: Uint8Array;
  end: InflateEnd;
  /** Set when the output reached `limit` with more to come. */
  limited: boolean;
}

const EMPTY = new Uint8Array(0);

/** Inflates a zlib stream; see the module comment. */
export function zlibInflate(input: Uint8Array, limit: number): InflateResult {
  const stop = (end: InflateEnd): InflateResult => ({ data: EMPTY, end, limited: false });
  if (input.length < 2) return stop('more');
  const cmf = input[0]!, flg = input[1]!;
  if (((cmf << 8) | flg) % 31 !== 0 || (cmf & 0x0f) !== 8 || (cmf >> 4) + 8 > 15) return stop('error');
  if (flg & 0x20) return stop(input.length < 6 ? 'more' : 'need-dict');
  const r = inflateRaw(input.subarray(2), Math.max(0, limit));
  if (r.error === LIMIT) return { data: r.data, end: 'more', limited: true };
  if (!r.complete) return { data: r.data, end: r.error === TRUNCATED ? 'more' : 'error', limited: false };
  // Adler-32 trailer.
  const pos = 2 + (r.inputEnd ?? input.length);
  if (pos + 4 > input.length) return { data: r.data, end: 'more', limited: false };
  const want = ((input[pos]! << 24) | (input[pos + 1]! << 16) | (input[pos + 2]! << 8) | input[pos + 3]!) >>> 0;
  return { data: r.data, end: adler32(r.data, r.data.length) === want ? 'end' : 'error', limited: false };
}

function adler32(b: Uint8Array, n: number): number {
  let a = 1, s = 0;
  for (let i = 0; i < n;) {
    const stop = Math.min(n, i + 3800);
    for (; i < stop; i++) { a += b[i]!; s += a; }
    a %= 65521; s %= 65521;
  }
  return ((s << 16) | a) >>> 0;
}
