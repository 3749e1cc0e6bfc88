/**
 * 7z archives → their files, as ClamAV's `cli_7unz` extracts them; also 7z archives found inside
 * other files (self-extractors).
 *
 * In: the bytes of a CL_TYPE_7Z layer (or a layer with a 7z signature at `offset`), and the scan's
 * limits and options. Out: the archive's files in header order, each a child named by its stored
 * name; a file larger than MaxFileSize (by its declared size) is a limited child and is not
 * decoded; directories and empty files give nothing; a file whose CRC fails is not given. Never
 * throws.
 *
 * Structure: signature header (version 0.x, CRC of the start header), the next header (CRC
 * checked), possibly packed ("encoded header": a folder decoded first, one level as ClamAV
 * accepts), then streams info (pack sizes, folders with their coders, bind pairs and unpack sizes,
 * substreams: the files of solid folders) and files info (empty streams, empty files, names).
 * Damage in any of it gives nothing, as ClamAV then extracts nothing.
 *
 * Folders are decoded as a graph: each coder's inputs come from pack streams or from other coders'
 * outputs (bind pairs); the folder's output is the one out-stream no bind pair takes. Coders:
 * Copy, LZMA, LZMA2, BCJ2, BCJ x86 and ARM (all of which ClamAV decodes), and also ARM-Thumb,
 * PowerPC, SPARC, Delta, Deflate and BZip2, which ClamAV's decoder refuses (vigil extracts more
 * there), and PPMd (`ppmd7.ts`; as in ClamAV, a PPMd stream that ends early or leaves bytes over
 * fails, and what it decoded until then stays in the folder's buffer). A whole folder is
 * decoded when its first file is needed, as ClamAV does, within ClamAV's 1 GiB allocation bound;
 * the folder's CRC and each file's CRC are checked. As in ClamAV, after a folder failed to decode
 * its later files are cut from what was decoded (zeros beyond it) and pass or fail on their own CRC.
 *
 * Encryption: ClamAV calls a folder encrypted when AES is its first coder and it has at most four
 * coders (BCJ2 with AES, eight coders, is merely unsupported); its first file then raises
 * `Heuristics.Encrypted.7Zip` when AlertEncryptedArchive is on, and so does an encrypted packed
 * header (nothing else is read then). ClamAV reports a heuristic name once per scanned file, so
 * the alert is given once per archive here.
 */
import { constants, inflateRawSync } from 'node:zlib';
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { bunzip2 } from './bzip2.js';
import { crc32, LIMIT, u32le } from './common.js';
import { armDecode, armThumbDecode, deltaDecode, ppcDecode, sparcDecode, x86Decode } from './filters.js';
import { lzma2Decode, lzmaDecode } from './lzma.js';
import { ppmd7Decode7z } from './ppmd7.js';

export const SEVENZIP_MAGIC = Uint8Array.of(0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c);
/** ClamAV allocates at most this much for one folder (CLI_MAX_ALLOCATION). */
const MAX_FOLDER = 1 << 30;
/** Most pack streams, or file streams, one archive may declare (bounds the work on a small header). */
const MAX_STREAMS = 1 << 22;

const M_COPY = 0x00, M_DELTA = 0x03, M_LZMA2 = 0x21, M_LZMA = 0x030101, M_BCJ = 0x03030103, M_PPC = 0x03030205;
const M_ARM = 0x03030501, M_ARMT = 0x03030701, M_SPARC = 0x03030805, M_BCJ2 = 0x0303011b;
const M_DEFLATE = 0x040108, M_BZIP2 = 0x040202, M_AES = 0x06f10701, M_PPMD = 0x030401;

class HeaderError extends Error {}

interface Coder { id: number; ins: number; outs: number; props: Uint8Array }
interface Folder {
  coders: Coder[];
  bindPairs: { inIndex: number; outIndex: number }[];
  packed: number[];
  unpackSizes: number[];
  crc?: number;
  /** Index of this folder's first pack stream, and the offset of that stream in the file. */
  firstPack: number;
}
interface StreamsInfo {
  packPos: number;
  packSizes: number[];
  folders: Folder[];
  /** Per folder: the sizes and CRCs of its files' streams. */
  subSizes: number[][];
  subCrcs: (number | undefined)[][];
}
interface FileEntry { name: string; hasStream: boolean; isDir: boolean; size: number; crc?: number }

/** Reader of header bytes; throws HeaderError past the end. */
class Hdr {
  constructor(private readonly b: Uint8Array, public p = 0) {}
  byte(): number {
    if (this.p >= this.b.length) throw new HeaderError('truncated header');
    return this.b[this.p++]!;
  }
  /** 7z's variable-length number (the first byte's high bits tell how many bytes follow). */
  num(): number {
    const first = this.byte();
    let mask = 0x80, v = 0;
    for (let i = 0; i < 8; i++) {
      if ((first & mask) === 0) {
        const high = first & (mask - 1);
        v += high * 2 ** (8 * i);
        return v;
      }
      v += this.byte() * 2 ** (8 * i);
      mask >>>= 1;
    }
    return v;
  }
  /** A count that must be small enough to loop over. */
  count(max = 1 << 24): number {
    const n = this.num();
    if (n > max) throw new HeaderError('count too large');
    return n;
  }
  u32(): number {
    if (this.p + 4 > this.b.length) throw new HeaderError('truncated header');
    const v = u32le(this.b, this.p);
    this.p += 4;
    return v;
  }
  bytes(n: number): Uint8Array {
    if (n > this.b.length - this.p) throw new HeaderError('truncated header');
    const v = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return v;
  }
  bits(n: number): boolean[] {
    const out: boolean[] = [];
    let cur = 0;
    for (let i = 0; i < n; i++) {
      if (i % 8 === 0) cur = this.byte();
      out.push((cur & (0x80 >>> (i % 8))) !== 0);
    }
    return out;
  }
  /** "All defined" byte, else a bit vector. */
  defined(n: number): boolean[] {
    const all = this.byte();
    return all ? new Array<boolean>(n).fill(true) : this.bits(n);
  }
  skip(n: number): void { this.bytes(n); }
  get data(): Uint8Array { return this.b; }
}

function readDigests(h: Hdr, n: number): (number | undefined)[] {
  const def = h.defined(n);
  return def.map((d) => (d ? h.u32() : undefined));
}

function readFolder(h: Hdr): Omit<Folder, 'unpackSizes' | 'firstPack'> {
  const nCoders = h.count(64);
  if (nCoders === 0) throw new HeaderError('no coders');
  const coders: Coder[] = [];
  let totalIn = 0, totalOut = 0;
  for (let i = 0; i < nCoders; i++) {
    const flags = h.byte();
    if (flags & 0x80) throw new HeaderError('alternative methods');
    const idBytes = h.bytes(flags & 0x0f);
    let id = 0;
    for (const x of idBytes) id = id * 256 + x;
    let ins = 1, outs = 1;
    if (flags & 0x10) { ins = h.count(64); outs = h.count(64); }
    const props = flags & 0x20 ? h.bytes(h.count(1 << 16)) : new Uint8Array(0);
    coders.push({ id: idBytes.length > 7 ? -1 : id, ins, outs, props });
    totalIn += ins;
    totalOut += outs;
  }
  if (totalOut === 0 || totalIn > 64) throw new HeaderError('bad folder');
  const bindPairs: { inIndex: number; outIndex: number }[] = [];
  for (let i = 0; i < totalOut - 1; i++) bindPairs.push({ inIndex: h.count(64), outIndex: h.count(64) });
  const nPacked = totalIn - bindPairs.length;
  if (nPacked < 1) throw new HeaderError('bad folder');
  const packed: number[] = [];
  if (nPacked === 1) {
    for (let i = 0; i < totalIn; i++) if (!bindPairs.some((b) => b.inIndex === i)) { packed.push(i); break; }
    if (packed.length === 0) throw new HeaderError('bad folder');
  } else for (let i = 0; i < nPacked; i++) packed.push(h.count(64));
  return { coders, bindPairs, packed };
}

function readStreamsInfo(h: Hdr): StreamsInfo {
  const si: StreamsInfo = { packPos: 0, packSizes: [], folders: [], subSizes: [], subCrcs: [] };
  let id = h.byte();
  if (id === 0x06) {
    si.packPos = h.num();
    const n = h.count(MAX_STREAMS);
    for (;;) {
      id = h.byte();
      if (id === 0x00) break;
      if (id === 0x09) for (let i = 0; i < n; i++) si.packSizes.push(h.num());
      else if (id === 0x0a) readDigests(h, n);
      else h.skip(h.count(1 << 30));
    }
    if (si.packSizes.length !== n) throw new HeaderError('no pack sizes');
    id = h.byte();
  }
  if (id === 0x07) {
    if (h.byte() !== 0x0b) throw new HeaderError('no folders');
    const n = h.count(1 << 20);
    if (h.byte() !== 0) throw new HeaderError('external folders');
    const raw = [];
    for (let i = 0; i < n; i++) raw.push(readFolder(h));
    if (h.byte() !== 0x0c) throw new HeaderError('no unpack sizes');
    let pack = 0;
    for (const f of raw) {
      const outs = f.coders.reduce((s, c) => s + c.outs, 0);
      const sizes: number[] = [];
      for (let i = 0; i < outs; i++) sizes.push(h.num());
      si.folders.push({ ...f, unpackSizes: sizes, firstPack: pack });
      pack += f.packed.length;
    }
    if (pack > si.packSizes.length) throw new HeaderError('too few pack streams');
    for (;;) {
      id = h.byte();
      if (id === 0x00) break;
      if (id === 0x0a) readDigests(h, n).forEach((c, i) => { if (c !== undefined) si.folders[i]!.crc = c; });
      else h.skip(h.count(1 << 30));
    }
    id = h.byte();
  }
  // Substreams: by default one file per folder, of the folder's size, with the folder's CRC.
  const nums = si.folders.map(() => 1);
  let subDone = false;
  if (id === 0x08) {
    subDone = true;
    id = h.byte();
    if (id === 0x0d) {
      let total = 0;
      for (let i = 0; i < nums.length; i++) {
        nums[i] = h.count();
        total += nums[i]!;
        if (total > MAX_STREAMS) throw new HeaderError('too many substreams');
      }
      id = h.byte();
    }
    const hasSizes = id === 0x09;
    si.folders.forEach((f, i) => {
      const total = folderSize(f);
      const sizes: number[] = [];
      let sum = 0;
      if (nums[i]! > 0) {
        for (let k = 0; k < nums[i]! - 1; k++) {
          const s = hasSizes ? h.num() : 0;
          sizes.push(s);
          sum += s;
        }
        if (sum > total) throw new HeaderError('substreams larger than the folder');
        sizes.push(total - sum);
      }
      si.subSizes.push(sizes);
    });
    if (hasSizes) id = h.byte();
    // CRCs of the streams whose CRC is not known from the folder.
    let unknown = 0;
    si.folders.forEach((f, i) => { if (!(nums[i] === 1 && f.crc !== undefined)) unknown += nums[i]!; });
    let crcs: (number | undefined)[] = new Array<number | undefined>(unknown).fill(undefined);
    for (;;) {
      if (id === 0x00) break;
      if (id === 0x0a) crcs = readDigests(h, unknown);
      else h.skip(h.count(1 << 30));
      id = h.byte();
    }
    let k = 0;
    si.folders.forEach((f, i) => {
      if (nums[i] === 1 && f.crc !== undefined) si.subCrcs.push([f.crc]);
      else { const c: (number | undefined)[] = []; for (let j = 0; j < nums[i]!; j++) c.push(crcs[k++]); si.subCrcs.push(c); }
    });
    id = h.byte();
  }
  if (!subDone) {
    for (const f of si.folders) { si.subSizes.push([folderSize(f)]); si.subCrcs.push([f.crc]); }
  }
  if (id !== 0x00) throw new HeaderError('bad streams info');
  return si;
}

/** The folder's final output: the out-stream no bind pair takes. */
function mainOut(f: Folder): number {
  const total = f.coders.reduce((s, c) => s + c.outs, 0);
  for (let i = 0; i < total; i++) if (!f.bindPairs.some((b) => b.outIndex === i)) return i;
  return -1;
}

function folderSize(f: Folder): number {
  const m = mainOut(f);
  return m < 0 ? 0 : f.unpackSizes[m] ?? 0;
}

function readFiles(h: Hdr): FileEntry[] {
  const n = h.count(1 << 22);
  let emptyStream: boolean[] = [], emptyFile: boolean[] = [];
  let names: string[] = [];
  for (;;) {
    const type = h.byte();
    if (type === 0) break;
    const size = h.count(1 << 30);
    const end = h.p + size;
    if (end > h.data.length) throw new HeaderError('truncated header');
    const sub = new Hdr(h.data.subarray(h.p, end));
    if (type === 0x0e) emptyStream = sub.bits(n);
    else if (type === 0x0f) emptyFile = sub.bits(emptyStream.filter(Boolean).length);
    else if (type === 0x11) {
      if (sub.byte() !== 0) throw new HeaderError('external names');
      const raw = sub.data.subarray(sub.p);
      names = [];
      let start = 0;
      for (let i = 0; i + 1 < raw.length && names.length < n; i += 2) {
        if (raw[i] === 0 && raw[i + 1] === 0) {
          names.push(Buffer.from(raw.subarray(start, i)).toString('utf16le'));
          start = i + 2;
        }
      }
    }
    h.p = end;
  }
  const files: FileEntry[] = [];
  let emptyIndex = 0;
  for (let i = 0; i < n; i++) {
    const hasStream = !emptyStream[i];
    let isDir = false;
    if (!hasStream) isDir = !emptyFile[emptyIndex++];
    files.push({ name: names[i] ?? '', hasStream, isDir, size: 0 });
  }
  return files;
}

interface Archive { si: StreamsInfo; files: FileEntry[]; base: number }

type OpenResult = { archive: Archive } | { encrypted: true } | { error: string };

/** Decodes a folder's output; `data` holds what was decoded before an error. */
function decodeFolder(bytes: Uint8Array, base: number, si: StreamsInfo, f: Folder): { data: Uint8Array; ok: boolean; error?: string; encrypted?: boolean } {
  // ClamAV calls a folder encrypted only when AES is its first coder and it has at most four
  // coders (BCJ2 with AES has eight: merely unsupported there).
  if (f.coders.some((c) => c.id === M_AES)) {
    return { data: new Uint8Array(0), ok: false, error: 'encrypted', encrypted: f.coders.length <= 4 && f.coders[0]!.id === M_AES };
  }
  // Coder index and stream index of every in/out stream.
  const inCoder: [number, number][] = [], outCoder: [number, number][] = [];
  f.coders.forEach((c, ci) => {
    for (let k = 0; k < c.ins; k++) inCoder.push([ci, k]);
    for (let k = 0; k < c.outs; k++) outCoder.push([ci, k]);
  });
  const packStart: number[] = [];
  let off = base + si.packPos;
  for (let i = 0; i < si.packSizes.length; i++) { packStart.push(off); off += si.packSizes[i]!; }
  const memo = new Map<number, { data: Uint8Array; ok: boolean; error?: string }>();
  const depth = { n: 0 };
  /** A coder's input; `tail`, for a pack stream, runs on to the end of the file (see PPMd). */
  const inData = (inIndex: number): { data: Uint8Array; ok: boolean; error?: string; tail?: { bytes: Uint8Array; size: number } } => {
    const bp = f.bindPairs.find((b) => b.inIndex === inIndex);
    if (bp) return outData(bp.outIndex);
    const k = f.packed.indexOf(inIndex);
    const pi = f.firstPack + k;
    if (k < 0 || pi >= si.packSizes.length) return { data: new Uint8Array(0), ok: false, error: 'bad folder' };
    const start = packStart[pi]!, size = si.packSizes[pi]!;
    const tail = { bytes: bytes.subarray(Math.min(start, bytes.length)), size };
    if (start + size > bytes.length) return { data: bytes.subarray(Math.min(start, bytes.length)), ok: false, error: 'truncated', tail };
    return { data: bytes.subarray(start, start + size), ok: true, tail };
  };
  const outData = (outIndex: number): { data: Uint8Array; ok: boolean; error?: string } => {
    const seen = memo.get(outIndex);
    if (seen) return seen;
    if (++depth.n > 64) return { data: new Uint8Array(0), ok: false, error: 'bad folder' };
    const loc = outCoder[outIndex];
    if (!loc) return { data: new Uint8Array(0), ok: false, error: 'bad folder' };
    const [ci] = loc;
    const c = f.coders[ci]!;
    const size = f.unpackSizes[outIndex] ?? 0;
    if (size > MAX_FOLDER) return { data: new Uint8Array(0), ok: false, error: 'too large' };
    const firstIn = inCoder.findIndex(([x]) => x === ci);
    let r: { data: Uint8Array; ok: boolean; error?: string };
    if (c.id === M_BCJ2 && c.ins === 4 && c.outs === 1) {
      const parts = [0, 1, 2, 3].map((k) => inData(firstIn + k));
      const bad = parts.find((x) => !x.ok);
      r = bad ? { data: new Uint8Array(0), ok: false, error: bad.error ?? 'damaged' } : bcj2Decode(parts[0]!.data, parts[1]!.data, parts[2]!.data, parts[3]!.data, size);
    } else if (c.ins !== 1 || c.outs !== 1) {
      r = { data: new Uint8Array(0), ok: false, error: 'unsupported coder' };
    } else {
      const src = inData(firstIn);
      if (c.id === M_PPMD && src.tail) {
        // 7-Zip's PPMd decoder reads its pack stream from the archive file: past the stream's end
        // it reads on into what follows (failing afterwards on the size), and it stops at the end
        // of the file; what it decoded until then stays in the folder's buffer.
        r = ppmd7Decode7z(src.tail.bytes, c.props, size, src.tail.size);
      } else {
        // When a main coder fails under a filter, ClamAV's folder buffer keeps that coder's output
        // unfiltered (the filter is not run).
        r = src.ok ? runCoder(c, src.data, size) : { data: src.tail ? new Uint8Array(0) : src.data, ok: false, error: src.error ?? 'damaged' };
      }
    }
    memo.set(outIndex, r);
    return r;
  };
  const m = mainOut(f);
  if (m < 0) return { data: new Uint8Array(0), ok: false, error: 'bad folder' };
  const r = outData(m);
  if (r.ok && f.crc !== undefined && crc32(r.data) !== f.crc) return { data: r.data, ok: false, error: 'folder crc' };
  return r;
}

/** One single-stream coder over its whole input, producing exactly `size` bytes. */
function runCoder(c: Coder, src: Uint8Array, size: number): { data: Uint8Array; ok: boolean; error?: string } {
  const fail = (data: Uint8Array, error: string): { data: Uint8Array; ok: boolean; error: string } => ({ data, ok: false, error });
  switch (c.id) {
    case M_COPY:
      return src.length === size ? { data: src, ok: true } : fail(src.subarray(0, size), 'size mismatch');
    case M_LZMA: {
      const r = lzmaDecode(c.props, src, size, size);
      return r.complete && r.data.length === size ? { data: r.data, ok: true } : fail(r.data, r.error ?? 'size mismatch');
    }
    case M_LZMA2: {
      if (c.props.length !== 1) return fail(new Uint8Array(0), 'bad properties');
      const r = lzma2Decode(c.props[0]!, src, size);
      return r.complete && r.data.length === size ? { data: r.data, ok: true } : fail(r.data, r.error === LIMIT ? 'size mismatch' : r.error ?? 'size mismatch');
    }
    case M_DEFLATE: {
      try {
        const out = inflateRawSync(src, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: Math.max(1, size) });
        const data = new Uint8Array(out.buffer, out.byteOffset, out.length);
        return data.length === size ? { data, ok: true } : fail(data, 'size mismatch');
      } catch {
        return fail(new Uint8Array(0), 'deflate error');
      }
    }
    case M_PPMD:
      return ppmd7Decode7z(src, c.props, size);
    case M_BZIP2: {
      const r = bunzip2(src, size);
      return r.complete && r.data.length === size ? { data: r.data, ok: true } : fail(r.data, r.error ?? 'size mismatch');
    }
    case M_BCJ: case M_ARM: case M_ARMT: case M_PPC: case M_SPARC: case M_DELTA: {
      if (src.length !== size) return fail(src, 'size mismatch');
      const data = src.slice();
      if (c.id === M_BCJ) x86Decode(data);
      else if (c.id === M_ARM) armDecode(data);
      else if (c.id === M_ARMT) armThumbDecode(data);
      else if (c.id === M_PPC) ppcDecode(data);
      else if (c.id === M_SPARC) sparcDecode(data);
      else deltaDecode(data, (c.props[0] ?? 0) + 1);
      return { data, ok: true };
    }
    default:
      return fail(new Uint8Array(0), 'unsupported coder');
  }
}

/** x86 BCJ2: the main stream with CALL/JMP targets taken from their own streams, chosen by a range coder. */
export function bcj2Decode(main: Uint8Array, call: Uint8Array, jump: Uint8Array, rc: Uint8Array, size: number): { data: Uint8Array; ok: boolean; error?: string } {
  // Every output byte comes from the main stream or a 4-byte target: no more than they hold.
  const out = new Uint8Array(Math.min(size, main.length + call.length + jump.length));
  const probs = new Uint16Array(258).fill(1024);
  if (rc.length < 5) return { data: new Uint8Array(0), ok: false, error: 'truncated' };
  let code = ((rc[1]! << 24) | (rc[2]! << 16) | (rc[3]! << 8) | rc[4]!) >>> 0;
  let range = 0xffffffff;
  let rp = 5, mp = 0, cp = 0, jp = 0, op = 0, prev = 0;
  if (out.length < size) return { data: new Uint8Array(0), ok: false, error: 'size mismatch' };
  while (op < size) {
    // Plain bytes up to the next branch opcode.
    let b = 0, found = false;
    while (mp < main.length && op < size) {
      b = main[mp++]!;
      out[op++] = b;
      if ((b & 0xfe) === 0xe8 || (prev === 0x0f && (b & 0xf0) === 0x80)) { found = true; break; }
      prev = b;
    }
    if (!found || op >= size) break;
    const pi = b === 0xe8 ? prev : b === 0xe9 ? 256 : 257;
    const p = probs[pi]!;
    const bound = (range >>> 11) * p;
    let bit: number;
    if (code < bound) { range = bound; probs[pi] = p + ((2048 - p) >>> 5); bit = 0; }
    else { range -= bound; code -= bound; probs[pi] = p - (p >>> 5); bit = 1; }
    if (range < 1 << 24) {
      if (rp >= rc.length) return { data: out.subarray(0, op), ok: false, error: 'truncated' };
      range = (range * 256) >>> 0;
      code = ((code * 256) + rc[rp++]!) >>> 0;
    }
    if (bit === 0) { prev = b; continue; }
    let src: number;
    if (b === 0xe8) {
      if (cp + 4 > call.length) return { data: out.subarray(0, op), ok: false, error: 'truncated' };
      src = ((call[cp]! << 24) | (call[cp + 1]! << 16) | (call[cp + 2]! << 8) | call[cp + 3]!) >>> 0;
      cp += 4;
    } else {
      if (jp + 4 > jump.length) return { data: out.subarray(0, op), ok: false, error: 'truncated' };
      src = ((jump[jp]! << 24) | (jump[jp + 1]! << 16) | (jump[jp + 2]! << 8) | jump[jp + 3]!) >>> 0;
      jp += 4;
    }
    const dest = (src - (op + 4)) >>> 0;
    for (let k = 0; k < 4 && op < size; k++) out[op++] = (dest >>> (8 * k)) & 0xff;
    prev = dest >>> 24;
  }
  return op === size ? { data: out, ok: true } : { data: out.subarray(0, op), ok: false, error: 'truncated' };
}

function open7z(bytes: Uint8Array, offset: number): OpenResult {
  try {
    const b = bytes.subarray(offset);
    if (b.length < 32) return { error: 'truncated' };
    for (let i = 0; i < 6; i++) if (b[i] !== SEVENZIP_MAGIC[i]) return { error: 'not 7z' };
    if (b[6] !== 0) return { error: 'unsupported version' };
    if (crc32(b.subarray(12, 32)) !== u32le(b, 8)) return { error: 'start header crc' };
    const nextOff = u32le(b, 12) + u32le(b, 16) * 2 ** 32;
    const nextSize = u32le(b, 20) + u32le(b, 24) * 2 ** 32;
    const nextCrc = u32le(b, 28);
    if (nextSize === 0) return { archive: { si: { packPos: 0, packSizes: [], folders: [], subSizes: [], subCrcs: [] }, files: [], base: 32 } };
    if (32 + nextOff + nextSize > b.length) return { error: 'truncated' };
    let header = b.subarray(32 + nextOff, 32 + nextOff + nextSize);
    if (crc32(header) !== nextCrc) return { error: 'header crc' };
    let h = new Hdr(header);
    let id = h.byte();
    if (id === 0x17) {
      // A packed header: its streams info, then the first folder decoded.
      const si = readStreamsInfo(h);
      const f = si.folders[0];
      if (!f) return { error: 'bad packed header' };
      const r = decodeFolder(b, 32, si, f);
      if (r.encrypted) return { encrypted: true };
      if (!r.ok) return { error: `packed header: ${r.error ?? 'damaged'}` };
      header = r.data;
      h = new Hdr(header);
      id = h.byte();
    }
    if (id !== 0x01) return { error: 'bad header' };
    id = h.byte();
    if (id === 0x02) {
      for (;;) { const t = h.byte(); if (t === 0) break; h.skip(h.count(1 << 30)); }
      id = h.byte();
    }
    if (id === 0x03) { readStreamsInfo(h); id = h.byte(); }
    let si: StreamsInfo = { packPos: 0, packSizes: [], folders: [], subSizes: [], subCrcs: [] };
    if (id === 0x04) { si = readStreamsInfo(h); id = h.byte(); }
    let files: FileEntry[] = [];
    if (id === 0x05) { files = readFiles(h); id = h.byte(); }
    if (id !== 0x00) return { error: 'bad header' };
    // Files with a stream take the folders' substreams in order.
    let fi = 0, sub = 0;
    for (const file of files) {
      if (!file.hasStream) continue;
      while (fi < si.folders.length && sub >= si.subSizes[fi]!.length) { fi++; sub = 0; }
      if (fi >= si.folders.length) return { error: 'more files than streams' };
      file.size = si.subSizes[fi]![sub]!;
      file.crc = si.subCrcs[fi]![sub];
      sub++;
    }
    return { archive: { si, files, base: 32 } };
  } catch (e) {
    if (e instanceof HeaderError) return { error: e.message };
    throw e;
  }
}

/** The files of the 7z archive starting at `offset` of `bytes`, as ClamAV extracts them. */
export function* scan7zAt(bytes: Uint8Array, offset: number, ctx: UnpackContext): Iterable<UnpackItem> {
  const opened = open7z(bytes, offset);
  if ('encrypted' in opened) {
    if (ctx.options.alertEncryptedArchive) yield { alert: 'Heuristics.Encrypted.7Zip', offset };
    return;
  }
  if ('error' in opened) return;
  const { si, files, base } = opened.archive;
  const b = bytes.subarray(offset);
  const max = ctx.limits.maxFileSize > 0 ? ctx.limits.maxFileSize : Infinity;
  // Which folder each file with a stream is in, and where in the folder's output it starts.
  const place: { folder: number; start: number }[] = [];
  {
    let fi = 0, sub = 0, at = 0;
    for (const file of files) {
      if (!file.hasStream) { place.push({ folder: -1, start: 0 }); continue; }
      while (fi < si.folders.length && sub >= si.subSizes[fi]!.length) { fi++; sub = 0; at = 0; }
      place.push({ folder: fi, start: at });
      at += file.size;
      sub++;
    }
  }
  let cached: { folder: number; data: Uint8Array; size: number } | undefined;
  let alerted = false;
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    if (file.isDir) continue;
    if (file.size > max) { yield { name: file.name, limit: 'MaxFileSize', size: file.size }; continue; }
    const got = extract(i);
    // ClamAV reports every file's metadata, extracted or not (`cli_matchmeta`).
    if (got instanceof Uint8Array) yield { name: file.name, data: got };
    else {
      if (got === 'encrypted' && ctx.options.alertEncryptedArchive && !alerted) {
        // ClamAV reports a heuristic name once per scanned file: once per archive here.
        alerted = true;
        yield { alert: 'Heuristics.Encrypted.7Zip' };
      }
      yield { meta: file.name };
    }
  }

  /** File `i`'s bytes, or why there are none. */
  function extract(i: number): Uint8Array | 'empty' | 'encrypted' | 'failed' {
    const file = files[i]!;
    const { folder, start } = place[i]!;
    if (folder < 0 || file.size === 0) return 'empty';
    const f = si.folders[folder]!;
    if (!cached || cached.folder !== folder) {
      const total = folderSize(f);
      const r = decodeFolder(b, base, si, f);
      if (!r.ok) {
        // ClamAV keeps its buffer for the folder (zeros past what was decoded) unless it could not
        // allocate it; an encrypted folder is reported at its first file, and its later files
        // then fail their CRC on that zeroed buffer.
        if (total <= MAX_FOLDER && total > 0) cached = { folder, data: r.data.subarray(0, total), size: total };
        return r.encrypted ? 'encrypted' : 'failed';
      }
      cached = { folder, data: r.data, size: r.data.length };
    }
    if (start + file.size > cached.size) return 'failed';
    let data = cached.data.subarray(start, start + file.size);
    if (data.length < file.size) {
      const padded = new Uint8Array(file.size);
      padded.set(data);
      data = padded;
    }
    return file.crc !== undefined && crc32(data) !== file.crc ? 'failed' : data;
  }
}

/**
 * The CL_TYPE_7ZSFX reader: a 7z signature found inside another layer. ClamAV does not open it
 * when the layer is itself a 7z archive (a stored archive inside it is reached by extraction),
 * i.e. when the layer starts with the 7z signature.
 */
export function scan7zEmbedded(bytes: Uint8Array, offset: number, ctx: UnpackContext): Iterable<UnpackItem> {
  if (SEVENZIP_MAGIC.every((x, i) => bytes[i] === x)) return [];
  return scan7zAt(bytes, offset, ctx);
}

/** The CL_TYPE_7Z reader. */
export function scan7z(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  return scan7zAt(bytes, 0, ctx);
}
