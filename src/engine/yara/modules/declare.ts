/**
 * Engine declarations of a module, derived from the checker's module catalog.
 *
 * In: a module name and, optionally, implementations for some function overloads, keyed by
 * member path and argument codes (`exports(r)`, `rich_signature.version(ii)`). Out: the module's
 * `Declaration` tree (types.ts) from `DEFAULT_MODULES`, which holds every member that yara 4.2.3
 * or yara 4.5 declares, so a rule checked against any of the catalogs finds its members here. Overloads without an
 * implementation answer UNDEFINED.
 *
 * Why: the format modules (`pe`, `elf`, `macho`, `dex`, `dotnet`) declare hundreds of members; the
 * catalog (src/signatures/yara/modules-catalog.ts) already holds them for the checker, and one
 * source of truth keeps the checker and the evaluator from drifting apart. A module's own file
 * then only supplies values (`load`) and the overloads it can answer.
 */
import { DEFAULT_MODULES, type ArgCode, type ModuleType } from '../../../signatures/yara/modules-catalog.js';
import type { Declaration, ModuleData, Overload, YaraType } from './types.js';

/** Overload implementations by `path(argcodes)`, e.g. `imports(ss)`, `signatures.valid_on(i)`. */
export type Implementations = Readonly<Record<string, Overload['impl']>>;

const ARG: Record<ArgCode, YaraType> = { i: 'integer', f: 'float', s: 'string', r: 'regexp', b: 'boolean' };

/** Every overload of a function answers UNDEFINED unless an implementation is given. */
const undefinedResult: Overload['impl'] = () => undefined;

function convert(path: string, t: ModuleType, impls: Implementations, used: Set<string>): Declaration {
  switch (t.kind) {
    case 'value':
      return { kind: 'value', type: t.type };
    case 'array':
      return { kind: 'array', element: convert(path, t.of, impls, used) };
    case 'dict':
      return { kind: 'dictionary', element: convert(path, t.of, impls, used) };
    case 'function':
      return {
        kind: 'function',
        overloads: t.overloads.map((o) => {
          const key = `${path}(${o.args.join('')})`;
          if (impls[key]) used.add(key);
          return { args: o.args.map((a) => ARG[a]), returns: o.returns, impl: impls[key] ?? undefinedResult };
        }),
      };
    case 'struct': {
      const fields: Record<string, Declaration> = {};
      for (const [name, f] of Object.entries(t.fields)) fields[name] = convert(path ? `${path}.${name}` : name, f, impls, used);
      return { kind: 'struct', fields };
    }
  }
}

/**
 * The declarations of module `name` (members of yara 4.2.3 and 4.5 together). Throws when an
 * implementation names no declared overload: implementations are code, so that is a programming
 * error caught by the first test that loads the module.
 */
export function catalogDeclarations(name: string, impls: Implementations = {}): Record<string, Declaration> {
  const tree = DEFAULT_MODULES[name];
  if (!tree) throw new Error(`no catalog entry for module ${name}`);
  const used = new Set<string>();
  const root = convert('', tree, impls, used);
  const unused = Object.keys(impls).filter((k) => !used.has(k));
  if (unused.length > 0) throw new Error(`module ${name}: implementations for undeclared overloads: ${unused.join(', ')}`);
  return root.kind === 'struct' ? { ...root.fields } : {};
}

/** Turns a table of integer constants into module data (int64 values). */
export function integerConstants(table: Readonly<Record<string, number>>): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const [k, v] of Object.entries(table)) out[k] = BigInt(v);
  return out;
}

/** Module data with every integer as YARA keeps it, int64: 64-bit fields above 2^63 read as negative numbers. */
export function int64Data(d: ModuleData): ModuleData {
  if (typeof d === 'bigint') return BigInt.asIntN(64, d);
  if (Array.isArray(d)) return d.map(int64Data);
  if (d && typeof d === 'object' && !(d instanceof Uint8Array) && !(d instanceof Map)) {
    const o: Record<string, ModuleData> = {};
    for (const [k, v] of Object.entries(d)) o[k] = int64Data(v);
    return o;
  }
  return d;
}
