/**
 * HTML layers: vigil's HTML normaliser and `vigil scan` against `clamscan` 1.4 on seeded pages —
 * entities, mixed case and whitespace, comments, scripts (string folding, renamed names, the packer,
 * `unescape`, `eval`), JScript.Encode blocks, `data:` URIs, images in `<style>` blocks, NUL and 8-bit
 * bytes, pages over 8 KiB, and HTML inside ZIP archives.
 *
 * 1. The normaliser's files (`nocomment.html`, `notags.html`, `javascript`, `rfc2397/*`) equal, byte
 *    for byte, the ones clamscan leaves behind with `--leave-temps`.
 * 2. `vigil scan` prints clamscan's `FOUND` lines and exit code in default mode, with `--allmatch`
 *    and with a recursion limit that stops the pages inside ZIP archives, with target-3 and target-7 signatures written against the normalised text, the
 *    planted marks and hashes of the payloads inside `data:` URIs. Skipped with a message while the
 *    engine does not scan HTML through the normaliser.
 * Skips with a message when clamscan 1.4 (or `zip`, for part of the samples) is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP, pool, runClamscan } from '../helpers/clamscan-run.js';
import { compareLayers, foundLines, MARKS, vigilScan } from './layers-diff.js';
import { normaliseHtml } from '../../src/formats/html/htmlnorm.js';
import { screncEncode } from '../../src/formats/html/screnc-encode.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const HAVE_ZIP = spawnSync('zip', ['-v'], { stdio: 'ignore' }).status === 0;

const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

/** Signatures written against the normaliser's output (names say what each needs). */
const HTML_SIGS: readonly [string, number, string][] = [
  ['Html.Entity', 3, 'kestrel & plover'],
  ['Html.Case', 3, 'merlin osprey'],
  ['Html.Comment', 3, 'gannetpuffin'],
  ['Html.NoTags', 3, 'sand piper'],
  ['Html.Attr', 3, '<a href="http://heron.example/egret">'],
  ['Js.Fold', 7, 'var n000="curlew-dunlin"'],
  ['Js.Unescape', 3, 'write("avocet")'],
  ['Js.Encoded', 3, '"skua-jaeger"'],
  ['Js.Eval', 7, 'alert("plover-eval")'],
  ['Html.Raw', 3, 'Kestrel &amp; Plover'],
];

/** One seeded page: a few features, some carrying what a signature looks for. */
function page(rng: Prng, payloads: { data: Buffer; hash: string }[], f: number, manyUris = false): Buffer {
  let uris = 0;
  const parts: string[] = [rng.pick(['<html>', '<HTML>', '<Html><HEAD><TITLE>t</TITLE></HEAD>']), '<body>\n'];
  const payload = (): Buffer => {
    const body = Buffer.concat([Buffer.from(rng.bytes(rng.int(20, 300))), Buffer.from(rng.pick(MARKS), 'latin1'), Buffer.from(rng.bytes(rng.int(0, 200)))]);
    payloads.push({ data: body, hash: `${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Html.${f}.${payloads.length}` });
    return body;
  };
  const features: (() => string)[] = [
    () => 'Kestrel &amp; Plover',
    () => `MeRLiN ${rng.pick([' ', '\n\t ', '\r\n  '])} OsPrEy`,
    () => 'gannet<!-- hidden -->puffin',
    () => '<b>sand</b>piper',
    () => '<A HREF=\'HTTP://Heron.Example/Egret\'>link</a>',
    () => `<script>var Heron = "curlew-" + 'dunlin'; x = Heron;</script>`,
    () => '<script language="javascript">document.write(unescape("%61%76%6f%63%65%74"));</script>',
    () => `<SCRIPT LANGUAGE="JScript.Encode">${screncEncode('var Tern = "skua-jaeger";\r\ndocument.write(Tern);')}</SCRIPT>`,
    () => `<script>eval("alert('plover-eval')");</script>`,
    // At most one data: URI a page: ClamAV scans their files in directory order (random names), so with two the first detection is a toss-up.
    () => (uris++ > 0 && !manyUris ? 'x' : `<img src="data:application/octet-stream;base64,${payload().toString('base64')}">`),
    () => `<style>body { background: url(data:image/gif;base64,${Buffer.concat([Buffer.from('GIF89a'), payload()]).toString('base64')}) }</style>`,
    () => `text ${rng.pick(MARKS)} text`,
    () => rng.pick(['&#x263A; &eacute; caf\xc3\xa9', '\x00nul', '<p title="a &quot;b&quot;">', '&#65;&#x42;C', '&nbsp;&copy;']),
    () => rng.word(3, 12),
  ];
  for (let n = rng.int(1, 6); n > 0; n--) parts.push(rng.pick(features)(), rng.pick([' ', '\n', '']));
  if (rng.chance(0.15)) parts.push(`<p>${'filler words '.repeat(rng.int(700, 1400))}</p>`, rng.pick(features)());
  parts.push('\n</body></html>\n');
  return Buffer.from(parts.join(''), 'latin1');
}

function walk(d: string, out: string[] = []): string[] {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

test(`HTML normaliser: the files clamscan writes (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(`${SEED}-files`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-htmlnorm-'));
  const db = join(dir, 'empty.ndb');
  writeFileSync(db, 'Never.Matches:0:*:00ff00ff00ff00ff00ff00ff00ff00ff\n');
  const pages = Array.from({ length: 40 }, (_, f) => page(rng, [], f, true));
  let compared = 0, scripts = 0, uris = 0;
  await pool(pages.map((p, i) => [p, i] as const), 2, async ([bytes, i]) => {
    const work = join(dir, `p${i}`);
    mkdirSync(join(work, 'tmp'), { recursive: true });
    const file = join(work, 'page.html');
    writeFileSync(file, bytes);
    await runClamscan(['--no-summary', '--leave-temps', `--tempdir=${join(work, 'tmp')}`, '-d', db, file]);
    const kept = walk(join(work, 'tmp'));
    const htmlDir = kept.find((k) => /html-tmp\.[^/]+\/(nocomment|notags)\.html$/.test(k))?.replace(/\/[^/]+$/, '');
    assert.ok(htmlDir, `clamscan normalised ${file}`);
    const mine = normaliseHtml(bytes);
    const read = (name: string): Buffer => (existsSync(join(htmlDir, name)) ? readFileSync(join(htmlDir, name)) : Buffer.alloc(0));
    assert.deepEqual(Buffer.from(mine.nocomment ?? []), read('nocomment.html'), `nocomment of ${file}`);
    assert.deepEqual(Buffer.from(mine.notags ?? []), read('notags.html'), `notags of ${file}`);
    assert.deepEqual(Buffer.from(mine.javascript ?? []), read('javascript'), `javascript of ${file}`);
    const rdir = join(htmlDir, 'rfc2397');
    const theirs = existsSync(rdir) ? readdirSync(rdir).map((n) => readFileSync(join(rdir, n)).toString('latin1')).sort() : [];
    assert.deepEqual(mine.rfc2397.map((r) => Buffer.from(r.data).toString('latin1')).sort(), theirs, `rfc2397 files of ${file}`);
    compared++;
    if (mine.javascript) scripts++;
    uris += theirs.length;
  });
  t.diagnostic(`${compared} pages: nocomment, notags, javascript (${scripts} with scripts) and ${uris} rfc2397 files equal clamscan's`);
});

test(`HTML layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(`${SEED}-layers`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-html-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const htmlDb = join(dir, 'html.ndb');
  writeFileSync(htmlDb, HTML_SIGS.map(([name, target, text]) => `${name}:${target}:*:${hex(text)}`).join('\n') + '\n');
  // Whether the engine scans HTML through the normaliser yet: a page whose signature only matches the normalised text.
  writeFileSync(join(dir, 'probe.html'), '<html><body>Kestrel &amp; Plover</body></html>\n');
  const probe = vigilScan(['--no-summary', '-d', htmlDb, join(dir, 'probe.html')]);
  if (!/Html\.Entity/.test(probe.out)) {
    const clam = await runClamscan(['--no-summary', '-d', htmlDb, join(dir, 'probe.html')]);
    assert.match(clam.out, /Html\.Entity(\.UNOFFICIAL)? FOUND/, 'clamscan matches normalised HTML');
    t.skip('the engine does not scan HTML layers through the HTML normaliser yet (src/formats/html/index.ts htmlNormalise)');
    return;
  }
  const payloads: { data: Buffer; hash: string }[] = [];
  for (let f = 0; f < 45; f++) writeFileSync(join(data, `h${String(f).padStart(2, '0')}.html`), page(rng, payloads, f));
  // GIFs whose raw scan finds HTML are scanned through the HTML normaliser too.
  // UTF-16LE pages, with and without a byte-order mark: squeezed to bytes, then normalised.
  for (let u = 0; u < 5; u++) {
    const wide = Buffer.from(page(rng, payloads, 300 + u).toString('latin1'), 'utf16le');
    writeFileSync(join(data, `u${u}.html`), u % 2 ? Buffer.concat([Buffer.from([0xff, 0xfe]), wide]) : wide);
  }
  for (let g = 0; g < 5; g++) writeFileSync(join(data, `g${g}.gif`), Buffer.concat([Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00', 'latin1'), page(rng, payloads, 200 + g)]));
  if (HAVE_ZIP) {
    for (let z = 0; z < 6; z++) {
      const zdir = join(dir, `z${z}`);
      mkdirSync(zdir);
      for (let e = rng.int(1, 3); e > 0; e--) writeFileSync(join(zdir, `in${e}.htm`), page(rng, payloads, 100 + z * 10 + e));
      const r = spawnSync('zip', ['-q', '-r', join(data, `z${z}.zip`), '.'], { cwd: zdir });
      assert.equal(r.status, 0);
    }
  } else {
    t.diagnostic('zip is not installed: no HTML inside ZIP archives');
  }
  const hashes = payloads.filter(() => rng.chance(0.5)).map((p) => p.hash);
  // Each normalised file is a layer one deeper than the page: at the recursion limit the pages inside ZIP lose it.
  await compareLayers(t, dir, hashes, [
    ['-d', htmlDb], ['--allmatch', '-d', htmlDb],
    ['--max-recursion=2', '-d', htmlDb], ['--allmatch', '--alert-exceeds-max=yes', '--max-recursion=2', '-d', htmlDb],
  ]);
  // Every kind of signature was seen somewhere.
  const all = await runClamscan(['--no-summary', '--allmatch', '-d', htmlDb, '-d', join(dir, 'marks.ndb'), '-d', join(dir, 'inner.hdb'), data]);
  const names = new Set(foundLines(all.out).map((l) => l.replace(/^.*: /, '').replace(/(\.UNOFFICIAL)? FOUND$/, '')));
  for (const [name] of HTML_SIGS) if (name !== 'Html.Raw') assert.ok(names.has(name), `${name} is found by clamscan`);
  assert.ok(!names.has('Html.Raw'), 'the raw text of an HTML page is not matched by HTML signatures');
});

test('MaxHTMLNormalize and MaxHTMLNoTags: a mark only the normalised copies show is found as clamscan finds it', { skip: CLAMSCAN_SKIP }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-htmllim-'));
  const mark = MARKS[0]!;
  const hidden = `${mark[0]}&#${mark.charCodeAt(1)};${mark.slice(2)}`; // an entity: the raw bytes do not carry the mark
  writeFileSync(join(dir, 'long.html'), `<html><body>${'<p>filler text here</p>'.repeat(60)}<p>${hidden}</p></body></html>`);
  writeFileSync(join(dir, 'tags.html'), `<html><body><p>${hidden}</p>${'<b>x</b>'.repeat(300)}</body></html>`);
  writeFileSync(join(dir, 'm.ndb'), `Mark.0:3:*:${Buffer.from(mark, 'latin1').toString('hex')}\n`);
  for (const extra of [[], ['--max-htmlnormalize=500'], ['--max-htmlnotags=500'], ['--max-htmlnormalize=5000', '--max-htmlnotags=100']]) {
    const args = ['--no-summary', ...extra, '-d', join(dir, 'm.ndb'), join(dir, 'long.html'), join(dir, 'tags.html')];
    const clam = await runClamscan(args);
    const mine = vigilScan(args);
    const lines = (out: string) => out.split('\n').filter((l) => l.includes(': ')).sort();
    assert.deepEqual(lines(mine.out), lines(clam.out), extra.join(' ') || 'default');
    assert.equal(mine.code, clam.code);
  }
});
