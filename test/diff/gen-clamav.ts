/**
 * Seeded generator of ClamAV signature databases and of files that hit, nearly hit and miss them,
 * for the differential suite (oracle.test.ts checks it against clamscan; clamav-diff.test.ts
 * compares vigil with clamscan on it).
 *
 * In: a seed and a scale. Out: a Corpus of groups (each group = one set of databases + the files
 * scanned with it in one clamscan run) and a list of malformed databases (one per malformed form).
 * Every file records the signatures it was built around: `hits` (reported names expected with
 * --allmatch, as a set), `misses` (names it was built to nearly hit), optionally `counts` (exact
 * --allmatch multiplicity) and `expectDefault` (the one name printed without --allmatch).
 *
 * Why built this way:
 *  * Signatures are token lists (model.ts), rendered to hex for the database and instantiated to
 *    bytes for the files, so a near miss is "the same instance with one token broken".
 *  * Accidental matches are made rare by construction: every binary literal starts with a byte
 *    from RESERVED (E0-FD), which random binary filler never contains, and every text literal
 *    carries a digit, which no filler contains; two-byte literals start with FE/FF and are unique.
 *    What chance still produces is caught by a last pass over every file (GroupBuilder.incidental)
 *    that looks for each signature's longest literal and folds the model's verdict in.
 *  * Files are typed as ClamAV types them (sniffKind, checked for every file): binary files start
 *    with "VG" (random filler could start with a magic such as 1f 8b) and get a 00 00 unit at an
 *    even offset in their first KiB, otherwise ClamAV would often call them UTF-16 text; fillers
 *    avoid the bytes that start file-type magics anywhere ('<', 'M', 'P', '%', 'R', '`', ...).
 *  * After a file is built, model.ts re-checks each declared hit/miss on the final bytes and the
 *    generator throws on disagreement: expectations are verified, not hoped for. The model also
 *    counts reports per scan pass and per 128 KiB window (see FINDINGS.md). Cases it cannot see
 *    (window-edge quirks, normalisation buffers) carry a `probe` label and hand-written
 *    expectations.
 *  * Sizes stay small (most files < 4 KiB; a few large ones for window borders) so that clamscan
 *    scans the whole corpus in seconds.
 */

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import {
  B_ANY,
  B_LEFT,
  B_RIGHT,
  evalLogical,
  gap,
  hex2,
  hexOf,
  isAlnum,
  matchSpans,
  matchStarts,
  maxLogicalIndex,
  normalizeText,
  renderOffset,
  renderTokens,
  UNBOUNDED,
  type MatchOptions,
  type Offset,
  type Tok,
} from './model.js';

/** clamscan reads files in windows of SCANBUFF bytes (CMake `SCANBUFF`, 1.4: 131072). */
export const SCANBUFF = 131072;
/** Length of the longest generic (target 0) pattern: pinned so the window overlap is known. */
export const GENERIC_PIN_LEN = 160;
/** Length of the longest target-7 pattern: the carry-over between normalised text buffers. */
export const TEXT_PIN_LEN = 40;
/** Longest part any other generic pattern may have (< GENERIC_PIN_LEN). */
const MAX_PART = 150;
/** Longest part any other target-7 pattern may have (< TEXT_PIN_LEN). */
const MAX_TEXT_PART = 36;

// ---------------------------------------------------------------------------------------------
// Public shapes

export interface DbFile {
  name: string;
  text: string;
}

export interface SigInfo {
  /** Raw name as written in the database (before `.UNOFFICIAL`). */
  name: string;
  db: string;
  line: string;
  family: string;
}

/** ClamAV's type for a plain file: binary data, one of its text types, or empty. */
export type FileKind = 'binary' | 'ascii' | 'utf8' | 'utf16le' | 'utf16be' | 'empty';

export interface FileCase {
  name: string;
  bytes: Uint8Array;
  kind: FileKind;
  /** Reported names (with `.UNOFFICIAL`) expected in --allmatch mode, as a set. */
  hits: string[];
  /** Reported names this file was built to nearly hit (must not be reported). */
  misses: string[];
  /** Raw names of every signature involved, for failure reports. */
  sigs: string[];
  notes: string[];
  /** The name expected without --allmatch, when the order of detection is known. */
  expectDefault?: string;
  /** Exact number of `FOUND` lines per reported name in --allmatch mode, when known. */
  counts?: Record<string, number>;
  /** Set when the expectation encodes a ClamAV behaviour outside the model; names the behaviour. */
  probe?: string;
}

export interface Group {
  id: string;
  description: string;
  /** Databases in the order they must be passed with -d (ignore lists first). */
  dbs: DbFile[];
  sigs: SigInfo[];
  files: FileCase[];
}

export interface MalformedCase {
  id: string;
  /** What is wrong, in words (the reference section's form). */
  form: string;
  db: DbFile;
  /** The `ERROR: ...` line clamscan prints on stderr; null for valid look-alikes (exit 0). */
  expectError: string | null;
}

export interface Corpus {
  seed: number;
  groups: Group[];
  malformed: MalformedCase[];
}

export interface GenOptions {
  seed: number;
  /** Multiplies the per-family counts (1 = the CI size: > 2,000 signatures and files). */
  scale?: number;
}

export const reported = (raw: string): string => `${raw}.UNOFFICIAL`;

// ---------------------------------------------------------------------------------------------
// Alphabets

/** Bytes that only ever appear in generated signature instances, never in filler. */
const RESERVED: number[] = range(0xe0, 0xfd);
/**
 * Binary filler: no reserved bytes, no digits (text literals always carry one), none of the bytes
 * that start common file-type magics.
 */
const BIN_FILLER: number[] = range(0x00, 0xdf).filter((b) => !(b >= 0x30 && b <= 0x39) && ![0x25, 0x3c, 0x4d, 0x50, 0x52, 0x55, 0x60, 0xca].includes(b));
const LOWER: number[] = range(0x61, 0x7a);
const DIGITS: number[] = range(0x31, 0x39);
/** Characters that text normalisation leaves unchanged (so text instances survive it). */
const STABLE: number[] = [...LOWER, ...DIGITS, 0x30];
const SAFE_FIRST_WORDS = ['the', 'note', 'data', 'some', 'plain', 'words', 'text'];

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i <= b; i++) out.push(i);
  return out;
}

const enc = new TextEncoder();
const ascii = (s: string): number[] => [...enc.encode(s)];

// ---------------------------------------------------------------------------------------------
// Literals

type Flavor = 'bin' | 'text';

/** A binary literal: reserved first byte (the anchor), then random bytes; never contains 0d 0a. */
function binLit(r: Prng, n: number): number[] {
  for (;;) {
    const out = [r.pick(RESERVED)];
    for (let i = 1; i < n; i++) out.push(r.int(0, 0xfd));
    if (!hexOf(out).match(/^(?:..)*0d0a/)) return out;
  }
}

/** A text literal: lower-case letters and digits, at least one digit (the anchor) and one letter. */
function textLit(r: Prng, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.chance(0.3) ? r.pick(DIGITS) : r.pick(LOWER));
  out[0] = r.pick(DIGITS);
  if (n > 1 && !out.some((b) => b >= 0x61)) out[n - 1] = r.pick(LOWER);
  return out;
}

function lit(r: Prng, f: Flavor, n: number): Tok {
  return { t: 'lit', bytes: f === 'bin' ? binLit(r, n) : textLit(r, n) };
}

/** A byte for "any byte" positions: filler-safe for the flavour. */
function anyByte(r: Prng, f: Flavor): number {
  return f === 'bin' ? r.pick(BIN_FILLER) : r.pick(STABLE);
}

const ALL_BYTES = range(0, 255);

function otherByte(r: Prng, f: Flavor, not: (b: number) => boolean): number {
  const base = f === 'bin' ? ALL_BYTES : STABLE;
  for (let i = 0; i < 64; i++) {
    const b = r.pick(base);
    if (!not(b)) return b;
  }
  return r.pick(base.filter((b) => !not(b)));
}

// ---------------------------------------------------------------------------------------------
// Pieces: the bytes of one instance, with the neighbours it needs.

interface Piece {
  bytes: number[];
  /** Bytes that must come immediately before (class neighbours, guards). */
  before: number[];
  after: number[];
  atStart?: boolean;
  atEnd?: boolean;
}

const NO_BREAK = -1;

/**
 * Instantiates tokens as bytes. With `brk` = a token index, that token is made not to match while
 * every other token matches (returns null when that token cannot be broken).
 */
function instantiate(r: Prng, toks: readonly Tok[], f: Flavor, brk: number = NO_BREAK): Piece | null {
  const p: Piece = { bytes: [], before: [], after: [] };
  for (let i = 0; i < toks.length; i++) {
    const tk = toks[i] as Tok;
    const broken = i === brk;
    const first = i === 0;
    const last = i === toks.length - 1;
    switch (tk.t) {
      case 'lit': {
        const bytes = tk.bytes.slice();
        if (broken) {
          const j = r.int(0, bytes.length - 1);
          const old = bytes[j] as number;
          bytes[j] = otherByte(r, f, (b) => b === old || (f === 'text' && (b | 0x20) === (old | 0x20)));
        }
        p.bytes.push(...bytes);
        break;
      }
      case 'any':
        if (broken) return null;
        p.bytes.push(anyByte(r, f));
        break;
      case 'hi':
      case 'lo': {
        const fits = (b: number): boolean => (tk.t === 'hi' ? b >> 4 : b & 15) === tk.v;
        p.bytes.push(broken ? otherByte(r, f, fits) : otherByte(r, f, (b) => !fits(b)));
        break;
      }
      case 'gap': {
        let n: number;
        if (broken) {
          if (Number.isFinite(tk.max) && tk.max >= tk.min) n = tk.max + 1;
          else if (tk.min > 0 && tk.min <= tk.max) n = tk.min - 1;
          else return null;
        } else {
          if (tk.min > tk.max) return null;
          const hi = Number.isFinite(tk.max) ? tk.max : tk.min + 40;
          n = r.weighted([
            [tk.min, 2],
            [hi, 2],
            [r.int(tk.min, hi), 3],
          ]);
        }
        for (let k = 0; k < n; k++) p.bytes.push(f === 'bin' ? r.pick(BIN_FILLER) : r.pick(LOWER));
        break;
      }
      case 'alt1': {
        const wantIn = broken ? tk.neg : !tk.neg;
        p.bytes.push(wantIn ? r.pick(tk.set) : otherByte(r, f, (b) => tk.set.includes(b)));
        break;
      }
      case 'altf': {
        const wantIn = broken ? tk.neg : !tk.neg;
        if (wantIn) p.bytes.push(...r.pick(tk.strs));
        else {
          let s: number[];
          do {
            s = r.pick(tk.strs).slice();
            const j = r.int(0, s.length - 1);
            s[j] = otherByte(r, f, (b) => b === s[j]);
          } while (tk.strs.some((x) => x.every((b, j) => s[j] === b)));
          p.bytes.push(...s);
        }
        break;
      }
      case 'altg': {
        const alt = r.pick(tk.alts);
        const sub = instantiate(r, alt, f);
        if (!sub) return null;
        if (broken) {
          const firsts = tk.alts.map((a) => (a[0]?.t === 'lit' ? a[0].bytes[0] : -1));
          sub.bytes[0] = otherByte(r, f, (b) => firsts.includes(b));
        }
        p.bytes.push(...sub.bytes);
        break;
      }
      case 'cls': {
        const want = broken ? tk.neg : !tk.neg; // true = the class condition must hold
        if (first && tk.neg) {
          // A negated left class consumes the previous byte (see model.ts): one byte outside the
          // class's middle set for a hit, inside it for a near miss. Never at offset 0.
          const inCls = (b: number): boolean => (tk.c === 'B' ? B_ANY.has(b) : tk.c === 'W' ? !isAlnum(b) : b === 0x0a);
          const pool = (f === 'bin' ? ALL_BYTES : [...STABLE, 0x20, 0x0a, 0x2e]).filter((b) => inCls(b) === want);
          p.before.push(r.pick(pool));
          break;
        }
        if (first || last) {
          const side = first ? 'L' : 'R';
          const edge = side === 'L' ? 'atStart' : 'atEnd';
          if (want && r.chance(0.15) && !(side === 'R' && p.atStart)) {
            p[edge] = true;
          } else {
            const nb = classNeighbour(r, tk.c, side, want, f);
            if (side === 'L') p.before.push(...nb);
            else p.after.push(...nb);
          }
        } else {
          p.bytes.push(...classMiddle(r, tk.c, want, f));
        }
        break;
      }
      case 'edgeL': {
        const k = broken ? (tk.min > 0 && r.chance(0.5) ? tk.min - 1 : tk.max + 1) : r.int(tk.min, tk.max);
        // Guard bytes before, so no earlier occurrence of the anchor byte can line up.
        for (let j = 0; j <= tk.max + 1; j++) p.before.push(fillerNot(r, f, tk.byte));
        p.bytes.push(tk.byte);
        for (let j = 0; j < k; j++) p.bytes.push(fillerNot(r, f, tk.byte));
        break;
      }
      case 'edgeR': {
        const k = broken ? (tk.min > 0 && r.chance(0.5) ? tk.min - 1 : tk.max + 1) : r.int(tk.min, tk.max);
        for (let j = 0; j < k; j++) p.bytes.push(fillerNot(r, f, tk.byte));
        p.bytes.push(tk.byte);
        for (let j = 0; j <= tk.max + 1; j++) p.after.push(fillerNot(r, f, tk.byte));
        break;
      }
    }
  }
  return p;
}

function fillerNot(r: Prng, f: Flavor, not: number): number {
  for (;;) {
    const b = f === 'bin' ? r.pick(BIN_FILLER) : r.pick(LOWER);
    if (b !== not) return b;
  }
}

/** Neighbour bytes for an edge class: satisfying it (want) or violating it. */
function classNeighbour(r: Prng, c: 'B' | 'L' | 'W', side: 'L' | 'R', want: boolean, f: Flavor): number[] {
  if (c === 'B') {
    const set = side === 'L' ? B_LEFT : B_RIGHT;
    if (want) return [r.pick([...set])];
    // Violations: often the asymmetric case (\n on the left, @ or . on the right), else a letter.
    if (r.chance(0.4)) return [side === 'L' ? 0x0a : r.pick([0x40, 0x2e, 0x3c])];
    return [r.pick(f === 'bin' ? ALL_BYTES.filter((b) => !set.has(b)) : LOWER)];
  }
  if (c === 'L') {
    if (want) return side === 'R' && r.chance(0.4) ? [0x0d, 0x0a] : [0x0a];
    return [r.pick(side === 'L' ? [0x0d, 0x20, 0x61, 0x09] : [0x20, 0x61, 0x09])];
  }
  if (want) return [r.pick(f === 'bin' ? ALL_BYTES.filter((b) => !isAlnum(b)) : [0x20, 0x2e, 0x2c, 0x0a])];
  return [r.pick(f === 'bin' ? ALL_BYTES.filter(isAlnum) : LOWER)];
}

/** Bytes consumed by a middle class: in it (want) or not. */
function classMiddle(r: Prng, c: 'B' | 'L' | 'W', want: boolean, f: Flavor): number[] {
  if (c === 'B') return [want ? r.pick([...B_ANY]) : r.pick(f === 'bin' ? ALL_BYTES.filter((b) => !B_ANY.has(b)) : LOWER)];
  if (c === 'L') return want ? (r.chance(0.3) ? [0x0d, 0x0a] : [0x0a]) : [r.pick([0x20, 0x61, 0x09, 0x2e])];
  return [want ? r.pick(f === 'bin' ? ALL_BYTES.filter((b) => !isAlnum(b)) : [0x20, 0x2e, 0x2c]) : r.pick(f === 'bin' ? ALL_BYTES.filter(isAlnum) : LOWER)];
}

// ---------------------------------------------------------------------------------------------
// File assembly

interface Placement {
  piece: Piece;
  /** Absolute start of piece.bytes; undefined = anywhere. */
  at?: number;
  /** Start of piece.bytes counted back from the end of the file (EOF-n offsets). */
  fromEnd?: number;
}

/** Marks text output for the file-type sniffer: not ASCII, not UTF-8, not UTF-16 (a 00 00 unit). */
const BINARY_MARK = [0x00, 0x00];

/**
 * Lays pieces out in a buffer of (at least) `size` bytes over filler. Binary files get their 00 00
 * mark at an even offset in [2, 1026] that no piece covers; text files start with a safe word.
 */
function assemble(r: Prng, kind: 'binary' | 'ascii', size: number, placements: readonly Placement[], textFill?: (n: number) => number[], exact = false): Uint8Array {
  interface Block {
    start: number;
    bytes: number[];
  }
  const fixed: Block[] = [];
  const floating: Piece[] = [];
  let need = 0;
  for (const pl of placements) {
    const pc = pl.piece;
    const blockBytes = [...pc.before, ...pc.bytes, ...pc.after];
    need += blockBytes.length;
    if (pc.atStart) fixed.push({ start: 0, bytes: [...pc.bytes, ...pc.after] });
    else if (pl.at !== undefined) fixed.push({ start: pl.at - pc.before.length, bytes: blockBytes });
    else if (!pc.atEnd && pl.fromEnd === undefined) floating.push(pc);
  }
  let total = exact ? size : Math.max(size, 2 * need + 100);
  for (const b of fixed) total = Math.max(total, b.start + b.bytes.length + (exact ? 0 : 4));
  if (exact && total !== size) throw new Error('assemble: pieces do not fit the exact size');
  for (const pl of placements) {
    const pc = pl.piece;
    if (pc.atEnd) {
      const len = pc.before.length + pc.bytes.length;
      fixed.push({ start: total - len, bytes: [...pc.before, ...pc.bytes] });
    } else if (pl.fromEnd !== undefined) {
      fixed.push({ start: total - pl.fromEnd - pc.before.length, bytes: [...pc.before, ...pc.bytes, ...pc.after] });
    }
  }
  fixed.sort((a, b) => a.start - b.start);
  fixed.forEach((b, i) => {
    if (b.start < 0 || b.start + b.bytes.length > total) throw new Error('assemble: a fixed piece falls outside the file');
    const next = fixed[i + 1];
    if (next && next.start < b.start + b.bytes.length) throw new Error('assemble: fixed pieces overlap');
  });
  const used: [number, number][] = fixed.map((b) => [b.start, b.start + b.bytes.length]);
  // Text starts with a safe word; binary with "VG" unless a piece must start the file (random
  // filler could start with a file-type magic such as 1f 8b, gzip).
  const reserveLo = kind === 'ascii' ? 6 : 2;
  const overlaps = (a: number, b: number): boolean => a < reserveLo || used.some(([x, y]) => a < y && x < b);
  // Binary mark first (it must sit in the first KiB).
  let mark = -1;
  if (kind === 'binary') {
    for (let p = 2; p + 2 <= Math.min(total, 1028); p += 2) {
      if (!overlaps(p - 1, p + 3)) {
        mark = p;
        break;
      }
    }
    if (mark < 0) throw new Error('assemble: no room for the binary mark');
    used.push([mark - 1, mark + 3]);
  }
  const placedFloating: Block[] = [];
  // Largest first; random slots, then the first free slot, then (when the size is free) the end.
  for (const pc of floating.slice().sort((a, b) => b.bytes.length + b.before.length - (a.bytes.length + a.before.length))) {
    const bytes = [...pc.before, ...pc.bytes, ...pc.after];
    const fits = (s: number): boolean => s >= reserveLo && s + bytes.length + 1 <= total && !overlaps(s - 1, s + bytes.length + 1);
    let start = -1;
    for (let tries = 0; tries < 100 && start < 0; tries++) {
      const s = r.int(reserveLo, Math.max(reserveLo, total - bytes.length - 1));
      if (fits(s)) start = s;
    }
    for (let s = reserveLo; start < 0 && s + bytes.length < total; s++) if (fits(s)) start = s;
    if (start < 0) {
      if (exact) throw new Error('assemble: no room for a piece');
      start = total + 1;
      total = start + bytes.length + 2;
    }
    used.push([start, start + bytes.length]);
    placedFloating.push({ start, bytes });
  }
  const out = new Uint8Array(total);
  if (kind === 'binary') {
    out.set(Uint8Array.from(r.bytesFrom(total, BIN_FILLER)));
    out.set(BINARY_MARK, mark);
    out.set([0x56, 0x47].slice(0, total), 0);
  } else {
    out.set((textFill ?? ((n: number) => textFiller(r, n)))(total));
  }
  for (const b of [...fixed, ...placedFloating]) out.set(b.bytes, b.start);
  return out;
}

/** Words of lower-case letters, single spaces, sentence ends and newlines; starts with a safe word. */
function textFiller(r: Prng, n: number): number[] {
  let s = `${r.pick(SAFE_FIRST_WORDS)} `;
  while (s.length < n) {
    s += r.word(2, 9);
    s += r.weighted([
      [' ', 12],
      ['. ', 2],
      ['\n', 1],
      [', ', 1],
    ]);
  }
  return ascii(s.slice(0, n));
}

/** Text whose normalisation is the identity apart from case: single spaces, no newlines. */
function flatTextFiller(r: Prng, n: number): number[] {
  let s = `${r.pick(SAFE_FIRST_WORDS)} `;
  while (s.length < n) s += `${r.word(2, 9)} `;
  return ascii(s.slice(0, n));
}

function upperCase(data: Uint8Array): Uint8Array {
  return data.map((b) => (b >= 0x61 && b <= 0x7a ? b - 32 : b));
}

function mixedCase(r: Prng, data: Uint8Array): Uint8Array {
  const out = data.slice();
  let changed = false;
  for (let i = 0; i < out.length; i++) {
    const b = out[i] as number;
    if (b >= 0x61 && b <= 0x7a && r.chance(0.5)) {
      out[i] = b - 32;
      changed = true;
    }
  }
  if (!changed) return upperCase(data);
  return out;
}

function utf16le(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + data.length * 2);
  out[0] = 0xff;
  out[1] = 0xfe;
  for (let i = 0; i < data.length; i++) out[2 + 2 * i] = data[i] as number;
  return out;
}

// ---------------------------------------------------------------------------------------------
// File typing: how ClamAV classifies a plain file from its first 1028 bytes (no magic matched).

/** Bytes that never occur in text (ClamAV's text_chars table, value F). */
function neverText(b: number): boolean {
  return b <= 6 || b === 11 || (b >= 14 && b <= 26) || (b >= 28 && b <= 31) || b === 127;
}

export function sniffKind(data: Uint8Array): FileKind {
  if (data.length === 0) return 'empty';
  const buf = data.subarray(0, 1028);
  if (!buf.some(neverText)) return 'ascii';
  if (isUtf8(buf)) return 'utf8';
  const u = utf16Kind(buf);
  return u ?? 'binary';
}

function isUtf8(b: Uint8Array): boolean {
  let got = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (c < 0x80) {
      if (neverText(c) || c >= 0x80) return false;
      continue;
    }
    if ((c & 0x40) === 0) return false;
    const follow = (c & 0x20) === 0 ? 1 : (c & 0x10) === 0 ? 2 : (c & 0x08) === 0 ? 3 : (c & 0x04) === 0 ? 4 : (c & 0x02) === 0 ? 5 : -1;
    if (follow < 0) return false;
    for (let j = 0; j < follow; j++) {
      if (++i >= b.length) return got;
      const d = b[i] as number;
      if ((d & 0x80) === 0 || (d & 0x40) !== 0) return false;
    }
    got = true;
  }
  return got;
}

function utf16Kind(b: Uint8Array): 'utf16le' | 'utf16be' | undefined {
  if (b.length < 2) return undefined;
  let be = true;
  let bom = true;
  if (b[0] === 0xff && b[1] === 0xfe) be = false;
  else if (!(b[0] === 0xfe && b[1] === 0xff)) bom = false;
  let bad = 0;
  for (let i = 2; i + 1 < b.length; i += 2) {
    const c = be ? (b[i + 1] as number) + 256 * (b[i] as number) : (b[i] as number) + 256 * (b[i + 1] as number);
    if (c === 0xfffe) return undefined;
    if (c < 128 && (neverText(c) || c === 0)) {
      if (!bom) return undefined;
      bad++;
    }
  }
  if (bom && bad >= b.length / 2) return undefined;
  return be ? 'utf16be' : 'utf16le';
}

// ---------------------------------------------------------------------------------------------
// Expectations from the model

type NormMode = 'stream' | 'file';

interface BodySig {
  name: string;
  target: number;
  offset: Offset;
  toks: Tok[];
  /** How the target field is written (`*` means 0). */
  targetText?: string;
  /** Extra fields after the pattern (FLEVEL range). */
  tail?: string;
  /** Pattern text when it is not rendered from toks (e.g. garbage behind an FLEVEL filter). */
  hexText?: string;
  /** Not loaded by ClamAV (FLEVEL filter, target >= 15, ignored by .ign2): never matches. */
  skipped?: boolean;
}

function bodyLine(s: BodySig): string {
  const tail = s.tail ? `:${s.tail}` : '';
  return `${s.name}:${s.targetText ?? s.target}:${renderOffset(s.offset)}:${s.hexText ?? renderTokens(s.toks)}${tail}`;
}

/** Files of 5 bytes or less are not scanned at all (cli_magic_scan: "File is too small"). */
export const MIN_SCANNED_SIZE = 6;

const multiPart = (toks: readonly Tok[]): boolean => toks.some((tk) => tk.t === 'gap' && !(tk.min === tk.max && tk.min > 0 && tk.min < 128));

/**
 * Number of scan windows that wholly contain [s, e): clamscan scans a layer in windows of SCANBUFF
 * bytes, each starting M bytes before the previous one ended; a window that ends exactly at the
 * end of the layer is still followed by one of the last M bytes.
 */
export function windowsContaining(s: number, e: number, size: number, M: number): number {
  let n = 0;
  for (let start = 0; start < size; start += SCANBUFF - M) {
    const end = Math.min(start + SCANBUFF, size);
    if (s >= start && e <= end) n++;
    if (end - start < SCANBUFF) break;
  }
  return n;
}

/**
 * Reports per scan pass, as ClamAV runs them on a plain file of this kind (NaN = not known:
 * several matches of a multi-part signature over several windows, or several normalised buffers).
 */
function bodyPasses(s: BodySig, data: Uint8Array, kind: FileKind, mode: NormMode, M: number): number[] {
  if (kind === 'empty' || s.skipped || s.target >= 15 || data.length < MIN_SCANNED_SIZE) return [];
  const count = (view: Uint8Array): number => {
    const spans = matchSpans(s.toks, view, { offset: s.offset });
    if (view.length < SCANBUFF || spans.length === 0) return spans.length;
    if (multiPart(s.toks)) return Number.NaN;
    return spans.reduce((a, [st, en]) => a + windowsContaining(st, en, view.length, M), 0);
  };
  if (kind === 'binary') {
    // Pass 1: raw scan with the generic root; pass 2: CL_TYPE_OTHER rescan (target 14 + generic).
    const n = s.target === 0 || s.target === 14 ? count(data) : 0;
    return [s.target === 0 ? n : 0, n];
  }
  // Text: pass 1 raw (generic only), pass 2 the normalised text (targets 7 and 0).
  const raw = s.target === 0 ? count(data) : 0;
  let norm = 0;
  if (s.target === 0 || s.target === 7) {
    const eofOk = s.offset.k !== 'eof' || mode === 'file';
    const nv = normalizeText(data);
    if (eofOk) {
      if (mode === 'file') norm = count(nv);
      else {
        norm = matchStarts(s.toks, nv, { offset: s.offset }).length;
        if (norm > 0 && nv.length > SCANBUFF - TEXT_PIN_LEN) norm = Number.NaN;
      }
    }
  }
  return [raw, norm];
}


export type HashAlg = 'md5' | 'sha1' | 'sha256';

export function digest(alg: HashAlg, data: Uint8Array): string {
  return createHash(alg).update(data).digest('hex');
}

/** A whole-layer hash signature (.hdb/.hsb) or allow-list entry (.fp/.sfp). */
interface HashSig {
  name: string;
  alg: HashAlg;
  /** The bytes whose hash the line carries. */
  of: Uint8Array;
  /** Size field: the hashed length, another number (a near miss) or '*'. */
  size: number | '*';
  skipped?: boolean;
}

/** One subsignature of a logical signature. */
interface SubSig {
  text: string;
  /** Content subsignature: pattern, modifiers and offset for the model. */
  toks?: Tok[];
  opts?: MatchOptions;
  /** `::wa`: count ASCII and wide matches together. */
  alsoAscii?: boolean;
  /** Non-content subsignatures (byte compare, PCRE): count from the view and the counts so far. */
  evaluate?: (view: Uint8Array, counts: readonly number[]) => number;
}

interface LdbSig {
  name: string;
  tdb: string;
  expr: string;
  subs: SubSig[];
  fileSize?: [number, number];
  skipped?: boolean;
}

function ldbLine(l: LdbSig): string {
  return [l.name, l.tdb, l.expr, ...l.subs.map((x) => x.text)].join(';');
}

interface Planted {
  body?: readonly BodySig[];
  hashes?: readonly HashSig[];
  ldbs?: readonly LdbSig[];
  fps?: readonly HashSig[];
}

function allNames(p: Planted): string[] {
  return [...(p.body ?? []), ...(p.hashes ?? []), ...(p.ldbs ?? [])].map((x) => x.name);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hashMatches(h: HashSig, layer: Uint8Array): boolean {
  if (h.skipped) return false;
  if (h.size !== '*' && h.size !== layer.length) return false;
  return sameBytes(h.of, layer);
}

export function subsigCount(x: SubSig, view: Uint8Array, counts: readonly number[]): number {
  if (x.evaluate) return x.evaluate(view, counts);
  if (!x.toks) return 0;
  const starts = new Set(matchStarts(x.toks, view, x.opts ?? {}));
  if (x.alsoAscii) for (const st of matchStarts(x.toks, view, { ...x.opts, wide: false })) starts.add(st);
  return starts.size;
}

function ldbMatches(l: LdbSig, view: Uint8Array, rawSize: number): boolean {
  if (l.skipped) return false;
  if (l.fileSize && (rawSize < l.fileSize[0] || rawSize > l.fileSize[1])) return false;
  const counts: number[] = [];
  for (const x of l.subs) counts.push(subsigCount(x, view, counts));
  return evalLogical(l.expr, counts);
}

interface FileExpectation {
  hits: Set<string>;
  counts: Record<string, number> | undefined;
  /** Name printed without --allmatch, when the model is sure of it. */
  first: string | undefined;
}

/**
 * What clamscan reports for a plain file: per scan pass (binary: raw + CL_TYPE_OTHER rescan;
 * text: raw + normalised), body matches first, then hashes of the layer, then logical signatures.
 * Allow-list entries silence a pass when they match the raw file (or, in 'file' mode, the
 * normalised layer for the normalised pass).
 */
function expectFile(data: Uint8Array, kind: FileKind, mode: NormMode, p: Planted, M: number): FileExpectation {
  const passes: Map<string, number>[] = [];
  const order: string[][] = [];
  if (kind === 'empty' || data.length < MIN_SCANNED_SIZE) return { hits: new Set(), counts: {}, first: undefined };
  const text = kind !== 'binary';
  const norm = text ? normalizeText(data) : data;
  const rawFp = (p.fps ?? []).some((f) => hashMatches(f, data));
  const normFp = text && mode === 'file' && (p.fps ?? []).some((f) => hashMatches(f, norm));
  let countsKnown = true;
  for (let pass = 0; pass < 2; pass++) {
    const got = new Map<string, number>();
    const ordered: string[] = [];
    const view = pass === 1 && text ? norm : data;
    // Body signatures.
    const bodyHits: string[] = [];
    for (const s of p.body ?? []) {
      const n = bodyPasses(s, data, kind, mode, M)[pass] ?? 0;
      if (Number.isNaN(n)) countsKnown = false;
      if (n > 0 || Number.isNaN(n)) {
        got.set(reported(s.name), (got.get(reported(s.name)) ?? 0) + n);
        bodyHits.push(reported(s.name));
      }
    }
    ordered.push(bodyHits.length === 1 ? (bodyHits[0] as string) : bodyHits.length > 1 ? '?' : '');
    // Hashes of the layer: raw in both binary passes and in the first text pass; the
    // normalised layer in 'file' mode.
    const layer = pass === 0 || !text ? data : mode === 'file' ? norm : undefined;
    const hashHits: string[] = [];
    if (layer) {
      for (const alg of ['md5', 'sha1', 'sha256'] as const) {
        const exactFirst = [...(p.hashes ?? [])].filter((h) => h.alg === alg).sort((a, b) => (a.size === '*' ? 1 : 0) - (b.size === '*' ? 1 : 0));
        for (const h of exactFirst) {
          if (hashMatches(h, layer)) {
            got.set(reported(h.name), (got.get(reported(h.name)) ?? 0) + 1);
            hashHits.push(reported(h.name));
          }
        }
      }
    }
    ordered.push(hashHits.length === 1 ? (hashHits[0] as string) : hashHits.length > 1 ? '?' : '');
    // Logical signatures, evaluated after the layer.
    const ldbHits: string[] = [];
    for (const l of p.ldbs ?? []) {
      if (ldbMatches(l, view, data.length)) {
        got.set(reported(l.name), (got.get(reported(l.name)) ?? 0) + 1);
        ldbHits.push(reported(l.name));
      }
    }
    ordered.push(ldbHits.length === 1 ? (ldbHits[0] as string) : ldbHits.length > 1 ? '?' : '');
    const silenced = rawFp || (pass === 1 && normFp);
    passes.push(silenced ? new Map() : got);
    order.push(silenced ? [] : ordered);
  }
  const hits = new Set<string>();
  const counts: Record<string, number> = {};
  for (const m of passes) {
    for (const [k, v] of m) {
      hits.add(k);
      counts[k] = (counts[k] ?? 0) + v;
    }
  }
  let first: string | undefined;
  for (const o of order) {
    const f = o.find((x) => x !== '');
    if (f !== undefined) {
      first = f === '?' ? undefined : f;
      break;
    }
  }
  return { hits, counts: countsKnown ? counts : undefined, first };
}

// ---------------------------------------------------------------------------------------------
// Group builder

class GroupBuilder {
  readonly sigs: SigInfo[] = [];
  /** Two-byte literals already used (see uniquePair). */
  readonly pairs = new Set<number>();
  private readonly allBody: BodySig[] = [];
  private readonly allLdb: LdbSig[] = [];
  /** What each model-checked file was built with, for the incidental-match pass. */
  private readonly built = new Map<FileCase, Planted>();
  readonly files: FileCase[] = [];
  private readonly db = new Map<string, string[]>();
  private readonly counters = new Map<string, number>();

  constructor(
    readonly id: string,
    readonly description: string,
    readonly mode: NormMode,
    /** The generic root's longest pattern: the overlap of scan windows (see famChunk). */
    readonly M = GENERIC_PIN_LEN,
  ) {}

  name(kind: string): string {
    const n = (this.counters.get(kind) ?? 0) + 1;
    this.counters.set(kind, n);
    return `Diff.${kind}.${n}`;
  }

  add(db: string, name: string, line: string, family: string): void {
    let lines = this.db.get(db);
    if (!lines) this.db.set(db, (lines = []));
    lines.push(line);
    this.sigs.push({ name, db, line, family });
  }

  addBody(s: BodySig, family: string, db = 'diff.ndb'): void {
    this.add(db, s.name, bodyLine(s), family);
    this.allBody.push(s);
  }

  addLdb(l: LdbSig, family: string): void {
    this.add('diff.ldb', l.name, ldbLine(l), family);
    this.allLdb.push(l);
  }

  /** Adds a file whose expectations are hand-written (probes); incidental matches still count. */
  probe(fc: Omit<FileCase, 'name'>, stem: string, planted: Planted): FileCase {
    const out = this.file(fc, stem);
    this.built.set(out, planted);
    return out;
  }

  file(fc: Omit<FileCase, 'name'>, stem: string): FileCase {
    const ext = fc.kind === 'binary' ? 'bin' : fc.kind === 'empty' ? 'empty' : 'txt';
    const name = `${String(this.files.length).padStart(5, '0')}-${stem}.${ext}`;
    const full: FileCase = { name, ...fc };
    this.files.push(full);
    return full;
  }

  /** Adds a file built around body signatures only; see check(). */
  bodyFile(stem: string, data: Uint8Array, kind: FileKind, planted: readonly BodySig[], intent: ReadonlyMap<string, boolean>, notes: string[], extra: Partial<FileCase> = {}): FileCase {
    return this.check(stem, data, kind, { body: planted }, intent, notes, extra);
  }

  /**
   * Adds a file, computing what clamscan reports for it from the model and checking every declared
   * outcome: `intent` maps raw names to true (built to hit) or false (built to miss); a
   * disagreement is a generator bug and throws.
   */
  check(stem: string, data: Uint8Array, kind: FileKind, planted: Planted, intent: ReadonlyMap<string, boolean>, notes: string[], extra: Partial<FileCase> = {}): FileCase {
    const sniffed = sniffKind(data);
    if (sniffed !== kind) throw new Error(`generator: ${stem} was built as ${kind} but ClamAV would type it as ${sniffed}`);
    const e = expectFile(data, kind, this.mode, planted, this.M);
    const all = allNames(planted);
    for (const [name, want] of intent) {
      const got = e.hits.has(reported(name));
      if (got !== want) {
        throw new Error(`generator: ${name} was built to ${want ? 'hit' : 'miss'} ${stem} but the model says ${got ? 'hit' : 'miss'}; lines: ${this.linesOf([name]).join(' || ')}; notes: ${notes.join('; ')}`);
      }
    }
    const hits = all.filter((n) => e.hits.has(reported(n))).map(reported);
    const misses = all.filter((n) => !e.hits.has(reported(n))).map(reported);
    const fc = this.file(
      {
        bytes: data,
        kind,
        hits,
        misses,
        sigs: all,
        notes,
        ...(e.counts ? { counts: e.counts } : {}),
        ...(e.first ? { expectDefault: e.first } : {}),
        ...extra,
      },
      stem,
    );
    this.built.set(fc, planted);
    return fc;
  }

  /**
   * Looks for signatures of the group whose longest literal occurs in a file they were not built
   * for (in the raw bytes, the lower-cased bytes or the normalised text), and folds the model's
   * verdict for them into that file's expectations. Literals are built so that this is rare.
   */
  private incidental(): void {
    interface Anchor {
      bytes: number[];
      nocase: boolean;
      body?: BodySig;
      ldb?: LdbSig;
    }
    const table = new Map<number, Anchor[]>();
    const put = (a: Anchor): void => {
      if (a.bytes.length < 2) return;
      const key = ((a.bytes[0] as number) << 8) | (a.bytes[1] as number);
      let l = table.get(key);
      if (!l) table.set(key, (l = []));
      l.push(a);
    };
    const longest = (toks: readonly Tok[]): number[] | undefined => {
      let best: number[] | undefined;
      for (const tk of toks) if (tk.t === 'lit' && (!best || tk.bytes.length > best.length)) best = tk.bytes;
      return best;
    };
    const lowerBytes = (b: readonly number[]): number[] => b.map((x) => (x >= 0x41 && x <= 0x5a ? x + 32 : x));
    for (const s of this.allBody) {
      const a = longest(s.toks);
      if (a && !s.skipped) {
        put({ bytes: a, nocase: false, body: s });
        // Text-pass matches: the normalised text is lower case.
        if (s.target === 0 || s.target === 7) put({ bytes: lowerBytes(a), nocase: true, body: s });
      }
    }
    for (const l of this.allLdb) {
      for (const x of l.subs) {
        const a = x.toks ? longest(x.toks) : undefined;
        if (!a || l.skipped) continue;
        const bytes = x.opts?.wide ? widen(a) : a;
        put({ bytes, nocase: false, ldb: l });
        put({ bytes: lowerBytes(bytes), nocase: true, ldb: l });
        if (x.alsoAscii) put({ bytes: a, nocase: false, ldb: l });
      }
    }
    const scan = (v: Uint8Array, nocase: boolean, found: Set<BodySig | LdbSig>): void => {
      for (let i = 0; i + 1 < v.length; i++) {
        const l = table.get(((v[i] as number) << 8) | (v[i + 1] as number));
        if (!l) continue;
        for (const a of l) {
          if (a.nocase !== nocase) continue;
          let ok = i + a.bytes.length <= v.length;
          for (let j = 2; ok && j < a.bytes.length; j++) ok = v[i + j] === a.bytes[j];
          if (ok) found.add((a.body ?? a.ldb) as BodySig | LdbSig);
        }
      }
    };
    for (const [fc, planted] of this.built) {
      if (fc.kind === 'empty') continue;
      const found = new Set<BodySig | LdbSig>();
      scan(fc.bytes, false, found);
      const low = fc.bytes.map((x) => (x >= 0x41 && x <= 0x5a ? x + 32 : x));
      scan(low, true, found);
      if (fc.kind !== 'binary') scan(normalizeText(fc.bytes), true, found);
      const known = new Set(allNames(planted));
      const extraBody: BodySig[] = [];
      const extraLdb: LdbSig[] = [];
      for (const x of found) {
        if (known.has(x.name)) continue;
        if ('toks' in x) extraBody.push(x);
        else extraLdb.push(x);
      }
      if (extraBody.length === 0 && extraLdb.length === 0) continue;
      const next: Planted = { ...planted, body: [...(planted.body ?? []), ...extraBody], ldbs: [...(planted.ldbs ?? []), ...extraLdb] };
      const e = expectFile(fc.bytes, fc.kind, this.mode, next, this.M);
      const newHits = [...extraBody, ...extraLdb].filter((x) => e.hits.has(reported(x.name)));
      if (newHits.length === 0) continue;
      this.built.set(fc, next);
      fc.hits = [...new Set([...fc.hits, ...newHits.map((x) => reported(x.name))])];
      fc.sigs = [...fc.sigs, ...newHits.map((x) => x.name)];
      fc.notes.push(`incidental: ${newHits.map((x) => x.name).join(', ')} also match${newHits.length === 1 ? 'es' : ''} this file`);
      // Keep the counts already known (some are hand-written for probes); add the new names'.
      const counts = fc.counts;
      if (e.counts && counts) for (const x of newHits) counts[reported(x.name)] = e.counts[reported(x.name)] ?? 0;
      else delete fc.counts;
      if (!fc.probe) {
        if (e.first) fc.expectDefault = e.first;
        else delete fc.expectDefault;
      }
    }
  }

  linesOf(names: readonly string[]): string[] {
    return this.sigs.filter((s) => names.includes(s.name)).map((s) => `${s.db}: ${s.line}`);
  }

  build(): Group {
    this.incidental();
    const order = ['diff.ign2', 'diff.ndb', 'text.ndb', 'other.ndb', 'diff.hdb', 'diff.hsb', 'diff.ldb', 'diff.fp', 'diff.sfp'];
    const names = [...this.db.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    function rank(n: string): number {
      const i = order.indexOf(n);
      return i < 0 ? order.length : i;
    }
    return {
      id: this.id,
      description: this.description,
      dbs: names.map((n) => ({ name: n, text: `${(this.db.get(n) ?? []).join('\n')}\n` })),
      sigs: this.sigs,
      files: this.files,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Body-signature composition

const BIN_FEATURES = [
  'Plain',
  'Nibble',
  'AnyByte',
  'SkipSmall',
  'SkipLarge',
  'Range',
  'UpTo',
  'AtLeast',
  'Star',
  'EdgeL',
  'EdgeR',
  'Alt1',
  'Alt1Neg',
  'AltFixed',
  'AltFixedNeg',
  'AltGeneric',
  'AltNested',
  'ClassLeft',
  'ClassRight',
  'ClassMid',
  'ClassLeftNeg',
  'ClassRightNeg',
  'ClassMidNeg',
  'ClassBoth',
  'Mixed',
  'Mixed',
  'GapOddity',
] as const;
type BinFeature = (typeof BIN_FEATURES)[number];

function litN(r: Prng, f: Flavor, a = 3, b = 6): Tok {
  return lit(r, f, r.int(a, b));
}

function alt1(r: Prng, f: Flavor, neg: boolean): Tok {
  const pool = f === 'bin' ? ALL_BYTES : STABLE;
  const set = r.sample(pool, r.int(2, 6)).sort((a, b) => a - b);
  return { t: 'alt1', set, neg };
}

function altFixed(r: Prng, f: Flavor, neg: boolean): Tok {
  const len = r.int(2, 4);
  const strs: number[][] = [];
  const n = r.int(2, 4);
  while (strs.length < n) {
    const s = f === 'bin' ? [...r.bytes(len)] : r.bytesFrom(len, STABLE).reduce<number[]>((a, b) => (a.push(b), a), []);
    if (!strs.some((x) => hexOf(x) === hexOf(s))) strs.push(s);
  }
  return { t: 'altf', strs, neg };
}

/** A generic alternative: variable-length members with distinct first bytes, possibly nested. */
function altGeneric(r: Prng, f: Flavor, depth: number): Tok {
  const n = r.int(2, 4);
  const firsts = r.sample(f === 'bin' ? ALL_BYTES : STABLE, n);
  const alts: Tok[][] = [];
  for (let i = 0; i < n; i++) {
    const head = f === 'bin' ? [firsts[i] as number, ...r.bytes(r.int(0, 3))] : [firsts[i] as number, ...r.bytesFrom(r.int(0, 3), STABLE)];
    const alt: Tok[] = [{ t: 'lit', bytes: head }];
    const extra = r.int(0, 2);
    for (let k = 0; k < extra; k++) {
      const kind = r.pick(depth > 0 ? ['any', 'hi', 'skip', 'nest', 'lit'] : ['any', 'hi', 'skip', 'lit']);
      if (kind === 'any') alt.push({ t: 'any' });
      else if (kind === 'hi') alt.push(f === 'text' ? textNibble(r) : nibble(r));
      else if (kind === 'skip') alt.push(gap.exact(r.int(1, 4)));
      else if (kind === 'nest') alt.push(altGeneric(r, f, depth - 1));
      alt.push({ t: 'lit', bytes: f === 'bin' ? [...r.bytes(r.int(1, 2))] : [...r.bytesFrom(r.int(1, 2), STABLE)] });
    }
    alts.push(alt);
  }
  return { t: 'altg', alts };
}

function nibble(r: Prng): Tok {
  return r.chance(0.5) ? { t: 'hi', v: r.int(0, 15) } : { t: 'lo', v: r.int(0, 15) };
}

function cls(r: Prng, neg: boolean): Tok {
  return { t: 'cls', c: r.pick(['B', 'L', 'W'] as const), neg };
}

/** One middle feature (between two literals), for Mixed signatures. */
function midFeature(r: Prng, f: Flavor): Tok {
  const k = r.pick(['any', 'nib', 'skip', 'range', 'star', 'alt1', 'alt1n', 'altf', 'altg', 'cls', 'clsn', 'upto', 'atleast']);
  switch (k) {
    case 'any':
      return { t: 'any' };
    case 'nib':
      return nibble(r);
    case 'skip':
      return gap.exact(r.int(1, 20));
    case 'range': {
      const a = r.int(0, 12);
      return gap.range(a, a + r.int(1, 12));
    }
    case 'star':
      return gap.star();
    case 'alt1':
      return alt1(r, f, false);
    case 'alt1n':
      return alt1(r, f, true);
    case 'altf':
      return altFixed(r, f, r.chance(0.3));
    case 'altg':
      return altGeneric(r, f, 1);
    case 'cls':
      return cls(r, false);
    case 'clsn':
      return cls(r, true);
    case 'upto':
      return gap.upTo(r.int(1, 16));
    default:
      return gap.atLeast(r.int(1, 16));
  }
}

function composeBinary(r: Prng, feature: BinFeature): Tok[] {
  const L = (): Tok => litN(r, 'bin');
  switch (feature) {
    case 'Plain':
      return [lit(r, 'bin', r.weighted([[3, 2], [r.int(4, 8), 4], [r.int(9, 32), 2]]))];
    case 'Nibble':
      return r.chance(0.5) ? [L(), nibble(r), L()] : [L(), nibble(r), nibble(r), L(), nibble(r), L()];
    case 'AnyByte':
      return [L(), ...Array.from({ length: r.int(1, 3) }, (): Tok => ({ t: 'any' })), L()];
    case 'SkipSmall':
      return [L(), gap.exact(r.weighted([[r.int(1, 10), 2], [r.int(11, 126), 2], [127, 1]])), L()];
    case 'SkipLarge':
      return [L(), gap.exact(r.weighted([[128, 1], [r.int(129, 600), 3]])), L()];
    case 'Range': {
      const a = r.weighted([[0, 1], [r.int(1, 20), 3], [r.int(100, 300), 1]]);
      return [L(), gap.range(a, a + r.weighted([[0, 1], [r.int(1, 40), 4]])), L()];
    }
    case 'UpTo':
      return [L(), gap.upTo(r.weighted([[r.int(1, 20), 3], [r.int(100, 300), 1]])), L()];
    case 'AtLeast':
      return [L(), gap.atLeast(r.weighted([[r.int(1, 20), 3], [r.int(100, 300), 1]])), L()];
    case 'Star':
      return r.chance(0.7) ? [L(), gap.star(), L()] : [L(), gap.star(), L(), gap.star(), L()];
    case 'EdgeL': {
      const a = r.int(0, 10);
      const b = r.chance(0.2) ? a : Math.min(32, a + r.int(1, 22));
      return [{ t: 'edgeL', byte: r.pick(RESERVED), min: a, max: b }, lit(r, 'bin', r.int(2, 6)), ...(r.chance(0.3) ? [{ t: 'any' } as Tok, L()] : [])];
    }
    case 'EdgeR': {
      const a = r.int(0, 10);
      const b = r.chance(0.2) ? a : Math.min(32, a + r.int(1, 22));
      return [L(), ...(r.chance(0.3) ? [nibble(r), lit(r, 'bin', 2)] : []), { t: 'edgeR', byte: r.pick(RESERVED), min: a, max: b }];
    }
    case 'Alt1':
      return [L(), alt1(r, 'bin', false), L()];
    case 'Alt1Neg':
      return [L(), alt1(r, 'bin', true), L()];
    case 'AltFixed':
      return [L(), altFixed(r, 'bin', false), L()];
    case 'AltFixedNeg':
      return [L(), altFixed(r, 'bin', true), L()];
    case 'AltGeneric':
      return [L(), altGeneric(r, 'bin', 0), L()];
    case 'AltNested':
      return [L(), altGeneric(r, 'bin', 2), L()];
    case 'ClassLeft':
      return [cls(r, false), L(), ...(r.chance(0.3) ? [midFeature(r, 'bin'), L()] : [])];
    case 'ClassRight':
      return [L(), ...(r.chance(0.3) ? [midFeature(r, 'bin'), L()] : []), cls(r, false)];
    case 'ClassMid':
      return [L(), cls(r, false), L()];
    case 'ClassLeftNeg':
      return [cls(r, true), L()];
    case 'ClassRightNeg':
      return [L(), cls(r, true)];
    case 'ClassMidNeg':
      return [L(), cls(r, true), L()];
    case 'ClassBoth':
      return [cls(r, r.chance(0.3)), L(), cls(r, r.chance(0.3))];
    case 'Mixed': {
      const out: Tok[] = [L()];
      const k = r.int(2, 4);
      for (let i = 0; i < k; i++) out.push(midFeature(r, 'bin'), L());
      return out;
    }
    case 'GapOddity': {
      const odd = r.pick([
        gap.custom('{0}', 0, UNBOUNDED),
        gap.custom('{0-0}', 0, UNBOUNDED),
        gap.custom('{-0}', 0, UNBOUNDED),
        gap.custom('{}', 0, UNBOUNDED),
        gap.custom('{0-}', 0, UNBOUNDED),
        (() => {
          const a = r.int(1, 20);
          return gap.custom(`{${a}-0}`, a, UNBOUNDED);
        })(),
        (() => {
          const a = r.int(3, 20);
          const b = r.int(1, a - 1);
          return gap.custom(`{${a}-${b}}`, a, b);
        })(),
      ]);
      return [L(), odd, L()];
    }
  }
}

/** Byte length range of one part: used to keep every part under the pinned maximum. */
function partLengths(toks: readonly Tok[]): number[] {
  const parts: number[] = [];
  let cur = 0;
  const len = (tk: Tok): number => {
    switch (tk.t) {
      case 'lit':
        return tk.bytes.length;
      case 'any':
      case 'hi':
      case 'lo':
      case 'alt1':
        return 1;
      case 'altf':
        return (tk.strs[0] ?? []).length;
      case 'altg':
        return Math.max(...tk.alts.map((a) => a.reduce((s, t) => s + len(t), 0)));
      case 'cls':
        return 2;
      case 'gap':
        return tk.min === tk.max && tk.min > 0 && tk.min < 128 ? tk.min : 0;
      case 'edgeL':
      case 'edgeR':
        return tk.max + 1;
    }
  };
  for (const tk of toks) {
    if (tk.t === 'gap' && !(tk.min === tk.max && tk.min > 0 && tk.min < 128)) {
      parts.push(cur);
      cur = 0;
    } else cur += len(tk);
  }
  parts.push(cur);
  return parts;
}

/** Indices of tokens that instantiate() can break. */
function breakable(toks: readonly Tok[]): number[] {
  const out: number[] = [];
  toks.forEach((tk, i) => {
    if (tk.t === 'any') return;
    if (tk.t === 'gap' && !(Number.isFinite(tk.max) && tk.max >= tk.min) && !(tk.min > 0 && tk.min <= tk.max)) return;
    out.push(i);
  });
  return out;
}

function mustInstantiate(r: Prng, toks: readonly Tok[], f: Flavor, brk = NO_BREAK): Piece {
  for (let i = 0; i < 20; i++) {
    const p = instantiate(r, toks, f, brk);
    if (p) return p;
  }
  throw new Error(`generator: cannot instantiate ${renderTokens(toks)} (break ${brk})`);
}

/** A broken instance of toks, or null when the signature can never match (nothing to break). */
function missPiece(r: Prng, toks: readonly Tok[], f: Flavor): Piece | null {
  const cands = breakable(toks);
  if (cands.length === 0) return null;
  return mustInstantiate(r, toks, f, r.pick(cands));
}

const neverMatches = (toks: readonly Tok[]): boolean => toks.some((tk) => tk.t === 'gap' && tk.min > tk.max);

function composeBinaryCapped(r: Prng, feature: BinFeature): Tok[] {
  for (;;) {
    const toks = composeBinary(r, feature);
    if (Math.max(...partLengths(toks)) <= MAX_PART && bracesLoad(toks)) return toks;
  }
}

const isSmallBrace = (tk: Tok): boolean => tk.t === 'gap' && tk.hex.startsWith('{') && tk.min === tk.max && tk.min > 0 && tk.min < 128;
const hasBrace = (toks: readonly Tok[]): boolean => toks.some((tk) => (tk.t === 'gap' && tk.hex.startsWith('{')) || (tk.t === 'altg' && tk.alts.some(hasBrace)));

/**
 * ClamAV rewrites `{n}` (n < 128) as n `??` only while it is the first brace left in the pattern;
 * once a ranged or large jump has been met, any later brace splits the pattern, and a brace inside
 * an alternative is then a load error.
 */
function bracesLoad(toks: readonly Tok[]): boolean {
  let ranged = false;
  for (const tk of toks) {
    if (tk.t === 'gap' && tk.hex.startsWith('{') && !isSmallBrace(tk)) ranged = true;
    if (ranged && tk.t === 'altg' && tk.alts.some(hasBrace)) return false;
  }
  return true;
}

/** Instances that look like a match but cannot be one, for a signature that never matches. */
function lookalikePiece(r: Prng, toks: readonly Tok[], f: Flavor): Piece {
  const fixed = toks.map((tk): Tok => (tk.t === 'gap' && tk.min > tk.max ? gap.exact(r.pick([tk.min, tk.max])) : tk));
  return mustInstantiate(r, fixed, f);
}

/** Builds pieces so that at most one needs the file start and one the file end. */
function exclusiveEdges(makers: readonly (() => Piece)[]): Placement[] {
  let start = false;
  let end = false;
  return makers.map((make) => {
    for (let i = 0; ; i++) {
      const p = make();
      if ((p.atStart && start) || (p.atEnd && end)) {
        if (i < 50) continue;
        throw new Error('generator: cannot avoid two pieces at one file edge');
      }
      start ||= p.atStart === true;
      end ||= p.atEnd === true;
      return { piece: p };
    }
  });
}

function chunk<T>(r: Prng, items: readonly T[], weights: readonly (readonly [number, number])[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; ) {
    const k = r.weighted(weights);
    out.push(items.slice(i, i + k));
    i += k;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Family: body-signature grammar on binary files (reference §1.2, §8 items 7-8)

function famGrammar(g: GroupBuilder, r: Prng, n: number): void {
  const sigs: BodySig[] = [];
  for (let i = 0; i < n; i++) {
    const feature = BIN_FEATURES[i % BIN_FEATURES.length] as BinFeature;
    const target = r.chance(0.12) ? 14 : 0;
    const s: BodySig = { name: g.name(`Ndb.${feature}`), target, offset: { k: 'any' }, toks: composeBinaryCapped(r, feature) };
    g.addBody(s, 'grammar');
    sigs.push(s);
  }
  for (const batch of chunk(r, r.shuffle(sigs), [[1, 5], [2, 2], [3, 1]])) {
    const placements = exclusiveEdges(batch.map((s) => () => (neverMatches(s.toks) ? lookalikePiece(r, s.toks, 'bin') : mustInstantiate(r, s.toks, 'bin'))));
    const data = assemble(r, 'binary', r.int(48, 3000), placements);
    const intent = new Map(batch.map((s) => [s.name, !neverMatches(s.toks)] as const));
    g.bodyFile('grammar-hit', data, 'binary', batch, intent, batch.map((s) => `${s.name}: one whole instance (${renderTokens(s.toks)})`));
  }
  for (const batch of chunk(r, r.shuffle(sigs), [[1, 4], [2, 1]])) {
    const planted: BodySig[] = [];
    const makers: (() => Piece)[] = [];
    const notes: string[] = [];
    for (const s of batch) {
      if (!neverMatches(s.toks) && breakable(s.toks).length === 0) continue;
      planted.push(s);
      makers.push(() => (neverMatches(s.toks) ? lookalikePiece(r, s.toks, 'bin') : (missPiece(r, s.toks, 'bin') as Piece)));
      notes.push(`${s.name}: instance with one token broken`);
    }
    const placements = exclusiveEdges(makers);
    if (planted.length === 0) continue;
    const data = assemble(r, 'binary', r.int(48, 3000), placements);
    g.bodyFile('grammar-miss', data, 'binary', planted, new Map(planted.map((s) => [s.name, false] as const)), notes);
  }
}

// ---------------------------------------------------------------------------------------------
// Family: text signatures, targets 0 and 7, and the normalised second pass (§1.2, §8 item 11)

function textNibble(r: Prng): Tok {
  const c = r.pick(STABLE);
  return r.chance(0.5) ? { t: 'hi', v: c >> 4 } : { t: 'lo', v: c & 15 };
}

function textMid(r: Prng): Tok {
  const k = r.pick(['any', 'nib', 'skip', 'range', 'star', 'alt1', 'altf', 'altg']);
  switch (k) {
    case 'any':
      return { t: 'any' };
    case 'nib':
      return textNibble(r);
    case 'skip':
      return gap.exact(r.int(1, 8));
    case 'range': {
      const a = r.int(0, 6);
      return gap.range(a, a + r.int(1, 8));
    }
    case 'star':
      return gap.star();
    case 'alt1':
      return alt1(r, 'text', r.chance(0.3));
    case 'altf':
      return altFixed(r, 'text', false);
    default:
      return altGeneric(r, 'text', 1);
  }
}

type TextKind = 'lower' | 'upperLit' | 'space' | 'newline' | 'doubleSpace' | 'classes';

function composeText(r: Prng, kind: TextKind): Tok[] {
  const T = (): Tok => lit(r, 'text', r.int(3, 6));
  const joined = (sep: number[]): Tok => {
    const a = textLit(r, r.int(3, 5));
    const b = textLit(r, r.int(2, 5));
    return { t: 'lit', bytes: [...a, ...sep, ...b] };
  };
  switch (kind) {
    case 'lower':
      return r.chance(0.3) ? [T()] : [T(), textMid(r), T(), ...(r.chance(0.3) ? [textMid(r), T()] : [])];
    case 'upperLit': {
      const toks = r.chance(0.5) ? [T()] : [T(), textMid(r), T()];
      const first = toks[0];
      if (first?.t === 'lit') {
        const i = first.bytes.findIndex((b) => b >= 0x61);
        if (i >= 0) first.bytes[i] = (first.bytes[i] as number) - 32;
      }
      return toks;
    }
    case 'space':
      return [joined([0x20]), ...(r.chance(0.3) ? [textMid(r), T()] : [])];
    case 'newline':
      return [joined([0x0a])];
    case 'doubleSpace':
      return [joined([0x20, 0x20])];
    case 'classes':
      return [{ t: 'cls', c: r.pick(['B', 'L', 'W'] as const), neg: false }, T(), { t: 'cls', c: r.pick(['B', 'L', 'W'] as const), neg: false }];
  }
}

type TextVariant = 'exact' | 'upper' | 'mixed' | 'utf16' | 'utf16be' | 'ws' | 'binary' | 'broken' | 'upperBroken';

function buildTextVariant(r: Prng, s: BodySig, v: TextVariant): { data: Uint8Array; kind: FileKind } {
  let piece: Piece;
  if (v === 'broken' || v === 'upperBroken') {
    const p = missPiece(r, s.toks, 'text');
    if (!p) throw new Error('unbreakable text signature');
    piece = p;
  } else {
    piece = mustInstantiate(r, s.toks, 'text');
    if (v === 'ws') piece = { ...piece, bytes: piece.bytes.flatMap((b) => (b === 0x20 ? [...r.pick([[0x0a], [0x09], [0x20, 0x20], [0x0d, 0x0a, 0x20], [0x20, 0x09, 0x0a]])] : [b])) };
  }
  if (v === 'binary') return { data: assemble(r, 'binary', r.int(48, 1500), [{ piece }]), kind: 'binary' };
  const base = assemble(r, 'ascii', r.int(40, 1500), [{ piece }]);
  switch (v) {
    case 'upper':
    case 'upperBroken':
      return { data: upperCase(base), kind: 'ascii' };
    case 'mixed':
      return { data: mixedCase(r, base), kind: 'ascii' };
    case 'utf16':
      return { data: utf16le(r.chance(0.5) ? base : upperCase(base)), kind: 'utf16le' };
    case 'utf16be': {
      // With a FE FF mark: code units big-endian; normalisation drops the 00 bytes all the same.
      const le = utf16le(r.chance(0.5) ? base : upperCase(base));
      const be = new Uint8Array(le.length);
      for (let i = 0; i + 1 < le.length; i += 2) {
        be[i] = le[i + 1] as number;
        be[i + 1] = le[i] as number;
      }
      return { data: be, kind: 'utf16be' };
    }
    default:
      return { data: base, kind: 'ascii' };
  }
}

function famText(g: GroupBuilder, r: Prng, n: number): void {
  const kinds: [TextKind, number][] = [
    ['lower', 10],
    ['upperLit', 2],
    ['space', 3],
    ['newline', 1],
    ['doubleSpace', 1],
    ['classes', 2],
  ];
  for (let i = 0; i < n; i++) {
    const kind = r.weighted(kinds);
    const target = r.chance(0.4) ? 7 : 0;
    let toks: Tok[];
    do toks = composeText(r, kind);
    while (Math.max(...partLengths(toks)) > MAX_TEXT_PART || !bracesLoad(toks));
    const s: BodySig = { name: g.name(`Text.T${target}.${kind}`), target, offset: { k: 'any' }, toks };
    g.addBody(s, 'text', 'text.ndb');
    const variants: TextVariant[] = ['exact', r.pick(['upper', 'mixed'] as const), r.pick(['utf16', 'utf16', 'utf16be', 'binary', 'broken', 'upperBroken'] as const)];
    if (kind === 'space' || kind === 'doubleSpace') variants.push('ws');
    for (const v of variants) {
      const { data, kind: fk } = buildTextVariant(r, s, v);
      const intent = new Map<string, boolean>();
      // (A broken class edge may be repaired by normalisation, e.g. \n becomes a space: model's call.)
      if ((v === 'broken' || v === 'upperBroken') && kind !== 'classes') intent.set(s.name, false);
      if (v === 'exact' && target === 0 && kind !== 'classes') intent.set(s.name, true);
      if (v === 'binary' && kind !== 'classes') intent.set(s.name, target === 0);
      if ((target === 7 && (kind === 'upperLit' || kind === 'doubleSpace')) || (kind === 'newline' && target === 7)) intent.set(s.name, false);
      g.bodyFile(`text-${v}`, data, fk, [s], intent, [`${s.name} (target ${target}, ${kind}) planted in a ${v} variant`]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Family: offsets n, n,shift, EOF-n, EOF-n,shift (§1.2, §8 item 9)

function famOffsets(g: GroupBuilder, r: Prng, n: number): void {
  for (let i = 0; i < n; i++) {
    const shape = r.weighted([
      ['bm', 4],
      ['ac', 3],
      ['multi', 2],
    ] as const);
    const toks: Tok[] =
      shape === 'bm'
        ? [lit(r, 'bin', r.int(3, 12))]
        : shape === 'ac'
          ? [litN(r, 'bin'), r.chance(0.5) ? { t: 'any' } : nibble(r), litN(r, 'bin')]
          : [litN(r, 'bin'), r.chance(0.5) ? gap.star() : gap.range(r.int(0, 5), r.int(6, 20)), litN(r, 'bin')];
    const piece = mustInstantiate(r, toks, 'bin');
    const len = piece.bytes.length;
    const large = r.chance(0.06);
    const okind = r.pick(['abs', 'absShift', 'eof', 'eofShift'] as const);
    const shift = okind.endsWith('Shift') ? r.weighted([[r.int(1, 8), 3], [r.int(9, 400), 1]]) : 0;
    const size = large ? r.int(SCANBUFF + 2000, SCANBUFF + 40000) : r.int(Math.max(200, len + shift + 120), 5000 + shift);
    let base: number;
    if (okind.startsWith('abs')) {
      base = large ? SCANBUFF - r.int(0, len) : r.weighted([[0, 1], [r.int(1, 8), 1], [r.int(9, Math.max(9, size - len - shift - 12)), 4]]);
      base = Math.max(0, Math.min(base, size - len - shift - 8));
    } else {
      const maxN = size - 8;
      base = r.weighted([[len, 2], [r.int(len, Math.min(maxN, len + 50)), 2], [r.int(len + shift, Math.min(maxN, len + shift + 3000)), 2]]);
      base = Math.max(len + shift, Math.min(base, maxN));
    }
    const offset: Offset = okind.startsWith('abs') ? { k: 'abs', n: base, ...(shift ? { shift } : {}) } : { k: 'eof', n: base, ...(shift ? { shift } : {}) };
    const s: BodySig = { name: g.name(`Offset.${okind}.${shape}`), target: 0, offset, toks };
    g.addBody(s, 'offsets');
    // Positions as the start of the instance from the file start.
    const start = (pos: number): Placement => (okind.startsWith('abs') ? { piece, at: pos } : { piece, fromEnd: size - pos });
    const lo = okind.startsWith('abs') ? base : size - base;
    const cases: [string, number, boolean][] = [['at-base', lo, true]];
    if (shift) cases.push(['at-base-plus-shift', lo + shift, true], ['inside-shift', lo + r.int(0, shift), true]);
    cases.push(['one-past', lo + shift + 1, false]);
    if (lo >= 1) cases.push(['one-before', lo - 1, false]);
    for (const [label, pos, want] of cases) {
      if (pos < 0 || pos + len > size) continue;
      if (pos < 4 && pos + len > 2) continue; // would cover the binary mark's only early slot
      let data: Uint8Array;
      try {
        data = assemble(r, 'binary', size, [start(pos)], undefined, true);
      } catch {
        continue;
      }
      g.bodyFile(`offset-${label}`, data, 'binary', [s], new Map([[s.name, want]]), [`${s.name} (offset ${renderOffset(offset)}) instance at file offset ${pos} (${label}), size ${size}`]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Family: target types on plain files; FLEVEL filter (§1.0, §1.2)

function famTargets(g: GroupBuilder, r: Prng, per: number): void {
  const targets: (number | '*')[] = [1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 20, '*'];
  for (const t of targets) {
    for (let i = 0; i < per; i++) {
      // Two-byte plain patterns load for every target but 0 (Boyer-Moore's 3-byte minimum); not on
      // 14, which fires on binary data and would turn up by chance in other files.
      const short = t !== '*' && t !== 14 && r.chance(0.3);
      const toks: Tok[] = short ? [lit(r, 'bin', 2)] : r.chance(0.5) ? [lit(r, 'bin', r.int(3, 8))] : [litN(r, 'bin'), { t: 'any' }, litN(r, 'bin')];
      const target = t === '*' ? 0 : t;
      const s: BodySig = { name: g.name(`Target.T${t === '*' ? 'Star' : t}`), target, offset: { k: 'any' }, toks, ...(t === '*' ? { targetText: '*' } : {}) };
      g.addBody(s, 'targets', 'other.ndb');
      const bin = assemble(r, 'binary', r.int(48, 1500), [{ piece: mustInstantiate(r, toks, 'bin') }]);
      const fires = target === 0 || target === 14;
      g.bodyFile(`target-${t === '*' ? 'star' : t}-bin`, bin, 'binary', [s], new Map([[s.name, fires]]), [`${s.name}: target ${t} on binary data`]);
      // The same bytes inside a text file (high bytes keep the file ISO-8859 "ASCII" text).
      const txt = assemble(r, 'ascii', r.int(48, 1500), [{ piece: mustInstantiate(r, toks, 'bin') }]);
      const isText = [...txt.subarray(0, 1028)].every((b) => b !== 0 && (b >= 0x20 || [7, 8, 9, 10, 12, 13, 27].includes(b)) && b !== 0x7f);
      if (isText) g.bodyFile(`target-${t === '*' ? 'star' : t}-txt`, txt, 'ascii', [s], new Map([[s.name, target === 0 ? true : false]]), [`${s.name}: target ${t} on a text file`]);
    }
  }
}

function famFlevel(g: GroupBuilder, r: Prng, per: number): void {
  const forms: [string, boolean, boolean][] = [
    ['216', true, false],
    ['217', false, false],
    ['1:215', false, false],
    ['1:216', true, false],
    ['73:255', true, false],
    ['999', false, true],
  ];
  for (const [tail, loads, garbage] of forms) {
    for (let i = 0; i < per; i++) {
      const toks: Tok[] = [lit(r, 'bin', r.int(4, 10))];
      const s: BodySig = {
        name: g.name(`Flevel.${tail.replace(':', '-')}`),
        target: 0,
        offset: { k: 'any' },
        toks,
        tail,
        ...(garbage ? { hexText: 'this is not hex at all' } : {}),
        ...(loads ? {} : { skipped: true }),
      };
      g.addBody(s, 'flevel');
      const data = assemble(r, 'binary', r.int(48, 800), [{ piece: mustInstantiate(r, toks, 'bin') }]);
      g.bodyFile('flevel', data, 'binary', [s], new Map([[s.name, loads]]), [`${s.name}: FLEVEL field ${tail} (engine 216) -> ${loads ? 'loaded' : 'skipped'}`]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Family: whole-file hashes .hdb/.hsb (§1.1, §8 item 6)

function hashLine(h: HashSig, tail = ''): string {
  return `${digest(h.alg, h.of)}:${h.size}:${h.name}${tail}`;
}

function plainFile(r: Prng, kind: 'binary' | 'ascii', min = 32, max = 3000): Uint8Array {
  return assemble(r, kind, r.int(min, max), []);
}

function famHashes(g: GroupBuilder, r: Prng, n: number): void {
  for (let i = 0; i < n; i++) {
    const kind = r.chance(0.75) ? 'binary' : 'ascii';
    const data = plainFile(r, kind);
    const alg = r.weighted([
      ['md5', 3],
      ['sha1', 1],
      ['sha256', 2],
    ] as const);
    const wild = r.chance(0.3);
    // The extension is only a convention: md5 sometimes goes to .hsb and sha* to .hdb.
    const db = (alg === 'md5') !== r.chance(0.2) ? 'diff.hdb' : 'diff.hsb';
    const tail = wild ? `:${r.pick(['73', '80', '73:255', '100'])}` : r.chance(0.1) ? ':1' : '';
    const h: HashSig = { name: g.name(`Hash.${alg}.${wild ? 'AnySize' : 'Size'}`), alg, of: data, size: wild ? '*' : data.length };
    g.add(db, h.name, hashLine(h, tail), 'hashes');
    // A second entry with the same hash but the wrong size: must not fire.
    const wrong: HashSig = { name: g.name(`Hash.${alg}.WrongSize`), alg, of: data, size: data.length + r.pick([1, -1, 1000]) };
    if (!wild && r.chance(0.4) && (wrong.size as number) > 0) {
      g.add(db, wrong.name, hashLine(wrong), 'hashes');
      g.check('hash-hit', data, kind, { hashes: [h, wrong] }, new Map([[h.name, true], [wrong.name, false]]), [`${h.name}: ${alg} of the whole file; ${wrong.name}: same hash, size ${wrong.size}`]);
    } else {
      g.check('hash-hit', data, kind, { hashes: [h] }, new Map([[h.name, true]]), [`${h.name}: ${alg} of the whole file, size field ${h.size}`]);
    }
    if (r.chance(0.6)) {
      const mutated = data.slice();
      const j = r.int(8, mutated.length - 1);
      mutated[j] = kind === 'binary' ? ((mutated[j] as number) ^ 0x01) : (mutated[j] as number) === 0x61 ? 0x62 : 0x61;
      if (!sameBytes(mutated, data)) g.check('hash-mutated', mutated, kind, { hashes: [h] }, new Map([[h.name, false]]), [`${h.name}: file with one byte changed at ${j}`]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Family: allow lists .fp/.sfp and ignore lists .ign2 (§1.1, §1.5, §8 item 12)

function famAllow(g: GroupBuilder, r: Prng, n: number): void {
  for (let i = 0; i < n; i++) {
    const toks = composeBinaryCapped(r, r.pick(['Plain', 'AnyByte', 'Alt1', 'Range', 'Nibble'] as const));
    const s: BodySig = { name: g.name('Allow.Body'), target: 0, offset: { k: 'any' }, toks };
    g.addBody(s, 'allow');
    const data = assemble(r, 'binary', r.int(48, 2000), [{ piece: mustInstantiate(r, toks, 'bin') }]);
    const alg = r.pick(['md5', 'sha1', 'sha256'] as const);
    const wild = r.chance(0.25);
    const form = r.weighted([
      ['exact', 5],
      ['wrongSize', 2],
      ['otherFile', 1],
    ] as const);
    const of = form === 'otherFile' ? plainFile(r, 'binary') : data;
    const size: number | '*' = wild && form !== 'wrongSize' ? '*' : form === 'wrongSize' ? data.length + 1 : of.length;
    const fp: HashSig = { name: `Allow.Fp.${i + 1}`, alg, of, size };
    const db = alg === 'md5' && r.chance(0.7) ? 'diff.fp' : r.chance(0.5) ? 'diff.sfp' : 'diff.fp';
    g.add(db, fp.name, hashLine(fp, wild ? ':73' : ''), 'allow');
    const silenced = form === 'exact';
    g.check(`allow-${form}`, data, 'binary', { body: [s], fps: [fp] }, new Map([[s.name, !silenced]]), [`${s.name} matches; ${db} entry ${fp.name} (${alg}, size ${size}, ${form}) ${silenced ? 'silences it' : 'does not apply'}`]);
  }
  // An allow-list entry also silences hash and logical detections, and normalised-pass ones.
  for (let i = 0; i < Math.max(2, n >> 3); i++) {
    const data = plainFile(r, 'binary');
    const h: HashSig = { name: g.name('Allow.Hash'), alg: 'md5', of: data, size: data.length };
    g.add('diff.hdb', h.name, hashLine(h), 'allow');
    const fp: HashSig = { name: `Allow.FpHash.${i + 1}`, alg: 'sha256', of: data, size: data.length };
    g.add('diff.sfp', fp.name, hashLine(fp), 'allow');
    g.check('allow-hash', data, 'binary', { hashes: [h], fps: [fp] }, new Map([[h.name, false]]), [`${h.name} (md5) silenced by ${fp.name} (sha256)`]);
  }
  for (let i = 0; i < Math.max(2, n >> 3); i++) {
    const toks: Tok[] = [lit(r, 'text', r.int(4, 8))];
    const s: BodySig = { name: g.name('Allow.Text'), target: 0, offset: { k: 'any' }, toks };
    g.addBody(s, 'allow', 'text.ndb');
    const data = upperCase(assemble(r, 'ascii', r.int(60, 900), [{ piece: mustInstantiate(r, toks, 'text') }]));
    const fp: HashSig = { name: `Allow.FpText.${i + 1}`, alg: 'md5', of: data, size: data.length };
    g.add('diff.fp', fp.name, hashLine(fp), 'allow');
    g.check('allow-text', data, 'ascii', { body: [s], fps: [fp] }, new Map([[s.name, false]]), [`${s.name} matches only the normalised (lower-cased) text; ${fp.name} is the raw file's md5`]);
  }
}

/**
 * .ign2 lines are emitted name-only first, then name:md5: ClamAV 1.4's loader keeps the md5 pointer
 * of the previous line when a line has no md5, so a name-only line after a name:md5 line either
 * inherits that md5 (when it is short enough not to overwrite it in the line buffer) or makes the
 * whole file malformed (when its terminator lands on it). The last line probes the first case.
 */
function famIgnore(g: GroupBuilder, r: Prng, n: number): void {
  const entries: { name: string; entry: string }[] = [];
  for (let i = 0; i < n; i++) {
    const what = r.weighted([
      ['ndb', 3],
      ['hdb', 1],
      ['ldb', 1],
    ] as const);
    const form = r.weighted([
      ['name', 3],
      ['nameMd5', 2],
      ['suffixed', 1],
      ['wrongMd5', 1],
      ['prefix', 1],
    ] as const);
    const ignored = form === 'name' || form === 'nameMd5';
    let name: string;
    let line: string;
    let data: Uint8Array;
    let planted: Planted;
    if (what === 'ndb') {
      const toks = composeBinaryCapped(r, r.pick(['Plain', 'AnyByte', 'Star', 'Alt1'] as const));
      const s: BodySig = { name: g.name('Ignore.Ndb'), target: 0, offset: { k: 'any' }, toks, ...(ignored ? { skipped: true } : {}) };
      name = s.name;
      line = bodyLine(s);
      g.addBody(s, 'ignore');
      data = assemble(r, 'binary', r.int(48, 1500), [{ piece: mustInstantiate(r, toks, 'bin') }]);
      planted = { body: [s] };
    } else if (what === 'hdb') {
      data = plainFile(r, 'binary');
      const h: HashSig = { name: g.name('Ignore.Hdb'), alg: 'md5', of: data, size: data.length, ...(ignored ? { skipped: true } : {}) };
      name = h.name;
      line = hashLine(h);
      g.add('diff.hdb', name, line, 'ignore');
      planted = { hashes: [h] };
    } else {
      const toks: Tok[] = [lit(r, 'bin', r.int(4, 8))];
      const l: LdbSig = { name: g.name('Ignore.Ldb'), tdb: 'Engine:81-255,Target:0', expr: '0', subs: [{ text: renderTokens(toks), toks }], ...(ignored ? { skipped: true } : {}) };
      name = l.name;
      line = ldbLine(l);
      g.addLdb(l, 'ignore');
      data = assemble(r, 'binary', r.int(48, 1500), [{ piece: mustInstantiate(r, toks, 'bin') }]);
      planted = { ldbs: [l] };
    }
    const md5 = (x: string): string => createHash('md5').update(x).digest('hex');
    const entry =
      form === 'name'
        ? name
        : form === 'nameMd5'
          ? `${name}:${md5(line)}`
          : form === 'suffixed'
            ? reported(name)
            : form === 'wrongMd5'
              ? `${name}:${md5(`${line}x`)}`
              : name.split('.').slice(0, 3).join('.');
    entries.push({ name: `ign:${name}`, entry });
    g.check(`ignore-${form}`, data, 'binary', planted, new Map([[name, !ignored]]), [`.ign2 entry "${entry}" for ${name} (${form}) ${ignored ? 'ignores it' : 'does not apply'}`]);
  }
  entries.sort((a, b) => Number(a.entry.includes(':')) - Number(b.entry.includes(':')));
  const lastMd5 = entries.filter((e) => e.entry.includes(':')).pop();
  for (const e of entries) g.add('diff.ign2', e.name, e.entry, 'ignore');
  if (lastMd5) {
    // A name-only line short enough to leave the previous line's md5 intact in the buffer.
    const hashAt = lastMd5.entry.indexOf(':') + 1;
    const s: BodySig = { name: 'Diff.Stale.1', target: 0, offset: { k: 'any' }, toks: [lit(r, 'bin', 6)] };
    if (s.name.length + 2 <= hashAt) {
      g.addBody(s, 'ignore');
      g.add('diff.ign2', `ign:${s.name}`, s.name, 'ignore');
      const data = assemble(r, 'binary', 300, [{ piece: mustInstantiate(r, s.toks, 'bin') }]);
      g.probe(
        {
          bytes: data,
          kind: 'binary',
          hits: [reported(s.name)],
          misses: [],
          sigs: [s.name],
          notes: [`.ign2 line "${s.name}" follows "${lastMd5.entry}": it inherits that md5, so it ignores nothing`],
          probe: '.ign2 name-only line after a name:md5 line inherits the stale md5',
          counts: { [reported(s.name)]: 2 },
          expectDefault: reported(s.name),
        },
        'ignore-stale-md5',
        { body: [s] },
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Family: logical signatures (§1.3, §8 item 10)

type Mods = '' | 'i' | 'w' | 'wa' | 'f' | 'fw' | 'iw' | 'a';

interface ContentPlan {
  sub: SubSig;
  /** Builds one counted occurrence. */
  occurrence: (r: Prng) => Piece;
  /** Builds an occurrence that must not count (e.g. fullword with an alphanumeric neighbour). */
  decoy?: (r: Prng) => Piece;
  /** Subsignatures with a fixed offset can occur at most once, at that place. */
  offset?: Offset;
}

const widen = (bytes: readonly number[]): number[] => bytes.flatMap((b) => [b, 0]);

function randomCase(r: Prng, bytes: readonly number[]): number[] {
  return bytes.map((b) => (b >= 0x61 && b <= 0x7a && r.chance(0.5) ? b - 32 : b));
}

/**
 * Two-byte subsignature literals start with FE or FF, bytes that no filler and no other literal
 * contains, and are unique per group: a two-byte pattern would otherwise turn up by chance.
 */
function uniquePair(r: Prng, used: Set<number>): Tok {
  for (;;) {
    const v = (r.pick([0xfe, 0xff]) << 8) | r.int(0, 255);
    if (!used.has(v)) {
      used.add(v);
      return { t: 'lit', bytes: [v >> 8, v & 0xff] };
    }
  }
}

function contentPlan(r: Prng, mods: Mods, withOffset: Offset | undefined, pairs: Set<number>): ContentPlan {
  const textual = mods !== '' && mods !== 'a';
  const toks: Tok[] = textual
    ? [lit(r, 'text', r.int(6, 8))]
    : r.weighted<Tok[]>([
        [[uniquePair(r, pairs)], 1],
        [[lit(r, 'bin', r.int(3, 8))], 4],
        [[lit(r, 'bin', r.int(2, 4)), { t: 'any' }, lit(r, 'bin', r.int(2, 4))], 2],
        [[lit(r, 'bin', r.int(2, 4)), alt1(r, 'bin', false), lit(r, 'bin', r.int(2, 4))], 1],
      ]);
  const wide = mods.includes('w');
  const opts: MatchOptions = {
    ...(mods.includes('i') ? { nocase: true } : {}),
    ...(wide ? { wide: true } : {}),
    ...(mods.includes('f') ? { fullword: true } : {}),
    ...(withOffset ? { offset: withOffset } : {}),
  };
  const hex = renderTokens(toks);
  const text = `${withOffset ? `${renderOffset(withOffset)}:` : ''}${hex}${mods ? `::${mods}` : ''}`;
  const sub: SubSig = { text, toks, opts, ...(mods === 'wa' ? { alsoAscii: true } : {}) };
  const body = (r2: Prng): number[] => {
    const p = mustInstantiate(r2, toks, textual ? 'text' : 'bin');
    let bytes = mods.includes('i') ? randomCase(r2, p.bytes) : p.bytes;
    if (wide && !(mods === 'wa' && r2.chance(0.5))) bytes = widen(bytes);
    return bytes;
  };
  const plan: ContentPlan = {
    sub,
    occurrence: (r2) => {
      const bytes = body(r2);
      if (!mods.includes('f')) return { bytes, before: [], after: [] };
      const wideForm = wide && bytes[1] === 0;
      return { bytes, before: wideForm ? [0x2e, 0x00] : [0x20], after: wideForm ? [0x20, 0x00] : [0x2c] };
    },
    ...(withOffset ? { offset: withOffset } : {}),
  };
  if (mods.includes('f')) {
    plan.decoy = (r2) => {
      const bytes = body(r2);
      const wideForm = wide && bytes[1] === 0;
      return { bytes, before: wideForm ? [0x61, 0x00] : [0x61], after: [] };
    };
  }
  return plan;
}

interface ExprNode {
  leaf?: number;
  op?: '&' | '|';
  l?: ExprNode;
  r?: ExprNode;
}

function buildTree(r: Prng, leaves: number[]): ExprNode {
  if (leaves.length === 1) return { leaf: leaves[0] as number };
  const cut = r.int(1, leaves.length - 1);
  return { op: r.pick(['&', '|'] as const), l: buildTree(r, leaves.slice(0, cut)), r: buildTree(r, leaves.slice(cut)) };
}

function leafCount(n: ExprNode): number {
  return n.leaf !== undefined ? 1 : leafCount(n.l as ExprNode) + leafCount(n.r as ExprNode);
}

/** Renders an expression tree; children that are operators are parenthesised, some carry modifiers. */
function renderExpr(r: Prng, n: ExprNode, top: boolean): string {
  if (n.leaf !== undefined) {
    if (r.chance(0.18)) return `${n.leaf}${r.pick(['=', '>', '<'])}${r.int(0, 3)}`;
    return `${n.leaf}`;
  }
  const l = renderExpr(r, n.l as ExprNode, false);
  const rr = renderExpr(r, n.r as ExprNode, false);
  const inner = `${l}${n.op}${rr}`;
  if (r.chance(0.25)) {
    const leaves = leafCount(n);
    const distinct = r.chance(0.4) ? `,${r.int(1, leaves)}` : '';
    return `(${inner})${r.pick(['=', '>', '<'])}${r.int(0, 4)}${distinct}`;
  }
  return top ? inner : `(${inner})`;
}

/** An unparenthesised chain, to pin down ClamAV's associativity: 0&1|2 or (0&1|2). */
function chainExpr(r: Prng, n: number): string {
  let s = '0';
  for (let i = 1; i < n; i++) s += `${r.pick(['&', '|'])}${i}`;
  return r.chance(0.5) ? s : `(${s})`;
}

function plantCounts(r: Prng, plans: readonly ContentPlan[], counts: readonly number[], size: number): { data: Uint8Array; notes: string } {
  const placements: Placement[] = [];
  const notes: string[] = [];
  plans.forEach((pl, i) => {
    const c = counts[i] ?? 0;
    for (let k = 0; k < c; k++) {
      const piece = pl.occurrence(r);
      if (pl.offset?.k === 'abs') placements.push({ piece, at: pl.offset.n });
      else if (pl.offset?.k === 'eof') placements.push({ piece, fromEnd: pl.offset.n });
      else placements.push({ piece });
    }
    if (pl.decoy && r.chance(0.5)) placements.push({ piece: pl.decoy(r) });
    notes.push(`#${i}x${c}`);
  });
  const exact = plans.some((pl) => pl.offset);
  return { data: assemble(r, 'binary', size, placements, undefined, exact), notes: notes.join(' ') };
}

function famLogical(g: GroupBuilder, r: Prng, n: number): void {
  for (let i = 0; i < n; i++) {
    const k = r.weighted([
      [1, 1],
      [2, 3],
      [3, 3],
      [4, 2],
      [5, 1],
      [6, 1],
    ] as const);
    const useMods = r.chance(0.45);
    const plans: ContentPlan[] = [];
    let exactSize: number | undefined;
    for (let j = 0; j < k; j++) {
      const mods: Mods = useMods ? r.weighted<Mods>([['', 3], ['i', 2], ['w', 2], ['wa', 2], ['f', 2], ['fw', 1], ['a', 1]]) : '';
      let off: Offset | undefined;
      if (!useMods && r.chance(0.1)) {
        exactSize ??= r.int(1200, 2500);
        off = r.chance(0.5) ? { k: 'abs', n: 40 + j * 64 + r.int(0, 30) } : { k: 'eof', n: 40 + j * 64 + r.int(0, 30) };
      }
      plans.push(contentPlan(r, mods, off, g.pairs));
    }
    const leaves = r.shuffle(Array.from({ length: k }, (_, j) => j));
    // Expressions that hold with no match at all fire on every file: they live in famZeroTrue.
    let expr: string;
    const zeros = plans.map(() => 0);
    do {
      expr = k >= 3 && r.chance(0.15) ? chainExpr(r, k) : renderExpr(r, buildTree(r, leaves), true);
      if (maxLogicalIndex(expr) !== k - 1) expr = `(${expr})|${k - 1}`;
    } while (evalLogical(expr, zeros));
    const tdb = useMods || r.chance(0.5) ? 'Engine:81-255,Target:0' : r.chance(0.5) ? 'Target:0' : 'Engine:51-255,Target:0';
    const l: LdbSig = { name: g.name(`Ldb.${useMods ? 'Mods' : 'Hex'}.K${k}`), tdb, expr, subs: plans.map((p) => p.sub) };
    g.addLdb(l, 'logical');
    // Count vectors: find some that satisfy the expression and some that do not.
    const maxFor = (j: number): number => (plans[j]?.offset ? 1 : 3);
    const trues: number[][] = [];
    const falses: number[][] = [];
    for (let t = 0; t < 60 && (trues.length < 2 || falses.length < 2); t++) {
      const v = plans.map((_, j) => r.weighted([[0, 3], [1, 4], [2, 2], [Math.min(3, maxFor(j)), 1]]));
      for (let j = 0; j < v.length; j++) v[j] = Math.min(v[j] as number, maxFor(j));
      (evalLogical(expr, v) ? trues : falses).push(v);
    }
    // A near miss: one count away from a satisfying vector.
    const t0 = trues[0];
    if (t0) {
      for (let j = 0; j < k; j++) {
        for (const d of [-1, 1]) {
          const v = t0.slice();
          v[j] = (v[j] as number) + d;
          if ((v[j] as number) < 0 || (v[j] as number) > maxFor(j)) continue;
          if (!evalLogical(expr, v) && !falses.some((f) => f.join() === v.join())) {
            falses.unshift(v);
            j = k;
            break;
          }
        }
      }
    }
    const vectors: [number[], boolean][] = [...trues.slice(0, 2).map((v) => [v, true] as [number[], boolean]), ...falses.slice(0, 2).map((v) => [v, false] as [number[], boolean])];
    for (const [v, want] of vectors) {
      const { data, notes } = plantCounts(r, plans, v, exactSize ?? r.int(200, 2500));
      g.check(`ldb-${want ? 'true' : 'false'}`, data, 'binary', { ldbs: [l] }, new Map([[l.name, want]]), [`${l.name} expr ${expr} with counts ${notes}`]);
    }
  }
}

/**
 * Expressions whose meaning depends on ClamAV's parsing rules, each with count vectors on which the
 * readings differ: `0&1|2` is 0&(1|2) but `(0&1|2)` is (0&1)|2; a block's count sums its true
 * terms; `,Y` counts distinct subsignatures; a single term ignores `,Y`.
 */
function famLogicalRules(g: GroupBuilder, r: Prng): void {
  const cases: [string, number[][]][] = [
    ['0&1|2', [[0, 0, 1], [1, 0, 1], [1, 1, 0], [0, 1, 1]]],
    ['(0&1|2)', [[0, 0, 1], [1, 0, 1], [1, 1, 0], [0, 1, 0]]],
    ['0|1&2', [[1, 0, 0], [0, 1, 0], [0, 1, 1]]],
    ['(0|1&2)', [[1, 0, 0], [1, 0, 1], [0, 1, 1]]],
    ['(0|1)>2', [[1, 1, 0], [2, 1, 0], [3, 0, 0]]],
    ['(0|1)>1,2', [[2, 0, 0], [1, 1, 0], [3, 1, 0]]],
    ['(0&1)=2', [[1, 1, 0], [2, 1, 0], [1, 0, 0]]],
    ['((0|1)>1)&2', [[2, 0, 1], [1, 1, 0], [1, 0, 1]]],
    ['0>1,2', [[2, 0, 0], [1, 0, 0]]],
    ['(0|1)=0&2', [[0, 0, 1], [1, 0, 1], [0, 1, 1]]],
    ['(0|1|2)>2,3', [[1, 1, 1], [3, 1, 0], [2, 2, 1]]],
  ];
  for (const [expr, vectors] of cases) {
    const k = maxLogicalIndex(expr) + 1;
    if (evalLogical(expr, Array.from({ length: k }, () => 0))) throw new Error(`generator: ${expr} holds with no match (it would fire on every file)`);
    const plans = Array.from({ length: k }, () => contentPlan(r, '', undefined, g.pairs));
    const l: LdbSig = { name: g.name('Ldb.Rules'), tdb: 'Engine:81-255,Target:0', expr, subs: plans.map((p) => p.sub) };
    g.addLdb(l, 'logical');
    for (const v of vectors) {
      const { data, notes } = plantCounts(r, plans, v.slice(0, k), r.int(200, 1200));
      g.check(`ldb-rules`, data, 'binary', { ldbs: [l] }, new Map([[l.name, evalLogical(expr, v)]]), [`${l.name} expr ${expr} with counts ${notes}`]);
    }
  }
}

/** Byte-compare subsignatures: trigger(>>off#opts#cmp) (§1.3 kind 4). */
function famByteCompare(g: GroupBuilder, r: Prng, n: number): void {
  for (let i = 0; i < n; i++) {
    const enc = r.pick(['i', 'd', 'h'] as const);
    const endian = enc === 'd' ? 'b' : r.pick(['l', 'b'] as const);
    const exact = enc !== 'i' && r.chance(0.5);
    const width = enc === 'i' ? r.pick([1, 2, 4, 8]) : enc === 'd' ? r.int(2, 6) : r.pick([2, 4, 6]);
    const maxVal = enc === 'i' ? (width >= 4 ? 0xffffffff : 256 ** width - 1) : enc === 'd' ? 10 ** width - 1 : 16 ** width - 1;
    const back = r.chance(0.2);
    const trig: Tok[] = [lit(r, 'bin', r.int(3, 6))];
    const gapLen = r.int(0, 6);
    const off = back ? width + gapLen : trig.length === 1 ? (trig[0] as { bytes: number[] }).bytes.length + gapLen : 0;
    const cmpKind = r.pick(['=', '<', '>', 'range'] as const);
    const v = r.int(2, Math.min(maxVal - 2, 1_000_000_000));
    const lo = Math.max(0, v - r.int(1, 50));
    const hi = Math.min(maxVal, v + r.int(1, 50));
    const fmtV = (x: number): string => (enc === 'h' || r.chance(0.2) ? `0x${x.toString(16)}` : `${x}`);
    const cmp = cmpKind === 'range' ? `>${fmtV(lo)},<${fmtV(hi)}` : `${cmpKind}${fmtV(v)}`;
    const holds = (x: number): boolean => (cmpKind === '=' ? x === v : cmpKind === '<' ? x < v : cmpKind === '>' ? x > v : x > lo && x < hi);
    const offText = r.chance(0.3) ? `0x${off.toString(16)}` : `${off}`;
    const text = `0(${back ? '<<' : '>>'}${offText}#${enc}${endian}${exact ? 'e' : ''}${width}#${cmp})`;
    const encode = (x: number): number[] => {
      if (enc === 'i') {
        const out: number[] = [];
        let big = BigInt(x);
        for (let j = 0; j < width; j++) {
          out.push(Number(big & 0xffn));
          big >>= 8n;
        }
        return endian === 'l' ? out : out.reverse();
      }
      if (enc === 'd') return ascii(String(x).padStart(width, '0'));
      const hx = x.toString(16).padStart(width, '0');
      const txt = r.chance(0.3) ? hx.toUpperCase() : hx;
      if (endian === 'b') return ascii(txt);
      const pairs = txt.match(/../g) ?? [];
      return ascii(pairs.reverse().join(''));
    };
    const trigSub: SubSig = { text: renderTokens(trig), toks: trig };
    const bc: SubSig = {
      text,
      evaluate: (view, counts) => {
        if ((counts[0] ?? 0) === 0) return 0;
        for (const st of matchStarts(trig, view)) {
          const at = back ? st - off : st + off;
          if (at < 0 || at + width > view.length) continue;
          const val = decodeCompare(view.subarray(at, at + width), enc, endian, exact);
          if (val !== undefined && holds(val)) return 1;
        }
        return 0;
      },
    };
    const l: LdbSig = { name: g.name(`Ldb.ByteCmp.${enc}${endian}${exact ? 'e' : ''}${width}`), tdb: 'Engine:81-255,Target:0', expr: '0&1', subs: [trigSub, bc] };
    g.addLdb(l, 'bytecompare');
    const good = cmpKind === '=' ? v : cmpKind === '<' ? r.int(Math.max(0, v - 40), v - 1) : cmpKind === '>' ? r.int(v + 1, Math.min(maxVal, v + 40)) : r.int(lo + 1, hi - 1);
    const bad = cmpKind === '=' ? v + r.pick([1, -1]) : cmpKind === '<' ? v : cmpKind === '>' ? v : r.pick([lo, hi]);
    const variants: [string, number, boolean][] = [
      ['holds', good, true],
      ['fails', bad, false],
      ['no-trigger', good, false],
    ];
    for (const [label, val, hasTrigger] of variants) {
      const tb = mustInstantiate(r, trig, 'bin').bytes;
      const filler = Array.from({ length: gapLen }, () => r.pick(BIN_FILLER));
      const valueBytes = encode(val);
      const block = back ? [...valueBytes, ...filler, ...(hasTrigger ? tb : [])] : [...(hasTrigger ? tb : []), ...filler, ...valueBytes];
      const data = assemble(r, 'binary', r.int(64, 800), [{ piece: { bytes: block, before: [], after: [0x2c] } }]);
      g.check(`bytecmp-${label}`, data, 'binary', { ldbs: [l] }, new Map([[l.name, label === 'holds']]), [`${l.name}: ${text}, value ${val} (${label})`]);
    }
  }
}

function decodeCompare(b: Uint8Array, enc: 'i' | 'd' | 'h', endian: 'l' | 'b', exact: boolean): number | undefined {
  if (enc === 'i') {
    let x = 0n;
    const bytes = endian === 'l' ? [...b].reverse() : [...b];
    for (const v of bytes) x = (x << 8n) | BigInt(v);
    return Number(x);
  }
  const s = String.fromCharCode(...b);
  const re = enc === 'd' ? /^[0-9]+/ : /^[0-9a-fA-F]+/;
  const mt = re.exec(s);
  if (!mt || (exact && mt[0].length !== s.length)) return undefined;
  let digits = mt[0];
  if (enc === 'h' && endian === 'l') digits = (digits.match(/../g) ?? []).reverse().join('');
  return parseInt(digits, enc === 'd' ? 10 : 16);
}

/** PCRE subsignatures: trigger/regex/flags (§1.3 kind 3). */
function famPcre(g: GroupBuilder, r: Prng, n: number): void {
  for (let i = 0; i < n; i++) {
    const trig: Tok[] = [lit(r, 'bin', r.int(3, 6))];
    const a = String.fromCharCode(...textLit(r, r.int(3, 5)));
    const b = String.fromCharCode(...textLit(r, r.int(2, 4)));
    const digits = r.int(2, 5);
    const shape = r.pick(['digits', 'alt', 'class'] as const);
    const regex = shape === 'digits' ? `${a}[0-9]{${digits}}${b}` : shape === 'alt' ? `${a}(x${b}|y${b})z` : `${a}[a-f]+${b}`;
    const flags = r.chance(0.3) ? 'i' : '';
    const make = (good: boolean, upper: boolean): number[] => {
      let s: string;
      if (shape === 'digits') s = `${a}${'7'.repeat(good ? digits : digits + 1)}${b}`;
      else if (shape === 'alt') s = `${a}${good ? r.pick(['x', 'y']) : 'w'}${b}z`;
      else s = `${a}${good ? 'fade' : 'ghij'}${b}`;
      return ascii(upper ? s.toUpperCase() : s);
    };
    const re = new RegExp(regex, flags);
    const pc: SubSig = {
      text: `0/${regex}/${flags}`,
      evaluate: (view, counts) => ((counts[0] ?? 0) > 0 && re.test(String.fromCharCode(...view)) ? 1 : 0),
    };
    const l: LdbSig = { name: g.name(`Ldb.Pcre.${shape}${flags}`), tdb: 'Engine:81-255,Target:0', expr: '0&1', subs: [{ text: renderTokens(trig), toks: trig }, pc] };
    g.addLdb(l, 'pcre');
    const variants: [string, boolean, boolean, boolean][] = [
      ['holds', true, true, false],
      ['fails', false, true, false],
      ['no-trigger', true, false, false],
      ['upper', true, true, true],
    ];
    for (const [label, good, hasTrigger, upper] of variants) {
      const pieces: Placement[] = [{ piece: { bytes: make(good, upper), before: [0x20], after: [0x20] } }];
      if (hasTrigger) pieces.push({ piece: mustInstantiate(r, trig, 'bin') });
      const data = assemble(r, 'binary', r.int(64, 900), pieces);
      const want = label === 'holds' || (label === 'upper' && flags === 'i');
      g.check(`pcre-${label}`, data, 'binary', { ldbs: [l] }, new Map([[l.name, want]]), [`${l.name}: /${regex}/${flags} (${label})`]);
    }
  }
}

/** Logical signatures with FileSize, and over text (raw and normalised views). */
function famLogicalMisc(g: GroupBuilder, r: Prng, n: number): void {
  for (let i = 0; i < n; i++) {
    const toks: Tok[] = [lit(r, 'bin', r.int(3, 6))];
    const lo = r.int(100, 1000);
    const hi = lo + r.int(0, 500);
    const l: LdbSig = { name: g.name('Ldb.FileSize'), tdb: `Engine:51-255,Target:0,FileSize:${lo}-${hi}`, expr: '0', subs: [{ text: renderTokens(toks), toks }], fileSize: [lo, hi] };
    g.addLdb(l, 'logical');
    for (const [label, size] of [
      ['min', lo],
      ['max', hi],
      ['below', lo - 1],
      ['above', hi + 1],
    ] as const) {
      const data = assemble(r, 'binary', size, [{ piece: mustInstantiate(r, toks, 'bin') }], undefined, true);
      g.check(`ldb-filesize-${label}`, data, 'binary', { ldbs: [l] }, new Map([[l.name, label === 'min' || label === 'max']]), [`${l.name}: FileSize ${lo}-${hi}, file size ${size}`]);
    }
  }
  for (let i = 0; i < n; i++) {
    const a: Tok[] = [lit(r, 'text', r.int(3, 6))];
    const b: Tok[] = [lit(r, 'text', r.int(3, 6))];
    const mods = r.pick(['', '::i'] as const);
    const expr = r.pick(['0&1', '0|1', '0&1=0', '(0|1)>1']);
    const l: LdbSig = {
      name: g.name('Ldb.Text'),
      tdb: 'Engine:81-255,Target:0',
      expr,
      subs: [
        { text: `${renderTokens(a)}${mods}`, toks: a, opts: mods ? { nocase: true } : {} },
        { text: renderTokens(b), toks: b },
      ],
    };
    g.addLdb(l, 'logical');
    for (const variant of ['lower', 'upper', 'onlyA'] as const) {
      const pieces: Placement[] = [{ piece: mustInstantiate(r, a, 'text') }];
      if (variant !== 'onlyA') pieces.push({ piece: mustInstantiate(r, b, 'text') });
      let data = assemble(r, 'ascii', r.int(60, 900), pieces);
      if (variant === 'upper') data = upperCase(data);
      g.check(`ldb-text-${variant}`, data, 'ascii', { ldbs: [l] }, new Map(), [`${l.name}: ${expr} on ${variant} text (raw and normalised passes evaluated separately)`]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Family: 128 KiB scan windows (§8: "Large files stream in chunks with matches carried across")
//
// clamscan scans a layer in windows of SCANBUFF bytes; window k starts at k * (SCANBUFF - M),
// where M is the longest pattern of the roots in use (pinned here to GENERIC_PIN_LEN), so
// consecutive windows overlap by M bytes. Consequences, each probed below:
//  * a match lying entirely in an overlap is found (and reported with --allmatch) twice per pass;
//  * a right-edge class ((B), (L), (W)) whose match ends exactly at a window's end is satisfied by
//    the end of the buffer, whatever the next byte of the file is;
//  * a negated left-edge class (!(B), !(L), !(W)) whose match starts exactly at a window's start
//    (the file start included) crashes clamscan 1.4.6 (SIGSEGV): never generated.

const W0_END = SCANBUFF;
const W1_START = SCANBUFF - GENERIC_PIN_LEN;
const W1_END = W1_START + SCANBUFF;
const W2_START = 2 * (SCANBUFF - GENERIC_PIN_LEN);

function famChunk(g: GroupBuilder, r: Prng): void {
  const mk = (feature: string, toks: Tok[], target = 0): BodySig => {
    const s: BodySig = { name: g.name(`Chunk.${feature}`), target, offset: { k: 'any' }, toks };
    g.addBody(s, 'chunk');
    return s;
  };
  const big = (size: number, placements: Placement[]): Uint8Array => assemble(r, 'binary', size, placements, undefined, true);
  const probeFile = (stem: string, data: Uint8Array, s: BodySig, hit: boolean, count: number | undefined, probe: string | undefined, note: string): void => {
    if (probe === undefined) {
      g.check(stem, data, 'binary', { body: [s] }, new Map([[s.name, hit]]), [note], count === undefined ? {} : { counts: { [reported(s.name)]: count } });
      return;
    }
    g.probe(
      {
        bytes: data,
        kind: 'binary',
        hits: hit ? [reported(s.name)] : [],
        misses: hit ? [] : [reported(s.name)],
        sigs: [s.name],
        notes: [note],
        probe,
        ...(count === undefined ? {} : { counts: hit ? { [reported(s.name)]: count } : {} }),
        ...(hit ? { expectDefault: reported(s.name) } : {}),
      },
      stem,
      { body: [s] },
    );
  };
  const size1 = (): number => r.int(W0_END + 4000, W0_END + 30000);
  // Plain (Boyer-Moore) and wildcard (Aho-Corasick) literals around the first window border; the
  // model counts one report per window that wholly contains the match.
  for (const shape of ['bm', 'ac'] as const) {
    const where: [string, number][] = [
      ['straddle', W0_END - 4],
      ['ends-at-border', W0_END - 8],
      ['starts-at-border', W0_END],
      ['in-overlap', W1_START + 20],
      ['starts-at-overlap', W1_START],
      ['before-overlap', W1_START - 9],
      ['one-into-overlap', W1_START - 7],
    ];
    for (const [label, at] of where) {
      const toks: Tok[] = shape === 'bm' ? [lit(r, 'bin', 8)] : [lit(r, 'bin', 4), { t: 'any' }, lit(r, 'bin', 3)];
      const s = mk(`${shape}.${label}`, toks);
      const data = big(size1(), [{ piece: mustInstantiate(r, toks, 'bin'), at }]);
      probeFile(`chunk-${shape}-${label}`, data, s, true, undefined, undefined, `${s.name} at ${at}; windows [0,${W0_END}) and [${W1_START},${W1_END})`);
    }
  }
  // A file of exactly one full window: the loop scans its last M bytes once more.
  {
    const toks: Tok[] = [lit(r, 'bin', 8)];
    const s = mk('bm.exact-window-tail', toks);
    probeFile('chunk-exact-window-tail', big(SCANBUFF, [{ piece: mustInstantiate(r, toks, 'bin'), fromEnd: 40 }]), s, true, undefined, undefined, `${s.name} 40 bytes before the end of a ${SCANBUFF}-byte file`);
  }
  // Multi-part signatures whose parts sit in different windows: one report per window in which
  // the last part is found with a valid earlier part.
  {
    const toks: Tok[] = [lit(r, 'bin', 5), gap.range(200, 300), lit(r, 'bin', 5)];
    const s = mk('parts-across', toks);
    const a = mustInstantiate(r, toks, 'bin');
    const data = big(size1(), [{ piece: a, at: W1_START - 5 }]);
    probeFile('chunk-parts-across', data, s, true, 2, 'parts across windows: the last part is found in one window', `${s.name}: first part ends before window 1 starts, last part after window 0 ends`);
    const toks3: Tok[] = [lit(r, 'bin', 5), gap.range(20, 40), lit(r, 'bin', 5)];
    const s3 = mk('parts-last-in-overlap', toks3);
    const a3 = mustInstantiate(r, toks3, 'bin');
    probeFile('chunk-parts-last-in-overlap', big(size1(), [{ piece: a3, at: W1_START - 15 }]), s3, true, 4, 'parts across windows: a last part inside the overlap is reported by both windows', `${s3.name}: first part in window 0 only, last part inside the overlap [${W1_START},${W0_END})`);
    const s2 = mk('parts-star-far', [lit(r, 'bin', 6), gap.star(), lit(r, 'bin', 6)]);
    const first = mustInstantiate(r, [s2.toks[0] as Tok], 'bin');
    const last = mustInstantiate(r, [s2.toks[2] as Tok], 'bin');
    const d2 = big(W2_START + r.int(8000, 20000), [
      { piece: first, at: 1000 },
      { piece: last, at: W2_START + 5000 },
    ]);
    probeFile('chunk-parts-star-far', d2, s2, true, 2, 'parts across windows: the last part is found in one window', `${s2.name}: parts 260 KiB apart, in windows 0 and 2`);
  }
  // Right-edge classes at the end of window 0 (the buffer end counts as a boundary).
  for (const c of ['B', 'L', 'W'] as const) {
    const core = lit(r, 'bin', 6);
    const s = mk(`right-${c}-at-window-end`, [core, { t: 'cls', c, neg: false }]);
    const piece: Piece = { bytes: (core as { bytes: number[] }).bytes, before: [], after: [0x61] };
    const data = big(size1(), [{ piece, at: W0_END - 6 }]);
    probeFile(`chunk-right-${c}-window-end`, data, s, true, 2, 'window end satisfies a right-edge class', `${s.name} ends exactly at ${W0_END}, next byte 'a' (no boundary); window 0 sees its end`);
    const s2 = mk(`right-${c}-near-window-end`, [lit(r, 'bin', 6), { t: 'cls', c, neg: false }]);
    const p2: Piece = { bytes: (s2.toks[0] as { bytes: number[] }).bytes, before: [], after: [0x61] };
    const d2 = big(size1(), [{ piece: p2, at: W0_END - 7 }]);
    probeFile(`chunk-right-${c}-one-before-end`, d2, s2, false, undefined, undefined, `${s2.name} ends at ${W0_END - 1}, next byte 'a': a plain miss`);
    // The same at the end of window 1, whose position depends on the overlap M.
    const s3 = mk(`right-${c}-at-window1-end`, [lit(r, 'bin', 6), { t: 'cls', c, neg: false }]);
    const p3: Piece = { bytes: (s3.toks[0] as { bytes: number[] }).bytes, before: [], after: [0x61] };
    const d3 = big(W1_END + r.int(3000, 9000), [{ piece: p3, at: W1_END - 6 }]);
    probeFile(`chunk-right-${c}-window1-end`, d3, s3, true, 2, 'window end satisfies a right-edge class', `${s3.name} ends exactly at window 1's end ${W1_END} = 2*${SCANBUFF}-${GENERIC_PIN_LEN}`);
  }
  // Negated right-edge class at the window end: window 0 rejects, window 1 decides normally.
  {
    const core = lit(r, 'bin', 6);
    const s = mk('right-negW-at-window-end', [core, { t: 'cls', c: 'W', neg: true }]);
    const bytes = (core as { bytes: number[] }).bytes;
    probeFile('chunk-right-negW-end-alnum', big(size1(), [{ piece: { bytes, before: [], after: [0x62] }, at: W0_END - 6 }]), s, true, 2, undefined, `${s.name}: !(W) at ${W0_END}, next byte 'b'`);
    const s2 = mk('right-negW-at-window-end', [lit(r, 'bin', 6), { t: 'cls', c: 'W', neg: true }]);
    const b2 = (s2.toks[0] as { bytes: number[] }).bytes;
    probeFile('chunk-right-negW-end-space', big(size1(), [{ piece: { bytes: b2, before: [], after: [0x20] }, at: W0_END - 6 }]), s2, false, undefined, undefined, `${s2.name}: !(W) at ${W0_END}, next byte ' '`);
  }
  // Left-edge classes at the start of window 1: found in window 0, which sees the previous byte.
  // (A negated left-edge class matching at the start of any window, file start included, crashes
  // clamscan 1.4.6; the generator never builds one.)
  for (const c of ['B', 'L', 'W'] as const) {
    const prev = c === 'B' ? 0x20 : c === 'L' ? 0x0a : 0x2e;
    const s2 = mk(`left-${c}-at-window-start`, [{ t: 'cls', c, neg: false }, lit(r, 'bin', 6)]);
    const b2 = (s2.toks[1] as { bytes: number[] }).bytes;
    probeFile(`chunk-left-${c}-window-start`, big(size1(), [{ piece: { bytes: b2, before: [prev], after: [] }, at: W1_START }]), s2, true, 2, 'a left-edge class at a window start is checked only by the earlier window', `${s2.name} at window 1's start ${W1_START}, previous byte ${hex2(prev)}: found in window 0 only`);
  }
  // Overlap of windows 1 and 2 (pins M from the other side).
  {
    const toks: Tok[] = [lit(r, 'bin', 8)];
    const s = mk('bm.in-overlap-1-2', toks);
    const data = big(W1_END + r.int(3000, 9000), [{ piece: mustInstantiate(r, toks, 'bin'), at: W2_START + 30 }]);
    probeFile('chunk-bm-overlap-1-2', data, s, true, undefined, undefined, `${s.name} at ${W2_START + 30}, inside [${W2_START},${W1_END})`);
  }
  // Target 14 (CL_TYPE_OTHER rescan) at the border, and EOF-n in a large file.
  {
    const toks: Tok[] = [lit(r, 'bin', 7)];
    const s = mk('t14.straddle', toks, 14);
    probeFile('chunk-t14-straddle', big(size1(), [{ piece: mustInstantiate(r, toks, 'bin'), at: W0_END - 3 }]), s, true, 1, undefined, `${s.name}: target 14 straddling ${W0_END}`);
    const toks2: Tok[] = [lit(r, 'bin', 5), { t: 'any' }, lit(r, 'bin', 4)];
    const size = size1();
    const s2: BodySig = { name: g.name('Chunk.eof-large'), target: 0, offset: { k: 'eof', n: 10 }, toks: toks2 };
    g.addBody(s2, 'chunk');
    const piece = mustInstantiate(r, toks2, 'bin');
    probeFile('chunk-eof-large', big(size, [{ piece, fromEnd: 10 }]), s2, true, 2, undefined, `${s2.name}: EOF-10 in a ${size}-byte file`);
  }
}

/** Normalised-text buffers (stream mode): a pattern straddling a buffer border survives only if it fits the carry-over. */
function famChunkText(g: GroupBuilder, r: Prng, expectStraddleHit: boolean): void {
  const carry = TEXT_PIN_LEN;
  for (const [len, back, upper] of [
    [30, 20, true],
    [60, 50, true],
    [60, 50, false],
    [50, carry, true],
    [50, carry + 1, true],
  ] as const) {
    const toks: Tok[] = [lit(r, 'text', len)];
    const s: BodySig = { name: g.name(`ChunkText.L${len}.back${back}${upper ? '.upper' : ''}`), target: 0, offset: { k: 'any' }, toks };
    g.addBody(s, 'chunk', 'text.ndb');
    const at = SCANBUFF - back;
    let data = assemble(r, 'ascii', SCANBUFF + r.int(4000, 12000), [{ piece: { bytes: (toks[0] as { bytes: number[] }).bytes, before: [], after: [] }, at }], (n) => flatTextFiller(r, n), true);
    if (upper) data = upperCase(data);
    const fits = back <= carry;
    const hit = !upper || fits || expectStraddleHit;
    const note = `${s.name}: ${len}-byte text pattern at ${at} straddles ${SCANBUFF} in ${upper ? 'upper-case' : 'lower-case'} text; carry-over between normalised buffers is ${carry}`;
    if (!expectStraddleHit) {
      // Raw pass: found if the text is lower case. Normalised pass: found only if it fits the carry-over.
      const n = (upper ? 0 : 1) + (fits ? 1 : 0);
      g.probe(
        {
          bytes: data,
          kind: 'ascii',
          hits: hit ? [reported(s.name)] : [],
          misses: hit ? [] : [reported(s.name)],
          sigs: [s.name],
          notes: [note],
          probe: 'normalised text is scanned in buffers that carry over only the longest target-7 pattern',
          counts: hit ? { [reported(s.name)]: n } : {},
        },
        `chunktext-L${len}-back${back}`,
        { body: [s] },
      );
    } else {
      g.check(`chunktext-L${len}-back${back}`, data, 'ascii', { body: [s] }, new Map([[s.name, hit]]), [note]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Family: which name is printed without --allmatch (§1.12, §8 item 14)

function famPrecedence(g: GroupBuilder, r: Prng, n: number): void {
  for (let i = 0; i < n; i++) {
    const kind = r.pick(['bmAfterAc', 'acAc', 'bmBm', 'bodyHashLdb', 'hashLdb', 't14First', 'textHashThenNorm'] as const);
    const mkBody = (feature: string, toks: Tok[], target = 0, db = 'diff.ndb'): BodySig => {
      const s: BodySig = { name: g.name(`Order.${feature}`), target, offset: { k: 'any' }, toks };
      g.addBody(s, 'order', db);
      return s;
    };
    const bm = (): Tok[] => [lit(r, 'bin', r.int(4, 8))];
    const ac = (): Tok[] => [litN(r, 'bin'), { t: 'any' }, litN(r, 'bin')];
    switch (kind) {
      case 'bmAfterAc':
      case 'acAc':
      case 'bmBm': {
        const a = mkBody(kind === 'bmBm' ? 'Bm' : 'Ac', kind === 'bmBm' ? bm() : ac());
        const b = mkBody(kind === 'acAc' ? 'Ac' : 'Bm', kind === 'acAc' ? ac() : bm());
        const pa = mustInstantiate(r, a.toks, 'bin');
        const pb = mustInstantiate(r, b.toks, 'bin');
        const atA = r.int(20, 200);
        const atB = r.int(600, 1500);
        const data = assemble(r, 'binary', 2000, [
          { piece: pa, at: atA },
          { piece: pb, at: atB },
        ]);
        const want = kind === 'bmAfterAc' ? b : a;
        const fc = g.check(`order-${kind}`, data, 'binary', { body: [a, b] }, new Map([[a.name, true], [b.name, true]]), [`${a.name} at ${atA}, ${b.name} at ${atB}`]);
        fc.expectDefault = reported(want.name);
        fc.probe = kind === 'bmAfterAc' ? 'plain (Boyer-Moore) signatures are checked before wildcard ones in each window' : 'within one matcher, the earliest match in the window is reported';
        break;
      }
      case 'bodyHashLdb':
      case 'hashLdb': {
        const toks = ac();
        const l: LdbSig = { name: g.name('Order.Ldb'), tdb: 'Engine:81-255,Target:0', expr: '0', subs: [{ text: renderTokens(toks), toks }] };
        g.addLdb(l, 'order');
        const pieces: Placement[] = [{ piece: mustInstantiate(r, toks, 'bin') }];
        const body = kind === 'bodyHashLdb' ? mkBody('Body', ac()) : undefined;
        if (body) pieces.push({ piece: mustInstantiate(r, body.toks, 'bin') });
        const data = assemble(r, 'binary', r.int(100, 1000), pieces);
        const h: HashSig = { name: g.name('Order.Hash'), alg: r.pick(['md5', 'sha256'] as const), of: data, size: data.length };
        g.add(h.alg === 'md5' ? 'diff.hdb' : 'diff.hsb', h.name, hashLine(h), 'order');
        const fc = g.check(`order-${kind}`, data, 'binary', { body: body ? [body] : [], hashes: [h], ldbs: [l] }, new Map([[l.name, true], [h.name, true]]), ['body, then hash, then logical']);
        if (fc.expectDefault !== reported(body ? body.name : h.name)) throw new Error('generator: precedence model disagrees');
        break;
      }
      case 't14First': {
        const a = mkBody('T14', bm(), 14);
        const b = mkBody('T0', ac());
        const data = assemble(r, 'binary', 1600, [
          { piece: mustInstantiate(r, a.toks, 'bin'), at: 100 },
          { piece: mustInstantiate(r, b.toks, 'bin'), at: 1200 },
        ]);
        g.check('order-t14-first', data, 'binary', { body: [a, b] }, new Map([[a.name, true], [b.name, true]]), [`${a.name} (target 14) earlier than ${b.name} (target 0)`]);
        break;
      }
      case 'textHashThenNorm': {
        const toks: Tok[] = [lit(r, 'text', r.int(4, 8))];
        const s = mkBody('Norm', toks, 0, 'text.ndb');
        const data = upperCase(assemble(r, 'ascii', r.int(60, 600), [{ piece: mustInstantiate(r, toks, 'text') }]));
        const h: HashSig = { name: g.name('Order.TextHash'), alg: 'md5', of: data, size: data.length };
        g.add('diff.hdb', h.name, hashLine(h), 'order');
        const fc = g.check('order-text-hash-then-norm', data, 'ascii', { body: [s], hashes: [h] }, new Map([[s.name, true], [h.name, true]]), ['the raw pass (with its hash) runs before the normalised pass']);
        if (fc.expectDefault !== reported(h.name)) throw new Error('generator: text precedence model disagrees');
        break;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Family: empty and tiny files

function famTiny(g: GroupBuilder, r: Prng): void {
  g.file({ bytes: new Uint8Array(0), kind: 'empty', hits: [], misses: [], sigs: [], notes: ['empty file'] }, 'empty');
  const toks: Tok[] = [lit(r, 'bin', 3)];
  const s: BodySig = { name: g.name('Tiny.Eof'), target: 0, offset: { k: 'eof', n: 3 }, toks };
  g.addBody(s, 'tiny');
  const bytes = (toks[0] as { bytes: number[] }).bytes;
  const exact = Uint8Array.from(bytes);
  g.check('tiny-exact', exact, sniffKind(exact), { body: [s] }, new Map([[s.name, false]]), [`3-byte file that is exactly the pattern, EOF-3 (typed ${sniffKind(exact)}): files of 5 bytes or less are not scanned`]);
  for (const n of [5, 6]) {
    const t: BodySig = { name: g.name(`Tiny.Size${n}`), target: 0, offset: { k: 'eof', n }, toks: [lit(r, 'bin', n)] };
    g.addBody(t, 'tiny');
    const d = Uint8Array.from((t.toks[0] as { bytes: number[] }).bytes);
    g.check(`tiny-size${n}`, d, sniffKind(d), { body: [t] }, new Map([[t.name, n >= MIN_SCANNED_SIZE]]), [`${n}-byte file that is exactly an EOF-${n} pattern`]);
    const h: HashSig = { name: g.name(`Tiny.Hash${n}`), alg: 'md5', of: plainFile(r, 'binary', 8, 8).slice(0, n), size: n };
    g.add('diff.hdb', h.name, hashLine(h), 'tiny');
    g.check(`tiny-hash${n}`, h.of, sniffKind(h.of), { hashes: [h] }, new Map([[h.name, n >= MIN_SCANNED_SIZE]]), [`md5 of a ${n}-byte file`]);
  }
  const s2: BodySig = { name: g.name('Tiny.EofTooFar'), target: 0, offset: { k: 'eof', n: 50 }, toks: [lit(r, 'bin', 3)] };
  g.addBody(s2, 'tiny');
  const five = Uint8Array.from([...(s2.toks[0] as { bytes: number[] }).bytes, 0x00, 0x00]);
  g.check('tiny-eof-beyond', five, sniffKind(five), { body: [s2] }, new Map([[s2.name, false]]), ['EOF-50 in a 5-byte file']);
  g.check('tiny-one-byte', Uint8Array.from([0x61]), 'ascii', {}, new Map(), ['one-byte text file']);
  g.check('tiny-two-zero', Uint8Array.from([0x00, 0x00]), 'utf16be', {}, new Map(), ['two zero bytes: too short to fail the UTF-16 test, so typed as UTF-16BE text']);
}

// ---------------------------------------------------------------------------------------------
// Pins: the longest patterns of the generic and text roots, so window overlaps are known.

function pins(g: GroupBuilder, r: Prng, textEof: boolean): void {
  const gen: BodySig = { name: g.name('Pin.Generic'), target: 0, offset: { k: 'any' }, toks: [lit(r, 'bin', GENERIC_PIN_LEN)] };
  g.addBody(gen, 'pin');
  const txt: BodySig = { name: g.name('Pin.Text'), target: 7, offset: { k: 'any' }, toks: [lit(r, 'text', TEXT_PIN_LEN)] };
  g.addBody(txt, 'pin', 'text.ndb');
  g.check('pin-generic', assemble(r, 'binary', 600, [{ piece: mustInstantiate(r, gen.toks, 'bin') }]), 'binary', { body: [gen] }, new Map([[gen.name, true]]), ['pins the generic overlap']);
  g.check('pin-text', assemble(r, 'ascii', 300, [{ piece: mustInstantiate(r, txt.toks, 'text') }]), 'ascii', { body: [txt] }, new Map([[txt.name, true]]), ['pins the text carry-over']);
  if (textEof) {
    // A target-7 signature with a relative offset makes ClamAV write the normalised text to a
    // temporary file and scan it as a layer of its own ('file' mode).
    const eof: BodySig = { name: g.name('Pin.TextEof'), target: 7, offset: { k: 'eof', n: 12 }, toks: [lit(r, 'text', 8)] };
    g.addBody(eof, 'pin', 'text.ndb');
    const piece = mustInstantiate(r, eof.toks, 'text');
    const data = assemble(r, 'ascii', 400, [{ piece: { ...piece, after: [0x20, 0x61, 0x62, 0x63] }, fromEnd: 12 }], undefined, true);
    g.check('pin-text-eof', data, 'ascii', { body: [eof] }, new Map(), ['target 7 at EOF-12 of the normalised text']);
  }
}

/** 'file' mode extras: hash and allow-list entries for the normalised layer, EOF-n on text. */
function famNormLayer(g: GroupBuilder, r: Prng, n: number): void {
  for (let i = 0; i < n; i++) {
    const data = upperCase(assemble(r, 'ascii', r.int(80, 1200), []));
    const h: HashSig = { name: g.name('NormLayer.Hash'), alg: r.pick(['md5', 'sha1', 'sha256'] as const), of: normalizeText(data), size: normalizeText(data).length };
    g.add(h.alg === 'md5' ? 'diff.hdb' : 'diff.hsb', h.name, hashLine(h), 'normlayer');
    g.check('normlayer-hash', data, 'ascii', { hashes: [h] }, new Map(), [`${h.name}: ${h.alg} of the normalised text`]);
  }
  for (let i = 0; i < n; i++) {
    const toks: Tok[] = [lit(r, 'text', r.int(4, 8))];
    const s: BodySig = { name: g.name('NormLayer.Body'), target: 0, offset: { k: 'any' }, toks };
    g.addBody(s, 'normlayer', 'text.ndb');
    const data = upperCase(assemble(r, 'ascii', r.int(80, 900), [{ piece: mustInstantiate(r, toks, 'text') }]));
    const norm = normalizeText(data);
    const fp: HashSig = { name: `NormLayer.Fp.${i + 1}`, alg: 'md5', of: norm, size: norm.length };
    g.add('diff.fp', fp.name, hashLine(fp), 'normlayer');
    g.check('normlayer-fp', data, 'ascii', { body: [s], fps: [fp] }, new Map(), [`${s.name} found only in the normalised layer; ${fp.name} is that layer's md5`]);
  }
  for (let i = 0; i < n; i++) {
    const toks: Tok[] = [lit(r, 'text', r.int(4, 8))];
    const tail = r.int(1, 6);
    const s: BodySig = { name: g.name('NormLayer.Eof'), target: r.pick([0, 7]), offset: { k: 'eof', n: (toks[0] as { bytes: number[] }).bytes.length + 1 }, toks };
    g.addBody(s, 'normlayer', 'text.ndb');
    const piece = mustInstantiate(r, toks, 'text');
    const after = Array.from({ length: tail }, () => r.pick([0x20, 0x0a, 0x09]));
    let data = assemble(r, 'ascii', r.int(80, 900), [{ piece: { ...piece, after }, fromEnd: piece.bytes.length + after.length }]);
    if (r.chance(0.5)) data = upperCase(data);
    g.check('normlayer-eof', data, 'ascii', { body: [s] }, new Map(), [`${s.name}: EOF-${renderOffset(s.offset)} with ${tail} trailing whitespace bytes`]);
  }
}

// ---------------------------------------------------------------------------------------------
// Malformed databases: one per form of reference §1.0-§1.3. clamscan refuses to start scanning
// (exit 2) and prints one `ERROR: ...` line; `expectError: null` marks look-alikes that are valid.

const MALFORMED = 'ERROR: Malformed database';
const INVALID_ARG = 'ERROR: Invalid argument passed to function';

export function malformedCases(r: Prng): MalformedCase[] {
  const h = (n: number): string => hexOf(binLit(r, n));
  const md5 = (): string => hexOf(r.bytes(16));
  const sha256 = (): string => hexOf(r.bytes(32));
  const good = `Diff.Ok.1:0:*:${h(6)}`;
  const list: [string, string, string, string | null][] = [
    // id, form, file name + content, expected error
    ['blank-line-hdb', 'blank line between two hash lines', `blank.hdb\n${md5()}:100:Diff.Bad.A\n\n${md5()}:100:Diff.Bad.B\n`, MALFORMED],
    ['blank-line-ndb', 'blank line at the end of an .ndb', `blank.ndb\n${good}\n\n`, MALFORMED],
    ['blank-first-ldb', 'blank first line in an .ldb', `blank.ldb\n\nDiff.Bad.L;Engine:81-255,Target:0;0;${h(4)}\n`, MALFORMED],
    ['empty-ndb', 'empty .ndb file', 'empty.ndb\n', MALFORMED],
    ['empty-hdb', 'empty .hdb file', 'empty.hdb\n', MALFORMED],
    ['empty-ldb', 'empty .ldb file', 'empty.ldb\n', MALFORMED],
    ['hash-31', 'hash of 31 hex digits', `bad.hdb\n${md5().slice(1)}:100:Diff.Bad.H\n`, INVALID_ARG],
    ['hash-33', 'hash of 33 hex digits', `bad.hdb\n${md5()}a:100:Diff.Bad.H\n`, INVALID_ARG],
    ['hash-48', 'hash of 48 hex digits in .hsb', `bad.hsb\n${sha256().slice(16)}:100:Diff.Bad.H\n`, INVALID_ARG],
    ['hash-nonhex', 'non-hex digit in a hash', `bad.hdb\n${md5().slice(1)}g:100:Diff.Bad.H\n`, INVALID_ARG],
    ['hash-size-0', 'size 0', `bad.hdb\n${md5()}:0:Diff.Bad.H\n`, MALFORMED],
    ['hash-size-text', 'size that is not a number', `bad.hdb\n${md5()}:abc:Diff.Bad.H\n`, MALFORMED],
    ['hash-star-no-flevel', '* size without a minimum FLEVEL', `bad.hdb\n${md5()}:*:Diff.Bad.H\n`, MALFORMED],
    ['hash-star-flevel-72', '* size with minimum FLEVEL 72', `bad.hsb\n${sha256()}:*:Diff.Bad.H:72\n`, MALFORMED],
    ['hash-star-fp', '* size in .fp without FLEVEL', `bad.fp\n${md5()}:*:Diff.Bad.H\n`, MALFORMED],
    ['hash-two-fields', 'hash line with two fields', `bad.hdb\n${md5()}:100\n`, MALFORMED],
    ['ndb-odd-hex', 'odd number of hex digits', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}a\n`, MALFORMED],
    ['ndb-nonhex', 'non-hex character in the pattern', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}zz\n`, MALFORMED],
    ['ndb-brace-text', '{x} jump', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}{x}${h(4)}\n`, MALFORMED],
    ['ndb-brace-unclosed', 'unclosed {', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}{5${h(4)}\n`, MALFORMED],
    ['ndb-brace-three', '{1-2-3}', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}{1-2-3}${h(4)}\n`, MALFORMED],
    ['ndb-brace-at-start', 'pattern starting with a jump of 128 or more', `bad.ndb\nDiff.Bad.N:0:*:{200}${h(4)}\n`, MALFORMED],
    ['ndb-brace-in-alt-after-range', '{n} inside an alternative after a {n-m} jump', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}{2-5}${h(3)}(${h(2)}{2}${h(2)}|${h(1)})${h(3)}\n`, MALFORMED],
    ['ndb-small-part-after-range', 'a 1-byte part between a {n-m} jump and a later {n}', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}{2-5}${h(1)}{3}${h(4)}\n`, MALFORMED],
    ['ndb-brace-at-end', 'pattern ending with a jump', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}{5-10}\n`, MALFORMED],
    ['ndb-star-at-end', 'pattern ending with *', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}*\n`, MALFORMED],
    ['ndb-short-static', 'no 2-byte static run (41??42)', `bad.ndb\nDiff.Bad.N:0:*:${h(1)}??${h(1)}\n`, MALFORMED],
    ['ndb-short-part', 'a part after * with one static byte', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}*${h(1)}\n`, MALFORMED],
    ['ndb-bm-too-short', 'plain 2-byte pattern on target 0', `bad.ndb\nDiff.Bad.N:0:*:${h(2)}\n`, MALFORMED],
    ['ndb-bm-too-short-t1', 'plain 2-byte pattern on target 1 at an absolute offset', `bad.ndb\nDiff.Bad.N:1:0:${h(2)}\n`, MALFORMED],
    ['ndb-ep-no-plus', 'EP without +n', `bad.ndb\nDiff.Bad.N:1:EP:${h(4)}\n`, MALFORMED],
    ['ndb-ep-target0', 'EP+0 on target 0', `bad.ndb\nDiff.Bad.N:0:EP+0:${h(4)}\n`, MALFORMED],
    ['ndb-section-target0', 'S1+0 on target 0', `bad.ndb\nDiff.Bad.N:0:S1+0:${h(4)}\n`, MALFORMED],
    ['ndb-sl-target7', 'SL+0 on target 7', `bad.ndb\nDiff.Bad.N:7:SL+0:${h(4)}\n`, MALFORMED],
    ['ndb-offset-garbage', 'offset EOF-x', `bad.ndb\nDiff.Bad.N:0:EOF-x:${h(4)}\n`, MALFORMED],
    ['ndb-star-shift', '* with a max shift', `bad.ndb\nDiff.Bad.N:0:*,5:${h(4)}\n`, MALFORMED],
    ['ndb-three-fields', 'three fields', `bad.ndb\nDiff.Bad.N:0:*\n`, MALFORMED],
    ['ndb-seven-fields', 'seven fields', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}:1:255:9\n`, MALFORMED],
    ['ndb-target-text', 'target field that is not a number', `bad.ndb\nDiff.Bad.N:x:*:${h(4)}\n`, MALFORMED],
    ['ndb-edge-range-33', '[x-y] with y > 32', `bad.ndb\nDiff.Bad.N:0:*:${h(1)}[1-33]${h(4)}\n`, MALFORMED],
    ['ndb-edge-range-middle', '[x-y] in the middle', `bad.ndb\nDiff.Bad.N:0:*:${h(3)}[1-3]${h(3)}\n`, MALFORMED],
    ['ndb-edge-range-reversed', '[x-y] with x > y', `bad.ndb\nDiff.Bad.N:0:*:${h(1)}[5-3]${h(4)}\n`, MALFORMED],
    ['ndb-edge-range-short-side', '[x-y] with one static byte on the other side', `bad.ndb\nDiff.Bad.N:0:*:${h(1)}[1-3]${h(1)}\n`, MALFORMED],
    ['ndb-neg-generic-alt', 'negated generic (variable-length) alternative', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}!(${h(1)}|${h(2)})${h(4)}\n`, MALFORMED],
    ['ndb-star-in-alt', '* inside an alternative', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}(${h(2)}*${h(2)}|${h(2)})${h(4)}\n`, MALFORMED],
    ['ndb-range-in-alt', '{n-m} inside an alternative', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}(${h(2)}{1-2}${h(2)}|${h(2)})${h(4)}\n`, MALFORMED],
    ['ndb-alt-unclosed', 'unclosed alternative', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}(${h(1)}|${h(1)}${h(4)}\n`, MALFORMED],
    ['ndb-alt-nest-17', 'alternatives nested 17 deep', `bad.ndb\nDiff.Bad.N:0:*:${h(4)}${'('.repeat(17)}${h(2)}${`|${h(2)})`.repeat(17)}${h(4)}\n`, MALFORMED],
    ['ndb-class-unknown', 'unknown class (X)', `bad.ndb\nDiff.Bad.N:0:*:(X)${h(4)}\n`, MALFORMED],
    ['ldb-subsig-count-more', 'more subsignatures than the expression uses', `bad.ldb\nDiff.Bad.L;Engine:81-255,Target:0;0&1;${h(4)};${h(4)};${h(4)}\n`, MALFORMED],
    ['ldb-subsig-count-fewer', 'fewer subsignatures than the expression uses', `bad.ldb\nDiff.Bad.L;Engine:81-255,Target:0;0&1&2;${h(4)};${h(4)}\n`, MALFORMED],
    ['ldb-trailing-semicolon', 'trailing ;', `bad.ldb\nDiff.Bad.L;Engine:81-255,Target:0;0&1;${h(4)};${h(4)};\n`, MALFORMED],
    ['ldb-no-target', 'no Target', `bad.ldb\nDiff.Bad.L;Engine:81-255;0;${h(4)}\n`, MALFORMED],
    ['ldb-engine-not-first', 'Engine not the first attribute', `bad.ldb\nDiff.Bad.L;Target:0,Engine:81-255;0;${h(4)}\n`, MALFORMED],
    ['ldb-new-attr-no-engine', 'FileSize without Engine >= 51', `bad.ldb\nDiff.Bad.L;Target:0,FileSize:1-100;0;${h(4)}\n`, MALFORMED],
    ['ldb-engine-no-dash', 'Engine range without -', `bad.ldb\nDiff.Bad.L;Engine:81,Target:0;0;${h(4)}\n`, MALFORMED],
    ['ldb-expr-dangling', 'expression ending with an operator', `bad.ldb\nDiff.Bad.L;Engine:81-255,Target:0;0&;${h(4)}\n`, MALFORMED],
    ['ldb-expr-unbalanced', 'unbalanced parenthesis', `bad.ldb\nDiff.Bad.L;Engine:81-255,Target:0;(0&1;${h(4)};${h(4)}\n`, MALFORMED],
    ['ldb-bad-modifier', 'unknown subsignature modifier', `bad.ldb\nDiff.Bad.L;Engine:81-255,Target:0;0;${h(4)}::z\n`, MALFORMED],
    ['ldb-bytecmp-dl', 'byte compare with d and l', `bad.ldb\nDiff.Bad.L;Engine:81-255,Target:0;0&1;${h(4)};0(>>4#dl4#=12)\n`, MALFORMED],
    ['ldb-subsig-short', 'subsignature with one static byte', `bad.ldb\nDiff.Bad.L;Engine:81-255,Target:0;0;${h(1)}\n`, MALFORMED],
    ['ign2-stale-md5', '.ign2 name-only line whose terminator lands on the previous line\'s md5', `stale.ign2\nDiff.Aaaa:${md5()}\nDiff.Bbbb\n`, MALFORMED],
    ['ign2-bad-md5', '.ign2 md5 of 31 digits', `bad.ign2\nDiff.Aaaa:${md5().slice(1)}\n`, MALFORMED],
    ['ldb-two-fields', 'logical signature with two fields', `bad.ldb\nDiff.Bad.L;Engine:81-255,Target:0\n`, MALFORMED],
    // Look-alikes that load (exit 0, no error): they guard against over-eager rejection.
    ['ok-comment-only', 'a file with only a comment line', 'comment.ndb\n# There must always be one line in the file\n', null],
    ['ok-crlf', 'CRLF line ends', `crlf.ndb\n${good}\r\n${good.replace('Ok.1', 'Ok.2')}\r\n`, null],
    ['ok-upper-hex', 'upper-case hex digits', `upper.ndb\n${good.toUpperCase().replace('DIFF.OK.1', 'Diff.Ok.1')}\n`, null],
    ['ok-flevel-garbage', 'garbage pattern behind an FLEVEL the engine does not reach', `flevel.ndb\nDiff.Ok.F:0:*:not hex at all:255\n${good}\n`, null],
    ['ok-target-99', 'target >= 15 is skipped, not an error', `t99.ndb\nDiff.Ok.T:99:*:${h(4)}\n${good}\n`, null],
    ['ok-brace-empty', '{} is an unbounded jump', `brace.ndb\nDiff.Ok.B:0:*:${h(4)}{}${h(4)}\n`, null],
    ['ok-brace-reversed', '{5-3} loads (and never matches)', `brace.ndb\nDiff.Ok.B:0:*:${h(4)}{5-3}${h(4)}\n`, null],
    ['ok-short-t7', 'plain 2-byte pattern on target 7', `short.ndb\nDiff.Ok.S:7:*:${h(2)}\n`, null],
    ['ok-ldb-unknown-attr', 'unknown attribute skips the signature', `attr.ldb\nDiff.Ok.L;Engine:81-255,Target:0,Bogus:1;0;${h(4)}\nDiff.Ok.M;Engine:81-255,Target:0;0;${h(4)}\n`, null],
    ['ok-brace-at-start', 'a pattern may start with {n} (n < 128): it becomes ??', `brace.ndb\nDiff.Ok.B:0:*:{5}${h(4)}\n`, null],
    ['ok-alt-nest-16', 'alternatives nested 16 deep', `nest.ndb\nDiff.Ok.N:0:*:${h(4)}${'('.repeat(16)}${h(2)}${`|${h(2)})`.repeat(16)}${h(4)}\n`, null],
    ['ok-pcre-wide', '::w after a PCRE subsignature is accepted by 1.4.6', `pcre.ldb\nDiff.Ok.P;Engine:81-255,Target:0;0&1;${h(4)};0/abc/::w\n`, null],
    ['ok-hash-star-73', '* size with FLEVEL 73', `star.hdb\n${md5()}:*:Diff.Ok.H:73\n`, null],
  ];
  return list.map(([id, form, spec, expectError]) => {
    // The first line of spec names the file; the rest is its content.
    const nl = spec.indexOf('\n');
    return { id, form, db: { name: spec.slice(0, nl), text: spec.slice(nl + 1) }, expectError };
  });
}

// ---------------------------------------------------------------------------------------------
// The corpus

export function generateCorpus(opts: GenOptions): Corpus {
  const root = new Prng(opts.seed);
  const scale = opts.scale ?? 1;
  const c = (n: number): number => Math.max(1, Math.round(n * scale));

  const g1 = new GroupBuilder('main', 'every family; target-7 signatures have no relative offsets, so normalised text is scanned in memory buffers', 'stream');
  pins(g1, root.fork('pins1'), false);
  famGrammar(g1, root.fork('grammar'), c(1150));
  famText(g1, root.fork('text'), c(150));
  famOffsets(g1, root.fork('offsets'), c(120));
  famTargets(g1, root.fork('targets'), c(3));
  famFlevel(g1, root.fork('flevel'), c(2));
  famHashes(g1, root.fork('hashes'), c(100));
  famAllow(g1, root.fork('allow'), c(36));
  famIgnore(g1, root.fork('ignore'), c(36));
  famLogical(g1, root.fork('ldb'), c(160));
  famLogicalRules(g1, root.fork('ldbrules'));
  famByteCompare(g1, root.fork('bytecmp'), c(36));
  famPcre(g1, root.fork('pcre'), c(24));
  famLogicalMisc(g1, root.fork('ldbmisc'), c(12));
  famPrecedence(g1, root.fork('order'), c(28));
  famChunk(g1, root.fork('chunk'));
  famChunkText(g1, root.fork('chunktext'), false);
  famTiny(g1, root.fork('tiny'));

  const g2 = new GroupBuilder('textfile', 'a target-7 signature with an EOF offset: normalised text is written out and scanned as a layer of its own', 'file');
  pins(g2, root.fork('pins2'), true);
  famText(g2, root.fork('text2'), c(50));
  famNormLayer(g2, root.fork('normlayer'), c(10));
  famChunkText(g2, root.fork('chunktext2'), true);
  famHashes(g2, root.fork('hashes2'), c(10));

  const g3 = new GroupBuilder('zerotrue', 'logical signatures that hold with no match at all', 'stream', 32);
  famZeroTrue(g3, root.fork('zerotrue'));

  return { seed: opts.seed, groups: [g1.build(), g2.build(), g3.build()], malformed: malformedCases(root.fork('malformed')) };
}

/** Lines that are signatures (not allow-list or ignore entries). */
export function signatureCount(c: Corpus): number {
  let n = 0;
  for (const g of c.groups) for (const s of g.sigs) if (/\.(ndb|hdb|hsb|ldb)$/.test(s.db)) n++;
  return n;
}

export function fileCount(c: Corpus): number {
  return c.groups.reduce((a, g) => a + g.files.length, 0);
}

export interface WrittenGroup {
  group: Group;
  dbDir: string;
  filesDir: string;
  /** Database paths in -d order. */
  dbPaths: string[];
}

export interface WrittenCorpus {
  dir: string;
  groups: WrittenGroup[];
  /** Per malformed case: the database path and a probe file to scan. */
  malformed: { mc: MalformedCase; dbPath: string }[];
  probeFile: string;
}

/** Writes a corpus under dir: <group>/db/<name>, <group>/files/<name>, malformed/<id>/<name>. */
export function writeCorpus(c: Corpus, dir: string): WrittenCorpus {
  const groups: WrittenGroup[] = [];
  for (const g of c.groups) {
    const dbDir = join(dir, g.id, 'db');
    const filesDir = join(dir, g.id, 'files');
    mkdirSync(dbDir, { recursive: true });
    mkdirSync(filesDir, { recursive: true });
    const dbPaths: string[] = [];
    for (const d of g.dbs) {
      const p = join(dbDir, d.name);
      writeFileSync(p, d.text);
      dbPaths.push(p);
    }
    for (const f of g.files) writeFileSync(join(filesDir, f.name), f.bytes);
    groups.push({ group: g, dbDir, filesDir, dbPaths });
  }
  const malformed: WrittenCorpus['malformed'] = [];
  for (const mc of c.malformed) {
    const d = join(dir, 'malformed', mc.id);
    mkdirSync(d, { recursive: true });
    const p = join(d, mc.db.name);
    writeFileSync(p, mc.db.text);
    malformed.push({ mc, dbPath: p });
  }
  const probeFile = join(dir, 'malformed', 'probe.txt');
  writeFileSync(probeFile, 'a small clean text file\n');
  return { dir, groups, malformed, probeFile };
}

/**
 * Logical signatures whose expression holds when nothing matched (0=0, 0<1, (0|1)=0 ...): ClamAV
 * evaluates every logical signature on every layer, so they fire on every non-empty file (twice
 * with --allmatch: once per pass). They get a group of their own.
 */
function famZeroTrue(g: GroupBuilder, r: Prng): void {
  const exprs = ['0=0', '0<1', '(0|1)=0', '(0&1)<1', '0=0&1=0', '(0|1)<2', '0<1|1', '1=0&0<3'];
  const ldbs: LdbSig[] = [];
  for (const expr of exprs) {
    const k = maxLogicalIndex(expr) + 1;
    const subs: SubSig[] = Array.from({ length: k }, () => {
      const toks: Tok[] = [lit(r, 'bin', r.int(4, 6))];
      return { text: renderTokens(toks), toks };
    });
    const l: LdbSig = { name: g.name('ZeroTrue'), tdb: 'Engine:81-255,Target:0', expr, subs };
    g.addLdb(l, 'zerotrue');
    ldbs.push(l);
  }
  const toks: Tok[] = [lit(r, 'bin', 6)];
  const body: BodySig = { name: g.name('ZeroTrue.Body'), target: 0, offset: { k: 'any' }, toks };
  g.addBody(body, 'zerotrue');
  const all: Planted = { ldbs, body: [body] };
  g.check('zerotrue-plain', plainFile(r, 'binary'), 'binary', all, new Map([[ldbs[0]?.name ?? '', true]]), ['no subsignature present']);
  g.check('zerotrue-text', plainFile(r, 'ascii', 40, 400), 'ascii', all, new Map(), ['plain text, no subsignature present']);
  g.check('zerotrue-body', assemble(r, 'binary', 500, [{ piece: mustInstantiate(r, toks, 'bin') }]), 'binary', all, new Map([[body.name, true]]), ['a body match too']);
  for (const l of ldbs.slice(0, 4)) {
    const pieces = l.subs.map((x) => ({ piece: mustInstantiate(r, x.toks ?? [], 'bin') }));
    g.check('zerotrue-subsigs', assemble(r, 'binary', 600, pieces), 'binary', all, new Map(), [`every subsignature of ${l.name} present once`]);
  }
  g.file({ bytes: new Uint8Array(0), kind: 'empty', hits: [], misses: ldbs.map((l) => reported(l.name)), sigs: ldbs.map((l) => l.name), notes: ['an empty file is not scanned'] }, 'zerotrue-empty');
}
