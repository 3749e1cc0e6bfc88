/**
 * Tests for the transparency log's storage (src/update/log-store.ts).
 *
 * In: real signed bundles built in temp dirs, log directories under os.tmpdir(). Out: assertions
 * on persistence across reopen, the crash cut, idempotent adds and the refusals.
 * Why: the log's history must survive restarts and crashes byte for byte (a changed root is a
 * fork to every client), and it must hold only bundles of publishers it accepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogStore } from './log-store.js';
import { BundleError, buildBundle } from './bundle.js';
import { attachProof, checkLogged, LogError, verifyTreeHead } from './transparency.js';

const NOW = new Date('2026-11-29T12:00:00Z');

interface Fixture { root: string; log: KeyObject; logPub: KeyObject; pub: KeyObject; priv: KeyObject; bundles: { bytes: Buffer; manifestHash: string; version: number }[] }

function fixture(count = 3): Fixture {
  const root = mkdtempSync(join(tmpdir(), 'vigil-logstore-'));
  const log = generateKeyPairSync('ed25519');
  const pk = generateKeyPairSync('ed25519');
  const bundles = [];
  for (let v = 1; v <= count; v++) {
    const src = join(root, `src${v}`);
    mkdirSync(src);
    writeFileSync(join(src, 'x.ndb'), `Test.Sig-${v}:0:*:${Buffer.from(`vigil ${v}`).toString('hex')}\n`);
    const b = buildBundle(src, { key: pk.privateKey, version: v, publisher: 'Example Labs', now: NOW, expiresInDays: 10 });
    bundles.push({ bytes: b.bytes, manifestHash: b.manifestHash, version: v });
  }
  return { root, log: log.privateKey, logPub: log.publicKey, pub: pk.publicKey, priv: pk.privateKey, bundles };
}

function open(f: Fixture, dir = join(f.root, 'log'), now = NOW, publishers: (KeyObject | string)[] = [f.pub]): LogStore {
  return new LogStore({ dir, key: f.log, publishers, now: () => now });
}

test('add, then reopen: entries, bundles and the root survive byte for byte; proofs check', async () => {
  const f = fixture(3);
  try {
    const s = open(f);
    const proofs = f.bundles.map((b) => s.add(b.bytes));
    assert.deepEqual(proofs.map((p) => p.leaf_index), [0, 1, 2]);
    assert.equal(s.size, 3);
    const head = s.treeHead();
    verifyTreeHead(head, f.logPub);
    for (const [i, b] of f.bundles.entries()) {
      const r = await checkLogged(proofs[i], { manifestHash: b.manifestHash, publisher: 'Example Labs', version: b.version }, f.logPub);
      assert.equal(r.leafIndex, i);
    }
    // The last proof carries consistency from every earlier size.
    assert.deepEqual(proofs[2]?.consistency.map((c) => c.from_size), [1, 2]);
    const file = readFileSync(join(s.dir, 'entries.ndjson'), 'utf8');
    assert.equal(file.split('\n').length, 4);
    s.close();

    const again = open(f);
    assert.equal(again.size, 3);
    assert.equal(again.treeHead().root_hash, head.root_hash, 'root identical after reopen');
    assert.deepEqual(again.entries(0, 3), s.entries(0, 3));
    assert.deepEqual(again.entries(0, 3).map((e) => e.manifest_sha256), f.bundles.map((b) => b.manifestHash));
    for (const b of f.bundles) assert.ok(again.bundle(b.manifestHash)?.equals(b.bytes));
    assert.equal(again.bundle('0'.repeat(64)), undefined);
    assert.equal(again.bundle('../entries'), undefined, 'only hashes name bundles');
    assert.deepEqual(again.inclusionProof(2, 3), proofs[2]?.inclusion);
    assert.deepEqual(again.proofFor(1).inclusion, s.inclusionProof(1));
    assert.deepEqual(again.consistencyProof(1, 3), proofs[2]?.consistency[0]?.path);
    assert.equal(again.indexOfManifest(f.bundles[2]?.manifestHash ?? ''), 2);
    again.close();
  } finally {
    rmSync(f.root, { recursive: true, force: true });
  }
});

test('a partial last line (a crash mid-append) is cut on open; the log continues', () => {
  const f = fixture(3);
  try {
    const s = open(f);
    s.add(f.bundles[0]?.bytes ?? Buffer.alloc(0));
    s.add(f.bundles[1]?.bytes ?? Buffer.alloc(0));
    const root2 = s.treeHead().root_hash;
    s.close();
    const path = join(f.root, 'log', 'entries.ndjson');
    const before = readFileSync(path);
    appendFileSync(path, before.subarray(0, 40)); // half an entry, no newline
    const cut = open(f);
    assert.equal(cut.size, 2);
    assert.equal(cut.treeHead().root_hash, root2);
    assert.ok(readFileSync(path).equals(before), 'the partial line is gone from the file');
    assert.equal(cut.add(f.bundles[2]?.bytes ?? Buffer.alloc(0)).leaf_index, 2);
    const root3 = cut.treeHead().root_hash;
    cut.close();
    const reopened = open(f);
    assert.equal(reopened.size, 3);
    assert.equal(reopened.treeHead().root_hash, root3);
    reopened.close();
    // A damaged line in the middle is not silently dropped: the log refuses to open, naming it.
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[1] = (lines[1] ?? '').replace('"version":2', '"version": 2');
    writeFileSync(path, lines.join('\n'));
    assert.throws(() => open(f), (e: unknown) => e instanceof LogError && e.code === 'log-io' && /entries\.ndjson:2: entry not in canonical form/.test(e.message));
    lines[1] = '{not json';
    writeFileSync(path, lines.join('\n'));
    assert.throws(() => open(f), /entries\.ndjson:2: not JSON/);
  } finally {
    rmSync(f.root, { recursive: true, force: true });
  }
});

test('adding a bundle already logged returns its proof; nothing is appended', () => {
  const f = fixture(2);
  try {
    const s = open(f);
    const first = s.add(f.bundles[0]?.bytes ?? Buffer.alloc(0));
    s.add(f.bundles[1]?.bytes ?? Buffer.alloc(0));
    const dup = s.add(f.bundles[0]?.bytes ?? Buffer.alloc(0));
    assert.equal(dup.leaf_index, 0);
    assert.deepEqual(dup.entry, first.entry);
    assert.equal(dup.sth.tree_size, 2);
    // With a proof trailer attached, it is the same bundle.
    const withProof = attachProof(f.bundles[0]?.bytes ?? Buffer.alloc(0), first);
    assert.equal(s.add(withProof).leaf_index, 0);
    assert.equal(s.size, 2);
    assert.equal(readFileSync(join(s.dir, 'entries.ndjson'), 'utf8').split('\n').length, 3);
    s.close();
  } finally {
    rmSync(f.root, { recursive: true, force: true });
  }
});

test('refused: an unaccepted publisher, an expired or not yet valid bundle, garbage; nothing is stored', () => {
  const f = fixture(1);
  try {
    const other = generateKeyPairSync('ed25519');
    const src = join(f.root, 'src1');
    const foreign = buildBundle(src, { key: other.privateKey, version: 2, publisher: 'Example Labs', now: NOW });
    const s = open(f);
    assert.throws(() => s.add(foreign.bytes), (e: unknown) => e instanceof BundleError && e.code === 'signature-invalid' && /not signed by a publisher this log accepts/.test(e.message));
    s.close();
    const late = open(f, join(f.root, 'log'), new Date('2026-12-31T00:00:00Z'));
    assert.throws(() => late.add(f.bundles[0]?.bytes ?? Buffer.alloc(0)), (e: unknown) => e instanceof BundleError && e.code === 'expired');
    late.close();
    const early = open(f, join(f.root, 'log'), new Date('2026-11-28T00:00:00Z'));
    assert.throws(() => early.add(f.bundles[0]?.bytes ?? Buffer.alloc(0)), (e: unknown) => e instanceof BundleError && e.code === 'not-yet-valid');
    assert.throws(() => early.add(Buffer.from('GET / HTTP/1.1\r\n\r\n')), (e: unknown) => e instanceof BundleError && e.code === 'bad-magic');
    assert.throws(() => early.add(Buffer.alloc(0)), BundleError);
    const b = f.bundles[0]?.bytes ?? Buffer.alloc(0);
    const flipped = Buffer.from(b);
    flipped[b.length - 70] = (flipped[b.length - 70] ?? 0) ^ 1; // a file byte: the hash check fails
    assert.throws(() => early.add(flipped), BundleError);
    assert.equal(early.size, 0);
    early.close();
    assert.equal(readFileSync(join(f.root, 'log', 'entries.ndjson')).length, 0);
    assert.deepEqual(readdirSync(join(f.root, 'log', 'bundles')), []);
    // The second of two accepted publisher keys is tried too.
    const two = open(f, join(f.root, 'log2'), NOW, [other.publicKey, f.pub]);
    assert.equal(two.add(f.bundles[0]?.bytes ?? Buffer.alloc(0)).leaf_index, 0);
    assert.equal(two.add(foreign.bytes).leaf_index, 1);
    two.close();
    const none = open(f, join(f.root, 'log3'), NOW, []);
    assert.throws(() => none.add(f.bundles[0]?.bytes ?? Buffer.alloc(0)), (e: unknown) => e instanceof BundleError && e.code === 'bad-key');
    none.close();
    assert.ok(existsSync(join(f.root, 'log3', 'entries.ndjson')));
  } finally {
    rmSync(f.root, { recursive: true, force: true });
  }
});
