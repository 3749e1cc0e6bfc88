/**
 * PKWARE "imploded" data (ZIP method 6) → its bytes, bounded by output.
 *
 * In: the compressed bytes of one entry, its general-purpose flags (bit 1: 8 KiB dictionary
 * instead of 4 KiB; bit 2: three Shannon-Fano trees, literals coded, instead of two, literals as
 * 8 raw bits) and an output bound; optionally the declared size. Out: `{ data, complete, error? }`
 * (the shape of `../compress/common.ts`): `error` is `TRUNCATED` when the bits ran out (the normal
 * end of an imploded stream, which has no end marker), `LIMIT` at the bound, or the reason the
 * stream is damaged (a tree that does not add up, a code no tree has).
 *
 * Format (APPNOTE 5.3): each tree is a byte N then N + 1 bytes, each giving a run of (high
 * nibble + 1) symbols of bit length (low nibble + 1); the runs must cover exactly 256 literal or
 * 64 length/distance symbols. Codes are assigned from the longest length down, counting from zero
 * in steps of 2^(16 - length), symbols of equal length in descending order, and read from the
 * stream one bit at a time, first bit most significant. The stream is LSB-first: a 1 bit starts a
 * literal, a 0 bit a match (6 or 7 raw low distance bits, the distance tree's high 6 bits, the
 * length tree's symbol, plus 8 raw bits when it is 63; length = symbol + 2, or + 3 with a literal
 * tree). A match reaching before the first byte copies zeros.
 *
 * Without `size`, decoding goes on while bits remain, as ClamAV 1.4's `explode.c` does: padding
 * bits at the end may decode to a few more bytes, which ClamAV then scans; the output bound is the
 * only other stop. A code is looked up as ClamAV does: at each length the symbol of lowest number
 * whose code equals the bits read so far (so damaged trees decode the same way).
 */
import { LIMIT, type DecodeResult } from '../compress/common.js';
import { TRUNCATED } from './inflate.js';

const REV8 = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let r = 0;
    for (let b = 0; b < 8; b++) r |= ((i >> b) & 1) << (7 - b);
    t[i] = r;
  }
  return t;
})();

/**
 * A tree's decoding table: by the next 16 bits (first bit highest), `length << 16 | symbol` of the
 * shortest code that matches, or 0. Undefined when the tree bytes do not cover `expected` symbols.
 */
function buildTree(desc: Uint8Array, expected: number): Int32Array | undefined {
  const lens = new Uint8Array(expected);
  let left = expected, k = 0;
  for (let i = 1; i < desc.length; i++) {
    const b = desc[i]!;
    const n = (b >> 4) + 1;
    if (n > left) return undefined;
    lens.fill((b & 15) + 1, k, k + n);
    k += n;
    left -= n;
  }
  if (left !== 0) return undefined;
  // Symbols by length, ascending, stable; codes handed out from the end of that order.
  const order = Array.from({ length: expected }, (_, i) => i).sort((a, b) => lens[a]! - lens[b]! || a - b);
  const codes = new Int32Array(expected);
  let code = 0, inc = 0, last = 0;
  for (let i = expected - 1; i >= 0; i--) {
    const s = order[i]!;
    code = (code + inc) & 0xffff;
    if (lens[s] !== last) { last = lens[s]!; inc = 1 << (16 - last); }
    codes[s] = code;
  }
  const table = new Int32Array(1 << 16);
  // Longest first, highest symbol first: what is written last (shortest, lowest) wins.
  for (let i = expected - 1; i >= 0; i--) {
    const s = order[i]!;
    const len = lens[s]!;
    const span = 1 << (16 - len);
    const c = codes[s]!;
    if (c & (span - 1)) continue; // bits below the code's length set: no bit string reads as it
    table.fill((len << 16) | s, c, c + span);
  }
  return table;
}

/** Decodes imploded data; never throws. */
export function explode(input: Uint8Array, flags: number, maxOutput: number, size?: number): DecodeResult {
  const limit = Math.max(0, Math.floor(maxOutput));
  const stopAt = size === undefined ? Infinity : Math.max(0, size);
  const large = (flags & 2) !== 0;
  const litTree = (flags & 4) !== 0;
  const minLen = litTree ? 3 : 2;
  const distBits = large ? 7 : 6;
  const inLen = input.length;
  let out = new Uint8Array(Math.max(16, Math.min(limit, Math.max(1 << 16, inLen * 4))));
  let olen = 0;
  const done = (error?: string, complete = false): DecodeResult => ({ data: out.subarray(0, olen), complete, ...(error !== undefined ? { error } : {}) });

  // The trees, as whole bytes before the bit stream.
  let pos = 0;
  const trees: Int32Array[] = [];
  for (const expected of litTree ? [256, 64, 64] : [64, 64]) {
    if (pos >= inLen) return done(TRUNCATED);
    const n = input[pos]!;
    if (n > expected - 1) return done('too many tree bytes');
    if (pos + n + 2 > inLen) return done(TRUNCATED);
    const t = buildTree(input.subarray(pos, pos + n + 2), expected);
    if (!t) return done('invalid tree');
    trees.push(t);
    pos += n + 2;
  }
  const lit = litTree ? trees[0]! : undefined;
  const lenTree = trees[litTree ? 1 : 0]!;
  const distTree = trees[litTree ? 2 : 1]!;

  let bitbuf = 0, bitcnt = 0;
  const fill = (): void => {
    while (bitcnt <= 16 && pos < inLen) { bitbuf |= input[pos++]! << bitcnt; bitcnt += 8; }
  };
  /** Raw bits, or -1 when fewer remain. */
  const bits = (n: number): number => {
    if (bitcnt < n) { fill(); if (bitcnt < n) return -1; }
    const v = bitbuf & ((1 << n) - 1);
    bitbuf >>>= n; bitcnt -= n;
    return v;
  };
  /** A symbol, -1 when the bits ran out first, -2 when no code of up to 16 bits matches. */
  const symbol = (t: Int32Array): number => {
    if (bitcnt < 16) fill();
    const v = bitbuf & 0xffff;
    const e = t[(REV8[v & 255]! << 8) | REV8[v >>> 8]!]!;
    if (e === 0) return bitcnt >= 16 ? -2 : -1;
    const len = e >>> 16;
    if (len > bitcnt) return -1;
    bitbuf >>>= len; bitcnt -= len;
    return e & 0xffff;
  };
  const grow = (need: number): void => {
    let sz = out.length;
    while (sz < need) sz *= 2;
    const next = new Uint8Array(Math.min(sz, limit));
    next.set(out.subarray(0, olen));
    out = next;
  };

  for (;;) {
    if (olen >= stopAt) return done(undefined, true);
    const flag = bits(1);
    if (flag < 0) return done(TRUNCATED);
    if (flag === 1) {
      const b = lit ? symbol(lit) : bits(8);
      if (b === -1) return done(TRUNCATED);
      if (b < 0) return done('invalid literal code');
      if (olen >= limit) return done(LIMIT);
      if (olen >= out.length) grow(olen + 1);
      out[olen++] = b;
      continue;
    }
    const low = bits(distBits);
    if (low < 0) return done(TRUNCATED);
    const high = symbol(distTree);
    if (high === -1) return done(TRUNCATED);
    if (high < 0) return done('invalid distance code');
    const dist = ((high << distBits) | low) + 1;
    let ls = symbol(lenTree);
    if (ls === -1) return done(TRUNCATED);
    if (ls < 0) return done('invalid length code');
    if (ls === 63) {
      const x = bits(8);
      if (x < 0) return done(TRUNCATED);
      ls += x;
    }
    let len = ls + minLen;
    if (len > stopAt - olen) len = stopAt - olen;
    const n = Math.min(len, limit - olen);
    if (olen + n > out.length) grow(olen + n);
    const o = out;
    for (let i = 0; i < n; i++, olen++) o[olen] = olen >= dist ? o[olen - dist]! : 0;
    if (n < len) return done(LIMIT);
  }
}
