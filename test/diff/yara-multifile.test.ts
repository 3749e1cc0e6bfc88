/**
 * `vigil yara` against `yara` 4.2.3 with several rule files, and with errors of several kinds in
 * one file: the same stdout, stderr and exit code. Skips when yara is absent.
 *
 * In: small rule sets written to a scratch directory, compiled as `yara [-n] [NS:]a.yar … target`.
 * Out: one test per case. What they pin: the files of one namespace share rules (references,
 * `of (name*)`), imports, duplicated names and wildcard rule sets, and a false global rule turns
 * every rule of its namespace false, whichever file defines it; files of different namespaces
 * stay apart. For a file with errors: the semantic errors yara meets before and after a syntax
 * error are reported, in yara's order (vigil may add errors after the first of a rule).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runYara } from '../../src/cli/yara.js';

const YARA = spawnSync('yara', ['--version'], { encoding: 'utf8' });
const SKIP = YARA.status === 0 ? false : 'yara is not installed: differential test skipped';

const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-multifile-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'small.txt'), 'hello world\n');
writeFileSync(join(dir, 'large.bin'), Buffer.alloc(2000, 0x41));

interface Case {
  name: string;
  files: Record<string, string>;
  /** Rule arguments (`NS:file` or `file`), in order. */
  rules: string[];
  /** When set, vigil may print more error lines than yara, after yara's (vigil reports every error). */
  moreErrors?: boolean;
}

const CASES: Case[] = [
  {
    name: 'a rule of a later file uses a rule and a module of an earlier file of the namespace',
    files: { 'a.yar': 'import "pe"\nrule a { strings: $h = "hello" condition: $h }\nprivate rule p { condition: filesize > 5 }', 'b.yar': 'rule b { condition: a and p }\nrule c { condition: not pe.is_pe and b }' },
    rules: ['a.yar', 'b.yar'],
  },
  {
    name: 'a rule of another namespace is unknown',
    files: { 'a.yar': 'import "pe"\nrule a { condition: true }', 'b.yar': 'rule b { condition: a }\nrule c { condition: pe.is_pe }' },
    rules: ['ns1:a.yar', 'ns2:b.yar'],
  },
  {
    name: 'a rule defined before its file is unknown',
    files: { 'a.yar': 'rule a { condition: true }', 'b.yar': 'rule b { condition: a }' },
    rules: ['b.yar', 'a.yar'],
  },
  {
    name: 'a name defined in two files of one namespace is duplicated, in two namespaces it is not',
    files: { 'a.yar': 'rule a { condition: true }', 'c.yar': 'rule a { condition: filesize > 0 }' },
    rules: ['a.yar', 'c.yar'],
  },
  {
    name: 'the same name in two namespaces',
    files: { 'a.yar': 'rule a { condition: true }', 'c.yar': 'rule a { condition: filesize > 0 }' },
    rules: ['ns1:a.yar', 'ns2:c.yar'],
  },
  {
    name: 'an `of (name*)` rule set spans the files of a namespace and closes it for later files',
    files: { 'a.yar': 'rule a1 { condition: true }', 'd.yar': 'rule x { condition: all of (a*) }\nrule a2 { condition: false }' },
    rules: ['a.yar', 'd.yar'],
  },
  {
    name: 'a wildcard rule set does not close other namespaces',
    files: { 'a.yar': 'rule a1 { condition: true }\nrule x { condition: any of (a*) }', 'e.yar': 'rule ab { condition: true }' },
    rules: ['ns1:a.yar', 'ns2:e.yar'],
  },
  {
    name: 'a false global rule of a later file turns the earlier files of its namespace false',
    files: { 'g1.yar': 'rule r1 { condition: true }', 'g2.yar': 'global rule g2 { condition: filesize > 1000 }\nrule r2 { condition: r1 }', 'g3.yar': 'rule r3 { condition: r1 and not g2 }' },
    rules: ['g1.yar', 'g2.yar', 'g3.yar'],
  },
  {
    name: 'a false global rule leaves other namespaces alone',
    files: { 'g1.yar': 'rule r1 { condition: true }', 'g2.yar': 'global rule g2 { condition: filesize > 1000 }\nrule r2 { condition: true }', 'g3.yar': 'rule r3 { condition: true }' },
    rules: ['ns1:g1.yar', 'ns2:g2.yar', 'ns1:g3.yar'],
  },
  {
    name: 'interleaved namespaces keep their own rules and order',
    files: { 'a.yar': 'rule a { condition: true }', 'b.yar': 'rule b { condition: true }', 'c.yar': 'rule c { condition: a }', 'd.yar': 'rule d { condition: b }' },
    rules: ['ns1:a.yar', 'ns2:b.yar', 'ns1:c.yar', 'ns2:d.yar'],
  },
  {
    name: 'a semantic error before a syntax error in a later rule',
    files: { 's.yar': 'rule a { condition: foo }\nrule b { condition: true and }\nrule c { condition: bar }' },
    rules: ['s.yar'],
  },
  {
    name: 'a semantic error before a syntax error in the same rule',
    files: { 's.yar': 'rule b { condition: foo and }\nrule c { condition: y }' },
    rules: ['s.yar'],
    moreErrors: true,
  },
  {
    name: 'rules after a syntax error are checked, and the broken rule is still defined',
    files: { 's.yar': 'rule a : t1 { condition: true }\nrule b { condition: true (\nrule c { condition: a and b }\nrule d { condition: z }' },
    rules: ['s.yar'],
  },
  {
    name: 'string warnings of rules around a syntax error',
    files: { 's.yar': 'rule a { condition: foo }\nrule b { strings: $a = "x" condition: true }\nrule c { strings: $c = { 11 ?? } condition: $c and }\nrule d { condition: bar }' },
    rules: ['s.yar'],
  },
  {
    name: 'modifier errors stop their rule, in yara words',
    files: { 's.yar': 'rule a { strings: $a = "x" wide wide condition: $a }\nrule b { strings: $a = "x" nocase xor condition: $a }\nrule c { strings: $a = "x" xor(1-300) condition: $a }\nrule d { strings: $a = "x" base64 fullword condition: $a }\nrule e { strings: $a = { 11 [5-2] 22 } condition: $a }' },
    rules: ['s.yar'],
  },
  {
    name: '`include` needs its path on the same line',
    files: { 's.yar': 'include\n"x.yar"\nrule a { condition: include }\nrule b { condition: true }' },
    rules: ['s.yar'],
  },
];

async function vigil(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runYara(argv, {
    stdout: { write: (s: string | Uint8Array) => { out += typeof s === 'string' ? s : Buffer.from(s).toString('latin1'); } },
    stderr: { write: (s: string) => { err += s; } },
    version: '4.2.3',
  });
  return { code, out, err };
}

for (const c of CASES) {
  for (const target of ['small.txt', 'large.bin']) {
    for (const flags of [[], ['-n']]) {
      test(`vigil yara ${flags.join(' ')} equals yara's: ${c.name} (${target})`, { skip: SKIP }, async () => {
        for (const [name, text] of Object.entries(c.files)) writeFileSync(join(dir, name), text + '\n');
        const rel = (arg: string) => arg.replace(/^(?:([^:]+):)?(.*)$/, (_m, ns: string | undefined, f: string) => `${ns ? ns + ':' : ''}${join(dir, f)}`);
        const argv = [...flags, ...c.rules.map(rel), join(dir, target)];
        const y = spawnSync('yara', argv, { encoding: 'latin1' });
        const v = await vigil(argv);
        assert.equal(v.out, y.stdout, 'stdout');
        assert.equal(v.code, y.status, 'exit code');
        if (c.moreErrors) {
          const yl = y.stderr.split('\n').filter(Boolean);
          const vl = v.err.split('\n').filter(Boolean);
          // yara's lines in yara's order, the first one first; any other vigil line is an error.
          assert.equal(vl[0], yl[0], 'first stderr line');
          let k = 0;
          for (const line of vl) {
            if (line === yl[k]) k++;
            else assert.match(line, /^error: /, 'extra stderr line');
          }
          assert.equal(k, yl.length, `stderr: every yara line in order\n--- yara\n${y.stderr}--- vigil\n${v.err}`);
        } else {
          assert.equal(v.err, y.stderr, 'stderr');
        }
      });
    }
  }
}
