/**
 * The media family's readers, by the `CL_TYPE_*` they open (see `../unpack.ts`): Flash movies
 * (CWS/ZWS decompressed), encoded script files, CryptFF files, the RIFF animated-cursor exploit
 * check, and the GIF/PNG/JPEG/TIFF structure checks behind `--alert-broken-media`.
 *
 * CL_TYPE_GRAPHICS (BMP, JPEG 2000, and the older image entries) has no reader: ClamAV only
 * computes an image fuzzy hash for it. CL_TYPE_XDP belongs to the pdf family.
 */
import type { UnpackerFamily } from '../unpack.js';
import { cryptffItems } from './cryptff.js';
import { gifItems, jpegItems, pngItems, tiffItems } from './images.js';
import { riffItems } from './riff.js';
import { screncItems } from './screnc.js';
import { swfItems } from './swf.js';

export const family: UnpackerFamily = {
  containers: {
    CL_TYPE_SWF: swfItems,
    CL_TYPE_SCRENC: screncItems,
    CL_TYPE_CRYPTFF: cryptffItems,
    CL_TYPE_RIFF: riffItems,
    CL_TYPE_GIF: gifItems,
    CL_TYPE_PNG: pngItems,
    CL_TYPE_JPEG: jpegItems,
    CL_TYPE_TIFF: tiffItems,
  },
};
