/**
 * The upload guards in real Express and Fastify apps (dev dependencies): clean uploads pass,
 * EICAR and an upload over the scanner's MaxFileSize are refused with 422 and the reason, raw
 * bodies and multipart alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import Fastify from 'fastify';
import { createScanner, type Scanner } from './scanner.js';
import { expressUploadGuard, fastifyUploadGuard } from './middleware.js';

const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');

function multipart(parts: { name: string; filename: string; data: Buffer }[]): { body: Buffer; type: string } {
  const boundary = 'vigil-boundary-42';
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"; filename="${p.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`), p.data, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

async function withScanner(run: (scanner: Scanner) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-frameworks-'));
  const db = join(dir, 'eicar.ndb');
  writeFileSync(db, `Eicar.Test:0:*:${EICAR.toString('hex')}\n`);
  const scanner = await createScanner({ databases: [db], limits: { maxFileSize: 4096 }, cache: false });
  try {
    await run(scanner);
  } finally {
    await scanner.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('an Express app with expressUploadGuard: clean passes, EICAR and an over-limit upload get 422 with the reason', async () => {
  await withScanner(async (scanner) => {
    const app = express();
    app.post('/upload', expressUploadGuard(scanner, { maxBodySize: 1 << 20 }), (_req, res) => { res.json({ stored: true }); });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/upload`;
    try {
      const clean = await fetch(url, { method: 'POST', body: 'a harmless upload', headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(clean.status, 200);
      assert.deepEqual(await clean.json(), { stored: true });
      const infected = await fetch(url, { method: 'POST', body: EICAR, headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(infected.status, 422);
      const j = await infected.json() as { verdict: string; detections: { name: string }[] };
      assert.equal(j.verdict, 'infected');
      assert.equal(j.detections[0]?.name, 'Eicar.Test.UNOFFICIAL');
      const form = multipart([{ name: 'a', filename: 'ok.txt', data: Buffer.from('fine') }, { name: 'b', filename: 'eicar.com', data: EICAR }]);
      const mp = await fetch(url, { method: 'POST', body: form.body, headers: { 'Content-Type': form.type } });
      assert.equal(mp.status, 422);
      assert.equal((await mp.json() as { verdict: string }).verdict, 'infected');
      const big = await fetch(url, { method: 'POST', body: Buffer.alloc(8192, 0x41), headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(big.status, 422);
      const b = await big.json() as { verdict: string; reason?: string };
      assert.equal(b.verdict, 'not-scanned');
      assert.match(b.reason ?? '', /MaxFileSize/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

test('a Fastify app with fastifyUploadGuard: clean passes, EICAR and an over-limit upload get 422 with the reason', async () => {
  await withScanner(async (scanner) => {
    const app = Fastify();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body); });
    app.post('/upload', { preHandler: fastifyUploadGuard(scanner) }, async () => ({ stored: true }));
    try {
      const clean = await app.inject({ method: 'POST', url: '/upload', payload: Buffer.from('a harmless upload'), headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(clean.statusCode, 200);
      assert.deepEqual(clean.json(), { stored: true });
      const infected = await app.inject({ method: 'POST', url: '/upload', payload: EICAR, headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(infected.statusCode, 422);
      assert.equal((infected.json() as { verdict: string }).verdict, 'infected');
      const form = multipart([{ name: 'b', filename: 'eicar.com', data: EICAR }]);
      const mp = await app.inject({ method: 'POST', url: '/upload', payload: form.body, headers: { 'content-type': form.type } });
      assert.equal(mp.statusCode, 422);
      const big = await app.inject({ method: 'POST', url: '/upload', payload: Buffer.alloc(8192, 0x41), headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(big.statusCode, 422);
      const b = big.json() as { verdict: string; reason?: string };
      assert.equal(b.verdict, 'not-scanned');
      assert.match(b.reason ?? '', /MaxFileSize/);
    } finally {
      await app.close();
    }
  });
});
