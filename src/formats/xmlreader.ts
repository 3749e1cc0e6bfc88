/**
 * XML as libxml2's text reader hands it to ClamAV's readers: a stream of nodes (element starts,
 * element ends, text), stopping at the first well-formedness error it meets.
 *
 * In: the document as a Latin-1 string (names and the markup are ASCII in the formats read with
 * it). Out: lazily, the nodes in document order. An element written `<a/>` gives one start node
 * marked `empty` and no end node, as the reader does. Text is entity-decoded; text that is only
 * blanks is a whitespace node, not text. Comments, CDATA sections, processing instructions and
 * the doctype are `other` nodes.
 *
 * Where it stops (the reader returns an error and ClamAV's loops end): an end tag that does not
 * close the open element, a tag or comment cut short, an attribute without a quoted value, an
 * unknown or unterminated entity reference in text. The reader parses ahead of the node it
 * returns, so libxml2 may stop a little earlier than here before a late error.
 */

export type XmlNode =
  | { kind: 'element'; name: string; local: string; empty: boolean; attrs: string; start: number; end: number }
  | { kind: 'end'; name: string; local: string; start: number; end: number }
  | { kind: 'text'; value: string }
  | { kind: 'blank' }
  | { kind: 'other' };

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

/** Whether a start tag's attribute text is well formed: each attribute a name, `=`, a quoted value. */
function attrsOk(attrs: string): boolean {
  return /^(\s+[^\s=/>"']+\s*=\s*("[^"<]*"|'[^'<]*'))*\s*$/.test(attrs);
}

type Token = XmlNode & { until: number };

/** Every node of `text` with the offset just past it, and the offset of the first error (or -1). */
function tokenize(text: string): { tokens: Token[]; error: number } {
  const tokens: Token[] = [];
  const open: string[] = [];
  const n = text.length;
  let pos = 0;
  while (pos < n) {
    const lt = text.indexOf('<', pos);
    const stop = lt < 0 ? n : lt;
    if (stop > pos) {
      const raw = text.slice(pos, stop);
      if (/[^ \t\r\n]/.test(raw)) {
        const value = decodeXmlText(raw);
        if (value === undefined) return { tokens, error: pos + raw.indexOf('&') };
        tokens.push({ kind: 'text', value, until: stop });
      } else {
        tokens.push({ kind: 'blank', until: stop });
      }
    }
    if (lt < 0) break;
    const other = (open: string, close: string): boolean => {
      if (!text.startsWith(open, lt)) return false;
      const at = text.indexOf(close, lt + open.length);
      pos = at < 0 ? -1 : at + close.length;
      return true;
    };
    if (other('<!--', '-->') || other('<![CDATA[', ']]>') || other('<?', '?>') || other('<!', '>')) {
      if (pos < 0) return { tokens, error: n };
      tokens.push({ kind: 'other', until: pos });
      continue;
    }
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
      continue;
    }
    const empty = body.endsWith('/');
    const inner = empty ? body.slice(0, -1) : body;
    const name = /^[^\s/>]+/.exec(inner)?.[0];
    if (!name) return { tokens, error: k };
    const attrs = inner.slice(name.length);
    if (!attrsOk(attrs)) return { tokens, error: k };
    if (!empty) open.push(name);
    tokens.push({ kind: 'element', name, local: name.slice(name.indexOf(':') + 1), empty, attrs, start: lt, end: pos, until: pos });
  }
  return { tokens, error: open.length > 0 ? n : -1 };
}

/** libxml2's reader feeds its parser 512 bytes at a time, after the first 4. */
const CHUNK = 512;
const FIRST = 4;

/**
 * The nodes of `text`, in order, as the reader returns them. Without an error, or with one found
 * only at the end of the document (an element left open, markup cut short), all of them. With one
 * inside, the reader fails when it feeds its parser the 512-byte chunk holding the error. Before
 * returning a node it makes the parser reach the next tag after it (after the whole element when
 * its content is only text), so a node is returned only when that tag was complete before the
 * failing chunk.
 */
export function* xmlNodes(text: string): Generator<XmlNode> {
  const { tokens, error } = tokenize(text);
  if (error < 0 || error >= text.length) {
    for (const t of tokens) yield t;
    return;
  }
  const failAt = error < FIRST ? 0 : FIRST + CHUNK * Math.floor((error - FIRST) / CHUNK);
  const isTag = (t: Token): boolean => t.kind === 'element' || t.kind === 'end';
  const tagAfter = (i: number): Token | undefined => {
    for (let j = i + 1; j < tokens.length; j++) if (isTag(tokens[j]!)) return tokens[j];
    return undefined;
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    let need: Token | undefined;
    if (t.kind === 'element' && !t.empty) {
      // Its matching end, and whether an element comes before it.
      let depth = 0, j = i + 1, hasElement = false;
      for (; j < tokens.length; j++) {
        const u = tokens[j]!;
        if (u.kind === 'element') { hasElement = true; if (!u.empty) depth++; } else if (u.kind === 'end') { if (depth === 0) break; depth--; }
      }
      need = hasElement ? t : j < tokens.length ? tagAfter(j) : undefined;
    } else {
      need = tagAfter(i);
    }
    if (!need || need.until > failAt) return;
    yield t;
  }
}
