/**
 * Excel 4 (XLM) macros and drawings in .xls workbooks: `vigil scan` against `clamscan` on seeded
 * BIFF8 workbooks in OLE2 files — macro sheets (visible, hidden, very hidden), Auto_Open names,
 * EXEC / CALL / REGISTER formulas with 8-bit and UTF-16 strings, SST strings split across
 * CONTINUE records, FILEPASS, listings long enough for some of them to reach ClamAV's scan (it
 * scans only what its stdio buffer wrote out), records cut short or too long (nothing scanned),
 * `Book` streams (no listing), workbooks in sub-storages, drawing groups with PNG, JPEG, DIB and
 * EMF images split over CONTINUE records (with and without a macro sheet), files LibreOffice
 * made with images (when `soffice` is installed), and mutated copies — the same `FOUND` lines and
 * exit codes by default, with `--allmatch`, with `--alert-macros` and with both.
 *
 * Signatures: the marks (body), body signatures written against ClamAV's listing text
 * (`xlm.ndb`: the header line, `built-in-name 1 auto_open`, `func EXEC (0x006e)`, CALL as
 * `<unknown function> (0xff96)`, a very hidden macro sheet), and MD5 hashes of listings as
 * ClamAV scans them, of images and of streams (`inner.hdb`).
 *
 * Every generated workbook starts with an 8228-byte record after its BOF: ClamAV reads formula
 * tokens (and some strings) past the end of a record, in a buffer it does not clear, so the
 * record fills it with known bytes. Skips with a message when clamscan 1.4 is absent.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP, runClamscan } from '../helpers/clamscan-run.js';
import { foundLines, MARKS } from './layers-diff.js';
import { vigilBin } from './run-vigil.js';
import * as B from '../../src/formats/office/biff-writer.js';
import type { CfbStream } from '../../src/formats/office/cfb-writer.js';
import { ole2Layers } from '../../src/formats/office/ole2.js';
import { isChild } from '../../src/formats/unpack.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const HAVE_SOFFICE = spawnSync('soffice', ['--version'], { encoding: 'utf8' }).status === 0;

const CTX = {
  limits: { maxFileSize: 100 * 1024 * 1024, maxFiles: 10000, maxScanSize: 400 * 1024 * 1024 },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false },
};

/** Body signatures written against ClamAV's listing text. */
const TEXT_SIGS: [string, string][] = [
  ['XLM.Listing', '-- BIFF content extracted and disassembled'],
  ['XLM.AutoOpen', 'built-in-name 1 auto_open'],
  ['XLM.Exec', 'ptgFuncVar args 1 func EXEC (0x006e)'],
  ['XLM.Call', 'func <unknown function> (0xff96)'],
  ['XLM.VeryHidden', 'BOUNDSHEET : Sheet Information - Excel 4.0 macro sheet, very hidden'],
];

const FILLER = B.record(0x1234, new Uint8Array(8228));

function png(extra: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.from(extra)]);
}

let generated: { dir: string; hashes: string[] } | undefined;

function generate(): { dir: string; hashes: string[] } {
  if (generated) return generated;
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-xlm-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  const hash = (body: Uint8Array): void => {
    if (body.length > 5) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${hashes.length}`);
  };
  const seenListing = new Set<string>();
  /** Hashes of what ClamAV scans of the file's workbooks (each listing once: short ones are all the header alone). */
  const listingHashes = (file: Uint8Array): void => {
    for (const it of ole2Layers(file, CTX)) {
      if (!isChild(it)) continue;
      if (it.name.endsWith('/xlm')) {
        const key = createHash('md5').update(it.data).digest('hex');
        if (!seenListing.has(key) && rng.chance(0.6)) { seenListing.add(key); hash(it.data); }
      } else if (/\/image\d+\./.test(it.name) && rng.chance(0.5)) hash(it.data);
    }
  };
  const mark = (): string => rng.pick(MARKS);

  /** Formulas of a macro sheet: strings with marks (8-bit ones lose their last 3 characters in ClamAV's text), calls. */
  const formulas = (count: number): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let k = 0; k < count; k++) {
      const row = rng.int(0, 3000), col = rng.int(0, 40);
      switch (rng.int(0, 7)) {
        case 0: out.push(B.formula(row, col, [...B.ptg.str(`cmd /c ${rng.chance(0.3) ? mark() : 'calc'}.exe`), ...B.ptg.funcVar(1, B.FN.EXEC)])); break;
        case 1: out.push(B.formula(row, col, [...B.ptg.str(rng.chance(0.4) ? mark() : 'Kernel32', true), ...B.ptg.str('CreateThread'), ...B.ptg.funcVar(2, B.FN.REGISTER)])); break;
        case 2: out.push(B.formula(row, col, [...B.ptg.ref(rng.int(0, 99), rng.int(0, 9)), ...B.ptg.int(rng.int(0, 65535)), ...B.ptg.funcVar(2, B.FN.CALL)])); break;
        case 3: out.push(B.formula(row, col, [...B.ptg.num(rng.pick([0.5, 1e10, -3.25, rng.float() * 1e5])), ...B.ptg.func(B.FN.HALT)])); break;
        case 4: out.push(B.formula(row, col, [...B.ptg.str(`${mark()}/x.dll`, true), ...B.ptg.ref3d(0, row, col), ...B.ptg.funcVar(2, B.FN.FORMULA)])); break;
        case 5: out.push(B.formula(row, col, [...B.ptg.bool(rng.chance(0.5)), ...B.ptg.area(1, 2, 3, 4), ...B.ptg.func(B.FN.RETURN)])); break;
        case 6: out.push(B.stringRecord(rng.chance(0.5) ? `${mark()}abc` : 'plain text', rng.chance(0.5))); break;
        default: out.push(B.formula(row, col, [...B.ptg.name(rng.int(1, 9)), ...B.ptg.funcVar(0, 0x806d), ...new Array<number>(9).fill(0)])); break;
      }
    }
    return out;
  };

  const images = (): B.BlipImage[] => Array.from({ length: rng.int(1, 3) }, () => {
    const body = Buffer.concat([Buffer.from(rng.bytes(rng.int(0, 3000))), Buffer.from(rng.chance(0.6) ? mark() : 'no mark', 'latin1'), Buffer.from(rng.bytes(rng.int(0, 200)))]);
    return rng.pick<B.BlipImage>([
      { recType: 0xf01e, instance: rng.pick([0x6e0, 0x6e1]), data: png(body) },
      { recType: 0xf01d, instance: rng.pick([0x46a, 0x46b, 0x6e2]), data: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), body]) },
      { recType: 0xf01f, instance: 0x7a8, data: body, inFbse: rng.chance(0.5) },
      { recType: 0xf01a, instance: 0x3d4, data: body },
    ]);
  });

  const workbook = (macro: boolean, withImages: boolean): Uint8Array => {
    const recs: (Uint8Array | Uint8Array[])[] = [B.bof(), FILLER];
    if (rng.chance(0.15)) recs.push(B.filepass());
    recs.push(B.boundsheet('Sheet1', B.SHEET.worksheet));
    if (macro) recs.push(B.boundsheet(rng.pick(['Macro1', 'x']), B.SHEET.macro, rng.pick([B.VISIBLE, B.HIDDEN, B.VERY_HIDDEN])));
    if (macro && rng.chance(0.7)) recs.push(B.name(B.BUILTIN.Auto_Open, B.ptg.ref3d(0, 0, 0), { hidden: rng.chance(0.5) }));
    if (rng.chance(0.3)) recs.push(B.name(`Auto_Open${rng.int(0, 9)}`, B.ptg.ref3d(0, 0, 0)));
    if (rng.chance(0.3)) recs.push(B.sst(['first', `${mark()} in a shared string `.repeat(rng.int(1, 400)), 'Ωmega'], rng.int(200, 8224)));
    if (withImages) recs.push(B.drawingGroup(B.drawingGroupData(images()), rng.pick([8224, rng.int(16, 500)])));
    if (macro || rng.chance(0.3)) recs.push(formulas(rng.pick([3, 30, rng.int(50, 250)])));
    recs.push(B.eof());
    return B.workbook(recs);
  };

  const file = (k: number): Uint8Array => {
    const kind = rng.int(0, 9);
    const extra: CfbStream[] = [];
    if (rng.chance(0.3)) extra.push({ path: '\x05SummaryInformation', data: Buffer.from(rng.bytes(rng.int(50, 400))) });
    // A mark only a stream scan finds (gzip data): ClamAV scans the streams after the listings,
    // unless the first workbook's extraction failed. (Not beside a `Book` stream, which gets no
    // listing: which of two planted streams ClamAV scans first depends on its temporary
    // directory's order.)
    if (kind !== 8 && rng.chance(0.4)) {
      const body = Buffer.concat([Buffer.from(rng.bytes(rng.int(0, 500))), Buffer.from(mark(), 'latin1')]);
      if (rng.chance(0.3)) hash(body);
      extra.push({ path: rng.pick(['Data', 'Store/Data']), data: gzipSync(body) });
    }
    let book = workbook(kind !== 3 && kind !== 4, kind >= 3 && kind <= 6);
    let streamName = 'Workbook';
    if (kind === 7) {
      // Cut inside a record (nothing scanned), inside a record header (scanned), or a record too long.
      const how = rng.int(0, 2);
      if (how === 0) book = book.subarray(0, book.length - rng.int(1, 3));
      else if (how === 1) book = book.subarray(0, book.length - rng.int(5, 40));
      else book = B.workbook([book.subarray(0, book.length - 4), B.record(0x00fc, new Uint8Array(9000)), B.eof()]);
    } else if (kind === 9 && rng.chance(0.6)) {
      // A drawing group ClamAV's reader refuses (an error that ends the rest of its OLE2 scan).
      book = B.workbook([book.subarray(0, book.length - 4), B.record(B.OP.MSODRAWINGGROUP, rng.bytes(rng.int(0, 40))), B.eof()]);
    } else if (kind === 8) {
      streamName = rng.pick(['Book', 'Workbook']);
      extra.push({ path: `ObjectPool/_${1000 + k}/Workbook`, data: workbook(true, rng.chance(0.5)) });
    }
    const out = B.xlsFile(book, extra, { streamName, version: rng.chance(0.2) ? 4 : 3, ...(rng.chance(0.3) ? { shuffle: () => rng.float() } : {}) });
    listingHashes(out);
    return out;
  };

  const files: Uint8Array[] = [];
  for (let k = 0; k < 36; k++) {
    const f = file(k);
    files.push(f);
    writeFileSync(join(data, `book${k}.xls`), f);
  }
  // Mutated copies: bytes changed after the filler record (the stream is the first big stream).
  for (let k = 0; k < 10; k++) {
    const src = Uint8Array.from(rng.pick(files));
    const from = Math.min(src.length - 1, 512 + 8228 + 30);
    for (let n = rng.int(1, 12); n > 0; n--) src[rng.int(from, src.length - 1)] = rng.int(0, 255);
    writeFileSync(join(data, `mutated${k}.xls`), src);
  }
  if (HAVE_SOFFICE) for (const p of libreOfficeFiles(rng, dir, data)) listingHashes(readFileSync(p));
  generated = { dir, hashes };
  return generated;
}

/** CRC-32 (PNG chunks). */
function crc32(b: Uint8Array): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A small valid PNG (8x8 RGB) with a text chunk. */
function realPng(text: Uint8Array): Buffer {
  const chunk = (type: string, body: Uint8Array): Buffer => {
    const tb = Buffer.concat([Buffer.from(type, 'latin1'), body]);
    const len = Buffer.alloc(4); len.writeUInt32BE(body.length);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(tb));
    return Buffer.concat([len, tb, crc]);
  };
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(8, 0); ihdr.writeUInt32BE(8, 4); ihdr[8] = 8; ihdr[9] = 2;
  const raw = Buffer.alloc(8 * 25, 0x7f);
  for (let y = 0; y < 8; y++) raw[y * 25] = 0;
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), chunk('IHDR', ihdr), chunk('tEXt', Buffer.concat([Buffer.from('Comment\0', 'latin1'), text])), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

/** Spreadsheets LibreOffice writes as .xls from flat ODF with embedded PNG images (drawing groups); their paths. */
function libreOfficeFiles(rng: Prng, dir: string, data: string): string[] {
  const src = join(dir, 'fods');
  mkdirSync(src);
  const names: string[] = [];
  for (let k = 0; k < 3; k++) {
    const image = realPng(Buffer.concat([Buffer.from(rng.bytesFrom(rng.int(10, 400), Buffer.from('abcdefghijklmnop'))), Buffer.from(rng.pick(MARKS), 'latin1')]));
    const doc = `<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.spreadsheet">
<office:body><office:spreadsheet><table:table table:name="Sheet1"><table:shapes><draw:frame svg:width="2cm" svg:height="2cm" svg:x="1cm" svg:y="1cm"><draw:image><office:binary-data>${image.toString('base64')}</office:binary-data></draw:image></draw:frame></table:shapes>
<table:table-row><table:table-cell office:value-type="string"><text:p>${rng.pick(MARKS)}</text:p></table:table-cell><table:table-cell table:formula="of:=SUM(1;2)" office:value-type="float" office:value="3"/></table:table-row></table:table>
</office:spreadsheet></office:body></office:document>`;
    const name = join(src, `lo${k}.fods`);
    writeFileSync(name, doc);
    names.push(name);
  }
  spawnSync('soffice', ['--headless', '--convert-to', 'xls', '--outdir', data, ...names], { timeout: 180000 });
  return names.map((n) => join(data, n.slice(src.length + 1).replace(/\.fods$/, '.xls'))).filter((p) => existsSync(p));
}

/** `vigil scan ARGS` as a process (its output with --allmatch runs to megabytes). */
function vigilScan(args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, [vigilBin(), 'scan', ...args], { encoding: 'latin1', maxBuffer: 512 * 1024 * 1024 });
  return { code: r.status ?? -1, out: r.stdout };
}

async function compare(t: TestContext, dir: string, hashes: readonly string[], modes: readonly (readonly string[])[]): Promise<void> {
  const data = join(dir, 'data');
  writeFileSync(join(dir, 'marks.ndb'), [
    ...MARKS.map((m, i) => `Mark.${i}:0:*:${Buffer.from(m, 'latin1').toString('hex')}`),
    ...TEXT_SIGS.map(([name, text]) => `${name}:0:*:${Buffer.from(text, 'latin1').toString('hex')}`),
  ].join('\n') + '\n');
  writeFileSync(join(dir, 'inner.hdb'), hashes.join('\n') + '\n');
  for (const mode of modes) {
    const args = ['--no-summary', ...mode, '-d', join(dir, 'marks.ndb'), '-d', join(dir, 'inner.hdb'), data];
    const clam = await runClamscan(args);
    const mine = vigilScan(args);
    const want = foundLines(clam.out);
    const tag = mode.join('') || 'default';
    writeFileSync(join(dir, `clamscan${tag}.txt`), want.join('\n'));
    writeFileSync(join(dir, `vigil${tag}.txt`), foundLines(mine.out).join('\n'));
    assert.ok(want.length >= 10, `the generated files carry detections (${want.length})`);
    assert.deepEqual(foundLines(mine.out), want, `mode ${mode.join(' ') || 'default'}; files in ${dir}`);
    assert.equal(mine.code, clam.code);
    const count = (re: RegExp): number => want.filter((l) => re.test(l)).length;
    t.diagnostic(`${mode.join(' ') || 'default'}: ${want.length} FOUND lines agree (${count(/ XLM\./)} on listing text, ${count(/Inner\.Hash/)} hashes, ${count(/ContainsMacros\.XLM/)} XLM heuristics)`);
  }
}

test(`XLM macros and drawings: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const { dir, hashes } = generate();
  t.diagnostic(`${readdirSync(join(dir, 'data')).length} files${HAVE_SOFFICE ? '' : ' (soffice absent: no LibreOffice files)'}`);
  await compare(t, dir, hashes, [[], ['--alert-macros']]);
});

test(`XLM macros and drawings with --allmatch (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const { dir, hashes } = generate();
  await compare(t, dir, hashes, [['--allmatch'], ['--allmatch', '--alert-macros']]);
});

test('the listing signatures are in the generated listings', { skip: CLAMSCAN_SKIP }, () => {
  const { dir } = generate();
  const seen = new Set<string>();
  for (const f of readdirSync(join(dir, 'data'))) {
    for (const it of ole2Layers(readFileSync(join(dir, 'data', f)), CTX)) {
      if (!isChild(it) || !it.name.endsWith('/xlm')) continue;
      const text = Buffer.from(it.data).toString('latin1');
      for (const [name, sig] of TEXT_SIGS) if (text.includes(sig)) seen.add(name);
    }
  }
  assert.deepEqual([...seen].sort(), TEXT_SIGS.map(([n]) => n).sort());
});
