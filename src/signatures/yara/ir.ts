/**
 * Checked YARA rules: what the semantic checker (check.ts) hands to the compiler and evaluator.
 *
 * In: nothing (types, and `childExprs` to walk them). Out: rules whose conditions are typed trees with every name already
 * resolved: strings by index into the rule's string table, rules by index into the namespace's
 * rule list (the rules earlier files of the namespace defined, `CheckOptions.prior`, then this
 * file's: without earlier files that is the file's own list), loop and `with` variables by slot number, module values by a chain of field / index /
 * call steps starting at an imported module, externals by name with their type. The evaluator
 * therefore never looks a name up again and never needs the scopes the checker used.
 *
 * Types follow YARA: integer (int64, `bigint`), float, string (bytes), boolean, regexp; module
 * structures, arrays, dictionaries and functions come from the ModuleCatalog (modules-catalog.ts).
 */

import type { MetaEntry, Modifier, Origin, RegexLiteral, Span, StringDef, IntReader, BinaryOp, UnaryOp } from './ast.js';
import type { ModuleType } from './modules-catalog.js';

export type ScalarType = 'integer' | 'float' | 'string' | 'boolean' | 'regexp';

/** The type of a checked expression: a scalar, a module type (struct, array…), or unknown after an error. */
export type ValueType = { kind: ScalarType } | ModuleType | { kind: 'unknown' };

export interface CheckedString {
  /** Index in the rule's `strings`. */
  index: number;
  name: string;
  isPrivate: boolean;
  modifiers: Modifier[];
  def: StringDef;
}

export type CheckedQuantifier =
  | { kind: 'all' | 'any' | 'none' }
  | { kind: 'count'; expr: CheckedExpr }
  | { kind: 'percent'; expr: CheckedExpr };

export type CheckedIterable =
  | { kind: 'range'; lo: CheckedExpr; hi: CheckedExpr }
  | { kind: 'list'; items: CheckedExpr[] }
  | { kind: 'array'; expr: CheckedExpr }
  | { kind: 'dict'; expr: CheckedExpr };

interface Base {
  span: Span;
  type: ValueType;
}

export type CheckedExpr = Base &
  (
    | { kind: 'const'; value: bigint | number | boolean | Uint8Array }
    | { kind: 'regex'; regex: RegexLiteral }
    | { kind: 'filesize' }
    | { kind: 'entrypoint' }
    /** `index` into the namespace's rule list (earlier files' rules, then this file's). */
    | { kind: 'rule'; index: number }
    | { kind: 'external'; name: string }
    | { kind: 'var'; slot: number }
    | { kind: 'module'; module: string }
    | { kind: 'field'; object: CheckedExpr; field: string }
    | { kind: 'index'; object: CheckedExpr; index: CheckedExpr }
    /** `overload` indexes the function's overload list in the catalog. */
    | { kind: 'call'; callee: CheckedExpr; overload: number; args: CheckedExpr[] }
    | { kind: 'readInt'; fn: IntReader; offset: CheckedExpr }
    /** `string` is the index of the string, or null for the anonymous `$` of the enclosing `for … of`. */
    | { kind: 'match'; string: number | null; at?: CheckedExpr; range?: { lo: CheckedExpr; hi: CheckedExpr } }
    | { kind: 'count'; string: number | null; range?: { lo: CheckedExpr; hi: CheckedExpr } }
    | { kind: 'offset'; string: number | null; index?: CheckedExpr }
    | { kind: 'length'; string: number | null; index?: CheckedExpr }
    | { kind: 'unary'; op: UnaryOp; operand: CheckedExpr }
    | { kind: 'binary'; op: BinaryOp; left: CheckedExpr; right: CheckedExpr }
    | { kind: 'matches'; left: CheckedExpr; regex: RegexLiteral }
    | {
        kind: 'of';
        quantifier: CheckedQuantifier;
        /** String indices, or rule indices (into the namespace's rule list) when `rules` is true. */
        members: number[];
        rules: boolean;
        at?: CheckedExpr;
        range?: { lo: CheckedExpr; hi: CheckedExpr };
      }
    | { kind: 'forOf'; quantifier: CheckedQuantifier; members: number[]; body: CheckedExpr }
    | { kind: 'forIn'; quantifier: CheckedQuantifier; slots: number[]; iterable: CheckedIterable; body: CheckedExpr }
    | { kind: 'with'; decls: { slot: number; value: CheckedExpr }[]; body: CheckedExpr }
    | { kind: 'error' }
  );

export interface CheckedRule {
  /** Index in the file's rule list (string matches are keyed by it). */
  index: number;
  name: string;
  span: Span;
  isPrivate: boolean;
  isGlobal: boolean;
  tags: string[];
  meta: MetaEntry[];
  strings: CheckedString[];
  condition: CheckedExpr | null;
  /** Number of variable slots the condition uses (loop and `with` variables). */
  slots: number;
  /** Modules the condition reads from. */
  modules: string[];
  /** The included file the rule was read from (its spans point there); absent for the parsed file. */
  origin?: Origin;
}

/** The direct sub-expressions of a checked expression (loop bodies, quantities and ranges included). */
export function childExprs(e: CheckedExpr): CheckedExpr[] {
  const kids: (CheckedExpr | undefined)[] = [];
  const quantity = (q: CheckedQuantifier) => { if (q.kind === 'count' || q.kind === 'percent') kids.push(q.expr); };
  switch (e.kind) {
    case 'field': kids.push(e.object); break;
    case 'index': kids.push(e.object, e.index); break;
    case 'call': kids.push(e.callee, ...e.args); break;
    case 'readInt': kids.push(e.offset); break;
    case 'match': kids.push(e.at, e.range?.lo, e.range?.hi); break;
    case 'count': kids.push(e.range?.lo, e.range?.hi); break;
    case 'offset': case 'length': kids.push(e.index); break;
    case 'unary': kids.push(e.operand); break;
    case 'binary': kids.push(e.left, e.right); break;
    case 'matches': kids.push(e.left); break;
    case 'with': kids.push(...e.decls.map((d) => d.value), e.body); break;
    case 'of': quantity(e.quantifier); kids.push(e.at, e.range?.lo, e.range?.hi); break;
    case 'forOf': quantity(e.quantifier); kids.push(e.body); break;
    case 'forIn': {
      quantity(e.quantifier);
      const it = e.iterable;
      if (it.kind === 'range') kids.push(it.lo, it.hi); else if (it.kind === 'list') kids.push(...it.items); else kids.push(it.expr);
      kids.push(e.body);
      break;
    }
    default: break;
  }
  return kids.filter((k): k is CheckedExpr => k !== undefined);
}
