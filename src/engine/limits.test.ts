import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadSignatures } from '../signatures/clamav/loader.js';
import { Engine } from './engine.js';
import { buildZip } from '../../test/helpers/zip-writer.js';

function engineWith(mark: string): Engine {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-limits-'));
  writeFileSync(join(dir, 'm.ndb'), `Mark:0:*:${Buffer.from(mark).toString('hex')}\n`);
  return new Engine(loadSignatures({ paths: [join(dir, 'm.ndb')] }));
}

const MARK = 'limit-test-mark-77';

test('every limit a layer meets is listed with its layer path, and the first alerts with alertExceedsMax', () => {
  const engine = engineWith(MARK);
  // A small gzip that inflates past MaxFileSize: its layer is not scanned.
  const big = Buffer.concat([Buffer.alloc(5000, 0x61), Buffer.from(MARK)]);
  const gz = gzipSync(big);
  assert.ok(gz.length < 1000);
  const r = engine.scan(gz, { maxFileSize: 1000 });
  assert.equal(r.verdict, 'clean');
  assert.deepEqual(r.limits, [{ layer: ['gzip'], limit: 'MaxFileSize' }]);
  const alerted = engine.scan(gz, { maxFileSize: 1000, alertExceedsMax: true });
  assert.deepEqual(alerted.detections.map((d) => [d.name, d.kind, d.layer]), [['Heuristics.Limits.Exceeded.MaxFileSize', 'limit', ['gzip']]]);
  // A real detection wins over the held limit alert.
  const withMark = buildZip([{ name: 'm.txt', data: Buffer.from(`x ${MARK} y`), method: 8 }, { name: 'big.gz', data: gz }]).bytes;
  const plainName = engine.scan(withMark).detections[0]!.name;
  assert.match(plainName, /^Mark/);
  assert.deepEqual(engine.scan(withMark, { maxFileSize: 1000, alertExceedsMax: true }).detections.map((d) => d.name), [plainName]);
});

test('MaxRecursion, MaxFiles and MaxScanSize are met inside containers and named', () => {
  const engine = engineWith(MARK);
  let nested: Uint8Array = Buffer.from(`deep ${MARK} payload`);
  for (let i = 0; i < 6; i++) nested = gzipSync(nested);
  assert.equal(engine.scan(nested).verdict, 'infected');
  const cut = engine.scan(nested, { maxRecursion: 3, alertExceedsMax: true });
  assert.deepEqual(cut.detections.map((d) => d.name), ['Heuristics.Limits.Exceeded.MaxRecursion']);
  const many = buildZip(Array.from({ length: 8 }, (_, i) => ({ name: `f${i}.txt`, data: Buffer.from(`member number ${i} ${i === 7 ? MARK : ''}`.repeat(4)), method: 8 }))).bytes;
  assert.equal(engine.scan(many).verdict, 'infected');
  const files = engine.scan(many, { maxFiles: 4 });
  assert.equal(files.verdict, 'clean');
  assert.ok(files.limits?.some((l) => l.limit === 'MaxFiles'), JSON.stringify(files.limits));
  const size = engine.scan(many, { maxScanSize: many.length + 60 });
  assert.ok(size.limits?.some((l) => l.limit === 'MaxScanSize'), JSON.stringify(size.limits));
});

test('MaxScanTime ends a long scan of many layers and is reported (alerted when asked)', () => {
  const engine = engineWith(MARK);
  const entries = Array.from({ length: 3000 }, (_, i) => ({ name: `e${i}.txt`, data: Buffer.from(`entry ${i} `.repeat(20)), method: 8 }));
  entries.push({ name: 'last.txt', data: Buffer.from(`the ${MARK} at the end `.repeat(3)), method: 8 });
  const zip = buildZip(entries).bytes;
  assert.equal(engine.scan(zip, { maxFiles: 0 }).verdict, 'infected', 'without a time limit the last member is reached');
  const timed = engine.scan(zip, { maxFiles: 0, maxScanTime: 1, alertExceedsMax: true });
  assert.deepEqual(timed.detections.map((d) => d.name), ['Heuristics.Limits.Exceeded.MaxScanTime']);
  assert.ok(timed.limits?.some((l) => l.limit === 'MaxScanTime'));
});
