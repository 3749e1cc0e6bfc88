/**
 * Tests for the text normaliser: the byte table, chunking independence, ClamAV's buffer effects
 * (whitespace state restarting at buffer boundaries; the scanner's overlapping buffers), and two
 * differential tests: the stream form against `sigtool --ascii-normalise`, and the scanner form
 * against what `clamscan --allmatch` reports for target-7 and target-0 signatures of lower-case
 * text on generated files (mixed case, extra whitespace, UTF-8, UTF-16 with and without BOM,
 * control bytes, layers longer than one buffer, a MaxScriptNormalize limit, and --normalize=no).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../test/helpers/prng.js';
import { detectFileType, scanPasses } from '../formats/filetype.js';
import {
  createScriptScanNormaliser, createTextNormaliser, normaliseText, scriptNormalisationApplies, scriptScanBlocks,
  SCRIPT_BUFFER_SIZE, type NormalisedBlock,
} from './textnorm.js';

const enc = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const dec = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

function chunked<T>(bytes: Uint8Array, rng: Prng, feed: (c: Uint8Array) => T[] | T): T[] {
  const out: T[] = [];
  for (let i = 0; i < bytes.length; ) {
    const n = rng.int(0, 9000);
    const r = feed(bytes.subarray(i, i + n));
    if (Array.isArray(r)) out.push(...r); else out.push(r);
    i += n;
  }
  return out;
}

// ───────────────────────────── unit tests ─────────────────────────────

test('createTextNormaliser lower-cases, collapses whitespace and drops controls and high bytes', () => {
  assert.equal(dec(normaliseText(enc('Hello  \t\r\n WORLD\x00\x01\x7f\x80\xff!'))), 'hello world\x7f!');
  assert.equal(dec(normaliseText(enc(' \v\f x'))), ' x');
  assert.equal(dec(normaliseText(enc('A\x00 \x00 B'))), 'a b');
  assert.equal(dec(normaliseText(Buffer.from('Ünïcödé Téxt', 'utf8'))), 'ncd txt');
});

test('createTextNormaliser turns UTF-16 into its ASCII letters by dropping zero bytes', () => {
  const le = Buffer.concat([Uint8Array.of(0xff, 0xfe), Buffer.from('Hello World\r\n', 'utf16le')]);
  assert.equal(dec(normaliseText(le)), 'hello world ');
  assert.equal(dec(normaliseText(Buffer.from(le).swap16())), 'hello world ');
  // A CJK character leaves its two bytes when both are printable: U+4E2D is 2D 4E.
  assert.equal(dec(normaliseText(Buffer.from('\u4e2d', 'utf16le'))), '-n');
});

test('createTextNormaliser gives the same output for any chunking', () => {
  const rng = new Prng('textnorm-chunks');
  const input = rng.bytesFrom(400_000, enc('aB \t\n\x00\x01\xc3Z'));
  const whole = normaliseText(input);
  const n = createTextNormaliser();
  const parts = chunked(input, rng, (c) => n.push(c));
  parts.push(n.end());
  assert.deepEqual(Buffer.concat(parts), Buffer.from(whole));
});

test('createTextNormaliser restarts its whitespace state at each block of input', () => {
  const input = enc('a'.repeat(9) + '  ' + 'b');
  assert.equal(dec(normaliseText(input, { blockSize: 10 })), 'a'.repeat(9) + '  b');
  assert.equal(dec(normaliseText(input, { blockSize: Infinity })), 'a'.repeat(9) + ' b');
  const big = enc('x'.repeat(SCRIPT_BUFFER_SIZE - 1) + '   y');
  assert.equal(dec(normaliseText(big)).slice(-4), 'x  y');
});

test('scriptScanBlocks gives one block at offset 0 for a short layer', () => {
  const blocks = scriptScanBlocks(enc('Some  TEXT'), 11);
  assert.deepEqual(blocks.map((b) => [dec(b.bytes), b.offset]), [['some text', 0]]);
  assert.deepEqual(scriptScanBlocks(new Uint8Array(0), 5).map((b) => b.bytes.length), [0]);
});

test('scriptScanBlocks starts each later block with the last maxPatLen bytes and counts them in the offset', () => {
  const input = enc('ab '.repeat(100_000));
  const blocks = scriptScanBlocks(input, 11);
  assert.deepEqual(blocks.map((b) => [b.offset, b.bytes.length]), [[0, 131072], [131072, 131083], [262155, 37867]]);
  assert.deepEqual(blocks[1]!.bytes.subarray(0, 11), blocks[0]!.bytes.subarray(131061));
  assert.deepEqual(blocks[2]!.bytes.subarray(0, 11), blocks[1]!.bytes.subarray(131072));
  // Without an overlap the blocks tile the normalised stream.
  const tiles = scriptScanBlocks(input, 0);
  assert.equal(Buffer.concat(tiles.map((b) => b.bytes)).length, input.length);
});

test('scriptScanBlocks emits a buffer before a page that might not fit, whatever the chunking', () => {
  const rng = new Prng('script-blocks');
  // Lots of dropped bytes: buffers fill by output, so they span more input than 128 KiB.
  const input = rng.bytesFrom(700_000, enc('Ab \n\x00\x00\x00\xe9'));
  const whole = scriptScanBlocks(input, 37);
  const n = createScriptScanNormaliser({ maxPatLen: 37 });
  const parts = chunked<NormalisedBlock>(input, rng, (c) => n.push(c));
  parts.push(...n.end());
  assert.deepEqual(parts.map((b) => [b.offset, Buffer.from(b.bytes).toString('hex')]), whole.map((b) => [b.offset, Buffer.from(b.bytes).toString('hex')]));
  assert.ok(whole.length >= 2);
  for (const b of whole) assert.ok(b.bytes.length <= SCRIPT_BUFFER_SIZE + 37);
});

test('scriptNormalisationApplies up to and including MaxScriptNormalize', () => {
  assert.ok(scriptNormalisationApplies(20 * 1024 * 1024));
  assert.ok(!scriptNormalisationApplies(20 * 1024 * 1024 + 1));
  assert.ok(!scriptNormalisationApplies(2001, 2000));
});

// ───────────────────────────── differential: sigtool ─────────────────────────────

const sigtoolProbe = spawnSync('sigtool', ['--version'], { encoding: 'utf8' });
const NO_SIGTOOL = sigtoolProbe.error || sigtoolProbe.status !== 0 ? 'sigtool is not installed (ClamAV 1.4 sigtool is the oracle for this test)' : false;

test('normaliseText writes what sigtool --ascii-normalise writes', { skip: NO_SIGTOOL }, () => {
  const rng = new Prng('sigtool-diff');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-norm-'));
  try {
    const inputs: Uint8Array[] = [
      enc('Hello World\r\n\tTabbed  Text\x00\x01 END\x7f'),
      Buffer.from('Grüße aus Köln — ✓ done', 'utf8'),
      Buffer.concat([Uint8Array.of(0xff, 0xfe), Buffer.from('UTF-16 Little Endian\r\n', 'utf16le')]),
      Buffer.from('UTF-16 Big Endian\u4e2d\r\n', 'utf16le').swap16(),
      rng.bytes(5000),
      // A whitespace run across the 131072-byte block boundary keeps two spaces.
      enc('x'.repeat(SCRIPT_BUFFER_SIZE - 2) + '    ' + 'y'.repeat(100)),
      rng.bytesFrom(300_000, enc('aZ \t\r\n\x00\x01\x80')),
      rng.bytesFrom(140_000, enc('  \n\nQ')),
    ];
    inputs.forEach((input, i) => {
      const sub = join(dir, String(i));
      mkdirSync(sub);
      writeFileSync(join(sub, 'in.bin'), input);
      const r = spawnSync('sigtool', ['--ascii-normalise=in.bin'], { cwd: sub, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const want = readFileSync(join(sub, 'normalised_text'));
      assert.equal(Buffer.from(normaliseText(input)).toString('hex'), want.toString('hex'), `input ${i}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ───────────────────────────── differential: clamscan ─────────────────────────────

interface Sig { name: string; target: number; text: string }

/** Lower-case signatures; N7UP is upper case, which a normalised buffer can never contain. */
const SIGS: Sig[] = [
  { name: 'N7A', target: 7, text: 'alphabravo' },
  { name: 'N7B', target: 7, text: 'charlie delta' },
  { name: 'N7UP', target: 7, text: 'KILOLIMA' },
  { name: 'N0A', target: 0, text: 'echofoxtrot' },
  { name: 'N0B', target: 0, text: 'golf hotel india juliet' },
];
/** ClamAV's maxpatlen of the target-7 matcher: its longest pattern. */
const MAXPATLEN7 = Math.max(...SIGS.filter((s) => s.target === 7).map((s) => s.text.length));

function count(hay: Uint8Array, needle: string): number {
  const s = dec(hay);
  let n = 0;
  for (let i = s.indexOf(needle); i >= 0; i = s.indexOf(needle, i + 1)) n++;
  return n;
}

/** Predicted `--allmatch` reports per signature name: raw pass(es), then normalised buffers. */
function predict(bytes: Uint8Array, maxScriptNormalize: number, normalize: boolean): Map<string, number> {
  const out = new Map<string, number>();
  const bump = (name: string, n: number): void => void (n && out.set(name, (out.get(name) ?? 0) + n));
  for (const pass of scanPasses(detectFileType(bytes), undefined, { normalize })) {
    let blocks: Uint8Array[];
    if (pass.input === 'raw') blocks = [bytes];
    else if (pass.input === 'normalised-text') {
      if (!scriptNormalisationApplies(bytes.length, maxScriptNormalize)) continue;
      blocks = scriptScanBlocks(bytes, MAXPATLEN7).map((b) => b.bytes);
    } else throw new Error(`unexpected pass ${pass.input}`);
    for (const s of SIGS) if (pass.targets.includes(s.target)) for (const b of blocks) bump(s.name, count(b, s.text));
  }
  return out;
}

function mixedCase(rng: Prng, s: string): string {
  return [...s].map((c) => (rng.chance(0.5) ? c.toUpperCase() : c)).join('');
}

const FILLER = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'consectetur', 'adipiscing', 'elit', 'sed', 'do'];

function text(rng: Prng, words: number, inserts: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(rng.pick(FILLER));
  for (const s of inserts) out.splice(rng.int(0, out.length), 0, s);
  return out.join(rng.pick([' ', ' ', '\n', ' \t ']));
}

interface Case { name: string; bytes: Uint8Array }

function buildCases(rng: Prng): Case[] {
  const cases: Case[] = [];
  const add = (name: string, bytes: Uint8Array): void => void cases.push({ name: `${String(cases.length).padStart(3, '0')}-${name}`, bytes });
  const ws = (): string => rng.pick([' ', '  ', '\t', '\r\n', ' \n\t ', '\x0b\x0c ']);
  const variants = (): string[] => [
    rng.chance(0.5) ? 'alphabravo' : mixedCase(rng, 'alphabravo'),
    `${mixedCase(rng, 'charlie')}${ws()}${mixedCase(rng, 'delta')}`,
    rng.chance(0.5) ? 'echofoxtrot' : mixedCase(rng, 'echofoxtrot'),
    ['golf', 'hotel', 'india', 'juliet'].map((w) => mixedCase(rng, w)).join(ws()),
    'KILOLIMA',
  ];
  for (let k = 0; k < 10; k++) {
    const ins = rng.sample(variants(), rng.int(1, 5));
    const t = text(rng, rng.int(5, 200), ins);
    add(`ascii-${k}`, enc(t));
    add(`utf8-${k}`, Buffer.from(t.replace(/o/g, 'ö').replace(/e/g, 'é'), 'utf8'));
    const le = Buffer.from(t, 'utf16le');
    add(`u16le-bom-${k}`, Buffer.concat([Uint8Array.of(0xff, 0xfe), le]));
    add(`u16le-${k}`, le);
    add(`u16be-bom-${k}`, Buffer.concat([Uint8Array.of(0xfe, 0xff), Buffer.from(le).swap16()]));
    add(`u16be-${k}`, Buffer.from(le).swap16());
    // A control byte or NUL inside a word: the type may become UTF-16BE or binary data.
    add(`ctrl-${k}`, enc(t.replace('alphabravo', `alpha${rng.pick(['\x01', '\x00', '\x1f'])}bravo`).replace('lorem', 'lo\x02rem')));
  }
  // Layers longer than one normalisation buffer. Raw-matchable words stay clear of the raw
  // scanner's own 128 KiB windows; upper-case ones are seen only by the normalised pass.
  const pad = 'qqqq ';
  const big = (puts: [number, string][]): Uint8Array => {
    const b = Buffer.from(pad.repeat(60_000), 'latin1');
    for (const [at, s] of puts) b.write(s, at, 'latin1');
    return b;
  };
  for (const d of [0, 5, 10, 11, 12, 20, 23, 25]) {
    add(`big7-${d}`, big([[131072 - d, 'ALPHABRAVO'], [40_000, 'alphabravo']]));
    add(`big0-${d}`, big([[262144 - d, 'GOLF HOTEL INDIA JULIET'], [50_000, 'echofoxtrot']]));
  }
  add('big-ws-boundary', big([[131070, '    '], [131074, 'CHARLIE DELTA']]));
  return cases;
}

const scanProbe = spawnSync('clamscan', ['--version'], { encoding: 'utf8' });
const NO_CLAMSCAN = scanProbe.error || scanProbe.status !== 0 ? 'clamscan is not installed (ClamAV 1.4 is the oracle for this test)' : false;

/** `file → signature → reports` from `clamscan --allmatch` output lines `path: Name.UNOFFICIAL FOUND`. */
function runClamscan(dir: string, db: string, extra: string[]): Map<string, Map<string, number>> {
  const r = spawnSync('clamscan', ['--no-summary', '--allmatch', ...extra, '-d', db, dir], { encoding: 'latin1', maxBuffer: 1 << 28, timeout: 120_000 });
  assert.equal(r.error, undefined);
  const out = new Map<string, Map<string, number>>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(.*): (\S+)\.UNOFFICIAL FOUND$/.exec(line);
    if (!m) continue;
    const file = m[1]!.slice(dir.length + 1);
    const per = out.get(file) ?? new Map<string, number>();
    per.set(m[2]!, (per.get(m[2]!) ?? 0) + 1);
    out.set(file, per);
  }
  return out;
}

test('clamscan --allmatch reports exactly the raw and normalised matches the scan buffers predict', { skip: NO_CLAMSCAN }, () => {
  const cases = buildCases(new Prng(Number(process.env.VIGIL_SEED ?? 0x5eed)));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-normscan-'));
  try {
    const files = join(dir, 'files');
    mkdirSync(files);
    for (const c of cases) writeFileSync(join(files, c.name), c.bytes);
    const db = join(dir, 'sigs.ndb');
    writeFileSync(db, SIGS.map((s) => `${s.name}:${s.target}:*:${Buffer.from(s.text, 'latin1').toString('hex')}`).join('\n') + '\n');
    const limit = 2000;
    const runs = [
      [[], 20 * 1024 * 1024, true],
      [[`--max-scriptnormalize=${limit}`], limit, true],
      [['--normalize=no'], 20 * 1024 * 1024, false],
    ] as const;
    for (const [extra, maxNorm, normalize] of runs) {
      const got = runClamscan(files, db, [...extra]);
      const wrong: string[] = [];
      let reports = 0;
      for (const c of cases) {
        const want = predict(c.bytes, maxNorm, normalize);
        const have = got.get(c.name) ?? new Map<string, number>();
        const show = (m: Map<string, number>): string => [...m].sort().map(([k, v]) => `${k}×${v}`).join(' ') || 'none';
        if (show(want) !== show(have)) wrong.push(`${c.name} (${detectFileType(c.bytes)}): clamscan ${show(have)}, predicted ${show(want)}`);
        for (const v of have.values()) reports += v;
      }
      assert.deepEqual(wrong, [], `with ${extra.join(' ') || 'default limits'}`);
      assert.ok(reports > (normalize ? 50 : 5), `${reports} reports compared`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
