/**
 * Diagnostics → text shaped like yara's stderr, at the line yara would print.
 *
 * In: the diagnostics of `parseYara` (and later stages: checker, string compiler, warnings),
 * optionally the parsed source and its AST. Out: one line per diagnostic, as the `yara` command
 * prints them: `file(line): error: message` outside any rule, and `error: rule "name" in
 * file(line): message` inside one (the same for warnings), in the order yara would print them.
 * Codes and columns are left out on purpose: the point of this format is to be compared line
 * for line with yara's own output; the rustc-style renderer in core/diagnostics.ts shows them,
 * and the diagnostics themselves keep vigil's own line, column and length untouched.
 *
 * Why lines move: yara reports a semantic error at the line of the last token its lexer has
 * read when the grammar action runs. That is the construct's last token, or one token further
 * when the LALR parser needed a lookahead token to decide to reduce (after an identifier, which
 * may go on with `.`/`[`/`(`; after `$a`, which may go on with `at`/`in`; after a binary operator
 * whose right operand a tighter operator could still extend). Inside a string declaration yara
 * pins every message to the line where the string's value token ends; a rule's final checks
 * (unreferenced strings, too many atoms) sit on its closing brace; so does a syntax error met in
 * the middle of a text string's modifiers (after `xor(` or `base64(`), yara not having finished
 * the declaration. So, given the source, this module re-lexes it, finds the AST node yara's
 * action belongs to and derives that token. When that token is the end of the input, yara's
 * lexer has no line left: yara prints line 0 (at the end of an included file, the line of the
 * `include` in the including file, where its lexer is back). A rule prefix is printed when yara
 * has entered the rule: after its name was accepted (a duplicated rule name therefore has none),
 * up to its closing brace; at the end of the input that is the last rule whose name was read,
 * even one the tree does not hold for lack of its `{`.
 */

import type { Diagnostic } from '../../core/diagnostics.js';
import type { Expr, RangeExpr, Rule, RuleFile, SetItem, Span } from './ast.js';
import { tokenize, type Token } from './lexer.js';

/** One diagnostic in yara's format; `ruleName` when the diagnostic lies inside a rule. */
export function renderYaraDiagnostic(d: Diagnostic, ruleName?: string, line?: number): string {
  const loc = d.location;
  const where = loc ? `${loc.file}(${line ?? loc.line})` : '';
  const sev = d.severity === 'note' ? 'warning' : d.severity;
  if (ruleName !== undefined) return `${sev}: rule "${ruleName}" in ${where}: ${d.message}`;
  return where ? `${where}: ${sev}: ${d.message}` : `${sev}: ${d.message}`;
}

/**
 * Every diagnostic, one per line, at yara's line and with yara's rule prefix, sorted as yara
 * would print them (by the token yara reports at; ties keep their order). `source` is what was
 * parsed, text or bytes; without it and the AST, lines are printed as the diagnostics carry them.
 */
export function renderYaraDiagnostics(diagnostics: readonly Diagnostic[], source?: string | Uint8Array, ast?: RuleFile): string {
  if (source === undefined || !ast) return diagnostics.map((d) => renderYaraDiagnostic(d) + '\n').join('');
  const top = typeof source === 'string' ? new TextEncoder().encode(source) : source;
  // Rules read from included files carry spans into their own file: each file gets its own
  // tokens and rules.
  const origins = new Map<string, Uint8Array>();
  for (const r of ast.rules) if (r.origin) origins.set(r.origin.file, r.origin.source);
  const contexts = new Map<string, YaraAnchors>();
  const contextOf = (file: string | undefined): { key: string; anchors: YaraAnchors; rules: Rule[] } => {
    const key = file !== undefined && origins.has(file) ? file : '';
    const rules = ast.rules.filter((r) => (r.origin?.file ?? '') === key);
    let anchors = contexts.get(key);
    if (!anchors) {
      anchors = new YaraAnchors(key ? (origins.get(key) as Uint8Array) : top, { ...ast, rules }, key ? includeLine(ast, key, top) : 0);
      contexts.set(key, anchors);
    }
    return { key, anchors, rules };
  };
  // yara reads included rules where the include stands: order by the rule each message falls in
  // (in the AST's order, which is yara's), then by position within its file.
  const ruleOrder = (fileKey: string, offset: number): number => {
    let before = -0.5;
    for (let k = 0; k < ast.rules.length; k++) {
      const r = ast.rules[k] as Rule;
      if ((r.origin?.file ?? '') !== fileKey) continue;
      if (r.span.start <= offset && offset < r.span.end) return k;
      if (r.span.start > offset) return k - 0.5;
      before = k + 0.5;
    }
    return before;
  };
  const fileRank = new Map<string, number>();
  const placed = diagnostics.map((d, order) => {
    const c = contextOf(d.location?.file);
    if (!fileRank.has(c.key)) fileRank.set(c.key, fileRank.size);
    const p = c.anchors.place(d);
    return { d, order, fileKey: c.key, rules: c.rules, rank: p.key === Number.MAX_SAFE_INTEGER ? Infinity : ruleOrder(c.key, p.key), ...p };
  });
  // At one token, an action yara ran with that token as lookahead comes before the syntax error
  // the token is (and that error is the one yara then does not print).
  const late = (d: Diagnostic): number => (d.code === 'yara.syntax.unexpected-token' ? 1 : 0);
  placed.sort(
    (a, b) =>
      a.rank - b.rank ||
      (fileRank.get(a.fileKey) as number) - (fileRank.get(b.fileKey) as number) ||
      a.key - b.key ||
      late(a.d) - late(b.d) ||
      a.order - b.order,
  );
  // After an error yara never finishes the rule, so it stays "current" (and names messages)
  // until the next rule's name is accepted: messages between the two carry its prefix.
  const failedAt = new Map<string, number>();
  for (const p of placed) {
    if (p.rule === undefined) {
      const before = p.rules.filter((r) => r.name.span.start < p.key).at(-1);
      const failed = before && failedAt.get(`${p.fileKey}\0${before.name.name}`);
      if (before && failed !== undefined && failed < p.key) p.rule = before.name.name;
    }
    if (p.d.severity === 'error' && p.rule !== undefined && !failedAt.has(`${p.fileKey}\0${p.rule}`)) failedAt.set(`${p.fileKey}\0${p.rule}`, p.key);
  }
  const out = placed.map((p) => renderYaraDiagnostic(p.d, p.rule, p.line) + '\n').join('');
  return out;
}

/**
 * The line of the `include` that read `file` (an included file's name, as the parser builds it:
 * the `include` path, after the including file's directory), in the including file: where
 * yara's lexer is when the included file ends. 0 when no `include` of the tree names it.
 */
function includeLine(ast: RuleFile, file: string, top: Uint8Array): number {
  const inc = ast.includes.find((i) => file === i.path || file.endsWith(`/${i.path}`));
  if (!inc) return 0;
  const src = inc.origin?.source ?? top;
  let line = 1;
  for (let k = 0; k < inc.span.start && k < src.length; k++) if (src[k] === 0x0a) line++;
  return line;
}

/** Where yara reports one diagnostic: the line, the rule prefix, and a sort key (a byte offset). */
interface Placement {
  line?: number;
  rule?: string;
  key: number;
}

type Parented = { node: Expr; parent?: Expr | RangeExpr; range?: RangeExpr };

/** Keywords and punctuation of a text string's modifiers (integers and texts are their arguments). */
const MODIFIER_TOKEN: ReadonlySet<string> = new Set(['nocase', 'ascii', 'wide', 'fullword', 'private', 'xor', 'base64', 'base64wide', '(', ')', '-']);

/** Errors yara's lexer raises (reading a token), not its parser. */
const LEXICAL = /^yara\.syntax\.(unterminated-(string|regex)|integer-overflow|identifier-too-long|illegal-escape|empty-regex)$/;

/** Codes reported while yara is inside a string declaration: at the end of the string's value. */
const STRING_LEVEL = /^yara\.(syntax\.(duplicated-string|duplicated-modifier|invalid-modifier|invalid-hex)|string\.|regex\.|check\.empty-string|warning\.(slow-string|unbounded-dot))/;

class YaraAnchors {
  private readonly tokens: Token[];
  private readonly lineStarts: number[] = [0];

  constructor(
    private readonly src: Uint8Array,
    private readonly ast: RuleFile,
    /** For an included file: the line yara's lexer is at in the including file once this one ends. */
    private readonly endLine = 0,
  ) {
    this.tokens = tokenize(src).tokens;
    for (let k = 0; k < src.length; k++) if (src[k] === 0x0a) this.lineStarts.push(k + 1);
  }

  private get eof(): Token {
    return this.tokens[this.tokens.length - 1] as Token;
  }

  /**
   * A diagnostic raised when yara's lexer has read the end of the input. At the end of the file
   * it was given, yara's lexer has no buffer left and reports line 0; at the end of an included
   * file it is back in the including file, after the `include`. Sorted after everything else.
   */
  private atEnd(): Placement {
    return { key: this.eof.span.start, line: this.endLine, ...this.current(this.eof.span.start) };
  }

  /**
   * The rule yara is inside at `offset`, for a diagnostic outside any rule of the tree (a rule
   * left without its `{` is not in the tree): the last rule whose name yara has read, unless
   * that rule was read to its end. Not named when yara stopped that rule earlier (the caller
   * handles those).
   */
  private current(offset: number): { rule?: string } {
    let k = this.tokenAt(offset);
    while (k > 0 && !(this.tokens[k - 1]?.kind === 'keyword' && this.tokens[k - 1]?.text === 'rule')) k--;
    const name = this.tokens[k];
    if (k === 0 || name?.kind !== 'ident' || name.span.start >= offset) return {};
    const read = this.ast.rules.find((r) => r.name.span.start === name.span.start);
    if (read && !read.broken && read.span.end <= offset) return {};
    return { rule: name.text };
  }

  /**
   * When token `at` comes in the middle of a text string's modifiers (after `xor(` or
   * `base64(`, before the closing parenthesis), yara has not finished the string declaration
   * and reports at the line where the string's value ended (its `compiler->current_line`);
   * otherwise undefined. Once the modifiers are complete, yara finishes the declaration when it
   * has read the next token: a syntax error at that token is reported at the token, but a
   * `lexical` error raised while reading it still at the value's line.
   */
  private openDeclarationLine(at: number, lexical: boolean): number | undefined {
    const isValue = (v: number): boolean =>
      ['text', 'hex', 'regex'].includes(this.tokens[v]?.kind ?? '') && this.tokens[v - 1]?.text === '=' && this.tokens[v - 2]?.kind === 'stringId';
    let value = at - 1;
    while (value >= 0 && !isValue(value)) {
      const t = this.tokens[value] as Token;
      if (!(t.kind === 'int' || t.kind === 'text' || ((t.kind === 'keyword' || t.kind === 'punct') && MODIFIER_TOKEN.has(t.text)))) return undefined;
      value--;
    }
    if (value < 0) return undefined;
    // What may follow `xor (` and `base64 (` / `base64wide (`, token kinds in order.
    const forms: Record<string, string[][]> = { xor: [['int', ')'], ['int', '-', 'int', ')']], base64: [['text', ')']], base64wide: [['text', ')']] };
    let args: string[][] | undefined;
    let read: string[] = [];
    for (let k = value + 1; k < at; k++) {
      const t = this.tokens[k] as Token;
      const kind = t.kind === 'int' || t.kind === 'text' ? t.kind : t.text;
      if (args) {
        read.push(kind);
        if (!args.some((f) => read.every((x, i) => f[i] === x))) return undefined;
        if (kind === ')') args = undefined;
      } else if (kind === '(' && forms[this.tokens[k - 1]?.text ?? ''] && k - 1 > value) {
        args = forms[this.tokens[k - 1]?.text ?? ''];
        read = [];
      } else if (t.kind !== 'keyword' || !MODIFIER_TOKEN.has(kind)) return undefined;
    }
    return args || lexical ? this.lineOf((this.tokens[value] as Token).span.end - 1) : undefined;
  }

  place(d: Diagnostic): Placement {
    const loc = d.location;
    if (!loc || loc.line <= 0) return { key: Number.MAX_SAFE_INTEGER };
    const start = (this.lineStarts[loc.line - 1] ?? 0) + Math.max(0, loc.column - 1);
    const span: Span = { start, end: start + Math.max(1, loc.length ?? 1) };
    const rule = this.ast.rules.find((r) => r.span.start <= span.start && span.start < r.span.end);
    if (d.code.startsWith('yara.syntax.') && !STRING_LEVEL.test(d.code)) {
      // Raised while yara is inside a string declaration: at the line of the string's value.
      const line = this.openDeclarationLine(this.tokenAt(span.start), LEXICAL.test(d.code));
      if (line !== undefined) return { key: span.start, line, ...this.current(span.start) };
    }
    if (/^yara\.syntax\.unterminated-(string|regex)$/.test(d.code)) {
      // yara's lexer reports these after it has consumed the end of the line.
      const nl = this.src.indexOf(0x0a, span.start);
      const inRule = rule && span.start > rule.name.span.start ? rule.name.name : undefined;
      return { key: span.start, ...(nl >= 0 ? { line: loc.line + 1 } : {}), ...(inRule !== undefined ? { rule: inRule } : {}) };
    }
    const tok = this.anchor(d.code, span, d.message);
    if (tok === undefined) {
      if (span.start >= this.eof.span.start) return this.atEnd();
      const inRule = rule && span.start > rule.name.span.start ? rule.name.name : undefined;
      // A token the grammar does not expect: yara's lexer has read all of it (a hex string may
      // span lines).
      const t = d.code === 'yara.syntax.unexpected-token' ? this.tokens[this.tokenAt(span.start)] : undefined;
      const line = t && t.span.start === span.start && t.span.end > t.span.start ? { line: this.lineOf(t.span.end - 1) } : {};
      return { key: span.start, ...line, ...(inRule !== undefined ? { rule: inRule } : {}) };
    }
    const t = this.tokens[tok] as Token;
    if (t.kind === 'eof') return this.atEnd();
    const at = Math.max(t.span.start, t.span.end - 1);
    const owner = this.ast.rules.find((r) => r.span.start <= at && at < r.span.end);
    const named = owner && t.span.start > owner.name.span.start ? owner.name.name : undefined;
    return { line: this.lineOf(at), key: t.span.start, ...(named !== undefined ? { rule: named } : {}) };
  }

  private lineOf(offset: number): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  /** Index of the first token ending after `offset`. */
  private tokenAt(offset: number): number {
    let lo = 0;
    let hi = this.tokens.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.tokens[mid] as Token).span.end > offset) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Index of the last token starting before `span.end`. */
  private lastTokenIn(span: Span): number {
    let k = this.tokenAt(span.start);
    while (k + 1 < this.tokens.length && (this.tokens[k + 1] as Token).span.start < span.end && this.tokens[k + 1]?.kind !== 'eof') k++;
    return k;
  }

  /** The token yara's lexer last read when it raised the diagnostic, or undefined to keep vigil's line. */
  private anchor(code: string, span: Span, message = ''): number | undefined {
    const rule = this.ast.rules.find((r) => r.span.start <= span.start && span.start < r.span.end);
    if (STRING_LEVEL.test(code) && rule) {
      const def = rule.strings.find((s) => s.span.start <= span.start && span.start < s.span.end);
      if (def) {
        return this.tokenAt(def.id.span.end) + 1;
      }
      return undefined;
    }
    if (!code.startsWith('yara.check.') && !code.startsWith('yara.warning.')) return undefined;
    const kind = code.slice(code.indexOf('.', 5) + 1);
    switch (kind) {
      case 'unknown-module':
      case 'duplicated-loop-identifier':
      case 'invalid-field':
      case 'wrong-arguments':
      case 'entrypoint-deprecated':
        return this.end(span);
      case 'duplicated-identifier':
      case 'wildcard-rule-set-extended':
        if (rule && rule.name.span.start === span.start) return this.lastTokenIn(span);
        return undefined;
      case 'unreferenced-string':
      case 'slow-rule':
        return rule ? this.lastTokenIn(rule.span) : undefined;
      case 'literal-string-as-boolean':
        // Raised when the (possibly parenthesised) primary expression becomes a boolean.
        return this.lastTokenIn(span) + 1;
      case 'zero-of':
        return this.end(span) + 1;
      default:
        break;
    }
    if (!rule) return undefined;
    const nodes = conditionRoots(rule).flatMap((root) => collect(root));
    if (nodes.length === 0) return undefined;
    const found = nodes.find((p) => p.node.span.start === span.start && p.node.span.end === span.end);
    switch (kind) {
      case 'undefined-identifier':
        if (found) return this.end(span);
        return this.setItem(rule, span, true);
      case 'undefined-string':
      case 'anonymous-string':
        if (found) return this.at(found.node);
        return this.setItem(rule, span, false);
      case 'not-a-structure':
      case 'not-indexable':
      case 'not-a-function':
        return found?.parent && 'kind' in found.parent && found.parent.kind !== 'range' ? this.end(found.parent.span) : undefined;
      case 'wrong-usage':
        return this.end(span) + 1;
      case 'type-mismatch':
      case 'division-by-zero':
      case 'integer-overflow':
      case 'always-false':
      case 'multiple-strings-at-offset':
        return found ? this.at(found.node) : undefined;
      case 'percentage-range': {
        const of = nodes.find((p) => p.node.kind === 'of' && p.node.quantifier.span.start === span.start);
        return of ? this.at(of.node) : undefined;
      }
      case 'loop-arity':
      case 'not-iterable': {
        const loop = nodes.find((p) => p.node.kind === 'forIn' && p.node.iterable.span.start === span.start && p.node.iterable.span.end === span.end);
        if (!loop || loop.node.kind !== 'forIn') return undefined;
        const it = loop.node.iterable;
        // `iterator: identifier` needs a lookahead to know the identifier ended.
        return it.kind === 'expr' ? this.end(it.span) + 1 : this.lastTokenIn(it.span);
      }
      case 'wrong-type':
        // "strings don't support …" is about the operation itself, not one operand.
        if (found && message.startsWith("strings don't support")) return this.at(found.node);
        return this.wrongType(nodes, span, found);
      default:
        return undefined;
    }
  }

  /** `wrong type …`: reported by the production that uses the operand. */
  private wrongType(nodes: Parented[], span: Span, found: Parented | undefined): number | undefined {
    if (found?.range) return this.lastTokenIn(found.range.span);
    const parent = found?.parent;
    if (found && parent && 'kind' in parent && parent.kind !== 'range') {
      // An enumeration item is checked once the parser knows it ended (at `,` or `)`).
      if (parent.kind === 'forIn' && parent.iterable.kind === 'list' && parent.iterable.items.includes(found.node)) return this.end(span) + 1;
      if (parent.kind === 'forIn' || parent.kind === 'forOf') return this.at(found.node);
      return this.at(parent);
    }
    // An operand yara checks where it is read: an enumeration item, a quantifier.
    const of = nodes.find((p) => (p.node.kind === 'of' || p.node.kind === 'forOf' || p.node.kind === 'forIn') && p.node.quantifier.span.start === span.start);
    if (of) return this.at(of.node);
    return found ? this.at(found.node) : undefined;
  }

  /** An item of `of (…)`: a rule name needs a lookahead (it might be `name*`), a string does not. */
  private setItem(rule: Rule, span: Span, rules: boolean): number | undefined {
    let item: SetItem | undefined;
    const visit = (e: Expr): void => {
      for (const p of collect(e)) {
        const set = p.node.kind === 'of' || p.node.kind === 'forOf' ? p.node.set : undefined;
        if (set && set.kind !== 'them') item ??= set.items.find((i) => i.span.start === span.start);
      }
    };
    for (const root of conditionRoots(rule)) visit(root);
    if (!item) return undefined;
    const last = this.lastTokenIn(item.span);
    return rules && !item.wildcard ? last + 1 : last;
  }

  /** The last token of the production for `e`, inside any parentheses that wrap it. */
  private end(span: Span): number {
    let first = this.tokenAt(span.start);
    let last = this.lastTokenIn(span);
    while (this.tokens[first]?.text === '(' && this.tokens[last]?.text === ')' && this.matching(first) === last) {
      first++;
      last--;
    }
    return last;
  }

  private wrapped(span: Span): boolean {
    const first = this.tokenAt(span.start);
    const last = this.lastTokenIn(span);
    return this.tokens[first]?.text === '(' && this.tokens[last]?.text === ')' && this.matching(first) === last;
  }

  private matching(open: number): number {
    let depth = 0;
    for (let k = open; k < this.tokens.length; k++) {
      const t = this.tokens[k] as Token;
      if (t.kind !== 'punct') continue;
      if (t.text === '(') depth++;
      else if (t.text === ')' && --depth === 0) return k;
    }
    return -1;
  }

  /** The token read when the production for `e` is reduced: its end, plus a lookahead if needed. */
  private at(e: Expr): number {
    return this.end(e.span) + (this.lookahead(e, true) ? 1 : 0);
  }

  /**
   * Whether yara's parser holds a lookahead token after reducing `e`: its state needed one to
   * decide, or the last sub-expression left one unread. Parenthesised operands end in `)`.
   */
  private lookahead(e: Expr, outer = false): boolean {
    if (!outer && this.wrapped(e.span)) return false;
    switch (e.kind) {
      case 'ident':
      case 'field':
      case 'index':
      case 'call':
        // The identifier's own production ends at its last token; used as an operand, the
        // parser must look one token further to know that no `.`, `[` or `(` follows.
        return !outer;
      case 'match':
        return e.at ? true : !e.range;
      case 'count':
        return !e.range;
      case 'offset':
      case 'length':
        return !e.index;
      case 'unary':
        return this.lookahead(e.operand);
      case 'binary':
        if (e.op === 'and' || e.op === 'or' || e.op === '*' || e.op === '\\' || e.op === '%') return this.lookahead(e.right);
        return true;
      case 'of':
        if (e.set.kind === 'rules' || e.quantifier.kind === 'percent') return false;
        return e.at ? true : !e.range;
      default:
        return false;
    }
  }
}

/**
 * What yara read of a rule's condition: all of it; of a broken rule, the condition when it ends
 * before the error, else its complete parts read before the error (as the checker checks it).
 */
function conditionRoots(rule: Rule): Expr[] {
  const broken = rule.broken;
  if (rule.condition && (!broken || rule.condition.span.end <= broken.at)) return [rule.condition];
  return broken?.partial ?? [];
}

/** Every expression node of a condition with its parent (ranges count as parents of their bounds). */
function collect(root: Expr): Parented[] {
  const out: Parented[] = [];
  const visit = (node: Expr, parent?: Expr | RangeExpr, range?: RangeExpr): void => {
    out.push({ node, ...(parent ? { parent } : {}), ...(range ? { range } : {}) });
    const kids: Expr[] = [];
    const ranged = (r: RangeExpr | undefined): void => {
      if (!r) return;
      visit(r.lo, r, r);
      visit(r.hi, r, r);
    };
    switch (node.kind) {
      case 'field':
        kids.push(node.object);
        break;
      case 'index':
        kids.push(node.object, node.index);
        break;
      case 'call':
        kids.push(node.callee, ...node.args);
        break;
      case 'readInt':
        kids.push(node.offset);
        break;
      case 'match':
        if (node.at) kids.push(node.at);
        ranged(node.range);
        break;
      case 'count':
        ranged(node.range);
        break;
      case 'offset':
      case 'length':
        if (node.index) kids.push(node.index);
        break;
      case 'unary':
        kids.push(node.operand);
        break;
      case 'binary':
        kids.push(node.left, node.right);
        break;
      case 'matches':
        kids.push(node.left);
        break;
      case 'of':
        if (node.quantifier.kind === 'count' || node.quantifier.kind === 'percent') kids.push(node.quantifier.expr);
        if (node.at) kids.push(node.at);
        ranged(node.range);
        break;
      case 'forOf':
        if (node.quantifier.kind === 'count' || node.quantifier.kind === 'percent') kids.push(node.quantifier.expr);
        kids.push(node.body);
        break;
      case 'forIn':
        if (node.quantifier.kind === 'count' || node.quantifier.kind === 'percent') kids.push(node.quantifier.expr);
        if (node.iterable.kind === 'range') ranged(node.iterable);
        else if (node.iterable.kind === 'list') kids.push(...node.iterable.items);
        else kids.push(node.iterable.expr);
        kids.push(node.body);
        break;
      case 'with':
        kids.push(...node.decls.map((d) => d.value), node.body);
        break;
      default:
        break;
    }
    for (const k of kids) visit(k, node);
  };
  visit(root);
  return out;
}
