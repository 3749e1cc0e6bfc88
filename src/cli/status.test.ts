/**
 * `vigil status`: the platform's abilities and limits, the watched roots read from a live
 * watcher's state, the database, the vault's count, the privacy line; a damaged state file is
 * listed, not fatal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStatus, PRIVACY } from './status.js';
import { openVault } from '../protect/vault/index.js';
import { Watcher } from '../protect/watch/index.js';
import { EICAR, eicarScanner, until, writeEicarDb } from '../protect/watch/testkit.js';

async function status(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runStatus(args, { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } });
  return { code, out: out.join(''), err: err.join('') };
}

test('status reports the platform, a running watcher, the database, the vault and privacy', { timeout: 30_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'vigil-status-'));
  const db = writeEicarDb(join(base, 'db'));
  const state = join(base, 'state');
  const vaultDir = join(base, 'vault');
  const root = join(base, 'tree');
  mkdirSync(root);
  const scanner = await eicarScanner(join(base, 'db2'));
  try {
    // Nothing watched, no vault yet.
    let r = await status(['--json', '--state', state, '--vault', vaultDir, '-d', db]);
    assert.equal(r.code, 0);
    let j = JSON.parse(r.out) as {
      platform: { os: string; root: boolean; realtime: { can: string[]; cannot: string[] }; inotify?: { maxUserWatches?: number } };
      watch: { roots: { root: string; status: string; eventsSeen: number; scanned: number; infected: number; lastScan?: { path: string } }[]; errors: string[] };
      database: { signatures: number; files: unknown[] }; vault: { records?: number; absent?: boolean }; privacy: string;
    };
    assert.equal(j.platform.os, process.platform);
    assert.equal(j.platform.root, process.getuid?.() === 0);
    assert.ok(j.platform.realtime.cannot.some((c) => /block a file before it is opened/.test(c)));
    if (process.platform === 'linux') {
      assert.ok(typeof j.platform.inotify?.maxUserWatches === 'number');
      assert.ok(j.platform.realtime.can.concat(j.platform.realtime.cannot).some((c) => c.includes(`max_user_watches ${j.platform.inotify!.maxUserWatches!.toLocaleString('en')}`)));
    }
    assert.deepEqual(j.watch.roots, []);
    assert.equal(j.database.signatures, 2);
    assert.equal(j.database.files.length, 2);
    assert.equal(j.vault.absent, true);
    assert.equal(j.privacy, PRIVACY);

    // A watcher that quarantined one file into the real vault.
    const vault = openVault(vaultDir);
    const w = new Watcher({ roots: [root], scanner, stateDir: state, sink: vault, vaultDir, checkpointMs: 100 });
    await w.start();
    try {
      writeFileSync(join(root, 'e.com'), EICAR);
      writeFileSync(join(root, 'c.txt'), 'clean');
      await until(() => w.stats().actions === 1 && w.stats().scanned >= 2, 3000, 'the scans');
      await w.checkpoint();
      r = await status(['--json', '--state', state, '--vault', vaultDir, '-d', db]);
      j = JSON.parse(r.out) as typeof j;
      const wr = j.watch.roots[0]!;
      assert.equal(wr.root, realpathSync(root));
      assert.equal(wr.status, 'watching');
      assert.ok(wr.eventsSeen >= 2);
      assert.ok(wr.scanned >= 2);
      assert.equal(wr.infected, 1);
      assert.ok(wr.lastScan?.path.startsWith(realpathSync(root)));
      assert.equal(j.vault.records, 1);
    } finally {
      await w.stop();
      vault.close();
    }

    // Human form, after the watcher stopped; a damaged state file is listed.
    writeFileSync(join(state, '0123456789abcdef0123.json'), 'not json');
    r = await status(['--state', state, '--vault', vaultDir, '-d', db]);
    assert.equal(r.code, 0);
    assert.match(r.out, /^Platform: /);
    assert.match(r.out, /cannot: block a file before it is opened/);
    assert.match(r.out, new RegExp(`${realpathSync(root).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not running, since \\S+; \\d+ events, \\d+ scanned, 1 infected`));
    assert.match(r.out, /unreadable: .*0123456789abcdef0123\.json/);
    assert.match(r.out, /Database: 2 signatures/);
    assert.match(r.out, /Vault: 1 quarantined file in /);
    assert.match(r.out, /Privacy: no file and no file name leaves this machine/);
    if (process.platform === 'linux') assert.match(r.out, /on macOS: FSEvents/);

    // A database that does not load is said so; bad arguments exit 2.
    r = await status(['--state', state, '--vault', vaultDir, '-d', join(base, 'none.ndb')]);
    assert.equal(r.code, 0);
    assert.match(r.out, /Database: not loaded: /);
    assert.equal((await status(['--bogus'])).code, 2);
  } finally {
    await scanner.close();
    rmSync(base, { recursive: true, force: true });
  }
});
