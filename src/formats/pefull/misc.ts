/**
 * Smaller PE structures YARA's `pe` module reports: the Rich header, the CodeView PDB path, section
 * names (short and COFF string-table names), the overlay, and the PE checksum.
 *
 * In: a `PeImage`. Out: plain values, each following the corresponding YARA 4.2.3 routine
 * (`pe_parse_rich_signature`, `pe_parse_debug_directory`, `pe_get_section_full_name`, the overlay
 * computation of `pe_parse_header`, `calculate_checksum`); yara 4.5's `rich_signature.version_data`
 * is derived too. Every loop is bounded by the file size.
 */
import { dataDirectory, fits, rvaToOffset, u32, type PeImage, type SectionHeader } from './image.js';

export interface RichSignature {
  /** File offset of the `DanS` dword. */
  readonly offset: number;
  readonly length: number;
  readonly key: number;
  readonly rawData: Uint8Array;
  readonly clearData: Uint8Array;
  /** The id/version dword of each (id_version, count) pair (yara 4.5). */
  readonly versionData?: Uint8Array;
}

const RICH = 0x68636952;
const DANS = 0x536e6144;

/** The Rich header between the DOS stub and the PE header, searched backwards from e_lfanew. */
export function parseRich(img: PeImage): RichSignature | undefined {
  const d = img.data;
  const nt = img.lfanew;
  if (nt > img.size + 4 || nt < 4) return undefined;
  let p = nt - 4;
  let key = 0;
  let richAt = -1;
  for (; p >= 64; p -= 4) {
    if (p + 8 <= d.length && u32(d, p) === RICH) {
      key = u32(d, p + 4);
      richAt = p;
      p -= 4;
      break;
    }
  }
  if (key === 0) return undefined;
  let start = -1;
  for (; p >= 64; p -= 4) {
    if ((u32(d, p) ^ key) >>> 0 === DANS) {
      start = p;
      break;
    }
  }
  if (start < 0) return undefined;
  const key1 = u32(d, start + 4);
  if (key1 !== u32(d, start + 8) || key1 !== u32(d, start + 12) || (u32(d, start) ^ key1) >>> 0 !== DANS) return undefined;
  const length = richAt - start;
  const rawData = d.slice(start, richAt);
  const clearData = rawData.slice();
  for (let i = 0; i + 4 <= length; i += 4) {
    const v = (u32(clearData, i) ^ key1) >>> 0;
    clearData[i] = v & 0xff;
    clearData[i + 1] = (v >>> 8) & 0xff;
    clearData[i + 2] = (v >>> 16) & 0xff;
    clearData[i + 3] = v >>> 24;
  }
  let versionData: Uint8Array | undefined;
  if (length >= 16) {
    const n = Math.floor((length - 16) / 8);
    versionData = new Uint8Array(4 * n);
    for (let i = 0; i < n; i++) versionData.set(clearData.subarray(16 + 8 * i, 20 + 8 * i), 4 * i);
  }
  return { offset: start, length, key: key1, rawData, clearData, ...(versionData ? { versionData } : {}) };
}

/** Sum of the `times` of the Rich entries matching version and/or tool id (YARA's `_rich_version`). */
export function richCount(rich: RichSignature, version: bigint | undefined, toolid: bigint | undefined): bigint {
  if (rich.length < 16) return 0n;
  const n = Math.floor((rich.length - 16) / 8);
  let total = 0n;
  for (let i = 0; i < n; i++) {
    const at = 16 + 8 * i;
    if (at + 8 > rich.clearData.length) break;
    const idv = u32(rich.clearData, at);
    if ((version === undefined || version === BigInt(idv & 0xffff)) && (toolid === undefined || toolid === BigInt(idv >>> 16))) {
      total += BigInt(u32(rich.clearData, at + 4));
    }
  }
  return total;
}

/** The PDB path of the first CodeView debug entry that has one (NB10, RSDS or MTOC records). */
export function parsePdbPath(img: PeImage): Uint8Array | undefined {
  const dir = dataDirectory(img, 6);
  if (!dir || dir.size === 0 || dir.size % 28 !== 0 || dir.virtualAddress === 0) return undefined;
  const base = rvaToOffset(img, dir.virtualAddress);
  if (base < 0) return undefined;
  const d = img.data;
  const count = dir.size / 28;
  for (let i = 0; i < count; i++) {
    const at = base + 28 * i;
    if (!fits(img, at, 28)) break;
    if (u32(d, at + 12) !== 2) continue;
    let cv = 0;
    const addressOfRawData = u32(d, at + 20);
    if (addressOfRawData !== 0) cv = rvaToOffset(img, addressOfRawData);
    const pointerToRawData = u32(d, at + 24);
    if (cv <= 0 && pointerToRawData !== 0) cv = pointerToRawData;
    if (cv <= 0 || !fits(img, cv, 8)) continue;
    const sig = u32(d, cv);
    let path = -1;
    if (sig === 0x3031424e) { if (fits(img, cv, 20)) path = cv + 16; }
    else if (sig === 0x53445352) { if (fits(img, cv, 28)) path = cv + 24; }
    else if (sig === 0x434f544d) { if (fits(img, cv, 24)) path = cv + 20; }
    if (path >= 0) {
      const max = Math.min(d.length - path, 1024);
      let n = 0;
      while (n < max && d[path + n] !== 0) n++;
      if (n > 0 && n < 1024) return d.subarray(path, path + n);
    }
  }
  return undefined;
}

/** The section name YARA reports: the 8 bytes without trailing NULs (inner NULs kept). */
export function sectionName(s: SectionHeader): Uint8Array {
  let n = 8;
  while (n > 0 && s.name[n - 1] === 0) n--;
  return s.name.subarray(0, n);
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/**
 * The long name of a `/nnn` section from the COFF string table (after the symbol table), or the
 * short name; undefined when the string runs out of the file or holds a non-printable byte.
 */
export function sectionFullName(img: PeImage, s: SectionHeader): Uint8Array | undefined {
  const short = sectionName(s);
  if (img.pointerToSymbolTable === 0 || s.name[0] !== 0x2f) return short;
  let index = 0;
  for (let i = 1; i < 8 && isDigit(s.name[i]!); i++) index = index * 10 + (s.name[i]! - 0x30);
  const at = img.pointerToSymbolTable + img.numberOfSymbols * 18 + index;
  const d = img.data;
  for (let len = 0; fits(img, at, len + 1); len++) {
    const c = d[at + len]!;
    if (c === 0) return d.subarray(at, at + len);
    if (c < 0x20 || c > 0x7e) return undefined;
  }
  return undefined;
}

/** `overlay.offset` and `overlay.size`: after the section whose raw data ends last. */
export function overlay(img: PeImage): { offset: number; size: number } {
  let ofs = 0;
  let siz = 0;
  for (const s of img.sections) {
    // DWORD + DWORD: the sum wraps at 2^32 before it is compared.
    const end = (s.pointerToRawData + s.sizeOfRawData) % 0x100000000;
    if (end > ofs + siz) {
      ofs = s.pointerToRawData;
      siz = s.sizeOfRawData;
    }
  }
  const last = ofs + siz;
  return last && img.size > last ? { offset: last, size: img.size - last } : { offset: 0, size: 0 };
}

/** `pe.calculate_checksum()`: the PE checksum of the file with the CheckSum field taken as 0. */
export function peChecksum(img: PeImage): bigint {
  const d = img.data;
  const size = img.size;
  const skip = img.optOffset + 64;
  let csum = 0;
  const words = Math.floor(size / 4);
  for (let i = 0; i <= words; i++) {
    if (4 * i === skip) continue;
    if (4 * i + 4 <= size) csum += u32(d, 4 * i);
    else for (let j = 0; j < size % 4; j++) csum += d[4 * i + j]! * 2 ** (8 * j);
    if (csum > 0xffffffff) csum = (csum % 0x100000000) + Math.floor(csum / 0x100000000);
  }
  csum = (csum & 0xffff) + Math.floor(csum / 0x10000);
  csum += Math.floor(csum / 0x10000);
  csum &= 0xffff;
  return BigInt(csum) + BigInt(size);
}
