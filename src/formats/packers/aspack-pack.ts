/**
 * An ASPack-style packer for tests: an image's sections → a packed PE32 that ClamAV 1.4 unpacks.
 *
 * In: the original sections (data and optional virtual size) and options (loader version, call
 * rewriting, a table rebuild inside a block, distance low bits through their own code, the
 * loader sections kept). Out: a PE whose sections hold, at their RVAs, ASPack-coded blocks of the
 * original data (greedy LZ with three repeated distances, canonical Huffman codes of at most 15
 * bits), then the loader section `.aspack` and an empty `.adata`. The loader is not a working
 * one: it carries only what ClamAV reads — the entry bytes, `push 0; ret` at the version's
 * offset, the block table, the length and distance tables, the call marker and the original
 * entry point.
 *
 * Also `buildPe`, the minimal PE32 writer the Petite and NsPack test packers share.
 *
 * Why: no packer is installed where samples are made; tests build them from code.
 */
import { ASPACK_OFFSETS, type AspackVersion } from './aspack.js';

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

export interface PeSectionSpec {
  name: string;
  /** Raw data (may be empty: no raw data). */
  data: Uint8Array;
  vsize: number;
  /** RVA (default: right after the previous section). */
  rva?: number;
}

export interface BuiltPe {
  bytes: Uint8Array;
  /** Each section's RVA and raw offset. */
  rvas: number[];
  raws: number[];
}

export interface Pe32Header {
  entry: number;
  imageBase: number;
  sizeOfImage: number;
  /** The resource directory (RVA, size). */
  resource?: [number, number];
  sections: readonly { name: string; vsize: number; rva: number; rawSize: number; raw: number }[];
}

/**
 * Writes a test packer's PE32 headers into `out` (already sized for the whole file): MZ with the
 * PE header at 0x80, i386, 0xe0-byte optional header, alignments 0x1000/0x200, headers 0x400, 16
 * directories, and the section table (every section read/write/execute, code and data).
 */
export function writePe32(out: Uint8Array, h: Pe32Header): void {
  const o = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set([0x4d, 0x5a], 0);
  o.setUint32(0x3c, 0x80, true);
  const pe = 0x80;
  out.set([0x50, 0x45, 0, 0], pe);
  o.setUint16(pe + 4, 0x14c, true);
  o.setUint16(pe + 6, h.sections.length, true);
  o.setUint16(pe + 20, 0xe0, true);
  o.setUint16(pe + 22, 0x010f, true);
  const opt = pe + 24;
  o.setUint16(opt, 0x10b, true);
  o.setUint32(opt + 16, h.entry, true);
  o.setUint32(opt + 28, h.imageBase, true);
  o.setUint32(opt + 32, 0x1000, true);
  o.setUint32(opt + 36, 0x200, true);
  o.setUint16(opt + 40, 4, true);
  o.setUint16(opt + 48, 4, true);
  o.setUint32(opt + 56, h.sizeOfImage, true);
  o.setUint32(opt + 60, 0x400, true);
  o.setUint16(opt + 68, 2, true);
  o.setUint32(opt + 92, 16, true);
  if (h.resource) {
    o.setUint32(opt + 96 + 16, h.resource[0], true);
    o.setUint32(opt + 96 + 20, h.resource[1], true);
  }
  h.sections.forEach((sec, i) => {
    const at = pe + 0xf8 + 0x28 * i;
    for (let k = 0; k < Math.min(8, sec.name.length); k++) out[at + k] = sec.name.charCodeAt(k);
    o.setUint32(at + 8, sec.vsize, true);
    o.setUint32(at + 12, sec.rva, true);
    o.setUint32(at + 16, sec.rawSize, true);
    o.setUint32(at + 20, sec.raw, true);
    o.setUint32(at + 36, 0xe0000060, true);
  });
}

/** Lays the sections out (file alignment 0x200, section alignment 0x1000, headers 0x400) as a PE32. */
export function buildPe(sections: readonly PeSectionSpec[], entry: number, opts: { imageBase?: number; resource?: [number, number] } = {}): BuiltPe {
  const rvas: number[] = [], raws: number[] = [];
  let rva = 0x1000, raw = 0x400;
  for (const s of sections) {
    const r = s.rva ?? rva;
    rvas.push(r);
    raws.push(s.data.length ? raw : 0);
    raw += alignUp(s.data.length, 0x200);
    rva = r + alignUp(Math.max(s.vsize, 1), 0x1000);
  }
  const out = new Uint8Array(raw);
  writePe32(out, {
    entry, imageBase: opts.imageBase ?? 0x400000, sizeOfImage: rva, ...(opts.resource ? { resource: opts.resource } : {}),
    sections: sections.map((sec, i) => ({ name: sec.name, vsize: sec.vsize, rva: rvas[i]!, rawSize: sec.data.length, raw: raws[i]! })),
  });
  sections.forEach((sec, i) => { if (sec.data.length) out.set(sec.data, raws[i]!); });
  return { bytes: out, rvas, raws };
}

/** MSB-first bit writer. */
export class MsbBits {
  private buf: number[] = [];
  private cur = 0;
  private n = 0;
  put(v: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) {
      this.cur = (this.cur << 1) | ((v >>> i) & 1);
      if (++this.n === 8) { this.buf.push(this.cur); this.cur = 0; this.n = 0; }
    }
  }
  bytes(): Uint8Array {
    const out = this.buf.slice();
    if (this.n) out.push(this.cur << (8 - this.n));
    return Uint8Array.from(out);
  }
}

/** Code lengths (at most `max` bits) of a complete prefix code over the symbols with a non-zero frequency. */
export function huffmanLengths(freq: readonly number[], max: number): number[] {
  const f = freq.slice();
  let used = f.filter((x) => x > 0).length;
  for (let i = 0; used < 2 && i < f.length; i++) if (!f[i]) { f[i] = 1; used++; }
  for (;;) {
    type Node = { w: number; sym: number; l?: Node; r?: Node };
    let nodes: Node[] = [];
    f.forEach((w, sym) => { if (w > 0) nodes.push({ w, sym }); });
    while (nodes.length > 1) {
      nodes.sort((a, b) => a.w - b.w);
      const [a, b] = nodes as [Node, Node];
      nodes = [{ w: a.w + b.w, sym: -1, l: a, r: b }, ...nodes.slice(2)];
    }
    const lens = new Array<number>(f.length).fill(0);
    const walk = (n: Node, d: number): void => {
      if (n.sym >= 0) lens[n.sym] = d;
      else { walk(n.l!, d + 1); walk(n.r!, d + 1); }
    };
    walk(nodes[0]!, 0);
    if (Math.max(...lens) <= max) return lens;
    for (let i = 0; i < f.length; i++) if (f[i]! > 0) f[i] = (f[i]! + 1) >> 1;
  }
}

/** Canonical codes for lengths (shorter codes first, then by symbol). */
export function canonicalCodes(lens: readonly number[]): number[] {
  const codes = new Array<number>(lens.length).fill(0);
  let code = 0;
  for (let len = 1; len <= 15; len++) {
    for (let s = 0; s < lens.length; s++) if (lens[s] === len) codes[s] = code++;
    code <<= 1;
  }
  return codes;
}

/** The loader's tables: distance extra bits per slot, long-length bases and extra bits. */
export const ASPACK_DIST_BITS: readonly number[] = Array.from({ length: 58 }, (_, i) => (i < 4 ? 0 : Math.min(17, (i - 2) >> 1)));
export const ASPACK_LEN_BASE: readonly number[] = [];
export const ASPACK_LEN_BITS: readonly number[] = [];
{
  let base = 8;
  for (let k = 0; k < 28; k++) {
    if (k < 8) { (ASPACK_LEN_BASE as number[]).push(k); (ASPACK_LEN_BITS as number[]).push(0); continue; }
    const b = k < 20 ? ((k - 8) >> 1) + 1 : 8;
    (ASPACK_LEN_BASE as number[]).push(k < 20 ? base : 255);
    (ASPACK_LEN_BITS as number[]).push(b);
    base += 1 << b;
  }
}
const DIST_BASE: number[] = [];
{
  let j = 0;
  for (const b of ASPACK_DIST_BITS) { DIST_BASE.push(j); j += 1 << b; }
}
const MAX_USEOLD = DIST_BASE[57]! + (1 << ASPACK_DIST_BITS[57]!) - 1;

type Token = { lit: number } | { len: number; useold: number } | { rebuild: true };

export interface AspackEncodeOptions {
  /** Start a new set of tables after this many tokens (the rebuild symbol). */
  rebuildAt?: number;
  /** Code the rebuilt tables' lengths as changes from the previous ones. */
  delta?: boolean;
  /** Code distances' low 3 bits with their own Huffman code. */
  lowBits?: boolean;
}

/** Encodes `data` as one ASPack block. */
export function aspackEncode(data: Uint8Array, opts: AspackEncodeOptions = {}): Uint8Array {
  // LZ77 with the loader's three repeated distances.
  const tokens: Token[] = [];
  const HASH = 1 << 14, CHAIN = 24;
  const head = new Int32Array(HASH).fill(-1);
  const prev = new Int32Array(data.length).fill(-1);
  const hash = (p: number): number => ((data[p]! << 7) ^ (data[p + 1]! << 3) ^ data[p + 2]!) & (HASH - 1);
  const insert = (p: number): void => {
    if (p + 2 >= data.length) return;
    const h = hash(p);
    prev[p] = head[h]!;
    head[h] = p;
  };
  const hist = [0, 0, 0];
  const maxLen = 9 + 255 + 255;
  let p = 0;
  while (p < data.length) {
    const limit = Math.min(maxLen, data.length - p);
    const matchLen = (d: number): number => {
      if (d < 1 || d > p) return 0;
      let l = 0;
      while (l < limit && data[p + l] === data[p + l - d]) l++;
      return l;
    };
    let bestLen = 0, bestDist = 0, rep = -1;
    for (let k = 0; k < 3; k++) {
      const l = matchLen(hist[k]! + 1);
      if (l >= 2 && l > bestLen) { bestLen = l; bestDist = hist[k]! + 1; rep = k; }
    }
    if (p + 2 < data.length) {
      let c = head[hash(p)]!;
      for (let k = 0; c >= 0 && k < CHAIN; k++, c = prev[c]!) {
        const d = p - c;
        if (d - 1 + 3 > MAX_USEOLD) break;
        const l = matchLen(d);
        if (l >= 3 && l > bestLen + 1) { bestLen = l; bestDist = d; rep = -1; }
      }
    }
    if (bestLen >= 2) {
      let useold: number;
      if (rep >= 0) {
        useold = rep;
        const v = hist[rep]!;
        if (rep) { hist[rep] = hist[0]!; hist[0] = v; }
      } else {
        useold = bestDist - 1 + 3;
        hist[2] = hist[1]!; hist[1] = hist[0]!; hist[0] = bestDist - 1;
      }
      tokens.push({ len: bestLen, useold });
      for (let i = 0; i < bestLen; i++) insert(p + i);
      p += bestLen;
    } else {
      tokens.push({ lit: data[p]! });
      insert(p);
      p++;
    }
  }
  if (opts.rebuildAt !== undefined && opts.rebuildAt < tokens.length) tokens.splice(opts.rebuildAt, 0, { rebuild: true });

  const w = new MsbBits();
  let prevLens = new Array<number>(757).fill(0);
  let seg = 0;
  while (seg <= tokens.length) {
    let end = seg;
    while (end < tokens.length && !('rebuild' in tokens[end]!)) end++;
    const part = tokens.slice(seg, end);
    const more = end < tokens.length;
    // Symbol statistics.
    const f0 = new Array<number>(721).fill(0), f1 = new Array<number>(28).fill(0), f2 = new Array<number>(8).fill(0);
    const slotOf = (u: number): number => { let s = 57; while (DIST_BASE[s]! > u) s--; return s; };
    const lenCode = (len: number): { code: number; ext?: number } => {
      if (len < 9) return { code: len - 2 };
      const x = len - 9;
      for (let k = 27; k >= 0; k--) if (ASPACK_LEN_BASE[k]! <= x && x < ASPACK_LEN_BASE[k]! + (1 << ASPACK_LEN_BITS[k]!)) return { code: 7, ext: k };
      throw new Error('length out of range');
    };
    for (const t of part) {
      if ('lit' in t) f0[t.lit]!++;
      else if ('len' in t) {
        const lc = lenCode(t.len);
        f0[256 + slotOf(t.useold) * 8 + lc.code]!++;
        if (lc.ext !== undefined) f1[lc.ext]!++;
        if (opts.lowBits && ASPACK_DIST_BITS[slotOf(t.useold)]! >= 3) f2[(t.useold - DIST_BASE[slotOf(t.useold)]!) & 7]!++;
      }
    }
    if (more) f0[720]!++;
    const l0 = huffmanLengths(f0, 15), l1 = huffmanLengths(f1, 15);
    let l2 = opts.lowBits ? huffmanLengths(f2.map((x) => x + 1), 15) : new Array<number>(8).fill(3);
    const dictOk = l2.some((x) => x !== 3);
    if (!dictOk) l2 = new Array<number>(8).fill(3);
    const lens = [...l0, ...l1, ...l2];
    // Code lengths through the 19-symbol code.
    const delta = seg > 0 && !!opts.delta;
    const base = delta ? prevLens : new Array<number>(757).fill(0);
    const pre: { sym: number; extra?: [number, number] }[] = [];
    for (let i = 0; i < 757;) {
      let run = 0;
      while (i + run < 757 && lens[i + run] === 0 && run < 138) run++;
      if (run >= 11) { pre.push({ sym: 18, extra: [run - 11, 7] }); i += run; continue; }
      if (run >= 3) { pre.push({ sym: 17, extra: [Math.min(run, 10) - 3, 3] }); i += Math.min(run, 10); continue; }
      if (i > 0 && !delta) {
        let same = 0;
        while (i + same < 757 && lens[i + same] === lens[i - 1] && same < 6) same++;
        if (same >= 3) { pre.push({ sym: 16, extra: [same - 3, 2] }); i += same; continue; }
      }
      pre.push({ sym: (lens[i]! - base[i]!) & 0xf });
      i++;
    }
    const fp = new Array<number>(19).fill(0);
    for (const x of pre) fp[x.sym]!++;
    const lp = huffmanLengths(fp, 15);
    const cp = canonicalCodes(lp);
    w.put(delta ? 1 : 0, 1);
    for (const l of lp) w.put(l, 4);
    for (const x of pre) {
      w.put(cp[x.sym]!, lp[x.sym]!);
      if (x.extra) w.put(x.extra[0], x.extra[1]);
    }
    const c0 = canonicalCodes(l0), c1 = canonicalCodes(l1), c2 = canonicalCodes(l2);
    for (const t of part) {
      if ('lit' in t) { w.put(c0[t.lit]!, l0[t.lit]!); continue; }
      if (!('len' in t)) continue;
      const slot = slotOf(t.useold);
      const lc = lenCode(t.len);
      const sym = 256 + slot * 8 + lc.code;
      w.put(c0[sym]!, l0[sym]!);
      if (lc.ext !== undefined) {
        w.put(c1[lc.ext]!, l1[lc.ext]!);
        w.put(t.len - 9 - ASPACK_LEN_BASE[lc.ext]!, ASPACK_LEN_BITS[lc.ext]!);
      }
      const nb = ASPACK_DIST_BITS[slot]!;
      const off = t.useold - DIST_BASE[slot]!;
      if (dictOk && nb >= 3) {
        w.put(off >>> 3, nb - 3);
        w.put(c2[off & 7]!, l2[off & 7]!);
      } else w.put(off, nb);
    }
    if (more) w.put(c0[720]!, l0[720]!);
    prevLens = lens;
    seg = end + 1;
  }
  return w.bytes();
}

export interface AspackSection {
  name?: string;
  data: Uint8Array;
  vsize?: number;
}

export interface AspackPackOptions {
  version?: AspackVersion;
  /** Rewrite `e8`/`e9` + marker in the first block (the marker chosen to make the most rewrites). */
  calls?: boolean;
  /** Per-block encoder options. */
  encode?: AspackEncodeOptions;
  /** Keep the loader sections in the rebuilt image (entry point not at the loader's start + 1). */
  keepLoader?: boolean;
  /** A 12-byte record of size 0xfffffef2 after the first (skipped by versions after 2.12). */
  skipRecord?: boolean;
  imageBase?: number;
}

/** Undoes ClamAV's call rewriting: returns the data to store and the marker byte. */
function rewriteCalls(data: Uint8Array, most: boolean): { data: Uint8Array; marker: number } {
  const n = data.length;
  let best = -1, bestCount = -1;
  for (let m = 0; m < 256; m++) {
    let ok = true, count = 0;
    for (let i = 0; n > 7 && i < n - 6; i++) {
      const c = data[i];
      if ((c === 0xe8 || c === 0xe9) && data[i + 1] === m) {
        const v = ((data[i + 1]! | (data[i + 2]! << 8) | (data[i + 3]! << 16) | (data[i + 4]! << 24)) + i) >>> 0;
        if (v >= 1 << 24) { ok = false; break; }
        count++;
        i += 4;
      }
    }
    if (ok && (bestCount < 0 || (most ? count > bestCount : count < bestCount))) { best = m; bestCount = count; }
  }
  const out = data.slice();
  if (best < 0) return { data: out, marker: 0 };
  for (let i = 0; n > 7 && i < n - 6; i++) {
    const c = out[i];
    if ((c === 0xe8 || c === 0xe9) && out[i + 1] === best) {
      const v = ((data[i + 1]! | (data[i + 2]! << 8) | (data[i + 3]! << 16) | (data[i + 4]! << 24)) + i) >>> 0;
      out[i + 2] = v & 0xff; out[i + 3] = (v >>> 8) & 0xff; out[i + 4] = (v >>> 16) & 0xff;
      i += 4;
    }
  }
  return { data: out, marker: best };
}

/** Packs the sections; `entry` is the original entry point's RVA. */
export function aspackPack(sections: readonly AspackSection[], entry = 0x1000, opts: AspackPackOptions = {}): Uint8Array {
  const version = opts.version ?? '2.12';
  const off = ASPACK_OFFSETS[version];
  let marker = 0x55;
  const specs: PeSectionSpec[] = [];
  const blocks: [number, number][] = [];
  let rva = 0x1000;
  sections.forEach((s, i) => {
    // ClamAV rewrites calls in the first block longer than 7 bytes: with the table headers, every
    // block is, so the first one.
    let padded = s.data;
    let stored = padded;
    let comp: Uint8Array;
    for (;;) {
      if (i === 0) {
        const r = rewriteCalls(padded, !!opts.calls);
        stored = r.data;
        marker = r.marker;
      } else stored = padded;
      comp = aspackEncode(stored, opts.encode);
      if (comp.length <= padded.length) break;
      const next = new Uint8Array(comp.length + 64);
      next.set(s.data);
      padded = next;
    }
    const vsize = alignUp(Math.max(s.vsize ?? 0, padded.length, 1), 0x1000);
    specs.push({ name: s.name ?? `.s${i}`, data: comp, vsize, rva });
    blocks.push([rva, padded.length]);
    rva += vsize;
  });
  const loaderRva = rva;
  const loader = new Uint8Array(0x800).fill(0x90);
  loader.set([0x60, 0xe8, 0x03, 0x00, 0x00, 0x00, 0xe9, 0xeb], 1);
  loader.set([0x68, 0, 0, 0, 0, 0xc3], 1 + off.sig);
  const dv = new DataView(loader.buffer);
  const rec = version === '2.12' ? 8 : 12;
  let at = off.blocks;
  blocks.forEach(([r, n], k) => {
    dv.setUint32(at, r, true);
    dv.setUint32(at + 4, n, true);
    at += rec;
    if (k === 0 && opts.skipRecord && version !== '2.12') {
      dv.setUint32(at, 0x12345, true);
      dv.setUint32(at + 4, 0xfffffef2, true);
      at += rec;
    }
  });
  dv.setUint32(at, 0, true);
  dv.setUint32(at + 4, 0, true);
  ASPACK_LEN_BASE.forEach((v, k) => { loader[off.comp + k] = v; });
  ASPACK_LEN_BITS.forEach((v, k) => { loader[off.comp + 0x1c + k] = v; });
  ASPACK_DIST_BITS.forEach((v, k) => { loader[off.mlt + k] = v; });
  loader[off.marker] = marker;
  dv.setUint32(off.oep, entry, true);
  specs.push({ name: '.aspack', data: loader, vsize: 0x1000, rva: loaderRva });
  specs.push({ name: '.adata', data: new Uint8Array(0), vsize: 0x1000, rva: loaderRva + 0x1000 });
  const vep = loaderRva + (opts.keepLoader ? 0x101 : 1);
  if (opts.keepLoader) {
    // The entry moves; the loader's tables move with it.
    const moved = new Uint8Array(0x900).fill(0x90);
    moved.set(loader, 0x100);
    specs[specs.length - 2] = { name: '.aspack', data: moved, vsize: 0x1000, rva: loaderRva };
  }
  return buildPe(specs, vep, { imageBase: opts.imageBase ?? 0x400000 }).bytes;
}
