/**
 * ALZ archives (CL_TYPE_ALZ: ESTsoft ALZip's `.alz`) → each member's data, as ClamAV 1.4's
 * `cli_scanalz` extracts it.
 *
 * In: the archive from its `ALZ\x01` magic. Layout (little-endian): the 4-byte magic and 4 bytes
 * nobody reads; then records, each introduced by a 4-byte signature: `BLZ\x01` a local file header
 * (name length u16, attribute u8 (0x10 directory), DOS time u32, descriptor u8 (bit 0 encrypted,
 * bit 3 data descriptor, high nibble the byte width 1/2/4/8 of the two sizes; 0 for none), a byte,
 * then when the width is set: method u8 (0 stored, 1 bzip2, 2 deflate), a byte, CRC-32 u32, packed
 * size, unpacked size), the name, 12 bytes of encryption check when encrypted, the packed data;
 * `CLZ\x01` a central directory record (8 bytes skipped); `CLZ\x02` the end.
 *
 * Out, lazily: each non-directory member's metadata (for `.cdb` signatures and the `-a` chain) as
 * the header walk meets it; then, after the walk, the limits met (ClamAV checks them once, after
 * extracting everything) and the extracted members in archive order.
 *
 * ClamAV's rules kept here: a first record that is not a readable local header (or an unknown
 * signature before any member) fails the whole archive; a later one ends the walk, keeping what
 * came before. A member whose data runs past the end ends the walk too. Encrypted members, members
 * with a data descriptor and unknown methods are skipped (nothing decrypted: ClamAV raises no
 * encryption heuristic for ALZ). Stored members are their packed bytes (the unpacked size is not
 * used); deflate (raw) and bzip2 (first stream) are decoded without checking the CRC; damaged
 * streams give what came out before the damage (deflate: what ClamAV's reads returned before
 * the one that met it; a distance reaching before the output's start reads zeros, as its decoder's
 * fresh window holds). Output past MaxFileSize (or what remains of MaxScanSize) is cut
 * there and the cut content is still scanned, with the limit reported; members of 5 bytes or less
 * do not count against MaxFiles and MaxScanSize; the first member past MaxFiles ends the walk. Empty
 * members are not scanned; a name holding a NUL skips the metadata check. Known difference: the
 * Rust bzip2 decoder ClamAV uses accepts some damaged streams libbzip2 (and this reader) refuse,
 * and refuses randomised blocks (this reader sees the first block's flag only).
 */
import type { LimitName, UnpackContext, UnpackItem } from '../unpack.js';
import { constants, inflateRawSync } from 'node:zlib';
import { inflateRaw, TRUNCATED } from '../zipmethods/inflate.js';
import { bunzip2 } from '../compress/bzip2.js';
import { type DecodeResult, LIMIT } from '../compress/common.js';

const ALZ_MAGIC = 0x015a4c41;
const LOCAL = 0x015a4c42;
const CENTRAL = 0x015a4c43;
const END = 0x025a4c43;
/** Members this small are exempt from ClamAV's file-count and total-size accounting. */
const TINY = 5;
/**
 * ClamAV's deflate decoder (miniz_oxide behind flate2) works in calls bounded by its 32 KiB output
 * window and by its 32 KiB input buffer; a call that meets damage returns nothing of its own.
 */
const WINDOW = 32768;
/** Input chunks looked at to place the last call boundary before damage (beyond, the window bound alone). */
const MAX_CHUNKS = 16;
/** What each of ClamAV's reads asks for. */
const READ = 8192;

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

interface LocalHeader {
  name: string;
  attribute: number;
  descriptor: number;
  method: number;
  crc: number;
  packed: number;
  unpacked: number;
  start: number;
  inBounds: boolean;
}

/** A local header at `p` (after its signature); `undefined` when ClamAV's parse fails. */
function parseLocal(b: Uint8Array, p: number): { h: LocalHeader; next: number } | undefined {
  if (p + 9 > b.length) return undefined;
  const nameLen = u16(b, p);
  const attribute = b[p + 2]!;
  const descriptor = b[p + 7]!;
  p += 9;
  if (nameLen === 0) return undefined;
  const width = descriptor >> 4;
  let method = 0, crc = 0, packed = 0, unpacked = 0;
  if (width > 0) {
    if (width !== 1 && width !== 2 && width !== 4 && width !== 8) return undefined;
    if (p + 6 + 2 * width > b.length) return undefined;
    method = b[p]!;
    crc = u32(b, p + 2);
    p += 6;
    const size = (at: number): number => {
      if (width === 1) return b[at]!;
      if (width === 2) return u16(b, at);
      if (width === 4) return u32(b, at);
      return u32(b, at) + u32(b, at + 4) * 2 ** 32;
    };
    packed = size(p);
    unpacked = size(p + width);
    p += 2 * width;
  }
  if (p + nameLen > b.length) return undefined;
  const name = Buffer.from(b.buffer, b.byteOffset + p, nameLen).toString('utf8');
  p += nameLen;
  if (descriptor & 1) {
    if (p + 12 > b.length) return undefined;
    p += 12;
  }
  const end = p + packed;
  return { h: { name, attribute, descriptor, method, crc, packed, unpacked, start: p, inBounds: end <= b.length }, next: end };
}

/** The zeroed 32 KiB window ClamAV's deflate decoder (miniz_oxide, through flate2) starts with. */
const ZERO_WINDOW = new Uint8Array(32768);

/**
 * Raw deflate as ClamAV's ALZ reader decodes it: a distance reaching before the start of the output
 * copies from the decoder's zeroed window instead of failing (zlib refuses such streams).
 */
function inflateAlz(src: Uint8Array, bound: number): DecodeResult {
  const r = inflateRaw(src, bound);
  if (r.complete || r.error !== 'invalid distance too far back') return r;
  try {
    const data = inflateRawSync(src, { dictionary: ZERO_WINDOW, finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: Math.max(1, bound) });
    return { data, complete: true };
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? { data: r.data, complete: false, error: LIMIT } : r;
  }
}

/**
 * How much of the `produced` bytes decoded before damage ClamAV keeps. Its reads ask for 8 KiB;
 * one that finds the window drained decodes, call after call, until that much came out or the
 * input chunk ran out; each call stops at the window's end or the chunk's. The read that meets the
 * damage returns nothing, so the output kept is what the reads before it returned. Where each chunk
 * ends in the output comes from decoding the input up to there.
 */
function keptBeforeDamage(src: Uint8Array, produced: number): number {
  if (src.length > MAX_CHUNKS * WINDOW) return produced - (produced % WINDOW);
  const upTo = (c: number): { len: number; damaged: boolean } => {
    if (c >= src.length) return { len: produced, damaged: true };
    const r = inflateRaw(src.subarray(0, c), produced + 1);
    return { len: Math.min(r.data.length, produced), damaged: r.error !== TRUNCATED };
  };
  let end = Math.min(WINDOW, src.length);
  let chunk = upTo(end);
  let out = 0;
  for (;;) {
    const readStart = out;
    let room = READ;
    for (;;) {
      const windowEnd = out + (WINDOW - (out % WINDOW));
      if (chunk.damaged && produced < windowEnd) return readStart;
      const stop = Math.min(windowEnd, chunk.len);
      if (stop <= out && chunk.damaged) return readStart;
      room -= Math.min(stop - out, room);
      out = stop;
      if (!chunk.damaged && out >= chunk.len) {
        if (end >= src.length) return out;
        end = Math.min(end + WINDOW, src.length);
        chunk = upTo(end);
        break;
      }
      if (room === 0) break;
    }
  }
}

/** A member's data decoded into at most `cap` bytes; `over` when there was more. */
function extract(b: Uint8Array, h: LocalHeader, cap: number): { data: Uint8Array; over: boolean } | undefined {
  const src = b.subarray(h.start, h.start + h.packed);
  if (h.method === 0) return src.length > cap ? { data: src.subarray(0, cap), over: true } : { data: src, over: false };
  const bound = Number.isFinite(cap) ? cap + 1 : 2 ** 31;
  // ClamAV's bzip2 decoder refuses randomised blocks (bzip2 0.9.0's); the first one's flag is easy to see.
  if (h.method === 1 && src.length > 14 && src[0] === 0x42 && src[1] === 0x5a && (src[14]! & 0x80) !== 0) return undefined;
  const r = h.method === 2 ? inflateAlz(src, bound) : bunzip2(src, bound, { firstStreamOnly: true });
  if (r.data.length > cap) return { data: r.data.subarray(0, cap), over: true };
  if (r.error === LIMIT) return { data: r.data.subarray(0, cap), over: true };
  if (r.complete) return { data: r.data, over: false };
  // A deflate read that meets damage loses what its decoding call produced; a cut stream just ends.
  if (h.method === 2 && r.error !== TRUNCATED) return { data: r.data.subarray(0, keptBeforeDamage(src, r.data.length)), over: false };
  return { data: r.data, over: false };
}

export function* alzMembers(b: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  if (b.length < 8 || u32(b, 0) !== ALZ_MAGIC) return;
  const maxFile = ctx.limits.maxFileSize > 0 ? ctx.limits.maxFileSize : Infinity;
  const maxTotal = ctx.limits.maxScanSize > 0 ? Math.max(0, ctx.limits.maxScanSize - (ctx.scannedSize?.() ?? 0)) : Infinity;
  const maxFiles = ctx.limits.maxFiles > 0 ? Math.max(0, ctx.limits.maxFiles - (ctx.scannedFiles?.() ?? 0)) : Infinity;
  const files: { name: string; data: Uint8Array }[] = [];
  let extracted = 0, counted = 0, position = 1;
  let fileOver = false, totalOver = false, countOver = false;
  let p = 8;
  walk: while (p + 4 <= b.length) {
    const sig = u32(b, p);
    p += 4;
    switch (sig) {
      case LOCAL: {
        const parsed = parseLocal(b, p);
        if (!parsed) {
          if (position === 1) return;
          break walk;
        }
        const { h } = parsed;
        p = parsed.next;
        position++;
        if (h.attribute & 0x10) {
          if (!h.inBounds) break walk;
          continue;
        }
        // ClamAV cannot pass a name holding a NUL to its metadata check, and skips that check.
        if (!h.name.includes('\0')) yield { meta: h.name, compressedSize: h.packed, size: h.unpacked, encrypted: (h.descriptor & 1) !== 0, position: position - 1, crc: h.crc | 0 };
        if ((h.descriptor & 1) || (h.descriptor & 8) || h.method > 2) {
          if (!h.inBounds) break walk;
          continue;
        }
        const exempt = h.packed === 0 || (h.method === 0 && h.packed <= TINY);
        if (counted >= maxFiles && !exempt) { countOver = true; break walk; }
        if (!h.inBounds) break walk;
        const budget = Math.min(maxFile, Math.max(0, maxTotal - extracted));
        const cap = exempt ? h.packed : budget <= TINY ? 0 : budget;
        if (cap === 0) {
          // Nothing extracted: the limits are judged on the size the header gives.
          const hint = h.packed === 0 ? 0 : h.method === 0 ? h.packed : h.unpacked <= TINY ? TINY + 1 : h.unpacked;
          if (hint > maxFile) fileOver = true;
          if (extracted + hint > maxTotal) totalOver = true;
          continue;
        }
        const got = extract(b, h, cap);
        if (!got) continue;
        if (got.over) {
          if (got.data.length >= maxFile) fileOver = true;
          if (extracted + got.data.length >= maxTotal) totalOver = true;
        }
        if (got.data.length === 0) continue;
        files.push({ name: h.name, data: got.data });
        if (got.data.length > TINY) { counted++; extracted += got.data.length; }
        continue;
      }
      case CENTRAL:
        if (p + 8 <= b.length) p += 8;
        continue;
      case END:
        break walk;
      default:
        if (position === 1) return;
        break walk;
    }
  }
  const limits: LimitName[] = [];
  if (fileOver) limits.push('MaxFileSize');
  if (totalOver) limits.push('MaxScanSize');
  if (countOver) limits.push('MaxFiles');
  for (const limit of limits) yield { name: 'alz', limit };
  for (const f of files) yield { name: f.name, data: f.data };
}
