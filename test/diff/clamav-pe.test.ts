/**
 * PE section hashes (`.mdb`/`.msb`) and import hashes (`.imp`): what vigil computes against what
 * ClamAV 1.4 matches, on PE32 and PE32+ files built with MinGW-w64 and seeded damaged copies of
 * them (truncated, sections moved past the end, overlays appended, header fields overwritten).
 *
 * In: `VIGIL_DIFF_SEED` (default 20261129). Out:
 * 1. On the files as built, `peHashLookups` gives exactly the section hashes and import hash that
 *    `sigtool --mdb` / `sigtool --imp` print.
 * 2. Signature databases are written from those hashes — MD5 `.mdb`, SHA1/SHA256 `.msb`, some
 *    with a `*` size, `.imp` lines (also for PE32+, where ClamAV does not look them up) — and
 *    `clamscan` scans all files, by default and with `--allmatch`. The FOUND lines it prints must be
 *    those `peHashHits` predicts over the same databases.
 * 3. `vigil scan` with the same databases must print the same FOUND lines and exit code (skipped
 *    with a message while the engine does not look section and import hashes up).
 * Skips with a message when clamscan 1.4, sigtool or the MinGW tools are absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP, runClamscan } from '../helpers/clamscan-run.js';
import { vigilScan, foundLines } from './layers-diff.js';
import { peHashHits, peHashLookups, type PeHashPort } from '../../src/formats/pefull/clamav.js';
import { peImage } from '../../src/formats/pefull/image.js';
import { buildMingwCorpus, mingwMissing, type CorpusFile } from '../../src/formats/pefull/test-corpus.js';
import type { HashAlgo } from '../../src/signatures/clamav/types.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const SIGTOOL_OK = spawnSync('sigtool', ['--version'], { encoding: 'utf8' }).status === 0;
const SKIP = CLAMSCAN_SKIP || (!SIGTOOL_OK ? 'sigtool is not installed' : mingwMissing()) || false;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function put32(b: Uint8Array, at: number, v: number): void {
  for (let k = 0; k < 4; k++) b[at + k] = (v >>> (8 * k)) & 0xff;
}

/** Damaged copies ClamAV must still hash the way vigil does. */
function damaged(rng: Prng, f: CorpusFile): CorpusFile[] {
  const out: CorpusFile[] = [];
  const img = peImage(f.bytes);
  if (!img) return out;
  const secs = img.sections.filter((s) => s.sizeOfRawData > 0);
  for (let k = 0; k < 3; k++) {
    const cut = rng.int(img.sectionTableOffset + 40 * img.sections.length, f.bytes.length - 1);
    out.push({ name: `${f.name}.cut${cut}`, bytes: f.bytes.slice(0, cut) });
  }
  const last = secs[secs.length - 1];
  if (last) {
    const b = f.bytes.slice();
    put32(b, last.offset + 20, f.bytes.length + 0x1000);
    out.push({ name: `${f.name}.pastend`, bytes: b });
  }
  const mid = secs[rng.int(0, Math.max(0, secs.length - 1))];
  if (mid) {
    const b = f.bytes.slice();
    put32(b, mid.offset + 16, mid.sizeOfRawData + rng.int(1, 0x300));
    out.push({ name: `${f.name}.rawsize`, bytes: b });
    const c = f.bytes.slice();
    put32(c, mid.offset + 20, mid.pointerToRawData + rng.int(1, 0x1ff));
    out.push({ name: `${f.name}.misaligned`, bytes: c });
  }
  // An imported function name ClamAV refuses ([A-Za-z0-9_.] only): its import hashing fails.
  const at = Buffer.from(f.bytes).indexOf('GetLastError\0');
  if (at > 0) {
    const b = f.bytes.slice();
    b[at + 3] = 0x2d;
    out.push({ name: `${f.name}.badname`, bytes: b });
  }
  const ov = new Uint8Array(f.bytes.length + 777);
  ov.set(f.bytes);
  ov.set(rng.bytes(777), f.bytes.length);
  out.push({ name: `${f.name}.overlay`, bytes: ov });
  return out;
}

interface Sig { algo: HashAlgo; digest: string; size: number | null; name: string; kind: 'mdb' | 'imp' }

/** A HashPort over the generated signatures, with ClamAV's one-exact-one-wild answer. */
function port(sigs: readonly Sig[], kind: Sig['kind']): PeHashPort<string> {
  const mine = sigs.filter((s) => s.kind === kind);
  return {
    algorithmsFor: (size) => (['md5', 'sha1', 'sha256'] as const).filter((a) => mine.some((s) => s.algo === a && (s.size === null || s.size === size))),
    lookup: (algo, digest, size) => {
      const d = hex(digest);
      const exact = mine.find((s) => s.algo === algo && s.size === size && s.digest === d);
      const wild = mine.find((s) => s.algo === algo && s.size === null && s.digest === d);
      return [exact, wild].filter((s): s is Sig => !!s).map((s) => s.name);
    },
  };
}

test(`PE section and import hashes: vigil's equal sigtool's and clamscan's (seed ${SEED})`, { skip: SKIP }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-pe-'));
  let keep = false;
  try {
    const build = join(dir, 'build');
    const data = join(dir, 'data');
    mkdirSync(build);
    mkdirSync(data);
    const base = buildMingwCorpus(build);
    const rng = new Prng(SEED);

    // 1. sigtool's own hashes of the built files.
    let checked = 0;
    for (const f of base) {
      const path = join(build, `${f.name}.probe`);
      writeFileSync(path, f.bytes);
      const mdb = spawnSync('sigtool', ['--mdb', path], { encoding: 'latin1' });
      const imp = spawnSync('sigtool', ['--imp', path], { encoding: 'latin1' });
      const want = [...`${mdb.stdout}${mdb.stderr}`.matchAll(/Section\{\d+\}: (\d+):([0-9a-f]{32})/g)].map((m) => `${m[1]}:${m[2]}`);
      const mine = peHashLookups(f.bytes);
      assert.deepEqual(mine.sections.map((s) => `${s.size}:${hex(s.md5)}`), want, `section hashes of ${f.name}`);
      const impWant = /Imphash: ([0-9a-f]{32}):(\d+)/.exec(`${imp.stdout}${imp.stderr}`);
      if (!peImage(f.bytes)!.pe64) {
        assert.ok(impWant, `sigtool prints an import hash for ${f.name}`);
        assert.equal(`${hex(mine.imphash!.md5)}:${mine.imphash!.size}`, `${impWant[1]}:${impWant[2]}`, `import hash of ${f.name}`);
      }
      checked++;
    }
    t.diagnostic(`sigtool agrees on ${checked} files`);

    // 2. Databases from the hashes, files scanned by clamscan.
    const files: CorpusFile[] = [];
    for (const f of base) files.push(f, ...damaged(rng, f));
    const sigs: Sig[] = [];
    const seen = new Set<string>();
    const add = (algo: HashAlgo, digest: Uint8Array, size: number, kind: Sig['kind']): void => {
      const wild = kind === 'mdb' && rng.chance(0.1);
      const key = `${kind}:${algo}:${hex(digest)}:${wild ? '*' : size}`;
      if (seen.has(key)) return;
      seen.add(key);
      sigs.push({ algo, digest: hex(digest), size: wild ? null : size, name: `PE.${kind === 'mdb' ? 'Sect' : 'Imp'}.${sigs.length}`, kind });
    };
    for (const f of files) {
      const h = peHashLookups(f.bytes);
      for (const s of h.sections) {
        if (!rng.chance(0.35)) continue;
        const algo = rng.pick(['md5', 'md5', 'sha1', 'sha256'] as const);
        add(algo, s[algo]!, s.size, 'mdb');
      }
      const imp = peHashLookups(f.bytes);
      if (imp.imphash) add('md5', imp.imphash.md5, imp.imphash.size, 'imp');
    }
    // PE32+ import hashes (sigtool computes them; clamscan never looks them up).
    for (const f of base) {
      if (!peImage(f.bytes)!.pe64) continue;
      const out = spawnSync('sigtool', ['--imp', join(build, `${f.name}.probe`)], { encoding: 'latin1' });
      const r = /Imphash: ([0-9a-f]{32}):(\d+)/.exec(`${out.stdout}${out.stderr}`);
      if (r) add('md5', Buffer.from(r[1]!, 'hex'), Number(r[2]), 'imp');
    }
    const line = (s: Sig): string => (s.kind === 'imp' ? `${s.digest}:${s.size}:${s.name}` : `${s.size ?? '*'}:${s.digest}:${s.name}${s.size === null ? ':73' : ''}`);
    writeFileSync(join(dir, 'sect.mdb'), sigs.filter((s) => s.kind === 'mdb' && s.algo === 'md5').map(line).join('\n') + '\n');
    writeFileSync(join(dir, 'sect.msb'), sigs.filter((s) => s.kind === 'mdb' && s.algo !== 'md5').map(line).join('\n') + '\n');
    writeFileSync(join(dir, 'imports.imp'), sigs.filter((s) => s.kind === 'imp').map(line).join('\n') + '\n');
    for (const f of files) writeFileSync(join(data, f.name), f.bytes);

    const sections = port(sigs, 'mdb');
    const imports = port(sigs, 'imp');
    const dbArgs = ['-d', join(dir, 'sect.mdb'), '-d', join(dir, 'sect.msb'), '-d', join(dir, 'imports.imp')];
    let vigilReady: boolean | undefined;
    for (const mode of [[], ['--allmatch']] as const) {
      const allmatch = mode.length > 0;
      const expected: string[] = [];
      for (const f of files) {
        const { hits } = peHashHits(f.bytes, sections, imports, allmatch);
        for (const name of hits) expected.push(`${join(data, f.name)}: ${name}.UNOFFICIAL FOUND`);
      }
      const args = ['--no-summary', ...mode, ...dbArgs, data];
      const clam = await runClamscan(args);
      const got = foundLines(clam.out);
      assert.ok(got.length >= 20, `the files carry detections (${got.length})`);
      if (JSON.stringify(got) !== JSON.stringify(expected.sort())) keep = true;
      assert.deepEqual(got, expected.sort(), `clamscan ${mode.join(' ') || 'default'}: files in ${dir}`);
      t.diagnostic(`${mode.join(' ') || 'default'}: ${got.length} FOUND lines predicted exactly (${got.filter((l) => l.includes('PE.Imp.')).length} import-hash ones; ${sigs.length} signatures, ${files.length} files)`);

      // 3. vigil scan.
      const mine = vigilScan(args);
      const mineLines = foundLines(mine.out);
      vigilReady ??= mineLines.some((l) => / PE\.(Sect|Imp)\./.test(l));
      if (!vigilReady) {
        t.diagnostic(`vigil scan: the engine does not look up PE section/import hashes yet (${mineLines.length} FOUND lines); comparison skipped`);
        continue;
      }
      assert.deepEqual(mineLines, got, `vigil scan ${mode.join(' ') || 'default'}: files in ${dir}`);
      assert.equal(mine.code, clam.code);
      t.diagnostic(`vigil scan ${mode.join(' ') || 'default'}: ${mineLines.length} FOUND lines agree`);
    }
  } finally {
    if (!keep && process.env['VIGIL_DIFF_KEEP'] !== '1') rmSync(dir, { recursive: true, force: true });
  }
});
