/**
 * Canaries: real documents under early-sorting names, never overwriting a user's file, touches
 * (write, move, delete) reported once by the tripwire, reads not, re-planted on refresh, and a
 * manifest that lets a restart recognise them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Canaries } from './canary.js';
import { sniffMagic, expectedMagic } from './sniff.js';

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-canary-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const until = async (cond: () => boolean, ms = 3000): Promise<boolean> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
};

test('planted canaries are valid documents of their extension, sorted first, one hidden', async (t) => {
  const d = tmp(t);
  writeFileSync(join(d, 'Annual report.docx'), 'user file');
  const c = new Canaries();
  const recs = await c.plant(d);
  assert.equal(recs.length, 6);
  for (const r of recs) {
    const head = readFileSync(r.path).subarray(0, 1024);
    assert.ok((expectedMagic(r.path) ?? []).includes(sniffMagic(head)!), r.path);
  }
  const names = readdirSync(d).sort();
  assert.ok(names[0]!.startsWith('!'), names.join(' | '));
  assert.ok(names.some((n) => n.startsWith('.')));
  assert.equal(names.at(-1)!.startsWith('~'), true);
  // The large decoy is in the first place of the walk.
  assert.ok(readFileSync(join(d, '!0 Contract signed.pdf')).length > 1_000_000);
  const small = await new Canaries().plant(mkdtempSync(join(d, 'sub-')), { small: true });
  assert.ok(small.every((r) => r.size < 200_000));
});

test("a user's file under a canary's name is never overwritten", async (t) => {
  const d = tmp(t);
  writeFileSync(join(d, '!0 Contract signed.pdf'), 'not a pdf, mine');
  const c = new Canaries();
  const recs = await c.plant(d);
  assert.equal(readFileSync(join(d, '!0 Contract signed.pdf'), 'utf8'), 'not a pdf, mine');
  assert.equal(recs.length, 5);
  assert.equal(c.isCanary(join(d, '!0 Contract signed.pdf')), false);
});

test('tripwires: reads are not touches; a write, a move and a delete are, once each; refresh re-plants', async (t) => {
  const d = tmp(t);
  const touches: string[] = [];
  const c = new Canaries({ onTouch: (p, detail) => touches.push(`${p.slice(d.length + 1)}: ${detail}`) });
  const recs = await c.plant(d);
  c.arm();
  t.after(() => c.close());
  for (const r of recs) readFileSync(r.path);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(touches, []);
  const [a, b, e] = recs.map((r) => r.path) as [string, string, string];
  appendFileSync(a, 'x');
  appendFileSync(a, 'y');
  renameSync(b, b + '.locked');
  unlinkSync(e);
  assert.ok(await until(() => touches.length >= 3), touches.join('\n'));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(touches.length, 3, touches.join('\n'));
  assert.equal(await c.refresh(), 1);
  for (const p of [a, b, e]) assert.equal(await c.verify(p), null, p);
  // Armed again after re-planting.
  writeFileSync(e, 'changed');
  assert.ok(await until(() => touches.length === 4), touches.join('\n'));
});

test('the manifest lets a restart recognise its canaries (and notice one changed meanwhile)', async (t) => {
  const d = tmp(t);
  const manifest = join(d, 'state', 'canaries.json');
  const first = new Canaries({ manifest });
  const recs = await first.plant(d);
  const before = recs.map((r) => readFileSync(r.path).toString('base64'));
  writeFileSync(recs[1]!.path, 'encrypted meanwhile');
  const touches: string[] = [];
  const second = new Canaries({ manifest, onTouch: (p) => touches.push(p) });
  await second.load();
  const again = await second.plant(d);
  assert.equal(again.length, 6);
  assert.deepEqual(touches, [recs[1]!.path]);
  recs.forEach((r, i) => { if (i !== 1) assert.equal(readFileSync(r.path).toString('base64'), before[i]); });
  assert.equal(await second.verify(recs[1]!.path), null);
  // A corrupt manifest is an empty one.
  writeFileSync(manifest, '{not json');
  const third = new Canaries({ manifest });
  await third.load();
  assert.equal(third.list().length, 0);
});
