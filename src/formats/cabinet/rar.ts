/**
 * RAR 4 and RAR 5 archives (CL_TYPE_RAR, and CL_TYPE_RARSFX: an archive inside another layer) →
 * their stored entries, with encrypted entries flagged.
 *
 * In: the bytes from the archive's signature on, and the scan's options and limits. Out, in
 * archive order: a child for each stored entry (RAR 4 method 0x30, RAR 5 method 0), named by the
 * entry's base name; `MaxFileSize` for an entry whose unpacked size exceeds the limit; nothing for
 * directories and for compressed entries (their methods are not decoded here: they are listed by
 * `listRar` but not extracted); and, at the end, `Heuristics.Encrypted.RAR` when an entry (or the
 * whole header area) is encrypted and `alertEncryptedArchive` is on.
 *
 * RAR 4: the marker block "Rar!\x1a\x07\x00", then blocks of CRC16, type, flags, header size and,
 * with flag 0x8000, a 32-bit data size. 0x73 is the main header (flag 0x80: headers encrypted), 0x74
 * a file (packed and unpacked sizes, 64-bit with flag 0x100, method, name; flag 0x04 encrypted,
 * flags & 0xE0 = 0xE0 a directory), 0x7B the end. RAR 5: the signature "Rar!\x1a\x07\x01\x00",
 * then blocks of CRC32, header size (vint), type, flags, optional extra-area and data sizes; type
 * 1 main, 2 file, 3 service, 4 archive encryption (all later headers encrypted), 5 end. A file
 * header gives its flags (1 directory), unpacked size, attributes, optional time and CRC,
 * compression information (method in bits 7..9), host OS and name; an extra record of type 1
 * marks it encrypted.
 *
 * The rules follow ClamAV's RAR scanner (which needs libclamunrar): an archive whose headers are
 * encrypted counts as one encrypted entry; per entry, directories are skipped, then entries over
 * MaxFileSize, then encrypted entries are counted; the rest are extracted. Header CRCs are not
 * checked; damage (a block that does not fit, an unreadable header) ends the listing.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';

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
}

export interface RarListing {
  version: 4 | 5;
  /** The header area is encrypted: nothing could be listed. */
  headersEncrypted: boolean;
  entries: RarEntry[];
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
      if (flags & 0x0080) { headersEncrypted = true; break; }
    } else if (type === 0x74) {
      if (headSize < 32) break;
      const h = pos + 7;
      let packed = u32(b, h);
      let unpacked = u32(b, h + 4);
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
      entries.push({
        name: decodeName(raw), dir: (flags & 0x00e0) === 0x00e0, encrypted: (flags & 0x0004) !== 0,
        stored: method === 0x30, method, packedSize: packed, unpackedSize: unpacked,
        dataOffset, dataPresent: Math.max(0, Math.min(packed, b.length - dataOffset)),
      });
      addSize = packed;
    } else if (type === 0x7b) {
      break;
    }
    const next = pos + headSize + addSize;
    if (next > b.length) break;
    pos = next;
  }
  return { version: 4, headersEncrypted, entries };
}

function listRar5(b: Uint8Array): RarListing {
  const entries: RarEntry[] = [];
  let pos = RAR5_SIGNATURE.length;
  let headersEncrypted = false;
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
    if (type === 2) {
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
      entries.push({
        name: decodeName(raw), dir: (fileFlags & 1) !== 0, encrypted, stored: method === 0, method,
        packedSize: dataSize, unpackedSize: unpacked, dataOffset,
        dataPresent: Math.max(0, Math.min(dataSize, b.length - dataOffset)),
      });
    } else if (type === 5) {
      break;
    }
    const next = hEnd + dataSize;
    if (next > b.length) break;
    pos = next;
  }
  return { version: 5, headersEncrypted, entries };
}

/** The entries of a RAR archive at `b[0]`; undefined when there is no RAR signature. */
export function listRar(b: Uint8Array): RarListing | undefined {
  if (startsWith(b, RAR5_SIGNATURE)) return listRar5(b);
  if (startsWith(b, RAR4_SIGNATURE)) return listRar4(b);
  return undefined;
}

/** Stored entries as children, limits, and the encryption alert, lazily. */
export function* unpackRar(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  const listing = listRar(bytes);
  if (!listing) return;
  let encrypted = listing.headersEncrypted ? 1 : 0;
  for (const e of listing.entries) {
    const base = e.name.slice(e.name.lastIndexOf('/') + 1);
    if (e.dir) continue;
    if (ctx.limits.maxFileSize > 0 && e.unpackedSize > ctx.limits.maxFileSize) {
      yield { name: base, limit: 'MaxFileSize', size: e.unpackedSize };
      continue;
    }
    if (e.encrypted) { encrypted++; continue; }
    if (!e.stored) continue;
    const n = Math.min(e.dataPresent, e.unpackedSize);
    yield { name: base, data: bytes.subarray(e.dataOffset, e.dataOffset + n) };
  }
  if (encrypted > 0 && ctx.options.alertEncryptedArchive) yield { alert: 'Heuristics.Encrypted.RAR' };
}

/** A RAR archive found at `offset` inside another layer. */
export function* unpackRarSfx(bytes: Uint8Array, offset: number, ctx: UnpackContext): Iterable<UnpackItem> {
  if (offset < 0 || offset >= bytes.length) return;
  yield* unpackRar(bytes.subarray(offset), ctx);
}
