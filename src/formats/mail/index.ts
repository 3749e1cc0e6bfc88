/**
 * The mail readers the engine opens layers with (see `../unpack.ts`): e-mail and mbox
 * (CL_TYPE_MAIL, and CL_TYPE_MHTML which ClamAV reads with the same mail reader), TNEF
 * (`winmail.dat`), BinHex 4.0 and uuencoded files.
 *
 * `mailFoundInText` tells when ClamAV also reads a layer typed as text (or binary data) as mail:
 * its raw scan, which searches the file-type signatures over the whole layer rather than its
 * first 1024 bytes, found mail headers in it.
 */
import { CL_TYPE_CODE, type ClType } from '../cltypes.js';
import { matchTypeSignatures } from '../filetype.js';
import type { UnpackerFamily } from '../unpack.js';
import { unpackBinhex } from './binhex.js';
import { unpackMail } from './mbox.js';
import { unpackTnef } from './tnef.js';
import { unpackUuencoded } from './uuencode.js';

export const family: UnpackerFamily = {
  containers: {
    CL_TYPE_MAIL: unpackMail,
    CL_TYPE_MHTML: unpackMail,
    CL_TYPE_TNEF: unpackTnef,
    CL_TYPE_BINHEX: unpackBinhex,
    CL_TYPE_UUENCODED: unpackUuencoded,
  },
};

/**
 * The type a layer of type `type` becomes when ClamAV's raw scan redirects it to the mail reader
 * (`scanraw` in scanners.c), or undefined: CL_TYPE_MHTML found in a layer typed from
 * CL_TYPE_TEXT_ASCII to CL_TYPE_BINARY_DATA, or CL_TYPE_MAIL found in CL_TYPE_TEXT_ASCII. The
 * mail reader (`family.containers.CL_TYPE_MAIL`) then runs after the raw pass of the layer.
 */
export function mailFoundInText(bytes: Uint8Array, type: ClType): 'CL_TYPE_MAIL' | 'CL_TYPE_MHTML' | undefined {
  const code = CL_TYPE_CODE[type];
  if (code < CL_TYPE_CODE.CL_TYPE_TEXT_ASCII || code > CL_TYPE_CODE.CL_TYPE_BINARY_DATA) return undefined;
  const found = matchTypeSignatures(bytes, type);
  if (found === 'CL_TYPE_MHTML') return found;
  if (found === 'CL_TYPE_MAIL' && type === 'CL_TYPE_TEXT_ASCII') return found;
  return undefined;
}
