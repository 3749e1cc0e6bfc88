/**
 * HWP 3.x and HWPML documents built by code, for tests: no tool writes these formats.
 *
 * In: a description of the document (paragraphs with nested lists, additional information blocks,
 * flags). Out: the file's bytes, and for HWP 3 the body as ClamAV's walk covers it (fonts to the
 * terminating information block), so that tests can predict the layer ClamAV scans.
 *
 * Layout (published HWP 3.0 specification, as ClamAV's parser reads it): a 30-byte identity, 128
 * bytes of document information (password at 96, compression at 124, size of information block
 * #0 at 126), a 1008-byte summary, information block #0, then the body (raw deflate when
 * compressed): 7 font tables (a count, 40 bytes each), the styles (a count, 238 bytes each), the
 * paragraph list (43-byte short headers here; text in 16-bit characters ending with 13; an empty
 * paragraph ends a list), and the additional information blocks (id, length, data; id 0 ends).
 */
import { deflateRawSync } from 'node:zlib';

export const HWP3_MAGIC = Buffer.concat([Buffer.from('HWP Document File V3.00 ', 'latin1'), Buffer.from([0x1a, 1, 2, 3, 4, 5])]);

/** A paragraph: its text (Latin-1, padded to whole 16-bit characters) and nested objects after it. */
export interface Hwp3Paragraph {
  text: string;
  /** Objects inside the paragraph, each with its own paragraph list (hidden description, header, footnote). */
  nested?: { code: 15 | 16 | 17; paragraphs: Hwp3Paragraph[] }[];
  /** A table (special character 10) with one paragraph list per cell and a caption list. */
  table?: { cells: Hwp3Paragraph[][]; caption: Hwp3Paragraph[] };
  /** Raw bytes placed in the text before its end (other special characters). */
  raw?: Uint8Array;
}

export interface Hwp3Doc {
  paragraphs: Hwp3Paragraph[];
  blocks: { id: number; data: Uint8Array }[];
  compressed?: boolean;
  password?: boolean;
  /** Bytes of information block #0. */
  infoBlock0?: Uint8Array;
  /** Leave out the terminating information block. */
  noTerminator?: boolean;
}

const u16 = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(n & 0xffff); return b; };
const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; };

function paragraphList(list: readonly Hwp3Paragraph[]): Buffer {
  const parts: Buffer[] = [];
  for (const p of list) {
    const text = Buffer.from(p.text.length % 2 ? `${p.text} ` : p.text, 'latin1');
    const content: Buffer[] = [text];
    if (p.raw) content.push(Buffer.from(p.raw));
    for (const n of p.nested ?? []) {
      const head = Buffer.alloc(n.code === 15 ? 16 : n.code === 16 ? 18 : 22);
      head.writeUInt16LE(n.code, 0);
      head.writeUInt16LE(n.code, 6);
      content.push(head, paragraphList(n.paragraphs));
    }
    if (p.table) {
      const head = Buffer.alloc(8 + 84);
      head.writeUInt16LE(10, 0);
      head.writeUInt16LE(10, 6);
      head.writeUInt16LE(p.table.cells.length, 8 + 80);
      content.push(head, Buffer.alloc(27 * p.table.cells.length));
      for (const c of p.table.cells) content.push(paragraphList(c));
      content.push(paragraphList(p.table.caption));
    }
    content.push(u16(13));
    const body = Buffer.concat(content);
    const header = Buffer.alloc(43);
    header[0] = 1; // short header
    header.writeUInt16LE(Math.max(1, Math.min(0xffff, body.length >> 1)), 1);
    header.writeUInt16LE(0, 3); // no line information
    header[5] = 0; // no character shapes
    parts.push(header, body);
  }
  parts.push(Buffer.alloc(43)); // the empty paragraph ending the list
  return Buffer.concat(parts);
}

/** The body as ClamAV walks it: fonts, styles, paragraphs, information blocks, terminator. */
export function hwp3Body(doc: Hwp3Doc): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < 7; i++) parts.push(u16(1), Buffer.alloc(40, 0x41 + i));
  parts.push(u16(1), Buffer.alloc(238, 0x20));
  parts.push(paragraphList(doc.paragraphs));
  for (const b of doc.blocks) parts.push(u32(b.id), ...(b.id === 5 ? [] : [u32(b.data.length), Buffer.from(b.data)]));
  if (!doc.noTerminator) parts.push(u32(0), u32(0));
  return Buffer.concat(parts);
}

export function buildHwp3(doc: Hwp3Doc): Buffer {
  const info = Buffer.alloc(128);
  if (doc.password) info.writeUInt16LE(1, 96);
  info[124] = doc.compressed ? 1 : 0;
  const block0 = Buffer.from(doc.infoBlock0 ?? new Uint8Array(0));
  info.writeUInt16LE(block0.length, 126);
  const summary = Buffer.alloc(1008);
  summary.write('T\0i\0t\0l\0e\0', 0, 'latin1');
  const body = hwp3Body(doc);
  return Buffer.concat([HWP3_MAGIC, info, summary, block0, doc.compressed ? deflateRawSync(body) : body]);
}

/** An image information block (id 1): 16-byte name, 16-byte format, then the image. */
export function hwp3Image(data: Uint8Array): { id: number; data: Buffer } {
  return { id: 1, data: Buffer.concat([Buffer.from('image1'.padEnd(16, '\0'), 'latin1'), Buffer.from('bmp'.padEnd(16, '\0'), 'latin1'), Buffer.from(data)]) };
}

/** An OLE2 information block (id 2): the OLE2 file after its 4-byte size. */
export function hwp3Ole2(cfb: Uint8Array): { id: number; data: Buffer } {
  return { id: 2, data: Buffer.concat([u32(cfb.length), Buffer.from(cfb)]) };
}

/** A hyperlink information block (id 3): 617-byte entries, the macro part (325 bytes at 288) from `macros`. */
export function hwp3Hyperlinks(macros: readonly Uint8Array[]): { id: number; data: Buffer } {
  return {
    id: 3,
    data: Buffer.concat(macros.map((m) => {
      const e = Buffer.alloc(617);
      e.write('http://example.invalid/', 0, 'latin1');
      Buffer.from(m.subarray(0, 325)).copy(e, 288);
      return e;
    })),
  };
}

/** A background image information block (id 6): 324 bytes of fields, then the image. */
export function hwp3Background(data: Uint8Array): { id: number; data: Buffer } {
  return { id: 6, data: Buffer.concat([Buffer.alloc(324, 0x2e), Buffer.from(data)]) };
}

/** An HWPML document: BOM, declaration, head, body, and the binary items and scripts given. */
export function buildHwpml(items: readonly { attrs: string; text: string; tag?: string }[], body = 'Hello'): Buffer {
  const bins = items.map((i, k) => `<${i.tag ?? 'BINDATA'} Id="${k + 1}"${i.attrs ? ` ${i.attrs}` : ''}>${i.text}</${i.tag ?? 'BINDATA'}>`).join('\n');
  const xml = `<?xml version="1.0" encoding="UTF-8" standalone="no" ?><HWPML Style="embed" SubVersion="8.0.0.0" Version="2.8">
<HEAD SecCnt="1"><DOCSUMMARY><TITLE>t</TITLE></DOCSUMMARY><MAPPINGTABLE><FACENAMELIST><FONTFACE Count="1" Lang="Hangul"/></FACENAMELIST></MAPPINGTABLE></HEAD>
<BODY><SECTION Id="0"><P><TEXT><CHAR>${body}</CHAR></TEXT></P></SECTION></BODY>
<TAIL><BINDATASTORAGE>
${bins}
</BINDATASTORAGE></TAIL>
</HWPML>
`;
  return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(xml, 'latin1')]);
}

/** Base64 in 76-character lines, each ending with a newline (as Hangul writes it). */
export function base64Lines(data: Uint8Array): string {
  const s = Buffer.from(data).toString('base64');
  let out = '\n';
  for (let i = 0; i < s.length; i += 76) out += `${s.slice(i, i + 76)}\n`;
  return out;
}
