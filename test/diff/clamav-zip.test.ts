/**
 * ZIP layers: `vigil scan` against `clamscan` on seeded archives, the same `FOUND` lines and exit
 * code in each mode. Skips with a message when clamscan 1.4 (or, for the second and third tests,
 * Info-ZIP zip and 7-Zip) is absent.
 *
 * 1. Built by code: stored and deflated files with planted body and hash signatures, data
 *    descriptors, directories, prepended stubs (reached as embedded entries), zip inside zip, gzip
 *    inside zip and zip inside gzip, archives cut short; default mode and `--allmatch`.
 * 2. Every method and feature, made by the real tools where they exist: Info-ZIP (stored, deflate,
 *    `-Z bzip2`, `-P` traditional encryption, `-fz` ZIP64), 7-Zip (Deflate64, BZip2, LZMA, AES-256
 *    and ZipCrypto), implode and fixed-block Deflate64 by our encoders (no installed tool writes
 *    them), stored entries declared larger than their data, archives where few entries extract
 *    (ClamAV's second walk over the local headers); in default mode, `--allmatch`,
 *    `--alert-encrypted` (with and without `--allmatch`), a small MaxFileSize with
 *    `--alert-exceeds-max` (bombs are cut, not skipped) and `--max-files=3 --alert-exceeds-max`.
 * 3. Bombs: a Fifield overlapping-entries bomb (default and `--heuristic-alerts=no`) and a
 *    42.zip-style nested bomb under small limits; each run of either tool must end within 2 s.
 */
import { test, type TestContext } from 'node:test';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { buildZip, type WriterEntry } from '../helpers/zip-writer.js';
import { CLAMSCAN_SKIP, runClamscan } from '../helpers/clamscan-run.js';
import { compareLayers, foundLines, MARKS, vigilScan } from './layers-diff.js';
import { deflate64Greedy, deflateFixed, implode, implodeFlags, overlappingBomb } from '../../src/formats/zipmethods/encoders.js';
import { loadSignatures } from '../../src/signatures/clamav/loader.js';
import { Engine, type ScanOptions } from '../../src/engine/engine.js';

const SEED = process.env['VIGIL_CLAM_ZIP_SEED'] ?? '20261129';

test(`zip layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-zip-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  const payload = (): Buffer => {
    const parts: Buffer[] = [Buffer.from(rng.bytes(rng.int(0, 700)))];
    if (rng.chance(0.5)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    parts.push(Buffer.from(rng.bytes(rng.int(0, 700))));
    return Buffer.concat(parts);
  };
  const archive = (depth: number): Buffer => {
    const entries: WriterEntry[] = [];
    for (let e = rng.int(1, 5); e > 0; e--) {
      const kind = rng.int(0, 7);
      const body = kind === 0 && depth < 2 ? archive(depth + 1) : kind === 1 ? gzipSync(payload()) : payload();
      if (rng.chance(0.15)) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${hashes.length}`);
      if (kind === 2) entries.push({ name: `dir${e}/`, data: '' });
      entries.push({
        name: `f${e}.bin`, data: body, method: rng.pick([0, 8]),
        ...(rng.chance(0.2) ? { descriptor: rng.pick(['signed', 'unsigned'] as const) } : {}),
      });
    }
    const built = buildZip(entries, rng.chance(0.1) ? { prefix: Buffer.from(rng.bytes(rng.int(10, 300))) } : {});
    return Buffer.from(built.bytes);
  };
  for (let f = 0; f < 50; f++) {
    let bytes = archive(0);
    if (rng.chance(0.15)) bytes = bytes.subarray(0, rng.int(30, bytes.length));
    if (rng.chance(0.15)) bytes = gzipSync(bytes);
    writeFileSync(join(data, `z${String(f).padStart(2, '0')}.zip`), bytes);
  }
  await compareLayers(t, dir, hashes, [[], ['--allmatch']]);
});

const tool = (cmd: string, args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const TOOLS_SKIP: false | string = CLAMSCAN_SKIP || (!tool('zip', ['-v']) ? 'Info-ZIP zip is not installed' : !tool('7zz', ['i']) ? '7-Zip (7zz) is not installed' : false);

test(`zip methods, encryption and ZIP64: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: TOOLS_SKIP }, async (t) => {
  const rng = new Prng(`${SEED}-methods`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-zipm-'));
  const data = join(dir, 'data');
  const work = join(dir, 'work');
  mkdirSync(data);
  mkdirSync(work);
  const hashes: string[] = [];
  /** Random bytes, maybe a mark, maybe a long run of zeros (so that small limits cut it), more bytes. */
  const payload = (): Buffer => {
    const parts: Buffer[] = [Buffer.from(rng.bytes(rng.int(6, 700)))];
    if (rng.chance(0.3)) parts.push(Buffer.alloc(rng.int(1000, 120000)));
    if (rng.chance(0.6)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    if (rng.chance(0.3)) parts.push(Buffer.alloc(rng.int(1000, 120000)));
    parts.push(Buffer.from(rng.bytes(rng.int(0, 700))));
    const body = Buffer.concat(parts);
    if (rng.chance(0.3)) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${hashes.length}`);
    return body;
  };
  const run = (cmd: string, args: string[]): void => {
    const r = spawnSync(cmd, args, { cwd: work, encoding: 'utf8' });
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  };
  /** Writes the payloads as files in `work` and runs a tool that makes `out` from them. */
  const withTool = (out: string, count: number, make: (names: string[], target: string) => [string, string[]][]): void => {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work);
    const names = Array.from({ length: count }, (_, i) => `p${i}.bin`);
    for (const n of names) writeFileSync(join(work, n), payload());
    for (const [cmd, args] of make(names, join(data, out))) run(cmd, args);
  };
  let k = 0;
  const next = (ext = 'zip'): string => `m${String(k++).padStart(3, '0')}.${ext}`;
  for (let round = 0; round < 6; round++) {
    const n = (): number => rng.int(1, 4);
    withTool(next(), n(), (f, o) => [['zip', ['-q', '-Z', 'bzip2', o, ...f]]]);
    withTool(next(), n(), (f, o) => [['zip', ['-q', rng.pick(['-0', '-6', '-9']), o, ...f]]]);
    withTool(next(), n(), (f, o) => [['7zz', ['a', '-bd', '-tzip', '-mm=Deflate64', o, ...f]]]);
    withTool(next(), n(), (f, o) => [['7zz', ['a', '-bd', '-tzip', '-mm=BZip2', o, ...f]]]);
    withTool(next(), n(), (f, o) => [['7zz', ['a', '-bd', '-tzip', '-mm=LZMA', o, ...f]]]);
    withTool(next(), n(), (f, o) => [['zip', ['-q', '-P', 'pw', o, ...f]]]);
    withTool(next(), n(), (f, o) => [['7zz', ['a', '-bd', '-tzip', '-ppw', rng.pick(['-mem=AES256', '-mem=ZipCrypto']), o, ...f]]]);
    withTool(next(), n(), (f, o) => [['zip', ['-q', '-fz', o, ...f]]]);
    // Deflate64 with repeats over 32 KiB back: 7-Zip declares 31-32 distance codes.
    withTool(next(), 1, (f, o) => {
      const half = Buffer.from(rng.bytes(rng.int(33000, 60000)));
      writeFileSync(join(work, f[0]!), Buffer.concat([half, Buffer.from(rng.pick(MARKS), 'latin1'), half]));
      return [['7zz', ['a', '-bd', '-tzip', '-mm=Deflate64', '-mx=9', o, ...f]]];
    });
    // One plain entry added to an encrypted archive (alert and detection together), and the reverse.
    withTool(next(), 3, (f, o) => [['zip', ['-q', o, f[0]!]], ['zip', ['-q', '-P', 'pw', o, f[1]!, f[2]!]]]);
    // Entries ClamAV does not extract next to one it does: its walk over the local headers.
    withTool(next(), 4, (f, o) => [['7zz', ['a', '-bd', '-tzip', '-mm=LZMA', o, f[0]!, f[1]!, f[2]!]], ['zip', ['-q', '-0', o, f[3]!]]]);
    // Implode and fixed-block Deflate64 (codes 285 with 16 extra bits and distances 30/31).
    const entries: WriterEntry[] = [];
    for (let e = rng.int(1, 3); e > 0; e--) {
      const body = payload();
      const opts = { largeWindow: rng.chance(0.5), literalTree: rng.chance(0.5), shape: rng.pick(['flat', 'mixed'] as const) };
      if (rng.chance(0.5)) entries.push({ name: `i${e}.bin`, data: body, method: 6, compressed: implode(body, opts), flags: implodeFlags(opts) });
      else entries.push({ name: `d${e}.bin`, data: body, method: 9, compressed: deflateFixed(deflate64Greedy(body), true) });
    }
    writeFileSync(join(data, next()), buildZip(entries).bytes);
    // A stored entry declared larger than its data (ClamAV inflates it first, then scans it as stored).
    const body = payload();
    writeFileSync(join(data, next()), buildZip([{ name: 'lies.bin', data: body, method: 0, compressed: deflateRawSync(body), uncompressedSize: body.length }]).bytes);
  }
  // Damaged copies: a few bytes changed, or the archive cut and its end record kept (streams that
  // stop early or go wrong: ClamAV scans what a decoder gave before the input ran out, and drops
  // what it gave before an error).
  for (const name of readdirSync(data).sort()) {
    if (!rng.chance(0.5)) continue;
    const b = Buffer.from(readFileSync(join(data, name)));
    if (rng.chance(0.5)) {
      for (let n = rng.int(1, 3); n > 0; n--) b[rng.int(40, Math.max(40, b.length - 100))]! ^= 1 << rng.int(0, 7);
      writeFileSync(join(data, `x-${name}`), b);
    } else {
      const eocd = b.lastIndexOf(Buffer.from([0x50, 0x4b, 5, 6]));
      const cd = b.readUInt32LE(eocd + 16);
      const lost = rng.int(1, Math.max(1, Math.floor(cd / 3)));
      const cut = Buffer.concat([b.subarray(0, cd - lost), b.subarray(cd)]);
      // The directory and end record keep their offsets: entries now run past their data.
      writeFileSync(join(data, `c-${name}`), cut);
    }
  }
  const modes = [[], ['--allmatch'], ['--alert-encrypted'], ['--alert-encrypted', '--allmatch'], ['--max-filesize=60000', '--alert-exceeds-max'], ['--max-files=3', '--alert-exceeds-max']];
  await compareLayers(t, dir, hashes, modes);
});

/**
 * Both tools on one file in one mode: the same FOUND lines and exit code; the engine's scan of the
 * file takes under `cpuMs` of CPU time (measured in this process, so that other work on the
 * machine does not count), and clamscan's wall time is reported.
 */
async function compareOne(t: TestContext, file: string, args: string[], engine: Engine, opts: ScanOptions, cpuMs: number): Promise<string[]> {
  const started = Date.now();
  const clam = await runClamscan(['--no-summary', ...args, file]);
  const clamMs = Date.now() - started;
  const mine = vigilScan(['--no-summary', ...args, file]);
  assert.deepEqual(foundLines(mine.out), foundLines(clam.out), `${file} ${args.join(' ')}`);
  assert.equal(mine.code, clam.code);
  const bytes = readFileSync(file);
  const cpu0 = process.cpuUsage();
  engine.scan(bytes, opts);
  const cpu = process.cpuUsage(cpu0);
  const used = (cpu.user + cpu.system) / 1000;
  assert.ok(used < cpuMs, `${file} ${args.join(' ')}: the scan took ${used.toFixed(0)} ms of CPU (clamscan ${clamMs} ms wall)`);
  t.diagnostic(`${file.replace(/.*\//, '')} ${args.slice(2).join(' ') || 'default'}: vigil ${used.toFixed(0)} ms CPU, clamscan ${clamMs} ms wall`);
  return foundLines(clam.out);
}

test('zip bombs: overlapping entries and nesting stop fast with clamscan\'s verdict', { skip: CLAMSCAN_SKIP }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-zipbomb-'));
  const db = join(dir, 'marks.ndb');
  writeFileSync(db, MARKS.map((m, i) => `Mark.${i}:0:*:${Buffer.from(m, 'latin1').toString('hex')}`).join('\n') + '\n');
  const kernel = deflateRawSync(new Uint8Array(5_000_000));
  const over = join(dir, 'overlap.zip');
  writeFileSync(over, overlappingBomb(20, 5_000_000, kernel));
  // Nested: 16 zips of 16 zips of 16 members of 50 MB of zeros each (12.8 GB in 20 KB).
  const leaf = new Uint8Array(50_000_000);
  const packedLeaf = deflateRawSync(leaf, { level: 9 });
  let nested = buildZip(Array.from({ length: 16 }, (_, i) => ({ name: `l${i}.bin`, data: leaf, method: 8, compressed: packedLeaf }))).bytes;
  for (let d = 0; d < 2; d++) nested = buildZip(Array.from({ length: 16 }, (_, i) => ({ name: `z${d}_${i}.zip`, data: nested, method: 8 }))).bytes;
  const n42 = join(dir, 'nested.zip');
  writeFileSync(n42, nested);
  const lines: string[] = [];
  const engine = new Engine(loadSignatures({ paths: [db] }));
  const limited: ScanOptions = { maxFileSize: 1 << 20, maxScanSize: 4 << 20 };
  lines.push(...await compareOne(t, over, ['-d', db], engine, {}, 2000));
  lines.push(...await compareOne(t, over, ['-d', db, '--heuristic-alerts=no'], engine, { unpack: { heuristicAlerts: false } }, 2000));
  lines.push(...await compareOne(t, n42, ['-d', db, '--max-filesize=1M', '--max-scansize=4M', '--alert-exceeds-max'], engine, { ...limited, alertExceedsMax: true }, 2000));
  lines.push(...await compareOne(t, n42, ['-d', db, '--max-filesize=1M', '--max-scansize=4M'], engine, limited, 2000));
  assert.deepEqual(lines, [`${over}: Heuristics.Zip.OverlappingFiles FOUND`, `${n42}: Heuristics.Limits.Exceeded.MaxScanSize FOUND`]);
  t.diagnostic(`bombs: ${lines.length} FOUND lines agree`);
});
