/**
 * Tests for the ISO 9660 reader: images made by `xorriso -as mkisofs` with and without Joliet
 * (skipped when xorriso is absent), the primary tree then the Joliet tree, nested directories,
 * the file-size limit, images cut short, a directory that points to itself, an image found at an
 * offset, truncation and random mutation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isoMembers } from './iso9660.js';
import { drain, fuzz, fuzzContext } from './fuzz-check.js';
import { isChild, isLimited, type UnpackItem } from '../unpack.js';

const hasXorriso = (() => { try { execFileSync('xorriso', ['-version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
const skip = hasXorriso ? false : 'xorriso is not installed';
const ctx = fuzzContext();
const names = (items: UnpackItem[]): string[] => items.filter(isChild).map((c) => c.name);

function image(joliet: boolean, files: Record<string, string | Uint8Array> = {}): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-iso-'));
  const src = join(dir, 'src');
  const all: Record<string, string | Uint8Array> = {
    'readme.txt': 'top level payload\n',
    'docs/Long Name File.txt': 'a name Joliet keeps\n',
    'docs/deep/inner.bin': 'x'.repeat(5000),
    ...files,
  };
  for (const [name, data] of Object.entries(all)) {
    const path = join(src, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, data);
  }
  const out = join(dir, 'out.iso');
  execFileSync('xorriso', ['-as', 'mkisofs', ...(joliet ? ['-J'] : []), '-o', out, src], { stdio: 'ignore' });
  const bytes = new Uint8Array(readFileSync(out));
  rmSync(dir, { recursive: true, force: true });
  return bytes;
}

test('iso9660: the primary tree, then the Joliet tree with its names', { skip }, () => {
  const items = [...isoMembers(image(true), 32768, ctx)];
  assert.deepEqual(names(items), [
    'DOCS/DEEP/INNER.BIN', 'DOCS/LONG_NAM.TXT', 'README.TXT',
    'docs/Long Name File.txt', 'docs/deep/inner.bin', 'readme.txt',
  ]);
  const data = new Map(items.filter(isChild).map((c) => [c.name, Buffer.from(c.data).toString('latin1')]));
  assert.equal(data.get('README.TXT'), 'top level payload\n');
  assert.equal(data.get('readme.txt'), 'top level payload\n');
  assert.equal(data.get('docs/deep/inner.bin'), 'x'.repeat(5000));
  assert.equal(data.get('DOCS/LONG_NAM.TXT'), data.get('docs/Long Name File.txt'));
});

test('iso9660: without Joliet only the primary tree', { skip }, () => {
  assert.deepEqual(names([...isoMembers(image(false), 32768, ctx)]), ['DOCS/DEEP/INNER.BIN', 'DOCS/LONG_NAM.TXT', 'README.TXT']);
});

test('iso9660: no image where the descriptor offset or the block size is wrong', { skip }, () => {
  const iso = image(false);
  assert.equal([...isoMembers(iso, 32767, ctx)].length, 0);
  assert.equal([...isoMembers(iso, 16384, ctx)].length, 0);
  const bad = Uint8Array.from(iso);
  bad[32768 + 128] = 0x00;
  bad[32768 + 129] = 0x03; // block size 768
  assert.equal([...isoMembers(bad, 32768, ctx)].length, 0);
});

test('iso9660: an image after other data is read from the offset of its descriptor', { skip }, () => {
  const iso = image(false);
  const shifted = new Uint8Array(iso.length + 4096);
  shifted.set(iso, 4096);
  assert.deepEqual(names([...isoMembers(shifted, 32768 + 4096, ctx)]), ['DOCS/DEEP/INNER.BIN', 'DOCS/LONG_NAM.TXT', 'README.TXT']);
});

test('iso9660: a raw CD image of 2352-byte sectors is read through its sector headers', { skip }, () => {
  const iso = image(true);
  const sync = Uint8Array.from([0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 2, 0, 1]);
  const raw = new Uint8Array((iso.length / 2048) * 2352);
  for (let s = 0; s * 2048 < iso.length; s++) {
    raw.set(sync, s * 2352);
    raw.set(iso.subarray(s * 2048, s * 2048 + 2048), s * 2352 + 16);
  }
  const want = [...isoMembers(iso, 32768, ctx)].filter(isChild).map((c) => [c.name, Buffer.from(c.data).toString('latin1')]);
  const got = [...isoMembers(raw, 16 * 2352 + 16, ctx)].filter(isChild).map((c) => [c.name, Buffer.from(c.data).toString('latin1')]);
  assert.equal(got.length, 6);
  assert.deepEqual(got, want);
});

test('iso9660: a file over the file-size limit is reported, not read', { skip }, () => {
  const items = [...isoMembers(image(false, { 'big.bin': new Uint8Array(300000) }), 32768, fuzzContext(100000))];
  const limited = items.filter(isLimited);
  assert.deepEqual(limited.map((l) => [l.name, l.limit, l.size]), [['BIG.BIN', 'MaxFileSize', 300000]]);
  assert.equal(names(items).length, 3);
});

test('iso9660: a file past the end of a cut image ends that tree; the Joliet tree is still read', { skip }, () => {
  const iso = image(true, { 'zz_last.bin': new Uint8Array(200000).fill(7) });
  // Cut inside the last file's data.
  const last = [...isoMembers(iso, 32768, ctx)].filter(isChild).find((c) => c.name === 'ZZ_LAST.BIN')!;
  const cut = iso.subarray(0, last.data.byteOffset + 100000);
  const got = names([...isoMembers(cut, 32768, ctx)]);
  assert.deepEqual(got, ['DOCS/DEEP/INNER.BIN', 'DOCS/LONG_NAM.TXT', 'README.TXT', 'docs/Long Name File.txt', 'docs/deep/inner.bin', 'readme.txt']);
});

test('iso9660: a directory that contains itself is read once', { skip }, () => {
  const iso = Uint8Array.from(image(false));
  // The root directory's extent, then its first record after "." and "..": make it a directory pointing at the root.
  const root = (iso[32768 + 156 + 2]! | (iso[32768 + 156 + 3]! << 8)) * 2048;
  let p = root;
  p += iso[p]!; // "."
  p += iso[p]!; // ".."
  iso[p + 25] = iso[p + 25]! | 2;
  iso.set(iso.subarray(32768 + 156 + 2, 32768 + 156 + 18), p + 2);
  const items = drain((b, c) => isoMembers(b, 32768, c), iso, ctx, 'loop');
  assert.ok(names(items).length <= 3);
});

test('iso9660: a record flagged as one extent of several is read as a file of its own', { skip }, () => {
  const iso = Uint8Array.from(image(false));
  const before = [...isoMembers(iso, 32768, ctx)].filter(isChild);
  // Set the multi-extent flag on the README.TXT record (found by its name in the root directory).
  const at = Buffer.from(iso).indexOf('README.TXT;1', 32768) - 33;
  iso[at + 25] = iso[at + 25]! | 0x80;
  const after = [...isoMembers(iso, 32768, ctx)].filter(isChild);
  assert.deepEqual(after.map((c) => [c.name, c.data.length]), before.map((c) => [c.name, c.data.length]));
});

test('iso9660: truncation at many points and 320 random mutations neither throw nor hang', { skip }, () => {
  const iso = image(true);
  const runs = fuzz((b, c) => isoMembers(b, 32768, c), iso, 9660, 200, 320, [32768, Math.min(iso.length, 32768 + 40 * 2048)]);
  assert.ok(runs > 500);
});
