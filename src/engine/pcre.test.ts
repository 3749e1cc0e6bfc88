/**
 * Tests of the PCRE translator and of `evalPcre`'s scan semantics, with two differential runs
 * against clamscan: which regexes PCRE2 refuses (the database fails to load), and which files
 * seeded random PCRE subsignatures detect (offsets, anchoring, r, e, g and the PCRE flags).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePcre, evalPcre, pcreProblems } from './pcre.js';
import { evalLogical } from './lsig.js';
import { parseLdb } from '../signatures/clamav/ldb.js';
import type { OffsetSpec, Subsig } from '../signatures/clamav/types.js';
import { mulberry32 as rng } from '../../test/helpers/prng.js';

const HAVE_CLAMSCAN = spawnSync('clamscan', ['--version'], { encoding: 'utf8' }).status === 0;
const NO_CLAMSCAN = HAVE_CLAMSCAN ? false : 'clamscan is not installed; differential test skipped';

type Pcre = Extract<Subsig, { k: 'pcre' }>;
const sub = (source: string, flags = '', offset: OffsetSpec = { kind: 'any' }): Pcre => ({ k: 'pcre', trigger: { k: 'sub', index: 0 }, offset, source, flags });
const run = (source: string, flags: string, text: string, offset?: OffsetSpec) => evalPcre(sub(source, flags, offset), text);
const js = (source: string, flags = '') => {
  const c = compilePcre(source, flags);
  assert.ok(c.compiled, `${source}: ${c.problems.map((p) => p.message).join('; ')}`);
  return new RegExp(c.compiled.js);
};
const severity = (source: string, flags = '') => compilePcre(source, flags).problems[0]?.severity ?? 'ok';

describe('compilePcre', () => {
  test('compilePcre folds only ASCII letters for the i flag', () => {
    assert.ok(js('abc', 'i').test('xABcx'));
    assert.ok(!js('\\xe9', 'i').test('\xc9'));
    assert.ok(js('[[:upper:]]b', 'i').test('ab'));
  });

  test('compilePcre gives \\s, \\w, \\h and . the meaning of PCRE2\'s default tables', () => {
    assert.ok(!js('a\\sb').test('a\xa0b'));
    assert.ok(js('a\\hb').test('a\xa0b'));
    assert.ok(!js('a\\wb').test('a\xe9b'));
    assert.ok(js('a.b').test('a\rb'));
    assert.ok(!js('a.b').test('a\nb'));
    assert.ok(js('a.b', 's').test('a\nb'));
    assert.ok(js('a\\vb').test('a\x85b'));
  });

  test('compilePcre lets $ match before a final newline unless E is set', () => {
    assert.ok(js('ab$').test('xab\n'));
    assert.ok(!js('ab$', 'E').test('xab\n'));
    assert.ok(!js('ab$').test('xab\n\n'));
    assert.ok(js('ab\\Z').test('xab\n'));
    assert.ok(!js('ab\\z').test('xab\n'));
  });

  test('compilePcre keeps multiline ^ from matching after a final newline', () => {
    assert.ok(js('^b', 'm').test('a\nb'));
    assert.ok(!js('^$', 'm').test('a\n'));
    assert.ok(js('a$', 'm').test('a\nb'));
  });

  test('compilePcre scopes inline options to the rest of their group, later alternatives included', () => {
    assert.ok(js('a(?i)b|c').test('C'));
    assert.ok(!js('(a(?i)b)c').test('aBC'));
    assert.ok(js('(a(?i)b)c').test('aBc'));
    assert.ok(js('(?i:a)b').test('Ab'));
    assert.ok(!js('(?i:a)b').test('AB'));
  });

  test('compilePcre makes atomic groups and possessive quantifiers atomic', () => {
    assert.ok(!js('(?>a+)ab').test('aaab'));
    assert.ok(!js('a++ab').test('aaab'));
    assert.ok(js('a+ab').test('aaab'));
    assert.ok(js('(a)(?>b)\\1').test('aba'));
  });

  test('compilePcre takes \\R atomically, so \\R\\n does not split a CRLF', () => {
    assert.ok(!js('^\\R\\n').test('\r\n'));
    assert.ok(js('a\\Rb').test('a\r\nb'));
  });

  test('compilePcre reads \\digits as a backreference or an octal escape as PCRE2 does', () => {
    assert.ok(js('(a)\\1').test('aa'));
    assert.ok(js('a\\12b').test('a\nb'));
    assert.equal(severity('\\8'), 'error');
    assert.equal(severity('(a)\\2'), 'error');
  });

  test('compilePcre renumbers groups after emulated atomic groups', () => {
    assert.ok(js('(?>x)(a)(b)\\2\\1').test('xabba'));
    assert.ok(js('a*+(b)\\1').test('aabb'));
  });

  test('compilePcre treats {,n} and malformed braces as literals', () => {
    assert.ok(js('a{,2}').test('a{,2}'));
    assert.ok(js('a{x}').test('a{x}'));
    assert.ok(js('a{2}').test('aa'));
  });

  test('compilePcre handles \\Q…\\E, comments, x-mode blanks and POSIX classes', () => {
    assert.ok(js('\\Qa.b\\E+').test('a.bbb'));
    assert.ok(js('a(?#note)b').test('ab'));
    assert.ok(js('a b # comment\n c', 'x').test('abc'));
    assert.ok(js('[[:digit:][:space:]]+x').test('1 2x'));
    assert.ok(js('[]a]').test(']'));
    assert.ok(js('[^]a]').test('b'));
  });

  test('compilePcre refuses what PCRE2 refuses', () => {
    for (const re of ['a**', 'a{2}{3}', '\\b*', '^*', '(?<=a+)b', '(?<=a(b|cd))e', '\\i', '\\u0041', '[z-a]', '[\\d-z]', '[[.a.]]',
      '(', ')', 'a{3,2}', 'a{65536}', '\\x{100}', '\\c', '\\k<n>', '(?<n>a)(?<n>b)', '(?(1)a|b)', '[a', '\\', '(?z)', '(?<=\\R)', '(?=a\\K)']) {
      assert.equal(severity(re), 'error', re);
    }
  });

  test('compilePcre refuses to translate valid regexes it cannot match exactly, with a warning', () => {
    for (const re of ['(a)(?1)', '(?R)', '(?|a)', '(*FAIL)|b', 'a\\Kb', '\\G', '\\X', '\\p{L}', '(?=a)*', '(a)?\\1', '(a|b\\1)', '(?i)(a)\\1', '(?(?=a)a|b)', '(?C1)a', '(?J)(?<n>a)(?<n>b)']) {
      assert.equal(severity(re), 'warning', re);
    }
  });

  test('compilePcre refuses parentheses nested more than 250 deep, as PCRE2 does', () => {
    assert.equal(severity(`${'('.repeat(250)}a${')'.repeat(250)}`), 'ok');
    assert.equal(severity(`${'('.repeat(251)}a${')'.repeat(251)}`), 'error');
    assert.equal(severity(`${'(?:'.repeat(20000)}a${')'.repeat(20000)}`), 'error');
  });

  test('compilePcre refuses an unknown flag', () => {
    assert.equal(severity('a', 'z'), 'error');
  });
});

describe('evalPcre', () => {
  test('evalPcre finds the first match anywhere with offset *', () => {
    assert.deepEqual(run('b+', '', 'aabbab'), [2]);
  });

  test('evalPcre anchors a regex at a fixed offset unless r is set', () => {
    assert.deepEqual(run('b', '', 'aabb', { kind: 'abs', n: 1, shift: 0 }), []);
    assert.deepEqual(run('b', '', 'aabb', { kind: 'abs', n: 2, shift: 0 }), [2]);
    assert.deepEqual(run('b', 'r', 'aabb', { kind: 'abs', n: 1, shift: 0 }), [2]);
  });

  test('evalPcre matches the reference example with the offset 5:0/llo blee/', () => {
    assert.deepEqual(run('llo blee', '', 'MZ hello blee', { kind: 'abs', n: 5, shift: 0 }), [5]);
    assert.deepEqual(run('hello blee', '', 'MZ hello blee', { kind: 'abs', n: 5, shift: 0 }), []);
  });

  test('evalPcre ignores a match that starts beyond offset+shift', () => {
    assert.deepEqual(run('b', '', 'aaaab', { kind: 'abs', n: 1, shift: 2 }), []);
    assert.deepEqual(run('b', '', 'aaab', { kind: 'abs', n: 1, shift: 2 }), [3]);
  });

  test('evalPcre keeps the regex inside offset+shift with e', () => {
    assert.deepEqual(run('ab+', 'e', 'xabbb', { kind: 'abs', n: 1, shift: 2 }), [1]);
    assert.deepEqual(run('ab$', 'e', 'xabbb', { kind: 'abs', n: 1, shift: 2 }), [1]);
    assert.deepEqual(run('ab$', '', 'xabbb', { kind: 'abs', n: 1, shift: 2 }), []);
  });

  test('evalPcre counts every match with g, resuming after each', () => {
    assert.deepEqual(run('ab', 'g', 'abxabab'), [0, 3, 5]);
    assert.deepEqual(run('aa', 'g', 'aaaa'), [0, 2]);
    assert.deepEqual(run('ab', 'g', 'xabab', { kind: 'abs', n: 1, shift: 0 }), [1, 3]);
  });

  test('evalPcre computes EOF-n offsets from the file size', () => {
    assert.deepEqual(run('yz', '', 'abcxyz', { kind: 'eof', n: 2, shift: 0 }), [4]);
    assert.deepEqual(run('yz', '', 'abcxyz', { kind: 'eof', n: 9, shift: 0 }), []);
  });

  test('evalPcre asks the resolver for executable-relative offsets and skips unknown ones', () => {
    const ep: OffsetSpec = { kind: 'ep', n: 2, shift: 0 };
    assert.deepEqual(evalPcre(sub('cd', '', ep), 'abcd', 4, () => ({ min: 2, max: 2 })), [2]);
    assert.deepEqual(evalPcre(sub('cd', '', ep), 'abcd', 4, () => undefined), []);
    assert.deepEqual(evalPcre(sub('cd', '', ep), 'abcd'), []);
  });

  test('evalPcre stops at an empty match with g, where ClamAV would loop', () => {
    assert.deepEqual(run('a*', 'g', 'aab'), [0, 2]);
  });

  test('evalPcre anchors every attempt at its start with A', () => {
    assert.deepEqual(run('b', 'A', 'ab'), []);
    assert.deepEqual(run('a', 'Ag', 'aab'), [0, 1]);
  });

  test('evalPcre accepts the layer as bytes', () => {
    assert.deepEqual(evalPcre(sub('\\xff\\x00'), Uint8Array.from([1, 0xff, 0])), [1]);
  });
});

// ───────────────────────────── differential tests ─────────────────────────────


const SYNTAX_CASES = [
  // valid
  'abc', 'a{2}', 'a{,3}', '(?<=AA|c)B', '(?<=A(A|c))B', 'A\\NA', '(?J)(?<n>a)', '(*FAIL)|B', '(?|A)', 'A*+B', '(?>A+)B', '\\x{41}', '\\o{101}',
  '\\cA', '[[:lower:]]', '\\QA+\\E', 'A(?#c)B', '(?i)aaab', 'AA\\KB', '\\p{L}', '\\X', '\\C', '\\R', '(A)\\g{-1}', '(?<=\\bA)B', '(?=A)*',
  '(?<=A)*B', '(?C1)A', '\\e', '(?P<n>A)(?P=n)', '(A)(?1)', '(?xx)A', '(?^i)aaab', '\\G', '(?<=A{2})B', '(?<=(?>A))B', '[]a]', '[^]a]',
  '\\12', '(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\\10', 'a\\x', 'a\\0', '[\\b]', '[\\8]', '[a-]', '[-a]', '\\Q\\E', 'a{1,}', '[[:^alpha:]]',
  '(?i:a)b', '(?-i)a', '(?s-i:a.)', 'a(?=b)', 'a(?!b)', '(?<!a)b', 'a|', '|a', '()', '(?:)', 'a\\-b', '\\/', 'x{2,5}?', 'x*?', 'x??',
  '(?<name>a)\\k<name>', "(?'n'a)\\k'n'", '(a)\\g1', '(a)\\g{1}', '\\x{ff}', '[\\x00-\\xff]', '\\d\\D\\w\\W\\s\\S\\h\\H\\v\\V',
  // invalid
  'a{2}{3}', '\\b*', '(?<=a+)b', '(?<=A(A|cd))B', '\\i', '\\u0041', '\\8', 'a**', '\\x{100}', '\\c', '[\\d-z]', '[z-a]', '[[.a.]]',
  '(?<=\\R)', '\\g{-1}', '^*', '\\z*', '\\N{U+41}', '[\\N]', '[\\B]', '\\j', '\\k<n>', '(A)\\2', '(?(1)A|B)', '(?n)(A)\\1', 'A{65536}',
  'A{3,2}', '(?<=A{1,2})B', '(', 'a)', '[a', '(?z)', '(?<1a>x)', '[[:foo:]]', '\\o{400}', '\\400', '(?#x', '*a', '+', '?', 'a|*',
  '(?P<n>a)(?P=m)', '\\g{0}', '\\k', '[\\R]', '(?<n>a)(?<n>b)', '\\L', '(?<=a\\Kb)',
  `${'('.repeat(250)}a${')'.repeat(250)}`, `${'(?:'.repeat(251)}a${')'.repeat(251)}`,
];

describe('PCRE against clamscan', () => {
  test('compilePcre refuses exactly the regexes PCRE2 refuses when clamscan loads them', { skip: NO_CLAMSCAN }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-pcre-syntax-'));
    try {
      const file = join(dir, 'sample.bin');
      writeFileSync(file, 'xx TRG yy aaab zz\x01\x02');
      const wrong: string[] = [];
      for (const re of SYNTAX_CASES) {
        const db = join(dir, 'x.ldb');
        writeFileSync(db, `P;Engine:81-255,Target:0;0&1;545247;0/${re}/\n`, 'latin1');
        const r = spawnSync('clamscan', ['--no-summary', '--max-scantime=5000', '-d', db, file], { encoding: 'latin1' });
        const refused = r.status === 2;
        const ours = compilePcre(re).problems.some((p) => p.severity === 'error');
        if (refused !== ours) wrong.push(`${re}: clamscan ${refused ? 'refuses' : 'loads'}, we ${ours ? 'refuse' : 'accept'} (${compilePcre(re).problems.map((p) => p.message).join('; ')})`);
      }
      assert.deepEqual(wrong, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('evalPcre agrees with clamscan on seeded random PCRE subsignatures', { skip: NO_CLAMSCAN }, () => {
    const r = rng(0x9c3e);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const dir = mkdtempSync(join(tmpdir(), 'vigil-pcre-'));
    try {
      const firstAtoms = ['a', 'b', 'ab', 'X', 'xy', '[ab]', '[[:upper:]]', '\\d', '(?:ab|c)', '(a|bc)', 'a(?=b)', '(?<=x)a', 'c\\b'];
      const atoms = ['a', 'b', 'c', 'x', 'X', 'Y', '\\d', '\\w', '\\s', '.', '[a-c]', '[^ab]', '\\x01', '(?:ab|c)', '(?>a+)', '\\bb', '[xX]', '(?i)y', '(?!a)', '$', '\\n', '\\Z'];
      const firstQuant = ['', '', '+', '{2}', '+?', '++', '{1,2}'];
      const quant = ['', '', '', '*', '+', '?', '{1,2}', '{2}', '*?', '+?', '??', '++', '*+'];
      const lines: string[] = [];
      for (let i = 0; lines.length < 220; i++) {
        let re = (r() < 0.15 ? '^' : '') + pick(firstAtoms) + pick(firstQuant);
        const n = Math.floor(r() * 3);
        for (let k = 0; k < n; k++) {
          const a = pick(atoms);
          re += a + (/^(\$|\\Z|\(\?!a\)|\(\?i\)y|\\bb)$/.test(a) ? '' : pick(quant));
        }
        const flags = [...new Set([...'gggreeismAEU'].filter(() => r() < 0.18))].join('');
        const off = pick(['', '', '', '0:', '3:', '5:', '2,4:', '0,6:', 'EOF-6:', 'EOF-9,5:', '40:']);
        const cond = pick(['0&1', '0&1', '0&1>1', '0&1=1', '0&1>2', '0&1=0']);
        if (compilePcre(re, flags).problems.length) continue;
        lines.push(`P${i};Engine:81-255,Target:0;${cond};545247;${off}0/${re}/${flags}`);
      }
      const dbText = lines.join('\n') + '\n';
      const db = join(dir, 'gen.ldb');
      writeFileSync(db, dbText, 'latin1');
      const parsed = parseLdb(dbText, { file: 'gen.ldb', official: false, checkPcre: pcreProblems });
      assert.deepEqual(parsed.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message), []);
      assert.equal(parsed.sigs.length, lines.length);

      const files = join(dir, 'files');
      mkdirSync(files);
      const alphabet = 'abcxyXYab \n\x0112';
      const expected = new Set<string>();
      for (let f = 0; f < 60; f++) {
        let text = '';
        const len = 8 + Math.floor(r() * 30);
        for (let k = 0; k < len; k++) text += r() < 0.06 ? 'TRG' : alphabet[Math.floor(r() * alphabet.length)];
        if (r() < 0.8) text = `${text.slice(0, 3)}TRG${text.slice(3)}`;
        text += '\x01';
        const fname = `f${f}.bin`;
        writeFileSync(join(files, fname), text, 'latin1');
        const trg = text.split('TRG').length - 1;
        for (const sig of parsed.sigs) {
          const pcre = sig.subsigs[1] as Pcre;
          const counts = Uint32Array.from([trg, trg ? evalPcre(pcre, text).length : 0]);
          if (evalLogical(sig.expr, counts)) expected.add(`${fname}\t${sig.name}`);
        }
      }
      const res = spawnSync('clamscan', ['--no-summary', '--allmatch', '--normalize=no', '--max-scantime=20000', '-r', '-d', db, files], { encoding: 'latin1', maxBuffer: 64 << 20 });
      assert.ok(res.status === 0 || res.status === 1, `clamscan failed (${res.status}): ${res.stderr}`);
      const actual = new Set<string>();
      for (const line of res.stdout.split('\n')) {
        const m = /^(.*): (.*)\.UNOFFICIAL FOUND$/.exec(line);
        if (m) actual.add(`${m[1]!.slice(files.length + 1)}\t${m[2]}`);
      }
      const why = (x: string) => { const [, n] = x.split('\t'); return `${x} ${lines.find((l) => l.startsWith(`${n};`))}`; };
      const missing = [...expected].filter((x) => !actual.has(x)).map(why);
      const extra = [...actual].filter((x) => !expected.has(x)).map(why);
      assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
      assert.ok(expected.size > 200, 'the generator should produce many detections');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
