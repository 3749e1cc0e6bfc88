/**
 * File formats a decryption can be checked against, and the bytes a format fixes in every file.
 *
 * In: a file's bytes (decrypted, or a decrypted prefix), optionally the type its name promises.
 * Out: the type read from the magic, and a structure check per format (PNG chunk CRCs, ZIP end of
 * central directory + central directory + local headers + member CRCs, OOXML's content-types
 * member, PDF header + startxref + `%%EOF`, JPEG segments SOI…EOI, GIF blocks and trailer, BMP
 * headers, plain text as UTF-8), each failure with its offset. For key recovery without an
 * original: the known bytes of each format (head and tail, with gaps), as hypotheses to try.
 * Why: a wrong key must be caught before anything is written; a key derived from format
 * knowledge must be proved by structure beyond the bytes it was derived from. All walks are
 * bounded by the input's length and capped counts: hostile or garbled input ends in a verdict,
 * never an exception or a hang.
 */
import { inflateRawSync } from 'node:zlib';
import { crc32 } from '../../core/crc32.js';

export const FILE_TYPES = ['png', 'pdf', 'zip', 'docx', 'xlsx', 'pptx', 'jpeg', 'gif', 'bmp', 'text'] as const;
export type FileType = (typeof FILE_TYPES)[number];

export interface CheckResult {
  /** The type the check was made for; `unknown` when no check applies. */
  type: FileType | 'unknown';
  /** true: structure holds; false: it does not (a wrong key, or a damaged file); undefined: no check applies. */
  ok: boolean | undefined;
  /** What held, or the first thing that failed and where. */
  detail: string;
}

const EXT_TYPES: Readonly<Record<string, FileType>> = {
  png: 'png', pdf: 'pdf', zip: 'zip', docx: 'docx', docm: 'docx', dotx: 'docx', xlsx: 'xlsx', xlsm: 'xlsx', pptx: 'pptx',
  jpg: 'jpeg', jpeg: 'jpeg', jpe: 'jpeg', jfif: 'jpeg', gif: 'gif', bmp: 'bmp', dib: 'bmp',
  txt: 'text', md: 'text', csv: 'text', tsv: 'text', json: 'text', xml: 'text', html: 'text', htm: 'text', log: 'text',
  ini: 'text', cfg: 'text', conf: 'text', yaml: 'text', yml: 'text', rtf: 'text', sql: 'text', ts: 'text', js: 'text',
  py: 'text', c: 'text', h: 'text', java: 'text', sh: 'text', eml: 'text',
};

/** The type a file name's extension promises (`photo.png` → png), or undefined. */
export function typeFromName(name: string): FileType | undefined {
  const m = /\.([A-Za-z0-9]{1,8})$/.exec(name);
  return m ? EXT_TYPES[(m[1] as string).toLowerCase()] : undefined;
}

/** Parses a `--type` word (`png`, `jpg`, `docx`, …). */
export function parseFileType(word: string): FileType | undefined {
  const w = word.toLowerCase().replace(/^\./, '');
  return (FILE_TYPES as readonly string[]).includes(w) ? (w as FileType) : EXT_TYPES[w];
}

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

function startsWith(b: Uint8Array, at: number, sig: readonly number[]): boolean {
  if (at < 0 || at + sig.length > b.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

const u16le = (b: Uint8Array, o: number): number => (b[o] as number) | ((b[o + 1] as number) << 8);
const u32le = (b: Uint8Array, o: number): number => ((b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16) | ((b[o + 3] as number) << 24)) >>> 0;
const u16be = (b: Uint8Array, o: number): number => ((b[o] as number) << 8) | (b[o + 1] as number);
const u32be = (b: Uint8Array, o: number): number => (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0;

const CONTENT_TYPES = ascii('[Content_Types].xml');

/** The type the leading bytes announce (of a file of `size` bytes: `b` may be its prefix), or undefined. */
export function detectType(b: Uint8Array, size = b.length): FileType | undefined {
  if (startsWith(b, 0, PNG_SIG)) return 'png';
  if (startsWith(b, 0, ascii('%PDF-'))) return 'pdf';
  if (startsWith(b, 0, [0x50, 0x4b, 0x03, 0x04]) || startsWith(b, 0, [0x50, 0x4b, 0x05, 0x06])) {
    if (b.length >= 30 + CONTENT_TYPES.length && u16le(b, 26) === CONTENT_TYPES.length && startsWith(b, 30, CONTENT_TYPES)) {
      return ooxmlKind(b) ?? 'docx';
    }
    return 'zip';
  }
  if (startsWith(b, 0, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(b, 0, ascii('GIF87a')) || startsWith(b, 0, ascii('GIF89a'))) return 'gif';
  if (startsWith(b, 0, ascii('BM')) && b.length >= 14 && u32le(b, 2) === size) return 'bmp';
  return undefined;
}

/** docx / xlsx / pptx from the member names in the first 64 KiB. */
function ooxmlKind(b: Uint8Array): 'docx' | 'xlsx' | 'pptx' | undefined {
  const text = Buffer.from(b.subarray(0, 65536)).toString('latin1');
  if (text.includes('word/')) return 'docx';
  if (text.includes('xl/')) return 'xlsx';
  if (text.includes('ppt/')) return 'pptx';
  return undefined;
}

const ok = (type: FileType, detail: string): CheckResult => ({ type, ok: true, detail });
const bad = (type: FileType, detail: string): CheckResult => ({ type, ok: false, detail });

// ---------------------------------------------------------------------------------------- PNG

const PNG_DEPTHS: Readonly<Record<number, number[]>> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

export function checkPng(b: Uint8Array): CheckResult {
  if (!startsWith(b, 0, PNG_SIG)) return bad('png', 'no PNG signature at offset 0');
  let pos = 8;
  let chunks = 0;
  let idat = 0;
  while (pos < b.length) {
    if (pos + 12 > b.length) return bad('png', `truncated chunk header at offset ${pos}`);
    const len = u32be(b, pos);
    if (len > 0x7fffffff || pos + 12 + len > b.length) return bad('png', `chunk length ${len} at offset ${pos} runs past the end (${b.length} bytes)`);
    const type = b.subarray(pos + 4, pos + 8);
    for (const c of type) if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122))) return bad('png', `chunk type at offset ${pos + 4} is not 4 letters`);
    const name = Buffer.from(type).toString('latin1');
    const want = u32be(b, pos + 8 + len);
    const got = crc32(b.subarray(pos + 4, pos + 8 + len));
    if (want !== got) return bad('png', `${name} chunk at offset ${pos}: CRC ${want.toString(16)} stored, ${got.toString(16)} computed`);
    if (chunks === 0) {
      if (name !== 'IHDR' || len !== 13) return bad('png', 'first chunk is not a 13-byte IHDR');
      const w = u32be(b, pos + 8), h = u32be(b, pos + 12), depth = b[pos + 16] as number, colour = b[pos + 17] as number;
      if (w === 0 || h === 0 || w > 0x7fffffff || h > 0x7fffffff) return bad('png', `IHDR: bad size ${w}x${h}`);
      if (!(PNG_DEPTHS[colour] ?? []).includes(depth)) return bad('png', `IHDR: bit depth ${depth} with colour type ${colour}`);
    }
    if (name === 'IDAT') idat++;
    chunks++;
    pos += 12 + len;
    if (name === 'IEND') {
      if (pos !== b.length) return bad('png', `${b.length - pos} bytes after IEND at offset ${pos}`);
      if (idat === 0) return bad('png', 'no IDAT chunk');
      return ok('png', `${chunks} chunks, CRCs valid, IEND at the end`);
    }
  }
  return bad('png', 'no IEND chunk');
}

// ---------------------------------------------------------------------------------------- ZIP

/** Cap on the member bytes inflated to check CRCs (a decompression bomb ends the check, not the process). */
const ZIP_INFLATE_CAP = 256 * 1024 * 1024;

export function checkZip(b: Uint8Array, want: FileType = 'zip'): CheckResult {
  const t = want;
  if (!startsWith(b, 0, [0x50, 0x4b, 0x03, 0x04]) && !startsWith(b, 0, [0x50, 0x4b, 0x05, 0x06])) return bad(t, 'no ZIP local header signature at offset 0');
  // End of central directory: 22 bytes plus a comment of at most 65535 bytes, at the end.
  let eocd = -1;
  for (let p = b.length - 22; p >= Math.max(0, b.length - 22 - 65535); p--) {
    if (b[p] === 0x50 && b[p + 1] === 0x4b && b[p + 2] === 0x05 && b[p + 3] === 0x06 && p + 22 + u16le(b, p + 20) === b.length) { eocd = p; break; }
  }
  if (eocd < 0) return bad(t, 'no end-of-central-directory record at the end');
  const entries = u16le(b, eocd + 10), cdSize = u32le(b, eocd + 12), cdOff = u32le(b, eocd + 16);
  if (u16le(b, eocd + 4) !== 0 || u16le(b, eocd + 6) !== 0 || u16le(b, eocd + 8) !== entries) return bad(t, `EOCD at offset ${eocd}: multi-disk fields or entry counts disagree`);
  if (cdOff + cdSize !== eocd) return bad(t, `EOCD at offset ${eocd}: central directory ${cdOff}+${cdSize} does not end at the EOCD`);
  let pos = cdOff;
  let inflated = 0;
  let crcChecked = 0;
  let sawContentTypes = false;
  const names: string[] = [];
  for (let i = 0; i < entries; i++) {
    if (pos + 46 > eocd || !startsWith(b, pos, [0x50, 0x4b, 0x01, 0x02])) return bad(t, `central directory entry ${i} at offset ${pos}: bad signature or truncated`);
    const method = u16le(b, pos + 10), crc = u32le(b, pos + 16), csize = u32le(b, pos + 20), usize = u32le(b, pos + 24);
    const nlen = u16le(b, pos + 28), xlen = u16le(b, pos + 30), clen = u16le(b, pos + 32), loff = u32le(b, pos + 42), flags = u16le(b, pos + 8);
    if (pos + 46 + nlen + xlen + clen > eocd) return bad(t, `central directory entry ${i} at offset ${pos} runs past the directory`);
    const name = b.subarray(pos + 46, pos + 46 + nlen);
    const nameText = Buffer.from(name).toString('utf8');
    names.push(nameText);
    if (startsWith(name, 0, CONTENT_TYPES) && nlen === CONTENT_TYPES.length) sawContentTypes = true;
    // The local header it points to: signature, and the same name.
    if (loff + 30 > cdOff || !startsWith(b, loff, [0x50, 0x4b, 0x03, 0x04])) return bad(t, `member ${JSON.stringify(nameText)}: no local header at offset ${loff}`);
    const lnlen = u16le(b, loff + 26), lxlen = u16le(b, loff + 28);
    if (lnlen !== nlen || !startsWith(b, loff + 30, Array.from(name))) return bad(t, `member ${JSON.stringify(nameText)}: local header at offset ${loff} names another file`);
    // Version, flags, method, time, date (and CRC and sizes without a data descriptor) agree.
    const same = (flags & 8) === 0 ? 22 : 10;
    for (let k = 0; k < same; k++) {
      if (b[loff + 4 + k] !== b[pos + 6 + k]) return bad(t, `member ${JSON.stringify(nameText)}: local header at offset ${loff} disagrees with the central directory at byte ${loff + 4 + k}`);
    }
    const dataAt = loff + 30 + lnlen + lxlen;
    if (dataAt + csize > cdOff) return bad(t, `member ${JSON.stringify(nameText)}: data at offset ${dataAt} (${csize} bytes) runs into the central directory`);
    if ((flags & 1) === 0 && (method === 0 || method === 8) && inflated + usize <= ZIP_INFLATE_CAP) {
      const data = b.subarray(dataAt, dataAt + csize);
      let plain: Uint8Array;
      try {
        plain = method === 0 ? data : inflateRawSync(data, { maxOutputLength: Math.max(1, usize) });
      } catch (e) {
        return bad(t, `member ${JSON.stringify(nameText)} at offset ${dataAt}: does not inflate (${e instanceof Error ? e.message : String(e)})`);
      }
      if (plain.length !== usize) return bad(t, `member ${JSON.stringify(nameText)}: ${plain.length} bytes, ${usize} declared`);
      if (crc32(plain) !== crc) return bad(t, `member ${JSON.stringify(nameText)} at offset ${dataAt}: CRC mismatch`);
      inflated += usize;
      crcChecked++;
    }
    pos += 46 + nlen + xlen + clen;
  }
  if (pos !== eocd) return bad(t, `central directory ends at ${pos}, EOCD at ${eocd}`);
  if (want === 'docx' || want === 'xlsx' || want === 'pptx') {
    if (!sawContentTypes) return bad(t, 'OOXML package without [Content_Types].xml');
    const dir = want === 'docx' ? 'word/' : want === 'xlsx' ? 'xl/' : 'ppt/';
    if (!names.some((n) => n.startsWith(dir))) return bad(t, `OOXML package without a ${dir} part`);
  }
  return ok(t, `${entries} members, central directory and local headers consistent, ${crcChecked} CRCs valid`);
}

// ---------------------------------------------------------------------------------------- PDF

export function checkPdf(b: Uint8Array): CheckResult {
  if (!startsWith(b, 0, ascii('%PDF-1.')) && !startsWith(b, 0, ascii('%PDF-2.'))) return bad('pdf', 'no %PDF-1.x header at offset 0');
  const d = b[7] as number | undefined;
  if (d === undefined || d < 0x30 || d > 0x39) return bad('pdf', 'header version is not a digit (offset 7)');
  const tailStart = Math.max(0, b.length - 1024);
  const tail = Buffer.from(b.subarray(tailStart)).toString('latin1');
  const eof = tail.lastIndexOf('%%EOF');
  if (eof < 0) return bad('pdf', 'no %%EOF in the last 1024 bytes');
  if (!/^%%EOF[\r\n\0 \t]*$/.test(tail.slice(eof))) return bad('pdf', `data after %%EOF at offset ${tailStart + eof}`);
  const sx = /startxref[\r\n ]+(\d{1,15})[\r\n ]+%%EOF/.exec(tail.slice(tail.lastIndexOf('startxref')));
  if (!sx) return bad('pdf', 'no startxref before %%EOF');
  const off = Number(sx[1]);
  if (off >= b.length) return bad('pdf', `startxref ${off} is past the end`);
  const at = Buffer.from(b.subarray(off, off + 32)).toString('latin1');
  if (!/^(xref|\d+\s+\d+\s+obj)/.test(at)) return bad('pdf', `startxref ${off}: no xref table or xref stream there`);
  if (!at.startsWith('xref')) return ok('pdf', `header, xref stream at ${off}, %%EOF`);
  // A classic xref table: every in-use entry must point at "N G obj".
  const table = Buffer.from(b.subarray(off, Math.min(b.length, off + 20 * 100_000 + 4096))).toString('latin1');
  const sub = /^xref\s*\r?\n(\d{1,7}) (\d{1,7})\s*\r?\n/.exec(table);
  if (!sub) return bad('pdf', `xref at ${off}: no subsection header`);
  const first = Number(sub[1]), count = Number(sub[2]);
  let p = sub[0].length, objects = 0;
  for (let i = 0; i < count; i++, p += 20) {
    const e = /^(\d{10}) (\d{5}) ([nf])(?: \r| \n|\r\n)/.exec(table.slice(p, p + 20));
    if (!e) return bad('pdf', `xref entry ${first + i} at offset ${off + p} is malformed`);
    if (e[3] !== 'n') continue;
    const at2 = Number(e[1]);
    const obj = at2 < b.length ? Buffer.from(b.subarray(at2, at2 + 24)).toString('latin1') : '';
    if (!new RegExp(`^${first + i}\\s+\\d+\\s+obj`).test(obj)) return bad('pdf', `xref entry ${first + i}: no object ${first + i} at offset ${at2}`);
    objects++;
  }
  return ok('pdf', `header, xref at ${off} with ${objects} objects found at their offsets, %%EOF`);
}

// --------------------------------------------------------------------------------------- JPEG

export function checkJpeg(b: Uint8Array): CheckResult {
  if (!startsWith(b, 0, [0xff, 0xd8])) return bad('jpeg', 'no SOI at offset 0');
  let pos = 2;
  let segments = 0;
  let sos = false;
  let sof = false;
  while (pos < b.length && segments < 1_000_000) {
    if (b[pos] !== 0xff) return bad('jpeg', `no marker at offset ${pos}`);
    while (pos < b.length && b[pos] === 0xff) pos++;
    const m = b[pos];
    if (m === undefined) return bad('jpeg', 'truncated marker at the end');
    pos++;
    segments++;
    if (m === 0xd9) {
      if (!sos) return bad('jpeg', `EOI at offset ${pos - 2} before any scan`);
      for (let i = pos; i < b.length; i++) if (b[i] !== 0) return bad('jpeg', `${b.length - pos} bytes after EOI at offset ${pos}`);
      return ok('jpeg', `${segments} markers, SOI…EOI`);
    }
    // 02..BF are reserved, 00 is stuffing, D8 only starts the file.
    if (m < 0xc0 && m !== 0x01 || m === 0xd8) return bad('jpeg', `invalid marker ff${m.toString(16).padStart(2, '0')} at offset ${pos - 2}`);
    if ((m >= 0xd0 && m <= 0xd7) || m === 0x01) continue;
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) sof = true;
    if (m === 0xda && !sof) return bad('jpeg', `scan at offset ${pos - 2} before any frame header (SOF)`);
    if (pos + 2 > b.length) return bad('jpeg', `truncated segment length at offset ${pos}`);
    const len = u16be(b, pos);
    if (len < 2 || pos + len > b.length) return bad('jpeg', `segment ff${m.toString(16)} at offset ${pos - 2}: length ${len} runs past the end`);
    // APP0 is JFIF or JFXX, APP1 is Exif or XMP (an "http:" namespace).
    if (m === 0xe0 && len >= 7 && !startsWith(b, pos + 2, ascii('JFIF\0')) && !startsWith(b, pos + 2, ascii('JFXX\0'))) return bad('jpeg', `APP0 at offset ${pos - 2} is neither JFIF nor JFXX`);
    if (m === 0xe1 && len >= 8 && !startsWith(b, pos + 2, ascii('Exif\0')) && !startsWith(b, pos + 2, ascii('http:'))) return bad('jpeg', `APP1 at offset ${pos - 2} is neither Exif nor XMP`);
    pos += len;
    if (m === 0xda) {
      sos = true;
      // Entropy-coded data: up to a marker other than a stuffed 00 or a restart marker.
      while (pos + 1 < b.length && !(b[pos] === 0xff && b[pos + 1] !== 0x00 && !((b[pos + 1] as number) >= 0xd0 && (b[pos + 1] as number) <= 0xd7) && b[pos + 1] !== 0xff)) pos++;
      if (pos + 1 >= b.length) return bad('jpeg', 'scan data runs to the end without EOI');
    }
  }
  return bad('jpeg', 'no EOI');
}

// ---------------------------------------------------------------------------------------- GIF

export function checkGif(b: Uint8Array): CheckResult {
  if (!startsWith(b, 0, ascii('GIF87a')) && !startsWith(b, 0, ascii('GIF89a'))) return bad('gif', 'no GIF87a/GIF89a signature');
  if (b.length < 13) return bad('gif', 'truncated logical screen descriptor');
  let pos = 13;
  const flags = b[10] as number;
  if (flags & 0x80) pos += 3 * (2 << (flags & 7));
  let images = 0;
  const subBlocks = (from: number): number => {
    let p = from;
    while (p < b.length) {
      const n = b[p] as number;
      p += 1 + n;
      if (n === 0) return p;
    }
    return -1;
  };
  for (let blocks = 0; blocks < 1_000_000; blocks++) {
    const k = b[pos];
    if (k === undefined) return bad('gif', 'no trailer');
    if (k === 0x3b) {
      if (pos + 1 !== b.length) return bad('gif', `${b.length - pos - 1} bytes after the trailer at offset ${pos}`);
      if (images === 0) return bad('gif', 'no image');
      return ok('gif', `${images} images, blocks consistent, trailer at the end`);
    }
    if (k === 0x21) {
      const next = subBlocks(pos + 2);
      if (next < 0) return bad('gif', `extension at offset ${pos} runs past the end`);
      pos = next;
    } else if (k === 0x2c) {
      if (pos + 10 > b.length) return bad('gif', `truncated image descriptor at offset ${pos}`);
      const f = b[pos + 9] as number;
      pos += 10;
      if (f & 0x80) pos += 3 * (2 << (f & 7));
      const lzw = b[pos];
      if (lzw === undefined || lzw < 2 || lzw > 11) return bad('gif', `bad LZW code size at offset ${pos}`);
      const next = subBlocks(pos + 1);
      if (next < 0) return bad('gif', `image data at offset ${pos} runs past the end`);
      const iw = u16le(b, pos - 5 - ((f & 0x80) ? 3 * (2 << (f & 7)) : 0)), ih = u16le(b, pos - 3 - ((f & 0x80) ? 3 * (2 << (f & 7)) : 0));
      const lz = checkLzw(b, pos + 1, lzw, iw * ih);
      if (lz) return bad('gif', `image ${images + 1} at offset ${pos}: ${lz}`);
      pos = next;
      images++;
    } else {
      return bad('gif', `unknown block 0x${k.toString(16)} at offset ${pos}`);
    }
  }
  return bad('gif', 'too many blocks');
}

/**
 * Decodes a GIF image's LZW data (sub-blocks from `at`) without keeping the pixels: every code
 * must be defined when used, and the image must have exactly `pixels` pixels. Undefined when it
 * holds, else what failed.
 */
function checkLzw(b: Uint8Array, at: number, minSize: number, pixels: number): string | undefined {
  const clear = 1 << minSize, eoi = clear + 1;
  const lengths = new Uint32Array(4096);
  let size = minSize + 1, next = eoi + 1, prev = -1, count = 0;
  let acc = 0, bits = 0, p = at, left = 0;
  for (; ;) {
    while (bits < size) {
      if (left === 0) {
        const n = b[p++];
        if (n === undefined) return 'image data runs past the end';
        if (n === 0) return count === pixels ? undefined : `${count} pixels decoded, ${pixels} declared, no end code`;
        left = n;
      }
      acc |= (b[p++] as number) << bits; bits += 8; left--;
    }
    const code = acc & ((1 << size) - 1);
    acc >>>= size; bits -= size;
    if (code === clear) { size = minSize + 1; next = eoi + 1; prev = -1; continue; }
    if (code === eoi) return count === pixels ? undefined : `${count} pixels decoded, ${pixels} declared`;
    let len: number;
    if (code < clear) len = 1;
    else if (code > eoi && code < next) len = lengths[code] as number;
    else if (code === next && prev >= 0) len = (prev < clear ? 1 : (lengths[prev] as number)) + 1;
    else return `LZW code ${code} undefined (next ${next})`;
    if (prev >= 0 && next < 4096) {
      lengths[next] = (prev < clear ? 1 : (lengths[prev] as number)) + 1;
      next++;
      if (next === 1 << size && size < 12) size++;
    }
    prev = code;
    count += len;
    if (count > pixels) return `more than the ${pixels} declared pixels`;
  }
}

// ---------------------------------------------------------------------------------------- BMP

export function checkBmp(b: Uint8Array): CheckResult {
  if (!startsWith(b, 0, ascii('BM')) || b.length < 26) return bad('bmp', 'no BM signature');
  if (u32le(b, 2) !== b.length) return bad('bmp', `size field ${u32le(b, 2)} is not the file size ${b.length}`);
  const off = u32le(b, 10), dib = u32le(b, 14);
  if (![12, 40, 52, 56, 108, 124].includes(dib)) return bad('bmp', `DIB header size ${dib} unknown (offset 14)`);
  if (off < 14 + dib || off > b.length) return bad('bmp', `pixel data offset ${off} is outside the file`);
  if (dib === 12) return ok('bmp', 'core header');
  const w = u32le(b, 18) | 0, h = u32le(b, 22) | 0, planes = u16le(b, 26), bpp = u16le(b, 28), comp = u32le(b, 30);
  if (w <= 0 || h === 0 || planes !== 1 || ![1, 4, 8, 16, 24, 32].includes(bpp)) return bad('bmp', `header fields: ${w}x${h}, ${planes} planes, ${bpp} bpp`);
  if (comp === 0) {
    const row = Math.floor((w * bpp + 31) / 32) * 4;
    if (off + row * Math.abs(h) > b.length) return bad('bmp', `pixel data ${row}x${Math.abs(h)} runs past the end`);
  }
  return ok('bmp', `${w}x${Math.abs(h)}, ${bpp} bpp`);
}

// --------------------------------------------------------------------------------------- text

/** Bytes checked as text (the rest of a large text file is not decoded). */
const TEXT_CHECK_CAP = 16 * 1024 * 1024;

/** `b.length`, less a UTF-8 sequence the end may have cut (its lead byte and continuations). */
function completeUtf8(b: Uint8Array): number {
  let end = b.length;
  while (end > 0 && end > b.length - 3 && ((b[end - 1] as number) & 0xc0) === 0x80) end--;
  if (end > 0 && ((b[end - 1] as number) & 0xc0) === 0xc0) end--;
  return end;
}

export function checkText(b: Uint8Array, cut = false): CheckResult {
  const part = b.subarray(0, Math.min(b.length, TEXT_CHECK_CAP));
  // A multi-byte sequence cut by the cap (or by the end of a prefix) is not an error.
  const end = cut || part.length < b.length ? completeUtf8(part) : part.length;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(part.subarray(0, end));
  } catch {
    return bad('text', 'not valid UTF-8');
  }
  let control = 0;
  for (let i = 0; i < end; i++) {
    const c = part[i] as number;
    if (c === 0) return bad('text', `NUL byte at offset ${i}`);
    if (c < 0x20 && c !== 9 && c !== 10 && c !== 13 && c !== 12 && c !== 27) control++;
  }
  if (control > end / 100) return bad('text', `${control} control characters in ${end} bytes`);
  return ok('text', `UTF-8 text, ${end} bytes checked`);
}

/** The structure check of one type. */
export function checkAs(b: Uint8Array, type: FileType): CheckResult {
  switch (type) {
    case 'png': return checkPng(b);
    case 'pdf': return checkPdf(b);
    case 'zip': case 'docx': case 'xlsx': case 'pptx': return checkZip(b, type);
    case 'jpeg': return checkJpeg(b);
    case 'gif': return checkGif(b);
    case 'bmp': return checkBmp(b);
    case 'text': return checkText(b);
  }
}

const BINARY_TYPES: ReadonlySet<FileType> = new Set(['png', 'pdf', 'zip', 'docx', 'xlsx', 'pptx', 'jpeg', 'gif', 'bmp']);

/**
 * Checks decrypted bytes: by the type their magic announces; failing that, by the type the name
 * promised (a promised binary format without its magic fails); failing that, as text; and when
 * nothing applies, `unknown` with `ok` undefined.
 */
export function checkStructure(b: Uint8Array, expected?: FileType): CheckResult {
  const detected = detectType(b);
  if (detected) {
    const type = expected && detected === 'zip' && (expected === 'docx' || expected === 'xlsx' || expected === 'pptx') ? expected : detected;
    return checkAs(b, type);
  }
  if (expected && BINARY_TYPES.has(expected)) return bad(expected, `no ${expected.toUpperCase()} signature at offset 0`);
  const text = checkText(b);
  if (text.ok || expected === 'text') return text;
  return { type: 'unknown', ok: undefined, detail: 'unknown type: no structure check applies' };
}

/**
 * Checks what a decrypted prefix allows (the rest of the file could not be decrypted): the magic
 * of the promised type, and for PNG the chunks wholly inside the prefix.
 */
export function checkPrefix(prefix: Uint8Array, expected?: FileType, size = prefix.length): CheckResult {
  const detected = detectType(prefix, size);
  const type = detected ?? expected;
  if (!type) return { type: 'unknown', ok: undefined, detail: 'unknown type: no check of the prefix applies' };
  if (expected && BINARY_TYPES.has(expected) && !detected) return bad(expected, `no ${expected.toUpperCase()} signature at offset 0`);
  if (type === 'png') {
    let pos = 8, n = 0;
    while (pos + 12 <= prefix.length) {
      const len = u32be(prefix, pos);
      if (pos + 12 + len > prefix.length) break;
      if (crc32(prefix.subarray(pos + 4, pos + 8 + len)) !== u32be(prefix, pos + 8 + len)) return bad('png', `prefix: chunk CRC fails at offset ${pos}`);
      pos += 12 + len; n++;
    }
    return ok('png', `prefix: signature and ${n} whole chunks valid`);
  }
  if (type === 'text') {
    const t = checkText(prefix, true);
    return { ...t, detail: `prefix: ${t.detail}` };
  }
  return ok(type, `prefix: ${type.toUpperCase()} signature`);
}

// ------------------------------------------------------------------ known bytes of each format

/** One hypothesis about a file's plaintext: byte values at known offsets. */
export interface KnownBytes {
  type: FileType;
  variant: string;
  /** Offsets (ascending, distinct) and the byte each must hold. */
  offsets: number[];
  values: number[];
  /** Length of the contiguous known run from offset 0 (what a keystream can recover). */
  prefix: number;
}

function build(type: FileType, variant: string, size: number, head: (number | null)[], tail: (number | null)[] = []): KnownBytes | undefined {
  if (size < head.length + tail.length) return undefined;
  const offsets: number[] = [], values: number[] = [];
  head.forEach((v, i) => { if (v !== null) { offsets.push(i); values.push(v); } });
  tail.forEach((v, i) => { if (v !== null) { offsets.push(size - tail.length + i); values.push(v); } });
  let prefix = 0;
  while (prefix < head.length && head[prefix] !== null) prefix++;
  return { type, variant, offsets, values, prefix };
}

const le32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const gap = (n: number): null[] => new Array<null>(n).fill(null);

/**
 * What a file of `type` and `size` bytes must (or by far most often does) hold, as alternative
 * hypotheses, most specific first.
 */
export function knownBytes(type: FileType, size: number): KnownBytes[] {
  const out: (KnownBytes | undefined)[] = [];
  const eocd = [0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, ...gap(12), 0, 0];
  const zipHead = [0x50, 0x4b, 0x03, 0x04];
  switch (type) {
    case 'png':
      out.push(build(type, 'signature + IHDR header … IEND', size, [...PNG_SIG, 0, 0, 0, 13, ...ascii('IHDR')], [0, 0, 0, 0, ...ascii('IEND'), 0xae, 0x42, 0x60, 0x82]));
      break;
    case 'pdf':
      for (const eol of ['\n', '\r\n', '', '\r']) out.push(build(type, `%PDF-1. … %%EOF${JSON.stringify(eol)}`, size, ascii('%PDF-1.'), ascii(`%%EOF${eol}`)));
      break;
    case 'zip':
      out.push(build(type, 'local header … EOCD without comment', size, zipHead, eocd));
      break;
    case 'docx': case 'xlsx': case 'pptx':
      out.push(build(type, 'local header of [Content_Types].xml … EOCD', size, [...zipHead, ...gap(22), CONTENT_TYPES.length, 0, ...gap(2), ...CONTENT_TYPES], eocd));
      break;
    case 'jpeg':
      out.push(build(type, 'JFIF APP0', size, [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, ...ascii('JFIF'), 0], [0xff, 0xd9]));
      out.push(build(type, 'Exif APP1', size, [0xff, 0xd8, 0xff, 0xe1, null, null, ...ascii('Exif'), 0, 0], [0xff, 0xd9]));
      out.push(build(type, 'SOI', size, [0xff, 0xd8, 0xff], [0xff, 0xd9]));
      break;
    case 'gif':
      out.push(build(type, 'GIF89a', size, ascii('GIF89a'), [0x3b]));
      out.push(build(type, 'GIF87a', size, ascii('GIF87a'), [0x3b]));
      break;
    case 'bmp':
      out.push(build(type, 'BITMAPINFOHEADER, pixels at 54', size, [...ascii('BM'), ...le32(size), 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0]));
      out.push(build(type, 'BITMAPINFOHEADER', size, [...ascii('BM'), ...le32(size), 0, 0, 0, 0, null, null, null, null, 40, 0, 0, 0]));
      out.push(build(type, 'BM + size', size, [...ascii('BM'), ...le32(size), 0, 0, 0, 0]));
      break;
    case 'text':
      break;
  }
  return out.filter((k): k is KnownBytes => k !== undefined);
}

/**
 * The longest run of consecutive known offsets in the most specific hypothesis: every XOR key of
 * at most this length is covered by the known bytes alone.
 */
export function knownRun(type: FileType, size = 1 << 20): number {
  const k = knownBytes(type, size)[0];
  if (!k) return 0;
  let best = 0, run = 0, prev = -2;
  for (const o of k.offsets) { run = o === prev + 1 ? run + 1 : 1; prev = o; best = Math.max(best, run); }
  return best;
}
