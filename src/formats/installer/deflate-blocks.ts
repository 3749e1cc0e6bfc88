/**
 * Where the blocks of a raw deflate stream end, in output bytes and input bytes, without keeping
 * the output.
 *
 * In: a raw deflate stream. Out: for each block, the output offset and the input byte (rounded
 * up) where it ends; the walk stops at the final block, at damage, at the end of the input or
 * past `maxOut` bytes of output.
 *
 * Why: NSIS's inflater (the one ClamAV carries) reads ahead into its 32 KiB window but waits at
 * the end of every block until the window is drained, so how much input it has taken at a given
 * output position depends on where the blocks end. Codes are decoded bit by bit (canonical
 * Huffman: a count per length and the symbols in code order), which is slow but only counts.
 */

export interface BlockEnd { out: number; inByte: number }

export interface BlockWalk {
  ends: BlockEnd[];
  /**
   * The output count where NSIS's inflater stalls for want of look-ahead: it loads as many bits as
   * its first-level table covers (9 for literal/length codes, 6 or 5 for distances, fewer when the
   * block's codes are all shorter) before decoding a code, so a stream that ends right after its
   * last code may leave that code undecoded. Undefined when it does not stall.
   */
  stall?: number;
}

interface Huff { count: Uint16Array; symbol: Uint16Array }

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

class Damage extends Error {}

function huff(lengths: ArrayLike<number>, n: number): Huff {
  const count = new Uint16Array(16);
  for (let i = 0; i < n; i++) count[lengths[i]!]!++;
  const offs = new Uint16Array(16);
  for (let len = 1; len < 15; len++) offs[len + 1] = offs[len]! + count[len]!;
  const symbol = new Uint16Array(n);
  for (let i = 0; i < n; i++) if (lengths[i]) symbol[offs[lengths[i]!]!++] = i;
  count[0] = 0;
  return { count, symbol };
}

let fixed: { lit: Huff; dist: Huff } | undefined;
function fixedTables(): { lit: Huff; dist: Huff } {
  if (!fixed) {
    const l = new Uint8Array(288);
    for (let i = 0; i < 288; i++) l[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
    fixed = { lit: huff(l, 288), dist: huff(new Uint8Array(30).fill(5), 30) };
  }
  return fixed;
}

/** The ends of the stream's blocks (the last one the final block when the stream is whole). */
export function deflateBlockEnds(input: Uint8Array, maxOut = Infinity): BlockEnd[] {
  return walkDeflate(input, maxOut).ends;
}

/** The block ends, and where NSIS's inflater would stall at the end of the input. */
export function walkDeflate(input: Uint8Array, maxOut = Infinity): BlockWalk {
  const ends: BlockEnd[] = [];
  let stall: number | undefined;
  const total = input.length * 8;
  let bit = 0;
  let out = 0;
  const bits = (n: number): number => {
    if (bit + n > total) throw new Damage();
    let v = 0;
    for (let i = 0; i < n; i++, bit++) v |= ((input[bit >>> 3]! >>> (bit & 7)) & 1) << i;
    return v;
  };
  /** First-level table bits of a code set, as the inflater's table builder picks them. */
  const rootBits = (h: Huff, want: number): number => {
    let min = 0, max = 0;
    for (let len = 1; len < 16; len++) if (h.count[len]) { if (!min) min = len; max = len; }
    return Math.min(Math.max(want, min), max);
  };
  /** Whether the inflater has the look-ahead it asks for before decoding the next code. */
  const lookahead = (need: number): boolean => total - bit >= need;
  const decode = (h: Huff): number => {
    let code = 0, first = 0, index = 0;
    for (let len = 1; len < 16; len++) {
      code |= bits(1);
      const c = h.count[len]!;
      if (code - c < first) return h.symbol[index + code - first]!;
      index += c;
      first = (first + c) << 1;
      code <<= 1;
    }
    throw new Damage();
  };
  try {
    for (;;) {
      const last = bits(1);
      const type = bits(2);
      if (type === 0) {
        bit = (bit + 7) & ~7;
        const len = bits(16);
        if ((bits(16) ^ 0xffff) !== len) throw new Damage();
        if (bit + len * 8 > total) throw new Damage();
        bit += len * 8;
        out += len;
      } else if (type === 3) throw new Damage();
      else {
        let lit: Huff, dist: Huff;
        let lbits = 9, dbits = 5;
        if (type === 1) ({ lit, dist } = fixedTables());
        else {
          const nlen = bits(5) + 257, ndist = bits(5) + 1, ncode = bits(4) + 4;
          if (nlen > 286 || ndist > 30) throw new Damage();
          const cl = new Uint8Array(19);
          for (let i = 0; i < ncode; i++) cl[ORDER[i]!] = bits(3);
          const ch = huff(cl, 19);
          const lengths = new Uint8Array(nlen + ndist);
          for (let i = 0; i < nlen + ndist;) {
            const sym = decode(ch);
            if (sym < 16) { lengths[i++] = sym; continue; }
            let rep: number, val = 0;
            if (sym === 16) { if (i === 0) throw new Damage(); val = lengths[i - 1]!; rep = 3 + bits(2); }
            else if (sym === 17) rep = 3 + bits(3);
            else rep = 11 + bits(7);
            if (i + rep > nlen + ndist) throw new Damage();
            while (rep--) lengths[i++] = val;
          }
          lit = huff(lengths.subarray(0, nlen), nlen);
          dist = huff(lengths.subarray(nlen), ndist);
          lbits = rootBits(lit, 9);
          dbits = rootBits(dist, 6);
        }
        for (;;) {
          if (stall === undefined && !lookahead(lbits)) stall = out;
          const sym = decode(lit);
          if (sym < 256) { out++; continue; }
          if (sym === 256) break;
          if (out > maxOut) return { ends };
          const k = sym - 257;
          if (k >= 29) throw new Damage();
          const len = LEN_BASE[k]! + bits(LEN_EXTRA[k]!);
          if (stall === undefined && !lookahead(dbits)) stall = out;
          out += len;
          const d = decode(dist);
          if (d >= 30) throw new Damage();
          bits(DIST_EXTRA[d]!);
        }
      }
      ends.push({ out, inByte: (bit + 7) >>> 3 });
      if (last || out > maxOut) return { ends, ...(stall !== undefined ? { stall } : {}) };
    }
  } catch (e) {
    if (e instanceof Damage) return { ends, ...(stall !== undefined ? { stall } : {}) };
    throw e;
  }
}
