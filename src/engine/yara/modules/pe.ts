/**
 * YARA's `pe` module: every member and function of yara 4.2.3's module (and the members yara 4.5
 * added that the catalog declares: `export_details[].rva`, `import_details[].functions[].rva`,
 * `delayed_import_details`, `rich_signature.version_data`, `import_rva`, `delayed_import_rva`,
 * `exports_index`), valued as yara computes them.
 *
 * In: the scan context; the file is parsed by src/formats/pefull/ (once per scan, through
 * `ctx.formats`). Out: module data. For a file yara does not call a PE, the constants and
 * `is_pe = 0` only, every other member and every function UNDEFINED. For a PE, header fields are
 * set at once and the costly parts (imports, exports, resources, signatures) on first access.
 *
 * Where yara 4.2.3 and 4.5 differ the 4.2.3 behaviour is kept (the differential peer), e.g.
 * `import_details[k].functions` indexes continue from the previous DLL's count and
 * `number_of_functions` is cumulative (4.2.3 never resets its counter), `pe.is_dll()` answers the
 * flag value 0x2000, `pe.exports(ordinal)` compares the ordinal with the number of exports, and
 * `delay_import_details` (4.2.3's declared name) stays undefined while 4.5's
 * `delayed_import_details` is filled. Authenticode fields: see formats/pefull/authenticode.ts;
 * `signatures[i].valid_on()` needs the element it is called on: it answers when the evaluator
 * passes a nested function its parent structure as `data`, UNDEFINED otherwise.
 *
 * Not filled: yara 4.5's Authenticode additions (`signatures[i].verified`, `digest`,
 * `file_digest`, `certificates`, `signer_info`, `countersignatures`, `is_signed`). Known
 * difference: `imports(/dll/, /fn/)` counts a name whenever the regexp matches in it, while yara
 * requires its leftmost match to be non-empty (only regexps that can match the empty string differ).
 */
import { parsePeFull, type PeFull } from '../../../formats/pefull/index.js';
import { rvaToOffset, u16, u32, u64 } from '../../../formats/pefull/image.js';
import type { ImportTable } from '../../../formats/pefull/imports.js';
import { peChecksum, richCount, sectionFullName, sectionName } from '../../../formats/pefull/misc.js';
import { catalogDeclarations, integerConstants, type Implementations } from './declare.js';
import { allBytes, type ModuleData, type Overload, type ScanContext, type YaraArg, type YaraModule, type YaraRegexp, type YaraValue } from './types.js';

/** The integer constants the module defines whatever the input. */
export const PE_CONSTANTS: Readonly<Record<string, number>> = {
  MACHINE_UNKNOWN: 0,
  MACHINE_AM33: 0x1d3,
  MACHINE_AMD64: 0x8664,
  MACHINE_ARM: 0x1c0,
  MACHINE_ARMNT: 0x1c4,
  MACHINE_ARM64: 0xaa64,
  MACHINE_EBC: 0xebc,
  MACHINE_I386: 0x14c,
  MACHINE_IA64: 0x200,
  MACHINE_M32R: 0x9041,
  MACHINE_MIPS16: 0x266,
  MACHINE_MIPSFPU: 0x366,
  MACHINE_MIPSFPU16: 0x466,
  MACHINE_POWERPC: 0x1f0,
  MACHINE_POWERPCFP: 0x1f1,
  MACHINE_R4000: 0x166,
  MACHINE_SH3: 0x1a2,
  MACHINE_SH3DSP: 0x1a3,
  MACHINE_SH4: 0x1a6,
  MACHINE_SH5: 0x1a8,
  MACHINE_THUMB: 0x1c2,
  MACHINE_WCEMIPSV2: 0x169,
  MACHINE_TARGET_HOST: 1,
  MACHINE_R3000: 0x162,
  MACHINE_R10000: 0x168,
  MACHINE_ALPHA: 0x184,
  MACHINE_SH3E: 0x1a4,
  MACHINE_ALPHA64: 0x284,
  MACHINE_AXP64: 0x284,
  MACHINE_TRICORE: 0x520,
  MACHINE_CEF: 0xcef,
  MACHINE_CEE: 0xc0ee,
  SUBSYSTEM_UNKNOWN: 0,
  SUBSYSTEM_NATIVE: 1,
  SUBSYSTEM_WINDOWS_GUI: 2,
  SUBSYSTEM_WINDOWS_CUI: 3,
  SUBSYSTEM_OS2_CUI: 5,
  SUBSYSTEM_POSIX_CUI: 7,
  SUBSYSTEM_NATIVE_WINDOWS: 8,
  SUBSYSTEM_WINDOWS_CE_GUI: 9,
  SUBSYSTEM_EFI_APPLICATION: 0xa,
  SUBSYSTEM_EFI_BOOT_SERVICE_DRIVER: 0xb,
  SUBSYSTEM_EFI_RUNTIME_DRIVER: 0xc,
  SUBSYSTEM_EFI_ROM_IMAGE: 0xd,
  SUBSYSTEM_XBOX: 0xe,
  SUBSYSTEM_WINDOWS_BOOT_APPLICATION: 0x10,
  HIGH_ENTROPY_VA: 0x20,
  DYNAMIC_BASE: 0x40,
  FORCE_INTEGRITY: 0x80,
  NX_COMPAT: 0x100,
  NO_ISOLATION: 0x200,
  NO_SEH: 0x400,
  NO_BIND: 0x800,
  APPCONTAINER: 0x1000,
  WDM_DRIVER: 0x2000,
  GUARD_CF: 0x4000,
  TERMINAL_SERVER_AWARE: 0x8000,
  RELOCS_STRIPPED: 1,
  EXECUTABLE_IMAGE: 2,
  LINE_NUMS_STRIPPED: 4,
  LOCAL_SYMS_STRIPPED: 8,
  AGGRESIVE_WS_TRIM: 0x10,
  LARGE_ADDRESS_AWARE: 0x20,
  BYTES_REVERSED_LO: 0x80,
  MACHINE_32BIT: 0x100,
  DEBUG_STRIPPED: 0x200,
  REMOVABLE_RUN_FROM_SWAP: 0x400,
  NET_RUN_FROM_SWAP: 0x800,
  SYSTEM: 0x1000,
  DLL: 0x2000,
  UP_SYSTEM_ONLY: 0x4000,
  BYTES_REVERSED_HI: 0x8000,
  IMAGE_DIRECTORY_ENTRY_EXPORT: 0,
  IMAGE_DIRECTORY_ENTRY_IMPORT: 1,
  IMAGE_DIRECTORY_ENTRY_RESOURCE: 2,
  IMAGE_DIRECTORY_ENTRY_EXCEPTION: 3,
  IMAGE_DIRECTORY_ENTRY_SECURITY: 4,
  IMAGE_DIRECTORY_ENTRY_BASERELOC: 5,
  IMAGE_DIRECTORY_ENTRY_DEBUG: 6,
  IMAGE_DIRECTORY_ENTRY_ARCHITECTURE: 7,
  IMAGE_DIRECTORY_ENTRY_COPYRIGHT: 7,
  IMAGE_DIRECTORY_ENTRY_GLOBALPTR: 8,
  IMAGE_DIRECTORY_ENTRY_TLS: 9,
  IMAGE_DIRECTORY_ENTRY_LOAD_CONFIG: 0xa,
  IMAGE_DIRECTORY_ENTRY_BOUND_IMPORT: 0xb,
  IMAGE_DIRECTORY_ENTRY_IAT: 0xc,
  IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT: 0xd,
  IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR: 0xe,
  IMAGE_NT_OPTIONAL_HDR32_MAGIC: 0x10b,
  IMAGE_NT_OPTIONAL_HDR64_MAGIC: 0x20b,
  IMAGE_ROM_OPTIONAL_HDR_MAGIC: 0x107,
  SECTION_NO_PAD: 8,
  SECTION_CNT_CODE: 0x20,
  SECTION_CNT_INITIALIZED_DATA: 0x40,
  SECTION_CNT_UNINITIALIZED_DATA: 0x80,
  SECTION_LNK_OTHER: 0x100,
  SECTION_LNK_INFO: 0x200,
  SECTION_LNK_REMOVE: 0x800,
  SECTION_LNK_COMDAT: 0x1000,
  SECTION_NO_DEFER_SPEC_EXC: 0x4000,
  SECTION_GPREL: 0x8000,
  SECTION_MEM_FARDATA: 0x8000,
  SECTION_MEM_PURGEABLE: 0x20000,
  SECTION_MEM_16BIT: 0x20000,
  SECTION_MEM_LOCKED: 0x40000,
  SECTION_MEM_PRELOAD: 0x80000,
  SECTION_ALIGN_1BYTES: 0x100000,
  SECTION_ALIGN_2BYTES: 0x200000,
  SECTION_ALIGN_4BYTES: 0x300000,
  SECTION_ALIGN_8BYTES: 0x400000,
  SECTION_ALIGN_16BYTES: 0x500000,
  SECTION_ALIGN_32BYTES: 0x600000,
  SECTION_ALIGN_64BYTES: 0x700000,
  SECTION_ALIGN_128BYTES: 0x800000,
  SECTION_ALIGN_256BYTES: 0x900000,
  SECTION_ALIGN_512BYTES: 0xa00000,
  SECTION_ALIGN_1024BYTES: 0xb00000,
  SECTION_ALIGN_2048BYTES: 0xc00000,
  SECTION_ALIGN_4096BYTES: 0xd00000,
  SECTION_ALIGN_8192BYTES: 0xe00000,
  SECTION_ALIGN_MASK: 0xf00000,
  SECTION_LNK_NRELOC_OVFL: 0x1000000,
  SECTION_MEM_DISCARDABLE: 0x2000000,
  SECTION_MEM_NOT_CACHED: 0x4000000,
  SECTION_MEM_NOT_PAGED: 0x8000000,
  SECTION_MEM_SHARED: 0x10000000,
  SECTION_MEM_EXECUTE: 0x20000000,
  SECTION_MEM_READ: 0x40000000,
  SECTION_MEM_WRITE: 0x80000000,
  SECTION_SCALE_INDEX: 1,
  RESOURCE_TYPE_CURSOR: 1,
  RESOURCE_TYPE_BITMAP: 2,
  RESOURCE_TYPE_ICON: 3,
  RESOURCE_TYPE_MENU: 4,
  RESOURCE_TYPE_DIALOG: 5,
  RESOURCE_TYPE_STRING: 6,
  RESOURCE_TYPE_FONTDIR: 7,
  RESOURCE_TYPE_FONT: 8,
  RESOURCE_TYPE_ACCELERATOR: 9,
  RESOURCE_TYPE_RCDATA: 0xa,
  RESOURCE_TYPE_MESSAGETABLE: 0xb,
  RESOURCE_TYPE_GROUP_CURSOR: 0xc,
  RESOURCE_TYPE_GROUP_ICON: 0xe,
  RESOURCE_TYPE_VERSION: 0x10,
  RESOURCE_TYPE_DLGINCLUDE: 0x11,
  RESOURCE_TYPE_PLUGPLAY: 0x13,
  RESOURCE_TYPE_VXD: 0x14,
  RESOURCE_TYPE_ANICURSOR: 0x15,
  RESOURCE_TYPE_ANIICON: 0x16,
  RESOURCE_TYPE_HTML: 0x17,
  RESOURCE_TYPE_MANIFEST: 0x18,
  IMAGE_DEBUG_TYPE_UNKNOWN: 0,
  IMAGE_DEBUG_TYPE_COFF: 1,
  IMAGE_DEBUG_TYPE_CODEVIEW: 2,
  IMAGE_DEBUG_TYPE_FPO: 3,
  IMAGE_DEBUG_TYPE_MISC: 4,
  IMAGE_DEBUG_TYPE_EXCEPTION: 5,
  IMAGE_DEBUG_TYPE_FIXUP: 6,
  IMAGE_DEBUG_TYPE_OMAP_TO_SRC: 7,
  IMAGE_DEBUG_TYPE_OMAP_FROM_SRC: 8,
  IMAGE_DEBUG_TYPE_BORLAND: 9,
  IMAGE_DEBUG_TYPE_RESERVED10: 0xa,
  IMAGE_DEBUG_TYPE_CLSID: 0xb,
  IMAGE_DEBUG_TYPE_VC_FEATURE: 0xc,
  IMAGE_DEBUG_TYPE_POGO: 0xd,
  IMAGE_DEBUG_TYPE_ILTCG: 0xe,
  IMAGE_DEBUG_TYPE_MPX: 0xf,
  IMAGE_DEBUG_TYPE_REPRO: 0x10,
  IMPORT_DELAYED: 2,
  IMPORT_STANDARD: 1,
  IMPORT_ANY: -1,
};

type Data = { [field: string]: ModuleData };

const I = (n: number | bigint): bigint => BigInt.asIntN(64, BigInt(n));
const UNDEF_INT = BigInt.asIntN(64, 0xfffabadafabadaffn);
const te = new TextEncoder();

/** Defines `field` on `obj` as computed on first access (own and enumerable, as the evaluator needs). */
function lazyField(obj: Data, field: string, compute: () => ModuleData): void {
  let done = false;
  let v: ModuleData;
  Object.defineProperty(obj, field, {
    enumerable: true,
    configurable: true,
    get: () => {
      if (!done) {
        v = compute();
        done = true;
      }
      return v;
    },
  });
}

/** Several fields computed together on first access of any of them. */
function lazyGroup(obj: Data, fields: readonly string[], compute: () => Data): void {
  let cache: Data | undefined;
  for (const f of fields) {
    Object.defineProperty(obj, f, {
      enumerable: true,
      configurable: true,
      get: () => (cache ??= compute())[f],
    });
  }
}

/** `import_details` as yara 4.2.3 fills it: its function counter is never reset between DLLs. */
function importDetails4_2(t: ImportTable): ModuleData {
  let cnt = 0;
  return t.dlls.map((dll) => {
    const functions: ModuleData[] = new Array<ModuleData>(cnt).fill(undefined);
    for (const f of dll.functions) {
      functions.push({ name: f.name, ordinal: f.ordinal !== undefined ? I(f.ordinal) : undefined, rva: f.rva ? I(f.rva) : undefined });
      cnt++;
    }
    return { library_name: dll.name, number_of_functions: I(cnt), functions };
  });
}

/** `delayed_import_details` as yara 4.5 fills it (one counter per DLL). */
function importDetails4_5(t: ImportTable, withNumber: string): ModuleData {
  return t.dlls.map((dll) => ({
    library_name: dll.name,
    [withNumber]: I(dll.functions.length),
    functions: dll.functions.map((f) => ({ name: f.name, ordinal: f.ordinal !== undefined ? I(f.ordinal) : undefined, rva: f.rva ? I(f.rva) : undefined })),
  }));
}

function resourceData(pe: PeFull): Data {
  const r = pe.resources;
  const out: Data = { number_of_resources: 0n, number_of_version_infos: 0n };
  if (!r) return out;
  out.resource_timestamp = I(r.timestamp);
  out.resource_version = { major: I(r.major), minor: I(r.minor) };
  out.resources = r.leaves.map((l) => ({
    rva: I(l.rva),
    offset: l.offset !== undefined ? I(l.offset) : undefined,
    length: I(l.length),
    type: l.type !== undefined ? I(l.type) : undefined,
    id: l.id !== undefined ? I(l.id) : undefined,
    language: l.language !== undefined ? I(l.language) : undefined,
    type_string: l.typeString,
    name_string: l.nameString,
    language_string: l.languageString,
  }));
  out.number_of_resources = I(r.leaves.length);
  const dict = new Map<string, ModuleData>();
  const latin1 = new TextDecoder('latin1');
  for (const v of r.versionStrings) dict.set(latin1.decode(v.key), v.value);
  out.version_info = dict;
  out.version_info_list = r.versionStrings.map((v) => ({ key: v.key, value: v.value }));
  out.number_of_version_infos = I(r.versionStrings.length);
  return out;
}

/** The module data of a PE file. */
function peModuleData(pe: PeFull, constants: Data): Data {
  const img = pe.image;
  const d = img.data;
  const o = img.optOffset;
  const p64 = img.pe64;
  const out: Data = {
    ...constants,
    is_pe: 1n,
    machine: I(img.machine),
    number_of_sections: I(img.numberOfSections),
    timestamp: I(img.timeDateStamp),
    pointer_to_symbol_table: I(img.pointerToSymbolTable),
    number_of_symbols: I(img.numberOfSymbols),
    size_of_optional_header: I(img.sizeOfOptionalHeader),
    characteristics: I(img.characteristics),
    entry_point: I(pe.entryPoint),
    entry_point_raw: I(img.addressOfEntryPoint),
    image_base: I(img.imageBase),
    number_of_rva_and_sizes: I(img.numberOfRvaAndSizes),
    opthdr_magic: I(img.magic),
    linker_version: { major: I(d[o + 2]!), minor: I(d[o + 3]!) },
    size_of_code: I(u32(d, o + 4)),
    size_of_initialized_data: I(u32(d, o + 8)),
    size_of_uninitialized_data: I(u32(d, o + 12)),
    base_of_code: I(u32(d, o + 20)),
    ...(p64 ? {} : { base_of_data: I(u32(d, o + 24)) }),
    section_alignment: I(u32(d, o + 32)),
    file_alignment: I(img.fileAlignment),
    os_version: { major: I(u16(d, o + 40)), minor: I(u16(d, o + 42)) },
    image_version: { major: I(u16(d, o + 44)), minor: I(u16(d, o + 46)) },
    subsystem_version: { major: I(u16(d, o + 48)), minor: I(u16(d, o + 50)) },
    win32_version_value: I(u32(d, o + 52)),
    size_of_image: I(img.sizeOfImage),
    size_of_headers: I(u32(d, o + 60)),
    checksum: I(u32(d, o + 64)),
    subsystem: I(u16(d, o + 68)),
    dll_characteristics: I(u16(d, o + 70)),
    size_of_stack_reserve: p64 ? I(u64(d, o + 72)) : I(u32(d, o + 72)),
    size_of_stack_commit: p64 ? I(u64(d, o + 80)) : I(u32(d, o + 76)),
    size_of_heap_reserve: p64 ? I(u64(d, o + 88)) : I(u32(d, o + 80)),
    size_of_heap_commit: p64 ? I(u64(d, o + 96)) : I(u32(d, o + 84)),
    loader_flags: I(u32(d, o + (p64 ? 104 : 88))),
  };

  const dirs: ModuleData[] = [];
  // yara stores the count in an int: 0x80000000 and above are negative, so no directory.
  const nd = Math.min(img.numberOfRvaAndSizes | 0, 16);
  for (let i = 0; i < nd; i++) {
    const at = img.dataDirOffset + 8 * i;
    if (at + 8 > img.size) break;
    dirs.push({ virtual_address: I(u32(d, at)), size: I(u32(d, at + 4)) });
  }
  out.data_directories = dirs;

  out.sections = img.sections.map((s) => ({
    name: sectionName(s),
    full_name: sectionFullName(img, s),
    characteristics: I(s.characteristics),
    raw_data_size: I(s.sizeOfRawData),
    raw_data_offset: I(s.pointerToRawData),
    virtual_address: I(s.virtualAddress),
    virtual_size: I(s.virtualSize),
    pointer_to_relocations: I(s.pointerToRelocations),
    pointer_to_line_numbers: I(s.pointerToLinenumbers),
    number_of_relocations: I(s.numberOfRelocations),
    number_of_line_numbers: I(s.numberOfLinenumbers),
  }));
  const ov = pe.overlay;
  out.overlay = { offset: I(ov.offset), size: I(ov.size) };

  lazyGroup(out, ['resource_timestamp', 'resource_version', 'resources', 'number_of_resources', 'version_info', 'version_info_list', 'number_of_version_infos'], () => resourceData(pe));

  lazyField(out, 'rich_signature', () => {
    const r = pe.rich;
    if (!r) return {};
    return { offset: I(r.offset), length: I(r.length), key: I(r.key), raw_data: r.rawData, clear_data: r.clearData, version_data: r.versionData };
  });
  lazyField(out, 'pdb_path', () => pe.pdbPath);

  lazyGroup(out, ['number_of_signatures', 'signatures'], () => {
    const sigs = pe.signatures;
    if (!sigs) return {};
    return {
      number_of_signatures: I(sigs.length),
      signatures: sigs.map((s) => ({
        thumbprint: s.thumbprint,
        issuer: s.issuer,
        subject: s.subject,
        version: I(s.version),
        algorithm: s.algorithm,
        algorithm_oid: s.algorithmOid,
        serial: s.serial,
        not_before: s.notBefore !== undefined ? I(s.notBefore) : undefined,
        not_after: s.notAfter !== undefined ? I(s.notAfter) : undefined,
      })),
    };
  });

  lazyGroup(out, ['number_of_imports', 'number_of_imported_functions', 'import_details'], () => ({
    number_of_imports: I(pe.imports.numberOfDlls),
    number_of_imported_functions: I(pe.imports.numberOfFunctions),
    import_details: importDetails4_2(pe.imports),
  }));
  lazyGroup(out, ['number_of_delayed_imports', 'number_of_delayed_imported_functions', 'delayed_import_details'], () => ({
    number_of_delayed_imports: I(pe.delayImports.numberOfDlls),
    number_of_delayed_imported_functions: I(pe.delayImports.numberOfFunctions),
    delayed_import_details: importDetails4_5(pe.delayImports, 'number_of_functions'),
  }));
  lazyGroup(out, ['number_of_exports', 'export_timestamp', 'dll_name', 'export_details'], () => {
    const e = pe.exports;
    return {
      number_of_exports: I(e.entries.length),
      export_timestamp: e.timestamp !== undefined ? I(e.timestamp) : undefined,
      dll_name: e.dllName,
      export_details: e.entries.map((x) => ({
        ordinal: I(x.ordinal),
        rva: I(x.rva),
        offset: x.offset !== undefined ? I(x.offset) : undefined,
        forward_name: x.forwardName,
        name: x.name,
      })),
    };
  });
  return out;
}

// ─────────────────────────── functions ───────────────────────────

const LOWER = new Uint8Array(256).map((_, i) => (i >= 0x41 && i <= 0x5a ? i + 0x20 : i));

/** ASCII case-insensitive equality of byte strings (strcasecmp / ss_icompare == 0). */
function eqNoCase(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (LOWER[a[i]!] !== LOWER[b[i]!]) return false;
  return true;
}

/** A C string argument: the bytes before the first NUL. */
function cstr(v: YaraArg | undefined): Uint8Array {
  const b = v as Uint8Array;
  const z = b.indexOf(0);
  return z < 0 ? b : b.subarray(0, z);
}

const int = (v: YaraArg | undefined): bigint => v as bigint;
const re = (v: YaraArg | undefined): YaraRegexp => v as YaraRegexp;
const bool = (b: boolean): bigint => (b ? 1n : 0n);

function importsName(t: ImportTable, dll: Uint8Array, fn: Uint8Array): boolean {
  return t.dlls.some((d) => eqNoCase(d.name, dll) && d.functions.some((f) => eqNoCase(f.name, fn)));
}

function importsOrdinal(t: ImportTable, dll: Uint8Array, ord: bigint): boolean {
  return t.dlls.some((d) => eqNoCase(d.name, dll) && d.functions.some((f) => f.ordinal !== undefined && BigInt(f.ordinal) === BigInt.asUintN(64, ord)));
}

/** Functions whose DLL and name both match (a match of at least one character, as yara counts). */
function importsRegex(t: ImportTable, dll: YaraRegexp, fn: YaraRegexp): bigint {
  let n = 0n;
  for (const d of t.dlls) if (dll.test(d.name)) for (const f of d.functions) if (fn.test(f.name)) n++;
  return n;
}

function importsDll(t: ImportTable, dll: Uint8Array): bigint {
  let n = 0n;
  for (const d of t.dlls) if (eqNoCase(d.name, dll)) n += BigInt(d.functions.length);
  return n;
}

function importRva(t: ImportTable, dll: Uint8Array, match: (f: ImportTable['dlls'][number]['functions'][number]) => boolean): YaraValue | undefined {
  for (const d of t.dlls) {
    if (!eqNoCase(d.name, dll)) continue;
    for (const f of d.functions) if (match(f)) return f.rva ? I(f.rva) : undefined;
  }
  return undefined;
}

type Impl = Overload['impl'];

/** Wraps an implementation that needs the parsed PE: UNDEFINED for a non-PE. */
function withPe(f: (pe: PeFull, args: readonly YaraArg[], ctx: ScanContext) => YaraValue | undefined): Impl {
  return (ctx, args) => {
    const pe = peOf(ctx);
    return pe ? f(pe, args, ctx) : undefined;
  };
}

/** Index of the first export satisfying `test` (names only), or undefined. */
function exportIndex(pe: PeFull, test: (name: Uint8Array) => boolean): number | undefined {
  const entries = pe.exports.entries;
  for (let i = 0; i < entries.length; i++) {
    const n = entries[i]!.name;
    if (n && test(n)) return i;
  }
  return undefined;
}

/** `exports(ordinal)`: yara compares the ordinal with the number of exports, not with the base. */
function exportOrdinalIndex(pe: PeFull, ord: bigint): number | undefined {
  const entries = pe.exports.entries;
  const n = BigInt(entries.length);
  if (ord === 0n || ord > n) return undefined;
  for (let i = 0; i < entries.length; i++) if (BigInt(entries[i]!.ordinal) === ord) return i;
  return undefined;
}

const STANDARD = 1n;
const DELAYED = 2n;

const PE_FUNCTIONS: Implementations = {
  'calculate_checksum()': withPe((pe) => peChecksum(pe.image)),
  'rva_to_offset(i)': withPe((pe, a) => {
    const rva = BigInt.asUintN(64, int(a[0]));
    const off = rva > 0xffffffffffn ? -1 : rvaToOffset(pe.image, Number(rva));
    return off === -1 ? undefined : I(off);
  }),
  'imphash()': withPe((pe) => te.encode(pe.imphash)),
  'section_index(s)': withPe((pe, a) => {
    const want = cstr(a[0]);
    const secs = pe.image.sections;
    const n = Math.min(pe.image.numberOfSections, secs.length);
    for (let i = 0; i < n; i++) {
      const name = cstr(sectionName(secs[i]!));
      if (name.length === want.length && name.every((c, k) => c === want[k])) return I(i);
    }
    return undefined;
  }),
  'section_index(i)': withPe((pe, a) => {
    const addr = int(a[0]);
    const secs = pe.image.sections;
    const n = Math.min(pe.image.numberOfSections, secs.length);
    for (let i = 0; i < n; i++) {
      const s = secs[i]!;
      const off = BigInt(s.pointerToRawData);
      if (addr >= off && addr < off + BigInt(s.sizeOfRawData)) return I(i);
    }
    return undefined;
  }),
  'exports(s)': withPe((pe, a) => bool(exportIndex(pe, (n) => eqNoCase(n, a[0] as Uint8Array)) !== undefined)),
  'exports(r)': withPe((pe, a) => bool(exportIndex(pe, (n) => re(a[0]).test(n)) !== undefined)),
  'exports(i)': withPe((pe, a) => bool(exportOrdinalIndex(pe, int(a[0])) !== undefined)),
  'exports_index(s)': withPe((pe, a) => {
    const i = exportIndex(pe, (n) => eqNoCase(n, a[0] as Uint8Array));
    return i === undefined ? undefined : I(i);
  }),
  'exports_index(r)': withPe((pe, a) => {
    const i = exportIndex(pe, (n) => re(a[0]).test(n));
    return i === undefined ? undefined : I(i);
  }),
  'exports_index(i)': withPe((pe, a) => {
    const i = exportOrdinalIndex(pe, int(a[0]));
    return i === undefined ? undefined : I(i);
  }),
  'imports(ss)': withPe((pe, a) => bool(importsName(pe.imports, cstr(a[0]), cstr(a[1])))),
  'imports(si)': withPe((pe, a) => bool(importsOrdinal(pe.imports, cstr(a[0]), int(a[1])))),
  'imports(s)': withPe((pe, a) => importsDll(pe.imports, cstr(a[0]))),
  'imports(rr)': withPe((pe, a) => importsRegex(pe.imports, re(a[0]), re(a[1]))),
  'imports(iss)': withPe((pe, a) => {
    const f = int(a[0]);
    return bool(((f & STANDARD) !== 0n && importsName(pe.imports, cstr(a[1]), cstr(a[2]))) || ((f & DELAYED) !== 0n && importsName(pe.delayImports, cstr(a[1]), cstr(a[2]))));
  }),
  'imports(isi)': withPe((pe, a) => {
    const f = int(a[0]);
    return bool(((f & STANDARD) !== 0n && importsOrdinal(pe.imports, cstr(a[1]), int(a[2]))) || ((f & DELAYED) !== 0n && importsOrdinal(pe.delayImports, cstr(a[1]), int(a[2]))));
  }),
  'imports(is)': withPe((pe, a) => {
    const f = int(a[0]);
    let n = 0n;
    if ((f & STANDARD) !== 0n) n += importsDll(pe.imports, cstr(a[1]));
    if ((f & DELAYED) !== 0n) n += importsDll(pe.delayImports, cstr(a[1]));
    return n;
  }),
  'imports(irr)': withPe((pe, a) => {
    const f = int(a[0]);
    let n = 0n;
    if ((f & STANDARD) !== 0n) n += importsRegex(pe.imports, re(a[1]), re(a[2]));
    if ((f & DELAYED) !== 0n) n += importsRegex(pe.delayImports, re(a[1]), re(a[2]));
    return n;
  }),
  'import_rva(ss)': withPe((pe, a) => importRva(pe.imports, a[0] as Uint8Array, (f) => eqNoCase(f.name, a[1] as Uint8Array))),
  'import_rva(si)': withPe((pe, a) => importRva(pe.imports, a[0] as Uint8Array, (f) => f.ordinal !== undefined && BigInt(f.ordinal) === int(a[1]))),
  'delayed_import_rva(ss)': withPe((pe, a) => importRva(pe.delayImports, a[0] as Uint8Array, (f) => eqNoCase(f.name, a[1] as Uint8Array))),
  'delayed_import_rva(si)': withPe((pe, a) => importRva(pe.delayImports, a[0] as Uint8Array, (f) => f.ordinal !== undefined && BigInt(f.ordinal) === int(a[1]))),
  'locale(i)': withPe((pe, a) => resourceLanguage(pe, int(a[0]), 0xffffn)),
  'language(i)': withPe((pe, a) => resourceLanguage(pe, int(a[0]), 0xffn)),
  'is_dll()': withPe((pe) => I(pe.image.characteristics & 0x2000)),
  'is_32bit()': withPe((pe) => bool(!pe.image.pe64)),
  'is_64bit()': withPe((pe) => bool(pe.image.pe64)),
  'rich_signature.version(i)': withPe((pe, a) => rich(pe, int(a[0]), undefined)),
  'rich_signature.version(ii)': withPe((pe, a) => rich(pe, int(a[0]), int(a[1]))),
  'rich_signature.toolid(i)': withPe((pe, a) => rich(pe, undefined, int(a[0]))),
  'rich_signature.toolid(ii)': withPe((pe, a) => rich(pe, int(a[1]), int(a[0]))),
  // The signature the function is called on arrives as `data` when the evaluator hands a nested
  // function its parent structure; otherwise (the module root) the answer is UNDEFINED.
  'signatures.valid_on(i)': (_ctx, a, data) => {
    const r = data as { not_before?: unknown; not_after?: unknown } | undefined;
    if (!r || typeof r.not_before !== 'bigint' || typeof r.not_after !== 'bigint') return undefined;
    const t = int(a[0]);
    return bool(t >= r.not_before && t <= r.not_after);
  },
};

/** `locale()` / `language()`: a resource whose language id, masked, equals the argument. */
function resourceLanguage(pe: PeFull, want: bigint, mask: bigint): bigint {
  const leaves = pe.resources?.leaves ?? [];
  const w = BigInt.asUintN(64, want);
  // A named language leaves the integer undefined, which yara reads as its UNDEFINED marker.
  for (const l of leaves) if ((BigInt.asUintN(64, l.language !== undefined ? I(l.language) : UNDEF_INT) & mask) === w) return 1n;
  return 0n;
}

function rich(pe: PeFull, version: bigint | undefined, toolid: bigint | undefined): YaraValue | undefined {
  const r = pe.rich;
  return r ? richCount(r, version, toolid) : undefined;
}

/** The parsed PE of this scan (undefined for a non-PE), parsed once per scan. */
export function peOf(ctx: ScanContext): PeFull | undefined {
  return ctx.formats.get('pefull', () => parsePeFull(allBytes(ctx) ?? ctx.data));
}

export const peModule: YaraModule = {
  name: 'pe',
  since: '3.0',
  declarations: catalogDeclarations('pe', PE_FUNCTIONS),
  load: (ctx) => {
    const constants: Data = { ...integerConstants(PE_CONSTANTS), is_pe: 0n };
    const pe = peOf(ctx);
    return pe ? peModuleData(pe, constants) : constants;
  },
};

