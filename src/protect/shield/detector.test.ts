/**
 * Unit tests of the shield's signals: magic sniffing and magic loss, entropy transitions, notes,
 * encrypted copies replacing documents, scoring, and what must not be a signal (new compressed
 * files, format-preserving rewrites).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync, renameSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { Detector, type Alert } from './detector.js';
import { highThreshold, isHigh, isLow, lookAt, sniffMagic, decodesAsCompressed } from './sniff.js';
import { isNote, matchNote, noteName, noteText } from './notes.js';
import { makeDocument } from './testdocs.js';
import { prng } from './formats.js';
import type { FileEvent } from '../types.js';

const aes = (b: Buffer): Buffer => createCipheriv('aes-256-ctr', randomBytes(32), randomBytes(16)).update(b);
const ev = (type: FileEvent['type'], path: string, time = Date.now()): FileEvent => ({ type, path, time });

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-shield-unit-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('magic sniffing recognises the document formats and nothing in ciphertext', () => {
  const rnd = prng(1);
  const expect: Record<string, string> = { pdf: 'pdf', docx: 'zip', xlsx: 'zip', jpg: 'jpeg', png: 'png', gif: 'gif' };
  for (const [kind, magic] of Object.entries(expect)) {
    const doc = makeDocument(kind, rnd);
    assert.equal(sniffMagic(doc), magic, kind);
  }
  assert.equal(sniffMagic(Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0])), 'ole2');
  assert.equal(sniffMagic(gzipSync('x')), 'gzip');
  assert.equal(sniffMagic(Buffer.from('plain words')), null);
  // Ciphertext rarely starts with a signature: over 2,000 random heads, the 2-byte ones (MZ, gzip,
  // an MP3 frame sync) may occur by chance, a handful at most.
  let hits = 0;
  for (let i = 0; i < 2000; i++) if (sniffMagic(randomBytes(64)) !== null) hits++;
  assert.ok(hits < 20, `${hits} random heads took for a format`);
});

test('entropy: random samples are high, text and documents of text are low, at every sample size', () => {
  for (const n of [128, 256, 1000, 4096, 20000]) {
    for (let i = 0; i < 50; i++) assert.ok(isHigh(lookAt(randomBytes(n))), `random ${n} bytes below ${highThreshold(n)}`);
  }
  const rnd = prng(2);
  for (const kind of ['txt', 'csv', 'md', 'html', 'json', 'pdf']) {
    const look = lookAt(makeDocument(kind, rnd));
    assert.ok(isLow(look) && !isHigh(look), `${kind}: ${look.entropy.join('/')}`);
  }
});

test('a claimed compressed file is checked by decoding it', async (t) => {
  const d = tmp(t);
  const text = Buffer.from('some text '.repeat(3000));
  writeFileSync(join(d, 'a.js.br'), brotliCompressSync(text));
  writeFileSync(join(d, 'b.js.br'), aes(brotliCompressSync(text)));
  writeFileSync(join(d, 'c.gz'), gzipSync(text));
  writeFileSync(join(d, 'd.gz'), randomBytes(5000));
  assert.equal(await decodesAsCompressed(join(d, 'a.js.br')), true);
  assert.equal(await decodesAsCompressed(join(d, 'b.js.br')), false);
  assert.equal(await decodesAsCompressed(join(d, 'c.gz')), true);
  assert.equal(await decodesAsCompressed(join(d, 'd.gz')), false);
});

test('ransom note names and texts', () => {
  const notes = [
    'HOW_TO_DECRYPT_FILES.txt', '_readme.txt', 'Restore-My-Files.txt', '@Please_Read_Me@.txt', 'RECOVER-FILES.txt',
    'FILES ENCRYPTED.txt', 'info_decrypt.hta', '!!!_READ_ME_!!!.txt', 'README_FOR_DECRYPT.txt', 'how_to_back_files.html',
    'DECRYPT-FILES.html', 'YOUR_FILES_ARE_ENCRYPTED.HTML', 'unlock-your-files.txt', 'RyukReadMe.txt'.replace('RyukReadMe', 'Ryuk_RANSOM_ReadMe'),
  ];
  for (const n of notes) assert.ok(noteName(`/x/${n}`), n);
  const benign = ['README.txt', 'readme.md', 'notes.txt', 'Decryption lecture.pdf', 'restore.sh', 'install.txt', 'CHANGELOG.txt', 'report.html', 'index.html'];
  for (const n of benign) assert.ok(!noteName(`/x/${n}`), n);

  const note = 'ATTENTION! All your files have been encrypted. To decrypt them, pay 0.1 BTC. ' +
    'Contact us via Tor Browser at abcdefghijklmnop.onion. Your personal ID: 42.';
  const found = noteText(note);
  for (const k of ['files-encrypted', 'decrypt', 'payment', 'onion', 'tor', 'id']) assert.ok(found.includes(k), `${k} in ${found.join(',')}`);
  assert.equal(isNote(matchNote('/x/HOW_TO_DECRYPT.txt', Buffer.from(note))), 'strong');
  assert.equal(isNote(matchNote('/x/message.txt', Buffer.from(note))), 'weak');
  assert.equal(isNote(matchNote('/x/HOW_TO_DECRYPT.txt', Buffer.from('How to decrypt the exam answers with the key we use in class.'))), 'none');
  // UTF-16 and HTML notes.
  assert.equal(isNote(matchNote('/x/_readme.txt', Buffer.from('\ufeff' + note, 'utf16le'))), 'strong');
  assert.equal(isNote(matchNote('/x/DECRYPT.html', Buffer.from(`<html><b>Your files</b> <i>have been encrypted</i>. Send bitcoin to decrypt.</html>`))), 'strong');
});

async function primed(t: { after: (fn: () => void) => void }, kinds: string[], opts: { threshold?: number } = {}): Promise<{ d: string; det: Detector; paths: string[]; alerts: Alert[] }> {
  const d = tmp(t);
  const rnd = prng(5);
  const paths = kinds.map((k, i) => {
    const p = join(d, `doc${i}.${k}`);
    writeFileSync(p, makeDocument(k, rnd));
    return p;
  });
  const det = new Detector({ roots: [d], threshold: opts.threshold ?? 1000 });
  const alerts: Alert[] = [];
  det.onAlert((a) => alerts.push(a));
  assert.equal(await det.prime(d), paths.length);
  return { d, det, paths, alerts };
}

test('magic loss: each document format encrypted in place loses its signature', async (t) => {
  const kinds = ['pdf', 'docx', 'xlsx', 'jpg', 'png', 'gif'];
  const { det, paths } = await primed(t, kinds);
  for (const p of paths) {
    writeFileSync(p, aes(readFileSync(p)));
    const s = await det.feed(ev('update', p));
    assert.ok(s.some((x) => x.kind === 'magic-lost'), `${p}: ${JSON.stringify(s)}`);
  }
  // OLE2 (legacy Office) too.
  const { det: det2, d: d2 } = await primed(t, []);
  const ole = join(d2, 'old.doc');
  writeFileSync(ole, Buffer.concat([Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), Buffer.alloc(4000, 0x20)]));
  await det2.feed(ev('create', ole));
  writeFileSync(ole, aes(readFileSync(ole)));
  assert.ok((await det2.feed(ev('update', ole))).some((x) => x.kind === 'magic-lost'));
});

test('magic loss on intermittent encryption (head only) of a large PDF, entropy rise on text', async (t) => {
  const { det, paths } = await primed(t, ['pdf', 'txt', 'csv']);
  const big = paths[0]!;
  writeFileSync(big, Buffer.concat([readFileSync(big), Buffer.from('% padding\n'.repeat(4000))]));
  await det.feed(ev('update', big));
  const data = readFileSync(big);
  writeFileSync(big, Buffer.concat([aes(data.subarray(0, 4096)), data.subarray(4096)]));
  const s = await det.feed(ev('update', big));
  assert.ok(s.some((x) => x.kind === 'magic-lost'), JSON.stringify(s));
  assert.ok(s.some((x) => x.kind === 'entropy-rise' && /head/.test(x.detail)), JSON.stringify(s));
  for (const p of paths.slice(1)) {
    writeFileSync(p, aes(readFileSync(p)));
    const s2 = await det.feed(ev('update', p));
    assert.deepEqual(s2.map((x) => x.kind), ['entropy-rise'], p);
  }
});

test('an encrypted copy under a new extension replacing a document is a signal; the delete alone or the copy alone is not', async (t) => {
  const { d, det, paths } = await primed(t, ['docx', 'txt', 'pdf']);
  const [a, b] = paths as [string, string];
  // Copy alone (original kept): nothing.
  writeFileSync(a + '.locked', aes(readFileSync(a)));
  assert.deepEqual(await det.feed(ev('create', a + '.locked')), []);
  // Then the original goes: the pair is the signal, on the lost document.
  unlinkSync(a);
  const s = await det.feed(ev('delete', a));
  assert.equal(s.length, 1);
  assert.equal(s[0]!.kind, 'new-extension');
  assert.equal(s[0]!.path, a);
  assert.equal(s[0]!.related, a + '.locked');
  // Delete first, then the copy (events can come in either order).
  const bl = join(d, 'x8Yq1.random');
  writeFileSync(bl, aes(readFileSync(b)));
  unlinkSync(b);
  assert.deepEqual(await det.feed(ev('delete', b)), []);
  const s2 = await det.feed(ev('create', bl));
  assert.equal(s2[0]?.kind, 'new-extension');
  assert.equal(s2[0]?.path, b);
  // A delete alone.
  unlinkSync(paths[2]!);
  assert.deepEqual(await det.feed(ev('delete', paths[2]!)), []);
});

test('no signal: new compressed files, format-preserving rewrites, atomic saves, random files without a lost document', async (t) => {
  const { d, det, paths } = await primed(t, ['txt', 'docx', 'jpg', 'csv']);
  const all: string[] = [];
  const feed = async (e: FileEvent): Promise<void> => { for (const s of await det.feed(e)) all.push(`${s.kind} ${s.path}`); };
  const text = Buffer.from('const x = 1;\n'.repeat(5000));
  writeFileSync(join(d, 'bundle.js'), text);
  await feed(ev('create', join(d, 'bundle.js')));
  for (const [name, data] of [['bundle.js.br', brotliCompressSync(text)], ['bundle.js.gz', gzipSync(text)], ['key.bin', randomBytes(4096)], ['archive.zip', makeDocument('docx', prng(9))]] as const) {
    writeFileSync(join(d, name), data);
    await feed(ev('create', join(d, name)));
  }
  // Rebuild: rewrite the compressed outputs.
  writeFileSync(join(d, 'bundle.js.br'), brotliCompressSync(Buffer.concat([text, text])));
  await feed(ev('update', join(d, 'bundle.js.br')));
  // Atomic saves of every document: temp file then rename over, same format.
  const rnd = prng(11);
  for (const p of paths) {
    const kind = p.split('.').pop()!;
    const tmpName = join(d, `.${p.split('/').pop()}.tmp`);
    writeFileSync(tmpName, makeDocument(kind, rnd));
    await feed(ev('create', tmpName));
    renameSync(tmpName, p);
    await feed(ev('delete', tmpName));
    await feed(ev('update', p));
  }
  // A document converted to another format (docx -> pdf) keeps a signature.
  writeFileSync(paths[1]!, makeDocument('pdf', rnd));
  await feed(ev('update', paths[1]!));
  // The compressed build output's source deleted (a clean step): its copy decodes as brotli.
  unlinkSync(join(d, 'bundle.js'));
  await feed(ev('delete', join(d, 'bundle.js')));
  assert.deepEqual(all, []);
});

test('scoring: an alert at the threshold of distinct files in the window, not before; a strong note alone alerts', async (t) => {
  const { d, det, paths, alerts } = await primed(t, ['txt', 'txt', 'txt', 'txt'], { threshold: 3 });
  const t0 = Date.now();
  for (const [i, p] of paths.slice(0, 2).entries()) {
    writeFileSync(p, aes(readFileSync(p)));
    await det.feed(ev('update', p, t0 + i));
  }
  // Same file again: still two files.
  await det.feed(ev('update', paths[0]!, t0 + 5));
  assert.equal(alerts.length, 0);
  // The third file, but outside the window: no alert.
  writeFileSync(paths[2]!, aes(readFileSync(paths[2]!)));
  await det.feed(ev('update', paths[2]!, t0 + 60_000));
  assert.equal(alerts.length, 0);
  writeFileSync(paths[3]!, aes(readFileSync(paths[3]!)));
  await det.feed(ev('update', paths[3]!, t0 + 60_001));
  assert.equal(alerts.length, 0);
  const extra = join(d, 'more.csv');
  writeFileSync(extra, 'a,b\n1,2\n'.repeat(100));
  await det.feed(ev('create', extra, t0 + 60_002));
  writeFileSync(extra, aes(readFileSync(extra)));
  await det.feed(ev('update', extra, t0 + 60_003));
  assert.equal(alerts.length, 1);
  assert.match(alerts[0]!.reason, /^rate: 3 files/);
  assert.deepEqual(new Set(alerts[0]!.files), new Set([paths[2], paths[3], extra]));

  const n = join(d, 'HOW_TO_DECRYPT.txt');
  writeFileSync(n, 'Your files have been encrypted. Pay in bitcoin to decrypt them.');
  await det.feed(ev('create', n, t0 + 120_000));
  assert.equal(alerts.length, 2);
  assert.equal(alerts[1]!.reason, 'note');
});
