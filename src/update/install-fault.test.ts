/**
 * A SIGKILL during an install (at every step there is, and at random moments) leaves the database
 * path on a complete version, the old one or the new one, never a mix or nothing; the update
 * state agrees with it; and the install then completes when run again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../core/random.js';
import { driverBeside, runDriver } from '../core/test-child.js';
import { DbStore } from './install.js';
import { installedFiles, publisher, tempDir, versionFiles } from './testkit.js';

const driver = driverBeside(import.meta.url, 'install-fault-driver');
const run = (args: string[], env: Record<string, string>, killAfterMs?: number): ReturnType<typeof runDriver> => runDriver(driver, args, env, killAfterMs !== undefined ? { killAfterMs } : {});

test('a SIGKILL at any step of an install, or at a random moment, leaves the last good database in use; a second run completes', async (t) => {
  const { dir, done } = tempDir('vigil-install-fault-');
  t.after(done);
  const pub = publisher(dir);
  const b1 = join(dir, 'v1.vbundle');
  const b2 = join(dir, 'v2.vbundle');
  writeFileSync(b1, pub.publish(1));
  writeFileSync(b2, pub.publish(2));
  const pubFile = join(dir, 'pub.pem');
  const logFile = join(dir, 'log.pem');
  writeFileSync(pubFile, pub.keys.pub);
  writeFileSync(logFile, pub.logKeys.pub);
  const fresh = async (): Promise<string> => {
    const root = join(dir, 'home');
    rmSync(root, { recursive: true, force: true });
    const db = join(root, 'db');
    const r = await new DbStore(db).install(readFileSync(b1), { pubkey: pub.keys.pub, logPubkey: pub.logKeys.pub });
    assert.equal(r.status, 'installed');
    return db;
  };
  // The steps there are, from one uninterrupted run.
  const stepsFile = join(dir, 'steps');
  let db = await fresh();
  const full = await run([db, b2, pubFile, logFile], { VIGIL_UPDATE_STEPS: stepsFile });
  assert.equal(full.code, 0, full.stderr);
  assert.equal(full.stdout.trim(), 'installed 2');
  const steps = [...new Set(readFileSync(stepsFile, 'utf8').split('\n').filter(Boolean))];
  assert.ok(steps.length >= 8, `steps: ${steps.join(' ')}`);
  const outcomes: string[] = [];
  const check = async (what: string): Promise<void> => {
    const store = new DbStore(db);
    const cur = store.current();
    assert.ok(cur, `${what}: nothing installed`);
    assert.ok(cur.version === 1 || cur.version === 2, `${what}: version ${cur.version}`);
    assert.deepEqual(installedFiles(db), versionFiles(cur.version), `${what}: the files in use are not exactly version ${cur.version}'s`);
    assert.equal(store.state().highest_version >= cur.version, true);
    outcomes.push(`${what}:v${cur.version}`);
    // A second run completes (or finds the new version already in place).
    const again = await store.install(readFileSync(b2), { pubkey: pub.keys.pub, logPubkey: pub.logKeys.pub });
    assert.equal(again.installed.version, 2, `${what}: the retry did not install version 2`);
    assert.deepEqual(installedFiles(db), versionFiles(2));
    assert.equal(store.state().highest_version, 2);
  };
  for (const step of steps) {
    db = await fresh();
    const r = await run([db, b2, pubFile, logFile], { VIGIL_UPDATE_KILL_AT: step });
    assert.equal(r.signal, 'SIGKILL', `${step}: not killed (${r.code} ${r.stderr})`);
    await check(step);
  }
  const rnd = mulberry32(7);
  for (let i = 0; i < 12; i++) {
    db = await fresh();
    const ms = Math.floor(rnd() * 400);
    await run([db, b2, pubFile, logFile], {}, ms);
    await check(`random-${ms}ms`);
  }
  t.diagnostic(outcomes.join(' '));
});
