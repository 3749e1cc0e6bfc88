/**
 * Tests for the transparency log's HTTP service (src/update/log-server.ts).
 *
 * In: a log store in a temp dir, served on 127.0.0.1 port 0; well-formed and hostile requests
 * (raw sockets for the malformed ones). Out: assertions on status codes, bodies and that the
 * service keeps answering.
 * Why: the log is public; whatever anyone sends, it must answer with a reason and keep serving.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { connect } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogStore } from './log-store.js';
import { startLogServer } from './log-server.js';
import { buildBundle } from './bundle.js';
import { entryLeafHash, parseProof, verifyTreeHead, type LogEntry } from './transparency.js';
import { verifyConsistency, verifyInclusion } from './merkle.js';

const NOW = new Date('2026-11-29T12:00:00Z');

async function get(url: string, init?: RequestInit): Promise<{ status: number; json: Record<string, unknown>; raw: Buffer; type: string | null }> {
  const res = await fetch(url, init);
  const raw = Buffer.from(await res.arrayBuffer());
  let json: Record<string, unknown> = {};
  try { json = JSON.parse(raw.toString('utf8')) as Record<string, unknown>; } catch { /* bundle bytes */ }
  return { status: res.status, json, raw, type: res.headers.get('content-type') };
}

/** Sends raw bytes on a socket; resolves with everything the server answered. */
function raw(port: number, data: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (c) => { got += c.toString('latin1'); });
    s.on('error', () => resolve(got));
    s.on('close', () => resolve(got));
    s.write(data);
    setTimeout(() => s.end(), 200);
  });
}

test('log server: the API on a live log, and hostile requests get 400s while it keeps serving', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-logserver-'));
  const log = generateKeyPairSync('ed25519');
  const pk = generateKeyPairSync('ed25519');
  const store = new LogStore({ dir: join(root, 'log'), key: log.privateKey, publishers: [pk.publicKey], now: () => NOW });
  const server = await startLogServer({ store, host: '127.0.0.1', port: 0, maxBody: 1 << 20 });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(server.port, 0);
    const u = (p: string): string => `${server.url}${p}`;
    const empty = await get(u('/log/v1/sth'));
    assert.equal(empty.status, 200);
    assert.equal(verifyTreeHead(empty.json, log.publicKey).tree_size, 0);

    const bundles = [];
    for (let v = 1; v <= 5; v++) {
      const src = join(root, `s${v}`);
      mkdirSync(src);
      writeFileSync(join(src, 'a.hdb'), `${'0'.repeat(31)}${v}:10:Test.Hash-${v}\n`);
      bundles.push(buildBundle(src, { key: pk.privateKey, version: v, publisher: 'Example Labs', now: NOW }));
    }
    for (const [i, b] of bundles.entries()) {
      const r = await get(u('/log/v1/add'), { method: 'POST', body: b.bytes });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const p = parseProof(r.json);
      assert.equal(p.leaf_index, i);
      assert.equal(p.entry.manifest_sha256, b.manifestHash);
    }
    const sth = verifyTreeHead((await get(u('/log/v1/sth'))).json, log.publicKey);
    assert.equal(sth.tree_size, 5);

    const c = await get(u('/log/v1/consistency?first=2&second=5'));
    assert.equal(c.status, 200);
    const t2 = await get(u('/log/v1/consistency?first=5&second=5'));
    assert.deepEqual(t2.json, { proof: [] });
    const entries = (await get(u('/log/v1/entries?start=0&end=5'))).json.entries as LogEntry[];
    assert.equal(entries.length, 5);
    const leaf = entryLeafHash(entries[3] as LogEntry);
    const incl = await get(u(`/log/v1/proof?hash=${leaf.toString('hex')}&tree_size=5`));
    assert.equal(incl.status, 200);
    assert.equal(incl.json.leaf_index, 3);
    assert.ok(verifyInclusion(leaf, 3, 5, (incl.json.inclusion as string[]).map((h) => Buffer.from(h, 'hex')), Buffer.from(sth.root_hash, 'hex')));
    assert.equal((await get(u(`/log/v1/proof?hash=${leaf.toString('hex')}&tree_size=3`))).status, 400, 'leaf 3 is not in the tree of size 3');
    assert.equal((await get(u(`/log/v1/proof?hash=${'ab'.repeat(32)}&tree_size=5`))).status, 404);
    // The consistency proof from size 2 checks against a root of size 2, rebuilt from the entries.
    const { MerkleTree } = await import('./merkle.js');
    const tree = MerkleTree.fromLeafHashes(entries.map(entryLeafHash));
    assert.ok(verifyConsistency(2, 5, tree.root(2), Buffer.from(sth.root_hash, 'hex'), (c.json.proof as string[]).map((h) => Buffer.from(h, 'hex'))));
    const bundle = await get(u(`/log/v1/bundle/${bundles[1]?.manifestHash}`));
    assert.equal(bundle.status, 200);
    assert.equal(bundle.type, 'application/octet-stream');
    assert.ok(bundle.raw.equals(bundles[1]?.bytes ?? Buffer.alloc(1)));

    // Bad parameters: 400 with a reason.
    const bad400 = [
      '/log/v1/consistency?first=0&second=5', '/log/v1/consistency?first=3&second=2', '/log/v1/consistency?first=1&second=6',
      '/log/v1/consistency?first=-1&second=2', '/log/v1/consistency?first=1e3&second=2', '/log/v1/consistency?first=0x1&second=2',
      '/log/v1/consistency?first=1&second=99999999999999999999', '/log/v1/consistency?first=1', '/log/v1/consistency?first=1&first=2&second=3',
      '/log/v1/consistency?first=%00&second=2', '/log/v1/consistency?first=%20%31&second=2',
      '/log/v1/entries?start=0&end=0', '/log/v1/entries?start=4&end=2', '/log/v1/entries?start=0&end=6', '/log/v1/entries?start=0&end=9007199254740993',
      '/log/v1/entries?start=0&end=1001', '/log/v1/entries?start=abc&end=def', '/log/v1/entries',
      '/log/v1/proof?hash=zz&tree_size=5', `/log/v1/proof?hash=${'AB'.repeat(32)}&tree_size=5`, `/log/v1/proof?hash=${leaf.toString('hex')}&tree_size=0`,
      `/log/v1/proof?hash=${leaf.toString('hex')}&tree_size=6`, `/log/v1/proof?hash=${leaf.toString('hex')}`,
      '/log/v1/bundle/xyz', '/log/v1/bundle/..%2F..%2Fentries.ndjson', `/log/v1/bundle/${'A'.repeat(64)}`,
    ];
    for (const p of bad400) {
      const r = await get(u(p));
      assert.equal(r.status, 400, p);
      assert.equal(typeof r.json.error, 'string', p);
      assert.ok((r.json.error as string).length > 0);
    }
    assert.equal((await get(u('/log/v1/nothing'))).status, 404);
    assert.equal((await get(u('/'))).status, 404);
    assert.equal((await get(u(`/log/v1/bundle/${'0'.repeat(64)}`))).status, 404);
    assert.equal((await get(u('/log/v1/sth'), { method: 'POST', body: 'x' })).status, 405);
    assert.equal((await get(u('/log/v1/add'))).status, 405);
    // Garbage bodies.
    const garbage = await get(u('/log/v1/add'), { method: 'POST', body: 'hello' });
    assert.equal(garbage.status, 400);
    assert.match(garbage.json.error as string, /bad-magic/);
    assert.equal((await get(u('/log/v1/add'), { method: 'POST', body: '' })).status, 400);
    const noise = Buffer.alloc(4096);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 131 + 7) & 0xff;
    assert.equal((await get(u('/log/v1/add'), { method: 'POST', body: noise })).status, 400);
    const truncated = (bundles[0]?.bytes ?? Buffer.alloc(0)).subarray(0, 40);
    assert.equal((await get(u('/log/v1/add'), { method: 'POST', body: truncated })).status, 400);
    // Not from an accepted publisher: 403.
    const other = generateKeyPairSync('ed25519');
    const foreign = buildBundle(join(root, 's1'), { key: other.privateKey, version: 9, now: NOW });
    const f = await get(u('/log/v1/add'), { method: 'POST', body: foreign.bytes });
    assert.equal(f.status, 403);
    assert.match(f.json.error as string, /not signed by a publisher this log accepts/);
    // Too large: 413 (declared, and streamed without a length).
    assert.equal((await get(u('/log/v1/add'), { method: 'POST', body: Buffer.alloc((1 << 20) + 1) })).status, 413);
    const streamed = new ReadableStream<Uint8Array>({
      start(ctl) { for (let i = 0; i < 20; i++) ctl.enqueue(new Uint8Array(100_000)); ctl.close(); },
    });
    const s413 = await fetch(u('/log/v1/add'), { method: 'POST', body: streamed, duplex: 'half' } as RequestInit).then((r) => r.status);
    assert.equal(s413, 413);
    // Malformed HTTP on raw sockets.
    assert.match(await raw(server.port, 'NONSENSE\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match(await raw(server.port, `GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), /^HTTP\/1\.1 4\d\d/);
    assert.match(await raw(server.port, 'GET /log/v1/sth HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match(await raw(server.port, Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 13, 10, 13, 10])), /^HTTP\/1\.1 400/);
    assert.match(await raw(server.port, `GET /log/v1/entries?start=0&end=${'9'.repeat(3000)} HTTP/1.1\r\nHost: x\r\n\r\n`), /^HTTP\/1\.1 400/);
    // Slow uploads hold at most MAX_CONCURRENT_ADDS slots; the next gets 503, and the slots come back.
    const { MAX_CONCURRENT_ADDS } = await import('./log-server.js');
    const slow = Array.from({ length: MAX_CONCURRENT_ADDS }, () => connect(server.port, '127.0.0.1'));
    for (const s of slow) { s.on('error', () => undefined); s.write('POST /log/v1/add HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nVIGIL'); }
    await new Promise((r) => setTimeout(r, 150));
    const busy = await get(u('/log/v1/add'), { method: 'POST', body: 'x' });
    assert.equal(busy.status, 503);
    assert.match(busy.json.error as string, /try again/);
    for (const s of slow) s.destroy();
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await get(u('/log/v1/add'), { method: 'POST', body: 'x' })).status, 400, 'slots released');
    // Still serving, still the same log.
    const after = verifyTreeHead((await get(u('/log/v1/sth'))).json, log.publicKey);
    assert.equal(after.tree_size, 5);
    assert.equal(after.root_hash, sth.root_hash);
  } finally {
    await server.close();
    store.close();
    rmSync(root, { recursive: true, force: true });
  }
});
