/**
 * The key file `vigil-ransom-key/1`: a recovered key, what it covers, how and from what it was
 * derived.
 *
 * In: a key and its provenance (to write); a key file path (to read). Out: the JSON file (and, for
 * a keystream longer than 4 KiB, a binary `KEYFILE.keystream` beside it whose SHA-256 the JSON
 * records), both written as new files, never over existing ones; or the key read back and checked
 * (format, kind, lengths, hex, keystream hash), each error naming the file and the field.
 * Why: a key recovered on one day decrypts on another, and the victim (or a helper) must be able
 * to see what it is: which files it came from (by SHA-256), what it recovers, how it was found.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { writeNewFile } from '../../core/newfile.js';
import { coverageText, type RansomKey } from './keystream.js';

export const KEYFILE_FORMAT = 'vigil-ransom-key/1';
/** Keystreams up to this length are stored in the JSON as hex. */
const INLINE_MAX = 4096;
const KEYFILE_MAX_BYTES = 1 << 20;
const KEYSTREAM_MAX_BYTES = 1 << 30;

export interface SourceFile { role: 'original' | 'encrypted'; path: string; size: number; sha256: string }

export interface KeyFileJson {
  format: typeof KEYFILE_FORMAT;
  kind: RansomKey['kind'];
  /** xor (and partial with an XOR key): the key's length. */
  period?: number;
  /** Hex: the XOR key, or a keystream of at most 4 KiB. */
  key?: string;
  /** A longer keystream: a file name beside the key file, its length and SHA-256. */
  keystreamFile?: string;
  keystreamLength?: number;
  keystreamSha256?: string;
  /** partial: how many leading bytes of each file are encrypted, and by what. */
  encryptedBytes?: number;
  inner?: 'xor' | 'keystream';
  /** What the key recovers: bytes from the start of each file (null: all of any file). */
  coverage: { bytes: number | null; text: string };
  derived: { method: string; at: string; variant?: string; check?: string; notes: string[] };
  from: SourceFile[];
  /** The extension the ransomware appended, when the pair showed it. */
  suffix?: string;
}

export interface LoadedKey { key: RansomKey; json: KeyFileJson }

export class KeyFileError extends Error {}

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export function describeSource(role: SourceFile['role'], path: string, bytes: Uint8Array): SourceFile {
  return { role, path: resolve(path), size: bytes.length, sha256: sha256Hex(bytes) };
}

function coverageBytes(key: RansomKey): number | null {
  return key.kind === 'keystream' ? key.stream.length : null;
}

/** The JSON (and the keystream bytes to store beside it, if any) for a key. */
export function keyFileJson(key: RansomKey, derived: KeyFileJson['derived'], from: SourceFile[], keyPath: string, suffix?: string): { json: KeyFileJson; keystream?: Uint8Array } {
  const base: KeyFileJson = { format: KEYFILE_FORMAT, kind: key.kind, coverage: { bytes: coverageBytes(key), text: coverageText(key) }, derived, from, ...(suffix ? { suffix } : {}) };
  const stream = (bytes: Uint8Array): { fields: Partial<KeyFileJson>; keystream?: Uint8Array } => bytes.length <= INLINE_MAX
    ? { fields: { key: Buffer.from(bytes).toString('hex'), keystreamLength: bytes.length } }
    : { fields: { keystreamFile: `${basename(keyPath)}.keystream`, keystreamLength: bytes.length, keystreamSha256: sha256Hex(bytes) }, keystream: bytes };
  switch (key.kind) {
    case 'xor':
      return { json: { ...base, period: key.key.length, key: Buffer.from(key.key).toString('hex') } };
    case 'keystream': {
      const s = stream(key.stream);
      return { json: { ...base, ...s.fields }, ...(s.keystream ? { keystream: s.keystream } : {}) };
    }
    case 'partial': {
      if (key.inner === 'xor') return { json: { ...base, encryptedBytes: key.encryptedBytes, inner: 'xor', period: key.key.length, key: Buffer.from(key.key).toString('hex') } };
      const s = stream(key.key);
      return { json: { ...base, encryptedBytes: key.encryptedBytes, inner: 'keystream', ...s.fields }, ...(s.keystream ? { keystream: s.keystream } : {}) };
    }
  }
}

function exists(path: string): boolean {
  try { lstatSync(path); return true; } catch { return false; }
}

/** Writes the key file (and its keystream file) as new files; EEXIST-style error if either name is taken. */
export function writeKeyFile(path: string, key: RansomKey, derived: KeyFileJson['derived'], from: SourceFile[], suffix?: string): KeyFileJson {
  const { json, keystream } = keyFileJson(key, derived, from, path, suffix);
  const streamPath = json.keystreamFile ? join(dirname(path), json.keystreamFile) : undefined;
  if (exists(path)) throw new KeyFileError(`${path}: already exists (key files are never overwritten)`);
  if (streamPath && exists(streamPath)) throw new KeyFileError(`${streamPath}: already exists (key files are never overwritten)`);
  if (streamPath && keystream) writeNewFile(streamPath, keystream, 0o600);
  try {
    writeNewFile(path, Buffer.from(JSON.stringify(json, null, 2) + '\n', 'utf8'), 0o600);
  } catch (e) {
    if (streamPath) rmSync(streamPath, { force: true });
    throw e;
  }
  return json;
}

function hexBytes(path: string, field: string, hex: unknown, max: number): Uint8Array {
  if (typeof hex !== 'string' || hex.length === 0 || hex.length % 2 !== 0 || hex.length > 2 * max || !/^[0-9a-fA-F]+$/.test(hex)) {
    throw new KeyFileError(`${path}: field "${field}" is not hex of 1..${max} bytes`);
  }
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function positiveInt(path: string, field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new KeyFileError(`${path}: field "${field}" is not a positive integer`);
  return v;
}

function readStream(path: string, j: KeyFileJson): Uint8Array {
  if (j.key !== undefined) {
    const b = hexBytes(path, 'key', j.key, INLINE_MAX);
    if (j.keystreamLength !== undefined && j.keystreamLength !== b.length) throw new KeyFileError(`${path}: keystreamLength ${j.keystreamLength} but key holds ${b.length} bytes`);
    return b;
  }
  const name = j.keystreamFile;
  if (typeof name !== 'string' || name === '' || name !== basename(name)) throw new KeyFileError(`${path}: field "keystreamFile" must name a file beside the key file`);
  const len = positiveInt(path, 'keystreamLength', j.keystreamLength);
  const streamPath = join(dirname(path), name);
  let size: number;
  try { size = statSync(streamPath).size; } catch (e) { throw new KeyFileError(`${streamPath}: cannot read the keystream (${(e as Error).message})`); }
  if (size !== len || size > KEYSTREAM_MAX_BYTES) throw new KeyFileError(`${streamPath}: ${size} bytes, the key file says ${len}`);
  const bytes = readFileSync(streamPath);
  if (typeof j.keystreamSha256 !== 'string' || sha256Hex(bytes) !== j.keystreamSha256.toLowerCase()) throw new KeyFileError(`${streamPath}: SHA-256 differs from keystreamSha256 in ${path}`);
  return Uint8Array.from(bytes);
}

/** Reads and checks a key file. */
export function readKeyFile(path: string): LoadedKey {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > KEYFILE_MAX_BYTES) throw new KeyFileError(`${path}: ${size} bytes, too large for a key file`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof KeyFileError) throw e;
    throw new KeyFileError(`${path}: cannot read (${(e as Error).message})`);
  }
  let j: KeyFileJson;
  try { j = JSON.parse(text) as KeyFileJson; } catch (e) { throw new KeyFileError(`${path}: not JSON (${(e as Error).message})`); }
  if (typeof j !== 'object' || j === null || j.format !== KEYFILE_FORMAT) throw new KeyFileError(`${path}: not a ${KEYFILE_FORMAT} key file`);
  let key: RansomKey;
  switch (j.kind) {
    case 'xor': {
      const k = hexBytes(path, 'key', j.key, 4096);
      if (j.period !== undefined && j.period !== k.length) throw new KeyFileError(`${path}: period ${j.period} but the key holds ${k.length} bytes`);
      key = { kind: 'xor', key: k };
      break;
    }
    case 'keystream':
      key = { kind: 'keystream', stream: readStream(path, j) };
      break;
    case 'partial': {
      const n = positiveInt(path, 'encryptedBytes', j.encryptedBytes);
      if (j.inner === 'xor') {
        const k = hexBytes(path, 'key', j.key, 4096);
        if (j.period !== undefined && j.period !== k.length) throw new KeyFileError(`${path}: period ${j.period} but the key holds ${k.length} bytes`);
        key = { kind: 'partial', encryptedBytes: n, inner: 'xor', key: k };
      } else if (j.inner === 'keystream') {
        key = { kind: 'partial', encryptedBytes: n, inner: 'keystream', key: readStream(path, j) };
      } else {
        throw new KeyFileError(`${path}: field "inner" must be xor or keystream`);
      }
      break;
    }
    default:
      throw new KeyFileError(`${path}: field "kind" must be xor, keystream or partial`);
  }
  if (j.suffix !== undefined && (typeof j.suffix !== 'string' || j.suffix.length > 64)) throw new KeyFileError(`${path}: field "suffix" is not a short string`);
  return { key, json: j };
}
