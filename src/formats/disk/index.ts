/**
 * The disk-image readers the engine opens layers with (see `../unpack.ts`): UDF file systems and
 * partition tables (MBR, GPT, Apple Partition Map), each partition scanned as a child.
 *
 * ClamAV reaches MBR and UDF only through the raw scan of a layer (its `scanraw` finds their type
 * signatures at an offset): they are `embedded` readers. A layer typed GPT or APM from its first
 * bytes is opened as a container; the protective MBR of a GPT image is found again by the raw scan
 * and, being protective, read as GPT a second time (ClamAV's order).
 */
import type { UnpackerFamily } from '../unpack.js';
import { udfMembers } from './udf.js';
import { mbrOrGptMembers } from './mbr.js';
import { gptMembers } from './gpt.js';
import { apmMembers } from './apm.js';
import { dmgMembers } from './dmg.js';
import { hfsplusMembers } from './hfsplus.js';

export const family: UnpackerFamily = {
  containers: {
    CL_TYPE_GPT: (b, ctx) => gptMembers(b, ctx),
    CL_TYPE_APM: (b, ctx) => apmMembers(b, ctx),
    // HFS+ / HFSX: a partition typed by its magic at 1024 (DMG and partition-table children).
    CL_TYPE_PART_HFSPLUS: (b, ctx) => hfsplusMembers(b, ctx),
  },
  embedded: {
    CL_TYPE_UDF: (b, offset, ctx) => udfMembers(b, offset, ctx),
    CL_TYPE_MBR: (b, _offset, ctx) => mbrOrGptMembers(b, ctx),
    // The `koly` trailer found at EOF-512: ClamAV reads the whole layer as a DMG.
    CL_TYPE_DMG: (b, _offset, ctx) => dmgMembers(b, ctx),
  },
};
