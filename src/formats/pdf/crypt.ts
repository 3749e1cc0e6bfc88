/**
 * PDF Standard security handler with the empty password, as ClamAV 1.4 tries it: the file key
 * (revisions 2 to 6), and RC4 / AES-CBC decryption of one object's string or stream.
 *
 * In: the values of the encryption dictionary (R, P, O, U, OE, UE, key length, EncryptMetadata)
 * and the file ID; later, a key, an object id and encrypted bytes. Out: the key when the empty
 * user password (or, for R6, the empty owner password) opens the file, else undefined; decrypted
 * bytes, or undefined where ClamAV's `decrypt_any` gives nothing. Never throws.
 *
 * ClamAV's own arithmetic is kept where it departs from the specification: the R6 hash loop's
 * end test, a P of -1 read as "no P", AES data shorter than 32 bytes decrypting to zeros, and
 * bad padding leaving the padded length.
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';

export const enum Enc { Unknown = 0, None = 1, Identity = 2, V2 = 3, AESV2 = 4, AESV3 = 5 }

const PADDING = Buffer.from('28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a', 'hex');

const md5 = (...parts: Uint8Array[]): Buffer => { const h = createHash('md5'); for (const p of parts) h.update(p); return h.digest(); };
const sha = (algo: string, data: Uint8Array): Buffer => createHash(algo).update(data).digest();

/** RC4 over `data` (a copy is returned). */
export function rc4(key: Uint8Array, data: Uint8Array): Uint8Array {
  const s = new Uint8Array(256);
  for (let i = 0; i < 256; i++) s[i] = i;
  if (key.length === 0) return Uint8Array.from(data);
  for (let i = 0, j = 0; i < 256; i++) {
    j = (j + s[i]! + key[i % key.length]!) & 0xff;
    const t = s[i]!; s[i] = s[j]!; s[j] = t;
  }
  const out = new Uint8Array(data.length);
  for (let k = 0, i = 0, j = 0; k < data.length; k++) {
    i = (i + 1) & 0xff;
    j = (j + s[i]!) & 0xff;
    const t = s[i]!; s[i] = s[j]!; s[j] = t;
    out[k] = data[k]! ^ s[(s[i]! + s[j]!) & 0xff]!;
  }
  return out;
}

function aesCbcRaw(key: Uint8Array, iv: Uint8Array, data: Uint8Array, encrypt: boolean): Buffer {
  const algo = `aes-${key.length * 8}-cbc`;
  const c = encrypt ? createCipheriv(algo, key, iv) : createDecipheriv(algo, key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/**
 * ClamAV's `aes_256cbc_decrypt`: whole blocks only; with an IV (the first 16 bytes) the padding
 * is removed when it is well formed. Output length as ClamAV computes it.
 */
function aesDecrypt(input: Uint8Array, key: Uint8Array, hasIv: boolean): Uint8Array {
  if (!(key.length === 16 || key.length === 24 || key.length === 32) || input.length < 32) return new Uint8Array(input.length);
  let iv: Uint8Array = new Uint8Array(16);
  let data = input;
  if (hasIv) { iv = input.subarray(0, 16); data = input.subarray(16); }
  const blocks = Math.floor(data.length / 16);
  const plain = aesCbcRaw(key, iv, data.subarray(0, blocks * 16), false);
  if (!hasIv) return plain;
  const pad = plain[plain.length - 1] ?? 0;
  if (pad > 0x10) return plain;
  for (let i = 1; i < pad; i++) if (plain[plain.length - pad + i] !== pad) return plain;
  return plain.subarray(0, plain.length - pad);
}

/** ClamAV's R6 hash (ISO 32000-2 algorithm 2.B with ClamAV's loop end test), for the empty password. */
export function hashR6(salt: Uint8Array, u: Uint8Array | undefined): Buffer {
  const extra = u ? u.subarray(0, 48) : new Uint8Array(0);
  let block: Buffer = sha('sha256', Buffer.concat([salt.subarray(0, 8), extra]));
  let blockSize = 32;
  let last = 0;
  for (let i = 0; i < 64 || i < last + 32; i++) {
    const unit = Buffer.concat([block.subarray(0, blockSize), extra]);
    const data = Buffer.alloc(unit.length * 64);
    for (let j = 0; j < 64; j++) unit.copy(data, j * unit.length);
    const e = aesCbcRaw(block.subarray(0, 16), block.subarray(16, 32), data, true);
    let sum = 0;
    for (let j = 0; j < 16; j++) sum += e[j]!;
    blockSize = 32 + (sum % 3) * 16;
    block = sha(blockSize === 32 ? 'sha256' : blockSize === 48 ? 'sha384' : 'sha512', e);
    last = e[e.length - 1]!;
  }
  return block.subarray(0, 32);
}

export interface EncryptParams {
  R: number;
  /** /P as ClamAV reads it (a 32-bit int; -1 also when absent). */
  P: number;
  O: Uint8Array;
  U: Uint8Array;
  OE?: Uint8Array | undefined;
  UE?: Uint8Array | undefined;
  /** Key length in bits as ClamAV settles it. */
  length: number;
  encryptMetadata: boolean;
  fileId: Uint8Array;
}

/** The file key when the empty password opens the file (ClamAV's owner check, then user check). */
export function emptyPasswordKey(p: EncryptParams): Uint8Array | undefined {
  try {
    if (p.R === 6) {
      if (!p.OE) return undefined;
      const v = hashR6(p.O.subarray(32, 40), p.U);
      if (Buffer.compare(v, Buffer.from(p.O.subarray(0, 32))) === 0) {
        const h = hashR6(p.O.subarray(40, 48), p.U);
        if (p.OE.length === 32) return aesDecrypt(p.OE, h, false);
      }
    }
    if (p.R >= 2 && p.R <= 4) {
      const pBytes = Buffer.alloc(4);
      pBytes.writeInt32LE(p.P | 0);
      const tail = p.R >= 4 && !p.encryptMetadata ? Buffer.from([0xff, 0xff, 0xff, 0xff]) : Buffer.alloc(0);
      let result: Buffer = md5(PADDING, p.O.subarray(0, 32), pBytes, p.fileId, tail);
      let length = Math.min(p.length, 128);
      if (p.R >= 3) for (let i = 0; i < 50; i++) result = md5(result.subarray(0, length >> 3));
      if (p.R === 2) length = 40;
      const key = Uint8Array.from(result.subarray(0, length >> 3));
      if (p.R === 2) {
        const u = rc4(key, PADDING);
        return Buffer.compare(Buffer.from(u), Buffer.from(p.U.subarray(0, 32))) === 0 ? key : undefined;
      }
      let r: Uint8Array = md5(PADDING, p.fileId);
      r = rc4(key, r);
      for (let i = 1; i <= 19; i++) r = rc4(key.map((k) => k ^ i), r);
      return Buffer.compare(Buffer.from(r), Buffer.from(p.U.subarray(0, 16))) === 0 ? key : undefined;
    }
    if (p.R === 5) {
      const v = sha('sha256', p.U.subarray(32, 40));
      if (Buffer.compare(v, Buffer.from(p.U.subarray(0, 32))) !== 0 || !p.UE || p.UE.length !== 32) return undefined;
      return aesDecrypt(p.UE, sha('sha256', p.U.subarray(40, 48)), false);
    }
    if (p.R === 6) {
      if (!p.UE) return undefined;
      const v = hashR6(p.U.subarray(32, 40), undefined);
      if (Buffer.compare(v, Buffer.from(p.U.subarray(0, 32))) !== 0) return undefined;
      const h = hashR6(p.U.subarray(40, 48), undefined);
      if (p.UE.length !== 32) return undefined;
      return aesDecrypt(p.UE, h, false);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** ClamAV's `decrypt_any`: the object's bytes decrypted with the file key, or undefined. */
export function decryptObject(key: Uint8Array, id: number, input: Uint8Array, enc: Enc): Uint8Array | undefined {
  if (input.length === 0 || key.length === 0) return undefined;
  try {
    const salt = enc === Enc.AESV2 ? Buffer.from('sAlT', 'latin1') : Buffer.alloc(0);
    const objKey = md5(key, Buffer.from([(id >>> 8) & 0xff, (id >>> 16) & 0xff, (id >>> 24) & 0xff, id & 0xff, 0]), salt);
    const n = Math.min(key.length + 5, 16);
    switch (enc) {
      case Enc.V2: return rc4(objKey.subarray(0, n), input);
      case Enc.AESV2: return aesDecrypt(input, objKey.subarray(0, n), true);
      case Enc.AESV3: return aesDecrypt(input, key, true);
      case Enc.Identity: return Uint8Array.from(input);
      default: return undefined;
    }
  } catch {
    return undefined;
  }
}
