/**
 * Tests for the cabinet reader and its decoders: cabinets made by gcab (stored and MSZIP) and by
 * `samples.ts` (stored, MSZIP, LZX verbatim / aligned / uncompressed blocks, windows 2^15..2^21,
 * Quantum, several folders, reserved areas), cross-checked with cabextract when it is installed; damage as
 * libmspack's salvage mode treats it; limits; truncation and mutation loops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../../test/helpers/prng.js';
import { DEFAULT_UNPACK_OPTIONS, isChild, type ChildLayer, type UnpackContext, type UnpackItem } from '../unpack.js';
import { readCabinet, unpackCab, unpackCabSfx } from './cab.js';
import { SliceSource } from './input.js';
import { Huffman } from './huffman.js';
import { LzxDecoder } from './lzx.js';
import { buildCab, lzxCompress, type CabSampleFile, type LzxBlockType } from './samples.js';

const ctx = (maxFileSize = 64 << 20, maxScanSize = 256 << 20): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 0, maxScanSize },
  options: { ...DEFAULT_UNPACK_OPTIONS },
});
const all = (b: Uint8Array, c = ctx()): UnpackItem[] => [...unpackCab(b, c)];
const children = (b: Uint8Array, c = ctx()): ChildLayer[] => all(b, c).filter(isChild);
const have = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

const rng = new Prng('cabinet-tests');
const text = Buffer.from(Array.from({ length: 4000 }, (_, i) => `line ${i}: ${(i * 7919) % 1000} kestrel\n`).join(''));
const noise = Buffer.from(rng.bytes(70000));
const FILES: CabSampleFile[] = [
  { name: 'text.txt', data: text },
  { name: 'noise.bin', data: noise },
  { name: 'dir\\part.txt', data: text.subarray(500, 45000) },
  { name: 'empty', data: new Uint8Array(0) },
];

function assertSame(got: ChildLayer[], want: CabSampleFile[]): void {
  assert.deepEqual(got.map((c) => c.name), want.map((f) => f.name));
  got.forEach((c, i) => assert.ok(Buffer.from(c.data).equals(Buffer.from(want[i]!.data)), `content of ${c.name}`));
}

function cabextract(bytes: Uint8Array): Map<string, Buffer> | undefined {
  if (!have('cabextract')) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cab-'));
  try {
    writeFileSync(join(dir, 'x.cab'), bytes);
    mkdirSync(join(dir, 'out'));
    const r = spawnSync('cabextract', ['-q', '-d', join(dir, 'out'), join(dir, 'x.cab')]);
    assert.equal(r.status, 0, r.stderr.toString());
    const out = new Map<string, Buffer>();
    const list = spawnSync('sh', ['-c', `cd ${join(dir, 'out')} && find . -type f`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (const f of list) out.set(f.slice(2), readFileSync(join(dir, 'out', f)));
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('gcab cabinets (stored and MSZIP) give their files', (t) => {
  if (!have('gcab')) { t.skip('gcab is not installed'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'vigil-gcab-'));
  try {
    writeFileSync(join(dir, 'a.txt'), text);
    writeFileSync(join(dir, 'b.bin'), noise);
    writeFileSync(join(dir, 'c.txt'), 'short\n');
    for (const z of [[], ['-z']]) {
      const cab = join(dir, `x${z.length}.cab`);
      const r = spawnSync('gcab', ['-c', ...z, cab, 'a.txt', 'b.bin', 'c.txt'], { cwd: dir });
      assert.equal(r.status, 0, r.stderr.toString());
      const bytes = readFileSync(cab);
      const info = readCabinet(bytes);
      assert.equal(info?.folders[0]?.compType, z.length ? 1 : 0);
      assertSame(children(bytes), [{ name: 'a.txt', data: text }, { name: 'b.bin', data: noise }, { name: 'c.txt', data: Buffer.from('short\n') }]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stored, MSZIP and LZX folders; cabextract agrees', () => {
  const layouts: Array<{ comp: 'none' | 'mszip' | 'lzx'; windowBits?: number; blocks?: LzxBlockType[] }> = [
    { comp: 'none' }, { comp: 'mszip' },
    { comp: 'lzx', windowBits: 15 }, { comp: 'lzx', windowBits: 16, blocks: ['aligned'] },
    { comp: 'lzx', windowBits: 17, blocks: ['uncompressed'] }, { comp: 'lzx', windowBits: 21, blocks: ['verbatim', 'uncompressed', 'aligned'] },
  ];
  for (const folder of layouts) {
    const bytes = buildCab(FILES.slice(0, 3), { folders: [folder] });
    assertSame(children(bytes), FILES.slice(0, 3));
    const ce = cabextract(bytes);
    if (ce) for (const f of FILES.slice(0, 3)) assert.ok(ce.get(f.name.replace(/\\/g, '/'))?.equals(Buffer.from(f.data)), `cabextract ${folder.comp} ${f.name}`);
  }
});

test('several folders with different methods, reserved areas, no checksums', () => {
  const files: CabSampleFile[] = [
    { name: 'a', data: text, folder: 2 }, { name: 'b', data: noise, folder: 0 }, { name: 'c', data: text.subarray(7), folder: 1 },
    { name: 'd', data: noise.subarray(3, 9000), folder: 0 }, { name: 'e', data: new Uint8Array(0), folder: 1 },
  ];
  const bytes = buildCab(files, {
    folders: [{ comp: 'lzx', windowBits: 18 }, { comp: 'none' }, { comp: 'mszip' }],
    reserve: { header: 20, folder: 3, data: 5 }, checksums: false,
  });
  assertSame(children(bytes), files);
  const info = readCabinet(bytes)!;
  assert.equal(info.blockResv, 5);
  assert.equal(info.folders.length, 3);
});

test('bad block checksums are tolerated', () => {
  const bytes = Buffer.from(buildCab(FILES.slice(0, 2), { folders: [{ comp: 'none' }] }));
  const first = readCabinet(bytes)!.folders[0]!.dataOffset;
  bytes.writeUInt32LE(0xdeadbeef, first);
  assertSame(children(bytes), FILES.slice(0, 2));
});

test('files listed out of order restart their folder', () => {
  // A later entry pointing back at offset 0 of the folder.
  const dup = Buffer.from(buildCab([{ name: 'x', data: text }, { name: 'y', data: noise }], { folders: [{ comp: 'mszip' }] }));
  const yEntry = dup.indexOf(Buffer.from('y\0')) - 16;
  dup.writeUInt32LE(0, yEntry + 4); // y now starts at the beginning of the folder
  dup.writeUInt32LE(text.length, yEntry);
  const c = children(dup);
  assert.deepEqual(c.map((x) => Buffer.from(x.data).equals(text)), [true, true]);
});

test('names: UTF-8 when attribute 0x80 says so', () => {
  const bytes = Buffer.from(buildCab([{ name: 'caf\u00e9.txt', data: text.subarray(0, 10) }], { folders: [{ comp: 'none' }] }));
  assert.equal(children(bytes)[0]?.name, 'caf\u00c3\u00a9.txt');
  const at = bytes.indexOf(Buffer.from('caf')) - 2;
  bytes.writeUInt16LE(0xa0, at);
  assert.equal(children(bytes)[0]?.name, 'caf\u00e9.txt');
});

test('files without a usable folder or name are left out; none usable gives nothing', () => {
  const bytes = Buffer.from(buildCab(FILES.slice(0, 2), { folders: [{ comp: 'none' }] }));
  const second = bytes.indexOf(Buffer.from('noise.bin\0')) - 16;
  bytes.writeUInt16LE(7, second + 8); // folder index out of range
  assert.deepEqual(children(bytes).map((c) => c.name), ['text.txt']);
  const first = bytes.indexOf(Buffer.from('text.txt\0')) - 16;
  bytes.writeUInt16LE(9, first + 8);
  assert.equal(all(bytes).length, 0);
  // A file continued from a previous cabinet: its folder cannot be extracted, nothing is scanned.
  const cont = Buffer.from(buildCab(FILES.slice(0, 2), { folders: [{ comp: 'none' }] }));
  cont.writeUInt16LE(0xfffd, cont.indexOf(Buffer.from('noise.bin\0')) - 8);
  assert.deepEqual(children(cont).map((c) => c.name), []);
});

test('unknown methods and out-of-range windows give no child', () => {
  for (const ct of [7, 2 | (9 << 8), 2 | (22 << 8), 3 | (14 << 8), 3 | (22 << 8)]) {
    const bytes = Buffer.from(buildCab(FILES.slice(0, 1), { folders: [{ comp: 'none' }] }));
    bytes.writeUInt16LE(ct, 36 + 6);
    assert.equal(children(bytes).length, 0, `type ${ct.toString(16)}`);
  }
});

test('Quantum folders, windows 2^10..2^21; cabextract agrees', () => {
  for (const wb of [10, 13, 16, 21]) {
    const bytes = buildCab(FILES.slice(0, 3), { folders: [{ comp: 'quantum', windowBits: wb }] });
    assert.equal(readCabinet(bytes)!.folders[0]!.compType, 2 | (wb << 8));
    assertSame(children(bytes), FILES.slice(0, 3));
    const ce = cabextract(bytes);
    if (ce) for (const f of FILES.slice(0, 3)) assert.ok(ce.get(f.name.replace(/\\/g, '/'))?.equals(Buffer.from(f.data)), `cabextract quantum ${wb} ${f.name}`);
  }
});

test('a damaged MSZIP frame is padded with zeros to 32 KiB and decoding resumes at the next frame', () => {
  // Random bytes: no match of a later frame reaches into the damaged one.
  const data = Buffer.concat([noise, noise.subarray(0, 30000)]);
  const bytes = Buffer.from(buildCab([{ name: 'x', data }], { folders: [{ comp: 'mszip' }] }));
  const first = readCabinet(bytes)!.folders[0]!.dataOffset;
  // Break the first frame's deflate data (block type 3 after "CK").
  bytes[first + 8 + 2] = 0x07;
  const [c] = children(bytes);
  assert.ok(c);
  assert.equal(c.data.length, data.length);
  assert.ok(Buffer.from(c.data.subarray(0, 32768)).equals(Buffer.alloc(32768)));
  assert.ok(Buffer.from(c.data.subarray(32768)).equals(data.subarray(32768)));
});

test('a truncated cabinet gives the data blocks that could be read whole', () => {
  const bytes = buildCab([{ name: 'x', data: noise }], { folders: [{ comp: 'none' }] });
  // Blocks of 32768, 32768 and 4464 bytes: a cut inside the second keeps the first only.
  const [c] = children(bytes.subarray(0, bytes.length - 10000));
  assert.equal(c?.data.length, 32768);
  assert.ok(Buffer.from(c.data).equals(noise.subarray(0, 32768)));
  const [d] = children(bytes.subarray(0, bytes.length - 1));
  assert.equal(d?.data.length, 65536);
});

test('output past MaxFileSize is cut there (the file is still scanned)', () => {
  for (const comp of ['none', 'mszip', 'lzx', 'quantum'] as const) {
    const [c] = children(buildCab([{ name: 'x', data: noise }], { folders: [{ comp }] }), ctx(5000));
    assert.equal(c?.data.length, 5000);
    assert.ok(Buffer.from(c.data).equals(noise.subarray(0, 5000)));
  }
});

test('a bomb is bounded by MaxFileSize; skipping to a far file is bounded work', () => {
  // Zeros: the second MSZIP block (32 KiB of zeros after 32 KiB of zeros) repeated 2000 times.
  const N = 2000;
  const base = Buffer.from(buildCab([{ name: 'a', data: new Uint8Array(65536) }, { name: 'b', data: new Uint8Array(10) }], { folders: [{ comp: 'mszip' }], checksums: false }));
  const info = readCabinet(base)!;
  const d0 = info.folders[0]!.dataOffset;
  const b1 = base.subarray(d0, d0 + 8 + base.readUInt16LE(d0 + 4));
  const b2 = base.subarray(d0 + b1.length, d0 + b1.length + 8 + base.readUInt16LE(d0 + b1.length + 4));
  const b3 = base.subarray(d0 + b1.length + b2.length);
  const head = Buffer.from(base.subarray(0, d0));
  head.writeUInt16LE(N + 2, 36 + 4);
  const aEntry = head.indexOf(Buffer.from('a\0')) - 16;
  head.writeUInt32LE(32768 * (N + 1), aEntry);
  head.writeUInt32LE(32768 * (N + 1), aEntry + 16 + 2 + 4);
  const bytes = Buffer.concat([head, b1, ...new Array<Buffer>(N).fill(Buffer.from(b2)), b3]);
  assert.ok(bytes.length < 200000);
  const start = Date.now();
  const items = all(bytes, ctx(1 << 20, 8 << 20));
  assert.ok(Date.now() - start < 20000);
  assert.equal((items[0] as ChildLayer).data.length, 1 << 20);
  // ClamAV decodes the 64 MiB in between to reach the far file (MaxScanSize counts what is kept, not what is decoded).
  assert.deepEqual((items[1] as ChildLayer).data, new Uint8Array(10));
  // What is kept of each file is what is left of the scan size.
  const spent: UnpackContext = { ...ctx(1 << 20, 8 << 20), scannedSize: () => (8 << 20) - 1000 };
  const kept = all(bytes, spent);
  assert.equal((kept[0] as ChildLayer).data.length, 1000);
});

test('a cabinet inside another layer (CABSFX) is read from its offset', () => {
  const cab = buildCab(FILES.slice(0, 2), { folders: [{ comp: 'mszip' }] });
  const prefix = Buffer.from(rng.bytes(3000));
  const sfx = Buffer.concat([prefix, cab, Buffer.from('trailer')]);
  const got = [...unpackCabSfx(sfx, prefix.length, ctx())].filter(isChild);
  assertSame(got, FILES.slice(0, 2));
  assert.equal([...unpackCabSfx(sfx, sfx.length + 5, ctx())].length, 0);
});

test('LZX: window sizes 2^15..2^21 round-trip; matches reaching before the stream fail', () => {
  const data = Buffer.concat([text, noise, text]);
  for (let wb = 15; wb <= 21; wb++) {
    const frames = lzxCompress(data, { windowBits: wb, blocks: ['verbatim', 'aligned'] });
    const src = new SliceSource(Buffer.concat(frames), 0);
    const d = new LzxDecoder(src, wb, 0, data.length);
    const out: Buffer[] = [];
    assert.equal(d.decompress(data.length, (b, s, e) => out.push(Buffer.from(b.subarray(s, e)))), 0);
    assert.ok(Buffer.concat(out).equals(data), `window ${wb}`);
  }
  // Garbage as LZX: an error, never an exception, and later calls fail too.
  const d = new LzxDecoder(new SliceSource(rng.bytes(5000), 0), 16, 0, 0);
  let n = 0;
  const first = d.decompress(100000, (_b, s, e) => { n += e - s; });
  assert.notEqual(first, 0);
  assert.notEqual(d.decompress(10, () => undefined), 0);
  assert.ok(n <= 100000);
});

test('truncation at many points: no exception, children are prefixes or zero-padded frames', () => {
  for (const comp of ['none', 'mszip', 'lzx', 'quantum'] as const) {
    const bytes = buildCab(FILES.slice(0, 3), { folders: [{ comp }] });
    for (let cut = 0; cut < bytes.length; cut += comp === 'none' ? 997 : 331) {
      const got = children(bytes.subarray(0, cut));
      for (const c of got) {
        const want = FILES.find((f) => f.name === c.name)!.data;
        assert.ok(c.data.length <= want.length, `${comp} cut ${cut}: ${c.name}`);
        if (comp === 'none' || comp === 'lzx') assert.ok(Buffer.from(c.data).equals(Buffer.from(want).subarray(0, c.data.length)), `${comp} cut ${cut}: ${c.name} is a prefix`);
      }
    }
  }
});

test('400 random mutations: no exception, bounded output and time', () => {
  const bases = (['none', 'mszip', 'lzx', 'quantum'] as const).map((comp) => buildCab(FILES, { folders: [{ comp, windowBits: 15 }] }));
  const start = Date.now();
  for (let i = 0; i < 400; i++) {
    const b = Buffer.from(bases[i % 4]!);
    for (let k = rng.int(1, 12); k > 0; k--) {
      const p = rng.chance(0.5) ? rng.int(0, Math.min(b.length, 300) - 1) : rng.int(0, b.length - 1);
      b[p] = rng.int(0, 255);
    }
    for (const c of children(b, ctx(200000))) assert.ok(c.data.length <= 200000);
  }
  assert.ok(Date.now() - start < 60000, 'mutations took too long');
});

test("Huffman tables: libmspack's acceptance rule", () => {
  const make = (lens: number[], acceptBits: number, msb = true): Huffman => {
    const h = new Huffman(lens.length, 6, msb, acceptBits);
    h.lens.set(lens);
    return h;
  };
  // Short codes filling the space: a longer code beside them is ignored, never decoded.
  const full = make([1, 1, 13], 12);
  assert.equal(full.build(3), true);
  for (const bits of [0x0000, 0x7fff, 0x8000, 0xffff]) assert.ok((full.decode(bits) & 0xffff) < 2);
  // The same code with the long code inside the table's reach oversubscribes it.
  assert.equal(make([1, 1, 5], 6).build(3), false);
  // Short codes not filling the space: all codes must fill it exactly.
  assert.equal(make([1, 2, 13], 12).build(3), false);
  assert.equal(make([1, 2, 3, 3], 12).build(4), true);
  assert.equal(make([0, 0, 0], 12).build(3), false);
  // Long codes decoded past the direct table, both bit orders.
  const lens = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10];
  for (const msb of [true, false]) {
    const h = make(lens, 12, msb);
    assert.equal(h.build(lens.length), true);
    // The canonical code of symbol 10 is ten 1-bits.
    const bits = msb ? 0xffc0 : 0x03ff;
    assert.equal(h.decode(bits), 10 | (10 << 16));
  }
});
