/**
 * Semantic checker for YARA: syntax tree in, checked rules and every semantic diagnostic out.
 *
 * In: the RuleFile of `parseYara`, the module catalog (what `import`ed modules export), the
 * external variables and their values (their JavaScript types give their YARA types), and
 * optionally the source text and file name so that diagnostics carry lines. Out: `CheckedRule`s
 * (ir.ts) whose conditions are typed and fully resolved, plus diagnostics with stable codes and
 * yara 4.2.3's wording: duplicated rules, unknown modules, undefined identifiers / strings / fields,
 * wrong use of anonymous strings, unreferenced strings, type errors, constant division by zero,
 * out-of-range percentages, loop variable misuse and yara's literal-string warning.
 *
 * Why built this way: one recursive pass per condition, bottom-up, returning each sub-expression's
 * checked node with its type; after an error the node's type is `unknown`, which every later check
 * accepts, so one mistake is reported once and the rest of the rule is still checked (yara stops at
 * the first error; vigil reports them all). Constants are folded only as far as needed to find
 * the errors yara finds at compile time (integer `\` and `%` by zero, percentages).
 *
 * A rule with a syntax error (`Rule.broken`) is checked as far as yara reads it before the error,
 * so that a semantic error yara meets first is reported; several files of one namespace are
 * checked in turn, each given what the earlier ones defined (`CheckOptions.prior`).
 */

import { error, LineIndex, warning, type Diagnostic, type Location } from '../../core/diagnostics.js';
import type { Expr, Iterable, Origin, Quantifier, RangeExpr, Rule, RuleFile, SetItem, Span } from './ast.js';
import type { CheckedExpr, CheckedIterable, CheckedQuantifier, CheckedRule, CheckedString, ValueType } from './ir.js';
import type { ArgCode, ModuleCatalog, ModuleType } from './modules-catalog.js';

export type ExternalValue = number | bigint | string | boolean;

/**
 * What a namespace holds when a file joins it: yara compiles several files into one namespace
 * (`yara a.yar b.yar` puts both in `default`), where a later file sees the earlier files' rules,
 * imported modules and `of (name*)` rule sets.
 */
export interface NamespaceScope {
  /** The namespace's rules, in definition order; rule references index this list. */
  rules: readonly CheckedRule[];
  /** Modules imported in the namespace. */
  modules: readonly string[];
  /** Prefixes of the `of (name*)` rule sets used in the namespace. */
  wildcards: readonly string[];
}

export interface CheckOptions {
  externals?: Record<string, ExternalValue>;
  /**
   * The rules, imports and wildcard rule sets that earlier files of the same namespace defined
   * (the `scope` of the previous file's CheckResult). A reference to one of those rules has the
   * index it has in `prior.rules`; this file's rules follow them (see ir.ts).
   */
  prior?: NamespaceScope;
  modules: ModuleCatalog;
  /** The parsed text, for line numbers in diagnostics. */
  source?: string | Uint8Array;
  /** File name shown in diagnostics (default `rules.yar`). */
  file?: string;
}

export interface CheckResult {
  rules: CheckedRule[];
  diagnostics: Diagnostic[];
  /** The namespace after this file: `prior` extended with this file's rules, imports and rule sets. */
  scope: NamespaceScope;
}

const INT: ValueType = { kind: 'integer' };
const FLOAT: ValueType = { kind: 'float' };
const STR: ValueType = { kind: 'string' };
const BOOL: ValueType = { kind: 'boolean' };
const REGEXP: ValueType = { kind: 'regexp' };
const UNKNOWN: ValueType = { kind: 'unknown' };

/** A module `value` leaf becomes its scalar type; everything else stays a module type. */
function fromModule(t: ModuleType): ValueType {
  return t.kind === 'value' ? { kind: t.type } : t;
}

/** yara's name for a type in "wrong type" messages. */
function typeName(t: ValueType): string {
  switch (t.kind) {
    case 'integer':
    case 'float':
    case 'string':
    case 'boolean':
    case 'regexp':
      return t.kind;
    default:
      return 'unknown';
  }
}

const isUnknown = (t: ValueType): boolean => t.kind === 'unknown';
const isNumeric = (t: ValueType): boolean => t.kind === 'integer' || t.kind === 'float';
/** Values usable in a boolean context: yara turns integers, floats and strings into booleans. */
const isScalar = (t: ValueType): boolean => isNumeric(t) || t.kind === 'string' || t.kind === 'boolean';

interface RuleCtx {
  rule: Rule;
  strings: CheckedString[];
  byName: Map<string, number>;
  referenced: Set<number>;
  scopes: Map<string, { slot: number; type: ValueType }>[];
  slots: number;
  /** Depth of enclosing `for … of` bodies, where `$`, `#`, `@`, `!` name the current string. */
  anonDepth: number;
  modules: Set<string>;
}

class Checker {
  readonly diagnostics: Diagnostic[] = [];
  private readonly lines: LineIndex | undefined;
  private readonly file: string;
  /** Rule name → index in the namespace's rule list (prior rules first, then this file's). */
  private readonly rulesByName = new Map<string, number>();
  /** Number of rules earlier files of the namespace defined. */
  private readonly priorCount: number;
  private readonly imported = new Set<string>();
  private readonly externals = new Map<string, ValueType>();
  /** Prefixes of `of (name*)` rule sets already used: later rules may not extend them. */
  readonly wildcardPrefixes: string[] = [];
  /** The included file the node being checked comes from; undefined for the parsed file itself. */
  private origin: Origin | undefined;
  private readonly originLineIndex = new WeakMap<Uint8Array, LineIndex>();
  /** Argument codes of each call checked so far: yara's name for a call in messages (see describe). */
  private readonly callSignatures = new WeakMap<Expr, string>();
  private ctx!: RuleCtx;

  constructor(
    private readonly ast: RuleFile,
    private readonly opts: CheckOptions,
  ) {
    this.file = opts.file ?? 'rules.yar';
    const prior = opts.prior;
    this.priorCount = prior?.rules.length ?? 0;
    prior?.rules.forEach((r, k) => {
      if (!this.rulesByName.has(r.name)) this.rulesByName.set(r.name, k);
    });
    for (const m of prior?.modules ?? []) this.imported.add(m);
    this.wildcardPrefixes.push(...(prior?.wildcards ?? []));
    this.lines = opts.source !== undefined ? new LineIndex(opts.source) : undefined;
    for (const [name, v] of Object.entries(opts.externals ?? {})) {
      const t: ValueType =
        typeof v === 'boolean' ? BOOL : typeof v === 'string' ? STR : typeof v === 'bigint' || Number.isInteger(v) ? INT : FLOAT;
      this.externals.set(name, t);
    }
  }

  /** Line index of an included file's bytes, computed once per file. */
  private originLines(o: Origin): LineIndex {
    let lines = this.originLineIndex.get(o.source);
    if (!lines) {
      lines = new LineIndex(o.source);
      this.originLineIndex.set(o.source, lines);
    }
    return lines;
  }

  /** Where a span of the node being checked lies: in the parsed file, or in `this.origin`'s file. */
  private loc(s: Span): Location {
    const lines = this.origin ? this.originLines(this.origin) : this.lines;
    const file = this.origin ? this.origin.file : this.file;
    if (!lines) return { file, line: 0, column: s.start + 1, length: Math.max(1, s.end - s.start) };
    const { line, column } = lines.at(s.start);
    return { file, line, column, length: Math.max(1, s.end - s.start) };
  }

  err(code: string, message: string, s: Span): void {
    this.diagnostics.push(error(`yara.check.${code}`, message, this.loc(s)));
  }

  warn(code: string, message: string, s: Span): void {
    this.diagnostics.push(warning(`yara.check.${code}`, message, this.loc(s)));
  }

  run(): CheckedRule[] {
    for (const imp of this.ast.imports) {
      this.origin = imp.origin;
      if (!Object.hasOwn(this.opts.modules, imp.module)) this.err('unknown-module', `unknown module "${imp.module}"`, imp.span);
    }
    // A module is known from its import on: rules written before the import cannot use it.
    const known = this.ast.imports.filter((imp) => Object.hasOwn(this.opts.modules, imp.module));
    const out: CheckedRule[] = [];
    for (const rule of this.ast.rules) {
      for (const imp of known) if ((imp.rulesBefore ?? 0) <= out.length) this.imported.add(imp.module);
      this.origin = rule.origin;
      const index = out.length;
      // yara refuses a duplicated name before it looks at wildcard rule sets.
      if (this.rulesByName.has(rule.name.name)) {
        this.err('duplicated-identifier', `duplicated identifier "${rule.name.name}"`, rule.name.span);
      } else {
        if (this.wildcardPrefixes.some((p) => rule.name.name.startsWith(p))) {
          this.err('wildcard-rule-set-extended', `rule identifier "${rule.name.name}" matches previously used wildcard rule set`, rule.name.span);
        }
        // Defined before its own condition: yara accepts `rule a { condition: a }`.
        this.rulesByName.set(rule.name.name, this.priorCount + index);
      }
      out.push(this.checkRule(rule, index));
    }
    this.origin = undefined;
    return out;
  }

  private checkRule(rule: Rule, index: number): CheckedRule {
    // A rule with a syntax error is checked as far as yara reads it before the error: the strings
    // declared before it, and the condition when it ends before it (else its complete parts);
    // yara never reaches the rule's final checks (unreferenced strings).
    const broken = rule.broken;
    const defs = broken ? rule.strings.filter((d) => d.span.end <= broken.at) : rule.strings;
    const strings: CheckedString[] = defs.map((def, i) => ({
      index: i,
      name: def.id.name,
      isPrivate: def.modifiers.some((m) => m.kind === 'private'),
      modifiers: def.modifiers,
      def,
    }));
    const byName = new Map<string, number>();
    for (const s of strings) if (s.name !== '$' && !byName.has(s.name)) byName.set(s.name, s.index);
    this.ctx = { rule, strings, byName, referenced: new Set(), scopes: [], slots: 0, anonDepth: 0, modules: new Set() };
    for (const s of strings) {
      if (s.def.kind === 'text' && s.def.value.length === 0) this.err('empty-string', `empty string "${s.name}"`, s.def.span);
    }
    let condition: CheckedExpr | null = null;
    const before = this.diagnostics.length;
    if (broken) {
      if (rule.condition && rule.condition.span.end <= broken.at) {
        condition = this.expr(rule.condition);
        this.boolContext(condition, rule.condition);
      } else {
        for (const part of broken.partial) this.expr(part);
      }
    } else if (rule.condition) {
      condition = this.expr(rule.condition);
      this.boolContext(condition, rule.condition);
      // yara requires every string to be used, private or not; `them` and wildcards count.
      // After a string error the rule's references are incomplete: do not add noise about them.
      const stringErrors = this.diagnostics.slice(before).some((d) => d.code === 'yara.check.undefined-string' || d.code === 'yara.check.anonymous-string');
      for (const s of strings) {
        if (!stringErrors && !this.ctx.referenced.has(s.index)) {
          this.err('unreferenced-string', `unreferenced string "${s.name}"`, s.def.id.span);
        }
      }
    }
    return {
      index,
      name: rule.name.name,
      span: rule.span,
      isPrivate: rule.isPrivate,
      isGlobal: rule.isGlobal,
      tags: rule.tags.map((t) => t.name),
      meta: rule.meta,
      strings,
      condition,
      slots: this.ctx.slots,
      modules: [...this.ctx.modules],
      ...(rule.origin ? { origin: rule.origin } : {}),
    };
  }

  /** A value used as a boolean: yara warns about string literals there, and refuses non-scalars. */
  private boolContext(c: CheckedExpr, e: Expr): void {
    if (e.kind === 'text') {
      this.warn('literal-string-as-boolean', `using literal string "${new TextDecoder('latin1').decode(e.value)}" in a boolean operation.`, e.span);
    }
    // A bare regexp is accepted by yara as a condition; structures, arrays and functions are not.
    if (!isScalar(c.type) && c.type.kind !== 'regexp' && !isUnknown(c.type)) this.wrongUsage(e);
  }

  private wrongUsage(e: Expr): void {
    const name = e.kind === 'field' ? e.field.name : e.kind === 'ident' ? e.name : e.kind === 'index' ? describe(e.object) : '';
    this.err('wrong-usage', `wrong usage of identifier "${name}"`, e.span);
  }

  /** A module structure, array, dictionary or function where a value is needed: yara's "wrong usage". */
  private value(e: Expr): CheckedExpr {
    const c = this.expr(e);
    if (isScalar(c.type) || c.type.kind === 'regexp' || isUnknown(c.type)) return c;
    this.wrongUsage(e);
    return this.bad(e);
  }

  private node(e: Expr, type: ValueType, rest: object): CheckedExpr {
    return { span: e.span, type, ...rest } as CheckedExpr;
  }

  private bad(e: Expr): CheckedExpr {
    return { span: e.span, type: UNKNOWN, kind: 'error' };
  }

  // ------------------------------------------------------------------ strings

  private stringRef(e: Expr, name: string): number | null | undefined {
    const bare = name.slice(1);
    if (bare === '') {
      if (this.ctx.anonDepth > 0) return null;
      this.err('anonymous-string', 'wrong use of anonymous string', e.span);
      return undefined;
    }
    const idx = this.ctx.byName.get('$' + bare);
    if (idx === undefined) {
      this.err('undefined-string', `undefined string "$${bare}"`, e.span);
      return undefined;
    }
    this.ctx.referenced.add(idx);
    return idx;
  }

  private stringSet(items: SetItem[] | 'them'): number[] | undefined {
    if (items === 'them') {
      for (const s of this.ctx.strings) this.ctx.referenced.add(s.index);
      return this.ctx.strings.map((s) => s.index);
    }
    const out: number[] = [];
    let ok = true;
    for (const it of items) {
      const prefix = it.name;
      const hits = this.ctx.strings.filter((s) => (it.wildcard ? s.name.startsWith(prefix) : s.name === prefix));
      if (hits.length === 0) {
        this.err('undefined-string', `undefined string "${prefix}${it.wildcard ? '*' : ''}"`, it.span);
        ok = false;
      }
      for (const h of hits) {
        this.ctx.referenced.add(h.index);
        if (!out.includes(h.index)) out.push(h.index);
      }
    }
    return ok ? out : undefined;
  }

  private ruleSet(items: SetItem[]): number[] | undefined {
    const out: number[] = [];
    let ok = true;
    for (const it of items) {
      const hits: number[] = [];
      for (const [name, idx] of this.rulesByName) if (it.wildcard ? name.startsWith(it.name) : name === it.name) hits.push(idx);
      if (hits.length === 0) {
        this.err('undefined-identifier', `undefined identifier "${it.name}"`, it.span);
        ok = false;
      }
      for (const h of hits) if (!out.includes(h)) out.push(h);
      if (it.wildcard) this.wildcardPrefixes.push(it.name);
    }
    return ok ? out : undefined;
  }

  // ------------------------------------------------------------------ expressions

  private want(c: CheckedExpr, ok: (t: ValueType) => boolean, message: string, span: Span): boolean {
    if (isUnknown(c.type) || ok(c.type)) return true;
    this.err('wrong-type', message, span);
    return false;
  }

  private range(r: RangeExpr): { lo: CheckedExpr; hi: CheckedExpr } {
    const lo = this.value(r.lo);
    const hi = this.value(r.hi);
    this.want(lo, (t) => t.kind === 'integer', "wrong type for range's lower bound", r.lo.span);
    this.want(hi, (t) => t.kind === 'integer', "wrong type for range's upper bound", r.hi.span);
    return { lo, hi };
  }

  private quantifier(q: Quantifier): CheckedQuantifier {
    if (q.kind !== 'count' && q.kind !== 'percent') return { kind: q.kind };
    const expr = this.value(q.expr);
    if (q.kind === 'percent') {
      const v = constInt(expr);
      if (v !== undefined && (v < 1n || v > 100n)) this.err('percentage-range', 'percentage must be between 1 and 100 (inclusive)', q.span);
      this.want(expr, (t) => t.kind === 'integer', `wrong type "${typeName(expr.type)}" for % operator`, q.expr.span);
    }
    return { kind: q.kind, expr };
  }

  expr(e: Expr): CheckedExpr {
    switch (e.kind) {
      case 'bool':
        return this.node(e, BOOL, { kind: 'const', value: e.value });
      case 'int':
        return this.node(e, INT, { kind: 'const', value: e.value });
      case 'float':
        return this.node(e, FLOAT, { kind: 'const', value: e.value });
      case 'text':
        return this.node(e, STR, { kind: 'const', value: e.value });
      case 'regex':
        return this.node(e, REGEXP, { kind: 'regex', regex: e.regex });
      case 'filesize':
      case 'entrypoint':
        return this.node(e, INT, { kind: e.kind });
      case 'ident':
        return this.ident(e);
      case 'field':
        return this.field(e);
      case 'index':
        return this.index(e);
      case 'call':
        return this.call(e);
      case 'readInt': {
        const offset = this.value(e.offset);
        this.want(offset, (t) => t.kind === 'integer', `wrong type "${typeName(offset.type)}" for intXXXX or uintXXXX operator`, e.offset.span);
        return this.node(e, INT, { kind: 'readInt', fn: e.fn, offset });
      }
      case 'match': {
        const string = this.stringRef(e, e.id.name);
        const at = e.at ? this.value(e.at) : undefined;
        if (at && e.at) this.want(at, (t) => t.kind === 'integer', `wrong type "${typeName(at.type)}" for at operator`, e.at.span);
        const range = e.range ? this.range(e.range) : undefined;
        if (string === undefined) return this.bad(e);
        return this.node(e, BOOL, { kind: 'match', string, ...(at ? { at } : {}), ...(range ? { range } : {}) });
      }
      case 'count': {
        const string = this.stringRef(e, e.id.name);
        const range = e.range ? this.range(e.range) : undefined;
        if (string === undefined) return this.bad(e);
        return this.node(e, INT, { kind: 'count', string, ...(range ? { range } : {}) });
      }
      case 'offset':
      case 'length': {
        const string = this.stringRef(e, e.id.name);
        const index = e.index ? this.value(e.index) : undefined;
        if (string === undefined) return this.bad(e);
        return this.node(e, INT, { kind: e.kind, string, ...(index ? { index } : {}) });
      }
      case 'unary':
        return this.unary(e);
      case 'binary':
        return this.binary(e);
      case 'matches': {
        const left = this.value(e.left);
        this.want(left, (t) => t.kind === 'string', `wrong type "${typeName(left.type)}" for matches operator`, e.left.span);
        return this.node(e, BOOL, { kind: 'matches', left, regex: e.regex });
      }
      case 'of': {
        const quantifier = this.quantifier(e.quantifier);
        const at = e.at ? this.value(e.at) : undefined;
        if (at && e.at) this.want(at, (t) => t.kind === 'integer', `wrong type "${typeName(at.type)}" for at operator`, e.at.span);
        const range = e.range ? this.range(e.range) : undefined;
        const isRules = e.set.kind === 'rules';
        const members =
          e.set.kind === 'rules' ? this.ruleSet(e.set.items) : this.stringSet(e.set.kind === 'them' ? 'them' : e.set.items);
        if (!members) return this.bad(e);
        return this.node(e, BOOL, { kind: 'of', quantifier, members, rules: isRules, ...(at ? { at } : {}), ...(range ? { range } : {}) });
      }
      case 'forOf': {
        const quantifier = this.quantifier(e.quantifier);
        const members = this.stringSet(e.set.kind === 'them' ? 'them' : e.set.items);
        this.ctx.anonDepth++;
        const body = this.expr(e.body);
        this.boolContext(body, e.body);
        this.ctx.anonDepth--;
        if (!members) return this.bad(e);
        return this.node(e, BOOL, { kind: 'forOf', quantifier, members, body });
      }
      case 'forIn':
        return this.forIn(e);
      case 'with': {
        const scope = new Map<string, { slot: number; type: ValueType }>();
        const decls: { slot: number; value: CheckedExpr }[] = [];
        for (const d of e.decls) {
          const value = this.expr(d.value);
          if (this.lookupVar(d.name.name) || scope.has(d.name.name)) {
            this.err('duplicated-identifier', `duplicated identifier "${d.name.name}"`, d.name.span);
          }
          const slot = this.ctx.slots++;
          scope.set(d.name.name, { slot, type: value.type });
          decls.push({ slot, value });
          // Later declarations see earlier ones.
          this.ctx.scopes.push(new Map([[d.name.name, { slot, type: value.type }]]));
        }
        const body = this.expr(e.body);
        for (let k = 0; k < e.decls.length; k++) this.ctx.scopes.pop();
        return this.node(e, body.type, { kind: 'with', decls, body });
      }
    }
  }

  private lookupVar(name: string): { slot: number; type: ValueType } | undefined {
    for (let k = this.ctx.scopes.length - 1; k >= 0; k--) {
      const hit = this.ctx.scopes[k]?.get(name);
      if (hit) return hit;
    }
    return undefined;
  }

  private ident(e: Extract<Expr, { kind: 'ident' }>): CheckedExpr {
    const v = this.lookupVar(e.name);
    if (v) return this.node(e, v.type, { kind: 'var', slot: v.slot });
    const r = this.rulesByName.get(e.name);
    if (r !== undefined) return this.node(e, BOOL, { kind: 'rule', index: r });
    const ext = this.externals.get(e.name);
    if (ext) return this.node(e, ext, { kind: 'external', name: e.name });
    if (this.imported.has(e.name)) {
      const root = this.opts.modules[e.name];
      if (root) {
        this.ctx.modules.add(e.name);
        return this.node(e, root, { kind: 'module', module: e.name });
      }
    }
    this.err('undefined-identifier', `undefined identifier "${e.name}"`, e.span);
    return this.bad(e);
  }

  private field(e: Extract<Expr, { kind: 'field' }>): CheckedExpr {
    const object = this.expr(e.object);
    if (isUnknown(object.type)) return this.bad(e);
    if (object.type.kind !== 'struct') {
      this.err('not-a-structure', `"${describe(e.object, this.callSignatures)}" is not a structure`, e.object.span);
      return this.bad(e);
    }
    const t = Object.hasOwn(object.type.fields, e.field.name) ? object.type.fields[e.field.name] : undefined;
    if (!t) {
      this.err('invalid-field', `invalid field name "${e.field.name}"`, e.field.span);
      return this.bad(e);
    }
    return this.node(e, fromModule(t), { kind: 'field', object, field: e.field.name });
  }

  private index(e: Extract<Expr, { kind: 'index' }>): CheckedExpr {
    const object = this.expr(e.object);
    const index = this.value(e.index);
    if (isUnknown(object.type)) return this.bad(e);
    if (object.type.kind === 'array') {
      this.want(index, (t) => t.kind === 'integer', 'array indexes must be of integer type', e.index.span);
      return this.node(e, fromModule(object.type.of), { kind: 'index', object, index });
    }
    if (object.type.kind === 'dict') {
      this.want(index, (t) => t.kind === 'string', 'dictionary keys must be of string type', e.index.span);
      return this.node(e, fromModule(object.type.of), { kind: 'index', object, index });
    }
    this.err('not-indexable', `"${describe(e.object, this.callSignatures)}" is not an array or dictionary`, e.object.span);
    return this.bad(e);
  }

  private call(e: Extract<Expr, { kind: 'call' }>): CheckedExpr {
    const callee = this.expr(e.callee);
    const args = e.args.map((a) => this.value(a));
    if (isUnknown(callee.type)) return this.bad(e);
    if (callee.type.kind !== 'function') {
      this.err('not-a-function', `"${describe(e.callee, this.callSignatures)}" is not a function`, e.callee.span);
      return this.bad(e);
    }
    if (args.some((a) => isUnknown(a.type))) return this.bad(e);
    const codes = args.map((a) => argCode(a.type));
    this.callSignatures.set(e, codes.join(''));
    const overload = callee.type.overloads.findIndex((o) => o.args.length === codes.length && o.args.every((c, k) => c === codes[k]));
    const chosen = callee.type.overloads[overload];
    if (!chosen) {
      this.err('wrong-arguments', `wrong arguments for function "${callee.type.name}"`, e.span);
      return this.bad(e);
    }
    return this.node(e, { kind: chosen.returns }, { kind: 'call', callee, overload, args });
  }

  private unary(e: Extract<Expr, { kind: 'unary' }>): CheckedExpr {
    const operand = e.op === 'not' || e.op === 'defined' ? this.expr(e.operand) : this.value(e.operand);
    switch (e.op) {
      case 'not':
        this.boolContext(operand, e.operand);
        return this.node(e, BOOL, { kind: 'unary', op: e.op, operand });
      case 'defined':
        // yara's `defined` takes a boolean expression: a literal string there draws its warning.
        this.boolContext(operand, e.operand);
        return this.node(e, BOOL, { kind: 'unary', op: e.op, operand });
      case '-': {
        if (!this.want(operand, isNumeric, `wrong type "${typeName(operand.type)}" for - operator`, e.operand.span)) return this.bad(e);
        const v = constInt(operand);
        if (v !== undefined) return this.node(e, INT, { kind: 'const', value: -v });
        return this.node(e, operand.type, { kind: 'unary', op: e.op, operand });
      }
      case '~':
        if (!this.want(operand, (t) => t.kind === 'integer', `wrong type "${typeName(operand.type)}" for ~ operator`, e.operand.span)) return this.bad(e);
        return this.node(e, INT, { kind: 'unary', op: e.op, operand });
    }
  }

  private binary(e: Extract<Expr, { kind: 'binary' }>): CheckedExpr {
    const isLogic = e.op === 'and' || e.op === 'or';
    const left = isLogic ? this.expr(e.left) : this.value(e.left);
    const right = isLogic ? this.expr(e.right) : this.value(e.right);
    const op = e.op;
    const unknown = isUnknown(left.type) || isUnknown(right.type);
    const mk = (type: ValueType): CheckedExpr => this.node(e, type, { kind: 'binary', op, left, right });
    switch (op) {
      case 'and':
      case 'or':
        this.boolContext(left, e.left);
        this.boolContext(right, e.right);
        return mk(BOOL);
      case '==':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=': {
        if (unknown) return mk(BOOL);
        const ok =
          (isNumeric(left.type) && isNumeric(right.type)) ||
          (left.type.kind === 'string' && right.type.kind === 'string');
        if (!ok) {
          this.err('type-mismatch', 'type mismatch', e.span);
          return this.bad(e);
        }
        return mk(BOOL);
      }
      case 'contains':
      case 'icontains':
      case 'startswith':
      case 'istartswith':
      case 'endswith':
      case 'iendswith':
      case 'iequals': {
        const okL = this.want(left, (t) => t.kind === 'string', `wrong type "${typeName(left.type)}" for ${op} operator`, e.left.span);
        const okR = okL && this.want(right, (t) => t.kind === 'string', `wrong type "${typeName(right.type)}" for ${op} operator`, e.right.span);
        return okL && okR ? mk(BOOL) : this.bad(e);
      }
      case '+':
      case '-':
      case '*':
      case '\\': {
        if (unknown) return this.bad(e);
        if (left.type.kind === 'string' && right.type.kind === 'string') {
          this.err('wrong-type', `strings don't support "${op}" operation`, e.span);
          return this.bad(e);
        }
        if (!isNumeric(left.type) || !isNumeric(right.type)) {
          this.err('type-mismatch', 'type mismatch', e.span);
          return this.bad(e);
        }
        const type = left.type.kind === 'float' || right.type.kind === 'float' ? FLOAT : INT;
        return this.fold(e, op, left, right, type) ?? mk(type);
      }
      case '%':
      case '&':
      case '|':
      case '^':
      case '<<':
      case '>>': {
        if (unknown) return this.bad(e);
        // yara names `&` as `^` in this message; vigil keeps its wording for comparison.
        const shown = op === '&' ? '^' : op;
        for (const side of [left, right]) {
          if (side.type.kind !== 'integer') {
            this.err('wrong-type', `wrong type "${typeName(side.type)}" for ${shown} operator`, side.span);
            return this.bad(e);
          }
        }
        return this.fold(e, op, left, right, INT) ?? mk(INT);
      }
    }
  }

  /** Integer constant folding; reports `\` and `%` by a constant zero as yara does. */
  private fold(e: Expr, op: string, left: CheckedExpr, right: CheckedExpr, type: ValueType): CheckedExpr | undefined {
    const b = constInt(right);
    if ((op === '\\' || op === '%') && b === 0n && type.kind === 'integer') {
      this.err('division-by-zero', 'division by zero', e.span);
      return this.bad(e);
    }
    const a = constInt(left);
    if (a === undefined || b === undefined || type.kind !== 'integer') return undefined;
    const wrap = (v: bigint): bigint => BigInt.asIntN(64, v);
    if (op === '+' || op === '-' || op === '*') {
      const exact = op === '+' ? a + b : op === '-' ? a - b : a * b;
      if (exact !== wrap(exact)) {
        this.err('integer-overflow', `integer overflow in "${a} ${op} ${b}"`, e.span);
        return this.bad(e);
      }
    }
    let v: bigint;
    switch (op) {
      case '+': v = a + b; break;
      case '-': v = a - b; break;
      case '*': v = a * b; break;
      case '\\': v = a / b; break;
      case '%': v = a % b; break;
      case '&': v = a & b; break;
      case '|': v = a | b; break;
      case '^': v = a ^ b; break;
      case '<<': v = b >= 64n || b < 0n ? 0n : a << b; break;
      case '>>': v = b >= 64n || b < 0n ? 0n : a >> b; break;
      default: return undefined;
    }
    return { span: e.span, type: INT, kind: 'const', value: wrap(v) };
  }

  private forIn(e: Extract<Expr, { kind: 'forIn' }>): CheckedExpr {
    const quantifier = this.quantifier(e.quantifier);
    const { iterable, itemTypes } = this.iterable(e.iterable, e.vars.length);
    const scope = new Map<string, { slot: number; type: ValueType }>();
    const slots: number[] = [];
    e.vars.forEach((v, k) => {
      if (this.lookupVar(v.name) || scope.has(v.name)) {
        this.err('duplicated-loop-identifier', `duplicated loop identifier "${v.name}"`, v.span);
      }
      const slot = this.ctx.slots++;
      slots.push(slot);
      scope.set(v.name, { slot, type: itemTypes?.[k] ?? UNKNOWN });
    });
    this.ctx.scopes.push(scope);
    const body = this.expr(e.body);
    this.boolContext(body, e.body);
    this.ctx.scopes.pop();
    if (!iterable) return this.bad(e);
    return this.node(e, BOOL, { kind: 'forIn', quantifier, slots, iterable, body });
  }

  private iterable(it: Iterable, nvars: number): { iterable?: CheckedIterable; itemTypes?: ValueType[] } {
    if (it.kind === 'range') {
      const r = this.range(it);
      if (nvars !== 1) this.err('loop-arity', `iterator yields an integer on each iteration , but the loop expects ${nvars}`, it.span);
      return { iterable: { kind: 'range', ...r }, itemTypes: [INT] };
    }
    if (it.kind === 'list') {
      const items = it.items.map((x) => this.value(x));
      const first = items.find((x) => !isUnknown(x.type));
      // Integers, or (YARA 4.3+) strings; every item of the type of the first (yara 4.2.3
      // enumerates integers only, and refuses strings with the same message as mixed items).
      const kind = first && first.type.kind === 'string' ? 'string' : 'integer';
      let type: ValueType = first ? (kind === 'string' ? STR : INT) : UNKNOWN;
      for (let k = 0; k < items.length; k++) {
        const x = items[k] as CheckedExpr;
        if (isUnknown(x.type)) continue;
        if (x.type.kind !== kind) {
          this.err('wrong-type', 'wrong type for enumeration item', x.span);
          type = UNKNOWN;
          break;
        }
      }
      if (nvars !== 1) this.err('loop-arity', `iterator yields ${kind === 'string' ? 'a string' : 'an integer'} on each iteration , but the loop expects ${nvars}`, it.span);
      return { iterable: { kind: 'list', items }, itemTypes: [type] };
    }
    const expr = this.expr(it.expr);
    if (isUnknown(expr.type)) return {};
    const name = describe(it.expr, this.callSignatures);
    if (expr.type.kind === 'array') {
      if (nvars !== 1) {
        this.err('loop-arity', `iterator for "${name}" yields a single item on each iteration, but the loop expects ${nvars}`, it.span);
      }
      return { iterable: { kind: 'array', expr }, itemTypes: [fromModule(expr.type.of)] };
    }
    if (expr.type.kind === 'dict') {
      if (nvars !== 2) this.err('loop-arity', `iterator for "${name}" yields a key,value pair item on each iteration`, it.span);
      return { iterable: { kind: 'dict', expr }, itemTypes: [STR, fromModule(expr.type.of)] };
    }
    this.err('not-iterable', `identifier "${name}" is not iterable`, it.span);
    return {};
  }
}

function argCode(t: ValueType): ArgCode | undefined {
  switch (t.kind) {
    case 'integer':
      return 'i';
    case 'float':
      return 'f';
    case 'string':
      return 's';
    case 'regexp':
      return 'r';
    case 'boolean':
      return 'b';
    default:
      return undefined;
  }
}

function constInt(c: CheckedExpr): bigint | undefined {
  return c.kind === 'const' && typeof c.value === 'bigint' ? c.value : undefined;
}

/** The last name in an access path (`pe.sections` → `sections`), as yara names it in messages. */
/**
 * The name yara gives an expression in its messages: the identifier for a name or a field, the
 * indexed object's name for `a[i]`, and for a call the argument codes of the call (`"s" is not a
 * structure` for `pe.imports("a").x`, `"" is not a function` for `pe.imphash()()`): yara's parser
 * keeps a call's argument signature where other expressions keep their identifier.
 */
function describe(e: Expr, callSignatures?: WeakMap<Expr, string>): string {
  if (e.kind === 'ident') return e.name;
  if (e.kind === 'field') return e.field.name;
  if (e.kind === 'index') return describe(e.object, callSignatures);
  if (e.kind === 'call') return callSignatures?.get(e) ?? describe(e.callee, callSignatures);
  return '';
}

/** Checks a parsed rule file; never throws on user input. */
export function checkYara(ast: RuleFile, opts: CheckOptions): CheckResult {
  const c = new Checker(ast, opts);
  const rules = c.run();
  const prior = opts.prior;
  const modules = [...(prior?.modules ?? [])];
  for (const imp of ast.imports) if (Object.hasOwn(opts.modules, imp.module) && !modules.includes(imp.module)) modules.push(imp.module);
  const scope: NamespaceScope = { rules: [...(prior?.rules ?? []), ...rules], modules, wildcards: [...c.wildcardPrefixes] };
  return { rules, diagnostics: c.diagnostics, scope };
}
