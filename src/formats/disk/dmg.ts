/**
 * Apple disk images (UDIF `.dmg`) → their table of contents and partitions, as ClamAV 1.4 reads them.
 *
 * In: the bytes of a layer whose last 512 bytes are a `koly` trailer (ClamAV finds the DMG type
 * signature at EOF-512 during a layer's raw scan and reads the whole layer), and the scan limits.
 * Out: first the XML property list the trailer points to (`toc.xml`, scanned as a file), then one
 * child per `mish` block of the plist's `resource-fork` → `blkx` array, in document order: the
 * partition rebuilt from its chunks (`dmg00`, `dmg01`, …) and scanned as a partition
 * (`CL_TYPE_PART_ANY`: typed by the HFS+ magic at 1024, see `partitionType`). Never throws.
 *
 * What ClamAV does and this follows:
 * - The plist is walked with libxml2's text reader: plist → dict → any key → dict → key `blkx` →
 *   array (or dict) → key `Data` → `data`, whose text is decoded with Snort's base64 decoder
 *   (non-alphabet bytes skipped, a partial last group dropped) and must start with `mish`, hold the
 *   204-byte header and its 40-byte chunk records. Nesting deeper than 50 ends the walk.
 * - A block whose chunks reach into the XML or past it ends the image (nothing more is scanned).
 *   Chunks are sorted by start sector and written one after another (no seeking): zero fill
 *   (types 0 and 2, sectorCount × 512 bytes), stored (1), ADC (0x80000004), zlib (0x80000005) and
 *   bzip2 (0x80000006); any other type, LZFSE (0x80000007) included, is skipped and adds nothing.
 *   A block with no data chunk or no sectors is skipped.
 * - The projected size (sectors of the usable chunks × 512) over MaxFileSize ends the image with
 *   that limit, as does the bzip2 chunk's own check (bytes so far + 8192). A damaged chunk (bad
 *   zlib, bzip2 or ADC data, ADC cut mid-code, output past the chunk's sectors by a buffer) ends the
 *   image with its block unscanned. A zlib stream cut short keeps what it gave; a bzip2 stream cut
 *   short keeps only whole 8192-byte buffers (ClamAV writes its last buffer at the stream end only).
 * - Partitions are rebuilt in memory: one that would pass 512 MiB is reported as MaxFileSize even
 *   when the limit is off or higher (ClamAV would write it to disk and scan it).
 */
import { bunzip2 } from '../compress/bzip2.js';
import { LIMIT } from '../compress/common.js';
import { inflateLikeClamav } from '../office/inflate.js';
import { xmlNodes } from '../xmlreader.js';
import { partitionType } from './hfsplus.js';
import { CHILD_REFUSED, type UnpackContext, type UnpackItem } from '../unpack.js';

const KOLY = 0x6b6f6c79;
const SECTOR = 512;
/** glibc's BUFSIZ: the buffer ClamAV decompresses chunks through. */
const BUFSIZ = 8192;
const MISH_HEADER = 204, STRIPE = 40;
const INT_MAX = 0x7fffffff;
/** Partitions are built in memory: a bound when MaxFileSize is off (512 MiB). */
const HARD_CAP = 512 * 1024 * 1024;

export const STRIPE_ZERO = 0, STRIPE_STORED = 1, STRIPE_ZEROES = 2;
export const STRIPE_ADC = 0x80000004, STRIPE_ZLIB = 0x80000005, STRIPE_BZIP2 = 0x80000006, STRIPE_LZFSE = 0x80000007;
export const STRIPE_COMMENT = 0x7ffffffe, STRIPE_END = 0xffffffff;

const u32 = (b: Uint8Array, p: number): number => ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
const u64 = (b: Uint8Array, p: number): bigint => (BigInt(u32(b, p)) << 32n) | BigInt(u32(b, p + 4));

/** Snort's base64 decoder as ClamAV uses it for `mish` blocks: undefined on a `=` in a group's first two places. */
export function sfBase64Decode(text: string): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor(text.length / 4) * 3 + 3);
  let n = 0, w = 0;
  const q = [0, 0, 0, 0];
  const val = (c: number): number => (c >= 65 && c <= 90 ? c - 65 : c >= 97 && c <= 122 ? c - 71 : c >= 48 && c <= 57 ? c + 4 : c === 43 ? 62 : c === 47 ? 63 : c === 61 ? 99 : 100);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 255 || val(c) === 100) continue;
    q[n++ & 3] = c;
    if ((n & 3) !== 0) continue;
    if (q[0] === 61 || q[1] === 61) return undefined;
    const a = val(q[0]!), b = val(q[1]!), cc = val(q[2]!) & 63, d = val(q[3]!) & 63;
    out[w++] = ((a << 2) | (b >> 4)) & 0xff;
    if (q[2] === 61) break;
    out[w++] = ((b << 4) | (cc >> 2)) & 0xff;
    if (q[3] === 61) break;
    out[w++] = ((cc << 6) | d) & 0xff;
  }
  return out.subarray(0, w);
}

interface Stripe {
  type: number;
  startSector: bigint;
  sectorCount: bigint;
  dataOffset: bigint;
  dataLength: bigint;
}

/** A decoded `mish` block's chunk records, or undefined when ClamAV would not take it. */
export function decodeMish(text: string): Stripe[] | undefined {
  const d = sfBase64Decode(text);
  if (!d || d.length < MISH_HEADER) return undefined;
  if (u32(d, 0) !== 0x6d697368) return undefined;
  const count = u32(d, 200);
  if (d.length < MISH_HEADER + count * STRIPE) return undefined;
  const out: Stripe[] = [];
  for (let i = 0; i < count; i++) {
    const p = MISH_HEADER + i * STRIPE;
    out.push({ type: u32(d, p), startSector: u64(d, p + 8), sectorCount: u64(d, p + 16), dataOffset: u64(d, p + 24), dataLength: u64(d, p + 32) });
  }
  return out;
}

/** The `mish` blocks' texts, found as ClamAV's state machine over libxml2's reader finds them. */
export function findMishTexts(xml: string, heuristics = true): string[] {
  const out: string[] = [];
  const it = withDepth(xml);
  const next = (): Node | undefined => { const r = it.next(); return r.done ? undefined : r.value; };
  const sd = [-1, -1, -1, -1, -1, -1, -1, -1];
  let state = 0;
  for (let node = next(); node; node = next()) {
    if (node.kind === 'element') {
      const depth = node.depth;
      if (depth > 50 && heuristics) break;
      const name = node.local;
      // Reads the text node after an element; 'stop' when the document ends.
      const textAfter = (): string | undefined | 'stop' => {
        const t = next();
        if (!t) return 'stop';
        return t.kind === 'text' ? t.value : undefined;
      };
      if (state === 7 && depth === sd[6]) {
        sd[6] = -1;
        state--;
        if (name !== 'data' || node.empty) continue;
        const t = textAfter();
        if (t === 'stop') break;
        if (t === undefined) continue;
        out.push(t);
      }
      if (state === 6 && depth > sd[5]! && name === 'key') {
        const t = textAfter();
        if (t === 'stop') break;
        if (t === undefined) continue;
        if (t === 'Data') { sd[6] = depth; state++; }
      }
      if (state === 5 && depth === sd[4]) {
        if (name === 'array' || name === 'dict') { sd[5] = depth; state++; } else { sd[4] = -1; state--; }
      }
      if (state === 4 && depth === sd[3]! + 1 && name === 'key') {
        const t = textAfter();
        if (t === 'stop') break;
        if (t === undefined) continue;
        if (t === 'blkx') { sd[4] = depth; state++; }
      }
      if (state === 3 && depth === sd[2]) {
        if (name === 'dict') { sd[3] = depth; state++; } else { sd[2] = -1; state--; }
      }
      if (state === 2 && depth === sd[1]! + 1 && name === 'key') { sd[2] = depth; state++; }
      if (state === 1 && depth === sd[0]! + 1 && name === 'dict') { sd[1] = depth; state++; }
      if (state === 0 && name === 'plist') { sd[0] = depth; state++; }
    } else if (node.kind === 'end' && state > 0) {
      const depth = node.depth;
      if (depth < sd[state - 1]! || (depth === sd[state - 1] && state - 1 === 5)) {
        sd[state - 1] = -1;
        state--;
        if (state - 1 === 2 || state - 1 === 4) { sd[state - 1] = -1; state--; }
      }
    }
  }
  return out;
}

type Node = { kind: 'element'; local: string; empty: boolean; depth: number } | { kind: 'end'; depth: number } | { kind: 'text'; value: string } | { kind: 'other' };

/** libxml2 reader nodes with the reader's depth. */
function* withDepth(xml: string): Generator<Node> {
  let depth = 0;
  for (const n of xmlNodes(xml)) {
    if (n.kind === 'element') {
      yield { kind: 'element', local: n.local, empty: n.empty, depth };
      if (!n.empty) depth++;
    } else if (n.kind === 'end') {
      depth--;
      yield { kind: 'end', depth };
    } else if (n.kind === 'text') yield { kind: 'text', value: n.value };
    else yield { kind: 'other' };
  }
}

/** Apple Data Compression. `error` when a back-reference reaches before the start or the input ends inside a code. */
export function adcDecode(input: Uint8Array, cap: number): { data: Uint8Array; error: boolean; capped: boolean } {
  let out = new Uint8Array(Math.min(Math.max(64, input.length * 4), cap));
  let w = 0, p = 0;
  const grow = (need: number): boolean => {
    if (w + need <= out.length) return true;
    if (w + need > cap) return false;
    let size = out.length * 2;
    while (size < w + need) size *= 2;
    const next = new Uint8Array(Math.min(size, cap));
    next.set(out.subarray(0, w));
    out = next;
    return true;
  };
  while (p < input.length) {
    const op = input[p++]!;
    if (op & 0x80) {
      const len = (op & 0x7f) + 1;
      const avail = Math.min(len, input.length - p);
      if (!grow(avail)) return { data: out.subarray(0, w), error: false, capped: true };
      out.set(input.subarray(p, p + avail), w);
      w += avail;
      p += avail;
      if (avail < len) return { data: out.subarray(0, w), error: true, capped: false };
      continue;
    }
    let len: number, dist: number;
    if (op & 0x40) {
      if (p + 2 > input.length) return { data: out.subarray(0, w), error: true, capped: false };
      len = (op & 0x3f) + 4;
      dist = ((input[p]! << 8) | input[p + 1]!) + 1;
      p += 2;
    } else {
      if (p + 1 > input.length) return { data: out.subarray(0, w), error: true, capped: false };
      len = ((op & 0x3c) >> 2) + 3;
      dist = ((op & 3) << 8) + input[p]! + 1;
      p += 1;
    }
    if (dist > w) return { data: out.subarray(0, w), error: true, capped: false };
    if (!grow(len)) return { data: out.subarray(0, w), error: false, capped: true };
    for (let i = 0; i < len; i++, w++) out[w] = out[w - dist]!;
  }
  return { data: out.subarray(0, w), error: false, capped: false };
}

type ChunkResult = { data: Uint8Array } | { stop: true } | { limit: number };

const flushed = (t: number): number => Math.floor(t / BUFSIZ) * BUFSIZ;

function chunk(b: Uint8Array, s: Stripe, ctx: UnpackContext): ChunkResult {
  const off = Number(s.dataOffset), len = Number(s.dataLength);
  const expected = Number(s.sectorCount) * SECTOR;
  const src = b.subarray(off, off + len);
  const cap = Math.min(HARD_CAP, expected + BUFSIZ + 1);
  switch (s.type) {
    case STRIPE_ZERO:
    case STRIPE_ZEROES:
      return { data: new Uint8Array(Math.min(expected, HARD_CAP)) };
    case STRIPE_STORED:
      return { data: src };
    case STRIPE_ADC: {
      if (len === 0) return { data: new Uint8Array(0) };
      const r = adcDecode(src, cap);
      if (r.error || r.capped || flushed(r.data.length) > expected) return { stop: true };
      return { data: r.data };
    }
    case STRIPE_ZLIB: {
      if (len === 0) return { data: new Uint8Array(0) };
      const r = inflateLikeClamav(src, false, cap);
      if (r.state === 'error' || r.state === 'limit') return { stop: true };
      const t = r.data.length;
      if (t === 0 && r.state === 'ended') return { stop: true };
      if (t > 0 && (Math.ceil(t / BUFSIZ) - 1) * BUFSIZ > expected) return { stop: true };
      return { data: r.data };
    }
    case STRIPE_BZIP2: {
      if (len === 0) return { stop: true };
      const r = bunzip2(src, cap, { firstStreamOnly: true });
      if (!r.complete && r.error !== 'truncated' && r.error !== LIMIT) return { stop: true };
      const t = r.data.length;
      const max = ctx.limits.maxFileSize;
      // The buffers as ClamAV drains them: the size check, then its limit check, per full buffer.
      let size = 0;
      for (let k = 0; k < Math.floor(t / BUFSIZ); k++) {
        size += BUFSIZ;
        if (size > expected) return { stop: true };
        if (max > 0 && size + BUFSIZ > max) return { limit: size + BUFSIZ };
      }
      if (r.error === LIMIT) return { stop: true };
      if (!r.complete) return { data: r.data.subarray(0, flushed(t)) };
      if (max > 0 && t + BUFSIZ > max) return { limit: t + BUFSIZ };
      return { data: r.data };
    }
    default:
      return { data: new Uint8Array(0) };
  }
}

/** The children of a DMG layer, in ClamAV's order (see the top of this file). */
export function* dmgMembers(b: Uint8Array, ctx: UnpackContext): Generator<UnpackItem, void, unknown> {
  if (b.length <= 512) return;
  const k = b.length - 512;
  if (u32(b, k) !== KOLY) return;
  const xmlOffset = u64(b, k + 216), xmlLength = u64(b, k + 224);
  const len = BigInt(b.length);
  if (xmlLength > BigInt(INT_MAX)) return;
  if (xmlOffset > len || xmlLength > len || xmlOffset > len - xmlLength) return;
  if (xmlLength === 0n) return;
  const xo = Number(xmlOffset);
  const xml = b.subarray(xo, xo + Number(xmlLength));
  if ((yield { name: 'toc.xml', data: xml }) === CHILD_REFUSED) return;

  const texts = findMishTexts(Buffer.from(xml.buffer, xml.byteOffset, xml.byteLength).toString('latin1'), ctx.options.heuristicAlerts);
  let file = 0;
  for (const text of texts) {
    const stripes = decodeMish(text);
    if (!stripes) continue;
    const name = `dmg${String(file++).padStart(2, '0')}`;
    let total = 0n, writeable = false, sorted = true;
    for (let i = 0; i < stripes.length; i++) {
      const s = stripes[i]!;
      if (s.dataOffset > xmlOffset || s.dataLength > xmlOffset - s.dataOffset) return;
      if (i > 0 && s.startSector < stripes[i - 1]!.startSector) sorted = false;
      let usable = false;
      switch (s.type) {
        case STRIPE_STORED: case STRIPE_ADC: case STRIPE_ZLIB: case STRIPE_BZIP2:
          writeable = true; usable = true; break;
        case STRIPE_ZERO: case STRIPE_ZEROES:
          usable = true; break;
      }
      if (usable) {
        if (total + s.sectorCount < 1n << 64n) total += s.sectorCount;
        else if (s.sectorCount > 0n) return;
      }
    }
    if (!sorted) stripes.sort((x, y) => (x.startSector < y.startSector ? -1 : x.startSector > y.startSector ? 1 : 0));
    if (!writeable || total === 0n) continue;
    if (total > 0xffffffffffffffffn / 512n) continue;
    const projected = total * 512n;
    const max = ctx.limits.maxFileSize;
    if ((max > 0 && projected > BigInt(max)) || projected > BigInt(HARD_CAP)) {
      yield { name, limit: 'MaxFileSize', size: Number(projected) };
      return;
    }
    const parts: Uint8Array[] = [];
    let size = 0;
    for (const s of stripes) {
      const r = chunk(b, s, ctx);
      if ('stop' in r) return;
      if ('limit' in r) {
        yield { name, limit: 'MaxFileSize', size: r.limit };
        return;
      }
      size += r.data.length;
      if (size > HARD_CAP) {
        yield { name, limit: 'MaxFileSize', size };
        return;
      }
      parts.push(r.data);
    }
    const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if ((yield { name, data, type: partitionType(data) }) === CHILD_REFUSED) return;
  }
}
