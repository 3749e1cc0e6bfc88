import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { databaseFingerprint, watchDatabases } from './selfcheck.js';

test('the fingerprint changes when a database file is added, changed or removed, not otherwise', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-selfcheck-'));
  try {
    writeFileSync(join(dir, 'a.ndb'), 'x:0:*:41414141\n');
    const f0 = databaseFingerprint([dir]);
    assert.equal(databaseFingerprint([dir]), f0);
    writeFileSync(join(dir, 'b.hdb'), '');
    const f1 = databaseFingerprint([dir]);
    assert.notEqual(f1, f0);
    utimesSync(join(dir, 'a.ndb'), new Date(1000), new Date(1000));
    assert.notEqual(databaseFingerprint([dir]), f1);
    rmSync(join(dir, 'b.hdb'));
    assert.match(databaseFingerprint([join(dir, 'gone')]), /missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('watchDatabases calls back once per change', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-selfcheck-'));
  try {
    writeFileSync(join(dir, 'a.ndb'), 'x:0:*:41414141\n');
    let calls = 0;
    const stop = watchDatabases([dir], 20, () => { calls++; });
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(calls, 0);
    writeFileSync(join(dir, 'b.ndb'), 'y:0:*:42424242\n');
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(calls, 1);
    stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
