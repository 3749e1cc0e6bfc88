/**
 * The reversible pre-filters xz and 7z put in front of LZMA/LZMA2: branch converters (BCJ) for
 * x86, ARM, ARM-Thumb, PowerPC and SPARC code, and Delta.
 *
 * In: a buffer holding the whole output of one filter chain (a block, a folder), decoded in place.
 * Out: the buffer with absolute branch targets turned back into relative ones (BCJ) or the byte
 * differences summed back (Delta). `start` is the stream offset the buffer begins at (the filters'
 * start-offset property; 0 unless a header says otherwise). Never throws.
 *
 * Why whole buffers: the callers keep the entire output anyway, and converting a buffer in one
 * call gives what a streaming converter gives (it leaves the last bytes it cannot decide on
 * unconverted, as the streaming one does at the end of its input).
 */

const isMsByte = (b: number): boolean => b === 0 || b === 0xff;
const MASK_ALLOWED = [true, true, true, false, true, false, false, false];
const MASK_BIT = [0, 1, 2, 2, 3, 3, 3, 3];

/** x86 BCJ decoding: CALL/JMP (E8/E9) targets back to relative. */
export function x86Decode(buf: Uint8Array, start = 0): void {
  const size = buf.length;
  if (size < 5) return;
  let prevMask = 0;
  let prevPos = -5;
  for (let i = 0; i <= size - 5;) {
    const op = buf[i]!;
    if ((op & 0xfe) !== 0xe8) { i++; continue; }
    const gap = i - prevPos;
    prevPos = i;
    if (gap > 5) prevMask = 0;
    else for (let k = 0; k < gap; k++) prevMask = (prevMask & 0x77) << 1;
    const hi = buf[i + 4]!;
    if (isMsByte(hi) && MASK_ALLOWED[(prevMask >>> 1) & 7] && prevMask >>> 1 < 0x10) {
      let src = ((hi << 24) | (buf[i + 3]! << 16) | (buf[i + 2]! << 8) | buf[i + 1]!) >>> 0;
      let dest: number;
      for (;;) {
        dest = (src - (start + i + 5)) >>> 0;
        if (prevMask === 0) break;
        const n = MASK_BIT[prevMask >>> 1]! * 8;
        if (!isMsByte((dest >>> (24 - n)) & 0xff)) break;
        src = (dest ^ (2 ** (32 - n) - 1)) >>> 0;
      }
      buf[i + 4] = (dest >>> 24) & 1 ? 0xff : 0;
      buf[i + 3] = (dest >>> 16) & 0xff;
      buf[i + 2] = (dest >>> 8) & 0xff;
      buf[i + 1] = dest & 0xff;
      i += 5;
      prevMask = 0;
    } else {
      i++;
      prevMask |= 1;
      if (isMsByte(hi)) prevMask |= 0x10;
    }
  }
}

/** ARM BCJ decoding: BL instructions (little endian, 4-byte aligned). */
export function armDecode(buf: Uint8Array, start = 0): void {
  for (let i = 0; i + 4 <= buf.length; i += 4) {
    if (buf[i + 3] !== 0xeb) continue;
    const src = ((buf[i + 2]! << 16) | (buf[i + 1]! << 8) | buf[i]!) * 4;
    const dest = ((src - (start + i + 8)) >>> 2) & 0xffffff;
    buf[i + 2] = (dest >>> 16) & 0xff;
    buf[i + 1] = (dest >>> 8) & 0xff;
    buf[i] = dest & 0xff;
  }
}

/** ARM-Thumb BCJ decoding: BL instruction pairs (2-byte aligned). */
export function armThumbDecode(buf: Uint8Array, start = 0): void {
  for (let i = 0; i + 4 <= buf.length; i += 2) {
    if ((buf[i + 1]! & 0xf8) !== 0xf0 || (buf[i + 3]! & 0xf8) !== 0xf8) continue;
    const src = (((buf[i + 1]! & 7) << 19) | (buf[i]! << 11) | ((buf[i + 3]! & 7) << 8) | buf[i + 2]!) * 2;
    const dest = ((src - (start + i + 4)) >>> 1) & 0x3fffff;
    buf[i + 1] = 0xf0 | ((dest >>> 19) & 7);
    buf[i] = (dest >>> 11) & 0xff;
    buf[i + 3] = 0xf8 | ((dest >>> 8) & 7);
    buf[i + 2] = dest & 0xff;
    i += 2;
  }
}

/** PowerPC BCJ decoding: `bl` (big endian). */
export function ppcDecode(buf: Uint8Array, start = 0): void {
  for (let i = 0; i + 4 <= buf.length; i += 4) {
    if (buf[i]! >>> 2 !== 0x12 || (buf[i + 3]! & 3) !== 1) continue;
    const src = (((buf[i]! & 3) << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | (buf[i + 3]! & 0xfc)) >>> 0;
    const dest = (src - (start + i)) >>> 0;
    buf[i] = 0x48 | ((dest >>> 24) & 3);
    buf[i + 1] = (dest >>> 16) & 0xff;
    buf[i + 2] = (dest >>> 8) & 0xff;
    buf[i + 3] = (buf[i + 3]! & 3) | (dest & 0xfc);
  }
}

/** SPARC BCJ decoding: `call` (big endian). */
export function sparcDecode(buf: Uint8Array, start = 0): void {
  for (let i = 0; i + 4 <= buf.length; i += 4) {
    const b0 = buf[i]!, b1 = buf[i + 1]!;
    if (!((b0 === 0x40 && (b1 & 0xc0) === 0) || (b0 === 0x7f && (b1 & 0xc0) === 0xc0))) continue;
    let src = ((b0 << 24) | (b1 << 16) | (buf[i + 2]! << 8) | buf[i + 3]!) >>> 0;
    src = (src * 4) >>> 0;
    let dest = (src - (start + i)) >>> 0;
    dest >>>= 2;
    dest = ((((0 - ((dest >>> 22) & 1)) << 22) & 0x3fffffff) | (dest & 0x3fffff) | 0x40000000) >>> 0;
    buf[i] = dest >>> 24;
    buf[i + 1] = (dest >>> 16) & 0xff;
    buf[i + 2] = (dest >>> 8) & 0xff;
    buf[i + 3] = dest & 0xff;
  }
}

/** Delta decoding with distance `dist` (1..256). */
export function deltaDecode(buf: Uint8Array, dist: number): void {
  for (let i = dist; i < buf.length; i++) buf[i] = (buf[i]! + buf[i - dist]!) & 0xff;
}
