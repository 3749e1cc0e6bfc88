/**
 * The compiled-database cache: a `SignatureSet` and its hash indexes ⇄ one file, so that start-up
 * skips parsing text.
 *
 * Layout: the bytes `VIGILDB2`; a 4-byte little-endian length and a JSON document holding the
 * parsed body and logical signatures (`Infinity` gap bounds written as -1, bigints tagged); then
 * the whole-file hash index and the allow-list index in `HashIndex`'s own binary form, each
 * preceded by its length. Validation is strict: a damaged cache is refused (and rebuilt by the
 * caller), never half-used.
 */
import type { SignatureSet } from '../signatures/clamav/loader.js';
import type { HashIndexes } from './engine.js';
import { HashIndex } from './hashindex.js';

const MAGIC = Buffer.from('VIGILDB2', 'latin1');

export function serializeDatabase(set: SignatureSet, indexes: HashIndexes): Buffer {
  const header = { ndb: set.ndb, ldb: set.ldb, cdb: set.cdb, yaraFiles: set.yaraFiles, known: set.known, files: set.files, daily: set.daily };
  const json = Buffer.from(JSON.stringify(header, (_k, v: unknown) => (v === Infinity ? -1 : typeof v === 'bigint' ? { $big: v.toString() } : v)), 'utf8');
  const file = indexes.file.serialize();
  const allow = indexes.allow.serialize();
  const len = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n, 0); return b; };
  return Buffer.concat([MAGIC, len(json.length), json, len(file.length), file, len(allow.length), allow]);
}

/**
 * `shared`: the input lives in shared memory for the process's lifetime, so the hash indexes may
 * be views into it rather than copies.
 */
export function deserializeDatabase(buf: Uint8Array, opts: { shared?: boolean } = {}): { set: SignatureSet; indexes: HashIndexes } | undefined {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 12 || !b.subarray(0, 8).equals(MAGIC)) return undefined;
  let off = 8;
  const take = (): Buffer | undefined => {
    if (off + 4 > b.length) return undefined;
    const n = b.readUInt32LE(off);
    off += 4;
    if (off + n > b.length) return undefined;
    const out = b.subarray(off, off + n);
    off += n;
    return out;
  };
  const json = take();
  const fileBytes = take();
  const allowBytes = take();
  if (!json || !fileBytes || !allowBytes || off !== b.length) return undefined;
  try {
    const h = JSON.parse(json.toString('utf8'), (k, v: unknown) => {
      if (k === 'max' && v === -1) return Infinity;
      if (v && typeof v === 'object' && '$big' in (v as Record<string, unknown>)) return BigInt((v as { $big: string }).$big);
      return v;
    }) as Omit<SignatureSet, 'hashes' | 'diagnostics' | 'ok'>;
    // Unless shared, copy the index bytes out so the indexes do not pin the whole file buffer.
    const file = HashIndex.deserialize(opts.shared ? fileBytes : Uint8Array.from(fileBytes));
    const allow = HashIndex.deserialize(opts.shared ? allowBytes : Uint8Array.from(allowBytes));
    const set: SignatureSet = { ...h, hashes: [], diagnostics: [], ok: true };
    return { set, indexes: { file, allow } };
  } catch {
    return undefined;
  }
}
