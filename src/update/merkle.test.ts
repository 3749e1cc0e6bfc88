/**
 * Tests for the RFC 9162 Merkle tree (merkle.ts).
 *
 * In:  published RFC 6962 reference vectors, an independent recursive model
 *      written from the RFC's definitions, seeded random trees, a 100,000-leaf tree.
 * Out: node:test assertions on roots, proofs, verification and tampering.
 * Why: a log client that accepts a bad proof is worse than none.
 */
import { mulberry32 } from '../core/random.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  MerkleTree,
  emptyRoot,
  leafHash,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

const hx = (s: string): Buffer => Buffer.from(s, 'hex');
const hexes = (l: readonly Buffer[]): string[] => l.map((b) => b.toString('hex'));

// Reference vectors: google/certificate-transparency, python/ct/crypto/merkle_test.py
// (the RFC 6962 test data shared by CT implementations; the same values appear
// in the C++ merkle_tree_test and in transparency-dev/merkle). Data only.
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION: { index: number; size: number; path: string[] }[] = [
  { index: 0, size: 1, path: [] },
  {
    index: 0,
    size: 8,
    path: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    path: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  { index: 2, size: 3, path: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    path: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];
const CONSISTENCY: { m: number; n: number; proof: string[] }[] = [
  { m: 1, n: 1, proof: [] },
  {
    m: 1,
    n: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    m: 6,
    n: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    m: 2,
    n: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];
// Same source: an audit path taken from a production CT log.
const REAL_LOG = {
  leafHash: '7a395c866d5ecdb0cccb623e011dbc392cd348d1d1d72776174e127a24b09c78',
  index: 848049,
  size: 3630887,
  root: '78316a05c9bcf14a3a4548f5b854a9adfcd46a4c034401b3ce7eb7ac2f1d0ecb',
  path: [
    '1a208aeebcd1b39fe2de247ee8db9454e1e93a312d206b87f6ca9cc6ec6f1ddd',
    '0a1b78b383f580856f433c01a5741e160d451c185910027f6cc9f828687a40c4',
    '3d1745789bc63f2da15850de1c12a5bf46ed81e1cc90f086148b1662e79aab3d',
    '9095b61e14d8990acf390905621e62b1714fb8e399fbb71de5510e0aef45affe',
    '0a332b91b8fab564e6afd1dd452449e04619b18accc0ff9aa8393cd4928451f2',
    '2336f0181d264aed6d8f3a6507ca14a8d3b3c3a23791ac263e845d208c1ee330',
    'b4ce56e300590500360c146c6452edbede25d4ed83919278749ee5dbe178e048',
    '933f6ddc848ea562e4f9c5cfb5f176941301dad0c6fdb9d1fbbe34fac1be6966',
    'b95a6222958a86f74c030be27c44f57dbe313e5e7c7f4ffb98bcbd3a03bb52f2',
    'daeeb3ce5923defd0faeb8e0c210b753b85b809445d7d3d3cd537a9aabaa9c45',
    '7fadd0a13e9138a2aa6c3fdec4e2275af233b94812784f66bcca9aa8e989f2bc',
    '1864e6ba3e32878610546539734fb5eeae2529991f130c575c73a7e25a2a7c56',
    '12842d1202b1dc6828a17ab253c02e7ce9409b5192430feba44189f39cc02d66',
    '29af64b16fa3053c13d02ac63aa75b23aa468506e44c3a2315edc85d2dc22b11',
    'b527b99934a0bd9edd154e449b0502e2c499bba783f3bc3dfe23364b6b532009',
    '4584db8ae8e351ace08e01f306378a92bfd43611714814f3d834a2842d69faa8',
    '86a9a41573b0d6e4292f01e93243d6cc65b30f06606fc6fa57390e7e90ed580f',
    'a88b98fbe84d4c6aae8db9d1605dfac059d9f03fe0fcb0d5dff1295dacba09e6',
    '06326dc617a6d1f7021dc536026dbfd5fffc6f7c5531d48ef6ccd1ed1569f2a1',
    'f41fe8fdc3a2e4e8345e30216e7ebecffee26ff266eeced208a6c2a3cf08f960',
    '40cf5bde8abb76983f3e98ba97aa36240402975674e120f234b3448911090f8d',
    'b3222dc8658538079883d980d7fdc2bef9285344ea34338968f736b04aeb387a',
  ],
};

function vectorTree(): MerkleTree {
  const t = new MerkleTree();
  for (const l of LEAVES) t.append(hx(l));
  return t;
}

// ---------------------------------------------------------------------------
// Independent model, straight from RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1:
// recursive over arrays of leaf hashes, no caching, no shared code.
function sha(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}
function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}
function refMTH(d: Buffer[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return d[0] as Buffer;
  const s = k(d.length);
  return sha(Buffer.from([1]), refMTH(d.slice(0, s)), refMTH(d.slice(s)));
}
function refPATH(m: number, d: Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const s = k(d.length);
  return m < s
    ? [...refPATH(m, d.slice(0, s)), refMTH(d.slice(s))]
    : [...refPATH(m - s, d.slice(s)), refMTH(d.slice(0, s))];
}
function refSUBPROOF(m: number, d: Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [refMTH(d)];
  const s = k(d.length);
  return m <= s
    ? [...refSUBPROOF(m, d.slice(0, s), b), refMTH(d.slice(s))]
    : [...refSUBPROOF(m - s, d.slice(s), false), refMTH(d.slice(0, s))];
}
/** Side of each PATH element ('L' = sibling on the left), from the recursive definition. */
function refPathSides(m: number, n: number): string {
  if (n <= 1) return '';
  const s = k(n);
  return m < s ? refPathSides(m, s) + 'R' : refPathSides(m - s, n - s) + 'L';
}
// ---------------------------------------------------------------------------

/** Small seeded PRNG (mulberry32) so failures reproduce. */
const rng = mulberry32;

function flipBit(b: Buffer, bit: number): Buffer {
  const c = Buffer.from(b);
  c[bit >> 3] = (c[bit >> 3] ?? 0) ^ (1 << (bit & 7));
  return c;
}

function leafData(i: number): Buffer {
  return Buffer.from(`vigil leaf ${i}`);
}

test('hashing primitives match RFC 6962 reference values', () => {
  assert.equal(emptyRoot().toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(leafHash(hx('')).toString('hex'), ROOTS[0]);
  assert.equal(
    leafHash(hx('101112131415161718191a1b1c1d1e1f')).toString('hex'),
    '3bfb960453ebaebf33727da7a1f4db38acc051d381b6da20d6d4e88f0eabfd7a',
  );
  assert.equal(
    nodeHash(
      hx('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'),
      hx('202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f'),
    ).toString('hex'),
    '1a378704c17da31e2d05b6d121c2bb2c7d76f6ee6fa8f983e596c2d034963c57',
  );
  assert.throws(() => nodeHash(Buffer.alloc(31), Buffer.alloc(32)), RangeError);
});

test('reference roots for sizes 0..8', () => {
  const t = vectorTree();
  assert.equal(t.size, 8);
  assert.deepEqual(t.root(0), emptyRoot());
  ROOTS.forEach((r, i) => assert.equal(t.root(i + 1).toString('hex'), r, `root(${i + 1})`));
  // Growing one leaf at a time gives the same roots.
  const g = new MerkleTree();
  LEAVES.forEach((l, i) => {
    g.append(hx(l));
    assert.equal(g.root().toString('hex'), ROOTS[i]);
  });
});

test('reference inclusion proofs: generated and verified', () => {
  const t = vectorTree();
  for (const v of INCLUSION) {
    assert.deepEqual(hexes(t.inclusionProof(v.index, v.size)), v.path, `PATH(${v.index}, ${v.size})`);
    const root = hx(ROOTS[v.size - 1] ?? '');
    assert.ok(verifyInclusion(leafHash(hx(LEAVES[v.index] ?? '')), v.index, v.size, v.path.map(hx), root));
  }
});

test('reference consistency proofs: generated and verified', () => {
  const t = vectorTree();
  for (const v of CONSISTENCY) {
    assert.deepEqual(hexes(t.consistencyProof(v.m, v.n)), v.proof, `PROOF(${v.m}, ${v.n})`);
    const rm = hx(ROOTS[v.m - 1] ?? '');
    const rn = hx(ROOTS[v.n - 1] ?? '');
    assert.ok(verifyConsistency(v.m, v.n, rm, rn, v.proof.map(hx)), `verify ${v.m}->${v.n}`);
  }
  // Published negative cases: truncated proof, flipped first/second root.
  const v68 = CONSISTENCY[2];
  assert.ok(v68);
  const r6 = hx(ROOTS[5] ?? '');
  const r8 = hx(ROOTS[7] ?? '');
  assert.equal(verifyConsistency(6, 8, r6, r8, v68.proof.slice(0, 2).map(hx)), false);
  assert.equal(verifyConsistency(6, 8, r6, flipBit(r8, 0), v68.proof.map(hx)), false);
  assert.equal(verifyConsistency(6, 8, flipBit(r6, 0), r8, v68.proof.map(hx)), false);
  assert.equal(verifyConsistency(8, 6, r8, r6, v68.proof.map(hx)), false, 'first > second');
});

test('audit path from a production CT log verifies; tampering fails', () => {
  const path = REAL_LOG.path.map(hx);
  const leaf = hx(REAL_LOG.leafHash);
  const root = hx(REAL_LOG.root);
  assert.ok(verifyInclusion(leaf, REAL_LOG.index, REAL_LOG.size, path, root));
  assert.equal(verifyInclusion(leaf, REAL_LOG.index, REAL_LOG.size, path.slice(0, -1), root), false);
  assert.equal(verifyInclusion(leaf, REAL_LOG.index, REAL_LOG.size, [...path, leaf], root), false);
  assert.equal(verifyInclusion(leaf, REAL_LOG.index + 1, REAL_LOG.size, path, root), false);
  assert.equal(verifyInclusion(leaf, REAL_LOG.index, REAL_LOG.size, path, flipBit(root, 255)), false);
});

test('matches the recursive RFC model for every size 1..70, every index and every (m, n)', () => {
  const N = 70;
  const t = new MerkleTree();
  const d: Buffer[] = [];
  for (let i = 0; i < N; i++) {
    t.append(leafData(i));
    d.push(leafHash(leafData(i)));
  }
  let inclusions = 0;
  let consistencies = 0;
  for (let n = 1; n <= N; n++) {
    const dn = d.slice(0, n);
    const rootN = t.root(n);
    assert.deepEqual(rootN, refMTH(dn), `MTH(${n})`);
    for (let i = 0; i < n; i++) {
      const proof = t.inclusionProof(i, n);
      assert.deepEqual(proof, refPATH(i, dn), `PATH(${i}, ${n})`);
      assert.ok(verifyInclusion(d[i] as Buffer, i, n, proof, rootN), `verify PATH(${i}, ${n})`);
      inclusions++;
    }
    for (let m = 1; m <= n; m++) {
      const proof = t.consistencyProof(m, n);
      const expected = m === n ? [] : refSUBPROOF(m, dn, true);
      assert.deepEqual(proof, expected, `PROOF(${m}, ${n})`);
      assert.ok(verifyConsistency(m, n, t.root(m), rootN, proof), `verify PROOF(${m}, ${n})`);
      consistencies++;
    }
  }
  assert.equal(inclusions, (N * (N + 1)) / 2);
  assert.equal(consistencies, (N * (N + 1)) / 2);
});

test('random trees up to 1,000 leaves: every proof verifies, every single-bit flip fails', () => {
  const rand = rng(0x7e1c);
  const pick = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const t = new MerkleTree();
  for (let i = 0; i < 1000; i++) t.append(leafData(i));
  const sizes = [1000, 1, 2, 3, pick(4, 999), pick(4, 999), pick(4, 999)];
  let flips = 0;
  const sizeOutcomes = new Set<boolean>();
  for (const n of sizes) {
    const root = t.root(n);
    // Every inclusion proof of this size verifies.
    for (let i = 0; i < n; i++) {
      assert.ok(verifyInclusion(t.leafHashAt(i), i, n, t.inclusionProof(i, n), root), `incl ${i}/${n}`);
    }
    // Tampering, on a few indices.
    const indices = [...new Set([0, n - 1, pick(0, n - 1), pick(0, n - 1)])];
    for (const i of indices) {
      const leaf = t.leafHashAt(i);
      const proof = t.inclusionProof(i, n);
      for (let e = 0; e < proof.length; e++) {
        for (let bit = 0; bit < 256; bit++) {
          const bad = proof.slice();
          bad[e] = flipBit(proof[e] as Buffer, bit);
          assert.equal(verifyInclusion(leaf, i, n, bad, root), false);
          flips++;
        }
      }
      for (let bit = 0; bit < 256; bit++) {
        assert.equal(verifyInclusion(flipBit(leaf, bit), i, n, proof, root), false);
        assert.equal(verifyInclusion(leaf, i, n, proof, flipBit(root, bit)), false);
        flips += 2;
      }
      // Wrong length: truncated, extended, empty.
      if (proof.length > 0) assert.equal(verifyInclusion(leaf, i, n, proof.slice(1), root), false);
      if (proof.length > 0) assert.equal(verifyInclusion(leaf, i, n, proof.slice(0, -1), root), false);
      assert.equal(verifyInclusion(leaf, i, n, [...proof, root], root), false);
      // Index out of range.
      assert.equal(verifyInclusion(leaf, n, n, proof, root), false);
      assert.equal(verifyInclusion(leaf, -1, n, proof, root), false);
      assert.equal(verifyInclusion(leaf, i, 0, proof, root), false);
      // Every other index in range fails.
      for (let j = 0; j < n; j += Math.max(1, Math.floor(n / 50))) {
        if (j !== i) assert.equal(verifyInclusion(leaf, j, n, proof, root), false, `index ${j} for ${i}/${n}`);
      }
      // Another size: an audit path does not bind the size by itself (the signed
      // tree head does), so it verifies exactly when the RFC's path shape is the same.
      for (const n2 of [n - 1, n + 1, n + 2, 2 * n]) {
        if (n2 <= i) {
          assert.equal(verifyInclusion(leaf, i, n2, proof, root), false);
          continue;
        }
        const same = refPathSides(i, n2) === refPathSides(i, n);
        sizeOutcomes.add(same);
        assert.equal(verifyInclusion(leaf, i, n2, proof, root), same, `size ${n2} for ${i}/${n}`);
      }
      // Malformed elements.
      if (proof.length > 0) {
        const short = proof.slice();
        short[0] = (proof[0] as Buffer).subarray(0, 31);
        assert.equal(verifyInclusion(leaf, i, n, short, root), false);
      }
    }
    // Consistency from a few earlier sizes.
    const firsts = [...new Set([1, n - 1, pick(1, n), pick(1, n)])].filter((m) => m >= 1 && m < n);
    for (const m of firsts) {
      const rootM = t.root(m);
      const proof = t.consistencyProof(m, n);
      assert.ok(verifyConsistency(m, n, rootM, root, proof), `cons ${m}->${n}`);
      for (let e = 0; e < proof.length; e++) {
        for (let bit = 0; bit < 256; bit++) {
          const bad = proof.slice();
          bad[e] = flipBit(proof[e] as Buffer, bit);
          assert.equal(verifyConsistency(m, n, rootM, root, bad), false);
          flips++;
        }
      }
      for (let bit = 0; bit < 256; bit++) {
        assert.equal(verifyConsistency(m, n, flipBit(rootM, bit), root, proof), false);
        assert.equal(verifyConsistency(m, n, rootM, flipBit(root, bit), proof), false);
        flips += 2;
      }
      assert.equal(verifyConsistency(m, n, rootM, root, []), false, 'empty proof');
      assert.equal(verifyConsistency(m, n, rootM, root, proof.slice(0, -1)), false, 'truncated');
      assert.equal(verifyConsistency(m, n, rootM, root, [...proof, root]), false, 'extended');
      assert.equal(verifyConsistency(n, m, root, rootM, proof), false, 'first > second');
      // Other first size with the same roots: must fail unless that size's
      // root is the same (it never is for distinct leaves).
      for (const m2 of [m - 1, m + 1]) {
        if (m2 >= 1 && m2 < n) assert.equal(verifyConsistency(m2, n, rootM, root, proof), false, `m2 ${m2}`);
      }
    }
  }
  assert.ok(flips > 10_000);
  assert.equal(sizeOutcomes.size, 2, 'wrong sizes exercised both outcomes');
});

test('crafted proofs that only the RFC checks reject', () => {
  const t = vectorTree();
  // An extra element past the top (sn already 0) claiming a made-up root H(p || root).
  const p = t.leafHashAt(7);
  for (const [i, n] of [[0, 8], [5, 8], [2, 3], [0, 1]] as const) {
    const proof = t.inclusionProof(i, n);
    const fake = nodeHash(p, t.root(n));
    assert.equal(verifyInclusion(t.leafHashAt(i), i, n, [...proof, p], fake), false, `extended ${i}/${n}`);
  }
  for (const [m, n] of [[1, 8], [6, 8], [2, 5], [3, 7]] as const) {
    const proof = t.consistencyProof(m, n);
    const fake = nodeHash(t.root(n), p);
    const fakeL = nodeHash(p, t.root(n));
    assert.equal(verifyConsistency(m, n, t.root(m), fake, [...proof, p]), false, `extended ${m}->${n}`);
    assert.equal(verifyConsistency(m, n, t.root(m), fakeL, [...proof, p]), false, `extended ${m}->${n}`);
  }
  // first > second: a proof built to pass the iteration for (5, 3) must still fail.
  const a = t.root(5);
  const b = t.leafHashAt(1);
  const c = t.leafHashAt(2);
  const claimed = nodeHash(nodeHash(a, b), c);
  assert.equal(verifyConsistency(5, 3, a, claimed, [a, b, c]), false);
});

test('edge cases: empty tree, m = n, m = 0, bad arguments', () => {
  const t = vectorTree();
  const r3 = t.root(3);
  assert.ok(verifyConsistency(3, 3, r3, r3, []));
  assert.equal(verifyConsistency(3, 3, r3, r3, [r3]), false);
  assert.equal(verifyConsistency(3, 3, r3, t.root(4), []), false);
  assert.ok(verifyConsistency(0, 3, emptyRoot(), r3, []));
  assert.equal(verifyConsistency(0, 3, r3, r3, []), false);
  assert.equal(verifyConsistency(0, 3, emptyRoot(), r3, [r3]), false);
  assert.deepEqual(t.consistencyProof(0, 5), []);
  assert.equal(verifyInclusion(t.leafHashAt(0), 0, 1, [], t.root(1)), true);
  assert.equal(verifyInclusion(t.leafHashAt(0), 0, 0, [], emptyRoot()), false);
  assert.equal(verifyInclusion(t.leafHashAt(0), 0.5, 2, [], t.root(2)), false);
  assert.equal(verifyInclusion(t.leafHashAt(0), Number.NaN, 2, [], t.root(2)), false);
  assert.equal(verifyInclusion(t.leafHashAt(0), 0, 2 ** 60, [], t.root(2)), false);
  assert.throws(() => t.root(9), RangeError);
  assert.throws(() => t.inclusionProof(8, 8), RangeError);
  assert.throws(() => t.inclusionProof(0, 0), RangeError);
  assert.throws(() => t.consistencyProof(5, 4), RangeError);
  assert.throws(() => t.leafHashAt(-1), RangeError);
  assert.throws(() => t.appendLeafHash(Buffer.alloc(3)), RangeError);
  const e = new MerkleTree();
  assert.equal(e.size, 0);
  assert.deepEqual(e.root(), emptyRoot());
  assert.deepEqual(MerkleTree.fromLeafHashes(LEAVES.map((l) => leafHash(hx(l)))).root(), t.root());
});

test('100,000 leaves: root and proofs in reasonable time', (ctx) => {
  const N = 100_000;
  const t0 = performance.now();
  const t = new MerkleTree();
  for (let i = 0; i < N; i++) t.append(leafData(i));
  const t1 = performance.now();
  const root = t.root();
  const t2 = performance.now();
  const idx = 77_777;
  const proof = t.inclusionProof(idx, N);
  const cons = t.consistencyProof(65_537, N);
  const t3 = performance.now();
  assert.ok(verifyInclusion(t.leafHashAt(idx), idx, N, proof, root));
  assert.ok(verifyConsistency(65_537, N, t.root(65_537), root, cons));
  const t4 = performance.now();
  assert.equal(proof.length, 17);
  // Roots of every size agree with a level-by-level rebuild for a few sizes.
  for (const n of [1, 1023, 1024, 65_536, N]) {
    assert.deepEqual(t.root(n), MerkleTree.fromLeafHashes(Array.from({ length: n }, (_, i) => t.leafHashAt(i))).root());
  }
  const msg =
    `100k leaves: append ${(t1 - t0).toFixed(0)} ms, root ${(t2 - t1).toFixed(2)} ms, ` +
    `2 proofs ${(t3 - t2).toFixed(2)} ms, 2 verifications ${(t4 - t3).toFixed(2)} ms`;
  ctx.diagnostic(msg);
  console.log(msg);
  assert.ok(t1 - t0 < 20_000, msg);
  assert.ok(t3 - t1 < 1_000, msg);
});
