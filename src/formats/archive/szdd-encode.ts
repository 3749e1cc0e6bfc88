/**
 * An MS-SZDD encoder for tests (no packer for the format is installed): `compress.exe`'s layout
 * with a plain greedy LZSS search.
 *
 * In: data, and optionally a declared size and "missing character" byte to write in the header.
 * Out: the SZDD file bytes.
 */

/**
 * Encodes `data` as an SZDD file. Matches only reach bytes already written (so the window's
 * initial fill does not matter); `declared` overrides the size in the header and `missing` the
 * "missing character" byte.
 */
export function szdd(data: Uint8Array, opts: { declared?: number; missing?: number } = {}): Uint8Array {
  const out: number[] = [0x53, 0x5a, 0x44, 0x44, 0x88, 0xf0, 0x27, 0x33, 0x41, opts.missing ?? 0];
  const size = opts.declared ?? data.length;
  out.push(size & 0xff, (size >>> 8) & 0xff, (size >>> 16) & 0xff, (size >>> 24) & 0xff);
  return Uint8Array.from([...out, ...lzss4k(data, (at) => (at + 4096 - 16) & 4095)]);
}

/**
 * The LZSS both SZDD and LHA's `-lz5-` use: groups of eight items after a flag byte (bit set: a
 * literal byte; clear: a match of 3..18 bytes as 12 bits of window position, `posOf` the match's
 * offset in the data, and 4 bits of length - 3), matches found by a plain search of the last 4000
 * bytes.
 */
export function lzss4k(data: Uint8Array, posOf: (at: number) => number): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < data.length) {
    const flagAt = out.length;
    out.push(0);
    let flags = 0;
    for (let bit = 0; bit < 8 && i < data.length; bit++) {
      let best = 0, bestAt = 0;
      for (let s = Math.max(0, i - 4000); s < i; s++) {
        let l = 0;
        while (l < 18 && i + l < data.length && data[s + l] === data[i + l]) l++;
        if (l > best) { best = l; bestAt = s; }
      }
      if (best >= 3) {
        const pos = posOf(bestAt);
        out.push(pos & 0xff, ((pos >>> 4) & 0xf0) | (best - 3));
        i += best;
      } else {
        flags |= 1 << bit;
        out.push(data[i++]!);
      }
    }
    out[flagAt] = flags;
  }
  return out;
}
