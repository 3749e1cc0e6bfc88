/**
 * `vigil yara` against `yara` 4.2.3, option by option: the same seeded rule files and file tree,
 * every output option and their combinations (-s -L -m -g -e -c -n -t -i -l -f -N -z -x -D,
 * --scan-list, NAMESPACE:FILE, long forms, combined flags), on a directory scan with one thread
 * (yara's order is then the directory's, and vigil's must equal it line for line), with two
 * threads (yara's order varies: lines are compared sorted) and on single files; and the exit code
 * and stderr of the error paths (unreadable target, missing rules file, compile errors, scan list,
 * module data, timeouts). Skips with a message when yara is absent.
 *
 * Rules use tags, meta of every type (strings with escapes), private rules and strings, text
 * strings with their modifiers (nocase, wide, ascii wide, fullword, xor, base64), hex strings
 * with wildcards and short jumps, and regexes; files carry plain, upper-case, wide, xor-ed and
 * base64 copies of the rule strings; the tree has symlinks (to a file, to a directory, to `.`), an
 * empty file and a file whose name is not UTF-8. `VIGIL_YARA_CLI_SEED` replays a failing seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Prng } from '../helpers/prng.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = [resolve(here, '..', '..'), resolve(here, '..', '..', '..')].find((d) => existsSync(join(d, 'bin', 'vigil.js')))!;
const BIN = join(ROOT, 'bin', 'vigil.js');
const YARA = spawnSync('yara', ['--version'], { encoding: 'utf8' });
const SKIP = YARA.status === 0 ? false : 'yara is not installed: differential test skipped';
const SEED = process.env['VIGIL_YARA_CLI_SEED'] ?? '20261129-options';

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];
const TAGS = ['red', 'green', 'blue'];

interface Generated {
  rules: string[];
  /** Byte strings the rules look for, to plant in files. */
  needles: Buffer[];
}

function metaValue(rng: Prng): string {
  switch (rng.int(0, 4)) {
    case 0: return String(rng.int(-1000, 100000));
    case 1: return rng.pick(['true', 'false']);
    case 2: return `0x${rng.int(0, 65535).toString(16)}`;
    case 3: return `"${rng.pick(WORDS)} \\"quoted\\" \\t tab \\\\ slash \\x01\\xe9"`;
    default: return `"${rng.pick(WORDS)}'s note"`;
  }
}

/** One rule file: `count` rules named `<prefix>N`. */
function generateRules(rng: Prng, prefix: string, count: number): Generated {
  const rules: string[] = [];
  const needles: Buffer[] = [];
  for (let r = 0; r < count; r++) {
    const w = `${rng.pick(WORDS)}${rng.int(10, 99)}`;
    needles.push(Buffer.from(w, 'latin1'));
    const mod = rng.pick(['', ' nocase', ' wide', ' ascii wide', ' fullword', ' xor(1-3)', ' base64', ' private', ' wide nocase']);
    const hexWord = Buffer.from(`${rng.pick(WORDS)}${rng.int(0, 9)}`, 'latin1');
    needles.push(hexWord);
    const hexBytes = [...hexWord].map((b) => b.toString(16).padStart(2, '0'));
    // A wildcard or a short jump after the third byte; the rest stays literal.
    const hexForm = rng.pick(['plain', 'wild', 'jump']);
    if (hexForm === 'wild') hexBytes.splice(3, 1, '??');
    if (hexForm === 'jump') hexBytes.splice(3, 0, '[0-2]');
    const re = rng.pick([`/${rng.pick(WORDS)}[0-9]{2}/`, `/${rng.pick(WORDS)}_[a-z]+/`, `/(${rng.pick(WORDS)}|${rng.pick(WORDS)})!/`]);
    const tags = rng.int(0, 2) ? ` : ${[...new Set([rng.pick(TAGS), rng.pick(TAGS)])].join(' ')}` : '';
    const metas = Array.from({ length: rng.int(0, 3) }, (_, k) => `    m${k} = ${metaValue(rng)}`);
    const cond = rng.pick([
      'any of them', 'all of them', '$a', '$a or $b', '#a >= 2', '$b and $c', '$a in (0..200)', '2 of them',
      'filesize > 100 and any of them', 'for any i in (1..#a) : (@a[i] > 4)', 'not $c',
    ]);
    const priv = r % 11 === 5 ? 'private ' : '';
    rules.push([
      `${priv}rule ${prefix}${r}${tags} {`,
      ...(metas.length ? ['  meta:', ...metas] : []),
      '  strings:',
      `    $a = "${w}"${mod}`,
      `    $b = { ${hexBytes.join(' ')} }`,
      `    $c = ${re}`,
      '  condition:',
      `    (${cond}) or ($a and $b and $c and filesize == 1)`,
      '}',
    ].join('\n'));
  }
  return { rules, needles };
}

function xorBuf(b: Buffer, k: number): Buffer {
  return Buffer.from([...b].map((x) => x ^ k));
}

function makeFile(rng: Prng, needles: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  const n = rng.int(2, 14);
  for (let i = 0; i < n; i++) {
    const w = rng.pick(needles);
    const form = rng.int(0, 7);
    if (form === 0) parts.push(Buffer.from(w.toString('latin1').toUpperCase(), 'latin1'));
    else if (form === 1) parts.push(Buffer.from(w.toString('latin1'), 'utf16le'));
    else if (form === 2) parts.push(xorBuf(w, rng.int(1, 3)));
    else if (form === 3) parts.push(Buffer.from(Buffer.from(`${rng.pick(['', 'x', 'xy'])}${w.toString('latin1')}`, 'latin1').toString('base64'), 'latin1'));
    else if (form === 4) parts.push(Buffer.from(`${rng.pick(WORDS)}${rng.int(0, 99)}!`, 'latin1'));
    else parts.push(w);
    parts.push(Buffer.from(rng.pick([' ', '_x', '\n', '\0', '--', 'Q', '_abc']), 'latin1'));
  }
  return Buffer.concat(parts);
}

interface Fixture {
  dir: string;
  rulesA: string;
  rulesB: string;
  tree: string;
  files: string[];
  list: string;
  moduleData: string;
}

function fixture(): Fixture {
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-opts-'));
  const a = generateRules(rng.fork('rules-a'), 'ra', 40);
  const b = generateRules(rng.fork('rules-b'), 'rb', 15);
  const rulesA = join(dir, 'a.yar');
  const rulesB = join(dir, 'b.yar');
  writeFileSync(rulesA, a.rules.join('\n\n') + '\n');
  writeFileSync(rulesB, b.rules.join('\n\n') + '\n');
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'sub', 'deeper'), { recursive: true });
  const needles = [...a.needles, ...b.needles];
  const fr = rng.fork('files');
  const files: string[] = [];
  for (let f = 0; f < 24; f++) {
    const where = f < 14 ? tree : f < 20 ? join(tree, 'sub') : join(tree, 'sub', 'deeper');
    const p = join(where, `f${String(f).padStart(2, '0')}.${fr.pick(['bin', 'txt', 'dat'])}`);
    writeFileSync(p, makeFile(fr, needles));
    files.push(p);
  }
  writeFileSync(join(tree, 'empty'), '');
  symlinkSync(files[0]!, join(tree, 'link-to-file'));
  symlinkSync(join(tree, 'sub', 'deeper'), join(tree, 'link-to-dir'));
  symlinkSync('.', join(tree, 'dot-link'));
  // A name that is not UTF-8: printed byte for byte.
  writeFileSync(Buffer.concat([Buffer.from(`${tree}/latin1-`), Buffer.from([0xe9, 0xff])]), makeFile(rng.fork('latin1'), needles));
  const list = join(dir, 'list');
  writeFileSync(list, `${files[3]}\n${join(dir, 'missing-file')}\n${join(tree, 'sub')}\n${files[1]}\n`);
  const moduleData = join(dir, 'module.data');
  writeFileSync(moduleData, 'data');
  return { dir, rulesA, rulesB, tree, files, list, moduleData };
}

interface Outcome { status: number | null; stdout: string; stderr: string }

function runBoth(args: readonly string[]): { y: Outcome; v: Outcome } {
  const y = spawnSync('yara', args, { encoding: 'latin1' });
  const v = spawnSync(process.execPath, [BIN, 'yara', ...args], { encoding: 'latin1' });
  return { y: { status: y.status, stdout: y.stdout, stderr: y.stderr }, v: { status: v.status, stdout: v.stdout, stderr: v.stderr } };
}

const sorted = (s: string): string => s.split('\n').filter((l) => l).sort().join('\n');

/** Differences between yara and vigil for one command line, as readable text (empty when equal). */
function compare(label: string, args: readonly string[], opts: { sortStdout?: boolean; stderr?: 'exact' | 'sorted' | 'ignore' } = {}): string[] {
  const { y, v } = runBoth(args);
  const out: string[] = [];
  if (y.status !== v.status) out.push(`${label}: exit yara ${y.status} vigil ${v.status}\n  vigil stderr: ${v.stderr.slice(0, 500)}`);
  const ys = opts.sortStdout ? sorted(y.stdout) : y.stdout;
  const vs = opts.sortStdout ? sorted(v.stdout) : v.stdout;
  if (ys !== vs) out.push(`${label}: stdout differs\n--- yara\n${ys.slice(0, 1500)}\n--- vigil\n${vs.slice(0, 1500)}`);
  const mode = opts.stderr ?? 'sorted';
  if (mode !== 'ignore') {
    const ye = mode === 'sorted' ? sorted(y.stderr) : y.stderr;
    const ve = mode === 'sorted' ? sorted(v.stderr) : v.stderr;
    if (ye !== ve) out.push(`${label}: stderr differs\n--- yara\n${ye.slice(0, 800)}\n--- vigil\n${ve.slice(0, 800)}`);
  }
  return out;
}

/** Output options and combinations compared on a tree scan and on single files. */
function optionSets(f: Fixture): string[][] {
  return [
    [], ['-s'], ['-L'], ['-sL'], ['-m'], ['-mg'], ['-g', '-m', '-e'], ['-e'], ['-c'], ['-cn'], ['-n', '-e', '-g'],
    ['-t', 'red'], ['-t', 'red', '-t', 'blue', '-n'], ['-i', 'ra3', '-i', 'rb7'], ['-t', 'green', '-i', 'ra1'],
    ['-l', '3'], ['-l', '1', '-c'], ['-n', '-l', '2'], ['-fs'], ['--print-strings', '--print-tags', '--print-meta'],
    ['--print-namespace', '--count'], ['--print-string-length', '--negate'], ['-x', `math=${f.moduleData}`, '-s'],
    ['--fast-scan', '-c'], ['-sgmeL'],
  ];
}

test(`vigil yara prints yara's output for every output option on a tree, one thread (seed ${SEED})`, { skip: SKIP }, () => {
  const f = fixture();
  const problems: string[] = [];
  let lines = 0;
  for (const opts of optionSets(f)) {
    const args = ['-w', '-r', '-p', '1', ...opts, f.rulesA, `nsb:${f.rulesB}`, f.tree];
    lines += spawnSync('yara', args, { encoding: 'latin1' }).stdout.split('\n').length;
    problems.push(...compare(opts.join(' ') || '(none)', args));
  }
  for (const opts of [['-N', '-s'], ['-z', '60', '-c'], ['--no-follow-symlinks', '--recursive'], ['--skip-larger=0x30']]) {
    problems.push(...compare(opts.join(' '), ['-w', '-p', '1', ...opts, f.rulesA, f.tree]));
  }
  problems.push(...compare('non-recursive', ['-w', '-p', '1', '-g', f.rulesA, f.tree]));
  assert.deepEqual(problems, [], `${problems.length} disagreement(s); fixture kept in ${f.dir}\n${problems.slice(0, 4).join('\n')}`);
  assert.ok(lines > 500, `only ${lines} lines compared`);
  rmSync(f.dir, { recursive: true, force: true });
});

test(`vigil yara -p 2 prints the same lines as yara -p 2, in some order (seed ${SEED})`, { skip: SKIP }, () => {
  const f = fixture();
  const problems: string[] = [];
  for (const opts of [['-s'], ['-c'], ['-n', '-g', '-m'], ['-e', '-L']]) {
    problems.push(...compare(`-p 2 ${opts.join(' ')}`, ['-w', '-r', '-p', '2', ...opts, f.rulesA, f.tree], { sortStdout: true }));
  }
  // vigil's own guarantee: with threads, the output is the one-thread output, in order.
  const one = spawnSync(process.execPath, [BIN, 'yara', '-w', '-r', '-s', '-l', '9', f.rulesA, f.tree], { encoding: 'latin1' });
  const two = spawnSync(process.execPath, [BIN, 'yara', '-w', '-r', '-s', '-l', '9', '-p', '2', f.rulesA, f.tree], { encoding: 'latin1' });
  assert.equal(two.status, 0);
  assert.equal(two.stdout, one.stdout);
  assert.ok(one.stdout.length > 0);
  assert.deepEqual(problems, [], `${problems.length} disagreement(s); fixture kept in ${f.dir}\n${problems.slice(0, 4).join('\n')}`);
  rmSync(f.dir, { recursive: true, force: true });
});

test(`vigil yara prints yara's output on single files and scan lists (seed ${SEED})`, { skip: SKIP }, () => {
  const f = fixture();
  const problems: string[] = [];
  for (const opts of optionSets(f).slice(0, 16)) {
    for (const file of [f.files[0]!, f.files[7]!, f.files[20]!, join(f.tree, 'empty')]) {
      problems.push(...compare(`${opts.join(' ')} ${file}`, ['-w', ...opts, `nsa:${f.rulesA}`, f.rulesB, file], { stderr: 'exact' }));
    }
  }
  problems.push(...compare('--scan-list', ['-w', '-p', '1', '-s', '--scan-list', f.rulesA, f.list]));
  problems.push(...compare('--scan-list -r -c', ['-w', '-p', '1', '-r', '-c', '--scan-list', f.rulesA, f.list]));
  assert.deepEqual(problems, [], `${problems.length} disagreement(s); fixture kept in ${f.dir}\n${problems.slice(0, 4).join('\n')}`);
  rmSync(f.dir, { recursive: true, force: true });
});

test('vigil yara exits and reports errors as yara does', { skip: SKIP }, () => {
  const f = fixture();
  const bad1 = join(f.dir, 'bad1.yar');
  const bad2 = join(f.dir, 'bad2.yar');
  const ext = join(f.dir, 'ext.yar');
  const mod = join(f.dir, 'mod.yar');
  writeFileSync(bad1, 'rule bad1 { condition: nope1 }\n');
  writeFileSync(bad2, 'rule bad2 { condition: nope2 }\n');
  writeFileSync(ext, 'rule e { condition: x == 5 }\n');
  writeFileSync(mod, 'import "math"\nimport "console"\nrule m { condition: console.log("seen") and math.entropy(0, filesize) >= 0 }\n');
  const target = f.files[2]!;
  const cases: [string, string[]][] = [
    ['missing target', [f.rulesA, join(f.dir, 'nope')]],
    ['missing rules file', [join(f.dir, 'nope.yar'), target]],
    ['missing second rules file', [f.rulesA, join(f.dir, 'nope.yar'), target]],
    ['rules file is a directory', [f.tree, target]],
    ['errors in two files: only the first is reported', [bad1, bad2, target]],
    ['error after a good file', [f.rulesA, bad2, target]],
    ['namespace prefix', [`x:${bad1}`, target]],
    ['-d defines', ['-d', 'x=5', ext, target]],
    ['-d repeated', ['-d', 'x=5', '-d', 'x=6', ext, target]],
    ['-d bad syntax', ['-d', 'x', ext, target]],
    ['-d atoi', ['-d', 'x=4294967301', ext, target]],
    ['-x bad syntax', ['-x', 'math', f.rulesA, target]],
    ['-x missing file', ['-x', `math=${join(f.dir, 'nope')}`, f.rulesA, target]],
    ['-D and console', ['-D', mod, target]],
    ['--max-strings-per-rule', ['-w', '--max-strings-per-rule=2', f.rulesA, target]],
    ['scan list is a directory', ['--scan-list', f.rulesA, f.tree]],
    ['scan list missing', ['--scan-list', f.rulesA, join(f.dir, 'nope')]],
    ['-C source file', ['-C', f.rulesA, target]],
    ['-C two files', ['-C', f.rulesA, f.rulesB, target]],
    ['unknown option', ['-Q', f.rulesA, target]],
    ['missing value', ['-w', f.rulesA, target, '-a']],
    ['repeated flag', ['-s', '-w', '-s', f.rulesA, target]],
    ['too many threads', ['-p', '33', f.rulesA, target]],
    ['no target', [f.rulesA]],
    ['-a 0 on a directory scans nothing', ['-a', '0', f.rulesA, f.tree]],
  ];
  const problems: string[] = [];
  for (const [label, args] of cases) {
    const { y, v } = runBoth(args);
    if (y.status !== v.status) problems.push(`${label}: exit yara ${y.status} vigil ${v.status}`);
    if (y.stdout !== v.stdout) problems.push(`${label}: stdout\n--- yara\n${y.stdout}--- vigil\n${v.stdout}`);
    // The usage line names the program; everything else is yara's text.
    const norm = (s: string): string => s.replace(/^Usage: .*$/m, 'Usage: …');
    if (norm(y.stderr) !== norm(v.stderr)) problems.push(`${label}: stderr\n--- yara\n${y.stderr}--- vigil\n${v.stderr}`);
  }
  assert.deepEqual(problems, [], `${problems.length} disagreement(s); fixture kept in ${f.dir}\n${problems.join('\n')}`);
  rmSync(f.dir, { recursive: true, force: true });
});

test('vigil yara reports a timeout as yara does: the line, exit 1 for a file, exit 0 in a directory', { skip: SKIP }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-timeout-'));
  // A nested loop over every byte pair: yara spends its second on 4 MiB files, vigil (whose
  // evaluator is slower) on 8,000-byte ones; what is compared is how the timeout is reported.
  const slow = join(dir, 'slow.yar');
  writeFileSync(slow, 'rule slow { condition: for all i in (0..filesize - 1) : (for all j in (0..filesize - 1) : (uint8(j) < 256)) }\n');
  const rng = new Prng('timeout');
  for (const [tree, size] of [['y', 4 << 20], ['v', 8000]] as const) {
    mkdirSync(join(dir, tree));
    writeFileSync(join(dir, tree, 'a'), Buffer.from(rng.bytes(size)));
    writeFileSync(join(dir, tree, 'b'), Buffer.from(rng.bytes(size)));
  }
  const y = spawnSync('yara', ['-w', '-a', '1', slow, join(dir, 'y', 'a')], { encoding: 'utf8' });
  const v = spawnSync(process.execPath, [BIN, 'yara', '-w', '-a', '1', slow, join(dir, 'v', 'a')], { encoding: 'utf8' });
  assert.equal(y.stderr, `error scanning ${join(dir, 'y', 'a')}: scanning timed out\n`, 'yara timed out as expected');
  assert.equal(v.stderr, `error scanning ${join(dir, 'v', 'a')}: scanning timed out\n`);
  assert.equal(v.status, y.status);
  assert.equal(v.status, 1);
  // In a directory scan the first file times out, the run's deadline has passed, the rest is
  // skipped. (The run's deadline is in whole seconds: with -a 1 yara may find it passed before
  // its first file and scan nothing; -a 2 leaves the first file one to two seconds.)
  const yd = spawnSync('yara', ['-w', '-p', '1', '-a', '2', slow, join(dir, 'y')], { encoding: 'utf8' });
  const vd = spawnSync(process.execPath, [BIN, 'yara', '-w', '-a', '2', slow, join(dir, 'v')], { encoding: 'utf8' });
  assert.equal(yd.status, 0);
  assert.equal(vd.status, 0);
  assert.equal(vd.stdout, '');
  assert.match(yd.stderr, /^error scanning .*\/y\/[ab]: scanning timed out\n$/);
  assert.match(vd.stderr, /^error scanning .*\/v\/[ab]: scanning timed out\n$/);
  rmSync(dir, { recursive: true, force: true });
});
