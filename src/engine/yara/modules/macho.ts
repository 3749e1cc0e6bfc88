/**
 * YARA's `macho` module: the constants (`macho.MH_MAGIC`, `macho.CPU_TYPE_X86_64`,
 * `macho.MH_EXECUTE`, `macho.S_ZEROFILL`…) whatever the input, and for a Mach-O file (32 or 64
 * bits, either byte order) or a universal binary the header, segments with their sections, entry
 * point, stack size, fat header and members, and the functions `file_index_for_arch` and
 * `entry_point_for_arch`, as yara 4.2.3 sets them.
 *
 * In: the scan context (the file's bytes). Out: module data shaped like the catalog's
 * declarations. yara's behaviour is followed, quirks included: `magic` is the first word as read
 * on a little-endian machine (a byte-swapped file shows MH_CIGAM); load commands stop at the first
 * one that is shorter than 8 bytes or longer than what is left; a segment's file size is the
 * member `fsize`; the entry point is LC_MAIN's `entryoff`, or LC_UNIXTHREAD's program counter
 * mapped to a file offset through the segments; a fat binary's member is parsed only when it lies
 * inside the file (its `file[i]` entry exists anyway), and `fat_arch[i].reserved` is not a member.
 */
import { catalogDeclarations, int64Data, integerConstants } from './declare.js';
import type { ModuleData, YaraModule, YaraValue } from './types.js';

/** The integer constants the module defines whatever the input. */
export const MACHO_CONSTANTS: Readonly<Record<string, number>> = {
  MH_MAGIC: 0xfeedface,
  MH_CIGAM: 0xcefaedfe,
  MH_MAGIC_64: 0xfeedfacf,
  MH_CIGAM_64: 0xcffaedfe,
  FAT_MAGIC: 0xcafebabe,
  FAT_CIGAM: 0xbebafeca,
  FAT_MAGIC_64: 0xcafebabf,
  FAT_CIGAM_64: 0xbfbafeca,
  CPU_ARCH_ABI64: 0x1000000,
  CPU_SUBTYPE_LIB64: 0x80000000,
  CPU_TYPE_MC680X0: 6,
  CPU_TYPE_X86: 7,
  CPU_TYPE_I386: 7,
  CPU_TYPE_X86_64: 0x1000007,
  CPU_TYPE_MIPS: 8,
  CPU_TYPE_MC98000: 0xa,
  CPU_TYPE_ARM: 0xc,
  CPU_TYPE_ARM64: 0x100000c,
  CPU_TYPE_MC88000: 0xd,
  CPU_TYPE_SPARC: 0xe,
  CPU_TYPE_POWERPC: 0x12,
  CPU_TYPE_POWERPC64: 0x1000012,
  CPU_SUBTYPE_INTEL_MODEL_ALL: 0,
  CPU_SUBTYPE_386: 3,
  CPU_SUBTYPE_I386_ALL: 3,
  CPU_SUBTYPE_X86_64_ALL: 3,
  CPU_SUBTYPE_486: 4,
  CPU_SUBTYPE_486SX: 0x84,
  CPU_SUBTYPE_586: 5,
  CPU_SUBTYPE_PENT: 5,
  CPU_SUBTYPE_PENTPRO: 0x16,
  CPU_SUBTYPE_PENTII_M3: 0x36,
  CPU_SUBTYPE_PENTII_M5: 0x56,
  CPU_SUBTYPE_CELERON: 0x67,
  CPU_SUBTYPE_CELERON_MOBILE: 0x77,
  CPU_SUBTYPE_PENTIUM_3: 8,
  CPU_SUBTYPE_PENTIUM_3_M: 0x18,
  CPU_SUBTYPE_PENTIUM_3_XEON: 0x28,
  CPU_SUBTYPE_PENTIUM_M: 9,
  CPU_SUBTYPE_PENTIUM_4: 0xa,
  CPU_SUBTYPE_PENTIUM_4_M: 0x1a,
  CPU_SUBTYPE_ITANIUM: 0xb,
  CPU_SUBTYPE_ITANIUM_2: 0x1b,
  CPU_SUBTYPE_XEON: 0xc,
  CPU_SUBTYPE_XEON_MP: 0x1c,
  CPU_SUBTYPE_ARM_ALL: 0,
  CPU_SUBTYPE_ARM_V4T: 5,
  CPU_SUBTYPE_ARM_V6: 6,
  CPU_SUBTYPE_ARM_V5: 7,
  CPU_SUBTYPE_ARM_V5TEJ: 7,
  CPU_SUBTYPE_ARM_XSCALE: 8,
  CPU_SUBTYPE_ARM_V7: 9,
  CPU_SUBTYPE_ARM_V7F: 0xa,
  CPU_SUBTYPE_ARM_V7S: 0xb,
  CPU_SUBTYPE_ARM_V7K: 0xc,
  CPU_SUBTYPE_ARM_V6M: 0xe,
  CPU_SUBTYPE_ARM_V7M: 0xf,
  CPU_SUBTYPE_ARM_V7EM: 0x10,
  CPU_SUBTYPE_ARM64_ALL: 0,
  CPU_SUBTYPE_SPARC_ALL: 0,
  CPU_SUBTYPE_POWERPC_ALL: 0,
  CPU_SUBTYPE_MC980000_ALL: 0,
  CPU_SUBTYPE_POWERPC_601: 1,
  CPU_SUBTYPE_MC98601: 1,
  CPU_SUBTYPE_POWERPC_602: 2,
  CPU_SUBTYPE_POWERPC_603: 3,
  CPU_SUBTYPE_POWERPC_603e: 4,
  CPU_SUBTYPE_POWERPC_603ev: 5,
  CPU_SUBTYPE_POWERPC_604: 6,
  CPU_SUBTYPE_POWERPC_604e: 7,
  CPU_SUBTYPE_POWERPC_620: 8,
  CPU_SUBTYPE_POWERPC_750: 9,
  CPU_SUBTYPE_POWERPC_7400: 0xa,
  CPU_SUBTYPE_POWERPC_7450: 0xb,
  CPU_SUBTYPE_POWERPC_970: 0x64,
  MH_OBJECT: 1,
  MH_EXECUTE: 2,
  MH_FVMLIB: 3,
  MH_CORE: 4,
  MH_PRELOAD: 5,
  MH_DYLIB: 6,
  MH_DYLINKER: 7,
  MH_BUNDLE: 8,
  MH_DYLIB_STUB: 9,
  MH_DSYM: 0xa,
  MH_KEXT_BUNDLE: 0xb,
  MH_NOUNDEFS: 1,
  MH_INCRLINK: 2,
  MH_DYLDLINK: 4,
  MH_BINDATLOAD: 8,
  MH_PREBOUND: 0x10,
  MH_SPLIT_SEGS: 0x20,
  MH_LAZY_INIT: 0x40,
  MH_TWOLEVEL: 0x80,
  MH_FORCE_FLAT: 0x100,
  MH_NOMULTIDEFS: 0x200,
  MH_NOFIXPREBINDING: 0x400,
  MH_PREBINDABLE: 0x800,
  MH_ALLMODSBOUND: 0x1000,
  MH_SUBSECTIONS_VIA_SYMBOLS: 0x2000,
  MH_CANONICAL: 0x4000,
  MH_WEAK_DEFINES: 0x8000,
  MH_BINDS_TO_WEAK: 0x10000,
  MH_ALLOW_STACK_EXECUTION: 0x20000,
  MH_ROOT_SAFE: 0x40000,
  MH_SETUID_SAFE: 0x80000,
  MH_NO_REEXPORTED_DYLIBS: 0x100000,
  MH_PIE: 0x200000,
  MH_DEAD_STRIPPABLE_DYLIB: 0x400000,
  MH_HAS_TLV_DESCRIPTORS: 0x800000,
  MH_NO_HEAP_EXECUTION: 0x1000000,
  MH_APP_EXTENSION_SAFE: 0x2000000,
  SG_HIGHVM: 1,
  SG_FVMLIB: 2,
  SG_NORELOC: 4,
  SG_PROTECTED_VERSION_1: 8,
  SECTION_TYPE: 0xff,
  SECTION_ATTRIBUTES: 0xffffff00,
  S_REGULAR: 0,
  S_ZEROFILL: 1,
  S_CSTRING_LITERALS: 2,
  S_4BYTE_LITERALS: 3,
  S_8BYTE_LITERALS: 4,
  S_LITERAL_POINTERS: 5,
  S_NON_LAZY_SYMBOL_POINTERS: 6,
  S_LAZY_SYMBOL_POINTERS: 7,
  S_SYMBOL_STUBS: 8,
  S_MOD_INIT_FUNC_POINTERS: 9,
  S_MOD_TERM_FUNC_POINTERS: 0xa,
  S_COALESCED: 0xb,
  S_GB_ZEROFILL: 0xc,
  S_INTERPOSING: 0xd,
  S_16BYTE_LITERALS: 0xe,
  S_DTRACE_DOF: 0xf,
  S_LAZY_DYLIB_SYMBOL_POINTERS: 0x10,
  S_THREAD_LOCAL_REGULAR: 0x11,
  S_THREAD_LOCAL_ZEROFILL: 0x12,
  S_THREAD_LOCAL_VARIABLES: 0x13,
  S_THREAD_LOCAL_VARIABLE_POINTERS: 0x14,
  S_THREAD_LOCAL_INIT_FUNCTION_POINTERS: 0x15,
  S_ATTR_PURE_INSTRUCTIONS: 0x80000000,
  S_ATTR_NO_TOC: 0x40000000,
  S_ATTR_STRIP_STATIC_SYMS: 0x20000000,
  S_ATTR_NO_DEAD_STRIP: 0x10000000,
  S_ATTR_LIVE_SUPPORT: 0x8000000,
  S_ATTR_SELF_MODIFYING_CODE: 0x4000000,
  S_ATTR_DEBUG: 0x2000000,
  S_ATTR_SOME_INSTRUCTIONS: 0x400,
  S_ATTR_EXT_RELOC: 0x200,
  S_ATTR_LOC_RELOC: 0x100,
};

const LC_SEGMENT = 1, LC_UNIXTHREAD = 5, LC_SEGMENT_64 = 0x19, LC_MAIN = 0x80000028;
const MAGICS = new Set([0xfeedface, 0xcefaedfe, 0xfeedfacf, 0xcffaedfe]);
const FAT_MAGICS = new Set([0xcafebabe, 0xbebafeca, 0xcafebabf, 0xbfbafeca]);
const SWAPPED = new Set([0xcefaedfe, 0xcffaedfe, 0xbebafeca, 0xbfbafeca]);

/** Little-endian reads (as yara reads on x86), swapped when the file's magic says so. */
class Reader {
  private readonly dv: DataView;
  constructor(readonly b: Uint8Array, readonly swap: boolean) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  u32(o: number): number { return this.dv.getUint32(o, !this.swap); }
  u64(o: number): bigint { return this.dv.getBigUint64(o, !this.swap); }
  name16(o: number): Uint8Array {
    let n = 0;
    while (n < 16 && this.b[o + n] !== 0) n++;
    return this.b.slice(o, o + n);
  }
}

/** Program-counter offset and size of each CPU's thread state in LC_UNIXTHREAD (yara's packed structs). */
const THREAD_PC: Readonly<Record<number, { at: number; size: number; is64: boolean }>> = {
  6: { at: 68, size: 72, is64: false }, // MC680X0
  0xb: { at: 124, size: 136, is64: false }, // MC88000
  0xe: { at: 4, size: 76, is64: false }, // SPARC
  0x12: { at: 0, size: 160, is64: false }, // POWERPC
  7: { at: 40, size: 64, is64: false }, // X86
  0xc: { at: 60, size: 68, is64: false }, // ARM
  0x1000007: { at: 128, size: 168, is64: true }, // X86_64
  0x100000c: { at: 256, size: 272, is64: true }, // ARM64
  0x1000012: { at: 0, size: 304, is64: true }, // POWERPC64
};

/** yara's `macho_parse_file`: the members of one Mach-O image (`bytes` is exactly the image). */
function parseFile(bytes: Uint8Array): Record<string, ModuleData> {
  const out: Record<string, ModuleData> = {};
  const size = bytes.length;
  if (size < 32) return out;
  const is32 = bytes[0] === 0xce || bytes[3] === 0xce;
  const headerSize = is32 ? 28 : 32;
  const magic = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  const r = new Reader(bytes, SWAPPED.has(magic));
  out['magic'] = BigInt(magic);
  const cputype = r.u32(4);
  out['cputype'] = BigInt(cputype);
  out['cpusubtype'] = BigInt(r.u32(8));
  out['filetype'] = BigInt(r.u32(12));
  const ncmds = r.u32(16);
  out['ncmds'] = BigInt(ncmds);
  out['sizeofcmds'] = BigInt(r.u32(20));
  out['flags'] = BigInt(r.u32(24));
  if (!is32) out['reserved'] = BigInt(r.u32(28));
  const segments: Record<string, ModuleData>[] = [];
  // Load commands as yara walks them (twice: segments first, then the entry point).
  const commands = function* (): Generator<{ at: number; cmd: number; cmdsize: number; left: number }> {
    let at = headerSize;
    for (let i = 0; i < ncmds; i++) {
      if (at + 8 > size) return;
      const cmd = r.u32(at), cmdsize = r.u32(at + 4);
      if (size - at < cmdsize || cmdsize < 8) return;
      yield { at, cmd, cmdsize, left: size - at };
      at += cmdsize;
    }
  };
  for (const c of commands()) {
    const is64 = c.cmd === LC_SEGMENT_64;
    if (c.cmd !== LC_SEGMENT && !is64) continue;
    const segSize = is64 ? 72 : 56;
    if (c.left < segSize) { segments.push({}); continue; }
    const a = c.at;
    const word = (o: number): bigint => (is64 ? r.u64(o) : BigInt(r.u32(o)));
    const W = is64 ? 8 : 4;
    const nsects = r.u32(a + 24 + 4 * W + 8);
    const seg: Record<string, ModuleData> = {
      segname: r.name16(a + 8), vmaddr: word(a + 24), vmsize: word(a + 24 + W), fileoff: word(a + 24 + 2 * W), fsize: word(a + 24 + 3 * W),
      maxprot: BigInt(r.u32(a + 24 + 4 * W)), initprot: BigInt(r.u32(a + 24 + 4 * W + 4)), nsects: BigInt(nsects), flags: BigInt(r.u32(a + 24 + 4 * W + 12)),
    };
    const sections: Record<string, ModuleData>[] = [];
    const secSize = is64 ? 80 : 68;
    let parsed = segSize;
    for (let j = 0; j < nsects; j++) {
      parsed += secSize;
      if (c.cmdsize < parsed) break;
      const o = a + segSize + j * secSize;
      const sec: Record<string, ModuleData> = {
        sectname: r.name16(o), segname: r.name16(o + 16), addr: word(o + 32), size: word(o + 32 + W),
      };
      const q = o + 32 + 2 * W;
      sec['offset'] = BigInt(r.u32(q)); sec['align'] = BigInt(r.u32(q + 4)); sec['reloff'] = BigInt(r.u32(q + 8));
      sec['nreloc'] = BigInt(r.u32(q + 12)); sec['flags'] = BigInt(r.u32(q + 16)); sec['reserved1'] = BigInt(r.u32(q + 20));
      sec['reserved2'] = BigInt(r.u32(q + 24));
      if (is64) sec['reserved3'] = BigInt(r.u32(q + 28));
      sections.push(sec);
    }
    if (sections.length > 0) seg['sections'] = sections;
    segments.push(seg);
  }
  out['number_of_segments'] = BigInt(segments.length);
  if (segments.length > 0) out['segments'] = segments;
  for (const c of commands()) {
    if (c.cmd === LC_MAIN) {
      if (c.left < 24) continue;
      out['entry_point'] = r.u64(c.at + 8);
      out['stack_size'] = r.u64(c.at + 16);
    } else if (c.cmd === LC_UNIXTHREAD) {
      if (c.left < 16) continue;
      const cmdsize = Math.min(c.left, r.u32(c.at + 4));
      if (cmdsize < 16) continue;
      const pc = THREAD_PC[cputype];
      if (!pc) continue;
      let address = 0n;
      if (cmdsize - 16 >= pc.size) address = pc.is64 ? r.u64(c.at + 16 + pc.at) : BigInt(r.u32(c.at + 16 + pc.at));
      // The program counter as a file offset, through the segments' address ranges.
      for (const seg of segments) {
        const start = seg['vmaddr'] as bigint | undefined, len = seg['vmsize'] as bigint | undefined;
        if (start === undefined || len === undefined) continue;
        if (address >= start && address < BigInt.asUintN(64, start + len)) {
          out['entry_point'] = BigInt.asUintN(64, (seg['fileoff'] as bigint) + (address - start));
          break;
        }
      }
    }
  }
  return out;
}

/** The members yara 4.2.3 sets for `bytes`, or undefined when it is neither Mach-O nor a fat binary. */
export function machoModuleData(bytes: Uint8Array): Record<string, ModuleData> | undefined {
  if (bytes.length < 4) return undefined;
  const magic = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  if (MAGICS.has(magic)) return int64Data(parseFile(bytes)) as Record<string, ModuleData>;
  if (!FAT_MAGICS.has(magic)) return undefined;
  const out: Record<string, ModuleData> = {};
  if (bytes.length < 8) return out;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const is32 = bytes[3] === 0xbe;
  const archSize = is32 ? 20 : 32;
  out['fat_magic'] = BigInt(dv.getUint32(0, false));
  const count = dv.getUint32(4, false);
  out['nfat_arch'] = BigInt(count);
  if (bytes.length < 8 + count * archSize) return int64Data(out) as Record<string, ModuleData>;
  const archs: ModuleData[] = [];
  const files: ModuleData[] = [];
  for (let i = 0; i < count; i++) {
    const o = 8 + i * archSize;
    const offset = is32 ? BigInt(dv.getUint32(o + 8, false)) : dv.getBigUint64(o + 8, false);
    const asize = is32 ? BigInt(dv.getUint32(o + 12, false)) : dv.getBigUint64(o + 16, false);
    archs.push({ cputype: BigInt(dv.getUint32(o, false)), cpusubtype: BigInt(dv.getUint32(o + 4, false)), offset, size: asize, align: BigInt(dv.getUint32(o + (is32 ? 16 : 24), false)) });
    const end = offset + asize;
    if (BigInt.asUintN(64, end) < offset || BigInt(bytes.length) < end) continue;
    files[i] = parseFile(bytes.subarray(Number(offset), Number(end)));
  }
  out['fat_arch'] = archs;
  // Members not parsed leave holes; yara's array has an (empty) entry only for the parsed ones.
  out['file'] = Array.from({ length: files.length }, (_, i) => files[i] ?? undefined);
  return int64Data(out) as Record<string, ModuleData>;
}


type Data = Record<string, ModuleData> | undefined;
const field = (d: ModuleData, key: string): ModuleData => (d && typeof d === 'object' && !(d instanceof Uint8Array) && !(d instanceof Map) && !Array.isArray(d) ? (d as Record<string, ModuleData>)[key] : undefined);
const at = (d: ModuleData, i: number): ModuleData => (Array.isArray(d) ? d[i] : undefined);

/** yara's fat-binary lookups: the first member whose `key` (under `list`) equals the arguments. */
function findArch(data: Data, list: 'file' | 'fat_arch', type: bigint, subtype?: bigint): number | undefined {
  const n = data?.['nfat_arch'];
  if (typeof n !== 'bigint') return undefined;
  for (let i = 0; i < Number(BigInt.asUintN(64, n)) && i < 1 << 20; i++) {
    const e = at(data![list], i);
    const t = field(e, 'cputype'), s = field(e, 'cpusubtype');
    if (t === type && (subtype === undefined || s === subtype)) return i;
  }
  return undefined;
}

function entryFor(data: Data, i: number | undefined): YaraValue | undefined {
  if (i === undefined) return undefined;
  const off = field(at(data!['fat_arch'], i), 'offset');
  const ep = field(at(data!['file'], i), 'entry_point');
  if (typeof off !== 'bigint') return undefined;
  // yara adds whatever get_integer gives for an unset entry point (its UNDEFINED marker).
  const sum = BigInt.asIntN(64, off + (typeof ep === 'bigint' ? ep : UNDEFINED_MARKER));
  return sum === UNDEFINED_MARKER ? undefined : sum;
}

/** The value yara's `get_integer` returns for an unset member (YR_UNDEFINED). */
const UNDEFINED_MARKER = BigInt.asIntN(64, 0xfffabadafabadaffn);

export const machoModule: YaraModule = {
  name: 'macho',
  since: '3.8',
  declarations: catalogDeclarations('macho', {
    'file_index_for_arch(i)': (_c, args, data) => { const i = findArch(data as Data, 'file', args[0] as bigint); return i === undefined ? undefined : BigInt(i); },
    'file_index_for_arch(ii)': (_c, args, data) => { const i = findArch(data as Data, 'file', args[0] as bigint, args[1] as bigint); return i === undefined ? undefined : BigInt(i); },
    'entry_point_for_arch(i)': (_c, args, data) => entryFor(data as Data, findArch(data as Data, 'fat_arch', args[0] as bigint)),
    'entry_point_for_arch(ii)': (_c, args, data) => entryFor(data as Data, findArch(data as Data, 'fat_arch', args[0] as bigint, args[1] as bigint)),
  }),
  load: (ctx) => {
    const constants = integerConstants(MACHO_CONSTANTS) as Record<string, ModuleData>;
    const parsed = ctx.formats.get('yara-macho', machoModuleData);
    return parsed ? { ...constants, ...parsed } : constants;
  },
};
