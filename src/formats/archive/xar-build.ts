/**
 * A XAR writer for tests (no xar tool is packaged here): the layout `xar` and `pkgbuild` write —
 * a 28-byte header, the zlib-compressed XML table of contents, then the heap (the TOC's SHA-1
 * first, then each file's extent).
 *
 * In: files with an encoding each (`gzip` is zlib, as xar writes it; `lzma` is LZMA-alone, made
 * by `xz --format=lzma`; `bzip2` and `xz` by their tools; `none` stored) and options to damage or
 * extend the TOC. Out: the archive's bytes.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';

export type XarEncoding = 'gzip' | 'lzma' | 'bzip2' | 'xz' | 'none';

export interface XarFile {
  name: string;
  data: Uint8Array;
  encoding: XarEncoding;
  /** Written instead of the encoded data (a damaged extent). */
  archived?: Uint8Array;
  /** Put the extent in an `<ea>` (extended attribute) element instead of `<data>`. */
  ea?: boolean;
}

export interface XarOptions {
  subdocs?: string[];
  /** Replaces the TOC text (after it is built from the files, with `{{FILES}}` standing for the file elements). */
  tocTemplate?: string;
  /** Header size field (default 28; the TOC then starts there). */
  headerSize?: number;
  /** Declared decompressed TOC size (default: the real one). */
  tocSizeOverride?: number;
}

const STYLE: Record<XarEncoding, string> = {
  gzip: 'application/x-gzip', lzma: 'application/x-lzma', bzip2: 'application/x-bzip2', xz: 'application/x-xz', none: 'application/octet-stream',
};

export function encodeXarData(data: Uint8Array, encoding: XarEncoding): Uint8Array {
  switch (encoding) {
    case 'gzip': return deflateSync(data);
    case 'lzma': return execFileSync('xz', ['--format=lzma', '-c'], { input: data });
    case 'bzip2': return execFileSync('bzip2', ['-c'], { input: data });
    case 'xz': return execFileSync('xz', ['-c'], { input: data });
    default: return data;
  }
}

const sha1 = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');

export function buildXar(files: readonly XarFile[], opts: XarOptions = {}): Uint8Array {
  const heap: Uint8Array[] = [new Uint8Array(20)];
  let offset = 20;
  const elements: string[] = [];
  files.forEach((f, i) => {
    const archived = f.archived ?? encodeXarData(f.data, f.encoding);
    const tag = f.ea ? 'ea' : 'data';
    elements.push(`  <file id="${i + 1}">
   <${tag}>
    <length>${archived.length}</length>
    <offset>${offset}</offset>
    <size>${f.data.length}</size>
    <encoding style="${STYLE[f.encoding]}"/>
    <extracted-checksum style="sha1">${sha1(f.data)}</extracted-checksum>
    <archived-checksum style="sha1">${sha1(archived)}</archived-checksum>
   </${tag}>
   <name>${f.name}</name>
   <type>file</type>
  </file>`);
    heap.push(archived);
    offset += archived.length;
  });
  const subdocs = (opts.subdocs ?? []).map((s, i) => ` <subdoc subdoc_name="Doc${i}">${s}</subdoc>\n`).join('');
  const fileText = elements.join('\n');
  const toc = opts.tocTemplate !== undefined
    ? opts.tocTemplate.replace('{{FILES}}', fileText)
    : `<?xml version="1.0" encoding="UTF-8"?>\n<xar>\n${subdocs} <toc>\n  <checksum style="sha1">\n   <offset>0</offset>\n   <size>20</size>\n  </checksum>\n  <creation-time>2026-11-29T12:00:00</creation-time>\n${fileText}\n </toc>\n</xar>\n`;
  const tocBytes = Buffer.from(toc, 'latin1');
  const packed = deflateSync(tocBytes);
  heap[0] = createHash('sha1').update(packed).digest();
  const headerSize = opts.headerSize ?? 28;
  const header = Buffer.alloc(headerSize);
  header.write('xar!', 0, 'latin1');
  header.writeUInt16BE(headerSize, 4);
  header.writeUInt16BE(1, 6);
  header.writeBigUInt64BE(BigInt(packed.length), 8);
  header.writeBigUInt64BE(BigInt(opts.tocSizeOverride ?? tocBytes.length), 16);
  if (headerSize >= 28) header.writeUInt32BE(1, 24);
  return Buffer.concat([header, packed, ...heap]);
}
