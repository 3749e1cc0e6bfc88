/**
 * Mirrors: `vigil mirror serve DIR` publishes every bundle and delta found in DIR over HTTP;
 * the client reads a mirror's index and downloads from it.
 *
 * In: a directory of bundle (`VIGILBNDL1`) and delta (`VIGILDELTA1`) files (server); mirror base
 * URLs (client). Out: `GET /index.json` — {"format":"vigil-mirror/1","files":[{file, kind,
 * publisher, version, manifest_sha256, base_manifest_sha256?, size}]} — and `GET /files/NAME`;
 * on the client, the parsed index and bounded downloads.
 * Why: mirrors are untrusted transport. The index is read from each file's unverified manifest
 * only to choose what to download; everything downloaded is verified by the client.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeSync, openSync, readdirSync, readSync, statSync, createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { BUNDLE_MAGIC } from './bundle.js';
import { httpExchange } from './http.js';
import { DELTA_MAGIC, readDeltaHeader } from './delta.js';

export interface MirrorFile {
  file: string;
  kind: 'bundle' | 'delta';
  publisher?: string;
  version: number;
  manifest_sha256: string;
  base_manifest_sha256?: string;
  size: number;
}

/** Largest bundle or delta a client downloads. */
export const MAX_DOWNLOAD = 1 << 30;
const MAX_INDEX = 16 << 20;

function readHead(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got);
  } finally { closeSync(fd); }
}

/** Describes one file of a mirror directory, or undefined when it is neither a bundle nor a delta. */
export function describeFile(dir: string, name: string): MirrorFile | undefined {
  const path = join(dir, name);
  let st;
  try { st = statSync(path); } catch { return undefined; }
  if (!st.isFile() || st.size < 16) return undefined;
  const head = readHead(path, 16);
  const magic = head.subarray(0, 12).toString('latin1');
  try {
    if (magic.startsWith(BUNDLE_MAGIC)) {
      const mlen = head.readUInt32BE(BUNDLE_MAGIC.length);
      if (mlen === 0 || mlen > (1 << 20)) return undefined;
      const mbytes = readHead(path, BUNDLE_MAGIC.length + 4 + mlen).subarray(BUNDLE_MAGIC.length + 4);
      const m = JSON.parse(mbytes.toString('utf8')) as { publisher?: unknown; version?: unknown };
      if (typeof m.version !== 'number') return undefined;
      return {
        file: name, kind: 'bundle', ...(typeof m.publisher === 'string' ? { publisher: m.publisher } : {}), version: m.version,
        manifest_sha256: createHash('sha256').update(mbytes).digest('hex'), size: st.size,
      };
    }
    if (magic === DELTA_MAGIC) {
      const hlen = head.readUInt32BE(DELTA_MAGIC.length);
      if (hlen === 0 || hlen > (4 << 20)) return undefined;
      const { header } = readDeltaHeader(readHead(path, DELTA_MAGIC.length + 4 + hlen));
      return { file: name, kind: 'delta', version: header.version, manifest_sha256: header.manifest_sha256, base_manifest_sha256: header.base_manifest_sha256, size: st.size };
    }
  } catch { return undefined; }
  return undefined;
}

export function mirrorIndex(dir: string): MirrorFile[] {
  const out: MirrorFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const d = describeFile(dir, name);
    if (d) out.push(d);
  }
  return out;
}

export interface MirrorServer { url: string; close(): Promise<void>; server: Server }

/** Serves DIR (read on every request, so files dropped in appear at once). */
export function startMirror(opts: { dir: string; host?: string; port?: number; log?: (line: string) => void }): Promise<MirrorServer> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const fail = (code: number, msg: string): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ error: msg })}\n`);
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'only GET');
      const url = new URL(req.url ?? '/', 'http://mirror');
      opts.log?.(`${req.method} ${url.pathname}`);
      if (url.pathname === '/index.json') {
        const body = Buffer.from(`${JSON.stringify({ format: 'vigil-mirror/1', files: mirrorIndex(opts.dir) })}\n`);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, 'cache-control': 'no-cache' });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      const m = /^\/files\/([^/]+)$/.exec(url.pathname);
      if (!m) return fail(404, 'not found');
      const name = decodeURIComponent(m[1]!);
      if (name.includes('/') || name.startsWith('.')) return fail(404, 'not found');
      const d = describeFile(opts.dir, name);
      if (!d) return fail(404, 'not found');
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': d.size });
      if (req.method === 'HEAD') { res.end(); return; }
      const s = createReadStream(join(opts.dir, name));
      s.on('error', () => res.destroy());
      s.pipe(res);
    } catch (e) {
      fail(500, (e as Error).message);
    }
  };
  const server = createServer(handler);
  server.requestTimeout = 60_000;
  server.headersTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      const a = server.address();
      const port = typeof a === 'object' && a ? a.port : opts.port;
      const host = (opts.host ?? '127.0.0.1').includes(':') ? `[${opts.host}]` : opts.host ?? '127.0.0.1';
      resolve({
        url: `http://${host}:${port}`,
        server,
        close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}

/** Downloads at most `max` bytes from `url`; throws with the URL and the reason. */
export async function download(url: string, max: number, timeoutMs = 120_000): Promise<Buffer> {
  const where = `GET ${url}`;
  let u: URL;
  try { u = new URL(url); } catch { throw new Error(`${url}: not a URL`); }
  const { status, body } = await httpExchange(u, { cap: max, errorCap: 64 << 10, timeoutMs, where, fail: (m) => new Error(m) });
  if (status !== 200) throw new Error(`${where}: HTTP ${status}`);
  return body;
}

/** Reads a mirror's index; entries that don't have the expected shape are dropped. */
export async function fetchIndex(base: string): Promise<MirrorFile[]> {
  const url = `${base.replace(/\/+$/, '')}/index.json`;
  const body = await download(url, MAX_INDEX, 30_000);
  let v: unknown;
  try { v = JSON.parse(body.toString('utf8')); } catch (e) { throw new Error(`${url}: not JSON: ${(e as Error).message}`); }
  const files = (v as { files?: unknown }).files;
  if (!Array.isArray(files)) throw new Error(`${url}: no "files" list`);
  return files.filter((f): f is MirrorFile => typeof f === 'object' && f !== null
    && typeof (f as MirrorFile).file === 'string' && ((f as MirrorFile).kind === 'bundle' || (f as MirrorFile).kind === 'delta')
    && Number.isSafeInteger((f as MirrorFile).version) && typeof (f as MirrorFile).manifest_sha256 === 'string'
    && Number.isSafeInteger((f as MirrorFile).size));
}

export function fileUrl(base: string, f: MirrorFile): string {
  return `${base.replace(/\/+$/, '')}/files/${encodeURIComponent(f.file)}`;
}
