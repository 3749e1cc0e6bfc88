/**
 * The packed-executable readers the engine opens PE layers with (see `../unpack.ts`).
 *
 * In: a PE layer, after its raw scan, its embedded-type scan and its section and import hash
 * lookups (where ClamAV's `cli_scanpe` unpacks). Out: at most one item: the unpacked image as a
 * child named after the packer (`mew`, `fsg`, `upx`, `pespin`, `yc`, `wwpack`), the limit that stopped it,
 * or a heuristic alert. The packers' branches run in `cli_scanpe`'s order, each deciding whether
 * the next is tried: MEW (without LZMA), FSG 2.0, 1.33 and 1.31, UPX (NRV2B/2D/2E and LZMA) on
 * the empty-section layout, then, with at least 200 bytes at the entry point, PESpin, yC and
 * WWPack32. Not implemented: MEW's LZMA form, Upack, Petite, ASPack and NsPack (a file that would
 * take one of those branches in ClamAV goes on to the next branch here).
 *
 * Why: ClamAV scans what it unpacks as a child layer of the PE; signatures for the original
 * program then match inside the packed one.
 */
import type { UnpackContext, UnpackItem, UnpackerFamily } from '../unpack.js';
import { emptySection, scanpeInfo, upxStep, type PackerOutcome } from './upx.js';
import { fsg131Step, fsg133Step, fsg200Step } from './fsg.js';
import { mewStep } from './mew.js';
import { wwpackStep } from './wwpack.js';
import { ycStep } from './yc.js';
import { spinStep } from './spin.js';

/** The outcome of `cli_scanpe`'s packer chain for one PE, with the packer's name. */
export function unpackPe(bytes: Uint8Array, ctx: UnpackContext): { name: string; outcome: PackerOutcome } {
  const info = scanpeInfo(bytes);
  if (!info) return { name: '', outcome: 'stop' };
  const i = emptySection(info);
  if (i >= 0) {
    const mew = mewStep(bytes, info, i, ctx);
    if (mew !== 'next') return { name: 'mew', outcome: mew };
  }
  if (i >= 0 && info.epbuff.length >= 168) {
    const fsg = fsg200Step(bytes, info, i, ctx);
    if (fsg !== 'next') return { name: 'fsg', outcome: fsg };
    const fsg133 = fsg133Step(bytes, info, i, ctx);
    if (fsg133 !== 'next') return { name: 'fsg', outcome: fsg133 };
    const fsg131 = fsg131Step(bytes, info, i, ctx);
    if (fsg131 !== 'next') return { name: 'fsg', outcome: fsg131 };
  }
  const upx = upxStep(bytes, info, ctx);
  if (upx !== 'next') return { name: 'upx', outcome: upx };
  if (info.epbuff.length < 200) return { name: '', outcome: 'stop' };
  const spin = spinStep(bytes, info, ctx);
  if (spin !== 'next') return { name: 'pespin', outcome: spin };
  const yc = ycStep(bytes, info, ctx);
  if (yc !== 'next') return { name: 'yc', outcome: yc };
  return { name: 'wwpack', outcome: wwpackStep(bytes, info, ctx) };
}

export function* scanPacked(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  let r: ReturnType<typeof unpackPe>;
  try {
    r = unpackPe(bytes, ctx);
  } catch {
    return;
  }
  const o = r.outcome;
  if (typeof o === 'string') return;
  if ('alert' in o) yield { alert: o.alert };
  else if ('limit' in o) yield { name: r.name, limit: o.limit, size: o.size };
  else yield { name: r.name, data: o.data };
}

export const family: UnpackerFamily = {
  containers: {
    CL_TYPE_MSEXE: scanPacked,
  },
};
