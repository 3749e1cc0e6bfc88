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
  let i = 0;
  while (i < data.length) {
    const flagAt = out.length;
    out.push(0);
    let flags = 0;
    for (let bit = 0; bit < 8 && i < data.length; bit++) {
      // The longest earlier match within the last 4096 - 18 bytes.
      let best = 0, bestAt = 0;
      for (let s = Math.max(0, i - 4000); s < i; s++) {
        let l = 0;
        while (l < 18 && i + l < data.length && data[s + l] === data[i + l]) l++;
        if (l > best) { best = l; bestAt = s; }
      }
      if (best >= 3) {
        const pos = (bestAt + 4096 - 16) & 4095;
        out.push(pos & 0xff, ((pos >>> 4) & 0xf0) | (best - 3));
        i += best;
      } else {
        flags |= 1 << bit;
        out.push(data[i++]!);
      }
    }
    out[flagAt] = flags;
  }
  return Uint8Array.from(out);
}

