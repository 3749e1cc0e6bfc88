/**
 * RAR 1.5 and RAR 2.0/2.6 decompression (unpack versions 15, 20, 26).
 *
 * In: the shared decoder state (bit input, window, output) and this module's own state, kept
 * across the entries of a solid archive. Out: decoded bytes written through the shared output.
 * Why: old archives (and old members inside new ones) still turn up; ClamAV's unrar decodes them.
 *
 * Version 1.5 is adaptive: literals, match lengths and distance places are coded with a family of
 * fixed prefix codes (picked by running averages) over move-to-front style symbol tables that are
 * reordered as they are used; a flag byte (itself coded that way) tells literal from match, and a
 * "statistics mode" codes runs of literals. Version 2.0 uses Huffman tables sent per block (a
 * 19-symbol pre-table, then the lengths as deltas from the previous block), literals, matches,
 * repeats of the 4 last distances and short matches; a block may instead be "multimedia": up to 4
 * interleaved channels, each byte predicted from the previous ones by an adaptive linear filter and
 * only the prediction error coded. Both stop after the unpacked size.
 */
import { Huff, type RarCore } from './rar3-core.js';

const NC20 = 298, DC20 = 48, RC20 = 28, BC20 = 19, MC20 = 257;

const LDECODE = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224];
const LBITS = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5];
const DDECODE20 = [0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152, 65536, 98304, 131072, 196608, 262144, 327680, 393216, 458752, 524288, 589824, 655360, 720896, 786432, 851968, 917504, 983040];
const DBITS20 = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16];
const SDDECODE = [0, 4, 8, 16, 32, 64, 128, 192];
const SDBITS = [2, 2, 3, 4, 5, 6, 6, 6];

// Version 1.5 fixed prefix codes: upper limits of each code length, and first positions.
const DEC_L1 = [0x8000, 0xa000, 0xc000, 0xd000, 0xe000, 0xea00, 0xee00, 0xf000, 0xf200, 0xf200, 0xffff];
const POS_L1 = [0, 0, 0, 2, 3, 5, 7, 11, 16, 20, 24, 32, 32];
const DEC_L2 = [0xa000, 0xc000, 0xd000, 0xe000, 0xea00, 0xee00, 0xf000, 0xf200, 0xf240, 0xffff];
const POS_L2 = [0, 0, 0, 0, 5, 7, 9, 13, 18, 22, 26, 34, 36];
const DEC_HF0 = [0x8000, 0xc000, 0xe000, 0xf200, 0xf200, 0xf200, 0xf200, 0xf200, 0xffff];
const POS_HF0 = [0, 0, 0, 0, 0, 8, 16, 24, 33, 33, 33, 33, 33];
const DEC_HF1 = [0x2000, 0xc000, 0xe000, 0xf000, 0xf200, 0xf200, 0xf7e0, 0xffff];
const POS_HF1 = [0, 0, 0, 0, 0, 0, 4, 44, 60, 76, 80, 80, 127];
const DEC_HF2 = [0x1000, 0x2400, 0x8000, 0xc000, 0xfa00, 0xffff, 0xffff, 0xffff];
const POS_HF2 = [0, 0, 0, 0, 0, 0, 2, 7, 53, 117, 233, 0, 0];
const DEC_HF3 = [0x800, 0x2400, 0xee00, 0xfe80, 0xffff, 0xffff, 0xffff];
const POS_HF3 = [0, 0, 0, 0, 0, 0, 0, 2, 16, 218, 251, 0, 0];
const DEC_HF4 = [0xff00, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff];
const POS_HF4 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0];
const START_L1 = 2, START_L2 = 3, START_HF0 = 4, START_HF1 = 5, START_HF2 = 5, START_HF3 = 6, START_HF4 = 8;

const SHORT_LEN1 = [1, 3, 4, 4, 5, 6, 7, 8, 8, 4, 4, 5, 6, 6, 4, 0];
const SHORT_XOR1 = [0, 0xa0, 0xd0, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe, 0xff, 0xc0, 0x80, 0x90, 0x98, 0x9c, 0xb0, 0];
const SHORT_LEN2 = [2, 3, 3, 3, 4, 4, 5, 6, 6, 4, 4, 5, 6, 6, 4, 0];
const SHORT_XOR2 = [0, 0x40, 0x60, 0xa0, 0xd0, 0xe0, 0xf0, 0xf8, 0xfc, 0xc0, 0x80, 0x90, 0x98, 0x9c, 0xb0, 0];

class AudioVars {
  k1 = 0; k2 = 0; k3 = 0; k4 = 0; k5 = 0;
  d1 = 0; d2 = 0; d3 = 0; d4 = 0;
  lastDelta = 0;
  readonly dif = new Float64Array(11);
  byteCount = 0;
  lastChar = 0;
  reset(): void {
    this.k1 = this.k2 = this.k3 = this.k4 = this.k5 = 0;
    this.d1 = this.d2 = this.d3 = this.d4 = 0;
    this.lastDelta = 0;
    this.dif.fill(0);
    this.byteCount = 0;
    this.lastChar = 0;
  }
}

export class OldState {
  /** Bytes still to produce (RAR's DestUnpSize, counting down). */
  dest = 0;

  // 2.0
  readonly ld = new Huff(NC20, 10);
  readonly dd = new Huff(DC20, 7);
  readonly rd = new Huff(RC20, 7);
  readonly bd = new Huff(BC20, 7);
  readonly md = [new Huff(MC20, 7), new Huff(MC20, 7), new Huff(MC20, 7), new Huff(MC20, 7)];
  readonly oldTable = new Uint8Array(MC20 * 4);
  readonly table = new Uint8Array(MC20 * 4);
  readonly bitLength = new Uint8Array(BC20);
  tablesRead2 = false;
  audioBlock = false;
  channels = 1;
  curChannel = 0;
  channelDelta = 0;
  readonly aud = [new AudioVars(), new AudioVars(), new AudioVars(), new AudioVars()];

  // 1.5
  readonly chSet = new Uint16Array(256);
  readonly chSetA = new Uint16Array(256);
  readonly chSetB = new Uint16Array(256);
  readonly chSetC = new Uint16Array(256);
  readonly nToPl = new Uint8Array(256);
  readonly nToPlB = new Uint8Array(256);
  readonly nToPlC = new Uint8Array(256);
  flagBuf = 0; avrPlc = 0x3500; avrPlcB = 0; avrLn1 = 0; avrLn2 = 0; avrLn3 = 0;
  buf60 = 0; numHuf = 0; stMode = 0; lCount = 0; flagsCnt = 0;
  nhfb = 0x80; nlzb = 0x80; maxDist3 = 0x2001;

  initData20(solid: boolean): void {
    if (!solid) {
      this.tablesRead2 = false;
      this.audioBlock = false;
      this.channelDelta = 0;
      this.curChannel = 0;
      this.channels = 1;
      for (const a of this.aud) a.reset();
      this.oldTable.fill(0);
      for (const m of this.md) m.clear();
      this.ld.clear(); this.dd.clear(); this.rd.clear(); this.bd.clear();
    }
  }

  initData15(solid: boolean): void {
    if (!solid) {
      this.avrPlcB = this.avrLn1 = this.avrLn2 = this.avrLn3 = this.numHuf = this.buf60 = 0;
      this.avrPlc = 0x3500;
      this.maxDist3 = 0x2001;
      this.nhfb = this.nlzb = 0x80;
    }
    this.flagsCnt = 0;
    this.flagBuf = 0;
    this.stMode = 0;
    this.lCount = 0;
  }

  initHuff(): void {
    for (let i = 0; i < 256; i++) {
      this.chSet[i] = this.chSetB[i] = i << 8;
      this.chSetA[i] = i;
      this.chSetC[i] = ((~i + 1) & 0xff) << 8;
    }
    this.nToPl.fill(0);
    this.nToPlB.fill(0);
    this.nToPlC.fill(0);
    corrHuff(this.chSetB, this.nToPlB);
  }
}

function corrHuff(set: Uint16Array, numToPlace: Uint8Array): void {
  let k = 0;
  for (let i = 7; i >= 0; i--) for (let j = 0; j < 32; j++, k++) set[k] = (set[k]! & ~0xff) | i;
  numToPlace.fill(0);
  for (let i = 6; i >= 0; i--) numToPlace[i] = (7 - i) * 32;
}

/** Writes everything decoded since the last write. */
function writeBuf20(c: RarCore): void {
  c.writeArea(c.wrPtr, c.unpPtr);
  c.wrPtr = c.unpPtr;
  c.sinceWrite = 0;
}

/** True when the output bound cuts the entry (a bomb): stop decoding. */
const boundHit = (c: RarCore): boolean => c.outLen >= c.cap && c.cap < c.destSize;

// ------------------------------------------------------------------ 2.0

function copyString20(c: RarCore, s: OldState, length: number, distance: number): void {
  c.lastDist = c.oldDist[c.oldDistPtr++] = distance;
  c.oldDistPtr &= 3;
  c.lastLength = length;
  s.dest -= length;
  c.copyString(length, distance);
}

export function unpack20(c: RarCore, s: OldState, solid: boolean): void {
  if ((!solid || !s.tablesRead2) && !readTables20(c, s)) return;
  s.dest = c.destSize - 1;
  const w = c.win, mask = c.mask;
  while (s.dest >= 0) {
    if (c.bitPos > c.endBits) { c.error = 'packed data truncated'; break; }
    if (((c.wrPtr - c.unpPtr) & mask) < 270 && c.wrPtr !== c.unpPtr) {
      writeBuf20(c);
      if (boundHit(c)) return;
    }
    if (s.audioBlock) {
      const n = c.decode(s.md[s.curChannel]!);
      if (n === 256) {
        if (!readTables20(c, s)) break;
        continue;
      }
      w[c.unpPtr] = decodeAudio(s, n);
      c.unpPtr = (c.unpPtr + 1) & mask;
      if (++s.curChannel === s.channels) s.curChannel = 0;
      s.dest--;
      continue;
    }
    const num = c.decode(s.ld);
    if (num < 256) {
      w[c.unpPtr] = num;
      c.unpPtr = (c.unpPtr + 1) & mask;
      s.dest--;
      continue;
    }
    if (num > 269) {
      const ls = num - 270;
      let length = LDECODE[ls]! + 3;
      let bits = LBITS[ls]!;
      if (bits > 0) { length += c.getbits() >>> (16 - bits); c.bitPos += bits; }
      const ds = c.decode(s.dd);
      let distance = (DDECODE20[ds] ?? 0) + 1;
      bits = DBITS20[ds] ?? 0;
      if (bits > 0) { distance += c.getbits() >>> (16 - bits); c.bitPos += bits; }
      if (distance >= 0x2000) {
        length++;
        if (distance >= 0x40000) length++;
      }
      copyString20(c, s, length, distance);
      continue;
    }
    if (num === 269) {
      if (!readTables20(c, s)) break;
      continue;
    }
    if (num === 256) {
      copyString20(c, s, c.lastLength, c.lastDist);
      continue;
    }
    if (num < 261) {
      const distance = c.oldDist[(c.oldDistPtr - (num - 256)) & 3]!;
      const ls = c.decode(s.rd);
      let length = LDECODE[ls]! + 2;
      const bits = LBITS[ls]!;
      if (bits > 0) { length += c.getbits() >>> (16 - bits); c.bitPos += bits; }
      if (distance >= 0x101) {
        length++;
        if (distance >= 0x2000) {
          length++;
          if (distance >= 0x40000) length++;
        }
      }
      copyString20(c, s, length, distance);
      continue;
    }
    const sn = num - 261;
    let distance = SDDECODE[sn]! + 1;
    const bits = SDBITS[sn]!;
    if (bits > 0) { distance += c.getbits() >>> (16 - bits); c.bitPos += bits; }
    copyString20(c, s, 2, distance);
  }
  readLastTables(c, s);
  writeBuf20(c);
}

function readTables20(c: RarCore, s: OldState): boolean {
  if (c.bitPos > c.endBits) { c.error = 'packed data truncated'; return false; }
  const bf = c.getbits();
  s.audioBlock = (bf & 0x8000) !== 0;
  if (!(bf & 0x4000)) s.oldTable.fill(0);
  c.bitPos += 2;
  let size: number;
  if (s.audioBlock) {
    s.channels = ((bf >>> 12) & 3) + 1;
    if (s.curChannel >= s.channels) s.curChannel = 0;
    c.bitPos += 2;
    size = MC20 * s.channels;
  } else {
    size = NC20 + DC20 + RC20;
  }
  const bl = s.bitLength;
  for (let i = 0; i < BC20; i++) {
    bl[i] = c.getbits() >>> 12;
    c.bitPos += 4;
  }
  s.bd.build(bl, 0, BC20);
  const t = s.table, old = s.oldTable;
  for (let i = 0; i < size;) {
    if (c.bitPos > c.endBits + 64) { c.error = 'packed data truncated'; return false; }
    const n = c.decode(s.bd);
    if (n < 16) {
      t[i] = (n + old[i]!) & 0xf;
      i++;
    } else if (n === 16) {
      let count = (c.getbits() >>> 14) + 3;
      c.bitPos += 2;
      if (i === 0) { c.error = 'bad Huffman table'; return false; }
      while (count-- > 0 && i < size) { t[i] = t[i - 1]!; i++; }
    } else {
      let count: number;
      if (n === 17) { count = (c.getbits() >>> 13) + 3; c.bitPos += 3; } else { count = (c.getbits() >>> 9) + 11; c.bitPos += 7; }
      while (count-- > 0 && i < size) t[i++] = 0;
    }
  }
  s.tablesRead2 = true;
  if (c.bitPos >>> 3 > c.inLen) return true;
  if (s.audioBlock) {
    for (let i = 0; i < s.channels; i++) s.md[i]!.build(t, i * MC20, MC20);
  } else {
    s.ld.build(t, 0, NC20);
    s.dd.build(t, NC20, DC20);
    s.rd.build(t, NC20 + DC20, RC20);
  }
  old.set(t.subarray(0, size));
  return true;
}

function readLastTables(c: RarCore, s: OldState): void {
  if (c.inLen >= (c.bitPos >>> 3) + 5) {
    if (s.audioBlock) {
      if (c.decode(s.md[s.curChannel]!) === 256) readTables20(c, s);
    } else if (c.decode(s.ld) === 269) {
      readTables20(c, s);
    }
  }
}

function decodeAudio(s: OldState, delta: number): number {
  const v = s.aud[s.curChannel]!;
  v.byteCount = (v.byteCount + 1) >>> 0;
  v.d4 = v.d3;
  v.d3 = v.d2;
  v.d2 = (v.lastDelta - v.d1) | 0;
  v.d1 = v.lastDelta;
  let pch = (8 * v.lastChar + v.k1 * v.d1 + v.k2 * v.d2 + v.k3 * v.d3 + v.k4 * v.d4 + v.k5 * s.channelDelta) | 0;
  pch = (pch >> 3) & 0xff;
  const ch = pch - delta;
  const d = ((delta << 24) >> 24) * 8;
  const dif = v.dif;
  dif[0]! += Math.abs(d);
  dif[1]! += Math.abs(d - v.d1);
  dif[2]! += Math.abs(d + v.d1);
  dif[3]! += Math.abs(d - v.d2);
  dif[4]! += Math.abs(d + v.d2);
  dif[5]! += Math.abs(d - v.d3);
  dif[6]! += Math.abs(d + v.d3);
  dif[7]! += Math.abs(d - v.d4);
  dif[8]! += Math.abs(d + v.d4);
  dif[9]! += Math.abs(d - s.channelDelta);
  dif[10]! += Math.abs(d + s.channelDelta);
  s.channelDelta = v.lastDelta = ((ch - v.lastChar) << 24) >> 24;
  v.lastChar = ch;
  if ((v.byteCount & 0x1f) === 0) {
    let min = dif[0]! % 4294967296, num = 0;
    dif[0] = 0;
    for (let i = 1; i < 11; i++) {
      const x = dif[i]! % 4294967296;
      if (x < min) { min = x; num = i; }
      dif[i] = 0;
    }
    switch (num) {
      case 1: if (v.k1 >= -16) v.k1--; break;
      case 2: if (v.k1 < 16) v.k1++; break;
      case 3: if (v.k2 >= -16) v.k2--; break;
      case 4: if (v.k2 < 16) v.k2++; break;
      case 5: if (v.k3 >= -16) v.k3--; break;
      case 6: if (v.k3 < 16) v.k3++; break;
      case 7: if (v.k4 >= -16) v.k4--; break;
      case 8: if (v.k4 < 16) v.k4++; break;
      case 9: if (v.k5 >= -16) v.k5--; break;
      case 10: if (v.k5 < 16) v.k5++; break;
    }
  }
  return ch & 0xff;
}

// ------------------------------------------------------------------ 1.5

function decodeNum(c: RarCore, num: number, start: number, dec: readonly number[], pos: readonly number[]): number {
  num &= 0xfff0;
  let i = 0;
  while (dec[i]! <= num) { start++; i++; }
  c.bitPos += start;
  return ((num - (i ? dec[i - 1]! : 0)) >>> (16 - start)) + pos[start]!;
}

function copyString15(c: RarCore, s: OldState, distance: number, length: number): void {
  s.dest -= length;
  c.copyString(length, distance);
}

export function unpack15(c: RarCore, s: OldState, solid: boolean): void {
  s.initData15(solid);
  if (!solid) {
    s.initHuff();
    c.unpPtr = 0;
  } else {
    c.unpPtr = c.wrPtr;
  }
  s.dest = c.destSize - 1;
  if (s.dest >= 0) {
    getFlagsBuf(c, s);
    s.flagsCnt = 8;
  }
  const mask = c.mask;
  while (s.dest >= 0) {
    if (c.bitPos > c.endBits) { c.error = 'packed data truncated'; break; }
    if (((c.wrPtr - c.unpPtr) & mask) < 270 && c.wrPtr !== c.unpPtr) {
      writeBuf20(c);
      if (boundHit(c)) return;
    }
    if (s.stMode) {
      huffDecode(c, s);
      continue;
    }
    if (--s.flagsCnt < 0) {
      getFlagsBuf(c, s);
      s.flagsCnt = 7;
    }
    if (s.flagBuf & 0x80) {
      s.flagBuf = (s.flagBuf << 1) >>> 0;
      if (s.nlzb > s.nhfb) longLZ(c, s);
      else huffDecode(c, s);
    } else {
      s.flagBuf = (s.flagBuf << 1) >>> 0;
      if (--s.flagsCnt < 0) {
        getFlagsBuf(c, s);
        s.flagsCnt = 7;
      }
      if (s.flagBuf & 0x80) {
        s.flagBuf = (s.flagBuf << 1) >>> 0;
        if (s.nlzb > s.nhfb) huffDecode(c, s);
        else longLZ(c, s);
      } else {
        s.flagBuf = (s.flagBuf << 1) >>> 0;
        shortLZ(c, s);
      }
    }
  }
  writeBuf20(c);
}

function shortLZ(c: RarCore, s: OldState): void {
  s.numHuf = 0;
  let bf = c.getbits();
  if (s.lCount === 2) {
    c.bitPos += 1;
    if (bf >= 0x8000) {
      copyString15(c, s, c.lastDist, c.lastLength);
      return;
    }
    bf = (bf << 1) & 0x1ffff;
    s.lCount = 0;
  }
  bf >>>= 8;
  let length = 0;
  if (s.avrLn1 < 37) {
    for (;; length++) {
      const l = length === 1 ? s.buf60 + 3 : SHORT_LEN1[length]!;
      if (((bf ^ SHORT_XOR1[length]!) & ~(0xff >>> l)) === 0 || length >= 15) { c.bitPos += l; break; }
    }
  } else {
    for (;; length++) {
      const l = length === 3 ? s.buf60 + 3 : SHORT_LEN2[length]!;
      if (((bf ^ SHORT_XOR2[length]!) & ~(0xff >>> l)) === 0 || length >= 15) { c.bitPos += l; break; }
    }
  }
  if (length >= 9) {
    if (length === 9) {
      s.lCount++;
      copyString15(c, s, c.lastDist, c.lastLength);
      return;
    }
    if (length === 14) {
      s.lCount = 0;
      length = decodeNum(c, c.getbits(), START_L2, DEC_L2, POS_L2) + 5;
      const distance = (c.getbits() >>> 1) | 0x8000;
      c.bitPos += 15;
      c.lastLength = length;
      c.lastDist = distance;
      copyString15(c, s, distance, length);
      return;
    }
    s.lCount = 0;
    const save = length;
    const distance = c.oldDist[(c.oldDistPtr - (length - 9)) & 3]!;
    length = decodeNum(c, c.getbits(), START_L1, DEC_L1, POS_L1) + 2;
    if (length === 0x101 && save === 10) {
      s.buf60 ^= 1;
      return;
    }
    if (distance > 256) length++;
    if (distance >= s.maxDist3) length++;
    c.oldDist[c.oldDistPtr++] = distance;
    c.oldDistPtr &= 3;
    c.lastLength = length;
    c.lastDist = distance;
    copyString15(c, s, distance, length);
    return;
  }
  s.lCount = 0;
  s.avrLn1 += length;
  s.avrLn1 -= s.avrLn1 >>> 4;
  let place = decodeNum(c, c.getbits(), START_HF2, DEC_HF2, POS_HF2) & 0xff;
  let distance = s.chSetA[place]!;
  if (--place !== -1) {
    const last = s.chSetA[place]!;
    s.chSetA[place + 1] = last;
    s.chSetA[place] = distance;
  }
  length += 2;
  distance++;
  c.oldDist[c.oldDistPtr++] = distance;
  c.oldDistPtr &= 3;
  c.lastLength = length;
  c.lastDist = distance;
  copyString15(c, s, distance, length);
}

function longLZ(c: RarCore, s: OldState): void {
  s.numHuf = 0;
  s.nlzb += 16;
  if (s.nlzb > 0xff) {
    s.nlzb = 0x90;
    s.nhfb >>>= 1;
  }
  const oldAvr2 = s.avrLn2;
  let bf = c.getbits();
  let length: number;
  if (s.avrLn2 >= 122) {
    length = decodeNum(c, bf, START_L2, DEC_L2, POS_L2);
  } else if (s.avrLn2 >= 64) {
    length = decodeNum(c, bf, START_L1, DEC_L1, POS_L1);
  } else if (bf < 0x100) {
    length = bf;
    c.bitPos += 16;
  } else {
    for (length = 0; ((bf << length) & 0x8000) === 0; length++);
    c.bitPos += length + 1;
  }
  s.avrLn2 += length;
  s.avrLn2 -= s.avrLn2 >>> 5;
  bf = c.getbits();
  let place: number;
  if (s.avrPlcB > 0x28ff) place = decodeNum(c, bf, START_HF2, DEC_HF2, POS_HF2);
  else if (s.avrPlcB > 0x6ff) place = decodeNum(c, bf, START_HF1, DEC_HF1, POS_HF1);
  else place = decodeNum(c, bf, START_HF0, DEC_HF0, POS_HF0);
  s.avrPlcB += place;
  s.avrPlcB -= s.avrPlcB >>> 8;
  let distance: number, newPlace: number;
  for (;;) {
    distance = s.chSetB[place & 0xff]!;
    newPlace = s.nToPlB[distance & 0xff]!;
    s.nToPlB[distance & 0xff] = newPlace + 1;
    distance++;
    if (!(distance & 0xff)) corrHuff(s.chSetB, s.nToPlB);
    else break;
  }
  s.chSetB[place & 0xff] = s.chSetB[newPlace]!;
  s.chSetB[newPlace] = distance;
  distance = ((distance & 0xff00) | (c.getbits() >>> 8)) >>> 1;
  c.bitPos += 7;
  const oldAvr3 = s.avrLn3;
  if (length !== 1 && length !== 4) {
    if (length === 0 && distance <= s.maxDist3) {
      s.avrLn3++;
      s.avrLn3 -= s.avrLn3 >>> 8;
    } else if (s.avrLn3 > 0) {
      s.avrLn3--;
    }
  }
  length += 3;
  if (distance >= s.maxDist3) length++;
  if (distance <= 256) length += 8;
  if (oldAvr3 > 0xb0 || (s.avrPlc >= 0x2a00 && oldAvr2 < 0x40)) s.maxDist3 = 0x7f00;
  else s.maxDist3 = 0x2001;
  c.oldDist[c.oldDistPtr++] = distance;
  c.oldDistPtr &= 3;
  c.lastLength = length;
  c.lastDist = distance;
  copyString15(c, s, distance, length);
}

function huffDecode(c: RarCore, s: OldState): void {
  let bf = c.getbits();
  let place: number;
  if (s.avrPlc > 0x75ff) place = decodeNum(c, bf, START_HF4, DEC_HF4, POS_HF4);
  else if (s.avrPlc > 0x5dff) place = decodeNum(c, bf, START_HF3, DEC_HF3, POS_HF3);
  else if (s.avrPlc > 0x35ff) place = decodeNum(c, bf, START_HF2, DEC_HF2, POS_HF2);
  else if (s.avrPlc > 0x0dff) place = decodeNum(c, bf, START_HF1, DEC_HF1, POS_HF1);
  else place = decodeNum(c, bf, START_HF0, DEC_HF0, POS_HF0);
  place &= 0xff;
  if (s.stMode) {
    if (place === 0 && bf > 0xfff) place = 0x100;
    if (--place === -1) {
      bf = c.getbits();
      c.bitPos += 1;
      if (bf & 0x8000) {
        s.numHuf = s.stMode = 0;
        return;
      }
      const length = bf & 0x4000 ? 4 : 3;
      c.bitPos += 1;
      let distance = decodeNum(c, c.getbits(), START_HF2, DEC_HF2, POS_HF2);
      distance = ((distance << 5) | (c.getbits() >>> 11)) >>> 0;
      c.bitPos += 5;
      copyString15(c, s, distance, length);
      return;
    }
  } else if (s.numHuf++ >= 16 && s.flagsCnt === 0) {
    s.stMode = 1;
  }
  s.avrPlc += place;
  s.avrPlc -= s.avrPlc >>> 8;
  s.nhfb += 16;
  if (s.nhfb > 0xff) {
    s.nhfb = 0x90;
    s.nlzb >>>= 1;
  }
  c.win[c.unpPtr] = s.chSet[place]! >>> 8;
  c.unpPtr = (c.unpPtr + 1) & c.mask;
  s.dest--;
  let cur: number, newPlace: number;
  for (;;) {
    cur = s.chSet[place]!;
    newPlace = s.nToPl[cur & 0xff]!;
    s.nToPl[cur & 0xff] = newPlace + 1;
    cur++;
    if ((cur & 0xff) > 0xa1) corrHuff(s.chSet, s.nToPl);
    else break;
  }
  s.chSet[place] = s.chSet[newPlace]!;
  s.chSet[newPlace] = cur;
}

function getFlagsBuf(c: RarCore, s: OldState): void {
  const place = decodeNum(c, c.getbits(), START_HF2, DEC_HF2, POS_HF2);
  if (place >= 256) return;
  let flags: number, newPlace: number;
  for (;;) {
    flags = s.chSetC[place]!;
    s.flagBuf = flags >>> 8;
    newPlace = s.nToPlC[flags & 0xff]!;
    s.nToPlC[flags & 0xff] = newPlace + 1;
    flags++;
    if ((flags & 0xff) !== 0) break;
    corrHuff(s.chSetC, s.nToPlC);
  }
  s.chSetC[place] = s.chSetC[newPlace]!;
  s.chSetC[newPlace] = flags;
}
