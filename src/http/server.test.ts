import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScanner, scannerFromEngine, startHttpServer, isLoopback, parseHostPort } from '../index.js';
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

process.env['VIGIL_HOME'] = mkdtempSync(join(tmpdir(), 'vigil-http-home-'));

const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*');

/** A database written here: EICAR as a body signature and as an MD5 hash signature. */
function testDatabase(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-http-db-'));
  writeFileSync(join(dir, 't.ndb'), `Test.Eicar.Body:0:*:${Buffer.from('EICAR-STANDARD-ANTIVIRUS-TEST-FILE').toString('hex')}\n`);
  writeFileSync(join(dir, 't.hdb'), `${createHash('md5').update(EICAR).digest('hex')}:${EICAR.length}:Test.Eicar.Hash\n`);
  return dir;
}

function formData(boundary: string, parts: { name: string; filename?: string; type?: string; data: Buffer | string }[]): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    out.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`));
    out.push(Buffer.from(p.data), Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; text: string; json: () => Record<string, unknown> }

/** One request; the body is written in `chunks` (several writes, chunked encoding when no length is given). */
function call(port: number, method: string, path: string, opts: { headers?: Record<string, string>; chunks?: Buffer[]; host?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: opts.host ?? '127.0.0.1', port, method, path, headers: opts.headers ?? {} }, (res) => {
      const got: Buffer[] = [];
      res.on('data', (c: Buffer) => got.push(c));
      res.on('end', () => {
        const text = Buffer.concat(got).toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> });
      });
    });
    req.on('error', reject);
    for (const c of opts.chunks ?? []) req.write(c);
    req.end();
  });
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : NaN;
}

test('POST /v1/scan: raw EICAR is infected with evidence, clean is clean; health, version, metrics', async (t) => {
  const scanner = await createScanner({ databases: [testDatabase()], cache: false });
  const srv = await startHttpServer({ host: '127.0.0.1', port: 0, service: scanner.service(), versionDetails: () => ({ ...scanner.version() }) });
  t.after(() => srv.close());
  const inf = await call(srv.port, 'POST', '/v1/scan', { headers: { 'content-type': 'application/octet-stream' }, chunks: [EICAR.subarray(0, 10), EICAR.subarray(10)] });
  assert.equal(inf.status, 200);
  const body = inf.json();
  assert.equal(body['verdict'], 'infected');
  const det = (body['detections'] as { name: string; db: string; line: number; layer: string[] }[])[0]!;
  assert.match(det.name, /^Test\.Eicar\.(Hash|Body)\.UNOFFICIAL$/);
  assert.equal(det.line, 1);
  assert.ok(det.db.length > 0);
  assert.equal(body['bytes'], EICAR.length);
  assert.equal(body['version'], 'vigil 0.1.0');
  const all = (await call(srv.port, 'POST', '/v1/scan?allmatch=1', { chunks: [EICAR] })).json();
  assert.deepEqual((all['detections'] as { name: string }[]).map((d) => d.name).sort(), ['Test.Eicar.Body.UNOFFICIAL', 'Test.Eicar.Hash.UNOFFICIAL']);

  const clean = await call(srv.port, 'POST', '/v1/scan', { chunks: [Buffer.from('a perfectly ordinary upload, nothing to report')] });
  assert.equal(clean.status, 200);
  assert.equal(clean.json()['verdict'], 'clean');
  assert.deepEqual(clean.json()['detections'], []);

  // The packaged db/ through HTTP too.
  const pkg = await createScanner();
  const srv2 = await startHttpServer({ host: '127.0.0.1', port: 0, service: pkg.service() });
  t.after(() => srv2.close());
  const p = await call(srv2.port, 'POST', '/v1/scan', { chunks: [EICAR] });
  assert.equal(p.json()['verdict'], 'infected');
  assert.match((p.json()['detections'] as { name: string }[])[0]!.name, /^Vigil\.Test\.EICAR-/);

  assert.deepEqual((await call(srv.port, 'GET', '/v1/health')).json(), { status: 'ok' });
  const v = (await call(srv.port, 'GET', '/v1/version')).json();
  assert.equal(v['version'], 'vigil 0.1.0');
  assert.equal(v['engine'], 'vigil-0.1.0');
  assert.equal((v['database'] as { signatures: number }).signatures, 2);
  assert.equal((await call(srv.port, 'GET', '/nowhere')).status, 404);
  assert.equal((await call(srv.port, 'GET', '/v1/scan')).status, 405);

  const m = await call(srv.port, 'GET', '/metrics');
  assert.equal(m.status, 200);
  assert.match(String(m.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  assert.equal(metric(m.text, 'vigil_scans_total{verdict="infected"}'), 2);
  assert.equal(metric(m.text, 'vigil_scans_total{verdict="clean"}'), 1);
  assert.equal(metric(m.text, 'vigil_detections_total'), 3);
  assert.equal(metric(m.text, 'vigil_scanned_bytes_total'), 2 * EICAR.length + 46);
  assert.equal(metric(m.text, 'vigil_scan_duration_seconds_count'), 3);
  assert.equal(metric(m.text, 'vigil_scan_duration_seconds_bucket{le="+Inf"}'), 3);
  assert.equal(metric(m.text, 'vigil_http_requests_total{route="/v1/scan",status="200"}'), 3);
});

test('multipart: every part scanned, the worst verdict wins, parts listed', async (t) => {
  const scanner = await createScanner({ databases: [testDatabase()], cache: false, limits: { maxFileSize: 4096 } });
  const srv = await startHttpServer({ host: '127.0.0.1', port: 0, service: scanner.service() });
  t.after(() => srv.close());
  const b = 'vigil-test-boundary-42';
  const body = formData(b, [
    { name: 'note', data: 'just a form field' },
    { name: 'doc', filename: 'report.txt', type: 'text/plain', data: 'quarterly report, all fine\n'.repeat(20) },
    { name: 'attachment', filename: 'eicar.com', type: 'application/octet-stream', data: EICAR },
    { name: 'big', filename: 'big.bin', data: Buffer.alloc(5000, 0x41) },
  ]);
  // Sent in 7-byte writes: boundaries fall across chunks.
  const chunks = Array.from({ length: Math.ceil(body.length / 7) }, (_, i) => body.subarray(i * 7, i * 7 + 7));
  const r = await call(srv.port, 'POST', '/v1/scan', { headers: { 'content-type': `multipart/form-data; boundary=${b}` }, chunks });
  assert.equal(r.status, 200);
  const j = r.json();
  assert.equal(j['verdict'], 'infected');
  const parts = j['parts'] as { name: string; filename: string | null; verdict: string; reason?: string; size: number }[];
  assert.deepEqual(parts.map((p) => [p.name, p.filename, p.verdict, p.reason ?? null]), [
    ['note', null, 'clean', null], ['doc', 'report.txt', 'clean', null], ['attachment', 'eicar.com', 'infected', null], ['big', 'big.bin', 'not-scanned', 'MaxFileSize'],
  ]);
  assert.equal(parts[2]!.size, EICAR.length);
  assert.equal((j['detections'] as { filename: string }[])[0]!.filename, 'eicar.com');
  // Without the infected part, the part over the limit makes the whole not-scanned.
  const noEicar = formData(b, [{ name: 'doc', filename: 'a.txt', data: 'fine text file content' }, { name: 'big', filename: 'big.bin', data: Buffer.alloc(5000, 0x41) }]);
  const r2 = (await call(srv.port, 'POST', '/v1/scan', { headers: { 'content-type': `multipart/form-data; boundary=${b}` }, chunks: [noEicar] })).json();
  assert.deepEqual([r2['verdict'], r2['reason']], ['not-scanned', 'MaxFileSize']);
  // A raw body over MaxFileSize (but under the request limit): not-scanned.
  const r3 = (await call(srv.port, 'POST', '/v1/scan', { chunks: [Buffer.alloc(5000, 0x41)] })).json();
  assert.deepEqual([r3['verdict'], r3['reason']], ['not-scanned', 'MaxFileSize']);
  // Malformed multipart: 400.
  const bad = await call(srv.port, 'POST', '/v1/scan', { headers: { 'content-type': `multipart/form-data; boundary=${b}` }, chunks: [noEicar.subarray(0, 60)] });
  assert.equal(bad.status, 400);
  const m = (await call(srv.port, 'GET', '/metrics')).text;
  assert.equal(metric(m, 'vigil_scans_total{verdict="not-scanned"}'), 3);
  assert.equal(metric(m, 'vigil_errors_total{kind="bad_request"}'), 1);
});

test('bodies over the size limit get 413, declared or streamed', async (t) => {
  const scanner = await createScanner({ databases: [testDatabase()], cache: false });
  const srv = await startHttpServer({ host: '127.0.0.1', port: 0, service: scanner.service(), maxBodySize: 1024 });
  t.after(() => srv.close());
  const declared = await call(srv.port, 'POST', '/v1/scan', { headers: { 'content-length': '2048' }, chunks: [Buffer.alloc(2048, 0x61)] });
  assert.equal(declared.status, 413);
  assert.equal(declared.json()['maxBodySize'], 1024);
  const streamed = await call(srv.port, 'POST', '/v1/scan', { chunks: Array.from({ length: 8 }, () => Buffer.alloc(300, 0x61)) });
  assert.equal(streamed.status, 413);
  const atLimit = await call(srv.port, 'POST', '/v1/scan', { chunks: [Buffer.alloc(1024, 0x61)] });
  assert.equal(atLimit.status, 200);
  assert.equal(atLimit.json()['verdict'], 'clean');
  const m = (await call(srv.port, 'GET', '/metrics')).text;
  assert.equal(metric(m, 'vigil_errors_total{kind="too_large"}'), 2);
});

test('a bearer token is required off loopback: 401 without it or with a wrong one', async (t) => {
  const scanner = await createScanner({ databases: [testDatabase()], cache: false });
  await assert.rejects(startHttpServer({ host: '0.0.0.0', port: 0, service: scanner.service() }), /needs a bearer token/);
  const srv = await startHttpServer({ host: '0.0.0.0', port: 0, service: scanner.service(), token: 's3cret-token' });
  t.after(() => srv.close());
  const none = await call(srv.port, 'POST', '/v1/scan', { chunks: [EICAR] });
  assert.equal(none.status, 401);
  assert.equal(none.headers['www-authenticate'], 'Bearer realm="vigil"');
  assert.equal((await call(srv.port, 'POST', '/v1/scan', { headers: { authorization: 'Bearer wrong' }, chunks: [EICAR] })).status, 401);
  assert.equal((await call(srv.port, 'GET', '/metrics', { headers: { authorization: 'Basic czNjcmV0LXRva2Vu' } })).status, 401);
  const ok = await call(srv.port, 'POST', '/v1/scan', { headers: { authorization: 'Bearer s3cret-token' }, chunks: [EICAR] });
  assert.equal(ok.status, 200);
  assert.equal(ok.json()['verdict'], 'infected');
  const m = (await call(srv.port, 'GET', '/metrics', { headers: { authorization: 'Bearer s3cret-token' } })).text;
  assert.equal(metric(m, 'vigil_errors_total{kind="unauthorized"}'), 3);
  assert.equal(isLoopback('127.0.0.1'), true);
  assert.equal(isLoopback('::1'), true);
  assert.equal(isLoopback('0.0.0.0'), false);
  assert.equal(isLoopback('192.168.1.10'), false);
  assert.deepEqual(parseHostPort('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseHostPort('[::1]:3310'), { host: '::1', port: 3310 });
  assert.equal(parseHostPort('nohost'), undefined);
});

test('an engine error is not-scanned with a 500, never clean', async (t) => {
  const failing = scannerFromEngine({
    engine: { knownSignatures: 1, engineVersion: 'vigil-test', scan: () => { throw new Error('out of cheese'); } },
    info: { signatures: 1, files: [], loadedAt: new Date(0).toISOString() },
  });
  const srv = await startHttpServer({ host: '127.0.0.1', port: 0, service: failing.service() });
  t.after(() => srv.close());
  const r = await call(srv.port, 'POST', '/v1/scan', { chunks: [Buffer.from('bytes the engine cannot scan')] });
  assert.equal(r.status, 200); // the scanner turned the throw into a verdict
  assert.deepEqual([r.json()['verdict'], r.json()['reason']], ['not-scanned', 'error: out of cheese']);
  // A service that throws outright.
  const throwing = await startHttpServer({
    host: '127.0.0.1', port: 0,
    service: { version: () => 'x', scanBuffer: () => Promise.reject(new Error('worker died')), scanPath: () => Promise.reject(new Error('no')), reload: () => Promise.resolve() },
  });
  t.after(() => throwing.close());
  const r2 = await call(throwing.port, 'POST', '/v1/scan', { chunks: [Buffer.from('anything at all')] });
  assert.equal(r2.status, 500);
  assert.deepEqual([r2.json()['verdict'], r2.json()['reason']], ['not-scanned', 'error: worker died']);
  const m = (await call(throwing.port, 'GET', '/metrics')).text;
  assert.equal(metric(m, 'vigil_errors_total{kind="engine"}'), 1);
  assert.equal(metric(m, 'vigil_scans_total{verdict="not-scanned"}'), 1);
});
