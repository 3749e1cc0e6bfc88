/**
 * YARA string matching: one string definition from the rule AST in, a `StringMatcher` out.
 *
 * In: a `StringDef` (text with modifiers, hex token tree, or regex). Out: the atoms the string
 * contributes to the shared atom index (each ≤ 4 bytes, with its fixed distance from the match
 * start), a `verify` that turns one atom hit into the match it implies, and `findAll`, a reference
 * scan over those same atoms that reports what `yara -s` reports for the string: sorted by offset,
 * at most one match per offset, at most YARA_MAX_STRING_MATCHES.
 *
 * Why this shape: like YARA, every modifier is expanded at compile time into plain variants
 * (ascii / wide copies, one copy per xor key, the three base64 shifts with their undetermined edge
 * characters trimmed), so that scanning is only "atom hit → check one variant at a fixed start".
 * Text variants are compared byte by byte (with ASCII case folding for `nocase`). Hex strings are
 * matched by a small position-set simulation, because YARA reports the *shortest* match of a hex
 * string from a given start (jumps and alternatives alike), which a leftmost-first regex engine
 * would not give. Regexes are parsed and compiled by the project's regex engine (for `wide` the
 * AST is rewritten so that every consumed byte is followed by a zero byte, and `\b` / `\B` test
 * two-byte characters as YARA's do) and verified here: YARA verifies a regex forward from its atom,
 * leftmost-first, so a regex with a greedy quantifier, or with a literal of two or more bytes
 * outside its alternations (YARA's atom then lies there), gets the leftmost-first match `matchAt`
 * gives; any other regex, whose atom YARA draws from inside an alternative, gets the shortest
 * match (a lock-step NFA run over its program). Hex and regex strings whose start is not at a
 * fixed distance from any literal get an empty atom: verify at every position.
 *
 * Known gaps (test/diff/yara-engine.test.ts measures them): when alternatives of different lengths
 * allow several match lengths from one start, YARA's choice depends on where its own atom splits
 * the pattern (forward and backward halves are verified separately) and on its fiber order; and a
 * repeated group that can match the empty string (`(x{0,2}|.y?){2,}`) ends differently, because
 * YARA kills a fiber that returns to a split without consuming input. The lengths reported then
 * differ from YARA's for some such patterns (the offsets agree).
 */

import { error, type Diagnostic } from '../../core/diagnostics.js';
import { YARA_LIMITS } from '../../core/limits.js';
import type { HexToken, StringDef } from '../../signatures/yara/ast.js';
import {
  compileNode,
  extractAtom,
  extractAtomVariants,
  extractPrefix,
  OP_ASSERT,
  OP_JMP,
  OP_MATCH,
  OP_SET,
  OP_SPLIT,
  type Program,
} from '../regex/compile.js';
import { parseRegex, type RegexNode } from '../regex/parse.js';
import { assertHolds, CompiledRegex } from '../regex/vm.js';

/** Matches kept per string (YARA's YR_MAX_STRING_MATCHES); later ones are dropped. */
export const YARA_MAX_STRING_MATCHES = YARA_LIMITS.maxStringMatches;
/** Longest regex or hex-string match: verification looks at most this far from the start (YARA's RE_SCAN_LIMIT). */
export const YARA_SCAN_LIMIT = YARA_LIMITS.scanLimit;
/**
 * Jumps longer than this (or unbounded) split a hex string into separately matched, chained
 * pieces in YARA (YR_STRING_CHAINING_THRESHOLD); such strings are not bound by YARA_SCAN_LIMIT.
 */
export const YARA_CHAINING_THRESHOLD = YARA_LIMITS.chainingThreshold;
/** Most case variants generated for one nocase atom. */
const MAX_ATOM_VARIANTS = 16;

export interface StringMatch {
  offset: number;
  length: number;
  /**
   * Which form matched (ascii before wide, then xor keys / base64 shifts in order). When forms
   * match at the same offset YARA keeps only the first form that is accepted there (e.g. `"a"
   * ascii wide` on `a\0` reports `a`; with `fullword` rejecting the ascii form, `a\0`), so a
   * consumer merging hits keeps, per offset, the match with the lowest `variant`.
   */
  variant: number;
  /**
   * The matched bytes (at most YARA_LIMITS.maxMatchData), kept when the file is scanned in blocks
   * and its bytes are not all at hand afterwards.
   */
  data?: Uint8Array;
}

export interface StringAtom {
  /** 0–4 bytes; empty means "verify at every position". */
  bytes: number[];
  /** Distance from the match start to the atom's first byte (the least one, with `maxOffset`). */
  offset: number;
  /** When the distance varies (a regex with a variable-width prefix): the greatest one. */
  maxOffset?: number;
}

export interface StringMatcher {
  /** `$name` as written. */
  id: string;
  /** `private`: matches count for the condition but are not reported. */
  isPrivate: boolean;
  atoms: StringAtom[];
  verify(data: Uint8Array, atomPos: number, atomIndex: number): StringMatch[];
  findAll(data: Uint8Array): StringMatch[];
}

export interface CompileStringResult {
  matcher?: StringMatcher;
  diagnostics: Diagnostic[];
}

// ---------------------------------------------------------------------------------------------
// Helpers

function isAlnum(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a));
}

function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b + 32 : b;
}

function isLetter(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}

/**
 * `fullword`: no alphanumeric before or after. For wide matches a "character" is an alphanumeric
 * byte followed by a zero byte, so the neighbours checked are (pos-2, pos-1) and (end, end+1).
 */
function fullwordOk(data: Uint8Array, start: number, end: number, wide: boolean): boolean {
  if (wide) {
    if (start >= 2 && isAlnum(data[start - 2]) && data[start - 1] === 0) return false;
    if (end + 1 < data.length && isAlnum(data[end]) && data[end + 1] === 0) return false;
    return true;
  }
  if (start >= 1 && isAlnum(data[start - 1])) return false;
  if (end < data.length && isAlnum(data[end])) return false;
  return true;
}

/** YARA's atom-quality heuristic, for picking the window of a literal. */
export function atomQuality(bytes: readonly number[], nocase = false): number {
  let q = 0;
  const seen = new Set<number>();
  for (const b of bytes) {
    if (b === 0x00 || b === 0x20 || b === 0xcc || b === 0xff) q += 12;
    else if (isLetter(b)) q += 18;
    else q += 20;
    seen.add(nocase ? lower(b) : b);
  }
  q += 2 * seen.size;
  const first = bytes[0];
  if (bytes.length > 0 && seen.size === 1 && first !== undefined && [0x00, 0x20, 0x90, 0xcc, 0xff].includes(first)) q -= 10 * bytes.length;
  return q;
}

/** Best window of ≤ 4 bytes in a literal: returns its start. */
function bestWindow(bytes: readonly number[], nocase: boolean): { start: number; length: number } {
  const len = Math.min(4, bytes.length);
  let best = 0;
  let bestQ = -Infinity;
  for (let i = 0; i + len <= bytes.length; i++) {
    const q = atomQuality(bytes.slice(i, i + len), nocase);
    if (q > bestQ) {
      bestQ = q;
      best = i;
    }
  }
  return { start: best, length: len };
}

/** All case spellings of an atom (letters toggled), capped at MAX_ATOM_VARIANTS by leaving further letters as written. */
function caseVariants(atom: readonly number[]): number[][] {
  let out: number[][] = [[]];
  for (const b of atom) {
    const next: number[][] = [];
    const alts = isLetter(b) && out.length * 2 <= MAX_ATOM_VARIANTS ? [lower(b), lower(b) - 32] : [b];
    for (const prefix of out) for (const a of alts) next.push([...prefix, a]);
    out = next;
  }
  return out;
}

function widen(bytes: readonly number[]): number[] {
  const out: number[] = [];
  for (const b of bytes) out.push(b, 0);
  return out;
}

const STD_B64 = new TextEncoder().encode('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');

/**
 * The three base64 forms of `text` (the text preceded by 0, 1 or 2 unknown bytes), each cut to the
 * characters that depend only on the text's bits.
 */
export function base64Forms(text: readonly number[], alphabet: Uint8Array = STD_B64): number[][] {
  const out: number[][] = [];
  for (let shift = 0; shift < 3; shift++) {
    const bits = 8 * (shift + text.length);
    const first = Math.ceil((8 * shift) / 6);
    const last = Math.floor(bits / 6); // exclusive
    const buf = [...new Array<number>(shift).fill(0), ...text];
    const chars: number[] = [];
    for (let k = first; k < last; k++) {
      let v = 0;
      for (let j = 0; j < 6; j++) {
        const bit = 6 * k + j;
        const byte = buf[bit >> 3] ?? 0;
        v = (v << 1) | ((byte >> (7 - (bit & 7))) & 1);
      }
      chars.push(alphabet[v] ?? 0);
    }
    if (chars.length > 0) out.push(chars);
  }
  return out;
}

/** Sorted by offset, one match per offset (the first form accepted there), capped. */
export function normalizeMatches(found: StringMatch[]): StringMatch[] {
  found.sort((a, b) => a.offset - b.offset || a.variant - b.variant);
  const out: StringMatch[] = [];
  for (const m of found) {
    const last = out[out.length - 1];
    if (last && last.offset === m.offset) continue;
    out.push(m);
    if (out.length >= YARA_MAX_STRING_MATCHES) break;
  }
  return out;
}

/** Reference scan: every occurrence of every atom, verified. */
function scanWithAtoms(m: Pick<StringMatcher, 'atoms' | 'verify'>, data: Uint8Array): StringMatch[] {
  const found: StringMatch[] = [];
  m.atoms.forEach((atom, ai) => {
    const a = atom.bytes;
    const n = a.length;
    for (let p = 0; p + n <= data.length; p++) {
      let ok = true;
      for (let j = 0; j < n; j++) {
        if (data[p + j] !== a[j]) {
          ok = false;
          break;
        }
      }
      if (ok) for (const r of m.verify(data, p, ai)) found.push(r);
    }
  });
  return normalizeMatches(found);
}

// ---------------------------------------------------------------------------------------------
// Text strings

interface TextVariant {
  bytes: number[];
  nocase: boolean;
  wide: boolean;
}

function textVariants(def: Extract<StringDef, { kind: 'text' }>, diags: Diagnostic[]): { variants: TextVariant[]; fullword: boolean } {
  const has = (k: string) => def.modifiers.some((m) => m.kind === k);
  const value = Array.from(def.value);
  const nocase = has('nocase');
  const wide = has('wide');
  const ascii = has('ascii') || !wide;
  const fullword = has('fullword');
  const xorMod = def.modifiers.find((m) => m.kind === 'xor');
  const b64 = def.modifiers.filter((m) => m.kind === 'base64' || m.kind === 'base64wide');
  if (xorMod && nocase) diags.push(error('yara.string.invalid-modifier', `${def.id.name}: xor cannot be combined with nocase`));
  if (b64.length > 0 && (nocase || xorMod || fullword)) {
    diags.push(error('yara.string.invalid-modifier', `${def.id.name}: base64 cannot be combined with nocase, xor or fullword`));
  }
  const variants: TextVariant[] = [];
  if (b64.length > 0) {
    // `wide` and `ascii` apply to the text first, then base64 encodes each of those forms
    // (writingrules.rst: "wide and ascii are applied to the string first").
    const sources = [...(ascii ? [value] : []), ...(wide ? [widen(value)] : [])];
    for (const src of sources) {
      for (const m of b64) {
        for (const form of base64Forms(src, m.alphabet ?? STD_B64)) {
          variants.push({ bytes: m.kind === 'base64wide' ? widen(form) : form, nocase: false, wide: m.kind === 'base64wide' });
        }
      }
    }
    return { variants, fullword: false };
  }
  const forms: TextVariant[] = [];
  if (ascii) forms.push({ bytes: value, nocase, wide: false });
  if (wide) forms.push({ bytes: widen(value), nocase, wide: true });
  if (xorMod) {
    const { min, max } = xorMod.xorRange ?? { min: 0, max: 255 };
    for (const f of forms) for (let k = min; k <= max; k++) variants.push({ bytes: f.bytes.map((b) => b ^ k), nocase: false, wide: f.wide });
  } else {
    variants.push(...forms);
  }
  return { variants, fullword };
}

function compileText(def: Extract<StringDef, { kind: 'text' }>, diags: Diagnostic[], isPrivate: boolean): StringMatcher {
  const { variants, fullword } = textVariants(def, diags);
  const atoms: StringAtom[] = [];
  const atomVariant: number[] = [];
  variants.forEach((v, vi) => {
    const w = bestWindow(v.bytes, v.nocase);
    const atom = v.bytes.slice(w.start, w.start + w.length);
    for (const spelled of v.nocase ? caseVariants(atom) : [atom]) {
      atoms.push({ bytes: spelled, offset: w.start });
      atomVariant.push(vi);
    }
  });
  const verify = (data: Uint8Array, atomPos: number, atomIndex: number): StringMatch[] => {
    const atom = atoms[atomIndex];
    const v = variants[atomVariant[atomIndex] ?? -1];
    if (!atom || !v) return [];
    const start = atomPos - atom.offset;
    const n = v.bytes.length;
    if (start < 0 || start + n > data.length) return [];
    for (let j = 0; j < n; j++) {
      const d = data[start + j] as number;
      const e = v.bytes[j] as number;
      if (d !== e && !(v.nocase && lower(d) === lower(e) && isLetter(e))) return [];
    }
    if (fullword && !fullwordOk(data, start, start + n, v.wide)) return [];
    return [{ offset: start, length: n, variant: atomVariant[atomIndex] ?? 0 }];
  };
  const m = { id: def.id.name, isPrivate, atoms, verify, findAll: (data: Uint8Array) => scanWithAtoms(m, data) };
  return m;
}

// ---------------------------------------------------------------------------------------------
// Hex strings

function tokenMatches(t: Extract<HexToken, { kind: 'byte' }>, b: number): boolean {
  return ((b & t.mask) === (t.value & t.mask)) !== t.negated;
}

/** Advances a set of positions through a token sequence; positions stay below `limit`. */
function stepHex(tokens: readonly HexToken[], starts: Set<number>, data: Uint8Array, limit: number): Set<number> {
  let cur = starts;
  for (const t of tokens) {
    if (cur.size === 0) return cur;
    const next = new Set<number>();
    if (t.kind === 'byte') {
      for (const p of cur) if (p < limit && tokenMatches(t, data[p] as number)) next.add(p + 1);
    } else if (t.kind === 'jump') {
      for (const p of cur) {
        const hi = t.max === null ? limit : Math.min(limit, p + t.max);
        for (let q = p + t.min; q <= hi; q++) next.add(q);
      }
    } else {
      for (const alt of t.alternatives) for (const q of stepHex(alt, cur, data, limit)) next.add(q);
    }
    cur = next;
  }
  return cur;
}

function hexHasAlternatives(tokens: readonly HexToken[]): boolean {
  return tokens.some((t) => t.kind === 'alt');
}

/** Longest run of fixed bytes in the top-level token sequence. */
function hexTopLiteralRun(tokens: readonly HexToken[]): number {
  let best = 0;
  let run = 0;
  for (const t of tokens) {
    run = t.kind === 'byte' && t.mask === 0xff && !t.negated ? run + 1 : 0;
    if (run > best) best = run;
  }
  return best;
}

/**
 * End of the first match of `tokens[i…]` from `pos`, then the continuation `k`, in priority order:
 * alternatives in the order written, jumps from their shortest length up; −1 when none. `failed`
 * remembers (sequence, index, position) triples that led nowhere with the same continuation, so
 * the search stays polynomial.
 */
function hexFirstMatch(
  tokens: readonly HexToken[],
  i: number,
  pos: number,
  data: Uint8Array,
  limit: number,
  k: (pos: number) => number,
  failed: Map<unknown, Set<number>>,
): number {
  for (;;) {
    const t = tokens[i];
    if (!t) return k(pos);
    if (t.kind === 'byte') {
      if (pos >= limit || !tokenMatches(t, data[pos] as number)) return -1;
      pos++;
      i++;
      continue;
    }
    if (t.kind === 'jump') {
      const hi = t.max === null ? limit : Math.min(limit, pos + t.max);
      for (let q = pos + t.min; q <= hi; q++) {
        const r = hexFirstMatch(tokens, i + 1, q, data, limit, k, failed);
        if (r >= 0) return r;
      }
      return -1;
    }
    const next = i + 1;
    const rest = (p: number): number => {
      let seen = failed.get(tokens[next] ?? k);
      if (seen?.has(p)) return -1;
      const r = hexFirstMatch(tokens, next, p, data, limit, k, failed);
      if (r < 0) {
        if (!seen) failed.set(tokens[next] ?? k, (seen = new Set()));
        seen.add(p);
      }
      return r;
    };
    for (const alt of t.alternatives) {
      const r = hexFirstMatch(alt, 0, pos, data, limit, rest, failed);
      if (r >= 0) return r;
    }
    return -1;
  }
}

/** Fixed width of a token sequence, or undefined. */
function hexWidth(tokens: readonly HexToken[]): number | undefined {
  let w = 0;
  for (const t of tokens) {
    if (t.kind === 'byte') w += 1;
    else if (t.kind === 'jump') {
      if (t.max !== t.min) return undefined;
      w += t.min;
    } else {
      let aw: number | undefined;
      for (const a of t.alternatives) {
        const x = hexWidth(a);
        if (x === undefined || (aw !== undefined && aw !== x)) return undefined;
        aw = x;
      }
      w += aw ?? 0;
    }
  }
  return w;
}

/** Best atom among the literal byte runs at fixed offsets from the start. */
function hexAtom(tokens: readonly HexToken[]): StringAtom {
  let best: StringAtom = { bytes: [], offset: 0 };
  let bestQ = -Infinity;
  let run: number[] = [];
  let runStart = 0;
  let offset = 0;
  const close = () => {
    for (let i = 0; i < run.length; i++) {
      const win = run.slice(i, i + 4);
      const q = atomQuality(win);
      if (q > bestQ) {
        bestQ = q;
        best = { bytes: win, offset: runStart + i };
      }
    }
    run = [];
  };
  for (const t of tokens) {
    if (t.kind === 'byte' && t.mask === 0xff && !t.negated) {
      if (run.length === 0) runStart = offset;
      run.push(t.value);
      offset += 1;
      continue;
    }
    close();
    const w = hexWidth([t]);
    if (w === undefined) break;
    offset += w;
  }
  close();
  return best;
}

/** True when some jump is unbounded or longer than the chaining threshold. */
function isChained(tokens: readonly HexToken[]): boolean {
  return tokens.some((t) =>
    t.kind === 'jump' ? t.max === null || t.max > YARA_CHAINING_THRESHOLD : t.kind === 'alt' && t.alternatives.some(isChained),
  );
}

function compileHex(def: Extract<StringDef, { kind: 'hex' }>, diags: Diagnostic[], isPrivate: boolean): StringMatcher {
  for (const m of def.modifiers) {
    if (m.kind !== 'private') diags.push(error('yara.string.invalid-modifier', `${def.id.name}: hex strings accept only private, not ${m.kind}`));
  }
  const atoms = [hexAtom(def.tokens)];
  const chained = isChained(def.tokens);
  // With alternatives and a literal run of two or more bytes outside them, YARA's atom lies outside
  // the alternatives and it verifies forward from there: the first alternative that leads to a
  // match wins (jumps as short as possible), as a leftmost-first regex engine does. Otherwise the
  // shortest match.
  const firstAlternative = hexHasAlternatives(def.tokens) && hexTopLiteralRun(def.tokens) >= 2;
  const verify = (data: Uint8Array, atomPos: number, atomIndex: number): StringMatch[] => {
    const atom = atoms[atomIndex];
    if (!atom) return [];
    const start = atomPos - atom.offset;
    if (start < 0) return [];
    const limit = chained ? data.length : Math.min(data.length, start + YARA_SCAN_LIMIT);
    if (firstAlternative) {
      const end = hexFirstMatch(def.tokens, 0, start, data, limit, (p) => p, new Map());
      return end < 0 ? [] : [{ offset: start, length: end - start, variant: 0 }];
    }
    const ends = stepHex(def.tokens, new Set([start]), data, limit);
    let min = Infinity;
    for (const e of ends) if (e < min) min = e;
    return min === Infinity ? [] : [{ offset: start, length: min - start, variant: 0 }];
  };
  const m = { id: def.id.name, isPrivate, atoms, verify, findAll: (data: Uint8Array) => scanWithAtoms(m, data) };
  return m;
}

// ---------------------------------------------------------------------------------------------
// Regexes

const ZERO_SET = (() => {
  const s = new Uint8Array(256);
  s[0] = 1;
  return s;
})();

/** Every byte-consuming node followed by a zero byte: the `wide` form of a regex. */
function wideNode(n: RegexNode): RegexNode {
  switch (n.kind) {
    case 'set':
      return { kind: 'cat', items: [n, { kind: 'set', bytes: ZERO_SET }] };
    case 'cat':
      return { kind: 'cat', items: n.items.map(wideNode) };
    case 'alt':
      return { kind: 'alt', items: n.items.map(wideNode) };
    case 'rep':
      return { ...n, sub: wideNode(n.sub) };
    case 'assert':
      // `\b` / `\B` look at two-byte characters in a wide string, as in YARA.
      return n.what === 'word' ? { kind: 'assert', what: 'wideword' } : n.what === 'notword' ? { kind: 'assert', what: 'widenotword' } : n;
    default:
      return n;
  }
}

/** True when the regex has a quantifier that is not lazy (YARA then reports the longest match). */
function hasGreedy(n: RegexNode): boolean {
  switch (n.kind) {
    case 'cat':
    case 'alt':
      return n.items.some(hasGreedy);
    case 'rep':
      return n.greedy || hasGreedy(n.sub);
    default:
      return false;
  }
}

/**
 * True when the pattern text has a quantifier outside classes and escapes (`*`, `+`, `?`, `{n}`,
 * `{n,m}`): the parser folds some of them (`x{1}`) away, but YARA still counts them as greedy.
 */
function hasQuantifierText(pattern: string): boolean {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      if (pattern[i + 1] === '^') i++;
      if (pattern[i + 1] === ']') i++;
    } else if (c === '*' || c === '+' || c === '?') return true;
    else if (c === '{' && /^\{\s*\d*\s*(,\s*\d*\s*)?\}/.test(pattern.slice(i))) return true;
  }
  return false;
}

/**
 * Length of the longest run of literal positions (one byte, or one letter in either case) in the
 * top-level sequence of a regex, wherever it lies: the atom YARA would rather take than atoms drawn
 * from inside alternatives, once it has two or more bytes.
 */
function topLiteralRun(ast: RegexNode): number {
  const items: RegexNode[] = [];
  const flat = (n: RegexNode) => {
    if (n.kind === 'cat') n.items.forEach(flat);
    else if (n.kind === 'rep' && n.min === n.max && n.min <= 8) for (let k = 0; k < n.min; k++) flat(n.sub);
    else items.push(n);
  };
  flat(ast);
  let best = 0;
  let run = 0;
  for (const n of items) {
    if (n.kind === 'assert') continue;
    let literal = false;
    if (n.kind === 'set') {
      const members: number[] = [];
      for (let b = 0; b < 256 && members.length <= 2; b++) if (n.bytes[b]) members.push(b);
      literal = members.length === 1 || (members.length === 2 && members[1] === (members[0] as number) + 32 && isLetter(members[0] as number));
    }
    run = literal ? run + 1 : 0;
    if (run > best) best = run;
  }
  return best;
}

/** True when every match is one fixed byte string (YARA then handles the regex as a text string). */
function isLiteral(n: RegexNode): boolean {
  if (n.kind === 'set') {
    let members = 0;
    for (let i = 0; i < 256; i++) members += n.bytes[i] ?? 0;
    return members === 1;
  }
  return n.kind === 'cat' && n.items.every(isLiteral);
}

/**
 * Length of the longest (or, with `longest` false, the shortest) match of `p` starting at
 * `start`, at most YARA_SCAN_LIMIT bytes; −1 when none. A lock-step NFA simulation without
 * priorities: YARA's regex verifier keeps running its fibers after a match when the regex is
 * greedy and stops at the first match otherwise, so neither result is the leftmost-first match.
 */
function matchExtent(p: Program, data: Uint8Array, start: number, longest: boolean): number {
  const limit = Math.min(data.length, start + YARA_SCAN_LIMIT);
  const mark = new Int32Array(p.length).fill(-1);
  let cur: number[] = [];
  let gen = 0;
  const stack: number[] = [];
  const closure = (pc0: number, pos: number, out: number[]) => {
    stack.push(pc0);
    while (stack.length > 0) {
      const pc = stack.pop() as number;
      if (mark[pc] === gen) continue;
      mark[pc] = gen;
      const op = p.op[pc];
      if (op === OP_SPLIT) {
        stack.push(p.b[pc] as number, p.a[pc] as number);
      } else if (op === OP_JMP) {
        stack.push(p.a[pc] as number);
      } else if (op === OP_ASSERT) {
        if (assertHolds(p.a[pc] as number, data, pos)) stack.push(pc + 1);
      } else if (op === OP_SET || op === OP_MATCH) {
        out.push(pc);
      }
    }
  };
  closure(0, start, cur);
  let best = -1;
  for (let pos = start; ; pos++) {
    let hasSet = false;
    for (const pc of cur) {
      if (p.op[pc] === OP_MATCH) {
        best = pos - start;
        if (!longest) return best;
      } else hasSet = true;
    }
    if (!hasSet || pos >= limit) return best;
    const byte = data[pos] as number;
    gen++;
    const next: number[] = [];
    for (const pc of cur) {
      if (p.op[pc] === OP_SET && p.sets[(p.a[pc] as number) * 256 + byte] === 1) closure(pc + 1, pos + 1, next);
    }
    cur = next;
  }
}

function compileRegexString(def: Extract<StringDef, { kind: 'regex' }>, diags: Diagnostic[], isPrivate: boolean): StringMatcher | undefined {
  const has = (k: string) => def.modifiers.some((m) => m.kind === k);
  for (const m of def.modifiers) {
    if (m.kind === 'xor' || m.kind === 'base64' || m.kind === 'base64wide') {
      diags.push(error('yara.string.invalid-modifier', `${def.id.name}: regular expressions do not accept ${m.kind}`));
    }
  }
  const parsed = parseRegex(def.regex.pattern, { nocase: def.regex.caseInsensitive || has('nocase'), dotAll: def.regex.dotAll });
  diags.push(...parsed.diagnostics);
  if (!parsed.ast) return undefined;
  const wide = has('wide');
  const ascii = has('ascii') || !wide;
  const fullword = has('fullword');
  const greedy = hasGreedy(parsed.ast) || (!parsed.lazy && hasQuantifierText(def.regex.pattern));
  // YARA verifies a regex forward from its atom. An atom of two or more bytes outside every
  // alternation (YARA prefers it to atoms drawn from inside the alternatives) means one
  // leftmost-first run over the whole rest of the regex; otherwise the atom lies in one
  // alternative, whose verification follows that alternative, which for these strings is the
  // shortest match.
  const leftmostFirst = greedy || topLiteralRun(parsed.ast) >= 2;
  const literal = isLiteral(parsed.ast);
  const forms: { regex: CompiledRegex; wide: boolean; atom: ReturnType<typeof extractAtomVariants> }[] = [];
  for (const w of [false, true]) {
    if (w ? !wide : !ascii) continue;
    const ast = w ? wideNode(parsed.ast) : parsed.ast;
    const fwd = compileNode(ast, false);
    const rev = fwd && compileNode(ast, true);
    if (!fwd || !rev) {
      diags.push(error('yara.regex.too-large', `${def.id.name}: regular expression too large`));
      return undefined;
    }
    forms.push({ regex: new CompiledRegex(def.regex.pattern, fwd, rev, extractPrefix(ast), extractAtom(ast)), wide: w, atom: extractAtomVariants(ast) });
  }
  const atoms: StringAtom[] = [];
  const atomForm: number[] = [];
  forms.forEach((f, fi) => {
    // Every spelling of the form's atom (case variants under `i`/`nocase`), or the empty atom.
    for (const v of f.atom ? f.atom.variants : [[]]) {
      atoms.push(f.atom ? { bytes: v, offset: f.atom.offset, ...(f.atom.maxOffset > f.atom.offset ? { maxOffset: f.atom.maxOffset } : {}) } : { bytes: v, offset: 0 });
      atomForm.push(fi);
    }
  });
  const verify = (data: Uint8Array, atomPos: number, atomIndex: number): StringMatch[] => {
    const atom = atoms[atomIndex];
    if (!atom || !forms[atomForm[atomIndex] ?? -1]) return [];
    if (atom.maxOffset === undefined) return verifyAt(data, atomPos - atom.offset);
    // The atom lies a varying distance after the start: every start in that range is tried.
    const out: StringMatch[] = [];
    for (let start = Math.max(0, atomPos - atom.maxOffset); start <= atomPos - atom.offset; start++) {
      for (const m of verifyAt(data, start)) out.push(m);
    }
    return out;
  };
  const verifyAt = (data: Uint8Array, start: number): StringMatch[] => {
    if (start < 0 || start > data.length) return [];
    // Whichever form's atom hit, the forms are tried in order (ascii, then wide) at this start.
    // For a true regex the first form that matches decides, even when `fullword` then rejects it;
    // a literal regex behaves like a text string, where a rejected form lets the next one try.
    for (let fi = 0; fi < forms.length; fi++) {
      const g = forms[fi] as { regex: CompiledRegex; wide: boolean };
      const len = leftmostFirst ? g.regex.matchAt(data, start) : matchExtent(g.regex.forward, data, start, false);
      // An empty match is not reported by YARA.
      if (len <= 0) continue;
      if (fullword && !fullwordOk(data, start, start + len, g.wide)) {
        if (literal) continue;
        return [];
      }
      return [{ offset: start, length: len, variant: fi }];
    }
    return [];
  };
  const m = { id: def.id.name, isPrivate, atoms, verify, findAll: (data: Uint8Array) => scanWithAtoms(m, data) };
  return m;
}

// ---------------------------------------------------------------------------------------------

/** Compiles one string definition; `matcher` is absent when the definition cannot be compiled. */
export function compileString(def: StringDef): CompileStringResult {
  const diagnostics: Diagnostic[] = [];
  const isPrivate = def.modifiers.some((m) => m.kind === 'private');
  let matcher: StringMatcher | undefined;
  if (def.kind === 'text') matcher = compileText(def, diagnostics, isPrivate);
  else if (def.kind === 'hex') matcher = compileHex(def, diagnostics, isPrivate);
  else matcher = compileRegexString(def, diagnostics, isPrivate);
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  return matcher ? { matcher, diagnostics } : { diagnostics };
}
