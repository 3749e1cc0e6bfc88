/**
 * `vigil quarantine`: add, list (text and JSON), show, restore (refusing to overwrite without
 * --force, --to), delete, export (opened by `unzip -P infected` and `7z -pinfected`), and the exit
 * codes: 0 done, 1 not found or refused, 2 usage or vault errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runQuarantine } from './quarantine.js';
import { openVault } from '../protect/vault/index.js';

const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runQuarantine(args, { stdout: { write: (s: string) => { out += s; } }, stderr: { write: (s: string) => { err += s; } } });
  return { code, out, err };
}

test('vigil quarantine: add, list, show, restore, delete, export, and the exit codes', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-quarantine-cli-'));
  try {
    const vault = join(root, 'vault');
    const a = join(root, 'eicar.com');
    const b = join(root, '-dash name.txt');
    writeFileSync(a, EICAR);
    writeFileSync(b, 'hello\n');
    // A detection with its evidence, as the watcher stores it.
    const v = openVault(vault);
    const ra = await v.quarantine(a, { detections: [{ name: 'Eicar-Test-Signature', kind: 'body', db: 'main.ndb', line: 1, layer: [], offset: 0, matched: '58354f21' }], engine: 'vigil-0.1.0', database: { signatures: 5, daily: 27000 } });
    v.close();

    let r = await run('--vault', vault, 'add', b, join(root, 'missing'));
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /missing: no such file/);
    assert.equal(existsSync(b), false);
    const idB = /^([0-9a-f]{32}): /.exec(r.out)?.[1];
    assert.ok(idB, r.out);

    r = await run('list', '--json', '--vault', vault);
    assert.equal(r.code, 0, r.err);
    const list = JSON.parse(r.out) as { id: string; originalPath: string; sha256: string; detections: { name: string }[]; reason: string }[];
    assert.equal(list.length, 2);
    const ea = list.find((e) => e.id === ra.id)!;
    assert.equal(ea.originalPath, a);
    assert.match(ea.sha256, /^[0-9a-f]{64}$/);
    assert.equal(ea.detections[0]!.name, 'Eicar-Test-Signature');
    const eb = list.find((e) => e.id === idB)!;
    assert.deepEqual(eb.detections, []);
    assert.equal(eb.reason, 'manual');

    r = await run('--vault', vault, 'list');
    assert.equal(r.code, 0);
    assert.match(r.out, new RegExp(`${ra.id} .*Eicar-Test-Signature\\s+"${a.replace(/[.]/g, '\\.')}"`));
    assert.match(r.out, /manual\s+".*-dash name\.txt"/);

    r = await run('--vault', vault, 'show', ra.id);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /detection:\s+Eicar-Test-Signature \(body\) main\.ndb:1 at offset 0 matched 58354f21/);
    assert.match(r.out, /integrity:\s+ok/);
    r = await run('--vault', vault, 'show', ra.id, '--json');
    assert.equal((JSON.parse(r.out) as { intact: boolean }).intact, true);
    r = await run('--vault', vault, 'show', 'f'.repeat(32));
    assert.equal(r.code, 1);
    assert.match(r.err, /no such record/);

    // Export before restoring.
    const zip = join(root, 'samples.zip');
    r = await run('--vault', vault, 'export', ra.id, idB, '--out', zip);
    assert.equal(r.code, 0, r.err);
    assert.match(execFileSync('unzip', ['-P', 'infected', '-t', zip], { encoding: 'utf8' }), /No errors detected in compressed data/);
    assert.match(execFileSync('7z', ['t', '-pinfected', zip], { encoding: 'utf8' }), /Everything is Ok/);
    assert.match(execFileSync('unzip', ['-P', 'infected', '-p', zip, `${ra.id}/eicar.com`], { encoding: 'utf8' }), /EICAR-STANDARD/);
    r = await run('--vault', vault, 'export', ra.id, '--out', zip);
    assert.equal(r.code, 1);
    assert.match(r.err, /already exists/);
    r = await run('--vault', vault, 'export', ra.id);
    assert.equal(r.code, 2);
    const zip2 = join(root, 'other.zip');
    r = await run('--vault', vault, 'export', ra.id, '--out', zip2, '--password', 's3cret');
    assert.equal(r.code, 0, r.err);
    assert.match(execFileSync('7z', ['t', '-ps3cret', zip2], { encoding: 'utf8' }), /Everything is Ok/);

    // Restore: refused over an existing file, then --force, then --to.
    writeFileSync(a, 'someone else\n');
    r = await run('--vault', vault, 'restore', ra.id);
    assert.equal(r.code, 1);
    assert.match(r.err, /already there; not overwriting it \(use --force/);
    assert.equal(readFileSync(a, 'utf8'), 'someone else\n');
    r = await run('--vault', vault, 'restore', ra.id, '--force');
    assert.equal(r.code, 0, r.err);
    assert.equal(readFileSync(a, 'utf8'), EICAR);
    const to = join(root, 'restored.txt');
    r = await run('--vault', vault, 'restore', idB, '--to', to);
    assert.equal(r.code, 0, r.err);
    assert.equal(readFileSync(to, 'utf8'), 'hello\n');
    assert.equal(existsSync(b), false);

    // Delete.
    r = await run('--vault', vault, 'add', to);
    const idC = /^([0-9a-f]{32}): /.exec(r.out)?.[1] ?? '';
    r = await run('--vault', vault, 'delete', idC);
    assert.equal(r.code, 0, r.err);
    r = await run('--vault', vault, 'delete', idC);
    assert.equal(r.code, 1);
    assert.match(r.err, /no such record/);
    r = await run('--vault', vault, 'list', '--json');
    assert.deepEqual(JSON.parse(r.out), []);

    // A damaged vault copy: show says so (exit 1), restore refuses (exit 1), list still lists.
    writeFileSync(b, 'again\n');
    r = await run('--vault', vault, 'add', b);
    const idD = /^([0-9a-f]{32}): /.exec(r.out)?.[1] ?? '';
    const stored = join(vault, 'files', idD);
    const buf = readFileSync(stored);
    buf[buf.length - 1] = buf[buf.length - 1]! ^ 1;
    writeFileSync(stored, buf);
    r = await run('--vault', vault, 'show', idD);
    assert.equal(r.code, 1);
    assert.match(r.out, /integrity:\s+DAMAGED/);
    assert.match(r.out, /PROBLEM:\s+authentication failed/);
    r = await run('--vault', vault, 'restore', idD);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`${idD}: authentication failed.*nothing restored`));
    assert.equal(existsSync(b), false);
    rmSync(stored);
    r = await run('--vault', vault, 'list');
    assert.equal(r.code, 0);
    assert.match(r.out, /PROBLEM: vault file .* is missing/);

    // Usage errors.
    assert.equal((await run()).code, 2);
    assert.equal((await run('--vault', vault, 'frobnicate')).code, 2);
    assert.equal((await run('--vault', vault, 'restore')).code, 2);
    assert.equal((await run('--vault', vault, 'list', '--help')).code, 0);

    // Vault errors: a missing key while records exist, a garbage database.
    writeFileSync(b, 'once more\n');
    r = await run('--vault', vault, 'add', b);
    const idE = /^([0-9a-f]{32}): /.exec(r.out)?.[1] ?? '';
    const key = readFileSync(join(vault, 'key'));
    rmSync(join(vault, 'key'));
    r = await run('--vault', vault, 'list');
    assert.equal(r.code, 2);
    assert.match(r.err, /key is missing/);
    writeFileSync(join(vault, 'key'), key, { mode: 0o600 });
    for (const f of ['vault.db', 'vault.db-wal', 'vault.db-shm']) rmSync(join(vault, f), { force: true });
    writeFileSync(join(vault, 'vault.db'), 'this is not a database'.repeat(300));
    r = await run('--vault', vault, 'list');
    assert.equal(r.code, 2);
    assert.match(r.err, /vault\.db: the vault database is damaged or unreadable/);
    // rebuild: the database set aside, the records back from the vault files (the one whose
    // vault file was removed above is gone for good).
    r = await run('--vault', vault, 'rebuild');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /set aside as .*vault\.db\.damaged-/);
    assert.match(r.out, new RegExp(`indexed ${idE}: .*-dash name\\.txt`));
    assert.match(r.out, /1 record\(s\) re-indexed, 0 vault file\(s\) unreadable/);
    r = await run('--vault', vault, 'list', '--json');
    assert.deepEqual((JSON.parse(r.out) as { id: string }[]).map((e) => e.id), [idE]);
    r = await run('--vault', vault, 'restore', idE);
    assert.equal(r.code, 0, r.err);
    assert.equal(readFileSync(b, 'utf8'), 'once more\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
