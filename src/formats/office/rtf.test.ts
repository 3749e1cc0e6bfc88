import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rtfLayers } from './rtf.js';
import { buildCfb } from './cfb-writer.js';
import { isChild, type UnpackContext, type UnpackItem } from '../unpack.js';
import { mulberry32 } from '../../../test/helpers/prng.js';

const ctx: UnpackContext = {
  limits: { maxFileSize: 100 * 1024 * 1024, maxFiles: 10000, maxScanSize: 400 * 1024 * 1024 },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false },
};
const items = (s: string | Uint8Array): UnpackItem[] => [...rtfLayers(typeof s === 'string' ? Buffer.from(s, 'latin1') : s, ctx)];
const datas = (s: string | Uint8Array): Buffer[] => items(s).filter(isChild).map((i) => Buffer.from(i.data));

const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const PAYLOAD = Buffer.from('MZ\x90\x00 the embedded file kestrel-plover-0001', 'latin1');

function packageNative(contents: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([2, 0]), Buffer.from('a.exe\0C:\\a.exe\0', 'latin1'), Buffer.from([0, 0, 3, 0, 9, 0, 0, 0]),
    Buffer.from('C:\\t\\a.exe\0', 'latin1'), u32(contents.length), contents,
  ]);
}
function ole1(cls: string, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from('0105000002000000', 'hex'), u32(cls.length + 1), Buffer.from(cls + '\0', 'latin1'), Buffer.alloc(8), u32(data.length), data]);
}
const rtf = (hex: string, word = '\\objdata '): string => `{\\rtf1{\\object\\objemb{\\*\\objclass Package}{\\*${word}${hex}}}}`;

test('Package object: the OLE1 native contents are given', () => {
  assert.deepEqual(datas(rtf(ole1('Package', packageNative(PAYLOAD)).toString('hex'))), [PAYLOAD]);
  // Hex digits are paired across line breaks, spaces and case.
  const spaced = ole1('Package', packageNative(PAYLOAD)).toString('hex').toUpperCase().replace(/(.{7})/g, '$1\r\n ');
  assert.deepEqual(datas(rtf(spaced)), [PAYLOAD]);
});

test('OLE2 object: given as it is', () => {
  const doc = Buffer.from(buildCfb([{ path: 'Data', data: PAYLOAD }]));
  assert.deepEqual(datas(rtf(ole1('Word.Document.8', doc).toString('hex'))), [doc]);
});

test("ClamAV's control word rules: `\\objdata` needs a space after it and `\\object` before it", () => {
  const hex = ole1('Package', packageNative(PAYLOAD)).toString('hex');
  assert.equal(datas(rtf(hex, '\\objdata\n')).length, 0);
  assert.equal(datas(`{\\rtf1{\\*\\objdata ${hex}}}`).length, 0);
  assert.equal(datas(`{\\rtf1{\\object {\\*\\objdata ${hex}}}}`).length, 0, '"object " (with its space) is not the control word ClamAV looks for');
  assert.equal(datas(`{\\rtf1{\\OBJECT\\objemb{\\*\\OBJDATA ${hex}}}}`).length, 1, 'case does not matter');
});

test('an object cut short: OLE2 data scanned as far as it got, OLE1 native data not at all; a class name over 64 bytes is never left', () => {
  const full = ole1('Package', packageNative(PAYLOAD)).toString('hex');
  assert.equal(datas(rtf(full.slice(0, full.length - 20))).length, 0, 'ClamAV copies the declared size or nothing');
  const doc = Buffer.from(buildCfb([{ path: 'Data', data: Buffer.alloc(6000, 0x41) }]));
  const hex = ole1('Word.Document.8', doc).toString('hex');
  const cut = datas(rtf(hex.slice(0, hex.length - 2000)));
  assert.equal(cut.length, 1);
  assert.deepEqual(cut[0], doc.subarray(0, doc.length - 1000));
  assert.equal(datas(rtf(ole1('P'.repeat(80), packageNative(PAYLOAD)).toString('hex'))).length, 0);
});

test('objects past the 8 KiB windows, several per file', () => {
  const hex = ole1('Package', packageNative(PAYLOAD)).toString('hex');
  const doc = `{\\rtf1 ${'x'.repeat(8100)}${rtf(hex)}${rtf(hex)}}`;
  assert.equal(datas(doc).length, 2);
});

test('truncation and random mutations: no throw, bounded time', () => {
  const hex = ole1('Package', packageNative(Buffer.concat([PAYLOAD, Buffer.alloc(3000, 7)]))).toString('hex');
  const doc = Buffer.from(`{\\rtf1 abc ${rtf(hex)} {\\b x} ${rtf(hex.slice(0, 400))}}`, 'latin1');
  const t0 = Date.now();
  for (let cut = 0; cut < doc.length; cut += 53) items(doc.subarray(0, cut));
  const rnd = mulberry32(5);
  const alphabet = Buffer.from('{}\\ 0123456789abcdefobjectdata\r\n', 'latin1');
  for (let round = 0; round < 400; round++) {
    const m = Buffer.from(doc);
    for (let k = 0; k < 1 + Math.floor(rnd() * 10); k++) m[Math.floor(rnd() * m.length)] = rnd() < 0.5 ? alphabet[Math.floor(rnd() * alphabet.length)]! : Math.floor(rnd() * 256);
    items(m);
  }
  assert.ok(Date.now() - t0 < 15000);
});
