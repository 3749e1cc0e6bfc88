/**
 * Upload middleware for Express and Fastify, typed structurally (no dependency on either).
 *
 * Each upload found on the request is scanned: files a body parser already put on the request
 * (multer's `req.file` / `req.files`, a Buffer `req.body`, Fastify's `request.body` holding Buffers),
 * or else the raw request body, multipart or not, read in memory up to the scanner's MaxFileSize.
 * An infected upload, or one that could not be scanned (a limit, an error), is refused with 422 and
 * a JSON body `{ error, verdict, reason?, detections, parts }`; a clean request goes on, with the
 * scan attached as `req.vigil` (and a raw body read by the middleware as `req.body`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LIMIT_NAMES } from '../core/limits.js';
import { readUpload, worstOf, type UploadPart } from '../http/multipart.js';
import type { Verdict } from '../engine/result.js';
import type { ScanReport, Scanner } from './scanner.js';

export interface UploadGuardOptions {
  /** Largest raw body read by the middleware itself (default: the scanner's MaxFileSize). */
  maxBodySize?: number;
  /** Called with every scan's outcome (logging, metrics). */
  onResult?(result: UploadScan): void;
  /** HTTP status for a refused upload (default 422). */
  status?: number;
}

/** One request's uploads, scanned. */
export interface UploadScan {
  verdict: Verdict;
  reason?: string;
  parts: { field?: string; filename?: string; size: number; report: ScanReport }[];
}

/** What the middleware needs of a scanner. */
export type UploadScanner = Pick<Scanner, 'scanBuffer' | 'scanFile' | 'limits'>;

/** Express's request as far as this middleware reads it (multer's fields included). */
export interface ExpressLikeRequest extends IncomingMessage {
  body?: unknown;
  file?: MulterLikeFile;
  files?: MulterLikeFile[] | Record<string, MulterLikeFile[]>;
  vigil?: UploadScan;
}

export interface MulterLikeFile {
  fieldname?: string;
  originalname?: string;
  size?: number;
  /** Memory storage. */
  buffer?: Buffer;
  /** Disk storage. */
  path?: string;
}

export type ExpressNext = (err?: unknown) => void;
export type ExpressMiddleware = (req: ExpressLikeRequest, res: ServerResponse, next: ExpressNext) => void;

/** Fastify's request and reply as far as this middleware uses them. */
export interface FastifyLikeRequest {
  raw: IncomingMessage;
  headers: IncomingMessage['headers'];
  body?: unknown;
  vigil?: UploadScan;
}
export interface FastifyLikeReply {
  code(status: number): FastifyLikeReply;
  header(name: string, value: string): FastifyLikeReply;
  send(payload?: unknown): FastifyLikeReply;
}
export type FastifyPreHandler = (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<void>;
export interface FastifyLikeInstance {
  addHook(name: 'preHandler', hook: FastifyPreHandler): unknown;
}

/** The JSON a refused upload is answered with. */
export function rejection(scan: UploadScan): { error: string; verdict: Verdict; reason?: string; detections: ScanReport['detections']; parts: { field: string | null; filename: string | null; verdict: Verdict; reason?: string }[] } {
  return {
    error: scan.verdict === 'infected' ? 'upload infected' : 'upload could not be scanned',
    verdict: scan.verdict,
    ...(scan.reason !== undefined ? { reason: scan.reason } : {}),
    detections: scan.parts.flatMap((p) => p.report.detections),
    parts: scan.parts.map((p) => ({ field: p.field ?? null, filename: p.filename ?? null, verdict: p.report.verdict, ...(p.report.reason !== undefined ? { reason: p.report.reason } : {}) })),
  };
}

/** Scans a request's uploads: parsed ones first, else the raw body. */
export async function scanUploads(scanner: UploadScanner, req: { body?: unknown; file?: MulterLikeFile; files?: ExpressLikeRequest['files']; raw: IncomingMessage }, opts: UploadGuardOptions = {}): Promise<UploadScan & { rawBody?: Buffer }> {
  const parts: UploadScan['parts'] = [];
  const named = (field?: string, filename?: string) => ({ ...(field !== undefined ? { field } : {}), ...(filename !== undefined ? { filename } : {}) });
  const scanMulter = async (f: MulterLikeFile): Promise<void> => {
    const meta = named(f.fieldname, f.originalname);
    const nameOpt = f.originalname !== undefined ? { name: f.originalname } : {};
    const report = f.buffer ? await scanner.scanBuffer(f.buffer, nameOpt) : f.path ? await scanner.scanFile(f.path, nameOpt) : notScanned('upload without content');
    parts.push({ ...meta, size: report.size, report });
  };
  const files: MulterLikeFile[] = [];
  if (req.file) files.push(req.file);
  if (Array.isArray(req.files)) files.push(...req.files);
  else if (req.files && typeof req.files === 'object') for (const list of Object.values(req.files)) files.push(...list);
  for (const f of files) await scanMulter(f);
  // Buffers a body parser left (a raw body, or form fields as Buffers or { data | buffer | file: Buffer }).
  for (const [field, buf] of bodyBuffers(req.body)) {
    const report = await scanner.scanBuffer(buf, field !== undefined ? { name: field } : {});
    parts.push({ ...named(field), size: buf.length, report });
  }
  // Nothing parsed and the body still unread (no body parser ran, or one that left it): read it here.
  if (files.length === 0 && parts.length === 0 && !req.raw.readableEnded && !req.raw.readableDidRead) {
    const cap = opts.maxBodySize ?? firstPositive(scanner.limits.maxFileSize, scanner.limits.maxScanSize);
    const outcome = await readUpload<ScanReport>(req.raw, {
      contentType: req.raw.headers['content-type'], maxBodySize: cap, keepRaw: true,
      scan: (bytes, part) => scanner.scanBuffer(bytes, part.filename !== undefined ? { name: part.filename } : {}),
    });
    if (outcome.kind === 'too-large') return { verdict: 'not-scanned', reason: LIMIT_NAMES.maxFileSize, parts: [] };
    if (outcome.kind === 'bad-request') return { verdict: 'not-scanned', reason: outcome.message, parts: [] };
    for (const p of outcome.parts as UploadPart<ScanReport>[]) parts.push({ ...named(p.name, p.filename), size: p.size, report: p.result });
    const w = worstOf(parts.map((p) => p.report));
    return { ...w, parts, ...(outcome.raw ? { rawBody: outcome.raw } : {}) };
  }
  return { ...worstOf(parts.map((p) => p.report)), parts };
}

/** Express middleware: `app.post('/upload', upload.single('file'), vigilExpress(scanner), handler)` or before any body parser. */
export function expressUploadGuard(scanner: UploadScanner, opts: UploadGuardOptions = {}): ExpressMiddleware {
  return (req, res, next) => {
    scanUploads(scanner, { body: req.body, ...(req.file ? { file: req.file } : {}), ...(req.files ? { files: req.files } : {}), raw: req }, opts)
      .then((scan) => {
        const { rawBody, ...result } = scan;
        opts.onResult?.(result);
        req.vigil = result;
        if (result.verdict !== 'clean') {
          const text = JSON.stringify(rejection(result));
          if (!req.complete) res.setHeader('Connection', 'close');
          res.statusCode = opts.status ?? 422;
          res.setHeader('Content-Type', 'application/json; charset=utf-8');
          res.setHeader('Content-Length', Buffer.byteLength(text));
          res.end(text);
          return;
        }
        if (rawBody && req.body === undefined) req.body = rawBody;
        next();
      })
      .catch((e: unknown) => next(e));
  };
}

/** Fastify `preHandler` hook: `fastify.post('/upload', { preHandler: fastifyUploadGuard(scanner) }, handler)`. */
export function fastifyUploadGuard(scanner: UploadScanner, opts: UploadGuardOptions = {}): FastifyPreHandler {
  return async (request, reply) => {
    const scan = await scanUploads(scanner, { body: request.body, raw: request.raw }, opts);
    const { rawBody, ...result } = scan;
    opts.onResult?.(result);
    request.vigil = result;
    if (result.verdict !== 'clean') {
      reply.code(opts.status ?? 422).header('Content-Type', 'application/json; charset=utf-8').send(rejection(result));
      return;
    }
    if (rawBody && request.body === undefined) request.body = rawBody;
  };
}

/**
 * Fastify plugin: `fastify.register(vigilFastifyPlugin, { scanner })` guards every route. Marked to
 * skip Fastify's encapsulation so the hook applies to routes outside the plugin too.
 */
export const vigilFastifyPlugin = Object.assign(
  (instance: FastifyLikeInstance, options: UploadGuardOptions & { scanner: UploadScanner }, done: (err?: Error) => void): void => {
    instance.addHook('preHandler', fastifyUploadGuard(options.scanner, options));
    done();
  },
  { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'vigil' },
);

function* bodyBuffers(body: unknown): Generator<[string | undefined, Buffer]> {
  if (body === undefined || body === null) return;
  if (body instanceof Uint8Array) {
    yield [undefined, Buffer.from(body.buffer, body.byteOffset, body.byteLength)];
    return;
  }
  if (typeof body !== 'object') return;
  for (const [field, value] of Object.entries(body as Record<string, unknown>)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v instanceof Uint8Array) yield [field, Buffer.from(v.buffer, v.byteOffset, v.byteLength)];
      else if (v && typeof v === 'object') {
        const inner = (v as { data?: unknown; buffer?: unknown; _buf?: unknown }).data ?? (v as { buffer?: unknown }).buffer ?? (v as { _buf?: unknown })._buf;
        if (inner instanceof Uint8Array) yield [field, Buffer.from(inner.buffer, inner.byteOffset, inner.byteLength)];
      }
    }
  }
}

function notScanned(reason: string): ScanReport {
  return { verdict: 'not-scanned', reason, detections: [], size: 0, bytesScanned: 0, durationMs: 0, engine: '', database: { signatures: 0 } };
}

function firstPositive(...ns: number[]): number {
  const p = ns.filter((n) => n > 0);
  return p.length > 0 ? Math.min(...p) : Number.MAX_SAFE_INTEGER;
}
