/**
 * The transparency log's HTTP service (node:http, no framework).
 *
 * In: a `LogStore` and an address to listen on; HTTP requests from clients, auditors and
 * publishers, hostile ones included. Out: signed tree heads, consistency and inclusion proofs,
 * entries by range, stored bundles, and for a submitted bundle its `BundleProof`.
 * Why: the log must be reachable by anyone who wants to replay it; a signature push that is not
 * in it is refused by clients (src/update/transparency.ts, `checkLogged`).
 *
 * API (JSON unless said; errors are {"error": reason}):
 *   GET  /log/v1/sth                              → TreeHead, signed now
 *   GET  /log/v1/consistency?first=M&second=N     → {"proof": [hex...]}        0 < M ≤ N ≤ size
 *   GET  /log/v1/proof?hash=LEAFHEX&tree_size=N   → {"leaf_index", "inclusion"} 0 < N ≤ size
 *   GET  /log/v1/entries?start=S&end=E            → {"entries": [...]}         0 ≤ S < E ≤ size, E − S ≤ 1000
 *   GET  /log/v1/bundle/MANIFESTHASH              → the bundle (application/octet-stream)
 *   POST /log/v1/add        body: a bundle file   → BundleProof; 403 when the log refuses the
 *                                                   publisher or the bundle's validity, 400 when malformed
 * Bad parameters get 400, unknown paths 404, wrong methods 405, bodies over the limit 413, more
 * than MAX_CONCURRENT_ADDS uploads at once 503.
 * Requests are bounded in size and time; nothing a client sends can stop the service.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BundleError } from './bundle.js';
import { LogError } from './transparency.js';
import type { LogStore } from './log-store.js';

/** Largest bundle accepted by /add. */
export const MAX_ADD_BODY = 64 << 20;
/** Most entries returned by one /entries call. */
export const MAX_ENTRIES_PER_CALL = 1000;
/** Bundles received at once (each up to MAX_ADD_BODY in memory); more get 503. */
export const MAX_CONCURRENT_ADDS = 4;
const MAX_URL = 4096;
const REQUEST_TIMEOUT_MS = 120_000;
const HEADERS_TIMEOUT_MS = 20_000;
const IDLE_TIMEOUT_MS = 30_000;

export interface LogServerOptions {
  store: LogStore;
  host: string;
  port: number;
  /** Largest /add body (default 64 MiB). */
  maxBody?: number;
}

export interface RunningLogServer {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

const HEX64 = /^[0-9a-f]{64}$/;

/** A query parameter that must be a decimal integer (no sign, no exponent, at most 15 digits). */
function intParam(q: URLSearchParams, name: string): number {
  const all = q.getAll(name);
  if (all.length !== 1) throw new HttpError(400, `parameter ${name} must be given once`);
  const v = all[0] ?? '';
  if (!/^\d{1,15}$/.test(v)) throw new HttpError(400, `parameter ${name} must be a non-negative decimal integer, not ${JSON.stringify(v.slice(0, 40))}`);
  return Number(v);
}

function send(res: ServerResponse, status: number, body: Buffer, type: string): void {
  if (res.headersSent) { res.destroy(); return; }
  res.writeHead(status, {
    'content-type': type,
    'content-length': body.length,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, Buffer.from(JSON.stringify(value), 'utf8'), 'application/json');
}

/** Reads a request body up to `limit` bytes; a larger one is a 413 (Content-Length checked first). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && (!/^\d+$/.test(declared) || Number(declared) > limit)) {
      reject(new HttpError(413, `the body is larger than ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      total += c.length;
      if (total > limit) {
        done = true;
        reject(new HttpError(413, `the body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => { if (!done) { done = true; resolve(Buffer.concat(chunks, total)); } });
    req.on('error', (e) => { if (!done) { done = true; reject(new HttpError(400, `request body: ${e.message}`)); } });
    req.on('aborted', () => { if (!done) { done = true; reject(new HttpError(400, 'request aborted')); } });
  });
}

function addStatus(e: BundleError): number {
  switch (e.code) {
    case 'signature-invalid':
    case 'expired':
    case 'not-yet-valid':
      return 403;
    default:
      return 400;
  }
}

async function handle(store: LogStore, maxBody: number, state: { adding: number }, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = req.url ?? '/';
  if (raw.length > MAX_URL) throw new HttpError(414, `request target longer than ${MAX_URL} characters`);
  let url: URL;
  try { url = new URL(raw, 'http://log.invalid'); } catch { throw new HttpError(400, 'request target is not a URL path'); }
  const path = url.pathname;
  const q = url.searchParams;
  const method = req.method ?? 'GET';
  const onlyGet = (): void => {
    if (method !== 'GET' && method !== 'HEAD') { res.setHeader('allow', 'GET, HEAD'); throw new HttpError(405, `${path} answers GET, not ${method}`); }
  };

  if (path === '/log/v1/add') {
    if (method !== 'POST') { res.setHeader('allow', 'POST'); throw new HttpError(405, `${path} answers POST, not ${method}`); }
    if (state.adding >= MAX_CONCURRENT_ADDS) { res.setHeader('retry-after', '5'); throw new HttpError(503, `${MAX_CONCURRENT_ADDS} bundles are being received; try again`); }
    state.adding++;
    let body: Buffer;
    try { body = await readBody(req, maxBody); } finally { state.adding--; }
    if (body.length === 0) throw new HttpError(400, 'empty body: POST a bundle file');
    try {
      sendJson(res, 200, store.add(body));
    } catch (e) {
      if (e instanceof BundleError) throw new HttpError(addStatus(e), `${e.code}: ${e.message}`);
      if (e instanceof LogError && e.code !== 'log-io') throw new HttpError(400, `${e.code}: ${e.message}`);
      throw e;
    }
    return;
  }

  if (path === '/log/v1/sth') {
    onlyGet();
    sendJson(res, 200, store.treeHead());
    return;
  }

  if (path === '/log/v1/consistency') {
    onlyGet();
    const first = intParam(q, 'first');
    const second = intParam(q, 'second');
    const size = store.size;
    if (first < 1 || first > second || second > size) throw new HttpError(400, `need 0 < first ≤ second ≤ ${size} (the tree size), got first=${first}, second=${second}`);
    sendJson(res, 200, { proof: store.consistencyProof(first, second) });
    return;
  }

  if (path === '/log/v1/proof') {
    onlyGet();
    const hashes = q.getAll('hash');
    const hash = hashes[0] ?? '';
    if (hashes.length !== 1 || !HEX64.test(hash)) throw new HttpError(400, 'parameter hash must be one leaf hash, 64 lowercase hex digits');
    const treeSize = intParam(q, 'tree_size');
    const size = store.size;
    if (treeSize < 1 || treeSize > size) throw new HttpError(400, `tree_size must be in 1..${size} (the tree size), not ${treeSize}`);
    const index = store.indexOfLeaf(hash);
    if (index === undefined) throw new HttpError(404, `no leaf with hash ${hash} in the log`);
    if (index >= treeSize) throw new HttpError(400, `leaf ${hash.slice(0, 16)}… is at index ${index}, not in the tree of size ${treeSize}`);
    sendJson(res, 200, { leaf_index: index, inclusion: store.inclusionProof(index, treeSize) });
    return;
  }

  if (path === '/log/v1/entries') {
    onlyGet();
    const start = intParam(q, 'start');
    const end = intParam(q, 'end');
    const size = store.size;
    if (start >= end || end > size) throw new HttpError(400, `need 0 ≤ start < end ≤ ${size} (the tree size), got start=${start}, end=${end}`);
    if (end - start > MAX_ENTRIES_PER_CALL) throw new HttpError(400, `at most ${MAX_ENTRIES_PER_CALL} entries per call (asked for ${end - start})`);
    sendJson(res, 200, { entries: store.entries(start, end) });
    return;
  }

  if (path.startsWith('/log/v1/bundle/')) {
    onlyGet();
    const hash = path.slice('/log/v1/bundle/'.length);
    if (!HEX64.test(hash)) throw new HttpError(400, 'a bundle is named by its manifest SHA-256, 64 lowercase hex digits');
    const bytes = store.bundle(hash);
    if (bytes === undefined) throw new HttpError(404, `no bundle with manifest ${hash} in the log`);
    send(res, 200, bytes, 'application/octet-stream');
    return;
  }

  throw new HttpError(404, `no such endpoint: ${path.slice(0, 200)}`);
}

/** Starts the log service; resolves once it listens (port 0 picks a free port). */
export function startLogServer(opts: LogServerOptions): Promise<RunningLogServer> {
  const maxBody = opts.maxBody ?? MAX_ADD_BODY;
  const state = { adding: 0 };
  const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, maxHeaderSize: 16 * 1024 }, (req, res) => {
    handle(opts.store, maxBody, state, req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      const reason = e instanceof HttpError ? e.message : `internal error: ${(e as Error).message ?? String(e)}`;
      try {
        res.setHeader('connection', 'close');
        sendJson(res, status, { error: reason });
      } catch { res.destroy(); }
      // Stop reading an over-long or unread body; the reply is on its way and the connection closes.
      if (!req.complete) req.once('end', () => undefined).resume();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.setTimeout(IDLE_TIMEOUT_MS, (socket) => { socket.destroy(); });
  server.on('clientError', (_err, socket) => {
    if (socket.writable && !socket.destroyed) {
      const body = '{"error":"malformed HTTP request"}';
      socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    } else {
      socket.destroy();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve({
        url: `http://${host}:${a.port}`,
        host: a.address,
        port: a.port,
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    });
  });
}
