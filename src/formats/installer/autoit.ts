/**
 * Compiled AutoIt scripts (EA05 and EA06 data appended to an AutoIt PE) → the files inside, as
 * ClamAV 1.4 extracts them.
 *
 * In: the bytes of the layer and the offset where the type signature (a 16-byte GUID, then
 * `AU3!EA05` or `AU3!EA06`) was found. Out: lazily, each file (`autoit.NNN`, numbered as ClamAV
 * numbers them), or the limit that stopped one.
 *
 * Why this shape: after the signature come 16 bytes (EA05 sums them into its key) and then the
 * entries, each a tag word, an obfuscated "magic" string and file name (lengths XORed with fixed
 * words), a compression byte, the stored size, and 16 more bytes, then the data. The data is
 * XORed with a keystream — Mersenne Twister bytes for EA05 (seeded with 0x22AF plus the sum),
 * AutoIt's lagged-Fibonacci generator for EA06 (seed 0x2477) — and, when the compression byte is
 * 1, unpacked by AutoIt's LZSS (`EA05`/`EA06` tag, big-endian output size, then MSB-first bits
 * read in 16-bit big-endian words; a flag bit, 15-bit distances and a growing length code). A
 * damaged stream keeps what came before the damage (EA05 writes a zero byte for a literal it could
 * not read, as ClamAV does). Output sizes are checked against the file-size limit before
 * unpacking, so an entry never passes it.
 *
 * The EA06 entry holding the script itself (magic `>>>AUTOIT SCRIPT<<<`) is given as ClamAV gives
 * it: turned back into source text from its tokens (`./autoit-script.ts`), under the entry's
 * number; a text longer than the file-size limit is reported as that limit and ends the listing
 * (ClamAV refuses it only once written, and stops there).
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { decompileEa06Script, u2a } from './autoit-script.js';

const SIG_LEN = 23;

const u32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** EA05's keystream: Mersenne Twister bytes (bits 1..8 of each tempered word). */
export function mtDecrypt(buf: Uint8Array, seed: number): void {
  const mt = new Uint32Array(624);
  mt[0] = seed >>> 0;
  for (let i = 1; i < 624; i++) {
    const p = mt[i - 1]!;
    mt[i] = (Math.imul(0x6c078965, (p >>> 30) ^ p) + i) >>> 0;
  }
  let items = 1, next = 0;
  const twist = (a: number, b: number, c: number): number => (((((a ^ b) & 0x7ffffffe) ^ a) >>> 1) ^ ((0 - (b & 1)) & 0x9908b0df) ^ c) >>> 0;
  for (let k = 0; k < buf.length; k++) {
    if (!--items) {
      items = 624;
      next = 0;
      let i = 0;
      for (; i < 227; i++) mt[i] = twist(mt[i]!, mt[i + 1]!, mt[i + 397]!);
      for (; i < 623; i++) mt[i] = twist(mt[i]!, mt[i + 1]!, mt[i - 227]!);
      mt[623] = twist(mt[623]!, mt[0]!, mt[i - 227]!);
    }
    let r = mt[next++]!;
    r ^= r >>> 11;
    r ^= (r & 0xff3a58ad) << 7;
    r ^= (r & 0xffffdf8c) << 15;
    r ^= r >>> 18;
    buf[k] = buf[k]! ^ ((r >>> 1) & 0xff);
  }
}

/** EA06's keystream: a lagged generator of 17 words; each byte is the top byte of every second word. */
export function lameDecrypt(buf: Uint8Array, seed: number): void {
  const g = new Uint32Array(17);
  let s = seed >>> 0;
  for (let i = 0; i < 17; i++) {
    s = (1 - Math.imul(s, 0x53a9b4fb)) >>> 0;
    g[i] = s;
  }
  let c0 = 0, c1 = 10;
  const rol = (a: number, n: number): number => ((a << n) | (a >>> (32 - n))) >>> 0;
  const step = (): number => {
    const rolled = (rol(g[c0]!, 9) + rol(g[c1]!, 13)) >>> 0;
    g[c0] = rolled;
    c0 = c0 === 0 ? 16 : c0 - 1;
    c1 = c1 === 0 ? 16 : c1 - 1;
    return rolled;
  };
  for (let i = 0; i < 9; i++) step();
  for (let k = 0; k < buf.length; k++) {
    step();
    // (1 + rolled / 2^32 - 1) * 256, truncated: the word's top byte.
    buf[k] = buf[k]! ^ (step() >>> 24);
  }
}

/** AutoIt's LZSS; `matchBit` is the flag value that starts a match (1 for EA05, 0 for EA06). */
function unpack(input: Uint8Array, usize: number, matchBit: number): Uint8Array {
  // The declared size is only an upper bound: the buffer grows towards it as output comes.
  let out = new Uint8Array(Math.min(usize, 1 << 16));
  const room = (need: number): void => {
    if (need <= out.length) return;
    const next = new Uint8Array(Math.min(usize, Math.max(need, out.length * 2)));
    next.set(out.subarray(0, cur));
    out = next;
  };
  let cur = 0, inPos = 8, avail = 0, full = 0, error = false;
  const csize = input.length;
  const bits = (size: number): number => {
    full &= 0xffff; // the high half starts empty
    if (size > avail && (Math.floor((size - avail - 1) / 16) + 1) * 2 > csize - inPos) { error = true; return 0; }
    while (size) {
      if (!avail) {
        full |= ((input[inPos]! << 8) | input[inPos + 1]!) & 0xffff;
        inPos += 2;
        avail = 16;
      }
      full = (full << 1) >>> 0;
      avail--;
      size--;
    }
    return full >>> 16;
  };
  while (!error && cur < usize) {
    if (bits(1) === matchBit) {
      const dist = bits(15);
      let len = bits(2), add = 0;
      if (len === 3) {
        add = 3;
        if ((len = bits(3)) === 7) {
          add = 10;
          if ((len = bits(5)) === 31) {
            add = 41;
            if ((len = bits(8)) === 255) {
              add = 296;
              while (!error && (len = bits(8)) === 255) add += 255;
            }
          }
        }
      }
      len += 3 + add;
      if (error) break;
      if (cur + len > usize || dist > cur || cur - dist + len > usize) break;
      room(cur + len);
      for (let i = 0; i < len; i++, cur++) out[cur] = out[cur - dist]!;
    } else {
      room(cur + 1);
      out[cur++] = bits(8);
    }
  }
  return out.subarray(0, cur);
}

interface Variant { v6: boolean; tag: number; strXor: number; nameXor: number; sizeXor: number; lzTag: number }
const EA05: Variant = { v6: false, tag: 0xceb06dff, strXor: 0x29bc, nameXor: 0x29ac, sizeXor: 0x45aa, lzTag: 0x35304145 };
const EA06: Variant = { v6: true, tag: 0x52ca436b, strXor: 0xadbc, nameXor: 0xf820, sizeXor: 0x87bc, lzTag: 0x36304145 };

/** The EA06 magic string of an entry, decoded and narrowed as ClamAV narrows it, to tell the script apart. */
function ea06Magic(b: Uint8Array, at: number, chars: number): string {
  const m = new Uint8Array(b.subarray(at, at + chars * 2)); // a copy: the layer's bytes stay as they are
  lameDecrypt(m, chars + 0xb33f);
  u2a(m, 0, m.length);
  let s = '';
  for (let i = 0; i < chars; i++) s += String.fromCharCode(m[i]!);
  return s;
}

export function* scanAutoitAt(bytes: Uint8Array, sigAt: number, ctx: UnpackContext): Iterable<UnpackItem> {
  const vAt = sigAt + SIG_LEN;
  if (sigAt < 0 || vAt >= bytes.length) return;
  const variant = bytes[vAt] === 0x35 ? EA05 : bytes[vAt] === 0x36 ? EA06 : undefined;
  if (!variant) return;
  let base = vAt + 1;
  if (base + 16 > bytes.length) return;
  let sum = 0;
  for (let i = 0; i < 16; i++) sum += bytes[base + i]!;
  base += 16;
  const maxFile = ctx.limits.maxFileSize > 0 ? ctx.limits.maxFileSize : Infinity;
  const have = (n: number): boolean => n >= 0 && base + n <= bytes.length;
  const charSize = variant.v6 ? 2 : 1;
  let files = 0;
  for (;;) {
    if (!have(8) || u32(bytes, base) !== variant.tag) return;
    // A length whose byte count (32-bit, as ClamAV computes it) reads as negative ends the listing.
    let s = (u32(bytes, base + 4) ^ variant.strXor) >>> 0;
    let span = Math.imul(s, charSize) >>> 0;
    if (span >= 0x80000000) return;
    base += 8;
    let script = false;
    if (variant.v6 && s < 300) {
      if (!have(span)) return;
      script = s === 19 && ea06Magic(bytes, base, s) === '>>>AUTOIT SCRIPT<<<';
    }
    base += span;
    if (!have(4)) return;
    s = (u32(bytes, base) ^ variant.nameXor) >>> 0;
    span = Math.imul(s, charSize) >>> 0;
    if (span >= 0x80000000) return;
    base += 4 + span;
    if (!have(13)) return;
    const comp = bytes[base]!;
    const csize = (u32(bytes, base + 1) ^ variant.sizeXor) >>> 0;
    if (csize >= 0x80000000) return;
    base += 13 + 16;
    if (csize === 0) continue;
    if (csize > maxFile) {
      base += csize;
      yield { name: `autoit.${String(files + 1).padStart(3, '0')}`, limit: 'MaxFileSize', size: csize };
      continue;
    }
    if (comp === 1 && csize < 4) continue;
    if (variant.v6) files++; // EA06 counts the entry before reading it
    const name = `autoit.${String(variant.v6 ? files : files + 1).padStart(3, '0')}`;
    if (!have(csize)) return;
    const input = new Uint8Array(bytes.subarray(base, base + csize)); // a copy, decrypted in place
    base += csize;
    if (variant.v6) lameDecrypt(input, 0x2477);
    else mtDecrypt(input, 0x22af + sum);
    let out: Uint8Array;
    if (comp === 1) {
      if (u32(input, 0) !== variant.lzTag) continue;
      let usize = ((input[4]! << 24) | (input[5]! << 16) | (input[6]! << 8) | input[7]!) >>> 0;
      if (!usize) usize = csize;
      if (usize > maxFile) { yield { name, limit: 'MaxFileSize', size: usize }; continue; }
      out = unpack(input, usize, variant.v6 ? 0 : 1);
    } else out = input;
    if (out.length < 4) continue;
    if (!variant.v6) files++;
    if (script) {
      // The script is given as the source text its tokens stand for.
      const text = decompileEa06Script(out, maxFile);
      if (text.data) { yield { name, data: text.data }; continue; }
      // Past the file-size limit: ClamAV refuses the text when it pushes it as a layer, and that
      // refusal ends the listing.
      yield { name, limit: 'MaxFileSize', size: text.size };
      return;
    }
    yield { name: `autoit.${String(files).padStart(3, '0')}`, data: out };
  }
}

/** The reader the engine calls at the offset of the AutoIt signature. */
export function scanAutoitEmbedded(bytes: Uint8Array, offset: number, ctx: UnpackContext): Iterable<UnpackItem> {
  return scanAutoitAt(bytes, offset, ctx);
}

/** A layer typed as AutoIt data from its first byte (the signature at the start). */
export function scanAutoit(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  return scanAutoitAt(bytes, 0, ctx);
}
