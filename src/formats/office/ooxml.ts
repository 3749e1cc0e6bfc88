/**
 * OOXML documents (CL_TYPE_OOXML_WORD / _PPT / _XL / _HWP) → the members of the ZIP they are.
 *
 * In: the bytes of a layer typed as an OOXML document (a ZIP whose first entries name `word/`,
 * `xl/`, `ppt/`…). Out: its members, in the order ClamAV's unzip gives them (the central
 * directory's entries by local header offset, a repeated entry once, directories, encrypted
 * entries and methods other than stored and deflate left out), each typed again from its bytes
 * (so `word/vbaProject.bin` is opened as OLE2).
 *
 * Why nothing more: ClamAV 1.4 parses OOXML's XML only to collect metadata for `--gen-json`
 * (`cli_process_ooxml`); for scanning, the type falls through to `cli_unzip`. So the registered
 * CL_TYPE_ZIP reader is used when there is one; `zipMembers` reads the members otherwise. A document with no
 * usable central directory gives nothing here (ClamAV reaches its entries through the embedded
 * ZIP scan instead, which the engine does for every layer). Never throws.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { extractEntry, readZip, type ZipEntry } from '../zip.js';
import { CONTAINERS } from '../registry.js';

export function* ooxmlLayers(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  // The ZIP reader, when one is registered, reads OOXML too (ClamAV hands OOXML to cli_unzip).
  const zip = CONTAINERS.get('CL_TYPE_ZIP');
  if (zip) { yield* zip(bytes, ctx); return; }
  yield* zipMembers(bytes, ctx);
}

/** ClamAV's unzip as the engine reads ZIP files, for when no ZIP reader is registered. */
export function* zipMembers(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  const listing = readZip(bytes, { maxFiles: ctx.limits.maxFiles || 10000 }, { localScan: 'never' });
  if (listing.prefixBytes > 0) return;
  const entries = listing.entries.filter((e) => e.source === 'central').sort((x, y) => x.localHeaderOffset - y.localHeaderOffset);
  let prev: ZipEntry | undefined;
  for (const e of entries) {
    const duplicate = prev !== undefined && prev.localHeaderOffset === e.localHeaderOffset && prev.compressedSize === e.compressedSize;
    prev = e;
    if (duplicate || e.encrypted || e.isDirectory) continue;
    const r = extractEntry(bytes, e, { maxEntrySize: ctx.limits.maxFileSize });
    if ('error' in r && (r.error === 'entry-too-large' || r.error === 'total-exceeded')) {
      yield { name: e.name.text, limit: 'MaxFileSize', size: e.uncompressedSize };
      continue;
    }
    if (r.data) yield { name: e.name.text, data: r.data };
  }
}
