/**
 * An EGG writer for tests (ESTsoft's ALZip is the only tool that writes EGG, and it has no Linux
 * build): the layout ALZip writes and ClamAV's reader walks — the `EGGA` header with its extra
 * fields (split, solid) and `EOFARC`; for each file a file header with filename, Windows or POSIX
 * information, encryption and comment extra fields and `EOFARC`, then its blocks (block header,
 * `EOFARC`, data); archive comments; a last `EOFARC`.
 *
 * In: files (each split into one or more blocks, each block stored, deflate (raw, by zlib), bzip2
 * (by the `bzip2` tool), AZO or LZMA (the data written as given: ClamAV decodes neither)) and
 * options to damage headers. Out: the archive's bytes.
 */
import { execFileSync } from 'node:child_process';
import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../compress/common.js';

export type EggMethod = 'stored' | 'deflate' | 'bzip2' | 'azo' | 'lzma';

export const EGG_METHOD: Record<EggMethod, number> = { stored: 0, deflate: 1, bzip2: 2, azo: 3, lzma: 4 };

export interface EggFileSpec {
  name: string;
  data?: Uint8Array;
  method?: EggMethod;
  /** Split the data into this many blocks (default 1). */
  blocks?: number;
  /** A directory: Windows attribute 0x40 (what ClamAV tests), no blocks. */
  directory?: boolean;
  /** Write a POSIX information field with this mode instead of Windows information. */
  posixMode?: number;
  /** An encryption field: KeyBase (XOR), AES-128 or AES-256; the data is scrambled. */
  encrypt?: 'xor' | 'aes128' | 'aes256';
  comment?: string;
  /** Filename field flags (0x08 code page, 0x10 parent id: their fields are written). */
  nameFlags?: number;
  /** Replaces one block's packed data (damage). */
  packedData?: Uint8Array;
  /** Declared block sizes instead of the real ones. */
  unpackedSize?: number;
  packedSize?: number;
  /** Leave the filename field out. */
  noName?: boolean;
}

export interface EggOptions {
  solid?: boolean;
  split?: { prev: number; next: number };
  comments?: string[];
  /** Leave out the final EOFARC. */
  noEnd?: boolean;
}

const EOFARC = [0x22, 0x82, 0xe2, 0x08];

const le = (v: number, n: number): number[] => Array.from({ length: n }, (_, i) => (i < 4 ? (v >>> (8 * i)) & 0xff : Math.floor(v / 2 ** (8 * i)) & 0xff));

function field(magic: number, body: Uint8Array | number[], flags = 0, declared?: number): number[] {
  const size = declared ?? body.length;
  return [...le(magic, 4), flags, ...((flags & 1) ? le(size, 4) : le(size, 2)), ...body];
}

export function encodeEgg(data: Uint8Array, method: EggMethod): Uint8Array {
  if (method === 'deflate') return deflateRawSync(data);
  if (method === 'bzip2') return execFileSync('bzip2', ['-c'], { input: data });
  if (method === 'lzma') return execFileSync('xz', ['--format=lzma', '-c'], { input: data });
  if (method === 'azo') return Uint8Array.from(data, (x, i) => x ^ (i & 0x7f) ^ 0x5a);
  return data;
}

function fileBytes(f: EggFileSpec, id: number, solid: boolean): number[] {
  const data = f.data ?? new Uint8Array(0);
  const out: number[] = [...le(0x0a8590e3, 4), ...le(id, 4), ...le(data.length, 8)];
  if (!f.noName) {
    const flags = f.nameFlags ?? 0;
    const pre: number[] = [];
    if (flags & 0x08) pre.push(...le(949, 2));
    if (flags & 0x10) pre.push(...le(0, 4));
    out.push(...field(0x0a8591ac, [...pre, ...Buffer.from(f.name, 'utf8')], flags));
  }
  if (f.posixMode !== undefined) out.push(...field(0x1ee922e5, [...le(f.posixMode, 4), ...le(1000, 4), ...le(1000, 4), ...le(1700000000, 8)]));
  else out.push(...field(0x2c86950b, [...le(0, 4), ...le(0x01da0000, 4), f.directory ? 0x40 : 0x20]));
  if (f.encrypt) {
    const body = f.encrypt === 'xor' ? [0, ...new Array<number>(12).fill(0x33), ...le(0x12345678, 4)]
      : f.encrypt === 'aes128' ? [1, ...new Array<number>(20).fill(0x44)] : [2, ...new Array<number>(28).fill(0x55)];
    // ALZip's size counts the field's own 7-byte header.
    out.push(...field(0x08d1470f, body, 0, body.length + 7));
  }
  if (f.comment !== undefined) out.push(...field(0x04c63672, [...Buffer.from(f.comment, 'utf8')]));
  out.push(...EOFARC);
  if (f.directory || solid || data.length === 0) return out;
  const method = f.method ?? 'stored';
  const n = Math.max(1, f.blocks ?? 1);
  const step = Math.ceil(data.length / n);
  for (let i = 0; i < n; i++) {
    const piece = data.subarray(i * step, Math.min(data.length, (i + 1) * step));
    let packed = i === 0 && f.packedData ? f.packedData : encodeEgg(piece, method);
    if (f.encrypt && !f.packedData) packed = Uint8Array.from(packed, (x, k) => x ^ ((k * 29 + 7) & 0xff));
    out.push(...le(0x02b50c13, 4), EGG_METHOD[method], 0, ...le(i === 0 && f.unpackedSize !== undefined ? f.unpackedSize : piece.length, 4));
    out.push(...le(i === 0 && f.packedSize !== undefined ? f.packedSize : packed.length, 4), ...le(crc32(piece), 4), ...EOFARC);
    for (const x of packed) out.push(x);
  }
  return out;
}

export function buildEgg(files: readonly EggFileSpec[], opts: EggOptions = {}): Uint8Array {
  const out: number[] = [0x45, 0x47, 0x47, 0x41, 0x00, 0x01, ...le(0x5eed1234, 4), 0, 0, 0, 0];
  if (opts.split) out.push(...field(0x24f5a262, [...le(opts.split.prev, 4), ...le(opts.split.next, 4)]));
  if (opts.solid) out.push(...field(0x24e5a060, []));
  out.push(...EOFARC);
  files.forEach((f, i) => out.push(...fileBytes(f, i, !!opts.solid)));
  if (opts.solid) {
    // One stream of all the files' data, in deflate blocks.
    const all = Buffer.concat(files.map((f) => f.data ?? new Uint8Array(0)));
    const packed = deflateRawSync(all);
    out.push(...le(0x02b50c13, 4), 1, 0, ...le(all.length, 4), ...le(packed.length, 4), ...le(crc32(all), 4), ...EOFARC);
    for (const x of packed) out.push(x);
  }
  for (const c of opts.comments ?? []) out.push(...field(0x04c63672, [...Buffer.from(c, 'utf8')]));
  if (!opts.noEnd) out.push(...EOFARC);
  return Uint8Array.from(out);
}
