/**
 * RAR 4 archive entry decompression: methods of versions 1.5, 2.0/2.6 (LZ and multimedia audio
 * blocks) and 2.9/3.6 (LZ with Huffman tables, PPMd blocks, RarVM standard filters), with solid
 * archives keeping the window, tables and models across entries.
 *
 * In: the entry's packed bytes, its unpacked-size field, the solid flag, the dictionary size from
 * its header, and an output bound. Out: `{ data, ok, error? }`: the bytes RAR's extractor would
 * write to the file, never more than maxOut (a bomb stops there); ok only when exactly the
 * unpacked size was produced. As in RAR's extractor, version 2.9 window data stops at the unpacked
 * size while filtered blocks and versions 1.5/2.0 write what they decode (a crafted last match
 * can run past it: ok is then false). Damage stops decoding and returns what was decoded before
 * it (RAR's extractor, reading on over its buffer, would append more garbage up to the unpacked
 * size; ClamAV scans such a file anyway); nothing throws; every loop is bounded by the input or
 * the output.
 *
 * Why: ClamAV scans RAR members through its unrar library; this reproduces that decoder's output.
 * Version 2.9 data is a sequence of blocks, each either LZ (a 20-symbol pre-table giving the code
 * lengths of the main, distance, low-distance and repeat-length tables, coded as deltas from the
 * previous block's lengths; then literals, matches with distance slots and a low-distance table,
 * repeat of the last 4 distances, short matches, and symbols for end of block, filter records and
 * repeat of the last match) or PPMd (variant H with RAR's range coder; an escape byte introduces
 * end of block, end of file, filter records and LZ matches). A filter record selects a filter
 * (by number, or a new one with its VM program), a block start relative to the current position
 * and a length; when the block has been decoded, it is copied into the 256 KiB filter memory,
 * filtered, and written instead of the window bytes. As in UnRAR 5+ (ClamAV's unrar), programs are
 * recognised by CRC-32 and length as E8, E8E9, ITANIUM, DELTA, RGB or AUDIO; a program that is
 * none of these yields an empty filtered block (its bytes are left out of the output).
 */
import { EMPTY, Huff, RarCore } from './rar3-core.js';
import { executeFilter, FLT_NONE, recogniseFilter, VM_MEMSIZE, VmBits } from './rar3-filters.js';
import { OldState, unpack15, unpack20 } from './rar3-old.js';
import { createPpmSupport, type PpmModel, type PpmRangeDecoder } from './rar3-ppm.js';

export interface RarUnpackResult { data: Uint8Array; ok: boolean; error?: string }
export interface Rar3Unpacker {
  /**
   * Decodes one entry. `version` is the header's unpack version: 13..15 (RAR 1.5 method; RAR's
   * own extractor then takes `solid` from the archive's solid flag for every entry but the
   * first, as those versions set no per-entry flag), 20 and 26, 29, and 36 (decoded as 29, but
   * note that UnRAR, hence ClamAV, refuses versions above 29). `solid` continues from the
   * previous entry's state; `dictSize` is the dictionary size in bytes.
   * `discard`: decode the whole entry (to the unpacked size, ignoring maxOut) but keep none of
   * it, as a solid archive's skipped entry must still be decoded for the entries after it; the
   * result's data is then empty and ok tells whether the entry decoded fully.
   */
  unpack(version: number, packed: Uint8Array, unpackedSize: number, solid: boolean, dictSize: number, maxOut: number, discard?: boolean): RarUnpackResult;
}

const NC30 = 299, DC30 = 60, LDC30 = 17, RC30 = 28, BC30 = 20;
const TABLE30 = NC30 + DC30 + LDC30 + RC30;
const MAX3_INC_LZ_MATCH = 0x101 + 3;
const MAX3_UNPACK_FILTERS = 8192;

const LDECODE = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224];
const LBITS = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5];
const SDDECODE = [0, 4, 8, 16, 32, 64, 128, 192];
const SDBITS = [2, 2, 3, 4, 5, 6, 6, 6];
const DDECODE = new Int32Array(DC30);
const DBITS = new Uint8Array(DC30);
{
  const counts = [4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 14, 0, 12];
  let dist = 0, slot = 0;
  for (let bits = 0; bits < counts.length; bits++) {
    for (let j = 0; j < counts[bits]!; j++, slot++, dist += 1 << bits) {
      DDECODE[slot] = dist;
      DBITS[slot] = bits;
    }
  }
}

interface StackFilter {
  blockStart: number;
  blockLength: number;
  nextWindow: boolean;
  r: Uint32Array;
  type: number;
}

class Unpacker extends RarCore implements Rar3Unpacker {
  // 2.9 tables.
  private readonly ld = new Huff(NC30, 10);
  private readonly dd = new Huff(DC30, 7);
  private readonly ldd = new Huff(LDC30, 7);
  private readonly rd = new Huff(RC30, 7);
  private readonly bd = new Huff(BC30, 7);
  private readonly oldTable = new Uint8Array(TABLE30);
  private readonly table = new Uint8Array(TABLE30);
  private readonly bitLength = new Uint8Array(BC30);
  private tablesRead3 = false;
  private ppmEsc = 2;
  private blockPpm = false;
  private prevLowDist = 0;
  private lowDistRepCount = 0;

  // Filters.
  private filterTypes: number[] = [];
  private oldFilterLengths: number[] = [];
  private lastFilter = 0;
  private prgStack: (StackFilter | null)[] = [];
  private vmMem: Uint8Array = EMPTY;

  // PPMd.
  private ppm: PpmModel | null = null;
  /** The last model allocated (its memory is reused by the next reset of the same size). */
  private ppmStore: PpmModel | null = null;
  private rc: PpmRangeDecoder | null = null;

  private readonly old = new OldState();
  private used = false;

  constructor() {
    super();
    this.old.initHuff();
  }

  unpack(version: number, packed: Uint8Array, unpackedSize: number, solid: boolean, dictSize: number, maxOut: number, discard = false): RarUnpackResult {
    try {
      if (!this.used) solid = false;
      this.used = true;
      this.initWindow(dictSize, solid);
      this.setInput(packed);
      this.startOutput(Math.max(0, unpackedSize), Math.max(0, maxOut), discard);
      switch (version) {
        case 13:
        case 14:
        case 15:
          this.initData(solid);
          unpack15(this, this.old, solid);
          break;
        case 20:
        case 26:
          this.initData(solid);
          unpack20(this, this.old, solid);
          break;
        case 29:
        case 36:
          this.unpack29(solid);
          break;
        default:
          this.error = `unsupported unpack version ${version}`;
      }
    } catch (e) {
      // Defensive: a decoder bug must not escape as an exception on hostile input.
      this.error = `decoder failure: ${(e as Error).message}`;
    }
    // Keep no reference to the caller's bytes.
    this.inp = EMPTY;
    this.rc = null;
    return this.result();
  }

  /** State reset at the start of every entry (most of it only when not solid). */
  private initData(solid: boolean): void {
    if (!solid) {
      this.oldDist.fill(0);
      this.oldDistPtr = 0;
      this.lastDist = 0;
      this.lastLength = 0;
      this.ld.clear(); this.dd.clear(); this.ldd.clear(); this.rd.clear(); this.bd.clear();
      this.unpPtr = 0;
      this.wrPtr = 0;
      this.tablesRead3 = false;
      this.oldTable.fill(0);
      this.ppmEsc = 2;
      this.blockPpm = false;
      this.filterTypes = [];
      this.oldFilterLengths = [];
      this.lastFilter = 0;
    }
    this.prgStack = [];
    this.old.initData20(solid);
  }

  // ---------------------------------------------------------------- 2.9

  private unpack29(solid: boolean): void {
    this.initData(solid);
    if ((!solid || !this.tablesRead3) && !this.readTables30()) {
      this.writeBuf30();
      return;
    }
    const w = this.win;
    const mask = this.mask;
    const ld = this.ld;
    const endBits = this.endBits;
    const runaway = 3 * this.winSize;
    for (;;) {
      if (this.bitPos > endBits) { this.error = 'packed data truncated'; break; }
      if (this.sinceWrite > runaway) { this.error = 'filter block never completes'; break; }
      if (((this.wrPtr - this.unpPtr) & mask) <= MAX3_INC_LZ_MATCH && this.wrPtr !== this.unpPtr) {
        this.writeBuf30();
        if (this.written > this.destSize || (this.outLen >= this.cap && this.cap < this.destSize)) return;
      }
      if (this.blockPpm) {
        if (!this.ppmStep()) break;
        continue;
      }
      const num = this.decode(ld);
      if (num < 256) {
        w[this.unpPtr] = num;
        this.unpPtr = (this.unpPtr + 1) & mask;
        this.sinceWrite++;
        continue;
      }
      if (num >= 271) {
        const ls = num - 271;
        let length = LDECODE[ls]! + 3;
        let bits = LBITS[ls]!;
        if (bits > 0) {
          length += this.getbits() >>> (16 - bits);
          this.bitPos += bits;
        }
        const ds = this.decode(this.dd);
        let distance = DDECODE[ds]! + 1;
        bits = DBITS[ds]!;
        if (bits > 0) {
          if (ds > 9) {
            if (bits > 4) {
              distance += (this.getbits() >>> (20 - bits)) << 4;
              this.bitPos += bits - 4;
            }
            if (this.lowDistRepCount > 0) {
              this.lowDistRepCount--;
              distance += this.prevLowDist;
            } else {
              const low = this.decode(this.ldd);
              if (low === 16) {
                this.lowDistRepCount = 16 - 1;
                distance += this.prevLowDist;
              } else {
                distance += low;
                this.prevLowDist = low;
              }
            }
          } else {
            distance += this.getbits() >>> (16 - bits);
            this.bitPos += bits;
          }
        }
        distance >>>= 0;
        if (distance >= 0x2000) {
          length++;
          if (distance >= 0x40000) length++;
        }
        this.insertOldDist(distance);
        this.lastLength = length;
        this.copyString(length, distance);
        continue;
      }
      if (num === 256) {
        if (!this.readEndOfBlock()) break;
        continue;
      }
      if (num === 257) {
        if (!this.readVMCode()) break;
        continue;
      }
      if (num === 258) {
        if (this.lastLength !== 0) this.copyString(this.lastLength, this.oldDist[0]!);
        continue;
      }
      if (num < 263) {
        const dn = num - 259;
        const od = this.oldDist;
        const distance = od[dn]!;
        for (let i = dn; i > 0; i--) od[i] = od[i - 1]!;
        od[0] = distance;
        const ls = this.decode(this.rd);
        let length = LDECODE[ls]! + 2;
        const bits = LBITS[ls]!;
        if (bits > 0) {
          length += this.getbits() >>> (16 - bits);
          this.bitPos += bits;
        }
        this.lastLength = length;
        this.copyString(length, distance);
        continue;
      }
      // 263..270: short match.
      const sn = num - 263;
      let distance = SDDECODE[sn]! + 1;
      const bits = SDBITS[sn]!;
      if (bits > 0) {
        distance += this.getbits() >>> (16 - bits);
        this.bitPos += bits;
      }
      this.insertOldDist(distance);
      this.lastLength = 2;
      this.copyString(2, distance);
    }
    this.writeBuf30();
  }

  private insertOldDist(d: number): void {
    const od = this.oldDist;
    od[3] = od[2]!;
    od[2] = od[1]!;
    od[1] = od[0]!;
    od[0] = d;
  }

  /** One PPMd step; false ends the entry. */
  private ppmStep(): boolean {
    const ch = this.ppmChar();
    if (ch < 0) return false;
    if (ch === this.ppmEsc) {
      const next = this.ppmChar();
      if (next < 0) return false;
      if (next === 0) {
        this.bitPos = this.rc!.pos * 8;
        return this.readTables30();
      }
      if (next === 2) { this.bitPos = this.rc!.pos * 8; return false; }
      if (next === 3) return this.readVMCodePPM();
      if (next === 4) {
        let distance = 0, length = 0;
        for (let i = 0; i < 4; i++) {
          const c = this.ppmChar();
          if (c < 0) return false;
          if (i === 3) length = c;
          else distance = distance * 256 + c;
        }
        this.copyString(length + 32, distance + 2);
        return true;
      }
      if (next === 5) {
        const length = this.ppmChar();
        if (length < 0) return false;
        this.copyString(length + 4, 1);
        return true;
      }
      // 1 (and anything else): the escape byte itself.
    }
    this.win[this.unpPtr] = ch;
    this.unpPtr = (this.unpPtr + 1) & this.mask;
    this.sinceWrite++;
    return true;
  }

  /** A PPMd symbol, or -1 (damage: the model is dropped and LZ mode set, as RAR does). */
  private ppmChar(): number {
    const rc = this.rc;
    const m = this.ppm;
    if (!rc || !m) return -1;
    // The previous symbol needed bytes past the end: the data is truncated (stop, as garbage
    // decoded from zeros could otherwise run on to the unpacked size).
    if (rc.extra) { this.error = 'packed data truncated'; return -1; }
    const c = m.decodeSymbol(rc);
    if (c < 0) {
      this.ppm = null;
      this.blockPpm = false;
      if (c !== -1 || this.error === undefined) this.error = 'PPMd data damaged';
      return -1;
    }
    return c;
  }

  private readEndOfBlock(): boolean {
    const bf = this.getbits();
    let newTable: boolean, newFile = false;
    if (bf & 0x8000) {
      newTable = true;
      this.bitPos += 1;
    } else {
      newFile = true;
      newTable = (bf & 0x4000) !== 0;
      this.bitPos += 2;
    }
    this.tablesRead3 = !newTable;
    if (newFile) return false;
    return this.readTables30();
  }

  private readTables30(): boolean {
    if (this.bitPos > this.endBits) { this.error = 'packed data truncated'; return false; }
    this.bitPos = (this.bitPos + 7) & ~7;
    const bf = this.getbits();
    if (bf & 0x8000) {
      this.blockPpm = true;
      return this.ppmInit();
    }
    this.blockPpm = false;
    this.prevLowDist = 0;
    this.lowDistRepCount = 0;
    if (!(bf & 0x4000)) this.oldTable.fill(0);
    this.bitPos += 2;
    const bl = this.bitLength;
    for (let i = 0; i < BC30; i++) {
      const len = this.getbits() >>> 12;
      this.bitPos += 4;
      if (len === 15) {
        let zeros = this.getbits() >>> 12;
        this.bitPos += 4;
        if (zeros === 0) {
          bl[i] = 15;
        } else {
          zeros += 2;
          while (zeros-- > 0 && i < BC30) bl[i++] = 0;
          i--;
        }
      } else {
        bl[i] = len;
      }
    }
    this.bd.build(bl, 0, BC30);
    const t = this.table, old = this.oldTable;
    for (let i = 0; i < TABLE30;) {
      if (this.bitPos > this.endBits + 64) { this.error = 'packed data truncated'; return false; }
      const n = this.decode(this.bd);
      if (n < 16) {
        t[i] = (n + old[i]!) & 0xf;
        i++;
      } else if (n < 18) {
        let count: number;
        if (n === 16) { count = (this.getbits() >>> 13) + 3; this.bitPos += 3; } else { count = (this.getbits() >>> 9) + 11; this.bitPos += 7; }
        if (i === 0) { this.error = 'bad Huffman table'; return false; }
        while (count-- > 0 && i < TABLE30) { t[i] = t[i - 1]!; i++; }
      } else {
        let count: number;
        if (n === 18) { count = (this.getbits() >>> 13) + 3; this.bitPos += 3; } else { count = (this.getbits() >>> 9) + 11; this.bitPos += 7; }
        while (count-- > 0 && i < TABLE30) t[i++] = 0;
      }
    }
    this.tablesRead3 = true;
    if (this.bitPos > this.endBits) { this.error = 'packed data truncated'; return false; }
    this.ld.build(t, 0, NC30);
    this.dd.build(t, NC30, DC30);
    this.ldd.build(t, NC30 + DC30, LDC30);
    this.rd.build(t, NC30 + DC30 + LDC30, RC30);
    old.set(t);
    return true;
  }

  private ppmInit(): boolean {
    const support = createPpmSupport();
    if (!support) { this.error = 'PPMd blocks are not supported'; return false; }
    let p = this.bitPos >>> 3;
    const inp = this.inp;
    const getChar = (): number => (p < this.inLen ? inp[p++]! : (p++, 0));
    let maxOrder = getChar();
    const reset = (maxOrder & 0x20) !== 0;
    let maxMB = 0;
    if (reset) maxMB = getChar();
    else if (!this.ppm) { this.error = 'PPMd block without a model'; return false; }
    if (maxOrder & 0x40) this.ppmEsc = getChar();
    if (p > this.inLen) { this.error = 'packed data truncated'; return false; }
    this.rc = support.rangeDecoder(this.inp, p);
    if (reset) {
      maxOrder = (maxOrder & 0x1f) + 1;
      if (maxOrder > 16) maxOrder = 16 + (maxOrder - 16) * 3;
      if (maxOrder === 1) { this.ppm = null; this.error = 'bad PPMd order'; return false; }
      const model = support.model((maxMB + 1) << 20, this.ppmStore);
      this.ppmStore = model;
      if (!model) { this.ppm = null; this.error = 'PPMd model allocation failed'; return false; }
      model.init(maxOrder);
      this.ppm = model;
    }
    return this.ppm !== null;
  }

  // ---------------------------------------------------------------- filters

  private readVMCode(): boolean {
    const first = this.getbits() >>> 8;
    this.bitPos += 8;
    let length = (first & 7) + 1;
    if (length === 7) {
      length = (this.getbits() >>> 8) + 7;
      this.bitPos += 8;
    } else if (length === 8) {
      length = this.getbits();
      this.bitPos += 16;
    }
    if (length === 0) return false;
    if (this.bitPos + 8 * length > this.endBits + 8) { this.error = 'packed data truncated'; return false; }
    const code = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      code[i] = this.getbits() >>> 8;
      this.bitPos += 8;
    }
    return this.addVMCode(first, code);
  }

  private readVMCodePPM(): boolean {
    const first = this.ppmChar();
    if (first < 0) return false;
    let length = (first & 7) + 1;
    if (length === 7) {
      const b = this.ppmChar();
      if (b < 0) return false;
      length = b + 7;
    } else if (length === 8) {
      const b1 = this.ppmChar();
      if (b1 < 0) return false;
      const b2 = this.ppmChar();
      if (b2 < 0) return false;
      length = b1 * 256 + b2;
    }
    if (length === 0) return false;
    const code = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      const c = this.ppmChar();
      if (c < 0) return false;
      code[i] = c;
    }
    return this.addVMCode(first, code);
  }

  private addVMCode(first: number, code: Uint8Array): boolean {
    const inp = new VmBits(code.length > 0x8000 ? code.subarray(0, 0x8000) : code);
    let pos: number;
    if (first & 0x80) {
      pos = inp.readData();
      if (pos === 0) {
        this.filterTypes = [];
        this.oldFilterLengths = [];
        this.lastFilter = 0;
        this.prgStack = [];
      } else {
        pos--;
      }
    } else {
      pos = this.lastFilter;
    }
    if (pos > this.filterTypes.length || pos > this.oldFilterLengths.length) { this.error = 'bad filter number'; return false; }
    this.lastFilter = pos;
    const isNew = pos === this.filterTypes.length;
    if (isNew) {
      if (pos > MAX3_UNPACK_FILTERS) { this.error = 'too many filters'; return false; }
      this.filterTypes.push(FLT_NONE);
      this.oldFilterLengths.push(0);
    }
    // Compact the pending-filter stack and take a free slot.
    const stack = this.prgStack;
    let w = 0;
    for (let i = 0; i < stack.length; i++) if (stack[i] !== null) stack[w++] = stack[i]!;
    const empty = stack.length - w;
    for (let i = w; i < stack.length; i++) stack[i] = null;
    if (empty === 0) {
      if (stack.length > MAX3_UNPACK_FILTERS) { this.error = 'too many filters'; return false; }
      stack.push(null);
    }
    const slot = w;
    let blockStart = inp.readData();
    if (first & 0x40) blockStart = (blockStart + 258) >>> 0;
    const f: StackFilter = {
      blockStart: (blockStart + this.unpPtr) & this.mask,
      blockLength: 0,
      nextWindow: false,
      r: new Uint32Array(7),
      type: FLT_NONE,
    };
    if (first & 0x20) {
      f.blockLength = inp.readData();
      this.oldFilterLengths[pos] = f.blockLength;
    } else {
      f.blockLength = pos < this.oldFilterLengths.length ? this.oldFilterLengths[pos]! : 0;
    }
    f.nextWindow = this.wrPtr !== this.unpPtr && ((this.wrPtr - this.unpPtr) & this.mask) <= blockStart;
    f.r[4] = f.blockLength;
    if (first & 0x10) {
      const initMask = inp.get16() >>> 9;
      inp.skip(7);
      for (let i = 0; i < 7; i++) if (initMask & (1 << i)) f.r[i] = inp.readData();
    }
    stack[slot] = f;
    if (isNew) {
      const size = inp.readData();
      if (size >= 0x10000 || size === 0 || (inp.pos >>> 3) + size > code.length) { this.error = 'bad filter code'; return false; }
      const vm = new Uint8Array(size);
      for (let i = 0; i < size; i++) {
        if ((inp.pos >>> 3) + 3 >= 0x8000) { this.error = 'bad filter code'; return false; }
        vm[i] = inp.get16() >>> 8;
        inp.skip(8);
      }
      this.filterTypes[pos] = recogniseFilter(vm);
    }
    f.type = this.filterTypes[pos]!;
    return true;
  }

  /** Writes decoded window data, running each pending filter once its block is complete. */
  private writeBuf30(): void {
    let border = this.wrPtr;
    const mask = this.mask;
    let writeSize = (this.unpPtr - border) & mask;
    const stack = this.prgStack;
    for (let i = 0; i < stack.length; i++) {
      const flt = stack[i];
      if (!flt) continue;
      if (flt.nextWindow) { flt.nextWindow = false; continue; }
      const start = flt.blockStart;
      const length = flt.blockLength;
      if (((start - border) & mask) >= writeSize) continue;
      if (border !== start) {
        this.writeArea(border, start, true);
        border = start;
        writeSize = (this.unpPtr - border) & mask;
      }
      if (length <= writeSize) {
        const end = (start + length) & mask;
        if (this.vmMem.length === 0) this.vmMem = new Uint8Array(VM_MEMSIZE + 4);
        const mem = this.vmMem;
        if (start < end || end === 0) {
          this.setMemory(0, this.win, start, length);
        } else {
          const firstPart = this.winSize - start;
          this.setMemory(0, this.win, start, firstPart);
          this.setMemory(firstPart, this.win, 0, end);
        }
        flt.r[6] = this.written >>> 0;
        let res = executeFilter(flt.type, mem, flt.r);
        stack[i] = null;
        while (i + 1 < stack.length) {
          const nf = stack[i + 1];
          if (!nf || nf.blockStart !== start || nf.blockLength !== res.size || nf.nextWindow) break;
          // Several filters over the same block: feed one's output to the next.
          mem.copyWithin(0, res.offset, res.offset + Math.min(res.size, VM_MEMSIZE));
          nf.r[6] = this.written >>> 0;
          res = executeFilter(nf.type, mem, nf.r);
          i++;
          stack[i] = null;
        }
        this.writeData(mem, res.offset, res.offset + res.size);
        border = end;
        writeSize = (this.unpPtr - border) & mask;
      } else {
        // The block is not complete yet: write up to its start, and wait.
        for (let j = i; j < stack.length; j++) {
          const f2 = stack[j];
          if (f2 && f2.nextWindow) f2.nextWindow = false;
        }
        this.wrPtr = border;
        return;
      }
    }
    this.writeArea(border, this.unpPtr, true);
    this.wrPtr = this.unpPtr;
    this.sinceWrite = 0;
  }

  private setMemory(pos: number, src: Uint8Array, from: number, size: number): void {
    if (pos >= VM_MEMSIZE) return;
    const n = Math.min(size, VM_MEMSIZE - pos);
    if (n > 0) this.vmMem.set(src.subarray(from, from + n), pos);
  }
}

/** A decoder for the entries of one archive (it keeps the state solid entries continue). */
export function createRar3Unpacker(): Rar3Unpacker {
  return new Unpacker();
}
