/**
 * Tests for the RAR reader: RAR 4 and RAR 5 archives built by `samples.ts` from the format
 * descriptions (no RAR tool exists here): stored entries extracted, entries whose data is no valid
 * compressed stream yield nothing, directories skipped, encrypted entries and encrypted headers flagged when the
 * option asks, MaxFileSize, archives inside other layers, truncation and mutation loops.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { Prng } from '../../../test/helpers/prng.js';
import { CHILD_REFUSED, DEFAULT_UNPACK_OPTIONS, isAlert, isChild, isLimited, type UnpackContext, type UnpackItem } from '../unpack.js';
import { listRar, unpackRar, unpackRarSfx } from './rar.js';
import { encodeRar3Archive } from './rar3-encode.js';
import { encodeRar5, type Rar5EncodeFile } from './rar5-encode.js';
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

// ---------------------------------------------------------------- compressed entries

const text = (n: number, tag: string): Uint8Array =>
  Buffer.from(Array.from({ length: n }, (_, i) => `${tag} line ${i % 53} ${(i * 31) % 97}\n`).join(''));
const SOLID_FILES: Rar5EncodeFile[] = [
  { name: 'a/one.txt', data: text(800, 'one') },
  { name: 'a/two.txt', data: text(900, 'two') },
  { name: 'three.txt', data: text(700, 'one') },
  { name: 'four.txt', data: text(600, 'two') },
];
const digest = (d: Uint8Array): string => `${d.length}:${createHash('md5').update(d).digest('hex')}`;
const children = (b: Uint8Array, c = ctx()): [string, string][] =>
  all(b, c).filter(isChild).map((x) => [x.name, digest(x.data)]);
const want = (files: { name: string; data: Uint8Array }[]): [string, string][] =>
  files.map((f) => [f.name.slice(f.name.lastIndexOf('/') + 1), digest(f.data)]);

/** Offsets of the RAR 4 file headers (their flags are at +3). */
function rar4FileHeaders(b: Uint8Array): number[] {
  const at: number[] = [];
  let pos = 7;
  while (pos + 7 <= b.length) {
    const type = b[pos + 2]!;
    const flags = b[pos + 3]! | (b[pos + 4]! << 8);
    const size = b[pos + 5]! | (b[pos + 6]! << 8);
    const add = flags & 0x8000 ? (b[pos + 7]! | (b[pos + 8]! << 8) | (b[pos + 9]! << 16)) + b[pos + 10]! * 0x1000000 : 0;
    if (type === 0x74) at.push(pos);
    if (type === 0x7b || size < 7) break;
    pos += size + add;
  }
  return at;
}

for (const solid of [false, true]) {
  test(`RAR 5 ${solid ? 'solid' : 'non-solid'}: compressed entries are decoded, named by base name`, () => {
    const bytes = encodeRar5(SOLID_FILES, { solid, blockTokens: 500 });
    assert.deepEqual(children(bytes), want(SOLID_FILES));
  });
  test(`RAR 4 ${solid ? 'solid' : 'non-solid'}: compressed entries are decoded (version 2.9)`, () => {
    const { archive } = encodeRar3Archive(SOLID_FILES, { solid, blockTokens: 500 });
    const l = listRar(archive)!;
    assert.equal(l.solidArchive, solid);
    assert.deepEqual(l.entries.map((e) => [e.unpVer, e.solid, e.dictSize]), SOLID_FILES.map((_, i) => [29, solid && i > 0, 1 << 20]));
    assert.deepEqual(children(archive), want(SOLID_FILES));
  });
}

test('solid: an entry over MaxFileSize is decoded to keep the state; its successors come out right', () => {
  const files = [SOLID_FILES[0]!, { name: 'big.txt', data: text(4000, 'big') }, SOLID_FILES[2]!, SOLID_FILES[3]!];
  const limit = 40000;
  assert.ok(files[1]!.data.length > limit && files.every((f, i) => i === 1 || f.data.length <= limit));
  for (const bytes of [encodeRar5(files, { solid: true }), encodeRar3Archive(files, { solid: true }).archive]) {
    const items = all(bytes, ctx(false, limit));
    assert.deepEqual(items.filter(isLimited), [{ name: 'big.txt', limit: 'MaxFileSize', size: files[1]!.data.length }]);
    assert.deepEqual(children(bytes, ctx(false, limit)), want([files[0]!, files[2]!, files[3]!]));
  }
  // Beyond the budget for such decoding (MaxScanSize), the rest of the solid run is not extracted.
  const tight: UnpackContext = { limits: { maxFileSize: limit, maxFiles: 0, maxScanSize: 50000 }, options: DEFAULT_UNPACK_OPTIONS };
  assert.deepEqual(children(encodeRar5(files, { solid: true }), tight), want([files[0]!]));
});

test('solid: after an encrypted entry the solid run cannot be decoded (counted, alerted)', () => {
  const files: Rar5EncodeFile[] = SOLID_FILES.map((f, i) => (i === 1 ? { ...f, encryptedFlag: true } : f));
  const r5 = encodeRar5(files, { solid: true });
  assert.deepEqual(children(r5), want([SOLID_FILES[0]!]));
  assert.deepEqual(all(r5, ctx(true)).filter(isAlert).map((x) => x.alert), ['Heuristics.Encrypted.RAR']);
  const r4 = Uint8Array.from(encodeRar3Archive(SOLID_FILES, { solid: true }).archive);
  r4[rar4FileHeaders(r4)[1]! + 3]! |= 0x04;
  assert.deepEqual(children(r4), want([SOLID_FILES[0]!]));
  // Not solid: only the encrypted entry is missing.
  assert.deepEqual(children(encodeRar5(files)), want([SOLID_FILES[0]!, SOLID_FILES[2]!, SOLID_FILES[3]!]));
});

test('multi-volume: an entry continued in another volume is not extracted', () => {
  const files: Rar5EncodeFile[] = [SOLID_FILES[0]!, { ...SOLID_FILES[1]!, splitAfter: true }];
  assert.deepEqual(children(encodeRar5(files)), want([SOLID_FILES[0]!]));
  const r4 = Uint8Array.from(encodeRar3Archive(SOLID_FILES.slice(0, 2)).archive);
  r4[rar4FileHeaders(r4)[1]! + 3]! |= 0x02;
  assert.deepEqual(children(r4), want([SOLID_FILES[0]!]));
});

test('damaged compressed data yields what was decoded before the damage; output bounded by MaxFileSize', () => {
  const big = text(5000, 'dmg');
  for (const bytes of [encodeRar5([{ name: 'd.txt', data: big }]), encodeRar3Archive([{ name: 'd.txt', data: big }]).archive]) {
    const e = listRar(bytes)!.entries[0]!;
    const cut = bytes.subarray(0, e.dataOffset + Math.floor(e.packedSize / 2));
    const got = all(cut).filter(isChild);
    assert.equal(got.length, 1);
    assert.ok(got[0]!.data.length > 1000 && got[0]!.data.length < big.length);
    assert.ok(Buffer.from(got[0]!.data).equals(Buffer.from(big.subarray(0, got[0]!.data.length))));
  }
  // A header that understates the size: the output stops at the declared size.
  const bytes = Uint8Array.from(encodeRar5([{ name: 'd.txt', data: big }]));
  const e = listRar(bytes)!.entries[0]!;
  const sizeAt = bytes.indexOf(0x04, e.dataOffset - e.name.length - 40) + 1; // file flags, then the size vint
  const shown = bytes[sizeAt]! & 0x7f;
  bytes[sizeAt] = shown; // now a one-byte vint: the next bytes no longer belong to it
  const l2 = listRar(bytes);
  for (const c of l2 ? all(bytes).filter(isChild) : []) assert.ok(c.data.length <= big.length);
});

test('compressed entries: 300 mutations never throw and outputs stay within MaxFileSize', () => {
  const m = new Prng('rar-compressed-mutations');
  const samples = [encodeRar5(SOLID_FILES, { solid: true, blockTokens: 300 }), encodeRar3Archive(SOLID_FILES, { solid: true, blockTokens: 300 }).archive];
  for (let i = 0; i < 300; i++) {
    const b = Uint8Array.from(samples[i % 2]!);
    for (let k = m.int(1, 6); k > 0; k--) b[m.int(7, b.length - 1)] = m.int(0, 255);
    for (const c of all(b, ctx(false, 20000)).filter(isChild)) assert.ok(c.data.length <= 20000);
  }
});

test('the archive comment is scanned first, as ClamAV gets it from UnRAR (text up to a NUL, then a NUL)', (t) => {
  const text = Buffer.from('archive comment '.repeat(40));
  for (const commentStored of [true, false]) {
    const bytes = encodeRar5(SOLID_FILES.slice(0, 1), { comment: text, commentStored });
    const l = listRar(bytes)!;
    assert.equal(l.entries.length, 1);
    assert.equal(l.comment?.name, 'CMT');
    assert.deepEqual(children(bytes), [['comment', digest(Buffer.concat([text, Buffer.from([0])]))], ...want(SOLID_FILES.slice(0, 1))]);
  }
  const cut = encodeRar5([], { comment: Buffer.concat([Buffer.from('before'), Buffer.from([0]), Buffer.from('after')]), commentStored: true });
  assert.deepEqual(children(cut), [['comment', digest(Buffer.from('before\0'))]]);
  if (spawnSync('sh', ['-c', 'command -v bsdtar']).status !== 0) { t.diagnostic('bsdtar absent: comment archive not cross-checked'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rar-cmt-'));
  try {
    writeFileSync(join(dir, 'c.rar'), encodeRar5(SOLID_FILES.slice(0, 2), { comment: text }));
    const r = spawnSync('bsdtar', ['-xOf', join(dir, 'c.rar'), SOLID_FILES[1]!.name]);
    assert.equal(r.status, 0, String(r.stderr));
    assert.ok(Buffer.from(r.stdout).equals(Buffer.from(SOLID_FILES[1]!.data)), 'bsdtar reads past the comment header');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a child refused for a scan limit ends the extraction: later entries are not looked at', () => {
  const files: Rar5EncodeFile[] = [...SOLID_FILES.slice(0, 2), { ...SOLID_FILES[2]!, encryptedFlag: true }];
  const it = unpackRar(encodeRar5(files), ctx(true));
  const first = it.next();
  assert.equal(first.done, false);
  assert.equal((first.value as { name: string }).name, 'one.txt');
  const rest: UnpackItem[] = [];
  for (let r = it.next(CHILD_REFUSED); !r.done; r = it.next()) rest.push(r.value);
  assert.deepEqual(rest, []);
  // Without the refusal both children and the alert come.
  assert.deepEqual(all(encodeRar5(files), ctx(true)).map((x) => ('alert' in x ? x.alert : (x as { name: string }).name)), ['one.txt', 'two.txt', 'Heuristics.Encrypted.RAR']);
});
