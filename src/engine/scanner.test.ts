import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNdb } from '../signatures/clamav/ndb.js';
import { BodyDatabase } from './bodydb.js';
import { scanLayer, type EnginePorts } from './scanner.js';

function engineOf(ndb: string): EnginePorts {
  const r = parseNdb(ndb, { file: 't.ndb' });
  assert.deepEqual(r.diagnostics.map((d) => d.message), []);
  return { body: new BodyDatabase(r.sigs), typeOf: () => ({ type: 'CL_TYPE_BINARY_DATA', passes: [{ input: 'raw', targets: [0] }] }) };
}

function hits(engine: EnginePorts, data: string | Uint8Array): string[] {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  return scanLayer(engine, bytes, { allmatch: true, layer: [] }).map((d) => d.name).sort();
}

// The verified matching table of reference §1.2 (ClamAV 1.4.6, --allmatch --normalize=no).
test('scanLayer reproduces ClamAV for nibbles and wildcards', () => {
  const e = engineOf('A:0:*:68656c6c6?\nB:0:*:68656c6c?f\nC:0:*:68656c??6f2077\n');
  assert.deepEqual(hits(e, 'xx hello world yy'), ['A', 'B', 'C']);
  assert.deepEqual(hits(e, 'xx help world yy'), []);
});

test('scanLayer reproduces ClamAV for ranged wildcards', () => {
  const e = engineOf('R:0:*:4142{8-12}4344\nM:0:*:4142{-5}4344\nN:0:*:4142{5-}4344\nX:0:*:4142{10}4344\nS:0:*:4142*4344\n');
  assert.deepEqual(hits(e, 'AB' + '\0'.repeat(10) + 'CD'), ['N', 'R', 'S', 'X']);
  const f = engineOf('L:0:*:4142{200}4344\nM:0:*:4142{-5}4344\nN:0:*:4142{5-}4344\nS:0:*:4142*4344\n');
  assert.deepEqual(hits(f, 'AB' + '\0'.repeat(300) + 'CD'), ['N', 'S']);
});

test('scanLayer reproduces ClamAV for edge ranges and alternatives', () => {
  const e = engineOf('E:0:*:4142[8-12]43\n');
  assert.deepEqual(hits(e, 'AB' + '\0'.repeat(10) + 'C'), ['E']);
  assert.deepEqual(hits(e, 'AB' + '\0'.repeat(13) + 'C'), []);
  const a = engineOf('A:0:*:666f6f(31|32)202d2d2d\nN:0:*:666f6f!(31|32)202d2d2d\nF:0:*:2d2d2d20(666f6f31|62617232)202d2d2d\n');
  assert.deepEqual(hits(a, '--- foo1 ---'), ['A', 'F']);
  assert.deepEqual(hits(a, '--- foo3 ---'), ['N']);
  const g = engineOf('G:0:*:6161(6a6a|66(6767|6868)66|6969)6161\n');
  assert.deepEqual(hits(g, 'xaafhhfaay'), ['G']);
  assert.deepEqual(hits(g, 'xaafgfaay'), []);
});

test('scanLayer reproduces the asymmetric boundaries of (B), (L) and (W)', () => {
  const l = engineOf('L:0:*:(L)636c616d74657374(L)\n');
  assert.deepEqual(hits(l, 'line1\nclamtest\nline3'), ['L']);
  assert.deepEqual(hits(l, 'line1\r\nclamtest\r\nline3'), ['L']);
  assert.deepEqual(hits(l, 'line1 clamtest line3'), []);
  const b = engineOf('B:0:*:(B)636c616d74657374(B)\n');
  assert.deepEqual(hits(b, 'line1 clamtest line3'), ['B']);
  assert.deepEqual(hits(b, 'clamtest at start'), ['B']);
  assert.deepEqual(hits(b, '\nclamtest\n'), []);
  const w = engineOf('W:0:*:68656c6c6f(W)776f726c64\n');
  assert.deepEqual(hits(w, 'hello world'), ['W']);
  assert.deepEqual(hits(w, 'helloworld'), []);
});

test('scanLayer applies absolute, shifted and end-of-file offsets to the match start', () => {
  const e = engineOf('A:0:3:68656c6c6f\nS:0:1,5:68656c6c6f\nE:0:EOF-5:6c696e6533\nF:0:EOF-8,3:6c696e6533\n');
  assert.deepEqual(hits(e, 'abchello line3'), ['A', 'E', 'F', 'S']);
  assert.deepEqual(hits(e, 'abcdhello line3xx'), ['F', 'S']);
});

test('scanLayer chains multi-part signatures with their gaps', () => {
  const e = engineOf('M:0:*:414243{2-4}444546*474849\n');
  assert.deepEqual(hits(e, 'ABC..DEF.........GHI'), ['M']);
  assert.deepEqual(hits(e, 'ABC.....DEF.GHI'), []);
  assert.deepEqual(hits(e, 'GHI ABC..DEF'), []);
});

test('scanLayer reports only the first detection without allmatch', () => {
  const e = engineOf('First:0:*:616263\nSecond:0:*:787978\n');
  const d = scanLayer(e, Buffer.from('abc xyx'), { allmatch: false, layer: [] });
  assert.deepEqual(d.map((x) => x.name), ['First']);
  assert.equal(d[0]!.offset, 0);
  assert.equal(d[0]!.matched, '616263');
});

test('scanLayer finds matches in a large buffer past the first window', () => {
  const e = engineOf('Far:0:*:6661722d6177617920{4}6d61726b\n');
  const buf = new Uint8Array(300000);
  buf.set(Buffer.from('far-away ....mark'), 131070);
  assert.deepEqual(hits(e, buf), ['Far']);
});
