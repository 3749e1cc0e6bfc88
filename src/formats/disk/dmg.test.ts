import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { adcEncode, buildDmg, type ChunkKind } from './dmg-build.js';
import { adcDecode, dmgMembers, findMishTexts, sfBase64Decode } from './dmg.js';
import { buildHfsPlus } from './hfsplus-build.js';
import { hfsplusMembers } from './hfsplus.js';
import { isChild, isLimited, type ChildLayer, type UnpackContext, type UnpackItem } from '../unpack.js';

const ctx = (maxFileSize = 100 * 1024 * 1024): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 10000, maxScanSize: 400 * 1024 * 1024 },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false },
});
const list = (b: Uint8Array, c = ctx()): UnpackItem[] => [...dmgMembers(b, c)];
const children = (b: Uint8Array, c = ctx()): ChildLayer[] => list(b, c).filter(isChild);
const HAVE_BZIP2 = spawnSync('bzip2', ['--help']).error === undefined;

const noise = (n: number, seed: number): Uint8Array => {
  let s = seed >>> 0;
  return Uint8Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 24));
};
const padded = (b: Uint8Array): Uint8Array => { const o = new Uint8Array(Math.ceil(b.length / 512) * 512); o.set(b); return o; };

test('Snort base64: skips foreign bytes, drops a partial group, refuses = early in a group', () => {
  assert.equal(Buffer.from(sfBase64Decode('bWlz\naA==')!).toString('latin1'), 'mish');
  assert.equal(Buffer.from(sfBase64Decode('  bW lz aGE ')!).toString('latin1'), 'misha'.slice(0, 3));
  assert.equal(sfBase64Decode('b=lz'), undefined);
  assert.equal(Buffer.from(sfBase64Decode('bWlzaA==bWlz')!).toString('latin1'), 'mish', 'decoding stops at the padded group');
});

test('ADC: round trip through the test encoder, errors on bad references and cut codes', () => {
  const src = Buffer.concat([Buffer.from('abcabcabcabc'.repeat(50)), Buffer.from(noise(3000, 1)), Buffer.from('xyz'.repeat(900))]);
  const enc = adcEncode(src);
  assert.ok(enc.length < src.length);
  const dec = adcDecode(enc, 1 << 20);
  assert.equal(dec.error, false);
  assert.ok(Buffer.from(dec.data).equals(src));
  assert.equal(adcDecode(Uint8Array.of(0x00, 0x05), 100).error, true, 'a back-reference before the start');
  assert.equal(adcDecode(Uint8Array.of(0x83, 1, 2), 100).error, true, 'a literal run cut short');
  assert.equal(adcDecode(Uint8Array.of(0x80, 1, 0x40), 100).error, true, 'a long code cut short');
  assert.equal(adcDecode(enc, 100).capped, true);
});

test('the plist walk: ClamAV\'s states, whatever the key order, and not outside resource-fork/blkx', () => {
  const mish = 'bWlzaA==';
  const doc = (inner: string): string => `<?xml version="1.0"?><plist version="1.0"><dict><key>resource-fork</key><dict>${inner}</dict></dict></plist>`;
  assert.deepEqual(findMishTexts(doc(`<key>blkx</key><array><dict><key>Data</key><data>${mish}</data><key>Name</key><string>x</string></dict><dict><key>Name</key><string>y</string><key>Data</key><data>QUJD</data></dict></array>`)), [mish, 'QUJD']);
  assert.deepEqual(findMishTexts(doc(`<key>plst</key><array><dict><key>Data</key><data>${mish}</data></dict></array>`)), []);
  assert.deepEqual(findMishTexts(doc(`<key>blkx</key><string>no</string><key>blkx</key><array><dict><key>Data</key><data>${mish}</data></dict></array>`)), [mish]);
  assert.deepEqual(findMishTexts(doc(`<key>blkx</key><array><dict><key>Data</key><string>${mish}</string><key>Data</key><data/></dict></array>`)), []);
});

test('each chunk type rebuilds the partition; LZFSE chunks are skipped', (t) => {
  const data = Buffer.concat([Buffer.from(noise(20000, 2)), Buffer.alloc(9000), Buffer.from('readable text '.repeat(2000))]);
  const kinds: ChunkKind[][] = [['raw'], ['zlib'], ['adc'], ['raw', 'zlib', 'adc']];
  if (HAVE_BZIP2) kinds.push(['bzip2'], ['zlib', 'bzip2']);
  else t.diagnostic('bzip2 is not installed: bzip2 chunks not tested');
  for (const k of kinds) {
    const img = buildDmg([{ data, kinds: k, chunkSectors: 16 }])!;
    const got = children(img);
    assert.equal(got[0]!.name, 'toc.xml');
    assert.equal(got[1]!.name, 'dmg00');
    assert.equal(got[1]!.type, 'CL_TYPE_PART_ANY');
    assert.ok(Buffer.from(got[1]!.data).equals(padded(data)), k.join(','));
  }
  const lz = buildDmg([{ data, kinds: ['lzfse', 'raw'], chunkSectors: 16, zeroFill: false }])!;
  const part = children(lz)[1]!;
  // Chunks alternate LZFSE (skipped, adding nothing) and stored: the stored ones, joined.
  const whole = padded(data);
  const kept: Uint8Array[] = [];
  for (let c = 0, at = 0; at < whole.length; c++, at += 16 * 512) if (c % 2 === 1) kept.push(whole.subarray(at, at + 16 * 512));
  assert.ok(Buffer.from(part.data).equals(Buffer.concat(kept)), 'LZFSE chunks add nothing');
});

test('an HFS+ volume inside is typed as an HFS+ partition and its files read', () => {
  const vol = buildHfsPlus([{ name: 'inside.txt', data: Buffer.from('file inside the image') }]);
  const img = buildDmg([{ data: vol, kinds: ['zlib'] }, { data: Buffer.from('second') }])!;
  const got = children(img);
  assert.deepEqual(got.map((c) => c.name), ['toc.xml', 'dmg00', 'dmg01']);
  assert.equal(got[1]!.type, 'CL_TYPE_PART_HFSPLUS');
  const files = [...hfsplusMembers(got[1]!.data, ctx())].filter(isChild);
  assert.equal(Buffer.from(files[0]!.data).toString(), 'file inside the image');
});

test('damage: chunk offsets into the XML end the image, bad zlib ends it, cut zlib keeps what came', () => {
  const data = Buffer.from(noise(40000, 3));
  const second = { data: Buffer.from('second partition') };
  const intoXml = buildDmg([{ data, kinds: ['raw'] }, second], { mutateStripe: (s, i) => { if (i === 0) s.setUint32(28, 0x7fff0000); } })!;
  assert.deepEqual(children(intoXml).map((c) => c.name), ['toc.xml']);
  const z = buildDmg([{ data, kinds: ['zlib'], chunkSectors: 200 }, second])!;
  const zBad = Uint8Array.from(z);
  zBad[100] = zBad[100]! ^ 0xff;
  zBad[101] = zBad[101]! ^ 0x55;
  assert.deepEqual(children(zBad).map((c) => c.name), ['toc.xml']);
  const cut = buildDmg([{ data, kinds: ['zlib'], chunkSectors: 200 }, second], { mutateStripe: (s, i) => { if (i === 0) s.setUint32(36, s.getUint32(36) >> 1); } })!;
  const got = children(cut);
  assert.deepEqual(got.map((c) => c.name), ['toc.xml', 'dmg00', 'dmg01']);
  assert.ok(got[1]!.data.length > 0 && got[1]!.data.length < 40000);
  const few = buildDmg([{ data, kinds: ['zlib'], chunkSectors: 200 }, second], { mutateStripe: (s, i) => { if (i === 0) s.setUint32(20, 1); } })!;
  assert.deepEqual(children(few).map((c) => c.name), ['toc.xml'], 'output a buffer past the sectors');
  const adcCut = buildDmg([{ data, kinds: ['adc'], chunkSectors: 200 }, second], { mutateStripe: (s, i) => { if (i === 0) s.setUint32(36, s.getUint32(36) - 1); } })!;
  assert.ok(children(adcCut).length <= 3);
});

test('MaxFileSize: the projected partition size over the limit ends the image with that limit', () => {
  const img = buildDmg([{ data: Buffer.from('small one'), kinds: ['raw'] }, { data: Buffer.from(noise(50000, 4)), kinds: ['zlib'] }, { data: Buffer.from('never') }])!;
  const items = list(img, ctx(30000));
  assert.deepEqual(items.map((i) => (isChild(i) ? i.name : isLimited(i) ? `${i.name}!${i.limit}` : '?')), ['toc.xml', 'dmg00', 'dmg01!MaxFileSize']);
});

test('no koly, a koly pointing outside, and cut or mutated images never throw', () => {
  assert.equal(list(new Uint8Array(512)).length, 0);
  const img = buildDmg([{ data: Buffer.concat([Buffer.from(noise(30000, 5)), Buffer.alloc(5000)]), kinds: ['zlib', 'adc', 'raw'], chunkSectors: 8 }])!;
  assert.equal(children(img).length, 2);
  const started = Date.now();
  for (let cut = 0; cut < img.length; cut += 211) list(img.subarray(0, cut));
  let seed = 99;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let round = 0; round < 400; round++) {
    const m = Uint8Array.from(img);
    for (let k = 1 + Math.floor(rnd() * 6); k > 0; k--) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
    for (const it of list(m, ctx(1 << 20))) if (isChild(it)) assert.ok(it.data.length <= (1 << 20) + 8192 * 64);
  }
  assert.ok(Date.now() - started < 30000);
});
