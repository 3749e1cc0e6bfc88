/**
 * Tests of the hash-database parser: every rule of reference §1.0/§1.1 as unit tests, then a
 * differential test that writes seeded random good and malformed databases, runs clamscan 1.4 on
 * them and requires the same verdict (load fails, with the same message) and, for loads that
 * succeed, the same detections (with and without --allmatch: the same files, and each name one
 * of the signatures of its group; the exact choice among duplicates is tested with the index in
 * engine/hashindex.test.ts).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Diagnostic } from '../../core/diagnostics.js';
import { hasErrors } from '../../core/diagnostics.js';
import type { HashAlgo, HashSig } from './types.js';
import {
  CLAMAV_LOAD_ERROR, cAtoi, cStrtoul, clamavLoadError, clamavVirname, collectHashSigs, hashKindOf, parseHashDb,
  type HashDbKind,
} from './hash.js';
import { IgnoreSet, parseIgn } from './ign.js';
import { mulberry32 as prng } from '../../../test/helpers/prng.js';
import { CLAMSCAN_SKIP, pool, runClamscan } from '../../../test/helpers/clamscan-run.js';

const MD5 = 'b1946ac92492d2347c6235b4d2611184'; // md5("hello\n"), 6 bytes
const SHA1 = 'f572d396fae9206628714fb2ce00f72e94f2258f';
const SHA256 = '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03';

function parse(text: string, kind: HashDbKind = 'hdb', extra: { official?: boolean; ignore?: IgnoreSet } = {}) {
  const file = `t.${kind}`;
  const { sigs, diagnostics } = collectHashSigs(Buffer.from(text, 'latin1'), { file, kind, official: extra.official ?? false, ...(extra.ignore ? { ignore: extra.ignore } : {}) });
  return { sigs, diagnostics, codes: diagnostics.filter((d) => d.severity === 'error').map((d) => d.code) };
}

test('parseHashDb chooses MD5, SHA1 or SHA256 by the length of the hex, whatever the extension', () => {
  const { sigs, codes } = parse(`${MD5}:6:A\n${SHA1}:6:B\n${SHA256.toUpperCase()}:6:C\n`);
  assert.deepEqual(codes, []);
  assert.deepEqual(sigs.map((s) => [s.algo, s.hash, s.size, s.name]), [
    ['md5', MD5, 6, 'A.UNOFFICIAL'], ['sha1', SHA1, 6, 'B.UNOFFICIAL'], ['sha256', SHA256, 6, 'C.UNOFFICIAL'],
  ]);
  assert.deepEqual(sigs[0]!.origin, { db: 't.hdb', line: 1 });
});

test('parseHashDb reads .mdb lines as size first, then hash', () => {
  const { sigs, codes } = parse(`512:${MD5}:Sect\n`, 'mdb');
  assert.deepEqual(codes, []);
  assert.deepEqual([sigs[0]!.size, sigs[0]!.hash, sigs[0]!.scope], [512, MD5, 'section']);
  assert.deepEqual(parse(`${MD5}:512:Sect\n`, 'mdb').codes, ['clamav.hash.bad-size', 'clamav.hash.bad-hash-length']);
});

test('parseHashDb accepts the size * only with a MinFL of at least 73, except in .imp', () => {
  assert.deepEqual(parse(`${MD5}:*:W:73\n`).sigs.map((s) => s.size), [null]);
  assert.deepEqual(parse(`${MD5}:*:W\n`).codes, ['clamav.hash.wildcard-needs-flevel']);
  assert.deepEqual(parse(`${MD5}:*:W:72\n`).codes, ['clamav.hash.wildcard-needs-flevel']);
  assert.deepEqual(parse(`${MD5}:*:W:\n`).codes, ['clamav.hash.wildcard-needs-flevel']);
  assert.deepEqual(parse(`${MD5}:*:Imp\n`, 'imp').codes, []);
  assert.deepEqual(parse(`*:${MD5}:W\n`, 'mdb').codes, ['clamav.hash.wildcard-needs-flevel']);
});

test('parseHashDb rejects a size of 0, an empty or non-decimal size, and 0xffffffff or more', () => {
  for (const size of ['0', '', 'abc', '12a', '0x10', '1.5', '4294967295', '99999999999999999999', '-5']) {
    assert.deepEqual(parse(`${MD5}:${size}:S\n`).codes, ['clamav.hash.bad-size'], `size '${size}'`);
  }
  assert.deepEqual(parse(`${MD5}:4294967294:S\n`).sigs.map((s) => s.size), [4294967294]);
});

test('parseHashDb reads the size as strtoul does: sign, leading blanks, zeros, minus modulo 2^64', () => {
  for (const size of ['+6', ' 6', '\t6', '06', '-18446744073709551610']) {
    assert.deepEqual(parse(`${MD5}:${size}:S\n`).sigs.map((s) => s.size), [6], `size '${size}'`);
  }
});

test('parseHashDb skips lines outside the FLEVEL range before it checks anything else', () => {
  assert.deepEqual(parse('garbage:more garbage:X:300\n'), { sigs: [], diagnostics: [], codes: [] });
  assert.equal(parse(`${MD5}:6:A:0:215\n`).sigs.length, 0);
  assert.equal(parse(`${MD5}:6:A:0:216\n`).sigs.length, 1);
  assert.equal(parse(`${MD5}:6:A:216\n`).sigs.length, 1);
  assert.equal(parse(`${MD5}:6:A:217\n`).sigs.length, 0);
  // ClamAV compares as unsigned: a negative MinFL skips the line, a negative MaxFL does not
  assert.equal(parse(`${MD5}:6:A:-1\n`).sigs.length, 0);
  assert.equal(parse(`${MD5}:6:A:0:-1\n`).sigs.length, 1);
  // atoi: 4294967296 wraps to 0; an empty MaxFL is 0
  assert.equal(parse(`${MD5}:6:A:4294967296\n`).sigs.length, 1);
  assert.equal(parse(`${MD5}:6:A:1:\n`).sigs.length, 0);
  // too many fields is checked before the FLEVEL filter
  assert.deepEqual(parse(`${MD5}:6:A:300:0:x\n`).codes, ['clamav.hash.too-many-fields']);
});

test('parseHashDb reports every bad line with its line, column and source, not only the first', () => {
  const { diagnostics, sigs } = parse(`${MD5}:0:A\n# c\n${MD5}:6:Good\nxyz:6:B\n\n${MD5}:*:C:10\n`);
  assert.equal(sigs.length, 1);
  assert.deepEqual(diagnostics.map((d) => [d.code, d.location?.line, d.location?.column]), [
    ['clamav.hash.bad-size', 1, 34],
    ['clamav.hash.bad-hash-length', 4, 1],
    ['clamav.hash.blank-line', 5, 1],
    ['clamav.hash.wildcard-needs-flevel', 6, 34],
  ]);
  assert.equal(diagnostics[1]!.sourceLine, 'xyz:6:B');
  assert.match(diagnostics[0]!.message, /expected a decimal size/);
});

test('parseHashDb rejects blank lines and empty files but accepts a file of comments only', () => {
  assert.deepEqual(parse('').codes, ['clamav.hash.empty-file']);
  assert.deepEqual(parse('\n').codes, ['clamav.hash.blank-line']);
  assert.deepEqual(parse('\r\n').codes, ['clamav.hash.blank-line']);
  assert.deepEqual(parse('# There must always be one line in the file\n'), { sigs: [], diagnostics: [], codes: [] });
  assert.equal(parse(`${MD5}:6:A\r\n${MD5}:6:B`).sigs.length, 2);
});

test('parseHashDb reports too few and too many fields', () => {
  assert.deepEqual(parse('word\n').codes, ['clamav.hash.too-few-fields']);
  assert.deepEqual(parse(`${MD5}:6\n`).codes, ['clamav.hash.too-few-fields']);
  assert.deepEqual(parse(`${MD5}:6:A:0:300:x\n`).codes, ['clamav.hash.too-many-fields']);
  assert.deepEqual(parse(`${MD5}:6:A:::\n`).codes, ['clamav.hash.too-many-fields']);
});

test('parseHashDb cuts a name at " (Clam)" and rejects an empty name', () => {
  assert.deepEqual(parse(`${MD5}:6:Foo (Clam) bar\n`).sigs.map((s) => s.name), ['Foo.UNOFFICIAL']);
  assert.deepEqual(parse(`${MD5}:6:\n`).codes, ['clamav.hash.empty-name']);
  assert.deepEqual(parse(`${MD5}:6: (Clam)\n`).codes, ['clamav.hash.empty-name']);
});

test('parseHashDb appends .UNOFFICIAL to every unofficial name, Heuristics.* included', () => {
  assert.deepEqual(parse(`${MD5}:6:Heuristics.Foo\n`).sigs.map((s) => s.name), ['Heuristics.Foo.UNOFFICIAL']);
  assert.deepEqual(parse(`${MD5}:6:Win.Test-1\n`, 'hdb', { official: true }).sigs.map((s) => s.name), ['Win.Test-1']);
  assert.equal(clamavVirname('X (Clam)', true), 'X');
  assert.equal(clamavVirname(' (Clam)', false), null);
});

test('parseHashDb ends a line at a NUL byte, with a warning', () => {
  const r = parse(`${MD5}:6:A\0garbage:::\n\0${MD5}:6:B\n`);
  assert.deepEqual(r.sigs.map((s) => s.name), ['A.UNOFFICIAL']);
  assert.deepEqual(r.diagnostics.map((d) => d.code), ['clamav.hash.nul-byte', 'clamav.hash.nul-byte', 'clamav.hash.blank-line']);
});

test('parseHashDb splits a line longer than 8191 bytes where ClamAV\'s fgets does', () => {
  const head = `${MD5}:6:`;
  const ok = parse(head + 'N'.repeat(8190 - head.length) + '\n');
  assert.deepEqual(ok.codes, []);
  const split = parse(head + 'N'.repeat(8191 - head.length) + '\n');
  assert.deepEqual(split.codes, ['clamav.hash.blank-line']);
  assert.equal(split.sigs.length, 1);
  assert.equal(split.diagnostics.find((d) => d.code === 'clamav.hash.blank-line')?.location?.column, 8192);
  // the rest of a long line may even be a comment, or a signature of its own
  assert.deepEqual(parse(head + 'N'.repeat(8191 - head.length) + '#rest\n').codes, []);
  const two = parse(head + 'N'.repeat(8191 - head.length) + `${MD5}:6:X\n`);
  assert.deepEqual(two.sigs.map((s) => s.name.slice(0, 1)), ['N', 'X']);
});

test('parseHashDb lets the ignore list hide a bad hash or name, but not a bad size', () => {
  const ign = parseIgn(Buffer.from('Hidden\n'), { file: 'x.ign2' }).set;
  assert.deepEqual(parse(`nothex:6:Hidden\n${MD5}:6:Shown\n`, 'hdb', { ignore: ign }).codes, []);
  assert.deepEqual(parse(`${MD5}:0:Hidden\n`, 'hdb', { ignore: ign }).codes, ['clamav.hash.bad-size']);
  assert.deepEqual(parse(`${MD5}:6:Hidden\n${MD5}:6:Shown\n`, 'hdb', { ignore: ign }).sigs.map((s) => s.name), ['Shown.UNOFFICIAL']);
});

test('parseHashDb passes the ignore list the raw name and the MD5 of the chomped line', () => {
  const line = `${MD5}:6:Name (Clam)`;
  const md5 = createHash('md5').update(line).digest('hex');
  const ign = parseIgn(Buffer.from(`Name (Clam):${md5}\n`), { file: 'x.ign2' }).set;
  assert.equal(parse(`${line}\r\n`, 'hdb', { ignore: ign }).sigs.length, 0);
  assert.equal(parse(`${line}x\n`, 'hdb', { ignore: ign }).sigs.length, 1);
});

test('clamavLoadError gives the text clamscan prints for the first error', () => {
  assert.equal(clamavLoadError(parse(`${MD5}0:6:H\n`).diagnostics), 'Invalid argument passed to function');
  assert.equal(clamavLoadError(parse(`${MD5}:0:H\n${MD5}0:6:H\n`).diagnostics), 'Malformed database');
  assert.equal(clamavLoadError(parse(`${MD5}:6:H\n`).diagnostics), null);
  assert.equal(CLAMAV_LOAD_ERROR['clamav.hash.bad-hash-hex'], 'Invalid argument passed to function');
});

test('cAtoi and cStrtoul read numbers as glibc does', () => {
  assert.equal(cAtoi(' -12x'), -12);
  assert.equal(cAtoi('4294967296'), 0);
  assert.equal(cAtoi('4294967295'), -1);
  assert.equal(cAtoi('99999999999999999999'), -1);
  assert.equal(cAtoi('-99999999999999999999'), 0);
  assert.equal(cAtoi('abc'), 0);
  assert.deepEqual(cStrtoul('12ab'), { value: 12n, end: 2 });
  assert.deepEqual(cStrtoul('x'), { value: 0n, end: 0 });
  assert.deepEqual(cStrtoul('-1'), { value: 18446744073709551615n, end: 2 });
  assert.deepEqual(cStrtoul('18446744073709551616'), { value: 18446744073709551615n, end: 20 });
});

test('hashKindOf maps each hash extension to its ClamAV loader, case-insensitively', () => {
  assert.deepEqual(hashKindOf('daily.HSB'), { kind: 'hdb', pua: false });
  assert.deepEqual(hashKindOf('x.hdu'), { kind: 'hdb', pua: true });
  assert.deepEqual(hashKindOf('x.sfp'), { kind: 'fp', pua: false });
  assert.deepEqual(hashKindOf('x.msu'), { kind: 'mdb', pua: true });
  assert.deepEqual(hashKindOf('x.imp'), { kind: 'imp', pua: false });
  assert.equal(hashKindOf('x.ndb'), null);
});

test('parseHashDb creates no signature object: it pushes digest bytes and interned names into the sink', () => {
  const seen: unknown[] = [];
  const names: string[] = [];
  const res = parseHashDb(Buffer.from(`${MD5}:6:A\n${SHA1}:*:A:73\n`), { file: 'f.hdb', kind: 'hdb', official: true }, {
    beginFile: (f) => seen.push(['file', f]),
    internName: (n) => { const i = names.indexOf(n); if (i >= 0) return i; names.push(n); return names.length - 1; },
    add: (algo, hash, size, nameIndex, line) => seen.push([algo, Buffer.from(hash as Uint8Array).toString('hex'), size, nameIndex, line]),
  });
  assert.equal(res.count, 2);
  assert.deepEqual(seen, [['file', 'f.hdb'], ['md5', MD5, 6, 0, 1], ['sha1', SHA1, null, 0, 2]]);
});

// ───────────────────────────── differential test against clamscan ─────────────────────────────

const SKIP = CLAMSCAN_SKIP;


interface Sample { path: string; size: number; digests: Record<HashAlgo, Buffer> }

const HASH_ALGOS: readonly HashAlgo[] = ['md5', 'sha1', 'sha256'];

/**
 * The signatures that can answer for a sample, grouped as ClamAV checks them: for each algorithm
 * the exact-size ones, then the wildcard ones. ClamAV reports one name per non-empty group (which
 * one among duplicates is the hash index's business, tested in engine/hashindex.test.ts).
 */
function candidateGroups(sigs: readonly HashSig[], s: Sample): string[][] {
  const groups: string[][] = [];
  for (const algo of HASH_ALGOS) {
    const hex = s.digests[algo].toString('hex');
    for (const wild of [false, true]) {
      const names = sigs.filter((g) => g.algo === algo && g.hash === hex && (wild ? g.size === null : g.size === s.size)).map((g) => g.name);
      if (names.length) groups.push(names);
    }
  }
  return groups;
}



/** `path: Name FOUND` lines → names per path, in output order. */
function detections(out: string, paths: readonly string[]): Map<string, string[]> {
  const m = new Map<string, string[]>(paths.map((p) => [p, []]));
  for (const line of out.split('\n')) {
    const f = / FOUND$/.exec(line);
    if (!f) continue;
    const colon = line.lastIndexOf(': ', line.length - 6);
    const path = line.slice(0, colon);
    m.get(path)?.push(line.slice(colon + 2, line.length - 6));
  }
  return m;
}

interface GenCase {
  id: number;
  ext: string;
  kind: HashDbKind;
  text: string;
  ign?: string;
  /** What the case was built to exercise, shown when it fails. */
  forms: string[];
}

/** The malformed-line forms of reference §1.0/§1.1 the generator writes (names as in `forms`). */
const MALFORMED_FORMS = [
  'empty-file', 'blank', 'one-field', 'two-fields', 'six-fields', 'short-hash', 'long-hash', 'hash-16', 'non-hex',
  'size-zero', 'size-empty', 'size-alpha', 'size-trailing', 'size-hex', 'size-max', 'size-huge', 'size-negative',
  'wild-no-flevel', 'wild-low-flevel', 'wild-empty-flevel', 'empty-name', 'clam-only-name', 'leading-nul',
  'leading-space', 'cr-only', 'long-line',
];

const WORDS = ['Alpha', 'Bravo', 'Charlie', 'Delta', 'Echo', 'Fox', 'Golf', 'Hotel'];

function generateCases(rnd: () => number, samples: Sample[], count: number): GenCase[] {
  const pick = <T,>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const randHex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(rnd() * 16)]).join('');
  const cases: GenCase[] = [];
  for (let id = 0; id < count; id++) {
    const ext = pick(['hdb', 'hsb', 'hdb', 'hsb', 'hdb', 'fp', 'sfp', 'mdb', 'msb', 'imp']);
    const kind = hashKindOf(`x.${ext}`)!.kind;
    const forms: string[] = [];
    const good: { line: string; name: string }[] = [];
    const lines: string[] = [];
    const name = (): string => `Test.${pick(WORDS)}-${Math.floor(rnd() * 5)}`;
    const goodLine = (): string => {
      const s = pick(samples);
      const algo = pick(HASH_ALGOS);
      let hash = s.digests[algo].toString('hex');
      if (rnd() < 0.15) { hash = randHex(hash.length); forms.push('no-match'); }
      if (rnd() < 0.2) hash = hash.toUpperCase();
      let size = String(s.size);
      let fl = '';
      const r = rnd();
      if (kind === 'mdb') size = String(1 + Math.floor(rnd() * 4096));
      if (r < 0.1) { size = pick([`+${size}`, ` ${size}`, `0${size}`]); forms.push('size-format'); }
      else if (r < 0.15) { size = `-${(1n << 64n) - BigInt(size)}`; forms.push('size-wrap'); }
      else if (r < 0.4) { size = '*'; fl = `:${pick(['73', '100', '216', '073'])}`; forms.push('wildcard'); if (rnd() < 0.3) fl += `:${pick(['216', '300', '-1'])}`; }
      else if (r < 0.5) { fl = pick([':0', ':50:216', ':', ':1:4294967295']); forms.push('flevel'); }
      if (kind === 'imp' && size === '*' && rnd() < 0.5) { fl = ''; forms.push('imp-wildcard'); }
      let n = name();
      if (rnd() < 0.1) { n += ' (Clam)'; forms.push('clam-suffix'); }
      if (good.length && rnd() < 0.25) {
        // a duplicate: same hash and size as an earlier line, another name
        const prev = good[Math.floor(rnd() * good.length)]!.line.split(':');
        forms.push('duplicate');
        const line = `${prev[0]}:${prev[1]}:${n}${prev.length > 3 ? ':' + prev.slice(3).join(':') : ''}`;
        good.push({ line, name: n });
        return line;
      }
      const line = kind === 'mdb' ? `${size}:${hash}:${n}${fl}` : `${hash}:${size}:${n}${fl}`;
      good.push({ line, name: n });
      return line;
    };
    const badLine = (): string => {
      const s = pick(samples);
      const h = s.digests.md5.toString('hex');
      const sz = String(s.size);
      const n = name();
      const mk = (hash: string, size: string, nm: string, rest = ''): string => (kind === 'mdb' ? `${size}:${hash}:${nm}${rest}` : `${hash}:${size}:${nm}${rest}`);
      const forms2: [string, () => string][] = [
        ['blank', () => ''],
        ['one-field', () => 'justaword'],
        ['two-fields', () => (kind === 'mdb' ? `${sz}:${h}` : `${h}:${sz}`)],
        ['six-fields', () => mk(h, sz, n, ':0:300:x')],
        ['short-hash', () => mk(h.slice(1), sz, n)],
        ['long-hash', () => mk(h + 'a', sz, n)],
        ['hash-16', () => mk(h.slice(0, 16), sz, n)],
        ['non-hex', () => mk(h.slice(0, 7) + 'g' + h.slice(8), sz, n)],
        ['size-zero', () => mk(h, '0', n)],
        ['size-empty', () => mk(h, '', n)],
        ['size-alpha', () => mk(h, 'abc', n)],
        ['size-trailing', () => mk(h, `${sz}a`, n)],
        ['size-hex', () => mk(h, '0x10', n)],
        ['size-max', () => mk(h, '4294967295', n)],
        ['size-huge', () => mk(h, '99999999999999999999', n)],
        ['size-negative', () => mk(h, '-5', n)],
        ['wild-no-flevel', () => mk(h, '*', n)],
        ['wild-low-flevel', () => mk(h, '*', n, ':72')],
        ['wild-empty-flevel', () => mk(h, '*', n, ':')],
        ['empty-name', () => mk(h, sz, '')],
        ['clam-only-name', () => mk(h, sz, ' (Clam)')],
        ['leading-nul', () => '\0' + mk(h, sz, n)],
        ['leading-space', () => ' ' + mk(h, sz, n)],
        ['cr-only', () => '\r'],
        ['long-line', () => mk(h, sz, n + 'x'.repeat(8300))],
      ];
      const [form, f] = pick(forms2);
      forms.push(form);
      return f();
    };
    if (id === 0) { cases.push({ id, ext, kind, text: '', forms: ['empty-file'] }); continue; }
    if (id === 1) { cases.push({ id, ext, kind, text: '# There must always be one line in the file\n', forms: ['comments-only'] }); continue; }
    const n = 1 + Math.floor(rnd() * 7);
    for (let i = 0; i < n; i++) {
      const r = rnd();
      if (r < 0.08) { lines.push('# comment: with colons'); forms.push('comment'); }
      else if (r < 0.14) { lines.push(pick(['junk:junk:Skipped:300', `${randHex(5)}:0:Skipped:1:100`, 'x:y:Skipped:-1'])); forms.push('flevel-skipped'); }
      else if (r < 0.17) { lines.push(goodLine() + '\0trailing garbage'); forms.push('nul-tail'); }
      else lines.push(goodLine());
    }
    if (rnd() < 0.5) {
      const bad = 1 + Math.floor(rnd() * 2);
      for (let k = 0; k < bad; k++) lines.splice(Math.floor(rnd() * (lines.length + 1)), 0, badLine());
    }
    const eol = rnd() < 0.15 ? '\r\n' : '\n';
    if (eol === '\r\n') forms.push('crlf');
    let text = lines.join(eol);
    if (rnd() < 0.85) text += eol; else forms.push('no-final-newline');
    const c: GenCase = { id, ext, kind, text, forms };
    if (rnd() < 0.3 && good.length) {
      // an ignore list naming some of the signatures: bare, with the right MD5, or a wrong one
      const entries: string[] = [];
      for (const g of good) {
        const r = rnd();
        if (r < 0.3) entries.push(g.name);
        else if (r < 0.5) entries.push(`${g.name}:${createHash('md5').update(Buffer.from(g.line, 'latin1')).digest('hex')}`);
        else if (r < 0.6) entries.push(`${g.name}:${randHex(32)}`);
      }
      if (entries.length) { c.ign = entries.join('\n') + '\n'; forms.push('ign2'); }
    }
    cases.push(c);
  }
  return cases;
}

test('parseHashDb accepts exactly what clamscan accepts, and its signatures flag the files clamscan flags', { skip: SKIP, timeout: 60000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-hashdiff-'));
  try {
    const rnd = prng(Number(process.env.VIGIL_DIFF_SEED ?? 20240611));
    // Sample files: plain ASCII text, few distinct sizes so that buckets hold several digests,
    // one exact copy (13 = 3), and 5-byte files, which ClamAV never scans ("Small data",
    // scanners.c): a layer must be larger than 5 bytes. Text, because ClamAV checks the hashes
    // of a layer it types as binary data twice, and with --allmatch reports every hash match
    // twice (scanners.c runs cli_scan_fmap again for CL_TYPE_BINARY_DATA); that is the
    // scanner's business, not the index's.
    const sampleDir = join(root, 'samples');
    mkdirSync(sampleDir);
    const samples: Sample[] = [];
    const contents: Buffer[] = [];
    const sizes = [6, 7, 64, 100, 300, 5];
    for (let i = 0; i < 15; i++) {
      const size = sizes[i % sizes.length]!;
      const alnum = 'abcdefghijklmnopqrstuvwxyz0123456789';
      const bytes = i === 13 ? contents[3]! : Buffer.from(Array.from({ length: size }, () => alnum[Math.floor(rnd() * alnum.length)]).join(''), 'latin1');
      contents.push(bytes);
      const path = join(sampleDir, `s${String(i).padStart(2, '0')}.bin`);
      writeFileSync(path, bytes);
      samples.push({ path, size: bytes.length, digests: { md5: createHash('md5').update(bytes).digest(), sha1: createHash('sha1').update(bytes).digest(), sha256: createHash('sha256').update(bytes).digest() } });
    }
    const cases = generateCases(rnd, samples, Number(process.env.VIGIL_DIFF_CASES ?? 180));
    const failures: string[] = [];
    let accepted = 0;
    let rejected = 0;
    let detected = 0;
    await pool(cases, 3, async (c) => {
      const dir = join(root, `case${c.id}`);
      mkdirSync(dir);
      const dbName = `case${c.id}.${c.ext}`;
      writeFileSync(join(dir, dbName), Buffer.from(c.text, 'latin1'));
      // our side: ignore list first, as ClamAV loads it first
      const diags: Diagnostic[] = [];
      let ignore: IgnoreSet | undefined;
      let ignFailed = false;
      if (c.ign !== undefined) {
        writeFileSync(join(dir, 'list.ign2'), c.ign);
        const r = parseIgn(Buffer.from(c.ign, 'latin1'), { file: 'list.ign2' });
        ignore = r.set;
        ignFailed = hasErrors(r.diagnostics);
        diags.push(...r.diagnostics);
      }
      const hdbSigs: HashSig[] = [];
      if (c.kind === 'fp') {
        // allow-list cases: a companion database detects every sample, the .fp clears some
        const det = samples.map((s, i) => `${s.digests.md5.toString('hex')}:${s.size}:Det.${i}`).join('\n') + '\n';
        writeFileSync(join(dir, 'det.hdb'), det);
        hdbSigs.push(...collectHashSigs(Buffer.from(det), { file: 'det.hdb', kind: 'hdb', official: false }).sigs);
      }
      const res = collectHashSigs(Buffer.from(c.text, 'latin1'), { file: dbName, kind: c.kind, official: false, ...(ignore ? { ignore } : {}) });
      diags.push(...res.diagnostics);
      if (c.kind === 'hdb') hdbSigs.push(...res.sigs);
      const fpSigs = c.kind === 'fp' ? res.sigs : [];
      const ourError = ignFailed ? 'Malformed database' : clamavLoadError(res.diagnostics);

      const paths = samples.map((s) => s.path);
      const plain = await runClamscan(['--no-summary', '-d', dir, ...paths]);
      const m = /^ERROR: (.*)$/m.exec(plain.out);
      const theirError = plain.code === 2 && m ? m[1]! : null;
      const what = `case ${c.id} (${dbName}; ${c.forms.join(', ')})\n${JSON.stringify(c.text).slice(0, 400)}${c.ign ? `\nign2: ${JSON.stringify(c.ign)}` : ''}`;
      if (ourError !== theirError) {
        failures.push(`${what}\n  clamscan: ${theirError ?? `loaded (exit ${plain.code})`}\n  vigil: ${ourError ?? 'loaded'}\n  ${diags.map((d) => d.code + ' ' + d.message).join('\n  ')}`);
        return;
      }
      if (theirError) { rejected++; return; }
      accepted++;
      // compare detections, plain and --allmatch: one name per non-empty group, in group order
      for (const all of [false, true]) {
        const out = all ? await runClamscan(['--no-summary', '--allmatch', '-d', dir, ...paths]) : plain;
        const got = detections(out.out, paths);
        for (const s of samples) {
          let groups = s.size <= 5 ? [] : candidateGroups(hdbSigs, s);
          if (groups.length && candidateGroups(fpSigs, s).length) groups = [];
          if (!all) groups = groups.slice(0, 1);
          const names = got.get(s.path)!;
          detected += names.length;
          const ok = names.length === groups.length && names.every((n, k) => groups[k]!.includes(n));
          if (!ok) failures.push(`${what}\n  ${all ? '--allmatch ' : ''}${s.path}: clamscan ${JSON.stringify(names)}, vigil ${JSON.stringify(groups)}`);
        }
      }
    });
    assert.deepEqual(failures, [], failures.join('\n\n'));
    const seen = new Set(cases.flatMap((c) => c.forms));
    const missing = MALFORMED_FORMS.filter((f) => !seen.has(f));
    assert.deepEqual(missing, [], 'every malformed form is generated at least once');
    t.diagnostic(`${cases.length} databases: ${accepted} loaded, ${rejected} rejected; ${detected} detections compared`);
    assert.ok(accepted > 40 && rejected > 40 && detected > 100, `coverage: ${accepted} accepted, ${rejected} rejected, ${detected} detections`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
