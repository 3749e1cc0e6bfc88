/**
 * Apple Partition Maps, as ClamAV 1.4 reads them (its `cli_scanapm`).
 *
 * In: a disk image typed APM (driver descriptor `ER` at 0 and a map entry `PM` at 512). Out: each
 * partition of the map from entry 2 on, as a child scanned raw (typed only by the partition magics:
 * an HFS+ volume is typed so), and with `alertPartitionIntersection`
 * `Heuristics.APMPartitionIntersection` for overlapping entries (the map's own entry included).
 *
 * Why these checks: ClamAV takes the sector size from the driver descriptor, whose block size times
 * block count (32-bit) must be the image's size; a 2048-byte descriptor followed by a map entry at
 * 512 is an "old-school" map of 512-byte entries, whose driver partitions at every fourth entry
 * count 2048-byte blocks. The first entry must be the partition map itself. Entries describing the
 * map again are passed over, as are those at offset 0 or reaching past the end; an entry that
 * cannot be read ends the listing. The map's entry count is trusted up to MaxPartitions (50).
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { IntersectionList, maxPartitions, partitionChild } from './mbr.js';

const DDM_SIZE = 82;
const ENTRY_SIZE = 136;
const MAP_TYPES = ['Apple_Partition_Map', 'Apple_partition_map', 'Apple_patition_map'];
const DRIVER_TYPES = ['Apple_Driver', 'Apple_Driver43', 'Apple_Driver43_CD', 'Apple_Driver_ATA', 'Apple_Driver_ATAPI', 'Apple_Patches'];

interface Entry { signature: number; count: number; start: number; blocks: number; name: string; type: Uint8Array }

function readEntry(b: Uint8Array, pos: number): Entry | undefined {
  if (!(pos >= 0) || pos + ENTRY_SIZE > b.length) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset + pos, ENTRY_SIZE);
  return {
    signature: dv.getUint16(0, false), count: dv.getUint32(4, false), start: dv.getUint32(8, false), blocks: dv.getUint32(12, false),
    name: cString(b.subarray(pos + 16, pos + 48)), type: b.subarray(pos + 48, pos + 80),
  };
}

function cString(field: Uint8Array): string {
  let s = '';
  for (let i = 0; i < field.length && field[i] !== 0; i++) s += String.fromCharCode(field[i]!);
  return s;
}

/** `strncmp(type, name, 32) == 0`: the field's C string is exactly `name`. */
function typeIs(type: Uint8Array, names: readonly string[]): boolean {
  return names.some((n) => {
    for (let i = 0; i < n.length; i++) if (type[i] !== n.charCodeAt(i)) return false;
    return n.length >= type.length || type[n.length] === 0;
  });
}

export function* apmMembers(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  if (bytes.length < DDM_SIZE) return;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, DDM_SIZE);
  if (dv.getUint16(0, false) !== 0x4552) return;
  const blockSize = dv.getUint16(2, false), blockCount = dv.getUint32(4, false);
  if ((Math.imul(blockSize, blockCount) >>> 0) !== bytes.length) return;
  let ss = blockSize;
  let oldSchool = false;
  if (ss === 2048) {
    const e = readEntry(bytes, 512);
    if (!e) return;
    if (e.signature === 0x504d) { ss = 512; oldSchool = true; }
  }
  const map = readEntry(bytes, ss);
  if (!map || map.signature !== 0x504d || !typeIs(map.type, MAP_TYPES)) return;
  const max = Math.min(map.count, maxPartitions(ctx));
  if (ctx.options.alertPartitionIntersection) {
    const list = new IntersectionList();
    for (let i = 1; i <= max; i++) {
      const e = readEntry(bytes, i * ss);
      if (!e) return;
      let blocks = e.blocks;
      if (oldSchool && i % 4 === 0 && typeIs(e.type, DRIVER_TYPES)) blocks = (blocks * 4) >>> 0;
      if (list.check(e.start, blocks)) yield { alert: 'Heuristics.APMPartitionIntersection' };
    }
  }
  for (let i = 2; i <= max; i++) {
    const e = readEntry(bytes, i * ss);
    if (!e) return;
    if (typeIs(e.type, MAP_TYPES)) continue;
    const off = e.start * ss;
    let size = e.blocks * ss;
    if (oldSchool && i % 4 === 0 && typeIs(e.type, DRIVER_TYPES)) size = Number((BigInt(e.blocks) * 2048n) & 0xffffffffn);
    if (off === 0 || off + size > bytes.length) continue;
    const c = partitionChild(bytes, off, size, e.name || `apm${i}`);
    if (c) yield c;
  }
}
