/**
 * Which rules cannot be true unless one of their own strings matched: the scan skips evaluating
 * those (their verdict is false) when none of their strings matched, which on most files is most
 * rules. YARA-X and boreal call this "no scan needed"; here it is only a shortcut of evaluation.
 *
 * In: a checked rule condition. Out: true when the analysis proves that the condition is false
 * (or undefined, which YARA treats as false) whenever no string of the rule has a match. The
 * analysis is conservative: anything it does not understand answers false (evaluate as usual).
 */
import { childExprs, type CheckedExpr, type CheckedQuantifier, type CheckedRule } from '../../signatures/yara/ir.js';

/** True when `rule` can only match if at least one of its strings matched. */
export function needsStringMatch(rule: CheckedRule): boolean {
  return rule.strings.length > 0 && rule.condition !== null && requires(rule.condition);
}

function requires(e: CheckedExpr): boolean {
  switch (e.kind) {
    case 'match':
      // `$a`, `$a at n`, `$a in (lo..hi)`: false without a match of `$a`.
      return e.string !== null;
    case 'of':
      // `any/all/N of (strings)` with N ≥ 1 (or a positive percentage) needs a match.
      return !e.rules && e.members.length > 0 && quantifierNeedsOne(e.quantifier);
    case 'binary':
      if (e.op === 'and') return requires(e.left) || requires(e.right);
      if (e.op === 'or') return requires(e.left) && requires(e.right);
      return false;
    default:
      return false;
  }
}

/** `any`, `all`, or a constant count/percentage of at least one. */
function quantifierNeedsOne(q: CheckedQuantifier): boolean {
  if (q.kind !== 'count' && q.kind !== 'percent') return q.kind !== 'none';
  const v = q.expr.kind === 'const' ? q.expr.value : undefined;
  if (typeof v === 'bigint') return v >= 1n;
  if (typeof v === 'number') return v > 0;
  return false;
}

/**
 * YARA's fixed-offset strings: a literal string (text, or hex without wildcards, jumps or
 * alternatives) whose every use in the condition is `$a at N` with the same constant N is searched
 * at N only (yara 4.2.3's STRING_FLAGS_FIXED_OFFSET; YARA-X does the same), so its other matches are
 * never reported. Returns, per string of the rule, N or undefined.
 */
export function fixedOffsets(rule: CheckedRule): (number | undefined)[] {
  // Per string: undefined = not used yet, a number = used only `at` that offset, null = searched everywhere.
  const state: (number | null | undefined)[] = rule.strings.map((s) => (literal(s.def) ? undefined : null));
  // `$`, `#`… inside `for … of` (string null) stand for every string of the rule, as in yara.
  const use = (i: number | null, at: number | null): void => {
    if (i === null) { for (let k = 0; k < state.length; k++) use(k, at); return; }
    const cur = state[i];
    if (cur === null) return;
    state[i] = at === null || (cur !== undefined && cur !== at) ? null : at;
  };
  const walk = (e: CheckedExpr): void => {
    if (e.kind === 'match') use(e.string, e.at && !e.range ? constInt(e.at) : null);
    else if (e.kind === 'count' || e.kind === 'offset' || e.kind === 'length') use(e.string, null);
    else if ((e.kind === 'of' && !e.rules) || e.kind === 'forOf') for (const m of e.members) use(m, null);
    for (const c of childExprs(e)) walk(c);
  };
  if (rule.condition) walk(rule.condition);
  return state.map((v) => (typeof v === 'number' ? v : undefined));
}

/** A constant integer expression (literals folded through + - *), or null. */
function constInt(e: CheckedExpr): number | null {
  if (e.kind === 'const') return typeof e.value === 'bigint' && e.value >= 0n && e.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(e.value) : null;
  if (e.kind === 'binary' && (e.op === '+' || e.op === '-' || e.op === '*')) {
    const a = constInt(e.left), b = constInt(e.right);
    if (a === null || b === null) return null;
    const v = e.op === '+' ? a + b : e.op === '-' ? a - b : a * b;
    return Number.isSafeInteger(v) && v >= 0 ? v : null;
  }
  return null;
}

function literal(def: CheckedRule['strings'][number]['def']): boolean {
  if (def.kind === 'text') return !def.modifiers.some((m) => m.kind === 'base64' || m.kind === 'base64wide');
  if (def.kind === 'hex') return def.tokens.every((t) => t.kind === 'byte' && t.mask === 0xff && !t.negated);
  return false;
}
