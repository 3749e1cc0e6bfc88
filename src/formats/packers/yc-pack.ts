/**
 * A yoda's Crypter-style protector for tests: sections → a PE32 that ClamAV 1.4 decrypts (yC 1.x).
 *
 * In: the original sections (a `.rsrc` one is left in clear, as yC leaves resources), a random
 * generator for the decryptors and the original entry point. Out: the PE: each section encrypted byte by byte
 * with a random decryptor of yC's instruction set (constants, CL, rotations, DEC, NOPs, a short
 * jump over junk; ClamAV steps over one byte more after a rotation by CL, so one follows it), then a last section holding the "1.x/modified" prologue ClamAV recognises at
 * entry = section + 0x60, the first decryptor, `stosb; loop`, and the loader encrypted with that
 * first decryptor: in it, the sections' decryptor and the original entry point where ClamAV reads
 * them. Not a working loader.
 *
 * Why: no such protector is installed where samples are made; tests build them from code.
 */

/** The random choices the packer makes (a seeded generator in tests). */
export interface PackRng {
  int(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;
const rol8 = (v: number, n: number): number => ((v << (n & 7)) | (v >>> ((8 - n) & 7))) & 0xff;
const ror8 = (v: number, n: number): number => ((v >>> (n & 7)) | (v << ((8 - n) & 7))) & 0xff;

type Op = { code: number[]; enc: (al: number, cl: number) => number };

/** A random decryptor: its 0x30 bytes, and the encryption it undoes. */
export function randomDecryptor(rng: PackRng): { bytes: Uint8Array; encrypt: (al: number, cl: number) => number } {
  const ops: Op[] = [];
  const choices: (() => Op)[] = [
    () => { const k = rng.int(1, 255); return { code: [0x34, k], enc: (a) => a ^ k }; },
    () => { const k = rng.int(1, 255); return { code: [0x04, k], enc: (a) => (a - k) & 0xff }; },
    () => { const k = rng.int(1, 255); return { code: [0x2c, k], enc: (a) => (a + k) & 0xff }; },
    () => { const k = rng.int(1, 7); return { code: [0xc0, 0xc0, k], enc: (a) => ror8(a, k) }; },
    () => { const k = rng.int(1, 7); return { code: [0xc0, 0xc8, k], enc: (a) => rol8(a, k) }; },
    () => ({ code: [0xfe, 0xc8], enc: (a) => (a + 1) & 0xff }),
    () => ({ code: [0x02, 0xc1], enc: (a, c) => (a - c) & 0xff }),
    () => ({ code: [0x2a, 0xc1], enc: (a, c) => (a + c) & 0xff }),
    () => ({ code: [0x32, 0xc1], enc: (a, c) => a ^ c }),
    () => ({ code: [0xd2, 0xc8, rng.pick([0x90, 0x00, 0xcc])], enc: (a, c) => rol8(a, c) }),
    () => ({ code: [0xd2, 0xc0, rng.pick([0x90, 0x00, 0xcc])], enc: (a, c) => ror8(a, c) }),
  ];
  const bytes = new Uint8Array(0x30);
  let at = 0;
  for (let k = rng.int(3, 9); k > 0; k--) {
    if (rng.chance(0.2) && at + 4 <= 0x30) {
      // A short jump over two junk bytes, or a NOP-like byte.
      if (rng.chance(0.5)) { bytes.set([0xeb, 0x02, rng.int(0, 255), rng.int(0, 255)], at); at += 4; } else bytes[at++] = rng.pick([0x90, 0xf8, 0xf9]);
      continue;
    }
    const op = rng.pick(choices)();
    if (at + op.code.length > 0x30) break;
    bytes.set(op.code, at);
    at += op.code.length;
    ops.push(op);
  }
  while (at < 0x30) bytes[at++] = 0x90;
  return { bytes, encrypt: (al, cl) => ops.reduceRight((v, op) => op.enc(v, cl), al) };
}

/** Encrypts `n` bytes at `at` so that the decryptor with CL = n, n-1, … restores them. */
function encrypt(buf: Uint8Array, at: number, n: number, enc: (al: number, cl: number) => number): void {
  let cl = n & 0xff;
  for (let i = 0; i < n; i++) {
    buf[at + i] = enc(buf[at + i]!, cl);
    cl = (cl - 1) & 0xff;
  }
}

export interface YcSection {
  name?: string;
  data: Uint8Array;
  vsize?: number;
}

/** Builds the protected PE32. */
export function ycPack(sections: readonly YcSection[], rng: PackRng, entry = 0x1000): Uint8Array {
  const d1 = randomDecryptor(rng), d2 = randomDecryptor(rng);
  const ecx = rng.int(0x950, 0x1fff);
  const ycRaw = alignUp(0xae + ecx, 0x200);
  interface Placed { name: string; rva: number; vsize: number; raw: number; size: number }
  const placed: Placed[] = [];
  let rva = 0x1000, raw = 0x400;
  for (const [i, s] of sections.entries()) {
    const size = alignUp(Math.max(s.data.length, 1), 0x200);
    const vsize = alignUp(Math.max(s.vsize ?? 0, size), 0x1000);
    placed.push({ name: s.name ?? `.s${i}`, rva, vsize, raw, size });
    rva += vsize;
    raw += size;
  }
  const yc: Placed = { name: 'yC', rva, vsize: alignUp(ycRaw, 0x1000), raw, size: ycRaw };
  placed.push(yc);
  const out = new Uint8Array(raw + ycRaw);
  const o = new DataView(out.buffer);
  out.set([0x4d, 0x5a], 0);
  o.setUint32(0x3c, 0x80, true);
  const pe = 0x80, opt = pe + 24;
  out.set([0x50, 0x45, 0, 0], pe);
  o.setUint16(pe + 4, 0x14c, true);
  o.setUint16(pe + 6, placed.length, true);
  o.setUint16(pe + 20, 0xe0, true);
  o.setUint16(pe + 22, 0x010f, true);
  o.setUint16(opt, 0x10b, true);
  o.setUint32(opt + 16, yc.rva + 0x60, true);
  o.setUint32(opt + 28, 0x400000, true);
  o.setUint32(opt + 32, 0x1000, true);
  o.setUint32(opt + 36, 0x200, true);
  o.setUint16(opt + 40, 4, true);
  o.setUint16(opt + 48, 4, true);
  o.setUint32(opt + 56, yc.rva + yc.vsize, true);
  o.setUint32(opt + 60, 0x400, true);
  o.setUint16(opt + 68, 2, true);
  o.setUint32(opt + 92, 16, true);
  o.setUint32(opt + 0x68, yc.rva + 0x20, true); // an import directory, which the decrypted file loses
  o.setUint32(opt + 0x6c, 0x28, true);
  placed.forEach((s, i) => {
    const h = pe + 0xf8 + 0x28 * i;
    for (let k = 0; k < Math.min(8, s.name.length); k++) out[h + k] = s.name.charCodeAt(k);
    o.setUint32(h + 8, s.vsize, true);
    o.setUint32(h + 12, s.rva, true);
    o.setUint32(h + 16, s.size, true);
    o.setUint32(h + 20, s.raw, true);
    o.setUint32(h + 36, 0xe0000060, true);
  });
  sections.forEach((s, i) => {
    const p = placed[i]!;
    out.set(s.data, p.raw);
    const name = p.name.slice(0, 4);
    if (!['.rsr', 'rsrc', '.rel', 'relo', '.eda', '.rda', '.ida', '.tls'].includes(name)) encrypt(out, p.raw, p.size, d2.encrypt);
  });
  const R = yc.raw;
  out.fill(0x90, R, R + ycRaw);
  out.set([0x60, 0xe8, 0, 0, 0, 0, 0x5d, 0x81, 0xed], R + 0x60);
  o.setUint32(R + 0x69, 0x401000, true);
  out[R + 0x6d] = 0xb9;
  o.setUint32(R + 0x6e, ecx, true);
  out.set([0x8d, 0xbd], R + 0x72);
  o.setUint32(R + 0x74, 0x401048, true);
  out.set([0x8b, 0xf7, 0xac], R + 0x78);
  out.set(d1.bytes, R + 0x7b);
  out.set([0xaa, 0xe2, 0xcc], R + 0xab);
  out.set(d2.bytes, R + 0x3d2);
  o.setUint32(R + 0x9f7, entry, true);
  encrypt(out, R + 0xae, ecx, d1.encrypt);
  return out;
}
