/**
 * GUID Partition Tables, as ClamAV 1.4 reads them (its `cli_scangpt`).
 *
 * In: a disk image typed GPT (`EFI PART` at 512) or whose protective MBR the raw scan found. Out:
 * each partition of the table in entry order, as a child scanned raw (typed only by the partition
 * magics), and with `alertPartitionIntersection` `Heuristics.GPTPartitionIntersection` for
 * overlapping entries of the primary and of the backup table.
 *
 * Why these checks: the sector size is the first of 512, 1024, 2048, 4096 where the header
 * signature sits, and the image must be a multiple of it. A header counts when its CRC-32 (over 92
 * bytes), signature, size, reserved field, its own and its backup's LBA, the usable range and the
 * entry array (placed outside the usable range, 128-byte entries, CRC-32 matching) all check out.
 * The primary table is read when its header is valid, else the backup's; both are read when both
 * headers are valid and their table CRCs differ. Entries starting at LBA 0, out of the usable range
 * or past the end are passed over; an entry that cannot be read ends the listing. At most
 * MaxPartitions entries (default 50) are looked at.
 */
import { crc32 } from '../../core/crc32.js';
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { IntersectionList, maxPartitions, partitionChild } from './mbr.js';

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const HEADER_SIZE = 92;
const ENTRY_SIZE = 128;
const SIGNATURE = 0x4546492050415254n;

interface Header {
  raw: Uint8Array;
  signature: bigint; headerSize: number; crc: number; reserved: number;
  current: bigint; backup: bigint; firstUsable: bigint; lastUsable: bigint;
  tableStart: bigint; entries: number; entrySize: number; tableCrc: number;
}

function readHeader(b: Uint8Array, pos: number): Header | undefined {
  if (pos < 0 || pos + HEADER_SIZE > b.length) return undefined;
  const raw = b.subarray(pos, pos + HEADER_SIZE);
  const dv = new DataView(raw.buffer, raw.byteOffset, HEADER_SIZE);
  return {
    raw, signature: dv.getBigUint64(0, false), headerSize: dv.getUint32(12, true), crc: dv.getUint32(16, true), reserved: dv.getUint32(20, true),
    current: dv.getBigUint64(24, true), backup: dv.getBigUint64(32, true), firstUsable: dv.getBigUint64(40, true), lastUsable: dv.getBigUint64(48, true),
    tableStart: dv.getBigUint64(72, true), entries: dv.getUint32(80, true), entrySize: dv.getUint32(84, true), tableCrc: dv.getUint32(88, true),
  };
}

/** ClamAV's `gpt_detect_size`: 0 when no header signature is found (or the image ends first). */
export function gptSectorSize(b: Uint8Array): number {
  for (const ss of [512, 1024, 2048, 4096]) {
    if (ss + 8 > b.length) return 0;
    if (b[ss] === 0x45 && b[ss + 1] === 0x46 && b[ss + 2] === 0x49 && b[ss + 3] === 0x20 && b[ss + 4] === 0x50 && b[ss + 5] === 0x41 && b[ss + 6] === 0x52 && b[ss + 7] === 0x54) return ss;
  }
  return 0;
}

/** ClamAV's `gpt_validate_header`. */
function validHeader(b: Uint8Array, h: Header, ss: number): boolean {
  const copy = Uint8Array.from(h.raw);
  copy.fill(0, 16, 20);
  if ((crc32(copy) >>> 0) !== h.crc) return false;
  const mapLen = BigInt(b.length), s = BigInt(ss);
  const tableStartByte = U64(h.tableStart * s);
  const tableLen = BigInt(Math.imul(h.entries, h.entrySize) >>> 0);
  const tableLast = U64(h.tableStart + tableLen / s - 1n);
  const last = mapLen / s - 1n;
  if (h.signature !== SIGNATURE || h.headerSize !== HEADER_SIZE || h.reserved !== 0) return false;
  if (!((h.current === 1n && h.backup === last) || (h.current === last && h.backup === 1n))) return false;
  if (h.firstUsable > h.lastUsable) return false;
  if (h.firstUsable <= 1n || h.lastUsable >= last) return false;
  if ((h.tableStart <= h.firstUsable && tableLast >= h.firstUsable) || (h.tableStart >= h.firstUsable && h.tableStart <= h.lastUsable)) return false;
  if (h.tableStart <= 1n || tableLast >= last) return false;
  if (h.entrySize !== ENTRY_SIZE) return false;
  if (U64(tableStartByte + tableLen) > mapLen) return false;
  const start = Number(tableStartByte);
  return (crc32(b.subarray(start, start + Number(tableLen))) >>> 0) === h.tableCrc;
}

interface Entry { first: bigint; last: bigint; name: string }

function readEntry(b: Uint8Array, pos: bigint): Entry | undefined {
  if (pos + BigInt(ENTRY_SIZE) > BigInt(b.length)) return undefined;
  const p = Number(pos);
  const dv = new DataView(b.buffer, b.byteOffset + p, ENTRY_SIZE);
  let name = '';
  for (let i = 56; i < ENTRY_SIZE; i += 2) {
    const c = dv.getUint16(i, true);
    if (c === 0) break;
    name += c < 0x80 ? String.fromCharCode(c) : '_';
  }
  return { first: dv.getBigUint64(32, true), last: dv.getBigUint64(40, true), name };
}

/** Whether an entry describes a partition ClamAV scans. */
function usable(e: Entry, h: Header, ss: bigint, mapLen: bigint): boolean {
  if (e.first === 0n) return false;
  if (e.first > e.last || e.first < h.firstUsable || e.last > h.lastUsable) return false;
  return U64((e.last + 1n) * ss) <= mapLen;
}

/** ClamAV's `cli_scangpt` with the sector size detected. */
export function* gptMembers(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  const ss = gptSectorSize(bytes);
  if (ss === 0 || bytes.length % ss !== 0) return;
  // ClamAV only warns about a protective MBR that is not one.
  const primary = readHeader(bytes, ss);
  if (!primary) return;
  const secondary = readHeader(bytes, bytes.length - ss);
  let tables: Header[];
  if (!validHeader(bytes, primary, ss)) {
    if (!secondary || !validHeader(bytes, secondary, ss)) return;
    tables = [secondary];
  } else if (secondary && validHeader(bytes, secondary, ss) && primary.tableCrc !== secondary.tableCrc) {
    tables = [primary, secondary];
  } else {
    tables = [primary];
  }
  const max = maxPartitions(ctx);
  if (ctx.options.alertPartitionIntersection) {
    for (const h of [primary, secondary]) {
      if (!h) return;
      if (!(yield* intersections(bytes, h, ss, max))) return;
    }
  }
  const s = BigInt(ss), mapLen = BigInt(bytes.length);
  for (const h of tables) {
    const n = Math.min(h.entries, max);
    let pos = U64(h.tableStart * s);
    for (let i = 0; i < n; i++) {
      const e = readEntry(bytes, pos);
      if (!e) return;
      if (usable(e, h, s, mapLen)) {
        const c = partitionChild(bytes, Number(e.first * s), Number((e.last - e.first + 1n) * s), e.name || `gpt${i + 1}`);
        if (c) yield c;
      }
      pos = U64(pos + BigInt(h.entrySize));
    }
  }
}

/** ClamAV's `gpt_partition_intersection` over one header's entries (not validated): false when an entry cannot be read. */
function* intersections(b: Uint8Array, h: Header, ss: number, max: number): Generator<UnpackItem, boolean> {
  const list = new IntersectionList();
  const s = BigInt(ss), mapLen = BigInt(b.length);
  const n = Math.min(h.entries, max);
  let pos = U64(h.tableStart * s);
  for (let i = 0; i < n; i++) {
    const e = readEntry(b, pos);
    if (!e) return false;
    if (usable(e, h, s, mapLen) && list.check(Number(e.first), Number(e.last - e.first + 1n))) yield { alert: 'Heuristics.GPTPartitionIntersection' };
    pos = U64(pos + BigInt(h.entrySize));
  }
  return true;
}
