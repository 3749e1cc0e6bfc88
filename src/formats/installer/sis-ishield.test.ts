import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scanSis } from './sis.js';
import { scanIshieldMsiEmbedded } from './ishield.js';
import { buildIshieldMsi, buildSis } from './fixtures.js';
import { DEFAULT_UNPACK_OPTIONS, isChild, isLimited, type UnpackContext, type UnpackItem } from '../unpack.js';

const ctx = (maxFileSize = 1 << 26, maxFiles = 10000): UnpackContext => ({
  limits: { maxFileSize, maxFiles, maxScanSize: 1 << 28 },
  options: { ...DEFAULT_UNPACK_OPTIONS },
});
const list = (it: Iterable<UnpackItem>): UnpackItem[] => [...it];
const files = [
  { name: 'c:\\system\\apps\\a.app', data: Buffer.from('first file '.repeat(50)) },
  { name: 'readme.txt', data: Buffer.from('second file, short') },
];

test('SIS: compressed and stored packages give every file, one per language', () => {
  for (const stored of [false, true]) {
    const kids = list(scanSis(buildSis(files, { stored }), ctx())).filter(isChild);
    assert.deepEqual(kids.map((k) => Buffer.from(k.data).toString()), files.map((f) => f.data.toString()));
    assert.deepEqual(kids.map((k) => k.name), files.map((f) => f.name));
  }
  const three = list(scanSis(buildSis(files, { langs: 3 }), ctx())).filter(isChild);
  assert.equal(three.length, 6);
});

test('SIS: not a SIS, no languages, or a file over MaxFileSize', () => {
  const sis = Buffer.from(buildSis(files));
  const bad = Buffer.from(sis);
  bad[8] = 0;
  assert.deepEqual(list(scanSis(bad, ctx())), []);
  const nolang = Buffer.from(sis);
  nolang.writeUInt16LE(0, 18);
  assert.deepEqual(list(scanSis(nolang, ctx())), []);
  const items = list(scanSis(sis, ctx(100)));
  assert.ok(isLimited(items[0]!));
  assert.ok(isChild(items[1]!));
});

test('SIS: a stream ClamAV cannot inflate completely is dropped', () => {
  const sis = Buffer.from(buildSis(files));
  // The first file's last byte (its checksum) damaged.
  const firstEnd = sis.indexOf(Buffer.from('readme.txt', 'utf16le')) - 1;
  sis[firstEnd] = sis[firstEnd]! ^ 0xff;
  const kids = list(scanSis(sis, ctx())).filter(isChild);
  assert.deepEqual(kids.map((k) => k.name), ['readme.txt']);
});

test('InstallShield MSI: each file decoded and inflated; limits', () => {
  const payload = Buffer.concat([Buffer.alloc(64, 0x41), buildIshieldMsi(files)]);
  const kids = list(scanIshieldMsiEmbedded(payload, 64, ctx())).filter(isChild);
  assert.deepEqual(kids.map((k) => Buffer.from(k.data).toString()), files.map((f) => f.data.toString()));
  assert.deepEqual(kids.map((k) => k.name), files.map((f) => f.name));
  // Output over MaxFileSize: limited, and the listing ends; stored size over it: skipped without a word.
  const lim = list(scanIshieldMsiEmbedded(payload, 64, ctx(100)));
  assert.deepEqual(lim.map((i) => (isLimited(i) ? 'limit' : isChild(i) ? 'child' : 'other')), ['limit']);
  assert.deepEqual(list(scanIshieldMsiEmbedded(payload, 64, ctx(10))), []);
  // MaxFiles counts the files it gave.
  assert.equal(list(scanIshieldMsiEmbedded(payload, 64, ctx(1 << 20, 1))).length, 1);
});

test('SIS and InstallShield: truncation and random damage never throw', () => {
  const samples: [string, Buffer][] = [['sis', Buffer.from(buildSis(files))], ['is', Buffer.from(buildIshieldMsi(files))]];
  let seed = 99;
  for (const [kind, s] of samples) {
    const run = (b: Uint8Array): void => {
      const it = kind === 'sis' ? scanSis(b, ctx(1 << 16)) : scanIshieldMsiEmbedded(b, 0, ctx(1 << 16));
      for (const i of it) if (isChild(i)) assert.ok(i.data.length <= 1 << 16);
    };
    for (let cut = 0; cut <= s.length; cut++) run(s.subarray(0, cut));
    for (let round = 0; round < 300; round++) {
      const m = Buffer.from(s);
      for (let k = 0; k < 3; k++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        m[seed % m.length] = seed >>> 24;
      }
      run(m);
    }
  }
});

test('SIS and InstallShield: the layer given (a Buffer) is left as it was', () => {
  const sis = Buffer.from(buildSis(files));
  const is = Buffer.from(buildIshieldMsi(files));
  const [s0, i0] = [Buffer.from(sis), Buffer.from(is)];
  list(scanSis(sis, ctx()));
  list(scanIshieldMsiEmbedded(is, 0, ctx()));
  assert.ok(sis.equals(s0) && is.equals(i0));
});

test('SIS: three times the stored size over MaxFileSize is a limit met, and the file is still extracted with its own size', () => {
  // Incompressible bytes: the zlib stream is a little larger than the file.
  let x = 12345;
  const noise = Buffer.alloc(3000);
  for (let i = 0; i < noise.length; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; noise[i] = x >>> 24; }
  const items = list(scanSis(buildSis([{ name: 'noise.bin', data: noise }]), ctx(5000)));
  assert.deepEqual(items.map((i) => (isLimited(i) ? `limit ${i.limit}` : isChild(i) ? `child ${i.data.length}` : '?')), ['limit MaxFileSize', 'child 3000']);
  // Under a limit above the tripled size: no limit met.
  assert.deepEqual(list(scanSis(buildSis([{ name: 'noise.bin', data: noise }]), ctx(20000))).map((i) => isChild(i)), [true]);
});
