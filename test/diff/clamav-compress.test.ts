/**
 * Compressed layers: `vigil scan` against `clamscan` on seeded bzip2, xz and .lzma files made by
 * the command-line tools — payloads with planted body and hash signatures, every xz check type and
 * filter chain the tools offer, multi-block and concatenated streams, stream padding, tar inside
 * them, nesting with each other and with gzip, damaged files (cut short, bytes appended, a byte
 * flipped), xz files whose dictionary ClamAV refuses to allocate (`Heuristics.XZ.DicSizeLimit`) —
 * the same `FOUND` lines and exit code in default mode, with `--allmatch`, with a MaxFileSize limit
 * alerted, and without heuristics.
 *
 * zstd: ClamAV 1.4 does not open zstd, vigil does. A second test asserts that clamscan finds none
 * of the payloads inside .zst files and that vigil's zstd reader gives every one of them (and, once
 * the engine opens zstd layers, that `vigil scan` reports them).
 *
 * Skips with a message when clamscan 1.4 or one of the tools is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP, runClamscan } from '../helpers/clamscan-run.js';
import { compareLayers, foundLines, MARKS, vigilScan } from './layers-diff.js';
import { scanZstd } from '../../src/formats/compress/zstd.js';
import { crc32 } from '../../src/core/crc32.js';
import { DEFAULT_UNPACK_OPTIONS } from '../../src/formats/unpack.js';
import { ustar } from '../helpers/tar-writer.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';

const have = (tool: string): boolean => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
const MISSING = ['bzip2', 'xz', 'lzma'].filter((t) => !have(t));
const SKIP = CLAMSCAN_SKIP || (MISSING.length > 0 ? `${MISSING.join(', ')} not installed: differential test skipped` : false);
const ZSTD_SKIP = CLAMSCAN_SKIP || (have('zstd') ? false : 'zstd not installed: differential test skipped');

/** Runs a compressor on `input` and returns its output. */
function run(tool: string, args: string[], input: Uint8Array): Buffer {
  const r = spawnSync(tool, args, { input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${String(r.stderr)}`);
  return r.stdout;
}

/** One ustar member (header with checksum, data, padding). */
const tar = (members: Uint8Array[]): Buffer => ustar(members.map((data, i) => ({ name: `m${i}.bin`, data })));

/** An xz file whose first block asks for LZMA2 dictionary byte `dictByte` (header CRC fixed up). */
function withDict(xzFile: Buffer, dictByte: number): Buffer {
  const out = Buffer.from(xzFile);
  const hsize = (out[12]! + 1) * 4;
  for (let i = 14; i < 12 + hsize - 6; i++) {
    if (out[i] === 0x21 && out[i + 1] === 0x01) {
      out[i + 2] = dictByte;
      out.writeUInt32LE(crc32(out.subarray(12, 12 + hsize - 4)), 12 + hsize - 4);
      return out;
    }
  }
  return out;
}

test(`compressed layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: SKIP }, async (t) => {
  const rng = new Prng(`compress:${SEED}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-compress-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  const payload = (): Buffer => {
    const big = rng.chance(0.2);
    const parts: Buffer[] = [Buffer.from(rng.bytes(big ? rng.int(10000, 420000) : rng.int(0, 1400)))];
    if (rng.chance(0.6)) parts.splice(rng.int(0, 1), 0, Buffer.from(rng.pick(MARKS), 'latin1'));
    if (big && rng.chance(0.5)) parts.push(Buffer.alloc(rng.int(1000, 200000), rng.int(0, 255)));
    const body = Buffer.concat(parts);
    if (rng.chance(0.3) && body.length > 5) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${hashes.length}`);
    return body;
  };
  const bz = (b: Uint8Array): Buffer => run('bzip2', ['-c', `-${rng.int(1, 9)}`], b);
  const xz = (b: Uint8Array): Buffer => {
    const args = ['-c', '--format=xz', `--check=${rng.pick(['crc32', 'crc64', 'sha256', 'none'])}`];
    if (rng.chance(0.3)) args.push(rng.pick(['--x86', '--arm', '--armthumb', '--powerpc', '--sparc', `--delta=dist=${rng.int(1, 256)}`]));
    args.push(`--lzma2=preset=${rng.int(0, 6)}`);
    if (rng.chance(0.2)) args.push(`--block-size=${rng.int(5000, 200000)}`);
    return run('xz', args, b);
  };
  const inner = (depth: number): Buffer => {
    const kind = depth < 2 ? rng.int(0, 5) : 0;
    if (kind === 1) return tar([inner(depth + 1), inner(depth + 1)]);
    if (kind === 2) return bz(inner(depth + 1));
    if (kind === 3) return xz(inner(depth + 1));
    if (kind === 4) return gzipSync(inner(depth + 1));
    return payload();
  };
  for (let f = 0; f < 64; f++) {
    const kind = rng.int(0, 11);
    let bytes: Buffer;
    let ext = 'xz';
    if (kind <= 1) { bytes = bz(inner(1)); ext = 'bz2'; }
    else if (kind <= 3) bytes = xz(inner(1));
    else if (kind === 4) bytes = Buffer.concat([xz(inner(1)), Buffer.alloc(rng.pick([0, 4, 8])), xz(inner(1))]);
    else if (kind === 5) { bytes = run('lzma', ['-c'], inner(1)); ext = 'lzma'; }
    else if (kind === 6) { bytes = Buffer.concat([bz(inner(1)), bz(inner(1))]); ext = 'bz2'; }
    else if (kind === 7) { bytes = gzipSync(rng.chance(0.5) ? bz(inner(1)) : xz(inner(1))); ext = 'gz'; }
    else if (kind === 8) { bytes = tar([bz(inner(1)), xz(inner(1)), inner(1)]); ext = 'tar'; }
    else if (kind === 11) {
      // Compressible output well past the MaxFileSize mode's limit from a small file, often cut
      // short: ClamAV notices the limit only when it writes out a full piece (8 KiB, 1 MiB).
      const words = ['kite', 'wren', 'tern', 'rail', 'smew', 'ruff', 'knot'];
      const text = Buffer.from(Array.from({ length: rng.int(40000, 300000) }, () => rng.pick(words)).join(' '), 'latin1');
      const body = Buffer.concat([text.subarray(0, rng.int(0, text.length)), Buffer.from(rng.pick(MARKS), 'latin1'), text]);
      hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${hashes.length}`);
      if (rng.chance(0.5)) { bytes = run('bzip2', ['-c', '-1'], body); ext = 'bz2'; } else bytes = run('xz', ['-c', '-1'], body);
      if (rng.chance(0.6)) bytes = bytes.subarray(0, rng.int(bytes.length >> 2, bytes.length));
    } else if (kind === 9) bytes = withDict(run('xz', ['-c', '--lzma2=preset=0'], payload()), rng.int(35, 40));
    else {
      // More than 256 KiB of input (ClamAV reads 256 KiB at a time), zeros after the stream
      // crossing such a boundary or not, then another stream or stray bytes.
      const body = Buffer.concat([Buffer.from(rng.bytes(rng.int(200000, 700000))), Buffer.from(rng.pick(MARKS), 'latin1')]);
      hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${hashes.length}`);
      const first = run('xz', ['-c', '-0'], body);
      const pad = Math.ceil((262144 - (first.length % 262144) + rng.int(-64, 64)) / 4) * 4;
      bytes = Buffer.concat([first, Buffer.alloc(Math.max(0, pad)), rng.chance(0.5) ? xz(inner(1)) : Buffer.from('stray bytes')]);
    }
    // A tar cut short is left out: its declared member sizes are the tar reader's business.
    const damage = kind === 8 || kind === 11 ? 19 : rng.int(0, 19);
    if (damage < 3) bytes = bytes.subarray(0, rng.int(1, bytes.length));
    else if (damage < 5) bytes = Buffer.concat([bytes, Buffer.from(rng.bytes(rng.int(1, 64)))]);
    else if (damage === 5 && bytes.length > 40) { bytes = Buffer.from(bytes); bytes[rng.int(20, bytes.length - 1)]! ^= 1 << rng.int(0, 7); }
    else if (damage === 6) bytes = Buffer.concat([bytes, Buffer.alloc(rng.pick([3, 4, 12]))]);
    writeFileSync(join(data, `c${String(f).padStart(2, '0')}.${ext}`), bytes);
  }
  await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['--allmatch', '--max-filesize=60000', '--alert-exceeds-max'], ['--heuristic-alerts=no']]);
});

test(`zstd layers: vigil opens what clamscan does not (seed ${SEED})`, { skip: ZSTD_SKIP }, async (t) => {
  const rng = new Prng(`zstd:${SEED}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-zstd-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const expected = new Map<string, string>();
  const hashes: string[] = [];
  for (let f = 0; f < 16; f++) {
    const body = Buffer.concat([Buffer.from(rng.bytes(rng.int(100, 5000))), Buffer.from(MARKS[f % MARKS.length]!, 'latin1'), Buffer.from(rng.bytes(rng.int(0, 200000)))]);
    hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Zstd.Hash.${f}`);
    let bytes = run('zstd', ['-c', `-${rng.int(1, 19)}`, ...(rng.chance(0.5) ? ['--no-check'] : [])], body);
    if (rng.chance(0.3)) bytes = Buffer.concat([Buffer.from([0x50 + rng.int(0, 15), 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]), bytes]);
    if (rng.chance(0.3)) bytes = Buffer.concat([run('zstd', ['-c'], Buffer.alloc(0)), bytes]);
    const name = `z${String(f).padStart(2, '0')}.zst`;
    writeFileSync(join(data, name), bytes);
    expected.set(name, `Zstd.Hash.${f}`);
  }
  writeFileSync(join(dir, 'inner.hdb'), hashes.join('\n') + '\n');
  const args = ['--no-summary', '--allmatch', '-d', join(dir, 'inner.hdb'), data];
  // clamscan: no zstd support, nothing inside is seen.
  const clam = await runClamscan(args);
  assert.deepEqual(foundLines(clam.out), [], 'clamscan 1.4 does not open zstd');
  // vigil's reader gives every payload.
  const ctx = { limits: { maxFileSize: 100 << 20, maxFiles: 0, maxScanSize: 0 }, options: { ...DEFAULT_UNPACK_OPTIONS } };
  for (const name of readdirSync(data)) {
    const items = [...scanZstd(readFileSync(join(data, name)), ctx)];
    assert.equal(items.length, 1, name);
    const child = items[0]!;
    assert.ok('data' in child, name);
    const md5 = createHash('md5').update(child.data).digest('hex');
    assert.ok(hashes.some((h) => h.startsWith(`${md5}:`) && h.endsWith(`:${expected.get(name)!}`)), `${name}: the payload`);
  }
  // vigil scan opens zstd: each payload's hash, once per file in default mode.
  const mine = foundLines(vigilScan(args.filter((a) => a !== '--allmatch')).out);
  assert.deepEqual(mine, [...expected].map(([n, s]) => `${join(data, n)}: ${s}.UNOFFICIAL FOUND`).sort());
  t.diagnostic(`clamscan: 0 FOUND lines; vigil: ${mine.length} of ${expected.size} payloads`);
});
