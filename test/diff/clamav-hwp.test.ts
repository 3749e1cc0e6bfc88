/**
 * Hangul Word Processor documents: `vigil scan` against `clamscan` on seeded files built by code
 * (no tool writes these formats) — HWP 3 documents with plain and compressed bodies, nested
 * paragraph lists, and additional information blocks (images, embedded OLE2 files, hyperlink
 * macros, background images, blocks of unknown kinds); HWP 5 documents (OLE2) with compressed or
 * stored streams and the password flag; HWPML documents with base64 (and compressed) binary data
 * and scripts; damaged copies of each. The same `FOUND` lines and exit codes by default, with
 * `--allmatch`, with `--max-filesize` or `--max-files` and `--alert-exceeds-max` (bodies and items
 * cut while they inflate), with `--max-rechwp3`, and with `--scan-hwp3=no` or `--scan-xmldocs=no
 * --scan-ole2=no`. Hash signatures cover the payloads, the HWP 3 bodies as ClamAV walks them and
 * the first 16 KiB of long inflated items (what ClamAV keeps at `--max-filesize=20000`).
 * `--max-scansize` is left out: the engine's accounting of children scanned in place differs from
 * ClamAV's. Skips with a message when clamscan 1.4 is absent.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';
import { buildCfb, type CfbStream } from '../../src/formats/office/cfb-writer.js';
import {
  base64Lines, buildHwp3, buildHwpml, hwp3Background, hwp3Body, hwp3Hyperlinks, hwp3Image, hwp3Ole2, type Hwp3Doc, type Hwp3Paragraph,
} from '../../src/formats/office/hwp-writer.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';

let generated: { dir: string; hashes: string[] } | undefined;

function generate(): { dir: string; hashes: string[] } {
  if (generated) return generated;
  const rng = new Prng(`${SEED}-hwp`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-hwp-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  const hash = (body: Uint8Array): void => {
    if (body.length > 5) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${hashes.length}`);
  };
  const cuts: string[] = [];
  /** The first 16 KiB of an inflated item (the cut at 20000 when the first 8 KiB of input give more). */
  const hashCut = (b: Uint8Array): void => {
    cuts.push(`${createHash('md5').update(b.subarray(0, 16384)).digest('hex')}:16384:Cut.Hash.${cuts.length}`);
  };
  /** Random bytes, a mark now and then, hashed now and then. */
  const payload = (max = 3000, hashed = 0.3): Buffer => {
    const parts: Buffer[] = [Buffer.from(rng.bytes(rng.int(0, max)))];
    if (rng.chance(0.5)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    parts.push(Buffer.from(rng.bytes(rng.int(0, 200))));
    const body = Buffer.concat(parts);
    if (rng.chance(hashed)) hash(body);
    return body;
  };
  /** Text of even length, a mark now and then, long and compressible now and then. */
  const text = (): string => {
    let s = rng.pick(['Hello', 'Hangul text', 'paragraph', 'cell', 'note']);
    if (rng.chance(0.15)) s += ` ${rng.pick(MARKS)} `;
    if (rng.chance(0.1)) s += 'z'.repeat(rng.int(1000, 40000));
    return s;
  };
  const paragraphs = (depth: number): Hwp3Paragraph[] => Array.from({ length: rng.int(1, 3) }, (): Hwp3Paragraph => {
    const p: Hwp3Paragraph = { text: text() };
    if (depth < 5 && rng.chance(0.35)) p.nested = [{ code: rng.pick([15, 16, 17] as const), paragraphs: paragraphs(depth + 1) }];
    else if (depth < 5 && rng.chance(0.2)) p.table = { cells: Array.from({ length: rng.int(1, 3) }, () => paragraphs(depth + 1)), caption: paragraphs(depth + 1) };
    return p;
  });
  const olePayload = (): Uint8Array => buildCfb(Array.from({ length: rng.int(1, 3) }, (_, i): CfbStream => ({ path: `Stream${i}`, data: payload(rng.chance(0.5) ? 3000 : 6000) })));
  const blocks = (): Hwp3Doc['blocks'] => Array.from({ length: rng.int(0, 5) }, () => {
    switch (rng.int(0, 6)) {
      case 0: return hwp3Image(payload());
      case 1: return hwp3Ole2(olePayload());
      case 2: {
        const macros = Array.from({ length: rng.int(1, 3) }, () => {
          const m = Buffer.alloc(325);
          payload(250, 0).copy(m);
          hash(m);
          return m;
        });
        return hwp3Hyperlinks(macros);
      }
      case 3: return hwp3Background(payload());
      case 4: return { id: 5, data: new Uint8Array(0) };
      case 5: return { id: rng.pick([4, 0x100, 9, 77]), data: payload(500) };
      default: return { id: 1, data: Buffer.from(rng.bytes(rng.int(0, 40))) }; // shorter than its header
    }
  });

  let n = 0;
  const put = (ext: string, bytes: Uint8Array): void => {
    writeFileSync(join(data, `f${String(n++).padStart(3, '0')}.${ext}`), bytes);
    // A damaged copy now and then: cut short, or bytes changed after the headers.
    if (rng.chance(0.3)) {
      const b = Buffer.from(bytes);
      const m = rng.chance(0.5) ? b.subarray(0, rng.int(Math.min(b.length, 1200), b.length)) : b;
      if (m === b) for (let e = rng.int(1, 6); e > 0; e--) m[rng.int(Math.min(m.length - 1, 1166), m.length - 1)] = rng.int(0, 255);
      writeFileSync(join(data, `f${String(n++).padStart(3, '0')}.bad.${ext}`), m);
    }
  };

  // HWP 3.
  for (let k = 0; k < 60; k++) {
    const doc: Hwp3Doc = { compressed: rng.chance(0.5), paragraphs: paragraphs(0), blocks: blocks() };
    if (rng.chance(0.1)) doc.infoBlock0 = Buffer.from(rng.bytes(rng.int(1, 400)));
    if (rng.chance(0.05)) doc.password = true;
    if (rng.chance(0.05)) doc.noTerminator = true;
    const body = hwp3Body(doc);
    if (rng.chance(0.4)) hash(body);
    // What ClamAV scans of a body cut at --max-filesize=20000: whole 8 KiB pieces of output.
    if (doc.compressed && body.length > 20000) hashCut(body);
    put('hwp', buildHwp3(doc));
    // The body damaged before it is packed, so that the walk meets the damage (special characters,
    // counts and lengths changed; blocks cut).
    if (rng.chance(0.5)) {
      const m = Buffer.from(body);
      for (let e = rng.int(1, 4); e > 0; e--) {
        const at = rng.int(0, m.length - 2);
        if (rng.chance(0.5)) m.writeUInt16LE(rng.int(0, 31), at);
        else m[at] = rng.pick([0, 1, 0xff, rng.int(0, 255)]);
      }
      const bad = rng.chance(0.2) ? m.subarray(0, rng.int(0, m.length)) : m;
      const head = buildHwp3({ ...doc, paragraphs: [], blocks: [], compressed: false }).subarray(0, 1166 + (doc.infoBlock0?.length ?? 0));
      const packed = Buffer.from(head);
      packed[30 + 124] = doc.compressed ? 1 : 0;
      writeFileSync(join(data, `f${String(n++).padStart(3, '0')}.body.hwp`), Buffer.concat([packed, doc.compressed ? deflateRawSync(bad) : bad]));
    }
  }
  // HWP 5: body, binary and script streams raw deflate when the header says compressed.
  for (let k = 0; k < 30; k++) {
    const flags = rng.pick([0, 1, 1, 1, 2, 3]);
    const header = Buffer.alloc(256);
    header.write('HWP Document File', 'latin1');
    header.writeUInt32LE(0x05000300, 32);
    header.writeUInt32LE(flags, 36);
    const pack = (b: Buffer): Buffer => (flags & 1 ? deflateRawSync(b) : b);
    const streams: CfbStream[] = [{ path: 'FileHeader', data: header }, { path: 'DocInfo', data: pack(payload(500, 0)) }];
    const big = rng.chance(0.2) ? Buffer.concat([Buffer.from(rng.pick(MARKS), 'latin1'), Buffer.alloc(rng.int(30000, 90000), 0x20)]) : undefined;
    streams.push({ path: 'BodyText/Section0', data: pack(big ?? payload()) });
    if (big && flags === 1) hashCut(big);
    if (rng.chance(0.6)) streams.push({ path: 'BinData/BIN0001.bmp', data: pack(payload()) });
    if (rng.chance(0.4)) streams.push({ path: 'Scripts/DefaultJScript', data: pack(payload(800)) });
    if (rng.chance(0.4)) streams.push({ path: 'PrvText', data: payload(800) });
    if (rng.chance(0.2)) streams.push({ path: 'BodyText/Section1', data: Buffer.from(rng.bytes(rng.int(10, 300))) }); // not deflate
    put('hwp5', buildCfb(streams));
  }
  // HWPML: base64 binary data, compressed or not, and scripts.
  for (let k = 0; k < 30; k++) {
    const items = Array.from({ length: rng.int(1, 4) }, () => {
      const r = rng.int(0, 5);
      if (r === 4) return { tag: rng.pick(['SCRIPTSOURCE', 'SCRIPTHEADER']), attrs: '', text: `var s = "${rng.pick(MARKS)}"; // ${'x'.repeat(rng.int(0, 50))}` };
      const big = rng.chance(0.15) ? Buffer.concat([Buffer.from(rng.pick(MARKS), 'latin1'), Buffer.alloc(rng.int(30000, 70000), 0x41)]) : payload(2000);
      if (r === 0) {
        if (big.length > 20000) hashCut(big);
        return { attrs: 'Encoding="Base64" Compress="true"', text: base64Lines(deflateRawSync(big)) };
      }
      if (r === 1) return { attrs: 'Compress="false" Encoding="Base64"', text: base64Lines(big) };
      if (r === 2) return { attrs: 'Encoding="Base64"', text: base64Lines(big) };
      return { attrs: 'Encoding="Raw"', text: `raw text ${rng.pick(MARKS)} kept as it is` };
    });
    put('hml', buildHwpml(items));
  }
  generated = { dir, hashes: [...hashes, ...cuts] };
  return generated;
}

test(`HWP documents: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const { dir, hashes } = generate();
  await compareLayers(t, dir, hashes, [[], ['--allmatch']]);
});

test(`HWP documents with limits (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const { dir, hashes } = generate();
  await compareLayers(t, dir, hashes, [
    ['--max-filesize=20000', '--alert-exceeds-max'], ['--max-filesize=20000', '--alert-exceeds-max', '--allmatch'],
    ['--max-files=3', '--alert-exceeds-max'],
    ['--max-rechwp3=2'], ['--max-rechwp3=0', '--allmatch'], ['--scan-hwp3=no'], ['--scan-xmldocs=no', '--scan-ole2=no'],
  ]);
});
