/**
 * OLE2 compound files (Word, Excel, PowerPoint 97-2003, MSI, `vbaProject.bin`…) → their streams,
 * VBA project listings and embedded OLE1 objects, as ClamAV 1.4 scans them.
 *
 * In: the bytes of a CL_TYPE_MSOLE2 layer. Out, lazily, in ClamAV's order:
 * - with no VBA or Excel 4 macros (the usual case), each stream, named by its storage path
 *   (`Macros/VBA/Module1`); a stream that is zlib data after a 4-byte size (an "MSO" stream) is
 *   inflated and the result given instead;
 * - when a stream named `_VBA_PROJECT`, `PowerPoint Document`, `WordDocument` or `\x01Ole10Native`
 *   exists, or a `Workbook` holds an Excel 4 macro sheet or a drawing, ClamAV writes every stream
 *   out and scans the storages one by one: the contents of OLE1 native streams, the VBA project
 *   listing of each `dir` stream (typed `CL_TYPE_SCRIPT`, with `Heuristics.OLE2.ContainsMacros.VBA`
 *   when macros alerts are asked for), then every stream of the storage and those below it (so a
 *   stream in a sub-storage is given once per storage above it, as ClamAV scans it).
 *
 * Why ClamAV's model rather than MS-CFB's: ClamAV reads every FAT, DIFAT, mini FAT and directory
 * sector as 512 bytes whatever the sector size (in 4096-byte files only the first 128 FAT entries
 * and 4 directory entries of a sector are seen, and the directory index steps through the chain
 * 4 entries per sector), bounds block numbers by the file length divided by the mini sector size,
 * reads a block cut by the end of the file as zeros, walks the directory tree from the root with
 * its own stack (left and right siblings pushed, the child walked first), stops the whole walk at
 * an entry seen twice, and ends a stream at a block seen twice. Chains are followed through
 * memoised lists, so that loops and long chains cost linear time. Never throws.
 *
 * Also, in that written-out case and before the `dir` listings: ClamAV's older readers (see
 * `vba-legacy.ts`) give module code from the `_VBA_PROJECT` table and Word 6 macros, both typed
 * `CL_TYPE_MSOLE2` (ClamAV scans them raw with the OLE2 target), and PowerPoint's compressed
 * storages as files.
 *
 * HWP 5 documents (a `FileHeader` stream saying so) have their body, script and binary streams
 * inflated (raw deflate) before scanning, unless the header says they are password-protected.
 *
 * Limits: a stream longer than MaxFileSize is reported as limited (its bytes are not kept past
 * the limit); inflated MSO and HWP streams are cut at the limit and scanned, as ClamAV checks the
 * limit while inflating; storages nested past the recursion limit end the walk with MaxRecursion
 * (ClamAV's walk returns CL_EMAXREC, in the first pass too); a heuristic is given once per file.
 * Which streams ClamAV scans first when it writes them out depends on the order its temporary
 * directory lists them (ext4's hash order); here it is the order of the directory walk.
 *
 * Excel 4 macros and drawings (see `xlm.ts`): in that written-out case, after the VBA listings,
 * each `Workbook` stream's record listing is given (typed `CL_TYPE_SCRIPT`, as ClamAV scans it),
 * then the images of its drawing group; `Heuristics.OLE2.ContainsMacros.XLM` comes before them
 * when macro alerts are asked for. ClamAV's scan of the written-out files stops for good (no
 * more streams, no more storages) when the file's first workbook fails to extract, and when a
 * limit refuses a written-out stream (the engine's refusal, or one over MaxFileSize).
 *
 * Not done (ClamAV does it): files encrypted with the default Excel password.
 */
import type { ClType } from '../cltypes.js';
import { CHILD_REFUSED, type UnpackContext, type UnpackItem } from '../unpack.js';
import { DEFAULT_LIMITS } from '../../core/limits.js';
import { ole10Contents } from './ole10.js';
import { inflateLikeClamav } from './inflate.js';
import { hwpInflate } from './hwp-inflate.js';
import { clamVbaInflate, ole2LowerName, readVbaDir } from './vba.js';
import { legacyVbaModules, pptStorages, wordMacros } from './vba-legacy.js';
import { xlmImages, xlmListing } from './xlm.js';

const MAGIC = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
const HEADER = 512;
const INT32_MAX = 0x7fffffff;
const ENTRY = 128;
const NONE = -1;

const i32 = (b: Uint8Array, p: number): number => (b[p] ?? 0) | ((b[p + 1] ?? 0) << 8) | ((b[p + 2] ?? 0) << 16) | ((b[p + 3] ?? 0) << 24);
const u16 = (b: Uint8Array, p: number): number => (b[p] ?? 0) | ((b[p + 1] ?? 0) << 8);

/** A block as ClamAV reads it: the bytes present (a block cut by the end of the file reads as zeros after them). */
type Block = Uint8Array;

/** A chain of block numbers from one start, extended on demand (each next block depends only on the one before). */
class Chain {
  private readonly list: number[];
  constructor(start: number, private readonly next: (b: number) => number) { this.list = [start]; }
  at(k: number): number {
    const list = this.list;
    while (list.length <= k) {
      const last = list[list.length - 1]!;
      if (last < 0) return NONE;
      list.push(this.next(last));
    }
    return list[k]!;
  }
}

export class Ole2Reader {
  readonly ok: boolean;
  readonly big: number;
  readonly small: number;
  private readonly batCount: number;
  readonly propStart: number;
  readonly sbatCutoff: number;
  private readonly sbatStart: number;
  private readonly xbatStart: number;
  /** ClamAV's highest block (and directory entry) number, as the signed value it compares with. */
  readonly maxBlockNo: number;
  sbatRootStart = NONE;
  private readonly chains = new Map<string, Chain>();
  private readonly xbatBlocks: (number | undefined)[] = [];

  constructor(readonly bytes: Uint8Array) {
    const b = bytes;
    this.big = u16(b, 30);
    this.small = i32(b, 32) >>> 0;
    this.batCount = i32(b, 44);
    this.propStart = i32(b, 48);
    this.sbatCutoff = i32(b, 56) >>> 0;
    this.sbatStart = i32(b, 60);
    this.xbatStart = i32(b, 68);
    this.ok = b.length >= HEADER && MAGIC.every((m, k) => b[k] === m) && this.big >= 6 && this.big <= 28
      && this.small !== 0 && this.small <= this.big && b.length <= INT32_MAX;
    // (len - max(512, sector)) / mini sector, computed in size_t and kept as uint32, compared as int32.
    const first = BigInt(Math.max(HEADER, 2 ** Math.min(this.big, 28)));
    const wide = ((BigInt(b.length) - first) & ((1n << 64n) - 1n)) / (1n << BigInt(Math.min(this.small, 63)));
    this.maxBlockNo = this.ok ? Number(BigInt.asIntN(32, wide)) : -1;
  }

  /** Block `n` of `size` bytes, or undefined where ClamAV's read fails. */
  readBlock(n: number, size: number): Block | undefined {
    if (n < 0) return undefined;
    const len = this.bytes.length;
    const first = Math.max(HEADER, 2 ** this.big);
    let offset: number, end: number;
    if (n * 2 ** this.big < INT32_MAX - first) {
      offset = n * 2 ** this.big + first;
      end = offset + size;
    } else {
      offset = INT32_MAX - size;
      end = INT32_MAX;
    }
    if (end === 0 || offset >= len) return undefined;
    return this.bytes.subarray(offset, Math.min(end, len));
  }

  private nextBat(cur: number): number {
    const idx = Math.floor(cur / 128);
    if (idx > this.batCount) return -10;
    const blk = this.readBlock(i32(this.bytes, 76 + idx * 4), 512);
    return blk ? i32(blk, (cur - idx * 128) * 4) : NONE;
  }

  /** The k-th DIFAT block after the header's (undefined where a read fails). */
  private xbatBlock(k: number): Block | undefined {
    const list = this.xbatBlocks;
    if (list.length === 0) list.push(this.xbatStart);
    while (list.length <= k) {
      const prev = list[list.length - 1];
      const blk = prev === undefined ? undefined : this.readBlock(prev, 512);
      list.push(blk ? i32(blk, 127 * 4) : undefined);
    }
    const n = list[k];
    return n === undefined ? undefined : this.readBlock(n, 512);
  }

  private nextXbat(cur: number): number {
    const xbatIndex = Math.floor(cur / 128);
    const blockIndex = Math.trunc((xbatIndex - 109) / 127);
    const batBlockNo = (xbatIndex - 109) % 127;
    if (!this.readBlock(this.xbatStart, 512)) return NONE;
    const xbat = this.xbatBlock(Math.max(0, blockIndex));
    if (!xbat) return NONE;
    const bat = this.readBlock(i32(xbat, batBlockNo * 4), 512);
    return bat ? i32(bat, (cur % 128) * 4) : NONE;
  }

  /** The block after `cur` in the FAT (negative at the end of a chain or on a failed read). */
  next(cur: number): number {
    if (cur < 0) return NONE;
    return Math.floor(cur / 128) > 108 ? this.nextXbat(cur) : this.nextBat(cur);
  }

  chain(start: number): Chain {
    const key = String(start);
    let c = this.chains.get(key);
    if (!c) { c = new Chain(start, (b) => this.next(b)); this.chains.set(key, c); }
    return c;
  }

  /** The mini block after `cur` in the mini FAT. */
  nextSbat(cur: number): number {
    if (cur < 0) return NONE;
    const blk = this.readBlock(this.chain(this.sbatStart).at(Math.floor(cur / 128)), 512);
    return blk ? i32(blk, (cur % 128) * 4) : NONE;
  }

  /** The big block of the mini stream holding mini block `index`. */
  sbatDataBlock(index: number): Block | undefined {
    if (index < 0 || this.sbatRootStart < 0) return undefined;
    const k = Math.floor(index / 2 ** (this.big - this.small));
    return this.readBlock(this.chain(this.sbatRootStart).at(k), 2 ** this.big);
  }

  /** Directory entry `index` as ClamAV reads it (4 entries per 512 bytes of each directory block). */
  entry(index: number): Uint8Array | undefined {
    const blk = this.readBlock(this.chain(this.propStart).at(Math.floor(index / 4)), 512);
    if (!blk) return undefined;
    const at = (index % 4) * ENTRY;
    const e = blk.subarray(at, at + ENTRY);
    if (e.length === ENTRY) return e;
    const full = new Uint8Array(ENTRY);
    full.set(e);
    return full;
  }

  /**
   * A stream's bytes as ClamAV writes them out: from `start`, `size` bytes through the mini
   * stream (below the cutoff) or the FAT, ended by a failed read, a block number past the bound or
   * seen before. At most `cap` bytes are kept; `complete` is false when more were there.
   */
  stream(start: number, size: number, cap: number): { data: Uint8Array; complete: boolean } {
    const parts: Uint8Array[] = [];
    let total = 0;
    let complete = true;
    const put = (blk: Uint8Array, from: number, take: number): void => {
      const room = cap - total;
      if (take > room) { complete = false; take = room; }
      const have = blk.subarray(from, from + take);
      parts.push(have);
      if (have.length < take) parts.push(new Uint8Array(take - have.length));
      total += take;
    };
    const seen = new Set<number>();
    let cur = start | 0;
    let len = size >>> 0;
    const smallFile = len < this.sbatCutoff;
    const smallSize = 2 ** this.small;
    const bigSize = 2 ** this.big;
    while (cur >= 0 && len > 0 && complete) {
      if (cur > this.maxBlockNo || seen.has(cur)) break;
      seen.add(cur);
      if (smallFile) {
        const blk = this.sbatDataBlock(cur);
        if (!blk) break;
        const off = smallSize * (cur % 2 ** (this.big - this.small));
        const take = Math.min(len, smallSize);
        put(blk, off, take);
        len -= take;
        cur = this.nextSbat(cur);
      } else {
        const blk = this.readBlock(cur, bigSize);
        if (!blk) break;
        const take = Math.min(len, bigSize);
        put(blk, 0, take);
        cur = this.next(cur);
        len -= take;
      }
    }
    return { data: parts.length === 1 ? parts[0]! : Buffer.concat(parts, total), complete };
  }
}

/** A directory entry's fields ClamAV uses. */
export interface Ole2Entry {
  index: number;
  type: number;
  nameSize: number;
  raw: Uint8Array;
  start: number;
  size: number;
  /** The name as stored (UTF-16; MSI's packed names unpacked), control characters as `\xNN`. */
  name: string;
  /** ClamAV's lower-case name (undefined for none). */
  lower: string | undefined;
}

/** MSI packs two name characters into one code unit from 0x3800 (the names are only for display). */
const MSI_CHARS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._';

function entryOf(raw: Uint8Array, index: number): Ole2Entry {
  const nameSize = u16(raw, 64);
  const chars = Math.max(0, Math.min(32, Math.floor(nameSize / 2)) - 1);
  let name = '';
  for (let k = 0; k < chars; k++) {
    const c = u16(raw, k * 2);
    if (c === 0) break;
    if (c >= 0x3800 && c < 0x4800) name += MSI_CHARS[(c - 0x3800) & 0x3f]! + MSI_CHARS[((c - 0x3800) >> 6) & 0x3f]!;
    else if (c >= 0x4800 && c < 0x4840) name += MSI_CHARS[c - 0x4800]!;
    else if (c === 0x4840) name += '!';
    else name += c < 0x20 ? `\\x${c.toString(16).padStart(2, '0')}` : String.fromCharCode(c);
  }
  return {
    index, type: raw[66]!, nameSize, raw, start: i32(raw, 116), size: i32(raw, 120) >>> 0, name,
    lower: ole2LowerName(raw, nameSize),
  };
}

/** A storage as ClamAV lays it out on disk: its streams and sub-storages in the order written. */
interface Storage {
  path: string;
  items: ({ file: Ole2Entry & { count: number; path: string } } | { dir: Storage })[];
}

interface WalkLimits {
  maxFileSize: number;
  maxFiles: number;
  scanSize: number;
  maxRecursion: number;
  /** ClamAV's count of layers scanned so far in this file (the file itself included). */
  scanned: () => number;
}

type WalkEvent = { file: Ole2Entry; storage: Storage; path: string } | { dir: Storage; parent: Storage } | { limit: 'MaxFiles' | 'MaxRecursion' };

/**
 * ClamAV's walk of the directory tree from the root: each frame a stack of entries, an entry's
 * siblings pushed before its child is walked (depth first), storages one level deeper. Streams
 * over both the size limit and the scan budget are skipped; an entry seen twice ends the walk.
 */
function* walk(r: Ole2Reader, limits: WalkLimits, root: Storage = { path: '', items: [] }): Generator<WalkEvent> {
  const seen = new Set<number>();
  let files = 0;
  let scanSize = limits.scanSize;
  const frames: { list: number[]; level: number; storage: Storage }[] = [{ list: [0], level: 0, storage: root }];
  // Storages nested deeper than the recursion limit end the whole walk (ClamAV's CL_EMAXREC).
  let tooDeep = false;
  const open = (first: number, level: number, storage: Storage): void => {
    if (level > 100 || files > 100000) return;
    if (limits.maxRecursion && level > limits.maxRecursion) { tooDeep = true; return; }
    frames.push({ list: [first], level, storage });
  };
  while (frames.length > 0) {
    if (tooDeep) { yield { limit: 'MaxRecursion' }; return; }
    const top = frames[frames.length - 1]!;
    const next = top.list.pop();
    if (next === undefined) { frames.pop(); continue; }
    const cur = next | 0;
    if (cur < 0 || cur > r.maxBlockNo) continue;
    const raw = r.entry(cur);
    if (!raw || raw[66] === 0) continue;
    if (seen.has(cur)) return;
    seen.add(cur);
    const e = entryOf(raw, cur);
    const prev = i32(raw, 68), nextSib = i32(raw, 72), child = i32(raw, 76);
    const siblings = (): void => {
      if (prev !== -1) top.list.push(prev >>> 0);
      if (nextSib !== -1) top.list.push(nextSib >>> 0);
    };
    switch (e.type) {
      case 5:
        if (cur !== 0 || top.level !== 0 || files !== 0) continue;
        r.sbatRootStart = e.start;
        siblings();
        if (child !== -1) open(child >>> 0, top.level + 1, top.storage);
        break;
      case 2:
        if (limits.maxFiles && (files > limits.maxFiles || limits.scanned() > limits.maxFiles - files)) { yield { limit: 'MaxFiles' }; return; }
        if (!limits.maxFileSize || e.size <= limits.maxFileSize || e.size <= scanSize) {
          files++;
          scanSize -= e.size;
          yield { file: e, storage: top.storage, path: top.storage.path + e.name };
        }
        siblings();
        if (child !== -1) open(child >>> 0, top.level, top.storage);
        break;
      case 1: {
        const dir: Storage = { path: `${top.storage.path}${e.name}/`, items: [] };
        yield { dir, parent: top.storage };
        siblings();
        if (child !== -1) open(child >>> 0, top.level + 1, dir);
        break;
      }
      default:
        break;
    }
  }
}

/** ClamAV's look at a `Workbook` stream for Excel 4 macro sheets and drawings (BIFF records). */
function biffFlags(b: Uint8Array): { macro: boolean; image: boolean } {
  let macro = false, image = false;
  let st = 0, opcode = 0, length = 0, dataOffset = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    switch (st) {
      case 0: opcode = c; st = 1; break;
      case 1: opcode |= c << 8; st = 2; break;
      case 2: length = c; st = 3; break;
      case 3:
        length |= c << 8;
        dataOffset = 0;
        st = length === 0 ? 0 : 4;
        break;
      default:
        if (opcode === 0x85 && dataOffset === 5 && c === 1) macro = true;
        else if (opcode === 0xeb) image = true;
        dataOffset++;
        if (dataOffset >= length) st = 0;
    }
  }
  return { macro, image };
}

/**
 * An "MSO" stream's inflated contents (zlib after a 4-byte size), as ClamAV's streaming inflate
 * gives them: what came before an error or the end of the input, cut at the size limit.
 * Undefined when nothing inflated.
 */
function inflateMso(s: Uint8Array, maxFileSize: number): Uint8Array | undefined {
  const out = inflateLikeClamav(s.subarray(4), false, maxFileSize).data;
  return out.length > 0 ? out : undefined;
}

const HWP5_COMPRESSED = 0x1, HWP5_PASSWORD = 0x2;
const HWP_PACKED = ['bin', 'jscriptversion', 'defaultjscript', 'section', 'viewtext', 'docinfo'];

/**
 * The flags of an HWP 5 document (a `FileHeader` stream starting "HWP Document File"), read from
 * the stream's first block as ClamAV reads it; undefined when it is not one.
 */
function hwpHeaderFlags(r: Ole2Reader, e: Ole2Entry): number | undefined {
  if (e.size === 0 || (e.start >>> 0) > (r.maxBlockNo >>> 0)) return undefined;
  let blk: Uint8Array | undefined, off = 0;
  if (e.size < r.sbatCutoff) {
    blk = r.sbatDataBlock(e.start);
    off = 2 ** r.small * (e.start % 2 ** (r.big - r.small));
    if (off + 40 >= 2 ** r.big) return undefined;
  } else blk = r.readBlock(e.start, 2 ** r.big);
  if (!blk) return undefined;
  const head = new Uint8Array(40);
  head.set(blk.subarray(off, off + 40));
  if (Buffer.from(head.subarray(0, 17)).toString('latin1') !== 'HWP Document File') return undefined;
  return i32(head, 36) >>> 0;
}


const SCRIPT: ClType = 'CL_TYPE_SCRIPT';
const OLE2: ClType = 'CL_TYPE_MSOLE2';

/** CL_TYPE_HWPOLE2 (an OLE2 file after a 4-byte size, as HWP 3 embeds them): the rest, typed again. */
export function* hwpOle2Layers(bytes: Uint8Array): Generator<UnpackItem> {
  if (bytes.length >= 4) yield { name: 'hwpole2', data: bytes.subarray(4) };
}

export function* ole2Layers(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem, void, unknown> {
  const r = new Ole2Reader(bytes);
  if (!r.ok || bytes.length < HEADER) return;
  const { maxFileSize, maxFiles, maxScanSize } = ctx.limits;
  const cap = maxFileSize > 0 ? maxFileSize + 1 : Number.MAX_SAFE_INTEGER;
  // Layers of the file scanned so far (ClamAV's ctx->scannedfiles): from the engine when it tells
  // (`scannedFiles`), else this layer alone plus the streams given on the fly.
  let scanned = 1;
  const live = ctx.scannedFiles;
  const limits: WalkLimits = {
    maxFileSize, maxFiles, maxRecursion: ctx.limits.maxRecursion ?? DEFAULT_LIMITS.maxRecursion, scanned: live ?? (() => scanned),
    scanSize: maxScanSize > 0 ? Math.max(0, maxScanSize - bytes.length) : Number.MAX_SAFE_INTEGER,
  };

  // Pass 1: which handling the file gets.
  let files = 0, hasVba = false, hasXlm = false, hasImage = false;
  let hwpFlags: number | undefined;
  for (const ev of walk(r, limits)) {
    // ClamAV raises the limit in its first pass, before anything of the file is scanned.
    if ('limit' in ev) yield { name: '', limit: ev.limit };
    if (!('file' in ev)) continue;
    files++;
    const lower = ev.file.lower;
    if (hwpFlags === undefined && lower === 'fileheader') hwpFlags = hwpHeaderFlags(r, ev.file);
    if (lower === '_vba_project' || lower === 'powerpoint document' || lower === 'worddocument' || lower === '_1_ole10native') hasVba = true;
    if ((!hasXlm || !hasImage) && (lower === 'workbook' || lower === 'book')) {
      const f = biffFlags(r.stream(ev.file.start, ev.file.size, cap).data);
      hasXlm ||= f.macro;
      hasImage ||= f.image;
    }
  }
  if (files === 0) return;

  let budget = maxScanSize > 0 ? maxScanSize : Number.MAX_SAFE_INTEGER;
  const child = (name: string, data: Uint8Array, complete: boolean, type?: ClType): UnpackItem => {
    if (!complete || (maxFileSize > 0 && data.length > maxFileSize)) return { name, limit: 'MaxFileSize', size: data.length };
    budget -= data.length;
    if (data.length > 5) scanned++;
    return type ? { name, data, type } : { name, data };
  };

  if (!hasVba && !hasXlm && !hasImage) {
    // Pass 2, on the fly: each stream scanned as it is read.
    for (const ev of walk(r, limits)) {
      if ('limit' in ev) { yield { name: '', limit: ev.limit }; return; }
      if (!('file' in ev)) continue;
      if (budget <= 0) { yield { name: ev.path, limit: 'MaxScanSize' }; return; }
      const s = r.stream(ev.file.start, ev.file.size, cap);
      if (hwpFlags !== undefined) {
        // HWP 5: the body, script and binary streams are raw deflate unless password-protected.
        const lower = ev.file.lower ?? '';
        if (HWP_PACKED.some((p) => lower.startsWith(p)) && !(hwpFlags & HWP5_PASSWORD) && hwpFlags & HWP5_COMPRESSED) {
          // Inflated as ClamAV's HWP loop does it: cut at the limit in 8 KiB pieces, the cut alerted and scanned.
          const inflated = s.complete ? hwpInflate(s.data, ctx, bytes.length + (maxScanSize > 0 ? maxScanSize - budget : 0)) : undefined;
          if (inflated?.limited) yield { name: ev.path, limit: inflated.limited };
          if (inflated && inflated.data.length > 0) yield child(ev.path, inflated.data, true);
          else if (!s.complete) yield { name: ev.path, limit: 'MaxFileSize' };
          continue;
        }
        yield child(ev.path, s.data, s.complete);
        continue;
      }
      if (s.data.length >= 6 && s.data[4] === 0x78 && s.data[5] === 0x9c) {
        const inflated = inflateMso(s.data, maxFileSize);
        if (inflated) yield child(ev.path, inflated, true);
        continue;
      }
      yield child(ev.path, s.data, s.complete);
    }
    return;
  }

  // Pass 2, written out: streams stored by storage, each name counted as ClamAV's name store does.
  const root: Storage = { path: '', items: [] };
  const counts = new Map<string, number>();
  const contents = new Map<number, { data: Uint8Array; complete: boolean }>();
  let limited: UnpackItem | undefined;
  for (const ev of walk(r, limits, root)) {
    if ('limit' in ev) { limited ??= { name: '', limit: ev.limit }; break; }
    if ('dir' in ev) { ev.parent.items.push({ dir: ev.dir }); continue; }
    if (ev.file.nameSize > 64) continue;
    const key = ev.file.lower ?? '';
    const count = (counts.get(key) ?? 0) + 1;
    counts.set(key, count);
    ev.storage.items.push({ file: { ...ev.file, count, path: ev.path } });
    if (budget > 0) {
      const s = r.stream(ev.file.start, ev.file.size, cap);
      contents.set(ev.file.index, s);
      budget -= s.data.length;
    } else limited ??= { name: ev.path, limit: 'MaxScanSize' };
  }
  budget = maxScanSize > 0 ? maxScanSize : Number.MAX_SAFE_INTEGER;

  // Decompression work for the whole file (VBA copies that give no output cost time too).
  const work = { left: 8 * Math.min(cap, 256 * 1024 * 1024) };
  const streamsNamed = (st: Storage, lower: string): (Ole2Entry & { count: number; path: string })[] => {
    const out: (Ole2Entry & { count: number; path: string })[] = [];
    for (const it of st.items) if ('file' in it && (it.file.lower ?? '') === lower) out.push(it.file);
    return out.sort((a, b) => a.count - b.count);
  };
  const dataOf = (e: Ole2Entry): { data: Uint8Array; complete: boolean } | undefined => contents.get(e.index);

  // A stream a limit refuses (size, scan size, file count) fails ClamAV's scan of the written-out
  // directory, which ends the rest of the OLE2 scan.
  function* everyStream(st: Storage): Generator<UnpackItem, void, unknown> {
    for (const it of st.items) {
      if (halted) return;
      if ('dir' in it) { yield* everyStream(it.dir); continue; }
      const s = dataOf(it.file);
      if (!s) continue;
      const item = child(it.file.path, s.data, s.complete);
      const answer = yield item;
      if (answer === CHILD_REFUSED || 'limit' in item) { halted = true; return; }
    }
  }

  let halted = false;
  function* storage(st: Storage): Generator<UnpackItem, void, unknown> {
    for (const e of streamsNamed(st, '_1_ole10native').reverse()) {
      const s = dataOf(e);
      if (!s) continue;
      const inner = s.complete ? ole10Contents(s.data) : undefined;
      if (inner) yield child(`${e.path}/ole10native`, inner, true);
      else if (!s.complete) yield { name: e.path, limit: 'MaxFileSize' };
    }
    if (hasVba) {
      // The older readers first: the `_VBA_PROJECT` module table, PowerPoint's compressed
      // storages, Word 6 macros; their code is scanned raw with the OLE2 target.
      let macros = 0;
      for (const e of streamsNamed(st, '_vba_project').reverse()) {
        const s = dataOf(e);
        if (!s?.complete) continue;
        const modules = legacyVbaModules(s.data, (name) => (counts.get(name) ?? 0) > 0);
        for (const m of modules ?? []) {
          for (const f of streamsNamed(st, m.name)) {
            macros++;
            const src = dataOf(f);
            const code = src ? clamVbaInflate(src.data, m.offset, cap, work) : undefined;
            if (code) yield child(`${f.path}/vba`, code, true, OLE2);
          }
        }
      }
      for (const e of streamsNamed(st, 'powerpoint document').reverse()) {
        const s = dataOf(e);
        if (!s?.complete) continue;
        for (const p of pptStorages(s.data, cap) ?? []) {
          const name = `${e.path}/ppt${p.offset.toString(16).padStart(8, '0')}.doc`;
          yield p.data ? child(name, p.data, true) : { name, limit: 'MaxFileSize' };
        }
      }
      for (const e of streamsNamed(st, 'worddocument').reverse()) {
        const s = dataOf(e);
        if (!s?.complete) continue;
        let k = 0;
        for (const m of wordMacros(s.data)) yield child(`${e.path}/macro${k++}`, m, true, OLE2);
      }
      if (macros > 0 && ctx.options.alertMacros) yield { alert: 'Heuristics.OLE2.ContainsMacros.VBA' };
      // ClamAV looks for each `dir` stream anywhere below this storage (a recursive file search),
      // and reads its modules from the storage that holds it.
      const dirs: { e: Ole2Entry & { count: number; path: string }; home: Storage }[] = [];
      const collect = (at: Storage): void => {
        for (const it of at.items) {
          if ('dir' in it) collect(it.dir);
          else if (it.file.lower === 'dir') dirs.push({ e: it.file, home: at });
        }
      };
      collect(st);
      dirs.sort((a, b) => b.e.count - a.e.count);
      for (const { e, home } of dirs) {
        const s = dataOf(e);
        if (!s) continue;
        const lookup = (lower: string): Uint8Array[] => streamsNamed(home, lower).map((m) => dataOf(m)?.data).filter((d): d is Uint8Array => d !== undefined);
        const listing = readVbaDir(s.data, lookup, cap, work);
        if ('error' in listing) {
          if (listing.error === 'limit') yield { name: `${e.path}/vba`, limit: 'MaxFileSize' };
          continue;
        }
        if (ctx.options.alertMacros) yield { alert: 'Heuristics.OLE2.ContainsMacros.VBA' };
        yield child(`${home.path}vba-project`, listing.text, true, SCRIPT);
      }
    }
    if (hasXlm && ctx.options.alertMacros) yield { alert: 'Heuristics.OLE2.ContainsMacros.XLM' };
    if (hasXlm || hasImage) {
      // The record listing of each `Workbook` stream of this storage (never `Book`: ClamAV
      // looks that name up only when `workbook` fails, which it never does), scanned raw as a
      // script, then the images of its drawing group as files of their own. ClamAV keeps the
      // result of the file's first workbook only: when that one is here and its extraction
      // failed, the rest of the OLE2 scan (streams, storages) is dropped.
      for (const e of streamsNamed(st, 'workbook').reverse()) {
        const s = dataOf(e);
        if (!s?.complete) continue;
        // The listing is kept up to a buffer past the size limit: what ClamAV scans of a longer
        // one is over the limit too (a limit refusing the listing does not stop the extraction).
        const listing = xlmListing(s.data, maxFileSize > 0 ? maxFileSize + 8192 : Number.MAX_SAFE_INTEGER);
        let ok = listing.scanned !== undefined;
        if (listing.overflowed) yield { name: `${e.path}/xlm`, limit: 'MaxFileSize' };
        else if (listing.scanned) yield child(`${e.path}/xlm`, listing.scanned, true, SCRIPT);
        if (listing.scanned && listing.drawingGroup) {
          const drawing = xlmImages(listing.drawingGroup);
          ok = drawing.ok;
          let k = 0;
          for (const img of drawing.images) {
            const name = `${e.path}/image${k++}.${img.type.toLowerCase()}`;
            if (img.data.length === 0) continue;
            // An image a limit refuses ends the drawing group with an error.
            const item = child(name, img.data, true);
            if ((yield item) === CHILD_REFUSED || 'limit' in item) { ok = false; break; }
          }
        }
        if (e.count === 1 && !ok) halted = true;
      }
      if (halted) return;
    }
    if (hasXlm || hasVba) yield* everyStream(st);
    if (halted) return;
    for (const it of st.items) {
      if (halted) return;
      if ('dir' in it) yield* storage(it.dir);
    }
  }

  // ClamAV reports a heuristic once per file however often it is raised.
  const alerted = new Set<string>();
  // The engine's answer to each child (a refusal) is passed on to the walk.
  const inner = storage(root);
  let answer: unknown;
  for (;;) {
    const step = inner.next(answer);
    answer = undefined;
    if (step.done) break;
    const item = step.value;
    if ('alert' in item) {
      if (alerted.has(item.alert)) continue;
      alerted.add(item.alert);
    }
    answer = yield item;
  }
  if (limited) yield limited;
}
