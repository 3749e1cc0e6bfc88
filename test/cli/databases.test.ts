/**
 * `vigil scan` with real and damaged databases, end to end through the command line: ClamAV's
 * signed test database gives official names; a damaged copy, a truncated one, a malformed line or
 * a missing path is refused with a clear error and exit 2, and nothing is scanned with a
 * half-loaded database. Tests that need ../shared skip with a message when it is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, from either test/cli (tsx) or dist/test/cli (compiled). */
const ROOT = [resolve(here, '..', '..'), resolve(here, '..', '..', '..')].find((d) => existsSync(join(d, 'bin', 'vigil.js')))!;
const BIN = join(ROOT, 'bin', 'vigil.js');
const CVD = resolve(ROOT, '..', 'shared', 'data', 'clamav', 'test-6.cvd');
const NO_DATA = 'shared test data absent: ../shared/data/clamav/test-6.cvd';

function eicar(): Buffer {
  return Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');
}

function vigil(args: string[], home: string) {
  const r = spawnSync(process.execPath, [BIN, 'scan', ...args], { encoding: 'utf8', env: { ...process.env, VIGIL_HOME: home } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function work() {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-db-'));
  writeFileSync(join(dir, 'eicar.com'), eicar());
  writeFileSync(join(dir, 'clean.txt'), 'nothing to see here\n');
  return dir;
}

test('vigil scan with test-6.cvd reports the official EICAR name and exit code 1', { skip: existsSync(CVD) ? false : NO_DATA }, () => {
  const dir = work();
  const r = vigil(['--no-summary', '-d', CVD, join(dir, 'eicar.com'), join(dir, 'clean.txt')], join(dir, 'home'));
  assert.equal(r.code, 1, r.err);
  assert.equal(r.out, `${join(dir, 'eicar.com')}: Eicar-Test-Signature FOUND\n${join(dir, 'clean.txt')}: OK\n`);
});

test('vigil scan refuses a copy of test-6.cvd with a byte changed, with a clear error and exit code 2', { skip: existsSync(CVD) ? false : NO_DATA }, () => {
  const dir = work();
  const original = readFileSync(CVD);
  // One position in the header, one in the compressed body, one at the very end.
  for (const at of [100, 2000, original.length - 1]) {
    const copy = Buffer.from(original);
    copy[at] = copy[at]! ^ 0x01;
    const path = join(dir, `bad-${at}.cvd`);
    writeFileSync(path, copy);
    const r = vigil(['--no-summary', '-d', path, join(dir, 'eicar.com')], join(dir, `home-${at}`));
    assert.equal(r.code, 2, `byte ${at}: ${r.err}`);
    assert.equal(r.out, '', `byte ${at}: nothing may be scanned`);
    assert.match(r.err, /bad-\d+\.cvd/, 'the error names the file');
    assert.match(r.err, /^ERROR: /m);
  }
});

test('vigil scan refuses a truncated container', { skip: existsSync(CVD) ? false : NO_DATA }, () => {
  const dir = work();
  const path = join(dir, 'short.cvd');
  writeFileSync(path, readFileSync(CVD).subarray(0, 3000));
  const r = vigil(['--no-summary', '-d', path, join(dir, 'eicar.com')], join(dir, 'home'));
  assert.equal(r.code, 2);
  assert.equal(r.out, '');
  assert.match(r.err, /short\.cvd/);
});

test('vigil scan lists every malformed line with its location and exits 2 without scanning', () => {
  const dir = work();
  const db = join(dir, 'bad.ndb');
  writeFileSync(db, 'Good:0:*:414243\n\nBad.Hex:0:*:41zz43\nBad.Offset:0:EP+0:414243\n');
  const r = vigil(['--no-summary', '-d', db, join(dir, 'eicar.com')], join(dir, 'home'));
  assert.equal(r.code, 2);
  assert.equal(r.out, '');
  assert.match(r.err, /bad\.ndb:2:1: error: /);
  assert.match(r.err, /bad\.ndb:3:\d+: error: invalid character 'z'/);
  assert.match(r.err, /bad\.ndb:4:\d+: error: offset "EP\+0" needs an executable target/);
  assert.match(r.err, /^ERROR: Malformed database$/m);
});

test('vigil scan reports a missing database path and exits 2', () => {
  const dir = work();
  const r = vigil(['--no-summary', '-d', join(dir, 'nope.hdb'), join(dir, 'eicar.com')], join(dir, 'home'));
  assert.equal(r.code, 2);
  assert.equal(r.out, '');
  assert.match(r.err, /nope\.hdb/);
});

test('vigil scan finds EICAR with the database shipped in the package', () => {
  const dir = work();
  const r = vigil(['--no-summary', dir], join(dir, 'home'));
  assert.equal(r.code, 1, r.err);
  assert.match(r.out, /eicar\.com: Vigil\.Test\.EICAR-NDB FOUND/);
  assert.match(r.out, /clean\.txt: OK/);
});

test('YARA rules in a database: found with ClamAV names, also through the compiled cache and with -j 2; a file that does not compile is skipped with a warning', () => {
  const dir = work();
  const home = join(dir, 'home');
  writeFileSync(join(dir, 'rules.yar'), 'import "math"\nrule Greeting : demo {\n  strings: $a = "see here" wide ascii\n  condition: $a and math.entropy(0, filesize) > 1\n}\nprivate rule Hidden { strings: $h = "nothing" condition: $h }\nrule UsesHidden { condition: Hidden }\n');
  writeFileSync(join(dir, 'broken.yar'), 'rule Broken { strings: $a = "x" condition: $b }\n');
  const args = ['--no-summary', '-d', join(dir, 'rules.yar'), '-d', join(dir, 'broken.yar'), join(dir, 'clean.txt'), join(dir, 'eicar.com')];
  const want = `${join(dir, 'clean.txt')}: YARA.Greeting.UNOFFICIAL FOUND\n${join(dir, 'eicar.com')}: OK\n`;
  const first = vigil(args, home);
  assert.equal(first.code, 1, first.err);
  assert.equal(first.out, want);
  assert.match(first.err, /broken\.yar.*skipped/);
  const compiled = spawnSync(process.execPath, [BIN, 'db', 'compile', '-d', join(dir, 'rules.yar')], { encoding: 'utf8', env: { ...process.env, VIGIL_HOME: home } });
  assert.equal(compiled.status, 0, compiled.stderr);
  assert.match(compiled.stdout, /yara: 3 rules/);
  const cachedArgs = ['--no-summary', '-d', join(dir, 'rules.yar'), join(dir, 'clean.txt'), join(dir, 'eicar.com')];
  assert.equal(vigil(cachedArgs, home).out, want);
  const all = vigil(['--allmatch', '-j', '2', ...cachedArgs], home);
  // Text gets a raw and a normalised pass and YARA rules run in both, as in ClamAV: with
  // --allmatch a rule matching both is reported twice. The private rule is never reported.
  assert.equal(all.out.split('\n').filter((l) => l.includes('YARA.UsesHidden')).length, 2, all.out);
  assert.doesNotMatch(all.out, /YARA\.Hidden/);
  assert.equal(all.code, 1);
});
