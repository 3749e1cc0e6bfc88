/**
 * A writer of Apple Partition Map images, for tests (no tool on Linux writes them without root).
 *
 * In: the partitions (start and length in blocks, type, name, contents) and the block size. Out: an
 * image with the driver descriptor map in block 0, the map's own entry in block 1 and one entry per
 * partition after it, each partition's contents at its start.
 */

export interface ApmPartition {
  start: number;
  blocks: number;
  type: string;
  name?: string;
  data?: Uint8Array;
}

export interface ApmOptions {
  /** Block size of the descriptor map and entries (default 512). */
  blockSize?: number;
  /** Total blocks of the image (default: just past the last partition). */
  totalBlocks?: number;
  /** The count every entry declares (default: the map's entry plus the partitions). */
  declaredCount?: number;
  /** The map entry's type (default `Apple_partition_map`). */
  mapType?: string;
}

export function buildApm(parts: readonly ApmPartition[], opts: ApmOptions = {}): Uint8Array {
  const bs = opts.blockSize ?? 512;
  const mapBlocks = Math.max(parts.length + 1, 1);
  const end = parts.reduce((m, p) => Math.max(m, p.start + p.blocks), 1 + mapBlocks);
  const total = opts.totalBlocks ?? end;
  const img = new Uint8Array(total * bs);
  const dv = new DataView(img.buffer);
  dv.setUint16(0, 0x4552, false);
  dv.setUint16(2, bs, false);
  dv.setUint32(4, total, false);
  const count = opts.declaredCount ?? parts.length + 1;
  const entry = (i: number, start: number, blocks: number, type: string, name: string): void => {
    const at = i * bs;
    if (at + 136 > img.length) return;
    dv.setUint16(at, 0x504d, false);
    dv.setUint32(at + 4, count, false);
    dv.setUint32(at + 8, start, false);
    dv.setUint32(at + 12, blocks, false);
    for (let k = 0; k < Math.min(32, name.length); k++) img[at + 16 + k] = name.charCodeAt(k) & 0xff;
    for (let k = 0; k < Math.min(32, type.length); k++) img[at + 48 + k] = type.charCodeAt(k) & 0xff;
  };
  entry(1, 1, mapBlocks, opts.mapType ?? 'Apple_partition_map', 'Apple');
  parts.forEach((p, i) => {
    entry(i + 2, p.start, p.blocks, p.type, p.name ?? `part${i + 1}`);
    if (p.data) {
      const at = p.start * bs;
      if (at < img.length) img.set(p.data.subarray(0, Math.max(0, Math.min(p.data.length, img.length - at, p.blocks * bs))), at);
    }
  });
  return img;
}
