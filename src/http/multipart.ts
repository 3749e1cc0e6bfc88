/**
 * A streaming multipart/form-data parser (RFC 7578 / RFC 2046 §5.1) and the reading of an upload's
 * body into parts, each scanned as soon as it ends.
 *
 * In: the body's chunks as they arrive. Out: callbacks per part (headers, data, end). Memory held by
 * the parser is one chunk plus the delimiter; a part's header block is capped. The reader on top
 * (`readUpload`) keeps a part's bytes only until that part is scanned, and counts the whole body
 * against a size limit. Nothing is written to disk.
 */
import type { Readable } from 'node:stream';
import type { Verdict } from '../daemon/service.js';

export class MultipartError extends Error {}

export interface PartInfo {
  /** The form field's name (Content-Disposition `name`). */
  name?: string;
  /** The uploaded file's name (Content-Disposition `filename`). */
  filename?: string;
  contentType?: string;
  headers: Record<string, string>;
}

export interface MultipartHandlers {
  onPartBegin(part: PartInfo): void;
  onPartData(chunk: Buffer): void;
  onPartEnd(): void;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/** The boundary of a `multipart/*` content type, or undefined. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\//i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

export class MultipartParser {
  private readonly delimiter: Buffer;
  /** Bytes not yet consumed; starts with a CRLF so that a boundary on the first line matches. */
  private pending: Buffer = CRLF;
  private state: 'preamble' | 'after-boundary' | 'headers' | 'body' | 'done' = 'preamble';
  private parts = 0;

  constructor(boundary: string, private readonly handlers: MultipartHandlers, private readonly opts: { maxHeaderSize?: number; maxParts?: number } = {}) {
    if (boundary.length === 0 || boundary.length > 70) throw new MultipartError('bad multipart boundary');
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  }

  get done(): boolean {
    return this.state === 'done';
  }

  write(chunk: Uint8Array): void {
    if (this.state === 'done') return; // the epilogue is ignored
    this.pending = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    this.run();
  }

  /** The body ended: it must have closed its last part. */
  end(): void {
    if (this.state !== 'done') throw new MultipartError('multipart body ended before its closing boundary');
  }

  private run(): void {
    for (;;) {
      const p = this.pending;
      switch (this.state) {
        case 'preamble': {
          const i = p.indexOf(this.delimiter);
          if (i < 0) {
            this.pending = p.subarray(Math.max(0, p.length - this.delimiter.length + 1));
            return;
          }
          this.pending = p.subarray(i + this.delimiter.length);
          this.state = 'after-boundary';
          break;
        }
        case 'after-boundary': {
          // Transport padding (spaces, tabs) may follow a boundary before its CRLF or the closing `--`.
          let j = 0;
          while (j < p.length && (p[j] === 0x20 || p[j] === 0x09)) j++;
          if (j > 1024) throw new MultipartError('bad multipart boundary line');
          if (p.length < j + 2) return;
          if (p[j] === 0x2d && p[j + 1] === 0x2d) {
            this.state = 'done';
            this.pending = Buffer.alloc(0);
            return;
          }
          if (p[j] !== 0x0d || p[j + 1] !== 0x0a) throw new MultipartError('bad multipart boundary line');
          this.pending = p.subarray(j + 2);
          this.state = 'headers';
          break;
        }
        case 'headers': {
          const max = this.opts.maxHeaderSize ?? 16 * 1024;
          let block: string;
          if (p.length >= 2 && p[0] === 0x0d && p[1] === 0x0a) {
            block = ''; // a part without headers
            this.pending = p.subarray(2);
          } else {
            const i = p.indexOf(HEADER_END);
            if (i < 0) {
              if (p.length > max) throw new MultipartError('multipart part headers too large');
              return;
            }
            if (i > max) throw new MultipartError('multipart part headers too large');
            block = p.subarray(0, i).toString('utf8');
            this.pending = p.subarray(i + HEADER_END.length);
          }
          if (++this.parts > (this.opts.maxParts ?? 1000)) throw new MultipartError('too many multipart parts');
          this.handlers.onPartBegin(parseHeaders(block));
          this.state = 'body';
          break;
        }
        case 'body': {
          const i = p.indexOf(this.delimiter);
          if (i < 0) {
            // Everything but a tail that could be the start of the delimiter is the part's data.
            const keep = Math.min(p.length, this.delimiter.length - 1);
            if (p.length > keep) this.handlers.onPartData(p.subarray(0, p.length - keep));
            this.pending = Buffer.from(p.subarray(p.length - keep));
            return;
          }
          if (i > 0) this.handlers.onPartData(p.subarray(0, i));
          this.handlers.onPartEnd();
          this.pending = p.subarray(i + this.delimiter.length);
          this.state = 'after-boundary';
          break;
        }
        case 'done':
          return;
      }
    }
  }
}

function parseHeaders(block: string): PartInfo {
  const headers: Record<string, string> = {};
  for (const line of block.split('\r\n')) {
    const c = line.indexOf(':');
    if (c <= 0) continue;
    headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
  }
  const info: PartInfo = { headers };
  const cd = headers['content-disposition'];
  if (cd) {
    const name = dispositionParam(cd, 'name');
    const filename = dispositionParam(cd, 'filename');
    if (name !== undefined) info.name = name;
    if (filename !== undefined) info.filename = filename;
  }
  if (headers['content-type']) info.contentType = headers['content-type'];
  return info;
}

function dispositionParam(cd: string, key: string): string | undefined {
  const m = new RegExp(`(?:^|;)\\s*${key}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, 'i').exec(cd);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

// ---------------------------------------------------------------------------------------------
// Reading an upload: raw body or multipart, each part scanned

/** What a part's scan must at least answer. */
export interface VerdictLike {
  verdict: Verdict;
  reason?: string;
}

export interface UploadPart<R> {
  name?: string;
  filename?: string;
  contentType?: string;
  size: number;
  result: R;
}

export type UploadOutcome<R> =
  | { kind: 'scanned'; multipart: boolean; parts: UploadPart<R>[]; verdict: Verdict; reason?: string; bytes: number; raw?: Buffer }
  | { kind: 'too-large'; bytes: number }
  | { kind: 'bad-request'; message: string; bytes: number };

export interface ReadUploadOptions<R extends VerdictLike> {
  contentType: string | undefined;
  /** Bytes of the whole body above which reading stops (`too-large`). */
  maxBodySize: number;
  scan(bytes: Buffer, part: { name?: string; filename?: string }): Promise<R>;
  /** Keep a raw (non-multipart) body's bytes in the outcome (`raw`), for a handler after the middleware. */
  keepRaw?: boolean;
}

const RANK: Readonly<Record<Verdict, number>> = { clean: 0, 'not-scanned': 1, infected: 2 };

/** The worst of several verdicts: infected over not-scanned over clean. */
export function worstOf<R extends VerdictLike>(results: readonly R[]): { verdict: Verdict; reason?: string } {
  let worst: R | undefined;
  for (const r of results) if (!worst || RANK[r.verdict] > RANK[worst.verdict]) worst = r;
  if (!worst) return { verdict: 'clean' };
  return { verdict: worst.verdict, ...(worst.reason !== undefined ? { reason: worst.reason } : {}) };
}

/**
 * Reads a body (a Node readable) and scans it: a multipart body part by part, any other body as one
 * object. Stops reading at `maxBodySize` (the rest of the stream is left unread).
 */
export async function readUpload<R extends VerdictLike>(body: Readable | AsyncIterable<Uint8Array>, opts: ReadUploadOptions<R>): Promise<UploadOutcome<R>> {
  const boundary = multipartBoundary(opts.contentType);
  if (opts.contentType && /^\s*multipart\//i.test(opts.contentType) && !boundary) return { kind: 'bad-request', message: 'multipart body without a boundary', bytes: 0 };
  let bytes = 0;
  const parts: Promise<UploadPart<R>>[] = [];
  let parser: MultipartParser | undefined;
  const raw: Buffer[] = [];
  if (boundary) {
    let info: PartInfo | undefined;
    let chunks: Buffer[] = [];
    let size = 0;
    parser = new MultipartParser(boundary, {
      onPartBegin(p) {
        info = p;
        chunks = [];
        size = 0;
      },
      onPartData(c) {
        chunks.push(Buffer.from(c)); // a copy: the parser's buffer is reused
        size += c.length;
      },
      onPartEnd() {
        const p = info ?? { headers: {} };
        const data = Buffer.concat(chunks, size);
        const meta = { ...(p.name !== undefined ? { name: p.name } : {}), ...(p.filename !== undefined ? { filename: p.filename } : {}) };
        const partSize = size;
        parts.push(opts.scan(data, meta).then((result) => ({ ...meta, ...(p.contentType !== undefined ? { contentType: p.contentType } : {}), size: partSize, result })));
        chunks = [];
        size = 0;
      },
    });
  }
  let over = false;
  try {
    await eachChunk(body, (b) => {
      bytes += b.length;
      if (bytes > opts.maxBodySize) {
        over = true;
        return false;
      }
      if (parser) parser.write(b);
      else raw.push(Buffer.from(b));
      return true;
    });
    if (over) {
      await Promise.allSettled(parts);
      return { kind: 'too-large', bytes };
    }
    parser?.end();
  } catch (e) {
    await Promise.allSettled(parts);
    if (e instanceof MultipartError) return { kind: 'bad-request', message: e.message, bytes };
    return { kind: 'bad-request', message: `read error: ${e instanceof Error ? e.message : String(e)}`, bytes };
  }
  if (!parser) {
    const data = Buffer.concat(raw, bytes);
    const result = await opts.scan(data, {});
    const w = worstOf([result]);
    return { kind: 'scanned', multipart: false, parts: [{ size: bytes, result }], ...w, bytes, ...(opts.keepRaw ? { raw: data } : {}) };
  }
  const done = await Promise.all(parts);
  return { kind: 'scanned', multipart: true, parts: done, ...worstOf(done.map((p) => p.result)), bytes };
}

/**
 * Calls `fn` with each chunk until it returns false or the body ends. A Node readable is read by
 * its events and, when stopped early, paused rather than destroyed, so that an HTTP answer can
 * still be written on its socket.
 */
function eachChunk(body: Readable | AsyncIterable<Uint8Array>, fn: (chunk: Buffer) => boolean): Promise<void> {
  const toBuf = (c: Uint8Array | string): Buffer => (typeof c === 'string' ? Buffer.from(c) : Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  if (typeof (body as Readable).on === 'function' && typeof (body as Readable).pause === 'function') {
    const r = body as Readable;
    return new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        r.off('data', onData);
        r.off('end', onEnd);
        r.off('error', onError);
        r.off('aborted', onAborted);
      };
      const onData = (c: Uint8Array | string): void => {
        let go: boolean;
        try {
          go = fn(toBuf(c));
        } catch (e) {
          cleanup();
          r.pause();
          reject(e instanceof Error ? e : new Error(String(e)));
          return;
        }
        if (!go) {
          cleanup();
          r.pause();
          resolve();
        }
      };
      const onEnd = (): void => { cleanup(); resolve(); };
      const onError = (e: Error): void => { cleanup(); reject(e); };
      const onAborted = (): void => { cleanup(); reject(new Error('request aborted')); };
      r.on('data', onData);
      r.on('end', onEnd);
      r.on('error', onError);
      r.on('aborted', onAborted);
      if (r.readableEnded) { cleanup(); resolve(); }
    });
  }
  return (async () => {
    for await (const c of body as AsyncIterable<Uint8Array | string>) if (!fn(toBuf(c))) break;
  })();
}
