/**
 * Gathering signals from real files: note encodings (UTF-8, UTF-16 LE/BE with and without BOM,
 * Windows-1252), HTML notes, and hostile inputs — a 1 GiB sparse file as sample and as note (bounded
 * reads), binary garbage as a note, a directory loop through a symbolic link, 100,000 files against
 * the walk cap — plus a directory survey that finds the encrypted names, the notes and samples.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, linkSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { mulberry32 } from '../../core/random.js';
import { noteSignature } from '../kb/minhash.js';
import { compileKb, identify } from './score.js';
import { addTextSignals, decodeText, emptySignals, gatherSignals, htmlToText, noteFromBytes, readNoteFile, readSample, shannonEntropy, MAX_NOTE_BYTES, SAMPLE_BYTES } from './signals.js';
import { fam, kbOf } from './testkb.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'vigil-ransom-signals-'));
}

const NOTE = 'YOUR FILES ARE ENCRYPTED!\nTo decrypt them write to decrypt.help@protonmail.com and pay 0.1 bitcoin to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa.\n';

test('note encodings: BOMs, BOM-less UTF-16, UTF-8, Windows-1252', () => {
  const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(NOTE, 'utf16le')]);
  const be = Buffer.from(le);
  for (let i = 0; i < be.length; i += 2) [be[i], be[i + 1]] = [be[i + 1] as number, be[i] as number];
  assert.deepEqual(decodeText(le), { text: NOTE, encoding: 'utf-16le' });
  assert.deepEqual(decodeText(be), { text: NOTE, encoding: 'utf-16be' });
  assert.deepEqual(decodeText(Buffer.from(NOTE, 'utf16le')), { text: NOTE, encoding: 'utf-16le' });
  assert.deepEqual(decodeText(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('Vos fichiers sont chiffrés', 'utf8')])), { text: 'Vos fichiers sont chiffrés', encoding: 'utf-8' });
  assert.deepEqual(decodeText(Buffer.from([0x56, 0x6f, 0x73, 0x20, 0x66, 0x69, 0x63, 0x68, 0x69, 0x65, 0x72, 0x73, 0x20, 0x63, 0x68, 0x69, 0x66, 0x66, 0x72, 0xe9, 0x73])), { text: 'Vos fichiers chiffrés', encoding: 'windows-1252' });
});

test('HTML notes: scripts, styles and tags dropped, entities decoded', () => {
  const t = htmlToText('<html><head><title>x</title><style>p{color:red}</style></head><body><script>alert(1)</script><h1>Your files&nbsp;are encrypted</h1><p>Write to <b>a@b.cc</b> &amp; wait&#33;</p><!-- hidden --></body></html>');
  assert.equal(t, 'Your files are encrypted\nWrite to a@b.cc & wait!');
  const dir = tmp();
  try {
    writeFileSync(join(dir, 'HOW_TO_DECRYPT.hta'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`<html><body><div>${NOTE}</div></body></html>`, 'utf16le')]));
    const g = gatherSignals({ notes: [join(dir, 'HOW_TO_DECRYPT.hta')] });
    assert.equal(g.notes[0]?.html, true);
    assert.equal(g.notes[0]?.encoding, 'utf-16le');
    assert.deepEqual(g.signals.emails, ['decrypt.help@protonmail.com']);
    assert.deepEqual(g.signals.btc, ['1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hostile inputs: 1 GiB sparse sample and note are read in bounded amounts; binary garbage as a note', () => {
  const dir = tmp();
  try {
    const big = join(dir, 'huge.vmdk.locked');
    closeSync(openSync(big, 'w'));
    truncateSync(big, 1024 ** 3);
    const t0 = Date.now();
    const s = readSample(big);
    assert.equal(s.size, 1024 ** 3);
    assert.equal(s.head.length, SAMPLE_BYTES);
    assert.equal(s.tail.length, SAMPLE_BYTES);
    assert.equal(s.entropy, 0);
    const n = readNoteFile(big);
    assert.equal(n.truncated, true);
    assert.ok(n.text.length <= MAX_NOTE_BYTES);
    assert.equal(n.binary, true);
    assert.ok(Date.now() - t0 < 5000);

    const rnd = mulberry32(7);
    const junk = Buffer.alloc(200_000);
    for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rnd() * 256);
    writeFileSync(join(dir, 'README.txt'), junk);
    const g = gatherSignals({ notes: [join(dir, 'README.txt')], samples: [join(dir, 'missing.bin')] });
    assert.equal(g.notes[0]?.binary, true);
    assert.ok(g.problems.some((p) => p.path.endsWith('README.txt') && /does not look like text/.test(p.message)));
    assert.ok(g.problems.some((p) => p.path.endsWith('missing.bin') && /ENOENT/.test(p.message)));
    // Identification of garbage does not throw.
    identify(g.signals, kbOf([fam('a', { noteNames: ['readme.txt'] })]));
    // A small sample: head and tail overlap, entropy over the file once.
    writeFileSync(join(dir, 'small.bin'), Buffer.from([1, 2, 3, 4]));
    const small = readSample(join(dir, 'small.bin'));
    assert.equal(small.entropy, 2);
    assert.ok(Math.abs(shannonEntropy(junk) - 8) < 0.01);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pathological note texts (1 MiB each) are read, mined and identified in bounded time', (t) => {
  const M = 1024 * 1024;
  const kb = kbOf([fam('a', { noteNames: ['x.txt'], noteHashes: [noteSignature(NOTE)] })]);
  const texts: Record<string, string> = {
    letters: 'a'.repeat(M), 'open tags': '<a'.repeat(M / 2), 'html open tags': `<html>${'<a'.repeat(M / 2 - 3)}`, 'unclosed script': '<script>'.repeat(M / 8),
    'at signs': 'a@'.repeat(M / 2), 'dotted hosts': 'a@b.'.repeat(M / 4), base58: '1'.repeat(M), entities: '&#x'.repeat(M / 3),
  };
  for (const [what, text] of Object.entries(texts)) {
    const t0 = Date.now();
    const n = noteFromBytes(what.startsWith('html') ? 'x.html' : 'x.txt', Buffer.from(text));
    const s = emptySignals();
    s.notes.push({ name: n.name, text: n.text });
    addTextSignals(s, n.text);
    identify(s, kb);
    const ms = Date.now() - t0;
    t.diagnostic(`${what}: ${ms} ms`);
    assert.ok(ms < 15_000, `${what}: ${ms} ms`);
  }
});

test('a FIFO or a device as a note or sample is refused without blocking', (t) => {
  const dir = tmp();
  try {
    const fifo = join(dir, 'README.txt');
    try {
      execFileSync('mkfifo', [fifo]);
    } catch {
      t.skip('mkfifo is not available');
      return;
    }
    const g = gatherSignals({ notes: [fifo, '/dev/zero'], samples: [fifo] });
    assert.equal(g.problems.length, 3);
    assert.ok(g.problems.every((p) => /not a regular file/.test(p.message)), JSON.stringify(g.problems));
    // Found while walking (a note name): skipped, no hang.
    const w = gatherSignals({ dir, index: compileKb(kbOf([fam('a', { noteNames: ['readme.txt'] })])) });
    assert.equal(w.signals.notes.length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('directory loop through a symbolic link: not followed, the walk ends', () => {
  const dir = tmp();
  try {
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    symlinkSync(join(dir, 'a'), join(dir, 'a', 'b', 'loop'));
    symlinkSync(dir, join(dir, 'a', 'up'));
    writeFileSync(join(dir, 'a', 'b', 'x.doc.qwe'), 'x');
    const g = gatherSignals({ dir });
    assert.equal(g.walk?.links, 2);
    assert.equal(g.walk?.dirs, 3);
    assert.equal(g.walk?.capped, false);
    // The root itself given as a link is followed (find -H), the links below it are not.
    const g2 = gatherSignals({ dir: join(dir, 'a', 'up') });
    assert.equal(g2.problems.length, 0);
    assert.equal(g2.walk?.dirs, 3);
    assert.equal(g2.walk?.links, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('100,000 files: the walk stops at the entry cap', () => {
  const dir = tmp();
  try {
    // Hard links (one file per folder: link counts are limited): 100,000 directory entries that
    // are regular files, made far faster than 100,000 new files.
    for (let d = 0; d < 10; d++) {
      const sub = join(dir, `d${d}`);
      mkdirSync(sub);
      const src = join(dir, `src${d}.jpg.qzx`);
      writeFileSync(src, 'x');
      for (let i = 0; i < 10_000; i++) linkSync(src, join(sub, `f${i}.jpg.qzx`));
    }
    const t0 = Date.now();
    const g = gatherSignals({ dir });
    const ms = Date.now() - t0;
    assert.equal(g.walk?.capped, true);
    assert.equal(g.walk?.entries, 50_000);
    assert.ok((g.walk?.files ?? 0) < 50_000);
    assert.ok(g.signals.encryptedNames.length <= 2000);
    assert.deepEqual(g.walk?.groups[0], { extension: '.qzx', count: g.walk?.files, known: false });
    assert.ok(ms < 30_000, `${ms} ms`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('directory survey: ordinary files are not taken for encrypted ones by broad or ordinary-looking patterns', () => {
  const dir = tmp();
  try {
    const kb = kbOf([
      fam('tesla', { extensions: [{ kind: 'suffix', value: '.mp3' }] }),
      fam('broad', { extensions: [{ kind: 'regex', value: '\\.[a-z]{3,6}$' }] }),
    ]);
    for (const n of ['song.mp3', 'tune.mp3', 'photo.jpeg', 'notes.odt', 'a.pdf', 'b.pdf']) writeFileSync(join(dir, n), 'x');
    writeFileSync(join(dir, 'photo.jpg.mp3'), 'x');
    const g = gatherSignals({ dir, index: compileKb(kb) });
    assert.deepEqual(g.signals.encryptedNames, ['photo.jpg.mp3']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('directory survey: encrypted names, notes by name and by keywords, samples, contacts', () => {
  const dir = tmp();
  try {
    const kb = kbOf([
      fam('dharma', { extensions: [{ kind: 'template', value: '.id-[ID].[[EMAIL]].[EXT]' }], noteNames: ['files encrypted!!.txt'], emails: ['paymentbtc@firemail.cc'] }),
      fam('other', { extensions: [{ kind: 'suffix', value: '.cmb' }] }),
    ]);
    mkdirSync(join(dir, 'docs'));
    const rnd = mulberry32(1);
    for (let i = 0; i < 12; i++) {
      const b = Buffer.alloc(10_000);
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
      writeFileSync(join(dir, 'docs', `report${i}.docx.id-1E857D00.[paymentbtc@firemail.cc].cmb`), b);
    }
    writeFileSync(join(dir, 'docs', 'notes.txt'), 'shopping list: milk, bread');
    writeFileSync(join(dir, 'FILES ENCRYPTED!!.txt'), 'all your data has been locked us\nYou want to return?\nwrite email paymentbtc@firemail.cc');
    // The same note dropped in every folder counts once.
    writeFileSync(join(dir, 'docs', 'FILES ENCRYPTED!!.txt'), 'all your data has been locked us\nYou want to return?\nwrite email paymentbtc@firemail.cc');
    writeFileSync(join(dir, 'info.txt'), 'Your files are encrypted. To restore them buy bitcoin and contact us.');
    const g = gatherSignals({ dir, index: compileKb(kb) });
    assert.equal(g.signals.encryptedNames.length, 12);
    assert.deepEqual(g.signals.notes.map((n) => n.name).sort(), ['FILES ENCRYPTED!!.txt', 'info.txt']);
    assert.equal(g.walk?.notes.length, 3);
    assert.ok(g.signals.emails.includes('paymentbtc@firemail.cc'));
    assert.equal(g.signals.samples.length, 5);
    assert.ok(g.signals.samples.every((s) => s.entropy > 7.5));
    const r = identify(g.signals, kb);
    assert.equal(r.candidates[0]?.family.id, 'dharma');
    assert.deepEqual(r.candidates[0]?.evidence.map((e) => e.signal).sort(), ['email', 'extension', 'note-name']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
