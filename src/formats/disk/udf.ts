/**
 * UDF file systems, as ClamAV 1.4 reads them (its `cli_scanudf`): a walk over 2048-byte blocks,
 * not over the directory tree.
 *
 * In: an image whose raw scan found `\0BEA01` at an offset from 32768 to 65536 (the volume
 * recognition sequence of a UDF-only image). Out: the data of file entries, each as a child typed
 * again.
 *
 * Why it reads so: ClamAV skips three volume structure descriptors after the signature, then wants
 * the descriptors in this order, empty blocks skipped between them: primary volume, implementation
 * use, logical volume, partition, unallocated space, terminating, logical volume integrity,
 * terminating, anchor pointer, and optionally a file set descriptor. Any other order ends the scan
 * with nothing extracted. It then collects, block by block, the file identifier descriptors and
 * the file entries packed in each block (extended file entries are passed over), and at the first
 * block of another kind pairs the i-th file entry with the i-th identifier: an identifier marked as
 * a directory is skipped, any other extracts its entry's single allocation descriptor (short, long
 * or extended; in-ICB data, several descriptors, a partition reference other than the partition
 * descriptor's, an empty or out-of-image extent all end the scan). Offsets are computed in 32 bits
 * (a long or extended descriptor also adds the partition start as a byte count, as ClamAV does).
 * Then it looks for another volume; the image's end without such a block extracts nothing more.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';

const BLOCK = 2048;
const TAG_PVD = 1, TAG_AVDP = 2, TAG_IUVD = 4, TAG_PD = 5, TAG_LVD = 6, TAG_USD = 7, TAG_TD = 8, TAG_LVID = 9;
const TAG_FSD = 256, TAG_FID = 257, TAG_FE = 261, TAG_EFE = 266;
const FID_FIXED = 38;
const FE_FIXED = 176;

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
/** A 32-bit product, as C computes `uint32_t * uint32_t`. */
const mul32 = (a: number, b: number): number => Number((BigInt(a) * BigInt(b)) & 0xffffffffn);

function allZero(b: Uint8Array, at: number): boolean {
  for (let i = at, end = at + BLOCK; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

/** ClamAV's `cli_scanudf` from the signature's offset. */
export function* udfMembers(b: Uint8Array, offset: number, _ctx: UnpackContext): Generator<UnpackItem> {
  if (offset < 32768) return;
  const fits = (at: number): boolean => at + BLOCK <= b.length;
  let idx = offset;
  // Three volume structure descriptors, whatever their identifiers (ClamAV's test accepts any).
  for (let i = 0; i < 3; i++) {
    if (!fits(idx)) return;
    idx += BLOCK;
  }
  let lastOffset = idx;
  /** The next non-empty block, which must carry `tag`; its position, or -1 (idx then as ClamAV leaves it). */
  const expect = (tag: number): number => {
    let at = idx;
    for (;;) {
      if (!fits(at)) return -1;
      if (!allZero(b, at)) break;
      at += BLOCK;
    }
    idx = at;
    lastOffset = at;
    if (u16(b, at) !== tag) return -1;
    idx = at + BLOCK;
    return at;
  };
  let initialized = false;
  let lvd = -1, pd = -1;
  let fids: number[] = [], fes: number[] = [];
  for (;;) {
    if (!initialized) {
      fids = [];
      fes = [];
      if (expect(TAG_PVD) < 0 || expect(TAG_IUVD) < 0) return;
      lvd = expect(TAG_LVD);
      if (lvd < 0) return;
      pd = expect(TAG_PD);
      if (pd < 0) return;
      for (const t of [TAG_USD, TAG_TD, TAG_LVID, TAG_TD, TAG_AVDP]) if (expect(t) < 0) return;
      // Without a file set descriptor the walk goes on from the block that was not one (or, at the
      // image's end, from the anchor pointer).
      if (expect(TAG_FSD) < 0) idx = lastOffset;
      initialized = true;
    }
    if (!fits(idx)) return;
    lastOffset = idx;
    const tag = u16(b, idx);
    if (tag === TAG_FID) collect(b, idx, fids, TAG_FID);
    else if (tag === TAG_FE) collect(b, idx, fes, TAG_FE);
    else if (tag !== TAG_EFE && tag !== TAG_TD && tag !== 0) {
      const n = Math.min(fids.length, fes.length);
      for (let i = 0; i < n; i++) {
        const r = extract(b, fes[i]!, fids[i]!, lvd, pd);
        if (r === undefined) return;
        if (r !== 'dir') yield { name: `udf@${fes[i]!}`, data: r };
      }
      initialized = false;
    }
    idx += BLOCK;
  }
}

/** The descriptors of one kind packed one after the other at the start of the block at `base`. */
function collect(b: Uint8Array, base: number, out: number[], tag: number): void {
  const fixed = tag === TAG_FID ? FID_FIXED : FE_FIXED;
  let pos = base;
  while (u16(b, pos) === tag) {
    const used = pos - base;
    const size = tag === TAG_FID ? fidSize(b, pos) : FE_FIXED + u32(b, pos + 168) + u32(b, pos + 172);
    if (size + used > BLOCK) break;
    out.push(pos);
    if (size + used + fixed > BLOCK) break;
    pos += size;
  }
}

function fidSize(b: Uint8Array, pos: number): number {
  const named = u16(b, pos + 36) + b[pos + 19]! + FID_FIXED;
  return named + (Math.floor((named + 3) / 4) * 4 - named);
}

/** One pair's extraction: the data, 'dir' for a directory identifier, undefined where ClamAV stops. */
function extract(b: Uint8Array, fe: number, fid: number, lvd: number, pd: number): Uint8Array | 'dir' | undefined {
  if (u16(b, fe) !== TAG_FE || u16(b, fid) !== TAG_FID) return undefined;
  const eaLen = u32(b, fe + 168), adLen = u32(b, fe + 172);
  const ad = fe + FE_FIXED + eaLen;
  if ((b[fid + 18]! & 2) !== 0) return 'dir';
  const start = u32(b, pd + 188), partNo = u16(b, pd + 22);
  const bs = u32(b, lvd + 212);
  let offset: number, length: number;
  switch (u16(b, fe + 34) & 3) {
    case 0:
      if (adLen !== 8) return undefined;
      offset = (mul32(start, bs) + mul32(u32(b, ad + 4), bs)) >>> 0;
      length = u32(b, ad);
      break;
    case 1:
      if (adLen !== 16) return undefined;
      length = u32(b, ad);
      if (u16(b, ad + 8) !== partNo) return undefined;
      offset = (mul32(start, bs) + mul32(u32(b, ad + 4), bs) + start) >>> 0;
      break;
    case 2:
      if (adLen !== 20) return undefined;
      length = u32(b, ad + 4);
      if (u16(b, ad + 16) !== partNo) return undefined;
      offset = (mul32(start, bs) + mul32(u32(b, ad + 12), bs) + start) >>> 0;
      break;
    default:
      return undefined;
  }
  if (length === 0 || offset + length > b.length) return undefined;
  return b.subarray(offset, offset + length);
}
