/**
 * PESpin 1.1-protected executables → the rebuilt image, as ClamAV 1.4 gives it (`unspin`).
 *
 * In: the bytes of a PE layer and ClamAV's view of it (./upx.ts `scanpeInfo`). Out: the branch's
 * outcome.
 *
 * Recognised (ClamAV's `cli_scanpe`): more than one section, the entry point in the last section
 * at least 0x321b bytes before its raw end, `call $+5; mov ebx, [esp]; add ebx, …` 4 bytes into
 * the entry. The loader (the last section, from the entry) is decrypted in ClamAV's steps: a
 * byte key counting down over 0x11fe bytes from entry + 0x1fe5, a 32-bit shift-register key over
 * 0x5a0 bytes from entry + 0x2d5 and over 0x180 bytes from entry + 0x28d3, then 0x1a1 bytes at
 * entry + 0x6d4 by a small decryptor found at entry + 0x28ec (the same instruction set as yC's,
 * run with CL = the count of bytes left). The sections' key is a stored value less a checksum of
 * the file's first bytes; each section the loader's bitmaps name is then XORed with it, run
 * through a second decryptor and decompressed with FSG's coder to its virtual size. The sections
 * are rebuilt as a PE (ClamAV's `cli_rebuildpe`, image base 0x400000, entry point 0x1000). The
 * checks on the loader's constants (0x11fe, 0x5a0, 0x180, 0x1a1) are ClamAV's; any failure drops
 * the result. The resources' partial decompression (a non-zero value at entry + 0x2fee) is done
 * as ClamAV does it.
 *
 * Why: ClamAV scans the unpacked image as a child layer. Never throws; work is linear in the file.
 */
import type { UnpackContext } from '../unpack.js';
import { rebuildPe, unfsg, type RebuildSection } from './fsg.js';
import { sizeLimit, type PackerOutcome, type ScanpeInfo } from './upx.js';

const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const contained = (bbSize: number, sb: number, size: number): boolean => bbSize > 0 && size > 0 && size <= bbSize && sb >= 0 && sb + size <= bbSize;
const rol8 = (v: number, n: number): number => ((v << (n & 7)) | (v >>> ((8 - n) & 7))) & 0xff;
const ror8 = (v: number, n: number): number => ((v >>> (n & 7)) | (v << ((8 - n) & 7))) & 0xff;
const ror32 = (v: number, n: number): number => ((v >>> (n & 31)) | (v << ((32 - n) & 31))) >>> 0;

/** ClamAV's `exec86`: one byte through the 0x24-byte decryptor at `code`; undefined when it is not one. */
function exec86(al: number, cl: number, b: Uint8Array, code: number): number | undefined {
  let len = 0;
  const at = (k: number): number => b[code + k] ?? 0;
  while (len < 0x24) {
    const op = at(len++);
    switch (op) {
      case 0xeb: len += 2; break;
      case 0x0a: len++; break;
      case 0x90: case 0xf8: case 0xf9: break;
      case 0x02: al = (al + cl) & 0xff; len++; break;
      case 0x2a: al = (al - cl) & 0xff; len++; break;
      case 0x04: al = (al + at(len)) & 0xff; len++; break;
      case 0x2c: al = (al - at(len)) & 0xff; len++; break;
      case 0x32: al ^= cl; len++; break;
      case 0x34: al ^= at(len); len++; break;
      case 0xfe: al = (at(len) === 0xc0 ? al + 1 : al - 1) & 0xff; len++; break;
      case 0xc0: {
        const rol = at(len++) === 0xc0;
        al = rol ? rol8(al, at(len)) : ror8(al, at(len));
        len++;
        break;
      }
      default: return undefined;
    }
  }
  if (len !== 0x24 || at(len) !== 0xaa) return undefined;
  return al;
}

/** Runs the decryptor at `code` over `n` bytes at `at`, CL counting down from `n`; false on a bad decryptor. */
function poly(b: Uint8Array, at: number, n: number, code: number): boolean {
  if (at < code + 0x25 && code < at + n) {
    // The decryptor lies among the bytes it decrypts: read again for each byte.
    for (let k = 0; k < n; k++) {
      const r = exec86(b[at + k]!, (n - k) & 0xff, b, code);
      if (r === undefined) return false;
      b[at + k] = r;
    }
    return true;
  }
  // Otherwise its table of 256 × 256 (byte, CL) results is built once, lazily per CL.
  const table = new Int16Array(256 * 256).fill(-1);
  for (let k = 0; k < n; k++) {
    const cl = (n - k) & 0xff, al = b[at + k]!;
    let r = table[(cl << 8) | al]!;
    if (r < 0) {
      const v = exec86(al, cl, b, code);
      if (v === undefined) return false;
      table[(cl << 8) | al] = r = v;
    }
    b[at + k] = r;
  }
  return true;
}

/** ClamAV's `summit`: the checksum of a byte run. */
export function spinChecksum(b: Uint8Array, len: number): number {
  let eax = 0xffffffff, ebx = 0xffffffff;
  for (let i = 0; i < len; i++) {
    eax = (eax ^ ((b[i]! << 8) & 0xff00)) >>> 0;
    eax = (eax >>> 3) & 0x1fffffff;
    for (let r = 0; r < 4; r++) {
      eax = (eax ^ ((ebx >>> 8) & 0xff)) >>> 0;
      eax = (eax + 0x7801a108) >>> 0;
      eax = (eax ^ ebx) >>> 0;
      eax = ror32(eax, ebx & 0xff);
      const t = eax;
      eax = ebx;
      ebx = t;
    }
  }
  return ebx;
}

/** The shift-register XOR ClamAV uses three times: taps `tap`, applied when the low bit is `when`. */
function lfsrXor(b: Uint8Array, at: number, n: number, key: number, tap: number, when: 0 | 1): void {
  for (let k = 0; k < n; k++) {
    const low = key & 1;
    key = key >>> 1;
    if (low === when) key = (key ^ tap) >>> 0;
    b[at + k] = b[at + k]! ^ (key & 0xff);
  }
}

/** The PESpin branch of `cli_scanpe`. */
export function spinStep(bytes: Uint8Array, info: ScanpeInfo, ctx: UnpackContext): PackerOutcome {
  const { sections, vep, epbuff } = info;
  const n = sections.length;
  const last = sections[n - 1]!;
  const e4 = [0xe8, 0, 0, 0, 0, 0x8b, 0x1c, 0x24, 0x83, 0xc3];
  if (n < 2 || vep < last.rva || 0x3217 - 4 > last.rva + last.rsz || vep >= last.rva + last.rsz - 0x3217 - 4 || !e4.every((v, k) => epbuff[4 + k] === v)) return 'next';
  const fsize = bytes.length;
  const limited = sizeLimit(fsize, ctx);
  if (limited) return limited;
  const src = new Uint8Array(fsize);
  src.set(bytes);
  const sectcnt = n - 1;
  if (last.raw + last.rsz > fsize) return 'next';
  const spun = src.slice(last.raw, last.raw + last.rsz);
  const ep = vep - last.rva;
  if (spun[ep + 0xdb] !== 0xbb) return 'next';
  let key8 = spun[ep + 0xdc] ?? 0;
  if (spun[ep + 0xe0] !== 0xb9 || ep + 0xe5 > spun.length) return 'next';
  let len = u32(spun, ep + 0xe1);
  if (len !== 0x11fe) return 'next';
  if (!contained(spun.length, ep, len + 0x1fe5 - 1)) return 'next';
  for (let c = ep + 0x1fe5 + len - 1; len > 0; len--, c--) {
    spun[c] = spun[c]! ^ key8;
    key8 = (key8 - 1) & 0xff;
  }
  if (!contained(spun.length, ep + 0x3217, 4)) return 'next';
  let key32 = u32(spun, ep + 0x26eb);
  if (u32(spun, ep + 0x26f0) !== 0x5a0) return 'next';
  lfsrXor(spun, ep + 0x2d5, 0x5a0, key32, 0x8c328834, 1);
  const sumLen = (fsize - u32(spun, ep + 0x429)) >>> 0;
  if (sumLen >= fsize) return 'next';
  key32 = (u32(spun, ep + 0x3217) - spinChecksum(src, sumLen)) >>> 0;
  src.set(spun, last.raw);
  const e = last.raw + ep; // the entry, now in the file copy
  if (!contained(fsize, e + 0x3207, 4)) return 'next';
  let bitmap = u32(src, e + 0x3207);
  for (let j = 0; j < sectcnt; j++, bitmap >>>= 1) {
    if (!(bitmap & 1)) continue;
    const s = sections[j]!;
    if (!contained(fsize, s.raw, s.rsz)) return 'next';
    lfsrXor(src, s.raw, s.rsz, key32, 0xed43af31, 0);
  }
  if (u32(src, e + 0x644) !== 0x180) return 'next';
  key32 = u32(src, e + 0x650);
  if (!contained(fsize, e + 0x28d3, 0x180)) return 'next';
  lfsrXor(src, e + 0x28d3, 0x180, key32, 0xed43af32, 1);
  if (u32(src, e + 0x28dd) !== 0x1a1) return 'next';
  if (!contained(fsize, e + 0x6d4, 0x1a1)) return 'next';
  if (!poly(src, e + 0x6d4, 0x1a1, e + 0x28ec)) return 'next';
  bitmap = u32(src, e + 0x6f1);
  for (let j = 0; j < sectcnt; j++, bitmap >>>= 1) {
    if (!(bitmap & 1)) continue;
    const s = sections[j]!;
    if (!contained(fsize, e + 0x755, 0x24)) return 'next';
    if (!poly(src, s.raw, s.rsz, e + 0x755)) return 'next';
  }
  let bitman = u32(src, e + 0x3061);
  bitmap = bitman;
  if (ctx.limits.maxFileSize) {
    let total = 0;
    for (let j = 0; j < sectcnt; j++, bitmap >>>= 1) {
      if (!(bitmap & 1)) continue;
      if (total > ctx.limits.maxFileSize || sections[j]!.vsz > ctx.limits.maxFileSize - total) return 'next';
      total += sections[j]!.vsz;
    }
    bitmap = bitman;
  }
  const parts: Uint8Array[] = [];
  let failed = false;
  for (let j = 0; j < sectcnt; j++, bitmap >>>= 1) {
    const s = sections[j]!;
    if (bitmap & 1) {
      const out = new Uint8Array(s.vsz);
      if (!unfsg(src.subarray(s.raw), s.rsz, out, s.vsz)) failed = true;
      parts.push(out);
    } else parts.push(src.subarray(s.raw, s.raw + s.rsz));
  }
  if (failed) return 'next';
  const resKey = u32(src, e + 0x2fee);
  if (resKey) {
    let j = 0;
    for (; j < sectcnt; j++) {
      const s = sections[j]!;
      if (s.rva <= resKey && resKey - s.rva < s.vsz && contained(s.rsz, 0, resKey - s.rva)) break;
    }
    if (j !== sectcnt && !((bitman >>> j) & 1)) {
      const s = sections[j]!;
      const head = resKey - s.rva;
      const grown = new Uint8Array(s.vsz);
      grown.set(src.subarray(s.raw, s.raw + head));
      if (unfsg(src.subarray(s.raw + head), s.rsz - head, grown.subarray(head), s.vsz - head)) {
        parts[j] = grown;
        bitman = (bitman | (1 << j)) >>> 0;
      }
    }
  }
  const reb: RebuildSection[] = [];
  let raw = 0;
  for (let j = 0; j < sectcnt; j++) {
    const s = sections[j]!;
    const rsz = (bitman >>> j) & 1 ? s.vsz : s.rsz;
    reb.push({ raw, rsz, rva: s.rva, vsz: s.vsz });
    raw += rsz;
  }
  const blob = new Uint8Array(raw);
  parts.forEach((p, j) => blob.set(p.subarray(0, reb[j]!.rsz), reb[j]!.raw));
  const pe = rebuildPe(blob, reb, 0x400000, 0x1000);
  return pe ? { data: pe } : 'next';
}
