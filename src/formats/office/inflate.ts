/**
 * zlib and raw deflate data inflated the way ClamAV's streaming loops see them.
 *
 * In: the compressed bytes, whether they are raw deflate (no zlib header), and the most bytes to
 * produce. Out: the bytes produced and how it ended: `ended` (end of stream, with the input it
 * used), `wanting` (the input ran out first: what came so far), `error` (damaged data: what came
 * before the damage), `limit` (more than `cap` bytes: the first ones, at most `cap`).
 *
 * Why: ClamAV inflates chunk by chunk and scans what it got when the stream is cut, damaged or
 * over its size limit; Node's one-shot inflate refuses such input whole. The longest input
 * prefix that inflates cleanly (found by bisection, a few inflations) gives those bytes. Never throws.
 */
import { constants, inflateRawSync, inflateSync } from 'node:zlib';

export type InflateState = 'ended' | 'wanting' | 'error' | 'limit';

export function inflateLikeClamav(input: Uint8Array, raw: boolean, cap: number): { data: Uint8Array; state: InflateState; consumed: number } {
  const max = Math.max(1, cap);
  const run = raw ? inflateRawSync : inflateSync;
  try {
    const r = run(input, { maxOutputLength: max, info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    return { data: r.buffer, state: 'ended', consumed: r.engine.bytesWritten };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'Z_BUF_ERROR') {
      try {
        return { data: run(input, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: max }), state: 'wanting', consumed: input.length };
      } catch (e2) {
        return { data: cleanPrefix(input, run, max), state: (e2 as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? 'limit' : 'error', consumed: input.length };
      }
    }
    return { data: cleanPrefix(input, run, max), state: code === 'ERR_BUFFER_TOO_LARGE' ? 'limit' : 'error', consumed: input.length };
  }
}

/** The output of the longest input prefix that inflates without error within `max` bytes. */
function cleanPrefix(input: Uint8Array, run: typeof inflateSync, max: number): Uint8Array {
  const attempt = (n: number): Uint8Array | undefined => {
    try { return run(input.subarray(0, n), { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: max }); } catch { return undefined; }
  };
  let lo = 0, hi = input.length;
  let best: Uint8Array = new Uint8Array(0);
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    const r = attempt(mid);
    if (r) { lo = mid; best = r; } else hi = mid;
  }
  return best;
}
