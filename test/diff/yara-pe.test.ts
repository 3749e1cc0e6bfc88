/**
 * The differential test of YARA's `pe` module: vigil's module data and function results against
 * yara 4.2.3 on PE32 and PE32+ files built with MinGW-w64 (EXEs and DLLs with exports, imports by
 * name and by ordinal, delay imports, windres resources with version info, extra and long-named
 * sections, overlays, a Rich header) and on seeded hostile mutations of them (header and directory
 * fields overwritten, bytes flipped, truncations, resource loops).
 *
 * In: `VIGIL_DIFF_SEED` (default 20261129), `VIGIL_PE_MUTATIONS` (mutations per base file, default
 * 40). Out: for every file, (1) every member yara prints with `-D` (its module data dump) must have
 * the same value in vigil's module data, and vigil may define no member yara leaves undefined
 * (except those only yara 4.5 declares); (2) a generated rule set probing the functions
 * (`imphash()`, `imports()` in all overloads, `exports()`, `exports_index()`, `is_dll()`,
 * `locale()`, `language()`, `rich_signature.version()/toolid()`, `section_index()`,
 * `rva_to_offset()`, `calculate_checksum()`) and dictionary lookups must match the same rules in
 * both. Skips with a message when yara or the MinGW tools are absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { peModule } from '../../src/engine/yara/modules/pe.js';
import { dotnetModule } from '../../src/engine/yara/modules/dotnet.js';
import { scanContext, type ModuleData } from '../../src/engine/yara/modules/types.js';
import { compileYara, scanYara } from '../../src/engine/yara/rules.js';
import { parsePeFull, type PeFull } from '../../src/formats/pefull/index.js';
import { buildDotnetPe, buildMingwCorpus, mingwMissing, mutatePe, type CorpusFile } from '../../src/formats/pefull/test-corpus.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const MUTATIONS = Number(process.env['VIGIL_PE_MUTATIONS'] ?? '40');
const YARA_OK = spawnSync('yara', ['--version'], { encoding: 'utf8' }).status === 0;
const SKIP = !YARA_OK ? 'yara is not installed' : mingwMissing();

/** Members only yara 4.5 declares: yara 4.2.3 cannot print them. */
const ONLY_4_5 = /^(export_details\.\[\d+\]\.rva|import_details\.\[\d+\]\.functions\.\[\d+\]\.rva|delayed_import_details(\..*)?|rich_signature\.version_data|is_signed)$/;

/** A byte string as yara's `-D` prints it. */
function quote(b: Uint8Array): string {
  let s = '"';
  for (const c of b) s += c >= 0x20 && c <= 0x7e ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return `${s}"`;
}

/** vigil's module data flattened to `path → printed value`, defined members only. */
function flattenVigil(data: ModuleData, path: string, out: Map<string, string>): void {
  if (data === undefined) return;
  if (typeof data === 'bigint') out.set(path, data.toString());
  else if (typeof data === 'number') out.set(path, data.toFixed(6));
  else if (data instanceof Uint8Array) out.set(path, quote(data));
  else if (typeof data === 'boolean') out.set(path, data ? '1' : '0');
  else if (data instanceof Map) for (const [k, v] of data) flattenVigil(v, path ? `${path}.${k}` : k, out);
  else if (Array.isArray(data)) (data as readonly ModuleData[]).forEach((v, i) => flattenVigil(v, `${path}.[${i}]`, out));
  else for (const [k, v] of Object.entries(data)) flattenVigil(v, path ? `${path}.${k}` : k, out);
}

/** yara's `-D` dump of the `pe` module flattened the same way, and the matching rule names. */
function parseYaraOutput(stdout: string, module = 'pe'): { members: Map<string, string>; rules: string[] } {
  const members = new Map<string, string>();
  const rules: string[] = [];
  const stack: string[] = [];
  let inPe = false;
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const depth = line.length - line.replace(/^\t+/, '').length;
    const text = line.slice(depth);
    if (depth === 0) {
      inPe = text === module;
      if (!inPe && /^p\d+d? /.test(text)) rules.push(text.split(' ')[0]!);
      continue;
    }
    if (!inPe) continue;
    const eq = text.indexOf(' = ');
    const name = eq >= 0 ? text.slice(0, eq) : text;
    stack.length = depth - 1;
    stack.push(name);
    if (eq >= 0) {
      const value = text.slice(eq + 3);
      if (value !== 'YR_UNDEFINED') members.set(stack.join('.'), value);
    }
  }
  return { members, rules: rules.sort() };
}

const esc = (b: Uint8Array): string => {
  let s = '';
  for (const c of b) s += c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return s;
};

/** Conditions probing the functions; values come from vigil's parse so that most are true. */
function probes(pe: PeFull | undefined): string[] {
  const c: string[] = [
    'pe.is_pe == 1',
    `pe.imphash() == "${pe?.imphash ?? '0'}"`,
    'defined pe.imphash()',
    'pe.is_dll()', 'pe.is_dll() == 8192', 'pe.is_32bit() == 1', 'pe.is_64bit() == 1',
    `pe.calculate_checksum() == ${pe ? 'pe.checksum' : '0'}`,
    'pe.calculate_checksum() > 0',
    'pe.imports("kernel32.dll") > 3', 'pe.imports("KERNEL32.DLL", "GetTickCount")', 'pe.imports("kernel32.dll", "gettickcount")',
    'pe.imports("ws2_32.dll", 3)', 'pe.imports("ws2_32.dll", 9)', 'pe.imports("WS2_32.dll", "htons")', 'pe.imports("ws2_32.dll", "closesocket")',
    'pe.imports("ws2_32.dll", "WSAStartup")', 'pe.imports("ws2_32.dll", 115)',
    'pe.imports("oleaut32.dll", "SysAllocString")', 'pe.imports("oleaut32.dll", 2)',
    'pe.imports("vigtest.dll", "ord7")', 'pe.imports("vigtest.dll", 7)', 'pe.imports("vigtest.dll", "vt_named")',
    'pe.imports(/32/, /^Get/) == 0', 'pe.imports(/32/, /^Get/) > 2', 'pe.imports(/^msvcrt/i, /./) > 10',
    'pe.imports(pe.IMPORT_DELAYED, "vigdelay.dll", "vd_func")', 'pe.imports(pe.IMPORT_ANY, "vigdelay.dll", 5)',
    'pe.imports(pe.IMPORT_STANDARD, "ws2_32.dll") == 2', 'pe.imports(pe.IMPORT_ANY, /vig/, /./) > 0',
    'pe.imports(pe.IMPORT_STANDARD, "kernel32.dll", "Sleep")', 'pe.imports(pe.IMPORT_DELAYED, "ws2_32.dll", 3)',
    'pe.exports("foo")', 'pe.exports("FOO")', 'pe.exports("exp_two")', 'pe.exports(/^exp_/)', 'pe.exports(/^zz/)',
    'pe.exports(1)', 'pe.exports(2)', 'pe.exports(3)', 'pe.exports(0)',
    'pe.exports_index("bar") == 0', 'pe.exports_index("exp_three") == 2', 'pe.exports_index(/o/) == 1', 'pe.exports_index(2) == 1',
    'defined pe.exports_index("nope")',
    'pe.locale(0x409)', 'pe.locale(0x407)', 'pe.language(7)', 'pe.language(9)', 'pe.language(0xff)',
    'pe.rich_signature.version(0x7809) == 15', 'pe.rich_signature.toolid(0xff) == 3', 'pe.rich_signature.version(0x7809, 0x104) == 12',
    'pe.rich_signature.toolid(1, 0) == 1', 'pe.rich_signature.toolid(2) == 0', 'defined pe.rich_signature.version(1)',
    'pe.section_index(".text") == 0', 'pe.section_index(".rsrc") > 0', 'pe.section_index(".vigil") >= 0', 'pe.section_index(pe.entry_point) == 0',
    'defined pe.section_index("nosuch")', 'pe.section_index(0x400) == 0',
    'pe.rva_to_offset(pe.entry_point_raw) == pe.entry_point', 'pe.rva_to_offset(0x1000) == 0x400', 'defined pe.rva_to_offset(0x7fffffff)',
    'pe.rva_to_offset(-1) == 0',
    'pe.version_info["CompanyName"] == "Vigil Test Co"', 'pe.version_info["Comments"] == ""', 'defined pe.version_info["Nope"]',
    'for any s in pe.sections : (s.name == ".vigil")', 'for any s in pe.sections : (s.full_name == ".vigilongname")',
    'for all r in pe.resources : (r.length > 0)', 'pe.number_of_signatures == 0',
  ];
  if (pe) {
    for (const dll of pe.imports.dlls.slice(0, 6)) {
      c.push(`pe.imports("${esc(dll.name)}") == ${dll.functions.length}`);
      for (const f of dll.functions.slice(0, 4)) {
        c.push(f.ordinal !== undefined ? `pe.imports("${esc(dll.name)}", ${f.ordinal})` : `pe.imports("${esc(dll.name)}", "${esc(f.name)}")`);
      }
    }
    for (const e of pe.exports.entries.slice(0, 6)) if (e.name) c.push(`pe.exports("${esc(e.name)}")`);
  }
  return c;
}

function ruleText(conds: readonly string[]): string {
  let s = 'import "pe"\n';
  conds.forEach((cond, i) => {
    s += `rule p${i} { condition: ${cond} }\n`;
    s += `rule p${i}d { condition: defined (${cond}) }\n`;
  });
  return s;
}

interface Problem { file: string; what: string; detail: string }

const stats = { matched: 0, probes: 0, members: 0 };

function compareFile(dir: string, name: string, what: string, bytes: Uint8Array, problems: Problem[]): void {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const pe = parsePeFull(bytes);
  const conds = probes(pe);
  const rules = ruleText(conds);
  const rulePath = join(dir, `${name}.yar`);
  writeFileSync(rulePath, rules);
  const r = spawnSync('yara', ['-D', rulePath, path], { encoding: 'latin1', maxBuffer: 1 << 28 });
  if (r.status !== 0) {
    problems.push({ file: name, what, detail: `yara failed: ${r.stderr}` });
    return;
  }
  const y = parseYaraOutput(r.stdout);

  const mine = new Map<string, string>();
  flattenVigil(peModule.load!(scanContext(bytes)), '', mine);
  for (const k of [...mine.keys()]) if (ONLY_4_5.test(k)) mine.delete(k);
  const diffs: string[] = [];
  for (const [k, v] of y.members) if (mine.get(k) !== v) diffs.push(`${k}: yara ${v}, vigil ${mine.get(k) ?? 'UNDEFINED'}`);
  for (const [k, v] of mine) if (!y.members.has(k)) diffs.push(`${k}: yara UNDEFINED, vigil ${v}`);
  if (diffs.length) problems.push({ file: name, what, detail: `module data: ${diffs.slice(0, 12).join('; ')}${diffs.length > 12 ? ` (+${diffs.length - 12})` : ''}` });

  const c = compileYara([{ file: 'probe.yar', text: rules }]);
  assert.ok(c.compiled, `probe rules do not compile: ${c.diagnostics.map((d) => d.message).join('; ')}`);
  const vigilRules = scanYara(c.compiled, bytes).matched.map((m) => m.rule.name).filter((n) => /^p\d+/.test(n)).sort();
  const yr = new Set(y.rules);
  const vr = new Set(vigilRules);
  const ruleDiffs: string[] = [];
  for (const n of yr) if (!vr.has(n)) ruleDiffs.push(`${n} (${conds[Number(n.slice(1).replace('d', ''))]}) yara only`);
  for (const n of vr) if (!yr.has(n)) ruleDiffs.push(`${n} (${conds[Number(n.slice(1).replace('d', ''))]}) vigil only`);
  stats.matched += y.rules.length;
  stats.probes += 2 * conds.length;
  stats.members += y.members.size;
  if (ruleDiffs.length) problems.push({ file: name, what, detail: `functions: ${ruleDiffs.slice(0, 10).join('; ')}` });
}

test(`pe module: vigil's members and functions equal yara 4.2.3's (seed ${SEED})`, { skip: SKIP }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-pe-'));
  let keep = false;
  try {
    const base: CorpusFile[] = buildMingwCorpus(dir);
    const rng = new Prng(SEED);
    const problems: Problem[] = [];
    let files = 0;
    for (const f of base) {
      compareFile(dir, f.name, 'as built', f.bytes, problems);
      files++;
      for (let m = 0; m < MUTATIONS; m++) {
        const mut = mutatePe(rng, f.bytes);
        compareFile(dir, `${f.name}.m${m}`, mut.what, mut.bytes, problems);
        files++;
      }
    }
    console.log(`# yara-pe: ${base.length} built files, ${files} files compared (${stats.members} defined members, ${stats.probes} probe rules of which ${stats.matched} matched in yara), ${problems.length} with differences`);
    if (problems.length) {
      keep = true;
      const report = problems.slice(0, 25).map((p) => `${p.file} [${p.what}]: ${p.detail}`).join('\n');
      assert.fail(`${problems.length} files differ (kept in ${dir}):\n${report}`);
    }
  } finally {
    if (!keep && process.env['VIGIL_DIFF_KEEP'] !== '1') rmSync(dir, { recursive: true, force: true });
  }
});

test(`dotnet module: vigil's members equal yara 4.2.3's on generated assemblies (seed ${SEED})`, { skip: YARA_OK ? false : 'yara is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-dotnet-'));
  let keep = false;
  try {
    const rng = new Prng(`${SEED}-dotnet`);
    const rules = join(dir, 'd.yar');
    writeFileSync(rules, 'import "dotnet"\nrule d { condition: false }\n');
    const problems: string[] = [];
    let members = 0;
    let dotnetFiles = 0;
    const total = 40 + 4 * MUTATIONS;
    for (let k = 0; k < total; k++) {
      const spec = {
        pe64: rng.chance(0.5), dll: rng.chance(0.5), version: rng.pick(['v4.0.30319', 'v2.0.50727', 'v1', 'Mono-x']),
        userStrings: Array.from({ length: rng.int(0, 6) }, (_, i) => (i % 3 === 2 ? 'long string '.repeat(15) : `str${i}-${rng.int(0, 999)}`)),
        guids: rng.int(0, 20), tables: rng.chance(0.5),
      };
      let bytes = buildDotnetPe(rng, spec);
      let what = JSON.stringify(spec);
      if (k >= 40) {
        const b = bytes.slice();
        const n = rng.int(1, 6);
        for (let i = 0; i < n; i++) b[rng.int(0x200, b.length - 1)] = rng.pick([0, 0xff, rng.int(0, 255)]);
        bytes = rng.chance(0.2) ? b.subarray(0, rng.int(0x200, b.length)) : b;
        what += ` mutated ${n}`;
      }
      const path = join(dir, `n${k}.dll`);
      writeFileSync(path, bytes);
      const r = spawnSync('yara', ['-D', rules, path], { encoding: 'latin1' });
      const y = parseYaraOutput(r.stdout, 'dotnet').members;
      const mine = new Map<string, string>();
      flattenVigil(dotnetModule.load!(scanContext(bytes)), '', mine);
      if (mine.get('is_dotnet') === '1') dotnetFiles++;
      members += y.size;
      const diffs: string[] = [];
      for (const [key, v] of y) if (mine.get(key) !== v) diffs.push(`${key}: yara ${v}, vigil ${mine.get(key) ?? 'UNDEFINED'}`);
      for (const [key, v] of mine) if (!y.has(key)) diffs.push(`${key}: yara UNDEFINED, vigil ${v}`);
      if (diffs.length) problems.push(`n${k}.dll [${what}]: ${diffs.slice(0, 8).join('; ')}`);
    }
    console.log(`# yara-dotnet: ${total} files (${dotnetFiles} .NET for vigil), ${members} members defined by yara, ${problems.length} with differences`);
    if (problems.length) {
      keep = true;
      assert.fail(`${problems.length} files differ (kept in ${dir}):\n${problems.slice(0, 20).join('\n')}`);
    }
  } finally {
    if (!keep && process.env['VIGIL_DIFF_KEEP'] !== '1') rmSync(dir, { recursive: true, force: true });
  }
});
