/**
 * Hash index: the entries of one ClamAV hash matcher (`.hdb/.hsb` whole-layer hashes, `.mdb/.msb`
 * section hashes, `.imp` import hashes, or the `.fp/.sfp` allow list) → flat sorted typed arrays
 * answering "which signatures have this digest and size?" by binary search.
 *
 * Layout, per algorithm (MD5, SHA1, SHA256):
 * - exact-size entries: `sizes` (Uint32Array, ascending) and `exact` (digests back to back, one
 *   Uint8Array), sorted by size, then digest bytes;
 * - wildcard-size entries (`*`): `wild`, digests sorted.
 * Entry ids are positions in the concatenation md5 exact, md5 wild, sha1 exact, sha1 wild,
 * sha256 exact, sha256 wild; per id we keep the name (index into a string table), the database
 * file (index into another) and the line. That is 12 bytes per entry beside the digest and the
 * size: about 32 bytes per MD5 signature, no object per entry, and a layout that serialises as it
 * is: `deserialize` makes typed-array views into the given bytes (a SharedArrayBuffer works, so
 * worker threads share one copy) and parses nothing.
 *
 * Order of results (`lookup`): the exact-size matches, then the wildcard ones, as ClamAV checks
 * them. ClamAV keeps only one name per group: for each algorithm it reports one exact-size match
 * and one wildcard match, even with --allmatch (verified with clamscan 1.4.6). When several
 * signatures share a digest and size, the one it reports is whichever its binary search meets
 * first after it sorted the group's bucket with its own unstable quicksort (`hm_sort`, keyed
 * on the first 4 digest bytes read as a little-endian integer, descending, then the rest). At build time we
 * replay that sort for buckets that contain such duplicates and put ClamAV's choice first in its
 * group, the others after it in load order; `lookupClamav` returns just the ClamAV choices.
 */

import type { HashAlgo, SigOrigin } from '../signatures/clamav/types.js';
import type { HashSink } from '../signatures/clamav/hash.js';

/** ClamAV's hash check order within a layer. */
export const HASH_ALGOS: readonly HashAlgo[] = ['md5', 'sha1', 'sha256'];

export const DIGEST_BYTES: Readonly<Record<HashAlgo, number>> = Object.freeze({ md5: 16, sha1: 20, sha256: 32 });

/** Largest size a sized hash signature can have (ClamAV rejects 0 and 0xffffffff). */
const MAX_SIZE = 0xfffffffe;

/**
 * Work cap for replaying ClamAV's quicksort on one bucket with duplicate digests (comparisons).
 * Its first-element pivot is quadratic on large groups of equal keys; past this cap the choice
 * among duplicates falls back to load order, and `HashIndex.approximateGroups` counts it.
 */
const CLAMAV_SORT_BUDGET = 50_000_000;

export interface HashEntry {
  id: number;
  algo: HashAlgo;
  /** Lower-case hex digest. */
  hash: string;
  /** Size in bytes, or null for `*`. */
  size: number | null;
  name: string;
  origin: SigOrigin;
}

/** Sorted arrays of one algorithm (internal layout, exported for the builder). */
export interface Table {
  algo: HashAlgo;
  len: number;
  exactBase: number;
  exactN: number;
  wildBase: number;
  wildN: number;
  sizes: Uint32Array;
  exact: Uint8Array;
  wild: Uint8Array;
}

/** Sorted string table: byte offsets (n + 1) and Latin-1 bytes. */
export interface StringTable {
  offsets: Uint32Array;
  bytes: Uint8Array;
}

function decodeString(t: StringTable, i: number): string {
  const s = t.offsets[i]!;
  const e = t.offsets[i + 1]!;
  return Buffer.from(t.bytes.buffer, t.bytes.byteOffset + s, e - s).toString('latin1');
}

function encodeStrings(list: readonly string[]): StringTable {
  const offsets = new Uint32Array(list.length + 1);
  let total = 0;
  for (let i = 0; i < list.length; i++) {
    offsets[i] = total;
    total += list[i]!.length;
  }
  offsets[list.length] = total;
  // One encode of the joined text: names are Latin-1, one byte per character.
  const bytes = new Uint8Array(total);
  bytes.set(Buffer.from(list.join(''), 'latin1'));
  return { offsets, bytes };
}

/** memcmp of `len` bytes: `a[ao..]` against `b[bo..]`. */
function cmpBytes(a: Uint8Array, ao: number, b: Uint8Array, bo: number, len: number): number {
  for (let i = 0; i < len; i++) {
    const x = a[ao + i]!;
    const y = b[bo + i]!;
    if (x !== y) return x - y;
  }
  return 0;
}

/**
 * ClamAV's `hm_cmp` on a little-endian host: the first 4 bytes read as a little-endian uint32
 * decide first, in descending order (it returns +1 when the first word is smaller), then memcmp
 * of the rest, ascending. Only the replay of its sort and search uses this order.
 */
function hmCmp(a: Uint8Array, ao: number, b: Uint8Array, bo: number, len: number): number {
  const x = (a[ao]! | (a[ao + 1]! << 8) | (a[ao + 2]! << 16) | (a[ao + 3]! << 24)) >>> 0;
  const y = (b[bo]! | (b[bo + 1]! << 8) | (b[bo + 2]! << 16) | (b[bo + 3]! << 24)) >>> 0;
  if (x !== y) return x < y ? 1 : -1;
  return cmpBytes(a, ao + 4, b, bo + 4, len - 4);
}

/** First index in [lo, hi) whose size is ≥ `size`. */
function lowerSize(sizes: Uint32Array, lo: number, hi: number, size: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sizes[mid]! < size) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in [lo, hi) whose digest is ≥ `digest`. */
function lowerDigest(arr: Uint8Array, len: number, lo: number, hi: number, digest: Uint8Array): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmpBytes(arr, mid * len, digest, 0, len) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A built index. Immutable; safe to share between threads through `serialize`/`deserialize`.
 */
export class HashIndex {
  /** Duplicate groups whose ClamAV choice could not be replayed within the work cap. */
  approximateGroups = 0;

  private constructor(
    private readonly tables: Readonly<Record<HashAlgo, Table>>,
    private readonly entryName: Uint32Array,
    private readonly entryFile: Uint32Array,
    private readonly entryLine: Uint32Array,
    private readonly names: StringTable,
    private readonly files: StringTable,
  ) {}

  /** An index with no entries. */
  static empty(): HashIndex {
    return new HashIndexBuilder().build();
  }

  /** Number of entries. */
  get count(): number {
    return this.entryName.length;
  }

  /** The algorithms with at least one entry, in ClamAV's check order. */
  algorithms(): HashAlgo[] {
    return HASH_ALGOS.filter((a) => this.tables[a].exactN + this.tables[a].wildN > 0);
  }

  /**
   * Whether a layer of `size` bytes must be hashed with `algo` for this index: there is a
   * wildcard entry, or an entry of exactly that size (ClamAV's `cli_hm_have_size` or
   * `cli_hm_have_wild`). O(log n).
   */
  needsHash(algo: HashAlgo, size: number): boolean {
    const t = this.tables[algo];
    if (t.wildN > 0) return true;
    const s = clampSize(size);
    if (s === 0) return false;
    const i = lowerSize(t.sizes, 0, t.exactN, s);
    return i < t.exactN && t.sizes[i] === s;
  }

  /** Algorithms a layer of `size` bytes needs for any of `indexes` (e.g. the hdb and fp indexes). */
  static hashesNeeded(size: number, ...indexes: HashIndex[]): HashAlgo[] {
    return HASH_ALGOS.filter((a) => indexes.some((ix) => ix.needsHash(a, size)));
  }

  /**
   * Every entry matching this digest of a layer of `size` bytes: exact-size matches, then
   * wildcard ones; in each group ClamAV's choice first, then the others in load order.
   */
  lookup(algo: HashAlgo, digest: Uint8Array, size: number): number[] {
    const out: number[] = [];
    this.collect(algo, digest, size, out, false);
    return out;
  }

  /**
   * What ClamAV reports for this digest: at most one exact-size match, then at most one wildcard
   * match (the same with and without --allmatch).
   */
  lookupClamav(algo: HashAlgo, digest: Uint8Array, size: number): number[] {
    const out: number[] = [];
    this.collect(algo, digest, size, out, true);
    return out;
  }

  private collect(algo: HashAlgo, digest: Uint8Array, size: number, out: number[], firstOnly: boolean): void {
    const t = this.tables[algo];
    const len = t.len;
    if (digest.length !== len) return;
    const s = clampSize(size);
    if (s !== 0 && t.exactN > 0) {
      const lo = lowerSize(t.sizes, 0, t.exactN, s);
      if (lo < t.exactN && t.sizes[lo] === s) {
        const hi = lowerSize(t.sizes, lo, t.exactN, s + 1);
        let i = lowerDigest(t.exact, len, lo, hi, digest);
        while (i < hi && cmpBytes(t.exact, i * len, digest, 0, len) === 0) {
          out.push(t.exactBase + i);
          i++;
          if (firstOnly) break;
        }
      }
    }
    if (t.wildN > 0) {
      let i = lowerDigest(t.wild, len, 0, t.wildN, digest);
      while (i < t.wildN && cmpBytes(t.wild, i * len, digest, 0, len) === 0) {
        out.push(t.wildBase + i);
        i++;
        if (firstOnly) break;
      }
    }
  }

  /** The stored name (as ClamAV reports it, `.UNOFFICIAL` included when it applies). */
  name(id: number): string {
    return decodeString(this.names, this.entryName[id]!);
  }

  /** Database file and line the entry came from. */
  origin(id: number): SigOrigin {
    return { db: decodeString(this.files, this.entryFile[id]!), line: this.entryLine[id]! };
  }

  /** Everything about one entry, for evidence and `db info`. */
  entry(id: number): HashEntry {
    for (const algo of HASH_ALGOS) {
      const t = this.tables[algo];
      const inExact = id >= t.exactBase && id < t.exactBase + t.exactN;
      const inWild = id >= t.wildBase && id < t.wildBase + t.wildN;
      if (!inExact && !inWild) continue;
      const pos = inExact ? id - t.exactBase : id - t.wildBase;
      const arr = inExact ? t.exact : t.wild;
      const hash = Buffer.from(arr.buffer, arr.byteOffset + pos * t.len, t.len).toString('hex');
      return { id, algo, hash, size: inExact ? t.sizes[pos]! : null, name: this.name(id), origin: this.origin(id) };
    }
    throw new RangeError(`no hash entry ${id}`);
  }

  // ───────────── serialisation ─────────────
  //
  // Little-endian, every section starting at a multiple of 8:
  //   header (64 bytes): 'VGHX', version 1, byte-order mark 0x01020304, entry count,
  //     name count, name bytes, file count, file bytes, then per algorithm exact and wild counts
  //   name offsets (u32 × names+1), name bytes, file offsets (u32 × files+1), file bytes,
  //   entry name (u32 × n), entry file (u32 × n), entry line (u32 × n),
  //   per algorithm: sizes (u32 × exact), exact digests, wild digests

  /** The flat binary form; `deserialize` reads it back without parsing text. */
  serialize(shared = false): Uint8Array {
    const parts: Uint8Array[] = [];
    const u8 = (a: Uint32Array | Uint8Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const header = new Uint32Array(HEADER_WORDS);
    header[0] = MAGIC;
    header[1] = VERSION;
    header[2] = BOM;
    header[3] = this.count;
    header[4] = this.names.offsets.length - 1;
    header[5] = this.names.bytes.length;
    header[6] = this.files.offsets.length - 1;
    header[7] = this.files.bytes.length;
    HASH_ALGOS.forEach((a, k) => {
      header[8 + 2 * k] = this.tables[a].exactN;
      header[9 + 2 * k] = this.tables[a].wildN;
    });
    parts.push(u8(header), u8(this.names.offsets), this.names.bytes, u8(this.files.offsets), this.files.bytes,
      u8(this.entryName), u8(this.entryFile), u8(this.entryLine));
    for (const a of HASH_ALGOS) {
      const t = this.tables[a];
      parts.push(u8(t.sizes), t.exact, t.wild);
    }
    let total = 0;
    for (const p of parts) total += pad8(p.length);
    const out = new Uint8Array(shared ? new SharedArrayBuffer(total) : new ArrayBuffer(total));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += pad8(p.length);
    }
    return out;
  }

  /**
   * Reads `serialize`'s output. The arrays are views into `bytes` (copied once only if `bytes`
   * is not 4-byte aligned). Throws `HashIndexFormatError` on a damaged or foreign buffer; every
   * count is checked against the buffer length before a view is made.
   */
  static deserialize(bytes: Uint8Array): HashIndex {
    let b = bytes;
    if (b.byteOffset % 4 !== 0) b = new Uint8Array(b);
    const fail = (why: string): never => {
      throw new HashIndexFormatError(why);
    };
    if (b.length < HEADER_WORDS * 4) fail('shorter than the header');
    const h = new Uint32Array(b.buffer, b.byteOffset, HEADER_WORDS);
    if (h[0] !== MAGIC) fail('not a vigil hash index (bad magic)');
    if (h[1] !== VERSION) fail(`unsupported version ${h[1]}`);
    if (h[2] !== BOM) fail('written on a machine of the other byte order');
    let off = HEADER_WORDS * 4;
    const take = (n: number): number => {
      const at = off;
      if (!Number.isSafeInteger(n) || n < 0 || at + n > b.length) fail('truncated');
      off += pad8(n);
      return at;
    };
    const u32 = (n: number): Uint32Array => new Uint32Array(b.buffer, b.byteOffset + take(n * 4), n);
    const raw = (n: number): Uint8Array => new Uint8Array(b.buffer, b.byteOffset + take(n), n);
    const count = h[3]!;
    const names: StringTable = { offsets: u32(h[4]! + 1), bytes: raw(h[5]!) };
    const files: StringTable = { offsets: u32(h[6]! + 1), bytes: raw(h[7]!) };
    const entryName = u32(count);
    const entryFile = u32(count);
    const entryLine = u32(count);
    const tables = {} as Record<HashAlgo, Table>;
    let base = 0;
    HASH_ALGOS.forEach((algo, k) => {
      const exactN = h[8 + 2 * k]!;
      const wildN = h[9 + 2 * k]!;
      const len = DIGEST_BYTES[algo];
      const sizes = u32(exactN);
      const exact = raw(exactN * len);
      const wild = raw(wildN * len);
      tables[algo] = { algo, len, exactBase: base, exactN, wildBase: base + exactN, wildN, sizes, exact, wild };
      base += exactN + wildN;
    });
    if (base !== count) fail('entry counts disagree');
    for (const t of [names, files]) {
      const n = t.offsets.length;
      for (let i = 1; i < n; i++) if (t.offsets[i]! < t.offsets[i - 1]! || t.offsets[i]! > t.bytes.length) fail('bad string table');
    }
    const nn = names.offsets.length - 1;
    const nf = files.offsets.length - 1;
    for (let i = 0; i < count; i++) if (entryName[i]! >= nn || entryFile[i]! >= nf) fail('entry refers past a string table');
    return new HashIndex(tables, entryName, entryFile, entryLine, names, files);
  }

  /** @internal used by the builder */
  static fromParts(tables: Record<HashAlgo, Table>, entryName: Uint32Array, entryFile: Uint32Array, entryLine: Uint32Array, names: StringTable, files: StringTable): HashIndex {
    return new HashIndex(tables, entryName, entryFile, entryLine, names, files);
  }
}

export class HashIndexFormatError extends Error {
  constructor(why: string) {
    super(`hash index: ${why}`);
    this.name = 'HashIndexFormatError';
  }
}

const MAGIC = 0x58484756; // 'VGHX' read as little-endian
const VERSION = 1;
const BOM = 0x01020304;
const HEADER_WORDS = 16;

function pad8(n: number): number {
  return (n + 7) & ~7;
}

/** A layer size as ClamAV's uint32 parameter sees it; 0 when no sized entry can match. */
function clampSize(size: number): number {
  if (!Number.isFinite(size) || size <= 0) return 0;
  const s = Math.floor(size) % 4294967296;
  return s >= 1 && s <= MAX_SIZE ? s : 0;
}

/** Growable per-algorithm columns, in load order. */
class Column {
  n = 0;
  hashes: Uint8Array;
  sizes: Uint32Array;
  name: Uint32Array;
  file: Uint32Array;
  line: Uint32Array;
  constructor(readonly len: number) {
    const cap = 64;
    this.hashes = new Uint8Array(cap * len);
    this.sizes = new Uint32Array(cap);
    this.name = new Uint32Array(cap);
    this.file = new Uint32Array(cap);
    this.line = new Uint32Array(cap);
  }
  grow(): void {
    const cap = this.sizes.length * 2;
    const g8 = (a: Uint8Array, n: number): Uint8Array => { const x = new Uint8Array(n); x.set(a); return x; };
    const g32 = (a: Uint32Array): Uint32Array => { const x = new Uint32Array(cap); x.set(a); return x; };
    this.hashes = g8(this.hashes, cap * this.len);
    this.sizes = g32(this.sizes);
    this.name = g32(this.name);
    this.file = g32(this.file);
    this.line = g32(this.line);
  }
}

const HEXVAL = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEXVAL[0x30 + i] = i;
for (let i = 0; i < 6; i++) { HEXVAL[0x41 + i] = 10 + i; HEXVAL[0x61 + i] = 10 + i; }

/**
 * Collects entries (it is the `HashSink` the hash parser fills) and builds a `HashIndex`.
 * Feed databases in ClamAV's load order: ids, the order of duplicates and ClamAV's choice
 * among them depend on it.
 */
export class HashIndexBuilder implements HashSink {
  private readonly cols: Record<HashAlgo, Column> = { md5: new Column(16), sha1: new Column(20), sha256: new Column(32) };
  private readonly nameIds = new Map<string, number>();
  private readonly nameList: string[] = [];
  private readonly fileIds = new Map<string, number>();
  private readonly fileList: string[] = [];
  private file = -1;

  get count(): number {
    return this.cols.md5.n + this.cols.sha1.n + this.cols.sha256.n;
  }

  beginFile(db: string): void {
    let i = this.fileIds.get(db);
    if (i === undefined) {
      i = this.fileList.length;
      this.fileList.push(db);
      this.fileIds.set(db, i);
    }
    this.file = i;
  }

  internName(name: string): number {
    let i = this.nameIds.get(name);
    if (i === undefined) {
      i = this.nameList.length;
      this.nameList.push(name);
      this.nameIds.set(name, i);
    }
    return i;
  }

  /** `size` null = `*`; a size outside 1..0xfffffffe is a caller error and throws. */
  add(algo: HashAlgo, hash: Uint8Array | string, size: number | null, nameIndex: number, line: number): void {
    const c = this.cols[algo];
    const len = c.len;
    if (size !== null && !(Number.isInteger(size) && size >= 1 && size <= MAX_SIZE)) throw new RangeError(`hash size out of range: ${size}`);
    if (this.file < 0) this.beginFile('');
    if (c.n === c.sizes.length) c.grow();
    const at = c.n * len;
    if (typeof hash === 'string') {
      if (hash.length !== len * 2) throw new RangeError(`${algo} digest must be ${len * 2} hex digits`);
      for (let i = 0; i < len; i++) {
        const hi = HEXVAL[hash.charCodeAt(2 * i) & 0x7f]!;
        const lo = HEXVAL[hash.charCodeAt(2 * i + 1) & 0x7f]!;
        if (hi < 0 || lo < 0 || hash.charCodeAt(2 * i) > 0x7f || hash.charCodeAt(2 * i + 1) > 0x7f) throw new RangeError(`bad hex digest: ${hash}`);
        c.hashes[at + i] = (hi << 4) | lo;
      }
    } else {
      if (hash.length !== len) throw new RangeError(`${algo} digest must be ${len} bytes`);
      c.hashes.set(hash, at);
    }
    c.sizes[c.n] = size ?? 0;
    c.name[c.n] = nameIndex;
    c.file[c.n] = this.file;
    c.line[c.n] = line;
    c.n++;
  }

  /**
   * Sorts and packs the entries. `replayBudget` caps the comparisons spent replaying ClamAV's
   * sort per bucket with duplicates (default `CLAMAV_SORT_BUDGET`).
   */
  build(options: { replayBudget?: number } = {}): HashIndex {
    const budget = options.replayBudget ?? CLAMAV_SORT_BUDGET;
    const total = this.count;
    const entryName = new Uint32Array(total);
    const entryFile = new Uint32Array(total);
    const entryLine = new Uint32Array(total);
    const tables = {} as Record<HashAlgo, Table>;
    let base = 0;
    let approximate = 0;
    for (const algo of HASH_ALGOS) {
      const c = this.cols[algo];
      const len = c.len;
      const n = c.n;
      let exactN = 0;
      for (let i = 0; i < n; i++) if (c.sizes[i] !== 0) exactN++;
      const exactIdx = new Uint32Array(exactN);
      const wildIdx = new Uint32Array(n - exactN);
      for (let i = 0, e = 0, w = 0; i < n; i++) {
        if (c.sizes[i] !== 0) exactIdx[e++] = i;
        else wildIdx[w++] = i;
      }
      // Sort key: size, then the first 4 digest bytes big-endian (cheap), then the rest, then load order.
      const k32 = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        const o = i * len;
        k32[i] = ((c.hashes[o]! << 24) | (c.hashes[o + 1]! << 16) | (c.hashes[o + 2]! << 8) | c.hashes[o + 3]!) >>> 0;
      }
      const hashes = c.hashes;
      const sizes = c.sizes;
      const cmp = (a: number, b: number): number => {
        const sa = sizes[a]!;
        const sb = sizes[b]!;
        if (sa !== sb) return sa - sb;
        const ka = k32[a]!;
        const kb = k32[b]!;
        if (ka !== kb) return ka < kb ? -1 : 1;
        const r = cmpBytes(hashes, a * len + 4, hashes, b * len + 4, len - 4);
        return r !== 0 ? r : a - b;
      };
      exactIdx.sort(cmp);
      wildIdx.sort(cmp);
      approximate += placeClamavChoices(exactIdx, c, budget) + placeClamavChoices(wildIdx, c, budget);

      const wildN = n - exactN;
      const t: Table = {
        algo, len, exactBase: base, exactN, wildBase: base + exactN, wildN,
        sizes: new Uint32Array(exactN), exact: new Uint8Array(exactN * len), wild: new Uint8Array(wildN * len),
      };
      const emit = (idx: Uint32Array, dst: Uint8Array, firstId: number, withSizes: boolean): void => {
        for (let p = 0; p < idx.length; p++) {
          const i = idx[p]!;
          dst.set(hashes.subarray(i * len, i * len + len), p * len);
          if (withSizes) t.sizes[p] = sizes[i]!;
          entryName[firstId + p] = c.name[i]!;
          entryFile[firstId + p] = c.file[i]!;
          entryLine[firstId + p] = c.line[i]!;
        }
      };
      emit(exactIdx, t.exact, t.exactBase, true);
      emit(wildIdx, t.wild, t.wildBase, false);
      tables[algo] = t;
      base += n;
    }
    if (this.fileList.length === 0) this.fileList.push('');
    const ix = HashIndex.fromParts(tables, entryName, entryFile, entryLine, encodeStrings(this.nameList), encodeStrings(this.fileList));
    ix.approximateGroups = approximate;
    return ix;
  }
}

/**
 * Within `idx` (sorted by size, digest, load order), moves ClamAV's choice to the front of every
 * group of equal (size, digest). A bucket is what ClamAV keeps one array for: all entries of one
 * size (or all wildcard entries) of this algorithm. Returns the number of groups whose choice was
 * approximated because the replay exceeded its budget.
 */
function placeClamavChoices(idx: Uint32Array, c: Column, budget: number): number {
  const len = c.len;
  const h = c.hashes;
  let approximate = 0;
  let b = 0;
  while (b < idx.length) {
    const size = c.sizes[idx[b]!]!;
    let e = b + 1;
    let dup = false;
    while (e < idx.length && c.sizes[idx[e]!] === size) {
      if (!dup && cmpBytes(h, idx[e]! * len, h, idx[e - 1]! * len, len) === 0) dup = true;
      e++;
    }
    if (dup) approximate += replayBucket(idx, b, e, c, budget);
    b = e;
  }
  return approximate;
}

/** Replays `hm_sort` and `hm_scan` for the bucket idx[b..e) and reorders its duplicate groups. */
function replayBucket(idx: Uint32Array, b: number, e: number, c: Column, budgetMax: number): number {
  const len = c.len;
  const h = c.hashes;
  // ClamAV's array for this bucket holds the entries in load order.
  const arr = Uint32Array.from(idx.subarray(b, e)).sort();
  let budget = budgetMax;
  // hm_sort(l, r): quicksort on [l, r) with the first element as pivot; equal keys go left.
  const stack: number[] = [0, arr.length];
  while (stack.length > 0 && budget > 0) {
    const r = stack.pop()!;
    const l = stack.pop()!;
    if (l + 1 >= r) continue;
    const piv = arr[l]! * len;
    let l1 = l + 1;
    let r1 = r;
    while (l1 < r1) {
      budget--;
      if (hmCmp(h, arr[l1]! * len, h, piv, len) > 0) {
        r1--;
        if (l1 === r1) break;
        const t = arr[l1]!; arr[l1] = arr[r1]!; arr[r1] = t;
      } else {
        l1++;
      }
    }
    l1--;
    if (l1 !== l) { const t = arr[l1]!; arr[l1] = arr[l]!; arr[l] = t; }
    stack.push(l, l1, r1, r);
  }
  const replayed = budget > 0;
  let approximate = 0;
  // For each group of equal digests in our order, ask hm_scan's binary search which it meets.
  let g = b;
  while (g < e) {
    let ge = g + 1;
    while (ge < e && cmpBytes(h, idx[ge]! * len, h, idx[g]! * len, len) === 0) ge++;
    if (ge - g > 1) {
      if (!replayed) { approximate++; g = ge; continue; }
      const key = idx[g]! * len;
      let lo = 0;
      let hi = arr.length - 1;
      let pick = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const res = hmCmp(h, key, h, arr[mid]! * len, len);
        if (res < 0) {
          if (mid === 0) break;
          hi = mid - 1;
        } else if (res > 0) lo = mid + 1;
        else { pick = arr[mid]!; break; }
      }
      if (pick >= 0) {
        // Move the pick to the front; the others keep load order.
        let p = g;
        while (idx[p] !== pick) p++;
        for (let q = p; q > g; q--) idx[q] = idx[q - 1]!;
        idx[g] = pick;
      }
    }
    g = ge;
  }
  return approximate;
}
