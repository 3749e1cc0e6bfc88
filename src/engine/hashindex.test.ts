/**
 * Tests of the hash index: look-ups (exact sizes, wildcards, duplicates in ClamAV's order), the
 * hashes a layer needs, evidence per entry, the binary form (also through a SharedArrayBuffer),
 * one million random entries, and a differential test against clamscan 1.4 on databases full of
 * duplicate digests, where the reported name depends on ClamAV's sort. Speed is measured in the
 * benchmarks, not here.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HashIndex, HashIndexBuilder, HashIndexFormatError, DIGEST_BYTES, HASH_ALGOS } from './hashindex.js';
import { parseHashDb } from '../signatures/clamav/hash.js';
import type { HashAlgo } from '../signatures/clamav/types.js';
import { mulberry32 as prng } from '../../test/helpers/prng.js';
import { CLAMSCAN_SKIP, pool, runClamscan } from '../../test/helpers/clamscan-run.js';

function digest(algo: HashAlgo, text: string): Uint8Array {
  return createHash(algo).update(text).digest();
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');


function small(): HashIndex {
  const b = new HashIndexBuilder();
  b.beginFile('a.hdb');
  b.add('md5', hex(digest('md5', 'one')), 3, b.internName('One.UNOFFICIAL'), 1);
  b.add('md5', digest('md5', 'two'), 3, b.internName('Two.UNOFFICIAL'), 2);
  b.add('md5', digest('md5', 'one'), null, b.internName('OneWild.UNOFFICIAL'), 3);
  b.beginFile('b.hsb');
  b.add('sha256', digest('sha256', 'one'), 3, b.internName('One256.UNOFFICIAL'), 7);
  b.add('sha1', digest('sha1', 'three'), 5, b.internName('Three.UNOFFICIAL'), 9);
  return b.build();
}

test('HashIndex.lookup returns the exact-size match before the wildcard match', () => {
  const ix = small();
  const ids = ix.lookup('md5', digest('md5', 'one'), 3);
  assert.deepEqual(ids.map((i) => ix.name(i)), ['One.UNOFFICIAL', 'OneWild.UNOFFICIAL']);
});

test('HashIndex.lookup ignores sized entries when the layer size differs, but not wildcards', () => {
  const ix = small();
  assert.deepEqual(ix.lookup('md5', digest('md5', 'one'), 4).map((i) => ix.name(i)), ['OneWild.UNOFFICIAL']);
  assert.deepEqual(ix.lookup('md5', digest('md5', 'two'), 4), []);
  assert.deepEqual(ix.lookup('md5', digest('md5', 'zzz'), 3), []);
});

test('HashIndex.lookup keeps algorithms apart and rejects a digest of the wrong length', () => {
  const ix = small();
  assert.deepEqual(ix.lookup('sha256', digest('sha256', 'one'), 3).map((i) => ix.name(i)), ['One256.UNOFFICIAL']);
  assert.deepEqual(ix.lookup('sha1', digest('sha1', 'one'), 3), []);
  assert.deepEqual(ix.lookup('sha256', digest('md5', 'one'), 3), []);
});

test('HashIndex.lookup finds nothing for sizes ClamAV never matches (0 and 0xffffffff)', () => {
  const b = new HashIndexBuilder();
  b.add('md5', digest('md5', 'x'), 0xfffffffe, b.internName('Max'), 1);
  const ix = b.build();
  assert.equal(ix.lookup('md5', digest('md5', 'x'), 0xfffffffe).length, 1);
  assert.equal(ix.lookup('md5', digest('md5', 'x'), 0xffffffff).length, 0);
  assert.equal(ix.lookup('md5', digest('md5', 'x'), 0).length, 0);
  // ClamAV passes the layer length as a 32-bit value
  assert.equal(ix.lookup('md5', digest('md5', 'x'), 0xfffffffe + 4294967296).length, 1);
});

test('HashIndex.origin and entry give the database file, line, digest and size of an entry', () => {
  const ix = small();
  const [id] = ix.lookup('sha1', digest('sha1', 'three'), 5);
  assert.ok(id !== undefined);
  assert.deepEqual(ix.origin(id), { db: 'b.hsb', line: 9 });
  assert.deepEqual(ix.entry(id), {
    id, algo: 'sha1', hash: hex(digest('sha1', 'three')), size: 5, name: 'Three.UNOFFICIAL', origin: { db: 'b.hsb', line: 9 },
  });
  const [w] = ix.lookup('md5', digest('md5', 'one'), 99);
  assert.equal(ix.entry(w!).size, null);
});

test('HashIndex.algorithms lists only the algorithms present, in ClamAV order', () => {
  assert.deepEqual(small().algorithms(), ['md5', 'sha1', 'sha256']);
  const b = new HashIndexBuilder();
  b.add('sha256', digest('sha256', 'x'), 1, b.internName('X'), 1);
  assert.deepEqual(b.build().algorithms(), ['sha256']);
  assert.deepEqual(HashIndex.empty().algorithms(), []);
});

test('HashIndex.needsHash asks for a hash only when an entry of that size or a wildcard exists', () => {
  const ix = small();
  assert.equal(ix.needsHash('md5', 12345), true); // md5 has a wildcard entry
  assert.equal(ix.needsHash('sha1', 5), true);
  assert.equal(ix.needsHash('sha1', 3), false);
  assert.equal(ix.needsHash('sha256', 3), true);
  assert.equal(ix.needsHash('sha256', 4), false);
  assert.deepEqual(HashIndex.hashesNeeded(3, ix), ['md5', 'sha256']);
  assert.deepEqual(HashIndex.hashesNeeded(4, HashIndex.empty()), []);
});

test('HashIndex puts ClamAV\'s choice first among duplicates, as clamscan reports it', () => {
  // clamscan 1.4.6 with A1, A2, A3 on one digest and size reports A3, and with W1, W2 wildcards
  // reports W2 (its quicksort reorders equal keys and the binary search meets one of them).
  const b = new HashIndexBuilder();
  b.beginFile('dup.hdb');
  const d = digest('md5', 'hello\n');
  for (const n of ['A1', 'A2', 'A3']) b.add('md5', d, 6, b.internName(n), 1);
  for (const n of ['W1', 'W2']) b.add('md5', d, null, b.internName(n), 2);
  const ix = b.build();
  assert.deepEqual(ix.lookupClamav('md5', d, 6).map((i) => ix.name(i)), ['A3', 'W2']);
  assert.deepEqual(ix.lookup('md5', d, 6).map((i) => ix.name(i)), ['A3', 'A1', 'A2', 'W2', 'W1']);
});

test('HashIndex falls back to load order for duplicates when replaying ClamAV\'s sort exceeds its budget', () => {
  // ClamAV's quicksort is quadratic on equal keys: 100 copies need about 5,000 comparisons.
  const make = (): HashIndexBuilder => {
    const b = new HashIndexBuilder();
    const d = digest('md5', 'same');
    for (let i = 0; i < 100; i++) b.add('md5', d, 4, b.internName(`Copy${i}`), i + 1);
    return b;
  };
  const capped = make().build({ replayBudget: 1000 });
  assert.equal(capped.approximateGroups, 1);
  const ids = capped.lookup('md5', digest('md5', 'same'), 4);
  assert.equal(ids.length, 100);
  assert.deepEqual(ids.slice(0, 3).map((i) => capped.name(i)), ['Copy0', 'Copy1', 'Copy2']);
  const full = make().build();
  assert.equal(full.approximateGroups, 0);
  assert.equal(full.lookup('md5', digest('md5', 'same'), 4).length, 100);
});

test('HashIndex.serialize and deserialize give an index with the same answers', () => {
  const ix = small();
  const back = HashIndex.deserialize(ix.serialize());
  assert.equal(back.count, ix.count);
  for (const [algo, text, size] of [['md5', 'one', 3], ['md5', 'one', 8], ['sha1', 'three', 5], ['sha256', 'one', 3]] as const) {
    const a = ix.lookup(algo, digest(algo, text), size).map((i) => ix.entry(i));
    const b = back.lookup(algo, digest(algo, text), size).map((i) => back.entry(i));
    assert.deepEqual(b, a);
  }
});

test('HashIndex.deserialize reads from a SharedArrayBuffer and from an unaligned copy', () => {
  const ix = small();
  const shared = ix.serialize(true);
  assert.ok(shared.buffer instanceof SharedArrayBuffer);
  const a = HashIndex.deserialize(shared);
  assert.equal(a.name(a.lookup('md5', digest('md5', 'two'), 3)[0]!), 'Two.UNOFFICIAL');
  const plain = ix.serialize();
  const odd = new Uint8Array(plain.length + 1).subarray(1);
  odd.set(plain);
  const b = HashIndex.deserialize(odd);
  assert.equal(b.count, ix.count);
});

test('HashIndex.deserialize rejects damaged input with HashIndexFormatError', () => {
  const bytes = small().serialize();
  assert.throws(() => HashIndex.deserialize(bytes.subarray(0, 10)), HashIndexFormatError);
  assert.throws(() => HashIndex.deserialize(bytes.subarray(0, bytes.length - 16)), HashIndexFormatError);
  const bad = Uint8Array.from(bytes);
  bad[0] = 0;
  assert.throws(() => HashIndex.deserialize(bad), HashIndexFormatError);
  const huge = Uint8Array.from(bytes);
  new DataView(huge.buffer).setUint32(12, 0x7fffffff, true); // entry count
  assert.throws(() => HashIndex.deserialize(huge), HashIndexFormatError);
});

test('HashIndexBuilder.add rejects a digest of the wrong length and an out-of-range size', () => {
  const b = new HashIndexBuilder();
  assert.throws(() => b.add('md5', new Uint8Array(20), 1, 0, 1), RangeError);
  assert.throws(() => b.add('sha1', 'abcd', 1, 0, 1), RangeError);
  assert.throws(() => b.add('md5', new Uint8Array(16), 0, 0, 1), RangeError);
  assert.throws(() => b.add('md5', new Uint8Array(16), 0xffffffff, 0, 1), RangeError);
});

test('HashIndex built from 1,000,000 random entries finds each of them and nothing else', () => {
  const N = 1_000_000;
  const rnd = prng(42);
  const b = new HashIndexBuilder();
  b.beginFile('million.hdb');
  const names = Array.from({ length: 64 }, (_, i) => b.internName(`Rand.${i}`));
  const algos: HashAlgo[] = ['md5', 'sha1', 'sha256'];
  // Entries are generated from the counter, so they can be regenerated for checking.
  const entryOf = (i: number): { algo: HashAlgo; d: Uint8Array; size: number | null } => {
    const algo = algos[i % 3]!;
    const d = new Uint8Array(DIGEST_BYTES[algo]);
    let x = Math.imul(i + 1, 0x9e3779b1) >>> 0;
    for (let k = 0; k < d.length; k++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      d[k] = x & 0xff;
    }
    d[0] = i & 0xff; d[1] = (i >>> 8) & 0xff; d[2] = (i >>> 16) & 0xff; // distinct digests
    const size = i % 11 === 0 ? null : 1 + (i % 4093);
    return { algo, d, size };
  };
  for (let i = 0; i < N; i++) {
    const e = entryOf(i);
    b.add(e.algo, e.d, e.size, names[i % 64]!, i + 1);
  }
  const ix = b.build();
  assert.equal(ix.count, N);
  const check = (index: HashIndex): void => {
    for (let n = 0; n < 20000; n++) {
      const i = Math.floor(rnd() * N);
      const e = entryOf(i);
      const size = e.size ?? 1 + Math.floor(rnd() * 100000);
      const ids = index.lookup(e.algo, e.d, size);
      assert.equal(ids.length, 1, `entry ${i}`);
      assert.equal(index.origin(ids[0]!).line, i + 1);
      assert.equal(index.name(ids[0]!), `Rand.${i % 64}`);
      if (e.size !== null) assert.equal(index.lookup(e.algo, e.d, e.size + 1).length, 0);
      const other = Uint8Array.from(e.d);
      other[other.length - 1]! ^= 0x55;
      assert.equal(index.lookup(e.algo, other, size).length, 0);
    }
  };
  check(ix);
  check(HashIndex.deserialize(ix.serialize(true)));
});

// ───────────────────────────── differential test against clamscan ─────────────────────────────

const SKIP = CLAMSCAN_SKIP;



test('HashIndex.lookupClamav names what clamscan reports, duplicates across files and buckets included', { skip: SKIP, timeout: 60000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-hashix-'));
  try {
    const rnd = prng(Number(process.env.VIGIL_DIFF_SEED ?? 3));
    const pick = <T,>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
    const randHex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(rnd() * 16)]).join('');
    // ASCII text samples of three sizes (ClamAV hashes a text layer once), two of them equal
    const samples: { path: string; size: number; digests: Record<HashAlgo, Buffer> }[] = [];
    for (let i = 0; i < 10; i++) {
      const data = Buffer.from(i === 9 ? 'vigil sample text 0' : `vigil sample text ${i}${'z'.repeat([0, 2, 30][i % 3]!)}`);
      const path = join(root, `s${i}.txt`);
      writeFileSync(path, data);
      samples.push({ path, size: data.length, digests: { md5: createHash('md5').update(data).digest(), sha1: createHash('sha1').update(data).digest(), sha256: createHash('sha256').update(data).digest() } });
    }
    const sizes = [...new Set(samples.map((s) => s.size))];
    const CASES = Number(process.env.VIGIL_DIFF_CASES ?? 40);
    const cases = Array.from({ length: CASES }, (_, id) => {
      // one to three database files, loaded in command-line order
      const files = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, f) => {
        const lines: string[] = [];
        const n = 2 + Math.floor(rnd() * 12);
        for (let i = 0; i < n; i++) {
          const s = pick(samples);
          const algo = pick(HASH_ALGOS);
          const wild = rnd() < 0.3;
          const copies = rnd() < 0.5 ? 1 : 2 + Math.floor(rnd() * 4);
          for (let k = 0; k < copies; k++) lines.push(`${s.digests[algo].toString('hex')}:${wild ? '*' : s.size}:N${id}.${f}.${i}.${k}${wild ? ':73' : ''}`);
        }
        // unrelated digests in the same buckets, so that the sort has work to do
        const noise = Math.floor(rnd() * 60);
        for (let i = 0; i < noise; i++) {
          const algo = pick(HASH_ALGOS);
          const wild = rnd() < 0.3;
          lines.push(`${randHex(DIGEST_BYTES[algo] * 2)}:${wild ? '*' : pick(sizes)}:Noise${wild ? ':73' : ''}`);
        }
        for (let i = lines.length - 1; i > 0; i--) {
          const j = Math.floor(rnd() * (i + 1));
          [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        }
        return { name: `c${id}f${f}.${pick(['hdb', 'hsb'])}`, text: lines.join('\n') + '\n' };
      });
      return { id, files };
    });
    const failures: string[] = [];
    let compared = 0;
    await pool(cases, 3, async (c) => {
      const dir = join(root, `c${c.id}`);
      mkdirSync(dir);
      const b = new HashIndexBuilder();
      const args: string[] = [];
      for (const f of c.files) {
        writeFileSync(join(dir, f.name), f.text);
        args.push('-d', join(dir, f.name));
        const r = parseHashDb(Buffer.from(f.text), { file: f.name, kind: 'hdb', official: false }, b);
        assert.deepEqual(r.diagnostics, []);
      }
      const ix = b.build();
      for (const all of [false, true]) {
        const out = await runClamscan(['--no-summary', ...(all ? ['--allmatch'] : []), ...args, ...samples.map((s) => s.path)]);
        for (const s of samples) {
          const got = out.out.split('\n').filter((l) => l.startsWith(s.path + ': ') && l.endsWith(' FOUND')).map((l) => l.slice(s.path.length + 2, -6));
          let want = HASH_ALGOS.flatMap((a) => ix.lookupClamav(a, s.digests[a], s.size).map((i) => ix.name(i)));
          if (!all) want = want.slice(0, 1);
          compared += got.length;
          if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`case ${c.id}${all ? ' --allmatch' : ''} ${s.path}: clamscan ${JSON.stringify(got)}, vigil ${JSON.stringify(want)}`);
        }
      }
    });
    assert.deepEqual(failures, [], failures.join('\n'));
    assert.ok(compared > 200, `coverage: ${compared} names compared`);
    t.diagnostic(`${CASES} engines, ${compared} reported names compared`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
