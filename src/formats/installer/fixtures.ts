/**
 * Sample installers built by code, for the tests of this folder and the differential tests: no
 * tool makes these formats here.
 *
 * In: the files to carry. Out: the bytes of an old-format Symbian SIS package, of an
 * InstallShield MSI payload (to append to a setup PE), and of AutoIt EA05/EA06 data (entries
 * packed by AutoIt's LZSS or stored, encrypted; the EA06 script entry's tokens come from
 * `./autoit-fixtures.ts`).
 */
import { createHash } from 'node:crypto';
import { deflateRawSync, deflateSync } from 'node:zlib';
import { lameDecrypt, mtDecrypt } from './autoit.js';

export interface SampleFile { name: string; data: Uint8Array }

/**
 * An old-format SIS package (UID 0x10000419) with one language and one file record per file,
 * compressed with zlib unless `stored`.
 */
export function buildSis(files: readonly SampleFile[], opts: { stored?: boolean; langs?: number } = {}): Uint8Array {
  const langs = opts.langs ?? 1;
  const hdr = Buffer.alloc(84);
  hdr.writeUInt32LE(0x10003a12, 0);
  hdr.writeUInt32LE(0x1000006d, 4);
  hdr.writeUInt32LE(0x10000419, 8);
  hdr.writeUInt32LE(0x12345678, 12);
  hdr.writeUInt16LE(langs, 18);
  hdr.writeUInt16LE(files.length, 20);
  hdr.writeUInt16LE(files.length, 26);
  hdr.writeUInt32LE(0x64, 32);
  hdr.writeUInt16LE(opts.stored ? 8 : 0, 36);
  const plangs = 84;
  const pfiles = plangs + langs * 2;
  hdr.writeUInt32LE(plangs, 48);
  hdr.writeUInt32LE(pfiles, 52);
  const recordSize = 4 * (7 + 3 * langs) + 8;
  let dataAt = pfiles + recordSize * files.length;
  const records: Buffer[] = [];
  const blobs: Buffer[] = [];
  for (const f of files) {
    const name = Buffer.from(f.name, 'utf16le');
    const nameAt = dataAt;
    blobs.push(name);
    dataAt += name.length;
    const body = Buffer.from(opts.stored ? f.data : deflateSync(f.data));
    const r = Buffer.alloc(recordSize);
    let p = 0;
    for (const v of [0, 0, 0, name.length, nameAt, 0, 0]) { r.writeUInt32LE(v, p); p += 4; }
    const lens: number[] = [], ptrs: number[] = [], olens: number[] = [];
    for (let l = 0; l < langs; l++) {
      lens.push(body.length);
      ptrs.push(dataAt);
      olens.push(f.data.length);
    }
    blobs.push(body);
    dataAt += body.length;
    for (const v of [...lens, ...ptrs, ...olens]) { r.writeUInt32LE(v, p); p += 4; }
    records.push(r);
  }
  const langTable = Buffer.alloc(langs * 2);
  for (let l = 0; l < langs; l++) langTable.writeUInt16LE(l + 1, l * 2);
  return Buffer.concat([hdr, langTable, ...records, ...blobs]);
}

const SKEY = [0xec, 0xca, 0x79, 0xf8];

/** An InstallShield MSI payload: the `InstallShield` tag, its header and each file obfuscated and zlib-compressed. */
export function buildIshieldMsi(files: readonly SampleFile[]): Uint8Array {
  const head = Buffer.alloc(14 + 0x20);
  head.write('InstallShield\0', 0, 'latin1');
  head.writeUInt32LE(files.length, 14);
  const parts: Buffer[] = [head];
  for (const f of files) {
    const block = Buffer.alloc(312);
    block.write(f.name.slice(0, 259), 0, 'latin1');
    block.writeUInt32LE(6, 0x104);
    const z = deflateSync(f.data);
    block.writeBigUInt64LE(BigInt(z.length), 0x10c);
    block.writeUInt32LE(1, 0x118);
    const keyLen = Math.min(259, Buffer.byteLength(f.name, 'latin1'));
    const key = Buffer.alloc(keyLen);
    for (let i = 0; i < keyLen; i++) key[i] = block[i]! ^ SKEY[i & 3]!;
    const enc = Buffer.alloc(z.length);
    for (let i = 0; i < z.length; i++) {
      const c = z[i]! ^ key[(i & 0x3ff) % keyLen]!;
      enc[i] = ((c >> 4) | (c << 4)) & 0xff;
    }
    parts.push(block, enc);
  }
  return Buffer.concat(parts);
}

/** AutoIt's LZSS packing of `data` (greedy, 3-byte hash chains of one), with the flag value that starts a match. */
function autoitPack(data: Uint8Array, tag: string, matchBit: number): Uint8Array {
  const words: number[] = [];
  let acc = 0, n = 0;
  const put = (value: number, size: number): void => {
    for (let i = size - 1; i >= 0; i--) {
      acc = (acc << 1) | ((value >>> i) & 1);
      if (++n === 16) { words.push(acc); acc = 0; n = 0; }
    }
  };
  const last = new Map<number, number>();
  for (let p = 0; p < data.length;) {
    let len = 0, dist = 0;
    if (p + 3 <= data.length) {
      const key = (data[p]! << 16) | (data[p + 1]! << 8) | data[p + 2]!;
      const q = last.get(key);
      last.set(key, p);
      if (q !== undefined && p - q < 32768) {
        while (p + len < data.length && len < 600 && data[q + len] === data[p + len]) len++;
        dist = p - q;
      }
    }
    if (len >= 3) {
      put(matchBit, 1);
      put(dist, 15);
      let v = len - 3;
      if (v < 3) put(v, 2);
      else {
        put(3, 2); v -= 3;
        if (v < 7) put(v, 3);
        else {
          put(7, 3); v -= 7;
          if (v < 31) put(v, 5);
          else {
            put(31, 5); v -= 31;
            if (v < 255) put(v, 8);
            else {
              put(255, 8); v -= 255;
              while (v >= 255) { put(255, 8); v -= 255; }
              put(v, 8);
            }
          }
        }
      }
      p += len;
    } else {
      put(matchBit ^ 1, 1);
      put(data[p]!, 8);
      p++;
    }
  }
  if (n > 0) put(0, 16 - n);
  const out = Buffer.alloc(8 + words.length * 2);
  out.write(tag, 0, 'latin1');
  out.writeUInt32BE(data.length, 4);
  words.forEach((w, i) => out.writeUInt16BE(w, 8 + i * 2));
  return out;
}

/**
 * The AutoIt signature and data (EA05 or EA06) carrying `files`, to append to a PE; `stored` leaves
 * them unpacked. An entry's magic string is its own `magic`, else `opts.magic`, else `FILE` (EA06's
 * script entry: `>>>AUTOIT SCRIPT<<<`, with a token stream from `./autoit-fixtures.ts`).
 */
export function buildAutoit(files: readonly (SampleFile & { magic?: string; stored?: boolean })[], v6: boolean, opts: { stored?: boolean; magic?: string } = {}): Uint8Array {
  const sig = Buffer.concat([Buffer.from('a3484bbe986c4aa9994c530a86d6487d', 'hex'), Buffer.from(v6 ? 'AU3!EA06' : 'AU3!EA05', 'latin1')]);
  const head = Buffer.from('0123456789abcdef', 'latin1');
  let sum = 0;
  for (const b of head) sum += b;
  const parts: Buffer[] = [sig, head];
  const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0, 0); return b; };
  for (const f of files) {
    const magic = f.magic ?? opts.magic ?? 'FILE';
    const stored = f.stored ?? opts.stored ?? false;
    const packed = stored ? Buffer.from(f.data) : Buffer.from(autoitPack(f.data, v6 ? 'EA06' : 'EA05', v6 ? 0 : 1));
    if (v6) lameDecrypt(packed, 0x2477);
    else mtDecrypt(packed, 0x22af + sum);
    const str = (s: string, seed: number): Buffer => {
      const b = v6 ? Buffer.from(s, 'utf16le') : Buffer.from(s, 'latin1');
      if (v6) lameDecrypt(b, seed); else mtDecrypt(b, seed);
      return b;
    };
    const k = v6 ? { tag: 0x52ca436b, str: 0xadbc, ms: 0xb33f, name: 0xf820, ns: 0xf479, size: 0x87bc, sum: 0xa685 }
      : { tag: 0xceb06dff, str: 0x29bc, ms: 0xa25e, name: 0x29ac, ns: 0xf25e, size: 0x45aa, sum: 0xc3d2 };
    parts.push(u32(k.tag), u32(magic.length ^ k.str), str(magic, magic.length + k.ms), u32(f.name.length ^ k.name), str(f.name, f.name.length + k.ns),
      Buffer.from([stored ? 0 : 1]), u32(packed.length ^ k.size), u32(f.data.length ^ k.size), u32(0x1234 ^ k.sum), Buffer.alloc(16, 7), packed);
  }
  return Buffer.concat(parts);
}

/**
 * A small PE32 (two sections, 0x600 bytes: code at 0x200, data at 0x400) with `overlay` appended:
 * the layout ClamAV reads InstallShield records from (its overlay starts after the second section).
 * `oneSection` declares only the first section, `swapSections` lists the data section first:
 * ClamAV finds no overlay in either.
 */
export function buildSetupPe(overlay: Uint8Array, opts: { fill?: number; oneSection?: boolean; swapSections?: boolean } = {}): Uint8Array {
  const pe = Buffer.alloc(0x600, 0);
  pe.write('MZ', 0, 'latin1');
  pe.writeUInt32LE(0x40, 0x3c);
  pe.write('PE\0\0', 0x40, 'latin1');
  const fh = 0x44;
  pe.writeUInt16LE(0x14c, fh);
  pe.writeUInt16LE(opts.oneSection ? 1 : 2, fh + 2);
  pe.writeUInt16LE(0xe0, fh + 16);
  pe.writeUInt16LE(0x0102, fh + 18);
  const oh = fh + 20;
  pe.writeUInt16LE(0x10b, oh);
  pe.writeUInt32LE(0x200, oh + 4); // SizeOfCode
  pe.writeUInt32LE(0x1000, oh + 16); // AddressOfEntryPoint
  pe.writeUInt32LE(0x1000, oh + 20); // BaseOfCode
  pe.writeUInt32LE(0x400000, oh + 28); // ImageBase
  pe.writeUInt32LE(0x1000, oh + 32); // SectionAlignment
  pe.writeUInt32LE(0x200, oh + 36); // FileAlignment
  pe.writeUInt16LE(4, oh + 40);
  pe.writeUInt16LE(4, oh + 48);
  pe.writeUInt32LE(0x3000, oh + 56); // SizeOfImage
  pe.writeUInt32LE(0x200, oh + 60); // SizeOfHeaders
  pe.writeUInt16LE(2, oh + 68); // GUI
  pe.writeUInt32LE(0x100000, oh + 72);
  pe.writeUInt32LE(0x1000, oh + 76);
  pe.writeUInt32LE(0x100000, oh + 80);
  pe.writeUInt32LE(0x1000, oh + 84);
  pe.writeUInt32LE(16, oh + 92);
  const sections: [string, number, number, number][] = [['.text', 0x1000, 0x200, 0x60000020], ['.data', 0x2000, 0x400, 0xc0000040]];
  // The section reaching furthest in memory first in the table: ClamAV then sets no overlay.
  if (opts.swapSections) sections.reverse();
  sections.forEach(([name, va, raw, chr], i) => {
    const at = oh + 0xe0 + 40 * i;
    pe.write(name, at, 'latin1');
    pe.writeUInt32LE(0x200, at + 8);
    pe.writeUInt32LE(va, at + 12);
    pe.writeUInt32LE(0x200, at + 16);
    pe.writeUInt32LE(raw, at + 20);
    pe.writeUInt32LE(chr, at + 36);
  });
  // The entry: push ebp; mov ebp, esp; xor eax, eax; pop ebp; ret, then padding.
  Buffer.from('5589e531c05dc3', 'hex').copy(pe, 0x200);
  pe.fill(opts.fill ?? 0x90, 0x207, 0x400);
  pe.write('setup data section', 0x400, 'latin1');
  return Buffer.concat([pe, overlay]);
}

/** One record of an InstallShield overlay: four strings (name, path, version, size) and the data. */
export interface IsRecord { name: string; path?: string; version?: string; size?: string; data: Uint8Array }

/** The overlay records: each `name\0path\0version\0size\0` then its bytes. */
export function buildIsOverlay(records: readonly IsRecord[]): Uint8Array {
  const parts: Buffer[] = [];
  for (const r of records) {
    parts.push(Buffer.from(`${r.name}\0${r.path ?? 'Disk1'}\0${r.version ?? '1.0.0.0'}\0${r.size ?? String(r.data.length)}\0`, 'latin1'), Buffer.from(r.data));
  }
  return Buffer.concat(parts);
}

/** A file an InstallShield cabinet carries, and how its descriptor in `data1.hdr` describes it. */
export interface IsCabFile {
  name: string;
  dir?: string;
  data: Uint8Array;
  /** The cabinet (`dataN.cab`) holding it; 1 by default. */
  cab?: number;
  /** Descriptor flags: 4 (internal, the default), 0 (external) or anything else. */
  flags?: number;
  /** The duplicate flags (bit 0: has a previous copy, not extracted). */
  dup?: number;
  /** Bytes of input per chunk (each chunk its own raw deflate stream); 0x8000 by default. */
  chunk?: number;
  /** The declared size, when not the data's. */
  size?: number;
}

/**
 * `data1.hdr` and the `dataN.cab` files for `files`: the header's file descriptors point into the
 * cabinets, where each file is a run of chunks (a 16-bit length, then raw deflate).
 */
export function buildIsCabinets(files: readonly IsCabFile[]): { hdr: Uint8Array; cabs: Map<number, Uint8Array> } {
  const dataOff = 0x200;
  const dirsOff = 0x100;
  const dirs = [...new Set(files.map((f) => f.dir ?? 'INSTALLDIR'))];
  // The directory region: one relative pointer per directory, then the names.
  const dirPtrs = Buffer.alloc(4 * dirs.length);
  const dirNames: Buffer[] = [];
  let at = dirPtrs.length;
  dirs.forEach((d, i) => {
    dirPtrs.writeUInt32LE(at, 4 * i);
    const b = Buffer.from(`${d}\0`, 'latin1');
    dirNames.push(b);
    at += b.length;
  });
  const dirRegion = Buffer.concat([dirPtrs, ...dirNames]);
  const tableRel = dirRegion.length; // files follow the directories (relative to the directory base)
  const namesRel = tableRel + 87 * files.length;
  const names: Buffer[] = [];
  let nameAt = namesRel;
  const cabParts = new Map<number, Buffer[]>();
  const cabSize = new Map<number, number>();
  const table = Buffer.alloc(87 * files.length);
  files.forEach((f, i) => {
    const cab = f.cab ?? 1;
    const step = f.chunk ?? 0x8000;
    const chunks: Buffer[] = [];
    for (let p = 0; p < f.data.length || (p === 0 && chunks.length === 0); p += step) {
      const z = deflateRawSync(f.data.subarray(p, p + step));
      const len = Buffer.alloc(2);
      len.writeUInt16LE(z.length, 0);
      chunks.push(len, z);
      if (f.data.length === 0) break;
    }
    const stream = Buffer.concat(chunks);
    const offset = cabSize.get(cab) ?? 4; // after the cabinet's 4-byte tag
    cabParts.set(cab, [...(cabParts.get(cab) ?? []), stream]);
    cabSize.set(cab, offset + stream.length);
    const d = 87 * i;
    table.writeUInt16LE(f.flags ?? 4, d);
    table.writeBigUInt64LE(BigInt(f.size ?? f.data.length), d + 2);
    table.writeBigUInt64LE(BigInt(stream.length), d + 10);
    table.writeBigUInt64LE(BigInt(offset), d + 18);
    createHash('md5').update(f.data).digest().copy(table, d + 26);
    table.writeUInt32LE(nameAt, d + 58);
    table.writeUInt16LE(dirs.indexOf(f.dir ?? 'INSTALLDIR'), d + 62);
    table[d + 84] = f.dup ?? 0;
    table.writeUInt16LE(cab, d + 85);
    const n = Buffer.from(`${f.name}\0`, 'latin1');
    names.push(n);
    nameAt += n.length;
  });
  const head = Buffer.alloc(dataOff + dirsOff);
  head.writeUInt32LE(0x28635349, 0);
  head.writeUInt32LE(0x00050000, 4);
  head.writeUInt32LE(dataOff, 12);
  const objs = dataOff;
  head.writeUInt32LE(dirsOff, objs + 12);
  head.writeUInt32LE(dirs.length, objs + 28);
  head.writeUInt32LE(4 * dirs.length, objs + 36);
  head.writeUInt32LE(files.length, objs + 40);
  head.writeUInt32LE(dirRegion.length, objs + 44);
  const hdr = Buffer.concat([head, dirRegion, table, ...names]);
  const cabs = new Map<number, Uint8Array>();
  for (const [n, parts] of cabParts) cabs.set(n, Buffer.concat([Buffer.from('ISc(', 'latin1'), ...parts]));
  return { hdr, cabs };
}

/** A file of a Symbian 9 package: zlib-compressed unless `stored`; `usize` overrides the declared size. */
export interface Sis9File { data: Uint8Array; stored?: boolean; usize?: number }

const pad4 = (b: Buffer): Buffer => (b.length % 4 ? Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]) : b);
const le32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0, 0); return b; };
const sisField = (type: number, body: Buffer): Buffer => Buffer.concat([le32(type), le32(body.length), pad4(body)]);
const sisArray = (type: number, elements: readonly Buffer[]): Buffer =>
  sisField(2, Buffer.concat([le32(type), ...elements.map((e) => Buffer.concat([le32(e.length), pad4(e)]))]));
const sisCompressed = (data: Uint8Array, stored: boolean, usize = data.length): Buffer => {
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(usize), 0);
  return sisField(3, Buffer.concat([le32(stored ? 0 : 1), size, stored ? Buffer.from(data) : deflateSync(data)]));
};

/**
 * A Symbian 9 package (first UID 0x10201A7A): the UIDs (with the old format's UID 0x10000419 in
 * the checksum word when `clamavTyped`, which is where ClamAV's type table looks), then Contents:
 * optional checksums, the compressed controller and the data units, each an array of files.
 */
export function buildSis9(units: readonly (readonly Sis9File[])[], opts: { checksums?: boolean; clamavTyped?: boolean } = {}): Uint8Array {
  const uids = Buffer.concat([le32(0x10201a7a), le32(0), le32(0x2000aaaa), le32(opts.clamavTyped === false ? 0x12345678 : 0x10000419)]);
  const controller = sisCompressed(Buffer.from('controller: package info, languages, install block'), false);
  const data = sisField(30, sisArray(31, units.map((files) => sisArray(32, files.map((f) => sisCompressed(f.data, !!f.stored, f.usize))))));
  const sums = opts.checksums ? [sisField(34, Buffer.from([0x12, 0x34])), sisField(35, Buffer.from([0x56, 0x78]))] : [];
  return Buffer.concat([uids, sisField(12, Buffer.concat([...sums, controller, data]))]);
}
