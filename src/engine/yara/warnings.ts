/**
 * YARA's compile-time warnings that depend on more than one rule's syntax: slow strings (by atom
 * quality), and the other performance and ambiguity warnings yara 4.x prints.
 *
 * In: one parsed and checked rule file with its compiled string matchers. Out: warnings, each
 * with file and the location yara reports.
 */
import type { Diagnostic } from '../../core/diagnostics.js';
import type { RuleFile } from '../../signatures/yara/ast.js';
import type { CheckedRule } from '../../signatures/yara/ir.js';
import type { StringMatcher } from './strings.js';

export interface WarningInput {
  file: string;
  ast: RuleFile;
  rules: readonly CheckedRule[];
  /** `matchers[rule][string]`, undefined where a string did not compile. */
  matchers: readonly (readonly (StringMatcher | undefined)[])[];
}

export function yaraWarnings(input: WarningInput): Diagnostic[] {
  void input;
  return [];
}
