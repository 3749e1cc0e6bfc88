import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ooxmlLayers, zipMembers } from './ooxml.js';
import { buildCfb, vbaProjectStreams } from './cfb-writer.js';
import { family } from './index.js';
import { isChild, isLimited, type UnpackContext } from '../unpack.js';
import { buildZip } from '../../../test/helpers/zip-writer.js';

const ctx = (maxFileSize = 100 * 1024 * 1024): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 10000, maxScanSize: 400 * 1024 * 1024 },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false },
});

test('OOXML: the members of the ZIP, vbaProject.bin among them, directories and encrypted entries left out', () => {
  const project = buildCfb(vbaProjectStreams('', [{ name: 'Module1', source: 'Sub A()\r\nEnd Sub\r\n' }]));
  const zip = buildZip([
    { name: '[Content_Types].xml', data: '<Types/>', method: 8 },
    { name: 'word/', data: '' },
    { name: 'word/document.xml', data: '<w:document/>'.repeat(50), method: 8 },
    { name: 'word/vbaProject.bin', data: project, method: 8 },
    { name: 'word/secret.bin', data: 'xxxxxxxx', flags: 1 },
    { name: 'word/media/big.bin', data: new Uint8Array(5000), method: 8 },
  ]).bytes;
  const got = [...zipMembers(zip, ctx())];
  const names = got.filter(isChild).map((i) => i.name);
  assert.deepEqual(names, ['[Content_Types].xml', 'word/document.xml', 'word/vbaProject.bin', 'word/media/big.bin']);
  assert.deepEqual(Buffer.from(got.filter(isChild)[2]!.data), Buffer.from(project));
  const limited = [...zipMembers(zip, ctx(4000))];
  assert.ok(limited.some((i) => isLimited(i) && i.name === 'word/media/big.bin'));
  for (const t of ['CL_TYPE_OOXML_WORD', 'CL_TYPE_OOXML_XL', 'CL_TYPE_OOXML_PPT', 'CL_TYPE_MSOLE2', 'CL_TYPE_RTF', 'CL_TYPE_HWPOLE2'] as const) assert.ok(family.containers[t], t);
});

test('OOXML: damaged archives give what can be read, never throw', () => {
  const zip = buildZip([{ name: 'word/a.xml', data: 'a'.repeat(3000), method: 8 }, { name: 'word/b.xml', data: 'b'.repeat(100) }]).bytes;
  let seen = 0;
  for (let cut = 0; cut < zip.length; cut += 7) seen += [...ooxmlLayers(zip.subarray(0, cut), ctx())].length;
  assert.ok(seen >= 0);
  assert.equal([...ooxmlLayers(new Uint8Array(10), ctx())].length, 0);
});
