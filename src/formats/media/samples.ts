/**
 * Sample builders for the media readers' tests and differentials: Flash movies (FWS/CWS/ZWS),
 * GIF, PNG, JPEG and TIFF images, animated cursors and CryptFF files, valid or with chosen damage.
 *
 * In: the parts to put in (payload bytes, overlays, segment lists). Out: the file's bytes.
 * Why: no image tool is installed on the build machines and no encoder exists for these formats;
 * the readers only look at structure, which these builders lay out byte by byte.
 */
import { spawnSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import { crc32 } from '../../core/crc32.js';

const u16le = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(v & 0xffff); return b; };
const u16be = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(v & 0xffff); return b; };
const u32le = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; };
const u32be = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; };

/** An uncompressed movie: header, a frame rectangle, rate and count, then the body as one tag. */
export function fwsMovie(body: Uint8Array, version = 10): Buffer {
  const rect = Buffer.from([0x78, 0x00, 0x05, 0x5f, 0x00, 0x00, 0x0f, 0xa0, 0x00]);
  const tag = Buffer.concat([u16le((77 << 6) | 0x3f), u32le(body.length), body]); // a Metadata tag
  const rest = Buffer.concat([rect, u16le(0x1800), u16le(1), tag, u16le(0)]);
  return Buffer.concat([Buffer.from('FWS'), Buffer.from([version]), u32le(8 + rest.length), rest]);
}

/** A zlib-compressed movie (CWS) of `fws` (an FWS movie). */
export function cwsMovie(fws: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from('CWS'), Buffer.from(fws.subarray(3, 8)), deflateSync(fws.subarray(8))]);
}

/** `xz --format=lzma` of `data` (props, size, stream), or undefined when xz is absent. */
export function lzmaAlone(data: Uint8Array): Buffer | undefined {
  const r = spawnSync('xz', ['--format=lzma', '-c'], { input: data, maxBuffer: 1 << 28 });
  return r.status === 0 ? r.stdout : undefined;
}

/** An LZMA-compressed movie (ZWS) of `fws`, re-packed from `xz --format=lzma`'s output; undefined without xz. */
export function zwsMovie(fws: Uint8Array): Buffer | undefined {
  const alone = lzmaAlone(fws.subarray(8));
  if (!alone) return undefined;
  const stream = alone.subarray(13);
  return Buffer.concat([Buffer.from('ZWS'), Buffer.from(fws.subarray(3, 8)), u32le(stream.length), alone.subarray(0, 5), stream]);
}

/** CryptFF: its 16-byte header, then `inner` inverted. */
export function cryptff(inner: Uint8Array): Buffer {
  const head = Buffer.from('b6b9acaefeffffff0000000000000000', 'hex');
  return Buffer.concat([head, Buffer.from(inner.map((b) => b ^ 0xff))]);
}

/** An animated cursor (RIFF ACON) whose `anih` chunk has `anihSize` bytes, with a LIST around an icon. */
export function aniCursor(anihSize = 36, bigEndian = false, extra: Uint8Array = new Uint8Array(0)): Buffer {
  const w32 = bigEndian ? u32be : u32le;
  const chunk = (id: string, data: Uint8Array): Buffer => Buffer.concat([Buffer.from(id, 'latin1'), w32(data.length), data, Buffer.alloc(data.length & 1)]);
  const list = Buffer.concat([Buffer.from('LIST'), w32(4 + 8 + 16), Buffer.from('INFO'), chunk('INAM', Buffer.from('cursor-name-0001'))]);
  const body = Buffer.concat([Buffer.from('ACON'), list, chunk('anih', Buffer.alloc(anihSize, 1)), chunk('rate', Buffer.alloc(8)), extra]);
  return Buffer.concat([Buffer.from(bigEndian ? 'RIFX' : 'RIFF'), w32(body.length), body]);
}

// ---------------------------------------------------------------------------------------------
// Images

/** A PNG chunk with its length and CRC. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const t = Buffer.from(type, 'latin1');
  return Buffer.concat([u32be(data.length), t, data, u32be(crc32(Buffer.concat([t, data])))]);
}

/** A small valid PNG (grey, 2×2), optional extra chunks before IDAT, then `overlay`. */
export function png(extraChunks: Buffer[] = [], overlay: Uint8Array = new Uint8Array(0)): Buffer {
  const ihdr = Buffer.concat([u32be(2), u32be(2), Buffer.from([8, 0, 0, 0, 0])]);
  const raw = Buffer.from([0, 0x10, 0x20, 0, 0x30, 0x40]);
  return Buffer.concat([
    Buffer.from('89504e470d0a1a0a', 'hex'), pngChunk('IHDR', ihdr), ...extraChunks,
    pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', new Uint8Array(0)), overlay,
  ]);
}

/** A small valid GIF89a (2×2, global colour table, a comment extension), then `overlay`. */
export function gif(comment = 'vigil', overlay: Uint8Array = new Uint8Array(0)): Buffer {
  const head = Buffer.concat([Buffer.from('GIF89a'), u16le(2), u16le(2), Buffer.from([0x80, 0, 0]), Buffer.from([0, 0, 0, 0xff, 0xff, 0xff])]);
  const c = Buffer.from(comment, 'latin1').subarray(0, 255);
  const ext = Buffer.concat([Buffer.from([0x21, 0xfe, c.length]), c, Buffer.from([0])]);
  const gce = Buffer.from([0x21, 0xf9, 4, 0, 0, 0, 0, 0]);
  const image = Buffer.concat([Buffer.from([0x2c]), u16le(0), u16le(0), u16le(2), u16le(2), Buffer.from([0]), Buffer.from([2, 2, 0x44, 0x01, 0])]);
  return Buffer.concat([head, ext, gce, image, Buffer.from([0x3b]), overlay]);
}

/** A JPEG segment: marker and payload with its length. */
export function jpegSegment(marker: number, payload: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0xff, marker]), u16be(payload.length + 2), payload]);
}

export const JFIF = jpegSegment(0xe0, Buffer.from('4a4649460001010000010001 0000'.replace(/ /g, ''), 'hex'));

/** A JPEG: SOI, the given segments, then a start of scan, some data and EOI. */
export function jpeg(segments: Buffer[] = [JFIF], tail: Uint8Array = new Uint8Array(0)): Buffer {
  const sof = jpegSegment(0xc0, Buffer.from([8, 0, 2, 0, 2, 1, 1, 0x11, 0]));
  const sos = jpegSegment(0xda, Buffer.from([1, 1, 0, 0, 0x3f, 0]));
  return Buffer.concat([Buffer.from([0xff, 0xd8]), ...segments, sof, sos, Buffer.from([0x12, 0x34, 0x56, 0xff, 0x00, 0x78]), Buffer.from([0xff, 0xd9]), tail]);
}

/** An APP13 Photoshop segment holding one thumbnail resource (id 0x0409 or 0x040C) of `thumb`. */
export function photoshopSegment(thumb: Uint8Array, id = 0x040c, name = ''): Buffer {
  const n = Buffer.from(name, 'latin1');
  const pascal = Buffer.concat([Buffer.from([n.length]), n, Buffer.alloc((n.length + 1) & 1)]);
  const data = Buffer.concat([Buffer.alloc(28), thumb]);
  const res = Buffer.concat([Buffer.from('8BIM'), u16be(id), pascal, u32be(data.length), data, Buffer.alloc(data.length & 1)]);
  return jpegSegment(0xed, Buffer.concat([Buffer.from('Photoshop 3.0\0', 'latin1'), res]));
}

/** A TIFF with one IFD of the given entries ([tag, type, count, value]), then `tail`. */
export function tiff(entries: [number, number, number, number][], bigEndian = false, nextIfd = 0, tail: Uint8Array = new Uint8Array(0)): Buffer {
  const w16 = bigEndian ? u16be : u16le;
  const w32 = bigEndian ? u32be : u32le;
  const ifd = Buffer.concat([w16(entries.length), ...entries.map(([t, ty, c, v]) => Buffer.concat([w16(t), w16(ty), w32(c), w32(v)])), w32(nextIfd)]);
  return Buffer.concat([Buffer.from(bigEndian ? '4d4d002a' : '49492a00', 'hex'), w32(8), ifd, tail]);
}

/** A small valid TIFF: one IFD describing a 1×1 grey image whose strip is the 4 bytes after it. */
export function validTiff(bigEndian = false, tail: Uint8Array = new Uint8Array(0)): Buffer {
  const stripAt = 8 + 2 + 12 * 6 + 4;
  return tiff([[256, 3, 1, 1], [257, 3, 1, 1], [258, 3, 1, 8], [262, 3, 1, 1], [273, 4, 1, stripAt], [279, 4, 1, 1]], bigEndian, 0, Buffer.concat([Buffer.from([0x80, 0, 0, 0]), tail]));
}
