/**
 * One MIME entity as ClamAV's mail reader holds it, and how it becomes bytes.
 *
 * In: header fields (`Content-Type`, `Content-Transfer-Encoding`, `Content-Disposition`) and body
 * lines (Latin-1 strings, `null` for an empty line). Out: the files ClamAV writes for the entity
 * (`exportMessage`): the body decoded once per transfer encoding it lists, each with whether it
 * is scanned at once or left for the scan of the work directory afterwards.
 *
 * Why so literal: ClamAV 1.4 (`libclamav/message.c`) is lenient in ways that change what is
 * scanned — it guesses unknown encodings and MIME types by string similarity, decodes base64
 * across line ends and flushes a partial quantum at the end, turns `=XY` with bad hex digits
 * into odd bytes, tries base64 on an unencoded part that has a file name (writing the text too),
 * decodes yEnc from a `=ybegin` line, and keeps body lines as C strings. Hashes of extracted parts match only if every one of these
 * is reproduced, so this module follows its rules, not the RFCs.
 */

export type MimeType = 'NOMIME' | 'APPLICATION' | 'AUDIO' | 'IMAGE' | 'MESSAGE' | 'MULTIPART' | 'TEXT' | 'VIDEO' | 'MEXTENSION';
export type Encoding = 'NOENCODING' | 'QUOTEDPRINTABLE' | 'BASE64' | 'EIGHTBIT' | 'BINARY' | 'UUENCODE' | 'YENCODE' | 'BINHEX';

/** A body line: its text (bytes as Latin-1, no line end, no NUL), or null for an empty line. */
export type Line = string | null;

const MIME_MAP: readonly (readonly [string, MimeType])[] = [
  ['text', 'TEXT'], ['multipart', 'MULTIPART'], ['application', 'APPLICATION'], ['audio', 'AUDIO'],
  ['image', 'IMAGE'], ['message', 'MESSAGE'], ['video', 'VIDEO'],
];

const ENCODING_MAP: readonly (readonly [string, Encoding])[] = [
  ['7bit', 'NOENCODING'], ['text/plain', 'NOENCODING'], ['quoted-printable', 'QUOTEDPRINTABLE'],
  ['base64', 'BASE64'], ['8bit', 'EIGHTBIT'], ['binary', 'BINARY'], ['x-uuencode', 'UUENCODE'],
  ['x-yencode', 'YENCODE'], ['x-binhex', 'BINHEX'], ['us-ascii', 'NOENCODING'], ['x-uue', 'UUENCODE'],
  ['uuencode', 'UUENCODE'],
];

/** ClamAV's RFC 2821 line buffer: lines are read 999 bytes at most. */
export const LINE_MAX = 999;

export const latin1 = (b: Uint8Array, from: number, to: number): string => {
  let s = '';
  for (let i = from; i < to; i += 8192) s += String.fromCharCode(...b.subarray(i, Math.min(to, i + 8192)));
  return s;
};

/** `fmap_gets`: up to 999 bytes through the next `\n`; the text stops at a NUL (a C string). */
export function fmapGets(b: Uint8Array, at: number): { line: string; next: number } | undefined {
  const len = Math.min(LINE_MAX, b.length - at);
  if (len <= 0) return undefined;
  const win = b.subarray(at, at + len);
  const nl = win.indexOf(0x0a);
  const end = nl >= 0 ? nl + 1 : len;
  const z = win.indexOf(0);
  return { line: latin1(win, 0, z >= 0 && z < end ? z : end), next: at + end };
}

const BINHEX_BANNER = '(This file must be converted with BinHex 4.0)';

/** base64 alphabet → value; 255 for other bytes ('=' is 0, as in ClamAV's table). */
const B64 = (() => {
  const t = new Uint8Array(256).fill(255);
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < 64; i++) t[a.charCodeAt(i)] = i;
  t[0x3d] = 0;
  return t;
})();

export const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
export const isBlank = (c: number): boolean => c === 0x20 || c === 0x09;
const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 32 : c);
const isAlpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

export function startsWithCI(s: string, prefix: string): boolean {
  if (s.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (lower(s.charCodeAt(i)) !== lower(prefix.charCodeAt(i))) return false;
  return true;
}
export const equalsCI = (a: string, b: string): boolean => a.length === b.length && startsWithCI(a, b);

/** `strstrip`: the string without trailing white space and control bytes. */
export function stripEnd(s: string): string {
  let e = s.length;
  while (e > 0) {
    const c = s.charCodeAt(e - 1);
    if ((c > 0x20 && c < 0x7f) || c === 0x0a || c === 0x0d) break; // isgraph, or a line end
    e--;
  }
  return s.slice(0, e);
}
export const trimStart = (s: string): string => {
  let i = 0;
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return s.slice(i);
};

/** `cli_strtokbuf`/`cli_strtok`: field `n` of `s`, runs of delimiters counting as one; undefined when absent or empty. */
export function field(s: string, n: number, delims: string): string | undefined {
  let counter = 0, i = 0;
  for (; i < s.length && counter !== n; i++) {
    if (delims.includes(s[i]!)) {
      counter++;
      while (i + 1 < s.length && delims.includes(s[i + 1]!)) i++;
    }
  }
  if (i >= s.length) return undefined;
  let j = i;
  while (j < s.length && !delims.includes(s[j]!)) j++;
  return i === j ? undefined : s.slice(i, j);
}

/**
 * ClamAV's `simil`: a Ratcliff/Obershelp similarity of two strings in percent (case-insensitive),
 * used to guess misspelt MIME types and encodings and to spot a BinHex banner.
 */
export function simil(a: string, b: string): number {
  if (equalsCI(a, b)) return 100;
  const s1 = stripEnd(a), s2 = stripEnd(b);
  if (s1.length > 49 || s2.length > 49) return -5;
  const total = s1.length + s2.length;
  const stack: string[] = [s1, s2];
  let score = 0;
  while (stack.length >= 2) {
    const ls2 = stack.pop()!;
    const ls1 = stack.pop()!;
    const c = compare(ls1, ls2);
    if (!c) continue;
    score += c.common;
    if ((c.l1.length > 1 && c.l2.length >= 1) || (c.l2.length > 1 && c.l1.length >= 1)) stack.push(c.l1, c.l2);
    if ((c.r1.length > 1 && c.r2.length >= 1) || (c.r2.length > 1 && c.r1.length >= 1)) stack.push(c.r1, c.r2);
  }
  return total > 0 ? Math.floor((score * 200) / total) : 0;
}

/** The longest common run of two strings as ClamAV's `compare` finds it, with what lies left and right of it. */
function compare(ls1: string, ls2: string): { common: number; l1: string; l2: string; r1: string; r2: string } | undefined {
  let end1 = ls1.length, end2 = ls2.length;
  let max = 0, ms1 = 0, ms2 = 0, me1 = 0, me2 = 0, some = false;
  for (let start1 = 0; start1 < end1; start1++) {
    let s1 = start1, s2 = 0;
    while (s1 < end1 && s2 < end2) {
      if (lower(ls1.charCodeAt(s1)) === lower(ls2.charCodeAt(s2))) {
        some = true;
        const cs1 = s1, cs2 = s2;
        let common = 0;
        do {
          if (s1 === end1 || s2 === end2) break;
          s1++; s2++; common++;
        } while (lower(charAt0(ls1, s1)) === lower(charAt0(ls2, s2)));
        if (common > max) {
          const diff = common - max;
          max = common; ms1 = cs1; ms2 = cs2; me1 = s1; me2 = s2;
          end1 -= diff; end2 -= diff;
        } else s1 -= common;
      } else s2++;
    }
  }
  if (!some) return undefined;
  return { common: max, l1: ls1.slice(0, ms1), l2: ls2.slice(0, ms2), r1: ls1.slice(me1), r2: ls2.slice(me2) };
}
/** A character as C sees it: the terminating NUL past the end. */
const charAt0 = (s: string, i: number): number => (i < s.length ? s.charCodeAt(i) : 0);

/** A MIME entity being read: type, arguments, encodings, body lines and the marks ClamAV sets while adding lines. */
export class Message {
  mimeType: MimeType = 'NOMIME';
  subtype = '';
  disposition = '';
  args: string[] = [];
  encodings: Encoding[] = [];
  body: Line[] = [];
  /** Index of the first body line starting `Content-Transfer-Encoding` (other than 7bit), or -1. */
  encodingLine = -1;
  /** Index of the first body line that looks like a BinHex banner, or -1. */
  binhexLine = -1;
  /** Index of the first body line starting `Received: ` (a bounce), or -1; only with `ctx`. */
  bounceLine = -1;
  /** Index of the first body line starting `=ybegin line=` (yEnc), or -1. */
  yencLine = -1;
  /** Whether the message has a scan context (ClamAV sets it on parts, not while reading the top-level file). */
  ctx: boolean;
  // base64 bytes carried from one line to the next
  b64n = 0;
  b64c1 = 0;
  b64c2 = 0;
  b64c3 = 0;

  constructor(ctx = true) {
    this.ctx = ctx;
  }

  /** `messageAddStr`: empty → null, white space only → one space; repeated empty lines dropped except in text. */
  addStr(data: Line): void {
    if (data !== null) {
      if (data === '') data = null;
      else {
        let white = true;
        for (let i = 0; i < data.length; i++) {
          const c = data.charCodeAt(i);
          if (c & 0x80 || !isSpace(c)) { white = false; break; }
        }
        if (white) data = ' ';
      }
    }
    if (this.body.length > 0 && data === null && this.body[this.body.length - 1] === null && this.mimeType !== 'TEXT') return;
    this.body.push(data);
    if (data !== null) this.markLine(this.body.length - 1);
  }

  /** `messageAddLine`: a line taken as is. */
  addLine(data: Line): void {
    this.body.push(data);
    if (data !== null) this.markLine(this.body.length - 1);
  }

  /** `messageIsEncoding`: notes the first encoding, bounce and BinHex lines. */
  markLine(i: number): void {
    const line = this.body[i]!;
    if (this.encodingLine < 0 && startsWithCI(line, 'Content-Transfer-Encoding') && !line.includes('7bit')) this.encodingLine = i;
    else if (this.bounceLine < 0 && this.ctx && line.startsWith('Received: ')) this.bounceLine = i;
    else if (this.binhexLine < 0 && line.includes('BinHex') && simil(line, BINHEX_BANNER) > 90) this.binhexLine = i;
    else if (this.yencLine < 0 && line.startsWith('=ybegin line=')) this.yencLine = i;
  }

  /** `messageReset` of the body: the lines and their marks are dropped. */
  clearBody(): void {
    this.body = [];
    this.encodingLine = this.binhexLine = this.bounceLine = this.yencLine = -1;
  }

  /** `messageSetMimeType`: true when the type was set. */
  setMimeType(type: string | undefined): boolean {
    if (type === undefined) return false;
    let i = 0;
    while (i < type.length && !isAlpha(type.charCodeAt(i))) i++;
    if (i >= type.length) return false;
    type = type.slice(i);
    for (const [name, t] of MIME_MAP) {
      if (equalsCI(name, type)) { this.mimeType = t; return true; }
    }
    if (this.mimeType !== 'NOMIME') return false;
    if (startsWithCI(type, 'x-')) this.mimeType = 'MEXTENSION';
    else if (equalsCI(type, 'plain')) this.mimeType = 'TEXT';
    else {
      let best = 0, closest: MimeType = 'APPLICATION';
      for (const [name, t] of MIME_MAP) {
        const s = simil(name, type);
        if (s > best) { best = s; closest = t; }
      }
      this.mimeType = best >= 50 ? closest : 'APPLICATION';
    }
    return true;
  }

  setDisposition(d: string): void {
    this.disposition = stripEnd(trimStart(d));
  }

  /** `messageSetEncoding`: each word of the value, matched exactly or guessed by similarity. */
  setEncoding(value: string, depth = 0): void {
    let v = value;
    let k = 0;
    while (k < v.length && isBlank(v.charCodeAt(k))) k++;
    v = v.slice(k);
    if (equalsCI(v, '8 bit')) v = '8bit';
    for (let n = 0; ; n++) {
      const type = field(v, n, ' \t');
      if (type === undefined) break;
      let best = 0, closest = '', exact = false;
      for (const [name, enc] of ENCODING_MAP) {
        const lt = lower(type.charCodeAt(0));
        if (lt !== lower(name.charCodeAt(0)) && lt !== 0x78) continue;
        if (name === 'uuencode') continue;
        const s = simil(type, name);
        if (s === 100) {
          if (!this.encodings.includes(enc)) this.encodings.push(enc);
          exact = true;
          break;
        } else if (s > best) { closest = name; best = s; }
      }
      if (!exact && depth < 4) {
        if (best >= 50) this.setEncoding(closest, depth + 1);
        else { this.setEncoding('base64', depth + 1); this.setEncoding('quoted-printable', depth + 1); }
      }
    }
  }

  get encoding(): Encoding {
    return this.encodings[0] ?? 'NOENCODING';
  }

  /** `messageAddArgument`: one `key=value` kept when its key matters to the reader. */
  addArgument(arg: string | undefined): void {
    if (arg === undefined) return;
    arg = trimStart(arg);
    if (arg === '' || !usefulArg(arg)) return;
    for (const a of this.args) if (equalsCI(a, arg)) return;
    let p = rfc2231(arg);
    if (!p.includes('=')) {
      if (p.startsWith('filename')) {
        if (p.length > 8) p = `${p.slice(0, 8)}=${p.slice(9)}`;
      } else return;
    }
    this.args.push(p);
    if ((startsWithCI(p, 'filename=') || startsWithCI(p, 'name=')) && this.mimeType === 'NOMIME') this.setMimeType('application');
  }

  /** `messageAddArguments`: the `key=value` pairs of a header parameter, quoted or not. */
  addArguments(s: string): void {
    let i = 0;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (isSpace(c) || c === 0x3b) { i++; continue; }
      const key = i;
      let data = s.indexOf('=', i);
      if (data < 0) data = s.indexOf(':', i);
      if (data < 0) return;
      i = data + 1;
      while (i < s.length && isSpace(s.charCodeAt(i))) i++;
      const cptr = i;
      if (i < s.length) i++;
      let f: string;
      if (s[cptr] === '"') {
        let kcopy = s.slice(key);
        let eq = kcopy.indexOf('=');
        if (eq < 0) eq = kcopy.indexOf(':');
        if (eq < 0) return;
        kcopy = kcopy.slice(0, eq);
        const close = s.indexOf('"', cptr + 1);
        i = close < 0 ? s.length : close + 1;
        if (!usefulArg(kcopy)) continue;
        const rest = s.slice(cptr + 1);
        const q = rest.indexOf('"');
        f = `${kcopy}=${q < 0 ? rest : rest.slice(0, q)}`;
      } else {
        if (cptr >= s.length) return;
        while (i < s.length && !isSpace(s.charCodeAt(i))) i++;
        f = s.slice(key, i);
      }
      this.addArgument(f);
    }
  }

  /** `messageFindArgument`: the value of `name=`, unquoted; undefined when the first argument starting with `name` has no `=`. */
  findArgument(name: string): string | undefined {
    for (const a of this.args) {
      if (a === '' || !startsWithCI(a, name)) continue;
      let p = name.length;
      while (p < a.length && isSpace(a.charCodeAt(p))) p++;
      if (a[p] !== '=') return undefined;
      const v = a.slice(p + 1);
      if (v.length > 1 && v[0] === '"' && v.indexOf('"', 1) > 0) {
        const r = v.slice(1);
        const q = r.indexOf('"');
        return r.slice(0, Math.min(q, r.length - 1));
      }
      return v;
    }
    return undefined;
  }

  filename(): string | undefined {
    return this.findArgument('filename') ?? this.findArgument('name');
  }

  /** `messageHasArgument`: whether the first argument starting with `name` has an `=`. */
  hasArgument(name: string): boolean {
    for (const a of this.args) {
      if (a === '' || !startsWithCI(a, name)) continue;
      let p = name.length;
      while (p < a.length && isSpace(a.charCodeAt(p))) p++;
      return a[p] === '=';
    }
    return false;
  }

  /** `messageHasFilename`: a `filename=` (or `file=`) argument; `name=` does not count here. */
  hasFilename(): boolean {
    return this.hasArgument('filename') || this.hasArgument('file');
  }
}

/**
 * `rfc2231`: a `name*=charset'lang'%XX` parameter decoded to `name=value` (continuations are not
 * joined: `name*0*=` becomes `name=rfc2231failure`); any other parameter loses the top bit of each
 * character, as in ClamAV.
 */
export function rfc2231(s: string): string {
  if (s.includes('*0*=')) {
    let out = '';
    for (let i = 0; i < s.length;) {
      const c = s[i]!;
      if (c === '*') {
        const next = s.indexOf('*', i + 1);
        if (next < 0) break;
        i = next + 1;
      } else if (c === '=') {
        out += '=rfc2231failure';
        break;
      } else {
        out += c;
        i++;
      }
    }
    return out;
  }
  let p = s.indexOf('*0=');
  let field = 2; // 0 language, 1 charset, 2 contents
  if (p < 0) {
    p = s.indexOf('*=');
    field = 0;
  }
  if (p < 0) {
    let out = '';
    for (let i = 0; i < s.length; i++) out += String.fromCharCode(s.charCodeAt(i) & 0x7f);
    return out;
  }
  let out = `${s.slice(0, p)}=`;
  let i = s.indexOf('=', p) + 1;
  while (i < s.length) {
    const c = s[i]!;
    if (field === 0) { if (c === '\'') field = 1; }
    else if (field === 1) { if (c === '\'') field = 2; }
    else if (c === '%') {
      if (++i >= s.length) break;
      let byte = hex(s.charCodeAt(i));
      if (++i >= s.length) { out += String.fromCharCode(byte); break; }
      byte = (((byte << 4) & 0xff) + hex(s.charCodeAt(i))) & 0xff;
      out += String.fromCharCode(byte);
    } else out += c;
    i++;
  }
  return field === 2 ? out : '';
}

function usefulArg(arg: string): boolean {
  return ['name', 'filename', 'boundary', 'protocol', 'id', 'number', 'total', 'type'].some((k) => startsWithCI(arg, k));
}

/** A growable byte buffer that stops growing at `limit` (and says so). */
export class Bytes {
  buf: Uint8Array;
  length = 0;
  overflowed = false;
  constructor(readonly limit: number) {
    this.buf = new Uint8Array(Math.min(64, Math.max(16, limit)));
  }
  push(b: number): void {
    if (this.length >= this.buf.length) {
      if (this.length >= this.limit) { this.overflowed = true; return; }
      const next = new Uint8Array(Math.min(this.limit, this.buf.length * 4));
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = b & 0xff;
  }
  text(s: string): void {
    for (let i = 0; i < s.length && !this.overflowed; i++) this.push(s.charCodeAt(i));
  }
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

const hex = (c: number): number => {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return 0x3d;
};

/** ClamAV's `decode`: 6-bit groups of `input` (values from `dec`) into bytes, carrying a partial quantum in `m`. */
function decodeGroups(m: Message, input: number[] | null, out: Bytes, fast: boolean): void {
  let c1 = 0, c2 = 0, c3 = 0;
  if (m.b64n === 3) { c3 = m.b64c3; c2 = m.b64c2; c1 = m.b64c1; fast = false; }
  else if (m.b64n === 2) { c2 = m.b64c2; c1 = m.b64c1; fast = false; }
  else if (m.b64n === 1) { c1 = m.b64c1; fast = false; }
  if (input === null) {
    if (m.b64n === 0) return;
    m.b64n--;
    const b1 = c1;
    let b2 = 0, b3 = 0, n = 1;
    if (m.b64n) {
      m.b64n--;
      b2 = c2;
      if (m.b64n) { m.b64n--; b3 = c3; n = 3; } else if (b2) n = 2;
    }
    if (n === 3) {
      out.push((b1 << 2) | ((b2 >> 4) & 3));
      out.push((b2 << 4) | ((b3 >> 2) & 0xf));
      if (b3 & 3) out.push(b3 << 6);
    } else if (n === 2) {
      out.push((b1 << 2) | ((b2 >> 4) & 3));
      if ((b2 << 4) & 0xff) out.push(b2 << 4);
    } else out.push(b1 << 2);
    return;
  }
  let p = 0;
  const len = input.length;
  if (fast) {
    while (p + 4 <= len) {
      const b1 = input[p]!, b2 = input[p + 1]!, b3 = input[p + 2]!, b4 = input[p + 3]!;
      p += 4;
      out.push((b1 << 2) | ((b2 >> 4) & 3));
      out.push((b2 << 4) | ((b3 >> 2) & 0xf));
      out.push((b3 << 6) | (b4 & 0x3f));
    }
    return;
  }
  while (p < len) {
    let b1: number, b2 = 0, b3 = 0, b4 = 0, n: number;
    if (m.b64n) { m.b64n--; b1 = c1; } else b1 = input[p++]!;
    if (p >= len) n = 1;
    else {
      if (m.b64n) { m.b64n--; b2 = c2; } else b2 = input[p++]!;
      if (p >= len) n = 2;
      else {
        if (m.b64n) { m.b64n--; b3 = c3; } else b3 = input[p++]!;
        if (p >= len) n = 3;
        else { b4 = input[p++]!; n = 4; }
      }
    }
    if (n === 4) {
      out.push((b1 << 2) | ((b2 >> 4) & 3));
      out.push((b2 << 4) | ((b3 >> 2) & 0xf));
      out.push((b3 << 6) | (b4 & 0x3f));
      continue;
    }
    m.b64c3 = b3; m.b64c2 = b2; m.b64c1 = b1; m.b64n = n;
    break;
  }
}

/** `decodeLine`: one body line in the given transfer encoding, appended to `out`. */
export function decodeLine(m: Message, enc: Encoding, line: Line, out: Bytes): void {
  switch (enc) {
    case 'QUOTEDPRINTABLE': {
      if (line === null) { out.push(0x0a); return; }
      let soft = false;
      let i = 0;
      const n = line.length;
      while (i < n) {
        const c = line.charCodeAt(i);
        if (c === 0x3d) {
          i++;
          if (i >= n) { soft = true; break; }
          let byte = hex(line.charCodeAt(i));
          i++;
          if (i >= n) { out.push(byte); break; }
          if (byte !== 0x3d) byte = ((byte << 4) | hex(line.charCodeAt(i))) & 0xff;
          else i -= 2;
          out.push(byte);
        } else out.push(c);
        i++;
      }
      if (!soft) out.push(0x0a);
      return;
    }
    case 'BASE64': {
      if (line === null) return;
      const eq = line.indexOf('=');
      const src = eq >= 0 ? line.slice(0, eq) : line;
      const vals: number[] = [];
      for (let i = 0; i < src.length; i++) {
        const v = B64[src.charCodeAt(i) & 0xff]!;
        if (v !== 255) vals.push(v);
      }
      decodeGroups(m, vals, out, eq < 0 && (vals.length & 3) === 0);
      return;
    }
    case 'YENCODE': {
      if (line === null || line.startsWith('=yend ')) return;
      for (let i = 0; i < line.length; i++) {
        const c = line.charCodeAt(i);
        if (c === 0x3d) {
          if (++i >= line.length) break;
          out.push(line.charCodeAt(i) - 64);
        } else out.push(c - 42);
      }
      return;
    }
    default:
      if (line !== null) out.text(line);
      out.push(0x0a);
  }
}

/** Flushes a partial base64 quantum left at the end of a body. */
export function flushBase64(m: Message, out: Bytes): void {
  if (m.b64n) {
    decodeGroups(m, null, out, false);
    m.b64n = 0;
  }
}

/** The body lines as text: each line and a newline. */
export function textBytes(lines: readonly Line[], limit: number, from = 0): Bytes {
  const out = new Bytes(limit);
  for (let i = from; i < lines.length && !out.overflowed; i++) {
    const l = lines[i];
    if (l) out.text(l);
    out.push(0x0a);
  }
  return out;
}

/** One file ClamAV writes for an entity. */
export interface ExportedFile {
  name: string;
  data: Bytes;
  /** Scanned as soon as written (a scan context was set on it); else left for the scan of the directory. */
  scanNow: boolean;
}

/**
 * `messageExport`: the files written for `m`. All but the last are left in the directory (each
 * decoding attempt after the first replaces the previous file without scanning it); the last
 * carries a scan context only when it is the first and was decoded (text copies drop it).
 */
export function exportMessage(m: Message, limit: number): ExportedFile[] | undefined {
  if (m.body.length === 0) return undefined;
  const files: ExportedFile[] = [];
  let name = 'attachment';
  if (m.encodings.length === 0) {
    const fn = m.findArgument('filename');
    if (fn === undefined) {
      const n = m.findArgument('name');
      if (n === undefined) m.addArgument('name=attachment');
      else m.setEncoding('7-bit');
      if (n) name = n;
    } else if (fn) name = fn;
    if (m.encodings.length === 0) return [{ name, data: textBytes(m.body, limit), scanNow: false }];
  }
  for (let i = 0; i < m.encodings.length && i < 16; i++) {
    let enc = m.encodings[i]!;
    let start = 0;
    if ((enc === 'YENCODE' || i === 0) && m.yencLine >= 0) {
      // yEnc: from the line after `=ybegin`, named by its `name=`
      const f = m.body[m.yencLine] ?? '';
      const at = f.indexOf(' name=');
      const fn = at >= 0 ? stripEnd(f.slice(at + 6)) : '';
      name = fn || 'attachment';
      start = m.yencLine + 1;
      enc = 'YENCODE';
      m.yencLine = -1;
    } else {
      if (enc === 'UUENCODE') enc = m.encodings[i] = 'NOENCODING';
      const fn = m.filename();
      if (fn === undefined) m.addArgument('name=attachment');
      else if (enc === 'NOENCODING') m.setEncoding('base64');
      name = fn || 'attachment';
    }
    const last = i === m.encodings.length - 1;
    if (start >= m.body.length) return undefined;
    if (enc === 'NOENCODING') {
      files.push({ name, data: textBytes(m.body, limit, start), scanNow: false });
      if (last) break;
      continue;
    }
    const out = new Bytes(limit);
    for (let k = start; k < m.body.length; k++) {
      const line = m.body[k]!;
      if (enc === 'YENCODE') {
        if (line === null) continue;
        if (line.startsWith('=yend ')) break;
      }
      decodeLine(m, enc, line, out);
      if (out.overflowed) break;
    }
    flushBase64(m, out);
    files.push({ name, data: out, scanNow: i === 0 && m.ctx });
  }
  return files;
}

/**
 * `messageToText`: the body as text lines, decoded line by line; a decoded line that starts with
 * its encoded form is kept as it was, one that starts with a newline or NUL is an empty line.
 */
export function messageToText(m: Message): Line[] | null {
  if (m.encodings.length === 0) return [...m.body];
  const out: Line[] = [];
  const data = new Uint8Array(1024 + 4);
  for (let i = 0; i < m.encodings.length; i++) {
    const enc = m.encodings[i]!;
    if (enc === 'NOENCODING' || enc === 'BINARY' || enc === 'EIGHTBIT') {
      for (const l of m.body) out.push(l);
      continue;
    }
    if (enc === 'UUENCODE' || (enc === 'YENCODE' && m.yencLine < 0)) return null;
    for (const line of m.body) {
      if (enc === 'BASE64' && line === null) continue;
      if (line !== null && line.length > 1024) break;
      const b = new Bytes(2048);
      decodeLine(m, enc, line, b);
      const n = Math.min(b.length, 1024);
      data.set(b.view().subarray(0, n));
      data[n] = 0;
      if (data[0] === 0x0a || data[0] === 0) out.push(null);
      else {
        let z = data.indexOf(0);
        if (z < 0) z = data.length;
        const s = latin1(data, 0, z);
        out.push(line !== null && s.startsWith(line) ? line : s);
      }
      if (line !== null && enc === 'BASE64' && line.includes('=')) break;
    }
    if (m.b64n) {
      const b = new Bytes(8);
      flushBase64(m, b);
      const v = b.view();
      if (v.length && v[0]) {
        let z = v.indexOf(0);
        if (z < 0) z = v.length;
        out.push(latin1(v, 0, z));
      }
    }
  }
  return out;
}

/** Whether a line starts a uuencoded file: `begin`, three digits, a space (`isuuencodebegin`). */
export function isUuencodeBegin(line: string): boolean {
  if (line.length < 10 || line[0] !== 'b') return false;
  const d = (k: number): boolean => line.charCodeAt(k) >= 0x30 && line.charCodeAt(k) <= 0x39;
  return startsWithCI(line, 'begin ') && d(6) && d(7) && d(8) && line[9] === ' ';
}
