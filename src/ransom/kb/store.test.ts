/**
 * Tests of the knowledge-base store: round trip, canonical bytes, located errors, the default paths.
 *
 * In: small knowledge bases built here, temporary files. Out: assertions. Why: identification
 * trusts what `loadKnowledgeBase` returns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Family, KnowledgeBase } from '../types.js';
import { noteSignature } from './minhash.js';
import {
  KnowledgeBaseError, activeKnowledgeBasePath, loadKnowledgeBase, parseKnowledgeBase, saveKnowledgeBase, serialiseKnowledgeBase,
  shippedKnowledgeBasePath, slugOf, userKnowledgeBasePath, validateKnowledgeBase,
} from './store.js';

function family(over: Partial<Family> = {}): Family {
  return {
    id: 'wannacry', name: 'WannaCry', synonyms: ['WCry'], extensions: [{ kind: 'suffix', value: '.wncry' }, { kind: 'template', value: '.id-[ID].[EMAIL].[EXT]' }, { kind: 'random', length: 4 }, { kind: 'regex', value: '^[a-z]+\\.x$' }],
    noteNames: ['@Please_Read_Me@.txt', 'HOW_TO_DECRYPT_*.txt'], noteHashes: [noteSignature('all your files are encrypted pay now')], emails: ['a@b.cc'],
    onions: ['abcdefghijklmnop.onion'], markers: [{ where: 'start', hex: '57414e4143525921', offset: 0, description: 'WANACRY! header' }], encryption: 'AES-128 + RSA-2048',
    decryptors: [{ name: 'x', url: 'https://example.org/x', prerequisites: ['keep the note'] }], refs: ['https://example.org/r'], sources: ['misp:00000000-0000-0000-0000-000000000000'],
    ...over,
  };
}

const KB = (families: Family[]): KnowledgeBase => ({ format: 'vigil-ransom-kb/1', built: { from: 'test', version: 1, at: '2026-11-29T00:00:00.000Z' }, families });

test('round trip: save then load gives the same knowledge base, and the same bytes again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-kb-'));
  try {
    const p = join(dir, 'sub', 'kb.json');
    const kb = KB([family(), family({ id: 'other', name: 'Other', encryption: undefined })]);
    delete (kb.families[1] as Partial<Family>).encryption;
    saveKnowledgeBase(kb, p);
    const bytes = readFileSync(p, 'utf8');
    assert.ok(!/\n./.test(bytes), 'compact: one line');
    const back = loadKnowledgeBase(p);
    assert.deepEqual(back, kb);
    // Key order in the input does not matter.
    const shuffled = JSON.parse(JSON.stringify(kb, Object.keys(kb).reverse())) as KnowledgeBase;
    assert.equal(serialiseKnowledgeBase({ ...shuffled, built: kb.built, families: kb.families.map((f) => ({ ...Object.fromEntries(Object.entries(f).reverse()) }) as Family) }), bytes);
    saveKnowledgeBase(back, p);
    assert.equal(readFileSync(p, 'utf8'), bytes);
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['kb.json'], 'no temporary file left');
    // A byte-order mark (an editor's) is accepted.
    writeFileSync(join(dir, 'bom.json'), `\ufeff${bytes}`);
    assert.deepEqual(loadKnowledgeBase(join(dir, 'bom.json')), kb);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('located errors: JSON paths and syntax positions', () => {
  const bad = KB([family(), family({
    id: 'Bad Id', extensions: [{ kind: 'suffix', value: 'locked' }, { kind: 'template', value: '.[FOO].x' }, { kind: 'regex', value: '(' }, { kind: 'random', length: 0 }, { kind: 'nope' } as never],
    noteHashes: [[1, 2, 3]], emails: ['Not An Email'], onions: ['x.onion'], markers: [{ where: 'middle', hex: 'ABC', description: '' } as never], decryptors: [{ name: 'd', url: 'ftp://x' }],
  }), family()]);
  (bad.families[0] as unknown as Record<string, unknown>)['extra'] = 1;
  const problems = validateKnowledgeBase(bad);
  const at = problems.map((p) => p.at);
  for (const want of [
    '$.families[0].extra', '$.families[1].id', '$.families[1].extensions[0].value', '$.families[1].extensions[1].value', '$.families[1].extensions[2].value',
    '$.families[1].extensions[3].length', '$.families[1].extensions[4].kind', '$.families[1].noteHashes[0]', '$.families[1].emails[0]', '$.families[1].onions[0]',
    '$.families[1].markers[0].where', '$.families[1].markers[0].hex', '$.families[1].markers[0].description', '$.families[1].decryptors[0].url', '$.families[2].id',
  ]) assert.ok(at.includes(want), `${want} in ${at.join(', ')}`);
  assert.match(problems.find((p) => p.at === '$.families[2].id')?.message ?? '', /duplicate id "wannacry" \(also \$\.families\[0\]\)/);
  assert.deepEqual(validateKnowledgeBase(null), [{ at: '$', message: 'not an object' }]);
  assert.ok(validateKnowledgeBase({ format: 'x', built: {}, families: 3 }).some((p) => p.at === '$.families'));
  assert.throws(() => parseKnowledgeBase('{"format":\n  "vigil-ransom-kb/1",\n  "built": {,}}', 'f.json'), (e: unknown) => {
    assert.ok(e instanceof KnowledgeBaseError);
    assert.equal(e.file, 'f.json');
    assert.match(e.problems[0]?.at ?? '', /^line 3, column \d+$/);
    return true;
  });
  assert.throws(() => parseKnowledgeBase(JSON.stringify(bad), 'g.json'), /g\.json: invalid ransomware knowledge base: \$\.families\[0\]\.extra: unknown key; .* and \d+ more/);
  assert.throws(() => loadKnowledgeBase('/nonexistent/kb.json'), (e: unknown) => e instanceof KnowledgeBaseError && /\$: cannot be read: ENOENT/.test(e.message));
  // Problems are capped.
  const many = KB(Array.from({ length: 500 }, () => ({}) as Family));
  assert.equal(validateKnowledgeBase(many).length, 200);
});

test('saving an invalid knowledge base writes nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-kb-'));
  try {
    const p = join(dir, 'kb.json');
    writeFileSync(p, 'previous');
    assert.throws(() => saveKnowledgeBase(KB([family({ id: '' })]), p), KnowledgeBaseError);
    assert.equal(readFileSync(p, 'utf8'), 'previous');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('default paths: user knowledge base under VIGIL_HOME when present, else the shipped one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-kb-'));
  const old = process.env['VIGIL_HOME'];
  try {
    process.env['VIGIL_HOME'] = dir;
    assert.equal(userKnowledgeBasePath(), join(dir, 'ransom', 'kb.json'));
    assert.equal(activeKnowledgeBasePath(), shippedKnowledgeBasePath());
    assert.match(shippedKnowledgeBasePath(), /db[/\\]ransom[/\\]kb\.json$/);
    saveKnowledgeBase(KB([family()]), userKnowledgeBasePath());
    assert.equal(activeKnowledgeBasePath(), userKnowledgeBasePath());
    assert.equal(loadKnowledgeBase(activeKnowledgeBasePath()).families[0]?.id, 'wannacry');
    if (existsSync(shippedKnowledgeBasePath())) assert.ok(loadKnowledgeBase().families.length > 2000, 'the default is the shipped knowledge base');
  } finally {
    if (old === undefined) delete process.env['VIGIL_HOME']; else process.env['VIGIL_HOME'] = old;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('slugOf makes ids', () => {
  assert.equal(slugOf('STOP (Djvu) Ransomware'), 'stop-djvu-ransomware');
  assert.equal(slugOf('Ransomware: Café 2.0!'), 'ransomware-cafe-2-0');
  assert.equal(slugOf('???'), 'family');
});
