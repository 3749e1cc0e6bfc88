/**
 * The packed-executable readers the engine opens PE layers with (see `../unpack.ts`).
 *
 * In: a PE layer, after its raw scan, its embedded-type scan and its section and import hash
 * lookups (where ClamAV's `cli_scanpe` unpacks). Out: first the files of an InstallShield overlay
 * (`../installer/ishield-overlay.ts`, which runs before the packers in `cli_scanpe`), then at most
 * one item: the unpacked image as a child named after the packer (`mew`, `fsg`, `upx`, `pespin`,
 * `yc`, `wwpack`…), the limit that stopped it, or a heuristic alert. The packers' branches run in `cli_scanpe`'s order, each deciding whether
 * the next is tried: MEW (aPLib and LZMA forms), Upack (`upack`: 0.39 with two or three sections,
 * 1.1/1.2), FSG 2.0, 1.33 and 1.31, UPX (NRV2B/2D/2E and LZMA) on
 * the empty-section layout, then, with at least 200 bytes at the entry point, Petite (`petite`),
 * PESpin, yC, WWPack32, ASPack (`aspack`) and NsPack (`nspack`).
 *
 * Why: ClamAV scans what it unpacks as a child layer of the PE; signatures for the original
 * program then match inside the packed one.
 */
import type { UnpackContext, UnpackItem, UnpackerFamily } from '../unpack.js';
import { emptySection, scanpeInfo, upxStep, type PackerOutcome } from './upx.js';
import { fsg131Step, fsg133Step, fsg200Step } from './fsg.js';
import { mewStep } from './mew.js';
import { upackStep } from './upack.js';
import { wwpackStep } from './wwpack.js';
import { ycStep } from './yc.js';
import { spinStep } from './spin.js';
import { aspackStep } from './aspack.js';
import { nspackStep } from './nspack.js';
import { petiteStep } from './petite.js';
import { scanPeOverlay } from '../installer/ishield-overlay.js';

/** The outcome of `cli_scanpe`'s packer chain for one PE, with the packer's name. */
export function unpackPe(bytes: Uint8Array, ctx: UnpackContext): { name: string; outcome: PackerOutcome } {
  const info = scanpeInfo(bytes);
  if (!info) return { name: '', outcome: 'stop' };
  const i = emptySection(info);
  if (i >= 0) {
    const mew = mewStep(bytes, info, i, ctx);
    if (mew !== 'next') return { name: 'mew', outcome: mew };
  }
  const upack = upackStep(bytes, info, i >= 0, ctx);
  if (upack !== 'next') return { name: 'upack', outcome: upack };
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
  const petite = petiteStep(bytes, info, ctx);
  if (petite !== 'next') return { name: 'petite', outcome: petite };
  const spin = spinStep(bytes, info, ctx);
  if (spin !== 'next') return { name: 'pespin', outcome: spin };
  const yc = ycStep(bytes, info, ctx);
  if (yc !== 'next') return { name: 'yc', outcome: yc };
  const ww = wwpackStep(bytes, info, ctx);
  if (ww !== 'next') return { name: 'wwpack', outcome: ww };
  const aspack = aspackStep(bytes, info, ctx);
  if (aspack !== 'next') return { name: 'aspack', outcome: aspack };
  const nspack = nspackStep(bytes, info, ctx);
  if (nspack !== 'next') return { name: 'nspack', outcome: nspack };
  return { name: '', outcome: 'stop' };
}

export function* scanPacked(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  // cli_scanpe reads InstallShield records in the overlay before its packers (a files limit met
  // there ends the PE scan).
  let info: ReturnType<typeof scanpeInfo>;
  try {
    info = scanpeInfo(bytes);
  } catch {
    return;
  }
  if (info && (yield* scanPeOverlay(bytes, info, ctx))) return;
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
