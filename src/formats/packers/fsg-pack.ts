/**
 * An FSG 2.0-style packer for tests: an image's sections → a packed PE32 that ClamAV 1.4 unpacks.
 *
 * In: the original sections (data and optional virtual size) and the original entry point. Out:
 * a PE with a virtual-only section the size of the image and a second section holding the
 * loader's stack (destination, source and table addresses), the table (its last dword the
 * original entry point), the `xchg esp` target, the aPLib-style stream (`fsgEncode`: literals, the
 * one-byte short copies and zero bytes, 2-3 byte near copies, gamma-coded copies with the
 * distance adjustments, and repeated distances) and the entry point's `xchg esp, [addr]`.
 *
 * Why: no such packer is installed where samples are made; tests build them from code.
 */
import { upxImage, type UpxSection } from './upx-pack.js';

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

class BitWriter {
  out: number[] = [];
  private slot = -1;
  private n = 8;
  bit(b: number): void {
    if (this.n === 8) {
      this.slot = this.out.length;
      this.out.push(0);
      this.n = 0;
    }
    if (b) this.out[this.slot]! |= 0x80 >> this.n;
    this.n++;
  }
  byte(v: number): void {
    this.out.push(v & 0xff);
  }
  /** v ≥ 2: each bit after the leading one, followed by 1 when more follow, 0 after the last. */
  gamma(v: number): void {
    const top = Math.floor(Math.log2(v));
    for (let i = top - 1; i >= 0; i--) {
      this.bit(Math.floor(v / 2 ** i) & 1);
      this.bit(i > 0 ? 1 : 0);
    }
  }
}

const adjust = (dist: number): number => (dist >= 0x7d00 ? 1 : 0) + (dist >= 0x500 ? 1 : 0) + (dist <= 0x7f ? 2 : 0);

/**
 * Encodes `data` (at least one byte) in FSG's aPLib-style format, ended by the end code and, unless
 * another stream follows (`last` false), one spare byte (the decoder never takes the last byte of
 * its input as a bit byte).
 */
export function fsgEncode(data: Uint8Array, last = true): Uint8Array {
  const w = new BitWriter();
  w.byte(data[0] ?? 0);
  const HASH = 1 << 14, CHAIN = 16, WINDOW = 0x10000, MAXLEN = 4096;
  const head = new Int32Array(HASH).fill(-1);
  const prev = new Int32Array(data.length).fill(-1);
  const hash = (p: number): number => ((data[p]! << 8) ^ (data[p + 1]! << 4) ^ data[p + 2]!) & (HASH - 1);
  const insert = (p: number): void => {
    if (p + 2 >= data.length) return;
    const h = hash(p);
    prev[p] = head[h]!;
    head[h] = p;
  };
  insert(0);
  let lostbit = 1, oldback = 0;
  let p = 1;
  while (p < data.length) {
    const limit = Math.min(MAXLEN, data.length - p);
    // The repeated distance, usable right after a literal or short copy.
    if (lostbit && oldback && p - oldback >= 0) {
      let l = 0;
      while (l < limit && data[p - oldback + l] === data[p + l]) l++;
      if (l >= 2) {
        w.bit(1); w.bit(0); w.gamma(2); w.gamma(l);
        for (let i = 0; i < l; i++) insert(p + i);
        p += l;
        lostbit = 0;
        continue;
      }
    }
    let bestLen = 0, bestDist = 0;
    if (p + 2 < data.length) {
      let c = head[hash(p)]!;
      for (let k = 0; c >= 0 && k < CHAIN && p - c <= WINDOW; k++, c = prev[c]!) {
        let l = 0;
        while (l < limit && data[c + l] === data[p + l]) l++;
        if (l > bestLen) { bestLen = l; bestDist = p - c; }
      }
    }
    if (bestLen >= 2 + adjust(bestDist)) {
      const hi = Math.floor(bestDist / 256) + 1;
      w.bit(1); w.bit(0); w.gamma(hi + 1 + lostbit); w.byte(bestDist & 0xff); w.gamma(bestLen - adjust(bestDist));
      oldback = bestDist;
      lostbit = 0;
    } else if (bestLen >= 2 && bestDist <= 0x7f) {
      const len = Math.min(bestLen, 3);
      w.bit(1); w.bit(1); w.bit(0); w.byte((bestDist << 1) | (len - 2));
      oldback = bestDist;
      lostbit = 0;
      bestLen = len;
    } else {
      const b = data[p]!;
      let near = 0;
      for (let d = 1; d <= 15 && d <= p; d++) if (data[p - d] === b) { near = d; break; }
      if (b === 0 || near) {
        w.bit(1); w.bit(1); w.bit(1);
        const v = b === 0 ? 0 : near;
        for (let k = 3; k >= 0; k--) w.bit((v >> k) & 1);
      } else {
        w.bit(0); w.byte(b);
      }
      lostbit = 1;
      bestLen = 1;
    }
    for (let i = 0; i < bestLen; i++) insert(p + i);
    p += bestLen;
  }
  w.bit(1); w.bit(1); w.bit(0); w.byte(0);
  if (last) w.byte(0);
  return Uint8Array.from(w.out);
}

/** Packs the sections (from RVA 0x1000) into an FSG 2.0-style PE32. */
export function fsgPack(sections: readonly UpxSection[], entry = 0x1000, imageBase = 0x400000): Uint8Array {
  const { image } = upxImage(sections, 0, false, imageBase);
  const stream = fsgEncode(image.length ? image : new Uint8Array(1));
  const stubAt = alignUp(0x40 + stream.length, 16);
  const s1Len = stubAt + 0xc0;
  const s1Raw = alignUp(s1Len, 0x200);
  const s0V = alignUp(Math.max(image.length, s1Raw + 1), 0x1000);
  const s1Rva = 0x1000 + s0V;
  const s1 = new Uint8Array(s1Raw);
  const d = new DataView(s1.buffer);
  d.setUint32(0, imageBase + 0x1000, true); // edi: destination
  d.setUint32(4, imageBase + s1Rva + 0x40, true); // esi: the stream
  d.setUint32(16, imageBase + s1Rva + 0x20, true); // ebx: the table
  d.setUint32(0x20 + 12, imageBase + entry, true); // the original entry point
  d.setUint32(0x30, imageBase + s1Rva, true); // the new stack
  s1.set(stream, 0x40);
  s1.fill(0x90, stubAt, s1Len);
  s1.set([0x87, 0x25], stubAt);
  d.setUint32(stubAt + 2, imageBase + s1Rva + 0x30, true);
  const out = new Uint8Array(0x400 + s1Raw);
  const o = new DataView(out.buffer);
  out.set([0x4d, 0x5a], 0);
  o.setUint32(0x3c, 0x80, true);
  const pe = 0x80;
  out.set([0x50, 0x45, 0, 0], pe);
  o.setUint16(pe + 4, 0x14c, true);
  o.setUint16(pe + 6, 2, true);
  o.setUint16(pe + 20, 0xe0, true);
  o.setUint16(pe + 22, 0x010f, true);
  const opt = pe + 24;
  o.setUint16(opt, 0x10b, true);
  o.setUint32(opt + 16, s1Rva + stubAt, true);
  o.setUint32(opt + 28, imageBase, true);
  o.setUint32(opt + 32, 0x1000, true);
  o.setUint32(opt + 36, 0x200, true);
  o.setUint16(opt + 40, 4, true);
  o.setUint16(opt + 48, 4, true);
  o.setUint32(opt + 56, s1Rva + alignUp(s1Raw, 0x1000), true);
  o.setUint32(opt + 60, 0x400, true);
  o.setUint16(opt + 68, 2, true);
  o.setUint32(opt + 92, 16, true);
  const table: [number, number, number, number][] = [[0x1000, s0V, 0, 0], [s1Rva, alignUp(s1Raw, 0x1000), 0x400, s1Raw]];
  table.forEach(([rva, vsize, raw, size], i) => {
    const s = pe + 0xf8 + 0x28 * i;
    out.set(i ? [0x2e, 0x66, 0x73, 0x67] : [0x2e, 0x62, 0x73, 0x73], s);
    o.setUint32(s + 8, vsize, true);
    o.setUint32(s + 12, rva, true);
    o.setUint32(s + 16, size, true);
    o.setUint32(s + 20, raw, true);
    o.setUint32(s + 36, 0xe0000060, true);
  });
  out.set(s1, 0x400);
  return out;
}

/**
 * Packs the sections into an FSG 1.33-style PE32: the loader's table in the headers' padding
 * (destination, source, each later section's address + 1, a zero), one stream per section, the
 * entry `mov esi, <table>` with the original entry point's distance at entry + 163; with
 * `reversed`, the sections after the first come in reverse order.
 */
export function fsg133Pack(sections: readonly UpxSection[], entry = 0x1000, imageBase = 0x400000, reversed = false): Uint8Array {
  let rva = 0x1000;
  let rvas: number[] = [];
  for (const s of sections) {
    rvas.push(rva);
    rva += alignUp(Math.max(s.vsize ?? 0, s.data.length, 1), 0x1000);
  }
  // The sections after the first in reverse order, when asked (ClamAV sorts them back).
  const order = sections.map((_, i) => i);
  if (reversed) order.splice(1, order.length - 1, ...order.slice(1).reverse());
  rvas = order.map((i) => rvas[i]!);
  const streams = order.map((i, k) => fsgEncode(sections[i]!.data.length ? sections[i]!.data : new Uint8Array(1), k === order.length - 1));
  const total = streams.reduce((n, s) => n + s.length, 0);
  const stubAt = alignUp(total, 16);
  const s1Raw = alignUp(stubAt + 0xc0, 0x200);
  const s0V = alignUp(Math.max(rva - 0x1000, s1Raw + 1), 0x1000);
  const s1Rva = 0x1000 + s0V;
  const out = new Uint8Array(0x400 + s1Raw);
  const o = new DataView(out.buffer);
  out.set([0x4d, 0x5a], 0);
  o.setUint32(0x3c, 0x80, true);
  const pe = 0x80;
  out.set([0x50, 0x45, 0, 0], pe);
  o.setUint16(pe + 4, 0x14c, true);
  o.setUint16(pe + 6, 2, true);
  o.setUint16(pe + 20, 0xe0, true);
  o.setUint16(pe + 22, 0x010f, true);
  const opt = pe + 24;
  const ep = s1Rva + stubAt;
  o.setUint16(opt, 0x10b, true);
  o.setUint32(opt + 16, ep, true);
  o.setUint32(opt + 28, imageBase, true);
  o.setUint32(opt + 32, 0x1000, true);
  o.setUint32(opt + 36, 0x200, true);
  o.setUint16(opt + 40, 4, true);
  o.setUint16(opt + 48, 4, true);
  o.setUint32(opt + 56, s1Rva + alignUp(s1Raw, 0x1000), true);
  o.setUint32(opt + 60, 0x400, true);
  o.setUint16(opt + 68, 2, true);
  o.setUint32(opt + 92, 16, true);
  const table: [number, number, number, number][] = [[0x1000, s0V, 0, 0], [s1Rva, alignUp(s1Raw, 0x1000), 0x400, s1Raw]];
  table.forEach(([srva, vsize, raw, size], i) => {
    const h = pe + 0xf8 + 0x28 * i;
    out.set(i ? [0x2e, 0x66, 0x73, 0x67] : [0x2e, 0x62, 0x73, 0x73], h);
    o.setUint32(h + 8, vsize, true);
    o.setUint32(h + 12, srva, true);
    o.setUint32(h + 16, size, true);
    o.setUint32(h + 20, raw, true);
    o.setUint32(h + 36, 0xe0000060, true);
  });
  // The table, in the padding after the section table.
  const tab = 0x200;
  o.setUint32(tab + 4, imageBase + 0x1000, true);
  o.setUint32(tab + 8, imageBase + s1Rva, true);
  rvas.slice(1).forEach((r, k) => o.setUint32(tab + 12 + 4 * k, imageBase + r + 1, true));
  let at = 0x400;
  for (const s of streams) { out.set(s, at); at += s.length; }
  const stub = 0x400 + stubAt;
  out.fill(0x90, stub, stub + 0xc0);
  out[stub] = 0xbe;
  o.setUint32(stub + 1, imageBase + tab, true);
  o.setUint32(stub + 163, (entry - ep - 167) >>> 0, true);
  return out;
}

/**
 * Packs the sections into an FSG 1.31-style PE32: the packed section first in memory (its entry
 * far enough in, as ClamAV requires), the virtual-only one after it holding the image; the
 * loader's table of 16-bit page numbers in the headers' padding; the entry `mov ebx, <table>;
 * mov edi, <destination>; mov esi, <source>` with the original entry point's distance at
 * entry + 0xdc. `entry` is relative to the image's start.
 */
export function fsg131Pack(sections: readonly UpxSection[], entry = 0, imageBase = 0x400000): Uint8Array {
  let span = 0;
  const offsets: number[] = [];
  for (const s of sections) {
    offsets.push(span);
    span += alignUp(Math.max(s.vsize ?? 0, s.data.length, 1), 0x1000);
  }
  const streams = sections.map((s, i) => fsgEncode(s.data.length ? s.data : new Uint8Array(1), i === sections.length - 1));
  const total = streams.reduce((n, s) => n + s.length, 0);
  const stubAt = Math.max(alignUp(total, 16), 0xf30);
  const s1Raw = alignUp(stubAt + 0x100, 0x200);
  const s1Rva = 0x1000;
  const s0Rva = s1Rva + alignUp(s1Raw, 0x1000);
  const s0V = alignUp(Math.max(span, s1Raw + 1), 0x1000);
  const out = new Uint8Array(0x400 + s1Raw);
  const o = new DataView(out.buffer);
  out.set([0x4d, 0x5a], 0);
  o.setUint32(0x3c, 0x80, true);
  const pe = 0x80;
  out.set([0x50, 0x45, 0, 0], pe);
  o.setUint16(pe + 4, 0x14c, true);
  o.setUint16(pe + 6, 2, true);
  o.setUint16(pe + 20, 0xe0, true);
  o.setUint16(pe + 22, 0x010f, true);
  const opt = pe + 24;
  const ep = s1Rva + stubAt;
  o.setUint16(opt, 0x10b, true);
  o.setUint32(opt + 16, ep, true);
  o.setUint32(opt + 28, imageBase, true);
  o.setUint32(opt + 32, 0x1000, true);
  o.setUint32(opt + 36, 0x200, true);
  o.setUint16(opt + 40, 4, true);
  o.setUint16(opt + 48, 4, true);
  o.setUint32(opt + 56, s0Rva + s0V, true);
  o.setUint32(opt + 60, 0x400, true);
  o.setUint16(opt + 68, 2, true);
  o.setUint32(opt + 92, 16, true);
  const table: [number, number, number, number][] = [[s0Rva, s0V, 0, 0], [s1Rva, alignUp(s1Raw, 0x1000), 0x400, s1Raw]];
  table.forEach(([srva, vsize, raw, size], i) => {
    const h = pe + 0xf8 + 0x28 * i;
    out.set(i ? [0x2e, 0x66, 0x73, 0x67] : [0x2e, 0x62, 0x73, 0x73], h);
    o.setUint32(h + 8, vsize, true);
    o.setUint32(h + 12, srva, true);
    o.setUint32(h + 16, size, true);
    o.setUint32(h + 20, raw, true);
    o.setUint32(h + 36, 0xe0000060, true);
  });
  const tab = 0x200;
  offsets.slice(1).forEach((off, k) => o.setUint16(tab + 2 * k, ((imageBase + s0Rva + off) >>> 12) + 2, true));
  const end = tab + 2 * (offsets.length - 1);
  o.setUint16(end, 2, true);
  o.setUint32(end + 6, 2, true);
  let at = 0x400;
  for (const s of streams) { out.set(s, at); at += s.length; }
  const stub = 0x400 + stubAt;
  out.fill(0x90, stub, stub + 0x100);
  out[stub] = 0xbb;
  o.setUint32(stub + 1, imageBase + tab, true);
  out[stub + 5] = 0xbf;
  o.setUint32(stub + 6, imageBase + s0Rva, true);
  out[stub + 10] = 0xbe;
  o.setUint32(stub + 11, imageBase + s1Rva, true);
  o.setUint32(stub + 0xdc, (s0Rva + entry - ep - 0xe0) >>> 0, true);
  return out;
}
