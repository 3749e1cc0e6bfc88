/**
 * Golden suite of YARA's compile-time warnings and string-compilation errors: each
 * `test/golden/yara-warnings/<name>.yar` in, `<name>.out` out; plus a check that every diagnostic
 * code the YARA front end can raise has a golden case somewhere.
 *
 * In: rule files. Out: everything yara would print compiling each file (warnings.ts's
 * `yaraFileDiagnostics`: syntax, checker, string and warning diagnostics), rendered in yara's
 * stderr shape by render.ts, then a summary line with the codes raised. Cases whose name ends in
 * `-v45` use the yara 4.5 dialect (its extra warnings); the others are what yara 4.2.3 prints,
 * with `include`s read from the suite's folder (included files end in `.yara`, so they are not
 * cases themselves);
 * which test/diff/yara-diagnostics.test.ts confirms against the real binary. `UPDATE_GOLDEN=1`
 * rewrites the `.out` files; review the diff.
 *
 * Why the code check: a diagnostic nobody can trigger from a rule file, or one without a golden
 * case, is untested output; scanning the sources for codes keeps the suite complete as codes
 * are added.
 */

import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expectGolden, goldenDir, listGoldenCases } from './helpers/golden.js';
import { yaraFileDiagnostics } from '../src/engine/yara/warnings.js';
import { renderYaraDiagnostics } from '../src/signatures/yara/render.js';
import { DEFAULT_MODULES, YARA_4_2_MODULES } from '../src/signatures/yara/modules-catalog.js';
import type { Diagnostic } from '../src/core/diagnostics.js';

const dir = goldenDir('yara-warnings');

/** What yara prints for one golden input, as vigil renders it; includes resolve in the suite's folder. */
function diagnose(suite: string, name: string, source: string): { diagnostics: Diagnostic[]; text: string } {
  const file = `${name}.yar`;
  const v45 = name.endsWith('-v45');
  const folder = goldenDir(suite);
  const { ast, diagnostics } = yaraFileDiagnostics(source, file, {
    modules: v45 ? DEFAULT_MODULES : YARA_4_2_MODULES,
    strictEscape: suite === 'yara-parse' && name.includes('strict-escape'),
    include: (path) => (existsSync(join(folder, path)) ? readFileSync(join(folder, path)) : undefined),
    ...(v45 ? { dialect: '4.5' as const } : {}),
  });
  return { diagnostics, text: renderYaraDiagnostics(diagnostics, source, ast) };
}

for (const c of listGoldenCases(dir, '.yar')) {
  test(`yara warnings golden: ${c.name}`, () => {
    const { diagnostics, text } = diagnose('yara-warnings', c.name, readFileSync(c.inPath, 'utf8'));
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    const codes = [...new Set(diagnostics.map((d) => d.code))].sort();
    const out = text + `--- ${errors} error(s), ${diagnostics.length - errors} warning(s): ${codes.join(' ') || '(none)'}\n`;
    expectGolden(c.outPath, out);
  });
}

/** Codes no rule file can reach, each with the reason. */
const UNREACHABLE: Record<string, string> = {
  'yara.string.invalid-modifier':
    'compileString re-checks modifier combinations for callers that build ASTs by hand; from source text the parser rejects them first (yara.syntax.invalid-modifier)',
  'yara.syntax.empty-regex': 'two slashes with nothing between them always start a comment, so the lexer never sees an empty regex',
};

function sourceFiles(root: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(root)) {
    const p = join(root, e);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

test('every diagnostic code of the YARA front end has a golden case', () => {
  const repo = dirname(dirname(dir));
  const root = dirname(repo);
  const codes = new Set<string>();
  for (const sub of ['src/signatures/yara', 'src/engine/yara', 'src/engine/regex']) {
    for (const f of sourceFiles(join(root, sub))) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/'(yara\.[a-z0-9-]+\.[a-z0-9-]+)'/g)) codes.add(m[1] as string);
      for (const m of text.matchAll(/this\.(?:err|warn)\('([a-z0-9-]+)'/g)) codes.add(`yara.check.${m[1] as string}`);
    }
  }
  assert.ok(codes.size > 40, `found only ${codes.size} codes; did the sources move?`);
  const produced = new Set<string>();
  for (const suite of ['yara-parse', 'yara-check', 'yara-warnings']) {
    for (const c of listGoldenCases(goldenDir(suite), '.yar')) {
      for (const d of diagnose(suite, c.name, readFileSync(c.inPath, 'utf8')).diagnostics) produced.add(d.code);
    }
  }
  const missing = [...codes].filter((c) => !produced.has(c) && !(c in UNREACHABLE)).sort();
  assert.deepEqual(missing, [], `diagnostic codes without a golden case in test/golden/yara-{parse,check,warnings}: ${missing.join(', ')}`);
  const stale = Object.keys(UNREACHABLE).filter((c) => produced.has(c) || !codes.has(c));
  assert.deepEqual(stale, [], 'codes listed as unreachable that a golden case reaches or that no longer exist');
});
