/**
 * Unit tests of the YARA lexer and parser: one source snippet in, the tree (as the prefix dump of
 * dump.ts) or the diagnostics out, for every construct of the language and for error recovery.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYara } from './parser.js';
import { tokenize } from './lexer.js';
import { dumpAst, expr } from './dump.js';
import { renderYaraDiagnostics } from './render.js';
import type { Expr, HexString, Rule, TextString } from './ast.js';

function parse(src: string, strictEscape = false): ReturnType<typeof parseYara> {
  return parseYara(src, 'test.yar', { strictEscape });
}

function errors(src: string): string[] {
  return parse(src).diagnostics.map((d) => `${d.location?.line}:${d.location?.column} ${d.code} ${d.message}${d.help ? ` (${d.help})` : ''}`);
}

function onlyRule(src: string): Rule {
  const r = parse(src);
  assert.deepEqual(r.diagnostics.map((d) => d.message), []);
  const rule = r.ast.rules[0];
  assert.ok(rule);
  return rule;
}

/** The condition of `rule r { strings: $a = "a" $b = "b" condition: <text> }` in prefix form. */
function cond(text: string): string {
  const rule = onlyRule(`rule r { strings: $a = "a" $b = "b" condition: ${text} }`);
  assert.ok(rule.condition);
  return expr(rule.condition);
}

function condFails(text: string): void {
  const r = parse(`rule r { condition: ${text} }`);
  assert.ok(r.diagnostics.some((d) => d.severity === 'error'), `expected an error for: ${text}`);
}

test('tokenize gives byte spans, keywords and string references', () => {
  const { tokens, issues } = tokenize(new TextEncoder().encode('rule é $a* #b @c !d != 0x1F 0o17 2KB 1.5 // x\n/* y */'));
  assert.deepEqual(issues.length, 0);
  const kinds = tokens.map((t) => `${t.kind}:${t.text}@${t.span.start}`);
  assert.deepEqual(kinds, [
    'keyword:rule@0',
    'invalid:Ã©@5',
    'stringId:$a@8',
    'stringCount:#b@12',
    'stringOffset:@c@15',
    'stringLength:!d@18',
    'punct:!=@21',
    'int:0x1F@24',
    'int:0o17@29',
    'int:2KB@34',
    'float:1.5@38',
    'eof:@54',
  ]);
  assert.equal(tokens[7]?.int, 31n);
  assert.equal(tokens[8]?.int, 15n);
  assert.equal(tokens[9]?.int, 2048n);
  assert.equal(tokens[2]?.wildcard, true);
});

test('tokenize decodes text-string escapes to bytes and reports illegal ones', () => {
  const { tokens, issues } = tokenize(new TextEncoder().encode('"a\\x41\\t\\n\\r\\"\\\\é" "\\q"'));
  assert.deepEqual([...(tokens[0]?.bytes ?? [])], [0x61, 0x41, 9, 10, 13, 0x22, 0x5c, 0xc3, 0xa9]);
  assert.deepEqual(issues.map((i) => i.code), ['yara.syntax.illegal-escape']);
});

test('tokenize reports unterminated strings, comments and regexes', () => {
  for (const [src, code] of [
    ['"abc', 'yara.syntax.unterminated-string'],
    ['"abc\n"', 'yara.syntax.unterminated-string'],
    ['/* abc', 'yara.syntax.unterminated-comment'],
    ['/abc\n', 'yara.syntax.unterminated-regex'],
  ] as const) {
    const { issues } = tokenize(new TextEncoder().encode(src));
    assert.ok(issues.some((i) => i.code === code), `${JSON.stringify(src)} → ${code}`);
  }
});

test('tokenize warns on unknown regex escapes only under strictEscape', () => {
  const src = new TextEncoder().encode('/a\\Rb\\d\\./');
  assert.equal(tokenize(src).issues.length, 0);
  const strict = tokenize(src, { strictEscape: true }).issues;
  assert.deepEqual(strict.map((i) => [i.code, i.severity]), [['yara.syntax.unknown-escape', 'warning']]);
  assert.equal(parse('rule r { condition: "a" matches /\\R/ }', true).diagnostics[0]?.severity, 'warning');
});

test('tokenize treats { as a hex string only when its body is hex', () => {
  const { tokens } = tokenize(new TextEncoder().encode('{ 01 [2] ( 02 | ?3 ) } { condition }'));
  assert.deepEqual(tokens.map((t) => t.kind), ['hex', 'punct', 'keyword', 'punct', 'eof']);
});

test('parseYara reads imports, includes, rule modifiers, tags and meta', () => {
  const r = parse('import "pe"\ninclude "other.yar"\nglobal private rule a : x y { meta: s = "v" i = -3 h = 0x10 b = false condition: true }');
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.ast.imports.map((i) => i.module), ['pe']);
  assert.deepEqual(r.ast.includes.map((i) => i.path), ['other.yar']);
  const rule = r.ast.rules[0] as Rule;
  assert.equal(rule.isGlobal, true);
  assert.equal(rule.isPrivate, true);
  assert.deepEqual(rule.tags.map((t) => t.name), ['x', 'y']);
  assert.deepEqual(rule.meta.map((m) => [m.key.name, m.value.kind, String(m.value.kind === 'string' ? new TextDecoder().decode(m.value.value) : m.value.value)]), [
    ['s', 'string', 'v'],
    ['i', 'int', '-3'],
    ['h', 'int', '16'],
    ['b', 'bool', 'false'],
  ]);
  assert.deepEqual(rule.span, { start: 32, end: r.ast.span.end });
});

test('parseYara reads text strings with every modifier', () => {
  const rule = onlyRule(
    'rule r { strings: $a = "x" nocase wide ascii fullword private $b = "y" xor $c = "z" xor(7) $d = "w" xor(1-9) ' +
      '$e = "v" base64 $f = "u" base64wide("!@#$%^&*(){}[].,|ABCDEFGHIJ\\x09KLMNOPQRSTUVWXYZabcdefghijklmnopqrst") condition: all of them }',
  );
  const mods = rule.strings.map((s) => s.modifiers.map((m) => m.kind + (m.xorRange ? `(${m.xorRange.min}-${m.xorRange.max})` : '') + (m.alphabet ? `[${m.alphabet.length}]` : '')).join(' '));
  assert.deepEqual(mods, ['nocase wide ascii fullword private', 'xor(0-255)', 'xor(7-7)', 'xor(1-9)', 'base64', 'base64wide[64]']);
  assert.equal(new TextDecoder().decode((rule.strings[0] as TextString).value), 'x');
});

test('parseYara rejects misplaced, duplicated and clashing modifiers in yara 4.2.3\'s words', () => {
  const cases: [string, string, string][] = [
    ['$a = { 01 02 } wide', 'yara.syntax.invalid-modifier', 'syntax error'],
    ['$a = /ab/ xor', 'yara.syntax.invalid-modifier', 'syntax error'],
    ['$a = "x" wide wide', 'yara.syntax.duplicated-modifier', 'duplicated modifier'],
    ['$a = "x" nocase xor', 'yara.syntax.invalid-modifier', 'invalid modifier combination: xor nocase'],
    ['$a = "x" xor wide nocase', 'yara.syntax.invalid-modifier', 'invalid modifier combination: xor nocase'],
    ['$a = "x" base64 fullword', 'yara.syntax.invalid-modifier', 'invalid modifier combination: base64 fullword'],
    ['$a = "x" nocase base64wide', 'yara.syntax.invalid-modifier', 'invalid modifier combination: base64wide nocase'],
    ['$a = "x" xor base64', 'yara.syntax.invalid-modifier', 'invalid modifier combination: base64 xor'],
    ['$a = "x" xor(256)', 'yara.syntax.invalid-modifier', 'invalid xor range'],
    ['$a = "x" xor(9-2)', 'yara.syntax.invalid-modifier', 'xor lower bound exceeds upper bound'],
    ['$a = "x" xor(1-300)', 'yara.syntax.invalid-modifier', 'upper bound for xor range exceeded (max: 255)'],
    ['$a = "x" xor(300-256)', 'yara.syntax.invalid-modifier', 'xor lower bound exceeds upper bound'],
    ['$a = "x" base64("abc")', 'yara.syntax.invalid-modifier', 'length of base64 alphabet must be 64'],
    [`$a = "x" base64 base64wide("${'a'.repeat(64)}")`, 'yara.syntax.invalid-modifier', 'can not specify multiple alphabets'],
    ['$a = "x" base64 base64', 'yara.syntax.duplicated-modifier', 'duplicated modifier'],
  ];
  for (const [def, code, message] of cases) {
    const got = parse(`rule r { strings: ${def} condition: $a }`).diagnostics.map((d) => `${d.code} ${d.message}`);
    assert.deepEqual(got, [`${code} ${message}`], def);
  }
});

test('parseYara reads `include` only with its path on the same line, as yara\'s lexer does', () => {
  assert.deepEqual(parse('include "a.yar"\nrule r { condition: true }').ast.includes.map((i) => i.path), ['a.yar']);
  assert.deepEqual(parse('include\t"a.yar"').ast.includes.map((i) => i.path), ['a.yar']);
  for (const src of ['include\n"a.yar"\nrule r { condition: true }', 'include"a.yar"\nrule r { condition: true }', 'include /* c */ "a.yar"\nrule r { condition: true }']) {
    const r = parse(src);
    assert.deepEqual(errors(src).map((e) => e.split(' (')[0]), ['1:1 yara.syntax.unexpected-token syntax error'], src);
    assert.deepEqual(r.ast.rules.map((x) => x.name.name), ['r'], src);
  }
  // Anywhere else `include` is an identifier.
  assert.equal(onlyRule('rule include { condition: include }').condition?.kind, 'ident');
});

test('parseYara marks a rule with an error and keeps the complete parts of its condition before it', () => {
  const r = parse('rule a { condition: foo and }\nrule b { condition: x.y[1] + (bar or }\nrule c { condition: true }');
  const [a, b, c] = r.ast.rules;
  assert.deepEqual(a?.broken?.partial.map((e) => e.kind), ['ident']);
  assert.deepEqual(b?.broken?.partial.map((e) => e.kind), ['index', 'ident']);
  assert.equal(c?.broken, undefined);
  // Names read inside an unfinished loop need its scope: they are left out.
  const loop = parse('rule a { condition: foo and for any i in (1..2) : ( i == }').ast.rules[0];
  assert.deepEqual(loop?.broken?.partial.map((e) => (e.kind === 'ident' ? e.name : e.kind)), ['foo']);
  // A string whose modifiers fail stops the rule there: its condition is not read before it.
  const mod = parse('rule a { strings: $a = "x" wide wide condition: $a }').ast.rules[0];
  assert.ok(mod?.broken && mod.broken.at < (mod.strings[0]?.span.end ?? 0));
  assert.deepEqual(mod?.broken?.partial, []);
});

test('parseYara reads hex strings as a token tree', () => {
  const rule = onlyRule('rule r { strings: $h = { 4D 5A ?? ?A B? ~00 ~?1 [4] [1-3] [2-] [-] ( 01 | 02 03 | ( 04 | 05 ) ) // c\n /* d */ FF } private condition: $h }');
  const h = rule.strings[0] as HexString;
  assert.equal(h.modifiers[0]?.kind, 'private');
  assert.equal(
    dumpAst(parse('rule r { strings: $h = { 4D 5A ?? ?A B? ~00 ~?1 [4] [1-3] [2-] [-] ( 01 | 02 03 | ( 04 | 05 ) ) FF } condition: $h }').ast).split('\n')[1],
    '  hex $h = { 4D 5A ?? ?A B? ~00 ~?1 [4-4] [1-3] [2-] [0-] (01 | 02 03 | (04 | 05)) FF } @18..100',
  );
  const nib = h.tokens[3];
  assert.deepEqual(nib && nib.kind === 'byte' ? [nib.value, nib.mask] : [], [0x0a, 0x0f]);
});

test('parseYara rejects malformed hex strings', () => {
  for (const body of ['0', '01 [-5] 02', '01 2', '[1] 01', '01 [2]', '01 [0] 02', '01 [5-2] 02', '01 ( 02 | [-] 03 ) 04', '~?? 01', '01 ( 02 03', '01 ( | 02 )']) {
    const codes = parse(`rule r { strings: $h = { ${body} } condition: $h }`).diagnostics.map((d) => d.code);
    assert.ok(codes.includes('yara.syntax.invalid-hex'), `${body}: ${codes.join(',')}`);
  }
  // In yara 4.2.3's words: its hex lexer's and grammar's own messages, else a bare syntax error.
  const cases: [string, string][] = [
    ['01 2', 'uneven number of digits in hex string'],
    ['01 [5-2] 02', 'invalid jump range'],
    ['01 [0] 02', 'invalid jump length'],
    ['01 [a] 02', 'invalid character in hex string jump'],
    ['01 - 02', 'invalid character in hex string'],
    ['01 ( 02 | [-] 03 ) 04', 'unbounded jumps not allowed inside alternation (|)'],
    ['01 [-5] 02', 'syntax error'],
    ['[1] 01', 'syntax error'],
    ['01 ( 02 03', 'syntax error'],
    ['01 ( | 02 )', 'syntax error'],
    ['01 )', 'syntax error'],
  ];
  for (const [body, message] of cases) {
    const got = parse(`rule r { strings: $h = { ${body} } condition: $h }`).diagnostics.map((d) => d.message);
    assert.deepEqual(got, [`invalid hex string "$h": ${message}`], body);
  }
});

test('parseYara reads regex strings and literals with flags', () => {
  const rule = onlyRule('rule r { strings: $r = /a\\/b[c]+/is nocase wide condition: $r and "x" matches /y/i }');
  const s = rule.strings[0];
  assert.ok(s && s.kind === 'regex');
  assert.deepEqual([s.regex.pattern, s.regex.caseInsensitive, s.regex.dotAll], ['a/b[c]+', true, true]);
  assert.equal(expr(rule.condition as Expr), '(and $r (matches "x" /y/i))');
  // Flags come as `i` then `s`, each once, as yara's scanner reads them.
  assert.equal(parse('rule r { strings: $r = /x/si condition: $r }').diagnostics.length, 1);
  assert.equal(parse('rule r { strings: $r = /x/ii condition: $r }').diagnostics.length, 1);
  assert.equal(expr(onlyRule('import "pe" rule r { condition: pe.exports(/^Get/i) }').condition as Expr), '(call (. pe exports) /^Get/i)');
});

test('parseYara applies YARA operator precedence', () => {
  assert.equal(cond('1 + 2 * 3 == 7'), '(== (+ 1 (* 2 3)) 7)');
  assert.equal(cond('1 | 2 ^ 3 & 4 << 5 + 6 == 0'), '(== (| 1 (^ 2 (& 3 (<< 4 (+ 5 6))))) 0)');
  assert.equal(cond('10 \\ 2 % 3 - -1 < ~0'), '(< (- (% (\\ 10 2) 3) (- 1)) (~ 0))');
  assert.equal(cond('true or false and not $a'), '(or true (and false (not $a)))');
  assert.equal(cond('not 2 > 1'), '(not (> 2 1))');
  assert.equal(cond('defined 1 and $b'), '(and (defined 1) $b)');
  assert.equal(cond('(1 + 2) * 3 > 0 and $a and $b'), '(and (and (> (* (+ 1 2) 3) 0) $a) $b)');
});

test('parseYara keeps YARA\'s split between primary and boolean expressions', () => {
  for (const bad of ['true == true', '1 < 2 < 3', '(1 < 2) + 1', '1 == 1 == 1', '"a" == "b" == true', '(true) == (true)', '-true']) condFails(bad);
  for (const good of ['not 1', '(1) + 1 > 0', 'true and (1)', '--1', '~~1', '"a" iequals "A"']) {
    assert.deepEqual(parse(`rule r { condition: ${good} }`).diagnostics, [], good);
  }
});

test('parseYara reads string counts, offsets, lengths, at and in', () => {
  assert.equal(cond('#a == 1 and #b in (0..filesize) > 0'), '(and (== #a 1) (> (in #b (.. 0 filesize)) 0))');
  assert.equal(cond('@a[1] < @b and !a[2] == !b'), '(and (< ([] @a 1) @b) (== ([] !a 2) !b))');
  assert.equal(cond('$a at 100 + 1 and $b in (0..10)'), '(and (at $a (+ 100 1)) (in $b (.. 0 10)))');
});

test('parseYara reads filesize, entrypoint, integer readers and literals', () => {
  assert.equal(
    cond('$a and $b and filesize < 2MB and entrypoint == 0o10 and uint16be(0) == 0x5A4D and int8(1) == -1 and 1.25 > 1'),
    '(and (and (and (and (and (and $a $b) (< filesize 2097152)) (== entrypoint 8)) (== (uint16be 0) 23117)) (== (int8 1) (- 1))) (> 1.25f 1))',
  );
});

test('parseYara reads every string operator', () => {
  for (const op of ['contains', 'icontains', 'startswith', 'istartswith', 'endswith', 'iendswith', 'iequals', '==', '!=']) {
    assert.equal(cond(`$a and $b and "abc" ${op} "b"`), `(and (and $a $b) (${op} "abc" "b"))`);
  }
});

test('parseYara reads of-expressions with quantifiers, sets and anchors', () => {
  assert.equal(cond('all of them'), '(of all them)');
  assert.equal(cond('any of ($a, $b*)'), '(of any (strings $a $b*))');
  assert.equal(cond('none of ($*)'), '(of none (strings $*))');
  assert.equal(cond('2 of them'), '(of 2 them)');
  assert.equal(cond('1 + 1 of them'), '(of (+ 1 1) them)');
  assert.equal(cond('50% of them'), '(of (% 50) them)');
  assert.equal(cond('any of them at 0'), '(of any them at 0)');
  assert.equal(cond('all of ($a, $b) in (0..100)'), '(of all (strings $a $b) in (.. 0 100))');
  assert.equal(expr(onlyRule('rule r { condition: 1 of (a, b*, c) }').condition as Expr), '(of 1 (rules a b* c))');
  condFails('any of');
  condFails('any them');
  condFails('1 < 2 of them');
});

test('parseYara reads for-of and for-in loops', () => {
  assert.equal(cond('for any of them : ($ at 0)'), '(for any of them : (at $ 0))');
  assert.equal(cond('for all of ($a*) : (# > 1 and @[1] > 0 and ![1] == 1)'), '(for all of (strings $a*) : (and (and (> # 1) (> ([] @ 1) 0)) (== ([] ! 1) 1)))');
  assert.equal(cond('for 2 i in (1..#a) : (@a[i] > 0) and $b'), '(and (for 2 i in (.. 1 #a) : (> ([] @a i) 0)) $b)');
  assert.equal(cond('$a and $b and for all x in (1, 2, 3) : (x > 0)'), '(and (and $a $b) (for all x in (list 1 2 3) : (> x 0)))');
  assert.equal(
    expr(onlyRule('import "pe" rule r { condition: for any k, v in pe.version_info : (k == "a" and v == "b") }').condition as Expr),
    '(for any k,v in (. pe version_info) : (and (== k "a") (== v "b")))',
  );
  condFails('for any i in (1..2) (i > 0)');
  condFails('for any i in (1..2) : i > 0');
  condFails('for any in (1..2) : (true)');
});

test('parseYara reads with-expressions', () => {
  assert.equal(
    expr(onlyRule('import "pe" rule r { condition: with n = pe.number_of_sections, last = pe.sections[n - 1] : (last.name == ".rsrc" and n > 1) }').condition as Expr),
    '(with n=(. pe number_of_sections) last=([] (. pe sections) (- n 1)) : (and (== (. last name) ".rsrc") (> n 1)))',
  );
  condFails('with : (true)');
  condFails('with a = 1 (true)');
});

test('parseYara reads member access, indexing and calls', () => {
  assert.equal(
    expr(onlyRule('import "pe" rule r { condition: pe.sections[0].name == ".text" and pe.exports("x") and pe.f() }').condition as Expr),
    '(and (and (== (. ([] (. pe sections) 0) name) ".text") (call (. pe exports) "x")) (call (. pe f)))',
  );
});

test('parseYara keeps spans that cover each node', () => {
  const src = 'rule r { condition: 1 + 22 == 23 }';
  const c = onlyRule(src).condition as Expr;
  assert.equal(src.slice(c.span.start, c.span.end), '1 + 22 == 23');
  assert.ok(c.kind === 'binary');
  assert.equal(src.slice(c.left.span.start, c.left.span.end), '1 + 22');
});

test('parseYara reports a syntax error with yara-like message and location', () => {
  assert.deepEqual(errors('rule a {\n  condition: true and\n}'), ["3:1 yara.syntax.unexpected-token syntax error (unexpected '}')"]);
  assert.deepEqual(errors('rule a { condition: true }\nrule b: { condition: true }'), ["2:9 yara.syntax.unexpected-token syntax error (unexpected '{', expecting identifier)"]);
});

test('parseYara recovers and reports an error in each broken rule', () => {
  const src = [
    'rule a { condition: true == true }',
    'rule b { strings: $x = "q\\q" condition: $x }',
    'rule c { condition: 1 + }',
    'rule d { strings: $x = { 0 } condition: $x }',
    'rule e { meta: a = condition: true }',
    'private rule f { condition: true }',
    'rule g { strings: $a = "x" $b = condition: $a }',
    'rule h { condition: ( }',
  ].join('\n');
  const r = parse(src);
  const lines = r.diagnostics.map((d) => d.location?.line);
  assert.deepEqual(lines, [1, 2, 3, 4, 5, 7, 8]);
  assert.deepEqual(r.ast.rules.map((x) => x.name.name), ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
  assert.equal(r.ast.rules[5]?.condition?.kind, 'bool');
  // The strings section failed, but the condition of g was still parsed.
  assert.equal(r.ast.rules[6]?.condition?.kind, 'match');
});

test('parseYara reports each broken string definition and meta entry of one rule', () => {
  const r = parse('rule r {\n meta:\n a = \n b = 1\n c = 1.5\n strings:\n $a = "x" wide wide\n $b = \n $c = { 0 }\n $d = "ok"\n condition:\n all of them\n}');
  assert.deepEqual(r.diagnostics.map((d) => d.location?.line), [4, 5, 7, 9, 9]);
  const rule = r.ast.rules[0] as Rule;
  assert.deepEqual(rule.meta.map((m) => m.key.name), ['b']);
  assert.deepEqual(rule.strings.map((x) => x.id.name), ['$a', '$c', '$d']);
  assert.equal(rule.condition?.kind, 'of');
});

test('parseYara reports duplicated strings and tags and too long identifiers', () => {
  assert.deepEqual(parse('rule r : t t { strings: $a = "x" $a = "y" condition: $a }').diagnostics.map((d) => d.code), ['yara.syntax.duplicated-tag', 'yara.syntax.duplicated-string']);
  // yara accepts a repeated rule modifier.
  assert.deepEqual(parse('private global private rule r { condition: true }').diagnostics, []);
  assert.deepEqual(parse(`rule ${'a'.repeat(129)} { condition: true }`).diagnostics.map((d) => d.code), ['yara.syntax.identifier-too-long']);
  assert.deepEqual(parse(`rule ${'a'.repeat(128)} { condition: true }`).diagnostics, []);
});

test('parseYara takes raw bytes and keeps non-UTF-8 bytes of strings', () => {
  const bytes = Uint8Array.from([...new TextEncoder().encode('rule r { strings: $a = "'), 0xff, 0xe9, ...new TextEncoder().encode('" condition: $a }')]);
  const r = parseYara(bytes, 'latin1.yar');
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual([...((r.ast.rules[0]?.strings[0] as TextString).value)], [0xff, 0xe9]);
});

test('parseYara reports integer overflow and stray characters', () => {
  assert.deepEqual(errors('rule r { condition: 9223372036854775808 }').map((e) => e.split(' ')[1]), ['yara.syntax.integer-overflow']);
  assert.deepEqual(parse('rule r { condition: 9223372036854775807 }').diagnostics, []);
  assert.ok(errors('rule r { condition: true; }')[0]?.includes("unexpected ';'"));
});

test('parseYara refuses expressions nested beyond maxDepth without throwing', () => {
  const deep = '('.repeat(5000) + '1' + ')'.repeat(5000);
  const r = parseYara(`rule r { condition: ${deep} }`, 't.yar');
  assert.deepEqual(r.diagnostics.map((d) => d.code), ['yara.syntax.too-deep']);
  const nots = parseYara(`rule r { condition: ${'not '.repeat(5000)} true }`, 't.yar');
  assert.deepEqual(nots.diagnostics.map((d) => d.code), ['yara.syntax.too-deep']);
  const neg = parseYara(`rule r { condition: ${'-'.repeat(5000)}1 }`, 't.yar');
  assert.deepEqual(neg.diagnostics.map((d) => d.code), ['yara.syntax.too-deep']);
  for (const [open, close] of [['a[', ']'], ['uint8(', ')'], ['@a[', ']'], ['f(', ')'], ['for any i in (1..', ') : (true)']]) {
    const r2 = parseYara(`rule r { condition: ${(open as string).repeat(5000)}1${(close as string).repeat(5000)} }`, 't.yar');
    assert.deepEqual(r2.diagnostics.map((d) => d.code), ['yara.syntax.too-deep'], open);
  }
  // Real rules nest far less than the limit.
  assert.deepEqual(parseYara(`rule r { condition: ${'('.repeat(100)}1${')'.repeat(100)} }`, 't.yar').diagnostics, []);
});

test('parseYara never throws on arbitrary text', () => {
  const pieces = ['rule', 'r', '{', '}', 'condition', ':', 'strings', '$a', '=', '"x"', '{ 01 }', '/re/', 'and', 'of', 'them', '(', ')', 'for', 'in', '..', '1', '#a', '@a', '[', ']', '"', '/*', '\\', 'é', '\n'];
  let seed = 7;
  for (let i = 0; i < 2000; i++) {
    let src = '';
    const n = 1 + (i % 40);
    for (let k = 0; k < n; k++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      src += pieces[seed % pieces.length] + ' ';
    }
    const r = parseYara(src, 'fuzz.yar');
    assert.ok(Array.isArray(r.diagnostics));
  }
});

test('renderYaraDiagnostics prints diagnostics the way yara does', () => {
  const src = 'import "pe"\nfoo\nrule a {\n condition: true and\n}\n';
  const r = parse(src);
  assert.equal(
    renderYaraDiagnostics(r.diagnostics, src, r.ast),
    'test.yar(2): error: syntax error\n' + 'error: rule "a" in test.yar(5): syntax error\n',
  );
  assert.deepEqual(
    r.diagnostics.map((d) => d.help),
    ['unexpected identifier "foo", expecting <rule>', "unexpected '}'"],
  );
});

test('parseYara follows includes as yara does when given a reader', () => {
  const files: Record<string, string> = {
    'rules/index.yar': 'include "a.yar"\nrule main { condition: a }\n',
    'rules/a.yar': 'import "pe"\ninclude "sub/b.yar"\nrule a { condition: b }\n',
    'rules/sub/b.yar': 'rule b {\n condition: true and\n}\n',
    'rules/loop.yar': 'include "loop.yar"\n',
    'rules/bad.yar': 'rule first { condition: true }\ninclude "missing.yar"\n',
  };
  const opened: string[] = [];
  const read = (p: string): string | undefined => {
    opened.push(p);
    return files[p];
  };
  const r = parseYara(files['rules/index.yar'] as string, 'rules/index.yar', { include: read });
  // Paths are resolved against the including file's directory, nested includes against theirs.
  assert.deepEqual(opened, ['rules/a.yar', 'rules/sub/b.yar']);
  assert.deepEqual(r.ast.rules.map((x) => `${x.name.name}@${x.origin?.file ?? '-'}`), ['b@rules/sub/b.yar', 'a@rules/a.yar', 'main@-']);
  assert.deepEqual(r.ast.imports.map((i) => `${i.module}@${i.origin?.file}`), ['pe@rules/a.yar']);
  // A diagnostic of an included file names that file and its own line.
  assert.deepEqual(r.diagnostics.map((d) => `${d.location?.file}(${d.location?.line}): ${d.message}`), [
    'rules/sub/b.yar(3): syntax error',
  ]);
  const loop = parseYara(files['rules/loop.yar'] as string, 'rules/loop.yar', { include: read });
  assert.deepEqual(loop.diagnostics.map((d) => `${d.location?.file}(${d.location?.line}): ${d.code} ${d.message}`), [
    'rules/loop.yar(1): yara.include.circular includes circular reference',
  ]);
  const bad = parseYara(files['rules/bad.yar'] as string, 'rules/bad.yar', { include: read });
  assert.deepEqual(bad.diagnostics.map((d) => `${d.location?.line}: ${d.message}`), ["2: can't open include file: missing.yar"]);
  // Without a reader, includes are recorded and not followed.
  assert.deepEqual(parse('include "x.yar"\nrule r { condition: true }').ast.rules.map((x) => x.name.name), ['r']);
});

test('parseYara refuses includes nested deeper than yara allows', () => {
  // "./d.yar" names a different path at each level, so only the depth limit stops it, as in yara.
  const r = parseYara('include "./d.yar"\n', 'd.yar', { include: () => 'include "./d.yar"\n' });
  const d = r.diagnostics[0];
  assert.equal(d?.message, 'includes depth exceeded');
  assert.equal(d?.location?.file, `${'./'.repeat(15)}d.yar`);
});

test('a percentage quantifier stands alone: `50+60% of them` is a syntax error as in yara, `(50+60)% of them` is not', () => {
  assert.ok(parseYara('rule a { strings: $a = "ab" condition: 50+60% of them }', 'p.yar').diagnostics.some((d) => d.severity === 'error'));
  assert.deepEqual(parseYara('rule a { strings: $a = "ab" condition: (50+60)% of them and 5 % 2 == 1 }', 'p.yar').diagnostics, []);
});
