/**
 * The byte-level scanning primitives of ClamAV's PDF reader, over a buffer and an explicit length.
 *
 * In: a buffer, a position and how many bytes may be read from there. Out: positions (-1 where
 * ClamAV's helper returns NULL) or parsed numbers. Bytes past the end of the buffer read as NUL,
 * the way the C code would meet a terminator. Never throws.
 */

export const at = (b: Uint8Array, i: number): number => (i >= 0 && i < b.length ? b[i]! : 0);

export const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
/** C `isspace`: space, HT, LF, VT, FF, CR. */
export const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
/** The whitespace of `findNextNonWS`: NUL, HT, LF, FF, CR, space. */
export const isPdfWs = (c: number): boolean => c === 0 || c === 9 || c === 0x0a || c === 0x0c || c === 0x0d || c === 0x20;

const view = (b: Uint8Array, from: number, len: number): Buffer => Buffer.from(b.buffer, b.byteOffset + from, len);

/** First `needle` lying wholly inside `[from, from + len)`, or -1. */
export function memstr(b: Uint8Array, from: number, len: number, needle: Uint8Array): number {
  if (from < 0) { len += from; from = 0; }
  len = Math.min(len, b.length - from);
  if (len < needle.length) return -1;
  const i = view(b, from, len).indexOf(needle);
  return i < 0 ? -1 : from + i;
}

/** First byte `ch` inside `[from, from + len)`, or -1. */
export function memchr(b: Uint8Array, from: number, len: number, ch: number): number {
  if (from < 0) { len += from; from = 0; }
  len = Math.min(len, b.length - from);
  if (len <= 0) return -1;
  const i = view(b, from, len).indexOf(ch);
  return i < 0 ? -1 : from + i;
}

export const latin1 = (s: string): Uint8Array => Buffer.from(s, 'latin1');

/** `pdf_nextlinestart`: past the rest of the line and its CR/LF/NUL run; -1 when the buffer ends first. */
export function nextLineStart(b: Uint8Array, p: number, len: number): number {
  if (len <= 0) return -1;
  const eol = (c: number): boolean => c === 0x0d || c === 0x0a || c === 0;
  while (!eol(at(b, p))) {
    if (--len === 0) return -1;
    p++;
  }
  while (eol(at(b, p))) {
    if (--len === 0) return -1;
    p++;
  }
  return p;
}

/** `pdf_nextobject`: the start of the next token after the one `p` is in; -1 when none. */
export function nextObject(b: Uint8Array, p: number, len: number): number {
  let inObject = true;
  while (len > 0) {
    const c = at(b, p);
    switch (c) {
      case 0x0a: case 0x0d: case 0x25: { // LF, CR, '%'
        const q = nextLineStart(b, p, len);
        if (q < 0) return -1;
        len -= q - p;
        p = q;
        inObject = false;
        break;
      }
      case 0x20: case 0x09: case 0x5b: case 0x0b: case 0x0c: case 0x3c: // space HT [ VT FF <
        inObject = false;
        p++;
        len--;
        break;
      case 0x2f: case 0x28: // '/', '('
        return p;
      default:
        if (!inObject) return p;
        p++;
        len--;
    }
  }
  return -1;
}

export interface Long {
  /** The value (approximate beyond 2^53). */
  value: number;
  /** The value modulo 2^32, exact. */
  low32: number;
  /** Where the digits ended. */
  end: number;
}

const LONG_MAX = '9223372036854775807';

/**
 * `cli_strntol_wrap(p, n, 0, 10)`: optional whitespace and sign, then decimal digits; undefined
 * when there are no digits or the value overflows a 64-bit long.
 */
export function strntol(b: Uint8Array, p: number, n: number): Long | undefined {
  if (n <= 0) return undefined;
  const stop = p + n;
  let s = p;
  while (s < stop && isSpace(at(b, s))) s++;
  if (s >= stop) return undefined;
  let neg = false;
  const c0 = at(b, s);
  if (c0 === 0x2d || c0 === 0x2b) {
    neg = c0 === 0x2d;
    s++;
    if (s >= stop) return undefined;
  }
  const d0 = s;
  let value = 0, low = 0;
  while (s < stop && isDigit(at(b, s))) {
    const d = at(b, s) - 0x30;
    value = value * 10 + d;
    low = (low * 10 + d) % 4294967296;
    s++;
  }
  if (s === d0) return undefined;
  // overflow check on the digit string, leading zeros ignored
  let z = d0;
  while (z < s - 1 && at(b, z) === 0x30) z++;
  const digits = s - z;
  if (digits > 19) return undefined;
  if (digits === 19) {
    const str = Buffer.from(b.subarray(z, s)).toString('latin1');
    if (str > (neg ? '9223372036854775808' : LONG_MAX)) return undefined;
  }
  if (neg) { value = -value; low = (4294967296 - low) % 4294967296; }
  return { value, low32: low, end: s };
}
