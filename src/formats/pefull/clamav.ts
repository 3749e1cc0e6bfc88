/**
 * The hashes ClamAV 1.4 looks up for a PE file in its section-hash (`.mdb`/`.msb`) and import-hash
 * (`.imp`) databases, computed as its `cli_scanpe` computes them.
 *
 * In: the bytes of a layer typed as a PE. Out: `PeHashLookups`:
 * - `sections`: one entry per section with raw data, in section-table order, hashed over ClamAV's
 *   *aligned* extent ([PointerToRawData rounded down to the file alignment, + SizeOfRawData rounded
 *   up, clipped to the file]), which is the size the signatures carry. Sections lying wholly
 *   outside the file are dropped first (`CLI_PEHEADER_OPT_REMOVE_MISSING_SECTIONS`); when all of them
 *   are, or when the headers are refused (see ../pe.ts `peClamavView`), there is nothing to hash.
 *   Digests are computed on first access, so an engine that checks the size first hashes only
 *   sections some signature has the size of.
 * - `imphash`: for PE32 only (ClamAV returns before its import scan for PE32+), the MD5 of the
 *   import string and that string's length, built like YARA's imphash but with ClamAV's rules:
 *   descriptors while more than 20 bytes of the import directory remain (so the last descriptor a
 *   directory exactly covers is not read), function names checked to hold only [A-Za-z0-9_.]
 *   (otherwise ClamAV gives up, `impStatus: 'error'`), names within 258 bytes of the end of the file
 *   skipped, ordinals named by the same table as YARA's, and the import directory required whole in
 *   the file. `impStatus` is 'ok' with a hash, 'none' when ClamAV skips the import scan quietly
 *   (no import directory), 'error' when it fails (then `cli_scanpe` returns early: later PE
 *   heuristics and unpackers are not run either).
 *
 * Why here: the signature loaders keep these hashes in scopes the file-hash lookup does not use;
 * the engine asks this function for a PE layer's values and looks them up by (size, digest).
 */
import { createHash } from 'node:crypto';
import { clamavRvaToRaw, parsePe, peClamavView, type PeClamavSection, type PeFile } from '../pe.js';
import { ordinalName } from './ordinals.js';

export interface PeSectionHash {
  /** ClamAV's aligned raw size of the section: the size field of `.mdb` lines. */
  readonly size: number;
  /** ClamAV's aligned raw offset of the section. */
  readonly offset: number;
  readonly md5: Uint8Array;
  readonly sha1?: Uint8Array;
  readonly sha256?: Uint8Array;
}

export interface PeHashLookups {
  sections: PeSectionHash[];
  /** The import hash (sha1/sha256 too when asked for). */
  imphash?: { md5: Uint8Array; size: number; sha1?: Uint8Array; sha256?: Uint8Array };
  impStatus: 'ok' | 'none' | 'error';
  /** True for PE32+ (ClamAV's cli_scanpe stops after the section hashes). */
  pe32plus: boolean;
}

/** ClamAV's CLI_MAX_ALLOCATION: larger sections are not hashed. */
/** ClamAV's hash algorithms, in the order it checks them. */
export type HashAlgo = 'md5' | 'sha1' | 'sha256';

const MAX_SECTION_HASH = 1024 * 1024 * 1024;
const PE_MAXIMPORTS = 1024;
const PE_MAXNAMESIZE = 256;

function digest(alg: 'md5' | 'sha1' | 'sha256', b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(alg).update(b).digest());
}

function sectionHash(bytes: Uint8Array, s: PeClamavSection): PeSectionHash {
  const data = bytes.subarray(s.raw, s.raw + s.rsz);
  const cache: Partial<Record<'md5' | 'sha1' | 'sha256', Uint8Array>> = {};
  const get = (alg: 'md5' | 'sha1' | 'sha256'): Uint8Array => (cache[alg] ??= digest(alg, data));
  const out = { size: s.rsz, offset: s.raw } as PeSectionHash;
  for (const alg of ['md5', 'sha1', 'sha256'] as const) Object.defineProperty(out, alg, { enumerable: true, get: () => get(alg) });
  return out;
}

function alignDown(o: number, a: number): number {
  return a ? Math.floor(o / a) * a : o;
}

function alignUp(o: number, a: number): number {
  return a ? ((Math.floor(o / a) + (o % a !== 0 ? 1 : 0)) * a) >>> 0 : o;
}

/**
 * The PE with the sections ClamAV drops for lying outside the file removed (undefined when that
 * removes every section: ClamAV then refuses the file). The file-alignment fall-back ClamAV decides
 * over all section headers is kept by setting FileAlignment to 0x200 when it triggered.
 */
function withoutMissingSections(pe: PeFile): PeFile | undefined {
  const opt = pe.optionalHeader;
  if (!opt) return pe;
  let falign = opt.fileAlignment;
  for (const h of pe.sections) {
    if (falign === 0x200) break;
    if (falign && h.sizeOfRawData && h.pointerToRawData % falign && !(h.pointerToRawData % 0x200)) falign = 0x200;
  }
  const kept = pe.sections.filter((h) => {
    const rsz = alignUp(h.sizeOfRawData, falign);
    return !(rsz && (alignDown(h.pointerToRawData, falign) >= pe.fileSize || h.pointerToRawData >= pe.fileSize));
  });
  if (kept.length === pe.sections.length) return pe;
  if (kept.length === 0 && pe.sections.length > 0) return undefined;
  return {
    ...pe,
    optionalHeader: { ...opt, fileAlignment: falign },
    fileHeader: { ...pe.fileHeader, numberOfSections: kept.length },
    sections: kept,
  };
}

const LOWER = new Uint8Array(256).map((_, i) => (i >= 0x41 && i <= 0x5a ? i + 0x20 : i));

function startsNoCase(b: Uint8Array, at: number, s: string): boolean {
  if (at + s.length > b.length) return false;
  for (let i = 0; i < s.length; i++) if (LOWER[b[at + i]!] !== s.charCodeAt(i)) return false;
  return true;
}

/** ClamAV's `validate_impname` for a function name: [A-Za-z0-9_.] only. */
function validName(b: Uint8Array): boolean {
  for (const c of b) {
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x2e;
    if (!ok) return false;
  }
  return true;
}

function strndup(b: Uint8Array, off: number, max: number): Uint8Array {
  const end = Math.min(b.length, off + max);
  let i = off;
  while (i < end && b[i] !== 0) i++;
  return b.subarray(off, i);
}

/** ClamAV's import hash (hash_imptbl); 'none' / 'error' as described at the top. */
function clamavImphash(bytes: Uint8Array, pe: PeFile, sections: readonly PeClamavSection[], hdrSize: number, algos: readonly HashAlgo[]): { status: 'ok' | 'none' | 'error'; digests?: Partial<Record<HashAlgo, Uint8Array>>; size?: number } {
  const fsize = bytes.length;
  const dir = pe.dataDirectories[1];
  if (!dir || dir.virtualAddress === 0 || dir.size === 0) return { status: 'none' };
  const rawaddr = (rva: number): number | undefined => clamavRvaToRaw(rva >>> 0, sections, hdrSize, fsize);
  const impoff = rawaddr(dir.virtualAddress);
  if (impoff === undefined || (impoff + dir.size) % 0x100000000 > fsize) return { status: 'none' };
  if (impoff + dir.size > fsize) return { status: 'error' };
  const plus = pe.optionalHeader?.pe32plus === true;
  const hashers = algos.map((a) => createHash(a));
  let impsz = 0;
  let first = true;
  let left = dir.size;
  let nimps = 0;
  let desc = impoff;
  const u32 = (o: number): number => (bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16)) + bytes[o + 3]! * 0x1000000;
  while (left > 20 && nimps < PE_MAXIMPORTS) {
    const name = u32(desc + 12);
    if (name === 0) break;
    const oft = u32(desc);
    const ft = u32(desc + 16);
    left -= 20;
    nimps++;
    desc += 20;
    const off = rawaddr(name);
    if (off === undefined || off > fsize) return { status: 'error' };
    const len = Math.min(PE_MAXNAMESIZE, fsize - off);
    if (len === 0) return { status: 'error' };
    const dll = strndup(bytes, off, len);
    let thu: number | undefined = 0;
    let err = false;
    if (oft) {
      thu = rawaddr(oft);
      err = thu === undefined;
    }
    if (err || thu === 0) {
      thu = rawaddr(ft);
      if (thu === undefined) return { status: 'error' };
    }
    let thuoff = thu!;
    let dllLen = -1;
    const step = plus ? 8 : 4;
    for (;;) {
      if (thuoff + step > fsize) break;
      const lo = u32(thuoff);
      const hi = plus ? u32(thuoff + 4) : 0;
      if (lo === 0 && hi === 0) break;
      thuoff += step;
      let func: Uint8Array | undefined;
      const byOrdinal = plus ? hi >= 0x80000000 : lo >= 0x80000000;
      if (!byOrdinal) {
        // The RVA parameter is 32-bit: a 64-bit thunk is truncated. PE32 reads at offset 0 when
        // the RVA maps nowhere (ClamAV tests the wrong variable there); PE32+ skips the name.
        const o = rawaddr(lo);
        if (o !== undefined || !plus) {
          const at = o ?? 0;
          const n = fsize >= at ? Math.min(PE_MAXNAMESIZE, fsize - at) : PE_MAXNAMESIZE;
          if (at + 2 + n <= fsize) func = strndup(bytes, at + 2, n);
        }
      } else {
        func = new TextEncoder().encode(ordinalName(dll, lo & 0xffff));
      }
      if (!func) continue;
      if (dllLen < 0 || dllLen === 0) {
        const dot = dll.indexOf(0x2e);
        dllLen = dot >= 0 && (startsNoCase(dll, dot, '.ocx') || startsNoCase(dll, dot, '.sys') || startsNoCase(dll, dot, '.dll')) ? dot : dll.length;
      }
      if (!validName(func)) return { status: 'error' };
      const part = new Uint8Array((first ? 0 : 1) + dllLen + 1 + func.length);
      let k = 0;
      if (!first) part[k++] = 0x2c;
      for (let i = 0; i < dllLen; i++) part[k++] = LOWER[dll[i]!]!;
      part[k++] = 0x2e;
      for (const c of func) part[k++] = LOWER[c]!;
      for (const h of hashers) h.update(part);
      impsz += part.length;
      first = false;
    }
  }
  const digests: Partial<Record<HashAlgo, Uint8Array>> = {};
  algos.forEach((a, i) => { digests[a] = new Uint8Array(hashers[i]!.digest()); });
  return { status: 'ok', digests, size: impsz };
}

/** The section and import hashes ClamAV 1.4 looks up for the PE in `bytes` (see the top). */
export function peHashLookups(bytes: Uint8Array, importAlgos: readonly HashAlgo[] = ['md5']): PeHashLookups {
  const none: PeHashLookups = { sections: [], impStatus: 'none', pe32plus: false };
  const parsed = parsePe(bytes);
  if (!parsed.pe) return none;
  const pe = withoutMissingSections(parsed.pe);
  if (!pe) return none;
  const res = peClamavView(pe);
  if (!res.ok) return none;
  const view = res.view;
  const pe32plus = pe.optionalHeader?.pe32plus === true;
  const sections = view.sections.filter((s) => s.rsz > 0 && s.rsz <= MAX_SECTION_HASH && s.raw + s.rsz <= bytes.length).map((s) => sectionHash(bytes, s));
  if (pe32plus) return { sections, impStatus: 'none', pe32plus };
  const algos: HashAlgo[] = ['md5', ...importAlgos.filter((a) => a !== 'md5')];
  const imp = clamavImphash(bytes, pe, view.sections, view.hdrSize, algos);
  const d = imp.digests;
  return {
    sections,
    ...(d?.md5 && imp.size !== undefined ? { imphash: { md5: d.md5, size: imp.size, ...(d.sha1 ? { sha1: d.sha1 } : {}), ...(d.sha256 ? { sha256: d.sha256 } : {}) } } : {}),
    impStatus: imp.status,
    pe32plus,
  };
}

/** What `peHashHits` needs from a hash index (the scanner's `HashPort` fits). */
export interface PeHashPort<T> {
  /** Algorithms some signature of this size (or of any size) uses. */
  algorithmsFor(size: number): readonly HashAlgo[];
  /** ClamAV's matches for a digest and size: at most one exact-size, then one wildcard. */
  lookup(algo: HashAlgo, digest: Uint8Array, size: number): readonly T[];
}

/**
 * The `.mdb`/`.msb` and `.imp` matches ClamAV's `cli_scanpe` reports for the PE in `bytes`, in its
 * order: per section in table order, per algorithm (MD5, SHA1, SHA256) the exact-size match then
 * the wildcard one; then, for PE32 only, the import hash the same way. Without `allmatch` it stops
 * at the first match. `impError` is set when ClamAV's import hashing fails, which ends its PE
 * processing for the layer (no unpackers, no later heuristics).
 */
export function peHashHits<T>(bytes: Uint8Array, sections: PeHashPort<T> | undefined, imports: PeHashPort<T> | undefined, allmatch: boolean): { hits: T[]; impError: boolean } {
  const hits: T[] = [];
  if (!sections && !imports) return { hits, impError: false };
  const lookups = peHashLookups(bytes, imports ? ['md5', 'sha1', 'sha256'] : ['md5']);
  if (sections) {
    for (const s of lookups.sections) {
      for (const algo of sections.algorithmsFor(s.size)) {
        const digest = algo === 'md5' ? s.md5 : algo === 'sha1' ? s.sha1 : s.sha256;
        if (!digest) continue;
        for (const h of sections.lookup(algo, digest, s.size)) {
          hits.push(h);
          if (!allmatch) return { hits, impError: false };
        }
      }
    }
  }
  if (imports && lookups.imphash) {
    const imp = lookups.imphash;
    for (const algo of imports.algorithmsFor(imp.size)) {
      const digest = imp[algo];
      if (!digest) continue;
      for (const h of imports.lookup(algo, digest, imp.size)) {
        hits.push(h);
        if (!allmatch) return { hits, impError: false };
      }
    }
  }
  return { hits, impError: lookups.impStatus === 'error' };
}
