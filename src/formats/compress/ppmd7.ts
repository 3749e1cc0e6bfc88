/**
 * PPMd variant H (the "Ppmd7" model of 7-Zip, by Dmitry Shkarin's PPMd var.H) → decoded bytes,
 * for 7z's PPMd coder (method 03 04 01) and RAR 2.9/3.x's PPMd blocks.
 *
 * In: a memory size and a maximum order (the model), and a range decoder over the compressed
 * bytes (7z's, or RAR 3's variant with its "bottom" normalisation). Out: one symbol per
 * `decodeSymbol` call (0..255), -1 at an escape past the order-(-1) context (RAR's end mark), -2
 * on data the model cannot have produced. `ppmd7Decode7z` decodes a whole 7z PPMd stream as
 * ClamAV's 7-Zip decoder does. Never throws.
 *
 * Why exact: damaged data still decodes to *something*, and ClamAV scans what its decoder left in
 * its buffer, so the model reproduces 7-Zip's one bit for bit, including its memory layout: the
 * model lives in one block addressed by 32-bit offsets (text area growing up from the start,
 * units from 7/8 below the end growing up, contexts from the end growing down, free lists of
 * 12-byte units, gluing of free blocks when memory runs out, restart when it is exhausted), and
 * the same offsets are compared as 7-Zip compares its pointers.
 *
 * Memory: the block is one zero-filled ArrayBuffer of the declared size. Fresh pages of such a
 * buffer are committed by the operating system only when first written, so a header declaring a
 * large model over little data costs what the model touches (the three growing regions), not the
 * declared size. A model above `PPMD7_MAX_MEMORY` (ClamAV's allocation bound: 1 GiB including
 * 7-Zip's alignment and guard unit) is refused (`ok` false), as ClamAV's allocator refuses it (its
 * 7z decoder then reports a memory error and the folder gives nothing).
 *
 * Hot path: the model's state is in fields, memory in Uint8/Uint16/Uint32 views of the block; the
 * scan of a context after an escape is branch-free over a byte mask (0xff: not yet seen).
 */

/** Largest model accepted, as ClamAV's allocator (CLI_MAX_ALLOCATION) bounds 7-Zip's block. */
export const PPMD7_MAX_MEMORY = 1 << 30;
export const PPMD7_MIN_ORDER = 2;
export const PPMD7_MAX_ORDER = 64;
/** Smallest model 7z accepts. */
export const PPMD7_MIN_MEM_SIZE = 1 << 11;
/** Largest model 7z's header may declare. */
export const PPMD7_MAX_MEM_SIZE = 0xffffffff - 12 * 3;

/** A range decoder the model draws its symbols from. */
export interface PpmdRangeDecoder {
  /** The count in [0, total) the next symbol's interval holds (scales the range by total). */
  getThreshold(total: number): number;
  /** Consumes the interval [start, start + size) of the last threshold's total. */
  decode(start: number, size: number): void;
  /** One binary decision: 0 with probability size0 / total. */
  decodeBit(size0: number, total: number): number;
}

const UNIT = 12;
const MAX_FREQ = 124;
const INT_BITS = 7;
const PERIOD_BITS = 7;
const BIN_SCALE = 1 << (INT_BITS + PERIOD_BITS);
const NUM_INDEXES = 38;
const TOP = 1 << 24;

const EXP_ESCAPE = Uint8Array.of(25, 14, 9, 7, 5, 5, 4, 4, 4, 3, 3, 3, 2, 2, 2, 2);
const INIT_BIN_ESC = [0x3cdd, 0x1f3f, 0x59bf, 0x48f3, 0x64a1, 0x5abc, 0x6632, 0x6051];

// Tables that depend on nothing.
const I2U = new Uint8Array(NUM_INDEXES);
const U2I = new Uint8Array(128);
/** NS2Indx (256 entries) followed by NS2BSIndx (256): an index of -1 into the second reads the first's last. */
const NS_TABLES = new Uint8Array(512);
const NS2BS = 256;
const HB2FLAG = new Uint8Array(256);
{
  let k = 0;
  for (let i = 0; i < NUM_INDEXES; i++) {
    let step = i >= 12 ? 4 : (i >> 2) + 1;
    do U2I[k++] = i; while (--step);
    I2U[i] = k;
  }
  NS_TABLES[NS2BS] = 0;
  NS_TABLES[NS2BS + 1] = 2;
  NS_TABLES.fill(4, NS2BS + 2, NS2BS + 11);
  NS_TABLES.fill(6, NS2BS + 11, NS2BS + 256);
  let i = 0;
  for (; i < 3; i++) NS_TABLES[i] = i;
  for (let m = i, n = 1; i < 256; i++) {
    NS_TABLES[i] = m;
    if (--n === 0) n = ++m - 2;
  }
  HB2FLAG.fill(8, 0x40);
}

/** The PPMd var.H model with 7-Zip's sub-allocator, decoding side. */
export class Ppmd7 {
  private valid = false;
  private size = 0;
  private align = 0;
  private mem = new Uint8Array(0);
  private m16 = new Uint16Array(0);
  private m32 = new Uint32Array(0);

  // Model state (offsets into the block).
  private minContext = 0;
  private maxContext = 0;
  private foundState = 0;
  private orderFall = 0;
  private initEsc = 0;
  private prevSuccess = 0;
  private maxOrder = 0;
  private hiBitsFlag = 0;
  private runLength = 0;
  private initRL = 0;
  // Sub-allocator.
  private glueCount = 0;
  private loUnit = 0;
  private hiUnit = 0;
  private text = 0;
  private unitsStart = 0;
  private readonly freeList = new Uint32Array(NUM_INDEXES);
  // Secondary escape estimation: 25×16 contexts and the dummy one (index 400).
  private readonly seeSumm = new Uint16Array(401);
  private readonly seeShift = new Uint8Array(401);
  private readonly seeCount = new Uint8Array(401);
  private readonly binSumm = new Uint16Array(128 * 64);
  // Decoding scratch: 0 for the symbols an escape excluded, 0xff for the others; the candidate
  // states of an escape.
  private readonly mask = new Uint8Array(256);
  private readonly ps = new Uint32Array(256);
  private readonly chain = new Uint32Array(256);
  /** Set before `init` and when the model's own invariants fail: `decodeSymbol` then gives -2. */
  private broken = true;

  constructor(memSize: number) {
    this.alloc(memSize);
  }

  /**
   * (Re)allocates the model's block for `memSize` bytes (kept when the size is unchanged, as
   * 7-Zip does); false, and `ok` false, when the size is refused. `init` must follow.
   */
  alloc(memSize: number): boolean {
    if (this.valid && memSize === this.size) return true;
    this.valid = false;
    this.broken = true;
    this.mem = new Uint8Array(0); this.m16 = new Uint16Array(0); this.m32 = new Uint32Array(0);
    if (!Number.isInteger(memSize) || memSize < PPMD7_MIN_MEM_SIZE || memSize > PPMD7_MAX_MEM_SIZE) return false;
    const align = 4 - (memSize & 3);
    // 7-Zip allocates the alignment, the model and one guard unit (the glue list's head).
    const total = align + memSize + UNIT;
    if (total > PPMD7_MAX_MEMORY) return false;
    let buffer: ArrayBuffer;
    try {
      buffer = new ArrayBuffer((total + 3) & ~3);
    } catch {
      return false;
    }
    this.mem = new Uint8Array(buffer);
    this.m16 = new Uint16Array(buffer);
    this.m32 = new Uint32Array(buffer);
    this.size = memSize;
    this.align = align;
    this.valid = true;
    return true;
  }

  /** False when the memory size is refused (`decodeSymbol` then gives -2). */
  get ok(): boolean { return this.valid; }

  /** The model's memory size (0 when refused). */
  get memSize(): number { return this.valid ? this.size : 0; }

  /**
   * Starts a fresh model of order `maxOrder` (clamped to 2..64) in the current block. RAR calls it
   * for a block whose flags ask for a reset (after `alloc` with the block's memory size); a block
   * without reset keeps decoding with the same model through a new range decoder.
   */
  init(maxOrder: number): void {
    if (!this.valid) return;
    this.maxOrder = Math.max(PPMD7_MIN_ORDER, Math.min(PPMD7_MAX_ORDER, maxOrder | 0));
    this.broken = false;
    this.restartModel();
    this.seeShift[400] = PERIOD_BITS;
    this.seeSumm[400] = 0;
    this.seeCount[400] = 64;
  }

  // ---- Memory accessors -------------------------------------------------------------------------

  private succ(s: number): number {
    const h = s >>> 1;
    return (this.m16[h + 1]! | (this.m16[h + 2]! << 16)) >>> 0;
  }
  private setSucc(s: number, v: number): void {
    const h = s >>> 1;
    this.m16[h + 1] = v & 0xffff;
    this.m16[h + 2] = v >>> 16;
  }
  /** Copies the 6-byte state at `from` to `to`. */
  private copyState(to: number, from: number): void {
    const m16 = this.m16, a = to >>> 1, b = from >>> 1;
    m16[a] = m16[b]!; m16[a + 1] = m16[b + 1]!; m16[a + 2] = m16[b + 2]!;
  }
  private swapStates(x: number, y: number): void {
    const m16 = this.m16, a = x >>> 1, b = y >>> 1;
    for (let k = 0; k < 3; k++) { const t = m16[a + k]!; m16[a + k] = m16[b + k]!; m16[b + k] = t; }
  }
  private copyUnits(to: number, from: number, nu: number): void {
    const m32 = this.m32, t = to >>> 2, f = from >>> 2, n = nu * 3;
    if (n > 48) m32.copyWithin(t, f, f + n);
    else for (let k = 0; k < n; k++) m32[t + k] = m32[f + k]!;
  }

  // ---- Sub-allocator ----------------------------------------------------------------------------

  private insertNode(node: number, indx: number): void {
    this.m32[node >>> 2] = this.freeList[indx]!;
    this.freeList[indx] = node;
  }
  private removeNode(indx: number): number {
    const node = this.freeList[indx]!;
    this.freeList[indx] = this.m32[node >>> 2]!;
    return node;
  }
  private splitBlock(ptr: number, oldIndx: number, newIndx: number): void {
    const nu = I2U[oldIndx]! - I2U[newIndx]!;
    ptr += I2U[newIndx]! * UNIT;
    let i = U2I[nu - 1]!;
    if (I2U[i] !== nu) {
      const k = I2U[--i]!;
      this.insertNode(ptr + k * UNIT, nu - k - 1);
    }
    this.insertNode(ptr, i);
  }

  /** Merges adjacent free blocks and refills the free lists with them. */
  private glueFreeBlocks(): void {
    const m16 = this.m16, m32 = this.m32;
    // Node: stamp u16 @0 (0 = free), units u16 @2, next u32 @4, prev u32 @8.
    const head = this.align + this.size;
    let n = head;
    this.glueCount = 255;
    for (let i = 0; i < NUM_INDEXES; i++) {
      const nu = I2U[i]!;
      let next = this.freeList[i]!;
      this.freeList[i] = 0;
      while (next !== 0) {
        const node = next;
        m32[(node + 4) >>> 2] = n;
        m32[(n + 8) >>> 2] = next;
        n = next;
        next = m32[node >>> 2]!;
        m16[node >>> 1] = 0;
        m16[(node >>> 1) + 1] = nu;
      }
    }
    m16[head >>> 1] = 1;
    m32[(head + 4) >>> 2] = n;
    m32[(n + 8) >>> 2] = head;
    if (this.loUnit !== this.hiUnit) m16[this.loUnit >>> 1] = 1;

    while (n !== head) {
      const node = n;
      let nu = m16[(node >>> 1) + 1]!;
      for (;;) {
        const node2 = node + nu * UNIT;
        if (node2 + UNIT > this.mem.length) break;
        nu += m16[(node2 >>> 1) + 1]!;
        if (m16[node2 >>> 1] !== 0 || nu >= 0x10000) break;
        const prev2 = m32[(node2 + 8) >>> 2]!, next2 = m32[(node2 + 4) >>> 2]!;
        m32[(prev2 + 4) >>> 2] = next2;
        m32[(next2 + 8) >>> 2] = prev2;
        m16[(node >>> 1) + 1] = nu;
      }
      n = m32[(node + 4) >>> 2]!;
    }

    for (n = m32[(head + 4) >>> 2]!; n !== head;) {
      let node = n;
      const next = m32[(node + 4) >>> 2]!;
      let nu = m16[(node >>> 1) + 1]!;
      for (; nu > 128; nu -= 128, node += 128 * UNIT) this.insertNode(node, NUM_INDEXES - 1);
      let i = U2I[nu - 1]!;
      if (I2U[i] !== nu) {
        const k = I2U[--i]!;
        this.insertNode(node + k * UNIT, nu - k - 1);
      }
      this.insertNode(node, i);
      n = next;
    }
  }

  private allocUnitsRare(indx: number): number {
    if (this.glueCount === 0) {
      this.glueFreeBlocks();
      if (this.freeList[indx] !== 0) return this.removeNode(indx);
    }
    let i = indx;
    do {
      if (++i === NUM_INDEXES) {
        const numBytes = I2U[indx]! * UNIT;
        this.glueCount = (this.glueCount - 1) >>> 0;
        if (this.unitsStart - this.text > numBytes) return (this.unitsStart -= numBytes);
        return 0;
      }
    } while (this.freeList[i] === 0);
    const r = this.removeNode(i);
    this.splitBlock(r, i, indx);
    return r;
  }

  private allocUnits(indx: number): number {
    if (this.freeList[indx] !== 0) return this.removeNode(indx);
    const numBytes = I2U[indx]! * UNIT;
    if (numBytes <= this.hiUnit - this.loUnit) {
      const r = this.loUnit;
      this.loUnit += numBytes;
      return r;
    }
    return this.allocUnitsRare(indx);
  }

  private shrinkUnits(oldPtr: number, oldNU: number, newNU: number): number {
    const i0 = U2I[oldNU - 1]!, i1 = U2I[newNU - 1]!;
    if (i0 === i1) return oldPtr;
    if (this.freeList[i1] !== 0) {
      const ptr = this.removeNode(i1);
      this.copyUnits(ptr, oldPtr, newNU);
      this.insertNode(oldPtr, i0);
      return ptr;
    }
    this.splitBlock(oldPtr, i0, i1);
    return oldPtr;
  }

  // ---- Model ------------------------------------------------------------------------------------

  private restartModel(): void {
    const mem = this.mem, m16 = this.m16, m32 = this.m32;
    this.freeList.fill(0);
    this.text = this.align;
    this.hiUnit = this.text + this.size;
    this.loUnit = this.unitsStart = this.hiUnit - Math.floor(this.size / 8 / UNIT) * 7 * UNIT;
    this.glueCount = 0;

    this.orderFall = this.maxOrder;
    this.runLength = this.initRL = -(this.maxOrder < 12 ? this.maxOrder : 12) - 1;
    this.prevSuccess = 0;

    this.hiUnit -= UNIT;
    const c = this.minContext = this.maxContext = this.hiUnit;
    m32[(c >>> 2) + 2] = 0;
    m16[c >>> 1] = 256;
    m16[(c >>> 1) + 1] = 257;
    const stats = this.foundState = this.loUnit;
    this.loUnit += 128 * UNIT;
    m32[(c >>> 2) + 1] = stats;
    for (let i = 0; i < 256; i++) {
      const s = stats + i * 6;
      mem[s] = i;
      mem[s + 1] = 1;
      m16[(s >>> 1) + 1] = 0;
      m16[(s >>> 1) + 2] = 0;
    }
    for (let i = 0; i < 128; i++) {
      for (let k = 0; k < 8; k++) {
        const val = BIN_SCALE - Math.floor(INIT_BIN_ESC[k]! / (i + 2));
        for (let m = 0; m < 64; m += 8) this.binSumm[i * 64 + k + m] = val;
      }
    }
    for (let i = 0; i < 25; i++) {
      for (let k = 0; k < 16; k++) {
        const j = i * 16 + k;
        this.seeShift[j] = PERIOD_BITS - 4;
        this.seeSumm[j] = (5 * i + 10) << (PERIOD_BITS - 4);
        this.seeCount[j] = 4;
      }
    }
  }

  /** Finds the state of `sym` in the multi-state context `c`; -1 when absent (a defect). */
  private findState(c: number, sym: number): number {
    const mem = this.mem;
    const n = this.m16[c >>> 1]!;
    let s = this.m32[(c >>> 2) + 1]!;
    for (let k = 0; k < n; k++, s += 6) if (mem[s] === sym) return s;
    this.broken = true;
    return -1;
  }

  /** Builds the chain of order+1 contexts for the found symbol; 0 when memory ran out. */
  private createSuccessors(skip: boolean): number {
    const mem = this.mem, m16 = this.m16, m32 = this.m32, chain = this.chain;
    let c = this.minContext;
    const upBranch = this.succ(this.foundState);
    const fSym = mem[this.foundState]!;
    let numPs = 0;
    if (!skip) chain[numPs++] = this.foundState;
    while (m32[(c >>> 2) + 2] !== 0) {
      c = m32[(c >>> 2) + 2]!;
      let s: number;
      if (m16[c >>> 1] !== 1) {
        s = this.findState(c, fSym);
        if (s < 0) return 0;
      } else s = c + 2;
      const successor = this.succ(s);
      if (successor !== upBranch) {
        c = successor;
        if (numPs === 0) return c;
        break;
      }
      if (numPs >= 255) { this.broken = true; return 0; }
      chain[numPs++] = s;
    }
    const upSym = mem[upBranch] ?? 0;
    const upSucc = upBranch + 1;
    let upFreq: number;
    if (m16[c >>> 1] === 1) upFreq = mem[c + 3]!;
    else {
      const s = this.findState(c, upSym);
      if (s < 0) return 0;
      const cf = mem[s + 1]! - 1;
      const s0 = (m16[(c >>> 1) + 1]! - m16[c >>> 1]! - cf) >>> 0;
      let add: number;
      if (2 * cf <= s0) add = 5 * cf > s0 ? 1 : 0;
      else add = s0 === 0 ? 0 : Math.floor(((2 * cf + 3 * s0 - 1) >>> 0) / (2 * s0));
      upFreq = (1 + add) & 0xff;
    }
    do {
      let c1: number;
      if (this.hiUnit !== this.loUnit) c1 = this.hiUnit -= UNIT;
      else if (this.freeList[0] !== 0) c1 = this.removeNode(0);
      else {
        c1 = this.allocUnitsRare(0);
        if (c1 === 0) return 0;
      }
      m16[c1 >>> 1] = 1;
      mem[c1 + 2] = upSym;
      mem[c1 + 3] = upFreq;
      this.setSucc(c1 + 2, upSucc);
      m32[(c1 >>> 2) + 2] = c;
      this.setSucc(chain[--numPs]!, c1);
      c = c1;
    } while (numPs !== 0);
    return c;
  }

  private updateModel(): void {
    const mem = this.mem, m16 = this.m16, m32 = this.m32;
    const fs = this.foundState;
    const fSym = mem[fs]!;
    let fSucc = this.succ(fs);
    const minC = this.minContext;

    if (mem[fs + 1]! < MAX_FREQ / 4 && m32[(minC >>> 2) + 2] !== 0) {
      const c = m32[(minC >>> 2) + 2]!;
      if (m16[c >>> 1] === 1) {
        if (mem[c + 3]! < 32) mem[c + 3]!++;
      } else {
        let s = m32[(c >>> 2) + 1]!;
        if (mem[s] !== fSym) {
          s = this.findState(c, fSym);
          if (s < 0) return;
          if (mem[s + 1]! >= mem[s - 5]!) {
            this.swapStates(s, s - 6);
            s -= 6;
          }
        }
        if (mem[s + 1]! < MAX_FREQ - 9) {
          mem[s + 1] = mem[s + 1]! + 2;
          m16[(c >>> 1) + 1] = m16[(c >>> 1) + 1]! + 2;
        }
      }
    }

    if (this.orderFall === 0) {
      const c = this.createSuccessors(true);
      this.minContext = this.maxContext = c;
      if (c === 0) { this.restartModel(); return; }
      this.setSucc(this.foundState, c);
      return;
    }

    mem[this.text++] = fSym;
    let successor = this.text;
    if (this.text >= this.unitsStart) { this.restartModel(); return; }

    if (fSucc !== 0) {
      if (fSucc <= successor) {
        const cs = this.createSuccessors(false);
        if (cs === 0) { this.restartModel(); return; }
        fSucc = cs;
      }
      if (--this.orderFall === 0) {
        successor = fSucc;
        if (this.maxContext !== this.minContext) this.text--;
      }
    } else {
      this.setSucc(fs, successor);
      fSucc = this.minContext;
    }

    const ns = m16[minC >>> 1]!;
    const s0 = (m16[(minC >>> 1) + 1]! - ns - (mem[fs + 1]! - 1)) >>> 0;
    const fFreq = mem[fs + 1]!;

    for (let c = this.maxContext; c !== minC; c = m32[(c >>> 2) + 2]!) {
      const ch = c >>> 1;
      const ns1 = m16[ch]!;
      if (ns1 !== 1) {
        if ((ns1 & 1) === 0) {
          const oldNU = ns1 >>> 1;
          const i = U2I[oldNU - 1]!;
          if (i !== U2I[oldNU]!) {
            const ptr = this.allocUnits(i + 1);
            if (ptr === 0) { this.restartModel(); return; }
            const oldPtr = m32[(c >>> 2) + 1]!;
            this.copyUnits(ptr, oldPtr, oldNU);
            this.insertNode(oldPtr, i);
            m32[(c >>> 2) + 1] = ptr;
          }
        }
        const sf = m16[ch + 1]!;
        m16[ch + 1] = sf + (2 * ns1 < ns ? 1 : 0) + 2 * ((4 * ns1 <= ns ? 1 : 0) & (sf <= 8 * ns1 ? 1 : 0));
      } else {
        const s = this.allocUnits(0);
        if (s === 0) { this.restartModel(); return; }
        this.copyState(s, c + 2);
        m32[(c >>> 2) + 1] = s;
        const f = mem[s + 1]!;
        mem[s + 1] = f < MAX_FREQ / 4 - 1 ? f << 1 : MAX_FREQ - 4;
        m16[ch + 1] = mem[s + 1]! + this.initEsc + (ns > 3 ? 1 : 0);
      }
      const summ = m16[ch + 1]!;
      let cf = 2 * fFreq * (summ + 6);
      const sf = (s0 + summ) >>> 0;
      if (cf < Math.imul(6, sf) >>> 0) {
        cf = 1 + (cf > sf ? 1 : 0) + (cf >= Math.imul(4, sf) >>> 0 ? 1 : 0);
        m16[ch + 1] = summ + 3;
      } else {
        cf = 4 + (cf >= Math.imul(9, sf) >>> 0 ? 1 : 0) + (cf >= Math.imul(12, sf) >>> 0 ? 1 : 0) + (cf >= Math.imul(15, sf) >>> 0 ? 1 : 0);
        m16[ch + 1] = summ + cf;
      }
      const s = m32[(c >>> 2) + 1]! + ns1 * 6;
      this.setSucc(s, successor);
      mem[s] = fSym;
      mem[s + 1] = cf;
      m16[ch] = ns1 + 1;
    }
    this.maxContext = this.minContext = fSucc;
  }

  private rescale(): void {
    const mem = this.mem, m16 = this.m16, m32 = this.m32;
    const mc = this.minContext;
    const stats = m32[(mc >>> 2) + 1]!;
    let s = this.foundState;
    // The found state moves to the front.
    {
      const h = s >>> 1;
      const t0 = m16[h]!, t1 = m16[h + 1]!, t2 = m16[h + 2]!;
      for (; s !== stats; s -= 6) this.copyState(s, s - 6);
      const g = s >>> 1;
      m16[g] = t0; m16[g + 1] = t1; m16[g + 2] = t2;
    }
    let escFreq = (m16[(mc >>> 1) + 1]! - mem[s + 1]!) >>> 0;
    mem[s + 1] = mem[s + 1]! + 4;
    const adder = this.orderFall !== 0 ? 1 : 0;
    mem[s + 1] = (mem[s + 1]! + adder) >>> 1;
    let sumFreq = mem[s + 1]!;
    const numStats = m16[mc >>> 1]!;
    let i = numStats - 1;
    if (i <= 0) { this.broken = true; return; }
    do {
      s += 6;
      escFreq = (escFreq - mem[s + 1]!) >>> 0;
      mem[s + 1] = (mem[s + 1]! + adder) >>> 1;
      sumFreq += mem[s + 1]!;
      if (mem[s + 1]! > mem[s - 5]!) {
        let s1 = s;
        const h = s1 >>> 1;
        const t0 = m16[h]!, t1 = m16[h + 1]!, t2 = m16[h + 2]!;
        const tf = mem[s1 + 1]!;
        do this.copyState(s1, s1 - 6);
        while ((s1 -= 6) !== stats && tf > mem[s1 - 5]!);
        const g = s1 >>> 1;
        m16[g] = t0; m16[g + 1] = t1; m16[g + 2] = t2;
      }
    } while (--i);

    if (mem[s + 1] === 0) {
      do i++; while (mem[(s -= 6) + 1] === 0);
      escFreq = (escFreq + i) >>> 0;
      const left = numStats - i;
      m16[mc >>> 1] = left;
      if (left === 1) {
        const sym = mem[stats]!;
        let freq = mem[stats + 1]!;
        const succ = this.succ(stats);
        do {
          freq -= freq >>> 1;
          escFreq >>>= 1;
        } while (escFreq > 1);
        this.insertNode(stats, U2I[((numStats + 1) >>> 1) - 1]!);
        const one = this.foundState = mc + 2;
        mem[one] = sym;
        mem[one + 1] = freq;
        this.setSucc(one, succ);
        return;
      }
      const n0 = (numStats + 1) >>> 1, n1 = (left + 1) >>> 1;
      if (n0 !== n1) m32[(mc >>> 2) + 1] = this.shrinkUnits(stats, n0, n1);
    }
    m16[(mc >>> 1) + 1] = sumFreq + escFreq - (escFreq >>> 1);
    this.foundState = m32[(mc >>> 2) + 1]!;
  }

  /** The SEE context for an escape from the current context with `numMasked` symbols masked. */
  private makeEscFreq(numMasked: number): number {
    const m16 = this.m16;
    const mc = this.minContext;
    const ns = m16[mc >>> 1]!;
    if (ns === 256) return 400;
    const nonMasked = ns - numMasked;
    const suffix = this.m32[(mc >>> 2) + 2]!;
    const sufNs = m16[suffix >>> 1]!;
    return NS_TABLES[(nonMasked - 1) & 0xff]! * 16 +
      (nonMasked < ((sufNs - ns) >>> 0) ? 1 : 0) +
      2 * (m16[(mc >>> 1) + 1]! < 11 * ns ? 1 : 0) +
      4 * (numMasked > nonMasked ? 1 : 0) +
      this.hiBitsFlag;
  }

  private nextContext(): void {
    const c = this.succ(this.foundState);
    if (this.orderFall === 0 && c > this.text) this.minContext = this.maxContext = c;
    else this.updateModel();
  }

  /** Decodes one symbol: 0..255, -1 at the end mark (escape from the root), -2 on a data error. */
  decodeSymbol(rc: PpmdRangeDecoder): number {
    if (!this.valid || this.broken) return -2;
    const mem = this.mem, m16 = this.m16, m32 = this.m32, mask = this.mask;
    let mc = this.minContext;
    if (m16[mc >>> 1] !== 1) {
      let s = m32[(mc >>> 2) + 1]!;
      const summ = m16[(mc >>> 1) + 1]!;
      const count = rc.getThreshold(summ);
      let hiCnt = mem[s + 1]!;
      if (count < hiCnt) {
        rc.decode(0, hiCnt);
        this.foundState = s;
        const symbol = mem[s]!;
        // Update1_0
        this.prevSuccess = 2 * hiCnt > summ ? 1 : 0;
        this.runLength += this.prevSuccess;
        m16[(mc >>> 1) + 1] = summ + 4;
        mem[s + 1] = hiCnt + 4;
        if (mem[s + 1]! > MAX_FREQ) this.rescale();
        this.nextContext();
        return this.broken ? -2 : symbol;
      }
      this.prevSuccess = 0;
      const ns = m16[mc >>> 1]!;
      for (let i = ns - 1; i > 0; i--) {
        s += 6;
        const f = mem[s + 1]!;
        if ((hiCnt += f) > count) {
          rc.decode(hiCnt - f, f);
          this.foundState = s;
          const symbol = mem[s]!;
          // Update1
          mem[s + 1] = f + 4;
          m16[(mc >>> 1) + 1] = summ + 4;
          if (mem[s + 1]! > mem[s - 5]!) {
            this.swapStates(s, s - 6);
            this.foundState = s -= 6;
            if (mem[s + 1]! > MAX_FREQ) this.rescale();
          }
          this.nextContext();
          return this.broken ? -2 : symbol;
        }
      }
      if (count >= summ) return -2;
      this.hiBitsFlag = HB2FLAG[mem[this.foundState]!]!;
      rc.decode(hiCnt, summ - hiCnt);
      mask.fill(0xff);
      const first = m32[(mc >>> 2) + 1]!;
      for (let k = 0; k < ns; k++) mask[mem[first + k * 6]!] = 0;
    } else {
      const one = mc + 2;
      const suffix = m32[(mc >>> 2) + 2]!;
      const hb = this.hiBitsFlag = HB2FLAG[mem[this.foundState]!]!;
      const idx = ((mem[one + 1]! - 1) & 0x7f) * 64 +
        ((this.prevSuccess + NS_TABLES[NS2BS - 1 + Math.min(m16[suffix >>> 1]!, 256)]! + hb +
          2 * HB2FLAG[mem[one]!]! + ((this.runLength >> 26) & 0x20)) & 63);
      const prob = this.binSumm[idx]!;
      if (rc.decodeBit(prob, BIN_SCALE) === 0) {
        this.binSumm[idx] = prob + (1 << INT_BITS) - ((prob + 32) >>> 7);
        this.foundState = one;
        const symbol = mem[one]!;
        // UpdateBin
        const f = mem[one + 1]!;
        mem[one + 1] = f + (f < 128 ? 1 : 0);
        this.prevSuccess = 1;
        this.runLength++;
        this.nextContext();
        return this.broken ? -2 : symbol;
      }
      const p1 = (prob - ((prob + 32) >>> 7)) & 0xffff;
      this.binSumm[idx] = p1;
      this.initEsc = EXP_ESCAPE[p1 >>> 10]!;
      mask.fill(0xff);
      mask[mem[one]!] = 0;
      this.prevSuccess = 0;
    }

    const ps = this.ps;
    for (;;) {
      const numMasked = m16[mc >>> 1]!;
      do {
        this.orderFall++;
        const suffix = m32[(mc >>> 2) + 2]!;
        if (suffix === 0) return -1;
        mc = this.minContext = suffix;
      } while (m16[mc >>> 1] === numMasked);
      const ns = m16[mc >>> 1]!;
      let hiCnt = 0;
      let s = m32[(mc >>> 2) + 1]!;
      const num = ns - numMasked;
      let i = 0;
      for (let k = 0; k < ns && i !== num; k++, s += 6) {
        const keep = mask[mem[s]!]!;
        hiCnt += mem[s + 1]! & keep;
        ps[i] = s;
        i += keep & 1;
      }
      if (i !== num) { this.broken = true; return -2; }
      const see = this.makeEscFreq(numMasked);
      let escFreq: number;
      if (see === 400) escFreq = 1;
      else {
        const r = this.seeSumm[see]! >>> this.seeShift[see]!;
        this.seeSumm[see] = this.seeSumm[see]! - r;
        escFreq = r + (r === 0 ? 1 : 0);
      }
      const freqSum = escFreq + hiCnt;
      const count = rc.getThreshold(freqSum);
      if (count < hiCnt) {
        let k = 0;
        let acc = 0;
        let st = ps[0]!;
        for (;;) {
          st = ps[k]!;
          acc += mem[st + 1]!;
          if (acc > count) break;
          k++;
        }
        const f = mem[st + 1]!;
        rc.decode(acc - f, f);
        // See update
        if (this.seeShift[see]! < PERIOD_BITS && --this.seeCount[see]! === 0) {
          this.seeSumm[see] = this.seeSumm[see]! << 1;
          this.seeCount[see] = 3 << this.seeShift[see]!++;
        }
        this.foundState = st;
        const symbol = mem[st]!;
        // Update2
        m16[(mc >>> 1) + 1] = m16[(mc >>> 1) + 1]! + 4;
        mem[st + 1] = f + 4;
        if (mem[st + 1]! > MAX_FREQ) this.rescale();
        this.runLength = this.initRL;
        this.updateModel();
        return this.broken ? -2 : symbol;
      }
      if (count >= freqSum) return -2;
      rc.decode(hiCnt, freqSum - hiCnt);
      this.seeSumm[see] = this.seeSumm[see]! + freqSum;
      for (let k = 0; k < i; k++) mask[mem[ps[k]!]!] = 0;
    }
  }

}

/** 7z's range decoder over `input` from `offset`: zeros past the end, noted in `extra`. */
class RangeDecoder7z implements PpmdRangeDecoder {
  range = 0xffffffff;
  code = 0;
  pos: number;
  /** Set when a byte past the end of the input was needed. */
  extra = false;
  ok: boolean;
  constructor(private readonly input: Uint8Array, offset: number) {
    this.pos = offset;
    const first = this.next();
    for (let i = 0; i < 4; i++) this.code = ((this.code << 8) | this.next()) >>> 0;
    this.ok = first === 0 && this.code !== 0xffffffff;
  }
  private next(): number {
    if (this.pos < this.input.length) return this.input[this.pos++]!;
    this.extra = true;
    return 0;
  }
  getThreshold(total: number): number {
    this.range = Math.floor(this.range / total) >>> 0;
    return this.range === 0 ? 0xffffffff : Math.floor(this.code / this.range) >>> 0;
  }
  decode(start: number, size: number): void {
    this.code = (this.code - Math.imul(start, this.range)) >>> 0;
    this.range = Math.imul(this.range, size) >>> 0;
    this.normalize();
  }
  decodeBit(size0: number, total: number): number {
    // 7z's binary decisions always use 2^14 as the total.
    const bound = total === BIN_SCALE ? Math.imul(this.range >>> 14, size0) >>> 0 : Math.imul(Math.floor(this.range / total), size0) >>> 0;
    let bit: number;
    if (this.code < bound) { this.range = bound; bit = 0; }
    else { this.code = (this.code - bound) >>> 0; this.range = (this.range - bound) >>> 0; bit = 1; }
    this.normalize();
    return bit;
  }
  private normalize(): void {
    // 7-Zip shifts at most twice (enough for any interval the model gives).
    if (this.range < TOP) {
      this.code = ((this.code << 8) | this.next()) >>> 0;
      this.range = (this.range << 8) >>> 0;
      if (this.range < TOP) {
        this.code = ((this.code << 8) | this.next()) >>> 0;
        this.range = (this.range << 8) >>> 0;
      }
    }
  }
  /** The stream ended as the encoder ends it (the code register back to zero). */
  finishedOk(): boolean { return this.code === 0; }
}

/**
 * 7z's PPMd range decoder over `input` from `offset`. `ok` is false when the stream's first byte
 * is not zero or its first code is invalid; `pos` is the next byte to read; bytes past the end
 * read as zeros (`extra` then true).
 */
export function create7zRangeDecoder(input: Uint8Array, offset: number): PpmdRangeDecoder & { readonly ok: boolean; readonly pos: number; readonly extra: boolean; finishedOk(): boolean } {
  return new RangeDecoder7z(input, offset);
}

/** RAR 3's range decoder (the carry-less coder of PPMd var.H with its "bottom" rule). */
class RangeDecoderRar implements PpmdRangeDecoder {
  range = 0xffffffff;
  code = 0;
  low = 0;
  pos: number;
  /** Set when a byte past the end of the input was needed. */
  extra = false;
  /** False when the first code is invalid (libarchive then refuses the block; UnRAR goes on). */
  ok: boolean;
  constructor(private readonly input: Uint8Array, offset: number) {
    this.pos = offset;
    for (let i = 0; i < 4; i++) this.code = ((this.code << 8) | this.next()) >>> 0;
    this.ok = this.code !== 0xffffffff;
  }
  private next(): number {
    if (this.pos < this.input.length) return this.input[this.pos++]!;
    this.extra = true;
    return 0;
  }
  getThreshold(total: number): number {
    this.range = Math.floor(this.range / total) >>> 0;
    return this.range === 0 ? 0xffffffff : Math.floor(((this.code - this.low) >>> 0) / this.range) >>> 0;
  }
  decode(start: number, size: number): void {
    this.low = (this.low + Math.imul(start, this.range)) >>> 0;
    this.range = Math.imul(this.range, size) >>> 0;
    this.normalize();
  }
  decodeBit(size0: number, total: number): number {
    if (this.getThreshold(total) < size0) { this.decode(0, size0); return 0; }
    this.decode(size0, total - size0);
    return 1;
  }
  private normalize(): void {
    const BOTTOM = 0x8000;
    for (let guard = 0; guard < 8; guard++) {
      if (((this.low ^ ((this.low + this.range) >>> 0)) >>> 0) >= TOP) {
        if (this.range >= BOTTOM) return;
        this.range = (-this.low >>> 0) & (BOTTOM - 1);
      }
      this.code = ((this.code << 8) | this.next()) >>> 0;
      this.range = (this.range << 8) >>> 0;
      this.low = (this.low << 8) >>> 0;
    }
  }
}

/**
 * RAR 3's PPMd range decoder over `input` from `offset` (the byte after the block's PPMd
 * parameters). `pos` is the next byte to read; bytes past the end read as zeros (`extra` true).
 */
export function createRarRangeDecoder(input: Uint8Array, offset: number): PpmdRangeDecoder & { readonly pos: number; readonly extra: boolean; readonly ok: boolean } {
  return new RangeDecoderRar(input, offset);
}

/**
 * A 7z PPMd stream → exactly `outSize` bytes, as ClamAV's 7-Zip decoder (SzDecodePpmd) decodes it.
 *
 * `props`: the coder's 5 properties (order, memory size LE32), refused outside order 2..64 and
 * memory 2 KiB..4 GiB-36 (unsupported) and above ClamAV's allocation bound (memory error).
 * `inSize`: the pack stream's size when `input` runs on past it (7-Zip's decoder reads on into the
 * rest of the archive when the stream needs more bytes than its pack size, then reports an error);
 * defaults to the whole input. `data` holds the bytes decoded before an error; `ok` is true when
 * all `outSize` bytes were decoded, exactly `inSize` bytes were used and the coder ended clean.
 */
export function ppmd7Decode7z(input: Uint8Array, props: Uint8Array, outSize: number, inSize = input.length): { data: Uint8Array; ok: boolean; error?: string } {
  const empty = new Uint8Array(0);
  if (props.length !== 5) return { data: empty, ok: false, error: 'unsupported properties' };
  const order = props[0]!;
  const memSize = (props[1]! | (props[2]! << 8) | (props[3]! << 16) | (props[4]! << 24)) >>> 0;
  if (order < PPMD7_MIN_ORDER || order > PPMD7_MAX_ORDER || memSize < PPMD7_MIN_MEM_SIZE || memSize > PPMD7_MAX_MEM_SIZE) {
    return { data: empty, ok: false, error: 'unsupported properties' };
  }
  const model = new Ppmd7(memSize);
  if (!model.ok) return { data: empty, ok: false, error: 'memory' };
  model.init(order);
  const rc = new RangeDecoder7z(input, 0);
  if (!rc.ok || rc.extra) return { data: empty, ok: false, error: 'data error' };
  let out: Uint8Array;
  try {
    out = new Uint8Array(outSize);
  } catch {
    return { data: empty, ok: false, error: 'memory' };
  }
  let i = 0;
  for (; i < outSize; i++) {
    const sym = model.decodeSymbol(rc);
    if (rc.extra || sym < 0) break;
    out[i] = sym;
  }
  if (i !== outSize) return { data: out.subarray(0, i), ok: false, error: rc.extra ? 'truncated' : 'data error' };
  if (rc.pos !== inSize || !rc.finishedOk()) return { data: out, ok: false, error: 'data error' };
  return { data: out, ok: true };
}
