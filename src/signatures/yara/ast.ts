/**
 * The YARA rule language as data: the syntax tree the parser builds from a rule file.
 *
 * In: nothing (types only). Out: node types for a rule file (imports, includes, rules), each rule's
 * meta, strings and condition, and the whole condition expression language of YARA 4.5.
 *
 * Every node carries `span`: byte offsets into the UTF-8 encoding of the source (`start` inclusive,
 * `end` exclusive), so diagnostics from later stages (checker, compiler) can point at the text
 * without the parser's tokens (nodes read from an included file carry `origin`, and their spans
 * point into that file's bytes). Text values are kept as bytes, because YARA strings are byte
 * strings: `"é"` is two bytes, `"\xff"` one. Integers are `bigint` (YARA integers are int64 and
 * must not lose precision above 2^53). The tree is syntax only: no name resolution, no types. A
 * rule with a syntax error is still in the tree with what could be read of it: its header, the
 * sections before and after the error, and `condition: null` when the condition itself failed.
 */

export interface Span {
  start: number;
  end: number;
}

export interface Ident {
  name: string;
  span: Span;
}

export interface RuleFile {
  kind: 'file';
  span: Span;
  imports: Import[];
  includes: Include[];
  rules: Rule[];
}

/**
 * The file a node was read from, when it is not the parsed file itself but one reached through
 * `include` (see `ParseOptions.include`). The node's spans are byte offsets into `source`.
 */
export interface Origin {
  /** The included file's name as yara builds it (the includer's directory joined to the path). */
  file: string;
  source: Uint8Array;
}

export interface Import {
  kind: 'import';
  span: Span;
  module: string;
  /** Set when the import comes from an included file. */
  origin?: Origin;
  /**
   * How many rules of the file (included ones counted) precede the import: yara knows a module
   * only from its import on, so rules before it cannot use it. Absent means 0.
   */
  rulesBefore?: number;
}

export interface Include {
  kind: 'include';
  span: Span;
  path: string;
  /** Set when the include comes from an included file. */
  origin?: Origin;
}

export interface Rule {
  kind: 'rule';
  span: Span;
  isPrivate: boolean;
  isGlobal: boolean;
  name: Ident;
  tags: Ident[];
  meta: MetaEntry[];
  strings: StringDef[];
  /** Null only when the condition could not be parsed at all. */
  condition: Expr | null;
  /**
   * Set when the parser found an error in the rule (syntax, modifiers, hex string…): the offset
   * of the first one, and the complete sub-expressions of the condition read before it
   * (outermost only, in source order). yara checks what it has read before stopping at the
   * error, so the checker checks these.
   */
  broken?: { at: number; partial: Expr[] };
  /** Set when the rule comes from an included file. */
  origin?: Origin;
}

export type MetaValue =
  | { kind: 'string'; value: Uint8Array }
  | { kind: 'int'; value: bigint }
  | { kind: 'bool'; value: boolean };

export interface MetaEntry {
  span: Span;
  key: Ident;
  value: MetaValue;
}

// ---------------------------------------------------------------------------------------------
// Strings section

export type ModifierKind = 'nocase' | 'wide' | 'ascii' | 'fullword' | 'private' | 'xor' | 'base64' | 'base64wide';

export interface Modifier {
  kind: ModifierKind;
  span: Span;
  /** `xor` alone is 0..255; `xor(n)` is n..n; `xor(a-b)` is a..b. */
  xorRange?: { min: number; max: number };
  /** `base64("…")` / `base64wide("…")`: the custom 64-byte alphabet. */
  alphabet?: Uint8Array;
}

interface StringDefBase {
  span: Span;
  /** `$name`, or `$` for an anonymous string. */
  id: Ident;
  modifiers: Modifier[];
}

export interface TextString extends StringDefBase {
  kind: 'text';
  value: Uint8Array;
}

export interface HexString extends StringDefBase {
  kind: 'hex';
  tokens: HexToken[];
}

export interface RegexString extends StringDefBase {
  kind: 'regex';
  regex: RegexLiteral;
}

export type StringDef = TextString | HexString | RegexString;

/**
 * One hex-string element. A byte matches `b` when `(b & mask) === value` (negated: when it does not);
 * `??` is mask 0, `A?` mask 0xf0, `?A` mask 0x0f.
 */
export type HexToken =
  | { kind: 'byte'; span: Span; value: number; mask: number; negated: boolean }
  | { kind: 'jump'; span: Span; min: number; max: number | null }
  | { kind: 'alt'; span: Span; alternatives: HexToken[][] };

export interface RegexLiteral {
  span: Span;
  /** The pattern text between the slashes, unescaped only for `\/`. */
  pattern: string;
  caseInsensitive: boolean;
  dotAll: boolean;
}

// ---------------------------------------------------------------------------------------------
// Conditions

export type BinaryOp =
  | 'or'
  | 'and'
  | '=='
  | '!='
  | 'contains'
  | 'icontains'
  | 'startswith'
  | 'istartswith'
  | 'endswith'
  | 'iendswith'
  | 'iequals'
  | '<'
  | '<='
  | '>'
  | '>='
  | '|'
  | '^'
  | '&'
  | '<<'
  | '>>'
  | '+'
  | '-'
  | '*'
  | '\\'
  | '%';

export type UnaryOp = 'not' | 'defined' | '-' | '~';

export type IntReader =
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int8be'
  | 'int16be'
  | 'int32be'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint8be'
  | 'uint16be'
  | 'uint32be';

export interface RangeExpr {
  kind: 'range';
  span: Span;
  lo: Expr;
  hi: Expr;
}

/** `all`, `any`, `none`, an expression (`2 of`), or a percentage (`50% of`). */
export type Quantifier =
  | { kind: 'all' | 'any' | 'none'; span: Span }
  | { kind: 'count'; span: Span; expr: Expr }
  | { kind: 'percent'; span: Span; expr: Expr };

/** A pattern is `$a`, `$a*` (prefix wildcard) or `$` / `$*`. */
export interface SetItem {
  span: Span;
  name: string;
  wildcard: boolean;
}

export type StringSet = { kind: 'them'; span: Span } | { kind: 'strings'; span: Span; items: SetItem[] };
export interface RuleSet {
  kind: 'rules';
  span: Span;
  items: SetItem[];
}

export type Iterable =
  | RangeExpr
  | { kind: 'list'; span: Span; items: Expr[] }
  | { kind: 'expr'; span: Span; expr: Expr };

export type Expr =
  | { kind: 'bool'; span: Span; value: boolean }
  | { kind: 'int'; span: Span; value: bigint }
  | { kind: 'float'; span: Span; value: number }
  | { kind: 'text'; span: Span; value: Uint8Array }
  | { kind: 'regex'; span: Span; regex: RegexLiteral }
  | { kind: 'filesize'; span: Span }
  | { kind: 'entrypoint'; span: Span }
  | { kind: 'ident'; span: Span; name: string }
  | { kind: 'field'; span: Span; object: Expr; field: Ident }
  | { kind: 'index'; span: Span; object: Expr; index: Expr }
  | { kind: 'call'; span: Span; callee: Expr; args: Expr[] }
  | { kind: 'readInt'; span: Span; fn: IntReader; offset: Expr }
  /** `$a` (true when matched), `$a at e`, `$a in (lo..hi)`. */
  | { kind: 'match'; span: Span; id: Ident; at?: Expr; range?: RangeExpr }
  /** `#a`, `#a in (lo..hi)`. */
  | { kind: 'count'; span: Span; id: Ident; range?: RangeExpr }
  /** `@a`, `@a[i]`. */
  | { kind: 'offset'; span: Span; id: Ident; index?: Expr }
  /** `!a`, `!a[i]`. */
  | { kind: 'length'; span: Span; id: Ident; index?: Expr }
  | { kind: 'unary'; span: Span; op: UnaryOp; operand: Expr }
  | { kind: 'binary'; span: Span; op: BinaryOp; left: Expr; right: Expr }
  | { kind: 'matches'; span: Span; left: Expr; regex: RegexLiteral }
  | { kind: 'of'; span: Span; quantifier: Quantifier; set: StringSet | RuleSet; at?: Expr; range?: RangeExpr }
  | { kind: 'forOf'; span: Span; quantifier: Quantifier; set: StringSet; body: Expr }
  | { kind: 'forIn'; span: Span; quantifier: Quantifier; vars: Ident[]; iterable: Iterable; body: Expr }
  /** `with a = e1, b = e2 : ( body )` (YARA 4.3+): local names for sub-expressions. */
  | { kind: 'with'; span: Span; decls: WithDecl[]; body: Expr };

export interface WithDecl {
  span: Span;
  name: Ident;
  value: Expr;
}

/** The direct sub-expressions of a condition node (loop bodies, quantities and ranges included). */
export function childNodes(e: Expr): Expr[] {
  const kids: (Expr | undefined)[] = [];
  switch (e.kind) {
    case 'field':
      kids.push(e.object);
      break;
    case 'index':
      kids.push(e.object, e.index);
      break;
    case 'call':
      kids.push(e.callee, ...e.args);
      break;
    case 'readInt':
      kids.push(e.offset);
      break;
    case 'match':
      kids.push(e.at, e.range?.lo, e.range?.hi);
      break;
    case 'count':
      kids.push(e.range?.lo, e.range?.hi);
      break;
    case 'offset':
    case 'length':
      kids.push(e.index);
      break;
    case 'unary':
      kids.push(e.operand);
      break;
    case 'binary':
      kids.push(e.left, e.right);
      break;
    case 'matches':
      kids.push(e.left);
      break;
    case 'of':
      if (e.quantifier.kind === 'count' || e.quantifier.kind === 'percent') kids.push(e.quantifier.expr);
      kids.push(e.at, e.range?.lo, e.range?.hi);
      break;
    case 'forOf':
      if (e.quantifier.kind === 'count' || e.quantifier.kind === 'percent') kids.push(e.quantifier.expr);
      kids.push(e.body);
      break;
    case 'forIn':
      if (e.quantifier.kind === 'count' || e.quantifier.kind === 'percent') kids.push(e.quantifier.expr);
      if (e.iterable.kind === 'range') kids.push(e.iterable.lo, e.iterable.hi);
      else if (e.iterable.kind === 'list') kids.push(...e.iterable.items);
      else kids.push(e.iterable.expr);
      kids.push(e.body);
      break;
    case 'with':
      kids.push(...e.decls.map((d) => d.value), e.body);
      break;
    default:
      break;
  }
  return kids.filter((k): k is Expr => k !== undefined);
}
