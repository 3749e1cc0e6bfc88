/**
 * MS-SZDD (`compress.exe` / `expand.exe`) → the expanded file, as ClamAV 1.4's msexpand gives it.
 *
 * In: the bytes of a CL_TYPE_MSSZDD layer. Out: one child, `szdd`, the expanded data; or a
 * `MaxFileSize` limit when the size the header declares is over the limit; or nothing when the
 * 14-byte header is not exactly `SZDD 88 F0 27 33 'A' 00` + size. Never throws.
 *
 * Why these rules: ClamAV accepts only mode `A` with a zero "missing character" byte, expands with
 * a 4096-byte window that starts zero-filled at position 4080, and writes its output in 2048-byte
 * blocks, stopping at the first block that reaches the declared size: the output is the expansion
 * cut at that block boundary (so up to 2047 bytes past the declared size), or all of it when the
 * input ends first (a truncated file keeps what it expanded). The declared size is at most the
 * file-size limit, so the output is bounded by it plus one block.
 */
import { BoundedOutput, type UnpackContext, type UnpackItem } from '../unpack.js';

const HEADER = [0x53, 0x5a, 0x44, 0x44, 0x88, 0xf0, 0x27, 0x33, 0x41, 0x00];
const HEADER_LEN = 14;
const WINDOW = 4096;
const BLOCK = 2048;

export function* szddMembers(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  if (bytes.length < HEADER_LEN) return;
  for (let i = 0; i < HEADER.length; i++) if (bytes[i] !== HEADER[i]) return;
  const declared = (bytes[10]! | (bytes[11]! << 8) | (bytes[12]! << 16) | (bytes[13]! << 24)) >>> 0;
  const max = ctx.limits.maxFileSize;
  if (max > 0 && declared > max) {
    yield { name: 'szdd', limit: 'MaxFileSize', size: declared };
    return;
  }
  // Output stops at the first whole block that reaches the declared size.
  const cap = BLOCK * Math.max(1, Math.ceil(declared / BLOCK));
  const out = new BoundedOutput(cap);
  const win = new Uint8Array(WINDOW);
  let j = WINDOW - 16;
  let r = HEADER_LEN;
  const end = bytes.length;
  outer: while (r < end) {
    const flags = bytes[r++]!;
    for (let bit = 0; bit < 8; bit++) {
      if (flags & (1 << bit)) {
        if (r >= end) break outer;
        const c = bytes[r++]!;
        if (!out.byte(c)) break outer;
        win[j] = c;
        j = (j + 1) & (WINDOW - 1);
      } else {
        if (r + 1 >= end) break outer;
        const lo = bytes[r++]!, hi = bytes[r++]!;
        let k = lo | ((hi & 0xf0) << 4);
        for (let n = (hi & 0x0f) + 3; n > 0; n--) {
          const c = win[k]!;
          if (!out.byte(c)) break outer;
          win[j] = c;
          j = (j + 1) & (WINDOW - 1);
          k = (k + 1) & (WINDOW - 1);
        }
      }
    }
  }
  yield { name: 'szdd', data: out.view() };
}
