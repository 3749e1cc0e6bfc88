/**
 * Tests of the YARA condition evaluator: rule text in, verdicts compared with expectations and with yara.
 *
 * Unit tests parse and check small rules, then evaluate them over synthetic string-match lists
 * (no scanner involved) to pin string operators, loops, `of`, undefined propagation and global /
 * private rules. The differential test generates a seeded file of a few hundred string-free rules
 * (64-bit arithmetic with overflow, division by zero and shifts, floats, integer reads inside and
 * outside the data, `filesize`, string operators, `matches`, `defined`, `for … in`, `of` over
 * rules, `math` and `hash` calls), runs `yara -w` once per data file and requires the same set of
 * matching rule names (private rules, which yara does not print, are compared through the rules
 * that reference them). `for none` / `for 0` loops are not generated: yara 4.2.3 makes them always
 * true, a behaviour the evaluator deliberately does not copy. `VIGIL_YARA_EVAL_SEED` / `VIGIL_YARA_EVAL_COUNT` replay or widen a run;
 * skipped with a message when `yara` is not on PATH.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../../test/helpers/prng.js';
import { parseYara } from '../../signatures/yara/parser.js';
import { checkYara, type ExternalValue } from '../../signatures/yara/check.js';
import { YARA_4_2_MODULES, DEFAULT_MODULES, type ModuleCatalog } from '../../signatures/yara/modules-catalog.js';
import type { CheckedRule } from '../../signatures/yara/ir.js';
import { evaluateRules, type StringMatch } from './eval.js';
import { fn, scanContext, type YaraModule } from './modules/types.js';

const SEED = Number(process.env.VIGIL_YARA_EVAL_SEED ?? '20261129') >>> 0;
const COUNT = Number(process.env.VIGIL_YARA_EVAL_COUNT ?? '400');
/** External variables given to both: `-d` on yara's command line, `externals` to vigil. */
const EXTERNALS: Record<string, ExternalValue> = { ext_int: 7, ext_str: 'aAbB', ext_bool: true, ext_float: 2.5 };
const DEFINE_ARGS = Object.entries(EXTERNALS).flatMap(([k, v]) => ['-d', `${k}=${String(v)}`]);

function compile(src: string, externals: Record<string, ExternalValue> = {}, modules = DEFAULT_MODULES): CheckedRule[] {
  const { ast, diagnostics } = parseYara(src, 'test.yar');
  const perr = diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(perr, [], `parse errors in:\n${src}`);
  const checked = checkYara(ast, { modules, externals, source: src });
  const cerr = checked.diagnostics.filter((d) => d.severity === 'error' && d.code !== 'yara.check.unreferenced-string');
  assert.deepEqual(cerr, [], `check errors in:\n${src}`);
  return checked.rules;
}

/** Evaluates `src` over `data` with matches given per rule name and string name. */
function run(
  src: string,
  opts: { data?: Uint8Array; matches?: Record<string, Record<string, [number, number][]>>; externals?: Record<string, ExternalValue>; entrypoint?: bigint } = {},
): Record<string, boolean> {
  const rules = compile(src, opts.externals ?? {});
  const data = opts.data ?? new Uint8Array(0);
  const matches = rules.map((r) =>
    r.strings.map((s): StringMatch[] => (opts.matches?.[r.name]?.[s.name] ?? []).map(([offset, length]) => ({ offset, length }))),
  );
  const verdicts = evaluateRules(rules, {
    data,
    fileSize: data.length,
    entrypoint: opts.entrypoint,
    matches,
    externals: opts.externals,
    scan: scanContext(data, { output: () => undefined, now: () => 0n }),
  });
  return Object.fromEntries(rules.map((r, i) => [r.name, verdicts[i] ?? false]));
}

function one(cond: string, opts: Parameters<typeof run>[1] & { strings?: string } = {}): boolean {
  const src = `import "math"\nimport "hash"\nrule x {${opts.strings ? ` strings: ${opts.strings}` : ''} condition: ${cond} }`;
  return run(src, opts).x ?? false;
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

test('integer arithmetic wraps at 64 bits; division by zero and negative shifts are undefined', () => {
  const data = bytes('ABCDEFGH');
  assert.equal(one('0x7fffffffffffffff + filesize - 7 < 0', { data }), true);
  assert.equal(one('defined (1 \\ (filesize - 8))', { data }), false);
  assert.equal(one('defined (1 % (filesize - 8))', { data }), false);
  assert.equal(one('-7 \\ (filesize - 5) == -2 and -7 % (filesize - 5) == -1', { data }), true);
  assert.equal(one('(1 << (filesize + 56)) == 0 and (1 << (filesize + 55)) < 0', { data }), true);
  assert.equal(one('defined (1 << (filesize - 9))', { data }), false);
  assert.equal(one('(-8 >> (filesize - 7)) == -4', { data }), true);
  assert.equal(one('~filesize == -9', { data }), true);
});

test('floats: approximate equality, division by zero is infinite, int/float comparisons', () => {
  const data = bytes('ABCDEFGH');
  assert.equal(one('0.1 + 0.2 == 0.3', { data }), true);
  assert.equal(one('0.1 + 0.2 != 0.3', { data }), false);
  assert.equal(one('1.0 + (filesize - 8) * 1.0 + 0.0000000000000002 == 1.0', { data }), false);
  assert.equal(one('1.0 \\ (filesize - 8) > 1.0', { data }), true);
  assert.equal(one('filesize == 8.0 and filesize * 0.5 == 4', { data }), true);
});

test('undefined: false in boolean context, propagates through not, absorbed by or', () => {
  const data = bytes('ABCDEFGH');
  const u = '(1 \\ (filesize - 8) == 1)';
  assert.equal(one(`not ${u}`, { data }), false);
  assert.equal(one(`not not ${u}`, { data }), false);
  assert.equal(one(`defined (not ${u})`, { data }), false);
  assert.equal(one(`${u} or true`, { data }), true);
  assert.equal(one(`${u} and true`, { data }), false);
  assert.equal(one(`for none i in (1..2) : (${u})`, { data }), true);
});

test('integer reads: little and big endian, signed, out of range undefined', () => {
  const data = Uint8Array.from([0x41, 0xff, 0x01, 0x02, 0x80]);
  assert.equal(one('uint8(0) == 0x41 and int8(1) == -1 and uint8(1) == 255', { data }), true);
  assert.equal(one('uint16(1) == 0x01ff and uint16be(1) == 0xff01 and int16be(1) == -255', { data }), true);
  assert.equal(one('uint32(1) == 0x800201ff and int32(1) < 0 and uint32be(0) == 0x41ff0102', { data }), true);
  assert.equal(one('defined uint32(2) or defined uint8(5) or defined uint8(-1)', { data }), false);
});

test('string operators compare bytes with ASCII case folding', () => {
  assert.equal(one('"Hello" contains "ell" and "Hello" icontains "ELL" and not ("Hello" contains "ELL")'), true);
  assert.equal(one('"Hello" startswith "He" and "Hello" istartswith "hE" and "Hello" endswith "lo" and "Hello" iendswith "LO"'), true);
  assert.equal(one('"Hello" iequals "hELLO" and not ("Hello" iequals "hELL")'), true);
  assert.equal(one('"abc" < "abd" and "ab" < "abc" and "b" > "abc" and "abc" == "abc"'), true);
  assert.equal(one('"Hello" matches /h.l+o/i and not ("Hello" matches /^ell/)'), true);
  assert.equal(one('"abc" matches /x*/ and not ("" matches /^$/) and not ("" matches /x*/) and not ("abc" matches /$/)'), true);
  assert.equal(one('"ab\\nc" matches /b$/ or "ab\\nc" matches /^c/'), false);
});

test('string matches: $a, #a, @a[i], !a[i], at, in, counts in ranges', () => {
  const matches = { x: { $a: [[10, 3], [20, 4], [30, 5]] as [number, number][], $b: [] } };
  const s = '$a = "abc" $b = "def"';
  const t = (cond: string): boolean => one(cond, { strings: s, matches });
  assert.equal(t('$a and not $b'), true);
  assert.equal(t('#a == 3 and #b == 0 and #a in (15..30) == 2'), true);
  assert.equal(t('@a == 10 and @a[2] == 20 and @a[3] == 30 and not defined @a[4] and not defined @a[0]'), true);
  assert.equal(t('!a == 3 and !a[3] == 5 and not defined !b[1]'), true);
  assert.equal(t('$a at 20 and not ($a at 21) and $a in (11..20) and not ($a in (31..40))'), true);
  assert.equal(t('$b or ($b at 0)'), false);
  // YARA 4.5: `$a at UNDEFINED` is UNDEFINED (yara 4.2.3 made it false and defined).
  assert.equal(t('not ($a at uint8(100)) or defined ($a at uint8(100))'), false);
  assert.equal(t('defined ($a in (0..uint8(100))) or defined (#a in (0..uint8(100))) or defined (any of them in (0..uint8(100)))'), false);
});

test('of over strings and rules, with at and in, any/all/none/N/percent', () => {
  const matches = { x: { $a: [[0, 1]] as [number, number][], $b: [[5, 1]] as [number, number][], $c: [] } };
  const s = '$a = "a" $b = "b" $c = "c"';
  const t = (cond: string): boolean => one(cond, { strings: s, matches });
  assert.equal(t('any of them and 2 of them and not all of them and not none of them'), true);
  assert.equal(t('66% of them and not 67% of them'), true);
  assert.equal(t('any of ($a, $c) at 0 and not (any of ($b, $c) at 0) and 2 of them in (0..5)'), true);
  assert.equal(t('none of ($c) and 0 of ($c) and not (0 of ($a, $c))'), true);
  const r = run('rule t { condition: true } rule f { condition: false } rule a { condition: 1 of (t, f) and not all of (t, f) } rule z { condition: 0 of (t, f) } rule p { condition: 50% of (t, f) }');
  assert.deepEqual(r, { t: true, f: false, a: true, z: false, p: true });
});

test('$a at UNDEFINED and of … at UNDEFINED are UNDEFINED (YARA 4.5), so their negation is false too', () => {
  // Found by the engine differential test: yara 4.2.3 made `$a at UNDEFINED` false; 4.5 and
  // YARA-X make it UNDEFINED.
  const matches = { x: { $a: [[0, 1]] as [number, number][], $b: [] as [number, number][] } };
  const t = (cond: string): boolean => one(cond, { strings: '$a = "a" $b = "b"', matches, data: bytes('ab') });
  assert.equal(t('$a at @b[1]'), false);
  assert.equal(t('not ($a at @b[1])'), false);
  assert.equal(t('not (any of ($a, $b) at @b[1])'), false);
  assert.equal(t('not defined ($a at @b[1])'), true);
  assert.equal(t('$a at @a[1]'), true);
});

test('an UNDEFINED quantity means all (as YARA encodes all), an UNDEFINED percentage is UNDEFINED', () => {
  // Found by the engine differential test: yara 4.2.3 (and 4.5's exec.c) take `(x \\ 0) of them`
  // as `all of them`; vigil took it as false.
  const matches = { x: { $a: [[0, 1]] as [number, number][], $b: [] as [number, number][] } };
  const t = (cond: string, m: Record<string, Record<string, [number, number][]>> = matches): boolean =>
    one(cond, { strings: '$a = "a" $b = "b"', matches: m, data: bytes('ab') });
  const undef = '(filesize \\ (filesize - filesize))';
  assert.equal(t(`${undef} of ($a)`), true);
  assert.equal(t(`${undef} of them`), false);
  assert.equal(t(`not (${undef} of them)`), true);
  assert.equal(t(`for ${undef} i in (1..3) : (i > 0)`), true);
  assert.equal(t(`not for ${undef} i in (1..3) : (i > 1)`), true);
  assert.equal(t(`for ${undef} of ($a) : ($ at 0)`), true);
});

test('for … of and for … in loops over strings, ranges and lists', () => {
  const matches = { x: { $a: [[0, 2], [4, 2]] as [number, number][], $b: [[7, 1]] as [number, number][] } };
  const s = '$a = "ab" $b = "c"';
  const t = (cond: string): boolean => one(cond, { strings: s, matches });
  assert.equal(t('for all of them : ( # >= 1 )'), true);
  assert.equal(t('for any of them : ( @ == 7 and ! == 1 )'), true);
  assert.equal(t('for 1 of them : ( #  == 2 )'), true);
  assert.equal(t('for all i in (1..#a) : ( @a[i] % 4 == 0 )'), true);
  assert.equal(t('for any i in (1, 2, 3) : ( i == 3 ) and for none i in (1..3) : ( i > 3 )'), true);
  assert.equal(t('for all i in (5..1) : ( true )'), false);
  const data = bytes('0123456789');
  assert.equal(one('for 3 i in (0..filesize - 1) : ( uint8(i) > 0x36 )', { data }), true);
});

test('module values and calls, externals, entrypoint, global and private rules', () => {
  const data = bytes('hello');
  assert.equal(one('hash.md5(0, filesize) == "5d41402abc4b2a76b9719d911017c592"', { data }), true);
  assert.equal(one('math.entropy(0, filesize) > 1.9 and not defined math.entropy(10, 1)', { data }), true);
  assert.equal(one('hash.crc32("hello") == 0x3610a686', { data }), true);
  const ext = { n: 5, s: 'abc', b: true, f: 2.5 };
  assert.equal(one('n == 5 and s == "abc" and b and f > 2.4', { externals: ext }), true);
  assert.equal(one('entrypoint == 0x400', { entrypoint: 0x400n }), true);
  assert.equal(one('not defined entrypoint'), true);
  assert.deepEqual(run('global rule g { condition: filesize > 0 } rule r { condition: true }'), { g: false, r: false });
  assert.deepEqual(run('private rule p { condition: true } rule r { condition: p }'), { p: true, r: true });
});

test('module arrays, dictionaries and structures: indexing, for … in with one and two variables, with', () => {
  const catalog: ModuleCatalog = {
    fake: {
      kind: 'struct',
      fields: {
        arr: { kind: 'array', of: { kind: 'value', type: 'integer' } },
        dict: { kind: 'dict', of: { kind: 'value', type: 'string' } },
        items: { kind: 'array', of: { kind: 'struct', fields: { n: { kind: 'value', type: 'integer' }, f: { kind: 'value', type: 'float' } } } },
        missing: { kind: 'value', type: 'integer' },
        twice: { kind: 'function', name: 'twice', overloads: [{ args: ['i'], returns: 'integer' }] },
      },
    },
  };
  const fake: YaraModule = {
    name: 'fake',
    since: '4.0.0',
    declarations: {
      arr: { kind: 'array', element: { kind: 'value', type: 'integer' } },
      dict: { kind: 'dictionary', element: { kind: 'value', type: 'string' } },
      items: { kind: 'array', element: { kind: 'struct', fields: { n: { kind: 'value', type: 'integer' }, f: { kind: 'value', type: 'float' } } } },
      missing: { kind: 'value', type: 'integer' },
      twice: fn({ args: ['integer'], returns: 'integer', impl: (_c, a) => (a[0] as bigint) * 2n }),
    },
    load: () => ({
      arr: [1n, 5n, undefined, 7n],
      dict: new Map([['k1', bytes('v1')], ['k2', bytes('v2')]]),
      items: [{ n: 1n, f: 0.5 }, { n: 2n }],
    }),
  };
  const t = (cond: string): boolean => {
    const src = `import "fake"\nrule x { condition: ${cond} }`;
    const { ast } = parseYara(src, 'm.yar');
    const checked = checkYara(ast, { modules: catalog, source: src });
    assert.deepEqual(checked.diagnostics.filter((d) => d.severity === 'error'), [], src);
    const data = new Uint8Array(4);
    const v = evaluateRules(checked.rules, { data, fileSize: 4, matches: [], scan: scanContext(data), modules: (n) => (n === 'fake' ? fake : undefined) });
    return v[0] ?? false;
  };
  assert.equal(t('fake.arr[1] == 5 and not defined fake.arr[2] and not defined fake.arr[4] and not defined fake.arr[-1]'), true);
  assert.equal(t('fake.dict["k2"] == "v2" and not defined fake.dict["k3"] and not defined fake.missing'), true);
  assert.equal(t('fake.items[0].n == 1 and fake.items[0].f == 0.5 and not defined fake.items[1].f'), true);
  assert.equal(t('fake.twice(21) == 42 and not defined fake.twice(fake.missing)'), true);
  assert.equal(t('for any v in fake.arr : ( v == 7 ) and for 3 v in fake.arr : ( v > 0 ) and not for all v in fake.arr : ( v > 0 )'), true);
  assert.equal(t('for all k, v in fake.dict : ( k startswith "k" and v startswith "v" ) and for any k, v in fake.dict : ( k == "k2" and v == "v2" )'), true);
  assert.equal(t('for any it in fake.items : ( it.n == 2 )'), true);
  assert.equal(t('with a = fake.arr[1] + 1, b = a * 2 : ( a == 6 and b == 12 )'), true);
  assert.equal(t('for all i in (0..1) : ( with m = fake.items[i].n : ( m == i + 1 ) )'), true);
});

// ------------------------------------------------------------------------------------------------
// Differential test against yara

function yaraAvailable(): boolean {
  return spawnSync('yara', ['--version'], { encoding: 'utf8' }).status === 0;
}

class Gen {
  constructor(private readonly rng: Prng) {}

  /** A non-constant integer expression (always involves the data). */
  varInt(depth: number): string {
    const r = this.rng;
    const readers = ['uint8', 'uint16', 'uint32', 'uint8be', 'uint16be', 'uint32be', 'int8', 'int16', 'int32', 'int8be', 'int16be', 'int32be'];
    const opts: (() => string)[] = [
      () => 'filesize',
      () => 'ext_int',
      () => `(filesize - ${r.int(0, 400)})`,
      () => `${r.pick(readers)}(${r.pick([0, 1, 3, 60, 62, 63, 64, 296, 299, 300, 1000])})`,
      () => `${r.pick(readers)}(filesize - ${r.int(0, 5)})`,
    ];
    if (depth > 0) opts.push(() => `(${this.intExpr(depth - 1)} ${this.rng.pick(['^', '+', '-'])} filesize)`);
    return r.pick(opts)();
  }

  constInt(): string {
    const r = this.rng;
    return r.pick([
      () => String(r.int(-10, 300)),
      () => r.pick(['0x7fffffffffffffff', '-0x7fffffffffffffff', '0x4000000000000000', '0xffffffff', '0x100000000']),
      () => `${r.int(1, 4)}KB`,
    ])();
  }

  intExpr(depth: number): string {
    const r = this.rng;
    if (depth <= 0 || r.chance(0.25)) return r.chance(0.5) ? this.varInt(0) : this.constInt();
    const op = r.pick(['+', '-', '*', '\\', '%', '&', '|', '^', '<<', '>>', 'neg', '~']);
    const a = r.chance(0.5) ? this.intExpr(depth - 1) : this.constInt();
    if (op === 'neg') return `-(${this.varInt(depth - 1)})`;
    if (op === '~') return `~(${this.varInt(depth - 1)})`;
    if (op === '\\' || op === '%') {
      // Non-negative divisors only: yara 4.2.3 crashes on INT64_MIN \ -1.
      const d = r.pick(['uint8(' + r.pick([0, 2, 63, 299, 400]) + ')', '(filesize \\ 7)', '(filesize - filesize)', 'uint16(1)', `(filesize + ${r.int(0, 5)})`]);
      return `(${a} ${op} ${d})`;
    }
    if (op === '<<' || op === '>>') {
      const s = r.pick(['(filesize % 70)', '(filesize - 70)', 'uint8(0)', '(filesize \\ 4)', `(filesize - filesize + ${r.int(0, 66)})`]);
      return `(${a} ${op} ${s})`;
    }
    const b = this.varInt(depth - 1);
    return r.chance(0.5) ? `(${a} ${op} ${b})` : `(${b} ${op} ${a})`;
  }

  floatExpr(depth: number): string {
    const r = this.rng;
    const atoms = [
      () => `${r.int(0, 9)}.${r.int(0, 99)}`,
      () => `(filesize * ${r.pick(['0.5', '1.0', '0.1', '3.3'])})`,
      () => `math.entropy(0, filesize)`,
      () => 'ext_float',
      () => `math.mean(${r.int(0, 70)}, ${r.int(0, 300)})`,
      () => `math.deviation(0, filesize, 127.5)`,
      () => `(filesize \\ ${r.pick(['0.0', '2.0', '0.3'])})`,
    ];
    if (depth <= 0 || r.chance(0.3)) return r.pick(atoms)();
    const op = r.pick(['+', '-', '*', '\\']);
    const a = this.floatExpr(depth - 1);
    const b = r.chance(0.7) ? this.floatExpr(depth - 1) : this.varInt(0);
    return `(${a} ${op} ${b})`;
  }

  strLit(): string {
    const r = this.rng;
    return `"${r.bytesFrom(r.int(0, 4), bytes('aAbB')).reduce((s, c) => s + String.fromCharCode(c), '')}"`;
  }

  strExpr(): string {
    const r = this.rng;
    return r.pick([
      () => this.strLit(),
      () => 'ext_str',
      () => 'ext_str',
      () => `hash.md5(0, filesize)`,
      () => `hash.sha1(${r.int(0, 64)}, ${r.int(0, 10)})`,
      () => `hash.sha256("${r.word(0, 3)}")`,
    ])();
  }

  boolExpr(depth: number, earlier: string[]): string {
    const r = this.rng;
    const cmp = () => r.pick(['==', '!=', '<', '<=', '>', '>=']);
    const opts: (() => string)[] = [
      () => `${this.intExpr(depth)} ${cmp()} ${r.chance(0.5) ? this.constInt() : this.intExpr(depth)}`,
      () => `${this.floatExpr(depth)} ${cmp()} ${r.chance(0.5) ? this.floatExpr(depth) : this.intExpr(1)}`,
      () => `${r.pick(['0.1 + 0.2', '(filesize - filesize) + 0.3', '1.0 \\ 3.0 * 3.0', '1.0 + (filesize - filesize) * 1.0 + 0.0000000000000002'])} ${r.pick(['==', '!='])} ${r.pick(['0.3', '1.0'])}`,
      () => `${this.strExpr()} ${r.pick(['contains', 'icontains', 'startswith', 'istartswith', 'endswith', 'iendswith', 'iequals', '==', '!=', '<', '>'])} ${this.strExpr()}`,
      () => `${this.strExpr()} matches /${r.pick(['a', 'A+b', '^ab', 'b$', '[0-9]{3}', 'a.b', '^$', '(ab|ba)+', 'f0?', 'x*', '$', 'b$', '^'])}/${r.pick(['', 'i', 's', 'is'])}`,
      () => `defined ${r.pick([() => this.intExpr(depth), () => this.floatExpr(depth), () => this.strExpr()])()}`,
      // No `none` / `0` loop quantifiers: yara 4.2.3 makes those loops always true (see eval.ts).
      () => `for ${r.pick(['any', 'all', '1', '2', '3'])} i in (${r.pick(['0', '1', 'filesize - 3'])}..${r.pick(['3', '10', 'filesize'])}) : ( ${r.pick(['uint8(i)', 'i', 'i * filesize', 'int16(i)'])} ${cmp()} ${this.constInt()} )`,
      () => `for ${r.pick(['any', 'all', '1', '2'])} i in (${[r.int(0, 9), r.int(0, 70), this.constInt()].join(', ')}) : ( uint8(i) ${cmp()} ${r.int(0, 255)} )`,
      () => `${r.chance(0.5) ? this.intExpr(depth) : this.strExpr()}`,
      () => (r.chance(0.5) ? 'ext_bool' : 'not ext_bool'),
    ];
    if (earlier.length > 0) {
      opts.push(() => r.pick(earlier));
      opts.push(() => {
        const set = r.sample(earlier, r.int(1, 4));
        const q = r.pick(['any', 'all', 'none', String(r.int(0, set.length)), `${r.int(1, 100)}%`]);
        return `${q} of (${set.join(', ')})`;
      });
    }
    if (depth > 0) {
      opts.push(() => `(${this.boolExpr(depth - 1, earlier)} ${r.pick(['and', 'or'])} ${this.boolExpr(depth - 1, earlier)})`);
      opts.push(() => `not (${this.boolExpr(depth - 1, earlier)})`);
    }
    return r.pick(opts)();
  }
}

function generate(seed: number, count: number): { src: string; names: string[]; privates: Set<string> } {
  const rng = new Prng(seed);
  const gen = new Gen(rng);
  const names: string[] = [];
  const privates = new Set<string>();
  const lines = ['import "math"', 'import "hash"'];
  for (let i = 0; i < count; i++) {
    const name = `r${i}`;
    const priv = rng.chance(0.1);
    if (priv) privates.add(name);
    lines.push(`${priv ? 'private ' : ''}rule ${name} { condition: ${gen.boolExpr(2, names.slice(-20))} }`);
    names.push(name);
  }
  return { src: lines.join('\n') + '\n', names, privates };
}

test('evaluateRules agrees with yara on generated string-free conditions', { skip: !yaraAvailable() && 'yara is not installed: differential test of the evaluator skipped' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-eval-'));
  try {
    const { src, names, privates } = generate(SEED, COUNT);
    const rulesPath = join(dir, 'rules.yar');
    writeFileSync(rulesPath, src);
    const rules = compile(src, EXTERNALS, YARA_4_2_MODULES);
    const rng = new Prng(SEED ^ 0x5eed);
    const files: Uint8Array[] = [new Uint8Array(0), bytes('ABCDEFGH'), rng.bytes(64), rng.bytes(300), bytes('aAbB0123456789'.repeat(5))];
    const failures: string[] = [];
    files.forEach((data, k) => {
      const dataPath = join(dir, `data${k}.bin`);
      writeFileSync(dataPath, data);
      const y = spawnSync('yara', ['-w', ...DEFINE_ARGS, rulesPath, dataPath], { encoding: 'utf8' });
      assert.equal(y.status, 0, `yara failed on data${k}: ${y.stderr}`);
      const expected = new Set(y.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => l.split(' ')[0] ?? ''));
      const verdicts = evaluateRules(rules, {
        data,
        fileSize: data.length,
        matches: [],
        externals: EXTERNALS,
        scan: scanContext(data, { output: () => undefined, now: () => 0n }),
      });
      names.forEach((n, i) => {
        const mine = (verdicts[i] ?? false) && !privates.has(n);
        if (mine !== expected.has(n)) {
          const line = src.split('\n').find((l) => l.includes(`rule ${n} `)) ?? n;
          failures.push(`data${k} (${data.length} bytes): yara ${expected.has(n)}, vigil ${mine}: ${line}`);
        }
      });
    });
    assert.deepEqual(failures, [], `seed ${SEED}: ${failures.length} disagreements`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
