/**
 * The AES-256-CTR test ransomware with one key and nonce reused for every file, over 500 files:
 * whole recovery from the longest pair, partial recovery (reported, never verified) from a
 * shorter one and from a header, wrong keystreams caught, nothing overwritten.
 *
 * In: a seeded corpus, a seeded key and nonce. Out: assertions and figures (t.diagnostic).
 * Why: issue 8's must-show for mode (ii).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../core/random.js';
import { runDecrypt, runRecoverKey } from './ransom-decrypt.js';
import { encryptTreeCtr } from '../ransom/decrypt/simulator.js';
import { assertRecovered, capture, listFiles, makeScene, sha, victimPath } from '../ransom/decrypt/testkit.js';

interface Rep { files: { file: string; status: string; type: string; recoverable: number; size: number; written?: string }[]; summary: { verified: number; written: number; wrongKey: number; unverified: number; tooShort: number } }

test('reused AES-256-CTR key and nonce: 500 files from the longest pair; shorter keystreams report partial recovery', async (t) => {
  const scene = makeScene(82);
  try {
    const rng = mulberry32(777);
    const key = Uint8Array.from({ length: 32 }, () => Math.floor(rng() * 256));
    const iv = Uint8Array.from({ length: 16 }, () => Math.floor(rng() * 256));
    let t0 = Date.now();
    const enc = encryptTreeCtr(scene.victim, key, iv);
    assert.equal(enc.length, 500);
    const encHashes = new Map(enc.map((p) => [p, sha(p)]));
    t.diagnostic(`encrypted 500 files with one AES-256-CTR key and nonce in ${Date.now() - t0} ms`);
    const longest = scene.files.reduce((a, f) => (f.size > a.size ? f : a));

    // A shorter pair first: files longer than its keystream are partial, never verified, not written.
    const mid = scene.files.find((f) => f.kind === 'jpeg' && f.size > 100_000 && f.size < 400_000)!;
    const shortKey = join(scene.root, 'short.key.json');
    let c = capture();
    assert.equal(await runRecoverKey(['--plain', mid.path, '--cipher', victimPath(scene, mid) + '.ctr1', '--out', shortKey], c.deps), 0, c.err.join(''));
    const sj = JSON.parse(readFileSync(shortKey, 'utf8')) as { kind: string; keystreamLength: number; keystreamFile: string };
    assert.equal(sj.kind, 'keystream');
    assert.equal(sj.keystreamLength, mid.size);
    const shortOut = join(scene.root, 'out-short');
    mkdirSync(shortOut);
    c = capture();
    assert.equal(await runDecrypt(['--key', shortKey, '--out', shortOut, '--json', ...enc], c.deps), 1);
    const sr = JSON.parse(c.out.join('')) as Rep;
    const longer = scene.files.filter((f) => f.size > mid.size).length;
    for (const r of sr.files) {
      if (r.size > mid.size) {
        assert.equal(r.status, 'keystream-too-short', r.file);
        assert.equal(r.recoverable, mid.size);
        assert.equal(r.written, undefined);
      } else {
        assert.ok(r.status === 'verified' || r.status === 'unverified', `${r.file}: ${r.status}`);
      }
    }
    assert.equal(sr.summary.tooShort, longer);
    t.diagnostic(`pair of ${mid.size} B: ${sr.summary.verified + sr.summary.unverified} files wholly recovered, ${longer} longer files reported as only the first ${mid.size} bytes recoverable (none verified, none written)`);

    // Wrong keystreams: another key file; the right one with its first byte flipped.
    const wrongOut = join(scene.root, 'out-wrong');
    mkdirSync(wrongOut);
    const otherKs = join(scene.root, 'other.key.json');
    writeFileSync(otherKs, JSON.stringify({ format: 'vigil-ransom-key/1', kind: 'xor', period: 7, key: '0102030405060708090a0b0c0d'.slice(0, 14), coverage: { bytes: null, text: '' }, derived: { method: 'test', at: '', notes: [] }, from: [] }));
    const flippedKs = join(scene.root, 'flipped.key.json');
    {
      const ks = readFileSync(join(scene.root, sj.keystreamFile));
      ks[0] = (ks[0] as number) ^ 0xff;
      writeFileSync(join(scene.root, 'flipped.key.json.keystream'), ks);
      const j = JSON.parse(readFileSync(shortKey, 'utf8')) as Record<string, unknown>;
      writeFileSync(flippedKs, JSON.stringify({ ...j, keystreamFile: 'flipped.key.json.keystream', keystreamSha256: sha(join(scene.root, 'flipped.key.json.keystream')) }));
    }
    for (const [label, kf] of [['another key', otherKs], ['flipped keystream byte', flippedKs]] as const) {
      c = capture();
      assert.equal(await runDecrypt(['--key', kf, '--out', wrongOut, '--json', ...enc], c.deps), 1);
      const r = JSON.parse(c.out.join('')) as Rep;
      t.diagnostic(`${label}: ${r.summary.wrongKey} wrong key, ${r.summary.unverified} unverifiable, ${r.summary.verified} verified, ${r.summary.written} written`);
      assert.equal(r.summary.verified, 0);
      assert.equal(r.summary.written, 0);
      assert.equal(r.summary.wrongKey, 450);
    }
    assert.equal(listFiles(wrongOut).length, 0);

    // Header knowledge alone: a keystream of the PNG header's 16 bytes; every file is longer.
    const png = scene.files.find((f) => f.kind === 'png')!;
    const hdrKey = join(scene.root, 'header.key.json');
    c = capture();
    assert.equal(await runRecoverKey(['--cipher', victimPath(scene, png) + '.ctr1', '--out', hdrKey], c.deps), 0, c.err.join(''));
    assert.match(c.out.join(''), /only the first 16 bytes/);
    const hj = JSON.parse(readFileSync(hdrKey, 'utf8')) as { kind: string; keystreamLength: number };
    assert.deepEqual([hj.kind, hj.keystreamLength], ['keystream', 16]);
    c = capture();
    assert.equal(await runDecrypt(['--key', hdrKey, '--out', wrongOut, '--json', ...enc], c.deps), 1);
    const hr = JSON.parse(c.out.join('')) as Rep;
    assert.equal(hr.summary.tooShort, 500);
    assert.equal(hr.summary.written, 0);
    t.diagnostic('PNG header alone: a 16-byte keystream; all 500 files reported as only the first 16 bytes recoverable');

    // The longest file as the pair: every file, byte-identical.
    const taken = scene.files.filter((_, i) => i % 50 === 7);
    for (const f of taken) writeFileSync(victimPath(scene, f), 'precious');
    const keyFile = join(scene.root, 'pair.key.json');
    c = capture();
    assert.equal(await runRecoverKey(['--plain', longest.path, '--cipher', victimPath(scene, longest) + '.ctr1', '--out', keyFile], c.deps), 0, c.err.join(''));
    c = capture();
    t0 = Date.now();
    assert.equal(await runDecrypt(['--key', keyFile, ...enc], c.deps), 1);
    const ms = Date.now() - t0;
    assert.match(c.out.at(-1) ?? '', /500 files: 450 verified, 50 unverified, 0 wrong key, 0 keystream too short, 0 errors; 500 written/);
    const identical = assertRecovered(scene, taken, 'precious', encHashes);
    t.diagnostic(`pair = longest file (${longest.size} B): ${identical}/500 byte-identical, ${ms} ms`);
  } finally {
    scene.cleanup();
  }
});
