/**
 * PDF stream filters as ClamAV 1.4 applies them: ASCIIHexDecode, ASCII85Decode, FlateDecode,
 * LZWDecode and RunLengthDecode, each with ClamAV's tolerance and its failures.
 *
 * In: the bytes one filter gets (the stream, or the previous filter's output) and the decoded-size
 * limit. Out: `ok` with the decoded bytes, `empty` when a filter decoded nothing (ClamAV then
 * stops the chain and scans nothing decoded), `error` when ClamAV's filter fails (the chain stops
 * and the previous stage's bytes are scanned), or `limit` when the output would need more room
 * than MaxFileSize allows (a failure too, also reported as a limit). Never throws.
 *
 * ClamAV quirks kept on purpose: ASCIIHexDecode skips only spaces, so a newline inside hex digits
 * is an error unless it is among the last three bytes; ASCII85 without `~>` drops an unfinished
 * group; Flate and LZW skip one leading CR, and when the first attempt writes nothing they retry
 * from the next line; a damaged Flate stream keeps what was inflated before the damage; decoders
 * that grow their output (Flate, LZW, RunLength) do so in 256 KiB steps and fail when a step
 * would pass MaxFileSize. No predictor is applied (ClamAV ignores /DecodeParms for Flate).
 */
import { zlibInflate } from './inflate.js';

export type FilterResult =
  | { status: 'ok'; data: Uint8Array }
  | { status: 'empty' }
  | { status: 'error' }
  | { status: 'limit' };

/** ClamAV's output growth step for Flate, LZW and RunLength. */
const CHUNK = 256 * 1024;

/** The largest output buffer the 256 KiB steps reach under `maxFileSize` (0: no limit). */
export function chunkCap(maxFileSize: number): number {
  if (maxFileSize <= 0) return Number.MAX_SAFE_INTEGER;
  return CHUNK * Math.max(1, Math.floor(maxFileSize / CHUNK));
}

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) { HEX[0x41 + c] = 10 + c; HEX[0x61 + c] = 10 + c; }
/** Value of a hex digit, or -1. */
export const hexValue = (c: number): number => HEX[c] ?? -1;

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

export function asciiHexDecode(src: Uint8Array): FilterResult {
  const out = new Uint8Array((src.length >> 1) + 1);
  let j = 0;
  for (let i = 0; i + 1 < src.length; i++) {
    const c = src[i]!;
    if (c === 0x20) continue;
    if (c === 0x3e) break;
    const hi = HEX[c]!, lo = HEX[src[i + 1]!]!;
    if (hi < 0 || lo < 0) {
      if (src.length - i < 4) continue;
      return { status: 'error' };
    }
    out[j++] = (hi << 4) | lo;
    i++;
  }
  return { status: 'ok', data: out.subarray(0, j) };
}

export function ascii85Decode(src: Uint8Array): FilterResult {
  // at most 4 bytes per 5 characters, and 4 per 'z'
  let zs = 0;
  for (let i = 0; i < src.length; i++) if (src[i] === 0x7a) zs++;
  const out = new Uint8Array(Math.floor((src.length * 4) / 5) + zs * 4 + 8);
  let j = 0, quintet = 0, sum = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    const eof = c === 0x7e && i + 1 < src.length && src[i + 1] === 0x3e;
    if (!eof && c >= 0x21 && c <= 0x75) {
      sum = sum * 85 + (c - 0x21);
      if (++quintet === 5) {
        out[j++] = Math.floor(sum / 0x1000000) & 0xff;
        out[j++] = (sum >>> 16) & 0xff;
        out[j++] = (sum >>> 8) & 0xff;
        out[j++] = sum & 0xff;
        quintet = 0;
        sum = 0;
      }
    } else if (!eof && c === 0x7a) {
      if (quintet) return { status: 'error' };
      j += 4; // four zero bytes (the buffer is zeroed)
    } else if (eof) {
      if (quintet) {
        if (quintet === 1) return { status: 'error' };
        for (let k = quintet; k < 5; k++) sum *= 85;
        sum += 0xffffff >>> ((quintet - 2) * 8);
        // (sum >> (24 - 8k)) & 0xff of a 64-bit sum
        for (let k = 0; k < quintet - 1; k++) out[j++] = Math.floor(sum / 2 ** (24 - 8 * k)) % 256;
      }
      break;
    } else if (!isSpace(c)) {
      return { status: 'error' };
    }
  }
  return { status: 'ok', data: out.subarray(0, j) };
}

export function runLengthDecode(src: Uint8Array, maxFileSize: number): FilterResult {
  const cap = chunkCap(maxFileSize);
  let out = new Uint8Array(Math.min(cap, Math.max(256, src.length * 2)));
  let j = 0, i = 0;
  const ensure = (n: number): void => {
    if (n <= out.length) return;
    const next = new Uint8Array(Math.min(cap, Math.max(n, out.length * 2)));
    next.set(out.subarray(0, j));
    out = next;
  };
  while (i < src.length) {
    const n = src[i++]!;
    if (n < 128) {
      if (i + n + 1 > src.length) return { status: 'error' };
      if (j + n + 1 > cap) return { status: 'limit' };
      ensure(j + n + 1);
      out.set(src.subarray(i, i + n + 1), j);
      i += n + 1;
      j += n + 1;
    } else if (n > 128) {
      if (i + 1 > src.length) return { status: 'error' };
      const run = 257 - n;
      if (j + run + 1 > cap) return { status: 'limit' };
      ensure(j + run);
      out.fill(src[i]!, j, j + run);
      i++;
      j += run;
    } else {
      break;
    }
  }
  if (j === 0) return { status: 'empty' };
  return { status: 'ok', data: out.subarray(0, j) };
}

/** Where ClamAV's decoders retry after a failed start: past the first run of CR/LF (or the end). */
function nextLineStart(b: Uint8Array): number {
  let toggle = false;
  let r = 0;
  for (; r < b.length; r++) {
    const c = b[r]!;
    if (c === 0x0a || c === 0x0d) toggle = true;
    else if (toggle) break;
  }
  return r;
}

export function flateDecode(src: Uint8Array, maxFileSize: number): FilterResult {
  let content = src;
  if (content[0] === 0x0d) {
    content = content.subarray(1);
    if (content.length === 0) return { status: 'ok', data: src };
  }
  const cap = chunkCap(maxFileSize);
  let r = zlibInflate(content, cap);
  if (!r.limited && r.data.length === 0 && r.end !== 'more') {
    content = content.subarray(nextLineStart(content));
    if (content.length === 0) return { status: 'error' };
    r = zlibInflate(content, cap);
  }
  if (r.limited) return { status: 'limit' };
  if (r.data.length === 0) return r.end === 'end' || r.end === 'more' ? { status: 'empty' } : { status: 'error' };
  return { status: 'ok', data: r.data };
}

const LZW_CSIZE = 1 << 14;
const CODE_CLEAR = 256, CODE_EOI = 257, CODE_FIRST = 258;

type LzwEnd = 'ok' | 'end' | 'error';

/** ClamAV's LZW decoder (libtiff's, with PDF's early change optional), as one pass. */
function lzwRun(src: Uint8Array, earlyChange: boolean, cap: number): { data: Uint8Array; end: LzwEnd; limited: boolean } {
  const next = new Int32Array(LZW_CSIZE).fill(-1);
  const length = new Uint16Array(LZW_CSIZE);
  const value = new Uint8Array(LZW_CSIZE);
  const first = new Uint8Array(LZW_CSIZE);
  for (let c = 0; c < 256; c++) { length[c] = 1; value[c] = c; first[c] = c; }
  let out = new Uint8Array(Math.min(cap, Math.max(256, src.length * 4)));
  let j = 0;
  let from = 0;
  let nbits = 9, nbitsmask = 511, maxcode = 510;
  let nextdata = 0, nextbits = 0;
  let freeEnt = CODE_FIRST;
  let oldcode = CODE_CLEAR;
  let end: LzwEnd = 'ok';
  let limited = false;

  /** The next code, or -1 when the input ran out. */
  const getCode = (): number => {
    if (from >= src.length) return -1;
    nextdata = ((nextdata << 8) | src[from++]!) & 0xffffff;
    nextbits += 8;
    if (nextbits < nbits) {
      if (from >= src.length) return -1;
      nextdata = ((nextdata << 8) | src[from++]!) & 0xffffff;
      nextbits += 8;
    }
    const code = (nextdata >> (nextbits - nbits)) & nbitsmask;
    nextbits -= nbits;
    return code;
  };
  const room = (n: number): boolean => {
    if (j + n <= out.length) return true;
    if (j + n > cap) return false;
    const grown = new Uint8Array(Math.min(cap, Math.max(j + n, out.length * 2)));
    grown.set(out.subarray(0, j));
    out = grown;
    return true;
  };
  /** CodeClear: resets the table and takes the first code after the clears; false to stop. */
  const clear = (): boolean => {
    freeEnt = CODE_FIRST;
    nbits = 9; nbitsmask = 511; maxcode = 510;
    let code = CODE_CLEAR;
    while (code === CODE_CLEAR) {
      const c = getCode();
      if (c < 0) break;
      code = c;
    }
    if (code < 256) {
      if (!room(1)) { limited = true; return false; }
      out[j++] = code;
    } else if (code === CODE_EOI) {
      end = 'end';
    } else if (code >= CODE_FIRST) {
      end = 'error';
    }
    oldcode = code;
    return end === 'ok';
  };

  run: {
    if (!clear()) break run;
    for (;;) {
      const code = getCode();
      if (code < 0) break;
      if (code === CODE_EOI) { end = 'end'; break; }
      if (code === CODE_CLEAR) {
        if (!clear()) break;
        continue;
      }
      if (freeEnt < 4096) {
        if (!earlyChange && freeEnt > maxcode) {
          if (++nbits > 12) nbits = 12;
          nbitsmask = (1 << nbits) - 1;
          maxcode = nbitsmask - 1;
        }
        const e = freeEnt;
        next[e] = oldcode;
        first[e] = first[oldcode]!;
        length[e] = length[oldcode]! + 1;
        value[e] = code < e ? first[code]! : first[e]!;
        freeEnt++;
        if (earlyChange && freeEnt > maxcode) {
          if (++nbits > 12) nbits = 12;
          nbitsmask = (1 << nbits) - 1;
          maxcode = nbitsmask - 1;
        }
        oldcode = code;
      }
      if (code >= 256) {
        if (code >= freeEnt) { end = 'error'; break; }
        const n = length[code]!;
        if (!room(n)) { limited = true; break; }
        let w = j + n;
        let p = code;
        while (p >= 0 && w > j) { out[--w] = value[p]!; p = next[p]!; }
        j += n;
      } else {
        if (!room(1)) { limited = true; break; }
        out[j++] = code;
      }
    }
  }
  return { data: out.subarray(0, j), end, limited };
}

export function lzwDecode(src: Uint8Array, earlyChange: boolean, maxFileSize: number): FilterResult {
  let content = src;
  if (content[0] === 0x0d) {
    content = content.subarray(1);
    if (content.length === 0) return { status: 'ok', data: src };
  }
  const cap = chunkCap(maxFileSize);
  let r = lzwRun(content, earlyChange, cap);
  if (!r.limited && r.data.length === 0 && r.end !== 'ok') {
    content = content.subarray(nextLineStart(content));
    if (content.length === 0) return { status: 'error' };
    r = lzwRun(content, earlyChange, cap);
  }
  if (r.limited) return { status: 'limit' };
  if (r.data.length === 0) return r.end === 'error' ? { status: 'error' } : { status: 'empty' };
  return { status: 'ok', data: r.data };
}
