/**
 * Encoded script files (JScript.Encode / VBScript.Encode, `#@~^…^#~@`) → the decoded script.
 *
 * In: a CL_TYPE_SCRENC layer. Out: one child `screnc.html`: `<script>`, the decoded text of the
 * first encoded block (then whatever follows its 12-byte checksum and terminator on the same
 * chunk), `</script>`, scanned as a file of its own; nothing when no `#@~^` is found.
 *
 * The file is read as ClamAV reads it: in chunks of at most 8191 bytes with NUL bytes dropped and
 * each chunk cut back to its last whitespace (`cli_readchunk`); the marker is looked for inside
 * one chunk (one split across two chunks is not seen); the six characters after it give the
 * encoded length (a base64 number, as ClamAV computes it, wrapping at 32 bits), the two after them
 * are skipped; decoding goes chunk after chunk until that many characters were consumed or the
 * file ends (what was decoded is kept).
 *
 * Why: ClamAV 1.4's `cli_scanscrenc` → `html_screnc_decode` (htmlnorm.c) writes that file to a
 * temporary directory and scans it.
 */
import { SCRENC_ORDER, SCRENC_TABLES } from '../html/htmlnorm.js';
import type { UnpackContext, UnpackItem } from '../unpack.js';

const CHUNK = 8192;

const B64 = (() => {
  const t = new Int16Array(256).fill(-1);
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < abc.length; i++) t[abc.charCodeAt(i)] = i;
  return t;
})();

/** C's isspace in the C locale. */
const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

interface Area { offset: number }

/** One chunk as ClamAV's reader returns it (its bytes, no NULs), or null at the end. */
function readChunk(src: Uint8Array, area: Area): Uint8Array | null {
  let len = Math.min(src.length - area.offset, CHUNK - 1);
  if (len <= 0) return null;
  const start = area.offset;
  const window = src.subarray(start, start + len);
  const nul = window.indexOf(0);
  let chunk: Uint8Array;
  let next: number;
  if (nul < 0) {
    chunk = window.slice();
    next = start + len;
    area.offset = next;
  } else {
    // Copy up to the NUL, then byte by byte skipping NULs until the chunk is full or the file ends.
    const buf = new Uint8Array(CHUNK - 1);
    buf.set(src.subarray(start, start + nul));
    len = nul;
    next = start + nul;
    while (next < src.length && len < CHUNK - 1) {
      const c = src[next++]!;
      if (c) buf[len++] = c;
    }
    area.offset = next;
    chunk = buf.subarray(0, len);
  }
  // Cut inside a word: go back to the last whitespace (unless there is none).
  if (next < src.length && !isSpace(src[next]!) && chunk.length > 0) {
    let keep = chunk.length;
    while (keep > 1 && !isSpace(chunk[keep - 1]!)) keep--;
    if (keep > 1 && keep < chunk.length) {
      area.offset -= chunk.length - keep;
      chunk = chunk.subarray(0, keep);
    }
  }
  return chunk;
}

/** The six characters of an encoded length or checksum, as ClamAV adds them up (mod 2^32). */
function screncNumber(ch: readonly number[]): number {
  const d = (k: number): number => B64[ch[k] ?? 0]!;
  let v = 0;
  v += d(0) < 0 ? 0 : d(0) * 4;
  v += d(1) >> 4;
  v += (d(1) & 0x0f) * 4096;
  v += ((d(2) >> 2) < 0 ? 0 : d(2) >> 2) * 256;
  v += (d(2) & 3) * 4194304;
  v += d(3) < 0 ? 0 : d(3) * 65536;
  v += (d(4) < 0 ? 0 : d(4) * 4) * 16777216;
  v += ((d(5) >> 4) < 0 ? 0 : d(5) >> 4) * 16777216;
  return ((v % 4294967296) + 4294967296) % 4294967296;
}

interface State { length: number; pos: number }

/** The output file: never longer than the input plus the two tags (each input byte gives at most one). */
class Out {
  readonly buf: Uint8Array;
  length = 0;
  constructor(size: number) { this.buf = new Uint8Array(size); }
  push(b: number): void { if (this.length < this.buf.length) this.buf[this.length++] = b; }
  text(s: string): void { for (let i = 0; i < s.length; i++) this.push(s.charCodeAt(i)); }
}

/**
 * Decodes `line` from `p` while encoded characters remain; appends the output to `out`: the
 * decoded bytes and, once the block is done, the rest of the line after its checksum.
 */
function decodeLine(line: Uint8Array, p: number, s: State, out: Out): void {
  const n = line.length;
  while (s.length > 0 && p < n) {
    const c = line[p]!;
    if (c === 0x0a || c === 0x0d) { p++; continue; }
    if (c < 0x80) {
      let value = SCRENC_TABLES[SCRENC_ORDER[s.pos]!]![c]!;
      if (value === 0xff) {
        p++;
        s.length = (s.length - 1) >>> 0;
        if (p >= n) p--;
        else {
          switch (line[p]) {
            case 0x21: value = 0x3c; break;
            case 0x23: value = 0x0d; break;
            case 0x24: value = 0x40; break;
            case 0x26: value = 0x0a; break;
            case 0x2a: value = 0x3e; break;
          }
        }
      }
      out.push(value);
      s.pos = (s.pos + 1) & 63;
    } else {
      // A byte of 0x80 or more and the one after it are copied as they are.
      out.push(c);
      p++;
      if (p >= n) break;
      out.push(line[p]!);
    }
    p++;
    s.length = (s.length - 1) >>> 0;
  }
  if (s.length === 0) {
    if (n - p >= 12) p += 12;
    for (; p < n; p++) out.push(line[p]!);
  }
}

const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
const MARKER = ascii('#@~^');

function findMarker(line: Uint8Array): number {
  outer: for (let i = 0; i + 4 <= line.length; i++) {
    for (let k = 0; k < 4; k++) if (line[i + k] !== MARKER[k]) continue outer;
    return i;
  }
  return -1;
}

/** The decoded file ClamAV scans, or undefined when there is no encoded block. */
export function screncDecodeFile(src: Uint8Array): Uint8Array | undefined {
  const area: Area = { offset: 0 };
  let line: Uint8Array | null;
  let p = -1;
  while ((line = readChunk(src, area)) !== null) {
    p = findMarker(line);
    if (p >= 0) break;
  }
  if (!line) return undefined;
  p += 4;
  const digits: number[] = [];
  for (let count = 0; count < 8; count++, p++) {
    if (p >= line.length) {
      line = readChunk(src, area);
      if (!line) return undefined;
      p = 0;
    }
    if (count < 6) digits.push(line[p]!);
  }
  const state: State = { length: screncNumber(digits), pos: 0 };
  const out = new Out(src.length + 17);
  out.text('<script>');
  while (state.length && line) {
    decodeLine(line, p, state, out);
    line = null;
    if (state.length) { line = readChunk(src, area); p = 0; }
  }
  out.text('</script>');
  return out.buf.subarray(0, out.length);
}

export function* screncItems(bytes: Uint8Array, _ctx: UnpackContext): Iterable<UnpackItem> {
  const data = screncDecodeFile(bytes);
  if (data) yield { name: 'screnc.html', data };
}
