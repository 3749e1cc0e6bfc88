/**
 * Tar archives → the files ClamAV scans inside them, read the way ClamAV's scanner reads them.
 *
 * In: the bytes of a CL_TYPE_POSIX_TAR (or CL_TYPE_OLD_TAR) layer. Out: the names and contents of its
 * file entries, in archive order. Never throws.
 *
 * Why not `tar.ts`: that reader is strict (for signed database containers: a bad header stops it).
 * A scanner must read what a damaged or hostile archive still carries, and must see the same files
 * ClamAV sees, so this follows ClamAV's rules: a header whose checksum fails (POSIX unsigned or
 * legacy signed sum) is skipped and the next block tried; in a POSIX archive a valid header
 * without the `ustar` magic ends the archive; regular (`0`, NUL), contiguous (`7`) and
 * continuation (`M`) entries are files, and so are entries of an unknown type; links, directories, devices, FIFOs and volume labels have
 * no content; extension headers (`K L N A E I g x X`) and entries with an unreadable size are
 * skipped with their data (a size of 0 still skips one block); a zero block or a short header block
 * ends the archive; a file cut short by the end of the data keeps what it has.
 */

const BLOCK = 512;
const SIZE_AT = 124, SIZE_LEN = 12;
const SUM_AT = 148, SUM_LEN = 8;
const TYPE_AT = 156;

/** C's `sscanf("%o")` on a NUL-terminated field: leading blanks, octal digits; -1 when none or too large. */
function octal(b: Uint8Array, at: number, len: number): number {
  let i = at;
  const end = at + len;
  while (i < end && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a)) i++;
  let v = 0;
  let digits = 0;
  while (i < end && b[i]! >= 0x30 && b[i]! <= 0x37) {
    v = v * 8 + (b[i]! - 0x30);
    digits++;
    i++;
  }
  // ClamAV keeps the value in an int: anything from 2^31 on reads as negative, i.e. invalid.
  return digits === 0 || v > 0x7fffffff ? -1 : v;
}

function checksumOk(h: Uint8Array, target: number): boolean {
  if (target < 0) return false;
  let unsigned = 0, signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= SUM_AT && i < SUM_AT + SUM_LEN) {
      unsigned += 32;
      signed += 32;
    } else {
      const b = h[i]!;
      unsigned += b;
      signed += b >= 128 ? b - 256 : b;
    }
  }
  return target === unsigned || target === signed;
}

const NO_CONTENT = new Set(['1', '5', '2', '3', '4', '6', 'V']);
const SKIPPED = new Set(['K', 'L', 'N', 'A', 'E', 'I', 'g', 'x', 'X']);

/** A file of a tar archive: its header's name (the first 100 bytes up to a NUL, as Latin-1), its content and its size as declared. */
export interface TarLayer { name: string; data: Uint8Array; declared: number }

export function tarLayers(bytes: Uint8Array, posix: boolean, maxFiles = Infinity): TarLayer[] {
  const out: TarLayer[] = [];
  let pos = 0;
  for (;;) {
    const nread = Math.min(BLOCK, bytes.length - pos);
    if (nread <= 0) break;
    const block = bytes.subarray(pos, pos + nread);
    pos += nread;
    if (block[0] === 0) break;
    if (nread < BLOCK) break;
    const header = block;
    if (!checksumOk(header, octal(header, SUM_AT, SUM_LEN))) continue;
    if (posix && String.fromCharCode(...header.subarray(257, 262)) !== 'ustar') break;
    const type = String.fromCharCode(header[TYPE_AT]!);
    if (NO_CONTENT.has(type)) continue;
    let skip = SKIPPED.has(type);
    const size = octal(header, SIZE_AT, SIZE_LEN);
    if (size < 0) skip = true;
    if (skip) {
      const s = Math.max(0, size);
      pos += s % BLOCK !== 0 || s === 0 ? s + BLOCK - (s % BLOCK) : s;
      continue;
    }
    if (out.length >= maxFiles) break;
    // The content: `size` bytes from here, block by block; cut short at the end of the data.
    const end = Math.min(bytes.length, pos + size);
    let nameEnd = 0;
    while (nameEnd < 100 && header[nameEnd] !== 0) nameEnd++;
    out.push({ name: Buffer.from(header.subarray(0, nameEnd)).toString('latin1'), data: bytes.subarray(pos, end), declared: size });
    const blocks = Math.ceil(size / BLOCK) * BLOCK;
    pos = Math.min(bytes.length, pos + blocks);
  }
  return out;
}
