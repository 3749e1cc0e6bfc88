/**
 * Scoring on small hand-built knowledge bases: specificity (a unique signal beats a shared one),
 * templates, wildcard note names, note-text similarity, contacts, markers, safe regex compilation,
 * ambiguity statements, ties and deterministic output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExtensionPattern, Signals } from '../types.js';
import { fam, kbOf } from './testkb.js';
import { noteSignature } from '../kb/minhash.js';
import { compileKb, identify, matchName, safeRegex, specificity } from './score.js';
import { emptySignals } from './signals.js';

const sfx = (value: string): ExtensionPattern => ({ kind: 'suffix', value });

function sig(over: Partial<Signals>): Signals {
  return { ...emptySignals(), ...over };
}

const NOTE_A = `All your files have been encrypted with military grade AES-256 and RSA-2048 by the Alpha team.
To get them back you need our private key. Send 0.5 BTC to the wallet below and write to us with your ID.
Do not rename the files and do not use third-party software: you will lose them forever.
You can decrypt two small files for free as a proof. After 72 hours the price doubles.`;
const NOTE_B = `Hello! Your network was penetrated. We downloaded 200 GB of your confidential documents.
If you do not contact us within three days we publish everything on our blog in the Tor network.
Install Tor Browser, open our chat page and enter the key from this file to start negotiations.`;

test('specificity: one family beats 47', () => {
  assert.equal(specificity(1), 1);
  assert.ok(specificity(47) < 0.15 && specificity(2) > 0.7);
  const many = Array.from({ length: 47 }, (_, i) => fam(`locked-${String(i).padStart(2, '0')}`, { extensions: [sfx('.locked')] }));
  const kb = kbOf([...many, fam('unique', { extensions: [sfx('.zzq')] , noteNames: ['readme.txt'] })]);
  const r = identify(sig({ encryptedNames: ['a.docx.zzq', 'b.xlsx.zzq'] }), kb);
  assert.equal(r.candidates[0]?.family.id, 'unique');
  assert.equal(r.candidates[0]?.evidence[0]?.sharedBy, 1);
  const r2 = identify(sig({ encryptedNames: ['a.docx.locked'] }), kb);
  assert.equal(r2.candidates.length, 47);
  assert.deepEqual(r2.ambiguous.find((a) => a.signal.includes('.locked')), { signal: 'extension `.locked`', families: 47 });
  assert.ok(r2.ambiguous[0]?.signal.startsWith('tie at the top'), JSON.stringify(r2.ambiguous[0]));
  // Ties rank by id: deterministic.
  assert.equal(r2.candidates[0]?.family.id, 'locked-00');
  assert.ok((r2.candidates[0]?.confidence ?? 1) < 0.1);
});

test('templates: Dharma-style names with a bracketed e-mail and an id', () => {
  const kb = kbOf([
    fam('dharma', { extensions: [{ kind: 'template', value: '.id-[ID].[[EMAIL]].[EXT]' }, sfx('.dharma')] }),
    fam('other', { extensions: [sfx('.dharma')] }),
  ]);
  const idx = compileKb(kb);
  const m = matchName(idx, 'Budget 2024.xlsx.id-1E857D00.[paymentbtc@firemail.cc].dharma');
  assert.deepEqual(m.map((x) => x.kind).sort(), ['suffix', 'template']);
  const r = identify(sig({ encryptedNames: ['Budget 2024.xlsx.id-1E857D00.[paymentbtc@firemail.cc].dharma'] }), kb);
  assert.equal(r.candidates[0]?.family.id, 'dharma');
  assert.ok((r.candidates[0]?.score ?? 0) > (r.candidates[1]?.score ?? 0));
  // No id: the template does not match.
  assert.equal(matchName(idx, 'a.id-.[x@y.cc].dharma').filter((x) => x.kind === 'template').length, 0);
});

test('regex patterns: safe ones compile, catastrophic and back-referencing ones are refused', () => {
  assert.ok(safeRegex('^.+\\.[a-f0-9]{32}\\.locky$') instanceof RegExp);
  for (const bad of ['^(a+)+$', '(\\w*)*x', '(a|aa)+$', '(x)\\1', '.*.*.*x', 'a'.repeat(400), '([a-z]{1,}){2,}']) {
    assert.equal(typeof safeRegex(bad), 'string', bad);
  }
  const kb = kbOf([fam('locky', { extensions: [{ kind: 'regex', value: '^[a-f0-9]{32}\\.locky$' }] }), fam('evil', { extensions: [{ kind: 'regex', value: '^(a+)+$' }] })]);
  const idx = compileKb(kb);
  assert.equal(idx.rejected.length, 1);
  assert.equal(idx.rejected[0]?.family, 'evil');
  // A hostile name against the refused pattern would take ages; it is never run.
  const t0 = Date.now();
  identify(sig({ encryptedNames: ['a'.repeat(5000) + '!'] }), kb);
  assert.ok(Date.now() - t0 < 1000);
  assert.equal(identify(sig({ encryptedNames: ['0123456789abcdef0123456789abcdef.locky'] }), kb).candidates[0]?.family.id, 'locky');
});

test('random:n extensions are weak evidence, below a real suffix', () => {
  const kb = kbOf([fam('stop', { extensions: [{ kind: 'random', length: 4 }] }), fam('wxyz', { extensions: [sfx('.wxyz')] })]);
  const r = identify(sig({ encryptedNames: ['photo.jpg.wxyz'] }), kb);
  assert.equal(r.candidates[0]?.family.id, 'wxyz');
  assert.ok((r.candidates[1]?.score ?? 0) < 1);
  // A common extension is not a random one.
  assert.equal(identify(sig({ encryptedNames: ['photo.docx'] }), kb).candidates.length, 0);
});

test('note names (exact and wildcard) and note texts', () => {
  const kb = kbOf([
    fam('alpha', { noteNames: ['readme.txt'], noteHashes: [noteSignature(NOTE_A)] }),
    fam('beta', { noteNames: ['readme.txt', 'how_to_back_files_*.html'], noteHashes: [noteSignature(NOTE_B)] }),
  ]);
  const r = identify(sig({ notes: [{ name: 'README.txt', text: NOTE_A.replace('0.5 BTC', '1.2 BTC').replace('Alpha', 'Alpha') }] }), kb);
  assert.equal(r.candidates[0]?.family.id, 'alpha');
  const ev = r.candidates[0]?.evidence.find((e) => e.signal === 'note-text');
  assert.ok(ev && ev.weight > 3, JSON.stringify(r.candidates[0]?.evidence));
  const w = identify(sig({ notes: [{ name: 'HOW_TO_BACK_FILES_4F2A.html', text: '' }] }), kb);
  assert.equal(w.candidates[0]?.family.id, 'beta');
  assert.equal(w.candidates.length, 1);
});

test('contacts and markers', () => {
  const kb = kbOf([
    fam('mailer', { emails: ['decrypt@india.com'] }),
    fam('wannacry', { markers: [{ where: 'start', offset: 0, hex: Buffer.from('WANACRY!').toString('hex'), description: 'WANACRY! header' }] }),
    fam('footer', { markers: [{ where: 'end', offset: 0, hex: 'deadbeefcafe0001', description: 'footer magic' }] }),
  ]);
  const head = new Uint8Array(64);
  head.set(Buffer.from('WANACRY!'));
  const tail = new Uint8Array(64);
  tail.set(Buffer.from('deadbeefcafe0001', 'hex'), 56);
  const r = identify(sig({ emails: ['Decrypt@India.com'], samples: [{ name: 'x.wncry', size: 64, head, tail: new Uint8Array(64), entropy: 7.9 }, { name: 'y.bin', size: 64, head: new Uint8Array(64), tail, entropy: 7.9 }] }), kb);
  assert.deepEqual(r.candidates.map((c) => c.family.id).sort(), ['footer', 'mailer', 'wannacry']);
  assert.ok(r.candidates.every((c) => c.evidence[0]?.sharedBy === 1));
});

test('nothing matches: no candidates; output is deterministic', () => {
  const kb = kbOf([fam('b', { extensions: [sfx('.x1')] }), fam('a', { extensions: [sfx('.x1')] })]);
  assert.equal(identify(sig({ encryptedNames: ['a.doc'] }), kb).candidates.length, 0);
  const s = sig({ encryptedNames: ['q.x1', 'p.x1'] });
  const one = JSON.stringify(identify(s, kb));
  const two = JSON.stringify(identify(sig({ encryptedNames: ['p.x1', 'q.x1'] }), kbOf([...kb.families].reverse())));
  assert.equal(one, two);
});
