/**
 * Raw deflate as ClamAV's HWP reader inflates it (`decompress_and_callback` in hwp.c): HWP 3
 * document bodies, HWP 5 streams and HWPML `binData` marked `Compress="true"`.
 *
 * In: the compressed bytes, the scan's limits. Out: `{ data, state, limited }`:
 * - `state` `ended` or `wanting` (the input ran out first): ClamAV hands `data` to the format's
 *   own parser (HWP 3) or scans it;
 * - `error`: damaged data; `data` is what came before the damage (ClamAV scans it when it is not
 *   empty, without parsing it);
 * - `limited`: the output passed MaxFileSize (or what is left of MaxScanSize). ClamAV checks the
 *   limits on each piece of output its inflate loop produces (8 KiB output buffer, input read
 *   8 KiB at a time) and stops before the piece that passes them; what it wrote before is scanned
 *   as is (not parsed) and the limit is alerted. `data` is exactly those pieces.
 * - `limited` `MaxFiles`: the file's layer count was already at MaxFiles, so ClamAV stops before
 *   writing anything.
 *
 * Why the pieces: a hash of the cut output only matches when it is cut where ClamAV cuts it. The
 * output after the first k input pieces is what a one-shot inflation of that input prefix gives,
 * so the piece boundary below the limit is found by bisection over input prefixes (a few bounded
 * inflations); the cut output itself comes from a decoder that stops at an exact byte count.
 * Never throws.
 */
import type { LimitName, UnpackContext } from '../unpack.js';
import { inflateLikeClamav, type InflateState } from './inflate.js';
import { inflateRaw } from '../zipmethods/inflate.js';
import { LIMIT } from '../compress/common.js';

/** ClamAV's FILEBUFF: the input read and output buffer sizes of its inflate loop. */
const PIECE = 8192;
/** Output bound when MaxFileSize is 0 (no limit): more than any layer vigil keeps in memory. */
const NO_LIMIT_CAP = 0x7fffffff;

export interface HwpInflated {
  data: Uint8Array;
  state: InflateState;
  /** Set when a limit stopped the output: `data` is what ClamAV scans, and the limit is alerted. */
  limited?: LimitName;
}

/**
 * `consumed`: the bytes of the file's layers scanned so far (ClamAV's scansize), as far as the
 * reader knows them; what is left of MaxScanSize bounds the output too (checked before MaxFileSize).
 */
export function hwpInflate(input: Uint8Array, ctx: UnpackContext, consumed = 0): HwpInflated {
  const { maxFileSize, maxScanSize } = ctx.limits;
  const scanLeft = maxScanSize > 0 ? Math.max(0, maxScanSize - consumed) : Infinity;
  const fileMax = maxFileSize > 0 ? maxFileSize : Infinity;
  const bound = Math.min(scanLeft, fileMax);
  const max = Number.isFinite(bound) ? bound : 0;
  const cap = max > 0 ? max + 1 : NO_LIMIT_CAP;
  const whole = inflateLikeClamav(input, true, cap);
  const { maxFiles } = ctx.limits;
  if (whole.data.length > 0 && maxFiles > 0 && ctx.scannedFiles && ctx.scannedFiles() >= maxFiles) {
    return { data: new Uint8Array(0), state: whole.state, limited: 'MaxFiles' };
  }
  // Damage found by the one-shot inflation may lie past the limit: the output before it decides.
  const over = (r: { data: Uint8Array; state: InflateState }, from: Uint8Array): boolean =>
    r.state === 'limit' || r.data.length > max || (r.state === 'error' && inflateRaw(from, max + 1).error === LIMIT);
  if (max === 0 || !over(whole, input)) return { data: whole.data, state: whole.state };
  // Whether the first k input pieces give more than the limit, else what they give (O(0) = 0).
  const pieces = Math.ceil(input.length / PIECE);
  const outAfter = (k: number): number | undefined => {
    if (k <= 0) return 0;
    const prefix = input.subarray(0, Math.min(input.length, k * PIECE));
    const r = inflateLikeClamav(prefix, true, cap);
    return over(r, prefix) ? undefined : r.data.length;
  };
  let lo = 0, hi = pieces;
  let loOut = 0;
  // The last input piece count whose output stays within the limit.
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    const o = outAfter(mid);
    if (o !== undefined) { lo = mid; loOut = o; } else hi = mid;
  }
  // Within the next piece of input, output comes 8 KiB at a time until the limit check fails.
  const cut = loOut + PIECE * Math.floor((max - loOut) / PIECE);
  // The piece that failed the check: the scan size is checked first.
  const limited = cut + PIECE > scanLeft ? 'MaxScanSize' : 'MaxFileSize';
  return { data: inflateRaw(input, cut).data.subarray(0, cut), state: 'limit', limited };
}
