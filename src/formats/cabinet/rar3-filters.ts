/**
 * RAR 2.9/3.x filters: recognising a filter's VM program, reading its parameters, and running the
 * standard filters (E8, E8E9, ITANIUM, DELTA, RGB, AUDIO) over the filter memory.
 *
 * In: the VM program bytes of a filter (recognised by their CRC-32 and length, after the one-byte
 * XOR checksum in front of them is checked), the seven initial registers, and the block copied into
 * `mem` (0x40000 bytes plus 4 of slack). Out: where the filtered block lies in `mem` (offset and
 * size). Why: RAR 4 archives carry filters as programs for a virtual machine, but every archiver
 * only ever emitted these six; ClamAV's unrar (UnRAR 5+) recognises exactly these and treats any
 * other program as a filter whose output is empty (the block is dropped from the output), which is
 * what is done here too. A standard filter whose parameters are out of range leaves the block
 * unfiltered.
 */
import { crc32 } from '../../core/crc32.js';

export const VM_MEMSIZE = 0x40000;
export const VM_MEMMASK = VM_MEMSIZE - 1;

export const FLT_NONE = 0;
export const FLT_E8 = 1;
export const FLT_E8E9 = 2;
export const FLT_ITANIUM = 3;
export const FLT_RGB = 4;
export const FLT_AUDIO = 5;
export const FLT_DELTA = 6;

const STANDARD: ReadonlyArray<readonly [number, number, number]> = [
  [53, 0xad576887, FLT_E8],
  [57, 0x3cd7e57e, FLT_E8E9],
  [120, 0x3769893f, FLT_ITANIUM],
  [29, 0x0e06077d, FLT_DELTA],
  [149, 0x1c2c5dc8, FLT_RGB],
  [216, 0xbc85e701, FLT_AUDIO],
];

/** The standard filter a VM program is, or FLT_NONE (bad checksum, unknown program). */
export function recogniseFilter(code: Uint8Array): number {
  if (code.length === 0) return FLT_NONE;
  let x = 0;
  for (let i = 1; i < code.length; i++) x ^= code[i]!;
  if (x !== code[0]) return FLT_NONE;
  const c = crc32(code);
  for (const [len, crc, type] of STANDARD) if (len === code.length && crc === c) return type;
  return FLT_NONE;
}

/** MSB-first bit reader over a filter record (zero beyond its end). */
export class VmBits {
  buf: Uint8Array;
  pos = 0;
  constructor(code: Uint8Array) {
    this.buf = new Uint8Array(code.length + 8);
    this.buf.set(code);
  }
  get16(): number {
    const i = this.pos >>> 3;
    const b = this.buf;
    if (i + 2 >= b.length) {
      const v = ((i < b.length ? b[i]! : 0) << 16) | ((i + 1 < b.length ? b[i + 1]! : 0) << 8) | (i + 2 < b.length ? b[i + 2]! : 0);
      return (v >>> (8 - (this.pos & 7))) & 0xffff;
    }
    return ((((b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!) >>> (8 - (this.pos & 7))) & 0xffff);
  }
  skip(n: number): void { this.pos += n; }
  /** RarVM's variable-length number. */
  readData(): number {
    const d = this.get16();
    switch (d & 0xc000) {
      case 0:
        this.skip(6);
        return (d >>> 10) & 0xf;
      case 0x4000:
        if ((d & 0x3c00) === 0) {
          this.skip(14);
          return (0xffffff00 | ((d >>> 2) & 0xff)) >>> 0;
        }
        this.skip(10);
        return (d >>> 6) & 0xff;
      case 0x8000: {
        this.skip(2);
        const v = this.get16();
        this.skip(16);
        return v;
      }
      default: {
        this.skip(2);
        const hi = this.get16();
        this.skip(16);
        const lo = this.get16();
        this.skip(16);
        return ((hi << 16) | lo) >>> 0;
      }
    }
  }
}

const rd32 = (m: Uint8Array, o: number): number => (m[o]! | (m[o + 1]! << 8) | (m[o + 2]! << 16) | (m[o + 3]! << 24)) >>> 0;
const wr32 = (m: Uint8Array, o: number, v: number): void => {
  m[o] = v & 0xff; m[o + 1] = (v >>> 8) & 0xff; m[o + 2] = (v >>> 16) & 0xff; m[o + 3] = (v >>> 24) & 0xff;
};

function itaniumGet(m: Uint8Array, o: number, bitPos: number, count: number): number {
  const a = o + (bitPos >>> 3);
  const v = rd32(m, a) >>> (bitPos & 7);
  return (v & (0xffffffff >>> (32 - count))) >>> 0;
}

function itaniumSet(m: Uint8Array, o: number, field: number, bitPos: number, count: number): void {
  const a = o + (bitPos >>> 3);
  const sh = bitPos & 7;
  let and = ~((0xffffffff >>> (32 - count)) << sh) >>> 0;
  let f = (field << sh) >>> 0;
  for (let i = 0; i < 4; i++) {
    m[a + i] = (m[a + i]! & and) | (f & 0xff);
    and = ((and >>> 8) | 0xff000000) >>> 0;
    f >>>= 8;
  }
}

const ITANIUM_MASKS = [4, 4, 6, 6, 0, 0, 7, 7, 4, 4, 0, 0, 4, 4, 0, 0];

/** Runs a standard filter in place; false when its parameters are out of range (nothing changed). */
function runStandard(type: number, mem: Uint8Array, r: Uint32Array): boolean {
  switch (type) {
    case FLT_E8:
    case FLT_E8E9: {
      const size = r[4]!;
      const fileOffset = r[6]!;
      if (size > VM_MEMSIZE || size < 4) return false;
      const cmp2 = type === FLT_E8E9 ? 0xe9 : 0xe8;
      const FILE_SIZE = 0x1000000;
      for (let p = 0; p < size - 4;) {
        const c = mem[p++]!;
        if (c === 0xe8 || c === cmp2) {
          const offset = (p + fileOffset) >>> 0;
          const addr = rd32(mem, p);
          if (addr & 0x80000000) {
            if (((addr + offset) & 0x80000000) === 0) wr32(mem, p, (addr + FILE_SIZE) >>> 0);
          } else if (((addr - FILE_SIZE) & 0x80000000) !== 0) {
            wr32(mem, p, (addr - offset) >>> 0);
          }
          p += 4;
        }
      }
      return true;
    }
    case FLT_ITANIUM: {
      const size = r[4]!;
      if (size > VM_MEMSIZE || size < 21) return false;
      let fileOffset = r[6]! >>> 4;
      for (let p = 0; p < size - 21; p += 16, fileOffset++) {
        const b = (mem[p]! & 0x1f) - 0x10;
        if (b < 0) continue;
        const mask = ITANIUM_MASKS[b]!;
        if (mask === 0) continue;
        for (let i = 0; i <= 2; i++) {
          if (!(mask & (1 << i))) continue;
          const start = i * 41 + 5;
          if (itaniumGet(mem, p, start + 37, 4) === 5) {
            const off = itaniumGet(mem, p, start + 13, 20);
            itaniumSet(mem, p, (off - fileOffset) & 0xfffff, start + 13, 20);
          }
        }
      }
      return true;
    }
    case FLT_DELTA: {
      const size = r[4]!;
      const channels = r[0]!;
      if (size > VM_MEMSIZE / 2 || channels > 1024 || channels === 0) return false;
      const border = size * 2;
      let src = 0;
      for (let ch = 0; ch < channels; ch++) {
        let prev = 0;
        for (let d = size + ch; d < border; d += channels) {
          prev = (prev - mem[src++]!) & 0xff;
          mem[d] = prev;
        }
      }
      return true;
    }
    case FLT_RGB: {
      const size = r[4]!;
      const width = (r[0]! - 3) >>> 0;
      const posR = r[1]!;
      if (size > VM_MEMSIZE / 2 || size < 3 || width > size || posR > 2) return false;
      let src = 0;
      const dst = size;
      for (let ch = 0; ch < 3; ch++) {
        let prev = 0;
        for (let i = ch; i < size; i += 3) {
          let pred: number;
          if (i >= width + 3) {
            const up = dst + i - width;
            const upper = mem[up]!;
            const upperLeft = mem[up - 3]!;
            pred = prev + upper - upperLeft;
            const pa = Math.abs(pred - prev);
            const pb = Math.abs(pred - upper);
            const pc = Math.abs(pred - upperLeft);
            if (pa <= pb && pa <= pc) pred = prev;
            else if (pb <= pc) pred = upper;
            else pred = upperLeft;
          } else {
            pred = prev;
          }
          prev = (pred - mem[src++]!) & 0xff;
          mem[dst + i] = prev;
        }
      }
      for (let i = posR, border = size - 2; i < border; i += 3) {
        const g = mem[dst + i + 1]!;
        mem[dst + i] = (mem[dst + i]! + g) & 0xff;
        mem[dst + i + 2] = (mem[dst + i + 2]! + g) & 0xff;
      }
      return true;
    }
    case FLT_AUDIO: {
      const size = r[4]!;
      const channels = r[0]!;
      if (size > VM_MEMSIZE / 2 || channels > 128 || channels === 0) return false;
      let src = 0;
      const dst = size;
      const dif = new Int32Array(7);
      for (let ch = 0; ch < channels; ch++) {
        let prevByte = 0, prevDelta = 0, d1 = 0, d2 = 0, d3 = 0, k1 = 0, k2 = 0, k3 = 0;
        dif.fill(0);
        for (let i = ch, count = 0; i < size; i += channels, count++) {
          d3 = d2;
          d2 = prevDelta - d1;
          d1 = prevDelta;
          let pred = (8 * prevByte + k1 * d1 + k2 * d2 + k3 * d3) >>> 3 & 0xff;
          const cur = mem[src++]!;
          pred = (pred - cur) & 0xff;
          mem[dst + i] = pred;
          prevDelta = ((pred - prevByte) << 24) >> 24;
          prevByte = pred;
          const d = ((cur << 24) >> 24) * 8;
          dif[0]! += Math.abs(d);
          dif[1]! += Math.abs(d - d1);
          dif[2]! += Math.abs(d + d1);
          dif[3]! += Math.abs(d - d2);
          dif[4]! += Math.abs(d + d2);
          dif[5]! += Math.abs(d - d3);
          dif[6]! += Math.abs(d + d3);
          if ((count & 0x1f) === 0) {
            let min = dif[0]! >>> 0, num = 0;
            dif[0] = 0;
            for (let j = 1; j < 7; j++) {
              if (dif[j]! >>> 0 < min) { min = dif[j]! >>> 0; num = j; }
              dif[j] = 0;
            }
            switch (num) {
              case 1: if (k1 >= -16) k1--; break;
              case 2: if (k1 < 16) k1++; break;
              case 3: if (k2 >= -16) k2--; break;
              case 4: if (k2 < 16) k2++; break;
              case 5: if (k3 >= -16) k3--; break;
              case 6: if (k3 < 16) k3++; break;
            }
          }
        }
      }
      return true;
    }
  }
  return false;
}

/**
 * Runs filter `type` over the block at mem[0..], its registers `r` (r[4] the block length, r[6]
 * the count of bytes of the file written before the block). Returns the filtered block's offset
 * in `mem` and its size (size 0 for an unrecognised program).
 */
export function executeFilter(type: number, mem: Uint8Array, r: Uint32Array): { offset: number; size: number } {
  if (type === FLT_NONE) return { offset: 0, size: 0 };
  const ok = runStandard(type, mem, r);
  const size = r[4]! & VM_MEMMASK;
  if (type === FLT_DELTA || type === FLT_RGB || type === FLT_AUDIO) {
    return { offset: 2 * size > VM_MEMSIZE || !ok ? 0 : size, size };
  }
  return { offset: 0, size };
}
