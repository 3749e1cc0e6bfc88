/**
 * The compiled-database cache: a loaded database ⇄ one file, so that start-up parses no text and
 * builds no syntax trees.
 *
 * Layout: `VIGILDB5`; the SHA-256 of everything after it; then four length-prefixed blocks:
 * a JSON document with the load's metadata, the logical signatures (their content patterns
 * stripped: those live in the body block) and the YARA files' text (compiled again at load; their
 * atoms are in the body block's index); the compiled body database (`BodyDatabase.serialize`:
 * atom index arrays and encoded parts, decoded lazily); the whole-file hash index and the
 * allow-list index (`HashIndex.serialize`). The digest is checked before anything is used, so a
 * damaged cache is refused (the caller rebuilds it), never half-used.
 */
import { createHash } from 'node:crypto';
import type { SignatureSet } from '../signatures/clamav/loader.js';
import type { LdbSig } from '../signatures/clamav/types.js';
import { BodyDatabase } from './bodydb.js';
import type { HashIndexes } from './engine.js';
import { HashIndex, HashIndexBuilder } from './hashindex.js';

const MAGIC = Buffer.from('VIGILDB6', 'latin1');

export interface CompiledDatabase {
  set: SignatureSet;
  indexes: HashIndexes;
  body: BodyDatabase;
}

/** Logical signatures without their content patterns (the body database holds those). */
function stripLdb(ldb: readonly LdbSig[]): LdbSig[] {
  return ldb.map((s) => ({
    ...s,
    subsigs: s.subsigs.map((x) => (x.k === 'content' ? { k: 'content' as const, offset: x.offset, mods: x.mods, pattern: { parts: [], gaps: [], source: x.pattern.source } } : x)),
  }));
}

export function serializeDatabase(set: SignatureSet, indexes: HashIndexes, body: BodyDatabase): Buffer {
  const meta = { ldb: stripLdb(set.ldb), cdb: set.cdb, yara: set.yara, known: set.known, files: set.files, daily: set.daily, ndbCount: set.ndb.length };
  const json = Buffer.from(JSON.stringify(meta, (_k, v: unknown) => (v === Infinity ? -1 : typeof v === 'bigint' ? { $big: v.toString() } : v)), 'utf8');
  const empty = (): HashIndex => new HashIndexBuilder().build();
  const blocks = [json, body.serialize(), indexes.file.serialize(), indexes.allow.serialize(), (indexes.section ?? empty()).serialize(), (indexes.import ?? empty()).serialize()];
  const parts: Uint8Array[] = [];
  for (const b of blocks) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length, 0);
    parts.push(len, b);
  }
  const payload = Buffer.concat(parts);
  const digest = createHash('sha256').update(payload).digest();
  return Buffer.concat([MAGIC, digest, payload]);
}

/**
 * The binary blocks are used in place (views into `buf`, which may be shared memory), so a large
 * database is neither parsed nor copied; the caller keeps `buf` alive as long as the result.
 */
export function deserializeDatabase(buf: Uint8Array): CompiledDatabase | undefined {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 40 || !b.subarray(0, 8).equals(MAGIC)) return undefined;
  const payload = b.subarray(40);
  if (!createHash('sha256').update(payload).digest().equals(b.subarray(8, 40))) return undefined;
  let off = 0;
  const take = (): Buffer | undefined => {
    if (off + 4 > payload.length) return undefined;
    const n = payload.readUInt32LE(off);
    off += 4;
    if (off + n > payload.length) return undefined;
    const out = payload.subarray(off, off + n);
    off += n;
    return out;
  };
  const json = take(), bodyBytes = take(), fileBytes = take(), allowBytes = take(), sectionBytes = take(), importBytes = take();
  if (!json || !bodyBytes || !fileBytes || !allowBytes || !sectionBytes || !importBytes || off !== payload.length) return undefined;
  try {
    // No reviver (it would run on every key): the only values JSON cannot carry are the bigints
    // of byte-compare comparisons, restored here (patterns, with their Infinity gaps, are not in it).
    const meta = JSON.parse(json.toString('utf8')) as Pick<SignatureSet, 'ldb' | 'cdb' | 'yara' | 'known' | 'files' | 'daily'>;
    for (const sig of meta.ldb) {
      for (const sub of sig.subsigs) {
        if (sub.k !== 'bytecmp') continue;
        for (const c of sub.cmps) c.value = BigInt((c.value as unknown as { $big: string }).$big);
      }
    }
    const body = BodyDatabase.deserialize(bodyBytes);
    const file = HashIndex.deserialize(fileBytes);
    const allow = HashIndex.deserialize(allowBytes);
    const section = HashIndex.deserialize(sectionBytes);
    const imports = HashIndex.deserialize(importBytes);
    const set: SignatureSet = { ...meta, ndb: [], hashes: [], diagnostics: [], ok: true };
    return { set, indexes: { file, allow, section, import: imports }, body };
  } catch {
    return undefined;
  }
}
