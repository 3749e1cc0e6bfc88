import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_UNPACK_OPTIONS, isAlert, isChild, isLimited, type UnpackContext, type UnpackItem, type Unpacker } from '../unpack.js';
import { screncEncode } from '../html/screnc-encode.js';
import { cryptffItems } from './cryptff.js';
import { gifItems, jpegItems, pngItems, tiffItems } from './images.js';
import { riffExploit, riffItems } from './riff.js';
import { screncDecodeFile, screncItems } from './screnc.js';
import { swfItems } from './swf.js';
import { family } from './index.js';
import {
  aniCursor, cryptff, cwsMovie, fwsMovie, gif, JFIF, jpeg, jpegSegment, photoshopSegment, png, pngChunk, tiff, validTiff, zwsMovie,
} from './samples.js';

const ctx = (o: Partial<UnpackContext['options']> = {}, maxFileSize = 25 * 1024 * 1024): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 10000, maxScanSize: 100 * 1024 * 1024 },
  options: { ...DEFAULT_UNPACK_OPTIONS, ...o },
});
const BROKEN = ctx({ alertBrokenMedia: true });
const all = (r: Unpacker, b: Uint8Array, c = BROKEN): UnpackItem[] => [...r(b, c)];
const alerts = (items: UnpackItem[]): string[] => items.filter(isAlert).map((i) => i.alert);
const children = (items: UnpackItem[]): Uint8Array[] => items.filter(isChild).map((i) => i.data);
const has = (hay: Uint8Array, needle: string): boolean => Buffer.from(hay).includes(Buffer.from(needle, 'latin1'));

const PAYLOAD = Buffer.from('hidden payload kestrel-plover-0001 end', 'latin1');

/** Every truncation and a few hundred mutations: no throw, bounded time. */
function hostile(r: Unpacker, sample: Uint8Array): void {
  const t0 = Date.now();
  for (let n = 0; n <= sample.length; n += Math.max(1, sample.length >> 7)) void [...r(sample.subarray(0, n), BROKEN)];
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
  for (let k = 0; k < 300; k++) {
    const m = Uint8Array.from(sample);
    for (let j = 0; j < 1 + (k % 6); j++) m[rnd() % m.length] = rnd() & 0xff;
    void [...r(m, BROKEN)];
  }
  assert.ok(Date.now() - t0 < 20000, 'bounded time');
}

test('the family registers the media types', () => {
  assert.deepEqual(Object.keys(family.containers).sort(), ['CL_TYPE_CRYPTFF', 'CL_TYPE_GIF', 'CL_TYPE_JPEG', 'CL_TYPE_PNG', 'CL_TYPE_RIFF', 'CL_TYPE_SCRENC', 'CL_TYPE_SWF', 'CL_TYPE_TIFF']);
});

test('SWF: CWS is inflated behind an FWS header; FWS yields nothing', () => {
  const fws = fwsMovie(PAYLOAD);
  assert.deepEqual(all(swfItems, fws), []);
  const kids = children(all(swfItems, cwsMovie(fws)));
  assert.equal(kids.length, 1);
  assert.deepEqual(Buffer.from(kids[0]!), fws);
});

test('SWF: ZWS (LZMA from xz) is decompressed behind an FWS header', (t) => {
  const fws = fwsMovie(PAYLOAD);
  const zws = zwsMovie(fws);
  if (!zws) { t.skip('xz is not installed'); return; }
  const kids = children(all(swfItems, zws));
  assert.equal(kids.length, 1);
  assert.deepEqual(Buffer.from(kids[0]!), fws);
});

test('SWF: ZWS stops at the declared size; a zero size is read from the stream', (t) => {
  const fws = fwsMovie(PAYLOAD);
  const zws = zwsMovie(fws);
  if (!zws) { t.skip('xz is not installed'); return; }
  const short = Buffer.from(zws);
  short.writeUInt32LE(20, 4);
  const kid = children(all(swfItems, short))[0]!;
  assert.equal(kid.length, 8 + 20);
  assert.deepEqual(Buffer.from(kid.subarray(8)), fws.subarray(8, 28));
  // Size 0: eight size bytes follow the properties in the stream.
  const size = Buffer.alloc(8);
  size.writeUInt32LE(10, 0);
  const zero = Buffer.concat([zws.subarray(0, 17), size, zws.subarray(17)]);
  zero.writeUInt32LE(0, 4);
  assert.equal(children(all(swfItems, zero))[0]!.length, 8 + 10);
  const badProps = Buffer.from(zws);
  badProps[12] = 250;
  assert.deepEqual(all(swfItems, badProps), []);
});

test('SWF: a truncated stream gives what came out; damage at the start gives nothing', () => {
  const big = fwsMovie(Buffer.concat(Array.from({ length: 200 }, (_, i) => Buffer.from(`line ${i} ${Math.sin(i)}\n`))));
  const cws = cwsMovie(big);
  const cut = children(all(swfItems, cws.subarray(0, cws.length >> 1)));
  assert.equal(cut.length, 1);
  assert.ok(cut[0]!.length > 8 && cut[0]!.length < big.length);
  assert.deepEqual(Buffer.from(cut[0]!), big.subarray(0, cut[0]!.length));
  const bad = Buffer.from(cws);
  bad[8] = 0x00; // not a zlib header
  assert.deepEqual(all(swfItems, bad), []);
});

test('SWF: output past MaxFileSize is cut at whole 8 KiB writes and reported', () => {
  const fws = fwsMovie(Buffer.alloc(100000, 0x41));
  const items = all(swfItems, cwsMovie(fws), ctx({}, 30000));
  assert.equal(items.filter(isLimited).length, 1);
  const kids = children(items);
  assert.equal(kids.length, 1);
  assert.equal(kids[0]!.length, 8 + 3 * 8192);
});

test('CryptFF: the bytes after the header, inverted', () => {
  const kids = children(all(cryptffItems, cryptff(PAYLOAD)));
  assert.deepEqual(Buffer.from(kids[0]!), PAYLOAD);
  assert.deepEqual(all(cryptffItems, cryptff(new Uint8Array(0))), []);
});

test('SCRENC: the encoded block decodes inside <script> tags', () => {
  const script = 'var s = "kestrel-plover-0001";\r\nWScript.Echo(s);';
  const file = Buffer.from(`<%@ language="JScript.Encode" %>\n${screncEncode(script)} trailing`, 'latin1');
  const out = screncDecodeFile(file)!;
  assert.equal(Buffer.from(out).toString('latin1'), `<script>${script} trailing</script>`);
  assert.equal(children(all(screncItems, file)).length, 1);
  assert.equal(screncDecodeFile(Buffer.from('no block here')), undefined);
  hostile(screncItems, file);
});

test('SCRENC: a block spread over several chunks decodes whole', () => {
  const script = Array.from({ length: 900 }, (_, i) => `x${i} = ${i * 7};`).join(' ') + ' kestrel-plover-0001';
  const file = Buffer.from(screncEncode(script), 'latin1');
  const out = Buffer.from(screncDecodeFile(file)!).toString('latin1');
  assert.ok(out.startsWith('<script>x0 = 0;'));
  assert.ok(out.includes('kestrel-plover-0001'));
});

test('RIFF: anih of a size other than 36 is MS05-002; only with heuristic alerts', () => {
  assert.equal(riffExploit(aniCursor(36)), 'clean');
  assert.equal(riffExploit(aniCursor(40)), 'exploit');
  assert.equal(riffExploit(aniCursor(40, true)), 'exploit');
  assert.deepEqual(alerts(all(riffItems, aniCursor(40), ctx())), ['Heuristics.Exploit.W32.MS05-002']);
  assert.deepEqual(all(riffItems, aniCursor(40), ctx({ heuristicAlerts: false })), []);
  const wav = Buffer.from(aniCursor(40));
  wav.write('WAVE', 8, 'latin1');
  assert.equal(riffExploit(wav), 'clean');
  hostile(riffItems, aniCursor(40));
});

test('images: nothing without --alert-broken-media', () => {
  for (const [r, b] of [[gifItems, gif('x', PAYLOAD)], [pngItems, png([], PAYLOAD)], [jpegItems, jpeg([JFIF, JFIF])], [tiffItems, tiff([[1, 4, 100, 0]])]] as const) {
    assert.deepEqual(all(r, b, ctx()), []);
    assert.deepEqual(all(r, b, ctx({ alertBrokenMedia: true, heuristicAlerts: false })), []);
  }
});

test('GIF: valid is quiet; overlays are children; each damage has its name', () => {
  assert.deepEqual(all(gifItems, gif()), []);
  const items = all(gifItems, gif('c', PAYLOAD));
  assert.deepEqual(alerts(items), []);
  assert.deepEqual(Buffer.from(children(items)[0]!), PAYLOAD);
  const g = gif('comment');
  assert.deepEqual(alerts(all(gifItems, g.subarray(0, 10))), ['Heuristics.Broken.Media.GIF.TruncatedScreenDescriptor']);
  assert.deepEqual(alerts(all(gifItems, g.subarray(0, 15))), ['Heuristics.Broken.Media.GIF.TruncatedGlobalColorTable']);
  assert.deepEqual(alerts(all(gifItems, g.subarray(0, 19))), ['Heuristics.Broken.Media.GIF.MissingImageData']);
  assert.deepEqual(alerts(all(gifItems, g.subarray(0, 22))), ['Heuristics.Broken.Media.GIF.TruncatedExtensionSubBlock']);
  const noTrailer = g.subarray(0, g.length - 1);
  assert.deepEqual(all(gifItems, noTrailer), []);
  const unknown = Buffer.concat([Buffer.from('GIF89a'), Buffer.from([2, 0, 2, 0, 0, 0, 0]), Buffer.from('?'), PAYLOAD]);
  const u = all(gifItems, unknown);
  assert.deepEqual(alerts(u), ['Heuristics.Broken.Media.GIF.UnknownBlockLabel']);
  // Damage right after the screen descriptor: the overlay starts after the version.
  assert.equal(children(u)[0]!.length, unknown.length - 6);
  hostile(gifItems, gif('c', PAYLOAD));
});

test('PNG: valid is quiet; overlays are children; truncation has its names', () => {
  const p = png();
  assert.deepEqual(all(pngItems, p), []);
  assert.deepEqual(Buffer.from(children(all(pngItems, png([], PAYLOAD)))[0]!), PAYLOAD);
  assert.deepEqual(alerts(all(pngItems, p.subarray(0, 14))), ['Heuristics.Broken.Media.PNG.EOFReadingChunkType']);
  assert.deepEqual(alerts(all(pngItems, p.subarray(0, 20))), ['Heuristics.Broken.Media.PNG.EOFReadingChunk']);
  assert.deepEqual(alerts(all(pngItems, p.subarray(0, 31))), ['Heuristics.Broken.Media.PNG.EOFReadingChunkCRC']);
  const huge = Buffer.concat([p.subarray(0, 33), Buffer.from('ffffffff', 'hex'), Buffer.from('tEXt'), PAYLOAD]);
  const h = all(pngItems, huge);
  assert.deepEqual(alerts(h), ['Heuristics.Broken.Media.PNG.InvalidChunkLength']);
  assert.equal(children(h)[0]!.length, huge.length - 37);
  // A bad IHDR ends the walk quietly; the rest (from its CRC) is scanned.
  const badIhdr = Buffer.concat([p.subarray(0, 8), pngChunk('IHDR', Buffer.alloc(13)), p.subarray(33)]);
  const b = all(pngItems, badIhdr);
  assert.deepEqual(alerts(b), []);
  assert.equal(children(b)[0]!.length, badIhdr.length - 29);
  hostile(pngItems, png([pngChunk('tEXt', Buffer.from('a\0b'))], PAYLOAD));
});

test('JPEG: valid is quiet; MS04-028 and the broken-media names', () => {
  assert.deepEqual(all(jpegItems, jpeg()), []);
  const com = (len: number) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xfe]), Buffer.from([0, len]), PAYLOAD]);
  assert.deepEqual(alerts(all(jpegItems, com(0))), ['Heuristics.Exploit.W32.MS04-028']);
  assert.deepEqual(alerts(all(jpegItems, com(1))), ['Heuristics.Exploit.W32.MS04-028']);
  assert.deepEqual(alerts(all(jpegItems, jpeg([JFIF, JFIF]))), ['Heuristics.Broken.Media.JPEG.JFIFdupAppMarker']);
  const com2 = jpegSegment(0xfe, Buffer.from('hi'));
  assert.deepEqual(alerts(all(jpegItems, jpeg([com2, com2, JFIF]))), ['Heuristics.Broken.Media.JPEG.JFIFmarkerBadPosition']);
  assert.deepEqual(alerts(all(jpegItems, jpeg([jpegSegment(0xe0, Buffer.from('JFIF\0x'))]))), ['Heuristics.Broken.Media.JPEG.JFIFheaderTooShort']);
  assert.deepEqual(alerts(all(jpegItems, Buffer.from([0xff, 0xd8, 0xff, 0xd9, 0, 2, 0, 0]))), ['Heuristics.Broken.Media.JPEG.NoImages']);
  assert.deepEqual(alerts(all(jpegItems, Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(20, 0xff)]))), ['Heuristics.Broken.Media.JPEG.SpuriousBytesBeforeSegment']);
  assert.deepEqual(alerts(all(jpegItems, Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x40, 1, 2]))), ['Heuristics.Broken.Media.JPEG.SegmentDataOutOfFile']);
  assert.deepEqual(alerts(all(jpegItems, Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x01, 1, 2]))), ['Heuristics.Broken.Media.JPEG.InvalidSegmentSize']);
  assert.deepEqual(alerts(all(jpegItems, Buffer.from([0xff, 0xd8, 0xff, 0xc0]))), ['Heuristics.Broken.Media.JPEG.CantReadSegmentSize']);
  assert.deepEqual(alerts(all(jpegItems, jpeg([jpegSegment(0xf2, Buffer.alloc(4))]))), ['Heuristics.Broken.Media.JPEG.DTTMissingDTISegment']);
  assert.deepEqual(alerts(all(jpegItems, jpeg([jpegSegment(0xf1, Buffer.alloc(4)), jpegSegment(0xf2, Buffer.alloc(4))]))), []);
  assert.deepEqual(alerts(all(jpegItems, jpeg([JFIF, jpegSegment(0xf7, Buffer.alloc(4))]))), ['Heuristics.Broken.Media.JPEG.AppMarkerBeforeJPG7']);
  const exif = jpegSegment(0xe1, Buffer.concat([Buffer.from('Exif\0\0'), Buffer.alloc(20)]));
  assert.deepEqual(alerts(all(jpegItems, jpeg([exif, JFIF]))), []);
  assert.deepEqual(alerts(all(jpegItems, jpeg([exif, exif]))), ['Heuristics.Broken.Media.JPEG.ExifDupAppMarker']);
  const spiff = jpegSegment(0xe8, Buffer.concat([Buffer.from('SPIFF\0'), Buffer.alloc(20)]));
  assert.deepEqual(alerts(all(jpegItems, jpeg([spiff]))), []);
  assert.deepEqual(alerts(all(jpegItems, jpeg([JFIF, spiff]))), ['Heuristics.Broken.Media.JPEG.SPIFFdupAppMarker']);
  hostile(jpegItems, jpeg([JFIF, photoshopSegment(jpeg())]));
});

test('JPEG: Photoshop thumbnails are scanned from their JPEG to the end of the file', () => {
  const thumb = jpeg([JFIF], PAYLOAD);
  const file = jpeg([JFIF, photoshopSegment(thumb, 0x040c, 'ab')]);
  const kids = children(all(jpegItems, file));
  assert.equal(kids.length, 1);
  assert.ok(Buffer.from(kids[0]!).subarray(0, thumb.length).equals(thumb));
  assert.equal(Buffer.from(kids[0]!).subarray(-2).toString('hex'), 'ffd9');
  assert.ok(has(kids[0]!, 'kestrel-plover-0001'));
  assert.deepEqual(children(all(jpegItems, jpeg([JFIF, photoshopSegment(thumb, 0x0404)]))), []);
  // A thumbnail that does not start as a JPEG is still scanned as one (a plain JPEG pass).
  const odd = all(jpegItems, jpeg([JFIF, photoshopSegment(Buffer.concat([Buffer.from('not a jpeg '), PAYLOAD]))])).filter(isChild);
  assert.equal(odd.length, 1);
  assert.equal(odd[0]!.type, 'CL_TYPE_JPEG');
});

test('TIFF: valid is quiet; each damage has its name', () => {
  assert.deepEqual(all(tiffItems, validTiff()), []);
  assert.deepEqual(all(tiffItems, validTiff(true)), []);
  assert.deepEqual(alerts(all(tiffItems, validTiff().subarray(0, 6))), ['Heuristics.Broken.Media.TIFF.EOFReadingFirstIFDOffset']);
  assert.deepEqual(alerts(all(tiffItems, Buffer.from('49492a0000000000', 'hex'))), ['Heuristics.Broken.Media.TIFF.InvalidIFDOffset']);
  assert.deepEqual(alerts(all(tiffItems, validTiff().subarray(0, 9))), ['Heuristics.Broken.Media.TIFF.EOFReadingNumIFDDirectoryEntries']);
  assert.deepEqual(alerts(all(tiffItems, validTiff().subarray(0, 30))), ['Heuristics.Broken.Media.TIFF.EOFReadingIFDEntry']);
  assert.deepEqual(alerts(all(tiffItems, validTiff().subarray(0, 84))), ['Heuristics.Broken.Media.TIFF.EOFReadingChunkCRC']);
  assert.deepEqual(alerts(all(tiffItems, tiff([[270, 2, 1000, 8]]))), ['Heuristics.Broken.Media.TIFF.OutOfBoundsAccess']);
  assert.deepEqual(alerts(all(tiffItems, tiff([[270, 2, 3, 8]], false, 8))), ['Heuristics.Broken.Media.TIFF.OutOfOrderIFDOffset']);
  hostile(tiffItems, validTiff(true, PAYLOAD));
});

test('SWF and CryptFF survive truncation and mutation', (t) => {
  const fws = fwsMovie(PAYLOAD);
  hostile(swfItems, cwsMovie(fws));
  hostile(cryptffItems, cryptff(PAYLOAD));
  const zws = zwsMovie(fws);
  if (!zws) { t.skip('xz is not installed'); return; }
  hostile(swfItems, zws);
});
