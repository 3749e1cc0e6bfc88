/**
 * Symbian installer (SIS, the format before Symbian 9) → the files it installs, as ClamAV 1.4
 * extracts them.
 *
 * In: the bytes of a CL_TYPE_SIS layer. Out: lazily, each file (one per language for
 * language-dependent files), named by its source path when the package gives one (`sisNN`
 * otherwise), or the limit that stopped one.
 *
 * Why this shape: ClamAV reads the 68-byte header after the four UIDs (languages, file records'
 * count and offset, the "not compressed" flag 8), then walks the file records as a stream of
 * 32-bit words: a record type, and for a file its type, options, name lengths and offsets, then
 * per language the stored length, the offset and the original length. Files are zlib streams
 * (whole, checksum included) unless the package says they are stored; a stream that does not
 * inflate completely into the room ClamAV gives it (three times the stored size when the original
 * size fits there, else the original size) is dropped; three times the stored size over
 * MaxFileSize is a limit met (alerted with AlertExceedsMax) even when the original size then
 * fits and the file is extracted. Other records are skipped by the byte
 * counts ClamAV uses (its quirks kept: a language-file record skips one byte per language). The
 * walk ends at the end of the data. Packages of the later format (first UID 0x10201A7A, when the
 * third is not the old format's) go to `./sis9.ts`.
 */
import { inflateSync } from 'node:zlib';
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { scanSis9 } from './sis9.js';

const UIDS = 16;
const HEADER_END = UIDS + 68;
/** ClamAV's table of language names has this many entries; a package declaring as many or more is refused. */
const MAX_LANG = 100;
const FT_NULL = 4;

const u16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);
const u32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** A UTF-16 name read as ClamAV reads it (every other byte, at most 400 bytes); undefined when absent. */
function sisString(b: Uint8Array, ptr: number, len: number): string | undefined {
  if (!len) return undefined;
  len = Math.min(len, 400);
  if (ptr + len > b.length) return undefined;
  let s = '';
  for (let i = 0; i < len; i += 2) s += String.fromCharCode(b[ptr + i]!);
  return s.replace(/\0.*$/s, '');
}

export function* scanSis(b: Uint8Array, ctx: UnpackContext): Iterable<UnpackItem> {
  if (b.length >= 16 && u32(b, 8) !== 0x10000419 && u32(b, 0) === 0x10201a7a) {
    yield* scanSis9(b, ctx);
    return;
  }
  if (b.length < HEADER_END || u32(b, 8) !== 0x10000419) return;
  const langs = u16(b, 18);
  const files = u16(b, 20);
  const flags = u16(b, 36);
  const plangs = u32(b, 48);
  const pfiles = u32(b, 52);
  if (!langs || langs >= MAX_LANG) return;
  if (plangs + langs * 2 > b.length) return;
  const compressed = !(flags & 8);
  if (pfiles < HEADER_END) return;
  const maxFile = ctx.limits.maxFileSize > 0 ? ctx.limits.maxFileSize : Infinity;
  let pos = pfiles;
  let extracted = 0;
  const word = (): number | undefined => {
    if (pos + 4 > b.length) return undefined;
    const v = u32(b, pos);
    pos += 4;
    return v;
  };
  for (let i = 0; i < files; i++) {
    const kind = word();
    if (kind === undefined) return;
    let skip = 0;
    switch (kind) {
      case 1: skip = langs; break; // a language-file record: ClamAV skips one byte per language
      case 0: {
        const head: number[] = [];
        for (let k = 0; k < 6; k++) {
          const v = word();
          if (v === undefined) return;
          head.push(v);
        }
        const [ftype, , ssname, psname] = head as [number, number, number, number];
        const original = sisString(b, psname, ssname);
        const table: number[] = [];
        for (let k = 0; k < langs * 3; k++) {
          const v = word();
          if (v === undefined) return;
          table.push(v);
        }
        if (ftype !== FT_NULL) {
          for (let j = 0; j < langs; j++) {
            const len = table[j]!, ptr = table[langs + j]!, olen = table[2 * langs + j]!;
            if (!len || ptr < HEADER_END) continue;
            const name = original ?? `sis${String(extracted).padStart(2, '0')}`;
            if (len > maxFile) { yield { name, limit: 'MaxFileSize', size: len }; continue; }
            if (ptr + len > b.length) continue;
            const stored = b.subarray(ptr, ptr + len);
            let data: Uint8Array;
            if (compressed) {
              let room: number | undefined;
              const triple = Math.imul(len, 3) >>> 0; // ClamAV's 32-bit product
              if (olen <= triple) {
                // Three times the stored size over the limit is met as a limit (alerted with
                // AlertExceedsMax) even when the original size then fits.
                if (triple <= maxFile) room = triple;
                else yield { name, limit: 'MaxFileSize', size: triple };
              }
              if (room === undefined) {
                if (olen > maxFile) { yield { name, limit: 'MaxFileSize', size: olen }; continue; }
                room = olen;
              }
              // ClamAV's allocation of nothing fails, which ends its reading.
              if (!room) return;
              try {
                data = inflateSync(stored, { maxOutputLength: Math.max(1, room) });
              } catch {
                continue; // damaged, or larger than the room: ClamAV drops it
              }
            } else data = stored;
            extracted++;
            yield { name, data };
          }
        }
        skip = 8;
        break;
      }
      case 2: {
        const n = word();
        if (n === undefined) return;
        skip = Math.imul(n, langs * 8) >>> 0;
        break;
      }
      case 3: case 4: {
        const n = word();
        if (n === undefined) return;
        skip = n;
        break;
      }
      default: skip = 0;
    }
    pos += skip;
  }
}
