/**
 * TNEF (`winmail.dat`) → the attachments ClamAV 1.4 extracts from it, with their names.
 *
 * In: the bytes of a CL_TYPE_TNEF layer (signature 78 9F 3E 22, a 2-byte key, then attribute
 * records: level byte, 32-bit tag/type, 32-bit length, data, 16-bit checksum). Out: one child
 * per run of attachment-level records, named by its `attAttachTitle` (0x8010), holding the data
 * of its `attAttachData` records (0x800F) one after another.
 *
 * ClamAV's rules (`libclamav/tnef.c`): a message-level record closes the file being built (a new
 * one starts; data not yet given a name is dropped then, and the last file is named `tnef` when
 * it has no name), so attachments that follow each other without a message-level record between them
 * end up in one file; a record of length 0 is skipped without its checksum; a file cut inside a
 * record header ends the reading with what was found; a record whose data runs past the end, a
 * negative length or an unknown level makes the whole file a format error, and then nothing is
 * scanned (ClamAV scans its output directory only after a clean read). Checksums are not checked.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';

const SIGNATURE = 0x223e9f78;
const LVL_MESSAGE = 1, LVL_ATTACHMENT = 2;
const ATT_ATTACHDATA = 0x800f, ATT_ATTACHTITLE = 0x8010;

interface Blob { name?: string; parts: Uint8Array[]; size: number }

/** Reads a CL_TYPE_TNEF layer: its attachment files, in the order written. */
export function* unpackTnef(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  const n = bytes.length;
  if (n < 6) return;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== SIGNATURE) return;
  let pos = 6;
  const done: Blob[] = [];
  let fb: Blob | undefined;
  let ok = true;
  for (let guard = 0; guard < n; guard++) {
    // tnef_header
    let part = 0, tag = 0, length = 0, status: 0 | 1 | -1;
    if (pos >= n) status = 0;
    else {
      part = bytes[pos++]!;
      if (part === 0) status = 0;
      else if (pos + 4 > n) status = (part === 0x0a || part === 0x0d) && pos >= n ? 0 : -1;
      else {
        tag = dv.getUint32(pos, true) & 0xffff;
        pos += 4;
        if (pos + 4 > n) status = -1;
        else {
          length = dv.getInt32(pos, true);
          pos += 4;
          status = 1;
        }
      }
    }
    if (status === -1) { length = 0; status = 0; }
    if (length === 0) {
      if (status === 0) break;
      continue;
    }
    if (length < 0) { ok = false; break; }
    if (status === 0) break;
    if (part === LVL_MESSAGE) {
      // the file in hand is kept only when it was named (ClamAV drops unnamed data here)
      if (fb?.name !== undefined) done.push(fb);
      fb = { parts: [], size: 0 };
      if (!(pos + length <= n)) { ok = false; break; }
      pos += length + 2;
    } else if (part === LVL_ATTACHMENT) {
      const start = pos;
      if (tag === ATT_ATTACHTITLE) {
        if (start + length > n) { ok = false; break; }
        fb ??= { parts: [], size: 0 };
        if (fb.name === undefined) {
          const raw = bytes.subarray(start, start + length);
          const z = raw.indexOf(0);
          fb.name = Buffer.from(z >= 0 ? raw.subarray(0, z) : raw).toString('latin1');
        }
      } else if (tag === ATT_ATTACHDATA) {
        fb ??= { parts: [], size: 0 };
        const got = Math.max(0, Math.min(length, n - start));
        if (fb.size <= ctx.limits.maxFileSize) fb.parts.push(bytes.subarray(start, start + got));
        fb.size += got;
      }
      if (!(start + length <= n)) { ok = false; break; }
      pos = start + length + 2;
    } else { ok = false; break; }
  }
  if (fb) done.push(fb);
  if (!ok) return;
  for (const f of done) {
    if (f.size === 0) continue;
    const name = f.name ?? 'tnef';
    if (f.size > ctx.limits.maxFileSize) { yield { name, limit: 'MaxFileSize', size: f.size }; continue; }
    const data = new Uint8Array(f.size);
    let o = 0;
    for (const p of f.parts) { data.set(p, o); o += p.length; }
    yield { name, data };
  }
}
