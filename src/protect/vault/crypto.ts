/**
 * The vault's defanged file format and its key.
 *
 * In: an open source file (plain content) or a vault file, the per-installation key, the record id.
 * Out: a vault file is
 *
 *   MAGIC (8) | iv (12) | content, AES-256-GCM (n) | tag (16) | iv (12) | record JSON, AES-256-GCM (m) | tag (16) | m (4, BE)
 *
 * `encryptTo` writes one and returns the SHA-256 and length of the plain content; `decryptFrom`
 * streams the content back to a sink, `readMeta` gives the record stored in the trailer; both
 * reject, naming what is wrong, when the file is truncated, not a vault file, or fails
 * authentication. The id is bound in as additional authenticated data, so a vault file swapped
 * under another record's name fails authentication too.
 * Why: a quarantined file must never be runnable or scannable as what it was (other scanners, the
 * desktop's thumbnailers, a double click), tampering must be detected before a restore, and each
 * vault file describes itself (original path, hash, detections), so that the index can be rebuilt
 * from the files when `vault.db` is lost.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { constants, closeSync, fstatSync, fsyncSync, linkSync, lstatSync, openSync, readFileSync, readSync, unlinkSync, writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

export const MAGIC = Buffer.from('VIGILQ\x00\x01', 'latin1');
const IV_LEN = 12;
const TAG_LEN = 16;
export const HEADER_LEN = MAGIC.length + IV_LEN;
/** Bytes a vault file has beyond its content and its record's JSON. */
export const OVERHEAD = HEADER_LEN + TAG_LEN + IV_LEN + TAG_LEN + 4;
/** Largest record JSON accepted in a trailer (detections with their evidence stay far below). */
const MAX_META = 16 << 20;
const CHUNK = 1 << 20;
export const KEY_LEN = 32;

/** A vault file that cannot give back its content (truncated, not ours, tampered with). */
export class VaultFileError extends Error {}

function aad(id: string, part: 'content' | 'meta'): Buffer {
  return Buffer.from(`vigil-quarantine:${id}:${part}`, 'utf8');
}

/** Where the parts of a vault file are, from its size and its last 4 bytes. */
export interface Layout { total: number; contentLen: number; metaLen: number }

function layoutOf(total: number, footer: Buffer, head: Buffer): Layout {
  if (total < OVERHEAD) throw new VaultFileError(`vault file is ${total} bytes, shorter than the ${OVERHEAD} bytes of its header and trailer (truncated)`);
  if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw new VaultFileError('not a vault file (bad magic): replaced or damaged');
  const metaLen = footer.readUInt32BE(0);
  if (metaLen > MAX_META || metaLen > total - OVERHEAD) throw new VaultFileError(`vault file (${total} bytes) has an unreadable trailer (record length ${metaLen}): truncated or damaged`);
  return { total, metaLen, contentLen: total - OVERHEAD - metaLen };
}

export async function layout(fh: FileHandle): Promise<Layout> {
  const { size: total } = await fh.stat();
  const head = Buffer.alloc(HEADER_LEN);
  const footer = Buffer.alloc(4);
  if (total >= OVERHEAD) {
    await fh.read(head, 0, HEADER_LEN, 0);
    await fh.read(footer, 0, 4, total - 4);
  }
  return layoutOf(total, footer, head);
}

/** `layout` of the vault file at `path`, synchronously (for listing). */
export function layoutSync(path: string): Layout {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const { size: total } = fstatSync(fd);
    const head = Buffer.alloc(HEADER_LEN);
    const footer = Buffer.alloc(4);
    if (total >= OVERHEAD) {
      readSync(fd, head, 0, HEADER_LEN, 0);
      readSync(fd, footer, 0, 4, total - 4);
    }
    return layoutOf(total, footer, head);
  } finally { closeSync(fd); }
}

/**
 * Reads `src` from offset 0 to its end, writing the vault file to `dst` (at offset 0): the
 * encrypted content, then the encrypted record `metaOf` gives once the content's hash is known.
 * `onChunk` is called after each chunk written (fault injection).
 */
export async function encryptTo(
  src: FileHandle, dst: FileHandle, key: Buffer, id: string,
  metaOf: (r: { sha256: string; size: number }) => unknown, onChunk?: () => void,
): Promise<{ sha256: string; size: number }> {
  const iv = randomBytes(IV_LEN);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(id, 'content'));
  const hash = createHash('sha256');
  let out = 0;
  const put = async (b: Buffer): Promise<void> => {
    let off = 0;
    while (off < b.length) {
      const { bytesWritten } = await dst.write(b, off, b.length - off, out);
      off += bytesWritten;
      out += bytesWritten;
    }
  };
  await put(Buffer.concat([MAGIC, iv]));
  const buf = Buffer.allocUnsafe(CHUNK);
  let size = 0;
  for (;;) {
    const { bytesRead } = await src.read(buf, 0, CHUNK, size);
    if (bytesRead === 0) break;
    const plain = buf.subarray(0, bytesRead);
    hash.update(plain);
    size += bytesRead;
    await put(cipher.update(plain));
    onChunk?.();
  }
  await put(cipher.final());
  await put(cipher.getAuthTag());
  const result = { sha256: hash.digest('hex'), size };
  const ivm = randomBytes(IV_LEN);
  const mc = createCipheriv('aes-256-gcm', key, ivm);
  mc.setAAD(aad(id, 'meta'));
  const meta = Buffer.concat([mc.update(Buffer.from(JSON.stringify(metaOf(result)), 'utf8')), mc.final()]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(meta.length, 0);
  await put(Buffer.concat([ivm, meta, mc.getAuthTag(), len]));
  return result;
}

/** The record stored in the trailer of the vault file at `path` (authenticated), as parsed JSON. */
export function readMetaSync(path: string, key: Buffer, id: string): unknown {
  const l = layoutSync(path);
  const seg = Buffer.alloc(IV_LEN + l.metaLen + TAG_LEN);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try { readSync(fd, seg, 0, seg.length, l.total - 4 - seg.length); } finally { closeSync(fd); }
  const d = createDecipheriv('aes-256-gcm', key, seg.subarray(0, IV_LEN));
  d.setAAD(aad(id, 'meta'));
  d.setAuthTag(seg.subarray(IV_LEN + l.metaLen));
  let plain: Buffer;
  try {
    plain = Buffer.concat([d.update(seg.subarray(IV_LEN, IV_LEN + l.metaLen)), d.final()]);
  } catch {
    throw new VaultFileError('the record in the vault file fails authentication: damaged or tampered with');
  }
  try {
    return JSON.parse(plain.toString('utf8')) as unknown;
  } catch (e) {
    throw new VaultFileError(`the record in the vault file is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

/**
 * Decrypts the vault file `src`, handing each plain chunk to `sink` (which must not treat it as
 * trusted before this resolves: authentication is checked at the end). Returns the SHA-256 and
 * length of the content.
 */
export async function decryptFrom(src: FileHandle, key: Buffer, id: string, sink?: (chunk: Buffer) => Promise<void> | void): Promise<{ sha256: string; size: number }> {
  const l = await layout(src);
  const end = HEADER_LEN + l.contentLen;
  const head = Buffer.alloc(HEADER_LEN);
  await src.read(head, 0, HEADER_LEN, 0);
  const tag = Buffer.alloc(TAG_LEN);
  await src.read(tag, 0, TAG_LEN, end);
  const decipher = createDecipheriv('aes-256-gcm', key, head.subarray(MAGIC.length));
  decipher.setAAD(aad(id, 'content'));
  decipher.setAuthTag(tag);
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = HEADER_LEN;
  let size = 0;
  while (pos < end) {
    const { bytesRead } = await src.read(buf, 0, Math.min(CHUNK, end - pos), pos);
    if (bytesRead === 0) throw new VaultFileError('vault file shrank while being read');
    pos += bytesRead;
    const plain = decipher.update(buf.subarray(0, bytesRead));
    hash.update(plain);
    size += plain.length;
    if (sink) await sink(plain);
  }
  try {
    const last = decipher.final();
    if (last.length > 0) {
      hash.update(last);
      size += last.length;
      if (sink) await sink(last);
    }
  } catch {
    throw new VaultFileError('authentication failed (AES-GCM tag mismatch): the vault file is damaged or was tampered with, or the key is not the one it was stored with');
  }
  return { sha256: hash.digest('hex'), size };
}

function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/**
 * The vault's key: `<dir>/key`, 32 random bytes, mode 0600, created once (atomically: written to a
 * temporary name, then hard-linked into place, so that two processes opening a new vault at once
 * agree on one key). With `create` false a missing key is an error.
 */
export function loadKey(dir: string, create: boolean): Buffer {
  const path = join(dir, 'key');
  const read = (): Buffer => {
    const st = lstatSync(path);
    if (st.isSymbolicLink() || !st.isFile()) throw new Error(`${path}: the vault key is not a regular file`);
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new Error(`${path}: the vault key is owned by uid ${st.uid}, not by the current user`);
    if ((st.mode & 0o077) !== 0) throw new Error(`${path}: the vault key is readable or writable by others (mode ${(st.mode & 0o777).toString(8)}); expected 600`);
    const key = readFileSync(path);
    if (key.length !== KEY_LEN) throw new Error(`${path}: the vault key is ${key.length} bytes, expected ${KEY_LEN} (damaged)`);
    return key;
  };
  try {
    return read();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (!create) throw new Error(`${path}: the vault key is missing: the stored files can no longer be decrypted`);
  }
  const tmp = join(dir, `key.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, randomBytes(KEY_LEN));
    fsyncSync(fd);
  } finally { closeSync(fd); }
  try {
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') { unlinkSync(tmp); throw e; }
  }
  unlinkSync(tmp);
  fsyncDirSync(dir);
  return read();
}
