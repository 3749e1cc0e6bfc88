/**
 * The upload middleware in the shapes Express and Fastify call them, on node:http: an Express-like
 * chain `(req, res, next)` and a Fastify-like route running a preHandler with `request`/`reply`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createScanner, scannerFromEngine, expressUploadGuard, fastifyUploadGuard, vigilFastifyPlugin,
  type ExpressLikeRequest, type ExpressMiddleware, type FastifyLikeReply, type FastifyLikeRequest, type FastifyPreHandler, type Scanner,
} from '../index.js';

process.env['VIGIL_HOME'] = mkdtempSync(join(tmpdir(), 'vigil-mw-home-'));

const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*');
const CLEAN = Buffer.from('a holiday photo, honestly, just some ordinary bytes\n'.repeat(10));
const BOUNDARY = 'mw-boundary-9f8e';

function formData(parts: { name: string; filename?: string; data: Buffer | string }[]): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    out.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}\r\n\r\n`));
    out.push(Buffer.from(p.data), Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(out);
}

function testDatabase(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-mw-db-'));
  writeFileSync(join(dir, 't.ndb'), `Test.Eicar.Body:0:*:${Buffer.from('EICAR-STANDARD-ANTIVIRUS-TEST-FILE').toString('hex')}\n`);
  return dir;
}

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port })));
}

function post(port: number, body: Buffer, contentType = `multipart/form-data; boundary=${BOUNDARY}`): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', headers: { 'content-type': contentType } }, (res) => {
      const got: Buffer[] = [];
      res.on('data', (c: Buffer) => got.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(got).toString() || '{}') as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** An Express-like app: middleware run in order with `next`, then the route's handler. */
async function expressApp(chain: ExpressMiddleware[]): Promise<{ server: Server; port: number }> {
  return listen((req, res) => {
    const r = req as ExpressLikeRequest;
    let i = 0;
    const next = (err?: unknown): void => {
      if (err) {
        res.statusCode = 500;
        res.end(JSON.stringify({ error: String(err) }));
        return;
      }
      const mw = chain[i++];
      if (mw) mw(r, res, next);
      else {
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ stored: true, verdict: r.vigil?.verdict, parts: r.vigil?.parts.length, bodyBytes: Buffer.isBuffer(r.body) ? r.body.length : null }));
      }
    };
    next();
  });
}

/** A Fastify-like route: `request`/`reply` objects, the preHandler, then the handler unless the reply was sent. */
async function fastifyApp(preHandler: FastifyPreHandler, parseBody?: (raw: IncomingMessage) => Promise<unknown>): Promise<{ server: Server; port: number }> {
  return listen((raw, res) => {
    void (async () => {
      const request: FastifyLikeRequest = { raw, headers: raw.headers, ...(parseBody ? { body: await parseBody(raw) } : {}) };
      let sent = false;
      const reply: FastifyLikeReply = {
        code(s) { res.statusCode = s; return reply; },
        header(n, v) { res.setHeader(n, v); return reply; },
        send(payload) { sent = true; res.end(typeof payload === 'string' ? payload : JSON.stringify(payload)); return reply; },
      };
      await preHandler(request, reply);
      if (!sent) reply.code(200).send({ stored: true, verdict: request.vigil?.verdict });
    })();
  });
}

async function rawBody(req: IncomingMessage): Promise<Buffer> {
  const got: Buffer[] = [];
  for await (const c of req) got.push(c as Buffer);
  return Buffer.concat(got);
}

let shared: Scanner | undefined;
const scanner = async (): Promise<Scanner> => (shared ??= await createScanner({ databases: [testDatabase()], cache: false, limits: { maxFileSize: 4096 } }));

test('Express: clean uploads pass, EICAR and an over-limit upload get 422 with the reason', async (t) => {
  const app = await expressApp([expressUploadGuard(await scanner())]);
  t.after(() => app.server.close());
  const ok = await post(app.port, formData([{ name: 'title', data: 'my file' }, { name: 'file', filename: 'photo.jpg', data: CLEAN }]));
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.json, { stored: true, verdict: 'clean', parts: 2, bodyBytes: null });

  const bad = await post(app.port, formData([{ name: 'title', data: 'my file' }, { name: 'file', filename: 'eicar.com', data: EICAR }]));
  assert.equal(bad.status, 422);
  assert.equal(bad.json['verdict'], 'infected');
  assert.equal(bad.json['error'], 'upload infected');
  assert.equal((bad.json['detections'] as { name: string }[])[0]!.name, 'Test.Eicar.Body.UNOFFICIAL');
  assert.deepEqual((bad.json['parts'] as { filename: string | null; verdict: string }[]).map((p) => [p.filename, p.verdict]), [[null, 'clean'], ['eicar.com', 'infected']]);

  const big = await post(app.port, formData([{ name: 'file', filename: 'big.iso', data: Buffer.alloc(10_000, 0x42) }]));
  assert.equal(big.status, 422);
  assert.deepEqual([big.json['verdict'], big.json['reason'], big.json['error']], ['not-scanned', 'MaxFileSize', 'upload could not be scanned']);

  // A raw (non-multipart) body: scanned, and handed on as req.body when clean.
  const raw = await post(app.port, CLEAN, 'application/octet-stream');
  assert.deepEqual(raw.json, { stored: true, verdict: 'clean', parts: 1, bodyBytes: CLEAN.length });
  assert.equal((await post(app.port, EICAR, 'application/octet-stream')).status, 422);
});

test('Express after a multer-like parser: req.file and req.files are scanned', async (t) => {
  const multerLike: ExpressMiddleware = (req, _res, next) => {
    void rawBody(req).then((b) => {
      const kind = req.headers['x-kind'];
      if (kind === 'single') req.file = { fieldname: 'file', originalname: 'upload.bin', buffer: b, size: b.length };
      else {
        const dir = mkdtempSync(join(tmpdir(), 'vigil-mw-disk-'));
        writeFileSync(join(dir, 'f'), b);
        req.files = { docs: [{ fieldname: 'docs', originalname: 'on-disk.bin', path: join(dir, 'f') }] };
      }
      next();
    });
  };
  const app = await expressApp([multerLike, expressUploadGuard(await scanner())]);
  t.after(() => app.server.close());
  const send = (body: Buffer, kind: string) => new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: app.port, method: 'POST', path: '/', headers: { 'x-kind': kind } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(await send(EICAR, 'single'), 422);
  assert.equal(await send(CLEAN, 'single'), 200);
  assert.equal(await send(EICAR, 'disk'), 422);
  assert.equal(await send(CLEAN, 'disk'), 200);
  assert.equal(await send(Buffer.alloc(5000, 1), 'disk'), 422);
});

test('Fastify: the preHandler passes clean uploads and rejects EICAR and an over-limit upload with 422', async (t) => {
  const s = await scanner();
  // Raw stream (no content-type parser consumed it).
  const app = await fastifyApp(fastifyUploadGuard(s));
  t.after(() => app.server.close());
  assert.deepEqual(await post(app.port, formData([{ name: 'file', filename: 'ok.txt', data: CLEAN }])), { status: 200, json: { stored: true, verdict: 'clean' } });
  const bad = await post(app.port, formData([{ name: 'file', filename: 'eicar.com', data: EICAR }]));
  assert.equal(bad.status, 422);
  assert.equal(bad.json['verdict'], 'infected');
  const big = await post(app.port, formData([{ name: 'file', filename: 'big.bin', data: Buffer.alloc(10_000, 0x43) }]));
  assert.deepEqual([big.status, big.json['reason']], [422, 'MaxFileSize']);

  // A body a content-type parser made into a Buffer, and fields of Buffers; registered through the plugin.
  let hook: FastifyPreHandler | undefined;
  vigilFastifyPlugin({ addHook: (_name, h) => { hook = h; } }, { scanner: s }, () => undefined);
  assert.ok(hook);
  assert.equal((vigilFastifyPlugin as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')], true);
  const parsed = await fastifyApp(hook, rawBody);
  t.after(() => parsed.server.close());
  assert.equal((await post(parsed.port, EICAR, 'application/octet-stream')).status, 422);
  assert.equal((await post(parsed.port, CLEAN, 'application/octet-stream')).status, 200);
  const fields = await fastifyApp(hook, async (raw) => ({ upload: { filename: 'x', data: await rawBody(raw) } }));
  t.after(() => fields.server.close());
  assert.equal((await post(fields.port, EICAR, 'application/octet-stream')).status, 422);
  assert.equal((await post(fields.port, CLEAN, 'application/octet-stream')).status, 200);
});

test('an engine error rejects the upload (422, not-scanned), never lets it through', async (t) => {
  const failing = scannerFromEngine({
    engine: { knownSignatures: 1, engineVersion: 'vigil-test', scan: () => { throw new Error('engine failure'); } },
    info: { signatures: 1, files: [], loadedAt: new Date(0).toISOString() },
  });
  const seen: string[] = [];
  const ex = await expressApp([expressUploadGuard(failing, { onResult: (r) => seen.push(r.verdict) })]);
  t.after(() => ex.server.close());
  const r = await post(ex.port, formData([{ name: 'file', filename: 'a.txt', data: CLEAN }]));
  assert.deepEqual([r.status, r.json['verdict'], r.json['reason']], [422, 'not-scanned', 'error: engine failure']);
  assert.deepEqual(seen, ['not-scanned']);
  const fa = await fastifyApp(fastifyUploadGuard(failing));
  t.after(() => fa.server.close());
  const f = await post(fa.port, CLEAN, 'application/octet-stream');
  assert.deepEqual([f.status, f.json['reason']], [422, 'error: engine failure']);
  // A malformed multipart body cannot be scanned either.
  const bad = await post(ex.port, Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="f"\r\n\r\nno end`));
  assert.equal(bad.status, 422);
});
