/**
 * MEW 11-packed executables (its aPLib-style coder, not its LZMA one) → the rebuilt image, as
 * ClamAV 1.4 unpacks them (`unmew11`).
 *
 * In: the bytes of a PE layer, ClamAV's view of it (./upx.ts `scanpeInfo`) and the index of the
 * first virtual-only section followed by one with raw data. Out: the branch's outcome.
 *
 * Recognised (ClamAV's `cli_scanpe`, before any other packer): a `jmp` at the entry whose target,
 * taken as a file offset, is 0x154 or 0x158 (MEW's loader in the headers); `mov esi, <address>`
 * there points at a block inside the packed section: the original entry point, the first
 * destination, then streams, each followed by the next one's destination (0 after the last).
 * The streams are decoded into a buffer holding the virtual-only section and then the packed
 * one's data, each where its destination says; each output, rounded up to 4 KiB, becomes a
 * section of a rebuilt PE (ClamAV's `cli_rebuildpe_align` at 0x1000). A byte 0xe8 at 0x7b in the
 * loader means LZMA: not handled here (ClamAV decodes it with its own LZMA reader).
 *
 * Why: ClamAV scans the unpacked image as a child layer. Never throws; work is bounded by the
 * section sizes, themselves bounded by MaxFileSize.
 */
import type { UnpackContext } from '../unpack.js';
import { rebuildPe, unfsgAt, type RebuildSection } from './fsg.js';
import { sizeLimit, type PackerOutcome, type ScanpeInfo } from './upx.js';

const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const contained = (bbSize: number, sb: number, size: number): boolean => bbSize > 0 && size > 0 && size <= bbSize && sb >= 0 && sb + size <= bbSize;
const alignUp = (o: number, a: number): number => ((Math.floor(o / a) + (o % a ? 1 : 0)) * a) >>> 0;

/** The MEW branch of `cli_scanpe`. */
export function mewStep(bytes: Uint8Array, info: ScanpeInfo, i: number, ctx: UnpackContext): PackerOutcome {
  const { sections, epbuff, vep, imageBase } = info;
  if (epbuff.length < 16 || epbuff[0] !== 0xe9) return 'next';
  const fileoffset = (vep + u32(epbuff, 1) + 5) >>> 0;
  if (fileoffset !== 0x154 && fileoffset !== 0x158) return 'next';
  if (fileoffset + 0xb0 > bytes.length) return 'next';
  const s0 = sections[i]!, s1 = sections[i + 1]!;
  let offdiff = (u32(bytes, fileoffset + 1) - imageBase) >>> 0;
  if (offdiff <= s1.rva || offdiff >= ((s1.rva + s1.raw - 4) >>> 0)) return 'next';
  offdiff -= s1.rva;
  if (!s1.rsz) return 'next';
  const ssize = s1.vsz, dsize = s0.vsz;
  if (ssize + dsize > 0xffffffff || offdiff >= ssize + dsize) return 'next';
  const limited = sizeLimit(Math.max(ssize, dsize), ctx) ?? sizeLimit(Math.max(ssize + dsize, s1.rsz), ctx);
  if (limited) return limited;
  if (s1.rsz < offdiff + 12 || s1.rsz > ssize) return 'next';
  if (s1.raw + s1.rsz > bytes.length) return 'stop';
  if (bytes[fileoffset + 0x7b] === 0xe8) return 'stop'; // LZMA: ClamAV decodes it, not handled here
  const sum = ssize + dsize;
  const src = new Uint8Array(sum);
  src.set(bytes.subarray(s1.raw, s1.raw + s1.rsz), dsize);
  const vadd = sections[0]!.rva;
  const vma = (imageBase + vadd) >>> 0;
  if (vma < imageBase || !contained(sum, offdiff, 12)) return 'next';
  const source = dsize + offdiff;
  const entry = u32(src, source + 4);
  let lesi = source + 12;
  let ledi = (u32(src, source + 8) - vma) | 0;
  let lds = sum - ledi;
  let lss = ssize - 12 - offdiff;
  const parts: RebuildSection[] = [];
  for (let n = 0; ; n++) {
    if (!contained(sum, lesi, lss) || !contained(sum, ledi, lds)) return 'next';
    // Source and destination share the buffer, as in ClamAV.
    const r = unfsgAt(src, lesi, lss, src, ledi, lds);
    if (!r) return 'next';
    const f1 = r.src;
    if (!contained(sum, f1, 4)) return 'next';
    lss -= f1 + 4 - lesi;
    lesi = f1 + 4;
    const next = u32(src, f1);
    ledi = (next - vma) | 0;
    lds = sum - ledi;
    const val = alignUp(r.dst, 0x1000);
    const prev = n ? parts[n - 1]!.raw + parts[n - 1]!.rsz : 0;
    if (n && val < prev) return 'next';
    const size = n ? val - prev : val;
    parts.push({ rva: (prev + vadd) >>> 0, vsz: size, raw: prev, rsz: size });
    if (prev + size > dsize) return 'next';
    if (!next) break;
  }
  const pe = rebuildPe(src, parts, imageBase, (entry - imageBase) >>> 0, 0x1000);
  return pe ? { data: pe } : 'next';
}
