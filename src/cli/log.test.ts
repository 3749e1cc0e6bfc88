/**
 * Tests for `vigil log keygen|serve|submit|audit`, end to end on 127.0.0.1 port 0.
 *
 * In: keys, bundles and a log directory in a temp dir; `serve` running in-process (stopped with an
 * AbortSignal, as SIGINT stops it). Out: assertions on exit codes, printed lines and files.
 * Why: the auditor's listing is the point of the log, and it must fail (exit 2, with the reason)
 * when the server rewrites its history or loses a bundle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseListen, runLog, signatureNames } from './log.js';
import { buildBundle, keygen, verifyBundle } from '../update/bundle.js';
import { checkLogged } from '../update/transparency.js';

const NOW = new Date('2026-11-29T12:00:00Z');

interface Run { code: number; out: string; err: string }

async function run(args: string[], signal?: AbortSignal): Promise<Run> {
  const r: Run = { code: -1, out: '', err: '' };
  r.code = await runLog(args, {
    stdout: { write: (s: string) => { r.out += s; } }, stderr: { write: (s: string) => { r.err += s; } }, now: () => NOW, ...(signal ? { signal } : {}),
  });
  return r;
}

/** Starts `vigil log serve` in-process; resolves with its URL once it prints it. */
async function serve(args: string[]): Promise<{ url: string; stop(): Promise<Run>; out(): string }> {
  const ac = new AbortController();
  const r: Run = { code: -1, out: '', err: '' };
  const done = runLog(['serve', ...args], {
    stdout: { write: (s: string) => { r.out += s; } }, stderr: { write: (s: string) => { r.err += s; } }, now: () => NOW, signal: ac.signal,
  }).then((c) => { r.code = c; return r; });
  for (let i = 0; i < 500 && !/Listening on/.test(r.out) && r.code === -1; i++) await new Promise((res) => setTimeout(res, 10));
  const m = /Listening on (http:\/\/127\.0\.0\.1:(\d+)) \(log id [0-9a-f]{64}, size (\d+)\)/.exec(r.out);
  assert.ok(m, `serve did not start: ${r.out} ${r.err}`);
  assert.notEqual(m[2], '0', 'the real port is printed');
  return { url: m[1] ?? '', stop: async () => { ac.abort(); return done; }, out: () => r.out };
}

test('signature names: per database type', () => {
  assert.deepEqual(signatureNames('a.hdb', Buffer.from('44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n\n# c\naa:1:Two:73\n')).names, ['Eicar-Test-Signature', 'Two']);
  assert.deepEqual(signatureNames('a.HSB', Buffer.from('x:*:Sha.Name\r\n')).names, ['Sha.Name']);
  assert.deepEqual(signatureNames('a.ndb', Buffer.from('Ndb.One:0:*:414243\nNdb.Two:1:EP+0:4142\n')).names, ['Ndb.One', 'Ndb.Two']);
  assert.deepEqual(signatureNames('a.ldb', Buffer.from('Ldb.One;Engine:51-255,Target:1;0;4142\n')).names, ['Ldb.One']);
  assert.deepEqual(signatureNames('a.cdb', Buffer.from('Cdb.One:CL_TYPE_ZIP:*:x.exe:*:*:*:*:*:*\n')).names, ['Cdb.One']);
  assert.deepEqual(signatureNames('r.yar', Buffer.from('rule first { condition: true }\nprivate rule second : tag { strings: $a = "rule fake" condition: $a }\n// rule commented { }\n')).names, ['first', 'second']);
  assert.deepEqual(signatureNames('x.ign2', Buffer.from('A\nB\nC\n')), { lines: 3 });
  assert.deepEqual(signatureNames('x.hdb', Buffer.from('broken-line\n')).names, ['(unnamed)']);
});

test('--listen parsing', () => {
  assert.deepEqual(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseListen('[::1]:8405'), { host: '::1', port: 8405 });
  for (const bad of ['127.0.0.1', ':80', '1.2.3.4:65536', 'host:-1', '::1:80', 'a:b']) assert.throws(() => parseListen(bad), /--listen/, bad);
});

test('vigil log: serve, submit 3 bundles, audit lists their signatures; a tampered log fails the audit', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-clilog-'));
  try {
    const logName = join(root, 'log');
    const kg = await run(['keygen', '--out', logName]);
    assert.equal(kg.code, 0, kg.err);
    assert.match(kg.out, /Log id: [0-9a-f]{64}/);
    assert.equal((await run(['keygen', '--out', logName])).code, 2, 'never overwrites a key');
    const pub = keygen(join(root, 'pub'));
    const dbs: Record<string, string>[] = [
      { 'a.hdb': '44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n0123456789abcdef0123456789abcdef:12:Test.Hash\n', 'r.yar': 'rule Yara_One { condition: true }\nrule Yara_Two { strings: $a = "x" condition: $a }\n' },
      { 'b.ndb': 'Test.Body:0:*:766967696c\n', 'c.ldb': 'Test.Logical;Engine:51-255,Target:0;0;76696769\n' },
      { 'd.cdb': 'Test.Container:CL_TYPE_ZIP:*:evil\\.exe:*:*:*:*:*:*\n', 'local.ign2': 'Eicar-Test-Signature\nTest.Body\n' },
    ];
    const files = dbs.map((set, i) => {
      const src = join(root, `src${i}`);
      mkdirSync(src);
      for (const [n, t] of Object.entries(set)) writeFileSync(join(src, n), t);
      const path = join(root, `b${i}.vbndl`);
      writeFileSync(path, buildBundle(src, { key: readFileSync(pub.keyPath, 'utf8'), version: i + 1, publisher: 'Example Labs', now: NOW }).bytes);
      return path;
    });
    const dir = join(root, 'logdir');
    const serveArgs = ['--dir', dir, '--key', `${logName}.key`, '--publisher-pubkey', pub.pubPath, '--listen', '127.0.0.1:0'];
    assert.equal((await run(['serve', '--dir', dir, '--key', `${logName}.key`, '--listen', '127.0.0.1:0'])).code, 2, 'no publisher key: refused');
    let srv = await serve(serveArgs);
    assert.match(srv.out(), /size 0\)/);

    for (const [i, f] of files.entries()) {
      const r = await run(['submit', f, '--log', srv.url, '--out', `${f}.logged`, '--log-pubkey', `${logName}.pub`]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, new RegExp(`as entry ${i} \\(Example Labs v${i + 1}, logged 2026-11-29T12:00:00Z\\)`));
      assert.match(r.out, /Proof checked with the log key/);
      const v = verifyBundle(readFileSync(`${f}.logged`), readFileSync(pub.pubPath, 'utf8'), { now: NOW });
      assert.ok(v.ok);
      await checkLogged(v.proof, { manifestHash: v.manifestHash, publisher: 'Example Labs', version: i + 1 }, readFileSync(`${logName}.pub`, 'utf8'));
    }
    const before = readFileSync(`${files[0]}.logged`);
    const dup = await run(['submit', files[0] ?? '', '--log', srv.url, '--out', `${files[0]}.logged`]);
    assert.equal(dup.code, 2);
    assert.match(dup.err, /already exists; not overwriting it/);
    assert.ok(readFileSync(`${files[0]}.logged`).equals(before));
    const other = keygen(join(root, 'other'));
    const wrongKey = await run(['submit', files[1] ?? '', '--log', srv.url, '--out', join(root, 'x.logged'), '--log-pubkey', other.pubPath]);
    assert.equal(wrongKey.code, 2);
    assert.match(wrongKey.err, /bad-sth/);
    assert.equal(existsSync(join(root, 'x.logged')), false, 'an unchecked proof is not written');
    const refused = await run(['submit', `${logName}.pub`, '--log', srv.url, '--out', join(root, 'y')]);
    assert.equal(refused.code, 2);

    const state = join(root, 'audit.state');
    const audit = await run(['audit', srv.url, '--log-pubkey', `${logName}.pub`, '--pubkey', pub.pubPath, '--state', state]);
    assert.equal(audit.code, 0, audit.err);
    const lines = audit.out.trim().split('\n');
    assert.deepEqual(lines.slice(0, -1), [
      '0 2026-11-29T12:00:00Z "Example Labs" v1 a.hdb Eicar-Test-Signature',
      '0 2026-11-29T12:00:00Z "Example Labs" v1 a.hdb Test.Hash',
      '0 2026-11-29T12:00:00Z "Example Labs" v1 r.yar Yara_One',
      '0 2026-11-29T12:00:00Z "Example Labs" v1 r.yar Yara_Two',
      '1 2026-11-29T12:00:00Z "Example Labs" v2 b.ndb Test.Body',
      '1 2026-11-29T12:00:00Z "Example Labs" v2 c.ldb Test.Logical',
      '2 2026-11-29T12:00:00Z "Example Labs" v3 d.cdb Test.Container',
      '2 2026-11-29T12:00:00Z "Example Labs" v3 local.ign2 (2 lines)',
    ]);
    assert.match(lines.at(-1) ?? '', /^Audit OK: 3 entries, 7 named signatures, root [0-9a-f]{64}/);
    assert.ok(existsSync(state));
    const js = await run(['audit', srv.url, '--log-pubkey', `${logName}.pub`, '--json']);
    assert.equal(js.code, 0, js.err);
    const objs = js.out.trim().split('\n').map((l) => JSON.parse(l) as { index: number; files: { name: string; signatures?: string[]; lines?: number }[] });
    assert.equal(objs.length, 3);
    assert.deepEqual(objs[0]?.files.map((f) => f.signatures), [['Eicar-Test-Signature', 'Test.Hash'], ['Yara_One', 'Yara_Two']]);
    assert.deepEqual(objs[2]?.files[1], { name: 'local.ign2', size: 31, lines: 2 });
    assert.match(js.err, /Audit OK: 3 entries/);
    // The wrong publisher key: every bundle is refused.
    const wrongPub = await run(['audit', srv.url, '--log-pubkey', `${logName}.pub`, '--pubkey', other.pubPath]);
    assert.equal(wrongPub.code, 2);
    assert.match(wrongPub.err, /entry 0 .*not signed by any of the given publisher keys/);
    assert.equal((await run(['audit', srv.url, '--log-pubkey', other.pubPath])).code, 2, 'a tree head from another log key');

    // The server rewrites history: an entry edited on disk, the log reopened.
    let stopped = await srv.stop();
    assert.equal(stopped.code, 0, stopped.err);
    assert.match(stopped.out, /Stopped \(size 3\)/);
    const entriesPath = join(dir, 'entries.ndjson');
    const original = readFileSync(entriesPath, 'utf8');
    writeFileSync(entriesPath, original.replace('"version":2,"logged":"2026-11-29T12:00:00Z"', '"version":2,"logged":"2026-11-29T11:00:00Z"'));
    assert.notEqual(readFileSync(entriesPath, 'utf8'), original);
    srv = await serve(serveArgs);
    const stateBefore = readFileSync(state, 'utf8');
    const forked = await run(['audit', srv.url, '--log-pubkey', `${logName}.pub`, '--state', state]);
    assert.equal(forked.code, 2);
    assert.match(forked.err, /fork: the log forked/);
    assert.equal(readFileSync(state, 'utf8'), stateBefore, 'a failed audit does not move the state');
    assert.equal((await run(['audit', srv.url, '--log-pubkey', `${logName}.pub`, '--state', state])).code, 2, 'and fails again');
    // Without --state the rewritten log is self-consistent: the audit passes, listing the new history.
    const fresh = await run(['audit', srv.url, '--log-pubkey', `${logName}.pub`]);
    assert.equal(fresh.code, 0, fresh.err);
    assert.match(fresh.out, /^1 2026-11-29T11:00:00Z/m);

    // History restored, then extended: the audit with --state passes and moves the state.
    stopped = await srv.stop();
    writeFileSync(entriesPath, original);
    srv = await serve(serveArgs);
    const src4 = join(root, 'src4');
    mkdirSync(src4);
    writeFileSync(join(src4, 'e.msb'), '99:0123456789abcdef0123456789abcdef:Test.Section\n');
    const b4 = join(root, 'b4.vbndl');
    writeFileSync(b4, buildBundle(src4, { key: readFileSync(pub.keyPath, 'utf8'), version: 4, publisher: 'Example Labs', now: NOW }).bytes);
    assert.equal((await run(['submit', b4, '--log', srv.url, '--out', `${b4}.logged`])).code, 0);
    const extended = await run(['audit', srv.url, '--log-pubkey', `${logName}.pub`, '--state', state]);
    assert.equal(extended.code, 0, extended.err);
    assert.match(extended.out, /^3 2026-11-29T12:00:00Z "Example Labs" v4 e\.msb Test\.Section$/m);
    assert.match(extended.out, /extends the previous audit \(size 3\)/);
    assert.match(readFileSync(state, 'utf8'), /"tree_size":4/);

    // A bundle lost from the server's disk: the audit names it.
    stopped = await srv.stop();
    const lost = JSON.parse(original.split('\n')[0] ?? '{}') as { manifest_sha256: string };
    rmSync(join(dir, 'bundles', `${lost.manifest_sha256}.bundle`));
    srv = await serve(serveArgs);
    const missing = await run(['audit', srv.url, '--log-pubkey', `${logName}.pub`, '--state', state]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /not-logged: entry 0: the log does not serve bundle/);
    stopped = await srv.stop();
    assert.equal(stopped.code, 0);
    // Usage errors.
    assert.equal((await run(['audit', 'http://127.0.0.1:1'])).code, 2, 'missing --log-pubkey');
    assert.equal((await run(['serve', ...serveArgs.slice(0, -1), 'nonsense'])).code, 2);
    assert.equal((await run(['nothing'])).code, 2);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
