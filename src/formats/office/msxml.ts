/**
 * Word and Excel 2003 XML documents (CL_TYPE_XML_WORD / CL_TYPE_XML_XL) → the base64 payloads of
 * their `binData` elements (embedded OLE objects, `editdata.mso` macro containers, images).
 *
 * In: the bytes of a text layer in which ClamAV's raw scan found the XML Word or Excel signature
 * (ClamAV then reads the whole layer as that document). Out: one child per text node inside a
 * `binData` element (any prefix, any case), base64-decoded, in document order.
 *
 * Why this much XML: ClamAV walks the document with libxml2's reader and stops at the first
 * well-formedness error, keeping what it scanned before; here a small tokenizer does the same for
 * the errors that matter (an end tag that does not close the open element, markup cut short).
 * Text is split where libxml2 splits it (comments, CDATA sections, child elements); `fonts` and
 * `styles` elements are skipped whole, as ClamAV asks. Entities are decoded in text. The base64
 * is decoded as OpenSSL's BIO filter does for ClamAV (start at a newline-terminated line, 64-char
 * groups, a damaged 1 KiB read dropped); lines over 1 KiB may differ. Never throws.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeText(s: string): string | undefined {
  let bad = false;
  const out = s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*);?/g, (m, body: string) => {
    if (!m.endsWith(';') && body.startsWith('#')) m += ';'; // ClamAV's reader closes numeric references
    if (body.startsWith('#x')) return String.fromCodePoint(Math.min(0x10ffff, parseInt(body.slice(2), 16)));
    if (body.startsWith('#')) return String.fromCodePoint(Math.min(0x10ffff, parseInt(body.slice(1), 10)));
    const e = ENTITIES[body];
    if (e === undefined || !m.endsWith(';')) bad = true;
    return e ?? '';
  });
  return bad ? undefined : out;
}

const B64 = new Int16Array(256).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, k) => { B64[c.charCodeAt(0)] = k; });
const BLOCK = 1024;

/** OpenSSL's base64 decoding context: characters held until a group of 64 (or a call's end). */
class Decoder {
  held: number[] = [];
  eof = 0;
  /** One `EVP_DecodeUpdate` call: the bytes it gives, and 1 (more), 0 (end seen) or -1 (error). */
  update(b: Uint8Array, from: number, to: number): { out: number[]; rv: number } {
    const out: number[] = [];
    let seof = false;
    const flush = (): boolean => {
      const d = this.held;
      for (let k = 0; k + 3 < d.length; k += 4) {
        const v = [d[k]!, d[k + 1]!, d[k + 2]!, d[k + 3]!].map((c) => (c === 0x3d ? 0 : B64[c]!));
        out.push(((v[0]! << 2) | (v[1]! >> 4)) & 0xff, ((v[1]! << 4) | (v[2]! >> 2)) & 0xff, ((v[2]! << 6) | v[3]!) & 0xff);
      }
      if (this.eof > out.length) return false;
      out.length -= this.eof;
      this.held = [];
      return true;
    };
    for (let k = from; k < to; k++) {
      const c = b[k]!;
      if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) continue;
      if (c === 0x2d) { seof = true; break; }
      const base = B64[c]! >= 0;
      if (c === 0x3d) this.eof++;
      else if (!base) return { out, rv: -1 };
      else if (this.eof > 0) return { out, rv: -1 };
      if (this.eof > 2) return { out, rv: -1 };
      this.held.push(c);
      if (this.held.length === 64 && !flush()) return { out, rv: -1 };
    }
    if (this.held.length > 0) {
      if ((this.held.length & 3) === 0) { if (!flush()) return { out, rv: -1 }; } else if (seof) return { out, rv: -1 };
    }
    return { out, rv: seof || (this.held.length === 0 && this.eof) ? 0 : 1 };
  }
}

/**
 * Base64 as ClamAV's `cl_base64_decode` reads it through OpenSSL's BIO filter (newline mode):
 * decoding starts at the first newline-terminated line the decoder accepts (earlier lines are
 * skipped; text with no newline gives nothing), then runs on in 1 KiB reads; a read with an
 * error gives nothing and ends it, and characters left over at the end are dropped.
 */
export function bioBase64(b: Uint8Array): Uint8Array {
  let start = -1;
  let skipLong = false;
  let bufStart = 0;
  // Look for the start line, a buffer (up to 1 KiB, a partial line carried over) at a time.
  while (start < 0 && bufStart < b.length) {
    const bufEnd = Math.min(b.length, bufStart + BLOCK);
    let p = bufStart;
    for (let j = bufStart; j < bufEnd; j++) {
      if (b[j] !== 0x0a) continue;
      if (skipLong) { skipLong = false; p = j + 1; continue; }
      const probe = new Decoder().update(b, p, j + 1);
      if (!(probe.rv <= 0 && probe.out.length === 0)) { start = p; break; }
      p = j + 1;
    }
    if (start >= 0) break;
    if (bufEnd === b.length) break;
    if (p === bufStart) { if (bufEnd - bufStart === BLOCK) skipLong = true; bufStart = bufEnd; } else bufStart = p;
  }
  if (start < 0) return new Uint8Array(0);
  const out: number[] = [];
  const dec = new Decoder();
  // The first read holds the start line and what followed it in the buffer; then 1 KiB reads.
  let p = start;
  let end = Math.min(b.length, Math.max(start, bufStart) + BLOCK);
  if (end <= p) end = Math.min(b.length, p + BLOCK);
  for (;;) {
    const r = dec.update(b, p, end);
    if (r.rv < 0) break;
    for (const x of r.out) out.push(x);
    if (r.rv === 0 || end >= b.length) break;
    p = end;
    end = Math.min(b.length, p + BLOCK);
  }
  return Uint8Array.from(out);
}

export function* msxmlLayers(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const stack: { name: string; local: string }[] = [];
  let skip = -1; // depth of an ignored element
  let pos = 0;
  let count = 0;
  const inBinData = (): boolean => skip < 0 && stack.length > 0 && stack[stack.length - 1]!.local.toLowerCase() === 'bindata';
  const n = text.length;
  while (pos < n) {
    const lt = text.indexOf('<', pos);
    const end = lt < 0 ? n : lt;
    if (end > pos && inBinData()) {
      const value = decodeText(text.slice(pos, end));
      if (value === undefined) return;
      // Blank text is whitespace to libxml2's reader, not a text node.
      if (/[^ \t\r\n]/.test(value)) {
        const data = bioBase64(Buffer.from(value, 'latin1'));
        const name = `binData-${count++}`;
        if (data.length > ctx.limits.maxFileSize) yield { name, limit: 'MaxFileSize', size: data.length };
        else if (data.length > 0) yield { name, data };
      }
    }
    if (lt < 0) return;
    if (text.startsWith('<!--', lt)) {
      const close = text.indexOf('-->', lt + 4);
      if (close < 0) return;
      pos = close + 3;
    } else if (text.startsWith('<![CDATA[', lt)) {
      const close = text.indexOf(']]>', lt + 9);
      if (close < 0) return;
      pos = close + 3;
    } else if (text.startsWith('<?', lt)) {
      const close = text.indexOf('?>', lt + 2);
      if (close < 0) return;
      pos = close + 2;
    } else if (text.startsWith('<!', lt)) {
      const close = text.indexOf('>', lt + 2);
      if (close < 0) return;
      pos = close + 1;
    } else {
      // A tag: find its end outside quoted attribute values.
      let q = '';
      let k = lt + 1;
      for (; k < n; k++) {
        const c = text[k]!;
        if (q) { if (c === q) q = ''; } else if (c === '"' || c === "'") q = c; else if (c === '>') break;
      }
      if (k >= n) return;
      const body = text.slice(lt + 1, k);
      pos = k + 1;
      if (body.startsWith('/')) {
        const name = body.slice(1).trim();
        const open = stack.pop();
        if (!open || open.name !== name) return;
        if (skip >= 0 && stack.length <= skip) skip = -1;
        continue;
      }
      const selfClosing = body.endsWith('/');
      const name = /^[^\s/>]+/.exec(body)?.[0];
      if (!name) return;
      const local = name.slice(name.indexOf(':') + 1);
      if (selfClosing) continue;
      if (skip < 0 && (local.toLowerCase() === 'fonts' || local.toLowerCase() === 'styles')) skip = stack.length;
      stack.push({ name, local });
    }
  }
}
