/**
 * Unit tests of the YARA semantic checker: rule text in (parsed by parseYara), checked rules and
 * diagnostics out. They pin what the golden suite cannot show: the resolved references in the IR
 * (string, rule, slot and overload indices), external variables, and codes of diagnostics.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYara } from './parser.js';
import { checkYara, type CheckOptions } from './check.js';
import type { CheckedExpr } from './ir.js';
import { DEFAULT_MODULES, YARA_4_2_MODULES, YARA_4_5_MODULES, moduleCatalog } from './modules-catalog.js';

function check(src: string, opts: Partial<CheckOptions> = {}) {
  const { ast, diagnostics } = parseYara(src, 't.yar');
  assert.deepEqual(diagnostics, [], 'the test source must parse');
  return checkYara(ast, { modules: YARA_4_2_MODULES, source: src, file: 't.yar', ...opts });
}

function codes(src: string, opts: Partial<CheckOptions> = {}): string[] {
  return check(src, opts).diagnostics.map((d) => d.code);
}

/** Every node of a checked tree, depth first. */
function nodes(e: CheckedExpr | null): CheckedExpr[] {
  if (!e) return [];
  const out: CheckedExpr[] = [e];
  for (const v of Object.values(e)) {
    if (v && typeof v === 'object' && 'kind' in v && 'span' in v) out.push(...nodes(v as CheckedExpr));
    if (Array.isArray(v)) for (const x of v) if (x && typeof x === 'object' && 'span' in x) out.push(...nodes(x as CheckedExpr));
  }
  return out;
}

test('checkYara resolves strings, rules and loop variables to indices and slots', () => {
  const r = check('rule a { condition: true }\nrule b { strings: $x = "x" $y = "y" condition: a and $y and #x > 0 and for any i in (1..2) : (i == 1) }');
  assert.deepEqual(r.diagnostics, []);
  const b = r.rules[1];
  assert.ok(b);
  const all = nodes(b.condition);
  assert.ok(all.some((n) => n.kind === 'rule' && n.index === 0));
  assert.ok(all.some((n) => n.kind === 'match' && n.string === 1));
  assert.ok(all.some((n) => n.kind === 'count' && n.string === 0));
  assert.ok(all.some((n) => n.kind === 'var' && n.slot === 0 && n.type.kind === 'integer'));
  assert.equal(b.slots, 1);
});

test('checkYara picks the module function overload from the argument types', () => {
  const r = check('import "math"\nrule a { condition: math.entropy("abc") > 1.0 and math.entropy(0, 10) > 1.0 }');
  assert.deepEqual(r.diagnostics, []);
  const calls = nodes(r.rules[0]?.condition ?? null).filter((n) => n.kind === 'call');
  assert.deepEqual(calls.map((c) => (c.kind === 'call' ? c.overload : -1)).sort(), [0, 1]);
  assert.ok(calls.every((c) => c.type.kind === 'float'));
  assert.deepEqual(r.rules[0]?.modules, ['math']);
});

test('checkYara types external variables from their values', () => {
  assert.deepEqual(codes('rule a { condition: e1 == 1 and e2 contains "x" and e3 and e4 > 1.5 }', { externals: { e1: 1, e2: 's', e3: true, e4: 2.5 } }), []);
  assert.deepEqual(codes('rule a { condition: e1 contains "x" }', { externals: { e1: 1 } }), ['yara.check.wrong-type']);
});

test('checkYara reports errors with stable codes and lines', () => {
  const r = check('rule a {\n strings: $a = "x"\n condition: $b }');
  assert.deepEqual(
    r.diagnostics.map((d) => [d.code, d.location?.line, d.message]),
    [['yara.check.undefined-string', 3, 'undefined string "$b"']],
  );
  assert.deepEqual(codes('rule a { condition: 1 \\ 0 }'), ['yara.check.division-by-zero']);
  assert.deepEqual(codes('rule a { condition: (2 - 2) % (3 - 3) == 0 }'), ['yara.check.division-by-zero']);
  assert.deepEqual(codes('rule a { condition: 4 \\ (2 - 2) }'), ['yara.check.division-by-zero']);
  assert.deepEqual(codes('rule a { condition: "x" }'), ['yara.check.literal-string-as-boolean']);
});

test('checkYara binds loop variables in scope and frees them after the loop', () => {
  assert.deepEqual(codes('rule a { condition: for any i in (1..2) : (i > 0) and for any i in (1..2) : (i > 0) }'), []);
  assert.deepEqual(codes('rule a { condition: for any i in (1..2) : (i > 0) and i > 0 }'), ['yara.check.undefined-identifier']);
  assert.deepEqual(codes('rule a { condition: for any i in (1..2) : (for any i in (1, 2) : (i > 0)) }'), ['yara.check.duplicated-loop-identifier']);
  assert.deepEqual(codes('import "pe"\nrule a { condition: for any k, v in pe.version_info : (k contains v) }'), []);
});

test('checkYara counts them and wildcards as references and refuses sets that match nothing', () => {
  assert.deepEqual(codes('rule a { strings: $a1 = "x" $a2 = "y" condition: any of ($a*) }'), []);
  assert.deepEqual(codes('rule a { strings: $a = "x" $ = "y" condition: all of them }'), []);
  assert.deepEqual(codes('rule a { strings: $a = "x" condition: any of ($z*) }'), ['yara.check.undefined-string']);
  assert.deepEqual(codes('rule a { strings: $a = "x" condition: true }'), ['yara.check.unreferenced-string']);
});

test('checkYara knows modules only after import and only those in the catalog', () => {
  assert.deepEqual(codes('rule a { condition: math.entropy(0, 1) > 1.0 }'), ['yara.check.undefined-identifier']);
  assert.deepEqual(codes('import "string"\nrule a { condition: true }'), ['yara.check.unknown-module']);
  assert.deepEqual(codes('import "string"\nrule a { condition: string.length("x") == 1 }', { modules: DEFAULT_MODULES }), []);
});

test('the module catalogs follow each yara version and the default accepts both', () => {
  const v42 = 'import "pe"\nrule a { condition: pe.delay_import_details[0].number_of_function > 0 }';
  const v45 = 'import "pe"\nrule a { condition: pe.delayed_import_details[0].number_of_functions > 0 and pe.import_rva("k", "f") > 0 }';
  assert.deepEqual(codes(v42), []);
  assert.deepEqual(codes(v45), ['yara.check.invalid-field', 'yara.check.invalid-field']);
  assert.deepEqual(codes(v42, { modules: YARA_4_5_MODULES }), ['yara.check.invalid-field']);
  assert.deepEqual(codes(v45, { modules: YARA_4_5_MODULES }), []);
  assert.deepEqual(codes(v42, { modules: DEFAULT_MODULES }), []);
  assert.deepEqual(codes(v45, { modules: DEFAULT_MODULES }), []);
  // Constants, overloads inside structures and arrays of structures with functions.
  assert.deepEqual(codes('import "pe"\nrule a { condition: pe.machine == pe.MACHINE_I386 and pe.rich_signature.toolid(1, 2) > 0 and pe.signatures[0].valid_on(0) }'), []);
  assert.deepEqual(Object.keys(moduleCatalog('4.2')).sort(), ['console', 'cuckoo', 'dex', 'dotnet', 'elf', 'hash', 'macho', 'magic', 'math', 'pe', 'tests', 'time']);
  assert.ok('string' in YARA_4_5_MODULES && !('string' in YARA_4_2_MODULES));
});

test('checkYara names a call by its argument codes in messages, as yara does', () => {
  const first = (src: string): string | undefined => check(src).diagnostics[0]?.message;
  assert.equal(first('import "pe"\nrule a { condition: pe.imports("k", 1).x == 1 }'), '"si" is not a structure');
  assert.equal(first('import "pe"\nrule a { condition: pe.is_dll()() == 1 }'), '"" is not a function');
  assert.equal(first('import "pe"\nrule a { condition: pe.sections[0]() == 1 }'), '"sections" is not a function');
});

test('checkYara locates diagnostics of included rules in their own file and resolves across files', () => {
  const files: Record<string, string> = { 'sub/a.yar': 'rule a { condition: true }\n\nrule bad { condition: nothere }\n' };
  const src = 'include "sub/a.yar"\nrule main { condition: a }\nrule a { condition: true }\n';
  const { ast, diagnostics } = parseYara(src, 'main.yar', { include: (p) => files[p] });
  assert.deepEqual(diagnostics, []);
  const r = checkYara(ast, { modules: YARA_4_2_MODULES, source: src, file: 'main.yar' });
  assert.deepEqual(r.diagnostics.map((d) => `${d.location?.file}(${d.location?.line}): ${d.message}`), [
    'sub/a.yar(3): undefined identifier "nothere"',
    'main.yar(3): duplicated identifier "a"',
  ]);
  const main = r.rules.find((x) => x.name === 'main');
  assert.ok(main?.condition?.kind === 'rule' && main.condition.index === 0);
  assert.equal(r.rules[0]?.origin?.file, 'sub/a.yar');
});

test('checkYara survives a rule whose condition failed to parse', () => {
  const { ast } = parseYara('rule a { strings: $a = "x" condition: and }\nrule b { condition: a }', 't.yar');
  const r = checkYara(ast, { modules: YARA_4_2_MODULES });
  assert.equal(r.rules.length, 2);
  assert.equal(r.rules[0]?.condition, null);
  assert.deepEqual(r.diagnostics, []);
});

test('checkYara folds integer constants and reports overflow and empty strings', () => {
  assert.deepEqual(codes('rule a { condition: 9223372036854775807 + 1 > 0 }'), ['yara.check.integer-overflow']);
  assert.deepEqual(codes('rule a { condition: 3037000500 * 3037000500 > 0 }'), ['yara.check.integer-overflow']);
  assert.deepEqual(codes('rule a { condition: 3037000499 * 3037000499 > 0 }'), []);
  const r = check('rule a { condition: (1 + 2) * 3 == 9 }');
  const c = r.rules[0]?.condition;
  assert.ok(c?.kind === 'binary' && c.left.kind === 'const' && c.left.value === 9n);
});

test('checkYara binds with-declarations in order and refuses a repeated name', () => {
  assert.deepEqual(codes('rule a { condition: with x = 1, y = x + 1 : (y == 2) }'), []);
  assert.deepEqual(codes('rule a { condition: with x = 1, x = 2 : (x == 2) }'), ['yara.check.duplicated-identifier']);
});

test('checkYara checks the complete parts of a broken rule and only those, as yara reads it', () => {
  const src = 'rule a { condition: foo and }\nrule b { strings: $a = "x" condition: $a and $b or }\nrule c { condition: bar }\nrule d { condition: a }';
  const { ast } = parseYara(src, 't.yar');
  const r = checkYara(ast, { modules: YARA_4_2_MODULES, source: src, file: 't.yar' });
  // foo (before the syntax error) and $b, bar; never "unreferenced string" for a broken rule;
  // a broken rule is still defined (`d` refers to `a`).
  assert.deepEqual(r.diagnostics.map((d) => `${d.location?.line} ${d.message}`), ['1 undefined identifier "foo"', '2 undefined string "$b"', '3 undefined identifier "bar"']);
  // A rule whose only error is a missing `}` keeps its whole condition.
  const eof = parseYara('rule a { condition: foo', 't.yar');
  assert.deepEqual(checkYara(eof.ast, { modules: YARA_4_2_MODULES }).diagnostics.map((d) => d.message), ['undefined identifier "foo"']);
});

test('checkYara sees the rules, imports and rule sets of earlier files of the namespace', () => {
  const first = check('import "pe"\nrule a { condition: true }\nrule x1 { condition: any of (a*) }');
  assert.deepEqual(first.diagnostics, []);
  assert.deepEqual(first.scope.rules.map((r) => r.name), ['a', 'x1']);
  assert.deepEqual(first.scope.modules, ['pe']);
  assert.deepEqual(first.scope.wildcards, ['a']);
  const second = check('rule b { condition: a and x1 and pe.number_of_sections == 0 }\nrule c { condition: b and any of (x*) }', { prior: first.scope });
  assert.deepEqual(second.diagnostics, []);
  // References count the earlier file's rules first.
  const refs = (k: number) => nodes(second.rules[k]?.condition ?? null).filter((n) => n.kind === 'rule').map((n) => (n.kind === 'rule' ? n.index : -1));
  assert.deepEqual(refs(0), [0, 1]);
  assert.deepEqual(refs(1), [2]);
  const of = nodes(second.rules[1]?.condition ?? null).find((n) => n.kind === 'of');
  assert.ok(of?.kind === 'of' && of.rules);
  assert.deepEqual(of.members, [1]);
  assert.deepEqual(second.rules.map((r) => r.index), [0, 1]);
  assert.deepEqual(second.scope.rules.map((r) => r.name), ['a', 'x1', 'b', 'c']);
  // A name defined twice across files, and a name caught by an earlier wildcard rule set.
  assert.deepEqual(codes('rule a { condition: true }', { prior: first.scope }), ['yara.check.duplicated-identifier']);
  assert.deepEqual(codes('rule ab { condition: true }', { prior: first.scope }), ['yara.check.wildcard-rule-set-extended']);
  // Without the earlier files, the names are unknown.
  assert.deepEqual(codes('rule b { condition: a }'), ['yara.check.undefined-identifier']);
});

test('checkYara refuses module structures wherever yara wants a value, and warns on `defined "a"`', () => {
  const msgs = (src: string) => check(`import "pe"\n${src}`).diagnostics.map((d) => d.message);
  for (const cond of ['$a and uint8(pe.sections) == 0', '$a and uint8(pe.sections[0]) == 0', '$a at pe.sections', '#a in (pe.sections..1) == 1', 'pe.sections of them', '@a[pe.sections] == 1']) {
    assert.deepEqual(msgs(`rule r { strings: $a = "x" condition: ${cond} }`), ['wrong usage of identifier "sections"'], cond);
  }
  assert.deepEqual(msgs('rule r { condition: uint8(pe) == 0 }'), ['wrong usage of identifier "pe"']);
  assert.deepEqual(msgs('rule r { condition: defined "a" }'), ['using literal string "a" in a boolean operation.']);
});
