/**
 * Sample installers built by code, for the tests of this folder and the differential tests: no
 * tool makes these formats here.
 *
 * In: the files to carry. Out: the bytes of an old-format Symbian SIS package, of an
 * InstallShield MSI payload (to append to a setup PE), and of AutoIt EA05/EA06 data (entries
 * packed by AutoIt's LZSS or stored, encrypted; the EA06 script entry's tokens come from
 * `./autoit-fixtures.ts`).
 */
import { deflateSync } from 'node:zlib';
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
