/**
 * WWPack32-packed executables → the rebuilt image, as ClamAV 1.4 unpacks them (`wwunpack`).
 *
 * In: the bytes of a PE layer and ClamAV's view of it (./upx.ts `scanpeInfo`). Out: the branch's
 * outcome: the rebuilt image, a limit, or why nothing came out.
 *
 * Recognised (ClamAV's `cli_scanpe`): a PE32 with more than one section whose entry point is the
 * start of the last section, the 7 bytes `push ebx; push ebp; mov ebp, eax; xor ebx, ebx; jmp`
 * at the entry and 19 bytes of the loader at entry + 0x68. The image (headers up to the lowest
 * raw offset, then every section but the last at its RVA, in a buffer as large as the highest
 * section end) is decompressed in place block after block, as the records from offset 0x2a1 of
 * the last section say (source delta, dword count, end; a non-zero byte after a record means
 * another follows): each block's bytes are taken out, their place filled with 0xff, and the
 * decoded bytes written from the block's start. The header is then patched: the last section
 * dropped, the entry point from offset 0x295 of the last section, SizeOfImage reduced, every
 * section's raw offset and size set to its RVA and virtual size. The whole buffer is the output.
 * Any decoding error drops the result (the next packer's branch is tried).
 *
 * Why: ClamAV scans the unpacked image as a child layer. Never throws; work is bounded by the
 * image size, itself bounded by MaxFileSize.
 */
import type { UnpackContext } from '../unpack.js';
import { sizeLimit, type PackerOutcome, type ScanpeInfo } from './upx.js';

const EP_HEAD = [0x53, 0x55, 0x8b, 0xe8, 0x33, 0xdb, 0xeb];
const EP_LOOP = [0xe8, 0x00, 0x00, 0x00, 0x00, 0x58, 0x2d, 0x6d, 0x00, 0x00, 0x00, 0x50, 0x60, 0x33, 0xc9, 0x50, 0x58, 0x50, 0x50];

const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
function w32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; b[o + 2] = (v >>> 16) & 0xff; b[o + 3] = (v >>> 24) & 0xff;
}
const contained = (bbSize: number, sb: number, size: number): boolean => bbSize > 0 && size > 0 && size <= bbSize && sb >= 0 && sb + size <= bbSize;
const matches = (b: Uint8Array, at: number, pat: readonly number[]): boolean => at + pat.length <= b.length && pat.every((v, i) => b[at + i] === v);

/** WWPack's bit reader: a 32-bit word read MSB first, the next word fetched as soon as one runs out. */
class Bits {
  bt = 0;
  bc = 0;
  pos = 0;
  error = false;
  constructor(readonly src: Uint8Array, readonly size: number) {
    this.reseed();
  }
  reseed(): void {
    if (contained(this.size, this.pos, 4)) {
      this.bt = u32(this.src, this.pos);
      this.pos += 4;
    } else this.error = true;
    this.bc = 32;
  }
  bit(): number {
    const b = this.bt >>> 31;
    this.bt = (this.bt << 1) >>> 0;
    if (!--this.bc) this.reseed();
    return b;
  }
  bits(n: number): number {
    let v = this.bt >>> (32 - n);
    if (this.bc >= n) {
      this.bc -= n;
      this.bt = (this.bt << n) >>> 0;
      if (!this.bc) this.reseed();
    } else if (contained(this.size, this.pos, 4)) {
      this.bt = u32(this.src, this.pos);
      this.pos += 4;
      this.bc += 32 - n;
      v = (v | (this.bt >>> this.bc)) >>> 0;
      this.bt = (this.bt << (32 - this.bc)) >>> 0;
    } else this.error = true;
    return v;
  }
}

/** Decodes one block from `comp` into `exe` from `at`; false on any error. */
function decodeBlock(exe: Uint8Array, comp: Uint8Array, at: number): boolean {
  const br = new Bits(comp, comp.length);
  const exesz = exe.length;
  let ucur = at;
  while (!br.error) {
    if (!br.bit()) {
      if (br.pos >= comp.length || !contained(exesz, ucur, 1)) return false;
      exe[ucur++] = comp[br.pos++]!;
      continue;
    }
    let b = br.bits(2);
    if (b === 3) {
      // Two bytes from near back, or the end.
      b = br.bits(2);
      const shifted = b + 5 + (b >= 2 ? 1 : 0);
      const back = (1 << shifted) - (b >= 2 ? 159 : 31);
      const v = br.bits(shifted);
      if (br.error) return false;
      if (v === 0x1ff) break;
      const dist = back + v;
      if (!contained(exesz, ucur, 2) || !contained(exesz, ucur - dist, 2)) return false;
      exe[ucur] = exe[ucur - dist]!;
      exe[ucur + 1] = exe[ucur - dist + 1]!;
      ucur += 2;
      continue;
    }
    const saved = b;
    const c = br.bits(3);
    let dist: number;
    if (c < 6) {
      let n: number;
      if (c <= 2) n = c + 5;
      else if (c === 3) n = 8 + br.bit();
      else if (c === 4) n = 10 + br.bit();
      else n = 12;
      dist = br.bits(n) + (1 << n) - 31;
    } else if (c === 6) dist = br.bits(14) + 0x1fe1;
    else dist = br.bits(15) + 0x5fe1;
    let len: number;
    if (!saved) {
      if (!br.bit()) len = br.bit() + 5;
      else {
        len = br.bits(3);
        if (len) len += 6;
        else {
          len = br.bits(4);
          if (len) len += 13;
          else {
            let cnt = 4, add = 0x0d;
            for (;;) {
              if (cnt === 7) { cnt = 14; add = 0; break; }
              add = ((add + 2) << 1) - 1;
              cnt++;
              if (br.bit()) break;
            }
            len = br.bits(cnt) + add;
          }
        }
      }
    } else len = saved + 2;
    if (br.error) return false;
    if (!contained(exesz, ucur, len) || !contained(exesz, ucur - dist, len)) return false;
    for (let i = 0; i < len; i++) exe[ucur + i] = exe[ucur - dist + i]!;
    ucur += len;
  }
  return !br.error;
}

/** ClamAV's `wwunpack` on the assembled image; false when it fails. */
function wwunpack(exe: Uint8Array, ww: Uint8Array, info: ScanpeInfo): boolean {
  const sects = info.sections;
  const scount = sects.length - 1;
  const last = sects[scount]!;
  const wsz = ww.length;
  let st = 0x2a1;
  for (;;) {
    if (!contained(wsz, st, 17)) break;
    const src = (last.rva - u32(ww, st)) >>> 0;
    const szd = (u32(ww, st + 8) * 4) >>> 0;
    const srcend = u32(ww, st + 12);
    st += 16;
    const at = (src + srcend + 4 - szd) >>> 0;
    if (!szd || !contained(exe.length, at, szd)) break;
    const comp = exe.slice(at, at + szd);
    exe.fill(0xff, at, at + szd);
    if (!decodeBlock(exe, comp, at)) return false;
    if (!ww[st++]) break;
  }
  const pe = info.lfanew;
  if (!contained(exe.length, pe + 0x50, 4) || !contained(wsz, 0x295, 4)) return false;
  exe[pe + 6] = scount & 0xff;
  exe[pe + 7] = scount >>> 8;
  w32(exe, pe + 0x28, u32(ww, 0x295) + last.rva + 0x299);
  w32(exe, pe + 0x50, u32(exe, pe + 0x50) - last.vsz);
  let t = (u32(exe, pe + 0x14) & 0xffff) + pe + 0x18;
  for (let i = 0; i < scount; i++) {
    if (!contained(exe.length, t, 0x28)) return false;
    const s = sects[i]!;
    w32(exe, t + 8, s.vsz);
    w32(exe, t + 12, s.rva);
    w32(exe, t + 16, s.vsz);
    w32(exe, t + 20, s.rva);
    t += 0x28;
  }
  if (!contained(exe.length, t, 0x28)) return false;
  exe.fill(0, t, t + 0x28);
  return true;
}

/** The WWPack branch of `cli_scanpe`. */
export function wwpackStep(bytes: Uint8Array, info: ScanpeInfo, ctx: UnpackContext): PackerOutcome {
  const { sections, vep, epbuff } = info;
  const n = sections.length;
  if (n < 2 || vep !== sections[n - 1]!.rva || !matches(epbuff, 0, EP_HEAD) || !matches(epbuff, 0x68, EP_LOOP)) return 'next';
  const last = sections[n - 1]!;
  let head = last.raw, ssize = 0;
  for (let i = 0; ; i++) {
    const s = sections[i]!;
    if (s.raw < head) head = s.raw;
    if (i + 1 === n) break;
    const end = (s.rva + s.vsz) >>> 0;
    if (ssize < end) ssize = end;
  }
  if (!head || !ssize || head > ssize) return 'next';
  const limited = sizeLimit(ssize, ctx);
  if (limited) return limited;
  if (ssize > 1024 * 1024 * 1024 || head > bytes.length) return 'stop';
  const exe = new Uint8Array(ssize);
  exe.set(bytes.subarray(0, head));
  for (let i = 0; i < n - 1; i++) {
    const s = sections[i]!;
    if (!s.rsz) continue;
    if (!contained(ssize, s.rva, s.rsz) || s.raw + s.rsz > bytes.length) return 'next';
    exe.set(bytes.subarray(s.raw, s.raw + s.rsz), s.rva);
  }
  if (!last.rsz || last.raw + last.rsz > bytes.length) return 'stop';
  const ww = bytes.subarray(last.raw, last.raw + last.rsz);
  return wwunpack(exe, ww, info) ? { data: exe } : 'next';
}
