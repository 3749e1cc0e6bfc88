/**
 * PE import tables, read the way YARA 4.2.3's `pe` module reads them: the import directory
 * (IMAGE_IMPORT_DESCRIPTOR list, thunks by name or ordinal), the delay-import directory
 * (IMAGE_DELAYLOAD_DESCRIPTOR list, old VC6 VA-based records converted to RVAs) and the import hash.
 *
 * In: a `PeImage`. Out: `ImportTable`s whose DLLs and functions are those YARA keeps, in its order,
 * with its counters (`number_of_imports` counts descriptors with a mappable-or-not name and
 * skips those whose name is invalid; `number_of_imported_functions` counts every thunk read, named or
 * not), and `imphash`, YARA's `pe.imphash()`.
 *
 * Why this exactness: rules test `pe.imports("kernel32.dll", "CreateFileA")`, counts and the imphash
 * of real malware, which is precisely the damaged input on which two readers part ways. Hostile
 * input is bounded: at most 16384 descriptors and 16384 thunks (YARA's MAX_PE_IMPORTS) for standard
 * imports; delay imports, which YARA walks without a limit, stop after `MAX_DELAY_FUNCTIONS` thunks.
 */
import { createHash } from 'node:crypto';
import { dataDirectory, fits, rvaToOffset, u32, u64, type PeImage } from './image.js';
import { ordinalName } from './ordinals.js';

export const MAX_PE_IMPORTS = 16384;
/** Bound on delay-import thunks read in all (YARA has none; real files have a few thousand). */
export const MAX_DELAY_FUNCTIONS = 65536;
/** Bound on delay-import descriptors read. */
const MAX_DELAY_DESCRIPTORS = 16384;

export interface ImportedFunction {
  /** Name bytes (ordinal imports get the looked-up name); may be empty. */
  readonly name: Uint8Array;
  /** Set for imports by ordinal. */
  readonly ordinal?: number;
  /** RVA of the function's IAT slot (yara 4.5's `functions[].rva`). */
  readonly rva: number;
}

export interface ImportedDll {
  readonly name: Uint8Array;
  readonly functions: readonly ImportedFunction[];
}

export interface ImportTable {
  readonly dlls: readonly ImportedDll[];
  /** `number_of_imports` / `number_of_delayed_imports`. */
  readonly numberOfDlls: number;
  /** `number_of_imported_functions` / `number_of_delayed_imported_functions`. */
  readonly numberOfFunctions: number;
}

const EMPTY: ImportTable = { dlls: [], numberOfDlls: 0, numberOfFunctions: 0 };

/**
 * YARA's DLL name check: at least one character, a NUL before the end of the file, and no control
 * character nor any of `"*<>?|`. Returns the name bytes, or undefined when invalid.
 */
function validDllName(d: Uint8Array, off: number): Uint8Array | undefined {
  let i = off;
  for (; i < d.length && d[i] !== 0; i++) {
    const c = d[i]!;
    if (c < 0x20 || c === 0x22 || c === 0x2a || c === 0x3c || c === 0x3e || c === 0x3f || c === 0x7c) return undefined;
  }
  const l = i - off;
  return l > 0 && i < d.length ? d.subarray(off, i) : undefined;
}

/** `strndup(p, min(available_space(p), 512))`: bytes up to NUL, at most 512, empty outside the file. */
function importName(d: Uint8Array, off: number): Uint8Array {
  if (!(off >= 0 && off < d.length)) return new Uint8Array(0);
  const end = Math.min(d.length, off + 512);
  let i = off;
  while (i < end && d[i] !== 0) i++;
  return d.subarray(off, i);
}

/** The standard import directory. */
export function parseImports(img: PeImage): ImportTable {
  const dir = dataDirectory(img, 1);
  if (!dir || dir.virtualAddress === 0) return EMPTY;
  let off = rvaToOffset(img, dir.virtualAddress);
  if (off < 0) return EMPTY;
  const d = img.data;
  const ptr = img.pe64 ? 8 : 4;
  const dlls: ImportedDll[] = [];
  let numImports = 0;
  const counter = { functions: 0 };
  while (fits(img, off, 20) && u32(d, off + 12) !== 0 && numImports < MAX_PE_IMPORTS) {
    const nameOff = rvaToOffset(img, u32(d, off + 12));
    if (nameOff >= 0) {
      const name = validDllName(d, nameOff);
      if (!name) {
        off += 20;
        continue;
      }
      const functions = parseThunks(img, d, off, name, ptr, counter);
      if (functions.length > 0) dlls.push({ name, functions });
    }
    numImports++;
    off += 20;
  }
  return { dlls, numberOfDlls: numImports, numberOfFunctions: counter.functions };
}

/** The thunks of one descriptor (OriginalFirstThunk, or FirstThunk when that maps to offset ≤ 0). */
function parseThunks(img: PeImage, d: Uint8Array, desc: number, dll: Uint8Array, ptr: number, counter: { functions: number }): ImportedFunction[] {
  const out: ImportedFunction[] = [];
  const firstThunk = u32(d, desc + 16);
  let off = rvaToOffset(img, u32(d, desc));
  if (off <= 0) off = rvaToOffset(img, firstThunk);
  if (off < 0) return out;
  for (let idx = 0; fits(img, off, ptr) && counter.functions < MAX_PE_IMPORTS; idx++, off += ptr) {
    let byOrdinal: boolean;
    let low: number;
    let value: number; // the thunk as an RVA candidate (huge values map nowhere)
    if (ptr === 8) {
      const v = u64(d, off);
      if (v === 0n) break;
      byOrdinal = (v >> 63n) === 1n;
      low = Number(v & 0xffffn);
      value = v > 0xffffffffffn ? Number.MAX_SAFE_INTEGER : Number(v);
    } else {
      const v = u32(d, off);
      if (v === 0) break;
      byOrdinal = v >= 0x80000000;
      low = v & 0xffff;
      value = v;
    }
    const rva = (firstThunk + ptr * idx) % 0x100000000;
    if (byOrdinal) {
      out.push({ name: new TextEncoder().encode(ordinalName(dll, low)), ordinal: low, rva });
    } else {
      const nameOff = rvaToOffset(img, value);
      if (nameOff >= 0 && fits(img, nameOff, 4)) out.push({ name: importName(d, nameOff + 2), rva });
    }
    counter.functions++;
  }
  return out;
}

/** `value - image_base` when 0 < value and value > image_base (VC6 delay-import records hold VAs). */
function normalize(imageBase: bigint, v: bigint): bigint {
  return v !== 0n && v > imageBase ? v - imageBase : v;
}

/** The delay-import directory (YARA's `pe_parse_delayed_imports`). */
export function parseDelayImports(img: PeImage): ImportTable {
  const dir = dataDirectory(img, 13);
  if (!dir || dir.virtualAddress === 0) return EMPTY;
  let off = rvaToOffset(img, dir.virtualAddress);
  if (off < 0) return EMPTY;
  const d = img.data;
  const ptr = img.pe64 ? 8 : 4;
  const ordinalBit = img.pe64 ? 1n << 63n : 0x80000000n;
  const sizeOfImage = img.sizeOfImage;
  const dlls: ImportedDll[] = [];
  let numImports = 0;
  let numFunctions = 0;
  const pointerAt = (rva: bigint): bigint | undefined => {
    const o = rvaToOffset(img, rva > 0xffffffffffn ? Number.MAX_SAFE_INTEGER : Number(rva));
    if (!fits(img, o, ptr)) return undefined;
    return ptr === 8 ? u64(d, o) : BigInt(u32(d, o));
  };
  for (let n = 0; fits(img, off, 32) && n < MAX_DELAY_DESCRIPTORS; n++, off += 32) {
    let allZero = true;
    for (let k = 0; k < 32; k += 4) if (u32(d, off + k) !== 0) allZero = false;
    if (allZero) break;
    const attributes = u32(d, off);
    let dllNameRva = u32(d, off + 4);
    let iat = u32(d, off + 12);
    let int = u32(d, off + 16);
    if (attributes > 1) break;
    if (!img.pe64 && attributes === 0) {
      // The conversion is done on 32-bit DWORDs.
      dllNameRva = Number(normalize(img.imageBase, BigInt(dllNameRva)) & 0xffffffffn);
      iat = Number(normalize(img.imageBase, BigInt(iat)) & 0xffffffffn);
      int = Number(normalize(img.imageBase, BigInt(int)) & 0xffffffffn);
    }
    if (int >= sizeOfImage || iat >= sizeOfImage || dllNameRva < 64 || int < 64) break;
    const nameOff = rvaToOffset(img, dllNameRva);
    const name = nameOff >= 0 ? validDllName(d, nameOff) : undefined;
    if (!name) continue;
    const functions: ImportedFunction[] = [];
    let nameRva = BigInt(int);
    let funcRva = BigInt(iat);
    while (numFunctions < MAX_DELAY_FUNCTIONS) {
      let nameAddress = pointerAt(nameRva);
      const funcAddress = pointerAt(funcRva);
      if (nameAddress === undefined || funcAddress === undefined) break;
      if (nameAddress === 0n || funcAddress === 0n) break;
      const slot = Number(funcRva & 0xffffffffn);
      if ((nameAddress & ordinalBit) === 0n) {
        if (attributes === 0) nameAddress = normalize(img.imageBase, nameAddress);
        const target = nameAddress + 2n;
        const o = rvaToOffset(img, target > 0xffffffffffn ? Number.MAX_SAFE_INTEGER : Number(target));
        functions.push({ name: importName(d, o), rva: slot });
      } else {
        const ord = Number(nameAddress & 0xffffn);
        functions.push({ name: new TextEncoder().encode(ordinalName(name, ord)), ordinal: ord, rva: slot });
      }
      numFunctions++;
      nameRva += BigInt(ptr);
      funcRva += BigInt(ptr);
    }
    numImports++;
    dlls.push({ name, functions });
  }
  return { dlls, numberOfDlls: numImports, numberOfFunctions: numFunctions };
}

const LOWER = new Uint8Array(256).map((_, i) => (i >= 0x41 && i <= 0x5a ? i + 0x20 : i));

function startsNoCase(b: Uint8Array, at: number, s: string): boolean {
  if (at + s.length > b.length) return false;
  for (let i = 0; i < s.length; i++) if (LOWER[b[at + i]!] !== s.charCodeAt(i)) return false;
  return true;
}

/**
 * YARA's `pe.imphash()` over the standard imports: for each function `dll.func`, comma separated,
 * lower-cased (ASCII), the DLL name cut at its first `.` when what follows starts with `.dll`,
 * `.ocx` or `.sys`; the MD5 of that text in hex. Undefined-free: a PE without imports hashes "".
 */
export function imphash(imports: ImportTable): string {
  const h = createHash('md5');
  let first = true;
  for (const dll of imports.dlls) {
    const dot = dll.name.indexOf(0x2e);
    let dllName = dll.name;
    if (dot >= 0 && (startsNoCase(dll.name, dot, '.ocx') || startsNoCase(dll.name, dot, '.sys') || startsNoCase(dll.name, dot, '.dll'))) {
      dllName = dll.name.subarray(0, dot);
    }
    for (const f of dll.functions) {
      const part = new Uint8Array((first ? 0 : 1) + dllName.length + 1 + f.name.length);
      let k = 0;
      if (!first) part[k++] = 0x2c;
      for (const c of dllName) part[k++] = LOWER[c]!;
      part[k++] = 0x2e;
      for (const c of f.name) part[k++] = LOWER[c]!;
      h.update(part);
      first = false;
    }
  }
  return h.digest('hex');
}
