/**
 * Key recovery: from one original/encrypted pair, or from the known bytes of the file's format.
 *
 * In: the original and encrypted bytes; or the encrypted bytes and the original's type. Out: a
 * key (static XOR with its period, keystream, or partial encryption with the encrypted length),
 * how it was found, and notes; or a refusal saying why.
 * Why: `plain ⊕ cipher` is the whole story of a generic flaw: p-periodic over the overlap (p ≤
 * 4096, seen at least twice) is a static XOR key; zero after N bytes is partial encryption; else a
 * keystream, valid for other files only if the ransomware reused key and nonce. Without an
 * original, a format's fixed bytes give the key bytes at their offsets; a key is accepted only if
 * the whole file then passes the format's structure check (CRCs, directory, trailer), i.e. is
 * proved by bytes it was not derived from.
 */
import { applyKey, type RansomKey } from './keystream.js';
import { checkAs, knownBytes, type FileType } from './headers.js';
import { nonZeroLength, shortestPeriod, xorBytes } from './xor.js';

export const MAX_PERIOD = 4096;
/** Zero bytes at the end of `plain ⊕ cipher` that prove partial encryption (a keystream ends in k zeros with probability 256^-k). */
const PARTIAL_MIN_ZERO_TAIL = 16;

export type Recovery =
  | { ok: true; key: RansomKey; method: string; notes: string[]; check?: string; variant?: string }
  | { ok: false; reason: string };

export type WantKind = 'auto' | 'xor' | 'keystream' | 'partial';

/** The key behind one original/encrypted pair. */
export function recoverFromPair(plain: Uint8Array, cipher: Uint8Array, want: WantKind = 'auto'): Recovery {
  const notes: string[] = [];
  const n = Math.min(plain.length, cipher.length);
  if (n === 0) return { ok: false, reason: 'one of the files is empty: nothing to compare' };
  if (plain.length !== cipher.length) {
    notes.push(`sizes differ (original ${plain.length}, encrypted ${cipher.length} bytes): only the first ${n} bytes were compared; data the ransomware added or removed is not modelled`);
  }
  const diff = xorBytes(plain, cipher);
  const len = nonZeroLength(diff);
  if (len === 0) return { ok: false, reason: `the files are identical over their ${n} common bytes: this pair is not encrypted` };
  if (n - len >= PARTIAL_MIN_ZERO_TAIL || want === 'partial') {
    if (n - len < PARTIAL_MIN_ZERO_TAIL) return { ok: false, reason: `not partial encryption: the files differ up to byte ${len} of ${n}` };
    // A keystream byte of zero at the very end would make the region look shorter: round up to
    // a KiB boundary when that adds only a few zero bytes.
    const kib = Math.ceil(len / 1024) * 1024;
    const encrypted = kib - len <= 8 && kib <= n ? kib : len;
    const head = diff.subarray(0, encrypted);
    const p = shortestPeriod(head);
    notes.push(`only the first ${encrypted} bytes${encrypted % 1024 === 0 ? ` (${encrypted / 1024} KiB)` : ''} differ; the remaining ${n - encrypted} bytes are unencrypted`);
    if (p <= MAX_PERIOD && encrypted >= 2 * p && want !== 'keystream') {
      return { ok: true, key: { kind: 'partial', encryptedBytes: encrypted, inner: 'xor', key: head.slice(0, p) }, method: 'known-pair', notes: [...notes, `the encrypted part is XOR with a ${p}-byte key`] };
    }
    return { ok: true, key: { kind: 'partial', encryptedBytes: encrypted, inner: 'keystream', key: head.slice() }, method: 'known-pair', notes: [...notes, 'the encrypted part is a keystream (no period ≤ 4096): valid for other files if key and nonce were reused'] };
  }
  const p = shortestPeriod(diff);
  if (want !== 'keystream') {
    if (p <= MAX_PERIOD && n >= 2 * p) {
      return { ok: true, key: { kind: 'xor', key: diff.slice(0, p) }, method: 'known-pair', notes: [...notes, `original ⊕ encrypted repeats with period ${p} over all ${n} bytes`] };
    }
    const why = p > MAX_PERIOD
      ? `original ⊕ encrypted has no period ≤ ${MAX_PERIOD} over ${n} bytes (shortest: ${p})`
      : `the pair (${n} bytes) is too short to see a ${p}-byte period repeat`;
    if (want === 'xor') return { ok: false, reason: `not a static XOR key: ${why}` };
    notes.push(`not a static XOR key: ${why}`);
  }
  notes.push(`recorded as a ${n}-byte keystream: it decrypts other files if the ransomware reused one stream-cipher key and nonce (AES-CTR, ChaCha20, RC4 with a fixed key), and files longer than ${n} bytes only in part`);
  return { ok: true, key: { kind: 'keystream', stream: diff.slice() }, method: 'known-pair', notes };
}

/**
 * The key from the known bytes of the original's format. A static XOR key of period p is tried
 * for p = 1 up to the number of known bytes, under each hypothesis of the format; the first whose
 * decryption passes the full structure check wins. Otherwise the known prefix is recorded as a
 * keystream, which recovers only that many bytes of each file.
 */
export function recoverFromHeader(cipher: Uint8Array, type: FileType, want: WantKind = 'auto'): Recovery {
  const hyps = knownBytes(type, cipher.length);
  if (hyps.length === 0) {
    return { ok: false, reason: type === 'text' ? 'text has no fixed header: an original/encrypted pair is needed' : `${cipher.length} bytes is too short for a ${type} file` };
  }
  const tried: string[] = [];
  if (want === 'auto' || want === 'xor') {
    for (const h of hyps) {
      const maxP = Math.min(MAX_PERIOD, h.offsets.length);
      let consistentCount = 0;
      for (let p = 1; p <= maxP; p++) {
        const key = new Int16Array(p).fill(-1);
        let good = true;
        for (let i = 0; i < h.offsets.length && good; i++) {
          const off = h.offsets[i] as number;
          const k = (cipher[off] as number) ^ (h.values[i] as number);
          const r = off % p;
          const have = key[r] as number;
          if (have < 0) key[r] = k; else if (have !== k) good = false;
        }
        if (!good || key.includes(-1)) continue;
        consistentCount++;
        const candidate: RansomKey = { kind: 'xor', key: Uint8Array.from(key) };
        const check = checkAs(applyKey(candidate, cipher).plain, type);
        if (check.ok) {
          return {
            ok: true, key: candidate, method: `header:${type}`, variant: h.variant, check: check.detail,
            notes: [`${h.offsets.length} known bytes of a ${type} file (${h.variant}) give a ${p}-byte XOR key; the decrypted file passes the ${type} structure check (${check.detail})`],
          };
        }
      }
      tried.push(`${h.variant}: ${h.offsets.length} known bytes, ${consistentCount} consistent periods, none passes the structure check`);
    }
    if (want === 'xor') return { ok: false, reason: `no static XOR key of period ≤ ${Math.max(...hyps.map((h) => h.offsets.length))} fits (${tried.join('; ')}); longer keys need an original/encrypted pair` };
  }
  // Keystream: only the bytes every hypothesis agrees on, from offset 0.
  let prefix = 0;
  for (; ; prefix++) {
    const v = hyps.map((h) => (h.offsets[prefix] === prefix && prefix < h.prefix ? h.values[prefix] : -1));
    if (v[0] === -1 || v.some((x) => x !== v[0])) break;
  }
  if (prefix === 0) return { ok: false, reason: `no byte of a ${type} header is certain` };
  const stream = new Uint8Array(prefix);
  for (let i = 0; i < prefix; i++) stream[i] = (cipher[i] as number) ^ (hyps[0]!.values[i] as number);
  return {
    ok: true, key: { kind: 'keystream', stream }, method: `header:${type}`, variant: hyps.length === 1 ? hyps[0]!.variant : 'bytes common to every variant',
    notes: [
      ...(tried.length ? [`not a static XOR key of period ≤ the known bytes (${tried.join('; ')}); longer keys need an original/encrypted pair`] : []),
      `recorded as a keystream of the ${prefix} header bytes: if the ransomware reused one key and nonce, this recovers only the first ${prefix} bytes of each file (an original/encrypted pair recovers whole files)`,
    ],
  };
}
