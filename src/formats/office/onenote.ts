/**
 * OneNote sections (`.one`, CL_TYPE_ONENOTE) → the files attached to them.
 *
 * In: the bytes of a layer that starts with OneNote's magic GUID. Out: each attachment's bytes
 * as a child layer (`onenote@OFFSET`), in file order. Never throws.
 *
 * How ClamAV 1.4 reads them (`libclamav_rust/src/onenote.rs`): a section the onenote_parser crate
 * understands gives its embedded files; otherwise ClamAV searches the bytes for file data store
 * objects (GUID BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC, MS-ONESTORE 2.6.13): each starts a 36-byte
 * header whose bytes 16..20 hold the data's length (the low 32 bits of cbLength), and the data
 * follows; the search resumes after it and ends at the first object whose data would pass the end
 * of the file. The attachments of a well-formed section are these same objects, so vigil always
 * reads them this way: the same bytes, in file order (the crate's path gives them last first).
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';

/** OneNote's file magic ({7B5C52E4-D88C-4DA7-AEB1-5378D02996D3} as stored). */
export const ONENOTE_MAGIC = Buffer.from('e4525c7b8cd8a74daeb15378d02996d3', 'hex');
/** A file data store object's header GUID as stored. */
export const FILE_DATA_STORE_OBJECT = Buffer.from('e716e3bd65261145a4c48d4d0b7a9eac', 'hex');
/** guidHeader (16) + cbLength (8) + unused (4) + reserved (8). */
const HEADER_SIZE = 36;

export function* oneNoteLayers(bytes: Uint8Array, _ctx: UnpackContext): Iterable<UnpackItem> {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 16 || !b.subarray(0, 16).equals(ONENOTE_MAGIC)) return;
  let from = 0;
  for (;;) {
    const at = b.indexOf(FILE_DATA_STORE_OBJECT, from);
    if (at < 0 || at + 20 > b.length) return;
    const length = b.readUInt32LE(at + 16);
    const start = at + HEADER_SIZE;
    if (start + length > b.length) return;
    // Limits apply to the attachment as to any layer (the engine checks them).
    yield { name: `onenote@${at}`, data: b.subarray(start, start + length) };
    from = start + length;
  }
}
