/**
 * A WWPack32-style packer for tests: an image's sections → a packed PE32 that ClamAV 1.4 unpacks.
 *
 * In: the original sections (data and optional virtual size). Out: a PE whose sections hold, at
 * the same RVAs, WWPack-coded streams of the original data (greedy matcher, every distance and
 * length class the decoder knows), followed by a loader section: the entry-point bytes ClamAV's
 * detection reads, the original entry point's distance at 0x295 and one block record per
 * section from 0x2a1. The loader is not a working one (NOPs around the recognised bytes).
 *
 * Why: no such packer is installed where samples are made; tests build them from code.
 */
import { writePe32 } from './aspack-pack.js';

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

/** Bits MSB first in 32-bit little-endian words, the next word's place taken as soon as one is full. */
class BitWriter {
  out: number[] = [];
  private slot = 0;
  private word = 0;
  private n = 0;
  constructor() {
    this.out.push(0, 0, 0, 0);
  }
  bits(v: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) this.bit((v >>> i) & 1);
  }
  bit(b: number): void {
    this.word = (this.word | (b << (31 - this.n))) >>> 0;
    if (++this.n === 32) {
      this.flush();
      this.slot = this.out.length;
      this.out.push(0, 0, 0, 0);
      this.word = 0;
      this.n = 0;
    }
  }
  byte(v: number): void {
    this.out.push(v & 0xff);
  }
  flush(): void {
    const w = this.word;
    this.out[this.slot] = w & 0xff;
    this.out[this.slot + 1] = (w >>> 8) & 0xff;
    this.out[this.slot + 2] = (w >>> 16) & 0xff;
    this.out[this.slot + 3] = w >>> 24;
  }
}

/** Distance classes: [first distance, bits, code (3 bits), extra bit or -1]. */
const DIST: readonly [number, number, number, number][] = [
  [1, 5, 0, -1], [33, 6, 1, -1], [97, 7, 2, -1], [225, 8, 3, 0], [481, 9, 3, 1], [993, 10, 4, 0], [2017, 11, 4, 1], [4065, 12, 5, -1],
  [0x1fe1, 14, 6, -1], [0x5fe1, 15, 7, -1],
];
const MAX_DIST = 0x5fe1 + 0x7fff;

function putLength(w: BitWriter, len: number): void {
  if (len <= 6) { w.bit(0); w.bit(len - 5); return; }
  w.bit(1);
  if (len <= 13) { w.bits(len - 6, 3); return; }
  w.bits(0, 3);
  if (len <= 28) { w.bits(len - 13, 4); return; }
  w.bits(0, 4);
  if (len <= 60) { w.bit(1); w.bits(len - 29, 5); return; }
  w.bit(0);
  if (len <= 124) { w.bit(1); w.bits(len - 61, 6); return; }
  w.bit(0);
  if (len <= 252) { w.bit(1); w.bits(len - 125, 7); return; }
  w.bit(0);
  w.bits(len, 14);
}

/** Encodes `data` as one WWPack block (ending with the end code), padded to whole dwords. */
export function wwEncode(data: Uint8Array): Uint8Array {
  const w = new BitWriter();
  const HASH = 1 << 14, CHAIN = 16, MAXLEN = 0x3fff;
  const head = new Int32Array(HASH).fill(-1);
  const prev = new Int32Array(data.length).fill(-1);
  const hash = (p: number): number => ((data[p]! << 8) ^ (data[p + 1]! << 4) ^ data[p + 2]!) & (HASH - 1);
  const insert = (p: number): void => {
    if (p + 2 >= data.length) return;
    const h = hash(p);
    prev[p] = head[h]!;
    head[h] = p;
  };
  let p = 0;
  while (p < data.length) {
    let bestLen = 0, bestDist = 0;
    if (p + 2 < data.length) {
      const limit = Math.min(MAXLEN, data.length - p);
      let c = head[hash(p)]!;
      for (let k = 0; c >= 0 && k < CHAIN && p - c <= MAX_DIST; k++, c = prev[c]!) {
        let l = 0;
        while (l < limit && data[c + l] === data[p + l]) l++;
        if (l > bestLen) { bestLen = l; bestDist = p - c; }
      }
    }
    if (bestLen >= 3) {
      w.bit(1);
      const saved = bestLen === 3 ? 1 : bestLen === 4 ? 2 : 0;
      w.bits(saved, 2);
      let k = DIST.length - 1;
      while (DIST[k]![0] > bestDist) k--;
      const [first, nbits, code, extra] = DIST[k]!;
      w.bits(code, 3);
      if (extra >= 0) w.bit(extra);
      w.bits(bestDist - first, nbits);
      if (!saved) putLength(w, bestLen);
      for (let i = 0; i < bestLen; i++) insert(p + i);
      p += bestLen;
    } else {
      w.bit(0);
      w.byte(data[p]!);
      insert(p);
      p++;
    }
  }
  // End: a two-byte copy whose 9-bit distance is all ones.
  w.bit(1);
  w.bits(3, 2);
  w.bits(3, 2);
  w.bits(0x1ff, 9);
  w.flush();
  const out = new Uint8Array(alignUp(w.out.length, 4));
  out.set(w.out);
  return out;
}

export interface WwSection {
  name?: string;
  data: Uint8Array;
  vsize?: number;
}

/** Packs the sections into a WWPack32-style PE32; `entry` is the original entry point's RVA. */
export function wwPack(sections: readonly WwSection[], entry = 0x1000): Uint8Array {
  const streams = sections.map((s) => wwEncode(s.data));
  const table: [string, number, number, number, number][] = []; // name, rva, vsize, raw, rawsize
  let rva = 0x1000, raw = 0x400;
  sections.forEach((s, i) => {
    const st = streams[i]!;
    const vsize = alignUp(Math.max(s.vsize ?? 0, s.data.length, alignUp(st.length, 0x200), 1), 0x1000);
    table.push([s.name ?? `.s${i}`, rva, vsize, raw, st.length]);
    raw += alignUp(st.length, 0x200);
    rva += vsize;
  });
  const loaderRva = rva;
  const loader = new Uint8Array(0x2a1 + 17 * sections.length + 0x40).fill(0x90);
  loader.set([0x53, 0x55, 0x8b, 0xe8, 0x33, 0xdb, 0xeb], 0);
  loader.set([0xe8, 0x00, 0x00, 0x00, 0x00, 0x58, 0x2d, 0x6d, 0x00, 0x00, 0x00, 0x50, 0x60, 0x33, 0xc9, 0x50, 0x58, 0x50, 0x50], 0x68);
  const dv = new DataView(loader.buffer);
  dv.setUint32(0x295, (entry - loaderRva - 0x299) >>> 0, true);
  sections.forEach((_, i) => {
    const at = 0x2a1 + 17 * i;
    const [, srva, , , size] = table[i]!;
    dv.setUint32(at, (loaderRva - srva) >>> 0, true);
    dv.setUint32(at + 4, 0, true);
    dv.setUint32(at + 8, size / 4, true);
    dv.setUint32(at + 12, size - 4, true);
    loader[at + 16] = i + 1 < sections.length ? 1 : 0;
  });
  table.push(['.WWP32', loaderRva, alignUp(loader.length, 0x1000), raw, loader.length]);
  const fileLen = raw + alignUp(loader.length, 0x200);
  const out = new Uint8Array(fileLen);
  writePe32(out, {
    entry: loaderRva, imageBase: 0x400000, sizeOfImage: loaderRva + alignUp(loader.length, 0x1000),
    sections: table.map(([name, srva, vsize, sraw, size]) => ({ name, vsize, rva: srva, rawSize: size, raw: sraw })),
  });
  table.forEach(([, , , sraw], i) => out.set(i < streams.length ? streams[i]! : loader, sraw));
  return out;
}
