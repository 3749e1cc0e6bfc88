/**
 * The keys a generic flaw leaves, and how each one decrypts a file.
 *
 * In: a key (a static XOR key, a keystream, or either limited to the first N bytes of every file)
 * and encrypted bytes. Out: the decrypted bytes, and how many of them the key covers.
 * Why: a reused stream-cipher key and nonce (AES-CTR, ChaCha20, RC4 with a fixed key) makes every
 * file `plain ⊕ S` for one keystream S; a static XOR key is the same with S periodic; partial
 * encryption leaves everything after the first N bytes untouched. One model serves all three.
 */
import { xorPrefix, xorRepeating } from './xor.js';

export type RansomKey =
  /** Every byte XORed with `key[offset mod key.length]`. */
  | { kind: 'xor'; key: Uint8Array }
  /** Every byte XORed with `stream[offset]`; bytes past the stream cannot be decrypted. */
  | { kind: 'keystream'; stream: Uint8Array }
  /** Only the first `encryptedBytes` of each file are encrypted (by a repeating key or a stream). */
  | { kind: 'partial'; encryptedBytes: number; inner: 'xor' | 'keystream'; key: Uint8Array };

export interface Applied {
  plain: Uint8Array;
  /** Bytes decrypted from the start (the rest, if any, is still encrypted). */
  covered: number;
  /** false when the file is longer than the keystream. */
  complete: boolean;
}

/** Decrypts `data` with `key`. */
export function applyKey(key: RansomKey, data: Uint8Array): Applied {
  switch (key.kind) {
    case 'xor':
      return { plain: xorRepeating(data, key.key), covered: data.length, complete: true };
    case 'keystream': {
      const covered = Math.min(data.length, key.stream.length);
      return { plain: xorPrefix(data, key.stream), covered, complete: covered === data.length };
    }
    case 'partial': {
      const n = Math.min(data.length, key.encryptedBytes);
      const out = Uint8Array.from(data);
      if (key.inner === 'xor') {
        const p = key.key.length;
        for (let i = 0; i < n; i++) out[i] = (out[i] as number) ^ (key.key[i % p] as number);
        return { plain: out, covered: data.length, complete: true };
      }
      const m = Math.min(n, key.key.length);
      for (let i = 0; i < m; i++) out[i] = (out[i] as number) ^ (key.key[i] as number);
      return { plain: out, covered: m === n ? data.length : m, complete: m === n };
    }
  }
}

/** A one-line description of what the key recovers. */
export function coverageText(key: RansomKey): string {
  switch (key.kind) {
    case 'xor': return `every byte of files of any length (XOR key of ${key.key.length} bytes)`;
    case 'keystream': return `the first ${key.stream.length} bytes of each file (keystream of ${key.stream.length} bytes); longer files only in part`;
    case 'partial': return key.inner === 'xor'
      ? `every byte of files of any length (first ${key.encryptedBytes} bytes XORed with a ${key.key.length}-byte key, the rest untouched)`
      : `every byte of files of any length (first ${key.encryptedBytes} bytes encrypted with a reused keystream, the rest untouched)`;
  }
}
