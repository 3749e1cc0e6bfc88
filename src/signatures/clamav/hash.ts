/**
 * Hash signatures: `.hdb .hsb .hdu .hsu .fp .sfp .mdb .msb .mdu .msu .imp` bytes → entries pushed
 * into a `HashSink`, plus a diagnostic for every malformed line (reference §1.0, §1.1).
 *
 *   .hdb .hsb .hdu .hsu .fp .sfp .imp   HashString:FileSize:MalwareName[:MinFL[:MaxFL]]
 *   .mdb .msb .mdu .msu                 PESectionSize:PESectionHash:MalwareName[:MinFL[:MaxFL]]
 *
 * Why it is built this way:
 * - Official databases hold millions of these lines, so the parser walks the bytes and pushes
 *   (algorithm, digest bytes, size, interned name, line) into a sink; it creates no object per
 *   signature and no string per line except the name. The digest is decoded into one reusable
 *   scratch buffer that the sink must copy.
 * - Acceptance follows ClamAV 1.4's `cli_loadhash` step by step, including what C does to the
 *   text: lines are cut as `fgets` with an 8192-byte buffer cuts them (a longer line is split,
 *   and its rest is read as a line of its own), a NUL byte ends the line, numbers are read with
 *   `atoi`/`strtoul` (leading blanks and a sign accepted, 32-bit wrap-around of FLEVEL values,
 *   compared as unsigned), and the checks run in ClamAV's order, so that the ignore list hides
 *   exactly the lines it hides there (the size is checked before the ignore list, the name and
 *   the hash after it).
 * - ClamAV stops at the first bad line; we report every bad line (all problems of each line,
 *   the one ClamAV reports first) and the caller fails the load when any error is present.
 *
 * This file also holds the C reading helpers the other line-based loaders share
 * (`DbLineReader`, `cAtoi`, `cStrtoul`).
 */

import type { Diagnostic, Location } from '../../core/diagnostics.js';
import { error, warning } from '../../core/diagnostics.js';
import { ENGINE_FLEVEL } from './lines.js';
import type { HashAlgo, HashScope, HashSig } from './types.js';
import type { IgnoreSet } from './ign.js';

// ───────────────────────────── C reading helpers ─────────────────────────────

/** ClamAV's line buffer (FILEBUFF): `fgets` returns at most 8191 bytes per call. */
export const FGETS_BUFFER = 8192;

/**
 * Reads a database the way `cli_dbgets` reads a loose file (`fgets` into an 8192-byte buffer,
 * then `cli_chomp`), with our own line numbers kept alongside ClamAV's.
 *
 * Each call of `next()` yields one ClamAV "line" (a segment of at most 8191 bytes ending at a
 * newline or at the buffer limit). The fields describe it; no object is created per line.
 * Costs: every byte is looked at O(1) times; the searches for the next newline and the next NUL
 * are remembered, so a file without NUL bytes is searched for one only once.
 */
export class DbLineReader {
  /** Offset of the segment's first byte. */
  start = 0;
  /** End (exclusive) of the text ClamAV sees: cut at the first NUL, trailing CR/LF removed. */
  end = 0;
  /** End (exclusive) of the bytes `fgets` consumed, newline included. */
  segEnd = 0;
  /** 1-based physical line (our numbering; comment lines count). */
  line = 0;
  /** 1-based byte column of `start` in the physical line (1 unless the line was split). */
  column = 1;
  /** ClamAV's own line counter (`fgets` calls so far). */
  clamLine = 0;
  /** First byte is `#`: ClamAV skips the segment. */
  comment = false;
  /** Offset of a NUL byte that cut the text short, or -1. */
  nulAt = -1;
  /** The physical line is longer than one `fgets` read and this segment is its first part. */
  splitStarts = false;
  /** This segment continues a physical line that an earlier segment began. */
  continued = false;

  private pos = 0;
  private lineStart = 0;
  private physLine = 1;
  private memoNl = -2;
  private memoNul = -2;

  constructor(readonly data: Uint8Array) {}

  next(): boolean {
    const d = this.data;
    const n = d.length;
    const pos = this.pos;
    if (pos >= n) return false;
    if (this.memoNl !== -1 && this.memoNl < pos) this.memoNl = d.indexOf(0x0a, pos);
    const limit = pos + (FGETS_BUFFER - 1);
    let segEnd: number;
    let endsLine: boolean;
    if (this.memoNl !== -1 && this.memoNl < limit) {
      segEnd = this.memoNl + 1;
      endsLine = true;
    } else {
      segEnd = Math.min(limit, n);
      endsLine = false;
    }
    if (this.memoNul !== -1 && this.memoNul < pos) this.memoNul = d.indexOf(0x00, pos);
    let end = segEnd;
    this.nulAt = -1;
    if (this.memoNul !== -1 && this.memoNul < segEnd) {
      end = this.memoNul;
      this.nulAt = this.memoNul;
    }
    while (end > pos && (d[end - 1] === 0x0a || d[end - 1] === 0x0d)) end--;
    this.start = pos;
    this.end = end;
    this.segEnd = segEnd;
    this.line = this.physLine;
    this.continued = pos !== this.lineStart;
    this.column = pos - this.lineStart + 1;
    this.splitStarts = !this.continued && !endsLine && segEnd < n;
    this.comment = d[pos] === 0x23;
    this.clamLine++;
    this.pos = segEnd;
    if (endsLine) {
      this.physLine++;
      this.lineStart = segEnd;
    }
    return true;
  }

  /** The whole physical line containing the current segment (Latin-1), for diagnostics. */
  physicalLineText(): string {
    const d = this.data;
    const ls = this.start - (this.column - 1);
    let le = d.indexOf(0x0a, ls);
    if (le < 0) le = d.length;
    while (le > ls && (d[le - 1] === 0x0a || d[le - 1] === 0x0d)) le--;
    return latin1(d, ls, le);
  }
}

/** Latin-1 text of `d[s..e)`: one character per byte, so columns are byte columns. */
export function latin1(d: Uint8Array, s: number, e: number): string {
  // Buffer's decoder yields a flat string, cheap to hash when it is interned (a string built
  // by concatenation is a rope that every Map look-up would flatten again).
  return Buffer.from(d.buffer, d.byteOffset + s, e - s).toString('latin1');
}

/** Latin-1 bytes of a string (characters above U+00FF keep their low byte). */
export function latin1Bytes(text: string): Uint8Array {
  return Buffer.from(text, 'latin1');
}

function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

const TWO_64 = 1n << 64n;
const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);

/**
 * glibc `atoi` on `d[s..e)`: `(int)strtol(text, NULL, 10)`. Leading blanks and a sign are
 * accepted, parsing stops at the first non-digit, overflow saturates at the 64-bit `long` limits
 * and the result is then truncated to 32 bits. So `4294967296` reads as 0 and
 * `99999999999999999999` as -1. Returns a signed 32-bit value.
 */
export function cAtoiBytes(d: Uint8Array, s: number, e: number): number {
  let i = s;
  while (i < e && isCSpace(d[i]!)) i++;
  let neg = false;
  if (i < e && (d[i] === 0x2b || d[i] === 0x2d)) {
    neg = d[i] === 0x2d;
    i++;
  }
  const digitsStart = i;
  while (i < e && d[i]! >= 0x30 && d[i]! <= 0x39) i++;
  if (i === digitsStart) return 0;
  if (i - digitsStart <= 9) {
    let v = 0;
    for (let k = digitsStart; k < i; k++) v = v * 10 + (d[k]! - 0x30);
    return neg ? -v | 0 : v | 0;
  }
  let v = BigInt(latin1(d, digitsStart, i));
  if (neg) v = -v;
  if (v > LONG_MAX) v = LONG_MAX;
  if (v < LONG_MIN) v = LONG_MIN;
  return Number(BigInt.asIntN(32, v));
}

/** `cAtoiBytes` on a Latin-1 string. */
export function cAtoi(text: string): number {
  const b = latin1Bytes(text);
  return cAtoiBytes(b, 0, b.length);
}

/**
 * glibc `strtoul(text, &end, 10)` with a 64-bit `unsigned long`, on `d[s..e)`: the exact value
 * and the offset where parsing stopped. Leading blanks and a sign are accepted; a minus sign
 * negates modulo 2^64, as C does (`-18446744073709551610` reads as 6); overflow gives ULONG_MAX;
 * with no digits the value is 0 and `end` is `s` (the start of the text, not after the blanks).
 */
export function cStrtoulBytes(d: Uint8Array, s: number, e: number): { value: bigint; end: number } {
  let i = s;
  while (i < e && isCSpace(d[i]!)) i++;
  let neg = false;
  if (i < e && (d[i] === 0x2b || d[i] === 0x2d)) {
    neg = d[i] === 0x2d;
    i++;
  }
  const digitsStart = i;
  while (i < e && d[i]! >= 0x30 && d[i]! <= 0x39) i++;
  if (i === digitsStart) return { value: 0n, end: s };
  let v: bigint;
  if (i - digitsStart <= 15) {
    let x = 0;
    for (let k = digitsStart; k < i; k++) x = x * 10 + (d[k]! - 0x30);
    v = BigInt(x);
  } else {
    v = BigInt(latin1(d, digitsStart, i));
  }
  if (v >= TWO_64) return { value: TWO_64 - 1n, end: i };
  if (neg && v !== 0n) v = TWO_64 - v;
  return { value: v, end: i };
}

/** `cStrtoulBytes` on a Latin-1 string; `end` is an index into the string. */
export function cStrtoul(text: string): { value: bigint; end: number } {
  const b = latin1Bytes(text);
  return cStrtoulBytes(b, 0, b.length);
}

/**
 * The name ClamAV stores for a signature (`cli_mpool_virname`): the text is cut at the first
 * ` (Clam)` (everything after it goes too), and `.UNOFFICIAL` is appended unless the database is
 * official. Unlike engine-made names, `Heuristics.*` names read from a database get the suffix
 * too. Returns null for an empty name, which ClamAV rejects.
 */
export function clamavVirname(raw: string, official: boolean): string | null {
  const cut = raw.indexOf(' (Clam)');
  const name = cut >= 0 ? raw.slice(0, cut) : raw;
  if (name.length === 0) return null;
  return official ? name : `${name}.UNOFFICIAL`;
}

/**
 * What `clamscan` prints after `ERROR: ` when a load fails with the diagnostic of this code first
 * (the `cl_strerror` text of the return code ClamAV uses for that check).
 */
export const CLAMAV_LOAD_ERROR: Readonly<Record<string, string>> = Object.freeze({
  'clamav.hash.empty-file': 'Malformed database',
  'clamav.hash.blank-line': 'Malformed database',
  'clamav.hash.too-few-fields': 'Malformed database',
  'clamav.hash.too-many-fields': 'Malformed database',
  'clamav.hash.bad-size': 'Malformed database',
  'clamav.hash.wildcard-needs-flevel': 'Malformed database',
  'clamav.hash.empty-name': 'Malformed database',
  'clamav.hash.bad-hash-length': 'Invalid argument passed to function',
  'clamav.hash.bad-hash-hex': 'Invalid argument passed to function',
});

/** The text `clamscan` prints after `ERROR: ` for this load, or null when the load succeeds. */
export function clamavLoadError(diags: readonly Diagnostic[], table: Readonly<Record<string, string>> = CLAMAV_LOAD_ERROR): string | null {
  const first = diags.find((d) => d.severity === 'error');
  if (!first) return null;
  return table[first.code] ?? 'Malformed database';
}

// ───────────────────────────── hash databases ─────────────────────────────

/** Which of ClamAV's four hash matchers a file feeds. */
export type HashDbKind = 'hdb' | 'mdb' | 'imp' | 'fp';

/**
 * Receives parsed entries. `hash` is either digest bytes (a view that is reused for the next
 * entry: copy it) or lower/upper-case hex; `size` null means `*`.
 */
export interface HashSink {
  /** Called once before the entries of a database file, with the file's name as given. */
  beginFile(db: string): void;
  /** Interns a detection name; the same string always yields the same index. */
  internName(name: string): number;
  add(algo: HashAlgo, hash: Uint8Array | string, size: number | null, nameIndex: number, line: number): void;
}

export interface HashDbContext {
  file: string;
  kind: HashDbKind;
  /** True only for content of a verified `.cvd`/`.cld` (names get no `.UNOFFICIAL`). */
  official: boolean;
  /** Ignore lists loaded before this file (ClamAV applies them at load time). */
  ignore?: IgnoreSet;
}

/**
 * The loader for a file name, by ClamAV's case-insensitive suffix test, or null for a name that
 * is not a hash database. `pua` marks the `u` variants, which ClamAV loads only with PUA
 * detection enabled.
 */
export function hashKindOf(fileName: string): { kind: HashDbKind; pua: boolean } | null {
  const n = fileName.toLowerCase();
  if (n.endsWith('.hdb') || n.endsWith('.hsb')) return { kind: 'hdb', pua: false };
  if (n.endsWith('.hdu') || n.endsWith('.hsu')) return { kind: 'hdb', pua: true };
  if (n.endsWith('.fp') || n.endsWith('.sfp')) return { kind: 'fp', pua: false };
  if (n.endsWith('.mdb') || n.endsWith('.msb')) return { kind: 'mdb', pua: false };
  if (n.endsWith('.imp')) return { kind: 'imp', pua: false };
  if (n.endsWith('.mdu') || n.endsWith('.msu')) return { kind: 'mdb', pua: true };
  return null;
}

/** Hex-digit value of a byte, or -1. */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[0x41 + i] = 10 + i;
  HEX[0x61 + i] = 10 + i;
}

const ALGO_BY_HEXLEN: Readonly<Record<number, HashAlgo>> = { 32: 'md5', 40: 'sha1', 64: 'sha256' };
const CLAM_SUFFIX = latin1Bytes(' (Clam)');
const MAX_SIZE = 0xfffffffe;
const MAX_FIELDS = 5;

/**
 * Parses one hash database. Entries go to `sink` in file order; `count` is the number of
 * signatures loaded (what clamscan's "Known viruses" adds for this file). The load fails, as in
 * ClamAV, when `diagnostics` holds any error.
 *
 * Per line, in ClamAV's order:
 *   fields = split(line, ':') (at most 6 counted)
 *   < 3 fields → error; > 3 → MinFL read; > 5 → error; MinFL > 216 or MaxFL < 216 → skipped
 *   size: `*` (needs MinFL ≥ 73 except .imp) or strtoul, 0 < size < 0xffffffff, nothing after it
 *   ignore list (raw name, MD5 of the line) → skipped
 *   name: cut at " (Clam)", must not be empty
 *   hash: 32, 40 or 64 hex digits
 */
export function parseHashDb(data: Uint8Array, ctx: HashDbContext, sink: HashSink): { count: number; diagnostics: Diagnostic[] } {
  const diags: Diagnostic[] = [];
  sink.beginFile(ctx.file);
  if (data.length === 0) {
    diags.push(error('clamav.hash.empty-file', 'empty database file: ClamAV refuses a database with no lines at all (a file of comment lines is accepted)', { file: ctx.file, line: 0, column: 0 }));
    return { count: 0, diagnostics: diags };
  }
  const isMdb = ctx.kind === 'mdb';
  const sizeField = isMdb ? 0 : 1;
  const hashField = isMdb ? 1 : 0;
  const layout = isMdb ? 'PESectionSize:PESectionHash:MalwareName[:MinFL[:MaxFL]]' : 'HashString:FileSize:MalwareName[:MinFL[:MaxFL]]';
  const ignore = ctx.ignore && ctx.ignore.size > 0 ? ctx.ignore : undefined;

  const r = new DbLineReader(data);
  const d = data;
  const text = Buffer.from(data.buffer, data.byteOffset, data.length);
  const ts = new Int32Array(MAX_FIELDS + 1);
  const te = new Int32Array(MAX_FIELDS + 1);
  const scratch = new Uint8Array(32);
  const views: Record<HashAlgo, Uint8Array> = { md5: scratch.subarray(0, 16), sha1: scratch.subarray(0, 20), sha256: scratch.subarray(0, 32) };
  let memoColon = -2;
  let count = 0;

  // Diagnostic helpers; they run only for bad lines.
  const loc = (from: number, to: number): Location => ({ file: ctx.file, line: r.line, column: r.column + (from - r.start), length: Math.max(0, to - from) });
  const report = (code: string, message: string, from: number, to: number, help?: string, severity: 'error' | 'warning' = 'error'): void => {
    const extra: Partial<Diagnostic> = { sourceLine: r.physicalLineText() };
    if (help) extra.help = help;
    if (r.continued) {
      extra.help = (help ? help + '; ' : '') + `ClamAV reads at most ${FGETS_BUFFER - 1} bytes per line, so it reads this part (from column ${r.column}) as a line of its own`;
    }
    diags.push(severity === 'error' ? error(code, message, loc(from, to), extra) : warning(code, message, loc(from, to), extra));
  };
  const field = (k: number): string => latin1(d, ts[k]!, te[k]!);

  while (r.next()) {
    if (r.splitStarts) {
      report('clamav.hash.long-line', `line is longer than ${FGETS_BUFFER - 1} bytes: ClamAV reads the rest of it as another line`, r.start + FGETS_BUFFER - 1, r.start + FGETS_BUFFER - 1, undefined, 'warning');
    }
    if (r.comment) continue;
    if (r.nulAt >= 0) {
      report('clamav.hash.nul-byte', 'NUL byte in line: ClamAV ignores everything from here to the end of the line', r.nulAt, r.nulAt + 1, undefined, 'warning');
    }
    const s = r.start;
    const e = r.end;

    // cli_strtokenize(line, ':', 6)
    let nf = 0;
    let p = s;
    for (;;) {
      ts[nf] = p;
      if (memoColon !== -1 && memoColon < p) memoColon = d.indexOf(0x3a, p);
      if (memoColon !== -1 && memoColon < e) {
        te[nf] = memoColon;
        nf++;
        p = memoColon + 1;
        if (nf === MAX_FIELDS + 1) break;
      } else {
        te[nf] = e;
        nf++;
        break;
      }
    }

    if (nf < 3) {
      if (nf === 1 && s === e) {
        report('clamav.hash.blank-line', 'blank line: ClamAV rejects empty lines in every database', s, e, 'delete the line, or start it with # to make it a comment');
      } else {
        report('clamav.hash.too-few-fields', `expected at least 3 fields (${layout}), found ${nf}`, s, e);
      }
      continue;
    }
    let reqFl = 0;
    if (nf > 3) {
      reqFl = cAtoiBytes(d, ts[3]!, te[3]!) >>> 0;
      if (nf > MAX_FIELDS) {
        report('clamav.hash.too-many-fields', `too many fields: expected at most 5 (${layout}), found ${nf === MAX_FIELDS + 1 ? 'more than 5' : nf}`, te[4]!, e);
        continue;
      }
      // FLEVEL filter: the C code compares as unsigned, so a negative MinFL skips the line and a
      // negative MaxFL means "no maximum".
      if (ENGINE_FLEVEL < reqFl) continue;
      if (nf === MAX_FIELDS && ENGINE_FLEVEL > cAtoiBytes(d, ts[4]!, te[4]!) >>> 0) continue;
    }

    let bad = false;
    // size
    const zs = ts[sizeField]!;
    const ze = te[sizeField]!;
    let size: number | null = null;
    if (ze - zs === 1 && d[zs] === 0x2a) {
      if (ctx.kind !== 'imp' && (nf < 4 || reqFl < 73)) {
        bad = true;
        const why = nf < 4 ? 'there is no MinFL field' : `MinFL is ${reqFl}`;
        report('clamav.hash.wildcard-needs-flevel', `size * (any size) needs a MinFL field of at least 73, but ${why}`, zs, ze,
          `write ${isMdb ? '*:' + field(1) : field(0) + ':*'}:${field(2)}:73`);
      }
    } else {
      const { value, end } = cStrtoulBytes(d, zs, ze);
      if (end !== ze || value === 0n || value >= 0xffffffffn) {
        bad = true;
        const text = field(sizeField);
        let msg: string;
        if (zs === ze) msg = 'size field is empty';
        else if (end !== ze) msg = `invalid size '${text}': not a decimal number`;
        else if (value === 0n) msg = 'size 0 is invalid';
        else msg = `size '${text}' is out of range (reads as ${value})`;
        report('clamav.hash.bad-size', `${msg}; expected a decimal size in bytes from 1 to ${MAX_SIZE}, or *`, zs, ze,
          value === 0n && end === ze && zs !== ze ? 'for any size write * and a MinFL of at least 73' : undefined);
      } else {
        size = Number(value);
      }
    }

    if (ignore && ignore.ignores(text.toString('latin1', ts[2]!, te[2]!), () => d.subarray(s, e))) continue;

    // name (cli_mpool_virname: cut at " (Clam)")
    const ns = ts[2]!;
    let ne = te[2]!;
    const clam = indexOfBytes(d, CLAM_SUFFIX, ns, ne);
    if (clam >= 0) ne = clam;
    if (ne === ns) {
      bad = true;
      report('clamav.hash.empty-name', clam >= 0 ? 'empty malware name: ClamAV cuts the name at " (Clam)" and nothing is left' : 'empty malware name', ts[2]!, te[2]!);
    }

    // hash
    const hs = ts[hashField]!;
    const he = te[hashField]!;
    const algo = ALGO_BY_HEXLEN[he - hs];
    if (algo === undefined) {
      bad = true;
      report('clamav.hash.bad-hash-length', `hash has ${he - hs} characters; expected 32 (MD5), 40 (SHA1) or 64 (SHA256) hex digits`, hs, he);
    } else {
      for (let i = hs; i < he; i += 2) {
        const hi = HEX[d[i]!]!;
        const lo = HEX[d[i + 1]!]!;
        if (hi < 0 || lo < 0) {
          bad = true;
          const at = hi < 0 ? i : i + 1;
          report('clamav.hash.bad-hash-hex', `invalid hex digit '${String.fromCharCode(d[at]!)}' in hash; expected 0-9, a-f or A-F`, at, at + 1);
          break;
        }
        scratch[(i - hs) >> 1] = (hi << 4) | lo;
      }
    }
    if (bad || algo === undefined) continue;

    let name = text.toString('latin1', ns, ne);
    if (!ctx.official) name += '.UNOFFICIAL';
    sink.add(algo, views[algo], size, sink.internName(name), r.line);
    count++;
  }
  return { count, diagnostics: diags };
}

function indexOfBytes(d: Uint8Array, needle: Uint8Array, s: number, e: number): number {
  const first = needle[0]!;
  const last = e - needle.length;
  outer: for (let i = s; i <= last; i++) {
    if (d[i] !== first) continue;
    for (let k = 1; k < needle.length; k++) if (d[i + k] !== needle[k]) continue outer;
    return i;
  }
  return -1;
}

const SCOPE: Readonly<Record<HashDbKind, HashScope>> = { hdb: 'file', fp: 'file', mdb: 'section', imp: 'import' };

/**
 * Convenience for small files, tools and golden tests: the same parse, collected as `HashSig`
 * objects (one per signature, so not for official databases).
 */
export function collectHashSigs(data: Uint8Array, ctx: HashDbContext): { sigs: HashSig[]; diagnostics: Diagnostic[] } {
  const names: string[] = [];
  const ids = new Map<string, number>();
  const sigs: HashSig[] = [];
  let db = ctx.file;
  const sink: HashSink = {
    beginFile(f) { db = f; },
    internName(n) {
      let i = ids.get(n);
      if (i === undefined) { i = names.length; names.push(n); ids.set(n, i); }
      return i;
    },
    add(algo, hash, size, nameIndex, line) {
      const hex = typeof hash === 'string' ? hash.toLowerCase() : Buffer.from(hash).toString('hex');
      sigs.push({ algo, hash: hex, size, name: names[nameIndex]!, scope: SCOPE[ctx.kind], allow: ctx.kind === 'fp', origin: { db, line } });
    },
  };
  const { diagnostics } = parseHashDb(data, ctx, sink);
  return { sigs, diagnostics };
}
