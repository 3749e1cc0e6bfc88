/**
 * Bundle deltas: a new bundle expressed against an older one, carrying the new bundle's signed
 * manifest and signature unchanged, so it needs no signature of its own.
 *
 * In: two bundle files (make); a delta and the files of the installed version (apply).
 * Out: the delta bytes; the whole new bundle rebuilt byte for byte, which is then verified like
 * any downloaded bundle (signature, every file's SHA-256, the log proof).
 * Why: signature sets grow by small additions; a client that holds version N should not download
 * all of N+1. Nothing in a delta is trusted: a wrong base or a lying delta gives a bundle whose
 * hashes do not match its signed manifest, and it is refused.
 *
 * Format `VIGILDELTA1` (integers big-endian):
 *   "VIGILDELTA1\n" | u32 H | header JSON (H bytes) | manifest (M bytes) | signature (64) | data...
 *   | [log proof trailer, as on a bundle]
 * header: {"format":"vigil-delta/1","base_manifest_sha256":HEX,"manifest_sha256":HEX,
 *          "version":N,"manifest_length":M,
 *          "files":[{"name":..,"op":"copy","from":BASENAME} |
 *                   {"name":..,"op":"data","length":L} |
 *                   {"name":..,"op":"patch","from":BASENAME,"prefix":P,"suffix":S,"length":L}]}
 * `copy` takes a base file whole; `data` carries the file; `patch` keeps the first P and last S
 * bytes of a base file and carries the L bytes between them. Files appear in manifest order.
 */
import { createHash } from 'node:crypto';
import { BUNDLE_MAGIC, BundleError, canonicalManifest, MAX_FILE_SIZE, verifyBundleOrThrow, type KeyInput, type VerifiedBundle } from './bundle.js';
import { encodeProofTrailer, splitProof } from './transparency.js';

export const DELTA_MAGIC = 'VIGILDELTA1\n';
const DMAGIC = Buffer.from(DELTA_MAGIC, 'latin1');
const MAX_HEADER = 4 << 20;

type DeltaOp =
  | { name: string; op: 'copy'; from: string }
  | { name: string; op: 'data'; length: number }
  | { name: string; op: 'patch'; from: string; prefix: number; suffix: number; length: number };

export interface DeltaHeader {
  format: 'vigil-delta/1';
  base_manifest_sha256: string;
  manifest_sha256: string;
  version: number;
  manifest_length: number;
  files: DeltaOp[];
}

const sha256hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export function isDelta(bytes: Uint8Array): boolean {
  return bytes.length >= DMAGIC.length && Buffer.from(bytes.buffer, bytes.byteOffset, DMAGIC.length).equals(DMAGIC);
}

function commonPrefix(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function commonSuffix(a: Uint8Array, b: Uint8Array, limit: number): number {
  let i = 0;
  while (i < limit && a[a.length - 1 - i] === b[b.length - 1 - i]) i++;
  return i;
}

/**
 * The delta from bundle `oldFile` to bundle `newFile` (both verified with `pubkey` at `now`;
 * the new one's log proof, if any, is carried over).
 */
export function makeDelta(oldFile: Uint8Array, newFile: Uint8Array, pubkey: KeyInput, now?: Date): Buffer {
  const base = verifyBundleOrThrow(oldFile, pubkey, now ? { now } : {});
  const next = verifyBundleOrThrow(newFile, pubkey, now ? { now } : {});
  const byHash = new Map<string, string>();
  const baseData = new Map<string, Uint8Array>();
  for (const [i, f] of base.files.entries()) {
    byHash.set(base.manifest.files[i]!.sha256, f.name);
    baseData.set(f.name, f.data);
  }
  const ops: DeltaOp[] = [];
  const data: Uint8Array[] = [];
  for (const [i, f] of next.files.entries()) {
    const same = byHash.get(next.manifest.files[i]!.sha256);
    if (same !== undefined) { ops.push({ name: f.name, op: 'copy', from: same }); continue; }
    const old = baseData.get(f.name);
    if (old) {
      const prefix = commonPrefix(old, f.data);
      const suffix = commonSuffix(old, f.data, Math.min(old.length, f.data.length) - prefix);
      if (prefix + suffix > 64) {
        const mid = f.data.subarray(prefix, f.data.length - suffix);
        ops.push({ name: f.name, op: 'patch', from: f.name, prefix, suffix, length: mid.length });
        data.push(mid);
        continue;
      }
    }
    ops.push({ name: f.name, op: 'data', length: f.data.length });
    data.push(f.data);
  }
  const manifest = canonicalManifest(next.manifest);
  const header: DeltaHeader = {
    format: 'vigil-delta/1', base_manifest_sha256: base.manifestHash, manifest_sha256: next.manifestHash,
    version: next.manifest.version, manifest_length: manifest.length, files: ops,
  };
  const hbytes = Buffer.from(JSON.stringify(header), 'utf8');
  const hlen = Buffer.alloc(4);
  hlen.writeUInt32BE(hbytes.length);
  const { bundle } = splitProof(newFile);
  const signature = bundle.subarray(bundle.length - 64);
  return Buffer.concat([DMAGIC, hlen, hbytes, manifest, signature, ...data, ...(next.proof ? [encodeProofTrailer(next.proof)] : [])]);
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= MAX_FILE_SIZE;

/** Reads a delta's header; throws `BundleError('manifest-invalid')` with the reason. */
export function readDeltaHeader(bytes: Uint8Array): { header: DeltaHeader; at: number } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (m: string, at?: number): never => { throw new BundleError('manifest-invalid', `delta: ${m}`, at); };
  if (!isDelta(buf)) return bad('not a vigil delta (magic)', 0);
  if (buf.length < DMAGIC.length + 4) return bad('truncated in the header length', DMAGIC.length);
  const hlen = buf.readUInt32BE(DMAGIC.length);
  if (hlen === 0 || hlen > MAX_HEADER || DMAGIC.length + 4 + hlen > buf.length) return bad(`header length ${hlen} does not fit`, DMAGIC.length);
  let v: unknown;
  try { v = JSON.parse(buf.subarray(DMAGIC.length + 4, DMAGIC.length + 4 + hlen).toString('utf8')); } catch (e) { return bad(`header is not JSON: ${(e as Error).message}`, DMAGIC.length + 4); }
  const h = v as DeltaHeader;
  if (typeof h !== 'object' || h === null || h.format !== 'vigil-delta/1') return bad('header format is not "vigil-delta/1"');
  for (const k of ['base_manifest_sha256', 'manifest_sha256'] as const) if (typeof h[k] !== 'string' || !/^[0-9a-f]{64}$/.test(h[k])) bad(`${k} is not a hash`);
  if (!isCount(h.manifest_length) || h.manifest_length === 0 || !Number.isSafeInteger(h.version) || !Array.isArray(h.files) || h.files.length > 10_000) bad('header fields out of range');
  for (const [i, f] of h.files.entries()) {
    const o = f as Partial<Record<string, unknown>>;
    if (typeof o !== 'object' || o === null || typeof o.name !== 'string') bad(`files[${i}]: no name`);
    if (o.op === 'copy') { if (typeof o.from !== 'string') bad(`files[${i}]: copy without from`); } else if (o.op === 'data') { if (!isCount(o.length)) bad(`files[${i}]: bad length`); } else if (o.op === 'patch') {
      if (typeof o.from !== 'string' || !isCount(o.prefix) || !isCount(o.suffix) || !isCount(o.length)) bad(`files[${i}]: bad patch`);
    } else bad(`files[${i}]: unknown op ${JSON.stringify(o.op)}`);
  }
  return { header: h, at: DMAGIC.length + 4 + hlen };
}

/**
 * Rebuilds the whole bundle from a delta and the base version's files (name → bytes). The result
 * still has to be verified; this only refuses deltas that do not fit their base.
 */
export function applyDelta(delta: Uint8Array, base: { manifestHash: string; files: ReadonlyMap<string, Uint8Array> }): Buffer {
  const { bundle: body, proof } = splitProof(delta);
  const { header: h, at } = readDeltaHeader(body);
  if (h.base_manifest_sha256 !== base.manifestHash) {
    throw new BundleError('bad-input', `delta is against ${h.base_manifest_sha256.slice(0, 16)}…, but ${base.manifestHash.slice(0, 16)}… is installed`);
  }
  let p = at;
  const manifest = body.subarray(p, p + h.manifest_length);
  p += h.manifest_length;
  const signature = body.subarray(p, p + 64);
  p += 64;
  if (signature.length !== 64) throw new BundleError('truncated', 'delta: truncated in the manifest or signature', body.length);
  const parts: Uint8Array[] = [];
  const from = (name: string): Uint8Array => {
    const b = base.files.get(name);
    if (!b) throw new BundleError('bad-input', `delta: base file ${JSON.stringify(name)} is not installed`);
    return b;
  };
  for (const op of h.files) {
    if (op.op === 'copy') { parts.push(from(op.from)); continue; }
    const mid = body.subarray(p, p + op.length);
    if (mid.length !== op.length) throw new BundleError('truncated', `delta: ${op.name}: truncated`, body.length);
    p += op.length;
    if (op.op === 'data') { parts.push(mid); continue; }
    const b = from(op.from);
    if (op.prefix + op.suffix > b.length) throw new BundleError('bad-input', `delta: ${op.name}: patch keeps more than the base file's ${b.length} bytes`);
    parts.push(b.subarray(0, op.prefix), mid, b.subarray(b.length - op.suffix));
  }
  if (p !== body.length) throw new BundleError('trailing-bytes', `delta: ${body.length - p} bytes after the last file`, p);
  const mlen = Buffer.alloc(4);
  mlen.writeUInt32BE(manifest.length);
  return Buffer.concat([Buffer.from(BUNDLE_MAGIC, 'latin1'), mlen, manifest, ...parts, signature, ...(proof ? [encodeProofTrailer(proof)] : [])]);
}

/** The verified bundle's files by name, for use as a delta base. */
export function filesOf(v: VerifiedBundle): Map<string, Uint8Array> {
  return new Map(v.files.map((f) => [f.name, f.data]));
}

export { sha256hex };
