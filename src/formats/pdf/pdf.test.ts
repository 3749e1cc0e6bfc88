import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { pdfItems, contentsText } from './pdf.js';
import { family } from './index.js';
import { isAlert, isChild, isLimited, type UnpackContext, type UnpackItem } from '../unpack.js';
import * as W from './pdf-writer.js';

const MARK = 'kestrel-plover-0001';
const PAY = Buffer.from(`hello ${MARK} world\n`);
const CAT = { num: 1, dict: '/Type /Catalog /Pages 2 0 R' };

const ctx = (over: Partial<UnpackContext['options']> = {}, maxFileSize = 100 * 1024 * 1024): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 0, maxScanSize: 0 },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false, ...over },
});
const items = (b: Uint8Array, c = ctx()): UnpackItem[] => [...pdfItems(b, c)];
const children = (b: Uint8Array, c = ctx()): { name: string; text: string }[] =>
  items(b, c).filter(isChild).map((i) => ({ name: i.name, text: Buffer.from(i.data).toString('latin1') }));
const texts = (b: Uint8Array, c = ctx()): string[] => children(b, c).map((x) => x.text);

test('an unfiltered stream is dumped up to endstream, named after its object', () => {
  // "/Length N >>": ClamAV reads the space after N as the start of "N G R", fails, and takes the
  // distance to endstream (the line end before it included), as clamscan's hashes confirm.
  const got = children(W.buildPdf([CAT, { num: 3, stream: PAY }]));
  assert.deepEqual(got, [{ name: 'pdf obj 3 0', text: PAY.toString('latin1') + '\n' }]);
});

test('each filter ClamAV decodes, alone and chained, gives the payload back', () => {
  const cases: [string, Uint8Array][] = [
    ['/Filter /FlateDecode', W.flateEncode(PAY)],
    ['/Filter /Fl', W.flateEncode(PAY)],
    ['/Filter /ASCIIHexDecode', W.asciiHexEncode(PAY)],
    ['/Filter /AHx', W.asciiHexEncode(PAY)],
    ['/Filter /ASCII85Decode', W.ascii85Encode(PAY)],
    ['/Filter /A85', W.ascii85Encode(PAY)],
    ['/Filter [/LZWDecode /FlateDecode]', W.lzwEncode(W.flateEncode(PAY))],
    ['/Filter [/LZW /AHx]', W.lzwEncode(W.asciiHexEncode(PAY))],
    ['/Filter [/RunLengthDecode /FlateDecode]', W.runLengthEncode(W.flateEncode(PAY))],
    ['/Filter [/RL /A85]', W.runLengthEncode(W.ascii85Encode(PAY))],
    ['/Filter [/A85 /Fl /AHx]', W.ascii85Encode(W.flateEncode(W.asciiHexEncode(PAY)))],
  ];
  for (const [dict, stream] of cases) assert.deepEqual(texts(W.buildPdf([CAT, { num: 3, dict, stream }])), [PAY.toString('latin1')], dict);
});

test('streams filtered only by LZW or RunLength are not dumped (not in ClamAV dump mask)', () => {
  assert.deepEqual(children(W.buildPdf([CAT, { num: 3, dict: '/Filter /LZWDecode', stream: W.lzwEncode(PAY) }])), []);
  assert.deepEqual(children(W.buildPdf([CAT, { num: 3, dict: '/Filter /RL', stream: W.runLengthEncode(PAY) }])), []);
});

test('LZW honours /EarlyChange 0 only in the dictionary form ClamAV finds', () => {
  const big = Buffer.concat(Array.from({ length: 2000 }, (_, i) => Buffer.from(`line ${i} ${(i * 7919) % 1000}\n`)));
  const late = W.lzwEncode(W.asciiHexEncode(big), false);
  const ok = texts(W.buildPdf([CAT, { num: 3, dict: '/Filter [/LZW /AHx] /DecodeParms [<</EarlyChange 0>>]', stream: late }]));
  assert.equal(ok[0], big.toString('latin1'));
  const missed = texts(W.buildPdf([CAT, { num: 3, dict: '/Filter [/LZW /AHx] /DecodeParms [<< /EarlyChange 0 >>]', stream: late }]));
  assert.notEqual(missed[0], big.toString('latin1'));
});

test('a filter that fails leaves the previous stage (or the raw stream) to scan', () => {
  const bad = Buffer.from('zz not hex at all, long enough');
  assert.deepEqual(texts(W.buildPdf([CAT, { num: 3, dict: '/Filter /AHx', stream: bad }])), [bad.toString('latin1')]);
  const stage1 = W.asciiHexEncode(Buffer.from('not zlib data here'));
  assert.deepEqual(texts(W.buildPdf([CAT, { num: 3, dict: '/Filter [/AHx /Fl]', stream: stage1 }])), ['not zlib data here']);
});

test('a damaged Flate stream keeps what was inflated before the damage', () => {
  const big = Buffer.concat([PAY, Buffer.alloc(5000, 0x41), Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 31) & 0xff))]);
  const z = deflateSync(big);
  z[z.length - 200] = z[z.length - 200]! ^ 0xff;
  const got = texts(W.buildPdf([CAT, { num: 3, dict: '/Filter /FlateDecode', stream: z }]));
  assert.equal(got.length, 1);
  assert.ok(got[0]!.startsWith(PAY.toString('latin1')));
  assert.ok(got[0]!.length < big.length);
});

test('stream length: exact, indirect, missing, too short, too long or zero all reach the data', () => {
  for (const length of ['exact', 'indirect', 'none', 'short', 'long', 'zero'] as const) {
    const got = texts(W.buildPdf([CAT, { num: 3, dict: '/Filter /FlateDecode', stream: W.flateEncode(PAY), length }]));
    assert.deepEqual(got, [PAY.toString('latin1')], length);
  }
});

test('JavaScript strings: literal kept raw (escapes not processed), hex decoded, cut at NUL', () => {
  const lit = texts(W.buildPdf([CAT, { num: 4, dict: `/S /JavaScript /JS (a\\(b\\) ${MARK})` }]));
  assert.deepEqual(lit, [`a\\(b\\) ${MARK}`]);
  const hex = texts(W.buildPdf([CAT, { num: 4, dict: `/S /JavaScript /JS <${Buffer.from(`v=1;${MARK}\0tail`).toString('hex')}>` }]));
  // ClamAV then writes from the string's last byte to the next token: here "c>"
  assert.deepEqual(hex, [`v=1;${MARK}c>`]);
  // a JS stream referenced from an action is dumped as the stream it is
  const stream = texts(W.buildPdf([CAT, { num: 4, dict: '/S /JavaScript /JS 5 0 R' }, { num: 5, dict: '/Filter /Fl', stream: W.flateEncode(PAY) }]));
  assert.deepEqual(stream, [PAY.toString('latin1')]);
});

test('object streams: /Type/ObjStm is opened, /Type /ObjStm (with a space) is not', () => {
  const os = W.objectStream([{ num: 10, body: `<< /S /JavaScript /JS (q='${MARK}') >>` }, { num: 11, body: '<< /Type /Foo >>' }]);
  const got = children(W.buildPdf([CAT, { num: 3, dict: `/Type/ObjStm ${os.header} /Filter /FlateDecode`, stream: W.flateEncode(os.data) }]));
  assert.deepEqual(got.map((c) => c.name), ['pdf obj 3 0', 'pdf obj 10 0']);
  assert.equal(got[1]!.text, `q='${MARK}'`);
  const spaced = children(W.buildPdf([CAT, { num: 3, dict: `/Type /ObjStm ${os.header} /Filter /FlateDecode`, stream: W.flateEncode(os.data) }]));
  assert.deepEqual(spaced.map((c) => c.name), ['pdf obj 3 0']);
});

test('page contents give a second, normalised text child', () => {
  const got = children(W.buildPdf([CAT, { num: 2, dict: '/Type /Page /Contents 3 0 R' }, { num: 3, stream: Buffer.from('BT\n[(Hello   WORLD) 5 (x)] TJ\nET\n') }]));
  assert.deepEqual(got.map((c) => c.name), ['pdf obj 3 0', 'pdf obj 3 0 contents']);
  assert.equal(got[1]!.text, 'hello worldx');
  assert.equal(Buffer.from(contentsText(Buffer.from('no brackets here\n'))).length, 0);
});

test('actions: the object an /OpenAction points to is dumped whole', () => {
  const got = children(W.buildPdf([{ num: 1, dict: '/Type /Catalog /OpenAction 5 0 R' }, { num: 5, dict: `/S /Launch /F (${MARK})` }]));
  assert.deepEqual(got.map((c) => c.name), ['pdf obj 5 0']);
  assert.ok(got[0]!.text.includes(MARK));
});

test('incremental updates: a new revision adds its objects; glued to %%EOF, ClamAV loses a digit', () => {
  const base = W.buildPdf([CAT, { num: 3, stream: Buffer.from('first version') }]);
  const upd = W.appendUpdate(base, [{ num: 3, dict: '/Filter /Fl', stream: W.flateEncode(PAY) }]);
  assert.deepEqual(children(upd).map((c) => [c.name, c.text]), [['pdf obj 3 0', 'first version\n'], ['pdf obj 3 0', PAY.toString('latin1')]]);
  // "%%EOF3 0 obj": the number is read from one byte short of it, so a one-digit object is lost…
  const glued3 = W.appendUpdate(base, [{ num: 3, dict: '/Filter /Fl', stream: W.flateEncode(PAY) }], true);
  assert.deepEqual(children(glued3).map((c) => c.name), ['pdf obj 3 0']);
  // …and "%%EOF12 0 obj" is object 1 (clamscan agrees)
  const glued12 = W.appendUpdate(base, [{ num: 12, dict: '/Filter /Fl', stream: W.flateEncode(PAY) }], true);
  assert.deepEqual(children(glued12).map((c) => [c.name, c.text]), [['pdf obj 3 0', 'first version\n'], ['pdf obj 1 0', PAY.toString('latin1')]]);
});

test('the header may come after other bytes (up to 1032), and the embedded reader starts at its offset', () => {
  const pdf = W.buildPdf([CAT, { num: 3, stream: PAY }]);
  assert.deepEqual(texts(Buffer.concat([Buffer.alloc(500, 0x20), pdf])), [PAY.toString('latin1') + '\n']);
  assert.deepEqual(texts(Buffer.concat([Buffer.alloc(1100, 0x20), pdf])), []);
  const host = Buffer.concat([Buffer.alloc(3000, 0x41), pdf]);
  const got = [...family.embedded!.CL_TYPE_PDF!(host, 3000, ctx())].filter(isChild);
  assert.equal(Buffer.from(got[0]!.data).toString('latin1'), PAY.toString('latin1') + '\n');
});

test('encryption: empty user password decrypts (RC4, AES-128, AES-256); otherwise AlertEncryptedDoc alerts', () => {
  for (const R of [2, 3, 4, 6] as const) {
    const objs = [CAT, { num: 3, dict: '/Filter /FlateDecode', stream: W.flateEncode(PAY) }, { num: 5, jsString: `x='${MARK}'` }];
    const open = W.encryptObjects(objs, { R, emptyUser: true });
    const pdf = W.buildPdf(open.objects, { trailer: open.trailer });
    const got = items(pdf, ctx({ alertEncryptedDoc: true }));
    assert.ok(!got.some(isAlert), `R${R} opens`);
    assert.ok(got.filter(isChild).some((c) => Buffer.from(c.data).toString('latin1') === PAY.toString('latin1')), `R${R} stream`);
    const locked = W.encryptObjects(objs, { R, emptyUser: false });
    const lp = W.buildPdf(locked.objects, { trailer: locked.trailer });
    assert.deepEqual(items(lp, ctx({ alertEncryptedDoc: true })).filter(isAlert).map((a) => a.alert), ['Heuristics.Encrypted.PDF'], `R${R} locked`);
    assert.deepEqual(items(lp).filter(isAlert), []);
  }
  // ClamAV reads /P -1 as a missing P: the file is then not decryptable
  const pm1 = W.encryptObjects([CAT, { num: 3, stream: PAY }], { R: 3, emptyUser: true, P: -1 });
  assert.deepEqual(items(W.buildPdf(pm1.objects, { trailer: pm1.trailer }), ctx({ alertEncryptedDoc: true })).filter(isAlert).map((a) => a.alert), ['Heuristics.Encrypted.PDF']);
});

test('escaped common names raise Heuristics.PDF.ObfuscatedNameObject last, with HeuristicAlerts', () => {
  const pdf = W.buildPdf([CAT, { num: 3, dict: '/Filter /Fl#61teDecode', stream: W.flateEncode(PAY) }]);
  const got = items(pdf);
  assert.ok(isAlert(got[got.length - 1]!));
  assert.equal((got[got.length - 1] as { alert: string }).alert, 'Heuristics.PDF.ObfuscatedNameObject');
  assert.equal(Buffer.from((got[0] as { data: Uint8Array }).data).toString('latin1'), PAY.toString('latin1'));
  assert.deepEqual(items(pdf, ctx({ heuristicAlerts: false })).filter(isAlert), []);
  assert.deepEqual(items(W.buildPdf([CAT, { num: 3, dict: '/Foo#41 1' }])).filter(isAlert), []);
});

test('a Flate bomb stops at MaxFileSize: a limit, then the raw stream (ClamAV falls back to it)', () => {
  const bomb = deflateSync(Buffer.alloc(3 * 1024 * 1024));
  const got = items(W.buildPdf([CAT, { num: 3, dict: '/Filter /FlateDecode', stream: bomb }]), ctx({}, 1024 * 1024));
  assert.ok(got.some(isLimited));
  const kids = got.filter(isChild);
  assert.equal(kids.length, 1);
  assert.equal(kids[0]!.data.length, bomb.length + 1); // up to endstream, its line end included
});

test('truncation at every point: no throw, nothing past the input', () => {
  const os = W.objectStream([{ num: 10, body: `<< /S /JavaScript /JS (q='${MARK}') >>` }]);
  const pdf = W.buildPdf([CAT, { num: 3, dict: '/Filter /Fl', stream: W.flateEncode(PAY) }, { num: 4, dict: `/S /JavaScript /JS (${MARK})` },
    { num: 6, dict: `/Type/ObjStm ${os.header} /Filter /FlateDecode`, stream: W.flateEncode(os.data) }]);
  for (let n = 0; n <= pdf.length; n++) {
    for (const it of pdfItems(pdf.subarray(0, n), ctx())) if (isChild(it)) assert.ok(it.data.length <= 1000);
  }
});

test('random mutations: no throw, bounded time', () => {
  let seed = 20261129;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  const os = W.objectStream([{ num: 10, body: `<< /S /JavaScript /JS (q='${MARK}') >>` }, { num: 11, body: '<</Length 12 0 R>>' }]);
  const bases = [
    W.buildPdf([CAT, { num: 3, dict: '/Filter [/AHx /Fl]', stream: W.asciiHexEncode(W.flateEncode(PAY)) }, { num: 4, dict: `/S /JavaScript /JS <${PAY.toString('hex')}>` }]),
    W.buildPdf([CAT, { num: 3, dict: '/Filter [/LZW /RL /A85]', stream: W.lzwEncode(W.runLengthEncode(W.ascii85Encode(PAY))) }, { num: 2, dict: '/Type /Page /Contents 3 0 R' }]),
    W.buildPdf([CAT, { num: 6, dict: `/Type/ObjStm ${os.header} /Filter /FlateDecode`, stream: W.flateEncode(os.data), length: 'indirect' }]),
    (() => { const e = W.encryptObjects([CAT, { num: 3, stream: PAY }, { num: 5, jsString: MARK }], { R: 4, emptyUser: true }); return W.buildPdf(e.objects, { trailer: e.trailer }); })(),
  ];
  const t0 = Date.now();
  let count = 0;
  for (let k = 0; k < 400; k++) {
    const b = Buffer.from(bases[k % bases.length]!);
    const edits = 1 + rnd(8);
    for (let e = 0; e < edits; e++) {
      const p = rnd(b.length);
      switch (rnd(4)) {
        case 0: b[p] = rnd(256); break;
        case 1: b[p] = '<>()[]/ 0123456789Robjendstream\n\r%#'.charCodeAt(rnd(36)); break;
        case 2: b.copyWithin(p, rnd(b.length)); break;
        default: b.fill(0x30 + rnd(10), p, Math.min(b.length, p + rnd(20))); break;
      }
    }
    for (const it of pdfItems(b, ctx({ alertEncryptedDoc: true }))) { if (isChild(it)) assert.ok(it.data.length < 1 << 20); }
    count++;
  }
  assert.equal(count, 400);
  assert.ok(Date.now() - t0 < 20000, `took ${Date.now() - t0} ms`);
});

test('hostile object counts stop at 65536 objects', () => {
  const many = Buffer.from('%PDF-1.4\n' + '1 0 obj<</OpenAction 1 0 R>>endobj\n'.repeat(70000));
  let n = 0;
  for (const it of pdfItems(many, ctx())) if (isChild(it)) n++;
  assert.ok(n <= 65536 && n > 0, String(n));
});
