/**
 * A test "ransomware" and the victim's files it encrypts.
 *
 * In: a directory, a seed. Out: `generateCorpus` fills the directory with a seeded (mulberry32)
 * mix of real files: PNG (zlib IDAT, valid CRCs), PDF (objects, xref, trailer), ZIP and OOXML
 * DOCX/XLSX packages (local headers, central directory, CRCs), JPEG (JFIF/Exif, DQT, SOF0, DHT,
 * SOS, stuffed scan data, EOI), GIF (palette, LZW image data, trailer), BMP, UTF-8 text and
 * random binary, sizes log-uniform over 100 B .. 2 MiB. The encryptors then act like generic
 * ransomware in process: a static multi-byte XOR key (`x.ext` → `x.ext.xor1`); one AES-256-CTR
 * key and nonce reused for every file; the same encrypting only the first N bytes. Each writes
 * the encrypted file as a new file and deletes the original.
 * Why: the decryption tests need the flaws real families had, over files whose structure the
 * checks can prove, reproducibly.
 */
import { createCipheriv } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { crc32 } from '../../core/crc32.js';
import { makeZip, type ZipMember } from '../../formats/zip-writer.js';
import { writeNewFile } from '../../core/newfile.js';
import { mulberry32 } from '../../core/random.js';
import { xorPrefix, xorRepeating } from './xor.js';

export type CorpusKind = 'png' | 'pdf' | 'zip' | 'docx' | 'xlsx' | 'jpeg' | 'gif' | 'bmp' | 'text' | 'bin';
export const CORPUS_KINDS: readonly CorpusKind[] = ['png', 'pdf', 'zip', 'docx', 'xlsx', 'jpeg', 'gif', 'bmp', 'text', 'bin'];

export interface CorpusFile { path: string; kind: CorpusKind; size: number }

type Rng = () => number;

function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = (rng() * 4294967296) >>> 0;
    out[i] = v & 0xff; out[i + 1] = (v >>> 8) & 0xff; out[i + 2] = (v >>> 16) & 0xff; out[i + 3] = v >>> 24;
  }
  for (; i < n; i++) out[i] = Math.floor(rng() * 256);
  return out;
}

const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
const be32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const le16 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff];
const le32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

const WORDS = ['invoice', 'meeting', 'budget', 'report', 'café', 'naïve', 'Grüße', 'straße', 'año', 'déjà', '日本語', 'данные', 'quarterly', 'the', 'of', 'and', 'project', 'vigil', 'photo', 'holiday', 'contract', 'draft', 'final', 'π', '€', 'notes', 'customer', 'order', 'shipping', 'total'];

function words(rng: Rng, bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  let line = 0;
  while (size < bytes) {
    const w = WORDS[int(rng, 0, WORDS.length - 1)] as string;
    const sep = line + w.length + 1 > 70 ? '\n' : ' ';
    line = sep === '\n' ? 0 : line + w.length + 1;
    parts.push(w, sep);
    size += Buffer.byteLength(w) + 1;
  }
  return parts.join('');
}

// -------------------------------------------------------------------------------------- formats

function pngChunk(type: string, data: Uint8Array): Buffer {
  const td = Buffer.concat([latin1(type), data]);
  return Buffer.concat([Buffer.from(be32(data.length)), td, Buffer.from(be32(crc32(td)))]);
}

export function makePng(rng: Rng, target: number): Buffer {
  const pixels = Math.max(1, Math.floor((target - 80) / 3));
  const w = Math.max(1, Math.floor(Math.sqrt(pixels)));
  const h = Math.max(1, Math.floor(pixels / w));
  // Part noise, part flat colour: compressible like a photo with sky.
  const noisy = rng();
  const raw = new Uint8Array(h * (1 + 3 * w));
  const noise = randomBytes(rng, raw.length);
  const flat = int(rng, 0, 255);
  for (let y = 0; y < h; y++) {
    const row = y * (1 + 3 * w);
    raw[row] = 0;
    for (let x = 1; x <= 3 * w; x++) raw[row + x] = (x / (3 * w)) < noisy ? (noise[row + x] as number) : flat;
  }
  const z = deflateSync(raw);
  const ihdr = Uint8Array.from([...be32(w), ...be32(h), 8, 2, 0, 0, 0]);
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('tEXt', latin1('Software\0vigil simulator'))];
  for (let o = 0; o < z.length; o += 65536) parts.push(pngChunk('IDAT', z.subarray(o, o + 65536)));
  parts.push(pngChunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}

export function makePdf(rng: Rng, target: number): Buffer {
  const lines: string[] = [];
  let len = 0;
  let y = 760;
  while (len < target - 700) {
    const l = `BT /F1 11 Tf 72 ${y} Td (${words(rng, int(rng, 20, 70)).replace(/[()\\\n]/g, ' ').replace(/[^\x20-\x7e]/g, '?')}) Tj ET\n`;
    lines.push(l);
    len += l.length;
    y = y <= 40 ? 760 : y - 14;
  }
  const content = lines.join('');
  const objs = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = `%PDF-1.${int(rng, 3, 7)}\n%\xe2\xe3\xcf\xd3\n`;
  const offsets: number[] = [];
  objs.forEach((o, i) => { offsets.push(out.length); out += `${i + 1} 0 obj\n${o}\nendobj\n`; });
  const xref = out.length;
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return latin1(out);
}

/** The time written into the corpus's ZIP headers: fixed, so a seed always gives the same bytes. */
const ZIP_TIME = new Date(2025, 8, 1, 12, 0, 0);

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');

function makeOoxml(rng: Rng, target: number, kind: 'docx' | 'xlsx'): Buffer {
  const word = kind === 'docx';
  const main = word ? 'word/document.xml' : 'xl/workbook.xml';
  const mainType = word ? 'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml';
  const ct = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Default Extension="bin" ContentType="application/octet-stream"/><Override PartName="/${main}" ContentType="${mainType}"/></Types>`;
  const rels = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="${main}"/></Relationships>`;
  const text = words(rng, Math.min(4000, Math.max(50, Math.floor(target / 4))));
  const body = word
    ? `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${text.split('\n').map((l) => `<w:p><w:r><w:t>${l}</w:t></w:r></w:p>`).join('')}</w:body></w:document>`
    : `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="${text.slice(0, 20).replace(/[<>&"\n]/g, '')}" sheetId="1"/></sheets></workbook>`;
  const members: ZipMember[] = [
    { name: '[Content_Types].xml', data: utf8(ct) },
    { name: '_rels/.rels', data: utf8(rels) },
    { name: main, data: utf8(body) },
  ];
  const base = makeZip(members, ZIP_TIME).length;
  if (target > base + 200) members.push({ name: word ? 'word/media/image1.bin' : 'xl/media/image1.bin', data: randomBytes(rng, target - base - 120), store: true });
  return makeZip(members, ZIP_TIME);
}

function makePlainZip(rng: Rng, target: number): Buffer {
  const members: ZipMember[] = [{ name: 'readme.txt', data: utf8(words(rng, Math.min(2000, Math.max(20, target >> 3)))) }];
  const base = makeZip(members, ZIP_TIME).length;
  if (target > base + 150) {
    const n = target - base - 140;
    members.push({ name: 'data/part1.bin', data: randomBytes(rng, n >> 1), store: true });
    members.push({ name: 'data/notes.txt', data: utf8(words(rng, n >> 1)), store: rng() >= 0.5 });
  }
  return makeZip(members, ZIP_TIME);
}

export function makeJpeg(rng: Rng, target: number): Buffer {
  const exif = rng() < 0.4;
  const app = exif
    ? [0xff, 0xe1, 0x00, 22, ...latin1('Exif\0\0'), 0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    : [0xff, 0xe0, 0x00, 0x10, ...latin1('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const dqt = [0xff, 0xdb, 0x00, 0x43, 0x00, ...Array.from(randomBytes(rng, 64), (v) => 1 + (v % 50))];
  const w = int(rng, 16, 2000), h = int(rng, 16, 2000);
  const sof = [0xff, 0xc0, 0x00, 0x11, 8, (h >> 8) & 0xff, h & 0xff, (w >> 8) & 0xff, w & 0xff, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  const dht = [0xff, 0xc4, 0x00, 0x14, 0x00, 0, 1, ...new Array<number>(14).fill(0), 0];
  const sos = [0xff, 0xda, 0x00, 0x0c, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 0x3f, 0];
  const head = Buffer.from([0xff, 0xd8, ...app, ...dqt, ...sof, ...dht, ...sos]);
  const n = Math.max(16, target - head.length - 2);
  const raw = randomBytes(rng, n);
  const scan: number[] = [];
  for (let i = 0; i < raw.length && scan.length < n; i++) {
    const v = raw[i] as number;
    scan.push(v);
    if (v === 0xff) scan.push(0x00);
  }
  return Buffer.concat([head, Buffer.from(scan), Buffer.from([0xff, 0xd9])]);
}

/** GIF image data: LZW with a clear code before the dictionary grows past 9-bit codes. */
function gifLzw(pixels: Uint8Array): Buffer {
  const clear = 256, eoi = 257;
  const out: number[] = [];
  let acc = 0, bits = 0;
  const emit = (code: number): void => {
    acc |= code << bits; bits += 9;
    while (bits >= 8) { out.push(acc & 0xff); acc >>>= 8; bits -= 8; }
  };
  let run = 0;
  emit(clear);
  for (const p of pixels) {
    if (run === 250) { emit(clear); run = 0; }
    emit(p); run++;
  }
  emit(eoi);
  if (bits > 0) out.push(acc & 0xff);
  const blocks: number[] = [];
  for (let i = 0; i < out.length; i += 255) {
    const part = out.slice(i, i + 255);
    blocks.push(part.length, ...part);
  }
  blocks.push(0);
  return Buffer.from(blocks);
}

export function makeGif(rng: Rng, target: number): Buffer {
  const bigPalette = target > 3000;
  const colours = bigPalette ? 256 : 2;
  const gct = randomBytes(rng, 3 * colours);
  const overhead = 13 + gct.length + 8 + 10 + 1 + 4;
  const count = Math.max(1, Math.floor(((target - overhead) * 8) / 9 * (255 / 256)));
  const w = Math.max(1, Math.min(count, int(rng, 16, 1024)));
  const h = Math.max(1, Math.floor(count / w));
  const pixels = randomBytes(rng, w * h).map((v) => v % colours);
  const head = Buffer.from([...latin1('GIF89a'), ...le16(w), ...le16(h), bigPalette ? 0xf7 : 0xf0, 0, 0]);
  const gce = Buffer.from([0x21, 0xf9, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]);
  const desc = Buffer.from([0x2c, 0, 0, 0, 0, ...le16(w), ...le16(h), 0x00, 8]);
  return Buffer.concat([head, gct, gce, desc, gifLzw(pixels), Buffer.from([0x3b])]);
}

export function makeBmp(rng: Rng, target: number): Buffer {
  const px = Math.max(1, Math.floor((target - 54) / 3));
  const w = Math.max(1, Math.floor(Math.sqrt(px)));
  const row = Math.floor((w * 24 + 31) / 32) * 4;
  const h = Math.max(1, Math.floor((target - 54) / row));
  const size = 54 + row * h;
  const head = Buffer.from([...latin1('BM'), ...le32(size), 0, 0, 0, 0, ...le32(54), ...le32(40), ...le32(w), ...le32(h), ...le16(1), ...le16(24), ...le32(0), ...le32(row * h), ...le32(2835), ...le32(2835), ...le32(0), ...le32(0)]);
  return Buffer.concat([head, randomBytes(rng, row * h)]);
}

const EXT: Readonly<Record<CorpusKind, string[]>> = {
  png: ['png'], pdf: ['pdf'], zip: ['zip'], docx: ['docx'], xlsx: ['xlsx'], jpeg: ['jpg', 'jpeg'], gif: ['gif'], bmp: ['bmp'],
  text: ['txt', 'csv', 'md', 'log'], bin: ['bin', 'dat', 'db'],
};
const SUBDIR: Readonly<Record<CorpusKind, string>> = {
  png: 'Pictures', jpeg: 'Pictures', gif: 'Pictures', bmp: 'Pictures', pdf: 'Documents', docx: 'Documents', xlsx: 'Documents', text: 'Documents', zip: 'Downloads', bin: 'AppData',
};

export function makeFile(rng: Rng, kind: CorpusKind, target: number): Buffer {
  switch (kind) {
    case 'png': return makePng(rng, target);
    case 'pdf': return makePdf(rng, target);
    case 'zip': return makePlainZip(rng, target);
    case 'docx': case 'xlsx': return makeOoxml(rng, target, kind);
    case 'jpeg': return makeJpeg(rng, target);
    case 'gif': return makeGif(rng, target);
    case 'bmp': return makeBmp(rng, target);
    case 'text': return Buffer.from(words(rng, target), 'utf8');
    case 'bin': return Buffer.from(randomBytes(rng, target));
  }
}

export interface CorpusOptions { count?: number; seed?: number; minSize?: number; maxSize?: number }

/** Fills `dir` with `count` files (default 500) of every kind, in user-like folders. */
export function generateCorpus(dir: string, opts: CorpusOptions = {}): CorpusFile[] {
  const count = opts.count ?? 500, minSize = opts.minSize ?? 100, maxSize = opts.maxSize ?? 2 * 1024 * 1024;
  const rng = mulberry32(opts.seed ?? 1);
  const files: CorpusFile[] = [];
  for (let i = 0; i < count; i++) {
    const kind = CORPUS_KINDS[i % CORPUS_KINDS.length] as CorpusKind;
    // The last file of the first round is the largest, so one pair covers every keystream.
    const target = i === count - 1 ? maxSize : Math.round(minSize * Math.pow(maxSize / minSize, rng()));
    let bytes = makeFile(rng, kind, target);
    if (kind === 'text' || kind === 'bin') {
      let cut = Math.min(bytes.length, target);
      if (kind === 'text') while (cut > 0 && cut < bytes.length && ((bytes[cut] as number) & 0xc0) === 0x80) cut--;
      bytes = bytes.subarray(0, cut);
    }
    const exts = EXT[kind];
    const sub = join(dir, SUBDIR[kind]);
    mkdirSync(sub, { recursive: true });
    const path = join(sub, `file${String(i).padStart(4, '0')}.${exts[i % exts.length] as string}`);
    writeNewFile(path, bytes);
    files.push({ path, kind, size: bytes.length });
  }
  return files;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out); else if (e.isFile()) out.push(p);
  }
  return out;
}

function encryptTree(dir: string, suffix: string, encrypt: (data: Uint8Array) => Uint8Array): string[] {
  const out: string[] = [];
  for (const file of walk(dir)) {
    if (file.endsWith(suffix)) continue;
    const enc = encrypt(readFileSync(file));
    writeNewFile(file + suffix, enc);
    unlinkSync(file);
    out.push(file + suffix);
  }
  return out;
}

/** Mode (i): every file XORed with one static key (5..64 bytes), renamed `x.ext` → `x.ext.xor1`. */
export function encryptTreeXor(dir: string, key: Uint8Array, suffix = '.xor1'): string[] {
  return encryptTree(dir, suffix, (d) => xorRepeating(d, key));
}

/** The AES-256-CTR keystream of `length` bytes for `key` (32 bytes) and `iv` (16 bytes). */
export function ctrKeystream(key: Uint8Array, iv: Uint8Array, length: number): Uint8Array {
  const c = createCipheriv('aes-256-ctr', key, iv);
  return Uint8Array.from(Buffer.concat([c.update(new Uint8Array(length)), c.final()]));
}

/**
 * Modes (ii) and (iii): one AES-256-CTR key and nonce for every file; with `firstBytes`, only the
 * first that many bytes of each file are encrypted.
 */
export function encryptTreeCtr(dir: string, key: Uint8Array, iv: Uint8Array, opts: { suffix?: string; firstBytes?: number } = {}): string[] {
  return encryptTree(dir, opts.suffix ?? (opts.firstBytes ? '.ctrp' : '.ctr1'), (d) => {
    const n = Math.min(d.length, opts.firstBytes ?? d.length);
    return xorPrefix(d, ctrKeystream(key, iv, n));
  });
}
