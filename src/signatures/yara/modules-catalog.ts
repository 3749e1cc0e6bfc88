/**
 * What YARA modules export, as data: the ModuleCatalog the semantic checker resolves
 * `module.member…` expressions against.
 *
 * In: nothing. Out: `DEFAULT_MODULES`, a tree per module of structures, arrays, dictionaries,
 * typed values and functions with overloads (argument types → return type), written from YARA's
 * module documentation for `hash`, `math`, `time` and `console` (and `string`, a YARA 4.3 module).
 * `pe`, `elf`, `macho` and `dotnet` are declared with a partial tree so that callers can grow them
 * without changing the checker. Argument codes: `i` integer, `f` float, `s` string, `r` regexp,
 * `b` boolean. YARA functions that answer yes/no return integers, so they do here too.
 */

export type ArgCode = 'i' | 'f' | 's' | 'r' | 'b';

export interface Overload {
  args: ArgCode[];
  returns: 'integer' | 'float' | 'string';
}

export type ModuleType =
  | { kind: 'value'; type: 'integer' | 'float' | 'string' }
  | { kind: 'struct'; fields: Record<string, ModuleType> }
  | { kind: 'array'; of: ModuleType }
  | { kind: 'dict'; of: ModuleType }
  | { kind: 'function'; name: string; overloads: Overload[] };

/** Module name → its root structure. */
export type ModuleCatalog = Record<string, { kind: 'struct'; fields: Record<string, ModuleType> }>;

const I: ModuleType = { kind: 'value', type: 'integer' };
const F: ModuleType = { kind: 'value', type: 'float' };
const S: ModuleType = { kind: 'value', type: 'string' };

function fn(name: string, ...sigs: [string, Overload['returns']][]): ModuleType {
  return { kind: 'function', name, overloads: sigs.map(([a, r]) => ({ args: a.split('') as ArgCode[], returns: r })) };
}
function struct(fields: Record<string, ModuleType>): { kind: 'struct'; fields: Record<string, ModuleType> } {
  return { kind: 'struct', fields };
}
/** `name(offset, size)` and `name(string)` → `ret`: the shape of every hash and statistic function. */
function rangeOrString(name: string, ret: Overload['returns']): ModuleType {
  return fn(name, ['ii', ret], ['s', ret]);
}

export const DEFAULT_MODULES: ModuleCatalog = {
  hash: struct({
    md5: rangeOrString('md5', 'string'),
    sha1: rangeOrString('sha1', 'string'),
    sha256: rangeOrString('sha256', 'string'),
    checksum32: rangeOrString('checksum32', 'integer'),
    crc32: rangeOrString('crc32', 'integer'),
  }),
  math: struct({
    MEAN_BYTES: F,
    entropy: rangeOrString('entropy', 'float'),
    monte_carlo_pi: rangeOrString('monte_carlo_pi', 'float'),
    serial_correlation: rangeOrString('serial_correlation', 'float'),
    mean: rangeOrString('mean', 'float'),
    deviation: fn('deviation', ['iif', 'float'], ['sf', 'float']),
    in_range: fn('in_range', ['fff', 'integer']),
    max: fn('max', ['ii', 'integer']),
    min: fn('min', ['ii', 'integer']),
    to_number: fn('to_number', ['b', 'integer']),
    abs: fn('abs', ['i', 'integer']),
    count: fn('count', ['iii', 'integer'], ['i', 'integer']),
    percentage: fn('percentage', ['iii', 'float'], ['i', 'float']),
    mode: fn('mode', ['ii', 'integer'], ['', 'integer']),
  }),
  string: struct({
    to_int: fn('to_int', ['s', 'integer'], ['si', 'integer']),
    length: fn('length', ['s', 'integer']),
  }),
  time: struct({ now: fn('now', ['', 'integer']) }),
  console: struct({
    log: fn('log', ['s', 'integer'], ['ss', 'integer'], ['i', 'integer'], ['si', 'integer'], ['f', 'integer'], ['sf', 'integer']),
    hex: fn('hex', ['i', 'integer'], ['si', 'integer']),
  }),
  pe: struct({
    MACHINE_I386: I,
    MACHINE_AMD64: I,
    is_pe: I,
    machine: I,
    number_of_sections: I,
    timestamp: I,
    entry_point: I,
    characteristics: I,
    DLL: I,
    sections: {
      kind: 'array',
      of: struct({ name: S, virtual_address: I, virtual_size: I, raw_data_offset: I, raw_data_size: I, characteristics: I }),
    },
    version_info: { kind: 'dict', of: S },
    number_of_resources: I,
    imphash: fn('imphash', ['', 'string']),
    imports: fn('imports', ['ss', 'integer'], ['si', 'integer'], ['s', 'integer'], ['rr', 'integer']),
    exports: fn('exports', ['s', 'integer'], ['i', 'integer'], ['r', 'integer']),
    is_dll: fn('is_dll', ['', 'integer']),
    is_32bit: fn('is_32bit', ['', 'integer']),
    is_64bit: fn('is_64bit', ['', 'integer']),
    section_index: fn('section_index', ['s', 'integer'], ['i', 'integer']),
  }),
  elf: struct({
    type: I,
    machine: I,
    entry_point: I,
    number_of_sections: I,
    number_of_segments: I,
    ET_EXEC: I,
    ET_DYN: I,
    sections: { kind: 'array', of: struct({ type: I, flags: I, address: I, name: S, size: I, offset: I }) },
    segments: { kind: 'array', of: struct({ type: I, flags: I, offset: I, virtual_address: I, file_size: I, memory_size: I }) },
  }),
  macho: struct({
    magic: I,
    cputype: I,
    filetype: I,
    number_of_segments: I,
    MH_MAGIC: I,
    MH_EXECUTE: I,
    segments: { kind: 'array', of: struct({ segname: S, vmaddr: I, vmsize: I, fileoff: I, fsize: I }) },
  }),
  dotnet: struct({
    is_dotnet: I,
    version: S,
    module_name: S,
    number_of_streams: I,
    number_of_guids: I,
    guids: { kind: 'array', of: S },
    streams: { kind: 'array', of: struct({ name: S, offset: I, size: I }) },
  }),
};

/** The catalog of the modules yara 4.2.3 knows (it has no `string` module). */
export const YARA_4_2_MODULES: ModuleCatalog = Object.fromEntries(Object.entries(DEFAULT_MODULES).filter(([k]) => k !== 'string'));
