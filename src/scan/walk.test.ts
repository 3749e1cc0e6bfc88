/**
 * Tests for the tree walker and the POSIX ERE translation behind `--exclude*`/`--include*`.
 *
 * The pattern table is checked twice: against expectations written here, and (when clamscan is
 * installed) against clamscan itself, by naming directories after the subjects and asking clamscan
 * which of them `--exclude-dir=<pattern>` excludes.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, opendirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_WALK_OPTIONS, PathPattern, stripTrailingSlashes, translateEre, walk, type WalkEvent, type WalkOptions } from './walk.js';

/** [pattern, subject, matches]; `null` for patterns the library rejects (they match nothing). */
const TABLE: readonly (readonly [string, string, boolean | null])[] = [
  ['abc', 'xabcx', true],
  ['^abc$', 'abc', true],
  ['^abc$', 'abcd', false],
  ['a.c', 'a-c', true],
  ['a\\.c', 'a-c', false],
  ['a\\.c', 'a.c', true],
  ['[[:upper:]]+', 'ABC', true],
  ['[[:upper:]]', 'abc', false],
  ['[[:digit:]]', 'word_1', true],
  ['^[^a-z]+$', 'ABC', true],
  ['^[^a-z]+$', 'aBC', false],
  ['a|B', 'ABC', true],
  ['(ab|bar)$', 'foobar', true],
  ['^a{2,}$', 'aaa', true],
  ['^a{2,}$', 'ab', false],
  ['^a{2}$', 'aaa', false],
  ['^a{,2}', 'a{,2}', true],
  ['x\\ y', 'x y', true],
  ['[]a]c', 'a]c', true],
  ['[a-]c', 'a-c', true],
  ['^[^]a-z]+$', 'ABC', true],
  ['^[^]a-z]+$', 'a]c', false],
  ['\\<bar', 'foobar', false],
  ['\\<bar', 'bar', true],
  ['foo\\>', 'foobar', false],
  ['[[:<:]]foo', 'foo.txt', true],
  ['foo[[:>:]]', 'foo.txt', true],
  ['foo[[:>:]]', 'foobar', false],
  ['(?i)abc', 'ABC', true],
  ['(?i)^[a]bc$', 'ABC', true],
  ['^abc$', 'ABC', false],
  ['\\(x\\)', '(x)', true],
  ['^(x)$', '(x)', false],
  ['x)', '(x)', true],
  ['a+b', 'a+b', false],
  ['a\\+b', 'a+b', true],
  ['brace{x}', 'brace{x}', true],
  ['^.$', '\u00e9', false],
  ['^..$', '\u00e9', true],
  ['[[=a=]]c', 'a.c', false],
  ['^[[=a=]][[.-.]]c$', 'a-c', true],
  ['back\\\\slash', 'back\\slash', true],
  ['k[\\]s', 'back\\slash', true],
  ['^tab\\there$', 'tabthere', true],
  ['^tab\\there$', 'tab\there', false],
  ['caret\\^', 'caret^', true],
  ['r\\$', 'dollar$', true],
  ['$x', 'x', false],
  ['a^b', 'a^b', false],
  ['[[:alpha:][:digit:]_]+$', 'word_1', true],
  ['^foobar/$', 'foobar', false],
  ['foobar/', 'foobar', true],
  ['^foo/', 'foobar', false],
  ['q\\?', 'q?', true],
  ['pipe\\|x', 'pipe|x', true],
  ['^()a', 'abc', true],
  ['*abc', 'abc', null],
  ['a**', 'aaa', null],
  ['a*?', 'aaa', null],
  ['(abc', 'abc', null],
  ['[abc', 'abc', null],
  ['a{3,2}', 'aaa', null],
  ['a{1', 'a{1', null],
  ['a||b', 'a', null],
  ['|a', 'a', null],
  ['a|', 'a', null],
  ['x\\', 'x', null],
  ['[a-c-e]', 'b', null],
  ['[z-a]', 'a', null],
  ['[[:foo:]]', 'a', null],
  ['^*', 'a', null],
  ['{1}', 'a', null],
  ['a{256}', 'a', null],
  ['a[[.hyphen.]]c', 'a-c', true],
  ['[[.space.]]', 'x y', true],
  ['[[.no-such-name.]]', 'a-c', null],
];

function events(list: WalkEvent[]): string[] {
  return list.map((e) => {
    switch (e.type) {
      case 'stdin': return 'stdin';
      case 'file': return `file ${e.path.toString()} ${e.size}`;
      case 'missing': return `missing ${e.path.toString()} ${e.error.code}`;
      case 'broken-link': return `broken-link ${e.path.toString()} ${e.error.code}`;
      case 'dir-error': return `dir-error ${e.path.toString()} ${e.error.code}`;
      case 'excluded': return `excluded ${e.path.toString()}${e.dir ? ' (dir)' : ''}`;
      default: return `${e.type} ${e.path.toString()}`;
    }
  });
}

async function collect(targets: string[], opts: Partial<WalkOptions> = {}): Promise<string[]> {
  const out: WalkEvent[] = [];
  for await (const e of walk(targets.map((t) => Buffer.from(t)), { ...DEFAULT_WALK_OPTIONS, ...opts })) out.push(e);
  return events(out);
}

function readdirOrder(dir: string): string[] {
  const d = opendirSync(dir);
  const names: string[] = [];
  for (let e = d.readSync(); e; e = d.readSync()) names.push(e.name);
  d.closeSync();
  return names;
}

describe('translateEre', () => {
  for (const [pattern, subject, expected] of TABLE) {
    it(`translateEre: /${pattern}/ ${expected === null ? 'is rejected' : expected ? 'matches' : 'does not match'} ${JSON.stringify(subject)}`, () => {
      const p = PathPattern.compile(pattern);
      if (expected === null) {
        assert.ok(p.error, `expected ${pattern} to be invalid`);
        assert.equal(p.test(Buffer.from(subject)), false);
      } else {
        assert.equal(p.error, undefined, p.error);
        assert.equal(p.test(Buffer.from(subject)), expected);
      }
    });
  }

  it('translateEre reports POSIX error texts', () => {
    assert.deepEqual(translateEre('*a'), { ok: false, error: 'repetition-operator operand invalid' });
    assert.deepEqual(translateEre('(a'), { ok: false, error: 'parentheses not balanced' });
    assert.deepEqual(translateEre('[a'), { ok: false, error: 'brackets ([ ]) not balanced' });
    assert.deepEqual(translateEre('a\\'), { ok: false, error: 'trailing backslash (\\)' });
  });

  it('PathPattern matches at most the first 512 bytes of a path, as clamscan copies it', () => {
    const long = Buffer.from(`${'a'.repeat(511)}bc`);
    assert.equal(PathPattern.compile('ab').test(long), true);
    assert.equal(PathPattern.compile('bc').test(long), false);
  });

  it('PathPattern matches a pattern ending in "/" against the path plus "/"', () => {
    assert.equal(PathPattern.compile('tmp/').test(Buffer.from('/x/tmp')), true);
    assert.equal(PathPattern.compile('tmp/').test(Buffer.from('/x/tmpfile')), false);
  });
});

describe('translateEre against clamscan', () => {
  const have = spawnSync('clamscan', ['--version'], { encoding: 'utf8' }).status === 0;
  it('translateEre agrees with clamscan --exclude-dir on every pattern of the table', { skip: have ? false : 'clamscan is not installed' }, () => {
    const root = mkdtempSync(join(tmpdir(), 'vigil-ere-'));
    try {
      writeFileSync(join(root, 'empty.hdb'), '44d88612fea8a8f36de82e1278abb02f:68:Unused.Signature\n');
      const subjects = [...new Set(TABLE.map(([, s]) => s))];
      const names = subjects.map((s, i) => ({ subject: s, dir: `s${i}` }));
      // Each subject is the path of a directory: a top-level directory named exactly like it.
      for (const n of names) mkdirSync(join(root, n.subject), { recursive: true });
      const mismatches: string[] = [];
      for (const pattern of [...new Set(TABLE.map(([p]) => p))]) {
        const r = spawnSync('clamscan', ['-d', 'empty.hdb', '--no-summary', `--exclude-dir=${pattern}`, '--', ...subjects], { cwd: root });
        const excluded = new Set(r.stdout.toString('utf8').split('\n').filter((l) => l.endsWith(': Excluded')).map((l) => l.slice(0, -': Excluded'.length)));
        const p = PathPattern.compile(pattern);
        for (const s of subjects) {
          const ours = p.test(Buffer.from(s));
          if (ours !== excluded.has(s)) mismatches.push(`/${pattern}/ on ${JSON.stringify(s)}: clamscan ${excluded.has(s)}, vigil ${ours}`);
        }
      }
      assert.deepEqual(mismatches, []);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('walk', () => {
  let root = '';
  const prev = process.cwd();
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'vigil-walk-'));
    process.chdir(root);
    mkdirSync('t/sub/deep/deeper', { recursive: true });
    writeFileSync('t/a.txt', 'hello');
    writeFileSync('t/empty', '');
    writeFileSync('t/sub/b.bin', 'bbbbbbbb');
    writeFileSync('t/sub/deep/c.bin', 'ccc');
    writeFileSync('t/sub/deep/deeper/d.bin', 'dddd');
    symlinkSync('a.txt', 't/link');
    symlinkSync('sub', 't/dirlink');
    symlinkSync('nowhere', 't/broken');
    symlinkSync('..', 't/sub/up');
    spawnSync('mkfifo', ['t/fifo']);
  });
  after(() => {
    process.chdir(prev);
    rmSync(root, { recursive: true, force: true });
  });

  it('walk lists a directory in readdir order, not sorted, and skips special files silently', async () => {
    const got = await collect(['t']);
    const expected = ['dir t'];
    for (const name of readdirOrder('t')) {
      const p = `t/${name}`;
      if (name === 'a.txt') expected.push(`file ${p} 5`);
      else if (name === 'empty') expected.push(`empty ${p}`);
      else if (['link', 'dirlink', 'broken'].includes(name)) expected.push(`symlink ${p}`);
    }
    assert.deepEqual(got, expected);
  });

  it('walk descends with -r, depth first, and honours --max-dir-recursion', async () => {
    const all = await collect(['t'], { recursive: true });
    assert.ok(all.includes('file t/sub/deep/deeper/d.bin 4'));
    assert.ok(all.indexOf('dir t/sub') < all.indexOf('file t/sub/b.bin 8'));
    const shallow = await collect(['t'], { recursive: true, maxDirRecursion: 2 });
    assert.ok(shallow.includes('file t/sub/b.bin 8'));
    assert.ok(!shallow.some((e) => e.startsWith('dir t/sub/deep')));
    assert.deepEqual(await collect(['t'], { maxDirRecursion: 0 }), []);
  });

  it('walk follows symlinks given as targets, but not inside directories unless told to', async () => {
    assert.deepEqual(await collect(['t/link', 't/dirlink']), ['file t/link 5', 'dir t/dirlink', ...(await collect(['t/sub'])).slice(1).map((e) => e.replace('t/sub', 't/dirlink'))]);
    assert.deepEqual(await collect(['t/link'], { followFileSymlinks: 0, followDirSymlinks: 0 }), ['symlink t/link']);
    const always = await collect(['t'], { followFileSymlinks: 2, followDirSymlinks: 2, recursive: true });
    assert.ok(always.includes('file t/link 5'));
    assert.ok(always.includes('dir t/dirlink'));
    assert.ok(!always.some((e) => e.includes('t/broken')), 'a broken link under "always follow" is skipped silently');
  });

  it('walk reports a directory loop instead of entering it again', async () => {
    const got = await collect(['t'], { followDirSymlinks: 2, recursive: true });
    assert.ok(got.includes('loop t/sub/up'), got.join('\n'));
    assert.ok(got.includes('loop t/dirlink/up'));
    assert.equal(got.filter((e) => e === 'file t/a.txt 5').length, 1);
  });

  it('walk reports missing targets, unsupported types, broken links and stdin', async () => {
    assert.deepEqual(await collect(['nope', 't/fifo', 't/broken', '-']), ['missing nope ENOENT', 'unsupported t/fifo', 'broken-link t/broken ENOENT', 'stdin']);
  });

  it('walk strips trailing slashes from targets but keeps "/"', async () => {
    assert.deepEqual((await collect(['t/sub///'])).slice(0, 2), ['dir t/sub', 'file t/sub/b.bin 8']);
    assert.equal(stripTrailingSlashes(Buffer.from('/')).toString(), '/');
    assert.equal(stripTrailingSlashes(Buffer.from('//')).toString(), '/');
  });

  it('walk matches --exclude on the resolved path and --include-dir on the top directory too', async () => {
    const ex = await collect(['t/link'], { exclude: [PathPattern.compile('a\\.txt$')] });
    assert.deepEqual(ex, ['excluded t/link']);
    const emptyExcluded = await collect(['t/empty'], { include: [PathPattern.compile('\\.bin$')] });
    assert.deepEqual(emptyExcluded, ['excluded t/empty'], 'exclusion is decided before the empty-file check');
    assert.deepEqual(await collect(['t'], { includeDir: [PathPattern.compile('sub')] }), ['excluded t (dir)']);
    const exDir = await collect(['t'], { recursive: true, excludeDir: [PathPattern.compile('^t/sub$')] });
    assert.ok(exDir.includes('excluded t/sub (dir)'));
    assert.ok(!exDir.some((e) => e.startsWith('file t/sub/')));
  });

  it('walk handles names that are not valid UTF-8 as bytes', async () => {
    const name = Buffer.concat([Buffer.from('t/sub/deep/x'), Buffer.from([0xff, 0xfe])]);
    writeFileSync(name, 'raw-name');
    const out: WalkEvent[] = [];
    for await (const e of walk([Buffer.from('t/sub/deep')], DEFAULT_WALK_OPTIONS)) out.push(e);
    const file = out.find((e) => e.type === 'file' && e.path.equals(name));
    assert.ok(file, 'the file is found with its exact bytes');
    rmSync(name);
  });
});
