/**
 * YARA rules in a ClamAV database: `vigil scan -d rules.yar` against `clamscan -d rules.yar` on
 * the same seeded rules and files — the same `FOUND` lines (default mode and `--allmatch`, where
 * ClamAV reports a YARA rule once per pass whose targets include 0) and the same exit codes.
 *
 * Rules stay inside what ClamAV's YARA support accepts (text strings with nocase / wide / ascii,
 * hex strings with wildcards and short jumps, conditions over string sets, counts, offsets and
 * filesize); what vigil adds beyond that is listed in docs/compatibility.md and tested elsewhere.
 * Skips with a message when clamscan 1.4 is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP, runClamscan } from '../helpers/clamscan-run.js';
import { foundLines as found, vigilScan } from './layers-diff.js';

const SEED = process.env['VIGIL_CLAM_YARA_SEED'] ?? '20261129';
const WORDS = ['kestrel', 'plover', 'merlin', 'osprey', 'curlew', 'dunlin', 'gannet', 'puffin', 'shrike', 'siskin'];

function hexOf(text: string): string {
  return Buffer.from(text, 'latin1').toString('hex').replace(/(..)/g, '$1 ').trim().toUpperCase();
}

function generate(rng: Prng): { rules: string; files: { name: string; data: Buffer }[] } {
  const rules: string[] = [];
  for (let r = 0; r < 120; r++) {
    const w1 = rng.pick(WORDS) + rng.int(0, 9);
    const w2 = rng.pick(WORDS);
    const h = hexOf(rng.pick(WORDS));
    const mod = rng.pick(['', ' nocase', ' wide', ' ascii wide', ' wide nocase']);
    const hex = rng.pick([
      `{ ${h} }`,
      `{ ${h.slice(0, 5)} ?? ${h.slice(9)} }`,
      `{ ${h.slice(0, 8)} [1-4] ${h.slice(-5)} }`,
    ]);
    const cond = rng.pick([
      'any of them', 'all of them', '$a and $b', '$a or $c', '#a >= 2', '$b and not $a', '2 of them',
      '$a at 4', '$c in (0..200)', 'filesize < 400 and $b', '#b == 1 and $c',
    ]);
    // Every string must be referenced: `filesize == 0` never holds for the generated files.
    rules.push(`rule rule_${r} {\n  strings:\n    $a = "${w1}"${mod}\n    $b = "${w2}"\n    $c = ${hex}\n  condition:\n    (${cond}) or (all of them and filesize == 0)\n}`);
  }
  const files: { name: string; data: Buffer }[] = [];
  for (let f = 0; f < 40; f++) {
    const parts: Buffer[] = [Buffer.from(rng.pick(['abcd', '\x7fELF', 'MZ\x90\x00', '%PDF-1.4\n', '\x00\x01\x02\x03']), 'latin1')];
    for (let i = rng.int(2, 14); i > 0; i--) {
      const w = rng.pick(WORDS) + (rng.chance(0.5) ? String(rng.int(0, 9)) : '');
      const form = rng.int(0, 4);
      const text = form === 0 ? w.toUpperCase() : w;
      parts.push(form === 1 ? Buffer.from(text, 'utf16le') : Buffer.from(text, 'latin1'));
      parts.push(Buffer.from(rng.pick([' ', '_', '\n', '\0', '--', 'xx']), 'latin1'));
    }
    files.push({ name: `f${String(f).padStart(2, '0')}.bin`, data: Buffer.concat(parts) });
  }
  return { rules: rules.join('\n') + '\n', files };
}

test(`vigil scan with a .yar database prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(SEED);
  const { rules, files } = generate(rng);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-yara-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  writeFileSync(join(dir, 'rules.yar'), rules);
  for (const f of files) writeFileSync(join(data, f.name), f.data);
  for (const mode of [[], ['--allmatch']]) {
    const args = ['--no-summary', ...mode, '-d', join(dir, 'rules.yar'), data];
    const clam = await runClamscan(args);
    const mine = vigilScan(args);
    const want = found(clam.out);
    assert.ok(want.length >= 10, `the generated files make rules fire (${want.length} lines)`);
    assert.deepEqual(found(mine.out), want, `mode ${mode.join(' ') || 'default'}; rules in ${dir}`);
    assert.equal(mine.code, clam.code);
    t.diagnostic(`${mode.join(' ') || 'default'}: ${want.length} FOUND lines agree`);
  }
  // Every rule counts as a signature, as in clamscan's summary.
  const known = (out: string) => /Known viruses: (\d+)/.exec(out)?.[1];
  const args = ['-d', join(dir, 'rules.yar'), join(data, files[0]!.name)];
  assert.equal(known(vigilScan(args).out), known((await runClamscan(args)).out));
});
