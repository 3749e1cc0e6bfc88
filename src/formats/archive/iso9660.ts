/**
 * ISO 9660 images (with Joliet) → the files ClamAV scans inside them, read as ClamAV 1.4 does.
 *
 * In: the bytes of a layer and the offset where ClamAV's type signature found the primary volume
 * descriptor (`01 CD001`, normally 32768). Out: the files of the directory tree, lazily, named by
 * their path in the image (`DIR/FILE.TXT`, version `;1` removed); first the tree of the primary
 * descriptor, then, when a Joliet supplementary descriptor is present, the same files again
 * through the Joliet tree (UTF-16 names). Never throws.
 *
 * Why these rules: they are ClamAV's. The sector size is the distance to the next `CD001`; the
 * logical block size must be 512, 1024 or 2048. Path tables are not used: directories are walked
 * from the root record. Records are read within each block (a record running past the block ends
 * the directory, a zero length skips to the next block, "." and ".." are skipped), interleaved
 * files are skipped, multi-extent files are read extent by extent as separate files, a directory
 * block already seen is not read again, and more than 1024 directory blocks end the scan. A file
 * or directory reaching past the end of the image ends the walk of that tree (the Joliet tree is
 * still read). A file over the file-size limit is reported, not read. Files are views of the
 * input (copied only when a block size below the sector size makes them discontiguous).
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';

const MAX_DIR_BLOCKS = 1024;

interface Iso {
  bytes: Uint8Array;
  base: number;
  blockSize: number;
  sectorSize: number;
  joliet: boolean;
  seen: Set<number>;
  ctx: UnpackContext;
}

const u32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** Byte offset of logical block `block`, or undefined when the whole block is not in the data. */
function blockAt(iso: Iso, block: number): number | undefined {
  const perSector = Math.floor(2048 / iso.blockSize);
  if (block > Math.floor((iso.bytes.length - iso.base) / iso.sectorSize) * perSector) return undefined;
  const off = iso.base + Math.floor(block / perSector) * iso.sectorSize + (block % perSector) * iso.blockSize;
  return off + iso.blockSize <= iso.bytes.length ? off : undefined;
}

function recordName(iso: Iso, b: Uint8Array, at: number, len: number): string {
  let s = '';
  if (iso.joliet) {
    const n = Math.min(len, 258) & ~1;
    for (let i = 0; i < n; i += 2) {
      const c = (b[at + i]! << 8) | b[at + i + 1]!;
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
  } else {
    for (let i = 0; i < len; i++) {
      const c = b[at + i]!;
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
  }
  const semi = s.indexOf(';');
  return semi >= 0 ? s.slice(0, semi) : s;
}

type Walk = 'ok' | 'damaged' | 'break';

/** Walks one directory extent, yielding its files (subdirectories depth first); returns why it stopped. */
function* walkDir(iso: Iso, block: number, len: number, path: string): Generator<UnpackItem, Walk> {
  if (len < 34) return 'ok';
  const bs = iso.blockSize;
  for (; len > 0; block = (block + 1) >>> 0, len -= Math.min(len, bs)) {
    if (iso.seen.size > MAX_DIR_BLOCKS) return 'break';
    if (iso.seen.has(block)) continue;
    iso.seen.add(block);
    const at = blockAt(iso, block);
    if (at === undefined) return 'ok';
    const b = iso.bytes;
    let p = at;
    let room = Math.min(bs, len);
    for (;;) {
      const size = b[p]!;
      if (room === 0 || size === 0) break;
      if (size > room) { len = 0; break; }
      if (size < 34) { room -= size; p += size; continue; }
      let nameLen = b[p + 32]!;
      if (nameLen === 1 && (b[p + 33] === 0 || b[p + 33] === 1)) { room -= size; p += size; continue; }
      if (nameLen + 33 > room) nameLen = room - 33;
      const name = recordName(iso, b, p + 33, nameLen);
      const start = (u32(b, p + 2) + b[p + 1]!) >>> 0;
      const fileLen = u32(b, p + 10);
      const flags = b[p + 25]!;
      const full = path ? `${path}/${name}` : name;
      if (b[p + 26] === 0 && b[p + 27] === 0) {
        if (flags & 2) {
          const r = yield* walkDir(iso, start, fileLen, full);
          if (r !== 'ok') return r;
        } else if (iso.ctx.limits.maxFileSize > 0 && fileLen > iso.ctx.limits.maxFileSize) {
          yield { name: full, limit: 'MaxFileSize', size: fileLen };
        } else {
          const data = readFile(iso, start, fileLen);
          if (!data) return 'damaged';
          yield { name: full, data };
        }
      }
      room -= size;
      p += size;
    }
  }
  return 'ok';
}

/** The `len` bytes of a file from `block` on; undefined when a block is outside the image. */
function readFile(iso: Iso, block: number, len: number): Uint8Array | undefined {
  if (len === 0) return new Uint8Array(0);
  const bs = iso.blockSize;
  const blocks = Math.ceil(len / bs);
  const first = blockAt(iso, block);
  const last = blockAt(iso, block + blocks - 1);
  if (first === undefined || last === undefined) return undefined;
  // Blocks fill their sectors: the file is one run of bytes.
  if (Math.floor(2048 / bs) * bs === iso.sectorSize) return iso.bytes.subarray(first, first + len);
  for (let i = 1; i < blocks - 1; i++) if (blockAt(iso, block + i) === undefined) return undefined;
  const out = new Uint8Array(len);
  for (let i = 0, done = 0; done < len; i++) {
    const at = blockAt(iso, block + i)!;
    const n = Math.min(bs, len - done);
    out.set(iso.bytes.subarray(at, at + n), done);
    done += n;
  }
  return out;
}

/** The files of the ISO 9660 image whose primary volume descriptor starts at `offset`. */
export function* isoMembers(bytes: Uint8Array, offset: number, ctx: UnpackContext): Generator<UnpackItem> {
  if (offset < 32768 || offset + 2454 > bytes.length) return;
  // The next descriptor's `CD001` gives the raw sector size.
  let next = -1;
  for (let i = offset + 2049; i + 5 <= offset + 2454; i++) {
    if (bytes[i] === 0x43 && bytes[i + 1] === 0x44 && bytes[i + 2] === 0x30 && bytes[i + 3] === 0x30 && bytes[i + 4] === 0x31) { next = i; break; }
  }
  if (next < 0) return;
  const sectorSize = next - offset - 1;
  if (sectorSize * 16 > offset) return;
  const blockSize = bytes[offset + 128]! | (bytes[offset + 129]! << 8);
  if (blockSize !== 512 && blockSize !== 1024 && blockSize !== 2048) return;
  const base = offset - sectorSize * 16;
  let joliet = -1;
  for (let i = 16; i < 32; i++) {
    const d = base + i * sectorSize;
    if (d + 2048 > bytes.length) break;
    if (bytes[d] === 0xff || bytes[d + 1] !== 0x43 || bytes[d + 2] !== 0x44 || bytes[d + 3] !== 0x30 || bytes[d + 4] !== 0x30 || bytes[d + 5] !== 0x31) break;
    if (bytes[d] !== 2) continue;
    if (bytes[d + 88] !== 0x25 || bytes[d + 89] !== 0x2f) continue;
    if (bytes[d + 156 + 26] || bytes[d + 156 + 27]) continue;
    const level = bytes[d + 90];
    if (level !== 0x40 && level !== 0x43 && level !== 0x45) continue;
    joliet = d;
    break;
  }
  const trees: [number, boolean][] = [[offset, false]];
  if (joliet >= 0) trees.push([joliet, true]);
  for (const [vd, isJoliet] of trees) {
    // The volume block size always comes from the primary descriptor.
    if (bytes[vd + 156 + 26] || bytes[vd + 156 + 27]) return;
    const iso: Iso = { bytes, base, blockSize, sectorSize, joliet: isJoliet, seen: new Set(), ctx };
    const root = (u32(bytes, vd + 156 + 2) + bytes[vd + 156 + 1]!) >>> 0;
    const r = yield* walkDir(iso, root, u32(bytes, vd + 156 + 10), '');
    if (r === 'break') return;
  }
}
