/**
 * RAR 4 and RAR 5 archives (CL_TYPE_RAR, and CL_TYPE_RARSFX: an archive inside another layer) →
 * their entries, stored and compressed, with encrypted entries flagged.
 *
 * In: the bytes from the archive's signature on, and the scan's options and limits. Out, in
 * archive order and lazily (an entry is decoded when the engine asks for the next item): a child
 * for each entry, named by the entry's base name: stored entries (RAR 4 method 0x30, RAR 5 method
 * 0) copied, compressed ones decoded (RAR 4 by `rar3-unpack.ts`: versions 1.5, 2.0/2.6, 2.9/3.6;
 * RAR 5 by `rar5-unpack.ts`: compression version 0); `MaxFileSize` for an entry whose unpacked size
 * exceeds the limit; nothing for directories; and, at the end, `Heuristics.Encrypted.RAR` when an
 * entry (or the whole header area) is encrypted and `alertEncryptedArchive` is on.
 *
 * RAR 4: the marker block "Rar!\x1a\x07\x00", then blocks of CRC16, type, flags, header size and,
 * with flag 0x8000, a 32-bit data size. 0x73 is the main header (flag 0x08 solid, 0x80 headers
 * encrypted), 0x74 a file (packed and unpacked sizes, 64-bit with flag 0x100, unpack version,
 * method, name; flags 0x01/0x02 continued from/in another volume, 0x04 encrypted, 0x10 solid,
 * bits 5..7 the dictionary, 64 KiB << n, all set for a directory), 0x7B the end. RAR 5: the
 * signature "Rar!\x1a\x07\x01\x00", then blocks of CRC32, header size (vint), type, flags (0x08/0x10
 * continued from/in another volume), optional extra-area and data sizes; type 1 main (archive flag
 * 0x04 solid), 2 file, 3 service, 4 archive encryption (all later headers encrypted), 5 end. A file
 * header gives its flags (1 directory), unpacked size, attributes, optional time and CRC,
 * compression information (version in bits 0..5, solid bit 6, method in bits 7..9, dictionary
 * 128 KiB << bits 10..13), host OS and name; an extra record of type 1 marks it encrypted.
 *
 * The rules follow ClamAV's RAR scanner (libclamunrar): an archive whose headers are encrypted
 * counts as one encrypted entry; per entry, directories are skipped, then entries over
 * MaxFileSize, then encrypted entries are counted; the rest are extracted. An entry whose data is
 * damaged or cut short yields what was decoded before the damage (UnRAR writes it and ClamAV scans
 * a file whose CRC failed: ERAR_BAD_DATA is only a warning); decoding stops at the declared size,
 * and the output at MaxFileSize. Entries continued in or from another volume are not extracted
 * (ClamAV opens one volume: UnRAR cannot finish them, and ClamAV scans nothing for them); RAR 5
 * compression version 1 (RAR 7) is not decoded (ClamAV 1.4's UnRAR predates it).
 *
 * The archive comment (RAR 5: a "CMT" service header; RAR 4: a "CMT" sub-block, 0x7A; the old
 * comment inside a RAR 2.x main header is not read) comes first, as a child named `comment`,
 * shaped as ClamAV scans it: the text up to its first NUL, at most 65535 bytes, then one NUL.
 *
 * Solid archives: an entry continues the decoder state of the previous compressed one. ClamAV's
 * UnRAR skips an entry it does not extract by seeking past it, so its solid successors decode
 * against a stale window (garbage after the first reference into the skipped data). Here an entry
 * skipped for MaxFileSize is still decoded, its output dropped, while the bytes so decoded stay
 * within a budget (MaxScanSize, else 4 × MaxFileSize): its successors then come out right. Past the
 * budget, after an encrypted or split entry, or after damage, the rest of the solid run is not
 * extracted (its entries are still counted for limits and encryption). A child refused for a scan
 * limit (MaxScanSize, MaxFiles, MaxRecursion) ends the extraction, as ClamAV's loop ends there
 * (the encryption alert still follows). Header CRCs are not
 * checked; damage in the headers (a block that does not fit, an unreadable header) ends the
 * listing.
 */
import { CHILD_REFUSED, type UnpackContext, type UnpackItem } from '../unpack.js';
import { createRar3Unpacker, type Rar3Unpacker } from './rar3-unpack.js';
import { createRar5Unpacker, rar5DictSize, type Rar5Unpacker } from './rar5-unpack.js';

export const RAR4_SIGNATURE = [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x00];
export const RAR5_SIGNATURE = [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x01, 0x00];

export interface RarEntry {
  /** The name as stored (path separators normalised to "/"). */
  name: string;
  dir: boolean;
  encrypted: boolean;
  /** True for the stored method (RAR 4 0x30, RAR 5 0). */
  stored: boolean;
  /** RAR 4 method byte (0x30..0x35) or RAR 5 method number (0..5). */
  method: number;
  packedSize: number;
  unpackedSize: number;
  /** Offset of the entry's data in the archive, and how many bytes of it are present. */
  dataOffset: number;
  dataPresent: number;
  /** Decoding continues the previous entry's state (RAR 4 file flag 0x10, RAR 5 compression-info bit 6). */
  solid: boolean;
  /** RAR 4: the unpack version (15, 20, 26, 29, 36); RAR 5: the compression version (0 RAR 5.0, 1 RAR 7.0). */
  unpVer: number;
  /** Dictionary size in bytes (RAR 4: 64 KiB << flag bits 5..7; RAR 5: 128 KiB << info bits 10..13). */
  dictSize: number;
  /** The data continues from a previous volume / in the next volume. */
  splitBefore: boolean;
  splitAfter: boolean;
}

export interface RarListing {
  version: 4 | 5;
  /** The header area is encrypted: nothing could be listed. */
  headersEncrypted: boolean;
  /** RAR 4 main-header flag 0x0008, RAR 5 archive flag 0x0004. */
  solidArchive: boolean;
  entries: RarEntry[];
  /** The archive comment: the first "CMT" service header (RAR 5) or sub-block (RAR 4 0x7A) before the files. */
  comment?: RarEntry;
}

const startsWith = (b: Uint8Array, sig: readonly number[], at = 0): boolean =>
  b.length >= at + sig.length && sig.every((v, i) => b[at + i] === v);
const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;
const decodeName = (raw: Uint8Array): string => {
  const s = Buffer.from(raw).toString('utf8');
  return s.replace(/\\/g, '/');
};

function listRar4(b: Uint8Array): RarListing {
  const entries: RarEntry[] = [];
  let pos = RAR4_SIGNATURE.length;
  let headersEncrypted = false;
  let solidArchive = false;
  let comment: RarEntry | undefined;
  while (pos + 7 <= b.length) {
    const type = b[pos + 2]!;
    const flags = u16(b, pos + 3);
    const headSize = u16(b, pos + 5);
    if (headSize < 7 || pos + headSize > b.length) break;
    let addSize = 0;
    if (flags & 0x8000) {
      if (headSize < 11) break;
      addSize = u32(b, pos + 7);
    }
    if (type === 0x73) {
      if (flags & 0x0008) solidArchive = true;
      if (flags & 0x0080) { headersEncrypted = true; break; }
    } else if (type === 0x74 || type === 0x7a) {
      if (headSize < 32) break;
      const h = pos + 7;
      let packed = u32(b, h);
      let unpacked = u32(b, h + 4);
      const unpVer = b[h + 17]!;
      const method = b[h + 18]!;
      const nameSize = u16(b, h + 19);
      let nameAt = h + 25;
      if (flags & 0x0100) {
        if (headSize < 40) break;
        packed += u32(b, h + 25) * 0x100000000;
        unpacked += u32(b, h + 29) * 0x100000000;
        nameAt += 8;
      }
      if (nameAt + nameSize > pos + headSize) break;
      let raw = b.subarray(nameAt, nameAt + nameSize);
      if (flags & 0x0200) {
        const z = raw.indexOf(0);
        if (z >= 0) raw = raw.subarray(0, z);
      }
      const dataOffset = pos + headSize;
      const entry: RarEntry = {
        name: decodeName(raw), dir: (flags & 0x00e0) === 0x00e0, encrypted: (flags & 0x0004) !== 0,
        stored: method === 0x30, method, packedSize: packed, unpackedSize: unpacked,
        dataOffset, dataPresent: Math.max(0, Math.min(packed, b.length - dataOffset)),
        solid: (flags & 0x0010) !== 0, unpVer, dictSize: 0x10000 << ((flags >> 5) & 7),
        splitBefore: (flags & 0x0001) !== 0, splitAfter: (flags & 0x0002) !== 0,
      };
      if (type === 0x74) entries.push(entry);
      else if (entry.name === 'CMT' && !comment && entries.length === 0) comment = entry;
      addSize = packed;
    } else if (type === 0x7b) {
      break;
    }
    const next = pos + headSize + addSize;
    if (next > b.length) break;
    pos = next;
  }
  return { version: 4, headersEncrypted, solidArchive, entries, ...(comment ? { comment } : {}) };
}

function listRar5(b: Uint8Array): RarListing {
  const entries: RarEntry[] = [];
  let pos = RAR5_SIGNATURE.length;
  let headersEncrypted = false;
  let solidArchive = false;
  let comment: RarEntry | undefined;
  let p = 0;
  let bad = false;
  const vint = (limit: number): number => {
    let v = 0, mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= limit) { bad = true; return 0; }
      const c = b[p++]!;
      v += (c & 0x7f) * mul;
      mul *= 128;
      if (!(c & 0x80)) return v;
    }
    bad = true;
    return 0;
  };
  while (pos + 5 <= b.length) {
    p = pos + 4;
    bad = false;
    const headSize = vint(Math.min(b.length, pos + 7));
    if (bad || headSize < 2 || headSize > 0x200000) break;
    const hStart = p;
    const hEnd = hStart + headSize;
    if (hEnd > b.length) break;
    const type = vint(hEnd);
    const flags = vint(hEnd);
    const extraSize = flags & 1 ? vint(hEnd) : 0;
    const dataSize = flags & 2 ? vint(hEnd) : 0;
    if (bad) break;
    if (type === 4) { headersEncrypted = true; break; }
    if (type === 1) {
      const archiveFlags = vint(hEnd);
      if (!bad && archiveFlags & 0x0004) solidArchive = true;
      bad = false;
    } else if (type === 2 || type === 3) {
      const fileFlags = vint(hEnd);
      const unpacked = vint(hEnd);
      vint(hEnd); // attributes
      if (fileFlags & 2) p += 4;
      if (fileFlags & 4) p += 4;
      const comp = vint(hEnd);
      vint(hEnd); // host OS
      const nameLen = vint(hEnd);
      if (bad || p + nameLen > hEnd) break;
      const raw = b.subarray(p, p + nameLen);
      p += nameLen;
      // Extra area: records of size, type, data; type 1 is file encryption.
      let encrypted = false;
      const extraStart = hEnd - extraSize;
      if (extraSize > 0 && extraStart >= p) {
        p = extraStart;
        while (p < hEnd) {
          const recSize = vint(hEnd);
          if (bad || recSize === 0) break;
          const recEnd = p + recSize;
          const recType = vint(hEnd);
          if (bad) break;
          if (recType === 1) encrypted = true;
          p = recEnd;
        }
        bad = false;
      }
      const method = (comp >> 7) & 7;
      const dataOffset = hEnd;
      const entry: RarEntry = {
        name: decodeName(raw), dir: (fileFlags & 1) !== 0, encrypted, stored: method === 0, method,
        packedSize: dataSize, unpackedSize: unpacked, dataOffset,
        dataPresent: Math.max(0, Math.min(dataSize, b.length - dataOffset)),
        solid: (comp & 0x40) !== 0, unpVer: comp & 0x3f, dictSize: rar5DictSize(comp),
        splitBefore: (flags & 0x0008) !== 0, splitAfter: (flags & 0x0010) !== 0,
      };
      if (type === 2) entries.push(entry);
      else if (entry.name === 'CMT' && !comment && entries.length === 0) comment = entry;
    } else if (type === 5) {
      break;
    }
    const next = hEnd + dataSize;
    if (next > b.length) break;
    pos = next;
  }
  return { version: 5, headersEncrypted, solidArchive, entries, ...(comment ? { comment } : {}) };
}

/** The entries of a RAR archive at `b[0]`; undefined when there is no RAR signature. */
export function listRar(b: Uint8Array): RarListing | undefined {
  if (startsWith(b, RAR5_SIGNATURE)) return listRar5(b);
  if (startsWith(b, RAR4_SIGNATURE)) return listRar4(b);
  return undefined;
}

/**
 * Entries as children (stored ones copied, compressed ones decoded), limits, and the encryption
 * alert, lazily: an entry is decoded when the engine asks for it.
 */
export function* unpackRar(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem, void, unknown> {
  const listing = listRar(bytes);
  if (!listing) return;
  let encrypted = listing.headersEncrypted ? 1 : 0;
  const { entries } = listing;
  const maxFile = ctx.limits.maxFileSize;
  // Bytes decoded only to keep a solid state (entries not extracted themselves).
  const skipBudget = ctx.limits.maxScanSize > 0 ? ctx.limits.maxScanSize : maxFile > 0 ? 4 * maxFile : Infinity;
  let skipDecoded = 0;
  let r3: Rar3Unpacker | undefined;
  let r5: Rar5Unpacker | undefined;
  /** False once an entry's data could not be decoded: solid successors cannot be either. */
  let stateOk = true;
  const compressed = (e: RarEntry): boolean => !e.stored && !e.dir;
  const solidFollows = (i: number): boolean => {
    for (let k = i + 1; k < entries.length; k++) {
      const n = entries[k]!;
      if (compressed(n)) return solidOf(n, k);
    }
    return false;
  };
  // RAR 1.3-1.5 entries carry no solid flag of their own: UnRAR takes the archive's for every file after the first.
  const firstFile = entries.findIndex((e) => !e.dir);
  const solidOf = (e: RarEntry, i: number): boolean => (listing.version === 4 && e.unpVer <= 15 ? listing.solidArchive && i > firstFile : e.solid);
  /** Decodes entry `i`, keeping at most `maxOut` bytes (none with `discard`). */
  const decode = (i: number, maxOut: number, discard = false): { data: Uint8Array; ok: boolean } => {
    const e = entries[i]!;
    const solid = solidOf(e, i);
    const packed = bytes.subarray(e.dataOffset, e.dataOffset + e.dataPresent);
    if (solid && !stateOk) return { data: new Uint8Array(0), ok: false };
    let r: { data: Uint8Array; ok: boolean };
    if (listing.version === 5) {
      if (e.unpVer !== 0) r = { data: new Uint8Array(0), ok: false };
      else r = (r5 ??= createRar5Unpacker()).unpack(packed, e.unpackedSize, solid, e.dictSize, maxOut);
    } else if (e.unpVer < 13 || e.unpVer > 29) {
      // UnRAR (and so ClamAV) refuses unpack versions it does not know.
      r = { data: new Uint8Array(0), ok: false };
    } else {
      r = (r3 ??= createRar3Unpacker()).unpack(e.unpVer, packed, e.unpackedSize, solid, e.dictSize, maxOut, discard);
    }
    stateOk = r.ok;
    return r;
  };
  if (listing.comment) {
    const c = readComment(bytes, listing.version, listing.comment);
    if (c) yield { name: 'comment', data: c };
  }
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const base = e.name.slice(e.name.lastIndexOf('/') + 1);
    if (e.dir) continue;
    const keepState = compressed(e) && solidFollows(i);
    if (maxFile > 0 && e.unpackedSize > maxFile) {
      yield { name: base, limit: 'MaxFileSize', size: e.unpackedSize };
      if (keepState && !e.encrypted && !e.splitBefore && !e.splitAfter && skipDecoded + e.unpackedSize <= skipBudget) {
        // Decoded only for the state the next entries need; the output is not kept.
        skipDecoded += e.unpackedSize;
        decode(i, 0, true);
      } else if (keepState) {
        stateOk = false;
      }
      continue;
    }
    if (e.encrypted) {
      encrypted++;
      if (compressed(e)) stateOk = false;
      continue;
    }
    if (e.splitBefore || e.splitAfter) {
      // A member continued in another volume: UnRAR cannot extract it from this volume alone.
      if (compressed(e)) stateOk = false;
      continue;
    }
    if (e.stored) {
      const n = Math.min(e.dataPresent, e.unpackedSize);
      if ((yield { name: base, data: bytes.subarray(e.dataOffset, e.dataOffset + n) }) === CHILD_REFUSED) break;
      continue;
    }
    if (solidOf(e, i) && !stateOk) continue;
    const r = decode(i, maxFile > 0 ? Math.min(maxFile, e.unpackedSize) : e.unpackedSize);
    // UnRAR writes what it decoded before damage and ClamAV scans it (a CRC error is only a warning).
    if ((r.ok || r.data.length > 0) && (yield { name: base, data: r.data }) === CHILD_REFUSED) break;
  }
  if (encrypted > 0 && ctx.options.alertEncryptedArchive) yield { alert: 'Heuristics.Encrypted.RAR' };
}

/** Longest archive comment ClamAV's UnRAR interface reads (its buffer, with the terminating NUL). */
const COMMENT_BUFFER = 64 * 1024;

/**
 * The archive comment as ClamAV scans it: the text (stored or compressed, decoded with fresh
 * state) up to its first NUL and at most 65535 bytes, followed by one NUL byte (UnRAR hands the
 * comment over as a C string and ClamAV scans its size with the terminator). Undefined when empty
 * or unreadable.
 */
function readComment(bytes: Uint8Array, version: 4 | 5, c: RarEntry): Uint8Array | undefined {
  if (c.encrypted || c.unpackedSize === 0) return undefined;
  let text: Uint8Array;
  if (c.stored) {
    text = bytes.subarray(c.dataOffset, c.dataOffset + Math.min(c.dataPresent, c.unpackedSize));
  } else if (version === 5) {
    if (c.unpVer !== 0) return undefined;
    text = createRar5Unpacker().unpack(bytes.subarray(c.dataOffset, c.dataOffset + c.dataPresent), c.unpackedSize, false, c.dictSize, COMMENT_BUFFER).data;
  } else {
    text = createRar3Unpacker().unpack(c.unpVer, bytes.subarray(c.dataOffset, c.dataOffset + c.dataPresent), c.unpackedSize, false, c.dictSize, COMMENT_BUFFER).data;
  }
  const z = text.indexOf(0);
  const n = Math.min(z >= 0 ? z : text.length, COMMENT_BUFFER - 1);
  if (n === 0) return undefined;
  const out = new Uint8Array(n + 1);
  out.set(text.subarray(0, n));
  return out;
}

/** A RAR archive found at `offset` inside another layer. */
export function* unpackRarSfx(bytes: Uint8Array, offset: number, ctx: UnpackContext): Iterable<UnpackItem> {
  if (offset < 0 || offset >= bytes.length) return;
  yield* unpackRar(bytes.subarray(offset), ctx);
}
