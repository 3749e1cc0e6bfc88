/**
 * zlib stream → its inflated bytes, keeping what came out before any damage.
 *
 * In: bytes that should be a zlib stream (RFC 1950 header, deflate data, Adler-32) and the most
 * bytes to produce. Out: the bytes inflated, how the stream ended (`end` after a good checksum,
 * `more` when the input ran out first, `error` at damage, `need-dict` for a preset dictionary) and
 * whether the output limit stopped it. Never throws.
 *
 * Why by hand: ClamAV's PDF reader drives zlib's `inflate()` itself and keeps every byte written
 * before an error (a corrupt block, a wrong checksum), while Node's zlib functions throw the
 * output away with the error. The checks are zlib's (header, window size, block types, stored
 * lengths, code sets complete except a single one-bit code, distances within the output), so a
 * stream stops where zlib would stop it.
 */

export type InflateEnd = 'end' | 'more' | 'error' | 'need-dict';

export interface InflateResult {
  data: Uint8Array;
  end: InflateEnd;
  /** Set when the output reached `limit` with more to come. */
  limited: boolean;
}

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A canonical Huffman code: symbols per length, symbols in code order, and a fast lookup. */
interface Huffman {
  count: Uint16Array;
  symbol: Uint16Array;
  /** Lookup by the next 9 bits (reversed order): (length << 16) | symbol, or 0 when longer. */
  fast: Uint32Array;
}

const FAST_BITS = 9;

/** Builds a code from lengths; `left` counts unused codes (<0: over-subscribed), `max` is the longest length. */
function buildCode(lengths: Uint8Array, n: number): { h: Huffman; left: number; max: number } {
  const count = new Uint16Array(16);
  for (let s = 0; s < n; s++) count[lengths[s]!]!++;
  count[0] = 0;
  let max = 0;
  for (let len = 1; len < 16; len++) if (count[len]) max = len;
  let left = 1;
  for (let len = 1; len < 16; len++) {
    left <<= 1;
    left -= count[len]!;
    if (left < 0) break;
  }
  const offs = new Uint16Array(16);
  for (let len = 1; len < 15; len++) offs[len + 1] = offs[len]! + count[len]!;
  const symbol = new Uint16Array(n);
  for (let s = 0; s < n; s++) if (lengths[s] !== 0) symbol[offs[lengths[s]!]!++] = s;
  // The fast table: every code of at most FAST_BITS bits, indexed by its bits as read (LSB first).
  const fast = new Uint32Array(1 << FAST_BITS);
  if (left >= 0) {
    let code = 0, index = 0;
    for (let len = 1; len <= FAST_BITS; len++) {
      const c = count[len]!;
      for (let k = 0; k < c; k++) {
        const value = code + k;
        let rev = 0;
        for (let b = 0; b < len; b++) rev |= ((value >> b) & 1) << (len - 1 - b);
        const sym = symbol[index + k]!;
        for (let fill = rev; fill < 1 << FAST_BITS; fill += 1 << len) fast[fill] = (len << 16) | sym;
      }
      index += c;
      code = (code + c) << 1;
    }
  }
  return { h: { count, symbol, fast }, left, max };
}

class Stop extends Error {}

/** Inflates a zlib stream; see the module comment. */
export function zlibInflate(input: Uint8Array, limit: number): InflateResult {
  let out = new Uint8Array(Math.max(64, Math.min(limit, input.length * 4 + 64)));
  let outLen = 0;
  let pos = 0;
  let bitBuf = 0;
  let bitCnt = 0;
  let limited = false;
  let end: InflateEnd = 'more';

  const need = (n: number): number => {
    while (bitCnt < n) {
      if (pos >= input.length) { end = 'more'; throw new Stop(); }
      bitBuf |= input[pos++]! << bitCnt;
      bitCnt += 8;
    }
    const v = bitBuf & ((1 << n) - 1);
    bitBuf >>>= n;
    bitCnt -= n;
    return v;
  };
  const fail = (): never => { end = 'error'; throw new Stop(); };
  const grow = (extra: number): boolean => {
    const want = outLen + extra;
    if (want > limit) return false;
    if (want <= out.length) return true;
    let size = out.length * 2;
    while (size < want) size *= 2;
    const next = new Uint8Array(Math.min(size, limit));
    next.set(out.subarray(0, outLen));
    out = next;
    return true;
  };
  const put = (b: number): void => {
    if (outLen >= out.length && !grow(1)) { limited = true; throw new Stop(); }
    out[outLen++] = b;
  };
  const decode = (h: Huffman): number => {
    // Fast path when enough bits are buffered (or can be).
    while (bitCnt < FAST_BITS && pos < input.length) {
      bitBuf |= input[pos++]! << bitCnt;
      bitCnt += 8;
    }
    if (bitCnt >= FAST_BITS) {
      const e = h.fast[bitBuf & ((1 << FAST_BITS) - 1)]!;
      if (e !== 0) {
        const len = e >>> 16;
        bitBuf >>>= len;
        bitCnt -= len;
        return e & 0xffff;
      }
    }
    // Slow path: bit by bit (long codes, or the last bits of the input).
    let code = 0, first = 0, index = 0;
    for (let len = 1; len < 16; len++) {
      code |= need(1);
      const c = h.count[len]!;
      if (code - c < first) return h.symbol[index + (code - first)]!;
      index += c;
      first += c;
      first <<= 1;
      code <<= 1;
    }
    return fail();
  };

  // Fixed codes, built once per call (cheap).
  let fixedLit: Huffman | undefined;
  let fixedDist: Huffman | undefined;

  try {
    // zlib header
    const cmf = need(8);
    const flg = need(8);
    if (((cmf << 8) | flg) % 31 !== 0) fail();
    if ((cmf & 0x0f) !== 8) fail();
    if ((cmf >> 4) + 8 > 15) fail();
    if (flg & 0x20) {
      need(16); need(16);
      end = 'need-dict';
      throw new Stop();
    }
    let last = 0;
    do {
      last = need(1);
      const type = need(2);
      if (type === 0) {
        pos -= bitCnt >> 3; bitBuf = 0; bitCnt = 0;
        if (pos + 4 > input.length) { end = 'more'; throw new Stop(); }
        const len = input[pos]! | (input[pos + 1]! << 8);
        const nlen = input[pos + 2]! | (input[pos + 3]! << 8);
        if (len !== (~nlen & 0xffff)) fail();
        pos += 4;
        const avail = Math.min(len, input.length - pos);
        const fit = Math.min(avail, limit - outLen);
        if (fit > 0) { grow(fit); out.set(input.subarray(pos, pos + fit), outLen); outLen += fit; }
        pos += fit;
        if (fit < avail) { limited = true; throw new Stop(); }
        if (avail < len) { end = 'more'; throw new Stop(); }
        continue;
      }
      let lit: Huffman, dist: Huffman;
      if (type === 1) {
        if (!fixedLit || !fixedDist) {
          const l = new Uint8Array(288);
          for (let s = 0; s < 144; s++) l[s] = 8;
          for (let s = 144; s < 256; s++) l[s] = 9;
          for (let s = 256; s < 280; s++) l[s] = 7;
          for (let s = 280; s < 288; s++) l[s] = 8;
          fixedLit = buildCode(l, 288).h;
          fixedDist = buildCode(new Uint8Array(30).fill(5), 30).h;
        }
        lit = fixedLit; dist = fixedDist;
      } else if (type === 2) {
        const nlen = need(5) + 257;
        const ndist = need(5) + 1;
        const ncode = need(4) + 4;
        if (nlen > 286 || ndist > 30) fail();
        const cl = new Uint8Array(19);
        for (let k = 0; k < ncode; k++) cl[CL_ORDER[k]!] = need(3);
        const clc = buildCode(cl, 19);
        if (clc.left !== 0) fail();
        const lengths = new Uint8Array(nlen + ndist);
        let k = 0;
        while (k < nlen + ndist) {
          const sym = decode(clc.h);
          if (sym < 16) { lengths[k++] = sym; continue; }
          let rep = 0, val = 0;
          if (sym === 16) {
            if (k === 0) fail();
            val = lengths[k - 1]!;
            rep = 3 + need(2);
          } else if (sym === 17) rep = 3 + need(3);
          else rep = 11 + need(7);
          if (k + rep > nlen + ndist) fail();
          while (rep--) lengths[k++] = val;
        }
        if (lengths[256] === 0) fail();
        const lc = buildCode(lengths.subarray(0, nlen), nlen);
        if (lc.left < 0 || (lc.left > 0 && lc.max !== 1)) fail();
        const dc = buildCode(lengths.subarray(nlen), ndist);
        if (dc.left < 0 || (dc.left > 0 && dc.max !== 1)) fail();
        lit = lc.h; dist = dc.h;
      } else {
        return fail();
      }
      for (;;) {
        const sym = decode(lit);
        if (sym < 256) { put(sym); continue; }
        if (sym === 256) break;
        const li = sym - 257;
        if (li >= 29) fail();
        const len = LEN_BASE[li]! + need(LEN_EXTRA[li]!);
        const ds = decode(dist);
        if (ds >= 30) fail();
        const d = DIST_BASE[ds]! + need(DIST_EXTRA[ds]!);
        if (d > outLen) fail();
        if (outLen + len > out.length && !grow(len)) {
          const room = limit - outLen;
          if (room > 0) grow(room);
          for (let i = 0; i < room; i++) { out[outLen] = out[outLen - d]!; outLen++; }
          limited = true;
          throw new Stop();
        }
        for (let i = 0; i < len; i++) { out[outLen] = out[outLen - d]!; outLen++; }
      }
    } while (!last);
    // Adler-32 trailer.
    pos -= bitCnt >> 3; bitBuf = 0; bitCnt = 0;
    if (pos + 4 > input.length) { end = 'more'; throw new Stop(); }
    const want = ((input[pos]! << 24) | (input[pos + 1]! << 16) | (input[pos + 2]! << 8) | input[pos + 3]!) >>> 0;
    end = adler32(out, outLen) === want ? 'end' : 'error';
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
  }
  return { data: out.subarray(0, outLen), end, limited };
}

function adler32(b: Uint8Array, n: number): number {
  let a = 1, s = 0;
  for (let i = 0; i < n;) {
    const stop = Math.min(n, i + 3800);
    for (; i < stop; i++) { a += b[i]!; s += a; }
    a %= 65521; s %= 65521;
  }
  return ((s << 16) | a) >>> 0;
}
