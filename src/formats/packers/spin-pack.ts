/**
 * A PESpin 1.1-style protector for tests: sections → a PE32 that ClamAV 1.4 unpacks.
 *
 * In: the original sections, which of them to compress (FSG's coder), XOR and run through the
 * second decryptor, and a random generator. Out: the PE: the sections so transformed, then a
 * loader section whose entry carries the bytes ClamAV checks and, encrypted as ClamAV undoes it
 * (byte key, two shift-register keys, a decryptor of yC's instruction set), the constants, keys,
 * bitmaps and the two decryptors it reads. The sections' XOR key is stored plus a checksum of the
 * file's first 0x200 bytes. Not a working loader.
 *
 * Why: no such protector is installed where samples are made; tests build them from code.
 */
import { fsgEncode } from './fsg-pack.js';
import { spinChecksum } from './spin.js';
import type { PackRng } from './yc-pack.js';
import type { UpxSection } from './upx-pack.js';

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;
const rol8 = (v: number, n: number): number => ((v << (n & 7)) | (v >>> ((8 - n) & 7))) & 0xff;
const ror8 = (v: number, n: number): number => ((v >>> (n & 7)) | (v << ((8 - n) & 7))) & 0xff;

/** A random 0x24-byte decryptor (then 0xaa) and the encryption it undoes. */
function decryptor(rng: PackRng): { code: Uint8Array; encrypt: (al: number, cl: number) => number } {
  const code = new Uint8Array(0x25).fill(0x90);
  const inv: ((a: number, c: number) => number)[] = [];
  let at = 0;
  const put = (bytes: number[], f?: (a: number, c: number) => number): boolean => {
    if (at + bytes.length > 0x24) return false;
    code.set(bytes, at);
    at += bytes.length;
    if (f) inv.push(f);
    return true;
  };
  for (let k = rng.int(3, 9); k > 0; k--) {
    const kind = rng.int(0, 11);
    const v = rng.int(1, 255), r = rng.int(1, 7);
    const ok = kind === 0 ? put([0x02, 0xc1], (a, c) => (a - c) & 0xff)
      : kind === 1 ? put([0x2a, 0xc1], (a, c) => (a + c) & 0xff)
        : kind === 2 ? put([0x04, v], (a) => (a - v) & 0xff)
          : kind === 3 ? put([0x2c, v], (a) => (a + v) & 0xff)
            : kind === 4 ? put([0x32, 0xc1], (a, c) => a ^ c)
              : kind === 5 ? put([0x34, v], (a) => a ^ v)
                : kind === 6 ? put([0xfe, 0xc0], (a) => (a - 1) & 0xff)
                  : kind === 7 ? put([0xfe, 0xc8], (a) => (a + 1) & 0xff)
                    : kind === 8 ? put([0xc0, 0xc0, r], (a) => ror8(a, r))
                      : kind === 9 ? put([0xc0, 0xc8, r], (a) => rol8(a, r))
                        : kind === 10 ? put([0xeb, rng.int(0, 255), rng.int(0, 255)])
                          : put([0x0a, rng.int(0, 255)]);
    if (!ok) break;
  }
  code[0x24] = 0xaa;
  return { code, encrypt: (al, cl) => inv.reduceRight((x, f) => f(x, cl), al) };
}

function polyEncrypt(b: Uint8Array, at: number, n: number, enc: (al: number, cl: number) => number): void {
  for (let k = 0; k < n; k++) b[at + k] = enc(b[at + k]!, (n - k) & 0xff);
}

function lfsrXor(b: Uint8Array, at: number, n: number, key: number, tap: number, when: 0 | 1): void {
  for (let k = 0; k < n; k++) {
    const low = key & 1;
    key = key >>> 1;
    if (low === when) key = (key ^ tap) >>> 0;
    b[at + k] = b[at + k]! ^ (key & 0xff);
  }
}

export interface SpinSection extends UpxSection {
  /** Compressed with FSG's coder (default true). */
  compress?: boolean;
  /** XORed with the sections' key (default true). */
  xor?: boolean;
  /** Run through the second decryptor (default true). */
  poly?: boolean;
  /**
   * Resources as PESpin leaves them: this many bytes in clear, the rest compressed (the section
   * is then not in the compression bitmap; the loader names where the compressed part starts).
   * At most one section.
   */
  resourceHead?: number;
}

export function spinPack(sections: readonly SpinSection[], rng: PackRng): Uint8Array {
  const rint = (): number => (rng.int(0, 0xffff) * 0x10000 + rng.int(0, 0xffff)) >>> 0;
  const raws = sections.map((s) => {
    if (s.resourceHead !== undefined) {
      const head = Math.min(s.resourceHead, s.data.length - 1);
      return Uint8Array.from([...s.data.subarray(0, head), ...fsgEncode(s.data.subarray(head))]);
    }
    return s.compress === false ? s.data : fsgEncode(s.data.length ? s.data : new Uint8Array(1));
  });
  interface Placed { rva: number; vsize: number; raw: number; size: number }
  const placed: Placed[] = [];
  let rva = 0x1000, raw = 0x400;
  sections.forEach((s, i) => {
    const size = alignUp(Math.max(raws[i]!.length, 1), 0x200);
    const vsize = alignUp(Math.max(s.vsize ?? 0, s.data.length, size, 1), 0x1000);
    placed.push({ rva, vsize, raw, size });
    rva += vsize;
    raw += size;
  });
  const stubSize = 0x3400;
  const spin: Placed = { rva, vsize: alignUp(stubSize, 0x1000), raw, size: stubSize };
  const out = new Uint8Array(raw + stubSize);
  const o = new DataView(out.buffer);
  out.set([0x4d, 0x5a], 0);
  o.setUint32(0x3c, 0x80, true);
  const pe = 0x80, opt = pe + 24;
  out.set([0x50, 0x45, 0, 0], pe);
  o.setUint16(pe + 4, 0x14c, true);
  o.setUint16(pe + 6, sections.length + 1, true);
  o.setUint16(pe + 20, 0xe0, true);
  o.setUint16(pe + 22, 0x010f, true);
  o.setUint16(opt, 0x10b, true);
  o.setUint32(opt + 16, spin.rva, true);
  o.setUint32(opt + 28, 0x400000, true);
  o.setUint32(opt + 32, 0x1000, true);
  o.setUint32(opt + 36, 0x200, true);
  o.setUint16(opt + 40, 4, true);
  o.setUint16(opt + 48, 4, true);
  o.setUint32(opt + 56, spin.rva + spin.vsize, true);
  o.setUint32(opt + 60, 0x400, true);
  o.setUint16(opt + 68, 2, true);
  o.setUint32(opt + 92, 16, true);
  [...placed, spin].forEach((p, i) => {
    const h = pe + 0xf8 + 0x28 * i;
    const name = i < placed.length ? `.s${i}` : '.spin';
    for (let k = 0; k < name.length; k++) out[h + k] = name.charCodeAt(k);
    o.setUint32(h + 8, p.vsize, true);
    o.setUint32(h + 12, p.rva, true);
    o.setUint32(h + 16, p.size, true);
    o.setUint32(h + 20, p.raw, true);
    o.setUint32(h + 36, 0xe0000060, true);
  });
  const sectKey = rint();
  const d1 = decryptor(rng), d2 = decryptor(rng);
  let xorMap = 0, polyMap = 0, packMap = 0;
  sections.forEach((s, i) => {
    const p = placed[i]!;
    out.set(raws[i]!, p.raw);
    if (s.compress !== false && s.resourceHead === undefined) packMap |= 1 << i;
    if (s.poly !== false) { polyMap |= 1 << i; polyEncrypt(out, p.raw, p.size, d2.encrypt); }
    if (s.xor !== false) { xorMap |= 1 << i; lfsrXor(out, p.raw, p.size, sectKey, 0xed43af31, 0); }
  });
  // The loader, in clear first.
  const e = spin.raw;
  out.fill(0x90, e, e + stubSize);
  out.set([0x60, 0xe8, 0x01, 0x00, 0xe8, 0, 0, 0, 0, 0x8b, 0x1c, 0x24, 0x83, 0xc3], e);
  const key8 = rng.int(0, 255);
  out[e + 0xdb] = 0xbb;
  out[e + 0xdc] = key8;
  out[e + 0xe0] = 0xb9;
  o.setUint32(e + 0xe1, 0x11fe, true);
  out[e + 0x1e0] = 0xb8;
  const gKey = rint(), lKey = rint();
  o.setUint32(e + 0x26eb, gKey, true);
  o.setUint32(e + 0x26f0, 0x5a0, true);
  o.setUint32(e + 0x429, out.length - 0x200, true);
  o.setUint32(e + 0x644, 0x180, true);
  o.setUint32(e + 0x650, lKey, true);
  o.setUint32(e + 0x6f1, polyMap, true);
  out.set(d2.code, e + 0x755);
  o.setUint32(e + 0x28dd, 0x1a1, true);
  out.set(d1.code, e + 0x28ec);
  const res = sections.findIndex((s) => s.resourceHead !== undefined);
  o.setUint32(e + 0x2fee, res >= 0 ? placed[res]!.rva + Math.min(sections[res]!.resourceHead!, sections[res]!.data.length - 1) : 0, true);
  o.setUint32(e + 0x3061, packMap, true);
  o.setUint32(e + 0x3207, xorMap, true);
  o.setUint32(e + 0x3217, (sectKey + spinChecksum(out, 0x200)) >>> 0, true);
  // Encrypted in the reverse order of ClamAV's steps.
  polyEncrypt(out, e + 0x6d4, 0x1a1, d1.encrypt);
  lfsrXor(out, e + 0x28d3, 0x180, lKey, 0xed43af32, 1);
  lfsrXor(out, e + 0x2d5, 0x5a0, gKey, 0x8c328834, 1);
  let k8 = key8;
  for (let c = e + 0x1fe5 + 0x11fe - 1, n = 0x11fe; n > 0; n--, c--) {
    out[c] = out[c]! ^ k8;
    k8 = (k8 - 1) & 0xff;
  }
  return out;
}
