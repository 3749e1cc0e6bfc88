/**
 * Differential test of the YARA parser against the `yara` command: seeded rule files in, agreement
 * on "is this file syntactically valid" out.
 *
 * A seeded generator (test/helpers/prng.ts) writes rule files of two kinds: valid ones that are
 * also semantically valid (every string used, modules imported only when used, rules referenced
 * only after their definition, no constant division by zero or overflow), and broken ones, each
 * with one deliberate syntax error from a catalogue or one random token deleted from a valid file.
 * `yara -w FILE /dev/null` compiles each file; vigil's parser must report an error exactly when
 * yara reports a syntax-class error (token deletion can also produce a semantic error, such as an
 * unused string, which is the later checker's business: those cases count as agreement when
 * vigil accepts). The generator uses only syntax that yara 4.2.3 (the installed oracle) knows:
 * no hex `~`, no `of … at`, no `none` and no percentages in `for`.
 *
 * Environment: VIGIL_YARA_DIFF_SEED (number) replays a run; VIGIL_YARA_DIFF_COUNT sets the number
 * of files (default 240). Skipped with a message when `yara` is not on PATH.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../../test/helpers/prng.js';
import { parseYara } from './parser.js';
import { tokenize } from './lexer.js';

const SEED = Number(process.env.VIGIL_YARA_DIFF_SEED ?? '20261129') >>> 0;
const COUNT = Number(process.env.VIGIL_YARA_DIFF_COUNT ?? '240');

function yaraAvailable(): boolean {
  const r = spawnSync('yara', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

interface Ctx {
  rng: Prng;
  strings: string[];
  earlierRules: string[];
  usesPe: boolean;
  usesMath: boolean;
  loopVars: string[];
}

function intLiteral(rng: Prng): string {
  const v = rng.int(1, 300);
  return rng.weighted<string>([
    [String(v), 6],
    ['0x' + v.toString(16), 2],
    ['0o' + v.toString(8), 1],
    [`${rng.int(1, 9)}KB`, 1],
    [`${rng.int(1, 3)}MB`, 1],
  ]);
}

function intExpr(c: Ctx, depth: number): string {
  const rng = c.rng;
  if (depth <= 0 || rng.chance(0.4)) {
    const atoms: [() => string, number][] = [
      [() => intLiteral(rng), 5],
      [() => 'filesize', 2],
      [() => `uint${rng.pick(['8', '16', '32', '16be', '32be'])}(${rng.int(0, 64)})`, 2],
      [() => `int${rng.pick(['8', '16', '32'])}(${rng.int(0, 64)})`, 1],
    ];
    if (c.strings.length > 0) {
      const s = rng.pick(c.strings).slice(1);
      atoms.push([() => `#${s}`, 2], [() => `@${s}[${rng.int(1, 3)}]`, 1], [() => `!${s}[1]`, 1], [() => `#${s} in (0..${rng.int(1, 100)})`, 1]);
    }
    if (c.loopVars.length > 0) atoms.push([() => rng.pick(c.loopVars), 2]);
    if (c.usesPe) atoms.push([() => 'pe.number_of_sections', 1]);
    if (c.usesMath) atoms.push([() => 'math.mode(0, 8)', 1]);
    return rng.weighted(atoms)();
  }
  const op = rng.pick(['+', '-', '*', '\\', '%', '&', '|', '^', '<<', '>>', 'neg', 'bnot', 'paren']);
  if (op === 'neg') return `-${intAtomForUnary(c, depth)}`;
  if (op === 'bnot') return `~${intAtomForUnary(c, depth)}`;
  if (op === 'paren') return `(${intExpr(c, depth - 1)})`;
  const right = op === '\\' || op === '%' || op === '<<' || op === '>>' ? String(rng.int(1, 7)) : intExpr(c, depth - 1);
  // A shift's literal right operand must stay its operand whatever surrounds the result.
  const e = `${intExpr(c, depth - 1)} ${op} ${right}`;
  return op === '<<' || op === '>>' ? `(${e})` : e;
}

function intAtomForUnary(c: Ctx, depth: number): string {
  return c.rng.chance(0.5) ? String(c.rng.int(1, 50)) : `(${intExpr(c, depth - 1)})`;
}

function boolExpr(c: Ctx, depth: number): string {
  const rng = c.rng;
  const choices: [() => string, number][] = [
    [() => rng.pick(['true', 'false']), 1],
    [() => `${intExpr(c, 2)} ${rng.pick(['==', '!=', '<', '<=', '>', '>='])} ${intExpr(c, 2)}`, 5],
    [() => `"${rng.word(1, 5)}" ${rng.pick(['contains', 'icontains', 'startswith', 'istartswith', 'endswith', 'iendswith', 'iequals', '==', '!='])} "${rng.word(1, 3)}"`, 1],
    [() => `"${rng.word(1, 5)}" matches /${rng.word(1, 3)}[a-c]+/${rng.pick(['', 'i', 's', 'is'])}`, 1],
    [() => `defined ${intExpr(c, 1)}`, 1],
    [() => `1.5 ${rng.pick(['<', '>', '=='])} ${rng.int(0, 3)}`, 1],
    [() => `for ${rng.pick(['any', 'all', '1', '2'])} i in (${rng.int(0, 3)}..${rng.int(3, 6)}) : (i ${rng.pick(['>', '<', '=='])} ${rng.int(0, 5)})`, 1],
    [() => `for any k in (1, 2, ${rng.int(3, 9)}) : (k == ${rng.int(1, 3)})`, 1],
  ];
  if (c.strings.length > 0) {
    const s = rng.pick(c.strings);
    choices.push(
      [() => s, 3],
      [() => `${s} at ${intExpr(c, 1)}`, 1],
      [() => `${s} in (0..${rng.int(10, 1000)})`, 1],
      [() => `${rng.pick(['any', 'all', '1', '2'])} of them`, 2],
      [() => `any of (${c.strings.slice(0, rng.int(1, c.strings.length)).join(', ')})`, 1],
      [() => `${rng.pick(['any', 'all'])} of ($${'*'})`, 1],
      [() => `${rng.int(1, 99)}% of them`, 1],
      [() => `none of them`, 1],
      [() => `any of them in (0..${rng.int(10, 100)})`, 1],
      [() => `for ${rng.pick(['any', 'all', '1'])} of them : ($ ${rng.chance(0.5) ? 'at 0' : ''})`, 1],
      [() => `for all of (${s}) : (# > 0 and @[1] >= 0 and ![1] > 0)`, 1],
      [() => `for all i in (1..#${s.slice(1)}) : (@${s.slice(1)}[i] > 0)`, 1],
    );
  }
  if (c.earlierRules.length > 0) {
    choices.push([() => rng.pick(c.earlierRules), 2], [() => `any of (${rng.pick(c.earlierRules)}, ${rng.pick(c.earlierRules)})`, 1]);
  }
  if (c.usesPe) {
    choices.push(
      [() => `for any s in pe.sections : (s.name == ".text")`, 1],
      [() => `pe.is_dll()`, 1],
      [() => `pe.sections[${rng.int(0, 3)}].name ${rng.pick(['==', 'iequals', 'startswith'])} ".text"`, 1],
      [() => `pe.exports(${rng.pick(['"Foo"', '/Get[A-Z]+/i'])})`, 1],
      [() => `pe.imports("kernel32.dll", "CreateFileA")`, 1],
      [() => `for any k, v in pe.version_info : (k == "a" and v contains "b")`, 1],
      [() => `pe.version_info["CompanyName"] icontains "corp"`, 1],
    );
  }
  choices.push([() => `entrypoint ${rng.pick(['==', '>='])} ${intExpr(c, 1)}`, 1], [() => `"${rng.word(1, 3)}\\x4${rng.int(0, 9)}\\t" != "a"`, 1]);
  if (c.usesMath) choices.push([() => `math.entropy(0, filesize) > 7.0`, 1]);
  if (depth > 0) {
    choices.push(
      [() => `${boolExpr(c, depth - 1)} and ${boolExpr(c, depth - 1)}`, 4],
      [() => `${boolExpr(c, depth - 1)} or ${boolExpr(c, depth - 1)}`, 4],
      [() => `not ${boolExpr(c, depth - 1)}`, 2],
      [() => `(${boolExpr(c, depth - 1)})`, 2],
    );
  }
  return rng.weighted(choices)();
}

function textString(rng: Prng): string {
  let s = rng.word(3, 8);
  if (rng.chance(0.3)) s += rng.pick(['\\x41', '\\t', '\\n', '\\"', '\\\\', '\\r']);
  const mods = rng.pick([[], ['wide'], ['nocase'], ['ascii', 'wide'], ['fullword'], ['private'], ['xor'], [`xor(${rng.int(1, 9)})`], [`xor(1-${rng.int(2, 255)})`], ['base64'], ['base64wide'], ['wide', 'nocase', 'fullword']]);
  return `"${s}"${mods.length ? ' ' + mods.join(' ') : ''}`;
}

function hexBody(rng: Prng, depth: number): string {
  const out: string[] = [];
  const byte = (): string => {
    const h = '0123456789ABCDEFabcdef';
    const a = rng.chance(0.1) ? '?' : rng.pick([...h]);
    const b = rng.chance(0.1) ? '?' : rng.pick([...h]);
    return a + b;
  };
  out.push(byte(), byte());
  const n = rng.int(0, 4);
  for (let i = 0; i < n; i++) {
    const k = rng.int(0, 4);
    if (k === 0) {
      const lo = rng.int(1, 8);
      out.push(rng.pick([`[${lo}]`, `[${lo}-${lo + rng.int(0, 5)}]`, ...(depth === 0 ? [`[${lo}-]`, '[-]'] : [])]));
    } else if (k === 1 && depth < 2) {
      out.push(`( ${hexBody(rng, depth + 1)} | ${hexBody(rng, depth + 1)} )`);
    } else if (k === 2 && rng.chance(0.3)) {
      out.push('/* c */');
    }
    out.push(byte());
  }
  return out.join(' ');
}

function genValid(rng: Prng): string {
  const usesPe = rng.chance(0.2);
  const usesMath = rng.chance(0.15);
  const lines: string[] = [];
  if (usesPe) lines.push('import "pe"');
  if (usesMath) lines.push('import "math"');
  const nRules = rng.int(1, 4);
  const earlier: string[] = [];
  for (let r = 0; r < nRules; r++) {
    const name = `r${r}_${rng.word(1, 4)}`;
    const ctx: Ctx = { rng, strings: [], earlierRules: earlier.slice(), usesPe, usesMath, loopVars: [] };
    const head = `${rng.chance(0.15) ? 'global ' : ''}${rng.chance(0.2) ? 'private ' : ''}rule ${name}${rng.chance(0.3) ? ' : ' + ['t1', 't2', 't3'].slice(0, rng.int(1, 3)).join(' ') : ''}`;
    const body: string[] = [];
    if (rng.chance(0.4)) {
      body.push('  meta:');
      body.push(`    author = "${rng.word()}"`);
      if (rng.chance(0.5)) body.push(`    version = ${rng.chance(0.3) ? '-' : ''}${rng.int(0, 99)}`);
      if (rng.chance(0.5)) body.push(`    ok = ${rng.pick(['true', 'false'])}`);
    }
    const nStrings = rng.int(0, 4);
    if (nStrings > 0) {
      body.push('  strings:');
      for (let s = 0; s < nStrings; s++) {
        const id = `$s${s}`;
        ctx.strings.push(id);
        const kind = rng.int(0, 2);
        if (kind === 0) body.push(`    ${id} = ${textString(rng)}`);
        else if (kind === 1) body.push(`    ${id} = { ${hexBody(rng, 0)} }${rng.chance(0.2) ? ' private' : ''}`);
        else body.push(`    ${id} = /${rng.word(2, 4)}(a|b)[0-9]{1,3}\\d/${rng.pick(['', 'i', 's'])}${rng.chance(0.3) ? ' wide ascii' : ''}${rng.chance(0.2) ? ' nocase' : ''}`);
      }
    }
    body.push('  condition:');
    let cond = boolExpr(ctx, rng.int(0, 3));
    // Every string must be used: the simplest sure way is to require them all.
    if (ctx.strings.length > 0) cond = `(${cond}) and ${rng.pick(['all of them', 'any of them', ctx.strings.join(' and '), 'for all of them : ($)'])}`;
    if (usesPe) cond += ' and pe.number_of_sections >= 0';
    if (usesMath) cond += ' and math.entropy(0, 1) >= 0.0';
    body.push(`    ${cond}`);
    lines.push(`${head}\n{\n${body.join('\n')}\n}`);
    earlier.push(name);
  }
  return lines.join('\n\n') + '\n';
}

/**
 * The same file with the whitespace between tokens replaced by other layout: newlines, tabs,
 * CRLF, block and line comments. Adjacent tokens stay adjacent, so the tokens do not change.
 */
function relayout(rng: Prng, text: string): string {
  const bytes = new TextEncoder().encode(text);
  const { tokens } = tokenize(bytes);
  const dec = new TextDecoder();
  let out = '';
  let prevEnd = 0;
  for (const t of tokens) {
    const gap = dec.decode(bytes.subarray(prevEnd, t.span.start));
    const blank = /^\s+$/.test(gap);
    out += blank && rng.chance(0.3) ? rng.pick(['\n', '\t', '\r\n', ' /* c */ ', ' // line\n', '\n\n  ', '/**/']) : gap;
    out += dec.decode(bytes.subarray(t.span.start, t.span.end));
    prevEnd = t.span.end;
  }
  return out;
}

/** One deliberate syntax error, inserted as an extra rule or replacing a part of a valid file. */
const BROKEN_RULES: readonly string[] = [
  'rule b1 { condition: true == true }',
  'rule b2 { condition: 1 < 2 < 3 }',
  'rule b3 { condition: (1 < 2) + 1 }',
  'rule b4 { condition: true and }',
  'rule b5 { condition: not }',
  'rule b6 { strings: $a = "abc condition: $a }',
  'rule b7 { strings: $a = { 0 } condition: $a }',
  'rule b8 { strings: $a = { 01 [0-] } condition: $a }',
  'rule b9 { strings: $a = { [2] 01 } condition: $a }',
  'rule b10 { strings: $a = { 01 ( 02 | 03 [-] 04 ) } condition: $a }',
  'rule b11 { condition: true; }',
  'rule b12 { strings: $a = "x" }',
  'rule b13 { condition: (true }',
  'rule b14 { condition: true ) }',
  'rule b15 { condition: 1 + + }',
  'rule b16 { condition: any of }',
  'rule b17 { condition: for any i in (1..2) (i > 0) }',
  'rule b18 { strings: $a = "x" xor(300) condition: $a }',
  'rule b19 { strings: $a = { 01 02 } nocase condition: $a }',
  'rule b20 { strings: $a = "x" wide wide condition: $a }',
  'rule { condition: true }',
  'rule b22 : { condition: true }',
  'rule b23 { meta: a = condition: true }',
  'rule b24 { condition: "a" matches "b" }',
  'rule b25 { condition: @ == 1 }',
  'rule b26 { condition: uint8 == 1 }',
  'rule b27 { strings: $a = "a\\q" condition: $a }',
  'rule b28 { condition: 99999999999999999999 }',
  'rule b29 { condition: /* open',
  'rule b30 { condition: $a* }',
  'rule b31 { strings: $a = /abc condition: $a }',
  'import pe',
  'rule b33 { condition: filesize ==  }',
  'rule b34 { condition: true } }',
  'rule b35 { strings: $a = { 01 [5-2] 02 } condition: $a }',
  'rule b36 { strings: $a = "x" nocase xor condition: $a }',
  'rule b37 { strings: $a = /x/si condition: $a }',
  'rule b38 { strings: $a = { 01 [-5] 02 } condition: $a }',
  `rule b39${'x'.repeat(130)} { condition: true }`,
  'rule b40 { strings: $a = "x" condition: #a[1] == 0 }',
  'rule b41 { strings: $a = "x" condition: $a at $a }',
  'rule b42 { strings: $a = "x" condition: 1 == 1 of them }',
  'rule b43 { strings: $a = "x" condition: not $a == 1 }',
  'rule b44 { condition: "a" matches "b" }',
  'rule b45 { strings: $a = "x" condition: for all i in (1..3) : (true) == true }',
  'rule b46 { strings: $a = { 01 ( 02 | ) 03 } condition: $a }',
  'rule b47 { meta: x = 1.5 condition: true }',
  'rule b48 { strings: condition: true }',
  'rule b49 { condition: true strings: $a = "x" }',
];

function genBroken(rng: Prng): { text: string; how: string } {
  const valid = genValid(rng);
  if (rng.chance(0.5)) {
    const b = rng.pick(BROKEN_RULES);
    return { text: rng.chance(0.5) ? `${b}\n${valid}` : `${valid}\n${b}\n`, how: `inserted: ${b}` };
  }
  // Delete one random token, or repeat it.
  const bytes = new TextEncoder().encode(valid);
  const { tokens } = tokenize(bytes);
  const t = rng.pick(tokens.slice(0, -1));
  const before = new TextDecoder().decode(bytes.subarray(0, t.span.start));
  const after = new TextDecoder().decode(bytes.subarray(t.span.end));
  const tokenText = new TextDecoder().decode(bytes.subarray(t.span.start, t.span.end));
  if (rng.chance(0.3)) return { text: `${before}${tokenText} ${tokenText}${after}`, how: `repeated token "${t.text}" at ${t.span.start}` };
  return { text: `${before} ${after}`, how: `deleted token "${t.text}" at ${t.span.start}` };
}

/** yara messages that come from its lexer or grammar rather than from semantic checks. */
const SYNTAX_CLASS = /syntax error|unterminated|illegal escape|invalid hex string|invalid jump|invalid modifier|duplicated .*modifier|duplicated string identifier|duplicated tag|integer overflow|unexpected|invalid xor range|invalid base64 alphabet|empty regular expression|invalid character|mixing greedy/;

test('parseYara accepts exactly the generated rule files that yara compiles', { timeout: 60_000 }, (t) => {
  if (!yaraAvailable()) {
    t.skip('yara is not installed (apt-get install yara); the differential test needs it as the oracle');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-diff-'));
  const rng = new Prng(SEED);
  const disagreements: string[] = [];
  let semanticOnly = 0;
  let bothReject = 0;
  let keep = false;
  try {
    for (let i = 0; i < COUNT; i++) {
      const r = rng.fork(`case-${i}`);
      const broken = i % 2 === 1;
      const { text, how } = broken ? genBroken(r) : r.chance(0.5) ? { text: relayout(r, genValid(r)), how: 'valid, relaid out' } : { text: genValid(r), how: 'valid' };
      const file = join(dir, `case-${i}.yar`);
      writeFileSync(file, text);
      const y = spawnSync('yara', ['-w', file, '/dev/null'], { encoding: 'utf8' });
      const yaraErrors = y.stderr.split('\n').filter((l) => l.includes('error'));
      const yaraSyntax = yaraErrors.some((l) => SYNTAX_CLASS.test(l));
      if (y.status !== 0 && !yaraSyntax) semanticOnly++;
      const v = parseYara(text, file);
      const vigilErrors = v.diagnostics.filter((d) => d.severity === 'error');
      const vigilRejects = vigilErrors.length > 0;
      // yara stops at its first semantic error (it checks identifiers while parsing), so a file it
      // rejects for semantic reasons only may still hold a later syntax error: vigil must then not
      // report an error before that line.
      const yaraLine = Number(/\((\d+)\): /.exec(yaraErrors[0] ?? '')?.[1] ?? '0');
      const vigilLine = vigilErrors[0]?.location?.line ?? 0;
      const agree = y.status !== 0 && !yaraSyntax ? !vigilRejects || vigilLine >= yaraLine : vigilRejects === yaraSyntax;
      if (vigilRejects && yaraSyntax) bothReject++;
      if (!agree || (!broken && y.status !== 0)) {
        keep = true;
        disagreements.push(
          `case ${i} (${how}), seed ${SEED}: yara exit ${y.status} ${JSON.stringify(yaraErrors)}; vigil ${JSON.stringify(vigilErrors.map((d) => `${d.location?.line}: ${d.message}`))}\n  file ${file}`,
        );
      }
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  t.diagnostic(`${COUNT} files: ${bothReject} with syntax errors found by both, ${semanticOnly} rejected by yara for non-syntax reasons only`);
  // The broken half must mostly be caught by both, or the comparison says little.
  assert.ok(bothReject >= COUNT / 4, `only ${bothReject} files were rejected by both parsers`);
  assert.deepEqual(disagreements, [], `${disagreements.length} disagreements:\n${disagreements.slice(0, 10).join('\n')}`);
});
