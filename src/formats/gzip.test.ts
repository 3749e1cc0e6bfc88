/**
 * gzip layers: headers with every optional field, several members, appended bytes, truncation,
 * damage and bombs give the data ClamAV would scan, or a reason, and never throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { gunzipLayer, gzipHeaderLength } from './gzip.js';

/** A gzip member with the optional header fields chosen by `flags` (FHCRC 2, FEXTRA 4, FNAME 8, FCOMMENT 16). */
function member(data: Buffer, flags: number): Buffer {
  const head = [0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3];
  if (flags & 4) head.push(3, 0, 0xaa, 0xbb, 0xcc);
  if (flags & 8) head.push(...Buffer.from('name.txt'), 0);
  if (flags & 16) head.push(...Buffer.from('a comment'), 0);
  if (flags & 2) head.push(0x12, 0x34);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(data.length, 4);
  return Buffer.concat([Buffer.from(head), deflateRawSync(data), trailer]);
}

test('every optional header field is skipped to reach the stream', () => {
  for (let flags = 0; flags < 32; flags += 2) {
    const m = member(Buffer.from(`payload ${flags}`), flags);
    const r = gunzipLayer(m, 1 << 20);
    assert.ok('data' in r, `flags ${flags}`);
    assert.equal(Buffer.from(r.data).toString(), `payload ${flags}`);
  }
});

test('members are joined; appended bytes and a damaged later member end the output quietly', () => {
  const two = Buffer.concat([gzipSync('first '), gzipSync('second')]);
  assert.equal(Buffer.from((gunzipLayer(two, 1 << 20) as { data: Uint8Array }).data).toString(), 'first second');
  const appended = Buffer.concat([gzipSync('only this'), Buffer.from('trailing bytes')]);
  assert.equal(Buffer.from((gunzipLayer(appended, 1 << 20) as { data: Uint8Array }).data).toString(), 'only this');
  const damaged = Buffer.concat([gzipSync('kept'), Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff])]);
  assert.equal(Buffer.from((gunzipLayer(damaged, 1 << 20) as { data: Uint8Array }).data).toString(), 'kept');
});

test('a truncated stream gives what it had; a damaged first header or stream gives a reason', () => {
  const text = 'abcdefghij'.repeat(200);
  const whole = gzipSync(Buffer.from(text));
  for (let cut = 10; cut < whole.length; cut += 7) {
    const r = gunzipLayer(whole.subarray(0, cut), 1 << 20);
    if ('data' in r) assert.ok(text.startsWith(Buffer.from(r.data).toString()), `cut ${cut}`);
  }
  assert.deepEqual(gunzipLayer(Buffer.from('not gzip at all'), 100), { error: 'header' });
  assert.equal(gzipHeaderLength(Buffer.from([0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3, 0x41])), undefined, 'a name without its terminator');
  const bad = gunzipLayer(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff]), 100);
  assert.ok('error' in bad);
});

test('a bomb stops at the limit', () => {
  const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024));
  assert.ok(bomb.length < 100 * 1024);
  assert.deepEqual(gunzipLayer(bomb, 1024 * 1024), { error: 'limit' });
});
