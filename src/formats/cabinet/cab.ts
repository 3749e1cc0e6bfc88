/**
 * Microsoft cabinets (CL_TYPE_MSCAB, and CL_TYPE_CABSFX: a cabinet inside another layer) → their
 * files, as ClamAV 1.4 extracts them through libmspack (salvage and MSZIP-repair modes on).
 *
 * In: the bytes from the cabinet's "MSCF" on, and the scan's limits. Out: one child per listed
 * file, in directory order, named as stored; or nothing when the header is unusable.
 *
 * Layout: a 36-byte header (sizes, folder and file counts, flags), optional reserved areas (their
 * sizes in 4 more bytes), optional previous/next cabinet names, the folders (first data block,
 * block count, compression: 0 none, 1 MSZIP, 2 Quantum, 3 LZX, with the window in bits 8..12),
 * the files (size, offset in the folder's uncompressed stream, folder index, date, time,
 * attributes, NUL-terminated name), and each folder's data blocks (checksum, compressed and
 * uncompressed sizes, reserved bytes, data).
 *
 * What ClamAV does, reproduced here:
 * - A file with an unreadable name or a bad folder index is left out; a header that cannot be
 *   read, or a cabinet with no usable file, gives nothing.
 * - Checksums and block-size limits are not enforced (salvage). A block continued in another
 *   cabinet, or a block that cannot be read, ends the folder's stream.
 * - Each folder's blocks form one compressed stream; a file is its `[offset, offset+size)` slice
 *   of the decompressed folder. Consecutive files of a folder continue the same decoder; going
 *   back restarts the folder.
 * - A file that cannot be decoded completely is scanned as far as it was written (MSZIP frames
 *   that fail are zero-padded to 32 KiB); a file that never got an output (bad folder, unknown
 *   compression, a folder continued from a previous cabinet) is not scanned, only reported as
 *   metadata.
 * - Output past `maxFileSize` is dropped: the file is scanned cut at that size (ClamAV's writer
 *   truncates without reporting a limit).
 *
 * Limits, as ClamAV's libmspack glue applies them: each file keeps at most MaxFileSize bytes, or
 * what is left of MaxScanSize when that is less, and the cabinet ends once the scan size is spent.
 *
 * Bounds: decoding stops for the current file once its output is full; the total decoded per
 * cabinet (skipped parts and each decoder's window included) is capped at MaxScanSize or 1 GiB,
 * whichever is more, past which the remaining files are reported as limited by MaxScanSize.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { ByteSource, ERR_DATAFORMAT, ERR_READ, FolderOutput, mspackFileCap, OK, Sink, StreamDecoder, workBudget } from './input.js';
import { LzxDecoder } from './lzx.js';
import { MszipDecoder } from './mszip.js';
import { QuantumDecoder } from './quantum.js';

const BLOCKMAX = 32768;
const LENGTHMAX = BLOCKMAX * 65535;
const INPUTMAX_SALVAGE = 65535;
const RESERVE_PRESENT = 4, PREV_CABINET = 1, NEXT_CABINET = 2;
const CONTINUED_FROM_PREV = 0xfffd, CONTINUED_TO_NEXT = 0xfffe, CONTINUED_PREV_AND_NEXT = 0xffff;
const COMP_NONE = 0, COMP_MSZIP = 1, COMP_QUANTUM = 2, COMP_LZX = 3;
const NAME_IS_UTF = 0x80;
/** Bytes decoded per call: a multiple of the stored method's 4096-byte runs, twice the largest window. */
const STEP = 4 << 20;

export interface CabFolder {
  compType: number;
  numBlocks: number;
  /** Offset of the first data block in the cabinet. */
  dataOffset: number;
  /** A file of this folder continues from a previous cabinet: nothing in it can be extracted. */
  mergePrev: boolean;
}

export interface CabFile {
  /** The name as stored (UTF-8 when attribute 0x80 says so, else Latin-1). */
  name: string;
  length: number;
  /** Offset in the folder's uncompressed stream. */
  offset: number;
  folder: CabFolder;
  attribs: number;
}

export interface Cabinet {
  /** Cabinet size from the header. */
  length: number;
  flags: number;
  /** Reserved bytes after each data block header. */
  blockResv: number;
  folders: CabFolder[];
  files: CabFile[];
}

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;

/** Reads the header, folders and files; undefined where libmspack's `open` fails. */
export function readCabinet(b: Uint8Array): Cabinet | undefined {
  const len = b.length;
  let pos = 0;
  if (len < 36 || u32(b, 0) !== 0x4643534d) return undefined;
  const numFolders = u16(b, 0x1a);
  const numFiles = u16(b, 0x1c);
  const flags = u16(b, 0x1e);
  if (numFolders === 0 || numFiles === 0) return undefined;
  pos = 36;
  let folderResv = 0, blockResv = 0;
  if (flags & RESERVE_PRESENT) {
    if (pos + 4 > len) return undefined;
    const headerResv = u16(b, pos);
    folderResv = b[pos + 2]!;
    blockResv = b[pos + 3]!;
    pos += 4;
    if (pos + headerResv > len) return undefined;
    pos += headerResv;
  }
  // A NUL-terminated string within the next 256 bytes; on failure the position stays after the
  // bytes read, as libmspack leaves it.
  const readString = (permitEmpty: boolean): string | undefined | null => {
    const n = Math.min(256, len - pos);
    if (n <= 0) return null;
    let i = 0;
    while (i < n && b[pos + i] !== 0) i++;
    if (i === n || (i === 0 && !permitEmpty)) { pos += n; return undefined; }
    const s = b.subarray(pos, pos + i);
    pos += i + 1;
    return Buffer.from(s).toString('latin1');
  };
  for (const [flag] of [[PREV_CABINET], [NEXT_CABINET]] as const) {
    if (!(flags & flag)) continue;
    if (typeof readString(false) !== 'string') return undefined;
    if (typeof readString(true) !== 'string') return undefined;
  }
  const folders: CabFolder[] = [];
  for (let i = 0; i < numFolders; i++) {
    if (pos + 8 > len) return undefined;
    folders.push({ dataOffset: u32(b, pos), numBlocks: u16(b, pos + 4), compType: u16(b, pos + 6), mergePrev: false });
    pos += 8;
    if (folderResv) {
      if (pos + folderResv > len) return undefined;
      pos += folderResv;
    }
  }
  const files: CabFile[] = [];
  for (let i = 0; i < numFiles; i++) {
    if (pos + 16 > len) return undefined;
    const length = u32(b, pos);
    const offset = u32(b, pos + 4);
    const fidx = u16(b, pos + 8);
    const attribs = u16(b, pos + 14);
    pos += 16;
    let folder: CabFolder | undefined;
    let fromPrev = false;
    if (fidx < CONTINUED_FROM_PREV) {
      folder = fidx < numFolders ? folders[fidx] : undefined;
    } else {
      if (fidx === CONTINUED_TO_NEXT || fidx === CONTINUED_PREV_AND_NEXT) folder = folders[folders.length - 1];
      if (fidx === CONTINUED_FROM_PREV || fidx === CONTINUED_PREV_AND_NEXT) { folder = folders[0]; fromPrev = true; }
    }
    const nameStart = pos;
    const name = readString(false);
    if (typeof name !== 'string' || !folder) continue;
    if (fromPrev) folder.mergePrev = true;
    const raw = b.subarray(nameStart, pos - 1);
    files.push({ name: attribs & NAME_IS_UTF ? Buffer.from(raw).toString('utf8') : name, length, offset, folder, attribs });
  }
  if (files.length === 0) return undefined;
  return { length: u32(b, 8), flags, blockResv, folders, files };
}

/**
 * The compressed stream of one folder: its data blocks' payloads one after another, read as
 * libmspack's cabinet reader serves them to a decompressor.
 */
class FolderStream implements ByteSource {
  private readonly input = new Uint8Array(INPUTMAX_SALVAGE + 1);
  private iPtr = 0;
  private iEnd = 0;
  block = 0;
  private outlen = 0;
  /** Why the last block could not be read (OK when the blocks simply ran out). */
  readError = OK;
  /** The reader was closed after a block continued into another cabinet. */
  closed = false;
  lzx: LzxDecoder | undefined;

  constructor(private readonly b: Uint8Array, public pos: number, private readonly cab: Cabinet, public folder: CabFolder) {}

  reset(folder: CabFolder, pos: number): void {
    this.folder = folder;
    this.pos = pos;
    this.block = 0;
    this.outlen = 0;
    this.iPtr = this.iEnd = 0;
    this.readError = OK;
    this.lzx = undefined;
  }

  read(dst: Uint8Array, bytes: number): number {
    let todo = bytes, at = 0;
    while (todo > 0) {
      const avail = this.iEnd - this.iPtr;
      if (avail) {
        const n = Math.min(avail, todo);
        dst.set(this.input.subarray(this.iPtr, this.iPtr + n), at);
        this.iPtr += n;
        at += n;
        todo -= n;
        continue;
      }
      if (this.block++ >= this.folder.numBlocks) break;
      const r = this.readBlock();
      this.readError = r.err;
      if (r.err) return -1;
      this.outlen += r.out;
      if ((this.folder.compType & 0xf) === COMP_QUANTUM) this.input[this.iEnd++] = 0xff;
      if (this.block >= this.folder.numBlocks && this.lzx) this.lzx.setOutputLength(this.outlen);
    }
    return bytes - todo;
  }

  private readBlock(): { err: number; out: number } {
    const b = this.b;
    this.iPtr = this.iEnd = 0;
    if (this.closed) return { err: ERR_READ, out: 0 };
    if (this.pos + 8 > b.length) { this.pos = b.length; return { err: ERR_READ, out: 0 }; }
    const hdr = this.pos;
    this.pos += 8;
    if (this.cab.blockResv) {
      if (this.pos + this.cab.blockResv > b.length) return { err: 5, out: 0 };
      this.pos += this.cab.blockResv;
    }
    const len = u16(b, hdr + 4);
    if (this.iEnd + len > INPUTMAX_SALVAGE) return { err: ERR_DATAFORMAT, out: 0 };
    if (this.pos + len > b.length) { this.pos = b.length; return { err: ERR_READ, out: 0 }; }
    this.input.set(b.subarray(this.pos, this.pos + len), this.iEnd);
    this.pos += len;
    this.iEnd += len;
    const out = u16(b, hdr + 6);
    if (out) return { err: OK, out };
    // The block continues in the next cabinet of a set, which a single file does not have.
    this.closed = true;
    return { err: ERR_DATAFORMAT, out: 0 };
  }
}

/** The stored method: the input copied in runs of 4096 bytes; a short run is lost. */
class StoredDecoder implements StreamDecoder {
  private readonly buf = new Uint8Array(4096);
  constructor(private readonly src: ByteSource) {}
  decompress(outBytes: number, sink: Sink): number {
    while (outBytes > 0) {
      const run = Math.min(outBytes, 4096);
      if (this.src.read(this.buf, run) !== run) return ERR_READ;
      sink(this.buf, 0, run);
      outBytes -= run;
    }
    return OK;
  }
}

/** The files of a cabinet at `bytes[0]` as children, lazily. */
export function* unpackCab(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  const cab = readCabinet(bytes);
  if (!cab) return;
  const maxOut = ctx.limits.maxFileSize > 0 ? ctx.limits.maxFileSize : 0xffffffff;
  const o = new FolderOutput(maxOut, workBudget(ctx.limits.maxScanSize), STEP);

  let stream: FolderStream | undefined;
  let decoder: StreamDecoder | undefined;
  let curFolder: CabFolder | undefined;

  for (const file of cab.files) {
    if (o.budget <= 0) { yield { name: file.name, limit: 'MaxScanSize', size: file.length }; continue; }
    // A file that gets no output is still reported to the metadata chain, as ClamAV does first.
    const skipped = { meta: file.name };
    // ClamAV's glue keeps at most what is left of the scan size of each file, and stops once it is spent.
    const cap = mspackFileCap(ctx.limits, ctx.scannedSize?.() ?? 0);
    if (cap === undefined) { yield skipped; return; }
    const fol = file.folder;
    if (file.offset > LENGTHMAX) { yield skipped; continue; }
    const filelen = Math.min(file.length, LENGTHMAX - file.offset);
    if (fol.mergePrev) { yield skipped; continue; }
    if (curFolder !== fol || o.dOffset > file.offset || !decoder) {
      decoder = undefined;
      if (!stream) stream = new FolderStream(bytes, 0, cab, fol);
      stream.closed = false;
      if (fol.dataOffset > bytes.length) { yield skipped; continue; }
      stream.reset(fol, fol.dataOffset);
      const ct = fol.compType & 0xf;
      const bits = (fol.compType >> 8) & 0x1f;
      if (ct === COMP_NONE) decoder = new StoredDecoder(stream);
      else if (ct === COMP_MSZIP) decoder = new MszipDecoder(stream);
      else if (ct === COMP_LZX && bits >= 15 && bits <= 21) {
        const lzx = new LzxDecoder(stream, bits, 0, 0);
        stream.lzx = lzx;
        decoder = lzx;
      } else if (ct === COMP_QUANTUM && bits >= 10 && bits <= 21) {
        decoder = new QuantumDecoder(stream, bits);
      } else { yield skipped; continue; } // not a compression type, or a window out of range
      // Setting a decoder up costs its window: counted, so that restarts cannot run away.
      o.budget -= ct === COMP_NONE ? 4096 : ct === COMP_MSZIP ? 32768 : 2 ** bits;
      curFolder = fol;
      o.dOffset = 0;
    }
    o.take();
    let error = OK;
    if (filelen) {
      const skip = file.offset - o.dOffset;
      if (skip) {
        const err = o.run(decoder, skip, false);
        if (err === -1) { yield { name: file.name, limit: 'MaxScanSize', size: file.length }; continue; }
        error = err === ERR_READ ? stream!.readError : err;
      }
      if (!error) {
        o.begin(filelen, cap);
        if (o.run(decoder, filelen, true) === -1 && o.outLen === 0) {
          yield { name: file.name, limit: 'MaxScanSize', size: file.length };
          continue;
        }
      }
    }
    yield { name: file.name, data: o.take() };
  }
}

/** A cabinet found at `offset` inside another layer (ClamAV reads it from there to the end). */
export function* unpackCabSfx(bytes: Uint8Array, offset: number, ctx: UnpackContext): Iterable<UnpackItem> {
  if (offset < 0 || offset >= bytes.length) return;
  yield* unpackCab(bytes.subarray(offset), ctx);
}
