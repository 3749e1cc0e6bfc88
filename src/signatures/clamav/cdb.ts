/**
 * Container metadata signatures: `.cdb` bytes → `CdbSig[]` plus diagnostics, and `matchCdb`, the
 * test an unpacker runs for every archive member before extracting it (reference §1.4).
 *
 *   VirusName:ContainerType:ContainerSize:FileNameREGEX:FileSizeInContainer:FileSizeReal:
 *     IsEncrypted:FilePos:Res1:Res2[:MinFL[:MaxFL]]
 *
 * Acceptance follows ClamAV 1.4's `cli_loadcdb` in its order: 10 to 12 fields; MinFL/MaxFL must
 * be digits only (an empty field counts as 0) and filter the line; the name must not be empty
 * (after the cut at " (Clam)"); the ignore list is asked with the stored name (`.UNOFFICIAL`
 * included) and the raw name as the "line"; ContainerType is `*` or a `CL_TYPE_*` name from
 * `CL_TYPES`; FileNameREGEX is `*` or a POSIX extended regular expression as ClamAV's bundled
 * Henry Spencer regex library accepts it (a leading `(?i)` makes it case-insensitive); sizes and
 * FilePos are `*`, digits, or `N-M` as `sscanf("%u-%u")` reads it; IsEncrypted is `*`, `0` or `1`.
 * Res1 and Res2 are never checked. Several of these checks make ClamAV fail with "Can't allocate
 * memory" rather than "Malformed database" (`CDB_LOAD_ERROR`).
 *
 * The regular expression is compiled here, by our own parser that follows the Spencer grammar
 * (including its errors: `a{0}` alone is an empty expression, `^*` is a bad repetition, a
 * range like `[a-é]` is invalid because C `char` is signed), into a small NFA that is simulated
 * in time linear in the name length, so a hostile pattern cannot make matching slow.
 */

import type { Diagnostic } from '../../core/diagnostics.js';
import { error, warning } from '../../core/diagnostics.js';
import { isClType } from '../../formats/cltypes.js';
import { ENGINE_FLEVEL } from './lines.js';
import type { CdbSig, Range } from './types.js';
import type { IgnoreSet } from './ign.js';
import { DbLineReader, FGETS_BUFFER, cAtoi, cStrtoul, clamavVirname, latin1 } from './hash.js';

export interface CdbContext {
  file: string;
  official: boolean;
  ignore?: IgnoreSet;
}

/** What clamscan prints after `ERROR: ` when this diagnostic is the first of a failed load. */
export const CDB_LOAD_ERROR: Readonly<Record<string, string>> = Object.freeze({
  'clamav.cdb.empty-file': 'Malformed database',
  'clamav.cdb.blank-line': 'Malformed database',
  'clamav.cdb.field-count': 'Malformed database',
  'clamav.cdb.bad-flevel': 'Malformed database',
  'clamav.cdb.unknown-type': 'Malformed database',
  'clamav.cdb.empty-name': "Can't allocate memory",
  'clamav.cdb.bad-regex': "Can't allocate memory",
  'clamav.cdb.bad-range': "Can't allocate memory",
  'clamav.cdb.bad-encrypted': "Can't allocate memory",
});

const CDB_MIN_FIELDS = 10;
const CDB_MAX_FIELDS = 12;
const ANY = 0xffffffff;

/** `cli_isnumber`: only the digits 0-9 (the empty string qualifies). */
function isNumber(t: string): boolean {
  return /^[0-9]*$/.test(t);
}

function isCSpace(c: string): boolean {
  return c === ' ' || (c >= '\t' && c <= '\r');
}

/** One `%u` of glibc `sscanf`: blanks, sign, digits; the value as C stores it in an `unsigned int`. */
function scanU(t: string, at: number): { value: number; end: number } | null {
  let i = at;
  while (i < t.length && isCSpace(t[i]!)) i++;
  const { value, end } = cStrtoul(t.slice(i));
  if (end === 0) return null;
  return { value: Number(value & 0xffffffffn), end: i + end };
}

/**
 * A size or position field as `cli_loadcdb` reads it: `*` → null; with a `-`, `sscanf("%u-%u")`
 * must convert two numbers (text after the second is ignored); without, digits only, read by
 * `atoi` and stored as unsigned (so 4294967295 reads as "any").
 */
function parseRange(t: string): { range: Range | null } | { error: string } {
  if (t === '*') return { range: null };
  if (t.includes('-')) {
    const a = scanU(t, 0);
    if (!a) return { error: 'expected a number before the -' };
    if (t[a.end] !== '-') return { error: 'expected - right after the first number' };
    const b = scanU(t, a.end + 1);
    if (!b) return { error: 'expected a number after the -' };
    return { range: { min: a.value, max: b.value } };
  }
  if (!isNumber(t)) return { error: 'expected *, a decimal number, or N-M' };
  const v = cAtoi(t) >>> 0;
  return { range: { min: v, max: v } };
}

/**
 * Parses one `.cdb` file. Signatures are returned in file order (ClamAV evaluates them newest
 * first: see `matchCdbAll`). The load fails, as in ClamAV, when any diagnostic is an error.
 */
export function parseCdb(data: Uint8Array, ctx: CdbContext): { sigs: CdbSig[]; count: number; diagnostics: Diagnostic[] } {
  const diags: Diagnostic[] = [];
  const sigs: CdbSig[] = [];
  if (data.length === 0) {
    diags.push(error('clamav.cdb.empty-file', 'empty database file: ClamAV refuses a database with no lines at all', { file: ctx.file, line: 0, column: 0 }));
    return { sigs, count: 0, diagnostics: diags };
  }
  const r = new DbLineReader(data);
  while (r.next()) {
    const sourceLine = r.physicalLineText();
    const report = (code: string, message: string, col: number, len: number, help?: string, severity: 'error' | 'warning' = 'error'): void => {
      const x: Partial<Diagnostic> = { sourceLine };
      if (help) x.help = help;
      const loc = { file: ctx.file, line: r.line, column: r.column + col, length: len };
      diags.push(severity === 'error' ? error(code, message, loc, x) : warning(code, message, loc, x));
    };
    if (r.splitStarts) report('clamav.cdb.long-line', `line is longer than ${FGETS_BUFFER - 1} bytes: ClamAV reads the rest of it as another line`, FGETS_BUFFER - 1, 0, undefined, 'warning');
    if (r.comment) continue;
    if (r.nulAt >= 0) report('clamav.cdb.nul-byte', 'NUL byte in line: ClamAV ignores everything from here to the end of the line', r.nulAt - r.start, 1, undefined, 'warning');
    const text = latin1(data, r.start, r.end);
    // cli_strtokenize(line, ':', 13): token starts (for columns) and texts
    const starts: number[] = [];
    const toks: string[] = [];
    let p = 0;
    while (toks.length < CDB_MAX_FIELDS + 1) {
      const q = text.indexOf(':', p);
      starts.push(p);
      toks.push(text.slice(p, q < 0 ? text.length : q));
      if (q < 0) break;
      p = q + 1;
    }
    const nf = toks.length;
    const col = (k: number): number => starts[k]!;
    const tok = (k: number): string => toks[k]!;
    if (nf > CDB_MAX_FIELDS || nf < CDB_MIN_FIELDS) {
      if (text.length === 0) report('clamav.cdb.blank-line', 'blank line: ClamAV rejects empty lines in every database', 0, 0, 'delete the line, or start it with # to make it a comment');
      else report('clamav.cdb.field-count', `expected 10 to 12 fields (VirusName:ContainerType:ContainerSize:FileNameREGEX:FileSizeInContainer:FileSizeReal:IsEncrypted:FilePos:Res1:Res2[:MinFL[:MaxFL]]), found ${nf > CDB_MAX_FIELDS ? 'more than 12' : nf}`, 0, text.length);
      continue;
    }
    if (nf > 10) {
      if (!isNumber(tok(10))) {
        report('clamav.cdb.bad-flevel', `MinFL '${tok(10)}' must be digits only`, col(10), tok(10).length);
        continue;
      }
      if (cAtoi(tok(10)) >>> 0 > ENGINE_FLEVEL) continue;
      if (nf === CDB_MAX_FIELDS) {
        if (!isNumber(tok(11))) {
          report('clamav.cdb.bad-flevel', `MaxFL '${tok(11)}' must be digits only`, col(11), tok(11).length);
          continue;
        }
        if (cAtoi(tok(11)) >>> 0 < ENGINE_FLEVEL) continue;
      }
    }
    const rawName = tok(0);
    const virname = clamavVirname(rawName, ctx.official);
    let bad = false;
    if (virname === null) {
      bad = true;
      report('clamav.cdb.empty-name', rawName.length ? 'empty virus name: ClamAV cuts the name at " (Clam)" and nothing is left' : 'empty virus name', 0, rawName.length);
    } else if (ctx.ignore) {
      const cut = rawName.indexOf(' (Clam)');
      if (ctx.ignore.ignores(virname, cut >= 0 ? rawName.slice(0, cut) : rawName)) continue;
    }

    let containerType: string | null = null;
    if (tok(1) !== '*') {
      if (isClType(tok(1))) containerType = tok(1);
      else {
        bad = true;
        report('clamav.cdb.unknown-type', `unknown container type '${tok(1)}'; expected * or a CL_TYPE_* name such as CL_TYPE_ZIP`, col(1), tok(1).length);
      }
    }
    let fileNameRegex: string | null = null;
    if (tok(3) !== '*') {
      const re = compileCdbRegex(tok(3));
      const prefix = tok(3).startsWith('(?i)') ? 4 : 0;
      if (!('error' in re)) fileNameRegex = tok(3);
      else if (re.error.code === 'REG_ESPACE') {
        // ClamAV accepts it; we keep the signature but it never matches (see MAX_PROGRAM)
        fileNameRegex = tok(3);
        report('clamav.cdb.regex-too-large', `regular expression too large for vigil once its repetitions are expanded (more than ${MAX_PROGRAM} steps): the signature is loaded but never matches`,
          col(3) + prefix, tok(3).length - prefix, undefined, 'warning');
      } else {
        bad = true;
        report('clamav.cdb.bad-regex', `invalid regular expression: ${re.error.message} (${re.error.code})`, col(3) + prefix + re.error.offset, 1,
          'FileNameREGEX is a POSIX extended regular expression, or *');
      }
    }
    const ranges: (Range | null)[] = [];
    for (const [k, what] of [[2, 'ContainerSize'], [4, 'FileSizeInContainer'], [5, 'FileSizeReal'], [7, 'FilePos']] as const) {
      const res = parseRange(tok(k));
      if ('error' in res) {
        bad = true;
        ranges.push(null);
        report('clamav.cdb.bad-range', `invalid ${what} '${tok(k)}': ${res.error}`, col(k), tok(k).length);
      } else ranges.push(res.range);
    }
    let encrypted: boolean | null = null;
    if (tok(6) !== '*') {
      if (tok(6) === '0' || tok(6) === '1') encrypted = tok(6) === '1';
      else {
        bad = true;
        report('clamav.cdb.bad-encrypted', `invalid IsEncrypted '${tok(6)}'; expected 0, 1 or *`, col(6), tok(6).length);
      }
    }
    if (bad || virname === null) continue;
    sigs.push({
      name: virname,
      containerType,
      containerSize: ranges[0]!,
      fileNameRegex,
      fileSizeInContainer: ranges[1]!,
      fileSizeReal: ranges[2]!,
      encrypted,
      filePos: ranges[3]!,
      origin: { db: ctx.file, line: r.line },
    });
  }
  return { sigs, count: sigs.length, diagnostics: diags };
}

// ───────────────────────────── matching ─────────────────────────────

/** What an unpacker knows about one archive member when it asks the `.cdb` signatures. */
export interface CdbMeta {
  /** `CL_TYPE_*` of the container being unpacked. */
  containerType: string;
  /** Size in bytes of the container. */
  containerSize: number;
  /** Member name as stored in the archive (Latin-1 text of its bytes); null when there is none. */
  fileName: string | null;
  /** Compressed size of the member. */
  fileSizeInContainer: number;
  /** Uncompressed size of the member. */
  fileSizeReal: number;
  encrypted: boolean;
  /** 1-based position of the member in the container. */
  filePos: number;
}

/**
 * ClamAV's range test (`CDBRANGE` in `cli_matchmeta`): a single value must be equal; in a range
 * `N-M` a bound of 0 means "no bound" (so `0-100` is "up to 100" and `5-0` "at least 5"), and a
 * lower bound of 4294967295 means "any".
 */
function rangeMatches(r: Range | null, v: number): boolean {
  if (r === null || r.min === ANY) return true;
  if (r.min === r.max) return v === r.min;
  return !((r.min !== 0 && r.min > v) || (r.max !== 0 && r.max < v));
}

const regexCache = new Map<string, CompiledRegex>();

function cachedRegex(source: string): CompiledRegex | null {
  let re = regexCache.get(source);
  if (!re) {
    const c = compileCdbRegex(source);
    if ('error' in c) return null;
    re = c;
    if (regexCache.size > 10000) regexCache.clear();
    regexCache.set(source, re);
  }
  return re;
}

/** True when `sig` fires for this archive member (`cli_matchmeta`, one signature). */
export function matchCdb(sig: CdbSig, meta: CdbMeta): boolean {
  if (sig.containerType !== null && sig.containerType !== 'CL_TYPE_ANY' && sig.containerType !== meta.containerType) return false;
  if (sig.encrypted !== null && sig.encrypted !== meta.encrypted) return false;
  if (!rangeMatches(sig.containerSize, meta.containerSize)) return false;
  if (!rangeMatches(sig.fileSizeInContainer, meta.fileSizeInContainer)) return false;
  if (!rangeMatches(sig.fileSizeReal, meta.fileSizeReal)) return false;
  if (!rangeMatches(sig.filePos, meta.filePos)) return false;
  if (sig.fileNameRegex !== null) {
    if (meta.fileName === null) return false;
    const re = cachedRegex(sig.fileNameRegex);
    if (!re || !re.test(meta.fileName)) return false;
  }
  return true;
}

/**
 * Every signature of `sigs` (all `.cdb` files, in load order) that fires for this member, in the
 * order ClamAV reports them: ClamAV keeps its list newest first. Without --allmatch only the
 * first is reported.
 */
export function matchCdbAll(sigs: readonly CdbSig[], meta: CdbMeta): CdbSig[] {
  const out: CdbSig[] = [];
  for (let i = sigs.length - 1; i >= 0; i--) if (matchCdb(sigs[i]!, meta)) out.push(sigs[i]!);
  return out;
}

// ───────────────────────────── POSIX ERE (Spencer) ─────────────────────────────

/** A compiled FileNameREGEX; `test` is unanchored search, like `regexec` with REG_NOSUB. */
export interface CompiledRegex {
  test(name: string): boolean;
}

export interface RegexError {
  /** Spencer's error name, e.g. `REG_EPAREN`. */
  code: string;
  message: string;
  /** 0-based offset in the pattern (after a `(?i)` prefix) where parsing stopped. */
  offset: number;
}

const REG_MESSAGES: Readonly<Record<string, string>> = {
  REG_EMPTY: 'empty expression or alternative',
  REG_BADRPT: 'repetition operator (* + ? {n}) with nothing to repeat, or two in a row',
  REG_EPAREN: 'parentheses ( ) not balanced',
  REG_EBRACK: 'brackets [ ] not balanced',
  REG_EBRACE: 'braces { } not balanced',
  REG_BADBR: 'invalid repetition count in { } (0 to 255, the first not above the second)',
  REG_ERANGE: 'invalid character range',
  REG_ECTYPE: 'unknown character class',
  REG_ECOLLATE: 'invalid collating element',
  REG_EESCAPE: 'trailing backslash',
  REG_ESPACE: 'expression too large once its repetitions are expanded',
};

type Node =
  | { k: 'set'; set: Uint8Array }
  | { k: 'assert'; what: 'bol' | 'eol' | 'bow' | 'eow' }
  | { k: 'cat'; items: Node[] }
  | { k: 'alt'; branches: Node[] }
  | { k: 'rep'; node: Node; min: number; max: number } // max -1 = unbounded
  | { k: 'empty' };

const DUPMAX = 255;

class ReError {
  constructor(readonly code: string, readonly offset: number) {}
}

/** Character classes of Spencer's `cclass.h` (C locale). */
const CLASSES: Readonly<Record<string, string>> = {
  alnum: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
  alpha: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
  blank: ' \t',
  cntrl: '\x07\b\t\n\v\f\r\x01\x02\x03\x04\x05\x06\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f',
  digit: '0123456789',
  graph: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
  lower: 'abcdefghijklmnopqrstuvwxyz',
  print: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~ ',
  punct: '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
  space: '\t\n\v\f\r ',
  upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  xdigit: '0123456789ABCDEFabcdef',
};

/** Collating-element names of Spencer's `cname.h`. */
const CNAMES: Readonly<Record<string, number>> = (() => {
  const m: Record<string, number> = {};
  const ctl = ['NUL', 'SOH', 'STX', 'ETX', 'EOT', 'ENQ', 'ACK', 'BEL'];
  ctl.forEach((n, i) => { m[n] = i; });
  Object.assign(m, {
    alert: 7, BS: 8, backspace: 8, HT: 9, tab: 9, LF: 10, newline: 10, VT: 11, 'vertical-tab': 11,
    FF: 12, 'form-feed': 12, CR: 13, 'carriage-return': 13, SO: 14, SI: 15, DLE: 16, DC1: 17,
    DC2: 18, DC3: 19, DC4: 20, NAK: 21, SYN: 22, ETB: 23, CAN: 24, EM: 25, SUB: 26, ESC: 27,
    IS4: 28, FS: 28, IS3: 29, GS: 29, IS2: 30, RS: 30, IS1: 31, US: 31, space: 32,
    'exclamation-mark': 33, 'quotation-mark': 34, 'number-sign': 35, 'dollar-sign': 36,
    'percent-sign': 37, ampersand: 38, apostrophe: 39, 'left-parenthesis': 40,
    'right-parenthesis': 41, asterisk: 42, 'plus-sign': 43, comma: 44, hyphen: 45,
    'hyphen-minus': 45, period: 46, 'full-stop': 46, slash: 47, solidus: 47, zero: 48, one: 49,
    two: 50, three: 51, four: 52, five: 53, six: 54, seven: 55, eight: 56, nine: 57, colon: 58,
    semicolon: 59, 'less-than-sign': 60, 'equals-sign': 61, 'greater-than-sign': 62,
    'question-mark': 63, 'commercial-at': 64, 'left-square-bracket': 91, backslash: 92,
    'reverse-solidus': 92, 'right-square-bracket': 93, circumflex: 94, 'circumflex-accent': 94,
    underscore: 95, 'low-line': 95, 'grave-accent': 96, 'left-brace': 123,
    'left-curly-bracket': 123, 'vertical-line': 124, 'right-brace': 125,
    'right-curly-bracket': 125, tilde: 126, DEL: 127,
  });
  return m;
})();

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isAlpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const otherCase = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 32 : c >= 0x61 && c <= 0x7a ? c - 32 : c);
/** C `char` is signed on the platforms ClamAV ships for: bytes 128–255 compare as negative. */
const signedChar = (c: number): number => (c >= 128 ? c - 256 : c);

/** Recursive-descent parser following Spencer's `p_ere`, `p_ere_exp` and `p_bracket`. */
class EreParser {
  private pos = 0;
  constructor(private readonly s: string, private readonly icase: boolean) {}

  private more(): boolean { return this.pos < this.s.length; }
  private more2(): boolean { return this.pos + 1 < this.s.length; }
  private peek(): number { return this.pos < this.s.length ? this.s.charCodeAt(this.pos) : 0; }
  private peek2(): number { return this.pos + 1 < this.s.length ? this.s.charCodeAt(this.pos + 1) : 0; }
  private next(): number { return this.s.charCodeAt(this.pos++); }
  private see(c: string): boolean { return this.more() && this.s[this.pos] === c; }
  private eat(c: string): boolean { if (this.see(c)) { this.pos++; return true; } return false; }
  private seeTwo(a: string, b: string): boolean { return this.more() && this.more2() && this.s[this.pos] === a && this.s[this.pos + 1] === b; }
  private eatTwo(a: string, b: string): boolean { if (this.seeTwo(a, b)) { this.pos += 2; return true; } return false; }
  private fail(code: string): never { throw new ReError(code, Math.min(this.pos, this.s.length)); }

  parse(): Node {
    const n = this.ere(-1);
    return n;
  }

  /** ere := branch ('|' branch)*, each branch non-empty; stops at `stop` (')' in a group). */
  private ere(stop: number): Node {
    const branches: Node[] = [];
    for (;;) {
      const items: Node[] = [];
      let emitted = false;
      while (this.more() && this.peek() !== 0x7c && this.peek() !== stop) {
        const n = this.exp();
        if (n) { items.push(n); emitted = true; }
      }
      if (!emitted) this.fail('REG_EMPTY');
      branches.push(items.length === 1 ? items[0]! : { k: 'cat', items });
      if (!this.eat('|')) break;
    }
    return branches.length === 1 ? branches[0]! : { k: 'alt', branches };
  }

  private ordinary(c: number): Node {
    const set = new Uint8Array(256);
    set[c] = 1;
    if (this.icase && isAlpha(c)) set[otherCase(c)] = 1;
    return { k: 'set', set };
  }

  /**
   * exp := atom [ '*' | '+' | '?' | '{' count [',' [count]] '}' ]
   * atom := '(' [ere] ')' | '^' | '$' | '.' | bracket | '\\' char | '{' (not before a digit) | char
   * Returns null when `{0}` dropped the atom.
   */
  private exp(): Node | null {
    const c = this.next();
    let atom: Node;
    let wasCaret = false;
    switch (c) {
      case 0x28: { // (
        if (!this.more()) this.fail('REG_EPAREN');
        let inner: Node = { k: 'empty' };
        if (!this.see(')')) inner = this.ere(0x29);
        if (!(this.more() && this.next() === 0x29)) this.fail('REG_EPAREN');
        atom = inner;
        break;
      }
      case 0x5e: atom = { k: 'assert', what: 'bol' }; wasCaret = true; break; // ^
      case 0x24: atom = { k: 'assert', what: 'eol' }; break; // $
      case 0x7c: return this.fail('REG_EMPTY'); // | (not reached from ere)
      case 0x2a: case 0x2b: case 0x3f: return this.fail('REG_BADRPT'); // * + ?
      case 0x2e: atom = { k: 'set', set: new Uint8Array(256).fill(1) }; break; // .
      case 0x5b: atom = this.bracket(); break; // [
      case 0x5c: { // backslash
        if (!this.more()) this.fail('REG_EESCAPE');
        const e = this.next();
        if (e === 0x3c) atom = { k: 'assert', what: 'bow' };
        else if (e === 0x3e) atom = { k: 'assert', what: 'eow' };
        else atom = this.ordinary(e);
        break;
      }
      case 0x7b: // { is ordinary unless a digit follows
        if (this.more() && isDigit(this.peek())) this.fail('REG_BADRPT');
        atom = this.ordinary(c);
        break;
      default:
        atom = this.ordinary(c);
    }
    if (!this.more()) return atom;
    let op = this.peek();
    if (!(op === 0x2a || op === 0x2b || op === 0x3f || (op === 0x7b && this.more2() && isDigit(this.peek2())))) return atom;
    this.next();
    if (wasCaret) this.fail('REG_BADRPT');
    let min: number;
    let max: number;
    if (op === 0x2a) { min = 0; max = -1; }
    else if (op === 0x2b) { min = 1; max = -1; }
    else if (op === 0x3f) { min = 0; max = 1; }
    else {
      min = this.count();
      if (this.eat(',')) {
        if (isDigit(this.peek())) {
          max = this.count();
          if (min > max) this.fail('REG_BADBR');
        } else max = -1;
      } else max = min;
      if (!this.eat('}')) {
        while (this.more() && this.peek() !== 0x7d) this.next();
        if (!this.more()) this.fail('REG_EBRACE');
        this.fail('REG_BADBR');
      }
    }
    const result: Node | null = max === 0 ? null : { k: 'rep', node: atom, min, max };
    if (!this.more()) return result;
    op = this.peek();
    if (op === 0x2a || op === 0x2b || op === 0x3f || (op === 0x7b && this.more2() && isDigit(this.peek2()))) this.fail('REG_BADRPT');
    return result;
  }

  /** count := digit+ (at most 255) */
  private count(): number {
    let n = 0;
    let digits = 0;
    while (this.more() && isDigit(this.peek()) && n <= DUPMAX) {
      n = n * 10 + (this.next() - 0x30);
      digits++;
    }
    if (digits === 0 || n > DUPMAX) this.fail('REG_BADBR');
    return n;
  }

  /** bracket := '[' ( ':<:]]' | ':>:]]' | ['^'] [']' | '-'] term* ['-'] ']' ), the '[' already read. */
  private bracket(): Node {
    if (this.s.length - this.pos > 5) {
      if (this.s.startsWith('[:<:]]', this.pos)) { this.pos += 6; return { k: 'assert', what: 'bow' }; }
      if (this.s.startsWith('[:>:]]', this.pos)) { this.pos += 6; return { k: 'assert', what: 'eow' }; }
    }
    const set = new Uint8Array(256);
    const invert = this.eat('^');
    if (this.eat(']')) set[0x5d] = 1;
    else if (this.eat('-')) set[0x2d] = 1;
    while (this.more() && this.peek() !== 0x5d && !this.seeTwo('-', ']')) this.term(set);
    if (this.eat('-')) set[0x2d] = 1;
    if (!(this.more() && this.next() === 0x5d)) this.fail('REG_EBRACK');
    if (this.icase) for (let i = 0; i < 256; i++) if (set[i] && isAlpha(i)) set[otherCase(i)] = 1;
    if (invert) for (let i = 0; i < 256; i++) set[i] = set[i] ? 0 : 1;
    return { k: 'set', set };
  }

  /** term := '[:' name ':]' | '[=' element '=]' | symbol ['-' ( '-' | symbol )]; a leading '-' is an error. */
  private term(set: Uint8Array): void {
    let c = 0;
    const first = this.more() ? this.peek() : 0;
    if (first === 0x5b) c = this.more2() ? this.peek2() : 0;
    else if (first === 0x2d) this.fail('REG_ERANGE');
    if (c === 0x3a) { // [:class:]
      this.pos += 2;
      if (!this.more()) this.fail('REG_EBRACK');
      const k = this.peek();
      if (k === 0x2d || k === 0x5d) this.fail('REG_ECTYPE');
      const sp = this.pos;
      while (this.more() && isAlpha(this.peek())) this.next();
      const chars = CLASSES[this.s.slice(sp, this.pos)];
      if (chars === undefined || !Object.prototype.hasOwnProperty.call(CLASSES, this.s.slice(sp, this.pos))) this.fail('REG_ECTYPE');
      for (let i = 0; i < chars.length; i++) set[chars.charCodeAt(i)] = 1;
      if (!this.more()) this.fail('REG_EBRACK');
      if (!this.eatTwo(':', ']')) this.fail('REG_ECTYPE');
      return;
    }
    if (c === 0x3d) { // [=x=]
      this.pos += 2;
      if (!this.more()) this.fail('REG_EBRACK');
      const k = this.peek();
      if (k === 0x2d || k === 0x5d) this.fail('REG_ECOLLATE');
      set[this.collElem('=')] = 1;
      if (!this.more()) this.fail('REG_EBRACK');
      if (!this.eatTwo('=', ']')) this.fail('REG_ECOLLATE');
      return;
    }
    const start = this.symbol();
    let finish = start;
    if (this.see('-') && this.more2() && this.peek2() !== 0x5d) {
      this.next();
      finish = this.eat('-') ? 0x2d : this.symbol();
    }
    const a = signedChar(start);
    const b = signedChar(finish);
    if (a > b) this.fail('REG_ERANGE');
    for (let i = a; i <= b; i++) set[i & 0xff] = 1;
  }

  /** symbol := '[.' element '.]' | any character */
  private symbol(): number {
    if (!this.more()) this.fail('REG_EBRACK');
    if (!this.eatTwo('[', '.')) return this.next();
    const v = this.collElem('.');
    if (!this.eatTwo('.', ']')) this.fail('REG_ECOLLATE');
    return v;
  }

  private collElem(end: string): number {
    const sp = this.pos;
    while (this.more() && !this.seeTwo(end, ']')) this.next();
    if (!this.more()) this.fail('REG_EBRACK');
    const name = this.s.slice(sp, this.pos);
    if (Object.prototype.hasOwnProperty.call(CNAMES, name)) return CNAMES[name]!;
    if (name.length === 1) return name.charCodeAt(0);
    return this.fail('REG_ECOLLATE');
  }
}

// NFA program: one instruction per entry of these parallel arrays.
const OP_SET = 0;
const OP_ASSERT = 1;
const OP_SPLIT = 2;
const OP_JMP = 3;
const OP_MATCH = 4;
const A_BOL = 0;
const A_EOL = 1;
const A_BOW = 2;
const A_EOW = 3;

/**
 * Cap on NFA instructions after counted repetitions are expanded (nested `{255}` multiply:
 * `((a{255}){255}){255}` needs 16 million). Spencer's library builds such programs (clamscan
 * loads that one in 0.2 s and 160 MB); we refuse to, keep the signature, and let it never match.
 */
const MAX_PROGRAM = 1 << 20;

class Program implements CompiledRegex {
  op: number[] = [];
  x: number[] = [];
  y: number[] = [];
  sets: Uint8Array[] = [];

  emit(op: number, x = 0, y = 0): number {
    if (this.op.length >= MAX_PROGRAM) throw new ReError('REG_ESPACE', 0);
    this.op.push(op);
    this.x.push(x);
    this.y.push(y);
    return this.op.length - 1;
  }

  compile(n: Node): void {
    switch (n.k) {
      case 'set':
        this.sets.push(n.set);
        this.emit(OP_SET, this.sets.length - 1);
        return;
      case 'assert':
        this.emit(OP_ASSERT, n.what === 'bol' ? A_BOL : n.what === 'eol' ? A_EOL : n.what === 'bow' ? A_BOW : A_EOW);
        return;
      case 'empty':
        return;
      case 'cat':
        for (const i of n.items) this.compile(i);
        return;
      case 'alt': {
        const jumps: number[] = [];
        for (let b = 0; b < n.branches.length; b++) {
          if (b < n.branches.length - 1) {
            const split = this.emit(OP_SPLIT);
            this.x[split] = split + 1;
            this.compile(n.branches[b]!);
            jumps.push(this.emit(OP_JMP));
            this.y[split] = this.op.length;
          } else this.compile(n.branches[b]!);
        }
        for (const j of jumps) this.x[j] = this.op.length;
        return;
      }
      case 'rep': {
        for (let i = 0; i < n.min; i++) this.compile(n.node);
        if (n.max < 0) {
          const split = this.emit(OP_SPLIT);
          this.x[split] = split + 1;
          this.compile(n.node);
          this.emit(OP_JMP, split);
          this.y[split] = this.op.length;
        } else {
          const splits: number[] = [];
          for (let i = n.min; i < n.max; i++) {
            const split = this.emit(OP_SPLIT);
            this.x[split] = split + 1;
            splits.push(split);
            this.compile(n.node);
          }
          for (const s of splits) this.y[s] = this.op.length;
        }
        return;
      }
    }
  }

  /** Pike-VM search: every start position at once, O(|name| × program size). */
  test(name: string): boolean {
    const nul = name.indexOf('\0');
    const s = nul >= 0 ? name.slice(0, nul) : name;
    const n = s.length;
    const size = this.op.length;
    let cur = new Int32Array(size);
    let nxt = new Int32Array(size);
    let curN = 0;
    let nxtN = 0;
    const mark = new Int32Array(size).fill(-1);
    const stack: number[] = [];
    const word = (c: number): boolean => (c >= 0x30 && c <= 0x39) || isAlpha(c) || c === 0x5f;
    let gen = 0;
    // Adds the closure of `pc` at position `i` to the list; true when it reaches MATCH.
    const add = (list: Int32Array, count: number, pc: number, i: number): [number, boolean] => {
      stack.push(pc);
      while (stack.length) {
        const p = stack.pop()!;
        if (mark[p] === gen) continue;
        mark[p] = gen;
        switch (this.op[p]) {
          case OP_SET: list[count++] = p; break;
          case OP_MATCH: stack.length = 0; return [count, true];
          case OP_JMP: stack.push(this.x[p]!); break;
          case OP_SPLIT: stack.push(this.y[p]!, this.x[p]!); break;
          case OP_ASSERT: {
            const prev = i > 0 ? s.charCodeAt(i - 1) & 0xff : -1;
            const next = i < n ? s.charCodeAt(i) & 0xff : -1;
            const a = this.x[p];
            const ok = a === A_BOL ? i === 0
              : a === A_EOL ? i === n
              : a === A_BOW ? next >= 0 && word(next) && (prev < 0 || !word(prev))
              : prev >= 0 && word(prev) && (next < 0 || !word(next));
            if (ok) stack.push(p + 1);
            break;
          }
        }
      }
      return [count, false];
    };
    gen++;
    for (let i = 0; ; i++) {
      let hit: boolean;
      [curN, hit] = add(cur, curN, 0, i);
      if (hit) return true;
      if (i === n) return false;
      const c = s.charCodeAt(i) & 0xff;
      gen++;
      nxtN = 0;
      for (let k = 0; k < curN; k++) {
        const p = cur[k]!;
        if (this.sets[this.x[p]!]![c]) {
          [nxtN, hit] = add(nxt, nxtN, p + 1, i + 1);
          if (hit) return true;
        }
      }
      [cur, nxt] = [nxt, cur];
      curN = nxtN;
    }
  }
}

/**
 * Compiles a FileNameREGEX as ClamAV's `cli_regcomp` does (`REG_EXTENDED | REG_NOSUB`, plus
 * `REG_ICASE` for a leading `(?i)`), or reports the error Spencer's `regcomp` would.
 */
export function compileCdbRegex(source: string): CompiledRegex | { error: RegexError } {
  let pattern = source;
  let icase = false;
  if (pattern.startsWith('(?i)')) {
    pattern = pattern.slice(4);
    icase = true;
  }
  try {
    const ast = new EreParser(pattern, icase).parse();
    const prog = new Program();
    prog.compile(ast);
    prog.emit(OP_MATCH);
    return prog;
  } catch (e) {
    if (e instanceof ReError) return { error: { code: e.code, message: REG_MESSAGES[e.code] ?? e.code, offset: e.offset } };
    throw e;
  }
}
