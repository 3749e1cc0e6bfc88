/**
 * EGG archives (CL_TYPE_EGG, and CL_TYPE_EGGSFX: an EGG found inside another layer, which only
 * a type signature from a database can find: ClamAV's built-in table has none) → the archive
 * comments and each file's data, as ClamAV 1.4's `cli_scanegg` extracts them.
 *
 * In: the archive from its `EGGA` magic. Layout (little-endian): the 14-byte header (magic,
 * version, id, reserved) and archive extra fields (split, solid, global encryption; each a magic,
 * a flag byte, a 2-byte size (4 bytes when flag bit 0 is set) and the data) ending with the
 * `EOFARC` mark; then any number of file headers (magic, id, u64 length, then filename, comment,
 * Windows, POSIX and encryption extra fields, ending with `EOFARC`), block headers (magic, method,
 * hint, unpacked u32, packed u32, CRC, `EOFARC`, the packed data; a block belongs to the file
 * before it) and archive comments; a last `EOFARC` ends the archive.
 *
 * Out, lazily: the archive comments (up to their first NUL), then each file's blocks, decoded and
 * joined: stored blocks copied (skipped when empty or when their two sizes differ), deflate
 * (raw) and bzip2 decoded, what came out before damage kept; AZO, LZMA and unknown methods, or a
 * block that decodes to nothing, leave the file unextracted. Directories (Windows attribute 0x40, or
 * POSIX mode bit 0x40000: ClamAV's constants, written in hex where octal was meant), encrypted files
 * (an encryption extra field) and files whose declared size (the sum of their blocks') passes
 * what remains of MaxScanSize or MaxFileSize are not extracted; a bomb whose blocks lie is stopped at
 * MaxFileSize. Solid archives are listed but not extracted (ClamAV 1.4 cannot). Every file's
 * metadata is reported before those checks. With AlertEncryptedArchive, `Heuristics.Encrypted.EGG`
 * once at the end when a file was encrypted (the first encrypted file then ends the listing).
 *
 * ClamAV's rules kept here: the whole archive is parsed before anything is scanned, and it fails
 * whole (nothing scanned) when a file or block header is damaged or cut, when a block's data is
 * not all there or is empty, when an unknown record follows the headers, or when the bytes run out
 * in the middle of a magic among the archive's or a file's header fields; a damaged extra field ends its header's list of fields but not
 * the archive; an encrypted archive comment ends the parse, keeping what came before. A filename
 * field with a code page or parent id is skipped by its size plus those fields' sizes (ClamAV's
 * reading) — a field size that carries the parse past the end of the data leaves no file readable
 * — and a file without a name ends the listing. MaxFiles reached, or the scanned bytes reaching
 * MaxScanSize, end the listing.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { inflateRaw } from '../zipmethods/inflate.js';
import { bunzip2 } from '../compress/bzip2.js';

const EGG_MAGIC = 0x41474745;
const EOFARC = 0x08e28222;
const FILE_MAGIC = 0x0a8590e3;
const BLOCK_MAGIC = 0x02b50c13;
const ENCRYPT_MAGIC = 0x08d1470f;
const WINDOWS_MAGIC = 0x2c86950b;
const POSIX_MAGIC = 0x1ee922e5;
const FILENAME_MAGIC = 0x0a8591ac;
const COMMENT_MAGIC = 0x04c63672;
const SPLIT_MAGIC = 0x24f5a262;
const SOLID_MAGIC = 0x24e5a060;

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

interface Block { method: number; unpacked: number; packed: number; data: Uint8Array }

interface EggFile {
  length: number;
  name?: string;
  encrypted: boolean;
  windowsAttr?: number;
  posixMode?: number;
  blocks: Block[];
}

interface Archive {
  solid: boolean;
  files: EggFile[];
  comments: Uint8Array[];
  /** Where the parse ended: past the end of the data, ClamAV's handle is invalid and no file is read. */
  end: number;
}

/** ClamAV's `fmap_need_off_once`: `len` bytes at `at`, none for an empty or out-of-range request. */
const has = (b: Uint8Array, at: number, len: number): boolean => len > 0 && at + len <= b.length;

/** An extra field's header at `p`: magic, flags, size and where its data starts; undefined when cut. */
function extraField(b: Uint8Array, p: number): { magic: number; flags: number; size: number; at: number } | undefined {
  if (!has(b, p, 5)) return undefined;
  const magic = u32(b, p), flags = b[p + 4]!;
  p += 5;
  if (flags & 1) {
    if (!has(b, p, 4)) return undefined;
    return { magic, flags, size: u32(b, p), at: p + 4 };
  }
  if (!has(b, p, 2)) return undefined;
  return { magic, flags, size: u16(b, p), at: p + 2 };
}

/** Whether an encryption field's data (`size` bytes) is one ClamAV accepts: KeyBase, AES or LEA. */
function encryptionOk(b: Uint8Array, at: number, size: number): boolean {
  if (size < 1) return false;
  const method = b[at]!;
  const rest = size - 1;
  if (method === 0) return rest === 16;
  if (method === 1 || method === 0x10) return rest >= 20;
  if (method === 2 || method === 0x20) return rest >= 28;
  return false;
}

/** The size an encryption field's data has: ClamAV takes its declared size as counting the 7-byte field header. */
const encryptionSize = (size: number): number => (size - 7) >>> 0;

/** A string as ClamAV's `strndup` keeps it: up to the first NUL. */
function cString(b: Uint8Array): Uint8Array {
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
}

/**
 * One file header's extra field at `p`: whether ClamAV's parse accepted it, and where its offset
 * is after it (past the whole field, or, when it gave up, past what it had read of it).
 */
function fileExtra(b: Uint8Array, p: number, f: EggFile): { ok: boolean; p: number } {
  if (!has(b, p, 5)) return { ok: false, p };
  const x = extraField(b, p);
  if (!x) return { ok: false, p: p + 5 };
  let { size } = x;
  let at = x.at;
  const fail = { ok: false, p: at };
  switch (x.magic) {
    case FILENAME_MAGIC: {
      if (f.name !== undefined || !has(b, at, size)) return fail;
      let rest = size;
      if (x.flags & 0x08) {
        if (rest < 2) return { ok: false, p: at };
        at += 2; rest -= 2;
      }
      if (x.flags & 0x10) {
        if (rest < 4) return { ok: false, p: at };
        at += 4; rest -= 4;
      }
      if (rest === 0) return { ok: false, p: at };
      f.name = Buffer.from(cString(b.subarray(at, at + rest))).toString('utf8');
      // ClamAV then moves on by the field's whole size from here, past its end by the fields read.
      break;
    }
    case COMMENT_MAGIC:
      // File comments are parsed but never scanned.
      if (!has(b, at, size)) return fail;
      break;
    case ENCRYPT_MAGIC:
      if (f.encrypted) return fail;
      size = encryptionSize(size);
      if (!has(b, at, size) || !encryptionOk(b, at, size)) return fail;
      f.encrypted = true;
      break;
    case WINDOWS_MAGIC:
      if (f.windowsAttr !== undefined || !has(b, at, 9)) return fail;
      f.windowsAttr = b[at + 8]!;
      break;
    case POSIX_MAGIC:
      if (f.posixMode !== undefined || !has(b, at, 20)) return fail;
      f.posixMode = u32(b, at);
      break;
    default:
      break;
  }
  return { ok: true, p: at + size };
}

/** `cli_egg_open`: every header, or undefined when ClamAV fails the archive. */
function parseArchive(b: Uint8Array): Archive | undefined {
  if (!has(b, 0, 14) || u32(b, 0) !== EGG_MAGIC) return undefined;
  const arc: Archive = { solid: false, files: [], comments: [], end: 0 };
  let p = 14;
  let split = false, globalEncrypt = false;
  // Archive extra fields, up to EOFARC; a damaged one ends this list only.
  while (b.length > p) {
    if (!has(b, p, 4)) return undefined;
    if (u32(b, p) === EOFARC) { p += 4; break; }
    const x = extraField(b, p);
    if (!x) {
      if (has(b, p, 5)) p += 5;
      break;
    }
    let { size } = x;
    let ok = true;
    if (x.magic === SOLID_MAGIC) {
      if (arc.solid) ok = false;
      arc.solid = true;
    } else if (x.magic === SPLIT_MAGIC) {
      if (split) ok = false;
      else if (size === 8 && !has(b, x.at, 8)) ok = false;
      split = true;
    } else if (x.magic === ENCRYPT_MAGIC) {
      if (globalEncrypt) ok = false;
      else {
        size = encryptionSize(size);
        if (!has(b, x.at, size) || !encryptionOk(b, x.at, size)) ok = false;
        else globalEncrypt = true;
      }
    }
    if (!ok) { p = x.at; break; }
    p = x.at + size;
  }
  for (;;) {
    if (!has(b, p, 4)) break;
    const magic = u32(b, p);
    if (magic === EOFARC) break;
    if (magic === FILE_MAGIC) {
      if (!has(b, p, 16)) return undefined;
      const f: EggFile = { length: u32(b, p + 8) + u32(b, p + 12) * 2 ** 32, encrypted: false, blocks: [] };
      p += 16;
      while (b.length > p) {
        if (!has(b, p, 4)) return undefined;
        if (u32(b, p) === EOFARC) { p += 4; break; }
        const r = fileExtra(b, p, f);
        p = r.p;
        if (!r.ok) break;
      }
      arc.files.push(f);
    } else if (magic === BLOCK_MAGIC) {
      if (!has(b, p, 18)) return undefined;
      const block: Block = { method: b[p + 4]!, unpacked: u32(b, p + 6), packed: u32(b, p + 10), data: new Uint8Array(0) };
      p += 18;
      if (!has(b, p, 4) || u32(b, p) !== EOFARC) return undefined;
      p += 4;
      if (!has(b, p, block.packed)) return undefined;
      block.data = b.subarray(p, p + block.packed);
      p += block.packed;
      // Solid blocks are shared by all files (ClamAV does not extract them); others belong to the last file.
      if (!arc.solid) arc.files[arc.files.length - 1]?.blocks.push(block);
    } else if (magic === COMMENT_MAGIC) {
      const x = extraField(b, p);
      if (!x || !has(b, x.at, x.size)) return undefined;
      p = x.at + x.size;
      // An encrypted comment ends the parse.
      if (x.flags & 0x04) break;
      arc.comments.push(cString(b.subarray(x.at, x.at + x.size)));
    } else {
      return undefined;
    }
  }
  arc.end = p;
  return arc;
}

/** A block decoded: its bytes, or undefined when ClamAV's decoder gives up on it. */
function decodeBlock(block: Block, cap: number): Uint8Array | undefined {
  const r = block.method === 1 ? inflateRaw(block.data, cap) : bunzip2(block.data, cap, { firstStreamOnly: true });
  // ClamAV fails a block only when its first decoding call errs with nothing written.
  if (r.data.length === 0 && !r.complete) return r.error === 'truncated' ? r.data : undefined;
  if (r.data.length === 0) return undefined;
  return r.data;
}

export function* eggMembers(b: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  const arc = parseArchive(b);
  if (!arc) return;
  const maxFile = ctx.limits.maxFileSize > 0 ? ctx.limits.maxFileSize : Infinity;
  const maxScan = ctx.limits.maxScanSize, maxFiles = ctx.limits.maxFiles;
  // ClamAV ends the listing once the scanned bytes reach MaxScanSize.
  const scanFull = (): boolean => maxScan > 0 && (ctx.scannedSize?.() ?? 0) >= maxScan;
  let i = 0;
  for (const c of arc.comments) if (c.length > 0) yield { name: `comment${i++}`, data: c };
  let encrypted = 0;
  let position = 0;
  // A field size that carried the parse past the end leaves ClamAV unable to read any file header.
  const files = arc.end > b.length ? [] : arc.files;
  for (const f of files) {
    if (f.name === undefined) break;
    position++;
    let packed = 0, unpacked = f.length;
    if (!arc.solid) {
      unpacked = 0;
      for (const blk of f.blocks) { packed += blk.packed; unpacked += blk.unpacked; }
    }
    // Children carry the stored name: it is what ClamAV's metadata check (the `-a` chain) reports.
    const name = f.name;
    // ClamAV checks every file's metadata (cli_matchmeta) before deciding whether to extract it.
    yield { meta: f.name, compressedSize: packed, size: unpacked, encrypted: f.encrypted, position };
    const dir = (f.posixMode !== undefined && (f.posixMode & 0x40000) !== 0) || (f.windowsAttr !== undefined && (f.windowsAttr & 0x40) !== 0);
    // With AlertEncryptedArchive that check's status for an encrypted file ends the listing after it.
    const last = f.encrypted && ctx.options.alertEncryptedArchive;
    if (f.encrypted) encrypted++;
    // ClamAV's limit checks: the file count first (it ends the listing), then, for files, the
    // declared size against what remains of MaxScanSize and against MaxFileSize.
    if (maxFiles > 0 && (ctx.scannedFiles?.() ?? 0) >= maxFiles) { yield { name, limit: 'MaxFiles' }; break; }
    const limit = dir || unpacked === 0 ? undefined
      : maxScan > 0 && maxScan - (ctx.scannedSize?.() ?? 0) < unpacked ? 'MaxScanSize' as const
        : unpacked > maxFile ? 'MaxFileSize' as const : undefined;
    if (limit) {
      yield { name, limit, size: unpacked };
      if (last || scanFull()) break;
      continue;
    }
    if (dir || f.encrypted || arc.solid) {
      if (last || scanFull()) break;
      continue;
    }
    const parts: Uint8Array[] = [];
    let total = 0, failed = false, over = false;
    for (const blk of f.blocks) {
      let out: Uint8Array | undefined;
      if (blk.method === 0) {
        if (blk.packed === 0 || blk.packed !== blk.unpacked) continue;
        out = blk.data;
      } else if (blk.method === 1 || blk.method === 2) {
        out = decodeBlock(blk, Number.isFinite(maxFile) ? maxFile - total + 1 : 2 ** 31);
        if (!out) { failed = true; break; }
      } else {
        // AZO, LZMA and unknown methods: ClamAV 1.4 gives up on the file.
        failed = true;
        break;
      }
      parts.push(out);
      total += out.length;
      if (total > maxFile) { over = true; break; }
    }
    if (over) yield { name, limit: 'MaxFileSize', size: total };
    else if (!failed && total > 0) yield { name, data: parts.length === 1 ? parts[0]! : Buffer.concat(parts) };
    if (scanFull()) break;
  }
  if (encrypted > 0 && ctx.options.alertEncryptedArchive) yield { alert: 'Heuristics.Encrypted.EGG' };
}
