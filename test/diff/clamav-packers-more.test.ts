/**
 * Packed executables (ASPack, Petite, NsPack): `vigil scan` against `clamscan` on seeded samples,
 * the same `FOUND` lines and exit code in each mode. Skips with a message when clamscan 1.4 is
 * absent.
 *
 * No packer is installed: the samples are made by the packers under src/formats/packers/. ASPack
 * ones (aspack-pack.ts: Huffman-coded LZ blocks) vary in loader version (2.12, between, 2.42),
 * call rewriting, tables rebuilt inside a block (absolute or as changes), distance low bits
 * through their own code, a skipped block record, loader sections kept. Petite ones
 * (petite-pack.ts) vary in layout (2.2, 2.1 with a section after the loader), streams moved into
 * place or read from the loader, Petite's code left after the last section (with or without the
 * `.reloc` skew, an import list to walk, mangled or not) from which the entry point is decrypted,
 * sections decoded after their section's start, an empty section record, a resource directory. NsPack ones (nspack-pack.ts; their LZMA streams made by xz, skipped when
 * it is absent) vary in LZMA properties, a `jmp` before the loader, a zero dword before the
 * packed data, an empty first section (which ClamAV's UPX branch looks at first), a wrong
 * properties byte (the stream decodes to something else or fails; a large table meets the limit).
 * Payloads with marks lie in the original sections, so a mark is found only in the unpacked image
 * (unless the coder left it as it is); hash signatures are the MD5s of unpacked images, so they
 * match only when the rebuilt PE is byte for byte ClamAV's. Damaged copies (bytes changed, cut),
 * packed files inside ZIPs and a packed file inside a packed image's section are added. Modes:
 * default, `--allmatch`, a MaxFileSize between the packed and the unpacked sizes with
 * `--alert-exceeds-max`.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { buildZip } from '../helpers/zip-writer.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';
import { aspackPack } from '../../src/formats/packers/aspack-pack.js';
import { petitePack } from '../../src/formats/packers/petite-pack.js';
import { nspackPack } from '../../src/formats/packers/nspack-pack.js';
import { unpackPe } from '../../src/formats/packers/index.js';
import { DEFAULT_UNPACK_OPTIONS } from '../../src/formats/unpack.js';
import { CONTAINERS } from '../../src/formats/registry.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';

const SKIP: false | string = CLAMSCAN_SKIP || (CONTAINERS.has('CL_TYPE_MSEXE') ? false : 'the packers family (src/formats/packers) is not in src/formats/registry.ts yet: differential skipped');

const HAVE_XZ = spawnSync('xz', ['--version'], { stdio: 'ignore' }).status === 0;
const xz = (data: Uint8Array, p: { lc: number; lp: number; pb: number }): Uint8Array =>
  new Uint8Array(spawnSync('xz', ['--format=raw', `--lzma1=preset=6,lc=${p.lc},lp=${p.lp},pb=${p.pb}`, '-c'], { input: data, maxBuffer: 1 << 28 }).stdout);

interface Sec { name: string; data: Uint8Array; vsize?: number }

test(`ASPack, Petite, NsPack: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: SKIP }, async (t) => {
  const rng = new Prng(`${SEED}-packers-more`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-packers-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  const ctx = { limits: { maxFileSize: 25 * 1024 * 1024, maxFiles: 0, maxScanSize: 100 * 1024 * 1024 }, options: { ...DEFAULT_UNPACK_OPTIONS } };
  const payload = (): Uint8Array => {
    const parts: Uint8Array[] = [rng.bytes(rng.int(0, 1500))];
    if (rng.chance(0.4)) parts.push(new Uint8Array(rng.int(100, 30000)));
    if (rng.chance(0.3)) parts.push(Uint8Array.from(Array.from({ length: rng.int(10, 200) }, (_, i) => (i % 5 === 0 ? 0xe8 : i % 5 === 1 ? rng.int(0, 3) : i % 5 < 4 ? rng.int(0, 255) : 0))));
    if (rng.chance(0.6)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    if (rng.chance(0.3)) parts.push(parts[0]!.subarray(0, rng.int(0, parts[0]!.length)));
    parts.push(rng.bytes(rng.int(0, 1500)));
    return Buffer.concat(parts);
  };
  const sections = (): Sec[] =>
    Array.from({ length: rng.int(1, 4) }, (_, i) => ({ name: `.s${i}`, data: payload(), ...(rng.chance(0.3) ? { vsize: rng.int(0x100, 0x6000) } : {}) }));
  const counts = { aspack: 0, petite: 0, nspack: 0, unpacked: 0, damagedUnpacked: 0 };
  const pack = (secs: Sec[]): Uint8Array => {
    const kinds = HAVE_XZ ? (['aspack', 'aspack', 'petite', 'petite', 'nspack'] as const) : (['aspack', 'aspack', 'petite'] as const);
    const kind = rng.pick(kinds);
    const entry = 0x1000 + rng.int(0, 0x100);
    let packed: Uint8Array;
    if (kind === 'aspack') {
      packed = aspackPack(secs, entry, {
        version: rng.pick(['2.12', 'other', '2.42'] as const),
        calls: rng.chance(0.6),
        keepLoader: rng.chance(0.2),
        skipRecord: rng.chance(0.3),
        encode: { ...(rng.chance(0.3) ? { rebuildAt: rng.int(0, 400) } : {}), delta: rng.chance(0.5), lowBits: rng.chance(0.5) },
      });
    } else if (kind === 'petite') {
      const code = rng.chance(0.5) ? { reloc: rng.chance(0.5), mangled: rng.chance(0.5), imports: rng.chance(0.5) ? [[rng.int(1, 0x7fffffff), 0x80000000 + rng.int(0, 100), 0x401000], [rng.int(0x1000, 0x9000)]] : [] } : false;
      packed = petitePack(secs, entry, {
        version: rng.pick([1, 2] as const), move: rng.chance(0.6), code,
        ...(rng.chance(0.3) ? { resource: [rng.int(0x1000, 0x9000), rng.int(1, 0x400)] as [number, number] } : {}),
        ...(rng.chance(0.25) ? { shift: rng.int(1, 0x40) * 4 } : {}),
        ...(rng.chance(0.25) ? { ghost: rng.int(1, 0x20) * 0x800 } : {}),
      });
    } else {
      const props = rng.pick([{ lc: 3, lp: 0, pb: 2 }, { lc: 0, lp: 2, pb: 0 }, { lc: 4, lp: 0, pb: 4 }, { lc: 1, lp: 1, pb: 1 }]);
      // Now and then a properties byte that is not the stream's: a large lc + lp makes the table exceed the small MaxFileSize.
      const propsByte = rng.chance(0.15) ? rng.int(0, 0xe0) : undefined;
      packed = nspackPack(secs, entry, { compress: xz, props, jump: rng.chance(0.4), zeroDword: rng.chance(0.3), emptyFirst: rng.chance(0.4), ...(propsByte === undefined ? {} : { propsByte }) });
    }
    counts[kind]++;
    const r = unpackPe(packed, ctx).outcome;
    if (typeof r !== 'string' && 'data' in r) {
      counts.unpacked++;
      if (rng.chance(0.6)) hashes.push(`${createHash('md5').update(r.data).digest('hex')}:${r.data.length}:Packed.Hash.${hashes.length}`);
    }
    return packed;
  };
  let k = 0;
  const put = (bytes: Uint8Array, ext = 'exe'): void => writeFileSync(join(data, `p${String(k++).padStart(3, '0')}.${ext}`), bytes);
  for (let f = 0; f < 60; f++) {
    const packed = pack(sections());
    put(packed);
    if (rng.chance(0.4)) {
      // Damage: bits flipped anywhere after the headers, or bytes changed inside the first
      // section's raw data (the first stream); what vigil then unpacks gets a hash signature too.
      const bad = packed.slice();
      const first = new DataView(bad.buffer).getUint32(0x80 + 0xf8 + 20, true) || 0x400;
      for (let n = rng.int(1, 3); n > 0; n--) {
        const at = rng.chance(0.5) ? rng.int(0x400, bad.length - 1) : Math.min(bad.length - 1, first + rng.int(0, 0x400));
        bad[at] = bad[at]! ^ (1 << rng.int(0, 7));
      }
      put(bad);
      const r = unpackPe(bad, ctx).outcome;
      if (typeof r !== 'string' && 'data' in r) {
        counts.damagedUnpacked++;
        hashes.push(`${createHash('md5').update(r.data).digest('hex')}:${r.data.length}:Damaged.Hash.${hashes.length}`);
      }
    }
    if (rng.chance(0.15)) put(packed.subarray(0, rng.int(0x300, packed.length - 1)));
  }
  for (let f = 0; f < 6; f++) put(buildZip(Array.from({ length: rng.int(1, 3) }, (_, i) => ({ name: `p${i}.exe`, data: pack(sections()), method: rng.pick([0, 8]) }))).bytes, 'zip');
  // A packed executable inside a section of another packed image.
  for (let f = 0; f < 4; f++) {
    const inner = pack(sections());
    const secs = sections();
    secs.push({ name: '.inner', data: Buffer.concat([rng.bytes(rng.int(0, 300)), inner]) });
    put(pack(secs));
  }
  if (!HAVE_XZ) t.diagnostic('xz is not installed: no NsPack samples');
  t.diagnostic(`samples: ${counts.aspack} ASPack, ${counts.petite} Petite, ${counts.nspack} NsPack (${counts.unpacked} unpacked here; ${counts.damagedUnpacked} damaged copies still unpacked); ${hashes.length} image hashes`);
  await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['--max-filesize=30000', '--alert-exceeds-max']]);
});
