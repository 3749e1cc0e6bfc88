/**
 * The compiled-database cache: a `SignatureSet` ⇄ one file, so that start-up skips parsing text.
 *
 * Format: the bytes `VIGILDB1`, a 4-byte little-endian length, a JSON header (signature lists with
 * their parsed patterns; `Infinity` gap bounds written as -1), then the hash table as raw bytes
 * (algorithm, size, digest per entry, names by index). Validation is strict: a damaged cache is
 * refused (and rebuilt by the caller), never half-used.
 */
import type { LoadedHash, SignatureSet } from '../signatures/clamav/loader.js';
import type { HashAlgo } from '../signatures/clamav/types.js';

const MAGIC = Buffer.from('VIGILDB1', 'latin1');
const ALGOS: HashAlgo[] = ['md5', 'sha1', 'sha256'];
const LEN: Record<HashAlgo, number> = { md5: 16, sha1: 20, sha256: 32 };

export function serializeSignatures(set: SignatureSet): Buffer {
  const names: string[] = [];
  const nameIdx = new Map<string, number>();
  const dbs: string[] = [];
  const dbIdx = new Map<string, number>();
  const intern = (m: Map<string, number>, arr: string[], s: string) => {
    let i = m.get(s);
    if (i === undefined) { i = arr.length; arr.push(s); m.set(s, i); }
    return i;
  };
  // Hash entries: algo(1) scope(1) allow(1) pad(1) size(4, 0xffffffff = *) name(4) db(4) line(4) digest(n)
  const parts: Buffer[] = [];
  for (const h of set.hashes) {
    const b = Buffer.alloc(20 + LEN[h.algo]);
    b[0] = ALGOS.indexOf(h.algo);
    b[1] = h.scope === 'file' ? 0 : h.scope === 'section' ? 1 : 2;
    b[2] = h.allow ? 1 : 0;
    b.writeUInt32LE(h.size === null ? 0xffffffff : h.size, 4);
    b.writeUInt32LE(intern(nameIdx, names, h.name), 8);
    b.writeUInt32LE(intern(dbIdx, dbs, h.db), 12);
    b.writeUInt32LE(h.line, 16);
    Buffer.from(h.hash).copy(b, 20);
    parts.push(b);
  }
  const header = {
    ndb: set.ndb, ldb: set.ldb, cdb: set.cdb, yaraFiles: set.yaraFiles, known: set.known, files: set.files,
    daily: set.daily, names, dbs, hashCount: set.hashes.length,
  };
  const json = Buffer.from(JSON.stringify(header, (_k, v: unknown) => (v === Infinity ? -1 : typeof v === 'bigint' ? { $big: v.toString() } : v)), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length, 0);
  return Buffer.concat([MAGIC, len, json, ...parts]);
}

export function deserializeSignatures(buf: Uint8Array): SignatureSet | undefined {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 12 || !b.subarray(0, 8).equals(MAGIC)) return undefined;
  const jl = b.readUInt32LE(8);
  if (12 + jl > b.length) return undefined;
  let h: { ndb: SignatureSet['ndb']; ldb: SignatureSet['ldb']; cdb: SignatureSet['cdb']; yaraFiles: string[]; known: number; files: SignatureSet['files']; daily?: SignatureSet['daily']; names: string[]; dbs: string[]; hashCount: number };
  try {
    h = JSON.parse(b.subarray(12, 12 + jl).toString('utf8'), (k, v: unknown) => {
      if ((k === 'max') && v === -1) return Infinity;
      if (v && typeof v === 'object' && '$big' in (v as Record<string, unknown>)) return BigInt((v as { $big: string }).$big);
      return v;
    });
  } catch {
    return undefined;
  }
  const hashes: LoadedHash[] = [];
  let off = 12 + jl;
  for (let i = 0; i < h.hashCount; i++) {
    if (off + 20 > b.length) return undefined;
    const algo = ALGOS[b[off]!];
    if (!algo) return undefined;
    const n = LEN[algo];
    if (off + 20 + n > b.length) return undefined;
    const size = b.readUInt32LE(off + 4);
    hashes.push({
      algo, scope: b[off + 1] === 0 ? 'file' : b[off + 1] === 1 ? 'section' : 'import', allow: b[off + 2] === 1,
      size: size === 0xffffffff ? null : size, name: h.names[b.readUInt32LE(off + 8)] ?? '', db: h.dbs[b.readUInt32LE(off + 12)] ?? '',
      line: b.readUInt32LE(off + 16), hash: Uint8Array.from(b.subarray(off + 20, off + 20 + n)),
    });
    off += 20 + n;
  }
  if (off !== b.length) return undefined;
  return { ndb: h.ndb, ldb: h.ldb, cdb: h.cdb, yaraFiles: h.yaraFiles, known: h.known, files: h.files, ...(h.daily ? { daily: h.daily } : {}), hashes, diagnostics: [], ok: true };
}
