/**
 * RAR layers against bsdtar: seeded RAR 5 archives (the test encoder `rar5-encode.ts`: Huffman
 * blocks, repeat distances, DELTA/E8/E8E9/ARM filters, solid and not) and RAR 4 archives (the
 * version 2.9 test encoder `rar3-encode.ts`, solid and not, E8E9 filter), also nested
 * (ZIP inside RAR, RAR inside ZIP, RAR inside gzip), each payload carrying a planted mark (body
 * signature `Mark.N`) and listed by MD5 (`Rar.Hash.N`).
 *
 * bsdtar (libarchive, an independent RAR reader) first extracts every archive and must give back
 * the payloads exactly: the samples are valid (except solid RAR 4 archives: libarchive's RAR 4
 * reader refuses entries flagged solid, so those are checked by the hashes alone). Then `vigil scan --allmatch` must report, for each
 * archive, every payload's hash signature and mark. clamscan is run on the same files where
 * installed: Debian's clamscan is built without libclamunrar and cannot open RAR, so it must find
 * no payload hash inside any RAR (a documented difference, not a match).
 *
 * Skips with a message when bsdtar or zip is absent or `bin/vigil.js` is not built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP, runClamscan } from '../helpers/clamscan-run.js';
import { foundLines, MARKS, vigilScan } from './layers-diff.js';
import { vigilBin } from './run-vigil.js';
import { encodeRar5, type Rar5EncodeFile, type Rar5FilterKind } from '../../src/formats/cabinet/rar5-encode.js';
import { encodeRar3Archive, type Rar3EncodeFile } from '../../src/formats/cabinet/rar3-encode.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const works = (tool: string, args: string[]): boolean => spawnSync(tool, args, { stdio: 'ignore' }).status === 0;
const SKIP = !works('bsdtar', ['--version']) ? 'bsdtar (libarchive-tools) is not installed: RAR differential skipped'
  : !works('zip', ['-v']) ? 'zip is not installed: RAR differential skipped'
    : !existsSync(vigilBin()) ? 'vigil is not built (bin/vigil.js): RAR differential skipped' : false;

interface Payload { name: string; data: Buffer; sig: string; mark: number }
interface Sample { file: string; payloads: Payload[]; /** bsdtar extracts these files from the top archive. */ top: { name: string; data: Buffer }[] }

/** Extracts `archive` with bsdtar; the bytes of each named member. */
function bsdtarExtract(work: string, archive: Buffer, names: string[], label: string): Map<string, Buffer> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'a.rar'), archive);
  const r = spawnSync('bsdtar', ['-xf', 'a.rar'], { cwd: work });
  assert.equal(r.status, 0, `bsdtar on ${label}: ${String(r.stderr)}`);
  return new Map(names.map((n) => [n, readFileSync(join(work, n))]));
}

function zipOf(work: string, files: { name: string; data: Buffer }[], level = '-6'): Buffer {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  for (const f of files) writeFileSync(join(work, f.name), f.data);
  const r = spawnSync('zip', ['-q', level, 'a.zip', ...files.map((f) => f.name)], { cwd: work });
  if (r.status !== 0) throw new Error(`zip failed: ${String(r.stderr)}`);
  return readFileSync(join(work, 'a.zip'));
}

test(`RAR layers: every payload bsdtar extracts is found by vigil (seed ${SEED})`, { skip: SKIP }, async (t) => {
  const rng = new Prng(`rar-bsdtar:${SEED}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rar-bsdtar-'));
  const data = join(dir, 'data');
  const work = join(dir, 'work');
  mkdirSync(data);
  const hashes: string[] = [];
  let nPayload = 0;
  const payload = (): Payload => {
    const mark = rng.int(0, MARKS.length - 1);
    const words = ['alpha', 'beta', 'gamma', 'delta', 'call', 'ret', 'push', 'mov', '\n'];
    const text = Array.from({ length: rng.int(50, 3000) }, () => rng.pick(words)).join(' ');
    const parts = [Buffer.from(text), Buffer.from(MARKS[mark]!, 'latin1'), Buffer.from(rng.bytes(rng.int(0, 2000)))];
    if (rng.chance(0.5)) parts.reverse();
    const body = Buffer.concat(parts);
    const n = nPayload++;
    const sig = `Rar.Hash.${n}`;
    hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:${sig}`);
    return { name: `p${String(n).padStart(3, '0')}.bin`, data: body, sig, mark };
  };
  const samples: Sample[] = [];
  const kinds: Rar5FilterKind[] = ['delta', 'e8', 'e8e9', 'arm'];
  for (let i = 0; i < 8; i++) {
    const payloads = Array.from({ length: rng.int(1, 4) }, payload);
    const files: Rar5EncodeFile[] = payloads.map((p) => {
      const f: Rar5EncodeFile = { name: p.name, data: p.data };
      if (rng.chance(0.4) && p.data.length > 64) {
        const kind = rng.pick(kinds);
        const start = rng.int(0, 32);
        f.filters = [{ kind, start, length: p.data.length - start, channels: rng.int(1, 4) }];
      }
      return f;
    });
    const bytes = encodeRar5(files, { solid: i % 2 === 1, blockTokens: rng.int(200, 5000) });
    samples.push({ file: `r5-${i}.rar`, payloads, top: payloads });
    writeFileSync(join(data, `r5-${i}.rar`), bytes);
  }
  for (let i = 0; i < 6; i++) {
    const payloads = Array.from({ length: rng.int(1, 4) }, payload);
    const files: Rar3EncodeFile[] = payloads.map((p) => ({ name: p.name, data: p.data, ...(rng.chance(0.3) ? { filter: 'e8e9' as const } : {}) }));
    const { archive } = encodeRar3Archive(files, { solid: i % 2 === 1, seed: rng.int(1, 1000), blockTokens: rng.int(300, 4000) });
    // libarchive's RAR 4 reader refuses entries flagged solid: those archives are checked by vigil alone.
    samples.push({ file: `r4-${i}.rar`, payloads, top: i % 2 === 1 ? [] : payloads });
    writeFileSync(join(data, `r4-${i}.rar`), archive);
  }
  // ZIP inside RAR 5 and RAR 4.
  for (let i = 0; i < 2; i++) {
    const payloads = [payload(), payload()];
    const zip = zipOf(work, payloads);
    const inner = [{ name: 'inner.zip', data: zip }];
    const bytes = i === 0 ? encodeRar5(inner) : Buffer.from(encodeRar3Archive(inner).archive);
    samples.push({ file: `zip-in-r${5 - i}.rar`, payloads, top: inner });
    writeFileSync(join(data, `zip-in-r${5 - i}.rar`), bytes);
  }
  // RAR inside ZIP (stored and deflated) and inside gzip.
  for (let i = 0; i < 3; i++) {
    const payloads = [payload(), payload()];
    const rar = encodeRar5(payloads, { solid: true });
    const top = payloads;
    if (i < 2) {
      writeFileSync(join(data, `r5-in-${i}.zip`), zipOf(work, [{ name: 'inner.rar', data: Buffer.from(rar) }], i === 0 ? '-0' : '-6'));
      samples.push({ file: `r5-in-${i}.zip`, payloads, top: [] });
    } else {
      writeFileSync(join(data, 'r5-in.rar.gz'), gzipSync(rar));
      samples.push({ file: 'r5-in.rar.gz', payloads, top: [] });
    }
    // bsdtar reads the inner RAR itself.
    const got = bsdtarExtract(work, Buffer.from(rar), top.map((p) => p.name), `the RAR inside sample ${i}`);
    for (const p of top) assert.ok(got.get(p.name)!.equals(p.data), `bsdtar: ${p.name} of the nested RAR`);
  }
  // bsdtar gives back every payload of the top-level archives exactly.
  let extracted = 0;
  for (const s of samples.filter((x) => x.top.length > 0)) {
    const got = bsdtarExtract(work, readFileSync(join(data, s.file)), s.top.map((p) => p.name), s.file);
    for (const p of s.top) {
      assert.ok(got.get(p.name)!.equals(p.data), `bsdtar: ${s.file} ${p.name}`);
      extracted++;
    }
  }
  rmSync(work, { recursive: true, force: true });

  writeFileSync(join(dir, 'marks.ndb'), MARKS.map((m, i) => `Mark.${i}:0:*:${Buffer.from(m, 'latin1').toString('hex')}`).join('\n') + '\n');
  writeFileSync(join(dir, 'inner.hdb'), hashes.join('\n') + '\n');
  const args = ['--no-summary', '--allmatch', '-d', join(dir, 'marks.ndb'), '-d', join(dir, 'inner.hdb'), data];
  const mine = new Set(foundLines(vigilScan(args).out));
  const expected = new Set<string>();
  for (const s of samples) {
    for (const p of s.payloads) {
      expected.add(`${join(data, s.file)}: ${p.sig}.UNOFFICIAL FOUND`);
      expected.add(`${join(data, s.file)}: Mark.${p.mark}.UNOFFICIAL FOUND`);
    }
  }
  assert.deepEqual([...mine].sort(), [...expected].sort());
  t.diagnostic(`${samples.length} files, ${nPayload} payloads (${extracted} checked against bsdtar at the top level); vigil: ${mine.size} distinct FOUND lines`);

  if (CLAMSCAN_SKIP) {
    t.diagnostic(CLAMSCAN_SKIP);
  } else {
    // Debian's clamscan has no RAR support: it finds no payload hash inside any RAR.
    const clam = foundLines((await runClamscan(args)).out);
    assert.deepEqual(clam.filter((l) => /Rar\.Hash\./.test(l)), [], 'clamscan (no libclamunrar) opens no RAR');
    t.diagnostic(`clamscan: ${clam.length} FOUND lines (none from inside a RAR); vigil: ${mine.size}`);
  }
  rmSync(dir, { recursive: true, force: true });
});
