/**
 * Tests of the `.ldb` parser: every rule of load_oneldb and its helpers, one test each, and a
 * differential run in which a seeded generator writes valid and malformed lines for each rule and
 * clamscan decides whether it loads, skips or refuses each of them.
 *
 * Tests marked "[body]" go through the body-signature parser (`bodysig.ts`) for content
 * subsignatures; they check this parser's handling of them and are skipped while that parser is a stub.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyModifiers, fullwordHexText, parseByteCompare, parseLdb, widenHexText, type LdbContext } from './ldb.js';
import type { LdbContentSubsig } from './ldb-types.js';
import { parseBodyPattern } from './bodysig.js';
import type { Diagnostic } from '../../core/diagnostics.js';
import { mulberry32 as rng } from '../../../test/helpers/prng.js';

const BODY = parseBodyPattern('4142', { file: '', line: 0, column: 1 }).pattern !== undefined;
const NO_BODY = BODY ? false : 'needs the body-signature parser (bodysig.ts is a stub)';
const HAVE_CLAMSCAN = spawnSync('clamscan', ['--version'], { encoding: 'utf8' }).status === 0;
const NO_CLAMSCAN = HAVE_CLAMSCAN ? false : 'clamscan is not installed; differential test skipped';

/** No regex checker: this layer cannot import the engine's; pcre.test.ts checks regexes against clamscan. */
const CTX: LdbContext = { file: 'test.ldb', official: false };
const load = (text: string, ctx: Partial<LdbContext> = {}) => parseLdb(text, { ...CTX, ...ctx });
const errors = (ds: Diagnostic[]) => ds.filter((d) => d.severity === 'error');
const codes = (text: string) => errors(load(text).diagnostics).map((d) => d.code);
const names = (text: string) => load(text).sigs.map((s) => s.name);
/** A valid line around one target description block, expression and subsignature list. */
const line = (tdb: string, logic = '0', subs = '4142') => `S;${tdb};${logic};${subs}`;

describe('parseLdb: lines and fields', () => {
  test('parseLdb loads a signature with its name, block, expression, subsignatures and origin [body]', { skip: NO_BODY }, () => {
    const r = load('# comment\nSig.Name-1;Engine:51-255,Target:1;0&1;68656c6c6f;EP+0:776f726c64\n');
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.count, 1);
    const s = r.sigs[0]!;
    assert.equal(s.name, 'Sig.Name-1');
    assert.deepEqual(s.tdb, { engine: { min: 51, max: 255 }, target: 1 });
    assert.deepEqual(s.expr, { k: 'and', left: { k: 'sub', index: 0 }, right: { k: 'sub', index: 1 } });
    assert.deepEqual(s.subsigs.map((x) => x.k), ['content', 'content']);
    assert.deepEqual((s.subsigs[1] as LdbContentSubsig).offset, { kind: 'ep', n: 0, shift: 0 });
    assert.deepEqual(s.origin, { db: 'test.ldb', line: 2 });
  });

  test('parseLdb allows colons in signature names [body]', { skip: NO_BODY }, () => {
    assert.deepEqual(names('Clam-VI-Test:Target;Engine:52-255,Target:0;0;4142'), ['Clam-VI-Test:Target']);
  });

  test('parseLdb accepts CRLF line ends and ignores text after a NUL byte [body]', { skip: NO_BODY }, () => {
    assert.deepEqual(names('A;Target:0;0;4142\r\nB;Target:0;0;4142\0garbage\n'), ['A', 'B']);
  });

  test('parseLdb refuses an empty file and a blank line', () => {
    assert.deepEqual(codes(''), ['clamav.db.empty']);
    assert.deepEqual(codes('# only a comment\n'), []);
    const r = load('A;Target:0;0;4142\n\nB;Target:0;0;4142\n');
    assert.deepEqual(errors(r.diagnostics).map((d) => [d.code, d.location?.line]), [['clamav.ldb.field-count', 2]]);
  });

  test('parseLdb refuses a line with fewer than four fields', () => {
    const d = errors(load('A;Target:0;0').diagnostics)[0]!;
    assert.equal(d.code, 'clamav.ldb.field-count');
    assert.match(d.message, /found 3 fields/);
  });

  test('parseLdb reads lines in pieces of 32768 bytes, so a line that long fails [body]', { skip: NO_BODY }, () => {
    const head = 'AB;Target:0;0;';
    const fits = `${head}${'41'.repeat((32766 - head.length) / 2)}`;
    assert.equal(fits.length, 32766);
    assert.deepEqual(codes(`${fits}\n`), []);
    const long = `${head}${'41'.repeat((32768 - head.length) / 2)}`;
    assert.equal(long.length, 32768);
    const r = load(`${long}\n`);
    const d = errors(r.diagnostics)[0]!;
    assert.equal(d.code, 'clamav.ldb.field-count');
    assert.equal(d.location?.line, 1);
    assert.equal(d.location?.column, 32769);
    assert.match(d.help ?? '', /pieces of 32768 bytes/);
  });

  test('parseLdb refuses a subsignature count that does not match the expression, naming a trailing semicolon', () => {
    const d = errors(load('A;Target:0;0&1;4142;4344;').diagnostics)[0]!;
    assert.equal(d.code, 'clamav.ldb.subsig-count');
    assert.match(d.message, /trailing/);
    assert.deepEqual(codes('A;Target:0;0&2;4142;4344'), ['clamav.ldb.subsig-count']);
  });

  test('parseLdb refuses more than 64 subsignatures', () => {
    const subs = Array.from({ length: 65 }, () => '4142').join(';');
    assert.deepEqual(codes(`A;Target:0;0|64;${subs}`), ['clamav.ldb.too-many-subsigs']);
  });

  test('parseLdb refuses an invalid logical expression with its column', () => {
    const d = errors(load('A;Target:0;0&(1;4142;4344').diagnostics)[0]!;
    assert.equal(d.code, 'clamav.ldb.logic');
    assert.ok(d.location!.column >= 12 && d.location!.column <= 15);
  });

  test('parseLdb reports every bad line, not only the first', () => {
    assert.deepEqual(codes('A;Target:0\nB;Target:0;0;4142;4344\nC;Target:0;0\n'), ['clamav.ldb.field-count', 'clamav.ldb.subsig-count', 'clamav.ldb.field-count']);
  });

  test('parseLdb refuses an empty name, also when only " (Clam)" remains', () => {
    assert.deepEqual(codes(';Target:0;0;4142'), ['clamav.ldb.empty-name']);
    assert.deepEqual(codes(' (Clam);Target:0;0;4142'), ['clamav.ldb.empty-name']);
  });

  test('parseLdb drops ignored signatures before reading their expression', () => {
    const seen: string[][] = [];
    const ignore = { ignores: (name: string, text: string) => { seen.push([name, text]); return name === 'Bad'; } };
    const r = load('Bad;Target:0;0&((;4142\r\n', { ignore });
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(seen, [['Bad', 'Bad;Target:0;0&((;4142']]);
  });
});

describe('parseLdb: target description block', () => {
  test('parseLdb requires Engine to come first', () => {
    assert.deepEqual(codes(line('Target:0,Engine:51-255')), ['clamav.ldb.engine-position']);
  });

  test('parseLdb requires Engine ≥ 51 for attributes other than Target', () => {
    assert.deepEqual(codes(line('Target:0,FileSize:1-100')), ['clamav.ldb.engine-required']);
    assert.deepEqual(codes(line('Engine:50-255,Target:0,FileSize:1-100')), ['clamav.ldb.engine-required']);
  });

  test('parseLdb requires a Target [body]', { skip: NO_BODY }, () => {
    assert.deepEqual(codes(line('Engine:51-255')), ['clamav.ldb.no-target']);
    assert.deepEqual(names(line('Engine:51-255,Target:')), ['S']); // empty counts as 0
  });

  test('parseLdb silently skips unknown attributes and unknown file types', () => {
    for (const tdb of ['Engine:51-255,Target:0,Bogus:1', 'Engine:51-255,Target:0,Container:CL_TYPE_NOPE', 'Engine:51-255,Target:0,Intermediates:CL_TYPE_ZIP>CL_TYPE_NOPE', 'Engine:51-255,Bogus:1,Target:x']) {
      const r = load(line(tdb));
      assert.deepEqual([r.sigs.length, r.diagnostics], [0, []], tdb);
    }
  });

  test('parseLdb skips a signature whose Engine range excludes level 216 or whose target is 15 or more', () => {
    for (const tdb of ['Engine:217-255,Target:0', 'Engine:51-215,Target:0', 'Engine:51-255,Target:15', 'Target:4294967295']) {
      const r = load(line(tdb));
      assert.deepEqual([r.sigs.length, r.diagnostics], [0, []], tdb);
    }
  });

  test('parseLdb still checks the expression of a signature it skips, but not its subsignatures', () => {
    assert.deepEqual(codes(line('Engine:300-400,Target:0', '0&(')), ['clamav.ldb.logic']);
    assert.deepEqual(codes(line('Engine:300-400,Target:0', '0', 'zz')), []);
  });

  test('parseLdb refuses malformed values', () => {
    assert.deepEqual(codes(line('Engine:51')), ['clamav.ldb.tdb-range']);
    assert.deepEqual(codes(line('Engine:51-x,Target:0')), ['clamav.ldb.tdb-value']);
    assert.deepEqual(codes(line('Target:0x1')), ['clamav.ldb.tdb-value']);
    assert.deepEqual(codes(line('Target:0,Oops')), ['clamav.ldb.tdb-format']);
    assert.deepEqual(codes(line('')), ['clamav.ldb.tdb-format']);
  });

  test('parseLdb allows EntryPoint and NumberOfSections only for executable targets, IconGroup only for PE', () => {
    assert.deepEqual(codes(line('Engine:51-255,Target:0,EntryPoint:1-2')), ['clamav.ldb.exec-target']);
    assert.deepEqual(codes(line('Engine:51-255,Target:7,NumberOfSections:1-2')), ['clamav.ldb.exec-target']);
    assert.deepEqual(codes(line('Engine:51-255,Target:6,IconGroup1:x')), ['clamav.ldb.icon-target']);
  });

  test('parseLdb keeps the last of repeated attributes and ignores attributes after the tenth [body]', { skip: NO_BODY }, () => {
    const r = load(line('Engine:51-255,Target:0,Target:7,FileSize:1-2,FileSize:3-4'));
    assert.deepEqual(r.sigs[0]!.tdb, { engine: { min: 51, max: 255 }, target: 7, fileSize: { min: 3, max: 4 } });
    const many = ['Engine:51-255', 'Target:0', ...Array.from({ length: 8 }, () => 'FileSize:1-100'), 'Bogus:1'].join(',');
    assert.equal(load(line(many)).sigs.length, 1);
  });

  test('parseLdb reads numbers as atoi into 32 bits, so Target:4294967296 is target 0 [body]', { skip: NO_BODY }, () => {
    assert.equal(load(line('Target:4294967296')).sigs[0]?.tdb.target, 0);
  });

  test('parseLdb reads Container, Intermediates, HandlerType and icon groups [body]', { skip: NO_BODY }, () => {
    const r = load(line('Engine:51-255,Target:1,Container:CL_TYPE_ZIP,Intermediates:CL_TYPE_ZIP>CL_TYPE_ANY,HandlerType:CL_TYPE_MSEXE,IconGroup1:a,IconGroup2:b'));
    assert.deepEqual(r.sigs[0]!.tdb, {
      engine: { min: 51, max: 255 }, target: 1, container: 'CL_TYPE_ZIP', intermediates: ['CL_TYPE_ZIP', 'CL_TYPE_ANY'],
      handlerType: 'CL_TYPE_MSEXE', iconGroup1: 'a', iconGroup2: 'b',
    });
  });
});

describe('parseLdb: subsignatures', () => {
  test('parseLdb reads macro subsignatures and warns about one at index 0 [body]', { skip: NO_BODY }, () => {
    const r = load('A;Engine:51-255,Target:0;0&1;4142;${6-7}12$');
    assert.deepEqual(r.sigs[0]!.subsigs[1], { k: 'macro', min: 6, max: 7, group: 12 });
    assert.deepEqual(codes('A;Target:0;0&1;4142;${6-7}32$'), ['clamav.ldb.macro']);
    assert.deepEqual(codes('A;Target:0;0&1;4142;${6-7}12'), ['clamav.ldb.macro']);
    assert.deepEqual(codes('A;Target:0;0&1;4142;${6-x}12$'), ['clamav.ldb.macro']);
    assert.equal(load('A;Target:0;0;${1-2}3$').diagnostics[0]?.code, 'clamav.ldb.macro-first');
  });

  test('parseLdb reads a PCRE subsignature with offset, trigger and flags [body]', { skip: NO_BODY }, () => {
    const r = load('A;Engine:81-255,Target:0;0&1;68656c6c6f20;5:0/llo; blee:x/gre');
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(r.sigs[0]!.subsigs[1], { k: 'pcre', trigger: { k: 'sub', index: 0 }, offset: { kind: 'abs', n: 5, shift: 0 }, source: 'llo; blee:x', flags: 'gre' });
  });

  test('parseLdb refuses PCRE triggers that refer to the subsignature itself or a later one', () => {
    assert.deepEqual(codes('A;Target:0;0&1;4142;1/x/'), ['clamav.ldb.pcre-trigger']);
    assert.deepEqual(codes('A;Target:0;0&1&2;4142;2/x/;4344'), ['clamav.ldb.pcre-trigger']);
    assert.deepEqual(codes('A;Target:0;0&1;4142;/x/'), ['clamav.ldb.pcre-trigger']);
    assert.deepEqual(codes('A;Target:0;0&1;4142;0&(/x/'), ['clamav.ldb.logic']);
  });

  test('parseLdb refuses malformed PCRE subsignatures', () => {
    assert.deepEqual(codes('A;Target:0;0&1;4142;0//'), ['clamav.ldb.pcre-empty']);
    assert.deepEqual(codes('A;Target:0;0&1;4142;0/x/q'), ['clamav.ldb.pcre-flag']);
    assert.deepEqual(codes('A;Target:0;0&1;4142;EP+0:0/x/'), ['clamav.offset.target']);
    assert.deepEqual(codes('A;Target:0;0&1;4142;0/x('), ['clamav.ldb.pcre-delimiter']);
  });

  test('parseLdb ignores ::modifiers after a PCRE subsignature, as ClamAV does [body]', { skip: NO_BODY }, () => {
    const r = load('A;Target:0;0&1;4142;0/x/::i');
    assert.deepEqual(r.diagnostics, []);
    assert.equal((r.sigs[0]!.subsigs[1] as { flags: string }).flags, '');
  });

  test('parseLdb does not split the offset off a PCRE subsignature of a signature named YARA… [body]', { skip: NO_BODY }, () => {
    const r = load('YARA.x;Target:0;0&1;4142;0/a:b/');
    assert.equal((r.sigs[0]!.subsigs[1] as { source: string }).source, 'a:b');
  });

  test('parseLdb asks ctx.checkPcre about each regex, refusing on errors and dropping the signature on warnings [body]', { skip: NO_BODY }, () => {
    const seen: string[][] = [];
    const checkPcre = (pattern: string, flags: string) => {
      seen.push([pattern, flags]);
      if (pattern === 'bad') return [{ severity: 'error' as const, code: 'clamav.pcre.syntax', message: 'no', at: 1 }];
      if (pattern === 'odd') return [{ severity: 'warning' as const, code: 'clamav.pcre.unsupported', message: 'hmm', at: 0 }];
      return [];
    };
    const r = load('A;Target:0;0&1;4142;0/bad/i\nB;Target:0;0&1;4142;0/odd/\nC;Target:0;0&1;4142;0/fine/g\n', { checkPcre });
    assert.deepEqual(seen, [['bad', 'i'], ['odd', ''], ['fine', 'g']]);
    assert.deepEqual(r.sigs.map((x) => x.name), ['C']);
    assert.deepEqual(r.diagnostics.map((d) => [d.severity, d.code, d.location?.line, d.location?.column]), [
      ['error', 'clamav.pcre.syntax', 1, 'A;Target:0;0&1;4142;0/b'.length + 1],
      ['warning', 'clamav.pcre.unsupported', 2, 'B;Target:0;0&1;4142;0/'.length + 1],
    ]);
  });

  test('parseLdb reads byte-compare subsignatures [body]', { skip: NO_BODY }, () => {
    const r = load('BC.Dec;Engine:101-255,Target:0;0&1;4d5a;0(>>3#de4#>1000,<2000)');
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(r.sigs[0]!.subsigs[1], { k: 'bytecmp', trigger: { k: 'sub', index: 0 }, ref: 0, dir: '>>', off: 3, base: 'd', endian: 'b', exact: true, len: 4, cmps: [{ op: '>', value: 1000n }, { op: '<', value: 2000n }] });
  });

  test('parseByteCompare applies every ClamAV validation', () => {
    const bad = ['x(>>2#ib2#=1)', '65(>>2#ib2#=1)', '0(>>2#ib2#=1', '0(>>2#ib2)', '0(>>2#ib2#=1#2)', '0(<>2#ib2#=1)', '0(>2#ib2#=1)', '0(1#ib2#=1)',
      '0(>>2x#ib2#=1)', '0(>>08#ib2#=1)', '0(>>2#hd2#=1)', '0(>>2#dl2#=1)', '0(>>2#lb2#=1)', '0(>>2#q2#=1)', '0(>>2#ib#=1)', '0(>>2#ib0#=1)',
      '0(>>2#ib3#=1)', '0(>>2#ib16#=1)', '0(>>2#hb19#=1)', '0(>>2#ib2#1)', '0(>>2#ib2#=x)', '0(>>2#ib2#=1,=2,=3)', '0(>>2#ib2#=0x)', '0(>>2#ib2#=5 )'];
    for (const t of bad) assert.ok('error' in parseByteCompare(t), t);
    const good = ['0(>>2#ib2#=1)', '64(>>2#ib2#=1)', '-1(>>2#ib2#=1)', ' 1(>>2#ib2#=1)', '0(#ib2#=1)', '0(0x10#ib2#=1)', '0(>>#ib2#=1)', '0(<<-3#ib2#=1)',
      '0(>>0x10#hb18#=1)', '0(>>2#ib2#=)', '0(>>2#ib2#= 5)', '0(>>2#ib2#=0x10,<-1)', '0(>>2#2#=1)', '0(>>2#dbb2#=1)', '0(>>2#ae99#>1)', '0(>>2#ib010#=1)', '0(>>2#ib2#=1)tail'];
    for (const t of good) assert.ok('subsig' in parseByteCompare(t), t);
    const p = parseByteCompare('0(<<-3#ib010#=0x10)');
    assert.ok('subsig' in p);
    assert.deepEqual([p.subsig.off, p.subsig.len, p.subsig.cmps[0]!.value], [3, 8, 16n]);
  });

  test('parseLdb reads image fuzzy hash subsignatures, refusing a non-zero distance [body]', { skip: NO_BODY }, () => {
    const r = load('logo.png;Engine:150-255,Target:0;0;fuzzy_img#af2ad01ed42993c7#0');
    assert.deepEqual(r.sigs[0]!.subsigs[0], { k: 'fuzzyImg', hash: 'af2ad01ed42993c7', distance: 0 });
    assert.deepEqual(codes('A;Target:0;0;fuzzy_img#af2ad01ed42993c7#1'), ['clamav.ldb.fuzzy']);
    assert.deepEqual(codes('A;Target:0;0;fuzzy_img#af2ad01ed42993c'), ['clamav.ldb.fuzzy']);
    assert.deepEqual(codes('A;Target:0;0;fuzzy_img#af2ad01ed42993cz'), ['clamav.ldb.fuzzy']);
  });

  test('parseLdb reads the offset and modifier fields of content subsignatures [body]', { skip: NO_BODY }, () => {
    const subs = (s: string) => load(`A;Target:0;0;${s}`).sigs[0]?.subsigs[0] as LdbContentSubsig | undefined;
    assert.deepEqual(subs('10,5:4142')?.offset, { kind: 'abs', n: 10, shift: 5 });
    assert.deepEqual(subs('4142::i')?.mods, { nocase: true, wide: false, ascii: false, fullword: false });
    assert.deepEqual(subs('4142:anything:i')?.mods.nocase, true);
    assert.deepEqual(subs('3:4142::wa')?.variants.length, 2);
    assert.deepEqual(codes('A;Target:0;0;4142::q'), ['clamav.ldb.modifier']);
  });

  test('parseLdb builds the wide form ClamAV matches for ::w, so a single byte is enough [body]', { skip: NO_BODY }, () => {
    const r = load('A;Target:0;0;41::w');
    assert.deepEqual(r.diagnostics, []);
    const sub = r.sigs[0]!.subsigs[0] as LdbContentSubsig;
    assert.deepEqual(sub.pattern.parts, [[{ k: 'byte', value: 0x41, mask: 0xff }, { k: 'byte', value: 0, mask: 0xff }]]);
    assert.equal(sub.pattern.source, '41');
  });

  test('parseLdb refuses negated alternatives with any modifier [body]', { skip: NO_BODY }, () => {
    assert.deepEqual(codes('A;Target:0;0;!(41|42)4344'), []);
    for (const m of ['a', 'w', 'f']) assert.deepEqual(codes(`A;Target:0;0;!(41|42)4344::${m}`), ['clamav.ldb.modifier-negation'], m);
    assert.equal(codes('A;Target:0;0;!(41|42)4344::i').length, 1);
  });

  test('parseLdb refuses an alternative starting with an upper-case B under ::w [body]', { skip: NO_BODY }, () => {
    assert.deepEqual(codes('A;Target:0;0;4142(B0|B1)::w'), ['clamav.ldb.modifier-text']);
    assert.deepEqual(codes('A;Target:0;0;4142(b0|b1)::w'), []);
  });

  test('applyModifiers returns the variants parseLdb stored, and is idempotent [body]', { skip: NO_BODY }, () => {
    assert.deepEqual(codes('A;Target:0;0;4142[2-3]43::f'), ['clamav.body.too-short']); // [2-3] became {2-3}: "43(W)" is too short
    const sub2 = load('A;Target:0;0;4142{2-3}4344::iwfa').sigs[0]!.subsigs[0] as LdbContentSubsig;
    assert.deepEqual(applyModifiers(sub2.pattern, sub2.mods), sub2.variants);
    assert.equal(sub2.variants.length, 2);
    const wide = sub2.variants[0]!;
    assert.deepEqual(wide.parts[0]![0], { k: 'class', cls: 'W', negated: false, edge: 'left', wide: true });
    assert.deepEqual(wide.parts[0]![1], { k: 'byte', value: 0x61, mask: 0xff, nocase: true });
    assert.equal(sub2.variants[1]!.parts[0]![0]!.k, 'class');
    assert.equal((sub2.variants[1]!.parts[0]![0] as { wide?: boolean }).wide, undefined);
  });

  test('widenHexText adds 00 after every two-character element but keeps {n} and turns [x-y] into {x-y}', () => {
    assert.deepEqual(widenHexText('4142??a?{5}43[2-4]44*(45|46)!(47|48)(B)49'), { text: '41004200??00a?00{5}4300{2-4}4400*(4500|4600)!(4700|4800)(B)4900' });
    assert.deepEqual(widenHexText('414'), { text: '41004' });
    assert.ok('error' in widenHexText('4142('));
  });

  test('fullwordHexText wraps in (W) and turns [x-y] into {x-y}', () => {
    assert.deepEqual(fullwordHexText('41[2-4]4243'), { text: '(W)41{2-4}4243(W)' });
    assert.ok('error' in fullwordHexText('41[2-44243'));
  });

  test('parseLdb places diagnostics on the offending field', () => {
    const d = errors(load('A;Engine:51-255,Target:0;0&1;4142;0(>>2#ib3#=1)').diagnostics)[0]!;
    assert.equal(d.code, 'clamav.ldb.bytecmp-length');
    assert.equal(d.location?.column, 'A;Engine:51-255,Target:0;0&1;4142;0(>>2#ib'.length + 1);
    const t = errors(load('A;Engine:51-255,Target:0,FileSize:1;0;4142').diagnostics)[0]!;
    assert.equal(t.location?.column, 'A;Engine:51-255,Target:0,FileSize:'.length + 1);
  });
});

// ───────────────────────────── differential test ─────────────────────────────


/** Seeded lines for every rule: each a database file of its own. */
function generateCases(r: () => number): { rule: string; text: string }[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: { rule: string; text: string }[] = [];
  const add = (rule: string, text: string) => out.push({ rule, text });
  const mutate = (s: string): string => {
    const i = Math.floor(r() * (s.length + 1));
    const x = r();
    if (x < 0.4) return s.slice(0, i) + pick(['(', ')', '&', '|', '=', '>', '<', ',', '1', '0', ' ', 'a']) + s.slice(i);
    if (x < 0.8 && s.length > 1) return s.slice(0, i) + s.slice(i + 1);
    return s + pick(['>1', '=0', ',2', ')', '(']);
  };
  const subsFor = (n: number) => Array.from({ length: n }, (_, i) => (0x41 + (i % 26)).toString(16) + '42').join(';');

  // fields and lines
  for (const t of ['A', 'A;Target:0', 'A;Target:0;0', 'A;Target:0;0;4142;', 'A;Target:0;0&1;4142;4344;', '', ';;;', 'A;;0;4142']) add('fields', t);
  // logical expressions, valid and mutated, with the matching or a wrong number of fields
  const exprs = ['0', '0&1', '0|1', '0&1|2', '(0&1|2)', '((0|1|2)>5,2)&(3|1)', '0&1=0', '(0|1)>1,2', '0>1,5', '0(1)5', '(0)>1', '(0)', '((0))', '0abc', ' 0', '+0', '0|4294967296', '(0|1)(2|3)', '0&&1', '0|(1&2)=1', '(0|1)=1&2', '((0|1)=1|2)>0,1', '0=1,2', '(0&1)>0,', '0>', '0x1'];
  for (let i = 0; i < 50; i++) {
    let e = pick(exprs);
    if (r() < 0.6) e = mutate(e);
    if (/\d{6}/.test(e)) continue;
    const max = Math.max(0, ...[...e.matchAll(/\d+/g)].map((m) => Math.min(70, Number(m[0]))));
    const n = Math.max(1, max + 1 + (r() < 0.15 ? pick([-1, 1]) : 0));
    add('logic', `A;Target:0;${e};${subsFor(n)}`);
  }
  // target description blocks
  const attrs = ['Engine:51-255', 'Engine:300-400', 'Engine:0-50', 'Engine:51-', 'Engine:-255', 'Engine:51', 'Engine:5x-255', 'Target:0', 'Target:1', 'Target:6',
    'Target:15', 'Target:', 'Target:x', 'Target:4294967296', 'FileSize:1-100', 'FileSize:100', 'EntryPoint:0-100', 'NumberOfSections:1-3', 'Container:CL_TYPE_ZIP',
    'Container:CL_TYPE_FOO', 'Intermediates:CL_TYPE_ZIP>CL_TYPE_ANY', 'Intermediates:CL_TYPE_ZIP>>CL_TYPE_ANY', 'HandlerType:CL_TYPE_MSEXE', 'IconGroup1:grp',
    'Bogus:1', 'NoColon', 'Target:0:1', 'engine:51-255'];
  for (let i = 0; i < 60; i++) {
    const n = 1 + Math.floor(r() * 4);
    const list = Array.from({ length: n }, () => pick(attrs));
    if (r() < 0.5) list.unshift('Engine:51-255');
    add('tdb', line(list.join(',')));
  }
  add('tdb', line(['Engine:51-255', 'Target:0', ...Array.from({ length: 8 }, () => 'FileSize:1-100'), 'Bogus:1'].join(',')));
  add('tdb', line(['Engine:51-255', 'Target:0', ...Array.from({ length: 7 }, () => 'FileSize:1-100'), 'Bogus:1'].join(',')));
  add('tdb', line(`Engine:51-255,Target:0,Intermediates:${Array.from({ length: 16 }, () => 'CL_TYPE_ZIP').join('>')}>CL_TYPE_NOPE`));
  // names
  for (const n of ['', ' (Clam)', 'A (Clam)', 'A:B:C', 'YARA.x', 'Name with spaces']) add('name', `${n};Target:0;0;4142`);
  // macro subsignatures
  for (const m of ['${1-2}3$', '${1-2}31$', '${1-2}32$', '${1-2}3', '$', '${a-2}3$', '${ 1- 2} 3$', '${1-2}3x$', '${2-1}0$']) {
    add('macro', `A;Engine:51-255,Target:0;0&1;4142;${m}`);
    if (r() < 0.3) add('macro', `A;Engine:51-255,Target:0;0;${m}`);
  }
  // PCRE subsignatures
  for (const p of ['0/abc/', '0/abc/gre', '0/abc/ismxAEU', '0/abc/q', '0/abc', '/abc/', '0//', '/abc/i', '1/abc/', '0&1/abc/', '(0/abc/', '5:0/abc/', 'EOF-5:0/abc/',
    'EP+0:0/abc/', 'x:0/abc/', '0/a;b/', '0/a:b/', '0/a\\/b/', '0/abc/::i', '0/abc/:x:y', '3:4:0/abc/']) {
    add('pcre', `A;Engine:81-255,Target:0;0&1;4142;${p}`);
  }
  add('pcre', 'YARA.p;Engine:81-255,Target:0;0&1;4142;5:0/abc/');
  // byte compare subsignatures
  const trig = ['0', '1', '65', '-1', ' 0', 'x', ''];
  const dirs = ['>>', '<<', '<>', '>', '0', '', 'x', '>>0x'];
  const offs = ['2', '0x10', '08', '010', '-1', ''];
  const optChars = 'hdialbe';
  const lens = ['1', '2', '4', '8', '3', '9', '18', '19', '0', '0x2', '010', '08', ''];
  const cmpV = ['=1', '>0x10', '<-5', '=', '= 5', '=5 ', 'x1', '=0x', '=1,>2', '=1,>2,<3', ',=1', '=1,'];
  for (let i = 0; i < 70; i++) {
    let opts = '';
    const k = Math.floor(r() * 4);
    for (let j = 0; j < k; j++) opts += pick([...optChars]);
    const d = pick(dirs);
    const text = `${pick(trig)}(${d}${d === '0' || d === '' ? '' : pick(offs)}#${opts}${pick(lens)}#${pick(cmpV)})${r() < 0.1 ? 'tail' : ''}`;
    add('bytecmp', `A;Engine:101-255,Target:0;0&1;4142;${text}`);
  }
  // fuzzy image hashes
  for (const f of ['fuzzy_img#af2ad01ed42993c7', 'fuzzy_img#af2ad01ed42993c7#0', 'fuzzy_img#af2ad01ed42993c7#1', 'fuzzy_img#af2ad01ed42993c7#+0', 'fuzzy_img#af2ad01ed42993c7#x',
    'fuzzy_img#af2ad01ed42993c', 'fuzzy_img#AF2AD01ED42993C7', 'fuzzy_img#af2ad01ed42993cz', 'fuzzy_img#af2ad01ed42993c7#0#9']) {
    add('fuzzy', `A;Engine:150-255,Target:0;0;${f}`);
  }
  // content subsignatures and modifiers
  const hexes = ['4142', '41', '414243', '41424', '41zz', '!(41|42)4344', '4142(B0|B1)', '4142(b0|b1)', '41[2-4]4243', '4142[1-2]43', '(W)4142', '4142??43', '41{3}4243', '4142*4344', '(41|4243)4445'];
  const mods = ['', '', '::i', '::w', '::a', '::f', '::wa', '::iwfa', '::fw', '::x', '::', ':x:i', '::W'];
  const cOffs = ['', '', '0:', '10,5:', 'EOF-3:', 'EP+0:', 'x:', '*:'];
  for (let i = 0; i < 70; i++) add('content', `A;Engine:81-255,Target:${pick(['0', '0', '1'])};0;${pick(cOffs)}${pick(hexes)}${pick(mods)}`);
  for (const s of ['4142:4344:4546:4748:4950', 'a:b:c:d:e', '0:4142:x:i']) add('content', `A;Engine:81-255,Target:0;0;${s}`);
  // whole files
  add('file', '# just a comment\n');
  add('file', 'A;Target:0;0;4142\r\nB;Target:0;0;4344\r\n');
  add('file', 'A;Target:0;0;4142\n\nB;Target:0;0;4344\n');
  add('file', 'A;Target:0;0;4142\0;garbage\n');
  const head = 'A;Target:0;0;';
  for (const n of [32766, 32767, 32768, 32769]) add('file', `${head}${'41'.repeat(Math.floor((n - head.length) / 2))}${(n - head.length) % 2 ? '#' : ''}\n`);
  return out;
}

describe('parseLdb against clamscan', () => {
  test('parseLdb loads, skips and refuses exactly the generated lines clamscan does', { skip: NO_CLAMSCAN }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-ldb-'));
    try {
      const sample = join(dir, 'sample.bin');
      writeFileSync(sample, 'nothing to see here\x01\x02\n');
      const db = join(dir, 'case.ldb');
      const wrong: string[] = [];
      const cases = generateCases(rng(0x1db));
      for (const c of cases) {
        writeFileSync(db, c.text.includes('\n') ? c.text : `${c.text}\n`, 'latin1');
        const res = spawnSync('clamscan', ['--max-scantime=5000', '-d', db, sample], { encoding: 'latin1' });
        const refused = res.status === 2;
        const known = Number(/Known viruses: (\d+)/.exec(res.stdout)?.[1] ?? -1);
        const ours = parseLdb(c.text.includes('\n') ? c.text : `${c.text}\n`, CTX);
        const oursRefused = ours.diagnostics.some((d) => d.severity === 'error');
        const shown = c.text.length > 120 ? `${c.text.slice(0, 120)}…` : c.text;
        if (res.status !== 0 && res.status !== 1 && res.status !== 2) wrong.push(`[${c.rule}] ${JSON.stringify(shown)}: clamscan exited ${res.status}`);
        else if (refused !== oursRefused) {
          wrong.push(`[${c.rule}] ${JSON.stringify(shown)}: clamscan ${refused ? 'refuses' : 'loads'}, we ${oursRefused ? `refuse (${errors(ours.diagnostics).map((d) => d.message).join('; ')})` : 'load'}`);
        } else if (!refused && known !== ours.count) {
          wrong.push(`[${c.rule}] ${JSON.stringify(shown)}: clamscan loads ${known} signatures, we load ${ours.count}`);
        }
      }
      assert.deepEqual(wrong, []);
      assert.ok(cases.length > 300);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
