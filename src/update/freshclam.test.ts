/**
 * Tests for the freshclam-style ClamAV database updater.
 *
 * In: ClamAV's signed unit-test databases in ../shared/data/clamav (test-1..6.cvd,
 * test-2..6.cdiff; skipped with a message when absent), served under the database name `test` by
 * a loopback HTTP mirror started here; the real `freshclam` when installed (differential tests).
 * Out: pass/fail. Why: an update must install exactly what ClamAV signed, refuse anything else
 * without touching the local database, and behave as freshclam does at the same mirror.
 */

import { clamavDataSkip, readClamavData } from './testkit.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { loadContainer, parseCvdHeader } from '../signatures/clamav/cvd.js';
import { loadSignatures } from '../signatures/clamav/loader.js';
import { unpackContainer } from './cdiff.js';
import { buildCld, cldMemberOrder, FC, updateClamav, type ClamavUpdateOptions } from './freshclam.js';

const skip = clamavDataSkip;
const read = readClamavData;
const cvd = (n: number) => read(`test-${n}.cvd`);
const cdiff = (n: number) => read(`test-${n}.cdiff`);
const cdiffs = (from: number, to: number): Record<string, Buffer> => {
  const out: Record<string, Buffer> = {};
  for (let n = from; n <= to; n++) out[`test-${n}.cdiff`] = cdiff(n);
  return out;
};
const flip = (b: Buffer, at = Math.floor(b.length / 2)): Buffer => {
  const c = Buffer.from(b);
  c[at]! ^= 0x01;
  return c;
};

// ---------------------------------------------------------------------------------------------
// Loopback mirror

interface MirrorSpec {
  /** Served for a plain GET, by path without the leading '/'. */
  files: Record<string, Buffer>;
  /** Served (sliced) for a Range GET; falls back to `files`. */
  advertised?: Record<string, Buffer>;
  /** Answer 304 to any request carrying If-Modified-Since. */
  notModified?: boolean;
  /** path → absolute URL for a 302. */
  redirects?: Record<string, string>;
  /** Answer a Range GET with the whole file (200). */
  ignoreRange?: boolean;
  /** Never answer. */
  hang?: boolean;
  /** path → HTTP status to answer with (no body). */
  status?: Record<string, number>;
  /** path → HTTP status for a plain GET only (a Range GET is served). */
  statusWhole?: Record<string, number>;
}

interface Mirror {
  url: string;
  requests: { path: string; range: string | undefined; ims: string | undefined }[];
  close(): Promise<void>;
}

async function startMirror(spec: MirrorSpec): Promise<Mirror> {
  const requests: Mirror['requests'] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
    const range = req.headers.range;
    const ims = req.headers['if-modified-since'];
    requests.push({ path, range, ims });
    if (spec.hang) {
      hanging.push(res);
      return;
    }
    const forced = spec.status?.[path] ?? (range ? undefined : spec.statusWhole?.[path]);
    if (forced) {
      res.writeHead(forced);
      res.end();
      return;
    }
    const redirect = spec.redirects?.[path];
    if (redirect) {
      res.writeHead(302, { Location: redirect });
      res.end();
      return;
    }
    if (spec.notModified && ims) {
      res.writeHead(304);
      res.end();
      return;
    }
    const body = (range ? spec.advertised?.[path] : undefined) ?? spec.files[path];
    if (!body) {
      res.writeHead(404);
      res.end(`${path} Not Found`);
      return;
    }
    const m = range && !spec.ignoreRange ? /^bytes=(\d+)-(\d+)$/.exec(range) : null;
    if (m) {
      const part = body.subarray(Number(m[1]), Number(m[2]) + 1);
      res.writeHead(206, { 'Content-Type': 'application/octet-stream', 'Content-Length': part.length });
      res.end(part);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A loopback URL on which nothing listens. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

// ---------------------------------------------------------------------------------------------
// Helpers

function tempDir(t: { after(fn: () => void): void }, label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `vigil-freshclam-${label}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function run(opts: Partial<ClamavUpdateOptions> & { mirrors: string[]; dbDir: string }): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await updateClamav(
    { names: ['test'], maxAttempts: 1, retryDelayMs: 0, timeoutMs: 10_000, ...opts },
    { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } },
  );
  return { code, out, err };
}

/** Directory listing without freshclam's bookkeeping file. */
const listDb = (dir: string): string[] => readdirSync(dir).filter((n) => n !== 'freshclam.dat').sort();

/** Unpacked members of a container (COPYING and the .info included). */
function members(bytes: Buffer, name: string): Map<string, Buffer> {
  const r = unpackContainer(bytes, name);
  if (!r.ok) assert.fail(`${name}: ${r.message}`);
  return r.files;
}

function assertSameFiles(actual: Map<string, Buffer>, expected: Map<string, Buffer>, what: string): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: member names`);
  for (const [name, data] of expected) assert.ok(actual.get(name)?.equals(data), `${what}: ${name} differs`);
}

/** A tar body split into its members' blocks (header + data + padding), by name; and the order. */
function tarBlocks(cld: Buffer): { blocks: Map<string, Buffer>; order: string[]; end: number } {
  const blocks = new Map<string, Buffer>();
  const order: string[] = [];
  let p = 512;
  while (p + 512 <= cld.length) {
    const h = cld.subarray(p, p + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/s, ''), 8);
    const len = 512 + Math.ceil(size / 512) * 512;
    blocks.set(name, cld.subarray(p, p + len));
    order.push(name);
    p += len;
  }
  return { blocks, order, end: p };
}

// ---------------------------------------------------------------------------------------------
// Without data

test('cldMemberOrder: COPYING, NAME.info, NAME.cfg, then sigtool order, then the rest by name', () => {
  const order = cldMemberOrder('daily', ['daily.ldb', 'x.cbc', 'daily.hdb', 'COPYING', 'daily.cfg', 'daily.info', 'daily.ign2', 'a.cbc', 'daily.imp', 'daily.ndb']);
  assert.deepEqual(order, ['COPYING', 'daily.info', 'daily.cfg', 'daily.ign2', 'daily.hdb', 'daily.ndb', 'daily.ldb', 'daily.imp', 'a.cbc', 'x.cbc']);
});

test('buildCld refuses a database without COPYING or with an .info first line longer than the header', () => {
  const info = Buffer.from('ClamAV-VDB:x:1:1:1:X:X:b:1\nDSIG:a\n');
  assert.match(String(buildCld('t', new Map([['t.info', info]]))), /COPYING/);
  assert.match(String(buildCld('t', new Map([['COPYING', Buffer.from('c')]]))), /t\.info is missing/);
  const long = Buffer.from('ClamAV-VDB:' + 'x'.repeat(600) + '\n');
  assert.match(String(buildCld('t', new Map([['COPYING', Buffer.from('c')], ['t.info', long]]))), /first line/);
});

test('invalid options: a non-http mirror, a bad database name, no mirror → exit 16 with the reason', async (t) => {
  const db = tempDir(t, 'args');
  let r = await run({ mirrors: ['ftp://127.0.0.1/x'], dbDir: db });
  assert.equal(r.code, FC.EARG);
  assert.match(r.err, /only http: and https:/);
  r = await run({ mirrors: ['http://127.0.0.1:1'], dbDir: db, names: ['../etc'] });
  assert.equal(r.code, FC.EARG);
  assert.match(r.err, /Invalid database name "\.\.\/etc"/);
  r = await run({ mirrors: [], dbDir: db });
  assert.equal(r.code, FC.EARG);
  assert.deepEqual(readdirSync(db), []);
});

// ---------------------------------------------------------------------------------------------
// With ClamAV's test databases

test('fresh install: the whole test.cvd, byte for byte, loadable as official', { skip }, async (t) => {
  const db = tempDir(t, 'fresh');
  const m = await startMirror({ files: { 'test.cvd': cvd(6) } });
  t.after(() => m.close());
  const r = await run({ mirrors: [m.url], dbDir: db });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(listDb(db), ['test.cvd']);
  assert.ok(readFileSync(join(db, 'test.cvd')).equals(cvd(6)));
  assert.match(r.out, /^Trying to retrieve CVD header from http:\/\/127\.0\.0\.1:\d+\/test\.cvd\nOK\ntest database available for download \(remote version: 6\)\n/m);
  assert.match(r.out, /Database test passed\.\ntest\.cvd updated \(version: 6, sigs: 14, f-level: 81, builder: micasnyd\)\n$/);
  assert.deepEqual(m.requests.map((q) => [q.path, q.range, q.ims]), [['test.cvd', 'bytes=0-511', undefined], ['test.cvd', undefined, undefined]]);
  const set = loadSignatures({ paths: [db] });
  assert.ok(set.ok);
  assert.ok(set.files.length > 0 && set.files.every((f) => f.official), 'every member loads as official');
});

test('local version 1, remote 6, cdiffs 2..6 → test.cld equal to test-6.cvd, official; test.cvd removed', { skip }, async (t) => {
  const db = tempDir(t, 'cdiff');
  writeFileSync(join(db, 'test.cvd'), cvd(1));
  const m = await startMirror({ files: { 'test.cvd': cvd(6), ...cdiffs(2, 6) } });
  t.after(() => m.close());
  const r = await run({ mirrors: [m.url], dbDir: db });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(listDb(db), ['test.cld']);
  assert.match(r.out, /test database available for update \(local version: 1, remote version: 6\)/);
  assert.match(r.out, /test\.cld updated \(version: 6, sigs: 14, f-level: 81, builder: micasnyd\)\n$/);
  const cld = readFileSync(join(db, 'test.cld'));
  const load = loadContainer(cld, 'test.cld');
  assert.deepEqual(load.diagnostics, []);
  assert.ok(load.official);
  assert.equal(load.header?.version, 6);
  assertSameFiles(members(cld, 'test.cld'), members(cvd(6), 'test-6.cvd'), 'test.cld vs test-6.cvd');
  // Header: the first line of test.info, space-padded; body: freshclam's tar, in sigtool's order.
  const info = members(cld, 'test.cld').get('test.info')!;
  assert.equal(cld.subarray(0, 512).toString('latin1').trimEnd(), info.subarray(0, info.indexOf(0x0a)).toString('latin1'));
  const { order, end } = tarBlocks(cld);
  assert.deepEqual(order.slice(0, 3), ['COPYING', 'test.info', 'test.cfg']);
  assert.deepEqual(order, cldMemberOrder('test', order));
  assert.equal(end, cld.length, 'no end-of-archive blocks, as freshclam writes');
  // Only the header and the five cdiffs were fetched, never the whole cvd.
  assert.deepEqual(m.requests.map((q) => q.path), ['test.cvd', 'test-2.cdiff', 'test-3.cdiff', 'test-4.cdiff', 'test-5.cdiff', 'test-6.cdiff']);
  assert.equal(m.requests[0]!.ims, new Date(parseCvdHeader(cvd(1)).header!.stime! * 1000).toUTCString(), 'If-Modified-Since is the local build time');
  const set = loadSignatures({ paths: [db] });
  assert.ok(set.ok && set.files.every((f) => f.official));
  // A second run is up to date (from the .cld) and applies nothing.
  const again = await run({ mirrors: [m.url], dbDir: db });
  assert.equal(again.code, 0);
  assert.match(again.out, /test\.cld database is up-to-date \(version: 6, sigs: 14, f-level: 81, builder: micasnyd\)/);
  assert.ok(readFileSync(join(db, 'test.cld')).equals(cld));
});

test('a cdiff with one flipped byte is refused and the whole test.cvd is downloaded instead', { skip }, async (t) => {
  const db = tempDir(t, 'flip');
  writeFileSync(join(db, 'test.cvd'), cvd(1));
  const m = await startMirror({ files: { 'test.cvd': cvd(6), ...cdiffs(2, 6), 'test-4.cdiff': flip(cdiff(4)) } });
  t.after(() => m.close());
  const r = await run({ mirrors: [m.url], dbDir: db });
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /ERROR: Can't apply test-4\.cdiff from http:\/\/127\.0\.0\.1:\d+\/test-4\.cdiff: .*signature/);
  assert.match(r.err, /WARNING: Incremental update failed, trying to download test\.cvd/);
  assert.deepEqual(listDb(db), ['test.cvd']);
  assert.ok(readFileSync(join(db, 'test.cvd')).equals(cvd(6)));
  assert.ok(!m.requests.some((q) => q.path === 'test-5.cdiff'), 'no cdiff after the refused one');
});

test('a tampered test.cvd is refused; the local database stays and no temporary file is left', { skip }, async (t) => {
  const db = tempDir(t, 'tamper');
  writeFileSync(join(db, 'test.cvd'), cvd(3));
  const bad = flip(cvd(6), 3000);
  const m = await startMirror({ files: { 'test.cvd': bad } });
  t.after(() => m.close());
  const r = await run({ mirrors: [m.url], dbDir: db });
  assert.equal(r.code, FC.EBADCVD);
  assert.match(r.err, /ERROR: Verification: test\.cvd from http:\/\/127\.0\.0\.1:\d+\/test\.cvd: .*MD5/);
  assert.match(r.err, /ERROR: Update failed for database: test/);
  assert.deepEqual(readdirSync(db), ['test.cvd']);
  assert.ok(readFileSync(join(db, 'test.cvd')).equals(cvd(3)));

  // A fresh install of the same tampered file installs nothing.
  const empty = tempDir(t, 'tamper-fresh');
  const r2 = await run({ mirrors: [m.url], dbDir: empty });
  assert.equal(r2.code, FC.EBADCVD);
  assert.deepEqual(readdirSync(empty), []);
});

test('remote older than local: no change, up-to-date line and a warning naming both versions', { skip }, async (t) => {
  const db = tempDir(t, 'older');
  writeFileSync(join(db, 'test.cvd'), cvd(6));
  const m = await startMirror({ files: { 'test.cvd': cvd(3), ...cdiffs(2, 3) } });
  t.after(() => m.close());
  const r = await run({ mirrors: [m.url], dbDir: db });
  assert.equal(r.code, 0);
  assert.match(r.out, /test\.cvd database is up-to-date \(version: 6, sigs: 14, f-level: 81, builder: micasnyd\)/);
  assert.match(r.err, /offers test version 3, older than the local test\.cvd \(version 6\)/);
  assert.ok(readFileSync(join(db, 'test.cvd')).equals(cvd(6)));
  assert.deepEqual(m.requests.map((q) => q.path), ['test.cvd'], 'only the header was fetched');
});

test('up to date: by version, and by a 304 answer to If-Modified-Since', { skip }, async (t) => {
  const db = tempDir(t, 'uptodate');
  writeFileSync(join(db, 'test.cvd'), cvd(6));
  const m = await startMirror({ files: { 'test.cvd': cvd(6) } });
  t.after(() => m.close());
  const r = await run({ mirrors: [m.url], dbDir: db });
  assert.equal(r.code, 0);
  assert.match(r.out, /test\.cvd database is up-to-date \(version: 6, sigs: 14, f-level: 81, builder: micasnyd\)\n$/);
  assert.equal(r.err, '');

  const m304 = await startMirror({ files: { 'test.cvd': cvd(6) }, notModified: true });
  t.after(() => m304.close());
  const r304 = await run({ mirrors: [m304.url], dbDir: db });
  assert.equal(r304.code, 0);
  assert.match(r304.out, /test\.cvd database is up-to-date \(version: 6/);
  assert.ok(!r304.out.includes('\nOK\n'), 'no header was read');
  assert.ok(readFileSync(join(db, 'test.cvd')).equals(cvd(6)));

  // 304 without a local database is an error, not "up to date".
  const empty = tempDir(t, 'uptodate-none');
  const m304all = await startMirror({ files: {}, notModified: true });
  t.after(() => m304all.close());
  // No If-Modified-Since is sent without a local database, so the mirror answers 404 here.
  const none = await run({ mirrors: [m304all.url], dbDir: empty });
  assert.equal(none.code, FC.EFAILEDGET);
  assert.equal(m304all.requests[0]!.ims, undefined);
});

test('mirror down: an error names it and the next mirror is used; all down → exit 11', { skip }, async (t) => {
  const db = tempDir(t, 'down');
  const dead = await deadUrl();
  const m = await startMirror({ files: { 'test.cvd': cvd(6) } });
  t.after(() => m.close());
  const r = await run({ mirrors: [dead, m.url], dbDir: db });
  assert.equal(r.code, 0, r.err);
  assert.ok(r.err.includes(`Download failed: ${dead}/test.cvd:`), r.err);
  assert.ok(r.err.includes(`ERROR: Failed to find test database using server ${dead}.`));
  assert.ok(r.out.includes(`Giving up on ${dead}...\nTrying to retrieve CVD header from ${m.url}/test.cvd`));
  assert.ok(readFileSync(join(db, 'test.cvd')).equals(cvd(6)));

  const db2 = tempDir(t, 'down-all');
  const r2 = await run({ mirrors: [dead], dbDir: db2 });
  assert.equal(r2.code, FC.EFAILEDGET);
  assert.match(r2.err, /ECONNREFUSED/);
  assert.match(r2.err, /ERROR: Update failed for database: test\nERROR: Database update process failed: HTTP GET failed\nERROR: Update failed\.\n$/);
  assert.deepEqual(readdirSync(db2), []);
});

test('partial update: cdiffs 4 and 5 but not 6 → test.cld version 5; one behind without its cdiff → kept', { skip }, async (t) => {
  const db = tempDir(t, 'partial');
  writeFileSync(join(db, 'test.cvd'), cvd(3));
  const m = await startMirror({ files: { 'test.cvd': cvd(6), ...cdiffs(4, 5) } });
  t.after(() => m.close());
  const r = await run({ mirrors: [m.url], dbDir: db });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Downloaded 2 patches for test, which is fewer than the 3 expected patches\.\nWe'll settle for this partial-update, at least for now\./);
  assert.match(r.out, /test\.cld updated \(version: 5,/);
  assertSameFiles(members(readFileSync(join(db, 'test.cld')), 'test.cld'), members(cvd(5), 'test-5.cvd'), 'partial test.cld');

  const r2 = await run({ mirrors: [m.url], dbDir: db });
  assert.equal(r2.code, 0);
  assert.match(r2.out, /The database server doesn't have the latest patch for the test database \(version 6\)/);
  assert.deepEqual(listDb(db), ['test.cld']);
  assert.equal(loadContainer(readFileSync(join(db, 'test.cld')), 'test.cld').header?.version, 5);
});

test('an empty cdiff means: download the whole test.cvd', { skip }, async (t) => {
  const db = tempDir(t, 'empty');
  writeFileSync(join(db, 'test.cvd'), cvd(1));
  const m = await startMirror({ files: { 'test.cvd': cvd(6), ...cdiffs(2, 6), 'test-3.cdiff': Buffer.alloc(0) } });
  t.after(() => m.close());
  const r = await run({ mirrors: [m.url], dbDir: db });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Empty script test-3\.cdiff, need to download entire database/);
  assert.ok(readFileSync(join(db, 'test.cvd')).equals(cvd(6)));
});

test('stricter than freshclam: a whole test.cvd older than the local database never replaces it', { skip }, async (t) => {
  const db = tempDir(t, 'notsync');
  writeFileSync(join(db, 'test.cvd'), cvd(5));
  // Advertises 6, its cdiff is broken, and the whole file served is version 4.
  const m = await startMirror({ files: { 'test.cvd': cvd(4), 'test-6.cdiff': flip(cdiff(6)) }, advertised: { 'test.cvd': cvd(6) } });
  t.after(() => m.close());
  const r = await run({ mirrors: [m.url], dbDir: db });
  assert.equal(r.code, 0);
  assert.match(r.err, /test\.cvd from http:\/\/127\.0\.0\.1:\d+ is version 4, not newer than the local test\.cvd \(version 5\); keeping the local database/);
  assert.ok(readFileSync(join(db, 'test.cvd')).equals(cvd(5)));
});

test('bounded downloads: a file over maxBytes, a mirror that never answers, a garbage header', { skip }, async (t) => {
  const db = tempDir(t, 'bounds');
  const m = await startMirror({ files: { 'test.cvd': cvd(6) } });
  t.after(() => m.close());
  const big = await run({ mirrors: [m.url], dbDir: db, maxBytes: 4096 });
  assert.equal(big.code, FC.EFAILEDGET);
  assert.match(big.err, /test\.cvd: 9952 bytes, more than the 4096-byte download limit/);
  assert.deepEqual(readdirSync(db), []);

  const hang = await startMirror({ files: {}, hang: true });
  t.after(() => hang.close());
  const slow = await run({ mirrors: [hang.url], dbDir: db, timeoutMs: 200 });
  assert.equal(slow.code, FC.EFAILEDGET);
  assert.match(slow.err, /test\.cvd: no data for 200 ms/);

  // A mirror that sends the headers and part of the body, then stalls: the idle timeout still ends it.
  const stall = createServer((_req, res) => { res.writeHead(200, { 'content-length': '9952' }); res.write(cvd(6).subarray(0, 100)); });
  await new Promise<void>((r) => stall.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { stall.closeAllConnections(); stall.close(() => r()); }));
  const t0 = Date.now();
  const stalled = await run({ mirrors: [`http://127.0.0.1:${(stall.address() as AddressInfo).port}`], dbDir: db, timeoutMs: 200 });
  assert.notEqual(stalled.code, 0);
  assert.match(stalled.err, /no data for 200 ms/);
  assert.ok(Date.now() - t0 < 20_000, `a stalled body held the update for ${Date.now() - t0} ms`);
  assert.deepEqual(readdirSync(db), []);

  const junk = await startMirror({ files: { 'test.cvd': Buffer.concat([Buffer.from('<html>'), Buffer.alloc(600, 0x41)]) } });
  t.after(() => junk.close());
  const bad = await run({ mirrors: [junk.url], dbDir: db });
  assert.equal(bad.code, FC.EFAILEDGET);
  assert.match(bad.err, /Malformed CVD header: test\.cvd: header does not start with 'ClamAV-VDB:'/);

  // A server ignoring Range: the header is read from the first 512 bytes and the rest cut off.
  const noRange = await startMirror({ files: { 'test.cvd': cvd(6) }, ignoreRange: true });
  t.after(() => noRange.close());
  const ok = await run({ mirrors: [noRange.url], dbDir: db });
  assert.equal(ok.code, 0, ok.err);
  assert.ok(readFileSync(join(db, 'test.cvd')).equals(cvd(6)));
});

test('redirects: followed within the mirror, refused to another origin', { skip }, async (t) => {
  const other = await startMirror({ files: { 'test.cvd': cvd(6) } });
  t.after(() => other.close());
  const m = await startMirror({ files: { 'db/test.cvd': cvd(6) }, redirects: { 'test.cvd': `${other.url}/test.cvd` } });
  t.after(() => m.close());
  const db = tempDir(t, 'redirect');
  const r = await run({ mirrors: [m.url], dbDir: db });
  assert.equal(r.code, FC.EFAILEDGET);
  assert.ok(r.err.includes(`redirect to ${other.url}/test.cvd refused`), r.err);
  assert.equal(other.requests.length, 0, 'the other origin was never contacted');

  // Same-origin redirect: /test.cvd → /db/test.cvd on the same server.
  const m2 = await startMirror({ files: { 'db/test.cvd': cvd(6) }, redirects: { 'test.cvd': '/db/test.cvd' } });
  t.after(() => m2.close());
  const r2 = await run({ mirrors: [m2.url], dbDir: db });
  assert.equal(r2.code, 0, r2.err);
  assert.ok(readFileSync(join(db, 'test.cvd')).equals(cvd(6)));
});

test('403 stops with exit 17 without trying the next mirror; 429 ends the database with exit 0 and a warning', { skip }, async (t) => {
  const db = tempDir(t, 'http-status');
  const forbidden = await startMirror({ files: {}, status: { 'test.cvd': 403 } });
  t.after(() => forbidden.close());
  const good = await startMirror({ files: { 'test.cvd': cvd(6) } });
  t.after(() => good.close());
  const r = await run({ mirrors: [forbidden.url, good.url], dbDir: db });
  assert.equal(r.code, FC.EFORBIDDEN);
  assert.ok(r.err.includes(`Blocked from using server ${forbidden.url}.`), r.err);
  assert.equal(good.requests.length, 0);
  const limited = await startMirror({ files: {}, status: { 'test.cvd': 429 } });
  t.after(() => limited.close());
  const r2 = await run({ mirrors: [limited.url, good.url], dbDir: db });
  assert.equal(r2.code, 0);
  assert.match(r2.err, /answered 429 \(too many requests\) for test/);
  assert.deepEqual(readdirSync(db), []);
});

test('a stale test.cvd next to a newer test.cld is removed when the .cld is updated', { skip }, async (t) => {
  const db = tempDir(t, 'stale');
  const m = await startMirror({ files: { 'test.cvd': cvd(3), ...cdiffs(2, 6) }, advertised: { 'test.cvd': cvd(3) } });
  t.after(() => m.close());
  writeFileSync(join(db, 'test.cvd'), cvd(1));
  assert.equal((await run({ mirrors: [m.url], dbDir: db })).code, 0);
  assert.deepEqual(listDb(db), ['test.cld']);
  writeFileSync(join(db, 'test.cvd'), cvd(2));
  const m6 = await startMirror({ files: { 'test.cvd': cvd(6), ...cdiffs(2, 6) } });
  t.after(() => m6.close());
  const r = await run({ mirrors: [m6.url], dbDir: db });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /available for update \(local version: 3, remote version: 6\)/);
  assert.deepEqual(listDb(db), ['test.cld']);
  assert.equal(loadContainer(readFileSync(join(db, 'test.cld')), 'test.cld').header?.version, 6);
});

test('a local database that fails verification is not patched: the whole cvd replaces it', { skip }, async (t) => {
  const db = tempDir(t, 'badlocal');
  writeFileSync(join(db, 'test.cvd'), flip(cvd(3), 2000));
  const m = await startMirror({ files: { 'test.cvd': cvd(6), ...cdiffs(4, 6) } });
  t.after(() => m.close());
  const r = await run({ mirrors: [m.url], dbDir: db });
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /Can't unpack the local test\.cvd: .*MD5/);
  assert.ok(readFileSync(join(db, 'test.cvd')).equals(cvd(6)));
});

// ---------------------------------------------------------------------------------------------
// Differential: the real freshclam at the same mirror

const FRESHCLAM = ['/usr/bin/freshclam', '/usr/local/bin/freshclam'].find((p) => existsSync(p));
const diffSkip = skip || (FRESHCLAM ? false : 'freshclam is not installed');

function runFreshclam(conf: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(FRESHCLAM!, ['--no-dns', `--config-file=${conf}`, '--update-db=test'], { timeout: 60_000 }, (e, out, err) => {
      const code = e ? (typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : -1) : 0;
      resolve({ code, out, err });
    });
  });
}

interface Scenario {
  name: string;
  local?: Buffer;
  /** MaxAttempts for both (default 1). */
  attempts?: number;
  spec: (dead: string) => MirrorSpec | 'dead';
  expect: { code: number; files: string[]; line: RegExp };
}

const scenarios: Scenario[] = [
  { name: 'fresh install', spec: () => ({ files: { 'test.cvd': cvd(6) } }), expect: { code: 0, files: ['test.cvd'], line: /test\.cvd updated \(version: 6, sigs: 14, f-level: 81, builder: micasnyd\)/ } },
  { name: 'cdiffs 2..6 onto version 1', local: cvd(1), spec: () => ({ files: { 'test.cvd': cvd(6), ...cdiffs(2, 6) } }), expect: { code: 0, files: ['test.cld'], line: /test\.cld updated \(version: 6, sigs: 14, f-level: 81, builder: micasnyd\)/ } },
  { name: 'partial: cdiffs 4, 5 of 4..6', local: cvd(3), spec: () => ({ files: { 'test.cvd': cvd(6), ...cdiffs(4, 5) } }), expect: { code: 0, files: ['test.cld'], line: /test\.cld updated \(version: 5,/ } },
  { name: 'flipped cdiff → whole cvd', local: cvd(1), spec: () => ({ files: { 'test.cvd': cvd(6), ...cdiffs(2, 6), 'test-4.cdiff': flip(cdiff(4)) } }), expect: { code: 0, files: ['test.cvd'], line: /test\.cvd updated \(version: 6,/ } },
  { name: 'empty cdiff → whole cvd', local: cvd(1), spec: () => ({ files: { 'test.cvd': cvd(6), ...cdiffs(2, 6), 'test-3.cdiff': Buffer.alloc(0) } }), expect: { code: 0, files: ['test.cvd'], line: /test\.cvd updated \(version: 6,/ } },
  { name: 'tampered cvd', local: cvd(3), spec: () => ({ files: { 'test.cvd': flip(cvd(6), 3000) } }), expect: { code: FC.EBADCVD, files: ['test.cvd'], line: /available for update \(local version: 3, remote version: 6\)/ } },
  { name: 'up to date', local: cvd(6), spec: () => ({ files: { 'test.cvd': cvd(6) } }), expect: { code: 0, files: ['test.cvd'], line: /test\.cvd database is up-to-date \(version: 6, sigs: 14, f-level: 81, builder: micasnyd\)/ } },
  { name: 'remote older', local: cvd(6), spec: () => ({ files: { 'test.cvd': cvd(3) } }), expect: { code: 0, files: ['test.cvd'], line: /test\.cvd database is up-to-date \(version: 6,/ } },
  { name: 'fresh install, mirror out of sync (serves 5, advertises 6)', spec: () => ({ files: { 'test.cvd': cvd(5) }, advertised: { 'test.cvd': cvd(6) } }), expect: { code: 0, files: ['test.cvd'], line: /test\.cvd updated \(version: 5,/ } },
  { name: 'out of sync, second attempt completes with a cdiff', attempts: 2, spec: () => ({ files: { 'test.cvd': cvd(5), ...cdiffs(6, 6) }, advertised: { 'test.cvd': cvd(6) } }), expect: { code: 0, files: ['test.cld'], line: /test\.cld updated \(version: 6,/ } },
  // A 403 on the whole file (freshclam 1.4 reads a 403 on the header request as a malformed header: 11).
  { name: '403 forbidden', local: cvd(3), spec: () => ({ files: { 'test.cvd': cvd(6) }, statusWhole: { 'test.cvd': 403 } }), expect: { code: FC.EFORBIDDEN, files: ['test.cvd'], line: /available for update \(local version: 3, remote version: 6\)/ } },
  { name: 'mirror down', spec: () => 'dead', expect: { code: FC.EFAILEDGET, files: [], line: /Giving up on http:\/\/127\.0\.0\.1:\d+\.\.\./ } },
];

for (const sc of scenarios) {
  test(`differential with freshclam: ${sc.name}`, { skip: diffSkip }, async (t) => {
    const dead = await deadUrl();
    const spec = sc.spec(dead);
    const m = spec === 'dead' ? undefined : await startMirror(spec);
    if (m) t.after(() => m.close());
    const url = m ? m.url : dead;
    const fcDir = tempDir(t, 'fc');
    const vgDir = tempDir(t, 'vg');
    if (sc.local) {
      writeFileSync(join(fcDir, 'test.cvd'), sc.local);
      writeFileSync(join(vgDir, 'test.cvd'), sc.local);
    }
    const conf = join(tempDir(t, 'fcconf'), 'freshclam.conf');
    writeFileSync(conf, [
      `DatabaseMirror ${url}`, 'DNSDatabaseInfo no', `DatabaseDirectory ${fcDir}`, `DatabaseOwner ${userInfo().username}`,
      `MaxAttempts ${sc.attempts ?? 1}`, 'ConnectTimeout 10', 'ReceiveTimeout 30', '',
    ].join('\n'));
    const fc = await runFreshclam(conf);
    const vg = await run({ mirrors: [url], dbDir: vgDir, maxAttempts: sc.attempts ?? 1 });
    const ctx = `freshclam:\n${fc.out}${fc.err}\nvigil:\n${vg.out}${vg.err}`;
    assert.equal(vg.code, fc.code, `exit codes differ\n${ctx}`);
    assert.equal(vg.code, sc.expect.code, ctx);
    assert.deepEqual(listDb(vgDir), listDb(fcDir), `database directories differ\n${ctx}`);
    assert.deepEqual(listDb(vgDir), sc.expect.files, ctx);
    assert.match(fc.out, sc.expect.line, ctx);
    assert.match(vg.out, sc.expect.line, ctx);
    for (const f of listDb(vgDir)) {
      const a = readFileSync(join(vgDir, f));
      const b = readFileSync(join(fcDir, f));
      if (f.endsWith('.cvd')) {
        assert.ok(a.equals(b), `${f}: vigil's and freshclam's files differ`);
        continue;
      }
      // .cld: same header; the same tar member blocks byte for byte (freshclam's order is readdir's).
      assert.ok(a.subarray(0, 512).equals(b.subarray(0, 512)), `${f}: headers differ`);
      const ta = tarBlocks(a);
      const tb = tarBlocks(b);
      assert.deepEqual([...ta.order].sort(), [...tb.order].sort(), `${f}: member names differ`);
      for (const [name, blk] of tb.blocks) assert.ok(ta.blocks.get(name)?.equals(blk), `${f}: member ${name} differs`);
      assert.equal(a.length, b.length);
      assert.ok(Buffer.concat(tb.order.map((n) => ta.blocks.get(n)!)).equals(b.subarray(512)), `${f}: reordered, vigil's bytes equal freshclam's`);
      assert.ok(loadContainer(b, f).official && loadContainer(a, f).official);
    }
  });
}

test('differential with freshclam, a known difference: freshclam downgrades to an older whole cvd, vigil keeps the newer local one', { skip: diffSkip }, async (t) => {
  // Local 5; the mirror advertises 6, its test-6.cdiff is broken and its whole test.cvd is version 4.
  const m = await startMirror({ files: { 'test.cvd': cvd(4), 'test-6.cdiff': flip(cdiff(6)) }, advertised: { 'test.cvd': cvd(6) } });
  t.after(() => m.close());
  const fcDir = tempDir(t, 'fc');
  const vgDir = tempDir(t, 'vg');
  writeFileSync(join(fcDir, 'test.cvd'), cvd(5));
  writeFileSync(join(vgDir, 'test.cvd'), cvd(5));
  const conf = join(tempDir(t, 'fcconf'), 'freshclam.conf');
  writeFileSync(conf, [`DatabaseMirror ${m.url}`, 'DNSDatabaseInfo no', `DatabaseDirectory ${fcDir}`, `DatabaseOwner ${userInfo().username}`, 'MaxAttempts 1', ''].join('\n'));
  const fc = await runFreshclam(conf);
  const vg = await run({ mirrors: [m.url], dbDir: vgDir });
  assert.equal(fc.code, 0);
  assert.equal(vg.code, 0);
  assert.match(fc.out, /test\.cvd updated \(version: 4,/);
  assert.ok(readFileSync(join(fcDir, 'test.cvd')).equals(cvd(4)), 'freshclam installed version 4 over 5');
  assert.ok(readFileSync(join(vgDir, 'test.cvd')).equals(cvd(5)), 'vigil kept version 5');
  assert.match(vg.err, /is version 4, not newer than the local test\.cvd \(version 5\)/);
});
