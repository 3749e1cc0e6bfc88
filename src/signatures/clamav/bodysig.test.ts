import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBodyPattern, parseOffset } from './bodysig.js';
import { parseNdb } from './ndb.js';

const ctx = { file: 't.ndb', line: 1, column: 10 };

function ok(hex: string) {
  const r = parseBodyPattern(hex, ctx);
  assert.deepEqual(r.diagnostics, [], `${hex} should parse`);
  assert.ok(r.pattern);
  return r.pattern;
}

function bad(hex: string, code: string) {
  const r = parseBodyPattern(hex, ctx);
  assert.equal(r.pattern, undefined, `${hex} should be refused`);
  assert.equal(r.diagnostics[0]?.code, code, `${hex}: ${r.diagnostics[0]?.message}`);
  return r.diagnostics[0]!;
}

test('parseBodyPattern reads literal bytes and nibble wildcards', () => {
  const p = ok('68656c6c6?');
  assert.equal(p.parts.length, 1);
  assert.deepEqual(p.parts[0]![4], { k: 'byte', value: 0x60, mask: 0xf0 });
  const q = ok('68656c??6f2077');
  assert.deepEqual(q.parts[0]![3], { k: 'byte', value: 0, mask: 0 });
  const r = ok('4142?f');
  assert.deepEqual(r.parts[0]![2], { k: 'byte', value: 0x0f, mask: 0x0f });
});

test('parseBodyPattern rewrites a small {n} to n wildcards without splitting', () => {
  const p = ok('4142{10}4344');
  assert.equal(p.parts.length, 1);
  assert.equal(p.parts[0]!.length, 14);
});

test('parseBodyPattern splits at ranges, large {n} and *', () => {
  assert.deepEqual(ok('4142{8-12}4344').gaps, [{ min: 8, max: 12 }]);
  assert.deepEqual(ok('4142{-5}4344').gaps, [{ min: 0, max: 5 }]);
  assert.deepEqual(ok('4142{5-}4344').gaps, [{ min: 5, max: Infinity }]);
  assert.deepEqual(ok('4142{200}4344').gaps, [{ min: 200, max: 200 }]);
  assert.deepEqual(ok('4142*4344*4546').gaps, [{ min: 0, max: Infinity }, { min: 0, max: Infinity }]);
});

test('parseBodyPattern keeps a later small {n} as a split once the first brace is a range', () => {
  const p = ok('4142{5-10}4344{3}4546');
  assert.equal(p.parts.length, 3);
  assert.deepEqual(p.gaps[1], { min: 3, max: 3 });
});

test('parseBodyPattern attaches edge ranges to a single anchor byte', () => {
  const p = ok('4142[8-12]43'.replace('4142[8-12]43', '41[8-12]4243'));
  assert.deepEqual(p.parts[0]!.slice(0, 2), [{ k: 'byte', value: 0x41, mask: 0xff }, { k: 'skip', min: 8, max: 12 }]);
  const q = ok('4142[2]43');
  assert.deepEqual(q.parts[0]!.slice(-2), [{ k: 'skip', min: 2, max: 2 }, { k: 'byte', value: 0x43, mask: 0xff }]);
  bad('414243[1-2]4445', 'clamav.body.edge-range-position');
  bad('41[1-40]4243', 'clamav.body.bad-edge-range');
  bad('41[5-2]4243', 'clamav.body.bad-edge-range');
});

test('parseBodyPattern reads fixed, negated and generic alternatives', () => {
  const p = ok('666f6f(31|32)202d2d2d');
  const alt = p.parts[0]![3]!;
  assert.equal(alt.k, 'alt');
  assert.equal(alt.k === 'alt' && alt.branches.length, 2);
  const n = ok('666f6f!(31|32)202d2d2d').parts[0]![3]!;
  assert.ok(n.k === 'alt' && n.negated);
  ok('6161(6a6a|66(6767|6868)66|6969)6161');
  ok('4142(43|4445|4?)4647');
  bad('4142!(43|4445)4647', 'clamav.body.negated-generic');
  bad('4142!(4?|45)4647', 'clamav.body.negated-generic');
  bad('4142(43|44*45)4647', 'clamav.body.gap-in-alternative');
  bad('4142(43|44{200}45)4647', 'clamav.body.gap-in-alternative');
  bad('4142()4344', 'clamav.body.empty-block');
  bad('4142(4344', 'clamav.body.unclosed-paren');
});

test('parseBodyPattern treats (B) (L) (W) as zero-width only at the edges', () => {
  const p = ok('(B)636c616d74657374(B)');
  assert.deepEqual(p.parts[0]![0], { k: 'class', cls: 'B', negated: false, edge: 'left' });
  assert.deepEqual(p.parts[0]!.at(-1), { k: 'class', cls: 'B', negated: false, edge: 'right' });
  const m = ok('68656c6c6f(W)776f726c64');
  assert.deepEqual(m.parts[0]![5], { k: 'class', cls: 'W', negated: false });
  // ClamAV only recognises a left edge when "(" is the very first character.
  const neg = ok('!(B)41424344');
  assert.deepEqual(neg.parts[0]![0], { k: 'class', cls: 'B', negated: true });
});

test('parseBodyPattern refuses parts without two consecutive fixed bytes', () => {
  bad('41??42', 'clamav.body.no-static');
  bad('4?4?4?4?', 'clamav.body.no-static');
  bad('41424344*45', 'clamav.body.too-short');
  bad('*41424344', 'clamav.body.empty-part');
  bad('41424344**4546', 'clamav.body.empty-part');
  ok('4142{5}');
});

test('parseBodyPattern reports the column of a bad character', () => {
  const d = bad('4142zz43', 'clamav.body.bad-hex');
  assert.equal(d.location?.column, 14);
  bad('41424', 'clamav.body.odd-length');
});

test('parseOffset reads every offset form', () => {
  const o = (t: string, target = 1) => parseOffset(t, target, ctx);
  assert.deepEqual(o('*').offset, { kind: 'any' });
  assert.deepEqual(o('3').offset, { kind: 'abs', n: 3, shift: 0 });
  assert.deepEqual(o('1,5').offset, { kind: 'abs', n: 1, shift: 5 });
  assert.deepEqual(o('EOF-8,3').offset, { kind: 'eof', n: 8, shift: 3 });
  assert.deepEqual(o('EP+69320,45').offset, { kind: 'ep', n: 69320, shift: 45 });
  assert.deepEqual(o('EP-10').offset, { kind: 'ep', n: -10, shift: 0 });
  assert.deepEqual(o('S1+0,134217728').offset, { kind: 'section', index: 1, n: 0, shift: 134217728 });
  assert.deepEqual(o('SE2').offset, { kind: 'sectionEntire', index: 2, shift: 0 });
  assert.deepEqual(o('SL+16').offset, { kind: 'lastSection', n: 16, shift: 0 });
  assert.deepEqual(o('VI').offset, { kind: 'versionInfo' });
  assert.deepEqual(o('$3$').offset, { kind: 'macro', group: 3 });
  assert.equal(o('EP').diagnostics[0]?.code, 'clamav.offset.bad-value');
  assert.equal(o('EP+0', 0).diagnostics[0]?.code, 'clamav.offset.target');
  assert.equal(o('5,x').diagnostics[0]?.code, 'clamav.offset.bad-shift');
  assert.equal(o('$40$').diagnostics[0]?.code, 'clamav.offset.bad-macro');
});

test('parseNdb skips FLEVEL-filtered lines before parsing them', () => {
  const r = parseNdb('Win.Trojan.EOL-1:0:*:This ClamAV version has reached End of Life!:0:38\nOk:0:*:414243\n', { file: 'x.ndb' });
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.sigs.length, 1);
});

test('parseNdb reports every malformed line with its line number', () => {
  const r = parseNdb('A:0:*:4142\n\nB:0:*:41424\nC:1:EP:414243\nD:x:*:414243\nE:0:*:414243:1:2:3\n', { file: 'x.ndb' });
  assert.deepEqual(r.diagnostics.map((d) => d.location?.line), [1, 2, 3, 4, 5, 6]);
  assert.equal(r.sigs.length, 0);
});

test('parseNdb skips unsupported targets and phishing names', () => {
  const r = parseNdb('A:15:*:414243\nHTML.Phishing.X:3:*:414243\nB:7:*:414243\n', { file: 'x.ndb' });
  assert.deepEqual(r.sigs.map((s) => s.name), ['B']);
});

test('parseNdb refuses an empty file', () => {
  assert.equal(parseNdb('', { file: 'x.ndb' }).diagnostics[0]?.code, 'clamav.db.empty');
});
