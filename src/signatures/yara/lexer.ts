/**
 * YARA source text → tokens with byte spans, plus diagnostics for text that is not a token.
 *
 * In: the UTF-8 bytes of a rule file. Out: every token (keywords, identifiers, `$a`/`#a`/`@a`/`!a`
 * references with optional `*` wildcard, numbers, text strings decoded to bytes, regex literals,
 * whole hex strings, punctuation), ending with one `eof` token, and the lexical diagnostics.
 *
 * The lexer runs over bytes rather than JavaScript characters so that spans are byte offsets and
 * text strings decode to exactly the bytes YARA would match. Three places are context-sensitive in
 * YARA and resolved here the way YARA's own scanner does: `/` always opens a regex (division is
 * `\`), and `{` opens a hex string when everything up to the next `}` is hex digits, `?`, `~`,
 * `-`, `|`, `[`, `]`, `(`, `)`, whitespace or comments; otherwise it is a brace. `include` is a
 * keyword only when blanks and a `"` follow it on its line, as in yara's lexer. A lexical error
 * never stops the scan: the bad text becomes an `invalid` token (or a best-effort token) and the
 * parser reports at most one syntax error for it.
 */

import type { Span } from './ast.js';

export type TokenKind =
  | 'ident'
  | 'keyword'
  | 'stringId'
  | 'stringCount'
  | 'stringOffset'
  | 'stringLength'
  | 'int'
  | 'float'
  | 'text'
  | 'regex'
  | 'hex'
  | 'punct'
  | 'invalid'
  | 'eof';

export interface Token {
  kind: TokenKind;
  span: Span;
  /** Source text of the token (latin1-decoded bytes for `text`), or the punctuation / keyword. */
  text: string;
  /** Decoded bytes of a text string. */
  bytes?: Uint8Array;
  /** Value of an integer literal (after `KB`/`MB`); undefined when it overflowed int64. */
  int?: bigint;
  float?: number;
  /** Regex literal: pattern and flags. */
  regex?: { pattern: string; caseInsensitive: boolean; dotAll: boolean };
  /** For `$a*`, `#a*`…: the reference ends in a wildcard. */
  wildcard?: boolean;
}

/** A lexical finding, turned into a Diagnostic by the parser (which knows lines and the file). */
export interface LexIssue {
  code: string;
  severity: 'error' | 'warning';
  message: string;
  span: Span;
}

export interface LexOptions {
  /** Like yara's `--strict-escape`: warn on unknown escape sequences in regular expressions. */
  strictEscape?: boolean;
}

export const KEYWORDS: ReadonlySet<string> = new Set([
  'all', 'and', 'any', 'ascii', 'at', 'base64', 'base64wide', 'condition', 'contains', 'defined',
  'endswith', 'entrypoint', 'false', 'filesize', 'for', 'fullword', 'global', 'import', 'icontains',
  'iendswith', 'iequals', 'in', 'include', 'int16', 'int16be', 'int32', 'int32be', 'int8', 'int8be',
  'istartswith', 'matches', 'meta', 'nocase', 'none', 'not', 'of', 'or', 'private', 'rule',
  'startswith', 'strings', 'them', 'true', 'uint16', 'uint16be', 'uint32', 'uint32be', 'uint8',
  'uint8be', 'wide', 'with', 'xor',
]);

const PUNCT2 = new Set(['..', '<=', '>=', '==', '!=', '<<', '>>']);
const PUNCT1 = new Set(['{', '}', '(', ')', '[', ']', ':', '=', ',', '.', '<', '>', '+', '-', '*', '\\', '%', '&', '|', '^', '~']);

const INT64_MAX = (1n << 63n) - 1n;
/** yara refuses identifiers (rule names, meta keys, fields) longer than this. */
export const MAX_IDENTIFIER_LENGTH = 128;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}
function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}
function isAlnum(c: number): boolean {
  return isAlpha(c) || isDigit(c);
}
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
}

/** Bytes as one char per byte (ISO-8859-1), so token text round-trips to the same bytes. */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  if (end - start < 24) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i] ?? 0);
    return s;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', start, end);
}

/** Characters allowed between the braces of a hex string (comments are handled separately). */
function isHexBodyChar(c: number): boolean {
  return isHexDigit(c) || isSpace(c) || c === 0x3f || c === 0x7e || c === 0x2d || c === 0x7c ||
    c === 0x5b || c === 0x5d || c === 0x28 || c === 0x29;
}

export function tokenize(src: Uint8Array, opts: LexOptions = {}): { tokens: Token[]; issues: LexIssue[] } {
  const tokens: Token[] = [];
  const issues: LexIssue[] = [];
  const n = src.length;
  let i = 0;
  const at = (k: number): number => (k < n ? (src[k] as number) : -1);
  const issue = (code: string, message: string, start: number, end: number, severity: 'error' | 'warning' = 'error'): void => {
    issues.push({ code, severity, message, span: { start, end } });
  };
  const push = (t: Token): void => {
    tokens.push(t);
  };

  /** End offset of a hex string starting at `{` (index `open`), or -1 if the text is no hex string. */
  const scanHex = (open: number): number => {
    let k = open + 1;
    let content = 0;
    while (k < n) {
      const c = at(k);
      if (c === 0x7d) return content > 0 ? k + 1 : -1;
      if (c === 0x2f && at(k + 1) === 0x2f) {
        while (k < n && at(k) !== 0x0a) k++;
        content++;
        continue;
      }
      if (c === 0x2f && at(k + 1) === 0x2a) {
        const close = findCommentEnd(k + 2);
        if (close < 0) return -1;
        k = close;
        content++;
        continue;
      }
      if (!isHexBodyChar(c)) return -1;
      content++;
      k++;
    }
    return -1;
  };
  const findCommentEnd = (from: number): number => {
    for (let k = from; k + 1 < n; k++) if (at(k) === 0x2a && at(k + 1) === 0x2f) return k + 2;
    return -1;
  };

  while (i < n) {
    const c = at(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const start = i;
    // Comments.
    if (c === 0x2f && at(i + 1) === 0x2f) {
      while (i < n && at(i) !== 0x0a) i++;
      continue;
    }
    if (c === 0x2f && at(i + 1) === 0x2a) {
      const close = findCommentEnd(i + 2);
      if (close < 0) {
        issue('yara.syntax.unterminated-comment', 'unterminated comment', start, n);
        i = n;
      } else i = close;
      continue;
    }
    // Identifiers and keywords.
    if (isAlpha(c)) {
      while (isAlnum(at(i))) i++;
      const text = latin1(src, start, i);
      if (text.length > MAX_IDENTIFIER_LENGTH) {
        issue('yara.syntax.identifier-too-long', 'identifier too long', start, i);
        push({ kind: 'invalid', span: { start, end: i }, text });
        continue;
      }
      // yara's lexer knows `include` only as `include[ \t]+"`: the path must follow on the same
      // line, after at least one blank; any other `include` is an identifier.
      let keyword = KEYWORDS.has(text);
      if (keyword && text === 'include') {
        let k = i;
        while (at(k) === 0x20 || at(k) === 0x09) k++;
        keyword = k > i && at(k) === 0x22;
      }
      push({ kind: keyword ? 'keyword' : 'ident', span: { start, end: i }, text });
      continue;
    }
    // String references: $a, #a, @a, !a (not `!=`), each with an optional trailing `*`.
    if (c === 0x24 || c === 0x23 || c === 0x40 || (c === 0x21 && at(i + 1) !== 0x3d)) {
      i++;
      while (isAlnum(at(i))) i++;
      let wildcard = false;
      if (at(i) === 0x2a) {
        wildcard = true;
        i++;
      }
      const kind: TokenKind = c === 0x24 ? 'stringId' : c === 0x23 ? 'stringCount' : c === 0x40 ? 'stringOffset' : 'stringLength';
      const text = latin1(src, start, wildcard ? i - 1 : i);
      push({ kind, span: { start, end: i }, text, ...(wildcard ? { wildcard } : {}) });
      continue;
    }
    // Numbers.
    if (isDigit(c)) {
      let value: bigint | undefined;
      if (c === 0x30 && (at(i + 1) === 0x78 || at(i + 1) === 0x58) && isHexDigit(at(i + 2))) {
        i += 2;
        while (isHexDigit(at(i))) i++;
        value = BigInt('0x' + latin1(src, start + 2, i));
      } else if (c === 0x30 && at(i + 1) === 0x6f && at(i + 2) >= 0x30 && at(i + 2) <= 0x37) {
        i += 2;
        while (at(i) >= 0x30 && at(i) <= 0x37) i++;
        value = BigInt('0o' + latin1(src, start + 2, i));
      } else {
        while (isDigit(at(i))) i++;
        if (at(i) === 0x2e && isDigit(at(i + 1))) {
          i++;
          while (isDigit(at(i))) i++;
          const text = latin1(src, start, i);
          push({ kind: 'float', span: { start, end: i }, text, float: Number(text) });
          continue;
        }
        value = BigInt(latin1(src, start, i));
        if ((at(i) === 0x4b || at(i) === 0x4d) && at(i + 1) === 0x42) {
          value *= at(i) === 0x4b ? 1024n : 1048576n;
          i += 2;
        }
      }
      const text = latin1(src, start, i);
      if (value > INT64_MAX) {
        issue('yara.syntax.integer-overflow', `integer overflow in "${text}"`, start, i);
        push({ kind: 'int', span: { start, end: i }, text });
      } else push({ kind: 'int', span: { start, end: i }, text, int: value });
      continue;
    }
    // Text strings.
    if (c === 0x22) {
      i++;
      const out: number[] = [];
      let closed = false;
      while (i < n) {
        const d = at(i);
        if (d === 0x22) {
          closed = true;
          i++;
          break;
        }
        if (d === 0x0a) break;
        if (d === 0x5c) {
          const e = at(i + 1);
          const simple = e === 0x22 || e === 0x5c ? e : e === 0x74 ? 9 : e === 0x6e ? 10 : e === 0x72 ? 13 : -1;
          if (simple >= 0) {
            out.push(simple);
            i += 2;
          } else if (e === 0x78 && isHexDigit(at(i + 2)) && isHexDigit(at(i + 3))) {
            out.push(parseInt(latin1(src, i + 2, i + 4), 16));
            i += 4;
          } else {
            const len = e === 0x78 ? 2 + (isHexDigit(at(i + 2)) ? 1 : 0) : e < 0 || e === 0x0a ? 1 : 2;
            issue('yara.syntax.illegal-escape', 'illegal escape sequence', i, i + len);
            i += len;
          }
          continue;
        }
        out.push(d);
        i++;
      }
      if (!closed) {
        issue('yara.syntax.unterminated-string', 'unterminated string', start, i);
        push({ kind: 'invalid', span: { start, end: i }, text: latin1(src, start, i) });
        continue;
      }
      const bytes = Uint8Array.from(out);
      push({ kind: 'text', span: { start, end: i }, text: latin1(src, start, i), bytes });
      continue;
    }
    // Regular expressions: `/` always opens one.
    if (c === 0x2f) {
      i++;
      let pattern = '';
      let closed = false;
      while (i < n) {
        const d = at(i);
        if (d === 0x2f) {
          closed = true;
          i++;
          break;
        }
        if (d === 0x0a) break;
        if (d === 0x5c) {
          const e = at(i + 1);
          if (e === 0x2f) pattern += '/';
          else if (e >= 0 && e !== 0x0a) {
            pattern += '\\' + String.fromCharCode(e);
            if (opts.strictEscape && isAlnum(e) && !'wWsSdDbBxtnrfa0123456789'.includes(String.fromCharCode(e))) {
              issue('yara.syntax.unknown-escape', `unknown escape sequence "\\${String.fromCharCode(e)}"`, i, i + 2, 'warning');
            }
          } else break;
          i += 2;
          continue;
        }
        pattern += String.fromCharCode(d);
        i++;
      }
      if (!closed) {
        issue('yara.syntax.unterminated-regex', 'unterminated regular expression', start, i);
        push({ kind: 'invalid', span: { start, end: i }, text: latin1(src, start, i) });
        continue;
      }
      let caseInsensitive = false;
      let dotAll = false;
      // Flags come in this order only: `i` then `s`, each at most once (`/x/si` is an error).
      if (at(i) === 0x69) {
        caseInsensitive = true;
        i++;
      }
      if (at(i) === 0x73) {
        dotAll = true;
        i++;
      }
      if (pattern.length === 0) issue('yara.syntax.empty-regex', 'empty regular expression', start, i);
      push({ kind: 'regex', span: { start, end: i }, text: latin1(src, start, i), regex: { pattern, caseInsensitive, dotAll } });
      continue;
    }
    // Hex strings.
    if (c === 0x7b) {
      const end = scanHex(i);
      if (end > 0) {
        i = end;
        push({ kind: 'hex', span: { start, end }, text: latin1(src, start, end) });
        continue;
      }
    }
    // Punctuation.
    const two = latin1(src, i, Math.min(n, i + 2));
    if (PUNCT2.has(two)) {
      i += 2;
      push({ kind: 'punct', span: { start, end: i }, text: two });
      continue;
    }
    const one = two.slice(0, 1);
    if (PUNCT1.has(one)) {
      i += 1;
      push({ kind: 'punct', span: { start, end: i }, text: one });
      continue;
    }
    // Anything else: one invalid token per run of unknown bytes (a UTF-8 sequence stays whole).
    i++;
    while (i < n && (at(i) & 0xc0) === 0x80) i++;
    push({ kind: 'invalid', span: { start, end: i }, text: latin1(src, start, i) });
  }
  tokens.push({ kind: 'eof', span: { start: n, end: n }, text: '' });
  return { tokens, issues };
}
