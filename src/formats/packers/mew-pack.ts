/**
 * A MEW 11-style packer for tests (its aPLib-style coder): sections → a PE32 ClamAV 1.4 unpacks.
 *
 * In: the original sections (placed from RVA 0x1000, 4 KiB apart), the original entry point and
 * where the loader sits (file offset 0x154 or 0x158, inside the section table as MEW puts it).
 * Out: a PE with the headers at 0x40, a virtual-only section the size of the image and a packed
 * section holding the block the loader's `mov esi` points at (entry point, first destination,
 * one stream per section each followed by the next destination, 0 at the end) and the entry
 * point's `jmp` to the loader. Not a working loader.
 *
 * Why: no such packer is installed where samples are made; tests build them from code.
 */
import { fsgEncode } from './fsg-pack.js';
import type { UpxSection } from './upx-pack.js';

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

export function mewPack(sections: readonly UpxSection[], entry = 0x1000, loaderAt: 0x154 | 0x158 = 0x154, imageBase = 0x400000): Uint8Array {
  const offsets: number[] = [];
  let span = 0;
  for (const s of sections) {
    offsets.push(span);
    span += alignUp(Math.max(s.vsize ?? 0, s.data.length, 1), 0x1000);
  }
  const block: number[] = [0, 0, 0, 0];
  const dword = (v: number): void => { block.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24); };
  dword(imageBase + entry);
  dword(imageBase + 0x1000);
  sections.forEach((s, i) => {
    block.push(...fsgEncode(s.data.length ? s.data : new Uint8Array(1), false));
    dword(i + 1 < sections.length ? imageBase + 0x1000 + offsets[i + 1]! : 0);
  });
  const off = 0x10;
  const epAt = alignUp(off + block.length, 16);
  const s1Raw = alignUp(epAt + 0x40, 0x200);
  const s0V = alignUp(Math.max(span, 0x1000), 0x1000);
  const s1Rva = 0x1000 + s0V;
  const ep = s1Rva + epAt;
  const out = new Uint8Array(0x200 + s1Raw);
  const o = new DataView(out.buffer);
  out.set([0x4d, 0x5a], 0);
  const pe = 0x40;
  o.setUint32(0x3c, pe, true);
  out.set([0x50, 0x45, 0, 0], pe);
  o.setUint16(pe + 4, 0x14c, true);
  o.setUint16(pe + 6, 2, true);
  o.setUint16(pe + 20, 0xe0, true);
  o.setUint16(pe + 22, 0x010f, true);
  const opt = pe + 24;
  o.setUint16(opt, 0x10b, true);
  o.setUint32(opt + 16, ep, true);
  o.setUint32(opt + 28, imageBase, true);
  o.setUint32(opt + 32, 0x1000, true);
  o.setUint32(opt + 36, 0x200, true);
  o.setUint16(opt + 40, 4, true);
  o.setUint16(opt + 48, 4, true);
  o.setUint32(opt + 56, s1Rva + alignUp(s1Raw, 0x1000), true);
  o.setUint32(opt + 60, 0x200, true);
  o.setUint16(opt + 68, 2, true);
  o.setUint32(opt + 92, 16, true);
  const table: [string, number, number, number, number][] = [['MEW', 0x1000, s0V, 0, 0], ['.mew', s1Rva, alignUp(s1Raw, 0x1000), 0x200, s1Raw]];
  table.forEach(([name, rva, vsize, raw, size], i) => {
    const h = pe + 0xf8 + 0x28 * i;
    for (let k = 0; k < name.length; k++) out[h + k] = name.charCodeAt(k);
    o.setUint32(h + 8, vsize, true);
    o.setUint32(h + 12, rva, true);
    o.setUint32(h + 16, size, true);
    o.setUint32(h + 20, raw, true);
    o.setUint32(h + 36, 0xe0000060, true);
  });
  // The loader's first instruction, over fields of the first section header ClamAV does not read.
  out[loaderAt] = 0xbe;
  o.setUint32(loaderAt + 1, imageBase + s1Rva + off, true);
  out.set(block, 0x200 + off);
  out[0x200 + epAt] = 0xe9;
  o.setUint32(0x200 + epAt + 1, (loaderAt - ep - 5) >>> 0, true);
  return out;
}
