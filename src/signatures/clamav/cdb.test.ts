/**
 * Tests of `.cdb` parsing, of the POSIX ERE compiler for FileNameREGEX and of `matchCdb`, then
 * two differential tests against clamscan 1.4: seeded random `.cdb` lines (with fuzzed regular
 * expressions) must load or fail exactly as there, and file-name expressions must fire on the
 * same members of generated zip archives.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CL_TYPES, CL_TYPE_CODE, isClType } from '../../formats/cltypes.js';
import { clamavLoadError } from './hash.js';
import { parseIgn } from './ign.js';
import { CDB_LOAD_ERROR, compileCdbRegex, matchCdb, matchCdbAll, parseCdb, type CdbMeta } from './cdb.js';
import type { CdbSig } from './types.js';
import { mulberry32 as prng } from '../../../test/helpers/prng.js';
import { CLAMSCAN_SKIP, pool, runClamscan } from '../../../test/helpers/clamscan-run.js';

const cdb = (text: string, official = false) => {
  const r = parseCdb(Buffer.from(text, 'latin1'), { file: 't.cdb', official });
  return { ...r, codes: r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code) };
};
const one = (text: string): CdbSig => {
  const r = cdb(text);
  assert.deepEqual(r.codes, []);
  assert.equal(r.sigs.length, 1);
  return r.sigs[0]!;
};
const re = (source: string) => {
  const c = compileCdbRegex(source);
  if ('error' in c) throw new Error(`${source}: ${c.error.code}`);
  return c;
};
const reError = (source: string): string | null => {
  const c = compileCdbRegex(source);
  return 'error' in c ? c.error.code : null;
};

const meta = (m: Partial<CdbMeta> = {}): CdbMeta => ({
  containerType: 'CL_TYPE_ZIP', containerSize: 1000, fileName: 'doc.exe', fileSizeInContainer: 50, fileSizeReal: 100, encrypted: false, filePos: 1, ...m,
});

test('parseCdb reads the ten fields of a container signature', () => {
  const s = one('Zip.Test:CL_TYPE_ZIP:100-200:(?i)\\.exe$:10:20:1:3:*:*\n');
  assert.deepEqual(s, {
    name: 'Zip.Test.UNOFFICIAL', containerType: 'CL_TYPE_ZIP', containerSize: { min: 100, max: 200 },
    fileNameRegex: '(?i)\\.exe$', fileSizeInContainer: { min: 10, max: 10 }, fileSizeReal: { min: 20, max: 20 },
    encrypted: true, filePos: { min: 3, max: 3 }, origin: { db: 't.cdb', line: 1 },
  });
  const any = one('Any:*:*:*:*:*:*:*:whatever:res2\n');
  assert.deepEqual([any.containerType, any.containerSize, any.fileNameRegex, any.encrypted, any.filePos], [null, null, null, null, null]);
  assert.equal(cdb('Off:*:*:*:*:*:*:*:*:*\n', true).sigs[0]!.name, 'Off');
});

test('parseCdb requires 10 to 12 fields and rejects blank lines and empty files', () => {
  assert.deepEqual(cdb('A:*:*:*:*:*:*:*:*\n').codes, ['clamav.cdb.field-count']);
  assert.deepEqual(cdb('A:*:*:*:*:*:*:*:*:*:0:300:x\n').codes, ['clamav.cdb.field-count']);
  assert.deepEqual(cdb('\n').codes, ['clamav.cdb.blank-line']);
  assert.deepEqual(cdb('').codes, ['clamav.cdb.empty-file']);
  assert.deepEqual(cdb('# only a comment\n').codes, []);
});

test('parseCdb filters by MinFL and MaxFL, which must be digits only (an empty field is 0)', () => {
  assert.equal(cdb('A:*:*:*:*:*:*:*:*:*:216\n').sigs.length, 1);
  assert.equal(cdb('A:*:*:*:*:*:*:*:*:*:217\n').sigs.length, 0);
  assert.equal(cdb('A:*:*:*:*:*:*:*:*:*:0:215\n').sigs.length, 0);
  assert.equal(cdb('A:*:*:*:*:*:*:*:*:*::\n').sigs.length, 0);
  assert.equal(cdb('A:*:*:*:*:*:*:*:*:*:\n').sigs.length, 1);
  assert.deepEqual(cdb('A:*:*:*:*:*:*:*:*:*:-1\n').codes, ['clamav.cdb.bad-flevel']);
  assert.deepEqual(cdb('A:*:*:*:*:*:*:*:*:*:0:x\n').codes, ['clamav.cdb.bad-flevel']);
  // the filter runs before the other checks
  assert.deepEqual(cdb('A:CL_TYPE_NOPE:x:(:*:*:9:*:*:*:300\n').codes, []);
});

test('parseCdb accepts * and every CL_TYPE name ClamAV knows as ContainerType, and nothing else', () => {
  for (const t of CL_TYPES) assert.equal(one(`T:${t}:*:*:*:*:*:*:*:*\n`).containerType, t);
  for (const t of ['CL_TYPE_FOO', 'CL_TYPE_OTHER', 'CL_TYPE_ERROR', 'cl_type_zip', '', 'ZIP']) {
    assert.deepEqual(cdb(`T:${t}:*:*:*:*:*:*:*:*\n`).codes, ['clamav.cdb.unknown-type'], t);
  }
});

test('parseCdb reads sizes and positions as ClamAV does: sscanf("%u-%u") with a dash, atoi without', () => {
  const size = (f: string) => one(`S:*:${f}:*:*:*:*:*:*:*\n`).containerSize;
  assert.deepEqual(size('10'), { min: 10, max: 10 });
  assert.deepEqual(size(''), { min: 0, max: 0 });
  assert.deepEqual(size('5-10'), { min: 5, max: 10 });
  assert.deepEqual(size('10-5'), { min: 10, max: 5 });
  assert.deepEqual(size('1- 2'), { min: 1, max: 2 });
  assert.deepEqual(size(' 1-2x'), { min: 1, max: 2 });
  assert.deepEqual(size('5--3'), { min: 5, max: 4294967293 });
  assert.deepEqual(size('4294967295'), { min: 4294967295, max: 4294967295 });
  assert.deepEqual(size('4294967296'), { min: 0, max: 0 });
  for (const bad of ['5-', '-5', '1 - 2', 'abc', ' 5', '0x10', '+5']) {
    assert.deepEqual(cdb(`S:*:${bad}:*:*:*:*:*:*:*\n`).codes, ['clamav.cdb.bad-range'], bad);
  }
});

test('parseCdb accepts IsEncrypted 0, 1 or * only', () => {
  assert.equal(one('E:*:*:*:*:*:0:*:*:*\n').encrypted, false);
  for (const bad of ['2', '', '01', 'yes']) assert.deepEqual(cdb(`E:*:*:*:*:*:${bad}:*:*:*\n`).codes, ['clamav.cdb.bad-encrypted'], bad);
});

test('parseCdb reports a bad regular expression with Spencer\'s error and its column', () => {
  const r = cdb('R:*:*:(?i)ab(:*:*:*:*:*:*\n');
  assert.deepEqual(r.codes, ['clamav.cdb.bad-regex']);
  assert.match(r.diagnostics[0]!.message, /REG_EPAREN/);
  // the column of the end of the expression, where Spencer's parser stopped looking for ')'
  assert.equal(r.diagnostics[0]!.location?.column, 7 + 4 + 3);
  assert.deepEqual(cdb('R:*:*::*:*:*:*:*:*\n').codes, ['clamav.cdb.bad-regex']);
});

test('parseCdb keeps a signature whose expression is too large to expand, with a warning, and it never matches', () => {
  const r = cdb('Big:*:*:((a{255}){255}){255}:*:*:*:*:*:*\n');
  assert.deepEqual(r.codes, []);
  assert.deepEqual(r.diagnostics.map((d) => [d.code, d.severity]), [['clamav.cdb.regex-too-large', 'warning']]);
  assert.equal(r.sigs.length, 1);
  assert.equal(matchCdb(r.sigs[0]!, meta({ fileName: 'a'.repeat(70000) })), false);
  assert.equal(reError('((a{255}){255}){16}'), null, 'one million steps is still within the cap');
});

test('parseCdb reports every bad line, each problem of a line, and what clamscan prints first', () => {
  const r = cdb('Good:*:*:*:*:*:*:*:*:*\n:*:*:*:*:*:*:*:*:*\nB:CL_TYPE_X:a:*:*:*:7:*:*:*\nshort\n');
  assert.deepEqual(r.diagnostics.map((d) => [d.code, d.location?.line]), [
    ['clamav.cdb.empty-name', 2],
    ['clamav.cdb.unknown-type', 3],
    ['clamav.cdb.bad-range', 3],
    ['clamav.cdb.bad-encrypted', 3],
    ['clamav.cdb.field-count', 4],
  ]);
  assert.equal(r.sigs.length, 1);
  assert.equal(clamavLoadError(r.diagnostics, CDB_LOAD_ERROR), "Can't allocate memory");
  assert.equal(clamavLoadError(cdb('B:CL_TYPE_X:*:*:*:*:*:*:*:*\n').diagnostics, CDB_LOAD_ERROR), 'Malformed database');
});

test('parseCdb asks the ignore list with the stored name and the raw name as the line', () => {
  const set = parseIgn(Buffer.from('Hidden\nByLine:' + '0'.repeat(32) + '\n'), { file: 'x.ign2' }).set;
  const r = parseCdb(Buffer.from('Hidden:*:*:*:*:*:*:*:*:*\nHidden (Clam):CL_TYPE_BAD:*:*:*:*:*:*:*:*\nShown:*:*:*:*:*:*:*:*:*\n'), { file: 't.cdb', official: false, ignore: set });
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.sigs.map((s) => s.name), ['Shown.UNOFFICIAL']);
});

test('compileCdbRegex rejects what Spencer\'s regcomp rejects, with the same error', () => {
  const cases: [string, string | null][] = [
    ['', 'REG_EMPTY'], ['a|', 'REG_EMPTY'], ['|a', 'REG_EMPTY'], ['(|a)', 'REG_EMPTY'], ['a{0}', 'REG_EMPTY'],
    ['ba{0}', null], ['()', null], ['(){0}', 'REG_EMPTY'],
    ['*a', 'REG_BADRPT'], ['a**', 'REG_BADRPT'], ['a*?', 'REG_BADRPT'], ['^*', 'REG_BADRPT'], ['a{1}{2}', 'REG_BADRPT'],
    ['{1', 'REG_BADRPT'], ['{a', null], ['a{', null], ['a{,2}', null], ['$*', null],
    ['a{1', 'REG_EBRACE'], ['a{1,2', 'REG_EBRACE'], ['a{2,1}', 'REG_BADBR'], ['a{256}', 'REG_BADBR'], ['a{1x}', 'REG_BADBR'], ['a{255}', null],
    ['(', 'REG_EPAREN'], ['a(b', 'REG_EPAREN'], [')', null], ['a)', null],
    ['[', 'REG_EBRACK'], ['[a', 'REG_EBRACK'], ['[]', 'REG_EBRACK'], ['[]a]', null], ['[^]a]', null], ['[a-]', null], ['[-a]', null],
    ['[a-c-e]', 'REG_ERANGE'], ['[z-a]', 'REG_ERANGE'], ['[a-\xe9]', 'REG_ERANGE'], ['[\xe9-\xff]', null], ['[\xff-\x01]', null],
    ['[[:alpha:]]', null], ['[[:foo:]]', 'REG_ECTYPE'], ['[[:alpha]', 'REG_ECTYPE'], ['[[:alpha', 'REG_EBRACK'], ['[[:]]', 'REG_ECTYPE'],
    ['[[.hyphen.]]', null], ['[[.a.]]', null], ['[[.ab.]]', 'REG_ECOLLATE'], ['[[=a=]]', null], ['[[=]]', 'REG_ECOLLATE'],
    ['\\', 'REG_EESCAPE'], ['a\\', 'REG_EESCAPE'], ['\\.', null], ['\\<a\\>', null], ['[[:<:]]a[[:>:]]', null],
  ];
  for (const [source, code] of cases) assert.equal(reError(source), code, JSON.stringify(source));
});

test('compileCdbRegex searches anywhere in the name, with POSIX anchors, classes and word boundaries', () => {
  assert.equal(re('exe').test('setup.exe.txt'), true);
  assert.equal(re('\\.exe$').test('setup.exe.txt'), false);
  assert.equal(re('^(setup|install)\\.(exe|msi)$').test('install.msi'), true);
  assert.equal(re('a{2,3}b').test('xaab'), true);
  assert.equal(re('^a{2,3}b').test('aaaab'), false);
  assert.equal(re('[[:digit:]]+\\.js$').test('lib12.js'), true);
  assert.equal(re('[^a-z]').test('abc'), false);
  assert.equal(re('\\<doc\\>').test('my doc.txt'), true);
  assert.equal(re('\\<doc\\>').test('mydoc.txt'), false);
  assert.equal(re('a.c').test('a\nc'), true, 'a dot matches a newline without REG_NEWLINE');
  assert.equal(re('(a*)*b').test('a'.repeat(5000)), false, 'no exponential backtracking');
});

test('compileCdbRegex with (?i) folds ASCII letters only, as the C locale does', () => {
  assert.equal(re('(?i)README').test('readme.txt'), true);
  assert.equal(re('(?i)[a-c]x').test('BX'), true);
  assert.equal(re('README').test('readme.txt'), false);
  assert.equal(re('(?i)\xe9').test('\xc9'), false);
  assert.equal(reError('x(?i)'), 'REG_BADRPT', '(?i) counts only at the very start; elsewhere ? repeats nothing');
});

test('matchCdb compares ranges as cli_matchmeta: a single value exactly, a 0 bound in N-M as unbounded', () => {
  const sig = (field: string) => one(`M:*:*:*:*:${field}:*:*:*:*\n`);
  assert.equal(matchCdb(sig('100'), meta()), true);
  assert.equal(matchCdb(sig('99'), meta()), false);
  assert.equal(matchCdb(sig('50-150'), meta()), true);
  assert.equal(matchCdb(sig('101-150'), meta()), false);
  assert.equal(matchCdb(sig('0-99'), meta()), false);
  assert.equal(matchCdb(sig('0-100'), meta()), true);
  assert.equal(matchCdb(sig('100-0'), meta({ fileSizeReal: 1e9 })), true);
  assert.equal(matchCdb(sig('4294967295'), meta()), true, '4294967295 means any');
  assert.equal(matchCdb(sig(''), meta()), false, 'an empty field is the single value 0');
});

test('matchCdb checks container type, encryption, position and the member name', () => {
  assert.equal(matchCdb(one('M:CL_TYPE_RAR:*:*:*:*:*:*:*:*\n'), meta()), false);
  assert.equal(matchCdb(one('M:CL_TYPE_ANY:*:*:*:*:*:*:*:*\n'), meta()), true);
  assert.equal(matchCdb(one('M:*:*:*:*:*:1:*:*:*\n'), meta()), false);
  assert.equal(matchCdb(one('M:*:*:*:*:*:1:*:*:*\n'), meta({ encrypted: true })), true);
  assert.equal(matchCdb(one('M:*:*:*:*:*:*:2:*:*\n'), meta()), false);
  assert.equal(matchCdb(one('M:*:*:\\.exe$:*:*:*:*:*:*\n'), meta()), true);
  assert.equal(matchCdb(one('M:*:*:\\.exe$:*:*:*:*:*:*\n'), meta({ fileName: null })), false);
  assert.equal(matchCdb(one('M:*:*:*:*:*:*:*:*:*\n'), meta({ fileName: null })), true);
});

test('matchCdbAll returns matches newest first, the order ClamAV evaluates them in', () => {
  const { sigs } = cdb('First:*:*:*:*:*:*:*:*:*\nNever:CL_TYPE_RAR:*:*:*:*:*:*:*:*\nLast:*:*:*:*:*:*:*:*:*\n');
  assert.deepEqual(matchCdbAll(sigs, meta()).map((s) => s.name), ['Last.UNOFFICIAL', 'First.UNOFFICIAL']);
});

test('CL_TYPES is ClamAV\'s ftmap, and CL_TYPE_CODE gives the enum values', () => {
  assert.equal(CL_TYPES.length, 86);
  assert.equal(new Set(CL_TYPES).size, 86);
  assert.equal(isClType('CL_TYPE_OOXML_HWP'), true);
  assert.equal(isClType('CL_TYPE_OTHER'), false);
  assert.equal(CL_TYPE_CODE.CL_TYPE_ANY, 0);
  assert.equal(CL_TYPE_CODE.CL_TYPE_TEXT_ASCII, 500);
  assert.equal(CL_TYPE_CODE.CL_TYPE_ERROR, 505);
  assert.equal(CL_TYPE_CODE.CL_TYPE_MSEXE, 506);
  assert.equal(CL_TYPE_CODE.CL_TYPE_ZIP, 517);
  assert.equal(CL_TYPE_CODE.CL_TYPE_OTHER, 585);
  assert.equal(CL_TYPE_CODE.CL_TYPE_IGNORED, 586);
});

// ───────────────────────────── differential tests against clamscan ─────────────────────────────

const SKIP = CLAMSCAN_SKIP;




/** Hand-picked expressions over the whole Spencer grammar, valid and not. */
const REGEX_POOL = [
  'abc', '^abc$', '\\.exe$', '(?i)\\.EXE$', '(setup|install)\\.(exe|msi)', 'a{2,3}', 'a{2,}', 'a{,2}', '[[:alpha:]]+[[:digit:]]',
  '[^a-z]', '[]a]', '[^]a]', '[a-]', '[-a]', '[!--]', '\\<doc\\>', '[[:<:]]doc[[:>:]]', 'a.c', '.*', '()', '(a|b)*c', '(a*)*b',
  '[[.hyphen.]]', '[[=e=]]', '\\(', '\\)', '\\{', 'x{0}y', '$a', 'a^', 'a$b', '^$', '(^a)', '(a$)', '[\xe9-\xff]', '[[:space:][:punct:]]',
  '', 'a|', '(', '[', '[z-a]', '[a-c-e]', 'a**', '^*', '{1', 'a{1', 'a{2,1}', 'a{256}', '[[:nope:]]', '[[.ab.]]', '\\', 'a{0}', '(|a)',
];

function randomRegex(rnd: () => number): string {
  const atoms = ['a', 'b', 'B', '.', '^', '$', '(', ')', '[', ']', '{', '}', '|', '*', '+', '?', '\\', '-', ',', '1', '2', '0', '[:', ':]', '[.', '.]', '[=', '=]', 'alpha', 'x', '\xe9'];
  const n = 1 + Math.floor(rnd() * 7);
  let s = rnd() < 0.15 ? '(?i)' : '';
  for (let i = 0; i < n; i++) s += atoms[Math.floor(rnd() * atoms.length)]!;
  return s;
}

test('parseCdb loads or rejects each generated .cdb file exactly as clamscan does', { skip: SKIP, timeout: 60000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-cdbdiff-'));
  try {
    const rnd = prng(Number(process.env.VIGIL_DIFF_SEED ?? 11));
    const pick = <T,>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
    const target = join(root, 'target.txt');
    writeFileSync(target, 'vigil cdb target\n');
    const range = (): string => (rnd() < 0.6 ? '*' : pick(['10', '', '5-10', '10-5', '5-', '-5', 'abc', '1 - 2', '1- 2', '5--3', '0x10', '4294967295', ' 5', '+5', '1-2-3']));
    const line = (): string => {
      const name = rnd() < 0.9 ? `Cdb.Test-${Math.floor(rnd() * 100)}` : pick(['', ' (Clam)', 'X (Clam) y']);
      const ctype = rnd() < 0.5 ? '*' : rnd() < 0.7 ? pick(CL_TYPES) : pick(['CL_TYPE_FOO', 'CL_TYPE_OTHER', 'CL_TYPE_ERROR', 'cl_type_zip']);
      const regex = rnd() < 0.2 ? '*' : rnd() < 0.5 ? pick(REGEX_POOL) : randomRegex(rnd);
      const enc = rnd() < 0.8 ? pick(['*', '0', '1']) : pick(['2', '', '01']);
      const fl = rnd() < 0.7 ? '' : pick([':0', ':300', ':abc', '::', ':0:300', ':0:100', ':0:x', ':', ':-1']);
      const fields = [name, ctype, range(), regex, range(), range(), enc, range(), pick(['*', 'abc', '']), pick(['*', 'r2'])];
      if (rnd() < 0.04) fields.pop();
      if (rnd() < 0.03) fields.push('0', '300', 'x');
      return fields.join(':') + fl;
    };
    const cases: { id: number; text: string }[] = [];
    const CASES = Number(process.env.VIGIL_DIFF_CASES ?? 300);
    for (let id = 0; id < CASES; id++) {
      const n = rnd() < 0.8 ? 1 : 2 + Math.floor(rnd() * 3);
      cases.push({ id, text: Array.from({ length: n }, line).join('\n') + '\n' });
    }
    const failures: string[] = [];
    let loaded = 0;
    let rejected = 0;
    await pool(cases, 3, async (c) => {
      const file = join(root, `c${c.id}.cdb`);
      writeFileSync(file, Buffer.from(c.text, 'latin1'));
      const r = parseCdb(Buffer.from(c.text, 'latin1'), { file: `c${c.id}.cdb`, official: false });
      const ours = clamavLoadError(r.diagnostics, CDB_LOAD_ERROR);
      const out = await runClamscan(['--no-summary', '-d', file, target]);
      const m = /^ERROR: (.*)$/m.exec(out.out);
      const theirs = out.code === 2 && m ? m[1]! : null;
      if (ours !== theirs) failures.push(`${JSON.stringify(c.text)}\n  clamscan: ${theirs ?? 'loaded'}\n  vigil: ${ours ?? 'loaded'} ${r.diagnostics.map((d) => d.message).join('; ')}`);
      else if (ours) rejected++;
      else loaded++;
    });
    assert.deepEqual(failures, [], failures.join('\n\n'));
    assert.ok(loaded > 40 && rejected > 40, `coverage: ${loaded} loaded, ${rejected} rejected`);
    t.diagnostic(`${CASES} .cdb files: ${loaded} loaded, ${rejected} rejected`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** CRC-32 (IEEE), for the zip writer. */
function crc32(data: Uint8Array): number {
  let c = ~0;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A zip archive with one stored member. */
function zipOne(name: Buffer, data: Buffer): Buffer {
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(10, 4); local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18); local.writeUInt32LE(data.length, 22); local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(10, 6); central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20); central.writeUInt32LE(data.length, 24); central.writeUInt16LE(name.length, 28);
  const cdOffset = 30 + name.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(1, 8); end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + name.length, 12); end.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, name, data, central, name, end]);
}

test('FileNameREGEX fires on the same zip members in vigil and clamscan', { skip: SKIP, timeout: 60000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-cdbzip-'));
  try {
    const names = ['readme.txt', 'README.TXT', 'setup.exe', 'install.msi', 'a', 'my doc.txt', 'mydoc.txt', 'x.scr', 'abc', 'ABC', 'a_b',
      'word-word', '\xfcml\xe4ut.doc', '123', 'aaab', 'caab', 'lib12.js', 'a.c', 'e\xe9', 'dir/sub/file.js', '(a)', '{1}', 'x^y$z', 'B-a'];
    const zipDir = join(root, 'zips');
    mkdirSync(zipDir);
    const zips = names.map((n, i) => {
      const path = join(zipDir, `z${String(i).padStart(2, '0')}.zip`);
      writeFileSync(path, zipOne(Buffer.from(n, 'latin1'), Buffer.from(`member ${i} of the vigil cdb test\n`)));
      return { path, name: n };
    });
    const rnd = prng(Number(process.env.VIGIL_DIFF_SEED ?? 5));
    const candidates = [...REGEX_POOL, ...Array.from({ length: 150 }, () => randomRegex(rnd))];
    // A ':' would end the field, so no FileNameREGEX can contain one (nor [[:alpha:]] classes).
    const regexes = [...new Set(candidates)].filter((r) => r !== '' && !r.includes(':') && !('error' in compileCdbRegex(r)));
    const failures: string[] = [];
    let fired = 0;
    await pool(regexes.map((r, i) => ({ r, i })), 3, async ({ r, i }) => {
      const db = join(root, `r${i}.cdb`);
      const text = `Rx.${i}:CL_TYPE_ZIP:*:${r}:*:*:*:*:*:*\nNever.${i}:CL_TYPE_RAR:*:*:*:*:*:*:*:*\n`;
      writeFileSync(db, Buffer.from(text, 'latin1'));
      const { sigs, diagnostics } = parseCdb(Buffer.from(text, 'latin1'), { file: `r${i}.cdb`, official: false });
      assert.deepEqual(diagnostics, []);
      const out = await runClamscan(['--no-summary', '-d', db, zipDir]);
      for (const z of zips) {
        const theirs = out.out.includes(`${z.path}: Rx.${i}.UNOFFICIAL FOUND`);
        const ours = matchCdbAll(sigs, { containerType: 'CL_TYPE_ZIP', containerSize: 0, fileName: z.name, fileSizeInContainer: 0, fileSizeReal: 0, encrypted: false, filePos: 1 }).length > 0;
        if (ours) fired++;
        if (theirs !== ours) failures.push(`${JSON.stringify(r)} on ${JSON.stringify(z.name)}: clamscan ${theirs}, vigil ${ours}`);
      }
    });
    assert.deepEqual(failures, [], failures.join('\n'));
    assert.ok(regexes.length > 60 && fired > 100, `coverage: ${regexes.length} expressions, ${fired} matches`);
    t.diagnostic(`${regexes.length} expressions × ${zips.length} members, ${fired} matches`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
