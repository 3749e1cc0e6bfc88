/**
 * The first container readers, as a family of the registry: gzip, tar and ZIP, and ZIP entries
 * found inside other layers (self-extractors).
 *
 * In: a layer typed CL_TYPE_GZ, _POSIX_TAR, _OLD_TAR or _ZIP, or a ZIP local header at an offset.
 * Out: their files as child layers, read as ClamAV's readers read them (see `gzip.ts`,
 * `untar.ts`, `zip.ts`).
 */
import { DEFAULT_LIMITS } from '../core/limits.js';
import { gunzipLayer } from './gzip.js';
import { tarLayers } from './untar.js';
import type { UnpackContext, UnpackItem, UnpackerFamily } from './unpack.js';
import { extractEntry, extractLocalEntry, readZip } from './zip.js';

function* gzipItems(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  const out = gunzipLayer(bytes, ctx.limits.maxFileSize);
  if ('data' in out) yield { name: 'gzip', data: out.data };
  // ClamAV writes until its limits stop it, then finds the output too large to scan.
  else if (out.error === 'limit') yield { name: 'gzip', limit: 'MaxFileSize', size: ctx.limits.maxFileSize + 1 };
}

function tarItems(posix: boolean) {
  return function* (bytes: Uint8Array): Iterable<UnpackItem> {
    yield* tarLayers(bytes, posix);
  };
}

/**
 * The files of a ZIP as ClamAV's unzip gives them: the central directory's entries in the order of
 * their local headers, a repeated entry (same header, same size) once, directories, encrypted
 * entries and methods other than stored and deflate left out. ClamAV takes the directory's offsets
 * as written: an archive whose offsets only work shifted (bytes prepended) gives nothing here, and
 * without a central directory nothing is extracted (ClamAV's walk of local headers does not run
 * then); such files are reached through the embedded-ZIP scan instead.
 */
function* zipItems(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  const listing = readZip(bytes, { maxFiles: ctx.limits.maxFiles || DEFAULT_LIMITS.maxFiles }, { localScan: 'never' });
  if (listing.prefixBytes > 0) return;
  // ClamAV reports every central record's metadata while it indexes them, before extracting any.
  for (const e of listing.entries) if (e.source === 'central') yield { meta: e.name.text };
  const entries = listing.entries.filter((e) => e.source === 'central').sort((x, y) => x.localHeaderOffset - y.localHeaderOffset);
  let prev: (typeof entries)[number] | undefined;
  for (const e of entries) {
    const duplicate = prev && prev.localHeaderOffset === e.localHeaderOffset && prev.compressedSize === e.compressedSize;
    prev = e;
    if (duplicate || e.encrypted || e.isDirectory) continue;
    const r = extractEntry(bytes, e, { maxEntrySize: ctx.limits.maxFileSize });
    if (r.data) yield { name: e.name.text, data: r.data };
  }
}

/** ClamAV's `cli_unzip_single`: one entry read from the local header at `offset`. */
function* zipSfxItems(bytes: Uint8Array, offset: number, ctx: UnpackContext): Iterable<UnpackItem> {
  const data = extractLocalEntry(bytes, offset, ctx.limits.maxFileSize);
  if (data) {
    yield { meta: `zip@${offset}` };
    yield { name: `zip@${offset}`, data };
  }
}

export const family: UnpackerFamily = {
  containers: {
    CL_TYPE_GZ: gzipItems,
    CL_TYPE_POSIX_TAR: tarItems(true),
    CL_TYPE_OLD_TAR: tarItems(false),
    CL_TYPE_ZIP: zipItems,
  },
  embedded: { CL_TYPE_ZIPSFX: zipSfxItems },
};
