/**
 * Scale: 100,000 watched directories. Prints the time to ready (subscription, and the whole start
 * with its first snapshot), the RSS growth, and the latency of catching EICAR written in the
 * deepest directory. Skipped, saying why, when the inotify limits leave too few watches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Watcher } from './watcher.js';
import { makeTree } from './bench.js';
import { inotifyLimits } from './limits.js';
import { EICAR, RecordingSink, eicarScanner } from './testkit.js';

const DIRS = 100_000;
const lim = inotifyLimits();
const free = lim.maxUserWatches !== undefined ? lim.maxUserWatches - (lim.watchesInUse ?? 0) : undefined;
const skip = process.platform !== 'linux'
  ? 'the watch-limit check is for Linux (inotify)'
  : free === undefined
    ? 'fs.inotify.max_user_watches cannot be read'
    : free < DIRS + 1000
      ? `fs.inotify.max_user_watches is ${lim.maxUserWatches} with ${lim.watchesInUse} in use: ${free} free, ${DIRS + 1000} needed (raise it: sysctl fs.inotify.max_user_watches=524288)`
      : (lim.maxUserInstances ?? 0) - (lim.instancesInUse ?? 0) < 2
        ? `fs.inotify.max_user_instances is ${lim.maxUserInstances} with ${lim.instancesInUse} in use`
        : false;

test(`${DIRS.toLocaleString('en')} watched directories: ready time, RSS, EICAR in the deepest caught`, { skip, timeout: 120_000 }, async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'vigil-watch-scale-'));
  const scanner = await eicarScanner(join(base, 'db'));
  try {
    const root = join(base, 'tree');
    let t0 = Date.now();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(root);
    const dirs = makeTree(root, DIRS);
    t.diagnostic(`inotify: max_user_watches ${lim.maxUserWatches} (${lim.watchesInUse} in use), max_user_instances ${lim.maxUserInstances} (${lim.instancesInUse} in use)`);
    t.diagnostic(`created ${dirs.length} directories in ${Date.now() - t0} ms`);
    const sink = new RecordingSink(join(base, 'vault'));
    const w = new Watcher({ roots: [root], scanner, stateDir: join(base, 'state'), sink, checkpointMs: 0 });
    await scanner.scanBuffer(Buffer.from('warm-up')); // the scanning thread's memory is not the watcher's
    const rss0 = process.memoryUsage().rss;
    t0 = Date.now();
    await w.start();
    const ready = Date.now() - t0;
    const rss = (process.memoryUsage().rss - rss0) / 1048576;
    try {
      const deepest = dirs[dirs.length - 1]!;
      const p = join(deepest, 'eicar.com');
      t0 = Date.now();
      writeFileSync(p, EICAR);
      const c = await sink.waitFor(p, 5000);
      const caught = c.at - t0;
      const inUse = inotifyLimits().watchesInUse;
      t.diagnostic(`${dirs.length} directories: start (subscribe + first snapshot) ${ready} ms, RSS +${rss.toFixed(1)} MB, inotify watches in use ${inUse}; EICAR in the deepest (${deepest.slice(root.length).split('/').length - 1} levels) quarantined in ${caught} ms`);
      assert.ok(caught <= 2000, `caught in ${caught} ms`);
    } finally {
      t0 = Date.now();
      await w.stop();
      t.diagnostic(`stop (final snapshot) ${Date.now() - t0} ms`);
    }
  } finally {
    await scanner.close();
    const t1 = Date.now();
    rmSync(base, { recursive: true, force: true });
    t.diagnostic(`removing the tree: ${Date.now() - t1} ms`);
  }
});
