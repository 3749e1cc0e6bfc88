/**
 * LHA archives built by code for tests: member headers of levels 0 to 3 and encoders for the
 * methods no installed packer writes (`-lh1-`, `-lzs-`, `-lz5-`).
 *
 * In: member descriptions and data. Out: archive bytes. The encoders use a plain greedy search;
 * matches reach only bytes already written, so the dictionaries' initial fill does not matter.
 */
import { DynamicHuffman } from './lha.js';
import { lzss4k } from './szdd-encode.js';

const CRC = (() => {
  const t: number[] = [];
  for (let i = 0; i < 256; i++) { let c = i; for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1; t.push(c); }
  return (b: Uint8Array) => { let c = 0; for (const x of b) c = (c >>> 8) ^ t[(c ^ x) & 0xff]!; return c; };
})();

export interface Entry { method: string; name: string; packed: Uint8Array; orig: number; level: 0 | 1 | 2 | 3; dir?: string; commonCrc?: boolean }

function u16(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff]; }
function u32(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; }

/** One member: header of the given level, then the packed data. */
export function entry(e: Entry): Uint8Array {
  const name = [...Buffer.from(e.name, 'latin1')];
  const method = [...Buffer.from(e.method, 'latin1')];
  const fileCrc = u16(0x1234);
  if (e.level === 0) {
    const body = [...method, ...u32(e.packed.length), ...u32(e.orig), ...u32(0), 0x20, 0, name.length, ...name, ...fileCrc];
    const sum = body.reduce((a, b) => (a + b) & 0xff, 0);
    return Uint8Array.from([body.length, sum, ...body, ...e.packed]);
  }
  const sizeBytes = e.level === 3 ? 4 : 2;
  const size = (v: number) => (sizeBytes === 4 ? u32(v) : u16(v));
  const exts: number[][] = [];
  if (e.commonCrc) exts.push([0x00, 0, 0]);
  if (e.level >= 2) exts.push([0x01, ...name]);
  if (e.dir) exts.push([0x02, ...Buffer.from(e.dir.replaceAll('/', '\xff'), 'latin1')]);
  // Each extension header: its bytes, then the size of the next one.
  const extBytes: number[] = [];
  exts.forEach((x, i) => extBytes.push(...x, ...size(i + 1 < exts.length ? exts[i + 1]!.length + sizeBytes : 0)));
  const first = exts.length ? exts[0]!.length + sizeBytes : 0;
  let head: number[];
  if (e.level === 1) {
    const body = [...method, ...u32(e.packed.length + extBytes.length), ...u32(e.orig), ...u32(0), 0x20, 1, name.length, ...name, ...fileCrc, 0x55, ...u16(first)];
    const sum = body.reduce((a, b) => (a + b) & 0xff, 0);
    head = [body.length, sum, ...body, ...extBytes];
  } else if (e.level === 2) {
    const total = 26 + extBytes.length;
    head = [...u16(total), ...method, ...u32(e.packed.length), ...u32(e.orig), ...u32(0), 0x20, 2, ...fileCrc, 0x55, ...u16(first), ...extBytes];
  } else {
    const total = 32 + extBytes.length;
    head = [4, 0, ...method, ...u32(e.packed.length), ...u32(e.orig), ...u32(0), 0x20, 3, ...fileCrc, 0x55, ...u32(total), ...u32(first), ...extBytes];
  }
  if (e.commonCrc) {
    const at = head.length - extBytes.length + 1;
    const crc = CRC(Uint8Array.from(head));
    head[at] = crc & 0xff;
    head[at + 1] = crc >>> 8;
  }
  return Uint8Array.from([...head, ...e.packed]);
}

/** `-lz5-`: matches only reach bytes already written (dictionary positions from 4078 on). */
export function lz5(data: Uint8Array): Uint8Array {
  return Uint8Array.from(lzss4k(data, (at) => (4078 + at) & 4095));
}

/** `-lzs-`: a flag bit, then 8 bits of literal or 11 bits of position and 4 of length - 2. */
export function lzs(data: Uint8Array): Uint8Array {
  const bits: number[] = [];
  const put = (v: number, n: number) => { for (let k = n - 1; k >= 0; k--) bits.push((v >>> k) & 1); };
  let i = 0;
  while (i < data.length) {
    let best = 0, bestAt = 0;
    for (let s = Math.max(0, i - 2000); s < i; s++) {
      let l = 0;
      while (l < 17 && i + l < data.length && data[s + l] === data[i + l]) l++;
      if (l > best) { best = l; bestAt = s; }
    }
    if (best >= 2) { put(0, 1); put((2031 + bestAt) & 2047, 11); put(best - 2, 4); i += best; }
    else { put(1, 1); put(data[i++]!, 8); }
  }
  while (bits.length % 8) bits.push(0);
  const out = new Uint8Array(bits.length / 8);
  for (let k = 0; k < bits.length; k++) out[k >>> 3]! |= bits[k]! << (7 - (k & 7));
  return out;
}

/** `-lh1-`: LHarc's adaptive Huffman code over literals and lengths, positions in 9 + 0-5 bits. */
export function lh1(data: Uint8Array): Uint8Array {
  const bits: number[] = [];
  const put = (v: number, n: number) => { for (let k = n - 1; k >= 0; k--) bits.push((v >>> k) & 1); };
  const tree = new DynamicHuffman();
  const NODES = DynamicHuffman.NODES, ROOT = DynamicHuffman.ROOT;
  const symbol = (c: number) => {
    // The path from the leaf up to the root, written root first.
    const path: number[] = [];
    for (let k = tree.parent[c + NODES]!; k !== ROOT; k = tree.parent[k]!) path.push(k === tree.child[tree.parent[k]!] ? 0 : 1);
    for (let i = path.length - 1; i >= 0; i--) bits.push(path[i]!);
    tree.update(c);
  };
  // The position's upper 6 bits: a prefix of 3 to 8 bits (the inverse of the decoder's ranges).
  const position = (p: number) => {
    const up = p >>> 6, low = p & 63;
    if (up === 0) put(low, 9);
    else if (up < 4) { put((up << 5) + 32 + (low >>> 1), 9); put(low & 1, 1); }
    else if (up < 12) { put((up << 4) + 96 + (low >>> 2), 9); put(low & 3, 2); }
    else if (up < 24) { put((up << 3) + 192 + (low >>> 3), 9); put(low & 7, 3); }
    else if (up < 48) { put((up << 2) + 288 + (low >>> 4), 9); put(low & 15, 4); }
    else { put((up << 1) + 384 + (low >>> 5), 9); put(low & 31, 5); }
  };
  let i = 0;
  while (i < data.length) {
    let best = 0, bestAt = 0;
    for (let s = Math.max(0, i - 4000); s < i; s++) {
      let l = 0;
      while (l < 60 && i + l < data.length && data[s + l] === data[i + l]) l++;
      if (l > best) { best = l; bestAt = s; }
    }
    if (best >= 3) {
      symbol(256 + best - 3);
      position(i - bestAt - 1);
      i += best;
    } else symbol(data[i++]!);
  }
  while (bits.length % 8) bits.push(0);
  const out = new Uint8Array(bits.length / 8);
  for (let k = 0; k < bits.length; k++) out[k >>> 3]! |= bits[k]! << (7 - (k & 7));
  return out;
}
