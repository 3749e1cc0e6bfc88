/**
 * Tar archives → entries.
 *
 * In: the bytes of a tar archive (v7, POSIX ustar with pax extended headers, or GNU). Out: its
 * entries in archive order, each with its full name, its type (regular file, link, directory…),
 * the raw typeflag and a view of its data (no copy), plus diagnostics for anything malformed.
 *
 * Strategy: one pass over 512-byte blocks. A header is trusted only after its checksum matches;
 * once a header is bad, nothing after it can be located reliably, so parsing stops there with an
 * error and the entries read so far are returned. Extension headers (pax `x`, GNU `L`/`K`) are
 * folded into the entry that follows them, and each entry records which ones applied so that
 * stricter callers (the ClamAV container loader accepts only plain v7/ustar regular files) can
 * refuse them. Every loop advances by at least one block, so work is bounded by the input length.
 *
 * The end of an archive is two zero blocks; ClamAV's own tar writer (sigtool, freshclam) writes
 * none and simply stops after the last entry, so reaching the end of the bytes exactly at an
 * entry boundary is a normal end (`terminator: 'eof'`), not a diagnostic.
 *
 * Names from header fields are decoded as Latin-1 (one character per byte, so nothing is lost);
 * names from pax records are UTF-8, as POSIX specifies.
 */

import { checkedAdd } from '../core/bytes.js';
import { error, warning, type Diagnostic } from '../core/diagnostics.js';

export const TAR_BLOCK = 512;

export type TarEntryType =
  | 'file'
  | 'hardlink'
  | 'symlink'
  | 'char-device'
  | 'block-device'
  | 'directory'
  | 'fifo'
  | 'contiguous'
  | 'pax-global'
  | 'gnu-sparse'
  | 'gnu-volume-label'
  | 'gnu-multivolume'
  | 'gnu-dumpdir'
  | 'unknown';

/** Header layout: `v7` (no magic), POSIX `ustar` (magic `ustar\0`), or old `gnu` (`ustar  \0`). */
export type TarFormat = 'v7' | 'ustar' | 'gnu';

export interface TarEntry {
  /** Full name: pax `path` or GNU long name if present, else ustar prefix + `/` + name, else name. */
  name: string;
  type: TarEntryType;
  /** The raw typeflag character (`'\0'` for old-style regular files). */
  typeflag: string;
  /** The entry's data, a view into the archive bytes. Empty for types that carry none. */
  data: Uint8Array;
  /** Offset of the entry's own header block (after any extension headers). */
  offset: number;
  /** Offset of the first data byte. */
  dataOffset: number;
  /** Link target for hard and symbolic links (pax `linkpath` or GNU `K` if present). */
  linkName: string;
  format: TarFormat;
  /** Typeflags of the extension headers folded into this entry, in order (`x`, `L`, `K`). */
  extensions: string[];
  /** Permission bits from the mode field (undefined when the field is unreadable). */
  mode: number | undefined;
  /** Modification time in Unix seconds (undefined when the field is unreadable). */
  mtime: number | undefined;
}

export interface TarResult {
  entries: TarEntry[];
  diagnostics: Diagnostic[];
  /** How the archive ended: two zero blocks, a lone zero block, the end of the bytes at an entry boundary, or an error. */
  terminator: 'zero-blocks' | 'single-zero-block' | 'eof' | 'error';
  /** Offset just past the last byte that belongs to an entry (header, data and padding). */
  end: number;
}

export interface TarOptions {
  /** Name used in diagnostic locations. */
  fileName?: string;
}

// Header field offsets and widths (POSIX ustar; v7 uses the first five and typeflag/linkname).
const F_NAME = 0, W_NAME = 100;
const F_MODE = 100, W_MODE = 8;
const F_SIZE = 124, W_SIZE = 12;
const F_MTIME = 136, W_MTIME = 12;
const F_CHKSUM = 148, W_CHKSUM = 8;
const F_TYPEFLAG = 156;
const F_LINKNAME = 157, W_LINKNAME = 100;
const F_MAGIC = 257;
const F_PREFIX = 345, W_PREFIX = 155;

const TYPES: Readonly<Record<string, TarEntryType>> = {
  '0': 'file', '\0': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char-device', '4': 'block-device',
  '5': 'directory', '6': 'fifo', '7': 'contiguous', 'g': 'pax-global', 'S': 'gnu-sparse',
  'V': 'gnu-volume-label', 'M': 'gnu-multivolume', 'D': 'gnu-dumpdir',
};

/** Types whose size field POSIX requires to be zero and which never have data blocks. */
const NO_DATA = new Set(['2', '3', '4', '5', '6']);

/** Splits `bytes` into tar entries; never throws. */
export function readTar(bytes: Uint8Array, opts: TarOptions = {}): TarResult {
  const diagnostics: Diagnostic[] = [];
  const entries: TarEntry[] = [];
  const where = opts.fileName ? { file: opts.fileName, line: 0, column: 0 } : undefined;
  let pos = 0;
  const fail = (code: string, message: string): TarResult => {
    diagnostics.push(error(code, message, where));
    return { entries, diagnostics, terminator: 'error', end: pos };
  };

  // Extension state waiting for the next real header.
  let pending: string[] = [];
  let longName: string | undefined;
  let longLink: string | undefined;
  let paxPath: string | undefined;
  let paxLink: string | undefined;
  let paxSize: number | undefined;

  while (true) {
    const remaining = bytes.length - pos;
    if (remaining === 0) {
      if (pending.length > 0) {
        diagnostics.push(warning('tar.dangling-extension', `archive ends after an extension header (${pending.join(', ')}) with no entry for it to apply to`, where));
      }
      return { entries, diagnostics, terminator: 'eof', end: pos };
    }
    if (remaining < TAR_BLOCK) {
      if (isZero(bytes, pos, bytes.length)) {
        diagnostics.push(warning('tar.truncated', `archive ends with a partial block of ${remaining} zero bytes at offset ${pos}`, where));
        return { entries, diagnostics, terminator: 'eof', end: pos };
      }
      return fail('tar.truncated', `archive is truncated: ${remaining} bytes at offset ${pos} are too few for a ${TAR_BLOCK}-byte header`);
    }

    if (isZero(bytes, pos, pos + TAR_BLOCK)) {
      return finish(bytes, pos, pending, entries, diagnostics, where);
    }

    const header = bytes.subarray(pos, pos + TAR_BLOCK);
    const sum = checksumOf(header);
    const stored = parseOctal(header, F_CHKSUM, W_CHKSUM);
    if (stored === undefined) {
      return fail('tar.bad-checksum', `header at offset ${pos} has an unreadable checksum field ${quoteField(header, F_CHKSUM, W_CHKSUM)}`);
    }
    if (stored !== sum.unsigned && stored !== sum.signed) {
      return fail('tar.bad-checksum', `header at offset ${pos} (${quoteField(header, F_NAME, W_NAME)}) has checksum ${stored.toString(8)} but its bytes sum to ${sum.unsigned.toString(8)} (octal)`);
    }

    const typeflag = String.fromCharCode(header[F_TYPEFLAG]!);
    const format = formatOf(header);
    const headerName = cString(header, F_NAME, W_NAME);
    const displayName = paxPath ?? longName ?? headerName;

    let size: number | undefined = readSize(header);
    if (size === undefined) {
      return fail('tar.bad-size', `entry '${displayName}' at offset ${pos} has an unreadable size field ${quoteField(header, F_SIZE, W_SIZE)}`);
    }
    // A pax `size` record overrides the header (it exists for sizes the header cannot hold).
    if (paxSize !== undefined && !'xgLK'.includes(typeflag)) size = paxSize;

    const dataOffset = pos + TAR_BLOCK;
    let dataLength = size;
    if (NO_DATA.has(typeflag)) {
      if (size !== 0) {
        diagnostics.push(warning('tar.ignored-size', `entry '${displayName}' at offset ${pos} is of a type that has no data but declares ${size} bytes; the size is ignored`, where));
      }
      dataLength = 0;
    }
    const dataEnd = checkedAdd(dataOffset, dataLength);
    if (dataEnd === undefined || dataEnd > bytes.length) {
      return fail('tar.truncated', `archive is truncated: entry '${displayName}' at offset ${pos} declares ${dataLength} bytes of data but only ${Math.max(0, bytes.length - dataOffset)} remain`);
    }
    const data = bytes.subarray(dataOffset, dataEnd);
    const padded = dataEnd + ((TAR_BLOCK - (dataLength % TAR_BLOCK)) % TAR_BLOCK);
    let next = padded;
    if (padded > bytes.length) {
      diagnostics.push(warning('tar.truncated', `archive ends inside the padding after entry '${displayName}' (expected ${padded - dataEnd} bytes, found ${bytes.length - dataEnd})`, where));
      next = bytes.length;
    }
    if (!isZero(bytes, dataEnd, next)) {
      diagnostics.push(warning('tar.nonzero-padding', `the padding after entry '${displayName}' (offsets ${dataEnd}..${next - 1}) is not all zero`, where));
    }

    // Extension headers: remember what they say and apply it to the next real header.
    if (typeflag === 'x') {
      const pax = parsePax(data);
      if (typeof pax === 'string') return fail('tar.bad-pax', `pax extended header at offset ${pos}: ${pax}`);
      if (pax.size !== undefined) {
        if (!/^\d+$/.test(pax.size)) return fail('tar.bad-pax', `pax extended header at offset ${pos}: size '${pax.size}' is not a decimal number`);
        const n = Number(pax.size);
        if (!Number.isSafeInteger(n)) return fail('tar.bad-pax', `pax extended header at offset ${pos}: size ${pax.size} is too large`);
        paxSize = n;
      }
      if (pax.path !== undefined) paxPath = pax.path;
      if (pax.linkpath !== undefined) paxLink = pax.linkpath;
      pending.push('x');
      pos = next;
      continue;
    }
    if (typeflag === 'L' || typeflag === 'K') {
      const text = latin1(data, 0, indexOfZero(data, 0, data.length));
      if (typeflag === 'L') longName = text;
      else longLink = text;
      pending.push(typeflag);
      pos = next;
      continue;
    }

    let name = headerName;
    if (format === 'ustar') {
      const prefix = cString(header, F_PREFIX, W_PREFIX);
      if (prefix !== '') name = `${prefix}/${name}`;
    }
    name = paxPath ?? longName ?? name;
    let type: TarEntryType = TYPES[typeflag] ?? 'unknown';
    // Before POSIX, a directory was a regular-file header whose name ends in '/'.
    if ((typeflag === '0' || typeflag === '\0') && name.endsWith('/')) type = 'directory';

    entries.push({
      name,
      type,
      typeflag,
      data,
      offset: pos,
      dataOffset,
      linkName: paxLink ?? longLink ?? cString(header, F_LINKNAME, W_LINKNAME),
      format,
      extensions: pending,
      mode: parseOctal(header, F_MODE, W_MODE),
      mtime: parseOctal(header, F_MTIME, W_MTIME),
    });
    pending = [];
    longName = longLink = paxPath = paxLink = undefined;
    paxSize = undefined;
    pos = next;
  }
}

/** Called at the first zero block: checks for the second one and for anything after them. */
function finish(bytes: Uint8Array, pos: number, pending: string[], entries: TarEntry[], diagnostics: Diagnostic[], where: { file: string; line: number; column: number } | undefined): TarResult {
  if (pending.length > 0) {
    diagnostics.push(warning('tar.dangling-extension', `end-of-archive marker at offset ${pos} follows an extension header (${pending.join(', ')}) with no entry for it to apply to`, where));
  }
  const second = pos + TAR_BLOCK;
  let terminator: TarResult['terminator'] = 'zero-blocks';
  if (second + TAR_BLOCK > bytes.length || !isZero(bytes, second, second + TAR_BLOCK)) {
    terminator = 'single-zero-block';
    diagnostics.push(warning('tar.lone-zero-block', `a lone zero block at offset ${pos} ends the archive (the end-of-archive marker is two zero blocks)`, where));
  }
  const firstNonZero = findNonZero(bytes, pos, bytes.length);
  if (firstNonZero >= 0) {
    diagnostics.push(warning('tar.trailing-data', `non-zero data at offset ${firstNonZero}, after the end-of-archive marker at offset ${pos}`, where));
  }
  return { entries, diagnostics, terminator, end: pos };
}

function formatOf(h: Uint8Array): TarFormat {
  const m = latin1(h, F_MAGIC, F_MAGIC + 8);
  if (m.startsWith('ustar\0')) return 'ustar';
  if (m === 'ustar  \0') return 'gnu';
  return 'v7';
}

/**
 * Header checksum: the sum of all 512 bytes with the checksum field counted as eight spaces.
 * Some historic writers summed signed chars, so both sums are returned and either is accepted.
 */
function checksumOf(h: Uint8Array): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK; i++) {
    const b = i >= F_CHKSUM && i < F_CHKSUM + W_CHKSUM ? 0x20 : h[i]!;
    unsigned += b;
    signed += b >= 0x80 ? b - 0x100 : b;
  }
  return { unsigned, signed };
}

/**
 * numeric-field = *SP 1*octal-digit ( NUL / SP ) *( NUL / SP ) ; or the whole field, digits only.
 * Returns undefined for anything else (an empty field, stray characters).
 */
function parseOctal(h: Uint8Array, off: number, width: number): number | undefined {
  let i = off;
  const end = off + width;
  while (i < end && h[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  while (i < end && h[i]! >= 0x30 && h[i]! <= 0x37) {
    value = value * 8 + (h[i]! - 0x30);
    digits++;
    i++;
  }
  if (digits === 0) return undefined;
  for (; i < end; i++) if (h[i] !== 0 && h[i] !== 0x20) return undefined;
  return value;
}

/**
 * The size field: octal text, or GNU base-256 (first byte 0x80, then a big-endian number) for
 * sizes of 8 GiB and more. Negative base-256 values (first byte 0xff) are invalid as a size.
 */
function readSize(h: Uint8Array): number | undefined {
  const first = h[F_SIZE]!;
  if (first & 0x80) {
    if (first !== 0x80) return undefined;
    let v = 0;
    for (let i = F_SIZE + 1; i < F_SIZE + W_SIZE; i++) {
      v = v * 256 + h[i]!;
      if (!Number.isSafeInteger(v)) return undefined;
    }
    return v;
  }
  return parseOctal(h, F_SIZE, W_SIZE);
}

/**
 * pax-data = *record ; record = length SP keyword "=" value LF, where `length` is the decimal
 * byte count of the whole record, its own digits included.
 * Returns the keywords this reader uses, or a message saying what is malformed.
 */
function parsePax(data: Uint8Array): { path?: string; linkpath?: string; size?: string } | string {
  const out: { path?: string; linkpath?: string; size?: string } = {};
  let i = 0;
  while (i < data.length) {
    let j = i;
    let len = 0;
    while (j < data.length && data[j]! >= 0x30 && data[j]! <= 0x39 && j - i < 16) {
      len = len * 10 + (data[j]! - 0x30);
      j++;
    }
    if (j === i || data[j] !== 0x20) return `record at byte ${i} does not start with a length and a space`;
    const recEnd = i + len;
    if (len <= j - i + 1 || recEnd > data.length || data[recEnd - 1] !== 0x0a) {
      return `record at byte ${i} has length ${len}, which does not end on a newline inside the header`;
    }
    const body = data.subarray(j + 1, recEnd - 1);
    const eq = body.indexOf(0x3d);
    if (eq <= 0) return `record at byte ${i} has no keyword=value`;
    const key = Buffer.from(body.buffer, body.byteOffset, eq).toString('utf8');
    const value = Buffer.from(body.buffer, body.byteOffset + eq + 1, body.length - eq - 1).toString('utf8');
    if (key === 'path') out.path = value;
    else if (key === 'linkpath') out.linkpath = value;
    else if (key === 'size') out.size = value;
    i = recEnd;
  }
  return out;
}

function cString(h: Uint8Array, off: number, width: number): string {
  return latin1(h, off, indexOfZero(h, off, off + width));
}

function indexOfZero(b: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) if (b[i] === 0) return i;
  return to;
}

function latin1(b: Uint8Array, from: number, to: number): string {
  return Buffer.from(b.buffer, b.byteOffset + from, Math.max(0, to - from)).toString('latin1');
}

function quoteField(h: Uint8Array, off: number, width: number): string {
  return JSON.stringify(latin1(h, off, off + width));
}

function isZero(b: Uint8Array, from: number, to: number): boolean {
  return findNonZero(b, from, to) < 0;
}

function findNonZero(b: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) if (b[i] !== 0) return i;
  return -1;
}
