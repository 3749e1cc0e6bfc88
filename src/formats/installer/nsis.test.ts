import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanNsis, scanNsisEmbedded } from './nsis.js';
import { isChild, isLimited, type UnpackContext, type UnpackItem } from '../unpack.js';
import { DEFAULT_UNPACK_OPTIONS } from '../unpack.js';

const HAVE_MAKENSIS = spawnSync('makensis', ['-VERSION']).status === 0;
const SKIP = HAVE_MAKENSIS ? false : 'makensis is not installed';
const SIG = Buffer.from('efbeadde4e756c6c736f6674496e7374', 'hex');

const ctx = (maxFileSize = 1 << 26, maxScanSize = 1 << 28): UnpackContext => ({
  limits: { maxFileSize, maxFiles: 10000, maxScanSize },
  options: { ...DEFAULT_UNPACK_OPTIONS },
});

const list = (it: Iterable<UnpackItem>): UnpackItem[] => [...it];

interface Built { exe: Buffer; files: Buffer[] }

function build(compressor: string, solid: boolean, files: Buffer[], extra: string[] = []): Built {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-nsis-'));
  files.forEach((f, i) => writeFileSync(join(dir, `f${i}.bin`), f));
  const script = [`SetCompressor ${solid ? '/SOLID ' : ''}${compressor}`, 'OutFile out.exe', 'RequestExecutionLevel user', ...extra,
    'Section', 'SetOutPath $TEMP\\t', ...files.map((_, i) => `File f${i}.bin`), 'SectionEnd'].join('\n');
  writeFileSync(join(dir, 's.nsi'), script);
  const r = spawnSync('makensis', ['-V1', 's.nsi'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { exe: readFileSync(join(dir, 'out.exe')), files };
}

const text = (n: number, word: string): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => `${word} ${i}\n`).join(''));
const noise = (n: number, seed: number): Buffer => {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x & 0xff; }
  return b;
};

for (const comp of ['zlib', 'bzip2', 'lzma']) {
  for (const solid of [false, true]) {
    test(`NSIS ${comp}${solid ? ' solid' : ''}: the header block then every file`, { skip: SKIP }, () => {
      const files = [noise(3000, 7), text(5000, 'payload'), Buffer.from('single'), text(20, 'tail')];
      const { exe } = build(comp, solid, files);
      const at = exe.indexOf(SIG);
      assert.ok(at > 4);
      const items = list(scanNsisEmbedded(exe, at, ctx()));
      const kids = items.filter(isChild);
      assert.equal(kids[0]!.name, 'headers');
      assert.equal(kids[0]!.type, 'CL_TYPE_ANY');
      // Solid zlib: NSIS's inflater has taken all its input once the rest fits in its 32 KiB
      // window, and ClamAV stops there (the two small files at the end are not read).
      const want = comp === 'zlib' && solid ? files.slice(0, 2) : files;
      assert.deepEqual(kids.slice(1).map((k) => Buffer.from(k.data)), want);
      assert.deepEqual(kids.slice(1).map((k) => k.name), ['content.001', 'content.002', 'content.003', 'content.004'].slice(0, want.length));
      // The same data read from its own start.
      assert.equal(list(scanNsis(exe.subarray(at - 4), ctx())).filter(isChild).length, want.length + 1);
    });
  }
}

test('NSIS: no data before the signature, or a signature at the very start, gives nothing', () => {
  assert.deepEqual(list(scanNsisEmbedded(SIG, 0, ctx())), []);
  assert.deepEqual(list(scanNsisEmbedded(Buffer.concat([Buffer.alloc(4), SIG]), 4, ctx())), []);
});

test('NSIS solid zlib: files whose data fits in the inflater window after the CRC are not read (ClamAV)', { skip: SKIP }, () => {
  const { exe } = build('zlib', true, [text(30, 'small')]);
  const kids = list(scanNsisEmbedded(exe, exe.indexOf(SIG), ctx())).filter(isChild);
  assert.deepEqual(kids.map((k) => k.name), ['headers']);
});

test('NSIS solid bzip2 without CRC: only the header block (the last block is read with it)', { skip: SKIP }, () => {
  const { exe } = build('bzip2', true, [text(30, 'small'), text(40, 'other')], ['CRCCheck off']);
  const kids = list(scanNsisEmbedded(exe, exe.indexOf(SIG), ctx())).filter(isChild);
  assert.deepEqual(kids.map((k) => k.name), ['headers']);
});

test('NSIS: files over MaxFileSize are reported as limited; which ones end the listing', { skip: SKIP }, () => {
  const show = (items: UnpackItem[]): string[] => items.map((i) => (isLimited(i) ? `limit:${i.name}` : isChild(i) ? i.name : '?'));
  // Non-solid: a stored size over the limit is skipped; a file that inflates past it ends the listing.
  const files = [text(100, 'a'), noise(120000, 9), text(100, 'c'), text(20000, 'big'), text(100, 'e')];
  const plain = build('zlib', false, files).exe;
  assert.deepEqual(show(list(scanNsisEmbedded(plain, plain.indexOf(SIG), ctx(100000)))),
    ['headers', 'content.001', 'limit:content.002', 'content.003', 'limit:content.004']);
  // Solid: the first size over the limit ends it.
  const solid = build('lzma', true, files).exe;
  assert.deepEqual(show(list(scanNsisEmbedded(solid, solid.indexOf(SIG), ctx(100000)))), ['headers', 'content.001', 'limit:content.002']);
});

test('NSIS: truncation at many points and random damage never throw and stay bounded', { skip: SKIP }, () => {
  for (const comp of ['zlib', 'bzip2', 'lzma']) {
    for (const solid of [false, true]) {
      const { exe } = build(comp, solid, [noise(2000, 3), text(3000, 'x')]);
      const at = exe.indexOf(SIG);
      const data = exe.subarray(at - 4);
      for (let cut = 0; cut < data.length; cut += Math.max(1, Math.floor(data.length / 97))) {
        for (const it of scanNsis(data.subarray(0, cut), ctx())) if (isChild(it)) assert.ok(it.data.length <= 1 << 26);
      }
      let seed = 12345;
      for (let round = 0; round < 60; round++) {
        const m = Buffer.from(data);
        for (let k = 0; k < 4; k++) {
          seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
          m[seed % m.length] = seed >>> 24;
        }
        const t0 = Date.now();
        for (const it of scanNsis(m, ctx(1 << 20, 1 << 22))) if (isChild(it)) assert.ok(it.data.length <= 1 << 22);
        assert.ok(Date.now() - t0 < 5000);
      }
    }
  }
});

test('NSIS: a solid bomb stops at the scan-size bound', { skip: SKIP }, () => {
  const { exe } = build('zlib', true, [Buffer.alloc(3 << 20)]);
  const items = list(scanNsisEmbedded(exe, exe.indexOf(SIG), ctx(1 << 20, 1 << 21)));
  assert.ok(items.some((i) => isLimited(i)));
  for (const i of items) if (isChild(i)) assert.ok(i.data.length <= 1 << 21);
});

test('deflate block ends: stored, fixed and dynamic blocks, each end in output and input', async () => {
  const { deflateRawSync, constants } = await import('node:zlib');
  const { deflateBlockEnds } = await import('./deflate-blocks.js');
  const data = Buffer.concat([text(3000, 'block'), noise(70000, 5)]);
  for (const level of [0, 1, 9]) {
    const z = deflateRawSync(data, { level, strategy: level === 1 ? constants.Z_FIXED : constants.Z_DEFAULT_STRATEGY });
    const ends = deflateBlockEnds(z);
    assert.ok(ends.length >= 1);
    assert.equal(ends[ends.length - 1]!.out, data.length);
    assert.equal(ends[ends.length - 1]!.inByte, z.length);
    for (let i = 1; i < ends.length; i++) assert.ok(ends[i]!.out >= ends[i - 1]!.out);
    // Cut: the ends before the cut only.
    const cut = deflateBlockEnds(z.subarray(0, z.length >> 1));
    assert.ok(cut.every((e) => e.inByte <= z.length >> 1));
  }
});

test('NSIS: the layer given is left as it was', { skip: SKIP }, () => {
  for (const comp of ['zlib', 'lzma']) {
    const { exe } = build(comp, comp === 'lzma', [text(200, 'keep')]);
    const before = Buffer.from(exe);
    list(scanNsisEmbedded(exe, exe.indexOf(SIG), ctx()));
    assert.ok(exe.equals(before));
  }
});

test('deflate walk: a stream cut right after its last code stalls NSIS\'s inflater at its end', async () => {
  const { deflateRawSync, constants } = await import('node:zlib');
  const { walkDeflate } = await import('./deflate-blocks.js');
  let stalls = 0;
  for (let n = 1; n <= 40; n++) {
    const data = Buffer.from('abcdefghij'.slice(0, 1 + (n % 10)).repeat(1 + (n >> 2)));
    const w = walkDeflate(deflateRawSync(data, { strategy: constants.Z_FIXED }));
    if (w.stall !== undefined) { assert.equal(w.stall, data.length); stalls++; }
    // With bytes after the stream (a CRC), nothing stalls.
    assert.equal(walkDeflate(Buffer.concat([deflateRawSync(data, { strategy: constants.Z_FIXED }), Buffer.alloc(4)])).stall, undefined);
  }
  assert.ok(stalls > 0);
});
