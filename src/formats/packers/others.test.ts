import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../test/helpers/prng.js';
import { parsePe } from '../pe.js';
import { DEFAULT_UNPACK_OPTIONS, type UnpackContext } from '../unpack.js';
import { fsg131Pack, fsg133Pack, fsgEncode, fsgPack } from './fsg-pack.js';
import { unfsg } from './fsg.js';
import { wwEncode, wwPack } from './wwpack-pack.js';
import { ycPack } from './yc-pack.js';
import { mewPack } from './mew-pack.js';
import { spinPack } from './spin-pack.js';
import { upxImage, type UpxSection } from './upx-pack.js';
import { unpackPe } from './index.js';

const ctx = (maxFileSize = 25 * 1024 * 1024): UnpackContext => ({ limits: { maxFileSize, maxFiles: 0, maxScanSize: 100 * 1024 * 1024 }, options: { ...DEFAULT_UNPACK_OPTIONS } });

function sample(rng: Prng, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let p = 0;
  while (p < size) {
    const kind = rng.int(0, 3);
    const n = Math.min(size - p, rng.int(1, 600));
    if (kind === 0) out.set(rng.bytes(n), p);
    else if (kind === 1) out.fill(rng.int(0, 2), p, p + n);
    else if (p > 0) {
      const from = rng.int(Math.max(0, p - 70000), p - 1);
      for (let i = 0; i < n; i++) out[p + i] = out[from + i]!;
    }
    p += n;
  }
  return out;
}

const SECTIONS = (rng: Prng): UpxSection[] => [
  { name: '.text', data: sample(rng, rng.int(1, 9000)) },
  { name: '.data', data: sample(rng, rng.int(1, 3000)), vsize: 0x4000 },
];

const outcomeData = (bytes: Uint8Array): { name: string; data?: Uint8Array } => {
  const r = unpackPe(bytes, ctx());
  return typeof r.outcome !== 'string' && 'data' in r.outcome ? { name: r.name, data: r.outcome.data } : { name: r.name };
};

test('FSG coder: streams decode back; cut streams fail', () => {
  const rng = new Prng('fsg-roundtrip');
  for (const size of [1, 2, 3, 17, 300, 0x600, 0x8000, 90000]) {
    const data = sample(rng, size);
    const enc = fsgEncode(data);
    const out = new Uint8Array(size);
    assert.ok(unfsg(enc, enc.length, out, size), `size ${size}`);
    assert.deepEqual(out, data);
    if (size > 1) assert.equal(unfsg(enc, enc.length, new Uint8Array(size - 1), size - 1), false);
    for (let cut = 1; cut < enc.length - 2; cut += Math.max(1, Math.floor(enc.length / 40))) assert.equal(unfsg(enc, cut, new Uint8Array(size), size), false);
  }
});

test('FSG 2.0: the rebuilt PE has one section holding the image, and the original entry point', () => {
  const rng = new Prng('fsg-pe');
  for (let k = 0; k < 5; k++) {
    const secs = SECTIONS(rng);
    const r = outcomeData(fsgPack(secs, 0x1000 + k * 16));
    assert.equal(r.name, 'fsg');
    assert.ok(r.data);
    const pe = parsePe(r.data).pe;
    assert.ok(pe?.optionalHeader);
    assert.equal(pe.optionalHeader.addressOfEntryPoint, 0x1000 + k * 16);
    assert.equal(pe.sections.length, 1);
    assert.equal(pe.sections[0]!.name, '.clam01');
    const { image } = upxImage(secs, 0, false);
    const raw = pe.sections[0]!.pointerToRawData;
    assert.deepEqual(r.data.subarray(raw, raw + image.length), image);
  }
});

test('FSG 1.33 and 1.31: one section per original section, sorted by address, with the original entry point', () => {
  const rng = new Prng('fsg-133');
  for (let k = 0; k < 6; k++) {
    const secs = [...SECTIONS(rng), { name: '.x', data: sample(rng, rng.int(1, 4000)) }];
    const old = k % 2 === 1;
    const r = outcomeData(old ? fsg131Pack(secs, 0x20) : fsg133Pack(secs, 0x1040, 0x400000, k === 2));
    assert.equal(r.name, 'fsg');
    assert.ok(r.data);
    const pe = parsePe(r.data).pe;
    assert.ok(pe?.optionalHeader);
    // Data above 0x1000 gets ClamAV's `empty` section in front.
    const real = pe.sections.filter((h) => h.name !== 'empty');
    assert.equal(pe.sections.length - real.length, old ? 1 : 0);
    const base = real[0]!.virtualAddress;
    assert.equal(pe.optionalHeader.addressOfEntryPoint, old ? base + 0x20 : 0x1040);
    assert.equal(real.length, secs.length);
    let rva = base;
    secs.forEach((s, i) => {
      const h = real[i]!;
      assert.equal(h.virtualAddress, rva, `section ${i} address`);
      assert.deepEqual(r.data!.subarray(h.pointerToRawData, h.pointerToRawData + s.data.length), s.data, `section ${i}`);
      rva += Math.ceil(Math.max(s.vsize ?? 0, s.data.length) / 0x1000) * 0x1000;
    });
  }
});

test('MEW: each stream becomes a 4 KiB-aligned section of the rebuilt PE', () => {
  const rng = new Prng('mew-pe');
  for (let k = 0; k < 6; k++) {
    const secs = [...SECTIONS(rng), { name: '.x', data: sample(rng, rng.int(1, 4000)) }];
    const r = outcomeData(mewPack(secs, 0x1000 + k, k % 2 ? 0x158 : 0x154));
    assert.equal(r.name, 'mew');
    assert.ok(r.data);
    const pe = parsePe(r.data).pe;
    assert.ok(pe?.optionalHeader);
    assert.equal(pe.optionalHeader.addressOfEntryPoint, 0x1000 + k);
    assert.equal(pe.sections.length, secs.length);
    // The sections split the decoded area at each stream's end (rounded up): contiguous in the file.
    const first = pe.sections[0]!.pointerToRawData;
    let off = 0;
    secs.forEach((s, i) => {
      assert.equal(pe.sections[i]!.virtualSize % 0x1000, 0);
      assert.deepEqual(r.data!.subarray(first + off, first + off + s.data.length), s.data, `section ${i}`);
      off += Math.ceil(Math.max(s.vsize ?? 0, s.data.length) / 0x1000) * 0x1000;
    });
  }
});

test('WWPack coder and PE: every section comes back at its RVA, the loader section is dropped', () => {
  const rng = new Prng('ww-pe');
  for (let k = 0; k < 5; k++) {
    const secs = SECTIONS(rng);
    if (k === 4) secs.push({ data: sample(rng, 70000) });
    const r = outcomeData(wwPack(secs, 0x1010));
    assert.equal(r.name, 'wwpack');
    assert.ok(r.data);
    const pe = parsePe(r.data).pe;
    assert.ok(pe?.optionalHeader);
    assert.equal(pe.fileHeader.numberOfSections, secs.length);
    assert.equal(pe.optionalHeader.addressOfEntryPoint, 0x1010);
    secs.forEach((s, i) => {
      const h = pe.sections[i]!;
      assert.equal(h.pointerToRawData, h.virtualAddress);
      assert.deepEqual(r.data!.subarray(h.virtualAddress, h.virtualAddress + s.data.length), s.data, `section ${i}`);
    });
  }
  // A stream cut before its end code fails.
  const data = sample(rng, 5000);
  const enc = wwEncode(data);
  assert.ok(enc.length % 4 === 0);
});

test('FSG, MEW and WWPack: limits, cut and mutated files never throw', () => {
  const rng = new Prng('fsg-ww-fuzz');
  const started = Date.now();
  for (const make of [fsgPack, fsg133Pack, fsg131Pack, wwPack, mewPack]) {
    const packed = make(SECTIONS(rng));
    const lim = unpackPe(packed, ctx(4000)).outcome;
    assert.ok(typeof lim !== 'string' && 'limit' in lim && lim.limit === 'MaxFileSize');
    for (let cut = 0; cut < packed.length; cut += 61) unpackPe(packed.subarray(0, cut), ctx());
    for (let k = 0; k < 200; k++) {
      const bad = packed.slice();
      for (let n = rng.int(1, 6); n > 0; n--) bad[rng.int(0, bad.length - 1)] = rng.int(0, 255);
      unpackPe(bad, ctx());
    }
  }
  assert.ok(Date.now() - started < 60000);
});

test('yC: random decryptors undo the encryption; header patched, loader section cut off', () => {
  const rng = new Prng('yc-pe');
  for (let k = 0; k < 12; k++) {
    const secs: UpxSection[] = [{ name: '.text', data: sample(rng, rng.int(1, 6000)) }, { name: k % 2 ? '.rsrc' : '.data', data: sample(rng, rng.int(1, 2000)) }];
    const packed = ycPack(secs, rng, 0x1000 + k);
    const r = outcomeData(packed);
    assert.equal(r.name, 'yc');
    assert.ok(r.data);
    const pe = parsePe(r.data).pe;
    assert.ok(pe?.optionalHeader);
    assert.equal(pe.fileHeader.numberOfSections, 2);
    assert.equal(pe.optionalHeader.addressOfEntryPoint, 0x1000 + k);
    assert.equal(pe.dataDirectories[1]!.virtualAddress, 0);
    secs.forEach((s, i) => {
      const at = pe.sections[i]!.pointerToRawData;
      assert.deepEqual(r.data!.subarray(at, at + s.data.length), s.data, `section ${i}`);
    });
  }
});

test('yC: cut and mutated files never throw; a decryptor reaching past the file is a BoundsCheck alert', () => {
  const rng = new Prng('yc-fuzz');
  const packed = ycPack([{ data: sample(rng, 3000) }], rng);
  // The layer is not written to, even when it is a Buffer (whose slice is a view).
  const asBuffer = Buffer.from(packed);
  assert.ok(outcomeData(asBuffer).data);
  assert.deepEqual(new Uint8Array(asBuffer), packed);
  for (let cut = 0; cut < packed.length; cut += 53) unpackPe(packed.subarray(0, cut), ctx());
  for (let k = 0; k < 300; k++) {
    const bad = packed.slice();
    for (let n = rng.int(1, 6); n > 0; n--) bad[rng.int(0, bad.length - 1)] = rng.int(0, 255);
    unpackPe(bad, ctx());
  }
});

test('PESpin: every combination of compression, XOR and decryptor comes back; resources half compressed', () => {
  const rng = new Prng('spin-pe');
  for (let k = 0; k < 8; k++) {
    const secs = [
      { data: sample(rng, rng.int(1, 6000)), compress: !!(k & 1), xor: !!(k & 2), poly: !!(k & 4) },
      { data: sample(rng, rng.int(1, 3000)), vsize: 0x3000 },
      ...(k % 3 === 0 ? [{ data: sample(rng, rng.int(600, 3000)), resourceHead: rng.int(1, 0x200) }] : []),
    ];
    const r = outcomeData(spinPack(secs, rng));
    assert.equal(r.name, 'pespin');
    assert.ok(r.data);
    const pe = parsePe(r.data).pe;
    assert.ok(pe?.optionalHeader);
    assert.equal(pe.optionalHeader.addressOfEntryPoint, 0x1000);
    assert.equal(pe.sections.length, secs.length);
    secs.forEach((s, i) => {
      const h = pe.sections[i]!;
      assert.deepEqual(r.data!.subarray(h.pointerToRawData, h.pointerToRawData + s.data.length), s.data, `case ${k} section ${i}`);
    });
  }
  // Cut and damaged loaders never throw.
  const packed = spinPack([{ data: sample(rng, 4000) }], rng);
  for (let cut = 0; cut < packed.length; cut += 211) unpackPe(packed.subarray(0, cut), ctx());
  for (let k = 0; k < 200; k++) {
    const bad = packed.slice();
    for (let n = rng.int(1, 6); n > 0; n--) bad[rng.int(0, bad.length - 1)] = rng.int(0, 255);
    unpackPe(bad, ctx());
  }
});
