/**
 * An ALZ writer for tests (no ALZip tool exists for Linux): the layout ALZip writes and ClamAV's
 * reader walks — `ALZ\x01` and a 4-byte version field (ALZip writes 10), one `BLZ\x01` local
 * header and its data per member, then `CLZ\x01` with 8 bytes and the `CLZ\x02` end.
 *
 * In: members (stored, deflate (raw, by zlib), bzip2 (by the `bzip2` tool)), directories,
 * "encrypted" members (random data after the 12-byte check, as ALZip's ZipCrypto would leave it)
 * and overrides to damage a header. Out: the archive's bytes.
 */
import { execFileSync } from 'node:child_process';
import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../compress/common.js';

export type AlzMethod = 'stored' | 'bzip2' | 'deflate';

export interface AlzEntry {
  name: string;
  data?: Uint8Array;
  method?: AlzMethod;
  directory?: boolean;
  /** Sets the encryption bit and writes the 12-byte check before the (unreadable) data. */
  encrypted?: boolean;
  /** Byte width of the two sizes (1, 2, 4 or 8); default the smallest that fits, as ALZip does. */
  width?: number;
  /** Written instead of the encoded data. */
  packedData?: Uint8Array;
  /** Declared sizes instead of the real ones (damage). */
  packedSize?: number;
  unpackedSize?: number;
  /** The method byte instead of the real one. */
  methodByte?: number;
  /** Sets the data-descriptor bit (3). */
  dataDescriptor?: boolean;
}

export interface AlzOptions {
  /** Leave out the central directory record and the end record. */
  noEnd?: boolean;
}

const METHOD: Record<AlzMethod, number> = { stored: 0, bzip2: 1, deflate: 2 };

export function encodeAlz(data: Uint8Array, method: AlzMethod): Uint8Array {
  if (method === 'deflate') return deflateRawSync(data);
  if (method === 'bzip2') return execFileSync('bzip2', ['-c'], { input: data });
  return data;
}

function putSize(out: number[], v: number, width: number): void {
  for (let i = 0; i < width; i++) out.push(i < 4 ? (v >>> (8 * i)) & 0xff : Math.floor(v / 2 ** (8 * i)) & 0xff);
}

export function alzEntry(e: AlzEntry): Uint8Array {
  const data = e.data ?? new Uint8Array(0);
  const method = e.method ?? 'stored';
  let packed = e.packedData ?? (e.directory ? new Uint8Array(0) : encodeAlz(data, method));
  if (e.encrypted && !e.packedData) packed = Uint8Array.from(packed, (x, i) => x ^ ((i * 73 + 41) & 0xff));
  const packedSize = e.packedSize ?? packed.length;
  const unpackedSize = e.unpackedSize ?? data.length;
  const biggest = Math.max(packedSize, unpackedSize);
  const width = e.width ?? (biggest < 0x100 ? 1 : biggest < 0x10000 ? 2 : biggest < 2 ** 32 ? 4 : 8);
  const name = Buffer.from(e.name, 'utf8');
  const h: number[] = [0x42, 0x4c, 0x5a, 0x01, name.length & 0xff, name.length >> 8, e.directory ? 0x10 : 0x20, 0xb2, 0x83, 0x42, 0x58];
  h.push((width << 4) | (e.encrypted ? 1 : 0) | (e.dataDescriptor ? 8 : 0), 0);
  h.push(e.methodByte ?? METHOD[method], 0);
  const crc = crc32(data);
  h.push(crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24);
  putSize(h, packedSize, width);
  putSize(h, unpackedSize, width);
  const check = e.encrypted ? Buffer.from('0123456789ab', 'latin1') : Buffer.alloc(0);
  return Buffer.concat([Buffer.from(h), name, check, packed]);
}

export function buildAlz(entries: readonly AlzEntry[], opts: AlzOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [Buffer.from([0x41, 0x4c, 0x5a, 0x01, 0x0a, 0, 0, 0])];
  for (const e of entries) parts.push(alzEntry(e));
  if (!opts.noEnd) parts.push(Buffer.from([0x43, 0x4c, 0x5a, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x43, 0x4c, 0x5a, 0x02]));
  return Buffer.concat(parts);
}
