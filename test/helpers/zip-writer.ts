/**
 * A small ZIP writer for tests: builds archives whose every header field a test can control.
 *
 * In: a list of entries (name, content, method, flags, data descriptor style, ZIP64 forcing,
 * overrides for any declared value) and archive options (prefix bytes, comment, no central
 * directory, extra central records). Out: the archive bytes plus the offset of each local header
 * and of the central directory, so that tests can corrupt or cut them. Deflate comes from
 * `zlib.deflateRawSync`; ZIP64 is forced by writing 0xFFFFFFFF in the 32-bit fields and the real
 * values in a 0x0001 extra field, with a ZIP64 end record and locator.
 */

import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../../src/core/crc32.js';

export interface WriterEntry {
  name: string | Uint8Array;
  data?: Uint8Array | string;
  /** 0 stored (default), 8 deflate; any other number stores `data` as is under that method. */
  method?: number;
  /** Extra flag bits (bit 11 is set for names given as strings with non-ASCII characters). */
  flags?: number;
  /** Bit 3 and a descriptor after the data, with or without its signature. */
  descriptor?: 'signed' | 'unsigned';
  /** Force ZIP64 extra fields (and a ZIP64 descriptor when `descriptor` is set). */
  zip64?: boolean;
  /** Overrides of the declared values (central and local alike unless noted). */
  crc?: number;
  compressed?: Uint8Array;
  uncompressedSize?: number;
  /** Compressed size written in the central directory only (to make entries overlap). */
  centralCompressedSize?: number;
  /** Local-header name, if it should differ from the central one. */
  localName?: string;
  /** Extra field bytes appended in both headers. */
  extra?: Uint8Array;
}

export interface WriterOptions {
  /** Bytes before the archive, as `cat stub archive.zip` makes: stored offsets do not count them. */
  prefix?: Uint8Array;
  comment?: string;
  /** Leave out the central directory and end record entirely. */
  noCentral?: boolean;
  /** Extra central records for the local header of entry `of` (or at `localOffset`), under another name. */
  aliases?: { of: number; name: string; localOffset?: number; compressedSize?: number }[];
  /** Force the ZIP64 end record and locator even if no entry needs them. */
  zip64End?: boolean;
  /** Override of the entry count in the end record. */
  declaredCount?: number;
}

export interface BuiltZip {
  bytes: Uint8Array;
  localOffsets: number[];
  centralOffset: number;
  eocdOffset: number;
}

const enc = new TextEncoder();
const bytesOf = (s: string | Uint8Array): Uint8Array => (typeof s === 'string' ? enc.encode(s) : s);

class Out {
  parts: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array): void { this.parts.push(b); this.length += b.length; }
  u16(v: number): void { const b = Buffer.alloc(2); b.writeUInt16LE(v); this.push(b); }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); this.push(b); }
  u64(v: number): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  done(): Uint8Array { return Buffer.concat(this.parts); }
}

function zip64Field(values: number[]): Uint8Array {
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(1, 0);
  b.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
  return b;
}

export function buildZip(entries: WriterEntry[], opts: WriterOptions = {}): BuiltZip {
  const out = new Out();
  if (opts.prefix) out.push(opts.prefix);
  const shift = opts.prefix?.length ?? 0;
  const central: { e: WriterEntry; name: Uint8Array; flags: number; method: number; crc: number; csize: number; usize: number; offset: number }[] = [];
  const localOffsets: number[] = [];
  for (const e of entries) {
    const data = bytesOf(e.data ?? '');
    const method = e.method ?? 0;
    const packed = e.compressed ?? (method === 8 ? deflateRawSync(data) : data);
    const crc = e.crc ?? crc32(data);
    const usize = e.uncompressedSize ?? data.length;
    const name = bytesOf(e.name);
    const nonAscii = typeof e.name === 'string' && [...e.name].some((c) => c.charCodeAt(0) > 0x7f);
    const flags = (e.flags ?? 0) | (e.descriptor ? 8 : 0) | (nonAscii ? 0x800 : 0);
    const offset = out.length;
    localOffsets.push(offset);
    const localName = e.localName !== undefined ? enc.encode(e.localName) : name;
    const extra = Buffer.concat([e.zip64 ? zip64Field(e.descriptor ? [0, 0] : [usize, packed.length]) : new Uint8Array(0), e.extra ?? new Uint8Array(0)]);
    out.u32(0x04034b50);
    out.u16(e.zip64 ? 45 : 20);
    out.u16(flags);
    out.u16(method);
    out.u32(0); // time, date
    if (e.descriptor) { out.u32(0); out.u32(e.zip64 ? 0xffffffff : 0); out.u32(e.zip64 ? 0xffffffff : 0); }
    else { out.u32(crc); out.u32(e.zip64 ? 0xffffffff : packed.length); out.u32(e.zip64 ? 0xffffffff : usize); }
    out.u16(localName.length);
    out.u16(extra.length);
    out.push(localName);
    out.push(extra);
    out.push(packed);
    if (e.descriptor) {
      if (e.descriptor === 'signed') out.u32(0x08074b50);
      out.u32(crc);
      if (e.zip64) { out.u64(packed.length); out.u64(usize); } else { out.u32(packed.length); out.u32(usize); }
    }
    central.push({ e, name, flags, method, crc, csize: e.centralCompressedSize ?? packed.length, usize, offset: offset - shift });
  }
  const centralOffset = out.length;
  if (opts.noCentral) return { bytes: out.done(), localOffsets, centralOffset, eocdOffset: -1 };
  const records = [...central];
  for (const a of opts.aliases ?? []) {
    const base = central[a.of]!;
    records.push({ ...base, name: enc.encode(a.name), offset: a.localOffset ?? base.offset, csize: a.compressedSize ?? base.csize });
  }
  let needZip64 = opts.zip64End ?? false;
  for (const c of records) {
    const z = c.e.zip64 ?? false;
    needZip64 ||= z;
    const extra = Buffer.concat([z ? zip64Field([c.usize, c.csize, c.offset]) : new Uint8Array(0), c.e.extra ?? new Uint8Array(0)]);
    out.u32(0x02014b50);
    out.u16(z ? 45 : 20);
    out.u16(z ? 45 : 20);
    out.u16(c.flags);
    out.u16(c.method);
    out.u32(0);
    out.u32(c.crc);
    out.u32(z ? 0xffffffff : c.csize);
    out.u32(z ? 0xffffffff : c.usize);
    out.u16(c.name.length);
    out.u16(extra.length);
    out.u16(0); // comment
    out.u16(0); // disk
    out.u16(0); // internal attributes
    out.u32(0); // external attributes
    out.u32(z ? 0xffffffff : c.offset);
    out.push(c.name);
    out.push(extra);
  }
  const cdSize = out.length - centralOffset;
  const count = opts.declaredCount ?? records.length;
  if (needZip64) {
    const e64 = out.length;
    out.u32(0x06064b50);
    out.u64(44);
    out.u16(45); out.u16(45);
    out.u32(0); out.u32(0);
    out.u64(count); out.u64(count);
    out.u64(cdSize); out.u64(centralOffset - shift);
    out.u32(0x07064b50);
    out.u32(0);
    out.u64(e64 - shift);
    out.u32(1);
  }
  const eocdOffset = out.length;
  const comment = enc.encode(opts.comment ?? '');
  out.u32(0x06054b50);
  out.u16(0); out.u16(0);
  out.u16(needZip64 ? 0xffff : count); out.u16(needZip64 ? 0xffff : count);
  out.u32(needZip64 ? 0xffffffff : cdSize);
  out.u32(needZip64 ? 0xffffffff : centralOffset - shift);
  out.u16(comment.length);
  out.push(comment);
  return { bytes: out.done(), localOffsets, centralOffset, eocdOffset };
}
