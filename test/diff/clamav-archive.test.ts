/**
 * Archive layers: `vigil scan` against `clamscan` on seeded cpio (old binary both byte orders,
 * odc, newc, crc), ISO 9660 (with and without Joliet, 2048-byte and raw 2352-byte sectors), MS-SZDD, ARJ (methods 0-4, garbled, and
 * self-extractors) and
 * LHA (`-lh0-`, `-lh5-`, `-lh6-`, `-lh7-` at header levels 0-2 from jLHA; `-lh1-`, `-lzs-`, `-lz5-`
 * at levels 0-3 encoded here) archives. Members carry planted
 * body marks and hash-signed payloads, plain or nested (gzip, tar, zip inside the archive), and
 * some archives are cut short, damaged or wrapped in gzip. The same `FOUND` lines and exit code
 * in default mode, with `--allmatch`, and with `--allmatch --max-filesize`. The archives come
 * from the real tools (cpio, xorriso, arj, lha) — a format whose tool is absent is left out with
 * a diagnostic — except old big-endian cpio, SZDD and the LHA methods jLHA lacks, which no
 * installed tool writes and are built here. Skips with a message when clamscan 1.4 is absent.
 */
import { test, type TestContext } from 'node:test';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { buildZip } from '../helpers/zip-writer.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { szdd } from '../../src/formats/archive/szdd-encode.js';
import { entry as lhaEntry, lh1, lz5, lzs } from '../../src/formats/archive/lha-build.js';
import { compareLayers, MARKS } from './layers-diff.js';
import { ustar } from '../helpers/tar-writer.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';

function has(tool: string, args: string[]): boolean {
  try {
    execFileSync(tool, args, { stdio: 'ignore' });
    return true;
  } catch (e) {
    // arj and lha print their usage and exit non-zero: they are there.
    return (e as { status?: number | null }).status != null;
  }
}

/** A ustar archive holding one file. */
const tarOf = (name: string, data: Buffer): Buffer => ustar([{ name, data }]);

/** One old binary cpio entry, big-endian (the byte order no tool here writes). */
function oldBe(name: string, data: Buffer, mode = 0o100644): Buffer {
  const h = Buffer.alloc(26);
  h.writeUInt16BE(0o070707, 0);
  h.writeUInt16BE(mode, 6);
  h.writeUInt16BE(name.length + 1, 20);
  h.writeUInt16BE(data.length >>> 16, 22);
  h.writeUInt16BE(data.length & 0xffff, 24);
  const pad = (b: Buffer) => (b.length % 2 ? Buffer.concat([b, Buffer.alloc(1)]) : b);
  return Buffer.concat([h, pad(Buffer.from(name + '\0', 'latin1')), pad(data)]);
}

/** A 2048-byte-sector image as a raw CD image of 2352-byte sectors. */
function rawSectors(iso: Buffer): Buffer {
  const sync = Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 2, 0, 1]);
  const parts: Buffer[] = [];
  for (let at = 0; at < iso.length; at += 2048) parts.push(sync, iso.subarray(at, at + 2048), Buffer.alloc(288));
  return Buffer.concat(parts);
}

const FORMATS = ['cpio-bin', 'cpio-odc', 'cpio-newc', 'cpio-crc', 'cpio-be', 'iso', 'iso-joliet', 'iso-raw', 'szdd', 'arj', 'arj-sfx', 'lha', 'lha-coded'] as const;
type Format = (typeof FORMATS)[number];

/**
 * Writes `count` archives into `dir/data`, cycling through the formats whose tools are present;
 * returns the hash lines of the payloads. `heavy`: every archive is damaged, mostly in its
 * headers (the first 300 bytes, or the directory area of an image).
 */
function makeArchives(t: TestContext, rng: Prng, dir: string, count: number, heavy: boolean): string[] {
  const data = join(dir, 'data');
  mkdirSync(data);
  const tools: Record<string, boolean> = {
    cpio: has('cpio', ['--version']),
    xorriso: has('xorriso', ['-version']),
    arj: has('arj', []),
    lha: has('lha', []),
  };
  const needs: Record<Format, string | undefined> = {
    'cpio-bin': 'cpio', 'cpio-odc': 'cpio', 'cpio-newc': 'cpio', 'cpio-crc': 'cpio', 'cpio-be': undefined,
    iso: 'xorriso', 'iso-joliet': 'xorriso', 'iso-raw': 'xorriso', szdd: undefined, arj: 'arj', 'arj-sfx': 'arj', lha: 'lha', 'lha-coded': undefined,
  };
  for (const [tool, ok] of Object.entries(tools)) if (!ok) t.diagnostic(`${tool} is not installed: its archives are left out`);
  const hashes: string[] = [];
  const payload = (): Buffer => {
    const parts: Buffer[] = [Buffer.from(rng.bytes(rng.int(0, 700)))];
    if (rng.chance(0.6)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    // Some text, so that the LZ methods find matches.
    if (rng.chance(0.5)) parts.push(Buffer.from(Array.from({ length: rng.int(1, 60) }, () => rng.pick(['kestrel ', 'plover ', 'merlin\n'])).join(''), 'latin1'));
    parts.push(Buffer.from(rng.bytes(rng.int(0, 700))));
    return Buffer.concat(parts);
  };
  /** A member: a payload, plain or inside gzip / tar / zip; its hash recorded now and then. */
  /** Now and then a large text member (over one 26624-byte ARJ window), marked near its start. */
  const big = (): Buffer => {
    const words = Array.from({ length: rng.int(4000, 12000) }, () => rng.pick(['kestrel ', 'plover ', 'merlin\n', 'osprey ', String(rng.int(0, 99))]));
    return Buffer.concat([Buffer.from(rng.bytes(rng.int(8, 64))), Buffer.from(rng.pick(MARKS), 'latin1'), Buffer.from(words.join(''), 'latin1')]);
  };
  const member = (): Buffer => {
    const body = rng.chance(0.12) ? big() : payload();
    const kind = rng.int(0, 9);
    const method = rng.pick([0, 8]);
    const wrapped = kind === 0 ? gzipSync(body) : kind === 1 ? tarOf('inner.bin', body) : kind === 2 ? Buffer.from(buildZip([{ name: 'inner.bin', data: body, method }]).bytes) : body;
    if (kind === 0 || (kind === 2 && method === 8)) deflated = true;
    if (rng.chance(0.2)) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${hashes.length}`);
    return wrapped;
  };
  // Whether the archive being made holds a deflate stream: bytes overwritten inside one are a
  // matter for the gzip and ZIP readers (a stream damaged midway), so such archives are only cut.
  let deflated = false;
  const usable = FORMATS.filter((f) => needs[f] === undefined || tools[needs[f]!]);
  let made = 0;
  for (let f = 0; f < count; f++) {
    const format = usable[f % usable.length]!;
    const work = join(dir, `src${f}`);
    mkdirSync(work);
    const names: string[] = [];
    deflated = false;
    const count = format === 'szdd' ? 1 : rng.int(1, 4);
    for (let e = 0; e < count; e++) {
      const name = rng.chance(0.3) && format !== 'szdd' ? `d${e}/f${e}.bin` : `f${e}.bin`;
      mkdirSync(join(work, name, '..'), { recursive: true });
      writeFileSync(join(work, name), member());
      names.push(name);
    }
    const out = join(dir, `out${f}`);
    let bytes: Buffer;
    const run = (tool: string, args: string[], input?: string) => execFileSync(tool, args, { cwd: work, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'ignore'], ...(input === undefined ? {} : { input }) });
    switch (format) {
      case 'cpio-bin': case 'cpio-odc': case 'cpio-newc': case 'cpio-crc':
        bytes = run('cpio', ['-o', '-H', format.slice(5)], names.join('\n') + '\n');
        break;
      case 'cpio-be':
        bytes = Buffer.concat([...names.map((n) => oldBe(n, readFileSync(join(work, n)))), oldBe('TRAILER!!!', Buffer.alloc(0)), Buffer.alloc(200)]);
        break;
      case 'iso': case 'iso-joliet':
        run('xorriso', ['-as', 'mkisofs', ...(format === 'iso-joliet' ? ['-J'] : []), '-o', out, '.']);
        bytes = readFileSync(out);
        break;
      case 'iso-raw':
        // A raw CD image: 2352-byte sectors (sync, header, the 2048 bytes, error codes).
        run('xorriso', ['-as', 'mkisofs', '-J', '-o', out, '.']);
        bytes = rawSectors(readFileSync(out));
        break;
      case 'szdd':
        bytes = Buffer.from(szdd(readFileSync(join(work, names[0]!))));
        break;
      case 'arj': {
        const method = rng.int(0, 4);
        run('arj', ['a', `-m${method}`, ...(rng.chance(0.15) ? ['-gsecret'] : []), `${out}.arj`, ...names]);
        bytes = readFileSync(`${out}.arj`);
        break;
      }
      case 'arj-sfx':
        // A self-extractor (methods 0-3; arj refuses 4 there): the archive follows the extractor program (ARJSFX, found embedded).
        run('arj', ['a', '-je', `-m${rng.int(0, 3)}`, `${out}.exe`, ...names]);
        bytes = readFileSync(`${out}.exe`);
        break;
      case 'lha-coded': {
        // The methods jLHA does not write (-lh1-, -lzs-, -lz5-) and header level 3, encoded here.
        const parts = names.map((n) => {
          const body = readFileSync(join(work, n));
          const [method, packed] = rng.pick([['-lh1-', lh1], ['-lzs-', lzs], ['-lz5-', lz5], ['-lh0-', (x: Uint8Array) => x]] as const);
          return lhaEntry({ method, name: n, packed: packed(body), orig: body.length, level: rng.pick([0, 1, 2, 3] as const), ...(rng.chance(0.3) ? { commonCrc: true } : {}) });
        });
        bytes = Buffer.concat([...parts, Buffer.alloc(1)]);
        break;
      }
      case 'lha': {
        const method = rng.pick(['o5', 'o6', 'o7', 'z']);
        run('lha', [`c${rng.int(0, 2)}${method}`, `${out}.lzh`, ...names]);
        bytes = readFileSync(`${out}.lzh`);
        break;
      }
    }
    // Damage: cut short anywhere or in the second half, or bytes overwritten after the first header.
    const damage = heavy ? rng.int(0, 4) : rng.int(0, 9);
    if (heavy && damage >= 3 && !deflated) {
      // Headers: a few bytes in the first 300 (for images, in the descriptors and directories).
      bytes = Buffer.from(bytes);
      const [from, to] = format.startsWith('iso') ? [32768, Math.min(bytes.length, 32768 + 30 * 2352)] : [0, Math.min(bytes.length, 300)];
      for (let k = rng.int(1, 3); k > 0; k--) bytes[rng.int(from, to - 1)] = rng.pick([0, 0xff, rng.int(0, 255)]);
    }
    if (damage === 0) bytes = bytes.subarray(0, rng.int(Math.min(40, bytes.length), bytes.length));
    else if (damage === 1) bytes = bytes.subarray(0, rng.int(bytes.length >> 1, bytes.length));
    else if (damage === 2 && bytes.length > 200 && !deflated) {
      bytes = Buffer.from(bytes);
      for (let k = rng.int(1, 4); k > 0; k--) bytes[rng.int(100, bytes.length - 1)] = rng.int(0, 255);
    }
    if (rng.chance(0.1)) bytes = gzipSync(bytes);
    writeFileSync(join(data, `a${String(f).padStart(2, '0')}-${format}`), bytes);
    made++;
  }
  t.diagnostic(`${made} archives of ${usable.length} formats`);
  return hashes;
}

test(`archive layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-archive-'));
  const hashes = makeArchives(t, new Prng(SEED), dir, 104, false);
  await compareLayers(t, dir, hashes, [['--allmatch', '--max-files=3'], ['--max-files=2'], ['--allmatch', '--max-filesize=1500'], ['--allmatch', '--max-filesize=30000'], ['--allmatch', '--alert-exceeds-max', '--max-filesize=30000'], [], ['--allmatch']]);
});

test(`damaged archive layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-archive-damaged-'));
  const hashes = makeArchives(t, new Prng(`${SEED}/damaged`), dir, 78, true);
  await compareLayers(t, dir, hashes, [[], ['--allmatch']]);
});
