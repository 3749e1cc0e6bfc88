/**
 * Raw deflate (ZIP method 8) and Deflate64 (method 9) decoding, bounded by output.
 *
 * In: the compressed bytes of one entry, an output bound and which of the two formats. Out:
 * `{ data, complete, error? }` (the shape of `../compress/common.ts`): `complete` when the final
 * block ended; `error` is `LIMIT` when the next byte would pass the bound (`data` holds exactly the
 * bound), `TRUNCATED` when the input ended first (`data` holds every symbol decoded in full), or a
 * reason for damage (`data` holds what came before it).
 *
 * Why our own decoder: Deflate64 is not in zlib. It is deflate with a 64 KiB window, length code
 * 285 meaning 3 + a 16-bit extra, and distance codes 30 and 31 (32769 and 49153 + 14 extra bits).
 * The checks follow zlib as ClamAV 1.4 uses it: for deflate at most 286 literal/length and 30
 * distance code lengths in a dynamic header; for Deflate64 no such bound (ClamAV's `inflate64.c`
 * is built with PKZIP_BUG_WORKAROUND, and 7-Zip declares 31 or 32 distance codes when it uses
 * codes 30/31). Over-subscribed code sets are damage, incomplete ones too unless the set is a
 * single one-bit code, and a distance reaching before the first byte is damage. zlib (method 8)
 * also refuses a dynamic block without an end-of-block code; ClamAV's Deflate64 does not.
 *
 * Strategy: an LSB-first bit buffer of at most 31 bits, Huffman codes decoded through a 9-bit
 * table and, for longer codes, canonical counting (a few steps per symbol; building a table costs
 * 512 steps, so a stream of tiny dynamic blocks stays linear).
 */
import { LIMIT, type DecodeResult } from '../compress/common.js';

/** The `error` of a stream whose input ended before its final block did. */
export const TRUNCATED = 'truncated';

const FAST_BITS = 9;
const FAST_MASK = (1 << FAST_BITS) - 1;

interface Huffman {
  /** Codes of each length 0..15. */
  count: Uint16Array;
  /** Symbols in canonical order. */
  symbol: Uint16Array;
  /** By the next 9 bits (LSB first): `len << 16 | symbol`, or 0 when the code is longer or invalid. */
  fast: Int32Array;
}

/** Builds a canonical code from lengths; undefined when over-subscribed or (unless allowed) incomplete. */
function buildHuffman(lengths: Uint8Array, n: number, allowIncomplete: boolean): Huffman | undefined {
  const count = new Uint16Array(16);
  for (let i = 0; i < n; i++) count[lengths[i]!]!++;
  count[0] = 0;
  let max = 15;
  while (max > 0 && count[max] === 0) max--;
  let left = 1;
  for (let len = 1; len <= 15; len++) {
    left = (left << 1) - count[len]!;
    if (left < 0) return undefined;
  }
  if (max > 0 && left > 0 && (!allowIncomplete || max !== 1)) return undefined;
  const offs = new Uint16Array(16);
  for (let len = 1; len < 15; len++) offs[len + 1] = offs[len]! + count[len]!;
  const symbol = new Uint16Array(Math.max(1, n));
  for (let s = 0; s < n; s++) if (lengths[s]) symbol[offs[lengths[s]!]!++] = s;
  const fast = new Int32Array(1 << FAST_BITS);
  // Canonical codes (RFC 1951 3.2.2), bit-reversed into the table for codes of up to 9 bits.
  const next = new Uint16Array(16);
  let code = 0;
  for (let len = 1; len <= 15; len++) { next[len] = code; code = (code + count[len]!) << 1; }
  for (let s = 0; s < n; s++) {
    const len = lengths[s]!;
    if (len === 0) continue;
    const c = next[len]!++;
    if (len > FAST_BITS) continue;
    let rev = 0;
    for (let i = 0; i < len; i++) rev |= ((c >> i) & 1) << (len - 1 - i);
    const entry = (len << 16) | s;
    for (let k = rev; k < 1 << FAST_BITS; k += 1 << len) fast[k] = entry;
  }
  return { count, symbol, fast };
}

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577, 32769, 49153];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14];
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

let FIXED: { lit: Huffman; dist: Huffman } | undefined;
function fixedCodes(): { lit: Huffman; dist: Huffman } {
  if (!FIXED) {
    const l = new Uint8Array(288);
    l.fill(8, 0, 144); l.fill(9, 144, 256); l.fill(7, 256, 280); l.fill(8, 280, 288);
    const d = new Uint8Array(32).fill(5);
    FIXED = { lit: buildHuffman(l, 288, false)!, dist: buildHuffman(d, 32, false)! };
  }
  return FIXED;
}

/** Symbol results beyond 0..0xffff: the input ended inside the code, or the code is invalid. */
const SYM_TRUNC = -1;
const SYM_BAD = -2;

export interface InflateOptions {
  /** Literal/length and distance code lengths a dynamic header may declare (default: 286 and 30 for deflate, no bound for Deflate64). */
  maxLitCodes?: number;
  maxDistCodes?: number;
}

/**
 * Decodes raw deflate (`deflate64` false) or Deflate64 (true) into at most `maxOutput` bytes.
 * Never throws.
 */
export function inflateRaw(input: Uint8Array, maxOutput: number, deflate64 = false, opts: InflateOptions = {}): DecodeResult {
  const maxLit = opts.maxLitCodes ?? (deflate64 ? 288 : 286);
  const maxDist = opts.maxDistCodes ?? (deflate64 ? 32 : 30);
  const limit = Math.max(0, Math.floor(maxOutput));
  const inLen = input.length;
  let pos = 0;
  let bitbuf = 0;
  let bitcnt = 0;
  let out = new Uint8Array(Math.max(16, Math.min(limit, Math.max(1 << 16, inLen * 4))));
  let olen = 0;

  const fill = (): void => {
    while (bitcnt <= 23 && pos < inLen) { bitbuf |= input[pos++]! << bitcnt; bitcnt += 8; }
  };
  const grow = (need: number): void => {
    let size = out.length;
    while (size < need) size *= 2;
    const next = new Uint8Array(Math.min(size, limit));
    next.set(out.subarray(0, olen));
    out = next;
  };
  const decode = (h: Huffman): number => {
    if (bitcnt < 15) fill();
    const e = h.fast[bitbuf & FAST_MASK]!;
    if (e !== 0) {
      const len = e >>> 16;
      if (len > bitcnt) return SYM_TRUNC;
      bitbuf >>>= len; bitcnt -= len;
      return e & 0xffff;
    }
    let code = 0, first = 0, index = 0, b = bitbuf;
    for (let len = 1; len <= 15; len++) {
      if (len > bitcnt) return SYM_TRUNC;
      code |= b & 1;
      b >>>= 1;
      const count = h.count[len]!;
      if (code - count < first) {
        bitbuf >>>= len; bitcnt -= len;
        return h.symbol[index + code - first]!;
      }
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    return SYM_BAD;
  };
  const done = (complete: boolean, error?: string): DecodeResult => ({
    data: out.subarray(0, olen), complete, ...(error !== undefined ? { error } : {}), ...(complete ? { inputEnd: pos - (bitcnt >>> 3) } : {}),
  });
  const lengths = new Uint8Array(320);

  for (;;) {
    fill();
    if (bitcnt < 3) return done(false, TRUNCATED);
    const final = bitbuf & 1;
    const type = (bitbuf >>> 1) & 3;
    bitbuf >>>= 3; bitcnt -= 3;
    if (type === 0) {
      // Stored: drop to a byte boundary, give back the whole bytes held, read LEN and NLEN.
      bitbuf >>>= bitcnt & 7; bitcnt -= bitcnt & 7;
      pos -= bitcnt >>> 3; bitbuf = 0; bitcnt = 0;
      if (pos + 4 > inLen) return done(false, TRUNCATED);
      const len = input[pos]! | (input[pos + 1]! << 8);
      const nlen = input[pos + 2]! | (input[pos + 3]! << 8);
      if (len !== (~nlen & 0xffff)) return done(false, 'invalid stored block lengths');
      pos += 4;
      const avail = Math.min(len, inLen - pos);
      const fits = Math.min(avail, limit - olen);
      if (olen + fits > out.length) grow(olen + fits);
      out.set(input.subarray(pos, pos + fits), olen);
      olen += fits; pos += fits;
      if (fits < avail) return done(false, LIMIT);
      if (avail < len) return done(false, TRUNCATED);
      if (final) return done(true);
      continue;
    }
    let lit: Huffman, dist: Huffman;
    if (type === 1) {
      ({ lit, dist } = fixedCodes());
    } else if (type === 2) {
      fill();
      if (bitcnt < 14) return done(false, TRUNCATED);
      const nlen = (bitbuf & 31) + 257;
      const ndist = ((bitbuf >>> 5) & 31) + 1;
      const ncode = ((bitbuf >>> 10) & 15) + 4;
      bitbuf >>>= 14; bitcnt -= 14;
      if (nlen > maxLit || ndist > maxDist) return done(false, 'too many length or distance symbols');
      lengths.fill(0, 0, 19);
      for (let i = 0; i < ncode; i++) {
        if (bitcnt < 3) { fill(); if (bitcnt < 3) return done(false, TRUNCATED); }
        lengths[CL_ORDER[i]!] = bitbuf & 7;
        bitbuf >>>= 3; bitcnt -= 3;
      }
      const cl = buildHuffman(lengths, 19, false);
      if (!cl) return done(false, 'invalid code lengths set');
      const total = nlen + ndist;
      const lens = new Uint8Array(total);
      let have = 0;
      while (have < total) {
        const sym = decode(cl);
        if (sym === SYM_TRUNC) return done(false, TRUNCATED);
        if (sym < 0) return done(false, 'invalid code lengths set');
        if (sym < 16) { lens[have++] = sym; continue; }
        let rep: number, val = 0;
        const need = sym === 16 ? 2 : sym === 17 ? 3 : 7;
        if (bitcnt < need) { fill(); if (bitcnt < need) return done(false, TRUNCATED); }
        const extra = bitbuf & ((1 << need) - 1);
        bitbuf >>>= need; bitcnt -= need;
        if (sym === 16) {
          if (have === 0) return done(false, 'invalid bit length repeat');
          val = lens[have - 1]!;
          rep = 3 + extra;
        } else {
          rep = (sym === 17 ? 3 : 11) + extra;
        }
        if (have + rep > total) return done(false, 'invalid bit length repeat');
        lens.fill(val, have, have + rep);
        have += rep;
      }
      if (!deflate64 && lens[256] === 0) return done(false, 'invalid code -- missing end-of-block');
      const l = buildHuffman(lens, nlen, true);
      if (!l) return done(false, 'invalid literal/lengths set');
      const d = buildHuffman(lens.subarray(nlen), ndist, true);
      if (!d) return done(false, 'invalid distances set');
      lit = l; dist = d;
    } else {
      return done(false, 'invalid block type');
    }
    // The symbols of one Huffman block.
    const litFast = lit.fast;
    for (;;) {
      // The common case inline: refill, then a code of up to 9 bits from the table.
      while (bitcnt <= 23 && pos < inLen) { bitbuf |= input[pos++]! << bitcnt; bitcnt += 8; }
      const fe = litFast[bitbuf & FAST_MASK]!;
      let sym: number;
      if (fe !== 0 && fe >>> 16 <= bitcnt) {
        bitbuf >>>= fe >>> 16; bitcnt -= fe >>> 16;
        sym = fe & 0xffff;
      } else {
        sym = decode(lit);
      }
      if (sym < 256) {
        if (sym === SYM_TRUNC) return done(false, TRUNCATED);
        if (sym < 0) return done(false, 'invalid literal/length code');
        if (olen >= limit) return done(false, LIMIT);
        if (olen >= out.length) grow(olen + 1);
        out[olen++] = sym;
        continue;
      }
      if (sym === 256) break;
      const li = sym - 257;
      if (li > 28) return done(false, 'invalid literal/length code');
      let len: number;
      if (li === 28 && deflate64) {
        if (bitcnt < 16) { fill(); if (bitcnt < 16) return done(false, TRUNCATED); }
        len = 3 + (bitbuf & 0xffff);
        bitbuf >>>= 16; bitcnt -= 16;
      } else {
        const eb = LEN_EXTRA[li]!;
        if (bitcnt < eb) { fill(); if (bitcnt < eb) return done(false, TRUNCATED); }
        len = LEN_BASE[li]! + (bitbuf & ((1 << eb) - 1));
        bitbuf >>>= eb; bitcnt -= eb;
      }
      const ds = decode(dist);
      if (ds === SYM_TRUNC) return done(false, TRUNCATED);
      if (ds < 0 || (ds >= 30 && !deflate64)) return done(false, 'invalid distance code');
      const eb = DIST_EXTRA[ds]!;
      if (bitcnt < eb) { fill(); if (bitcnt < eb) return done(false, TRUNCATED); }
      const d = DIST_BASE[ds]! + (bitbuf & ((1 << eb) - 1));
      bitbuf >>>= eb; bitcnt -= eb;
      if (d > olen) return done(false, 'invalid distance too far back');
      const n = Math.min(len, limit - olen);
      if (olen + n > out.length) grow(olen + n);
      const o = out;
      let at = olen;
      if (n < 16) {
        for (let i = 0; i < n; i++, at++) o[at] = o[at - d]!;
      } else if (d === 1) {
        o.fill(o[at - 1]!, at, at + n);
      } else {
        // Overlapping copies repeat a period of `d` bytes: copy in chunks that double as they go.
        for (let done = 0; done < n;) {
          const len = Math.min(n - done, d + done);
          o.copyWithin(at + done, at - d, at - d + len);
          done += len;
        }
      }
      olen += n;
      if (n < len) return done(false, LIMIT);
    }
    if (final) return done(true);
  }
}
