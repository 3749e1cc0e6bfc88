/**
 * The PE export directory as YARA 4.2.3 reads it (`pe_parse_exports`), with yara 4.5's per-export
 * RVA added.
 *
 * In: a `PeImage`. Out: `ExportTable` (undefined fields stay undefined as in YARA): the export
 * timestamp and DLL name as soon as the directory header fits, and the export entries only when
 * every array (functions, name ordinals, names) lies inside the file; otherwise no entries.
 * Each entry: ordinal = Base + index (32-bit wrap), the function's file offset (-1 when it maps
 * nowhere) or, for an RVA inside the export directory, the forwarder string; the name is that of
 * the first name slot below min(NumberOfNames, count) whose ordinal equals the index.
 *
 * Bounded: at most 8192 entries (YARA's MAX_PE_EXPORTS), names at most 512 bytes; names are found
 * through a map, not YARA's quadratic scan, with the same result.
 */
import { dataDirectory, fits, rvaToOffset, u16, u32, type PeImage } from './image.js';

export const MAX_PE_EXPORTS = 8192;
const MAX_EXPORT_NAME_LENGTH = 512;

export interface ExportEntry {
  readonly ordinal: number;
  /** AddressOfFunctions[i] (yara 4.5 `export_details[i].rva`). */
  readonly rva: number;
  /** File offset of the function, or -1; absent for forwarders. */
  readonly offset?: number;
  readonly forwardName?: Uint8Array;
  readonly name?: Uint8Array;
}

export interface ExportTable {
  readonly timestamp?: number;
  readonly dllName?: Uint8Array;
  readonly entries: readonly ExportEntry[];
}

function strn(d: Uint8Array, off: number, max: number): Uint8Array {
  const end = Math.min(d.length, off + max);
  let i = off;
  while (i < end && d[i] !== 0) i++;
  return d.subarray(off, i);
}

export function parseExports(img: PeImage): ExportTable {
  const none: ExportTable = { entries: [] };
  const dir = dataDirectory(img, 0);
  if (!dir || dir.virtualAddress === 0) return none;
  const start = rvaToOffset(img, dir.virtualAddress);
  if (start < 0) return none;
  const exportSize = dir.size;
  const d = img.data;
  if (!fits(img, start, 40)) return none;
  const count = Math.min(u32(d, start + 20), MAX_PE_EXPORTS);
  const base = u32(d, start + 16);
  const timestamp = u32(d, start + 4);
  let offset = rvaToOffset(img, u32(d, start + 12));
  let dllName: Uint8Array | undefined;
  if (offset > 0) dllName = strn(d, offset, Infinity);
  const head: ExportTable = { timestamp, ...(dllName ? { dllName } : {}), entries: [] };
  // size_t arithmetic: data_size - (-1) is data_size + 1.
  if (count * 4 > img.size - offset) return head;
  const numberOfNames = u32(d, start + 24);
  let names = -1;
  if (numberOfNames > 0) {
    offset = rvaToOffset(img, u32(d, start + 32));
    if (offset < 0) return head;
    if (numberOfNames * 4 > img.size - offset) return head;
    names = offset;
  }
  const ordinals = rvaToOffset(img, u32(d, start + 36));
  if (ordinals < 0) return head;
  if (img.size - ordinals < 2 * count) return head;
  const functions = rvaToOffset(img, u32(d, start + 28));
  if (functions < 0) return head;
  if (img.size - functions < 4 * count) return head;
  const nNames = Math.min(numberOfNames, count);

  // For each function index, the first name slot j < nNames whose ordinal is that index.
  const nameSlot = new Map<number, number>();
  if (names >= 0) {
    for (let j = 0; j < nNames; j++) {
      const o = u16(d, ordinals + 2 * j);
      if (!nameSlot.has(o)) nameSlot.set(o, j);
    }
  }
  const entries: ExportEntry[] = [];
  for (let i = 0; i < count; i++) {
    const rva = u32(d, functions + 4 * i);
    const off = rvaToOffset(img, rva);
    let forwardName: Uint8Array | undefined;
    let fnOffset: number | undefined;
    if (off > start && off < start + exportSize) forwardName = strn(d, off, MAX_EXPORT_NAME_LENGTH);
    else fnOffset = off;
    let name: Uint8Array | undefined;
    const j = nameSlot.get(i);
    if (j !== undefined) {
      const no = rvaToOffset(img, u32(d, names + 4 * j));
      if (no > 0) name = strn(d, no, MAX_EXPORT_NAME_LENGTH);
    }
    entries.push({
      ordinal: (base + i) % 0x100000000,
      rva,
      ...(fnOffset !== undefined ? { offset: fnOffset } : {}),
      ...(forwardName ? { forwardName } : {}),
      ...(name ? { name } : {}),
    });
  }
  return { ...head, entries };
}
