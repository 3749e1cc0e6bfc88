/**
 * Merkle tree of RFC 9162 (Certificate Transparency v2), same hashing as RFC 6962.
 *
 * In:  leaf data (or precomputed leaf hashes) appended in order; proofs and
 *      tree heads received from a transparency log.
 * Out: tree hashes (MTH) for any prefix size, inclusion proofs (PATH) and
 *      consistency proofs (PROOF), and boolean verifiers that follow
 *      RFC 9162 §2.1.3.2 and §2.1.4.2 step by step.
 * Why: vigil's signature-bundle log is append-only and auditable; clients must
 *      be able to prove that a bundle is in the log and that a newer log head
 *      extends an older one, without trusting the server.
 *
 * Hashing: leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right),
 * MTH({}) = SHA-256(""). The tree stores leaf hashes and every complete,
 * aligned subtree hash (levels), so a root or a proof costs O(log² n) hashes
 * and appending costs O(1) amortised.
 *
 * Sizes and indices are JavaScript numbers (safe integers); the verifiers
 * never use 32-bit bitwise operators, so sizes up to 2^53 - 1 are handled.
 * Verifiers never throw on hostile input: anything malformed returns false.
 */
import { createHash } from 'node:crypto';

/** Length of every hash in this tree (SHA-256). */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** MTH of the empty tree: SHA-256 of the empty string. */
export function emptyRoot(): Buffer {
  return createHash('sha256').digest();
}

/** RFC 9162 §2.1.1: leaf hash, SHA-256(0x00 || data). */
export function leafHash(data: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

/** RFC 9162 §2.1.1: interior node hash, SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    throw new RangeError(
      `merkle: node children must be ${HASH_SIZE}-byte hashes (got ${left.length} and ${right.length})`,
    );
  }
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/** Largest power of two strictly smaller than n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  let p = 1;
  while (p < n) p *= 2;
  return p === n;
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

function isSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** An append-only Merkle tree over leaf hashes. */
export class MerkleTree {
  /** levels[k][j] = hash of the complete subtree of 2^k leaves starting at j * 2^k. */
  readonly #levels: Buffer[][] = [[]];

  /** Builds a tree from already computed leaf hashes. */
  static fromLeafHashes(hashes: Iterable<Uint8Array>): MerkleTree {
    const tree = new MerkleTree();
    for (const h of hashes) tree.appendLeafHash(h);
    return tree;
  }

  /** Number of leaves. */
  get size(): number {
    return this.#leaves().length;
  }

  #leaves(): Buffer[] {
    const leaves = this.#levels[0];
    if (leaves === undefined) throw new Error('merkle: internal error, no leaf level');
    return leaves;
  }

  /** Appends a leaf (its data is hashed as a leaf); returns its index. */
  append(leafData: Uint8Array): number {
    return this.appendLeafHash(leafHash(leafData));
  }

  /** Appends a precomputed leaf hash; returns its index. */
  appendLeafHash(hash: Uint8Array): number {
    if (!isHash(hash)) {
      throw new RangeError(`merkle: a leaf hash must be ${HASH_SIZE} bytes`);
    }
    const leaves = this.#leaves();
    const index = leaves.length;
    leaves.push(Buffer.from(hash));
    // Close every complete subtree that this leaf finishes.
    let level = 0;
    let pos = index;
    while (pos % 2 === 1) {
      const row = this.#levels[level];
      const left = row?.[pos - 1];
      const right = row?.[pos];
      if (left === undefined || right === undefined) {
        throw new Error('merkle: internal error, missing subtree');
      }
      let up = this.#levels[level + 1];
      if (up === undefined) {
        up = [];
        this.#levels.push(up);
      }
      up.push(nodeHash(left, right));
      level += 1;
      pos = (pos - 1) / 2;
    }
    return index;
  }

  /** Hash of leaf `index` (a copy). */
  leafHashAt(index: number): Buffer {
    this.#checkIndex(index, this.size, 'index', 'size');
    const h = this.#leaves()[index];
    if (h === undefined) throw new Error('merkle: internal error, missing leaf');
    return Buffer.from(h);
  }

  /** MTH of the first n leaves (default: all of them). */
  root(n: number = this.size): Buffer {
    this.#checkSize(n);
    if (n === 0) return emptyRoot();
    return this.#hashRange(0, n);
  }

  /** RFC 9162 §2.1.3.1 PATH(index, D[n]): inclusion proof, bottom to top. */
  inclusionProof(index: number, n: number = this.size): Buffer[] {
    this.#checkSize(n);
    this.#checkIndex(index, n, 'index', 'tree size');
    const out: Buffer[] = [];
    this.#path(index, 0, n, out);
    return out;
  }

  /**
   * RFC 9162 §2.1.4.1 PROOF(m, D[n]): consistency proof between the first m
   * and the first n leaves. Defined by the RFC for 0 < m < n; m = n and m = 0
   * give the empty proof (nothing to prove).
   */
  consistencyProof(m: number, n: number = this.size): Buffer[] {
    this.#checkSize(n);
    if (!isSize(m) || m > n) {
      throw new RangeError(`merkle: consistency from size ${String(m)} to ${n} is not a valid pair (need 0 ≤ m ≤ n)`);
    }
    const out: Buffer[] = [];
    if (m === 0 || m === n) return out;
    this.#subproof(m, 0, n, true, out);
    return out;
  }

  #checkSize(n: number): void {
    if (!isSize(n) || n > this.size) {
      throw new RangeError(`merkle: tree size ${String(n)} out of range (tree has ${this.size} leaves)`);
    }
  }

  #checkIndex(index: number, bound: number, what: string, boundName: string): void {
    if (!isSize(index) || index >= bound) {
      throw new RangeError(`merkle: ${what} ${String(index)} out of range (${boundName} ${bound})`);
    }
  }

  /** MTH(D[start : start + n]) for n ≥ 1; complete aligned subtrees are looked up. */
  #hashRange(start: number, n: number): Buffer {
    if (isPowerOfTwo(n) && start % n === 0) {
      let level = 0;
      for (let p = 1; p < n; p *= 2) level += 1;
      const h = this.#levels[level]?.[start / n];
      if (h === undefined) throw new Error('merkle: internal error, missing subtree');
      return h;
    }
    const k = splitPoint(n);
    return nodeHash(this.#hashRange(start, k), this.#hashRange(start + k, n - k));
  }

  /** PATH(m, D[start : start + n]) appended to out, leaf level first. */
  #path(m: number, start: number, n: number, out: Buffer[]): void {
    if (n <= 1) return;
    const k = splitPoint(n);
    if (m < k) {
      this.#path(m, start, k, out);
      out.push(this.#hashRange(start + k, n - k));
    } else {
      this.#path(m - k, start + k, n - k, out);
      out.push(this.#hashRange(start, k));
    }
  }

  /** SUBPROOF(m, D[start : start + n], b) appended to out. */
  #subproof(m: number, start: number, n: number, b: boolean, out: Buffer[]): void {
    if (m === n) {
      if (!b) out.push(this.#hashRange(start, n));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      this.#subproof(m, start, k, b, out);
      out.push(this.#hashRange(start + k, n - k));
    } else {
      this.#subproof(m - k, start + k, n - k, false, out);
      out.push(this.#hashRange(start, k));
    }
  }
}

/**
 * RFC 9162 §2.1.3.2: verifies that `leaf` (a leaf hash) is at `index` in the
 * tree of `treeSize` leaves whose MTH is `root`. Returns false on any
 * malformed input (index ≥ size, wrong proof length, non-32-byte hashes).
 */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isHash(leaf) || !isHash(root) || !Array.isArray(proof)) return false;
  if (!isSize(index) || !isSize(treeSize)) return false;
  // Step 1: leaf_index ≥ tree_size fails.
  if (index >= treeSize) return false;
  // Step 2-3.
  let fn = index;
  let sn = treeSize - 1;
  let r: Buffer = Buffer.from(leaf);
  // Step 4.
  for (const p of proof) {
    if (!isHash(p)) return false;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  return sn === 0 && bytesEqual(r, root);
}

/**
 * RFC 9162 §2.1.4.2: verifies that the tree of `second` leaves with MTH
 * `secondRoot` extends the tree of `first` leaves with MTH `firstRoot`.
 * The RFC defines the algorithm for 0 < first < second; in addition
 * first = second holds iff the proof is empty and the roots are equal, and
 * first = 0 holds iff the proof is empty and firstRoot is the empty-tree hash.
 */
export function verifyConsistency(
  first: number,
  second: number,
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isHash(firstRoot) || !isHash(secondRoot) || !Array.isArray(proof)) return false;
  if (!isSize(first) || !isSize(second)) return false;
  if (first > second) return false;
  if (!proof.every(isHash)) return false;
  if (first === second) return proof.length === 0 && bytesEqual(firstRoot, secondRoot);
  if (first === 0) return proof.length === 0 && bytesEqual(firstRoot, emptyRoot());
  // Step 1: an empty proof fails.
  if (proof.length === 0) return false;
  // Step 2: when first is an exact power of 2, first_hash is the first path element.
  const path: Uint8Array[] = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  // Step 3.
  let fn = first - 1;
  let sn = second - 1;
  // Step 4.
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  const head = path[0];
  if (head === undefined) return false;
  let fr: Buffer = Buffer.from(head);
  let sr: Buffer = Buffer.from(head);
  // Step 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i];
    if (c === undefined) return false;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 7.
  return sn === 0 && bytesEqual(fr, firstRoot) && bytesEqual(sr, secondRoot);
}
