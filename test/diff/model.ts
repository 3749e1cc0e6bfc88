/**
 * A small, slow, independent model of ClamAV's matching semantics for the differential suite:
 * body-signature tokens in, `.ndb` hex text and "does it match these bytes?" out; plus the text
 * normaliser and the logical-expression evaluator of `.ldb` signatures.
 *
 * Why it exists: the generator plants signatures in files and declares which ones each file was
 * built to hit or miss. The model re-checks every such declaration on the bytes actually written
 * (a generator bug shows up at generation time, not as a confusing oracle failure), and it
 * computes the expectations that are tedious to reason about by hand (text files are scanned twice,
 * raw and normalised; logical expressions count matches). It is deliberately naive (backtracking
 * over every start position) and only ever runs on the few signatures planted in one file.
 *
 * What it does not model, on purpose: the 128 KiB scan windows and their overlap, the Boyer-Moore
 * versus Aho-Corasick split, and anything about executables or containers. Cases that depend on
 * those are marked by the generator as probes with hand-written expectations (see gen-clamav.ts).
 *
 * Semantics encoded here were learned from ClamAV 1.4 behaviour (checked against clamscan 1.4.6 by
 * oracle.test.ts), among them:
 *  * `{0}`, `{0-0}`, `{n-0}` and `{-0}` are unbounded gaps (a maximum of 0 means "no maximum");
 *    `{n-m}` with n > m loads and never matches;
 *  * the `(B)` class has different left and right byte sets;
 *  * a NEGATED class at the start of a pattern is not zero-width: it consumes the byte before the
 *    rest (the match starts there) and that byte must lie outside the class's middle set (for
 *    `!(B)` all of B_ANY, so `!(B)` rejects `\n` on the left although `(B)` does not accept it);
 *  * logical expressions have no precedence (see evalLogical).
 */

/** One token of a body signature. `gap` covers `??`-runs, `{n}`, `{n-m}`, `{-n}`, `{n-}`, `*`. */
export type Tok =
  | { t: 'lit'; bytes: number[] }
  | { t: 'any' }
  | { t: 'hi'; v: number }
  | { t: 'lo'; v: number }
  | { t: 'gap'; min: number; max: number; hex: string }
  | { t: 'alt1'; set: number[]; neg: boolean }
  | { t: 'altf'; strs: number[][]; neg: boolean }
  | { t: 'altg'; alts: Tok[][] }
  | { t: 'cls'; c: 'B' | 'L' | 'W'; neg: boolean }
  | { t: 'edgeL'; byte: number; min: number; max: number }
  | { t: 'edgeR'; byte: number; min: number; max: number };

/** Offset field of an `.ndb` line (or the offset of an `.ldb` subsignature). */
export type Offset =
  | { k: 'any' }
  | { k: 'abs'; n: number; shift?: number }
  | { k: 'eof'; n: number; shift?: number };

export const UNBOUNDED = Number.POSITIVE_INFINITY;

export function hex2(b: number): string {
  return b.toString(16).padStart(2, '0');
}

export function hexOf(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += hex2(bytes[i] as number);
  return s;
}

export function renderOffset(o: Offset): string {
  switch (o.k) {
    case 'any':
      return '*';
    case 'abs':
      return o.shift === undefined ? `${o.n}` : `${o.n},${o.shift}`;
    case 'eof':
      return o.shift === undefined ? `EOF-${o.n}` : `EOF-${o.n},${o.shift}`;
  }
}

/** Renders tokens as ClamAV hex-signature text. Class tokens render as `(B)`; position decides edge or middle. */
export function renderTokens(toks: readonly Tok[]): string {
  let s = '';
  for (const tk of toks) s += renderTok(tk);
  return s;
}

function renderTok(tk: Tok): string {
  switch (tk.t) {
    case 'lit':
      return hexOf(tk.bytes);
    case 'any':
      return '??';
    case 'hi':
      return `${tk.v.toString(16)}?`;
    case 'lo':
      return `?${tk.v.toString(16)}`;
    case 'gap':
      return tk.hex;
    case 'alt1':
      return `${tk.neg ? '!' : ''}(${tk.set.map(hex2).join('|')})`;
    case 'altf':
      return `${tk.neg ? '!' : ''}(${tk.strs.map(hexOf).join('|')})`;
    case 'altg':
      return `(${tk.alts.map(renderTokens).join('|')})`;
    case 'cls':
      return `${tk.neg ? '!' : ''}(${tk.c})`;
    case 'edgeL':
      return `${hex2(tk.byte)}[${tk.min}-${tk.max}]`;
    case 'edgeR':
      return `[${tk.min}-${tk.max}]${hex2(tk.byte)}`;
  }
}

/**
 * Gap token helpers, with the hex spelling ClamAV users write. A maximum of 0 means "no maximum"
 * to ClamAV, so `{0}`, `{0-0}`, `{n-0}` and `{-0}` are unbounded gaps.
 */
export const gap = {
  exact: (n: number): Tok => ({ t: 'gap', min: n, max: n === 0 ? UNBOUNDED : n, hex: `{${n}}` }),
  range: (a: number, b: number): Tok => ({ t: 'gap', min: a, max: b === 0 ? UNBOUNDED : b, hex: `{${a}-${b}}` }),
  upTo: (b: number): Tok => ({ t: 'gap', min: 0, max: b === 0 ? UNBOUNDED : b, hex: `{-${b}}` }),
  atLeast: (a: number): Tok => ({ t: 'gap', min: a, max: UNBOUNDED, hex: `{${a}-}` }),
  star: (): Tok => ({ t: 'gap', min: 0, max: UNBOUNDED, hex: '*' }),
  /** A gap whose spelling and meaning differ (e.g. `{0}` is unbounded in ClamAV). */
  custom: (hex: string, min: number, max: number): Tok => ({ t: 'gap', min, max, hex }),
};

// ---------------------------------------------------------------------------------------------
// Character classes. The (B) sets are ClamAV's: a left boundary is the file start or one of
// space - . / < @ _ ; a right boundary is the file end or one of \n \r space " ' - / = > _ .
// In the middle of a pattern (B) consumes one byte of either set.

export const B_LEFT = new Set([0x20, 0x2d, 0x2e, 0x2f, 0x3c, 0x40, 0x5f]);
export const B_RIGHT = new Set([0x0a, 0x0d, 0x20, 0x22, 0x27, 0x2d, 0x2f, 0x3d, 0x3e, 0x5f]);
export const B_ANY = new Set([...B_LEFT, ...B_RIGHT]);

export function isAlnum(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}

// ---------------------------------------------------------------------------------------------
// Matching. `matchStarts` returns every start offset at which the token list matches in `data`;
// options model `.ldb` modifiers (i = nocase, w = wide, f = fullword).

export interface MatchOptions {
  nocase?: boolean;
  /** Wide: every literal byte is followed by 00 (wildcards are not widened). */
  wide?: boolean;
  /** Fullword: (W) at both ends; for wide patterns the neighbour must not be an alnum+00 pair. */
  fullword?: boolean;
  offset?: Offset;
}

function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b + 32 : b;
}

function byteEq(a: number, b: number, nocase: boolean): boolean {
  return nocase ? lower(a) === lower(b) : a === b;
}

interface Ctx {
  data: Uint8Array;
  nocase: boolean;
  wide: boolean;
}

/**
 * Tries toks[i..] at position p; calls k(end) for every way to match, stopping when k returns true.
 * Continuation-passing keeps alternatives and variable gaps exhaustive without building lists.
 */
function m(c: Ctx, toks: readonly Tok[], i: number, p: number, k: (end: number) => boolean): boolean {
  const d = c.data;
  if (i === toks.length) return k(p);
  const tk = toks[i] as Tok;
  const last = i === toks.length - 1;
  switch (tk.t) {
    case 'lit': {
      let q = p;
      for (const b of tk.bytes) {
        if (q >= d.length || !byteEq(d[q] as number, b, c.nocase)) return false;
        q++;
        if (c.wide) {
          if (q >= d.length || d[q] !== 0) return false;
          q++;
        }
      }
      return m(c, toks, i + 1, q, k);
    }
    case 'any':
      return p < d.length && m(c, toks, i + 1, p + 1, k);
    case 'hi':
      return p < d.length && (d[p] as number) >> 4 === tk.v && m(c, toks, i + 1, p + 1, k);
    case 'lo':
      return p < d.length && ((d[p] as number) & 15) === tk.v && m(c, toks, i + 1, p + 1, k);
    case 'gap': {
      const max = Math.min(tk.max, d.length - p);
      for (let n = tk.min; n <= max; n++) if (m(c, toks, i + 1, p + n, k)) return true;
      return false;
    }
    case 'alt1': {
      if (p >= d.length) return false;
      const inSet = tk.set.includes(d[p] as number);
      return inSet !== tk.neg && m(c, toks, i + 1, p + 1, k);
    }
    case 'altf': {
      const len = (tk.strs[0] as number[]).length;
      if (p + len > d.length) return false;
      const inSet = tk.strs.some((s) => s.every((b, j) => d[p + j] === b));
      return inSet !== tk.neg && m(c, toks, i + 1, p + len, k);
    }
    case 'altg': {
      for (const alt of tk.alts) {
        if (m(c, alt, 0, p, (e) => m(c, toks, i + 1, e, k))) return true;
      }
      return false;
    }
    case 'cls': {
      if (i === 0 && tk.neg) {
        // A negated class at the start is not zero-width: it consumes the byte before the rest of
        // the pattern (so the match starts there, and there must be such a byte), and that byte
        // must lie outside the class's middle set: for !(B) that is B_ANY, not just B_LEFT.
        if (p >= d.length) return false;
        const b = d[p] as number;
        const inCls = tk.c === 'B' ? B_ANY.has(b) : tk.c === 'W' ? !isAlnum(b) : b === 0x0a;
        return !inCls && m(c, toks, i + 1, p + 1, k);
      }
      if (i === 0) {
        // Zero-width left edge: look at the byte before.
        const ok = p === 0 || leftOk(tk.c, d[p - 1] as number);
        return ok !== tk.neg && m(c, toks, i + 1, p, k);
      }
      if (last) {
        const ok = p === d.length || rightOk(tk.c, d, p);
        return ok !== tk.neg && k(p);
      }
      if (p >= d.length) return false;
      const b = d[p] as number;
      if (tk.c === 'L') {
        const crlf = b === 0x0d && d[p + 1] === 0x0a;
        if (tk.neg) return b !== 0x0a && !crlf && m(c, toks, i + 1, p + 1, k);
        if (b === 0x0a) return m(c, toks, i + 1, p + 1, k);
        return crlf && m(c, toks, i + 1, p + 2, k);
      }
      const inCls = tk.c === 'B' ? B_ANY.has(b) : !isAlnum(b);
      return inCls !== tk.neg && m(c, toks, i + 1, p + 1, k);
    }
    case 'edgeL': {
      if (p >= d.length || d[p] !== tk.byte) return false;
      for (let n = tk.min; n <= tk.max; n++) if (m(c, toks, i + 1, p + 1 + n, k)) return true;
      return false;
    }
    case 'edgeR': {
      for (let n = tk.min; n <= tk.max; n++) {
        const q = p + n;
        if (q < d.length && d[q] === tk.byte && k(q + 1)) return true;
      }
      return false;
    }
  }
}

function leftOk(c: 'B' | 'L' | 'W', prev: number): boolean {
  if (c === 'B') return B_LEFT.has(prev);
  if (c === 'L') return prev === 0x0a;
  return !isAlnum(prev);
}

function rightOk(c: 'B' | 'L' | 'W', d: Uint8Array, p: number): boolean {
  const b = d[p] as number;
  if (c === 'B') return B_RIGHT.has(b);
  if (c === 'L') return b === 0x0a || (b === 0x0d && d[p + 1] === 0x0a);
  return !isAlnum(b);
}

function offsetAllows(o: Offset | undefined, start: number, size: number): boolean {
  if (!o || o.k === 'any') return true;
  const base = o.k === 'abs' ? o.n : size - o.n;
  if (o.k === 'eof' && o.n > size) return false;
  return start >= base && start <= base + (o.shift ?? 0);
}

/** Every start offset where the pattern matches (with its offset constraint). */
export function matchStarts(toks: readonly Tok[], data: Uint8Array, opt: MatchOptions = {}): number[] {
  return matchSpans(toks, data, opt).map(([s]) => s);
}

/** Every start offset where the pattern matches, with the end of the first way it matches there. */
export function matchSpans(toks: readonly Tok[], data: Uint8Array, opt: MatchOptions = {}): [number, number][] {
  const c: Ctx = { data, nocase: opt.nocase ?? false, wide: opt.wide ?? false };
  const out: [number, number][] = [];
  // When the pattern starts with a literal byte, only its occurrences can be starts.
  const first = c.nocase ? undefined : firstLiteral(toks);
  for (let s = 0; s <= data.length; s++) {
    if (first !== undefined) {
      s = data.indexOf(first, s);
      if (s < 0) break;
    }
    if (!offsetAllows(opt.offset, s, data.length)) continue;
    if (opt.fullword && !fullLeftOk(data, s, c.wide)) continue;
    let end = -1;
    const ok = m(c, toks, 0, s, (e) => {
      if (opt.fullword && !fullRightOk(data, e, c.wide)) return false;
      end = e;
      return true;
    });
    if (ok) out.push([s, end]);
  }
  return out;
}

function firstLiteral(toks: readonly Tok[]): number | undefined {
  const tk = toks[0];
  if (tk?.t === 'lit') return tk.bytes[0];
  if (tk?.t === 'edgeL') return tk.byte;
  if (tk?.t === 'cls' && !tk.neg && toks[1]?.t === 'lit') return toks[1].bytes[0];
  return undefined;
}

/** `::f` left edge; for wide patterns ClamAV looks at the 2-byte unit before the match. */
function fullLeftOk(d: Uint8Array, s: number, wide: boolean): boolean {
  if (s === 0) return true;
  if (!wide) return !isAlnum(d[s - 1] as number);
  if (s === 1) return true;
  return !(isAlnum(d[s - 2] as number) && d[s - 1] === 0);
}

/** `::f` right edge; for wide patterns the 2-byte unit after, or one byte when only one is left. */
function fullRightOk(d: Uint8Array, e: number, wide: boolean): boolean {
  if (e >= d.length) return true;
  if (wide && e + 1 < d.length) return !(isAlnum(d[e] as number) && d[e + 1] === 0);
  return !isAlnum(d[e] as number);
}

export function matches(toks: readonly Tok[], data: Uint8Array, opt: MatchOptions = {}): boolean {
  return matchStarts(toks, data, opt).length > 0;
}

// ---------------------------------------------------------------------------------------------
// Text normalisation, as ClamAV applies it to text files before the second scan pass:
// 00-08, 0e-1f and 80-ff are dropped; 09-0d and space become one space per run; A-Z are
// lower-cased; everything else is copied. UTF-16 text therefore loses its 00 bytes and its BOM.

export function normalizeText(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  let n = 0;
  let space = false;
  for (const b of data) {
    if (b <= 0x08 || (b >= 0x0e && b <= 0x1f) || b >= 0x80) continue;
    if ((b >= 0x09 && b <= 0x0d) || b === 0x20) {
      if (!space) out[n++] = 0x20;
      space = true;
      continue;
    }
    space = false;
    out[n++] = b >= 0x41 && b <= 0x5a ? b + 32 : b;
  }
  return out.slice(0, n);
}

// ---------------------------------------------------------------------------------------------
// Logical expressions of `.ldb` signatures, with ClamAV 1.4's evaluation rules:
//  * no operator precedence; at the top level an expression splits at its FIRST operator outside
//    parentheses (so `0&1|2` is `0&(1|2)`), but a parenthesised block that is the whole
//    expression (optionally followed by a count modifier) splits at its LAST operator one level
//    deep (so `(0&1|2)` is `(0&1)|2`);
//  * a block's count is the sum of the counts of its sub-terms that were true; `,Y` counts the
//    distinct subsignatures among them; a single term `N>X,Y` ignores `,Y`;
//  * `(N)` followed by a modifier is not understood (avoid generating it).

export interface LogicalResult {
  ok: boolean;
  cnt: number;
  ids: Set<number>;
}

const NO: LogicalResult = { ok: false, cnt: 0, ids: new Set() };

export function evalLogical(expr: string, counts: readonly number[]): boolean {
  return ev(expr, counts).ok;
}

/** Highest subsignature index used by an expression (the loader requires subsig count = this + 1). */
export function maxLogicalIndex(expr: string): number {
  let max = -1;
  // Indices are the numbers not directly after a modifier or a comma.
  const re = /(^|[(&|])(\d+)/g;
  for (let mt = re.exec(expr); mt; mt = re.exec(expr)) max = Math.max(max, Number(mt[2]));
  return max;
}

function cmp(op: string, v: number, x: number): boolean {
  return op === '=' ? v === x : op === '<' ? v < x : v > x;
}

function ev(s: string, counts: readonly number[]): LogicalResult {
  // 1. First operator at depth 0.
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if ((ch === '&' || ch === '|') && depth === 0) {
      return combine(ch, ev(s.slice(0, i), counts), ev(s.slice(i + 1), counts));
    }
  }
  // 2. A parenthesised block: last operator at depth 1, optional modifier after the ')'.
  if (s.startsWith('(')) {
    depth = 0;
    let close = -1;
    let lastOp = -1;
    for (let i = 0; i < s.length; i++) {
      const ch = s[i];
      if (ch === '(') depth++;
      else if (ch === ')') {
        depth--;
        if (depth === 0) {
          close = i;
          break;
        }
      } else if ((ch === '&' || ch === '|') && depth === 1) lastOp = i;
    }
    if (close < 0) throw new Error(`unbalanced expression ${s}`);
    if (lastOp < 0) {
      if (close !== s.length - 1) throw new Error(`modifier on a single-term block is not supported: ${s}`);
      return ev(s.slice(1, -1), counts);
    }
    const inner = combine(s[lastOp] as string, ev(s.slice(1, lastOp), counts), ev(s.slice(lastOp + 1, close), counts));
    const rest = s.slice(close + 1);
    if (rest === '') return inner;
    const mm = /^([=<>])(\d+)(?:,(\d+))?$/.exec(rest);
    if (!mm) throw new Error(`bad block modifier ${rest}`);
    const tcnt = inner.ok ? inner.cnt : 0;
    const tids = inner.ok ? inner.ids : new Set<number>();
    if (!cmp(mm[1] as string, tcnt, Number(mm[2]))) return NO;
    if (mm[3] !== undefined && Number(mm[3]) > 0 && tids.size < Number(mm[3])) return NO;
    // ClamAV adds the block's count but not its ids to the enclosing expression.
    return { ok: true, cnt: tcnt, ids: new Set() };
  }
  // 3. A single term: N, or N followed by a modifier (a trailing ,Y is ignored).
  const tm = /^(\d+)(?:([=<>])(\d+)(?:,\d+)?)?$/.exec(s);
  if (!tm) throw new Error(`bad term ${s}`);
  const id = Number(tm[1]);
  const val = counts[id] ?? 0;
  if (tm[2] !== undefined) {
    if (!cmp(tm[2], val, Number(tm[3]))) return NO;
    return { ok: true, cnt: val, ids: new Set([id]) };
  }
  return val > 0 ? { ok: true, cnt: val, ids: new Set([id]) } : NO;
}

function combine(op: string, l: LogicalResult, r: LogicalResult): LogicalResult {
  const ok = op === '&' ? l.ok && r.ok : l.ok || r.ok;
  if (!ok) return NO;
  const ids = new Set<number>();
  let cnt = 0;
  if (l.ok) {
    cnt += l.cnt;
    for (const x of l.ids) ids.add(x);
  }
  if (r.ok) {
    cnt += r.cnt;
    for (const x of r.ids) ids.add(x);
  }
  return { ok, cnt, ids };
}
