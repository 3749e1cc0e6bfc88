import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as B from './biff-writer.js';
import { formatF, xlmImages, xlmListing, XLM_HEADER } from './xlm.js';
import { ole2Layers } from './ole2.js';
import { CHILD_REFUSED, isAlert, isChild, isLimited, type UnpackContext, type UnpackItem } from '../unpack.js';
import { mulberry32 } from '../../../test/helpers/prng.js';

const ctx = (over: Partial<UnpackContext['options']> = {}, limits: Partial<UnpackContext['limits']> = {}): UnpackContext => ({
  limits: { maxFileSize: 100 * 1024 * 1024, maxFiles: 10000, maxScanSize: 400 * 1024 * 1024, ...limits },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false, ...over },
});
const items = (b: Uint8Array, c = ctx()): UnpackItem[] => [...ole2Layers(b, c)];
const lines = (book: Uint8Array): string[] => Buffer.from(xlmListing(book, 1 << 30).text).toString('latin1').split('\n');
/** A record that fills ClamAV's record buffer with zeros, so that bytes read past a record are known. */
const FILLER = B.record(0x1234, new Uint8Array(8228));

test('formatF prints doubles as glibc printf %f does', () => {
  assert.equal(formatF(0), '0.000000');
  assert.equal(formatF(-0), '-0.000000');
  assert.equal(formatF(1.5), '1.500000');
  assert.equal(formatF(-2.25), '-2.250000');
  assert.equal(formatF(0.0078125), '0.007812'); // a tie rounds to even
  assert.equal(formatF(0.0234375), '0.023438');
  assert.equal(formatF(1 / 3), '0.333333');
  assert.equal(formatF(2 ** 70), '1180591620717411303424.000000');
  assert.equal(formatF(5e-324), '0.000000');
  assert.equal(formatF(NaN), 'nan');
  assert.equal(formatF(-Infinity), '-inf');
  assert.equal(formatF(1e21).length, 22 + 7);
});

test('records are listed as ClamAV lists them, with its decodings', () => {
  const book = B.workbook([
    B.bof(), FILLER,
    B.boundsheet('Macro1', B.SHEET.macro, B.VERY_HIDDEN),
    B.boundsheet('Sheet1', B.SHEET.worksheet, B.HIDDEN),
    B.boundsheet('Chart1', B.SHEET.chart, 7),
    B.name(B.BUILTIN.Auto_Open, B.ptg.ref3d(0, 0, 0)),
    B.name(B.BUILTIN.Auto_Close, B.ptg.ref3d(0, 0, 0)),
    B.formula(5, 1, [...B.ptg.int(7), ...B.ptg.func(B.FN.HALT)]),
    B.formula(0, 0, [...B.ptg.str('cmd /c calc.exe'), ...B.ptg.funcVar(1, B.FN.EXEC)]),
    B.formula(1, 0, [...B.ptg.str('Kernel32', true), ...B.ptg.funcVar(3, B.FN.CALL)]),
    B.formula(2, 0, [...B.ptg.ref(3, 4), ...B.ptg.ref(3, 4, 0x44, true, true), ...B.ptg.num(2.5), ...B.ptg.bool(true), ...B.ptg.func(B.FN.ALERT)]),
    B.formula(3, 0, [...B.ptg.int(0x8001), ...B.ptg.name(0x80), ...B.ptg.paren()]),
    B.stringRecord('hello'),
    B.stringRecord('wörld', true),
    B.stringRecord('wörld!', true),
    B.record(B.OP.STRING, [0, 0, 1, 0x41]),
    B.eof(),
  ]);
  const got = lines(book);
  assert.deepEqual(got.slice(0, 2), ['0809     16   BOF : Beginning of File', '1234   8228   <unknown>']);
  assert.equal(got[2], '0085     14   BOUNDSHEET : Sheet Information - Excel 4.0 macro sheet, very hidden');
  assert.equal(got[3], '0085     14   BOUNDSHEET : Sheet Information - worksheet or dialog sheet, hidden');
  assert.equal(got[4], '0085     14   BOUNDSHEET : Sheet Information - chart, unknown visibility');
  // Record 0x18 is NAME, but ClamAV's table gives the name of record 24.
  assert.equal(got[5], '0018     23   LABEL : Cell Value, String Constant - built-in-name 1 auto_open');
  assert.equal(got[6], '0018     23   LABEL : Cell Value, String Constant - built-in-name 2 auto_close');
  // Tokens are read one byte past the record: a zero there prints `(null)` and ends the formula.
  assert.equal(got[7], '0006     28   FORMULA : Cell Formula - R6C2 len=6  ptgInt 7 ptgFunc HALT (0x0036) (null)');
  // An 8-bit ptgStr is written from the token itself: its 3 header bytes, then all but the last 3 characters.
  assert.equal(got[8], '0006     44   FORMULA : Cell Formula - R1C1 len=22  ptgStr\x17\x0f\x00cmd /c calc. ptgFuncVar args 1 func EXEC (0x006e) (null)');
  // CALL is 0x0096: its low byte sign-extends into the high one.
  assert.equal(got[9], '0006     45   FORMULA : Cell Formula - R2C1 len=23  ptgStrKernel32 ptgFuncVar args 3 func <unknown function> (0xff96) (null)');
  assert.equal(got[10], '0006     46   FORMULA : Cell Formula - R3C1 len=24  ptgRef R4C5 ptgRefV R~3C~4 ptgNum 2.500000 ptgBool TRUE ptgFunc ALERT (0x8076) (null)');
  assert.equal(got[11], '0006     31   FORMULA : Cell Formula - R4C1 len=9  ptgInt -32767 ptgName 0xffffff80 ptgParen');
  assert.equal(got[12], '0207      8   STRING : String Value of a Formula - "lo"');
  // The character count is taken as a byte count: 5 bytes do not convert, 6 give three characters.
  assert.equal(got[13], '0207     13   STRING : String Value of a Formula - <Failed to decode UTF16LE string>');
  assert.equal(got[14], '0207     15   STRING : String Value of a Formula - w\xc3\xb6r');
  assert.equal(got[15], '0207      4   STRING : String Value of a Formula - <Failed to decode UTF16LE string>');
  assert.equal(got[16], '000a      0   EOF : End of File');
});

test('only what the stdio buffer wrote out is scanned: the header alone for a short listing', () => {
  const short = xlmListing(B.workbook([B.bof(), B.boundsheet('M', 1), B.eof()]), 1 << 30);
  assert.equal(Buffer.from(short.scanned!).toString('latin1'), XLM_HEADER);
  const formulas = Array.from({ length: 200 }, (_, k) => B.formula(k, 0, [...B.ptg.str('kestrel-plover-0001'), ...B.ptg.funcVar(1, B.FN.EXEC)]));
  const long = xlmListing(B.workbook([B.bof(), B.boundsheet('M', 1), ...formulas, B.eof()]), 1 << 30);
  const shown = long.scanned!.length - XLM_HEADER.length;
  assert.equal(shown % 4096, 0);
  assert.ok(shown > 0 && shown < long.text.length && long.text.length - shown <= 4096);
  assert.deepEqual(Buffer.from(long.scanned!.subarray(XLM_HEADER.length)), Buffer.from(long.text.subarray(0, shown)));
});

test('a record cut by the end of the stream, or longer than 8228 bytes, leaves nothing scanned; a cut header does not', () => {
  const whole = B.workbook([B.bof(), B.boundsheet('M', 1), B.formula(0, 0, B.ptg.int(1)), B.eof()]);
  assert.ok(xlmListing(whole.subarray(0, whole.length - 2), 1 << 30).scanned);
  assert.equal(xlmListing(whole.subarray(0, whole.length - 6), 1 << 30).scanned, undefined);
  assert.equal(xlmListing(B.workbook([B.bof(), B.record(0x1234, new Uint8Array(8229))]), 1 << 30).scanned, undefined);
  assert.ok(xlmListing(B.workbook([B.bof(), B.record(0x1234, new Uint8Array(8228))]), 1 << 30).scanned);
});

test('SST strings split across CONTINUE records and FILEPASS are listed without decoding', () => {
  const long = 'kestrel-plover-0001 '.repeat(600);
  const book = B.workbook([B.bof(), B.filepass(), B.boundsheet('M', 1), ...B.sst(['a', long, 'Ωmega'], 4000), B.labelSst(0, 0, 1), B.eof()]);
  const got = lines(book);
  assert.ok(got.includes('002f     54   FILEPASS : File Is Password-Protected'));
  assert.ok(got.some((l) => l.startsWith('00fc   4000   ')));
  assert.equal(got.filter((l) => l.startsWith('003c ')).length, 3);
  assert.ok(!got.some((l) => l.includes('kestrel')));
});

test('drawing group images: PNG in an FBSE, bare JPEG, split over CONTINUE records', () => {
  const png = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.from('kestrel-plover-0001')]);
  const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('merlin-osprey-0002')]);
  const dg = B.drawingGroupData([{ recType: 0xf01e, instance: 0x6e0, data: png }, { recType: 0xf01d, instance: 0x46b, data: jpeg, inFbse: false }]);
  const drawing = xlmImages(dg);
  assert.ok(drawing.ok);
  const imgs = drawing.images;
  assert.deepEqual(imgs.map((i) => i.type), ['PNG', 'JPEG']);
  assert.deepEqual(Buffer.from(imgs[0]!.data.subarray(0, png.length)), png);
  // The image runs for the record's length, which counts the UIDs and tag too.
  assert.equal(imgs[0]!.data.length, png.length);
  assert.deepEqual(Buffer.from(imgs[1]!.data), jpeg);
  const book = B.workbook([B.bof(), FILLER, B.boundsheet('S', B.SHEET.worksheet), ...B.drawingGroup(dg, 50), B.eof()]);
  assert.deepEqual(Buffer.from(xlmListing(book, 1 << 30).drawingGroup!), Buffer.from(dg));
  // A workbook with an image and no macro: listing and images, the streams themselves not scanned.
  const file = B.xlsFile(book, [{ path: 'Other', data: Buffer.from('merlin-osprey-0002') }]);
  const got = items(file, ctx({ alertMacros: true })).filter(isChild);
  assert.deepEqual(got.map((c) => [c.name, c.type]), [['Workbook/xlm', 'CL_TYPE_SCRIPT'], ['Workbook/image0.png', undefined], ['Workbook/image1.jpeg', undefined]]);
  // An instance ClamAV does not know is no image; unknown record types are skipped.
  assert.deepEqual(xlmImages(B.drawingGroupData([{ recType: 0xf01e, instance: 0x123, data: png }])), { images: [], ok: true });
  // ClamAV's reader fails on an empty or unrecognised group.
  assert.equal(xlmImages(new Uint8Array(0)).ok, false);
  assert.equal(xlmImages(dg.subarray(8)).ok, false);
});

test('macro sheets: the heuristic with --alert-macros, then the listing, then every stream; Book streams get no listing', () => {
  const book = B.workbook([B.bof(), B.boundsheet('M', B.SHEET.macro, B.HIDDEN), B.name(B.BUILTIN.Auto_Open, B.ptg.ref3d(0, 0, 0)), B.eof()]);
  const got = items(B.xlsFile(book, [{ path: 'Store/Data', data: Buffer.from('x'.repeat(100)) }]), ctx({ alertMacros: true }));
  assert.equal(isAlert(got[0]!) && got[0].alert, 'Heuristics.OLE2.ContainsMacros.XLM');
  const names = got.filter(isChild).map((c) => c.name);
  assert.deepEqual(names, ['Workbook/xlm', 'Workbook', 'Store/Data', 'Store/Data']);
  const plain = items(B.xlsFile(book)).filter(isChild);
  assert.deepEqual(plain.map((c) => c.name), ['Workbook/xlm', 'Workbook']);
  const old = items(B.xlsFile(book, [], { streamName: 'Book' }), ctx({ alertMacros: true }));
  assert.deepEqual(old.map((i) => (isAlert(i) ? i.alert : isChild(i) ? i.name : '?')), ['Heuristics.OLE2.ContainsMacros.XLM', 'Book']);
  // No macro sheet, no drawing: the streams are given as they are read, no listing.
  const none = B.workbook([B.bof(), B.boundsheet('S', 0), B.eof()]);
  assert.deepEqual(items(B.xlsFile(none), ctx({ alertMacros: true })).map((i) => (isChild(i) ? i.name : '?')), ['Workbook']);
});

test('a listing past MaxFileSize is reported as limited', () => {
  const formulas = Array.from({ length: 300 }, (_, k) => B.formula(k, 0, B.ptg.int(k)));
  const file = B.xlsFile(B.workbook([B.bof(), B.boundsheet('M', 1), ...formulas, B.eof()]));
  const got = items(file, ctx({}, { maxFileSize: 12000 }));
  assert.ok(got.some((i) => isLimited(i) && i.name === 'Workbook/xlm' && i.limit === 'MaxFileSize'));
});

test('truncation and mutation: never throws, bounded time, same listing twice', () => {
  const rnd = mulberry32(20261129);
  const dg = B.drawingGroupData([{ recType: 0xf01e, instance: 0x6e0, data: new Uint8Array(300) }, { recType: 0xf01a, instance: 0x3d5, data: new Uint8Array(100) }]);
  const book = B.workbook([
    B.bof(), FILLER, B.boundsheet('M', 1, 2), B.name('Auto_Open', B.ptg.ref(0, 0)), B.name(1, B.ptg.ref3d(0, 0, 0)),
    B.formula(0, 0, [...B.ptg.str('abc', true), ...B.ptg.attrChoose([1, 2]), ...B.ptg.area(1, 2, 3, 4), ...B.ptg.nameX(1, 2), ...B.ptg.memArea(3), ...B.ptg.exp(1, 1), ...B.ptg.missArg(), ...B.ptg.attrSum()]),
    B.stringRecord('xyz', true), ...B.sst(['one', 'two'], 6), ...B.drawingGroup(dg, 100), B.eof(),
  ]);
  const started = Date.now();
  for (let cut = 0; cut <= book.length; cut += 3) {
    const l = xlmListing(book.subarray(0, cut), 1 << 20);
    for (const img of l.drawingGroup ? xlmImages(l.drawingGroup).images : []) assert.ok(img.data.length >= 0);
  }
  for (let round = 0; round < 400; round++) {
    const m = Uint8Array.from(book);
    for (let k = 1 + Math.floor(rnd() * 8); k > 0; k--) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
    const a = xlmListing(m, 1 << 20);
    const b = xlmListing(m, 1 << 20);
    assert.deepEqual(a.scanned, b.scanned);
    if (a.drawingGroup) for (const img of xlmImages(a.drawingGroup).images) assert.ok(img.data.length <= a.drawingGroup.length);
    if (round % 20 === 0) for (const it of ole2Layers(B.xlsFile(m), ctx())) assert.ok(it);
  }
  // Random drawing groups.
  for (let round = 0; round < 300; round++) {
    const m = Uint8Array.from(dg);
    for (let k = 1 + Math.floor(rnd() * 6); k > 0; k--) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
    for (const img of xlmImages(m).images) assert.ok(img.data.length <= m.length);
  }
  assert.ok(Date.now() - started < 20000);
});

test("a failed extraction of the file's first workbook ends the OLE2 scan: no streams, no storages after it", () => {
  const bad = B.workbook([B.bof(), FILLER, B.boundsheet('M', 1), B.record(0x1234, new Uint8Array(9000))]);
  const other = { path: 'Store/Data', data: Buffer.from('y'.repeat(64)) };
  const names = (b: Uint8Array): string[] => items(B.xlsFile(b, [other]), ctx({ alertMacros: true })).map((i) => (isAlert(i) ? i.alert : isChild(i) ? i.name : '?'));
  assert.deepEqual(names(bad), ['Heuristics.OLE2.ContainsMacros.XLM']);
  // A drawing group ClamAV's reader refuses does the same, after the listing.
  const dg = B.workbook([B.bof(), FILLER, B.boundsheet('M', 1), B.record(B.OP.MSODRAWINGGROUP, [1, 2, 3]), B.eof()]);
  assert.deepEqual(names(dg), ['Heuristics.OLE2.ContainsMacros.XLM', 'Workbook/xlm']);
  const good = B.workbook([B.bof(), FILLER, B.boundsheet('M', 1), B.eof()]);
  assert.deepEqual(names(good), ['Heuristics.OLE2.ContainsMacros.XLM', 'Workbook/xlm', 'Workbook', 'Store/Data', 'Store/Data']);
});

test('a stream the engine refuses for a limit ends the OLE2 scan, as the failed directory scan does in ClamAV', () => {
  const book = B.workbook([B.bof(), FILLER, B.boundsheet('M', 1), B.eof()]);
  const file = B.xlsFile(book, [{ path: 'A', data: Buffer.from('a'.repeat(64)) }, { path: 'S/B', data: Buffer.from('b'.repeat(64)) }]);
  const all = items(file).filter(isChild).map((c) => c.name);
  assert.equal(all[0], 'Workbook/xlm');
  assert.ok(all.length > 3);
  const it = ole2Layers(file, ctx())[Symbol.iterator]();
  const got: string[] = [];
  let answer: unknown;
  for (;;) {
    const step = it.next(answer);
    if (step.done) break;
    if (isChild(step.value)) got.push(step.value.name);
    // The first stream after the listing is refused.
    answer = isChild(step.value) && step.value.name !== 'Workbook/xlm' ? CHILD_REFUSED : undefined;
  }
  assert.deepEqual(got, all.slice(0, 2));
});
