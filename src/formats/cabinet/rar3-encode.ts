/**
 * A minimal RAR 4 archive writer with method 2.9 compression, for tests only.
 *
 * In: files (name, bytes, optionally an E8E9 or DELTA filter) and options (solid, dictionary
 * size, block size, which symbol kinds to use). Out: a valid RAR 4 archive (marker, main header,
 * file headers with CRCs, compressed data, end block) and, per entry, the packed bytes and sizes
 * the decoder is given. Why: no RAR compressor is installed, and the decoder needs many varied
 * samples: several blocks with new tables (deltas from the previous ones), literals, matches with
 * every kind of distance code, repeated distances, the repeat-last symbol, short matches, filter
 * records (new filters and reuse of earlier ones), solid series keeping or renewing the tables.
 * Compression is greedy (hash chains); ratio does not matter.
 */
import { crc32 } from '../../core/crc32.js';

export interface Rar3EncodeFile {
  name: string;
  data: Uint8Array;
  /**
   * Filter applied to the file in chunks (the decoder undoes it). 'unknown' sends a program that
   * is no standard filter, over untransformed chunks (RAR's decoder then drops those chunks).
   */
  filter?: 'e8e9' | 'delta' | 'unknown';
  /** DELTA channels (1..8). */
  deltaChannels?: number;
}

export interface Rar3EncodeOptions {
  solid?: boolean;
  /** Dictionary size index 0..6 (64 KiB << n); default 4 (1 MiB). */
  dictIndex?: number;
  /** Tokens per block (a new table after each); default 4000. */
  blockTokens?: number;
  /** Longest hash chain searched; default 16. */
  maxChain?: number;
  /** Pseudo-random choices (repeat symbols, table renewal between solid files); default 1. */
  seed?: number;
  /** Filter chunk size; default 0x8000. */
  filterChunk?: number;
}

export interface Rar3EncodedEntry { name: string; packed: Uint8Array; unpackedSize: number; dictSize: number; solid: boolean }
export interface Rar3Encoded { archive: Uint8Array; entries: Rar3EncodedEntry[] }

/** Standard RarVM filter programs (recognised by their CRC-32 and length). */
const E8E9_CODE = hex('841b0128111069808000000d13a101c689d280ac9762855cc905c92f8148c8aa981895728881aac95b0020ab6a03355811a24821b01291f4b8');
const DELTA_CODE = hex('2f019a4180ec27482f09766dd3ea415b5944e8175ce16c914c4e3f7700');
/** A program with a valid checksum byte that is no standard filter. */
const UNKNOWN_CODE = (() => {
  const c = Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  let x = 0;
  for (let i = 1; i < c.length; i++) x ^= c[i]!;
  c[0] = x;
  return c;
})();

function hex(s: string): Uint8Array {
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return b;
}

const NC = 299, DC = 60, LDC = 17, RC = 28, BC = 20;
const LDECODE = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224];
const LBITS = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5];
const SDDECODE = [0, 4, 8, 16, 32, 64, 128, 192];
const SDBITS = [2, 2, 3, 4, 5, 6, 6, 6];
const DDECODE: number[] = [];
const DBITS: number[] = [];
{
  const counts = [4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 14, 0, 12];
  let d = 0;
  for (let bits = 0; bits < counts.length; bits++) for (let j = 0; j < counts[bits]!; j++, d += 1 << bits) { DDECODE.push(d); DBITS.push(bits); }
}

class BitWriter {
  private buf = new Uint8Array(1024);
  private len = 0;
  private acc = 0;
  private n = 0;
  put(value: number, bits: number): void {
    for (let i = bits - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >>> i) & 1);
      if (++this.n === 8) this.flushByte();
    }
  }
  align(): void { while (this.n !== 0) this.put(0, 1); }
  private flushByte(): void {
    if (this.len === this.buf.length) { const b = new Uint8Array(this.buf.length * 2); b.set(this.buf); this.buf = b; }
    this.buf[this.len++] = this.acc & 0xff;
    this.acc = 0;
    this.n = 0;
  }
  bytes(): Uint8Array { this.align(); return this.buf.slice(0, this.len); }
}

/** Code lengths (≤ maxLen) for the frequencies; unused symbols get 0. */
function huffLengths(freq: number[], maxLen: number): number[] {
  const f = freq.slice();
  // At least two codes (a one-code table is an incomplete prefix code, which other readers refuse).
  for (let i = 0; f.filter((x) => x > 0).length < 2 && i < f.length; i++) if (f[i] === 0) f[i] = 1;
  for (;;) {
    const nodes: { w: number; sym: number; l?: number; r?: number }[] = [];
    const heap: number[] = [];
    f.forEach((w, sym) => { if (w > 0) { nodes.push({ w, sym }); heap.push(nodes.length - 1); } });
    const lengths = new Array<number>(f.length).fill(0);
    if (heap.length === 0) return lengths;
    if (heap.length === 1) { lengths[nodes[0]!.sym] = 1; return lengths; }
    const byW = (a: number, b: number): number => nodes[a]!.w - nodes[b]!.w || a - b;
    while (heap.length > 1) {
      heap.sort(byW);
      const a = heap.shift()!, b = heap.shift()!;
      nodes.push({ w: nodes[a]!.w + nodes[b]!.w, sym: -1, l: a, r: b });
      heap.push(nodes.length - 1);
    }
    let max = 0;
    const walk = (i: number, d: number): void => {
      const nd = nodes[i]!;
      if (nd.sym >= 0) { lengths[nd.sym] = d; max = Math.max(max, d); return; }
      walk(nd.l!, d + 1); walk(nd.r!, d + 1);
    };
    walk(heap[0]!, 0);
    if (max <= maxLen) return lengths;
    for (let i = 0; i < f.length; i++) if (f[i]! > 0) f[i] = (f[i]! + 1) >> 1;
  }
}

/** Canonical codes as RAR's decoder assigns them (by length, then symbol). */
function canonical(lengths: number[]): number[] {
  const codes = new Array<number>(lengths.length).fill(0);
  let code = 0;
  for (let len = 1; len <= 15; len++) {
    for (let s = 0; s < lengths.length; s++) if (lengths[s] === len) codes[s] = code++;
    code <<= 1;
  }
  return codes;
}

/** A symbol of table t (0 main, 1 distance, 2 low distance, 3 repeat length) and extra bits, or (t -1) a filter record. */
interface Sym { t: number; sym: number; extra?: [number, number][]; filter?: Uint8Array }

interface Tables { len: number[]; code: number[] }

function slotOf(table: number[], bits: number[], v: number): number {
  let s = table.length - 1;
  while (table[s]! > v) s--;
  void bits;
  return s;
}

class Rng {
  constructor(private s: number) { this.s = s >>> 0 || 1; }
  next(): number { this.s ^= this.s << 13; this.s >>>= 0; this.s ^= this.s >>> 17; this.s ^= this.s << 5; this.s >>>= 0; return this.s / 4294967296; }
}

/** Encoder state kept across the files of a solid archive (mirrors the decoder's). */
class Encoder {
  readonly oldDist = [0, 0, 0, 0];
  lastLength = 0;
  oldLens: number[] = new Array<number>(NC + DC + LDC + RC).fill(0);
  haveTables = false;
  current: Tables[] = [];
  filterTypes: string[] = [];
  lastFilter = 0;
  history: Uint8Array = new Uint8Array(0);
  constructor(readonly opts: Required<Rar3EncodeOptions>, readonly rng: Rng) {}

  reset(): void {
    this.oldDist.fill(0);
    this.lastLength = 0;
    this.oldLens.fill(0);
    this.haveTables = false;
    this.filterTypes = [];
    this.lastFilter = 0;
    this.history = new Uint8Array(0);
  }

  /** Filter record bytes for a block [start, start+len) relative to the current position. */
  filterRecord(kind: 'e8e9' | 'delta' | 'unknown', blockStart: number, blockLength: number, channels: number): Uint8Array {
    const w = new BitWriter();
    let idx = this.filterTypes.indexOf(kind);
    const isNew = idx < 0;
    let first = 0;
    if (isNew) {
      idx = this.filterTypes.length;
      first |= 0x80;
      writeData(w, idx === 0 ? 0 : idx + 1);
      this.filterTypes.push(kind);
    } else if (idx !== this.lastFilter || this.rng.next() < 0.5) {
      first |= 0x80;
      writeData(w, idx + 1);
    }
    this.lastFilter = idx;
    let bs = blockStart;
    if (bs >= 258 && this.rng.next() < 0.5) { first |= 0x40; bs -= 258; }
    writeData(w, bs);
    first |= 0x20;
    writeData(w, blockLength);
    if (kind === 'delta') {
      first |= 0x10;
      w.put(1, 7);
      writeData(w, channels);
    }
    if (isNew) {
      const code = kind === 'e8e9' ? E8E9_CODE : kind === 'delta' ? DELTA_CODE : UNKNOWN_CODE;
      writeData(w, code.length);
      for (const b of code) w.put(b, 8);
    }
    const body = w.bytes();
    const out: number[] = [];
    const n = body.length;
    if (n <= 6) out.push(first | (n - 1));
    else if (n <= 7 + 255) out.push(first | 6, n - 7);
    else out.push(first | 7, n >> 8, n & 0xff);
    return Uint8Array.from([...out, ...body]);
  }
}

function writeData(w: BitWriter, v: number): void {
  if (v < 16) { w.put(0, 2); w.put(v, 4); } else if (v < 256) { w.put(1, 2); w.put(v, 8); } else if (v < 0x10000) { w.put(2, 2); w.put(v, 16); } else { w.put(3, 2); w.put(v >>> 16, 16); w.put(v & 0xffff, 16); }
}

function applyE8E9(d: Uint8Array, fileOffset: number): void {
  const size = d.length;
  const FS = 0x1000000;
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  for (let p = 0; p < size - 4;) {
    const c = d[p++]!;
    if (c === 0xe8 || c === 0xe9) {
      const offset = (p + fileOffset) >>> 0;
      const y = dv.getUint32(p, true);
      const ys = y | 0;
      let x = y;
      if (ys >= -offset && ys < FS - offset) x = (y + offset) >>> 0;
      else if (ys >= FS - offset && ys < FS) x = (y - FS) >>> 0;
      dv.setUint32(p, x, true);
      p += 4;
    }
  }
}

function applyDelta(d: Uint8Array, channels: number): Uint8Array {
  const out = new Uint8Array(d.length);
  let k = 0;
  for (let ch = 0; ch < channels; ch++) {
    let prev = 0;
    for (let i = ch; i < d.length; i += channels) { out[k++] = (prev - d[i]!) & 0xff; prev = d[i]!; }
  }
  return out;
}

/** Compresses one file's data (continuing `enc`'s state); returns the packed stream. */
function compressFile(enc: Encoder, file: Rar3EncodeFile, maxDist: number, lastOfSolid: boolean): Uint8Array {
  const opts = enc.opts;
  // Filtered view of the data, and filter records keyed by their start position.
  let data = file.data;
  const records = new Map<number, Uint8Array>();
  if (file.filter) {
    data = data.slice();
    const chunk = file.filter === 'delta' ? Math.min(opts.filterChunk, 0x20000) : Math.min(opts.filterChunk, 0x3c000);
    const ch = Math.max(1, Math.min(8, file.deltaChannels ?? 3));
    for (let s = 0; s < data.length; s += chunk) {
      const len = Math.min(chunk, data.length - s);
      if (file.filter === 'e8e9') {
        if (len < 5) continue;
        applyE8E9(data.subarray(s, s + len), s);
      } else if (file.filter === 'delta') {
        data.set(applyDelta(data.subarray(s, s + len), ch), s);
      }
      records.set(s, new Uint8Array([len & 0xff, (len >>> 8) & 0xff, (len >>> 16) & 0xff, ch]));
    }
  }
  // History (solid) + this file.
  const hist = enc.history;
  const buf = new Uint8Array(hist.length + data.length);
  buf.set(hist);
  buf.set(data, hist.length);
  const base = hist.length;
  const HASH = 1 << 15;
  const head = new Int32Array(HASH).fill(-1);
  const prev = new Int32Array(buf.length).fill(-1);
  const hash = (i: number): number => ((buf[i]! << 10) ^ (buf[i + 1]! << 5) ^ buf[i + 2]!) & (HASH - 1);
  const insert = (i: number): void => {
    if (i + 2 >= buf.length) return;
    const h = hash(i);
    prev[i] = head[h]!;
    head[h] = i;
  };
  for (let i = Math.max(0, base - maxDist); i < base; i++) insert(i);

  // Symbols of this file, in blocks.
  const syms: Sym[] = [];
  const pending = [...records.keys()].sort((a, b) => a - b);
  let pi = 0;
  const od = enc.oldDist;
  let pos = base;
  const end = buf.length;
  while (pos < end) {
    // Best match.
    let bestLen = 0, bestDist = 0;
    if (pos + 2 < end) {
      let cand = head[hash(pos)]!;
      let chain = opts.maxChain;
      const maxLen = Math.min(257, end - pos);
      while (cand >= 0 && chain-- > 0 && pos - cand <= maxDist) {
        let l = 0;
        while (l < maxLen && buf[cand + l] === buf[pos + l]) l++;
        if (l > bestLen) { bestLen = l; bestDist = pos - cand; }
        cand = prev[cand]!;
      }
      // Repeated distances.
      for (let r = 0; r < 4; r++) {
        const d = od[r]!;
        if (d === 0 || d > pos) continue;
        let l = 0;
        const maxL = Math.min(257, end - pos);
        while (l < maxL && buf[pos - d + l] === buf[pos + l]) l++;
        if (l >= 2 && l + 1 >= bestLen) { bestLen = l; bestDist = d; }
      }
    }
    let L = bestLen;
    const D = bestDist;
    let sym: Sym | undefined;
    const repIdx = L >= 2 ? od.indexOf(D) : -1;
    if (repIdx === 0 && L === enc.lastLength && L >= 2 && enc.rng.next() < 0.7) {
      sym = { t: 0, sym: 258 };
    } else if (repIdx >= 0 && L >= 2) {
      L = Math.min(L, 257);
      const v = L - 2;
      const s = slotOf(LDECODE, LBITS, v);
      sym = { t: 0, sym: 259 + repIdx, extra: [] };
      const lsym: Sym = { t: 3, sym: s, extra: LBITS[s]! ? [[v - LDECODE[s]!, LBITS[s]!]] : [] };
      od.splice(repIdx, 1);
      od.unshift(D);
      enc.lastLength = L;
      syms.push(...flushFilters(pos, L), sym, lsym);
      pos = advance(pos, L);
      continue;
    } else if (L === 2 && D <= 256) {
      const v = D - 1;
      const s = slotOf(SDDECODE, SDBITS, v);
      sym = { t: 0, sym: 263 + s, extra: SDBITS[s]! ? [[v - SDDECODE[s]!, SDBITS[s]!]] : [] };
      od.unshift(D); od.length = 4;
      enc.lastLength = 2;
    } else {
      const adj = (D >= 0x2000 ? 1 : 0) + (D >= 0x40000 ? 1 : 0);
      if (L > 255 + 3 + adj) L = 255 + 3 + adj;
      if (L >= 3 + adj && L >= 3) {
        const v = L - 3 - adj;
        const s = slotOf(LDECODE, LBITS, v);
        const ds = slotOf(DDECODE, DBITS, D - 1);
        const dx = D - 1 - DDECODE[ds]!;
        const dbits = DBITS[ds]!;
        const extra: [number, number][] = LBITS[s]! ? [[v - LDECODE[s]!, LBITS[s]!]] : [];
        syms.push(...flushFilters(pos, L), { t: 0, sym: 271 + s, extra });
        if (ds > 9) {
          const e: [number, number][] = dbits > 4 ? [[dx >>> 4, dbits - 4]] : [];
          syms.push({ t: 1, sym: ds, extra: e }, { t: 2, sym: dx & 15, extra: [] });
        } else {
          syms.push({ t: 1, sym: ds, extra: dbits ? [[dx, dbits]] : [] });
        }
        od.unshift(D); od.length = 4;
        enc.lastLength = L;
        pos = advance(pos, L);
        continue;
      }
      L = 1;
      sym = { t: 0, sym: buf[pos]! };
    }
    if (sym.t === 0 && sym.sym === 258) L = enc.lastLength;
    syms.push(...flushFilters(pos, L), sym);
    pos = advance(pos, L);
  }
  enc.history = buf.subarray(Math.max(0, buf.length - maxDist));

  function advance(p: number, n: number): number {
    for (let i = 0; i < n; i++) insert(p + i);
    return p + n;
  }
  function flushFilters(p: number, n: number): Sym[] {
    const out: Sym[] = [];
    while (pi < pending.length && pending[pi]! + base < p + Math.max(n, 1)) {
      const start = pending[pi]!;
      const r = records.get(start)!;
      const len = r[0]! | (r[1]! << 8) | (r[2]! << 16);
      const rel = start + base - p;
      if (rel >= 0) out.push({ t: -1, sym: 257, filter: enc.filterRecord(file.filter!, rel, len, r[3]!) });
      pi++;
    }
    return out;
  }

  // Emit blocks.
  const w = new BitWriter();
  let first = true;
  for (let i = 0, next = 0; i < syms.length || first; i = next) {
    // A block ends between tokens (a match's distance symbols stay with it).
    next = Math.min(syms.length, i + opts.blockTokens);
    while (next < syms.length && syms[next]!.t > 0) next++;
    const part = syms.slice(i, next);
    if (!first || !enc.haveTables) {
      if (!first) { putSym(w, enc.current[0]!, 256); w.put(1, 1); }
      enc.current = writeTables(w, enc, part);
      enc.haveTables = true;
    }
    first = false;
    for (const s of part) {
      if (s.t === -1) {
        putSym(w, enc.current[0]!, 257);
        for (const b of s.filter!) w.put(b, 8);
        continue;
      }
      putSym(w, enc.current[s.t]!, s.sym);
      for (const [v, n] of s.extra ?? []) w.put(v, n);
    }
  }
  // End of file: "00" keeps the tables for the next solid file, "01" asks for new ones.
  putSym(w, enc.current[0]!, 256);
  const keep = !lastOfSolid && enc.rng.next() < 0.5;
  w.put(0, 1);
  w.put(keep ? 0 : 1, 1);
  if (!keep) enc.haveTables = false;
  return w.bytes();
}

function putSym(w: BitWriter, t: Tables, s: number): void {
  const l = t.len[s]!;
  if (!l) throw new Error(`symbol ${s} has no code`);
  w.put(t.code[s]!, l);
}

/** Writes a table header for the symbols of a block (every symbol gets a code, so that the table can serve later blocks). */
function writeTables(w: BitWriter, enc: Encoder, part: Sym[]): Tables[] {
  const sizes = [NC, DC, LDC, RC];
  // Solid series may keep a table for the next file: then every symbol needs a code.
  const smooth = enc.opts.solid || enc.rng.next() < 0.5;
  const freqs = sizes.map((n) => new Array<number>(n).fill(smooth ? 1 : 0));
  for (const s of part) if (s.t >= 0) freqs[s.t]![s.sym]!++;
  freqs[0]![256]! += 2; freqs[0]![257]! += 1;
  const lens = freqs.map((f) => huffLengths(f, 15));
  const all = ([] as number[]).concat(...lens);
  w.align();
  const keepOld = enc.rng.next() < 0.6;
  w.put(0, 1);
  w.put(keepOld ? 1 : 0, 1);
  const old = keepOld ? enc.oldLens : new Array<number>(all.length).fill(0);
  // Pre-table symbols.
  const pre: [number, number, number][] = [];
  for (let i = 0; i < all.length;) {
    const v = all[i]!;
    let run = 1;
    while (i + run < all.length && all[i + run] === v) run++;
    if (v === 0 && run >= 3) {
      const n = Math.min(run, 11 + 127);
      if (n < 11) pre.push([18, n - 3, 3]); else pre.push([19, n - 11, 7]);
      i += n;
      continue;
    }
    if (i > 0 && all[i - 1] === v && run >= 3) {
      const n = Math.min(run, 11 + 127);
      if (n < 11) pre.push([16, n - 3, 3]); else pre.push([17, n - 11, 7]);
      i += n;
      continue;
    }
    pre.push([(v - old[i]! + 16) & 15, 0, 0]);
    i++;
  }
  const pf = new Array<number>(BC).fill(0);
  for (const [s] of pre) pf[s]!++;
  const pl = huffLengths(pf, 15);
  const pc = canonical(pl);
  for (let i = 0; i < BC;) {
    const l = pl[i]!;
    if (l === 0) {
      let run = 1;
      while (i + run < BC && pl[i + run] === 0 && run < 17) run++;
      if (run >= 3) { w.put(15, 4); w.put(run - 2, 4); i += run; continue; }
    }
    if (l === 15) { w.put(15, 4); w.put(0, 4); } else w.put(l, 4);
    i++;
  }
  for (const [s, v, n] of pre) {
    w.put(pc[s]!, pl[s]!);
    if (n) w.put(v, n);
  }
  enc.oldLens = all;
  return lens.map((len) => ({ len, code: canonical(len) }));
}

function dosTime(): number { return ((2020 - 1980) << 25) | (1 << 21) | (1 << 16); }

function header(type: number, flags: number, body: number[]): number[] {
  const size = 7 + body.length;
  const h = [type, flags & 0xff, flags >> 8, size & 0xff, size >> 8, ...body];
  const c = crc32(Uint8Array.from(h)) & 0xffff;
  return [c & 0xff, c >> 8, ...h];
}

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** Builds a RAR 4 archive of method 2.9 entries. */
export function encodeRar3Archive(files: Rar3EncodeFile[], options: Rar3EncodeOptions = {}): Rar3Encoded {
  const opts: Required<Rar3EncodeOptions> = {
    solid: options.solid ?? false,
    dictIndex: Math.max(0, Math.min(6, options.dictIndex ?? 4)),
    blockTokens: options.blockTokens ?? 4000,
    maxChain: options.maxChain ?? 16,
    seed: options.seed ?? 1,
    filterChunk: options.filterChunk ?? 0x8000,
  };
  const dictSize = 0x10000 << opts.dictIndex;
  const enc = new Encoder(opts, new Rng(opts.seed));
  const out: number[] = [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x00];
  out.push(...header(0x73, opts.solid ? 0x08 : 0, [0, 0, 0, 0, 0, 0]));
  const entries: Rar3EncodedEntry[] = [];
  files.forEach((f, i) => {
    const solidEntry = opts.solid && i > 0;
    if (!solidEntry) enc.reset();
    const packed = compressFile(enc, f, dictSize - 0x1000, !opts.solid || i === files.length - 1);
    const name = Array.from(Buffer.from(f.name, 'utf8'));
    const flags = 0x8000 | (solidEntry ? 0x10 : 0) | (opts.dictIndex << 5);
    const body = [
      ...le32(packed.length), ...le32(f.data.length), 3, ...le32(crc32(f.data)), ...le32(dosTime()),
      29, 0x33, name.length & 0xff, name.length >> 8, ...le32(0x81a4), ...name,
    ];
    out.push(...header(0x74, flags, body));
    for (const b of packed) out.push(b);
    entries.push({ name: f.name, packed, unpackedSize: f.data.length, dictSize, solid: solidEntry });
  });
  out.push(...header(0x7b, 0x4000, []));
  return { archive: Uint8Array.from(out), entries };
}

// ------------------------------------------------------------------ version 2.0

const DDECODE20: number[] = [];
const DBITS20: number[] = [];
{
  // Slots 0..3 one distance each; then pairs of slots whose extra bits grow by one, up to 16 bits.
  let d = 0;
  for (let s = 0; s < 48; s++) {
    const bits = s < 4 ? 0 : Math.min(16, (s >> 1) - 1);
    DDECODE20.push(d);
    DBITS20.push(bits);
    d += 1 << bits;
  }
}

/** Encoder-side copy of the 2.0 multimedia predictor of one channel. */
class AudioPredictor {
  k = [0, 0, 0, 0, 0];
  d1 = 0; d2 = 0; d3 = 0; d4 = 0;
  lastDelta = 0;
  dif = new Array<number>(11).fill(0);
  count = 0;
  lastChar = 0;
}

export interface Rar20EncodeOptions {
  seed?: number;
  blockTokens?: number;
  /** Multimedia channels (1..4): some blocks are then coded as audio blocks. */
  audioChannels?: number;
}

/** A method 2.0 packed stream for `data` (test only): LZ blocks and, optionally, audio blocks. */
export function encodeRar20Stream(data: Uint8Array, options: Rar20EncodeOptions = {}): Uint8Array {
  const rng = new Rng(options.seed ?? 1);
  const blockTokens = options.blockTokens ?? 3000;
  const channels = options.audioChannels ?? 0;
  const w = new BitWriter();
  const oldDist = [0, 0, 0, 0];
  let oldPtr = 0, lastDist = 0, lastLength = 0;
  const oldLens = new Array<number>(257 * 4).fill(0);
  const preds = [new AudioPredictor(), new AudioPredictor(), new AudioPredictor(), new AudioPredictor()];
  let channelDelta = 0, cur = 0;
  let pos = 0;
  let audioTables: Tables[] = [];
  let lzTables: Tables[] = [];
  let inAudio = false;
  let firstBlock = true;
  const HASH = 1 << 14;
  const head = new Int32Array(HASH).fill(-1);
  const prev = new Int32Array(data.length).fill(-1);
  const hash = (i: number): number => ((data[i]! << 8) ^ (data[i + 1]! << 4) ^ data[i + 2]!) & (HASH - 1);
  const insert = (i: number): void => { if (i + 2 < data.length) { const h = hash(i); prev[i] = head[h]!; head[h] = i; } };
  const push = (d: number, l: number): void => { lastDist = oldDist[oldPtr] = d; oldPtr = (oldPtr + 1) & 3; lastLength = l; };

  const writeTable20 = (audio: boolean, lens: number[]): void => {
    const keep = rng.next() < 0.5;
    w.put(audio ? 1 : 0, 1);
    w.put(keep ? 1 : 0, 1);
    if (audio) w.put(channels - 1, 2);
    // Without "keep", the decoder clears all its previous lengths; with it, lengths past this
    // table's size stay from older tables.
    if (!keep) oldLens.fill(0);
    const old = oldLens;
    const pre: [number, number, number][] = [];
    for (let i = 0; i < lens.length;) {
      const v = lens[i]!;
      let run = 1;
      while (i + run < lens.length && lens[i + run] === v) run++;
      if (v === 0 && run >= 3) {
        const n = Math.min(run, 138);
        if (n < 11) pre.push([17, n - 3, 3]); else pre.push([18, n - 11, 7]);
        i += n;
      } else if (i > 0 && lens[i - 1] === v && run >= 3) {
        const n = Math.min(run, 6);
        pre.push([16, n - 3, 2]);
        i += n;
      } else {
        pre.push([(v - old[i]! + 16) & 15, 0, 0]);
        i++;
      }
    }
    const pf = new Array<number>(19).fill(0);
    for (const [s] of pre) pf[s]!++;
    const pl = huffLengths(pf, 15);
    const pc = canonical(pl);
    for (let i = 0; i < 19; i++) w.put(pl[i]!, 4);
    for (const [s, v, n] of pre) { w.put(pc[s]!, pl[s]!); if (n) w.put(v, n); }
    lens.forEach((l, i) => { oldLens[i] = l; });
  };

  while (pos < data.length || firstBlock) {
    // The previous block ends with its "new table" symbol.
    const end = firstBlock ? undefined : endSym();
    const audio = channels > 0 && rng.next() < 0.5;
    if (audio) {
      const n = Math.min(blockTokens, data.length - pos);
      // Prediction errors of this block (the predictor state is advanced as the decoder will).
      const syms: [number, number][] = [];
      for (let i = 0; i < n; i++) {
        if (cur >= channels) cur = 0;
        const v = preds[cur]!;
        const ch = data[pos + i]!;
        v.count++;
        v.d4 = v.d3; v.d3 = v.d2; v.d2 = v.lastDelta - v.d1; v.d1 = v.lastDelta;
        const pch = ((8 * v.lastChar + v.k[0]! * v.d1 + v.k[1]! * v.d2 + v.k[2]! * v.d3 + v.k[3]! * v.d4 + v.k[4]! * channelDelta) >> 3) & 0xff;
        const delta = (pch - ch) & 0xff;
        const real = pch - delta;
        const d = ((delta << 24) >> 24) * 8;
        const terms = [d, d - v.d1, d + v.d1, d - v.d2, d + v.d2, d - v.d3, d + v.d3, d - v.d4, d + v.d4, d - channelDelta, d + channelDelta];
        terms.forEach((t, j) => { v.dif[j]! += Math.abs(t); });
        channelDelta = v.lastDelta = ((real - v.lastChar) << 24) >> 24;
        v.lastChar = real;
        if ((v.count & 0x1f) === 0) {
          let min = v.dif[0]!, num = 0;
          for (let j = 1; j < 11; j++) if (v.dif[j]! < min) { min = v.dif[j]!; num = j; }
          v.dif.fill(0);
          if (num > 0) {
            const k = (num - 1) >> 1;
            if (num & 1) { if (v.k[k]! >= -16) v.k[k]!--; } else if (v.k[k]! < 16) v.k[k]!++;
          }
        }
        syms.push([cur, delta]);
        cur++;
        if (cur === channels) cur = 0;
      }
      for (let i = 0; i < n; i++) insert(pos + i);
      if (end) w.put(...end);
      const freqs = Array.from({ length: channels }, () => new Array<number>(257).fill(0));
      for (const [c, s] of syms) freqs[c]![s]!++;
      for (const f of freqs) f[256]!++;
      const lens = freqs.map((f) => huffLengths(f, 15));
      writeTable20(true, ([] as number[]).concat(...lens));
      audioTables = lens.map((len) => ({ len, code: canonical(len) }));
      inAudio = true;
      firstBlock = false;
      for (const [c, s] of syms) putSym(w, audioTables[c]!, s);
      pos += n;
      continue;
    }
    // An LZ block.
    const syms: { t: number; sym: number; extra: [number, number][] }[] = [];
    let count = 0;
    while (pos < data.length && count++ < blockTokens) {
      let bestLen = 0, bestDist = 0;
      if (pos + 2 < data.length) {
        let cand = head[hash(pos)]!, chain = 8;
        const maxLen = Math.min(255, data.length - pos);
        while (cand >= 0 && chain-- > 0 && pos - cand < 0xfff00) {
          let l = 0;
          while (l < maxLen && data[cand + l] === data[pos + l]) l++;
          if (l > bestLen) { bestLen = l; bestDist = pos - cand; }
          cand = prev[cand]!;
        }
      }
      const L = bestLen, D = bestDist;
      const adj = (D >= 0x2000 ? 1 : 0) + (D >= 0x40000 ? 1 : 0);
      const rep = L >= 2 ? [1, 2, 3, 4].find((k) => oldDist[(oldPtr - k) & 3] === D) : undefined;
      if (L >= 2 && D === lastDist && L === lastLength && rng.next() < 0.7) {
        syms.push({ t: 0, sym: 256, extra: [] });
        push(D, L);
      } else if (rep !== undefined && L >= 2 + (D >= 0x101 ? 1 : 0) + adj) {
        const extraAdj = (D >= 0x101 ? 1 : 0) + adj;
        const Lc = Math.min(L, 257 + extraAdj);
        const v = Lc - 2 - extraAdj;
        const s = slotOf(LDECODE, LBITS, v);
        syms.push({ t: 0, sym: 256 + rep, extra: [] }, { t: 2, sym: s, extra: LBITS[s]! ? [[v - LDECODE[s]!, LBITS[s]!]] : [] });
        push(D, Lc);
        for (let i = 0; i < Lc; i++) insert(pos + i);
        pos += Lc;
        continue;
      } else if (L === 2 && D <= 256) {
        const s = slotOf(SDDECODE, SDBITS, D - 1);
        syms.push({ t: 0, sym: 261 + s, extra: SDBITS[s]! ? [[D - 1 - SDDECODE[s]!, SDBITS[s]!]] : [] });
        push(D, 2);
      } else if (L >= 3 + adj) {
        const Lc = Math.min(L, 258 + adj);
        const v = Lc - 3 - adj;
        const s = slotOf(LDECODE, LBITS, v);
        const ds = slotOf(DDECODE20, DBITS20, D - 1);
        syms.push({ t: 0, sym: 270 + s, extra: LBITS[s]! ? [[v - LDECODE[s]!, LBITS[s]!]] : [] });
        syms.push({ t: 1, sym: ds, extra: DBITS20[ds]! ? [[D - 1 - DDECODE20[ds]!, DBITS20[ds]!]] : [] });
        push(D, Lc);
        for (let i = 0; i < Lc; i++) insert(pos + i);
        pos += Lc;
        continue;
      } else {
        syms.push({ t: 0, sym: data[pos]!, extra: [] });
        insert(pos);
        pos++;
        continue;
      }
      // 256 and short matches: length already fixed.
      const len = syms[syms.length - 1]!.sym === 256 ? L : 2;
      for (let i = 0; i < len; i++) insert(pos + i);
      pos += len;
    }
    if (end) w.put(...end);
    const freqs = [new Array<number>(298).fill(0), new Array<number>(48).fill(0), new Array<number>(28).fill(0)];
    for (const s of syms) freqs[s.t]![s.sym]!++;
    freqs[0]![269]!++;
    const lens = freqs.map((f) => huffLengths(f, 15));
    writeTable20(false, ([] as number[]).concat(...lens));
    lzTables = lens.map((len) => ({ len, code: canonical(len) }));
    inAudio = false;
    firstBlock = false;
    for (const s of syms) {
      putSym(w, lzTables[s.t]!, s.sym);
      for (const [v, n] of s.extra) w.put(v, n);
    }
  }
  return w.bytes();

  /** The code of "new table" in the current block's mode, as [value, bits]. */
  function endSym(): [number, number] {
    if (inAudio) {
      const t = audioTables[cur >= channels ? 0 : cur]!;
      return [t.code[256]!, t.len[256]!];
    }
    return [lzTables[0]!.code[269]!, lzTables[0]!.len[269]!];
  }
}

// ------------------------------------------------------------------ version 1.5

// The fixed prefix codes of version 1.5 (limits of each code length, first value per length).
const V15 = {
  L1: { start: 2, dec: [0x8000, 0xa000, 0xc000, 0xd000, 0xe000, 0xea00, 0xee00, 0xf000, 0xf200, 0xf200, 0xffff], pos: [0, 0, 0, 2, 3, 5, 7, 11, 16, 20, 24, 32, 32] },
  L2: { start: 3, dec: [0xa000, 0xc000, 0xd000, 0xe000, 0xea00, 0xee00, 0xf000, 0xf200, 0xf240, 0xffff], pos: [0, 0, 0, 0, 5, 7, 9, 13, 18, 22, 26, 34, 36] },
  HF0: { start: 4, dec: [0x8000, 0xc000, 0xe000, 0xf200, 0xf200, 0xf200, 0xf200, 0xf200, 0xffff], pos: [0, 0, 0, 0, 0, 8, 16, 24, 33, 33, 33, 33, 33] },
  HF1: { start: 5, dec: [0x2000, 0xc000, 0xe000, 0xf000, 0xf200, 0xf200, 0xf7e0, 0xffff], pos: [0, 0, 0, 0, 0, 0, 4, 44, 60, 76, 80, 80, 127] },
  HF2: { start: 5, dec: [0x1000, 0x2400, 0x8000, 0xc000, 0xfa00, 0xffff, 0xffff, 0xffff], pos: [0, 0, 0, 0, 0, 0, 2, 7, 53, 117, 233, 0, 0] },
  HF3: { start: 6, dec: [0x800, 0x2400, 0xee00, 0xfe80, 0xffff, 0xffff, 0xffff], pos: [0, 0, 0, 0, 0, 0, 0, 2, 16, 218, 251, 0, 0] },
  HF4: { start: 8, dec: [0xff00, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff], pos: [0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0] },
};
type Code15 = (typeof V15)['L1'];
const SHORT_LEN1 = [1, 3, 4, 4, 5, 6, 7, 8, 8, 4, 4, 5, 6, 6, 4];
const SHORT_XOR1 = [0, 0xa0, 0xd0, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe, 0xff, 0xc0, 0x80, 0x90, 0x98, 0x9c, 0xb0];
const SHORT_LEN2 = [2, 3, 3, 3, 4, 4, 5, 6, 6, 4, 4, 5, 6, 6, 4];
const SHORT_XOR2 = [0, 0x40, 0x60, 0xa0, 0xd0, 0xe0, 0xf0, 0xf8, 0xfc, 0xc0, 0x80, 0x90, 0x98, 0x9c, 0xb0];

/** The bits [value, count] that the fixed code `c` decodes as `v`, or undefined. */
function code15(c: Code15, v: number): [number, number] | undefined {
  for (let i = 0; i < c.dec.length; i++) {
    const len = c.start + i;
    const lo = i ? c.dec[i - 1]! : 0;
    const n = (c.dec[i]! - lo) >>> (16 - len);
    const first = c.pos[len]!;
    if (n > 0 && v >= first && v < first + n) return [(lo >>> (16 - len)) + (v - first), len];
  }
  return undefined;
}

function corrHuff15(set: Uint16Array, toPlace: Uint8Array): void {
  let k = 0;
  for (let i = 7; i >= 0; i--) for (let j = 0; j < 32; j++, k++) set[k] = (set[k]! & ~0xff) | i;
  toPlace.fill(0);
  for (let i = 6; i >= 0; i--) toPlace[i] = (7 - i) * 32;
}

/**
 * A method 1.5 packed stream for `data` (test only): literals (in flag mode and in the run mode
 * the format switches to after many literals), short matches (new distances from the adaptive
 * distance table, and repeats of the last match) and long matches. The adaptive tables are
 * updated exactly as the format's decoder updates them.
 */
export function encodeRar15Stream(data: Uint8Array, seed = 1): Uint8Array {
  const rng = new Rng(seed);
  const chSet = new Uint16Array(256), chSetA = new Uint16Array(256), chSetB = new Uint16Array(256), chSetC = new Uint16Array(256);
  const nToPl = new Uint8Array(256), nToPlB = new Uint8Array(256), nToPlC = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    chSet[i] = chSetB[i] = i << 8;
    chSetA[i] = i;
    chSetC[i] = ((~i + 1) & 0xff) << 8;
  }
  corrHuff15(chSetB, nToPlB);
  let avrPlc = 0x3500, avrPlcB = 0, avrLn1 = 0, avrLn2 = 0, avrLn3 = 0, numHuf = 0, maxDist3 = 0x2001;
  let nhfb = 0x80, nlzb = 0x80, stMode = false, lCount = 0;
  const oldDist = [0, 0, 0, 0];
  let oldPtr = 0, lastDist = 0, lastLength = 0;

  // Output: bit groups, with placeholders for flag bytes (filled when their 8 bits are known).
  const out: [number, number][] = [];
  const flagSlots: { at: number; value: number }[] = [];
  let flagsCnt = 0;
  let flagBits = 0;
  const newFlagByte = (): void => {
    flagSlots.push({ at: out.length, value: 0 });
    out.push([0, -1]);
    flagBits = 0;
  };
  const takeFlag = (bit: number): void => {
    if (--flagsCnt < 0) { newFlagByte(); flagsCnt = 7; }
    if (bit) flagSlots[flagSlots.length - 1]!.value |= 0x80 >> flagBits;
    flagBits++;
  };
  const put = (c: [number, number] | undefined): void => {
    if (!c) throw new Error('value not codable');
    out.push(c);
  };
  const hfTable = (): Code15 => (avrPlc > 0x75ff ? V15.HF4 : avrPlc > 0x5dff ? V15.HF3 : avrPlc > 0x35ff ? V15.HF2 : avrPlc > 0x0dff ? V15.HF1 : V15.HF0);
  const pushDist = (d: number, l: number): void => { oldDist[oldPtr] = d; oldPtr = (oldPtr + 1) & 3; lastDist = d; lastLength = l; };

  /** A literal through the adaptive literal table (the caller has spent its flag bits). */
  const literal = (byte: number): void => {
    let place = 0;
    while (chSet[place]! >> 8 !== byte) place++;
    if (stMode) {
      put(code15(hfTable(), place + 1));
    } else {
      put(code15(hfTable(), place));
      if (numHuf++ >= 16 && flagsCnt === 0) stMode = true;
    }
    avrPlc += place;
    avrPlc -= avrPlc >>> 8;
    nhfb += 16;
    if (nhfb > 0xff) { nhfb = 0x90; nlzb >>>= 1; }
    let cur: number, np: number;
    for (;;) {
      cur = chSet[place]!;
      np = nToPl[cur & 0xff]!;
      nToPl[cur & 0xff] = np + 1;
      cur++;
      if ((cur & 0xff) > 0xa1) corrHuff15(chSet, nToPl); else break;
    }
    chSet[place] = chSet[np]!;
    chSet[np] = cur;
  };
  /** Flag bits selecting the literal or the long-match decoder. */
  const chooseHuff = (): void => { if (nlzb > nhfb) { takeFlag(0); takeFlag(1); } else takeFlag(1); };
  const chooseLong = (): void => { if (nlzb > nhfb) takeFlag(1); else { takeFlag(0); takeFlag(1); } };
  const shortCode = (idx: number): [number, number] => {
    const len = avrLn1 < 37 ? SHORT_LEN1[idx]! : SHORT_LEN2[idx]!;
    const x = avrLn1 < 37 ? SHORT_XOR1[idx]! : SHORT_XOR2[idx]!;
    return [x >> (8 - len), len];
  };
  /** Long match: raw length code, then the distance's high byte through the adaptive table. */
  const longMatch = (raw: number, d: number): void => {
    numHuf = 0;
    nlzb += 16;
    if (nlzb > 0xff) { nlzb = 0x90; nhfb >>>= 1; }
    const oldAvr2 = avrLn2;
    if (avrLn2 >= 122) put(code15(V15.L2, raw));
    else if (avrLn2 >= 64) put(code15(V15.L1, raw));
    else if (raw < 8 && rng.next() < 0.7) put([1, raw + 1]);
    else put([raw, 16]);
    avrLn2 += raw;
    avrLn2 -= avrLn2 >>> 5;
    const hi = d >> 7;
    let place = 0;
    while (chSetB[place]! >> 8 !== hi) place++;
    put(code15(avrPlcB > 0x28ff ? V15.HF2 : avrPlcB > 0x6ff ? V15.HF1 : V15.HF0, place));
    avrPlcB += place;
    avrPlcB -= avrPlcB >>> 8;
    let dist: number, np: number;
    for (;;) {
      dist = chSetB[place]!;
      np = nToPlB[dist & 0xff]!;
      nToPlB[dist & 0xff] = np + 1;
      dist++;
      if (!(dist & 0xff)) corrHuff15(chSetB, nToPlB); else break;
    }
    chSetB[place] = chSetB[np]!;
    chSetB[np] = dist;
    put([d & 0x7f, 7]);
    const oldAvr3 = avrLn3;
    if (raw !== 1 && raw !== 4) {
      if (raw === 0 && d <= maxDist3) { avrLn3++; avrLn3 -= avrLn3 >>> 8; } else if (avrLn3 > 0) avrLn3--;
    }
    if (oldAvr3 > 0xb0 || (avrPlc >= 0x2a00 && oldAvr2 < 0x40)) maxDist3 = 0x7f00; else maxDist3 = 0x2001;
  };

  // Parse.
  newFlagByte();
  flagsCnt = 8;
  let pos = 0;
  while (pos < data.length) {
    let bestLen = 0, bestDist = 0;
    for (let d = 1; d <= Math.min(pos, 0x7000); d += d < 300 ? 1 : 37) {
      let l = 0;
      while (l < 200 && pos + l < data.length && data[pos + l] === data[pos - d + l]) l++;
      if (l > bestLen) { bestLen = l; bestDist = d; }
      if (bestLen >= 60) break;
    }
    const L = bestLen, D = bestDist;
    if (stMode) {
      if (L >= 3 && D >= 1 && D < 8192 && rng.next() < 0.6) {
        // Run-mode escape: a match of 3 or 4 at a distance of up to 13 bits.
        const n = L >= 4 ? 4 : 3;
        put(code15(hfTable(), 0)); put([0, 1]); put([n === 4 ? 1 : 0, 1]);
        put(code15(V15.HF2, D >> 5)); put([D & 31, 5]);
        pos += n;
        continue;
      }
      let place = 0;
      while (chSet[place]! >> 8 !== data[pos]) place++;
      if (place < 255 && (L < 3 || rng.next() < 0.5)) { literal(data[pos]!); pos++; continue; }
      put(code15(hfTable(), 0)); put([1, 1]);
      stMode = false;
      numHuf = 0;
      continue;
    }
    if (L >= 2 && D === lastDist && L >= lastLength && lastLength > 0 && rng.next() < 0.5) {
      // Short match code 9: repeat the last match.
      takeFlag(0); takeFlag(0);
      if (lCount === 2) { put([1, 1]); } else { numHuf = 0; put(shortCode(9)); lCount++; }
      numHuf = 0;
      pos += lastLength;
      continue;
    }
    if (L >= 2 && L <= 10 && D <= 256 && rng.next() < 0.7) {
      takeFlag(0); takeFlag(0);
      numHuf = 0;
      if (lCount === 2) put([0, 1]);
      lCount = 0;
      put(shortCode(L - 2));
      avrLn1 += L - 2;
      avrLn1 -= avrLn1 >>> 4;
      let place = 0;
      while (chSetA[place]! + 1 !== D) place++;
      put(code15(V15.HF2, place));
      const dv = chSetA[place]!;
      if (place > 0) { chSetA[place] = chSetA[place - 1]!; chSetA[place - 1] = dv; }
      pushDist(D, L);
      pos += L;
      continue;
    }
    if (L >= 3 && D < 0x8000) {
      const extra = (D >= maxDist3 ? 1 : 0) + (D <= 256 ? 8 : 0);
      const n = Math.min(L, 254 + 3 + extra);
      const raw = n - 3 - extra;
      if (raw >= 0) {
        chooseLong();
        longMatch(raw, D);
        pushDist(D, n);
        pos += n;
        continue;
      }
    }
    chooseHuff();
    literal(data[pos]!);
    pos++;
  }

  // Flag bytes: each one's code from the flag table as it stands when the decoder reads it.
  for (const slot of flagSlots) {
    let place = 0;
    while (chSetC[place]! >> 8 !== slot.value) place++;
    out[slot.at] = code15(V15.HF2, place)!;
    let flags: number, np: number;
    for (;;) {
      flags = chSetC[place]!;
      np = nToPlC[flags & 0xff]!;
      nToPlC[flags & 0xff] = np + 1;
      flags++;
      if ((flags & 0xff) !== 0) break;
      corrHuff15(chSetC, nToPlC);
    }
    chSetC[place] = chSetC[np]!;
    chSetC[np] = flags;
  }
  const w = new BitWriter();
  for (const [v, n] of out) w.put(v, n);
  return w.bytes();
}
