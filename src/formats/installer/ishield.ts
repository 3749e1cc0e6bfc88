/**
 * InstallShield MSI payload (an `InstallShield` block appended to a setup PE) → its files, as
 * ClamAV 1.4 extracts them.
 *
 * In: the bytes of the layer and the offset where the type signature (`InstallShield\0`, then a
 * file block) was found. Out: lazily, each file stored there, named as stored, or the limit that
 * stopped one.
 *
 * Why this shape: after the 14-byte tag come a 32-byte header (a file count, then six words that
 * must be zero) and the files, each a 312-byte block (a 260-byte name, the compressed size at 0x10C)
 * followed by its data. The data is obfuscated with a key made from the name (each name byte
 * XORed with `ec ca 79 f8` in turn): every byte has its nibbles swapped and is XORed with the key
 * byte for its index (the index modulo 1024, then modulo the key's length), then inflated (zlib
 * format). A damaged stream keeps the output ClamAV had written before the damage (whole 8 KiB
 * pieces of output or of input), and the next file block is read where ClamAV's reading stopped. A file whose stored size passes
 * the file-size limit is skipped without a word, as ClamAV does; one whose output passes it is
 * reported as limited and ends the listing (ClamAV stops when the scan of a file fails); a missing
 * or nameless block ends it too.
 */
import { constants, inflateSync } from 'node:zlib';
import { inflateRaw, TRUNCATED } from '../zipmethods/inflate.js';
import { LIMIT, type DecodeResult } from '../compress/common.js';
import type { UnpackContext, UnpackItem } from '../unpack.js';

const TAG = 14;
const HEADER = 0x20;
const BLOCK = 312;
const NAME = 0x104;
const SKEY = [0xec, 0xca, 0x79, 0xf8];

const u32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

const CHUNK = 8192;

/**
 * zlib-format inflate bounded by `max`, keeping on damage what ClamAV writes: it feeds the stream
 * in 8 KiB pieces and writes each inflate call's output (at most 8 KiB) after the call returns, so
 * the call that meets the damage loses its output. Undefined when the output passes `max`;
 * `pieces` is how many 8 KiB pieces of input ClamAV had read when it met damage (it then goes on
 * reading the next file block from there, not from the end of this file's data).
 */
function inflateLikeClamav(input: Uint8Array, max: number): { data: Uint8Array; pieces?: number } | undefined {
  try {
    return { data: inflateSync(input, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: Math.max(1, max) }) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return undefined;
  }
  // A bad header (or a preset dictionary) gives nothing.
  if (input.length < 2 || (input[0]! & 0x0f) !== 8 || ((input[0]! << 8) | input[1]!) % 31 !== 0 || (input[1]! & 0x20)) return { data: new Uint8Array(0), pieces: 1 };
  const raw = (end: number): DecodeResult => inflateRaw(input.subarray(2, Math.max(2, end)), max);
  const full = raw(input.length);
  if (full.error === LIMIT) return undefined;
  // The piece holding the damage: the first whose end gives an error other than running out of
  // input (a wrong checksum is met in the last piece).
  const pieces = Math.ceil(input.length / CHUNK);
  const damaged = (k: number): boolean => { const r = raw(k * CHUNK); return !r.complete && r.error !== TRUNCATED; };
  let k = pieces;
  if (!full.complete) {
    let lo = 1, hi = pieces;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (damaged(mid)) hi = mid; else lo = mid + 1;
    }
    k = lo;
  }
  let written = k > 1 ? raw((k - 1) * CHUNK).data.length : 0;
  const reached = full.data.length;
  while (written + CHUNK < reached) written += CHUNK;
  return { data: full.data.subarray(0, written), pieces: k };
}

/** The items of the InstallShield payload whose tag starts at `tagAt`. */
export function* scanIshieldMsiAt(bytes: Uint8Array, tagAt: number, ctx: UnpackContext): Iterable<UnpackItem> {
  let off = tagAt + TAG;
  if (tagAt < 0 || off + HEADER > bytes.length) return;
  for (let k = 8; k < HEADER; k += 4) if (u32(bytes, off + k) !== 0) return;
  let count = u32(bytes, off);
  off += HEADER;
  const maxFile = ctx.limits.maxFileSize;
  const maxFiles = ctx.limits.maxFiles;
  let scanned = 0;
  while (count-- > 0) {
    if (off + BLOCK > bytes.length) return;
    let keyLen = 0;
    while (keyLen < NAME - 1 && bytes[off + keyLen] !== 0) keyLen++;
    const name = Buffer.from(bytes.subarray(off, off + keyLen)).toString('latin1');
    const size = Number(new DataView(bytes.buffer, bytes.byteOffset + off + 0x10c, 8).getBigUint64(0, true));
    const key = new Uint8Array(keyLen);
    for (let i = 0; i < keyLen; i++) key[i] = bytes[off + i]! ^ SKEY[i & 3]!;
    off += BLOCK;
    if (size > bytes.length - off) return;
    if (maxFile > 0 && size > maxFile) { off += size; continue; }
    if (keyLen === 0) return;
    const plain = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      const c = bytes[off + i]!;
      plain[i] = (((c >> 4) | (c << 4)) & 0xff) ^ key[(i & 0x3ff) % keyLen]!;
    }
    const out = inflateLikeClamav(plain, maxFile > 0 ? maxFile : 0x7fffffff);
    off += out?.pieces !== undefined ? Math.min(size, out.pieces * CHUNK) : size;
    // Inflated past the file-size limit: ClamAV's scan of the file refuses it, which ends the listing.
    if (out === undefined) { yield { name, limit: 'MaxFileSize', size: maxFile + 1 }; return; }
    yield { name, data: out.data };
    scanned++;
    if (maxFiles > 0 && scanned >= maxFiles) return;
  }
}

/** The reader the engine calls at the offset of the InstallShield signature. */
export function scanIshieldMsiEmbedded(bytes: Uint8Array, offset: number, ctx: UnpackContext): Iterable<UnpackItem> {
  return scanIshieldMsiAt(bytes, offset, ctx);
}
