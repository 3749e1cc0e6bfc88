/**
 * The compress readers the engine opens layers with (see `../unpack.ts`): bzip2, xz and 7z as
 * ClamAV opens them, and 7z archives found inside other layers (self-extractors).
 *
 * zstd has no `CL_TYPE_*` in ClamAV 1.4 (it does not open zstd); its reader, `scanZstd`, is
 * exported for the engine to call on layers that start with a zstd frame (`isZstd`). `.lzma` files
 * (LZMA "alone") have no type in ClamAV either and are not opened; `lzmaAloneDecode` decodes them.
 *
 * The decoders are exported for the other readers (ZIP methods 12 and 14, NSIS, installers): each
 * takes its input and an output bound and returns a `DecodeResult` (`LIMIT` as the error when the
 * bound was reached), never throwing.
 */
import type { UnpackerFamily } from '../unpack.js';
import { scanBzip2 } from './bzip2.js';
import { scan7z, scan7zEmbedded } from './sevenzip.js';
import { scanXz } from './xz.js';

export { type DecodeResult, LIMIT } from './common.js';
export { bunzip2, bunzip2Nsis } from './bzip2.js';
export { lzmaDecode, lzma2Decode, lzmaAloneDecode } from './lzma.js';
export { xzDecode } from './xz.js';
export { scanZstd, isZstd, zstdDecode } from './zstd.js';

export const family: UnpackerFamily = {
  containers: {
    CL_TYPE_BZ: scanBzip2,
    CL_TYPE_XZ: scanXz,
    CL_TYPE_7Z: scan7z,
  },
  embedded: {
    CL_TYPE_7ZSFX: scan7zEmbedded,
  },
};
