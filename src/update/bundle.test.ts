/**
 * Tests for signed signature bundles.
 *
 * In: key pairs and small database directories made in temp dirs. Out: assertions that a bundle
 * round-trips, and that every altered, truncated, mis-keyed, expired or hostile bundle is refused
 * with its reason. Why: the bundle is the trust boundary of updates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BundleError, buildBundle, BUNDLE_MAGIC, canonicalManifest, extractBundle, keygen, manifestHash, verifyBundle,
  type BundleManifest,
} from './bundle.js';

const NOW = new Date('2026-11-29T12:00:00Z');
const HDB = '44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n';
const NDB = 'Test.Body:0:*:414243444546\n';

function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bundle-'));
  try { fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}

function keys(): { priv: string; pub: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { priv: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), pub: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function sampleDir(root: string): string {
  const src = join(root, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'vendor.ndb'), NDB);
  writeFileSync(join(src, 'vendor.hdb'), HDB);
  writeFileSync(join(src, 'README.txt'), 'not a database');
  writeFileSync(join(src, 'empty.fp'), '');
  return src;
}

/** Deterministic pseudo-random positions (xorshift). */
function positions(n: number, len: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out.push(s % len);
  }
  return out;
}

/** Signs arbitrary manifest bytes and payload: for hostile-but-signed inputs. */
function rawBundle(manifest: Buffer, payload: Buffer, priv: string): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(manifest.length);
  const sig = sign(null, createHash('sha256').update(manifest).digest(), priv);
  return Buffer.concat([Buffer.from(BUNDLE_MAGIC, 'latin1'), len, manifest, payload, sig]);
}

test('round trip: build, verify, extract', () => {
  withTmp((root) => {
    const src = sampleDir(root);
    const k = keys();
    const b = buildBundle(src, { key: k.priv, version: 7, publisher: 'Example Labs', expiresInDays: 10, now: NOW });
    assert.ok(b.bytes.subarray(0, 11).equals(Buffer.from('VIGILBNDL1\n')));
    assert.deepEqual(b.manifest.files.map((f) => f.name), ['empty.fp', 'vendor.hdb', 'vendor.ndb']);
    assert.equal(b.manifest.created, '2026-11-29T12:00:00Z');
    assert.equal(b.manifest.expires, '2026-12-09T12:00:00Z');
    assert.equal(b.manifestHash, manifestHash(b.manifest));
    assert.equal(b.manifestHash, createHash('sha256').update(canonicalManifest(b.manifest)).digest('hex'));
    const r = verifyBundle(b.bytes, k.pub, { now: NOW });
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.equal(r.manifest.publisher, 'Example Labs');
    assert.equal(r.manifest.version, 7);
    assert.equal(r.manifestHash, b.manifestHash);
    assert.deepEqual(r.files.map((f) => [f.name, Buffer.from(f.data).toString()]), [['empty.fp', ''], ['vendor.hdb', HDB], ['vendor.ndb', NDB]]);
    const dest = join(root, 'out');
    extractBundle(b.bytes, k.pub, dest, { now: NOW });
    assert.deepEqual(readdirSync(dest).sort(), ['empty.fp', 'vendor.hdb', 'vendor.ndb']);
    assert.equal(readFileSync(join(dest, 'vendor.hdb'), 'utf8'), HDB);
    assert.deepEqual(readdirSync(root).sort(), ['out', 'src'], 'no temporary directory left behind');
    assert.throws(() => extractBundle(b.bytes, k.pub, dest, { now: NOW }), (e: unknown) => e instanceof BundleError && e.code === 'exists');
    // A refused bundle creates nothing.
    const bad = Buffer.from(b.bytes);
    bad[bad.length - 1]! ^= 1;
    assert.throws(() => extractBundle(bad, k.pub, join(root, 'out2'), { now: NOW }), (e: unknown) => e instanceof BundleError && e.code === 'signature-invalid');
    assert.equal(existsSync(join(root, 'out2')), false);
    assert.deepEqual(readdirSync(root).sort(), ['out', 'src']);
  });
});

test('building is deterministic for the same inputs and time', () => {
  withTmp((root) => {
    const src = sampleDir(root);
    const k = keys();
    const a = buildBundle(src, { key: k.priv, version: 1, now: NOW });
    const b = buildBundle(src, { key: k.priv, version: 1, now: NOW });
    assert.ok(a.bytes.equals(b.bytes), 'Ed25519 is deterministic, so the bundle is too');
  });
});

test('every single-byte flip is refused: all manifest positions and a seeded sample of the rest', () => {
  withTmp((root) => {
    const src = sampleDir(root);
    const k = keys();
    const { bytes } = buildBundle(src, { key: k.priv, version: 3, now: NOW });
    const mlen = bytes.readUInt32BE(11);
    const all = new Set<number>();
    for (let i = 0; i < 15 + mlen; i++) all.add(i);
    for (let i = bytes.length - 64; i < bytes.length; i++) all.add(i);
    for (const p of positions(300, bytes.length, 0xC0FFEE)) all.add(p);
    const codes = new Map<string, number>();
    for (const pos of all) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const c = Buffer.from(bytes);
        c[pos]! ^= mask;
        const r = verifyBundle(c, k.pub, { now: NOW });
        assert.equal(r.ok, false, `flip 0x${mask.toString(16)} at ${pos} accepted`);
        if (!r.ok) codes.set(r.error.code, (codes.get(r.error.code) ?? 0) + 1);
      }
    }
    assert.ok(codes.has('bad-magic') && codes.has('signature-invalid') && codes.has('hash-mismatch'), [...codes.keys()].join(','));
  });
});

test('wrong key, non-Ed25519 key and garbage key are refused', () => {
  withTmp((root) => {
    const src = sampleDir(root);
    const k = keys();
    const { bytes } = buildBundle(src, { key: k.priv, version: 1, now: NOW });
    const r = verifyBundle(bytes, keys().pub, { now: NOW });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, 'signature-invalid');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' });
    const r2 = verifyBundle(bytes, rsa, { now: NOW });
    assert.equal(!r2.ok && r2.error.code, 'bad-key');
    const r3 = verifyBundle(bytes, 'not a key', { now: NOW });
    assert.equal(!r3.ok && r3.error.code, 'bad-key');
    assert.throws(() => buildBundle(src, { key: k.pub, version: 1 }), (e: unknown) => e instanceof BundleError && e.code === 'bad-key');
  });
});

test('expired and not-yet-valid bundles are refused with the dates', () => {
  withTmp((root) => {
    const src = sampleDir(root);
    const k = keys();
    const { bytes } = buildBundle(src, { key: k.priv, version: 1, expiresInDays: 2, now: NOW });
    const late = verifyBundle(bytes, k.pub, { now: new Date('2026-12-01T12:00:01Z') });
    assert.equal(!late.ok && late.error.code, 'expired');
    assert.match(!late.ok ? late.error.message : '', /expired at 2026-12-01T12:00:00Z/);
    assert.ok(verifyBundle(bytes, k.pub, { now: new Date('2026-12-01T12:00:00Z') }).ok, 'valid up to the expiry instant');
    const early = verifyBundle(bytes, k.pub, { now: new Date('2026-11-28T00:00:00Z') });
    assert.equal(!early.ok && early.error.code, 'not-yet-valid');
    assert.match(!early.ok ? early.error.message : '', /not valid before 2026-11-29T12:00:00Z/);
    assert.ok(verifyBundle(bytes, k.pub, { now: new Date(NOW.getTime() - 60_000) }).ok, 'a minute of clock skew is tolerated');
    const old = verifyBundle(bytes, k.pub, { now: NOW, minVersion: 2 });
    assert.equal(!old.ok && old.error.code, 'rollback');
  });
});

test('truncation at every offset is refused; trailing bytes are refused', () => {
  withTmp((root) => {
    const src = join(root, 'small');
    mkdirSync(src);
    writeFileSync(join(src, 'a.hdb'), HDB);
    const k = keys();
    const { bytes } = buildBundle(src, { key: k.priv, version: 1, now: NOW });
    for (let n = 0; n < bytes.length; n++) {
      const r = verifyBundle(bytes.subarray(0, n), k.pub, { now: NOW });
      assert.equal(r.ok, false, `truncated to ${n} accepted`);
      if (!r.ok && n < 11) assert.equal(r.error.code, 'truncated');
    }
    const longer = Buffer.concat([bytes, Buffer.from([0])]);
    assert.equal(verifyBundle(longer, k.pub, { now: NOW }).ok, false);
    // Extra bytes inserted before a valid signature (signature still over the same manifest).
    const sig = bytes.subarray(bytes.length - 64);
    const inserted = Buffer.concat([bytes.subarray(0, bytes.length - 64), Buffer.from('xx'), sig]);
    const r = verifyBundle(inserted, k.pub, { now: NOW });
    assert.equal(!r.ok && r.error.code, 'trailing-bytes');
    assert.equal(verifyBundle(Buffer.from('MZ\x90\x00'), k.pub).ok, false);
    const magic = verifyBundle(Buffer.alloc(200, 0x41), k.pub);
    assert.equal(!magic.ok && magic.error.code, 'bad-magic');
  });
});

test('hostile signed manifests: huge sizes, duplicates, bad names, non-canonical', () => {
  const k = keys();
  const base: BundleManifest = {
    format: 'vigil-bundle/1', publisher: 'p', version: 1, created: '2026-11-29T00:00:00Z', expires: '2026-12-29T00:00:00Z',
    files: [{ name: 'a.hdb', size: 1, sha256: createHash('sha256').update('x').digest('hex') }],
  };
  const ok = rawBundle(canonicalManifest(base), Buffer.from('x'), k.priv);
  assert.ok(verifyBundle(ok, k.pub, { now: NOW }).ok);
  const cases: [string, BundleManifest | Buffer, Buffer, string][] = [
    ['huge size', { ...base, files: [{ ...base.files[0]!, size: 2 ** 40 }] }, Buffer.from('x'), 'size-mismatch'],
    ['declared larger than present', { ...base, files: [{ ...base.files[0]!, size: 1 << 29 }] }, Buffer.from('x'), 'truncated'],
    ['negative size', { ...base, files: [{ ...base.files[0]!, size: -1 }] }, Buffer.from('x'), 'size-mismatch'],
    ['duplicate', { ...base, files: [base.files[0]!, base.files[0]!] }, Buffer.from('xx'), 'duplicate-name'],
    ['path', { ...base, files: [{ ...base.files[0]!, name: '../a.hdb' }] }, Buffer.from('x'), 'bad-name'],
    ['control', { ...base, files: [{ ...base.files[0]!, name: 'a\n.hdb' }] }, Buffer.from('x'), 'bad-name'],
    ['extension', { ...base, files: [{ ...base.files[0]!, name: 'a.exe' }] }, Buffer.from('x'), 'bad-name'],
    ['hash', { ...base, files: [{ ...base.files[0]!, sha256: '0'.repeat(64) }] }, Buffer.from('x'), 'hash-mismatch'],
    ['fractional version', { ...base, version: 1.5 }, Buffer.from('x'), 'manifest-invalid'],
    ['format', { ...base, format: 'other/9' }, Buffer.from('x'), 'manifest-invalid'],
    ['no files', { ...base, files: [] }, Buffer.alloc(0), 'manifest-invalid'],
    ['expires before created', { ...base, expires: '2026-11-28T00:00:00Z' }, Buffer.from('x'), 'manifest-invalid'],
    ['non-canonical', Buffer.from(JSON.stringify(base, null, 1)), Buffer.from('x'), 'manifest-invalid'],
    ['not JSON', Buffer.from('{"format":'), Buffer.from('x'), 'manifest-invalid'],
    ['array', Buffer.from('[]'), Buffer.from('x'), 'manifest-invalid'],
  ];
  for (const [label, m, payload, code] of cases) {
    const bytes = rawBundle(Buffer.isBuffer(m) ? m : canonicalManifest(m), payload, k.priv);
    const r = verifyBundle(bytes, k.pub, { now: NOW });
    assert.equal(r.ok, false, `${label} accepted`);
    assert.equal(!r.ok && r.error.code, code, `${label}: ${!r.ok ? r.error.message : ''}`);
  }
  // Declared manifest length far past the end, and above the cap.
  const big = Buffer.from(ok);
  big.writeUInt32BE(0xffffffff, 11);
  const r = verifyBundle(big, k.pub);
  assert.equal(!r.ok && r.error.code, 'manifest-invalid');
  big.writeUInt32BE(1000, 11);
  const r2 = verifyBundle(big, k.pub);
  assert.equal(!r2.ok && r2.error.code, 'truncated');
});

test('build refuses symlinks, empty directories and bad options', () => {
  withTmp((root) => {
    const k = keys();
    const src = sampleDir(root);
    assert.throws(() => buildBundle(src, { key: k.priv, version: 0 }), /positive integer/);
    assert.throws(() => buildBundle(src, { key: k.priv, version: 1, expiresInDays: -1 }), /expiry/);
    assert.throws(() => buildBundle(src, { key: k.priv, version: 1, publisher: 'a\nb' }), /publisher/);
    symlinkSync(join(src, 'vendor.hdb'), join(src, 'link.hdb'));
    assert.throws(() => buildBundle(src, { key: k.priv, version: 1 }), (e: unknown) => e instanceof BundleError && e.code === 'bad-input' && /symbolic link/.test(e.message));
    const empty = join(root, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'notes.txt'), 'x');
    assert.throws(() => buildBundle(empty, { key: k.priv, version: 1 }), /no database files/);
    const sub = join(root, 'sub');
    mkdirSync(sub);
    mkdirSync(join(sub, 'dir.hdb'));
    assert.throws(() => buildBundle(sub, { key: k.priv, version: 1 }), /not a regular file/);
    const odd = join(root, 'odd');
    mkdirSync(odd);
    writeFileSync(join(odd, 'a b.hdb'), HDB);
    assert.throws(() => buildBundle(odd, { key: k.priv, version: 1 }), (e: unknown) => e instanceof BundleError && e.code === 'bad-name');
  });
});

test('keygen writes a 0600 private key and a public key, and never overwrites', () => {
  withTmp((root) => {
    const name = join(root, 'pub1');
    const k = keygen(name);
    assert.equal(statSync(k.keyPath).mode & 0o777, 0o600);
    assert.match(readFileSync(k.keyPath, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.match(readFileSync(k.pubPath, 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
    assert.match(k.fingerprint, /^[0-9a-f]{64}$/);
    const before = readFileSync(k.keyPath, 'utf8');
    assert.throws(() => keygen(name), (e: unknown) => e instanceof BundleError && e.code === 'exists');
    assert.equal(readFileSync(k.keyPath, 'utf8'), before);
    // Only the .pub exists: refused too, and no .key is created.
    const other = join(root, 'pub2');
    writeFileSync(`${other}.pub`, 'x');
    assert.throws(() => keygen(other), /already exists/);
    assert.equal(existsSync(`${other}.key`), false);
    const src = sampleDir(root);
    const b = buildBundle(src, { key: readFileSync(k.keyPath, 'utf8'), version: 1, now: NOW });
    assert.ok(verifyBundle(b.bytes, readFileSync(k.pubPath, 'utf8'), { now: NOW }).ok);
  });
});
