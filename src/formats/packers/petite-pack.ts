/**
 * A Petite 2.x-style packer for tests: an image's sections → a packed PE32 that ClamAV 1.4 unpacks.
 *
 * In: the original sections (data and optional virtual size) and options (2.2 or 2.1 layout,
 * streams moved into place by move records or read from the loader section, Petite's own code
 * left at the end of the last section with the encrypted entry point, with or without the
 * `.reloc` skew and an import list to walk, a resource directory). Out: a PE whose sections hold
 * the original sections coded the way Petite's decoder reads them (literals XORed with the count
 * of bytes left, gamma-coded distances and lengths, the last distance reused), then the loader
 * section whose entry is `mov eax, <its own address>`, followed by the records ClamAV walks. The
 * 2.1 layout adds a section after the loader. The loader is not a working one.
 *
 * Why: no packer is installed where samples are made; tests build them from code.
 */
import { buildPe, type PeSectionSpec } from './aspack-pack.js';

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

/** Petite's bit stream: tag bytes MSB first, fetched when their first bit is needed, literal bytes inline. */
class DlWriter {
  out: number[] = [];
  private tag = -1;
  private n = 8;
  bit(b: number): void {
    if (this.n === 8) { this.tag = this.out.length; this.out.push(0); this.n = 0; }
    if (b) this.out[this.tag]! |= 0x80 >> this.n;
    this.n++;
  }
  byte(v: number): void {
    this.out.push(v & 0xff);
  }
  /** Gamma code of v ≥ 2: the bits after the leading one, each followed by "more". */
  gamma(v: number): void {
    const bits = v.toString(2).slice(1);
    for (let i = 0; i < bits.length; i++) { this.bit(+bits[i]!); this.bit(i + 1 < bits.length ? 1 : 0); }
  }
}

/** Codes one section (`data.length` ≥ 1) as Petite's decoder reads it. */
export function petiteEncode(data: Uint8Array): Uint8Array {
  const total = data.length;
  const w = new DlWriter();
  w.byte(data[0]!);
  const [check1, check2, goback] = total < 0x10000 ? [16288, 928, 5] : total < 0x40000 ? [32384, 1664, 7] : [32000, 1280, 8];
  const HASH = 1 << 14, CHAIN = 16;
  const head = new Int32Array(HASH).fill(-1);
  const prev = new Int32Array(total).fill(-1);
  const hash = (p: number): number => ((data[p]! << 7) ^ (data[p + 1]! << 3) ^ data[p + 2]!) & (HASH - 1);
  const insert = (p: number): void => {
    if (p + 2 >= total) return;
    const h = hash(p);
    prev[p] = head[h]!;
    head[h] = p;
  };
  insert(0);
  let last = 0;
  let p = 1;
  const lengthBits = (x: number): void => {
    if (x <= 3) { w.bit(x >> 1); w.bit(x & 1); return; }
    w.bit(0); w.bit(0);
    w.gamma(x - 2);
  };
  while (p < total) {
    const limit = total - p;
    const matchLen = (d: number): number => {
      let l = 0;
      while (l < limit && data[p + l] === data[p + l - d]) l++;
      return l;
    };
    const extra = (d: number): number => 1 + (d > check2 ? 1 : 0) + (d > check1 ? 1 : 0);
    let bestLen = 0, bestDist = 0;
    if (p + 2 < total) {
      let c = head[hash(p)]!;
      for (let k = 0; c >= 0 && k < CHAIN; k++, c = prev[c]!) {
        const d = p - c;
        const l = matchLen(d);
        if (l > bestLen && l >= extra(d) + 1 && l >= 3) { bestLen = l; bestDist = d; }
      }
    }
    const repLen = last ? matchLen(last) : 0;
    if (repLen >= 2 && repLen + 1 >= bestLen) {
      w.bit(1);
      w.gamma(2);
      lengthBits(repLen);
      for (let i = 0; i < repLen; i++) insert(p + i);
      p += repLen;
    } else if (bestLen) {
      const dd = bestDist - 1;
      w.bit(1);
      w.gamma((dd >> goback) + 3);
      for (let k = goback - 1; k >= 0; k--) w.bit((dd >> k) & 1);
      lengthBits(bestLen - extra(bestDist));
      last = bestDist;
      for (let i = 0; i < bestLen; i++) insert(p + i);
      p += bestLen;
    } else {
      w.bit(0);
      w.byte(data[p]! ^ ((total - p) & 0xff));
      insert(p);
      p++;
    }
  }
  return Uint8Array.from(w.out);
}

export interface PetiteSection {
  name?: string;
  data: Uint8Array;
  vsize?: number;
}

export interface PetitePackOptions {
  /** 2: Petite 2.2 (records at 0x1b8 of the last section); 1: 2.1 (at 0x178 of the one before the last). */
  version?: 1 | 2;
  /** Each stream stored in its own section and moved to its end by a move record (default true). */
  move?: boolean;
  /** Petite's code after the last section's data, with the original entry point encrypted. */
  code?: false | { reloc?: boolean; imports?: number[][]; mangled?: boolean };
  /** Each section decoded this many bytes after its section's start (the bytes before are kept). */
  shift?: number;
  /** A record of an empty ("ghost") section at this RVA, after the others. */
  ghost?: number;
  /** Resource directory of the packed file (copied to the rebuilt one). */
  resource?: [number, number];
  imageBase?: number;
}

/** Packs the sections; `entry` is the original entry point's RVA. */
export function petitePack(sections: readonly PetiteSection[], entry = 0x1000, opts: PetitePackOptions = {}): Uint8Array {
  const version = opts.version ?? 2;
  const move = opts.move ?? true;
  const base = opts.imageBase ?? 0x400000;
  const grown = version === 1 ? 0x323 : 0x355;
  const skew = version === 1 ? 0x34 : 0x35;
  const code = opts.code || undefined;
  const reloc = code?.reloc ? skew : 0;
  const n = sections.length;
  const shift = opts.shift ?? 0;
  // Section data as decoded (the last one followed by Petite's code when asked).
  const plain = sections.map((s, i) => (code && i === n - 1 ? Uint8Array.from([...s.data, ...new Uint8Array(grown + reloc)]) : s.data));
  // The layout does not depend on the streams: room for the worst case (a literal costs 9 bits).
  const room = (len: number): number => alignUp(len + (len >> 3) + 8, 4);
  const rvas: number[] = [], vsizes: number[] = [];
  let rva = 0x1000;
  sections.forEach((s, i) => {
    const vsize = alignUp(Math.max(s.vsize ?? 0, shift + plain[i]!.length + (move ? room(plain[i]!.length) + 16 : 0), 1), 0x1000);
    rvas.push(rva);
    vsizes.push(vsize);
    rva += vsize;
  });
  const loaderRva = rva;
  const vep = loaderRva;
  const recAt = version === 2 ? 0x1b8 : 0x178;
  const recordsLen = n * (move ? 0x1c : 0x10) + (opts.ghost === undefined ? 0 : 0x10) + 4;
  const importsAt = alignUp(recAt + recordsLen, 4);
  const lists = code && version === 2 ? (code.imports ?? []) : [];
  const listWords = lists.length + 1 + lists.reduce((a, l) => a + l.length + 1, 0);
  const streamOff = importsAt + 4 * listWords;
  const words: [number, number][] = [];
  if (code) {
    // The import list ClamAV walks to decrypt the entry point (2.2 only).
    let at = importsAt + 4 * (lists.length + 1);
    const apis: number[] = [];
    lists.forEach((l, k) => {
      words.push([importsAt + 4 * k, loaderRva + at]);
      for (const api of l) { words.push([at, api >>> 0]); at += 4; apis.push(api >>> 0); }
      words.push([at, 0]);
      at += 4;
    });
    words.push([importsAt + 4 * lists.length, 0]);
    // The decoder's changes to the key, undone backwards.
    const ops: ('dec' | 'ror')[] = [];
    let virtaddr = (vep + 5 + base) >>> 0, rndm = 0;
    const top = (loaderRva + base) >>> 0;
    for (let api of apis) {
      if (!(api >>> 31) && code.mangled && --rndm < 0) { api = virtaddr; virtaddr = (virtaddr + 5) >>> 0; rndm = virtaddr & 7; } else api = 0xbff01337;
      if (top < api) ops.push('dec');
      if (api < virtaddr) ops.push('dec');
      ops.push('ror');
    }
    let key = (entry - vep - 5) >>> 0;
    for (let k = ops.length - 1; k >= 0; k--) key = ops[k] === 'dec' ? (key + 1) >>> 0 : ((key << 3) | (key >>> 29)) >>> 0;
    const blob = plain[n - 1]!;
    const b0 = blob.length - grown - reloc;
    blob.fill(0x90, b0);
    const bv = new DataView(blob.buffer, blob.byteOffset, blob.length);
    const k1 = 0x13572468;
    bv.setUint32(b0 + 0x0f - 8, (k1 ^ 0x9d6661aa) >>> 0, true);
    bv.setUint32(b0 + 0x0f - 4, (k1 ^ 0xe908c483) >>> 0, true);
    bv.setUint32(b0 + 0x0f, (key ^ k1) >>> 0, true);
    bv.setUint32(b0 + 0x121, loaderRva + importsAt, true);
    bv.setUint32(b0 + 0x1c0, code.mangled ? 0x12345678 : 0x90909090, true);
    bv.setUint32(b0 + 5 + 0x4f, 0x645ec033, true);
    bv.setUint32(b0 + 5 + 0x4f + 4, 0x1b8b188b, true);
  }
  const streams = plain.map((d) => petiteEncode(d));
  const specs: PeSectionSpec[] = [];
  const records: number[] = [];
  const tail: number[] = [];
  sections.forEach((s, i) => {
    const st = streams[i]!;
    const padded = alignUp(st.length, 4);
    const vsize = vsizes[i]!;
    const data = move ? Uint8Array.from([...st, ...new Uint8Array(padded - st.length)]) : new Uint8Array(0x200);
    specs.push({ name: s.name ?? `.s${i}`, data, vsize, rva: rvas[i]! });
    if (move) {
      records.push((0x80000000 | (padded / 4)) >>> 0, rvas[i]! + padded - 4, rvas[i]! + vsize - 4);
      records.push(rvas[i]! + vsize - padded, plain[i]!.length, rvas[i]! + shift, 0);
    } else {
      records.push(loaderRva + streamOff + tail.length, plain[i]!.length, rvas[i]! + shift, 0);
      tail.push(...st, ...new Uint8Array(padded - st.length));
    }
  });
  if (opts.ghost !== undefined) records.push(0x1000, 0, opts.ghost, 0);
  records.push(0);
  const loader = new Uint8Array(alignUp(Math.max(0x400, streamOff + tail.length + 0x40), 0x200)).fill(0x90);
  const dv = new DataView(loader.buffer);
  loader[0] = 0xb8;
  dv.setUint32(1, (loaderRva + base) >>> 0, true);
  records.forEach((v, k) => dv.setUint32(recAt + 4 * k, v >>> 0, true));
  for (const [at, v] of words) dv.setUint32(at, v, true);
  loader.set(tail, streamOff);
  const loaderV = alignUp(loader.length, 0x1000);
  specs.push({ name: '.petite', data: loader, vsize: loaderV, rva: loaderRva });
  if (version === 1) specs.push({ name: '.rsrc', data: new Uint8Array(0x200).fill(0x11), vsize: 0x1000, rva: loaderRva + loaderV });
  return buildPe(specs, vep, { imageBase: base, ...(opts.resource ? { resource: opts.resource } : {}) }).bytes;
}
