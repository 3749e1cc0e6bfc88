/**
 * Tests of versioned copies and rollback: a simulated ransomware incident over 1,000 mixed files
 * rolled back byte-identical with modes and mtimes, dry run, deduplication, retention, a corrupted
 * object, a symbolic link planted in place of a directory, on-change copies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile, mkdir, symlink, rename, readdir, stat, chmod, utimes, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openVersionStore } from './store.js';
import { digest, incident, listFiles, makeTree, encryptInPlace, treeDiff } from './testkit.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function fixture(t: { after: (fn: () => Promise<void>) => void }): Promise<{ base: string; root: string; store: string }> {
  const base = await mkdtemp(join(tmpdir(), 'vigil-versions-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'protected');
  await mkdir(root);
  return { base, root, store: join(base, 'store') };
}

test('a ransomware incident over 1,000 mixed files is rolled back byte-identical', async (t) => {
  const { root, store: dir } = await fixture(t);
  const files = await makeTree(root, 1000, 42);
  const store = await openVersionStore({ dir, roots: [root] });
  t.after(() => store.close());

  let t0 = performance.now();
  const first = await store.snapshot(root);
  t.diagnostic(`first snapshot: ${first.files} files, ${first.newBytes} new bytes in ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(first.files, 1000);
  assert.deepEqual(first.errors, []);
  t0 = performance.now();
  const again = await store.snapshot(root);
  t.diagnostic(`unchanged tree snapshot: ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(again.changed, 0);
  assert.equal(again.newBytes, 0);

  // Files created legitimately after the snapshot but before the incident: no copy, but kept.
  await writeFile(join(root, 'docs', 'late but legit.txt'), 'written before the attack\n');
  await writeFile(join(root, 'new-before.bin'), Buffer.alloc(1000, 7));
  const before = await digest(root);
  await sleep(30); // file-system timestamps use a coarse clock
  const since = Date.now();
  await sleep(30);
  const inc = await incident(root, files, { encrypt: 500, locked: 200, delete: 50 });
  t.diagnostic(`incident: ${inc.encrypted.length} encrypted, ${inc.locked.length} .locked, ${inc.notes.length} notes, ${inc.deleted.length} deleted`);
  const attacked = await digest(root);

  const plan = await store.rollback({ since, dryRun: true });
  assert.deepEqual(await digest(root), attacked, 'a dry run touches nothing');
  const restores = plan.filter((i) => i.action === 'restore');
  const removes = plan.filter((i) => i.action === 'remove');
  assert.equal(restores.length, 750);
  assert.equal(removes.length, 200 + inc.notes.length);
  assert.ok(plan.every((i) => !i.error), plan.find((i) => i.error)?.error);

  // A folder alone: exactly the part of the plan below it.
  const docs = join(root, 'docs');
  const part = await store.rollback({ since, paths: [docs], dryRun: true });
  assert.ok(part.length > 0);
  assert.deepEqual(part.map((i) => i.path), plan.filter((i) => i.path.startsWith(docs + '/')).map((i) => i.path));

  t0 = performance.now();
  const done = await store.rollback({ since });
  t.diagnostic(`rollback: ${done.length} items in ${(performance.now() - t0).toFixed(0)} ms`);
  assert.deepEqual(done.map((i) => [i.path, i.action, i.sha256, i.error]), plan.map((i) => [i.path, i.action, i.sha256, i.error]), 'the dry run listed the same plan');

  const after = await digest(root);
  assert.deepEqual(treeDiff(after, before), [], 'same files, contents, modes, mtimes: notes and .locked gone, deleted back');
  assert.ok(!(await listFiles(root)).some((f) => f.endsWith('.locked') || f.endsWith('HOW_TO_DECRYPT.txt')));

  // Idempotent: a second rollback finds nothing to do.
  assert.deepEqual(await store.rollback({ since }), []);
  // What rollback removed or overwrote was copied first: a rollback to just after it is possible.
  const hist = store.list(join(root, inc.locked[0]!));
  assert.ok(hist.some((v) => v.origin === 'pre-rollback' && v.sha256 !== null));
});

test('identical files are stored once', async (t) => {
  const { root, store: dir } = await fixture(t);
  const same = Buffer.from('the same content '.repeat(500));
  for (let i = 0; i < 10; i++) await writeFile(join(root, `copy ${i}.txt`), same);
  const store = await openVersionStore({ dir, roots: [root] });
  t.after(() => store.close());
  const r = await store.snapshot(root);
  assert.equal(r.files, 10);
  assert.equal(r.newBytes, same.length);
  const objs = await readdir(join(store.dir, 'objects'), { recursive: true });
  const files = [];
  for (const o of objs) if ((await stat(join(store.dir, 'objects', o))).isFile()) files.push(o);
  assert.equal(files.length, 1);
  assert.ok(store.storedBytes() < same.length / 10, 'text is stored compressed');
});

test('retention prunes old versions by age and size, never the latest of a live file', async (t) => {
  const { root, store: dir } = await fixture(t);
  const store = await openVersionStore({ dir, roots: [root], retention: { maxAgeMs: 60_000, maxBytes: 50_000 } });
  t.after(() => store.close());
  const a = join(root, 'a.bin');
  const b = join(root, 'b.bin');
  const gone = join(root, 'gone.bin');
  const { randomBytes } = await import('node:crypto');
  for (let i = 0; i < 5; i++) {
    await writeFile(a, randomBytes(20_000));
    await writeFile(b, randomBytes(20_000));
    if (i === 0) await writeFile(gone, randomBytes(20_000));
    if (i === 1) await rm(gone);
    await store.recordChange({ type: 'update', path: a, time: Date.now() });
    await store.recordChange({ type: 'update', path: b, time: Date.now() });
    await store.recordChange({ type: i === 1 ? 'delete' : 'update', path: gone, time: Date.now() });
  }
  assert.equal(store.list(a).length, 5);
  assert.ok(store.storedBytes() > 200_000);
  const held = Date.now() + 60_000;
  store.hold(held);
  assert.equal((await store.prune()).heldUntil, held, 'a hold suspends pruning');
  const r = await store.prune({ force: true });
  t.diagnostic(`pruned ${r.versions} versions, ${r.objects} objects, ${r.bytes} bytes`);
  assert.ok(store.storedBytes() <= 50_000, `stored ${store.storedBytes()}`);
  const la = store.list(a);
  const lb = store.list(b);
  assert.equal(la.at(-1)!.sha256, (await import('node:crypto')).createHash('sha256').update(await readFile(a)).digest('hex'));
  assert.ok(la.length >= 1 && lb.length >= 1);
  // By age: far in the future every old version goes, the latest of each live file stays.
  await store.prune({ now: Date.now() + 3_600_000, force: true });
  assert.equal(store.list(a).length, 1);
  assert.equal(store.list(b).length, 1);
  assert.equal(store.list(gone).length, 0, 'a deleted file goes entirely once old');
  const back = await store.rollback({ since: Date.now() + 1, paths: [a], dryRun: true });
  assert.deepEqual(back, [], 'the latest version still matches the file');
});

test('a corrupted object is detected and its file refused; the others proceed', async (t) => {
  const { root, store: dir } = await fixture(t);
  await makeTree(root, 40, 3);
  const store = await openVersionStore({ dir, roots: [root] });
  t.after(() => store.close());
  await store.snapshot(root);
  const before = await digest(root);
  const victims = [...before.keys()].filter((p) => before.get(p)!.size > 100).slice(0, 5);
  await sleep(30);
  const since = Date.now();
  await sleep(30);
  for (const v of victims) await encryptInPlace(join(root, v));
  // Damage the object of the first victim: flip a byte in its payload.
  const sha = before.get(victims[0]!)!.sha256;
  const obj = join(store.dir, 'objects', sha.slice(0, 2), sha);
  const raw = await readFile(obj);
  raw[raw.length - 1] = raw[raw.length - 1]! ^ 0xff;
  await chmod(obj, 0o600);
  await writeFile(obj, raw);
  const items = await store.rollback({ since });
  const bad = items.filter((i) => i.error);
  assert.equal(bad.length, 1);
  assert.equal(bad[0]!.path, join(root, victims[0]!));
  assert.match(bad[0]!.error!, /corrupt/);
  assert.match(bad[0]!.error!, /not restored/);
  const after = await digest(root);
  assert.notEqual(after.get(victims[0]!)!.sha256, sha, 'the refused file was left as it was');
  for (const v of victims.slice(1)) assert.deepEqual(treeDiff(new Map([[v, after.get(v)!]]), new Map([[v, before.get(v)!]])), []);
});

test('a symbolic link planted in place of a directory is not followed', async (t) => {
  const { base, root, store: dir } = await fixture(t);
  await mkdir(join(root, 'docs'));
  await writeFile(join(root, 'docs', 'a.txt'), 'alpha\n');
  await writeFile(join(root, 'docs', 'b.txt'), 'beta\n');
  const outside = join(base, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'a.txt'), 'outside, must stay\n');
  await writeFile(join(outside, 'HOW_TO_DECRYPT.txt'), 'outside note, must stay\n');
  const store = await openVersionStore({ dir, roots: [root] });
  t.after(() => store.close());
  await store.snapshot(root);
  const before = await digest(root);
  await sleep(30);
  const since = Date.now();
  await sleep(30);
  await rename(join(root, 'docs'), join(base, 'moved-away'));
  await symlink(outside, join(root, 'docs'));
  const plan = await store.rollback({ since, dryRun: true });
  assert.equal(plan.filter((i) => i.action === 'restore').length, 2);
  assert.equal(plan.filter((i) => i.action === 'remove').length, 0, 'nothing behind the link is removed');
  await store.rollback({ since });
  assert.ok((await lstat(join(root, 'docs'))).isDirectory(), 'the link is replaced by the directory');
  assert.deepEqual(treeDiff(await digest(root), before), []);
  assert.equal(await readFile(join(outside, 'a.txt'), 'utf8'), 'outside, must stay\n');
  assert.equal(await readFile(join(outside, 'HOW_TO_DECRYPT.txt'), 'utf8'), 'outside note, must stay\n');
  // A link at a file's place is replaced, never written through.
  await rm(join(root, 'docs', 'a.txt'));
  await symlink(join(outside, 'a.txt'), join(root, 'docs', 'a.txt'));
  await store.rollback({ since });
  assert.equal(await readFile(join(outside, 'a.txt'), 'utf8'), 'outside, must stay\n');
  assert.equal(await readFile(join(root, 'docs', 'a.txt'), 'utf8'), 'alpha\n');
  // Paths outside the protected roots are refused.
  await assert.rejects(store.rollback({ since, paths: [outside] }), /outside the protected roots/);
  await assert.rejects(store.rollback({ since, paths: [join(root, 'docs', '..', '..', 'outside')] }), /outside the protected roots/);

  // The whole root replaced by a link: neither snapshot nor rollback follows it.
  await rename(root, join(base, 'root-moved'));
  await symlink(outside, root);
  await assert.rejects(store.snapshot(root), /now a link, not a directory; not followed/);
  const warnings: string[] = [];
  assert.deepEqual(await store.rollback({ since, warn: (m) => warnings.push(m) }), []);
  assert.match(warnings.join('\n'), /is now a symbolic link: nothing below it is touched/);
  assert.deepEqual((await readdir(outside)).sort(), ['HOW_TO_DECRYPT.txt', 'a.txt']);
  // The whole root deleted: rollback makes it again.
  await rm(root);
  await store.rollback({ since });
  assert.deepEqual(treeDiff(await digest(root), before), []);
});

test('on-change copies: a settled update, a deletion, and a file created then removed by rollback', async (t) => {
  const { root, store: dir } = await fixture(t);
  const store = await openVersionStore({ dir, roots: [root] });
  t.after(() => store.close());
  await store.snapshot(root);
  const p = join(root, 'report.txt');
  await writeFile(p, 'v1\n');
  await store.recordChange({ type: 'create', path: p, time: Date.now() });
  await writeFile(p, 'v2\n');
  await utimes(p, 1_600_000_000, 1_600_000_000);
  await store.recordChange({ type: 'update', path: p, time: Date.now() });
  const v2 = await digest(root);
  await sleep(30);
  const since = Date.now();
  await sleep(30);
  await writeFile(p, 'encrypted\n');
  await store.recordChange({ type: 'update', path: p, time: Date.now() });
  const q = join(root, 'q.txt');
  await writeFile(q, 'new\n');
  await store.recordChange({ type: 'create', path: q, time: Date.now() });
  await rm(p);
  await store.recordChange({ type: 'delete', path: p, time: Date.now() });
  assert.deepEqual(store.list(p).map((v) => v.sha256 === null ? 'deleted' : v.size), [3, 3, 10, 'deleted']);
  // Events outside the roots are ignored.
  await store.recordChange({ type: 'update', path: '/etc/hostname', time: Date.now() });
  const items = await store.rollback({ since });
  assert.deepEqual(items.map((i) => [i.path, i.action]).sort(), [[q, 'remove'], [p, 'restore']]);
  assert.deepEqual(treeDiff(await digest(root), v2), []);
});

test('snapshot skips special files and links, and records deletions', async (t) => {
  const { base, root, store: dir } = await fixture(t);
  await writeFile(join(root, 'keep.txt'), 'k');
  await writeFile(join(root, 'drop.txt'), 'd');
  await writeFile(join(base, 'secret'), 'not protected');
  await symlink(join(base, 'secret'), join(root, 'link'));
  const { execFileSync } = await import('node:child_process');
  execFileSync('mkfifo', [join(root, 'fifo')]);
  const store = await openVersionStore({ dir, roots: [root] });
  t.after(() => store.close());
  const r = await store.snapshot(root);
  assert.equal(r.files, 2);
  await rm(join(root, 'drop.txt'));
  const r2 = await store.snapshot(root);
  assert.equal(r2.deleted, 1);
  assert.equal(store.list(join(root, 'drop.txt')).at(-1)!.sha256, null);
  assert.equal(store.list(join(root, 'link')).length, 0);
  const mode = (await stat(store.dir)).mode & 0o777;
  assert.equal(mode, 0o700);
  // Same size, mtime set back: the ctime gives the change away.
  const k = join(root, 'keep.txt');
  const st = await stat(k);
  await sleep(20);
  await writeFile(k, 'K');
  await utimes(k, st.atime, st.mtime);
  const r3 = await store.snapshot(root);
  assert.equal(r3.changed, 1);
  assert.equal(store.list(k).at(-1)!.size, 1);
  assert.notEqual(store.list(k).at(-1)!.sha256, store.list(k).at(0)!.sha256);
});

test('excluded files (the shield\'s canaries) are neither copied, restored nor removed', async (t) => {
  const { root, store: dir } = await fixture(t);
  const canary = join(root, '.~canary.docx');
  await writeFile(canary, 'canary v1');
  await writeFile(join(root, 'doc.txt'), 'doc');
  const store = await openVersionStore({ dir, roots: [root], exclude: (p) => p.endsWith('canary.docx') });
  t.after(() => store.close());
  assert.equal((await store.snapshot(root)).files, 1);
  await sleep(30);
  const since = Date.now();
  await sleep(30);
  await writeFile(canary, 'canary v2, re-planted');
  await store.recordChange({ type: 'update', path: canary, time: Date.now() });
  assert.equal(store.list(canary).length, 0);
  assert.deepEqual(await store.rollback({ since }), []);
  assert.equal(await readFile(canary, 'utf8'), 'canary v2, re-planted');
});

test('a file above the size limit is reported, not copied, and not taken for deleted', async (t) => {
  const { root, store: dir } = await fixture(t);
  await writeFile(join(root, 'small.txt'), 'ok');
  await writeFile(join(root, 'big.bin'), Buffer.alloc(5000, 1));
  const store = await openVersionStore({ dir, roots: [root], maxFileSize: 4096 });
  t.after(() => store.close());
  const r = await store.snapshot(root);
  assert.equal(r.changed, 1);
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!.message, /larger than the 4096-byte limit/);
  const r2 = await store.snapshot(root);
  assert.equal(r2.deleted, 0);
});

test('crash leftovers and a damaged index are handled, never a crash', async (t) => {
  const { root, store: dir } = await fixture(t);
  await writeFile(join(root, 'a.txt'), 'alpha');
  const store = await openVersionStore({ dir, roots: [root] });
  await store.snapshot(root);
  // A crash mid-write leaves a temporary file; a crash between the object and its index row, an orphan.
  await writeFile(join(store.dir, 'tmp', 'abcd.tmp'), 'torn');
  const orphan = 'f'.repeat(64);
  await mkdir(join(store.dir, 'objects', 'ff'), { recursive: true });
  await writeFile(join(store.dir, 'objects', 'ff', orphan), 'orphan');
  const old = new Date(Date.now() - 2 * 3_600_000);
  await utimes(join(store.dir, 'tmp', 'abcd.tmp'), old, old);
  await utimes(join(store.dir, 'objects', 'ff', orphan), old, old);
  const r = await store.prune();
  assert.equal(r.objects, 1);
  assert.deepEqual(await readdir(join(store.dir, 'tmp')), []);
  assert.deepEqual(await readdir(join(store.dir, 'objects', 'ff')), []);
  // The live file's object survived.
  assert.deepEqual(await store.rollback({ since: Date.now() + 1, dryRun: true }), []);
  store.close();
  // A damaged index is reported with its location.
  await writeFile(join(dir, 'index.sqlite'), Buffer.alloc(8192, 0x41));
  await rm(join(dir, 'index.sqlite-wal'), { force: true });
  await rm(join(dir, 'index.sqlite-shm'), { force: true });
  await assert.rejects(openVersionStore({ dir }), /version index .*index\.sqlite is damaged/);
});

test('large files are streamed in and out, compressed when it pays, verified', async (t) => {
  const { root, store: dir } = await fixture(t);
  const { randomBytes } = await import('node:crypto');
  const text = Buffer.from('a line of a large log file\n'.repeat(40_000)); // ~1 MiB, compressible
  const noise = randomBytes(1_500_000);
  await writeFile(join(root, 'big.log'), text);
  await writeFile(join(root, 'big.bin'), noise);
  await writeFile(join(root, 'small.txt'), 'small');
  const store = await openVersionStore({ dir, roots: [root], streamAbove: 64 * 1024 });
  t.after(() => store.close());
  const r = await store.snapshot(root);
  assert.equal(r.changed, 3);
  assert.equal(r.newBytes, text.length + noise.length + 5);
  assert.ok(store.storedBytes() < noise.length + text.length / 10, `stored ${store.storedBytes()}`);
  assert.equal((await store.snapshot(root)).changed, 0);
  const before = await digest(root);
  await sleep(30);
  const since = Date.now();
  await sleep(30);
  await encryptInPlace(join(root, 'big.log'));
  await encryptInPlace(join(root, 'big.bin'));
  // Damage the stored copy of big.bin: its restore is refused, big.log's goes ahead.
  const sha = before.get('big.bin')!.sha256;
  const obj = join(store.dir, 'objects', sha.slice(0, 2), sha);
  const raw = await readFile(obj);
  raw[100_000] = raw[100_000]! ^ 1;
  await writeFile(obj, raw);
  const plan = await store.rollback({ since, dryRun: true });
  const items = await store.rollback({ since });
  assert.deepEqual(items.map((i) => [i.path, i.error !== undefined]), plan.map((i) => [i.path, i.error !== undefined]));
  const bad = items.filter((i) => i.error);
  assert.equal(bad.length, 1);
  assert.match(bad[0]!.error!, /big\.bin|hash mismatch/);
  const after = await digest(root);
  assert.deepEqual(treeDiff(new Map([['big.log', after.get('big.log')!]]), new Map([['big.log', before.get('big.log')!]])), []);
  assert.notEqual(after.get('big.bin')!.sha256, sha);
  assert.ok(!(await listFiles(root)).some((f) => f.includes('.vigil-restore-')), 'the refused restore left no temporary file');
});

test('snapshots, on-change copies and prunes at the same time leave a consistent store', async (t) => {
  const { root, store: dir } = await fixture(t);
  const files = await makeTree(root, 200, 77);
  const store = await openVersionStore({ dir, roots: [root], retention: { maxAgeMs: 1, maxBytes: 1 } });
  t.after(() => store.close());
  await store.snapshot(root);
  const { randomBytes } = await import('node:crypto');
  const writer = (async () => {
    for (let i = 0; i < 150; i++) {
      const p = join(root, files[(i * 7) % files.length]!);
      await chmod(p, 0o644);
      await writeFile(p, randomBytes(1000 + i));
      await store.recordChange({ type: 'update', path: p, time: Date.now() });
    }
  })();
  const snapper = (async () => { for (let i = 0; i < 4; i++) await store.snapshot(root); })();
  const pruner = (async () => { for (let i = 0; i < 6; i++) { await store.prune({ force: true }); await sleep(20); } })();
  await Promise.all([writer, snapper, pruner]);
  await store.snapshot(root);
  await store.prune({ force: true });
  const v = await store.verify();
  assert.deepEqual(v.bad, []);
  // Every file's latest version is its current content, and its object is there.
  const now = await digest(root);
  for (const [rel, e] of now) {
    const hist = store.list(join(root, rel));
    assert.equal(hist.at(-1)?.sha256, e.sha256, rel);
  }
  assert.ok(v.objects >= now.size * 0.8, `${v.objects} objects for ${now.size} files`);
  assert.deepEqual(await store.rollback({ since: Date.now() + 1, dryRun: true }), []);
});
