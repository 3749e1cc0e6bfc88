/**
 * GIF, PNG, JPEG and TIFF structure checks → `Heuristics.Broken.Media.*` alerts, two exploit
 * detections, and the data ClamAV scans out of the images (GIF/PNG overlays, Photoshop thumbnails).
 *
 * In: a CL_TYPE_GIF, _PNG, _JPEG or _TIFF layer. Out, only when both HeuristicAlerts and
 * AlertBrokenMedia are on (ClamAV runs its image parsers only then):
 * - GIF: the walk of its blocks (screen descriptor, colour tables, extensions and their
 *   sub-blocks, images and their data sub-blocks, up to the trailer); a truncated or unknown
 *   block raises `Heuristics.Broken.Media.GIF.<reason>` and ends the walk; whatever follows where
 *   the walk stopped (the trailer, or the damage) is scanned as a child `gif-overlay`.
 * - PNG: the walk of its chunks from offset 8 up to IEND; a length over 2^31-1 or a chunk cut by
 *   the end raises `Heuristics.Broken.Media.PNG.<reason>`; a bad IHDR ends the walk quietly; what
 *   follows is scanned as a child `png-overlay`.
 * - JPEG: the walk of its segments up to Start of Scan; a comment segment whose length is 0 or 1
 *   raises `Heuristics.Exploit.W32.MS04-028`, structural damage or odd application markers raise
 *   `Heuristics.Broken.Media.JPEG.<reason>`; each Photoshop thumbnail resource (8BIM 0x0409 /
 *   0x040C in an APP13 `Photoshop 3.0` segment) is scanned from its JPEG data to the end of the
 *   file as a child `photoshop-thumbnail` (ClamAV scans it as a JPEG whatever it holds: data
 *   that does not start as one gets a plain CL_TYPE_JPEG pass).
 * - TIFF: the walk of its IFD chain; truncation, an entry whose values reach past the end or an
 *   IFD offset that does not grow raises `Heuristics.Broken.Media.TIFF.<reason>`.
 * Children of five bytes or fewer are not scanned (as ClamAV's nested scans skip them).
 *
 * Why: ClamAV 1.4's `cli_parsegif` (gif.c), `cli_parsepng` (png.c), `cli_parsejpeg` (jpeg.c) and
 * `cli_parsetiff` (tiff.c), called from `cli_magic_scan` with `--alert-broken-media`.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';

/** ClamAV's nested scans skip data of this many bytes or fewer. */
const SMALL = 5;

const enabled = (ctx: UnpackContext): boolean => ctx.options.heuristicAlerts && !!ctx.options.alertBrokenMedia;

function* overlay(bytes: Uint8Array, offset: number, name: string): Iterable<UnpackItem> {
  if (offset < bytes.length && bytes.length - offset > SMALL) yield { name, data: bytes.subarray(offset) };
}

const u16le = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);
const u16be = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
const u32le = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
const u32be = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

// ---------------------------------------------------------------------------------------------
// GIF

const GIF = 'Heuristics.Broken.Media.GIF.';

export function* gifItems(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  if (!enabled(ctx)) return;
  const n = bytes.length;
  if (n < 6 || bytes[0] !== 0x47 || bytes[1] !== 0x49 || bytes[2] !== 0x46) return;
  let offset = 6;
  let broken = false;
  let alert: string | undefined;
  walk: {
    if (offset + 7 > n) { alert = 'TruncatedScreenDescriptor'; broken = true; break walk; }
    const flags = bytes[offset + 4]!;
    offset += 7;
    if (flags & 0x80) {
      const size = 3 * (1 << ((flags & 7) + 1));
      if (offset + size > n) { alert = 'TruncatedGlobalColorTable'; broken = true; break walk; }
      offset += size;
    }
    let haveImage = false;
    for (;;) {
      if (offset >= n) {
        if (!haveImage) alert = 'MissingImageData';
        broken = true;
        break walk;
      }
      const label = bytes[offset++]!;
      if (label === 0x3b) break walk; // trailer
      if (label === 0x21) {
        if (offset >= n) { alert = 'TruncatedExtension'; broken = true; break walk; }
        const ext = bytes[offset++]!;
        if (ext === 0xf9) { offset += 6; continue; } // graphic control extension: fixed size, skipped
        for (;;) {
          if (offset >= n) { alert = 'TruncatedExtension'; broken = true; break walk; }
          const size = bytes[offset++]!;
          if (size === 0) break;
          if (offset + size > n) { alert = 'TruncatedExtensionSubBlock'; broken = true; break walk; }
          offset += size;
        }
      } else if (label === 0x2c) {
        if (offset + 9 > n) { alert = 'TruncatedImageDescriptor'; broken = true; break walk; }
        const flags2 = bytes[offset + 8]!;
        offset += 9;
        if (flags2 & 0x80) offset += 3 * (1 << ((flags2 & 7) + 1));
        offset++; // LZW minimum code size
        for (;;) {
          if (offset >= n) { alert = 'TruncatedImageDataBlock'; broken = true; break walk; }
          const size = bytes[offset++]!;
          if (size === 0) break;
          if (offset + size > n) { alert = 'TruncatedImageDataBlock'; broken = true; break walk; }
          offset += size;
        }
        haveImage = true;
      } else {
        alert = 'UnknownBlockLabel';
        broken = true;
        break walk;
      }
    }
  }
  if (alert) yield { alert: GIF + alert, offset: Math.min(offset, n) };
  // A "GIF89a;"-like file (damage right after the screen descriptor): everything after the version.
  if (broken && offset === 6 + 7 + 1) offset = 6;
  yield* overlay(bytes, offset, 'gif-overlay');
}

// ---------------------------------------------------------------------------------------------
// PNG

const PNG = 'Heuristics.Broken.Media.PNG.';

export function* pngItems(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  if (!enabled(ctx)) return;
  const n = bytes.length;
  let offset = 8;
  let alert: string | undefined;
  while (offset + 4 <= n) {
    const length = u32be(bytes, offset);
    offset += 4;
    if (length > 0x7fffffff) { alert = 'InvalidChunkLength'; break; }
    if (offset + 4 > n) { alert = 'EOFReadingChunkType'; break; }
    const type = String.fromCharCode(bytes[offset]!, bytes[offset + 1]!, bytes[offset + 2]!, bytes[offset + 3]!);
    offset += 4;
    const data = offset;
    if (length > 0) {
      if (offset + length > n) { alert = 'EOFReadingChunk'; break; }
      offset += length;
    }
    if (type === 'IHDR') {
      if (length !== 13) break;
      const w = u32be(bytes, data), h = u32be(bytes, data + 4);
      if (w === 0 || h === 0 || w > 0x7fffffff || h > 0x7fffffff) break;
    }
    if (offset + 4 > n) { alert = 'EOFReadingChunkCRC'; break; }
    offset += 4;
    if (type === 'IEND') break;
  }
  if (alert) yield { alert: PNG + alert, offset: Math.min(offset, n) };
  yield* overlay(bytes, offset, 'png-overlay');
}

// ---------------------------------------------------------------------------------------------
// JPEG

const JPEG = 'Heuristics.Broken.Media.JPEG.';

/** The 8BIM resources of a Photoshop segment from `at`: each thumbnail's JPEG as a child. */
function* photoshopThumbnails(bytes: Uint8Array, at: number): Iterable<UnpackItem> {
  const n = bytes.length;
  for (;;) {
    const old = at;
    if (at + 7 > n) return;
    if (bytes[at] !== 0x38 || bytes[at + 1] !== 0x42 || bytes[at + 2] !== 0x49 || bytes[at + 3] !== 0x4d) return; // "8BIM"
    const id0 = bytes[at + 4]!, id1 = bytes[at + 5]!;
    const nameLength = bytes[at + 6]!;
    let offset = at + 7 + nameLength + ((nameLength + 1) & 1);
    if (offset + 4 > n) return;
    let size = u32be(bytes, offset);
    if (size === 0) return;
    if (size & 1) size++;
    at = offset + 4 + size;
    if (id0 === 0x04 && (id1 === 0x09 || id1 === 0x0c)) {
      offset += 4 + 28; // the thumbnail resource header
      if (offset < n && n - offset > SMALL) {
        const data = bytes.subarray(offset);
        // ClamAV scans it as a JPEG whatever it holds: data that does not type as one gets a plain JPEG pass.
        const typed = data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff;
        yield typed ? { name: 'photoshop-thumbnail', data } : { name: 'photoshop-thumbnail', data, type: 'CL_TYPE_JPEG' };
      }
    }
    if (at <= old) return;
  }
}

export function* jpegItems(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  if (!enabled(ctx)) return;
  const n = bytes.length;
  if (n < 4) return;
  let offset: number;
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) offset = 2;
  else if (bytes[0] === 0xff && bytes[1] === 0xd9 && bytes[2] === 0xff && bytes[3] === 0xd8) offset = 4;
  else return;
  let marker = 0;
  let prevSegment = 0;
  let segment = 0;
  let foundComment = false, foundApp = false;
  let numJfif = 0, numExif = 0, numSpiff = 0;
  const startsWith = (at: number, s: string): boolean => {
    if (at + s.length > n) return false;
    for (let i = 0; i < s.length; i++) if (bytes[at + i] !== s.charCodeAt(i)) return false;
    return true;
  };
  for (;;) {
    segment++;
    let prev = 0;
    let i = 0;
    for (; offset < n && i < 16; i++) {
      marker = bytes[offset++]!;
      if (prev === 0xff && marker !== 0xff) break;
      prev = marker;
    }
    if (i === 16) { yield { alert: JPEG + 'SpuriousBytesBeforeSegment', offset }; return; }
    // MS04-028: a comment whose length field is 0 or 1.
    if (marker === 0xfe && offset + 2 <= n && bytes[offset] === 0 && (bytes[offset + 1] === 0 || bytes[offset + 1] === 1)) {
      yield { alert: 'Heuristics.Exploit.W32.MS04-028', offset };
      return;
    }
    if (offset + 2 > n) { yield { alert: JPEG + 'CantReadSegmentSize', offset }; return; }
    const len = u16be(bytes, offset);
    if (len < 2) { yield { alert: JPEG + 'InvalidSegmentSize', offset }; return; }
    if (len >= n - offset + 2) { yield { alert: JPEG + 'SegmentDataOutOfFile', offset }; return; }
    const body = offset + 2;
    offset += len;
    switch (marker) {
      case 0xe0:
        if (startsWith(body, 'JFIF\0')) {
          if (foundApp && numJfif > 0) { yield { alert: JPEG + 'JFIFdupAppMarker', offset: body }; return; }
          if (!(segment === 1 || (segment === 2 && foundComment) || (segment === 2 && numExif > 0) || (segment === 3 && foundComment && numExif > 0))) {
            yield { alert: JPEG + 'JFIFmarkerBadPosition', offset: body };
            return;
          }
          if (len < 16) { yield { alert: JPEG + 'JFIFheaderTooShort', offset: body }; return; }
          foundApp = true;
          numJfif++;
        }
        break;
      case 0xe1:
        if (startsWith(body, 'Exif\0\0')) {
          if (foundApp && (numExif > 0 || numSpiff > 0)) { yield { alert: JPEG + 'ExifDupAppMarker', offset: body }; return; }
          if (segment > 3 && !foundComment && numJfif > 0) { yield { alert: JPEG + 'ExifHeaderBadPosition', offset: body }; return; }
          if (len < 16) { yield { alert: JPEG + 'ExifHeaderTooShort', offset: body }; return; }
          foundApp = true;
          numExif++;
        } else if (startsWith(body, 'http://')) {
          foundComment = true;
        }
        break;
      case 0xe8:
        if (startsWith(body, 'SPIFF\0')) {
          if (foundApp) { yield { alert: JPEG + 'SPIFFdupAppMarker', offset: body }; return; }
          if (segment !== 1 && (segment !== 2 || !foundComment)) { yield { alert: JPEG + 'SPIFFmarkerBadPosition', offset: body }; return; }
          if (len < 16) { yield { alert: JPEG + 'SPIFFheaderTooShort', offset: body }; return; }
          foundApp = true;
          numSpiff++;
        }
        break;
      case 0xed:
        if (startsWith(body, 'Photoshop 3.0\0')) yield* photoshopThumbnails(bytes, body + 14);
        foundComment = true;
        break;
      case 0xf7: // JPG7
        if (foundApp) yield { alert: JPEG + 'AppMarkerBeforeJPG7', offset: body };
        return;
      case 0xda: // start of scan: the image data follows, the walk ends
        return;
      case 0xd9: // end of image before any scan
        yield { alert: JPEG + 'NoImages', offset: body };
        return;
      case 0xfe:
        foundComment = true;
        break;
      case 0xf2: // DTT
        if (prevSegment !== 0xf1) { yield { alert: JPEG + 'DTTMissingDTISegment', offset: body }; return; }
        break;
      default:
        break;
    }
    prevSegment = marker;
  }
}

// ---------------------------------------------------------------------------------------------
// TIFF

const TIFF = 'Heuristics.Broken.Media.TIFF.';

/** Bytes per value of each TIFF field type (0 for unknown types). */
const TYPE_SIZE = [0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8];

export function* tiffItems(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  if (!enabled(ctx)) return;
  const n = bytes.length;
  if (n < 4) return;
  let be: boolean;
  if (bytes[0] === 0x4d && bytes[1] === 0x4d && bytes[2] === 0x00 && bytes[3] === 0x2a) be = true;
  else if (bytes[0] === 0x49 && bytes[1] === 0x49 && bytes[2] === 0x2a && bytes[3] === 0x00) be = false;
  else return;
  const u16 = be ? u16be : u16le;
  const u32 = be ? u32be : u32le;
  if (8 > n) { yield { alert: TIFF + 'EOFReadingFirstIFDOffset' }; return; }
  let offset = u32(bytes, 4);
  if (!offset) { yield { alert: TIFF + 'InvalidIFDOffset' }; return; }
  do {
    if (offset + 2 > n) { yield { alert: TIFF + 'EOFReadingNumIFDDirectoryEntries', offset }; return; }
    const entries = u16(bytes, offset);
    offset += 2;
    for (let i = 0; i < entries; i++) {
      if (offset + 12 > n) { yield { alert: TIFF + 'EOFReadingIFDEntry', offset }; return; }
      const type = u16(bytes, offset + 2);
      const count = u32(bytes, offset + 4);
      const value = u32(bytes, offset + 8);
      offset += 12;
      const size = count * (TYPE_SIZE[type] ?? 0);
      if (size > 4 && value + size > n) { yield { alert: TIFF + 'OutOfBoundsAccess', offset: offset - 12 }; return; }
    }
    const last = offset;
    if (offset + 4 > n) { yield { alert: TIFF + 'EOFReadingChunkCRC', offset }; return; }
    offset = u32(bytes, offset);
    if (offset && last >= offset) { yield { alert: TIFF + 'OutOfOrderIFDOffset', offset: last }; return; }
  } while (offset);
}
