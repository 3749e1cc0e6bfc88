/**
 * The daemon's HTTP API on node:http.
 *
 *   POST /v1/scan     raw body or multipart/form-data (`?allmatch=1`: every detection); streamed into memory (never to disk), each
 *                     part scanned; JSON `{ verdict, reason?, detections, parts?, bytes, version }`,
 *                     the worst part's verdict winning (infected > not-scanned > clean).
 *                     200 for a scan done (whatever its verdict), 413 over the size limit, 400 for a
 *                     malformed body, 500 with `not-scanned` when the scanner failed.
 *   GET  /v1/health   `{ status: "ok" }`
 *   GET  /v1/version  `{ version, ...details }` (the engine's and database's versions)
 *   GET  /metrics     Prometheus text
 *
 * A bearer token is required for every route when one is given, and a server bound to anything but
 * a loopback address refuses to start without one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ScanService, ServiceResult } from '../daemon/service.js';
import { Metrics } from './metrics.js';
import { readUpload } from './multipart.js';

export interface HttpServerOptions {
  host: string;
  /** 0 for any free port (see `port` on the result). */
  port: number;
  /** Required (as `Authorization: Bearer <token>`) on every route when set; mandatory off loopback. */
  token?: string;
  /** Largest request body, in bytes (default 100 MiB, clamd's StreamMaxLength). */
  maxBodySize?: number;
  service: ScanService;
  /** Details added to `GET /v1/version` (structured engine and database versions). */
  versionDetails?: () => Record<string, unknown>;
  metrics?: Metrics;
}

export interface HttpServerHandle {
  server: Server;
  host: string;
  port: number;
  metrics: Metrics;
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY = 100 * 1024 * 1024;

/** Whether a bind address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** Parses `HOST:PORT` (`[::1]:8080`, `127.0.0.1:8080`) as `--http` takes it. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServerHandle> {
  if (!isLoopback(opts.host) && !opts.token) throw new Error(`the HTTP API on ${opts.host} (not loopback) needs a bearer token`);
  const maxBody = opts.maxBodySize ?? DEFAULT_MAX_BODY;
  const metrics = opts.metrics ?? new Metrics();
  const tokenDigest = opts.token ? sha256(opts.token) : undefined;

  const authorised = (req: IncomingMessage): boolean => {
    if (!tokenDigest) return true;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return !!m && timingSafeEqual(sha256(m[1]!), tokenDigest);
  };

  const send = (res: ServerResponse, route: string, status: number, body: unknown, type = 'application/json; charset=utf-8'): void => {
    metrics.request(route, status);
    const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
    res.statusCode = status;
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.setHeader('Cache-Control', 'no-store');
    res.end(text);
  };

  /** Ends a request whose body is left unread: the connection closes after the answer. */
  const refuse = (req: IncomingMessage, res: ServerResponse, route: string, status: number, body: unknown): void => {
    if (!req.complete) res.setHeader('Connection', 'close');
    send(res, route, status, body);
    if (!req.complete) res.once('finish', () => req.socket.destroySoon());
  };

  const scan = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const route = '/v1/scan';
    const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    const allmatch = ['1', 'true', 'yes'].includes(query.get('allmatch') ?? '');
    const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
    if (declared !== undefined && Number.isFinite(declared) && declared > maxBody) {
      metrics.error('too_large');
      refuse(req, res, route, 413, { error: 'request body too large', maxBodySize: maxBody });
      return;
    }
    let engineFailed = false;
    const outcome = await readUpload<ServiceResult>(req, {
      contentType: req.headers['content-type'],
      maxBodySize: maxBody,
      scan: async (bytes) => {
        const t0 = process.hrtime.bigint();
        let r: ServiceResult;
        try {
          r = await opts.service.scanBuffer(bytes, allmatch ? { allmatch: true } : {});
        } catch (e) {
          engineFailed = true;
          metrics.error('engine');
          r = { verdict: 'not-scanned', detections: [], reason: `error: ${e instanceof Error ? e.message : String(e)}` };
        }
        if (r.verdict === 'clean' && r.detections.length > 0) r = { ...r, verdict: 'infected' };
        metrics.scan(r.verdict, r.detections.length, bytes.length, Number(process.hrtime.bigint() - t0) / 1e9);
        return r;
      },
    });
    if (outcome.kind === 'too-large') {
      metrics.error('too_large');
      refuse(req, res, route, 413, { error: 'request body too large', maxBodySize: maxBody });
      return;
    }
    if (outcome.kind === 'bad-request') {
      metrics.error('bad_request');
      refuse(req, res, route, 400, { error: outcome.message });
      return;
    }
    const detections = outcome.parts.flatMap((p) => p.result.detections.map((d) => ({ ...d, ...(outcome.multipart ? { part: p.name ?? null, filename: p.filename ?? null } : {}) })));
    const body = {
      verdict: outcome.verdict,
      ...(outcome.reason !== undefined && outcome.verdict !== 'infected' ? { reason: outcome.reason } : {}),
      detections,
      ...(outcome.multipart
        ? { parts: outcome.parts.map((p) => ({ name: p.name ?? null, filename: p.filename ?? null, contentType: p.contentType ?? null, size: p.size, verdict: p.result.verdict, ...(p.result.reason !== undefined ? { reason: p.result.reason } : {}), detections: p.result.detections })) }
        : {}),
      bytes: outcome.bytes,
      version: safeVersion(opts.service),
    };
    send(res, route, engineFailed ? 500 : 200, body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = ['/v1/scan', '/v1/health', '/v1/version', '/metrics'].includes(path) ? path : 'other';
    if (!authorised(req)) {
      metrics.error('unauthorized');
      res.setHeader('WWW-Authenticate', 'Bearer realm="vigil"');
      refuse(req, res, route, 401, { error: 'unauthorized' });
      return;
    }
    const method = req.method ?? 'GET';
    const allow = (m: string): boolean => {
      if (method === m || (m === 'GET' && method === 'HEAD')) return true;
      res.setHeader('Allow', m);
      refuse(req, res, route, 405, { error: `method ${method} not allowed` });
      return false;
    };
    switch (path) {
      case '/v1/scan':
        if (allow('POST')) await scan(req, res);
        return;
      case '/v1/health':
        if (allow('GET')) send(res, route, 200, { status: 'ok' });
        return;
      case '/v1/version':
        if (allow('GET')) send(res, route, 200, { version: safeVersion(opts.service), ...(opts.versionDetails?.() ?? {}) });
        return;
      case '/metrics':
        if (allow('GET')) send(res, route, 200, metrics.render(), 'text/plain; version=0.0.4; charset=utf-8');
        return;
      default:
        refuse(req, res, route, 404, { error: 'not found' });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      metrics.error('internal');
      if (!res.headersSent) refuse(req, res, 'other', 500, { verdict: 'not-scanned', error: e instanceof Error ? e.message : String(e) });
      else res.destroy();
    });
  });
  server.requestTimeout = 5 * 60_000;
  server.headersTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    server, host: opts.host, port: addr.port, metrics,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((e) => (e ? reject(e) : resolve()));
      server.closeAllConnections();
    }),
  };
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function safeVersion(service: ScanService): string {
  try {
    return service.version();
  } catch {
    return 'unknown';
  }
}
