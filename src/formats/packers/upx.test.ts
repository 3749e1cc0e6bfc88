import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { Prng } from '../../../test/helpers/prng.js';
import { parsePe } from '../pe.js';
import { DEFAULT_UNPACK_OPTIONS, isChild, isLimited, type UnpackContext } from '../unpack.js';
import { nrvDecode, type NrvMethod } from './nrv.js';
import { nrvEncode } from './nrv-encode.js';
import { upxImage, upxPack, type UpxSection } from './upx-pack.js';
import { upxUnpack } from './upx.js';
import { scanPacked } from './index.js';
import { family } from './index.js';

const METHODS: readonly NrvMethod[] = ['2b', '2d', '2e'];
const ctx = (maxFileSize = 25 * 1024 * 1024): UnpackContext => ({ limits: { maxFileSize, maxFiles: 0, maxScanSize: 100 * 1024 * 1024 }, options: { ...DEFAULT_UNPACK_OPTIONS } });

/** Random bytes with runs, repeats and far repeats: every kind of match the coders know. */
function sample(rng: Prng, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let p = 0;
  while (p < size) {
    const kind = rng.int(0, 3);
    const n = Math.min(size - p, rng.int(1, 400));
    if (kind === 0) out.set(rng.bytes(n), p);
    else if (kind === 1) out.fill(rng.int(0, 2), p, p + n);
    else if (p > 0) {
      const from = rng.int(0, p - 1);
      for (let i = 0; i < n; i++) out[p + i] = out[from + i]!;
    }
    p += n;
  }
  return out;
}

test('NRV2B/2D/2E: greedy streams decode back, far offsets and long runs included', () => {
  const rng = new Prng('nrv-roundtrip');
  for (const m of METHODS) {
    for (const size of [0, 1, 2, 3, 31, 32, 33, 1000, 0x600, 0xe00, 70000]) {
      const data = sample(rng, size);
      const enc = nrvEncode(m, data);
      const out = new Uint8Array(size + 16);
      assert.equal(nrvDecode(m, enc, enc.length, out, size), size, `${m} ${size}`);
      assert.deepEqual(out.subarray(0, size), data);
      // One byte short of room: the decoder refuses instead of writing past the bound.
      if (size > 0) assert.equal(nrvDecode(m, enc, enc.length, new Uint8Array(size + 16), size - 1), -1);
    }
  }
});

test('NRV decoders: cut or damaged streams end with -1 or a bounded length, never a throw', () => {
  const rng = new Prng('nrv-damage');
  for (const m of METHODS) {
    const data = sample(rng, 5000);
    const enc = nrvEncode(m, data);
    const out = new Uint8Array(6000);
    for (let cut = 0; cut < enc.length; cut += 7) assert.equal(nrvDecode(m, enc, cut, out, 5000), -1, `${m} cut at ${cut}`);
    for (let k = 0; k < 300; k++) {
      const bad = enc.slice();
      for (let n = rng.int(1, 4); n > 0; n--) bad[rng.int(0, bad.length - 1)] = rng.int(0, 255);
      const r = nrvDecode(m, bad, bad.length, out, 5000);
      assert.ok(r >= -1 && r <= 5000);
    }
  }
});

const SECTIONS = (rng: Prng): UpxSection[] => [
  { name: '.text', data: sample(rng, 3000) },
  { name: '.data', data: sample(rng, 700), vsize: 0x2800 },
  { name: '.rdata', data: sample(rng, 5000) },
];

test('UPX: the rebuilt PE carries each original section at its new raw offset', () => {
  const rng = new Prng('upx-rebuild');
  for (const m of METHODS) {
    for (const header of ['magic', 'scan', 'backscan'] as const) {
      for (const [skew, signature] of [[0, 0x69], [0x30, 0x71], [0, false]] as const) {
        const secs = SECTIONS(rng);
        const packed = upxPack(secs, { method: m, header, skew, signature, imports: rng.int(0, 3), extra: rng.chance(0.5) ? rng.bytes(100) : undefined });
        const r = upxUnpack(packed, ctx());
        assert.ok(r && 'data' in r, `${m} ${header} skew ${skew}`);
        const pe = parsePe(r.data).pe;
        assert.ok(pe, 'a PE comes out');
        assert.equal(pe.dos.lfanew, 0xd0);
        assert.equal(pe.fileHeader.timeDateStamp, 0x4d414c43); // "CLAM"
        assert.equal(pe.sections.length, secs.length);
        secs.forEach((s, i) => {
          const h = pe.sections[i]!;
          assert.equal(h.pointerToRawData % 0x1000, 0);
          assert.deepEqual(r.data.subarray(h.pointerToRawData, h.pointerToRawData + s.data.length), s.data, `${m} ${header} section ${i}`);
        });
      }
    }
  }
});

test('UPX: with no header in the image, ClamAV\'s forged one-section header is put in front', () => {
  const rng = new Prng('upx-forge');
  const secs = SECTIONS(rng);
  const packed = upxPack(secs, { method: '2e', header: 'none' });
  const r = upxUnpack(packed, ctx());
  assert.ok(r && 'data' in r);
  const { image } = upxImage(secs, 0, false);
  assert.equal(r.data.length, Math.ceil(image.length / 0x1000) * 0x1000 + 0x200);
  assert.deepEqual(r.data.subarray(0x200, 0x200 + image.length), image);
  assert.equal(String.fromCharCode(...r.data.subarray(0xd0 + 0xf8, 0xd0 + 0xff)), '.clam01');
});

test('UPX: a stream with junk before it and no decoder bytes in the stub is not unpacked (ClamAV tries offsets 0 and 0x15 only)', () => {
  const rng = new Prng('upx-skew');
  const packed = upxPack(SECTIONS(rng), { method: '2d', skew: 0x40, signature: false });
  assert.equal(upxUnpack(packed, ctx()), undefined);
  // At 0x15 it is found.
  const at15 = upxPack(SECTIONS(rng), { method: '2d', skew: 0x15, signature: false });
  assert.ok(upxUnpack(at15, ctx()));
});

test('UPX: an image larger than MaxFileSize is a limited child; the family reads CL_TYPE_MSEXE', () => {
  const rng = new Prng('upx-limit');
  const packed = upxPack(SECTIONS(rng), { method: '2b' });
  const items = [...scanPacked(packed, ctx(10000))];
  assert.equal(items.length, 1);
  assert.ok(isLimited(items[0]!) && items[0].limit === 'MaxFileSize');
  const reader = family.containers.CL_TYPE_MSEXE;
  assert.ok(reader);
  const whole = [...reader(packed, ctx())];
  assert.ok(whole.length === 1 && isChild(whole[0]!) && whole[0].name === 'upx');
});

test('UPX: cut and mutated packed files never throw and stay fast', () => {
  const rng = new Prng('upx-fuzz');
  const started = Date.now();
  for (const m of METHODS) {
    const packed = upxPack(SECTIONS(rng), { method: m, header: rng.pick(['magic', 'scan', 'backscan', 'none'] as const) });
    for (let cut = 0; cut < packed.length; cut += 97) upxUnpack(packed.subarray(0, cut), ctx());
    for (let k = 0; k < 150; k++) {
      const bad = packed.slice();
      for (let n = rng.int(1, 6); n > 0; n--) bad[rng.int(0, bad.length - 1)] = rng.int(0, 255);
      const r = upxUnpack(bad, ctx());
      if (r && 'data' in r) assert.ok(r.data.length <= 25 * 1024 * 1024);
    }
  }
  assert.ok(Date.now() - started < 60000);
});

test('UPX LZMA stubs (both forms, skew 0 and 0x15): the image decoded by LZMA and rebuilt', (t) => {
  if (spawnSync('xz', ['--version'], { stdio: 'ignore' }).status !== 0) { t.skip('xz is not installed'); return; }
  const compress = (d: Uint8Array): Uint8Array => new Uint8Array(spawnSync('xz', ['--format=lzma', '--lzma1=preset=6,lc=3,lp=0,pb=2', '-c'], { input: d }).stdout.subarray(13));
  const rng = new Prng('upx-lzma');
  for (const form of [1, 2] as const) {
    for (const [header, skew] of [['magic', 0], ['backscan', 0x15], ['scan', 0]] as const) {
      const secs = SECTIONS(rng);
      const packed = upxPack(secs, { method: '2b', header, skew, lzma: { compress, form } });
      const r = upxUnpack(packed, ctx());
      assert.ok(r && 'data' in r, `form ${form} ${header}`);
      const pe = parsePe(r.data).pe;
      assert.ok(pe);
      // The output keeps the two sections' size: the rebuilt PE, then what the buffer held after it.
      const upx1 = parsePe(packed).pe!.sections;
      assert.equal(r.data.length, Math.ceil(upx1[0]!.virtualSize / 0x1000) * 0x1000 + Math.ceil(upx1[1]!.virtualSize / 0x1000) * 0x1000);
      secs.forEach((s, i) => {
        const h = pe.sections[i]!;
        assert.deepEqual(r.data.subarray(h.pointerToRawData, h.pointerToRawData + s.data.length), s.data);
      });
      // A damaged stream (the range coder's first byte) is a data error: nothing comes out.
      const bad = packed.slice();
      const at = 0x400 + skew + 2;
      bad[at] = 0x77;
      assert.equal(upxUnpack(bad, ctx()), undefined);
    }
  }
});
