/**
 * Flash (SWF) → the uncompressed movie, for scanning what a CWS or ZWS file hides.
 *
 * In: a CL_TYPE_SWF layer: `FWS` (uncompressed), `CWS` (zlib from offset 8) or `ZWS` (LZMA: the
 * compressed length at 8, the five LZMA property bytes at 12, the raw stream from 17), each with
 * the version byte at 3 and the declared uncompressed size (header included) at 4.
 * Out: for CWS and ZWS one child, `FWS` + the version and size bytes + the decompressed data,
 * scanned as a file of its own (it types as SWF again and yields nothing more). A stream damaged
 * before any byte came out yields nothing; a damaged or truncated one yields what came out before.
 * Output past MaxFileSize is cut as ClamAV cuts it (whole 8 KiB writes that fit, the header
 * counted), reported as limited, and the cut movie is scanned.
 * FWS yields nothing: ClamAV walks its tags only to print them in debug mode and extracts nothing.
 *
 * Why: ClamAV 1.4's `cli_scanswf` (swf.c) decompresses CWS/ZWS to a temporary file and scans it.
 */
import { zlibInflate } from '../pdf/inflate.js';
import { lzmaDecode } from '../compress/lzma.js';
import type { UnpackContext, UnpackItem } from '../unpack.js';

/** ClamAV's write size while decompressing (FILEBUFF). */
const WRITE = 8192;
const HEADER = 8;

/** The most decompressed bytes (header excluded) ClamAV writes under `maxFileSize`, or Infinity. */
function outputBound(maxFileSize: number): number {
  if (!maxFileSize) return Infinity;
  if (maxFileSize < HEADER) return 0;
  return Math.floor((maxFileSize - HEADER) / WRITE) * WRITE;
}

function withHeader(bytes: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + data.length);
  out[0] = 0x46; // 'F'
  out.set(bytes.subarray(1, HEADER), 1);
  out.set(data, HEADER);
  return out;
}

export function* swfItems(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  if (bytes.length < HEADER) return;
  const sig = String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!);
  if (sig !== 'CWS' && sig !== 'ZWS') return;
  const bound = outputBound(ctx.limits.maxFileSize);
  const declared = (bytes[4]! | (bytes[5]! << 8) | (bytes[6]! << 16) | (bytes[7]! << 24)) >>> 0;
  let data: Uint8Array;
  let limited = false;
  if (sig === 'CWS') {
    const r = zlibInflate(bytes.subarray(HEADER), bound === Infinity ? 0x7fffffff : bound + 1);
    data = r.data;
    if (data.length > bound) { data = data.subarray(0, bound); limited = true; }
    // Damage before any output: nothing is scanned. Input ending early is no error to ClamAV's loop.
    if (data.length === 0 && (r.end === 'error' || r.end === 'need-dict')) return;
  } else {
    // The compressed length at 8 is read (the file must hold it) but not used.
    if (bytes.length <= 12) return;
    const stream = bytes.subarray(12);
    const props = stream.subarray(0, 5);
    // Fewer than five property bytes: ClamAV's LZMA reader waits for more, gets none, and scans the bare header.
    if (props.length < 5) { yield { name: 'swf', data: withHeader(bytes, new Uint8Array(0)) }; return; }
    let input = stream.subarray(5);
    let size: number = declared;
    if (size === 0) {
      // No size given: ClamAV's LZMA reader takes eight size bytes from the stream instead.
      // Fewer than eight: the reader waits for more, gets none, and the bare header is scanned.
      if (input.length < 8) { yield { name: 'swf', data: withHeader(bytes, new Uint8Array(0)) }; return; }
      let v = 0;
      for (let i = 7; i >= 0; i--) v = v * 256 + input[i]!;
      size = v;
      input = input.subarray(8);
      if (size === 0) { yield { name: 'swf', data: withHeader(bytes, new Uint8Array(0)) }; return; }
    }
    if (props[0]! >= 9 * 5 * 5) return;
    const max = bound === Infinity ? 0x7fffffff : bound + 1;
    const r = lzmaDecode(props, input, max, size >= 0xffffffffffff ? undefined : size);
    data = r.data;
    if (data.length > bound) { data = data.subarray(0, bound); limited = true; }
    const benign = r.complete || r.error === 'truncated' || r.error === 'end marker before the size' || r.error === 'limit';
    if (data.length === 0 && !benign) return;
  }
  if (limited) yield { name: 'swf', limit: 'MaxFileSize' };
  yield { name: 'swf', data: withHeader(bytes, data) };
}
