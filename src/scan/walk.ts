/**
 * Tree walking for `vigil scan`: command-line targets in, an ordered stream of walk events out.
 *
 * In: the targets (paths from the command line or a file list, `-` for stdin) and the walk options
 * (`-r`, symlink policy, directory depth, `--exclude*`/`--include*` patterns).
 * Out: one `WalkEvent` per thing clamscan would print or count, in exactly clamscan 1.4's order:
 * a depth-first walk that visits directory entries in `readdir` order (not sorted: `fs.opendir`
 * yields raw `readdir` order, `fs.readdir` would sort), files before or after subdirectories as the
 * directory happens to list them.
 *
 * Why it is built this way:
 * - Paths are byte strings (`Buffer`), never decoded text. A file whose name is not valid UTF-8
 *   cannot be opened through a decoded JavaScript string, and an antivirus that skips such files is
 *   trivially evaded. Callers decode only for display.
 * - The walker decides only what the file system says (type, size, symlink policy, exclusion); it
 *   never reads file contents. Reading and scanning happen in the caller so that they can run in
 *   parallel while this stream keeps the order.
 * - clamscan's rules, as observed on 1.4.6: `--exclude`/`--include` match the *resolved* path of a
 *   file (realpath), `--exclude-dir`/`--include-dir` match the directory path as built from the
 *   argument (and apply to the top-level directory too); a pattern ending in `/` is matched against
 *   the path plus `/`; `(?i)` at the start makes a pattern case-insensitive; the top-level directory
 *   has depth 1 and directories deeper than `--max-dir-recursion` (15) are skipped silently;
 *   symlinks given on the command line are followed by default, symlinks met inside directories are
 *   reported as `Symbolic link` unless `--follow-*-symlinks=2`; fifos, sockets and devices inside
 *   directories are skipped silently, on the command line they are "Not supported".
 * - Directory loops (a followed directory symlink, or a bind mount, that leads back to a directory
 *   being walked) are detected by device and inode and reported once instead of being re-entered;
 *   clamscan re-enters them until the depth limit.
 *
 * Patterns are POSIX extended regular expressions in the dialect of ClamAV's bundled regex library
 * (Henry Spencer's), translated here to JavaScript `RegExp`s that run over the path's bytes (each
 * byte one character), so that `.` matches one byte as it does in C. Supported: alternation,
 * grouping, `* + ?`, bounds `{m}`, `{m,}`, `{m,n}` (m, n ≤ 255), anchors, `.`, bracket expressions
 * with ranges, `[:class:]` (ASCII classes), `[=c=]` and `[.c.]` for single characters, `\<`, `\>`,
 * `[[:<:]]`, `[[:>:]]`, and a backslash before any other character meaning that character;
 * `[[.c.]]` and `[[=c=]]` take a character or a POSIX character name (`[[.hyphen.]]`). Character
 * classes and case folding are ASCII-only, as in a UTF-8 C library locale, where no byte ≥ 0x80 is
 * a letter on its own. Invalid patterns never match, as in clamscan; `PathPattern.error` says why so
 * that the caller can warn.
 */

import { promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';

// ---------------------------------------------------------------------------------------------
// POSIX ERE → JavaScript RegExp

export type EreCompileResult = { ok: true; source: string; regex: RegExp } | { ok: false; error: string };

/** POSIX regerror texts for the errors the ERE grammar can raise. */
const ERE_ERRORS = {
  paren: 'parentheses not balanced',
  brack: 'brackets ([ ]) not balanced',
  badrpt: 'repetition-operator operand invalid',
  empty: 'empty (sub)expression',
  escape: 'trailing backslash (\\)',
  range: 'invalid character range',
  ctype: 'invalid character class',
  collate: 'invalid collating element',
  brace: 'braces not balanced',
  badbr: 'invalid repetition count(s)',
} as const;

class EreError extends Error {}

/** RE_DUP_MAX of the bundled library: the largest count in a bound. */
const DUP_MAX = 255;

const WORD = 'A-Za-z0-9_';
const BOW = `(?:(?<![${WORD}])(?=[${WORD}]))`;
const EOW = `(?:(?<=[${WORD}])(?![${WORD}]))`;

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}
function isAlphaAscii(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}
function otherCase(c: number): number {
  if (c >= 0x41 && c <= 0x5a) return c + 0x20;
  if (c >= 0x61 && c <= 0x7a) return c - 0x20;
  return c;
}
function hex2(c: number): string {
  return `\\x${c.toString(16).padStart(2, '0')}`;
}

/** ASCII members of each POSIX character class (bytes ≥ 0x80 belong to none in a UTF-8 locale). */
function classMembers(name: string): number[] | undefined {
  const out: number[] = [];
  const add = (pred: (c: number) => boolean): number[] => {
    for (let c = 0; c < 128; c++) if (pred(c)) out.push(c);
    return out;
  };
  const alpha = (c: number): boolean => isAlphaAscii(c);
  const digit = (c: number): boolean => c >= 0x30 && c <= 0x39;
  const graph = (c: number): boolean => c >= 0x21 && c <= 0x7e;
  switch (name) {
    case 'alnum': return add((c) => alpha(c) || digit(c));
    case 'alpha': return add(alpha);
    case 'blank': return add((c) => c === 0x20 || c === 0x09);
    case 'cntrl': return add((c) => c < 0x20 || c === 0x7f);
    case 'digit': return add(digit);
    case 'graph': return add(graph);
    case 'lower': return add((c) => c >= 0x61 && c <= 0x7a);
    case 'print': return add((c) => c >= 0x20 && c <= 0x7e);
    case 'punct': return add((c) => graph(c) && !alpha(c) && !digit(c));
    case 'space': return add((c) => c === 0x20 || (c >= 0x09 && c <= 0x0d));
    case 'upper': return add((c) => c >= 0x41 && c <= 0x5a);
    case 'xdigit': return add((c) => digit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
    default: return undefined;
  }
}

/** The POSIX names of the portable character set, for `[[.name.]]` and `[[=name=]]`. */
const COLLATING_NAMES: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  const controls = ['NUL', 'SOH', 'STX', 'ETX', 'EOT', 'ENQ', 'ACK', 'BEL', 'BS', 'HT', 'LF', 'VT', 'FF', 'CR', 'SO', 'SI',
    'DLE', 'DC1', 'DC2', 'DC3', 'DC4', 'NAK', 'SYN', 'ETB', 'CAN', 'EM', 'SUB', 'ESC', 'IS4', 'IS3', 'IS2', 'IS1'];
  controls.forEach((name, code) => m.set(name, code));
  const aliases: [string, number][] = [
    ['alert', 7], ['backspace', 8], ['tab', 9], ['newline', 10], ['vertical-tab', 11], ['form-feed', 12], ['carriage-return', 13],
    ['FS', 28], ['GS', 29], ['RS', 30], ['US', 31], ['space', 32], ['exclamation-mark', 33], ['quotation-mark', 34],
    ['number-sign', 35], ['dollar-sign', 36], ['percent-sign', 37], ['ampersand', 38], ['apostrophe', 39],
    ['left-parenthesis', 40], ['right-parenthesis', 41], ['asterisk', 42], ['plus-sign', 43], ['comma', 44],
    ['hyphen', 45], ['hyphen-minus', 45], ['period', 46], ['full-stop', 46], ['slash', 47], ['solidus', 47],
    ['zero', 48], ['one', 49], ['two', 50], ['three', 51], ['four', 52], ['five', 53], ['six', 54], ['seven', 55],
    ['eight', 56], ['nine', 57], ['colon', 58], ['semicolon', 59], ['less-than-sign', 60], ['equals-sign', 61],
    ['greater-than-sign', 62], ['question-mark', 63], ['commercial-at', 64], ['left-square-bracket', 91],
    ['backslash', 92], ['reverse-solidus', 92], ['right-square-bracket', 93], ['circumflex', 94],
    ['circumflex-accent', 94], ['underscore', 95], ['low-line', 95], ['grave-accent', 96], ['left-brace', 123],
    ['left-curly-bracket', 123], ['vertical-line', 124], ['right-brace', 125], ['right-curly-bracket', 125],
    ['tilde', 126], ['DEL', 127],
  ];
  for (const [name, code] of aliases) m.set(name, code);
  return m;
})();

/** A 256-entry byte set rendered as a JavaScript character class over `\x00`–`\xff`. */
function renderSet(set: boolean[]): string {
  let out = '';
  let c = 0;
  while (c < 256) {
    if (!set[c]) { c++; continue; }
    let end = c;
    while (end + 1 < 256 && set[end + 1]) end++;
    out += end === c ? hex2(c) : end === c + 1 ? hex2(c) + hex2(end) : `${hex2(c)}-${hex2(end)}`;
    c = end + 1;
  }
  // An empty set cannot arise from the grammar (a bracket holds at least one term), but stay total.
  return out === '' ? '[^\\s\\S]' : `[${out}]`;
}

/**
 * Recursive-descent translator. Grammar (POSIX ERE as the bundled library reads it):
 *   ere      := branch ('|' branch)*            -- every branch non-empty
 *   branch   := piece+
 *   piece    := atom (('*' | '+' | '?' | bound))?  -- at most one repetition; none after '^'
 *   bound    := '{' count (',' count?)? '}'       -- only when '{' is followed by a digit
 *   atom     := '(' ere? ')' | '^' | '$' | '.' | bracket | '\' char | char
 */
class EreTranslator {
  private pos = 0;
  constructor(private readonly src: string, private readonly icase: boolean) {}

  /** At top level nothing stops a branch early: a stray ')' there is an ordinary character. */
  translate(): string {
    return this.ere(undefined);
  }

  private more(): boolean { return this.pos < this.src.length; }
  private peek(k = 0): string | undefined { return this.src[this.pos + k]; }
  private next(): string {
    const c = this.src[this.pos++];
    if (c === undefined) throw new EreError(ERE_ERRORS.brack);
    return c;
  }
  private eat(c: string): boolean {
    if (this.peek() === c) { this.pos++; return true; }
    return false;
  }
  private eatTwo(a: string, b: string): boolean {
    if (this.peek() === a && this.peek(1) === b) { this.pos += 2; return true; }
    return false;
  }

  private ere(stop: string | undefined): string {
    const branches: string[] = [];
    for (;;) {
      let branch = '';
      let pieces = 0;
      while (this.more() && this.peek() !== '|' && this.peek() !== stop) {
        branch += this.piece();
        pieces++;
      }
      if (pieces === 0) throw new EreError(ERE_ERRORS.empty);
      branches.push(branch);
      if (!this.eat('|')) break;
    }
    return branches.length === 1 ? (branches[0] as string) : branches.join('|');
  }

  private literal(c: string): string {
    const code = c.charCodeAt(0);
    if (this.icase && isAlphaAscii(code)) return `[${c}${String.fromCharCode(otherCase(code))}]`;
    if (/^[A-Za-z0-9]$/.test(c)) return c;
    return hex2(code);
  }

  private piece(): string {
    const c = this.next();
    let atom: string;
    let wasCaret = false;
    switch (c) {
      case '(': {
        if (!this.more()) throw new EreError(ERE_ERRORS.paren);
        const inner = this.peek() === ')' ? '' : this.ere(')');
        if (!this.more() || this.next() !== ')') throw new EreError(ERE_ERRORS.paren);
        atom = `(?:${inner})`;
        break;
      }
      case '^': atom = '^'; wasCaret = true; break;
      case '$': atom = '$'; break;
      case '*': case '+': case '?': throw new EreError(ERE_ERRORS.badrpt);
      case '.': atom = '[\\s\\S]'; break;
      case '[': atom = this.bracket(); break;
      case '\\': {
        if (!this.more()) throw new EreError(ERE_ERRORS.escape);
        const e = this.next();
        atom = e === '<' ? BOW : e === '>' ? EOW : this.literal(e);
        break;
      }
      case '{':
        if (this.more() && isDigit(this.peek())) throw new EreError(ERE_ERRORS.badrpt);
        atom = this.literal(c);
        break;
      default:
        atom = this.literal(c);
    }
    if (!this.isRepetitionAhead()) return atom;
    const op = this.next();
    if (wasCaret) throw new EreError(ERE_ERRORS.badrpt);
    let quant: string;
    if (op === '{') {
      const min = this.count();
      let max: number | undefined = min;
      if (this.eat(',')) max = isDigit(this.peek()) ? this.count() : undefined;
      if (max !== undefined && min > max) throw new EreError(ERE_ERRORS.badbr);
      if (!this.eat('}')) {
        while (this.more() && this.peek() !== '}') this.pos++;
        throw new EreError(this.more() ? ERE_ERRORS.badbr : ERE_ERRORS.brace);
      }
      quant = max === undefined ? `{${min},}` : max === min ? `{${min}}` : `{${min},${max}}`;
    } else {
      quant = op;
    }
    if (this.isRepetitionAhead()) throw new EreError(ERE_ERRORS.badrpt);
    return `(?:${atom})${quant}`;
  }

  private isRepetitionAhead(): boolean {
    const c = this.peek();
    return c === '*' || c === '+' || c === '?' || (c === '{' && isDigit(this.peek(1)));
  }

  private count(): number {
    let n = 0;
    let digits = 0;
    while (isDigit(this.peek()) && n <= DUP_MAX) {
      n = n * 10 + (this.next().charCodeAt(0) - 0x30);
      digits++;
    }
    if (digits === 0 || n > DUP_MAX) throw new EreError(ERE_ERRORS.badbr);
    return n;
  }

  /** bracket := '[' '^'? (']' | '-')? term* '-'? ']'   (the opening '[' already consumed) */
  private bracket(): string {
    if (this.src.startsWith('[:<:]]', this.pos)) { this.pos += 6; return BOW; }
    if (this.src.startsWith('[:>:]]', this.pos)) { this.pos += 6; return EOW; }
    const set: boolean[] = new Array<boolean>(256).fill(false);
    const invert = this.eat('^');
    if (this.eat(']')) set[0x5d] = true;
    else if (this.eat('-')) set[0x2d] = true;
    while (this.more() && this.peek() !== ']' && !(this.peek() === '-' && this.peek(1) === ']')) this.term(set);
    if (this.eat('-')) set[0x2d] = true;
    if (!this.more() || this.next() !== ']') throw new EreError(ERE_ERRORS.brack);
    if (this.icase) for (let c = 0; c < 256; c++) if (set[c] && isAlphaAscii(c)) set[otherCase(c)] = true;
    if (invert) for (let c = 0; c < 256; c++) set[c] = !set[c];
    return renderSet(set);
  }

  /** term := '[:' name ':]' | '[=' elem '=]' | symbol ('-' (symbol | '-'))? */
  private term(set: boolean[]): void {
    const c = this.peek();
    if (c === '-') throw new EreError(ERE_ERRORS.range);
    const c2 = c === '[' ? this.peek(1) : undefined;
    if (c2 === ':') {
      this.pos += 2;
      if (!this.more()) throw new EreError(ERE_ERRORS.brack);
      if (this.peek() === '-' || this.peek() === ']') throw new EreError(ERE_ERRORS.ctype);
      const start = this.pos;
      while (this.more() && isAlphaAscii(this.src.charCodeAt(this.pos))) this.pos++;
      const members = classMembers(this.src.slice(start, this.pos));
      if (!members) throw new EreError(ERE_ERRORS.ctype);
      for (const m of members) set[m] = true;
      if (!this.more()) throw new EreError(ERE_ERRORS.brack);
      if (!this.eatTwo(':', ']')) throw new EreError(ERE_ERRORS.ctype);
      return;
    }
    if (c2 === '=') {
      this.pos += 2;
      if (!this.more()) throw new EreError(ERE_ERRORS.brack);
      if (this.peek() === '-' || this.peek() === ']') throw new EreError(ERE_ERRORS.collate);
      set[this.collatingElement('=')] = true;
      if (!this.more()) throw new EreError(ERE_ERRORS.brack);
      if (!this.eatTwo('=', ']')) throw new EreError(ERE_ERRORS.collate);
      return;
    }
    const start = this.symbol();
    let finish = start;
    if (this.peek() === '-' && this.peek(1) !== undefined && this.peek(1) !== ']') {
      this.pos++;
      finish = this.eat('-') ? 0x2d : this.symbol();
    }
    // The library compares plain (signed) chars: a range ending above 0x7f but starting below fails.
    const s = start > 127 ? start - 256 : start;
    const f = finish > 127 ? finish - 256 : finish;
    if (s > f) throw new EreError(ERE_ERRORS.range);
    for (let i = s; i <= f; i++) set[i & 0xff] = true;
  }

  private symbol(): number {
    if (!this.more()) throw new EreError(ERE_ERRORS.brack);
    if (this.eatTwo('[', '.')) {
      const value = this.collatingElement('.');
      if (!this.eatTwo('.', ']')) throw new EreError(ERE_ERRORS.collate);
      return value;
    }
    return this.next().charCodeAt(0);
  }

  /** A collating element up to `<end>]`: one character, or a POSIX character name such as `hyphen`. */
  private collatingElement(end: string): number {
    const start = this.pos;
    while (this.more() && !(this.peek() === end && this.peek(1) === ']')) this.pos++;
    if (!this.more()) throw new EreError(ERE_ERRORS.brack);
    const text = this.src.slice(start, this.pos);
    if (text.length === 1) return text.charCodeAt(0);
    const named = COLLATING_NAMES.get(text);
    if (named === undefined) throw new EreError(ERE_ERRORS.collate);
    return named;
  }
}

/**
 * Translates a POSIX ERE given as a byte string (one character per byte, `latin1`) into a RegExp
 * over byte strings. A leading `(?i)` makes it case-insensitive for ASCII letters.
 */
export function translateEre(pattern: string): EreCompileResult {
  let src = pattern;
  let icase = false;
  if (src.startsWith('(?i)')) { src = src.slice(4); icase = true; }
  try {
    const source = new EreTranslator(src, icase).translate();
    return { ok: true, source, regex: new RegExp(source) };
  } catch (e) {
    if (e instanceof EreError) return { ok: false, error: e.message };
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Longest subject the library sees: clamscan copies the path into a 513-byte buffer. */
const MAX_SUBJECT = 512;

/** One `--exclude`-style pattern, ready to test paths. */
export class PathPattern {
  private constructor(
    /** The pattern as given on the command line. */
    readonly source: string,
    private readonly regex: RegExp | undefined,
    private readonly slashSuffix: boolean,
    /** Why the pattern is invalid, when it is; an invalid pattern matches nothing. */
    readonly error: string | undefined,
  ) {}

  static compile(source: string): PathPattern {
    const bytes = Buffer.from(source, 'utf8').toString('latin1');
    const r = translateEre(bytes);
    return new PathPattern(source, r.ok ? r.regex : undefined, bytes.endsWith('/'), r.ok ? undefined : r.error);
  }

  test(path: Buffer): boolean {
    if (!this.regex) return false;
    let subject = path.toString('latin1');
    if (this.slashSuffix) subject = `${subject}/`.slice(0, MAX_SUBJECT - 2);
    else subject = subject.slice(0, MAX_SUBJECT);
    return this.regex.test(subject);
  }
}

// ---------------------------------------------------------------------------------------------
// The walker

export interface WalkOptions {
  /** `-r`: descend into subdirectories. The top-level directories are always listed. */
  recursive: boolean;
  /** `--follow-dir-symlinks`: 0 never, 1 only on the command line (default), 2 always. */
  followDirSymlinks: 0 | 1 | 2;
  /** `--follow-file-symlinks`: 0 never, 1 only on the command line (default), 2 always. */
  followFileSymlinks: 0 | 1 | 2;
  /** `--max-dir-recursion` (15): directories deeper than this (the top level is 1) are skipped. */
  maxDirRecursion: number;
  /** `--cross-fs` (yes): when false, entries on another device than the top-level one are excluded. */
  crossFs: boolean;
  exclude: PathPattern[];
  include: PathPattern[];
  excludeDir: PathPattern[];
  includeDir: PathPattern[];
}

export const DEFAULT_WALK_OPTIONS: Readonly<WalkOptions> = Object.freeze({
  recursive: false,
  followDirSymlinks: 1,
  followFileSymlinks: 1,
  maxDirRecursion: 15,
  crossFs: true,
  exclude: [],
  include: [],
  excludeDir: [],
  includeDir: [],
});

/** An errno-style failure, kept as data. */
export interface FsFailure {
  code: string;
  message: string;
}

export type WalkEvent =
  /** A regular file to read and scan; `size` is from stat (undefined if stat failed). */
  | { type: 'file'; path: Buffer; size: number | undefined }
  /** A regular file of size zero: `<path>: Empty file`. */
  | { type: 'empty'; path: Buffer }
  /** `<path>: Excluded` (or `Excluded (/proc)`); `dir` when a directory was excluded. */
  | { type: 'excluded'; path: Buffer; dir: boolean; proc: boolean }
  /** `<path>: Symbolic link`: a symlink not followed. */
  | { type: 'symlink'; path: Buffer }
  /** A directory was opened: counts toward "Scanned directories". */
  | { type: 'dir'; path: Buffer }
  /** `<path>: Can't open directory.` */
  | { type: 'dir-error'; path: Buffer; error: FsFailure }
  /** A directory already being walked, reached again through a symlink or bind mount; not re-entered. */
  | { type: 'loop'; path: Buffer }
  /** A command-line symlink whose target cannot be reached (clamscan prints nothing for it). */
  | { type: 'broken-link'; path: Buffer; error: FsFailure }
  /** `-`: scan standard input. */
  | { type: 'stdin' }
  /** A command-line path that does not exist or cannot be stat'ed. */
  | { type: 'missing'; path: Buffer; error: FsFailure }
  /** A command-line path that is neither a regular file nor a directory. */
  | { type: 'unsupported'; path: Buffer };

export function toFailure(e: unknown): FsFailure {
  const err = e as NodeJS.ErrnoException;
  return { code: typeof err?.code === 'string' ? err.code : 'EIO', message: err instanceof Error ? err.message : String(e) };
}

const SLASH = 0x2f;
const DASH = Buffer.from('-');

function joinPath(dir: Buffer, name: Buffer): Buffer {
  if (dir.length === 1 && dir[0] === SLASH) return Buffer.concat([dir, name]);
  return Buffer.concat([dir, Buffer.from('/'), name]);
}

/** Drops trailing slashes, keeping at least one byte ("/" stays "/"). */
export function stripTrailingSlashes(path: Buffer): Buffer {
  let end = path.length;
  while (end > 1 && path[end - 1] === SLASH) end--;
  return end === path.length ? path : path.subarray(0, end);
}

async function tryStat(path: Buffer): Promise<Stats | undefined> {
  try {
    return await fsp.stat(path);
  } catch {
    return undefined;
  }
}

/**
 * Walks the targets in order. Never throws for file-system conditions: each becomes an event.
 * (Exceptions from the iterable of targets propagate.)
 */
export async function* walk(
  targets: Iterable<Buffer> | AsyncIterable<Buffer>,
  options: WalkOptions,
): AsyncGenerator<WalkEvent, void, undefined> {
  const procDev = await (async () => {
    const st = await tryStat(Buffer.from('/proc'));
    return st && st.size === 0 ? st.dev : undefined;
  })();
  const ancestors = new Set<string>();
  const key = (st: Stats): string => `${st.dev}:${st.ino}`;

  async function* file(path: Buffer): AsyncGenerator<WalkEvent> {
    let real = path;
    try {
      real = await fsp.realpath(path, { encoding: 'buffer' });
    } catch {
      // clamscan falls back to the path as given when it cannot be resolved.
    }
    if (options.exclude.some((p) => p.test(real))) {
      yield { type: 'excluded', path, dir: false, proc: false };
      return;
    }
    if (options.include.length > 0 && !options.include.some((p) => p.test(real))) {
      yield { type: 'excluded', path, dir: false, proc: false };
      return;
    }
    const st = await tryStat(real);
    if (st) {
      if (procDev !== undefined && st.dev === procDev) {
        yield { type: 'excluded', path, dir: false, proc: true };
        return;
      }
      if (st.size === 0) {
        yield { type: 'empty', path };
        return;
      }
    }
    yield { type: 'file', path, size: st?.size };
  }

  async function* directory(path: Buffer, depth: number, dev: number): AsyncGenerator<WalkEvent> {
    if (options.excludeDir.some((p) => p.test(path))) {
      yield { type: 'excluded', path, dir: true, proc: false };
      return;
    }
    if (options.includeDir.length > 0 && !options.includeDir.some((p) => p.test(path))) {
      yield { type: 'excluded', path, dir: true, proc: false };
      return;
    }
    if (depth > options.maxDirRecursion) return;
    const self = await tryStat(path);
    if (self && ancestors.has(key(self))) {
      yield { type: 'loop', path };
      return;
    }
    let dir;
    try {
      dir = await fsp.opendir(path, { encoding: 'buffer' as BufferEncoding });
    } catch (e) {
      yield { type: 'dir-error', path, error: toFailure(e) };
      return;
    }
    if (self) ancestors.add(key(self));
    try {
      yield { type: 'dir', path };
      for await (const entry of dir) {
        const name = entry.name as unknown as Buffer;
        const child = joinPath(path, name);
        let st: Stats;
        try {
          st = await fsp.lstat(child);
        } catch {
          continue; // vanished between readdir and lstat: clamscan skips it silently
        }
        if (!options.crossFs && st.dev !== dev) {
          yield { type: 'excluded', path: child, dir: st.isDirectory(), proc: false };
          continue;
        }
        if (st.isSymbolicLink()) {
          if (options.followDirSymlinks !== 2 && options.followFileSymlinks !== 2) {
            yield { type: 'symlink', path: child };
            continue;
          }
          const target = await tryStat(child);
          if (!target) continue; // broken link under "always follow": silently skipped, as clamscan does
          if (target.isFile() && options.followFileSymlinks === 2) yield* file(child);
          else if (target.isDirectory() && options.followDirSymlinks === 2) {
            if (options.recursive) yield* directory(child, depth + 1, dev);
          } else yield { type: 'symlink', path: child };
        } else if (st.isFile()) {
          yield* file(child);
        } else if (st.isDirectory() && options.recursive) {
          yield* directory(child, depth + 1, dev);
        }
        // Other types (and directories without -r) are skipped silently.
      }
    } finally {
      if (self) ancestors.delete(key(self));
      // for-await closes the Dir when the loop ends; close explicitly when abandoned early.
      await dir.close().catch(() => undefined);
    }
  }

  for await (const target of targets) {
    if (target.equals(DASH)) {
      yield { type: 'stdin' };
      continue;
    }
    let st: Stats;
    try {
      st = await fsp.lstat(target);
    } catch (e) {
      yield { type: 'missing', path: target, error: toFailure(e) };
      continue;
    }
    const path = stripTrailingSlashes(target);
    if (st.isSymbolicLink()) {
      if (options.followDirSymlinks === 0 && options.followFileSymlinks === 0) {
        yield { type: 'symlink', path };
        continue;
      }
      let t: Stats;
      try {
        t = await fsp.stat(path);
      } catch (e) {
        yield { type: 'broken-link', path, error: toFailure(e) };
        continue;
      }
      if (t.isFile() && options.followFileSymlinks !== 0) yield* file(path);
      else if (t.isDirectory() && options.followDirSymlinks !== 0) yield* directory(path, 1, t.dev);
      else yield { type: 'symlink', path };
    } else if (st.isFile()) {
      yield* file(path);
    } else if (st.isDirectory()) {
      yield* directory(path, 1, st.dev);
    } else {
      yield { type: 'unsupported', path };
    }
  }
}
