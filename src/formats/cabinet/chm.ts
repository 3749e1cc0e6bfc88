/**
 * Compiled HTML Help (CL_TYPE_MSCHM) → its files, as ClamAV 1.4 extracts them through libmspack.
 *
 * In: the bytes of a CHM ("ITSF") file and the scan's limits. Out: one child per listed file that
 * is not a system file ("::…"), in directory order, named as stored; nothing when the headers
 * are unusable.
 *
 * Layout: the ITSF header (version, two GUIDs), the header section table (offsets of header
 * sections 0 and 1 and, from version 3, of the content), header section 0 (the file length),
 * header section 1 ("ITSP": chunk size, chunk count, first and last PMGL chunk) followed by the
 * directory chunks. Each PMGL chunk lists entries: name length, name, section, offset, length,
 * all but the name as ENCINTs (7 bits per byte, high bit = more). Section 0 is stored bytes at
 * the content offset; section 1 is the LZX stream of "::DataSpace/Storage/MSCompressed/Content",
 * described by ControlData (LZXC: reset interval, window size) and the ResetTable (uncompressed
 * length and the compressed offset of each 32 KiB frame), or SpanInfo (the length) without it.
 *
 * What ClamAV does, reproduced here: entries with names shorter than 2 bytes, directories
 * (offset 0, length 0, name ending in "/") and sections above 1 are skipped; a damaged chunk
 * keeps the entries listed before the damage, but a chunk that cannot be read loses everything.
 * A section-0 file is copied in 512-byte runs (a run cut by the end of the file is lost). A
 * section-1 file is decoded from the reset point at or before it, continuing the same decoder for
 * the next file when it lies further on; an LZX error ends that file where it stopped and the next
 * section-1 file starts over. Every listed file is scanned, empty when nothing could be written.
 * Output past `maxFileSize` is dropped (the file is scanned cut at that size).
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { FolderOutput, mspackFileCap, OK, SliceSource, workBudget } from './input.js';
import { LzxDecoder } from './lzx.js';

const FRAME = 32768;
const STEP = 1 << 20;
const GUIDS = Buffer.from('10fd017caa7bd0119e0c00a0c922e6ec11fd017caa7bd0119e0c00a0c922e6ec', 'hex');
const CONTENT = '::DataSpace/Storage/MSCompressed/Content';
const CONTROL = '::DataSpace/Storage/MSCompressed/ControlData';
const SPANINFO = '::DataSpace/Storage/MSCompressed/SpanInfo';
const RTABLE = '::DataSpace/Storage/MSCompressed/Transform/{7FC28940-9D31-11D0-9B27-00A0C91E9C7C}/InstanceData/ResetTable';

export interface ChmFile {
  name: string;
  section: number;
  offset: number;
  length: number;
}

export interface ChmHeader {
  version: number;
  /** Declared file length. */
  length: number;
  /** Offset of section 0 (the content) in the file. */
  sec0: number;
  files: ChmFile[];
  sysfiles: Map<string, ChmFile>;
}

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;
/** A signed 64-bit little-endian value (as a double; exact below 2^53). */
const i64 = (b: Uint8Array, o: number): number => {
  const hi = (b[o + 4]! | (b[o + 5]! << 8) | (b[o + 6]! << 16) | (b[o + 7]! << 24));
  return hi * 0x100000000 + u32(b, o);
};

/** Reads the headers and the directory; undefined where libmspack's `open` fails. */
export function readChm(b: Uint8Array): ChmHeader | undefined {
  const len = b.length;
  if (len < 0x38 + 0x28) return undefined;
  if (u32(b, 0) !== 0x46535449) return undefined;
  if (Buffer.compare(Buffer.from(b.subarray(0x18, 0x38)), GUIDS) !== 0) return undefined;
  const version = u32(b, 4);
  const hs0 = i64(b, 0x38);
  let dirOffset = i64(b, 0x38 + 0x10);
  let sec0 = i64(b, 0x38 + 0x20);
  if (hs0 < 0 || hs0 > len || hs0 + 0x18 > len) return undefined;
  const length = i64(b, hs0 + 8);
  if (dirOffset < 0 || dirOffset > len || dirOffset + 0x54 > len) return undefined;
  const h1 = dirOffset;
  dirOffset += 0x54;
  const chunkSize = u32(b, h1 + 0x10);
  const indexRoot = u32(b, h1 + 0x1c);
  const firstPmgl = u32(b, h1 + 0x20);
  const lastPmgl = u32(b, h1 + 0x24);
  const numChunks = u32(b, h1 + 0x2c);
  if (version < 3) sec0 = dirOffset + ((chunkSize * numChunks) >>> 0);
  if (sec0 > length) return undefined;
  if (chunkSize < 0x14 + 2 || numChunks === 0 || numChunks > 100000 || chunkSize > 8192) return undefined;
  if (chunkSize * numChunks > length) return undefined;
  if (firstPmgl > lastPmgl) return undefined;
  if (indexRoot !== 0xffffffff && indexRoot >= numChunks) return undefined;

  const files: ChmFile[] = [];
  const sysfiles = new Map<string, ChmFile>();
  let errors = 0;
  let pos = dirOffset + firstPmgl * chunkSize;
  if (pos > len) return undefined;
  const dec = new TextDecoder('utf-8');
  for (let n = lastPmgl - firstPmgl + 1; n > 0; n--) {
    if (pos + chunkSize > len) return undefined; // a chunk that cannot be read loses everything
    const c = b.subarray(pos, pos + chunkSize);
    pos += chunkSize;
    if (u32(c, 0) !== 0x4c474d50) continue;
    let p = 0x14;
    const end = chunkSize - 2;
    let entries = u16(c, end);
    let bad = false;
    // ENCINT as libmspack reads it into a signed 64-bit value (wrapping), at most 9 bytes.
    const encint = (): bigint => {
      let v = 0n, i = 0, ch = 0x80;
      while ((ch & 0x80) && i++ < 9) {
        if (p >= end) { bad = true; return 0n; }
        ch = c[p++]!;
        v = BigInt.asIntN(64, (v << 7n) | BigInt(ch & 0x7f));
      }
      if (i === 9 && (ch & 0x80)) { bad = true; return 0n; }
      return v;
    };
    const u32of = (v: bigint): number => Number(BigInt.asUintN(32, v));
    while (entries > 0) {
      entries--;
      const nameLen = u32of(encint());
      if (bad || nameLen > end - p) { bad = true; break; }
      const name = c.subarray(p, p + nameLen);
      p += nameLen;
      const section = u32of(encint());
      const offset = Number(encint());
      const flen = Number(encint());
      if (bad) break;
      if (nameLen < 2 || !name[0] || !name[1]) continue;
      if (offset === 0 && flen === 0 && name[nameLen - 1] === 0x2f) continue;
      if (section > 1) continue;
      const f: ChmFile = { name: dec.decode(name), section, offset, length: flen };
      if (name[0] === 0x3a && name[1] === 0x3a) {
        // The last of several same-named system files is the one used.
        sysfiles.set(f.name, f);
      } else {
        files.push(f);
      }
    }
    if (bad) errors++;
  }
  if (errors && files.length === 0 && sysfiles.size === 0) return undefined;
  return { version, length, sec0, files, sysfiles };
}

/** The files of a CHM as children, lazily. */
export function* unpackChm(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  const chm = readChm(bytes);
  if (!chm) return;
  const len = bytes.length;
  const maxOut = ctx.limits.maxFileSize > 0 ? ctx.limits.maxFileSize : 0xffffffff;
  const o = new FolderOutput(maxOut, workBudget(ctx.limits.maxScanSize), STEP);

  let lzx: LzxDecoder | undefined;
  const src = new SliceSource(bytes, 0);
  let dLength = 0;
  let inOffset = 0;
  // libmspack refuses a negative request (a damaged offset or length).
  const run = (n: number, writing: boolean): number => (n < 0 ? 1 : o.run(lzx!, n, writing));
  const sysData = (f: ChmFile | undefined): Uint8Array | undefined => {
    if (!f || f.section !== 0) return undefined;
    const at = chm.sec0 + f.offset;
    if (at < 0 || f.length < 0 || at > len || at + f.length > len) return undefined;
    return bytes.subarray(at, at + f.length);
  };

  /** libmspack's decoder set-up for a section-1 file; false when it fails. */
  const initDecomp = (file: ChmFile): boolean => {
    const content = chm.sysfiles.get(CONTENT);
    const control = chm.sysfiles.get(CONTROL);
    if (!content || !control || control.length !== 0x1c) return false;
    const cd = sysData(control);
    if (!cd || u32(cd, 4) !== 0x43585a4c) return false;
    let resetInterval: number, windowSize: number;
    const ver = u32(cd, 8);
    if (ver === 1) { resetInterval = u32(cd, 0xc); windowSize = u32(cd, 0x10); }
    else if (ver === 2) { resetInterval = (u32(cd, 0xc) * FRAME) >>> 0; windowSize = (u32(cd, 0x10) * FRAME) >>> 0; }
    else return false;
    resetInterval |= 0; // a C int
    const windowBits = [15, 16, 17, 18, 19, 20, 21].find((w) => 2 ** w === windowSize);
    if (windowBits === undefined) return false;
    if (resetInterval <= 0 || resetInterval % FRAME) return false;
    let entry = Math.trunc(file.offset / resetInterval) * (resetInterval / FRAME);
    // The entry index is passed on as an unsigned 32-bit value.
    const entryU = Number.isSafeInteger(entry) ? Number(BigInt.asUintN(32, BigInt(entry))) : 0xffffffff;
    let length: number | undefined, offset = 0;
    const rt = chm.sysfiles.get(RTABLE);
    const rd = rt && rt.length >= 0x28 && rt.length <= 1000000 ? sysData(rt) : undefined;
    if (rd && u32(rd, 0x20) === FRAME) {
      const entrySize = u32(rd, 8);
      const p = (u32(rd, 0xc) + (Math.imul(entryU, entrySize) >>> 0)) >>> 0;
      if (entryU < u32(rd, 4) && p <= rd.length - entrySize && (entrySize === 4 || entrySize === 8)) {
        offset = entrySize === 4 ? u32(rd, p) : i64(rd, p);
        length = i64(rd, 0x10);
        length = Math.ceil(length / resetInterval) * resetInterval;
      }
    }
    if (length === undefined) {
      entry = 0;
      offset = 0;
      const si = chm.sysfiles.get(SPANINFO);
      if (!si || si.length !== 8) return false;
      const sd = sysData(si);
      if (!sd) return false;
      length = i64(sd, 0);
      if (length <= 0) return false;
    }
    inOffset = chm.sec0 + content.offset + offset;
    o.dOffset = entry * FRAME;
    dLength = length;
    const outputLength = length - o.dOffset;
    if (outputLength < 0) return false;
    lzx = new LzxDecoder(src, windowBits, resetInterval / FRAME, outputLength);
    o.budget -= 2 ** windowBits; // a restart costs its window: counted, so that restarts cannot run away
    return true;
  };

  for (const file of chm.files) {
    if (o.budget <= 0) { yield { name: file.name, limit: 'MaxScanSize', size: file.length }; continue; }
    const cap = mspackFileCap(ctx.limits, ctx.scannedSize?.() ?? 0);
    if (cap === undefined) return;
    o.begin(file.length, cap);
    if (file.length > 0 && file.section === 0) {
      const at = chm.sec0 + file.offset;
      if (at >= 0 && at <= len) {
        // 512-byte runs; the run the end of the file cuts is lost.
        const avail = Math.max(0, len - at);
        const whole = Math.min(file.length, avail - (file.length > avail ? avail % 512 : 0));
        const n = Math.min(whole, cap);
        o.out = bytes.subarray(at, at + n);
        o.outLen = n;
        o.budget -= n;
      }
    } else if (file.length !== 0 && file.section === 1) {
      let ok = true;
      if (!lzx || file.offset < o.dOffset) {
        lzx = undefined;
        ok = initDecomp(file);
      }
      if (ok && lzx && file.offset <= dLength && inOffset >= 0 && inOffset <= len) {
        src.pos = inOffset;
        const sinkTarget = o.out;
        o.out = undefined;
        let err = OK;
        const skip = file.offset - o.dOffset;
        if (skip) err = run(skip, false);
        if (err === -1) { yield { name: file.name, limit: 'MaxScanSize', size: file.length }; continue; }
        if (!err) {
          let length = file.length;
          const maxlen = dLength - file.offset;
          if (length > maxlen) length = maxlen + 1;
          o.out = sinkTarget;
          err = run(length, true);
        }
        inOffset = src.pos;
        if (err && err !== -1) lzx = undefined;
      }
    }
    yield { name: file.name, data: o.take() };
  }
}

