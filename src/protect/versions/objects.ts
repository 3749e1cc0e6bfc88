/**
 * The content-addressed object store behind versioned copies: one file per distinct content,
 * named by the SHA-256 of that content (`objects/ab/abcdef…`), so that identical files are stored
 * once however many paths or versions refer to them.
 *
 * In: file contents (buffers). Out: their SHA-256 (hex) and, on read, the verified content.
 *
 * Object file format (version 1):
 *   bytes 0-3   magic `VGOB`
 *   byte  4     format version (1)
 *   byte  5     codec: 0 = stored as is, 1 = zlib (RFC 1950)
 *   bytes 6-37  SHA-256 of the original content (must equal the file name)
 *   bytes 38-   payload
 *
 * Why: zlib is used only when it saves space (a 64 KiB sample is tried first, so random or already
 * compressed data such as JPEG, zip or encrypted files is not deflated for nothing). Objects are
 * written atomically (temporary file, fsync, rename, fsync of the directory), so a crash leaves
 * either no object or a complete one, never a torn one; a temporary file left by a crash is removed
 * by `sweepTemp`. Every read is verified (header, name, decompression, hash): a damaged object is
 * reported as a `CorruptObjectError` naming the object file, never returned as content.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDeflate, createInflate, deflate, inflate } from 'node:zlib';
import { promisify } from 'node:util';

const deflateAsync = promisify(deflate);
const inflateAsync = promisify(inflate);

const MAGIC = Buffer.from('VGOB', 'latin1');
const HEADER = 38;
const SAMPLE = 64 * 1024;
const CHUNK = 1024 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;

export type Codec = 0 | 1;

/** A stored object whose bytes do not match its name (damaged disk, tampering, truncation). */
export class CorruptObjectError extends Error {
  constructor(readonly sha256: string, readonly file: string, readonly reason: string) {
    super(`stored copy ${sha256} is corrupt (${reason}): ${file}`);
    this.name = 'CorruptObjectError';
  }
}

/** A stored object that is not there at all. */
export class MissingObjectError extends Error {
  constructor(readonly sha256: string, readonly file: string) {
    super(`stored copy ${sha256} is missing: ${file}`);
    this.name = 'MissingObjectError';
  }
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface PutResult {
  sha256: string;
  /** Bytes the object takes on disk (header included). */
  storedSize: number;
  codec: Codec;
  /** False when an object with this content was already there. */
  created: boolean;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try { await fh.sync(); } finally { await fh.close(); }
}

/** A file's bytes from `start` to its end, in 1 MiB chunks (the handle stays open). */
async function* fileChunks(fh: FileHandle, start: number): AsyncGenerator<Buffer> {
  let pos = start;
  while (true) {
    const buf = Buffer.alloc(CHUNK);
    const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    yield bytesRead === CHUNK ? buf : buf.subarray(0, bytesRead);
  }
}

/** Writes what it is given at `start` onwards of an open file (the handle stays open). */
function fileSink(fh: FileHandle, start: number): Writable {
  let pos = start;
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      fh.write(chunk, 0, chunk.length, pos).then(() => { pos += chunk.length; cb(); }, cb);
    },
  });
}

export class ObjectStore {
  readonly objectsDir: string;
  readonly tmpDir: string;
  private readonly inflight = new Map<string, Promise<PutResult>>();

  constructor(readonly dir: string) {
    this.objectsDir = join(dir, 'objects');
    this.tmpDir = join(dir, 'tmp');
  }

  async init(): Promise<void> {
    await mkdir(this.objectsDir, { recursive: true, mode: 0o700 });
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
  }

  pathOf(sha: string): string {
    if (!HEX64.test(sha)) throw new Error(`not a SHA-256: ${sha}`);
    return join(this.objectsDir, sha.slice(0, 2), sha);
  }

  async has(sha: string): Promise<boolean> {
    try {
      const s = await stat(this.pathOf(sha));
      return s.isFile() && s.size >= HEADER;
    } catch {
      return false;
    }
  }

  /**
   * Stores `data` unless an object with its hash exists already. `known` skips the hashing when the
   * caller has just computed it.
   */
  async put(data: Buffer, known?: string): Promise<PutResult> {
    const sha = known ?? sha256Hex(data);
    // The same content arriving twice at once (copies of one file) is written once.
    const inflight = this.inflight.get(sha);
    if (inflight) {
      const r = await inflight.catch(() => undefined);
      if (r) return { ...r, created: false };
    }
    const p = this.write(sha, data);
    this.inflight.set(sha, p);
    try {
      return await p;
    } finally {
      if (this.inflight.get(sha) === p) this.inflight.delete(sha);
    }
  }

  private async write(sha: string, data: Buffer): Promise<PutResult> {
    const file = this.pathOf(sha);
    const existing = await this.quickCheck(sha, data.length);
    if (existing) return { sha256: sha, storedSize: existing.size, codec: existing.codec, created: false };
    const { payload, codec } = await this.encode(data);
    const header = Buffer.alloc(HEADER);
    MAGIC.copy(header, 0);
    header[4] = 1;
    header[5] = codec;
    Buffer.from(sha, 'hex').copy(header, 6);
    const sub = join(this.objectsDir, sha.slice(0, 2));
    // A new fan-out directory must itself survive a power loss.
    if (await mkdir(sub, { recursive: true, mode: 0o700 }) !== undefined) await fsyncDir(this.objectsDir);
    const tmp = join(this.tmpDir, `${sha.slice(0, 16)}.${randomBytes(6).toString('hex')}.tmp`);
    const fh = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    try {
      await fh.writev([header, payload]);
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    await fh.close();
    try {
      await rename(tmp, file);
      await fsyncDir(sub);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    return { sha256: sha, storedSize: HEADER + payload.length, codec, created: true };
  }

  /**
   * Stores the content of an open file, read in chunks from offset 0 to `size` (for files too
   * large to hold in memory). `stillSame` is asked before the object is put in place: when the
   * file changed during the read, nothing is stored and undefined is returned (the caller retries).
   */
  async putFrom(src: FileHandle, size: number, stillSame: () => Promise<boolean>): Promise<(PutResult & { size: number }) | undefined> {
    const sampleLen = Math.min(SAMPLE, size);
    const sample = Buffer.alloc(sampleLen);
    if (sampleLen > 0) await src.read(sample, 0, sampleLen, 0);
    const compress = size >= 64 && (await deflateAsync(sample, { level: 1 })).length < sampleLen * 0.97;
    const tmp = join(this.tmpDir, `stream.${randomBytes(8).toString('hex')}.tmp`);
    const out = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    const hash = createHash('sha256');
    let total = 0;
    let placed = false;
    try {
      await out.write(Buffer.alloc(HEADER), 0, HEADER, 0);
      async function* chunks(): AsyncGenerator<Buffer> {
        const buf = Buffer.alloc(CHUNK);
        while (total < size) {
          const { bytesRead } = await src.read(buf, 0, Math.min(CHUNK, size - total), total);
          if (bytesRead === 0) break;
          const c = Buffer.from(buf.subarray(0, bytesRead));
          hash.update(c);
          total += bytesRead;
          yield c;
        }
      }
      const sink = fileSink(out, HEADER);
      if (compress) await pipeline(Readable.from(chunks()), createDeflate({ level: 6 }), sink);
      else await pipeline(Readable.from(chunks()), sink);
      if (total !== size || !(await stillSame())) return undefined;
      const sha = hash.digest('hex');
      const header = Buffer.alloc(HEADER);
      MAGIC.copy(header, 0);
      header[4] = 1;
      header[5] = compress ? 1 : 0;
      Buffer.from(sha, 'hex').copy(header, 6);
      await out.write(header, 0, HEADER, 0);
      await out.sync();
      const storedSize = (await out.stat()).size;
      await out.close();
      const existing = await this.quickCheck(sha, total);
      if (existing) return { sha256: sha, storedSize: existing.size, codec: existing.codec, created: false, size: total };
      const sub = join(this.objectsDir, sha.slice(0, 2));
      if (await mkdir(sub, { recursive: true, mode: 0o700 }) !== undefined) await fsyncDir(this.objectsDir);
      await rename(tmp, this.pathOf(sha));
      placed = true;
      await fsyncDir(sub);
      return { sha256: sha, storedSize, codec: compress ? 1 : 0, created: true, size: total };
    } finally {
      await out.close().catch(() => undefined);
      if (!placed) await unlink(tmp).catch(() => undefined);
    }
  }

  /**
   * Streams one object's content into `dest` (from offset 0), verifying it on the way; `dest`
   * undefined only verifies. Throws `CorruptObjectError` (after writing what it read: the caller
   * discards `dest`) or `MissingObjectError`.
   */
  async copyTo(sha: string, dest: FileHandle | undefined): Promise<number> {
    const file = this.pathOf(sha);
    let fh: FileHandle;
    try {
      fh = await open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingObjectError(sha, file);
      throw e;
    }
    try {
      const head = Buffer.alloc(HEADER);
      const { bytesRead } = await fh.read(head, 0, HEADER, 0);
      if (bytesRead < HEADER || !head.subarray(0, 4).equals(MAGIC)) throw new CorruptObjectError(sha, file, 'bad header');
      if (head[4] !== 1) throw new CorruptObjectError(sha, file, `unknown format version ${head[4]}`);
      if (head.subarray(6, HEADER).toString('hex') !== sha) throw new CorruptObjectError(sha, file, 'header names another content');
      const codec = head[5];
      if (codec !== 0 && codec !== 1) throw new CorruptObjectError(sha, file, `unknown codec ${codec}`);
      const hash = createHash('sha256');
      let n = 0;
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) { hash.update(chunk); n += chunk.length; cb(null, chunk); },
      });
      const sink = dest ? fileSink(dest, 0) : new Writable({ write(_c, _e, cb) { cb(); } });
      const source = Readable.from(fileChunks(fh, HEADER));
      try {
        if (codec === 1) await pipeline(source, createInflate(), tap, sink);
        else await pipeline(source, tap, sink);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code?.startsWith('Z_')) throw new CorruptObjectError(sha, file, `zlib: ${(e as Error).message}`);
        throw e;
      }
      const got = hash.digest('hex');
      if (got !== sha) throw new CorruptObjectError(sha, file, `hash mismatch: content hashes to ${got}`);
      return n;
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /**
   * Cheap check of an existing object before deduplicating onto it: header intact and, when stored
   * as is, the right length. A damaged object fails it and is then rewritten from the fresh copy.
   */
  private async quickCheck(sha: string, contentLength: number): Promise<{ size: number; codec: Codec } | undefined> {
    let fh;
    try {
      fh = await open(this.pathOf(sha), fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch {
      return undefined;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile() || st.size < HEADER) return undefined;
      const head = Buffer.alloc(HEADER);
      await fh.read(head, 0, HEADER, 0);
      if (!head.subarray(0, 4).equals(MAGIC) || head[4] !== 1) return undefined;
      if (head.subarray(6, HEADER).toString('hex') !== sha) return undefined;
      if (head[5] === 0) return st.size === HEADER + contentLength ? { size: st.size, codec: 0 } : undefined;
      return head[5] === 1 ? { size: st.size, codec: 1 } : undefined;
    } finally {
      await fh.close();
    }
  }

  /** Reads and verifies one object; throws `CorruptObjectError` or `MissingObjectError`. */
  async get(sha: string): Promise<Buffer> {
    const file = this.pathOf(sha);
    let raw: Buffer;
    try {
      raw = await readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingObjectError(sha, file);
      throw e;
    }
    if (raw.length < HEADER || !raw.subarray(0, 4).equals(MAGIC)) throw new CorruptObjectError(sha, file, 'bad header');
    if (raw[4] !== 1) throw new CorruptObjectError(sha, file, `unknown format version ${raw[4]}`);
    if (raw.subarray(6, HEADER).toString('hex') !== sha) throw new CorruptObjectError(sha, file, 'header names another content');
    const codec = raw[5];
    let data: Buffer;
    if (codec === 0) data = raw.subarray(HEADER);
    else if (codec === 1) {
      try {
        data = await inflateAsync(raw.subarray(HEADER));
      } catch (e) {
        throw new CorruptObjectError(sha, file, `zlib: ${e instanceof Error ? e.message : String(e)}`);
      }
    } else throw new CorruptObjectError(sha, file, `unknown codec ${codec}`);
    const got = sha256Hex(data);
    if (got !== sha) throw new CorruptObjectError(sha, file, `hash mismatch: content hashes to ${got}`);
    return data;
  }

  async remove(sha: string): Promise<void> {
    await rm(this.pathOf(sha), { force: true });
  }

  /** Every object file name present on disk (for pruning orphans), with its size and mtime. */
  async *list(): AsyncGenerator<{ sha256: string; size: number; mtimeMs: number }> {
    let subs: string[];
    try { subs = await readdir(this.objectsDir); } catch { return; }
    for (const sub of subs) {
      if (!/^[0-9a-f]{2}$/.test(sub)) continue;
      let names: string[];
      try { names = await readdir(join(this.objectsDir, sub)); } catch { continue; }
      for (const name of names) {
        if (!HEX64.test(name) || !name.startsWith(sub)) continue;
        try {
          const s = await stat(join(this.objectsDir, sub, name));
          yield { sha256: name, size: s.size, mtimeMs: s.mtimeMs };
        } catch { /* gone meanwhile */ }
      }
    }
  }

  /** Removes temporary files older than `olderThanMs` (left by a crash mid-write). */
  async sweepTemp(olderThanMs: number): Promise<number> {
    let n = 0;
    let names: string[];
    try { names = await readdir(this.tmpDir); } catch { return 0; }
    const now = Date.now();
    for (const name of names) {
      const p = join(this.tmpDir, name);
      try {
        const s = await stat(p);
        if (now - s.mtimeMs >= olderThanMs) { await rm(p, { force: true }); n++; }
      } catch { /* gone meanwhile */ }
    }
    return n;
  }

  private async encode(data: Buffer): Promise<{ payload: Buffer; codec: Codec }> {
    if (data.length < 64) return { payload: data, codec: 0 };
    if (data.length > SAMPLE) {
      // Try a sample first: incompressible data is the common case for large files.
      const sample = await deflateAsync(data.subarray(0, SAMPLE), { level: 1 });
      if (sample.length > SAMPLE * 0.97) return { payload: data, codec: 0 };
    }
    const z = await deflateAsync(data, { level: 6 });
    return z.length < data.length ? { payload: z, codec: 1 } : { payload: data, codec: 0 };
  }
}
