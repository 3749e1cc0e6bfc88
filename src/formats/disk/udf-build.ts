/**
 * A writer of small UDF-only images, for tests: no tool writes UDF volumes with files without
 * mounting them (genisoimage writes ISO 9660 hybrids, whose UDF ClamAV does not reach).
 *
 * In: a tree of files and directories, and layout choices. Out: an image of 2048-byte blocks: the
 * volume recognition sequence at 16 (BEA01, NSR02, TEA01), the main volume descriptor sequence at
 * 32, the integrity sequence at 64, the anchor at 256, the partition from 257 (file set
 * descriptor, then each directory's file entry, its identifiers, and its children's entries, depth
 * first), the file data after the metadata, and an anchor in the last block. Descriptor tags carry
 * their identifier, version, checksum and location; CRCs are left at 0.
 */

export type UdfAd = 'short' | 'long' | 'ext' | 'inicb';

export interface UdfNode {
  name: string;
  /** A file's contents; a node without data is a directory. */
  data?: Uint8Array;
  children?: UdfNode[];
  /** How the file's data is described (short allocation descriptor by default). */
  ad?: UdfAd;
  /** Written as an extended file entry (tag 266). */
  efe?: boolean;
}

export interface UdfLayout {
  /** The logical volume descriptor before the partition descriptor (default; ClamAV's order). */
  lvdFirst?: boolean;
  /** A file set descriptor at the partition's start (default true). */
  fsd?: boolean;
  /** An anchor pointer in the image's last block (default true). */
  trailer?: boolean;
  /** The partition reference written in long and extended descriptors (default: the partition's number, 0). */
  partRef?: number;
  /** Every file entry of a directory's files in one block (default false). */
  packEntries?: boolean;
}

const BLOCK = 2048;
const PART_START = 257;

interface Meta { kind: 'fe' | 'fid'; node: UdfNode; block: number; fids?: Uint8Array[]; packed?: UdfNode[] }

export function buildUdf(root: UdfNode[], layout: UdfLayout = {}): Uint8Array {
  const partRef = layout.partRef ?? 0;
  // Metadata blocks (partition-relative numbers), in the order they are written.
  const metas: Meta[] = [];
  let next = layout.fsd === false ? 0 : 1;
  const feBlock = new Map<UdfNode, number>();
  const dirFids = new Map<UdfNode, number[]>();
  const place = (dir: UdfNode): void => {
    const kids = dir.children ?? [];
    // The identifiers of a directory: its parent first, then its children.
    const count = kids.length + 1;
    const fidBlocks: number[] = [];
    let used = BLOCK;
    for (let i = 0; i < count; i++) {
      const size = fidLen(i === 0 ? '' : kids[i - 1]!.name);
      if (used + size > BLOCK) { fidBlocks.push(next++); used = 0; }
      used += size;
    }
    dirFids.set(dir, fidBlocks);
    for (const b of fidBlocks) metas.push({ kind: 'fid', node: dir, block: b });
    const files = kids.filter((k) => k.data !== undefined);
    if (layout.packEntries && files.length > 0) {
      const b = next++;
      metas.push({ kind: 'fe', node: files[0]!, block: b, packed: files });
      for (const f of files) feBlock.set(f, b);
    }
    for (const k of kids) {
      if (k.data !== undefined) {
        if (!layout.packEntries) {
          const b = next++;
          feBlock.set(k, b);
          metas.push({ kind: 'fe', node: k, block: b });
        }
      } else {
        const b = next++;
        feBlock.set(k, b);
        metas.push({ kind: 'fe', node: k, block: b });
        place(k);
      }
    }
  };
  const top: UdfNode = { name: '', children: root };
  const rootBlock = next++;
  feBlock.set(top, rootBlock);
  metas.push({ kind: 'fe', node: top, block: rootBlock });
  place(top);
  // Data blocks after the metadata.
  const dataBlock = new Map<UdfNode, number>();
  const walk = (n: UdfNode): void => {
    for (const k of n.children ?? []) {
      if (k.data !== undefined) {
        if ((k.ad ?? 'short') !== 'inicb') {
          dataBlock.set(k, next);
          next += Math.max(1, Math.ceil(k.data.length / BLOCK));
        }
      } else walk(k);
    }
  };
  walk(top);
  const partLen = next;
  const total = PART_START + partLen + (layout.trailer === false ? 0 : 1);
  const img = new Uint8Array(total * BLOCK);
  const dv = new DataView(img.buffer);
  const abs = (rel: number): number => (PART_START + rel) * BLOCK;

  const vrs = (block: number, id: string): void => {
    img[block * BLOCK] = 0;
    for (let i = 0; i < 5; i++) img[block * BLOCK + 1 + i] = id.charCodeAt(i);
    img[block * BLOCK + 6] = 1;
  };
  vrs(16, 'BEA01'); vrs(17, 'NSR02'); vrs(18, 'TEA01');
  const vds = layout.lvdFirst === false ? [1, 4, 5, 6, 7, 8] : [1, 4, 6, 5, 7, 8];
  vds.forEach((t, i) => {
    const at = (32 + i) * BLOCK;
    dv.setUint32(at + 16, i + 1, true);
    if (t === 6) dv.setUint32(at + 212, BLOCK, true);
    if (t === 5) {
      dv.setUint16(at + 22, 0, true);
      dv.setUint32(at + 188, PART_START, true);
      dv.setUint32(at + 192, partLen, true);
    }
    tag(img, at, t, 32 + i);
  });
  dv.setUint32(64 * BLOCK + 16, 1, true);
  tag(img, 64 * BLOCK, 9, 64);
  tag(img, 65 * BLOCK, 8, 65);
  const anchor = (block: number): void => {
    dv.setUint32(block * BLOCK + 16, 16 * BLOCK, true);
    dv.setUint32(block * BLOCK + 20, 32, true);
    tag(img, block * BLOCK, 2, block);
  };
  anchor(256);
  if (layout.fsd !== false) {
    const at = abs(0);
    dv.setUint32(at + 400, BLOCK, true);
    dv.setUint32(at + 404, rootBlock, true);
    tag(img, at, 256, 0);
  }

  const fidFor = (parentOf: UdfNode | undefined, node: UdfNode, isParent: boolean): Uint8Array => {
    const name = isParent ? '' : node.name;
    const f = new Uint8Array(fidLen(name));
    const v = new DataView(f.buffer);
    v.setUint16(16, 1, true);
    f[18] = (node.data === undefined ? 2 : 0) | (isParent ? 8 : 0);
    f[19] = name.length === 0 ? 0 : name.length + 1;
    v.setUint32(20, BLOCK, true);
    v.setUint32(24, feBlock.get(isParent ? parentOf ?? node : node) ?? 0, true);
    v.setUint16(28, 0, true);
    if (name.length > 0) {
      f[38] = 8;
      for (let i = 0; i < name.length; i++) f[39 + i] = name.charCodeAt(i) & 0xff;
    }
    return f;
  };
  const parents = new Map<UdfNode, UdfNode>();
  const link = (n: UdfNode): void => { for (const k of n.children ?? []) { parents.set(k, n); link(k); } };
  link(top);

  const writeFe = (at: number, node: UdfNode, rel: number): number => {
    const isDir = node.data === undefined;
    const kind: UdfAd = isDir ? 'short' : node.ad ?? 'short';
    const efe = !!node.efe;
    const fixed = efe ? 216 : 176;
    dv.setUint16(at + 24, 1, true);
    img[at + 27] = isDir ? 4 : 5;
    dv.setUint16(at + 34, kind === 'short' ? 0 : kind === 'long' ? 1 : kind === 'ext' ? 2 : 3, true);
    dv.setUint16(at + 48, 1, true);
    let size: number, location: number;
    if (isDir) {
      const blocks = dirFids.get(node) ?? [];
      size = fidBytes(node);
      location = blocks[0] ?? 0;
    } else {
      size = node.data!.length;
      location = dataBlock.get(node) ?? 0;
    }
    dv.setBigUint64(at + 56, BigInt(size), true);
    const adAt = at + fixed;
    let adLen: number;
    if (kind === 'inicb') {
      const d = node.data!.subarray(0, BLOCK - fixed - (at % BLOCK));
      img.set(d, adAt);
      adLen = d.length;
    } else if (kind === 'short') {
      dv.setUint32(adAt, size, true);
      dv.setUint32(adAt + 4, location, true);
      adLen = 8;
    } else if (kind === 'long') {
      dv.setUint32(adAt, size, true);
      dv.setUint32(adAt + 4, location, true);
      dv.setUint16(adAt + 8, partRef, true);
      adLen = 16;
    } else {
      dv.setUint32(adAt, size, true);
      dv.setUint32(adAt + 4, size, true);
      dv.setUint32(adAt + 8, size, true);
      dv.setUint32(adAt + 12, location, true);
      dv.setUint16(adAt + 16, partRef, true);
      adLen = 20;
    }
    dv.setUint32(at + fixed - 8, 0, true);
    dv.setUint32(at + fixed - 4, adLen, true);
    tag(img, at, efe ? 266 : 261, rel);
    return fixed + adLen;
  };

  for (const m of metas) {
    const at = abs(m.block);
    if (m.kind === 'fe') {
      if (m.packed) {
        let off = 0;
        for (const n of m.packed) off += writeFe(at + off, n, m.block);
      } else writeFe(at, m.node, m.block);
    }
  }
  // Identifier blocks: each directory's identifiers, spilling into its next blocks.
  for (const [dir, blocks] of dirFids) {
    const fids = [fidFor(parents.get(dir), dir, true), ...(dir.children ?? []).map((k) => fidFor(dir, k, false))];
    let bi = 0, used = 0;
    for (const f of fids) {
      if (used + f.length > BLOCK) { bi++; used = 0; }
      const at = abs(blocks[bi]!) + used;
      img.set(f, at);
      tag(img, at, 257, blocks[bi]!);
      used += f.length;
    }
  }
  for (const [node, b] of dataBlock) img.set(node.data!, abs(b));
  if (layout.trailer !== false) anchor(total - 1);
  return img;
}

function fidLen(name: string): number {
  const raw = 38 + (name.length === 0 ? 0 : name.length + 1);
  return Math.ceil(raw / 4) * 4;
}

function fidBytes(dir: UdfNode): number {
  return fidLen('') + (dir.children ?? []).reduce((s, k) => s + fidLen(k.name), 0);
}

/** A descriptor tag: identifier, version 2, checksum over the tag's other bytes, location. */
function tag(img: Uint8Array, at: number, id: number, location: number): void {
  img[at] = id & 0xff;
  img[at + 1] = id >> 8;
  img[at + 2] = 2;
  img[at + 3] = 0;
  new DataView(img.buffer).setUint32(at + 12, location, true);
  let sum = 0;
  for (let i = 0; i < 16; i++) if (i !== 4) sum += img[at + i]!;
  img[at + 4] = sum & 0xff;
}
