/**
 * xz → the decompressed bytes, bounded; and the CL_TYPE_XZ reader.
 *
 * In: an .xz file (streams: header, blocks, index, footer; zero padding between and after them)
 * and the most bytes to produce. Out: `xzDecode` gives a `DecodeResult` with the blocks' bytes in
 * order (`LIMIT` when the bound was reached), plus where the decoding stood when it stopped, which
 * the reader needs to answer as ClamAV does. Never throws.
 *
 * Supported as in ClamAV's xz decoder (LZMA SDK 9.20): LZMA2 as the last filter, before it up to
 * three of BCJ x86/ARM/ARM-Thumb/PowerPC/SPARC and Delta (IA-64 BCJ and newer filters are
 * unsupported: damage); checks CRC-32, CRC-64 and SHA-256 verified, other check types skipped over;
 * the index is verified against the blocks, and the footer against the header and index.
 *
 * The reader (`scanXz`) follows `cli_scanxz`: what it scans is what ClamAV's decoder had produced
 * when it reported the end of the stream (`clamavXzScanned`): ClamAV calls it on 256 KiB of input
 * at a time, and it reports the end after a call that leaves it in the zeros after a stream (on a
 * multiple of four; later streams are then never read), or when an error comes in the same call as
 * the end of a block (its "finished" status is still standing: bytes appended to a small file are
 * such an error). Any other error, or input ending early, and nothing is scanned (ClamAV drops its
 * temporary file). More than MaxFileSize is a limited child; a dictionary larger than ClamAV
 * allocates (1 GiB) raises `Heuristics.XZ.DicSizeLimit`, whatever the heuristics setting.
 */
import { createHash } from 'node:crypto';
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { crc32, crc64, type DecodeResult, LIMIT, Sink, u32le } from './common.js';
import { armDecode, armThumbDecode, deltaDecode, ppcDecode, sparcDecode, x86Decode } from './filters.js';
import { lzma2DecodeInto, lzma2DictSize } from './lzma.js';

const MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const CHECK_SIZE = (t: number): number => (t === 0 ? 0 : 4 << Math.floor((t - 1) / 3));
/** Largest dictionary ClamAV's xz decoder allocates (CLI_MAX_ALLOCATION). */
export const CLAMAV_MAX_DICT = 1 << 30;

export interface XzResult extends DecodeResult {
  /** Input offset just after the last complete block's LZMA2 end mark, or -1. */
  lastBlockEnd: number;
  /** Offset of the input byte whose reading reveals the error (the input's length when it is missing). */
  errorAt: number;
  /** The error was in a block's compressed data (ClamAV's decoder was mid-block). */
  inBlock: boolean;
  /** The error is a dictionary larger than ClamAV allocates. */
  dictTooLarge: boolean;
  /** Streams decoded to their footer. */
  streams: number;
  /** Each complete stream: where its footer ends, where the zeros after it end, the output length then. */
  streamEnds: { footerEnd: number; padEnd: number; output: number }[];
}

/** A variable-length integer (7 bits a byte, at most 9 bytes, no needless zero byte); undefined when malformed. */
function varint(b: Uint8Array, p: number, end: number): { v: number; n: number } | undefined {
  let v = 0;
  for (let i = 0; i < 9 && p + i < end; i++) {
    const x = b[p + i]!;
    v += (x & 0x7f) * 2 ** (7 * i);
    if (!(x & 0x80)) return x === 0 && i > 0 ? undefined : { v, n: i + 1 };
  }
  return undefined;
}

interface Filter { id: number; props: Uint8Array }

export interface XzOptions {
  /** Fail a block whose LZMA2 dictionary is larger than this (as ClamAV's allocator does). */
  maxDict?: number;
}

export function xzDecode(input: Uint8Array, maxOutput: number, opts: XzOptions = {}): XzResult {
  const sink = new Sink(Math.max(0, maxOutput));
  let p = 0;
  let lastBlockEnd = -1;
  let streams = 0;
  const streamEnds: XzResult['streamEnds'] = [];
  const fail = (error: string, at: number, inBlock = false, dictTooLarge = false): XzResult =>
    ({ data: sink.view(), complete: false, error, lastBlockEnd, errorAt: at, inBlock, dictTooLarge, streams, streamEnds });
  for (;;) {
    // Stream header.
    for (let i = 0; i < 6; i++) {
      if (p + i >= input.length) return fail('truncated', p + i);
      if (input[p + i] !== MAGIC[i]) return fail(streams === 0 ? 'not xz' : 'data after the stream', p + i);
    }
    if (p + 12 > input.length) return fail('truncated', input.length);
    const flags = (input[p + 6]! << 8) | input[p + 7]!;
    if (crc32(input.subarray(p + 6, p + 8)) !== u32le(input, p + 8)) return fail('header crc', p + 12);
    if (flags > 0x0f) return fail('unsupported flags', p + 12);
    const checkType = flags;
    const checkSize = CHECK_SIZE(checkType);
    p += 12;
    const records: [number, number][] = [];
    // Blocks until the index indicator.
    for (;;) {
      if (p >= input.length) return fail('truncated', p);
      if (input[p] === 0) break;
      const hsize = (input[p]! + 1) * 4;
      if (p + hsize > input.length) return fail('truncated', input.length);
      const hstart = p;
      if (crc32(input.subarray(p, p + hsize - 4)) !== u32le(input, p + hsize - 4)) return fail('block header crc', p + hsize);
      const bflags = input[p + 1]!;
      let q = p + 2;
      const hend = p + hsize - 4;
      if (bflags & 0x40) {
        const v = varint(input, q, hend);
        if (!v || v.v === 0) return fail('bad block header', p + hsize);
        q += v.n;
      }
      if (bflags & 0x80) {
        const v = varint(input, q, hend);
        if (!v) return fail('bad block header', p + hsize);
        q += v.n;
      }
      const filters: Filter[] = [];
      for (let i = 0; i <= (bflags & 3); i++) {
        const id = varint(input, q, hend);
        if (!id) return fail('bad block header', p + hsize);
        q += id.n;
        const sz = varint(input, q, hend);
        if (!sz || sz.v > hend - q - sz.n || sz.v > 20) return fail('bad block header', p + hsize);
        q += sz.n;
        filters.push({ id: id.v, props: input.subarray(q, q + sz.v) });
        q += sz.v;
      }
      while (q < hend) if (input[q++] !== 0) return fail('bad block header', p + hsize);
      p += hsize;
      // The last filter must be LZMA2; the others branch converters or Delta.
      const last = filters[filters.length - 1]!;
      if (last.id !== 0x21 || last.props.length !== 1) return fail('unsupported filter', p);
      for (const f of filters.slice(0, -1)) {
        if (f.id === 3 ? f.props.length !== 1 : !(f.id >= 4 && f.id <= 9 && f.id !== 6 && (f.props.length === 0 || f.props.length === 4))) return fail('unsupported filter', p);
      }
      const dictSize = lzma2DictSize(last.props[0]!);
      if (dictSize === undefined) return fail('unsupported filter', p);
      if (opts.maxDict !== undefined && dictSize > opts.maxDict) return fail('dictionary too large', p, false, true);
      const outStart = sink.length;
      const r = lzma2DecodeInto(last.props[0]!, input, sink, p);
      if (!r.complete) return fail(r.error ?? 'damaged', r.end, true);
      // Filters in reverse order over this block's output.
      const block = sink.buf.subarray(outStart, sink.length);
      for (let i = filters.length - 2; i >= 0; i--) {
        const f = filters[i]!;
        if (f.id === 3) { deltaDecode(block, f.props[0]! + 1); continue; }
        const start = f.props.length === 4 ? u32le(f.props, 0) : 0;
        if (f.id === 4) x86Decode(block, start);
        else if (f.id === 5) ppcDecode(block, start);
        else if (f.id === 7) armDecode(block, start);
        else if (f.id === 8) armThumbDecode(block, start);
        else sparcDecode(block, start);
      }
      const packed = r.end - p;
      p = r.end;
      lastBlockEnd = p;
      // Padding to four bytes, then the check.
      while ((p - hstart) % 4 !== 0) {
        if (p >= input.length) return fail('truncated', p);
        if (input[p++] !== 0) return fail('bad block padding', p);
      }
      if (p + checkSize > input.length) return fail('truncated', input.length);
      const want = input.subarray(p, p + checkSize);
      let got: Uint8Array | undefined;
      if (checkType === 1) { got = new Uint8Array(4); new DataView(got.buffer).setUint32(0, crc32(block), true); }
      else if (checkType === 4) got = crc64(block);
      else if (checkType === 10) got = createHash('sha256').update(block).digest();
      p += checkSize;
      if (got && !want.every((x, k) => x === got[k])) return fail('check mismatch', p);
      records.push([hsize + packed + checkSize, block.length]);
    }
    // Index: indicator, count, records, padding, CRC-32.
    const istart = p;
    let q = p + 1;
    const count = varint(input, q, input.length);
    if (!count) return fail(q >= input.length ? 'truncated' : 'bad index', q);
    if (count.v !== records.length) return fail('bad index', q);
    q += count.n;
    for (const [unpadded, size] of records) {
      const a = varint(input, q, input.length);
      if (!a) return fail(q >= input.length ? 'truncated' : 'bad index', q);
      q += a.n;
      const b = varint(input, q, input.length);
      if (!b) return fail(q >= input.length ? 'truncated' : 'bad index', q);
      q += b.n;
      if (a.v !== unpadded || b.v !== size) return fail('bad index', q);
    }
    while ((q - istart) % 4 !== 0) {
      if (q >= input.length) return fail('truncated', q);
      if (input[q++] !== 0) return fail('bad index', q);
    }
    if (q + 4 > input.length) return fail('truncated', input.length);
    if (crc32(input.subarray(istart, q)) !== u32le(input, q)) return fail('index crc', q + 4);
    q += 4;
    // Footer.
    if (q + 12 > input.length) return fail('truncated', input.length);
    const backward = (u32le(input, q + 4) + 1) * 4;
    if (crc32(input.subarray(q + 4, q + 10)) !== u32le(input, q) || backward !== q - istart ||
        ((input[q + 8]! << 8) | input[q + 9]!) !== flags || input[q + 10] !== 0x59 || input[q + 11] !== 0x5a) {
      return fail('bad footer', q + 12);
    }
    p = q + 12;
    streams++;
    // Stream padding: zeros in fours; then the end, or another stream.
    const padStart = p;
    while (p < input.length && input[p] === 0) p++;
    streamEnds.push({ footerEnd: padStart, padEnd: p, output: sink.length });
    if (p >= input.length) {
      if ((p - padStart) % 4 !== 0) return fail('bad padding', p);
      return { data: sink.view(), complete: true, lastBlockEnd, errorAt: p, inBlock: false, dictTooLarge: false, streams, streamEnds };
    }
    if ((p - padStart) % 4 !== 0) return fail('bad padding', p);
  }
}

/** Bytes of input ClamAV's xz reader hands its decoder per call. */
const CLAMAV_XZ_INPUT = 1 << 18;

/**
 * How much of the output ClamAV's `cli_scanxz` scans, or undefined for nothing. Its decoder is
 * called on 256 KiB of input at a time and the reading ends ("end of stream") after a call that
 * leaves it between streams on a multiple of four zero bytes, or after a call in which a block
 * ended, whatever error came later in that call; any other error or a premature end of input
 * means the output is dropped.
 */
export function clamavXzScanned(r: XzResult, inputLength: number): number | undefined {
  for (const s of r.streamEnds) {
    // The first call boundary inside this stream's trailing zeros that leaves a multiple of four.
    const first = Math.max(CLAMAV_XZ_INPUT, Math.ceil(s.footerEnd / CLAMAV_XZ_INPUT) * CLAMAV_XZ_INPUT);
    for (let c = first; c <= s.padEnd && c < inputLength; c += CLAMAV_XZ_INPUT) {
      if ((c - s.footerEnd) % 4 === 0) return s.output;
    }
  }
  if (r.complete) return r.data.length;
  if (r.inBlock || r.lastBlockEnd < 0 || r.error === 'truncated' || r.errorAt >= inputLength) return undefined;
  // The block's "finished" status survives until the decoder's next call (a block ending exactly
  // on a call boundary loses it at once).
  const nextCall = Math.ceil(r.lastBlockEnd / CLAMAV_XZ_INPUT) * CLAMAV_XZ_INPUT;
  return r.lastBlockEnd % CLAMAV_XZ_INPUT !== 0 && r.errorAt < nextCall ? r.data.length : undefined;
}

/** ClamAV's xz output buffer: MaxFileSize is checked each time it is full, and at the end. */
const CLAMAV_XZ_OUTPUT = 1 << 20;

/**
 * The CL_TYPE_XZ reader: what ClamAV's `cli_scanxz` scans. The limit is met once the output fills
 * the 1 MiB piece that passes MaxFileSize, or at the end of the stream; an error before that
 * leaves nothing (and no limit).
 */
export function* scanXz(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  const max = ctx.limits.maxFileSize > 0 ? ctx.limits.maxFileSize : 0x7fffffff;
  const bound = (Math.floor(max / CLAMAV_XZ_OUTPUT) + 1) * CLAMAV_XZ_OUTPUT;
  const r = xzDecode(bytes, bound, { maxDict: CLAMAV_MAX_DICT });
  const n = clamavXzScanned(r, bytes.length);
  if (r.error === LIMIT && (n === undefined || n > max)) {
    yield { name: 'xz', limit: 'MaxFileSize' };
    return;
  }
  if (n === undefined) {
    if (r.dictTooLarge) yield { alert: 'Heuristics.XZ.DicSizeLimit' };
    return;
  }
  if (n > max) yield { name: 'xz', limit: 'MaxFileSize' };
  else if (n > 0) yield { name: 'xz', data: r.data.subarray(0, n) };
}
