/**
 * MEW 11-packed executables (its aPLib-style coder and its LZMA one) → the rebuilt image, as
 * ClamAV 1.4 unpacks them (`unmew11`, `mew_lzma`).
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
 * section of a rebuilt PE (ClamAV's `cli_rebuildpe_align` at 0x1000).
 *
 * LZMA form: a `call` (0xe8) at 0x7b in the loader whose target lies in the second section. The
 * aPLib-style streams are decoded first (the LZMA decoder's code in MEW); the block after the last
 * one holds (when the byte 8 bytes into the called procedure is 0x50, `push eax`: a byte count
 * for the call fix-up first) the address of the probability table, then LZMA blocks: output size,
 * destination address, compressed size, one byte, and the range-coded stream (lc 4, lp 0, pb 2,
 * probabilities reset per block), until a zero size; with the fix-up, one block only, after which
 * the `e8`/`e9` operands in its output are made relative (ClamAV's own conversion). The whole
 * virtual-only section then becomes the one section of the rebuilt PE. The decoder works inside
 * the one buffer (table, streams and output may overlap) with ClamAV's bounds checks, so damaged
 * streams stop or go on where ClamAV's do. One difference: more than 4096 block headers (ClamAV
 * reads on, re-initialising the 28 KiB table for each) are refused.
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
  let uselzma = 0;
  if (bytes[fileoffset + 0x7b] === 0xe8) {
    const target = (u32(bytes, fileoffset + 0x7c) + fileoffset + 0x80) >>> 0;
    const a = sections[1]!;
    if (!(a.vsz >= 4 && target >= a.rva && target + 4 <= a.rva + a.vsz)) return 'next';
    uselzma = (target - sections[0]!.rva) | 0;
  }
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
    if (uselzma) {
      if (!next) {
        // The LZMA blocks follow the last stream's terminating address.
        if (!contained(sum, uselzma + 8, 1) || !contained(sum, f1 + 4, 29)) return 'next';
        if (!mewLzma(src, f1 + 4, sum, vma, src[uselzma + 8] === 0x50)) return 'next';
        const pe = rebuildPe(src, [{ rva: vadd, vsz: dsize, raw: 0, rsz: dsize }], imageBase, (entry - imageBase) >>> 0, 0x1000);
        return pe ? { data: pe } : 'next';
      }
      continue;
    }
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

const s16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);

/**
 * MEW's LZMA stage on the shared buffer `b` (`sum` bytes): the header at `at`, addresses made
 * offsets by subtracting `vma`. True when it ends as ClamAV's `mew_lzma` does with success.
 */
function mewLzma(b: Uint8Array, at: number, sum: number, vma: number, special: boolean): boolean {
  const inside = (o: number, n: number): boolean => n > 0 && n <= sum && o >= 0 && o + n <= sum;
  let s = at;
  let fixLen = 0;
  if (special) { fixLen = u32(b, s); s += 4; }
  const probs = (u32(b, s) - vma) >>> 0;
  s += 4;
  let next = s;
  // Range decoder state: range, code, input position.
  let range = 0, code = 0, p0 = 0;
  let failed = false;
  const bit = (p: number): number => {
    if (!inside(p, 4) || !inside(p0, 1)) { failed = true; return 0; }
    const prob = s16(b, p);
    const bound = Math.imul(range >>> 11, prob) >>> 0;
    let r: number, np: number;
    if (code < bound) {
      range = bound;
      np = prob + ((0x800 - prob) >> 5);
      r = 0;
    } else {
      range = (range - bound) >>> 0;
      code = (code - bound) >>> 0;
      np = prob - (prob >>> 5);
      r = 1;
    }
    b[p] = np & 0xff;
    b[p + 1] = (np >>> 8) & 0xff;
    if (range < 0x1000000) {
      code = ((code << 8) | b[p0]!) >>> 0;
      p0++;
      range = (range << 8) >>> 0;
    }
    return r;
  };
  const tree = (base: number, n: number): number => {
    let m = 1;
    for (let i = 0; i < n && !failed; i++) m = 2 * m + bit(base + 2 * m);
    return m - (1 << n);
  };
  const reverse = (base: number, n: number): number => {
    let m = 1, v = 0;
    for (let i = 0; i < n && !failed; i++) {
      const x = bit(base + 2 * m);
      m = 2 * m + x;
      v = (v | (x << (i & 31))) >>> 0;
    }
    return v;
  };
  const direct = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) {
      range >>>= 1;
      v = (v << 1) >>> 0;
      if (code >= range) { code = (code - range) >>> 0; v |= 1; }
      if (range < 0x1000000) {
        if (!inside(p0, 1)) { failed = true; return 0; }
        code = ((code << 8) | b[p0++]!) >>> 0;
        range = (range << 8) >>> 0;
      }
    }
    return v;
  };
  const length = (base: number, ps: number): number => {
    if (!bit(base)) return tree(base + 4 + (ps << 4), 3);
    if (!bit(base + 2)) return tree(base + 0x104 + (ps << 4), 3) + 8;
    return tree(base + 0x204, 8) + 0x10;
  };
  // ClamAV re-initialises the table for every block header; more blocks than any MEW file has are
  // refused here so that a file of empty headers cannot keep the decoder busy.
  for (let blocks = 0; ; blocks++) {
    if (blocks > 4096) return false;
    s = next;
    if (!special) {
      if (!inside(s, 16)) return false;
      if (u32(b, s) === 0) return true;
    } else if (!inside(s, 12)) return false;
    const size = u32(b, s);
    const out = (u32(b, s + 4) - vma) >>> 0;
    const csize = u32(b, s + 8);
    const stream = s + 13;
    next = stream + csize;
    if (!inside(probs, 0x6e6c)) return false;
    b[probs] = 0; b[probs + 1] = 4; b[probs + 2] = 0; b[probs + 3] = 4;
    for (let n = 4; n < 0x6e6c; n *= 2) b.copyWithin(probs + n, probs, probs + Math.min(n, 0x6e6c - n));
    if (!inside(stream, 5)) return false;
    code = ((b[stream + 1]! << 24) | (b[stream + 2]! << 16) | (b[stream + 3]! << 8) | b[stream + 4]!) >>> 0;
    range = 0xffffffff;
    p0 = stream + 5;
    if (size === 0) continue;
    let state = 0, pos = 0, afterMatch = false, prev = 0;
    let rep0 = 1, rep1 = 1, rep2 = 1, rep3 = 1;
    while (pos < size) {
      const ps = pos & 3;
      const isMatch = bit(probs + ((state << 4) + ps) * 2);
      if (failed) return false;
      let len: number;
      if (isMatch) {
        afterMatch = true;
        const isRep = bit(probs + state * 2 + 0x180);
        if (failed) return false;
        if (!isRep) {
          rep3 = rep2; rep2 = rep1; rep1 = rep0;
          state = state >= 7 ? 10 : 7;
          len = length(probs + 0x664, ps);
          const slot = tree(probs + 0x360 + (Math.min(len, 3) << 7), 6);
          if (failed) return false;
          if (slot < 4) rep0 = slot;
          else {
            const nd = (slot >> 1) - 1;
            rep0 = (((slot & 1) | 2) << nd) >>> 0;
            if (slot >= 14) {
              rep0 = (rep0 + (direct(nd - 4) << 4)) >>> 0;
              if (failed) return false;
              rep0 = (rep0 + reverse(probs + 0x644, 4)) >>> 0;
            } else rep0 = (rep0 + reverse(probs + ((rep0 - slot) >>> 0) * 2 + 0x55e, nd)) >>> 0;
            if (failed) return false;
          }
          rep0 = (rep0 + 1) >>> 0;
        } else {
          if (bit(probs + state * 2 + 0x198)) {
            let d: number;
            if (failed) return false;
            if (bit(probs + state * 2 + 0x1b0)) {
              if (failed) return false;
              if (bit(probs + state * 2 + 0x1c8)) { d = rep3; rep3 = rep2; } else d = rep2;
              rep2 = rep1;
            } else d = rep1;
            if (failed) return false;
            rep1 = rep0;
            rep0 = d;
          } else {
            if (failed) return false;
            const long = bit(probs + (((state + 0xf) << 4) + ps) * 2);
            if (failed) return false;
            if (!long) {
              state = state >= 7 ? 11 : 9;
              const from = out + ((pos - rep0) >>> 0);
              if (!inside(from, 1)) return false;
              prev = b[from]!;
              if (!inside(out + pos, 1)) return false;
              b[out + pos] = prev;
              pos++;
              continue;
            }
          }
          len = length(probs + 0xa68, ps);
          state = state >= 7 ? 11 : 8;
        }
        if (failed) return false;
        if (!rep0) break;
        let n = (len + 2) >>> 0;
        let from = (pos - rep0) >>> 0;
        const left = size - pos;
        if ((n < left && (!inside(out + from, n) || !inside(out + pos, n))) || !inside(out + from, left) || !inside(out + pos, left)) return false;
        do {
          prev = b[out + from]!;
          b[out + pos] = prev;
          pos++; from++; n--;
        } while (n > 0 && pos < size);
      } else {
        const base = probs + 0xe6c + (prev >> 4) * 0x600;
        state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        let sym = 1;
        if (!afterMatch) {
          while (sym < 0x100 && !failed) sym = 2 * sym | bit(base + 2 * sym);
        } else {
          const at = out + ((pos - rep0) >>> 0);
          if (!inside(at, 1)) return false;
          let mb = b[at]!;
          let mbit = mb >> 7;
          mb = (mb << 1) & 0xff;
          let x = bit(base + (mbit << 9) + 0x202);
          sym = x | 2;
          while (mbit === x && sym < 0x100 && !failed) {
            mbit = mb >> 7;
            mb = (mb << 1) & 0xff;
            x = bit(base + (((mbit + 1) << 8) + sym) * 2);
            sym = 2 * sym | x;
          }
          while (sym < 0x100 && !failed) sym = 2 * sym | bit(base + 2 * sym);
          afterMatch = false;
        }
        if (failed) return false;
        prev = sym & 0xff;
        if (!inside(out + pos, 1)) return false;
        b[out + pos] = prev;
        pos++;
      }
    }
    if (special) {
      // The call fix-up over the block's output (ClamAV's reading of MEW's filter).
      if (fixLen < 5 || !inside(out, fixLen)) return true;
      for (let i = 0; i < fixLen - 5; i++) {
        const c = b[out + i];
        if (c !== 0xe8 && c !== 0xe9) continue;
        const a = out + i + 1;
        const v = u32(b, a);
        const w = (((v & 0xff) << 24) | ((v >>> 8 & 0xff) << 16) | ((v >>> 16 & 0xff) << 8) | (v >>> 24)) - i - 1;
        b[a] = w & 0xff; b[a + 1] = (w >>> 8) & 0xff; b[a + 2] = (w >>> 16) & 0xff; b[a + 3] = (w >>> 24) & 0xff;
        i += 4;
      }
      return true;
    }
  }
}
