/**
 * Tests of `vigil rollback` and `vigil versions`: time parsing, a snapshot then an incident rolled
 * back through the command (dry run first, then for real, text and JSON), listing and pruning,
 * and the errors a person can make (bad time, path outside the roots, no store).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, writeFile, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSince, parseSize, runRollback, runVersions } from './rollback.js';
import { digest, incident, makeTree, treeDiff } from '../protect/versions/testkit.js';

function streams(): { stdout: { write(s: string): boolean; text: string }; stderr: { write(s: string): boolean; text: string } } {
  const mk = () => {
    const s = { text: '', write(x: string) { s.text += x; return true; } };
    return s;
  };
  return { stdout: mk(), stderr: mk() };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('--since: ISO 8601 and durations before now', () => {
  const now = Date.parse('2026-11-29T15:00:00Z');
  assert.equal(parseSince('10m', now), now - 600_000);
  assert.equal(parseSince('2h', now), now - 7_200_000);
  assert.equal(parseSince('1d', now), now - 86_400_000);
  assert.equal(parseSince('90s', now), now - 90_000);
  assert.equal(parseSince('2026-11-29T14:05:00Z', now), Date.parse('2026-11-29T14:05:00Z'));
  assert.equal(parseSince('2026-11-29T15:05:00+01:00', now), Date.parse('2026-11-29T14:05:00Z'));
  assert.equal(parseSince('2026-11-28', now), Date.parse('2026-11-28T00:00:00Z'));
  assert.throws(() => parseSince('yesterday', now), /ISO 8601/);
  assert.throws(() => parseSince('10 minutes', now), /ISO 8601/);
  assert.throws(() => parseSince('2026-12-01T00:00:00Z', now), /future/);
  assert.equal(parseSize('10G'), 10 * 1024 ** 3);
  assert.equal(parseSize('4096'), 4096);
  assert.throws(() => parseSize('lots'), /size/);
});

test('vigil versions snapshot, then vigil rollback --dry-run and for real', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'vigil-rollback-cli-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'docs');
  const storeDir = join(base, 'store');
  await mkdir(root);
  const files = await makeTree(root, 120, 9);

  let io = streams();
  assert.equal(await runVersions(['snapshot', root, '--store', storeDir], io), 0, io.stderr.text);
  assert.match(io.stdout.text, /120 files, 120 versions recorded/);
  const before = await digest(root);
  await sleep(30);
  const since = Date.now();
  await sleep(30);
  const inc = await incident(root, files, { encrypt: 40, locked: 20, delete: 10 });
  const attacked = await digest(root);

  // --since as a duration: the incident began less than a minute ago, the snapshot before it.
  const sinceIso = new Date(since).toISOString();
  io = streams();
  assert.equal(await runRollback(['--since', sinceIso, '--dry-run', '--store', storeDir], io), 0, io.stderr.text);
  assert.deepEqual(treeDiff(await digest(root), attacked), [], 'dry run touches nothing');
  const planLines = io.stdout.text.trim().split('\n');
  assert.equal(planLines.filter((l) => l.startsWith('would restore')).length, 70);
  assert.equal(planLines.filter((l) => l.startsWith('would remove')).length, 20 + inc.notes.length);
  assert.match(planLines.at(-1)!, /70 files would be restored, \d+ would be removed, 0 refused/);

  io = streams();
  assert.equal(await runRollback(['--since', sinceIso, '--dry-run', '--json', '--store', storeDir], io), 0);
  const plan = JSON.parse(io.stdout.text) as { items: { path: string; action: string }[]; restored: number; removed: number };
  assert.equal(plan.restored, 70);

  io = streams();
  assert.equal(await runRollback(['--since', sinceIso, root, '--json', '--store', storeDir], io), 0, io.stderr.text);
  const done = JSON.parse(io.stdout.text) as { items: { path: string; action: string }[] };
  assert.deepEqual(done.items.map((i) => [i.path, i.action]), plan.items.map((i) => [i.path, i.action]), 'the dry run listed the same plan');
  assert.deepEqual(treeDiff(await digest(root), before), []);

  // Rolling back again to a time after that rollback finds nothing to do.
  await sleep(30);
  const after = new Date().toISOString();
  await sleep(30);
  io = streams();
  assert.equal(await runRollback(['--since', after, '--store', storeDir], io), 0);
  assert.match(io.stdout.text, /^Nothing to do/);
  // Before the first snapshot the store cannot tell new files from old ones: it removes none.
  io = streams();
  assert.equal(await runRollback(['--since', '5m', '--store', storeDir], io), 0);
  assert.match(io.stderr.text, /WARNING: no snapshot of .* are kept/);
  assert.match(io.stdout.text, /^Nothing to do/);
  assert.deepEqual(treeDiff(await digest(root), before), []);

  io = streams();
  assert.equal(await runVersions(['list', join(root, inc.encrypted[0]!), '--store', storeDir], io), 0);
  const hist = io.stdout.text.trim().split('\n');
  assert.equal(hist.length, 3, io.stdout.text); // snapshot, the encrypted content kept before the restore, the restore
  assert.match(hist[0]!, /snapshot/);
  assert.match(hist[1]!, /pre-rollback/);
  assert.match(hist[2]!, /rollback/);

  io = streams();
  assert.equal(await runVersions(['verify', '--store', storeDir], io), 0, io.stdout.text);
  assert.match(io.stdout.text, /stored copies checked \(\d+ bytes\), 0 damaged/);
  const victim = before.get(inc.encrypted[1]!)!;
  const objFile = join(storeDir, 'objects', victim.sha256.slice(0, 2), victim.sha256);
  const raw = await readFile(objFile);
  await writeFile(objFile, raw.subarray(0, raw.length - 1));
  io = streams();
  assert.equal(await runVersions(['verify', '--store', storeDir], io), 1);
  assert.match(io.stdout.text, new RegExp(`DAMAGED  stored copy ${victim.sha256} is corrupt`));
  assert.ok(io.stdout.text.includes(join(root, inc.encrypted[1]!)));

  io = streams();
  assert.equal(await runVersions(['prune', '--max-age', '1s', '--store', storeDir], io), 0, io.stderr.text);
  assert.match(io.stdout.text, /pruned \d+ versions/);
});

test('rollback errors: bad time, path outside the roots, no store, a refused file', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'vigil-rollback-cli-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'docs');
  const storeDir = join(base, 'store');
  await mkdir(root);
  await writeFile(join(root, 'a.txt'), 'a');

  let io = streams();
  assert.equal(await runRollback(['--since', 'yesterday', '--store', storeDir], io), 2);
  assert.match(io.stderr.text, /--since wants/);
  io = streams();
  assert.equal(await runRollback(['--store', storeDir], io), 2);
  assert.match(io.stderr.text, /--since/);
  io = streams();
  assert.equal(await runRollback(['--since', '1h', '--store', storeDir], io), 2);
  assert.match(io.stderr.text, /no version store/);

  assert.equal(await runVersions(['snapshot', root, '--store', storeDir], streams()), 0);
  io = streams();
  assert.equal(await runRollback(['--since', '1h', base, '--store', storeDir], io), 2);
  assert.match(io.stderr.text, /outside the protected roots/);
  io = streams();
  assert.equal(await runVersions(['list', join(root, 'nothing'), '--store', storeDir], io), 0);
  assert.match(io.stdout.text, /no versions/);
  io = streams();
  assert.equal(await runVersions(['snapshot', join(base, 'missing'), '--store', storeDir], io), 2);
  assert.match(io.stderr.text, /missing/);
  io = streams();
  assert.equal(await runVersions(['frobnicate'], io), 2);
  assert.equal(await runVersions([], streams()), 2, 'a subcommand is needed');
  assert.equal(await runVersions(['--help'], streams()), 0);
  assert.equal(await runRollback(['--help'], streams()), 0);

  // A file that existed before but has no copy from then is refused, with its reason, and kept.
  await writeFile(join(root, 'uncopied.txt'), 'written after the snapshot');
  await sleep(30);
  const since = Date.now();
  await sleep(30);
  await writeFile(join(root, 'a.txt'), 'changed');
  await writeFile(join(root, 'uncopied.txt'), 'encrypted');
  io = streams();
  assert.equal(await runRollback(['--since', new Date(since).toISOString(), '--store', storeDir], io), 1);
  assert.match(io.stdout.text, /restored\s+\S*a\.txt/);
  assert.match(io.stdout.text, /REFUSED {2}restore \S*uncopied\.txt: changed since .* and no copy from before: left as it is/);
  assert.match(io.stdout.text, /1 files restored, 0 removed, 1 refused/);
  assert.equal(await readFile(join(root, 'uncopied.txt'), 'utf8'), 'encrypted');
});

test('the default store is $VIGIL_HOME/versions, mode 0700', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'vigil-rollback-home-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const saved = process.env['VIGIL_HOME'];
  process.env['VIGIL_HOME'] = join(base, 'home');
  t.after(() => { if (saved === undefined) delete process.env['VIGIL_HOME']; else process.env['VIGIL_HOME'] = saved; });
  const root = join(base, 'docs');
  await mkdir(root);
  await writeFile(join(root, 'a.txt'), 'a');
  const io = streams();
  assert.equal(await runVersions(['snapshot', root], io), 0, io.stderr.text);
  const st = await stat(join(base, 'home', 'versions'));
  assert.equal(st.mode & 0o777, 0o700);
  assert.equal(await runRollback(['--since', '1h', '--dry-run'], streams()), 0);
});
