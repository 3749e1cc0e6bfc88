/**
 * YARA's `elf` module: the constants (`elf.ET_EXEC`, `elf.EM_386`, `elf.SHT_PROGBITS`,
 * `elf.PT_LOAD`, `elf.DT_NEEDED`…) whatever the input, and for an ELF file (32 or 64 bits, either
 * byte order) the header, sections, segments, dynamic entries and symbol tables as yara 4.2.3 sets
 * them.
 *
 * In: the scan context (the file's bytes). Out: module data shaped like the catalog's declarations.
 * yara's checks are followed one by one, quirks included, because rules depend on which members
 * are defined: the section table is read only when it lies inside the file and has fewer than
 * 0xff00 entries; a section's name comes from the section-name string table only when that table
 * starts with a NUL and the name ends before the file does; symbol tables need their string
 * table's section to be SHT_STRTAB (the link index is compared with the header's entry count as
 * stored, not byte-swapped, as yara does); `entry_point` is a file offset found through the
 * program headers of ET_EXEC files and through the sections of the others, and is undefined when
 * no segment or section holds it; each PT_DYNAMIC segment's entries run to DT_NULL or the end of
 * the file. yara 4.5's `elf.telfhash()` and `elf.import_md5()` are undefined.
 */
import { catalogDeclarations, int64Data, integerConstants } from './declare.js';
import type { ModuleData, YaraModule } from './types.js';

/** The integer constants the module defines whatever the input. */
export const ELF_CONSTANTS: Readonly<Record<string, number>> = {
  ET_NONE: 0,
  ET_REL: 1,
  ET_EXEC: 2,
  ET_DYN: 3,
  ET_CORE: 4,
  EM_NONE: 0,
  EM_M32: 1,
  EM_SPARC: 2,
  EM_386: 3,
  EM_68K: 4,
  EM_88K: 5,
  EM_860: 7,
  EM_MIPS: 8,
  EM_MIPS_RS3_LE: 0xa,
  EM_PPC: 0x14,
  EM_PPC64: 0x15,
  EM_ARM: 0x28,
  EM_X86_64: 0x3e,
  EM_AARCH64: 0xb7,
  SHT_NULL: 0,
  SHT_PROGBITS: 1,
  SHT_SYMTAB: 2,
  SHT_STRTAB: 3,
  SHT_RELA: 4,
  SHT_HASH: 5,
  SHT_DYNAMIC: 6,
  SHT_NOTE: 7,
  SHT_NOBITS: 8,
  SHT_REL: 9,
  SHT_SHLIB: 0xa,
  SHT_DYNSYM: 0xb,
  SHF_WRITE: 1,
  SHF_ALLOC: 2,
  SHF_EXECINSTR: 4,
  PT_NULL: 0,
  PT_LOAD: 1,
  PT_DYNAMIC: 2,
  PT_INTERP: 3,
  PT_NOTE: 4,
  PT_SHLIB: 5,
  PT_PHDR: 6,
  PT_TLS: 7,
  PT_GNU_EH_FRAME: 0x6474e550,
  PT_GNU_STACK: 0x6474e551,
  DT_NULL: 0,
  DT_NEEDED: 1,
  DT_PLTRELSZ: 2,
  DT_PLTGOT: 3,
  DT_HASH: 4,
  DT_STRTAB: 5,
  DT_SYMTAB: 6,
  DT_RELA: 7,
  DT_RELASZ: 8,
  DT_RELAENT: 9,
  DT_STRSZ: 0xa,
  DT_SYMENT: 0xb,
  DT_INIT: 0xc,
  DT_FINI: 0xd,
  DT_SONAME: 0xe,
  DT_RPATH: 0xf,
  DT_SYMBOLIC: 0x10,
  DT_REL: 0x11,
  DT_RELSZ: 0x12,
  DT_RELENT: 0x13,
  DT_PLTREL: 0x14,
  DT_DEBUG: 0x15,
  DT_TEXTREL: 0x16,
  DT_JMPREL: 0x17,
  DT_BIND_NOW: 0x18,
  DT_INIT_ARRAY: 0x19,
  DT_FINI_ARRAY: 0x1a,
  DT_INIT_ARRAYSZ: 0x1b,
  DT_FINI_ARRAYSZ: 0x1c,
  DT_RUNPATH: 0x1d,
  DT_FLAGS: 0x1e,
  DT_ENCODING: 0x20,
  STT_NOTYPE: 0,
  STT_OBJECT: 1,
  STT_FUNC: 2,
  STT_SECTION: 3,
  STT_FILE: 4,
  STT_COMMON: 5,
  STT_TLS: 6,
  STB_LOCAL: 0,
  STB_GLOBAL: 1,
  STB_WEAK: 2,
  PF_X: 1,
  PF_W: 2,
  PF_R: 4,
};

/** Reads ELF fields in one byte order and width; out-of-file reads answer undefined. */
class ElfView {
  private readonly dv: DataView;
  constructor(readonly b: Uint8Array, readonly le: boolean, readonly is64: boolean) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  u8(o: number): number { return this.b[o]!; }
  u16(o: number): number { return this.dv.getUint16(o, this.le); }
  u32(o: number): number { return this.dv.getUint32(o, this.le); }
  /** A word of the file's width, as bigint (unsigned; `int64` makes it YARA's signed integer). */
  word(o: number): bigint { return this.is64 ? this.dv.getBigUint64(o, this.le) : BigInt(this.dv.getUint32(o, this.le)); }
  /** A 16-bit field as stored, read little-endian whatever the file's order (yara compares some fields unswapped). */
  raw16(o: number): number { return this.dv.getUint16(o, true); }
}

const LORESERVE = 0xff00;
const PN_XNUM = 0xffff;
const UNDEF = undefined;

/** yara's `str_table_entry`: a NUL-terminated string of the table, or undefined. */
function strEntry(b: Uint8Array, base: number, limit: number, index: number): Uint8Array | undefined {
  if (base >= limit || base < 0 || base >= b.length) return UNDEF;
  if (b[base] !== 0) return UNDEF;
  if (index < 0) return UNDEF;
  const at = base + index;
  if (at >= limit) return UNDEF;
  let end = at;
  while (end < limit && b[end] !== 0) end++;
  if (end === limit) return UNDEF;
  return b.slice(at, end);
}

/** The ELF members yara 4.2.3 sets for `bytes`, or undefined when it is not an ELF file it parses. */
export function elfModuleData(bytes: Uint8Array): Record<string, ModuleData> | undefined {
  if (bytes.length < 16 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return UNDEF;
  const cls = bytes[4], data = bytes[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) return UNDEF;
  const is64 = cls === 2;
  if (bytes.length <= (is64 ? 64 : 52)) return UNDEF;
  const v = new ElfView(bytes, data === 1, is64);
  const size = bytes.length;
  // Header field offsets (e_type … e_shstrndx).
  const W = is64 ? 8 : 4;
  const entryAt = 24, phoffAt = 24 + W, shoffAt = 24 + 2 * W, ehsizeAt = 24 + 3 * W + 4;
  const phentsizeAt = ehsizeAt + 2, phnumAt = ehsizeAt + 4, shentsizeAt = ehsizeAt + 6, shnumAt = ehsizeAt + 8, shstrndxAt = ehsizeAt + 10;
  const SH = is64 ? 64 : 40, PH = is64 ? 56 : 32, SYM = is64 ? 24 : 16, DYN = is64 ? 16 : 8;
  const type = v.u16(16);
  const shoff = v.word(shoffAt), phoff = v.word(phoffAt), entry = v.word(entryAt);
  const shnum = v.u16(shnumAt), phnum = v.u16(phnumAt), shstrndx = v.u16(shstrndxAt);
  const out: Record<string, ModuleData> = {
    type: BigInt(type),
    machine: BigInt(v.u16(18)),
    sh_offset: shoff,
    sh_entry_size: BigInt(v.u16(shentsizeAt)),
    number_of_sections: BigInt(shnum),
    ph_offset: phoff,
    ph_entry_size: BigInt(v.u16(phentsizeAt)),
    number_of_segments: BigInt(phnum),
  };
  const fits = (off: bigint, len: bigint): boolean => off <= BigInt(size) && off + len <= BigInt(size);
  // Section header k's fields.
  const sec = (k: number) => {
    const o = Number(shoff) + k * SH;
    return {
      name: v.u32(o), type: v.u32(o + 4), flags: v.word(o + 8), addr: v.word(o + 8 + W), offset: v.word(o + 8 + 2 * W),
      size: v.word(o + 8 + 3 * W), link: v.u32(o + 8 + 4 * W),
    };
  };
  const seg = (k: number) => {
    const o = Number(phoff) + k * PH;
    return is64
      ? { type: v.u32(o), flags: v.u32(o + 4), offset: v.word(o + 8), vaddr: v.word(o + 16), paddr: v.word(o + 24), filesz: v.word(o + 32), memsz: v.word(o + 40), align: v.word(o + 48) }
      : { type: v.u32(o), offset: v.word(o + 4), vaddr: v.word(o + 8), paddr: v.word(o + 12), filesz: v.word(o + 16), memsz: v.word(o + 20), flags: v.u32(o + 24), align: v.word(o + 28) };
  };
  if (entry !== 0n) {
    const off = rvaToOffset();
    if (off !== UNDEF) out['entry_point'] = off;
  }
  function rvaToOffset(): bigint | undefined {
    if (type === 2) {
      if (phoff === 0n || phoff > BigInt(size) || phoff + BigInt(PH * phnum) > BigInt(size) || phnum === 0) return UNDEF;
      for (let i = 0; i < phnum; i++) {
        const p = seg(i);
        if (entry >= p.vaddr && entry < p.vaddr + p.memsz) return BigInt.asUintN(64, p.offset + (entry - p.vaddr));
      }
      return UNDEF;
    }
    if (shoff === 0n || shoff > BigInt(size) || shoff + BigInt(SH * shnum) > BigInt(size) || shnum === 0) return UNDEF;
    for (let i = 0; i < shnum; i++) {
      const s = sec(i);
      if (s.type !== 0 && s.type !== 8 && entry >= s.addr && entry < s.addr + s.size) return BigInt.asUintN(64, s.offset + (entry - s.addr));
    }
    return UNDEF;
  }
  if (shnum < LORESERVE && shstrndx < shnum && shoff < BigInt(size) && fits(shoff, BigInt(shnum * SH))) {
    const strOff = sec(shstrndx).offset;
    const strTable = strOff < BigInt(size) ? Number(strOff) : -1;
    const sections: ModuleData[] = [];
    let symtab: { table: bigint; str: bigint; tsize: bigint; ssize: bigint } | undefined;
    let dynsym: typeof symtab;
    const rawShnum = v.raw16(shnumAt);
    for (let i = 0; i < shnum; i++) {
      const s = sec(i);
      const entryData: Record<string, ModuleData> = { type: BigInt(s.type), flags: s.flags, address: s.addr, size: s.size, offset: s.offset };
      if (s.name < size && strTable > 0) {
        const name = strEntry(bytes, strTable, size, s.name);
        if (name) entryData['name'] = name;
      }
      sections.push(entryData);
      if ((s.type === 2 || s.type === 0xb) && s.link < rawShnum) {
        const linkAt = Number(shoff) + s.link * SH;
        if (linkAt + SH <= size) {
          const str = sec(s.link);
          if (str.type === 3) {
            const t = { table: s.offset, str: str.offset, tsize: s.size, ssize: str.size };
            if (s.type === 2) symtab = t;
            else dynsym = t;
          }
        }
      }
    }
    out['sections'] = sections;
    const symbols = (t: NonNullable<typeof symtab>): ModuleData[] | undefined => {
      if (!fits(t.str, t.ssize) || !fits(t.table, t.tsize)) return UNDEF;
      const list: ModuleData[] = [];
      const n = Number(t.tsize / BigInt(SYM));
      const base = Number(t.table), strBase = Number(t.str), strLimit = strBase + Number(t.ssize);
      for (let j = 0; j < n; j++) {
        const o = base + j * SYM;
        const nameIdx = v.u32(o);
        const info = is64 ? v.u8(o + 4) : v.u8(o + 12);
        const shndx = is64 ? v.u16(o + 6) : v.u16(o + 14);
        const value = is64 ? v.word(o + 8) : v.word(o + 4);
        const ssize = is64 ? v.word(o + 16) : v.word(o + 8);
        const e: Record<string, ModuleData> = { bind: BigInt(info >> 4), type: BigInt(info & 0xf), shndx: BigInt(shndx), value, size: ssize };
        const name = strEntry(bytes, strBase, strLimit, nameIdx);
        if (name) e['name'] = name;
        list.push(e);
      }
      return list;
    };
    const st = symtab && symbols(symtab);
    if (st) { out['symtab'] = st; out['symtab_entries'] = BigInt(st.length); }
    const ds = dynsym && symbols(dynsym);
    if (ds) { out['dynsym'] = ds; out['dynsym_entries'] = BigInt(ds.length); }
  }
  if (phnum > 0 && phnum < PN_XNUM && phoff < BigInt(size) && fits(phoff, BigInt(phnum * PH))) {
    const segments: ModuleData[] = [];
    let dynamic: ModuleData[] | undefined;
    for (let i = 0; i < phnum; i++) {
      const p = seg(i);
      segments.push({ type: BigInt(p.type), flags: BigInt(p.flags), offset: p.offset, virtual_address: p.vaddr, physical_address: p.paddr, file_size: p.filesz, memory_size: p.memsz, alignment: p.align });
      if (p.type === 2) {
        // Later PT_DYNAMIC segments overwrite the entries of earlier ones, from the first.
        const list: ModuleData[] = dynamic ?? [];
        let j = 0;
        for (let o = p.offset; o + BigInt(DYN) <= BigInt(size); o += BigInt(DYN), j++) {
          const at = Number(o);
          const tag = v.word(at);
          list[j] = { type: tag, val: v.word(at + W) };
          if (tag === 0n) { j++; break; }
        }
        dynamic = list;
        out['dynamic_section_entries'] = BigInt(j);
      }
    }
    out['segments'] = segments;
    if (dynamic) out['dynamic'] = dynamic;
  }
  return int64Data(out) as Record<string, ModuleData>;
}


export const elfModule: YaraModule = {
  name: 'elf',
  since: '3.2',
  declarations: catalogDeclarations('elf'),
  load: (ctx) => {
    const constants = integerConstants(ELF_CONSTANTS) as Record<string, ModuleData>;
    const parsed = ctx.formats.get('yara-elf', elfModuleData);
    return parsed ? { ...constants, ...parsed } : constants;
  },
};
