/**
 * NSIS installer data → its header block and the files it carries, as ClamAV 1.4 extracts them.
 *
 * In: the bytes of a layer holding an NSIS installer (a PE with the data appended) and the offset
 * where the type signature (`efbeadde` + "NullsoftInst") was found; the data starts 4 bytes before
 * it, at the first header's flags. Out: lazily, the header block first (named `headers`, scanned
 * as raw data only: ClamAV does not type it) and then each file (`content.NNN`, numbered as ClamAV
 * numbers its temporary files, empty entries counting), or the limit that stopped one.
 *
 * Why this shape: ClamAV does not parse the script; it walks the data after the 28-byte first
 * header. It guesses "solid" when the 4-byte sizes there do not tile the archive; otherwise each
 * entry is a size word (top bit: compressed) and its bytes, the method picked by a vote over the
 * compressed entries' first words (`1` bzip2, `5d 00 00 00` LZMA, zlib otherwise). A solid archive
 * is one stream holding size-prefixed entries. Damage keeps what was decoded before it (with
 * LZMA, ClamAV's decoder drops the 8 KiB it was decoding when it meets bad data); an entry that
 * gave nothing is dropped (non-solid) or ends the listing (solid), and a solid entry over the
 * limits ends it too. ClamAV also stops a solid archive when 4 bytes or fewer of the compressed
 * stream are left unread before a size word: NSIS's inflater reads ahead up to its 32 KiB window
 * (but not past the end of a block the window still holds), and bzip2 reads whole blocks, so the
 * last entries of an archive can go unread; this is reproduced. NSIS's inflater also asks for 9
 * bits of look-ahead before each code, so a deflate stream that ends right after its last code
 * (a non-solid entry) is never reported as ended, and can lose that code: both are reproduced (they
 * decide which files a small MaxFileSize stops). A file the engine refuses for its size ends the
 * listing, as ClamAV's reader stops when the scan of a file fails. Decoders are bounded: a
 * non-solid entry by the file-size limit, the solid stream by the scan-size limit.
 *
 * Not reproduced: the solid stop with LZMA and no CRC (its range decoder reads a few bytes ahead;
 * not seen in tests).
 */
import { constants, inflateRawSync } from 'node:zlib';
import { bunzip2Nsis } from '../compress/bzip2.js';
import { lzmaDecode } from '../compress/lzma.js';
import { LIMIT, type DecodeResult } from '../compress/common.js';
import { inflateRaw } from '../zipmethods/inflate.js';
import { walkDeflate } from './deflate-blocks.js';
import type { UnpackContext, UnpackItem } from '../unpack.js';

const enum Comp { None = 0, Bzip2 = 1, Lzma = 2, Zlib = 3 }

const FIRST_HEADER = 0x1c;

const u32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

function detectComp(b: Uint8Array, at: number): Comp {
  if (b[at] === 0x31) return Comp.Bzip2;
  if ((u32(b, at) & 0x7fffffff) === 0x5d) return Comp.Lzma;
  return Comp.Zlib;
}

/** Raw deflate with zlib; a damaged stream is decoded again by our inflater to keep what came before the damage. */
function inflateNsis(input: Uint8Array, max: number): DecodeResult {
  try {
    return { data: inflateRawSync(input, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: Math.max(1, max) }), complete: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return { data: new Uint8Array(0), complete: false, error: LIMIT };
    return inflateRaw(input, max);
  }
}

/** ClamAV reads its output 8 KiB at a time; the LZMA decoder it uses drops what the call that met bad data had decoded. */
const CALL = 8192;
const lzmaLosesCall = (comp: Comp, r: DecodeResult): boolean =>
  comp === Comp.Lzma && (r.error === 'distance outside the dictionary' || r.error === 'repeat before any output');

function decode(comp: Comp, input: Uint8Array, max: number): DecodeResult {
  switch (comp) {
    case Comp.Bzip2: return bunzip2Nsis(input, max);
    case Comp.Lzma:
      if (input.length < 5) return { data: new Uint8Array(0), complete: false, error: 'truncated' };
      return lzmaDecode(input.subarray(0, 5), input.subarray(5), max);
    default: return inflateNsis(input, max);
  }
}

interface Layout { solid: boolean; comp: Comp; asz: number }

/** ClamAV's guess of the archive's layout from the first header and the size words; undefined when it cannot read them. */
function layout(d: Uint8Array): Layout | undefined {
  if (d.length < FIRST_HEADER) return undefined;
  let asz = u32(d, 0x18);
  let truncated = false;
  if (d.length < asz) { asz = d.length; truncated = true; }
  asz = (asz - FIRST_HEADER) >>> 0;
  let comp = Comp.Zlib;
  let solid = false;
  const votes = [0, 0, 0, 0];
  const limit = (asz - 4) >>> 0;
  let buf = FIRST_HEADER;
  let pos = 0;
  let i = 0;
  for (; pos < limit; i++) {
    if (buf + 4 > d.length) return undefined;
    let next = u32(d, buf) | 0;
    if (i === 0) comp = detectComp(d, buf);
    buf += 4;
    if (next & 0x80000000) {
      next &= 0x7fffffff;
      if (buf + 4 > d.length) return undefined;
      votes[detectComp(d, buf)]!++;
      next -= 4;
      pos = (pos + 4) >>> 0;
      buf += 4;
    }
    pos = (pos + 4 + (next >>> 0)) >>> 0;
    if (pos > asz) { solid = true; break; }
    buf += next;
    if (buf > d.length) return undefined;
  }
  if (truncated && i >= 2) solid = false;
  if (!solid) {
    const [, bz, lz, zl] = votes as [number, number, number, number];
    comp = bz < lz ? (lz < zl ? Comp.Zlib : Comp.Lzma) : (bz < zl ? Comp.Zlib : Comp.Bzip2);
  }
  return { solid, comp, asz };
}

const entryName = (fno: number): string => (fno === 0 ? 'headers' : `content.${String(fno).padStart(3, '0')}`);

/** The items of the NSIS data starting at `start` of `bytes`. */
export function* scanNsisAt(bytes: Uint8Array, start: number, ctx: UnpackContext): Iterable<UnpackItem> {
  if (start < 0 || start >= bytes.length) return;
  const d = bytes.subarray(start);
  const lay = layout(d);
  if (!lay) return;
  const maxFile = ctx.limits.maxFileSize > 0 ? ctx.limits.maxFileSize : 0x7fffffff;
  const item = (fno: number, data: Uint8Array): UnpackItem => (fno === 0 ? { name: entryName(fno), data, type: 'CL_TYPE_ANY' } : { name: entryName(fno), data });
  if (!lay.solid) {
    let asz = lay.asz;
    let cur = FIRST_HEADER;
    for (let fno = 0; ; fno++) {
      if (cur + 4 > d.length) return;
      const word = u32(d, cur);
      cur += 4;
      if (asz === 4) return; // the CRC
      const size = word & 0x7fffffff;
      if (size === 0) continue; // an empty entry: nothing scanned, the count goes on
      if (asz < 4 || size > asz - 4) return;
      asz -= size + 4;
      const name = entryName(fno);
      if (size > maxFile) {
        cur += size;
        yield { name, limit: 'MaxFileSize', size };
        continue;
      }
      const raw = d.subarray(cur, cur + size);
      cur += size;
      if (word === size) { yield item(fno, raw); continue; }
      const r = decode(lay.comp, raw, Math.max(maxFile, CALL) + 1);
      // NSIS's inflater may stall for want of look-ahead at the end of an entry: the codes after
      // the stall are not decoded, and the end of the stream is never reported.
      const stall = lay.comp === Comp.Zlib && r.error !== LIMIT ? walkDeflate(raw, r.data.length).stall : undefined;
      let out = r.data;
      if (stall !== undefined && stall < out.length) out = out.subarray(0, stall);
      // Inflated past the file-size limit: ClamAV's scan of the file refuses it, which ends the
      // listing. A limit under 8 KiB stops the entry earlier when an 8 KiB piece of output comes
      // before the end of the stream is reported (ClamAV checks each piece but that one): that
      // entry only.
      if (r.error === LIMIT || out.length > maxFile) {
        yield { name, limit: 'MaxFileSize', size: maxFile + 1 };
        if (maxFile < CALL && (r.error === LIMIT || out.length > CALL || stall !== undefined)) continue;
        return;
      }
      const data = lzmaLosesCall(lay.comp, r) ? out.subarray(0, out.length - (out.length % CALL)) : out;
      if (data.length > 0) yield item(fno, data); // a stream that gave nothing is dropped
    }
  }
  // Solid: one stream of size-prefixed entries, decoded once within the scan-size bound.
  const bound = ctx.limits.maxScanSize > 0 ? ctx.limits.maxScanSize : 0x7fffffff;
  const input = d.subarray(FIRST_HEADER, FIRST_HEADER + lay.asz);
  if (input.length <= 4) return;
  const r = decode(lay.comp, input, bound);
  const walk = lay.comp === Comp.Zlib && r.error !== LIMIT ? walkDeflate(input, r.data.length) : undefined;
  // Codes after a look-ahead stall (a stream cut right after them, no CRC) are not decoded.
  const out = walk?.stall !== undefined && walk.stall < r.data.length ? r.data.subarray(0, walk.stall) : r.data;
  const losesCall = lzmaLosesCall(lay.comp, r);
  // NSIS's inflater decodes ahead into its 32 KiB window, but waits at the end of each block
  // until the window is drained: at a size word, ClamAV stops when what the inflater has left of
  // its input is 4 bytes or fewer (the CRC, or nothing).
  const zlibStops = (at: number): boolean => {
    if (!walk) return false;
    const blocks = walk.ends;
    const reach = at + (at % 32768 === 0 ? 32768 : 32767);
    const next = blocks.find((b) => b.out > at);
    if (!next) return out.length <= reach; // a cut stream: all its input taken once the rest fits
    return next.out <= reach && input.length - next.inByte <= 4;
  };
  // bzip2 reads a whole block before giving its first byte: once the last block is read, only its
  // end mark (one byte) and the CRC are left, so without a CRC (flag 4) ClamAV stops there. The
  // last block's output starts where the stream cut inside that block ends.
  const bzLastBlock = lay.comp === Comp.Bzip2 && (u32(d, 0) & 4) !== 0 && r.complete && input.length > 2
    ? bunzip2Nsis(input.subarray(0, input.length - 2), bound).data.length : -1;
  let p = 0;
  for (let fno = 0; ; fno++) {
    if (fno > 0 && zlibStops(p)) return;
    if (fno > 0 && bzLastBlock >= 0 && p >= bzLastBlock) return;
    if (p + 4 > out.length) {
      // The stream stopped by its bound inside a size word: what follows was not decoded.
      if (r.error === LIMIT) yield { name: entryName(fno), limit: 'MaxScanSize' };
      return;
    }
    const size = u32(out, p);
    p += 4;
    const name = entryName(fno);
    if (size > maxFile) { yield { name, limit: 'MaxFileSize', size }; return; }
    if (size === 0) continue;
    let avail = Math.min(size, out.length - p);
    if (avail < size && losesCall) avail -= avail % CALL;
    if (avail < size && r.error === LIMIT) { yield { name, limit: 'MaxScanSize', size }; return; }
    if (avail === 0) return; // nothing decoded for this entry: the listing ends
    yield item(fno, out.subarray(p, p + avail));
    p += avail;
    if (avail < size) return; // damage inside the entry: what it had is scanned, nothing after
  }
}

/** The reader the engine calls at the offset of the NSIS signature (the data starts 4 bytes before). */
export function scanNsisEmbedded(bytes: Uint8Array, offset: number, ctx: UnpackContext): Iterable<UnpackItem> {
  return offset > 4 ? scanNsisAt(bytes, offset - 4, ctx) : [];
}

/** A layer typed as NSIS data from its first byte. */
export function scanNsis(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  return scanNsisAt(bytes, 0, ctx);
}
