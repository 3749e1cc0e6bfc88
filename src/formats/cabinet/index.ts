/**
 * The cabinet family's readers, by the `CL_TYPE_*` they open (see `../unpack.ts`): Microsoft
 * cabinets (also found inside other layers), compiled HTML Help, and RAR archives (also found
 * inside other layers).
 */
import type { UnpackerFamily } from '../unpack.js';
import { unpackCab, unpackCabSfx } from './cab.js';
import { unpackChm } from './chm.js';
import { unpackRar, unpackRarSfx } from './rar.js';

export const family: UnpackerFamily = {
  containers: {
    CL_TYPE_MSCAB: unpackCab,
    CL_TYPE_MSCHM: unpackChm,
    CL_TYPE_RAR: unpackRar,
  },
  embedded: {
    CL_TYPE_CABSFX: unpackCabSfx,
    CL_TYPE_RARSFX: unpackRarSfx,
  },
};
