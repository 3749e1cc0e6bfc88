/**
 * BinHex 4.0 (`.hqx`) → its data fork and resource fork, as ClamAV 1.4 extracts them.
 *
 * In: the bytes of a CL_TYPE_BINHEX layer (it starts with the banner `(This file must be
 * converted with BinHex 4.0)`). Out: the data fork, then the resource fork when it has 5 bytes
 * or more; each bounded by MaxFileSize.
 *
 * ClamAV's reading (`libclamav/binhex.c`): everything up to the first line end is skipped; the
 * next character other than CR/LF must be `:`; then the 6-bit alphabet is decoded, `:` being
 * ignored wherever it appears, CR/LF too, and RLE90 runs expanded (`90 00` is a literal 0x90).
 * The header (name, type, creator, flags, fork lengths, CRC) is read from the first block of
 * 7936 decoded bytes; CRCs are not checked. Decoded bytes are handled in blocks, so a character
 * outside the alphabet ends the reading and drops the block in hand: a fork is given only once
 * complete, or, at the end of the input, as far as it got. A data fork over MaxFileSize stops
 * everything; a resource fork over it is skipped.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { BoundedOutput } from '../unpack.js';

/** BinHex 4.0 alphabet (0x20–0x7f) → 6-bit value, 0xff for others. */
const HQX: Uint8Array = (() => {
  const t = new Uint8Array(128).fill(0xff);
  const a = '!"#$%&\'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr';
  for (let i = 0; i < a.length; i++) t[a.charCodeAt(i)] = i;
  return t;
})();

/** ClamAV's flush size (`BUFSIZ - 256` with glibc). */
const FLUSH = 8192 - 256;

type Phase = 'BANNER' | 'HEADER' | 'DATA' | 'LIMBO1' | 'LIMBO2' | 'RES';

/** Reads a CL_TYPE_BINHEX layer: the data fork, then the resource fork. */
export function* unpackBinhex(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  const items: UnpackItem[] = [];
  decodeBinhex(bytes, ctx, items);
  yield* items;
}

function decodeBinhex(bytes: Uint8Array, ctx: UnpackContext, items: UnpackItem[]): void {
  const maxFileSize = ctx.limits.maxFileSize;
  const decoded = new Uint8Array(8192 + 512);
  let dec = 0;
  let phase: Phase = 'BANNER';
  let datalen = 0, reslen = 0;
  let data: BoundedOutput | undefined, res: BoundedOutput | undefined;
  let inData = false, inRun = false;
  let spare = 0, last = 0, offset = 0;
  let p = 0;
  const give = (name: string, out: BoundedOutput): void => {
    if (out.length > 0) items.push({ name, data: out.view().slice() });
  };
  for (;;) {
    const todo = bytes.length - p;
    if (todo === 0 || dec >= FLUSH) {
      if (phase === 'HEADER') {
        const namelen = decoded[0]!;
        let hdr = 1 + namelen + 1 + 4 + 4 + 2;
        if (!dec) return;
        const be32 = (k: number): number => ((decoded[k]! << 24) | (decoded[k + 1]! << 16) | (decoded[k + 2]! << 8) | decoded[k + 3]!) >>> 0;
        datalen = be32(hdr);
        hdr += 4;
        reslen = be32(hdr);
        hdr += 4 + 2;
        if (dec <= hdr) return;
        if (datalen > maxFileSize) {
          items.push({ name: 'binhex-data', limit: 'MaxFileSize', size: datalen });
          return;
        }
        if (reslen > maxFileSize) reslen = 0;
        decoded.copyWithin(0, hdr, dec);
        dec -= hdr;
        phase = 'DATA';
        data = new BoundedOutput(maxFileSize);
      }
      if (dec && phase === 'DATA') {
        const n = Math.min(dec, datalen);
        datalen -= n;
        dec -= n;
        data!.bytes(decoded.subarray(0, n));
        if (!datalen) {
          phase = 'LIMBO1';
          give('binhex-data', data!);
        }
        if (dec) decoded.copyWithin(0, n, n + dec);
      }
      if (dec && phase === 'LIMBO1') {
        if (dec > 1) {
          if (reslen < 5) return;
          dec -= 2;
          phase = 'RES';
          res = new BoundedOutput(maxFileSize);
          if (dec) decoded.copyWithin(0, 2, 2 + dec);
        } else {
          dec--;
          phase = 'LIMBO2';
        }
      }
      if (dec && phase === 'LIMBO2') {
        if (reslen < 5) return;
        phase = 'RES';
        res = new BoundedOutput(maxFileSize);
        if (--dec) decoded.copyWithin(0, 1, 1 + dec);
      }
      if (dec && phase === 'RES') {
        const n = Math.min(dec, reslen);
        reslen -= n;
        dec -= n;
        res!.bytes(decoded.subarray(0, n));
        if (!reslen) {
          give('binhex-resource', res!);
          return;
        }
      }
      if (todo === 0) {
        if (phase === 'DATA') give('binhex-data', data!);
        else if (phase === 'RES') give('binhex-resource', res!);
        return;
      }
    }
    let b = bytes[p++]!;
    if (b === 0x0d || b === 0x0a) { inData = true; continue; }
    if (!inData) continue;
    if (phase === 'BANNER') {
      if (b !== 0x3a) return;
      phase = 'HEADER';
    }
    if (b === 0x3a) continue;
    if (b > 0x7f || (b = HQX[b]!) === 0xff) return;
    let byte: number;
    switch ((offset++) & 3) {
      case 0: spare = (b << 2) & 0xff; continue;
      case 1: byte = spare | (b >> 4); spare = (b << 4) & 0xff; break;
      case 2: byte = spare | (b >> 2); spare = (b << 6) & 0xff; break;
      default: byte = spare | b;
    }
    if (inRun) {
      inRun = false;
      if (!byte) byte = 0x90;
      else {
        while (--byte) decoded[dec++] = last;
        continue;
      }
    } else if (byte === 0x90) {
      inRun = true;
      continue;
    }
    decoded[dec++] = byte;
    last = byte;
  }
}
