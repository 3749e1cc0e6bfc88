/**
 * The static-XOR test ransomware over 500 files: recovery from one pair and from a header alone,
 * wrong keys caught, nothing overwritten.
 *
 * In: a seeded corpus, a seeded key of 5..16 bytes. Out: assertions and figures (t.diagnostic).
 * Why: issue 8's must-show for mode (i).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { mulberry32 } from '../core/random.js';
import { runDecrypt, runRecoverKey } from './ransom-decrypt.js';
import { encryptTreeXor } from '../ransom/decrypt/simulator.js';
import { assertRecovered, capture, listFiles, makeScene, sha, victimPath } from '../ransom/decrypt/testkit.js';

test('static XOR ransomware: 500 files recovered from one pair and from a PNG header; wrong keys write nothing', async (t) => {
  const scene = makeScene(81);
  try {
    const rng = mulberry32(4242);
    const keyLen = 5 + Math.floor(rng() * 12); // 5..16: within the PNG header's 16 known bytes
    const key = Uint8Array.from({ length: keyLen }, () => Math.floor(rng() * 256));
    let t0 = Date.now();
    const enc = encryptTreeXor(scene.victim, key);
    assert.equal(enc.length, 500);
    assert.ok(enc.every((p) => p.endsWith('.xor1')));
    const encHashes = new Map(enc.map((p) => [p, sha(p)]));
    t.diagnostic(`encrypted 500 files (${(scene.files.reduce((a, f) => a + f.size, 0) / 1048576).toFixed(1)} MiB) with a ${keyLen}-byte XOR key in ${Date.now() - t0} ms`);

    // One known pair: a mid-sized PDF (any file at least twice the key length would do).
    const pdf = scene.files.find((f) => f.kind === 'pdf' && f.size > 1000)!;
    const keyFile = join(scene.root, 'pair.key.json');
    let c = capture();
    assert.equal(await runRecoverKey(['--plain', pdf.path, '--cipher', victimPath(scene, pdf) + '.xor1', '--out', keyFile], c.deps), 0, c.err.join(''));
    const kj = JSON.parse(readFileSync(keyFile, 'utf8')) as { kind: string; period: number; key: string; suffix: string; from: { sha256: string }[] };
    assert.equal(kj.kind, 'xor');
    assert.equal(kj.period, keyLen);
    assert.equal(kj.key, Buffer.from(key).toString('hex'));
    assert.equal(kj.suffix, '.xor1');
    assert.equal(kj.from.length, 2);
    // The key file is never overwritten.
    c = capture();
    assert.equal(await runRecoverKey(['--plain', pdf.path, '--cipher', victimPath(scene, pdf) + '.xor1', '--out', keyFile], c.deps), 2);
    assert.match(c.err.join(''), /already exists/);

    // Wrong keys first, into an empty directory: another key, and this key with one byte flipped.
    const other = JSON.parse(readFileSync(keyFile, 'utf8')) as { key: string; period: number };
    const wrong1 = join(scene.root, 'other.key.json');
    const otherKey = Buffer.from(Array.from({ length: 23 }, (_, i) => (i * 37 + 11) & 0xff));
    writeFileSync(wrong1, JSON.stringify({ ...kj, key: otherKey.toString('hex'), period: 23 }));
    const flipped = Buffer.from(other.key, 'hex');
    flipped[Math.floor(keyLen / 2)] = (flipped[Math.floor(keyLen / 2)] as number) ^ 0xff;
    const wrong2 = join(scene.root, 'flipped.key.json');
    writeFileSync(wrong2, JSON.stringify({ ...kj, key: flipped.toString('hex') }));
    const bit = Buffer.from(other.key, 'hex');
    bit[keyLen - 1] = (bit[keyLen - 1] as number) ^ 0x01;
    const wrong3 = join(scene.root, 'bit.key.json');
    writeFileSync(wrong3, JSON.stringify({ ...kj, key: bit.toString('hex') }));
    for (const [label, kf] of [['another key', wrong1], ['flipped key byte', wrong2], ['one key bit flipped', wrong3]] as const) {
      const outDir = join(scene.root, `out-${label.replace(/ /g, '-')}`);
      mkdirSync(outDir);
      c = capture();
      t0 = Date.now();
      const code = await runDecrypt(['--key', kf, '--out', outDir, '--json', ...enc], c.deps);
      const rep = JSON.parse(c.out.join('')) as { files: { status: string; type: string }[]; summary: { verified: number; written: number; wrongKey: number; unverified: number } };
      t.diagnostic(`${label}: ${rep.summary.wrongKey} wrong key, ${rep.summary.unverified} unverifiable, ${rep.summary.verified} verified, ${rep.summary.written} written (${Date.now() - t0} ms)`);
      assert.equal(code, 1);
      assert.equal(rep.summary.verified, 0);
      assert.equal(rep.summary.written, 0);
      assert.equal(listFiles(outDir).length, 0);
      for (const f of rep.files) assert.ok(f.status === 'wrong-key' || (f.status === 'unverified' && f.type === 'unknown'), JSON.stringify(f));
      assert.equal(rep.summary.wrongKey, 450);
    }

    // Pre-create ten target names: their bytes must stay, the results go to NAME.decrypted.
    const taken = scene.files.filter((_, i) => i % 50 === 3);
    for (const f of taken) writeFileSync(victimPath(scene, f), 'do not overwrite me');

    c = capture();
    t0 = Date.now();
    const code = await runDecrypt(['--key', keyFile, ...enc], c.deps);
    const ms = Date.now() - t0;
    assert.equal(code, 1, 'random binary files cannot be verified: exit 1'); // 450 verified + 50 unverified
    const identical = assertRecovered(scene, taken, 'do not overwrite me', encHashes);
    const summary = c.out.at(-1) ?? '';
    assert.match(summary, /500 files: 450 verified, 50 unverified, 0 wrong key, 0 keystream too short, 0 errors; 500 written/);
    t.diagnostic(`known pair (${pdf.size} B PDF): ${identical}/500 byte-identical (450 verified, 50 random binaries unverifiable but written), ${ms} ms`);

    // Header knowledge alone: the key from one encrypted PNG, then every file.
    const png = scene.files.find((f) => f.kind === 'png')!;
    const hdrKey = join(scene.root, 'header.key.json');
    c = capture();
    assert.equal(await runRecoverKey(['--cipher', victimPath(scene, png) + '.xor1', '--out', hdrKey], c.deps), 0, c.err.join(''));
    const hj = JSON.parse(readFileSync(hdrKey, 'utf8')) as { kind: string; period: number; derived: { method: string } };
    assert.equal(hj.kind, 'xor');
    assert.equal(hj.period, keyLen);
    assert.equal(hj.derived.method, 'header:png');
    const outDir = join(scene.root, 'out-header');
    mkdirSync(outDir);
    c = capture();
    t0 = Date.now();
    await runDecrypt(['--key', hdrKey, '--out', outDir, ...enc], c.deps);
    let fromHeader = 0;
    for (const f of scene.files) {
      const name = f.path.split('/').at(-1)!;
      const out = join(outDir, name);
      assert.ok(existsSync(out) && readFileSync(out).equals(readFileSync(f.path)), `${name} not recovered from the header key`);
      fromHeader++;
    }
    t.diagnostic(`PNG header alone (${keyLen}-byte key): ${fromHeader}/500 byte-identical, ${Date.now() - t0} ms`);

    // A 64-byte key: longer than any format's known bytes. One pair still recovers every file;
    // the header alone is reported as not derivable.
    const victim64 = join(scene.root, 'victim64');
    cpSync(scene.orig, victim64, { recursive: true });
    const key64 = Uint8Array.from({ length: 64 }, () => Math.floor(rng() * 256));
    const enc64 = encryptTreeXor(victim64, key64);
    const at64 = (f: (typeof scene.files)[number]): string => join(victim64, relative(scene.orig, f.path));
    let refusedTypes = 0;
    for (const kind of ['png', 'pdf', 'zip', 'docx', 'xlsx', 'jpeg', 'gif', 'bmp'] as const) {
      const f = scene.files.find((x) => x.kind === kind)!;
      c = capture();
      assert.equal(await runRecoverKey(['--cipher', at64(f) + '.xor1', '--kind', 'xor', '--out', join(scene.root, `h64-${kind}.json`)], c.deps), 1, `${kind}: ${c.out.join('')}`);
      assert.match(c.err.join(''), /no static XOR key of period ≤ \d+ fits.*longer keys need an original\/encrypted pair/);
      refusedTypes++;
    }
    const key64File = join(scene.root, 'pair64.key.json');
    c = capture();
    assert.equal(await runRecoverKey(['--plain', pdf.path, '--cipher', at64(pdf) + '.xor1', '--out', key64File], c.deps), 0, c.err.join(''));
    assert.equal((JSON.parse(readFileSync(key64File, 'utf8')) as { period: number }).period, 64);
    const out64 = join(scene.root, 'out64');
    mkdirSync(out64);
    c = capture();
    t0 = Date.now();
    await runDecrypt(['--key', key64File, '--out', out64, ...enc64], c.deps);
    let ok64 = 0;
    for (const f of scene.files) {
      assert.ok(readFileSync(join(out64, basename(f.path))).equals(readFileSync(f.path)), `${f.path}: 64-byte key`);
      ok64++;
    }
    t.diagnostic(`64-byte key: header alone not derivable for ${refusedTypes}/8 formats (reported); one pair: ${ok64}/500 byte-identical, ${Date.now() - t0} ms`);
  } finally {
    scene.cleanup();
  }
});
