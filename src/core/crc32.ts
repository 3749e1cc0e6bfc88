/**
 * CRC-32 as zlib, ZIP, gzip and PNG compute it (reflected, polynomial 0xEDB88320).
 *
 * In: bytes, and optionally the CRC of the bytes before them so that data can be checked in
 * pieces. Out: the unsigned 32-bit CRC. Why here: Node 20 has no `zlib.crc32`, and the ZIP
 * reader and the YARA `hash` module need the same function. Table-driven, one table lookup per
 * byte, no allocation per call.
 */

const CRC_TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of `bytes`, continuing from `previous` (the CRC of the preceding bytes, 0 to start). */
export function crc32(bytes: Uint8Array, previous = 0): number {
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * One byte through the CRC-32 register, without the initial and final inversion: the step
 * PKWARE's traditional ZIP encryption updates its keys with (APPNOTE 6.1.5).
 */
export function crc32Byte(register: number, byte: number): number {
  return ((CRC_TABLE[(register ^ byte) & 0xff] as number) ^ (register >>> 8)) >>> 0;
}
