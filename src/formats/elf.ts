/**
 * ELF headers: untrusted bytes → the file header, program headers and section headers (32- and
 * 64-bit, either byte order), section names from the section-name string table; and, from those,
 * ClamAV's view of the file (entry point as a file offset, sections as raw offset/size pairs).
 *
 * Two layers, as for PE:
 * - `parseElf` is a tolerant structural parser. Addresses, offsets and sizes are kept as bigint so
 *   that 64-bit values survive intact; tables are read as far as the file holds them.
 * - `elfClamavView` applies ClamAV 1.4's rules: at most 128 program headers and 256 section headers,
 *   entry sizes that must equal the structure size (the section entry size is checked even when
 *   there are no sections), the entry point mapped through the first program header of any type
 *   whose [p_vaddr, p_vaddr+p_memsz) covers it (with ClamAV's wrap-around in that sum), and every
 *   value finally truncated to the 32 bits ClamAV stores.
 *
 * `EI_DATA` = 1 is little-endian; any other value is read as big-endian, as ClamAV does.
 */

import { ByteReader, EndianReader } from '../core/bytes.js';
import type { HeaderIssue } from './exec.js';

/** `Elf32_Ehdr` / `Elf64_Ehdr`. */
export interface ElfHeader {
  /** `EI_CLASS`: 32 or 64. */
  bits: 32 | 64;
  littleEndian: boolean;
  /** `EI_OSABI`, `EI_ABIVERSION`. */
  osabi: number;
  abiVersion: number;
  type: number;
  machine: number;
  version: number;
  entry: bigint;
  phoff: bigint;
  shoff: bigint;
  flags: number;
  ehsize: number;
  phentsize: number;
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

/** `Elf32_Phdr` / `Elf64_Phdr`. */
export interface ElfProgramHeader {
  /** File offset of this header entry. */
  at: number;
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  paddr: bigint;
  filesz: bigint;
  memsz: bigint;
  align: bigint;
}

/** `Elf32_Shdr` / `Elf64_Shdr`. */
export interface ElfSectionHeader {
  /** File offset of this header entry. */
  at: number;
  /** Offset of the name in the section-name string table. */
  nameOffset: number;
  /** The name, when the string table is readable. */
  name?: string;
  type: number;
  flags: bigint;
  addr: bigint;
  offset: bigint;
  size: bigint;
  link: number;
  info: number;
  addralign: bigint;
  entsize: bigint;
}

export interface ElfFile {
  fileSize: number;
  header: ElfHeader;
  /** The program headers that fit in the file (stride e_phentsize), at most e_phnum. */
  programHeaders: ElfProgramHeader[];
  /** The section headers that fit in the file (stride e_shentsize), at most e_shnum. */
  sectionHeaders: ElfSectionHeader[];
  issues: HeaderIssue[];
}

export interface ElfParse {
  elf?: ElfFile;
  issues: HeaderIssue[];
}

const EHDR32 = 52;
const EHDR64 = 64;
const PHDR32 = 32;
const PHDR64 = 56;
const SHDR32 = 40;
const SHDR64 = 64;
/** Longest section name read from the string table. */
const MAX_SECTION_NAME = 256;

function issue(code: string, message: string, offset: number): HeaderIssue {
  return { code, message, offset };
}

/** A bigint file offset as a number when it is a safe integer, else undefined. */
function asOffset(v: bigint): number | undefined {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
}

/**
 * Parses the ELF headers of `bytes`.
 *
 *   ELF := e_ident("\x7fELF", EI_CLASS 1|2, EI_DATA, …) Ehdr … Phdr[e_phnum]@e_phoff … Shdr[e_shnum]@e_shoff
 */
export function parseElf(bytes: Uint8Array): ElfParse {
  const r = new ByteReader(bytes);
  const issues: HeaderIssue[] = [];
  if (!r.has(0, EHDR32)) return { issues: [issue('elf.truncated-header', 'file too short for an ELF header', 0)] };
  if (r.u32be(0) !== 0x7f454c46) return { issues: [issue('elf.bad-magic', 'no \\x7fELF signature', 0)] };
  const cls = r.u8(4)!;
  if (cls !== 1 && cls !== 2) return { issues: [issue('elf.bad-class', `unknown EI_CLASS ${cls}`, 4)] };
  const bits: 32 | 64 = cls === 2 ? 64 : 32;
  const data = r.u8(5)!;
  if (data !== 1 && data !== 2) issues.push(issue('elf.bad-data-encoding', `unknown EI_DATA ${data}, read as big-endian`, 5));
  const e = new EndianReader(r, data === 1);
  const header = readHeader(e, bits);
  if (!header) return { issues: [issue('elf.truncated-header', 'file too short for an ELF64 header', 0)] };

  const programHeaders: ElfProgramHeader[] = [];
  const phsize = bits === 64 ? PHDR64 : PHDR32;
  if (header.phnum > 0) {
    const base = asOffset(header.phoff);
    if (header.phentsize < phsize) {
      issues.push(issue('elf.bad-phentsize', `e_phentsize ${header.phentsize} is smaller than ${phsize}`, bits === 64 ? 54 : 42));
    } else if (base === undefined) {
      issues.push(issue('elf.bad-phoff', 'e_phoff lies beyond any file', bits === 64 ? 32 : 28));
    } else {
      for (let i = 0; i < header.phnum; i++) {
        const ph = readProgramHeader(e, base + i * header.phentsize, bits);
        if (!ph) {
          issues.push(issue('elf.truncated-program-headers', `only ${i} of ${header.phnum} program headers fit in the file`, base + i * header.phentsize));
          break;
        }
        programHeaders.push(ph);
      }
    }
  }

  const sectionHeaders: ElfSectionHeader[] = [];
  const shsize = bits === 64 ? SHDR64 : SHDR32;
  if (header.shnum > 0) {
    const base = asOffset(header.shoff);
    if (header.shentsize < shsize) {
      issues.push(issue('elf.bad-shentsize', `e_shentsize ${header.shentsize} is smaller than ${shsize}`, bits === 64 ? 58 : 46));
    } else if (base === undefined) {
      issues.push(issue('elf.bad-shoff', 'e_shoff lies beyond any file', bits === 64 ? 40 : 32));
    } else {
      for (let i = 0; i < header.shnum; i++) {
        const sh = readSectionHeader(e, base + i * header.shentsize, bits);
        if (!sh) {
          issues.push(issue('elf.truncated-section-headers', `only ${i} of ${header.shnum} section headers fit in the file`, base + i * header.shentsize));
          break;
        }
        sectionHeaders.push(sh);
      }
      nameSections(r, sectionHeaders, header.shstrndx);
    }
  }

  const elf: ElfFile = { fileSize: bytes.length, header, programHeaders, sectionHeaders, issues };
  return { elf, issues };
}

/** Ehdr after e_ident := e_type u16, e_machine u16, e_version u32, e_entry w, e_phoff w, e_shoff w,
 *  e_flags u32, e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx (u16); w = 4 or 8 bytes */
function readHeader(e: EndianReader, bits: 32 | 64): ElfHeader | undefined {
  const w = bits === 64 ? 8 : 4;
  if (!e.r.has(0, bits === 64 ? EHDR64 : EHDR32)) return undefined;
  const after = 24 + 3 * w; // first byte after e_shoff
  return {
    bits,
    littleEndian: e.le,
    osabi: e.r.u8(7)!,
    abiVersion: e.r.u8(8)!,
    type: e.u16(16)!,
    machine: e.u16(18)!,
    version: e.u32(20)!,
    entry: e.word(24, bits)!,
    phoff: e.word(24 + w, bits)!,
    shoff: e.word(24 + 2 * w, bits)!,
    flags: e.u32(after)!,
    ehsize: e.u16(after + 4)!,
    phentsize: e.u16(after + 6)!,
    phnum: e.u16(after + 8)!,
    shentsize: e.u16(after + 10)!,
    shnum: e.u16(after + 12)!,
    shstrndx: e.u16(after + 14)!,
  };
}

/** Elf32_Phdr := p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align (u32)
 *  Elf64_Phdr := p_type u32, p_flags u32, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align (u64) */
function readProgramHeader(e: EndianReader, at: number, bits: 32 | 64): ElfProgramHeader | undefined {
  if (bits === 64) {
    if (!e.r.has(at, PHDR64)) return undefined;
    return {
      at, type: e.u32(at)!, flags: e.u32(at + 4)!, offset: e.u64(at + 8)!, vaddr: e.u64(at + 16)!,
      paddr: e.u64(at + 24)!, filesz: e.u64(at + 32)!, memsz: e.u64(at + 40)!, align: e.u64(at + 48)!,
    };
  }
  if (!e.r.has(at, PHDR32)) return undefined;
  const w = (o: number) => BigInt(e.u32(at + o)!);
  return {
    at, type: e.u32(at)!, offset: w(4), vaddr: w(8), paddr: w(12), filesz: w(16), memsz: w(20),
    flags: e.u32(at + 24)!, align: w(28),
  };
}

/** Elf32_Shdr := sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, sh_addralign, sh_entsize (u32)
 *  Elf64_Shdr := sh_name u32, sh_type u32, sh_flags, sh_addr, sh_offset, sh_size (u64), sh_link u32, sh_info u32, sh_addralign, sh_entsize (u64) */
function readSectionHeader(e: EndianReader, at: number, bits: 32 | 64): ElfSectionHeader | undefined {
  if (bits === 64) {
    if (!e.r.has(at, SHDR64)) return undefined;
    return {
      at, nameOffset: e.u32(at)!, type: e.u32(at + 4)!, flags: e.u64(at + 8)!, addr: e.u64(at + 16)!,
      offset: e.u64(at + 24)!, size: e.u64(at + 32)!, link: e.u32(at + 40)!, info: e.u32(at + 44)!,
      addralign: e.u64(at + 48)!, entsize: e.u64(at + 56)!,
    };
  }
  if (!e.r.has(at, SHDR32)) return undefined;
  const w = (o: number) => BigInt(e.u32(at + o)!);
  return {
    at, nameOffset: e.u32(at)!, type: e.u32(at + 4)!, flags: w(8), addr: w(12), offset: w(16), size: w(20),
    link: e.u32(at + 24)!, info: e.u32(at + 28)!, addralign: w(32), entsize: w(36),
  };
}

/** Fills `name` from the section-name string table (e_shstrndx), NUL-terminated, bounded by the table. */
function nameSections(r: ByteReader, sections: ElfSectionHeader[], shstrndx: number): void {
  const table = sections[shstrndx];
  if (!table) return;
  const start = asOffset(table.offset);
  const size = asOffset(table.size);
  if (start === undefined || size === undefined) return;
  for (const s of sections) {
    if (s.nameOffset >= size) continue;
    const from = start + s.nameOffset;
    const limit = Math.min(size - s.nameOffset, MAX_SECTION_NAME);
    let n = 0;
    while (n < limit) {
      const b = r.u8(from + n);
      if (b === undefined) break;
      if (b === 0) {
        s.name = r.latin1(from, n)!;
        break;
      }
      n++;
    }
  }
}

// ───────────────────────────── ClamAV's view ─────────────────────────────

/** One section as ClamAV keeps it: sh_addr, sh_offset, sh_size truncated to 32 bits; no virtual size. */
export interface ElfClamavSection {
  rva: number;
  raw: number;
  rsz: number;
  name?: string;
}

export interface ElfClamavView {
  /** Entry point as a file offset (low 32 bits), 0 when e_entry or e_phnum is 0. */
  ep: number;
  sections: ElfClamavSection[];
}

export type ElfClamavResult = { ok: true; view: ElfClamavView } | { ok: false; issue: HeaderIssue };

const MASK32 = 0xffffffffn;
const MASK64 = 0xffffffffffffffffn;

/**
 * ClamAV 1.4's reading of an ELF for target-info purposes (`cli_elfheader`): the entry point as a
 * file offset and the section table, or the first reason ClamAV gives up.
 */
export function elfClamavView(elf: ElfFile): ElfClamavResult {
  const fail = (code: string, message: string, offset: number): ElfClamavResult => ({ ok: false, issue: issue(code, message, offset) });
  const h = elf.header;
  const is64 = h.bits === 64;
  const mask = is64 ? MASK64 : MASK32;

  // Program headers and the entry point.
  if (h.phnum > 128) return fail('elf.many-program-headers', `e_phnum ${h.phnum} > 128`, is64 ? 56 : 44);
  let ep = 0n;
  if (h.phnum && h.entry) {
    if (h.phentsize !== (is64 ? PHDR64 : PHDR32)) return fail('elf.bad-phentsize', `e_phentsize ${h.phentsize} is not the ${is64 ? PHDR64 : PHDR32}-byte program header size`, is64 ? 54 : 42);
    if (elf.programHeaders.length < h.phnum) return fail('elf.truncated-program-headers', 'the program headers do not fit in the file', 0);
    const seg = elf.programHeaders.find((p) => p.vaddr <= h.entry && ((p.vaddr + p.memsz) & mask) > h.entry);
    if (!seg) return fail('elf.unmappable-entry-point', `e_entry 0x${h.entry.toString(16)} lies in no segment`, 24);
    ep = (h.entry - seg.vaddr + seg.offset) & mask;
  }

  // Section headers.
  if (h.shnum > 256) return fail('elf.many-sections', `e_shnum ${h.shnum} > 256`, is64 ? 60 : 48);
  if (h.shentsize !== (is64 ? SHDR64 : SHDR32)) return fail('elf.bad-shentsize', `e_shentsize ${h.shentsize} is not the ${is64 ? SHDR64 : SHDR32}-byte section header size`, is64 ? 58 : 46);
  if (elf.sectionHeaders.length < h.shnum) return fail('elf.truncated-section-headers', 'the section headers do not fit in the file', 0);
  const sections = elf.sectionHeaders.map((s): ElfClamavSection => ({
    rva: Number(s.addr & MASK32),
    raw: Number(s.offset & MASK32),
    rsz: Number(s.size & MASK32),
    ...(s.name !== undefined ? { name: s.name } : {}),
  }));
  return { ok: true, view: { ep: Number(ep & MASK32), sections } };
}
