/**
 * Offsets relative to executables against clamscan: `EP+n`, `EP-n`, `Sx+n`, `SEx` and `SL+n`
 * body signatures generated from real executables — PE32 and PE32+ (EXE and DLL) built by
 * mingw-w64, ELF (executable, PIE, shared object, static) built by gcc — and Mach-O files built by
 * code. Each signature takes the bytes found at the place vigil computes; decoys take the same
 * bytes one byte off. clamscan and vigil must print the same `FOUND` lines with `--allmatch`.
 * Skips with a message when clamscan or a compiler is absent (the files a compiler cannot make are
 * left out and named).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP, runClamscan } from '../helpers/clamscan-run.js';
import { foundLines, vigilScan } from './layers-diff.js';
import { execInfo, type ExecKind } from '../../src/formats/exec.js';
import { buildMachO, randomMachOSpec } from '../helpers/exe-builders.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const TARGET: Record<ExecKind, number> = { pe: 1, elf: 6, macho: 9 };
const C = 'int value = 7; int work(int x) { return x * value + 3; }\nint main(int c, char **v) { return work(c); }\n';

function build(dir: string, cc: string, name: string, args: string[]): Buffer | undefined {
  const r = spawnSync(cc, [...args, '-o', join(dir, name), join(dir, 'p.c')]);
  return r.status === 0 ? readFileSync(join(dir, name)) : undefined;
}

test(`exec offsets: EP, Sx, SEx and SL signatures agree with clamscan (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-exec-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  writeFileSync(join(dir, 'p.c'), C);
  const files: { name: string; kind: ExecKind; bytes: Buffer }[] = [];
  const tryBuild = (cc: string, name: string, kind: ExecKind, args: string[]) => {
    const b = build(dir, cc, name, args);
    if (b) files.push({ name, kind, bytes: b });
    else t.diagnostic(`${cc} ${args.join(' ')}: not available here`);
  };
  tryBuild('x86_64-w64-mingw32-gcc', 'pe64.exe', 'pe', ['-O1']);
  tryBuild('x86_64-w64-mingw32-gcc', 'pe64.dll', 'pe', ['-O1', '-shared']);
  tryBuild('i686-w64-mingw32-gcc', 'pe32.exe', 'pe', ['-O1']);
  tryBuild('i686-w64-mingw32-gcc', 'pe32s.exe', 'pe', ['-O1', '-s']);
  tryBuild('gcc', 'elf-exec', 'elf', ['-no-pie']);
  tryBuild('gcc', 'elf-pie', 'elf', ['-pie', '-fPIE']);
  tryBuild('gcc', 'elf-so', 'elf', ['-shared', '-fPIC']);
  tryBuild('gcc', 'elf-static', 'elf', ['-static', '-s']);
  for (let k = 0; k < 4; k++) files.push({ name: `macho${k}`, kind: 'macho', bytes: Buffer.from(buildMachO(randomMachOSpec(rng.int(1, 1e9))).bytes) });
  assert.ok(files.length >= 6, 'executables were built');
  const sigs: string[] = [];
  const hex = (b: Buffer, at: number, len: number) => b.subarray(at, at + len).toString('hex');
  for (const f of files) {
    writeFileSync(join(data, f.name), f.bytes);
    const info = execInfo(f.bytes, f.kind);
    assert.ok(info, `vigil reads the header of ${f.name}`);
    const id = f.name.replace(/[^A-Za-z0-9]/g, '_');
    const tgt = TARGET[f.kind];
    const add = (label: string, offset: string, at: number, len = 10) => {
      if (at < 0 || at + len > f.bytes.length) return;
      const bytes = hex(f.bytes, at, len);
      if (/^(00)+$/.test(bytes)) return; // zeros match nearly anywhere nearby: not a test of the offset
      sigs.push(`${id}.${label}:${tgt}:${offset}:${bytes}`);
      // The bytes one place further on, at the same offset: must not match (unless the file repeats them).
      if (at + 1 + len <= f.bytes.length) sigs.push(`${id}.${label}.Decoy:${tgt}:${offset}:${hex(f.bytes, at + 1, len)}`);
    };
    add('Ep0', 'EP+0', info.entryPoint);
    const n = rng.int(1, 60);
    add(`Ep${n}`, `EP+${n}`, info.entryPoint + n);
    const m = rng.int(1, 30);
    const before = info.entryPoint - m >= 0 ? hex(f.bytes, info.entryPoint - m, 8) : '';
    if (before.length === 16 && !/^(00)+$/.test(before)) sigs.push(`${id}.EpMinus${m}:${tgt}:EP-${m}:${before}`);
    info.sections.slice(0, 12).forEach((s, x) => {
      if (s.rsize < 16) return;
      const k = rng.int(0, Math.max(0, Math.min(s.rsize, 4000) - 12));
      add(`S${x}p${k}`, `S${x}+${k}`, s.raw + k);
      const inside = s.raw + rng.int(0, Math.max(0, Math.min(s.rsize, 4000) - 12));
      const b = hex(f.bytes, inside, 12);
      if (!/^(00)+$/.test(b)) sigs.push(`${id}.SE${x}:${tgt}:SE${x}:${b}`);
    });
    const last = info.sections[info.sections.length - 1];
    if (last && last.rsize >= 16) add('Sl', `SL+${Math.min(8, last.rsize - 12)}`, last.raw + Math.min(8, last.rsize - 12));
  }
  // One signature per byte pattern: ClamAV orders signatures with identical patterns by the length
  // of their chains in its trie, which default mode would show (docs/roadmap.md, matching engine).
  const seen = new Set<string>();
  const unique = sigs.filter((l) => {
    const hexPart = l.slice(l.lastIndexOf(':') + 1);
    if (seen.has(hexPart)) return false;
    seen.add(hexPart);
    return true;
  });
  sigs.length = 0;
  sigs.push(...unique);
  writeFileSync(join(dir, 'exec.ndb'), sigs.join('\n') + '\n');
  for (const mode of [['--allmatch'], []]) {
    const args = ['--no-summary', ...mode, '-d', join(dir, 'exec.ndb'), data];
    const clam = await runClamscan(args);
    const mine = vigilScan(args);
    const want = foundLines(clam.out);
    assert.ok(want.length >= files.length, `the signatures match (${want.length} lines)`);
    assert.deepEqual(foundLines(mine.out), want, `mode ${mode.join(' ') || 'default'}; files in ${dir}`);
    assert.equal(mine.code, clam.code);
    t.diagnostic(`${mode.join(' ') || 'default'}: ${want.length} FOUND lines agree (${sigs.length} signatures over ${files.length} files)`);
  }
});
