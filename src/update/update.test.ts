/**
 * Updates from mirrors and files: newest valid first, tampered, unlogged, replayed, expired and
 * forked-log bundles refused with the installed database left in use, deltas, rollback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DbStore } from './install.js';
import { makeDelta } from './delta.js';
import { startMirror } from './mirror.js';
import { runUpdate, type UpdateOptions } from './update.js';
import { DAY, installedFiles, keyPair, publisher, publisherWith, tempDir, versionFiles } from './testkit.js';
import { splitProof } from './transparency.js';


test('a client follows a publisher v1..v3 through a mirror, and refuses tampered, unlogged, replayed, expired and forked-log bundles while the installed version stays in use', async (t) => {
  const { dir, done } = tempDir('vigil-update-');
  t.after(done);
  const pub = publisher(dir);
  const mirrorDir = join(dir, 'mirror');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(mirrorDir);
  const requests: string[] = [];
  const mirror = await startMirror({ dir: mirrorDir, log: (l) => requests.push(l) });
  t.after(() => mirror.close());
  const db = join(dir, 'home', 'db');
  const base: UpdateOptions = { db, mirrors: [mirror.url], pubkey: pub.keys.pub, logPubkey: pub.logKeys.pub };

  // Nothing offered yet.
  let r = await runUpdate(base);
  assert.equal(r.status, 'current');
  assert.equal(r.installed, undefined);

  for (const v of [1, 2, 3]) {
    writeFileSync(join(mirrorDir, `vigil-${v}.vbundle`), pub.publish(v));
    r = await runUpdate(base);
    assert.equal(r.status, 'installed', JSON.stringify(r));
    assert.equal(r.installed?.version, v);
    assert.equal(r.logChecked, true);
    assert.deepEqual(installedFiles(db), versionFiles(v));
  }
  // Up to date: the index is read, no bundle downloaded.
  requests.length = 0;
  r = await runUpdate(base);
  assert.equal(r.status, 'current');
  assert.equal(r.installed?.version, 3);
  assert.deepEqual(requests, ['GET /index.json']);
  const inUse = realpathSync(db);

  const expectRefused = async (file: Buffer, code: RegExp, opts: Partial<UpdateOptions> = {}): Promise<string> => {
    const path = join(mirrorDir, 'vigil-4.vbundle');
    writeFileSync(path, file);
    const res = await runUpdate({ ...base, ...opts });
    assert.equal(res.status, 'refused', JSON.stringify(res));
    assert.equal(res.refused.length, 1);
    assert.match(res.refused[0]!.reason, code);
    assert.equal(realpathSync(db), inUse, 'the installed version was replaced');
    assert.deepEqual(installedFiles(db), versionFiles(3));
    return res.refused[0]!.reason;
  };
  // Tampered: one byte of a database file inside the bundle.
  const v4 = pub.publish(4);
  const tampered = Buffer.from(v4);
  const ti = tampered.indexOf('Vigil.Test.Sample-4');
  tampered[ti] = tampered[ti]! ^ 0x20;
  t.diagnostic(`tampered: ${await expectRefused(tampered, /^hash-mismatch/)}`);
  // Validly signed by the publisher, but never put in the log.
  const unlogged = pub.publish(4, { unlogged: true });
  t.diagnostic(`unlogged: ${await expectRefused(unlogged, /^not-logged/)}`);
  // A proof taken from another bundle.
  const other = splitProof(v4).proof!;
  const { encodeProofTrailer } = await import('./transparency.js');
  const stolen = Buffer.concat([splitProof(pub.publish(4, { unlogged: true, files: { 'x.hdb': '44d88612fea8a8f36de82e1278abb02f:68:Other\n' } })).bundle, encodeProofTrailer(other)]);
  t.diagnostic(`stolen proof: ${await expectRefused(stolen, /^not-logged/)}`);
  // Expired: logged when valid, offered after its expiry (a freeze attack replays it).
  const short = pub.publish(4, { days: 1 });
  t.diagnostic(`expired: ${await expectRefused(short, /^expired/, { now: () => new Date(Date.now() + 2 * DAY) })}`);
  // Replayed: an older bundle, offline.
  writeFileSync(join(mirrorDir, 'vigil-4.vbundle'), '');
  const old = join(dir, 'vigil-2-replayed.vbundle');
  writeFileSync(old, readFileSync(join(mirrorDir, 'vigil-2.vbundle')));
  r = await runUpdate({ ...base, mirrors: [], files: [old] });
  assert.equal(r.status, 'refused');
  assert.match(r.refused[0]!.reason, /^rollback: bundle version 2 is not newer than version 3/);
  t.diagnostic(`replayed: ${r.refused[0]!.reason}`);
  // A forked log: the log's key signs a second history that diverges after entry 1.
  const forkLog = publisherWith(join(dir, 'fork'), pub.keys, pub.logKeys, join(dir, 'fork-log'));
  forkLog.log.add(splitProof(readFileSync(join(mirrorDir, 'vigil-1.vbundle'))).bundle);
  forkLog.publish(2, { files: { 'evil.hdb': '44d88612fea8a8f36de82e1278abb02f:68:Targeted.Document\n' } });
  forkLog.publish(3);
  const forked = forkLog.publish(4);
  t.diagnostic(`fork: ${await expectRefused(forked, /^fork: the log forked/)}`);
  // Without a log key the same unlogged bundle is installed (and the CLI warns on every run).
  writeFileSync(join(mirrorDir, 'vigil-4.vbundle'), unlogged);
  r = await runUpdate({ ...base, logPubkey: undefined } as UpdateOptions);
  assert.equal(r.status, 'installed');
  assert.equal(r.logChecked, false);
});

test('a mirror offering a tampered newest bundle does not stop the client from taking the genuine one from the next mirror; a mirror that is down is a warning', async (t) => {
  const { dir, done } = tempDir('vigil-update-');
  t.after(done);
  const pub = publisher(dir);
  const { mkdirSync } = await import('node:fs');
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  mkdirSync(a);
  mkdirSync(b);
  const v1 = pub.publish(1);
  const bad = Buffer.from(v1);
  bad[bad.length - 200] = bad[bad.length - 200]! ^ 1; // inside the proof
  writeFileSync(join(a, 'v1.vbundle'), bad);
  writeFileSync(join(b, 'v1.vbundle'), v1);
  const ma = await startMirror({ dir: a });
  const mb = await startMirror({ dir: b });
  t.after(() => Promise.all([ma.close(), mb.close()]));
  const db = join(dir, 'db');
  const r = await runUpdate({ db, mirrors: ['http://127.0.0.1:1', ma.url, mb.url], pubkey: pub.keys.pub, logPubkey: pub.logKeys.pub });
  assert.equal(r.status, 'installed');
  assert.equal(r.installed?.version, 1);
  assert.equal(r.refused.length, 1);
  assert.ok(r.refused[0]!.source.startsWith(ma.url));
  assert.match(r.warnings[0]!, /^mirror http:\/\/127\.0\.0\.1:1: /);
});

test('deltas: a client holding version N downloads the delta, not the bundle; the result is byte-identical; a delta against another base is not used', async (t) => {
  const { dir, done } = tempDir('vigil-update-');
  t.after(done);
  const pub = publisher(dir);
  const { mkdirSync, statSync } = await import('node:fs');
  const m = join(dir, 'mirror');
  mkdirSync(m);
  const v1 = pub.publish(1);
  const v2 = pub.publish(2);
  const v3 = pub.publish(3);
  writeFileSync(join(m, 'v1.vbundle'), v1);
  const requests: string[] = [];
  const mirror = await startMirror({ dir: m, log: (l) => requests.push(l) });
  t.after(() => mirror.close());
  const db = join(dir, 'db');
  const o: UpdateOptions = { db, mirrors: [mirror.url], pubkey: pub.keys.pub, logPubkey: pub.logKeys.pub };
  assert.equal((await runUpdate(o)).installed?.version, 1);
  writeFileSync(join(m, 'v2.vbundle'), v2);
  writeFileSync(join(m, 'v3.vbundle'), v3);
  writeFileSync(join(m, 'v1-v3.vdelta'), makeDelta(v1, v3, pub.keys.pub));
  writeFileSync(join(m, 'v2-v3.vdelta'), makeDelta(v2, v3, pub.keys.pub));
  requests.length = 0;
  const r = await runUpdate(o);
  assert.equal(r.installed?.version, 3);
  assert.deepEqual(requests, ['GET /index.json', 'GET /files/v1-v3.vdelta']);
  assert.deepEqual(installedFiles(db), versionFiles(3));
  const d = statSync(join(m, 'v1-v3.vdelta')).size;
  t.diagnostic(`delta ${d} bytes for a bundle of ${v3.length}`);
  assert.ok(d < v3.length);
  // A lying delta (its carried bytes altered) rebuilds a bundle whose hashes do not match: refused.
  const lying = makeDelta(v3, pub.publish(4), pub.keys.pub);
  const at = lying.indexOf('Vigil.Test.Sample-4');
  assert.ok(at > 0);
  lying[at] = lying[at]! ^ 0x20;
  writeFileSync(join(m, 'v3-v4.vdelta'), lying);
  const r2 = await runUpdate(o);
  assert.equal(r2.status, 'refused');
  assert.match(r2.refused[0]!.reason, /^hash-mismatch/);
  assert.deepEqual(installedFiles(db), versionFiles(3));
});

test('rollback goes back to the last known-good and that version is not reinstalled; a newer one is', async (t) => {
  const { dir, done } = tempDir('vigil-update-');
  t.after(done);
  const pub = publisher(dir);
  const db = join(dir, 'db');
  const files: string[] = [];
  for (const v of [1, 2, 3]) {
    const p = join(dir, `v${v}.vbundle`);
    writeFileSync(p, pub.publish(v));
    files.push(p);
  }
  const o: UpdateOptions = { db, files, pubkey: pub.keys.pub, logPubkey: pub.logKeys.pub };
  assert.equal((await runUpdate({ ...o, files: [files[0]!] })).installed?.version, 1);
  assert.equal((await runUpdate({ ...o, files: [files[1]!] })).installed?.version, 2);
  assert.equal((await runUpdate(o)).installed?.version, 3);
  const store = new DbStore(db);
  const rb = store.rollback();
  assert.equal(rb.from.version, 3);
  assert.equal(rb.to.version, 2);
  assert.deepEqual(installedFiles(db), versionFiles(2));
  const again = await runUpdate(o);
  assert.equal(again.status, 'refused');
  assert.match(again.refused.map((x) => x.reason).join('\n'), /rolled back here/);
  assert.deepEqual(installedFiles(db), versionFiles(2));
  const p4 = join(dir, 'v4.vbundle');
  writeFileSync(p4, pub.publish(4));
  assert.equal((await runUpdate({ ...o, files: [p4] })).installed?.version, 4);
  // Kept on disk: the installed version and those before it, no more.
  assert.ok(store.kept().length <= 3);
  assert.ok(existsSync(join(dir, '.db.d', 'state.json')));
});

test('a database path that vigil update does not manage is refused, not replaced', async (t) => {
  const { dir, done } = tempDir('vigil-update-');
  t.after(done);
  const pub = publisher(dir);
  const { mkdirSync } = await import('node:fs');
  const db = join(dir, 'db');
  mkdirSync(db);
  writeFileSync(join(db, 'mine.hdb'), 'x');
  const p = join(dir, 'v1.vbundle');
  writeFileSync(p, pub.publish(1));
  await assert.rejects(runUpdate({ db, files: [p], pubkey: pub.keys.pub }), /not managed by vigil update/);
  assert.equal(readFileSync(join(db, 'mine.hdb'), 'utf8'), 'x');
});

test('keys: a bundle signed by another publisher is refused', async (t) => {
  const { dir, done } = tempDir('vigil-update-');
  t.after(done);
  const pub = publisher(dir);
  const p = join(dir, 'v1.vbundle');
  writeFileSync(p, pub.publish(1));
  const r = await runUpdate({ db: join(dir, 'db'), files: [p], pubkey: keyPair().pub });
  assert.equal(r.status, 'refused');
  assert.match(r.refused[0]!.reason, /^signature-invalid/);
});
