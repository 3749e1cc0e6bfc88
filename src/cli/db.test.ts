import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDb } from './db.js';

function capture() {
  let out = '';
  let err = '';
  return { deps: { stdout: { write: (s: string) => { out += s; } }, stderr: { write: (s: string) => { err += s; } } }, out: () => out, err: () => err };
}

function fixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-dbcmd-'));
  writeFileSync(join(dir, 'a.ndb'), 'One:0:*:4142434445\nTwo:7:*:6162636465\n');
  writeFileSync(join(dir, 'b.hdb'), '44d88612fea8a8f36de82e1278abb02f:68:Hash.One\n');
  writeFileSync(join(dir, 'c.ldb'), 'Logic;Engine:81-255,Target:0;0&1;41424344;45464748\n');
  return dir;
}

test('vigil db compile writes the cache that vigil db info then reads', async () => {
  const home = mkdtempSync(join(tmpdir(), 'vigil-home-'));
  process.env['VIGIL_HOME'] = home;
  const dir = fixture();
  const c = capture();
  assert.equal(await runDb(['compile', '-d', dir], c.deps), 0, c.err());
  assert.match(c.out(), /^Compiled 4 signatures from 3 files/m);
  const cachePath = /Cache: (.*)$/m.exec(c.out())?.[1];
  assert.ok(cachePath && existsSync(cachePath));
  const i = capture();
  assert.equal(await runDb(['info', '--json', '-d', dir], i.deps), 0, i.err());
  const info = JSON.parse(i.out()) as { known: number; fromCache: boolean; perKind: Record<string, number>; hashIndex: number };
  assert.equal(info.known, 4);
  assert.equal(info.fromCache, true);
  assert.deepEqual(info.perKind, { ndb: 2, hdb: 1, ldb: 1 });
  assert.equal(info.hashIndex, 1);
});

test('vigil db compile refuses a malformed database with every error and exit code 2', async () => {
  process.env['VIGIL_HOME'] = mkdtempSync(join(tmpdir(), 'vigil-home-'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-dbcmd-'));
  writeFileSync(join(dir, 'bad.hdb'), 'nothex:12:Name\n\n');
  const c = capture();
  assert.equal(await runDb(['compile', '-d', dir], c.deps), 2);
  assert.match(c.err(), /bad\.hdb:1:/);
  assert.match(c.err(), /bad\.hdb:2:/);
  assert.match(c.err(), /^ERROR: /m);
  assert.equal(c.out(), '');
});
