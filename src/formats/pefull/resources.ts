/**
 * PE resources as YARA 4.2.3 reads them: the three-level resource tree (type / name / language),
 * each leaf's data entry, and the StringFileInfo strings of every RT_VERSION resource.
 *
 * In: a `PeImage`. Out: `ResourceInfo` — the root directory's timestamp and version, the leaves in
 * tree order (a named level gives a UTF-16LE name string, else the 32-bit id as a signed int, as
 * YARA stores it), and the version-info key/value pairs in the order YARA records them.
 *
 * YARA's walk, reproduced: a directory with non-zero Characteristics or more than 32768 entries of
 * either kind is skipped; an entry or a sub-directory outside the file aborts the whole walk; at
 * the third level every entry is a leaf whatever its high bit says, so the depth is bounded by
 * construction. What YARA does not bound, the number of leaves reached through directories that
 * share sub-directories (a 1 MB file can reach 10^10 leaves), is bounded here by `MAX_VISITS`
 * entries visited; only leaves up to YARA's MAX_RESOURCES + 1 are recorded anyway.
 * Version strings: keys are cut to 63 and values to 255 characters, one byte per UTF-16 unit (the
 * low byte), stopping at a unit whose low byte is 0, exactly as YARA's `strlcpy_w` does.
 */
import { dataDirectory, fits, rvaToOffset, u16, u32, type PeImage } from './image.js';

export const MAX_RESOURCES = 65536;
/** Directory entries visited at most. */
export const MAX_VISITS = 1 << 20;
/** Version-info records visited at most, over all RT_VERSION resources. */
const MAX_VERSION_STEPS = 1 << 18;

export interface ResourceLeaf {
  /** OffsetToData of the data entry (an RVA). */
  readonly rva: number;
  /** File offset of the data, undefined when it maps nowhere. */
  readonly offset?: number;
  readonly length: number;
  readonly type?: number;
  readonly typeString?: Uint8Array;
  readonly id?: number;
  readonly nameString?: Uint8Array;
  readonly language?: number;
  readonly languageString?: Uint8Array;
}

export interface VersionString {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface ResourceInfo {
  readonly timestamp: number;
  readonly major: number;
  readonly minor: number;
  readonly leaves: readonly ResourceLeaf[];
  readonly versionStrings: readonly VersionString[];
}

/** A level's label: the name string when the entry names one that fits, else the signed id. */
type Label = { str?: Uint8Array | null; int: number };

/**
 * `parse_resource_name` + `pe_set_resource_string_or_id`: for a named entry whose length word and
 * string fit, the string bytes (`null` when the string is found but its bytes do not fit, which
 * leaves the member undefined); otherwise undefined (the integer is used).
 */
function entryName(img: PeImage, base: number, name: number): Uint8Array | null | undefined {
  if (name < 0x80000000) return undefined;
  const p = base + (name & 0x7fffffff);
  if (!fits(img, p, 2)) return undefined;
  const len = u16(img.data, p) * 2;
  if (!fits(img, p, 2 + len)) return undefined;
  return fits(img, p + 2, len) ? img.data.subarray(p + 2, p + 2 + len) : null;
}

export function parseResources(img: PeImage): ResourceInfo | undefined {
  const dir = dataDirectory(img, 2);
  if (!dir || dir.virtualAddress === 0) return undefined;
  const root = rvaToOffset(img, dir.virtualAddress);
  if (root < 0 || !fits(img, root, 16)) return undefined;
  const d = img.data;
  const leaves: ResourceLeaf[] = [];
  const versionStrings: VersionString[] = [];
  const state = { visits: 0, versionSteps: 0 };
  const labels: [Label, Label, Label] = [{ int: -1 }, { int: -1 }, { int: -1 }];

  const collect = (entryOff: number): void => {
    if (leaves.length > MAX_RESOURCES) return;
    const rva = u32(d, entryOff);
    const off = rvaToOffset(img, rva);
    const leaf: { -readonly [K in keyof ResourceLeaf]: ResourceLeaf[K] } = { rva, length: u32(d, entryOff + 4) };
    if (off >= 0) leaf.offset = off;
    const [t, n, l] = labels;
    if (t.str !== undefined) { if (t.str) leaf.typeString = t.str; } else leaf.type = t.int;
    if (n.str !== undefined) { if (n.str) leaf.nameString = n.str; } else leaf.id = n.int;
    if (l.str !== undefined) { if (l.str) leaf.languageString = l.str; } else leaf.language = l.int;
    if (t.int === 16) parseVersionInfo(img, rva, versionStrings, state);
    leaves.push(leaf);
  };

  // Returns false when the walk is aborted.
  const walk = (dirOff: number, level: number): boolean => {
    const named = u16(d, dirOff + 12);
    const ids = u16(d, dirOff + 14);
    if (u32(d, dirOff) !== 0 || named > 32768 || ids > 32768) return true;
    const total = named + ids;
    let entry = dirOff + 16;
    for (let i = 0; i < total; i++, entry += 8) {
      if (!fits(img, entry, 8)) return false;
      if (++state.visits > MAX_VISITS) return false;
      const name = u32(d, entry);
      const label = labels[level as 0 | 1 | 2];
      label.int = name | 0;
      label.str = entryName(img, root, name);
      // Strings of deeper levels are never inherited: each call starts without them.
      for (let k = level + 1; k < 3; k++) labels[k as 1 | 2].str = undefined;
      const target = u32(d, entry + 4);
      const at = root + (target & 0x7fffffff);
      if (target >= 0x80000000 && level < 2) {
        if (!fits(img, at, 16)) return false;
        if (!walk(at, level + 1)) return false;
      } else {
        if (!fits(img, at, 16)) return false;
        collect(at);
      }
    }
    return true;
  };
  walk(root, 0);
  return { timestamp: u32(d, root + 4), major: u16(d, root + 8), minor: u16(d, root + 10), leaves, versionStrings };
}

// ─────────────────────────── VS_VERSIONINFO ───────────────────────────

const align4 = (n: number): number => (n + 3) & ~3;

/** `strcmp_w(w, s) == 0` for an ASCII `s`: UTF-16LE `s` followed by a NUL unit. */
function keyIs(d: Uint8Array, p: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) if (d[p + 2 * i] !== s.charCodeAt(i) || d[p + 2 * i + 1] !== 0) return false;
  return d[p + 2 * s.length] === 0 && d[p + 2 * s.length + 1] === 0;
}

/**
 * Finds NUL units for YARA's `wide_string_fits_in_pe` (a NUL unit at an even distance from p inside
 * the file) and `strnlen_w`. One cached answer per parity makes repeated forward queries linear.
 */
class WideScanner {
  private readonly from = [-1, -1];
  private readonly at = [-1, -1];
  constructor(private readonly d: Uint8Array) {}

  /** Offset of the first NUL unit at p + 2k inside the data, or -1. */
  next(p: number): number {
    const d = this.d;
    if (!(p >= 0 && p < d.length)) return -1;
    const par = p & 1;
    const from = this.from[par]!;
    const at = this.at[par]!;
    if (from >= 0 && p >= from && (at < 0 || p <= at)) return at;
    let i = p;
    for (; i + 1 < d.length; i += 2) if (d[i] === 0 && d[i + 1] === 0) break;
    const found = i + 1 < d.length ? i : -1;
    this.from[par] = p;
    this.at[par] = found;
    return found;
  }
}

/** `strlcpy_w(dst, src, size)`: low bytes of the units, until a unit whose low byte is 0. */
function narrow(d: Uint8Array, p: number, size: number): Uint8Array {
  const out: number[] = [];
  for (let s = p; out.length < size - 1 && d[s] !== 0; s += 2) out.push(d[s]!);
  return Uint8Array.from(out);
}

function parseVersionInfo(img: PeImage, rva: number, out: VersionString[], state: { versionSteps: number }): void {
  const d = img.data;
  const w = new WideScanner(d);
  const wideFits = (_: Uint8Array, p: number): boolean => w.next(p) >= 0;
  const wideLen = (_: Uint8Array, p: number): number => (w.next(p) - p) / 2;
  const start = rvaToOffset(img, rva);
  if (start < 0 || !fits(img, start, 6)) return;
  if (!fits(img, start + 6, 32) || !keyIs(d, start + 6, 'VS_VERSION_INFO')) return;
  let vi = start + align4(6 + 86);
  const step = (): boolean => ++state.versionSteps <= MAX_VERSION_STEPS;
  while (fits(img, vi + 6, 24) && keyIs(d, vi + 6, 'VarFileInfo') && u16(d, vi) !== 0) {
    if (!step()) return;
    vi += align4(u16(d, vi));
  }
  while (fits(img, vi + 6, 30) && keyIs(d, vi + 6, 'StringFileInfo') && u16(d, vi) !== 0) {
    if (!step()) return;
    let table = vi + align4(6 + 30);
    vi += align4(u16(d, vi));
    while (fits(img, table, 6) && wideFits(d, table + 6) && u16(d, table) !== 0 && table < vi) {
      if (!step()) return;
      let str = table + align4(6 + 2 * (wideLen(d, table + 6) + 1));
      table += align4(u16(d, table));
      while (fits(img, str, 6) && wideFits(d, str + 6) && u16(d, str) !== 0 && str < table) {
        if (!step()) return;
        const value = str + align4(6 + 2 * (wideLen(d, str + 6) + 1));
        if (wideFits(d, value)) {
          const key = narrow(d, str + 6, 64);
          const val = u16(d, str + 2) === 0 ? new Uint8Array(0) : narrow(d, value, 256);
          out.push({ key, value: val });
        }
        str += align4(u16(d, str));
      }
    }
  }
}
