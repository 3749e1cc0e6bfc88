/**
 * The first container readers, as a family of the registry: gzip, tar and ZIP, and ZIP entries
 * found inside other layers (self-extractors).
 *
 * In: a layer typed CL_TYPE_GZ, _POSIX_TAR, _OLD_TAR or _ZIP, or a ZIP local header at an offset.
 * Out: their files as child layers, read as ClamAV's readers read them (see `gzip.ts`,
 * `untar.ts`, `zip.ts`).
 */
import { gunzipLayer } from './gzip.js';
import { tarLayers } from './untar.js';
import type { UnpackContext, UnpackItem, UnpackerFamily } from './unpack.js';
import { clamUnzipItems, clamUnzipSingle } from './zip.js';

function* gzipItems(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  const out = gunzipLayer(bytes, ctx.limits.maxFileSize);
  if ('data' in out) yield { name: 'gzip', data: out.data };
  // ClamAV writes until its limits stop it, then finds the output too large to scan.
  else if (out.error === 'limit') yield { name: 'gzip', limit: 'MaxFileSize', size: ctx.limits.maxFileSize + 1 };
}

/**
 * Tar members; one declared larger than MaxFileSize alerts the limit and is scanned as far as
 * ClamAV writes it (whole 512-byte blocks up to the limit).
 */
function tarItems(posix: boolean) {
  return function* (bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
    const max = ctx.limits.maxFileSize;
    for (const m of tarLayers(bytes, posix)) {
      if (max > 0 && m.declared > max) {
        yield { name: m.name, limit: 'MaxFileSize', size: m.declared };
        yield { name: m.name, data: m.data.subarray(0, Math.floor(max / 512) * 512) };
      } else {
        yield { name: m.name, data: m.data };
      }
    }
  };
}

/**
 * The files of a ZIP as ClamAV 1.4's `cli_unzip` gives them (see `clamUnzipItems` in `zip.ts`):
 * the central directory the last usable end record names, taken as written (an archive whose
 * offsets only work shifted, or that has no end record, gives nothing here: its local headers are
 * reached through the embedded-ZIP scan), entries in local-header order, duplicates once, stored,
 * deflate, Deflate64, bzip2 and implode extracted (bombs cut at MaxFileSize, as ClamAV scans
 * them), encrypted entries skipped with `Heuristics.Encrypted.Zip` when asked for, overlapping
 * entries alerted as `Heuristics.Zip.OverlappingFiles`, and ClamAV's second walk over the local
 * headers when few entries gave a file.
 */
function zipItems(bytes: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  return clamUnzipItems(bytes, ctx);
}

/** ClamAV's `cli_unzip_single`: one entry read from the local header at `offset`. */
function zipSfxItems(bytes: Uint8Array, offset: number, ctx: UnpackContext): Iterable<UnpackItem> {
  return clamUnzipSingle(bytes, offset, ctx);
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
