/**
 * YARA's `hash` module: digests and checksums over a byte range of the scanned data or over a
 * string argument.
 *
 * In: `(offset, size)` integers (a range of the scanned bytes) or a byte string. Out: `md5`,
 * `sha1`, `sha256` as lower-case hex strings; `checksum32` (the byte sum modulo 2^32) and `crc32`
 * (the reflected CRC-32 of zlib, polynomial 0xEDB88320) as integers. Ranges follow
 * `resolveRange`: a negative offset or size, or an offset at or past the end of the data, is
 * undefined; a size running past the end is clamped to the end (YARA 4.x; YARA-X instead answers
 * undefined there). The digests come from `node:crypto`, `crc32` from `core/crc32.ts`; `checksum32`
 * is computed here.
 */
import { createHash } from 'node:crypto';
import { crc32 } from '../../../core/crc32.js';
import { bytesIn, bytesOf, fn, resolveRange, type Overload, type ScanContext, type YaraArg, type YaraModule, type YaraValue } from './types.js';

/** CRC-32 (zlib's) of bytes, as an unsigned 32-bit number; shared with the ZIP reader. */
export { crc32 };

/** Sum of the bytes modulo 2^32. */
export function checksum32(bytes: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i++) s = (s + (bytes[i] as number)) >>> 0;
  return s;
}

/** Lower-case hex digest of bytes with a `node:crypto` algorithm. */
export function digestHex(algorithm: 'md5' | 'sha1' | 'sha256', bytes: Uint8Array): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

function rangeOf(ctx: ScanContext, args: readonly YaraArg[]): Uint8Array | undefined {
  const r = resolveRange(ctx, args[0] as bigint, args[1] as bigint);
  return r ? bytesIn(ctx, r[0], r[1]) : undefined;
}

/** The two overloads shared by every hash function: `(offset, size)` and `(string)`. */
function overloads(returns: 'string' | 'integer', compute: (bytes: Uint8Array) => YaraValue): Overload[] {
  return [
    {
      args: ['integer', 'integer'],
      returns,
      impl: (ctx, args) => {
        const bytes = rangeOf(ctx, args);
        return bytes ? compute(bytes) : undefined;
      },
    },
    { args: ['string'], returns, impl: (_ctx, args) => compute(args[0] as Uint8Array) },
  ];
}

export const hashModule: YaraModule = {
  name: 'hash',
  since: '3.0',
  declarations: {
    md5: fn(...overloads('string', (b) => bytesOf(digestHex('md5', b)))),
    sha1: fn(...overloads('string', (b) => bytesOf(digestHex('sha1', b)))),
    sha256: fn(...overloads('string', (b) => bytesOf(digestHex('sha256', b)))),
    checksum32: fn(...overloads('integer', (b) => BigInt(checksum32(b)))),
    crc32: fn(...overloads('integer', (b) => BigInt(crc32(b)))),
  },
};
