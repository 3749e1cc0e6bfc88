/**
 * Upack-packed executables → the rebuilt image, as ClamAV 1.4 unpacks them (`unupack`).
 *
 * In: the bytes of a PE layer and ClamAV's view of it (./upx.ts `scanpeInfo`). Out: the branch's
 * outcome (the rebuilt PE, a size limit, 'next' when ClamAV goes on to FSG, 'stop' when the entry
 * point has fewer than 168 bytes behind it, where `cli_scanpe` returns before Upack).
 *
 * Recognised (ClamAV's `cli_scanpe`, after MEW): three sections and a SizeOfOptionalHeader of
 * 0x148 (Upack 0.39's "three sections" form) with `mov esi, <address past the first section>`
 * then `lodsd; push eax` (or `push [esi]`) at the entry; or two sections, the first virtual-only,
 * with `pusha; call $+9` (0.39's two-section form) or `mov esi, <address in the headers>; lodsd;
 * mov edi, eax` (1.1/1.2). The image is read into one buffer (three sections: the file's start,
 * copied again where the third section lies, then the second section; two sections: the file's
 * start, then the second section at its RVA). The loader's code is followed through the jumps
 * and fields ClamAV reads (short and long jumps, `jecxz`, `mov ch`, `shr ebp, n` giving the
 * literal context bits, tables of addresses) to find the decoder's state, the compressed stream,
 * the output range and the call fix-up count and marker; then Upack's LZMA-like coder (32-bit
 * probabilities, no position states, a 4-byte window on the input) fills the output range, the
 * `call`/`jmp` operands carrying the marker are made relative again, and the output range
 * becomes the one section of a rebuilt PE (ClamAV's `cli_rebuildpe`).
 *
 * Every address, pointer step and bounds check follows ClamAV's arithmetic (32-bit wrap where its
 * values are 32-bit, sign where it reads signed), so damaged files fail, or decode, as in ClamAV;
 * a decoder bit read outside the buffer counts as a 1 where ClamAV does not check it.
 *
 * Why: ClamAV scans the unpacked image as a child layer. Never throws; work is bounded by the
 * buffer (the sections' virtual sizes, themselves bounded by MaxFileSize).
 */
import type { UnpackContext } from '../unpack.js';
import { rebuildPe } from './fsg.js';
import { sizeLimit, type PackerOutcome, type ScanpeInfo } from './upx.js';

const FAIL = 0xffffffff;
const V399 = 0, V11 = 1, V0151477 = 2, V0297729 = 3;

const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const s32 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
function w32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; b[o + 2] = (v >>> 16) & 0xff; b[o + 3] = (v >>> 24) & 0xff;
}
const bswap = (v: number): number => (((v & 0xff) << 24) | ((v >>> 8 & 0xff) << 16) | ((v >>> 16 & 0xff) << 8) | (v >>> 24)) >>> 0;
const i8 = (v: number): number => (v << 24) >> 24;
/** ClamAV's `CLI_ISCONTAINED_0_TO`. */
const within = (total: number, sb: number, size: number): boolean => total > 0 && size > 0 && size <= total && sb + size <= total && sb < total;

/** The Upack branch of `cli_scanpe` (with the 168-byte entry check that comes before it). */
export function upackStep(bytes: Uint8Array, info: ScanpeInfo, found: boolean, ctx: UnpackContext): PackerOutcome {
  const { sections, epbuff, imageBase: base, min, ep } = info;
  if (epbuff.length < 168) return 'stop';
  const upack = info.lfanew + 22 <= bytes.length && (bytes[info.lfanew + 20]! | (bytes[info.lfanew + 21]! << 8)) === 0x148;
  if (!found && !upack) return 'next';
  const n = sections.length;
  const esiArg = s32(epbuff, 1);
  const esiRva = (esiArg - base) >>> 0;
  const three = upack && n === 3 && epbuff[0] === 0xbe && esiRva > min && ((epbuff[5] === 0xad && epbuff[6] === 0x50) || (epbuff[5] === 0xff && epbuff[6] === 0x36));
  const two = !upack && n === 2 && ((epbuff[0] === 0x60 && epbuff[1] === 0xe8 && s32(epbuff, 2) === 9) ||
    (epbuff[0] === 0xbe && esiRva < min && esiArg > (base | 0) && epbuff[5] === 0xad && epbuff[6] === 0x8b && epbuff[7] === 0xf8));
  if (!three && !two) return 'next';
  const s0 = sections[0]!, s1 = sections[1]!;
  let c: number, ssize: number, off: number, vma: number;
  if (upack) {
    const s2 = sections[2]!;
    c = s2.vsz;
    ssize = (s0.ursz + s0.uraw) >>> 0;
    off = s0.rva;
    vma = (base + s0.rva) >>> 0;
  } else {
    c = s1.rva;
    ssize = s1.uraw;
    off = 0;
    vma = (s1.rva - s1.uraw) >>> 0;
  }
  const dsize = (s0.vsz + s1.vsz + c) >>> 0;
  const limited = sizeLimit(Math.max(dsize, ssize, s1.ursz), ctx);
  if (limited) return limited;
  const at1 = (s1.rva - off) >>> 0;
  const at2 = upack ? (sections[2]!.rva - s0.rva) >>> 0 : 0;
  if (!within(dsize, at1, s1.ursz) || (upack && !within(dsize, at2, ssize)) || ssize > dsize) return 'next';
  if (dsize > 1024 * 1024 * 1024) return 'stop';
  if (ssize > bytes.length) return 'next';
  const dest = new Uint8Array(dsize);
  dest.set(bytes.subarray(0, ssize), 0);
  if (upack) dest.copyWithin(at2, 0, ssize);
  if (s1.uraw + s1.ursz > bytes.length) return 'next';
  dest.set(bytes.subarray(s1.uraw, s1.uraw + s1.ursz), at1);
  const pe = unupack(upack, dest, epbuff, vma, ep, base, s0.rva);
  return pe ? { data: pe } : 'next';
}

/** ClamAV's `unupack`: the rebuilt PE, or undefined where it fails. `dest` is changed. */
function unupack(upack: boolean, dest: Uint8Array, buff: Uint8Array, vma: number, ep: number, base: number, va: number): Uint8Array | undefined {
  const dsize = dest.length;
  const inside = (o: number, n: number): boolean => n > 0 && n <= dsize && o >= 0 && o + n <= dsize;
  let version = V399;
  let esi: number, edi: number, ebx: number, end: number, pushed: number, paddr: number;
  let alvalue: number, count: number, shl: number, save3 = 0, originalEp: number;
  const ecx = 0; // ClamAV's loc_ecx: 0 whenever the decoder starts
  if (upack) {
    if (buff[5] === 0xff && buff[6] === 0x36) version = V0297729;
    esi = (s32(buff, 1) - vma) >>> 0;
    if (!inside(esi, 12)) return undefined;
    originalEp = (u32(dest, esi) - vma) >>> 0;
    esi += 8;
    let lngjmp: number;
    edi = 0;
    if (version === V399) {
      edi = (u32(dest, esi) - vma) >>> 0;
      if (!inside(ep + 0xa, 2) || dest[ep + 0xa] !== 0xeb) return undefined;
      esi = i8(dest[ep + 0xb]!) + ep + 0xc;
      alvalue = esi + 0x1a;
      if (!inside(alvalue, 2) || dest[alvalue] !== 0xeb) return undefined;
      alvalue++;
      alvalue += dest[alvalue]! + 1 + 0xa;
      lngjmp = 8;
    } else {
      if (!inside(ep + 7, 5) || dest[ep + 7] !== 0xe9) return undefined;
      esi = s32(dest, ep + 8) + ep + 0xc;
      alvalue = esi + 0x25;
      lngjmp = 10;
    }
    if (!inside(alvalue, 2) || dest[alvalue] !== 0xb5) return undefined;
    alvalue++;
    count = dest[alvalue]!;
    if (!inside(alvalue, lngjmp + 5) || dest[alvalue + lngjmp] !== 0xe9) return undefined;
    let head = u32(dest, alvalue + lngjmp + 1);
    head = version === V399 ? (head + esi + i8(dest[esi + 0x1b]!) + 0x1c + 0x18) >>> 0 : (head + esi + 0x35) >>> 0;
    alvalue = head + 43;
    let aljump = 8, shroff = 24;
    if (!inside(alvalue - 1, 2) || dest[alvalue - 1] !== 0xe3) {
      alvalue = head + 46;
      if (!inside(alvalue - 1, 2) || dest[alvalue - 1] !== 0xe3) return undefined;
      if (version !== V0297729) version = V0151477;
      aljump = 7;
      shroff = 26;
    }
    alvalue += dest[alvalue]! + 1;
    if (!inside(alvalue, aljump + 5) || dest[alvalue + aljump] !== 0xe9) return undefined;
    alvalue += (u32(dest, alvalue + aljump + 1) + aljump + 1 + 4 + 27) >>> 0;
    if (version === V0297729) alvalue += 2;
    if (!inside(head + shroff, 3) || dest[head + shroff] !== 0xc1 || dest[head + shroff + 1] !== 0xed) return undefined;
    shl = dest[head + shroff + 2]!;
    count *= 0x100;
    if (shl < 2 || shl > 8) return undefined;
    if (version === V0297729) {
      if (!inside(esi + 6, 10) || dest[esi + 6] !== 0xbe || dest[esi + 11] !== 0xbf) return undefined;
      const v = u32(dest, esi + 7);
      if (v < base || v > vma) return undefined;
      edi = (s32(dest, esi + 12) - vma) >>> 0;
      esi = (s32(dest, esi + 7) - base) >>> 0;
    } else {
      if (!inside(esi + 7, 5) || dest[esi + 7] !== 0xbe) return undefined;
      esi = (u32(dest, esi + 8) - vma) >>> 0;
    }
    const dwords = version === V0297729 ? 0x16 : 0x27;
    const last = version === V0297729 ? 0x64 : 0x34;
    if (!inside(edi, dwords * 4 + 24 + 4 * count) || !inside(esi, dwords * 4 + last + 4)) return undefined;
    for (let j = 0; j < dwords; j++, esi += 4, edi += 4) w32(dest, edi, u32(dest, esi));
    save3 = u32(dest, esi + 4);
    paddr = u32(dest, edi - 4) - vma;
    ebx = edi;
    edi = initState(dest, edi, count);
    edi = s32(dest, esi + 0xc) - vma;
    if (version === V0297729) edi = vma - base;
    pushed = edi;
    if (version === V0297729) {
      end = s32(dest, esi + 0x64) - vma;
      save3 = u32(dest, esi + 0x40);
    } else end = s32(dest, esi + 0x34) - vma;
    if (edi > end) return undefined;
    if (decode(dest, 0, ebx, 0, edi, end, shl, paddr) === FAIL) return undefined;
  } else {
    esi = vma + ep;
    if (buff[0] === 0xbe && buff[5] === 0xad && buff[6] === 0x8b && buff[7] === 0xf8) version = V11;
    const jmpOffs = version === V11 ? 0x1a4 : 0x217;
    const stosdOffs = version === V11 ? 0x1b : 0x3a;
    const ctxOffs = version === V11 ? 0x41 : 0x5f;
    alvalue = esi + (version === V11 ? 0x184 : 0x1c1);
    if (!inside(esi, jmpOffs + 4)) return undefined;
    originalEp = (esi + jmpOffs + 4 + s32(dest, esi + jmpOffs)) >>> 0;
    count = dest[esi + stosdOffs]!;
    shl = (8 - dest[esi + ctxOffs]!) >>> 0;
    if (shl < 2 || shl > 8) return undefined;
    count *= 0x100;
    if (version === V399) {
      esi += 4;
      const back = u32(dest, esi + 2);
      w32(dest, esi + 2, 0);
      if (!back) return undefined;
      esi -= (back - 2) >>> 0;
      if (!inside(esi, 12)) return undefined;
      const ebxU = (esi - (s32(dest, esi) - base)) >>> 0;
      esi += 4;
      let save2 = s32(dest, esi) - base;
      edi = save2;
      esi += 4;
      const j = s32(dest, esi);
      if (j < 0) return undefined;
      esi += 4;
      if ((count + j) * 4 > 0xffffffff) return undefined;
      if (!inside(esi, j * 4) || !inside(edi, (j + count) * 4)) return undefined;
      for (let k = 0; k < j; k++, edi += 4, esi += 4) w32(dest, edi, u32(dest, esi));
      if (!inside(save2, 8)) return undefined;
      const steps = u32(dest, save2);
      save2 += 4;
      esi = save2 + (steps || 0x100000000) * (ebxU + 4);
      if (!inside(esi, 4)) return undefined;
      const fill = u32(dest, esi);
      esi += 4;
      for (let k = 0; k < count; k++, edi += 4) w32(dest, edi, fill);
      if (!inside(esi + 0x10, 4)) return undefined;
      w32(dest, esi + 0x10, u32(dest, esi + 0x10) + ebxU);
      ebx = esi + 0x14;
      esi = save2;
      edi = u32(dest, esi) - base;
      esi += 4;
      if (!inside(ebx - 4, 28) || !inside(esi + 0x24, 4) || !inside(esi + 0x40, 4)) return undefined;
      paddr = s32(dest, ebx - 4) - base;
      pushed = edi;
      end = s32(dest, esi + 0x24) - base;
      const t = u32(dest, ebx);
      w32(dest, ebx, u32(dest, ebx + 4));
      w32(dest, ebx + 4, t);
    } else {
      // The addresses sit at fixed places in the headers.
      if (dsize < 0x15c) return undefined;
      edi = s32(dest, 0x148) - base;
      paddr = u32(dest, 0x14c) - base;
      edi += 4;
      ebx = edi;
      if (!inside(edi, (6 + count) * 4)) return undefined;
      initState(dest, edi, count);
      edi = s32(dest, 0x150) - base;
      pushed = edi;
      end = s32(dest, 0x130) - base;
    }
    if (edi > end) return undefined;
    if (decode(dest, ecx, ebx, ecx, edi, end, shl, paddr) === FAIL) return undefined;
    save3 = version === V399 ? u32(dest, esi + 0x40) : u32(dest, vma + ep + 0x174);
  }
  // The call fix-up: operands starting with the marker byte hold big-endian absolute targets.
  if (!inside(alvalue, 1)) return undefined;
  const marker = dest[alvalue]!;
  let k = 0;
  while (save3) {
    if (!inside(pushed + k, 1)) return undefined;
    const op = dest[pushed + k];
    if (op === 0xe8 || op === 0xe9) {
      const adr = pushed + k + 1;
      k++;
      if (!inside(adr, 4)) return undefined;
      const v = u32(dest, adr);
      if ((v & 0xff) !== marker) continue;
      w32(dest, adr, (bswap(v & 0xffffff00) - k - 4) >>> 0);
      k += 4;
      save3--;
    } else k++;
  }
  const rsz = (end - pushed) >>> 0;
  if ((!upack && ((va + rsz) >>> 0) > dsize) || (upack && rsz > dsize)) return undefined;
  const from = upack ? 0 : va;
  return rebuildPe(dest.subarray(from), [{ raw: 0, rva: va, rsz, vsz: rsz }], base, originalEp);
}

/** The decoder's state as the loaders set it: range, low, four distances of 1, `count` probabilities. Returns the end. */
function initState(dest: Uint8Array, at: number, count: number): number {
  w32(dest, at, 0xffffffff);
  w32(dest, at + 4, 0);
  for (let j = 0; j < 4; j++) w32(dest, at + 8 + 4 * j, 1);
  const start = at + 24;
  for (let j = 0; j < count; j++) w32(dest, start + 4 * j, 0x400);
  return start + 4 * count;
}

/**
 * Upack's coder (ClamAV's `unupack399`): fills `dest[edi, end)`; FAIL where ClamAV gives up.
 * Registers are kept as ClamAV's emulation keeps them (their high bits included).
 */
function decode(dest: Uint8Array, initEax: number, ebx: number, initEcx: number, initEdi: number, end: number, shl: number, paddr: number): number {
  const bl = dest.length;
  const inside = (o: number, n: number): boolean => n > 0 && n <= bl && o >= 0 && o + n <= bl;
  if (!inside(ebx, 24)) return FAIL;
  let p0 = paddr;
  let range = u32(dest, ebx), low = u32(dest, ebx + 4);
  const st = [0, 0, u32(dest, ebx + 8), u32(dest, ebx + 12), u32(dest, ebx + 16), u32(dest, ebx + 20)];
  /** One bit with the probability at `p`: 0, 1, or FAIL. */
  const bit = (p: number): number => {
    if (p < 0 || p + 4 > bl || p0 < 0 || p0 + 4 > bl) return FAIL;
    const prob = (dest[p]! | (dest[p + 1]! << 8) | (dest[p + 2]! << 16) | (dest[p + 3]! << 24)) >>> 0;
    const bound = Math.imul(range >>> 11, prob) >>> 0;
    const code = (((dest[p0]! << 24) | (dest[p0 + 1]! << 16) | (dest[p0 + 2]! << 8) | dest[p0 + 3]!) - low) >>> 0;
    let r: number;
    if (code < bound) {
      range = bound;
      w32(dest, p, prob + (((0x800 - prob) >>> 0) >>> 5));
      r = 0;
    } else {
      low = (low + bound) >>> 0;
      range = (range - bound) >>> 0;
      w32(dest, p, prob - (prob >>> 5));
      r = 1;
    }
    if (!(range & 0xff000000)) {
      low = (low << 8) >>> 0;
      range = (range << 8) >>> 0;
      p0++;
    }
    return r;
  };
  /** A bit tree from node `eax` at `base` until the node reaches `limit`; the node minus `limit`. */
  const tree = (eax: number, limit: number, base: number): number => {
    do {
      const r = bit(base + ((eax << 2) >>> 0));
      if (r === FAIL) return FAIL;
      eax = (eax * 2 + r) >>> 0;
    } while (eax < limit);
    return (eax - limit) >>> 0;
  };
  let ecxOut = 0;
  /** A length: choice bits, then the tree they select (its bit count left in `ecxOut`). */
  const length = (eax: number, ecx: number, edx: number): number => {
    ecx = ((ecx & 0xffffff00) | 8) >>> 0;
    const r = bit(edx);
    edx += 4;
    eax = ((eax & 0xffffff00) | 1) >>> 0;
    if (r) {
      const r2 = bit(edx);
      eax = (eax | 8) >>> 0;
      if (r2) {
        ecx = (ecx << 5) >>> 0;
        eax = 0x11;
      }
    }
    ecxOut = ecx;
    const v = tree(1, ecx, edx + ((eax << 2) >>> 0));
    if (v === FAIL) return FAIL;
    return (eax + v) >>> 0;
  };
  let eaxCopy = initEax, ecx = initEcx, edi = initEdi, eax = 0, ebp = 0;
  do {
    eax = eaxCopy;
    let edx = ebx + ((eax << 2) >>> 0) + 0x58;
    if (bit(edx)) {
      eax = ((eax & 0xffffff00) | ((eax & 0xff) >= 7 ? 11 : 8)) >>> 0;
      ebp = st[2]!;
      ecx = ((ecx & 0xffffff00) | 0x30) >>> 0;
      edx += ecx;
      if (!bit(edx)) {
        eax = (eax - 1) >>> 0;
        const t = ebp;
        ebp = st[4]!;
        st[4] = st[3]!;
        st[3] = t;
        eaxCopy = eax;
        st[5] = ebp;
        const len = length(eax, ecx, ebx + 0xbc0);
        if (len === FAIL) return FAIL;
        let lps = (len - 1) >>> 0;
        if (lps >= 3) lps = 3;
        const slot = tree(1, 0x40, ebx + ((lps << 8) >>> 0) + 0x378);
        if (slot === FAIL) return FAIL;
        ebp = slot;
        if ((slot & 0xff) >= 4) {
          ebp = 2 + (slot & 1);
          let nd = ((slot >>> 1) - 1) >>> 0;
          ebp = (ebp << (nd & 31)) >>> 0;
          edx = ebx + ((ebp << 2) >>> 0) + 0x178;
          if ((nd & 0xff) > 5) {
            nd = ((nd & 0xffffff00) | (((nd & 0xff) - 4) & 0xff)) >>> 0;
            let v = 0;
            do {
              if (!inside(p0, 4)) return FAIL;
              const code = (bswap(u32(dest, p0)) - low) >>> 0;
              range >>>= 1;
              v = (v << 1) >>> 0;
              if (code >= range) {
                v = (v + 1) >>> 0;
                low = (low + range) >>> 0;
              }
              if (!(range & 0xff000000)) {
                low = (low << 8) >>> 0;
                range = (range << 8) >>> 0;
                p0++;
              }
              nd = (nd - 1) >>> 0;
            } while (nd);
            nd = 4;
            ebp = (ebp + ((v << 4) >>> 0)) >>> 0;
            edx = ebx + 0x18;
          }
          let v = tree(1, (1 << (nd & 31)) >>> 0, edx);
          if (v === FAIL) return FAIL;
          // The tree's bits taken in reverse order.
          let rev = (v | 0) >> 31 >>> 0;
          let m = nd;
          do {
            rev = (rev * 2 + (v & 1)) >>> 0;
            v >>>= 1;
            m = (m - 1) >>> 0;
          } while (m);
          ebp = (ebp + rev) >>> 0;
        }
        ebp = (ebp + 1) >>> 0;
        ecx = len;
      } else {
        edx += ecx;
        if (bit(edx)) {
          edx += 0x60;
          if (bit(edx)) {
            edx += ecx;
            const r = bit(edx);
            let t = ebp;
            ebp = st[4]!;
            st[4] = st[3]!;
            st[3] = t;
            if (r) {
              t = ebp;
              ebp = st[5]!;
              st[5] = t;
            }
          } else {
            const t = ebp;
            ebp = st[3]!;
            st[3] = t;
          }
        } else {
          edx += ecx;
          if (!bit(edx)) {
            // One byte at the last distance.
            eax = (eax | 1) >>> 0;
            eaxCopy = eax;
            const from = edi - st[2]!;
            ecx = ((ecx & 0xffffff00) | 0x80) >>> 0;
            if (!inside(from, 1) || !inside(edi, 1)) return FAIL;
            dest[edi++] = dest[from]!;
            continue;
          }
        }
        eaxCopy = eax;
        const len = length(eax, ecx, ebx + 0x778);
        if (len === FAIL) return FAIL;
        eax = ecxOut;
        ecx = len;
      }
      if (!inside(edi, ecx) || !inside(edi - ebp, (ecx + 1) >>> 0)) return FAIL;
      st[2] = ebp;
      for (let i = 0; i < ecx; i++, edi++) dest[edi] = dest[edi - ebp]!;
      eax = ((eax & 0xffffff00) | dest[edi - ebp]!) >>> 0;
      ecx = 0x80;
    } else {
      let al: number;
      do {
        al = eax & 0xff;
        al = al >= 3 ? al - 3 : 0;
        eax = ((eax & 0xffffff00) | al) >>> 0;
      } while (al >= 7);
      eaxCopy = eax;
      const ctx = edi > initEdi && edi < bl ? (dest[edi - 1] ?? 0) >>> shl : 0;
      const probs = ebx + ((((ctx * 0x300) << 2) + 0x1008) >>> 0);
      const at = edi;
      eax = ((eax & 0xffffff00) | 1) >>> 0;
      if (ecx) {
        let cl = ecx & 0xff;
        const mat = edi - st[2]!;
        if (!inside(mat, 1)) return FAIL;
        for (;;) {
          eax = ((eax & 0xffff00ff) | (dest[mat]! & cl ? 0x200 : 0x100)) >>> 0;
          const r = bit(probs + ((eax << 2) >>> 0));
          al = ((eax & 0xff) * 2 + r) & 0xff;
          eax = ((eax & 0xffffff00) | al) >>> 0;
          cl >>= 1;
          if (!cl) break;
          if (!((((eax >>> 8) & 0xff) - al) & 1)) {
            eax = ((eax & 0xffff0000) | al) >>> 0;
            eax = tree(eax, 0x100, probs);
            if (eax === FAIL) return FAIL;
            break;
          }
        }
      } else {
        ecx = ((ecx & 0xffff00ff) | 0x100) >>> 0;
        eax = tree(eax, ecx, probs);
        if (eax === FAIL) return FAIL;
      }
      ecx = 0;
      edi = at;
    }
    if (!inside(edi, 1)) return FAIL;
    dest[edi++] = eax & 0xff;
  } while (edi < end);
  return 1;
}
