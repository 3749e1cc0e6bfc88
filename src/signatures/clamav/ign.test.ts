/**
 * Tests of `.ign`/`.ign2` parsing and of `IgnoreSet.ignores`, including ClamAV 1.4's remembered
 * MD5 field and its choice among entries of the same name, then a differential test: seeded
 * random ignore lists in front of a fixed hash database, compared with clamscan (load verdict and
 * every detection with --allmatch).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasErrors } from '../../core/diagnostics.js';
import { collectHashSigs } from './hash.js';
import type { HashAlgo } from './types.js';
import { IgnoreSet, normalizeSigName, parseIgn } from './ign.js';
import { mulberry32 as prng } from '../../../test/helpers/prng.js';
import { CLAMSCAN_SKIP, pool, runClamscan } from '../../../test/helpers/clamscan-run.js';

const md5 = (s: string): string => createHash('md5').update(Buffer.from(s, 'latin1')).digest('hex');
const ign = (text: string, into?: IgnoreSet) => {
  const r = parseIgn(Buffer.from(text, 'latin1'), { file: 'x.ign2', ...(into ? { into } : {}) });
  return { ...r, codes: r.diagnostics.map((d) => d.code) };
};

test('parseIgn accepts the three forms Name, Name:MD5 and DbName:Line:Name', () => {
  const line = 'aa15bcf478d165efd2065190eb473bcb:544:Clamav.Test.File-6';
  const r = ign(`# comment\nEicar-Test-Signature\nClamav.Test.File-6:${md5(line)}\n`);
  assert.deepEqual(r.codes, []);
  assert.equal(r.count, 2);
  assert.equal(r.set.ignores('Eicar-Test-Signature', 'whatever'), true);
  assert.equal(r.set.ignores('Clamav.Test.File-6', line), true);
  assert.equal(r.set.ignores('Clamav.Test.File-6', line + 'x'), false);
  // the old three-field form, alone in its file (see the remembered-MD5 test)
  const old = ign('daily.ndb:1234:Old.Sig-1\n');
  assert.deepEqual(old.codes, []);
  assert.equal(old.set.ignores('Old.Sig-1', ''), true);
});

test('IgnoreSet.ignores compares whole raw names: no prefixes, no .UNOFFICIAL form in the list', () => {
  const { set } = ign('ClamAV-Test-File\nWith.UNOFFICIAL\n');
  assert.equal(set.ignores('ClamAV-Test-File', ''), true);
  assert.equal(set.ignores('ClamAV-Test', ''), false);
  assert.equal(set.ignores('ClamAV-Test-File-2', ''), false);
  assert.equal(set.ignores('clamav-test-file', ''), false);
  // the looked-up name loses one .UNOFFICIAL or a trailing .{…} clause; entries never do
  assert.equal(set.ignores('ClamAV-Test-File.UNOFFICIAL', ''), true);
  assert.equal(set.ignores('ClamAV-Test-File.{PUA}', ''), true);
  assert.equal(set.ignores('With', ''), false);
  assert.equal(set.ignores('With.UNOFFICIAL', ''), false);
  assert.equal(set.ignores('With.UNOFFICIAL.UNOFFICIAL', ''), true);
});

test('IgnoreSet pads names shorter than 3 characters with spaces, on both sides of the comparison', () => {
  const { set } = ign('ab\nX\n');
  assert.equal(set.ignores('ab', ''), true);
  assert.equal(set.ignores('X', ''), true);
  // a consequence: the padded form matches a signature really named with the spaces
  assert.equal(set.ignores('ab ', ''), true);
  assert.equal(set.ignores('X  ', ''), true);
  assert.equal(normalizeSigName('ab.{x}'), 'ab ');
  assert.equal(normalizeSigName('a.UNOFFICIAL'), 'a  ');
  assert.equal(normalizeSigName('.UNOFFICIAL'), '.UNOFFICIAL', 'only names longer than 11 characters lose the suffix');
  assert.equal(normalizeSigName('abc.UNOFFICIAL'), 'abc');
});

test('IgnoreSet.ignores uses the MD5 of the line only when the deciding entry has one, in any case of hex', () => {
  const line = 'f'.repeat(32) + ':6:Sig';
  const { set } = ign(`Sig:${md5(line).toUpperCase()}\n`);
  assert.equal(set.ignores('Sig', line), true);
  assert.equal(set.ignores('Sig', Buffer.from(line)), true);
  assert.equal(set.ignores('Sig', () => line), true);
  assert.equal(set.ignores('Sig', line + '\0tail'), true, 'the line ends at a NUL, as a C string');
  assert.equal(set.ignores('Sig', 'other line'), false);
});

test('parseIgn reports every bad line: too many fields, empty names, blank lines, bad MD5s', () => {
  const r = ign(`Good\na:b:c:d\n\n:${'0'.repeat(32)}\nName:xyz\nName:${'g'.repeat(32)}\nAlso.Good\n`);
  assert.deepEqual(r.diagnostics.map((d) => [d.code, d.location?.line]), [
    ['clamav.ign.too-many-fields', 2],
    ['clamav.ign.empty-name', 3],
    ['clamav.ign.empty-name', 4],
    ['clamav.ign.bad-md5', 5],
    ['clamav.ign.bad-md5', 6],
    ['clamav.ign.bad-md5', 7], // the remembered MD5 field of line 6
  ]);
  assert.equal(r.count, 1);
});

test('parseIgn accepts an empty file, unlike the signature databases', () => {
  assert.deepEqual(ign('').codes, []);
  assert.equal(ign('').count, 0);
});

test('parseIgn reuses the last MD5 field for later one- and three-field lines, as ClamAV 1.4 does', () => {
  const h = md5('x');
  // the MD5 text of line 1 is now partly overwritten by line 2: ClamAV fails to load
  const broken = ign(`Other:${h}\nSig.One\n`);
  assert.deepEqual(broken.codes, ['clamav.ign.bad-md5']);
  assert.match(broken.diagnostics[0]!.message, /MD5 field of line 1/);
  // a shorter line leaves the old MD5 intact: ClamAV silently gives it to the new entry
  const inherited = ign(`Other:${h}\nSig\n`);
  assert.deepEqual(inherited.codes, ['clamav.ign.inherited-md5']);
  assert.equal(inherited.diagnostics[0]!.severity, 'warning');
  assert.equal(inherited.set.ignores('Sig', 'x'), true);
  assert.equal(inherited.set.ignores('Sig', 'y'), false);
  // lines without an MD5 before the first line with one are not affected
  assert.deepEqual(ign(`Sig.One\nOther:${h}\n`).codes, []);
});

test('parseIgn rejects an MD5 on a name shorter than 3 characters, which ClamAV 1.4 overwrites', () => {
  const r = ign(`ab:${md5('x')}\n`);
  assert.deepEqual(r.codes, ['clamav.ign.bad-md5']);
  assert.match(r.diagnostics[0]!.message, /shorter than 3/);
});

test('IgnoreSet lets the entry ClamAV\'s scan meets last decide between entries of one name', () => {
  // The second entry is filed at a later window of the name, so the scan meets it last.
  const a = new IgnoreSet();
  a.add('Sig.One');
  a.add('Sig.One', '0'.repeat(32));
  assert.equal(a.ignores('Sig.One', 'line'), false);
  const b = new IgnoreSet();
  b.add('Sig.One', '0'.repeat(32));
  b.add('Sig.One');
  assert.equal(b.ignores('Sig.One', 'line'), true);
  // A name shorter than 4 characters has one window: both share a bucket, the newest is met
  // first, so the oldest decides.
  const c = new IgnoreSet();
  c.add('abc');
  c.add('abc', '0'.repeat(32));
  assert.equal(c.ignores('abc', 'line'), true);
  assert.equal(c.size, 2);
  assert.deepEqual(c.entries(), [{ name: 'abc' }, { name: 'abc', lineMd5: '0'.repeat(32) }]);
});

test('parseIgn adds several files to one set', () => {
  const set = ign('First\n').set;
  ign('Second\n', set);
  assert.equal(set.size, 2);
  assert.equal(set.ignores('First', ''), true);
  assert.equal(set.ignores('Second', ''), true);
});

// ───────────────────────────── differential test against clamscan ─────────────────────────────

const ALGOS: readonly HashAlgo[] = ['md5', 'sha1', 'sha256'];

const SKIP = CLAMSCAN_SKIP;




test('parseIgn and IgnoreSet hide exactly the signatures clamscan hides', { skip: SKIP, timeout: 60000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-igndiff-'));
  try {
    const rnd = prng(Number(process.env.VIGIL_DIFF_SEED ?? 7));
    const pick = <T,>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
    // One text file per signature (plus a second line, by SHA1, for some names), so that with
    // --allmatch every signature that is not ignored shows up.
    const names = ['Sig.One', 'Sig.Two', 'Sig.Three', 'Ab', 'X', 'ab ', 'Named.{x}', 'Long.UNOFFICIAL', 'Sig.One.Longer', 'abc', 'Dup'];
    const samples: { path: string; size: number; data: Buffer }[] = [];
    const dbLines: { line: string; name: string }[] = [];
    names.forEach((n, i) => {
      const data = Buffer.from(`vigil ignore sample ${i} ${'q'.repeat(i)}`);
      const path = join(root, `s${i}.txt`);
      writeFileSync(path, data);
      samples.push({ path, size: data.length, data });
      dbLines.push({ line: `${createHash('md5').update(data).digest('hex')}:${data.length}:${n}`, name: n });
      if (i % 3 === 0) dbLines.push({ line: `${createHash('sha1').update(data).digest('hex')}:${data.length}:${n}`, name: n });
    });
    // a second signature named like another, on another file
    dbLines.push({ line: `${createHash('sha256').update(samples[0]!.data).digest('hex')}:*:Dup:73`, name: 'Dup' });
    const hdb = dbLines.map((l) => l.line).join('\n') + '\n';
    const entry = (): string => {
      const r = rnd();
      const target = pick(dbLines);
      if (r < 0.3) return target.name;
      if (r < 0.45) return `${target.name}:${md5(target.line)}`;
      if (r < 0.5) return `${target.name}:${md5(target.line).toUpperCase()}`;
      if (r < 0.58) return `${target.name}:${md5('nope' + rnd())}`;
      if (r < 0.66) return `daily.ndb:${Math.floor(rnd() * 100)}:${target.name}`;
      if (r < 0.7) return `${target.name}.UNOFFICIAL`;
      if (r < 0.74) return pick(['Sig', 'S', 'Named', 'Long', 'abc ', 'One']);
      if (r < 0.78) return '# comment';
      if (r < 0.8) return pick(['', 'a:b:c:d', `:${md5('x')}`, `${target.name}:123`]);
      return `Unrelated.${Math.floor(rnd() * 9)}`;
    };
    const failures: string[] = [];
    let loaded = 0;
    let rejected = 0;
    let hidden = 0;
    const CASES = Number(process.env.VIGIL_DIFF_CASES ?? 120);
    const cases = Array.from({ length: CASES }, (_, id) => {
      const n = 1 + Math.floor(rnd() * 6);
      const text = Array.from({ length: n }, entry).join('\n') + (rnd() < 0.9 ? '\n' : '');
      return { id, text, ext: rnd() < 0.3 ? 'ign' : 'ign2' };
    });
    await pool(cases, 3, async ({ id, text, ext }) => {
      const dir = join(root, `c${id}`);
      mkdirSync(dir);
      writeFileSync(join(dir, `list.${ext}`), Buffer.from(text, 'latin1'));
      writeFileSync(join(dir, 'sigs.hdb'), hdb);
      const r = parseIgn(Buffer.from(text, 'latin1'), { file: `list.${ext}` });
      const { sigs } = collectHashSigs(Buffer.from(hdb), { file: 'sigs.hdb', kind: 'hdb', official: false, ignore: r.set });
      const out = await runClamscan(['--no-summary', '--allmatch', '-d', dir, ...samples.map((s) => s.path)]);
      const theirFail = out.code === 2 && /^ERROR: Malformed database$/m.test(out.out);
      const ourFail = hasErrors(r.diagnostics);
      const what = `case ${id} (${ext}): ${JSON.stringify(text)}`;
      if (theirFail !== ourFail) {
        failures.push(`${what}\n  clamscan ${theirFail ? 'rejects' : 'loads'}, vigil ${ourFail ? 'rejects' : 'loads'}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
        return;
      }
      if (ourFail) { rejected++; return; }
      loaded++;
      for (const s of samples) {
        // every (algorithm, exact or wildcard) group has at most one signature here, so ClamAV
        // reports each signature that is left, in its check order
        const want = ALGOS.flatMap((a) => [false, true].flatMap((wild) => {
          const hex = createHash(a).update(s.data).digest('hex');
          return sigs.filter((g) => g.algo === a && g.hash === hex && (wild ? g.size === null : g.size === s.size)).map((g) => g.name);
        }));
        const got = out.out.split('\n').filter((l) => l.startsWith(s.path + ': ') && l.endsWith(' FOUND')).map((l) => l.slice(s.path.length + 2, -6));
        if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`${what}\n  ${s.path}: clamscan ${JSON.stringify(got)}, vigil ${JSON.stringify(want)}`);
      }
      hidden += dbLines.length - sigs.length;
    });
    assert.deepEqual(failures, [], failures.join('\n\n'));
    assert.ok(loaded > 20 && rejected > 10 && hidden > 20, `coverage: ${loaded} loaded, ${rejected} rejected, ${hidden} signatures hidden`);
    t.diagnostic(`${CASES} ignore lists: ${loaded} loaded, ${rejected} rejected; ${hidden} signatures hidden in all`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
