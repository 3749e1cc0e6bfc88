/**
 * OLE1 "native" data (an `\x01Ole10Native` stream, an RTF object's data) → the embedded file.
 *
 * In: the bytes ClamAV hands to `cli_scan_ole10`: a 4-byte little-endian size, then either the
 * Package header (type, label, path, 8 bytes, temporary path, 4-byte size) and the contents, or
 * the contents alone. Out: the contents as ClamAV copies them, or undefined when it finds none.
 *
 * Why this shape: ClamAV decides there is a Package header when the data holds at least 4 bytes
 * more than the first size says, and copies the contents in 8 KiB pieces, dropping a last piece
 * the data cuts short. Never throws.
 */

const PIECE = 8192;

/** Offset just past the next NUL at or after `p`, or undefined when there is none. */
function pastNul(b: Uint8Array, p: number): number | undefined {
  if (p >= b.length) return undefined;
  const at = b.indexOf(0, p);
  return at < 0 ? undefined : at + 1;
}

const u32 = (b: Uint8Array, p: number): number => (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;

export function ole10Contents(b: Uint8Array): Uint8Array | undefined {
  if (b.length < 4) return undefined;
  let size = u32(b, 0);
  let p: number | undefined = 4;
  if (b.length - size >= 4) {
    p = pastNul(b, p + 2);
    if (p !== undefined) p = pastNul(b, p);
    if (p !== undefined) p = pastNul(b, p + 8);
    if (p === undefined || p + 4 > b.length) return undefined;
    size = u32(b, p);
    p += 4;
  }
  let end = p;
  for (let left = size; left > 0;) {
    const todo = Math.min(PIECE, left);
    if (end + todo > b.length) break;
    end += todo;
    left -= todo;
  }
  return end > p ? b.subarray(p, end) : undefined;
}
