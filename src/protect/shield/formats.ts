/**
 * Small but valid documents of the formats users keep and ransomware goes after: ZIP containers
 * (DOCX, XLSX; the ZIP itself from formats/zip-writer.ts), PDF, baseline JPEG, PNG, GIF.
 *
 * In: text lines, table rows, image sizes and a seed. Out: the file's bytes.
 * Why: canary files must pass the "is this a real document" checks encryptors run (magic bytes,
 * a ZIP central directory, a PDF cross-reference table) and open in ordinary viewers, so they are
 * written here by hand from the format specifications rather than copied from fixed samples (a
 * fixed sample would have a fixed hash that an encryptor could skip). The tests use the same
 * writers to build their mixed document trees.
 */
import { deflateSync } from 'node:zlib';
import { crc32 } from '../../core/crc32.js';
import { mulberry32 } from '../../core/random.js';
import { makeZip, type ZipMember } from '../../formats/zip-writer.js';

/** A deterministic pseudo-random generator (mulberry32), for reproducible documents. */
export const prng = mulberry32;

export { makeZip, type ZipMember } from '../../formats/zip-writer.js';

const xmlEscape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
const REL_NS = 'http://schemas.openxmlformats.org/package/2006/relationships';
const OFFICE_DOC_REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument';

function coreProps(title: string, author: string, when: Date): string {
  const iso = when.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return XML_HEAD +
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" ' +
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" ' +
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    `<dc:title>${xmlEscape(title)}</dc:title><dc:creator>${xmlEscape(author)}</dc:creator>` +
    `<dcterms:created xsi:type="dcterms:W3CDTF">${iso}</dcterms:created>` +
    `<dcterms:modified xsi:type="dcterms:W3CDTF">${iso}</dcterms:modified></cp:coreProperties>`;
}

/**
 * An OOXML package: content types, the package relationships to the main part and the core
 * properties, then the given parts. `main` is the main part's name, `mainType` its content type,
 * `overrides` the content types of the other parts.
 */
function officePackage(main: string, mainType: string, overrides: [string, string][], parts: ZipMember[], meta: { title?: string; author?: string }, when: Date): Buffer {
  const override = (name: string, type: string): string => `<Override PartName="${name}" ContentType="${type}"/>`;
  return makeZip([
    {
      name: '[Content_Types].xml',
      data: XML_HEAD +
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
        '<Default Extension="xml" ContentType="application/xml"/>' +
        override(`/${main}`, mainType) + overrides.map(([n, t]) => override(n, t)).join('') +
        override('/docProps/core.xml', 'application/vnd.openxmlformats-package.core-properties+xml') +
        '</Types>',
    },
    {
      name: '_rels/.rels',
      data: XML_HEAD + `<Relationships xmlns="${REL_NS}">` +
        `<Relationship Id="rId1" Type="${OFFICE_DOC_REL}" Target="${main}"/>` +
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>' +
        '</Relationships>',
    },
    { name: 'docProps/core.xml', data: coreProps(meta.title ?? '', meta.author ?? '', when) },
    ...parts,
  ], when);
}

/** A Word document (OOXML WordprocessingML): one paragraph per line. */
export function makeDocx(paragraphs: string[], meta: { title?: string; author?: string; when?: Date } = {}): Buffer {
  const when = meta.when ?? new Date();
  const body = paragraphs
    .map((p) => `<w:p><w:r><w:t xml:space="preserve">${xmlEscape(p)}</w:t></w:r></w:p>`)
    .join('');
  return officePackage('word/document.xml', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml', [], [
    {
      name: 'word/document.xml',
      data: XML_HEAD +
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">' +
        `<w:body>${body}<w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr></w:body></w:document>`,
    },
  ], meta, when);
}

/** A spreadsheet (OOXML SpreadsheetML), numbers as numbers and the rest as inline strings. */
export function makeXlsx(rows: (string | number)[][], meta: { title?: string; author?: string; when?: Date } = {}): Buffer {
  const when = meta.when ?? new Date();
  const col = (i: number): string => {
    let s = '';
    for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
    return s;
  };
  const sheetRows = rows.map((r, ri) =>
    `<row r="${ri + 1}">` +
    r.map((v, ci) => {
      const ref = `${col(ci)}${ri + 1}`;
      return typeof v === 'number' && Number.isFinite(v)
        ? `<c r="${ref}"><v>${v}</v></c>`
        : `<c r="${ref}" t="inlineStr"><is><t>${xmlEscape(String(v))}</t></is></c>`;
    }).join('') + '</row>').join('');
  const SML = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
  return officePackage('xl/workbook.xml', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml', [
    ['/xl/worksheets/sheet1.xml', 'application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml'],
  ], [
    {
      name: 'xl/workbook.xml',
      data: XML_HEAD +
        `<workbook xmlns="${SML}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">` +
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
    },
    {
      name: 'xl/_rels/workbook.xml.rels',
      data: XML_HEAD + `<Relationships xmlns="${REL_NS}">` +
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>' +
        '</Relationships>',
    },
    { name: 'xl/worksheets/sheet1.xml', data: XML_HEAD + `<worksheet xmlns="${SML}"><sheetData>${sheetRows}</sheetData></worksheet>` },
  ], meta, when);
}

/** A scanned page: greyscale pixels, stored uncompressed as scanners' simplest PDFs do. */
export interface PdfScan {
  width: number;
  height: number;
  pixel: (x: number, y: number) => number;
}

/**
 * A one-page PDF 1.4 with Helvetica text lines (and optionally a scanned page image under them),
 * with a correct cross-reference table.
 */
export function makePdf(lines: string[], meta: { title?: string; when?: Date; scan?: PdfScan } = {}): Buffer {
  const esc = (s: string): string => s.replace(/[^\x20-\x7e]/g, '?').replace(/([\\()])/g, '\\$1');
  const when = meta.when ?? new Date();
  const pdfDate = `D:${when.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
  const text = lines.slice(0, 60).map((l, i) => `${i === 0 ? '' : '0 -14 Td '}(${esc(l)}) Tj`).join('\n');
  const scan = meta.scan;
  const stream = (scan ? 'q 595 0 0 842 0 0 cm /Im1 Do Q\n' : '') + `BT /F1 11 Tf 56 780 Td\n${text}\nET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >>' +
      (scan ? ' /XObject << /Im1 7 0 R >>' : '') + ' >> >>',
    `<< /Length ${Buffer.byteLength(stream, 'latin1')} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    `<< /Title (${esc(meta.title ?? '')}) /Producer (${scan ? 'Scanner' : 'Microsoft Word'}) /CreationDate (${pdfDate}) >>`,
  ];
  if (scan) {
    const px = Buffer.alloc(scan.width * scan.height);
    for (let y = 0, o = 0; y < scan.height; y++) for (let x = 0; x < scan.width; x++) px[o++] = scan.pixel(x, y);
    objects.push(`<< /Type /XObject /Subtype /Image /Width ${scan.width} /Height ${scan.height} /ColorSpace /DeviceGray ` +
      `/BitsPerComponent 8 /Length ${px.length} >>\nstream\n${px.toString('latin1')}\nendstream`);
  }
  let out = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) out += `${String(off).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

/** Canonical Huffman codes from JPEG's (counts per length, symbols) table form. */
function huffCodes(counts: number[], symbols: number[]): Map<number, { code: number; len: number }> {
  const map = new Map<number, { code: number; len: number }>();
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < (counts[len - 1] ?? 0); i++) map.set(symbols[k++]!, { code: code++, len });
    code <<= 1;
  }
  return map;
}

// ITU T.81 Annex K.3: the typical luminance DC table.
const DC_COUNTS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_SYMBOLS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
// An AC table with the end-of-block code alone: each block carries its average level only.
const AC_COUNTS = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const AC_SYMBOLS = [0x00];

/**
 * A baseline (SOF0) greyscale JPEG/JFIF image of `width`×`height`: a soft gradient with noise per
 * 8×8 block, every block coded by its DC coefficient (standard luminance DC table), then EOB.
 */
export function makeJpeg(width: number, height: number, seed = 1): Buffer {
  const rnd = prng(seed);
  const seg = (marker: number, body: number[]): number[] => [0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body];
  const head: number[] = [0xff, 0xd8];
  head.push(...seg(0xe0, [0x4a, 0x46, 0x49, 0x46, 0x00, 1, 1, 1, 0, 72, 0, 72, 0, 0]));
  head.push(...seg(0xdb, [0x00, ...new Array<number>(64).fill(8)]));
  head.push(...seg(0xc0, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0]));
  head.push(...seg(0xc4, [0x00, ...DC_COUNTS, ...DC_SYMBOLS]));
  head.push(...seg(0xc4, [0x10, ...AC_COUNTS, ...AC_SYMBOLS]));
  head.push(...seg(0xda, [1, 1, 0x00, 0, 63, 0]));
  const dc = huffCodes(DC_COUNTS, DC_SYMBOLS);
  const ac = huffCodes(AC_COUNTS, AC_SYMBOLS);
  const bytes: number[] = [];
  let acc = 0;
  let nbits = 0;
  const put = (code: number, len: number): void => {
    for (let i = len - 1; i >= 0; i--) {
      acc = (acc << 1) | ((code >> i) & 1);
      if (++nbits === 8) {
        bytes.push(acc);
        if (acc === 0xff) bytes.push(0x00);
        acc = 0;
        nbits = 0;
      }
    }
  };
  const bw = Math.ceil(width / 8);
  const bh = Math.ceil(height / 8);
  let prev = 0;
  const phase = rnd() * 6;
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      const level = 128 + 70 * Math.sin(phase + bx / 5 + by / 7) + 30 * (rnd() - 0.5);
      // DC = 8 × (mean − 128) / quantiser 8.
      const value = Math.max(-1023, Math.min(1023, Math.round(level - 128)));
      const diff = value - prev;
      prev = value;
      const mag = Math.abs(diff);
      const cat = mag === 0 ? 0 : 32 - Math.clz32(mag);
      const c = dc.get(cat)!;
      put(c.code, c.len);
      if (cat > 0) put(diff < 0 ? diff + (1 << cat) - 1 : diff, cat);
      const eob = ac.get(0)!;
      put(eob.code, eob.len);
    }
  }
  if (nbits > 0) put((1 << (8 - nbits)) - 1, 8 - nbits);
  return Buffer.from([...head, ...bytes, 0xff, 0xd9]);
}

/** An 8-bit RGB PNG; `pixel(x, y)` gives [r, g, b]. */
export function makePng(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let o = 0;
  for (let y = 0; y < height; y++) {
    raw[o++] = 0;
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      raw[o++] = r & 0xff;
      raw[o++] = g & 0xff;
      raw[o++] = b & 0xff;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A 1×1 GIF89a image. */
export function makeGif(): Buffer {
  return Buffer.from('47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b', 'hex');
}

const WORDS = (
  'the of and to in a is that for it as was with be by on not he this are or his from at which but have an ' +
  'they you were her she there been one all we their has would when if so no will more about up out who them ' +
  'invoice payment account balance contract quarterly report budget forecast revenue customer supplier order ' +
  'delivery meeting minutes agenda project schedule review approval signature policy insurance tax return ' +
  'salary employee department office manager director board annual summary total amount due date reference ' +
  'please find attached regards thank kind best sincerely draft final version updated notes plan proposal'
).split(' ');

/** Plausible office prose of about `words` words, in sentences. */
export function prose(rnd: () => number, words: number): string {
  const out: string[] = [];
  let sentence: string[] = [];
  for (let i = 0; i < words; i++) {
    let w = WORDS[Math.floor(rnd() * WORDS.length)]!;
    if (rnd() < 0.05) w = String(Math.floor(rnd() * 100000));
    sentence.push(sentence.length === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w);
    if (sentence.length > 6 && rnd() < 0.12) {
      out.push(sentence.join(' ') + '.');
      sentence = [];
    }
  }
  if (sentence.length > 0) out.push(sentence.join(' ') + '.');
  return out.join(' ');
}
