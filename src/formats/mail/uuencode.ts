/**
 * uuencoded files (`begin mode name` … `end`) → the decoded file, as ClamAV 1.4 decodes it.
 *
 * In: the bytes of a CL_TYPE_UUENCODED layer (or, for the mail reader, the offset of the line
 * after a `begin` line). Out: one child, the decoded data (nothing when the first line is not
 * `begin`, three digits, a space and a name).
 *
 * ClamAV's rules (`libclamav/uuencode.c`, `decodeLine` in `message.c`): lines are read 999 bytes
 * at most; decoding stops at `end`, at an empty line, and at the first line whose length
 * character is out of range (` ` or `` ` ``, more than 62) or whose data is shorter than it says.
 * Characters are taken as `(c - 32) & 63`; a line whose data is not a multiple of four characters
 * decodes only its whole groups, the rest of its stated length being whatever the previous line
 * left in the decoder's buffer after its terminating NUL (reproduced here, so hashes agree on such
 * files too; only a short first line shows uninitialised memory in ClamAV, zeros here).
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { Bytes, equalsCI, field, fmapGets, isUuencodeBegin } from './message.js';

/** Decodes uuencoded lines starting at `at` until `end`, an empty line or a bad line; `next` is where reading stopped. */
export function uudecodeLines(b: Uint8Array, at: number, limit: number): { data: Bytes; next: number } {
  const out = new Bytes(limit);
  const scratch = new Uint8Array(1024 + 64);
  for (;;) {
    const r = fmapGets(b, at);
    if (!r) break;
    at = r.next;
    let line = r.line;
    let e = line.length;
    while (e > 0 && (line.charCodeAt(e - 1) === 0x0a || line.charCodeAt(e - 1) === 0x0d)) e--;
    line = line.slice(0, e);
    if (equalsCI(line, 'end') || line === '') break;
    const n = decodeUuLine(line, scratch);
    if (n > 62 || n === 0) break;
    for (let i = 0; i < n; i++) out.push(scratch[i]!);
    if (out.overflowed) break;
  }
  return { data: out, next: at };
}

/** One line into `buf`: the number of bytes the line stands for (0 when ClamAV decodes nothing from it). */
function decodeUuLine(line: string, buf: Uint8Array): number {
  if (isUuencodeBegin(line)) return 0;
  const c0 = line.charCodeAt(0);
  if ((c0 & 0x3f) === 0x20) return 0;
  const reallen = (c0 - 32) & 0xff;
  if (reallen === 0 || reallen > 62) return 0;
  const len = line.length - 1;
  if (len > buf.length || reallen > len) return 0;
  const v = (k: number): number => (line.charCodeAt(k) - 32) & 63;
  const groups = len >> 2;
  let o = 0;
  for (let g = 0; g < groups; g++) {
    const p = 1 + g * 4;
    const b1 = v(p), b2 = v(p + 1), b3 = v(p + 2), b4 = v(p + 3);
    buf[o++] = ((b1 << 2) | (b2 >> 4)) & 0xff;
    buf[o++] = ((b2 << 4) | (b3 >> 2)) & 0xff;
    buf[o++] = ((b3 << 6) | b4) & 0xff;
  }
  buf[reallen] = 0; // decodeLine ends its output with a NUL, which the next short line may show
  return reallen;
}

/** Reads a CL_TYPE_UUENCODED layer: the file its first `begin` line starts. */
export function* unpackUuencoded(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  const first = fmapGets(bytes, 0);
  if (!first || !isUuencodeBegin(first.line)) return;
  const name = field(first.line, 2, ' ');
  if (name === undefined) return;
  const r = uudecodeLines(bytes, first.next, ctx.limits.maxFileSize + 1);
  if (r.data.length === 0) return;
  const clean = name.replace(/[\r\n]+$/, '');
  if (r.data.overflowed || r.data.length > ctx.limits.maxFileSize) yield { name: clean, limit: 'MaxFileSize' };
  else yield { name: clean, data: r.data.view() };
}
