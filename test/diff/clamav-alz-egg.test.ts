/**
 * ALZ and EGG layers: `vigil scan` against `clamscan` on seeded archives in the layouts ALZip
 * writes (built by code: no tool writes either format on Linux) — ALZ members stored, deflate and
 * bzip2 with every size width, directories, encrypted members; EGG files stored, deflate, bzip2,
 * LZMA and AZO (ClamAV decodes neither), in several blocks, directories, encrypted files (KeyBase,
 * AES), comments, code-page names, solid and split archives, an EGG appended to a PE; nesting (ALZ
 * and EGG in ZIP, ZIP in ALZ and EGG); and damaged ones: cut short, bytes flipped, sizes that lie,
 * headers missing their end marks. The same `FOUND` lines and exit code in default mode, with
 * `--allmatch`, with `-a`, with `--alert-encrypted-archive`, and with MaxFileSize, MaxFiles and MaxScanSize limits (alerted or not).
 *
 * Skips with a message when clamscan 1.4, bzip2 or xz is absent.
 */
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { buildZip } from '../helpers/zip-writer.js';
import { buildPe } from '../helpers/exe-builders.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';
import { buildAlz, type AlzEntry, type AlzMethod } from '../../src/formats/archive/alz-build.js';
import { buildEgg, type EggFileSpec, type EggMethod } from '../../src/formats/archive/egg-build.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const works = (tool: string): boolean => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
const SKIP = CLAMSCAN_SKIP || (!works('xz') || !works('bzip2') ? 'xz or bzip2 is not installed: differential test skipped' : false);
const ALZ_METHODS: readonly AlzMethod[] = ['stored', 'deflate', 'bzip2'];
const EGG_METHODS: readonly EggMethod[] = ['stored', 'deflate', 'bzip2', 'stored', 'deflate', 'bzip2', 'lzma', 'azo'];

/** EGG archives with archive comments (ClamAV scans each comment, up to its first NUL, before the files). */
function commentArchives(dir: string, rng: Prng, hashes: string[]): void {
  const data = join(dir, 'data');
  mkdirSync(data);
  let n = 0;
  const payload = (): Buffer => {
    const b = Buffer.concat([Buffer.from(rng.bytes(rng.int(0, 300))), Buffer.from(rng.pick(MARKS), 'latin1'), Buffer.from(rng.bytes(rng.int(0, 300)))]);
    hashes.push(`${createHash('md5').update(b).digest('hex')}:${b.length}:Commented.${n++}`);
    return b;
  };
  for (let i = 0; i < 14; i++) {
    const comments = Array.from({ length: rng.int(1, 2) }, () => (rng.chance(0.7) ? `archive ${rng.pick(MARKS)} note` : `nul\u0000${rng.pick(MARKS)}`));
    writeFileSync(join(data, `commented${i}.egg`), buildEgg([{ name: `f${i}.bin`, data: payload(), method: rng.pick(['stored', 'deflate', 'bzip2'] as const) }], { comments, solid: i % 5 === 4 }));
  }
}

test('EGG archive comments: vigil and clamscan agree', { skip: SKIP }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-egg-comments-'));
  try {
    const hashes: string[] = [];
    commentArchives(dir, new Prng(`${SEED}:egg-comments`), hashes);
    await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['--max-filesize=1000', '--alert-exceeds-max']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// clamscan's `-a` chain has no link for a comment (ClamAV checks no metadata for it); the engine
// gives every child of an EGG layer one while CL_TYPE_EGG is in its META_TYPES.
test('EGG archive comments in the -a chain', { skip: SKIP }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-egg-comments-'));
  try {
    const hashes: string[] = [];
    commentArchives(dir, new Prng(`${SEED}:egg-comments`), hashes);
    await compareLayers(t, dir, hashes, [['-a']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ALZ and EGG archives: vigil and clamscan agree', { skip: SKIP }, async (t) => {
  const rng = new Prng(`${SEED}:alz-egg`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-alz-egg-'));
  try {
    const data = join(dir, 'data');
    mkdirSync(data);
    const hashes: string[] = [];
    let n = 0;
    const payload = (): Buffer => {
      const filler = (k: number): Buffer => Buffer.from(rng.chance(0.5) ? rng.bytes(k) : rng.words(Math.ceil(k / 6)).slice(0, k));
      const b = rng.chance(0.8)
        ? Buffer.concat([filler(rng.int(0, 700)), Buffer.from(rng.pick(MARKS), 'latin1'), filler(rng.int(0, 700))])
        : filler(rng.int(6, 900));
      hashes.push(`${createHash('md5').update(b).digest('hex')}:${b.length}:Inner.${n++}`);
      return b;
    };
    const put = (name: string, b: Uint8Array): void => writeFileSync(join(data, name), b);
    const flip = (x: Uint8Array, from: number): Uint8Array => {
      const y = Uint8Array.from(x);
      for (let k = rng.int(1, 3); k > 0; k--) {
        const at = rng.int(Math.min(from, x.length - 1), x.length - 1);
        y[at] = y[at]! ^ (1 << rng.int(0, 7));
      }
      return y;
    };

    const alzEntries = (): AlzEntry[] => Array.from({ length: rng.int(1, 4) }, (_, i): AlzEntry => {
      if (rng.chance(0.12)) return { name: `d${i}/`, directory: true };
      const e: AlzEntry = { name: `m${i}/f${i}.bin`, data: payload(), method: rng.pick(ALZ_METHODS) };
      if (rng.chance(0.25)) e.width = rng.pick([2, 4, 8]);
      if (rng.chance(0.1)) e.encrypted = true;
      return e;
    });
    const eggFiles = (): EggFileSpec[] => Array.from({ length: rng.int(1, 4) }, (_, i): EggFileSpec => {
      if (rng.chance(0.1)) return { name: `d${i}`, directory: true };
      const f: EggFileSpec = { name: `m${i}/f${i}.bin`, data: payload(), method: rng.pick(EGG_METHODS), blocks: rng.pick([1, 1, 1, 2, 3]) };
      if (rng.chance(0.1)) f.encrypt = rng.pick(['xor', 'aes128', 'aes256'] as const);
      if (rng.chance(0.15)) f.comment = `note ${rng.pick(MARKS)}`;
      if (rng.chance(0.1)) f.posixMode = rng.pick([0o100644, 0o40755, 0x40000 | 0o644]);
      if (rng.chance(0.05)) f.nameFlags = rng.pick([0x08, 0x10, 0x18]);
      return f;
    });

    // Plain archives.
    for (let i = 0; i < 20; i++) put(`plain${i}.alz`, buildAlz(alzEntries()));
    for (let i = 0; i < 20; i++) put(`plain${i}.egg`, buildEgg(eggFiles()));
    // EGG: solid (listed, not extracted), split volumes, an EGG appended to a PE (ClamAV's own
    // type table has no EGG SFX signature: only the PE's raw scan sees it).
    put('solid.egg', buildEgg(eggFiles(), { solid: true }));
    put('split-first.egg', buildEgg(eggFiles(), { split: { prev: 0, next: 77 } }));
    put('split-last.egg', buildEgg(eggFiles(), { split: { prev: 76, next: 0 } }));
    const pe = Buffer.from(buildPe({ seed: rng.int(1, 1e9), sections: [{ rawSize: 0x400 }, { rawSize: 0x200 }], entry: { section: 0, offset: 0 } }).bytes);
    put('sfx.exe', Buffer.concat([pe, buildEgg(eggFiles())]));
    // Encrypted members among plain ones, for --alert-encrypted-archive.
    put('enc-first.egg', buildEgg([{ name: 'e', data: payload(), encrypt: 'xor' }, { name: 'p', data: payload(), method: 'deflate' }]));
    put('enc-last.egg', buildEgg([{ name: 'p', data: payload(), method: 'bzip2' }, { name: 'e', data: payload(), encrypt: 'aes256' }]));
    put('enc-only.egg', buildEgg([{ name: 'e', data: payload(), encrypt: 'aes128' }]));
    put('enc-first.alz', buildAlz([{ name: 'e', data: payload(), encrypted: true }, { name: 'p', data: payload(), method: 'deflate' }]));
    // Big members for the MaxFileSize modes.
    const big = (): Buffer => { const b = Buffer.concat([payload(), Buffer.alloc(rng.int(1200, 3000), 0x41)]); return b; };
    for (let i = 0; i < 3; i++) {
      const bb = big();
      hashes.push(`${createHash('md5').update(bb).digest('hex')}:${bb.length}:Big.${i}`);
      put(`big${i}.alz`, buildAlz([{ name: 'b', data: bb, method: rng.pick(ALZ_METHODS) }, { name: 's', data: payload() }]));
      put(`big${i}.egg`, buildEgg([{ name: 'b', data: bb, method: rng.pick(['stored', 'deflate', 'bzip2'] as const) }, { name: 's', data: payload() }]));
    }

    // Nesting.
    for (let i = 0; i < 3; i++) {
      const a = buildAlz(alzEntries());
      put(`alzinzip${i}.zip`, buildZip([{ name: 'in.alz', data: a, method: 8, compressed: deflateRawSync(a) }]).bytes);
      const e = buildEgg(eggFiles());
      put(`egginzip${i}.zip`, buildZip([{ name: 'in.egg', data: e, method: 8, compressed: deflateRawSync(e) }]).bytes);
      const p = payload();
      const zip = buildZip([{ name: 'p.bin', data: p, method: 8, compressed: deflateRawSync(p) }]).bytes;
      put(`zipin${i}.egg`, buildEgg([{ name: 'z.zip', data: zip, method: rng.pick(['stored', 'deflate', 'bzip2'] as const) }]));
      put(`zipin${i}.alz`, buildAlz([{ name: 'z.zip', data: zip, method: rng.pick(ALZ_METHODS) }]));
      put(`egginalz${i}.alz`, buildAlz([{ name: 'x.egg', data: buildEgg(eggFiles()), method: 'deflate' }]));
    }

    // Damage.
    for (let i = 0; i < 24; i++) {
      const kind = i % 8;
      if (kind === 0) { const x = buildAlz(alzEntries()); put(`cut${i}.alz`, x.subarray(0, rng.int(8, x.length - 1))); }
      else if (kind === 1) { const x = buildEgg(eggFiles()); put(`cut${i}.egg`, x.subarray(0, rng.int(14, x.length - 1))); }
      else if (kind === 2) { const x = buildAlz(alzEntries()); put(`flip${i}.alz`, flip(x, 8)); }
      else if (kind === 3) { const x = buildEgg(eggFiles()); put(`flip${i}.egg`, flip(x, 14)); }
      else if (kind === 4) {
        put(`badsize${i}.alz`, buildAlz([{ name: 'a', data: payload(), method: rng.pick(ALZ_METHODS) }, { name: 'b', data: payload(), method: rng.pick(ALZ_METHODS), packedSize: rng.int(0, 3000) }, { name: 'c', data: payload() }]));
      } else if (kind === 5) {
        put(`badsize${i}.egg`, buildEgg([{ name: 'a', data: payload(), method: rng.pick(['stored', 'deflate'] as const) }, { name: 'b', data: payload(), method: rng.pick(['stored', 'deflate', 'bzip2'] as const), unpackedSize: rng.int(0, 3000) }, { name: 'c', data: payload() }]));
      } else if (kind === 6) {
        const bad = Uint8Array.from(deflateRawSync(payload()));
        bad[1] = bad[1]! ^ 0xff;
        put(`badstream${i}.alz`, buildAlz([{ name: 'x', data: new Uint8Array(40), method: 'deflate', packedData: bad }, { name: 'y', data: payload(), method: 'bzip2' }]));
      } else {
        put(`noname${i}.egg`, buildEgg([{ name: 'a', data: payload() }, { name: 'b', data: payload(), noName: true }, { name: 'c', data: payload() }]));
      }
    }

    // Long deflate streams with one bit flipped: what each tool keeps of the output before the damage
    // (ALZ: the reads before the one that meets it; EGG: every byte before it).
    for (let i = 0; i < 6; i++) {
      const parts: Buffer[] = [];
      while (parts.reduce((k, p) => k + p.length, 0) < rng.int(40000, 150000)) {
        parts.push(Buffer.from(rng.chance(0.6) ? rng.words(rng.int(200, 900)) : rng.bytes(rng.int(200, 3000))), Buffer.from(rng.pick(MARKS), 'latin1'));
      }
      const long = Buffer.concat(parts);
      const z = Uint8Array.from(deflateRawSync(long));
      const at = rng.int(Math.floor(z.length / 4), z.length - 1);
      z[at] = z[at]! ^ (1 << rng.int(0, 7));
      put(`longdamage${i}.alz`, buildAlz([{ name: 'long', data: long, method: 'deflate', packedData: z }, { name: 'next', data: payload(), method: 'deflate' }]));
      put(`longdamage${i}.egg`, buildEgg([{ name: 'long', data: long, method: 'deflate', packedData: z }, { name: 'next', data: payload(), method: 'deflate' }]));
    }

    await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['-a'], ['--alert-encrypted-archive'], ['--alert-encrypted-archive', '--allmatch'],
      ['--max-filesize=1000', '--alert-exceeds-max'], ['--max-filesize=1000', '--allmatch'], ['--max-filesize=60000', '--allmatch', '--alert-exceeds-max'],
      ['--max-files=3', '--alert-exceeds-max'], ['--max-scansize=5000', '--allmatch'], ['--max-scansize=3000', '--alert-exceeds-max']]);
  } finally {
    if (!process.env['VIGIL_DIFF_KEEP']) rmSync(dir, { recursive: true, force: true });
  }
});
