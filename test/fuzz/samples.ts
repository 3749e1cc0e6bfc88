/**
 * Valid samples of every container format the scanner opens, for the fuzz suite.
 *
 * In: a work directory. Out: named samples, each a real file of its format, made by the tool that
 * makes such files (zip, tar, gzip, bzip2, xz, zstd, 7z, cpio, arj, lha, gcab, xorriso, mingw-w64…)
 * when it is installed, or by code where no tool exists. A format whose tool is absent is left out
 * and named in `missing`, so the suite can say what it did not cover.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { buildCfb, vbaProjectStreams } from '../../src/formats/office/cfb-writer.js';
import { buildCab, buildChm, buildRar4, buildRar5 } from '../../src/formats/cabinet/samples.js';
import { szdd } from '../../src/formats/archive/szdd-encode.js';
import { buildPdf } from '../../src/formats/pdf/pdf-writer.js';
import { upxPack } from '../../src/formats/packers/upx-pack.js';
import { buildAutoit, buildIshieldMsi, buildSis } from '../../src/formats/installer/fixtures.js';
import { buildXar } from '../../src/formats/archive/xar-build.js';
import { cwsMovie, fwsMovie, gif, png, zwsMovie } from '../../src/formats/media/samples.js';
import { mewPackLzma } from '../../src/formats/packers/mew-pack.js';
import { upackPack } from '../../src/formats/packers/upack-pack.js';
import { aspackPack } from '../../src/formats/packers/aspack-pack.js';
import { petitePack } from '../../src/formats/packers/petite-pack.js';

export interface Sample { name: string; bytes: Buffer }

/** A payload with a mark the fuzz database detects, so that mutated containers still reach signatures. */
export const FUZZ_MARK = 'fuzz-mark-kittiwake-0042';

/** The binary member of every sample (detected by its MD5 in the fuzz database). */
export const FUZZ_PAYLOAD = Buffer.concat([Buffer.alloc(300, 7), Buffer.from(FUZZ_MARK), Buffer.alloc(200, 9)]);

function tool(cmd: string, args: string[], cwd: string): boolean {
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'ignore'], timeout: 60_000 });
  return r.status === 0;
}

/** Builds the samples in `work`; formats whose tool is missing are listed in `missing`. */
export function buildSamples(work: string): { samples: Sample[]; missing: string[] } {
  const src = mkdtempSync(join(work, 'src-'));
  const files = ['a.txt', 'b.bin', 'sub/c.txt'];
  mkdirSync(join(src, 'sub'));
  writeFileSync(join(src, 'a.txt'), `hello ${FUZZ_MARK} world\n`.repeat(20));
  writeFileSync(join(src, 'b.bin'), FUZZ_PAYLOAD);
  writeFileSync(join(src, 'sub/c.txt'), 'plain text without anything\n'.repeat(30));
  const samples: Sample[] = [];
  const missing: string[] = [];
  const out = (name: string) => join(work, name);
  const add = (name: string, ok: boolean) => {
    if (ok) samples.push({ name, bytes: readFileSync(out(name)) });
    else missing.push(name);
  };
  add('s.zip', tool('zip', ['-q', '-r', out('s.zip'), ...files], src));
  add('s-stored.zip', tool('zip', ['-q', '-0', '-r', out('s-stored.zip'), ...files], src));
  add('s.tar', tool('tar', ['--format=ustar', '-cf', out('s.tar'), ...files], src));
  add('s-gnu.tar', tool('tar', ['--format=gnu', '-cf', out('s-gnu.tar'), ...files], src));
  add('s-pax.tar', tool('tar', ['--format=pax', '-cf', out('s-pax.tar'), ...files], src));
  writeFileSync(out('s.gz'), gzipSync(readFileSync(join(src, 'b.bin'))));
  add('s.gz', true);
  add('s.bz2', tool('sh', ['-c', `bzip2 -c b.bin > '${out('s.bz2')}'`], src));
  add('s.xz', tool('sh', ['-c', `xz -c b.bin > '${out('s.xz')}'`], src));
  add('s.lzma', tool('sh', ['-c', `lzma -c b.bin > '${out('s.lzma')}'`], src));
  add('s.zst', tool('sh', ['-c', `zstd -q -c b.bin > '${out('s.zst')}'`], src));
  add('s.7z', tool('7z', ['a', '-bd', '-y', out('s.7z'), ...files], src));
  add('s-bcj.7z', tool('7z', ['a', '-bd', '-y', '-m0=BCJ', '-m1=LZMA', out('s-bcj.7z'), ...files], src));
  add('s-ppmd.7z', tool('7z', ['a', '-bd', '-y', '-m0=PPMd', out('s-ppmd.7z'), ...files], src));
  add('s-cpio-newc', tool('sh', ['-c', `printf '%s\\n' ${files.join(' ')} | cpio -o -H newc > '${out('s-cpio-newc')}' 2>/dev/null`], src));
  add('s-cpio-odc', tool('sh', ['-c', `printf '%s\\n' ${files.join(' ')} | cpio -o -H odc > '${out('s-cpio-odc')}' 2>/dev/null`], src));
  add('s-cpio-bin', tool('sh', ['-c', `printf '%s\\n' ${files.join(' ')} | cpio -o -H bin > '${out('s-cpio-bin')}' 2>/dev/null`], src));
  add('s-cpio-crc', tool('sh', ['-c', `printf '%s\\n' ${files.join(' ')} | cpio -o -H crc > '${out('s-cpio-crc')}' 2>/dev/null`], src));
  add('s.arj', tool('arj', ['a', '-y', out('s.arj'), ...files], src));
  add('s.lzh', tool('lha', ['-aq', out('s.lzh'), ...files], src));
  add('s.cab', tool('gcab', ['-c', '-z', out('s.cab'), ...files], src));
  add('s.iso', tool('xorriso', ['-as', 'mkisofs', '-quiet', '-J', '-o', out('s.iso'), '.'], src));
  add('s.uu', tool('sh', ['-c', `uuencode b.bin b.bin > '${out('s.uu')}'`], src));
  add('s.eml', writeMail(out('s.eml'), readFileSync(join(src, 'b.bin'))));
  add('s.pdf', writePdf(out('s.pdf')));
  // Formats no tool here writes: built by the test writers of their readers.
  const payload = readFileSync(join(src, 'b.bin'));
  const byCode: [string, Uint8Array][] = [
    ['s.doc', buildCfb([{ path: 'WordDocument', data: payload }, { path: 'Data/inner', data: Buffer.from(`text ${FUZZ_MARK}`) }])],
    ['s-vba.doc', buildCfb([{ path: 'WordDocument', data: Buffer.alloc(600, 1) }, ...vbaProjectStreams('Macros', [{ name: 'Module1', source: `Sub A()\r\n' ${FUZZ_MARK}\r\nEnd Sub\r\n` }])])],
    ['s-lzx.cab', buildCab([{ name: 'b.bin', data: payload }, { name: 'a.txt', data: Buffer.from(`${FUZZ_MARK}\n`.repeat(10)) }], { folders: [{ comp: 'lzx', windowBits: 16 }] })],
    ['s.chm', buildChm([{ name: '/b.bin', data: payload }, { name: '/a.htm', data: Buffer.from(`<p>${FUZZ_MARK}</p>`), section: 0 }])],
    ['s4.rar', buildRar4([{ name: 'b.bin', data: payload }])],
    ['s5.rar', buildRar5([{ name: 'b.bin', data: payload }])],
    ['s.sz_', szdd(payload)],
    ['s2.pdf', buildPdf([
      { num: 1, dict: '/Type /Catalog /Pages 2 0 R' }, { num: 2, dict: '/Type /Pages /Kids [] /Count 0' },
      { num: 3, dict: '/Filter /FlateDecode', stream: deflateSync(payload) },
      { num: 4, dict: '/S /JavaScript', body: `/JS (app.alert('${FUZZ_MARK}'))` },
    ])],
  ];
  const members = [{ name: 'b.bin', data: payload }, { name: 'a.txt', data: Buffer.from(`${FUZZ_MARK} text`) }];
  byCode.push(
    ['s-upx.exe', upxPack([{ name: 'UPX0', data: new Uint8Array(0x1000), vsize: 0x3000 }, { name: 'UPX1', data: Buffer.concat([payload, Buffer.alloc(0x400, 0x90)]) }], { method: '2b' })],
    ['s.sis', buildSis(members)],
    ['s-ishield.exe', buildIshieldMsi(members)],
    ['s-autoit.exe', buildAutoit(members, true)],
    ['s.xar', buildXar([{ name: 'b.bin', data: payload, encoding: 'gzip' }, { name: 'a.txt', data: Buffer.from(`${FUZZ_MARK} text`), encoding: 'none' }])],
    ['s-cws.swf', cwsMovie(fwsMovie(payload))],
    ...((): [string, Uint8Array][] => { const z = zwsMovie(fwsMovie(payload)); return z ? [['s-zws.swf', z]] : []; })(),
    ['s.png', png([], payload)],
    ['s.gif', gif('vigil', payload)],
    ['s-mew-lzma.exe', mewPackLzma([{ name: '.text', data: Buffer.concat([payload, Buffer.alloc(0x300, 0x90)]) }])],
    ['s-upack.exe', upackPack([{ name: '.text', data: Buffer.concat([payload, Buffer.alloc(0x300, 0x90)]) }], 0x1000, { form: 'three' })],
    ['s-aspack.exe', aspackPack([{ name: '.text', data: Buffer.concat([payload, Buffer.alloc(0x300, 0x90)]) }])],
    ['s-petite.exe', petitePack([{ name: '.text', data: Buffer.concat([payload, Buffer.alloc(0x300, 0x90)]) }])],
    ['s.html', Buffer.from(`<html><body><!-- c --><p>&#x66;uzz</p><script>var x = '${FUZZ_MARK}';</script><a href="data:text/plain;base64,${payload.toString('base64')}">x</a></body></html>`)],
  );
  if (tool('makensis', ['-VERSION'], src)) {
    writeFileSync(join(src, 's.nsi'), `OutFile "${out('s-nsis.exe')}"\nSetCompressor /SOLID lzma\nSection\nSetOutPath $TEMP\nFile b.bin\nFile a.txt\nSectionEnd\n`);
    add('s-nsis.exe', tool('makensis', ['-V1', 's.nsi'], src));
  } else missing.push('s-nsis.exe');
  for (const [name, bytes] of byCode) {
    writeFileSync(out(name), bytes);
    add(name, true);
  }
  return { samples, missing };
}

function writeMail(path: string, attachment: Buffer): boolean {
  const b64 = attachment.toString('base64').replace(/.{76}/g, '$&\n');
  writeFileSync(path, [
    'From: a@example.org', 'To: b@example.org', 'Subject: sample', 'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="XYZ"', '', '--XYZ', 'Content-Type: text/plain', '', `see ${FUZZ_MARK}`,
    '--XYZ', 'Content-Type: application/octet-stream; name="b.bin"', 'Content-Transfer-Encoding: base64', '', b64, '--XYZ--', '',
  ].join('\n'));
  return true;
}

function writePdf(path: string): boolean {
  const stream = gzipSync(Buffer.from(`BT /F1 12 Tf (${FUZZ_MARK}) Tj ET`)).subarray(10, -8);
  const parts = [
    '%PDF-1.4\n', '1 0 obj << /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >> endobj\n', '2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n',
    '3 0 obj << /Type /Page /Parent 2 0 R /Contents 5 0 R >> endobj\n', `4 0 obj << /S /JavaScript /JS (app.alert\\('${FUZZ_MARK}'\\)) >> endobj\n`,
  ];
  const head = Buffer.from(parts.join('') + `5 0 obj << /Length ${stream.length + 2} /Filter /FlateDecode >>\nstream\n`, 'latin1');
  // A raw deflate stream is not a zlib stream: wrap it with a zlib header and no checksum, as broken PDFs do.
  writeFileSync(path, Buffer.concat([head, Buffer.from([0x78, 0x9c]), stream, Buffer.from('\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n', 'latin1')]));
  return true;
}
