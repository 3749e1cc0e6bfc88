/**
 * Every container reader, by the `CL_TYPE_*` it opens: the families' contributions merged.
 *
 * In: the families (one folder each under `formats/`). Out: the reader of a layer's type, and the
 * readers of types found embedded in a layer. A type claimed by two families is a programming
 * error, reported when the module loads.
 */
import type { ClType } from './cltypes.js';
import type { EmbeddedUnpacker, Unpacker, UnpackerFamily } from './unpack.js';
import { family as basic } from './basic.js';
import { family as compress } from './compress/index.js';
import { family as archive } from './archive/index.js';
import { family as cabinet } from './cabinet/index.js';
import { family as office } from './office/index.js';
import { family as pdf } from './pdf/index.js';
import { family as html } from './html/index.js';
import { family as mail } from './mail/index.js';
import { family as installer } from './installer/index.js';
import { family as packers } from './packers/index.js';
import { family as media } from './media/index.js';
import { family as disk } from './disk/index.js';

const FAMILIES: readonly UnpackerFamily[] = [basic, compress, archive, cabinet, office, pdf, html, mail, installer, packers, media, disk];

function merge<T>(pick: (f: UnpackerFamily) => Partial<Record<ClType, T>> | undefined): ReadonlyMap<ClType, T> {
  const out = new Map<ClType, T>();
  for (const f of FAMILIES) {
    for (const [type, reader] of Object.entries(pick(f) ?? {}) as [ClType, T][]) {
      if (out.has(type)) throw new Error(`two readers claim ${type}`);
      out.set(type, reader);
    }
  }
  return out;
}

/** The reader of layers of each type. */
export const CONTAINERS: ReadonlyMap<ClType, Unpacker> = merge((f) => f.containers);
/** The reader of each type found embedded in another layer. */
export const EMBEDDED: ReadonlyMap<ClType, EmbeddedUnpacker> = merge((f) => f.embedded);
