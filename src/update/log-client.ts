/**
 * The transparency log's client: the calls of the log's HTTP API (src/update/log-server.ts), each
 * reply validated, and the auditor's full replay of a log.
 *
 * In: a log's base URL (http or https), its public key where a tree head must be trusted, and
 * for the auditor the tree head it saw last. Out: tree heads, proofs, entries, bundles and the
 * proof of a submitted bundle, each checked for shape (and signature, hash, range) before it is
 * returned; or a `LogError` (code 'log-io' for the network and HTTP errors, with the status in
 * `LogHttpError`; 'bad-sth', 'bad-proof', 'fork', 'not-logged' for replies that fail a check).
 * Why: the update client and `vigil log` both talk to logs they do not trust. Every request has a
 * timeout and every reply a size cap, so a hostile log can make a check fail but not hang it or
 * fill the memory.
 */
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { httpExchange } from './http.js';
import { MerkleTree, verifyConsistency } from './merkle.js';
import {
  entryLeafHash, LogError, MAX_PROOF, parseEntry, parseProof, splitProof, verifyTreeHead,
  type BundleProof, type ConsistencySource, type LogEntry, type TreeHead,
} from './transparency.js';

type LogKey = KeyObject | string | Uint8Array;

export interface FetchOptions {
  /** Deadline of each request, reply included; default 30 s. */
  timeoutMs?: number;
  /** Largest reply accepted, default per call (1 MiB for JSON, 64 MiB + proof for bundles). */
  maxBytes?: number;
}

/** An HTTP reply other than 200; `reason` is the log's {"error"} text when it sent one. */
export class LogHttpError extends LogError {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super('log-io', message);
    this.name = 'LogHttpError';
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_JSON = 1 << 20;
/** 1000 entries of up to ~1.5 KiB each (a 200-character publisher, JSON-escaped). */
const MAX_ENTRIES_REPLY = 2 << 20;
/** A proof reply (/add) can carry consistency proofs from many earlier sizes. */
const MAX_PROOF_REPLY = MAX_PROOF + 4096;
export const MAX_BUNDLE_REPLY = (64 << 20) + MAX_PROOF;
export const ENTRIES_PAGE = 1000;
const HEX64 = /^[0-9a-f]{64}$/;

function endpoint(base: string, path: string): URL {
  let u: URL;
  try { u = new URL(base); } catch { throw new LogError('log-io', `${base}: not a URL`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new LogError('log-io', `${base}: a log is reached over http or https, not ${u.protocol}`);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return new URL(path, u);
}

async function request(base: string, path: string, cap: number, opts: FetchOptions, init: { method?: string; body?: Uint8Array } = {}): Promise<Buffer> {
  const url = endpoint(base, path);
  const method = init.method ?? 'GET';
  const where = `${method} ${url.href}`;
  const { status, body } = await httpExchange(url, {
    method, ...(init.body ? { body: init.body } : {}), cap: opts.maxBytes ?? cap, errorCap: MAX_JSON,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, where, fail: (m) => new LogError('log-io', m),
  });
  if (status !== 200) {
    let reason = '';
    try {
      const v: unknown = JSON.parse(body.toString('utf8'));
      if (typeof v === 'object' && v !== null && typeof (v as { error?: unknown }).error === 'string') reason = (v as { error: string }).error.slice(0, 2000);
    } catch { /* not JSON: no reason given */ }
    throw new LogHttpError(status, reason, `${where}: HTTP ${status}${reason ? `: ${reason}` : ''}`);
  }
  return body;
}

async function requestJson(base: string, path: string, cap: number, opts: FetchOptions, init: { method?: string; body?: Uint8Array } = {}): Promise<Record<string, unknown>> {
  const body = await request(base, path, cap, opts, init);
  let v: unknown;
  try { v = JSON.parse(body.toString('utf8')); } catch (e) { throw new LogError('bad-proof', `${base} ${path}: reply is not JSON: ${(e as Error).message}`); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new LogError('bad-proof', `${base} ${path}: reply is not a JSON object`);
  return v as Record<string, unknown>;
}

function checkCount(name: string, n: number, min: number): void {
  if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`${name} must be an integer ≥ ${min}, not ${n}`);
}

function hashList(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || v.length > 128 || !v.every((h) => typeof h === 'string' && HEX64.test(h))) {
    throw new LogError('bad-proof', `${where}: not a list of hex hashes`);
  }
  return v as string[];
}

/** Shape check of a tree head when no key is at hand to verify it. */
function treeHeadShape(v: unknown, where: string): TreeHead {
  const r = v as Record<string, unknown>;
  const isSize = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (typeof v !== 'object' || v === null || typeof r.log_id !== 'string' || !HEX64.test(r.log_id) || !isSize(r.tree_size)
    || !isSize(r.timestamp) || typeof r.root_hash !== 'string' || !HEX64.test(r.root_hash) || typeof r.signature !== 'string') {
    throw new LogError('bad-sth', `${where}: not a tree head`);
  }
  return { log_id: r.log_id, tree_size: r.tree_size, timestamp: r.timestamp, root_hash: r.root_hash, signature: r.signature };
}

/** The log's current tree head; its signature is checked when `logPub` is given. */
export async function fetchTreeHead(url: string, logPub?: LogKey, opts: FetchOptions = {}): Promise<TreeHead> {
  const v = await requestJson(url, 'log/v1/sth', MAX_JSON, opts);
  const where = `${url}: tree head`;
  return logPub === undefined ? treeHeadShape(v, where) : verifyTreeHead(v, logPub, where);
}

/** The consistency proof between tree sizes `first` and `second` (0 < first ≤ second). */
export async function fetchConsistency(url: string, first: number, second: number, opts: FetchOptions = {}): Promise<string[]> {
  checkCount('first', first, 1);
  checkCount('second', second, first);
  const v = await requestJson(url, `log/v1/consistency?first=${first}&second=${second}`, MAX_JSON, opts);
  return hashList(v.proof, `${url}: consistency proof ${first}→${second}`);
}

/** The inclusion proof of a leaf (its hash, hex) in the tree of `treeSize` leaves. */
export async function fetchInclusion(url: string, leafHashHex: string, treeSize: number, opts: FetchOptions = {}): Promise<{ leaf_index: number; inclusion: string[] }> {
  if (!HEX64.test(leafHashHex)) throw new RangeError('a leaf hash is 64 lowercase hex digits');
  checkCount('tree size', treeSize, 1);
  const v = await requestJson(url, `log/v1/proof?hash=${leafHashHex}&tree_size=${treeSize}`, MAX_JSON, opts);
  const i = v.leaf_index;
  if (typeof i !== 'number' || !Number.isSafeInteger(i) || i < 0 || i >= treeSize) throw new LogError('bad-proof', `${url}: inclusion reply: leaf_index is not an index below ${treeSize}`);
  return { leaf_index: i, inclusion: hashList(v.inclusion, `${url}: inclusion proof`) };
}

/** Entries `start` (inclusive) to `end` (exclusive), at most 1000; exactly that many are required. */
export async function fetchEntries(url: string, start: number, end: number, opts: FetchOptions = {}): Promise<LogEntry[]> {
  checkCount('start', start, 0);
  checkCount('end', end, start + 1);
  if (end - start > ENTRIES_PAGE) throw new RangeError(`at most ${ENTRIES_PAGE} entries per call`);
  const v = await requestJson(url, `log/v1/entries?start=${start}&end=${end}`, MAX_ENTRIES_REPLY, opts);
  if (!Array.isArray(v.entries)) throw new LogError('bad-proof', `${url}: entries reply has no list of entries`);
  if (v.entries.length !== end - start) throw new LogError('bad-proof', `${url}: asked for entries ${start}..${end - 1}, got ${v.entries.length}`);
  return (v.entries as unknown[]).map((e, k) => parseEntry(e, `${url}: entry ${start + k}`));
}

/** What can be read of a bundle without its publisher's key: the manifest hash, manifest and files. */
export interface UnverifiedBundle {
  manifestHash: string;
  manifest: { publisher?: unknown; version?: unknown; files?: unknown };
  files: { name: string; data: Buffer }[];
}

/**
 * Reads a VIGILBNDL1 bundle's manifest hash and, when the manifest is JSON with a file list, its
 * files (each checked against the manifest's size and SHA-256), without checking the signature:
 * what an auditor without the publisher's key can compare with a log entry. Throws
 * `LogError('bad-proof')` when the header is broken or a file does not match the manifest.
 */
export function readBundleUnverified(file: Uint8Array, where = 'bundle'): UnverifiedBundle {
  const { bundle } = splitProof(file);
  const magic = Buffer.from('VIGILBNDL1\n', 'latin1');
  const bad = (m: string): never => { throw new LogError('bad-proof', `${where}: ${m}`); };
  if (bundle.length < magic.length + 4 || !bundle.subarray(0, magic.length).equals(magic)) return bad('not a vigil bundle');
  const mlen = bundle.readUInt32BE(magic.length);
  const at = magic.length + 4;
  if (mlen === 0 || at + mlen + 64 > bundle.length) return bad(`manifest length ${mlen} does not fit the file`);
  const mbytes = bundle.subarray(at, at + mlen);
  const manifestHash = createHash('sha256').update(mbytes).digest('hex');
  let manifest: UnverifiedBundle['manifest'] = {};
  const files: { name: string; data: Buffer }[] = [];
  try {
    const v: unknown = JSON.parse(mbytes.toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) manifest = v as UnverifiedBundle['manifest'];
  } catch { /* the hash is still meaningful; no files */ }
  if (Array.isArray(manifest.files)) {
    let off = at + mlen;
    for (const f of manifest.files as unknown[]) {
      const r = f as { name?: unknown; size?: unknown; sha256?: unknown };
      if (typeof f !== 'object' || f === null || typeof r.name !== 'string' || typeof r.size !== 'number' || !Number.isSafeInteger(r.size) || r.size < 0) {
        return bad(`manifest file ${files.length} has no name and size`);
      }
      if (off + r.size > bundle.length - 64) return bad(`${r.name}: the manifest declares more bytes than the file holds`);
      const data = bundle.subarray(off, off + r.size);
      // The manifest is the logged one (its hash is checked by the caller); the files must be its files.
      if (createHash('sha256').update(data).digest('hex') !== r.sha256) return bad(`${r.name}: SHA-256 does not match the manifest`);
      files.push({ name: r.name, data });
      off += r.size;
    }
    if (off !== bundle.length - 64) return bad(`${bundle.length - 64 - off} bytes between the last file and the signature`);
  }
  return { manifestHash, manifest, files };
}

/** The bundle logged under `manifestHash`; its manifest must hash to that value. */
export async function fetchLoggedBundle(url: string, manifestHash: string, opts: FetchOptions = {}): Promise<Buffer> {
  if (!HEX64.test(manifestHash)) throw new RangeError('a manifest hash is 64 lowercase hex digits');
  const bytes = await request(url, `log/v1/bundle/${manifestHash}`, MAX_BUNDLE_REPLY, opts);
  const got = readBundleUnverified(bytes, `${url}: bundle ${manifestHash.slice(0, 16)}…`).manifestHash;
  if (got !== manifestHash) throw new LogError('bad-proof', `${url}: asked for bundle ${manifestHash}, got one whose manifest hashes to ${got}`);
  return bytes;
}

/** Submits a bundle file; returns the proof the log gave, checked to be about this bundle. */
export async function submitBundle(url: string, bytes: Uint8Array, opts: FetchOptions = {}): Promise<BundleProof> {
  const mine = readBundleUnverified(bytes).manifestHash;
  const v = await requestJson(url, 'log/v1/add', MAX_PROOF_REPLY, { timeoutMs: 120_000, ...opts }, { method: 'POST', body: splitProof(bytes).bundle });
  const proof = parseProof(v);
  if (proof.entry.manifest_sha256 !== mine) throw new LogError('bad-proof', `${url}: the log answered with an entry for manifest ${proof.entry.manifest_sha256}, not ${mine}`);
  treeHeadShape(proof.sth, `${url}: proof tree head`);
  return proof;
}

/** A `ConsistencySource` for `checkLogged` that asks the log at `url`. */
export function consistencySource(url: string, opts: FetchOptions = {}): ConsistencySource {
  return async (first, second) => fetchConsistency(url, first, second, opts);
}

export interface AuditedEntry {
  index: number;
  entry: LogEntry;
  /** The bundle as the log serves it (its manifest hash equals the entry's). */
  bundle: Buffer;
}

export interface AuditOptions extends FetchOptions {
  /** The tree head of the previous audit: the log must extend it. */
  previous?: TreeHead;
  /** Called for each entry, in order, with its bundle; a throw stops the audit. */
  onEntry?: (e: AuditedEntry) => void | Promise<void>;
  /** Skip fetching bundles (entries and tree only). */
  skipBundles?: boolean;
}

/**
 * Replays a whole log: verifies its tree head with `logPub`, fetches every entry (paged), rebuilds
 * the tree and checks its root; with `previous`, checks that the log extends it (the server's
 * consistency proof, and the rebuilt tree's root at the earlier size); fetches every bundle and
 * checks its manifest hash. Returns the verified tree head; throws `LogError` with the reason
 * ('fork', 'bad-proof' for a root mismatch, 'not-logged' for a missing bundle, 'bad-sth', 'log-io').
 */
export async function auditLog(url: string, logPub: LogKey, opts: AuditOptions = {}): Promise<{ sth: TreeHead; entries: number }> {
  const sth = await fetchTreeHead(url, logPub, opts);
  const prev = opts.previous;
  if (prev) {
    const p = verifyTreeHead(prev, logPub, 'the previous audit\'s tree head');
    const fork = (why: string): never => {
      throw new LogError('fork', `the log forked: its tree head of size ${sth.tree_size} (root ${sth.root_hash.slice(0, 16)}…) does not extend the one of the previous audit, size ${p.tree_size} (root ${p.root_hash.slice(0, 16)}…): ${why}`);
    };
    if (sth.tree_size < p.tree_size) fork('the log shrank');
    if (sth.tree_size === p.tree_size) {
      if (sth.root_hash !== p.root_hash) fork('same size, different roots');
    } else if (p.tree_size > 0) {
      const proof = await fetchConsistency(url, p.tree_size, sth.tree_size, opts);
      if (!verifyConsistency(p.tree_size, sth.tree_size, Buffer.from(p.root_hash, 'hex'), Buffer.from(sth.root_hash, 'hex'), proof.map((h) => Buffer.from(h, 'hex')))) {
        fork(`the consistency proof from size ${p.tree_size} to ${sth.tree_size} fails`);
      }
    }
  }
  const tree = new MerkleTree();
  for (let start = 0; start < sth.tree_size; start += ENTRIES_PAGE) {
    const end = Math.min(sth.tree_size, start + ENTRIES_PAGE);
    const page = await fetchEntries(url, start, end, opts);
    for (const [k, entry] of page.entries()) {
      const index = start + k;
      tree.appendLeafHash(entryLeafHash(entry));
      if (opts.skipBundles) continue;
      let bundle: Buffer;
      try {
        bundle = await fetchLoggedBundle(url, entry.manifest_sha256, opts);
      } catch (e) {
        if (e instanceof LogHttpError && e.status === 404) throw new LogError('not-logged', `entry ${index}: the log does not serve bundle ${entry.manifest_sha256}`);
        throw e;
      }
      await opts.onEntry?.({ index, entry, bundle });
    }
  }
  const root = tree.root(sth.tree_size).toString('hex');
  if (root !== sth.root_hash) {
    throw new LogError('bad-proof', `the entries the log serves hash to root ${root.slice(0, 16)}…, its signed tree head of size ${sth.tree_size} says ${sth.root_hash.slice(0, 16)}…`);
  }
  if (prev && prev.tree_size > 0 && prev.tree_size <= sth.tree_size) {
    const earlier = tree.root(prev.tree_size).toString('hex');
    if (earlier !== prev.root_hash) {
      throw new LogError('fork', `the log forked: its first ${prev.tree_size} entries now hash to root ${earlier.slice(0, 16)}…, the previous audit saw ${prev.root_hash.slice(0, 16)}…`);
    }
  }
  return { sth, entries: sth.tree_size };
}
