/**
 * YARA rule text → syntax tree (`RuleFile`) + diagnostics, by recursive descent.
 *
 * In: the source text of one rule file, its name for diagnostics, and options. Out: every import,
 * include and rule that could be parsed, with byte spans, and every lexical and syntax diagnostic
 * (`yara.syntax.*`). Never throws on user input.
 *
 * Why recursive descent: each function below carries its production, so the grammar is readable
 * where it is implemented, and error recovery is explicit. On a syntax error the parser reports
 * it, then skips to the next section keyword (`strings:`, `condition:`) of the same rule, or to the
 * next `rule` / `import` / `include` at top level, so a file with several broken rules reports an
 * error for each. A rule with an error is still returned, holding what could be read of it (its
 * condition is null when the condition failed), so tools can show it; `Rule.broken` marks where
 * its first error is and keeps the complete parts of its condition read before it, which yara
 * checks before it stops at the error. Syntax errors say what yara 4.2.3 says, a bare "syntax
 * error"; the unexpected token and what was expected go to the diagnostic's `help`.
 *
 * Includes: yara splices an included file into the token stream while lexing. Given a reader
 * (`ParseOptions.include`), this parser does the equivalent at top level, where every real rule
 * set writes them: it parses the included file on its own (its diagnostics carry its name and
 * lines) and appends its imports and rules, each marked with its `origin`, in place. The parser
 * itself never touches the file system.
 *
 * YARA's grammar splits expressions into two classes, and this parser tracks the split:
 * *primary* expressions (numbers, strings, identifiers, arithmetic) and *boolean* ones (`true`,
 * `$a`, comparisons, `of`, `for`, `and`/`or`/`not`). Arithmetic, bitwise, relational and
 * equality operators take only primary operands, so `true == true`, `1 < 2 < 3` and `(1 < 2) + 1`
 * are syntax errors exactly as in yara. Precedence, lowest first: `or`; `and`; `not defined`;
 * `== != contains icontains startswith istartswith endswith iendswith iequals matches`;
 * `< <= > >=`; `|`; `^`; `&`; `<< >>`; `+ -`; `* \ %`; unary `- ~`.
 */

import { error as mkError, type Diagnostic, type Location } from '../../core/diagnostics.js';
import type {
  BinaryOp,
  Expr,
  HexToken,
  Ident,
  Import,
  Include,
  IntReader,
  Iterable,
  MetaEntry,
  Modifier,
  ModifierKind,
  Quantifier,
  RangeExpr,
  RegexLiteral,
  Rule,
  RuleFile,
  RuleSet,
  SetItem,
  Span,
  StringDef,
  StringSet,
  WithDecl,
} from './ast.js';
import { tokenize, type LexIssue, type Token } from './lexer.js';

export interface ParseOptions {
  /** Like yara's `--strict-escape`: warn on unknown escape sequences in regular expressions. */
  strictEscape?: boolean;
  /** Nesting depth at which an expression is refused instead of risking the call stack. */
  maxDepth?: number;
  /**
   * Reads an included file: given the path yara would open (the including file's directory
   * joined to the `include` path, unless that path is absolute or the includer's name has no
   * `/`), its bytes or text, or undefined when it cannot be read. With it, `include "p"` is
   * followed as yara does: the included file's imports and rules join this file's, in place,
   * marked with their `origin`; a file already being included is "includes circular reference",
   * more than `YARA_MAX_INCLUDE_DEPTH` nested files is "includes depth exceeded", and an unreadable
   * file is "can't open include file: p". Without it, includes are only recorded.
   */
  include?: (path: string) => string | Uint8Array | undefined;
}

/** yara's YR_MAX_INCLUDE_DEPTH: the files on the include stack, the top-level file counted. */
export const YARA_MAX_INCLUDE_DEPTH = 16;

export interface ParseResult {
  ast: RuleFile;
  diagnostics: Diagnostic[];
}

/** Default for `maxDepth`: far beyond real rules, far below the JavaScript stack limit. */
export const DEFAULT_MAX_EXPR_DEPTH = 400;

type Cls = 'primary' | 'bool';
interface Typed {
  expr: Expr;
  cls: Cls;
}

/** Thrown inside the parser only, caught at the nearest recovery point; never escapes. */
class SyntaxFailure {}

const INT_READERS = new Set<string>([
  'int8', 'int16', 'int32', 'int8be', 'int16be', 'int32be', 'uint8', 'uint16', 'uint32', 'uint8be', 'uint16be', 'uint32be',
]);
const EQUALITY_OPS = new Set(['==', '!=', 'contains', 'icontains', 'startswith', 'istartswith', 'endswith', 'iendswith', 'iequals', 'matches']);
const RELATIONAL_OPS = new Set(['<', '<=', '>', '>=']);
const MODIFIERS = new Set<string>(['nocase', 'wide', 'ascii', 'fullword', 'private', 'xor', 'base64', 'base64wide']);
const ALLOWED_MODIFIERS: Record<'text' | 'hex' | 'regex', ReadonlySet<string>> = {
  text: MODIFIERS,
  hex: new Set(['private']),
  regex: new Set(['nocase', 'wide', 'ascii', 'fullword', 'private']),
};

/** The alphabet of `base64` / `base64wide` without an argument. */
const DEFAULT_BASE64_ALPHABET = new TextEncoder().encode('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, k) => x === b[k]);
}

function span(start: number, end: number): Span {
  return { start, end };
}

/** How a token is named in "unexpected …" messages. */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of file';
    case 'ident':
      return `identifier "${t.text}"`;
    case 'keyword':
      return `<${t.text}>`;
    case 'stringId':
      return 'string identifier';
    case 'stringCount':
      return 'string count';
    case 'stringOffset':
      return 'string offset';
    case 'stringLength':
      return 'string length';
    case 'int':
      return 'integer number';
    case 'float':
      return 'floating point number';
    case 'text':
      return 'text string';
    case 'regex':
      return 'regular expression';
    case 'hex':
      return 'hex string';
    case 'punct':
      return `'${t.text}'`;
    case 'invalid':
      return `'${t.text.slice(0, 20)}'`;
  }
}

/**
 * Parses one rule file. `source` is text (encoded as UTF-8 for byte offsets) or the file's raw
 * bytes, which keeps non-UTF-8 bytes inside strings exactly as yara reads them.
 */
export function parseYara(source: string | Uint8Array, file: string, opts: ParseOptions = {}): ParseResult {
  return parseWithIncludes(source, file, opts, [file]);
}

/** `parseYara` for a file on the include stack `stack` (the top-level file first, `file` last). */
function parseWithIncludes(source: string | Uint8Array, file: string, opts: ParseOptions, stack: readonly string[]): ParseResult {
  const bytes = typeof source === 'string' ? new TextEncoder().encode(source) : source;
  const lexed = tokenize(bytes, { strictEscape: opts.strictEscape ?? false });
  const p = new Parser(bytes, file, lexed.tokens, lexed.issues, opts.maxDepth ?? DEFAULT_MAX_EXPR_DEPTH, opts, stack);
  const ast = p.parseFile();
  // Own diagnostics in source order; those of an included file right where its include stands.
  const keyed = p.diagnostics.map((d, seq) => ({ d, line: d.location?.line ?? 0, column: d.location?.column ?? 0, nested: 0, seq }));
  for (const block of p.included) {
    block.diagnostics.forEach((d, seq) => keyed.push({ d, line: block.at.line, column: block.at.column, nested: 1, seq }));
  }
  keyed.sort((a, b) => a.line - b.line || a.column - b.column || a.nested - b.nested || a.seq - b.seq);
  return { ast, diagnostics: keyed.map((k) => k.d) };
}

/** The path yara opens for `include "path"` written in `includer`. */
function includePath(includer: string, path: string): string {
  const slash = includer.lastIndexOf('/');
  if (path.startsWith('/') || slash < 0) return path;
  return includer.slice(0, slash + 1) + path;
}

class Parser {
  readonly diagnostics: Diagnostic[] = [];
  private pos = 0;
  private depth = 0;
  /** Offset of the first error since the current rule began. */
  private failAt: number | undefined;
  /** While a condition is read: every expression node completed so far (children before parents). */
  private done: Expr[] | undefined;
  private readonly lineStarts: number[] = [0];
  /** Token spans already covered by a lexical error, so the parser does not report them twice. */
  private readonly lexErrorAt = new Set<number>();
  private readonly decoder = new TextDecoder();

  /** Diagnostics of included files, each block anchored at its `include`. */
  readonly included: { at: Location; diagnostics: Diagnostic[] }[] = [];

  constructor(
    private readonly src: Uint8Array,
    private readonly file: string,
    private readonly tokens: Token[],
    lexIssues: LexIssue[],
    private readonly maxDepth: number,
    private readonly opts: ParseOptions = {},
    private readonly stack: readonly string[] = [file],
  ) {
    for (let k = 0; k < src.length; k++) if (src[k] === 0x0a) this.lineStarts.push(k + 1);
    for (const li of lexIssues) {
      this.report(li.code, li.message, li.span, li.severity);
      if (li.severity === 'error') this.lexErrorAt.add(li.span.start);
    }
  }

  // ------------------------------------------------------------------ diagnostics

  location(s: Span): Location {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] as number) <= s.start) lo = mid;
      else hi = mid - 1;
    }
    const lineStart = this.lineStarts[lo] as number;
    return { file: this.file, line: lo + 1, column: s.start - lineStart + 1, length: Math.max(1, s.end - s.start) };
  }

  private sourceLine(line: number): string {
    const start = this.lineStarts[line - 1] ?? 0;
    const next = this.lineStarts[line];
    const end = next === undefined ? this.src.length : next - 1;
    return this.decoder.decode(this.src.subarray(start, end)).replace(/\r$/, '');
  }

  /** `help` keeps vigil's own account of an error yara words tersely (its bare "syntax error"). */
  report(code: string, message: string, s: Span, severity: 'error' | 'warning' = 'error', help?: string): void {
    // yara stops a rule at its first error of any kind (modifiers, hex strings…), not only at
    // syntax errors: the rule counts as broken from there.
    if (severity === 'error') this.failAt ??= s.start;
    const location = this.location(s);
    const d = mkError(code, message, location, { sourceLine: this.sourceLine(location.line), severity, ...(help ? { help } : {}) });
    this.diagnostics.push(d);
  }

  /**
   * Reports a syntax error at the current token and unwinds to a recovery point. yara 4.2.3
   * prints bison's bare "syntax error"; the unexpected token and what was expected go to `help`.
   */
  private fail(expecting?: string): never {
    const t = this.peek();
    this.failAt ??= t.span.start;
    if (!(t.kind === 'invalid' && this.lexErrorAt.has(t.span.start)) && !(t.kind === 'int' && t.int === undefined)) {
      const detail = `unexpected ${describeToken(t)}${expecting ? `, expecting ${expecting}` : ''}`;
      this.report('yara.syntax.unexpected-token', 'syntax error', t.span, 'error', detail);
    }
    throw new SyntaxFailure();
  }

  // ------------------------------------------------------------------ token access

  private peek(k = 0): Token {
    return this.tokens[Math.min(this.pos + k, this.tokens.length - 1)] as Token;
  }
  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }
  private prevEnd(): number {
    return this.pos > 0 ? (this.tokens[this.pos - 1] as Token).span.end : 0;
  }
  private isKw(word: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'keyword' && t.text === word;
  }
  private isPunct(p: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'punct' && t.text === p;
  }
  private eatKw(word: string): boolean {
    if (this.isKw(word)) {
      this.pos++;
      return true;
    }
    return false;
  }
  private eatPunct(p: string): boolean {
    if (this.isPunct(p)) {
      this.pos++;
      return true;
    }
    return false;
  }
  private expectKw(word: string): Token {
    if (!this.isKw(word)) this.fail(`<${word}>`);
    return this.next();
  }
  private expectPunct(p: string): Token {
    if (!this.isPunct(p)) this.fail(`'${p}'`);
    return this.next();
  }
  private expectKind(kind: Token['kind'], what: string): Token {
    if (this.peek().kind !== kind) this.fail(what);
    return this.next();
  }

  /** True at a token where a top-level item can start. */
  private atTopLevelStart(): boolean {
    const t = this.peek();
    if (t.kind !== 'keyword') return false;
    if (t.text === 'rule' || t.text === 'import' || t.text === 'include') return true;
    if (t.text === 'private' || t.text === 'global') {
      for (let k = 1; k < 3; k++) {
        const u = this.peek(k);
        if (u.kind !== 'keyword') return false;
        if (u.text === 'rule') return true;
        if (u.text !== 'private' && u.text !== 'global') return false;
      }
    }
    return false;
  }

  private syncTopLevel(): void {
    while (this.peek().kind !== 'eof' && !this.atTopLevelStart()) this.pos++;
  }

  // ------------------------------------------------------------------ file and rules

  // rule_file := ( import | include | rule )* EOF
  parseFile(): RuleFile {
    const imports: Import[] = [];
    const includes: Include[] = [];
    const rules: Rule[] = [];
    while (this.peek().kind !== 'eof') {
      const before = this.pos;
      try {
        if (this.isKw('import') || this.isKw('include')) {
          // import := 'import' TEXT ; include := 'include' TEXT
          const kw = this.next();
          const path = this.expectKind('text', 'text string');
          const value = this.decoder.decode(path.bytes ?? new Uint8Array());
          const s = span(kw.span.start, path.span.end);
          if (kw.text === 'import') imports.push({ kind: 'import', span: s, module: value, rulesBefore: rules.length });
          else {
            includes.push({ kind: 'include', span: s, path: value });
            if (this.opts.include) this.follow(value, s, { imports, includes, rules });
          }
        } else {
          this.parseRule(rules);
        }
      } catch (e) {
        if (!(e instanceof SyntaxFailure)) throw e;
        if (this.pos === before) this.pos++;
        this.syncTopLevel();
      }
    }
    return { kind: 'file', span: span(0, this.src.length), imports, includes, rules };
  }

  /**
   * Follows `include "path"` (written at `at`): parses the included file and appends its imports,
   * includes and rules, marked with their origin, to `into`. Errors as yara words them.
   */
  private follow(path: string, at: Span, into: { imports: Import[]; includes: Include[]; rules: Rule[] }): void {
    const target = includePath(this.file, path);
    if (this.stack.includes(target)) {
      this.report('yara.include.circular', 'includes circular reference', at);
      return;
    }
    if (this.stack.length >= YARA_MAX_INCLUDE_DEPTH) {
      this.report('yara.include.too-deep', 'includes depth exceeded', at);
      return;
    }
    const read = this.opts.include?.(target);
    if (read === undefined) {
      this.report('yara.include.cannot-open', `can't open include file: ${path}`, at);
      return;
    }
    const source = typeof read === 'string' ? new TextEncoder().encode(read) : read;
    const child = parseWithIncludes(source, target, this.opts, [...this.stack, target]);
    const origin = { file: target, source };
    const base = into.rules.length;
    for (const i of child.ast.imports) into.imports.push({ ...i, origin: i.origin ?? origin, rulesBefore: base + (i.rulesBefore ?? 0) });
    for (const i of child.ast.includes) into.includes.push({ ...i, origin: i.origin ?? origin });
    for (const r of child.ast.rules) into.rules.push({ ...r, origin: r.origin ?? origin });
    if (child.diagnostics.length > 0) this.included.push({ at: this.location(at), diagnostics: child.diagnostics });
  }

  // rule := ( 'private' | 'global' )* 'rule' IDENT [ ':' IDENT+ ] '{' [meta] [strings] condition '}'
  private parseRule(rules: Rule[]): void {
    const start = this.peek().span.start;
    const before = rules.length;
    this.failAt = undefined;
    this.done = [];
    try {
      this.parseRuleBody(rules, start);
    } finally {
      const rule = rules.length > before ? rules[rules.length - 1] : undefined;
      if (rule && this.failAt !== undefined) rule.broken = { at: this.failAt, partial: outermost(this.done, this.failAt) };
      this.done = undefined;
    }
  }

  private parseRuleBody(rules: Rule[], start: number): void {
    let isPrivate = false;
    let isGlobal = false;
    for (;;) {
      // yara accepts a repeated rule modifier (`private private rule`), so this parser does too.
      if (this.eatKw('private')) isPrivate = true;
      else if (this.eatKw('global')) isGlobal = true;
      else break;
    }
    this.expectKw('rule');
    const nameTok = this.expectKind('ident', 'identifier');
    const name: Ident = { name: nameTok.text, span: nameTok.span };
    const tags: Ident[] = [];
    if (this.eatPunct(':')) {
      if (this.peek().kind !== 'ident') this.fail('identifier');
      while (this.peek().kind === 'ident') {
        const t = this.next();
        if (tags.some((x) => x.name === t.text)) this.report('yara.syntax.duplicated-tag', `duplicated tag identifier "${t.text}"`, t.span);
        tags.push({ name: t.text, span: t.span });
      }
    }
    this.expectPunct('{');
    const rule: Rule = { kind: 'rule', span: span(start, this.prevEnd()), isPrivate, isGlobal, name, tags, meta: [], strings: [], condition: null };
    // Pushed before its body is parsed, so a rule with a broken body is still in the tree.
    rules.push(rule);
    let failed = false;
    // Sections; an error inside one skips to the next section keyword of this rule.
    if (this.isKw('meta')) {
      try {
        this.parseMeta(rule.meta);
      } catch (e) {
        if (!(e instanceof SyntaxFailure)) throw e;
        failed = true;
        this.syncSection();
      }
    }
    if (this.isKw('strings')) {
      try {
        this.parseStrings(rule.strings);
      } catch (e) {
        if (!(e instanceof SyntaxFailure)) throw e;
        failed = true;
        this.syncSection();
      }
    }
    if (!this.isKw('condition') && failed) {
      rule.span = span(start, this.prevEnd());
      throw new SyntaxFailure();
    }
    // condition := 'condition' ':' boolean_expression
    try {
      this.expectKw('condition');
      this.expectPunct(':');
      rule.condition = this.parseBoolean();
      this.expectPunct('}');
    } catch (e) {
      // The rule's span reaches the offending token, so its diagnostic is attributed to the rule.
      rule.span = span(start, Math.max(this.prevEnd(), this.peek().span.end));
      throw e;
    }
    rule.span = span(start, this.prevEnd());
    if (failed) throw new SyntaxFailure();
  }

  /** Skips to the next `strings:` / `condition:` of the current rule, or to a top-level start. */
  private syncSection(): void {
    while (this.peek().kind !== 'eof' && !this.atTopLevelStart()) {
      if ((this.isKw('strings') || this.isKw('condition')) && this.isPunct(':', 1)) return;
      this.pos++;
    }
  }

  // meta := 'meta' ':' ( IDENT '=' ( TEXT | ['-'] INT | 'true' | 'false' ) )+
  private parseMeta(out: MetaEntry[]): void {
    this.expectKw('meta');
    this.expectPunct(':');
    if (this.peek().kind !== 'ident') this.fail('identifier');
    let failed = false;
    while (this.peek().kind === 'ident') {
      const itemStart = this.pos;
      try {
        this.parseMetaEntry(out);
      } catch (e) {
        if (!(e instanceof SyntaxFailure)) throw e;
        failed = true;
        // Skip to the next `key =`, the next section, or the next top-level item.
        while (this.peek().kind !== 'eof' && !this.atTopLevelStart()) {
          if (this.pos > itemStart && this.peek().kind === 'ident' && this.isPunct('=', 1)) break;
          if ((this.isKw('strings') || this.isKw('condition')) && this.isPunct(':', 1)) break;
          this.pos++;
        }
      }
    }
    if (failed) throw new SyntaxFailure();
  }

  // meta_entry := IDENT '=' ( TEXT | ['-'] INT | 'true' | 'false' )
  private parseMetaEntry(out: MetaEntry[]): void {
    const key = this.next();
    this.expectPunct('=');
    const v = this.peek();
    let value: MetaEntry['value'];
    if (v.kind === 'text') {
      this.next();
      value = { kind: 'string', value: v.bytes ?? new Uint8Array() };
    } else if (v.kind === 'int' && v.int !== undefined) {
      this.next();
      value = { kind: 'int', value: v.int };
    } else if (this.isPunct('-') && this.peek(1).kind === 'int' && this.peek(1).int !== undefined) {
      this.next();
      value = { kind: 'int', value: -(this.next().int as bigint) };
    } else if (this.isKw('true') || this.isKw('false')) {
      this.next();
      value = { kind: 'bool', value: v.text === 'true' };
    } else this.fail();
    out.push({ span: span(key.span.start, this.prevEnd()), key: { name: key.text, span: key.span }, value });
  }

  // strings := 'strings' ':' string_def+
  private parseStrings(out: StringDef[]): void {
    this.expectKw('strings');
    this.expectPunct(':');
    if (this.peek().kind !== 'stringId') this.fail('string identifier');
    let failed = false;
    while (this.peek().kind === 'stringId') {
      const itemStart = this.pos;
      try {
        this.parseStringDef(out);
      } catch (e) {
        if (!(e instanceof SyntaxFailure)) throw e;
        failed = true;
        // Skip to the next `$x =`, the next section, or the next top-level item.
        while (this.peek().kind !== 'eof' && !this.atTopLevelStart()) {
          if (this.pos > itemStart && this.peek().kind === 'stringId' && this.isPunct('=', 1)) break;
          if ((this.isKw('strings') || this.isKw('condition')) && this.isPunct(':', 1)) break;
          this.pos++;
        }
      }
    }
    if (failed) throw new SyntaxFailure();
  }

  // string_def := STRING_ID '=' ( TEXT text_mod* | HEX hex_mod* | REGEX regex_mod* )
  private parseStringDef(out: StringDef[]): void {
    const idTok = this.next();
    if (idTok.wildcard) {
      this.pos--;
      this.fail('string identifier');
    }
    const id: Ident = { name: idTok.text, span: idTok.span };
    if (id.name !== '$' && out.some((s) => s.id.name === id.name)) {
      this.report('yara.syntax.duplicated-string', `duplicated string identifier "${id.name}"`, id.span);
    }
    this.expectPunct('=');
    const v = this.peek();
    let def: StringDef;
    if (v.kind === 'text') {
      this.next();
      def = { kind: 'text', span: span(idTok.span.start, v.span.end), id, modifiers: [], value: v.bytes ?? new Uint8Array() };
    } else if (v.kind === 'hex') {
      this.next();
      def = { kind: 'hex', span: span(idTok.span.start, v.span.end), id, modifiers: [], tokens: this.parseHex(v, id.name) };
    } else if (v.kind === 'regex' && v.regex) {
      this.next();
      def = { kind: 'regex', span: span(idTok.span.start, v.span.end), id, modifiers: [], regex: { span: v.span, ...v.regex } };
    } else this.fail('text string, hex string or regular expression');
    this.parseModifiers(def);
    def.span = span(def.span.start, this.prevEnd());
    out.push(def);
  }

  // modifier := 'nocase' | 'wide' | 'ascii' | 'fullword' | 'private'
  //           | 'xor' [ '(' INT [ '-' INT ] ')' ] | ( 'base64' | 'base64wide' ) [ '(' TEXT ')' ]
  // Errors in yara's words and order: a modifier's own values first (xor range, alphabet
  // length), then, as the list grows, differing base64 alphabets and repeated modifiers; the
  // combinations yara cannot search are checked once the list is complete (only when no
  // modifier failed, as yara never gets there then).
  private parseModifiers(def: StringDef): void {
    const mods = def.modifiers;
    let failed = false;
    let alphabet: Uint8Array | undefined;
    const bad = (code: string, message: string, s: Span): void => {
      this.report(code, message, s);
      failed = true;
    };
    while (this.peek().kind === 'keyword' && MODIFIERS.has(this.peek().text)) {
      const t = this.next();
      const kind = t.text as ModifierKind;
      const mod: Modifier = { kind, span: t.span };
      let own = false;
      if (kind === 'xor') {
        mod.xorRange = { min: 0, max: 255 };
        if (this.eatPunct('(')) {
          const lo = this.expectKind('int', 'integer number');
          let hi = lo;
          const ranged = this.eatPunct('-');
          if (ranged) hi = this.expectKind('int', 'integer number');
          this.expectPunct(')');
          const min = Number(lo.int ?? -1n);
          const max = Number(hi.int ?? -1n);
          const s = span(lo.span.start, hi.span.end);
          let msg: string | undefined;
          if (!ranged) {
            if (min < 0 || min > 255) msg = 'invalid xor range';
          } else {
            if (max > 255) msg = 'upper bound for xor range exceeded (max: 255)';
            if (min > max) msg = 'xor lower bound exceeds upper bound';
          }
          if (msg) {
            bad('yara.syntax.invalid-modifier', msg, s);
            own = true;
          }
          mod.xorRange = { min, max };
        }
      } else if ((kind === 'base64' || kind === 'base64wide') && this.eatPunct('(')) {
        const a = this.expectKind('text', 'text string');
        this.expectPunct(')');
        mod.alphabet = a.bytes ?? new Uint8Array();
        if (mod.alphabet.length !== 64) {
          bad('yara.syntax.invalid-modifier', 'length of base64 alphabet must be 64', a.span);
          own = true;
        }
      }
      mod.span = span(t.span.start, this.prevEnd());
      if (!ALLOWED_MODIFIERS[def.kind].has(kind)) {
        // yara's grammar has no such modifier for this kind of string.
        this.report('yara.syntax.invalid-modifier', 'syntax error', mod.span, 'error', `unexpected <${kind}>: modifier not allowed on ${def.kind} strings`);
        failed = true;
      } else if (!own) {
        let multiple = false;
        if (kind === 'base64' || kind === 'base64wide') {
          const mine = mod.alphabet ?? DEFAULT_BASE64_ALPHABET;
          multiple = alphabet !== undefined && !sameBytes(alphabet, mine);
          if (multiple) bad('yara.syntax.invalid-modifier', 'can not specify multiple alphabets', mod.span);
          else alphabet = mine;
        }
        if (!multiple && mods.some((m) => m.kind === kind)) bad('yara.syntax.duplicated-modifier', 'duplicated modifier', mod.span);
      }
      mods.push(mod);
    }
    if (failed || mods.length === 0) return;
    const has = (k: ModifierKind): boolean => mods.some((m) => m.kind === k);
    const b64 = has('base64') ? 'base64' : has('base64wide') ? 'base64wide' : undefined;
    let clash: string | undefined;
    if (has('xor') && has('nocase')) clash = 'xor nocase';
    else if (b64 && has('nocase')) clash = `${b64} nocase`;
    else if (b64 && has('fullword')) clash = `${b64} fullword`;
    else if (b64 && has('xor')) clash = `${b64} xor`;
    if (clash) {
      const last = mods[mods.length - 1] as Modifier;
      this.report('yara.syntax.invalid-modifier', `invalid modifier combination: ${clash}`, span(mods[0]!.span.start, last.span.end));
    }
  }

  // ------------------------------------------------------------------ hex strings

  // hex_string := '{' hex_tokens '}'
  // hex_tokens := byte ( byte | jump | alternatives )* byte?   (starts and ends with a byte or group)
  // byte := ['~'] NIBBLE NIBBLE ; jump := '[' [INT] ['-' [INT]] ']' ; alternatives := '(' hex_tokens ('|' hex_tokens)* ')'
  private parseHex(tok: Token, id: string): HexToken[] {
    const base = tok.span.start;
    const text = tok.text;
    let k = 1;
    const end = text.length - 1;
    let failed = false;
    // yara's hex grammar says a bare "syntax error" for structural mistakes; vigil's account of
    // them goes to the diagnostic's help.
    const err = (msg: string, s: number, e: number, help?: string): void => {
      if (!failed) this.report('yara.syntax.invalid-hex', `invalid hex string "${id}": ${msg}`, span(base + s, base + e), 'error', help);
      failed = true;
    };
    const syntax = (help: string, s: number, e: number): void => err('syntax error', s, e, help);
    /** What yara's hex lexer says about the character at `k` inside a jump, if it refuses it. */
    const badJumpChar = (): boolean => {
      const c = text[k];
      if (c === undefined || k >= end || c === ']' || c === '-' || (c >= '0' && c <= '9') || isWs(c.charCodeAt(0))) return false;
      err('invalid character in hex string jump', k, k + 1);
      return true;
    };
    const skip = (): void => {
      for (;;) {
        while (k < end && isWs(text.charCodeAt(k))) k++;
        if (text.startsWith('//', k)) {
          while (k < end && text[k] !== '\n') k++;
        } else if (text.startsWith('/*', k)) {
          const close = text.indexOf('*/', k + 2);
          k = close < 0 ? end : close + 2;
        } else return;
      }
    };
    const isHexCh = (ch: string | undefined): boolean => ch !== undefined && ch.length === 1 && '0123456789abcdefABCDEF?'.includes(ch);
    const seq = (depth: number): HexToken[] => {
      const out: HexToken[] = [];
      for (;;) {
        skip();
        if (k >= end) break;
        const ch = text[k] as string;
        const s = k;
        if (ch === '~' || isHexCh(ch)) {
          let negated = false;
          if (ch === '~') {
            negated = true;
            k++;
            skip();
          }
          const a = text[k];
          const b = text[k + 1];
          if (!isHexCh(a) || !isHexCh(b)) {
            err(negated ? 'expecting a byte after "~"' : 'uneven number of digits in hex string', s, Math.min(end, k + 1));
            k++;
            continue;
          }
          k += 2;
          const hi = a === '?' ? 0 : parseInt(a as string, 16);
          const lo = b === '?' ? 0 : parseInt(b as string, 16);
          const mask = (a === '?' ? 0 : 0xf0) | (b === '?' ? 0 : 0x0f);
          if (negated && mask === 0) err('"~??" is not allowed', s, k);
          out.push({ kind: 'byte', span: span(base + s, base + k), value: (hi << 4) | lo, mask, negated });
        } else if (ch === '[') {
          k++;
          skip();
          const num = (): number | null => {
            const from = k;
            while (k < end && text.charCodeAt(k) >= 0x30 && text.charCodeAt(k) <= 0x39) k++;
            if (k === from) return null;
            const value = Number(text.slice(from, k));
            skip();
            return value;
          };
          const min = num();
          let max: number | null = min;
          if (text[k] === '-') {
            k++;
            skip();
            max = num();
            // `[-N]` is not a jump; only `[-]` may omit the lower bound.
            if (min === null && max !== null) syntax('invalid jump', s, k);
          } else if (min === null) {
            if (!badJumpChar()) syntax('invalid jump', s, k + 1);
          }
          if (text[k] !== ']') {
            if (!badJumpChar()) syntax('invalid jump', s, Math.min(end, k + 1));
            while (k < end && text[k] !== ']') k++;
          }
          k++;
          const jmin = min ?? 0;
          if (max !== null && jmin > max) err('invalid jump range', s, k);
          else if (max === 0 && !text.slice(s, k).includes('-')) err('invalid jump length', s, k);
          else if (depth > 0 && max === null) err('unbounded jumps not allowed inside alternation (|)', s, k);
          out.push({ kind: 'jump', span: span(base + s, base + k), min: jmin, max });
        } else if (ch === '(') {
          k++;
          const alternatives: HexToken[][] = [seq(depth + 1)];
          while (text[k] === '|') {
            k++;
            alternatives.push(seq(depth + 1));
          }
          if (text[k] !== ')') syntax('unbalanced parenthesis', s, k + 1);
          else k++;
          out.push({ kind: 'alt', span: span(base + s, base + k), alternatives });
        } else if (ch === '|' || ch === ')') {
          break;
        } else {
          err('invalid character in hex string', s, s + 1, `unexpected "${ch}"`);
          k++;
        }
      }
      const first = out[0];
      const last = out[out.length - 1];
      if (!first || !last) syntax('empty hex string or alternative', k, k + 1);
      else if (first.kind === 'jump' || last.kind === 'jump') syntax('a jump cannot start or end a hex string or alternative', (first.kind === 'jump' ? first : last).span.start - base, (first.kind === 'jump' ? first : last).span.end - base);
      return out;
    };
    const tokens = seq(0);
    skip();
    if (k < end) syntax(`unexpected "${text[k]}"`, k, k + 1);
    return tokens;
  }

  // ------------------------------------------------------------------ expressions

  private enter(): void {
    if (++this.depth > this.maxDepth) {
      this.failAt ??= this.peek().span.start;
      this.report('yara.syntax.too-deep', `expression nested deeper than ${this.maxDepth} levels`, this.peek().span);
      throw new SyntaxFailure();
    }
  }

  /** A boolean context (condition, `( … )` bodies, arguments): any expression. */
  private parseBoolean(): Expr {
    return this.parseOr().expr;
  }

  /** Requires a primary expression; reports the operator when a boolean one stands there. */
  private primaryOnly(t: Typed, op: Token): Expr {
    if (t.cls !== 'primary') {
      this.failAt ??= op.span.start;
      this.report('yara.syntax.unexpected-token', 'syntax error', op.span, 'error', `unexpected ${describeToken(op)}`);
      throw new SyntaxFailure();
    }
    return t.expr;
  }

  private bin(op: BinaryOp, left: Expr, right: Expr): Expr {
    return this.keep({ kind: 'binary', span: span(left.span.start, right.span.end), op, left, right });
  }

  /** Records a completed expression node (see `Rule.broken`). */
  private keep<T extends Expr>(e: T): T {
    this.done?.push(e);
    return e;
  }

  /** Runs a scoped construct (`for`, `with`); if it fails, forgets the nodes read inside it, whose names need its scope. */
  private scoped<T>(f: () => T): T {
    const mark = this.done?.length;
    try {
      return f();
    } catch (e) {
      if (this.done && mark !== undefined) this.done.length = mark;
      throw e;
    }
  }

  // or_expr := and_expr ( 'or' and_expr )*
  private parseOr(): Typed {
    this.enter();
    try {
      let left = this.parseAnd();
      while (this.isKw('or')) {
        this.next();
        const right = this.parseAnd();
        left = { expr: this.bin('or', left.expr, right.expr), cls: 'bool' };
      }
      return left;
    } finally {
      this.depth--;
    }
  }

  // and_expr := not_expr ( 'and' not_expr )*
  private parseAnd(): Typed {
    let left = this.parseNot();
    while (this.isKw('and')) {
      this.next();
      const right = this.parseNot();
      left = { expr: this.bin('and', left.expr, right.expr), cls: 'bool' };
    }
    return left;
  }

  // not_expr := ( 'not' | 'defined' ) not_expr | equality_expr
  private parseNot(): Typed {
    if (this.isKw('not') || this.isKw('defined')) {
      const t = this.next();
      this.enter();
      try {
        const operand = this.parseNot().expr;
        return { expr: this.keep({ kind: 'unary', span: span(t.span.start, operand.span.end), op: t.text as 'not' | 'defined', operand }), cls: 'bool' };
      } finally {
        this.depth--;
      }
    }
    return this.parseEquality();
  }

  // equality_expr := relational_expr ( eq_op relational_expr | 'matches' REGEX )*
  // eq_op := '==' | '!=' | 'contains' | 'icontains' | 'startswith' | 'istartswith' | 'endswith' | 'iendswith' | 'iequals'
  private parseEquality(): Typed {
    let left = this.parseRelational();
    while ((this.peek().kind === 'punct' || this.peek().kind === 'keyword') && EQUALITY_OPS.has(this.peek().text)) {
      const op = this.next();
      const l = this.primaryOnly(left, op);
      if (op.text === 'matches') {
        const r = this.expectKind('regex', 'regular expression');
        const regex: RegexLiteral = { span: r.span, ...(r.regex as NonNullable<Token['regex']>) };
        left = { expr: this.keep({ kind: 'matches', span: span(l.span.start, r.span.end), left: l, regex }), cls: 'bool' };
      } else {
        const right = this.parseRelational();
        left = { expr: this.bin(op.text as BinaryOp, l, this.primaryOnly(right, op)), cls: 'bool' };
      }
    }
    return left;
  }

  // relational_expr := bitor_expr ( rel_op bitor_expr )* | bitor_expr [ '%' ] 'of' of_rest
  private parseRelational(): Typed {
    let left = this.parseBinaryLevel(0);
    if (left.cls === 'primary' && (this.isKw('of') || (this.isPunct('%') && this.isKw('of', 1)))) {
      const percent = this.eatPunct('%');
      const q: Quantifier = { kind: percent ? 'percent' : 'count', span: span(left.expr.span.start, this.prevEnd()), expr: left.expr };
      return { expr: this.keep(this.parseOfRest(q)), cls: 'bool' };
    }
    while (this.peek().kind === 'punct' && RELATIONAL_OPS.has(this.peek().text)) {
      const op = this.next();
      const l = this.primaryOnly(left, op);
      const right = this.parseBinaryLevel(0);
      left = { expr: this.bin(op.text as BinaryOp, l, this.primaryOnly(right, op)), cls: 'bool' };
    }
    return left;
  }

  // bitor := bitxor ( '|' bitxor )* ; bitxor := bitand ( '^' bitand )* ; bitand := shift ( '&' shift )*
  // shift := additive ( ( '<<' | '>>' ) additive )* ; additive := mul ( ( '+' | '-' ) mul )*
  // mul := unary ( ( '*' | '\' | '%' ) unary )*     (a '%' followed by 'of' is a percentage, not modulo)
  private static readonly LEVELS: readonly (readonly string[])[] = [['|'], ['^'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '\\', '%']];
  /** How many binary right operands are being parsed (see `parseBinaryLevel`). */
  private rightOperand = 0;

  private parseBinaryLevel(level: number): Typed {
    const ops = Parser.LEVELS[level];
    if (!ops) return this.parseUnary();
    let left = this.parseBinaryLevel(level + 1);
    // `N% of` is a percentage only when N stands alone: inside the right operand of a binary
    // operator yara's parser takes the `%` as modulo (so `50+60% of them` is a syntax error).
    while (this.peek().kind === 'punct' && ops.includes(this.peek().text) && (this.rightOperand > 0 || !(this.isPunct('%') && this.isKw('of', 1)))) {
      const op = this.next();
      const l = this.primaryOnly(left, op);
      this.rightOperand++;
      let right: Typed;
      try {
        right = this.parseBinaryLevel(level + 1);
      } finally {
        this.rightOperand--;
      }
      left = { expr: this.bin(op.text as BinaryOp, l, this.primaryOnly(right, op)), cls: 'primary' };
    }
    return left;
  }

  // unary := ( '-' | '~' ) unary | postfix
  private parseUnary(): Typed {
    if (this.isPunct('-') || this.isPunct('~')) {
      const op = this.next();
      this.enter();
      try {
        const operand = this.primaryOnly(this.parseUnary(), op);
        return { expr: this.keep({ kind: 'unary', span: span(op.span.start, operand.span.end), op: op.text as '-' | '~', operand }), cls: 'primary' };
      } finally {
        this.depth--;
      }
    }
    return this.parseAtom();
  }

  // range := '(' primary '..' primary ')'
  private parseRange(): RangeExpr {
    const open = this.expectPunct('(');
    const lo = this.parsePrimary();
    this.expectPunct('..');
    const hi = this.parsePrimary();
    const close = this.expectPunct(')');
    return { kind: 'range', span: span(open.span.start, close.span.end), lo, hi };
  }

  /** A primary expression (everything up to, not including, relational operators). */
  private parsePrimary(): Expr {
    const t = this.parseBinaryLevel(0);
    if (t.cls !== 'primary') this.fail();
    return t.expr;
  }

  // atom := 'true' | 'false' | INT | FLOAT | TEXT | REGEX | 'filesize' | 'entrypoint'
  //       | INT_READER '(' primary ')' | '(' boolean ')'
  //       | STRING_ID [ 'at' primary | 'in' range ] | STRING_COUNT [ 'in' range ]
  //       | ( STRING_OFFSET | STRING_LENGTH ) [ '[' primary ']' ]
  //       | ( 'all' | 'any' | 'none' ) 'of' of_rest | 'for' for_rest | 'with' with_rest
  //       | IDENT ( '.' IDENT | '[' primary ']' | '(' [ boolean ( ',' boolean )* ] ')' )*
  private parseAtom(): Typed {
    // Every nesting (parentheses, indexes, calls, ranges, readers) passes through here.
    this.enter();
    try {
      const atom = this.parseAtomInner();
      this.keep(atom.expr);
      return atom;
    } finally {
      this.depth--;
    }
  }

  private parseAtomInner(): Typed {
    const t = this.peek();
    const s = t.span;
    switch (t.kind) {
      case 'int':
        if (t.int === undefined) this.fail();
        this.next();
        return { expr: { kind: 'int', span: s, value: t.int }, cls: 'primary' };
      case 'float':
        this.next();
        return { expr: { kind: 'float', span: s, value: t.float ?? 0 }, cls: 'primary' };
      case 'text':
        this.next();
        return { expr: { kind: 'text', span: s, value: t.bytes ?? new Uint8Array() }, cls: 'primary' };
      case 'regex':
        // A regex is a primary expression in YARA (it is how `pe.exports(/re/)` takes one);
        // where it may stand is the checker's business.
        this.next();
        return { expr: { kind: 'regex', span: s, regex: { span: s, ...(t.regex as NonNullable<Token['regex']>) } }, cls: 'primary' };
      case 'stringId': {
        this.next();
        if (t.wildcard) {
          this.pos--;
          this.fail();
        }
        const id: Ident = { name: t.text, span: s };
        if (this.eatKw('at')) {
          const at = this.parsePrimary();
          return { expr: { kind: 'match', span: span(s.start, at.span.end), id, at }, cls: 'bool' };
        }
        if (this.eatKw('in')) {
          const range = this.parseRange();
          return { expr: { kind: 'match', span: span(s.start, range.span.end), id, range }, cls: 'bool' };
        }
        return { expr: { kind: 'match', span: s, id }, cls: 'bool' };
      }
      case 'stringCount': {
        this.next();
        if (t.wildcard) {
          this.pos--;
          this.fail();
        }
        const id: Ident = { name: t.text, span: s };
        if (this.eatKw('in')) {
          const range = this.parseRange();
          return { expr: { kind: 'count', span: span(s.start, range.span.end), id, range }, cls: 'primary' };
        }
        return { expr: { kind: 'count', span: s, id }, cls: 'primary' };
      }
      case 'stringOffset':
      case 'stringLength': {
        this.next();
        if (t.wildcard) {
          this.pos--;
          this.fail();
        }
        const id: Ident = { name: t.text, span: s };
        const kind = t.kind === 'stringOffset' ? 'offset' : 'length';
        if (this.eatPunct('[')) {
          const index = this.parsePrimary();
          this.expectPunct(']');
          return { expr: { kind, span: span(s.start, this.prevEnd()), id, index }, cls: 'primary' };
        }
        return { expr: { kind, span: s, id }, cls: 'primary' };
      }
      case 'punct':
        if (t.text === '(') {
          this.next();
          const inner = this.parseOr();
          this.expectPunct(')');
          // The span covers the parentheses; the node is the inner expression.
          return { expr: { ...inner.expr, span: span(s.start, this.prevEnd()) } as Expr, cls: inner.cls };
        }
        break;
      case 'ident':
        return { expr: this.parseIdentChain(), cls: 'primary' };
      case 'keyword':
        switch (t.text) {
          case 'true':
          case 'false':
            this.next();
            return { expr: { kind: 'bool', span: s, value: t.text === 'true' }, cls: 'bool' };
          case 'filesize':
          case 'entrypoint':
            this.next();
            return { expr: { kind: t.text, span: s }, cls: 'primary' };
          case 'all':
          case 'any':
          case 'none': {
            this.next();
            if (!this.isKw('of')) this.fail('<of>');
            return { expr: this.parseOfRest({ kind: t.text, span: s }), cls: 'bool' };
          }
          case 'for':
            return { expr: this.scoped(() => this.parseFor()), cls: 'bool' };
          case 'with':
            return { expr: this.scoped(() => this.parseWith()), cls: 'bool' };
          default:
            if (INT_READERS.has(t.text)) {
              this.next();
              this.expectPunct('(');
              const offset = this.parsePrimary();
              this.expectPunct(')');
              return { expr: { kind: 'readInt', span: span(s.start, this.prevEnd()), fn: t.text as IntReader, offset }, cls: 'primary' };
            }
        }
        break;
      default:
        break;
    }
    this.fail();
  }

  private parseIdentChain(): Expr {
    const t = this.next();
    let e: Expr = { kind: 'ident', span: t.span, name: t.text };
    for (;;) {
      this.keep(e);
      if (this.eatPunct('.')) {
        const f = this.expectKind('ident', 'identifier');
        e = { kind: 'field', span: span(e.span.start, f.span.end), object: e, field: { name: f.text, span: f.span } };
      } else if (this.eatPunct('[')) {
        const index = this.parsePrimary();
        this.expectPunct(']');
        e = { kind: 'index', span: span(e.span.start, this.prevEnd()), object: e, index };
      } else if (this.eatPunct('(')) {
        const args: Expr[] = [];
        if (!this.isPunct(')')) {
          args.push(this.parseBoolean());
          while (this.eatPunct(',')) args.push(this.parseBoolean());
        }
        this.expectPunct(')');
        e = { kind: 'call', span: span(e.span.start, this.prevEnd()), callee: e, args };
      } else return e;
    }
  }

  // of_rest := 'of' ( string_set [ 'at' primary | 'in' range ] | rule_set )
  private parseOfRest(quantifier: Quantifier): Expr {
    this.expectKw('of');
    const set = this.parseSet(true);
    const start = quantifier.span.start;
    if (set.kind !== 'rules') {
      if (this.eatKw('at')) {
        const at = this.parsePrimary();
        return { kind: 'of', span: span(start, at.span.end), quantifier, set, at };
      }
      if (this.eatKw('in')) {
        const range = this.parseRange();
        return { kind: 'of', span: span(start, range.span.end), quantifier, set, range };
      }
    }
    return { kind: 'of', span: span(start, set.span.end), quantifier, set };
  }

  // string_set := 'them' | '(' string_pattern ( ',' string_pattern )* ')'
  // rule_set := '(' rule_pattern ( ',' rule_pattern )* ')'        rule_pattern := IDENT [ '*' ]
  private parseSet(allowRules: boolean): StringSet | RuleSet {
    if (this.isKw('them')) {
      const t = this.next();
      return { kind: 'them', span: t.span };
    }
    const open = this.expectPunct('(');
    const items: SetItem[] = [];
    const first = this.peek();
    const rules = first.kind === 'ident';
    if (rules && !allowRules) this.fail('string identifier');
    for (;;) {
      const t = this.peek();
      if (rules) {
        this.expectKind('ident', 'identifier');
        let wildcard = false;
        if (this.isPunct('*') && this.peek().span.start === t.span.end) {
          this.next();
          wildcard = true;
        }
        items.push({ span: span(t.span.start, this.prevEnd()), name: t.text, wildcard });
      } else {
        this.expectKind('stringId', 'string identifier');
        items.push({ span: t.span, name: t.text, wildcard: t.wildcard ?? false });
      }
      if (!this.eatPunct(',')) break;
    }
    const close = this.expectPunct(')');
    const s = span(open.span.start, close.span.end);
    return rules ? { kind: 'rules', span: s, items } : { kind: 'strings', span: s, items };
  }

  // for_rest := 'for' quantifier ( 'of' string_set | IDENT ( ',' IDENT )* 'in' iterable ) ':' '(' boolean ')'
  // quantifier := 'all' | 'any' | 'none' | primary [ '%' ]
  // iterable := range | '(' primary ( ',' primary )* ')' | ident_chain
  private parseFor(): Expr {
    const forTok = this.next();
    this.enter();
    try {
      let quantifier: Quantifier;
      const q = this.peek();
      if (this.isKw('all') || this.isKw('any') || this.isKw('none')) {
        this.next();
        quantifier = { kind: q.text as 'all' | 'any' | 'none', span: q.span };
      } else {
        const e = this.parsePrimary();
        const percent = this.isPunct('%') && this.isKw('of', 1) ? this.eatPunct('%') : false;
        quantifier = { kind: percent ? 'percent' : 'count', span: span(e.span.start, this.prevEnd()), expr: e };
      }
      if (this.eatKw('of')) {
        const set = this.parseSet(false) as StringSet;
        const body = this.parseForBody();
        return { kind: 'forOf', span: span(forTok.span.start, this.prevEnd()), quantifier, set, body };
      }
      if (quantifier.kind === 'percent') this.fail('<of>');
      const vars: Ident[] = [];
      for (;;) {
        const v = this.expectKind('ident', 'identifier');
        vars.push({ name: v.text, span: v.span });
        if (!this.eatPunct(',')) break;
      }
      this.expectKw('in');
      let iterable: Iterable;
      if (this.isPunct('(')) {
        const open = this.next();
        const first = this.parsePrimary();
        if (this.eatPunct('..')) {
          const hi = this.parsePrimary();
          this.expectPunct(')');
          iterable = { kind: 'range', span: span(open.span.start, this.prevEnd()), lo: first, hi };
        } else {
          const items = [first];
          while (this.eatPunct(',')) items.push(this.parsePrimary());
          this.expectPunct(')');
          iterable = { kind: 'list', span: span(open.span.start, this.prevEnd()), items };
        }
      } else if (this.peek().kind === 'ident') {
        const e = this.parseIdentChain();
        iterable = { kind: 'expr', span: e.span, expr: e };
      } else this.fail('identifier or range');
      const body = this.parseForBody();
      return { kind: 'forIn', span: span(forTok.span.start, this.prevEnd()), quantifier, vars, iterable, body };
    } finally {
      this.depth--;
    }
  }

  // with_rest := 'with' IDENT '=' boolean ( ',' IDENT '=' boolean )* ':' '(' boolean ')'
  private parseWith(): Expr {
    const withTok = this.next();
    this.enter();
    try {
      const decls: WithDecl[] = [];
      do {
        const name = this.expectKind('ident', 'identifier');
        this.expectPunct('=');
        const value = this.parseBoolean();
        decls.push({ span: span(name.span.start, value.span.end), name: { name: name.text, span: name.span }, value });
      } while (this.eatPunct(','));
      const body = this.parseForBody();
      return { kind: 'with', span: span(withTok.span.start, this.prevEnd()), decls, body };
    } finally {
      this.depth--;
    }
  }

  // for_body := ':' '(' boolean ')'
  private parseForBody(): Expr {
    this.expectPunct(':');
    this.expectPunct('(');
    const body = this.parseBoolean();
    this.expectPunct(')');
    return body;
  }
}

/**
 * The outermost of `nodes` that end at or before `limit`, in source order: what of a broken
 * condition was read completely before its syntax error (nested nodes are part of these).
 */
function outermost(nodes: readonly Expr[] | undefined, limit: number): Expr[] {
  // Among equal spans the later node (the parent) comes first.
  const sorted = (nodes ?? [])
    .map((e, k) => ({ e, k }))
    .filter(({ e }) => e.span.end <= limit)
    .sort((a, b) => a.e.span.start - b.e.span.start || b.e.span.end - a.e.span.end || b.k - a.k);
  const out: Expr[] = [];
  let end = -1;
  for (const { e } of sorted) {
    if (e.span.start < end) continue;
    out.push(e);
    end = e.span.end;
  }
  return out;
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
}
