/**
 * clamscan's parse switches: `vigil scan` against `clamscan` with each `--scan-*=no`, with
 * `--normalize=no` and with a small `--max-scriptnormalize`, over files whose payloads only a
 * reader can reach — deflated ZIP and gzip members, a 7z member, a base64 mail attachment, a
 * FlateDecode PDF stream, HTML and text whose marks show only once normalised (upper case in the
 * file), a UPX-packed PE, a PE with a ZIP appended, and an OLE2 file with a VBA module. The same
 * `FOUND` lines and exit code in every mode, and each switch must change what is found.
 *
 * Skips with a message when clamscan is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { buildZip } from '../helpers/zip-writer.js';
import { CLAMSCAN_SKIP, runClamscan } from '../helpers/clamscan-run.js';
import { foundLines, vigilScan } from './layers-diff.js';
import { buildPdf, flateEncode } from '../../src/formats/pdf/pdf-writer.js';
import { upxPack } from '../../src/formats/packers/upx-pack.js';
import { buildCfb, vbaProjectStreams } from '../../src/formats/office/cfb-writer.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const SEVEN = ['7zz', '7z'].find((t) => spawnSync(t, ['i'], { stdio: 'ignore' }).status === 0);

/** One mark per kind of file, each with its own body signature, so every line says which reader found it. */
const KINDS = ['zip', 'gzip', 'sevenzip', 'mail', 'pdf', 'html', 'text', 'upx', 'sfx', 'vba'] as const;
type Kind = (typeof KINDS)[number];
const mark = (k: Kind): string => `parse-switch-${k}-mark`;

const MODES: readonly (readonly string[])[] = [
  [], ['--allmatch'],
  ['--scan-archive=no'], ['--scan-mail=no'], ['--scan-pdf=no'], ['--scan-html=no'], ['--normalize=no'],
  ['--scan-pe=no'], ['--scan-ole2=no'], ['--scan-elf=no', '--scan-swf=no', '--scan-xmldocs=no', '--scan-hwp3=no', '--scan-onenote=no', '--scan-image=no'],
  ['--max-scriptnormalize=100'], ['--scan-archive=no', '--scan-pe=no', '--allmatch'],
];

test('the --scan-* switches, --normalize and --max-scriptnormalize: vigil and clamscan agree in every mode', { skip: CLAMSCAN_SKIP }, async (t) => {
  const rng = new Prng(`${SEED}:parse-switches`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-parse-'));
  try {
    const data = join(dir, 'data');
    mkdirSync(data);
    const hashes: string[] = [];
    const words = (n: number): string => Array.from({ length: n }, () => rng.pick(['lorem', 'ipsum', 'dolor', 'sit', 'amet', '42', 'x'])).join(' ').slice(0, n);
    // A payload: seeded filler around the mark, with an MD5 signature of its own.
    const payload = (k: Kind, upper = false): Buffer => {
      const m = upper ? mark(k).toUpperCase() : mark(k);
      const b = Buffer.from(`${words(rng.int(20, 200))}\n${m}\n${words(rng.int(20, 200))}\n`, 'latin1');
      hashes.push(`${createHash('md5').update(b).digest('hex')}:${b.length}:Inner.${k}`);
      return b;
    };
    const put = (name: string, b: Uint8Array): void => writeFileSync(join(data, name), b);

    const z = payload('zip');
    put('a.zip', buildZip([{ name: 'inner.txt', data: z, method: 8, compressed: deflateRawSync(z) }]).bytes);
    put('b.txt.gz', gzipSync(payload('gzip')));
    if (SEVEN) {
      const work = join(dir, 'seven');
      mkdirSync(work);
      writeFileSync(join(work, 'inner.txt'), payload('sevenzip'));
      assert.equal(spawnSync(SEVEN, ['a', '-bd', '-bso0', '-bsp0', join(data, 'c.7z'), 'inner.txt'], { cwd: work }).status, 0);
    }
    const attachment = payload('mail').toString('base64').replace(/.{76}/g, '$&\n');
    put('d.eml', Buffer.from(`From: a@example.com\nTo: b@example.com\nSubject: s\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="XX"\n\n--XX\nContent-Type: text/plain\n\nhello\n--XX\nContent-Type: application/octet-stream; name="p.bin"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="p.bin"\n\n${attachment}\n--XX--\n`, 'latin1'));
    const pdfStream = flateEncode(payload('pdf'));
    put('e.pdf', buildPdf([
      { num: 1, dict: '/Type /Catalog /Pages 2 0 R' },
      { num: 2, dict: '/Type /Pages /Kids [] /Count 0' },
      { num: 3, dict: '/Filter /FlateDecode', stream: pdfStream },
    ]));
    put('f.html', Buffer.concat([Buffer.from('<html><body><p>'), payload('html', true), Buffer.from('</p></body></html>\n')]));
    put('g.txt', Buffer.concat([Buffer.from('Some text.\n'), payload('text', true), Buffer.from('More text, long enough to pass the limit of 100 bytes in one mode of this test.\n')]));
    const code = Buffer.concat([Buffer.alloc(64, 0x90), payload('upx'), Buffer.alloc(64, 0xcc)]);
    put('h.exe', upxPack([{ name: '.text', data: code }], { method: '2b' }));
    // A PE with a ZIP appended: ClamAV reads the ZIP found inside the PE (ZIPSFX).
    const s = payload('sfx');
    const pe = upxPack([{ name: '.text', data: Buffer.alloc(256, 0x90) }], { method: '2d' });
    put('i.exe', Buffer.concat([pe, buildZip([{ name: 'sfx.txt', data: s, method: 8, compressed: deflateRawSync(s) }]).bytes]));
    put('j.doc', buildCfb(vbaProjectStreams('Macros', [{ name: 'Module1', source: `Attribute VB_Name = "Module1"\r\nSub A()\r\n${payload('vba').toString('latin1')}End Sub\r\n` }])));

    writeFileSync(join(dir, 'marks.ndb'), KINDS.map((k) => `Mark.${k}:0:*:${Buffer.from(mark(k), 'latin1').toString('hex')}`).join('\n') + '\n');
    writeFileSync(join(dir, 'inner.hdb'), hashes.join('\n') + '\n');
    const seen = new Map<string, string[]>();
    for (const mode of MODES) {
      const args = ['--no-summary', ...mode, '-d', join(dir, 'marks.ndb'), '-d', join(dir, 'inner.hdb'), data];
      const clam = await runClamscan(args);
      const mine = vigilScan(args);
      const want = foundLines(clam.out);
      assert.deepEqual(foundLines(mine.out), want, `mode ${mode.join(' ') || 'default'}; files in ${dir}`);
      assert.equal(mine.code, clam.code, `exit code, mode ${mode.join(' ') || 'default'}`);
      seen.set(mode.join(' '), want);
      t.diagnostic(`${mode.join(' ') || 'default'}: ${want.length} FOUND lines agree`);
    }
    // Each switch changes what is found (else this test would not show that it works).
    const base = seen.get('')!;
    assert.ok(base.length >= 9, `every kind of file has a detection by default (${base.length})`);
    for (const mode of ['--scan-archive=no', '--scan-mail=no', '--scan-pdf=no', '--scan-html=no', '--normalize=no', '--scan-pe=no', '--scan-ole2=no', '--max-scriptnormalize=100']) {
      assert.notDeepEqual(seen.get(mode), base, `${mode} changes the verdicts`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--scan-archive=no is also honoured for a file given on its own', { skip: CLAMSCAN_SKIP }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-parse1-'));
  try {
    const inner = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');
    const zip = buildZip([{ name: 'e.com', data: inner, method: 8, compressed: deflateRawSync(inner) }]).bytes;
    const file = join(dir, 'e.zip');
    writeFileSync(file, zip);
    writeFileSync(join(dir, 'e.ndb'), `Eicar.Body:0:*:${inner.toString('hex')}\n`);
    const on = vigilScan(['--no-summary', '-d', join(dir, 'e.ndb'), file]);
    const off = vigilScan(['--no-summary', '--scan-archive=no', '-d', join(dir, 'e.ndb'), file]);
    assert.equal(on.code, 1);
    assert.match(on.out, /Eicar\.Body\.UNOFFICIAL FOUND/);
    assert.equal(off.code, 0);
    assert.match(off.out, /: OK$/m);
    assert.ok(readFileSync(file).length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
