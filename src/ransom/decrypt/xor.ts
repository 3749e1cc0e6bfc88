/**
 * Byte-wise XOR and the periods of a difference: the arithmetic of generic ransomware flaws.
 *
 * In: byte arrays (an original and its encrypted copy, or a key and data). Out: XORed bytes; the
 * shortest period of a byte string (KMP failure function, linear time); the length of the leading
 * region where two files differ (partial encryption).
 * Why: a static XOR key, a reused keystream and partial encryption all reduce to
 * `plain ⊕ cipher`; its period tells a repeating key from a keystream, its zero tail tells how
 * much of a file was encrypted.
 */

/** `data ⊕ key` where the key repeats with its own length, starting at key offset `phase`. */
export function xorRepeating(data: Uint8Array, key: Uint8Array, phase = 0): Uint8Array {
  if (key.length === 0) throw new RangeError('xorRepeating: empty key');
  const out = new Uint8Array(data.length);
  const p = key.length;
  let k = phase % p;
  for (let i = 0; i < data.length; i++) {
    out[i] = (data[i] as number) ^ (key[k] as number);
    if (++k === p) k = 0;
  }
  return out;
}

/**
 * `data ⊕ stream` over the first `min(data.length, stream.length, limit)` bytes; the rest of
 * `data` is copied unchanged.
 */
export function xorPrefix(data: Uint8Array, stream: Uint8Array, limit = Infinity): Uint8Array {
  const out = Uint8Array.from(data);
  const n = Math.min(data.length, stream.length, limit);
  for (let i = 0; i < n; i++) out[i] = (data[i] as number) ^ (stream[i] as number);
  return out;
}

/** `a ⊕ b` over the shorter length. */
export function xorBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const n = Math.min(a.length, b.length);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}

/**
 * The shortest period p of `s` (s[i] = s[i - p] for every i ≥ p): `s.length` minus its longest
 * proper border, from the KMP failure function. 0 for an empty string.
 */
export function shortestPeriod(s: Uint8Array): number {
  const n = s.length;
  if (n === 0) return 0;
  const fail = new Int32Array(n);
  let k = 0;
  for (let i = 1; i < n; i++) {
    const c = s[i] as number;
    while (k > 0 && (s[k] as number) !== c) k = fail[k - 1] as number;
    if ((s[k] as number) === c) k++;
    fail[i] = k;
  }
  return n - (fail[n - 1] as number);
}

/** Index one past the last non-zero byte of `s` (0 when all bytes are zero). */
export function nonZeroLength(s: Uint8Array): number {
  for (let i = s.length - 1; i >= 0; i--) if (s[i] !== 0) return i + 1;
  return 0;
}
