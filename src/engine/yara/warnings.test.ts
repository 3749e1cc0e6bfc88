/**
 * Tests for YARA's compile-time warnings (`warnings.ts`): the atom-quality heuristic against the
 * worked examples in yara's atoms.c, the slow-string verdicts of yara 4.2.3's
 * `test_performance_warnings`, atom counts after wide / nocase / xor / wildcard expansion,
 * chaining, the dialects, string errors in yara's words, and what of a file with syntax errors is
 * checked and warned about.
 *
 * In: atoms and rule sources. Out: assertions; the line-exact comparison with the yara binary is
 * test/diff/yara-diagnostics.test.ts, the rendered outputs are test/golden/yara-warnings.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { error } from '../../core/diagnostics.js';
import { parseYara } from '../../signatures/yara/parser.js';
import { DEFAULT_MODULES } from '../../signatures/yara/modules-catalog.js';
import {
  YARA_ATOM_QUALITY_WARNING_THRESHOLD,
  yaraAtomQuality,
  yaraFileDiagnostics,
  yaraStringAtoms,
  yaraStringErrors,
  type YaraAtom,
} from './warnings.js';

/** `01 ?? 0? 03` → bytes and masks. */
function atom(text: string): YaraAtom {
  const parts = text.split(' ');
  return {
    bytes: parts.map((p) => parseInt(p.replace(/\?/g, '0'), 16)),
    mask: parts.map((p) => (p === '??' ? 0 : p[0] === '?' ? 0x0f : p[1] === '?' ? 0xf0 : 0xff)),
  };
}

function stringOf(source: string) {
  const { ast, diagnostics } = parseYara(`rule t { strings: $a = ${source} condition: $a }`, 't.yar');
  assert.deepEqual(diagnostics.map((d) => d.message), []);
  const def = ast.rules[0]?.strings[0];
  assert.ok(def);
  return def;
}

const slow = (source: string): boolean => {
  const r = yaraStringAtoms(stringOf(source));
  assert.ok(r);
  return r.quality < YARA_ATOM_QUALITY_WARNING_THRESHOLD;
};

test('yaraAtomQuality reproduces the worked examples of yara atoms.c (offset to 255 for the best atom)', () => {
  const base = 255 - 88;
  assert.equal(yaraAtomQuality(atom('01 02 03 04')), base + 88);
  assert.equal(yaraAtomQuality(atom('01 ?? 03 04')), base + 56);
  assert.equal(yaraAtomQuality(atom('01 0? 03')), base + 48);
  assert.equal(yaraAtomQuality(atom('01 02')), base + 44);
  // atoms.c's comment gives 36, counting the nibble as 2; its code adds 4 per nibble mask.
  assert.equal(yaraAtomQuality(atom('01 ?? ?3 04')), base + 38);
  assert.equal(yaraAtomQuality(atom('61 62')), base + 40);
  assert.equal(yaraAtomQuality(atom('61 61')), base + 38);
  assert.equal(yaraAtomQuality(atom('00 01')), base + 36);
  assert.equal(yaraAtomQuality(atom('01 ?? 02')), base + 34);
  // atoms.c's comment says 21 for `01`; the code adds 2 per distinct byte: 20 + 2.
  assert.equal(yaraAtomQuality(atom('01')), base + 22);
  assert.equal(yaraAtomQuality(atom('00 00 00 00')), base + 48 - 40);
  assert.equal(YARA_ATOM_QUALITY_WARNING_THRESHOLD, base + 38);
});

test('yaraStringAtoms gives the verdicts of yara 4.2.3 test_performance_warnings (20 warn, 14 do not)', () => {
  const cases: [string, boolean][] = [
    ['{ 01 }', true], ['{ 01 ?? }', true], ['{ 01 ?? ?? }', true], ['{ 01 ?? ?? 02 }', true],
    ['{ 01 ?? ?2 03 }', false], ['{ 01 ?? 02 1? }', false], ['{ 68 ?? 00 ?? 00 68 ?? 00 ?? 00}', true],
    ['{ (61 62 63 64 ?? | 65 ?? ?? 00 00 66)}', false], ['{ 1? 2? 3? }', true], ['{ 1? 2? 3? 04 }', true],
    ['{ 1? ?? 03 }', true], ['{ 00 01 }', true], ['{ 01 00 }', true], ['{ 00 00 }', true], ['{ 00 00 00 }', true],
    ['{ 00 00 01 }', false], ['{ 00 00 00 00 }', true], ['{ 00 00 00 01 }', false], ['{ FF FF FF FF }', true],
    ['{ 00 00 01 02 }', false], ['{ 00 01 02 03 }', false], ['{ 01 02 03 04 }', false], ['{ 01 02 03 }', false],
    ['{ 20 01 02 }', false], ['{ 01 02 }', false], ['"foo" wide', false], ['"MZ"', false], ['"ZZ"', false],
    ['"                    " xor(0x20)', true], ['"AAAAAAAAAAAAAAAAAAAA" xor', true],
  ];
  const verdicts = cases.map(([s]) => slow(s));
  assert.deepEqual(verdicts, cases.map(([, w]) => w));
  // The four regex cases warn through the unbounded-dot warning, not through atom quality.
  for (const re of ['/abcd.*efgh/', '/abcd.+efgh/', '/abcd.{1,}efgh/', '/abcd.{10,}efgh/']) {
    const r = yaraStringAtoms(stringOf(re));
    assert.equal(r?.unboundedDot, true, re);
    assert.equal(slow(re), false, re);
  }
  const warned = verdicts.filter(Boolean).length + 4;
  assert.equal(warned, 20);
  assert.equal(cases.length + 4 - warned, 14);
});

test('yaraStringAtoms counts atoms after wildcard, wide, nocase and xor expansion', () => {
  const count = (s: string) => yaraStringAtoms(stringOf(s))?.atoms;
  assert.equal(count('{ 01 ?? ?2 03 }'), 4096);
  assert.equal(count('"abcd" nocase'), 16);
  assert.equal(count('"ab" xor'), 256);
  assert.equal(count('"ab" ascii wide'), 2);
  assert.equal(count('"ab" wide nocase'), 4);
  // `a ?? b c`: 256 values for `??`; per value the ascii atom has 2^letters case forms and the
  // wide atom `a 00 ?? 00` 2^letters more: 204 non-letters give 8 + 2, 52 letters 16 + 4.
  assert.equal(count('/a.bc/ nocase wide ascii'), 204 * 10 + 52 * 20);
  assert.equal(count('/[a-z]+/'), 1);
  assert.equal(count('"abcdefgh" base64'), 3);
});

test('yaraStringAtoms judges each chained piece of a hex string with a long jump', () => {
  assert.equal(slow('{ 01 02 03 04 [300] 05 }'), true);
  assert.equal(slow('{ 01 02 03 04 [0-300] 05 06 07 08 }'), false);
  assert.equal(slow('{ 01 02 03 04 [150] 05 }'), false);
  assert.equal(yaraStringAtoms(stringOf('{ 01 02 03 04 [-] 05 06 07 08 }'))?.unboundedDot, false);
});

test('yaraFileDiagnostics raises the 4.2.3 warnings by default and the 4.5 ones only in that dialect', () => {
  const src = 'rule a { strings: $a = "abcd" $b = "efgh" condition: 3 of ($a, $b) and entrypoint == 0 and 0 of them }\n';
  const of = (dialect?: '4.5') => yaraFileDiagnostics(src, 'w.yar', { modules: DEFAULT_MODULES, ...(dialect ? { dialect } : {}) }).diagnostics.map((d) => d.message);
  assert.deepEqual(of(), ['Using deprecated "entrypoint" keyword. Use the "entry_point" function from PE module instead.']);
  assert.deepEqual(of('4.5').sort(), [
    'consider using "none" keyword, it is less ambiguous.',
    'expression always false - requesting 3 of 2.',
    'using deprecated "entrypoint" keyword. Use the "entry_point" function from PE module instead.',
  ]);
});

test('yaraFileDiagnostics locates warnings at the string and raises the rule warning over 12,000 atoms', () => {
  const strings = [0, 1, 2].map((k) => `  $a${k} = { 01 ?? ?2 03 }\n`).join('');
  const src = `rule big\n{\n strings:\n${strings}  $s = "x"\n condition:\n  any of them\n}\n`;
  const d = yaraFileDiagnostics(src, 'b.yar', { modules: DEFAULT_MODULES }).diagnostics;
  assert.deepEqual(
    d.map((x) => [x.code, x.location?.line]),
    [
      ['yara.warning.slow-string', 7],
      ['yara.warning.slow-rule', 1],
    ],
  );
});

test('yaraFileDiagnostics checks a file with syntax errors as yara reads it: before and after the error, not beyond it', () => {
  const src = [
    'rule a { condition: foo }',
    'rule b { strings: $s = "a" condition: $s and entrypoint == 0 and }',
    'rule c { strings: $u = "bcde" condition: ( and entrypoint == 0 and $u }',
    'rule d { strings: $v = "c" $w = "d" xor( condition: any of them }',
    'rule e { condition: bar }',
    '',
  ].join('\n');
  const d = yaraFileDiagnostics(src, 's.yar', { modules: DEFAULT_MODULES }).diagnostics;
  const seen = d.map((x) => `${x.location?.line} ${x.code} ${x.message}`).sort();
  assert.deepEqual(seen, [
    '1 yara.check.undefined-identifier undefined identifier "foo"',
    '2 yara.syntax.unexpected-token syntax error',
    // The slow string and the `entrypoint` read before the error; rule c's `entrypoint` comes after it.
    '2 yara.warning.entrypoint-deprecated Using deprecated "entrypoint" keyword. Use the "entry_point" function from PE module instead.',
    '2 yara.warning.slow-string string "$s" may slow down scanning',
    '3 yara.syntax.unexpected-token syntax error',
    // $v is declared before the error in $w's modifiers; $w never is.
    '4 yara.syntax.unexpected-token syntax error',
    '4 yara.warning.slow-string string "$v" may slow down scanning',
    '5 yara.check.undefined-identifier undefined identifier "bar"',
  ]);
});

test('yaraStringErrors words string errors as yara does and places them at the string', () => {
  const def = stringOf('/ab{2,1}c/');
  const src = 'rule t { strings: $a = /ab{2,1}c/ condition: $a }';
  const [d] = yaraStringErrors(def, [error('yara.regex.invalid', 'bad repeat interval', { file: '', line: 0, column: 3 })], 't.yar', src);
  assert.equal(d?.message, 'invalid regular expression "$a": bad repeat interval');
  assert.deepEqual(d?.location && [d.location.file, d.location.line, d.location.column], ['t.yar', 1, 19]);
  const text = stringOf('"ab" base64 wide');
  const [m] = yaraStringErrors({ ...text, modifiers: [...text.modifiers, { kind: 'fullword', span: text.span }] }, [error('yara.string.invalid-modifier', '$a: base64 cannot be combined with nocase, xor or fullword')], 't.yar');
  assert.equal(m?.message, 'invalid modifier combination: base64 fullword');
});
