/**
 * UDF file systems and partition tables: `vigil scan` against `clamscan` on seeded disk images —
 * MBR tables with primary and extended (logical) partitions and GPT tables written by `sfdisk` and
 * `sgdisk` into plain image files, GPT tables of 1024-, 2048- and 4096-byte sectors, Apple
 * Partition Maps (also old-school ones) and UDF-only volumes built by code, UDF
 * volumes `genisoimage -udf` wrote (as hybrids, which ClamAV reads as ISO 9660, and moved into the
 * UDF-only layout ClamAV's reader walks) — and damaged ones: cut short, a partition entry's status
 * or a GPT header's CRC broken, both GPT headers broken, tables with different CRCs, overlapping
 * partitions, logical partitions past their extended partition, extended boot records that loop,
 * Apple maps with a wrong block count or an inflated entry count, UDF descriptors out of order,
 * in-ICB data, wrong partition references, random mutations. The same `FOUND` lines and exit code
 * in default mode, with `--allmatch`, `-a`, MaxFileSize limits, the partition intersection
 * heuristic and MaxPartitions limits.
 *
 * Not compared: `--max-files` and `--max-scansize` (vigil does not count a partition against the
 * file count and scan size, ClamAV does: an EBR chain that loops exceeds MaxScanSize there), and
 * small `--max-recursion` values (vigil scans the children of an MBR, GPT found by its protective
 * MBR, or UDF volume one level deeper than ClamAV, which reads them in the layer itself).
 *
 * Skips with a message when clamscan 1.4, sfdisk, sgdisk or genisoimage is absent.
 */
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { buildZip } from '../helpers/zip-writer.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';
import { crc32 } from '../../src/core/crc32.js';
import { buildUdf, type UdfAd, type UdfNode } from '../../src/formats/disk/udf-build.js';
import { buildApm, type ApmPartition } from '../../src/formats/disk/apm-build.js';
import { buildGpt, type GptPartition } from '../../src/formats/disk/gpt-build.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const has = (tool: string, arg = '--version'): boolean => {
  const r = spawnSync(tool, [arg], { stdio: 'ignore' });
  return r.error === undefined;
};
const SKIP = CLAMSCAN_SKIP || (!has('sfdisk') || !has('sgdisk') || !has('genisoimage')
  ? 'sfdisk (fdisk), sgdisk (gdisk) or genisoimage is not installed: differential test skipped' : false);
const S = 512;

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

test('UDF volumes and MBR, GPT, APM partition tables: vigil and clamscan agree', { skip: SKIP }, async (t) => {
  const rng = new Prng(`${SEED}:udf-partitions`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-disk-'));
  try {
    const data = join(dir, 'data');
    mkdirSync(data);
    const hashes: string[] = [];
    let n = 0;
    const hashLine = (b: Uint8Array): void => { if (b.length > 5) hashes.push(`${md5(b)}:${b.length}:Inner.${n++}`); };
    const filler = (k: number): Buffer => Buffer.from(rng.bytes(k));
    /** Bytes with a mark (mostly), hashed as they are. */
    const payload = (max = 900): Buffer => {
      const b = rng.chance(0.8)
        ? Buffer.concat([filler(rng.int(0, max)), Buffer.from(rng.pick(MARKS), 'latin1'), filler(rng.int(0, max))])
        : filler(rng.int(6, max));
      hashLine(b);
      return b;
    };
    const put = (name: string, b: Uint8Array): void => writeFileSync(join(data, name), b);

    // ── MBR and GPT images written by sfdisk / sgdisk ──
    interface Part { start: number; size: number; type?: string }
    const sfdisk = (sectors: number, script: string): Buffer => {
      const f = join(dir, 'work.img');
      writeFileSync(f, Buffer.alloc(sectors * S));
      const r = spawnSync('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', f], { input: script });
      if (r.status !== 0) throw new Error(`sfdisk: ${r.stderr.toString()}`);
      return readFileSync(f);
    };
    /** Each partition filled with a payload and random bytes; the partition's bytes hashed. */
    const fill = (img: Buffer, parts: readonly Part[]): void => {
      for (const p of parts) {
        const region = img.subarray(p.start * S, (p.start + p.size) * S);
        const body = rng.chance(0.2) ? zipOf(payload()) : payload(Math.min(900, region.length / 3));
        region.set(filler(region.length));
        region.set(body.subarray(0, region.length), rng.int(0, Math.max(0, region.length - body.length)));
        hashLine(region);
      }
    };
    const zipOf = (p: Buffer): Buffer => Buffer.from(buildZip([{ name: 'p.bin', data: p, method: 8, compressed: deflateRawSync(p) }]).bytes);
    const layout = (count: number, from: number): Part[] => {
      const out: Part[] = [];
      let at = from;
      for (let i = 0; i < count; i++) {
        at += rng.int(0, 8);
        const size = rng.int(4, 60);
        out.push({ start: at, size });
        at += size;
      }
      return out;
    };
    const mbrImage = (primaries: number, logicals: number): { img: Buffer; parts: Part[]; ext?: Part } => {
      const prim = layout(primaries, 64);
      let end = prim.length > 0 ? prim[prim.length - 1]!.start + prim[prim.length - 1]!.size : 64;
      let ext: Part | undefined;
      const logs: Part[] = [];
      if (logicals > 0) {
        const first = end + 8;
        let at = first;
        for (let i = 0; i < logicals; i++) {
          at += 2 + rng.int(0, 4);
          const size = rng.int(4, 40);
          logs.push({ start: at, size });
          at += size;
        }
        ext = { start: first, size: at - first + 1 };
        end = at + 1;
      }
      const sectors = end + rng.int(1, 40);
      const lines = ['label: dos'];
      for (const p of prim) lines.push(`start=${p.start}, size=${p.size}, type=${rng.pick(['83', 'c', '7', 'b', 'a5'])}`);
      if (ext) {
        lines.push(`start=${ext.start}, size=${ext.size}, type=5`);
        for (const l of logs) lines.push(`start=${l.start}, size=${l.size}, type=83`);
      }
      const img = sfdisk(sectors, lines.join('\n') + '\n');
      fill(img, [...prim, ...logs]);
      hashLine(img.subarray(0, S));
      return { img, parts: [...prim, ...logs], ...(ext ? { ext } : {}) };
    };
    for (let i = 0; i < 10; i++) put(`mbr${i}.img`, mbrImage(rng.int(1, 3), i % 2 === 0 ? rng.int(1, 4) : 0).img);

    const gptImage = (count: number, tool: 'sfdisk' | 'sgdisk'): { img: Buffer; parts: Part[] } => {
      const parts = layout(count, 40);
      const last = parts[parts.length - 1]!;
      const sectors = last.start + last.size + 40;
      let img: Buffer;
      if (tool === 'sfdisk') {
        img = sfdisk(sectors, ['label: gpt', ...parts.map((p) => `start=${p.start}, size=${p.size}`)].join('\n') + '\n');
      } else {
        const f = join(dir, 'work.img');
        writeFileSync(f, Buffer.alloc(sectors * S));
        const r = spawnSync('sgdisk', ['-a', '1', ...parts.flatMap((p, k) => ['-n', `${k + 1}:${p.start}:${p.start + p.size - 1}`, '-c', `${k + 1}:part${k}`]), f]);
        if (r.status !== 0) throw new Error(`sgdisk: ${r.stderr.toString()}`);
        img = readFileSync(f);
      }
      fill(img, parts);
      return { img, parts };
    };
    for (let i = 0; i < 8; i++) put(`gpt${i}.img`, gptImage(rng.int(1, 4), i % 2 === 0 ? 'sfdisk' : 'sgdisk').img);

    // GPT tables of larger sectors (built by code): found through the protective MBR only.
    for (let i = 0; i < 6; i++) {
      const ss = rng.pick([1024, 2048, 4096, 512]);
      const parts: GptPartition[] = [];
      let at = 40;
      for (let k = rng.int(1, 3); k > 0; k--) {
        at += rng.int(0, 3);
        const len = rng.int(1, 6);
        parts.push({ first: at, last: at + len - 1, data: payload() });
        at += len;
      }
      const img = buildGpt(parts, ss);
      for (const p of parts) hashLine(img.subarray(p.first * ss, (p.last + 1) * ss));
      put(`gpt-ss${ss}-${i}.img`, img);
    }

    // ── APM images ──
    const apmImage = (count: number): { img: Uint8Array; parts: ApmPartition[] } => {
      const parts: ApmPartition[] = [];
      let at = 16;
      for (let i = 0; i < count; i++) {
        at += rng.int(0, 4);
        const blocks = rng.int(4, 40);
        parts.push({ start: at, blocks, type: rng.pick(['Apple_HFS', 'Apple_UNIX_SVR2', 'Apple_Free', 'Apple_Driver43']), data: payload() });
        at += blocks;
      }
      const img = buildApm(parts, { totalBlocks: at + rng.int(0, 8) });
      for (const p of parts) hashLine(img.subarray(p.start * S, (p.start + p.blocks) * S));
      return { img, parts };
    };
    for (let i = 0; i < 6; i++) put(`apm${i}.img`, apmImage(rng.int(1, 4)).img);

    // ── UDF-only volumes built by code ──
    const ads: readonly UdfAd[] = ['short', 'short', 'short', 'long', 'ext', 'inicb'];
    const tree = (depth: number): UdfNode[] => Array.from({ length: rng.int(1, 4) }, (_, i): UdfNode => {
      if (depth < 2 && rng.chance(0.3)) return { name: `d${depth}${i}`, children: tree(depth + 1) };
      const ad = rng.chance(0.7) ? 'short' : rng.pick(ads);
      return { name: `f${depth}${i}.bin`, data: payload(ad === 'inicb' ? 400 : 2500), ad, efe: rng.chance(0.1) };
    });
    for (let i = 0; i < 12; i++) {
      const variant = i % 6;
      put(`udf${i}.img`, buildUdf(tree(0), {
        packEntries: variant === 1, fsd: variant !== 2, lvdFirst: variant !== 3, trailer: variant !== 4, ...(variant === 5 ? { partRef: 1 } : {}),
      }));
    }
    // What ClamAV extracts of a long or extended descriptor: the extent moved by the partition start, in bytes.
    const shifted = buildUdf([{ name: 'x', data: payload(1500), ad: 'long' }, { name: 'y', data: payload(1500), ad: 'ext' }]);
    put('udf-shifted.img', shifted);

    // ── genisoimage UDF hybrids, and the same volumes moved into a UDF-only layout ──
    for (let i = 0; i < 4; i++) {
      const src = join(dir, `iso${i}`);
      mkdirSync(join(src, 'sub', 'deeper'), { recursive: true });
      writeFileSync(join(src, 'a.bin'), payload());
      writeFileSync(join(src, 'sub', 'b.bin'), payload(3000));
      writeFileSync(join(src, 'sub', 'deeper', 'c.bin'), payload());
      if (i % 2 === 0) writeFileSync(join(src, 'z.bin'), payload());
      const out = join(dir, `h${i}.iso`);
      const r = spawnSync('genisoimage', ['-quiet', '-udf', '-o', out, src]);
      if (r.status !== 0) throw new Error(`genisoimage: ${r.stderr.toString()}`);
      const iso = readFileSync(out);
      put(`hybrid${i}.iso`, iso);
      put(`relocated${i}.img`, udfOnly(iso));
    }

    // ── damage ──
    {
      const { img } = mbrImage(2, 2);
      put('mbr-cut.img', img.subarray(0, img.length - rng.int(1, 511)));
      const bad = Buffer.from(img);
      bad[446 + 16] = 0x7f; // the second entry's status
      put('mbr-status.img', bad);
      const nosig = Buffer.from(img);
      nosig[511] = 0;
      put('mbr-nosig.img', nosig);
    }
    {
      // Overlapping primary entries (written over sfdisk's table).
      const { img, parts } = mbrImage(3, 0);
      img.writeUInt32LE(parts[0]!.start + 1, 446 + 16 + 8);
      put('mbr-overlap.img', img);
      const { img: img2, parts: p2 } = mbrImage(2, 0);
      img2.writeUInt32LE(p2[0]!.start, 446 + 16 + 8);
      put('mbr-samestart.img', img2);
      // An entry of no sectors: ClamAV scans from its start to the image's end.
      const { img: img3, parts: p3 } = mbrImage(2, 0);
      img3.writeUInt32LE(0, 446 + 16 + 12);
      hashLine(img3.subarray(p3[1]!.start * S));
      put('mbr-zero-size.img', img3);
    }
    {
      // Extended boot records: a logical entry past the extended partition, a third entry, a loop.
      const a = mbrImage(1, 3);
      const ebr = a.ext!.start * S + 446;
      const past = Buffer.from(a.img);
      past.writeUInt32LE(a.ext!.size + 10, ebr + 12);
      put('ebr-past.img', past);
      const third = Buffer.from(a.img);
      third[ebr + 32 + 4] = 0x83;
      put('ebr-third.img', third);
      const loop = Buffer.from(a.img);
      // The first record's link points back at itself... via the extended partition's start.
      const link = ebr + 16;
      if (loop[link + 4] === 5) loop.writeUInt32LE(0x7fffffff, link + 8);
      put('ebr-far.img', loop);
      const self = Buffer.from(a.img);
      self[link + 4] = 5;
      self.writeUInt32LE(1, link + 8);
      const second = a.ext!.start * S + S + 446;
      self.copy(self, second, ebr, ebr + 66);
      self[second + 16 + 4] = 5;
      self.writeUInt32LE(1, second + 16 + 8);
      put('ebr-loop.img', self);
    }
    {
      const { img } = gptImage(3, 'sfdisk');
      const p = Buffer.from(img);
      p[S + 16] = p[S + 16]! ^ 0xff; // primary header CRC
      put('gpt-primary-bad.img', p);
      const both = Buffer.from(p);
      both[both.length - S + 16] = both[both.length - S + 16]! ^ 0xff;
      put('gpt-both-bad.img', both);
      put('gpt-cut.img', img.subarray(0, img.length - S * rng.int(1, 3)));
      // The backup table differs (its first entry emptied), CRCs made right: both tables are read.
      const two = Buffer.from(img);
      const hdr = two.length - S;
      const table = Number(two.readBigUInt64LE(hdr + 72)) * S;
      two.fill(0, table, table + 128);
      fixGpt(two, hdr);
      put('gpt-two-tables.img', two);
      // Overlapping entries, CRCs made right.
      const ov = Buffer.from(img);
      const pt = Number(ov.readBigUInt64LE(S + 72)) * S;
      ov.writeBigUInt64LE(ov.readBigUInt64LE(pt + 32) + 1n, pt + 128 + 32);
      const st = Number(ov.readBigUInt64LE(hdr + 72)) * S;
      ov.copy(ov, st, pt, pt + 128 * 128);
      fixGpt(ov, S);
      fixGpt(ov, hdr);
      put('gpt-overlap.img', ov);
    }
    {
      const { img } = apmImage(3);
      const wrong = Uint8Array.from(img);
      new DataView(wrong.buffer).setUint32(4, img.length / S + 1, false);
      put('apm-count.img', wrong);
      const many = buildApm([{ start: 16, blocks: 8, type: 'Apple_HFS', data: payload() }], { declaredCount: 200, totalBlocks: 40 });
      hashLine(many.subarray(16 * S, 24 * S));
      put('apm-many.img', many);
      const over = buildApm([{ start: 16, blocks: 20, type: 'Apple_HFS', data: payload() }, { start: 20, blocks: 8, type: 'Apple_HFS', data: payload() }]);
      hashLine(over.subarray(16 * S, 36 * S));
      hashLine(over.subarray(20 * S, 28 * S));
      put('apm-overlap.img', over);
      put('apm-nomap.img', buildApm([{ start: 16, blocks: 8, type: 'Apple_HFS', data: payload() }], { mapType: 'Apple_Free' }));
      put('apm-cut.img', img.subarray(0, img.length - S));
      // An old-school map: 2048-byte blocks in the descriptor, 512-byte entries; a driver at the fourth entry counts 2048-byte blocks.
      const old = buildApm([
        { start: 16, blocks: 8, type: 'Apple_HFS', data: payload() }, { start: 24, blocks: 4, type: 'Apple_Free', data: payload() },
        { start: 32, blocks: 2, type: 'Apple_Driver43', data: payload() },
      ], { totalBlocks: 48 });
      new DataView(old.buffer).setUint16(2, 2048, false);
      new DataView(old.buffer).setUint32(4, old.length / 2048, false);
      hashLine(old.subarray(16 * S, 24 * S));
      hashLine(old.subarray(32 * S, 32 * S + 2 * 2048));
      put('apm-oldschool.img', old);
    }
    for (let i = 0; i < 10; i++) {
      const img = buildUdf(tree(0));
      if (i < 4) put(`udf-cut${i}.img`, img.subarray(0, rng.int(32768 + 3 * 2048, img.length - 1)));
      else {
        const m = Uint8Array.from(img);
        for (let k = 0; k < 8; k++) {
          const at = rng.chance(0.5) ? rng.int(32 * 2048, 40 * 2048) : rng.int(257 * 2048, Math.min(m.length - 1, 270 * 2048));
          m[at] = rng.int(0, 255);
        }
        put(`udf-mut${i}.img`, m);
      }
    }
    // ── nesting: images compressed or zipped, a UDF volume inside a partition ──
    put('mbr.img.gz', gzipSync(mbrImage(2, 2).img));
    put('udf.img.gz', gzipSync(buildUdf(tree(0))));
    {
      const inner = buildUdf(tree(0));
      put('udf-in.zip', buildZip([{ name: 'u.img', data: inner, method: 8, compressed: deflateRawSync(inner) }]).bytes);
      const sectors = 64 + inner.length / S + 8;
      const img = sfdisk(sectors, `label: dos\nstart=64, size=${inner.length / S}, type=83\n`);
      img.set(inner, 64 * S);
      put('udf-in-mbr.img', img);
    }

    await compareLayers(t, dir, hashes, [
      [], ['--allmatch'], ['-a'], ['--max-filesize=400000', '--alert-exceeds-max'], ['--max-filesize=300000', '--allmatch'],
      ['--alert-partition-intersection'], ['--alert-partition-intersection', '--allmatch'], ['--max-partitions=2', '--allmatch'],
      ['--max-partitions=1', '--alert-partition-intersection', '--allmatch'],
      ['--max-partitions=0', '--allmatch'], ['--allmatch', '--max-files=3'], ['--allmatch', '--max-recursion=2'],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Recomputes the entry-array and header CRCs of the GPT header at `hdr`. */
function fixGpt(img: Buffer, hdr: number): void {
  const table = Number(img.readBigUInt64LE(hdr + 72)) * S;
  const len = img.readUInt32LE(hdr + 80) * img.readUInt32LE(hdr + 84);
  img.writeUInt32LE(crc32(img.subarray(table, table + len)), hdr + 88);
  img.writeUInt32LE(0, hdr + 16);
  img.writeUInt32LE(crc32(img.subarray(hdr, hdr + 92)), hdr + 16);
}

/**
 * A genisoimage UDF hybrid made UDF-only in the order ClamAV's reader walks: the ISO 9660
 * descriptors removed, the recognition sequence moved to block 16, the logical volume descriptor
 * put before the partition descriptor, the reserve descriptor sequence cleared.
 */
function udfOnly(iso: Uint8Array): Uint8Array {
  const B = 2048;
  const out = Uint8Array.from(iso);
  const block = (i: number): Uint8Array => out.subarray(i * B, (i + 1) * B);
  const vrs: Uint8Array[] = [];
  for (let i = 16; i < 32; i++) {
    const b = block(i);
    const id = String.fromCharCode(...b.subarray(1, 6));
    if (id === 'BEA01' || id === 'NSR02' || id === 'TEA01') vrs.push(Uint8Array.from(b));
    b.fill(0);
  }
  vrs.forEach((b, k) => block(16 + k).set(b));
  const tagOf = (i: number): number => out[i * B]! | (out[i * B + 1]! << 8);
  let pd = -1, lvd = -1;
  for (let i = 32; i < 48; i++) {
    if (tagOf(i) === 5 && pd < 0) pd = i;
    if (tagOf(i) === 6 && lvd < 0) lvd = i;
  }
  if (pd >= 0 && lvd > pd) {
    const a = Uint8Array.from(block(pd));
    block(pd).set(block(lvd));
    block(lvd).set(a);
  }
  for (let i = 48; i < 64; i++) block(i).fill(0);
  return out;
}
