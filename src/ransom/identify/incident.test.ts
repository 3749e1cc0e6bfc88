/**
 * A shield incident's identification: the changed files' names, the notes and a few samples go
 * through the shipped knowledge base; a WannaCry-like incident is named, an incident with only a
 * widely shared extension is said to be ambiguous, a missing knowledge base is an error, not a throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { identifyIncident } from './incident.js';

test('a shield incident is identified from its files and notes with the shipped knowledge base', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-incident-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files: string[] = [];
  for (const n of ['report.docx', 'budget.xlsx', 'photo.jpg', 'notes.txt']) {
    const p = join(dir, `${n}.WNCRY`);
    writeFileSync(p, Buffer.concat([Buffer.from('WANACRY!'), randomBytes(4000)]));
    files.push(p);
  }
  const note = join(dir, '@Please_Read_Me@.txt');
  writeFileSync(note, 'Q:  What\'s wrong with my computer?\nA:  Your important files are encrypted.\nRun @WanaDecryptor@.exe\n');
  const r = identifyIncident({ files: [...files, note], notes: [note] });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.looked, { names: 4, notes: 1, samples: 4 });
  assert.match(r.candidates[0]?.name ?? '', /wanna/i, JSON.stringify(r.candidates.slice(0, 2)));
  assert.ok(r.candidates[0]!.evidence.some((e) => /extension|marker|note/.test(e)));
  t.diagnostic(`${r.candidates[0]!.name} ${r.candidates[0]!.confidence}: ${r.candidates[0]!.evidence.join('; ')}`);

  const locked = [join(dir, 'a.pdf.locked'), join(dir, 'b.png.locked')];
  for (const p of locked) writeFileSync(p, randomBytes(2000));
  const amb = identifyIncident({ files: locked, notes: [] });
  assert.ok(amb.ambiguous.some((a) => /`\.locked` is used by \d{2} families/.test(a)), JSON.stringify(amb.ambiguous));
  assert.ok(amb.candidates.every((c) => c.confidence < 0.5), 'a widely shared extension alone must not give a confident answer');

  const none = identifyIncident({ files: locked, notes: [], kbPath: join(dir, 'missing.json') });
  assert.match(none.error ?? '', /missing\.json/);
  assert.deepEqual(none.candidates, []);
});
