/**
 * `vigil yara -D` against `yara -D` (4.2.3): the module data printed for ELF files built by gcc
 * and by code, PE32 and PE32+ executables and DLLs built by mingw-w64, thin and universal Mach-O
 * files built by code, and files of none of these formats, for rules importing every module yara
 * 4.2.3 has; the outputs must be byte-identical. Skips with a message when yara is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { vigilBin } from './run-vigil.js';
import { buildElf, buildMachO, buildPe, randomElfSpec, randomMachOSpec, randomPeSpec } from '../helpers/exe-builders.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const HAVE_YARA = spawnSync('yara', ['--version']).status === 0;

test(`-D module data: vigil yara prints what yara 4.2.3 prints (seed ${SEED})`, { skip: !HAVE_YARA && 'yara is not installed' }, (t) => {
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-D-'));
  writeFileSync(join(dir, 'p.c'), 'int v = 3; int f(int x) { return x * v; }\nint main(int c, char **a) { return f(c); }\n');
  const files: { name: string; bytes: Buffer }[] = [];
  const cc = (compiler: string, name: string, args: string[]) => {
    const r = spawnSync(compiler, [...args, '-o', join(dir, name), join(dir, 'p.c')]);
    if (r.status === 0) files.push({ name, bytes: readFileSync(join(dir, name)) });
    else t.diagnostic(`${compiler} ${args.join(' ')} is not available here`);
  };
  cc('gcc', 'elf-exec', ['-no-pie']);
  cc('gcc', 'elf-so', ['-shared', '-fPIC']);
  cc('x86_64-w64-mingw32-gcc', 'pe64.exe', []);
  cc('x86_64-w64-mingw32-gcc', 'pe64.dll', ['-shared']);
  cc('i686-w64-mingw32-gcc', 'pe32.exe', ['-s']);
  for (let k = 0; k < 4; k++) {
    files.push({ name: `elf${k}`, bytes: Buffer.from(buildElf(randomElfSpec(rng.int(1, 1e9))).bytes) });
    files.push({ name: `macho${k}`, bytes: Buffer.from(buildMachO(randomMachOSpec(rng.int(1, 1e9))).bytes) });
    files.push({ name: `pe${k}`, bytes: Buffer.from(buildPe(randomPeSpec(rng.int(1, 1e9))).bytes) });
  }
  files.push({ name: 'text.txt', bytes: Buffer.from('plain text, of no executable format\n'.repeat(20)) });
  const rules = join(dir, 'all.yar');
  writeFileSync(rules, ['pe', 'elf', 'macho', 'math', 'hash', 'dotnet', 'dex', 'tests', 'cuckoo', 'magic', 'time'].map((m) => `import "${m}"`).join('\n') + '\nrule r { condition: true }\n');
  let lines = 0;
  for (const f of files) {
    const path = join(dir, f.name);
    writeFileSync(path, f.bytes);
    const y = spawnSync('yara', ['-D', rules, path], { encoding: 'latin1', maxBuffer: 1 << 26 });
    const v = spawnSync(process.execPath, [vigilBin(), 'yara', '-D', rules, path], { encoding: 'latin1', maxBuffer: 1 << 26 });
    assert.equal(y.status, 0, `yara ran on ${f.name}: ${y.stderr}`);
    assert.equal(v.stdout, y.stdout, `-D output for ${f.name} (${path})`);
    lines += y.stdout.split('\n').length;
  }
  t.diagnostic(`${files.length} files, ${lines} lines of module data identical`);
});
