/**
 * cpio archives → the files ClamAV scans inside them, read the way ClamAV 1.4's cpio reader does.
 *
 * In: the bytes of a CL_TYPE_CPIO_OLD (binary, either byte order), CL_TYPE_CPIO_ODC (`070707`
 * octal text), CL_TYPE_CPIO_NEWC (`070701` hex text) or CL_TYPE_CPIO_CRC (`070702`) layer. Out:
 * the member contents in archive order, each named by its stored path (cut at 512 bytes, with
 * non-ASCII bytes and `% \ TAB LF CR` shown as `_`, as ClamAV names them). Never throws.
 *
 * Why these rules: a scanner must see what ClamAV sees. Headers follow one another with no
 * checksum; a header whose magic is wrong (or whose size fields are not numbers) ends the archive,
 * and so does a header cut short or a name running past the end. After the `TRAILER!!!` entry a
 * header starting with a zero byte ends the archive quietly; anything else is read on. A member of
 * size 0 is skipped (its name is kept for a following header without a name in the binary
 * format). Binary archives give only regular files; the text formats give every member with
 * content (symbolic-link targets included). A member cut short by the end of the data keeps what
 * it has. Nothing here decompresses, so no output bound is needed: children are views of the input.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';

export type CpioFormat = 'old' | 'odc' | 'newc' | 'crc';

/** ClamAV keeps at most this many bytes of a name (the last one becomes the terminator). */
const NAME_MAX = 513;
const TRAILER = 'TRAILER!!!';

/** The stored name as ClamAV shows it: bytes up to the first NUL, unsafe bytes replaced by `_`. */
function memberName(b: Uint8Array, at: number, len: number): string {
  let s = '';
  for (let i = 0; i < len - 1; i++) {
    const c = b[at + i]!;
    if (c === 0) break;
    s += c >= 0x80 || c === 0x25 || c === 0x5c || c === 0x09 || c === 0x0a || c === 0x0d ? '_' : String.fromCharCode(c);
  }
  return s;
}

/** C's `sscanf("%o")`/`("%x")` over a fixed field: leading blanks, optional sign, digits; undefined when none. */
function scanNumber(b: Uint8Array, at: number, len: number, radix: 8 | 16): number | undefined {
  let i = at;
  const end = at + len;
  // The field is copied into a NUL-terminated buffer first: a NUL ends it early.
  let stop = end;
  for (let k = at; k < end; k++) if (b[k] === 0) { stop = k; break; }
  while (i < stop && (b[i] === 0x20 || (b[i]! >= 0x09 && b[i]! <= 0x0d))) i++;
  let neg = false;
  if (i < stop && (b[i] === 0x2b || b[i] === 0x2d)) { neg = b[i] === 0x2d; i++; }
  if (radix === 16 && i + 1 < stop && b[i] === 0x30 && (b[i + 1] === 0x78 || b[i + 1] === 0x58)) {
    const d = b[i + 2];
    if (d !== undefined && i + 2 < stop && digit(d, 16) >= 0) i += 2;
  }
  let v = 0, digits = 0;
  for (; i < stop; i++) {
    const d = digit(b[i]!, radix);
    if (d < 0) break;
    v = (v * radix + d) % 0x100000000;
    digits++;
  }
  if (digits === 0) return undefined;
  // Stored in a 32-bit unsigned: a minus sign wraps.
  return neg ? (0x100000000 - v) % 0x100000000 : v;
}

function digit(c: number, radix: number): number {
  let d = -1;
  if (c >= 0x30 && c <= 0x39) d = c - 0x30;
  else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
  else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
  return d < radix ? d : -1;
}

function isMagic(b: Uint8Array, at: number, magic: string): boolean {
  for (let i = 0; i < 6; i++) if (b[at + i] !== magic.charCodeAt(i)) return false;
  return true;
}

const HEADER_LEN: Record<CpioFormat, number> = { old: 26, odc: 76, newc: 110, crc: 110 };

/** The members of a cpio archive of the given format, lazily. */
export function* cpioMembers(bytes: Uint8Array, format: CpioFormat, _ctx?: UnpackContext): Generator<UnpackItem> {
  const hlen = HEADER_LEN[format];
  const len = bytes.length;
  let pos = 0;
  let trailer = false;
  let name = '';
  while (pos + hlen <= len) {
    const h = pos;
    pos += hlen;
    if (bytes[h] === 0 && (format !== 'old' || bytes[h + 1] === 0) && trailer) return;
    let fileSize: number | undefined;
    if (format === 'old') {
      // The magic read as a little-endian word: 070707 for little-endian archives, byte-swapped for big-endian.
      const magic = bytes[h]! | (bytes[h + 1]! << 8);
      let be: boolean;
      if (magic === 0o070707) be = false;
      else if (magic === 0o143561) be = true;
      else return;
      const word = (o: number): number => (be ? (bytes[h + o]! << 8) | bytes[h + o + 1]! : bytes[h + o]! | (bytes[h + o + 1]! << 8));
      const nameSize = word(20);
      if (nameSize !== 0) {
        const n = Math.min(NAME_MAX, nameSize);
        if (pos + n > len) return;
        name = memberName(bytes, pos, n);
        pos += n;
        if (name === TRAILER) trailer = true;
        if (n < nameSize) pos += nameSize + (nameSize % 2) - n;
        else if (nameSize % 2) pos++;
      }
      fileSize = word(22) * 0x10000 + word(24);
      if (fileSize === 0) continue;
      const regular = (word(6) & 0o170000) === 0o100000;
      if (regular && pos < len) yield { name, data: bytes.subarray(pos, Math.min(len, pos + fileSize)) };
      pos += fileSize + (fileSize % 2);
      continue;
    }
    const text = format === 'odc';
    if (!isMagic(bytes, h, text ? '070707' : format === 'newc' ? '070701' : '070702')) return;
    const nameSize = text ? scanNumber(bytes, h + 59, 6, 8) : scanNumber(bytes, h + 94, 8, 16);
    if (nameSize === undefined) return;
    if (nameSize !== 0) {
      const n = Math.min(NAME_MAX, nameSize);
      if (pos + n > len) return;
      name = memberName(bytes, pos, n);
      pos += n;
      if (name === TRAILER) trailer = true;
      if (text) {
        if (n < nameSize) pos += nameSize - n;
      } else {
        const pad = (4 - ((hlen + nameSize) % 4)) % 4;
        pos += nameSize + pad - n;
      }
    }
    fileSize = text ? scanNumber(bytes, h + 65, 11, 8) : scanNumber(bytes, h + 54, 8, 16);
    if (fileSize === undefined) return;
    if (fileSize === 0) continue;
    if (pos < len) yield { name, data: bytes.subarray(pos, Math.min(len, pos + fileSize)) };
    pos += text ? fileSize : fileSize + ((4 - (fileSize % 4)) % 4);
  }
}
