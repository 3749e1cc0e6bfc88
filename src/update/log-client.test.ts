/**
 * Tests for the transparency log's client (src/update/log-client.ts).
 *
 * In: a real log served on 127.0.0.1 port 0, and a hostile stand-in server whose answers each
 * test chooses (wrong keys, wrong counts, wrong bundles, huge or slow replies). Out: assertions
 * that good replies are returned and bad ones refused with the matching `LogError` code.
 * Why: the update client trusts nothing the log says until it is checked; a hostile log may
 * make a check fail, never pass, hang or exhaust memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogStore } from './log-store.js';
import { startLogServer } from './log-server.js';
import { buildBundle } from './bundle.js';
import {
  auditLog, consistencySource, fetchConsistency, fetchEntries, fetchInclusion, fetchLoggedBundle, fetchTreeHead,
  LogHttpError, readBundleUnverified, submitBundle,
} from './log-client.js';
import { checkLogged, entryLeafHash, LogError, signTreeHead, type LogEntry } from './transparency.js';
import { MerkleTree } from './merkle.js';

const NOW = new Date('2026-11-29T12:00:00Z');

function isCode(code: LogError['code'], re?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof LogError, `expected a LogError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  };
}

function makeBundles(root: string, key: import('node:crypto').KeyObject, n: number): { bytes: Buffer; manifestHash: string }[] {
  const out = [];
  for (let v = 1; v <= n; v++) {
    const src = join(root, `src${v}`);
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'r.ldb'), `Test.Logical-${v};Target:0;0;${Buffer.from(`v${v}`).toString('hex')}\n`);
    out.push(buildBundle(src, { key, version: v, publisher: 'Example Labs', now: NOW }));
  }
  return out;
}

async function fake(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
  const s = createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); }) };
}

const json = (res: ServerResponse, v: unknown, status = 200): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(v));
};

test('log client against a real log: every call, submit and check, and a full audit', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-logclient-'));
  const log = generateKeyPairSync('ed25519');
  const pk = generateKeyPairSync('ed25519');
  const store = new LogStore({ dir: join(root, 'log'), key: log.privateKey, publishers: [pk.publicKey], now: () => NOW });
  const server = await startLogServer({ store, host: '127.0.0.1', port: 0 });
  try {
    const bundles = makeBundles(root, pk.privateKey, 4);
    const first = await submitBundle(server.url, bundles[0]?.bytes ?? Buffer.alloc(0));
    const seen = (await checkLogged(first, { manifestHash: bundles[0]?.manifestHash ?? '', publisher: 'Example Labs', version: 1 }, log.publicKey)).head;
    for (const b of bundles.slice(1)) await submitBundle(`${server.url}/`, b.bytes);
    const sth = await fetchTreeHead(server.url, log.publicKey);
    assert.equal(sth.tree_size, 4);
    assert.equal((await fetchTreeHead(server.url)).root_hash, sth.root_hash, 'shape-checked without a key');
    await assert.rejects(fetchTreeHead(server.url, generateKeyPairSync('ed25519').publicKey), isCode('bad-sth', /not by the configured log/));
    // A bundle from an old proof (size 1), checked against the newer head via the log.
    const latest = await submitBundle(server.url, bundles[3]?.bytes ?? Buffer.alloc(0));
    assert.equal(latest.leaf_index, 3, 'a resubmission returns the existing entry');
    const later = await checkLogged(first, { manifestHash: bundles[0]?.manifestHash ?? '', publisher: 'Example Labs', version: 1 }, log.publicKey,
      { tree_size: sth.tree_size, root_hash: sth.root_hash, timestamp: sth.timestamp }, consistencySource(server.url));
    assert.equal(later.head.tree_size, 4);
    assert.equal(seen.tree_size, 1);
    const entries = await fetchEntries(server.url, 0, 4);
    assert.deepEqual(entries.map((e) => e.version), [1, 2, 3, 4]);
    const tree = MerkleTree.fromLeafHashes(entries.map(entryLeafHash));
    assert.equal(tree.root().toString('hex'), sth.root_hash);
    assert.deepEqual(await fetchConsistency(server.url, 2, 4), tree.consistencyProof(2, 4).map((h) => h.toString('hex')));
    const incl = await fetchInclusion(server.url, entryLeafHash(entries[2] as LogEntry).toString('hex'), 4);
    assert.equal(incl.leaf_index, 2);
    assert.ok((await fetchLoggedBundle(server.url, bundles[2]?.manifestHash ?? '')).equals(bundles[2]?.bytes ?? Buffer.alloc(1)));
    await assert.rejects(fetchLoggedBundle(server.url, '0'.repeat(64)), (e: unknown) => e instanceof LogHttpError && e.status === 404);
    await assert.rejects(fetchEntries(server.url, 0, 5), (e: unknown) => e instanceof LogHttpError && e.status === 400 && /end ≤ 4/.test(e.reason));
    // A refused submission carries the log's reason.
    const foreign = makeBundles(join(root, 'f'), generateKeyPairSync('ed25519').privateKey, 1).at(0)?.bytes ?? Buffer.alloc(0);
    await assert.rejects(submitBundle(server.url, foreign), (e: unknown) => e instanceof LogHttpError && e.status === 403 && /not signed by a publisher/.test(e.message));
    // The audit: every bundle, in order.
    const seenIdx: number[] = [];
    const audit = await auditLog(server.url, log.publicKey, { onEntry: (e) => { seenIdx.push(e.index); assert.equal(readBundleUnverified(e.bundle).manifestHash, e.entry.manifest_sha256); } });
    assert.equal(audit.entries, 4);
    assert.deepEqual(seenIdx, [0, 1, 2, 3]);
    const again = await auditLog(server.url, log.publicKey, { previous: audit.sth, skipBundles: true });
    assert.equal(again.sth.root_hash, audit.sth.root_hash);
    await assert.rejects(fetchTreeHead('ftp://127.0.0.1/'), isCode('log-io', /http or https/));
    await assert.rejects(fetchTreeHead('not a url'), isCode('log-io'));
  } finally {
    await server.close();
    store.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('log client against a hostile log: wrong keys, counts, bundles, huge and slow replies are refused', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-logclient-'));
  const log = generateKeyPairSync('ed25519');
  const pk = generateKeyPairSync('ed25519');
  const bundles = makeBundles(root, pk.privateKey, 3);
  const entries: LogEntry[] = bundles.map((b, i) => ({ format: 'vigil-log-entry/1', manifest_sha256: b.manifestHash, publisher: 'Example Labs', version: i + 1, logged: '2026-11-29T12:00:00Z' }));
  const tree = MerkleTree.fromLeafHashes(entries.map(entryLeafHash));
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_q, res) => json(res, {});
  const srv = await fake((req, res) => handler(req, res));
  try {
    // A tree head signed by another key; then one in the right key but a wrong shape.
    handler = (_q, res) => json(res, signTreeHead(generateKeyPairSync('ed25519').privateKey, 3, tree.root(), NOW.getTime()));
    await assert.rejects(fetchTreeHead(srv.url, log.publicKey), isCode('bad-sth'));
    handler = (_q, res) => json(res, { tree_size: 3 });
    await assert.rejects(fetchTreeHead(srv.url), isCode('bad-sth'));
    handler = (_q, res) => { res.writeHead(200); res.end('<html>'); };
    await assert.rejects(fetchTreeHead(srv.url), isCode('bad-proof', /not JSON/));
    handler = (_q, res) => json(res, { error: 'database on fire' }, 500);
    await assert.rejects(fetchTreeHead(srv.url), (e: unknown) => e instanceof LogHttpError && e.status === 500 && e.reason === 'database on fire');
    // Entries: too few, malformed.
    handler = (_q, res) => json(res, { entries: entries.slice(0, 2) });
    await assert.rejects(fetchEntries(srv.url, 0, 3), isCode('bad-proof', /got 2/));
    handler = (_q, res) => json(res, { entries: [entries[0], { ...entries[1], version: -1 }, entries[2]] });
    await assert.rejects(fetchEntries(srv.url, 0, 3), isCode('bad-proof', /entry 1: version/));
    handler = (_q, res) => json(res, { proof: ['nothex'] });
    await assert.rejects(fetchConsistency(srv.url, 1, 3), isCode('bad-proof'));
    handler = (_q, res) => json(res, { leaf_index: 7, inclusion: [] });
    await assert.rejects(fetchInclusion(srv.url, 'ab'.repeat(32), 3), isCode('bad-proof', /leaf_index/));
    // A bundle other than the one asked for.
    handler = (_q, res) => { res.writeHead(200); res.end(bundles[1]?.bytes); };
    await assert.rejects(fetchLoggedBundle(srv.url, bundles[0]?.manifestHash ?? ''), isCode('bad-proof', /manifest hashes to/));
    const altered = Buffer.from(bundles[0]?.bytes ?? Buffer.alloc(0));
    altered[altered.length - 66] = (altered[altered.length - 66] ?? 0) ^ 1; // the last file byte
    handler = (_q, res) => { res.writeHead(200); res.end(altered); };
    await assert.rejects(fetchLoggedBundle(srv.url, bundles[0]?.manifestHash ?? ''), isCode('bad-proof', /r\.ldb: SHA-256 does not match the manifest/));
    handler = (_q, res) => { res.writeHead(200); res.end('junk'); };
    await assert.rejects(fetchLoggedBundle(srv.url, bundles[0]?.manifestHash ?? ''), isCode('bad-proof', /not a vigil bundle/));
    // A submit answered with the proof of another bundle.
    const store = new LogStore({ dir: join(root, 'real'), key: log.privateKey, publishers: [pk.publicKey], now: () => NOW });
    const otherProof = store.add(bundles[1]?.bytes ?? Buffer.alloc(0));
    store.close();
    handler = (_q, res) => json(res, otherProof);
    await assert.rejects(submitBundle(srv.url, bundles[0]?.bytes ?? Buffer.alloc(0)), isCode('bad-proof', /not [0-9a-f]{64}/));
    // Huge replies: declared and streamed without a length.
    handler = (_q, res) => { res.writeHead(200, { 'content-length': String(10 << 20) }); res.write('{'); };
    await assert.rejects(fetchTreeHead(srv.url, undefined, { timeoutMs: 2000 }), isCode('log-io', /exceeds the limit/));
    handler = (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let n = 0;
      const pump = (): void => { while (n++ < 64) if (!res.write(chunk)) { res.once('drain', pump); return; } res.end(); };
      pump();
    };
    await assert.rejects(fetchTreeHead(srv.url, undefined, { timeoutMs: 5000 }), isCode('log-io', /exceeds the limit of 1048576/));
    // A log that never answers, and one that stops half way.
    handler = () => { /* silence */ };
    await assert.rejects(fetchTreeHead(srv.url, undefined, { timeoutMs: 200 }), isCode('log-io', /timed out/));
    handler = (_q, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.write('{"tree_'); };
    await assert.rejects(fetchTreeHead(srv.url, undefined, { timeoutMs: 200 }), isCode('log-io', /timed out/));
    handler = (_q, res) => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' }); res.write('{"tree_'); setTimeout(() => res.destroy(), 20); };
    await assert.rejects(fetchTreeHead(srv.url), isCode('log-io', /closed before the reply was complete|aborted/));
    // Redirects are not followed.
    handler = (_q, res) => { res.writeHead(302, { location: 'http://example.invalid/' }); res.end(); };
    await assert.rejects(fetchTreeHead(srv.url), isCode('log-io', /HTTP 302/));

    // The audit against logs that lie.
    const sth = signTreeHead(log.privateKey, 3, tree.root(), NOW.getTime());
    const serve = (over: { entries?: LogEntry[]; bundle?: (h: string) => Buffer | undefined; consistency?: string[] }) => (req: IncomingMessage, res: ServerResponse): void => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/log/v1/sth') return json(res, sth);
      if (u.pathname === '/log/v1/entries') return json(res, { entries: (over.entries ?? entries).slice(Number(u.searchParams.get('start')), Number(u.searchParams.get('end'))) });
      if (u.pathname === '/log/v1/consistency') return json(res, { proof: over.consistency ?? tree.consistencyProof(Number(u.searchParams.get('first')), 3).map((h) => h.toString('hex')) });
      if (u.pathname.startsWith('/log/v1/bundle/')) {
        const h = u.pathname.slice(15);
        const b = over.bundle ? over.bundle(h) : bundles.find((x) => x.manifestHash === h)?.bytes;
        if (!b) return json(res, { error: 'no' }, 404);
        res.writeHead(200);
        res.end(b);
        return;
      }
      json(res, { error: 'no' }, 404);
    };
    handler = serve({});
    assert.equal((await auditLog(srv.url, log.publicKey)).entries, 3);
    handler = serve({ entries: [entries[0] as LogEntry, { ...(entries[1] as LogEntry), logged: '2026-11-29T12:00:01Z' }, entries[2] as LogEntry] });
    await assert.rejects(auditLog(srv.url, log.publicKey), isCode('bad-proof', /hash to root/));
    handler = serve({ bundle: (h) => (h === bundles[1]?.manifestHash ? undefined : bundles.find((x) => x.manifestHash === h)?.bytes) });
    await assert.rejects(auditLog(srv.url, log.publicKey), isCode('not-logged', /entry 1: the log does not serve bundle/));
    // A previous audit of a different history at size 2 (same key): the proof fails → fork.
    const forkTree = MerkleTree.fromLeafHashes([entries[0] as LogEntry, { ...(entries[1] as LogEntry), version: 9 }].map(entryLeafHash));
    const previous = signTreeHead(log.privateKey, 2, forkTree.root(), NOW.getTime() - 1000);
    handler = serve({});
    await assert.rejects(auditLog(srv.url, log.publicKey, { previous }), isCode('fork', /consistency proof from size 2 to 3 fails/));
    // Even when the log hands over a proof that passes (here: none needed, a bigger previous head), the replay decides.
    const bigger = signTreeHead(log.privateKey, 4, tree.root(), NOW.getTime() - 1000);
    await assert.rejects(auditLog(srv.url, log.publicKey, { previous: bigger }), isCode('fork', /shrank/));
    const sameSize = signTreeHead(log.privateKey, 3, forkTree.root(), NOW.getTime() - 1000);
    await assert.rejects(auditLog(srv.url, log.publicKey, { previous: sameSize }), isCode('fork', /same size/));
    const previousGood = signTreeHead(log.privateKey, 2, tree.root(2), NOW.getTime() - 1000);
    assert.equal((await auditLog(srv.url, log.publicKey, { previous: previousGood })).entries, 3);
  } finally {
    await srv.close();
    rmSync(root, { recursive: true, force: true });
  }
});
