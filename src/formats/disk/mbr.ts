/**
 * Master Boot Record partition tables, as ClamAV 1.4 reads them (its `cli_mbr_check2` and
 * `cli_scanmbr`), and what the three partition-table readers share.
 *
 * In: a disk image whose raw scan found the `55 AA` boot signature at 510. Out: first the boot
 * sector (512 bytes, typed again), then each primary partition in table order and, for an extended
 * partition (type 0x05), its chain of logical partitions, each as a child scanned raw (ClamAV types
 * a partition only by the partition magics: HFS+ at 1024), and with `alertPartitionIntersection`
 * `Heuristics.MBRPartitionnIntersect` (ClamAV's spelling) for overlapping entries.
 * A protective (0xEE) or hybrid (0xED) first entry makes the image a GPT: `mbrOrGptMembers` reads it so.
 *
 * Why these checks: ClamAV refuses an image whose size is not a multiple of 512, whose entries have
 * a status other than 0x00/0x80 or reach past the end, or which holds fewer than two sectors; a
 * logical entry past its extended partition ends the listing. MaxPartitions (default 50) counts
 * primary entries (empty ones too) and each extended boot record.
 */
import type { ChildLayer, HeuristicAlert, UnpackContext, UnpackItem } from '../unpack.js';
import { gptMembers } from './gpt.js';

export const SECTOR = 512;
/** ClamAV's default MaxPartitions. */
export const DEFAULT_MAX_PARTITIONS = 50;
const EMPTY = 0x00;
const EXTENDED = 0x05;
const HYBRID = 0xed;
const PROTECTIVE = 0xee;

/** The MaxPartitions limit of a scan. */
export function maxPartitions(ctx: UnpackContext): number {
  const n = ctx.options.maxPartitions;
  return n === undefined || !Number.isFinite(n) || n < 0 ? DEFAULT_MAX_PARTITIONS : Math.floor(n);
}

/**
 * A partition's bytes as ClamAV scans them (`cli_magic_scan_nested_fmap_type` with
 * CL_TYPE_PART_ANY): nothing from an offset at or past the end, a length of 0 meaning "to the end",
 * cut at the end, nothing of 5 bytes or fewer. Typed HFS+ when the partition magic says so.
 */
export function partitionChild(bytes: Uint8Array, offset: number, length: number, name: string): ChildLayer | undefined {
  if (!(offset >= 0) || offset >= bytes.length) return undefined;
  let len = length;
  if (len === 0 || len > bytes.length - offset) len = bytes.length - offset;
  if (len <= 5) return undefined;
  const data = bytes.subarray(offset, offset + len);
  return { name, data, type: isHfsPlus(data) ? 'CL_TYPE_PART_HFSPLUS' : 'CL_TYPE_PART_ANY' };
}

/** ClamAV's partition magics (`H+` version 4, `HX` version 5 at 1024), looked for in the first 1028 bytes. */
function isHfsPlus(d: Uint8Array): boolean {
  if (d.length < 1028) return false;
  const a = d[1024], b = d[1025], c = d[1026], v = d[1027];
  return c === 0 && ((a === 0x48 && b === 0x2b && v === 4) || (a === 0x48 && b === 0x58 && v === 5));
}

/**
 * ClamAV's partition intersection list: each range is checked against every range added before it
 * (same start always intersects, even empty ones), then added.
 */
export class IntersectionList {
  private readonly starts: number[] = [];
  private readonly sizes: number[] = [];
  /** True when [start, start+size) meets a range added before. */
  check(start: number, size: number): boolean {
    let hit = false;
    for (let i = this.starts.length - 1; i >= 0 && !hit; i--) {
      const s = this.starts[i]!, z = this.sizes[i]!;
      if (start > s) hit = s + z > start;
      else if (start < s) hit = start + size > s;
      else hit = true;
    }
    this.starts.push(start);
    this.sizes.push(size);
    return hit;
  }
}

interface Entry { status: number; type: number; first: number; count: number }

/** The four entries and signature of the boot record whose table starts at `pos`; undefined past the end. */
function readRecord(b: Uint8Array, pos: number): { entries: Entry[]; signature: boolean } | undefined {
  if (pos < 0 || pos + 66 > b.length) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset + pos, 66);
  const entries: Entry[] = [];
  for (let i = 0; i < 4; i++) {
    const o = i * 16;
    entries.push({ status: dv.getUint8(o), type: dv.getUint8(o + 4), first: dv.getUint32(o + 8, true), count: dv.getUint32(o + 12, true) });
  }
  return { entries, signature: b[pos + 64] === 0x55 && b[pos + 65] === 0xaa };
}

/** ClamAV's `mbr_check_mbr`. */
function mbrValid(rec: { entries: Entry[]; signature: boolean }, mapLen: number): boolean {
  for (const e of rec.entries) {
    if (e.status !== 0x00 && e.status !== 0x80) return false;
    if (e.first * SECTOR + e.count * SECTOR > mapLen) return false;
  }
  return rec.signature && Math.floor(mapLen / SECTOR) >= 2;
}

/** What `cli_mbr_check2` says of a layer: a GPT (protective or hybrid first entry), a valid MBR, or neither. */
export function mbrCheck(bytes: Uint8Array): 'gpt' | 'mbr' | undefined {
  if (bytes.length % SECTOR !== 0) return undefined;
  const rec = readRecord(bytes, SECTOR - 66);
  if (!rec) return undefined;
  const t = rec.entries[0]!.type;
  if (t === PROTECTIVE || t === HYBRID) return 'gpt';
  return mbrValid(rec, bytes.length) ? 'mbr' : undefined;
}

/** The raw scan's MBR branch: a GPT when the check says so, else the MBR, else nothing. */
export function* mbrOrGptMembers(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  const kind = mbrCheck(bytes);
  if (kind === 'gpt') yield* gptMembers(bytes, ctx);
  else if (kind === 'mbr') yield* mbrMembers(bytes, ctx);
}

/** ClamAV's `cli_scanmbr` (sector size 512). */
export function* mbrMembers(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  if (bytes.length % SECTOR !== 0) return;
  const rec = readRecord(bytes, SECTOR - 66);
  if (!rec || !mbrValid(rec, bytes.length)) return;
  const boot = partitionChild(bytes, 0, SECTOR, 'mbr-boot');
  if (boot) yield { name: boot.name, data: boot.data };
  const max = maxPartitions(ctx);
  // An extended boot record the check cannot read ends the whole listing (ClamAV returns its error).
  if (ctx.options.alertPartitionIntersection && !(yield* primaryIntersections(bytes, rec.entries, max))) return;
  const count = { n: 0 };
  for (let i = 0; i < 4 && count.n < max; i++) {
    const e = rec.entries[i]!;
    if (e.type === EMPTY) count.n++;
    else if (e.type === EXTENDED) {
      if (!(yield* logicalPartitions(bytes, e.first, e.count, count, max))) return;
    } else {
      count.n++;
      const c = partitionChild(bytes, e.first * SECTOR, e.count * SECTOR, `partition${i + 1}`);
      if (c) yield c;
    }
  }
}

const enum Seen { Nothing, Partition, Extended, Empty }

/** ClamAV's `mbr_scanextprtn`: false when it ended on damage (which ends the whole listing). */
function* logicalPartitions(b: Uint8Array, extLba: number, extCount: number, count: { n: number }, max: number): Generator<UnpackItem, boolean> {
  const extEnd = (extLba + extCount) * SECTOR;
  let logic = 0, k = 0;
  // Each record costs a partition, so the chain ends by MaxPartitions even when it loops.
  do {
    const rec = readRecord(b, (extLba + logic) * SECTOR + SECTOR - 66);
    if (!rec) return false;
    for (let i = 0; i < 2; i++) if (rec.entries[i]!.status !== 0 && rec.entries[i]!.status !== 0x80) return false;
    if (!rec.signature) return false;
    let state = Seen.Nothing;
    count.n++;
    for (let j = 0; j < 4; j++) {
      const e = rec.entries[j]!;
      if (j >= 2) {
        if (e.type !== EMPTY) return false;
        continue;
      }
      if (e.type === EMPTY) {
        if (state === Seen.Nothing) state = Seen.Empty;
        else if (state === Seen.Partition || state === Seen.Empty) logic = 0;
      } else if (e.type === EXTENDED) {
        if (state === Seen.Nothing) state = Seen.Extended;
        else if (state === Seen.Extended) return false;
        logic = e.first;
      } else {
        if (state === Seen.Nothing) state = Seen.Partition;
        else if (state === Seen.Partition || state === Seen.Empty) logic = 0;
        const off = (extLba + logic + e.first) * SECTOR;
        const size = e.count * SECTOR;
        if (off + size > extEnd) return false;
        const c = partitionChild(b, off, size, `logical${++k}`);
        if (c) yield c;
      }
    }
  } while (logic !== 0 && count.n < max);
  return true;
}

const MBR_INTERSECT = 'Heuristics.MBRPartitionnIntersect';

/** ClamAV's `mbr_primary_partition_intersection`, logical partitions included. */
function* primaryIntersections(b: Uint8Array, entries: Entry[], max: number): Generator<HeuristicAlert, boolean> {
  const list = new IntersectionList();
  const count = { n: 0 };
  for (let i = 0; i < 4 && count.n < max; i++) {
    const e = entries[i]!;
    if (e.type === EMPTY) { count.n++; continue; }
    if (list.check(e.first, e.count)) yield { alert: MBR_INTERSECT };
    if (e.type === EXTENDED) {
      if (!(yield* logicalIntersections(b, e.first, count, max))) return false;
    } else count.n++;
  }
  return true;
}

/** ClamAV's `mbr_extended_partition_intersection`: false when a record could not be read. */
function* logicalIntersections(b: Uint8Array, extLba: number, count: { n: number }, max: number): Generator<HeuristicAlert, boolean> {
  const list = new IntersectionList();
  let logic = 0;
  do {
    const rec = readRecord(b, (extLba + logic) * SECTOR + SECTOR - 66);
    if (!rec) return false;
    count.n++;
    if (list.check(logic, rec.entries[0]!.count)) yield { alert: MBR_INTERSECT };
    if (rec.entries[1]!.type !== EXTENDED) break;
    logic = rec.entries[1]!.first;
  } while (logic !== 0 && count.n < max);
  return true;
}
