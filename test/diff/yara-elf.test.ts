/**
 * YARA's `elf` module against yara 4.2.3: ELF files built in the test with gcc (executables, PIE,
 * shared objects, static, stripped; 32-bit when the compiler can), big-endian and odd headers
 * built by code, and seeded mutations of all of them. For each file, every fact vigil's module
 * gives (each header field, section, segment, dynamic entry and the first symbols; members it
 * leaves undefined as `not defined`) becomes a rule; yara must match exactly the rules vigil
 * matches — all of them. Skips with a message when yara or gcc is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { elfModuleData } from '../../src/engine/yara/modules/elf.js';
import type { ModuleData } from '../../src/engine/yara/modules/types.js';
import { vigilBin } from './run-vigil.js';
import { buildElf, randomElfSpec } from '../helpers/exe-builders.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const HAVE_YARA = spawnSync('yara', ['--version']).status === 0;
const HAVE_GCC = spawnSync('gcc', ['--version']).status === 0;
const MAX_LIST = 40;

const SOURCE = `#include <stdio.h>
int counter = 3; static int hidden(int x) { return x * counter; }
int exported(int y) { return hidden(y) + 1; }
int main(int argc, char **argv) { printf("%d\\n", exported(argc)); return 0; }
`;

function compile(dir: string, name: string, args: string[]): Buffer | undefined {
  const out = join(dir, name);
  const r = spawnSync('gcc', [...args, '-o', out, join(dir, 'p.c')]);
  return r.status === 0 ? readFileSync(out) : undefined;
}

const lit = (v: bigint): string => (v === -(2n ** 63n) ? '(-0x7fffffffffffffff - 1)' : v < 0n ? `(${v})` : v.toString());
const str = (b: Uint8Array): string => `"${[...b].map((c) => (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`)).join('')}"`;

/** One condition per fact vigil's module states about the file. */
function facts(data: Record<string, ModuleData> | undefined): string[] {
  const out: string[] = [];
  const scalar = ['type', 'machine', 'entry_point', 'number_of_sections', 'sh_offset', 'sh_entry_size', 'number_of_segments', 'ph_offset', 'ph_entry_size', 'dynamic_section_entries', 'symtab_entries', 'dynsym_entries'];
  for (const k of scalar) {
    const v = data?.[k];
    out.push(typeof v === 'bigint' ? `elf.${k} == ${lit(v)}` : `not defined elf.${k}`);
  }
  const list = (name: string, fields: string[]): void => {
    const arr = data?.[name] as ModuleData[] | undefined;
    if (!arr) { out.push(`not defined elf.${name}[0].${fields[0]}`); return; }
    for (let i = 0; i < Math.min(arr.length, MAX_LIST); i++) {
      const e = arr[i] as Record<string, ModuleData>;
      for (const f of fields) {
        const v = e[f];
        out.push(typeof v === 'bigint' ? `elf.${name}[${i}].${f} == ${lit(v)}` : v instanceof Uint8Array ? `elf.${name}[${i}].${f} == ${str(v)}` : `not defined elf.${name}[${i}].${f}`);
      }
    }
  };
  list('sections', ['type', 'flags', 'address', 'name', 'size', 'offset']);
  list('segments', ['type', 'flags', 'offset', 'virtual_address', 'physical_address', 'file_size', 'memory_size', 'alignment']);
  list('dynamic', ['type', 'val']);
  list('symtab', ['name', 'value', 'size', 'type', 'bind', 'shndx']);
  list('dynsym', ['name', 'value', 'size', 'type', 'bind', 'shndx']);
  return out;
}

function mutate(rng: Prng, b: Buffer): Buffer {
  const out = Buffer.from(b);
  switch (rng.int(0, 3)) {
    case 0: return out.subarray(0, rng.int(17, out.length));
    case 1: for (let n = rng.int(1, 6); n > 0; n--) out[rng.int(16, Math.min(out.length - 1, 200))] = rng.int(0, 255); return out;
    case 2: { // a section or program header field
      const at = rng.chance(0.5) ? Number(out.readBigUInt64LE(0x28) % BigInt(out.length)) : Number(out.readBigUInt64LE(0x20) % BigInt(out.length));
      for (let n = 0; n < 8 && at + n < out.length; n++) out[at + rng.int(0, 60) < out.length ? at + rng.int(0, 60) : at] = rng.int(0, 255);
      return out;
    }
    default: for (let n = rng.int(1, 20); n > 0; n--) out[rng.int(0, out.length - 1)] = rng.int(0, 255); return out;
  }
}

test(`elf module: vigil's values are yara 4.2.3's (seed ${SEED})`, { skip: (!HAVE_YARA && 'yara is not installed') || (!HAVE_GCC && 'gcc is not installed') || false }, (t) => {
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-elf-'));
  writeFileSync(join(dir, 'p.c'), SOURCE);
  const built: { name: string; bytes: Buffer }[] = [];
  for (const [name, args] of [['exec', ['-no-pie']], ['pie', ['-pie', '-fPIE']], ['shared', ['-shared', '-fPIC']], ['static', ['-static']], ['stripped', ['-s']], ['obj', ['-c']], ['m32', ['-m32']]] as const) {
    const b = compile(dir, name, [...args]);
    if (b) built.push({ name, bytes: b });
    else t.diagnostic(`gcc ${args.join(' ')} is not available here`);
  }
  for (let k = 0; k < 8; k++) {
    const e = buildElf(randomElfSpec(Number(`${SEED}`.slice(-6)) + k));
    built.push({ name: `code${k}`, bytes: Buffer.from(e.bytes) });
  }
  assert.ok(built.length >= 10, 'ELF files were built');
  const files = [...built];
  for (let k = 0; k < 40; k++) {
    const base = rng.pick(built);
    files.push({ name: `${base.name}-m${k}`, bytes: mutate(rng, base.bytes) });
  }
  let rulesChecked = 0;
  for (const f of files) {
    const path = join(dir, f.name);
    writeFileSync(path, f.bytes);
    const conds = facts(elfModuleData(f.bytes));
    const rules = `import "elf"\n` + conds.map((c, i) => `rule f${i} { condition: ${c} }`).join('\n') + '\n';
    writeFileSync(join(dir, `${f.name}.yar`), rules);
    const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'latin1', maxBuffer: 1 << 26 });
    const y = run('yara', [join(dir, `${f.name}.yar`), path]);
    const v = run(process.execPath, [vigilBin(), 'yara', join(dir, `${f.name}.yar`), path]);
    assert.equal(y.status, 0, `yara ran on ${f.name}: ${y.stderr}`);
    const names = (o: string) => o.split('\n').filter(Boolean).map((l) => l.split(' ')[0]!).sort();
    const want = conds.map((_, i) => `f${i}`).sort();
    const yaraMissing = want.filter((r) => !names(y.stdout).includes(r)).map((r) => conds[Number(r.slice(1))]);
    assert.deepEqual(yaraMissing, [], `facts yara does not share on ${f.name} (${path})`);
    assert.deepEqual(names(v.stdout), want, `vigil yara matches its own facts on ${f.name}`);
    rulesChecked += conds.length;
  }
  t.diagnostic(`${files.length} files, ${rulesChecked} facts, all shared by yara`);
});
