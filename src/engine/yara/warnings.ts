/**
 * YARA's compile-time warnings: slow strings (by YARA's own atom choice and quality), `.*`-style
 * regexes, rules with too many atoms, the deprecated `entrypoint`, and the YARA 4.5 condition
 * warnings (`N of M` that can never hold, several strings at one offset, `0 of` instead of `none`).
 *
 * In: one parsed and checked rule file with its compiled string matchers (and, for line numbers,
 * its source). Out: warnings with yara's exact text, each located at the construct yara
 * complains about (render.ts turns that into the line yara prints).
 *
 * Why it re-derives atoms instead of reading the matchers': the slow-string verdict is YARA's
 * verdict about YARA's atoms. vigil's matchers choose their own atoms (one per variant, picked for
 * vigil's index), so this module rebuilds, per string, the regex tree YARA builds (hex grammar,
 * regex grammar, base64 alternation), splits it where YARA chains pieces (jumps over 200 bytes),
 * takes literal pieces through YARA's sliding-window choice and the others through YARA's atom
 * tree (AND/OR of ≤ 4-byte windows, trimmed, best quality per OR, weakest per AND), then applies
 * wide / nocase / xor expansion exactly as YARA does, with its quality heuristic
 * (`yaraAtomQuality`). The quality is YARA's number (255 is the best 4-byte atom); below 205
 * YARA warns. The count of atoms after expansion feeds the per-rule warning (over 12,000).
 *
 * Peers: the default dialect prints what yara 4.2.3 prints. `dialect: '4.5'` adds the warnings
 * only yara 4.3+ has and uses 4.5's wording of the `entrypoint` warning.
 */
import { LineIndex, warning, type Diagnostic, type Location } from '../../core/diagnostics.js';
import { childNodes, type Expr, type HexToken, type Modifier, type Rule, type RuleFile, type Span, type StringDef } from '../../signatures/yara/ast.js';
import { checkYara } from '../../signatures/yara/check.js';
import { childExprs, type CheckedExpr, type CheckedRule } from '../../signatures/yara/ir.js';
import type { ModuleCatalog } from '../../signatures/yara/modules-catalog.js';
import { parseYara } from '../../signatures/yara/parser.js';
import { compileString, type StringMatcher } from './strings.js';

export interface WarningInput {
  file: string;
  ast: RuleFile;
  rules: readonly CheckedRule[];
  /** `matchers[rule][string]`, undefined where a string did not compile. */
  matchers: readonly (readonly (StringMatcher | undefined)[])[];
  /** The parsed source (text or bytes); without it warnings carry line 0. */
  source?: string | Uint8Array;
  /** Which yara's warnings to raise: 4.2.3's (default) or 4.5's. */
  dialect?: '4.2' | '4.5';
}

/** YR_MAX_ATOM_LENGTH. */
const MAX_ATOM = 4;
/** YR_MAX_ATOM_QUALITY: the quality of the best possible atom. */
export const YARA_MAX_ATOM_QUALITY = 255;
/** YR_ATOM_QUALITY_WARNING_THRESHOLD: a string whose atoms score below this "may slow down scanning". */
export const YARA_ATOM_QUALITY_WARNING_THRESHOLD = YARA_MAX_ATOM_QUALITY - 22 * MAX_ATOM + 38;
/** YR_ATOMS_PER_RULE_WARNING_THRESHOLD: more atoms than this in one rule "is slowing down scanning". */
export const YARA_ATOMS_PER_RULE_WARNING_THRESHOLD = 12_000;
/** YR_STRING_CHAINING_THRESHOLD: longer jumps split a hex string into chained pieces. */
const CHAINING_THRESHOLD = 200;
/** RE_MAX_RANGE: the upper bound `{n,}` stands for. */
const RE_MAX_RANGE = 32767;
/** The upper bound of an unbounded hex jump `[n-]`. */
const INT_MAX = 2147483647;

export const WARNING_CODES = {
  slowString: 'yara.warning.slow-string',
  unboundedDot: 'yara.warning.unbounded-dot',
  slowRule: 'yara.warning.slow-rule',
  entrypoint: 'yara.warning.entrypoint-deprecated',
  alwaysFalse: 'yara.warning.always-false',
  multipleAtOffset: 'yara.warning.multiple-strings-at-offset',
  zeroOf: 'yara.warning.zero-of',
} as const;

// ---------------------------------------------------------------------------------------------
// Atoms and their quality

/** A YARA atom: up to four bytes, each with a mask (0xff exact, 0x0f / 0xf0 a nibble, 0 any). */
export interface YaraAtom {
  bytes: number[];
  mask: number[];
}

const COMMON = new Set([0x00, 0x20, 0xcc, 0xff]);
const PENALISED_REPEAT = [0x00, 0x20, 0x90, 0xcc, 0xff];

function isLetter(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}

/**
 * yara's heuristic atom quality (`yr_atoms_heuristic_quality`): per exact byte 20 points (18 for a
 * letter, 12 for 00 20 CC FF), +4 per nibble mask, −10 per `??`; then +2 per distinct exact byte,
 * unless the atom is one common byte repeated, which costs 10 per byte instead. The result is
 * offset so that four distinct non-letter bytes score YARA_MAX_ATOM_QUALITY.
 */
export function yaraAtomQuality(atom: YaraAtom): number {
  let q = 0;
  const seen = new Set<number>();
  for (let i = 0; i < atom.bytes.length; i++) {
    const m = atom.mask[i] ?? 0xff;
    const b = atom.bytes[i] as number;
    if (m === 0x00) q -= 10;
    else if (m === 0x0f || m === 0xf0) q += 4;
    else if (m === 0xff) {
      q += COMMON.has(b) ? 12 : isLetter(b) ? 18 : 20;
      seen.add(b);
    }
  }
  if (seen.size === 1 && PENALISED_REPEAT.some((b) => seen.has(b))) q -= 10 * atom.bytes.length;
  else q += 2 * seen.size;
  return YARA_MAX_ATOM_QUALITY - 22 * MAX_ATOM + q;
}

const exact = (bytes: number[]): YaraAtom => ({ bytes, mask: bytes.map(() => 0xff) });

/**
 * yara's `_yr_atoms_trim`: drop `??` at both ends; if what is left has at least as many `??` as
 * exact bytes, keep only its first byte. Returns the trimmed atom and how many bytes were cut
 * from the front.
 */
function trimAtom(a: YaraAtom): { atom: YaraAtom; shift: number } {
  let left = 0;
  let len = a.bytes.length;
  while (left < len && a.mask[left] === 0) left++;
  while (len > left && a.mask[len - 1] === 0) len--;
  if (len === left) return { atom: { bytes: [], mask: [] }, shift: 0 };
  let ff = 0;
  let zero = 0;
  for (let i = left; i < len; i++) {
    if (a.mask[i] === 0xff) ff++;
    else if (a.mask[i] === 0) zero++;
  }
  if (zero >= ff) len = left + 1;
  return { atom: { bytes: a.bytes.slice(left, len), mask: a.mask.slice(left, len) }, shift: left };
}

// ---------------------------------------------------------------------------------------------
// YARA's regex tree (RE_NODE), built from hex strings, regexes and base64 strings

type ReNode =
  | { t: 'lit'; value: number }
  | { t: 'masked'; value: number; mask: number }
  | { t: 'any' }
  | { t: 'concat'; items: ReNode[] }
  | { t: 'alt'; left: ReNode; right: ReNode }
  | { t: 'star' | 'plus'; child: ReNode; greedy: boolean }
  | { t: 'range'; child: ReNode; start: number; end: number; greedy: boolean }
  | { t: 'rangeAny'; start: number; end: number; greedy: boolean }
  /** Classes, `\w`-style escapes, anchors, empty alternatives: nodes that never join an atom. */
  | { t: 'other' };

function atomPart(n: ReNode): { value: number; mask: number } | undefined {
  if (n.t === 'lit') return { value: n.value, mask: 0xff };
  if (n.t === 'masked') return { value: n.value, mask: n.mask };
  if (n.t === 'any') return { value: 0, mask: 0 };
  return undefined;
}

/** The hex grammar's tree: one token alone is itself, several are a CONCAT; `|` nests to the left. */
function hexTree(tokens: readonly HexToken[]): ReNode {
  if (tokens.length === 1) return hexNode(tokens[0] as HexToken);
  return { t: 'concat', items: tokens.map(hexNode) };
}

function hexNode(t: HexToken): ReNode {
  if (t.kind === 'byte') {
    if (t.negated) return { t: 'other' };
    if (t.mask === 0xff) return { t: 'lit', value: t.value };
    if (t.mask === 0) return { t: 'any' };
    return { t: 'masked', value: t.value & t.mask, mask: t.mask };
  }
  if (t.kind === 'jump') {
    // `[1]` is the same as `??`, a masked literal; every other jump is a non-greedy RANGE_ANY.
    if (t.min === 1 && t.max === 1) return { t: 'masked', value: 0, mask: 0 };
    return { t: 'rangeAny', start: t.min, end: t.max ?? INT_MAX, greedy: false };
  }
  let node = hexTree(t.alternatives[0] ?? []);
  for (const alt of t.alternatives.slice(1)) node = { t: 'alt', left: node, right: hexTree(alt) };
  return node;
}

/**
 * YARA's regex grammar (re_lexer.l, re_grammar.y) reduced to what atoms need: literals, `.`,
 * repetitions and alternation keep their shape; classes, `\w`-style escapes and anchors become
 * `other`. Returns undefined for text YARA would reject (the compiler reports that elsewhere).
 */
function regexTree(pattern: string): ReNode | undefined {
  let pos = 0;
  const n = pattern.length;
  const SPECIAL = '\\[()|$.^+*?';
  const rangeAt = (k: number): { len: number; start: number; end: number } | undefined => {
    const m = /^\{(\d*),(\d*)\}/.exec(pattern.slice(k)) ?? /^\{(\d+)\}/.exec(pattern.slice(k));
    if (!m) return undefined;
    const lo = m[1] === '' ? 0 : Number(m[1]);
    const hi = m[2] === undefined ? lo : m[2] === '' ? RE_MAX_RANGE : Number(m[2]);
    return { len: m[0].length, start: lo, end: hi };
  };
  const fail = (): never => {
    throw new RangeError('regex');
  };
  const escaped = (): number => {
    // After the backslash.
    const c = pattern[pos];
    if (c === undefined) fail();
    pos++;
    if (c === 'x') {
      const hex = pattern.slice(pos, pos + 2);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) fail();
      pos += 2;
      return parseInt(hex, 16);
    }
    const map: Record<string, number> = { n: 10, t: 9, r: 13, f: 12, a: 7 };
    return map[c as string] ?? (c as string).charCodeAt(0);
  };
  const skipClass = (): void => {
    // After `[`: an optional `^`, a leading `]` is a member, then up to the closing `]`.
    if (pattern[pos] === '^') pos++;
    if (pattern[pos] === ']') pos++;
    while (pos < n && pattern[pos] !== ']') {
      if (pattern[pos] === '\\') {
        pos++;
        escaped();
      } else pos++;
    }
    if (pos >= n) fail();
    pos++;
  };
  const single = (): ReNode => {
    const c = pattern[pos] as string;
    if (c === '(') {
      pos++;
      const inner = alternative();
      if (pattern[pos] !== ')') fail();
      pos++;
      return inner;
    }
    if (c === '.') {
      pos++;
      return { t: 'any' };
    }
    if (c === '[') {
      pos++;
      skipClass();
      return { t: 'other' };
    }
    if (c === '\\') {
      pos++;
      const e = pattern[pos];
      if (e !== undefined && 'wWsSdD'.includes(e)) {
        pos++;
        return { t: 'other' };
      }
      if (e !== undefined && /[0-9]/.test(e)) fail();
      return { t: 'lit', value: escaped() };
    }
    if (SPECIAL.includes(c) || (c === '{' && rangeAt(pos))) fail();
    pos++;
    return { t: 'lit', value: c.charCodeAt(0) & 0xff };
  };
  const repeat = (): ReNode => {
    const c = pattern[pos];
    if (c === '^' || c === '$') {
      pos++;
      return { t: 'other' };
    }
    if (c === '\\' && (pattern[pos + 1] === 'b' || pattern[pos + 1] === 'B')) {
      pos += 2;
      return { t: 'other' };
    }
    const s = single();
    const q = pattern[pos];
    let node: ReNode = s;
    if (q === '*' || q === '+') {
      pos++;
      node = { t: q === '*' ? 'star' : 'plus', child: s, greedy: true };
    } else if (q === '?') {
      pos++;
      node = s.t === 'any' ? { t: 'rangeAny', start: 0, end: 1, greedy: true } : { t: 'range', child: s, start: 0, end: 1, greedy: true };
    } else if (q === '{' && rangeAt(pos)) {
      const r = rangeAt(pos) as { len: number; start: number; end: number };
      pos += r.len;
      node = s.t === 'any' ? { t: 'rangeAny', start: r.start, end: r.end, greedy: true } : { t: 'range', child: s, start: r.start, end: r.end, greedy: true };
    } else return s;
    if (pattern[pos] === '?') {
      pos++;
      (node as { greedy: boolean }).greedy = false;
    }
    return node;
  };
  const concatenation = (): ReNode => {
    const items: ReNode[] = [];
    while (pos < n && pattern[pos] !== '|' && pattern[pos] !== ')') items.push(repeat());
    if (items.length === 0) fail();
    return { t: 'concat', items };
  };
  const alternative = (): ReNode => {
    let node = concatenation();
    while (pattern[pos] === '|') {
      pos++;
      if (pos >= n || pattern[pos] === ')') node = { t: 'alt', left: node, right: { t: 'other' } };
      else node = { t: 'alt', left: node, right: concatenation() };
    }
    return node;
  };
  try {
    const root = alternative();
    return pos === n ? root : undefined;
  } catch {
    return undefined;
  }
}

const STD_B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function widen(bytes: readonly number[]): number[] {
  const out: number[] = [];
  for (const b of bytes) out.push(b, 0);
  return out;
}

/**
 * yara's base64 encodings of a string (base64.c): the text after 0, 1 and 2 leading bytes, each
 * encoding cut where it depends on the unknown neighbours (offset 1 is skipped for a one-byte
 * text), optionally widened.
 */
function base64Encodings(text: readonly number[], alphabet: readonly number[], wide: boolean): number[][] {
  const out: number[][] = [];
  for (let i = 0; i <= 2; i++) {
    if (i === 1 && text.length === 1) continue;
    const src = [...new Array<number>(i).fill(0x41), ...text];
    const pad = src.length % 3 ? 3 - (src.length % 3) : 0;
    const enc: number[] = [];
    for (let k = 0; k < src.length; k += 3) {
      const b0 = src[k] as number;
      const b1 = src[k + 1];
      const b2 = src[k + 2];
      enc.push(alphabet[b0 >> 2] as number);
      enc.push(alphabet[((b0 & 3) << 4) | ((b1 ?? 0) >> 4)] as number);
      if (b1 !== undefined) enc.push(alphabet[((b1 & 15) << 2) | ((b2 ?? 0) >> 6)] as number);
      if (b2 !== undefined) enc.push(alphabet[b2 & 63] as number);
    }
    for (let k = 0; k < pad; k++) enc.push(0x3d);
    const leading = i ? i + 1 : 0;
    const trailing = pad ? pad + 1 : 0;
    const cut = enc.slice(leading, enc.length - trailing);
    out.push(wide ? widen(cut) : cut);
  }
  return out;
}

/** The regex `(e1|e2|…)` yara builds for a base64 string, as a tree. */
function base64Tree(def: Extract<StringDef, { kind: 'text' }>): ReNode | undefined {
  const text = Array.from(def.value);
  const has = (k: string) => def.modifiers.some((m) => m.kind === k);
  const alphabetOf = (kind: string): number[] => {
    const m = def.modifiers.find((x) => x.kind === kind);
    return m?.alphabet ? Array.from(m.alphabet) : Array.from(STD_B64, (c) => c.charCodeAt(0));
  };
  const wide = has('wide');
  const ascii = has('ascii');
  const encodings: number[][] = [];
  const add = (input: readonly number[]) => {
    if (has('base64')) encodings.push(...base64Encodings(input, alphabetOf('base64'), false));
    if (has('base64wide')) encodings.push(...base64Encodings(input, alphabetOf('base64wide'), true));
  };
  if (wide) add(widen(text));
  if (ascii || !wide) add(text);
  if (encodings.length === 0 || encodings.some((e) => e.length === 0)) return undefined;
  const seq = (e: number[]): ReNode => ({ t: 'concat', items: e.map((value) => ({ t: 'lit', value })) });
  let node = seq(encodings[0] as number[]);
  for (const e of encodings.slice(1)) node = { t: 'alt', left: node, right: seq(e) };
  return { t: 'concat', items: [node] };
}

// ---------------------------------------------------------------------------------------------
// Atom extraction (atoms.c): tree building, choice, expansion

type AtomTree = { t: 'leaf'; atom: YaraAtom } | { t: 'or' | 'and'; children: AtomTree[] };

/**
 * The atom tree of a regex tree, walked as YARA walks it: literal-like nodes feed a 4-byte sliding
 * window whose best trimmed window becomes a leaf of the current OR node whenever the sequence is
 * broken (by a class, a repetition, the end of an alternative…); an alternation adds AND(OR, OR).
 */
function atomTree(root: ReNode): AtomTree {
  const top: AtomTree = { t: 'or', children: [] };
  type Item = { node?: ReNode; appendTo?: AtomTree & { t: 'or' | 'and' } };
  const stack: Item[] = [{ appendTo: top }, { node: root, appendTo: top }];
  let current: (AtomTree & { t: 'or' | 'and' }) | undefined;
  let recent: { value: number; mask: number }[] = [];
  let best: YaraAtom = { bytes: [], mask: [] };
  let bestQuality = -1;
  const windowAtom = (): YaraAtom => ({ bytes: recent.map((p) => p.value), mask: recent.map((p) => p.mask) });
  while (stack.length > 0) {
    const item = stack.pop() as Item;
    if (item.appendTo) {
      if (recent.length > 0 && current) {
        const { atom } = trimAtom(windowAtom());
        const q = yaraAtomQuality(atom);
        current.children.push({ t: 'leaf', atom: q > bestQuality ? atom : best });
        recent = [];
      }
      current = item.appendTo;
      bestQuality = -1;
    }
    const node = item.node;
    if (!node) continue;
    const part = atomPart(node);
    if (part) {
      if (recent.length < MAX_ATOM) {
        recent.push(part);
        best = windowAtom();
      } else if (bestQuality < YARA_MAX_ATOM_QUALITY) {
        const { atom } = trimAtom(windowAtom());
        const q = yaraAtomQuality(atom);
        if (q > bestQuality) {
          best = atom;
          bestQuality = q;
        }
        recent = [...recent.slice(1), part];
      }
      continue;
    }
    switch (node.t) {
      case 'concat':
        for (let k = node.items.length - 1; k >= 0; k--) stack.push({ node: node.items[k] as ReNode });
        break;
      case 'alt': {
        const left: AtomTree & { t: 'or' } = { t: 'or', children: [] };
        const right: AtomTree & { t: 'or' } = { t: 'or', children: [] };
        current?.children.push({ t: 'and', children: [left, right] });
        stack.push({ appendTo: current as AtomTree & { t: 'or' } });
        stack.push({ node: node.right, appendTo: right });
        stack.push({ node: node.left, appendTo: left });
        break;
      }
      case 'plus':
        stack.push({ appendTo: current as AtomTree & { t: 'or' } });
        stack.push({ node: node.child });
        break;
      case 'range':
        stack.push({ appendTo: current as AtomTree & { t: 'or' } });
        for (let k = 0; k < Math.min(node.start, MAX_ATOM); k++) stack.push({ node: node.child });
        break;
      default:
        stack.push({ appendTo: current as AtomTree & { t: 'or' } });
    }
  }
  return top;
}

/** yara's `_yr_atoms_choose`: an OR keeps its best child, an AND all children (quality = weakest). */
function chooseAtoms(tree: AtomTree): { atoms: YaraAtom[]; quality: number } {
  if (tree.t === 'leaf') {
    const { atom } = trimAtom(tree.atom);
    return atom.bytes.length > 0 ? { atoms: [atom], quality: yaraAtomQuality(atom) } : { atoms: [], quality: 0 };
  }
  if (tree.t === 'or') {
    let best: YaraAtom[] = [];
    let max = 0;
    for (const c of tree.children) {
      const r = chooseAtoms(c);
      if (r.quality > max) {
        max = r.quality;
        best = r.atoms;
      }
      if (max === YARA_MAX_ATOM_QUALITY) break;
    }
    return { atoms: best, quality: max };
  }
  let min = YARA_MAX_ATOM_QUALITY;
  const atoms: YaraAtom[] = [];
  for (const c of tree.children) {
    const r = chooseAtoms(c);
    min = Math.min(min, r.quality);
    atoms.unshift(...r.atoms);
  }
  return { atoms, quality: min };
}

/** Every exact atom a masked atom stands for (yara's `_yr_atoms_expand_wildcards`). */
function expandWildcards(a: YaraAtom): number[][] {
  let out: number[][] = [[]];
  a.bytes.forEach((b, i) => {
    const m = a.mask[i] as number;
    const values = m === 0xff ? [b] : m === 0 ? range(0, 255) : m === 0x0f ? range(0, 15).map((h) => (h << 4) | (b & 0x0f)) : range(0, 15).map((l) => (b & 0xf0) | l);
    const next: number[][] = [];
    for (const p of out) for (const v of values) next.push([...p, v]);
    out = next;
  });
  return out;
}

function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let k = lo; k <= hi; k++) out.push(k);
  return out;
}

/** yara's wide atom: bytes interleaved with zeros, cut to four bytes. */
function wideAtom(bytes: readonly number[]): number[] {
  return widen(bytes).slice(0, Math.min(bytes.length * 2, MAX_ATOM));
}

/** The case variants yara adds for `nocase`: every toggling of the atom's letters except none. */
function caseVariants(bytes: readonly number[]): number[][] {
  let out: number[][] = [[]];
  for (const b of bytes) {
    const alts = isLetter(b) ? [b, b ^ 0x20] : [b];
    const next: number[][] = [];
    for (const p of out) for (const a of alts) next.push([...p, a]);
    out = next;
  }
  return out.slice(1);
}

interface Flags {
  wide: boolean;
  ascii: boolean;
  nocase: boolean;
  xor?: { min: number; max: number };
}

interface AtomStats {
  /** The quality YARA compares with the warning threshold. */
  quality: number;
  /** How many atoms YARA adds to the automaton for this string (or piece). */
  count: number;
}

/** yara's `yr_atoms_extract_from_string`: the best 4-byte window, then variants, then the weakest. */
function literalStats(text: readonly number[], f: Flags): AtomStats {
  let best = text.slice(0, MAX_ATOM);
  let maxQ = yaraAtomQuality(exact(best));
  for (let i = MAX_ATOM; i < text.length && maxQ < YARA_MAX_ATOM_QUALITY; i++) {
    const w = text.slice(i - MAX_ATOM + 1, i + 1);
    const q = yaraAtomQuality(exact(w));
    if (q > maxQ) {
      best = w;
      maxQ = q;
    }
  }
  let list: number[][] = [best];
  if (f.wide) list = f.ascii ? [...list, ...list.map(wideAtom)] : list.map(wideAtom);
  if (f.nocase) list = [...list, ...list.flatMap(caseVariants)];
  if (f.xor) {
    const { min, max } = f.xor;
    list = list.flatMap((a) => range(min, max).map((k) => a.map((b) => b ^ k)));
  }
  let quality = maxQ;
  for (const a of list) quality = Math.min(quality, yaraAtomQuality(exact(a)));
  return { quality, count: list.length };
}

/** yara's `yr_atoms_extract_from_re`: the atom tree's choice; the quality is taken before expansion. */
function regexStats(root: ReNode, f: Flags): AtomStats {
  const { atoms, quality } = chooseAtoms(atomTree(root));
  if (atoms.length === 0) return { quality, count: 1 };
  let count = 0;
  for (const a of atoms) {
    const needBytes = f.nocase;
    if (!needBytes) {
      let n = 1;
      for (const m of a.mask) n *= m === 0xff ? 1 : m === 0 ? 256 : 16;
      count += n * (f.wide && f.ascii ? 2 : 1);
      continue;
    }
    for (const e of expandWildcards(a)) {
      const forms = f.wide ? (f.ascii ? [e, wideAtom(e)] : [wideAtom(e)]) : [e];
      for (const form of forms) count += 1 + caseVariants(form).length;
    }
  }
  return { quality, count };
}

/** yara's `yr_re_ast_extract_literal`: a lone literal or a CONCAT of literals only. */
function literalOf(root: ReNode): number[] | undefined {
  if (root.t === 'lit') return [root.value];
  if (root.t === 'concat' && root.items.every((c) => c.t === 'lit')) return root.items.map((c) => (c as { value: number }).value);
  return undefined;
}

/** yara's `yr_re_ast_split_at_chaining_point`, repeated: the pieces of a chained string. */
function chainPieces(root: ReNode): ReNode[] {
  const pieces: ReNode[] = [];
  let node = root;
  for (;;) {
    if (node.t !== 'concat') break;
    const items = node.items;
    const k = items.findIndex(
      (c, i) => c.t === 'rangeAny' && !c.greedy && i > 0 && i < items.length - 1 && (c.start > CHAINING_THRESHOLD || c.end > CHAINING_THRESHOLD),
    );
    if (k < 0) break;
    pieces.push({ t: 'concat', items: items.slice(0, k) });
    node = { t: 'concat', items: items.slice(k + 1) };
  }
  pieces.push(node);
  return pieces;
}

/** yara's `yr_re_ast_has_unbounded_quantifier_for_dot`: `.*`, `.+` or `.{n,}` at the top level. */
function hasUnboundedDot(n: ReNode): boolean {
  if ((n.t === 'star' || n.t === 'plus') && n.child.t === 'any') return true;
  if (n.t === 'rangeAny' && n.end === RE_MAX_RANGE) return true;
  if (n.t === 'concat') return n.items.some(hasUnboundedDot);
  return false;
}

export interface StringAtomReport {
  /** The lowest atom quality YARA computes for the string (compare with YARA_ATOM_QUALITY_WARNING_THRESHOLD). */
  quality: number;
  /** Atoms the string adds to its rule's count. */
  atoms: number;
  /** The regex has `.*`, `.+` or `.{n,}` (YARA's warning about unbounded dots). */
  unboundedDot: boolean;
}

/**
 * What YARA's compiler concludes about one string's atoms. Undefined for a definition YARA would
 * refuse (those are reported as errors elsewhere).
 */
export function yaraStringAtoms(def: StringDef): StringAtomReport | undefined {
  const has = (k: Modifier['kind']) => def.modifiers.some((m) => m.kind === k);
  const xorMod = def.modifiers.find((m) => m.kind === 'xor');
  const base64 = has('base64') || has('base64wide');
  const wide = has('wide');
  const flags: Flags = {
    wide,
    ascii: has('ascii') || (!wide && !xorMod && !base64),
    nocase: has('nocase') || (def.kind === 'regex' && def.regex.caseInsensitive),
    ...(xorMod ? { xor: xorMod.xorRange ?? { min: 0, max: 255 } } : {}),
  };
  let root: ReNode | undefined;
  if (def.kind === 'text') {
    if (def.value.length === 0) return undefined;
    if (!base64) {
      const s = literalStats(Array.from(def.value), flags);
      return { quality: s.quality, atoms: s.count, unboundedDot: false };
    }
    root = base64Tree(def);
    flags.wide = false;
  } else if (def.kind === 'hex') {
    root = def.tokens.length > 0 ? hexTree(def.tokens) : undefined;
  } else {
    root = regexTree(def.regex.pattern);
  }
  if (!root) return undefined;
  let quality = YARA_MAX_ATOM_QUALITY;
  let atoms = 0;
  for (const piece of chainPieces(root)) {
    const lit = literalOf(piece);
    const s = lit ? literalStats(lit, flags) : regexStats(piece, flags);
    quality = Math.min(quality, s.quality);
    atoms += s.count;
  }
  return { quality, atoms, unboundedDot: hasUnboundedDot(root) };
}

// ---------------------------------------------------------------------------------------------
// The warnings of one file

/** Span → location in `file`, by the line starts of `source` (line 0 without a source). */
function locator(file: string, source: string | Uint8Array | undefined): (s: Span) => Location {
  const lines = source !== undefined ? new LineIndex(source) : undefined;
  return (s: Span): Location => {
    if (!lines) return { file, line: 0, column: 0 };
    return { file, ...lines.at(s.start), length: Math.max(1, s.end - s.start) };
  };
}

export function yaraWarnings(input: WarningInput): Diagnostic[] {
  const out: Diagnostic[] = [];
  const dialect = input.dialect ?? '4.2';
  const topLoc = locator(input.file, input.source);
  const originLoc = new Map<Uint8Array, (s: Span) => Location>();
  for (const rule of input.rules) {
    const astRule = input.ast.rules[rule.index] ?? input.ast.rules.find((r) => r.span.start === rule.span.start && r.origin === rule.origin);
    // A rule read from an included file is located in that file.
    const origin = rule.origin;
    let loc = topLoc;
    if (origin) {
      loc = originLoc.get(origin.source) ?? locator(origin.file, origin.source);
      originLoc.set(origin.source, loc);
    }
    const compiled = input.matchers[input.rules.indexOf(rule)] ?? [];
    let ruleAtoms = 0;
    rule.strings.forEach((s, k) => {
      if (!compiled[k]) return;
      const report = yaraStringAtoms(s.def);
      if (!report) return;
      ruleAtoms += report.atoms;
      if (report.unboundedDot) {
        out.push(
          warning(
            WARNING_CODES.unboundedDot,
            `${s.def.id.name} contains .*, .+ or .{x,} consider using .{,N}, .{1,N} or {x,N} with a reasonable value for N`,
            loc(s.def.span),
          ),
        );
      }
      if (report.quality < YARA_ATOM_QUALITY_WARNING_THRESHOLD) {
        out.push(warning(WARNING_CODES.slowString, `string "${s.def.id.name}" may slow down scanning`, loc(s.def.span)));
      }
    });
    for (const root of astRule ? readCondition(astRule) : []) walkAst(root, (e) => {
      if (e.kind !== 'entrypoint') return;
      const text =
        dialect === '4.5'
          ? 'using deprecated "entrypoint" keyword. Use the "entry_point" function from PE module instead.'
          : 'Using deprecated "entrypoint" keyword. Use the "entry_point" function from PE module instead.';
      out.push(warning(WARNING_CODES.entrypoint, text, loc(e.span)));
    });
    if (dialect === '4.5' && rule.condition) out.push(...conditionWarnings45(rule.condition, loc));
    if (ruleAtoms > YARA_ATOMS_PER_RULE_WARNING_THRESHOLD) {
      out.push(warning(WARNING_CODES.slowRule, 'rule is slowing down scanning', loc(rule.span)));
    }
  }
  return out;
}

/**
 * What yara reads of a rule's condition: all of it; of a rule with a syntax error
 * (`Rule.broken`), the condition when it ends before the error, else the complete
 * sub-expressions read before the error. The rest yara never reads, so it raises no warning.
 */
function readCondition(rule: Rule): Expr[] {
  const broken = rule.broken;
  if (!broken) return rule.condition ? [rule.condition] : [];
  if (rule.condition && rule.condition.span.end <= broken.at) return [rule.condition];
  return broken.partial;
}

/** Every sub-expression of an AST condition, parents before children. */
function walkAst(e: Expr, visit: (e: Expr) => void): void {
  visit(e);
  for (const k of childNodes(e)) walkAst(k, visit);
}

/** The integer a checked expression folds to, if it is a constant. */
function constInt(e: CheckedExpr): bigint | undefined {
  return e.kind === 'const' && typeof e.value === 'bigint' ? e.value : undefined;
}

/** YARA 4.3+'s warnings about `of` expressions, in the order yara raises them. */
function conditionWarnings45(root: CheckedExpr, loc: (s: Span) => Location): Diagnostic[] {
  const out: Diagnostic[] = [];
  const visit = (e: CheckedExpr): void => {
    if (e.kind === 'of' || e.kind === 'forOf' || e.kind === 'forIn') {
      const q = e.quantifier;
      const countExpr = q.kind === 'count' ? q.expr : undefined;
      const n = countExpr ? constInt(countExpr) : undefined;
      if (countExpr) visit(countExpr);
      if (countExpr && n === 0n) out.push(warning(WARNING_CODES.zeroOf, 'consider using "none" keyword, it is less ambiguous.', loc(countExpr.span)));
      if (e.kind === 'of') {
        if (e.at) visit(e.at);
        if (e.range) {
          visit(e.range.lo);
          visit(e.range.hi);
        }
        const m = BigInt(e.members.length);
        if (n !== undefined && n > m) {
          out.push(warning(WARNING_CODES.alwaysFalse, `expression always false - requesting ${n} of ${m}.`, loc(e.span)));
        }
        if (e.at && ((n !== undefined && n > 1n) || (q.kind === 'all' && m > 1n))) {
          out.push(warning(WARNING_CODES.multipleAtOffset, 'multiple strings at an offset is usually false.', loc(e.span)));
        }
        return;
      }
      if (e.kind === 'forIn') {
        const it = e.iterable;
        if (it.kind === 'range') [it.lo, it.hi].forEach(visit);
        else if (it.kind === 'list') it.items.forEach(visit);
        else visit(it.expr);
      }
      visit(e.body);
      return;
    }
    for (const c of childExprs(e)) visit(c);
  };
  visit(root);
  return out;
}


// ---------------------------------------------------------------------------------------------
// String-compilation errors in yara's words, and a whole file's diagnostics

/**
 * `compileString`'s diagnostics as yara reports them: located at the string definition (the
 * regex engine's own locations are relative to the pattern) and worded as yara words them.
 */
export function yaraStringErrors(def: StringDef, diagnostics: readonly Diagnostic[], file: string, source?: string | Uint8Array): Diagnostic[] {
  // Most strings compile cleanly: skip building the line table (a pass over the whole source).
  if (diagnostics.length === 0) return [];
  const location = locator(file, source)(def.span);
  const id = def.id.name;
  const has = (k: Modifier['kind']) => def.modifiers.some((m) => m.kind === k);
  return diagnostics.map((d) => {
    const bare = d.message.startsWith(`${id}: `) ? d.message.slice(id.length + 2) : d.message;
    let message = bare;
    if (d.code === 'yara.regex.invalid') message = `invalid ${def.kind === 'hex' ? 'hex string' : 'regular expression'} "${id}": ${bare}`;
    else if (d.code === 'yara.regex.too-large') message = 'regular expression is too large';
    else if (d.code === 'yara.string.invalid-modifier' && def.kind === 'text') {
      // yara checks the combinations in this order and names the first that clashes.
      const b64 = has('base64') ? 'base64' : 'base64wide';
      const anyB64 = has('base64') || has('base64wide');
      if (has('xor') && has('nocase')) message = 'invalid modifier combination: xor nocase';
      else if (anyB64 && has('nocase')) message = `invalid modifier combination: ${b64} nocase`;
      else if (anyB64 && has('fullword')) message = `invalid modifier combination: ${b64} fullword`;
      else if (anyB64 && has('xor')) message = `invalid modifier combination: ${b64} xor`;
    }
    return { ...d, message, location };
  });
}

export interface FileDiagnosticsOptions {
  modules: ModuleCatalog;
  strictEscape?: boolean;
  dialect?: '4.2' | '4.5';
  /** Reads included files (parseYara's `include`); without it includes are not followed. */
  include?: (path: string) => string | Uint8Array | undefined;
}

/**
 * Everything yara prints while compiling one file, in vigil's terms: syntax errors, the checker's
 * errors and warnings, every string's compile errors and the warnings above. Unlike
 * `compileYara`, strings are compiled and warned about even in a file whose conditions have
 * errors, as yara handles a rule's strings before its condition. A file with a syntax error is
 * checked as `compileYara` checks it: yara reports the semantic errors of what it reads before
 * the error and of the rules after it, and compiles (and warns about) every string it reads; of
 * a broken rule (`Rule.broken`) only what precedes the error counts (the checker keeps those
 * strings, `yaraWarnings` reads that part of the condition). The diagnostics come stage by
 * stage; render.ts orders them as yara prints them.
 */
export function yaraFileDiagnostics(source: string | Uint8Array, file: string, opts: FileDiagnosticsOptions): { ast: RuleFile; diagnostics: Diagnostic[] } {
  const parsed = parseYara(source, file, { strictEscape: !!opts.strictEscape, ...(opts.include ? { include: opts.include } : {}) });
  const diagnostics = [...parsed.diagnostics];
  const checked = checkYara(parsed.ast, { modules: opts.modules, source, file });
  diagnostics.push(...checked.diagnostics);
  const matchers = checked.rules.map((rule) =>
    rule.strings.map((s) => {
      const r = compileString(s.def);
      diagnostics.push(...yaraStringErrors(s.def, r.diagnostics, rule.origin?.file ?? file, rule.origin?.source ?? source));
      return r.matcher;
    }),
  );
  diagnostics.push(...yaraWarnings({ file, ast: parsed.ast, rules: checked.rules, matchers, source, ...(opts.dialect ? { dialect: opts.dialect } : {}) }));
  return { ast: parsed.ast, diagnostics };
}
