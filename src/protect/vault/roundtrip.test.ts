/**
 * Round trip through the vault: 1,000 files of seeded random content (0 B to 256 KiB), modes
 * 0400..0777, mtimes from 2000 to 2030, names with unicode, spaces, leading dashes and newlines;
 * all quarantined (each gone from its place), listed, restored byte-identical with mode, owner and
 * mtime; the vault copies never hold the plain content. Prints the timings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openVault } from './index.js';
import { INFO, randomBytesSeeded, seeded, sha256, tempDir } from './testkit.js';

const NAMES = [
  (i: number) => `plain-${i}.bin`,
  (i: number) => `-leading dash ${i}`,
  (i: number) => `--${i}.exe`,
  (i: number) => `spaced  name ${i} .txt`,
  (i: number) => `ünïcødé ${i} 文件 🦠.doc`,
  (i: number) => `new\nline ${i}`,
  (i: number) => `.hidden ${i}`,
  (i: number) => `tab\tand 'quote" ${i}`,
];

async function pool<T>(items: T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await f(items[next++]!);
  }));
}

test('1,000 random files go into the vault and come back byte-identical with their metadata', async (t) => {
  const root = tempDir('rt');
  try {
    const rnd = seeded(0x5eed);
    const files: { path: string; head: Buffer; sha: string; size: number; mode: number; mtimeMs: number; uid: number; gid: number }[] = [];
    let bytes = 0;
    for (let i = 0; i < 1000; i++) {
      const dir = join(root, 'tree', `d${i % 7}`, i % 2 ? 'sub dir' : 'ünder');
      mkdirSync(dir, { recursive: true });
      const path = join(dir, NAMES[i % NAMES.length]!(i));
      const size = i === 0 ? 0 : i === 1 ? 256 * 1024 : Math.floor(rnd() * (256 * 1024 + 1));
      const data = randomBytesSeeded(rnd, size);
      writeFileSync(path, data);
      const mode = 0o400 + Math.floor(rnd() * (0o777 - 0o400 + 1));
      chmodSync(path, mode);
      const secs = Math.round((946684800 + rnd() * 946080000) * 1000) / 1000;
      utimesSync(path, secs, secs);
      const st = statSync(path);
      files.push({ path, head: Buffer.from(data.subarray(0, 64)), sha: sha256(data), size, mode, mtimeMs: st.mtimeMs, uid: st.uid, gid: st.gid });
      bytes += size;
    }
    const vault = openVault(join(root, 'vault'));
    const ids = new Map<string, string>();
    let t0 = performance.now();
    await pool(files, 4, async (f) => {
      const r = await vault.quarantine(f.path, INFO);
      assert.equal(r.sha256, f.sha, f.path);
      assert.equal(r.size, f.size);
      assert.equal(r.mode, f.mode);
      ids.set(f.path, r.id);
    });
    const tq = performance.now() - t0;
    for (const f of files) assert.equal(existsSync(f.path), false, `${JSON.stringify(f.path)} still in place`);
    // Nothing readable is left in the vault: no stored file holds the plain content's first bytes.
    for (const f of files.filter((x) => x.head.length === 64).slice(0, 50)) {
      const stored = readFileSync(join(vault.filesDir, ids.get(f.path)!));
      assert.ok(stored.length > f.size + 36);
      assert.equal(stored.includes(f.head), false, 'the vault copy holds the plain content');
    }

    t0 = performance.now();
    const list = vault.list();
    const tl = performance.now() - t0;
    assert.equal(list.length, 1000);
    assert.deepEqual(list.filter((e) => e.problems.length > 0 || e.state !== 'stored'), []);
    assert.deepEqual(new Set(list.map((e) => e.originalPath)), new Set(files.map((f) => f.path)));

    t0 = performance.now();
    await pool(files, 4, async (f) => { await vault.restore(ids.get(f.path)!); });
    const tr = performance.now() - t0;
    for (const f of files) {
      const st = statSync(f.path);
      assert.equal(sha256(readFileSync(f.path)), f.sha, `${JSON.stringify(f.path)}: content differs`);
      assert.equal(st.mode & 0o7777, f.mode, `${JSON.stringify(f.path)}: mode`);
      assert.ok(Math.abs(st.mtimeMs - f.mtimeMs) < 0.001, `${JSON.stringify(f.path)}: mtime ${st.mtimeMs} vs ${f.mtimeMs}`);
      assert.equal(st.uid, f.uid);
      assert.equal(st.gid, f.gid);
    }
    assert.equal(vault.list().length, 0);
    assert.deepEqual(readdirSync(vault.filesDir), []);
    vault.close();
    const mb = bytes / 1048576;
    t.diagnostic(`1000 files, ${mb.toFixed(1)} MiB: quarantine ${tq.toFixed(0)} ms (${(1000 / (tq / 1000)).toFixed(0)} files/s), list ${tl.toFixed(0)} ms, restore ${tr.toFixed(0)} ms (${(1000 / (tr / 1000)).toFixed(0)} files/s)`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
