/**
 * Key recovery: periods, pairs (XOR, keystream, partial, refusals), format headers for every key
 * length 5..64 on every format, and the key file (round trip, tampering, never overwritten).
 *
 * In: generated files in memory, temporary key files. Out: assertions and figures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../../core/random.js';
import { nonZeroLength, shortestPeriod, xorPrefix, xorRepeating } from './xor.js';
import { recoverFromHeader, recoverFromPair } from './recover.js';
import { knownBytes, knownRun, type FileType } from './headers.js';
import { makeFile, type CorpusKind } from './simulator.js';
import { readKeyFile, writeKeyFile, KeyFileError } from './keyfile.js';
import { applyKey } from './keystream.js';
import { ctrKeystream } from './simulator.js';

const rand = (rng: () => number, n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(rng() * 256));

test('shortestPeriod and nonZeroLength', () => {
  assert.equal(shortestPeriod(new Uint8Array(0)), 0);
  assert.equal(shortestPeriod(Uint8Array.from([1, 2, 3, 1, 2, 3, 1])), 3);
  assert.equal(shortestPeriod(Uint8Array.from([1, 1, 1, 1])), 1);
  assert.equal(shortestPeriod(Uint8Array.from([1, 2, 1, 1])), 3);
  assert.equal(shortestPeriod(Uint8Array.from([5, 6, 7])), 3);
  assert.equal(nonZeroLength(Uint8Array.from([1, 0, 2, 0, 0])), 3);
  assert.equal(nonZeroLength(new Uint8Array(4)), 0);
});

test('pairs: static XOR of every length 1..64 and a 4096-byte key; keystream; partial; refusals', () => {
  const rng = mulberry32(5);
  const plain = makeFile(rng, 'pdf', 20_000);
  for (let L = 1; L <= 64; L++) {
    const key = rand(rng, L);
    const r = recoverFromPair(plain, xorRepeating(plain, key));
    assert.ok(r.ok && r.key.kind === 'xor', `L=${L}`);
    assert.ok(r.ok && r.key.kind === 'xor' && Buffer.from(r.key.key).equals(Buffer.from(key)), `L=${L}: wrong key`);
  }
  const big = rand(rng, 4096);
  const r4096 = recoverFromPair(plain, xorRepeating(plain, big));
  assert.ok(r4096.ok && r4096.key.kind === 'xor' && r4096.key.key.length === 4096);
  // A 4097-byte key is past the limit: a keystream, and `--kind xor` refuses saying why.
  const k4097 = rand(rng, 4097);
  const r4097 = recoverFromPair(plain, xorRepeating(plain, k4097));
  assert.ok(r4097.ok && r4097.key.kind === 'keystream' && r4097.key.stream.length === plain.length);
  const refused = recoverFromPair(plain, xorRepeating(plain, k4097), 'xor');
  assert.ok(!refused.ok && /no period ≤ 4096/.test(refused.reason), JSON.stringify(refused));
  // A pair too short to see the period repeat.
  const short = recoverFromPair(plain.subarray(0, 50), xorRepeating(plain.subarray(0, 50), rand(rng, 40)), 'xor');
  assert.ok(!short.ok && /too short/.test(short.reason));
  // AES-CTR: a keystream as long as the pair.
  const ks = ctrKeystream(rand(rng, 32), rand(rng, 16), plain.length);
  const rk = recoverFromPair(plain, xorPrefix(plain, ks));
  assert.ok(rk.ok && rk.key.kind === 'keystream' && Buffer.from(rk.key.stream).equals(Buffer.from(ks)));
  // Partial: first 4 KiB by CTR, then by XOR.
  const rp = recoverFromPair(plain, xorPrefix(plain, ks, 4096));
  assert.ok(rp.ok && rp.key.kind === 'partial' && rp.key.encryptedBytes === 4096 && rp.key.inner === 'keystream');
  const xk = rand(rng, 9);
  const enc = Uint8Array.from(plain);
  for (let i = 0; i < 2048; i++) enc[i] = (enc[i] as number) ^ (xk[i % 9] as number);
  const rx = recoverFromPair(plain, enc);
  assert.ok(rx.ok && rx.key.kind === 'partial' && rx.key.inner === 'xor' && rx.key.key.length === 9 && rx.key.encryptedBytes === 2048);
  // A keystream whose last byte of the region is zero still gives the KiB boundary.
  const ks0 = Uint8Array.from(ks.subarray(0, 4096));
  ks0[4095] = 0;
  const r0 = recoverFromPair(plain, xorPrefix(plain, ks0, 4096));
  assert.ok(r0.ok && r0.key.kind === 'partial' && r0.key.encryptedBytes === 4096);
  // Identical files, empty files.
  assert.ok(!recoverFromPair(plain, plain).ok);
  assert.ok(!recoverFromPair(new Uint8Array(0), plain).ok);
  // Different sizes: compared over the overlap, said so.
  const rd = recoverFromPair(plain, Uint8Array.from([...xorRepeating(plain, xk), 1, 2, 3]));
  assert.ok(rd.ok && rd.notes.some((n) => /sizes differ/.test(n)));
});

const HEADER_TYPES: FileType[] = ['png', 'pdf', 'zip', 'docx', 'xlsx', 'jpeg', 'gif', 'bmp'];

test('format headers alone: every XOR key no longer than the known run is recovered; none is ever wrong', (t) => {
  const rng = mulberry32(11);
  for (const type of HEADER_TYPES) {
    // A file matching the most specific hypothesis (a JFIF JPEG, a PDF ending in "%%EOF\n").
    let file: Uint8Array;
    do file = makeFile(rng, type as CorpusKind, 2000 + Math.floor(rng() * 60_000)); while (type === 'jpeg' && file[3] !== 0xe0);
    const run = knownRun(type, file.length);
    const known = knownBytes(type, file.length)[0]!.offsets.length;
    let maxDerived = 0, derived = 0, refused = 0;
    for (let L = 5; L <= 64; L++) {
      const key = rand(rng, L);
      const enc = xorRepeating(file, key);
      const r = recoverFromHeader(enc, type, 'xor');
      if (L <= run) assert.ok(r.ok, `${type}: a ${L}-byte key is within the ${run} known bytes but was not recovered`);
      if (L > known) assert.ok(!r.ok, `${type}: a ${L}-byte key is longer than the ${known} known bytes but was "recovered"`);
      if (r.ok) {
        assert.ok(Buffer.from(applyKey(r.key, enc).plain).equals(Buffer.from(file)), `${type} L=${L}: a wrong key passed`);
        derived++;
        maxDerived = Math.max(maxDerived, L);
      } else {
        refused++;
        assert.match(r.reason, /longer keys need an original\/encrypted pair/);
      }
    }
    t.diagnostic(`${type}: ${known} known bytes (run of ${run}); keys of 5..64 bytes: ${derived} recovered (longest ${maxDerived}), ${refused} reported not derivable`);
  }
  // auto: a key past the header falls back to a keystream of the header, said to cover only it.
  const png = makeFile(rng, 'png', 5000);
  const r = recoverFromHeader(xorRepeating(png, rand(rng, 64)), 'png');
  assert.ok(r.ok && r.key.kind === 'keystream' && r.key.stream.length === 16);
  assert.ok(r.ok && r.notes.some((n) => /only the first 16 bytes/.test(n)));
  assert.ok(!recoverFromHeader(png, 'text').ok);
});

test('key files: round trip for every kind, tampering refused, never overwritten', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-keyfile-'));
  try {
    const rng = mulberry32(3);
    const derived = { method: 'test', at: new Date(0).toISOString(), notes: [] };
    const keys = [
      { kind: 'xor' as const, key: rand(rng, 13) },
      { kind: 'keystream' as const, stream: rand(rng, 100) },
      { kind: 'keystream' as const, stream: rand(rng, 70_000) },
      { kind: 'partial' as const, encryptedBytes: 8192, inner: 'keystream' as const, key: rand(rng, 8192) },
      { kind: 'partial' as const, encryptedBytes: 1024, inner: 'xor' as const, key: rand(rng, 7) },
    ];
    keys.forEach((k, i) => {
      const p = join(dir, `k${i}.json`);
      writeKeyFile(p, k, derived, [], '.x');
      assert.deepEqual(readKeyFile(p).key, k);
      assert.throws(() => writeKeyFile(p, k, derived, []), KeyFileError);
    });
    // The keystream file changed: refused.
    const ks = readFileSync(join(dir, 'k2.json.keystream'));
    ks[5] = (ks[5] as number) ^ 1;
    writeFileSync(join(dir, 'k2.json.keystream'), ks);
    assert.throws(() => readKeyFile(join(dir, 'k2.json')), /SHA-256 differs/);
    // Malformed files: each error names the file and the field.
    const bad = (name: string, text: string, re: RegExp): void => {
      writeFileSync(join(dir, name), text);
      assert.throws(() => readKeyFile(join(dir, name)), (e: Error) => e instanceof KeyFileError && re.test(e.message) && e.message.includes(name));
    };
    bad('a.json', '{', /not JSON/);
    bad('b.json', '{"format":"other"}', /not a vigil-ransom-key\/1/);
    bad('c.json', '{"format":"vigil-ransom-key/1","kind":"xor","key":"zz"}', /"key" is not hex/);
    bad('d.json', '{"format":"vigil-ransom-key/1","kind":"rot13"}', /"kind"/);
    bad('e.json', '{"format":"vigil-ransom-key/1","kind":"keystream","keystreamFile":"../../etc/passwd","keystreamLength":5}', /beside the key file/);
    bad('f.json', '{"format":"vigil-ransom-key/1","kind":"partial","encryptedBytes":-1,"inner":"xor","key":"00"}', /encryptedBytes/);
    bad('g.json', '{"format":"vigil-ransom-key/1","kind":"xor","key":"0011","period":3}', /period 3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
