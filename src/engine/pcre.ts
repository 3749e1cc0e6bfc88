/**
 * PCRE subsignatures of `.ldb`: ClamAV's regex (PCRE2 10.42, 8-bit, no UTF) → a JavaScript RegExp
 * that matches the same bytes, and the scan-time semantics of `cli_pcre_scanbuf` (offsets,
 * auto-anchoring, rolling `r`, encompass `e`, global `g`).
 *
 * In: the regex text and flags of a PCRE subsignature; at scan time the layer's bytes. Out: a
 * verdict on the regex (valid and translated, invalid as PCRE2 says, or valid but untranslatable)
 * with a problem list for diagnostics, and the offsets at which ClamAV would record matches.
 *
 * Why a translator and not a regex engine: JavaScript's backtracking regexes have PCRE's matching
 * order (leftmost, first alternative, greedy/lazy), so once the syntax is rewritten the matches are
 * PCRE's. The text is decoded as Latin-1, so every byte is one UTF-16 unit and indices are byte
 * offsets. The translator parses the whole regex into a tree and emits JavaScript from it, never
 * passing regex text through unparsed:
 * - every character, class and escape becomes an explicit byte set (`[\x41\x61]`), so that
 *   `\s`, `\w`, `.`, case folding (`i` folds ASCII letters only) and POSIX classes mean what
 *   PCRE2's default tables say, not what JavaScript's Unicode-aware tables say;
 * - `^ $ \A \z \Z` become lookarounds with PCRE's newline rules (`$` also before a final `\n`;
 *   multiline `^` not after a final `\n`), `E` (dollar-end-only) and `m` included;
 * - atomic groups, possessive quantifiers and `\R` become `(?=(X))\k` (a lookahead is atomic in
 *   JavaScript), with capture groups renumbered;
 * - lookbehinds are checked for PCRE2's fixed-length rule (an error in PCRE2 is an error here).
 *
 * Refused as unsupported (valid PCRE, signature not loaded, with a warning): recursion and
 * subroutine calls (`(?R)`, `(?1)`, `(?&n)`, `\g<n>`), conditionals `(?(…)…)`, backtracking verbs
 * and `(*…)` forms, callouts `(?C…)`, branch reset `(?|…)`, `\K`, `\G`, `\X`, `\p`/`\P`,
 * non-atomic lookarounds `(?*…)`, quantified lookarounds, duplicate group names (`(?J)`),
 * case-insensitive backreferences, backreferences to a group that may be unset or not yet closed
 * (JavaScript matches those as empty, PCRE fails them), backreferences, atomic groups and `\R`
 * inside lookbehinds, `[[:<:]]`/`[[:>:]]`, and negated POSIX upper/lower classes under `i`.
 * Invalid PCRE (the whole database fails in ClamAV) is reported as an error.
 *
 * Known differences kept: PCRE2 gives up (no match) past its match limits while JavaScript keeps
 * backtracking; a global regex that matches the empty string makes ClamAV loop until its scan time
 * limit, while `evalPcre` stops there; a PCRE subsignature with a `$n$` macro offset makes ClamAV's
 * scan fail, while `evalPcre` never matches it. Files above PCREMaxFileSize are the caller's to skip.
 */
import type { PcreProblem } from '../signatures/clamav/ldb.js';
import type { OffsetSpec, Subsig } from '../signatures/clamav/types.js';

export type { PcreProblem };

// ───────────────────────────── byte sets ─────────────────────────────

type ByteSet = Uint8Array;

const newSet = (): ByteSet => new Uint8Array(256);
function setOf(...cs: number[]): ByteSet { const s = newSet(); for (const c of cs) s[c] = 1; return s; }
function rangeSet(a: number, b: number): ByteSet { const s = newSet(); for (let c = a; c <= b; c++) s[c] = 1; return s; }
function union(a: ByteSet, b: ByteSet): ByteSet { for (let c = 0; c < 256; c++) if (b[c]) a[c] = 1; return a; }
function invert(a: ByteSet): ByteSet { const s = newSet(); for (let c = 0; c < 256; c++) s[c] = a[c] ? 0 : 1; return s; }
function fold(a: ByteSet): ByteSet {
  const s = a.slice();
  for (let c = 0x41; c <= 0x5a; c++) if (a[c] || a[c + 0x20]) { s[c] = 1; s[c + 0x20] = 1; }
  return s;
}
const isUpper = (c: number): boolean => c >= 0x41 && c <= 0x5a;
const isLower = (c: number): boolean => c >= 0x61 && c <= 0x7a;
const isDigitC = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isAlnumC = (c: number): boolean => isUpper(c) || isLower(c) || isDigitC(c);
const pred = (f: (c: number) => boolean): ByteSet => { const s = newSet(); for (let c = 0; c < 256; c++) if (f(c)) s[c] = 1; return s; };

// PCRE2's default ("C" locale) character tables.
const DIGIT = rangeSet(0x30, 0x39);
const WORD = pred((c) => isAlnumC(c) || c === 0x5f);
const SPACE = setOf(0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20);
const HSPACE = setOf(0x09, 0x20, 0xa0);
const VSPACE = setOf(0x0a, 0x0b, 0x0c, 0x0d, 0x85);
const POSIX: Record<string, ByteSet> = {
  alpha: pred((c) => isUpper(c) || isLower(c)),
  lower: pred(isLower),
  upper: pred(isUpper),
  alnum: pred(isAlnumC),
  ascii: rangeSet(0, 0x7f),
  blank: setOf(0x09, 0x20),
  cntrl: pred((c) => c < 0x20 || c === 0x7f),
  digit: DIGIT,
  graph: rangeSet(0x21, 0x7e),
  print: rangeSet(0x20, 0x7e),
  punct: pred((c) => c >= 0x21 && c <= 0x7e && !isAlnumC(c)),
  space: SPACE,
  word: WORD,
  xdigit: pred((c) => isDigitC(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)),
};

// ───────────────────────────── tree ─────────────────────────────

type Assertion = 'start' | 'end' | 'endNl' | 'mlStart' | 'mlEnd' | 'wordB' | 'notWordB';

type Node =
  | { t: 'set'; set: ByteSet }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; branches: Node[] }
  | { t: 'group'; kind: 'cap' | 'noncap' | 'atomic'; body: Node; cap?: number; js?: number; close?: number }
  | { t: 'look'; ahead: boolean; negative: boolean; body: Node }
  | { t: 'repeat'; body: Node; min: number; max: number; lazy: boolean; possessive: boolean; js?: number }
  | { t: 'assert'; a: Assertion }
  | { t: 'newline'; js?: number } // \R
  | { t: 'backref'; ref: number | string; at: number; caseless: boolean; target?: number }
  | { t: 'unsupported' };

interface Flags { i: boolean; m: boolean; s: boolean; x: boolean; xx: boolean; U: boolean; n: boolean; J: boolean }

class Syntax { constructor(readonly message: string, readonly at: number) {} }

const MAX_QUANT = 65535;
const MAX_NAME = 32;
/** PCRE2's default limit on parenthesis nesting (PARENS_NEST_LIMIT). */
const MAX_NEST = 250;

// ───────────────────────────── parser ─────────────────────────────

/**
 * regex  := alt
 * alt    := seq ( "|" seq )*
 * seq    := ( item quantifier? )*
 * item   := char | "." | "^" | "$" | class | escape | "(" group ")"
 * quantifier := ( "*" | "+" | "?" | "{" n ( "," m? )? "}" ) ( "?" | "+" )?
 */
class Parser {
  pos = 0;
  caps = 0;
  /** Lookarounds the parser is inside (PCRE2 refuses `\K` there). */
  lookDepth = 0;
  readonly names = new Map<string, number>();
  readonly problems: PcreProblem[] = [];
  readonly backrefs: Extract<Node, { t: 'backref' }>[] = [];
  /** Group numbers and names used as conditions `(?(n)…)`: PCRE2 refuses ones that do not exist. */
  readonly conditionRefs: { ref: number | string; at: number }[] = [];

  constructor(readonly src: string, readonly dollarEndOnly: boolean) {}

  code(i: number): number { return this.src.charCodeAt(i); }
  peek(k = 0): string | undefined { return this.src[this.pos + k]; }
  eof(): boolean { return this.pos >= this.src.length; }

  unsupported(what: string, at: number): Node {
    this.problems.push({ severity: 'warning', code: 'clamav.pcre.unsupported', message: `${what} cannot be translated exactly; the signature is not loaded`, at });
    return { t: 'unsupported' };
  }

  /** In extended mode: blanks and `#` comments (to the next newline) between items. */
  skipX(f: Flags): void {
    if (!f.x) return;
    for (;;) {
      const c = this.peek();
      if (c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r') { this.pos++; continue; }
      if (c === '#') {
        while (!this.eof() && this.peek() !== '\n') this.pos++;
        continue;
      }
      return;
    }
  }

  parseAlt(outer: Flags, depth: number): Node {
    const f = { ...outer };
    const branches: Node[] = [this.parseSeq(f, depth)];
    while (this.peek() === '|') {
      this.pos++;
      branches.push(this.parseSeq(f, depth));
    }
    return branches.length === 1 ? branches[0]! : { t: 'alt', branches };
  }

  parseSeq(f: Flags, depth: number): Node {
    const items: Node[] = [];
    for (;;) {
      this.skipX(f);
      const c = this.peek();
      if (c === undefined || c === '|') break;
      if (c === ')') {
        if (depth === 0) throw new Syntax('unmatched closing parenthesis', this.pos);
        break;
      }
      const start = this.pos;
      const got = this.parseItem(f, depth);
      if (got === 'quantifier') throw new Syntax('quantifier does not follow a repeatable item', start);
      if (got === null) continue;
      const [nodes, repeatable] = got;
      if (nodes.length === 0) continue;
      const last = nodes.pop()!;
      items.push(...nodes);
      this.skipX(f);
      const q = this.parseQuantifier(f);
      if (!q) { items.push(last); continue; }
      if (!repeatable) throw new Syntax('quantifier does not follow a repeatable item', q.at);
      let body: Node = last;
      if (last.t === 'look') body = this.unsupported('a quantified lookaround assertion', start);
      items.push({ t: 'repeat', body, min: q.min, max: q.max, lazy: q.lazy, possessive: q.possessive });
      this.skipX(f);
      const again = this.peek();
      if (again === '*' || again === '+' || again === '?' || (again === '{' && this.quantifierAhead())) {
        throw new Syntax('quantifier does not follow a repeatable item', this.pos);
      }
    }
    return items.length === 1 ? items[0]! : { t: 'seq', items };
  }

  /** True if the text at `pos` is a `{n}`, `{n,}` or `{n,m}` quantifier (otherwise `{` is a literal). */
  quantifierAhead(): boolean {
    return /^\{\d+(,\d*)?\}/.test(this.src.slice(this.pos, this.pos + 20));
  }

  parseQuantifier(f: Flags): { min: number; max: number; lazy: boolean; possessive: boolean; at: number } | undefined {
    const at = this.pos;
    const c = this.peek();
    let min: number;
    let max: number;
    if (c === '*') { min = 0; max = Infinity; this.pos++; }
    else if (c === '+') { min = 1; max = Infinity; this.pos++; }
    else if (c === '?') { min = 0; max = 1; this.pos++; }
    else if (c === '{' && this.quantifierAhead()) {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos))!;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (min > MAX_QUANT || (max !== Infinity && max > MAX_QUANT)) throw new Syntax('number too big in {} quantifier', this.pos + m[0].length - 1);
      if (max < min) throw new Syntax('numbers out of order in {} quantifier', this.pos + m[0].length - 1);
      this.pos += m[0].length;
    } else return undefined;
    this.skipX(f);
    let lazy = false;
    let possessive = false;
    if (this.peek() === '?') { lazy = true; this.pos++; } else if (this.peek() === '+') { possessive = true; this.pos++; }
    if (f.U && !possessive) lazy = !lazy;
    return { min, max, lazy, possessive, at };
  }

  literal(f: Flags, c: number): Node {
    const s = setOf(c);
    return { t: 'set', set: f.i ? fold(s) : s };
  }

  /** One item: the nodes it stands for (a `\Q…\E` run is several) and whether a quantifier may follow; null for nothing (comments, option settings). */
  parseItem(f: Flags, depth: number): [Node[], boolean] | null | 'quantifier' {
    const at = this.pos;
    const c = this.src[this.pos]!;
    switch (c) {
      case '(': return this.parseGroup(f, depth);
      case '[': return [[this.parseClass(f)], true];
      case '.': this.pos++; return [[{ t: 'set', set: f.s ? rangeSet(0, 255) : invert(setOf(0x0a)) }], true];
      case '^': this.pos++; return [[{ t: 'assert', a: f.m ? 'mlStart' : 'start' }], false];
      case '$': this.pos++; return [[{ t: 'assert', a: f.m ? 'mlEnd' : this.dollarEndOnly ? 'end' : 'endNl' }], false];
      case '\\': return this.parseEscape(f);
      case '*': case '+': case '?': return 'quantifier';
      case '{':
        if (this.quantifierAhead()) return 'quantifier';
        this.pos++;
        return [[this.literal(f, 0x7b)], true];
      default:
        this.pos++;
        return [[this.literal(f, this.code(at))], true];
    }
  }

  readName(terminator: string): string {
    const at = this.pos;
    const m = /^[A-Za-z0-9_]*/.exec(this.src.slice(this.pos))![0];
    if (m === '') throw new Syntax('group name expected', at);
    if (isDigitC(m.charCodeAt(0))) throw new Syntax('subpattern name must start with a non-digit', at);
    if (m.length > MAX_NAME) throw new Syntax(`subpattern name is too long (maximum ${MAX_NAME} code units)`, at);
    this.pos += m.length;
    if (this.peek() !== terminator) throw new Syntax(`syntax error in subpattern name (missing terminator '${terminator}')`, this.pos);
    this.pos++;
    return m;
  }

  /** Skips to the `)` closing a construct we do not translate (verbs, callouts, recursion). */
  skipToClose(at: number, what: string): [Node[], boolean] {
    const close = this.src.indexOf(')', this.pos);
    if (close < 0) throw new Syntax('missing closing parenthesis', at);
    this.pos = close + 1;
    return [[this.unsupported(what, at)], true];
  }

  groupBody(f: Flags, depth: number, at: number): Node {
    const body = this.parseAlt(f, depth + 1);
    if (this.peek() !== ')') throw new Syntax('missing closing parenthesis', at);
    this.pos++;
    return body;
  }

  lookBody(f: Flags, depth: number, at: number): Node {
    this.lookDepth++;
    const body = this.groupBody(f, depth, at);
    this.lookDepth--;
    return body;
  }

  parseGroup(f: Flags, depth: number): [Node[], boolean] | null {
    const at = this.pos;
    if (depth + 1 > MAX_NEST) throw new Syntax('parentheses are too deeply nested', at);
    this.pos++; // (
    const next = this.peek();
    if (next === '*') {
      if (!/[A-Za-z:]/.test(this.peek(1) ?? '')) throw new Syntax('quantifier does not follow a repeatable item', this.pos);
      const m = /^\*([A-Za-z_]*)(:?)/.exec(this.src.slice(this.pos))!;
      const name = m[1]!;
      const assertion = /^(pla|plb|nla|nlb|napla|naplb|atomic|sr|asr|positive_lookahead|positive_lookbehind|negative_lookahead|negative_lookbehind|non_atomic_positive_lookahead|non_atomic_positive_lookbehind|atomic|script_run|atomic_script_run)$/.test(name);
      if (assertion && m[2] === ':') {
        this.pos += m[0].length;
        this.groupBody(f, depth, at);
        return [[this.unsupported(`(*${name}:…)`, at)], true];
      }
      return this.skipToClose(at, `the verb (*${name}…)`);
    }
    if (next !== '?') {
      if (f.n) return [[{ t: 'group', kind: 'noncap', body: this.groupBody(f, depth, at) }], true];
      const cap = ++this.caps; // numbered by its opening parenthesis
      return [[{ t: 'group', kind: 'cap', body: this.groupBody(f, depth, at), cap }], true];
    }
    this.pos++; // ?
    const k = this.peek();
    switch (k) {
      case ':': this.pos++; return [[{ t: 'group', kind: 'noncap', body: this.groupBody(f, depth, at) }], true];
      case '>': this.pos++; return [[{ t: 'group', kind: 'atomic', body: this.groupBody(f, depth, at) }], true];
      case '|': this.pos++; this.groupBody(f, depth, at); return [[this.unsupported('a branch-reset group (?|…)', at)], true];
      case '=': case '!':
        this.pos++;
        return [[{ t: 'look', ahead: true, negative: k === '!', body: this.lookBody(f, depth, at) }], true];
      case '*': this.pos++; this.groupBody(f, depth, at); return [[this.unsupported('a non-atomic lookahead (?*…)', at)], true];
      case '#': {
        const close = this.src.indexOf(')', this.pos);
        if (close < 0) throw new Syntax('missing ) at end of (?# comment', at);
        this.pos = close + 1;
        return null;
      }
      case '<': {
        const k2 = this.peek(1);
        if (k2 === '=' || k2 === '!') {
          this.pos += 2;
          return [[{ t: 'look', ahead: false, negative: k2 === '!', body: this.lookBody(f, depth, at) }], true];
        }
        if (k2 === '*') { this.pos += 2; this.groupBody(f, depth, at); return [[this.unsupported('a non-atomic lookbehind (?<*…)', at)], true]; }
        this.pos++;
        return this.namedCapture(f, depth, at, '>');
      }
      case "'": this.pos++; return this.namedCapture(f, depth, at, "'");
      case 'P': {
        const k2 = this.peek(1);
        if (k2 === '<') { this.pos += 2; return this.namedCapture(f, depth, at, '>'); }
        if (k2 === '=') {
          this.pos += 2;
          const name = this.readName(')');
          return [[this.backref(name, at, f)], true];
        }
        if (k2 === '>') { this.pos += 2; this.readName(')'); return [[this.unsupported('a subroutine call (?P>name)', at)], true]; }
        throw new Syntax('unrecognized character after (?P', this.pos + 1);
      }
      case '&': this.pos++; this.readName(')'); return [[this.unsupported('a subroutine call (?&name)', at)], true];
      case 'R': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9': case '+': case '-':
        if (k === '-' && !/^-\d/.test(this.src.slice(this.pos))) break; // (?-i) is an option setting
        if (k === 'R' || /^[+-]?\d+\)/.test(this.src.slice(this.pos))) return this.skipToClose(at, 'recursion or a subroutine call');
        break;
      case '(': {
        // condition: (?(n)…), (?(<name>)…), (?('name')…), (?(R…)…), (?(DEFINE)…), or an assertion (?(?=…)…)
        if (this.src[this.pos + 1] === '?') this.parseGroup(f, depth + 1);
        else {
          const close = this.src.indexOf(')', this.pos);
          if (close < 0) throw new Syntax('missing closing parenthesis', at);
          const cond = this.src.slice(this.pos + 1, close);
          const m = /^(?:[+-]?(\d+)|<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')$/.exec(cond);
          if (m && m[1] !== undefined && !/^[+-]/.test(cond)) this.conditionRefs.push({ ref: Number(m[1]), at: this.pos + 1 });
          else if (m && (m[2] ?? m[3]) !== undefined) this.conditionRefs.push({ ref: (m[2] ?? m[3])!, at: this.pos + 1 });
          this.pos = close + 1;
        }
        this.groupBody(f, depth, at);
        return [[this.unsupported('a conditional group (?(…)…)', at)], true];
      }
      case 'C': return this.skipToClose(at, 'a callout (?C…)');
      default: break;
    }
    return this.optionSetting(f, depth, at);
  }

  /** (?imnsxUJ-imnsxUJ) for the rest of the group, or (?…:…) for a group of its own. (?^…) resets i, m, n, s, x first. */
  optionSetting(f: Flags, depth: number, at: number): [Node[], boolean] | null {
    const g = { ...f };
    let on = true;
    if (this.peek() === '^') { g.i = false; g.m = false; g.n = false; g.s = false; g.x = false; g.xx = false; this.pos++; }
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new Syntax('missing closing parenthesis', at);
      this.pos++;
      if (c === ')' || c === ':') {
        if (c === ')') { Object.assign(f, g); return null; }
        return [[{ t: 'group', kind: 'noncap', body: this.groupBody(g, depth, at) }], true];
      }
      switch (c) {
        case '-': if (!on) throw new Syntax('unrecognized character after (? or (?-', this.pos - 1); on = false; break;
        case 'i': g.i = on; break;
        case 'm': g.m = on; break;
        case 's': g.s = on; break;
        case 'n': g.n = on; break;
        case 'U': g.U = on; break;
        case 'J': g.J = on; break;
        case 'x':
          if (this.peek() === 'x') { this.pos++; g.x = on; g.xx = on; } else { g.x = on; if (!on) g.xx = false; }
          break;
        default: throw new Syntax('unrecognized character after (? or (?-', this.pos - 1);
      }
    }
  }

  namedCapture(f: Flags, depth: number, at: number, terminator: string): [Node[], boolean] {
    const name = this.readName(terminator);
    const num = ++this.caps;
    if (this.names.has(name)) {
      if (!f.J) throw new Syntax('two named subpatterns have the same name (PCRE2_DUPNAMES not set)', at);
      this.problems.push({ severity: 'warning', code: 'clamav.pcre.unsupported', message: 'duplicate group names cannot be translated exactly; the signature is not loaded', at });
    } else this.names.set(name, num);
    const body = this.parseAlt(f, depth + 1);
    if (this.peek() !== ')') throw new Syntax('missing closing parenthesis', at);
    this.pos++;
    return [[{ t: 'group', kind: 'cap', body, cap: num, close: this.pos }], true];
  }

  backref(ref: number | string, at: number, f: Flags): Node {
    const n: Extract<Node, { t: 'backref' }> = { t: 'backref', ref, at, caseless: f.i };
    this.backrefs.push(n);
    return n;
  }

  /** Reads `\`-escapes outside classes. */
  parseEscape(f: Flags): [Node[], boolean] {
    const at = this.pos;
    this.pos++;
    const c = this.peek();
    if (c === undefined) throw new Syntax('\\ at end of pattern', at);
    this.pos++;
    const set = (s: ByteSet): [Node[], boolean] => [[{ t: 'set', set: s }], true];
    const assert = (a: Assertion): [Node[], boolean] => [[{ t: 'assert', a }], false];
    switch (c) {
      case 'd': return set(DIGIT.slice());
      case 'D': return set(invert(DIGIT));
      case 'w': return set(WORD.slice());
      case 'W': return set(invert(WORD));
      case 's': return set(SPACE.slice());
      case 'S': return set(invert(SPACE));
      case 'h': return set(HSPACE.slice());
      case 'H': return set(invert(HSPACE));
      case 'v': return set(VSPACE.slice());
      case 'V': return set(invert(VSPACE));
      case 'C': return set(rangeSet(0, 255));
      case 'N':
        if (this.peek() === '{') {
          throw new Syntax(this.peek(1) === 'U' ? '\\N{U+dddd} is supported only in Unicode (UTF) mode' : 'PCRE2 does not support \\F, \\L, \\l, \\N{name}, \\U, or \\u', this.pos);
        }
        return set(invert(setOf(0x0a)));
      case 'R': return [[{ t: 'newline' }], true];
      case 'X': return [[this.unsupported('\\X (extended grapheme cluster)', at)], true];
      case 'b': return assert('wordB');
      case 'B': return assert('notWordB');
      case 'A': return assert('start');
      case 'z': return assert('end');
      case 'Z': return assert('endNl');
      case 'G': return [[this.unsupported('\\G', at)], false];
      case 'K':
        if (this.lookDepth) throw new Syntax('\\K is not allowed in lookarounds', at);
        return [[this.unsupported('\\K', at)], false];
      case 'E': return [[], false];
      case 'Q': {
        const end = this.src.indexOf('\\E', this.pos);
        const lit = end < 0 ? this.src.slice(this.pos) : this.src.slice(this.pos, end);
        this.pos = end < 0 ? this.src.length : end + 2;
        return [lit.split('').map((ch) => this.literal(f, ch.charCodeAt(0))), true];
      }
      case 'p': case 'P':
        if (this.peek() === '{') {
          const close = this.src.indexOf('}', this.pos);
          if (close < 0) throw new Syntax('malformed \\P or \\p sequence', at);
          this.pos = close + 1;
        } else if (this.eof()) throw new Syntax('malformed \\P or \\p sequence', at);
        else this.pos++;
        return [[this.unsupported('\\p/\\P (Unicode properties)', at)], true];
      case 'g': return this.parseG(f, at);
      case 'k': {
        const open = this.peek();
        const term = open === '<' ? '>' : open === "'" ? "'" : open === '{' ? '}' : undefined;
        if (!term) throw new Syntax('\\k is not followed by a braced, angle-bracketed, or quoted name', this.pos);
        this.pos++;
        const name = this.readName(term);
        return [[this.backref(name, at, f)], true];
      }
      case 'F': case 'L': case 'l': case 'U': case 'u':
        throw new Syntax('PCRE2 does not support \\F, \\L, \\l, \\N{name}, \\U, or \\u', this.pos - 1);
      default: break;
    }
    const code = c.charCodeAt(0);
    if (isDigitC(code) && c !== '0') {
      // A backreference if < 10, starting with 8 or 9, or if that many groups precede; else octal.
      const digits = /^\d+/.exec(this.src.slice(this.pos - 1))![0];
      const n = Number(digits);
      if (n < 10 || c === '8' || c === '9' || n <= this.caps) {
        this.pos += digits.length - 1;
        return [[this.backref(n, at, f)], true];
      }
      this.pos--;
      return [[this.literal(f, this.octal(at))], true];
    }
    const ch = this.charEscape(c, at);
    if (ch === undefined) throw new Syntax('unrecognized character follows \\', at + 1);
    return [[this.literal(f, ch)], true];
  }

  /** `\g{n}`, `\g{-n}`, `\gn`, `\g-n`, `\g{name}`: backreferences; `\g<…>`, `\g'…'`: subroutine calls. */
  parseG(f: Flags, at: number): [Node[], boolean] {
    const rest = this.src.slice(this.pos);
    if (rest[0] === '<' || rest[0] === "'") return this.skipTo(rest[0] === '<' ? '>' : "'", at, 'a subroutine call \\g<…>');
    let m = /^\{(-?)(\d+)\}/.exec(rest) ?? /^(-?)(\d+)/.exec(rest);
    if (m) {
      this.pos += m[0].length;
      let n = Number(m[2]);
      if (m[1] === '-') {
        if (n === 0 || n > this.caps) throw new Syntax('reference to non-existent subpattern', at);
        n = this.caps - n + 1;
      } else if (n === 0) throw new Syntax('a numbered reference must not be zero', at);
      return [[this.backref(n, at, f)], true];
    }
    m = /^\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(rest);
    if (m) {
      this.pos += m[0].length;
      return [[this.backref(m[1]!, at, f)], true];
    }
    if (/^\{\+\d+\}/.test(rest)) { this.pos += rest.indexOf('}') + 1; return [[this.unsupported('a relative forward reference \\g{+n}', at)], true]; }
    throw new Syntax('\\g is not followed by a braced, angle-bracketed, or quoted name/number or by a plain number', at);
  }

  skipTo(term: string, at: number, what: string): [Node[], boolean] {
    const close = this.src.indexOf(term, this.pos + 1);
    if (close < 0) throw new Syntax('syntax error in subpattern name (missing terminator)', at);
    this.pos = close + 1;
    return [[this.unsupported(what, at)], true];
  }

  /** Octal digits at `pos` (up to three, starting with the current character); value ≤ 0377. */
  octal(at: number): number {
    const m = /^[0-7]{1,3}/.exec(this.src.slice(this.pos))![0];
    this.pos += m.length;
    const v = parseInt(m, 8);
    if (v > 0xff) throw new Syntax('octal value is greater than \\377 in 8-bit non-UTF mode', at);
    return v;
  }

  /**
   * Escapes that stand for one character, the same in and out of classes (`\b` in a class is
   * handled by the caller). `c` has been consumed. Undefined: not a character escape.
   */
  charEscape(c: string, at: number): number | undefined {
    switch (c) {
      case 'a': return 0x07;
      case 'e': return 0x1b;
      case 'f': return 0x0c;
      case 'n': return 0x0a;
      case 'r': return 0x0d;
      case 't': return 0x09;
      case '0': {
        const m = /^[0-7]{0,2}/.exec(this.src.slice(this.pos))![0];
        this.pos += m.length;
        return m === '' ? 0 : parseInt(m, 8);
      }
      case 'o': {
        if (this.peek() !== '{') throw new Syntax('missing opening brace after \\o', this.pos);
        const m = /^\{([0-7]*)\}/.exec(this.src.slice(this.pos));
        if (!m) throw new Syntax('non-octal character in \\o{} (closing brace missing?)', this.pos);
        if (m[1] === '') throw new Syntax('digits missing in \\x{} or \\o{} or \\N{U+}', this.pos);
        this.pos += m[0].length;
        const v = parseInt(m[1]!, 8);
        if (v > 0xff) throw new Syntax('character code point value in \\x{} or \\o{} is too large', this.pos - 1);
        return v;
      }
      case 'x': {
        if (this.peek() === '{') {
          const m = /^\{([0-9a-fA-F]*)\}/.exec(this.src.slice(this.pos));
          if (!m) throw new Syntax('non-hex character in \\x{} (closing brace missing?)', this.pos);
          if (m[1] === '') throw new Syntax('digits missing in \\x{} or \\o{} or \\N{U+}', this.pos);
          this.pos += m[0].length;
          const v = parseInt(m[1]!, 16);
          if (v > 0xff) throw new Syntax('character code point value in \\x{} or \\o{} is too large', this.pos - 1);
          return v;
        }
        const m = /^[0-9a-fA-F]{0,2}/.exec(this.src.slice(this.pos))![0];
        this.pos += m.length;
        return m === '' ? 0 : parseInt(m, 16);
      }
      case 'c': {
        const x = this.peek();
        if (x === undefined) throw new Syntax('\\c at end of pattern', at);
        const xc = x.charCodeAt(0);
        if (xc < 0x20 || xc > 0x7e) throw new Syntax('\\c must be followed by a printable ASCII character', this.pos);
        this.pos++;
        return (isLower(xc) ? xc - 0x20 : xc) ^ 0x40;
      }
      default: {
        const code = c.charCodeAt(0);
        if (isAlnumC(code)) return undefined;
        return code;
      }
    }
  }

  /**
   * class := "[" "^"? "]"? ( range | posix | escape | char )* "]"
   * range := single "-" single      (not after or before a class escape such as \d)
   */
  parseClass(f: Flags): Node {
    const at = this.pos;
    this.pos++;
    let negate = false;
    if (this.peek() === '^') { negate = true; this.pos++; }
    if (!negate && (this.src.startsWith('[:<:]]]', this.pos) || this.src.startsWith('[:>:]]]', this.pos))) {
      this.pos += 7;
      return this.unsupported('[[:<:]] and [[:>:]]', at);
    }
    const set = newSet();
    const add = (s: ByteSet) => union(set, f.i ? fold(s) : s);
    let first = true;
    for (;;) {
      if (this.eof()) throw new Syntax('missing terminating ] for character class', at);
      let c = this.peek()!;
      if (c === ']' && !first) { this.pos++; break; }
      first = false;
      if (f.xx && (c === ' ' || c === '\t')) { this.pos++; continue; }
      // POSIX class
      if (c === '[' && (this.peek(1) === ':' || this.peek(1) === '.' || this.peek(1) === '=')) {
        const kind = this.peek(1)!;
        const term = this.src.indexOf(`${kind}]`, this.pos + 2);
        const stop = this.src.slice(this.pos + 2, term < 0 ? undefined : term);
        if (term >= 0 && !/[\\[\]]/.test(stop)) {
          if (kind !== ':') throw new Syntax('POSIX collating elements are not supported', this.pos);
          let name = stop;
          let neg = false;
          if (name.startsWith('^')) { neg = true; name = name.slice(1); }
          const p = Object.prototype.hasOwnProperty.call(POSIX, name) ? POSIX[name] : undefined;
          if (!p) throw new Syntax('unknown POSIX class name', this.pos);
          if (neg && f.i && (name === 'upper' || name === 'lower')) this.unsupported(`[:^${name}:] with caseless matching`, this.pos);
          add(neg ? invert(p) : p);
          this.pos = term + 2;
          if (this.peek() === '-' && this.peek(1) !== ']') throw new Syntax('invalid range in character class', this.pos);
          continue;
        }
      }
      let single: number | undefined;
      let klass: ByteSet | undefined;
      const startAt = this.pos;
      if (c === '\\') {
        const r = this.classEscape();
        if (r === null) continue;
        if (typeof r === 'number') single = r; else klass = r;
      } else {
        this.pos++;
        single = c.charCodeAt(0);
      }
      if (klass) {
        add(klass);
        if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== undefined) throw new Syntax('invalid range in character class', this.pos);
        continue;
      }
      // range?
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== undefined) {
        const save = this.pos;
        this.pos++;
        c = this.peek()!;
        let hi: number | undefined;
        if (c === '\\') {
          const r = this.classEscape();
          if (r === null) { this.pos = save; add(setOf(single!)); continue; }
          if (typeof r !== 'number') throw new Syntax('invalid range in character class', startAt);
          hi = r;
        } else if (c === '[' && (this.peek(1) === ':' || this.peek(1) === '.' || this.peek(1) === '=')) {
          const term = this.src.indexOf(`${this.peek(1)}]`, this.pos + 2);
          if (term >= 0) throw new Syntax('invalid range in character class', this.pos);
          this.pos++;
          hi = 0x5b;
        } else {
          this.pos++;
          hi = c.charCodeAt(0);
        }
        if (hi < single!) throw new Syntax('range out of order in character class', this.pos - 1);
        add(rangeSet(single!, hi));
        continue;
      }
      add(setOf(single!));
    }
    return { t: 'set', set: negate ? invert(set) : set };
  }

  /** An escape inside a class: a character, a set (`\d` …), or null for nothing (`\E`, empty `\Q\E`). */
  classEscape(): number | ByteSet | null {
    const at = this.pos;
    this.pos++;
    const c = this.peek();
    if (c === undefined) throw new Syntax('\\ at end of pattern', at);
    this.pos++;
    switch (c) {
      case 'd': return DIGIT.slice();
      case 'D': return invert(DIGIT);
      case 'w': return WORD.slice();
      case 'W': return invert(WORD);
      case 's': return SPACE.slice();
      case 'S': return invert(SPACE);
      case 'h': return HSPACE.slice();
      case 'H': return invert(HSPACE);
      case 'v': return VSPACE.slice();
      case 'V': return invert(VSPACE);
      case 'b': return 0x08;
      case 'N': throw new Syntax('\\N is not supported in a class', at + 1);
      case 'E': return null;
      case 'Q': {
        const end = this.src.indexOf('\\E', this.pos);
        const lit = end < 0 ? this.src.slice(this.pos) : this.src.slice(this.pos, end);
        this.pos = end < 0 ? this.src.length : end + 2;
        if (lit === '') return null;
        const s = newSet();
        for (const ch of lit) s[ch.charCodeAt(0)] = 1;
        return s;
      }
      case 'p': case 'P':
        if (this.peek() === '{') { const close = this.src.indexOf('}', this.pos); this.pos = close < 0 ? this.src.length : close + 1; } else this.pos++;
        this.unsupported('\\p/\\P (Unicode properties)', at);
        return newSet();
      case '8': case '9': return c.charCodeAt(0);
      case 'F': case 'L': case 'l': case 'U': case 'u':
        throw new Syntax('PCRE2 does not support \\F, \\L, \\l, \\N{name}, \\U, or \\u', at + 1);
      default: break;
    }
    if (c >= '1' && c <= '7') { this.pos--; return this.octal(at); }
    if ('ABCGKRXZzgk'.includes(c)) throw new Syntax('escape sequence is invalid in character class', at + 1);
    const ch = this.charEscape(c, at);
    if (ch === undefined) throw new Syntax('unrecognized character follows \\', at + 1);
    return ch;
  }
}

// ───────────────────────────── checks on the tree ─────────────────────────────

/** Fixed width of a node in bytes, or undefined if it varies (PCRE2's lookbehind rule). */
function width(n: Node): number | undefined {
  switch (n.t) {
    case 'set': return 1;
    case 'assert': case 'look': return 0;
    case 'seq': {
      let w = 0;
      for (const i of n.items) { const x = width(i); if (x === undefined) return undefined; w += x; }
      return w;
    }
    case 'alt': {
      const ws = n.branches.map(width);
      return ws.every((x) => x !== undefined && x === ws[0]) ? ws[0] : undefined;
    }
    case 'group': return width(n.body);
    case 'repeat': {
      const x = width(n.body);
      return x !== undefined && n.min === n.max ? x * n.min : undefined;
    }
    default: return undefined;
  }
}

interface PathStep { node: Node; branch: number }

/**
 * Walks the tree: numbers capture groups in order, resolves and vets backreferences, and checks
 * lookbehinds. Problems go to `p.problems`; syntax errors are thrown.
 */
function analyse(root: Node, p: Parser): void {
  const total = p.caps;
  for (const c of p.conditionRefs) {
    const ok = typeof c.ref === 'number' ? c.ref >= 1 && c.ref <= total : p.names.has(c.ref);
    if (!ok) throw new Syntax('reference to non-existent subpattern', c.at);
  }

  const groupPath = new Map<number, PathStep[]>();
  const closed = new Set<number>();
  const walk = (n: Node, path: PathStep[], inBehind: boolean): void => {
    switch (n.t) {
      case 'group': {
        if (n.kind === 'atomic' && inBehind) p.unsupported('an atomic group inside a lookbehind', 0);
        const here = [...path, { node: n, branch: 0 }];
        if (n.kind === 'cap') groupPath.set(n.cap!, path);
        walk(n.body, here, inBehind);
        if (n.kind === 'cap') closed.add(n.cap!);
        break;
      }
      case 'seq': n.items.forEach((i) => walk(i, [...path, { node: n, branch: 0 }], inBehind)); break;
      case 'alt': n.branches.forEach((b, k) => walk(b, [...path, { node: n, branch: k }], inBehind)); break;
      case 'repeat':
        if (n.possessive && inBehind) p.unsupported('a possessive quantifier inside a lookbehind', 0);
        walk(n.body, [...path, { node: n, branch: 0 }], inBehind);
        break;
      case 'look': {
        if (!n.ahead) {
          const branches = n.body.t === 'alt' ? n.body.branches : [n.body];
          const unknown = branches.some((b) => width(b) === undefined);
          if (unknown && !hasUnsupported(n.body) && !hasBackref(n.body)) throw new Syntax('lookbehind assertion is not fixed length', 0);
        }
        walk(n.body, [...path, { node: n, branch: 0 }], inBehind || !n.ahead);
        break;
      }
      case 'newline':
        if (inBehind) throw new Syntax('lookbehind assertion is not fixed length', 0);
        break;
      case 'backref': {
        let target: number | undefined;
        if (typeof n.ref === 'number') target = n.ref;
        else target = p.names.get(n.ref);
        if (target === undefined || target > total || target < 1) throw new Syntax('reference to non-existent subpattern', n.at);
        n.target = target;
        if (inBehind) { p.unsupported('a backreference inside a lookbehind', n.at); break; }
        if (n.caseless) { p.unsupported('a case-insensitive backreference', n.at); break; }
        if (!closed.has(target)) { p.unsupported('a backreference to a group that is not closed before it', n.at); break; }
        const gp = groupPath.get(target)!;
        let common = 0;
        while (common < gp.length && common < path.length && gp[common]!.node === path[common]!.node && gp[common]!.branch === path[common]!.branch) common++;
        for (let k = common; k < gp.length; k++) {
          const s = gp[k]!.node;
          const optional = (s.t === 'alt') || (s.t === 'repeat' && s.min === 0) || s.t === 'look';
          if (optional) { p.unsupported('a backreference to a group that may be unset', n.at); break; }
        }
        break;
      }
      default: break;
    }
  };
  walk(root, [], false);
}

function hasUnsupported(n: Node): boolean {
  switch (n.t) {
    case 'unsupported': return true;
    case 'seq': return n.items.some(hasUnsupported);
    case 'alt': return n.branches.some(hasUnsupported);
    case 'group': case 'look': case 'repeat': return hasUnsupported(n.body);
    default: return false;
  }
}

function hasBackref(n: Node): boolean {
  switch (n.t) {
    case 'backref': return true;
    case 'seq': return n.items.some(hasBackref);
    case 'alt': return n.branches.some(hasBackref);
    case 'group': case 'look': case 'repeat': return hasBackref(n.body);
    default: return false;
  }
}

// ───────────────────────────── emitting JavaScript ─────────────────────────────

function hex2(c: number): string { return `\\x${c.toString(16).padStart(2, '0')}`; }

function emitSet(s: ByteSet): string {
  const ranges: [number, number][] = [];
  for (let c = 0; c < 256; c++) {
    if (!s[c]) continue;
    let d = c;
    while (d + 1 < 256 && s[d + 1]) d++;
    ranges.push([c, d]);
    c = d;
  }
  if (ranges.length === 0) return '[^\\x00-\\xff]';
  if (ranges.length === 1 && ranges[0]![0] === ranges[0]![1]) {
    const c = ranges[0]![0];
    return isAlnumC(c) ? String.fromCharCode(c) : hex2(c);
  }
  return `[${ranges.map(([a, b]) => (a === b ? hex2(a) : b === a + 1 ? hex2(a) + hex2(b) : `${hex2(a)}-${hex2(b)}`)).join('')}]`;
}

const ASSERT_JS: Record<Assertion, string> = {
  start: '^',
  end: '$',
  endNl: '(?=\\n?$)',
  mlStart: '(?:^|(?<=\\n)(?=[\\s\\S]))',
  mlEnd: '(?=\\n|$)',
  wordB: '\\b',
  notWordB: '\\B',
};

/** Assigns JavaScript group numbers: user captures and the synthetic groups of atomic emulation, in order of their "(". */
function numberJs(root: Node): Map<number, number> {
  const capToJs = new Map<number, number>();
  let next = 0;
  const visit = (n: Node): void => {
    switch (n.t) {
      case 'group':
        if (n.kind === 'atomic') n.js = ++next;
        if (n.kind === 'cap') capToJs.set(n.cap!, ++next);
        visit(n.body);
        break;
      case 'repeat':
        if (n.possessive) n.js = ++next;
        visit(n.body);
        break;
      case 'newline': n.js = ++next; break;
      case 'seq': n.items.forEach(visit); break;
      case 'alt': n.branches.forEach(visit); break;
      case 'look': visit(n.body); break;
      default: break;
    }
  };
  visit(root);
  return capToJs;
}

function emit(n: Node, caps: Map<number, number>): string {
  switch (n.t) {
    case 'set': return emitSet(n.set);
    case 'seq': return n.items.map((i) => emitAtomic(i, caps, false)).join('');
    case 'alt': return n.branches.map((b) => emit(b, caps)).join('|');
    case 'group':
      if (n.kind === 'cap') return `(${emit(n.body, caps)})`;
      if (n.kind === 'noncap') return `(?:${emit(n.body, caps)})`;
      return `(?:(?=(${emit(n.body, caps)}))\\${n.js})`;
    case 'look': return `(?${n.ahead ? '' : '<'}${n.negative ? '!' : '='}${emit(n.body, caps)})`;
    case 'repeat': {
      const q = n.min === 0 && n.max === Infinity ? '*' : n.min === 1 && n.max === Infinity ? '+' : n.min === 0 && n.max === 1 ? '?'
        : n.max === Infinity ? `{${n.min},}` : n.min === n.max ? `{${n.min}}` : `{${n.min},${n.max}}`;
      const body = `${emitAtomic(n.body, caps, true)}${q}${n.lazy && !n.possessive ? '?' : ''}`;
      return n.possessive ? `(?:(?=(${body}))\\${n.js})` : body;
    }
    case 'assert': return ASSERT_JS[n.a];
    case 'newline': return `(?:(?=(\\r\\n|[\\n\\x0b\\x0c\\r\\x85]))\\${n.js})`;
    case 'backref': return `(?:\\${caps.get(n.target!)})`;
    case 'unsupported': return '(?!)';
  }
}

/** Emits a node so that it can stand as one item of a sequence (and, with `quantified`, take a quantifier). */
function emitAtomic(n: Node, caps: Map<number, number>, quantified: boolean): string {
  const s = emit(n, caps);
  if (n.t === 'alt' || (quantified && n.t === 'seq')) return `(?:${s})`;
  if (quantified && n.t === 'repeat') return `(?:${s})`;
  return s;
}

// ───────────────────────────── public API ─────────────────────────────

export interface CompiledPcre {
  /** The regex as written in the signature. */
  source: string;
  flags: string;
  /** The JavaScript regex source (no flags; used with `g` to search and `y` to anchor). */
  js: string;
  search: RegExp;
  sticky: RegExp;
  global: boolean;
  rolling: boolean;
  encompass: boolean;
  /** `A`: every match attempt is anchored at its start offset. */
  anchored: boolean;
}

const COMPILE_FLAGS = 'ismxAEU';
const MATCH_FLAGS = 'gre';

/**
 * Translates a ClamAV PCRE subsignature (regex text between the slashes, and the flags after the
 * last one) to JavaScript. `problems` lists errors (PCRE2 refuses the regex: ClamAV fails the
 * whole database) and warnings (untranslatable: do not load the signature); `compiled` is set
 * only when there are none.
 */
export function compilePcre(source: string, flags = ''): { compiled?: CompiledPcre; problems: PcreProblem[] } {
  for (let i = 0; i < flags.length; i++) {
    const c = flags[i]!;
    if (!COMPILE_FLAGS.includes(c) && !MATCH_FLAGS.includes(c)) {
      return { problems: [{ severity: 'error', code: 'clamav.pcre.flag', message: `unknown PCRE flag '${c}'`, at: 0 }] };
    }
  }
  const f: Flags = { i: flags.includes('i'), m: flags.includes('m'), s: flags.includes('s'), x: flags.includes('x'), xx: false, U: flags.includes('U'), n: false, J: false };
  const p = new Parser(source, flags.includes('E'));
  let root: Node;
  try {
    root = p.parseAlt(f, 0);
    if (!p.eof()) throw new Syntax('unmatched closing parenthesis', p.pos);
    analyse(root, p);
  } catch (e) {
    if (e instanceof RangeError) {
      return { problems: [{ severity: 'warning', code: 'clamav.pcre.unsupported', message: 'the regex is too complex to translate; the signature is not loaded', at: 0 }] };
    }
    if (!(e instanceof Syntax)) throw e;
    return { problems: [{ severity: 'error', code: 'clamav.pcre.syntax', message: `PCRE2 would refuse this regex: ${e.message}`, at: e.at }] };
  }
  if (p.problems.length) return { problems: p.problems };
  const js = emit(root, numberJs(root));
  let search: RegExp;
  let sticky: RegExp;
  try {
    search = new RegExp(js, 'g');
    sticky = new RegExp(js, 'y');
  } catch (e) {
    return { problems: [{ severity: 'warning', code: 'clamav.pcre.unsupported', message: `the translated regex is not valid JavaScript (${(e as Error).message}); the signature is not loaded`, at: 0 }] };
  }
  return {
    compiled: {
      source, flags, js, search, sticky,
      global: flags.includes('g'), rolling: flags.includes('r'), encompass: flags.includes('e'), anchored: flags.includes('A'),
    },
    problems: [],
  };
}

/** The checker `parseLdb` takes as `ctx.checkPcre`. */
export function pcreProblems(source: string, flags: string): PcreProblem[] {
  return compilePcre(source, flags).problems;
}

/** Where a relative offset (EP, sections) starts and how far it may shift: `cli_caloff` at scan time; undefined = no such place. */
export type OffsetResolver = (spec: OffsetSpec) => { min: number; max: number } | undefined;

type PcreSubsig = Extract<Subsig, { k: 'pcre' }>;

const compiledCache = new WeakMap<object, CompiledPcre | null>();

function compiledFor(sub: PcreSubsig): CompiledPcre | undefined {
  let c = compiledCache.get(sub);
  if (c === undefined) {
    c = compilePcre(sub.source, sub.flags).compiled ?? null;
    compiledCache.set(sub, c);
  }
  return c ?? undefined;
}

const ANY = -1;

/** The start of the searched window and its shift, as `cli_pcre_recaloff` computes them; undefined: the regex is not run. */
function pcreWindow(spec: OffsetSpec, fileSize: number, resolve?: OffsetResolver): { start: number; shift: number } | undefined {
  switch (spec.kind) {
    case 'any': case 'versionInfo': return { start: ANY, shift: 0 };
    case 'abs': return { start: spec.n >>> 0, shift: spec.shift >>> 0 };
    case 'eof': return { start: (fileSize - spec.n) >>> 0, shift: spec.shift >>> 0 };
    case 'macro': return undefined;
    default: {
      const r = resolve?.(spec);
      if (!r) return undefined;
      return { start: r.min >>> 0, shift: (r.max - r.min) >>> 0 };
    }
  }
}

/**
 * Runs a PCRE subsignature over a layer the way `cli_pcre_scanbuf` does (its trigger is the
 * caller's to check first) and returns the offsets ClamAV records as matches, in order:
 * - the window starts at the offset (`*`: 0) and runs to the end of the layer; with `e` and a
 *   shift it ends at offset+shift (the regex must fit inside, and `$` matches there);
 * - without `r`, a fixed offset with no shift anchors the regex at the offset; a match starting
 *   more than `shift` bytes after the offset does not count (without `e`);
 * - without `g` only the first match counts; with `g` the search resumes at the end of each match.
 * `buffer` may be the layer's bytes or their Latin-1 decoding (pass the string to reuse it).
 * Returns [] for a regex that could not be translated.
 */
export function evalPcre(sub: PcreSubsig, buffer: Uint8Array | string, fileSize?: number, offsetResolver?: OffsetResolver): number[] {
  const c = compiledFor(sub);
  if (!c) return [];
  const text = typeof buffer === 'string' ? buffer : Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength).toString('latin1');
  const length = text.length;
  const w = pcreWindow(sub.offset, fileSize ?? length, offsetResolver);
  if (!w) return [];
  const anchoredAtOffset = !c.rolling && w.shift === 0 && w.start !== ANY;
  const start = w.start === ANY ? 0 : w.start;
  if (start >= length) return [];
  const span = c.encompass && w.shift !== 0 ? Math.min(w.shift, length - start) : length - start;
  const subject = start === 0 && span === length ? text : text.substring(start, start + span);
  const re = anchoredAtOffset || c.anchored ? c.sticky : c.search;
  const out: number[] = [];
  let from = 0;
  for (;;) {
    re.lastIndex = from;
    const m = re.exec(subject);
    if (!m) break;
    if (!c.encompass && w.shift && m.index > w.shift) break;
    const at = start + m.index;
    if (out.length === 0 || at > out[out.length - 1]!) out.push(at);
    const end = m.index + m[0].length;
    if (!c.global || end >= span) break;
    if (m[0].length === 0) break; // ClamAV would retry the same empty match until its scan time limit
    from = end;
  }
  return out;
}
