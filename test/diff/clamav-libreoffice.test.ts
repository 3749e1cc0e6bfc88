/**
 * Office documents made by LibreOffice: seeded texts and tables carrying the planted marks,
 * converted by `soffice --headless` to Word 97 (.doc), OOXML (.docx, .xlsx), OpenDocument (.odt,
 * .ods), RTF, Excel 97 (.xls) and PDF, also zipped and gzipped; `vigil scan` prints clamscan's
 * `FOUND` lines in default mode and with `--allmatch`. Skips with a message when LibreOffice or
 * clamscan is absent.
 */
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const SOFFICE = ['soffice', 'libreoffice'].find((c) => spawnSync(c, ['--version'], { timeout: 60_000 }).status === 0);
const WORDS = ['report', 'quarterly', 'invoice', 'budget', 'summary', 'meeting', 'project', 'review', 'draft', 'final'];

test(`LibreOffice documents: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP || (!SOFFICE && 'LibreOffice (soffice) is not installed'), timeout: 15 * 60_000 }, async (t) => {
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-lo-'));
  const src = join(dir, 'src');
  const data = join(dir, 'data');
  mkdirSync(src);
  mkdirSync(data);
  const text = (): string => {
    const lines: string[] = [];
    for (let i = rng.int(3, 30); i > 0; i--) lines.push(Array.from({ length: rng.int(3, 12) }, () => rng.pick(WORDS)).join(' '));
    if (rng.chance(0.8)) lines.splice(rng.int(0, lines.length), 0, `see ${rng.pick(MARKS)} here`);
    return lines.join('\n') + '\n';
  };
  for (let f = 0; f < 8; f++) writeFileSync(join(src, `w${f}.txt`), text());
  for (let f = 0; f < 4; f++) writeFileSync(join(src, `c${f}.csv`), text().split('\n').map((l) => l.split(' ').join(',')).join('\n'));
  const profile = `-env:UserInstallation=file://${join(dir, 'profile')}`;
  const convert = (to: string, inputs: string[]): void => {
    const r = spawnSync(SOFFICE!, [profile, '--headless', '--convert-to', to, '--outdir', data, ...inputs], { timeout: 300_000, stdio: 'ignore' });
    if (r.status !== 0) t.diagnostic(`soffice --convert-to ${to} failed (${r.status ?? r.signal})`);
  };
  const texts = readdirSync(src).filter((n) => n.endsWith('.txt')).map((n) => join(src, n));
  const tables = readdirSync(src).filter((n) => n.endsWith('.csv')).map((n) => join(src, n));
  // Each conversion writes NAME.<ext>; convert in turn so that the outputs do not overwrite each other.
  const targets: [string, string[]][] = [['doc:MS Word 97', texts], ['docx', texts], ['odt', texts], ['rtf', texts], ['pdf', texts], ['xls', tables], ['xlsx', tables], ['ods', tables]];
  for (const [to, inputs] of targets) convert(to, inputs);
  const made = readdirSync(data);
  t.diagnostic(`LibreOffice made ${made.length} documents: ${[...new Set(made.map((n) => n.slice(n.lastIndexOf('.'))))].join(' ')}`);
  for (const n of made.slice(0, 12)) {
    const b = readFileSync(join(data, n));
    if (rng.chance(0.5)) writeFileSync(join(data, `${n}.gz`), gzipSync(b));
    else spawnSync('zip', ['-q', join(data, `${n}.zip`), n], { cwd: data });
  }
  // The documents' bytes are LibreOffice's own: only the planted marks are known, and one hash line keeps the database valid.
  await compareLayers(t, dir, ['00112233445566778899aabbccddeeff:17:Never.Seen'], [[], ['--allmatch']]);
});
