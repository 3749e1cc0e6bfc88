/**
 * `vigil ransom identify` end to end: a hand-built knowledge base on disk, notes, samples and a
 * directory; text and JSON reports; exit codes 0 (identified), 1 (nothing matched), 2 (usage, an
 * unreadable input, a bad knowledge base); deterministic output; the shipped knowledge base when
 * it is there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRansom } from './ransom.js';
import { saveKnowledgeBase, shippedKnowledgeBasePath } from '../ransom/kb/store.js';
import { noteSignature } from '../ransom/kb/minhash.js';
import { fam, kbOf } from '../ransom/identify/testkb.js';

const NOTE = `All of your files have been encrypted!
Your documents, photos, databases and other important files are encrypted with a strong algorithm.
To restore them, write to us at the address below and send your personal ID. You can send us 2 files
for free decryption as a guarantee. Do not rename encrypted files and do not try to decrypt them with
third-party software: this may cause permanent data loss.`;

function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  return runRansom(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } }).then((code) => ({ code, out, err }));
}

function setup(): { dir: string; kb: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ransom-cli-'));
  const kb = join(dir, 'kb.json');
  saveKnowledgeBase(kbOf([
    fam('dharma', {
      name: 'Dharma', synonyms: ['CrySiS'],
      extensions: [{ kind: 'template', value: '.id-[ID].[[EMAIL]].[EXT]' }],
      noteNames: ['files encrypted!!.txt', 'info.hta'],
      noteHashes: [noteSignature(NOTE)],
      emails: ['decrypt.help@protonmail.com'],
      decryptors: [{ name: 'Example decryptor', url: 'https://www.nomoreransom.org/', prerequisites: ['an original/encrypted pair'] }],
    }),
    fam('lockedone', { name: 'LockedOne', extensions: [{ kind: 'suffix', value: '.locked' }], noteNames: ['readme.txt'] }),
    fam('lockedtwo', { name: 'LockedTwo', extensions: [{ kind: 'suffix', value: '.locked' }], noteNames: ['readme.txt'] }),
  ]), kb);
  return { dir, kb };
}

test('identify: note, sample and directory; text report with evidence, advice and ambiguities', async () => {
  const { dir, kb } = setup();
  try {
    const files = join(dir, 'victim');
    mkdirSync(files);
    for (let i = 0; i < 6; i++) writeFileSync(join(files, `photo${i}.jpg.id-1E857D00.[decrypt.help@protonmail.com].java`), Buffer.alloc(5000, i));
    writeFileSync(join(files, 'FILES ENCRYPTED!!.txt'), NOTE.replace('2 files', '3 files'));
    const note = join(dir, 'info.hta');
    writeFileSync(note, `<html><body><p>${NOTE.replace(/\n/g, '</p><p>')}</p></body></html>`);
    const r = await run(['identify', '--kb', kb, '--note', note, '--sample', join(files, 'photo0.jpg.id-1E857D00.[decrypt.help@protonmail.com].java'), '--dir', files]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^1\. Dharma \(also: CrySiS\) — confidence \d+%/m);
    assert.match(r.out, /extension: template `\.id-\[ID\]\.\[\[EMAIL\]\]\.\[EXT\]` matches 6 names/);
    assert.match(r.out, /email: contact `decrypt\.help@protonmail\.com`/);
    assert.match(r.out, /note-text: note `info\.hta` is \d+% similar/);
    assert.match(r.out, /Example decryptor — https:\/\/www\.nomoreransom\.org\/ \(needs: an original\/encrypted pair\)/);
    assert.match(r.out, /What to do now/);
    assert.match(r.out, /Walked .*6 look encrypted/);
    // The same run twice gives the same bytes.
    const again = await run(['identify', '--kb', kb, '--note', note, '--sample', join(files, 'photo0.jpg.id-1E857D00.[decrypt.help@protonmail.com].java'), '--dir', files]);
    assert.equal(again.out, r.out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('identify --json: candidates, ambiguity, signals; ties reported', async () => {
  const { dir, kb } = setup();
  try {
    const s = join(dir, 'budget.xlsx.locked');
    writeFileSync(s, 'x');
    const r = await run(['identify', '--kb', kb, '--sample', s, '--json', '--top', '1']);
    assert.equal(r.code, 0);
    const j = JSON.parse(r.out) as { format: string; identified: boolean; candidates: { id: string; evidence: { sharedBy: number }[] }[]; more: number; ambiguous: { signal: string; families: number }[]; signals: { samples: { size: number }[] } };
    assert.equal(j.format, 'vigil-ransom-identify/1');
    assert.equal(j.identified, true);
    assert.equal(j.candidates.length, 1);
    assert.equal(j.more, 1);
    assert.equal(j.candidates[0]?.evidence[0]?.sharedBy, 2);
    assert.ok(j.ambiguous.some((a) => a.signal.startsWith('tie at the top') && a.families === 2));
    assert.ok(j.ambiguous.some((a) => a.signal === 'extension `.locked`' && a.families === 2));
    assert.equal(j.signals.samples[0]?.size, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('exit codes: 1 when nothing matches, 2 on unreadable inputs, a bad knowledge base, usage errors', async () => {
  const { dir, kb } = setup();
  try {
    const plain = join(dir, 'holiday.jpg');
    writeFileSync(plain, 'not encrypted');
    const none = await run(['identify', '--kb', kb, '--sample', plain]);
    assert.equal(none.code, 1);
    assert.match(none.out, /No known family matched/);
    const missing = await run(['identify', '--kb', kb, '--note', join(dir, 'nope.txt')]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /nope\.txt: cannot read the note: ENOENT/);
    writeFileSync(join(dir, 'bad.json'), '{"format": "vigil-ransom-kb/1", "families": [');
    const bad = await run(['identify', '--kb', join(dir, 'bad.json'), '--sample', plain]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /cannot load the knowledge base/);
    assert.equal((await run(['identify', '--kb', kb])).code, 2);
    assert.equal((await run(['identify', '--kb', kb, '--sample', plain, '--top', 'x'])).code, 2);
    assert.equal((await run(['identify', '--bogus'])).code, 2);
    const help = await run(['identify', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /--note <file>/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the shipped knowledge base identifies WannaCry from its extension, note name and file header', async (t) => {
  const shipped = shippedKnowledgeBasePath();
  if (!existsSync(shipped)) {
    t.skip(`the shipped knowledge base ${shipped} is not built yet`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ransom-cli-'));
  try {
    for (let i = 0; i < 4; i++) writeFileSync(join(dir, `report${i}.docx.WNCRY`), Buffer.concat([Buffer.from('WANACRY!'), Buffer.alloc(100, i)]));
    writeFileSync(join(dir, '@Please_Read_Me@.txt'), 'Q: What\'s wrong with my files?\nA: Ooops, your important files are encrypted.');
    const r = await run(['identify', '--kb', shipped, '--dir', dir, '--json']);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { candidates: { name: string; confidence: number; evidence: { signal: string }[] }[] };
    assert.match(j.candidates[0]?.name ?? '', /wanna/i);
    assert.deepEqual([...new Set(j.candidates[0]?.evidence.map((e) => e.signal))].sort(), ['extension', 'marker', 'note-name']);
    t.diagnostic(`top: ${j.candidates[0]?.name} (confidence ${j.candidates[0]?.confidence})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a sample encrypted only at its start is reported as partly encrypted', async () => {
  const { dir, kb } = setup();
  try {
    const s = join(dir, 'disk.vmdk.locked');
    const b = Buffer.alloc(200_000, 0x41);
    let x = 12345;
    for (let i = 0; i < 8192; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; b[i] = x >>> 24; }
    writeFileSync(s, b);
    const r = await run(['identify', '--kb', kb, '--sample', s]);
    assert.equal(r.code, 0);
    assert.match(r.out, /disk\.vmdk\.locked \(200000 bytes, entropy [\d.]+ bits\/byte; head 7\.\d\d, tail 0\.00: looks partly encrypted\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
