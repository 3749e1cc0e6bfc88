/**
 * Which rules cannot be true unless one of their own strings matched: the scan skips evaluating
 * those (their verdict is false) when none of their strings matched, which on most files is most
 * rules. YARA-X and boreal call this "no scan needed"; here it is only a shortcut of evaluation.
 *
 * In: a checked rule condition. Out: true when the analysis proves that the condition is false
 * (or undefined, which YARA treats as false) whenever no string of the rule has a match. The
 * analysis is conservative: anything it does not understand answers false (evaluate as usual).
 */
import type { CheckedExpr, CheckedQuantifier, CheckedRule } from '../../signatures/yara/ir.js';

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
