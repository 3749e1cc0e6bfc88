/**
 * The installer readers the engine opens layers with (see `../unpack.ts`): NSIS, AutoIt and SIS
 * layers typed from their first bytes, and NSIS, AutoIt and InstallShield data found inside a PE
 * (the engine reads these in PE layers only, as ClamAV does).
 */
import type { UnpackerFamily } from '../unpack.js';
import { scanNsis, scanNsisEmbedded } from './nsis.js';
import { scanIshieldMsiEmbedded } from './ishield.js';
import { scanSis } from './sis.js';
import { scanAutoit, scanAutoitEmbedded } from './autoit.js';

export const family: UnpackerFamily = {
  containers: {
    CL_TYPE_NULSFT: scanNsis,
    CL_TYPE_SIS: scanSis,
    CL_TYPE_AUTOIT: scanAutoit,
  },
  embedded: {
    CL_TYPE_NULSFT: scanNsisEmbedded,
    CL_TYPE_ISHIELD_MSI: scanIshieldMsiEmbedded,
    CL_TYPE_AUTOIT: scanAutoitEmbedded,
  },
};
