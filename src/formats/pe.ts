/**
 * PE (Portable Executable) headers: untrusted bytes → the DOS header, the COFF file header, the
 * optional header (PE32 and PE32+), its data directories and the section table; and, from those,
 * ClamAV's view of the image (aligned sections and the entry point as a raw file offset).
 *
 * Two layers, on purpose:
 * - `parsePe` is a tolerant structural parser. It reads every field the file actually holds,
 *   keeps the raw header values unmodified, reads only as much of a truncated section table or
 *   data directory as fits, and records what is odd as `HeaderIssue`s. It fails (no `pe`) only when
 *   there is no PE at all: no `MZ`/`ZM`, no `e_lfanew`, or no `PE\0\0` file header. Later readers
 *   (imports, exports, resources, version info, rich header, overlay, Authenticode) build on it.
 * - `peClamavView` applies ClamAV 1.4's rules for body-signature offsets to that structure: which
 *   headers make it give up, how it rounds section addresses and sizes to the alignments (including
 *   its fall-back to 0x200 file alignment and its 32-bit wrap-around), how sections that run past
 *   the end of the file are clipped, and how the entry point RVA becomes a file offset. When it
 *   returns no view, ClamAV's `EP+n`/`Sx+n`/`SEx`/`SL+n` offsets never match the file.
 *
 * All arithmetic that ClamAV performs on `uint32_t` is reproduced with explicit `>>> 0` wrapping so
 * that hostile values (sizes near 2^32) land exactly where ClamAV's do. Every read goes through
 * `ByteReader`; loop counts are bounded by `NumberOfSections` (at most 65535) and by the file size.
 */

import { ByteReader } from '../core/bytes.js';
import type { HeaderIssue } from './exec.js';

/** `IMAGE_DOS_HEADER`, only the fields a PE loader uses. */
export interface PeDosHeader {
  /** `e_magic`: 0x5a4d (`MZ`) or, accepted by ClamAV, 0x4d5a (`ZM`). */
  magic: number;
  /** `e_lfanew`: file offset of the `PE\0\0` signature. */
  lfanew: number;
}

/** `IMAGE_FILE_HEADER` (COFF header), which follows the `PE\0\0` signature. */
export interface PeFileHeader {
  /** File offset of the `PE\0\0` signature (= `e_lfanew`). */
  offset: number;
  machine: number;
  numberOfSections: number;
  timeDateStamp: number;
  pointerToSymbolTable: number;
  numberOfSymbols: number;
  sizeOfOptionalHeader: number;
  characteristics: number;
}

/** `IMAGE_OPTIONAL_HEADER32` / `IMAGE_OPTIONAL_HEADER64` without the data directories. */
export interface PeOptionalHeader {
  /** File offset of the optional header. */
  offset: number;
  /** 0x10b PE32, 0x20b PE32+, anything else is read as PE32 (as ClamAV does). */
  magic: number;
  /** True for PE32+ (magic 0x20b). */
  pe32plus: boolean;
  majorLinkerVersion: number;
  minorLinkerVersion: number;
  sizeOfCode: number;
  sizeOfInitializedData: number;
  sizeOfUninitializedData: number;
  addressOfEntryPoint: number;
  baseOfCode: number;
  /** PE32 only. */
  baseOfData?: number;
  /** 64-bit in PE32+, so kept as a bigint in both. */
  imageBase: bigint;
  sectionAlignment: number;
  fileAlignment: number;
  majorOperatingSystemVersion: number;
  minorOperatingSystemVersion: number;
  majorImageVersion: number;
  minorImageVersion: number;
  majorSubsystemVersion: number;
  minorSubsystemVersion: number;
  win32VersionValue: number;
  sizeOfImage: number;
  sizeOfHeaders: number;
  checkSum: number;
  subsystem: number;
  dllCharacteristics: number;
  sizeOfStackReserve: bigint;
  sizeOfStackCommit: bigint;
  sizeOfHeapReserve: bigint;
  sizeOfHeapCommit: bigint;
  loaderFlags: number;
  numberOfRvaAndSizes: number;
  /** Bytes of the fixed part: 96 (PE32) or 112 (PE32+); the data directories follow. */
  fixedSize: number;
}

/** `IMAGE_DATA_DIRECTORY`. Index meaning: 0 export, 1 import, 2 resource, 4 security, … 14 CLR. */
export interface PeDataDirectory {
  virtualAddress: number;
  size: number;
}

/** `IMAGE_SECTION_HEADER`, values exactly as stored. */
export interface PeSectionHeader {
  /** File offset of this 40-byte header. */
  offset: number;
  /** Name up to the first NUL (Latin-1); may be 8 characters with no terminator. */
  name: string;
  /** The 8 raw name bytes. */
  nameBytes: Uint8Array;
  virtualSize: number;
  virtualAddress: number;
  sizeOfRawData: number;
  pointerToRawData: number;
  pointerToRelocations: number;
  pointerToLinenumbers: number;
  numberOfRelocations: number;
  numberOfLinenumbers: number;
  characteristics: number;
}

export interface PeFile {
  /** Length of the whole input. */
  fileSize: number;
  dos: PeDosHeader;
  fileHeader: PeFileHeader;
  /** Absent when its fixed part (96 or 112 bytes) does not fit in the file. */
  optionalHeader?: PeOptionalHeader;
  /** The first min(NumberOfRvaAndSizes, 16) directories, as many as fit in the file. */
  dataDirectories: PeDataDirectory[];
  /** File offset of the section table: `e_lfanew + 24 + SizeOfOptionalHeader`. */
  sectionTableOffset: number;
  /** The section headers that fit in the file, in table order (at most NumberOfSections). */
  sections: PeSectionHeader[];
  issues: HeaderIssue[];
}

export interface PeParse {
  pe?: PeFile;
  issues: HeaderIssue[];
}

const DOS_MAGIC = 0x5a4d; // "MZ"
const DOS_MAGIC_OLD = 0x4d5a; // "ZM"
const PE_SIGNATURE = 0x00004550; // "PE\0\0"
const PE32PLUS_MAGIC = 0x20b;
const FILE_HEADER_SIZE = 24; // signature + IMAGE_FILE_HEADER
const OPT32_FIXED = 96;
const OPT64_FIXED = 112;
const SECTION_HEADER_SIZE = 40;
const MAX_DATA_DIRECTORIES = 16;

function issue(code: string, message: string, offset: number): HeaderIssue {
  return { code, message, offset };
}

/** Reads a 64-bit little-endian value as a bigint (undefined past the end). */
function u64le(r: ByteReader, off: number): bigint | undefined {
  const lo = r.u32le(off);
  const hi = r.u32le(off + 4);
  return lo === undefined || hi === undefined ? undefined : (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * Parses the PE headers of `bytes`.
 *
 *   PE := DosHeader(e_magic "MZ"|"ZM", …, e_lfanew @0x3c) … "PE\0\0" FileHeader
 *         OptionalHeader(fixed part, DataDirectory[min(NumberOfRvaAndSizes,16)]) SectionHeader[NumberOfSections]
 */
export function parsePe(bytes: Uint8Array): PeParse {
  const r = new ByteReader(bytes);
  const issues: HeaderIssue[] = [];

  // IMAGE_DOS_HEADER: e_magic at 0, e_lfanew at 0x3c.
  const magic = r.u16le(0);
  if (magic === undefined) return { issues: [issue('pe.truncated-dos-header', 'file too short for a DOS signature', 0)] };
  if (magic !== DOS_MAGIC && magic !== DOS_MAGIC_OLD) {
    return { issues: [issue('pe.bad-dos-magic', 'no MZ signature', 0)] };
  }
  const lfanew = r.u32le(0x3c);
  if (lfanew === undefined) return { issues: [issue('pe.truncated-dos-header', 'file too short for e_lfanew', 0x3c)] };
  if (lfanew === 0) return { issues: [issue('pe.no-lfanew', 'e_lfanew is 0: not a PE file', 0x3c)] };

  const fileHeader = readFileHeader(r, lfanew);
  if (!fileHeader) return { issues: [issue('pe.truncated-file-header', 'the PE file header at e_lfanew does not fit in the file', lfanew)] };
  if (r.u32le(lfanew) !== PE_SIGNATURE) return { issues: [issue('pe.bad-pe-signature', 'no PE\\0\\0 signature at e_lfanew (NE/LE or not a PE)', lfanew)] };
  if (fileHeader.numberOfSections === 0) issues.push(issue('pe.no-sections', 'NumberOfSections is 0', lfanew + 6));

  const optOffset = lfanew + FILE_HEADER_SIZE;
  const optionalHeader = readOptionalHeader(r, optOffset);
  if (!optionalHeader) issues.push(issue('pe.truncated-optional-header', 'the optional header does not fit in the file', optOffset));
  else if (fileHeader.sizeOfOptionalHeader < optionalHeader.fixedSize) {
    issues.push(issue('pe.small-optional-header', `SizeOfOptionalHeader ${fileHeader.sizeOfOptionalHeader} is smaller than the ${optionalHeader.fixedSize}-byte fixed part`, lfanew + 20));
  }

  // IMAGE_DATA_DIRECTORY[min(NumberOfRvaAndSizes, 16)] right after the fixed part.
  const dataDirectories: PeDataDirectory[] = [];
  if (optionalHeader) {
    const wanted = Math.min(optionalHeader.numberOfRvaAndSizes, MAX_DATA_DIRECTORIES);
    const at = optOffset + optionalHeader.fixedSize;
    for (let i = 0; i < wanted; i++) {
      const va = r.u32le(at + 8 * i);
      const size = r.u32le(at + 8 * i + 4);
      if (va === undefined || size === undefined) {
        issues.push(issue('pe.truncated-data-directories', `only ${i} of ${wanted} data directories fit in the file`, at + 8 * i));
        break;
      }
      dataDirectories.push({ virtualAddress: va, size });
    }
    if (optionalHeader.numberOfRvaAndSizes > MAX_DATA_DIRECTORIES) {
      issues.push(issue('pe.many-data-directories', `NumberOfRvaAndSizes ${optionalHeader.numberOfRvaAndSizes} > 16`, optOffset + optionalHeader.fixedSize - 4));
    }
  }

  // IMAGE_SECTION_HEADER[NumberOfSections] at e_lfanew + 24 + SizeOfOptionalHeader.
  const sectionTableOffset = optOffset + fileHeader.sizeOfOptionalHeader;
  const sections: PeSectionHeader[] = [];
  for (let i = 0; i < fileHeader.numberOfSections; i++) {
    const s = readSectionHeader(r, sectionTableOffset + SECTION_HEADER_SIZE * i);
    if (!s) {
      issues.push(issue('pe.truncated-section-table', `only ${i} of ${fileHeader.numberOfSections} section headers fit in the file`, sectionTableOffset + SECTION_HEADER_SIZE * i));
      break;
    }
    sections.push(s);
  }

  const pe: PeFile = {
    fileSize: bytes.length,
    dos: { magic, lfanew },
    fileHeader,
    ...(optionalHeader ? { optionalHeader } : {}),
    dataDirectories,
    sectionTableOffset,
    sections,
    issues,
  };
  return { pe, issues };
}

/** IMAGE_FILE_HEADER := Signature u32, Machine u16, NumberOfSections u16, TimeDateStamp u32,
 *  PointerToSymbolTable u32, NumberOfSymbols u32, SizeOfOptionalHeader u16, Characteristics u16 */
function readFileHeader(r: ByteReader, at: number): PeFileHeader | undefined {
  if (!r.has(at, FILE_HEADER_SIZE)) return undefined;
  return {
    offset: at,
    machine: r.u16le(at + 4)!,
    numberOfSections: r.u16le(at + 6)!,
    timeDateStamp: r.u32le(at + 8)!,
    pointerToSymbolTable: r.u32le(at + 12)!,
    numberOfSymbols: r.u32le(at + 16)!,
    sizeOfOptionalHeader: r.u16le(at + 20)!,
    characteristics: r.u16le(at + 22)!,
  };
}

/**
 * IMAGE_OPTIONAL_HEADER32 := Magic u16, linker u8 u8, SizeOfCode, SizeOfInitializedData,
 *   SizeOfUninitializedData, AddressOfEntryPoint, BaseOfCode, BaseOfData, ImageBase u32,
 *   SectionAlignment, FileAlignment, OS/Image/Subsystem versions 6×u16, Win32VersionValue,
 *   SizeOfImage, SizeOfHeaders, CheckSum, Subsystem u16, DllCharacteristics u16,
 *   4 stack/heap sizes u32, LoaderFlags, NumberOfRvaAndSizes                      (96 bytes)
 * IMAGE_OPTIONAL_HEADER64: no BaseOfData, ImageBase u64, the 4 stack/heap sizes u64 (112 bytes)
 */
function readOptionalHeader(r: ByteReader, at: number): PeOptionalHeader | undefined {
  const magic = r.u16le(at);
  if (magic === undefined) return undefined;
  const plus = magic === PE32PLUS_MAGIC;
  const fixedSize = plus ? OPT64_FIXED : OPT32_FIXED;
  if (!r.has(at, fixedSize)) return undefined;
  const u8 = (o: number) => r.u8(at + o)!;
  const u16 = (o: number) => r.u16le(at + o)!;
  const u32 = (o: number) => r.u32le(at + o)!;
  const u64 = (o: number) => u64le(r, at + o)!;
  // Offsets 0..23 and 32..71 are shared; the two layouts differ around ImageBase and after Subsystem.
  const common = {
    offset: at,
    magic,
    pe32plus: plus,
    majorLinkerVersion: u8(2),
    minorLinkerVersion: u8(3),
    sizeOfCode: u32(4),
    sizeOfInitializedData: u32(8),
    sizeOfUninitializedData: u32(12),
    addressOfEntryPoint: u32(16),
    baseOfCode: u32(20),
    sectionAlignment: u32(32),
    fileAlignment: u32(36),
    majorOperatingSystemVersion: u16(40),
    minorOperatingSystemVersion: u16(42),
    majorImageVersion: u16(44),
    minorImageVersion: u16(46),
    majorSubsystemVersion: u16(48),
    minorSubsystemVersion: u16(50),
    win32VersionValue: u32(52),
    sizeOfImage: u32(56),
    sizeOfHeaders: u32(60),
    checkSum: u32(64),
    subsystem: u16(68),
    dllCharacteristics: u16(70),
    fixedSize,
  };
  if (plus) {
    return {
      ...common,
      imageBase: u64(24),
      sizeOfStackReserve: u64(72),
      sizeOfStackCommit: u64(80),
      sizeOfHeapReserve: u64(88),
      sizeOfHeapCommit: u64(96),
      loaderFlags: u32(104),
      numberOfRvaAndSizes: u32(108),
    };
  }
  return {
    ...common,
    baseOfData: u32(24),
    imageBase: BigInt(u32(28)),
    sizeOfStackReserve: BigInt(u32(72)),
    sizeOfStackCommit: BigInt(u32(76)),
    sizeOfHeapReserve: BigInt(u32(80)),
    sizeOfHeapCommit: BigInt(u32(84)),
    loaderFlags: u32(88),
    numberOfRvaAndSizes: u32(92),
  };
}

/** IMAGE_SECTION_HEADER := Name[8], VirtualSize, VirtualAddress, SizeOfRawData, PointerToRawData,
 *  PointerToRelocations, PointerToLinenumbers (u32), NumberOfRelocations, NumberOfLinenumbers (u16),
 *  Characteristics u32                                                              (40 bytes) */
function readSectionHeader(r: ByteReader, at: number): PeSectionHeader | undefined {
  const nameBytes = r.slice(at, 8);
  if (!nameBytes || !r.has(at, SECTION_HEADER_SIZE)) return undefined;
  const nul = nameBytes.indexOf(0);
  return {
    offset: at,
    name: r.latin1(at, nul < 0 ? 8 : nul)!,
    nameBytes,
    virtualSize: r.u32le(at + 8)!,
    virtualAddress: r.u32le(at + 12)!,
    sizeOfRawData: r.u32le(at + 16)!,
    pointerToRawData: r.u32le(at + 20)!,
    pointerToRelocations: r.u32le(at + 24)!,
    pointerToLinenumbers: r.u32le(at + 28)!,
    numberOfRelocations: r.u16le(at + 32)!,
    numberOfLinenumbers: r.u16le(at + 34)!,
    characteristics: r.u32le(at + 36)!,
  };
}

// ───────────────────────────── ClamAV's view ─────────────────────────────

/** One section as ClamAV keeps it (`struct cli_exe_section`): aligned values plus the originals. */
export interface PeClamavSection {
  /** VirtualAddress rounded down to SectionAlignment. */
  rva: number;
  /** VirtualSize rounded up to SectionAlignment (32-bit wrap); if 0 and rsz ≠ 0, from ursz. */
  vsz: number;
  /** PointerToRawData rounded down to the effective file alignment. */
  raw: number;
  /** SizeOfRawData rounded up to the effective file alignment, clipped to the file; 0 if the section starts past the end. */
  rsz: number;
  /** The unaligned header values (ursz clipped like rsz). */
  urva: number;
  uvsz: number;
  uraw: number;
  ursz: number;
  chr: number;
  name: string;
}

export interface PeClamavView {
  /** Entry point as a raw file offset. */
  ep: number;
  /** AddressOfEntryPoint. */
  vep: number;
  /** SizeOfHeaders rounded up to SectionAlignment: RVAs below it map to the same file offset. */
  hdrSize: number;
  sectionAlignment: number;
  /** FileAlignment, or 0x200 when ClamAV's fall-back triggered. */
  fileAlignment: number;
  sections: PeClamavSection[];
}

export type PeClamavResult = { ok: true; view: PeClamavView } | { ok: false; issue: HeaderIssue };

/** `o` rounded down to a multiple of `a` (0 = no alignment). Never wraps. */
function alignDown(o: number, a: number): number {
  return a ? Math.floor(o / a) * a : o;
}

/** `o` rounded up to a multiple of `a` (0 = no alignment), wrapping at 2^32 as ClamAV's uint32 does. */
function alignUp(o: number, a: number): number {
  return a ? ((Math.floor(o / a) + (o % a !== 0 ? 1 : 0)) * a) >>> 0 : o;
}

/** ClamAV's sanity check that [sb, sb+size) lies inside [0, total) with size > 0 (computed without wrap). */
function contained(total: number, sb: number, size: number): boolean {
  return total > 0 && size > 0 && size <= total && sb + size <= total && sb < total;
}

/**
 * ClamAV 1.4's reading of a PE for target-info purposes (its `cli_peheader` as called for `.ndb`/`.ldb`
 * offsets: no strict mode, sections outside the file are kept with size 0). Returns the aligned
 * sections and the entry point as a file offset, or the first reason ClamAV gives up.
 */
export function peClamavView(pe: PeFile): PeClamavResult {
  const fail = (code: string, message: string, offset: number): PeClamavResult => ({ ok: false, issue: issue(code, message, offset) });
  const fh = pe.fileHeader;
  const fsize = pe.fileSize;
  const nsections = fh.numberOfSections;
  if (nsections === 0) return fail('pe.no-sections', 'NumberOfSections is 0', fh.offset + 6);

  const opt = pe.optionalHeader;
  const optSize = fh.sizeOfOptionalHeader;
  if (optSize < OPT32_FIXED) return fail('pe.small-optional-header', 'SizeOfOptionalHeader is smaller than a PE32 optional header', fh.offset + 20);
  if (!opt) return fail('pe.truncated-optional-header', 'the optional header does not fit in the file', fh.offset + FILE_HEADER_SIZE);
  if (opt.pe32plus && optSize < OPT64_FIXED) return fail('pe.small-optional-header', 'SizeOfOptionalHeader is too small for PE32+', fh.offset + 20);

  const ndatadirs = Math.min(opt.numberOfRvaAndSizes, MAX_DATA_DIRECTORIES);
  if (optSize < opt.fixedSize + 8 * ndatadirs) {
    return fail('pe.small-optional-header', 'SizeOfOptionalHeader does not cover the data directories', fh.offset + 20);
  }
  if (pe.dataDirectories.length < ndatadirs) return fail('pe.truncated-data-directories', 'the data directories do not fit in the file', opt.offset + opt.fixedSize);
  if (pe.sections.length < nsections) return fail('pe.truncated-section-table', 'the section table does not fit in the file', pe.sectionTableOffset);

  const salign = opt.sectionAlignment;
  let falign = opt.fileAlignment;
  const hdrSize = alignUp(opt.sizeOfHeaders, salign);

  // File-alignment fall-back: a raw pointer that is misaligned for FileAlignment but a multiple of
  // 0x200 makes ClamAV use 0x200 for every section.
  for (let i = 0; falign !== 0x200 && i < nsections; i++) {
    const h = pe.sections[i]!;
    if (falign && h.sizeOfRawData && h.pointerToRawData % falign && !(h.pointerToRawData % 0x200)) falign = 0x200;
  }

  const sections: PeClamavSection[] = [];
  for (let i = 0; i < nsections; i++) {
    const h = pe.sections[i]!;
    const s: PeClamavSection = {
      rva: alignDown(h.virtualAddress, salign),
      vsz: alignUp(h.virtualSize, salign),
      raw: alignDown(h.pointerToRawData, falign),
      rsz: alignUp(h.sizeOfRawData, falign),
      urva: h.virtualAddress,
      uvsz: h.virtualSize,
      uraw: h.pointerToRawData,
      ursz: h.sizeOfRawData,
      chr: h.characteristics,
      name: h.name,
    };
    if (s.rsz) {
      if (s.raw >= fsize || s.uraw >= fsize) {
        s.rsz = 0;
        s.ursz = 0;
      } else {
        if (!contained(fsize, s.raw, s.rsz)) s.rsz = fsize - s.raw;
        if (!contained(fsize, s.uraw, s.ursz)) s.ursz = fsize - s.uraw;
      }
    }
    if (!s.vsz && s.rsz) s.vsz = alignUp(s.ursz, salign);
    if (s.urva >= 0x80000000 || s.uvsz >= 0x80000000 || (s.rsz && s.uraw >= 0x80000000) || s.ursz >= 0x80000000) {
      return fail('pe.sign-bit', `section ${i} has a VirtualAddress, VirtualSize, PointerToRawData or SizeOfRawData with the sign bit set`, h.offset);
    }
    sections.push(s);
  }

  const ep = clamavRvaToRaw(opt.addressOfEntryPoint, sections, hdrSize, fsize);
  if (ep === undefined) return fail('pe.unmappable-entry-point', `AddressOfEntryPoint 0x${opt.addressOfEntryPoint.toString(16)} maps to no file offset`, opt.offset + 16);
  return { ok: true, view: { ep, vep: opt.addressOfEntryPoint, hdrSize, sectionAlignment: salign, fileAlignment: falign, sections } };
}

/**
 * RVA → file offset as ClamAV maps it: an RVA inside the (aligned) headers is its own offset if it
 * lies inside the file; otherwise the last section (in table order) whose raw extent covers it.
 * Only the raw size counts: an RVA in the virtual-only tail of a section maps nowhere.
 */
export function clamavRvaToRaw(rva: number, sections: readonly PeClamavSection[], hdrSize: number, fsize: number): number | undefined {
  if (rva < hdrSize) return rva < fsize ? rva : undefined;
  for (let i = sections.length - 1; i >= 0; i--) {
    const s = sections[i]!;
    if (s.rsz && s.rva <= rva && s.rsz > rva - s.rva) return (rva - s.rva + s.raw) >>> 0;
  }
  return undefined;
}
