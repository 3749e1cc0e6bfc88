/** The compress readers the engine opens layers with (see `../unpack.ts`). */
import type { UnpackerFamily } from '../unpack.js';

export const family: UnpackerFamily = { containers: {} };
