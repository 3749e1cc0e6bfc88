/**
 * HWPML as libxml2's text reader hands it to ClamAV (`xmlReaderForIO` over the document): element
 * starts, element ends, text, and other nodes, up to the first error.
 *
 * In: the document's bytes (UTF-8 after a BOM). Out: the nodes the reader returns, in order.
 *
 * Why not `../xmlreader.ts` alone: ClamAV reads HWPML through an I/O callback, so libxml2 gets the
 * document in pieces (4 bytes, then 512 at a time) and fails on the piece holding the first error
 * wherever that error is — also at the very end (a document cut short, an element left open),
 * and also for errors the shared reader does not look for: characters XML forbids (controls other
 * than tab, newline and carriage return; bytes that are not UTF-8) and content after the root
 * element. A node is returned only when the parser completed the node after it (for an element
 * holding only text, the node after its end) before the failing piece, which needs positions for
 * every node, text and comments included. Never throws.
 */
import { decodeXmlText } from '../xmlreader.js';

export type HwpmlNode =
  | { kind: 'element'; local: string; empty: boolean; attrs: string }
  | { kind: 'end'; local: string }
  | { kind: 'text'; value: string }
  | { kind: 'blank' }
  | { kind: 'other' };

type Token = HwpmlNode & { until: number };

/** libxml2's reader feeds its parser 4 bytes, then 512 at a time. */
const FIRST = 4;
const CHUNK = 512;

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

/** Every node with the offset just past it, and the offset of the first error (-1 when none). */
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
    const isComment = other('<!--', '-->') || other('<?', '?>');
    if (isComment || (!rootClosed && (other('<![CDATA[', ']]>') || other('<!', '>')))) {
      if (pos < 0) return { tokens, error: n };
      tokens.push({ kind: 'other', until: pos });
      continue;
    }
    if (rootClosed) return { tokens, error: lt };
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
      tokens.push({ kind: 'end', local: name.slice(name.indexOf(':') + 1), until: pos });
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
    tokens.push({ kind: 'element', local: name.slice(name.indexOf(':') + 1), empty, attrs, until: pos });
  }
  return { tokens, error: open.length > 0 || !rootClosed ? n : -1 };
}

/** The nodes the reader returns for the document `bytes`. */
export function hwpmlNodes(bytes: Uint8Array): HwpmlNode[] {
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const bad = firstBadChar(bytes, bom);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bad >= 0 ? bad : bytes.byteLength).toString('latin1');
  const t = tokenize(text, bom);
  const tokens = t.tokens;
  let error = t.error;
  if (bad >= 0 && (error < 0 || error >= text.length)) error = bad;
  if (error < 0) return tokens;
  const failAt = error < FIRST ? 0 : FIRST + CHUNK * Math.floor((error - FIRST) / CHUNK);
  const out: HwpmlNode[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const tk = tokens[i]!;
    // The node the parser must have completed before the reader returns this one.
    let need: Token | undefined;
    if (tk.kind === 'element' && !tk.empty) {
      let depth = 0, j = i + 1, hasElement = false;
      for (; j < tokens.length; j++) {
        const u = tokens[j]!;
        if (u.kind === 'element') { hasElement = true; if (!u.empty) depth++; } else if (u.kind === 'end') { if (depth === 0) break; depth--; }
      }
      need = hasElement ? tk : tokens[j + 1];
    } else {
      need = tokens[i + 1];
    }
    if (!need || need.until > failAt) break;
    out.push(tk);
  }
  return out;
}
