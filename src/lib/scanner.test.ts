import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { createScanner, scannerFromEngine, type LoadedDatabase } from '../index.js';
import { buildZip } from '../../test/helpers/zip-writer.js';

// The compiled-database cache goes to a directory of this test's own.
process.env['VIGIL_HOME'] = mkdtempSync(join(tmpdir(), 'vigil-lib-home-'));

const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*');

/** A database written here: EICAR as a body signature and as an MD5 hash signature. */
function testDatabase(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-lib-db-'));
  writeFileSync(join(dir, 't.ndb'), `Test.Eicar.Body:0:*:${Buffer.from('EICAR-STANDARD-ANTIVIRUS-TEST-FILE').toString('hex')}\n`);
  writeFileSync(join(dir, 't.hdb'), `${createHash('md5').update(EICAR).digest('hex')}:${EICAR.length}:Test.Eicar.Hash\n`);
  return dir;
}

test('scanBuffer, scanFile and scanStream find EICAR with a database written here, with evidence and versions', async () => {
  const db = testDatabase();
  const s = await createScanner({ databases: [db], cache: false });
  const buf = await s.scanBuffer(EICAR, { name: 'eicar.com' });
  assert.equal(buf.verdict, 'infected');
  assert.equal(buf.name, 'eicar.com');
  const d = buf.detections[0]!;
  assert.ok(['Test.Eicar.Hash.UNOFFICIAL', 'Test.Eicar.Body.UNOFFICIAL'].includes(d.name));
  assert.ok(d.db?.startsWith(db));
  assert.equal(d.line, 1);
  assert.deepEqual(d.layer, []);
  assert.equal(buf.engine, 'vigil-0.1.0');
  assert.equal(buf.database.signatures, 2);
  assert.equal(buf.reason, undefined);

  const file = join(mkdtempSync(join(tmpdir(), 'vigil-lib-f-')), 'eicar.txt');
  writeFileSync(file, Buffer.concat([EICAR, Buffer.from('\n')]));
  const f = await s.scanFile(file);
  assert.equal(f.verdict, 'infected');
  assert.equal(f.detections[0]!.name, 'Test.Eicar.Body.UNOFFICIAL'); // one byte more: the hash no longer matches
  assert.equal(f.detections[0]!.offset, EICAR.indexOf('EICAR-STANDARD'));
  assert.equal(f.detections[0]!.matched, Buffer.from('EICAR-STANDARD-ANTIVIRUS-TEST-FILE').toString('hex'));

  const st = await s.scanStream(Readable.from([EICAR.subarray(0, 30), EICAR.subarray(30)]));
  assert.equal(st.verdict, 'infected');
  assert.equal(st.size, EICAR.length);

  // allmatch reports both signatures.
  const all = await s.scanBuffer(EICAR, { allmatch: true });
  assert.deepEqual(all.detections.map((x) => x.name).sort(), ['Test.Eicar.Body.UNOFFICIAL', 'Test.Eicar.Hash.UNOFFICIAL']);

  const v = s.version();
  assert.equal(v.engine, 'vigil-0.1.0');
  assert.equal(v.clamavCompatible, '1.4.6');
  assert.equal(v.database.signatures, 2);
  assert.equal(v.database.files.length, 2);
  assert.equal(v.line, 'vigil 0.1.0');
  await s.close();
});

test('the package database (db/) finds EICAR by default', async () => {
  const s = await createScanner(); // $VIGIL_HOME/db does not exist: the packaged db/ alone
  const r = await s.scanBuffer(EICAR);
  assert.equal(r.verdict, 'infected');
  assert.match(r.detections[0]!.name, /^Vigil\.Test\.EICAR-(NDB|HDB|HSB)$/);
  assert.match(r.detections[0]!.db ?? '', /db[/\\]vigil\.(ndb|hdb)$/);
  assert.ok(s.version().database.files.some((f) => /vigil\.ndb$/.test(f.path)));
  // EICAR inside a zip, found in its layer.
  const zip = buildZip([{ name: 'readme.txt', data: 'nothing' }, { name: 'eicar.com', data: EICAR }]).bytes;
  const z = await s.scanBuffer(zip);
  assert.equal(z.verdict, 'infected');
  assert.deepEqual(z.detections[0]!.layer, ['eicar.com']);
  assert.equal((await s.scanBuffer(Buffer.from('an ordinary text file, nothing to see'))).verdict, 'clean');
});

test('clean files are clean through every API', async () => {
  const s = await createScanner({ databases: [testDatabase()], cache: false });
  const clean = Buffer.from('Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n'.repeat(100));
  assert.equal((await s.scanBuffer(clean)).verdict, 'clean');
  const file = join(mkdtempSync(join(tmpdir(), 'vigil-lib-f-')), 'clean.txt');
  writeFileSync(file, clean);
  const f = await s.scanFile(file);
  assert.equal(f.verdict, 'clean');
  assert.equal(f.size, clean.length);
  assert.equal((await s.scanStream(Readable.from([clean]))).verdict, 'clean');
});

test('a limit gives not-scanned with its reason, never clean', async () => {
  const s = await createScanner({ databases: [testDatabase()], cache: false, limits: { maxFileSize: 1000 } });
  const big = Buffer.alloc(5000, 0x61);
  const r = await s.scanBuffer(big);
  assert.equal(r.verdict, 'not-scanned');
  assert.equal(r.reason, 'MaxFileSize');
  // The stream stops being read past the limit.
  let produced = 0;
  const endless = Readable.from((function* () {
    for (;;) {
      produced++;
      yield Buffer.alloc(512, 0x62);
    }
  })());
  const st = await s.scanStream(endless);
  assert.equal(st.verdict, 'not-scanned');
  assert.equal(st.reason, 'MaxFileSize');
  assert.ok(produced < 100);
  // A gzip that inflates past MaxFileSize: the layer inside was not scanned.
  const gz = gzipSync(Buffer.concat([big, EICAR]));
  assert.ok(gz.length < 1000);
  const g = await s.scanBuffer(gz);
  assert.equal(g.verdict, 'not-scanned');
  assert.equal(g.reason, 'MaxFileSize (gzip)');
  assert.deepEqual(g.limits, [{ layer: ['gzip'], limit: 'MaxFileSize' }]);
  // A file on disk over the limit.
  const file = join(mkdtempSync(join(tmpdir(), 'vigil-lib-f-')), 'big.bin');
  writeFileSync(file, big);
  assert.deepEqual([(await s.scanFile(file)).verdict, (await s.scanFile(file)).reason], ['not-scanned', 'MaxFileSize']);
});

test('MaxFiles and MaxRecursion stop a container: not-scanned', async () => {
  const s = await createScanner({ databases: [testDatabase()], cache: false, limits: { maxFiles: 3 } });
  const many = buildZip(Array.from({ length: 10 }, (_, i) => ({ name: `f${i}.txt`, data: `member number ${i} of the archive` }))).bytes;
  const r = await s.scanBuffer(many);
  assert.equal(r.verdict, 'not-scanned');
  assert.match(r.reason ?? '', /^MaxFiles/);
  const deep = await createScanner({ databases: [testDatabase()], cache: false, limits: { maxRecursion: 2 } });
  let nested: Uint8Array = Buffer.from('the innermost file of a nested archive');
  for (let i = 0; i < 4; i++) nested = buildZip([{ name: `level${i}.zip`, data: nested }]).bytes;
  const n = await deep.scanBuffer(nested);
  assert.equal(n.verdict, 'not-scanned');
  assert.match(n.reason ?? '', /^MaxRecursion/);
});

test('an engine error, a missing file and a closed scanner give not-scanned, never clean', async () => {
  const throwing: LoadedDatabase = {
    engine: { knownSignatures: 1, engineVersion: 'vigil-test', scan: () => { throw new Error('matcher exploded'); } },
    info: { signatures: 1, files: [], loadedAt: new Date(0).toISOString() },
  };
  const s = scannerFromEngine(throwing);
  const r = await s.scanBuffer(Buffer.from('some bytes to scan'));
  assert.equal(r.verdict, 'not-scanned');
  assert.equal(r.reason, 'error: matcher exploded');
  const svc = await s.service().scanBuffer(Buffer.from('some bytes to scan'));
  assert.equal(svc.verdict, 'not-scanned');
  assert.equal(svc.reason, 'error: matcher exploded');

  const real = await createScanner({ databases: [testDatabase()], cache: false });
  const missing = await real.scanFile(join(tmpdir(), 'no-such-file-here-vigil'));
  assert.equal(missing.verdict, 'not-scanned');
  assert.match(missing.reason ?? '', /ENOENT/);
  const failing = Readable.from((async function* () {
    yield Buffer.from('partial');
    await Promise.resolve();
    throw new Error('socket hang up');
  })());
  const st = await real.scanStream(failing);
  assert.equal(st.verdict, 'not-scanned');
  assert.equal(st.reason, 'read error: socket hang up');
  await real.close();
  const closed = await real.scanBuffer(EICAR);
  assert.deepEqual([closed.verdict, closed.reason], ['not-scanned', 'scanner closed']);
});

test('a database that does not load gives no scanner', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-lib-bad-'));
  writeFileSync(join(dir, 'bad.ndb'), 'this is not a signature\n');
  await assert.rejects(createScanner({ databases: [dir], cache: false }), /database load failed/);
});

test('reload swaps in a changed database; the service answers through it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-lib-rl-'));
  const mark = 'reload-mark-0123456789';
  writeFileSync(join(dir, 'a.ndb'), `Test.Before:0:*:${Buffer.from('nothing-like-this-anywhere').toString('hex')}\n`);
  const s = await createScanner({ databases: [dir], cache: false });
  const svc = s.service();
  assert.equal((await svc.scanBuffer(Buffer.from(`xx ${mark} xx`))).verdict, 'clean');
  writeFileSync(join(dir, 'a.ndb'), `Test.After:0:*:${Buffer.from(mark).toString('hex')}\n`);
  await svc.reload();
  const r = await svc.scanBuffer(Buffer.from(`xx ${mark} xx`));
  assert.equal(r.verdict, 'infected');
  assert.equal(r.detections[0]!.name, 'Test.After.UNOFFICIAL');
  assert.equal(svc.version(), 'vigil 0.1.0');
  // A broken database on reload keeps the old one.
  writeFileSync(join(dir, 'a.ndb'), 'broken line\n');
  await assert.rejects(svc.reload());
  assert.equal((await svc.scanBuffer(Buffer.from(`xx ${mark} xx`))).verdict, 'infected');
});

test('threads: scans run in worker threads with the same verdicts, across a reload', async () => {
  const dir = testDatabase();
  const s = await createScanner({ databases: [dir], cache: false, threads: 2, limits: { maxFileSize: 1000 } });
  const inputs = [EICAR, Buffer.from('clean bytes for a worker thread'), Buffer.alloc(5000, 0x61), gzipSync(Buffer.concat([Buffer.alloc(5000, 0x61), EICAR]))];
  const got = await Promise.all(Array.from({ length: 12 }, (_, i) => s.scanBuffer(inputs[i % 4]!)));
  assert.deepEqual(got.map((r) => [r.verdict, r.reason ?? null]).slice(0, 4), [['infected', null], ['clean', null], ['not-scanned', 'MaxFileSize'], ['not-scanned', 'MaxFileSize (gzip)']]);
  assert.deepEqual(got.map((r) => r.verdict), Array.from({ length: 3 }, () => ['infected', 'clean', 'not-scanned', 'not-scanned']).flat());
  const mark = 'threaded-reload-mark-42';
  writeFileSync(join(dir, 'x.ndb'), `Test.Threaded:0:*:${Buffer.from(mark).toString('hex')}\n`);
  await s.reload();
  const r = await s.scanBuffer(Buffer.from(`..${mark}..`));
  assert.deepEqual([r.verdict, r.detections[0]?.name], ['infected', 'Test.Threaded.UNOFFICIAL']);
  await s.close();
});
