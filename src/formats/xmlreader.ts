/**
 * XML as libxml2's text reader hands it to ClamAV's readers: a stream of nodes (element starts,
 * element ends, text), stopping where the reader stops at the first well-formedness error.
 *
 * In: the document (bytes, or a Latin-1 string of them), and how ClamAV feeds it to libxml2:
 * `xmlReaderForMemory` (XAR, DMG) or `xmlReaderForIO` (HWPML). Out: the nodes the reader
 * returns, in document order. An element written `<a/>` gives one start node marked `empty` and no
 * end node, as the reader does. Text is entity-decoded; text that is only blanks is a whitespace
 * node. Comments, CDATA sections, processing instructions and the doctype are `other` nodes.
 *
 * Errors: an end tag that does not close the open element, a tag or comment cut short, an
 * attribute without a quoted value, an unknown or unterminated entity reference, text or markup
 * outside the root element, a control character other than tab/CR/LF or bytes that are not UTF-8
 * (`xmlDocumentNodes`). The reader feeds its parser 4 bytes, then 512 at a time, and fails when
 * the piece holding the error is parsed; before returning a node it makes the parser complete the
 * node after it (for an element holding only text, the node after its end), so a node is returned
 * only when that one was complete before the failing piece. An error found only at the end (an
 * element left open, markup cut short) fails an I/O reader the same way, while the memory reader
 * parses its last piece as the final one and returns every node.
 */

export type XmlNode =
  | { kind: 'element'; name: string; local: string; empty: boolean; attrs: string; start: number; end: number }
  | { kind: 'end'; name: string; local: string; start: number; end: number }
  | { kind: 'text'; value: string }
  | { kind: 'blank' }
  | { kind: 'other' };

/** How ClamAV hands the document to libxml2. */
export type XmlFeed = 'memory' | 'io';

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Text with its entity and character references decoded; undefined for an unknown or unterminated one. */
export function decodeXmlText(s: string): string | undefined {
  if (!s.includes('&')) return s;
  let bad = false;
  const out = s.replace(/&([^;&<]*)(;?)/g, (_m, body: string, semi: string) => {
    if (!semi) { bad = true; return ''; }
    if (/^#x[0-9a-fA-F]+$/.test(body)) return String.fromCodePoint(Math.min(0x10ffff, parseInt(body.slice(2), 16)));
    if (/^#[0-9]+$/.test(body)) return String.fromCodePoint(Math.min(0x10ffff, parseInt(body.slice(1), 10)));
    const e = ENTITIES[body];
    if (e === undefined) bad = true;
    return e ?? '';
  });
  return bad ? undefined : out;
}

/** The value of attribute `name` in a start tag's attribute text (decoded), if present. */
export function xmlAttr(attrs: string, name: string): string | undefined {
  const re = /([^\s=]+)\s*=\s*("[^"]*"|'[^']*')/g;
  for (let m = re.exec(attrs); m; m = re.exec(attrs)) {
    if (m[1] === name) return decodeXmlText(m[2]!.slice(1, -1));
  }
  return undefined;
}

/**
 * Where libxml2 stops on characters XML forbids: a control character other than tab, newline and
 * carriage return, or a byte sequence that is not UTF-8; -1 when none.
 */
export function firstBadChar(b: Uint8Array, from = 0): number {
  const n = b.length;
  for (let i = from; i < n; i++) {
    const c = b[i]!;
    if (c < 0x80) {
      if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return i;
      continue;
    }
    let need: number, lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) { need = 2; if (c === 0xe0) lo = 0xa0; else if (c === 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { need = 3; if (c === 0xf0) lo = 0x90; else if (c === 0xf4) hi = 0x8f; }
    else return i;
    if (i + need >= n) return i;
    const c1 = b[i + 1]!;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= need; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    i += need;
  }
  return -1;
}

const ATTRS_OK = /^(\s+[^\s=/>"']+\s*=\s*("[^"<]*"|'[^'<]*'))*\s*$/;

type Token = XmlNode & { until: number };

/** Every node of `text` from `start` with the offset just past it, and the offset of the first error (-1 when none). */
function tokenize(text: string, start: number): { tokens: Token[]; error: number } {
  const tokens: Token[] = [];
  const open: string[] = [];
  const n = text.length;
  let pos = start;
  let rootClosed = false;
  while (pos < n) {
    const lt = text.indexOf('<', pos);
    const stop = lt < 0 ? n : lt;
    if (stop > pos) {
      const raw = text.slice(pos, stop);
      if (/[^ \t\r\n]/.test(raw)) {
        // Text before the root element ("Start tag expected") or after it ("Extra content").
        if (rootClosed || open.length === 0) return { tokens, error: pos + raw.search(/[^ \t\r\n]/) };
        const value = decodeXmlText(raw);
        if (value === undefined) return { tokens, error: pos + raw.indexOf('&') };
        tokens.push({ kind: 'text', value, until: stop });
      } else {
        tokens.push({ kind: 'blank', until: stop });
      }
    }
    if (lt < 0) break;
    const other = (o: string, c: string): boolean => {
      if (!text.startsWith(o, lt)) return false;
      const at = text.indexOf(c, lt + o.length);
      pos = at < 0 ? -1 : at + c.length;
      return true;
    };
    const commentOrPi = other('<!--', '-->') || other('<?', '?>');
    if (commentOrPi || (!rootClosed && (other('<![CDATA[', ']]>') || other('<!', '>')))) {
      if (pos < 0) return { tokens, error: n };
      tokens.push({ kind: 'other', until: pos });
      continue;
    }
    if (rootClosed) return { tokens, error: lt };
    // A tag: its end outside quoted attribute values.
    let q = '';
    let k = lt + 1;
    for (; k < n; k++) {
      const c = text[k]!;
      if (q) { if (c === q) q = ''; } else if (c === '"' || c === "'") q = c; else if (c === '>') break;
    }
    if (k >= n) return { tokens, error: n };
    const body = text.slice(lt + 1, k);
    pos = k + 1;
    if (body.startsWith('/')) {
      const name = body.slice(1).trimEnd();
      if (open.pop() !== name) return { tokens, error: k };
      tokens.push({ kind: 'end', name, local: name.slice(name.indexOf(':') + 1), start: lt, end: pos, until: pos });
      if (open.length === 0) rootClosed = true;
      continue;
    }
    const empty = body.endsWith('/');
    const inner = empty ? body.slice(0, -1) : body;
    const name = /^[^\s/>]+/.exec(inner)?.[0];
    if (!name) return { tokens, error: k };
    const attrs = inner.slice(name.length);
    if (!ATTRS_OK.test(attrs)) return { tokens, error: k };
    if (empty && open.length === 0) rootClosed = true;
    else if (!empty) open.push(name);
    tokens.push({ kind: 'element', name, local: name.slice(name.indexOf(':') + 1), empty, attrs, start: lt, end: pos, until: pos });
  }
  return { tokens, error: open.length > 0 || !rootClosed ? n : -1 };
}

/** libxml2's reader feeds its parser 4 bytes, then 512 at a time. */
const FIRST = 4;
const CHUNK = 512;

/** The tokens the reader returns, given the offset of the first error (-1 for none). */
function* returned(tokens: Token[], error: number, atEndFails: boolean, end: number): Generator<XmlNode> {
  if (error < 0 || (error >= end && !atEndFails)) {
    for (const t of tokens) yield t;
    return;
  }
  const failAt = error < FIRST ? 0 : FIRST + CHUNK * Math.floor((error - FIRST) / CHUNK);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    // The node the parser must have completed before the reader returns this one.
    let need: Token | undefined;
    if (t.kind === 'element' && !t.empty) {
      let depth = 0, j = i + 1, hasElement = false;
      for (; j < tokens.length; j++) {
        const u = tokens[j]!;
        if (u.kind === 'element') { hasElement = true; if (!u.empty) depth++; } else if (u.kind === 'end') { if (depth === 0) break; depth--; }
      }
      need = hasElement ? t : tokens[j + 1];
    } else {
      need = tokens[i + 1];
    }
    if (!need || need.until > failAt) return;
    yield t;
  }
}

/** The nodes of `text` (a Latin-1 string of the document) as the reader returns them. */
export function xmlNodes(text: string, feed: XmlFeed = 'memory'): Generator<XmlNode> {
  const { tokens, error } = tokenize(text, 0);
  return returned(tokens, error, feed === 'io', text.length);
}

/** The nodes of the document `bytes` (UTF-8, after an optional byte-order mark) as the reader returns them. */
export function xmlDocumentNodes(bytes: Uint8Array, feed: XmlFeed): Generator<XmlNode> {
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const bad = firstBadChar(bytes, bom);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bad >= 0 ? bad : bytes.byteLength).toString('latin1');
  const t = tokenize(text, bom);
  let error = t.error;
  if (bad >= 0 && (error < 0 || error >= text.length)) error = bad;
  return returned(t.tokens, error, feed === 'io', bad >= 0 ? bytes.length + 1 : text.length);
}
