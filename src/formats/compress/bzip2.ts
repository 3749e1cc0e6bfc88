/**
 * bzip2 → the decompressed bytes, bounded; and the CL_TYPE_BZ reader.
 *
 * In: a bzip2 stream (`BZh1`..`BZh9`, blocks, end-of-stream mark), possibly several streams one
 * after another, possibly damaged or truncated, and the most bytes to produce. Out: a
 * `DecodeResult`: the bytes of every block decoded, `complete` when the stream(s) ended with every
 * block CRC and the combined CRC right, else the reason (`LIMIT` when the bound was reached). A
 * block whose CRC is wrong still gives its bytes (libbzip2 writes a block out before it checks
 * it). Randomised blocks (written by bzip2 0.9.0) are decoded. Never throws.
 *
 * Decoding follows the format: Huffman-coded MTF/RLE2 symbols with up to 6 tables switched every
 * 50 symbols, the inverse Burrows-Wheeler transform through a next-index vector, then the
 * run-length stage (4 equal bytes and a count). Work per block is bounded by the block size the
 * header declares (at most 900 000 symbols); output by `maxOutput`.
 *
 * The reader (`scanBzip2`) gives what ClamAV's `cli_scanbzip` scans: the first stream only (it
 * stops at the first end of stream), written out in 8 KiB pieces, so on damage or truncation the
 * last partial piece is lost; output past MaxFileSize is a limited child.
 *
 * `bunzip2Nsis` reads the stripped variant NSIS installers carry (one-byte block and end marks,
 * no header, no CRCs), with the same block decoder.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { CRC32_BE_TABLE, type DecodeResult, LIMIT, Sink } from './common.js';

/** The format's table of run lengths for randomised blocks. */
const RAND = [
  619, 720, 127, 481, 931, 816, 813, 233, 566, 247, 985, 724, 205, 454, 863, 491, 741, 242, 949, 214,
  733, 859, 335, 708, 621, 574, 73, 654, 730, 472, 419, 436, 278, 496, 867, 210, 399, 680, 480, 51,
  878, 465, 811, 169, 869, 675, 611, 697, 867, 561, 862, 687, 507, 283, 482, 129, 807, 591, 733, 623,
  150, 238, 59, 379, 684, 877, 625, 169, 643, 105, 170, 607, 520, 932, 727, 476, 693, 425, 174, 647,
  73, 122, 335, 530, 442, 853, 695, 249, 445, 515, 909, 545, 703, 919, 874, 474, 882, 500, 594, 612,
  641, 801, 220, 162, 819, 984, 589, 513, 495, 799, 161, 604, 958, 533, 221, 400, 386, 867, 600, 782,
  382, 596, 414, 171, 516, 375, 682, 485, 911, 276, 98, 553, 163, 354, 666, 933, 424, 341, 533, 870,
  227, 730, 475, 186, 263, 647, 537, 686, 600, 224, 469, 68, 770, 919, 190, 373, 294, 822, 808, 206,
  184, 943, 795, 384, 383, 461, 404, 758, 839, 887, 715, 67, 618, 276, 204, 918, 873, 777, 604, 560,
  951, 160, 578, 722, 79, 804, 96, 409, 713, 940, 652, 934, 970, 447, 318, 353, 859, 672, 112, 785,
  645, 863, 803, 350, 139, 93, 354, 99, 820, 908, 609, 772, 154, 274, 580, 184, 79, 626, 630, 742,
  653, 282, 762, 623, 680, 81, 927, 626, 789, 125, 411, 521, 938, 300, 821, 78, 343, 175, 128, 250,
  170, 774, 972, 275, 999, 639, 495, 78, 352, 126, 857, 956, 358, 619, 580, 124, 737, 594, 701, 612,
  669, 112, 134, 694, 363, 992, 809, 743, 168, 974, 944, 375, 748, 52, 600, 747, 642, 182, 862, 81,
  344, 805, 988, 739, 511, 655, 814, 334, 249, 515, 897, 955, 664, 981, 649, 113, 974, 459, 893, 228,
  433, 837, 553, 268, 926, 240, 102, 654, 459, 51, 686, 754, 806, 760, 493, 403, 415, 394, 687, 700,
  946, 670, 656, 610, 738, 392, 760, 799, 887, 653, 978, 321, 576, 617, 626, 502, 894, 679, 243, 440,
  680, 879, 194, 572, 640, 724, 926, 56, 204, 700, 707, 151, 457, 449, 797, 195, 791, 558, 945, 679,
  297, 59, 87, 824, 713, 663, 412, 693, 342, 606, 134, 108, 571, 364, 631, 212, 174, 643, 304, 329,
  343, 97, 430, 751, 497, 314, 983, 374, 822, 928, 140, 206, 73, 263, 980, 736, 876, 478, 430, 305,
  170, 514, 364, 692, 829, 82, 855, 953, 676, 246, 369, 970, 294, 750, 807, 827, 150, 790, 288, 923,
  804, 378, 215, 828, 592, 281, 565, 555, 710, 82, 896, 831, 547, 261, 524, 462, 293, 465, 502, 56,
  661, 821, 976, 991, 658, 869, 905, 758, 745, 193, 768, 550, 608, 933, 378, 286, 215, 979, 792, 961,
  61, 688, 793, 644, 986, 403, 106, 366, 905, 644, 372, 567, 466, 434, 645, 210, 389, 550, 919, 135,
  780, 773, 635, 389, 707, 100, 626, 958, 165, 504, 920, 176, 193, 713, 857, 265, 203, 50, 668, 108,
  645, 990, 626, 197, 510, 357, 358, 850, 858, 364, 936, 638,
];

const MAX_GROUPS = 6, MAX_ALPHA = 258, MAX_LEN = 20, GROUP_SIZE = 50, MAX_SELECTORS = 18002;

/** MSB-first bit reader; reading past the end gives zero bits and sets `overrun`. */
class Bits {
  private acc = 0;
  private cnt = 0;
  constructor(private readonly b: Uint8Array, public p: number) {}
  /** Bits were used that the input does not have. */
  get overrun(): boolean { return this.p * 8 - this.cnt > this.b.length * 8; }
  private fill(): void {
    while (this.cnt <= 24) {
      this.acc = (this.acc << 8) | (this.p < this.b.length ? this.b[this.p]! : 0);
      this.p++;
      this.cnt += 8;
    }
  }
  bits(n: number): number {
    if (this.cnt < n) this.fill();
    this.cnt -= n;
    return (this.acc >>> this.cnt) & ((1 << n) - 1);
  }
  /** The next `n` (at most 24) bits without using them. */
  peek(n: number): number {
    if (this.cnt < n) this.fill();
    return (this.acc >>> (this.cnt - n)) & ((1 << n) - 1);
  }
  skip(n: number): void { this.cnt -= n; }
  u32(): number { return ((this.bits(16) << 16) | this.bits(16)) >>> 0; }
  /** Drops the bits left in the current byte; `p` is then the next byte's offset. */
  align(): void {
    this.p -= this.cnt >> 3;
    this.cnt = 0;
  }
}

class DataError extends Error {}

/** Codes up to this length are decoded with one table look-up. */
const FAST_BITS = 10;

/**
 * Decoding tables of one Huffman group (canonical codes, as bzip2 assigns them): by length, the
 * first code, the last code and where its symbols start in `perm`; `fast` maps the next
 * FAST_BITS bits to (symbol << 5 | length) for the short codes, 0 for the others.
 */
interface Table { minLen: number; limit: Int32Array; first: Int32Array; offset: Int32Array; perm: Uint16Array; fast: Int32Array }

function makeTable(lengths: Uint8Array, alpha: number): Table {
  const count = new Int32Array(MAX_LEN + 2);
  let minLen = MAX_LEN, maxLen = 0;
  for (let i = 0; i < alpha; i++) {
    const l = lengths[i]!;
    count[l]!++;
    if (l < minLen) minLen = l;
    if (l > maxLen) maxLen = l;
  }
  const perm = new Uint16Array(alpha);
  const offset = new Int32Array(MAX_LEN + 2), first = new Int32Array(MAX_LEN + 2), limit = new Int32Array(MAX_LEN + 2);
  let k = 0;
  for (let l = minLen; l <= maxLen; l++) for (let i = 0; i < alpha; i++) if (lengths[i] === l) perm[k++] = i;
  let code = 0, idx = 0;
  for (let l = 1; l <= MAX_LEN; l++) {
    first[l] = code;
    offset[l] = idx;
    limit[l] = code + count[l]! - 1;
    idx += count[l]!;
    code = (code + count[l]!) * 2;
  }
  const fast = new Int32Array(1 << FAST_BITS);
  for (let l = minLen; l <= Math.min(maxLen, FAST_BITS); l++) {
    for (let i = 0; i < count[l]!; i++) {
      const c = first[l]! + i;
      const from = c << (FAST_BITS - l), to = (c + 1) << (FAST_BITS - l);
      if (to > fast.length) break; // an oversubscribed table: the slow path decides
      fast.fill((perm[offset[l]! + i]! << 5) | l, from, to);
    }
  }
  return { minLen, limit, first, offset, perm, fast };
}

function decodeSymbol(t: Table, r: Bits, alpha: number): number {
  const e = t.fast[r.peek(FAST_BITS)]!;
  if (e !== 0) {
    r.skip(e & 31);
    return e >>> 5;
  }
  let n = t.minLen;
  let v = r.bits(n);
  while (v > t.limit[n]!) {
    if (++n > MAX_LEN) throw new DataError('bad huffman code');
    v = (v << 1) | r.bits(1);
  }
  const i = t.offset[n]! + v - t.first[n]!;
  if (i < 0 || i >= alpha) throw new DataError('bad huffman code');
  return t.perm[i]!;
}

/** Per-stream working memory, sized by the stream's block size. */
interface Work { tt: Uint32Array; max: number }

/**
 * Reads one block's symbols into `w.tt` (one byte per position) and returns the block's length and
 * the BWT origin; throws DataError on damage.
 */
function readBlock(r: Bits, w: Work): { n: number; origPtr: number } {
  const origPtr = r.bits(24);
  // Which of the 256 byte values occur, as 16 groups of 16.
  const inUse16 = r.bits(16);
  const seqToUnseq = new Uint8Array(256);
  let nInUse = 0;
  for (let i = 0; i < 16; i++) {
    if (!(inUse16 & (0x8000 >>> i))) continue;
    const bitsIn = r.bits(16);
    for (let j = 0; j < 16; j++) if (bitsIn & (0x8000 >>> j)) seqToUnseq[nInUse++] = i * 16 + j;
  }
  if (nInUse === 0) throw new DataError('no symbols in use');
  const alpha = nInUse + 2;
  const nGroups = r.bits(3);
  if (nGroups < 2 || nGroups > MAX_GROUPS) throw new DataError('bad table count');
  const nSelectors = r.bits(15);
  if (nSelectors < 1) throw new DataError('no selectors');
  const mtfGroups = [0, 1, 2, 3, 4, 5];
  const selectors = new Uint8Array(Math.min(nSelectors, MAX_SELECTORS));
  for (let i = 0; i < nSelectors; i++) {
    let j = 0;
    while (r.bits(1)) {
      if (++j >= nGroups) throw new DataError('bad selector');
      if (r.overrun) throw new DataError('truncated');
    }
    const v = mtfGroups[j]!;
    for (let k = j; k > 0; k--) mtfGroups[k] = mtfGroups[k - 1]!;
    mtfGroups[0] = v;
    if (i < MAX_SELECTORS) selectors[i] = v;
  }
  const tables: Table[] = [];
  const lengths = new Uint8Array(MAX_ALPHA);
  for (let t = 0; t < nGroups; t++) {
    let curr = r.bits(5);
    for (let i = 0; i < alpha; i++) {
      for (;;) {
        if (curr < 1 || curr > MAX_LEN || r.overrun) throw new DataError('bad code length');
        if (!r.bits(1)) break;
        curr += r.bits(1) ? -1 : 1;
      }
      lengths[i] = curr;
    }
    tables.push(makeTable(lengths, alpha));
  }
  if (r.overrun) throw new DataError('truncated');

  // The MTF / RLE2 symbols.
  const eob = nInUse + 1;
  const mtf = new Uint8Array(256);
  for (let i = 0; i < 256; i++) mtf[i] = i;
  const tt = w.tt, max = w.max;
  let n = 0, groupNo = -1, groupLeft = 0, table = tables[0]!;
  let runLen = 0, runWeight = 1;
  for (;;) {
    if (groupLeft === 0) {
      if (++groupNo >= selectors.length) throw new DataError('selectors exhausted');
      groupLeft = GROUP_SIZE;
      table = tables[selectors[groupNo]!]!;
    }
    groupLeft--;
    const sym = decodeSymbol(table, r, alpha);
    if (r.overrun) throw new DataError('truncated');
    if (sym <= 1) {
      // RUNA / RUNB: a run of the front byte, its length written in bijective base 2.
      runLen += runWeight << sym;
      runWeight <<= 1;
      if (runWeight > 1 << 21) throw new DataError('run too long');
      continue;
    }
    if (runLen > 0) {
      if (n + runLen > max) throw new DataError('block overflow');
      tt.fill(seqToUnseq[mtf[0]!]!, n, n + runLen);
      n += runLen;
      runLen = 0;
      runWeight = 1;
    }
    if (sym === eob) break;
    if (n >= max) throw new DataError('block overflow');
    const k = sym - 1;
    const v = mtf[k]!;
    mtf.copyWithin(1, 0, k);
    mtf[0] = v;
    tt[n++] = seqToUnseq[v]!;
  }
  if (origPtr >= n) throw new DataError('bad origin pointer');
  return { n, origPtr };
}

export interface Bunzip2Options {
  /** Stop after the first stream, as ClamAV and libbzip2's single-stream callers do (default: read every stream). */
  firstStreamOnly?: boolean;
}

export function bunzip2(input: Uint8Array, maxOutput: number, opts: Bunzip2Options = {}): DecodeResult {
  const sink = new Sink(Math.max(0, maxOutput));
  let p = 0;
  let streams = 0;
  try {
    for (;;) {
      if (input.length - p < 4 || input[p] !== 0x42 || input[p + 1] !== 0x5a || input[p + 2] !== 0x68) {
        if (streams === 0) return { data: sink.view(), complete: false, error: 'not bzip2' };
        break; // what follows the last stream is not read
      }
      const level = input[p + 3]! - 0x30;
      if (level < 1 || level > 9) {
        if (streams === 0) return { data: sink.view(), complete: false, error: 'not bzip2' };
        break;
      }
      const r = new Bits(input, p + 4);
      const w: Work = { tt: new Uint32Array(level * 100000), max: level * 100000 };
      let combined = 0;
      for (;;) {
        const m1 = r.bits(24), m2 = r.bits(24);
        if (r.overrun) throw new DataError('truncated');
        if (m1 === 0x177245 && m2 === 0x385090) {
          const want = r.u32();
          if (r.overrun) throw new DataError('truncated');
          if (want !== combined >>> 0) return { data: sink.view(), complete: false, error: 'stream crc' };
          break;
        }
        if (m1 !== 0x314159 || m2 !== 0x265359) throw new DataError('bad block magic');
        const blockCrc = r.u32();
        const randomised = r.bits(1) === 1;
        const { n, origPtr } = readBlock(r, w);
        const crc = unBwt(w.tt, n, origPtr, randomised, sink);
        if (crc === undefined) return { data: sink.view(), complete: false, error: LIMIT };
        if (crc !== blockCrc) return { data: sink.view(), complete: false, error: 'block crc' };
        combined = ((combined << 1) | (combined >>> 31)) ^ crc;
      }
      streams++;
      r.align();
      p = r.p;
      if (opts.firstStreamOnly) break;
    }
  } catch (e) {
    if (e instanceof DataError) return { data: sink.view(), complete: false, error: e.message };
    throw e;
  }
  return { data: sink.view(), complete: true };
}

/**
 * The bzip2 variant NSIS installers use: no stream header (900 k blocks), each block introduced by
 * the 8-bit mark 0x31 instead of the 48-bit magic, no block CRC and no randomised flag, the end by
 * the 8-bit mark 0x17 with no combined CRC. `complete` when the end mark was read.
 */
export function bunzip2Nsis(input: Uint8Array, maxOutput: number): DecodeResult {
  const sink = new Sink(Math.max(0, maxOutput));
  const r = new Bits(input, 0);
  const w: Work = { tt: new Uint32Array(900000), max: 900000 };
  try {
    for (;;) {
      const mark = r.bits(8);
      if (r.overrun) return { data: sink.view(), complete: false, error: 'truncated' };
      if (mark === 0x17) return { data: sink.view(), complete: true };
      if (mark !== 0x31) return { data: sink.view(), complete: false, error: 'bad block magic' };
      const { n, origPtr } = readBlock(r, w);
      if (unBwt(w.tt, n, origPtr, false, sink) === undefined) return { data: sink.view(), complete: false, error: LIMIT };
    }
  } catch (e) {
    if (e instanceof DataError) return { data: sink.view(), complete: false, error: e.message };
    throw e;
  }
}

/**
 * Inverts the BWT of `tt[0, n)` and undoes the first run-length stage into `sink`. Returns the
 * block's CRC, or undefined when the output bound was reached (what fitted is written).
 */
function unBwt(tt: Uint32Array, n: number, origPtr: number, randomised: boolean, sink: Sink): number | undefined {
  const cftab = new Int32Array(257);
  for (let i = 0; i < n; i++) cftab[(tt[i]! & 0xff) + 1]!++;
  for (let i = 1; i < 257; i++) cftab[i]! += cftab[i - 1]!;
  for (let i = 0; i < n; i++) {
    const b = tt[i]! & 0xff;
    const at = cftab[b]!++;
    tt[at] = (tt[at]! | (i << 8)) >>> 0;
  }
  let pos = tt[origPtr]! >>> 8;
  let crc = -1;
  let last = -1, run = 0;
  let rIndex = 0, rToGo = 0;
  if (!sink.ensure(Math.min(n, sink.limit - sink.length))) return undefined;
  let out = sink.buf, len = sink.length;
  for (let i = 0; i < n; i++) {
    const e = tt[pos]!;
    let b = e & 0xff;
    pos = e >>> 8;
    if (randomised) {
      if (rToGo === 0) { rToGo = RAND[rIndex]!; rIndex = (rIndex + 1) & 511; }
      if (--rToGo === 1) b ^= 1;
    }
    if (run === 4) {
      // A count byte: that many more copies of the run's byte.
      run = 0;
      if (b === 0) { last = -1; continue; }
      sink.length = len;
      const k = Math.min(b, sink.limit - len);
      sink.ensure(k);
      out = sink.buf;
      out.fill(last, len, len + k);
      for (let j = 0; j < k; j++) crc = (crc << 8) ^ CRC32_BE_TABLE[((crc >>> 24) ^ last) & 0xff]!;
      len += k;
      sink.length = len;
      if (k < b) return undefined;
      last = -1;
      continue;
    }
    if (len >= out.length) {
      sink.length = len;
      if (!sink.ensure(1)) return undefined;
      out = sink.buf;
    }
    out[len++] = b;
    crc = (crc << 8) ^ CRC32_BE_TABLE[((crc >>> 24) ^ b) & 0xff]!;
    if (b === last) run++;
    else { last = b; run = 1; }
  }
  sink.length = len;
  return ~crc >>> 0;
}

/** ClamAV writes bzip2 output in pieces of this size and drops a partial piece on damage. */
const CLAMAV_PIECE = 8192;

/**
 * The CL_TYPE_BZ reader: the first stream's bytes, as ClamAV scans them. ClamAV checks MaxFileSize
 * as it writes each 8 KiB piece (and at the end of the stream): the limit is met once the output
 * fills the piece that passes it; damage before that leaves the whole pieces, which fit.
 */
export function* scanBzip2(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  const max = ctx.limits.maxFileSize > 0 ? ctx.limits.maxFileSize : 0x7fffffff;
  const bound = (Math.floor(max / CLAMAV_PIECE) + 1) * CLAMAV_PIECE;
  const r = bunzip2(bytes, bound, { firstStreamOnly: true });
  if (r.data.length >= bound || (r.complete && r.data.length > max)) {
    yield { name: 'bzip2', limit: 'MaxFileSize' };
    return;
  }
  const data = r.complete ? r.data : r.data.subarray(0, r.data.length - (r.data.length % CLAMAV_PIECE));
  if (data.length > 0) yield { name: 'bzip2', data };
}
