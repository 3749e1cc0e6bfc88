/**
 * YARA's `macho` module against yara 4.2.3: thin Mach-O files (32/64-bit, both byte orders,
 * LC_MAIN and LC_UNIXTHREAD, several CPUs) and universal binaries (32- and 64-bit fat headers) built
 * by code, and seeded mutations of them. Every fact vigil's module gives (header, segments,
 * sections, entry point, fat members, and the `file_index_for_arch` / `entry_point_for_arch`
 * functions; undefined members as `not defined`) becomes a rule, and yara must match all of them.
 * Skips with a message when yara is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { machoModuleData } from '../../src/engine/yara/modules/macho.js';
import type { ModuleData } from '../../src/engine/yara/modules/types.js';
import { vigilBin } from './run-vigil.js';
import { buildMachO, randomMachOSpec } from '../helpers/exe-builders.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const HAVE_YARA = spawnSync('yara', ['--version']).status === 0;

const lit = (v: bigint): string => (v === -(2n ** 63n) ? '(-0x7fffffffffffffff - 1)' : v < 0n ? `(${v})` : v.toString());
const str = (b: Uint8Array): string => `"${[...b].map((c) => (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`)).join('')}"`;
const obj = (d: ModuleData): Record<string, ModuleData> | undefined => (d && typeof d === 'object' && !Array.isArray(d) && !(d instanceof Uint8Array) && !(d instanceof Map) ? (d as Record<string, ModuleData>) : undefined);

function fact(path: string, v: ModuleData): string {
  return typeof v === 'bigint' ? `${path} == ${lit(v)}` : v instanceof Uint8Array ? `${path} == ${str(v)}` : `not defined ${path}`;
}

function imageFacts(prefix: string, d: Record<string, ModuleData> | undefined, out: string[]): void {
  for (const k of ['magic', 'cputype', 'cpusubtype', 'filetype', 'ncmds', 'sizeofcmds', 'flags', 'reserved', 'number_of_segments', 'entry_point', 'stack_size']) out.push(fact(`${prefix}${k}`, d?.[k]));
  const segs = (d?.['segments'] as ModuleData[] | undefined) ?? [];
  if (segs.length === 0) out.push(`not defined ${prefix}segments[0].vmaddr`);
  segs.slice(0, 12).forEach((s, i) => {
    for (const k of ['segname', 'vmaddr', 'vmsize', 'fileoff', 'fsize', 'maxprot', 'initprot', 'nsects', 'flags']) out.push(fact(`${prefix}segments[${i}].${k}`, obj(s)?.[k]));
    const secs = (obj(s)?.['sections'] as ModuleData[] | undefined) ?? [];
    secs.slice(0, 12).forEach((c, j) => {
      for (const k of ['sectname', 'segname', 'addr', 'size', 'offset', 'align', 'reloff', 'nreloc', 'flags', 'reserved1', 'reserved2', 'reserved3']) out.push(fact(`${prefix}segments[${i}].sections[${j}].${k}`, obj(c)?.[k]));
    });
  });
}

function facts(d: Record<string, ModuleData> | undefined): string[] {
  const out: string[] = [];
  imageFacts('macho.', d, out);
  out.push(fact('macho.fat_magic', d?.['fat_magic']), fact('macho.nfat_arch', d?.['nfat_arch']));
  const archs = (d?.['fat_arch'] as ModuleData[] | undefined) ?? [];
  archs.slice(0, 6).forEach((a, i) => {
    for (const k of ['cputype', 'cpusubtype', 'offset', 'size', 'align']) out.push(fact(`macho.fat_arch[${i}].${k}`, obj(a)?.[k]));
    const f = obj(((d?.['file'] as ModuleData[] | undefined) ?? [])[i]);
    imageFacts(`macho.file[${i}].`, f, out);
  });
  return out;
}

function fat(images: Uint8Array[], is64: boolean, rng: Prng): Buffer {
  const archSize = is64 ? 32 : 20;
  const header = Buffer.alloc(8 + images.length * archSize);
  header.writeUInt32BE(is64 ? 0xcafebabf : 0xcafebabe, 0);
  header.writeUInt32BE(images.length, 4);
  const parts: Buffer[] = [header];
  let at = header.length;
  images.forEach((img, i) => {
    const pad = (4096 - (at % 4096)) % 4096;
    parts.push(Buffer.alloc(pad));
    at += pad;
    const b = Buffer.from(img);
    const o = 8 + i * archSize;
    header.writeUInt32BE(b.readUInt32LE(4) === 0 ? 0 : (b[0] === 0xfe ? b.readUInt32BE(4) : b.readUInt32LE(4)), o);
    header.writeUInt32BE(b[0] === 0xfe ? b.readUInt32BE(8) : b.readUInt32LE(8), o + 4);
    if (is64) { header.writeBigUInt64BE(BigInt(at), o + 8); header.writeBigUInt64BE(BigInt(b.length), o + 16); header.writeUInt32BE(12, o + 24); header.writeUInt32BE(rng.int(0, 3), o + 28); }
    else { header.writeUInt32BE(at, o + 8); header.writeUInt32BE(b.length, o + 12); header.writeUInt32BE(12, o + 16); }
    parts.push(b);
    at += b.length;
  });
  return Buffer.concat(parts);
}

test(`macho module: vigil's values are yara 4.2.3's (seed ${SEED})`, { skip: !HAVE_YARA && 'yara is not installed' }, (t) => {
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-macho-'));
  const thin: Buffer[] = [];
  for (let k = 0; k < 16; k++) thin.push(Buffer.from(buildMachO(randomMachOSpec(rng.int(1, 1e9))).bytes));
  const files: { name: string; bytes: Buffer }[] = thin.map((b, k) => ({ name: `thin${k}`, bytes: b }));
  for (let k = 0; k < 6; k++) files.push({ name: `fat${k}`, bytes: fat([rng.pick(thin), rng.pick(thin), rng.pick(thin)].slice(0, rng.int(1, 3)), k % 2 === 1, rng) });
  const base = [...files];
  for (let k = 0; k < 40; k++) {
    const b = Buffer.from(rng.pick(base).bytes);
    if (rng.chance(0.3)) files.push({ name: `cut${k}`, bytes: b.subarray(0, rng.int(4, b.length)) });
    else {
      for (let n = rng.int(1, 6); n > 0; n--) b[rng.int(0, Math.min(b.length - 1, 600))] = rng.pick([0, 0xff, rng.int(0, 255), 0x10]);
      files.push({ name: `mut${k}`, bytes: b });
    }
  }
  let checked = 0;
  for (const f of files) {
    const path = join(dir, f.name);
    writeFileSync(path, f.bytes);
    const conds = facts(machoModuleData(f.bytes));
    writeFileSync(`${path}.yar`, `import "macho"\n` + conds.map((c, i) => `rule f${i} { condition: ${c} }`).join('\n') + '\n');
    const y = spawnSync('yara', [`${path}.yar`, path], { encoding: 'latin1', maxBuffer: 1 << 26 });
    const v = spawnSync(process.execPath, [vigilBin(), 'yara', `${path}.yar`, path], { encoding: 'latin1', maxBuffer: 1 << 26 });
    assert.equal(y.status, 0, `yara ran on ${f.name}: ${y.stderr}`);
    const names = (o: string) => o.split('\n').filter(Boolean).map((l) => l.split(' ')[0]!).sort();
    const want = conds.map((_, i) => `f${i}`).sort();
    const missing = want.filter((r) => !names(y.stdout).includes(r)).map((r) => conds[Number(r.slice(1))]);
    assert.deepEqual(missing, [], `facts yara does not share on ${f.name} (${path})`);
    assert.deepEqual(names(v.stdout), want, `vigil yara matches its own facts on ${f.name}`);
    checked += conds.length;
  }
  // The functions: the same values from both tools on the universal binaries.
  for (const f of files.filter((x) => x.name.startsWith('fat'))) {
    const path = join(dir, f.name);
    const rules: string[] = [];
    for (const type of [7, 0x1000007, 0x100000c, 18, 0x1000012]) {
      for (const args of [`${type}`, `${type}, 3`, `${type}, 0`, `${type}, 0x80000003`]) {
        for (let v = -1; v < 4; v++) rules.push(`rule i_${rules.length} { condition: macho.file_index_for_arch(${args}) == ${v} }`);
        rules.push(`rule d_${rules.length} { condition: defined macho.entry_point_for_arch(${args}) }`);
        rules.push(`rule e_${rules.length} { condition: macho.entry_point_for_arch(${args}) > 0x1000 }`);
      }
    }
    writeFileSync(`${path}.fn.yar`, `import "macho"\n${rules.join('\n')}\n`);
    const y = spawnSync('yara', [`${path}.fn.yar`, path], { encoding: 'latin1' });
    const v = spawnSync(process.execPath, [vigilBin(), 'yara', `${path}.fn.yar`, path], { encoding: 'latin1' });
    assert.equal(v.stdout.split('\n').sort().join('\n'), y.stdout.split('\n').sort().join('\n'), `function values on ${f.name}`);
    checked += rules.length;
  }
  t.diagnostic(`${files.length} files, ${checked} facts and function checks, all shared by yara`);
});
