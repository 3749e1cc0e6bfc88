/**
 * HFS+ and HFSX volumes → the files they hold, as ClamAV 1.4's HFS+ reader extracts them.
 *
 * In: the bytes of a CL_TYPE_PART_HFSPLUS layer (a partition typed by the `H+`/`HX` magic at 1024,
 * see `partitionType`), and the scan limits. Out: for every catalog file record of a regular file,
 * in leaf order: the file decompressed from its `com.apple.decmpfs` attribute when it has one
 * (zlib inline data, or zlib blocks in the resource fork), then its data fork, then its resource
 * fork, each named by the file's name. Never throws.
 *
 * What ClamAV does and this follows: the volume header at 1024 (block size a power of two from 512
 * to 1 MiB); the header nodes of the extents, catalog and (optionally) attributes B-trees read from
 * the first extent of each; the catalog checked against the volume; then the leaf nodes walked from
 * `firstLeafNode` along `fLink` (index nodes ignored, at most min(totalNodes, 1000) nodes, a node
 * linking to itself ends it). A fork is read from its eight extents only: a file needing the
 * extents overflow file ends the walk unread, as any damage does (a record out of its node, an
 * extent past the volume, a block past the image). Offsets are block × blockSize in 32 bits, as
 * ClamAV computes them. A fork over MaxFileSize ends the walk (ClamAV returns its limit error).
 * Only the first attributes leaf node is searched for a file's decmpfs attribute (ClamAV's loop
 * never moves on); an inline attribute stored uncompressed is not scanned (ClamAV writes it but
 * does not scan it).
 */
import type { ClType } from '../cltypes.js';
import { inflateLikeClamav } from '../office/inflate.js';
import { CHILD_REFUSED, type UnpackContext, type UnpackItem } from '../unpack.js';

const VH = 1024;
const NODE_LIMIT = 1000;
const KIND_LEAF = 0xff, KIND_HEADER = 1;
const REC_FILE = 2;
const MODE_MASK = 0o170000, MODE_FILE = 0o100000;
const FILE_RECORD = 248;
const DECMPFS_NAME = 'com.apple.decmpfs';
const HARD_CAP = 512 * 1024 * 1024;

/**
 * The partition type ClamAV gives a partition from its first bytes (`CL_TYPE_PART_ANY` typing:
 * only the HFS+ and HFSX magics at 1024 are known), for readers that scan partitions.
 */
export function partitionType(b: Uint8Array): ClType {
  if (b.length >= VH + 4) {
    const sig = (b[VH]! << 8) | b[VH + 1]!, ver = (b[VH + 2]! << 8) | b[VH + 3]!;
    if ((sig === 0x482b && ver === 4) || (sig === 0x4858 && ver === 5)) return 'CL_TYPE_PART_HFSPLUS';
  }
  return 'CL_TYPE_PART_ANY';
}

interface Fork {
  logicalSize: number;
  totalBlocks: number;
  extents: { start: number; count: number }[];
}

interface TreeHeader {
  firstLeafNode: number;
  nodeSize: number;
  maxKeyLength: number;
  totalNodes: number;
}

interface Volume {
  b: Uint8Array;
  blockSize: number;
  totalBlocks: number;
  catalog: Fork;
  attributes: Fork;
}

const u16 = (b: Uint8Array, p: number): number => (b[p]! << 8) | b[p + 1]!;
const u32 = (b: Uint8Array, p: number): number => ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
const u64 = (b: Uint8Array, p: number): number => u32(b, p) * 2 ** 32 + u32(b, p + 4);
const le32 = (b: Uint8Array, p: number): number => (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
/** uint32 × uint32 in C: the low 32 bits. */
const mul32 = (a: number, b: number): number => Number((BigInt(a) * BigInt(b)) & 0xffffffffn);

function readFork(b: Uint8Array, p: number): Fork {
  const extents = [];
  for (let i = 0; i < 8; i++) extents.push({ start: u32(b, p + 16 + 8 * i), count: u32(b, p + 20 + 8 * i) });
  return { logicalSize: u64(b, p), totalBlocks: u32(b, p + 12), extents };
}

/** The volume header, or undefined when ClamAV refuses it. */
function readVolume(b: Uint8Array): Volume | undefined {
  if (b.length < 1536) return undefined;
  const sig = u16(b, VH), ver = u16(b, VH + 2);
  if (!((sig === 0x482b && ver === 4) || (sig === 0x4858 && ver === 5))) return undefined;
  const blockSize = u32(b, VH + 40);
  if (blockSize < 512 || blockSize > 1 << 20 || (blockSize & (blockSize - 1)) !== 0) return undefined;
  return { b, blockSize, totalBlocks: u32(b, VH + 44), catalog: readFork(b, VH + 272), attributes: readFork(b, VH + 352) };
}

/** A B-tree's header node, read from the first block of its file's first extent. */
function readTreeHeader(v: Volume, fork: Fork, kind: 'extents' | 'catalog' | 'attributes'): TreeHeader | undefined {
  const off = mul32(fork.extents[0]!.start, v.blockSize);
  if (off + v.blockSize > v.b.length) return undefined;
  const b = v.b;
  if (b[off + 8] !== KIND_HEADER) return undefined;
  if (u32(b, off + 4) !== 0 || b[off + 9] !== 0 || u16(b, off + 10) !== 3) return undefined;
  const h = off + 14;
  const hdr: TreeHeader = { firstLeafNode: u32(b, h + 10), nodeSize: u16(b, h + 18), maxKeyLength: u16(b, h + 20), totalNodes: u32(b, h + 22) };
  const minSize = kind === 'extents' ? 512 : 4096;
  if (hdr.nodeSize < minSize || hdr.nodeSize > 32768 || (hdr.nodeSize & (hdr.nodeSize - 1)) !== 0) return undefined;
  if (kind === 'catalog' && (hdr.maxKeyLength < 6 || hdr.maxKeyLength > 516 || hdr.maxKeyLength > hdr.nodeSize / 2)) return undefined;
  if (kind === 'extents' && hdr.maxKeyLength !== 10) return undefined;
  return hdr;
}

/** One node of a B-tree file, gathered block by block from the file's eight extents (ClamAV's reads). */
function fetchNode(v: Volume, hdr: TreeHeader, fork: Fork, node: number): Uint8Array | undefined {
  if (node >= hdr.totalNodes) return undefined;
  const at = node * hdr.nodeSize;
  const startBlock = Math.floor(at / v.blockSize), startOffset = at % v.blockSize;
  const endBlock = Math.floor((at + hdr.nodeSize - 1) / v.blockSize);
  const endSize = ((at + hdr.nodeSize - 1) % v.blockSize) + 1;
  if (startBlock >= fork.totalBlocks || endBlock >= fork.totalBlocks) return undefined;
  const buf = new Uint8Array(hdr.nodeSize);
  let filled = 0;
  for (let cur = startBlock; cur <= endBlock; cur++) {
    let search = cur, real = -1;
    for (const e of fork.extents) {
      if (e.start === 0 || e.count === 0) return undefined;
      if (e.start & 0x10000000 && e.count & 0x10000000) return undefined;
      if (search < e.count) { real = (e.start + search) >>> 0; break; }
      search -= e.count;
    }
    if (real < 0 || real >= v.totalBlocks) return undefined;
    let off = mul32(real, v.blockSize);
    let size = v.blockSize;
    if (cur === startBlock) off += startOffset;
    else if (cur === endBlock) size = endSize;
    if (filled + size > buf.length || off + size > v.b.length) return undefined;
    buf.set(v.b.subarray(off, off + size), filled);
    filled += size;
  }
  return buf;
}

type ForkRead = { data: Uint8Array } | { limit: true; size: number } | { stop: true };

/** A fork's bytes from its eight extents (ClamAV's `hfsplus_scanfile`), or why the walk stops. */
function readForkData(v: Volume, fork: Fork, ctx: UnpackContext): ForkRead | undefined {
  if (fork.logicalSize === 0 || fork.totalBlocks === 0) return undefined;
  const max = ctx.limits.maxFileSize;
  if (max > 0 && fork.logicalSize > max) return { limit: true, size: fork.logicalSize };
  let left = fork.logicalSize;
  const parts: Uint8Array[] = [];
  for (let ext = 0; left > 0; ext++) {
    if (ext >= 8) return { stop: true }; // the extents overflow file is not read
    const e = fork.extents[ext]!;
    if (e.start === 0 || e.count === 0) break;
    if (e.start & 0x10000000 && e.count & 0x10000000) return { stop: true };
    const end = (e.start + e.count - 1) >>> 0;
    if (e.start > v.totalBlocks || end > v.totalBlocks || e.count > v.totalBlocks) return { stop: true };
    for (let blk = e.start; blk <= end && left > 0; blk++) {
      const off = mul32(blk, v.blockSize);
      if (off + v.blockSize > v.b.length) return { stop: true };
      const n = Math.min(left, v.blockSize);
      parts.push(v.b.subarray(off, off + n));
      left -= n;
    }
  }
  return { data: parts.length === 1 ? parts[0]! : Buffer.concat(parts) };
}

/** The inline `com.apple.decmpfs` attribute of a file, searched in the first attributes leaf node. */
function findDecmpfs(v: Volume, hdr: TreeHeader | undefined, cnid: number): Uint8Array | undefined {
  if (!hdr || hdr.firstLeafNode === 0) return undefined;
  const node = fetchNode(v, hdr, v.attributes, hdr.firstLeafNode);
  if (!node || node[8] !== KIND_LEAF || node[9] !== 1) return undefined;
  const size = hdr.nodeSize, count = u16(node, 10);
  if (size / 4 < count) return undefined;
  const top = size - count * 2 - 2;
  let start = 14;
  for (let r = 0; r < count; r++) {
    const next = u16(node, size - r * 2 - 2);
    if (next > top - 1 || next < start) return undefined;
    start = next;
    if (start + 14 >= top) return undefined;
    const keyLength = u16(node, start), keyCnid = u32(node, start + 4), nameLength = u16(node, start + 12);
    if (start + keyLength + 4 >= top) return undefined;
    if (start + 14 + nameLength >= top) return undefined;
    if (keyCnid !== cnid || nameLength !== DECMPFS_NAME.length) continue;
    let same = true;
    for (let i = 0; i < nameLength && same; i++) same = start + 15 + 2 * i < size && u16(node, start + 14 + 2 * i) === DECMPFS_NAME.charCodeAt(i);
    if (!same) continue;
    const rec = start + 14 + nameLength * 2;
    if (rec + 16 > size) return undefined;
    if (u32(node, rec) !== 0x10) continue;
    const attrSize = u32(node, rec + 12);
    if (attrSize > 8192 || rec + 16 + attrSize > size) return undefined;
    return node.subarray(rec + 16, rec + 16 + attrSize);
  }
  return undefined;
}

type Decmpfs = { data: Uint8Array } | { stop: true } | { limit: true; size: number } | undefined;

/** A decmpfs file: inline zlib data (type 3) or zlib blocks in the resource fork (type 4). */
function decompressFile(v: Volume, attr: Uint8Array, resource: Fork, ctx: UnpackContext): Decmpfs {
  if (attr.length < 16) return { stop: true };
  let type: number, fileSize: number;
  if (attr[0] === 0x66 && attr[1] === 0x70 && attr[2] === 0x6d && attr[3] === 0x63) {
    type = le32(attr, 4);
    fileSize = le32(attr, 8) + le32(attr, 12) * 2 ** 32;
  } else if (attr[0] === 0x63 && attr[1] === 0x6d && attr[2] === 0x70 && attr[3] === 0x66) {
    type = u32(attr, 4);
    fileSize = u64(attr, 8);
  } else return { stop: true };
  // Decompressed output is bounded by MaxFileSize (ClamAV writes it unbounded), or 512 MiB without one.
  const cap = Math.max(1, Math.min(ctx.limits.maxFileSize || HARD_CAP, HARD_CAP));
  if (type === 3) {
    if (attr.length < 17) return { stop: true };
    if ((attr[16]! & 0x0f) === 0x0f) return attr.length - 17 !== fileSize ? { stop: true } : undefined;
    if (fileSize > 65536) return { stop: true };
    const r = inflateLikeClamav(attr.subarray(16), false, Math.max(1, fileSize));
    if (r.state === 'error' && r.data.length < fileSize) return { stop: true };
    // ClamAV writes the whole buffer of fileSize bytes, whatever was inflated into it.
    const out = new Uint8Array(fileSize);
    out.set(r.data.subarray(0, fileSize));
    return { data: out };
  }
  if (type !== 4) return undefined;
  if (resource.logicalSize < 4096) return { stop: true };
  const rf = readForkData(v, resource, ctx);
  if (rf && 'limit' in rf) return rf;
  if (!rf || !('data' in rf)) return { stop: true };
  const res = rf.data;
  const blocks = cmpfBlocks(res);
  if (!blocks) return undefined; // ClamAV goes on with the forks
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const blk of blocks) {
    if (blk.off + blk.len > res.length) return { stop: true };
    const src = res.subarray(blk.off, blk.off + blk.len);
    if (src.length === 0) return { stop: true };
    if ((src[0]! & 0x0f) === 0x0f) return { stop: true }; // ClamAV ends the stored block on an uninitialised stream
    const r = inflateLikeClamav(src, false, cap - total);
    if (r.state === 'error') return { stop: true };
    parts.push(r.data);
    total += r.data.length;
    if (total >= cap) break;
  }
  return total > 0 ? { data: Buffer.concat(parts) } : undefined;
}

/** The block table of the `cmpf` resource of a resource fork: absolute offsets and lengths. */
function cmpfBlocks(r: Uint8Array): { off: number; len: number }[] | undefined {
  if (r.length < 16) return undefined;
  const dataOffset = u32(r, 0), mapOffset = u32(r, 4);
  if (mapOffset + 30 > r.length) return undefined;
  const typeCount = (u16(r, mapOffset + 28) << 16) >> 16;
  let p = mapOffset + 30, cmpf = -1, index = 0;
  for (let i = 0; i < typeCount + 1; i++) {
    if (p + 8 > r.length) return undefined;
    if (r[p] === 0x63 && r[p + 1] === 0x6d && r[p + 2] === 0x70 && r[p + 3] === 0x66) {
      if (cmpf !== -1) return undefined;
      cmpf = index;
    }
    index += u16(r, p + 4) + 1;
    p += 8;
  }
  if (cmpf < 0) return undefined;
  p += cmpf * 12;
  if (p + 12 > r.length) return undefined;
  const at = dataOffset + ((r[p + 5]! << 16) | (r[p + 6]! << 8) | r[p + 7]!);
  if (at + 8 > r.length) return undefined;
  const base = at + 4;
  const n = le32(r, base);
  if (base + 4 + n * 8 > r.length) return undefined;
  const out = [];
  for (let i = 0; i < n; i++) out.push({ off: base + le32(r, base + 4 + 8 * i), len: le32(r, base + 8 + 8 * i) });
  return out;
}

function utf16be(b: Uint8Array, p: number, chars: number): string {
  let s = '';
  for (let i = 0; i < chars; i++) s += String.fromCharCode(u16(b, p + 2 * i));
  return s;
}

/** The files of an HFS+ / HFSX volume, in ClamAV's order (see the top of this file). */
export function* hfsplusMembers(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem, void, unknown> {
  const v = readVolume(bytes);
  if (!v) return;
  if (!readTreeHeader(v, readFork(bytes, VH + 192), 'extents')) return;
  const cat = readTreeHeader(v, v.catalog, 'catalog');
  if (!cat) return;
  const attrs = readTreeHeader(v, v.attributes, 'attributes');
  // The catalog checked against the volume (ClamAV's 32-bit products kept).
  if (v.catalog.totalBlocks >= v.totalBlocks) return;
  if (v.catalog.logicalSize > mul32(v.catalog.totalBlocks, v.blockSize)) return;
  if (v.catalog.logicalSize < mul32(cat.totalNodes, cat.nodeSize)) return;

  const nodeLimit = Math.min(cat.totalNodes, NODE_LIMIT);
  const size = cat.nodeSize;
  let thisNode = cat.firstLeafNode, scanned = 0;
  for (;;) {
    if (thisNode === 0) return;
    if (scanned++ > nodeLimit) return;
    const node = fetchNode(v, cat, v.catalog, thisNode);
    if (!node || node[8] !== KIND_LEAF || node[9] !== 1) return;
    const count = u16(node, 10);
    if (size / 4 < count) return;
    const top = size - count * 2 - 2;
    let start = 14;
    for (let r = 0; r < count; r++) {
      const next = u16(node, size - r * 2 - 2);
      if (next > top - 1 || next < start) return;
      start = next;
      let keylen = u16(node, start);
      keylen += keylen % 2;
      if (start + keylen + 4 >= top) return;
      let name: string | undefined;
      if (keylen >= 6) {
        const len = u16(node, start + 6);
        if (len > 0 && len * 2 <= keylen - 6) name = utf16be(node, start + 8, len);
      }
      const rec = start + keylen + 2;
      if (u16(node, rec) !== REC_FILE) continue;
      if (rec + FILE_RECORD >= top) return;
      const cnid = u32(node, rec + 8);
      if ((u16(node, rec + 42) & MODE_MASK) !== MODE_FILE) continue;
      const label = name ?? `hfsplus-${cnid}`;
      const dataFork = readFork(node, rec + 88), resFork = readFork(node, rec + 168);
      const attr = findDecmpfs(v, attrs, cnid);
      if (attr) {
        const d = decompressFile(v, attr, resFork, ctx);
        if (d && 'stop' in d) return;
        if (d && 'limit' in d) {
          yield { name: label, limit: 'MaxFileSize', size: d.size };
          return;
        }
        if (d && (yield { name: label, data: d.data }) === CHILD_REFUSED) return;
      }
      for (const fork of [dataFork, resFork]) {
        if (fork.logicalSize === 0) continue;
        const f = readForkData(v, fork, ctx);
        if (!f) continue;
        if ('stop' in f) return;
        if ('limit' in f) {
          yield { name: label, limit: 'MaxFileSize', size: f.size };
          return;
        }
        // A file a scan limit refused ends the walk (ClamAV's limit check returns its error).
        if ((yield { name: label, data: f.data }) === CHILD_REFUSED) return;
      }
    }
    const fLink = u32(node, 0);
    if (fLink === thisNode) return;
    thisNode = fLink;
  }
}
