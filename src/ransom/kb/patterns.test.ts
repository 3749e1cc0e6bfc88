/**
 * Tests of the pattern language shared by the importer and identification: templates, note-name
 * wildcards, and the refusal of regexes that could backtrack catastrophically.
 *
 * In: patterns and names. Out: assertions, including a timing bound on the accepted regexes of the
 * shipped knowledge base against a hostile name. Why: a knowledge base may come from a user.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { compileExtension, compileNoteName, compileTemplate, templateSource, unsafeRegexReason } from './patterns.js';
import { loadKnowledgeBase, shippedKnowledgeBasePath } from './store.js';

test('templates: literal brackets, placeholders, anchoring', () => {
  assert.equal(templateSource('.id-[ID].[[EMAIL]].[EXT]'), '\\.id-[a-z0-9]{6,64}\\.\\[[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(?:\\.[a-z0-9-]{1,63}){0,8}\\]\\.[a-z0-9]{1,10}');
  const d = compileTemplate('.id-[ID].[[EMAIL]].[EXT]');
  assert.ok(d.test('Budget.xlsx.id-1E857D00.[Help@Mail.CC].arena'));
  assert.ok(!d.test('Budget.xlsx.id-1E857D00.help@mail.cc.arena'));
  assert.ok(!d.test('Budget.xlsx.id-1E8.[help@mail.cc].arena'), 'an id of 6+ characters');
  const o = compileTemplate('[dbger@protonmail.com][ORIGINAL].dbger');
  assert.ok(o.test('[dbger@protonmail.com]photo.jpg.dbger'));
  assert.ok(!o.test('x[dbger@protonmail.com]photo.jpg.dbger'), 'with [ORIGINAL] the whole name is matched');
  assert.ok(compileTemplate('.locked-[RANDOM:3]').test('a.doc.locked-x9Z'));
  assert.ok(!compileTemplate('.locked-[RANDOM:3]').test('a.doc.locked-x9Zq'));
  assert.ok(compileTemplate('a+b(c).[ID]').test('f.a+b(c).abcdef12'), 'regex characters in templates are literal');
});

test('extension patterns and note names compile', () => {
  assert.ok(compileExtension({ kind: 'suffix', value: '.wncry' })?.test('a.docx.WNCRY'));
  assert.equal(compileExtension({ kind: 'random', length: 4 }), null);
  assert.equal(compileExtension({ kind: 'regex', value: '(a+)+$' }), null);
  assert.ok(compileNoteName('_readme.txt').test('_README.TXT'));
  assert.ok(compileNoteName('RECOVER-*-FILES.txt').test('RECOVER-sykffle-FILES.txt'));
  assert.ok(!compileNoteName('RECOVER-*-FILES.txt').test('RECOVER-sykffle-FILES.txt.bak'));
  assert.ok(compileNoteName('a.b+(c)').test('A.B+(C)'));
});

test('unsafe regexes are refused', () => {
  for (const bad of ['(a+)+$', '(a*)*', '(\\w*x)*y', '(a|ab)*c', '((a+))+', '(x+x+)+y', '(.*a){20}', '\\1', '(?<n>a)\\k<n>', '(', 'a'.repeat(1001), 'a*'.repeat(13)]) {
    assert.notEqual(unsafeRegexReason(bad), null, bad);
  }
  for (const ok of ['^([A-F0-9]{32})\\.locky$', '\\.[a-z]{4,6}$', '^(.*)\\.encoded\\.([A-Z0-9]{9})$', '^[0-9a-f]{8}-[0-9a-f]{4}\\.(?:zepto|odin)$', '_x3m$', '\\.id\\[[a-z0-9]{8}\\]\\.x$']) {
    assert.equal(unsafeRegexReason(ok), null, ok);
  }
});

test('the shipped knowledge base: every regex is accepted and fast on a hostile name', { skip: existsSync(shippedKnowledgeBasePath()) ? false : 'db/ransom/kb.json is absent' }, (t) => {
  const kb = loadKnowledgeBase(shippedKnowledgeBasePath());
  const res = kb.families.flatMap((f) => f.extensions).filter((e) => e.kind === 'regex' || e.kind === 'template').map((e) => compileExtension(e));
  assert.ok(res.every((r) => r !== null));
  const hostile = `${'a.'.repeat(120)}${'@'.repeat(60)}${'1'.repeat(60)}-[x]`;
  const t0 = Date.now();
  for (const r of res) r?.test(hostile);
  const ms = Date.now() - t0;
  t.diagnostic(`${res.length} regex/template patterns against a hostile 400-character name: ${ms} ms`);
  assert.ok(ms < 2000);
});
