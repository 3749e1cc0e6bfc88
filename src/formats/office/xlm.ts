/**
 * Excel BIFF8 workbook streams → the record listing ClamAV 1.4 scans when a workbook holds an
 * Excel 4 (XLM) macro sheet or a drawing, and the images of the drawing group.
 *
 * In: the bytes of a `Workbook` stream. Out: the listing as ClamAV writes it — a header line,
 * then one line per record: `%04x %6d   NAME` (the record number, its length, the name and
 * description ClamAV's table gives that number, `<unknown>` for none), followed for some
 * records by a decoding:
 * - FORMULA: ` - R<row>C<col> len=<n> ` and the parsed-expression tokens (` ptgStr`, ` ptgInt 7`,
 *   ` ptgFuncVar args 1 func EXEC (0x006e)`, ` ptgRef R1C~2`…) up to the first token ClamAV does
 *   not decode;
 * - NAME: ` - built-in-name 1 auto_open` or the user name; BOUNDSHEET: the sheet type and
 *   visibility (`Excel 4.0 macro sheet, very hidden`); STRING: the text;
 * - nothing more for the others (LABEL, SST, CONTINUE, FILEPASS: an encrypted workbook's records
 *   are listed with their encrypted data undecoded).
 * The MSODRAWINGGROUP records (and the CONTINUE records after them) are gathered and the BLIP
 * store read for images (PNG, JPEG, DIB, TIFF, EMF, WMF, PICT), each a child of its own.
 *
 * Why this exact model: body signatures are written against ClamAV's text, so the text must be
 * the same byte for byte, including ClamAV's quirks: the record data is read through one 8228-byte
 * buffer reused from record to record (a formula's tokens are read one byte past the record, a
 * STRING's 8-bit text from offset 6, a name until a NUL: stale bytes of earlier records show
 * through), bytes are signed chars (a byte from 0x80 sign-extends into the one above it: CALL,
 * 0x0096, prints as `<unknown function> (0xff96)`), an 8-bit ptgStr is written from the token
 * itself (its 3 header bytes, then all but the last 3 characters), `(null)` stands for a token
 * without a name, numbers print as C's `%f`, UTF-16 text is converted as iconv does (a string
 * that does not convert prints `<Failed to decode UTF16LE string>`).
 *
 * What is scanned: ClamAV writes the header line straight to the file, the records through a
 * stdio stream it never flushes before scanning, so the scan sees the header and only what the
 * 4096-byte stdio buffer had written out by then (whole buffers: nothing of a short listing).
 * A record longer than 8228 bytes or cut by the end of the stream ends the listing with nothing
 * scanned and no image extracted; a record header cut by the end ends it normally.
 *
 * Limits: the listing is kept up to `limit` bytes (ClamAV has no limit of its own; past it the
 * caller reports MaxFileSize). Linear time in the stream's length. Never throws.
 */
import { codepageToUtf8 } from './vba.js';
import { COMMAND_NAMES, FUNCTION_NAMES, RECORD_NAMES, TOKEN_NAMES } from './xlm-names.js';

/** The line ClamAV writes before the records. */
export const XLM_HEADER = '-- BIFF content extracted and disassembled from CL_TYPE_MSXL .xls file because a XLM macro was found in the document\n';

/** ClamAV's largest record (a longer one ends the listing). */
const MAX_RECORD = 8228;
/** glibc's stdio buffer for the temporary file (its block size). */
const STDIO_BUFFER = 4096;

const OPC_FORMULA = 0x06, OPC_NAME = 0x18, OPC_CONTINUE = 0x3c, OPC_BOUNDSHEET = 0x85, OPC_MSODRAWINGGROUP = 0xeb, OPC_STRING = 0x207;

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

/**
 * The bytes written through a fully buffered stdio stream: all of them (up to a limit), and how
 * many had reached the file (glibc's `xsputn`: a write fills the buffer, a full buffer is written
 * out when more comes, and whole buffers of a long write go straight to the file). Each call is
 * one write; consecutive short writes (under 4096 bytes together) may be made as one.
 */
class StdioModel {
  private buf: Uint8Array;
  length = 0;
  /** Bytes the file holds (written out of the buffer). */
  flushed = 0;
  /** Set when the listing passed the limit (nothing more is kept or counted then). */
  overflowed = false;
  private fill = 0;
  private allocated = false;

  constructor(private readonly limit: number) {
    this.buf = new Uint8Array(Math.min(64 * 1024, Math.max(16, limit)));
  }

  private account(n: number): void {
    if (this.allocated) {
      const take = Math.min(STDIO_BUFFER - this.fill, n);
      this.fill += take;
      n -= take;
    }
    if (n > 0) {
      if (this.allocated) this.flushed += this.fill;
      this.allocated = true;
      const direct = n - (n % STDIO_BUFFER);
      this.flushed += direct;
      this.fill = n - direct;
    }
  }

  /** Room for `n` more bytes; false (and overflowed) past the limit. */
  private room(n: number): boolean {
    if (this.overflowed || this.length + n > this.limit) { this.overflowed = true; return false; }
    if (this.length + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.length + n) size *= 2;
      const next = new Uint8Array(Math.min(size, this.limit));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    return true;
  }

  write(b: Uint8Array, from = 0, to = b.length): void {
    const n = to - from;
    if (n <= 0 || !this.room(n)) return;
    this.buf.set(b.subarray(from, to), this.length);
    this.length += n;
    this.account(n);
  }

  /** A short write of characters below 0x100. */
  text(s: string): void {
    const n = s.length;
    if (n === 0 || !this.room(n)) return;
    const buf = this.buf;
    let at = this.length;
    for (let i = 0; i < n; i++) buf[at++] = s.charCodeAt(i);
    this.length = at;
    this.account(n);
  }

  /** A record's line start, `%04x %6d   NAME`, as one short write (`name` is the ` ` and name bytes). */
  recordHeader(opcode: number, length: number, name: Uint8Array): void {
    const digits = length < 10 ? 1 : length < 100 ? 2 : length < 1000 ? 3 : length < 10000 ? 4 : 5;
    const n = 4 + 1 + 6 + name.length;
    if (!this.room(n)) return;
    const buf = this.buf;
    let at = this.length;
    for (let k = 12; k >= 0; k -= 4) buf[at++] = HEX[(opcode >>> k) & 0xf]!;
    buf[at++] = 0x20;
    for (let k = digits; k < 6; k++) buf[at++] = 0x20;
    for (let k = digits - 1, v = length; k >= 0; k--, v = Math.floor(v / 10)) buf[at + k] = 0x30 + (v % 10);
    at += digits;
    buf.set(name, at);
    this.length = at + name.length;
    this.account(n);
  }

  /** The bytes kept. */
  view(): Uint8Array { return this.buf.subarray(0, this.length); }
}

const HEX = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
/** `   NAME` for each record number (names are ASCII), made on first use. */
const RECORD_LABELS = new Map<number, Uint8Array>();
function recordLabel(opcode: number): Uint8Array {
  let label = RECORD_LABELS.get(opcode);
  if (!label) {
    label = ascii(`   ${RECORD_NAMES[opcode] ?? '<unknown>'}`);
    if (RECORD_LABELS.size < 4096) RECORD_LABELS.set(opcode, label);
  }
  return label;
}

/** C's `%f` as glibc prints a double: six decimals, exact value rounded half to even. */
export function formatF(x: number): string {
  if (Number.isNaN(x)) {
    const dv = new DataView(new ArrayBuffer(8));
    dv.setFloat64(0, x);
    return dv.getUint8(0) & 0x80 ? '-nan' : 'nan';
  }
  const neg = x < 0 || Object.is(x, -0);
  if (!Number.isFinite(x)) return neg ? '-inf' : 'inf';
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, Math.abs(x));
  const hi = dv.getUint32(0), lo = dv.getUint32(4);
  const exp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (exp === 0) e = -1074;
  else { mant |= 1n << 52n; e = exp - 1075; }
  let q: bigint;
  if (e >= 0) q = (mant << BigInt(e)) * 1000000n;
  else {
    const num = mant * 1000000n;
    const den = 1n << BigInt(-e);
    q = num / den;
    const r2 = (num % den) * 2n;
    if (r2 > den || (r2 === den && (q & 1n) === 1n)) q += 1n;
  }
  const digits = q.toString().padStart(7, '0');
  return `${neg ? '-' : ''}${digits.slice(0, -6)}.${digits.slice(-6)}`;
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/** ClamAV's name of function number `id` (ftab, or command-equivalent from 0x8000). */
function functionName(id: number): string {
  const name = id < FUNCTION_NAMES.length ? FUNCTION_NAMES[id] : id >= 0x8000 ? COMMAND_NAMES[id - 0x8000] : undefined;
  return name ?? '<unknown function>';
}

export interface XlmListing {
  /** The listing (without the header line), as ClamAV writes it, up to the limit. */
  text: Uint8Array;
  /** Set when the listing passed the limit. */
  overflowed: boolean;
  /**
   * What ClamAV scans: the header line and the part of the listing that reached the file;
   * undefined when the records ended in error (nothing is scanned then, no image is given, and
   * ClamAV's extraction returns an error).
   */
  scanned: Uint8Array | undefined;
  /** The drawing group's bytes (MSODRAWINGGROUP and its CONTINUE records), when there was one and the listing was scanned. */
  drawingGroup: Uint8Array | undefined;
}

/** The record listing of a BIFF stream, as `cli_extract_xlm_macros_and_images` writes it. */
export function xlmListing(stream: Uint8Array, limit: number): XlmListing {
  const out = new StdioModel(limit);
  // The record buffer, kept from record to record; bytes never written read as zeros.
  const data = new Uint8Array(MAX_RECORD + 64);
  const u8 = (i: number): number => data[i] ?? 0;
  const s8 = (i: number): number => (u8(i) << 24) >> 24;
  // `data[i] | (data[i + 1] << 8)` with signed chars, kept in 16 bits.
  const u16q = (i: number): number => (s8(i) | (s8(i + 1) << 8)) & 0xffff;

  const dg: Uint8Array[] = [];
  let dgStarted = false;
  let dgLength = 0;
  let previous = 0;
  let pos = 0;
  let failed = false;

  /** `%.*s`: at most `max` bytes from `at` (all when `max` is negative), stopping at a NUL. */
  const cString = (at: number, max: number): void => {
    let end = at;
    const stop = max < 0 ? data.length : Math.min(data.length, at + max);
    while (end < stop && data[end] !== 0) end++;
    out.write(data, at, end);
  };

  const utf16 = (at: number, size: number): void => {
    const from = Math.min(at, data.length);
    const bytes = data.subarray(from, Math.min(data.length, at + size));
    const padded = bytes.length === size ? bytes : Uint8Array.from({ length: size }, (_, k) => bytes[k] ?? 0);
    const utf8 = size > 0 ? codepageToUtf8(padded, 1200) : undefined;
    if (utf8) out.write(utf8);
    else out.text('<Failed to decode UTF16LE string>');
  };

  const ref = (row: number, col: number): string =>
    `R${row & 0x4000 ? '~' : ''}${(row & 0x3fff) + (row & 0x4000 ? 0 : 1)}C${row & 0x8000 ? '~' : ''}${col + (row & 0x8000 ? 0 : 1)}`;

  /** The parsed expression from offset 22 (`size` bytes, one past the record), up to the first token ClamAV gives up on. */
  const formula = (size: number): void => {
    const base = 22;
    let p = 0;
    while (p < size) {
      const b = u8(base + p);
      const ptg = b & 0x7f;
      if (b < TOKEN_NAMES.length) out.text(` ${TOKEN_NAMES[b] ?? '(null)'}`);
      const at = base + p;
      switch (ptg) {
        case 0x03: case 0x04: case 0x05: case 0x06: case 0x08: case 0x09: case 0x0a: case 0x0b:
        case 0x0c: case 0x0d: case 0x0e: case 0x16: case 0x11:
          p += 1;
          break;
        case 0x17: {
          if (p + 2 >= size) return;
          const n = s8(at + 1);
          const flag = s8(at + 2);
          if (flag === 1 && ((p + 2 + 2 * n) >>> 0) <= size) {
            const len = n < 0 || 2 * n > size - p ? size - p : 2 * n;
            utf16(at + 3, len);
            p += 3 + len;
          } else if (flag === 0 && ((p + 2 + n) >>> 0) <= size) {
            const len = n < 0 || n > size - p ? size - p : n;
            out.write(data, at, Math.min(data.length, at + len));
            p += 3 + len;
          } else return;
          break;
        }
        case 0x19:
          if (p + 1 >= size) return;
          if (s8(at + 1) & 0x40) {
            if (p + 3 >= size) return;
            const offsets = u16q(at + 2);
            out.text(` CHOOSE (${offsets + 1})`);
            p += 4 + 2 * (offsets + 1);
          } else p += 4;
          break;
        case 0x1d:
          if (p + 1 >= size) return;
          out.text(u8(at + 1) ? ' TRUE' : ' FALSE');
          p += 2;
          break;
        case 0x1e:
          if (p + 2 >= size) return;
          out.text(` ${s8(at + 1) | (s8(at + 2) << 8)}`);
          p += 3;
          break;
        case 0x21: case 0x41: case 0x61: {
          if (p + 2 >= size) return;
          const id = u16q(at + 1);
          out.text(` ${functionName(id)} (0x${hex(id, 4)})`);
          p += 3;
          break;
        }
        case 0x22: case 0x42: case 0x62: {
          if (p + 3 >= size) return;
          const id = u16q(at + 2);
          out.text(` args ${s8(at + 1) >>> 0} func ${functionName(id)} (0x${hex(id, 4)})`);
          p += 4;
          if (id === 0x806d) p += 9;
          break;
        }
        case 0x23:
          if (p + 4 >= size) return;
          out.text(` 0x${hex((s8(at + 1) | (s8(at + 2) << 8) | (s8(at + 3) << 16) | (s8(at + 4) << 24)) >>> 0, 8)}`);
          p += 5;
          break;
        case 0x1f: {
          if (p + 8 >= size) return;
          const dv = new DataView(data.buffer, data.byteOffset + at + 1, 8);
          out.text(` ${formatF(dv.getFloat64(0, true))}`);
          p += 9;
          break;
        }
        case 0x26:
          if (p + 6 >= size) return;
          out.text(' REFERENCE-EXPRESSION');
          p += 7;
          break;
        case 0x01:
          if (p + 4 >= size) return;
          out.text(` R${u16q(at + 1) + 1}C${u16q(at + 3) + 1}`);
          p += 5;
          break;
        case 0x24: case 0x44:
          if (p + 4 >= size) return;
          out.text(` ${ref(u16q(at + 1), u16q(at + 3))}`);
          p += 5;
          break;
        case 0x25:
          if (p + 8 >= size) return;
          out.text(` ${ref(u16q(at + 1), u16q(at + 3))}:${ref(u16q(at + 5), u16q(at + 7))}`);
          p += 9;
          break;
        case 0x3a: case 0x5a:
          if (p + 6 >= size) return;
          out.text(` ${ref(u16q(at + 3), u16q(at + 5))}`);
          p += 7;
          break;
        case 0x39:
          if (p + 6 >= size) return;
          out.text(` NAMEIDX ${u16q(at + 3)}`);
          p += 7;
          break;
        default:
          return;
      }
    }
  };

  while (pos + 4 <= stream.length) {
    const opcode = stream[pos]! | (stream[pos + 1]! << 8);
    const length = stream[pos + 2]! | (stream[pos + 3]! << 8);
    pos += 4;
    if (out.overflowed) {
      // Past the limit the listing is not given: only what decides ClamAV's result is followed.
      if (length > MAX_RECORD || pos + length > stream.length) { failed = true; break; }
      pos += length;
      if (opcode === OPC_MSODRAWINGGROUP || (opcode === OPC_CONTINUE && previous === OPC_MSODRAWINGGROUP && dgStarted)) {
        if (dgStarted && dgLength + length === 0) { failed = true; break; }
        dgStarted = true;
        dgLength += length;
        dg.push(stream.slice(pos - length, pos));
      }
      if (opcode !== OPC_CONTINUE) previous = opcode;
      continue;
    }
    out.recordHeader(opcode, length, recordLabel(opcode));
    if (length > MAX_RECORD || pos + length > stream.length) { failed = true; break; }
    data.set(stream.subarray(pos, pos + length));
    pos += length;

    switch (opcode) {
      case OPC_FORMULA:
        if (length >= 21) {
          out.text(` - R${u16q(0) + 1}C${u16q(2) + 1} len=${u16q(20)} `);
          formula(length - 21);
        }
        break;
      case OPC_NAME:
        if (length >= 16) {
          if (s8(0) & 0x20) {
            const code = s8(14) !== 0 ? s8(14) : s8(15);
            out.text(` - built-in-name ${code >>> 0} ${code === 1 ? 'auto_open' : code === 2 ? 'auto_close' : '?'}`);
          } else {
            const offset = s8(14) !== 0 ? 14 : 15;
            const nameLen = Math.min(s8(3) | (s8(4) << 8), length - offset);
            out.text(' - ');
            cString(offset, nameLen);
          }
        }
        break;
      case OPC_MSODRAWINGGROUP:
      case OPC_CONTINUE:
        if (opcode === OPC_CONTINUE && (previous !== OPC_MSODRAWINGGROUP || !dgStarted)) break;
        // ClamAV grows the group with a reallocation that refuses a size of 0 (it then gives up
        // the whole listing with an out-of-memory error).
        if (dgStarted && dgLength + length === 0) failed = true;
        dgStarted = true;
        dgLength += length;
        dg.push(stream.slice(pos - length, pos));
        break;
      case OPC_BOUNDSHEET:
        if (length >= 6) {
          const state = ['visible', 'hidden', 'very hidden'][u8(4)] ?? 'unknown visibility';
          const t = u8(5);
          const type = t === 0 ? 'worksheet or dialog sheet' : t === 1 ? 'Excel 4.0 macro sheet' : t === 2 ? 'chart' : t === 6 ? 'Visual Basic module' : 'unknown type';
          out.text(` - ${type}, ${state}`);
        }
        break;
      case OPC_STRING:
        if (length >= 4) {
          if (!(u8(2) & 1)) {
            out.text(' - "');
            cString(6, length - 3);
            out.text('"');
          } else {
            out.text(' - ');
            utf16(3, Math.min(u16q(0), length - 3));
          }
        }
        break;
      default:
        break;
    }
    if (failed) break;
    out.text('\n');
    if (opcode !== OPC_CONTINUE) previous = opcode;
  }

  const text = out.view();
  if (failed) return { text, overflowed: out.overflowed, scanned: undefined, drawingGroup: undefined };
  const header = ascii(XLM_HEADER);
  const shown = Math.min(out.flushed, text.length);
  const scanned = new Uint8Array(header.length + shown);
  scanned.set(header);
  scanned.set(text.subarray(0, shown), header.length);
  let drawingGroup: Uint8Array | undefined;
  if (dgStarted) {
    drawingGroup = new Uint8Array(dg.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of dg) { drawingGroup.set(c, at); at += c.length; }
  }
  return { text, overflowed: out.overflowed, scanned, drawingGroup };
}

/** An image of the drawing group: its type name (PNG, JPEG…) and its bytes (a view of the group). */
export interface XlmImage {
  type: string;
  data: Uint8Array;
}

const rd16 = (b: Uint8Array, p: number): number => (b[p] ?? 0) | ((b[p + 1] ?? 0) << 8);
const rd32 = (b: Uint8Array, p: number): number => (rd16(b, p) | (rd16(b, p + 2) << 16)) >>> 0;

interface ArtHeader { ver: number; instance: number; type: number; len: number }
const artHeader = (b: Uint8Array, p: number): ArtHeader => {
  const vi = rd16(b, p);
  return { ver: vi & 0xf, instance: vi >>> 4, type: rd16(b, p + 2), len: rd32(b, p + 4) };
};

/** Bytes ClamAV skips between a BLIP record's header and its image, by type and instance (0: not an image it knows). */
function blipSkip(h: ArtHeader): { skip: number; type: string } {
  const pick = (type: string, one: number[], two: number[], extra: number): { skip: number; type: string } => ({
    type, skip: one.includes(h.instance) ? 16 + extra : two.includes(h.instance) ? 32 + extra : 0,
  });
  switch (h.type) {
    case 0xf01a: return pick('EMF', [0x3d4], [0x3d5], 34);
    case 0xf01b: return pick('WMF', [0x216], [0x217], 34);
    case 0xf01c: return pick('PICT', [0x542], [0x543], 34);
    case 0xf01d: case 0xf02a: return pick('JPEG', [0x46a, 0x6e2], [0x46b, 0x6e3], 1);
    case 0xf01e: return pick('PNG', [0x6e0], [0x6e1], 1);
    case 0xf01f: return pick('DIB', [0x7a8], [0x7a9], 1);
    case 0xf029: return pick('TIFF', [0x6e4], [0x6e5], 1);
    default: return { skip: 0, type: '' };
  }
}

/**
 * The images of a drawing group (OfficeArtDggContainer), as ClamAV finds them: in each BLIP
 * store (0xF001) of the container, the BLIPs inside FBSE records (0xF007) and bare BLIP records
 * (0xF018–0xF117); an image runs from after the BLIP's UIDs and tag (or metafile header) for the
 * record's length, cut by the bytes left. `ok` is false where ClamAV's reader returns an error
 * (an empty or unrecognised group, a record header cut short before any image of its store) —
 * which ends the rest of ClamAV's OLE2 scan when it is the first workbook's.
 */
export function xlmImages(dg: Uint8Array): { images: XlmImage[]; ok: boolean } {
  const images: XlmImage[] = [];
  if (dg.length < 8) return { images, ok: false };
  const top = artHeader(dg, 0);
  if (top.ver !== 0xf || top.instance !== 0 || top.type !== 0xf000) return { images, ok: false };

  const blip = (h: ArtHeader, p: number, remaining: number): void => {
    const { skip, type } = blipSkip(h);
    if (skip === 0 || remaining < 8 + skip) return;
    const size = Math.min(h.len, remaining - 8 - skip);
    images.push({ type, data: dg.subarray(p + 8 + skip, p + 8 + skip + size) });
  };

  /** One BLIP store; false where ClamAV's reader fails before it processed a BLIP. */
  const store = (p: number, remaining: number): boolean => {
    let ok = false;
    while (remaining > 0) {
      if (remaining < 8) return ok;
      const h = artHeader(dg, p);
      if (h.type === 0xf007) {
        if (remaining - 8 >= 36) {
          const fbse = p + 8;
          const size = rd32(dg, fbse + 20);
          const cbName = dg[fbse + 33] ?? 0;
          if (cbName <= remaining - 8 - 36) {
            const inner = fbse + 36 + cbName;
            let innerSize = remaining - 8 - 36 - cbName;
            if (size <= innerSize) innerSize = size;
            if (innerSize < 8) return ok;
            blip(artHeader(dg, inner), inner, innerSize);
            ok = true;
          }
        }
      } else if (h.type >= 0xf018 && h.type <= 0xf117) {
        blip(h, p, remaining);
        ok = true;
      }
      if (remaining < 8 + h.len) remaining = 0;
      else { remaining -= 8 + h.len; p += 8 + h.len; }
    }
    return true;
  };

  let at = 8;
  let left = dg.length - 8;
  let ok = false;
  while (left > 0) {
    if (left < 8) return { images, ok };
    const h = artHeader(dg, at);
    if (h.ver === 0xf && h.type === 0xf001) {
      const len = left - 8;
      ok = store(at + 8, h.len <= len ? h.len : len);
      if (!ok) return { images, ok };
    }
    if (left < 8 + h.len) left = 0;
    else { left -= 8 + h.len; at += 8 + h.len; }
  }
  return { images, ok: true };
}
