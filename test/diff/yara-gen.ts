/**
 * Seeded generator of YARA rule sets and of the files that exercise them, for the engine's
 * differential test (yara-engine.test.ts).
 *
 * In: a seed (number or text) and a size (sets, rules per set, files per set). Out: rule sets, each
 * a list of rules with their source text and the features each rule uses, plus per set a list of
 * files built from that set's own strings: exact hits, case-flipped, wide, xor'd, base64'd copies,
 * near misses (one byte changed, inserted or dropped, a neighbour that breaks `fullword`), payloads
 * placed at the offsets that `at` / `in` conditions name, all over random filler of several kinds.
 *
 * Why this shape: every string knows how to draw a matching and a nearly matching sample of
 * itself, so files are dense in the interesting cases rather than in random noise; each set has
 * its own files so the cost grows with rules × files-per-set, not rules × all files. A set is
 * either "classic" (syntax yara 4.2.3 accepts: compared with yara and YARA-X) or "modern" (4.3+
 * syntax: `~` in hex strings, `of … at`, percentages in loops, the string module,
 * `math.to_string`, `math.to_number`, and `#a in (lo..hi)`, which aborts yara 4.2.3's scan with
 * error 31: compared with YARA-X only). Each rule carries feature tags (its own, its strings' and
 * those of the rules it references) so that a disagreement between the two peers can be matched
 * to a named, explained exception. `fork` keeps parts of the generator independent: a change to
 * file generation does not change the rules of the same seed.
 */

import { Prng } from '../helpers/prng.js';

/** External variables defined for every engine: `-d` for yara, `defineGlobal` for YARA-X. */
export const EXTERNALS = { ext_int: 7, ext_str: 'Vigil-Test', ext_bool: true, ext_float: 2.5 } as const;

/** Offsets the generator both names in conditions and plants payloads at. */
const OFFSETS = [0, 1, 8, 32, 100, 257];

export interface GenString {
  id: string;
  /** Source text of the definition (`$a = "…" wide`). */
  text: string;
  kind: 'text' | 'hex' | 'regex';
  features: string[];
  isPrivate: boolean;
  /** A sample the string should match (most of the time). */
  hit(rng: Prng): Uint8Array;
  /** A sample that nearly matches. */
  miss(rng: Prng): Uint8Array;
  /** Where samples should go to be able to match (`^` / `$` regexes). */
  place?: 'start' | 'end';
}

export interface GenRule {
  name: string;
  text: string;
  strings: GenString[];
  /** Feature tags of the rule and its strings, for the exception classifier and statistics. */
  features: Set<string>;
  isPrivate: boolean;
  isGlobal: boolean;
  tags: string[];
  meta: [string, string | number | boolean][];
}

export interface GenFile {
  name: string;
  data: Uint8Array;
}

export interface GenSet {
  name: string;
  /** Needs YARA ≥ 4.3 (compared with YARA-X only). */
  modern: boolean;
  imports: string[];
  rules: GenRule[];
  files: GenFile[];
}

export interface GenOptions {
  sets: number;
  rulesPerSet: number;
  filesPerSet: number;
  /** Share of sets that use 4.3+ syntax. */
  modernShare: number;
}

export const DEFAULT_GEN: GenOptions = { sets: 12, rulesPerSet: 60, filesPerSet: 16, modernShare: 0.25 };

/** The source text of a set, with the line where each rule starts (1-based). */
export function renderSet(set: GenSet, rules: readonly GenRule[] = set.rules): { text: string; ruleAtLine: Map<number, string> } {
  const lines: string[] = set.imports.map((m) => `import "${m}"`);
  const ruleAtLine = new Map<number, string>();
  for (const r of rules) {
    const start = lines.length + 1;
    const rl = r.text.split('\n');
    rl.forEach((_, i) => ruleAtLine.set(start + i, r.name));
    lines.push(...rl);
  }
  return { text: lines.join('\n') + '\n', ruleAtLine };
}

// ---------------------------------------------------------------------------------------------
// Bytes helpers

const enc = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
const cat = (...parts: Uint8Array[]): Uint8Array => {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const widen = (b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(b.length * 2);
  b.forEach((x, i) => (out[2 * i] = x));
  return out;
};
const isLetter = (b: number): boolean => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
const flipCase = (rng: Prng, b: Uint8Array, all = false): Uint8Array =>
  b.map((x) => (isLetter(x) && (all || rng.chance(0.5)) ? x ^ 0x20 : x));

/** One byte changed, inserted or dropped somewhere inside. */
function mutate(rng: Prng, b: Uint8Array): Uint8Array {
  if (b.length < 2) return cat(b, enc('#'));
  const i = rng.int(1, b.length - 1);
  switch (rng.int(0, 3)) {
    case 0: {
      const c = b.slice();
      c[i] = (c[i] as number) ^ (rng.chance(0.5) ? 0x20 : rng.int(1, 255));
      return c;
    }
    case 1:
      return cat(b.slice(0, i), Uint8Array.of(rng.pick([0x20, 0x00, 0x41, 0x7a, 0x2e])), b.slice(i));
    case 2:
      return cat(b.slice(0, i), b.slice(i + 1));
    default:
      return b.slice(0, b.length - 1);
  }
}

const STD_B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
// The alphabet of writingrules.rst with `K` for its `\x09` (YARA-X refuses escapes in an alphabet).
const CUSTOM_B64 = '!@#$%^&*(){}[].,|ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu';
const CUSTOM_B64_SRC = CUSTOM_B64;

function base64(data: Uint8Array, alphabet: string): Uint8Array {
  let out = '';
  for (let i = 0; i < data.length; i += 3) {
    const a = data[i] as number;
    const b = data[i + 1];
    const c = data[i + 2];
    const v = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += b === undefined ? '=' : alphabet[(v >> 6) & 63];
    out += c === undefined ? '=' : alphabet[v & 63];
  }
  return enc(out);
}

/** Escapes bytes for a YARA text string literal. */
function yaraText(b: Uint8Array): string {
  let s = '';
  for (const x of b) {
    if (x === 0x22) s += '\\"';
    else if (x === 0x5c) s += '\\\\';
    else if (x === 0x09) s += '\\t';
    else if (x === 0x0a) s += '\\n';
    else if (x >= 0x20 && x < 0x7f) s += String.fromCharCode(x);
    else s += `\\x${x.toString(16).padStart(2, '0')}`;
  }
  return s;
}

const hex2 = (x: number): string => x.toString(16).toUpperCase().padStart(2, '0');

// ---------------------------------------------------------------------------------------------
// Text strings

const WORD_ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function textValue(rng: Prng): Uint8Array {
  const n = rng.int(3, 10);
  const kind = rng.weighted<string>([['word', 5], ['mixed', 3], ['binary', 1]]);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (kind === 'word') out.push(WORD_ALPHA.charCodeAt(rng.int(0, 51)));
    else if (kind === 'mixed') out.push(rng.chance(0.8) ? WORD_ALPHA.charCodeAt(rng.int(0, WORD_ALPHA.length - 1)) : rng.pick([0x20, 0x2d, 0x2e, 0x5f, 0x22, 0x5c, 0x09, 0x3a]));
    else out.push(rng.chance(0.5) ? rng.int(0x21, 0x7e) : rng.int(0, 255));
  }
  // Distinct enough bytes for a good atom: avoid a run of one repeated byte.
  if (new Set(out).size < 2) out[0] = 0x51;
  return Uint8Array.from(out);
}

function genText(rng: Prng, id: string, modern: boolean): GenString {
  const value = textValue(rng);
  const mods: string[] = [];
  const features: string[] = ['text'];
  let xorRange: [number, number] | undefined;
  let b64: { wide: boolean; alphabet: string; src?: string }[] = [];
  const family = rng.weighted<string>([['plain', 6], ['xor', 2], ['base64', 2]]);
  let nocase = false;
  let wide = false;
  let ascii = true;
  let fullword = false;
  if (family === 'base64' && value.length >= 3) {
    const custom = rng.chance(0.3);
    const which = rng.pick(['base64', 'base64wide', 'both']);
    const alpha = custom ? CUSTOM_B64 : STD_B64;
    const arg = custom ? `("${CUSTOM_B64_SRC}")` : '';
    if (which !== 'base64wide') b64.push({ wide: false, alphabet: alpha });
    if (which !== 'base64') b64.push({ wide: true, alphabet: alpha });
    if (which !== 'base64wide') mods.push(`base64${arg}`);
    if (which !== 'base64') mods.push(`base64wide${arg}`);
    features.push('base64');
    if (custom) features.push('base64-custom');
    if (rng.chance(0.3)) {
      // `wide` (and `ascii`) apply before base64.
      wide = true;
      mods.push('wide');
      ascii = rng.chance(0.5);
      if (ascii) mods.push('ascii');
      features.push('base64-of-wide');
    }
    if (which !== 'base64') features.push('base64wide');
  } else if (family === 'xor') {
    const form = rng.int(0, 2);
    if (form === 0) {
      mods.push('xor');
      xorRange = [0, 255];
    } else if (form === 1) {
      const k = rng.int(1, 255);
      mods.push(`xor(${k})`);
      xorRange = [k, k];
    } else {
      const a = rng.int(0, 250);
      const b = Math.min(255, a + rng.int(0, 6));
      mods.push(`xor(${a}-${b})`);
      xorRange = [a, b];
    }
    features.push('xor');
    if (rng.chance(0.35)) {
      wide = true;
      mods.push('wide');
      ascii = rng.chance(0.5);
      if (ascii) mods.push('ascii');
    }
    if (rng.chance(0.25)) {
      fullword = true;
      mods.push('fullword');
      features.push('xor-fullword');
    }
  } else {
    b64 = [];
    if (rng.chance(0.35)) {
      nocase = true;
      mods.push('nocase');
    }
    if (rng.chance(0.35)) {
      wide = true;
      mods.push('wide');
      ascii = rng.chance(0.5);
      if (ascii) mods.push('ascii');
    } else if (rng.chance(0.1)) mods.push('ascii');
    if (rng.chance(0.3)) {
      fullword = true;
      mods.push('fullword');
      features.push('fullword');
    }
  }
  if (wide) features.push('wide');
  if (nocase) features.push('nocase');
  const isPrivate = rng.chance(0.08);
  if (isPrivate) mods.push('private');
  const text = `${id} = "${yaraText(value)}"${mods.length ? ' ' + rng.shuffle(mods).join(' ') : ''}`;
  void modern;
  const plainForm = (r: Prng): Uint8Array => {
    let b = nocase ? flipCase(r, value) : value;
    if (xorRange) {
      const k = r.int(xorRange[0], xorRange[1]);
      b = b.map((x) => x ^ k);
      if (wide && (!ascii || r.chance(0.5))) return widen(value).map((x) => x ^ k);
      return b;
    }
    if (wide && (!ascii || r.chance(0.5))) b = widen(b);
    return b;
  };
  const surround = (r: Prng, b: Uint8Array): Uint8Array => {
    if (!fullword) return b;
    const d = () => enc(r.pick([' ', '.', '\n', '-', '"']));
    const w = () => enc(r.pick(['x', 'Q', '7']));
    return cat(r.chance(0.8) ? d() : w(), b, r.chance(0.8) ? d() : w());
  };
  return {
    id,
    text,
    kind: 'text',
    features,
    isPrivate,
    hit(r) {
      if (b64.length > 0) {
        const f = r.pick(b64);
        const pre = r.bytes(r.int(0, 2)).map((x) => (x % 94) + 33);
        const post = r.bytes(r.int(0, 2)).map((x) => (x % 94) + 33);
        const src = wide && (!ascii || r.chance(0.5)) ? widen(value) : value;
        const e = base64(cat(pre, src, post), f.alphabet);
        return f.wide ? widen(e) : e;
      }
      return surround(r, plainForm(r));
    },
    miss(r) {
      if (b64.length > 0) {
        const f = r.pick(b64);
        const e = base64(cat(r.bytes(r.int(0, 2)), mutate(r, wide && !ascii ? widen(value) : value)), f.alphabet);
        return f.wide ? widen(e) : e;
      }
      const k = r.int(0, 4);
      if (k === 0 && !nocase) return flipCase(r, value, true);
      if (k === 1 && fullword) return cat(enc('a'), plainForm(r), enc('b'));
      if (k === 2 && xorRange) {
        const key = xorRange[0] > 0 ? xorRange[0] - 1 : xorRange[1] < 255 ? xorRange[1] + 1 : 0x20;
        return value.map((x) => x ^ key);
      }
      if (k === 3 && !wide) return widen(value);
      return mutate(r, plainForm(r));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Hex strings

type HexTok =
  | { k: 'byte'; value: number; mask: number; neg: boolean }
  | { k: 'jump'; min: number; max: number | null }
  | { k: 'alt'; alts: HexTok[][] };

function renderHex(toks: readonly HexTok[]): string {
  return toks
    .map((t) => {
      if (t.k === 'byte') {
        const h = hex2(t.value);
        const s = t.mask === 0 ? '??' : t.mask === 0xf0 ? `${h[0]}?` : t.mask === 0x0f ? `?${h[1]}` : h;
        return t.neg ? `~${s}` : s;
      }
      if (t.k === 'jump') {
        if (t.max === null) return t.min === 0 ? '[-]' : `[${t.min}-]`;
        return t.min === t.max ? `[${t.min}]` : `[${t.min}-${t.max}]`;
      }
      return `( ${t.alts.map(renderHex).join(' | ')} )`;
    })
    .join(' ');
}

function sampleHex(rng: Prng, toks: readonly HexTok[], out: number[]): void {
  for (const t of toks) {
    if (t.k === 'byte') {
      let b: number;
      let tries = 0;
      do {
        b = t.mask === 0xff && !t.neg ? t.value : (rng.int(0, 255) & ~t.mask) | (t.value & t.mask);
        if (t.neg) b = rng.int(0, 255);
        tries++;
      } while ((((b & t.mask) === (t.value & t.mask)) === t.neg) && tries < 50);
      out.push(b);
    } else if (t.k === 'jump') {
      const hi = t.max === null ? t.min + rng.int(0, 12) : Math.min(t.max, t.min + rng.int(0, 10));
      const n = rng.int(t.min, Math.max(t.min, hi));
      for (let i = 0; i < n; i++) out.push(rng.chance(0.5) ? rng.int(0x61, 0x7a) : rng.int(0, 255));
    } else {
      sampleHex(rng, rng.pick(t.alts), out);
    }
  }
}

function genHexSeq(rng: Prng, modern: boolean, depth: number, features: Set<string>, allowUnbounded: boolean, len: number): HexTok[] {
  const toks: HexTok[] = [];
  const lit = (): HexTok => ({ k: 'byte', value: rng.pick([rng.int(0x41, 0x7a), rng.int(0, 255), 0x00, 0x90]), mask: 0xff, neg: false });
  toks.push(lit());
  for (let i = 1; i < len; i++) {
    const c = rng.weighted<string>([['byte', 10], ['wild', 2], ['nibble', 2], ['neg', modern ? 2 : 0], ['jump', depth === 0 ? 2 : 1], ['alt', depth < 2 ? 1.5 : 0]]);
    if (c === 'byte') toks.push(lit());
    else if (c === 'wild') {
      toks.push({ k: 'byte', value: 0, mask: 0, neg: false });
      features.add('hex-wild');
    } else if (c === 'nibble') {
      toks.push({ k: 'byte', value: rng.int(0, 255), mask: rng.pick([0xf0, 0x0f]), neg: false });
      features.add('hex-nibble');
    } else if (c === 'neg') {
      toks.push({ k: 'byte', value: rng.int(0, 255), mask: rng.pick([0xff, 0xff, 0xf0, 0x0f]), neg: true });
      features.add('hex-not');
    } else if (c === 'jump') {
      const form = rng.int(0, allowUnbounded ? 5 : 3);
      let j: HexTok;
      if (form <= 1) j = { k: 'jump', min: rng.int(1, 6), max: null };
      else if (form === 2) {
        const a = rng.int(0, 4);
        j = { k: 'jump', min: a, max: a + rng.int(1, 8) };
      } else if (form === 3) j = { k: 'jump', min: rng.int(1, 5), max: null };
      else if (form === 4) j = { k: 'jump', min: rng.int(0, 3), max: null };
      else j = { k: 'jump', min: 0, max: null };
      if (j.k === 'jump' && form <= 1) j = { k: 'jump', min: j.min, max: j.min };
      if (j.k === 'jump' && (form === 3 || form === 4 || form === 5) && !allowUnbounded) j = { k: 'jump', min: 1, max: 4 };
      if (allowUnbounded && rng.chance(0.08)) {
        // Long jumps: past 200 bytes YARA splits the string into chained pieces.
        const lo = rng.int(150, 240);
        j = rng.chance(0.5) ? { k: 'jump', min: lo, max: lo } : { k: 'jump', min: lo, max: lo + rng.int(1, 80) };
        features.add(j.max !== null && j.max > 200 ? 'hex-chained' : 'hex-jump-long');
      }
      if (j.k === 'jump' && j.max === null) features.add('hex-jump-unbounded');
      else if (j.k === 'jump' && j.max !== j.min) features.add('hex-jump-range');
      else features.add('hex-jump');
      toks.push(j);
      toks.push(lit());
      i++;
    } else {
      const n = rng.int(2, 3);
      const alts: HexTok[][] = [];
      for (let a = 0; a < n; a++) alts.push(genHexSeq(rng, modern, depth + 1, features, false, rng.int(1, 3)));
      toks.push({ k: 'alt', alts });
      features.add(depth > 0 ? 'hex-alt-nested' : 'hex-alt');
      const widths = alts.map(hexFixedWidth);
      if (widths.some((w) => w === undefined || w !== widths[0])) features.add('hex-alt-varlen');
    }
  }
  // A hex string ends with a byte (a jump may not end it).
  const last = toks[toks.length - 1];
  if (!last || last.k !== 'byte' || last.mask !== 0xff) toks.push(lit());
  return toks;
}

function hexFixedWidth(toks: readonly HexTok[]): number | undefined {
  let w = 0;
  for (const t of toks) {
    if (t.k === 'byte') w++;
    else if (t.k === 'jump') {
      if (t.max !== t.min) return undefined;
      w += t.min;
    } else {
      const ws = t.alts.map(hexFixedWidth);
      if (ws.some((x) => x === undefined || x !== ws[0])) return undefined;
      w += ws[0] ?? 0;
    }
  }
  return w;
}

function genHex(rng: Prng, id: string, modern: boolean): GenString {
  const features = new Set<string>(['hex']);
  // Start with two fixed bytes so that every string has a usable atom.
  const toks: HexTok[] = [
    { k: 'byte', value: rng.int(0x41, 0x7a), mask: 0xff, neg: false },
    ...genHexSeq(rng, modern, 0, features, true, rng.int(2, 7)),
  ];
  const isPrivate = rng.chance(0.08);
  const text = `${id} = { ${renderHex(toks)} }${isPrivate ? ' private' : ''}`;
  const sample = (r: Prng): Uint8Array => {
    const out: number[] = [];
    sampleHex(r, toks, out);
    return Uint8Array.from(out);
  };
  return {
    id,
    text,
    kind: 'hex',
    features: [...features],
    isPrivate,
    hit: sample,
    miss: (r) => mutate(r, sample(r)),
  };
}

// ---------------------------------------------------------------------------------------------
// Regexes

type RNode =
  | { k: 'lit'; src: string; byte: number }
  | { k: 'class'; src: string; members: number[] }
  | { k: 'dot' }
  | { k: 'cat'; items: RNode[] }
  | { k: 'alt'; items: RNode[] }
  | { k: 'rep'; sub: RNode; min: number; max: number | null; src: string }
  | { k: 'assert'; src: string };

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const DIGITS = range(0x30, 0x39);
const WORDB = [...range(0x30, 0x39), ...range(0x41, 0x5a), ...range(0x61, 0x7a), 0x5f];
const SPACES = [0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x0c];

function genRegexAtom(rng: Prng, features: Set<string>, depth: number, lazy: boolean, noDot: boolean): RNode {
  const c = rng.weighted<string>([['lit', 8], ['class', 2], ['esc', 2], ['dot', noDot ? 0 : 1], ['group', depth < 2 ? 1.5 : 0]]);
  if (c === 'lit') {
    const x = rng.chance(0.85) ? WORD_ALPHA.charCodeAt(rng.int(0, WORD_ALPHA.length - 1)) : rng.pick([0x2e, 0x2d, 0x20, 0x3a, 0x09, 0x41]);
    const src = x === 0x2e ? '\\.' : x === 0x09 ? '\\t' : x === 0x41 && rng.chance(0.5) ? '\\x41' : String.fromCharCode(x);
    return { k: 'lit', src, byte: x };
  }
  if (c === 'class') {
    features.add('re-class');
    const neg = rng.chance(0.25);
    const lo = rng.int(0x61, 0x75);
    const hi = lo + rng.int(1, 5);
    const extra = rng.pick(['', '0-9', '_', 'XYZ', '.']);
    const set = new Set<number>([...range(lo, hi)]);
    if (extra === '0-9') DIGITS.forEach((d) => set.add(d));
    else for (const ch of extra) set.add(ch.charCodeAt(0));
    const members = neg ? range(0, 255).filter((b) => !set.has(b)) : [...set];
    return { k: 'class', src: `[${neg ? '^' : ''}${String.fromCharCode(lo)}-${String.fromCharCode(hi)}${extra}]`, members };
  }
  if (c === 'esc') {
    const e = rng.pick(['\\w', '\\W', '\\s', '\\S', '\\d', '\\D']);
    features.add('re-' + e.slice(1));
    const all = range(0, 255);
    const members =
      e === '\\w' ? WORDB : e === '\\W' ? all.filter((b) => !WORDB.includes(b)) : e === '\\s' ? SPACES : e === '\\S' ? all.filter((b) => !SPACES.includes(b)) : e === '\\d' ? DIGITS : all.filter((b) => !DIGITS.includes(b));
    return { k: 'class', src: e, members };
  }
  if (c === 'dot') {
    features.add('re-dot');
    return { k: 'dot' };
  }
  features.add('re-alt');
  const n = rng.int(2, 3);
  const items: RNode[] = [];
  for (let i = 0; i < n; i++) items.push(genRegexSeq(rng, features, depth + 1, rng.int(1, 3), lazy, noDot));
  return { k: 'alt', items };
}

function genRegexSeq(rng: Prng, features: Set<string>, depth: number, len: number, lazy: boolean, noDot = false): RNode {
  const items: RNode[] = [];
  for (let i = 0; i < len; i++) {
    let a = genRegexAtom(rng, features, depth, lazy, noDot);
    if (rng.chance(0.3)) {
      const q = rng.pick(['*', '+', '?', '{n}', '{n,}', '{n,m}', '{,m}']);
      let min = 0;
      let max: number | null = null;
      let src = q;
      if (q === '+') min = 1;
      else if (q === '?') max = 1;
      else if (q === '{n}') {
        min = max = rng.int(1, 3);
        src = `{${min}}`;
      } else if (q === '{n,}') {
        min = rng.int(1, 2);
        src = `{${min},}`;
      } else if (q === '{n,m}') {
        min = rng.int(0, 2);
        max = min + (rng.chance(0.1) ? rng.int(10, 40) : rng.int(1, 3));
        src = `{${min},${max}}`;
      } else if (q === '{,m}') {
        max = rng.int(1, 3);
        src = `{,${max}}`;
      }
      features.add(lazy ? 're-lazy' : 're-greedy');
      if (q.startsWith('{')) features.add('re-bounded');
      if (canBeEmpty(a)) features.add('re-empty-loop');
      a = { k: 'rep', sub: a, min, max, src: src + (lazy ? '?' : '') };
    }
    items.push(a);
  }
  return { k: 'cat', items };
}

/** Whether a regex node can match the empty string (a repetition of it then has empty iterations). */
function canBeEmpty(n: RNode): boolean {
  switch (n.k) {
    case 'lit':
    case 'class':
    case 'dot':
      return false;
    case 'assert':
      return true;
    case 'cat':
      return n.items.every(canBeEmpty);
    case 'alt':
      return n.items.some(canBeEmpty);
    case 'rep':
      return n.min === 0 || canBeEmpty(n.sub);
  }
}

function renderRegex(n: RNode, top = false): string {
  switch (n.k) {
    case 'lit':
    case 'class':
    case 'assert':
      return n.src;
    case 'dot':
      return '.';
    case 'cat':
      return n.items.map((x) => renderRegex(x)).join('');
    case 'alt': {
      const s = n.items.map((x) => renderRegex(x)).join('|');
      return top ? s : `(${s})`;
    }
    case 'rep': {
      const sub = n.sub.k === 'cat' && n.sub.items.length > 1 ? `(${renderRegex(n.sub)})` : renderRegex(n.sub);
      return sub + n.src;
    }
  }
}

function sampleRegex(rng: Prng, n: RNode, out: number[], nocase: boolean): void {
  switch (n.k) {
    case 'lit':
      out.push(nocase && isLetter(n.byte) && rng.chance(0.5) ? n.byte ^ 0x20 : n.byte);
      return;
    case 'class':
      out.push(rng.pick(n.members));
      return;
    case 'dot':
      out.push(rng.chance(0.7) ? rng.int(0x61, 0x7a) : rng.pick([0x20, 0x0a, 0x00, 0xff]));
      return;
    case 'cat':
      for (const x of n.items) sampleRegex(rng, x, out, nocase);
      return;
    case 'alt':
      sampleRegex(rng, rng.pick(n.items), out, nocase);
      return;
    case 'rep': {
      const k = rng.int(n.min, n.max ?? n.min + 3);
      for (let i = 0; i < k; i++) sampleRegex(rng, n.sub, out, nocase);
      return;
    }
    case 'assert':
      return;
  }
}

function genRegex(rng: Prng, id: string): GenString {
  const features = new Set<string>(['regex']);
  const lazy = rng.chance(0.25);
  // A mandatory literal run keeps the pattern from matching the empty string and gives it an atom.
  const anchorLit: RNode[] = [];
  const litLen = rng.int(2, 4);
  for (let i = 0; i < litLen; i++) {
    const x = WORD_ALPHA.charCodeAt(rng.int(0, WORD_ALPHA.length - 1));
    anchorLit.push({ k: 'lit', src: String.fromCharCode(x), byte: x });
  }
  // No `.` before the literal: YARA-X refuses a regex that starts with an arbitrary repeated prefix.
  const before = genRegexSeq(rng, features, 0, rng.int(0, 2), lazy, true);
  const after = genRegexSeq(rng, features, 0, rng.int(0, 3), lazy);
  const items: RNode[] = [];
  if (rng.chance(0.1)) {
    items.push({ k: 'assert', src: '^' });
    features.add('re-bol');
  }
  if (rng.chance(0.15)) {
    items.push({ k: 'assert', src: rng.pick(['\\b', '\\B']) });
    features.add('re-wordb');
  }
  items.push(before, ...anchorLit, after);
  if (rng.chance(0.1)) {
    items.push({ k: 'assert', src: rng.pick(['\\b', '\\B']) });
    features.add('re-wordb');
  }
  if (rng.chance(0.08)) {
    items.push({ k: 'assert', src: '$' });
    features.add('re-eol');
  }
  const root: RNode = { k: 'cat', items };
  const flagI = rng.chance(0.15);
  const flagS = rng.chance(0.15);
  const mods: string[] = [];
  const nocase = rng.chance(0.15);
  if (nocase) mods.push('nocase');
  const wide = rng.chance(0.2);
  let ascii = true;
  if (wide) {
    mods.push('wide');
    ascii = rng.chance(0.5);
    if (ascii) mods.push('ascii');
    features.add('wide');
  }
  if (rng.chance(0.15)) {
    mods.push('fullword');
    features.add('fullword');
  }
  const isPrivate = rng.chance(0.08);
  if (isPrivate) mods.push('private');
  if (flagI || nocase) features.add('nocase');
  if (wide && features.has('re-wordb')) features.add('re-wordb-wide');
  if (wide && features.has('re-dot')) features.add('re-dot-wide');
  if (wide && features.has('re-eol')) features.add('re-eol-wide');
  if (flagS) features.add('re-flag-s');
  const text = `${id} = /${renderRegex(root, true)}/${flagI ? 'i' : ''}${flagS ? 's' : ''}${mods.length ? ' ' + mods.join(' ') : ''}`;
  const sample = (r: Prng): Uint8Array => {
    const out: number[] = [];
    sampleRegex(r, root, out, flagI || nocase);
    const b = Uint8Array.from(out);
    return wide && (!ascii || r.chance(0.5)) ? widen(b) : b;
  };
  const place = features.has('re-bol') ? 'start' : features.has('re-eol') ? 'end' : undefined;
  return { id, text, kind: 'regex', features: [...features], isPrivate, hit: sample, miss: (r) => mutate(r, sample(r)), ...(place ? { place } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Conditions

interface CondCtx {
  rng: Prng;
  modern: boolean;
  strings: GenString[];
  /** Names of earlier rules in the set (rule references). */
  earlier: string[];
  imports: Set<string>;
  features: Set<string>;
  /** Ids of strings referenced so far. */
  used: Set<string>;
  /** Names of the earlier rules the condition references. */
  rulesUsed: Set<string>;
}

function sref(c: CondCtx): string | undefined {
  if (c.strings.length === 0) return undefined;
  const s = c.rng.pick(c.strings);
  c.used.add(s.id);
  return s.id.slice(1);
}

function num(c: CondCtx): number {
  return c.rng.pick([0, 1, 2, 3, 5, 8, 16, 100, 255, 256, 1000]);
}

function stringSet(c: CondCtx): string {
  const r = c.rng;
  const form = r.int(0, 3);
  if (form === 0 || c.strings.length === 0) {
    c.strings.forEach((s) => c.used.add(s.id));
    return 'them';
  }
  if (form === 1) {
    c.strings.forEach((s) => c.used.add(s.id));
    c.features.add('of-wildcard');
    return '($*)';
  }
  if (form === 2) {
    const first = c.strings[0] as GenString;
    const prefix = first.id.slice(0, 2);
    for (const s of c.strings) if (s.id.startsWith(prefix)) c.used.add(s.id);
    c.features.add('of-wildcard');
    return `(${prefix}*)`;
  }
  const pick = r.sample(c.strings, r.int(1, c.strings.length));
  pick.forEach((s) => c.used.add(s.id));
  return `(${pick.map((s) => s.id).join(', ')})`;
}

/** `percent`: whether a percentage may be drawn (yara 4.2.3 knows it only in a plain `of`). */
function quantifier(c: CondCtx, n: number, percent = c.modern, loop = false): string {
  const r = c.rng;
  const q = r.weighted<string>([['any', 4], ['all', 3], ['none', 1], ['count', 3], ['percent', percent ? 1 : 0], ['undefined', 0.3]]);
  if (q === 'undefined') {
    // An UNDEFINED quantity: YARA reads it as `all`.
    c.features.add('of-undefined');
    return '(filesize \\ (filesize - filesize))';
  }
  c.features.add('of-' + q);
  if (loop && q === 'none') c.features.add('for-none');
  if (q === 'count') {
    const k = r.int(0, Math.max(1, n + 1));
    if (k === 0) c.features.add(loop ? 'for-none' : 'of-zero');
    return String(k);
  }
  // `0%` is an error in YARA (YARA-X accepts it).
  if (q === 'percent') return `${r.pick([10, 50, 51, 100])}%`;
  return q;
}

const INT_READERS = ['int8', 'int16', 'int32', 'uint8', 'uint16', 'uint32', 'int8be', 'int16be', 'int32be', 'uint8be', 'uint16be', 'uint32be'];

function intExpr(c: CondCtx, depth = 0): string {
  const r = c.rng;
  const s = () => sref(c);
  const choices: [() => string | undefined, number][] = [
    [() => String(num(c)), 3],
    [() => 'filesize', 3],
    [() => { const x = s(); return x && `#${x}`; }, 3],
    // `#a in (lo..hi)` with lo > 0 aborts yara 4.2.3's scan (error 31): modern sets only.
    [() => { if (!c.modern) return undefined; const x = s(); c.features.add('count-in'); const lo = r.pick(OFFSETS); return x && `#${x} in (${lo}..${r.pick([lo + 50, lo + 200, 'filesize'])})`; }, 1],
    [() => { const x = s(); c.features.add('offset'); return x && `@${x}[${r.int(1, 3)}]`; }, 2],
    [() => { const x = s(); c.features.add('length'); return x && (r.chance(0.5) ? `!${x}[${r.int(1, 3)}]` : `!${x}`); }, 2],
    [() => { c.features.add('readint'); return `${r.pick(INT_READERS)}(${r.pick(OFFSETS)})`; }, 2],
    [() => { c.features.add('external'); return 'ext_int'; }, 1],
    [() => { c.imports.add('math'); c.features.add('math'); return r.pick([`math.max(filesize, ${num(c)})`, `math.min(${num(c)}, filesize)`, 'math.abs(-filesize)', `math.count(${r.int(0, 255)}, 0, filesize)`, `math.count(${r.int(0, 255)})`, 'math.mode(0, filesize)']); }, 1],
    [() => { c.imports.add('hash'); c.features.add('hash'); c.features.add('hash-range'); return r.pick(['hash.crc32(0, filesize)', `hash.checksum32(0, ${r.int(1, 64)})`, `hash.crc32("${r.word(1, 5)}")`]); }, 1],
    [() => { if (!c.modern) return undefined; c.imports.add('string'); c.features.add('string-module'); return r.pick(['string.length(ext_str)', `string.to_int("${r.int(0, 999)}")`, ((base, text) => { if (base === 0 || (base === 16 && text.startsWith('0x'))) c.features.add('to-int-prefix'); return `string.to_int("${text}", ${base})`; })(r.pick([0, 10, 16]), r.pick(['0x1f', '077', '-12', '12']))]); }, 1],
  ];
  if (depth < 2) {
    choices.push([() => {
      const op = r.pick(['+', '-', '*', '\\', '%', '&', '|', '^', '<<', '>>']);
      c.features.add(op === '\\' || op === '%' ? 'int-div' : '&|^<<>>'.includes(op) ? 'bitwise' : 'arith');
      let right = intExpr(c, depth + 1);
      // Constant divisors of 0 and constant-folded overflow are compile errors in YARA.
      if ((op === '\\' || op === '%') && !/[a-z#@!]/.test(right)) right = String(r.int(1, 9));
      if ((op === '<<' || op === '>>') && /^\d+$/.test(right)) right = String(r.pick([0, 1, 3, 63, 64, 70]));
      if ((op === '<<' || op === '>>') && !/^\d+$/.test(right)) c.features.add('shift-dynamic');
      return `(${intExpr(c, depth + 1)} ${op} ${right})`;
    }, 4]);
    choices.push([() => { c.features.add('overflow'); return r.pick(['(filesize + 0x7FFFFFFFFFFFFFFF)', '(filesize * 0x4000000000000000)', '(-0x7FFFFFFFFFFFFFFF - filesize)', '(filesize << 62)']); }, 1]);
    choices.push([() => { c.features.add('bitwise'); return `~${intExpr(c, depth + 1)}`; }, 0.5]);
    choices.push([() => `-${intExpr(c, depth + 1)}`, 0.5]);
  }
  for (;;) {
    const v = r.weighted(choices)();
    if (v !== undefined) return v;
  }
}

function floatExpr(c: CondCtx): string {
  const r = c.rng;
  c.features.add('float');
  return r.weighted<() => string>([
    [() => `${r.pick(['2.5', '0.5', '100.0', '3.25'])}`, 2],
    [() => `filesize \\ ${r.pick(['2.5', '3.0', '0.75'])}`, 2],
    [() => `${intExpr(c, 1)} * 1.5`, 1],
    [() => 'ext_float', 1],
    [() => { c.imports.add('math'); c.features.add('math'); return r.pick(['math.entropy(0, filesize)', 'math.mean(0, filesize)', 'math.deviation(0, filesize, 64.0)', 'math.serial_correlation(0, filesize)', 'math.monte_carlo_pi(0, filesize)', `math.percentage(${r.int(0, 255)})`, `math.entropy("${r.word(1, 6)}")`]); }, 2],
  ])();
}

function strExpr(c: CondCtx): string {
  const r = c.rng;
  return r.weighted<() => string>([
    [() => { c.features.add('external'); return 'ext_str'; }, 2],
    [() => `"${r.pick(['Vigil', 'vigil-test', 'abc', 'TEST', ''])}"`, 1],
    [() => { c.imports.add('hash'); c.features.add('hash'); c.features.add('hash-range'); return r.pick(['hash.md5(0, filesize)', `hash.sha1(0, ${r.int(1, 32)})`, 'hash.sha256(0, filesize)', `hash.md5("${r.word(0, 4)}")`]); }, 2],
    [() => { if (!c.modern) return 'ext_str'; c.imports.add('math'); c.features.add('math-to-string'); return `math.to_string(${intExpr(c, 1)})`; }, 0.5],
  ])();
}

function boolTerm(c: CondCtx, _depth: number): string {
  const r = c.rng;
  const s = () => sref(c);
  const off = () => r.pick(OFFSETS);
  const cmp = () => r.pick(['==', '!=', '<', '<=', '>', '>=']);
  const choices: [() => string | undefined, number][] = [
    [() => { const x = s(); return x && `$${x}`; }, 6],
    [() => { const x = s(); c.features.add('at'); const lit = r.chance(0.8); if (!lit) c.features.add('at-expr'); return x && `$${x} at ${lit ? off() : intExpr(c, 1)}`; }, 3],
    [() => { const x = s(); c.features.add('in'); const lo = off(); return x && `$${x} in (${lo}..${r.pick([String(lo + r.int(0, 40)), 'filesize', 'filesize - 10'])})`; }, 2],
    [() => { const x = s(); return x && `#${x} ${cmp()} ${r.int(0, 3)}`; }, 3],
    [() => { if (!c.modern) return undefined; const x = s(); c.features.add('count-in'); return x && `#${x} in (${off()}..${off() + r.int(0, 300)}) ${cmp()} ${r.int(0, 2)}`; }, 1],
    [() => { const x = s(); c.features.add('offset'); return x && `@${x}[${r.int(1, 2)}] ${cmp()} ${r.pick([...OFFSETS, 50, 500])}`; }, 2],
    [() => { const x = s(); c.features.add('length'); return x && `!${x}[${r.int(1, 2)}] ${cmp()} ${r.int(2, 12)}`; }, 2],
    [() => (c.strings.length ? `${quantifier(c, c.strings.length, true)} of ${stringSet(c)}` : undefined), 6],
    [() => { if (!c.strings.length) return undefined; c.features.add('of-in'); return `${quantifier(c, c.strings.length)} of ${stringSet(c)} in (${((lo) => `${lo}..${r.pick(['filesize', String(lo + r.int(10, 400))])}`)(off())})`; }, 2],
    [() => { if (!c.modern || !c.strings.length) return undefined; c.features.add('of-at'); return `${quantifier(c, c.strings.length)} of ${stringSet(c)} at ${off()}`; }, 1.5],
    [() => { if (c.earlier.length === 0) return undefined; c.features.add('rule-of'); const pick = r.sample(c.earlier, r.int(1, Math.min(4, c.earlier.length))); pick.forEach((n) => c.rulesUsed.add(n)); // A wildcard may only cover rules already declared: `r12_*` names rule 12 alone.
      const set = pick.map((n) => (r.chance(0.3) ? n.replace(/_.*/, '_*') : n)).join(', '); return `${quantifier(c, pick.length)} of (${set})`; }, 1],
    // Boolean tuples (`any of (a, b)`) are a YARA-X extension, not YARA 4.5 syntax; vigil refuses them.
    [() => { if (!c.modern || process.env['VIGIL_YARA_BOOL_TUPLES'] !== '1') return undefined; c.features.add('bool-of'); return `${r.pick(['any', 'all', 'none', '1', '2'])} of (${tupleItem(c)}, ${tupleItem(c)}, ${r.pick(['true', 'false', 'filesize > 100'])})`; }, 1],
    [() => { if (!c.strings.length) return undefined; c.features.add('for-of'); const body = r.pick(['$', '# > 1', `@ < ${r.pick([50, 300])}`, `! > ${r.int(3, 8)}`, `$ at ${off()}`, `$ in (0..${r.pick([64, 512])})`, `#  == ${r.int(1, 2)}`, '@[1] + ![1] <= filesize']); return `for ${quantifier(c, c.strings.length, c.modern, true)} of ${stringSet(c)} : (${body})`; }, 3],
    [() => { const x = s(); c.features.add('for-in'); return x && `for ${loopQ(c, ['any', 'all', 'none', '1', '2'])} i in (1..#${x}) : (@${x}[i] ${cmp()} ${r.pick([10, 100, 300])}${r.chance(0.4) ? ` and !${x}[i] ${cmp()} ${r.int(2, 10)}` : ''})`; }, 2],
    [() => { c.features.add('for-in'); return `for ${loopQ(c, ['any', 'all', 'none', '2'])} i in (${r.pick(['0..3', '0..filesize - 1', '1..8', 'filesize..filesize + 2'])}) : (uint8(i) ${cmp()} ${r.pick([0x20, 0x41, 0x7f, 0])})`; }, 1],
    [() => { c.features.add('for-in-list'); return `for ${loopQ(c, ['any', 'all', 'none', '1', '0'])} i in (${r.sample([1, 2, 8, 32, 100, 257], r.int(1, 4)).join(', ')}) : (${r.chance(0.5) && c.strings.length > 0 ? `$${s()} at i` : `uint8(i) ${cmp()} ${r.int(0, 255)}`})`; }, 1],
    [() => { c.features.add('for-nested'); const x = s(); return x && `for any i in (1..#${x}) : (for any j in (0..2) : (@${x}[i] + j == ${r.pick(OFFSETS)}))`; }, 0.5],
    [() => { c.imports.add('pe'); c.features.add('module-array'); return r.pick(['for any s in pe.sections : (s.name == ".text")', 'for all s in pe.sections : (s.raw_data_size > 0)', 'for any k, v in pe.version_info : (k == "CompanyName")', 'defined pe.number_of_sections', 'not defined pe.sections[0].name']); }, 0.3],
    [() => `filesize ${cmp()} ${r.pick([100, 500, 1000, 2000, '1KB', '2KB', '1MB'])}`, 2],
    [() => { c.features.add('float-div-zero'); return `filesize \\ (ext_float - 2.5) ${cmp()} ${r.pick(['0.0', '1000.0', '-1.0'])}`; }, 0.5],
    [() => { c.features.add('int-div'); return `(-filesize ${r.pick(['%', '\\'])} ${r.pick([3, 7, -5])}) ${cmp()} ${r.int(-3, 3)}`; }, 0.7],
    [() => { if (!c.modern) return undefined; c.imports.add('math'); c.features.add('math'); return `math.to_number(${r.pick(['true', 'false', 'ext_bool', 'filesize > 500'])}) ${cmp()} ${r.int(0, 1)}`; }, 0.3],
    [() => `${intExpr(c)} ${cmp()} ${intExpr(c)}`, 5],
    [() => `${floatExpr(c)} ${cmp()} ${r.chance(0.5) ? floatExpr(c) : intExpr(c, 1)}`, 2],
    [() => { c.features.add('string-op'); const op = r.pick(['contains', 'icontains', 'startswith', 'istartswith', 'endswith', 'iendswith', 'iequals', '==', '!=', '<', '>']); const right = r.pick([`"${r.pick(['vigil', 'Vigil', 'TEST', 'test', 'V', '', 'a'])}"`, strExpr(c)]); return `${strExpr(c)} ${op} ${right}`; }, 3],
    [() => { c.features.add('matches'); return `${strExpr(c)} matches /${r.pick(['^v.g', 'test$', '[0-9a-f]{2}[0-7]', 'T.S', '^[a-f]', 'il-T', '(a|e)\\d'])}/${r.pick(['', 'i', 's', 'is'])}`; }, 2],
    [() => { c.features.add('defined'); const k = r.int(0, 3); const x = k < 2 ? s() : undefined; const e = k === 0 && x ? `@${x}[${r.int(1, 3)}]` : k === 1 && x ? `(filesize \\ #${x})` : k === 2 ? 'ext_int' : `uint32(${r.pick([0, 1000, 5000])})`; return `${r.chance(0.3) ? 'not ' : ''}defined ${e}`; }, 2],
    [() => { c.imports.add('math'); c.features.add('math'); return `math.in_range(${floatExpr(c)}, 1.0, 3.0)`; }, 0.5],
    [() => { c.features.add('external'); return r.pick(['ext_bool', 'not ext_bool', `ext_int == ${r.int(6, 8)}`, `ext_float > ${r.pick(['2.0', '2.5', '3.0'])}`, 'ext_str == "Vigil-Test"']); }, 1],
    [() => { if (c.earlier.length === 0) return undefined; c.features.add('rule-ref'); const n = r.pick(c.earlier); c.rulesUsed.add(n); return n; }, 2],
    [() => { c.imports.add('time'); c.features.add('time'); return r.pick(['time.now() > 1600000000', 'time.now() < 1000']); }, 0.3],
    [() => { c.imports.add('console'); c.features.add('console'); return r.pick([`console.log("vigil-console: ${r.word(2, 5)}")`, `console.log("vigil-console: ", filesize)`, 'console.log("vigil-console: ", ext_float)', `console.hex("vigil-console: ", ${r.int(0, 255)})`]); }, 0.2],
    [() => r.pick(['true', 'false']), 0.5],
  ];
  for (;;) {
    const v = r.weighted(choices)();
    if (v !== undefined) return v;
  }
}

/** The quantifier of a `for … in` loop; `none` and `0` are tagged (yara 4.2.3 gets them wrong). */
function loopQ(c: CondCtx, qs: string[]): string {
  const q = c.rng.pick(qs);
  if (q === 'none' || q === '0') c.features.add('for-none');
  return q;
}

/** An item of a boolean tuple (`any of (a, b, c)`). */
function tupleItem(c: CondCtx): string {
  const r = c.rng;
  const x = sref(c);
  return r.pick([x ? `$${x}` : 'ext_bool', `filesize ${r.pick(['<', '>'])} ${r.pick([100, 600])}`, 'ext_str contains "Test"', `uint8(0) == ${r.int(0x20, 0x7a)}`]);
}

function boolExpr(c: CondCtx, depth = 0): string {
  const r = c.rng;
  if (depth >= 2 || r.chance(0.45)) return boolTerm(c, depth);
  const k = r.weighted<string>([['and', 4], ['or', 4], ['not', 1], ['paren', 1]]);
  if (k === 'not') return `not (${boolExpr(c, depth + 1)})`;
  if (k === 'paren') return `(${boolExpr(c, depth + 1)})`;
  return `(${boolExpr(c, depth + 1)} ${k} ${boolExpr(c, depth + 1)})`;
}

// ---------------------------------------------------------------------------------------------
// Rules and sets

function genRule(rng: Prng, name: string, modern: boolean, earlier: GenRule[], imports: Set<string>, opts: { isGlobal: boolean; isPrivate: boolean }): GenRule {
  const features = new Set<string>();
  const strings: GenString[] = [];
  const nStrings = opts.isGlobal ? 0 : rng.weighted<number>([[0, 1], [1, 3], [2, 4], [3, 3], [4, 2]]);
  const prefixes = ['$a', '$b', '$s', '$x'];
  const used = new Set<string>();
  for (let i = 0; i < nStrings; i++) {
    let id: string;
    do id = rng.pick(prefixes) + (rng.chance(0.5) ? String(rng.int(0, 9)) : rng.word(1, 2));
    while (used.has(id));
    used.add(id);
    const kind = rng.weighted<string>([['text', 5], ['hex', 3], ['regex', 3]]);
    const s = kind === 'text' ? genText(rng, id, modern) : kind === 'hex' ? genHex(rng, id, modern) : genRegex(rng, id);
    strings.push(s);
    s.features.forEach((f) => features.add(f));
  }
  const refs = new Set<string>();
  const ctx: CondCtx = { rng, modern, strings, earlier: earlier.map((e) => e.name), imports, features, used: refs, rulesUsed: new Set() };
  let cond = opts.isGlobal ? rng.pick(['filesize > 16', 'filesize < 100000', 'not (filesize == 3)']) : boolExpr(ctx);
  if (cond.includes('serial_correlation')) features.add('math-serial');
  const unref = strings.filter((s) => !refs.has(s.id));
  if (unref.length > 0) {
    // Every string must be referenced: join the rest by a quantifier over them.
    cond = `(${cond}) ${rng.pick(['or', 'and'])} ${rng.pick(['any', '1', 'all'])} of (${unref.map((s) => s.id).join(', ')})`;
  }
  const tags = rng.chance(0.3) ? rng.sample(['apt', 'trojan', 'test', 'Win32', 'tag_x'], rng.int(1, 3)) : [];
  const meta: [string, string | number | boolean][] = [];
  if (rng.chance(0.3)) {
    const n = rng.int(1, 3);
    for (let i = 0; i < n; i++) meta.push([rng.pick(['author', 'score', 'enabled', 'ref']) + i, rng.pick<string | number | boolean>([rng.word(2, 6), rng.int(0, 100), rng.chance(0.5)])]);
  }
  // A rule inherits the features of the rules it references (and so, transitively, theirs).
  for (const e of earlier) if (ctx.rulesUsed.has(e.name)) e.features.forEach((f) => features.add(f));
  if (opts.isGlobal) features.add('global');
  if (opts.isPrivate) features.add('private-rule');
  const head = `${opts.isGlobal ? 'global ' : ''}${opts.isPrivate ? 'private ' : ''}rule ${name}${tags.length ? ' : ' + tags.join(' ') : ''} {`;
  const body: string[] = [head];
  if (meta.length) {
    body.push('  meta:');
    for (const [k, v] of meta) body.push(`    ${k} = ${typeof v === 'string' ? `"${v}"` : String(v)}`);
  }
  if (strings.length) {
    body.push('  strings:');
    for (const s of strings) body.push(`    ${s.text}`);
  }
  body.push('  condition:', `    ${cond}`, '}');
  return { name, text: body.join('\n'), strings, features, isPrivate: opts.isPrivate, isGlobal: opts.isGlobal, tags, meta };
}

const TEXT_FILLER = enc('the quick brown fox jumps over lazy dogs; Lorem ipsum dolor sit amet, 0123456789 -_.:\n');

function filler(rng: Prng, n: number, alphabet: Uint8Array): Uint8Array {
  const kind = rng.weighted<string>([['text', 3], ['binary', 2], ['strings', 3], ['zeros', 1], ['wide', 1]]);
  if (kind === 'binary') return rng.bytes(n);
  if (kind === 'zeros') return new Uint8Array(n);
  if (kind === 'strings') return rng.bytesFrom(n, alphabet.length > 0 ? alphabet : TEXT_FILLER);
  if (kind === 'wide') return widen(rng.bytesFrom(Math.ceil(n / 2), TEXT_FILLER)).slice(0, n);
  return rng.bytesFrom(n, TEXT_FILLER);
}

function genFile(rng: Prng, rules: GenRule[], name: string): GenFile {
  // A few files pass 4 KiB, YARA's longest regex match (RE_SCAN_LIMIT).
  const size = rng.weighted<number>([[rng.int(4, 64), 1], [rng.int(64, 600), 4], [rng.int(600, 1600), 3], [rng.int(4200, 9000), 0.3]]);
  const withStrings = rules.filter((r) => r.strings.length > 0);
  const alphabetBytes: number[] = [];
  for (const r of rng.sample(withStrings, 4)) for (const s of r.strings) alphabetBytes.push(...s.hit(rng).slice(0, 8));
  const data = filler(rng, size, Uint8Array.from(alphabetBytes));
  const payloads: { p: Uint8Array; place?: 'start' | 'end' }[] = [];
  const nPay = size < 64 ? rng.int(0, 2) : rng.int(10, 36);
  for (let i = 0; i < nPay && withStrings.length > 0; i++) {
    const r = rng.pick(withStrings);
    for (const s of rng.chance(0.5) ? r.strings : rng.sample(r.strings, rng.int(1, r.strings.length))) {
      const p = rng.chance(0.7) ? s.hit(rng) : s.miss(rng);
      payloads.push(s.place ? { p, place: s.place } : { p });
      if (rng.chance(0.2)) payloads.push({ p });
    }
  }
  let out = data;
  for (const { p, place } of payloads) {
    if (p.length > out.length) out = cat(out, new Uint8Array(p.length - out.length + rng.int(0, 8)));
    if (place && rng.chance(0.7)) out.set(p, place === 'start' ? 0 : out.length - p.length);
    else if (rng.chance(0.3)) out.set(p, rng.pick(OFFSETS.filter((o) => o + p.length <= out.length).concat([out.length - p.length])));
    else {
      // Inserted rather than written over, so that payloads do not erase each other.
      const at = rng.int(0, out.length);
      out = cat(out.subarray(0, at), p, out.subarray(at));
    }
  }
  return { name, data: out };
}

/** A whole corpus for one seed. */
export function generateCorpus(seed: number | string, opts: GenOptions = DEFAULT_GEN): GenSet[] {
  const root = new Prng(seed);
  const sets: GenSet[] = [];
  for (let si = 0; si < opts.sets; si++) {
    const rng = root.fork(`set${si}`);
    const modern = rng.chance(opts.modernShare);
    const imports = new Set<string>();
    const rules: GenRule[] = [];
    const hasGlobal = rng.chance(0.15);
    for (let ri = 0; ri < opts.rulesPerSet; ri++) {
      const name = `r${ri}_${rng.word(2, 4)}`;
      const isGlobal = hasGlobal && ri === 0;
      const isPrivate = !isGlobal && rng.chance(0.05);
      rules.push(genRule(rng, name, modern, rules.slice(-12), imports, { isGlobal, isPrivate }));
    }
    const frng = root.fork(`files${si}`);
    const files: GenFile[] = [];
    for (let fi = 0; fi < opts.filesPerSet; fi++) files.push(genFile(frng, rules, `s${si}_f${String(fi).padStart(2, '0')}.bin`));
    sets.push({ name: `set${si}${modern ? '_modern' : ''}`, modern, imports: [...imports].sort(), rules, files });
  }
  return sets;
}
