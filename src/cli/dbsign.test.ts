/**
 * Tests for `vigil db keygen|build|verify`.
 *
 * In: argument lists run against temp dirs. Out: assertions on exit codes, printed output and
 * files written. Why: the publisher's workflow and a user's check must fail loudly with the reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDbSign } from './dbsign.js';

const NOW = new Date('2026-11-29T12:00:00Z');

async function run(args: string[], now = NOW): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runDbSign(args, { stdout: { write: (s: string) => { out += s; } }, stderr: { write: (s: string) => { err += s; } }, now: () => now });
  return { code, out, err };
}

test('keygen, build, verify: exit codes and output', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-dbsign-'));
  try {
    const src = join(root, 'db');
    mkdirSync(src);
    writeFileSync(join(src, 'x.hdb'), '44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n');
    const name = join(root, 'k');
    const kg = await run(['keygen', '--out', name]);
    assert.equal(kg.code, 0, kg.err);
    assert.match(kg.out, /Fingerprint: [0-9a-f]{64}/);
    assert.equal(statSync(`${name}.key`).mode & 0o777, 0o600);
    const again = await run(['keygen', '--out', name]);
    assert.equal(again.code, 2);
    assert.match(again.err, /already exists/);

    const bundle = join(root, 'b.vbndl');
    const b = await run(['build', src, '--key', `${name}.key`, '--version', '12', '--out', bundle, '--expires-days', '3', '--publisher', 'Example Labs']);
    assert.equal(b.code, 0, b.err);
    assert.match(b.out, /1 file, version 12, expires 2026-12-02T12:00:00Z/);
    assert.match(b.out, /Manifest SHA-256: [0-9a-f]{64}/);
    const first = readFileSync(bundle);
    const over = await run(['build', src, '--key', `${name}.key`, '--version', '13', '--out', bundle]);
    assert.equal(over.code, 2, 'an existing bundle is not overwritten');
    assert.ok(readFileSync(bundle).equals(first));
    assert.equal((await run(['build', src, '--key', `${name}.key`, '--version', 'x', '--out', join(root, 'c')])).code, 2);
    assert.equal((await run(['build', src, '--key', join(root, 'missing.key'), '--version', '1', '--out', join(root, 'c')])).code, 2);
    assert.equal((await run(['build', src, '--version', '1', '--out', join(root, 'c')])).code, 2, 'missing --key');
    assert.equal(existsSync(join(root, 'c')), false);

    const v = await run(['verify', bundle, '--pubkey', `${name}.pub`]);
    assert.equal(v.code, 0, v.err);
    assert.match(v.out, /Publisher: Example Labs/);
    assert.match(v.out, /Version: 12/);
    assert.match(v.out, /x\.hdb {2}57 {2}[0-9a-f]{64}/);

    const expired = await run(['verify', bundle, '--pubkey', `${name}.pub`], new Date('2027-01-01T00:00:00Z'));
    assert.equal(expired.code, 2);
    assert.match(expired.err, /REFUSED: expired: bundle expired at 2026-12-02T12:00:00Z/);

    const other = join(root, 'o');
    assert.equal((await run(['keygen', '--out', other])).code, 0);
    const wrong = await run(['verify', bundle, '--pubkey', `${other}.pub`]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.err, /signature-invalid/);

    const tampered = Buffer.from(first);
    tampered[tampered.length - 70]! ^= 0x20;
    writeFileSync(join(root, 't.vbndl'), tampered);
    const t = await run(['verify', join(root, 't.vbndl'), '--pubkey', `${name}.pub`]);
    assert.equal(t.code, 2);
    assert.match(t.err, /hash-mismatch: x\.hdb/);

    assert.equal((await run(['verify', join(root, 'nope'), '--pubkey', `${name}.pub`])).code, 2);
    assert.equal((await run(['verify', bundle])).code, 2, 'missing --pubkey');
    assert.equal((await run(['frobnicate'])).code, 2);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
