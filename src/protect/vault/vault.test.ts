/**
 * The vault's refusals and its damaged states: truncated, bit-flipped or missing vault files,
 * damaged records, a garbage vault.db, a missing or exposed key, unsafe vault directories, files
 * that change while being quarantined, things that are not regular files, another filesystem,
 * the ZIP export (checked with `unzip` and `7z`). Everything is reported with the id and what is
 * wrong; nothing crashes, nothing is written where it should not be.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  appendFileSync, chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync,
  truncateSync, utimesSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openVault, rebuildVault, VaultError } from './index.js';
import { EICAR, INFO, sha256, tempDir } from './testkit.js';

function rejectsWith(code: string, re: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof VaultError, `not a VaultError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  };
}

function setup(name: string): { root: string; vdir: string; file: (n: string, data?: string | Buffer) => string } {
  const root = tempDir(name);
  const vdir = join(root, 'vault');
  mkdirSync(join(root, 'f'));
  return {
    root, vdir,
    file: (n, data = `${n}\n${EICAR}\n`) => { const p = join(root, 'f', n); writeFileSync(p, data); return p; },
  };
}

test('the stored copy is defanged: no EICAR bytes in the vault, the key is 0600, the vault 0700', async (t) => {
  const { root, vdir, file } = setup('defang');
  try {
    const v = openVault(vdir);
    const t0 = performance.now();
    const rec = await v.quarantine(file('eicar.com', EICAR), INFO);
    t.diagnostic(`quarantine of one small file (all fsyncs included): ${(performance.now() - t0).toFixed(1)} ms`);
    assert.equal(rec.sha256, sha256(Buffer.from(EICAR)));
    assert.equal(rec.detections[0]!.name, 'Eicar-Test-Signature');
    const stored = readFileSync(join(v.filesDir, rec.id));
    assert.equal(stored.includes(Buffer.from('EICAR')), false);
    assert.equal(statSync(vdir).mode & 0o777, 0o700);
    assert.equal(statSync(join(vdir, 'key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(vdir, 'vault.db')).mode & 0o777, 0o600);
    assert.equal(statSync(join(v.filesDir, rec.id)).mode & 0o777, 0o600);
    const shown = v.show(rec.id);
    assert.deepEqual(shown.detections, INFO.detections);
    assert.equal(shown.state, 'stored');
    v.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('a truncated or bit-flipped vault file: restore refuses with the id and the reason, writes nothing', async () => {
  const { root, vdir, file } = setup('flip');
  try {
    const v = openVault(vdir);
    const a = await v.quarantine(file('a.exe', Buffer.alloc(5000, 7)), INFO);
    const b = await v.quarantine(file('b.exe', Buffer.alloc(5000, 9)), INFO);
    truncateSync(join(v.filesDir, a.id), 1000);
    const buf = readFileSync(join(v.filesDir, b.id));
    buf[2500] = buf[2500]! ^ 0x10;
    writeFileSync(join(v.filesDir, b.id), buf);

    const list = v.list();
    assert.match(list.find((e) => e.id === a.id)!.problems.join(), /vault file \(1000 bytes\) has an unreadable trailer.*truncated/);
    assert.deepEqual(list.find((e) => e.id === b.id)!.problems, []); // same size: only decryption tells
    assert.match((await v.verify(b.id))!, /authentication failed/);

    await assert.rejects(v.restore(a.id), rejectsWith('CORRUPT', new RegExp(`${a.id}.*nothing restored`)));
    await assert.rejects(v.restore(b.id), rejectsWith('CORRUPT', new RegExp(`${b.id}: authentication failed.*tampered`)));
    assert.equal(existsSync(a.originalPath), false);
    assert.equal(existsSync(b.originalPath), false);
    assert.deepEqual(readdirSync(join(root, 'f')), []); // no temporary file left behind
    assert.equal(v.show(a.id).state, 'stored'); // still there, can be exported or deleted
    await assert.rejects(v.export([b.id], join(root, 'x.zip'), 'infected'), rejectsWith('CORRUPT', /authentication failed/));
    assert.equal(existsSync(join(root, 'x.zip')), false);
    await v.delete(a.id);
    assert.deepEqual(v.list().map((e) => e.id), [b.id]);
    v.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('a vault file swapped under another record fails authentication (the id is bound in)', async () => {
  const { root, vdir, file } = setup('swap');
  try {
    const v = openVault(vdir);
    const a = await v.quarantine(file('a', Buffer.alloc(100, 1)), INFO);
    const b = await v.quarantine(file('b', Buffer.alloc(100, 2)), INFO);
    writeFileSync(join(v.filesDir, a.id), readFileSync(join(v.filesDir, b.id)));
    assert.match((await v.verify(a.id))!, /authentication failed/);
    v.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('missing vault files, orphans and damaged records are listed with what is wrong', async () => {
  const { root, vdir, file } = setup('damaged');
  try {
    const v = openVault(vdir);
    const a = await v.quarantine(file('a'), INFO);
    const b = await v.quarantine(file('b'), INFO);
    const c = await v.quarantine(file('c'), INFO);
    v.close();
    rmSync(join(vdir, 'files', a.id));
    const db = new Database(join(vdir, 'vault.db'));
    db.prepare("UPDATE records SET detections = '{not json', sha256 = 'zz', size = 'big' WHERE id = ?").run(b.id);
    db.prepare('DELETE FROM records WHERE id = ?').run(c.id);
    db.close();
    const v2 = openVault(vdir);
    const list = v2.list();
    assert.equal(list.length, 3);
    assert.match(list.find((e) => e.id === a.id)!.problems.join(), new RegExp(`vault file .*${a.id} is missing`));
    const pb = list.find((e) => e.id === b.id)!.problems.join(' | ');
    assert.match(pb, /detections: unreadable JSON/);
    assert.match(pb, /sha256: missing or malformed/);
    assert.match(pb, /size: not a number/);
    const ec = list.find((e) => e.id === c.id)!;
    assert.match(ec.problems.join(), /without a record in vault\.db \(`vigil quarantine rebuild` re-indexes it\)/);
    assert.equal(ec.state, 'orphan');
    assert.equal(ec.originalPath, c.originalPath); // from the record the vault file carries
    assert.equal(ec.sha256, c.sha256);
    await assert.rejects(v2.restore(a.id), rejectsWith('CORRUPT', /is missing; nothing restored/));
    await assert.rejects(v2.restore(b.id), rejectsWith('CORRUPT', /record is damaged/));
    await assert.rejects(v2.restore('0'.repeat(32)), rejectsWith('NOT_FOUND', /no such record/));
    await v2.delete(c.id); // an orphan can be removed
    assert.equal(v2.list().length, 2);
    v2.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('a garbage vault.db, a missing or exposed key, an unsafe vault directory: clear VAULT errors', async () => {
  const { root, vdir, file } = setup('vaulterr');
  try {
    const v = openVault(vdir);
    await v.quarantine(file('a'), INFO);
    v.close();
    // The key.
    const key = readFileSync(join(vdir, 'key'));
    rmSync(join(vdir, 'key'));
    assert.throws(() => openVault(vdir), rejectsWith('VAULT', /key is missing: the stored files can no longer be decrypted/));
    writeFileSync(join(vdir, 'key'), key, { mode: 0o644 });
    chmodSync(join(vdir, 'key'), 0o644);
    assert.throws(() => openVault(vdir), rejectsWith('VAULT', /readable or writable by others \(mode 644\)/));
    writeFileSync(join(vdir, 'key'), key.subarray(0, 10), { mode: 0o600 });
    chmodSync(join(vdir, 'key'), 0o600);
    assert.throws(() => openVault(vdir), rejectsWith('VAULT', /10 bytes, expected 32/));
    // The database.
    for (const f of readdirSync(vdir)) if (f.startsWith('vault.db')) rmSync(join(vdir, f));
    writeFileSync(join(vdir, 'vault.db'), Buffer.alloc(8192, 0x41));
    assert.throws(() => openVault(vdir), rejectsWith('VAULT', /vault\.db: the vault database is damaged or unreadable: file is not a database/));
    // The directory.
    const link = join(root, 'link');
    symlinkSync(vdir, link);
    assert.throws(() => openVault(link), rejectsWith('VAULT', /symbolic link/));
    const open = join(root, 'open');
    mkdirSync(open, { mode: 0o700 });
    chmodSync(open, 0o770);
    assert.throws(() => openVault(open), rejectsWith('VAULT', /writable by group or others \(mode 770\)/));
    if (process.getuid?.() === 0) {
      const theirs = join(root, 'theirs');
      mkdirSync(theirs, { mode: 0o700 });
      chownSync(theirs, 4321, 4321);
      assert.throws(() => openVault(theirs), rejectsWith('VAULT', /owned by uid 4321/));
    }
    const notDir = join(root, 'plain');
    writeFileSync(notDir, '');
    assert.throws(() => openVault(notDir), rejectsWith('VAULT', /not a directory/));
    // A fresh vault is created 0700.
    const fresh = openVault(join(root, 'new', 'deep', 'vault'));
    assert.equal(lstatSync(fresh.dir).mode & 0o777, 0o700);
    fresh.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('a file written to while being quarantined, a symlink, a FIFO, a directory: refused, left in place', async () => {
  const { root, vdir, file } = setup('refuse');
  try {
    const p = file('growing.log', Buffer.alloc(3 * 1024 * 1024, 1));
    const v = openVault(vdir, { onStep: (s) => { if (s === 'q.vault-file-written') appendFileSync(p, 'more'); } });
    await assert.rejects(v.quarantine(p, INFO), rejectsWith('REFUSED', /changed while being quarantined.*left in place/));
    assert.equal(statSync(p).size, 3 * 1024 * 1024 + 4);
    assert.deepEqual(v.list(), []);
    assert.deepEqual(readdirSync(v.filesDir), []);
    v.close();
    // Same size, new mtime.
    const q = file('touched', 'abc');
    const v2 = openVault(vdir, { onStep: (s) => { if (s === 'q.vault-file-written') utimesSync(q, 1, 1); } });
    await assert.rejects(v2.quarantine(q, INFO), rejectsWith('REFUSED', /changed while being quarantined/));
    assert.equal(readFileSync(q, 'utf8'), 'abc');
    v2.close();

    const v3 = openVault(vdir);
    const target = file('target');
    symlinkSync(target, join(root, 'f', 'sym'));
    await assert.rejects(v3.quarantine(join(root, 'f', 'sym'), INFO), rejectsWith('REFUSED', /symbolic link/));
    execFileSync('mkfifo', [join(root, 'f', 'fifo')]);
    await assert.rejects(v3.quarantine(join(root, 'f', 'fifo'), INFO), rejectsWith('REFUSED', /not a regular file/));
    await assert.rejects(v3.quarantine(join(root, 'f'), INFO), rejectsWith('REFUSED', /not a regular file/));
    await assert.rejects(v3.quarantine(join(root, 'f', 'none'), INFO), rejectsWith('NOT_FOUND', /no such file/));
    await assert.rejects(v3.quarantine(join(vdir, 'key'), INFO), rejectsWith('REFUSED', /inside the vault itself/));
    assert.ok(existsSync(join(root, 'f', 'sym')) && existsSync(join(root, 'f', 'fifo')) && existsSync(target));
    assert.deepEqual(v3.list(), []);
    v3.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('restore refuses to overwrite without force, restores --to a directory or path, with force replaces', async () => {
  const { root, vdir, file } = setup('overwrite');
  try {
    const v = openVault(vdir);
    const p = file('doc.pdf', 'original');
    chmodSync(p, 0o640);
    const rec = await v.quarantine(p, INFO);
    writeFileSync(p, 'newer file');
    await assert.rejects(v.restore(rec.id), rejectsWith('REFUSED', /already there; not overwriting/));
    assert.equal(readFileSync(p, 'utf8'), 'newer file');
    mkdirSync(join(root, 'elsewhere'));
    assert.equal(await v.restore(rec.id, { to: join(root, 'elsewhere') }), join(root, 'elsewhere', 'doc.pdf'));
    assert.equal(readFileSync(join(root, 'elsewhere', 'doc.pdf'), 'utf8'), 'original');
    assert.equal(statSync(join(root, 'elsewhere', 'doc.pdf')).mode & 0o777, 0o640);
    // Restored by the operator: a real-time detection does not take it again; a manual add does.
    assert.equal(v.wasRestored(join(root, 'elsewhere', 'doc.pdf'), rec.sha256), true);
    await assert.rejects(v.quarantine(join(root, 'elsewhere', 'doc.pdf'), INFO), rejectsWith('REFUSED', /restored from the vault by the operator/));
    assert.equal(readFileSync(join(root, 'elsewhere', 'doc.pdf'), 'utf8'), 'original');
    const rec2 = await v.quarantine(join(root, 'elsewhere', 'doc.pdf'), INFO, { reason: 'manual' });
    await v.restore(rec2.id, { force: true, to: p });
    assert.equal(readFileSync(p, 'utf8'), 'original');
    assert.deepEqual(v.list(), []);
    v.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('quarantine from another filesystem (tmpfs) and restore there', { skip: !existsSync('/dev/shm') && 'no /dev/shm' }, async (t) => {
  const { root, vdir } = setup('xdev');
  const shm = join('/dev/shm', `vigil-vault-xdev-${process.pid}`);
  try {
    mkdirSync(shm);
    if (statSync(shm).dev === statSync(root).dev) { t.skip('/dev/shm is on the same filesystem as the temporary directory'); return; }
    const p = join(shm, 'x y.bin');
    writeFileSync(p, Buffer.alloc(70000, 3));
    const v = openVault(vdir);
    const rec = await v.quarantine(p, INFO);
    assert.equal(existsSync(p), false);
    await v.restore(rec.id);
    assert.equal(sha256(readFileSync(p)), sha256(Buffer.alloc(70000, 3)));
    v.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(shm, { recursive: true, force: true });
  }
});

test('recovery leaves alone the operations of a process that is still alive', async () => {
  const { root, vdir, file } = setup('alive');
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const v = openVault(vdir);
    const rec = await v.quarantine(file('a'), INFO);
    v.close();
    const db = new Database(join(vdir, 'vault.db'));
    db.prepare("UPDATE records SET state = 'deleting', pid = ? WHERE id = ?").run(sleeper.pid, rec.id);
    db.close();
    const v2 = openVault(vdir);
    assert.deepEqual(v2.recovered, []);
    assert.equal(v2.show(rec.id).state, 'deleting');
    v2.close();
    sleeper.kill('SIGKILL');
    await new Promise((r) => sleeper.once('close', r));
    const v3 = openVault(vdir);
    assert.match(v3.recovered.join(), /interrupted delete completed/);
    assert.deepEqual(v3.list(), []);
    v3.close();
  } finally {
    sleeper.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
});

test('export: a ZipCrypto ZIP that unzip and 7z open with the password, with a manifest; refused with a wrong one', async () => {
  const { root, vdir, file } = setup('zip');
  try {
    const v = openVault(vdir);
    const a = await v.quarantine(file('eicar.com', EICAR), INFO);
    const b = await v.quarantine(file('-dash ünï cødé.bin', Buffer.alloc(200_000, 0xab)), INFO);
    const zip = join(root, 'out.zip');
    await v.export([a.id, b.id], zip, 'infected');
    assert.equal(readFileSync(zip).includes(Buffer.from('EICAR')), false);
    const t = execFileSync('unzip', ['-P', 'infected', '-t', zip], { encoding: 'utf8' });
    assert.match(t, /No errors detected/);
    const s = execFileSync('7z', ['t', '-pinfected', zip], { encoding: 'utf8' });
    assert.match(s, /Everything is Ok/);
    const out = join(root, 'x');
    execFileSync('7z', ['x', '-pinfected', `-o${out}`, zip], { encoding: 'utf8' });
    assert.equal(readFileSync(join(out, a.id, 'eicar.com'), 'utf8'), EICAR);
    assert.equal(sha256(readFileSync(join(out, b.id, '-dash ünï cødé.bin'))), b.sha256);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { records: { id: string; sha256: string; detections: unknown[] }[] };
    assert.deepEqual(manifest.records.map((r) => r.id), [a.id, b.id]);
    assert.deepEqual(manifest.records[0]!.detections, INFO.detections);
    assert.throws(() => execFileSync('unzip', ['-P', 'wrong', '-t', zip], { stdio: 'pipe' }));
    assert.throws(() => execFileSync('7z', ['t', '-pwrong', zip], { stdio: 'pipe' }));
    await assert.rejects(v.export([a.id], zip, 'infected'), rejectsWith('REFUSED', /already exists/));
    assert.equal(v.list().length, 2); // export leaves the records in the vault
    v.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('a lost or garbage vault.db: rebuild sets it aside and re-indexes every vault file from the record it carries', async () => {
  const { root, vdir, file } = setup('rebuild');
  try {
    const v = openVault(vdir);
    const recs = [];
    for (let i = 0; i < 5; i++) recs.push(await v.quarantine(file(`f${i} ü`, Buffer.alloc(1000 * i, i)), INFO));
    v.close();
    // One vault file damaged beyond reading its record: reported, not indexed.
    const bad = join(vdir, 'files', recs[4]!.id);
    const buf = readFileSync(bad);
    buf[buf.length - 10] = buf[buf.length - 10]! ^ 0xff;
    writeFileSync(bad, buf);
    for (const f of ['vault.db', 'vault.db-wal', 'vault.db-shm']) rmSync(join(vdir, f), { force: true });
    writeFileSync(join(vdir, 'vault.db'), Buffer.alloc(4096, 0x5a));
    assert.throws(() => openVault(vdir), rejectsWith('VAULT', /damaged or unreadable.*vigil quarantine rebuild/));
    const r = rebuildVault(vdir);
    assert.match(r.movedAside!, /vault\.db\.damaged-/);
    assert.ok(existsSync(r.movedAside!));
    assert.equal(r.indexed.length, 4);
    assert.equal(r.skipped.length, 1);
    assert.match(r.skipped[0]!, new RegExp(`${recs[4]!.id}: the record in the vault file fails authentication`));
    const v2 = openVault(vdir);
    for (const rec of recs.slice(0, 4)) {
      assert.deepEqual({ ...v2.show(rec.id), problems: [], state: '', reason: '' }, { ...rec, problems: [], state: '', reason: '' });
      await v2.restore(rec.id);
      assert.equal(sha256(readFileSync(rec.originalPath)), rec.sha256);
    }
    assert.deepEqual(v2.list().map((e) => e.state), ['orphan']);
    v2.close();
    // Without the key nothing is rebuilt (and no new key is made).
    rmSync(join(vdir, 'key'));
    assert.throws(() => rebuildVault(vdir), rejectsWith('VAULT', /key is missing/));
    assert.equal(existsSync(join(vdir, 'key')), false);
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('the same file quarantined twice at once (two events for one write): one record, no stray copy', async () => {
  const { root, vdir, file } = setup('twice');
  try {
    const v = openVault(vdir);
    const p = file('dup.exe', Buffer.alloc(2 * 1024 * 1024, 5));
    const results = await Promise.allSettled([v.quarantine(p, INFO), v.quarantine(p, INFO), v.quarantine(p, INFO)]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof VaultError && r.reason.code !== 'VAULT', String(r.reason));
    assert.equal(existsSync(p), false);
    const list = v.list();
    assert.equal(list.length, 1);
    assert.deepEqual(list[0]!.problems, []);
    assert.deepEqual(readdirSync(v.filesDir), [list[0]!.id]);
    v.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('the same record restored twice at once: restored once, the other call refused', async () => {
  const { root, vdir, file } = setup('restore2');
  try {
    const v = openVault(vdir);
    const p = file('r.bin', Buffer.alloc(3 * 1024 * 1024, 6));
    const rec = await v.quarantine(p, INFO);
    const results = await Promise.allSettled([v.restore(rec.id), v.restore(rec.id, { force: true }), v.restore(rec.id, { to: join(root, 'other') })]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(results.map((r) => r.status === 'rejected' ? String(r.reason) : 'ok')));
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof VaultError && r.reason.code === 'REFUSED', String(r.reason));
    assert.equal(sha256(readFileSync(p)), rec.sha256);
    assert.deepEqual(v.list(), []);
    assert.deepEqual(readdirSync(join(root, 'f')), ['r.bin']);
    v.close();
  } finally { rmSync(root, { recursive: true, force: true }); }
});
