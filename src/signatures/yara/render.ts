/**
 * Diagnostics → text shaped like yara's stderr.
 *
 * In: the diagnostics of `parseYara` (and later stages), optionally the parsed file so that each
 * diagnostic can name the rule it falls in. Out: one line per diagnostic, as the `yara` command
 * prints them: `file(line): error: message` outside any rule, and `error: rule "name" in
 * file(line): message` inside one (the same for warnings). Codes and columns are left out on
 * purpose: the point of this format is to be compared line for line with yara's own output; the
 * rustc-style renderer in core/diagnostics.ts shows them for vigil's own commands.
 */

import type { Diagnostic } from '../../core/diagnostics.js';
import type { RuleFile } from './ast.js';

/** One diagnostic in yara's format; `ruleName` when the diagnostic lies inside a rule. */
export function renderYaraDiagnostic(d: Diagnostic, ruleName?: string): string {
  const loc = d.location;
  const where = loc ? `${loc.file}(${loc.line})` : '';
  const sev = d.severity === 'note' ? 'warning' : d.severity;
  if (ruleName !== undefined) return `${sev}: rule "${ruleName}" in ${where}: ${d.message}`;
  return where ? `${where}: ${sev}: ${d.message}` : `${sev}: ${d.message}`;
}

/**
 * Every diagnostic, one per line, each attributed to the rule whose lines contain it.
 * `source` is what was parsed, text or bytes (rule spans are byte offsets, diagnostics carry lines).
 */
export function renderYaraDiagnostics(diagnostics: readonly Diagnostic[], source?: string | Uint8Array, ast?: RuleFile): string {
  const ruleLines: { first: number; last: number; name: string }[] = [];
  if (source !== undefined && ast) {
    const bytes = typeof source === 'string' ? new TextEncoder().encode(source) : source;
    const starts: number[] = [0];
    for (let k = 0; k < bytes.length; k++) if (bytes[k] === 0x0a) starts.push(k + 1);
    /** 1-based line of a byte offset, by binary search over line starts. */
    const lineOf = (offset: number): number => {
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((starts[mid] as number) <= offset) lo = mid;
        else hi = mid - 1;
      }
      return lo + 1;
    };
    for (const r of ast.rules) ruleLines.push({ first: lineOf(r.span.start), last: lineOf(r.span.end), name: r.name.name });
  }
  return diagnostics
    .map((d) => {
      const line = d.location?.line ?? 0;
      const rule = ruleLines.find((r) => line >= r.first && line <= r.last);
      return renderYaraDiagnostic(d, rule?.name) + '\n';
    })
    .join('');
}
