/**
 * An NsPack-style packer for tests: an image's sections → a packed PE32 that ClamAV 1.4 unpacks.
 *
 * In: the original sections (data and optional virtual size), a raw LZMA compressor (the caller
 * passes one, e.g. xz's) and options (the properties the stream was made with, the entry point
 * reached through a `jmp`, the packed data's first dword zero, the first section without raw
 * data as NsPack leaves it). Out: a PE of two sections: `nsp0`, as large as the whole image, and
 * `nsp1` with the loader bytes ClamAV reads (at the entry point: the loader's start, the dword at
 * +17 locating the pointer to the packed data, the `jmp` to the original entry point at + 0x27a)
 * and the packed data (properties byte, sizes, stream). The loader is not a working one.
 *
 * Why: no packer is installed where samples are made; tests build them from code.
 */
import { buildPe, type PeSectionSpec } from './aspack-pack.js';

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

export interface NspackSection {
  name?: string;
  data: Uint8Array;
  vsize?: number;
}

export interface NspackPackOptions {
  /** Makes a raw LZMA stream of the image with these properties. */
  compress: (data: Uint8Array, props: { lc: number; lp: number; pb: number }) => Uint8Array;
  props?: { lc: number; lp: number; pb: number };
  /** A `jmp` at the entry point leading to the loader ("bitched headers"). */
  jump?: boolean;
  /** The packed data starts with a zero dword (skipped). */
  zeroDword?: boolean;
  /** A properties byte other than the stream's (the stream then decodes to something else, or fails). */
  propsByte?: number;
  /** `nsp0` without raw data (NsPack's own layout; ClamAV's UPX branch looks at it first). */
  emptyFirst?: boolean;
  imageBase?: number;
}

/** The image NsPack's first section holds: the sections at their addresses from its start. */
export function nspackImage(sections: readonly NspackSection[]): Uint8Array {
  const size = sections.reduce((a, s) => a + alignUp(Math.max(s.vsize ?? 0, s.data.length, 1), 0x1000), 0);
  const img = new Uint8Array(size);
  let at = 0;
  for (const s of sections) {
    img.set(s.data, at);
    at += alignUp(Math.max(s.vsize ?? 0, s.data.length, 1), 0x1000);
  }
  return img;
}

/** Packs the sections; `entry` is the original entry point's RVA. */
export function nspackPack(sections: readonly NspackSection[], entry: number, opts: NspackPackOptions): Uint8Array {
  const props = opts.props ?? { lc: 3, lp: 0, pb: 2 };
  const image = nspackImage(sections);
  const stream = opts.compress(image, props);
  const nsp1 = 0x1000 + image.length;
  // nsp1: [jmp at 0x10 when asked] pointer at 0xe0, loader at 0x100, jmp to the entry at 0x37a, data at 0x400.
  const loaderOff = 0x100, dataOff = 0x400;
  const head = opts.zeroDword ? 4 : 0;
  const ssize = 13 + stream.length;
  const raw = new Uint8Array(alignUp(dataOff + head + (ssize | 0xff) + 1, 0x200)).fill(0x90);
  const dv = new DataView(raw.buffer);
  raw.set([0x9c, 0x60, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x5d, 0xb8, 0x07, 0x00, 0x00, 0x00], loaderOff);
  const nowinldr = 0x20;
  dv.setInt32(loaderOff + 17, 0x54 - nowinldr, true);
  dv.setInt32(loaderOff - nowinldr, dataOff - loaderOff, true);
  raw[loaderOff + 0x27a] = 0xe9;
  dv.setInt32(loaderOff + 0x27a + 1, entry - (nsp1 + loaderOff + 0x27a + 5), true);
  let at = dataOff;
  if (head) { dv.setUint32(at, 0, true); at += 4; }
  raw[at] = opts.propsByte ?? (props.pb * 5 + props.lp) * 9 + props.lc;
  dv.setUint32(at + 1, 0x4e53504b, true);
  dv.setUint32(at + 5, ssize, true);
  dv.setUint32(at + 9, image.length, true);
  raw.set(stream, at + 13);
  let vep = nsp1 + loaderOff;
  if (opts.jump) {
    raw[0x10] = 0xe9;
    dv.setInt32(0x11, loaderOff - 0x15, true);
    vep = nsp1 + 0x10;
  }
  const specs: PeSectionSpec[] = [
    { name: 'nsp0', data: opts.emptyFirst ? new Uint8Array(0) : new Uint8Array(0x200), vsize: image.length, rva: 0x1000 },
    { name: 'nsp1', data: raw, vsize: alignUp(raw.length, 0x1000), rva: nsp1 },
  ];
  return buildPe(specs, vep, { imageBase: opts.imageBase ?? 0x400000 }).bytes;
}
