/**
 * yoda's Crypter (yC 1.x) executables → the decrypted file, as ClamAV 1.4 gives it (`yc_decrypt`).
 *
 * In: the bytes of a PE layer and ClamAV's view of it (./upx.ts `scanpeInfo`). Out: the branch's
 * outcome: the decrypted file, a `Heuristics.BoundsCheck` alert, or why nothing came out.
 *
 * Recognised (ClamAV's `cli_scanpe`): more than one section, AddressOfEntryPoint 0x60 bytes into
 * the last section, and one of the three loader prologues ClamAV knows (yC 1.3, its variant, and
 * "1.x/modified"), from which it takes the loader's length (ECX, over 0x800 and under 0x2000) and
 * the prologue's displacement; `stosb; loop` must follow the first decryptor. Decryption runs the
 * loader's own byte decryptors, read as the small instruction set yC's polymorphic engine emits
 * (ADD/SUB/XOR with a constant or CL, DEC, ROL/ROR by a constant or CL, NOPs, short jumps; CL is
 * the count of bytes left): first the loader itself, then every section but the last whose name
 * is not one yC leaves alone (resources, relocations, exports, read-only data, imports, TLS). The
 * decryptor's path is the same for every byte, so it is read once into a list of operations (and
 * again when a section overwrites it). The header is then patched (one section fewer, no import
 * directory, the entry point stored in the loader, SizeOfImage reduced) and the file, less the
 * last section's raw size, is the output.
 *
 * Why: ClamAV scans the decrypted file as a child layer. Never throws; work is one pass of a
 * short operation list per byte of the file.
 */
import type { UnpackContext } from '../unpack.js';
import type { PackerOutcome, ScanpeInfo } from './upx.js';

const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const i32 = (b: Uint8Array, o: number): number => u32(b, o) | 0;
function w32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; b[o + 2] = (v >>> 16) & 0xff; b[o + 3] = (v >>> 24) & 0xff;
}
const matches = (b: Uint8Array, at: number, pat: readonly number[]): boolean => at >= 0 && at + pat.length <= b.length && pat.every((v, i) => b[at + i] === v);

/** Operations of the decryptor: [kind, operand]. */
const enum K { Add, Sub, Xor, Rol, Ror, AddCl, SubCl, XorCl, RolCl, RorCl, Dec }
type Compiled = { ops: Int32Array; jumps: number } | { fail: 'unhandled' | 'bounds' | 'loop' };

/** Follows the decryptor at `dec` once (its path does not depend on the byte). */
function compile(buf: Uint8Array, filesize: number, dec: number): Compiled {
  const ops: number[] = [];
  let jumps = 0;
  const seen = new Set<number>();
  const inBounds = (j: number): boolean => dec + j <= filesize && dec + j < buf.length;
  const s8 = (v: number): number => (v << 24) >> 24;
  let j = 0;
  while (j < 0x30) {
    if (seen.has(j)) return { fail: 'loop' };
    seen.add(j);
    if (!inBounds(j)) return { fail: 'bounds' };
    const op = buf[dec + j]!;
    switch (op) {
      case 0xeb:
        j++;
        if (!inBounds(j)) return { fail: 'bounds' };
        jumps++;
        j = (j + s8(buf[dec + j]!)) >>> 0;
        break;
      case 0xfe: ops.push(K.Dec, 0); j++; break;
      case 0x2a: ops.push(K.SubCl, 0); j++; break;
      case 0x02: ops.push(K.AddCl, 0); j++; break;
      case 0x32: ops.push(K.XorCl, 0); j++; break;
      case 0x04: case 0x34: case 0x2c:
        j++;
        if (!inBounds(j)) return { fail: 'bounds' };
        ops.push(op === 0x04 ? K.Add : op === 0x34 ? K.Xor : K.Sub, buf[dec + j]!);
        break;
      case 0xc0: {
        j++;
        if (!inBounds(j)) return { fail: 'bounds' };
        const rol = buf[dec + j] === 0xc0;
        j++;
        if (!inBounds(j)) return { fail: 'bounds' };
        ops.push(rol ? K.Rol : K.Ror, buf[dec + j]! & 7);
        break;
      }
      case 0xd2:
        j++;
        if (!inBounds(j)) return { fail: 'bounds' };
        ops.push(buf[dec + j] === 0xc8 ? K.RorCl : K.RolCl, 0);
        j++;
        break;
      case 0x90: case 0xf8: case 0xf9:
        break;
      default:
        return { fail: 'unhandled' };
    }
    j = (j + 1) >>> 0;
  }
  return { ops: Int32Array.from(ops), jumps };
}

const rol8 = (v: number, n: number): number => ((v << (n & 7)) | (v >>> ((8 - n) & 7))) & 0xff;
const ror8 = (v: number, n: number): number => ((v >>> (n & 7)) | (v << ((8 - n) & 7))) & 0xff;

/** Runs `ops` on one byte with the given CL. */
function apply(ops: Int32Array, al: number, cl: number): number {
  for (let k = 0; k < ops.length; k += 2) {
    const a = ops[k + 1]!;
    switch (ops[k]) {
      case K.Add: al = (al + a) & 0xff; break;
      case K.Sub: al = (al - a) & 0xff; break;
      case K.Xor: al ^= a; break;
      case K.Rol: al = rol8(al, a); break;
      case K.Ror: al = ror8(al, a); break;
      case K.AddCl: al = (al + cl) & 0xff; break;
      case K.SubCl: al = (al - cl) & 0xff; break;
      case K.XorCl: al ^= cl; break;
      case K.RolCl: al = rol8(al, cl); break;
      case K.RorCl: al = ror8(al, cl); break;
      default: al = (al - 1) & 0xff;
    }
  }
  return al;
}

/** ClamAV's `yc_poly_emulator`: decrypts `count` bytes at `code` in place; the failure, if any. */
function emulate(buf: Uint8Array, filesize: number, dec: number, code: number, ecx: number, max: number): 'ok' | 'unhandled' | 'bounds' | 'loop' {
  const n = Math.min(ecx, max);
  if (n <= 0) return 'ok';
  let c = compile(buf, filesize, dec);
  let cl = ecx & 0xff;
  let jumps = 0;
  const selfModifying = code < dec + 0x32 && code + n > dec;
  for (let i = 0; i < n; i++) {
    if ('fail' in c) return c.fail;
    jumps += c.jumps;
    if (jumps > 100_000_000) return 'loop';
    if (code + i > filesize || code + i >= buf.length) return 'bounds';
    buf[code + i] = apply(c.ops, buf[code + i]!, cl);
    cl = (cl - 1) & 0xff;
    if (selfModifying && code + i >= dec && code + i < dec + 0x32) c = compile(buf, filesize, dec);
  }
  return 'ok';
}

const SKIPPED = new Set([0x63727372, 0x7273722e, 0x6f6c6572, 0x6c65722e, 0x6164652e, 0x6164722e, 0x6164692e, 0x736c742e]);

/** The yC branch of `cli_scanpe`. */
export function ycStep(bytes: Uint8Array, info: ScanpeInfo, ctx: UnpackContext): PackerOutcome {
  void ctx;
  const { sections, epbuff, lfanew } = info;
  const n = sections.length;
  const last = sections[n - 1]!;
  if (n < 2 || info.vep !== ((last.rva + 0x60) >>> 0)) return 'next';
  let ecx = 0, offset = 0;
  if (matches(epbuff, 0, [0x55, 0x8b, 0xec, 0x53, 0x56, 0x57, 0x60, 0xe8, 0, 0, 0, 0, 0x5d, 0x81, 0xed])
    && matches(epbuff, 0x26, [0x8d, 0x3a, 0x8b, 0xf7, 0x33, 0xc0, 0xeb, 0x04, 0x90, 0xeb, 0x01, 0xc2, 0xac])
    && epbuff[0x13] === 0xb9 && (epbuff[0x18]! | (epbuff[0x19]! << 8)) === 0xe981 && matches(epbuff, 0x1e, [0x8b, 0xd5, 0x81, 0xc2])) {
    offset = 0;
    if (((0x6c - i32(epbuff, 0xf) + i32(epbuff, 0x22)) | 0) === 0xc6) ecx = (u32(epbuff, 0x14) - u32(epbuff, 0x1a)) >>> 0;
  }
  if (!ecx && matches(epbuff, 0, [0x55, 0x8b, 0xec, 0x83, 0xec, 0x40, 0x53, 0x56, 0x57]) && matches(epbuff, 0x17, [0xe8, 0, 0, 0, 0, 0x5d, 0x81, 0xed]) && epbuff[0x23] === 0xb9) {
    offset = 0x10;
    if (((0x6c - i32(epbuff, 0x1f) + i32(epbuff, 0x32)) | 0) === 0xc6) ecx = (u32(epbuff, 0x24) - u32(epbuff, 0x2a)) >>> 0;
  }
  if (!ecx && matches(epbuff, 0, [0x60, 0xe8, 0, 0, 0, 0, 0x5d, 0x81, 0xed]) && epbuff[0xd] === 0xb9 && (epbuff[0x12]! | (epbuff[0x13]! << 8)) === 0xbd8d && matches(epbuff, 0x18, [0x8b, 0xf7, 0xac])) {
    offset = -0x18;
    if (((0x66 - i32(epbuff, 0x9) + i32(epbuff, 0x14)) | 0) === 0xae) ecx = u32(epbuff, 0xe);
  }
  const fsize = bytes.length;
  if (!(ecx > 0x800 && ecx < 0x2000 && matches(epbuff, 0x63 + offset, [0xaa, 0xe2, 0xcc]) && fsize >= last.raw + 0xc6 + ecx + offset)) return 'next';
  // A copy (the layer may be a Buffer, whose slice is a view).
  const buf = new Uint8Array(bytes.length);
  buf.set(bytes);
  const ycsect = last.raw + offset;
  if (ycsect < 0) return 'next';
  const fail = (why: string): PackerOutcome => (why === 'bounds' ? { alert: 'Heuristics.BoundsCheck' } : 'next');
  let r = emulate(buf, fsize, ycsect + 0x93, ycsect + 0xc6, ecx, ecx);
  if (r !== 'ok') return fail(r);
  const filesize = fsize - last.ursz;
  const optSize = buf[lfanew + 20]! | (buf[lfanew + 21]! << 8);
  const sname = lfanew + optSize + 0x18;
  const dec2 = ycsect + (offset === -0x18 ? 0x3ea : 0x457);
  for (let i = 0; i < n - 1; i++) {
    const s = sections[i]!;
    const name = sname + i * 0x28 + 4 <= buf.length ? u32(buf, sname + i * 0x28) : 0;
    if (!s.raw || !s.rsz || SKIPPED.has(name) || (name & 0xffff) === 0x4379) continue;
    const max = (filesize - s.raw) >>> 0;
    if (max > filesize) return 'next';
    r = emulate(buf, fsize, dec2, s.raw, s.ursz, max);
    if (r !== 'ok') return fail(r);
  }
  const opt = lfanew + 24;
  if (filesize < 0 || opt + 0x70 > buf.length || ycsect + 0xa0f + 4 > buf.length) return 'next';
  buf[lfanew + 6] = (n - 1) & 0xff;
  buf[lfanew + 7] = ((n - 1) >>> 8) & 0xff;
  buf.fill(0, opt + 0x68, opt + 0x70);
  w32(buf, opt + 16, u32(buf, ycsect + 0xa0f));
  w32(buf, opt + 0x38, u32(buf, opt + 0x38) - last.vsz);
  return { data: buf.subarray(0, filesize) };
}
