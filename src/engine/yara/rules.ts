/**
 * YARA rules end to end: source text → parsed → checked → compiled string matchers; then
 * bytes → string matches → evaluated conditions → the rules that matched, with their evidence.
 *
 * In: rule files (text or bytes) and the bytes of a file to scan. Out: every diagnostic of the
 * compilation (all files, all errors), and per scan the matching rules with the matches of each
 * of their strings. Each string is scanned by its own matcher here; joining YARA atoms to the
 * shared atom index that ClamAV body signatures use is the next step (docs/roadmap.md).
 */
import type { Diagnostic } from '../../core/diagnostics.js';
import { checkYara, type ExternalValue } from '../../signatures/yara/check.js';
import type { CheckedRule } from '../../signatures/yara/ir.js';
import { DEFAULT_MODULES } from '../../signatures/yara/modules-catalog.js';
import { parseYara } from '../../signatures/yara/parser.js';
import type { RuleFile } from '../../signatures/yara/ast.js';
import { evaluateRules } from './eval.js';
import { scanContext } from './modules/types.js';
import { compileString, YARA_MAX_STRING_MATCHES, type StringMatch, type StringMatcher } from './strings.js';
import { yaraWarnings } from './warnings.js';

export interface YaraSource {
  file: string;
  text: string | Uint8Array;
  /** yara's `NAMESPACE:RULES_FILE`; `default` when absent. */
  namespace?: string;
}

/** The rules of one source file: rule references are resolved within a file. */
export interface CompiledGroup {
  namespace: string;
  rules: CheckedRule[];
  /** `matchers[rule][string]`; undefined where a string could not be compiled. */
  matchers: (StringMatcher | undefined)[][];
}

export interface CompiledYara {
  groups: CompiledGroup[];
  externals: Record<string, ExternalValue>;
}

export interface YaraCompileResult {
  compiled?: CompiledYara;
  diagnostics: Diagnostic[];
  /** Per source, for rendering diagnostics in yara's format. */
  parsed: { file: string; text: string | Uint8Array; ast: RuleFile }[];
}

/** Compiles several rule files as one set (as `yara` does with several rule arguments). */
export function compileYara(sources: readonly YaraSource[], opts: { externals?: Record<string, ExternalValue>; strictEscape?: boolean } = {}): YaraCompileResult {
  const diagnostics: Diagnostic[] = [];
  const parsed: YaraCompileResult['parsed'] = [];
  const groups: CompiledGroup[] = [];
  const externals = opts.externals ?? {};
  for (const src of sources) {
    const p = parseYara(src.text, src.file, { strictEscape: !!opts.strictEscape });
    parsed.push({ file: src.file, text: src.text, ast: p.ast });
    diagnostics.push(...p.diagnostics);
    if (p.diagnostics.some((d) => d.severity === 'error')) continue;
    const c = checkYara(p.ast, { modules: DEFAULT_MODULES, externals, source: src.text, file: src.file });
    diagnostics.push(...c.diagnostics);
    if (c.diagnostics.some((d) => d.severity === 'error')) continue;
    const matchers = c.rules.map((rule) => rule.strings.map((s) => {
      const r = compileString(s.def);
      diagnostics.push(...r.diagnostics);
      return r.matcher;
    }));
    diagnostics.push(...yaraWarnings({ file: src.file, ast: p.ast, rules: c.rules, matchers }));
    groups.push({ namespace: src.namespace ?? 'default', rules: c.rules, matchers });
  }
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics, parsed };
  return { compiled: { groups, externals }, diagnostics, parsed };
}

export interface YaraRuleMatch {
  rule: CheckedRule;
  /** Matches of each string of the rule, by string index (private strings included). */
  strings: StringMatch[][];
}

export interface ScanYaraOptions {
  /** Where `console.log` lines go. */
  output?: (line: string) => void;
  /** yara's `-f`: a string stops being searched after its first match (so `#a` is at most 1). */
  fastMode?: boolean;
  /** `performance.now()` value after which the scan stops with `YaraScanTimeout` (yara's `-a`). */
  deadline?: number;
  /** Matches kept per string (yara's YR_MAX_STRING_MATCHES unless lowered). */
  maxMatchesPerString?: number;
}

/** Thrown by `scanYara` when `deadline` passes; yara reports it as `error scanning FILE: timeout`. */
export class YaraScanTimeout extends Error {
  constructor() { super('timeout'); this.name = 'YaraScanTimeout'; }
}

/** Scans bytes with compiled rules; returns every rule (matched or not) with its verdict. */
export function scanYara(compiled: CompiledYara, data: Uint8Array, opts: ScanYaraOptions = {}): { matched: YaraRuleMatch[]; notMatched: CheckedRule[] } {
  const matched: YaraRuleMatch[] = [];
  const notMatched: CheckedRule[] = [];
  const scan = scanContext(data, opts.output ? { output: opts.output } : {});
  const cap = opts.fastMode ? 1 : Math.min(opts.maxMatchesPerString ?? YARA_MAX_STRING_MATCHES, YARA_MAX_STRING_MATCHES);
  const deadline = opts.deadline;
  for (const g of compiled.groups) {
    const matches = g.matchers.map((ms) => ms.map((m) => {
      if (deadline !== undefined && performance.now() > deadline) throw new YaraScanTimeout();
      if (!m) return [];
      const all = m.findAll(data);
      return all.length > cap ? all.slice(0, cap) : all;
    }));
    const verdicts = evaluateRules(g.rules, { data, fileSize: data.length, matches, externals: compiled.externals, scan });
    g.rules.forEach((rule, i) => {
      if (rule.isPrivate) return;
      if (verdicts[i]) matched.push({ rule, strings: matches[i] ?? [] });
      else notMatched.push(rule);
    });
  }
  return { matched, notMatched };
}
