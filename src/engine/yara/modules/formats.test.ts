/**
 * Tests for the modules built from the catalog (`pe`, `elf`, `macho`, `dex`, `dotnet`, `cuckoo`,
 * `magic`, `tests`) and for the agreement between the module registry and the checker's catalog.
 *
 * Unit tests pin the state yara 4.2.3 leaves the format modules in for a file not of their format
 * (constants defined, `pe.is_pe` 0, everything else UNDEFINED) and the `tests` fixture data. The
 * differential test writes, for every member and overload of every yara 4.2.3 module, one rule
 * `defined <member>` (with sample arguments), plus one rule per constant asserting the value vigil
 * gives it, and requires `yara` and vigil to match the same rules on random bytes and on bytes that
 * start with `MZ`; `magic` is left out (vigil has no libmagic: a documented difference).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Prng } from '../../../../test/helpers/prng.js';
import { DEFAULT_MODULES, YARA_4_2_MODULES, type ModuleType } from '../../../signatures/yara/modules-catalog.js';
import { compileYara, scanYara } from '../rules.js';
import { getModule, MODULES } from './index.js';
import { bytesOf, callFunction, scanContext, type Declaration, type YaraRegexp } from './types.js';

const ctx = scanContext(Uint8Array.from([1, 2, 3]), { output: () => {} });
const data = (name: string): Record<string, unknown> => (getModule(name)?.load?.(ctx) ?? {}) as Record<string, unknown>;
const regexp = (test: (s: Uint8Array) => boolean): YaraRegexp => ({ kind: 'regexp', source: 'x', test });

test('pe on a non-PE file defines its constants, sets is_pe to 0 and leaves the rest undefined', () => {
  const pe = data('pe');
  assert.equal(pe['is_pe'], 0n);
  assert.equal(pe['MACHINE_I386'], 0x14cn);
  assert.equal(pe['MACHINE_AMD64'], 0x8664n);
  assert.equal(pe['DLL'], 0x2000n);
  assert.equal(pe['IMPORT_ANY'], -1n);
  assert.equal(pe['SECTION_MEM_EXECUTE'], 0x20000000n);
  assert.equal(pe['number_of_sections'], undefined);
  const peModule = getModule('pe');
  assert.ok(peModule);
  assert.equal(callFunction(peModule, 'is_dll', ctx, []), undefined);
  assert.equal(callFunction(peModule, 'exports', ctx, [bytesOf('x')]), undefined);
});

test('elf, macho and dex define only their constants on a file of another format', () => {
  assert.equal(data('elf')['ET_EXEC'], 2n);
  assert.equal(data('elf')['EM_X86_64'], 62n);
  assert.equal(data('elf')['type'], undefined);
  assert.equal(data('macho')['MH_MAGIC'], 0xfeedfacen);
  assert.equal(data('macho')['magic'], undefined);
  assert.deepEqual(data('dex')['DEX_FILE_MAGIC_035'], bytesOf('dex\n035'));
  assert.equal(data('dex')['ENDIAN_CONSTANT'], 0x12345678n);
  assert.deepEqual(data('dotnet'), {});
});

test('cuckoo answers 0 without a report and magic answers undefined', () => {
  const cuckoo = getModule('cuckoo');
  assert.ok(cuckoo);
  const network = cuckoo.declarations['network'] as Extract<Declaration, { kind: 'struct' }>;
  const dns = network.fields['dns_lookup'] as Extract<Declaration, { kind: 'function' }>;
  assert.equal(dns.overloads[0]?.impl(ctx, [regexp(() => true)], undefined), 0n);
  const magic = getModule('magic');
  assert.ok(magic);
  assert.equal(callFunction(magic, 'type', ctx, []), undefined);
});

test('the tests module carries yara fixture data and functions', () => {
  const t = data('tests');
  assert.deepEqual(t['constants'], { one: 1n, two: 2n, foo: bytesOf('foo'), empty: new Uint8Array(0) });
  const ints = t['integer_array'] as unknown[];
  assert.equal(ints.length, 257);
  assert.equal(ints[256], 256n);
  assert.equal(ints[100], undefined);
  const mod = getModule('tests');
  assert.ok(mod);
  assert.equal(callFunction(mod, 'isum', ctx, [2n, 3n]), 5n);
  assert.equal(callFunction(mod, 'fsum', ctx, [0.5, 0.25, 1]), 1.75);
  assert.equal(callFunction(mod, 'length', ctx, [Uint8Array.of(0x61, 0, 0x62)]), 1n);
  assert.deepEqual(callFunction(mod, 'foobar', ctx, [2n]), bytesOf('bar'));
  assert.deepEqual(callFunction(mod, 'foobar', ctx, [7n]), bytesOf('oops'));
  assert.equal(callFunction(mod, 'match', ctx, [regexp(() => false), bytesOf('a')]), -1n);
});

/** `path(args)` of every function overload and `path` of every value, in a catalog or a declaration tree. */
function catalogShape(t: ModuleType, path: string, out: Set<string>): void {
  if (t.kind === 'value') out.add(path);
  else if (t.kind === 'struct') for (const [k, v] of Object.entries(t.fields)) catalogShape(v, `${path}.${k}`, out);
  else if (t.kind === 'array') catalogShape(t.of, `${path}[]`, out);
  else if (t.kind === 'dict') catalogShape(t.of, `${path}{}`, out);
  else for (const o of t.overloads) out.add(`${path}(${o.args.join('')})`);
}
const CODE: Record<string, string> = { integer: 'i', float: 'f', string: 's', regexp: 'r', boolean: 'b' };
function declarationShape(d: Declaration, path: string, out: Set<string>): void {
  if (d.kind === 'value') out.add(path);
  else if (d.kind === 'struct') for (const [k, v] of Object.entries(d.fields)) declarationShape(v, `${path}.${k}`, out);
  else if (d.kind === 'array') declarationShape(d.element, `${path}[]`, out);
  else if (d.kind === 'dictionary') declarationShape(d.element, `${path}{}`, out);
  else for (const o of d.overloads) out.add(`${path}(${o.args.map((a) => CODE[a]).join('')})`);
}

test('every catalog module is registered with exactly the members and overloads the checker knows', () => {
  assert.deepEqual([...MODULES.keys()].sort(), Object.keys(DEFAULT_MODULES).sort());
  for (const [name, root] of Object.entries(DEFAULT_MODULES)) {
    const want = new Set<string>();
    catalogShape(root, name, want);
    const got = new Set<string>();
    declarationShape({ kind: 'struct', fields: getModule(name)?.declarations ?? {} }, name, got);
    assert.deepEqual([...got].sort(), [...want].sort(), name);
  }
});

function yaraAvailable(): boolean {
  return spawnSync('yara', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** One `defined` probe per member of yara 4.2.3's modules (magic aside), and one value probe per constant. */
function probes(): string[] {
  const sample: Record<string, string> = { i: '1', f: '0.5', s: '"x"', r: '/x/', b: 'true' };
  const out: string[] = [];
  const walk = (path: string, t: ModuleType): void => {
    if (t.kind === 'value') out.push(`defined ${path}`);
    else if (t.kind === 'struct') for (const [k, v] of Object.entries(t.fields)) walk(`${path}.${k}`, v);
    else if (t.kind === 'array') walk(`${path}[0]`, t.of);
    else if (t.kind === 'dict') walk(`${path}["k"]`, t.of);
    else for (const o of t.overloads) out.push(`defined ${path}(${o.args.map((a) => sample[a]).join(', ')})`);
  };
  const hex = (b: Uint8Array): string => [...b].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('');
  for (const [name, root] of Object.entries(YARA_4_2_MODULES)) {
    if (name === 'magic') continue;
    walk(name, root);
    for (const [k, v] of Object.entries(data(name))) {
      if (typeof v === 'bigint') out.push(`${name}.${k} == ${v}`);
      else if (v instanceof Uint8Array) out.push(`${name}.${k} == "${hex(v)}"`);
    }
  }
  return out;
}

test('format modules agree with yara on files of no known format (differential)', (t) => {
  if (!yaraAvailable()) {
    t.skip('yara is not installed (apt-get install yara); the differential test needs it as the oracle');
    return;
  }
  const list = probes();
  const imports = Object.keys(YARA_4_2_MODULES).filter((m) => m !== 'magic').map((m) => `import "${m}"\n`).join('');
  const src = imports + list.map((p, k) => `rule p${k} { condition: ${p} }\n`).join('');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-formats-'));
  try {
    const rules = join(dir, 'probes.yar');
    writeFileSync(rules, src);
    const compiled = compileYara([{ file: rules, text: src }]).compiled;
    assert.ok(compiled, 'vigil compiles the probes');
    const rng = new Prng('formats');
    for (const [label, bytes] of [['random', rng.bytes(4096)], ['MZ', Buffer.concat([Buffer.from('MZ'), rng.bytes(300)])]] as const) {
      const target = join(dir, label);
      writeFileSync(target, bytes);
      const y = spawnSync('yara', ['-w', rules, target], { encoding: 'latin1' });
      assert.equal(y.status, 0, y.stderr);
      const yaraMatched = y.stdout.split('\n').filter((l) => l.startsWith('p')).map((l) => l.split(' ')[0]).sort();
      const vigilMatched = scanYara(compiled, bytes, { output: () => {} }).matched.map((m) => m.rule.name).sort();
      const name = (p: string | undefined): string => `${p}: ${list[Number(p?.slice(1))]}`;
      const onlyYara = yaraMatched.filter((p) => !vigilMatched.includes(p as string)).map(name);
      const onlyVigil = vigilMatched.filter((p) => !yaraMatched.includes(p)).map(name);
      assert.deepEqual({ onlyYara, onlyVigil }, { onlyYara: [], onlyVigil: [] }, label);
      t.diagnostic(`${label}: ${list.length} probes, ${yaraMatched.length} true in both`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
