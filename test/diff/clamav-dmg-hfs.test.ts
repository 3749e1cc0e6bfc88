/**
 * Apple disk images and HFS+ volumes: `vigil scan` against `clamscan` on seeded DMGs (stored, zlib,
 * bzip2, ADC, zero-fill and LZFSE chunks; raw partitions and HFS+ / HFSX volumes with several files,
 * fragmented files, files past the eight extents of their record, decmpfs-compressed files,
 * resource forks) and plain HFS+ images (which ClamAV does not open), with damaged variants (bad
 * chunk data or offsets, cut XML, broken base64, damaged catalog nodes and volume headers) — the
 * same `FOUND` lines and exit codes by default, with `--allmatch`, with `-a`, and with
 * `--max-filesize` and `--alert-exceeds-max`. Samples are made by code (no `hdiutil` here);
 * bzip2 chunks need the `bzip2` tool. Skips with a message when clamscan 1.4 is absent.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';
import { buildDmg, type ChunkKind, type DmgPartition } from '../../src/formats/disk/dmg-build.js';
import { buildHfsPlus, type HfsFile } from '../../src/formats/disk/hfsplus-build.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';

const u32at = (b: Uint8Array, p: number): number => ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;

/** Damage to an HFS+ volume, at places ClamAV's reader checks. */
function damageHfs(rng: Prng, v: Uint8Array): string {
  const bs = u32at(v, 1024 + 40);
  const catStart = u32at(v, 1024 + 272 + 16) * bs;
  const kind = rng.int(0, 6);
  switch (kind) {
    case 0: v[1024 + 43] = 0x30; return 'block size not a power of two';
    case 1: { // a record offset of the first leaf node out of order
      const node = catStart + 4096;
      v[node + 4096 - 2 * rng.int(1, 3)] = 0xff;
      return 'record offset';
    }
    case 2: { // the first leaf links to itself
      const node = catStart + 4096;
      v.set([0, 0, 0, 1], node);
      return 'self link';
    }
    case 3: { // the extents tree's key length (ClamAV then reads nothing)
      const extStart = u32at(v, 1024 + 192 + 16) * bs;
      v[extStart + 14 + 21] = 11;
      return 'extents key length';
    }
    case 4: v[catStart + 8] = 0xff; return 'catalog header kind';
    case 5: { // random bytes in the first leaf
      const node = catStart + 4096;
      for (let i = rng.int(1, 4); i > 0; i--) v[node + rng.int(0, 4095)] = rng.int(0, 255);
      return 'leaf bytes';
    }
    default: return 'none';
  }
}


test(`DMG and HFS+ layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-dmg-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  let serial = 0;
  const payload = (hash = true): Buffer => {
    const body = Buffer.concat([Buffer.from(rng.bytes(rng.int(0, 900))), Buffer.from(rng.pick(MARKS), 'latin1'), Buffer.from(rng.bytes(rng.int(0, 900)))]);
    if (hash) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${serial++}`);
    return body;
  };
  const files = (n: number): HfsFile[] => {
    const out: HfsFile[] = [];
    for (let i = 0; i < n; i++) {
      const kind = rng.int(0, 9);
      const name = `${rng.word(3, 10)}${i}.${rng.pick(['txt', 'bin', 'app', 'dat'])}`;
      const pad = rng.chance(0.4) ? Buffer.alloc(rng.int(1000, 40000), rng.int(0, 255)) : Buffer.alloc(0);
      const body = Buffer.concat([pad, payload()]);
      if (kind === 0) out.push({ name, data: body, extents: rng.int(2, 8) });
      else if (kind === 1) out.push({ name, data: Buffer.concat([Buffer.alloc(9000, 7), body]), extents: rng.int(9, 12) });
      else if (kind === 2) out.push({ name, data: body, decmpfs: 3 });
      else if (kind === 3) out.push({ name, data: body, decmpfs: 4 });
      else if (kind === 4) out.push({ name, data: body, resource: payload() });
      else if (kind === 5) out.push({ name, data: body, mode: 0o120755 });
      else out.push({ name, data: body });
    }
    return out;
  };
  const volume = (): Buffer => Buffer.from(buildHfsPlus(files(rng.int(1, 5)), { blockSize: rng.pick([512, 1024, 4096]), hfsx: rng.chance(0.3) }));
  const KINDS: ChunkKind[] = ['raw', 'zlib', 'bzip2', 'adc', 'lzfse', 'zero'];

  for (let f = 0; f < 48; f++) {
    const name = `d${String(f).padStart(2, '0')}`;
    if (f % 12 === 11) {
      // A plain HFS+ image: ClamAV types it from its first bytes only (no partition typing).
      writeFileSync(join(data, `${name}.hfs`), volume());
      continue;
    }
    const parts: DmgPartition[] = [];
    for (let p = rng.int(1, 3); p > 0; p--) {
      let bytes: Buffer;
      if (rng.chance(0.65)) {
        bytes = volume();
        if (rng.chance(0.15)) damageHfs(rng, bytes);
      } else {
        bytes = Buffer.concat([Buffer.alloc(rng.int(0, 3) * 512), Buffer.from(rng.bytes(rng.int(0, 2000))), payload(false), Buffer.alloc(rng.int(0, 5000))]);
        hashes.push(`${createHash('md5').update(Buffer.concat([bytes, Buffer.alloc((512 - (bytes.length % 512)) % 512)])).digest('hex')}:${Math.ceil(bytes.length / 512) * 512}:Inner.Part.${serial++}`);
      }
      const kinds: ChunkKind[] = [];
      for (let k = rng.int(1, 3); k > 0; k--) kinds.push(rng.pick(KINDS.slice(0, rng.chance(0.85) ? 4 : 5)));
      parts.push({ data: bytes, kinds, chunkSectors: rng.pick([8, 16, 64, 200]) });
    }
    const damage = rng.chance(0.25) ? rng.int(0, 5) : -1;
    const img = buildDmg(parts, {
      base64Line: rng.pick([52, 68, 1000]),
      // Binary bytes first: the image is typed binary data (see the report on UTF-16-looking images).
      lead: Uint8Array.from({ length: 64 }, (_, i) => (i < 4 ? 0 : (i * 37) & 0xff)),
      ...(damage === 0 ? { mutateStripe: (s: DataView, i: number) => { if (i === 1) s.setUint32(28, 0x7fffffff); } } : {}),
    });
    if (!img) {
      t.diagnostic('bzip2 is not installed: bzip2 chunks left out');
      continue;
    }
    let out = Buffer.from(img);
    const xmlOff = Number(out.readBigUInt64BE(out.length - 512 + 216));
    const xmlLen = Number(out.readBigUInt64BE(out.length - 512 + 224));
    if (damage === 1) {
      // A chunk's data damaged: its block and every later one are not scanned.
      const at = rng.int(0, Math.max(0, xmlOff - 1));
      for (let i = 0; i < 8; i++) out[Math.min(xmlOff - 1, at + i)] = rng.int(0, 255);
    } else if (damage === 2) {
      // The XML cut inside a later partition's dict (the reader stops there).
      const cut = rng.int(Math.floor(xmlLen / 2), xmlLen - 20);
      const xml = out.subarray(xmlOff, xmlOff + cut);
      const koly = Buffer.from(out.subarray(out.length - 512));
      koly.writeBigUInt64BE(BigInt(cut), 224);
      out = Buffer.concat([out.subarray(0, xmlOff), xml, koly]);
    } else if (damage === 3) {
      // A '=' early in a base64 group: that block does not decode.
      const text = out.subarray(xmlOff, xmlOff + xmlLen).toString('latin1');
      const at = text.indexOf('bWlza');
      if (at > 0) out[xmlOff + at + 1] = 0x3d;
    } else if (damage === 4) {
      // The koly trailer pointing past the file.
      out.writeBigUInt64BE(BigInt(out.length), out.length - 512 + 216);
    }
    writeFileSync(join(data, `${name}.dmg`), out);
  }
  // Chunk records changed after the fact: cut data, fewer sectors than the data holds, chunks out
  // of order, a block claiming more records than it has, an unknown chunk type.
  const lead = Uint8Array.from({ length: 64 }, (_, i) => (i < 4 ? 0 : (i * 41) & 0xff));
  const edits: [string, ChunkKind[], (s: DataView, i: number) => void][] = [
    ['zlib-cut', ['zlib'], (s, i) => { if (i === 1) s.setUint32(36, Math.max(1, s.getUint32(36) >> 1)); }],
    ['adc-cut', ['adc'], (s, i) => { if (i === 1) s.setUint32(36, Math.max(1, s.getUint32(36) - 3)); }],
    ['zlib-few-sectors', ['zlib'], (s, i) => { if (i === 0) s.setUint32(20, 1); }],
    ['adc-few-sectors', ['adc'], (s, i) => { if (i === 0) s.setUint32(20, 1); }],
    ['bzip2-few-sectors', ['bzip2'], (s, i) => { if (i === 0) s.setUint32(20, 1); }],
    ['swapped', ['raw', 'zlib'], (s, i) => { if (i === 0) s.setUint32(12, 5000); }],
    ['unknown-type', ['raw', 'zlib'], (s, i) => { if (i === 1) s.setUint32(0, 0x80000008); }],
    ['bzip2-empty', ['bzip2'], (s, i) => { if (i === 1) s.setUint32(36, 0); }],
  ];
  for (const [label, kinds, mutateStripe] of edits) {
    const bytes = Buffer.concat([Buffer.from(rng.bytes(30000)), payload(false), Buffer.from(rng.bytes(30000)), payload(false), Buffer.alloc(700, 1)]);
    const second = Buffer.concat([Buffer.from(rng.bytes(500)), payload(false)]);
    hashes.push(`${createHash('md5').update(Buffer.concat([second, Buffer.alloc((512 - (second.length % 512)) % 512)])).digest('hex')}:${Math.ceil(second.length / 512) * 512}:Inner.Part.${serial++}`);
    const img = buildDmg([{ data: bytes, kinds, chunkSectors: 64 }, { data: second, kinds: ['zlib'] }], { mutateStripe, lead });
    if (img) writeFileSync(join(data, `e-${label}.dmg`), img);
  }
  // Property-list variants (libxml2's reader and ClamAV's states), volume variants (an 8 KiB
  // block over 4 KiB catalog nodes, 8 KiB nodes, inline decmpfs data stored uncompressed).
  const xmlEdits: [string, (x: string) => string][] = [
    ['cdata', (x) => x.replace(/<data>([^<]*)<\/data>/, '<data><![CDATA[$1]]></data>')],
    ['entity-key', (x) => x.replace('<key>blkx</key>', '<key>&#98;lkx</key>')],
    ['key-order', (x) => x.replace(/(<key>Attributes<\/key>\s*<string>[^<]*<\/string>)([\s\S]*?)(<key>Data<\/key>\s*<data>[^<]*<\/data>)/g, '$3$2$1')],
    ['comment', (x) => x.replace('<key>Data</key>', '<key>Data</key><!-- c -->')],
    ['blank-data', (x) => x.replace(/<data>[^<]*<\/data>/, '<data> </data>')],
    ['dict-blkx', (x) => x.replace('<array>', '<dict>').replace('</array>', '</dict>')],
    ['bad-close', (x) => x.replace('</array>', '</arrey>')],
    ['deep', (x) => x.replace('<plist version="1.0">', '<plist version="1.0">' + '<a>'.repeat(60)).replace('</plist>', '</a>'.repeat(60) + '</plist>')],
  ];
  for (const [label, xmlTransform] of xmlEdits) {
    const parts: DmgPartition[] = [0, 1, 2].map(() => ({ data: Buffer.concat([Buffer.from(rng.bytes(700)), payload(false)]), kinds: ['zlib'] as ChunkKind[] }));
    for (const p of parts) hashes.push(`${createHash('md5').update(Buffer.concat([p.data, Buffer.alloc((512 - (p.data.length % 512)) % 512)])).digest('hex')}:${Math.ceil(p.data.length / 512) * 512}:Inner.Part.${serial++}`);
    const img = buildDmg(parts, { xmlTransform, lead });
    if (img) writeFileSync(join(data, `x-${label}.dmg`), img);
  }
  const volumes: [string, Buffer][] = [
    ['block8k', Buffer.from(buildHfsPlus(files(2), { blockSize: 8192 }))],
    ['node8k', Buffer.from(buildHfsPlus(files(3), { blockSize: 4096, nodeSize: 8192 }))],
    ['stored-inline', Buffer.from(buildHfsPlus([{ name: 'stored', data: payload(), decmpfs: 3, decmpfsStored: true }, { name: 'next', data: payload() }]))],
    ['many', Buffer.from(buildHfsPlus(files(40), { blockSize: 512 }))],
  ];
  for (const [label, vol] of volumes) {
    const img = buildDmg([{ data: vol, kinds: ['zlib'] }], { lead });
    if (img) writeFileSync(join(data, `v-${label}.dmg`), img);
  }
  // bzip2 chunks of several 100 kB blocks, cut inside the third block: ClamAV keeps the first two
  // blocks' output in whole 8192-byte buffers only (a mark just before the cut is lost).
  for (const cutAt of [0.7, 0.95]) {
    const mark = (i: number): Buffer => Buffer.from(MARKS[i]!, 'latin1');
    const body = Buffer.concat([Buffer.from(rng.bytes(50000)), mark(0), Buffer.from(rng.bytes(148000)), mark(1), Buffer.from(rng.bytes(100000))]);
    const img = buildDmg([{ data: body, kinds: ['bzip2'], chunkSectors: 2000 }, { data: Buffer.concat([Buffer.from(rng.bytes(300)), mark(2)]), kinds: ['zlib'] }], {
      bzip2Level: 1, lead,
      mutateStripe: (s, i) => { if (i === 0 && s.getUint32(0) === 0x80000006) s.setUint32(36, Math.floor(s.getUint32(36) * cutAt)); },
    });
    if (img) writeFileSync(join(data, `b-cut${Math.round(cutAt * 100)}.dmg`), img);
  }
  await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['-a'], ['--max-filesize=60000', '--alert-exceeds-max'], ['--allmatch', '--max-filesize=30000', '--alert-exceeds-max'], ['--max-filesize=200000', '--alert-exceeds-max'], ['--allmatch', '--max-files=4'], ['--allmatch', '--max-recursion=2', '--alert-exceeds-max'], ['--max-recursion=1', '--alert-exceeds-max']]);
});
