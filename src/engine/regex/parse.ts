/**
 * YARA regular-expression source → AST + diagnostics.
 *
 * In: the text between the slashes of `/re/is` (as a string whose char codes are the bytes, one
 * per char: latin-1) and the flags (`i` nocase, `s` dot-all).
 * Out: an AST over bytes (every literal is already a 256-entry byte set, case-folded for `i`), or
 * no AST and at least one error diagnostic carrying the offending column.
 *
 * Why this shape: the matcher works on raw bytes, not Unicode, so the parser lowers every literal,
 * class, `.`, and `\w`-style escape to a byte set at once; the compiler then needs only four node
 * kinds (set, concatenation, alternation, repetition) plus zero-width assertions. The grammar and
 * errors follow YARA 4.2.3: no captures are reported, no backreferences, `{` that does not open a
 * valid interval is a literal, an unknown escape stands for the character itself, and greedy and
 * lazy quantifiers cannot be mixed in one regex. The parser never throws on user input.
 */

import { error, type Diagnostic } from '../../core/diagnostics.js';

/** Largest bound allowed in `{n,m}` (YARA's RE_MAX_RANGE, INT16_MAX); above it: "repeat interval too large". */
export const REGEX_MAX_REPEAT = 32767;
/** Deepest group nesting accepted; deeper input is rejected rather than recursing without bound. */
export const REGEX_MAX_NESTING = 256;

export interface RegexFlags {
  /** `i` / `nocase`: ASCII letters match either case. */
  nocase?: boolean;
  /** `s`: `.` also matches `\n`. */
  dotAll?: boolean;
}

/** `wideword` / `widenotword`: `\b` / `\B` rewritten for a `wide` string (never produced by the parser). */
export type AssertKind = 'bol' | 'eol' | 'word' | 'notword' | 'wideword' | 'widenotword';

export type RegexNode =
  | { kind: 'empty' }
  | { kind: 'set'; bytes: Uint8Array /* 256 entries, 1 = member */ }
  | { kind: 'cat'; items: RegexNode[] }
  | { kind: 'alt'; items: RegexNode[] }
  | { kind: 'rep'; min: number; max: number /* -1 = unbounded */; greedy: boolean; sub: RegexNode }
  | { kind: 'assert'; what: AssertKind };

export interface ParsedRegex {
  ast?: RegexNode;
  diagnostics: Diagnostic[];
  /** True when the regex uses a lazy quantifier (all quantifiers then are lazy or fixed). */
  lazy: boolean;
}

const WORD = makeSet((b) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f);
const SPACE = makeSet((b) => b === 0x20 || (b >= 0x09 && b <= 0x0d));
const DIGIT = makeSet((b) => b >= 0x30 && b <= 0x39);

function makeSet(pred: (b: number) => boolean): Uint8Array {
  const s = new Uint8Array(256);
  for (let b = 0; b < 256; b++) if (pred(b)) s[b] = 1;
  return s;
}

export function isWordByte(b: number): boolean {
  return WORD[b] === 1;
}

function negate(s: Uint8Array): Uint8Array {
  const out = new Uint8Array(256);
  for (let b = 0; b < 256; b++) out[b] = s[b] ? 0 : 1;
  return out;
}

function fold(s: Uint8Array): Uint8Array {
  for (let b = 0x41; b <= 0x5a; b++) {
    if (s[b] || s[b + 0x20]) {
      s[b] = 1;
      s[b + 0x20] = 1;
    }
  }
  return s;
}

class Parser {
  pos = 0;
  depth = 0;
  diags: Diagnostic[] = [];
  sawGreedy = false;
  sawLazy = false;
  constructor(
    readonly src: string,
    readonly flags: RegexFlags,
  ) {}

  fail(message: string, at: number, length = 1, code = 'yara.regex.invalid'): never {
    this.diags.push(
      error(code, message, { file: '', line: 0, column: at + 1, length: Math.max(1, length) }),
    );
    throw PARSE_STOP;
  }

  peek(): number {
    return this.pos < this.src.length ? this.src.charCodeAt(this.pos) & 0xff : -1;
  }

  // alternation := concat ('|' concat)*
  parseAlt(): RegexNode {
    const items = [this.parseCat()];
    while (this.peek() === 0x7c /* | */) {
      this.pos++;
      items.push(this.parseCat());
    }
    return items.length === 1 ? (items[0] as RegexNode) : { kind: 'alt', items };
  }

  // concat := repeat*
  parseCat(): RegexNode {
    const items: RegexNode[] = [];
    for (;;) {
      const c = this.peek();
      if (c === -1 || c === 0x7c || c === 0x29 /* ) */) break;
      items.push(this.parseRepeat());
    }
    if (items.length === 0) return { kind: 'empty' };
    return items.length === 1 ? (items[0] as RegexNode) : { kind: 'cat', items };
  }

  // repeat := atom (('*' | '+' | '?' | '{' n? (',' m?)? '}') '?'?)?
  parseRepeat(): RegexNode {
    const atomAt = this.pos;
    let node = this.parseAtom();
    let quantified = false;
    for (;;) {
      const c = this.peek();
      const qAt = this.pos;
      let min: number;
      let max: number;
      if (c === 0x2a) {
        min = 0;
        max = -1;
        this.pos++;
      } else if (c === 0x2b) {
        min = 1;
        max = -1;
        this.pos++;
      } else if (c === 0x3f) {
        min = 0;
        max = 1;
        this.pos++;
      } else if (c === 0x7b) {
        const iv = this.tryInterval();
        if (!iv) break;
        [min, max] = iv;
      } else break;
      if (quantified) this.fail('syntax error', qAt);
      if (node.kind === 'assert' || node.kind === 'empty') this.fail('syntax error', atomAt);
      quantified = true;
      let greedy = true;
      if (this.peek() === 0x3f) {
        this.pos++;
        greedy = false;
      }
      // Every quantifier counts, `{n}` included (yara 4.2.3 rejects `a{2}b+?` but accepts `a{2}?b+?`).
      if (greedy) this.sawGreedy = true;
      else this.sawLazy = true;
      if (this.sawGreedy && this.sawLazy) {
        this.fail("greedy and ungreedy quantifiers can't be mixed in a regular expression", qAt, this.pos - qAt, 'yara.regex.mixed-greediness');
      }
      node = { kind: 'rep', min, max, greedy, sub: node };
    }
    return node;
  }

  /** `{n}`, `{n,}`, `{,m}`, `{n,m}`, `{,}`; returns undefined (and consumes nothing) when `{` is a literal. */
  tryInterval(): [number, number] | undefined {
    const m = /^\{(\d*)(,?)(\d*)\}/.exec(this.src.slice(this.pos, this.pos + 40));
    if (!m) return undefined;
    const [all, a = '', comma = '', b = ''] = m;
    if (!comma && a === '') return undefined;
    const at = this.pos;
    this.pos += all.length;
    const min = a === '' ? 0 : Number(a);
    const max = comma ? (b === '' ? -1 : Number(b)) : min;
    if (min > REGEX_MAX_REPEAT || max > REGEX_MAX_REPEAT) this.fail('repeat interval too large', at, all.length);
    if (max !== -1 && max < min) this.fail('bad repeat interval', at, all.length);
    return [min, max];
  }

  // atom := '(' alternation ')' | '[' class ']' | '.' | '^' | '$' | escape | byte
  parseAtom(): RegexNode {
    const at = this.pos;
    const c = this.peek();
    switch (c) {
      case 0x28: {
        this.pos++;
        if (++this.depth > REGEX_MAX_NESTING) this.fail('regular expression nested too deeply', at);
        // `(?:` is accepted as a plain group.
        if (this.src.startsWith('?:', this.pos)) this.pos += 2;
        const inner = this.parseAlt();
        if (this.peek() !== 0x29) this.fail('syntax error', at);
        this.pos++;
        this.depth--;
        return inner;
      }
      case 0x5b:
        return { kind: 'set', bytes: this.parseClass() };
      case 0x2e:
        this.pos++;
        return { kind: 'set', bytes: makeSet((b) => this.flags.dotAll === true || b !== 0x0a) };
      case 0x5e:
        this.pos++;
        return { kind: 'assert', what: 'bol' };
      case 0x24:
        this.pos++;
        return { kind: 'assert', what: 'eol' };
      case 0x2a:
      case 0x2b:
      case 0x3f:
        return this.fail('syntax error', at);
      case 0x5c: {
        const e = this.src.charCodeAt(this.pos + 1);
        if (e === 0x62 || e === 0x42) {
          this.pos += 2;
          return { kind: 'assert', what: e === 0x62 ? 'word' : 'notword' };
        }
        return { kind: 'set', bytes: this.caseFold(this.parseEscape()) };
      }
      default:
        this.pos++;
        return { kind: 'set', bytes: this.caseFold(single(c)) };
    }
  }

  caseFold(s: Uint8Array): Uint8Array {
    return this.flags.nocase ? fold(s) : s;
  }

  /** After `\`: a byte set (hex, control, class escapes; anything else is itself). */
  parseEscape(): Uint8Array {
    const at = this.pos;
    this.pos++; // backslash
    if (this.pos >= this.src.length) return single(0x5c); // trailing `\` is a literal backslash
    const e = this.src.charCodeAt(this.pos) & 0xff;
    this.pos++;
    switch (e) {
      case 0x78: {
        // \xHH: exactly two hex digits
        const h = this.src.slice(this.pos, this.pos + 2);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) this.fail('illegal escape sequence', at, 2 + h.length);
        this.pos += 2;
        return single(parseInt(h, 16));
      }
      case 0x6e:
        return single(0x0a);
      case 0x74:
        return single(0x09);
      case 0x72:
        return single(0x0d);
      case 0x66:
        return single(0x0c);
      case 0x61:
        return single(0x07);
      case 0x77:
        return WORD.slice();
      case 0x57:
        return negate(WORD);
      case 0x73:
        return SPACE.slice();
      case 0x53:
        return negate(SPACE);
      case 0x64:
        return DIGIT.slice();
      case 0x44:
        return negate(DIGIT);
      default:
        return single(e);
    }
  }

  // class := '[' '^'? ']'? item* ']'   item := byte ('-' byte)? | escape
  parseClass(): Uint8Array {
    const open = this.pos;
    this.pos++;
    let neg = false;
    if (this.peek() === 0x5e) {
      neg = true;
      this.pos++;
    }
    const set = new Uint8Array(256);
    let first = true;
    for (;;) {
      const c = this.peek();
      if (c === -1) this.fail('missing terminating ] for character class', open, this.pos - open);
      if (c === 0x5d && !first) {
        this.pos++;
        break;
      }
      first = false;
      let lo: number;
      if (c === 0x5c) {
        const s = this.parseEscape();
        const only = singleMember(s);
        if (only === undefined) {
          for (let b = 0; b < 256; b++) if (s[b]) set[b] = 1;
          continue;
        }
        lo = only;
      } else {
        lo = c;
        this.pos++;
      }
      // range `lo-hi`, unless `-` is the last character before `]`
      if (this.peek() === 0x2d && this.pos + 1 < this.src.length && (this.src.charCodeAt(this.pos + 1) & 0xff) !== 0x5d) {
        const dashAt = this.pos;
        this.pos++;
        let hi: number;
        if (this.peek() === 0x5c) {
          const s = this.parseEscape();
          const only = singleMember(s);
          if (only === undefined) this.fail('invalid range in character class', dashAt);
          hi = only;
        } else {
          hi = this.peek();
          this.pos++;
        }
        if (hi < lo) this.fail('invalid range in character class', dashAt);
        for (let b = lo; b <= hi; b++) set[b] = 1;
      } else set[lo] = 1;
    }
    if (this.flags.nocase) fold(set);
    return neg ? negate(set) : set;
  }
}

const PARSE_STOP = Symbol('regex-parse-stop');

function single(b: number): Uint8Array {
  const s = new Uint8Array(256);
  s[b] = 1;
  return s;
}

/** The one byte of a byte set, or undefined when it has none or several. */
export function singleMember(s: Uint8Array): number | undefined {
  let found: number | undefined;
  for (let b = 0; b < 256; b++) {
    if (s[b]) {
      if (found !== undefined) return undefined;
      found = b;
    }
  }
  return found;
}

/** Parses a YARA regex; never throws on user input. */
export function parseRegex(source: string, flags: RegexFlags = {}): ParsedRegex {
  const p = new Parser(source, flags);
  try {
    const ast = p.parseAlt();
    if (p.pos < source.length) p.fail('syntax error', p.pos); // an unmatched `)`
    return { ast, diagnostics: p.diags, lazy: p.sawLazy };
  } catch (e) {
    if (e !== PARSE_STOP) throw e;
    return { diagnostics: p.diags, lazy: p.sawLazy };
  }
}
