/**
 * The PE image as YARA's `pe` module accepts and addresses it: untrusted bytes → the headers it
 * requires (`MZ`, a non-negative `e_lfanew`, `PE\0\0`, a whole IMAGE_OPTIONAL_HEADER32/64 with its
 * 16 data directories inside the file), plus the two primitives every later reader uses: a data
 * directory lookup and RVA → file offset mapping.
 *
 * In: the file bytes. Out: `PeImage` (raw header values, nothing normalised) or undefined when the
 * file is not a PE for YARA (then every `pe` member but the constants and `is_pe = 0` is undefined).
 *
 * Why separate from ../pe.ts: that parser keeps ClamAV's view (it accepts `ZM`, reads truncated
 * optional headers); YARA is stricter about what it calls a PE and maps RVAs by its own rules (the
 * section with the highest VirtualAddress whose virtual extent holds the RVA, the raw pointer rounded
 * down to min(FileAlignment, 0x200), RVAs below the lowest section mapped to themselves, and any
 * section header outside the file making every mapping fail). Reproducing those rules exactly is what
 * makes `pe.entry_point`, imports and resources agree with yara on damaged files.
 */

/** IMAGE_DOS_HEADER size; YARA requires the whole of it. */
export const DOS_HEADER_SIZE = 64;
/** YARA's cap on the sections it reads (MAX_PE_SECTIONS). */
export const MAX_PE_SECTIONS = 96;
const SECTION_HEADER_SIZE = 40;

export interface PeImage {
  readonly data: Uint8Array;
  readonly size: number;
  /** `e_lfanew`: offset of `PE\0\0`. */
  readonly lfanew: number;
  /** Optional header magic is 0x20b. */
  readonly pe64: boolean;
  /** File offset of the optional header (lfanew + 24). */
  readonly optOffset: number;
  /** File offset of DataDirectory[0] (optOffset + 96 or + 112). */
  readonly dataDirOffset: number;
  /** File offset of the first section header (optOffset + SizeOfOptionalHeader). */
  readonly sectionTableOffset: number;
  readonly machine: number;
  readonly numberOfSections: number;
  readonly timeDateStamp: number;
  readonly pointerToSymbolTable: number;
  readonly numberOfSymbols: number;
  readonly sizeOfOptionalHeader: number;
  readonly characteristics: number;
  readonly magic: number;
  readonly addressOfEntryPoint: number;
  readonly imageBase: bigint;
  readonly fileAlignment: number;
  readonly sizeOfImage: number;
  readonly numberOfRvaAndSizes: number;
  /** Section headers inside the file, up to min(NumberOfSections, 96), in table order. */
  readonly sections: readonly SectionHeader[];
  /** True when every one of the min(NumberOfSections, 96) headers lies inside the file. */
  readonly sectionTableComplete: boolean;
  /** Lowest VirtualAddress of those sections (0xffffffff when none). */
  readonly lowestSectionRva: number;
}

export interface SectionHeader {
  readonly offset: number;
  /** The 8 raw name bytes. */
  readonly name: Uint8Array;
  readonly virtualSize: number;
  readonly virtualAddress: number;
  readonly sizeOfRawData: number;
  readonly pointerToRawData: number;
  readonly pointerToRelocations: number;
  readonly pointerToLinenumbers: number;
  readonly numberOfRelocations: number;
  readonly numberOfLinenumbers: number;
  readonly characteristics: number;
}

export function u16(d: Uint8Array, o: number): number {
  return d[o]! | (d[o + 1]! << 8);
}

export function u32(d: Uint8Array, o: number): number {
  return (d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16)) + d[o + 3]! * 0x1000000;
}

export function u64(d: Uint8Array, o: number): bigint {
  return (BigInt(u32(d, o + 4)) << 32n) | BigInt(u32(d, o));
}

/** YARA's `fits_in_pe`: [off, off+len) inside the data (off may be any number). */
export function fits(img: { size: number }, off: number, len: number): boolean {
  return Number.isFinite(off) && off >= 0 && len >= 0 && len <= img.size && off <= img.size - len;
}

/** Bytes from `off` up to (not including) the first NUL, at most `max`; empty if off is outside. */
export function cString(d: Uint8Array, off: number, max = Infinity): Uint8Array {
  if (!(off >= 0 && off < d.length)) return new Uint8Array(0);
  const end = Math.min(d.length, off + max);
  let i = off;
  while (i < end && d[i] !== 0) i++;
  return d.subarray(off, i);
}

/** Whether a NUL occurs in [off, end of data). */
export function hasNul(d: Uint8Array, off: number): boolean {
  if (!(off >= 0 && off < d.length)) return false;
  return d.indexOf(0, off) >= 0;
}

/** Parses the headers YARA requires (its `pe_get_header`), or undefined when it sees no PE. */
export function peImage(data: Uint8Array): PeImage | undefined {
  const size = data.length;
  if (size < DOS_HEADER_SIZE) return undefined;
  if (u16(data, 0) !== 0x5a4d) return undefined;
  const lfanew = u32(data, 0x3c);
  if (lfanew >= 0x80000000) return undefined; // LONG e_lfanew < 0
  const headersSize = lfanew + 24;
  if (size < headersSize) return undefined;
  if (u32(data, lfanew) !== 0x00004550) return undefined;
  if (size < headersSize + 224) return undefined; // IMAGE_OPTIONAL_HEADER32 with 16 directories
  const optOffset = lfanew + 24;
  const magic = u16(data, optOffset);
  const pe64 = magic === 0x20b;
  if (size < headersSize + (pe64 ? 240 : 224)) return undefined;

  const sizeOfOptionalHeader = u16(data, lfanew + 20);
  const numberOfSections = u16(data, lfanew + 6);
  const sectionTableOffset = optOffset + sizeOfOptionalHeader;
  const sections: SectionHeader[] = [];
  const wanted = Math.min(numberOfSections, MAX_PE_SECTIONS);
  let lowest = 0xffffffff;
  for (let i = 0; i < wanted; i++) {
    const at = sectionTableOffset + SECTION_HEADER_SIZE * i;
    if (at + SECTION_HEADER_SIZE > size) break;
    const s: SectionHeader = {
      offset: at,
      name: data.subarray(at, at + 8),
      virtualSize: u32(data, at + 8),
      virtualAddress: u32(data, at + 12),
      sizeOfRawData: u32(data, at + 16),
      pointerToRawData: u32(data, at + 20),
      pointerToRelocations: u32(data, at + 24),
      pointerToLinenumbers: u32(data, at + 28),
      numberOfRelocations: u16(data, at + 32),
      numberOfLinenumbers: u16(data, at + 34),
      characteristics: u32(data, at + 36),
    };
    if (s.virtualAddress < lowest) lowest = s.virtualAddress;
    sections.push(s);
  }

  return {
    data,
    size,
    lfanew,
    pe64,
    optOffset,
    dataDirOffset: optOffset + (pe64 ? 112 : 96),
    sectionTableOffset,
    machine: u16(data, lfanew + 4),
    numberOfSections,
    timeDateStamp: u32(data, lfanew + 8),
    pointerToSymbolTable: u32(data, lfanew + 12),
    numberOfSymbols: u32(data, lfanew + 16),
    sizeOfOptionalHeader,
    characteristics: u16(data, lfanew + 22),
    magic,
    addressOfEntryPoint: u32(data, optOffset + 16),
    imageBase: pe64 ? u64(data, optOffset + 24) : BigInt(u32(data, optOffset + 28)),
    fileAlignment: u32(data, optOffset + 36),
    sizeOfImage: u32(data, optOffset + 56),
    numberOfRvaAndSizes: u32(data, optOffset + (pe64 ? 108 : 92)),
    sections,
    sectionTableComplete: sections.length === wanted,
    lowestSectionRva: lowest,
  };
}

/**
 * RVA → file offset as YARA maps it (`pe_rva_to_offset`); -1 when it maps nowhere. `rva` may be
 * any non-negative number (64-bit values from delay-import thunks arrive here too).
 */
export function rvaToOffset(img: PeImage, rva: number): number {
  if (!img.sectionTableComplete) return -1;
  if (!(rva >= 0)) return -1;
  let sectionRva = 0;
  let sectionOffset = 0;
  let sectionRawSize = 0;
  const alignment = Math.min(img.fileAlignment, 0x200);
  for (const s of img.sections) {
    if (rva >= s.virtualAddress && rva - s.virtualAddress < s.virtualSize && sectionRva <= s.virtualAddress) {
      sectionRva = s.virtualAddress;
      sectionOffset = s.pointerToRawData;
      sectionRawSize = s.sizeOfRawData;
      if (alignment) sectionOffset -= sectionOffset % alignment;
    }
  }
  if (rva < img.lowestSectionRva) {
    sectionRva = 0;
    sectionOffset = 0;
    sectionRawSize = img.size >>> 0;
  }
  // (rva - section_rva) is computed on uint64: an RVA below a matched section cannot occur here.
  if (rva - sectionRva >= sectionRawSize) return -1;
  const result = sectionOffset + (rva - sectionRva);
  return result >= img.size ? -1 : result;
}

/** A data directory entry. */
export interface DataDirectory {
  readonly virtualAddress: number;
  readonly size: number;
}

/**
 * Data directory `index` as YARA fetches it (`pe_get_directory_entry`): refused when
 * NumberOfRvaAndSizes < index (except the CLR directory of a PE32), read at its fixed position
 * whatever SizeOfOptionalHeader says, and only if inside the file.
 */
export function dataDirectory(img: PeImage, index: number): DataDirectory | undefined {
  if ((index !== 14 || img.pe64) && img.numberOfRvaAndSizes < index) return undefined;
  const at = img.dataDirOffset + 8 * index;
  if (!fits(img, at, 8)) return undefined;
  return { virtualAddress: u32(img.data, at), size: u32(img.data, at + 4) };
}
