import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSignatures } from '../signatures/clamav/loader.js';
import { Engine, indexesFromSet } from './engine.js';
import { deserializeDatabase, serializeDatabase } from './serialize.js';

function fixture() {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ser-'));
  writeFileSync(join(dir, 'a.ndb'), [
    'Plain:0:*:68656c6c6f20776f726c64',
    'Alt:0:*:666f6f(31|32)202d2d2d',
    'Gen:0:*:6161(6a6a|66(6767|6868)66|6969)6161',
    'Edge:0:*:41[2-4]424344',
    'Multi:0:*:414243{2-4}444546*474849',
    'Cls:0:*:(B)636c616d74657374(B)',
    'Eof:0:EOF-5:6c696e6533',
    'Nib:0:*:4a4b4c?d4e',
    'Text:7:*:6c6f7765722063617365',
    '',
  ].join('\n'));
  writeFileSync(join(dir, 'b.ldb'), 'Logic;Engine:81-255,Target:0;0&1;7a7a7a7a::i;79797979\nBC.BinBE;Engine:101-255,Target:0;0&1;4d5a;0(>>2#ib2#=4660)\n');
  writeFileSync(join(dir, 'c.hdb'), '5d41402abc4b2a76b9719d911017c592:5:Tiny\n6f5902ac237024bdd0c176cb93063dc4:12:Hello\n');
  return dir;
}

const samples = [
  'xx hello world yy', '--- foo1 ---', 'xaafhhfaay', 'A..BCD', 'ABC..DEF....GHI', 'a clamtest here',
  'line1\nline2\nline3', 'JKL\x9dN xx', 'UPPER LOWER CASE text', 'ZZZZ and yyyy', 'hello world\n',
];

test('a compiled database scans exactly like the one it was compiled from', () => {
  const set = loadSignatures({ paths: [fixture()] });
  assert.deepEqual(set.diagnostics, []);
  const indexes = indexesFromSet(set);
  const direct = new Engine(set, indexes);
  const bytes = serializeDatabase(set, indexes, direct.body);
  const back = deserializeDatabase(bytes);
  assert.ok(back, 'the cache reads back');
  const cached = new Engine(back.set, back.indexes, back.body);
  assert.equal(back.set.known, set.known);
  for (const s of samples) {
    const b = Buffer.from(s, 'latin1');
    const a = direct.scan(b, { allmatch: true });
    const c = cached.scan(b, { allmatch: true });
    assert.deepEqual(c, a, `same result for ${JSON.stringify(s)}`);
  }
  // At least some samples must be detections, or the comparison proves little.
  const hits = samples.filter((s) => direct.scan(Buffer.from(s, 'latin1'), { allmatch: true }).verdict === 'infected');
  assert.ok(hits.length >= 8, `expected most samples to hit, got ${hits.length}`);
});

test('a damaged compiled database is refused, never half-used', () => {
  const set = loadSignatures({ paths: [fixture()] });
  const indexes = indexesFromSet(set);
  const bytes = serializeDatabase(set, indexes, new Engine(set, indexes).body);
  for (const at of [0, 9, 40, 100, Math.floor(bytes.length / 2), bytes.length - 1]) {
    const copy = Buffer.from(bytes);
    copy[at] = copy[at]! ^ 0x5a;
    assert.equal(deserializeDatabase(copy), undefined, `flipped byte ${at}`);
  }
  assert.equal(deserializeDatabase(bytes.subarray(0, bytes.length - 3)), undefined, 'truncated');
  assert.equal(deserializeDatabase(new Uint8Array(0)), undefined, 'empty');
});

test('a compiled database round-trips its YARA atoms, and one built for other YARA rules is refused, not half-used', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ser-yara-'));
  writeFileSync(join(dir, 'a.ndb'), 'Plain:0:*:68656c6c6f20776f726c64\n');
  writeFileSync(join(dir, 'r.yar'), 'rule Y { strings: $a = "kestrel" condition: $a }\n');
  const set = loadSignatures({ paths: [dir] });
  const engine = new Engine(set);
  const bytes = serializeDatabase(set, indexesFromSet(set), engine.body);
  const back = deserializeDatabase(bytes)!;
  assert.ok(back);
  const again = new Engine(back.set, back.indexes, back.body);
  assert.deepEqual(again.scan(Buffer.from('a kestrel and hello world')).detections.map((d) => d.name), ['Plain.UNOFFICIAL']);
  assert.deepEqual(again.scan(Buffer.from('only a kestrel here')).detections.map((d) => d.name), ['YARA.Y.UNOFFICIAL']);
  // The same number of atoms, other bytes: the cached body does not belong to these rules.
  const other = { ...back.set, yara: [{ ...back.set.yara[0]!, text: 'rule Y { strings: $a = "plovers" condition: $a }\n' }] };
  assert.throws(() => new Engine(other, back.indexes, back.body), /compile it again/);
});
