/**
 * HFS+ / HFSX volume images made by code, for tests (no HFS+ formatter is available here).
 *
 * In: the files to store (name, data fork, optional resource fork, how many extents to split the
 * data fork into, optional decmpfs compression) and the volume's block size and flavour. Out: a
 * volume image laid out as Apple's TN1150 describes: boot blocks, the volume header at 1024 (and
 * its copy 1024 bytes before the end), the allocation bitmap, the extents overflow B-tree (holding
 * the extents of forks split into more than eight pieces), the catalog B-tree (root folder, its
 * thread, a file record and a file thread per file, in key order; an index node over the leaves
 * when there are several), the attributes B-tree when a file is compressed (`com.apple.decmpfs`),
 * then the file data, each extent followed by a one-block gap so that pieces are not contiguous.
 */
import { deflateSync } from 'node:zlib';

export interface HfsFile {
  name: string;
  data: Uint8Array;
  resource?: Uint8Array;
  /** Extents the data fork is split into (default 1); more than 8 go to the extents overflow file. */
  extents?: number;
  /** Store the file compressed with decmpfs: inline in the attribute (3) or in the resource fork (4). */
  decmpfs?: 3 | 4;
  /** With `decmpfs: 3`: the attribute holds the data uncompressed (flag byte 0x0f). */
  decmpfsStored?: boolean;
  /** File mode (default 0o100644, a regular file). */
  mode?: number;
}

export interface HfsOptions {
  blockSize?: number;
  hfsx?: boolean;
  /** Catalog node size (default 4096). */
  nodeSize?: number;
  volumeName?: string;
}

interface Extent { start: number; count: number }
interface ForkLayout { size: number; blocks: number; extents: Extent[] }

const be16 = (b: Uint8Array, p: number, v: number): void => { b[p] = (v >>> 8) & 0xff; b[p + 1] = v & 0xff; };
const be32 = (b: Uint8Array, p: number, v: number): void => { be16(b, p, v >>> 16); be16(b, p + 2, v & 0xffff); };
const be64 = (b: Uint8Array, p: number, v: number): void => { be32(b, p, Math.floor(v / 2 ** 32)); be32(b, p + 4, v >>> 0); };
const le32 = (b: Uint8Array, p: number, v: number): void => { b[p] = v & 0xff; b[p + 1] = (v >>> 8) & 0xff; b[p + 2] = (v >>> 16) & 0xff; b[p + 3] = (v >>> 24) & 0xff; };

function uni(name: string): Uint8Array {
  const b = new Uint8Array(2 + 2 * name.length);
  be16(b, 0, name.length);
  for (let i = 0; i < name.length; i++) be16(b, 2 + 2 * i, name.charCodeAt(i));
  return b;
}

function catalogKey(parent: number, name: string): Uint8Array {
  const n = uni(name);
  const k = new Uint8Array(6 + n.length);
  be16(k, 0, 4 + n.length);
  be32(k, 2, parent);
  k.set(n, 6);
  return k;
}

function writeFork(b: Uint8Array, p: number, f: ForkLayout): void {
  be64(b, p, f.size);
  be32(b, p + 12, f.blocks);
  f.extents.slice(0, 8).forEach((e, i) => { be32(b, p + 16 + 8 * i, e.start); be32(b, p + 20 + 8 * i, e.count); });
}

/** A B-tree node: descriptor, records from 14, offsets at the end. */
function node(size: number, kind: number, height: number, records: Uint8Array[], fLink = 0, bLink = 0): Uint8Array {
  const b = new Uint8Array(size);
  be32(b, 0, fLink);
  be32(b, 4, bLink);
  b[8] = kind & 0xff;
  b[9] = height;
  be16(b, 10, records.length);
  let p = 14;
  records.forEach((r, i) => {
    b.set(r, p);
    be16(b, size - 2 * (i + 1), p);
    p += r.length;
  });
  be16(b, size - 2 * (records.length + 1), p);
  return b;
}

/** Records packed into nodes, keeping room for the offsets (and ClamAV's strict end check). */
function pack(records: Uint8Array[], size: number): Uint8Array[][] {
  const out: Uint8Array[][] = [[]];
  let used = 14;
  for (const r of records) {
    const cur = out[out.length - 1]!;
    if (used + r.length + 2 * (cur.length + 2) + 4 > size && cur.length > 0) {
      out.push([r]);
      used = 14 + r.length;
    } else {
      cur.push(r);
      used += r.length;
    }
  }
  return out;
}

function headerNode(size: number, o: { depth: number; root: number; leafRecords: number; firstLeaf: number; lastLeaf: number; maxKey: number; totalNodes: number; compare: number; attributes: number; fLink?: number }): Uint8Array {
  const hdr = new Uint8Array(106);
  be16(hdr, 0, o.depth);
  be32(hdr, 2, o.root);
  be32(hdr, 6, o.leafRecords);
  be32(hdr, 10, o.firstLeaf);
  be32(hdr, 14, o.lastLeaf);
  be16(hdr, 18, size);
  be16(hdr, 20, o.maxKey);
  be32(hdr, 22, o.totalNodes);
  be32(hdr, 26, 0);
  be32(hdr, 32, size);
  hdr[36] = 0;
  hdr[37] = o.compare;
  be32(hdr, 38, o.attributes);
  const user = new Uint8Array(128);
  const map = new Uint8Array(size - 256);
  for (let i = 0; i < o.totalNodes && i < map.length * 8; i++) map[i >> 3]! |= 0x80 >> (i & 7);
  return node(size, 1, 0, [hdr, user, map], o.fLink ?? 0);
}

/** A whole B-tree file from its leaf records (sorted), with an index level when there are several leaves. */
function btree(records: Uint8Array[], keyOf: (r: Uint8Array) => Uint8Array, size: number, maxKey: number, compare: number, minNodes = 1): Uint8Array {
  const leaves = records.length > 0 ? pack(records, size) : [];
  const total = Math.max(minNodes, 1 + leaves.length + (leaves.length > 1 ? 1 : 0));
  const firstLeaf = leaves.length > 0 ? 1 : 0;
  const indexNo = leaves.length > 1 ? leaves.length + 1 : 0;
  const out = new Uint8Array(total * size);
  out.set(headerNode(size, {
    depth: leaves.length === 0 ? 0 : leaves.length > 1 ? 2 : 1,
    root: indexNo || firstLeaf, leafRecords: records.length, firstLeaf, lastLeaf: leaves.length, maxKey, totalNodes: total, compare, attributes: 6,
  }), 0);
  leaves.forEach((recs, i) => {
    const n = i + 1;
    out.set(node(size, 0xff, 1, recs, n < leaves.length ? n + 1 : 0, i > 0 ? n - 1 : 0), n * size);
  });
  if (indexNo) {
    const idx = leaves.map((recs, i) => {
      const k = keyOf(recs[0]!);
      const r = new Uint8Array(k.length + 4);
      r.set(k);
      be32(r, k.length, i + 1);
      return r;
    });
    out.set(node(size, 0, 2, idx), indexNo * size);
  }
  return out;
}

function decmpfsHeader(type: number, size: number): Uint8Array {
  const h = new Uint8Array(16);
  h.set([0x66, 0x70, 0x6d, 0x63]);
  le32(h, 4, type);
  le32(h, 8, size >>> 0);
  le32(h, 12, Math.floor(size / 2 ** 32));
  return h;
}

/** A resource fork holding one `cmpf` resource: zlib blocks of 64 KiB of the file. */
export function cmpfResourceFork(data: Uint8Array): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (let p = 0; p < data.length || blocks.length === 0; p += 65536) blocks.push(deflateSync(data.subarray(p, p + 65536)));
  const table = new Uint8Array(4 + 8 * blocks.length);
  le32(table, 0, blocks.length);
  let off = table.length;
  blocks.forEach((b, i) => { le32(table, 4 + 8 * i, off); le32(table, 8 + 8 * i, b.length); off += b.length; });
  const resData = new Uint8Array(4 + off);
  be32(resData, 0, off);
  resData.set(table, 4);
  let p = 4 + table.length;
  for (const b of blocks) { resData.set(b, p); p += b.length; }
  const dataOffset = 256;
  const mapOffset = dataOffset + resData.length;
  const map = new Uint8Array(50);
  be16(map, 24, 28); // type list offset
  be16(map, 26, 50); // name list offset
  be16(map, 28, 0); // types - 1
  map.set([0x63, 0x6d, 0x70, 0x66], 30);
  be16(map, 34, 0); // instances - 1
  be16(map, 36, 10); // reference list offset from the type list
  be16(map, 38, 1); // resource id
  be16(map, 40, 0xffff); // no name
  map[42] = 0;
  map[43] = 0; map[44] = 0; map[45] = 0; // data offset 0
  const out = new Uint8Array(Math.max(4096 + 64, mapOffset + map.length));
  be32(out, 0, dataOffset);
  be32(out, 4, mapOffset);
  be32(out, 8, resData.length);
  be32(out, 12, map.length);
  map.set(out.subarray(0, 16), 0);
  out.set(resData, dataOffset);
  out.set(map, mapOffset);
  return out;
}

export function buildHfsPlus(files: readonly HfsFile[], opts: HfsOptions = {}): Uint8Array {
  const bs = opts.blockSize ?? 4096;
  const nodeSize = opts.nodeSize ?? 4096;
  const extNodeSize = 4096;
  const volName = opts.volumeName ?? 'Untitled';
  const blocksOf = (n: number): number => Math.ceil(n / bs);
  // Fixed area: boot blocks and volume header, then the bitmap, the extents, catalog and attributes trees.
  let next = blocksOf(4096);
  const alloc = (n: number): Extent => { const e = { start: next, count: n }; next += n; return e; };

  // File contents first decided (decmpfs turns data into an attribute or a resource fork).
  const prepared = files.map((f, i) => {
    const cnid = 16 + i;
    let data = f.data, resource = f.resource ?? new Uint8Array(0);
    let attr: Uint8Array | undefined;
    if (f.decmpfs === 3) {
      attr = Buffer.concat([decmpfsHeader(3, f.data.length), f.decmpfsStored ? Buffer.concat([Uint8Array.of(0x0f), f.data]) : deflateSync(f.data)]);
      data = new Uint8Array(0);
    } else if (f.decmpfs === 4) {
      attr = decmpfsHeader(4, f.data.length);
      resource = cmpfResourceFork(f.data);
      data = new Uint8Array(0);
    }
    return { f, cnid, data, resource, attr };
  });
  const hasAttrs = prepared.some((p) => p.attr);

  // Trees are sized before the data is placed: a generous fixed size each.
  const bitmapExt = alloc(1);
  const extTreeNodes = 4;
  const extExt = alloc(blocksOf(extTreeNodes * extNodeSize));
  const recordBytes = files.reduce((n, f) => n + 300 + 4 * f.name.length, 200 + 4 * volName.length);
  const catNodes = 4 + Math.ceil(recordBytes / (nodeSize - 300)) * 2;
  const catExt = alloc(blocksOf(catNodes * nodeSize));
  const attrNodes = 4 + 2 * Math.ceil(prepared.reduce((n, p) => n + (p.attr ? p.attr.length + 80 : 0), 0) / (4096 - 300));
  const attrExt = hasAttrs ? alloc(blocksOf(attrNodes * 4096)) : { start: 0, count: 0 };

  const overflow: { cnid: number; fork: number; fileBlock: number; extents: Extent[] }[] = [];
  const place = (bytes: Uint8Array, pieces: number, cnid: number, forkType: number): { layout: ForkLayout; writes: [number, Uint8Array][] } => {
    const blocks = blocksOf(bytes.length);
    const n = Math.max(1, Math.min(pieces, blocks));
    const extents: Extent[] = [];
    const writes: [number, Uint8Array][] = [];
    let done = 0;
    for (let i = 0; i < n && blocks > 0; i++) {
      const count = Math.floor(blocks / n) + (i < blocks % n ? 1 : 0);
      const e = alloc(count);
      extents.push(e);
      writes.push([e.start * bs, bytes.subarray(done * bs, (done + count) * bs)]);
      done += count;
      if (n > 1) alloc(1); // a gap
    }
    for (let k = 8; k < extents.length; k += 8) {
      let fileBlock = 0;
      for (const e of extents.slice(0, k)) fileBlock += e.count;
      overflow.push({ cnid, fork: forkType, fileBlock, extents: extents.slice(k, k + 8) });
    }
    return { layout: { size: bytes.length, blocks, extents }, writes };
  };
  const placed = prepared.map((p) => ({ ...p, dataFork: place(p.data, p.f.extents ?? 1, p.cnid, 0), resFork: place(p.resource, 1, p.cnid, 0xff) }));
  const totalBlocks = next + blocksOf(1024) + 1;
  const image = new Uint8Array(totalBlocks * bs);
  for (const p of placed) for (const [at, d] of [...p.dataFork.writes, ...p.resFork.writes]) image.set(d, at);
  // Gap blocks hold filler, so that a reader joining extents wrongly sees it.
  for (let blk = extExt.start; blk < next; blk++) {
    const used = placed.some((p) => [...p.dataFork.layout.extents, ...p.resFork.layout.extents].some((e) => blk >= e.start && blk < e.start + e.count));
    if (!used && blk >= (hasAttrs ? attrExt.start + attrExt.count : catExt.start + catExt.count)) image.fill(0x47, blk * bs, (blk + 1) * bs);
  }

  // Catalog records.
  const records: { parent: number; name: string; rec: Uint8Array }[] = [];
  const keyed = (parent: number, name: string, body: Uint8Array): Uint8Array => {
    const k = catalogKey(parent, name);
    const r = new Uint8Array(k.length + body.length);
    r.set(k);
    r.set(body, k.length);
    return r;
  };
  const folder = new Uint8Array(88);
  be16(folder, 0, 1);
  be32(folder, 4, files.length);
  be32(folder, 8, 2);
  be16(folder, 42, 0o040755);
  records.push({ parent: 1, name: volName, rec: keyed(1, volName, folder) });
  const thread = (type: number, parent: number, name: string): Uint8Array => {
    const n = uni(name);
    const t = new Uint8Array(8 + n.length);
    be16(t, 0, type);
    be32(t, 4, parent);
    t.set(n, 8);
    return t;
  };
  records.push({ parent: 2, name: '', rec: keyed(2, '', thread(3, 1, volName)) });
  for (const p of placed) {
    const file = new Uint8Array(248);
    be16(file, 0, 2);
    be32(file, 8, p.cnid);
    be16(file, 42, p.f.mode ?? 0o100644);
    if (p.attr) file[41] = 0x20; // UF_COMPRESSED
    writeFork(file, 88, p.dataFork.layout);
    writeFork(file, 168, p.resFork.layout);
    records.push({ parent: 2, name: p.f.name, rec: keyed(2, p.f.name, file) });
    records.push({ parent: p.cnid, name: '', rec: keyed(p.cnid, '', thread(4, 2, p.f.name)) });
  }
  const fold = (s: string): string => (opts.hfsx ? s : s.toUpperCase());
  records.sort((a, b) => a.parent - b.parent || (fold(a.name) < fold(b.name) ? -1 : fold(a.name) > fold(b.name) ? 1 : 0));
  const keyOfCatalog = (r: Uint8Array): Uint8Array => r.subarray(0, 2 + ((r[0]! << 8) | r[1]!));
  const catalog = btree(records.map((r) => r.rec), keyOfCatalog, nodeSize, 516, opts.hfsx ? 0xbc : 0xcf, catNodes);
  if (catalog.length > catExt.count * bs) throw new Error('catalog too large for the test builder');
  image.set(catalog, catExt.start * bs);

  // Extents overflow records (key: length 10, fork type, pad, file ID, start block).
  const extRecords = overflow.sort((a, b) => a.cnid - b.cnid || a.fork - b.fork || a.fileBlock - b.fileBlock).map((o) => {
    const r = new Uint8Array(12 + 64);
    be16(r, 0, 10);
    r[2] = o.fork;
    be32(r, 4, o.cnid);
    be32(r, 8, o.fileBlock);
    o.extents.forEach((e, i) => { be32(r, 12 + 8 * i, e.start); be32(r, 16 + 8 * i, e.count); });
    return r;
  });
  const extTree = btree(extRecords, (r) => r.subarray(0, 12), extNodeSize, 10, 0, extTreeNodes);
  if (extTree.length > extExt.count * bs) throw new Error('extents tree too large for the test builder');
  image.set(extTree, extExt.start * bs);

  if (hasAttrs) {
    const attrRecords = placed.filter((p) => p.attr).map((p) => {
      const name = 'com.apple.decmpfs';
      const keyLen = 12 + 2 * name.length;
      const body = p.attr!;
      const r = new Uint8Array(2 + keyLen + 16 + body.length + (body.length & 1));
      be16(r, 0, keyLen);
      be32(r, 4, p.cnid);
      be16(r, 12, name.length);
      for (let i = 0; i < name.length; i++) be16(r, 14 + 2 * i, name.charCodeAt(i));
      const q = 2 + keyLen;
      be32(r, q, 0x10);
      be32(r, q + 12, body.length);
      r.set(body, q + 16);
      return r;
    });
    const attrTree = btree(attrRecords, (r) => r.subarray(0, 2 + ((r[0]! << 8) | r[1]!)), 4096, 266, 0, attrNodes);
    if (attrTree.length > attrExt.count * bs) throw new Error('attributes tree too large for the test builder');
    image.set(attrTree, attrExt.start * bs);
  }

  // Allocation bitmap: every block up to `next`, and the last ones (alternate header).
  for (let i = 0; i < next; i++) image[bitmapExt.start * bs + (i >> 3)]! |= 0x80 >> (i & 7);

  const vh = new Uint8Array(512);
  vh.set(opts.hfsx ? [0x48, 0x58, 0, 5] : [0x48, 0x2b, 0, 4]);
  be32(vh, 4, 1 << 8); // unmounted cleanly
  be32(vh, 8, 0x31302e30); // '10.0'
  be32(vh, 32, files.length);
  be32(vh, 36, 0);
  be32(vh, 40, bs);
  be32(vh, 44, totalBlocks);
  be32(vh, 48, totalBlocks - next - 1);
  be32(vh, 52, next);
  be32(vh, 56, bs);
  be32(vh, 60, bs);
  be32(vh, 64, 16 + files.length);
  const fork = (e: Extent): ForkLayout => ({ size: e.count * bs, blocks: e.count, extents: e.count ? [e] : [] });
  writeFork(vh, 112, fork(bitmapExt));
  writeFork(vh, 192, fork(extExt));
  writeFork(vh, 272, fork(catExt));
  writeFork(vh, 352, fork(attrExt));
  image.set(vh, 1024);
  image.set(vh, image.length - 1024);
  return image;
}
