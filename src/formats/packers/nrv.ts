/**
 * NRV2B, NRV2D and NRV2E decoding as a UPX-packed Win32 executable's loader does it.
 *
 * In: the compressed stream (a view of the packed section, from where decoding starts), an output
 * buffer and the most bytes the output may hold. Out: the number of bytes decoded up to the end
 * marker, or -1 when the stream is damaged: it runs out, a back-reference points before the start
 * or past the output bound, or a length or offset grows absurdly.
 *
 * Why this shape: ClamAV 1.4 tries several decoders one after the other on the same output
 * buffer and keeps what a failed attempt left in it; the caller owns that buffer so that the
 * bytes a rebuilt image carries past the decoded data are the same. Bits are read from 32-bit
 * little-endian words, most significant bit first, each word fetched at the point in the byte
 * stream where its first bit is needed. Never throws; work is bounded by the output bound.
 */

export type NrvMethod = '2b' | '2d' | '2e';

const INT32_HALF = 0x3fffffff; // INT32_MAX / 2
const UINT32_HALF = 0x7fffffff; // UINT32_MAX / 2

/** The bit reader: a 32-bit word with a sentinel bit below the bits still to read. */
class Bits {
  ebx = 0;
  pos = 0;
  constructor(readonly src: Uint8Array, readonly size: number) {}
  /** The next bit, or -1 when a new word is needed and fewer than 4 bytes remain. */
  bit(): number {
    let old = this.ebx;
    this.ebx = (this.ebx << 1) >>> 0;
    if (!(old & 0x7fffffff)) {
      const p = this.pos;
      if (p + 4 > this.size) return -1;
      const s = this.src;
      old = (s[p]! | (s[p + 1]! << 8) | (s[p + 2]! << 16) | (s[p + 3]! << 24)) >>> 0;
      this.ebx = ((old << 1) | 1) >>> 0;
      this.pos = p + 4;
    }
    return old >>> 31;
  }
}

/**
 * Decodes `src[0, ssize)` into `dst[0, dsize)` with the given method; returns the decoded length
 * at the end marker, or -1 on damage. `dst` must hold at least `dsize` bytes.
 */
export function nrvDecode(method: NrvMethod, src: Uint8Array, ssize: number, dst: Uint8Array, dsize: number): number {
  if (ssize < 0 || ssize > src.length) ssize = Math.max(0, Math.min(ssize, src.length));
  const br = new Bits(src, ssize);
  let dcur = 0;
  let lastOff = -1;
  const far = method === '2b' ? 0xfffff300 : 0xfffffb00;
  for (;;) {
    // Literals.
    let b: number;
    while ((b = br.bit()) === 1) {
      if (br.pos >= ssize || dcur >= dsize) return -1;
      dst[dcur++] = src[br.pos++]!;
    }
    if (b === -1) return -1;
    // Offset prefix.
    let back = 1;
    for (;;) {
      let o = br.bit();
      if (o === -1 || back + o > INT32_HALF) return -1;
      back = back * 2 + o;
      o = br.bit();
      if (o === -1) return -1;
      if (o) break;
      if (method === '2b') continue;
      back--;
      o = br.bit();
      if (o === -1 || back + o > INT32_HALF) return -1;
      back = back * 2 + o;
    }
    back -= 3;
    let len = 0;
    if (back >= 0) {
      if (br.pos >= ssize || back & 0xff000000) return -1;
      const x = ~(((back << 8) + src[br.pos++]!) | 0);
      if (x === 0) break; // end marker
      if (method === '2b') lastOff = x;
      else { len = x & 1; lastOff = x >> 1; }
    } else if (method !== '2b') {
      len = br.bit();
      if (len === -1) return -1;
    }
    // Length.
    if (method === '2e') {
      if (len) {
        len = br.bit();
        if (len === -1) return -1;
      } else {
        len = 1;
        let o = br.bit();
        if (o === -1) return -1;
        if (o) {
          o = br.bit();
          if (o === -1) return -1;
          len = 2 + o;
        } else {
          do {
            o = br.bit();
            if (o === -1 || len + o > UINT32_HALF) return -1;
            len = len * 2 + o;
          } while ((o = br.bit()) === 0);
          if (o === -1) return -1;
          len += 2;
        }
      }
      if ((lastOff >>> 0) < far) len++;
      len += 2;
    } else {
      if (method === '2b') {
        len = br.bit();
        if (len === -1) return -1;
      }
      let o = br.bit();
      if (o === -1 || len + o > UINT32_HALF) return -1;
      len = len * 2 + o;
      if (!len) {
        len = 1;
        do {
          o = br.bit();
          if (o === -1 || len + o > UINT32_HALF) return -1;
          len = len * 2 + o;
        } while ((o = br.bit()) === 0);
        if (o === -1) return -1;
        len += 2;
      }
      if ((lastOff >>> 0) < far) len++;
      len++;
    }
    // The copy: source and destination wholly inside the output bound.
    const from = dcur + lastOff;
    if (lastOff >= 0 || from < 0 || len > dsize || from + len > dsize || dcur + len > dsize) return -1;
    for (let i = 0; i < len; i++) dst[dcur + i] = dst[from + i]!;
    dcur += len;
  }
  return dcur;
}
