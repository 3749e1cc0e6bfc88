/**
 * XAR archives (CL_TYPE_XAR: macOS `.pkg` installers, Safari extensions) → the table of contents
 * and every file's data, as ClamAV 1.4's `cli_scanxar` extracts them.
 *
 * In: the archive from its `xar!` magic. Out, lazily: the table of contents (zlib-compressed XML
 * after the header, inflated whole: ClamAV 1.4.6 ignores the size the header declares) as a child; then each `<subdoc>`'s inner
 * XML before the `<toc>` element; then, for each `<data>` or `<ea>` element with an `<offset>`,
 * `<length>` and `<size>`, the extent at heap start (header size + compressed TOC size) + offset:
 * inflated for `application/x-gzip` (zlib, despite the name), LZMA-alone decoded for
 * `application/x-lzma`, and copied as stored for anything else (bzip2 and xz extents are then
 * opened as children by their own type). Checksums are not enforced (ClamAV only logs them).
 *
 * ClamAV's rules kept here: a TOC that fails to inflate to its end (damaged, cut short, over 1 GiB),
 * or whose bytes are not all in the file, ends the scan; the XML walk stops at the first well-formedness error; a `<data>` with some but
 * not all of offset/length/size ends the walk; an extent whose inflation or LZMA decoding fails is
 * not scanned, one cut short is scanned as far as it went; a stored extent is cut to MaxFileSize,
 * a decoded one over MaxFileSize is reported as that limit; a stored or LZMA extent that starts
 * past the end of the file ends the scan (ClamAV's read fails there). Known difference: a subdoc
 * is given as its source text, where libxml2 re-serialises it.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { inflateLikeClamav } from '../office/inflate.js';
import { lzmaAloneDecode } from '../compress/lzma.js';
import { LIMIT } from '../compress/common.js';
import { xmlAttr, xmlDocumentNodes, type XmlNode } from '../xmlreader.js';

const MAGIC = 0x78617221;
const HEADER = 28;
/** libclamav's largest single allocation (CLI_MAX_ALLOCATION). */
const MAX_ALLOCATION = 1 << 30;

const u16be = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const u32be = (b: Uint8Array, o: number): number => ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!;
const u64be = (b: Uint8Array, o: number): number => u32be(b, o) * 2 ** 32 + u32be(b, o + 4);

type Encoding = 'zlib' | 'lzma' | 'stored';

interface Extent { offset: number; length: number; encoding: Encoding }

/** `strtol` base 10 as ClamAV reads a number element: leading blanks, digits; negative or none is an error. */
function number(text: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)/.exec(text);
  if (!m) return undefined;
  const v = Number(m[2]);
  if (m[1] === '-' && v !== 0) return undefined;
  return Number.isSafeInteger(v) ? v : undefined;
}

/**
 * ClamAV's walk for the next extent: into a `<data>` or `<ea>`, its offset, length, size and
 * encoding, to its end; `done` when the document (or the `xar` element) ends first, `bad` when
 * only some of the three numbers were found.
 */
function nextExtent(nodes: Iterator<XmlNode>): Extent | 'done' | 'bad' {
  let inData = false, inEa = false;
  let offset: number | undefined, length: number | undefined, size: number | undefined;
  let encoding: Encoding = 'stored';
  // The number in the node right after an element start, when that node is text.
  const numberAfter = (): number | undefined => {
    const next = nodes.next();
    return !next.done && next.value.kind === 'text' ? number(next.value.value) : undefined;
  };
  for (let step = nodes.next(); !step.done; step = nodes.next()) {
    const node = step.value;
    if (inData || inEa) {
      if (node.kind === 'element') {
        if (node.local === 'offset') offset = numberAfter() ?? offset;
        else if (node.local === 'length') length = numberAfter() ?? length;
        else if (node.local === 'size') size = numberAfter() ?? size;
        else if (node.local === 'encoding') {
          const style = xmlAttr(node.attrs, 'style');
          encoding = style === 'application/x-gzip' ? 'zlib' : style === 'application/x-lzma' ? 'lzma' : 'stored';
        }
      } else if (node.kind === 'end' && ((inData && node.local === 'data') || (inEa && node.local === 'ea'))) {
        break;
      }
    } else if (node.kind === 'element') {
      if (node.local === 'data') inData = true;
      else if (node.local === 'ea') inEa = true;
    } else if (node.kind === 'end' && node.local === 'xar') {
      break;
    }
  }
  const got = [offset, length, size].filter((v) => v !== undefined).length;
  if (got === 3) return { offset: offset!, length: length!, encoding };
  return got === 0 ? 'done' : 'bad';
}

export function* xarMembers(b: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  if (b.length < HEADER || u32be(b, 0) !== MAGIC) return;
  const headerSize = u16be(b, 4);
  const tocPacked = u64be(b, 8);
    if (tocPacked === 0 || headerSize + tocPacked > b.length) return;
  // The whole stream is inflated whatever size the header declares; it must end within the allocation limit.
  const inflated = inflateLikeClamav(b.subarray(headerSize, headerSize + tocPacked), false, MAX_ALLOCATION);
  if (inflated.state !== 'ended') return;
  const toc = inflated.data;
  // ClamAV 1.4.6 checks the inflated TOC against MaxFileSize, and stops the archive there.
  if (ctx.limits.maxFileSize > 0 && toc.length > ctx.limits.maxFileSize) {
    yield { name: 'toc', limit: 'MaxFileSize', size: toc.length };
    return;
  }
  yield { name: 'toc', data: toc };

  const nodes = xmlDocumentNodes(toc, 'memory')[Symbol.iterator]();
  const maxFile = ctx.limits.maxFileSize > 0 ? ctx.limits.maxFileSize : Infinity;
  // Subdocuments, until the <toc> element starts.
  let subdocs = 0;
  for (let step = nodes.next(); !step.done; step = nodes.next()) {
    const node = step.value;
    if (node.kind !== 'element') continue;
    if (node.local === 'toc') break;
    if (node.local !== 'subdoc' || node.empty) continue;
    let depth = 0;
    let innerEnd = -1;
    for (let s = nodes.next(); !s.done; s = nodes.next()) {
      const v = s.value;
      if (v.kind === 'element' && !v.empty) depth++;
      else if (v.kind === 'end') {
        if (depth === 0) { innerEnd = v.start; break; }
        depth--;
      }
    }
    if (innerEnd < 0) return; // the document ended inside it: the reader failed
    const inner = toc.subarray(node.end, innerEnd);
    if (inner.length > 0) yield { name: `subdoc${subdocs++}`, data: inner };
  }

  const heap = headerSize + tocPacked;
  let index = 0;
  for (;;) {
    const ext = nextExtent(nodes);
    if (typeof ext === 'string') return;
    const name = `file${index++}`;
    const at = ext.offset + heap;
    if (ext.encoding === 'zlib') {
      const end = Math.min(b.length, at + ext.length);
      if (at >= end) continue; // nothing to read: an empty file
      const r = inflateLikeClamav(b.subarray(at, end), false, Number.isFinite(maxFile) ? maxFile + 1 : MAX_ALLOCATION);
      if (r.state === 'error') continue; // damaged: not scanned
      if (r.state === 'limit' || r.data.length > maxFile) yield { name, limit: 'MaxFileSize', size: r.data.length };
      else yield { name, data: r.data };
      continue;
    }
    // Stored and LZMA extents are read from the file: one that starts at or past its end ends the scan.
    if (at >= b.length) return;
    const length = Math.min(ext.length, b.length - at);
    if (ext.encoding === 'lzma') {
      if (length < 13) return;
      const r = lzmaAloneDecode(b.subarray(at, at + length), Number.isFinite(maxFile) ? maxFile + 1 : MAX_ALLOCATION);
      const scanned = r.complete || r.error === 'truncated' || r.error === 'data beyond the size' || r.error === 'match beyond the size';
      if (r.error === LIMIT || r.data.length > maxFile) yield { name, limit: 'MaxFileSize', size: r.data.length };
      else if (scanned) yield { name, data: r.data };
      continue;
    }
    yield { name, data: b.subarray(at, at + Math.min(length, maxFile)) };
  }
}
