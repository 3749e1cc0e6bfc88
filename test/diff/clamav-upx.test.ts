/**
 * Packed executables (UPX, FSG 2.0/1.33/1.31, MEW, PESpin, WWPack32, yC): `vigil scan` against `clamscan` on seeded samples,
 * the same `FOUND` lines and exit code in each mode. Skips with a message when clamscan 1.4 is
 * absent.
 *
 * No packer is installed: the samples are made by the packers under src/formats/packers/. UPX
 * ones (upx-pack.ts: NRV2B/2D/2E streams from a greedy coder, the stub bytes ClamAV's detection
 * reads) vary in method, where the loader's decoder bytes sit (entry + 0x69, + 0x71, absent:
 * ClamAV tries every decoder), junk before the stream (the stub's skew; at 0x15 the fall-back
 * offset finds it), how the original header is reached (pointer at the method's distance,
 * searched pointer, backward scan, none: a forged header), import lists, a raw section after
 * UPX1; some carry LZMA stubs of either form ClamAV knows, their stream made by xz. FSG (fsg-pack.ts: aPLib-style streams; 2.0 with the loader's stack and table, 1.33 and
 * 1.31 with one stream per section and their tables in the headers' padding) and WWPack32
 * (wwpack-pack.ts: one coded block per section, the loader's records) and yC (yc-pack.ts: sections
 * encrypted by random decryptors of yC's instruction set, a `.rsrc` left in clear) and MEW
 * (mew-pack.ts: the loader in the section table, one aPLib-style stream per section) and PESpin
 * (spin-pack.ts: sections compressed, XORed and encrypted or not, resources half compressed, the
 * loader encrypted in four layers) samples come in between.
 * Payloads with marks lie in the original sections, so a mark is found only in the unpacked image
 * (unless the coder left it as a run of literals); hash signatures are the MD5s of unpacked
 * images, so they match only when the rebuilt PE is byte for byte ClamAV's. Damaged copies (bytes
 * changed, cut), packed files inside ZIPs and a packed file inside a packed image's section are
 * added. Modes: default, `--allmatch`, a MaxFileSize between the packed and the unpacked sizes
 * with `--alert-exceeds-max`.
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
import { upxPack, type UpxPackOptions, type UpxSection } from '../../src/formats/packers/upx-pack.js';
import { fsg131Pack, fsg133Pack, fsgPack } from '../../src/formats/packers/fsg-pack.js';
import { wwPack } from '../../src/formats/packers/wwpack-pack.js';
import { ycPack } from '../../src/formats/packers/yc-pack.js';
import { mewPack } from '../../src/formats/packers/mew-pack.js';
import { spinPack, type SpinSection } from '../../src/formats/packers/spin-pack.js';
import { unpackPe } from '../../src/formats/packers/index.js';
import { DEFAULT_UNPACK_OPTIONS } from '../../src/formats/unpack.js';
import { CONTAINERS } from '../../src/formats/registry.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';

/** The engine reaches the unpackers only once their family is in the registry. */
const SKIP: false | string = CLAMSCAN_SKIP || (CONTAINERS.has('CL_TYPE_MSEXE') ? false : 'the packers family (src/formats/packers) is not in src/formats/registry.ts yet: differential skipped');

/** A raw LZMA stream (lc 3, lp 0, pb 2) made by xz, or undefined when xz is not installed. */
const HAVE_XZ = spawnSync('xz', ['--version'], { stdio: 'ignore' }).status === 0;
const xzLzma = (data: Uint8Array): Uint8Array => {
  const r = spawnSync('xz', ['--format=lzma', '--lzma1=preset=6,lc=3,lp=0,pb=2', '-c'], { input: data, maxBuffer: 1 << 28 });
  return new Uint8Array(r.stdout.subarray(13));
};

test(`packed executables: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: SKIP }, async (t) => {
  const rng = new Prng(`${SEED}-upx`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-upx-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  const ctx = { limits: { maxFileSize: 25 * 1024 * 1024, maxFiles: 0, maxScanSize: 100 * 1024 * 1024 }, options: { ...DEFAULT_UNPACK_OPTIONS } };
  const payload = (): Uint8Array => {
    const parts: Uint8Array[] = [rng.bytes(rng.int(0, 1500))];
    if (rng.chance(0.4)) parts.push(new Uint8Array(rng.int(100, 30000)));
    if (rng.chance(0.6)) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'));
    parts.push(rng.bytes(rng.int(0, 1500)));
    return Buffer.concat(parts);
  };
  const sections = (): UpxSection[] =>
    Array.from({ length: rng.int(1, 4) }, (_, i) => ({ name: `.s${i}`, data: payload(), ...(rng.chance(0.3) ? { vsize: rng.int(0x100, 0x6000) } : {}) }));
  const options = (): UpxPackOptions => {
    const signature = rng.pick([0x69, 0x71, false] as const);
    const skew = rng.chance(0.6) ? 0 : signature === false ? rng.pick([0x15, 0x15, 0x30]) : rng.int(1, 0x200);
    const lzma = HAVE_XZ && rng.chance(0.3);
    return {
      method: rng.pick(['2b', '2d', '2e'] as const),
      ...(lzma ? { lzma: { compress: xzLzma, form: rng.pick([1, 2] as const) }, skew: rng.pick([0, 0x15]) } : {}),
      header: rng.pick(['magic', 'magic', 'scan', 'backscan', 'none'] as const),
      signature,
      ...(lzma ? {} : { skew }),
      imports: rng.int(0, 3),
      ...(rng.chance(0.2) ? { extra: payload() } : {}),
    };
  };
  const counts = { upx: 0, lzma: 0, fsg: 0, wwpack: 0, yc: 0, mew: 0, pespin: 0 };
  /** PESpin's choices per section: compressed or not, XORed, through the second decryptor, resources. */
  const spinSections = (secs: UpxSection[]): SpinSection[] => {
    const out: SpinSection[] = secs.map((s) => ({ ...s, compress: rng.chance(0.7), xor: rng.chance(0.8), poly: rng.chance(0.8) }));
    if (rng.chance(0.4)) out.push({ name: '.rsrc', data: payload(), resourceHead: rng.int(1, 0x300) });
    return out;
  };
  /** Packs (UPX mostly, FSG 2.0, WWPack or yC now and then), and records the unpacked image's MD5 as a signature now and then. */
  const pack = (secs: UpxSection[]): Uint8Array => {
    const kind = rng.pick(['upx', 'upx', 'upx', 'fsg', 'wwpack', 'yc', 'mew', 'pespin'] as const);
    const entry = 0x1000 + rng.int(0, 0x100);
    if (kind === 'yc' && rng.chance(0.5)) secs = [...secs, { name: '.rsrc', data: payload() }];
    const fsg = (): Uint8Array => {
      const form = rng.int(0, 2);
      return form === 0 ? fsgPack(secs, entry) : form === 1 ? fsg133Pack(secs, entry, 0x400000, rng.chance(0.5)) : fsg131Pack(secs, entry - 0x1000);
    };
    const upxOptions = options();
    if (kind === 'upx' && upxOptions.lzma) counts.lzma++;
    const packed = kind === 'upx' ? upxPack(secs, upxOptions) : kind === 'fsg' ? fsg() : kind === 'wwpack' ? wwPack(secs, entry) : kind === 'mew' ? mewPack(secs, entry, rng.pick([0x154, 0x158] as const))
        : kind === 'pespin' ? spinPack(spinSections(secs), rng) : ycPack(secs, rng, entry);
    counts[kind]++;
    const r = unpackPe(packed, ctx).outcome;
    if (typeof r !== 'string' && 'data' in r && rng.chance(0.5)) hashes.push(`${createHash('md5').update(r.data).digest('hex')}:${r.data.length}:Packed.Hash.${hashes.length}`);
    return packed;
  };
  let k = 0;
  const put = (bytes: Uint8Array, ext = 'exe'): void => writeFileSync(join(data, `u${String(k++).padStart(3, '0')}.${ext}`), bytes);
  for (let f = 0; f < 60; f++) {
    const packed = pack(sections());
    put(packed);
    if (rng.chance(0.25)) {
      const bad = packed.slice();
      for (let n = rng.int(1, 3); n > 0; n--) {
        const at = rng.int(0x400, bad.length - 1);
        bad[at] = bad[at]! ^ (1 << rng.int(0, 7));
      }
      put(bad);
    }
    if (rng.chance(0.1)) put(packed.subarray(0, rng.int(0x300, packed.length - 1)));
  }
  for (let f = 0; f < 6; f++) put(buildZip(Array.from({ length: rng.int(1, 3) }, (_, i) => ({ name: `p${i}.exe`, data: pack(sections()), method: rng.pick([0, 8]) }))).bytes, 'zip');
  // A packed executable inside a section of another packed image.
  for (let f = 0; f < 4; f++) {
    const inner = pack(sections());
    const secs = sections();
    secs.push({ name: '.inner', data: Buffer.concat([rng.bytes(rng.int(0, 300)), inner]) });
    put(pack(secs));
  }
  if (!HAVE_XZ) t.diagnostic('xz is not installed: no UPX LZMA samples');
  t.diagnostic(`samples: ${counts.upx} UPX (${counts.lzma} LZMA), ${counts.fsg} FSG (2.0, 1.33, 1.31), ${counts.wwpack} WWPack, ${counts.yc} yC, ${counts.mew} MEW, ${counts.pespin} PESpin; ${hashes.length} image hashes`);
  await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['--max-filesize=30000', '--alert-exceeds-max']]);
});
