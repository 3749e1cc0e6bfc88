/**
 * The transparency log's records: log entries (the leaves), signed tree heads, and the proof a
 * bundle carries so that a client can check offline that it was logged.
 *
 * In: a bundle's manifest and manifest hash, a log's Ed25519 key, Merkle proofs (src/update/merkle.ts).
 * Out: canonical entry bytes, signed tree heads and their verification, the proof trailer of a
 * bundle file, and `checkLogged`, which says whether a bundle is in the log and the log has not
 * forked from the tree head the client saw last, or why not.
 * Why: a signature update that is not in the public log could be a targeted one; the client must
 * refuse it without trusting the mirror, the publisher or the log server.
 *
 * Entry (leaf data): canonical JSON, no whitespace, fixed key order:
 *   {"format":"vigil-log-entry/1","manifest_sha256":HEX,"publisher":P,"version":N,"logged":ISO}
 * Tree head signature: Ed25519 over
 *   "vigil-sth/1\n" || log id (32 bytes, SHA-256 of the log key's SPKI) || u64 tree size ||
 *   u64 timestamp (ms) || root hash (32 bytes)              (integers big-endian)
 * Proof trailer, appended after a bundle's signature (nothing in it needs the publisher's key:
 * it verifies against the log's key):
 *   proof JSON (UTF-8) || u32 length of the JSON || "VIGILPROOF1\n"
 */
import { createHash, createPrivateKey, createPublicKey, KeyObject, sign, verify } from 'node:crypto';
import { HASH_SIZE, leafHash, verifyConsistency, verifyInclusion } from './merkle.js';

export const ENTRY_FORMAT = 'vigil-log-entry/1';
export const PROOF_FORMAT = 'vigil-proof/1';
export const PROOF_MAGIC = Buffer.from('VIGILPROOF1\n', 'latin1');
const STH_PREFIX = Buffer.from('vigil-sth/1\n', 'latin1');
/** Largest proof trailer accepted (consistency proofs from many earlier tree heads). */
export const MAX_PROOF = 4 << 20;
/** How many earlier tree sizes a bundle's proof carries consistency proofs from. */
export const CONSISTENCY_HISTORY = 256;

export interface LogEntry {
  format: string;
  manifest_sha256: string;
  publisher: string;
  version: number;
  logged: string;
}

export interface TreeHead {
  log_id: string;
  tree_size: number;
  timestamp: number;
  root_hash: string;
  signature: string;
}

export interface ConsistencyStep { from_size: number; path: string[] }

export interface BundleProof {
  format: string;
  entry: LogEntry;
  leaf_index: number;
  sth: TreeHead;
  inclusion: string[];
  consistency: ConsistencyStep[];
}

export class LogError extends Error {
  constructor(readonly code: 'not-logged' | 'bad-proof' | 'bad-sth' | 'fork' | 'stale-sth' | 'bad-key' | 'log-io', message: string) {
    super(message);
    this.name = 'LogError';
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const isSize = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

export function canonicalEntry(e: LogEntry): Buffer {
  return Buffer.from(JSON.stringify({
    format: e.format, manifest_sha256: e.manifest_sha256, publisher: e.publisher, version: e.version, logged: e.logged,
  }), 'utf8');
}

/** Shape check of an entry; `where` names it in the error. */
export function parseEntry(v: unknown, where: string): LogEntry {
  const bad = (m: string): never => { throw new LogError('bad-proof', `${where}: ${m}`); };
  if (!isRecord(v)) return bad('not an object');
  if (v.format !== ENTRY_FORMAT) return bad(`format is ${JSON.stringify(v.format)}, expected "${ENTRY_FORMAT}"`);
  if (typeof v.manifest_sha256 !== 'string' || !HEX64.test(v.manifest_sha256)) return bad('manifest_sha256 is not 64 lowercase hex digits');
  if (typeof v.publisher !== 'string' || v.publisher.length === 0 || v.publisher.length > 200) return bad('publisher missing');
  if (typeof v.version !== 'number' || !Number.isSafeInteger(v.version) || v.version < 1) return bad('version is not a positive integer');
  if (typeof v.logged !== 'string' || !ISO.test(v.logged)) return bad('logged is not an ISO 8601 UTC time');
  return { format: ENTRY_FORMAT, manifest_sha256: v.manifest_sha256, publisher: v.publisher, version: v.version, logged: v.logged };
}

export function entryLeafHash(e: LogEntry): Buffer {
  return leafHash(canonicalEntry(e));
}

function toPublic(k: KeyObject | string | Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = k instanceof KeyObject ? k : createPublicKey(typeof k === 'string' ? k : Buffer.from(k));
  } catch (e) { throw new LogError('bad-key', `can't read the log's public key: ${(e as Error).message}`); }
  if (key.asymmetricKeyType !== 'ed25519') throw new LogError('bad-key', "the log's key is not an Ed25519 key");
  return key.type === 'private' ? createPublicKey(key) : key;
}

export function toPrivate(k: KeyObject | string | Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = k instanceof KeyObject ? k : createPrivateKey(typeof k === 'string' ? k : Buffer.from(k));
  } catch (e) { throw new LogError('bad-key', `can't read the log's private key: ${(e as Error).message}`); }
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') throw new LogError('bad-key', "the log's signing key is not an Ed25519 private key");
  return key;
}

/** A log's id: hex SHA-256 of its public key's SPKI DER. */
export function logId(k: KeyObject | string | Uint8Array): string {
  return createHash('sha256').update(toPublic(k).export({ type: 'spki', format: 'der' })).digest('hex');
}

function sthBytes(id: string, size: number, timestamp: number, root: string): Buffer {
  const b = Buffer.alloc(STH_PREFIX.length + 32 + 8 + 8 + 32);
  STH_PREFIX.copy(b, 0);
  Buffer.from(id, 'hex').copy(b, STH_PREFIX.length);
  b.writeBigUInt64BE(BigInt(size), STH_PREFIX.length + 32);
  b.writeBigUInt64BE(BigInt(timestamp), STH_PREFIX.length + 40);
  Buffer.from(root, 'hex').copy(b, STH_PREFIX.length + 48);
  return b;
}

export function signTreeHead(key: KeyObject, size: number, root: Uint8Array, timestamp: number): TreeHead {
  const id = logId(key);
  const rootHex = Buffer.from(root).toString('hex');
  const signature = sign(null, sthBytes(id, size, timestamp, rootHex), key).toString('base64');
  return { log_id: id, tree_size: size, timestamp, root_hash: rootHex, signature };
}

/** Shape and signature check of a tree head; throws `LogError('bad-sth')` with the reason. */
export function verifyTreeHead(v: unknown, logPub: KeyObject | string | Uint8Array, where = 'tree head'): TreeHead {
  const key = toPublic(logPub);
  const bad = (m: string): never => { throw new LogError('bad-sth', `${where}: ${m}`); };
  if (!isRecord(v)) return bad('not an object');
  if (typeof v.log_id !== 'string' || !HEX64.test(v.log_id)) return bad('log_id is not 64 hex digits');
  if (!isSize(v.tree_size)) return bad('tree_size is not a size');
  if (!isSize(v.timestamp)) return bad('timestamp is not a time');
  if (typeof v.root_hash !== 'string' || !HEX64.test(v.root_hash)) return bad('root_hash is not 64 hex digits');
  if (typeof v.signature !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(v.signature)) return bad('signature is not a base64 Ed25519 signature');
  const id = logId(key);
  if (v.log_id !== id) return bad(`signed by log ${v.log_id.slice(0, 16)}…, not by the configured log ${id.slice(0, 16)}…`);
  if (!verify(null, sthBytes(id, v.tree_size, v.timestamp, v.root_hash), key, Buffer.from(v.signature, 'base64'))) {
    return bad(`signature does not verify with the log's key (size ${v.tree_size})`);
  }
  return { log_id: v.log_id, tree_size: v.tree_size, timestamp: v.timestamp, root_hash: v.root_hash, signature: v.signature };
}

function hexList(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || v.length > 64 || !v.every((h) => typeof h === 'string' && HEX64.test(h))) {
    throw new LogError('bad-proof', `${where}: not a list of at most 64 hex hashes`);
  }
  return v as string[];
}

/** Shape check of a parsed proof (signatures and hashes are checked by `checkLogged`). */
export function parseProof(v: unknown): BundleProof {
  const bad = (m: string): never => { throw new LogError('bad-proof', `log proof: ${m}`); };
  if (!isRecord(v)) return bad('not an object');
  if (v.format !== PROOF_FORMAT) return bad(`format is ${JSON.stringify(v.format)}, expected "${PROOF_FORMAT}"`);
  const entry = parseEntry(v.entry, 'log proof: entry');
  if (!isSize(v.leaf_index)) return bad('leaf_index is not an index');
  if (!isRecord(v.sth)) return bad('sth missing');
  const inclusion = hexList(v.inclusion, 'log proof: inclusion');
  if (!Array.isArray(v.consistency) || v.consistency.length > CONSISTENCY_HISTORY * 4) return bad('consistency is not a list');
  const consistency: ConsistencyStep[] = [];
  for (const [i, c] of (v.consistency as unknown[]).entries()) {
    if (!isRecord(c) || !isSize(c.from_size)) return bad(`consistency[${i}] needs from_size and path`);
    consistency.push({ from_size: c.from_size, path: hexList(c.path, `log proof: consistency[${i}].path`) });
  }
  return { format: PROOF_FORMAT, entry, leaf_index: v.leaf_index, sth: v.sth as unknown as TreeHead, inclusion, consistency };
}

export function encodeProofTrailer(p: BundleProof): Buffer {
  const json = Buffer.from(JSON.stringify(p), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  return Buffer.concat([json, len, PROOF_MAGIC]);
}

/**
 * Splits a bundle file into the signed bundle and its log proof (when it ends with one). A file
 * without the trailer's magic is returned whole, with no proof.
 */
export function splitProof(file: Uint8Array): { bundle: Buffer; proof?: BundleProof; proofError?: LogError } {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const tail = PROOF_MAGIC.length + 4;
  if (buf.length < tail || !buf.subarray(buf.length - PROOF_MAGIC.length).equals(PROOF_MAGIC)) return { bundle: buf };
  const len = buf.readUInt32BE(buf.length - tail);
  if (len > MAX_PROOF || len + tail > buf.length) {
    return { bundle: buf.subarray(0, buf.length - tail), proofError: new LogError('bad-proof', `log proof: length ${len} does not fit the file (${buf.length} bytes)`) };
  }
  const bundle = buf.subarray(0, buf.length - tail - len);
  try {
    const parsed: unknown = JSON.parse(buf.subarray(buf.length - tail - len, buf.length - tail).toString('utf8'));
    return { bundle, proof: parseProof(parsed) };
  } catch (e) {
    return { bundle, proofError: e instanceof LogError ? e : new LogError('bad-proof', `log proof is not JSON: ${(e as Error).message}`) };
  }
}

/** The bundle with `proof` attached (an earlier proof is replaced). */
export function attachProof(file: Uint8Array, proof: BundleProof): Buffer {
  return Buffer.concat([splitProof(file).bundle, encodeProofTrailer(proof)]);
}

/** What a client remembers of the log: the last tree head it accepted. */
export interface SeenHead { tree_size: number; root_hash: string; timestamp: number }

/** Fetches a consistency proof from a log when the bundle's own proof lacks the one needed. */
export type ConsistencySource = (first: number, second: number) => Promise<string[] | undefined>;

/**
 * Checks that the bundle with `manifestHash` (publisher, version) is in the log: the entry names
 * it, the tree head is signed by the log, the inclusion proof leads to its root, and that tree
 * head is consistent with `lastSeen`. Returns the tree head to remember (the larger of the two).
 * Throws `LogError` with the reason.
 */
export async function checkLogged(
  proof: BundleProof | undefined,
  bundle: { manifestHash: string; publisher: string; version: number },
  logPub: KeyObject | string | Uint8Array,
  lastSeen?: SeenHead,
  fetchConsistency?: ConsistencySource,
): Promise<{ head: SeenHead; sth: TreeHead; leafIndex: number }> {
  if (!proof) throw new LogError('not-logged', 'the bundle carries no log proof: it was not published in the transparency log');
  const e = proof.entry;
  if (e.manifest_sha256 !== bundle.manifestHash) throw new LogError('not-logged', `the log entry is for manifest ${e.manifest_sha256.slice(0, 16)}…, not this bundle's ${bundle.manifestHash.slice(0, 16)}…`);
  if (e.version !== bundle.version || e.publisher !== bundle.publisher) {
    throw new LogError('not-logged', `the log entry says ${e.publisher} version ${e.version}, the bundle ${bundle.publisher} version ${bundle.version}`);
  }
  const sth = verifyTreeHead(proof.sth, logPub, 'log proof: tree head');
  const root = Buffer.from(sth.root_hash, 'hex');
  if (!verifyInclusion(entryLeafHash(e), proof.leaf_index, sth.tree_size, proof.inclusion.map((h) => Buffer.from(h, 'hex')), root)) {
    throw new LogError('not-logged', `the inclusion proof of leaf ${proof.leaf_index} does not lead to the signed root of size ${sth.tree_size}`);
  }
  const head: SeenHead = { tree_size: sth.tree_size, root_hash: sth.root_hash, timestamp: sth.timestamp };
  if (!lastSeen) return { head, sth, leafIndex: proof.leaf_index };
  const fork = (why: string): never => {
    throw new LogError('fork', `the log forked: tree head of size ${sth.tree_size} (root ${sth.root_hash.slice(0, 16)}…) is not consistent with the one seen before, size ${lastSeen.tree_size} (root ${lastSeen.root_hash.slice(0, 16)}…): ${why}`);
  };
  const [small, large] = lastSeen.tree_size <= sth.tree_size
    ? [{ size: lastSeen.tree_size, root: lastSeen.root_hash }, { size: sth.tree_size, root: sth.root_hash }]
    : [{ size: sth.tree_size, root: sth.root_hash }, { size: lastSeen.tree_size, root: lastSeen.root_hash }];
  if (small.size === large.size) {
    if (small.root !== large.root) fork('same size, different roots');
  } else if (small.size > 0) {
    let path: string[] | undefined;
    if (large.size === sth.tree_size) path = proof.consistency.find((c) => c.from_size === small.size)?.path;
    if (path === undefined && fetchConsistency) path = await fetchConsistency(small.size, large.size);
    if (path === undefined) {
      throw new LogError('stale-sth', `no consistency proof between tree sizes ${small.size} and ${large.size} is at hand; give the log's address to fetch one`);
    }
    if (!verifyConsistency(small.size, large.size, Buffer.from(small.root, 'hex'), Buffer.from(large.root, 'hex'), path.map((h) => Buffer.from(h, 'hex')))) {
      fork(`the consistency proof from size ${small.size} to ${large.size} fails`);
    }
  }
  const newer = sth.tree_size >= lastSeen.tree_size ? head : lastSeen;
  return { head: newer, sth, leafIndex: proof.leaf_index };
}

export { HASH_SIZE };
