/** The archive readers the engine opens layers with (see `../unpack.ts`). */
import type { UnpackerFamily } from '../unpack.js';
import { cpioMembers } from './cpio.js';
import { isoMembers } from './iso9660.js';
import { szddMembers } from './szdd.js';
import { arjMembers } from './arj.js';
import { lhaMembers } from './lha.js';
import { xarMembers } from './xar.js';
import { alzMembers } from './alz.js';
import { eggMembers } from './egg.js';

/** Where ClamAV's type signature finds an ISO 9660 primary volume descriptor in a plain image. */
const ISO_PVD = 32768;

export const family: UnpackerFamily = {
  containers: {
    CL_TYPE_CPIO_OLD: (b, ctx) => cpioMembers(b, 'old', ctx),
    CL_TYPE_CPIO_ODC: (b, ctx) => cpioMembers(b, 'odc', ctx),
    CL_TYPE_CPIO_NEWC: (b, ctx) => cpioMembers(b, 'newc', ctx),
    CL_TYPE_CPIO_CRC: (b, ctx) => cpioMembers(b, 'crc', ctx),
    // ClamAV finds ISO 9660 only during the raw scan (embedded, below); a layer already typed so
    // is read from the standard descriptor position.
    CL_TYPE_ISO9660: (b, ctx) => isoMembers(b, ISO_PVD, ctx),
    CL_TYPE_MSSZDD: (b, ctx) => szddMembers(b, ctx),
    CL_TYPE_ARJ: (b, ctx) => arjMembers(b, ctx),
    CL_TYPE_LHA_LZH: (b, ctx) => lhaMembers(b, ctx),
    CL_TYPE_XAR: (b, ctx) => xarMembers(b, ctx),
    CL_TYPE_ALZ: (b, ctx) => alzMembers(b, ctx),
    CL_TYPE_EGG: (b, ctx) => eggMembers(b, ctx),
  },
  embedded: {
    CL_TYPE_ISO9660: (b, offset, ctx) => isoMembers(b, offset, ctx),
    CL_TYPE_ARJSFX: (b, offset, ctx) => arjMembers(b, ctx, offset),
    CL_TYPE_EGGSFX: (b, offset, ctx) => eggMembers(b.subarray(offset), ctx),
  },
};
