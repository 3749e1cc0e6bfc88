/**
 * The exclusion rules by themselves: the glob syntax, where relative and absolute patterns apply,
 * extensions, path prefixes on whole segments, the size limit and the always-excluded directories.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExclusionGlob, globToRegExp } from './glob.js';
import { Exclusions } from './exclude.js';

test('glob syntax', () => {
  const m = (g: string, p: string) => globToRegExp(g).test(p);
  assert.ok(m('*.tmp', 'a.tmp'));
  assert.ok(!m('*.tmp', 'd/a.tmp'), '* stays within a segment');
  assert.ok(m('**/*.tmp', 'a.tmp'));
  assert.ok(m('**/*.tmp', 'x/y/z/a.tmp'));
  assert.ok(!m('**/*.tmp', 'x/a.tmpx'));
  assert.ok(m('node_modules/**', 'node_modules'));
  assert.ok(m('node_modules/**', 'node_modules/a/b.js'));
  assert.ok(!m('node_modules/**', 'node_modulesx/a'));
  assert.ok(m('a/**/b', 'a/b'));
  assert.ok(m('a/**/b', 'a/x/y/b'));
  assert.ok(m('file?.txt', 'file1.txt'));
  assert.ok(!m('file?.txt', 'file/.txt'));
  assert.ok(m('*.{bak,swp}', 'x.swp'));
  assert.ok(!m('*.{bak,swp}', 'x.swx'));
  assert.ok(m('[a-c]x', 'bx'));
  assert.ok(!m('[!a-c]x', 'bx'));
  assert.ok(m('[!a-c]x', 'dx'));
  assert.ok(m('\\*literal', '*literal'));
  assert.ok(!m('\\*literal', 'xliteral'));
  assert.ok(m('a.b', 'a.b') && !m('a.b', 'axb'), 'dots are literal');
  assert.ok(m('(x)+', '(x)+'), 'regex characters are literal');
  assert.throws(() => globToRegExp('a[bc'), /unterminated '\[' at column 2/);
  assert.throws(() => globToRegExp('a{b,c'), /unterminated '\{' at column 2/);
});

test('relative globs apply at any depth, absolute ones to the absolute path', () => {
  const g = new ExclusionGlob('node_modules/**');
  assert.ok(g.matches('/r/node_modules/x', 'node_modules/x'));
  assert.ok(g.matches('/r/a/b/node_modules/x/y', 'a/b/node_modules/x/y'));
  assert.ok(!g.matches('/r/a/node_modules2/x', 'a/node_modules2/x'));
  const abs = new ExclusionGlob('/r/logs/*.gz');
  assert.ok(abs.matches('/r/logs/a.gz', 'logs/a.gz'));
  assert.ok(!abs.matches('/r/x/logs/a.gz', 'x/logs/a.gz'));
});

test('Exclusions: reasons for paths, globs, extensions, size and internal directories', () => {
  const x = new Exclusions({ paths: ['/r/build/'], globs: ['**/*.tmp'], extensions: ['.ISO', 'part'], maxSize: 10 }, ['/r/.vault']);
  assert.equal(x.excluded('/r/build/a.com', '/r'), 'path /r/build');
  assert.equal(x.excluded('/r/build', '/r'), 'path /r/build');
  assert.equal(x.excluded('/r/buildx/a.com', '/r'), undefined, 'prefixes match whole segments');
  assert.equal(x.excluded('/r/a/b.tmp', '/r'), 'glob **/*.tmp');
  assert.equal(x.excluded('/r/disk.iso', '/r'), 'extension iso');
  assert.equal(x.excluded('/r/x.Part', '/r'), 'extension Part');
  assert.equal(x.excluded('/r/.iso', '/r'), undefined, 'a dot file has no extension');
  assert.equal(x.excluded('/r/.vault/files/1', '/r'), 'internal');
  assert.ok(x.isInternal('/r/.vault'));
  assert.equal(x.excluded('/r/ok.com', '/r'), undefined);
  assert.equal(x.tooLarge(10), undefined);
  assert.equal(x.tooLarge(11), 'max-size 10');
  assert.deepEqual(x.ignoredDirs(), ['/r/.vault', '/r/build']);
  assert.equal(new Exclusions().tooLarge(1e12), undefined, 'no limit of our own by default');
});

test('a root inside an excluded or internal directory is refused', async () => {
  const { mkdtempSync, mkdirSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { Watcher } = await import('./watcher.js');
  const base = mkdtempSync(join(tmpdir(), 'vigil-watch-excl-'));
  try {
    mkdirSync(join(base, 'home', 'sub'), { recursive: true });
    const scanner = { scanFile: () => Promise.reject(new Error('unused')) };
    assert.throws(() => new Watcher({ roots: [join(base, 'home', 'sub')], scanner, stateDir: join(base, 's'), action: 'report', internalDirs: [join(base, 'home')] }), /sub: inside .*home, which is excluded/);
    assert.throws(() => new Watcher({ roots: [join(base, 'home')], scanner, stateDir: join(base, 's'), action: 'report', exclude: { paths: [join(base, 'home')] } }), /which is excluded/);
    assert.throws(() => new Watcher({ roots: [join(base, 'home')], scanner, stateDir: join(base, 's') }), /the quarantine action needs a vault/);
    assert.throws(() => new Watcher({ roots: [], scanner, stateDir: join(base, 's'), action: 'report' }), /nothing to watch/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
