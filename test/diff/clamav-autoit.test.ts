/**
 * AutoIt EA06 scripts: `vigil scan` against `clamscan` on seeded compiled scripts built by code
 * (token streams with every kind of token — keywords, built-in and user functions, macros,
 * variables, object members, strings, 32-bit and 64-bit integers, doubles, operators, line ends —
 * packed by AutoIt's LZSS or stored, encrypted, in an `AU3!EA06` container appended to a PE or
 * bare), many damaged (token streams cut, unknown ops, indexes past the tables, wrong line counts,
 * strings past the end or with wrapping lengths, operands ending at the end, text that is not
 * ASCII, random bytes changed; containers cut or with a flipped bit), beside plain files and a `NO CMDEXECUTE` entry.
 *
 * The decompiled text is compared byte for byte: each text vigil's reader gives has an MD5 hash
 * signature (so clamscan finds it only when it wrote the same bytes), and body signatures match
 * what only the decompiled text shows: a keyword sequence, decoded strings (the planted marks,
 * in quotes), formatted numbers (an int32, the 64-bit integer ClamAV prints with its signed low
 * half, `%g` doubles). The same sorted `FOUND` lines and exit codes in default mode, with
 * `--allmatch`, with MaxFiles, and with a MaxFileSize that some decompiled texts pass while their
 * tokens do not. Skips with a message when clamscan 1.4 or the PE carrying the data is absent.
 *
 * Not with MaxScanSize: ClamAV checks each entry's declared sizes against the scan size left
 * before extracting it (skipping the entry and going on), and counts the AutoIt view it pushes
 * inside the PE; readers are not told the scan size used so far, so vigil does neither yet.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP, runClamscan } from '../helpers/clamscan-run.js';
import { foundLines, MARKS, vigilScan } from './layers-diff.js';
import { buildAutoit } from '../../src/formats/installer/fixtures.js';
import { AutoitScriptWriter, damagedAutoitScript, SCRIPT_DAMAGE, SCRIPT_MAGIC } from '../../src/formats/installer/autoit-fixtures.js';
import { formatG } from '../../src/formats/installer/autoit-script.js';
import { scanAutoitEmbedded } from '../../src/formats/installer/autoit.js';
import { DEFAULT_UNPACK_OPTIONS, isChild } from '../../src/formats/unpack.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const STUB = '/usr/share/nsis/Stubs/zlib-x86-ansi';
let stub: Buffer | undefined;
try { stub = readFileSync(STUB); } catch { stub = undefined; }
const SKIP = CLAMSCAN_SKIP || (stub ? false : `${STUB} (a PE to carry the AutoIt data) is absent`);

/** Body signatures on what only the decompiled text shows. */
const TEXT_SIGS: readonly (readonly [string, string])[] = [
  ['AutoIt.Keywords', 'FOR $VIGIL_I = 0x00000000 TO 0x0000000a STEP 0x00000001 \n'],
  ['AutoIt.Functions', 'SHELLEXECUTE ( @TEMPDIR & "\\vigil.exe" ) \n'],
  ['AutoIt.Int32', '$VIGIL_N = 0x0badc0de '],
  ['AutoIt.Int64', '0x00000000deadbeef '],
  ['AutoIt.Double', '* 3.14159 / 1.23456e+06 - 1e-05 '],
  ['AutoIt.Nan', '-nan + inf '],
  ['AutoIt.Decoded', '"vigil decoded string" '],
];

/** Lines that carry the text of `TEXT_SIGS`. */
const FEATURES: readonly ((w: AutoitScriptWriter) => void)[] = [
  (w) => { w.keyword('FOR').variable('VIGIL_I').operator('=').int32(0).keyword('TO').int32(10).keyword('STEP').int32(1).lineEnd().keyword('NEXT'); },
  (w) => { w.func('SHELLEXECUTE').operator('(').macro('TEMPDIR').operator('&').string('\\vigil.exe').operator(')'); },
  (w) => { w.keyword('GLOBAL').variable('VIGIL_N').operator('=').int32(0x0badc0de).operator('+').int64(0x1deadbeefn); },
  (w) => { w.keyword('LOCAL').variable('D').operator('=').int32(2).operator('*').double(3.14159, '3.14159').operator('/').double(1234565, '1.23456e+06').operator('-').double(1e-5, '1e-05'); },
  (w) => { w.variable('Z').operator('=').double(new Uint8Array([0, 0, 0, 0, 0, 0, 0xf8, 0xff]), '-nan').operator('+').double(Infinity, 'inf'); },
  (w) => { w.func('MSGBOX').operator('(').int32(0).operator(',').string('vigil decoded string').operator(')'); },
];

const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

/** A script far longer as text (about 140 kB) than as tokens (100 kB): for MaxFileSize between the two. */
function bigScript(rng: Prng): Uint8Array {
  const w = new AutoitScriptWriter();
  for (let i = 0; i < 2800; i++) {
    w.keyword('LOCAL').variable(`V${i % 50}`).operator('=').func(rng.int(0, 405)).operator('(').int32(i).operator(',').keyword('TRUE').operator(')').lineEnd();
  }
  w.string(rng.pick(MARKS)).lineEnd();
  return w.bytes();
}

interface Sample { dir: string; hashes: string[] }

function generate(): Sample {
  const rng = new Prng(`autoit-${SEED}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-autoit-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  const unpackCtx = { limits: { maxFileSize: 1 << 26, maxFiles: 0, maxScanSize: 0 }, options: { ...DEFAULT_UNPACK_OPTIONS } };
  for (let f = 0; f < 64; f++) {
    const damage = SCRIPT_DAMAGE[f % SCRIPT_DAMAGE.length]!;
    const extra = FEATURES.filter(() => rng.chance(0.35));
    const entries: { name: string; data: Uint8Array; magic?: string; stored?: boolean }[] = [];
    if (rng.chance(0.5)) {
      const body = Buffer.from(`${rng.words(rng.int(5, 80))} ${rng.chance(0.5) ? rng.pick(MARKS) : ''}`, 'latin1');
      entries.push({ name: 'readme.txt', data: body });
    }
    const big = f % 16 === 5;
    const tokens = big ? bigScript(rng) : damagedAutoitScript(() => rng.next(), MARKS, formatG, damage, extra);
    // Some token streams with a few random bytes changed (ops, indexes, lengths, operands).
    const mutated = !big && rng.chance(0.15);
    if (mutated) {
      for (let k = rng.int(1, 4); k > 0; k--) {
        const p = rng.int(4, tokens.length - 1);
        tokens[p] = rng.chance(0.5) ? rng.int(0, 255) : tokens[p]! ^ (1 << rng.int(0, 7));
      }
    }
    entries.push({ name: 'script.au3', data: tokens, magic: SCRIPT_MAGIC, stored: rng.chance(0.25) });
    if (rng.chance(0.25)) entries.push({ name: 'again.au3', data: damagedAutoitScript(() => rng.next(), MARKS, formatG, 'none', extra), magic: SCRIPT_MAGIC });
    if (rng.chance(0.2)) entries.push({ name: 'cmd.txt', data: Buffer.from(`${rng.words(10)} ${rng.pick(MARKS)}`, 'latin1'), magic: '>>>AUTOIT NO CMDEXECUTE<<<' });
    if (rng.chance(0.3)) entries.reverse();
    let au = Buffer.from(buildAutoit(entries, true));
    const cut = rng.chance(0.12), flip = !cut && rng.chance(0.12);
    if (cut) au = au.subarray(0, rng.int(60, au.length - 1));
    else if (flip) {
      const at = rng.int(60, au.length - 1);
      au[at] = au[at]! ^ (1 << rng.int(0, 7));
    }
    // Every text and file the reader gives is hashed: clamscan finds it only with the same bytes.
    let n = 0;
    for (const item of scanAutoitEmbedded(au, 0, unpackCtx)) {
      n++;
      if (!isChild(item) || item.data.length === 0) continue;
      const plain = entries.some((e) => e.magic !== SCRIPT_MAGIC && Buffer.from(e.data).equals(item.data));
      hashes.push(`${md5(item.data)}:${item.data.length}:${plain ? 'Inner.File' : 'Script'}.${f}.${n}`);
    }
    // The large scripts bare: with the PE they would pass MaxFileSize as a whole.
    const bare = big || rng.chance(0.2);
    const name = `a${String(f).padStart(2, '0')}-${damage}${mutated ? '-mut' : ''}${cut ? '-cut' : flip ? '-flip' : ''}.${bare ? 'bin' : 'exe'}`;
    writeFileSync(join(data, name), bare ? au : Buffer.concat([stub!, au]));
  }
  return { dir, hashes };
}

/**
 * As `compareLayers` (./layers-diff.ts), with the text signatures of this file loaded beside the
 * marks and hashes: the same sorted `FOUND` lines and exit codes in each mode.
 */
async function compare(t: TestContext, dir: string, hashes: readonly string[], modes: readonly (readonly string[])[]): Promise<void> {
  const data = join(dir, 'data');
  writeFileSync(join(dir, 'marks.ndb'), MARKS.map((m, i) => `Mark.${i}:0:*:${hex(m)}`).join('\n') + '\n');
  writeFileSync(join(dir, 'text.ndb'), TEXT_SIGS.map(([name, s]) => `${name}:0:*:${hex(s)}`).join('\n') + '\n');
  writeFileSync(join(dir, 'inner.hdb'), hashes.join('\n') + '\n');
  for (const mode of modes) {
    const args = ['--no-summary', ...mode, '-d', join(dir, 'marks.ndb'), '-d', join(dir, 'text.ndb'), '-d', join(dir, 'inner.hdb'), data];
    const clam = await runClamscan(args);
    const mine = vigilScan(args);
    const want = foundLines(clam.out);
    assert.ok(want.length >= 10, `the generated files carry detections (${want.length})`);
    assert.deepEqual(foundLines(mine.out), want, `mode ${mode.join(' ') || 'default'}; files in ${dir}`);
    assert.equal(mine.code, clam.code);
    const by = (p: string): number => want.filter((l) => l.includes(`: ${p}`)).length;
    t.diagnostic(`${mode.join(' ') || 'default'}: ${want.length} FOUND lines agree (script hashes ${by('Script.')}, text signatures ${by('AutoIt.')}, marks ${by('Mark.')}, files ${by('Inner.')})`);
  }
}

test(`AutoIt EA06 scripts: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: SKIP }, async (t) => {
  const { dir, hashes } = generate();
  await compare(t, dir, hashes, [[], ['--allmatch'], ['--allmatch', '--max-files=2'], ['--max-files=3']]);
});

test(`AutoIt EA06 scripts under a MaxFileSize between tokens and text: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: SKIP }, async (t) => {
  const { dir, hashes } = generate();
  await compare(t, dir, hashes, [['--allmatch', '--max-filesize=120000'], ['--max-filesize=120000'], ['--allmatch', '--max-filesize=120000', '--alert-exceeds-max'], ['--max-filesize=120000', '--alert-exceeds-max']]);
});
