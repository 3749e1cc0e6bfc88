/**
 * HWP 3.x documents (CL_TYPE_HWP3, "HWP Document File V3.00") → their embedded files and body,
 * as ClamAV 1.4 scans them (`cli_scanhwp3` in libclamav/hwp.c).
 *
 * In: the bytes of the document and the scan's limits. Out, lazily, in ClamAV's order:
 * - after the 30-byte identity, the 128-byte document information (write protection, password,
 *   compression, size of the information block #0) and the 1008-byte summary: nothing when the
 *   document is password-protected;
 * - the document body (after information block #0): raw deflate to the end of the file when the
 *   compression byte is set, else in place. ClamAV walks it: 7 font tables, the styles, the
 *   paragraph lists (recursively into table cells, drawings, captions, hidden descriptions,
 *   headers/footers and footnotes, at most MaxRecHWP3 levels deep), then the "additional
 *   information blocks #1", scanning as it goes: image data (after a 32-byte header), OLE2 data
 *   (an HWP embedded OLE2 file, a 4-byte size first), hyperlink macros (325 bytes of each 617-byte
 *   entry), background images (after 324 bytes) and blocks of unknown kinds whole;
 * - when the walk ended cleanly (terminating block reached), the body as far as it was walked.
 *
 * Any damage ends the walk where ClamAV's does, and a walk that fails before its end gives no
 * body (a paragraph nested past the limit too: ClamAV returns CL_EMAXREC without an alert). A
 * compressed body that fails to inflate or passes MaxFileSize (or what is left of MaxScanSize) is
 * scanned as inflated so far, not walked (see `hwp-inflate.ts`). Children are cut as ClamAV's
 * nested maps cut them: a length of 0 (or one that wrapped below 0 in 32 bits) means "to the end",
 * a child of 5 bytes or fewer is not scanned.
 *
 * One quirk of ClamAV's is kept because it changes what is scanned: the inflated body is a file
 * mapped afresh, read through a page cache of 4 KiB pages, and the last page is filled only up to
 * the end of the first map that reads it. When a child scanned in place ends inside that page
 * before the walk read it, the rest of the page reads as zeros from then on (often as the
 * terminating block), and so does the tail of the body scanned last.
 *
 * Why by hand: there is no HWP 3 tool; the layout is the one ClamAV's parser reads (offsets in the
 * published HWP 3.0 specification). The paragraph walk keeps its own stack (no recursion), so a
 * deep nesting costs memory in proportion to the input only. Never throws.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { hwpInflate } from './hwp-inflate.js';

/** ClamAV's default MaxRecHWP3. */
export const DEFAULT_MAX_REC_HWP3 = 16;

const IDENTITY = 30;
const DOCINFO = 128;
const SUMMARY = 1008;
const PARA_SHORT = 43;
const PARA_LONG = 230;
const LINE_INFO = 14;
const CHAR_SHAPE = 31;

/** Fixed sizes of the special characters that carry no length and no paragraph list. */
const FIXED_SPECIAL: Readonly<Record<number, number>> = {
  6: 42, 7: 84, 8: 96, 9: 8, 14: 92, 18: 8, 19: 8, 20: 8, 21: 8, 22: 24, 23: 10, 24: 6, 25: 6, 26: 246, 28: 64, 30: 4, 31: 4,
};
/** Special characters followed by a 4-byte length of information. */
const LENGTH_SPECIAL = new Set([0, 1, 2, 3, 4, 5, 12, 27, 29]);
/** Special characters with a fixed header and then one paragraph list. */
const LIST_SPECIAL: Readonly<Record<number, number>> = { 15: 16, 16: 18, 17: 22 };

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

/** A failed walk: ClamAV's error code, for the tests and the debugging of samples. */
export type Hwp3Error = 'read' | 'parse' | 'format' | 'maxrec';

/** Walks the paragraph lists from `offset`; the offset after them, or the reason it failed. */
export function walkParagraphs(b: Uint8Array, offset: number, maxRec: number): number | Hwp3Error {
  const len = b.length;
  // Lists to read (a count of lists left at a level) and paragraphs whose content is being read.
  type Frame = { lists: number; level: number } | { level: number; para: true };
  const stack: Frame[] = [{ lists: 1, level: 0 }];
  let off = offset;
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if ('lists' in top) {
      if (top.lists === 0) { stack.pop(); continue; }
      // One paragraph of the current list.
      const level = top.level;
      if (level >= maxRec) return 'maxrec';
      if (off + 6 > len) return 'read';
      const ppfs = b[off]!, nchars = u16(b, off + 1), nlines = u16(b, off + 3), ifsc = b[off + 5]!;
      if (nchars === 0) {
        // An empty paragraph ends the list.
        off += PARA_SHORT;
        top.lists--;
        continue;
      }
      off += ppfs ? PARA_SHORT : PARA_LONG;
      const next = off + nlines * LINE_INFO;
      if (next >= len) return 'parse';
      off = next;
      if (ifsc) {
        for (let i = 0; i < nchars; i++) {
          if (off >= len) return 'read';
          const cfsb = b[off++]!;
          if (cfsb === 0) off += CHAR_SHAPE;
          else if (cfsb !== 1) return 'parse';
        }
      }
      stack.push({ level, para: true });
      continue;
    }
    // The content of a paragraph, up to its end-of-paragraph mark (or the end of the data).
    const level = top.level;
    let lists = 0;
    while (off < len) {
      if (off + 2 > len) return 'read';
      const c = u16(b, off);
      if (c >= 32) { off += 2; continue; }
      if (c === 13) { off += 2; stack.pop(); lists = -1; break; }
      const fixed = FIXED_SPECIAL[c];
      if (fixed !== undefined) { off += fixed; continue; }
      if (LENGTH_SPECIAL.has(c)) {
        if (off + 6 > len) return 'read';
        const step = (8 + u32(b, off + 2)) >>> 0; // 32-bit arithmetic, as ClamAV's
        const next = off + step;
        if (next <= off || next > len) return 'parse';
        off = next;
        continue;
      }
      if (c === 10) {
        // Table, text box, equation, button: cells, each a paragraph list, then the caption.
        off += 8;
        if (off + 82 > len) return 'read';
        const ncells = u16(b, off + 80);
        off += 84;
        const next = off + 27 * ncells;
        if (next >= len) return 'parse';
        off = next;
        lists = ncells + 1;
        break;
      }
      if (c === 11) {
        // Drawing: 348 bytes + the image, then the caption.
        off += 8;
        if (off + 4 > len) return 'read';
        const next = off + ((348 + u32(b, off)) >>> 0);
        if (next <= off || next >= len) return 'parse';
        off = next;
        lists = 1;
        break;
      }
      const head = LIST_SPECIAL[c];
      if (head !== undefined) { off += head; lists = 1; break; }
      return 'parse'; // not reached: every code below 32 is known
    }
    if (lists > 0) { stack.push({ lists, level: level + 1 }); continue; }
    if (lists === 0) stack.pop(); // the data ended inside the paragraph
  }
  return off;
}

/**
 * ClamAV's page cache over a freshly mapped file (the inflated body): pages of 4 KiB loaded on
 * first use, and the last page loaded only up to the end of the map that first touched it. A
 * nested map (a child scanned in place) ending inside the last page, when that page was not read
 * before, leaves the rest of it as zeros for every later reader (`fmap_readpage` sizes the last
 * page by the requesting map's end). `bytes` is what readers see.
 */
class PageCache {
  bytes: Uint8Array;
  private lastLoaded: boolean;
  private readonly lastStart: number;
  constructor(map: Uint8Array, fresh: boolean) {
    this.bytes = map;
    this.lastLoaded = !fresh || map.length === 0;
    this.lastStart = map.length > 0 ? Math.floor((map.length - 1) / 4096) * 4096 : 0;
  }
  /** A read of [at, end) by a map ending at `mapEnd`. */
  touch(at: number, end: number, mapEnd: number): void {
    const len = this.bytes.length;
    if (this.lastLoaded || at >= len || Math.min(end, len) <= this.lastStart) return;
    this.lastLoaded = true;
    if (mapEnd >= len || mapEnd % 4096 === 0) return;
    const copy = Uint8Array.from(this.bytes);
    copy.fill(0, mapEnd);
    this.bytes = copy;
  }
}

/**
 * The body walk (`hwp3_cb`): fonts, styles, paragraphs, then the information blocks, each scanned
 * as met; the body itself last when the blocks ended cleanly. `fresh` when the body is a map of
 * its own that nothing read before (the inflated body).
 */
function* walkBody(data: Uint8Array, start: number, maxRec: number, prefix: string, fresh: boolean): Generator<UnpackItem> {
  const len = data.length;
  let off = start;
  for (let i = 0; i < 8; i++) {
    // 7 font tables of 40-byte names, then the 238-byte styles.
    if (off + 2 > len) return;
    const next = off + 2 + u16(data, off) * (i < 7 ? 40 : 238);
    if (next >= len) return;
    off = next;
  }
  const walked = walkParagraphs(data, off, maxRec);
  if (typeof walked !== 'number') return;
  off = walked;
  const cache = new PageCache(data, fresh);
  /** A child scanned in place: read whole by its scan (ClamAV hashes it first). */
  const nested = (o: number, length: number): Uint8Array | undefined => {
    const map = cache.bytes;
    if (o >= map.length) return undefined;
    const rest = map.length - o;
    const n = length === 0 || length > rest ? rest : length;
    if (n <= 5) return undefined;
    cache.touch(o, o + n, o + n);
    return cache.bytes.subarray(o, o + n);
  };
  for (;;) {
    const at = off;
    cache.touch(off, off + 4, len);
    if (off + 4 > len) return;
    const id = u32(cache.bytes, off);
    off += 4;
    if (id === 5) continue; // booking information: no length, no content
    cache.touch(off, off + 4, len);
    if (off + 4 > len) return;
    const size = u32(cache.bytes, off);
    off += 4;
    if (off + size > len) return;
    if (id === 0) {
      if (size !== 0) return;
      break;
    }
    let child: Uint8Array | undefined;
    switch (id) {
      case 1: // image data after its name and format
        if (size > 0) child = nested(off + 32, (size - 32) >>> 0);
        break;
      case 2: // OLE2 data (CL_TYPE_HWPOLE2)
        if (size > 0) child = nested(off, size);
        break;
      case 3: { // hyperlinks: the macro part of each 617-byte entry
        if (size % 617) return;
        for (let k = 0; k < size / 617; k++) {
          const m = nested(off + 617 * k + 288, 325);
          if (m) yield { name: `${prefix}hyperlink@${at}/${k}`, data: m };
        }
        break;
      }
      case 4: case 0x100: case 0x101:
        break;
      case 6: // background image after its 324-byte header
        if (size > 0) child = nested(off + 324, (size - 324) >>> 0);
        break;
      default:
        if (size > 0) child = nested(off, size);
    }
    if (child) yield { name: `${prefix}infoblock${id}@${at}`, data: child };
    off += size;
  }
  const body = nested(start, off - start);
  if (body) yield { name: `${prefix}body`, data: body };
}

export function* hwp3Layers(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  const maxRec = ctx.options.maxRecHwp3 ?? DEFAULT_MAX_REC_HWP3;
  if (bytes.length < IDENTITY + DOCINFO) return;
  const info = IDENTITY;
  const passwd = u16(bytes, info + 96);
  const compressed = bytes[info + 124]!;
  const infoBlockSize = u16(bytes, info + 126);
  let off = IDENTITY + DOCINFO + SUMMARY;
  if (passwd) return;
  if (infoBlockSize) {
    const next = off + infoBlockSize;
    if (next >= bytes.length) return;
    off = next;
  }
  if (!compressed) {
    yield* walkBody(bytes, off, maxRec, '', false);
    return;
  }
  if (off >= bytes.length) return;
  const r = hwpInflate(bytes.subarray(off), ctx, bytes.length);
  if (r.limited) {
    yield { name: 'hwp3-body', limit: r.limited };
    if (r.data.length > 0) yield { name: 'hwp3-body', data: r.data };
    return;
  }
  if (r.state === 'error') {
    if (r.data.length > 0) yield { name: 'hwp3-body', data: r.data };
    return;
  }
  yield* walkBody(r.data, 0, maxRec, 'hwp3-body/', true);
}
