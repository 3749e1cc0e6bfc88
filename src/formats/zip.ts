/**
 * ZIP archives → a listing of entries, and one entry → its bytes.
 *
 * In: the bytes of a (possibly hostile, truncated or self-extracting) ZIP archive and the scan's
 * limits. Out: `readZip` lists the entries (raw and decoded name, method, flags, sizes, CRC,
 * where the local header and the data start), the problems found on the way (each with a stable
 * code and a byte offset), and ClamAV's overlapping-entries verdict (`Heuristics.Zip.
 * OverlappingFiles`, the non-recursive zip-bomb check). `extractEntry` turns one listed entry into
 * its bytes (stored, deflate, Deflate64, implode, bzip2 or LZMA) within `maxEntrySize` and an
 * optional budget for `maxTotal`, and checks its CRC-32; anything it cannot do is a typed error,
 * never an exception and never garbage.
 *
 * `clamUnzipItems` and `clamUnzipSingle` (the last section) are what the scanner uses: ClamAV
 * 1.4's own reading of a ZIP (`libclamav/unzip.c`), which differs from the above on purpose where
 * ClamAV does (offsets as written, local-header sizes and methods, no ZIP64, no LZMA, bombs cut
 * rather than skipped, a second walk over the local headers) so that the same files are scanned.
 *
 * Strategy: the central directory first. The end-of-central-directory record (EOCD) is searched
 * backwards over the last 64 KiB + 22 bytes (the largest comment plus the record); a candidate
 * whose directory offset leads nowhere is skipped and the search goes on (ClamAV 1.4 searches the
 * whole file backwards; the window is the format's own bound and keeps the cost fixed). A ZIP64
 * locator just before the EOCD supplies 64-bit counts and offsets; ZIP64 extra fields supply an
 * entry's sizes and offset where its 32-bit fields are saturated. When the directory does not start where the
 * EOCD says but does start `size` bytes before the EOCD, the archive has bytes prepended (an SFX
 * stub), and every offset is shifted by that amount, as Info-ZIP does.
 *
 * The central directory is authoritative for method, flags and sizes (Info-ZIP, Python and 7-Zip
 * agree; ClamAV 1.4 instead takes them from the local header unless bit 3 is set); the local
 * header only places the data, and disagreements are reported as `zip.header-mismatch`.
 *
 * When there is no usable central directory, or it ends before the count the EOCD declares, the
 * local file headers are walked from the first `PK\3\4`: entry after entry, resynchronising on the
 * next signature after garbage. An entry with a data descriptor (flag bit 3) has no sizes in its
 * header; its end is found by searching forward for a descriptor whose compressed size equals the
 * distance searched (with or without the optional `PK\7\8` signature, 32- or 64-bit sizes). Each
 * search starts where the previous entry ended, so the whole walk reads the input about once.
 * Entries found this way that the central directory already lists are not repeated.
 *
 * Overlap (ClamAV `index_the_central_directory`): entries with data are sorted by local-header
 * offset, each spans its local header plus its compressed data, and neighbours overlapping by
 * more than 2 bytes count; exact duplicates (same offset, header size and compressed size) are
 * counted but never trigger the verdict, which is raised at a non-duplicate overlap once more than
 * 5 have been counted.
 *
 * Names are data: `..` and absolute paths are reported as they are, since nothing is written to
 * disk. Names are UTF-8 when flag bit 11 says so, or when an Info-ZIP Unicode Path extra field
 * (0x7075) matches the header name's CRC; otherwise CP437, as the APPNOTE specifies.
 */

import { inflateRawSync } from 'node:zlib';
import { ByteReader, checkedAdd } from '../core/bytes.js';
import { crc32 } from '../core/crc32.js';
import { bunzip2 } from './compress/bzip2.js';
import { LIMIT, type DecodeResult } from './compress/common.js';
import { lzmaDecode } from './compress/lzma.js';
import { CHILD_REFUSED, type MetaReport, type UnpackContext, type UnpackItem } from './unpack.js';
import { explode } from './zipmethods/explode.js';
import { inflateRaw } from './zipmethods/inflate.js';
import { unz } from './zipmethods/unz.js';

export interface ZipLimits {
  /** Entries listed at most (ClamAV MaxFiles); later ones are not read. */
  maxFiles: number;
  /** Bytes one extracted entry may have (ClamAV MaxFileSize); inflation stops there. */
  maxEntrySize: number;
  /** Bytes all entries extracted through one budget may have together (ClamAV MaxScanSize). */
  maxTotal: number;
}

export interface ZipName {
  /** The name exactly as stored (a view into the archive). */
  raw: Uint8Array;
  /** Decoded: UTF-8 (flag bit 11 or a matching Unicode Path field), else CP437. */
  text: string;
}

export interface ZipEntry {
  name: ZipName;
  /** Compression method number (0 stored, 8 deflate, 9 deflate64, 12 bzip2, 14 lzma, 99 AES…). */
  method: number;
  /** General-purpose flags (bit 0 encrypted, bit 3 data descriptor, bit 11 UTF-8…). */
  flags: number;
  /** Traditional PKWARE encryption (bit 0), strong encryption (bit 6) or AES (method 99). */
  encrypted: boolean;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  /** Offset of the local file header in `bytes` (after any prefix shift). */
  localHeaderOffset: number;
  /** Offset of the first data byte, or undefined when the local header is missing or unreadable. */
  dataOffset: number | undefined;
  /** Where the entry was found: the central directory or the walk of local headers. */
  source: 'central' | 'local';
  /** Sizes or offset came from a ZIP64 extra field or descriptor. */
  zip64: boolean;
  /** The name ends in `/`. */
  isDirectory: boolean;
}

export interface ZipProblem {
  /** Stable code, e.g. `zip.truncated-central`. */
  code: string;
  message: string;
  /** Byte offset in the archive the problem is about. */
  offset: number;
}

export interface ZipListing {
  entries: ZipEntry[];
  problems: ZipProblem[];
  /** ClamAV would raise `Heuristics.Zip.OverlappingFiles` (more than 5 overlaps, one not a duplicate). */
  overlapping: boolean;
  /** Overlapping neighbour pairs, duplicates included, as ClamAV counts them. */
  overlapCount: number;
  /** A central directory was found and used. */
  centralDirectory: boolean;
  /** The local headers were walked (no usable or an incomplete central directory, or asked for). */
  localScan: boolean;
  /** Listing stopped at `maxFiles` entries. */
  maxFilesReached: boolean;
  /** Bytes before the archive proper (an SFX stub), by which every stored offset was shifted. */
  prefixBytes: number;
}

export interface ZipReadOptions {
  /** `fallback` (default): walk local headers only when the central directory is unusable or short. */
  localScan?: 'fallback' | 'always' | 'never';
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const SIG_DESCRIPTOR = 0x08074b50;

const LOCAL_SIZE = 30;
const CENTRAL_SIZE = 46;
const EOCD_SIZE = 22;
const LOCATOR64_SIZE = 20;
const EOCD64_SIZE = 56;
const MAX_COMMENT = 0xffff;

const FLAG_ENCRYPTED = 1 << 0;
const FLAG_DESCRIPTOR = 1 << 3;
const FLAG_STRONG = 1 << 6;
const FLAG_UTF8 = 1 << 11;
const METHOD_AES = 99;

const EXTRA_ZIP64 = 0x0001;
const EXTRA_UNICODE_PATH = 0x7075;

/** Problems kept per listing; a hostile archive can otherwise produce one per few bytes. */
const MAX_PROBLEMS = 256;

/** ClamAV ZIP_RECORD_OVERLAP_FUDGE_FACTOR and ZIP_MAX_NUM_OVERLAPPING_FILES. */
const OVERLAP_FUDGE = 2;
const MAX_OVERLAPS = 5;

/** Lists the entries of a ZIP archive; never throws. */
export function readZip(bytes: Uint8Array, limits: Pick<ZipLimits, 'maxFiles'>, options: ZipReadOptions = {}): ZipListing {
  const r = new ByteReader(bytes);
  const problems: ZipProblem[] = [];
  const problem = (code: string, message: string, offset: number): void => {
    if (problems.length < MAX_PROBLEMS) problems.push({ code, message, offset });
    else if (problems.length === MAX_PROBLEMS) problems.push({ code: 'zip.too-many-problems', message: `more than ${MAX_PROBLEMS} problems; the rest are not listed`, offset });
  };
  const maxFiles = Number.isNaN(limits.maxFiles) ? 0 : Math.max(0, Math.floor(limits.maxFiles));
  const entries: ZipEntry[] = [];
  let maxFilesReached = false;

  const dir = findCentralDirectory(r, problem);
  let needLocalScan = dir === undefined;
  if (dir) {
    const cd = readCentral(r, dir, maxFiles, problem);
    entries.push(...cd.entries);
    maxFilesReached = cd.maxFilesReached;
    if (!cd.complete && !maxFilesReached) needLocalScan = true;
  }
  const mode = options.localScan ?? 'fallback';
  const localScan = mode === 'always' || (mode === 'fallback' && needLocalScan);
  if (localScan && !maxFilesReached) {
    const known = new Set(entries.map((e) => e.localHeaderOffset));
    const walked = walkLocalHeaders(r, known, maxFiles - entries.length, problem);
    entries.push(...walked.entries);
    maxFilesReached = walked.maxFilesReached;
  }
  if (maxFilesReached) problem('zip.max-files', `listing stopped at the limit of ${maxFiles} entries`, 0);

  const overlap = checkOverlaps(entries);
  return {
    entries,
    problems,
    overlapping: overlap.flagged,
    overlapCount: overlap.count,
    centralDirectory: dir !== undefined,
    localScan,
    maxFilesReached,
    prefixBytes: dir?.prefix ?? 0,
  };
}

type Report = (code: string, message: string, offset: number) => void;

interface CentralDirectory {
  /** Offset of the first central header in `bytes`. */
  start: number;
  /** Entries the EOCD (or ZIP64 EOCD) declares. */
  count: number;
  /** Shift added to every stored offset (bytes prepended to the archive). */
  prefix: number;
  /** Offset of the EOCD (or ZIP64 EOCD record): the directory must end before it. */
  end: number;
}

/**
 * eocd = sig(4) disk(2) cd-disk(2) disk-entries(2) entries(2) cd-size(4) cd-offset(4) comment-len(2) comment
 * zip64-locator = sig(4) eocd64-disk(4) eocd64-offset(8) disks(4), immediately before the EOCD
 * zip64-eocd = sig(4) size(8) made-by(2) needed(2) disk(4) cd-disk(4) disk-entries(8) entries(8) cd-size(8) cd-offset(8)
 */
function findCentralDirectory(r: ByteReader, problem: Report): CentralDirectory | undefined {
  const len = r.length;
  if (len < EOCD_SIZE) {
    problem('zip.no-eocd', `${len} bytes are too few for an end-of-central-directory record`, 0);
    return undefined;
  }
  const lowest = Math.max(0, len - EOCD_SIZE - MAX_COMMENT);
  let sawEocd = false;
  for (let i = len - EOCD_SIZE; i >= lowest; i--) {
    if (r.bytes[i] !== 0x50 || r.u32le(i) !== SIG_EOCD) continue;
    sawEocd = true;
    const disk = r.u16le(i + 4)!;
    const cdDisk = r.u16le(i + 6)!;
    let count = r.u16le(i + 10)!;
    let cdSize = r.u32le(i + 12)!;
    let cdOffset = r.u32le(i + 16)!;
    let end = i;
    const loc = i - LOCATOR64_SIZE;
    if (loc >= 0 && r.u32le(loc) === SIG_LOCATOR64) {
      const stored = r.u64le(loc + 8);
      // With bytes prepended, the stored offset is short by their length; the record (without
      // extensible data) sits right before the locator.
      const e64 = stored !== undefined && r.u32le(stored) === SIG_EOCD64 ? stored : loc - EOCD64_SIZE;
      if (r.u32le(e64) === SIG_EOCD64 && r.has(e64, EOCD64_SIZE)) {
        const c = r.u64le(e64 + 32);
        const s = r.u64le(e64 + 40);
        const o = r.u64le(e64 + 48);
        if (c !== undefined && s !== undefined && o !== undefined) {
          count = c;
          cdSize = s;
          cdOffset = o;
          end = e64;
        } else {
          problem('zip.bad-zip64', `the ZIP64 end-of-central-directory record at offset ${e64} has values beyond 2^53`, e64);
        }
      } else {
        problem('zip.bad-zip64', `the ZIP64 locator at offset ${loc} points to ${stored ?? 'an unreadable offset'}, where there is no ZIP64 end record`, loc);
      }
    }
    if (disk !== 0 || cdDisk !== 0) {
      problem('zip.multi-disk', `the end record at offset ${i} names disk ${disk} (directory on disk ${cdDisk}); only this file is read`, i);
    }
    if (count === 0 && cdSize === 0) return { start: i, count: 0, prefix: 0, end };
    if (r.u32le(cdOffset) === SIG_CENTRAL && cdOffset < end) return { start: cdOffset, count, prefix: 0, end };
    // Bytes prepended to the archive: the directory sits `cdSize` bytes before its end record.
    const start = end - cdSize;
    if (start >= 0 && start > cdOffset && r.u32le(start) === SIG_CENTRAL) {
      const prefix = start - cdOffset;
      problem('zip.prefix-bytes', `${prefix} bytes precede the archive; every offset is shifted by them`, 0);
      return { start, count, prefix, end };
    }
    problem('zip.bad-central-offset', `the end record at offset ${i} places the central directory at ${cdOffset}, where there is none`, i);
  }
  if (!sawEocd) problem('zip.no-eocd', 'no end-of-central-directory record in the last 64 KiB', Math.max(0, len - EOCD_SIZE));
  return undefined;
}

/**
 * central-header = sig(4) made-by(2) needed(2) flags(2) method(2) time(2) date(2) crc(4)
 *   csize(4) usize(4) name-len(2) extra-len(2) comment-len(2) disk(2) iattr(2) eattr(4)
 *   local-offset(4) name extra comment
 */
function readCentral(r: ByteReader, dir: CentralDirectory, maxFiles: number, problem: Report): { entries: ZipEntry[]; complete: boolean; maxFilesReached: boolean } {
  const entries: ZipEntry[] = [];
  let pos = dir.start;
  while (r.u32le(pos) === SIG_CENTRAL) {
    if (entries.length >= maxFiles) return { entries, complete: true, maxFilesReached: true };
    if (!r.has(pos, CENTRAL_SIZE)) break;
    const flags = r.u16le(pos + 8)!;
    const method = r.u16le(pos + 10)!;
    const crc = r.u32le(pos + 16)!;
    let csize = r.u32le(pos + 20)!;
    let usize = r.u32le(pos + 24)!;
    const nameLen = r.u16le(pos + 28)!;
    const extraLen = r.u16le(pos + 30)!;
    const commentLen = r.u16le(pos + 32)!;
    let offset = r.u32le(pos + 42)!;
    const next = pos + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (next > r.length) {
      problem('zip.truncated-central', `the central header at offset ${pos} runs past the end of the archive`, pos);
      break;
    }
    const raw = r.slice(pos + CENTRAL_SIZE, nameLen)!;
    const extra = r.slice(pos + CENTRAL_SIZE + nameLen, extraLen)!;
    let zip64 = false;
    if (csize === 0xffffffff || usize === 0xffffffff || offset === 0xffffffff) {
      const z = zip64Extra(extra, usize === 0xffffffff, csize === 0xffffffff, offset === 0xffffffff);
      if (z) {
        zip64 = true;
        usize = z.usize ?? usize;
        csize = z.csize ?? csize;
        offset = z.offset ?? offset;
      } else {
        problem('zip.bad-zip64', `the central header at offset ${pos} has saturated fields but no usable ZIP64 extra field`, pos);
      }
    }
    const lho = offset + dir.prefix;
    const entry = makeEntry(raw, extra, flags, method, crc, csize, usize, lho, 'central', zip64);
    placeData(r, entry, problem);
    entries.push(entry);
    pos = next;
  }
  const complete = entries.length >= dir.count;
  if (entries.length !== dir.count) {
    problem('zip.entry-count-mismatch', `the end record declares ${dir.count} entries; the central directory at offset ${dir.start} holds ${entries.length}`, pos);
  }
  return { entries, complete, maxFilesReached: false };
}

/**
 * local-header = sig(4) needed(2) flags(2) method(2) time(2) date(2) crc(4) csize(4) usize(4)
 *   name-len(2) extra-len(2) name extra
 * Finds the data of a central-directory entry through its local header and compares the two.
 */
function placeData(r: ByteReader, e: ZipEntry, problem: Report): void {
  const at = e.localHeaderOffset;
  if (r.u32le(at) !== SIG_LOCAL || !r.has(at, LOCAL_SIZE)) {
    problem('zip.bad-local-header', `entry '${e.name.text}' points to offset ${at}, where there is no local header`, at);
    return;
  }
  const nameLen = r.u16le(at + 26)!;
  const extraLen = r.u16le(at + 28)!;
  const dataOffset = at + LOCAL_SIZE + nameLen + extraLen;
  if (dataOffset > r.length) {
    problem('zip.bad-local-header', `the local header of '${e.name.text}' at offset ${at} runs past the end of the archive`, at);
    return;
  }
  e.dataOffset = dataOffset;
  const localName = r.slice(at + LOCAL_SIZE, nameLen)!;
  const localMethod = r.u16le(at + 8)!;
  if (!sameBytes(localName, e.name.raw) || localMethod !== e.method) {
    problem('zip.header-mismatch', `the local header at offset ${at} disagrees with the central directory about '${e.name.text}' (name or method); the central directory is used`, at);
  }
  const dataEnd = checkedAdd(dataOffset, e.compressedSize);
  if (dataEnd === undefined || dataEnd > r.length) {
    problem('zip.data-out-of-bounds', `the ${e.compressedSize} bytes of '${e.name.text}' at offset ${dataOffset} run past the end of the archive`, dataOffset);
  }
}

/** Walks local headers from the first `PK\3\4`, skipping any whose offset is in `known`. */
function walkLocalHeaders(r: ByteReader, known: ReadonlySet<number>, room: number, problem: Report): { entries: ZipEntry[]; maxFilesReached: boolean } {
  const entries: ZipEntry[] = [];
  let pos = findLocalSignature(r, 0);
  while (pos >= 0 && pos < r.length) {
    const sig = r.u32le(pos);
    if (sig !== SIG_LOCAL) {
      if (sig === SIG_CENTRAL || sig === SIG_EOCD || sig === SIG_EOCD64) break;
      const nextSig = findLocalSignature(r, pos + 1);
      problem('zip.garbage', `bytes at offset ${pos} are not a ZIP header${nextSig >= 0 ? `; resuming at offset ${nextSig}` : ''}`, pos);
      pos = nextSig;
      continue;
    }
    if (!r.has(pos, LOCAL_SIZE)) {
      problem('zip.truncated-local', `the local header at offset ${pos} is cut off by the end of the archive`, pos);
      break;
    }
    if (entries.length >= room) return { entries, maxFilesReached: true };
    const flags = r.u16le(pos + 6)!;
    const method = r.u16le(pos + 8)!;
    let crc = r.u32le(pos + 14)!;
    let csize = r.u32le(pos + 18)!;
    let usize = r.u32le(pos + 22)!;
    const nameLen = r.u16le(pos + 26)!;
    const extraLen = r.u16le(pos + 28)!;
    const dataOffset = pos + LOCAL_SIZE + nameLen + extraLen;
    if (dataOffset > r.length) {
      problem('zip.truncated-local', `the name or extra field of the local header at offset ${pos} runs past the end of the archive`, pos);
      break;
    }
    const raw = r.slice(pos + LOCAL_SIZE, nameLen)!;
    const extra = r.slice(pos + LOCAL_SIZE + nameLen, extraLen)!;
    let zip64 = false;
    if (csize === 0xffffffff || usize === 0xffffffff) {
      // In a local header the ZIP64 field holds both sizes whenever either is saturated.
      const z = zip64Extra(extra, true, true, false);
      if (z && z.usize !== undefined && z.csize !== undefined) {
        zip64 = true;
        usize = z.usize;
        csize = z.csize;
      }
    }
    let end: number | undefined;
    if (flags & FLAG_DESCRIPTOR) {
      const d = findDescriptor(r, dataOffset, extraField(extra, EXTRA_ZIP64) !== undefined);
      if (d) {
        crc = d.crc;
        csize = d.csize;
        usize = d.usize;
        zip64 ||= d.zip64;
        end = d.end;
      } else {
        problem('zip.no-data-descriptor', `no data descriptor ends the data of the local entry at offset ${pos}`, dataOffset);
      }
    } else {
      const dataEnd = checkedAdd(dataOffset, csize);
      if (dataEnd !== undefined && dataEnd <= r.length) end = dataEnd;
      else problem('zip.data-out-of-bounds', `the ${csize} bytes of the local entry at offset ${pos} run past the end of the archive`, dataOffset);
    }
    if (!known.has(pos)) {
      const entry = makeEntry(raw, extra, flags, method, crc, csize, usize, pos, 'local', zip64);
      entry.dataOffset = dataOffset;
      entries.push(entry);
    }
    if (end === undefined) break;
    pos = end; // > pos: at least the 30-byte header was consumed
  }
  return { entries, maxFilesReached: false };
}

/**
 * data-descriptor = [sig(4)] crc(4) csize(4|8) usize(4|8)
 * The first position at or after `dataOffset` where a descriptor's compressed size equals its
 * distance from `dataOffset`. Without a signature, the next header's signature (or the end of the
 * archive) must follow, so that data bytes are not mistaken for a descriptor. With a signature,
 * a 64-bit descriptor also matches as a 32-bit one (its low word is the size): the one followed by
 * a header wins, then the 64-bit one when the local header has a ZIP64 field (`zip64Hint`), as
 * the APPNOTE ties the two together.
 */
function findDescriptor(r: ByteReader, dataOffset: number, zip64Hint: boolean): Descriptor | undefined {
  const b = r.bytes;
  const headerFollows = (at: number): boolean => {
    if (at === b.length) return true;
    const s = r.u32le(at);
    return s === SIG_LOCAL || s === SIG_CENTRAL || s === SIG_EOCD || s === SIG_EOCD64;
  };
  const len = b.length;
  for (let p = dataOffset; p + 12 <= len; p++) {
    // The cheap test that rejects almost every position: "PK" at p, p + 12 or p + 20, or the end
    // of the archive right after a descriptor.
    if (b[p + 1] !== 0x4b && b[p + 13] !== 0x4b && b[p + 21] !== 0x4b && p + 12 !== len && p + 20 !== len) continue;
    const dist = p - dataOffset;
    if (b[p] === 0x50 && r.u32le(p) === SIG_DESCRIPTOR) {
      const crc = r.u32le(p + 4)!;
      const d32: Descriptor | undefined = r.u32le(p + 8) === dist && r.has(p, 16) ? { crc, csize: dist, usize: r.u32le(p + 12)!, end: p + 16, zip64: false } : undefined;
      const u64 = r.u64le(p + 16);
      const d64: Descriptor | undefined = r.u64le(p + 8) === dist && u64 !== undefined ? { crc, csize: dist, usize: u64, end: p + 24, zip64: true } : undefined;
      if (d32 && d64) {
        if (headerFollows(d32.end) !== headerFollows(d64.end)) return headerFollows(d32.end) ? d32 : d64;
        return zip64Hint ? d64 : d32;
      }
      if (d32 ?? d64) return d32 ?? d64;
    }
    if (r.u32le(p + 4) === dist && headerFollows(p + 12)) return { crc: r.u32le(p)!, csize: dist, usize: r.u32le(p + 8)!, end: p + 12, zip64: false };
    if (r.has(p, 20) && r.u64le(p + 4) === dist && headerFollows(p + 20)) return { crc: r.u32le(p)!, csize: dist, usize: r.u64le(p + 12) ?? 0, end: p + 20, zip64: true };
  }
  return undefined;
}

interface Descriptor {
  crc: number;
  csize: number;
  usize: number;
  /** Offset just past the descriptor. */
  end: number;
  zip64: boolean;
}

function findLocalSignature(r: ByteReader, from: number): number {
  const b = r.bytes;
  for (let i = from; i + 4 <= b.length; i++) {
    if (b[i] === 0x50 && b[i + 1] === 0x4b && b[i + 2] === 0x03 && b[i + 3] === 0x04) return i;
  }
  return -1;
}

/**
 * zip64-extra = usize(8)? csize(8)? offset(8)? disk(4)?, each present only when wanted, in order.
 * Returns undefined when the field is absent or too short for what is wanted.
 */
function zip64Extra(extra: Uint8Array, wantU: boolean, wantC: boolean, wantO: boolean): { usize?: number; csize?: number; offset?: number } | undefined {
  const field = extraField(extra, EXTRA_ZIP64);
  if (!field) return undefined;
  const fr = new ByteReader(field);
  const out: { usize?: number; csize?: number; offset?: number } = {};
  let p = 0;
  if (wantU) {
    const v = fr.u64le(p);
    if (v === undefined) return undefined;
    out.usize = v;
    p += 8;
  }
  if (wantC) {
    const v = fr.u64le(p);
    if (v === undefined) return wantU ? out : undefined;
    out.csize = v;
    p += 8;
  }
  if (wantO) {
    const v = fr.u64le(p);
    if (v === undefined) return undefined;
    out.offset = v;
  }
  return out;
}

/** extra = *( id(2) size(2) data(size) ); the data of the first field with `id`, or undefined. */
function extraField(extra: Uint8Array, id: number): Uint8Array | undefined {
  const er = new ByteReader(extra);
  let p = 0;
  while (er.has(p, 4)) {
    const fid = er.u16le(p)!;
    const size = er.u16le(p + 2)!;
    const data = er.slice(p + 4, size);
    if (!data) return undefined;
    if (fid === id) return data;
    p += 4 + size;
  }
  return undefined;
}

function makeEntry(raw: Uint8Array, extra: Uint8Array, flags: number, method: number, crc: number, csize: number, usize: number, lho: number, source: 'central' | 'local', zip64: boolean): ZipEntry {
  const text = decodeName(raw, extra, flags);
  return {
    name: { raw, text },
    method,
    flags,
    encrypted: (flags & (FLAG_ENCRYPTED | FLAG_STRONG)) !== 0 || method === METHOD_AES,
    compressedSize: csize,
    uncompressedSize: usize,
    crc32: crc,
    localHeaderOffset: lho,
    dataOffset: undefined,
    source,
    zip64,
    isDirectory: text.endsWith('/'),
  };
}

const UTF8 = new TextDecoder('utf-8', { fatal: false });

/** unicode-path-extra = version(1) = 1, crc32 of the header name(4), UTF-8 name. */
function decodeName(raw: Uint8Array, extra: Uint8Array, flags: number): string {
  if (flags & FLAG_UTF8) return UTF8.decode(raw);
  const up = extraField(extra, EXTRA_UNICODE_PATH);
  if (up && up.length >= 5 && up[0] === 1) {
    const want = new ByteReader(up).u32le(1);
    if (want === crc32(raw)) return UTF8.decode(up.subarray(5));
  }
  return cp437(raw);
}

const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

function cp437(raw: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < raw.length; i++) if (raw[i]! >= 0x80) { ascii = false; break; }
  if (ascii) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  let s = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    s += c < 0x80 ? String.fromCharCode(c) : CP437_HIGH[c - 0x80]!;
  }
  return s;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** ClamAV's overlapping-files check over the entries whose data could be placed. */
function checkOverlaps(entries: readonly ZipEntry[]): { count: number; flagged: boolean } {
  const spans = entries
    .filter((e) => e.dataOffset !== undefined && e.compressedSize > 0)
    .map((e) => ({ start: e.localHeaderOffset, header: e.dataOffset! - e.localHeaderOffset, size: e.compressedSize }))
    .sort((a, b) => a.start - b.start);
  let count = 0;
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1]!;
    const cur = spans[i]!;
    const prevEnd = prev.start + prev.header + prev.size;
    const curEnd = cur.start + cur.header + cur.size;
    const overlaps = (cur.start >= prev.start && cur.start + OVERLAP_FUDGE < prevEnd) || (prev.start >= cur.start && prev.start + OVERLAP_FUDGE < curEnd);
    if (!overlaps) continue;
    count++;
    const duplicate = cur.start === prev.start && cur.header === prev.header && cur.size === prev.size;
    if (!duplicate && count > MAX_OVERLAPS) return { count, flagged: true };
  }
  return { count, flagged: false };
}

// ---------------------------------------------------------------------------------------------
// Extraction

export type ZipExtractError =
  | 'encrypted'
  | 'unsupported-method'
  | 'no-local-header'
  | 'truncated'
  | 'inflate-failed'
  | 'entry-too-large'
  | 'total-exceeded'
  | 'size-mismatch'
  | 'crc-mismatch';

export type ZipExtractResult =
  | { data: Uint8Array }
  | {
      error: ZipExtractError;
      message: string;
      /** For `unsupported-method`: the method number. */
      method?: number;
      /** For `size-mismatch` and `crc-mismatch` only: the bytes produced, which a scanner may still scan. */
      data?: Uint8Array;
    };

/** What is left of `maxTotal` across the entries of one archive; `extractEntry` subtracts from it. */
export interface ZipBudget {
  remaining: number;
}

export function newBudget(limits: Pick<ZipLimits, 'maxTotal'>): ZipBudget {
  return { remaining: Math.max(0, limits.maxTotal) };
}

/** Methods that `extractEntry` decodes: stored, implode, deflate, Deflate64, bzip2, LZMA. */
export const SUPPORTED_METHODS: ReadonlySet<number> = new Set([0, 6, 8, 9, 12, 14]);

/**
 * One entry's bytes, within `maxEntrySize` and the budget (when given). Never throws: a bomb stops
 * at the limit, corrupt streams and truncated data are typed errors (`inflate-failed` for every
 * decoder). A declared size above the limit is refused without decoding. Imploded data is decoded
 * up to the declared size (the format has no end marker); LZMA data starts with its 4-byte version
 * and properties-length header and the 5-byte properties.
 */
export function extractEntry(bytes: Uint8Array, entry: ZipEntry, limits: Pick<ZipLimits, 'maxEntrySize'>, budget?: ZipBudget): ZipExtractResult {
  const name = entry.name.text;
  if (entry.encrypted) return { error: 'encrypted', message: `'${name}' is encrypted` };
  if (!SUPPORTED_METHODS.has(entry.method)) {
    return { error: 'unsupported-method', method: entry.method, message: `'${name}' uses compression method ${entry.method}, which is not supported` };
  }
  if (entry.dataOffset === undefined) return { error: 'no-local-header', message: `'${name}' has no readable local header` };
  const r = new ByteReader(bytes);
  const packed = r.slice(entry.dataOffset, entry.compressedSize);
  if (!packed) return { error: 'truncated', message: `the data of '${name}' runs past the end of the archive` };

  const entryCap = Math.max(0, limits.maxEntrySize);
  const cap = budget ? Math.min(entryCap, budget.remaining) : entryCap;
  const overCap = (): ZipExtractResult =>
    cap < entryCap
      ? { error: 'total-exceeded', message: `'${name}' would take the archive past its total extraction limit` }
      : { error: 'entry-too-large', message: `'${name}' is larger than the limit of ${entryCap} bytes` };
  if (entry.uncompressedSize > cap) return overCap();

  let data: Uint8Array;
  if (entry.method === 0) {
    data = packed;
    if (data.length > cap) return overCap();
  } else if (packed.length === 0 && entry.uncompressedSize === 0) {
    data = packed;
  } else if (entry.method === 8) {
    try {
      data = inflateRawSync(packed, { maxOutputLength: Math.max(1, cap) });
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') return overCap();
      return { error: 'inflate-failed', message: `'${name}' does not inflate: ${(e as Error).message}` };
    }
    if (data.length > cap) return overCap();
  } else {
    const res = decodeMethod(entry, packed, cap);
    if (res.error === LIMIT) return overCap();
    if (!res.complete) return { error: 'inflate-failed', message: `'${name}' does not decode (method ${entry.method}): ${res.error ?? 'damaged'}` };
    data = res.data;
  }
  if (budget) budget.remaining -= data.length;
  if (data.length !== entry.uncompressedSize) {
    return { error: 'size-mismatch', data, message: `'${name}' gives ${data.length} bytes, not the ${entry.uncompressedSize} declared` };
  }
  const actual = crc32(data);
  if (actual !== entry.crc32) {
    return { error: 'crc-mismatch', data, message: `'${name}' has CRC-32 ${hex32(actual)}, not the ${hex32(entry.crc32)} declared` };
  }
  return { data };
}

/** Implode, Deflate64, bzip2 or LZMA data → a decoder's result (`complete` when it ended properly). */
function decodeMethod(entry: ZipEntry, packed: Uint8Array, cap: number): DecodeResult {
  switch (entry.method) {
    case 6: {
      // No end marker: the declared size (already checked against the bound) ends it.
      const res = explode(packed, entry.flags, cap, entry.uncompressedSize);
      return res.data.length === entry.uncompressedSize ? { data: res.data, complete: true } : res;
    }
    case 9: return inflateRaw(packed, cap, true);
    case 12: return bunzip2(packed, cap, { firstStreamOnly: true });
    case 14: {
      // lzma-header = version(2) props-size(2) props(props-size), then the raw stream.
      if (packed.length < 4) return { data: new Uint8Array(0), complete: false, error: 'truncated' };
      const propsSize = packed[2]! | (packed[3]! << 8);
      if (propsSize < 5 || packed.length < 4 + propsSize) return { data: new Uint8Array(0), complete: false, error: 'bad LZMA header' };
      const props = packed.subarray(4, 4 + propsSize);
      const res = lzmaDecode(props, packed.subarray(4 + propsSize), cap, entry.uncompressedSize);
      if (res.error === LIMIT && entry.uncompressedSize <= cap) return { ...res, error: 'size-mismatch' };
      return res;
    }
    default: return { data: new Uint8Array(0), complete: false, error: 'unsupported method' };
  }
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// ClamAV 1.4's unzip (libclamav/unzip.c), as the scanner must reproduce it

/**
 * One entry as ClamAV catalogues it: where its local header is, the header's size, and the sizes,
 * method and flags the local header gives (the central directory's sizes only with flag bit 3).
 */
export interface ClamZipRecord {
  localHeaderOffset: number;
  /** 30 + the local name and extra lengths. */
  localHeaderSize: number;
  compressedSize: number;
  uncompressedSize: number;
  method: number;
  flags: number;
  encrypted: boolean;
  /** The central directory's name when there is one, else the local header's (CP437 or UTF-8). */
  name: string;
}

/** What ClamAV found in one archive before extracting anything. */
export interface ClamZipIndex {
  /** Offset of the central directory the end record names, or 0 when ClamAV finds none. */
  centralOffset: number;
  /** Catalogued entries in local-header order (duplicates included; they are skipped when extracting). */
  records: ClamZipRecord[];
  /** Entries whose local header has bit 0 (traditional or strong encryption), in directory order. */
  encryptedSeen: number;
  /** The catalogue stopped at MaxFiles. */
  maxFilesReached: boolean;
  /** Every central record ClamAV reports metadata for while indexing (`cli_matchmeta`), in directory order. */
  metas: MetaReport[];
  /** Overlapping neighbours counted before the check ended. */
  overlapCount: number;
  /** More than 5 overlaps, one not a duplicate: `Heuristics.Zip.OverlappingFiles` (nothing is extracted). */
  overlapping: boolean;
}

const CLAM_F_MASKED = 1 << 13;

interface LocalParse {
  /** Bytes from the local header to past the data (and descriptor); 0 when ClamAV stops here. */
  size: number;
  /** Set when the entry has data to extract. */
  record?: ClamZipRecord;
  /** The local header has bit 0 and got as far as ClamAV's encryption check. */
  encrypted: boolean;
}

/**
 * ClamAV's `parse_local_file_header`: the entry at `loff` (with its central header's sizes when
 * `central` is given, used only with flag bit 3). Never throws.
 */
function clamLocal(b: Uint8Array, loff: number, central: { csize: number; usize: number; name: string } | undefined): LocalParse {
  const fsize = b.length;
  const fail: LocalParse = { size: 0, encrypted: false };
  if (loff < 0 || loff + LOCAL_SIZE > fsize) return fail;
  const r = new ByteReader(b);
  if (r.u32le(loff) !== SIG_LOCAL) return fail;
  const flags = r.u16le(loff + 6)!;
  const method = r.u16le(loff + 8)!;
  const nameLen = r.u16le(loff + 26)!;
  const extraLen = r.u16le(loff + 28)!;
  let zsize = fsize - loff - LOCAL_SIZE;
  if (zsize <= nameLen) return fail;
  if (flags & CLAM_F_MASKED) return fail;
  const encrypted = (flags & FLAG_ENCRYPTED) !== 0;
  let csize: number, usize: number;
  if (flags & FLAG_DESCRIPTOR) {
    if (!central) return { size: 0, encrypted };
    csize = central.csize;
    usize = central.usize;
  } else {
    csize = r.u32le(loff + 18)!;
    usize = r.u32le(loff + 22)!;
  }
  zsize -= nameLen;
  if (zsize <= extraLen) return { size: 0, encrypted };
  zsize -= extraLen;
  const headerSize = LOCAL_SIZE + nameLen + extraLen;
  let size = headerSize;
  let record: ClamZipRecord | undefined;
  if (csize !== 0) {
    if (zsize < csize) return { size: 0, encrypted };
    const raw = b.subarray(loff + LOCAL_SIZE, loff + LOCAL_SIZE + nameLen);
    record = {
      localHeaderOffset: loff, localHeaderSize: headerSize, compressedSize: csize, uncompressedSize: usize,
      method, flags, encrypted, name: central?.name ?? decodeName(raw, new Uint8Array(0), flags),
    };
    size += csize;
    zsize -= csize;
  }
  if (flags & FLAG_DESCRIPTOR) {
    if (zsize < 12) return { size: 0, encrypted, ...(record ? { record } : {}) };
    zsize -= 12;
    if (r.u32le(loff + size) === SIG_DESCRIPTOR) {
      if (zsize < 4) return { size: 0, encrypted, ...(record ? { record } : {}) };
      size += 4;
    }
    size += 12;
  }
  return { size, encrypted, ...(record ? { record } : {}) };
}

/**
 * ClamAV's search for the end record: backwards from the end over the whole file (offset 0
 * excluded), the first `PK\5\6` whose directory offset leaves room for a central header. The
 * offset is taken as written (no shift for bytes prepended), and 0 means none.
 */
export function clamCentralOffset(b: Uint8Array): number {
  const fsize = b.length;
  if (fsize < CENTRAL_SIZE) return 0;
  for (let c = fsize - EOCD_SIZE; c > 0; c--) {
    if (b[c] !== 0x50 || b[c + 1] !== 0x4b || b[c + 2] !== 0x05 || b[c + 3] !== 0x06) continue;
    const chptr = (b[c + 16]! | (b[c + 17]! << 8) | (b[c + 18]! << 16) | (b[c + 19]! << 24)) >>> 0;
    if (chptr + CENTRAL_SIZE <= fsize) return chptr;
  }
  return 0;
}

/**
 * ClamAV's `index_the_central_directory`: the central headers from `coff` while their signature
 * holds, each entry's local header parsed for its record, at most `maxFiles` records, then sorted
 * by local-header offset and checked for overlaps. Never throws.
 */
export function clamIndex(b: Uint8Array, coff: number, maxFiles: number): ClamZipIndex {
  const fsize = b.length;
  const start = coff;
  const r = new ByteReader(b);
  const records: ClamZipRecord[] = [];
  let encryptedSeen = 0;
  let maxFilesReached = false;
  const metas: MetaReport[] = [];
  let catalogued = 0;
  for (;;) {
    if (coff + CENTRAL_SIZE > fsize || r.u32le(coff) !== SIG_CENTRAL) break;
    const at = coff;
    const nameLen = r.u16le(at + 28)!;
    const extraLen = r.u16le(at + 30)!;
    const commentLen = r.u16le(at + 32)!;
    coff += CENTRAL_SIZE;
    if (fsize - coff <= nameLen) break;
    const raw = b.subarray(coff, coff + nameLen);
    const flags = r.u16le(at + 8)!;
    coff += nameLen;
    metas.push({
      meta: Buffer.from(raw.subarray(0, 255)).toString('latin1'), compressedSize: r.u32le(at + 20)!, size: r.u32le(at + 24)!,
      encrypted: (flags & 1) !== 0, position: ++catalogued, crc: r.u32le(at + 16)!,
    });
    let last = false;
    if (fsize - coff <= extraLen) last = true;
    const extra = last ? new Uint8Array(0) : b.subarray(coff, coff + extraLen);
    coff += extraLen;
    if (!last && fsize - coff < commentLen) last = true;
    coff += commentLen;
    const off = r.u32le(at + 42)!;
    if (off < fsize - LOCAL_SIZE) {
      const p = clamLocal(b, off, { csize: r.u32le(at + 20)!, usize: r.u32le(at + 24)!, name: decodeName(raw, extra, flags) });
      if (p.encrypted) encryptedSeen++;
      if (p.record) {
        records.push(p.record);
        // The local header is read too, and its metadata reported again (cli_matchmeta in parse_local_file_header).
        const e = p.record;
        metas.push({ meta: e.name, compressedSize: e.compressedSize, size: e.uncompressedSize, encrypted: e.encrypted, position: metas[metas.length - 1]!.position! });
      }
    }
    if (last) break;
    if (maxFiles > 0 && records.length >= maxFiles) { maxFilesReached = true; break; }
  }
  records.sort((x, y) => x.localHeaderOffset - y.localHeaderOffset);
  let overlapCount = 0;
  let overlapping = false;
  for (let i = 1; i < records.length; i++) {
    const prev = records[i - 1]!;
    const cur = records[i]!;
    const prevEnd = prev.localHeaderOffset + prev.localHeaderSize + prev.compressedSize;
    const curEnd = cur.localHeaderOffset + cur.localHeaderSize + cur.compressedSize;
    const over = (cur.localHeaderOffset >= prev.localHeaderOffset && cur.localHeaderOffset + OVERLAP_FUDGE < prevEnd)
      || (prev.localHeaderOffset >= cur.localHeaderOffset && prev.localHeaderOffset + OVERLAP_FUDGE < curEnd);
    if (!over) continue;
    overlapCount++;
    if (!clamDuplicate(prev, cur) && overlapCount > MAX_OVERLAPS) { overlapping = true; break; }
  }
  return { centralOffset: start, records, encryptedSeen, maxFilesReached, metas, overlapCount, overlapping };
}

function clamDuplicate(a: ClamZipRecord, b: ClamZipRecord): boolean {
  return a.localHeaderOffset === b.localHeaderOffset && a.localHeaderSize === b.localHeaderSize && a.compressedSize === b.compressedSize;
}

export { CHILD_REFUSED };

/**
 * The items ClamAV's `cli_unzip` gives for a layer typed ZIP: `Heuristics.Encrypted.Zip` (with
 * AlertEncryptedArchive) when a catalogued entry's local header has bit 0; the MaxFiles limit when
 * the catalogue reaches it (ClamAV alerts it then, even with no entry left over);
 * `Heuristics.Zip.OverlappingFiles` (with HeuristicAlerts; without, CL_EFORMAT) and nothing else
 * for an overlapping-entries bomb; otherwise each distinct entry's outputs (see `unz`) in
 * local-header order, encrypted ones skipped (no password databases are tried), until ClamAV's
 * count of unzipped files reaches MaxFiles. When at most a quarter of the catalogued entries gave
 * a file (and at least one did), ClamAV walks the local headers from offset 0 and extracts what
 * it finds again; that walk is reproduced too. Without a usable end record nothing is extracted
 * here (the local headers are reached through the embedded-ZIP scan instead).
 */
export function* clamUnzipItems(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem, void, unknown> {
  const maxFiles = Math.max(0, ctx.limits.maxFiles);
  const maxFileSize = Math.max(0, ctx.limits.maxFileSize);
  const coff = clamCentralOffset(bytes);
  if (coff === 0) return;
  const index = clamIndex(bytes, coff, maxFiles);
  // Every member's metadata is reported while the directory is indexed, before anything is extracted.
  yield* index.metas;
  // ClamAV appends the alert for every encrypted entry (and again in its local walk); one name is
  // reported once per file, so one alert per archive is what shows.
  let alerted = false;
  if (index.encryptedSeen > 0 && ctx.options.alertEncryptedArchive) { alerted = true; yield { alert: 'Heuristics.Encrypted.Zip' }; }
  if (index.maxFilesReached) yield { name: `zip@${coff}`, limit: 'MaxFiles' };
  if (index.overlapping) {
    if (ctx.options.heuristicAlerts) yield { alert: 'Heuristics.Zip.OverlappingFiles' };
    return;
  }
  let unzipped = 0;
  let fileCount = 0;
  const records = index.records;
  for (let i = 0; i < records.length; i++) {
    const e = records[i]!;
    if (i > 0 && clamDuplicate(records[i - 1]!, e)) continue;
    const start = e.localHeaderOffset + e.localHeaderSize;
    if (!e.encrypted && start + LOCAL_SIZE <= bytes.length) {
      const u = unz(bytes.subarray(start, start + e.compressedSize), e.uncompressedSize, e.method, e.flags, maxFileSize);
      unzipped += u.unzipped;
      for (const data of u.outputs) if (data.length > 0 && (yield { name: e.name, data }) === CHILD_REFUSED) return;
    }
    fileCount++;
    if (maxFiles > 0 && unzipped >= maxFiles) {
      yield { name: e.name, limit: 'MaxFiles' };
      return;
    }
  }
  if (unzipped === 0 || unzipped > Math.floor(fileCount / 4)) return;
  // ClamAV's second pass over the local headers, from the start of the file.
  let lhoff = 0;
  while (lhoff < bytes.length) {
    const p = clamLocal(bytes, lhoff, undefined);
    if (p.record) yield { meta: p.record.name };
    if (p.encrypted && ctx.options.alertEncryptedArchive && !alerted) { alerted = true; yield { alert: 'Heuristics.Encrypted.Zip' }; }
    if (p.size === 0) return;
    const e = p.record;
    if (e && !e.encrypted) {
      const start = lhoff + e.localHeaderSize;
      const u = unz(bytes.subarray(start, start + e.compressedSize), e.uncompressedSize, e.method, e.flags, maxFileSize);
      unzipped += u.unzipped;
      for (const data of u.outputs) if (data.length > 0 && (yield { name: e.name, data }) === CHILD_REFUSED) return;
    }
    lhoff += p.size;
    if (maxFiles > 0 && unzipped >= maxFiles) {
      yield { name: e?.name ?? `zip@${lhoff}`, limit: 'MaxFiles' };
      return;
    }
  }
}

/**
 * ClamAV's `cli_unzip_single`: the one entry whose local header is at `offset` (a ZIP found inside
 * another layer), read from that header alone. Entries with a data descriptor, no data, encryption
 * or a method ClamAV does not extract give nothing; no heuristic alert is raised here.
 */
export function* clamUnzipSingle(bytes: Uint8Array, offset: number, ctx: UnpackContext): Iterable<UnpackItem> {
  if (offset < 0 || offset > bytes.length || bytes.length - offset < LOCAL_SIZE) return;
  const p = clamLocal(bytes, offset, undefined);
  const e = p.record;
  if (e) yield { meta: e.name };
  if (p.size === 0 || !e || e.encrypted) return;
  const start = offset + e.localHeaderSize;
  const u = unz(bytes.subarray(start, start + e.compressedSize), e.uncompressedSize, e.method, e.flags, Math.max(0, ctx.limits.maxFileSize));
  for (const data of u.outputs) if (data.length > 0) yield { name: `zip@${offset}`, data };
}
