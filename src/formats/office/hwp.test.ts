import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { isChild, isLimited, type UnpackContext, type UnpackItem } from '../unpack.js';
import { buildCfb } from './cfb-writer.js';
import { hwp3Layers, walkParagraphs } from './hwp3.js';
import { hwpmlLayers } from './hwpml.js';
import { hwpInflate } from './hwp-inflate.js';
import { base64Lines, buildHwp3, buildHwpml, hwp3Background, hwp3Body, hwp3Hyperlinks, hwp3Image, hwp3Ole2, type Hwp3Doc, type Hwp3Paragraph } from './hwp-writer.js';
import { detectFileType } from '../filetype.js';

const ctxOf = (maxFileSize = 25 * 1048576, extra: Partial<UnpackContext['options']> = {}): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 10000, maxScanSize: 100 * 1048576 },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false, ...extra },
});
const pay = (s: string, n = 200): Buffer => Buffer.from(`payload ${s} kestrel-plover-0001 end`.padEnd(n, '.'));
const children = (items: Iterable<UnpackItem>): { name: string; data: Buffer }[] =>
  [...items].filter(isChild).map((c) => ({ name: c.name, data: Buffer.from(c.data) }));

function sampleDoc(compressed: boolean): Hwp3Doc {
  return {
    compressed,
    paragraphs: [
      { text: 'first paragraph', nested: [{ code: 15, paragraphs: [{ text: 'hidden' }] }, { code: 17, paragraphs: [{ text: 'note' }] }] },
      { text: 'table', table: { cells: [[{ text: 'cell one' }], [{ text: 'cell two' }]], caption: [{ text: 'caption' }] } },
      { text: 'last' },
    ],
    blocks: [
      hwp3Image(pay('img')),
      ...(compressed ? [] : [hwp3Ole2(buildCfb([{ path: 'S', data: pay('ole') }]))]),
      { id: 5, data: new Uint8Array(0) },
      hwp3Hyperlinks([pay('link1', 100)]),
      hwp3Background(pay('bg', 60)),
      { id: 4, data: pay('presentation', 40) },
      { id: 9, data: pay('unknown', 60) },
    ],
  };
}

test('HWP 3 is typed by its identity', () => {
  assert.equal(detectFileType(buildHwp3(sampleDoc(false))), 'CL_TYPE_HWP3');
  assert.equal(detectFileType(buildHwp3(sampleDoc(true))), 'CL_TYPE_HWP3');
});

test('HWP 3: information blocks scanned as met, then the walked body (plain and compressed)', () => {
  for (const compressed of [false, true]) {
    const doc = sampleDoc(compressed);
    const got = children(hwp3Layers(buildHwp3(doc), ctxOf()));
    const ole = hwp3Ole2(buildCfb([{ path: 'S', data: pay('ole') }])).data;
    assert.deepEqual(got.map((c) => c.data), [
      pay('img'), ...(compressed ? [] : [ole]), Buffer.concat([pay('link1', 100), Buffer.alloc(225)]), pay('bg', 60), pay('unknown', 60), hwp3Body(doc),
    ], compressed ? 'compressed' : 'plain');
    if (compressed) assert.ok(hwp3Body(doc).length < 4096, 'one page: no page-cache effect');
    assert.ok(got.at(-1)!.name.endsWith('body'));
  }
});

test('HWP 3: a password-protected document is not read', () => {
  assert.equal([...hwp3Layers(buildHwp3({ ...sampleDoc(false), password: true }), ctxOf())].length, 0);
});

test('HWP 3: information block #0 is skipped; too large a one ends the read', () => {
  const doc = { ...sampleDoc(false), infoBlock0: Buffer.alloc(300, 7) };
  assert.equal(children(hwp3Layers(buildHwp3(doc), ctxOf())).length, 6);
  const f = buildHwp3(doc);
  f.writeUInt16LE(0xffff, 30 + 126);
  assert.equal(children(hwp3Layers(f.subarray(0, 1166 + 0x1000), ctxOf())).length, 0);
});

test('HWP 3: paragraphs nested past MaxRecHWP3 end the walk without a body', () => {
  const nest = (d: number): Hwp3Paragraph => (d === 0 ? { text: 'leaf' } : { text: `level${d}`, nested: [{ code: 16, paragraphs: [nest(d - 1)] }] });
  const doc: Hwp3Doc = { paragraphs: [nest(5)], blocks: [hwp3Image(pay('deep'))] };
  const f = buildHwp3(doc);
  // The leaf is at level 5: six levels are needed.
  assert.equal(children(hwp3Layers(f, ctxOf(undefined, { maxRecHwp3: 6 }))).length, 2);
  assert.equal(children(hwp3Layers(f, ctxOf(undefined, { maxRecHwp3: 5 }))).length, 0);
  assert.equal(children(hwp3Layers(f, ctxOf(undefined, { maxRecHwp3: 0 }))).length, 0);
  assert.equal(children(hwp3Layers(f, ctxOf())).length, 2, 'default 16');
  // A deep nesting costs no stack: level after level of header, text, header/footer mark.
  const head = Buffer.alloc(43);
  head[0] = 1;
  head[1] = 2;
  const mark = Buffer.alloc(18);
  mark[0] = 16;
  const depth = 20000;
  const end = Buffer.concat([Buffer.alloc(43), Buffer.from([13, 0])]);
  const paras = Buffer.concat([
    Buffer.concat(Array.from({ length: depth }, () => Buffer.concat([head, Buffer.from('abcd'), mark]))),
    head, Buffer.from('leaf'), Buffer.from([13, 0]),
    Buffer.concat(Array.from({ length: depth }, () => end)), Buffer.alloc(43),
  ]);
  const fonts = hwp3Body({ paragraphs: [], blocks: [] }).subarray(0, 7 * 42 + 240);
  const deepBody = Buffer.concat([fonts, paras, Buffer.alloc(8)]);
  assert.equal(walkParagraphs(deepBody, fonts.length, depth + 1), fonts.length + paras.length);
  assert.equal(walkParagraphs(deepBody, fonts.length, depth), 'maxrec');
  assert.equal(typeof walkParagraphs(hwp3Body({ paragraphs: [nest(3)], blocks: [] }), 7 * 42 + 240, 16), 'number');
});

test('HWP 3: lengths are 32-bit as ClamAV computes them', () => {
  // An image block shorter than its 32-byte header: the child runs to the end of the body.
  const doc: Hwp3Doc = { paragraphs: [{ text: 'x' }], blocks: [{ id: 1, data: Buffer.alloc(20, 0x41) }, { id: 9, data: pay('after') }] };
  const body = hwp3Body(doc);
  const got = children(hwp3Layers(buildHwp3(doc), ctxOf()));
  const at = body.indexOf(Buffer.from([1, 0, 0, 0, 20, 0, 0, 0]));
  assert.deepEqual(got[0]!.data, body.subarray(at + 8 + 32));
  // A special character whose length wraps to 1 byte moves the walk off the character grid.
  const raw = Buffer.alloc(8);
  raw.writeUInt16LE(5, 0);
  raw.writeUInt32LE(0xfffffff9, 2);
  assert.equal(typeof walkParagraphs(Buffer.concat([hwp3Body({ paragraphs: [{ text: 'ab', raw }], blocks: [] })]), 7 * 42 + 240, 16), 'string');
});

test('HWP 3: a child ending inside the last page of the inflated body hides the rest of that page', () => {
  // ClamAV's page cache loads the last 4 KiB page only up to the end of the first map that reads
  // it; here the second image's scan does, so the next block reads as zeros (a terminator).
  const filler = 'x'.repeat(2900);
  const doc: Hwp3Doc = { compressed: true, paragraphs: [{ text: filler }], blocks: [hwp3Image(pay('one')), hwp3Image(pay('two', 600)), { id: 9, data: pay('lost') }] };
  const body = hwp3Body(doc);
  assert.ok(body.length > 4096 && body.length < 8192);
  const got = children(hwp3Layers(buildHwp3(doc), ctxOf()));
  assert.deepEqual(got.map((c) => c.data.subarray(0, 12).toString('latin1')), ['payload one ', 'payload two ', body.subarray(0, 12).toString('latin1')]);
  const seen = got[2]!.data;
  const end = body.indexOf(pay('two', 600)) + 600;
  assert.equal(seen.length, end + 8);
  assert.deepEqual(seen.subarray(0, end), body.subarray(0, end));
  assert.deepEqual(seen.subarray(end), Buffer.alloc(8));
  // Uncompressed, the file was read whole before: every block is seen.
  assert.equal(children(hwp3Layers(buildHwp3({ ...doc, compressed: false }), ctxOf())).length, 4);
});

test('HWP 3: a compressed body past MaxFileSize is cut in 8 KiB pieces, alerted and scanned unwalked', () => {
  const doc: Hwp3Doc = { compressed: true, paragraphs: [{ text: 'y'.repeat(60000) }], blocks: [hwp3Image(pay('img'))] };
  const items = [...hwp3Layers(buildHwp3(doc), ctxOf(30000))];
  assert.deepEqual(items.filter(isLimited).map((l) => l.limit), ['MaxFileSize']);
  const got = children(items);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.data.length % 8192, 0);
  assert.ok(got[0]!.data.length <= 30000);
  assert.deepEqual(got[0]!.data, hwp3Body(doc).subarray(0, got[0]!.data.length));
});

test('HWP 3: damaged compressed bodies are scanned as far as they inflate', () => {
  const doc = sampleDoc(true);
  const f = buildHwp3(doc);
  const bad = Buffer.from(f);
  bad[1166] = 0xff; // an invalid block type at once: nothing inflates
  assert.equal(children(hwp3Layers(bad, ctxOf())).length, 0);
  // Cut short: inflated so far and walked; the walk fails, so nothing.
  assert.equal(children(hwp3Layers(f.subarray(0, f.length - 40), ctxOf())).length <= 7, true);
});

test('HWP 3: truncations and mutations never throw and stay bounded', () => {
  const seeds = [buildHwp3(sampleDoc(false)), buildHwp3(sampleDoc(true))];
  let rnd = 12345;
  const next = (): number => { rnd = (rnd * 1103515245 + 12345) >>> 0; return rnd; };
  for (const f of seeds) {
    for (let cut = 0; cut < f.length; cut += 37) void [...hwp3Layers(f.subarray(0, cut), ctxOf())];
    for (let k = 0; k < 300; k++) {
      const m = Buffer.from(f);
      for (let j = 0; j < 1 + (next() % 8); j++) m[1166 + (next() % (m.length - 1166))] = next() & 0xff;
      const t0 = Date.now();
      void [...hwp3Layers(m, ctxOf(1 << 20))];
      assert.ok(Date.now() - t0 < 2000);
    }
  }
});

test('hwpInflate: pieces of 8 KiB output; input pieces bound them too', () => {
  const data = Buffer.alloc(100000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 5)) & 0xff;
  const packed = deflateRawSync(data, { level: 1 });
  for (const max of [5000, 8192, 20000, 65536, 99999]) {
    const r = hwpInflate(packed, ctxOf(max));
    assert.equal(r.limited, 'MaxFileSize');
    assert.ok(r.data.length <= max);
    assert.deepEqual(Buffer.from(r.data), data.subarray(0, r.data.length));
  }
  assert.equal(hwpInflate(packed, ctxOf(100000)).limited, undefined);
  const bad = Buffer.from(packed);
  bad[bad.length >> 1] = bad[bad.length >> 1]! ^ 0xff;
  const e = hwpInflate(bad, ctxOf());
  assert.ok(e.state === 'error' || e.state === 'ended');
});

test('HWPML is typed by its BOM, declaration and root', () => {
  assert.equal(detectFileType(buildHwpml([])), 'CL_TYPE_XML_HWP');
});

test('HWPML: binData decoded as its attributes say; the body and ignored lists are not read', () => {
  const a = pay('a'), b = pay('b'), c = pay('c');
  const x = buildHwpml([
    { attrs: 'Encoding="Base64" Compress="true"', text: base64Lines(deflateRawSync(a)) },
    { attrs: 'Compress="false" Encoding="Base64"', text: base64Lines(b) },
    { attrs: 'Encoding="Base64"', text: base64Lines(c) },
    { attrs: 'Encoding="Hex"', text: 'plain text merlin-osprey-0002 as it is' },
    { tag: 'SCRIPTSOURCE', attrs: '', text: 'var s = "curlew-dunlin-0003";' },
  ], '<BINDATA Encoding="Base64">aWdub3JlZCBib2R5Cg==\n</BINDATA>');
  const got = children(hwpmlLayers(x, ctxOf()));
  assert.deepEqual(got.map((g) => g.data.toString('latin1')), [
    a.toString('latin1'), b.toString('latin1'), c.toString('latin1'), 'plain text merlin-osprey-0002 as it is', 'var s = "curlew-dunlin-0003";',
  ]);
});

test('HWPML: a compressed item that inflates to nothing ends the walk; a cut one is alerted', () => {
  const a = pay('a');
  const x = buildHwpml([
    { attrs: 'Encoding="Base64" Compress="yes"', text: base64Lines(Buffer.from([0xff, 0xff, 0xff, 0xff])) },
    { attrs: 'Encoding="Base64"', text: base64Lines(a) },
  ]);
  assert.equal(children(hwpmlLayers(x, ctxOf())).length, 0);
  const big = Buffer.alloc(50000, 0x61);
  const y = buildHwpml([{ attrs: 'Encoding="Base64" Compress="true"', text: base64Lines(deflateRawSync(big)) }, { attrs: 'Encoding="Base64"', text: base64Lines(a) }]);
  const items = [...hwpmlLayers(y, ctxOf(20000))];
  assert.deepEqual(items.filter(isLimited).map((l) => l.limit), ['MaxFileSize']);
  assert.deepEqual(children(items).map((c) => c.data.length), [16384, a.length]);
});

test('HWPML: elements 20 deep are skipped; a bad end tag ends the walk', () => {
  const a = pay('a'), b = pay('b'), c = pay('c');
  const deepOpen = Array.from({ length: 18 }, (_, i) => `<D${i}>`).join('');
  const deepClose = Array.from({ length: 18 }, (_, i) => `</D${17 - i}>`).join('');
  const doc = (middle: string): Buffer => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><HWPML><T>${deepOpen}<BINDATA Encoding="Base64">${base64Lines(a)}</BINDATA>${deepClose}</T><BINDATA Encoding="Base64">${base64Lines(b)}</BINDATA>${middle}<BINDATA Encoding="Base64">${base64Lines(c)}</BINDATA></HWPML>\n`, 'latin1')]);
  const seen = (x: Buffer): string[] => children(hwpmlLayers(x, ctxOf())).map((k) => k.data.subarray(8, 9).toString('latin1'));
  // The first BINDATA is at level 20 (HWPML 0, T 1, D0..D17 2..19): skipped.
  assert.deepEqual(seen(doc('')), ['b', 'c']);
  // The reader fails on the 512-byte chunk holding the bad end tag; a node is returned only when
  // the tag after it was complete before that chunk (as clamscan does).
  assert.deepEqual(seen(doc(`${' '.repeat(2400)}<X></Y>`)), []);
  assert.deepEqual(seen(doc(`<P/>${' '.repeat(2400)}<X></Y>`)), ['b']);
});

test('HWPML: truncations never throw', () => {
  const x = buildHwpml([{ attrs: 'Encoding="Base64" Compress="true"', text: base64Lines(deflateRawSync(pay('a'))) }, { tag: 'SCRIPTHEADER', attrs: '', text: 'hdr' }]);
  for (let cut = 0; cut < x.length; cut += 3) void [...hwpmlLayers(x.subarray(0, cut), ctxOf())];
});

test('HWPML reader: forbidden characters, bytes that are not UTF-8 and content after the root stop it', async () => {
  const { xmlDocumentNodes, firstBadChar } = await import('../xmlreader.js');
  const hwpmlNodes = (b: Uint8Array) => [...xmlDocumentNodes(b, 'io')];
  assert.equal(firstBadChar(Buffer.from('ok\t\r\n text \xc3\xa9 \xe4\xb8\x80', 'latin1')), -1);
  assert.equal(firstBadChar(Buffer.from('ab\x0ccd', 'latin1')), 2);
  assert.equal(firstBadChar(Buffer.from('ab\xa4cd', 'latin1')), 2);
  assert.equal(firstBadChar(Buffer.from('ab\xc0\x80', 'latin1')), 2);
  assert.equal(firstBadChar(Buffer.from('ab\xed\xa0\x80', 'latin1')), 2, 'a surrogate');
  const a = pay('a');
  const doc = (tail: string, pad = 0): Buffer => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><HWPML><BINDATA Encoding="Base64">${base64Lines(a)}</BINDATA><P/>${' '.repeat(pad)}<Q/></HWPML>${tail}`, 'latin1')]);
  const texts = (b: Buffer): number => hwpmlNodes(b).filter((n) => n.kind === 'text').length;
  assert.equal(texts(doc('\n<!-- fine -->\n')), 1);
  // Extra content after the root: the chunk holding it fails; with the document this short, at once.
  assert.equal(texts(doc('x')), 0);
  assert.equal(texts(doc('x', 3000)), 1, 'the failing chunk comes long after the data');
  // Cut short: the same rule at the end.
  const cut = doc('', 3000);
  assert.equal(texts(cut.subarray(0, cut.length - 4)), 1);
  assert.equal(texts(cut.subarray(0, 150)), 0);
  // A forbidden character inside an attribute value.
  const bad = Buffer.from(doc('', 3000));
  bad[bad.indexOf('Encoding') + 3] = 0x0c;
  assert.equal(texts(bad), 0);
});
