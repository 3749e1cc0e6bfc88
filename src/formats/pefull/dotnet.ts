/**
 * .NET (CLI) assemblies as YARA 4.2.3's `dotnet` module reads them: the CLI header (data
 * directory 14), the metadata root (`BSJB`, version string), the stream headers, and the #GUID and
 * #US heaps.
 *
 * In: a `PeImage`. Out: `DotnetInfo` — `isDotnet` false for a PE YARA does not take for .NET (no
 * CLI header of 72 bytes, no `BSJB` metadata with a version length of 1–255 that is a multiple of
 * 4, or, for a PE32 EXE, an entry point not starting with `FF 25`); otherwise the version (up to
 * its first NUL), every stream header that fits (name up to 32 bytes with a NUL among them,
 * offset = metadata root + stream offset), the GUIDs of the first 256 bytes of #GUID, and the
 * non-empty #US strings (raw UTF-16LE bytes). YARA reads the stream count from one byte only; so
 * does this reader.
 *
 * The #~ (or #-) tables, when #Strings and #Blob exist too, are walked as YARA walks them
 * (`dotnet_parse_tilde_2`): row sizes from its own table of column widths (coded-index widths from
 * the row counts it records), a table of more than 10000 rows or of a kind it does not know (such
 * as ParamPtr) ends the walk, and a Module or Assembly row that does not fit leaves the position
 * where it is. From them: module name, assembly (version, name, culture), assembly references,
 * manifest resources (offset, length, name), module references, string constants, field RVAs as
 * file offsets, and the type library GUID (a GuidAttribute custom attribute on the assembly).
 */
import { dataDirectory, fits, rvaToOffset, u16, u32, type PeImage } from './image.js';

export interface DotnetStream {
  readonly name: Uint8Array;
  readonly offset: number;
  readonly size: number;
}

export interface DotnetVersion { major: number; minor: number; build: number; revision: number }

export interface DotnetTables {
  moduleName?: Uint8Array;
  assembly?: { version: DotnetVersion; name?: Uint8Array; culture?: Uint8Array };
  assemblyRefs?: { version: DotnetVersion; publicKeyOrToken?: Uint8Array; name?: Uint8Array }[];
  resources?: { offset: number; length: number; name?: Uint8Array }[];
  moduleRefs?: Uint8Array[];
  constants?: Uint8Array[];
  fieldOffsets?: number[];
  typelib?: Uint8Array;
}

export interface DotnetInfo {
  readonly isDotnet: boolean;
  readonly tables?: DotnetTables;
  readonly version?: Uint8Array;
  readonly streams?: readonly DotnetStream[];
  readonly guids?: readonly string[];
  readonly userStrings?: readonly Uint8Array[];
}

const CLI_HEADER_SIZE = 72;
const METADATA_MAGIC = 0x424a5342;

/** YARA's `dotnet_is_dotnet`: the metadata root offset, or -1. */
function metadataRoot(img: PeImage): number {
  const dir = dataDirectory(img, 14);
  if (!dir) return -1;
  const cli = rvaToOffset(img, dir.virtualAddress);
  if (cli < 0 || !fits(img, cli, CLI_HEADER_SIZE)) return -1;
  const d = img.data;
  if (u32(d, cli) !== CLI_HEADER_SIZE) return -1;
  const root = rvaToOffset(img, u32(d, cli + 8));
  if (!fits(img, root, 16) || u32(d, root) !== METADATA_MAGIC) return -1;
  const mdLen = u32(d, root + 12);
  if (mdLen === 0 || mdLen > 255 || mdLen % 4 !== 0 || !fits(img, root + 16, mdLen)) return -1;
  if (img.pe64) {
    if (img.numberOfRvaAndSizes < 14) return -1;
  } else if (!(img.characteristics & 0x2000)) {
    const ep = rvaToOffset(img, img.addressOfEntryPoint);
    if (ep < 0 || !fits(img, ep, 2) || d[ep] !== 0xff || d[ep + 1] !== 0x25) return -1;
  }
  return root;
}

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');

function startsWith(name: Uint8Array, s: string): boolean {
  if (name.length < s.length) return false;
  for (let i = 0; i < s.length; i++) if (name[i] !== s.charCodeAt(i)) return false;
  return true;
}

/** A #US / #Blob entry header at `off`: [header size, data length] (size 0 on error). */
function blobEntry(img: PeImage, off: number): [number, number] {
  const d = img.data;
  if (!fits(img, off, 1)) return [0, 0];
  const b = d[off]!;
  let size: number;
  let length: number;
  if ((b & 0x80) === 0) {
    length = b;
    size = 1;
  } else if ((b & 0xc0) === 0x80) {
    if (!fits(img, off, 2)) return [0, 0];
    length = ((b & 0x3f) << 8) | d[off + 1]!;
    size = 2;
  } else if (off + 4 < img.size && (b & 0xe0) === 0xc0) {
    if (!fits(img, off, 4)) return [0, 0];
    length = (b & 0x1f) * 0x1000000 + ((d[off + 1]! << 16) | (d[off + 2]! << 8) | d[off + 3]!);
    size = 4;
  } else {
    return [0, 0];
  }
  if (length > 0) length--;
  return [size, length];
}

export function parseDotnet(img: PeImage): DotnetInfo {
  const root = metadataRoot(img);
  if (root < 0) return { isDotnet: false };
  const d = img.data;
  const mdLen = u32(d, root + 12);
  const ver = d.subarray(root + 16, root + 16 + mdLen);
  const nul = ver.indexOf(0);
  const version = nul >= 0 ? ver.subarray(0, nul) : undefined;
  let off = root + 16 + mdLen + 2;
  if (!fits(img, off, 2)) return { isDotnet: true, ...(version ? { version } : {}) };
  const count = d[off]!; // YARA reads one byte of the 16-bit count
  off += 2;
  const streams: DotnetStream[] = [];
  let guid: [number, number] | undefined;
  let us: [number, number] | undefined;
  let tilde: [number, number] | undefined;
  let strings: [number, number] | undefined;
  let blob: [number, number] | undefined;
  for (let i = 0; i < count; i++) {
    if (!fits(img, off, 8) || !fits(img, off + 8, 32)) break;
    const nameArea = d.subarray(off + 8, off + 40);
    const z = nameArea.indexOf(0);
    if (z < 0) break;
    const name = nameArea.subarray(0, z);
    const sOff = u32(d, off);
    const sSize = u32(d, off + 4);
    streams.push({ name, offset: root + sOff, size: sSize });
    if ((startsWith(name, '#~') || startsWith(name, '#-')) && !tilde) tilde = [sOff, sSize];
    else if (startsWith(name, '#GUID')) guid = [sOff, sSize];
    else if (startsWith(name, '#Strings') && !strings) strings = [sOff, sSize];
    else if (startsWith(name, '#Blob')) blob = [sOff, sSize];
    else if (startsWith(name, '#US') && !us) us = [sOff, sSize];
    off += 8 + z + 4 - (z % 4);
  }

  const guids: string[] = [];
  if (guid) {
    let g = root + guid[0];
    let size = Math.min(guid[1], 256);
    while (size >= 16 && fits(img, g, 16)) {
      guids.push(`${hex(u32(d, g), 8)}-${hex(u16(d, g + 4), 4)}-${hex(u16(d, g + 6), 4)}-${hex(d[g + 8]!, 2)}${hex(d[g + 9]!, 2)}-${[10, 11, 12, 13, 14, 15].map((k) => hex(d[g + k]!, 2)).join('')}`);
      size -= 16;
      g += 16;
    }
  }

  let tables: DotnetTables | undefined;
  if (tilde && strings && blob) {
    const cli = rvaToOffset(img, dataDirectory(img, 14)!.virtualAddress);
    tables = parseTables(img, root, cli, root + tilde[0], root + strings[0], root + blob[0]);
  }

  let userStrings: Uint8Array[] | undefined;
  if (us) {
    let p = root + us[0];
    const end = p + us[1];
    if (us[1] !== 0 && fits(img, p, us[1]) && d[p] === 0) {
      userStrings = [];
      p++;
      while (p < end) {
        const [size, length] = blobEntry(img, p);
        if (size === 0) break;
        p += size;
        if (length > 0 && fits(img, p, length)) {
          userStrings.push(d.subarray(p, p + length));
          p += length;
        }
      }
    }
  }

  return {
    isDotnet: true,
    ...(version ? { version } : {}),
    ...(tables ? { tables } : {}),
    streams,
    ...(guid ? { guids } : {}),
    ...(userStrings ? { userStrings } : {}),
  };
}

// ─────────────────────────── #~ tables ───────────────────────────

/** Row counts YARA records in its first pass (by table bit). */
const COUNTED: Readonly<Record<number, string>> = {
  0x00: 'module', 0x1a: 'moduleref', 0x23: 'assemblyref', 0x24: 'assemblyrefprocessor', 0x01: 'typeref', 0x06: 'methoddef',
  0x0a: 'memberref', 0x02: 'typedef', 0x1b: 'typespec', 0x04: 'field', 0x08: 'param', 0x17: 'property', 0x09: 'interfaceimpl',
  0x14: 'event', 0x11: 'standalonesig', 0x20: 'assembly', 0x26: 'file', 0x27: 'exportedtype', 0x28: 'manifestresource',
  0x2a: 'genericparam', 0x2c: 'genericparamconstraint', 0x2b: 'methodspec',
};
/** Tables whose simple index widens to 4 bytes past 0xffff rows. */
const WIDENED = new Set(['moduleref', 'assemblyref', 'assemblyrefprocessor', 'methoddef', 'memberref', 'typedef', 'field', 'param', 'property', 'event', 'genericparam']);

/** YARA's `pe_get_dotnet_string`: a NUL-terminated string of at most 1024 bytes inside the file. */
function dotnetString(d: Uint8Array, heap: number, index: number): Uint8Array | undefined {
  const start = heap + index;
  if (!(start >= 0 && start < d.length)) return undefined;
  const z = d.indexOf(0, start);
  if (z < 0 || z - start > 1024) return undefined;
  return d.subarray(start, z);
}

function parseTables(img: PeImage, root: number, cli: number, th: number, stringHeap: number, blobHeap: number): DotnetTables | undefined {
  const d = img.data;
  if (!fits(img, th, 24)) return undefined;
  const heapSizes = d[th + 6]!;
  const validLo = u32(d, th + 8);
  const validHi = u32(d, th + 12);
  const valid = (bit: number): boolean => ((bit < 32 ? validLo >>> bit : validHi >>> (bit - 32)) & 1) === 1;
  const idx: Record<string, number> = { string: heapSizes & 1 ? 4 : 2, guid: heapSizes & 2 ? 4 : 2, blob: heapSizes & 4 ? 4 : 2 };
  const size = (k: string): number => idx[k] ?? 2;
  const rows: Record<string, number> = {};
  const row = (k: string): number => rows[k] ?? 0;
  const rowsAt = th + 24;
  let matched = 0;
  for (let bit = 0; bit < 64; bit++) {
    if (!valid(bit)) continue;
    const name = COUNTED[bit];
    if (name && fits(img, rowsAt, (matched + 1) * 4)) {
      rows[name] = u32(d, rowsAt + 4 * matched);
      if (WIDENED.has(name) && rows[name]! > 0xffff) idx[name] = 4;
    }
    matched++;
  }
  const resourceBase = rvaToOffset(img, u32(d, cli + 24));
  const out: DotnetTables = {};
  const rd = (at: number, n: number): number => (n === 4 ? u32(d, at) : u16(d, at));
  const str = (at: number): Uint8Array | undefined => dotnetString(d, stringHeap, rd(at, size('string')));
  const coded = (bits: number, ...tables: string[]): number => (Math.max(...tables.map(row)) > 0xffff >> bits ? 4 : 2);

  let validRows = 0;
  for (let bit = 0; bit < 64; bit++) if (valid(bit)) validRows++;
  let t = rowsAt + 4 * validRows;
  matched = 0;
  let typerefPtr = -1;
  let typerefRowSize = 0;
  let memberrefPtr = -1;
  let memberrefRowSize = 0;
  for (let bit = 0; bit < 64; bit++) {
    if (!valid(bit)) continue;
    if (!fits(img, rowsAt + 4 * matched, 4)) return out;
    const n = u32(d, rowsAt + 4 * matched);
    if (n > 10000) return out;
    switch (bit) {
      case 0x00: {
        if (!fits(img, t, 18)) break;
        const name = str(t + 2);
        if (name) out.moduleName = name;
        t += (2 + size('string') + size('guid') * 3) * n;
        break;
      }
      case 0x01:
        typerefRowSize = coded(2, 'module', 'moduleref', 'assemblyref', 'typeref') + size('string') * 2;
        typerefPtr = t;
        t += typerefRowSize * n;
        break;
      case 0x02:
        t += (4 + size('string') * 2 + coded(2, 'typedef', 'typeref', 'typespec') + size('field') + size('methoddef')) * n;
        break;
      case 0x03: t += size('field') * n; break;
      case 0x04: t += (2 + size('string') + size('blob')) * n; break;
      case 0x05: t += size('methoddef') * n; break;
      case 0x06: t += (8 + size('string') + size('blob') + size('param')) * n; break;
      case 0x08: t += (4 + size('string')) * n; break;
      case 0x09: t += (size('typedef') + coded(2, 'typedef', 'typeref', 'typespec')) * n; break;
      case 0x0a:
        memberrefRowSize = coded(3, 'methoddef', 'moduleref', 'typeref', 'typespec') + size('string') + size('blob');
        memberrefPtr = t;
        t += memberrefRowSize * n;
        break;
      case 0x0b: {
        const is = coded(2, 'param', 'field', 'property');
        const rs = 2 + is + size('blob');
        const constants: Uint8Array[] = [];
        for (let i = 0, r = t; i < n; i++, r += rs) {
          if (!fits(img, r, rs)) break;
          if (d[r] !== 0x0e) continue;
          const bo = blobHeap + rd(r + 2 + is, size('blob'));
          const [hs, len] = blobEntry(img, bo);
          if (hs === 0) continue;
          if (bo + hs + len >= img.size) continue;
          constants.push(d.subarray(bo + hs, bo + hs + len));
        }
        out.constants = constants;
        t += rs * n;
        break;
      }
      case 0x0c: {
        const is = coded(5, 'methoddef', 'field', 'typeref', 'typedef', 'param', 'interfaceimpl', 'memberref', 'module', 'property', 'event',
          'standalonesig', 'moduleref', 'typespec', 'assembly', 'assemblyref', 'file', 'exportedtype', 'manifestresource', 'genericparam',
          'genericparamconstraint', 'methodspec');
        const is2 = coded(3, 'methoddef', 'memberref');
        const rs = is + is2 + size('blob');
        if (typerefPtr >= 0 && memberrefPtr >= 0) {
          for (let i = 0, r = t; i < n; i++, r += rs) {
            if (!fits(img, r, rs)) break;
            if ((rd(r, is) & 0x1f) !== 0x0e) continue;
            const ty = rd(r + is, is2);
            if ((ty & 7) !== 3) continue;
            let typeIndex = ty >>> 3;
            if (typeIndex > 0) typeIndex--;
            const mr = memberrefPtr + memberrefRowSize * typeIndex;
            if (!fits(img, mr, memberrefRowSize)) break;
            const cls = rd(mr, size('memberref'));
            if ((cls & 7) !== 1) continue;
            let classIndex = cls >>> 3;
            if (classIndex > 0) classIndex--;
            const tr = typerefPtr + typerefRowSize * classIndex;
            if (!fits(img, tr, typerefRowSize)) break;
            const nameAt = tr + coded(2, 'module', 'moduleref', 'assemblyref', 'typeref');
            const name = dotnetString(d, stringHeap, rd(nameAt, size('string')));
            // strncmp(name, "GuidAttribute", 13): an unreadable name does not stop the row.
            if (name && !startsWith(name, 'GuidAttribute')) continue;
            const blobIndex = rd(r + is + is2, size('blob'));
            let bo = blobHeap + blobIndex;
            if (blobIndex === 0 || bo >= img.size) continue;
            const [hs, len] = blobEntry(img, bo);
            if (hs === 0) continue;
            bo += hs;
            if (len < 3 || bo + len >= img.size) continue;
            if (u16(d, bo) !== 1) continue;
            bo += 2;
            const strLen = d[bo]!;
            bo += 1;
            if (bo + strLen > img.size) continue;
            if (d[bo] === 0xff || d[bo] === 0) out.typelib = new Uint8Array(0);
            else {
              const raw = d.subarray(bo, bo + strLen);
              const z = raw.indexOf(0);
              out.typelib = z < 0 ? raw : raw.subarray(0, z);
            }
          }
        }
        t += rs * n;
        break;
      }
      case 0x0d: t += (coded(1, 'field', 'param') + size('blob')) * n; break;
      case 0x0e: t += (2 + coded(2, 'typedef', 'methoddef', 'assembly') + size('blob')) * n; break;
      case 0x0f: t += (6 + size('typedef')) * n; break;
      case 0x10: t += (4 + size('field')) * n; break;
      case 0x11: t += size('blob') * n; break;
      case 0x12: t += (size('typedef') + size('event')) * n; break;
      case 0x13: t += size('event') * n; break;
      case 0x14: t += (2 + size('string') + coded(2, 'typedef', 'typeref', 'typespec')) * n; break;
      case 0x15: t += (size('typedef') + size('property')) * n; break;
      case 0x16: t += size('property') * n; break;
      case 0x17: t += (2 + size('string') + size('blob')) * n; break;
      case 0x18: t += (2 + size('methoddef') + coded(1, 'event', 'property')) * n; break;
      case 0x19: t += (size('typedef') + coded(1, 'methoddef', 'memberref') * 2) * n; break;
      case 0x1a: {
        const refs: Uint8Array[] = [];
        for (let i = 0, r = t; i < n; i++, r += size('string')) {
          if (!fits(img, r, 4)) break;
          const name = str(r);
          if (name) refs.push(name);
        }
        out.moduleRefs = refs;
        t += size('string') * n;
        break;
      }
      case 0x1b: t += size('blob') * n; break;
      case 0x1c: t += (2 + coded(1, 'field', 'methoddef') + size('string') + size('moduleref')) * n; break;
      case 0x1d: {
        const rs = 4 + size('field');
        const offsets: number[] = [];
        for (let i = 0, r = t; i < n; i++, r += rs) {
          if (!fits(img, r, 8)) break;
          const o = rvaToOffset(img, u32(d, r));
          if (o >= 0) offsets.push(o);
        }
        out.fieldOffsets = offsets;
        t += rs * n;
        break;
      }
      case 0x1e: t += 8 * n; break;
      case 0x1f: t += 4 * n; break;
      case 0x20: {
        const rs = 16 + size('blob') + size('string') * 2;
        if (!fits(img, t, rs)) break;
        const version = { major: u16(d, t + 4), minor: u16(d, t + 6), build: u16(d, t + 8), revision: u16(d, t + 10) };
        const name = str(t + 16 + size('blob'));
        const culture = str(t + 16 + size('blob') + size('string'));
        out.assembly = { version, ...(name ? { name } : {}), ...(culture && culture.length > 0 ? { culture } : {}) };
        t += rs * n;
        break;
      }
      case 0x21: t += 4 * n; break;
      case 0x22: t += 12 * n; break;
      case 0x23: {
        const rs = 12 + size('blob') * 2 + size('string') * 2;
        const refs: NonNullable<DotnetTables['assemblyRefs']> = [];
        let i = 0;
        for (let r = t; i < n; i++, r += rs) {
          if (!fits(img, r, rs)) break;
          const ref: NonNullable<DotnetTables['assemblyRefs']>[number] = {
            version: { major: u16(d, r), minor: u16(d, r + 2), build: u16(d, r + 4), revision: u16(d, r + 6) },
          };
          refs.push(ref);
          let bo = blobHeap + rd(r + 12, size('blob'));
          const [hs, len] = blobEntry(img, bo);
          bo += hs;
          if (hs === 0 || !fits(img, bo, len)) continue;
          if (len > 0) ref.publicKeyOrToken = d.subarray(bo, bo + len);
          const name = str(r + 12 + size('blob'));
          if (name) ref.name = name;
        }
        out.assemblyRefs = refs;
        t += rs * n;
        break;
      }
      case 0x24: t += (4 + size('assemblyrefprocessor')) * n; break;
      case 0x25: t += (12 + size('assemblyref')) * n; break;
      case 0x26: t += (4 + size('string') + size('blob')) * n; break;
      case 0x27: t += (8 + size('string') * 2 + coded(2, 'file', 'assemblyref', 'exportedtype')) * n; break;
      case 0x28: {
        const is = coded(2, 'file', 'assemblyref');
        const rs = 8 + size('string') + is;
        const res: NonNullable<DotnetTables['resources']> = [];
        for (let i = 0, r = t; i < n; i++, r += rs) {
          if (!fits(img, r, rs)) break;
          if (rd(r + 8 + size('string'), is) !== 0) continue;
          const at = resourceBase + u32(d, r);
          if (!fits(img, at, 4)) continue;
          const length = u32(d, at);
          if (!fits(img, at, length)) continue;
          const name = str(r + 8);
          res.push({ offset: at + 4, length, ...(name ? { name } : {}) });
        }
        out.resources = res;
        t += rs * n;
        break;
      }
      case 0x29: t += size('typedef') * 2 * n; break;
      case 0x2a: t += (4 + coded(1, 'typedef', 'methoddef') + size('string')) * n; break;
      case 0x2b: t += (coded(1, 'methoddef', 'memberref') + size('blob')) * n; break;
      case 0x2c: t += (size('genericparam') + coded(2, 'typedef', 'typeref', 'typespec')) * n; break;
      default:
        return out;
    }
    matched++;
  }
  return out;
}
