/** The pdf readers the engine opens layers with (see `../unpack.ts`). */
import type { UnpackerFamily } from '../unpack.js';
import { pdfItems } from './pdf.js';
import { xdpItems } from './xdp.js';

export const family: UnpackerFamily = {
  containers: { CL_TYPE_PDF: pdfItems, CL_TYPE_XDP: xdpItems },
  embedded: {
    // A PDF found inside another layer is read from where its header starts, as ClamAV's raw scan does.
    CL_TYPE_PDF: (bytes, offset, ctx) => pdfItems(bytes.subarray(offset), ctx),
  },
};
