/**
 * Canonical Huffman decoding for the Microsoft decompressors (MSZIP, LZX): code lengths → a
 * decoder of the next symbol from 16 bits of lookahead.
 *
 * In: code lengths (0 = unused, at most 16) of `nsyms` symbols; the bit order of the stream (MSB
 * first for LZX, LSB first for deflate). Out: `build` says whether libmspack's table builder
 * accepts the lengths; `decode` maps the next 16 bits of the stream to `symbol | length << 16`.
 *
 * libmspack's rule, with its table size `acceptBits`: the codes no longer than `acceptBits` must
 * not oversubscribe the code space; if they fill it exactly, longer codes are ignored (they can
 * never be decoded); otherwise all codes together must fill it exactly. An empty set is refused.
 *
 * Why this shape: a direct table of `tableBits` bits answers short codes in one lookup; longer
 * codes are walked bit by bit over the canonical counts, so that building a table costs
 * 2^tableBits + nsyms whatever the lengths (hostile streams may rebuild trees often).
 */

export class Huffman {
  /** Code lengths; room past `maxSyms` for run-length overruns (LZX writes up to 51 past the end). */
  readonly lens: Uint8Array;
  private readonly table: Int32Array;
  private readonly count = new Uint16Array(17);
  private readonly sorted: Uint16Array;
  private readonly offs = new Uint16Array(18);

  constructor(readonly maxSyms: number, readonly tableBits: number, readonly msb: boolean, readonly acceptBits = tableBits) {
    this.lens = new Uint8Array(maxSyms + 64);
    this.table = new Int32Array(1 << tableBits);
    this.sorted = new Uint16Array(maxSyms);
  }

  /** Builds the decoder from `lens[0..nsyms)`; false when the code is not complete. */
  build(nsyms = this.maxSyms): boolean {
    const { lens, count, sorted, offs, table, tableBits, msb } = this;
    count.fill(0);
    for (let s = 0; s < nsyms; s++) { const l = lens[s]!; if (l <= 16) count[l]!++; }
    count[0] = 0;
    const full = 1 << 16;
    let used = 0;
    for (let l = 1; l <= this.acceptBits; l++) used += count[l]! << (16 - l);
    if (used > full) return false;
    if (used < full) {
      for (let l = this.acceptBits + 1; l <= 16; l++) used += count[l]! << (16 - l);
      if (used !== full) return false;
    }
    offs[1] = 0;
    for (let l = 1; l <= 16; l++) offs[l + 1] = offs[l]! + count[l]!;
    const next = offs.slice();
    for (let s = 0; s < nsyms; s++) {
      const l = lens[s]!;
      if (l !== 0 && l <= 16) sorted[next[l]!++] = s;
    }
    table.fill(-1);
    // Canonical codes: shorter first, then by symbol.
    let code = 0;
    let k = 0;
    for (let l = 1; l <= tableBits; l++) {
      for (let i = 0; i < count[l]!; i++, k++, code++) {
        if (code >= 1 << l) break; // codes past a space already filled are never decoded
        const entry = sorted[k]! | (l << 16);
        const span = 1 << (tableBits - l);
        if (msb) {
          const base = code << (tableBits - l);
          for (let j = 0; j < span; j++) table[base + j] = entry;
        } else {
          let rev = 0;
          for (let b = 0; b < l; b++) rev |= ((code >> b) & 1) << (l - 1 - b);
          for (let j = 0; j < span; j++) table[rev | (j << l)] = entry;
        }
      }
      code <<= 1;
    }
    return true;
  }

  /** The next symbol and its length (`sym | len << 16`) from 16 bits of lookahead. */
  decode(bits16: number): number {
    const tb = this.tableBits;
    const e = this.table[this.msb ? bits16 >>> (16 - tb) : bits16 & ((1 << tb) - 1)]!;
    if (e >= 0) return e;
    const { count, sorted } = this;
    let code = 0, first = 0, index = 0;
    for (let l = 1; l <= 16; l++) {
      code |= this.msb ? (bits16 >>> (16 - l)) & 1 : (bits16 >>> (l - 1)) & 1;
      const c = count[l]!;
      if (code - first < c) return sorted[index + code - first]! | (l << 16);
      index += c;
      first = (first + c) << 1;
      code <<= 1;
    }
    return 0; // unreachable for a complete code
  }
}
