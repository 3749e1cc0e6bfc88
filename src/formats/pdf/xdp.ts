/**
 * XDP (Adobe XML Data Package) → the PDF documents it carries in base64 `<chunk>` elements.
 *
 * In: the bytes of a layer typed CL_TYPE_XDP, or of a text layer in which `<xdp:xdp` was found
 * (ClamAV then reads the whole layer as XDP). Out: one child per `<chunk>` element (any namespace
 * prefix), base64-decoded, in document order; the listing stops at the first chunk that does not
 * decode to more than 5 bytes holding `%PDF-` (any case of "pdf") in its first 1028 bytes, as
 * ClamAV's `cli_scanxdp` does. Never throws.
 *
 * The base64 text is decoded as OpenSSL's base64 reader does it in ClamAV (whitespace skipped)
 * only when a line break comes within its first 1024 bytes; otherwise it gives nothing, which
 * ends the listing.
 *
 * The XML is read by a small tokenizer (comments, CDATA, processing instructions and declarations
 * skipped); ClamAV uses libxml2's reader, which stops at the first well-formedness error: a
 * malformed element right after a chunk can make it drop that chunk too (where libxml2's parse
 * steps fall), which this reader does not reproduce; an unterminated chunk ends the listing here
 * as there.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';

const B64 = new Int16Array(256).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => { B64[c.charCodeAt(0)] = i; });

/** Base64 → bytes, whitespace skipped, stopping at padding or at the first other character. */
export function base64Decode(src: Uint8Array, from = 0, to = src.length): Uint8Array {
  const out = new Uint8Array(Math.floor(((to - from) * 3) / 4) + 3);
  let j = 0, acc = 0, n = 0;
  for (let i = from; i < to; i++) {
    const c = src[i]!;
    const v = B64[c]!;
    if (v < 0) {
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
      break;
    }
    acc = (acc << 6) | v;
    if (++n === 4) {
      out[j++] = (acc >> 16) & 0xff;
      out[j++] = (acc >> 8) & 0xff;
      out[j++] = acc & 0xff;
      acc = 0;
      n = 0;
    }
  }
  if (n === 2) out[j++] = (acc >> 4) & 0xff;
  else if (n === 3) { out[j++] = (acc >> 10) & 0xff; out[j++] = (acc >> 2) & 0xff; }
  return out.subarray(0, j);
}

const isNameEnd = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x2f || c === 0x3e;

function hasPdfMagic(d: Uint8Array): boolean {
  if (d.length <= 5) return false;
  const n = Math.min(1028, d.length - 5);
  for (let i = 0; i < n; i++) {
    if (d[i] !== 0x25) continue;
    if ((d[i + 1]! | 0x20) === 0x70 && (d[i + 2]! | 0x20) === 0x64 && (d[i + 3]! | 0x20) === 0x66 && d[i + 4] === 0x2d) return true;
  }
  return false;
}

/** The items of an XDP layer; see the module comment. */
export function* xdpItems(bytes: Uint8Array, _ctx: UnpackContext): Generator<UnpackItem> {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  let k = 0;
  const open: string[] = [];
  while (p < b.length) {
    const lt = b.indexOf(0x3c, p);
    if (lt < 0) return;
    if (b.toString('latin1', lt, lt + 4) === '<!--') { const e = b.indexOf('-->', lt + 4); if (e < 0) return; p = e + 3; continue; }
    if (b.toString('latin1', lt, lt + 9) === '<![CDATA[') { const e = b.indexOf(']]>', lt + 9); if (e < 0) return; p = e + 3; continue; }
    if (b[lt + 1] === 0x3f || b[lt + 1] === 0x21) { const e = b.indexOf(0x3e, lt + 1); if (e < 0) return; p = e + 1; continue; }
    if (b[lt + 1] === 0x2f) {
      // an end tag must close the open element (libxml2 stops at the first mismatch)
      const e = b.indexOf(0x3e, lt + 1);
      if (e < 0) return;
      const name = b.toString('latin1', lt + 2, e).trimEnd();
      if (open.pop() !== name) return;
      p = e + 1;
      continue;
    }
    // a start tag: its name and where it ends
    let q = lt + 1;
    while (q < b.length && !isNameEnd(b[q]!)) q++;
    const name = b.toString('latin1', lt + 1, q);
    const gt = b.indexOf(0x3e, q);
    if (gt < 0) return;
    p = gt + 1;
    const selfClosing = b[gt - 1] === 0x2f;
    if (!selfClosing) open.push(name);
    const local = name.slice(name.indexOf(':') + 1);
    if (local !== 'chunk') continue;
    let inner: Uint8Array = new Uint8Array(0);
    if (!selfClosing) {
      const close = b.indexOf(`</${name}`, p, 'latin1');
      if (close < 0) return;
      // OpenSSL's base64 reader (ClamAV's decoder) gives nothing unless a line ends in the first 1024 bytes
      const nl = b.indexOf(0x0a, p);
      if (nl >= 0 && nl < close && nl - p < 1024) inner = base64Decode(b, p, close);
    }
    if (!hasPdfMagic(inner)) return;
    yield { name: `xdp chunk ${k++}`, data: inner };
  }
}
