/**
 * Tests for `vigil ransom import-misp`.
 *
 * In: argument lists run against galaxy files in temp dirs (and the shared galaxy when present).
 * Out: assertions on exit codes, the report (text and JSON) and the knowledge base written, also
 * to the default `$VIGIL_HOME/ransom/kb.json`. Why: a user rebuilds the knowledge base with it;
 * a bad input must never replace a good knowledge base.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRansomImport } from './ransom-kb.js';
import { loadKnowledgeBase } from '../ransom/kb/store.js';
import { NO_SHARED, sharedGalaxyPath } from '../ransom/kb/testdata.js';

const NOW = new Date('2026-11-29T12:00:00Z');

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runRansomImport(args, { stdout: { write: (s: string) => { out += s; } }, stderr: { write: (s: string) => { err += s; } }, now: () => NOW });
  return { code, out, err };
}

const GALAXY = {
  type: 'ransomware', version: 3, values: [
    { value: 'Alpha', uuid: '00000000-0000-0000-0000-00000000000a', meta: { extensions: ['.alpha', 'RANDOM 3 LETTERS ARE ADDED', 'AES+RSA'], 'ransomnotes-filesnames': ['HOW_TO_<random>.txt'] } },
    { value: 'WannaCry', uuid: '00000000-0000-0000-0000-00000000000b', meta: { refs: ['https://example.org/wc'] } },
  ],
};

test('import-misp: text report, default output under VIGIL_HOME, exit codes', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-ransom-kb-'));
  const old = process.env['VIGIL_HOME'];
  try {
    process.env['VIGIL_HOME'] = join(root, 'home');
    const g = join(root, 'g.json');
    writeFileSync(g, JSON.stringify(GALAXY));
    const r = await run([g]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Families: 27 \(27 with an identifying signal\)/);
    assert.match(r.out, /Extension values: 3 read: 1 kept as they were, 1 normalised, 1 dropped; 0 more read from descriptions/);
    assert.match(r.out, /Misspelt keys read under their right name: 1 \(ransomnotes-filesnames → ransomnotes-filenames\)/);
    assert.match(r.out, /Added facts merged with galaxy entries: wannacry \(WannaCry\)/);
    assert.match(r.out, /\$\.values\[0\]\.meta\.extensions\[2\]: extension "AES\+RSA" not normalised: an encryption algorithm/);
    const out = join(root, 'home', 'ransom', 'kb.json');
    assert.match(r.out, new RegExp(`Wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const kb = loadKnowledgeBase(out);
    assert.equal(kb.built.at, NOW.toISOString());
    assert.equal(kb.built.version, 3);
    assert.ok(kb.families.some((f) => f.id === 'alpha'));

    // --no-facts --json --out
    const o2 = join(root, 'x', 'kb2.json');
    const j = await run([g, '--no-facts', '--json', '--out', o2]);
    assert.equal(j.code, 0, j.err);
    const rep = JSON.parse(j.out) as { ok: boolean; out: string; report: { families: number; problems: { at: string }[] } };
    assert.equal(rep.ok, true);
    assert.equal(rep.out, o2);
    assert.equal(rep.report.families, 2);
    assert.ok(rep.report.problems.some((p) => p.at === '$.values[0].meta.extensions[2]'));

    // Bad inputs: exit 2, nothing replaced.
    const before = readFileSync(out, 'utf8');
    writeFileSync(join(root, 'bad.json'), '{"values": [\n  {"value": "A",}\n]}');
    const bad = await run([join(root, 'bad.json')]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /bad\.json: not JSON: line 2, column \d+/);
    writeFileSync(join(root, 'empty.json'), JSON.stringify({ values: [] }));
    const empty = await run([join(root, 'empty.json')]);
    assert.equal(empty.code, 2);
    assert.match(empty.err, /no galaxy entries read; nothing written/);
    writeFileSync(join(root, 'arr.json'), '[1,2]');
    assert.equal((await run([join(root, 'arr.json')])).code, 2);
    const missing = await run([join(root, 'missing.json')]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /ENOENT/);
    assert.equal(readFileSync(out, 'utf8'), before);
    // The output cannot be written (its directory is a file).
    const blocked = await run([g, '--out', join(g, 'kb.json')]);
    assert.equal(blocked.code, 2);
    // Usage errors.
    assert.equal((await run([])).code, 2);
    assert.equal((await run(['--help'])).code, 0);
  } finally {
    if (old === undefined) delete process.env['VIGIL_HOME']; else process.env['VIGIL_HOME'] = old;
    rmSync(root, { recursive: true, force: true });
  }
});

test('import-misp on the shared galaxy', { skip: sharedGalaxyPath() === null ? NO_SHARED : false }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-ransom-kb-'));
  try {
    const r = await run([sharedGalaxyPath() as string, '--out', join(root, 'kb.json')]);
    assert.equal(r.code, 0, r.err);
    const first = r.out.split('\n').slice(0, 3);
    for (const l of first) t.diagnostic(l);
    assert.match(r.out, /Families: 2121/);
    assert.equal(loadKnowledgeBase(join(root, 'kb.json')).families.length, 2121);
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('import-misp as a subcommand of a vigil ransom group', async () => {
  const { commandGroup, parseCommand } = await import('./program.js');
  const { addImportMispCommand } = await import('./ransom-kb.js');
  const root = mkdtempSync(join(tmpdir(), 'vigil-ransom-kb-'));
  try {
    let out = '';
    const deps = { stdout: { write: (s: string) => { out += s; } }, stderr: { write: (s: string) => { out += s; } }, now: () => NOW };
    const res = { code: -1 };
    const program = commandGroup('vigil ransom', deps);
    addImportMispCommand(program, deps, res);
    writeFileSync(join(root, 'g.json'), JSON.stringify(GALAXY));
    const c = await parseCommand(program, ['import-misp', join(root, 'g.json'), '--out', join(root, 'kb.json'), '--json']);
    assert.equal(c ?? res.code, 0, out);
    assert.equal(loadKnowledgeBase(join(root, 'kb.json')).families.length, 27);
  } finally { rmSync(root, { recursive: true, force: true }); }
});
