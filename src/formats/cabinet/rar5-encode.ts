/**
 * A minimal RAR 5 archive writer for tests: makes archives with compressed entries that real RAR
 * readers accept, so the decoder can be checked against them.
 *
 * In: files (name, bytes, optionally stored, optionally filter ranges) and options (solid, tokens
 * per block, dictionary, an archive comment). Out: the archive's bytes: signature, main header, one file header per
 * entry (CRC-32 of the data, compression version 0, method 3), the compressed data, end header.
 *
 * The compressor is a small greedy LZ77 (hash chains, the four last distances tried first) whose
 * symbols are split into blocks of `blockTokens`, each with its own Huffman tables (every third
 * block after the first reuses the previous tables), so the streams use literals, new matches,
 * repeat matches (symbols 257..261), several blocks, and, when asked, DELTA/E8/E8E9/ARM filters
 * (the range is transformed forward before compression; the filter symbol tells the reader to undo
 * it). In solid mode the history and the last distances go on from entry to entry.
 *
 * Why: no RAR compressor exists here; tests need valid compressed archives of known content.
 */
import { crc32 } from '../../core/crc32.js';

export type Rar5FilterKind = 'delta' | 'e8' | 'e8e9' | 'arm';

export interface Rar5EncodeFilter {
  kind: Rar5FilterKind;
  /** Range in the entry's bytes. */
  start: number;
  length: number;
  /** DELTA channels (1..32). */
  channels?: number;
}

export interface Rar5EncodeFile {
  name: string;
  data: Uint8Array;
  stored?: boolean;
  dir?: boolean;
  filters?: Rar5EncodeFilter[];
  /** Marks the entry encrypted (an encryption record in its extra area; the data stays plain). */
  encryptedFlag?: boolean;
  /** The data continues in the next volume (header flag 0x10). */
  splitAfter?: boolean;
}

export interface Rar5EncodeOptions {
  solid?: boolean;
  /** Symbols per block (default 4096). */
  blockTokens?: number;
  /** Dictionary: 128 KiB << dictBits (default: the smallest that holds the data, at most 15). */
  dictBits?: number;
  /** Compression version written in the headers (default 0; 1 declares RAR 7.0 data). */
  version?: number;
  /** An archive comment ("CMT" service header after the main header), compressed unless `commentStored`. */
  comment?: Uint8Array;
  commentStored?: boolean;
}

class BitWriter {
  bytes: number[] = [];
  private acc = 0;
  private n = 0;
  bitLength = 0;
  write(value: number, bits: number): void {
    for (let i = bits - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | (Math.floor(value / 2 ** i) & 1);
      this.n++;
      this.bitLength++;
      if (this.n === 8) { this.bytes.push(this.acc); this.acc = 0; this.n = 0; }
    }
  }
  finish(): Uint8Array {
    if (this.n > 0) { this.bytes.push(this.acc << (8 - this.n)); this.acc = 0; this.n = 0; }
    return Uint8Array.from(this.bytes);
  }
}

/** Code lengths (at most `maxBits`) for the frequencies; at least two symbols get a code. */
function huffLengths(freq: number[], maxBits = 15): number[] {
  const f = freq.slice();
  let used = f.filter((x) => x > 0).length;
  for (let i = 0; used < 2 && i < f.length; i++) if (f[i] === 0) { f[i] = 1; used++; }
  for (;;) {
    const nodes: { w: number; syms: number[] }[] = [];
    f.forEach((w, s) => { if (w > 0) nodes.push({ w, syms: [s] }); });
    const len = new Array<number>(f.length).fill(0);
    while (nodes.length > 1) {
      nodes.sort((a, b) => a.w - b.w);
      const a = nodes.shift()!;
      const b = nodes.shift()!;
      for (const s of a.syms) len[s]!++;
      for (const s of b.syms) len[s]!++;
      nodes.push({ w: a.w + b.w, syms: a.syms.concat(b.syms) });
    }
    if (Math.max(...len) <= maxBits) return len;
    for (let i = 0; i < f.length; i++) if (f[i]! > 0) f[i] = (f[i]! >> 1) | 1;
  }
}

/** Canonical codes for lengths (shorter first, then by symbol), as the reader assigns them. */
function canonical(len: number[]): number[] {
  const codes = new Array<number>(len.length).fill(0);
  let code = 0;
  for (let l = 1; l <= 15; l++) {
    for (let s = 0; s < len.length; s++) if (len[s] === l) codes[s] = code++;
    code <<= 1;
  }
  return codes;
}

function lengthSlot(len: number): { slot: number; bits: number; extra: number } {
  if (len < 10) return { slot: len - 2, bits: 0, extra: 0 };
  for (let slot = 8; slot < 44; slot++) {
    const lb = (slot >> 2) - 1;
    const base = 2 + ((4 | (slot & 3)) << lb);
    if (len >= base && len - base < 1 << lb) return { slot, bits: lb, extra: len - base };
  }
  throw new Error(`length ${len}`);
}

function distSlot(dist: number): { slot: number; bits: number; extra: number } {
  if (dist <= 4) return { slot: dist - 1, bits: 0, extra: 0 };
  for (let slot = 4; slot < 64; slot++) {
    const db = (slot >> 1) - 1;
    const base = 1 + (2 | (slot & 1)) * 2 ** db;
    if (dist >= base && dist - base < 2 ** db) return { slot, bits: db, extra: dist - base };
  }
  throw new Error(`distance ${dist}`);
}

const bonus = (dist: number): number => (dist > 0x100 ? 1 : 0) + (dist > 0x2000 ? 1 : 0) + (dist > 0x40000 ? 1 : 0);

type Token =
  | { t: 'lit'; v: number }
  | { t: 'match'; len: number; dist: number }
  | { t: 'last' }
  | { t: 'rep'; idx: number; len: number }
  | { t: 'filter'; start: number; length: number; type: number; channels: number };

const FILTER_TYPE: Record<Rar5FilterKind, number> = { delta: 0, e8: 1, e8e9: 2, arm: 3 };

/** The forward transform of a filter on `d[start, start+length)` (the reader undoes it). */
function forwardFilter(d: Uint8Array, f: Rar5EncodeFilter): void {
  const { start, length } = f;
  if (f.kind === 'delta') {
    const ch = f.channels ?? 1;
    const src = d.slice(start, start + length);
    let s = 0;
    for (let c = 0; c < ch; c++) {
      let prev = 0;
      for (let i = c; i < length; i += ch) { d[start + s++] = (prev - src[i]!) & 0xff; prev = src[i]!; }
    }
  } else if (f.kind === 'e8' || f.kind === 'e8e9') {
    const fileSize = 0x1000000;
    for (let i = 0; i < length - 4;) {
      const b = d[start + i++]!;
      if (b === 0xe8 || (f.kind === 'e8e9' && b === 0xe9)) {
        const offset = (start + i) % fileSize;
        const at = start + i;
        const a = d[at]! | (d[at + 1]! << 8) | (d[at + 2]! << 16) | (d[at + 3]! << 24);
        let s: number;
        if (a < -offset) s = a;
        else if (a < fileSize - offset) s = a + offset;
        else if (a < fileSize) s = a - fileSize;
        else s = a;
        d[at] = s & 0xff; d[at + 1] = (s >>> 8) & 0xff; d[at + 2] = (s >>> 16) & 0xff; d[at + 3] = (s >>> 24) & 0xff;
        i += 4;
      }
    }
  } else {
    for (let i = 0; i + 3 < length; i += 4) {
      const at = start + i;
      if (d[at + 3] === 0xeb) {
        const v = (d[at]! | (d[at + 1]! << 8) | (d[at + 2]! << 16)) + Math.floor((start + i) / 4);
        d[at] = v & 0xff; d[at + 1] = (v >>> 8) & 0xff; d[at + 2] = (v >>> 16) & 0xff;
      }
    }
  }
}

/** LZ state carried across the entries of a solid archive. */
class Lz {
  hist = new Uint8Array(0);
  head = new Map<number, number[]>();
  rep = [0, 0, 0, 0];
  lastLen = 0;
  constructor(readonly maxDist: number) {}

  reset(): void {
    this.hist = new Uint8Array(0);
    this.head.clear();
    this.rep = [0, 0, 0, 0];
    this.lastLen = 0;
  }

  tokens(data: Uint8Array, filters: Rar5EncodeFilter[]): Token[] {
    const base = this.hist.length;
    const h = new Uint8Array(base + data.length);
    h.set(this.hist);
    h.set(data, base);
    this.hist = h;
    const out: Token[] = [];
    const pending = filters.slice().sort((a, b) => a.start - b.start);
    const key = (p: number): number => h[p]! | (h[p + 1]! << 8) | (h[p + 2]! << 16);
    const insert = (p: number): void => {
      if (p + 3 > h.length) return;
      const k = key(p);
      let c = this.head.get(k);
      if (!c) { c = []; this.head.set(k, c); }
      c.push(p);
      if (c.length > 32) c.shift();
    };
    const matchLen = (p: number, dist: number, max: number): number => {
      if (dist <= 0 || dist > p) return 0;
      let n = 0;
      while (n < max && h[p + n] === h[p + n - dist]) n++;
      return n;
    };
    let p = base;
    const end = h.length;
    while (p < end) {
      const rel = p - base;
      while (pending.length > 0 && pending[0]!.start <= rel + 4200) {
        const f = pending.shift()!;
        if (f.start < rel) continue;
        out.push({ t: 'filter', start: f.start - rel, length: f.length, type: FILTER_TYPE[f.kind], channels: f.channels ?? 1 });
      }
      const max = Math.min(4000, end - p);
      let bestLen = 0, bestDist = 0, bestRep = -1;
      for (let i = 0; i < 4; i++) {
        const d = this.rep[i]!;
        if (d === 0 || d > this.maxDist) continue;
        const l = matchLen(p, d, max);
        if (l >= 2 && l > bestLen) { bestLen = l; bestDist = d; bestRep = i; }
      }
      if (max >= 3) {
        const c = this.head.get(key(p));
        if (c) {
          for (let j = c.length - 1; j >= 0; j--) {
            const d = p - c[j]!;
            if (d > this.maxDist) break;
            const l = matchLen(p, d, max);
            if (l - bonus(d) >= 2 && l > bestLen + 1) { bestLen = l; bestDist = d; bestRep = -1; }
          }
        }
      }
      if (bestLen >= 2 && (bestRep >= 0 || bestLen - bonus(bestDist) >= 2)) {
        if (bestRep === 0 && bestLen === this.lastLen) {
          out.push({ t: 'last' });
        } else if (bestRep >= 0) {
          out.push({ t: 'rep', idx: bestRep, len: bestLen });
          this.rep.splice(bestRep, 1);
          this.rep.unshift(bestDist);
          this.lastLen = bestLen;
        } else {
          out.push({ t: 'match', len: bestLen, dist: bestDist });
          this.rep.pop();
          this.rep.unshift(bestDist);
          this.lastLen = bestLen;
        }
        for (let i = 0; i < bestLen; i++) insert(p + i);
        p += bestLen;
      } else {
        out.push({ t: 'lit', v: h[p]! });
        insert(p);
        p++;
      }
    }
    return out;
  }
}

const NC = 306, DC = 64, LDC = 16, RC = 44;

interface Tables { ld: number[]; dd: number[]; ldd: number[]; rd: number[] }

function blockTables(tokens: Token[]): Tables {
  const fl = new Array<number>(NC).fill(0), fd = new Array<number>(DC).fill(0);
  const fld = new Array<number>(LDC).fill(0), fr = new Array<number>(RC).fill(0);
  for (const t of tokens) {
    if (t.t === 'lit') fl[t.v]!++;
    else if (t.t === 'filter') fl[256]!++;
    else if (t.t === 'last') fl[257]!++;
    else if (t.t === 'rep') { fl[258 + t.idx]!++; fr[lengthSlot(t.len).slot]!++; }
    else {
      fl[262 + lengthSlot(t.len - bonus(t.dist)).slot]!++;
      const ds = distSlot(t.dist);
      fd[ds.slot]!++;
      if (ds.bits >= 4) fld[ds.extra & 15]!++;
    }
  }
  return { ld: huffLengths(fl), dd: huffLengths(fd), ldd: huffLengths(fld), rd: huffLengths(fr) };
}

function writeTables(w: BitWriter, t: Tables): void {
  const all = [...t.ld, ...t.dd, ...t.ldd, ...t.rd];
  // Run-length code the lengths: 0..15 as is, 18/19 for runs of zeros.
  const codes: { sym: number; bits: number; extra: number }[] = [];
  for (let i = 0; i < all.length;) {
    if (all[i] === 0) {
      let run = 0;
      while (i + run < all.length && all[i + run] === 0 && run < 138) run++;
      if (run >= 11) { codes.push({ sym: 19, bits: 7, extra: run - 11 }); i += run; continue; }
      if (run >= 3) { codes.push({ sym: 18, bits: 3, extra: run - 3 }); i += run; continue; }
    }
    codes.push({ sym: all[i]!, bits: 0, extra: 0 });
    i++;
  }
  const fb = new Array<number>(20).fill(0);
  for (const c of codes) fb[c.sym]!++;
  const bl = huffLengths(fb);
  for (let i = 0; i < 20;) {
    if (bl[i] === 0) {
      let run = 0;
      while (i + run < 20 && bl[i + run] === 0 && run < 16) run++;
      if (run >= 3) { w.write(15, 4); w.write(run - 2, 4); i += run; continue; }
    }
    if (bl[i] === 15) { w.write(15, 4); w.write(0, 4); } else w.write(bl[i]!, 4);
    i++;
  }
  const bc = canonical(bl);
  for (const c of codes) {
    w.write(bc[c.sym]!, bl[c.sym]!);
    if (c.bits) w.write(c.extra, c.bits);
  }
}

function writeTokens(w: BitWriter, tokens: Token[], t: Tables): void {
  const cl = canonical(t.ld), cd = canonical(t.dd), cld = canonical(t.ldd), cr = canonical(t.rd);
  const sym = (s: number): void => w.write(cl[s]!, t.ld[s]!);
  const filterData = (v: number): void => {
    const n = v < 0x100 ? 1 : v < 0x10000 ? 2 : v < 0x1000000 ? 3 : 4;
    w.write(n - 1, 2);
    for (let i = 0; i < n; i++) w.write(Math.floor(v / 2 ** (8 * i)) & 0xff, 8);
  };
  for (const k of tokens) {
    if (k.t === 'lit') sym(k.v);
    else if (k.t === 'last') sym(257);
    else if (k.t === 'filter') {
      sym(256);
      filterData(k.start);
      filterData(k.length);
      w.write(k.type, 3);
      if (k.type === 0) w.write(k.channels - 1, 5);
    } else if (k.t === 'rep') {
      sym(258 + k.idx);
      const ls = lengthSlot(k.len);
      w.write(cr[ls.slot]!, t.rd[ls.slot]!);
      if (ls.bits) w.write(ls.extra, ls.bits);
    } else {
      const ls = lengthSlot(k.len - bonus(k.dist));
      sym(262 + ls.slot);
      if (ls.bits) w.write(ls.extra, ls.bits);
      const ds = distSlot(k.dist);
      w.write(cd[ds.slot]!, t.dd[ds.slot]!);
      if (ds.bits >= 4) {
        if (ds.bits > 4) w.write(Math.floor(ds.extra / 16), ds.bits - 4);
        w.write(cld[ds.extra & 15]!, t.ldd[ds.extra & 15]!);
      } else if (ds.bits) {
        w.write(ds.extra, ds.bits);
      }
    }
  }
}

/** The compressed stream of one entry: its tokens in blocks. */
function compressEntry(tokens: Token[], blockTokens: number): Uint8Array {
  const parts: number[] = [];
  let tables: Tables | undefined;
  const nBlocks = Math.max(1, Math.ceil(tokens.length / blockTokens));
  for (let b = 0; b < nBlocks; b++) {
    const chunk = tokens.slice(b * blockTokens, (b + 1) * blockTokens);
    const w = new BitWriter();
    // Reuse the previous tables every third block when they cover this block's symbols.
    let withTables = true;
    if (tables && b % 3 === 2) {
      const t = blockTables(chunk);
      const covers = (a: number[], need: number[]): boolean => need.every((l, i) => l === 0 || a[i]! > 0);
      if (covers(tables.ld, t.ld) && covers(tables.dd, t.dd) && covers(tables.ldd, t.ldd) && covers(tables.rd, t.rd)) withTables = false;
    }
    if (withTables) {
      // Count only the symbols really used so that tables stay complete.
      tables = blockTables(chunk);
      writeTables(w, tables);
    }
    writeTokens(w, chunk, tables!);
    const bits = w.bitLength;
    const data = w.finish();
    const size = data.length;
    const bitSize = bits === 0 ? 8 : bits - (size - 1) * 8;
    const byteCount = size < 0x100 ? 1 : size < 0x10000 ? 2 : 3;
    const flags = ((bitSize - 1) & 7) | ((byteCount - 1) << 3) | (b === nBlocks - 1 ? 0x40 : 0) | (withTables ? 0x80 : 0);
    const sizeBytes: number[] = [];
    for (let i = 0; i < byteCount; i++) sizeBytes.push((size >> (8 * i)) & 0xff);
    let check = 0x5a ^ flags;
    for (const x of sizeBytes) check ^= x;
    parts.push(flags, check & 0xff, ...sizeBytes);
    for (const x of data) parts.push(x);
  }
  return Uint8Array.from(parts);
}

function vint(v: number): number[] {
  const out: number[] = [];
  do {
    let c = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) c |= 0x80;
    out.push(c);
  } while (v > 0);
  return out;
}

function header(body: number[]): Uint8Array {
  const size = vint(body.length);
  const h = Uint8Array.from([...size, ...body]);
  const c = crc32(h);
  const out = new Uint8Array(4 + h.length);
  new DataView(out.buffer).setUint32(0, c >>> 0, true);
  out.set(h, 4);
  return out;
}

/** A RAR 5 archive of `files`. */
export function encodeRar5(files: Rar5EncodeFile[], opts: Rar5EncodeOptions = {}): Uint8Array {
  const total = files.reduce((s, f) => s + f.data.length, 0);
  let dictBits = opts.dictBits ?? 0;
  if (opts.dictBits === undefined) while (dictBits < 15 && 0x20000 * 2 ** dictBits < total) dictBits++;
  const dict = 0x20000 * 2 ** dictBits;
  const lz = new Lz(dict);
  const parts: Uint8Array[] = [Uint8Array.from([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x01, 0x00])];
  parts.push(header([1, 0, ...vint(opts.solid ? 0x0004 : 0)]));
  if (opts.comment) {
    const c = opts.comment;
    const packed = opts.commentStored ? c : compressEntry(new Lz(dict).tokens(c, []), opts.blockTokens ?? 4096);
    const crc = crc32(c) >>> 0;
    const compInfo = ((opts.commentStored ? 0 : 3) << 7) | (dictBits << 10);
    parts.push(header([
      3, 0x02, ...vint(packed.length), 0x04, ...vint(c.length), 0,
      crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24,
      ...vint(compInfo), 1, 3, 0x43, 0x4d, 0x54,
    ]), packed);
  }
  let first = true;
  for (const f of files) {
    const name = [...Buffer.from(f.name, 'utf8')];
    if (f.dir) {
      parts.push(header([2, 0, 1, 0, ...vint(0o40755), 0, 1, ...vint(name.length), ...name]));
      continue;
    }
    let packed: Uint8Array;
    let method = 3;
    let solidBit = 0;
    if (f.stored || f.data.length === 0) {
      packed = f.data;
      method = 0;
    } else {
      const d = Uint8Array.from(f.data);
      for (const flt of f.filters ?? []) forwardFilter(d, flt);
      if (opts.solid && !first) solidBit = 0x40;
      else lz.reset();
      const tokens = lz.tokens(d, f.filters ?? []);
      packed = tokens.length === 0 ? new Uint8Array(0) : compressEntry(tokens, opts.blockTokens ?? 4096);
      first = false;
    }
    const compInfo = (opts.version ?? 0) | solidBit | (method << 7) | (dictBits << 10);
    const crc = crc32(f.data) >>> 0;
    const extra = f.encryptedFlag ? [36, 1, 0, 0, 15, ...new Array<number>(32).fill(7)] : [];
    const hflags = 0x02 | (extra.length ? 0x01 : 0) | (f.splitAfter ? 0x10 : 0);
    const body = [
      2, ...vint(hflags), ...(extra.length ? vint(extra.length) : []), ...vint(packed.length), 0x04, ...vint(f.data.length), ...vint(0o100644),
      crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24,
      ...vint(compInfo), 1, ...vint(name.length), ...name, ...extra,
    ];
    parts.push(header(body), packed);
  }
  parts.push(header([5, 0, 0]));
  return Buffer.concat(parts);
}
