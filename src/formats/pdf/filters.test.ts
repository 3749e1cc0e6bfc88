import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, deflateSync } from 'node:zlib';
import { zlibInflate } from './inflate.js';
import { ascii85Decode, asciiHexDecode, chunkCap, flateDecode, lzwDecode, runLengthDecode } from './filters.js';
import { ascii85Encode, asciiHexEncode, lzwEncode, runLengthEncode } from './pdf-writer.js';

let seed = 7;
const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
const sample = (n: number): Buffer => {
  const parts: Buffer[] = [];
  let t = 0;
  while (t < n) {
    const k = 1 + rnd(400);
    parts.push(rnd(3) === 0 ? Buffer.from(Array.from({ length: k }, () => rnd(256))) : Buffer.alloc(k, 0x41 + rnd(26)));
    t += k;
  }
  return Buffer.concat(parts).subarray(0, n);
};
const data = (r: ReturnType<typeof flateDecode>): Buffer => (r.status === 'ok' ? Buffer.from(r.data) : Buffer.alloc(0));

test('inflate agrees with zlib on whole streams of every level and strategy', () => {
  for (let i = 0; i < 60; i++) {
    const src = sample(rnd(150000));
    const z = deflateSync(src, { level: [0, 1, 6, 9][i % 4]!, strategy: i % 5 === 0 ? constants.Z_FIXED : constants.Z_DEFAULT_STRATEGY });
    const r = zlibInflate(z, 1 << 30);
    assert.equal(r.end, 'end');
    assert.ok(Buffer.from(r.data).equals(src), `sample ${i}`);
  }
});

test('inflate keeps the output before truncation, corruption or a bad checksum', () => {
  const src = sample(60000);
  const z = deflateSync(src);
  for (let cut = 0; cut < z.length; cut += 97) {
    const r = zlibInflate(z.subarray(0, cut), 1 << 30);
    assert.ok(Buffer.from(r.data).equals(src.subarray(0, r.data.length)));
    assert.notEqual(r.end, 'end');
  }
  const bad = Buffer.from(z);
  bad[bad.length - 1] = bad[bad.length - 1]! ^ 1; // Adler-32
  const r = zlibInflate(bad, 1 << 30);
  assert.equal(r.end, 'error');
  assert.ok(Buffer.from(r.data).equals(src));
  assert.equal(zlibInflate(Buffer.from('not zlib'), 100).end, 'error');
  const lim = zlibInflate(deflateSync(Buffer.alloc(100000)), 1000);
  assert.ok(lim.limited && lim.data.length === 1000);
});

test('Flate as ClamAV: a leading CR skipped, a failed start retried from the next line, empty output', () => {
  const src = sample(5000);
  assert.ok(data(flateDecode(Buffer.concat([Buffer.from('\r'), deflateSync(src)]), 1 << 30)).equals(src));
  assert.ok(data(flateDecode(Buffer.concat([Buffer.from('junk\r\n'), deflateSync(src)]), 1 << 30)).equals(src));
  assert.equal(flateDecode(deflateSync(Buffer.alloc(0)), 1 << 30).status, 'error');
  assert.equal(flateDecode(Buffer.from([0x78]), 1 << 30).status, 'empty');
  assert.equal(flateDecode(deflateSync(Buffer.alloc(600000)), 300000).status, 'limit');
  assert.equal(chunkCap(300000), 262144);
  assert.equal(chunkCap(100), 262144);
});

test('LZW decodes both code-width conventions and stops at EOD', () => {
  for (const n of [0, 1, 100, 5000, 200000]) {
    const src = sample(n);
    for (const early of [true, false]) {
      const r = lzwDecode(lzwEncode(src, early), early, 1 << 30);
      if (n === 0) assert.equal(r.status, 'error');
      else assert.ok(data(r).equals(src), `${n} ${early}`);
    }
  }
  const two = Buffer.concat([lzwEncode(Buffer.from('first')), lzwEncode(Buffer.from('second'))]);
  assert.equal(data(lzwDecode(two, true, 1 << 30)).toString(), 'first');
  // clear, 'A', then code 511 (not yet in the table): what came before is kept
  assert.equal(data(lzwDecode(Buffer.from([0x80, 0x10, 0x7f, 0xf0, 0x00]), true, 1 << 30)).toString('latin1'), 'A');
});

test('ASCIIHex: spaces skipped, other whitespace an error unless at the very end; ">" ends', () => {
  assert.equal(data(asciiHexDecode(Buffer.from('48 65 6C6C6F>'))).toString(), 'Hello');
  assert.equal(asciiHexDecode(Buffer.from('4865\n6C6C6F>')).status, 'error');
  assert.equal(data(asciiHexDecode(Buffer.from('48656C6C6F\n'))).toString(), 'Hello');
  assert.equal(data(asciiHexDecode(asciiHexEncode(Buffer.from('round trip')))).toString(), 'round trip');
});

test('ASCII85: groups, z, a short last group at ~>, a group dropped without ~>', () => {
  for (const s of ['', 'a', 'ab', 'abc', 'abcd', 'abcde', '\0\0\0\0xyz']) assert.equal(data(ascii85Decode(ascii85Encode(Buffer.from(s)))).toString('latin1'), s);
  assert.equal(data(ascii85Decode(Buffer.from('87cURD]i,"Ebo80'))).toString(), 'Hello World!');
  assert.equal(data(ascii85Decode(Buffer.from('87cURD]i,"Ebo8'))).toString(), 'Hello Wo');
  assert.equal(ascii85Decode(Buffer.from('87cUR{')).status, 'error');
  assert.equal(ascii85Decode(Buffer.from('8~>')).status, 'error');
});

test('RunLength: literal and repeat runs, EOD, truncation an error, empty output', () => {
  const src = Buffer.concat([Buffer.from('abc'), Buffer.alloc(300, 0x7a), Buffer.from('tail')]);
  assert.ok(data(runLengthDecode(runLengthEncode(src), 1 << 30)).equals(src));
  assert.equal(runLengthDecode(Buffer.from([5, 0x41]), 1 << 30).status, 'error');
  assert.equal(runLengthDecode(Buffer.from([128]), 1 << 30).status, 'empty');
});
