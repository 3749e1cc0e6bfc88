import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../../../test/helpers/prng.js';
import { buildDotnetPe, buildMingwCorpus, mingwMissing, mutatePe, withRich, type CorpusFile } from '../../../formats/pefull/test-corpus.js';
import { dotnetModule } from './dotnet.js';
import { peModule } from './pe.js';
import { callFunction, scanContext, type Declaration, type ModuleData, type YaraArg, type YaraValue } from './types.js';

const MISSING = mingwMissing();
const te = new TextEncoder();

let corpusCache: CorpusFile[] | undefined;
function corpus(): CorpusFile[] {
  if (corpusCache) return corpusCache;
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pe-module-'));
  try {
    corpusCache = buildMingwCorpus(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return corpusCache;
}
const file = (name: string): Uint8Array => corpus().find((f) => f.name === name)!.bytes;

/** Calls `path` (e.g. `rich_signature.version`) with the overload taking `args`. */
function call(bytes: Uint8Array, path: string, args: YaraArg[]): YaraValue | undefined {
  const ctx = scanContext(bytes, { output: () => {} });
  const data = peModule.load!(ctx);
  const parts = path.split('.');
  let decl: Declaration | undefined = { kind: 'struct', fields: peModule.declarations };
  for (const p of parts) decl = decl?.kind === 'struct' ? decl.fields[p] : undefined;
  assert.ok(decl?.kind === 'function', path);
  const o = decl.overloads.find((x) => x.args.length === args.length && x.args.every((t, i) => (t === 'regexp' ? typeof args[i] === 'object' && !(args[i] instanceof Uint8Array) : t === 'integer' ? typeof args[i] === 'bigint' : args[i] instanceof Uint8Array)));
  assert.ok(o, `${path}(${args.length})`);
  return o.impl(ctx, args, data);
}

function walk(d: ModuleData): number {
  if (d === undefined || typeof d !== 'object' || d instanceof Uint8Array) return 1;
  let n = 0;
  if (d instanceof Map) for (const v of d.values()) n += walk(v);
  else if (Array.isArray(d)) for (const v of d as readonly ModuleData[]) n += walk(v);
  else for (const v of Object.values(d)) n += walk(v);
  return n;
}

const re = (f: (s: string) => boolean): YaraArg => ({ kind: 'regexp', source: '.', test: (s) => f(Buffer.from(s).toString('latin1')) });

/** Every member and every function of both modules. */
function exercise(bytes: Uint8Array): void {
  const ctx = scanContext(bytes, { output: () => {} });
  walk(peModule.load!(ctx));
  walk(dotnetModule.load!(ctx));
  const calls: [string, YaraArg[]][] = [
    ['imphash', []], ['is_dll', []], ['is_32bit', []], ['is_64bit', []], ['calculate_checksum', []],
    ['imports', [te.encode('kernel32.dll'), te.encode('Sleep')]], ['imports', [te.encode('kernel32.dll')]],
    ['imports', [re(() => true), re(() => true)]], ['imports', [3n, te.encode('ws2_32.dll'), 3n]],
    ['exports', [te.encode('foo')]], ['exports', [2n]], ['exports_index', [re(() => true)]],
    ['section_index', [te.encode('.text')]], ['section_index', [0x400n]],
    ['rva_to_offset', [0x1000n]], ['locale', [0x409n]], ['language', [9n]],
    ['import_rva', [te.encode('kernel32.dll'), te.encode('Sleep')]], ['delayed_import_rva', [te.encode('vigdelay.dll'), 5n]],
    ['rich_signature.version', [0x7809n]], ['rich_signature.toolid', [1n, 2n]],
  ];
  for (const [path, args] of calls) call(bytes, path, args);
}

test('pe module on a MinGW EXE and DLL: members and functions', { skip: MISSING }, () => {
  const exe = file('exe-i686.exe');
  const data = peModule.load!(scanContext(exe)) as Record<string, ModuleData>;
  assert.equal(data['is_pe'], 1n);
  assert.equal(data['machine'], 0x14cn);
  assert.equal(data['MACHINE_I386'], 0x14cn);
  const vi = data['version_info'] as ReadonlyMap<string, ModuleData>;
  assert.deepEqual(vi.get('CompanyName'), te.encode('Vigil Test Co'));
  assert.equal(call(exe, 'imports', [te.encode('KERNEL32.DLL'), te.encode('gettickcount')]), 1n);
  assert.equal(call(exe, 'imports', [te.encode('ws2_32.dll'), te.encode('WSAStartup')]), 1n);
  assert.equal(call(exe, 'exports', [te.encode('FOO')]), 1n);
  assert.equal(call(exe, 'exports_index', [te.encode('foo')]), 1n);
  assert.equal(call(exe, 'is_dll', []), 0n);
  assert.equal(call(exe, 'is_32bit', []), 1n);
  assert.match(Buffer.from(call(exe, 'imphash', []) as Uint8Array).toString(), /^[0-9a-f]{32}$/);
  assert.equal(call(exe, 'locale', [0x409n]), 1n);
  assert.equal(call(exe, 'language', [7n]), 1n);
  assert.equal(call(exe, 'section_index', [te.encode('.text')]), 0n);

  const dll = file('lib-x86_64.dll');
  assert.equal(call(dll, 'is_dll', []), 0x2000n);
  assert.equal(call(dll, 'is_64bit', []), 1n);
  assert.equal(call(dll, 'imports', [te.encode('ws2_32.dll'), 3n]), 1n);
  assert.equal(call(dll, 'imports', [te.encode('oleaut32.dll'), te.encode('SysAllocString')]), 1n);
  assert.equal(call(dll, 'imports', [2n, te.encode('vigdelay.dll'), te.encode('vd_func')]), 1n);
  assert.equal(call(dll, 'imports', [1n, te.encode('vigdelay.dll'), te.encode('vd_func')]), 0n);
  assert.equal(typeof call(dll, 'delayed_import_rva', [te.encode('vigdelay.dll'), te.encode('vd_func')]), 'bigint');
  const d = peModule.load!(scanContext(dll)) as Record<string, ModuleData>;
  assert.equal(d['number_of_delayed_imports'], 1n);
  assert.equal(d['delay_import_details'], undefined);
  const rich = withRich(file('exe-x86_64-s.exe'), 0x0badf00d);
  assert.equal(call(rich, 'rich_signature.toolid', [0xffn]), 3n);
  assert.equal(call(rich, 'rich_signature.version', [0x7809n, 0x104n]), 12n);
  assert.equal(call(exe, 'rich_signature.version', [0x7809n]), undefined);
});

test('import_details keeps yara 4.2.3\'s running function index across DLLs', { skip: MISSING }, () => {
  const data = peModule.load!(scanContext(file('exe-x86_64.exe'))) as Record<string, ModuleData>;
  const details = data['import_details'] as readonly Record<string, ModuleData>[];
  const first = details[0]!;
  const n0 = Number(first['number_of_functions']);
  const second = details[1]!;
  const fns = second['functions'] as readonly ModuleData[];
  assert.equal(fns[0], undefined);
  assert.ok(fns[n0] !== undefined);
  assert.ok(Number(second['number_of_functions']) > n0);
});

test('hostile inputs: every member and function of pe and dotnet, no throw, bounded time', { skip: MISSING }, () => {
  const rng = new Prng('pe-module-hostile');
  for (const f of corpus()) {
    for (let m = 0; m < 20; m++) {
      const { bytes } = mutatePe(rng, f.bytes);
      const t0 = performance.now();
      exercise(bytes);
      assert.ok(performance.now() - t0 < 3000);
    }
    for (let c = 0; c < f.bytes.length; c += Math.max(1, Math.floor(f.bytes.length / 40))) exercise(f.bytes.subarray(0, c));
  }
});

test('dotnet module: assemblies built by code, a non-.NET PE, a non-PE', () => {
  const rng = new Prng('dotnet-module');
  const asm = buildDotnetPe(rng, { pe64: false, dll: false, version: 'v4.0.30319', userStrings: ['hello', 'wörld'], guids: 2, tables: true });
  const d = dotnetModule.load!(scanContext(asm)) as Record<string, ModuleData>;
  assert.equal(d['is_dotnet'], 1n);
  assert.deepEqual(d['version'], te.encode('v4.0.30319'));
  assert.equal(d['number_of_streams'], 5n);
  assert.equal(d['number_of_guids'], 2n);
  assert.deepEqual((d['user_strings'] as Uint8Array[]).map((s) => Buffer.from(s).toString('utf16le')), ['hello', 'wörld']);
  // A PE32 EXE whose entry point is not `jmp [addr]` is not .NET for yara.
  const noJmp = asm.slice();
  noJmp[0x200] = 0x90;
  assert.deepEqual(dotnetModule.load!(scanContext(noJmp)), { is_dotnet: 0n });
  assert.deepEqual(dotnetModule.load!(scanContext(new Uint8Array(100))), {});
  for (let k = 0; k < 200; k++) {
    const b = asm.slice();
    for (let i = rng.int(1, 8); i > 0; i--) b[rng.int(0x200, b.length - 1)] = rng.int(0, 255);
    walk(dotnetModule.load!(scanContext(b.subarray(0, rng.chance(0.3) ? rng.int(0, b.length) : b.length))));
  }
});

test('not a PE: constants and is_pe = 0, everything else undefined', () => {
  for (const bytes of [new Uint8Array(0), te.encode('MZ'), new Uint8Array(4096)]) {
    const ctx = scanContext(bytes);
    const data = peModule.load!(ctx) as Record<string, ModuleData>;
    assert.equal(data['is_pe'], 0n);
    assert.equal(data['DLL'], 0x2000n);
    assert.equal(data['number_of_sections'], undefined);
    assert.equal(callFunction(peModule, 'imphash', ctx, [], data), undefined);
    assert.equal(call(bytes, 'is_dll', []), undefined);
    assert.equal(call(bytes, 'rich_signature.version', [1n]), undefined);
  }
});
