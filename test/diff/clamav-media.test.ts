/**
 * Media layers: `vigil scan` against `clamscan` on seeded Flash movies (CWS zlib, ZWS LZMA from
 * `xz --format=lzma`), CryptFF files, encoded script files (JScript.Encode), animated cursors and
 * GIF/PNG/JPEG/TIFF images, valid, truncated and damaged, with planted body and hash signatures in
 * the decompressed/decrypted/decoded children, in image overlays and Photoshop thumbnails — the
 * same `FOUND` lines and exit codes with and without `--alert-broken-media`, `--allmatch` and
 * `--heuristic-alerts=no`, and with a small MaxFileSize for Flash bombs. Skips with a message when
 * clamscan 1.4 is absent.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';
import { screncEncode } from '../../src/formats/html/screnc-encode.js';
import { screncDecodeFile } from '../../src/formats/media/screnc.js';
import {
  aniCursor, cryptff, cwsMovie, fwsMovie, gif, JFIF, jpeg, jpegSegment, photoshopSegment, png, pngChunk, tiff, validTiff, zwsMovie,
} from '../../src/formats/media/samples.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

function setup(prefix: string): { dir: string; data: string; hashes: string[]; hash: (b: Uint8Array, name: string) => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  return { dir, data, hashes, hash: (b, name) => { hashes.push(`${md5(b)}:${b.length}:${name}`); } };
}

test(`media containers: SWF, CryptFF and encoded scripts (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(`${SEED}-media-containers`);
  const { dir, data, hashes, hash } = setup('vigil-clam-media-');
  const payload = (): Buffer => Buffer.concat([
    Buffer.from(rng.bytes(rng.int(0, 300))),
    rng.chance(0.7) ? Buffer.from(rng.pick(MARKS), 'latin1') : Buffer.alloc(0),
    Buffer.from(rng.bytes(rng.int(0, 300))),
  ]);
  const haveXz = zwsMovie(fwsMovie(Buffer.from('x'))) !== undefined;
  for (let f = 0; f < 72; f++) {
    const kind = rng.pick(['cws', 'cws', 'zws', 'zws', 'cryptff', 'cryptff', 'screnc', 'screnc', 'cryptff-cws', 'cws-cut', 'zws-cut', 'cws-bad', 'swf-odd', 'xdp'] as const);
    let bytes: Buffer;
    if (kind === 'xdp') {
      // PDFs as base64 chunks of an XDP package (read by the pdf family's XDP reader).
      const stream = payload();
      const pdf = Buffer.concat([Buffer.from(`%PDF-1.4\n1 0 obj\n<< /Length ${stream.length} >>\nstream\n`), stream, Buffer.from('\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n')]);
      if (rng.chance(0.5)) hash(pdf, `Inner.XdpPdf.${f}`);
      const chunk = `<chunk>${pdf.toString('base64')}</chunk>`;
      bytes = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/">\n<pdf xmlns="http://ns.adobe.com/xdp/pdf/">\n<document>\n${chunk}\n</document>\n</pdf>\n</xdp:xdp>\n`, 'latin1');
    } else if (kind === 'swf-odd') {
      // Headers that disagree with the data: wrong declared size, trailing bytes, a ZWS without size, bad LZMA properties.
      const fws = fwsMovie(payload(), rng.int(6, 30));
      const variant = rng.int(0, 4);
      if (variant === 0) { bytes = Buffer.from(cwsMovie(fws)); bytes.writeUInt32LE(rng.int(0, 1 << 20), 4); }
      else if (variant === 1) bytes = Buffer.concat([cwsMovie(fws), Buffer.from(rng.bytes(rng.int(1, 50)))]);
      else {
        const zws = haveXz ? zwsMovie(fws) : undefined;
        bytes = Buffer.from(zws ?? cwsMovie(fws));
        if (zws && variant === 2) bytes.writeUInt32LE(0, 4);
        if (zws && variant === 3) bytes[12] = rng.pick([225, 255, 0x5d]);
        // A declared size below the data's: the LZMA reader stops there.
        if (zws && variant === 4) {
          const size = rng.int(1, fws.length);
          bytes.writeUInt32LE(size, 4);
          const cut = Buffer.from(fws.subarray(0, 8 + size));
          cut.writeUInt32LE(size, 4);
          if (rng.chance(0.7)) hash(cut, `Inner.ZwsCut.${f}`);
        }
      }
      if (rng.chance(0.5)) hash(fws, `Inner.Fws.${f}`);
    } else if (kind === 'screnc') {
      const words = rng.words(rng.int(3, rng.chance(0.3) ? 3000 : 400));
      const script = `var a = "${words}";\r\n${rng.chance(0.7) ? `var m = "${rng.pick(MARKS)}";\r\n` : ''}WScript.Echo(a);`;
      // The file starts with the block: CL_TYPE_SCRENC is typed from `#@~^` at offset 0.
      bytes = Buffer.from(screncEncode(script) + (rng.chance(0.5) ? ` ${rng.words(3)}\n` : ''), 'latin1');
      if (rng.chance(0.2)) bytes = bytes.subarray(0, rng.int(12, bytes.length));
      // NUL bytes (ClamAV's chunk reader drops them) and long runs without whitespace (chunks cut back to a space).
      if (rng.chance(0.25)) {
        const parts: Buffer[] = [];
        let at = 0;
        while (at < bytes.length) {
          const next = Math.min(bytes.length, at + rng.int(1, 3000));
          parts.push(bytes.subarray(at, next), Buffer.alloc(rng.int(1, 40)));
          at = next;
        }
        bytes = Buffer.concat(parts);
      }
      if (rng.chance(0.2)) bytes = Buffer.concat([bytes.subarray(0, 4), bytes.subarray(4).map((c) => (c === 0x20 ? 0x2e : c))]);
      const out = screncDecodeFile(bytes);
      if (out && rng.chance(0.5)) hash(out, `Inner.Screnc.${f}`);
    } else if (kind === 'cryptff' || kind === 'cryptff-cws') {
      let inner = payload();
      if (rng.chance(0.4)) hash(inner, `Inner.Cryptff.${f}`);
      if (kind === 'cryptff-cws') {
        const fws = fwsMovie(inner);
        if (rng.chance(0.5)) hash(fws, `Inner.Fws.${f}`);
        inner = cwsMovie(fws);
      }
      bytes = cryptff(inner);
    } else {
      const fws = fwsMovie(payload(), rng.int(6, 30));
      if (rng.chance(0.5)) hash(fws, `Inner.Fws.${f}`);
      const zws = kind.startsWith('zws') && haveXz ? zwsMovie(fws) : undefined;
      bytes = zws ?? cwsMovie(fws);
      if (kind.endsWith('-cut')) bytes = bytes.subarray(0, rng.int(20, bytes.length));
      if (kind === 'cws-bad') { bytes = Buffer.from(bytes); const at = rng.int(10, bytes.length - 1); bytes[at] = bytes[at]! ^ 0x55; }
    }
    writeFileSync(join(data, `f${String(f).padStart(2, '0')}-${kind}`), bytes);
  }
  await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['--allmatch', '--max-recursion=2'], ['--allmatch', '--scan-swf=no']]);
});

test(`media containers: Flash bombs past MaxFileSize (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(`${SEED}-media-bombs`);
  const { dir, data, hashes, hash } = setup('vigil-clam-media-bomb-');
  const haveXz = zwsMovie(fwsMovie(Buffer.from('x'))) !== undefined;
  for (let f = 0; f < 16; f++) {
    // A mark early (inside the part kept) or late (cut off), in a body that compresses well.
    const early = rng.chance(0.5);
    const fill = Buffer.alloc(rng.int(60000, 120000), 0x41 + rng.int(0, 5));
    const mark = Buffer.from(rng.pick(MARKS), 'latin1');
    const body = early ? Buffer.concat([mark, fill]) : Buffer.concat([fill, mark]);
    const fws = fwsMovie(body);
    const zws = f % 2 && haveXz ? zwsMovie(fws) : undefined;
    const bytes = zws ?? cwsMovie(fws);
    hash(bytes, `Outer.Swf.${f}`);
    // What ClamAV keeps under --max-filesize=40000: the header and the whole 8 KiB writes that fit.
    const kept = Buffer.from(fws.subarray(0, 8 + Math.floor((40000 - 8) / 8192) * 8192));
    hash(kept, `Inner.Kept.${f}`);
    writeFileSync(join(data, `bomb${String(f).padStart(2, '0')}.swf`), bytes);
  }
  await compareLayers(t, dir, hashes, [['--allmatch'], ['--max-filesize=40000'], ['--max-filesize=40000', '--alert-exceeds-max', '--allmatch']]);
});

test(`media images: GIF, PNG, JPEG, TIFF and cursors with --alert-broken-media (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(`${SEED}-media-images`);
  const { dir, data, hashes, hash } = setup('vigil-clam-media-img-');
  const payload = (): Buffer => Buffer.concat([
    Buffer.from(rng.bytes(rng.int(6, 200))),
    rng.chance(0.6) ? Buffer.from(rng.pick(MARKS), 'latin1') : Buffer.alloc(0),
    Buffer.from(rng.bytes(rng.int(0, 200))),
  ]);
  const mark = (): string => (rng.chance(0.4) ? rng.pick(MARKS) : rng.words(2));
  const overlay = (f: number): Buffer => {
    if (!rng.chance(0.5)) return Buffer.alloc(0);
    const p = payload();
    if (rng.chance(0.5)) hash(p, `Inner.Overlay.${f}`);
    return p;
  };
  for (let f = 0; f < 110; f++) {
    const kind = rng.pick(['gif', 'png', 'jpeg', 'jpeg-ps', 'jpeg-bad', 'tiff', 'tiff-bad', 'ani', 'ani-odd', 'bmp', 'nested'] as const);
    let bytes: Buffer;
    switch (kind) {
      case 'gif':
        bytes = gif(mark(), overlay(f));
        if (rng.chance(0.2)) bytes = Buffer.concat([Buffer.from('GIF89a'), bytes.subarray(6, 13), Buffer.from(rng.pick(['?', ';', '!'])), payload()]);
        break;
      case 'png': {
        const extra = [pngChunk('tEXt', Buffer.from(`Comment\0${mark()}`, 'latin1'))];
        if (rng.chance(0.15)) extra.push(Buffer.concat([Buffer.from('ffffffff', 'hex'), Buffer.from('zTXt')]));
        bytes = png(extra, overlay(f));
        if (rng.chance(0.1)) bytes = Buffer.concat([bytes.subarray(0, 8), pngChunk('IHDR', Buffer.alloc(13)), bytes.subarray(33)]);
        break;
      }
      case 'jpeg': {
        const com = jpegSegment(0xfe, Buffer.from(mark(), 'latin1'));
        const exif = jpegSegment(0xe1, Buffer.concat([Buffer.from('Exif\0\0'), Buffer.alloc(rng.int(2, 30))]));
        const spiff = jpegSegment(0xe8, Buffer.concat([Buffer.from('SPIFF\0'), Buffer.alloc(rng.int(2, 30))]));
        const choices = [JFIF, com, exif, spiff, jpegSegment(0xf1, Buffer.alloc(2)), jpegSegment(0xf2, Buffer.alloc(2)), jpegSegment(0xdb, Buffer.alloc(65))];
        const segs = Array.from({ length: rng.int(1, 4) }, () => rng.pick(choices));
        bytes = jpeg(segs, overlay(f));
        break;
      }
      case 'jpeg-ps': {
        const inner = payload();
        const thumb = jpeg([JFIF], inner);
        bytes = jpeg([JFIF, photoshopSegment(thumb, rng.pick([0x0409, 0x040c, 0x0404]), rng.chance(0.5) ? 'x' : '')]);
        const at = bytes.indexOf(thumb);
        if (rng.chance(0.6)) hash(bytes.subarray(at), `Inner.Thumb.${f}`);
        break;
      }
      case 'jpeg-bad': {
        const com = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, rng.int(0, 1)]), Buffer.from(mark(), 'latin1')]);
        bytes = rng.chance(0.3) ? Buffer.concat([Buffer.from([0xff, 0xd8]), com, payload()]) : jpeg([JFIF, JFIF, jpegSegment(0xfe, Buffer.from(mark()))]);
        break;
      }
      case 'tiff':
        bytes = validTiff(rng.chance(0.5), Buffer.from(mark(), 'latin1'));
        break;
      case 'tiff-bad':
        bytes = tiff([[256, 3, 1, 1], [270, 2, rng.int(5, 4000), rng.int(0, 200)]], rng.chance(0.5), rng.pick([0, 0, 4, 8]), Buffer.from(mark(), 'latin1'));
        break;
      case 'ani':
        bytes = aniCursor(rng.pick([36, 36, 40, 0]), rng.chance(0.3), Buffer.from(mark(), 'latin1'));
        break;
      case 'ani-odd': {
        // Chunks in any order: lists (entered), odd sizes (padded), an anih somewhere, or a nested RIFF (the walk stops).
        const be = rng.chance(0.3);
        const w32 = (v: number): Buffer => { const b = Buffer.alloc(4); if (be) b.writeUInt32BE(v); else b.writeUInt32LE(v); return b; };
        const parts: Buffer[] = [Buffer.from('ACON')];
        for (let k = rng.int(1, 6); k > 0; k--) {
          const id = rng.pick(['LIST', 'anih', 'rate', 'seq ', 'icon', 'RIFF', 'CAT ', 'PROP']);
          if (id === 'LIST' || id === 'CAT ' || id === 'PROP') parts.push(Buffer.from(id), w32(rng.int(4, 200)), Buffer.from('fram'));
          else {
            const size = id === 'anih' ? rng.pick([36, 36, 35, 37, 100]) : rng.int(0, 41);
            parts.push(Buffer.from(id), w32(size), Buffer.from(rng.bytes(size + (size & 1))));
          }
        }
        parts.push(Buffer.from(mark(), 'latin1'));
        const body = Buffer.concat(parts);
        bytes = Buffer.concat([Buffer.from(be ? 'RIFX' : 'RIFF'), w32(body.length), body]);
        break;
      }
      case 'nested': {
        // Images in images: a PNG (with its own overlay) after a GIF, a GIF after a PNG, a JPEG thumbnail with an overlay.
        const inner = payload();
        if (rng.chance(0.5)) hash(inner, `Inner.Deep.${f}`);
        const v = rng.int(0, 2);
        bytes = v === 0 ? gif(mark(), png([], inner)) : v === 1 ? png([], gif(mark(), inner)) : jpeg([JFIF, photoshopSegment(png([], inner))]);
        break;
      }
      case 'bmp': {
        // CL_TYPE_GRAPHICS: no parser, the raw scan only.
        const pixels = Buffer.concat([Buffer.alloc(16, 0x80), Buffer.from(mark(), 'latin1')]);
        const head = Buffer.alloc(54);
        head.write('BM', 0, 'latin1');
        head.writeUInt32LE(54 + pixels.length, 2);
        head.writeUInt32LE(54, 10);
        head.writeUInt32LE(40, 14);
        head.writeInt32LE(2, 18);
        head.writeInt32LE(2, 22);
        head.writeUInt16LE(1, 26);
        head.writeUInt16LE(24, 28);
        bytes = Buffer.concat([head, pixels, overlay(f)]);
        break;
      }
    }
    if (rng.chance(0.25)) bytes = bytes.subarray(0, rng.int(Math.min(10, bytes.length), bytes.length));
    writeFileSync(join(data, `f${String(f).padStart(3, '0')}-${kind}`), bytes);
  }
  await compareLayers(t, dir, hashes, [
    [], ['--allmatch'], ['--alert-broken-media'], ['--alert-broken-media', '--allmatch'],
    ['--alert-broken-media', '--heuristic-alerts=no'], ['--heuristic-alerts=no', '--allmatch'],
    ['--alert-broken-media', '--scan-image=no', '--allmatch'], ['--alert-broken-media', '--allmatch', '--max-recursion=2'],
  ]);
});

test(`media images: mutated GIF, PNG, JPEG and TIFF with --alert-broken-media (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(`${SEED}-media-mutants`);
  const { dir, data, hashes, hash } = setup('vigil-clam-media-mut-');
  for (let f = 0; f < 120; f++) {
    const inner = Buffer.concat([Buffer.from(rng.bytes(rng.int(6, 60))), Buffer.from(rng.pick(MARKS), 'latin1')]);
    const kind = rng.pick(['gif', 'png', 'jpeg', 'tiff'] as const);
    const base = kind === 'gif' ? gif(rng.words(3), inner)
      : kind === 'png' ? png([pngChunk('tEXt', Buffer.from(`a\0${rng.words(4)}`))], inner)
        : kind === 'jpeg' ? jpeg([JFIF, photoshopSegment(jpeg([JFIF], inner))])
          : validTiff(rng.chance(0.5), inner);
    const bytes = Buffer.from(base);
    // Flip a few bytes in the structure (not in the first four, which make the type).
    for (let k = rng.int(1, 4); k > 0; k--) bytes[rng.int(4, Math.max(4, bytes.length - inner.length - 1))] = rng.pick([0x00, 0xff, 0x3b, 0x21, 0x2c, 0xd9, 0xda, 0xfe, rng.int(0, 255)]);
    if (rng.chance(0.3)) hash(inner, `Inner.Tail.${f}`);
    writeFileSync(join(data, `m${String(f).padStart(3, '0')}-${kind}`), bytes);
  }
  await compareLayers(t, dir, hashes, [['--alert-broken-media'], ['--alert-broken-media', '--allmatch']]);
});
