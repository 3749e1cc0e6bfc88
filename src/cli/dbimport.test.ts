/**
 * Tests for `vigil db import`.
 *
 * In: argument lists run against inputs in temp dirs. Out: assertions on exit codes, printed
 * reports (text and JSON) and the files written, also to the default `$VIGIL_HOME/local`.
 * Why: the command must say per file what it imported and skipped, and fail (exit 2) when an input
 * cannot be read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDbImport } from './dbimport.js';

const NOW = new Date('2026-11-29T12:00:00Z');

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runDbImport(args, { stdout: { write: (s: string) => { out += s; } }, stderr: { write: (s: string) => { err += s; } }, now: () => NOW });
  return { code, out, err };
}

const EVENT = {
  Event: {
    id: '42', uuid: '9f0c5d3e-1111-4a2b-9c3d-0123456789ab', info: 'CLI test', timestamp: '1764400000', Orgc: { name: 'Test Org', uuid: '55f6ea5e-2c60-40e5-964f-47a8950d210f' },
    Attribute: [
      { type: 'sha256', value: 'ab'.repeat(32), to_ids: true },
      { type: 'md5', value: 'cd'.repeat(16), to_ids: false },
      { type: 'sha1', value: 'zz'.repeat(20), to_ids: true },
      { type: 'domain', value: 'example.com', to_ids: true },
    ],
  },
};

test('db import: text report, files written, exit codes', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-dbimport-'));
  try {
    writeFileSync(join(root, 'event.json'), JSON.stringify(EVENT));
    const out = join(root, 'out');
    const r = await run([join(root, 'event.json'), '--out', out]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^event\.json: MISP, 1 event: 1 hash, 0 YARA sources; skipped 3 \(invalid: 1, to_ids false: 1, type domain: 1\)$/m);
    assert.match(r.out, /event\.json \$\.Event\.Attribute\[2\]\.value: warning: invalid character "z" at position 1 of the SHA1 hash \[ti\.bad-hash\]/);
    assert.match(r.out, /Source event: 1 hash signature \(SHA-256 1, SHA-1 0, MD5 0\), 0 YARA rules/);
    assert.match(r.out, /wrote .*event\.hsb/);
    assert.deepEqual(readdirSync(out).sort(), ['event.hsb', 'event.provenance.json']);
    assert.equal(statSync(out).mode & 0o777, 0o755);

    const j = await run([join(root, 'event.json'), '--out', out, '--json', '--name', 'intel']);
    assert.equal(j.code, 0, j.err);
    const rep = JSON.parse(j.out) as { ok: boolean; sources: { name: string; counts: { sha256: number }; inputs: { format: string; skipped: Record<string, number>; problems: { at: string }[] }[] }[] };
    assert.equal(rep.ok, true);
    assert.equal(rep.sources[0]!.name, 'intel');
    assert.equal(rep.sources[0]!.counts.sha256, 1);
    assert.deepEqual(rep.sources[0]!.inputs[0]!.skipped, { 'to_ids false': 1, 'type domain': 1, invalid: 1 });
    assert.equal(rep.sources[0]!.inputs[0]!.problems[0]!.at, '$.Event.Attribute[2].value');

    writeFileSync(join(root, 'broken.json'), '{"Event": [1, 2');
    const bad = await run([join(root, 'broken.json'), '--out', out]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /broken\.json line 1, column 16: error: invalid JSON: unexpected end of input/);
    assert.match(bad.err, /Source broken: not written/);
    const missing = await run([join(root, 'nope.json'), '--out', out]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /can't read .*nope\.json: no such file or directory/);
    assert.equal((await run([])).code, 2, 'no input');
    assert.equal((await run([join(root, 'event.json'), '--out', out, '--name', 'a/b'])).code, 2);
    assert.equal((await run(['--help'])).code, 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('db import: default output directory is $VIGIL_HOME/local', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-dbimport-'));
  const saved = process.env['VIGIL_HOME'];
  try {
    process.env['VIGIL_HOME'] = join(root, 'home');
    writeFileSync(join(root, 'hashes.txt'), `${'ef'.repeat(32)}\n`);
    const r = await run([join(root, 'hashes.txt')]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(readdirSync(join(root, 'home', 'local')).sort(), ['hashes.hsb', 'hashes.provenance.json']);
  } finally {
    if (saved === undefined) delete process.env['VIGIL_HOME'];
    else process.env['VIGIL_HOME'] = saved;
    rmSync(root, { recursive: true, force: true });
  }
});
