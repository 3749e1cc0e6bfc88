/**
 * Body-signature grammar: hex text → BodyPattern, and offset text → OffsetSpec
 * (reference §1.2; ClamAV `cli_add_content_match_pattern`, `cli_ac_addsig`, `cli_caloff`).
 *
 * In: the hex field of an `.ndb` line or an `.ldb` content subsignature, with its location.
 * Out: the pattern (parts, gaps, nodes) or diagnostics saying exactly where and why the text is
 * not a signature ClamAV would load. The parser accepts precisely what ClamAV 1.4 accepts, quirks
 * included, because a database that loads in one and not the other is an incompatibility:
 *  - the first `{n}` with 0 < n < 128 is rewritten to n × `??`, repeatedly; once the first `{…}`
 *    is a range (or ≥ 128), every `{…}` and `*` splits the signature into parts;
 *  - each part needs ≥ 2 elements and 2 consecutive fixed bytes (the automaton's atom);
 *  - `[x-y]` edge ranges (≤ 32) attach a single byte at the very start or end of a part;
 *  - `(B)`/`(L)`/`(W)` are zero-width at a part's edges (a left one only when `(` is the part's
 *    first character, so `!(B)` at the start consumes a byte) and consume a byte elsewhere;
 *  - alternatives are fixed (single-byte or equal-length, no wildcards, negatable) or generic
 *    (any lengths, nibbles, nesting ≤ 15, never negated).
 */
import type { Diagnostic } from '../../core/diagnostics.js';
import { ENGINE_LIMITS } from '../../core/limits.js';
import type { BodyPattern, Gap, OffsetSpec, PatternNode } from './types.js';

export interface BodySigContext {
  /** File and line for diagnostics. */
  file: string;
  line: number;
  /** 1-based column where the hex text starts in the line. */
  column: number;
  /** The whole source line, for diagnostics. */
  sourceLine?: string;
}

export interface BodySigOptions {
  /** ldb `::i`: literal bytes compare case-insensitively (makes every alternative generic, as in ClamAV). */
  nocase?: boolean;
}

/** Thrown inside the parser only; converted to a diagnostic at the API boundary. */
class SigError {
  constructor(readonly code: string, readonly message: string, readonly at: number, readonly length = 1, readonly help?: string) {}
}

const HEX = /^[0-9a-fA-F]$/;

function hexVal(c: string): number {
  return parseInt(c, 16);
}

/** Parses the hex body of an `.ndb` signature or an `.ldb` content subsignature. */
export function parseBodyPattern(hex: string, ctx: BodySigContext, opts: BodySigOptions = {}): { pattern?: BodyPattern; diagnostics: Diagnostic[] } {
  try {
    const pattern = parsePattern(hex, opts);
    return { pattern, diagnostics: [] };
  } catch (e) {
    if (e instanceof SigError) {
      return {
        diagnostics: [{
          code: e.code,
          severity: 'error',
          message: e.message,
          location: { file: ctx.file, line: ctx.line, column: ctx.column + Math.max(0, e.at), length: e.length },
          ...(ctx.sourceLine !== undefined ? { sourceLine: ctx.sourceLine } : {}),
          ...(e.help ? { help: e.help } : {}),
        }],
      };
    }
    throw e;
  }
}

/**
 * signature := part (separator part)*
 * separator := "*" | "{" range "}"          (only after the `{n<128}` rewriting below)
 */
function parsePattern(source: string, opts: BodySigOptions): BodyPattern {
  // Columns in diagnostics refer to the original text; `map[i]` is the original index of expanded char i.
  let text = source;
  let map: number[] = Array.from({ length: text.length }, (_, i) => i);

  // Rewrite `{n}` (0 < n < 128) at the first `{` to n × `??`, as long as the first `{` is such.
  for (;;) {
    const b = text.indexOf('{');
    if (b < 0) break;
    const m = /^\{(\d+)\}/.exec(text.slice(b));
    if (!m) break;
    const n = Number(m[1]);
    if (!(n > 0 && n < 128)) break;
    const rep = '??'.repeat(n);
    const at = map[b]!;
    text = text.slice(0, b) + rep + text.slice(b + m[0].length);
    map = [...map.slice(0, b), ...new Array<number>(rep.length).fill(at), ...map.slice(b + m[0].length)];
  }

  const parts: { text: string; start: number }[] = [];
  const gaps: Gap[] = [];
  const hasBrace = text.includes('{');
  const hasStar = text.includes('*');
  if (hasBrace || hasStar) {
    let depth = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === '(') depth++;
      else if (c === ')') depth--;
      else if ((c === '{' || c === '*') && depth > 0) {
        throw new SigError('clamav.body.gap-in-alternative',
          c === '*' ? 'an alternative (…|…) cannot contain the unbounded wildcard *' : 'an alternative (…|…) cannot contain a {n-m} wildcard',
          map[i]!);
      }
    }
  }
  if (hasBrace) {
    // Split on `{…}` and `*`; every part, empty or not, goes to the part parser.
    let start = 0;
    let i = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === '*') {
        parts.push({ text: text.slice(start, i), start });
        gaps.push({ min: 0, max: Infinity });
        start = ++i;
      } else if (c === '{') {
        const close = text.indexOf('}', i);
        if (close < 0) throw new SigError('clamav.body.unclosed-brace', 'missing } after {', map[i]!);
        parts.push({ text: text.slice(start, i), start });
        gaps.push(parseRange(text.slice(i + 1, close), map[i]!));
        start = i = close + 1;
      } else i++;
    }
    parts.push({ text: text.slice(start), start });
  } else if (hasStar) {
    // cli_strtok semantics: runs of `*` count as one separator and a leading `*` yields nothing;
    // a trailing `*` leaves a missing last part, which ClamAV refuses.
    const pieces: { text: string; start: number }[] = [];
    let i = 0;
    while (i < text.length && text[i] === '*') i++;
    let start = i;
    for (; i <= text.length; i++) {
      if (i === text.length || text[i] === '*') {
        if (i > start) pieces.push({ text: text.slice(start, i), start });
        while (i + 1 < text.length && text[i + 1] === '*') i++;
        start = i + 1;
      }
    }
    const expected = (text.match(/\*/g) ?? []).length + 1;
    if (pieces.length < expected) {
      throw new SigError('clamav.body.empty-part', 'a * wildcard has no pattern on one side', map[Math.max(0, text.lastIndexOf('*'))]!);
    }
    for (let k = 0; k < pieces.length; k++) {
      parts.push(pieces[k]!);
      if (k > 0) gaps.push({ min: 0, max: Infinity });
    }
  } else {
    parts.push({ text, start: 0 });
  }

  const parsed = parts.map((p) => parsePart(p.text, (i) => map[p.start + i] ?? map[map.length - 1] ?? 0, opts));
  return { parts: parsed, gaps, source };
}

/** range := n | n "-" | "-" m | n "-" m     (ClamAV: max 0 means unbounded) */
function parseRange(body: string, at: number): Gap {
  const bad = () => new SigError('clamav.body.bad-range', `invalid wildcard {${body}}: expected {n}, {n-}, {-m} or {n-m}`, at, body.length + 2);
  if (!body.includes('-')) {
    if (!/^\d*$/.test(body)) throw bad();
    const n = body === '' ? 0 : Number(body);
    return { min: n, max: n === 0 ? Infinity : n };
  }
  // cli_strtok on "-": empty fields are skipped, a third field is an error.
  const fields = body.split('-').filter((f) => f !== '');
  if (fields.length > 2) throw bad();
  let min = 0;
  let max = 0;
  if (body.startsWith('-')) {
    if (fields.length !== 1 || !/^\d+$/.test(fields[0]!)) throw bad();
    max = Number(fields[0]);
  } else {
    if (fields.length === 0 || !fields.every((f) => /^\d+$/.test(f))) throw bad();
    min = Number(fields[0]);
    if (fields.length === 2) max = Number(fields[1]);
  }
  return { min, max: max === 0 ? Infinity : max };
}

/**
 * part := [ anchor "[" n ["-" m] "]" ] core [ "[" n ["-" m] "]" anchor ]
 * core := ( element | "(" alternatives ")" | "!(" alternatives ")" | "(B)" | "(L)" | "(W)" )+
 */
function parsePart(text: string, orig: (i: number) => number, opts: BodySigOptions): PatternNode[] {
  if (Math.floor(text.length / 2) < 2) {
    throw new SigError('clamav.body.too-short', text.length === 0 ? 'empty pattern part (two separators in a row, or one at an edge)' : `pattern part "${text}" is too short: at least two bytes are needed`, orig(0), Math.max(1, text.length));
  }
  let core = text;
  let coreStart = 0;
  let left: PatternNode[] = [];
  let right: PatternNode[] = [];
  if (text.includes('[')) {
    // Up to two `[x-y]`: the first one either follows a 2-character anchor at the start, or
    // precedes a 2-character anchor at the end; a second one can only be the end anchor.
    let rest = text;
    let restStart = 0;
    for (let k = 0; k < 2; k++) {
      const open = rest.indexOf('[');
      if (open < 0) break;
      const close = rest.indexOf(']', open);
      if (close < 0) throw new SigError('clamav.body.unclosed-bracket', 'missing ] after [', orig(restStart + open));
      const body = rest.slice(open + 1, close);
      const rm = /^(\d+)(?:-(\d+))?/.exec(body);
      if (!rm) throw new SigError('clamav.body.bad-edge-range', `invalid range [${body}]: expected [n] or [n-m]`, orig(restStart + open), body.length + 2);
      const n1 = Number(rm[1]);
      const n2 = rm[2] !== undefined ? Number(rm[2]) : n1;
      if (n1 > n2 || n2 > ENGINE_LIMITS.maxEdgeRange) {
        throw new SigError('clamav.body.bad-edge-range', `invalid range [${body}]: need n ≤ m ≤ ${ENGINE_LIMITS.maxEdgeRange}`, orig(restStart + open), body.length + 2);
      }
      const before = rest.slice(0, open);
      const after = rest.slice(close + 1);
      if (before.length === 2 && k === 0) {
        left = [anchorByte(before, orig(restStart)), { k: 'skip', min: n1, max: n2 }];
        rest = after;
        restStart += close + 1;
        core = rest;
        coreStart = restStart;
      } else if (after.length === 2) {
        right = [{ k: 'skip', min: n1, max: n2 }, anchorByte(after, orig(restStart + close + 1))];
        core = rest.slice(0, open);
        coreStart = restStart;
        break;
      } else {
        throw new SigError('clamav.body.edge-range-position', '[n-m] is only allowed right after a single first byte or right before a single last byte',
          orig(restStart + open), body.length + 2, 'write the range as {n-m} to split the signature instead');
      }
    }
    if (core.includes('[')) {
      throw new SigError('clamav.body.edge-range-position', 'at most one [n-m] at each end of a pattern part', orig(coreStart + core.indexOf('[')));
    }
  }
  const nodes = parseCore(core, (i) => orig(coreStart + i), opts);
  const all = [...left, ...nodes, ...right];
  // Static content: ≥ 2 elements, two consecutive fixed bytes (ClamAV's min AC depth).
  const elems = nodes.filter((n) => !(n.k === 'class' && n.edge));
  if (elems.length < 2) {
    throw new SigError('clamav.body.too-short', 'pattern part is shorter than two elements', orig(coreStart), Math.max(1, core.length));
  }
  let run = 0;
  let best = 0;
  for (const n of elems) {
    if (n.k === 'byte' && n.mask === 0xff) { run++; best = Math.max(best, run); } else run = 0;
  }
  if (best < 2) {
    throw new SigError('clamav.body.no-static', "can't find a static subpattern of length 2: each part needs two consecutive fixed bytes", orig(coreStart), Math.max(1, core.length));
  }
  return all;
}

function anchorByte(two: string, at: number): PatternNode {
  const n = parseHexPair(two[0]!, two[1]!, at);
  return n;
}

function parseHexPair(a: string, b: string, at: number, nocase = false): PatternNode {
  if (a === '?' && b === '?') return { k: 'byte', value: 0, mask: 0 };
  if (b === '?' && HEX.test(a)) return { k: 'byte', value: hexVal(a) << 4, mask: 0xf0 };
  if (a === '?' && HEX.test(b)) return { k: 'byte', value: hexVal(b), mask: 0x0f };
  if (HEX.test(a) && HEX.test(b)) {
    const value = (hexVal(a) << 4) | hexVal(b);
    const isLetter = (value >= 0x41 && value <= 0x5a) || (value >= 0x61 && value <= 0x7a);
    if (nocase && isLetter) return { k: 'byte', value: value | 0x20, mask: 0xff, nocase: true };
    return { k: 'byte', value, mask: 0xff };
  }
  const badAt = HEX.test(a) || a === '?' ? at + 1 : at;
  const ch = HEX.test(a) || a === '?' ? b : a;
  throw new SigError('clamav.body.bad-hex', `invalid character '${printable(ch)}' in hex signature`, badAt);
}

function printable(c: string): string {
  const code = c.charCodeAt(0);
  return code >= 0x20 && code < 0x7f ? c : `\\x${code.toString(16).padStart(2, '0')}`;
}

/** core := ( hexpair | "(" … ")" | "!(" … ")" )+ */
function parseCore(core: string, orig: (i: number) => number, opts: BodySigOptions): PatternNode[] {
  const nodes: PatternNode[] = [];
  let i = 0;
  while (i < core.length) {
    const c = core[i]!;
    if (c === '(' || (c === '!' && core[i + 1] === '(')) {
      const negated = c === '!';
      const open = negated ? i + 1 : i;
      const close = findClose(core, open);
      if (close < 0) throw new SigError('clamav.body.unclosed-paren', 'missing closing parenthesis', orig(open));
      const inner = core.slice(open + 1, close);
      if (inner.length === 0) throw new SigError('clamav.body.empty-block', 'empty () block', orig(open), 2);
      const nest = countOpens(inner); // ClamAV counts the parentheses inside the outer one
      if (nest > ENGINE_LIMITS.maxAltNesting) {
        throw new SigError('clamav.body.nesting', `alternatives nested ${nest + 1} deep; at most ${ENGINE_LIMITS.maxAltNesting + 1}`, orig(open));
      }
      if (inner === 'B' || inner === 'L' || inner === 'W') {
        const atLeft = open === 0; // ClamAV: only when `(` is the first character (so `!(B)` at the start is not an edge)
        const atRight = close === core.length - 1;
        const node: PatternNode = { k: 'class', cls: inner, negated };
        if (atRight) node.edge = 'right';
        else if (atLeft) node.edge = 'left';
        nodes.push(node);
      } else {
        nodes.push(parseAlternatives(inner, negated, (j) => orig(open + 1 + j), opts, orig(i)));
      }
      i = close + 1;
      continue;
    }
    if (i + 1 >= core.length) {
      throw new SigError('clamav.body.odd-length', 'hex signature has an odd number of digits', orig(i));
    }
    const d = core[i + 1]!;
    if (d === '(' || d === '!') {
      throw new SigError('clamav.body.odd-length', 'hex digits before ( do not form whole bytes', orig(i));
    }
    nodes.push(parseHexPair(c, d, orig(i), opts.nocase));
    i += 2;
  }
  return nodes;
}

function findClose(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')') { depth--; if (depth === 0) return i; }
  }
  return -1;
}

function countOpens(s: string): number {
  let n = 0;
  for (const c of s) if (c === '(') n++;
  return n;
}

/**
 * alternatives := branch ("|" branch)*
 * Fixed: no nesting, no `?`, all branches the same length (and no `::i`); may be negated.
 * Generic: anything else; never negated; branches may nest.
 */
function parseAlternatives(inner: string, negated: boolean, orig: (j: number) => number, opts: BodySigOptions, negAt: number): PatternNode {
  const branchTexts = splitTopLevel(inner);
  const fixed = !opts.nocase && !inner.includes('(') && !inner.includes('?') &&
    branchTexts.every((b) => b.text.length === branchTexts[0]!.text.length);
  if (negated && !fixed) {
    throw new SigError('clamav.body.negated-generic', "can't negate a generic alternative (branches of different lengths, wildcards or nesting)", negAt);
  }
  if (negated && inner.includes('!')) {
    throw new SigError('clamav.body.negated-generic', 'alternatives cannot contain negations', negAt);
  }
  const branches: PatternNode[][] = [];
  for (const b of branchTexts) {
    if (fixed) {
      if (b.text.length % 2 !== 0) throw new SigError('clamav.body.odd-length', 'alternative with an odd number of hex digits', orig(b.start), Math.max(1, b.text.length));
      const seq: PatternNode[] = [];
      for (let k = 0; k < b.text.length; k += 2) seq.push(parseHexPair(b.text[k]!, b.text[k + 1]!, orig(b.start + k)));
      branches.push(seq);
    } else {
      branches.push(parseGenericBranch(b.text, (j) => orig(b.start + j), opts));
    }
  }
  return { k: 'alt', negated, branches };
}

function splitTopLevel(s: string): { text: string; start: number }[] {
  const out: { text: string; start: number }[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      out.push({ text: s.slice(start, i), start });
      start = i + 1;
    }
  }
  out.push({ text: s.slice(start), start });
  return out;
}

/** branch := ( hexpair | "(" alternatives ")" )*   — the empty branch matches the empty string. */
function parseGenericBranch(text: string, orig: (j: number) => number, opts: BodySigOptions): PatternNode[] {
  const seq: PatternNode[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '!') throw new SigError('clamav.body.negated-generic', 'generic alternatives cannot contain negations', orig(i));
    if (c === '(') {
      const close = findClose(text, i);
      if (close < 0) throw new SigError('clamav.body.unclosed-paren', 'missing closing parenthesis', orig(i));
      const inner = text.slice(i + 1, close);
      if (inner === 'B' || inner === 'L' || inner === 'W') {
        throw new SigError('clamav.body.class-in-alternative', `(${inner}) is not allowed inside alternatives`, orig(i), 3);
      }
      const alt = parseAlternatives(inner, false, (j) => orig(i + 1 + j), opts, orig(i));
      // Nested alternatives are always generic in ClamAV (they are expanded into flat strings).
      seq.push({ k: 'alt', negated: false, branches: alt.k === 'alt' ? alt.branches : [] });
      i = close + 1;
      continue;
    }
    if (i + 1 >= text.length || text[i + 1] === '(' || text[i + 1] === '|') {
      throw new SigError('clamav.body.odd-length', 'alternative with an odd number of hex digits', orig(i));
    }
    seq.push(parseHexPair(c, text[i + 1]!, orig(i), opts.nocase));
    i += 2;
  }
  return seq;
}

// ───────────────────────────── offsets ─────────────────────────────

/**
 * Parses an offset field (reference §1.2; `cli_caloff`):
 * offset := "*" | base [ "," shift ]
 * base   := n | "EOF-" n | "EP+" n | "EP-" n | "S" x "+" n | "SE" x | "SL+" n | "VI" | "$" g "$"
 * ClamAV quirks kept: an empty number is 0 (`EP+`, `EOF-`, `5,`), `VI` accepts anything after
 * it, `Sx+n` ignores trailing text. EP/S/SE/SL/VI are only valid for targets 1, 6 and 9.
 */
export function parseOffset(text: string, target: number, ctx: BodySigContext): { offset?: OffsetSpec; diagnostics: Diagnostic[] } {
  const fail = (code: string, message: string, help?: string) => ({
    diagnostics: [{
      code, severity: 'error' as const, message,
      location: { file: ctx.file, line: ctx.line, column: ctx.column, length: Math.max(1, text.length) },
      ...(ctx.sourceLine !== undefined ? { sourceLine: ctx.sourceLine } : {}),
      ...(help ? { help } : {}),
    }],
  });
  if (text === '*') return { offset: { kind: 'any' }, diagnostics: [] };
  if (text.length > 64) return fail('clamav.offset.too-long', 'offset is longer than 64 characters');
  const isNum = (s: string) => /^\d*$/.test(s);
  const num = (s: string) => (s === '' ? 0 : Math.min(Number(s), 0xffffffff));
  let base = text;
  let shift = 0;
  const comma = text.indexOf(',');
  if (comma >= 0) {
    const s = text.slice(comma + 1);
    if (!isNum(s)) return fail('clamav.offset.bad-shift', `invalid offset shift "${s}": expected a decimal number`);
    shift = num(s);
    base = text.slice(0, comma);
  }
  let offset: OffsetSpec;
  let relative = true;
  if (base.startsWith('EP+') || base.startsWith('EP-')) {
    const v = base.slice(3);
    if (!isNum(v)) return fail('clamav.offset.bad-value', `invalid entry-point offset "${base}"`, 'write EP+n or EP-n with a decimal n');
    offset = { kind: 'ep', n: base[2] === '+' ? num(v) : -num(v), shift };
  } else if (base.startsWith('S')) {
    if (base[1] === 'E') {
      const v = base.slice(2);
      if (!isNum(v)) return fail('clamav.offset.bad-section', `invalid section number in "${base}"`);
      offset = { kind: 'sectionEntire', index: num(v), shift };
    } else if (text.startsWith('SL+')) {
      const v = base.slice(3);
      if (!isNum(v)) return fail('clamav.offset.bad-value', `invalid offset "${base}"`);
      offset = { kind: 'lastSection', n: num(v), shift };
    } else {
      const m = /^S(\d+)\+(\d+)/.exec(base);
      if (!m) return fail('clamav.offset.bad-offset', `invalid section offset "${base}"`, 'write Sx+n, SEx or SL+n');
      offset = { kind: 'section', index: num(m[1]!), n: num(m[2]!), shift };
    }
  } else if (base.startsWith('EOF-')) {
    const v = base.slice(4);
    if (!isNum(v)) return fail('clamav.offset.bad-value', `invalid end-of-file offset "${base}"`);
    offset = { kind: 'eof', n: num(v), shift };
    relative = false;
  } else if (base.startsWith('VI')) {
    offset = { kind: 'versionInfo' };
  } else if (base.includes('$')) {
    const m = /^\$(\d+)\$/.exec(base);
    if (!m) return fail('clamav.offset.bad-macro', `invalid macro offset "${base}": expected $n$`);
    const g = num(m[1]!);
    if (g >= 32) return fail('clamav.offset.bad-macro', 'at most 32 macro groups ($0$ … $31$)');
    offset = { kind: 'macro', group: g };
    relative = false;
  } else {
    if (!isNum(base)) {
      return fail('clamav.offset.bad-value', `invalid offset "${base}"`, base === 'EP' ? 'write EP+0' : 'expected *, n, n,shift, EOF-n, EP+n, EP-n, Sx+n, SEx, SL+n or VI');
    }
    offset = { kind: 'abs', n: num(base), shift };
    relative = false;
  }
  if (relative && target !== 1 && target !== 6 && target !== 9) {
    return fail('clamav.offset.target', `offset "${text}" needs an executable target (1 PE, 6 ELF or 9 Mach-O), not target ${target}`);
  }
  return { offset, diagnostics: [] };
}

/** True if a plain signature goes to ClamAV's Boyer-Moore matcher, which needs ≥ 3 bytes. */
export function usesBoyerMoore(hex: string, offsetText: string, target: number): boolean {
  // Only the generic and PE roots have a Boyer-Moore matcher; the others are Aho-Corasick only.
  if (target !== 0 && target !== 1) return false;
  if (hex.includes('{') || hex.includes('*')) return false;
  if (/[?([]/.test(hex)) return false;
  if (target === 1 && (offsetText === '*' || offsetText.includes(','))) return false;
  if (offsetText.includes('VI') || offsetText.includes('$')) return false;
  return true;
}
