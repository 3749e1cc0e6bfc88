/**
 * Unit tests for `vigil yara`'s command line: yara 4.2.3's option grammar (combined flags, values,
 * long forms, repeated options, C integers), the errors it prints before doing anything, `-d`
 * typing and precedence, `NAMESPACE:FILE`, `-m` meta and `-s` data formatting, and whole runs on
 * small rule files written to a temporary directory (no yara needed: expected texts are yara's,
 * observed with yara 4.2.3).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCLong, parseYaraArgs } from './yara-args.js';
import { escapeMeta, formatMatchData, formatMeta } from './yara-report.js';
import { defineExternals, externalValue, runYara, splitNamespace } from './yara.js';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runYara(argv, {
    stdout: { write: (s: string | Uint8Array) => { out += typeof s === 'string' ? s : Buffer.from(s).toString('latin1'); } },
    stderr: { write: (s: string | Uint8Array) => { err += typeof s === 'string' ? s : Buffer.from(s).toString('latin1'); } },
    version: '9.9.9',
  });
  return { code, out, err };
}

const scratchDirs: string[] = [];
after(() => { for (const d of scratchDirs) rmSync(d, { recursive: true, force: true }); });

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-yara-unit-'));
  scratchDirs.push(d);
  return d;
}

describe('parseYaraArgs', () => {
  it('combines short flags and takes a value only for the last letter of a group', () => {
    const r = parseYaraArgs(['-sgm', '-rp', '4', 'rules.yar', 'dir']);
    assert.ok(r.ok);
    assert.equal(r.options.printStrings && r.options.printTags && r.options.printMeta && r.options.recursive, true);
    assert.equal(r.options.threads, 4);
    assert.deepEqual(r.positional, ['rules.yar', 'dir']);
  });

  it('rejects a value option in the middle of a group with the whole word', () => {
    const r = parseYaraArgs(['-as', 'rules.yar', 'x']);
    assert.deepEqual(r, { ok: false, stderr: 'option `-as` requires an integer argument\n' });
  });

  it('takes long values only after = and reports the word as written', () => {
    assert.deepEqual(parseYaraArgs(['--timeout', '5', 'r', 'f']), { ok: false, stderr: 'option `--timeout` requires an integer argument\n' });
    const r = parseYaraArgs(['--timeout=0x10', '--max-rules=010', '--print-strings', '--print-string-length', 'r', 'f']);
    assert.ok(r.ok);
    assert.equal(r.options.timeout, 16);
    assert.equal(r.options.maxRules, 8);
    assert.equal(r.options.printStrings, true);
    assert.equal(r.options.printStringLength, true);
  });

  it('refuses a boolean given twice and a string option given 33 times', () => {
    assert.deepEqual(parseYaraArgs(['-s', '-s', 'r', 'f']), { ok: false, stderr: 'too many `-s` options\n' });
    const many = Array.from({ length: 33 }, (_, i) => ['-t', `t${i}`]).flat();
    assert.deepEqual(parseYaraArgs([...many, 'r', 'f']), { ok: false, stderr: 'too many `-t` options\n' });
    const ok = parseYaraArgs([...many.slice(0, 64), 'r', 'f']);
    assert.ok(ok.ok && ok.options.tags.length === 32);
  });

  it('names unknown options and leaves -, -- and words as positional', () => {
    assert.deepEqual(parseYaraArgs(['-sQ', 'r', 'f']), { ok: false, stderr: 'unknown option `-sQ`\n' });
    assert.deepEqual(parseYaraArgs(['--bogus', 'r', 'f']), { ok: false, stderr: 'unknown option `--bogus`\n' });
    const r = parseYaraArgs(['--', '-', 'f']);
    assert.ok(r.ok);
    assert.deepEqual(r.positional, ['--', '-', 'f']);
  });

  it('ignores a value given to a long boolean and needs one for a string option', () => {
    const r = parseYaraArgs(['--print-tags=yes', 'r', 'f']);
    assert.ok(r.ok && r.options.printTags);
    assert.deepEqual(parseYaraArgs(['r', 'f', '-d']), { ok: false, stderr: 'option `-d` requires a string argument\n' });
  });
});

describe('parseCLong', () => {
  it('reads integers as strtol with base 0 and rejects trailing characters', () => {
    assert.equal(parseCLong('42'), 42);
    assert.equal(parseCLong(' -7'), -7);
    assert.equal(parseCLong('0x1F'), 31);
    assert.equal(parseCLong('017'), 15);
    assert.equal(parseCLong(''), 0);
    assert.equal(parseCLong('08'), undefined);
    assert.equal(parseCLong('0x'), undefined);
    assert.equal(parseCLong('5s'), undefined);
    assert.equal(parseCLong('-'), undefined);
    assert.equal(parseCLong('99999999999999999999'), Number(2n ** 63n - 1n));
  });
});

describe('-d externals', () => {
  it('types values as yara does', () => {
    assert.equal(externalValue('5'), 5n);
    assert.equal(externalValue('-5'), -5n);
    assert.equal(externalValue('4294967301'), 5n, 'atoi keeps the low 32 bits');
    assert.equal(externalValue('1.5'), 1.5);
    assert.equal(externalValue('2.'), 2);
    assert.equal(externalValue('.5'), '.5');
    assert.equal(externalValue('true'), true);
    assert.equal(externalValue('1.2.3'), '1.2.3');
  });

  it('keeps the first definition and fails only when the last one repeats a name', () => {
    assert.deepEqual(defineExternals(['x=5', 'x=6', 'y=1']), { externals: { x: 5n, y: 1n }, stderr: '', fail: false });
    assert.deepEqual(defineExternals(['x=5', 'x=6']), { externals: { x: 5n }, stderr: 'error: 56\n', fail: true });
  });

  it('stops at a definition without = and goes on', () => {
    assert.deepEqual(defineExternals(['bad', 'x=5']), { externals: {}, stderr: 'error: wrong syntax for `-d` option.\n', fail: false });
  });
});

describe('splitNamespace', () => {
  it('splits at the first colon unless the word names an existing file', () => {
    assert.deepEqual(splitNamespace('ns:a:b.yar', () => false), { namespace: 'ns', file: 'a:b.yar' });
    assert.deepEqual(splitNamespace('ns:a.yar', () => true), { file: 'ns:a.yar' });
    assert.deepEqual(splitNamespace('c:\\rules.yar', () => false), { file: 'c:\\rules.yar' });
  });
});

describe('output formatting', () => {
  const enc = (s: string): Uint8Array => Buffer.from(s, 'latin1');
  it('escapes meta strings as yara does and stops at NUL', () => {
    assert.equal(escapeMeta(enc('he said "hi"\t\\ x\x01\xff end')), 'he said \\"hi\\"\\t\\\\ x\\001\\377 end');
    assert.equal(escapeMeta(enc("it's\x00gone")), "it\\'s");
  });

  it('prints integer meta with a space before = and booleans and strings without', () => {
    const span = { start: 0, end: 0 };
    const key = (name: string) => ({ name, span });
    assert.equal(formatMeta({ span, key: key('n'), value: { kind: 'int', value: -7n } }), 'n =-7');
    assert.equal(formatMeta({ span, key: key('b'), value: { kind: 'bool', value: false } }), 'b=false');
    assert.equal(formatMeta({ span, key: key('s'), value: { kind: 'string', value: enc('x') } }), 's="x"');
  });

  it('prints hex strings as pairs cut after 64 bytes and text with \\x escapes', () => {
    assert.equal(formatMatchData(new Uint8Array([0x61, 0x00, 0xff]), false), 'a\\x00\\xFF');
    const long = formatMatchData(new Uint8Array(65).fill(0xab), true);
    assert.ok(long.endsWith('AB ...'));
    assert.equal(long.split(' ').length, 65);
  });
});

describe('runYara', () => {
  it('prints its version and yara-style help', async () => {
    assert.deepEqual(await run(['-v']), { code: 0, out: '9.9.9\n', err: '' });
    const h = await run(['--help']);
    assert.equal(h.code, 0);
    assert.match(h.out, /--print-string-length/);
    assert.match(h.out, /--json/);
  });

  it('fails with yara\'s messages before reading any rule', async () => {
    assert.deepEqual(await run(['-p', '33', 'r', 'f']), { code: 1, out: '', err: 'maximum number of threads is 32\n' });
    const few = await run(['r']);
    assert.equal(few.code, 1);
    assert.match(few.err, /^yara: wrong number of arguments\n/);
    assert.deepEqual(await run(['-x', 'math', 'r', 'f']), { code: 1, out: '', err: 'error: wrong syntax for `-x` option.\n' });
    assert.deepEqual(await run(['-x', 'math=/nonexistent/x', 'r', 'f']), { code: 1, out: '', err: 'error: could not open file "/nonexistent/x".\n' });
    const stats = await run(['-S', 'r', 'f']);
    assert.equal(stats.code, 1);
    assert.match(stats.err, /print-stats/);
  });

  it('checks a -C file as yara does and then refuses compiled rules', async () => {
    const d = scratch();
    writeFileSync(join(d, 'src.yar'), 'rule a { condition: true }\n');
    writeFileSync(join(d, 'old.yarc'), Buffer.from([0x59, 0x41, 0x52, 0x41, 18, 3]));
    writeFileSync(join(d, 'new.yarc'), Buffer.from([0x59, 0x41, 0x52, 0x41, 19, 3, 0, 0]));
    assert.deepEqual(await run(['-C', join(d, 'src.yar'), join(d, 'src.yar')]), { code: 1, out: '', err: 'invalid compiled rules file.\n' });
    assert.deepEqual(await run(['-C', join(d, 'old.yarc'), join(d, 'src.yar')]), { code: 1, out: '', err: 'rules were compiled with a different version of YARA\n' });
    assert.deepEqual(await run(['-C', join(d, 'missing'), join(d, 'src.yar')]), { code: 1, out: '', err: 'could not open file\n' });
    assert.equal((await run(['-C', join(d, 'a'), join(d, 'b'), join(d, 'c')])).err, "error: can't accept multiple rules files if one of them is in compiled form.\n");
    const refused = await run(['-C', join(d, 'new.yarc'), join(d, 'src.yar')]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /cannot load compiled rules/);
  });

  it('prints meta, tags, namespace, lengths and counts for a matching file', async () => {
    const d = scratch();
    const rules = join(d, 'm.yar');
    writeFileSync(rules, 'rule a : t1 t2 { meta: s = "q\\"x" n = 3 b = true strings: $x = "abc" condition: $x }\nrule c { condition: false }\n');
    const file = join(d, 'data');
    writeFileSync(file, 'abc abc');
    assert.deepEqual(await run(['-gme', `ns:${rules}`, file]), { code: 0, out: `ns:a [t1,t2] [s="q\\"x",n =3,b=true] ${file}\n`, err: '' });
    assert.deepEqual(await run(['-L', rules, file]), { code: 0, out: `a ${file}\n0x0:3:$x\n0x4:3:$x\n`, err: '' });
    assert.deepEqual(await run(['-c', rules, file]), { code: 0, out: '1\n', err: '' });
    assert.deepEqual(await run(['-n', rules, file]), { code: 0, out: `c ${file}\n`, err: '' });
  });

  it('applies -l over the whole run: later files stop at their first rule message', async () => {
    const d = scratch();
    const rules = join(d, 'r.yar');
    writeFileSync(rules, 'rule a { strings: $x = "abc" condition: $x }\nrule b { condition: true }\n');
    mkdirSync(join(d, 't'));
    writeFileSync(join(d, 't', 'one'), 'abc');
    const res = await run(['-l', '1', '-c', rules, join(d, 't')]);
    assert.deepEqual(res, { code: 0, out: `${join(d, 't')}/one: 1\n`, err: '' });
  });

  it('reports an unreadable single target with exit 1 and a directory entry without changing the exit code', async () => {
    const d = scratch();
    const rules = join(d, 'r.yar');
    writeFileSync(rules, 'rule a { condition: true }\n');
    assert.deepEqual(await run([rules, join(d, 'missing')]), { code: 1, out: '', err: `error scanning ${join(d, 'missing')}: could not open file\n` });
    writeFileSync(join(d, 'list'), `${join(d, 'missing')}\n${rules}\n`);
    assert.deepEqual(await run(['--scan-list', rules, join(d, 'list')]), {
      code: 0, out: `a ${rules}\n`, err: `error scanning ${join(d, 'missing')}: could not open file\n`,
    });
  });

  it('opens and prints a file name that is not UTF-8 byte for byte', async () => {
    const d = scratch();
    const rules = join(d, 'r.yar');
    writeFileSync(rules, 'rule a { condition: true }\n');
    mkdirSync(join(d, 't'));
    writeFileSync(Buffer.concat([Buffer.from(`${d}/t/x`), Buffer.from([0xff])]), 'z');
    const res = await run(['-c', rules, join(d, 't')]);
    assert.deepEqual(res, { code: 0, out: `${d}/t/x\xff: 1\n`, err: '' });
  });

  it('fails a rule with more strings than --max-strings-per-rule at its closing brace', async () => {
    const d = scratch();
    const rules = join(d, 'r.yar');
    writeFileSync(rules, 'rule ms {\n strings:\n  $a = "abcd"\n  $b = "bcde"\n condition:\n  any of them\n}\n');
    assert.deepEqual(await run(['--max-strings-per-rule=1', rules, rules]), {
      code: 1, out: '', err: `error: rule "ms" in ${rules}(7): too many strings in rule "ms" (limit: 1)\n`,
    });
  });

  it('prints one JSON object per file with the evidence of each match', async () => {
    const d = scratch();
    const rules = join(d, 'r.yar');
    writeFileSync(rules, 'rule a : t { meta: k = 1 strings: $x = "abc" condition: $x }\n');
    const file = join(d, 'data');
    writeFileSync(file, 'zabc');
    const res = await run(['--json', rules, file]);
    assert.equal(res.code, 0);
    const obj = JSON.parse(res.out) as Record<string, unknown>;
    assert.deepEqual(obj, {
      file, count: 1,
      matches: [{ rule: 'a', namespace: 'default', matched: true, tags: ['t'], meta: [{ key: 'k', value: 1 }], ruleFile: rules, line: 1, strings: [{ id: '$x', offset: 1, length: 3, data: '616263' }] }],
    });
  });
});

describe('includes', () => {
  it('follows include relative to the including file, and reports an unreadable one as yara does', async () => {
    const d = scratch();
    mkdirSync(join(d, 'sub'));
    writeFileSync(join(d, 'sub', 'b.yar'), 'rule b { strings: $x = "hello" condition: $x }\n');
    writeFileSync(join(d, 'a.yar'), 'include "sub/b.yar"\nrule a { condition: b }\n');
    writeFileSync(join(d, 'bad.yar'), 'include "missing.yar"\nrule c { condition: true }\n');
    writeFileSync(join(d, 't.txt'), 'hello there');
    const ok = await run([join(d, 'a.yar'), join(d, 't.txt')]);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out, `b ${join(d, 't.txt')}\na ${join(d, 't.txt')}\n`);
    const bad = await run([join(d, 'bad.yar'), join(d, 't.txt')]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /can't open include file: missing\.yar/);
  });
});
