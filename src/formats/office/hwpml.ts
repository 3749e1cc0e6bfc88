/**
 * HWPML documents (CL_TYPE_XML_HWP: Hangul's XML format, a UTF-8 BOM, an XML declaration and an
 * `<HWPML` root) → the contents of their `BINDATA`, `SCRIPTHEADER` and `SCRIPTSOURCE` elements,
 * as ClamAV 1.4 scans them (`cli_scanhwpml` in libclamav/hwp.c over `msxml_parser.c`).
 *
 * In: the bytes of the document and the scan's limits. Out, lazily, in document order: one child
 * per text node directly inside one of those elements (any case, any prefix), decoded as the
 * element's attributes say: `Encoding="Base64"` → base64 as OpenSSL's BIO filter decodes it for
 * ClamAV (another encoding: the text as is, not inflated), then `Compress="true"` (or any value but
 * "false") → raw deflate inflated as ClamAV's HWP loop does it (see `hwp-inflate.ts`).
 *
 * ClamAV's walk (libxml2's text reader) skips the body, the style lists and the elements nested 20
 * deep or more, and ends at the first well-formedness error (see `hwpml-reader.ts`), at an end tag
 * that does not close its element, or when a compressed text node decodes or inflates to nothing
 * (its callback fails and the document walk stops). A MaxFileSize cut is alerted and the cut bytes are
 * scanned. Never throws.
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { xmlDocumentNodes } from '../xmlreader.js';
import { bioBase64 } from './msxml.js';
import { hwpInflate } from './hwp-inflate.js';

/** msxml_parser.c's MSXML_RECLEVEL_MAX: elements this deep are skipped. */
const MAX_LEVEL = 20;
/** At most this many attributes are passed to the scan callback (MAX_ATTRIBS). */
const MAX_ATTRIBS = 20;
const IGNORED = new Set(['facenamelist', 'borderfilllist', 'charshapelist', 'tabdeflist', 'numberinglist', 'parashapelist', 'stylelist', 'compatibledocument', 'body']);
const SCANNED = new Set(['bindata', 'scriptheader', 'scriptsource']);

/** The attributes of a start tag as the reader gives them: local names and decoded values, in order. */
function attributes(attrs: string): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  const re = /([^\s=]+)\s*=\s*("[^"]*"|'[^']*')/g;
  for (let m = re.exec(attrs); m && out.length < MAX_ATTRIBS; m = re.exec(attrs)) {
    const name = m[1]!;
    const raw = m[2]!.slice(1, -1);
    const value = raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);/g, (_s, e: string) =>
      e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'amp' ? '&' : e === 'quot' ? '"' : e === 'apos' ? "'"
        : String.fromCodePoint(Math.min(0x10ffff, e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10))));
    out.push({ key: name.slice(name.indexOf(':') + 1), value });
  }
  return out;
}

/** A text node's value as the bytes libxml2 hands over (the document's own bytes; decoded references past Latin-1 as UTF-8). */
function textBytes(value: string): Uint8Array {
  let wide = false;
  for (let i = 0; i < value.length && !wide; i++) if (value.charCodeAt(i) > 0xff) wide = true;
  if (!wide) return Buffer.from(value, 'latin1');
  const parts: Buffer[] = [];
  for (const ch of value) parts.push(ch.codePointAt(0)! > 0xff ? Buffer.from(ch, 'utf8') : Buffer.from([ch.codePointAt(0)!]));
  return Buffer.concat(parts);
}

type Outcome = 'ok' | 'stop';

export function* hwpmlLayers(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  const nodes = [...xmlDocumentNodes(bytes, 'io')];
  let at = -1;
  let count = 0;
  // The file's scanned bytes so far, as ClamAV counts them against MaxScanSize: this layer and its children.
  let consumed = bytes.length;
  const give = (name: string, data: Uint8Array): UnpackItem => {
    if (data.length > 5) consumed += data.length;
    return { name, data };
  };
  /** xmlTextReaderRead: true when there is a next node. */
  const read = (): boolean => ++at < nodes.length;
  /** xmlTextReaderNext: past the current node and, for an element, its content. */
  const next = (): boolean => {
    const node = nodes[at];
    if (node?.kind === 'element' && !node.empty) {
      let depth = 0;
      for (at++; at < nodes.length; at++) {
        const u = nodes[at]!;
        if (u.kind === 'element' && !u.empty) depth++;
        else if (u.kind === 'end') { if (depth === 0) break; depth--; }
      }
    }
    return read();
  };

  /** The scan callback for one text node (`hwpml_binary_cb`); 'stop' when ClamAV's callback fails. */
  function* scanText(value: string, attrs: { key: string; value: string }[]): Generator<UnpackItem, Outcome> {
    let com = 0, enc = 0;
    for (const a of attrs) {
      if (a.key === 'Compress') com = a.value === 'true' ? 1 : a.value === 'false' ? 0 : -1;
      if (a.key === 'Encoding') enc = a.value === 'Base64' ? 1 : -1;
    }
    const name = `binData-${count++}`;
    let data = textBytes(value);
    if (enc < 0) {
      yield give(name, data);
      return 'ok';
    }
    if (enc === 1) data = bioBase64(data);
    if (!com) {
      if (data.length > 0) yield give(name, data);
      return 'ok';
    }
    // Nothing to inflate: ClamAV cannot map the empty file, and the failure ends the walk.
    if (data.length === 0) return 'stop';
    const r = hwpInflate(data, ctx, consumed);
    if (r.limited) {
      yield { name, limit: r.limited };
      if (r.data.length > 0) yield give(name, r.data);
      return 'ok';
    }
    if (r.data.length === 0) return r.state === 'error' ? 'stop' : 'ok';
    yield give(name, r.data);
    return 'ok';
  }

  /** msxml_parse_element at the current node. */
  function* element(level: number): Generator<UnpackItem, Outcome> {
    if (level >= MAX_LEVEL) return next() ? 'ok' : 'stop';
    const node = nodes[at]!;
    // Anything but an element at this point (text, an end tag, a comment) is passed over by the caller's read.
    if (node.kind !== 'element') return 'ok';
    const key = node.local.toLowerCase();
    if (IGNORED.has(key)) return next() ? 'ok' : 'stop';
    const scanned = SCANNED.has(key);
    const attrs = scanned ? attributes(node.attrs) : [];
    if (node.empty) return next() ? 'ok' : 'stop';
    if (!read()) return 'stop';
    for (;;) {
      const cur = nodes[at]!;
      if (cur.kind === 'element') {
        if ((yield* element(level + 1)) === 'stop') return 'stop';
        continue;
      }
      if (cur.kind === 'text' && scanned) {
        if ((yield* scanText(cur.value, attrs)) === 'stop') return 'stop';
      }
      if (cur.kind === 'end') {
        if (cur.local !== node.local) return 'stop';
        return read() ? 'ok' : 'stop';
      }
      if (!read()) return 'stop';
    }
  }

  while (read()) {
    if ((yield* element(0)) === 'stop') return;
  }
}
