/**
 * Signed signature bundles: one file carrying a set of database files, signed with Ed25519.
 *
 * In: a directory of database files and a private key (build); bundle bytes and a public key
 * (verify, extract). Out: the bundle bytes; the verified manifest and files, or a `BundleError`
 * naming the reason and, where it has one, the byte offset; extracted files in a new directory.
 * Why: a publisher other than the ClamAV project needs a container that can be checked before a
 * single byte of it is parsed as a signature, and whose manifest hash a transparency log can record.
 *
 * Format `VIGILBNDL1` (all integers big-endian):
 *
 *   offset 0   11 bytes  magic "VIGILBNDL1\n"
 *   offset 11   4 bytes  M, the manifest length (1..1 MiB)
 *   offset 15   M bytes  the manifest: canonical JSON, UTF-8 (see `canonicalManifest`)
 *                        {"format":"vigil-bundle/1","publisher":P,"version":N,"created":ISO,
 *                         "expires":ISO,"files":[{"name":..,"size":..,"sha256":..},...]}
 *                        files sorted by name (byte order), names unique, version a positive integer
 *   then                 each file's bytes, in manifest order, sizes as declared
 *   last       64 bytes  Ed25519 signature over SHA-256(manifest bytes)
 *
 * Nothing follows the signature but, optionally, a transparency-log proof (src/update/transparency.ts),
 * which ends with its own magic and is split off before anything here is checked. The manifest must be byte-identical to its canonical
 * re-serialisation, so a signed manifest has exactly one encoding and `manifestHash` (hex SHA-256
 * of those bytes) identifies it. Verification order: magic, manifest length, signature (before the
 * JSON is parsed), manifest shape, total length, per-file hashes, validity window.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, randomBytes, sign, verify } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeSynced } from '../core/newfile.js';
import { splitProof, type BundleProof, type LogError } from './transparency.js';

export const BUNDLE_MAGIC = 'VIGILBNDL1\n';
export const BUNDLE_FORMAT = 'vigil-bundle/1';
const MAGIC = Buffer.from(BUNDLE_MAGIC, 'latin1');
const HEADER = MAGIC.length + 4;
const SIG_LEN = 64;
export const MAX_MANIFEST = 1 << 20;
export const MAX_FILES = 10_000;
/** Largest single file accepted in a bundle (and read from a source directory). */
export const MAX_FILE_SIZE = 1 << 30;
/** A bundle whose `created` is further than this in the future is not yet valid (clock skew). */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** Database file extensions a bundle may carry (ClamAV text and container databases, YARA). */
export const BUNDLE_EXTENSIONS: ReadonlySet<string> = new Set([
  'hdb', 'hdu', 'hsb', 'hsu', 'mdb', 'mdu', 'msb', 'msu', 'ndb', 'ndu', 'ldb', 'ldu', 'idb', 'cdb', 'crb',
  'fp', 'sfp', 'ign', 'ign2', 'ftm', 'pdb', 'gdb', 'wdb', 'cfg', 'info', 'cvd', 'cld', 'cud', 'yar', 'yara',
]);

export type BundleErrorCode =
  | 'bad-magic' | 'truncated' | 'trailing-bytes' | 'manifest-invalid' | 'signature-invalid'
  | 'size-mismatch' | 'hash-mismatch' | 'duplicate-name' | 'bad-name' | 'expired' | 'not-yet-valid'
  | 'rollback' | 'bad-key' | 'bad-input' | 'exists';

export class BundleError extends Error {
  constructor(readonly code: BundleErrorCode, message: string, readonly offset?: number) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.name = 'BundleError';
  }
}

export interface BundleFileEntry { name: string; size: number; sha256: string }
export interface BundleManifest {
  format: string;
  publisher: string;
  version: number;
  created: string;
  expires: string;
  files: BundleFileEntry[];
}
export interface VerifiedBundle {
  manifest: BundleManifest;
  manifestHash: string;
  files: { name: string; data: Uint8Array }[];
  /** The transparency-log proof appended to the bundle, if any (checked by `checkLogged`). */
  proof?: BundleProof;
  /** Why an appended proof could not be read. */
  proofError?: LogError;
}
export type VerifyResult = ({ ok: true } & VerifiedBundle) | { ok: false; error: BundleError };

export type KeyInput = KeyObject | string | Uint8Array;

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

/** A file name a bundle may carry: no path, no control characters, a supported extension. */
export function bundleNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 255) return 'empty or longer than 255 characters';
  if (name.includes('/') || name.includes('\\')) return 'contains a path separator';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'contains a control character';
  if (name.startsWith('.')) return 'starts with a dot';
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(name)) return 'has characters outside [A-Za-z0-9._+-]';
  const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  if (!name.includes('.') || !BUNDLE_EXTENSIONS.has(ext)) return 'not a supported database extension';
  return undefined;
}

/** The one encoding of a manifest: fixed key order, no whitespace. */
export function canonicalManifest(m: BundleManifest): Buffer {
  const ordered = {
    format: m.format, publisher: m.publisher, version: m.version, created: m.created, expires: m.expires,
    files: m.files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256 })),
  };
  return Buffer.from(JSON.stringify(ordered), 'utf8');
}

/** Hex SHA-256 of the canonical manifest bytes: what a transparency log records for a bundle. */
export function manifestHash(m: BundleManifest): string {
  return sha256(canonicalManifest(m)).toString('hex');
}

function privateKey(k: KeyInput): KeyObject {
  let key: KeyObject;
  try {
    key = k instanceof KeyObject ? k : createPrivateKey(typeof k === 'string' ? k : Buffer.from(k));
  } catch (e) { throw new BundleError('bad-key', `can't read the private key: ${(e as Error).message}`); }
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') throw new BundleError('bad-key', 'the signing key is not an Ed25519 private key');
  return key;
}

function publicKey(k: KeyInput): KeyObject {
  let key: KeyObject;
  try {
    key = k instanceof KeyObject ? k : createPublicKey(typeof k === 'string' ? k : Buffer.from(k));
  } catch (e) { throw new BundleError('bad-key', `can't read the public key: ${(e as Error).message}`); }
  if (key.asymmetricKeyType !== 'ed25519') throw new BundleError('bad-key', 'the key is not an Ed25519 key');
  return key.type === 'private' ? createPublicKey(key) : key;
}

/** Hex SHA-256 of a public key's SPKI DER: a short name for a key. */
export function keyFingerprint(k: KeyInput): string {
  return sha256(publicKey(k).export({ type: 'spki', format: 'der' })).toString('hex');
}

/**
 * Writes NAME.key (PKCS#8 PEM, mode 0600) and NAME.pub (SPKI PEM). Refuses when either exists;
 * nothing is overwritten.
 */
export function keygen(name: string): { keyPath: string; pubPath: string; fingerprint: string } {
  const keyPath = `${name}.key`;
  const pubPath = `${name}.pub`;
  for (const p of [keyPath, pubPath]) {
    if (exists(p)) throw new BundleError('exists', `${p} already exists; not overwriting it`);
  }
  const { privateKey: priv, publicKey: pub } = generateKeyPairSync('ed25519');
  const pubPem = pub.export({ type: 'spki', format: 'pem' });
  writeFileSync(keyPath, priv.export({ type: 'pkcs8', format: 'pem' }), { flag: 'wx', mode: 0o600 });
  try {
    writeFileSync(pubPath, pubPem, { flag: 'wx', mode: 0o644 });
  } catch (e) {
    rmSync(keyPath, { force: true });
    throw e;
  }
  return { keyPath, pubPath, fingerprint: keyFingerprint(pub) };
}

function exists(p: string): boolean {
  try { lstatSync(p); return true; } catch { return false; }
}

export interface BuildOptions {
  key: KeyInput;
  version: number;
  publisher?: string;
  expiresInDays?: number;
  now?: Date;
}

function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The database files of a directory (not recursive), sorted by name. Refuses symlinks and odd names. */
export function collectDatabaseFiles(srcDir: string): { name: string; data: Buffer }[] {
  const out: { name: string; data: Buffer }[] = [];
  for (const name of readdirSync(srcDir).sort(byteOrder)) {
    const dot = name.lastIndexOf('.');
    const ext = dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
    if (!BUNDLE_EXTENSIONS.has(ext)) continue;
    const path = join(srcDir, name);
    const st = lstatSync(path);
    if (st.isSymbolicLink()) throw new BundleError('bad-input', `${path}: is a symbolic link; refusing to bundle it`);
    if (!st.isFile()) throw new BundleError('bad-input', `${path}: not a regular file`);
    const problem = bundleNameProblem(name);
    if (problem) throw new BundleError('bad-name', `${path}: file name ${problem}`);
    if (st.size > MAX_FILE_SIZE) throw new BundleError('bad-input', `${path}: larger than ${MAX_FILE_SIZE} bytes`);
    out.push({ name, data: readFileSync(path) });
  }
  if (out.length === 0) throw new BundleError('bad-input', `${srcDir}: no database files (${[...BUNDLE_EXTENSIONS].map((e) => '.' + e).join(' ')})`);
  if (out.length > MAX_FILES) throw new BundleError('bad-input', `${srcDir}: more than ${MAX_FILES} database files`);
  return out;
}

function byteOrder(a: string, b: string): number {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return Buffer.compare(x, y);
}

/** Builds a signed bundle of the database files in `srcDir`. */
export function buildBundle(srcDir: string, opts: BuildOptions): { bytes: Buffer; manifest: BundleManifest; manifestHash: string } {
  const key = privateKey(opts.key);
  if (!Number.isSafeInteger(opts.version) || opts.version < 1) throw new BundleError('bad-input', `version must be a positive integer, not ${opts.version}`);
  const days = opts.expiresInDays ?? 30;
  if (!Number.isFinite(days) || days <= 0 || days > 3660) throw new BundleError('bad-input', `expiry must be 0 < days <= 3660, not ${days}`);
  const publisher = opts.publisher ?? 'vigil';
  // eslint-disable-next-line no-control-regex
  if (publisher.length === 0 || publisher.length > 200 || /[\u0000-\u001f\u007f]/.test(publisher)) throw new BundleError('bad-input', 'publisher must be 1..200 characters without control characters');
  const now = opts.now ?? new Date();
  const files = collectDatabaseFiles(srcDir);
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    publisher,
    version: opts.version,
    created: isoSeconds(now),
    expires: isoSeconds(new Date(now.getTime() + Math.round(days * 86_400_000))),
    files: files.map((f) => ({ name: f.name, size: f.data.length, sha256: sha256(f.data).toString('hex') })),
  };
  const mbytes = canonicalManifest(manifest);
  if (mbytes.length > MAX_MANIFEST) throw new BundleError('bad-input', `manifest larger than ${MAX_MANIFEST} bytes`);
  const digest = sha256(mbytes);
  const signature = sign(null, digest, key);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(mbytes.length);
  const bytes = Buffer.concat([MAGIC, len, mbytes, ...files.map((f) => f.data), signature]);
  return { bytes, manifest, manifestHash: digest.toString('hex') };
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const HEX64 = /^[0-9a-f]{64}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Shape checks on a parsed manifest; the bytes are already known to be signed. */
function checkManifest(v: unknown, at: number): BundleManifest {
  const bad = (msg: string): never => { throw new BundleError('manifest-invalid', `manifest: ${msg}`, at); };
  if (!isRecord(v)) return bad('not a JSON object');
  if (v.format !== BUNDLE_FORMAT) return bad(`format is ${JSON.stringify(v.format)}, expected "${BUNDLE_FORMAT}"`);
  if (typeof v.publisher !== 'string' || v.publisher.length === 0) return bad('publisher missing');
  if (typeof v.version !== 'number' || !Number.isSafeInteger(v.version) || v.version < 1) return bad('version is not a positive integer');
  for (const k of ['created', 'expires'] as const) {
    const s = v[k];
    if (typeof s !== 'string' || !ISO.test(s) || Number.isNaN(Date.parse(s))) return bad(`${k} is not an ISO 8601 UTC time`);
  }
  if (!Array.isArray(v.files) || v.files.length === 0 || v.files.length > MAX_FILES) return bad(`files must be a list of 1..${MAX_FILES}`);
  const files: BundleFileEntry[] = [];
  let prev: string | undefined;
  for (const [i, f] of (v.files as unknown[]).entries()) {
    if (!isRecord(f) || typeof f.name !== 'string' || typeof f.size !== 'number' || typeof f.sha256 !== 'string') return bad(`files[${i}] needs name, size, sha256`);
    const problem = bundleNameProblem(f.name);
    if (problem) throw new BundleError('bad-name', `manifest: files[${i}] ${JSON.stringify(f.name)}: ${problem}`, at);
    if (!Number.isSafeInteger(f.size) || f.size < 0 || f.size > MAX_FILE_SIZE) throw new BundleError('size-mismatch', `manifest: files[${i}] ${f.name}: size ${f.size} out of range`, at);
    if (!HEX64.test(f.sha256)) return bad(`files[${i}] ${f.name}: sha256 is not 64 lowercase hex digits`);
    if (prev !== undefined) {
      const c = byteOrder(prev, f.name);
      if (c === 0) throw new BundleError('duplicate-name', `manifest: ${f.name} listed twice`, at);
      if (c > 0) return bad(`files not sorted by name (${f.name} after ${prev})`);
    }
    prev = f.name;
    files.push({ name: f.name, size: f.size, sha256: f.sha256 });
  }
  return {
    format: v.format, publisher: v.publisher, version: v.version, created: v.created as string, expires: v.expires as string, files,
  };
}

export interface VerifyOptions {
  now?: Date;
  /** Refuse bundles whose version is below this (a rollback to an older set). */
  minVersion?: number;
}

/** Verifies a bundle; throws `BundleError` with the reason. */
export function verifyBundleOrThrow(bytes: Uint8Array, pubkey: KeyInput, opts: VerifyOptions = {}): VerifiedBundle {
  const key = publicKey(pubkey);
  const { bundle: buf, proof, proofError } = splitProof(bytes);
  if (buf.length < MAGIC.length) throw new BundleError(MAGIC.subarray(0, buf.length).equals(buf) ? 'truncated' : 'bad-magic', buf.length === 0 ? 'empty file' : 'shorter than the magic', 0);
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new BundleError('bad-magic', `not a vigil bundle (magic is not ${JSON.stringify(BUNDLE_MAGIC)})`, 0);
  if (buf.length < HEADER) throw new BundleError('truncated', 'truncated in the manifest length', MAGIC.length);
  const mlen = buf.readUInt32BE(MAGIC.length);
  if (mlen === 0 || mlen > MAX_MANIFEST) throw new BundleError('manifest-invalid', `manifest length ${mlen} not in 1..${MAX_MANIFEST}`, MAGIC.length);
  if (buf.length < HEADER + mlen + SIG_LEN) throw new BundleError('truncated', `truncated: ${buf.length} bytes, the manifest and signature alone need ${HEADER + mlen + SIG_LEN}`, buf.length);
  const mbytes = buf.subarray(HEADER, HEADER + mlen);
  const sigAt = buf.length - SIG_LEN;
  const digest = sha256(mbytes);
  if (!verify(null, digest, key, buf.subarray(sigAt))) {
    throw new BundleError('signature-invalid', 'signature does not verify with this public key (wrong key, or the manifest or signature was altered)', sigAt);
  }
  let parsed: unknown;
  try { parsed = JSON.parse(mbytes.toString('utf8')); } catch (e) { throw new BundleError('manifest-invalid', `manifest is not JSON: ${(e as Error).message}`, HEADER); }
  const manifest = checkManifest(parsed, HEADER);
  if (!canonicalManifest(manifest).equals(mbytes)) throw new BundleError('manifest-invalid', 'manifest is not in canonical form', HEADER);
  let total = HEADER + mlen;
  for (const f of manifest.files) total += f.size; // each <= 1 GiB, <= 10,000 of them: stays a safe integer
  total += SIG_LEN;
  if (buf.length < total) throw new BundleError('truncated', `truncated: ${buf.length} bytes, the manifest declares ${total}`, buf.length);
  if (buf.length > total) throw new BundleError('trailing-bytes', `${buf.length - total} bytes between the last file and the signature`, total - SIG_LEN);
  const files: { name: string; data: Uint8Array }[] = [];
  let at = HEADER + mlen;
  for (const f of manifest.files) {
    const data = buf.subarray(at, at + f.size);
    if (data.length !== f.size) throw new BundleError('size-mismatch', `${f.name}: ${data.length} bytes, declared ${f.size}`, at);
    if (sha256(data).toString('hex') !== f.sha256) throw new BundleError('hash-mismatch', `${f.name}: SHA-256 does not match the manifest`, at);
    files.push({ name: f.name, data });
    at += f.size;
  }
  const now = (opts.now ?? new Date()).getTime();
  const created = Date.parse(manifest.created);
  const expires = Date.parse(manifest.expires);
  if (expires <= created) throw new BundleError('manifest-invalid', `expires ${manifest.expires} is not after created ${manifest.created}`, HEADER);
  if (now > expires) throw new BundleError('expired', `bundle expired at ${manifest.expires} (now ${isoSeconds(new Date(now))})`);
  if (now + CLOCK_SKEW_MS < created) throw new BundleError('not-yet-valid', `bundle is not valid before ${manifest.created} (now ${isoSeconds(new Date(now))}); check the clock`);
  if (opts.minVersion !== undefined && manifest.version < opts.minVersion) {
    throw new BundleError('rollback', `bundle version ${manifest.version} is older than the installed version ${opts.minVersion}`);
  }
  return { manifest, manifestHash: digest.toString('hex'), files, ...(proof ? { proof } : {}), ...(proofError ? { proofError } : {}) };
}

/** Verifies a bundle: the manifest and files, or the reason it is refused. Never throws on bad bytes. */
export function verifyBundle(bytes: Uint8Array, pubkey: KeyInput, opts: VerifyOptions = {}): VerifyResult {
  try {
    return { ok: true, ...verifyBundleOrThrow(bytes, pubkey, opts) };
  } catch (e) {
    if (e instanceof BundleError) return { ok: false, error: e };
    throw e;
  }
}

/**
 * Verifies, then writes the files into `destDir`, which must not exist: they are written and
 * fsynced in a sibling temporary directory that is renamed into place, so `destDir` either does
 * not exist or holds the whole verified set.
 */
export function extractBundle(bytes: Uint8Array, pubkey: KeyInput, destDir: string, opts: VerifyOptions = {}): VerifiedBundle {
  const v = verifyBundleOrThrow(bytes, pubkey, opts);
  if (exists(destDir)) throw new BundleError('exists', `${destDir} already exists; extracting only into a new directory`);
  const tmp = join(dirname(destDir), `.${basename(destDir)}.tmp-${randomBytes(6).toString('hex')}`);
  mkdirSync(tmp, { mode: 0o755 });
  try {
    for (const f of v.files) {
      writeSynced(join(tmp, f.name), f.data);
    }
    if (exists(destDir)) throw new BundleError('exists', `${destDir} appeared while extracting`);
    renameSync(tmp, destDir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return v;
}
