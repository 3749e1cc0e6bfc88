import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Prng } from '../../../test/helpers/prng.js';
import { parsePe } from '../pe.js';
import { DEFAULT_UNPACK_OPTIONS, type UnpackContext } from '../unpack.js';
import { aspackEncode, aspackPack, buildPe, canonicalCodes, huffmanLengths } from './aspack-pack.js';
import { petiteEncode, petitePack } from './petite-pack.js';
import { nspackImage, nspackPack } from './nspack-pack.js';
import { nspackDecode } from './nspack.js';
import { unpackPe } from './index.js';

const ctx = (maxFileSize = 25 * 1024 * 1024): UnpackContext => ({ limits: { maxFileSize, maxFiles: 0, maxScanSize: 100 * 1024 * 1024 }, options: { ...DEFAULT_UNPACK_OPTIONS } });

function sample(rng: Prng, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let p = 0;
  while (p < size) {
    const kind = rng.int(0, 4);
    const n = Math.min(size - p, rng.int(1, 600));
    if (kind === 0) out.set(rng.bytes(n), p);
    else if (kind === 1) out.fill(rng.int(0, 2), p, p + n);
    else if (kind === 2) for (let i = 0; i < n; i += 5) out.set([0xe8, rng.int(0, 3), rng.int(0, 255), 0, 0].slice(0, n - i), p + i);
    else if (p > 0) {
      const from = rng.int(Math.max(0, p - 70000), p - 1);
      for (let i = 0; i < n; i++) out[p + i] = out[from + i]!;
    }
    p += n;
  }
  return out;
}

const SECTIONS = (rng: Prng): { name: string; data: Uint8Array; vsize?: number }[] => [
  { name: '.text', data: sample(rng, rng.int(1, 9000)) },
  { name: '.data', data: sample(rng, rng.int(1, 3000)), vsize: 0x4000 },
];

const outcome = (bytes: Uint8Array, c = ctx()): { name: string; data?: Uint8Array; limit?: string } => {
  const r = unpackPe(bytes, c);
  const o = r.outcome;
  if (typeof o === 'string' || 'alert' in o) return { name: r.name };
  return 'data' in o ? { name: r.name, data: o.data } : { name: r.name, limit: o.limit };
};

/** The rebuilt PE's sections hold the original data at their start, in order. */
function assertSections(data: Uint8Array, secs: readonly { data: Uint8Array }[], what: string): ReturnType<typeof parsePe>['pe'] {
  const pe = parsePe(data).pe;
  assert.ok(pe?.optionalHeader, what);
  secs.forEach((s, i) => {
    const h = pe.sections[i]!;
    assert.ok(h, `${what}: section ${i}`);
    assert.deepEqual(data.subarray(h.pointerToRawData, h.pointerToRawData + s.data.length), s.data, `${what}: section ${i}`);
  });
  return pe;
}

const HAVE_XZ = spawnSync('xz', ['--version'], { stdio: 'ignore' }).status === 0;
const xz = (data: Uint8Array, p: { lc: number; lp: number; pb: number }): Uint8Array =>
  new Uint8Array(spawnSync('xz', ['--format=raw', `--lzma1=preset=6,lc=${p.lc},lp=${p.lp},pb=${p.pb}`, '-c'], { input: data, maxBuffer: 1 << 28 }).stdout);

test('Huffman helper: complete prefix codes of at most 15 bits', () => {
  const rng = new Prng('asp-huff');
  for (let k = 0; k < 20; k++) {
    const freq = Array.from({ length: rng.int(2, 721) }, () => (rng.chance(0.5) ? 0 : rng.int(1, 1 << rng.int(0, 20))));
    const lens = huffmanLengths(freq, 15);
    assert.ok(Math.max(...lens) <= 15);
    const kraft = lens.reduce((a, l) => a + (l ? 2 ** -l : 0), 0);
    assert.equal(kraft, 1);
    const codes = canonicalCodes(lens);
    const seen = new Set(lens.map((l, s) => (l ? `${l}:${codes[s]}` : '')).filter(Boolean));
    assert.equal(seen.size, lens.filter((l) => l).length);
  }
});

test('ASPack: every version, call rewriting, rebuilt tables and low-bit codes come back; loader sections dropped', () => {
  const rng = new Prng('asp-pe');
  for (let k = 0; k < 12; k++) {
    const secs = SECTIONS(rng);
    if (k % 4 === 3) secs.push({ name: '.big', data: sample(rng, 70000) });
    const version = (['2.12', 'other', '2.42'] as const)[k % 3]!;
    const keep = k % 5 === 4;
    const packed = aspackPack(secs, 0x1000 + k * 3, {
      version, calls: k % 2 === 0, keepLoader: keep, skipRecord: k % 3 === 1,
      encode: { ...(k % 3 === 0 ? { rebuildAt: rng.int(0, 300) } : {}), delta: k % 2 === 1, lowBits: k % 4 < 2 },
    });
    const r = outcome(packed);
    assert.equal(r.name, 'aspack', `case ${k}`);
    assert.ok(r.data, `case ${k}`);
    const pe = assertSections(r.data, secs, `case ${k}`);
    assert.equal(pe!.optionalHeader!.addressOfEntryPoint, 0x1000 + k * 3);
    assert.equal(pe!.sections.length, secs.length + (keep ? 2 : 0));
  }
});

test('ASPack coder: a block whose codes are cut or changed fails or decodes differently, never throws', () => {
  const rng = new Prng('asp-cut');
  const data = sample(rng, 4000);
  const packed = aspackPack([{ data }], 0x1000);
  const enc = aspackEncode(data);
  assert.ok(enc.length < data.length);
  // Zeroing the block's table header leaves no complete code: the branch gives nothing.
  const bad = packed.slice();
  bad.fill(0, 0x400, 0x410);
  assert.equal(outcome(bad).name, '');
  const lim = outcome(packed, ctx(3000));
  assert.equal(lim.limit, 'MaxFileSize');
  for (let cut = 0; cut < packed.length; cut += 97) outcome(packed.subarray(0, cut));
  for (let k = 0; k < 300; k++) {
    const m = packed.slice();
    for (let n = rng.int(1, 6); n > 0; n--) m[rng.int(0x400, m.length - 1)] = rng.int(0, 255);
    outcome(m);
  }
});

test('Petite: 2.2 and 2.1 layouts, moved or loader-held streams, Petite code stripped and the entry point decrypted', () => {
  const rng = new Prng('pet-pe');
  for (let k = 0; k < 12; k++) {
    const secs = SECTIONS(rng);
    if (k % 4 === 3) secs.push({ name: '.big', data: sample(rng, 70000) });
    const version = k % 2 ? 1 : 2;
    const code = k % 3 === 0 ? false : { reloc: k % 3 === 2, imports: k % 4 === 1 ? [[0x1234, 0x80000002, 0x7000, 0x401000], [0x10]] : [], mangled: k % 5 < 2 };
    const packed = petitePack(secs, 0x1000 + 7 * k, { version, move: k % 4 < 2, code, resource: [0x8000, 0x40 + k] });
    const r = outcome(packed);
    assert.equal(r.name, 'petite', `case ${k}`);
    assert.ok(r.data);
    const pe = assertSections(r.data, secs, `case ${k}`);
    assert.equal(pe!.sections.length, secs.length);
    assert.equal(pe!.optionalHeader!.addressOfEntryPoint, code ? 0x1000 + 7 * k : 0, `case ${k}`);
    assert.equal(pe!.dataDirectories[2]!.size, 0x40 + k);
  }
  // Sections decoded after their section's start (the first one after a move record takes the
  // section's start and the bytes before), and an empty record.
  for (let k = 0; k < 4; k++) {
    const secs = SECTIONS(rng);
    const r = outcome(petitePack(secs, 0x1000, { move: k % 2 === 0, shift: 0x10 * (k + 1), ghost: 0x1000 + k * 0x800 }));
    assert.equal(r.name, 'petite');
    assert.ok(r.data);
    const pe = parsePe(r.data).pe!;
    assert.equal(pe.sections.length, secs.length + 1);
    for (const s of secs) assert.ok(Buffer.from(r.data).includes(Buffer.from(s.data)), `shifted case ${k}`);
  }
  // Lengths across the size classes of the distance coder.
  for (const size of [1, 2, 3, 0x10000, 0x40000 + 5]) {
    const data = sample(rng, size);
    assert.ok(petiteEncode(data).length > 0);
    const r = outcome(petitePack([{ data }]));
    assert.ok(r.data, `size ${size}`);
    assertSections(r.data, [{ data }], `size ${size}`);
  }
});

test('Petite: limits, level zero, cut and mutated files never throw', () => {
  const rng = new Prng('pet-fuzz');
  const packed = petitePack(SECTIONS(rng), 0x1000, { code: {} });
  assert.equal(outcome(packed, ctx(4000)).limit, 'MaxFileSize');
  const pe = parsePe(packed).pe!;
  const ep = pe.sections[pe.sections.length - 1]!.pointerToRawData;
  const zero = packed.slice();
  new DataView(zero.buffer).setUint32(ep + 0x80, 0x163c988d, true);
  assert.notEqual(outcome(zero).name, 'petite');
  for (let cut = 0; cut < packed.length; cut += 89) outcome(packed.subarray(0, cut));
  for (let k = 0; k < 300; k++) {
    const m = packed.slice();
    for (let n = rng.int(1, 6); n > 0; n--) m[rng.int(0x400, m.length - 1)] = rng.int(0, 255);
    outcome(m);
  }
});

test('Petite: records redoing large moves stop within a budget instead of running for hours', () => {
  // A 2 MiB section, then a loader whose records move almost all of it 60000 times (about 120 GB).
  const n = 60000;
  const loader = new Uint8Array(0x1b8 + 12 * n + 4 + 0x100).fill(0x90);
  const dv = new DataView(loader.buffer);
  const loaderRva = 0x1000 + 0x200000;
  loader[0] = 0xb8;
  dv.setUint32(1, 0x400000 + loaderRva, true);
  for (let k = 0; k < n; k++) {
    dv.setUint32(0x1b8 + 12 * k, 0x80000000 | 0x7fc00, true);
    dv.setUint32(0x1b8 + 12 * k + 4, 0x1000 + 0x1ff000 - 4, true);
    dv.setUint32(0x1b8 + 12 * k + 8, 0x1000 + 0x200000 - 4, true);
  }
  const pe = buildPe([{ name: '.big', data: new Uint8Array(0x200000), vsize: 0x200000 }, { name: '.petite', data: loader, vsize: 0x100000 }], loaderRva).bytes;
  const started = Date.now();
  assert.equal(outcome(pe).name, '');
  assert.ok(Date.now() - started < 5000);
});

test('NsPack: LZMA streams of any properties, through a jmp, after a zero dword, with an empty first section', { skip: HAVE_XZ ? false : 'xz is not installed' }, () => {
  const rng = new Prng('nsp-pe');
  for (let k = 0; k < 8; k++) {
    const secs = SECTIONS(rng);
    const props = [{ lc: 3, lp: 0, pb: 2 }, { lc: 0, lp: 2, pb: 0 }, { lc: 4, lp: 0, pb: 4 }, { lc: 1, lp: 1, pb: 1 }][k % 4]!;
    const packed = nspackPack(secs, 0x1000 + k, { compress: xz, props, jump: k % 2 === 1, zeroDword: k % 3 === 1, emptyFirst: k % 4 >= 2 });
    const r = outcome(packed);
    assert.equal(r.name, 'nspack', `case ${k}`);
    assert.ok(r.data);
    const pe = parsePe(r.data).pe!;
    assert.equal(pe.optionalHeader!.addressOfEntryPoint, 0x1000 + k);
    assert.equal(pe.sections.length, 1);
    const at = pe.sections[0]!.pointerToRawData;
    assert.deepEqual(r.data.subarray(at, at + pe.sections[0]!.sizeOfRawData), nspackImage(secs));
  }
});

test('NsPack decoder: cut streams fail, a short output stops early; limits, mutations never throw', { skip: HAVE_XZ ? false : 'xz is not installed' }, () => {
  const rng = new Prng('nsp-fuzz');
  const data = sample(rng, 6000);
  const st = xz(data, { lc: 3, lp: 0, pb: 2 });
  const out = new Uint8Array(data.length);
  assert.equal(nspackDecode(st, 0, st.length, 3, 0, 2, out), 0);
  assert.deepEqual(out, data);
  assert.notEqual(nspackDecode(st, 0, Math.floor(st.length / 2), 3, 0, 2, new Uint8Array(data.length)), 0);
  const secs = SECTIONS(rng);
  const packed = nspackPack(secs, 0x1000, { compress: xz });
  assert.equal(outcome(packed, ctx(4000)).limit, 'MaxFileSize');
  for (let cut = 0; cut < packed.length; cut += 73) outcome(packed.subarray(0, cut));
  for (let k = 0; k < 300; k++) {
    const m = packed.slice();
    for (let n = rng.int(1, 6); n > 0; n--) m[rng.int(0x400, m.length - 1)] = rng.int(0, 255);
    outcome(m);
  }
});
