/**
 * The fuzz suite: valid samples of every container format (see `samples.ts`), mutated in seeded
 * ways (bit flips, bytes set to boundary values, truncation, inserted and deleted runs, splices of
 * two samples, length fields overwritten), scanned by the engine with small limits. Each case must
 * end without an exception, within its time limit, and memory must stay bounded over the run.
 *
 * Cases per run: `VIGIL_FUZZ_CASES` (default 10,000), seed `VIGIL_FUZZ_SEED` (default 20261129);
 * a failure prints the seed, the sample and the case number, so it reproduces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Prng } from '../helpers/prng.js';
import { loadSignatures } from '../../src/signatures/clamav/loader.js';
import { Engine } from '../../src/engine/engine.js';
import { buildSamples, FUZZ_MARK, FUZZ_PAYLOAD as payload, type Sample } from './samples.js';
import { CONTAINERS } from '../../src/formats/registry.js';
import { detectFileType } from '../../src/formats/filetype.js';

const CASES = Number(process.env['VIGIL_FUZZ_CASES'] ?? 10_000);
const SEED = process.env['VIGIL_FUZZ_SEED'] ?? '20261129';
/** Each case's scan-time limit, and the wall time a case may take at most (the limit plus slack for a busy machine). */
const SCAN_TIME_MS = 2_000;
const CASE_WALL_MS = 10_000;

const BOUNDARY = [0x00, 0x01, 0x7f, 0x80, 0xff];

/** One mutation of `b` (a new buffer); `other` is a second sample for splices. */
export function mutate(rng: Prng, b: Buffer, other: Buffer): Buffer {
  const out = Buffer.from(b);
  switch (rng.int(0, 7)) {
    case 0: { // flip bits
      for (let n = rng.int(1, 8); n > 0 && out.length > 0; n--) out[rng.int(0, out.length - 1)]! ^= 1 << rng.int(0, 7);
      return out;
    }
    case 1: { // boundary bytes
      for (let n = rng.int(1, 4); n > 0 && out.length > 0; n--) out[rng.int(0, out.length - 1)] = rng.pick(BOUNDARY);
      return out;
    }
    case 2: return out.subarray(0, rng.int(0, out.length)); // truncate
    case 3: { // insert a run
      const at = rng.int(0, out.length);
      return Buffer.concat([out.subarray(0, at), Buffer.from(rng.bytes(rng.int(1, 64))), out.subarray(at)]);
    }
    case 4: { // delete a run
      const at = rng.int(0, out.length);
      return Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + rng.int(1, 64)))]);
    }
    case 5: { // splice with another sample
      const at = rng.int(0, out.length);
      return Buffer.concat([out.subarray(0, at), other.subarray(rng.int(0, other.length))]);
    }
    case 6: { // a 16- or 32-bit field set to a huge or zero value
      if (out.length < 4) return out;
      const at = rng.int(0, out.length - 4);
      const v = rng.pick([0, 0xffff, 0x7fffffff, 0xffffffff, 0x80000000, out.length, out.length + 1]);
      if (rng.chance(0.5)) out.writeUInt32LE(v >>> 0, at);
      else out.writeUInt16BE(v & 0xffff, at);
      return out;
    }
    default: { // repeat a block (loops in tables, repeated headers)
      const at = rng.int(0, out.length);
      const len = rng.int(1, Math.min(512, out.length - at + 1));
      const block = out.subarray(at, at + len);
      return Buffer.concat([out.subarray(0, at), block, block, block, out.subarray(at)]);
    }
  }
}

test(`fuzz: ${CASES} mutated containers end cleanly, in time, in bounded memory (seed ${SEED})`, { timeout: 25 * 60_000 }, (t) => {
  const work = mkdtempSync(join(tmpdir(), 'vigil-fuzz-'));
  const { samples, missing } = buildSamples(work);
  if (missing.length > 0) t.diagnostic(`formats without their tool here (not fuzzed): ${missing.join(', ')}`);
  assert.ok(samples.length >= 5, `samples were built (${samples.length})`);
  writeFileSync(join(work, 'f.ndb'), `Fuzz.Mark:0:*:${Buffer.from(FUZZ_MARK).toString('hex')}\n`);
  writeFileSync(join(work, 'f.hdb'), `${createHash('md5').update(payload).digest('hex')}:${payload.length}:Fuzz.Payload\n`);
  const engine = new Engine(loadSignatures({ paths: [join(work, 'f.ndb'), join(work, 'f.hdb')] }));
  // Every unmutated sample of a format the engine opens has its payload found inside a layer.
  const opened = samples.filter((s: Sample) => CONTAINERS.has(detectFileType(s.bytes)));
  const unreached = opened.filter((s) => !engine.scan(s.bytes, { allmatch: true, unpack: { alertBrokenMedia: true } }).detections.some((d) => d.layer.length > 0)).map((s) => s.name);
  assert.deepEqual(unreached, [], 'the payload is reached inside every opened format');
  t.diagnostic(`formats opened: ${opened.map((s) => s.name).join(', ')}`);
  const rng = new Prng(SEED);
  const opts = { allmatch: true, unpack: { alertBrokenMedia: true }, maxFileSize: 8 << 20, maxScanSize: 32 << 20, maxFiles: 200, maxRecursion: 8, maxScanTime: SCAN_TIME_MS };
  const rss0 = process.memoryUsage().rss;
  let slowest = 0, slowestCase = '', detected = 0;
  const perFormat = new Map<string, number>();
  for (let c = 0; c < CASES; c++) {
    const sample = samples[c % samples.length]!;
    let bytes = mutate(rng, sample.bytes, rng.pick(samples).bytes);
    if (rng.chance(0.3)) bytes = mutate(rng, bytes, sample.bytes);
    const started = performance.now();
    let r;
    try {
      r = engine.scan(bytes, opts);
    } catch (e) {
      assert.fail(`case ${c} (${sample.name}, seed ${SEED}) threw: ${e instanceof Error ? e.stack : String(e)}`);
    }
    const ms = performance.now() - started;
    if (ms > slowest) { slowest = ms; slowestCase = `${c} (${sample.name})`; }
    assert.ok(ms < CASE_WALL_MS, `case ${c} (${sample.name}, seed ${SEED}) took ${ms.toFixed(0)} ms`);
    if (r.detections.length > 0) detected++;
    perFormat.set(sample.name, (perFormat.get(sample.name) ?? 0) + 1);
  }
  const grown = (process.memoryUsage().rss - rss0) / 2 ** 20;
  t.diagnostic(`${CASES} cases over ${samples.length} formats; ${detected} still detected; slowest ${slowest.toFixed(0)} ms (case ${slowestCase}); RSS grew ${grown.toFixed(0)} MiB`);
  assert.ok(grown < 1024, `memory stays bounded (RSS grew ${grown.toFixed(0)} MiB)`);
});
