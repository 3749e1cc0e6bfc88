/**
 * Tests for the RAR reader: RAR 4 and RAR 5 archives built by `samples.ts` from the format
 * descriptions (no RAR tool exists here): stored entries extracted, compressed entries listed but
 * not extracted, directories skipped, encrypted entries and encrypted headers flagged when the
 * option asks, MaxFileSize, archives inside other layers, truncation and mutation loops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../test/helpers/prng.js';
import { DEFAULT_UNPACK_OPTIONS, isAlert, isChild, isLimited, type UnpackContext, type UnpackItem } from '../unpack.js';
import { listRar, unpackRar, unpackRarSfx } from './rar.js';
import { buildRar4, buildRar5, type RarSampleFile } from './samples.js';

const ctx = (alertEncryptedArchive = false, maxFileSize = 64 << 20): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 0, maxScanSize: 256 << 20 },
  options: { ...DEFAULT_UNPACK_OPTIONS, alertEncryptedArchive },
});
const all = (b: Uint8Array, c = ctx()): UnpackItem[] => [...unpackRar(b, c)];

const rng = new Prng('rar-tests');
const a = Buffer.from('first stored entry\n'.repeat(50));
const b = Buffer.from(rng.bytes(5000));
const FILES: RarSampleFile[] = [
  { name: 'docs/a.txt', data: a },
  { name: 'docs', data: new Uint8Array(0), kind: 'dir' },
  { name: 'packed.bin', data: rng.bytes(700), kind: 'compressed' },
  { name: 'deep/dir/b.bin', data: b },
  { name: 'secret.txt', data: rng.bytes(300), kind: 'encrypted' },
  { name: 'empty', data: new Uint8Array(0) },
];

for (const [version, build] of [[4, buildRar4], [5, buildRar5]] as const) {
  test(`RAR ${version}: listing and stored entries`, () => {
    const bytes = build(FILES);
    const l = listRar(bytes)!;
    assert.equal(l.version, version);
    assert.deepEqual(l.entries.map((e) => [e.name, e.dir, e.stored, e.encrypted]), [
      ['docs/a.txt', false, true, false], ['docs', true, true, false], ['packed.bin', false, false, false],
      ['deep/dir/b.bin', false, true, false], ['secret.txt', false, true, true], ['empty', false, true, false],
    ]);
    const items = all(bytes);
    assert.deepEqual(items.filter(isChild).map((c) => [c.name, Buffer.from(c.data).toString('hex')]), [
      ['a.txt', a.toString('hex')], ['b.bin', b.toString('hex')], ['empty', ''],
    ]);
    assert.equal(items.filter(isAlert).length, 0, 'no alert unless asked');
    assert.deepEqual(all(bytes, ctx(true)).filter(isAlert).map((x) => x.alert), ['Heuristics.Encrypted.RAR']);
  });

  test(`RAR ${version}: encrypted headers count as an encrypted entry`, () => {
    const bytes = build(FILES, { encryptedHeaders: true });
    assert.equal(listRar(bytes)!.headersEncrypted, true);
    assert.deepEqual(all(bytes), []);
    assert.deepEqual(all(bytes, ctx(true)), [{ alert: 'Heuristics.Encrypted.RAR' }]);
  });

  test(`RAR ${version}: entries over MaxFileSize are limits, checked before encryption`, () => {
    const items = all(build(FILES), ctx(true, 1000));
    assert.deepEqual(items.filter(isLimited).map((x) => x.name), ['b.bin']);
    assert.deepEqual(items.filter(isChild).map((x) => x.name), ['a.txt', 'empty']);
    assert.equal(items.filter(isAlert).length, 1);
    const big = all(build([{ name: 'x', data: rng.bytes(2000), kind: 'encrypted' }]), ctx(true, 1000));
    assert.deepEqual(big, [{ name: 'x', limit: 'MaxFileSize', size: 2000 }]);
  });

  test(`RAR ${version}: inside another layer`, () => {
    const prefix = Buffer.from(rng.bytes(777));
    const sfx = Buffer.concat([prefix, build(FILES)]);
    assert.deepEqual([...unpackRarSfx(sfx, prefix.length, ctx())].filter(isChild).map((c) => c.name), ['a.txt', 'b.bin', 'empty']);
    assert.deepEqual([...unpackRarSfx(sfx, 5, ctx())], []);
  });

  test(`RAR ${version}: truncation and 400 mutations never throw; data stays within the archive`, () => {
    const bytes = build(FILES);
    for (let cut = 0; cut < bytes.length; cut += 97) {
      for (const c of all(bytes.subarray(0, cut)).filter(isChild)) {
        const want = c.name === 'a.txt' ? a : c.name === 'b.bin' ? b : Buffer.alloc(0);
        assert.ok(Buffer.from(c.data).equals(want.subarray(0, c.data.length)), `cut ${cut}`);
      }
    }
    for (let i = 0; i < 400; i++) {
      const m = Buffer.from(bytes);
      for (let k = rng.int(1, 6); k > 0; k--) m[rng.chance(0.6) ? rng.int(0, 120) : rng.int(0, m.length - 1)] = rng.int(0, 255);
      for (const c of all(m, ctx(true)).filter(isChild)) assert.ok(c.data.length <= m.length);
    }
  });
}

test('not a RAR: nothing', () => {
  assert.equal(listRar(Buffer.from('Rar!\x1a\x07\x02\x00')), undefined);
  assert.deepEqual(all(Buffer.from('PK\x03\x04')), []);
});
