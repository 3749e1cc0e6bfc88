/**
 * The YARA condition evaluator: checked rules (ir.ts) and one scan's facts in, one verdict per rule out.
 *
 * In: the `CheckedRule`s of a file, in order, and an `EvalContext`: the scanned bytes, `filesize`,
 * `entrypoint`, the string matches the scanner found (per rule, per string index as the checker
 * numbers them, each match `{ offset, length }` sorted by offset), external variable values and
 * the module `ScanContext`. Out: `boolean[]`, one per rule in order. Private rules get a verdict
 * like any other (later rules may reference them); reporting them is the caller's choice. When a
 * global rule is false every verdict is false. `evaluateGroups` does the same for the files of a
 * compilation: the files of one namespace see each other's rules (a reference reads the verdict
 * of the referenced rule's own condition, as yara's does), and a false global rule makes every
 * rule of its namespace false, whichever file defines it, as yara 4.2.3 reports them.
 *
 * Why built this way: a tree-walking interpreter over the checker's resolved tree. Every name is
 * already an index (string, rule, variable slot) or a module access path, so evaluation is a
 * single recursive function over values `bigint | number | Uint8Array | boolean`, with JavaScript
 * `undefined` for YARA's UNDEFINED. Integers are int64 bigints wrapped after every operation;
 * UNDEFINED propagates through arithmetic, comparisons and `not`, and is false wherever a boolean
 * is finally taken (`and`, `or`, loop bodies, the rule's verdict), as yara 4.2.3 does.
 * Behaviours pinned against yara 4.2.3: float `==`/`!=` compare with an absolute tolerance of
 * DBL_EPSILON; float division by zero gives ±infinity, integer `\` and `%` by zero are UNDEFINED;
 * a shift by 64 or more gives 0 and a negative shift is UNDEFINED; `0 of …` means none; a
 * percentage needs matched·100 ≥ pct·members; loops over an empty range are false; NaN is a
 * defined, true float, and both `==` and `!=` are false when either side is NaN; a float `<`
 * (only `<`) with an UNDEFINED side is false rather than UNDEFINED; `matches` is true when the
 * regex matches, possibly empty, at some start inside the string, so `""` matches no regex;
 * `$a in`, `#a in` and `of … in` with an UNDEFINED bound are UNDEFINED; a quantity (`N of`,
 * `for N …`) that evaluates to UNDEFINED means `all`, since YARA's VM encodes `all` as an
 * UNDEFINED quantity (4.2.3 and 4.5 alike), and an UNDEFINED percentage makes `N% of` UNDEFINED.
 * Deliberate differences from 4.2.3, following YARA 4.5: `$a at UNDEFINED` and `of … at
 * UNDEFINED` are UNDEFINED (4.2.3: false); `for none …` and `for 0 …` loops mean "no iteration
 * is true", as `none of` does (4.2.3: always true whatever their body). There `INT64_MIN \ -1`
 * kills the process (SIGFPE); here it wraps to INT64_MIN.
 */

import type { CheckedExpr, CheckedIterable, CheckedQuantifier, CheckedRule } from '../../signatures/yara/ir.js';
import type { IntReader, RegexLiteral } from '../../signatures/yara/ast.js';
import type { ExternalValue } from '../../signatures/yara/check.js';
import { compileRegex } from '../regex/compile.js';
import type { CompiledRegex } from '../regex/vm.js';
import { getModule } from './modules/index.js';
import { resolveOverload, type Declaration, type ModuleData, type ScanContext, type YaraArg, type YaraModule, type YaraType, type YaraValue } from './modules/types.js';

/** One match of a string: where it starts and how many bytes it covers. */
export interface StringMatch {
  offset: number;
  length: number;
}

export interface EvalContext {
  /** The scanned bytes. */
  data: Uint8Array;
  /** `filesize`; normally `data.length`. */
  fileSize: number;
  /** `entrypoint`; undefined when the file has none. */
  entrypoint?: bigint;
  /**
   * `matches[rule][string]`: the matches of string `string` (the checker's `CheckedString.index`)
   * of rule `rule` (`CheckedRule.index`), sorted by offset. Missing entries mean no match.
   */
  matches: readonly (readonly (readonly StringMatch[] | undefined)[] | undefined)[];
  /** External variable values by name (as given to the checker). */
  externals?: Readonly<Record<string, ExternalValue>>;
  /** What modules see of this scan. */
  scan: ScanContext;
  /**
   * Verdicts of the rules earlier files of the namespace defined (`CheckOptions.prior`), in the
   * namespace's order: rule references with a lower index than their count read them.
   */
  priorVerdicts?: readonly boolean[];
  /** Module lookup by import name; defaults to the registry (`modules/index.ts`). */
  modules?: (name: string) => YaraModule | undefined;
  /** Rules (by `CheckedRule.index`) known to be false without evaluation (see `prefilter.ts`). */
  skip?: (ruleIndex: number) => boolean;
  /** `performance.now()` value after which evaluation stops with `YaraScanTimeout`. */
  deadline?: number;
  /**
   * When given, only these rules (indices in ascending order) are evaluated; every other rule is
   * false. The caller guarantees the others cannot be true (`prefilter.ts`), so a scan's cost
   * follows the rules that can match rather than all rules.
   */
  candidates?: readonly number[];
}

const globalsCache = new WeakMap<readonly CheckedRule[], number[]>();

/** Indices of the global rules of a rule list (computed once per list). */
function globalsOf(rules: readonly CheckedRule[]): number[] {
  let g = globalsCache.get(rules);
  if (!g) {
    g = [];
    rules.forEach((r, i) => { if (r.isGlobal) g!.push(i); });
    globalsCache.set(rules, g);
  }
  return g;
}

/** Thrown when a scan's deadline passes (yara's `-a`); yara reports it as `error scanning FILE: timeout`. */
export class YaraScanTimeout extends Error {
  constructor() { super('timeout'); this.name = 'YaraScanTimeout'; }
}

/** A module struct, array or dictionary while walking an access path: its declaration and its data. */
interface ModuleNode {
  tag: 'module';
  decl: Declaration;
  data: ModuleData;
  /** The module's root data, handed to function implementations. */
  root: unknown;
}

type Val = YaraValue | undefined | ModuleNode;

const DBL_EPSILON = 2.220446049250313e-16;
const wrap = (v: bigint): bigint => BigInt.asIntN(64, v);
const latin1 = new TextDecoder('latin1');

/** The rules of one source file of a compilation, with the string matches of this scan. */
export interface RuleGroup {
  namespace: string;
  rules: CheckedRule[];
  matches: EvalContext['matches'];
  /**
   * Rules of the same namespace that earlier groups define (the group was checked with them as
   * `prior`); 0 or absent starts the namespace afresh, as for separately compiled files.
   */
  prior?: number;
  /** Rules of this group known to be false without evaluation. */
  skip?: (ruleIndex: number) => boolean;
  /** Only these rules of the group are evaluated (ascending); see `EvalContext.candidates`. */
  candidates?: readonly number[];
}

/**
 * Evaluates the groups of a compilation in order, one verdict list per group: references across
 * the files of a namespace read the earlier groups' verdicts, and a false global rule anywhere in
 * a namespace makes all of that namespace's verdicts false.
 */
export function evaluateGroups(groups: readonly RuleGroup[], ctx: Omit<EvalContext, 'matches' | 'priorVerdicts'>): boolean[][] {
  interface Unit { verdicts: boolean[]; failed: boolean }
  const current = new Map<string, Unit>();
  const units: Unit[] = [];
  const out: boolean[][] = [];
  for (const g of groups) {
    const prior = g.prior ?? 0;
    let unit = current.get(g.namespace);
    if (!unit || prior === 0 || unit.verdicts.length !== prior) {
      unit = { verdicts: [], failed: false };
      current.set(g.namespace, unit);
    }
    const verdicts = evaluateRules(g.rules, { ...ctx, matches: g.matches, priorVerdicts: unit.verdicts, ...(g.skip ? { skip: g.skip } : {}), ...(g.candidates ? { candidates: g.candidates } : {}) });
    for (const v of verdicts) unit.verdicts.push(v);
    if (globalsOf(g.rules).some((i) => !verdicts[i])) unit.failed = true;
    units.push(unit);
    out.push(verdicts);
  }
  return out.map((v, k) => (units[k]!.failed ? v.map(() => false) : v));
}

/** Evaluates every rule in order; see the file comment for the verdict rules. */
export function evaluateRules(rules: CheckedRule[], ctx: EvalContext): boolean[] {
  const ev = new Evaluator(ctx);
  let results: boolean[];
  if (ctx.candidates) {
    results = new Array<boolean>(rules.length).fill(false);
    for (const i of ctx.candidates) {
      const rule = rules[i]!;
      results[i] = rule.condition ? ev.rule(rule, results) : false;
    }
  } else {
    results = [];
    const skip = ctx.skip;
    for (const rule of rules) results.push(rule.condition && !(skip && skip(rule.index)) ? ev.rule(rule, results) : false);
  }
  const globalFailed = globalsOf(rules).some((i) => !results[i]);
  return globalFailed ? results.map(() => false) : results;
}

class Evaluator {
  private readonly moduleRoots = new Map<string, ModuleNode | undefined>();
  private readonly regexCache = new Map<string, CompiledRegex | undefined>();
  private rules: boolean[] = [];
  private matches: readonly (readonly StringMatch[] | undefined)[] = [];
  private slots: Val[] = [];
  /** The string of the innermost `for … of` (for the anonymous `$`, `#`, `@`, `!`). */
  private current: number[] = [];

  private steps = 0;

  constructor(private readonly ctx: EvalContext) {}

  rule(rule: CheckedRule, results: boolean[]): boolean {
    this.rules = results;
    this.matches = this.ctx.matches[rule.index] ?? [];
    this.slots = new Array<Val>(rule.slots).fill(undefined);
    this.current = [];
    return rule.condition ? truthy(this.eval(rule.condition)) : false;
  }

  /** A rule reference: an index into the namespace's rules, earlier files' first (ir.ts). */
  private ruleVerdict(index: number): boolean {
    const prior = this.ctx.priorVerdicts;
    if (!prior) return this.rules[index] ?? false;
    return (index < prior.length ? prior[index] : this.rules[index - prior.length]) ?? false;
  }

  private stringMatches(s: number | null): readonly StringMatch[] {
    const idx = s ?? this.current[this.current.length - 1];
    if (idx === undefined) return [];
    return this.matches[idx] ?? [];
  }

  private int(e: CheckedExpr): bigint | undefined {
    return toInt(this.eval(e));
  }

  eval(e: CheckedExpr): Val {
    // The scan's deadline is checked every 1,024 evaluation steps (yara: every 100 instructions).
    if ((++this.steps & 1023) === 0 && this.ctx.deadline !== undefined && performance.now() > this.ctx.deadline) throw new YaraScanTimeout();
    switch (e.kind) {
      case 'const':
        return e.value;
      case 'regex':
      case 'error':
        return undefined;
      case 'filesize':
        return BigInt(this.ctx.fileSize);
      case 'entrypoint':
        return this.ctx.entrypoint;
      case 'rule':
        return this.ruleVerdict(e.index);
      case 'external':
        return this.external(e.name, e.type.kind);
      case 'var':
        return this.slots[e.slot];
      case 'module':
        return this.moduleRoot(e.module);
      case 'field': {
        const obj = this.eval(e.object);
        if (!isNode(obj) || obj.decl.kind !== 'struct') return undefined;
        const decl = Object.hasOwn(obj.decl.fields, e.field) ? obj.decl.fields[e.field] : undefined;
        if (!decl) return undefined;
        const data = isRecord(obj.data) && Object.hasOwn(obj.data, e.field) ? obj.data[e.field] : undefined;
        // A function member sees the structure it belongs to (pe.signatures[i].valid_on() its signature).
        return nodeOrValue(decl, data, decl.kind === 'function' ? obj.data : obj.root);
      }
      case 'index': {
        const obj = this.eval(e.object);
        const key = this.eval(e.index);
        if (!isNode(obj) || key === undefined || isNode(key)) return undefined;
        if (obj.decl.kind === 'array') {
          const i = toInt(key);
          if (i === undefined || !Array.isArray(obj.data) || i < 0n || i >= BigInt(obj.data.length)) return undefined;
          return nodeOrValue(obj.decl.element, (obj.data as readonly ModuleData[])[Number(i)], obj.root);
        }
        if (obj.decl.kind === 'dictionary') {
          if (!(key instanceof Uint8Array) || !(obj.data instanceof Map)) return undefined;
          const map = obj.data as ReadonlyMap<string, ModuleData>;
          return nodeOrValue(obj.decl.element, map.get(latin1.decode(key)), obj.root);
        }
        return undefined;
      }
      case 'call':
        return this.call(e);
      case 'readInt': {
        const off = this.int(e.offset);
        return off === undefined ? undefined : readInt(this.ctx.data, this.ctx.fileSize, e.fn, off, this.ctx.scan.read);
      }
      case 'match': {
        const list = this.stringMatches(e.string);
        if (e.at) {
          const at = this.int(e.at);
          // YARA 4.5 (exec.c OP_FOUND_AT): `$a at UNDEFINED` is UNDEFINED (4.2.3 said false).
          if (at === undefined) return undefined;
          return list.some((m) => BigInt(m.offset) === at);
        }
        if (e.range) {
          const lo = this.int(e.range.lo);
          const hi = this.int(e.range.hi);
          if (lo === undefined || hi === undefined) return undefined;
          return list.some((m) => BigInt(m.offset) >= lo && BigInt(m.offset) <= hi);
        }
        return list.length > 0;
      }
      case 'count': {
        const list = this.stringMatches(e.string);
        if (e.range) {
          const lo = this.int(e.range.lo);
          const hi = this.int(e.range.hi);
          if (lo === undefined || hi === undefined) return undefined;
          return BigInt(list.filter((m) => BigInt(m.offset) >= lo && BigInt(m.offset) <= hi).length);
        }
        return BigInt(list.length);
      }
      case 'offset':
      case 'length': {
        const list = this.stringMatches(e.string);
        const i = e.index ? this.int(e.index) : 1n;
        if (i === undefined || i < 1n || i > BigInt(list.length)) return undefined;
        const m = list[Number(i) - 1];
        if (!m) return undefined;
        return BigInt(e.kind === 'offset' ? m.offset : m.length);
      }
      case 'unary':
        return this.unary(e.op, e.operand);
      case 'binary':
        return this.binary(e.op, e.left, e.right, e.type.kind === 'float');
      case 'matches': {
        const s = this.eval(e.left);
        if (!(s instanceof Uint8Array)) return undefined;
        const re = this.regex(e.regex);
        if (!re) return undefined;
        return regexFinds(re, s);
      }
      case 'of':
        return this.of(e);
      case 'forOf': {
        const n = e.members.length;
        let hits = 0;
        for (const s of e.members) {
          this.current.push(s);
          try {
            if (truthy(this.eval(e.body))) hits++;
          } finally {
            this.current.pop();
          }
        }
        return this.quantify(e.quantifier, hits, n);
      }
      case 'forIn':
        return this.forIn(e.quantifier, e.slots, e.iterable, e.body);
      case 'with':
        for (const d of e.decls) this.slots[d.slot] = this.eval(d.value);
        return this.eval(e.body);
    }
  }

  private external(name: string, kind: string): Val {
    const v = this.ctx.externals?.[name];
    if (v === undefined) return undefined;
    switch (kind) {
      case 'integer':
        return typeof v === 'bigint' ? wrap(v) : typeof v === 'number' ? BigInt(Math.trunc(v)) : typeof v === 'boolean' ? BigInt(v) : undefined;
      case 'float':
        return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
      case 'string':
        return typeof v === 'string' ? new TextEncoder().encode(v) : undefined;
      case 'boolean':
        return typeof v === 'boolean' ? v : undefined;
      default:
        return typeof v === 'string' ? new TextEncoder().encode(v) : v;
    }
  }

  private moduleRoot(name: string): ModuleNode | undefined {
    if (this.moduleRoots.has(name)) return this.moduleRoots.get(name);
    const mod: YaraModule | undefined = (this.ctx.modules ?? getModule)(name);
    let node: ModuleNode | undefined;
    if (mod) {
      const data = mod.load ? mod.load(this.ctx.scan) : undefined;
      node = { tag: 'module', decl: { kind: 'struct', fields: mod.declarations }, data, root: data };
    }
    this.moduleRoots.set(name, node);
    return node;
  }

  private call(e: Extract<CheckedExpr, { kind: 'call' }>): Val {
    const callee = this.eval(e.callee);
    if (!isNode(callee) || callee.decl.kind !== 'function') return undefined;
    const args: YaraArg[] = [];
    const types: YaraType[] = [];
    for (const a of e.args) {
      const t = a.type.kind;
      if (t === 'regexp' && a.kind === 'regex') {
        // A regexp argument (`pe.exports(/re/)`): handed over as a test with `matches` semantics.
        const re = this.regex(a.regex);
        if (!re) return undefined;
        args.push({ kind: 'regexp', source: a.regex.pattern, test: (s) => regexFinds(re, s) });
        types.push('regexp');
        continue;
      }
      if (t !== 'integer' && t !== 'float' && t !== 'string' && t !== 'boolean') return undefined;
      let v = this.eval(a);
      if (v === undefined || isNode(v)) return undefined;
      if (t === 'integer') v = toInt(v);
      else if (t === 'float') v = toFloat(v);
      if (v === undefined) return undefined;
      args.push(v);
      types.push(t);
    }
    const overload = resolveOverload(callee.decl, types);
    if (!overload) return undefined;
    const r = overload.impl(this.ctx.scan, args, callee.root);
    return typeof r === 'number' && Number.isNaN(r) ? undefined : r;
  }

  private regex(lit: RegexLiteral): CompiledRegex | undefined {
    const key = `${lit.caseInsensitive ? 'i' : ''}${lit.dotAll ? 's' : ''}/${lit.pattern}`;
    if (this.regexCache.has(key)) return this.regexCache.get(key);
    const re = compileRegex(lit.pattern, { nocase: lit.caseInsensitive, dotAll: lit.dotAll }).regex;
    this.regexCache.set(key, re);
    return re;
  }

  private unary(op: string, operand: CheckedExpr): Val {
    const v = this.eval(operand);
    switch (op) {
      case 'defined':
        return v !== undefined;
      case 'not':
        return v === undefined || isNode(v) ? undefined : !truthy(v);
      case '-':
        if (typeof v === 'number') return -v;
        {
          const i = toInt(v);
          return i === undefined ? undefined : wrap(-i);
        }
      case '~': {
        const i = toInt(v);
        return i === undefined ? undefined : wrap(~i);
      }
      default:
        return undefined;
    }
  }

  private binary(op: string, le: CheckedExpr, re: CheckedExpr, floatResult: boolean): Val {
    if (op === 'and') {
      // Short-circuit like yara; UNDEFINED counts as false.
      if (!truthy(this.eval(le))) return false;
      return truthy(this.eval(re));
    }
    if (op === 'or') {
      if (truthy(this.eval(le))) return true;
      return truthy(this.eval(re));
    }
    const a = this.eval(le);
    const b = this.eval(re);
    if (op === '<' && (a === undefined || b === undefined) && (le.type.kind === 'float' || re.type.kind === 'float')) {
      // yara 4.2.3: a float `<` with an UNDEFINED side is defined and false (other comparisons are UNDEFINED).
      return false;
    }
    if (a === undefined || b === undefined || isNode(a) || isNode(b)) return undefined;
    switch (op) {
      case '==':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=':
        return compare(op, a, b);
      case 'contains':
      case 'icontains':
      case 'startswith':
      case 'istartswith':
      case 'endswith':
      case 'iendswith':
      case 'iequals':
        if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) return undefined;
        return stringOp(op, a, b);
    }
    if (floatResult || typeof a === 'number' || typeof b === 'number') {
      const x = toFloat(a);
      const y = toFloat(b);
      if (x === undefined || y === undefined) return undefined;
      switch (op) {
        case '+': return x + y;
        case '-': return x - y;
        case '*': return x * y;
        case '\\': return x / y;
        default: return undefined;
      }
    }
    const x = toInt(a);
    const y = toInt(b);
    if (x === undefined || y === undefined) return undefined;
    switch (op) {
      case '+': return wrap(x + y);
      case '-': return wrap(x - y);
      case '*': return wrap(x * y);
      case '\\': return y === 0n ? undefined : wrap(x / y);
      case '%': return y === 0n ? undefined : wrap(x % y);
      case '&': return x & y;
      case '|': return x | y;
      case '^': return x ^ y;
      case '<<': return y < 0n ? undefined : y >= 64n ? 0n : wrap(x << y);
      case '>>': return y < 0n ? undefined : y >= 64n ? 0n : x >> y;
      default: return undefined;
    }
  }

  private of(e: Extract<CheckedExpr, { kind: 'of' }>): Val {
    const n = e.members.length;
    let hits = 0;
    if (e.rules) {
      for (const r of e.members) if (this.ruleVerdict(r)) hits++;
      return this.quantify(e.quantifier, hits, n);
    }
    let at: bigint | undefined;
    let lo: bigint | undefined;
    let hi: bigint | undefined;
    if (e.at) {
      at = this.int(e.at);
      // OP_OF_FOUND_AT: an UNDEFINED location makes the whole `of … at` UNDEFINED.
      if (at === undefined) return undefined;
    }
    if (e.range) {
      lo = this.int(e.range.lo);
      hi = this.int(e.range.hi);
      if (lo === undefined || hi === undefined) return undefined;
    }
    for (const s of e.members) {
      const list = this.matches[s] ?? [];
      const ok =
        at !== undefined
          ? list.some((m) => BigInt(m.offset) === at)
          : lo !== undefined && hi !== undefined
            ? list.some((m) => BigInt(m.offset) >= lo && BigInt(m.offset) <= hi)
            : list.length > 0;
      if (ok) hits++;
    }
    return this.quantify(e.quantifier, hits, n);
  }

  private quantify(q: CheckedQuantifier, hits: number, n: number): Val {
    switch (q.kind) {
      case 'all':
        return n > 0 && hits === n;
      case 'any':
        return hits > 0;
      case 'none':
        return hits === 0;
      case 'count': {
        const k = this.int(q.expr);
        // YARA's VM encodes `all` as an UNDEFINED quantity, so an expression that evaluates to
        // UNDEFINED means `all` (exec.c OP_OF, OP_ITER_CONDITION / OP_ITER_END, 4.2 to 4.5).
        if (k === undefined) return n > 0 && hits === n;
        return k === 0n ? hits === 0 : BigInt(hits) >= k;
      }
      case 'percent': {
        const p = this.int(q.expr);
        // OP_OF_PERCENT: an UNDEFINED percentage gives UNDEFINED.
        if (p === undefined) return undefined;
        return BigInt(hits) * 100n >= p * BigInt(n);
      }
    }
  }

  private forIn(q: CheckedQuantifier, slots: number[], it: CheckedIterable, body: CheckedExpr): Val {
    const items: Val[][] = [];
    switch (it.kind) {
      case 'range': {
        const lo = this.int(it.lo);
        const hi = this.int(it.hi);
        if (lo === undefined || hi === undefined) return false;
        // Evaluated lazily below: a range may be large.
        return this.loop(q, hi >= lo ? Number(hi - lo + 1n) : 0, (k) => {
          this.setSlot(slots[0], lo + BigInt(k));
        }, body);
      }
      case 'list':
        for (const item of it.items) items.push([this.eval(item)]);
        break;
      case 'array': {
        const arr = this.eval(it.expr);
        if (!isNode(arr) || arr.decl.kind !== 'array' || !Array.isArray(arr.data)) return false;
        const decl = arr.decl;
        for (const d of arr.data as readonly ModuleData[]) items.push([nodeOrValue(decl.element, d, arr.root)]);
        break;
      }
      case 'dict': {
        const dict = this.eval(it.expr);
        if (!isNode(dict) || dict.decl.kind !== 'dictionary' || !(dict.data instanceof Map)) return false;
        const decl = dict.decl;
        for (const [k, d] of dict.data as ReadonlyMap<string, ModuleData>) {
          items.push([Uint8Array.from(k, (c) => c.charCodeAt(0) & 0xff), nodeOrValue(decl.element, d, dict.root)]);
        }
        break;
      }
    }
    return this.loop(q, items.length, (k) => {
      const row = items[k] ?? [];
      slots.forEach((s, j) => this.setSlot(s, row[j]));
    }, body);
  }

  private setSlot(slot: number | undefined, v: Val): void {
    if (slot !== undefined) this.slots[slot] = v;
  }

  private loop(q: CheckedQuantifier, n: number, bind: (k: number) => void, body: CheckedExpr): Val {
    if (n === 0) return false;
    let need: number | undefined;
    if (q.kind === 'count' || q.kind === 'percent') {
      const k = this.int(q.expr);
      // An UNDEFINED count means `all`, as in YARA (see `quantify`).
      if (k === undefined && q.kind === 'count') return this.loop({ kind: 'all' }, n, bind, body);
      if (k === undefined) return false;
      need = q.kind === 'count' ? Number(k) : undefined;
    }
    let hits = 0;
    for (let k = 0; k < n; k++) {
      bind(k);
      if (truthy(this.eval(body))) hits++;
      else if (q.kind === 'all') return false;
      if (q.kind === 'any' && hits > 0) return true;
      if (q.kind === 'none' && hits > 0) return false;
      if (need !== undefined && need > 0 && hits >= need) return true;
    }
    return this.quantify(q, hits, n);
  }
}

/** `matches` semantics: a match, possibly empty, starting inside `s` (so "" matches nothing). */
function regexFinds(re: CompiledRegex, s: Uint8Array): boolean {
  let found = false;
  re.findAll(s, 0, s.length, () => {
    found = true;
    return false;
  });
  for (let i = 0; !found && i < s.length; i++) found = re.matchAt(s, i) >= 0;
  return found;
}

function isNode(v: Val): v is ModuleNode {
  return typeof v === 'object' && !(v instanceof Uint8Array) && v.tag === 'module';
}

function isRecord(d: ModuleData): d is { readonly [field: string]: ModuleData } {
  return typeof d === 'object' && d !== null && !(d instanceof Uint8Array) && !(d instanceof Map) && !Array.isArray(d);
}

/** A module leaf value (checked against its declared type) or a node to walk further. */
function nodeOrValue(decl: Declaration, data: ModuleData, root: unknown): Val {
  if (decl.kind !== 'value') return { tag: 'module', decl, data, root };
  if (data === undefined) return undefined;
  switch (decl.type) {
    case 'integer':
      return typeof data === 'bigint' ? data : typeof data === 'boolean' ? BigInt(data) : undefined;
    case 'float':
      return typeof data === 'number' && !Number.isNaN(data) ? data : undefined;
    case 'string':
      return data instanceof Uint8Array ? data : undefined;
    case 'boolean':
      return typeof data === 'boolean' ? data : undefined;
  }
}

/** YARA's boolean view of a value: non-zero numbers and non-empty strings are true; UNDEFINED is false. */
function truthy(v: Val): boolean {
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'number') return v !== 0;
  if (v instanceof Uint8Array) return v.length > 0;
  return false;
}

function toInt(v: Val): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return undefined;
}

function toFloat(v: Val): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return undefined;
}

function compare(op: string, a: YaraValue, b: YaraValue): boolean | undefined {
  let c: number;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) return undefined;
    c = compareBytes(a, b);
  } else if (typeof a === 'number' || typeof b === 'number') {
    const x = toFloat(a);
    const y = toFloat(b);
    if (x === undefined || y === undefined) return undefined;
    if (op === '==') return Math.abs(x - y) < DBL_EPSILON;
    if (op === '!=') return Math.abs(x - y) >= DBL_EPSILON;
    c = x < y ? -1 : x > y ? 1 : x === y ? 0 : NaN;
    if (Number.isNaN(c)) return false;
  } else {
    const x = toInt(a);
    const y = toInt(b);
    if (x === undefined || y === undefined) return undefined;
    c = x < y ? -1 : x > y ? 1 : 0;
  }
  switch (op) {
    case '==': return c === 0;
    case '!=': return c !== 0;
    case '<': return c < 0;
    case '<=': return c <= 0;
    case '>': return c > 0;
    default: return c >= 0;
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c);

function bytesEqualAt(hay: Uint8Array, at: number, needle: Uint8Array, fold: boolean): boolean {
  for (let i = 0; i < needle.length; i++) {
    const x = hay[at + i] ?? 0;
    const y = needle[i] ?? 0;
    if (fold ? lower(x) !== lower(y) : x !== y) return false;
  }
  return true;
}

function stringOp(op: string, a: Uint8Array, b: Uint8Array): boolean {
  const fold = op.startsWith('i');
  switch (op) {
    case 'contains':
    case 'icontains':
      for (let i = 0; i + b.length <= a.length; i++) if (bytesEqualAt(a, i, b, fold)) return true;
      return false;
    case 'startswith':
    case 'istartswith':
      return b.length <= a.length && bytesEqualAt(a, 0, b, fold);
    case 'endswith':
    case 'iendswith':
      return b.length <= a.length && bytesEqualAt(a, a.length - b.length, b, fold);
    default:
      return a.length === b.length && bytesEqualAt(a, 0, b, true);
  }
}

const READERS: Record<IntReader, { size: number; signed: boolean; be: boolean }> = {
  int8: { size: 1, signed: true, be: false },
  int16: { size: 2, signed: true, be: false },
  int32: { size: 4, signed: true, be: false },
  int8be: { size: 1, signed: true, be: true },
  int16be: { size: 2, signed: true, be: true },
  int32be: { size: 4, signed: true, be: true },
  uint8: { size: 1, signed: false, be: false },
  uint16: { size: 2, signed: false, be: false },
  uint32: { size: 4, signed: false, be: false },
  uint8be: { size: 1, signed: false, be: true },
  uint16be: { size: 2, signed: false, be: true },
  uint32be: { size: 4, signed: false, be: true },
};

/** `intXX(offset)`: UNDEFINED unless the whole value lies inside the data. */
function readInt(data: Uint8Array, fileSize: number, fn: IntReader, off: bigint, read?: (start: number, end: number) => Uint8Array | undefined): bigint | undefined {
  const r = READERS[fn];
  // A file scanned in blocks holds only its first bytes in `data`; `read` gives the rest.
  const limit = BigInt(read ? fileSize : Math.min(fileSize, data.length));
  if (off < 0n || off + BigInt(r.size) > limit) return undefined;
  let o = Number(off);
  if (o + r.size > data.length && read) {
    const got = read(o, o + r.size);
    if (!got || got.length < r.size) return undefined;
    data = got;
    o = 0;
  }
  let v = 0n;
  for (let i = 0; i < r.size; i++) {
    const byte = BigInt(data[r.be ? o + i : o + r.size - 1 - i] ?? 0);
    v = (v << 8n) | byte;
  }
  return r.signed ? BigInt.asIntN(r.size * 8, v) : v;
}
