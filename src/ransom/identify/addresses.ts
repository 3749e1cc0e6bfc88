/**
 * Contact and payment strings in ransom notes and encrypted-file names: e-mail addresses, Tor
 * onion addresses, Bitcoin addresses and Monero addresses, each checked as far as its format
 * allows.
 *
 * In: any text (a note, a file name). Out: the distinct strings found, normalised (e-mails and
 * onions lower case; addresses as written), in order of first appearance. Checks: Bitcoin P2PKH
 * and P2SH base58check (double SHA-256 checksum, version byte 0x00/0x05, testnet 0x6f/0xc4);
 * native segwit bech32 (witness v0, BIP173) and bech32m (v1..16, BIP350) with their checksum,
 * witness-program lengths and padding; Monero standard (prefix 18), integrated (19) and subaddress
 * (42) addresses in Monero's block base58 with the Keccak-256 checksum; v3 onions with their
 * SHA3-256 checksum and version byte, v2 onions by form (16 base32 characters).
 * Why: a contact string or wallet is often unique to one family (or one campaign); an unchecked
 * lookalike (a random 34-character word) must not count as one. E-mails glued into file names
 * (Dharma's `.id-XXXX.[mail@host.com].ext`, `.mail@host.com.3392cyan548qzeuf.lock`) are cut at the
 * last well-known top-level domain so that the victim id or extension after them is not taken as
 * part of the host.
 */
import { createHash } from 'node:crypto';

/** Texts are scanned up to this many characters (a note is read capped at 1 MiB already). */
const MAX_SCAN = 2 * 1024 * 1024;
/** At most this many strings of one kind are returned from one text. */
const MAX_PER_KIND = 200;

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const B58_INDEX: Int8Array = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < B58.length; i++) t[B58.charCodeAt(i)] = i;
  return t;
})();

function sha256(b: Uint8Array): Buffer {
  return createHash('sha256').update(b).digest();
}

/** Bitcoin's base58 (big-endian number, leading '1's are zero bytes); null on a foreign character. */
export function base58Decode(s: string): Uint8Array | null {
  if (s.length === 0 || s.length > 128) return null;
  let zeros = 0;
  while (zeros < s.length && s[zeros] === '1') zeros++;
  const bytes: number[] = [];
  for (let i = zeros; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? (B58_INDEX[c] as number) : -1;
    if (v < 0) return null;
    let carry = v;
    for (let j = 0; j < bytes.length; j++) {
      carry += (bytes[j] as number) * 58;
      bytes[j] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  const out = new Uint8Array(zeros + bytes.length);
  for (let i = 0; i < bytes.length; i++) out[zeros + i] = bytes[bytes.length - 1 - i] as number;
  return out;
}

export type BtcKind = 'p2pkh' | 'p2sh' | 'p2wpkh' | 'p2wsh' | 'p2tr' | 'segwit';

/** A valid legacy (base58check) address: its kind and network; null when not valid. */
export function checkBase58Address(s: string): { kind: 'p2pkh' | 'p2sh'; testnet: boolean } | null {
  if (s.length < 26 || s.length > 35) return null;
  const b = base58Decode(s);
  if (!b || b.length !== 25) return null;
  const check = sha256(sha256(b.subarray(0, 21)));
  for (let i = 0; i < 4; i++) if (b[21 + i] !== check[i]) return null;
  switch (b[0]) {
    case 0x00: return { kind: 'p2pkh', testnet: false };
    case 0x05: return { kind: 'p2sh', testnet: false };
    case 0x6f: return { kind: 'p2pkh', testnet: true };
    case 0xc4: return { kind: 'p2sh', testnet: true };
    default: return null;
  }
}

const BECH32_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const BECH32_CONST = 1;
const BECH32M_CONST = 0x2bc830a3;

function polymod(values: number[]): number {
  const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ (GEN[i] as number)) >>> 0;
  }
  return chk >>> 0;
}

function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) >> 5);
  out.push(0);
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) & 31);
  return out;
}

/** Decodes a bech32 or bech32m string (BIP173/BIP350 rules: ≤ 90 chars, one case, valid checksum). */
export function bech32Decode(s: string): { hrp: string; data: number[]; encoding: 'bech32' | 'bech32m' } | null {
  if (s.length < 8 || s.length > 90) return null;
  if (s !== s.toLowerCase() && s !== s.toUpperCase()) return null;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 33 || c > 126) return null;
  }
  const l = s.toLowerCase();
  const pos = l.lastIndexOf('1');
  if (pos < 1 || pos + 7 > l.length) return null;
  const hrp = l.slice(0, pos);
  const data: number[] = [];
  for (let i = pos + 1; i < l.length; i++) {
    const v = BECH32_CHARSET.indexOf(l[i] as string);
    if (v < 0) return null;
    data.push(v);
  }
  const pm = polymod([...hrpExpand(hrp), ...data]);
  const encoding = pm === BECH32_CONST ? 'bech32' : pm === BECH32M_CONST ? 'bech32m' : null;
  if (!encoding) return null;
  return { hrp, data: data.slice(0, -6), encoding };
}

function convertBits(data: number[], from: number, to: number): number[] | null {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const maxv = (1 << to) - 1;
  for (const v of data) {
    acc = (acc << from) | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & maxv);
    }
    acc &= (1 << bits) - 1;
  }
  // Segwit: at most 4 bits of zero padding.
  if (bits >= from || ((acc << (to - bits)) & maxv) !== 0) return null;
  return out;
}

/** A valid native segwit address (BIP173 v0 with bech32, BIP350 v1+ with bech32m); null otherwise. */
export function checkSegwitAddress(s: string): { kind: BtcKind; version: number; testnet: boolean; program: Uint8Array } | null {
  const d = bech32Decode(s);
  if (!d || (d.hrp !== 'bc' && d.hrp !== 'tb')) return null;
  const version = d.data[0];
  if (version === undefined || version > 16) return null;
  if ((version === 0) !== (d.encoding === 'bech32')) return null;
  const prog = convertBits(d.data.slice(1), 5, 8);
  if (!prog || prog.length < 2 || prog.length > 40) return null;
  if (version === 0 && prog.length !== 20 && prog.length !== 32) return null;
  const kind: BtcKind = version === 0 ? (prog.length === 20 ? 'p2wpkh' : 'p2wsh') : version === 1 && prog.length === 32 ? 'p2tr' : 'segwit';
  return { kind, version, testnet: d.hrp === 'tb', program: Uint8Array.from(prog) };
}

/** True for any valid Bitcoin address (legacy or segwit, mainnet or testnet). */
export function isBtcAddress(s: string): boolean {
  return checkBase58Address(s) !== null || checkSegwitAddress(s) !== null;
}

// ---- Monero -------------------------------------------------------------------------------

const KECCAK_RC: readonly bigint[] = [
  0x0000000000000001n, 0x0000000000008082n, 0x800000000000808an, 0x8000000080008000n, 0x000000000000808bn,
  0x0000000080000001n, 0x8000000080008081n, 0x8000000000008009n, 0x000000000000008an, 0x0000000000000088n,
  0x0000000080008009n, 0x000000008000000an, 0x000000008000808bn, 0x800000000000008bn, 0x8000000000008089n,
  0x8000000000008003n, 0x8000000000008002n, 0x8000000000000080n, 0x000000000000800an, 0x800000008000000an,
  0x8000000080008081n, 0x8000000000008080n, 0x0000000080000001n, 0x8000000080008008n,
];
const KECCAK_ROT: readonly number[] = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14];
const M64 = (1n << 64n) - 1n;

function rotl(x: bigint, n: number): bigint {
  return n === 0 ? x : ((x << BigInt(n)) | (x >> BigInt(64 - n))) & M64;
}

function keccakF(a: bigint[]): void {
  const c = new Array<bigint>(5);
  const b = new Array<bigint>(25);
  for (let round = 0; round < 24; round++) {
    for (let x = 0; x < 5; x++) c[x] = (a[x] as bigint) ^ (a[x + 5] as bigint) ^ (a[x + 10] as bigint) ^ (a[x + 15] as bigint) ^ (a[x + 20] as bigint);
    for (let x = 0; x < 5; x++) {
      const d = (c[(x + 4) % 5] as bigint) ^ rotl(c[(x + 1) % 5] as bigint, 1);
      for (let y = 0; y < 25; y += 5) a[y + x] = (a[y + x] as bigint) ^ d;
    }
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++) b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(a[x + 5 * y] as bigint, KECCAK_ROT[x + 5 * y] as number);
    }
    for (let y = 0; y < 25; y += 5) {
      for (let x = 0; x < 5; x++) a[y + x] = (b[y + x] as bigint) ^ (~(b[y + ((x + 1) % 5)] as bigint) & M64 & (b[y + ((x + 2) % 5)] as bigint));
    }
    a[0] = (a[0] as bigint) ^ (KECCAK_RC[round] as bigint);
  }
}

/** Keccak-256 as Monero and Ethereum use it (original padding 0x01, not SHA3's 0x06). */
export function keccak256(msg: Uint8Array): Uint8Array {
  const rate = 136;
  const padded = new Uint8Array(Math.floor(msg.length / rate) * rate + rate);
  padded.set(msg);
  padded[msg.length] = (padded[msg.length] as number) ^ 0x01;
  padded[padded.length - 1] = (padded[padded.length - 1] as number) ^ 0x80;
  const a = new Array<bigint>(25).fill(0n);
  for (let off = 0; off < padded.length; off += rate) {
    for (let i = 0; i < rate / 8; i++) {
      let lane = 0n;
      for (let k = 7; k >= 0; k--) lane = (lane << 8n) | BigInt(padded[off + i * 8 + k] as number);
      a[i] = (a[i] as bigint) ^ lane;
    }
    keccakF(a);
  }
  const out = new Uint8Array(32);
  for (let i = 0; i < 4; i++) {
    let lane = a[i] as bigint;
    for (let k = 0; k < 8; k++) {
      out[i * 8 + k] = Number(lane & 0xffn);
      lane >>= 8n;
    }
  }
  return out;
}

/** Encoded length of a Monero base58 block of n bytes (n = 0..8). */
const XMR_ENCODED_BLOCK = [0, 2, 3, 5, 6, 7, 9, 10, 11];

/** Monero's base58: 8-byte blocks encoded as 11 characters each, the last block shorter. */
export function moneroBase58Decode(s: string): Uint8Array | null {
  const full = Math.floor(s.length / 11);
  const lastLen = s.length % 11;
  const lastBytes = XMR_ENCODED_BLOCK.indexOf(lastLen);
  if (lastBytes < 0) return null;
  const out = new Uint8Array(full * 8 + lastBytes);
  const decodeBlock = (chunk: string, size: number, at: number): boolean => {
    let n = 0n;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      const v = c < 128 ? (B58_INDEX[c] as number) : -1;
      if (v < 0) return false;
      n = n * 58n + BigInt(v);
    }
    if (n >> BigInt(size * 8) !== 0n) return false;
    for (let i = size - 1; i >= 0; i--) {
      out[at + i] = Number(n & 0xffn);
      n >>= 8n;
    }
    return true;
  };
  for (let b = 0; b < full; b++) if (!decodeBlock(s.slice(b * 11, b * 11 + 11), 8, b * 8)) return null;
  if (lastBytes > 0 && !decodeBlock(s.slice(full * 11), lastBytes, full * 8)) return null;
  return out;
}

/** A valid Monero mainnet address: standard (95 chars), integrated (106) or subaddress (95). */
export function checkMoneroAddress(s: string): { kind: 'standard' | 'integrated' | 'subaddress' } | null {
  if (s.length !== 95 && s.length !== 106) return null;
  const b = moneroBase58Decode(s);
  if (!b) return null;
  const body = b.subarray(0, b.length - 4);
  const sum = keccak256(body);
  for (let i = 0; i < 4; i++) if (b[b.length - 4 + i] !== sum[i]) return null;
  const prefix = b[0];
  if (b.length === 69 && prefix === 18) return { kind: 'standard' };
  if (b.length === 69 && prefix === 42) return { kind: 'subaddress' };
  if (b.length === 77 && prefix === 19) return { kind: 'integrated' };
  return null;
}

// ---- onions -------------------------------------------------------------------------------

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32Decode(s: string): Uint8Array | null {
  let bits = 0;
  let acc = 0;
  const out: number[] = [];
  for (const ch of s) {
    const v = B32.indexOf(ch);
    if (v < 0) return null;
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

/** True for a v3 onion host (56 base32 chars: key, SHA3-256 checksum, version 3) or a v2 one (16). */
export function isOnionHost(label: string): boolean {
  const l = label.toLowerCase();
  if (/^[a-z2-7]{16}$/.test(l)) return true;
  if (!/^[a-z2-7]{56}$/.test(l)) return false;
  const b = base32Decode(l);
  if (!b || b.length !== 35 || b[34] !== 3) return false;
  const h = createHash('sha3-256').update('.onion checksum').update(b.subarray(0, 32)).update(Uint8Array.of(3)).digest();
  return h[0] === b[32] && h[1] === b[33];
}

// ---- extraction ---------------------------------------------------------------------------

/**
 * Top-level domains seen in ransom contacts, used to cut an e-mail glued to what follows it in a
 * file name. Not a validity list: an e-mail whose host has none of them is kept whole.
 */
const COMMON_TLDS = new Set([
  'com', 'net', 'org', 'info', 'biz', 'ru', 'su', 'ua', 'by', 'kz', 'cc', 'li', 'it', 'ch', 'io', 'de', 'fr', 'uk', 'me', 'is',
  'tk', 'in', 'cn', 'pl', 'eu', 'tech', 'pw', 'to', 'xyz', 'top', 'nl', 'be', 'at', 'se', 'no', 'fi', 'cz', 'sk', 'ro', 'bg',
  'gr', 'tr', 'ir', 'br', 'ar', 'mx', 'co', 'us', 'ca', 'au', 'nz', 'jp', 'kr', 'tw', 'hk', 'sg', 'ws', 'la', 'im', 'pro',
  'online', 'site', 'email', 'club', 'space', 'tv', 'fm', 'cx', 'gg', 'nu', 'one', 'life', 'world', 'zone', 'ninja', 'mx',
]);

const EMAIL_RE = /(?<![a-z0-9._%+-])[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,8}\.[a-z]{2,24}/gi;
const ONION_RE = /(?<![a-z2-7])([a-z2-7]{56}|[a-z2-7]{16})\.onion(?![a-z0-9])/gi;
const BTC_B58_RE = /(?<![A-Za-z0-9])[13mn2][1-9A-HJ-NP-Za-km-z]{25,34}(?![A-Za-z0-9])/g;
const BTC_BECH_RE = /(?<![A-Za-z0-9])(?:bc|tb|BC|TB)1[02-9ac-hj-np-zAC-HJ-NP-Z]{6,87}(?![A-Za-z0-9])/g;
const XMR_RE = /(?<![A-Za-z0-9])[48][1-9A-HJ-NP-Za-km-z]{94}(?:[1-9A-HJ-NP-Za-km-z]{11})?(?![A-Za-z0-9])/g;

function pushUnique(out: string[], seen: Set<string>, v: string): void {
  if (out.length < MAX_PER_KIND && !seen.has(v)) {
    seen.add(v);
    out.push(v);
  }
}

/** Cuts a host at its last common top-level domain label (`india.com.3392cyan548qzeuf.lock` → `india.com`). */
function trimHost(email: string): string {
  const at = email.indexOf('@');
  const labels = email.slice(at + 1).split('.');
  if (labels.length <= 2 || COMMON_TLDS.has(labels[labels.length - 1] as string)) return email;
  for (let i = labels.length - 2; i >= 1; i--) {
    if (COMMON_TLDS.has(labels[i] as string)) return `${email.slice(0, at)}@${labels.slice(0, i + 1).join('.')}`;
  }
  return email;
}

/** The e-mail addresses in a text, lower case; in file names hosts are cut at a common TLD. */
export function extractEmails(text: string, opts: { fileName?: boolean } = {}): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const m of text.slice(0, MAX_SCAN).matchAll(EMAIL_RE)) {
    let e = m[0].toLowerCase().replace(/^[._%+-]+/, '');
    if (opts.fileName) {
      e = trimHost(e);
      // A name glues the contact to what precedes it (`photo.jpg.id-_julia.crown@india.com_`):
      // the full local part and each tail of it after a separator are all candidates.
      const at = e.indexOf('@');
      const local = e.slice(0, at);
      for (let i = 0; i < local.length - 2; i++) {
        if (i === 0 || /[._-]/.test(local[i - 1] as string)) {
          const v = e.slice(i);
          if (/^[a-z0-9]/.test(v)) pushUnique(out, seen, v);
        }
      }
      continue;
    }
    if (e.indexOf('@') > 0) pushUnique(out, seen, e);
  }
  return out;
}

/** The onion hosts (`x.onion`, lower case) in a text; v3 ones with a valid checksum only. */
export function extractOnions(text: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const m of text.slice(0, MAX_SCAN).matchAll(ONION_RE)) {
    const host = (m[1] as string).toLowerCase();
    if (isOnionHost(host)) pushUnique(out, seen, `${host}.onion`);
  }
  return out;
}

/** The valid Bitcoin addresses in a text (legacy base58check and bech32/bech32m), as written. */
export function extractBtc(text: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const t = text.slice(0, MAX_SCAN);
  for (const m of t.matchAll(BTC_B58_RE)) if (checkBase58Address(m[0])) pushUnique(out, seen, m[0]);
  for (const m of t.matchAll(BTC_BECH_RE)) if (checkSegwitAddress(m[0])) pushUnique(out, seen, m[0].toLowerCase());
  return out;
}

/** The valid Monero addresses in a text. */
export function extractXmr(text: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const m of text.slice(0, MAX_SCAN).matchAll(XMR_RE)) if (checkMoneroAddress(m[0])) pushUnique(out, seen, m[0]);
  return out;
}
