/**
 * gzip → the decompressed bytes, for scanning the layer inside a `.gz`.
 *
 * In: the bytes of a CL_TYPE_GZ layer and the most bytes to produce. Out: the data of its members
 * one after another (RFC 1952 headers parsed here, each deflate stream inflated), up to the first
 * damaged header or stream, or what a truncated stream yields before its end; or why nothing is
 * given (`limit` when the output would exceed `maxOutput`, `header` for a damaged first header,
 * or zlib's reason). Never throws.
 *
 * Why by hand: ClamAV inflates member after member and stops quietly at bytes that are not a
 * member (appended data, damage), keeping what came before; Node's `gunzip` refuses such files
 * whole. Each raw deflate stream is inflated by zlib, bounded by `maxOutputLength` (a gzip bomb
 * stops at the limit) and finished with `Z_SYNC_FLUSH` (a truncated stream gives what it had).
 */
import { constants, inflateRawSync } from 'node:zlib';
import { inflateRaw } from './zipmethods/inflate.js';

export type GunzipResult = { data: Uint8Array } | { error: string };

const FHCRC = 0x02, FEXTRA = 0x04, FNAME = 0x08, FCOMMENT = 0x10;

/** Offset of the deflate stream after a gzip member header, or undefined when the header is damaged. */
export function gzipHeaderLength(b: Uint8Array): number | undefined {
  if (b.length < 10 || b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8) return undefined;
  const flags = b[3]!;
  let p = 10;
  if (flags & FEXTRA) {
    if (p + 2 > b.length) return undefined;
    p += 2 + (b[p]! | (b[p + 1]! << 8));
  }
  for (const f of [FNAME, FCOMMENT]) {
    if (!(flags & f)) continue;
    while (p < b.length && b[p] !== 0) p++;
    p++; // the terminating zero
  }
  if (flags & FHCRC) p += 2;
  return p <= b.length ? p : undefined;
}

export function gunzipLayer(bytes: Uint8Array, maxOutput: number): GunzipResult {
  const parts: Uint8Array[] = [];
  let total = 0;
  let p = 0;
  // Members one after another, as zlib's inflate with a gzip wrapper and a reset at each stream
  // end reads them; the first damaged header or stream ends the output (what came before stays).
  while (p < bytes.length) {
    const rest = bytes.subarray(p);
    const start = gzipHeaderLength(rest);
    if (start === undefined) {
      if (p === 0) return { error: 'header' };
      break;
    }
    let out: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      out = inflateRawSync(rest.subarray(start), { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: Math.max(1, maxOutput - total), info: true }) as unknown as typeof out;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      // Output beyond the limit: not scanned (ClamAV scans the part up to its limits; see compatibility.md).
      if (err.code === 'ERR_BUFFER_TOO_LARGE') return { error: 'limit' };
      // Damage: ClamAV scans what zlib inflated before it (Node's zlib keeps none of it).
      const partial = inflateRaw(rest.subarray(start), Math.max(1, maxOutput - total));
      if (partial.data.length > 0) parts.push(partial.data);
      else if (p === 0) return { error: err.message };
      break;
    }
    parts.push(out.buffer);
    total += out.buffer.length;
    const used = start + out.engine.bytesWritten;
    // A stream that ended before its trailer (truncated input) ends the file.
    if (used + 8 > rest.length || out.engine.bytesWritten === 0) break;
    p += used + 8;
  }
  return { data: parts.length === 1 ? parts[0]! : Buffer.concat(parts) };
}
