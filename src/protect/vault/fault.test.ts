/**
 * Fault injection: a child process (`fault-driver.ts`) runs a quarantine or a restore and SIGKILLs
 * itself at one step; for every step there is, the vault is then opened (which recovers) and the
 * invariant checked: the file is either in its place with its original bytes or in the vault as a
 * stored record that decrypts to them — exactly one of the two, with no half-written leftover (no
 * partial vault file, no temporary file beside the target, no record in an unfinished state). Then
 * the operation is retried and completes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openVault, type Vault } from './index.js';
import { driverBeside, runDriver, type ChildRun } from '../../core/test-child.js';
import { INFO, randomBytesSeeded, seeded, sha256, tempDir } from './testkit.js';

const driver = driverBeside(import.meta.url, 'fault-driver');
const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), fileURLToPath(import.meta.url).endsWith('.ts') ? '../../..' : '../../../..');
const run = (args: string[], env: Record<string, string>): Promise<ChildRun> => runDriver(driver, args, env, { cwd: projectRoot });

/** Runs the operation to its end once, recording the steps it goes through. */
async function discoverSteps(root: string, args: string[]): Promise<string[]> {
  const stepsFile = join(root, `steps-${Date.now()}`);
  const r = await run(args, { VIGIL_VAULT_STEPS: stepsFile });
  assert.equal(r.code, 0, r.stderr);
  const steps = readFileSync(stepsFile, 'utf8').split('\n').filter(Boolean);
  rmSync(stepsFile);
  return [...new Set(steps)];
}

/** The invariant after a crash and recovery; returns where the file is. */
async function checkInvariant(vault: Vault, path: string, sha: string, what: string): Promise<'in-place' | 'stored'> {
  const all = vault.list();
  assert.deepEqual(all.filter((e) => e.state !== 'stored' || e.problems.length > 0).map((e) => `${e.id} ${e.state} ${e.problems.join('; ')}`), [], `${what}: unfinished or damaged records after recovery`);
  // No partial vault file: every file in the vault belongs to a stored record.
  assert.deepEqual(readdirSync(vault.filesDir).sort(), all.map((e) => e.id).sort(), `${what}: stray files in the vault`);
  assert.deepEqual(readdirSync(dirname(path)).filter((n) => n.startsWith('.vigil-restore-')), [], `${what}: a temporary restore file was left`);
  const recs = all.filter((e) => e.originalPath === path);
  assert.ok(recs.length <= 1, `${what}: ${recs.length} records for one file`);
  let stored = false;
  if (recs.length === 1) {
    assert.equal(recs[0]!.sha256, sha, `${what}: the record's SHA-256 is not the original's`);
    assert.equal(await vault.verify(recs[0]!.id), null, `${what}: the stored copy does not decrypt to the original`);
    stored = true;
  }
  const present = existsSync(path);
  const inPlace = present && sha256(readFileSync(path)) === sha;
  assert.ok(inPlace || stored, `${what}: the file is LOST (neither in place nor in the vault)`);
  assert.ok(!(inPlace && stored), `${what}: the file is both in place and in the vault`);
  return inPlace ? 'in-place' : 'stored';
}

test('a SIGKILL at any step of a quarantine leaves the file in place or in the vault, and the quarantine can be retried', async (t) => {
  const root = tempDir('fq');
  try {
    const vdir = join(root, 'vault');
    const rnd = seeded(42);
    const make = (name: string): { path: string; sha: string } => {
      const data = randomBytesSeeded(rnd, 3 * 1024 * 1024 + 17); // several chunks
      const path = join(root, 'files', name);
      writeFileSync(path, data, { flag: 'w' });
      return { path, sha: sha256(data) };
    };
    mkdirSync(join(root, 'files'));
    const first = make('discover');
    const steps = await discoverSteps(root, ['quarantine', vdir, first.path]);
    for (const s of ['q.row-writing', 'q.vault-file-created', 'q.write-chunk', 'q.vault-file-synced', 'q.row-moving', 'q.original-unlinked', 'q.row-stored']) {
      assert.ok(steps.includes(s), `step ${s} not reached: ${steps.join(', ')}`);
    }
    const outcome: string[] = [];
    for (const step of steps) {
      const f = make(`victim ${step}`);
      const r = await run(['quarantine', vdir, f.path], { VIGIL_VAULT_KILL_AT: step });
      assert.equal(r.signal, 'SIGKILL', `${step}: the driver was not killed (${r.code} ${r.stderr})`);
      const vault = openVault(vdir);
      try {
        const where = await checkInvariant(vault, f.path, f.sha, `quarantine killed at ${step}`);
        outcome.push(`${step}→${where}`);
        if (where === 'in-place') {
          const rec = await vault.quarantine(f.path, INFO);
          assert.equal(rec.sha256, f.sha);
          assert.equal(existsSync(f.path), false);
        }
        assert.equal(await checkInvariant(vault, f.path, f.sha, `quarantine retried after ${step}`), 'stored');
      } finally {
        vault.close();
      }
    }
    t.diagnostic(`${steps.length} kill points: ${outcome.join(', ')}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

for (const force of [false, true]) {
  test(`a SIGKILL at any step of a restore${force ? ' --force over another file' : ''} leaves the file in place or in the vault, and the restore can be retried`, async (t) => {
    const root = tempDir(force ? 'frf' : 'fr');
    try {
      const vdir = join(root, 'vault');
      const rnd = seeded(force ? 7 : 8);
      const quarantined = async (name: string): Promise<{ path: string; sha: string; id: string }> => {
        const data = randomBytesSeeded(rnd, 2 * 1024 * 1024 + 5);
        const path = join(root, 'files', name);
        writeFileSync(path, data);
        chmodSync(path, 0o751);
        const v = openVault(vdir);
        try {
          const rec = await v.quarantine(path, INFO);
          if (force) writeFileSync(path, 'another file, in the way\n');
          return { path, sha: sha256(data), id: rec.id };
        } finally { v.close(); }
      };
      mkdirSync(join(root, 'files'));
      const first = await quarantined('discover');
      const steps = await discoverSteps(root, ['restore', vdir, first.id, ...(force ? ['force'] : [])]);
      assert.equal(sha256(readFileSync(first.path)), first.sha);
      for (const s of ['r.row-restoring', 'r.temp-created', 'r.write-chunk', 'r.temp-synced', force ? 'r.renamed' : 'r.linked', 'r.row-restored', 'r.vault-file-unlinked', 'r.row-deleted']) {
        assert.ok(steps.includes(s), `step ${s} not reached: ${steps.join(', ')}`);
      }
      const outcome: string[] = [];
      for (const step of steps) {
        const f = await quarantined(`victim ${step}`);
        const r = await run(['restore', vdir, f.id, ...(force ? ['force'] : [])], { VIGIL_VAULT_KILL_AT: step });
        assert.equal(r.signal, 'SIGKILL', `${step}: the driver was not killed (${r.code} ${r.stderr})`);
        const vault = openVault(vdir);
        try {
          const where = await checkInvariant(vault, f.path, f.sha, `restore killed at ${step}`);
          outcome.push(`${step}→${where}`);
          if (force) assert.equal(existsSync(f.path), true, `${step}: the file in the way vanished`);
          if (where === 'stored') {
            if (force) assert.equal(readFileSync(f.path, 'utf8'), 'another file, in the way\n', `${step}: the file in the way was damaged`);
            await vault.restore(f.id, force ? { force: true } : {});
          }
          assert.equal(await checkInvariant(vault, f.path, f.sha, `restore retried after ${step}`), 'in-place');
          assert.equal(statSync(f.path).mode & 0o7777, 0o751, `${step}: mode not restored`);
        } finally {
          vault.close();
        }
      }
      t.diagnostic(`${steps.length} kill points: ${outcome.join(', ')}`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}
