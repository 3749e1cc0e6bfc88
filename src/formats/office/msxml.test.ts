import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bioBase64, msxmlLayers } from './msxml.js';
import { isChild, type UnpackContext } from '../unpack.js';

const ctx: UnpackContext = {
  limits: { maxFileSize: 100 * 1024 * 1024, maxFiles: 10000, maxScanSize: 400 * 1024 * 1024 },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false },
};
const wrap = (b: Buffer): string => b.toString('base64').replace(/(.{76})/g, '$1\n');
const datas = (xml: string): Buffer[] => [...msxmlLayers(Buffer.from(xml, 'latin1'), ctx)].filter(isChild).map((i) => Buffer.from(i.data));

test('binData elements are base64-decoded, in order; fonts and styles skipped', () => {
  const a = Buffer.from('first payload '.repeat(20)), b = Buffer.from('second payload '.repeat(40));
  const xml = `<?xml version="1.0"?>\n<w:wordDocument xmlns:w="x"><w:fonts><w:binData>\n${wrap(Buffer.from('font data'))}\n</w:binData></w:fonts>`
    + `<w:body><w:binData w:name="a">\n${wrap(a)}\n</w:binData><!-- c --><w:BINDATA>\n${wrap(b)}\n</w:BINDATA></w:body></w:wordDocument>`;
  assert.deepEqual(datas(xml), [a, b]);
});

test("ClamAV's base64 reading: nothing without a line end, leading lines that do not decode skipped", () => {
  const p = Buffer.from('plain payload for the filter');
  assert.equal(bioBase64(Buffer.from(p.toString('base64'))).length, 0);
  assert.deepEqual(Buffer.from(bioBase64(Buffer.from(p.toString('base64') + '\n'))), p);
  assert.deepEqual(Buffer.from(bioBase64(Buffer.from('not base64 here!\n' + wrap(p) + '\n'))), p);
});

test('malformed XML stops the walk; what came before is kept; no throw on damage', () => {
  const a = Buffer.from('payload one');
  const xml = `<r><binData>\n${wrap(a)}\n</binData><x></y><binData>\n${wrap(a)}\n</binData></r>`;
  assert.equal(datas(xml).length, 1);
  for (let cut = 0; cut < xml.length; cut += 3) datas(xml.slice(0, cut));
  assert.equal(datas('<a b="<binData>"><binData>\nYWJj\n</binData></a>').length, 1);
});

test("base64 as OpenSSL's BIO filter decodes it (compared with `openssl base64 -d`, which reads through the same filter)", async (t) => {
  const { spawnSync } = await import('node:child_process');
  if (spawnSync('openssl', ['version']).status !== 0) { t.skip('openssl is not installed'); return; }
  const { mulberry32 } = await import('../../../test/helpers/prng.js');
  const rnd = mulberry32(11);
  const cases = ['QUJD', 'QUJD\n', '\nQUJD', 'QUJ=\n', 'QU JD\n', 'QUJD\nQUJD', 'xx\nQUJD\n', 'QUJDQUJD=QUJD\n', 'QUJD-QUJD\n', 'QUJ\n', 'QUJDQ\n', 'QUJDQQ==\nQUJD\n'];
  for (let k = 0; k < 60; k++) {
    const raw = Buffer.from(Array.from({ length: Math.floor(rnd() * 3000) }, () => Math.floor(rnd() * 256)));
    // Lines up to 1 KiB (Word writes 76): longer single lines are read differently from a pipe.
    let s = raw.toString('base64').replace(new RegExp(`(.{${[64, 76, 1000][k % 3]}})`, 'g'), '$1\n');
    if (rnd() < 0.3) s = '\n' + s;
    if (rnd() < 0.5) s += '\n';
    if (rnd() < 0.2) s = 'not base64!\n' + s;
    if (rnd() < 0.2) { const at = Math.floor(rnd() * s.length); s = s.slice(0, at) + '*' + s.slice(at); }
    if (rnd() < 0.1) s = s.replace(/\n/g, '\r\n');
    cases.push(s);
  }
  for (const s of cases) {
    const want = spawnSync('openssl', ['base64', '-d'], { input: s }).stdout;
    assert.deepEqual(Buffer.from(bioBase64(Buffer.from(s, 'latin1'))), want, JSON.stringify(s.slice(0, 60)));
  }
});
