/**
 * The AES-256-CTR test ransomware encrypting only the first 16 KiB of every file (one key and
 * nonce), over 500 files: the encrypted length detected from one pair, every file recovered.
 *
 * In: a seeded corpus. Out: assertions and figures (t.diagnostic). Why: issue 8's must-show for
 * mode (iii).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../core/random.js';
import { runDecrypt, runRecoverKey } from './ransom-decrypt.js';
import { encryptTreeCtr } from '../ransom/decrypt/simulator.js';
import { assertRecovered, capture, listFiles, makeScene, sha, victimPath } from '../ransom/decrypt/testkit.js';

const N = 16 * 1024;

test('partial encryption (first 16 KiB, reused AES-256-CTR): 500 files from one pair', async (t) => {
  const scene = makeScene(83);
  try {
    const rng = mulberry32(99);
    const key = Uint8Array.from({ length: 32 }, () => Math.floor(rng() * 256));
    const iv = Uint8Array.from({ length: 16 }, () => Math.floor(rng() * 256));
    const enc = encryptTreeCtr(scene.victim, key, iv, { firstBytes: N });
    assert.equal(enc.length, 500);
    const encHashes = new Map(enc.map((p) => [p, sha(p)]));
    const shorter = scene.files.filter((f) => f.size <= N).length;
    // A pair of moderate size (larger than N): the rest of it is plaintext.
    const pairFile = scene.files.find((f) => f.kind === 'docx' && f.size > 4 * N)!;
    const keyFile = join(scene.root, 'partial.key.json');
    let c = capture();
    assert.equal(await runRecoverKey(['--plain', pairFile.path, '--cipher', victimPath(scene, pairFile) + '.ctrp', '--out', keyFile], c.deps), 0, c.err.join(''));
    const kj = JSON.parse(readFileSync(keyFile, 'utf8')) as { kind: string; encryptedBytes: number; inner: string; keystreamLength: number };
    assert.deepEqual([kj.kind, kj.encryptedBytes, kj.inner, kj.keystreamLength], ['partial', N, 'keystream', N]);
    assert.match(c.out.join(''), /only the first 16384 bytes \(16 KiB\) differ/);

    // A flipped keystream byte: caught, nothing written.
    const wrongOut = join(scene.root, 'out-wrong');
    mkdirSync(wrongOut);
    const kfJson = JSON.parse(readFileSync(keyFile, 'utf8')) as Record<string, unknown> & { keystreamFile: string };
    const ks = readFileSync(join(scene.root, kfJson.keystreamFile));
    ks[3] = (ks[3] as number) ^ 0xff;
    writeFileSync(join(scene.root, 'flip.keystream'), ks);
    const flipped = join(scene.root, 'flip.key.json');
    writeFileSync(flipped, JSON.stringify({ ...kfJson, keystreamFile: 'flip.keystream', keystreamSha256: sha(join(scene.root, 'flip.keystream')) }));
    c = capture();
    assert.equal(await runDecrypt(['--key', flipped, '--out', wrongOut, '--json', ...enc], c.deps), 1);
    const wr = JSON.parse(c.out.join('')) as { summary: { verified: number; written: number; wrongKey: number } };
    assert.deepEqual([wr.summary.verified, wr.summary.written, wr.summary.wrongKey], [0, 0, 450]);
    assert.equal(listFiles(wrongOut).length, 0);
    t.diagnostic(`flipped keystream byte: ${wr.summary.wrongKey} wrong key, 0 verified, 0 written`);

    // A tampered keystream file (its SHA-256 no longer matches): refused before any decryption.
    const tampered = join(scene.root, 'tampered.key.json');
    writeFileSync(tampered, JSON.stringify({ ...kfJson, keystreamFile: 'flip.keystream' }));
    c = capture();
    assert.equal(await runDecrypt(['--key', tampered, '--out', wrongOut, ...enc], c.deps), 2);
    assert.match(c.err.join(''), /SHA-256 differs/);

    const taken = scene.files.filter((_, i) => i % 50 === 11);
    for (const f of taken) writeFileSync(victimPath(scene, f), 'keep');
    c = capture();
    const t0 = Date.now();
    assert.equal(await runDecrypt(['--key', keyFile, ...enc], c.deps), 1);
    const ms = Date.now() - t0;
    assert.match(c.out.at(-1) ?? '', /500 files: 450 verified, 50 unverified, 0 wrong key, 0 keystream too short, 0 errors; 500 written/);
    const identical = assertRecovered(scene, taken, 'keep', encHashes);
    t.diagnostic(`pair ${pairFile.size} B DOCX: encrypted length ${N} B detected; ${identical}/500 byte-identical (${shorter} files wholly encrypted, ${500 - shorter} only in their first 16 KiB), ${ms} ms`);
  } finally {
    scene.cleanup();
  }
});
