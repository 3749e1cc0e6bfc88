import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../test/helpers/prng.js';
import { parsePe } from '../pe.js';
import { lzmaDecode } from '../compress/lzma.js';
import { DEFAULT_UNPACK_OPTIONS, type UnpackContext } from '../unpack.js';
import { lzmaEncode, mewPack, mewPackLzma, standardLayout } from './mew-pack.js';
import { upackPack, type UpackForm } from './upack-pack.js';
import type { UpxSection } from './upx-pack.js';
import { unpackPe } from './index.js';

const ctx = (maxFileSize = 25 * 1024 * 1024): UnpackContext => ({ limits: { maxFileSize, maxFiles: 0, maxScanSize: 100 * 1024 * 1024 }, options: { ...DEFAULT_UNPACK_OPTIONS } });

/** Data with runs, repeats near and far, random stretches and x86-like `call`/`jmp` bytes. */
function sample(rng: Prng, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let p = 0;
  while (p < size) {
    const kind = rng.int(0, 4);
    const n = Math.min(size - p, rng.int(1, 400));
    if (kind === 0) out.set(rng.bytes(n), p);
    else if (kind === 1) out.fill(rng.int(0, 2), p, p + n);
    else if (kind === 2 && p + 5 <= size) {
      out[p] = rng.pick([0xe8, 0xe9]);
      const rel = rng.chance(0.8) ? rng.int(-p, 0x4000) : rng.int(-0x7fffffff, 0x7fffffff);
      new DataView(out.buffer).setInt32(p + 1, rel, true);
      p += 5;
      continue;
    } else if (p > 0) {
      const from = rng.int(Math.max(0, p - 40000), p - 1);
      for (let i = 0; i < n; i++) out[p + i] = out[from + i]!;
    }
    p += n;
  }
  return out;
}

const sections = (rng: Prng): UpxSection[] => [
  { name: '.text', data: sample(rng, rng.int(1, 9000)) },
  { name: '.data', data: sample(rng, rng.int(1, 3000)), vsize: 0x4000 },
  ...(rng.chance(0.5) ? [{ name: '.rsrc', data: sample(rng, rng.int(1, 2000)) }] : []),
];

const unpacked = (bytes: Uint8Array, c = ctx()): { name: string; data?: Uint8Array; limit?: string } => {
  const r = unpackPe(bytes, c);
  const o = r.outcome;
  if (typeof o === 'string' || 'alert' in o) return { name: r.name };
  return 'data' in o ? { name: r.name, data: o.data } : { name: r.name, limit: o.limit };
};

/** Where each section sits in the image: RVA 0x1000 on, 4 KiB apart. */
function offsets(secs: readonly UpxSection[]): number[] {
  const at: number[] = [];
  let span = 0;
  for (const s of secs) {
    at.push(span);
    span += Math.ceil(Math.max(s.vsize ?? 0, s.data.length, 1) / 0x1000) * 0x1000;
  }
  return at;
}

/** The rebuilt PE's one section's bytes and its entry point. */
function imageOf(pe: Uint8Array): { body: Uint8Array; entry: number } {
  const p = parsePe(pe).pe;
  assert.ok(p?.optionalHeader, 'the output is a PE');
  const s = p.sections[0]!;
  return { body: pe.subarray(s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData), entry: p.optionalHeader.addressOfEntryPoint };
}

test('LZMA encoder: streams decode back with the standard decoder (lc/pb variants, end markers)', () => {
  const rng = new Prng('mew-upack-enc');
  for (let k = 0; k < 24; k++) {
    const data = sample(rng, rng.int(1, 20000));
    const [lc, pb] = rng.pick([[3, 2], [4, 2], [0, 0], [8, 0]] as const);
    const end = rng.chance(0.5);
    const enc = lzmaEncode(data, standardLayout(lc, pb), end);
    const props = Uint8Array.from([lc + 9 * 5 * pb, 0, 0, 0x10, 0]);
    const r = lzmaDecode(props, enc, data.length + 16, end ? undefined : data.length);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.data, data);
  }
});

test('MEW LZMA: both forms, both loader places: one section holding the image, the original entry point', () => {
  const rng = new Prng('mew-lzma-pe');
  for (let k = 0; k < 16; k++) {
    const secs = sections(rng);
    const special = k % 2 === 1;
    const entry = 0x1000 + rng.int(0, 0x800);
    const r = unpacked(mewPackLzma(secs, entry, k % 4 < 2 ? 0x154 : 0x158, special));
    assert.equal(r.name, 'mew');
    assert.ok(r.data);
    const { body, entry: ep } = imageOf(r.data);
    assert.equal(ep, entry);
    offsets(secs).forEach((at, i) => assert.deepEqual(body.subarray(at, at + secs[i]!.data.length), secs[i]!.data, `section ${i} (special ${special})`));
  }
});

test('MEW: the aPLib form is unchanged next to the LZMA one', () => {
  const rng = new Prng('mew-aplib-still');
  const secs = sections(rng);
  const r = unpacked(mewPack(secs, 0x1000));
  assert.equal(r.name, 'mew');
  assert.ok(r.data);
  const p = parsePe(r.data).pe!;
  assert.equal(p.sections.length, secs.length, 'one section per stream');
});

test('MEW LZMA: a call outside the second section, a cut block or a damaged stream: no image', () => {
  const rng = new Prng('mew-lzma-bad');
  const secs = sections(rng);
  const good = mewPackLzma(secs, 0x1000, 0x154, false);
  // The call's target moved past the packed section: ClamAV goes on to the next unpacker.
  const far = good.slice();
  new DataView(far.buffer).setUint32(0x154 + 0x7c, 0x7ffff000, true);
  assert.equal(unpacked(far).name, '');
  // Section 1's raw data cut short: the first block runs off the buffer's data (zeros) or fails.
  const cut = good.slice(0, good.length - 0x100);
  assert.doesNotThrow(() => unpacked(cut));
});

const FORMS: UpackForm[] = ['three', 'three0151477', 'three0297729', 'two', 'v11'];

test('Upack: every form, literal context and call fix-up: the image comes back at 0x1000', () => {
  const rng = new Prng('upack-pe');
  for (let k = 0; k < 20; k++) {
    const secs = sections(rng);
    const form = FORMS[k % FORMS.length]!;
    const lc = rng.int(0, 6);
    const calls = rng.chance(0.6);
    const entry = 0x1000 + rng.int(0, 0x800);
    const r = unpacked(upackPack(secs, entry, { form, lc, calls }));
    assert.equal(r.name, 'upack', `${form} lc ${lc}`);
    assert.ok(r.data);
    const { body, entry: ep } = imageOf(r.data);
    // The three-section forms' entry point is relative to the first section (ClamAV's reading);
    // 0297729's rebuilt section starts a page before the image.
    assert.equal(ep, form.startsWith('three') ? entry - 0x1000 : entry);
    const skip = form === 'three0297729' ? 0x1000 : 0;
    offsets(secs).forEach((at, i) => assert.deepEqual(body.subarray(skip + at, skip + at + secs[i]!.data.length), secs[i]!.data, `${form} lc ${lc} calls ${calls} section ${i}`));
  }
});

test('Upack: loader bytes ClamAV checks, when wrong, send the file on to the next unpacker', () => {
  const rng = new Prng('upack-bad');
  const secs = sections(rng);
  const three = upackPack(secs, 0x1000, { form: 'three' });
  const shr = three.slice();
  shr[0x400 + 0x5a] = 9; // context bits out of range
  assert.equal(unpacked(shr).name, '');
  const jmp = three.slice();
  jmp[0x400 + 0xa] = 0x90; // no short jump at entry + 0xa
  assert.equal(unpacked(jmp).name, '');
  const two = upackPack(secs, 0x1000, { form: 'two' });
  const ctxb = two.slice();
  const ep = parsePe(two).pe!.optionalHeader!.addressOfEntryPoint;
  const epRaw = ep - parsePe(two).pe!.sections[1]!.virtualAddress + 0x200;
  ctxb[epRaw + 0x5f] = 7; // 8 - 7 = 1 context shift: out of range
  assert.equal(unpacked(ctxb).name, '');
});

test('MEW LZMA and Upack: MaxFileSize below the sections stops with a limit', () => {
  const rng = new Prng('mew-upack-limit');
  const secs = sections(rng);
  const mew = unpacked(mewPackLzma(secs, 0x1000), ctx(0x2000));
  assert.equal(mew.limit, 'MaxFileSize');
  for (const form of FORMS) {
    const r = unpacked(upackPack(secs, 0x1000, { form }), ctx(0x3000));
    assert.equal(r.limit, 'MaxFileSize', form);
  }
});

test('MEW LZMA and Upack: cut and mutated files never throw and finish quickly', () => {
  const rng = new Prng('mew-upack-fuzz');
  const started = Date.now();
  let images = 0;
  for (let k = 0; k < 12; k++) {
    const secs = [{ data: sample(rng, rng.int(1, 3000)) }];
    const packed = k % 4 === 0 ? mewPackLzma(secs, 0x1000, 0x154, k % 8 === 4) : upackPack(secs, 0x1000, { form: FORMS[k % FORMS.length]!, calls: true, lc: rng.int(0, 6) });
    for (let cut = 0x100; cut < packed.length; cut += Math.max(1, Math.floor(packed.length / 40))) {
      assert.doesNotThrow(() => unpacked(packed.subarray(0, cut)));
    }
    for (let m = 0; m < 150; m++) {
      const bad = packed.slice();
      for (let n = rng.int(1, 4); n > 0; n--) bad[rng.int(0, bad.length - 1)] = rng.int(0, 255);
      let r: ReturnType<typeof unpacked> | undefined;
      assert.doesNotThrow(() => { r = unpacked(bad); });
      if (r?.data) images++;
    }
  }
  assert.ok(images > 0, 'some mutated files still unpack');
  assert.ok(Date.now() - started < 60000, 'bounded time');
});
