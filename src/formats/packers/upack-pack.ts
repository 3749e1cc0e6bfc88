/**
 * An Upack-style packer for tests: sections → a PE32 that ClamAV 1.4 recognises as Upack and
 * unpacks (`unupack`), in each of the three forms ClamAV follows.
 *
 * In: the original sections (placed from RVA 0x1000, 4 KiB apart), the original entry point, the
 * form, the literal context bits and whether `call`/`jmp` operands go through Upack's fix-up.
 * Out: a PE whose entry point carries the instructions ClamAV checks, whose loader bytes hold the
 * jumps, `mov ch`, `jecxz`, `shr ebp` and `mov esi` ClamAV follows (at the offsets it reads them;
 * the rest is filler, not a working loader), with the tables of addresses, the decoder's initial
 * state and the stream made by `lzmaEncode` with Upack's probability layout (no position
 * states, the range coder's leading zero byte dropped):
 * - `three`: Upack 0.39 with three sections and a 0x148-byte optional header: the loader in the
 *   first section's raw data, stream and tables in the second, the third virtual;
 *   `three0151477`: the same with `jecxz` three bytes further (the variant ClamAV names after
 *   sample 0151477); `three0297729`: `mov esi; push [esi]` at the entry, a long jump to the loader,
 *   `mov esi`/`mov edi` there, a shorter table (in the first section, as ClamAV requires) and the
 *   output starting at the second page of the first section, as ClamAV assumes for that variant
 *   (the rebuilt section then starts one page before the image);
 * - `two`: 0.39's two-section form (`pusha; call $+9`): the loader's header and state copied into
 *   the second section's virtual tail;
 * - `v11`: 1.1/1.2 (`mov esi, base + 0x148; lodsd; mov edi, eax`): addresses in the DOS stub
 *   (the PE header moved to 0x160).
 *
 * Why: no Upack is installed where samples are made; tests build them from code.
 */
import { lzmaEncode, type LenLayout, type LzmaLayout } from './mew-pack.js';
import type { UpxSection } from './upx-pack.js';

export type UpackForm = 'three' | 'three0151477' | 'three0297729' | 'two' | 'v11';

export interface UpackOptions {
  form: UpackForm;
  /** Literal context bits (ClamAV accepts 0 to 6). Default 3. */
  lc?: number;
  /** Pass `call`/`jmp` operands through the fix-up. */
  calls?: boolean;
  imageBase?: number;
}

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

/** Upack's probability layout (indices of 32-bit probabilities after the six state dwords' start). */
export function upackLayout(lc: number): LzmaLayout {
  const len = (b: number): LenLayout => ({ choice: b, choice2: b + 1, low: () => b + 2, mid: () => b + 10, high: b + 18 });
  return {
    lc, pbMask: 0,
    isMatch: (s) => 0x16 + s, isRep: (s) => 0x22 + s, isRepG0: (s) => 0x2e + s, isRepG1: (s) => 0x46 + s, isRepG2: (s) => 0x52 + s,
    isRep0Long: (s) => 0x3a + s,
    len: len(0x2f0), repLen: len(0x1de),
    posSlot: (l) => 0xde + l * 64, specPos: (_slot, base) => 0x5e + base, align: 6,
    literal: (prev) => 0x402 + 0x300 * (prev >> (8 - lc)),
    size: 0x402 + (0x300 << lc),
  };
}

/** The image's bytes from RVA 0x1000 (sections 4 KiB apart) and its size. */
function image(sections: readonly UpxSection[]): Uint8Array {
  let span = 0;
  const at: number[] = [];
  for (const s of sections) {
    at.push(span);
    span += alignUp(Math.max(s.vsize ?? 0, s.data.length, 1), 0x1000);
  }
  const out = new Uint8Array(span);
  sections.forEach((s, i) => out.set(s.data, at[i]!));
  return out;
}

/**
 * Stores `call`/`jmp` operands the way ClamAV's fix-up reads them back (marker byte, then the
 * 24-bit target big-endian), walking as it walks; returns how many it stored.
 */
function encodeCalls(img: Uint8Array, marker: number): number {
  let n = 0;
  for (let i = 0; i + 5 <= img.length;) {
    const c = img[i];
    if (c !== 0xe8 && c !== 0xe9) { i++; continue; }
    const rel = img[i + 1]! | (img[i + 2]! << 8) | (img[i + 3]! << 16) | (img[i + 4]! << 24);
    const target = (rel + i + 5) >>> 0;
    if (target < 0x1000000) {
      img.set([marker, target >>> 16, (target >>> 8) & 0xff, target & 0xff], i + 1);
      n++;
      i += 5;
    } else if (img[i + 1] === marker) break;
    else i++;
  }
  return n;
}

interface PeSection { rva: number; vsize: number; data?: Uint8Array }

/** A PE32 with these sections, their raw data one after the other from `firstRaw`. */
function writePe(sections: readonly PeSection[], opts: { lfanew: number; optSize: number; ep: number; base: number; firstRaw: number }): Uint8Array {
  const raws: number[] = [];
  let at = opts.firstRaw;
  for (const s of sections) {
    raws.push(s.data ? at : 0);
    if (s.data) at += alignUp(s.data.length, 0x200);
  }
  const out = new Uint8Array(at);
  const o = new DataView(out.buffer);
  out.set([0x4d, 0x5a], 0);
  const pe = opts.lfanew;
  o.setUint32(0x3c, pe, true);
  out.set([0x50, 0x45, 0, 0], pe);
  o.setUint16(pe + 4, 0x14c, true);
  o.setUint16(pe + 6, sections.length, true);
  o.setUint16(pe + 20, opts.optSize, true);
  o.setUint16(pe + 22, 0x010f, true);
  const opt = pe + 24;
  o.setUint16(opt, 0x10b, true);
  o.setUint32(opt + 16, opts.ep, true);
  o.setUint32(opt + 28, opts.base, true);
  o.setUint32(opt + 32, 0x1000, true);
  o.setUint32(opt + 36, 0x200, true);
  o.setUint16(opt + 40, 4, true);
  o.setUint16(opt + 48, 4, true);
  const last = sections[sections.length - 1]!;
  o.setUint32(opt + 56, last.rva + alignUp(last.vsize, 0x1000), true);
  o.setUint32(opt + 60, opts.firstRaw, true);
  o.setUint16(opt + 68, 2, true);
  o.setUint32(opt + 92, 16, true);
  sections.forEach((s, i) => {
    const h = opt + opts.optSize + 0x28 * i;
    out.set([0x2e, 0x55, 0x70, 0x61, 0x63, 0x6b, 0x30 + i], h);
    o.setUint32(h + 8, s.vsize, true);
    o.setUint32(h + 12, s.rva, true);
    o.setUint32(h + 16, s.data ? alignUp(s.data.length, 0x200) : 0, true);
    o.setUint32(h + 20, raws[i]!, true);
    o.setUint32(h + 36, 0xe0000060, true);
    if (s.data) out.set(s.data, raws[i]!);
  });
  return out;
}

/** Packs `sections` in Upack's `form`; `entry` is the original entry point's RVA. */
export function upackPack(sections: readonly UpxSection[], entry: number, options: UpackOptions): Uint8Array {
  const base = options.imageBase ?? 0x400000;
  const lc = options.lc ?? 3;
  const img = image(sections);
  const span = img.length;
  const marker = 0x5a;
  const calls = options.calls ? encodeCalls(img, marker) : 0;
  const layout = upackLayout(lc);
  // Leading zero byte dropped; the decoder reads 4 bytes ahead.
  const late = options.form === 'three0297729';
  // That variant's output starts a page into the first section and the rebuilt section a page
  // before it: the image is followed by a page of zeros so that all of it is rebuilt.
  const coded = late ? Uint8Array.from([...img, ...new Uint8Array(0x1000)]) : img;
  // Leading zero byte dropped; the decoder reads 4 bytes ahead.
  const stream = Uint8Array.from([...lzmaEncode(coded, layout).subarray(1), 0, 0, 0, 0, 0, 0, 0, 0]);
  const count = Math.ceil((layout.size - 6) / 0x100);
  const v0 = alignUp(Math.max(span + (late ? 0x2000 : 0), 0x1000), 0x1000);
  const s1Rva = 0x1000 + v0;
  const dw = (b: Uint8Array, o: number, v: number): void => { new DataView(b.buffer, b.byteOffset).setUint32(o, v >>> 0, true); };

  if (options.form === 'three' || options.form === 'three0151477') {
    // Second section: the 12-byte block `mov esi` points at, the table, the marker, the stream.
    const X = 0, T = 0x10, MK = T + 0x35 * 4, ST = alignUp(MK + 1, 16);
    const r1 = new Uint8Array(ST + stream.length);
    const stateAt = alignUp(r1.length, 16);
    const v1 = alignUp(stateAt + 0x9c + 24 + 4 * count * 0x100, 0x1000);
    const va1 = base + s1Rva;
    dw(r1, X, base + entry);
    dw(r1, X + 8, va1 + stateAt);
    dw(r1, T + 0x26 * 4, va1 + ST);
    dw(r1, T + 0x28 * 4, calls);
    dw(r1, T + 0x2a * 4, base + 0x1000);
    dw(r1, T + 0x34 * 4, base + 0x1000 + span);
    r1[MK] = marker;
    r1.set(stream, ST);
    // First section: the loader at the entry point (file offset 0x400, RVA 0x1000).
    const l = new Uint8Array(0x200).fill(0x90);
    l[0] = 0xbe; dw(l, 1, va1 + X); l[5] = 0xad; l[6] = 0x50;
    l[0xa] = 0xeb; l[0xb] = 0;
    l[0x13] = 0xbe; dw(l, 0x14, va1 + T);
    l[0x26] = 0xeb; l[0x27] = 0;
    l[0x32] = 0xb5; l[0x33] = count;
    l[0x3b] = 0xe9; dw(l, 0x3c, 0);
    // The loader's head is at 0x40: `shr ebp` 24 (or 26) bytes in, `jecxz` 42 (or 45), then a long
    // jump that lands on the marker (dest offsets are RVAs less 0x1000, the loader at 0x400).
    const markerAt = s1Rva - 0x1000 + MK;
    if (options.form === 'three') {
      l[0x58] = 0xc1; l[0x59] = 0xed; l[0x5a] = 8 - lc;
      l[0x6a] = 0xe3; l[0x6b] = 0;
      l[0x74] = 0xe9; dw(l, 0x75, markerAt - (0x400 + 0x6c + 40));
    } else {
      l[0x5a] = 0xc1; l[0x5b] = 0xed; l[0x5c] = 8 - lc;
      l[0x6d] = 0xe3; l[0x6e] = 0;
      l[0x76] = 0xe9; dw(l, 0x77, markerAt - (0x400 + 0x6f + 39));
    }
    return writePe([{ rva: 0x1000, vsize: v0, data: l }, { rva: s1Rva, vsize: v1, data: r1 }, { rva: s1Rva + v1, vsize: 0x1000 }],
      { lfanew: 0x40, optSize: 0x148, ep: 0x1000, base, firstRaw: 0x400 });
  }

  if (late) {
    // Second section: the marker and the stream; the state in its virtual tail.
    const MK = 0, ST = 0x10;
    const r1 = new Uint8Array(ST + stream.length);
    const stateAt = alignUp(r1.length, 16);
    const v1 = alignUp(stateAt + 0x58 + 24 + 4 * count * 0x100, 0x1000);
    const va1 = base + s1Rva;
    r1[MK] = marker;
    r1.set(stream, ST);
    // First section (file 0x400, RVA 0x1000; its buffer offsets are file offsets): entry, loader
    // at +0x1c, table at +0x100, the entry's block at +0x1c0.
    const vma = base + 0x1000;
    const l = new Uint8Array(0x200).fill(0x90);
    const TB = 0x100;
    l[0] = 0xbe; dw(l, 1, vma + 0x400 + 0x1c0); l[5] = 0xff; l[6] = 0x36;
    l[7] = 0xe9; dw(l, 8, 0x10);
    l[0x22] = 0xbe; dw(l, 0x23, base + 0x400 + TB); l[0x27] = 0xbf; dw(l, 0x28, va1 + stateAt);
    l[0x41] = 0xb5; l[0x42] = count;
    l[0x4c] = 0xe9; dw(l, 0x4d, 0);
    l[0x6b] = 0xc1; l[0x6c] = 0xed; l[0x6d] = 8 - lc;
    l[0x7e] = 0xe3; l[0x7f] = 0;
    l[0x87] = 0xe9; dw(l, 0x88, (s1Rva - 0x1000 + MK) - (0x400 + 0x80 + 39 + 2));
    // The block `mov esi` at the entry points at: the original entry point.
    dw(l, 0x1c0, base + entry);
    // The table: 0x16 dwords copied (the last the stream's address), the fix-up count, the end.
    dw(l, TB + 0x15 * 4, va1 + ST);
    dw(l, TB + 0x58 + 0x40, calls);
    dw(l, TB + 0x58 + 0x64, vma + 0x1000 + coded.length);
    return writePe([{ rva: 0x1000, vsize: v0, data: l }, { rva: s1Rva, vsize: v1, data: r1 }, { rva: s1Rva + v1, vsize: 0x1000 }],
      { lfanew: 0x40, optSize: 0x148, ep: 0x1000, base, firstRaw: 0x400 });
  }

  if (options.form === 'two') {
    const H = 0x10, J = 27, E = alignUp(H + 12 + J * 4, 16), ST = E + 0x220;
    const r1 = new Uint8Array(ST + stream.length);
    const T = alignUp(r1.length, 16);
    const v1 = alignUp(T + (J + count * 0x100) * 4, 0x1000);
    const va1 = base + s1Rva;
    // The loader's header (its own address: no relocation), the table's address and length, the table.
    dw(r1, H, va1 + H);
    dw(r1, H + 4, va1 + T);
    dw(r1, H + 8, J);
    const t = new Uint8Array(J * 4);
    for (let k = 0; k < J; k++) dw(t, 4 * k, 0x400);
    dw(t, 0, 14);
    dw(t, 4, base + 0x1000);
    dw(t, 11 * 4, base + 0x1000 + span);
    dw(t, 18 * 4, calls);
    dw(t, 20 * 4, va1 + ST);
    dw(t, 21 * 4, 0);
    dw(t, 22 * 4, 0xffffffff);
    for (let k = 23; k < 27; k++) dw(t, 4 * k, 1);
    r1.set(t, H + 12);
    r1.set([0x60, 0xe8, 9, 0, 0, 0], E);
    dw(r1, E + 6, E + 6 - H);
    r1[E + 0x3a] = count;
    r1[E + 0x5f] = lc;
    r1[E + 0x1c1] = marker;
    dw(r1, E + 0x217, entry - (s1Rva + E + 0x21b));
    r1.set(stream, ST);
    return writePe([{ rva: 0x1000, vsize: v0 }, { rva: s1Rva, vsize: v1, data: r1 }], { lfanew: 0x40, optSize: 0xe0, ep: s1Rva + E, base, firstRaw: 0x200 });
  }

  // 1.1/1.2: the PE header at 0x160, the addresses at 0x130 and 0x148-0x153 in the DOS stub.
  const E = 0x10, ST = E + 0x1b0;
  const r1 = new Uint8Array(ST + stream.length);
  const W = alignUp(r1.length, 16);
  const v1 = alignUp(W + 4 + (6 + count * 0x100) * 4, 0x1000);
  const va1 = base + s1Rva;
  r1[E] = 0xbe; dw(r1, E + 1, base + 0x148); r1.set([0xad, 0x8b, 0xf8], E + 5);
  r1[E + 0x1b] = count;
  r1[E + 0x41] = lc;
  dw(r1, E + 0x174, calls);
  r1[E + 0x184] = marker;
  dw(r1, E + 0x1a4, entry - (s1Rva + E + 0x1a8));
  r1.set(stream, ST);
  const pe = writePe([{ rva: 0x1000, vsize: v0 }, { rva: s1Rva, vsize: v1, data: r1 }], { lfanew: 0x160, optSize: 0xe0, ep: s1Rva + E, base, firstRaw: 0x400 });
  dw(pe, 0x130, base + 0x1000 + span);
  dw(pe, 0x148, va1 + W);
  dw(pe, 0x14c, va1 + ST);
  dw(pe, 0x150, base + 0x1000);
  return pe;
}
