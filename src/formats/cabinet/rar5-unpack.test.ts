/**
 * Tests for the RAR 5 decoder: archives written by the test encoder (literals, matches, repeat
 * distances, several blocks with and without new tables, solid runs, DELTA/E8/E8E9/ARM filters)
 * are first extracted by bsdtar (libarchive's independent reader) to prove the samples valid, then
 * decoded here; the output bound, the window cap, damaged block headers, truncation at many points
 * and random mutations (no throw, bounded output).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../../test/helpers/prng.js';
import { DEFAULT_UNPACK_OPTIONS, isChild, type UnpackContext } from '../unpack.js';
import { listRar, unpackRar } from './rar.js';
import { encodeRar5, type Rar5EncodeFile } from './rar5-encode.js';
import { createRar5Unpacker } from './rar5-unpack.js';

const have = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const ctx = (maxFileSize = 64 << 20): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 0, maxScanSize: 256 << 20 },
  options: DEFAULT_UNPACK_OPTIONS,
});

const rng = new Prng('rar5-unpack-tests');
/** Text with repeated records: long and short matches, the same distances again and again. */
function records(n: number): Uint8Array {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`rec ${i % 37};${'x'.repeat(i % 11)};${(i * 7919) % 1000};${i % 3 === 0 ? 'alpha' : 'beta'}\n`);
  return Buffer.from(lines.join(''));
}
/** x86-like bytes with many E8/E9 calls whose targets are absolute after the forward filter. */
function x86(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i % 23 === 0 ? 0xe8 : i % 29 === 0 ? 0xe9 : (i * 13 + (i >> 7)) & 0xff;
  return b;
}
function arm(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i % 4 === 3 ? (i % 8 === 3 ? 0xeb : 0x12) : (i * 7) & 0xff;
  return b;
}
function wave(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (Math.round(100 * Math.sin(i / 9)) + (i % 3) * 40) & 0xff;
  return b;
}

const FILES: Rar5EncodeFile[] = [
  { name: 'dir/records.txt', data: records(3000) },
  { name: 'random.bin', data: rng.bytes(9000) },
  { name: 'empty.txt', data: new Uint8Array(0) },
  { name: 'e8.exe', data: x86(40000), filters: [{ kind: 'e8', start: 64, length: 30000 }] },
  { name: 'e8e9.exe', data: x86(20000), filters: [{ kind: 'e8e9', start: 0, length: 8000 }, { kind: 'e8e9', start: 9000, length: 11000 }] },
  { name: 'arm.bin', data: arm(12000), filters: [{ kind: 'arm', start: 4, length: 11000 }] },
  { name: 'delta.wav', data: wave(20000), filters: [{ kind: 'delta', start: 10, length: 19000, channels: 3 }] },
  { name: 'more.txt', data: records(1500) },
];
const byName = new Map(FILES.map((f) => [f.name, f.data]));

const extract = (archive: Uint8Array, c = ctx()): { name: string; data: Uint8Array }[] =>
  [...unpackRar(archive, c)].filter(isChild).map((x) => ({ name: x.name, data: x.data }));

for (const solid of [false, true]) {
  for (const blockTokens of [300, 5000]) {
    const archive = encodeRar5(FILES, { solid, blockTokens });

    test(`RAR 5 (${solid ? 'solid' : 'not solid'}, ${blockTokens} symbols a block): bsdtar extracts the inputs exactly`, (t) => {
      if (!have('bsdtar')) { t.skip('bsdtar (libarchive-tools) is not installed'); return; }
      const dir = mkdtempSync(join(tmpdir(), 'vigil-rar5-'));
      try {
        writeFileSync(join(dir, 'a.rar'), archive);
        // (-xf into a directory: bsdtar -xOf misreports empty stored entries.)
        const r = spawnSync('bsdtar', ['-xf', join(dir, 'a.rar'), '-C', dir]);
        assert.equal(r.status, 0, `bsdtar: ${r.stderr?.toString()}`);
        for (const f of FILES) assert.ok(readFileSync(join(dir, f.name)).equals(Buffer.from(f.data)), `bsdtar output of ${f.name}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test(`RAR 5 (${solid ? 'solid' : 'not solid'}, ${blockTokens} symbols a block): every entry decodes to its input`, () => {
      const l = listRar(archive)!;
      assert.equal(l.solidArchive, solid);
      assert.deepEqual(l.entries.map((e) => e.solid), FILES.map((f, i) => solid && i > 0 && f.data.length > 0));
      const got = extract(archive);
      assert.deepEqual(got.map((g) => g.name), FILES.map((f) => f.name.slice(f.name.lastIndexOf('/') + 1)));
      for (const [i, g] of got.entries()) assert.ok(Buffer.from(g.data).equals(Buffer.from(FILES[i]!.data)), g.name);
    });
  }
}

test('RAR 5: maxOut keeps a prefix, and a solid successor still decodes', () => {
  const archive = encodeRar5(FILES, { solid: true, blockTokens: 700 });
  const l = listRar(archive)!;
  const u = createRar5Unpacker();
  for (const [i, e] of l.entries.entries()) {
    if (e.stored) continue;
    const packed = archive.subarray(e.dataOffset, e.dataOffset + e.packedSize);
    const want = byName.get(e.name)!;
    const maxOut = i % 2 === 0 ? 100 : 1 << 20;
    const r = u.unpack(packed, e.unpackedSize, e.solid, e.dictSize, maxOut);
    assert.equal(r.ok, true, `${e.name}: ${r.error}`);
    assert.ok(Buffer.from(r.data).equals(Buffer.from(want.subarray(0, Math.min(maxOut, want.length)))), e.name);
  }
});

test('RAR 5: a solid entry after a failed one is refused; a non-solid one starts afresh', () => {
  const archive = encodeRar5(FILES.slice(0, 2), { solid: true });
  const [a, b] = listRar(archive)!.entries;
  const u = createRar5Unpacker();
  const bad = Uint8Array.from(archive.subarray(a!.dataOffset, a!.dataOffset + a!.packedSize));
  bad[1] = bad[1]! ^ 0xff; // block header check byte
  const r1 = u.unpack(bad, a!.unpackedSize, false, a!.dictSize, 1 << 20);
  assert.equal(r1.ok, false);
  assert.match(r1.error!, /checksum/);
  const r2 = u.unpack(archive.subarray(b!.dataOffset, b!.dataOffset + b!.packedSize), b!.unpackedSize, true, b!.dictSize, 1 << 20);
  assert.equal(r2.ok, false);
  assert.equal(r2.data.length, 0);
  const r3 = u.unpack(archive.subarray(a!.dataOffset, a!.dataOffset + a!.packedSize), a!.unpackedSize, false, a!.dictSize, 1 << 20);
  assert.equal(r3.ok, true, r3.error);
});

test('RAR 5: the window is sized by the data, not by the declared dictionary', () => {
  const archive = encodeRar5([{ name: 'a', data: records(200) }], { dictBits: 15 });
  const e = listRar(archive)!.entries[0]!;
  assert.equal(e.dictSize, 0x20000 * 2 ** 15);
  const u = createRar5Unpacker();
  const r = u.unpack(archive.subarray(e.dataOffset, e.dataOffset + e.packedSize), e.unpackedSize, false, e.dictSize, 1 << 20);
  assert.equal(r.ok, true);
  assert.equal(u.windowSize(), 1 << 18);
  // A lying unpacked size does not allocate beyond the dictionary either (and nothing beyond maxOut is kept).
  const r2 = u.unpack(archive.subarray(e.dataOffset, e.dataOffset + e.packedSize), 2 ** 40, false, 1 << 20, 1000);
  assert.equal(r2.ok, false);
  assert.equal(r2.data.length, 1000);
  assert.equal(u.windowSize(), 1 << 20);
});

test('RAR 5: the window grows while an entry goes past it, keeping what distances reach', () => {
  // 17 MiB between two copies of a random block: the second copy is a match 17 MiB back, beyond
  // the 16 MiB the window starts with.
  const r = Buffer.from(rng.bytes(100000));
  const unit = Buffer.from(Array.from({ length: 262144 }, (_, i) => String.fromCharCode(97 + ((i * 7919) % 26))).join(''));
  const data = Buffer.concat([r, ...Array.from({ length: 68 }, () => unit), r]);
  const archive = encodeRar5([{ name: 'g', data }], { dictBits: 8 });
  const e = listRar(archive)!.entries[0]!;
  assert.ok(e.packedSize < 150000, 'the second copy is a long-distance match');
  const u = createRar5Unpacker();
  const out = u.unpack(archive.subarray(e.dataOffset, e.dataOffset + e.packedSize), e.unpackedSize, false, e.dictSize, 1 << 30);
  assert.equal(out.ok, true, out.error);
  assert.equal(u.windowSize(), 32 << 20);
  assert.ok(Buffer.from(out.data).equals(data));
});

test('RAR 5: compression version 1 (RAR 7) is not decoded, as by the UnRAR of ClamAV 1.4', () => {
  const archive = encodeRar5([{ name: 'a', data: records(50) }, { name: 'b', data: records(60), stored: true }], { version: 1 });
  assert.deepEqual(listRar(archive)!.entries.map((e) => e.unpVer), [1, 1]);
  assert.deepEqual(extract(archive).map((c) => c.name), ['b']);
});

test('RAR 5: truncation at many points never throws; what is decoded is a prefix of the input', () => {
  const files = [FILES[0]!, FILES[1]!, FILES[7]!];
  const archive = encodeRar5(files, { solid: true, blockTokens: 400 });
  for (let cut = 0; cut < archive.length; cut += 41) {
    for (const c of extract(archive.subarray(0, cut))) {
      const want = files.find((f) => f.name.endsWith(c.name))!.data;
      assert.ok(Buffer.from(c.data).equals(Buffer.from(want.subarray(0, c.data.length))), `cut ${cut} ${c.name}`);
    }
  }
  const l = listRar(archive)!;
  const u = createRar5Unpacker();
  const e = l.entries[0]!;
  for (let cut = 0; cut < e.packedSize; cut += 13) {
    const r = u.unpack(archive.subarray(e.dataOffset, e.dataOffset + cut), e.unpackedSize, false, e.dictSize, 1 << 20);
    assert.equal(r.ok, false);
    assert.ok(Buffer.from(r.data).equals(Buffer.from(files[0]!.data.subarray(0, r.data.length))));
  }
});

test('RAR 5: 300 random mutations never throw and stay within the output bound', () => {
  const archive = encodeRar5(FILES, { solid: true, blockTokens: 500 });
  const m = new Prng('rar5-mutations');
  const t0 = Date.now();
  for (let i = 0; i < 300; i++) {
    const copy = Uint8Array.from(archive);
    const n = m.int(1, 8);
    for (let k = 0; k < n; k++) copy[m.int(8, copy.length - 1)] = m.int(0, 255);
    for (const c of extract(copy, ctx(30000))) assert.ok(c.data.length <= 30000);
  }
  assert.ok(Date.now() - t0 < 60000, 'mutation loop too slow');
});
