/**
 * Tests for `.cdiff` parsing and applying.
 *
 * In: ClamAV's signed unit-test databases in ../shared/data/clamav (test-1..6.cvd, test-2..6.cdiff;
 * skipped with a message when absent) and synthetic scripts. Out: pass/fail. Why: an update must
 * reproduce the next official container byte for byte and refuse anything altered or misordered.
 */

import { clamavDataSkip, readClamavData } from './testkit.js';
import { mulberry32 } from '../core/random.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyCdiffFile } from '../signatures/clamav/cvd.js';
import {
  applyCdiff, applyCdiffCommands, parseCdiff, parseCdiffScript, unpackContainer,
  type CdiffCommand, type DatabaseFiles,
} from './cdiff.js';

const skip = clamavDataSkip;
const read = readClamavData;

function unpack(n: number): Map<string, Buffer> {
  const r = unpackContainer(read(`test-${n}.cvd`), `test-${n}.cvd`);
  if (!r.ok) assert.fail(`test-${n}.cvd: ${r.message}`);
  return r.files;
}

function assertSameFiles(actual: DatabaseFiles, expected: DatabaseFiles, what: string): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: file names`);
  for (const [name, data] of expected) assert.ok(actual.get(name)?.equals(data), `${what}: ${name} differs`);
}

/** Deterministic PRNG (mulberry32). */
const rng = mulberry32;

test('test-2..6.cdiff applied in order to test-1.cvd give exactly test-2..6.cvd', { skip }, () => {
  let files = unpack(1);
  assert.ok(files.has('COPYING') && files.has('test.info'), 'test-1.cvd unpacks with COPYING and test.info');
  for (let n = 2; n <= 6; n++) {
    const r = applyCdiff(files, read(`test-${n}.cdiff`));
    if (!r.ok) assert.fail(`test-${n}.cdiff: ${r.message}`);
    assert.equal(r.version, n);
    assertSameFiles(r.files, unpack(n), `after test-${n}.cdiff`);
    files = r.files;
  }
  const info = files.get('test.info')!.toString('latin1');
  assert.match(info.split('\n')[0]!, /^ClamAV-VDB:22 Jun 2021 21-34 -0400:6:14:81:X:X:micasnyd:1624412045$/);
  const hdb = files.get('test.hdb')!.toString('latin1').split('\n');
  assert.ok(hdb.includes('44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature'), 'test.hdb has Eicar-Test-Signature');
  assert.ok(hdb.includes('aa15bcf478d165efd2065190eb473bcb:544:Clamav.Test.File-6'), 'test.hdb has Clamav.Test.File-6');
  const ldb = files.get('test.ldb')!.toString('latin1').split('\n');
  assert.ok(ldb.some((l) => l.startsWith('Win.Worm.Mydoom-9802011-0;Engine:51-255,Target:1;')), 'test.ldb has Win.Worm.Mydoom-9802011-0');
});

test('every cdiff signature verifies and its script parses', { skip }, () => {
  for (let n = 2; n <= 6; n++) {
    const bytes = read(`test-${n}.cdiff`);
    assert.deepEqual(verifyCdiffFile(bytes), { ok: true }, `test-${n}.cdiff`);
    const p = parseCdiff(bytes);
    if (!p.ok) assert.fail(`test-${n}.cdiff: ${p.message}`);
    assert.equal(p.version, n);
    assert.ok(p.commands.some((c) => c.op === 'OPEN' && c.name === 'test.info'), `test-${n}.cdiff edits test.info`);
  }
});

test('a cdiff with one flipped byte is refused with a reason, and the input is untouched', { skip }, () => {
  const next = rng(0x7c0ff1e);
  let tried = 0;
  for (let n = 2; n <= 6; n++) {
    const base = n === 2 ? unpack(1) : unpack(n - 1);
    const snapshot = new Map([...base].map(([k, v]) => [k, Buffer.from(v)]));
    const good = read(`test-${n}.cdiff`);
    const positions = new Set<number>([0, 11, 12, good.length - 1, good.lastIndexOf(0x3a), good.lastIndexOf(0x3a) - 1]);
    while (positions.size < 80) positions.add(Math.floor(next() * good.length));
    for (const pos of positions) {
      const bad = Buffer.from(good);
      bad[pos] = bad[pos]! ^ (1 << Math.floor(next() * 8));
      const r = applyCdiff(base, bad);
      assert.equal(r.ok, false, `test-${n}.cdiff with byte ${pos} flipped was accepted`);
      if (!r.ok) assert.ok(r.code.startsWith('cdiff.') && r.message.length > 10, `reason for byte ${pos}: ${r.code} ${r.message}`);
      tried++;
    }
    assertSameFiles(base, snapshot, `test-${n - 1} after refusals`);
  }
  assert.equal(tried, 400);
});

test('truncated, empty and headerless cdiffs are refused', { skip }, () => {
  const good = read('test-3.cdiff');
  const base = unpack(2);
  for (const bytes of [Buffer.alloc(0), good.subarray(0, 20), good.subarray(0, good.length - 1), good.subarray(1), Buffer.from('ClamAV-Diff:3:0::')]) {
    const r = applyCdiff(base, bytes);
    assert.equal(r.ok, false, `${bytes.length}-byte cdiff accepted`);
  }
  const r = applyCdiff(base, Buffer.concat([Buffer.from('X'), good]));
  assert.ok(!r.ok && r.code === 'cdiff.header', 'bad magic is a header error');
});

test('applying twice or out of order is refused by the version check', { skip }, () => {
  const v2 = applyCdiff(unpack(1), read('test-2.cdiff'));
  if (!v2.ok) assert.fail(v2.message);
  const twice = applyCdiff(v2.files, read('test-2.cdiff'));
  assert.ok(!twice.ok && twice.code === 'cdiff.version', 'applied twice');
  assert.match(twice.ok ? '' : twice.message, /version 2, but the database is at version 2/);
  const skipped = applyCdiff(unpack(1), read('test-3.cdiff'));
  assert.ok(!skipped.ok && skipped.code === 'cdiff.version', 'skipped a version');
  const backwards = applyCdiff(unpack(4), read('test-3.cdiff'));
  assert.ok(!backwards.ok && backwards.code === 'cdiff.version', 'backwards');
});

// ---------------------------------------------------------------------------------------------
// Scripts (no signature involved)

const files = (o: Record<string, string>): Map<string, Buffer> => new Map(Object.entries(o).map(([k, v]) => [k, Buffer.from(v)]));
function run(base: Map<string, Buffer>, script: string): ReturnType<typeof applyCdiffCommands> {
  const p = parseCdiffScript(Buffer.from(script));
  if (!p.ok) return p;
  return applyCdiffCommands(base, p.commands);
}
const text = (m: DatabaseFiles, k: string): string | undefined => m.get(k)?.toString('latin1');

test('CLOSE applies DEL and XCHG against original line numbers, then ADDs', () => {
  const base = files({ 'a.ndb': 'one\ntwo\nthree\nfour\n' });
  const r = run(base, '# comment\nOPEN a.ndb\nADD five\nXCHG 3 thr THREE\nDEL 1 on\nDEL 2 two\nCLOSE\nOPEN new.hdb\nADD x y z\nCLOSE\n');
  if (!r.ok) assert.fail(r.message);
  assert.equal(text(r.files, 'a.ndb'), 'THREE\nfour\nfive\n');
  assert.equal(text(r.files, 'new.hdb'), 'x y z\n');
  assert.equal(text(base, 'a.ndb'), 'one\ntwo\nthree\nfour\n');
});

test('MOVE and UNLINK', () => {
  const r = run(files({ 's.ndb': 'a\nb\nc\nd\n', 'd.ndb': 'z\n', 'gone.fp': 'x\n' }), 'MOVE s.ndb d.ndb 2 b 3 c\nUNLINK gone.fp\n');
  if (!r.ok) assert.fail(r.message);
  assert.equal(text(r.files, 's.ndb'), 'a\nd\n');
  assert.equal(text(r.files, 'd.ndb'), 'z\nb\nc\n');
  assert.equal(r.files.has('gone.fp'), false);
});

test('malformed scripts are refused with their line number', () => {
  const base = files({ 'a.ndb': 'one\ntwo\n', 'b.ndb': 'x\n' });
  const cases: [string, string, number][] = [
    ['OPEN a.ndb\nFROB\nCLOSE\n', 'cdiff.script.command', 2],
    ['OPEN a.ndb\nCLOSE', 'cdiff.script.newline', 2],
    ['OPEN ../etc/passwd\n', 'cdiff.script.name', 1],
    ['OPEN a/b\n', 'cdiff.script.name', 1],
    ['OPEN ..\n', 'cdiff.script.name', 1],
    ['OPEN\n', 'cdiff.script.name', 1],
    ['OPEN a.ndb\nDEL x one\nCLOSE\n', 'cdiff.script.syntax', 2],
    ['OPEN a.ndb\nDEL 0 one\nCLOSE\n', 'cdiff.script.syntax', 2],
    ['OPEN a.ndb\nDEL 1\nCLOSE\n', 'cdiff.script.syntax', 2],
    ['OPEN a.ndb\nDEL 1 one extra\nCLOSE\n', 'cdiff.script.syntax', 2],
    ['OPEN a.ndb\nXCHG 1 one\nCLOSE\n', 'cdiff.script.syntax', 2],
    ['OPEN a.ndb\nADD\nCLOSE\n', 'cdiff.script.syntax', 2],
    ['OPEN a.ndb\nCLOSE now\n', 'cdiff.script.syntax', 2],
    ['MOVE a.ndb b.ndb 2 t 1 o\n', 'cdiff.script.syntax', 1],
    ['MOVE a.ndb a.ndb 1 o 2 t\n', 'cdiff.script.syntax', 1],
    ['\n', 'cdiff.script.command', 1],
    ['OPEN a.ndb\nOPEN b.ndb\n', 'cdiff.apply.open', 2],
    ['ADD x\n', 'cdiff.apply.open', 1],
    ['CLOSE\n', 'cdiff.apply.open', 1],
    ['OPEN a.ndb\nADD x\n', 'cdiff.apply.open', 1],
    ['OPEN a.ndb\nUNLINK b.ndb\n', 'cdiff.apply.open', 2],
    ['OPEN a.ndb\nDEL 1 one\nXCHG 1 one uno\nCLOSE\n', 'cdiff.apply.duplicate', 3],
    ['OPEN a.ndb\n#\nDEL 2 three\nCLOSE\n', 'cdiff.apply.pattern', 3],
    ['OPEN a.ndb\nDEL 3 x\nCLOSE\n', 'cdiff.apply.range', 2],
    ['OPEN c.ndb\nDEL 1 x\nCLOSE\n', 'cdiff.apply.missing', 3],
    ['UNLINK c.ndb\n', 'cdiff.apply.missing', 1],
    ['MOVE a.ndb c.ndb 1 o 2 t\n', 'cdiff.apply.missing', 1],
    ['MOVE a.ndb b.ndb 1 o 3 t\n', 'cdiff.apply.range', 1],
    ['MOVE a.ndb b.ndb 1 x 2 t\n', 'cdiff.apply.pattern', 1],
  ];
  for (const [script, code, line] of cases) {
    const r = run(base, script);
    assert.equal(r.ok, false, JSON.stringify(script));
    if (!r.ok) {
      assert.equal(r.code, code, `${JSON.stringify(script)}: ${r.message}`);
      assert.equal(r.line, line, `${JSON.stringify(script)}: ${r.message}`);
      assert.match(r.message, new RegExp(`line ${line}`));
    }
  }
});

test('a failure late in a script leaves no partial result and the input unchanged', () => {
  const base = files({ 'a.ndb': 'one\n', 'b.ndb': 'two\n' });
  const r = run(base, 'OPEN a.ndb\nADD more\nCLOSE\nUNLINK b.ndb\nOPEN a.ndb\nDEL 1 nope\nCLOSE\n');
  assert.ok(!r.ok && r.code === 'cdiff.apply.pattern' && r.line === 6, 'fails on line 6');
  assert.equal(text(base, 'a.ndb'), 'one\n');
  assert.equal(text(base, 'b.ndb'), 'two\n');
});

test('an edited file without a final newline is refused', () => {
  const r = run(files({ 'a.ndb': 'one\ntwo' }), 'OPEN a.ndb\nDEL 1 one\nCLOSE\n');
  assert.ok(!r.ok && r.code === 'cdiff.apply.newline', 'missing newline');
});

test('parsed commands keep their script line numbers', () => {
  const p = parseCdiffScript(Buffer.from('# c\nOPEN a.ndb\nXCHG 2 ab new line with spaces\nCLOSE\n'));
  if (!p.ok) assert.fail(p.message);
  const x = p.commands[1] as Extract<CdiffCommand, { op: 'XCHG' }>;
  assert.equal(x.line, 3);
  assert.equal(x.lineNo, 2);
  assert.equal(x.prefix.toString(), 'ab');
  assert.equal(x.text.toString(), 'new line with spaces');
});
