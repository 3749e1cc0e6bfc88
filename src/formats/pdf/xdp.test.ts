import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base64Decode, xdpItems } from './xdp.js';
import { isChild, type UnpackContext } from '../unpack.js';
import { buildPdf } from './pdf-writer.js';

const ctx: UnpackContext = {
  limits: { maxFileSize: 1 << 26, maxFiles: 0, maxScanSize: 0 },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false },
};
const pdf = (s: string): Buffer => buildPdf([{ num: 1, dict: '/Type /Catalog' }, { num: 3, stream: Buffer.from(s) }]);
const lines = (b: Buffer): string => b.toString('base64').replace(/(.{76})/g, '$1\n') + '\n';
const doc = (body: string): Buffer => Buffer.from(`<?xml version="1.0"?>\n<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><pdf><document>${body}</document></pdf></xdp:xdp>\n`);
const kids = (b: Buffer): string[] => [...xdpItems(b, ctx)].filter(isChild).map((c) => Buffer.from(c.data).toString('latin1'));

test('base64: whitespace skipped, padding and partial groups', () => {
  for (const s of ['', 'a', 'ab', 'abc', 'abcd', 'hello world!']) assert.equal(Buffer.from(base64Decode(Buffer.from(Buffer.from(s).toString('base64').replace(/(.{3})/g, '$1\n ')))).toString(), s);
});

test('each <chunk> holding a PDF is a child, any namespace prefix, in order', () => {
  const a = pdf('first'), b = pdf('second');
  assert.deepEqual(kids(doc(`<chunk>${lines(a)}</chunk><x:chunk xmlns:x="u">${lines(b)}</x:chunk>`)), [a.toString('latin1'), b.toString('latin1')]);
});

test('the first chunk that is not a PDF ends the listing; so do a missing line break and bad nesting', () => {
  const a = pdf('first'), b = pdf('second');
  assert.deepEqual(kids(doc(`<chunk>${lines(a)}</chunk><chunk>${lines(Buffer.from('plain text'))}</chunk><chunk>${lines(b)}</chunk>`)), [a.toString('latin1')]);
  assert.deepEqual(kids(doc(`<chunk>${a.toString('base64')}</chunk>`)), []);
  assert.deepEqual(kids(doc(`<chunk>${lines(a)}</chunk><f/><a><b></a><chunk>${lines(b)}</chunk>`)), [a.toString('latin1')]);
  assert.deepEqual(kids(doc(`<chunk>${lines(a)}</chunk><chunk>${lines(b)}`).subarray(0, -40)), [a.toString('latin1')]);
});

test('truncation and mutation: no throw', () => {
  const d = doc(`<!-- c --><![CDATA[<chunk>]]><chunk>${lines(pdf('x'))}</chunk><chunk/>`);
  for (let n = 0; n <= d.length; n += 3) assert.ok([...xdpItems(d.subarray(0, n), ctx)].length <= 2);
  let seed = 3;
  for (let k = 0; k < 300; k++) {
    const m = Buffer.from(d);
    for (let e = 0; e < 4; e++) { seed = (seed * 1103515245 + 12345) >>> 0; m[seed % m.length] = (seed >>> 8) & 0xff; }
    assert.ok([...xdpItems(m, ctx)].length <= 3);
  }
});
