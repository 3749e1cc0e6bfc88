/**
 * ASPack-packed executables → the rebuilt image, as ClamAV 1.4 unpacks them (`unaspack`).
 *
 * In: the bytes of a PE layer and ClamAV's view of it (./upx.ts `scanpeInfo`). Out: the branch's
 * outcome: the rebuilt image, a limit, or why nothing came out.
 *
 * Recognised (ClamAV's `cli_scanpe`): `pusha; call $+8; jmp ...` (60 e8 03 00 00 00 e9 eb) at the
 * entry point, at least 0x3bf bytes of file behind it, and `push 0; ret` at entry + 0x3b9
 * (version 2.12), + 0x41f (between 2.12 and 2.42) or + 0x42b (2.42). Offsets below are from the
 * entry point minus one (ClamAV's `ep`), in the image: every section with raw data is laid at its
 * RVA in a buffer as large as the highest section end. The loader holds the block table (RVA and
 * unpacked size, 8-byte records for 2.12 and 12-byte ones after; a zero RVA ends it), the length
 * table (bases and extra-bit counts) and the distance extra-bit counts, the byte that marks the
 * rewritten calls and jumps, and the original entry point. Each block is decoded in place from a
 * copy of its own bytes: canonical Huffman codes (a 19-symbol code for the code lengths, then
 * 721 literal/match/rebuild symbols, 28 length symbols, 8 distance-low symbols), three repeated
 * distances. In the first block longer than 7 bytes, `e8`/`e9` followed by the marker byte get
 * their 24-bit target made relative again. The decoded image is rebuilt as a PE (ClamAV's
 * `cli_rebuildpe`: each section's raw data at its RVA, the loader section and the empty one after
 * it dropped when the entry point is at the loader's start + 1); when that fails the image is
 * given as it is. A block that fails to decode drops the whole result (NsPack is tried next).
 *
 * Why: ClamAV scans the unpacked image as a child layer. Never throws; the work is bounded by the
 * image size, itself bounded by MaxFileSize: blocks adding up to more than four times the image
 * (which only a table pointing many times at the same bytes can do) fail here, where ClamAV
 * would go on decoding them.
 */
import type { UnpackContext } from '../unpack.js';
import { rebuildPe, type RebuildSection } from './fsg.js';
import { sizeLimit, type PackerOutcome, type ScanpeInfo } from './upx.js';

export type AspackVersion = '2.12' | 'other' | '2.42';

/** Per version: [entry signature offset, blocks, length/distance table, distance table, call marker, original entry]. */
export const ASPACK_OFFSETS: Record<AspackVersion, { sig: number; blocks: number; comp: number; mlt: number; marker: number; oep: number; fsize: number }> = {
  '2.12': { sig: 0x3b9, blocks: 0x57c, comp: 0x6d6, mlt: 0x70e, marker: 0x148, oep: 0x39b, fsize: 58 + 0x70e },
  other: { sig: 0x41f, blocks: 0x5d8, comp: 0x732, mlt: 0x76a, marker: 0x13a, oep: 0x401, fsize: 58 + 0x76a },
  '2.42': { sig: 0x42b, blocks: 0x5e4, comp: 0x73e, mlt: 0x776, marker: 0x148, oep: 0x40d, fsize: 58 + 0x776 },
};

const EP_HEAD = [0x60, 0xe8, 0x03, 0x00, 0x00, 0x00, 0xe9, 0xeb];
const PUSH_RET = [0x68, 0x00, 0x00, 0x00, 0x00, 0xc3];

const u32 = (b: Uint8Array, o: number): number => ((b[o] ?? 0) | ((b[o + 1] ?? 0) << 8) | ((b[o + 2] ?? 0) << 16) | ((b[o + 3] ?? 0) << 24)) >>> 0;
function w32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; b[o + 2] = (v >>> 16) & 0xff; b[o + 3] = (v >>> 24) & 0xff;
}
const contained = (bbSize: number, sb: number, size: number): boolean => bbSize > 0 && size > 0 && size <= bbSize && sb >= 0 && sb + size <= bbSize && sb < bbSize;
const matches = (b: Uint8Array, at: number, pat: readonly number[]): boolean => at + pat.length <= b.length && pat.every((v, i) => b[at + i] === v);

/** Table sizes: literals/matches/rebuild, long lengths, distance low bits, code lengths. */
const SIZES = [721, 28, 8, 19] as const;

/** One canonical Huffman table as ASPack's loader keeps it. */
interface Table {
  size: number;
  /** Symbols in code order (kept between rebuilds, as the loader's work area is). */
  starts: Uint32Array;
  /** Code length by the code's first 8 bits (for lengths up to 8). */
  ends: Uint8Array;
  /** Left-justified 24-bit code limits and first indices by length. */
  d3: Uint32Array;
  d4: Uint32Array;
}

/** The decoder's state across the blocks of one image. */
class Stream {
  bitpos = 0;
  hash = 0x10000;
  input: Uint8Array = new Uint8Array(0);
  pos = 0;
  dictOk = false;
  readonly tables: Table[] = SIZES.map((size) => ({ size, starts: new Uint32Array(size), ends: new Uint8Array(0x100), d3: new Uint32Array(24), d4: new Uint32Array(24) }));
  readonly dict = new Uint8Array(757);
  readonly array1 = new Uint8Array(19);
  readonly array2 = new Uint8Array(758);

  /** Refills the 32-bit window; false when the input is used up. */
  fill(): boolean {
    while (this.bitpos >= 8) {
      if (this.pos >= this.input.length) return false;
      this.hash = ((this.hash << 8) | this.input[this.pos++]!) >>> 0;
      this.bitpos -= 8;
    }
    return true;
  }

  /** The next 24 bits of the stream (after `fill`). */
  window(): number {
    return (this.hash >>> (8 - this.bitpos)) & 0xffffff;
  }

  /** `n` bits (ClamAV keeps only the low 8 of the result), or -1. */
  bits(n: number): number {
    if (!this.fill()) return -1;
    const v = (this.window() >>> (24 - n)) & 0xff;
    this.bitpos += n;
    return v;
  }

  /** `n` bits as the loader reads extra bits (shift count taken modulo 32), or -1. */
  extra(n: number): number {
    if (!this.fill()) return -1;
    const v = this.window() >>> ((24 - n) & 31);
    this.bitpos = (this.bitpos + n) >>> 0;
    return v;
  }

  /** One symbol of table `which`, or -1. */
  sym(which: number): number {
    const t = this.tables[which]!;
    if (!this.fill()) return -1;
    const ret = (this.hash >>> (8 - this.bitpos)) & 0xfffe00;
    const d3 = t.d3;
    let pos: number;
    if (ret < d3[8]!) {
      pos = t.ends[ret >>> 16]!;
      if (!pos || pos >= 24) return -1;
    } else if (ret < d3[10]!) pos = ret < d3[9]! ? 9 : 10;
    else if (ret < d3[11]!) pos = 11;
    else if (ret < d3[12]!) pos = 12;
    else if (ret < d3[13]!) pos = 13;
    else if (ret < d3[14]!) pos = 14;
    else pos = 15;
    this.bitpos += pos;
    const idx = ((((ret - d3[pos - 1]!) >>> 0) >>> (24 - pos)) + t.d4[pos]!) >>> 0;
    if (idx >= t.size) return -1;
    return t.starts[idx]!;
  }

  /** Builds table `which` from its code lengths; false when they are not a complete code. */
  build(which: number, lens: Uint8Array, at: number): boolean {
    const t = this.tables[which]!;
    const bus = new Uint32Array(18), dict = new Uint32Array(18);
    for (let i = 0; i < t.size; i++) {
      const l = lens[at + i]!;
      if (l > 17) return false;
      bus[l]!++;
    }
    t.d3[0] = 0;
    t.d4[0] = 0;
    let sum = 0, endoff = 0;
    for (let i = 0, counter = 23; counter >= 9; i++, counter--) {
      sum = (sum + ((bus[i + 1]! << counter) >>> 0)) >>> 0;
      if (sum > 0x1000000) return false;
      t.d3[i + 1] = sum;
      t.d4[i + 1] = dict[i + 1] = (bus[i]! + t.d4[i]!) >>> 0;
      if (counter >= 16) {
        const old = endoff;
        endoff = sum >>> 16;
        if (endoff !== old) {
          if (!contained(0x100, old, (endoff - old) >>> 0)) return false;
          t.ends.fill(i + 1, old, endoff);
        }
      }
    }
    if (sum !== 0x1000000) return false;
    for (let i = 0; i < t.size; i++) {
      const l = lens[at + i]!;
      if (!l) continue;
      if (dict[l]! >= t.size) return false;
      t.starts[dict[l]!] = i;
      dict[l]!++;
    }
    return true;
  }

  /** Reads a new set of tables (ClamAV's `build_decrypt_dictionaries`). */
  tablesFromStream(): boolean {
    const first = this.bits(1);
    if (first < 0) return false;
    if (!first) this.dict.fill(0);
    for (let i = 0; i < 19; i++) {
      const v = this.bits(4);
      if (v < 0) return false;
      this.array1[i] = v;
    }
    if (!this.build(3, this.array1, 0)) return false;
    const a2 = this.array2;
    let counter = 0;
    while (counter < 757) {
      let ret = this.sym(3);
      if (ret < 0) return false;
      if (ret < 16) {
        a2[1 + counter] = (this.dict[counter]! + ret) & 0xf;
        counter++;
      } else if (ret === 16) {
        const b = this.bits(2);
        if (b < 0) return false;
        for (ret = 3 + b; ret && counter < 757; ret--, counter++) a2[1 + counter] = a2[counter]!;
      } else {
        const b = ret === 17 ? this.bits(3) : this.bits(7);
        if (b < 0) return false;
        for (ret = (ret === 17 ? 3 : 11) + b; ret && counter < 757; ret--, counter++) a2[1 + counter] = 0;
      }
    }
    if (!this.build(0, a2, 1) || !this.build(1, a2, 722) || !this.build(2, a2, 750)) return false;
    this.dictOk = false;
    for (let i = 0; i < 8; i++) if (a2[750 + i] !== 3) { this.dictOk = true; break; }
    this.dict.set(a2.subarray(1, 758));
    return true;
  }
}

/** Decodes one block (`size` bytes) into `out[at, at + size)`; false on any error. */
function decodeBlock(s: Stream, image: Uint8Array, stuff: number, init: Uint32Array, out: Uint8Array, at: number, size: number): boolean {
  for (const t of s.tables) { t.d3.fill(0); t.d4.fill(0); }
  s.dict.fill(0);
  s.bitpos = 0x20;
  if (!s.tablesFromStream()) return false;
  const hist = [0, 0, 0];
  const st = (i: number): number => image[stuff + i] ?? 0;
  let counter = 0;
  while (counter < size) {
    let gen = s.sym(0);
    if (gen < 0) return false;
    if (gen < 256) {
      out[at + counter++] = gen;
      continue;
    }
    if (gen >= 720) {
      if (!s.tablesFromStream()) return false;
      continue;
    }
    const slot = (gen - 256) >>> 3;
    let backsize = ((gen - 256) & 7) + 2;
    if (backsize === 9) {
      gen = s.sym(1);
      if (gen < 0 || gen >= 0x56) return false;
      const hlp = st(gen + 0x1c);
      const v = s.extra(hlp);
      if (v < 0) return false;
      backsize = (backsize + st(gen) + v) >>> 0;
    }
    let useold = init[slot]!;
    const nb = st(slot + 0x38);
    if (!s.dictOk || nb < 3) {
      const v = s.extra(nb);
      if (v < 0) return false;
      useold = (useold + v) >>> 0;
    } else {
      const v = s.extra(nb - 3);
      if (v < 0) return false;
      useold = (useold + ((v * 8) >>> 0)) >>> 0;
      const low = s.sym(2);
      if (low < 0) return false;
      useold = (useold + low) >>> 0;
    }
    let back: number;
    if (useold < 3) {
      back = hist[useold]!;
      if (useold) { hist[useold] = hist[0]!; hist[0] = back; }
    } else {
      hist[2] = hist[1]!; hist[1] = hist[0]!;
      hist[0] = back = useold - 3;
    }
    back = (back + 1) >>> 0;
    if (!back || back > counter || backsize > size - counter) return false;
    for (let k = 0; k < backsize; k++, counter++) out[at + counter] = out[at + counter - back]!;
  }
  return true;
}

/** ClamAV's `unaspack` on the assembled image; undefined when it fails. */
export function unaspack(image: Uint8Array, info: ScanpeInfo, version: AspackVersion): Uint8Array | undefined {
  const o = ASPACK_OFFSETS[version];
  const size = image.length;
  const ep = (info.vep - 1) >>> 0;
  const sections = info.sections;
  // Distance bases: running sums of `1 << bits` (C on x86 takes the count modulo 32).
  const init = new Uint32Array(58);
  for (let i = 0, j = 0; i < 58; i++) {
    init[i] = j;
    if (ep + i + o.mlt < size) j = (j + 2 ** (image[ep + i + o.mlt]! & 31)) >>> 0;
  }
  const s = new Stream();
  let blocks = ep + o.blocks;
  let blockRva = 1;
  let first = true;
  let budget = 4 * size + (1 << 20);
  while (contained(size, blocks, 8) && (blockRva = u32(image, blocks))) {
    let blockSize = u32(image, blocks + 4);
    if (!blockSize || !contained(size, blockRva, blockSize)) break;
    // Blocks decoded over and over (a table pointing many times at one place) stop here.
    budget -= blockSize;
    if (budget < 0) return undefined;
    const work = new Uint8Array(blockSize + 0x10e);
    work.set(image.subarray(blockRva, blockRva + blockSize));
    s.input = work;
    s.pos = 0;
    if (!decodeBlock(s, image, ep + o.comp, init, image, blockRva, blockSize)) break;
    if (first && blockSize > 7) {
      first = false;
      const marker = image[ep + o.marker];
      for (let i = 0; i < blockSize - 6; i++) {
        const c = image[blockRva + i];
        if ((c === 0xe8 || c === 0xe9) && image[blockRva + i + 1] === marker) {
          const target = (u32(image, blockRva + i + 1) >>> 8) >>> 0;
          w32(image, blockRva + i + 1, (target - i) >>> 0);
          i += 4;
        }
      }
    }
    if (version === '2.12') blocks += 8;
    else {
      blocks += 12;
      blockSize = u32(image, blocks + 4);
      while (blockSize === 0xfffffef2 && blocks < size) {
        blocks += 12;
        blockSize = u32(image, blocks + 4);
      }
    }
  }
  if (blockRva) return undefined;
  let count = sections.length;
  if (count > 2 && ep === sections[count - 2]!.rva && !sections[count - 1]!.rsz) count -= 2;
  const out: RebuildSection[] = sections.slice(0, count).map((x) => ({ rva: x.rva, vsz: x.vsz, raw: x.rva, rsz: x.vsz }));
  return rebuildPe(image, out, info.imageBase, u32(image, ep + o.oep)) ?? image;
}

/** The ASPack branch of `cli_scanpe`. */
export function aspackStep(bytes: Uint8Array, info: ScanpeInfo, ctx: UnpackContext): PackerOutcome {
  const { sections, ep, epbuff } = info;
  const fsize = bytes.length;
  if (!(ep + ASPACK_OFFSETS['2.12'].fsize < fsize || ep + ASPACK_OFFSETS.other.fsize < fsize || ep + ASPACK_OFFSETS['2.42'].fsize < fsize)) return 'next';
  if (!matches(epbuff, 0, EP_HEAD) || epbuff.length < 0x3bf) return 'next';
  const version = (['2.12', 'other', '2.42'] as const).find((v) => matches(epbuff, ASPACK_OFFSETS[v].sig, PUSH_RET));
  if (!version) return 'next';
  let ssize = 0;
  for (const s of sections) {
    const end = (s.rva + s.vsz) >>> 0;
    if (ssize < end) ssize = end;
  }
  if (!ssize) return 'next';
  const limited = sizeLimit(ssize, ctx);
  if (limited) return limited;
  if (ssize > 1024 * 1024 * 1024) return 'stop';
  const image = new Uint8Array(ssize);
  for (const s of sections) {
    if (!s.rsz) continue;
    if (!contained(ssize, s.rva, s.rsz) || s.raw + s.rsz > fsize) return 'next';
    image.set(bytes.subarray(s.raw, s.raw + s.rsz), s.rva);
  }
  const data = unaspack(image, info, version);
  return data ? { data } : 'next';
}
