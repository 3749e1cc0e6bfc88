import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSignatures } from './loader.js';

const here = dirname(fileURLToPath(import.meta.url));
const DATA = [resolve(here, '../../../../shared/data/clamav'), resolve(here, '../../../../../shared/data/clamav')].find((d) => existsSync(join(d, 'test-6.cvd')));
const NO_DATA = 'shared test data absent: ../shared/data/clamav';

test('loadSignatures loads ignore lists first, whatever the directory order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-load-'));
  writeFileSync(join(dir, 'a.ndb'), 'Keep.Me:0:*:4142434445\nDrop.Me:0:*:4647484950\n');
  writeFileSync(join(dir, 'z.ign2'), 'Drop.Me\n');
  const set = loadSignatures({ paths: [dir] });
  assert.deepEqual(set.diagnostics, []);
  assert.deepEqual(set.ndb.map((s) => s.name), ['Keep.Me.UNOFFICIAL']);
  assert.equal(set.known, 1);
});

test('loadSignatures keeps only the newer of X.cvd and X.cld and says which it dropped', { skip: DATA ? false : NO_DATA }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-load-'));
  copyFileSync(join(DATA!, 'test-6.cvd'), join(dir, 'test.cvd'));
  copyFileSync(join(DATA!, 'test-5.cvd'), join(dir, 'test.cld'));
  const set = loadSignatures({ paths: [dir] });
  assert.ok(set.ok);
  assert.ok(set.files.every((f) => f.path.includes('test.cvd:')), 'only the newer container loads');
  const w = set.diagnostics.find((d) => d.code === 'clamav.db.duplicate');
  assert.ok(w && w.severity === 'warning' && /test\.cld is older/.test(w.message));
  assert.equal(set.known, 10);
});

test('loadSignatures refuses a .info file outside a container and an unreadable path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-load-'));
  writeFileSync(join(dir, 'x.info'), 'ClamAV-VDB:1\n');
  const a = loadSignatures({ paths: [join(dir, 'x.info')] });
  assert.equal(a.ok, false);
  assert.match(a.diagnostics[0]!.message, /can only be loaded from within database container files/);
  const b = loadSignatures({ paths: [join(dir, 'missing.hdb')] });
  assert.equal(b.ok, false);
  assert.equal(b.diagnostics[0]!.code, 'clamav.db.open');
});
