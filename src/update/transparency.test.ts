/**
 * Tests for the transparency log's records (src/update/transparency.ts).
 *
 * In: synthetic log entries over an in-memory Merkle tree, fresh Ed25519 keys, a real bundle in a
 * temp dir. Out: assertions on tree head signatures, the proof trailer and `checkLogged`.
 * Why: these checks are all that stands between a client and a secretly pushed signature set; each
 * refusal (unlogged, tampered, foreign key, fork) must happen, with its reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MerkleTree } from './merkle.js';
import {
  attachProof, checkLogged, encodeProofTrailer, ENTRY_FORMAT, entryLeafHash, LogError, logId, MAX_PROOF, PROOF_FORMAT, PROOF_MAGIC,
  signTreeHead, splitProof, verifyTreeHead, type BundleProof, type LogEntry, type SeenHead, type TreeHead,
} from './transparency.js';
import { buildBundle, verifyBundle } from './bundle.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const T0 = Date.parse('2026-11-29T12:00:00Z');

function keys(): { priv: KeyObject; pub: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { priv: privateKey, pub: publicKey };
}

function entry(tag: string, version = 1, publisher = 'Example Labs'): LogEntry {
  return {
    format: ENTRY_FORMAT, manifest_sha256: createHash('sha256').update(tag).digest('hex'), publisher, version, logged: '2026-11-29T12:00:00Z',
  };
}

/** The proof a log holding `entries` gives for entry `index` at tree size `size`. */
function proofFor(key: KeyObject, entries: LogEntry[], index: number, size = entries.length): BundleProof {
  const tree = MerkleTree.fromLeafHashes(entries.slice(0, size).map(entryLeafHash));
  const sth = signTreeHead(key, size, tree.root(), T0 + size);
  const consistency = [];
  for (let m = 1; m < size; m++) consistency.push({ from_size: m, path: tree.consistencyProof(m, size).map(hex) });
  const e = entries[index];
  assert.ok(e);
  return { format: PROOF_FORMAT, entry: e, leaf_index: index, sth, inclusion: tree.inclusionProof(index, size).map(hex), consistency };
}

const about = (e: LogEntry): { manifestHash: string; publisher: string; version: number } => ({ manifestHash: e.manifest_sha256, publisher: e.publisher, version: e.version });
const seen = (sth: TreeHead): SeenHead => ({ tree_size: sth.tree_size, root_hash: sth.root_hash, timestamp: sth.timestamp });

async function refusal(p: Promise<unknown>, code: LogError['code'], re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof LogError, `expected a LogError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

/** The documented signing input of a tree head. */
function signingInput(h: TreeHead): Buffer {
  const b = Buffer.alloc(12 + 32 + 8 + 8 + 32);
  b.write('vigil-sth/1\n', 0, 'latin1');
  Buffer.from(h.log_id, 'hex').copy(b, 12);
  b.writeBigUInt64BE(BigInt(h.tree_size), 44);
  b.writeBigUInt64BE(BigInt(h.timestamp), 52);
  Buffer.from(h.root_hash, 'hex').copy(b, 60);
  return b;
}

test('tree head: signs the documented input; verifies; every flipped byte of the signing input is refused', () => {
  const { priv, pub } = keys();
  const root = createHash('sha256').update('root').digest();
  const sth = signTreeHead(priv, 7, root, T0);
  assert.equal(sth.log_id, logId(pub));
  assert.equal(sth.log_id, createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex'));
  assert.deepEqual(verifyTreeHead(sth, pub), sth);
  assert.deepEqual(verifyTreeHead(JSON.parse(JSON.stringify(sth)) as unknown, pub.export({ type: 'spki', format: 'pem' }) as string), sth, 'a PEM key works too');
  const input = signingInput(sth);
  assert.equal(input.length, 92);
  // The documented layout is what is signed: a signature made over it verifies.
  assert.doesNotThrow(() => verifyTreeHead({ ...sth, signature: sign(null, input, priv).toString('base64') }, pub));
  for (let i = 0; i < input.length; i++) {
    const flipped = Buffer.from(input);
    flipped[i] = (flipped[i] ?? 0) ^ 0x01;
    const forged = { ...sth, signature: sign(null, flipped, priv).toString('base64') };
    assert.throws(() => verifyTreeHead(forged, pub), (e: unknown) => e instanceof LogError && e.code === 'bad-sth', `byte ${i} flipped`);
  }
  // Every byte of the signed fields, changed in the tree head, is refused too.
  for (let i = 0; i < 32; i++) {
    const r = Buffer.from(sth.root_hash, 'hex');
    r[i] = (r[i] ?? 0) ^ 0x80;
    assert.throws(() => verifyTreeHead({ ...sth, root_hash: hex(r) }, pub), /signature does not verify/);
    const id = Buffer.from(sth.log_id, 'hex');
    id[i] = (id[i] ?? 0) ^ 0x80;
    assert.throws(() => verifyTreeHead({ ...sth, log_id: hex(id) }, pub), /not by the configured log/);
  }
  for (let bit = 0; bit < 53; bit += 4) {
    assert.throws(() => verifyTreeHead({ ...sth, tree_size: sth.tree_size + 2 ** bit }, pub), LogError, `tree_size bit ${bit}`);
    assert.throws(() => verifyTreeHead({ ...sth, timestamp: sth.timestamp + 2 ** bit }, pub), LogError, `timestamp + 2^${bit}`);
  }
  const sig = Buffer.from(sth.signature, 'base64');
  for (let i = 0; i < sig.length; i++) {
    const s = Buffer.from(sig);
    s[i] = (s[i] ?? 0) ^ 0x01;
    assert.throws(() => verifyTreeHead({ ...sth, signature: s.toString('base64') }, pub), LogError, `signature byte ${i}`);
  }
  // Shapes.
  for (const bad of [null, [], 'x', { ...sth, tree_size: -1 }, { ...sth, tree_size: 1.5 }, { ...sth, timestamp: '1' }, { ...sth, root_hash: sth.root_hash.toUpperCase() }, { ...sth, signature: 'AAAA' }, { ...sth, log_id: undefined }]) {
    assert.throws(() => verifyTreeHead(bad, pub), (e: unknown) => e instanceof LogError && e.code === 'bad-sth');
  }
});

test('tree head: a wrong log key is refused; a key that is not Ed25519 is a bad-key', () => {
  const a = keys();
  const b = keys();
  const sth = signTreeHead(a.priv, 3, createHash('sha256').update('r').digest(), T0);
  assert.throws(() => verifyTreeHead(sth, b.pub), (e: unknown) => e instanceof LogError && e.code === 'bad-sth' && /not by the configured log/.test(e.message));
  // The same fields claimed under b's log id still do not verify with b's key.
  assert.throws(() => verifyTreeHead({ ...sth, log_id: logId(b.pub) }, b.pub), /signature does not verify/);
  const x = generateKeyPairSync('x25519').publicKey;
  assert.throws(() => verifyTreeHead(sth, x), (e: unknown) => e instanceof LogError && e.code === 'bad-key');
  assert.throws(() => verifyTreeHead(sth, 'not a key'), (e: unknown) => e instanceof LogError && e.code === 'bad-key');
});

test('proof trailer: round trip on a real bundle; truncated, oversized and garbled trailers refused with a reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-transparency-'));
  try {
    const src = join(dir, 'db');
    mkdirSync(src);
    writeFileSync(join(src, 'a.hdb'), '44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n');
    const pub = keys();
    const b = buildBundle(src, { key: pub.priv, version: 4, publisher: 'Example Labs', now: new Date(T0) });
    const log = keys();
    const e: LogEntry = { ...entry('x', 4), manifest_sha256: b.manifestHash };
    const proof = proofFor(log.priv, [entry('a'), e, entry('c')], 1);
    const file = attachProof(b.bytes, proof);
    assert.ok(file.subarray(file.length - PROOF_MAGIC.length).equals(PROOF_MAGIC));
    const split = splitProof(file);
    assert.ok(split.bundle.equals(b.bytes));
    assert.deepEqual(split.proof, proof);
    assert.equal(split.proofError, undefined);
    assert.deepEqual(splitProof(b.bytes), { bundle: b.bytes }, 'no trailer: the file is the bundle');
    // Attaching again replaces the proof rather than stacking a second one.
    const proof2 = proofFor(log.priv, [entry('a'), e, entry('c'), entry('d')], 1);
    const again = attachProof(file, proof2);
    assert.equal(again.length, b.bytes.length + encodeProofTrailer(proof2).length);
    assert.deepEqual(splitProof(again).proof, proof2);
    // The bundle with its proof still verifies, and exposes the proof.
    const v = verifyBundle(file, pub.pub, { now: new Date(T0) });
    assert.ok(v.ok);
    assert.deepEqual(v.proof, proof);

    const tail = encodeProofTrailer(proof);
    const jsonLen = tail.length - 4 - PROOF_MAGIC.length;
    const withLen = (len: number, json: Buffer): Buffer => {
      const l = Buffer.alloc(4);
      l.writeUInt32BE(len);
      return Buffer.concat([b.bytes, json, l, PROOF_MAGIC]);
    };
    const json = tail.subarray(0, jsonLen);
    // Length larger than the file.
    const tooLong = splitProof(withLen(file.length + 10, json));
    assert.equal(tooLong.proof, undefined);
    assert.match(tooLong.proofError?.message ?? '', /does not fit the file/);
    // Oversized: above MAX_PROOF even though the file would be long enough.
    const huge = splitProof(withLen(MAX_PROOF + 1, json));
    assert.match(huge.proofError?.message ?? '', new RegExp(`length ${MAX_PROOF + 1} does not fit`));
    // Truncated JSON (length consistent with what is there).
    const cut = splitProof(withLen(jsonLen - 5, json.subarray(0, jsonLen - 5)));
    assert.match(cut.proofError?.message ?? '', /not JSON/);
    // The whole file cut in front of the trailer: the declared length reaches before the file.
    const front = file.subarray(file.length - (tail.length - 10));
    assert.match(splitProof(front).proofError?.message ?? '', /does not fit/);
    // Valid JSON, wrong shape.
    const wrong = Buffer.from(JSON.stringify({ ...proof, format: 'vigil-proof/9' }));
    assert.match(splitProof(withLen(wrong.length, wrong)).proofError?.message ?? '', /format is "vigil-proof\/9"/);
    const noIncl = Buffer.from(JSON.stringify({ ...proof, inclusion: ['zz'] }));
    assert.match(splitProof(withLen(noIncl.length, noIncl)).proofError?.message ?? '', /inclusion: not a list/);
    // A trailer whose magic was cut is not a proof; the bundle then fails its own check.
    const noMagic = file.subarray(0, file.length - 1);
    assert.equal(splitProof(noMagic).proof, undefined);
    assert.equal(verifyBundle(noMagic, pub.pub, { now: new Date(T0) }).ok, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkLogged: accepts a genuine proof; refuses unlogged bundles, tampered paths and foreign tree heads', async () => {
  const log = keys();
  const entries = [entry('a'), entry('b', 2), entry('c', 3), entry('d', 4), entry('e', 5)];
  const proof = proofFor(log.priv, entries, 2);
  const ok = await checkLogged(proof, about(entries[2] as LogEntry), log.pub);
  assert.equal(ok.leafIndex, 2);
  assert.equal(ok.head.tree_size, 5);
  assert.equal(ok.head.root_hash, proof.sth.root_hash);

  await refusal(checkLogged(undefined, about(entries[2] as LogEntry), log.pub), 'not-logged', /carries no log proof/);
  await refusal(checkLogged(proof, about(entries[3] as LogEntry), log.pub), 'not-logged', /log entry is for manifest/);
  await refusal(checkLogged(proof, { ...about(entries[2] as LogEntry), version: 4 }, log.pub), 'not-logged', /version 3, the bundle Example Labs version 4/);
  await refusal(checkLogged(proof, { ...about(entries[2] as LogEntry), publisher: 'Other' }, log.pub), 'not-logged');
  // The proof of another entry, relabelled as this one's.
  const other = proofFor(log.priv, entries, 3);
  await refusal(checkLogged({ ...other, entry: entries[2] as LogEntry }, about(entries[2] as LogEntry), log.pub), 'not-logged', /inclusion proof of leaf 3/);
  await refusal(checkLogged({ ...proof, leaf_index: 1 }, about(entries[2] as LogEntry), log.pub), 'not-logged');
  // Every hash of the inclusion path, tampered.
  for (let i = 0; i < proof.inclusion.length; i++) {
    const inclusion = [...proof.inclusion];
    const h = Buffer.from(inclusion[i] ?? '', 'hex');
    h[0] = (h[0] ?? 0) ^ 1;
    inclusion[i] = hex(h);
    await refusal(checkLogged({ ...proof, inclusion }, about(entries[2] as LogEntry), log.pub), 'not-logged');
  }
  await refusal(checkLogged({ ...proof, inclusion: proof.inclusion.slice(1) }, about(entries[2] as LogEntry), log.pub), 'not-logged');
  // A tree head from another log key (a log that is not the one the client trusts).
  const rogue = keys();
  await refusal(checkLogged(proofFor(rogue.priv, entries, 2), about(entries[2] as LogEntry), log.pub), 'bad-sth', /not by the configured log/);
  // The entry changed under a genuine tree head.
  await refusal(checkLogged({ ...proof, entry: { ...(entries[2] as LogEntry), logged: '2026-11-29T12:00:01Z' } }, about(entries[2] as LogEntry), log.pub), 'not-logged');
});

test('checkLogged: a fork (same key, diverging histories) is refused with code fork', async () => {
  const log = keys();
  const a = [entry('one'), entry('two-A', 2)];
  const b = [entry('one'), entry('two-B', 2), entry('three-B', 3)];
  // The client accepted a bundle from log A at size 2.
  const fromA = await checkLogged(proofFor(log.priv, a, 1), about(a[1] as LogEntry), log.pub);
  assert.equal(fromA.head.tree_size, 2);
  // Then gets a bundle logged at size 3 in log B, signed by the same key.
  const proofB = proofFor(log.priv, b, 2);
  assert.ok((await checkLogged(proofB, about(b[2] as LogEntry), log.pub)).head, 'on its own, B\'s proof is genuine');
  await refusal(checkLogged(proofB, about(b[2] as LogEntry), log.pub, fromA.head), 'fork', /from size 2 to 3 fails/);
  // The same size with another root is a fork too.
  const b2 = proofFor(log.priv, b, 1, 2);
  await refusal(checkLogged(b2, about(b[1] as LogEntry), log.pub, fromA.head), 'fork', /same size, different roots/);
  // An older proof against a newer seen head needs a consistency proof from the log.
  const b3 = (await checkLogged(proofB, about(b[2] as LogEntry), log.pub)).head;
  const olderB = proofFor(log.priv, b, 0, 1);
  await refusal(checkLogged(olderB, about(b[0] as LogEntry), log.pub, b3), 'stale-sth');
  const bTree = MerkleTree.fromLeafHashes(b.map(entryLeafHash));
  let asked = '';
  const fetched = await checkLogged(olderB, about(b[0] as LogEntry), log.pub, b3, async (m, n) => {
    asked = `${m}->${n}`;
    return bTree.consistencyProof(m, n).map(hex);
  });
  assert.equal(asked, '1->3');
  assert.equal(fetched.head.tree_size, 3, 'the newer head is kept');
  // A lying consistency source is a fork, not an acceptance.
  const aTree = MerkleTree.fromLeafHashes([...a, entry('three-A', 3)].map(entryLeafHash));
  await refusal(checkLogged(proofFor(log.priv, a, 1), about(a[1] as LogEntry), log.pub, b3, async (m, n) => aTree.consistencyProof(m, n).map(hex)), 'fork');
});

test('checkLogged: consistency across sizes 1..20 with the proofs embedded in each bundle\'s proof', async () => {
  const log = keys();
  const entries = Array.from({ length: 20 }, (_, i) => entry(`bundle-${i}`, i + 1));
  const proofs = entries.map((_, i) => proofFor(log.priv, entries, i, i + 1));
  let checks = 0;
  for (let n = 1; n <= 20; n++) {
    const pn = proofs[n - 1] as BundleProof;
    assert.equal(pn.consistency.length, n - 1);
    for (let m = 1; m <= n; m++) {
      const seenM = seen((proofs[m - 1] as BundleProof).sth);
      const r = await checkLogged(pn, about(entries[n - 1] as LogEntry), log.pub, seenM);
      assert.equal(r.head.tree_size, n);
      checks++;
      if (m < n) {
        // The same proof with a consistency path altered must not pass.
        const consistency = pn.consistency.map((c) => (c.from_size === m ? { ...c, path: c.path.map((h, k) => (k === 0 ? hex(Buffer.from(h, 'hex').map((x) => x ^ 0xff)) : h)) } : c));
        await refusal(checkLogged({ ...pn, consistency }, about(entries[n - 1] as LogEntry), log.pub, seenM), 'fork');
        // Without it, and without a source, the client can't tell: stale, not accepted.
        await refusal(checkLogged({ ...pn, consistency: pn.consistency.filter((c) => c.from_size !== m) }, about(entries[n - 1] as LogEntry), log.pub, seenM), 'stale-sth');
      }
    }
  }
  assert.equal(checks, 210);
});
