/**
 * Zstandard → the decompressed bytes, bounded; and a reader for .zst layers.
 *
 * In: zstd data (frames one after another, skippable frames among them) and the most bytes to
 * produce. Out: a `DecodeResult`: the frames' bytes in order; `complete` when the input ended at a
 * frame boundary; the bytes before damage or truncation otherwise, or `LIMIT` at the bound. Never
 * throws.
 *
 * Decoding is `fzstd`'s streaming decompressor, which hands over one block (at most 128 KiB) at a
 * time: the handler counts the output and stops the decoder as soon as the bound is passed, so a
 * bomb costs at most one block beyond the bound. Skippable frames (magic 0x184D2A50..5F) are
 * stepped over here, so the decoder only ever sees real frames. The streaming decoder's cost grows
 * with the window (it moves the window for every block), so a frame whose window exceeds 8 MiB is
 * decoded in one piece when it declares its size (refused as `LIMIT` when that passes the bound),
 * else block by block within a budget of window moves, and refused above a 128 MiB window (the
 * reference decoder's default limit). Content checksums are not verified (the decoder does not
 * compute XXH64).
 *
 * ClamAV 1.4 has no zstd support: a .zst file is scanned as raw bytes there. This reader opens it
 * anyway (`scanZstd`), naming the child `zstd`.
 */
import { Decompress, decompress } from 'fzstd';
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { type DecodeResult, LIMIT, Sink, u32le } from './common.js';

class Stop extends Error {}

const FRAME_MAGIC = 0xfd2fb528;

/** True when `b` starts with a zstd frame or a skippable frame. */
export function isZstd(b: Uint8Array): boolean {
  if (b.length < 4) return false;
  const m = u32le(b, 0);
  return m === FRAME_MAGIC || (m & 0xfffffff0) === 0x184d2a50;
}

export function zstdDecode(input: Uint8Array, maxOutput: number): DecodeResult {
  const sink = new Sink(Math.max(0, maxOutput));
  let p = 0;
  let frames = 0;
  let work = 0;
  const workLimit = 8 * sink.limit + (256 << 20);
  while (p < input.length) {
    if (input.length - p < 4) return { data: sink.view(), complete: false, error: frames === 0 ? 'not zstd' : 'data after the frames' };
    const m = u32le(input, p);
    if ((m & 0xfffffff0) === 0x184d2a50) {
      if (input.length - p < 8) return { data: sink.view(), complete: false, error: 'truncated' };
      const size = u32le(input, p + 4);
      if (p + 8 + size > input.length) return { data: sink.view(), complete: false, error: 'truncated' };
      p += 8 + size;
      frames++;
      continue;
    }
    if (m !== FRAME_MAGIC) return { data: sink.view(), complete: false, error: frames === 0 ? 'not zstd' : 'data after the frames' };
    // One frame: its end found by walking its block headers, then decoded on its own.
    const h = frameHeader(input, p);
    const end = h.end ?? input.length;
    // Each frame costs a window's allocation: many tiny frames with large windows are refused.
    work += Math.min(h.window, STREAM_WINDOW) + 1024;
    if (work > workLimit) return { data: sink.view(), complete: false, error: 'too many frames' };
    const part = input.subarray(p, end);
    let r: string | undefined;
    if (h.window <= STREAM_WINDOW) r = decodeFrame(part, sink);
    else if (h.contentSize !== undefined) r = decodeWhole(part, h.contentSize, sink);
    else r = h.window > MAX_WINDOW ? 'window too large' : decodeFrame(part, sink, h.window);
    if (r !== undefined) return { data: sink.view(), complete: false, error: r };
    frames++;
    p = end;
  }
  if (frames === 0) return { data: sink.view(), complete: false, error: 'not zstd' };
  return { data: sink.view(), complete: true };
}

/**
 * The frame header at `p`: window size, content size when declared, and where the frame ends (by
 * walking its block headers; undefined when the frame is cut short).
 */
function frameHeader(b: Uint8Array, p: number): { end?: number; window: number; contentSize?: number } {
  const fhd = b[p + 4];
  if (fhd === undefined) return { window: 0 };
  const single = (fhd >>> 5) & 1;
  const didSize = [0, 1, 2, 4][fhd & 3]!;
  const fcsSize = [single, 2, 4, 8][fhd >>> 6]!;
  let window = 0;
  if (!single) {
    const wd = b[p + 5] ?? 0;
    const base = 2 ** (10 + (wd >>> 3));
    window = base + (base / 8) * (wd & 7);
  }
  const at = p + 5 + (single ? 0 : 1) + didSize;
  let contentSize: number | undefined;
  if (fcsSize > 0) {
    contentSize = 0;
    for (let i = fcsSize - 1; i >= 0; i--) contentSize = contentSize * 256 + (b[at + i] ?? 0);
    if (fcsSize === 2) contentSize += 256;
  }
  if (single) window = contentSize ?? 0;
  const head = { window, ...(contentSize !== undefined ? { contentSize } : {}) };
  p = at + fcsSize;
  for (;;) {
    if (p + 3 > b.length) return head;
    const h = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16);
    const last = h & 1, type = (h >>> 1) & 3, size = h >>> 3;
    p += 3 + (type === 1 ? 1 : type === 3 ? 0 : size);
    if (last) break;
  }
  if (fhd & 4) p += 4;
  return p <= b.length ? { ...head, end: p } : head;
}

/**
 * Largest window decoded block by block without further thought: the streaming decoder moves its
 * whole window for every block (up to 128 KiB of output), so the cost grows with the window.
 */
const STREAM_WINDOW = 8 << 20;
/** Largest window accepted without a declared size (the reference decoder's default limit, 2^27). */
const MAX_WINDOW = 128 << 20;
/** Bytes of window moving allowed for one frame decoded block by block with a large window. */
const MOVE_BUDGET = 4 * 2 ** 30;

/**
 * A frame with a large window and a declared size, decoded in one piece into a buffer of that
 * size when it fits under the bound. Damage gives nothing of the frame.
 */
function decodeWhole(part: Uint8Array, contentSize: number, sink: Sink): string | undefined {
  if (contentSize === 0) return undefined;
  if (contentSize > sink.limit - sink.length) return LIMIT;
  try {
    const out = decompress(part);
    return sink.write(out) ? undefined : LIMIT;
  } catch (e) {
    return e instanceof Error && e.message ? e.message : 'damaged';
  }
}

/**
 * Decodes one frame block by block into the sink; undefined when it ended, else why not. With
 * `window`, the window moved per block is counted and the frame stops past `MOVE_BUDGET`.
 */
function decodeFrame(part: Uint8Array, sink: Sink, window = 0): string | undefined {
  let moved = 0;
  const d = new Decompress((chunk: Uint8Array) => {
    if (!sink.write(chunk)) throw new Stop(LIMIT);
    moved += window;
    if (moved > MOVE_BUDGET) throw new Stop('window too large');
  });
  try {
    d.push(part, true);
  } catch (e) {
    if (e instanceof Stop) return e.message;
    const code = (e as { code?: number }).code;
    return code === 5 ? 'truncated' : e instanceof Error && e.message ? e.message : 'damaged';
  }
  return undefined;
}

/** A reader of zstd layers: the frames' bytes as one child. ClamAV does not open zstd. */
export function* scanZstd(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  const max = ctx.limits.maxFileSize > 0 ? ctx.limits.maxFileSize : 0x7fffffff;
  const r = zstdDecode(bytes, max + 1);
  if (r.data.length > max || r.error === LIMIT) {
    yield { name: 'zstd', limit: 'MaxFileSize' };
    return;
  }
  if (r.data.length > 0) yield { name: 'zstd', data: r.data };
}
