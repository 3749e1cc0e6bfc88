/**
 * Kills a rollback at several points (SIGKILL of the process running `vigil rollback`) and checks
 * that no file is ever lost or left half-written: each original file holds either its attacked
 * content or its restored content, and running the rollback again brings the whole tree back
 * byte-identical, with the temporary files of the killed run gone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openVersionStore } from './store.js';
import { digest, incident, listFiles, makeTree, treeDiff } from './testkit.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
// The same module as this test runs: sources under a TypeScript loader, compiled JS under dist/.
const isTs = import.meta.url.endsWith('.ts');
const storeModule = fileURLToPath(new URL(isTs ? './store.ts' : './store.js', import.meta.url));

/** Runs a rollback in a child process and kills it `killAfterMs` after it starts its work. */
function rollbackKilled(dir: string, since: number, killAfterMs: number): Promise<string> {
  const code = `
    import { openVersionStore } from ${JSON.stringify(storeModule)};
    const s = await openVersionStore({ dir: ${JSON.stringify(dir)} });
    process.stdout.write('go\\n');
    await s.rollback({ since: ${since} });
    process.stdout.write('done\\n');
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(isTs ? ['--import', 'tsx'] : []), '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('go\n') && !child.killed) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`rollback child failed (${code}): ${err}`));
      else resolve(out.includes('done') ? 'finished' : 'killed');
    });
  });
}

test('a rollback killed at any point loses nothing and a second run completes it', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'vigil-versions-crash-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'protected');
  const dir = join(base, 'store');
  await mkdir(root);
  const files = await makeTree(root, 300, 5);
  const store = await openVersionStore({ dir, roots: [root] });
  await store.snapshot(root);
  store.close();
  const before = await digest(root);
  await sleep(30);
  const since = Date.now();
  await sleep(30);
  await incident(root, files, { encrypt: 150, locked: 60, delete: 15 });
  const attacked = await digest(root);

  const outcomes: string[] = [];
  for (const killAfter of [0, 30, 80, 200, 400]) {
    const outcome = await rollbackKilled(dir, since, killAfter);
    // Every original file is either as the attack left it or restored; none torn, none lost.
    const now = await digest(root);
    const restored = [...before].filter(([p, e]) => now.get(p)?.sha256 === e.sha256 && attacked.get(p)?.sha256 !== e.sha256).length;
    outcomes.push(`${killAfter} ms: ${outcome}, ${restored} files restored so far`);
    for (const [p, e] of before) {
      const cur = now.get(p);
      const att = attacked.get(p);
      if (!cur) {
        assert.ok(!att, `${p} existed after the attack and is gone after a killed rollback`);
        // Its .locked twin (or nothing, for a deleted file) still holds the data.
        continue;
      }
      assert.ok(cur.sha256 === e.sha256 || cur.sha256 === att?.sha256, `${p} is neither attacked nor restored content`);
    }
  }
  t.diagnostic(`killed rollbacks: ${outcomes.join(', ')}`);
  const s2 = await openVersionStore({ dir });
  t.after(() => s2.close());
  const items = await s2.rollback({ since });
  assert.ok(items.every((i) => !i.error), items.find((i) => i.error)?.error);
  assert.deepEqual(treeDiff(await digest(root), before), []);
  assert.ok(!(await listFiles(root)).some((f) => f.includes('.vigil-restore-')));
});
