/**
 * Tests of first aid and decryptor advice.
 *
 * In: families built here and, when present, the shipped knowledge base. Out: assertions and a
 * count of families with a decryptor. Why: this is what a victim reads first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Family } from '../types.js';
import { GENERIC_FIRST_AID, whatToDo } from './advice.js';
import { loadKnowledgeBase, shippedKnowledgeBasePath } from './store.js';

function fam(over: Partial<Family>): Family {
  return { id: 'x', name: 'X', synonyms: [], extensions: [], noteNames: [], noteHashes: [], emails: [], onions: [], markers: [], decryptors: [], refs: [], sources: [], ...over };
}

test('generic first aid covers what keeps files recoverable', () => {
  const text = GENERIC_FIRST_AID.join('\n').toLowerCase();
  for (const must of ['isolate', 'do not rename', 'repair', 'modification times', 'ransom note', 'original copy', 'paying', 'police', 'cert']) assert.ok(text.includes(must), must);
  const a = whatToDo(fam({}));
  assert.deepEqual(a.decryptors, []);
  assert.ok(a.firstAid.some((s) => /No public decryptor is known for X/.test(s)));
});

test('decryptor prerequisites become first aid; duplicates merged; tools with prerequisites first', () => {
  const a = whatToDo(fam({
    name: 'Akira',
    decryptors: [
      { name: 'Galaxy link', url: 'https://decrypter.emsisoft.com/akira' },
      { name: 'GPU brute force', url: 'https://example.org/a', prerequisites: ['the encrypted files with their modification times untouched', 'the encrypted files with their modification times untouched'] },
      { name: 'Galaxy link', url: 'https://decrypter.emsisoft.com/akira' },
      { name: 'Pair tool', url: 'https://example.org/b', prerequisites: ['an encrypted file and its original'] },
    ],
  }));
  assert.deepEqual(a.decryptors.map((d) => d.name), ['GPU brute force', 'Pair tool', 'Galaxy link']);
  assert.deepEqual(a.decryptors[0]?.prerequisites, ['the encrypted files with their modification times untouched']);
  assert.ok(a.firstAid.some((s) => /Akira: the decryptor depends on the files' modification times/.test(s)));
  assert.ok(a.firstAid.some((s) => /Akira: find an original\/encrypted pair/.test(s)));
  assert.ok(!a.firstAid.some((s) => /No public decryptor/.test(s)));
});

test('the shipped knowledge base: advice for the major families', { skip: existsSync(shippedKnowledgeBasePath()) ? false : 'db/ransom/kb.json is absent' }, (t) => {
  const kb = loadKnowledgeBase(shippedKnowledgeBasePath());
  const by = (id: string): Family => kb.families.find((f) => f.id === id) as Family;
  assert.ok(whatToDo(by('wannacry')).firstAid.some((s) => /do not reboot/.test(s)));
  assert.ok(whatToDo(by('jigsaw')).firstAid.some((s) => /end its process/.test(s)));
  assert.ok(whatToDo(by('black-basta')).firstAid.some((s) => /zero-filled blocks/.test(s)));
  assert.ok(whatToDo(by('stop-djvu')).decryptors.some((d) => /emsisoft/.test(d.url)));
  assert.ok(whatToDo(by('royal')).firstAid.some((s) => /No public decryptor/.test(s)));
  const withTool = kb.families.filter((f) => f.decryptors.length > 0).length;
  t.diagnostic(`families with at least one decryptor link: ${withTool} of ${kb.families.length}`);
  assert.ok(withTool >= 60);
});
