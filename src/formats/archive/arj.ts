/**
 * ARJ archives → the files ClamAV scans inside them, extracted as ClamAV 1.4's unarj does.
 *
 * In: the bytes of a CL_TYPE_ARJ layer (or, for CL_TYPE_ARJSFX, the bytes from the `60 EA` main
 * header found inside a self-extractor). Out: the members in archive order, named by their stored
 * path: stored (method 0), LZH with the 26624-byte window (methods 1-3) and "fastest" (method 4)
 * members are decoded; members of other methods give an empty file. Never throws.
 *
 * Why these rules: they are ClamAV's, and they decide what a damaged archive still shows.
 * - The main header must be sound (size, first-header size ≥ 30, names terminated) or nothing is
 *   read. Each member needs the `60 EA` mark and a sound header; extended headers are skipped
 *   (size + CRC each); a header of size 0 ends the archive. Multi-volume flags change nothing.
 * - A garbled (encrypted) member is skipped without an alert.
 * - A member whose original or compressed size is over the file-size limit is reported and not
 *   read — and, as in ClamAV, the next header is then looked for where its data starts, which
 *   normally ends the archive.
 * - A member cut short keeps what was decoded: stored data up to the end of the file; LZH output
 *   in whole 26624-byte window flushes when the input runs out inside the data (the part still in
 *   the window is lost). A corrupt back-reference ends the member with everything decoded so far.
 *   The next header is read where the decoder stopped reading.
 * Decoding writes at most the declared original size plus one match, itself within the limit.
 */
import { BoundedOutput, type UnpackContext, type UnpackItem } from '../unpack.js';

const FIRST_HDR_SIZE = 30;
const HEADERSIZE_MAX = FIRST_HDR_SIZE + 10 + 512 + 2048;
const DDICSIZ = 26624;
const THRESHOLD = 3;
const MAXMATCH = 256;
const NC = 255 + MAXMATCH + 2 - THRESHOLD; // 510
const NT = 19;
const NP = 17;
const NPT = 19;
const TREE_MAX = 2 * NC - 1;
const CBIT = 9;
const TBIT = 5;
const PBIT = 5;

/** Status codes of the decoder (ClamAV's `CL_SUCCESS`, `CL_EFORMAT`, `CL_EUNPACK`). */
const OK = 0, EFORMAT = 1, EUNPACK = 2;

const i16 = (x: number): number => (x << 16) >> 16;

/** The bit reader and Huffman tables of one member (ClamAV's `arj_decode_t`). */
class Decoder {
  bitBuf = 0;
  subBitBuf = 0;
  bitCount = 0;
  blockSize = 0;
  status = OK;
  getBuf = 0;
  getLen = 0;
  readonly left = new Uint16Array(TREE_MAX);
  readonly right = new Uint16Array(TREE_MAX);
  readonly cLen = new Uint8Array(NC);
  readonly cTable = new Uint16Array(4096);
  readonly ptLen = new Uint8Array(NPT);
  readonly ptTable = new Uint16Array(256);
  constructor(readonly src: Uint8Array, public offset: number, public compLeft: number) {}

  fill(n: number): void {
    if (this.status === EFORMAT) return;
    // ClamAV refuses (silently) a shift whose product passes 32 bits.
    if (n > 16 && this.bitBuf * 2 ** n > 0xffffffff) return;
    this.bitBuf = n >= 16 ? 0 : (this.bitBuf << n) & 0xffff;
    while (n > this.bitCount) {
      n -= this.bitCount;
      this.bitBuf = (this.bitBuf | (n >= 16 ? 0 : this.subBitBuf << n)) & 0xffff;
      if (this.compLeft !== 0) {
        this.compLeft--;
        if (this.offset >= this.src.length) { this.status = EFORMAT; return; }
        this.subBitBuf = this.src[this.offset++]!;
      } else {
        this.subBitBuf = 0;
      }
      this.bitCount = 8;
    }
    this.bitCount -= n;
    this.bitBuf = (this.bitBuf | (this.subBitBuf >> this.bitCount)) & 0xffff;
  }

  start(): number {
    this.bitBuf = 0;
    this.subBitBuf = 0;
    this.bitCount = 0;
    this.fill(16);
    return this.status;
  }

  bits(n: number): number {
    const x = this.bitBuf >>> (16 - n);
    this.fill(n);
    return x;
  }

  /** ClamAV's `make_table`: false (and status EUNPACK) on an impossible code. */
  makeTable(nchar: number, bitLen: Uint8Array, tableBits: number, table: Uint16Array): boolean {
    const count = new Uint16Array(18), weight = new Uint16Array(18), start = new Uint16Array(18);
    for (let i = 0; i < nchar; i++) {
      const l = bitLen[i]!;
      if (l >= 17) { this.status = EUNPACK; return false; }
      count[l]!++;
    }
    start[1] = 0;
    for (let i = 1; i <= 16; i++) start[i + 1] = start[i]! + (count[i]! << (16 - i));
    if (start[17] !== 0) { this.status = EUNPACK; return false; }
    const jut = 16 - tableBits;
    let i = 1;
    for (; i <= tableBits; i++) {
      start[i] = start[i]! >> jut;
      weight[i] = 1 << (tableBits - i);
    }
    for (; i <= 16; i++) weight[i] = 1 << (16 - i);
    i = start[tableBits + 1]! >> jut;
    if (i !== 0) {
      const k = 1 << tableBits;
      while (i !== k) {
        if (i >= table.length) { this.status = EUNPACK; return false; }
        table[i++] = 0;
      }
    }
    let avail = nchar;
    const mask = 1 << (15 - tableBits);
    const left = this.left, right = this.right;
    for (let ch = 0; ch < nchar; ch++) {
      const len = bitLen[ch]!;
      if (len === 0) continue;
      let k = start[len]!;
      const next = k + weight[len]!;
      if (len <= tableBits) {
        if (next > table.length) { this.status = EUNPACK; return false; }
        for (let j = start[len]!; j < next; j++) table[j] = ch;
      } else {
        // The slot being followed: 0 = table, 1 = left, 2 = right; at index `at`.
        let arr: Uint16Array = table;
        let at = k >>> jut;
        for (let n = len - tableBits; n !== 0; n--) {
          if (arr[at] === 0) {
            if (avail >= TREE_MAX) { this.status = EUNPACK; return false; }
            right[avail] = 0;
            left[avail] = 0;
            arr[at] = avail++;
          }
          const node = arr[at]!;
          if (node >= TREE_MAX) { this.status = EUNPACK; return false; }
          if (k & mask) arr = right;
          else arr = left;
          at = node;
          k <<= 1;
        }
        arr[at] = ch;
      }
      start[len] = next;
    }
    return true;
  }

  readPtLen(nn: number, nbit: number, special: number): void {
    const n = this.bits(nbit);
    if (n === 0) {
      const c = this.bits(nbit);
      this.ptLen.fill(0, 0, nn);
      this.ptTable.fill(c);
      return;
    }
    let i = 0;
    while (i < n && i < NPT) {
      let c = this.bitBuf >>> 13;
      if (c === 7) {
        for (let mask = 1 << 12; mask & this.bitBuf; mask >>>= 1) c++;
      }
      this.fill(c < 7 ? 3 : c - 3);
      if (this.status !== OK) return;
      this.ptLen[i++] = c;
      if (i === special) {
        let z = i16(this.bits(2));
        if (this.status !== OK) return;
        while (--z >= 0 && i < NPT) this.ptLen[i++] = 0;
      }
    }
    while (i < nn && i < NPT) this.ptLen[i++] = 0;
    this.makeTable(nn, this.ptLen, 8, this.ptTable);
  }

  readCLen(): void {
    const n = i16(this.bits(CBIT));
    if (this.status !== OK) return;
    if (n === 0) {
      const c = this.bits(CBIT);
      if (this.status !== OK) return;
      this.cLen.fill(0);
      this.cTable.fill(c);
      return;
    }
    let i = 0;
    while (i < n) {
      let c = this.ptTable[this.bitBuf >>> 8]!;
      if (c >= NT) {
        let mask = 1 << 7, steps = 0;
        do {
          if (c >= TREE_MAX || ++steps > TREE_MAX) { this.status = EFORMAT; return; }
          c = this.bitBuf & mask ? this.right[c]! : this.left[c]!;
          mask >>>= 1;
        } while (c >= NT);
      }
      if (c >= 19) { this.status = EUNPACK; return; }
      this.fill(this.ptLen[c]!);
      if (this.status !== OK) return;
      if (c <= 2) {
        let z = c === 0 ? 1 : c === 1 ? this.bits(4) + 3 : this.bits(CBIT) + 20;
        if (this.status !== OK) return;
        while (--z >= 0) {
          if (i >= NC) { this.status = EFORMAT; return; }
          this.cLen[i++] = 0;
        }
      } else {
        if (i >= NC) { this.status = EFORMAT; return; }
        this.cLen[i++] = c - 2;
      }
    }
    while (i < NC) this.cLen[i++] = 0;
    this.makeTable(NC, this.cLen, 12, this.cTable);
  }

  decodeC(): number {
    if (this.blockSize === 0) {
      this.blockSize = this.bits(16);
      this.readPtLen(NT, TBIT, 3);
      this.readCLen();
      this.readPtLen(NT, PBIT, -1);
    }
    this.blockSize = (this.blockSize - 1) & 0xffff;
    let j = this.cTable[this.bitBuf >>> 4]!;
    if (j >= NC) {
      let mask = 1 << 3, steps = 0;
      do {
        if (j >= TREE_MAX || ++steps > TREE_MAX) { this.status = EUNPACK; return 0; }
        j = this.bitBuf & mask ? this.right[j]! : this.left[j]!;
        mask >>>= 1;
      } while (j >= NC);
    }
    this.fill(this.cLen[j]!);
    return j;
  }

  decodeP(): number {
    let j = this.ptTable[this.bitBuf >>> 8]!;
    if (j >= NP) {
      let mask = 1 << 7, steps = 0;
      do {
        if (j >= TREE_MAX || ++steps > TREE_MAX) { this.status = EUNPACK; return 0; }
        j = this.bitBuf & mask ? this.right[j]! : this.left[j]!;
        mask >>>= 1;
      } while (j >= NP);
    }
    this.fill(this.ptLen[j]!);
    if (j !== 0) {
      j--;
      j = ((1 << j) + this.bits(j)) & 0xffff;
    }
    return j;
  }

  // Method 4: a second bit buffer on top of the first.
  private refill(): void {
    this.getBuf = (this.getBuf | (this.bitBuf >>> this.getLen)) & 0xffff;
    this.fill(16 - this.getLen);
    this.getLen = 16;
  }
  getBit(): number {
    if (this.getLen <= 0) this.refill();
    const c = (this.getBuf & 0x8000) !== 0 ? 1 : 0;
    this.getBuf = (this.getBuf << 1) & 0xffff;
    this.getLen--;
    return c;
  }
  getBits(l: number): number {
    if (this.getLen < l) this.refill();
    const c = this.getBuf >>> (16 - l);
    this.getBuf = (this.getBuf << l) & 0xffff;
    this.getLen -= l;
    return c;
  }
  /** A value coded as a unary width from `from` (below `to`) then that many bits, plus the widths passed. */
  private unaryCoded(from: number, to: number): number {
    let plus = 0, pwr = 1 << from, width = from, c = 0;
    for (; width < to; width++) {
      c = this.getBit();
      if (c === 0) break;
      plus += pwr;
      pwr <<= 1;
    }
    if (width !== 0) c = this.getBits(width);
    return (c + plus) & 0xffff;
  }
  decodeLen(): number { return this.unaryCoded(0, 7); }
  decodePtr(): number { return this.unaryCoded(9, 13); }
}

/** Output of one member: the window flushed whole, and what is left in it at a normal end. */
class Window {
  readonly text = new Uint8Array(DDICSIZ);
  ptr = 0;
  constructor(readonly out: BoundedOutput) {}
  /** Stores one byte; flushes a full window. False when the output bound is reached. */
  put(b: number): boolean {
    this.text[this.ptr] = b;
    if (++this.ptr >= DDICSIZ) {
      this.ptr = 0;
      return this.out.bytes(this.text);
    }
    return true;
  }
  finish(): void {
    if (this.ptr !== 0) this.out.bytes(this.text.subarray(0, this.ptr));
  }
}

/** Methods 1-3. Returns the offset where reading stopped. */
function decodeLzh(src: Uint8Array, offset: number, compSize: number, origSize: number, out: BoundedOutput): number {
  const d = new Decoder(src, offset, compSize);
  if (d.start() !== OK) return d.offset;
  d.status = OK;
  const w = new Window(out);
  const text = w.text;
  let count = 0;
  while (count < origSize) {
    const chr = i16(d.decodeC());
    if (chr <= 255) {
      if (!w.put(chr)) return d.offset;
      count++;
    } else {
      let j = chr - (256 - THRESHOLD);
      count += j;
      let i = i16(d.decodeP());
      i = i16(w.ptr - i - 1);
      if (i < 0) i = i16(i + DDICSIZ);
      if (i >= DDICSIZ || i < 0) break;
      if (w.ptr > i && w.ptr < DDICSIZ - MAXMATCH - 1) {
        while (--j >= 0 && i < DDICSIZ && w.ptr < DDICSIZ) text[w.ptr++] = text[i++]!;
      } else {
        while (--j >= 0) {
          if (!w.put(text[i]!)) return d.offset;
          if (++i >= DDICSIZ) i = 0;
        }
      }
    }
    if (d.status !== OK) return d.offset;
  }
  w.finish();
  return d.offset;
}

/** Method 4. Returns the offset where reading stopped. */
function decodeFastest(src: Uint8Array, offset: number, compSize: number, origSize: number, out: BoundedOutput): number {
  const d = new Decoder(src, offset, compSize);
  if (d.start() !== OK) return d.offset;
  d.getLen = 0;
  d.getBuf = 0;
  d.status = OK;
  // The window, flushed whole each time it fills (ClamAV's `text` buffer).
  const text = new Uint8Array(DDICSIZ);
  let ptr = 0;
  let count = 0;
  while (count < origSize) {
    const chr = i16(d.decodeLen());
    if (d.status !== OK) return d.offset;
    if (chr === 0) {
      const c = d.getBits(8);
      if (d.status !== OK) return d.offset;
      text[ptr] = c;
      if (++ptr >= DDICSIZ) {
        ptr = 0;
        if (!out.bytes(text)) return d.offset;
      }
      count++;
    } else {
      let j = i16(chr - 1 + THRESHOLD);
      count += j;
      const pos = i16(d.decodePtr());
      if (d.status !== OK) return d.offset;
      let i = i16(ptr - pos - 1);
      if (i < 0) i = i16(i + DDICSIZ);
      if (i >= DDICSIZ || i < 0) break;
      while (j-- > 0) {
        text[ptr] = text[i]!;
        if (++ptr >= DDICSIZ) {
          ptr = 0;
          if (!out.bytes(text)) return d.offset;
        }
        if (++i >= DDICSIZ) i = 0;
      }
    }
  }
  if (ptr !== 0) out.bytes(text.subarray(0, ptr));
  return d.offset;
}

const u16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);
const u32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** A NUL within `max + 1` bytes from `at` (ClamAV's `fmap_need_offstr`): the string's length, or -1. */
function terminated(b: Uint8Array, at: number, max: number): number {
  const end = Math.min(b.length, at + max + 1);
  if (at >= b.length) return -1;
  for (let i = at; i < end; i++) if (b[i] === 0) return Math.min(i - at, max);
  return -1;
}

interface FileHeader { name: string; method: number; garbled: boolean; compSize: number; origSize: number; next: number }

/**
 * The header whose size field is at `pos` (after its `60 EA` mark): 'end' for a size of 0,
 * undefined when damaged (ClamAV's checks, in its order). For the main header only `next` matters.
 */
function readHeader(b: Uint8Array, pos: number): FileHeader | 'end' | undefined {
  if (pos + 2 > b.length) return undefined;
  const size = u16(b, pos);
  const origin = pos;
  pos += 2;
  if (size === 0) return 'end';
  if (size > HEADERSIZE_MAX) return undefined;
  if (size + 2 > b.length - pos) return undefined;
  if (pos + 30 > b.length) return undefined;
  const h = pos;
  const first = b[h]!;
  if (first < 30) return undefined;
  pos += first;
  const nameMax = size + 2 - (pos - origin);
  if (nameMax < 0 || nameMax > size) return undefined;
  let nameLen = 0;
  if (nameMax > 0) {
    nameLen = terminated(b, pos, nameMax);
    if (nameLen < 0) return undefined;
  }
  const name = Buffer.from(b.subarray(pos, pos + nameLen)).toString('latin1');
  pos += nameLen + 1;
  const commentMax = size + 2 - (pos - origin);
  if (commentMax < 0 || commentMax > size) return undefined;
  let commentLen = 0;
  if (commentMax > 0) {
    commentLen = terminated(b, pos, commentMax);
    if (commentLen < 0) return undefined;
  }
  pos += commentLen + 1 + 4;
  // Extended headers: size, data, CRC; a zero size ends them.
  for (;;) {
    if (pos + 2 > b.length) return undefined;
    const ext = u16(b, pos);
    pos += 2;
    if (ext === 0) break;
    pos += ext + 4;
  }
  return { name, method: b[h + 5]!, garbled: (b[h + 4]! & 1) !== 0, compSize: u32(b, h + 12), origSize: u32(b, h + 16), next: pos };
}

/** The members of the ARJ archive that starts at `start` (its main header's `60 EA`). */
export function* arjMembers(bytes: Uint8Array, ctx: UnpackContext, start = 0): Generator<UnpackItem> {
  const b = start === 0 ? bytes : bytes.subarray(start);
  if (b[0] !== 0x60 || b[1] !== 0xea) return;
  const main = readHeader(b, 2);
  if (main === undefined || main === 'end') return;
  let pos = main.next;
  const max = ctx.limits.maxFileSize;
  for (;;) {
    if (pos + 2 > b.length || b[pos] !== 0x60 || b[pos + 1] !== 0xea) return;
    const h = readHeader(b, pos + 2);
    if (h === undefined || h === 'end') return;
    pos = h.next;
    if (max > 0 && Math.max(h.origSize, h.compSize) > max) {
      yield { name: h.name, limit: 'MaxFileSize', size: Math.max(h.origSize, h.compSize) };
      continue; // the next header is looked for at this member's data
    }
    if (h.garbled) {
      pos += h.compSize;
      continue;
    }
    let data: Uint8Array;
    if (h.method === 0) {
      const end = Math.min(b.length, pos + h.compSize);
      data = pos < end ? b.subarray(pos, end) : new Uint8Array(0);
      pos = Math.max(pos, end);
    } else if (h.method >= 1 && h.method <= 4) {
      // Output is at most the declared size plus one match; without a file-size limit, 1 GiB at most.
      const out = new BoundedOutput(Math.min(h.origSize + MAXMATCH, max > 0 ? max + MAXMATCH : 1 << 30), Math.min(h.origSize + MAXMATCH, 1 << 20));
      pos = h.method === 4 ? decodeFastest(b, pos, h.compSize, h.origSize, out) : decodeLzh(b, pos, h.compSize, h.origSize, out);
      data = out.view();
    } else {
      data = new Uint8Array(0);
    }
    yield { name: h.name, data };
  }
}
