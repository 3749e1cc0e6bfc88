/**
 * HTML bytes → the files ClamAV 1.4's HTML normaliser writes for them (`html_normalise_map`).
 *
 * In: an HTML layer's bytes. Out:
 * - `nocomment`: the page lower-cased, whitespace runs folded to one space, character and entity
 *   references decoded (code points above 0xFF written `&#xhhhh;`), comments removed, tags kept
 *   with their attributes re-quoted; script bodies kept (without whitespace, `'` as `"`);
 *   JScript.Encode / VBScript.Encode (`#@~^…^#~@`) blocks decoded;
 * - `notags`: the text outside tags, lower-cased, one space between runs, plus each `<a href>`
 *   and `<img src>` value;
 * - `javascript`: each script block normalised by `jsnorm.ts`, blocks separated by a newline;
 * - `rfc2397`: each `data:` URI in a tag attribute, as a small mail message (headers written by
 *   the normaliser, the data undecoded) that ClamAV's mail reader then decodes;
 * - `styleImages`: the base64 images of `url(data:…;base64,…)` in `<style>` blocks, decoded.
 * Absent outputs were not written (an empty file is never scanned by ClamAV).
 * Why: ClamAV matches HTML signatures against these, not the raw page. The state machine, the
 * 8 KiB reading chunks (cut at the last whitespace) and their quirks are reproduced because they
 * show in the output. Never throws; output is linear in the input.
 */
import { ENTITIES } from './entities.js';
import { JsNormaliser } from './jsnorm.js';

export interface HtmlOutputs {
  nocomment?: Uint8Array;
  notags?: Uint8Array;
  javascript?: Uint8Array;
  rfc2397: { name: string; data: Uint8Array }[];
  /** Images decoded from `<style>` blocks: ClamAV scans each as a file of its own while normalising. */
  styleImages: Uint8Array[];
}

const CHUNK = 8192;
const STR_LEN = 1024;
const FILE_BUFF = 8192;

const enum S {
  Bad, Norm, Bit8, Comment, CharRef, EntityRefDecode, SkipWs, TrimWs, Tag, TagArg, TagArgVal, TagArgEqual, ProcessTag,
  CharRefDecode, LookforScrenc, JsDecode, JsDecodeLength, JsDecodeDecrypt, Rfc2397Type, Rfc2397Init, Rfc2397Data,
  Rfc2397Finish, Rfc2397Esc, EscapeChar,
}
const enum In { None, Script, Style }
const enum Q { Single, Double, None }

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isXDigit = (c: number): boolean => isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
const isAlnum = (c: number): boolean => isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 32 : c);

const B64 = new Int8Array(256).fill(-1);
{
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < 64; i++) B64[a.charCodeAt(i)] = i;
}

// JScript.Encode's three substitution tables (indexed by the encoded byte, below 0x80) and
// which table decodes each position modulo 64. 0xFF marks the escape character '@'.
export const SCRENC_TABLES: readonly Uint8Array[] = [
  '000102030405060708570a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2e477a56426a2f26494134325b7672433839704568714f09624423753c7e3e5e' +
  'ff774a615d224b6f4e3b4c50672a7d74542b2d2c306e6b66352521644d52633f7b7829287359337f6d55537c3a5f65465831696c5a48275c3d24793760512036',
  '0001020304050607087b0a0b0c0d0e0f101112131415161718191a1b1c1d1e1f323021295b38333d583a3565395c5673664e456b6259785e7d4a6d713c603e53' +
  'ff422748727531374d5222546a47642d207f2e4c5d7e6c6f797443267625242b28234134092a443f773b55696163506751494f46687c36706e7a2f5f4b5a2c57',
  '0001020304050607086e0a0b0c060e0f101112131415161718191a1b1c1d1e1f2d755260715e495c627d2936207c7a7f6b63332b68516676316454433c3a3e7e' +
  'ff452c2a7427374479592f6f26726a397b3f387767534734785d30235a5b6c485570692e4c21244e5009567335614b583b57226d4d2528464a32413d5f4f4265',
].map((h) => Uint8Array.from((h.match(/../g) ?? []).map((x) => parseInt(x, 16))));
export const SCRENC_ORDER = Uint8Array.from('0210212112120121012100211201211200121210100210120121002110021012'.split('').map(Number));

const screncLookup = (table: number, c: number): number => SCRENC_TABLES[table]![c]!;

/** The encoded length (or checksum) in the six characters at `p`, as ClamAV reads it (wrapping at 32 bits). */
function screncNumber(line: Uint8Array, p: number): number {
  const b = (k: number): number => B64[line[p + k] ?? 0]!;
  let v = 0;
  v += b(0) < 0 ? 0 : b(0) * 4;
  v += b(1) >> 4;
  v += (b(1) & 0x0f) * 4096;
  v += ((b(2) >> 2) < 0 ? 0 : b(2) >> 2) * 256;
  v += (b(2) & 3) * (1 << 22);
  v += b(3) < 0 ? 0 : b(3) * 65536;
  v += (b(4) < 0 ? 0 : b(4) * 4) * 16777216;
  v += ((b(5) >> 4) < 0 ? 0 : b(5) >> 4) * 16777216;
  return ((v % 4294967296) + 4294967296) % 4294967296;
}

const strlen = (line: Uint8Array, p: number): number => {
  const z = line.indexOf(0, p);
  return (z < 0 ? line.length : z) - p;
};

interface Screnc { length: number; sum: number; pos: number }

/** Decodes in place from `p` (ClamAV's `screnc_decode`): the decoded text, then the rest of the line. */
function screncDecode(line: Uint8Array, p: number, s: Screnc): void {
  let dst = p;
  while (s.length > 0 && line[p]) {
    const c = line[p]!;
    if (c === 0x0a || c === 0x0d) { p++; continue; }
    if (c < 0x80) {
      let value = screncLookup(SCRENC_ORDER[s.pos]!, c);
      if (value === 0xff) {
        p++;
        s.length = (s.length - 1) >>> 0;
        switch (line[p]) {
          case 0: p--; break;
          case 0x21: value = 0x3c; break;
          case 0x23: value = 0x0d; break;
          case 0x24: value = 0x40; break;
          case 0x26: value = 0x0a; break;
          case 0x2a: value = 0x3e; break;
        }
      }
      s.sum = (s.sum + value) >>> 0;
      line[dst++] = value;
      s.pos = (s.pos + 1) % 64;
    } else {
      line[dst++] = line[p++]!;
      line[dst++] = line[p]!;
      if (!line[p]) { dst--; break; }
    }
    p++;
    s.length = (s.length - 1) >>> 0;
  }
  if (!s.length) {
    if (strlen(line, p) >= 12) p += 12;
    const rest = strlen(line, p) + 1;
    line.copyWithin(dst, p, p + rest);
  } else {
    line[dst] = 0;
  }
}

/** One output file through ClamAV's 8 KiB write buffer (a rewind can only take back what is still buffered). */
class Out {
  private buf = new Uint8Array(1024);
  total = 0;
  private pending = 0;
  c(b: number): void {
    if (this.pending === FILE_BUFF) this.pending = 0;
    this.put(b);
    this.pending++;
  }
  str(s: ArrayLike<number>, len = s.length): void {
    if (this.pending + len >= FILE_BUFF) this.pending = 0;
    for (let i = 0; i < len; i++) this.put(s[i]!);
    if (len >= FILE_BUFF) this.pending = 0;
    else this.pending += len;
  }
  private put(b: number): void {
    if (this.total === this.buf.length) {
      const n = new Uint8Array(this.buf.length * 2);
      n.set(this.buf);
      this.buf = n;
    }
    this.buf[this.total++] = b;
  }
  rewind(): void {
    if (this.pending > 0) { this.pending--; this.total--; }
  }
  bytes(): Uint8Array { return this.buf.slice(0, this.total); }
}

const ascii = (s: string): number[] => Array.from(s, (ch) => ch.charCodeAt(0) & 0xff);
const cstr = (b: number[]): number[] => { const z = b.indexOf(0); return z < 0 ? b : b.slice(0, z); };
const eqCase = (a: number[] | null, s: string): boolean => !!a && a.length === s.length && a.every((c, i) => lower(c) === s.charCodeAt(i));

/** Reads the next chunk (ClamAV's `cli_readchunk`): up to 8191 bytes without NULs, cut after the last whitespace. */
function readChunk(src: Uint8Array, area: { offset: number }): Uint8Array | null {
  const max = CHUNK;
  let chunkLen = Math.min(src.length - area.offset, max - 1);
  if (chunkLen <= 0) return null;
  const start = area.offset;
  const end = src.length;
  const chunk = new Uint8Array(max);
  const nul = src.subarray(start, start + chunkLen).indexOf(0);
  let ptr: number;
  if (nul < 0) {
    chunk.set(src.subarray(start, start + chunkLen));
    chunk[chunkLen] = 0;
    area.offset += chunkLen;
    ptr = start + chunkLen;
  } else {
    chunkLen = nul;
    chunk.set(src.subarray(start, start + chunkLen));
    ptr = start + nul;
    while (ptr < end && chunkLen < max - 1) {
      const c = src[ptr++]!;
      if (c) chunk[chunkLen++] = c;
    }
    area.offset += ptr - start;
    chunk[chunkLen] = 0;
  }
  if (ptr < end && !isSpace(src[ptr]!)) {
    let len = chunkLen;
    while (!isSpace(chunk[len - 1]!) && len > 1) len--;
    const count = len === 1 ? chunkLen : len;
    if (count < chunkLen) {
      chunk[count] = 0;
      area.offset -= chunkLen - count;
    }
  }
  return chunk;
}

/** Strict standard base64 (canonical padding, zero trailing bits); null when not valid. */
function base64Strict(s: string): Uint8Array | null {
  if (s.length % 4 !== 0) return null;
  const out: number[] = [];
  for (let i = 0; i < s.length; i += 4) {
    const q = s.slice(i, i + 4);
    const last = i + 4 === s.length;
    const pad = q.endsWith('==') ? 2 : q.endsWith('=') ? 1 : 0;
    if (pad && !last) return null;
    const v = [0, 0, 0, 0];
    for (let k = 0; k < 4 - pad; k++) {
      const c = q.charCodeAt(k);
      const d = c < 256 ? B64[c]! : -1;
      if (d < 0) return null;
      v[k] = d;
    }
    const n = (v[0]! << 18) | (v[1]! << 12) | (v[2]! << 6) | v[3]!;
    if (pad === 2 && (n & 0xffff) !== 0) return null;
    if (pad === 1 && (n & 0xff) !== 0) return null;
    out.push((n >> 16) & 0xff);
    if (pad < 2) out.push((n >> 8) & 0xff);
    if (pad < 1) out.push(n & 0xff);
  }
  return Uint8Array.from(out);
}

const WS_RE = /\s/u;

/** The base64 images in a style block's `url(data:…;base64,…)` (ClamAV's CSS image extractor); stops at the first undecodable one. */
export function cssImages(css: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  let rest = css;
  outer: for (;;) {
    const u = rest.indexOf('url');
    if (u < 0) return out;
    rest = rest.slice(u + 3);
    // Whitespace up to '(' (running out of text is not an error here, as in ClamAV).
    for (let k = 0; k < rest.length; k++) {
      const ch = rest[k]!;
      if (ch === '(') { rest = rest.slice(k + 1); break; }
      if (!WS_RE.test(ch)) continue outer;
    }
    let depth = 1;
    let param: string | undefined;
    for (let j = 0; j < rest.length; j++) {
      const ch = rest[j];
      if (ch === '(') depth++;
      else if (ch === ')') {
        if (depth > 1) depth--;
        else { param = rest.slice(0, j); rest = rest.slice(j); break; }
      }
    }
    if (param === undefined) return out;
    let p = param.trim().replace(/^"+|"+$/g, '').trim();
    if (!p.startsWith('data:')) continue;
    p = p.slice(5);
    const semi = p.indexOf(';');
    if (semi < 0) continue;
    p = p.slice(semi + 1);
    for (let j = 0; j < p.length; j++) {
      const ch = p[j]!;
      if (ch === 'b') { p = p.slice(j + 1); break; }
      if (!WS_RE.test(ch)) continue outer;
    }
    if (!p.startsWith('ase64')) continue;
    p = p.slice(5);
    for (let j = 0; j < p.length; j++) {
      const ch = p[j]!;
      if (ch === ',') { p = p.slice(j + 1); break; }
      if (!WS_RE.test(ch)) continue outer;
    }
    const img = base64Strict(p.trimStart());
    if (!img) return out;
    out.push(img);
  }
}

export interface HtmlNormaliseOptions {
  /** DOC_CONF_JSNORM (default on): extract and normalise scripts. */
  jsnorm?: boolean;
}

/** Runs ClamAV's HTML normaliser over `src`. */
export function normaliseHtml(src: Uint8Array, opts: HtmlNormaliseOptions = {}): HtmlOutputs {
  const o2 = new Out();
  const text = new Out();
  const jsOut: number[] = [];
  let jsWritten = false;
  const rfc: { name: string; data: Uint8Array }[] = [];
  const styleImages: Uint8Array[] = [];
  const dconfJs = opts.jsnorm ?? true;

  let state = S.Norm, next = S.Bad, savedNext = S.Bad;
  let inTag = In.None;
  let binary = false, escape = false, hex = false;
  let value = 0n;
  let tagLen = 0, tagArgLen = 0, tagValLen = 0;
  const tag: number[] = [], tagArg: number[] = [];
  const tagVal = new Uint8Array(STR_LEN + 1);
  const entity: number[] = [];
  let lookForScrenc = false, inScrenc = false, textSpace = false;
  let ptrScrenc = -1;
  let quoted = Q.None;
  let length = 0;
  const screnc: Screnc = { length: 0, sum: 0, pos: 0 };
  let args: { name: number[]; value: number[] | null }[] = [];
  let dataFile: Out | null = null;
  let js: JsNormaliser | null = null;
  let jsBegin = -1, jsEnd = -1;
  let style: number[] | null = null;
  let styleBegin = -1;
  let mbchar = 0, mbchar2 = 0;
  let aborted = false;

  const closeData = (): void => {
    if (dataFile) { rfc.push({ name: `rfc2397-${rfc.length}`, data: dataFile.bytes() }); dataFile = null; }
  };
  const jsOutput = (n: JsNormaliser): void => {
    if (jsWritten) jsOut.push(0x0a);
    const b = n.finish();
    for (let i = 0; i < b.length; i++) jsOut.push(b[i]!);
    jsWritten = true;
  };
  const jsProcess = (line: Uint8Array, begin: number, end: number, ptr: number): void => {
    if (!js) return;
    const b = begin < 0 ? 0 : begin;
    const e = end < 0 ? ptr : end;
    if (e > b && b < CHUNK && e < CHUNK) js.process(line.slice(b, e));
    if (inTag === In.None) { jsOutput(js); js = null; }
  };
  const argValue = (name: string): number[] | null => {
    for (const a of args) if (a.name.length === name.length && a.name.every((c, i) => c === name.charCodeAt(i))) return a.value;
    return null;
  };
  const argAdd = (name: number[], val: number[] | null): void => {
    let v: number[] | null = null;
    if (val) {
      const s = cstr(val);
      if (s[0] === 0x22) { v = s.slice(1); if (v.length > 0) v.pop(); } else v = s;
    }
    args.push({ name: cstr(name.slice()), value: v });
  };
  const tagValPush = (c: number): void => { if (tagValLen < STR_LEN) tagVal[tagValLen++] = c; };
  const tagValStartsWith = (s: string): boolean => tagValLen === s.length && s.split('').every((ch, i) => tagVal[i] === ch.charCodeAt(0));

  const area = { offset: 0 };
  let line = readChunk(src, area);
  let ptr = 0;
  main: while (line) {
    const L = line;
    while (L[ptr] && isSpace(L[ptr]!)) ptr++;
    while (L[ptr]) {
      const c = L[ptr]!;
      if (!binary && c === 0x0a) { L[ptr] = 0x20; continue; }
      if (!binary && c === 0x0d) { ptr++; continue; }
      switch (state) {
        case S.Bad: aborted = true; break main;
        case S.SkipWs:
          if (isSpace(c)) ptr++;
          else { state = next; next = S.Bad; }
          break;
        case S.TrimWs:
          if (isSpace(c)) ptr++;
          else {
            if (inTag === In.None) o2.c(0x20);
            state = next; next = S.Bad;
          }
          break;
        case S.Bit8:
          if (c < 0x80 || mbchar >= 0x10000) {
            if (mbchar === 0xe38082 || mbchar === 0xefbc8e || mbchar === 0xefb992 || (mbchar === 0xa1 && (c === 0x43 || c === 0x44 || c === 0x4f))) {
              o2.c(0x2e); text.c(0x2e);
              if (mbchar === 0xa1) { ptr++; mbchar = 0; continue; }
            } else {
              const c0 = (mbchar >> 16) & 0xff, c1 = (mbchar >> 8) & 0xff, c2 = mbchar & 0xff;
              if (c0) { o2.c(c0); text.c(c0); }
              if (c0 || c1) { o2.c(c1); text.c(c1); }
              o2.c(c2); text.c(c1);
            }
            mbchar = 0;
            state = next; next = S.Norm;
          } else {
            mbchar = ((mbchar << 8) | c) >>> 0;
            ptr++;
          }
          break;
        case S.Norm:
          if (c === 0x3c) {
            o2.c(0x3c);
            if (inTag === In.None && !textSpace) { text.c(0x20); textSpace = true; }
            ptr++;
            state = S.SkipWs; tagLen = 0; next = S.Tag;
          } else if (isSpace(c)) {
            if (!textSpace && inTag === In.None) { text.c(0x20); textSpace = true; }
            state = S.TrimWs; next = S.Norm;
          } else if (c === 0x26) {
            if (!textSpace && inTag === In.None) { text.c(0x20); textSpace = true; }
            state = S.CharRef; next = S.Norm; ptr++;
          } else if (c >= 0x80) {
            state = S.Bit8; next = S.Norm; mbchar = c; ptr++;
          } else {
            let lc = lower(c);
            if (inTag !== In.None && lc === 0x27) lc = 0x22;
            o2.c(lc);
            if (inTag === In.None) {
              if (c < 0x20) { if (!textSpace) { text.c(0x20); textSpace = true; } }
              else { text.c(lc); textSpace = false; }
            }
            ptr++;
          }
          break;
        case S.Tag:
          if (tagLen === 0 && c === 0x21) {
            if (inTag !== In.None) o2.c(0x21);
            else o2.rewind();
            state = S.Comment; next = S.Bad; ptr++;
          } else if (c === 0x3e) {
            o2.c(0x3e); ptr++;
            tag.length = tagLen;
            state = S.SkipWs; next = S.ProcessTag;
          } else if (!isSpace(c)) {
            o2.c(lower(c));
            if (inTag !== In.None && tagLen === 0 && c !== 0x2f) state = S.Norm;
            if (tagLen < STR_LEN) tag[tagLen++] = lower(c);
            ptr++;
          } else {
            tag.length = tagLen;
            state = S.SkipWs; tagArgLen = 0;
            next = inTag === In.None ? S.TagArg : S.ProcessTag;
          }
          break;
        case S.TagArg:
          if (c === 0x3d) {
            o2.c(0x3d); tagArg.length = tagArgLen; ptr++;
            state = S.SkipWs; escape = false; quoted = Q.None; tagValLen = 0; next = S.TagArgVal;
          } else if (isSpace(c)) {
            ptr++; tagArg.length = tagArgLen;
            state = S.SkipWs; next = S.TagArgEqual;
          } else if (c === 0x3e) {
            o2.c(0x3e);
            if (tagArgLen > 0) { tagArg.length = tagArgLen; argAdd(tagArg, null); }
            ptr++;
            state = S.ProcessTag; next = S.Bad;
          } else {
            if (tagArgLen === 0) o2.c(0x20);
            o2.c(lower(c));
            if (tagArgLen < STR_LEN) tagArg[tagArgLen++] = lower(c);
            ptr++;
          }
          break;
        case S.TagArgEqual:
          if (c === 0x3d) {
            o2.c(0x3d); ptr++;
            state = S.SkipWs; escape = false; quoted = Q.None; tagValLen = 0; next = S.TagArgVal;
          } else {
            if (tagArgLen > 0) { tagArg.length = tagArgLen; argAdd(tagArg, null); }
            tagArgLen = 0;
            state = S.TagArg; next = S.Bad;
          }
          break;
        case S.TagArgVal:
          if (tagValStartsWith('data:') || tagValStartsWith('"data:')) {
            o2.rewind();
            if (quoted !== Q.None) o2.c(0x22);
            tagValLen = 0;
            state = S.Rfc2397Type; next = S.TagArg;
          } else if (c === 0x26) {
            state = S.CharRef; next = S.TagArgVal; ptr++;
          } else if (c === 0x27 || c === 0x22) {
            const q = c === 0x27 ? Q.Single : Q.Double;
            if (tagValLen === 0) {
              quoted = q; o2.c(0x22); tagValPush(0x22); ptr++;
            } else if (!escape && quoted === q) {
              o2.c(0x22); tagValPush(0x22);
              argAdd(tagArg.slice(0, tagArgLen), Array.from(tagVal.subarray(0, tagValLen)));
              ptr++;
              state = S.SkipWs; tagArgLen = 0; next = S.TagArg;
            } else {
              o2.c(0x22); tagValPush(0x22); ptr++;
            }
          } else if (isSpace(c) || c === 0x3e) {
            if (quoted === Q.None) {
              argAdd(tagArg.slice(0, tagArgLen), Array.from(tagVal.subarray(0, tagValLen)));
              state = S.SkipWs; tagArgLen = 0; next = S.TagArg;
            } else {
              o2.c(c);
              tagValPush(isSpace(c) ? 0x20 : 0x3e);
              state = S.SkipWs; escape = false; quoted = Q.None; next = S.TagArgVal;
              ptr++;
            }
          } else {
            if (mbchar2 && (c < 0x80 || mbchar2 >= 0x10000)) {
              if (mbchar2 === 0xe38082 || mbchar2 === 0xefbc8e || mbchar2 === 0xefb992 || (mbchar2 === 0xa1 && (c === 0x43 || c === 0x44 || c === 0x4f))) {
                o2.c(0x2e); tagValPush(0x2e);
                if (mbchar2 === 0xa1) { ptr++; mbchar2 = 0; continue; }
              } else {
                const c0 = (mbchar2 >> 16) & 0xff, c1 = (mbchar2 >> 8) & 0xff, c2 = mbchar2 & 0xff;
                if (c0) o2.c(c0);
                if (c0 || c1) o2.c(c1);
                o2.c(c2);
                if (c0) tagValPush(c0);
                if (c0 || c1) tagValPush(c1);
                tagValPush(c2);
              }
              mbchar2 = 0;
            }
            if (c >= 0x80) mbchar2 = ((mbchar2 << 8) | c) >>> 0;
            else { o2.c(lower(c)); tagValPush(c); }
            ptr++;
          }
          escape = L[ptr] === 0x5c;
          break;
        case S.Comment:
          if (inTag !== In.None && !isSpace(c)) {
            let lc = lower(c);
            if (lc === 0x27) lc = 0x22;
            o2.c(lc);
          }
          if (c === 0x3e) { state = S.SkipWs; next = S.Norm; }
          ptr++;
          break;
        case S.ProcessTag: {
          state = S.SkipWs; next = S.Norm;
          const name = String.fromCharCode(...tag.slice(0, tag.length));
          if (tag[0] === 0x2f) {
            if (name === '/script') {
              inTag = In.None;
              if (js) { jsEnd = ptr; jsProcess(L, jsBegin, jsEnd, ptr); js = null; jsBegin = jsEnd = -1; }
            } else if (name === '/style' && inTag === In.Style) {
              const styleEnd = ptr - 8;
              if (styleEnd < styleBegin) { aborted = true; break main; }
              style ??= [];
              for (let i = styleBegin; i < styleEnd; i++) style.push(L[i]!);
              inTag = In.None;
              styleBegin = -1;
            }
          } else if (name === 'script') {
            const lang = argValue('language');
            const enc = eqCase(lang, 'jscript.encode') ? 'javascript' : eqCase(lang, 'vbscript.encode') ? 'vbscript' : undefined;
            if (enc) {
              for (const a of args) if (a.name.length === 8 && String.fromCharCode(...a.name) === 'language') a.value = ascii(enc);
              state = S.SkipWs; next = S.JsDecode;
              o2.c(0x3c);
              o2.str(tag);
              for (const a of args) {
                o2.c(0x20);
                o2.str(a.name);
                if (a.value) { o2.str([0x3d, 0x22]); for (const v of a.value) o2.c(lower(v)); o2.c(0x22); }
              }
              o2.c(0x3e);
            }
            inTag = In.Script;
            if (dconfJs && !js) { js = new JsNormaliser(); jsBegin = ptr; jsEnd = -1; }
          } else if (name === 'style') {
            inTag = In.Style; styleBegin = ptr;
          } else if (name === '%@') {
            const lang = argValue('language');
            if (eqCase(lang, 'jscript.encode') || eqCase(lang, 'vbscript.encode')) {
              savedNext = next; next = state; lookForScrenc = false; state = S.LookforScrenc;
            }
          } else if (name === 'a' || name === 'img') {
            const v = argValue(name === 'a' ? 'href' : 'src');
            if (v && v.length > 0) { text.str(v); text.c(0x20); textSpace = true; }
          }
          args = [];
          break;
        }
        case S.CharRef:
          if (c === 0x23) { value = 0n; hex = false; state = S.CharRefDecode; ptr++; }
          else state = S.EntityRefDecode;
          break;
        case S.EntityRefDecode:
          if (c === 0x3b) {
            const cp = ENTITIES.get(String.fromCharCode(...entity));
            const norm = cp === undefined ? null : u16Normalise(cp);
            if (norm) {
              for (const b of norm) { o2.c(b); if (next === S.TagArgVal) tagValPush(b); }
            } else {
              o2.c(0x26);
              if (next === S.TagArgVal) tagValPush(0x26);
              for (const e of entity) { o2.c(lower(e)); if (next === S.TagArgVal) tagValPush(lower(e)); }
              if (next === S.TagArgVal) tagValPush(0x3b);
              o2.c(0x3b);
            }
            entity.length = 0;
            state = next; next = S.Bad; ptr++;
          } else if ((isAlnum(c) || c === 0x5f || c === 0x3a || c === 0x2d) && entity.length < STR_LEN) {
            entity.push(c); ptr++;
          } else {
            if (next === S.TagArgVal) tagValPush(0x26);
            o2.c(0x26);
            for (const e of entity) { o2.c(lower(e)); if (next === S.TagArgVal) tagValPush(lower(e)); }
            state = next; next = S.Bad; entity.length = 0;
          }
          break;
        case S.CharRefDecode:
          if (value === 0n && (c === 0x78 || c === 0x58)) { hex = true; ptr++; }
          else if (c === 0x3b) {
            if (next === S.TagArgVal) tagValPush(Number(value & 0xffn));
            if (value < 0x80n) o2.c(lower(Number(value)));
            else { const n = u16Normalise(Number(value & 0xffffn)); if (n) o2.str(n); }
            state = next; next = S.Bad; ptr++;
          } else if (isDigit(c) || (hex && isXDigit(c))) {
            const MAX = (1n << 63n) - 1n;
            if (hex && value < MAX / 16n) value *= 16n;
            else if (value < MAX / 10n) value *= 10n;
            else { o2.c(Number(value & 0xffn)); state = next; next = S.Bad; ptr++; break; }
            const inc = BigInt(isDigit(c) ? c - 0x30 : lower(c) - 0x61 + 10);
            if (value > MAX - inc) { o2.c(Number(value & 0xffn)); state = next; next = S.Bad; ptr++; break; }
            value += inc;
            ptr++;
          } else {
            o2.c(Number(value & 0xffn));
            state = next; next = S.Bad;
          }
          break;
        case S.LookforScrenc: {
          lookForScrenc = true;
          const at = find(L, ptr, [0x23, 0x40, 0x7e, 0x5e]);
          if (at >= 0) { L[at] = 0x2f; L[at + 1] = 0x2f; ptrScrenc = at + 4; } else ptrScrenc = -1;
          state = next; next = savedNext;
          break;
        }
        case S.JsDecode:
          if (L[ptr] === 0x23 && L[ptr + 1] === 0x40 && L[ptr + 2] === 0x7e && L[ptr + 3] === 0x5e) {
            L[ptr] = 0x2f; L[ptr + 1] = 0x2f; ptr += 4;
            state = S.JsDecodeLength; next = S.Bad;
          } else { o2.c(lower(c)); ptr++; }
          break;
        case S.JsDecodeLength:
          if (strlen(L, ptr) < 8) { state = S.Norm; next = S.Bad; break; }
          screnc.length = screncNumber(L, ptr); screnc.sum = 0; screnc.pos = 0;
          state = S.JsDecodeDecrypt; inScrenc = true; next = S.Bad;
          L[ptr + 7] = 0x0a;
          ptr += 8;
          break;
        case S.JsDecodeDecrypt:
          screncDecode(L, ptr, screnc);
          if (!screnc.length) inScrenc = false;
          state = S.Norm; next = S.Bad;
          break;
        case S.Rfc2397Type:
          if (c === 0x27 || c === 0x22) {
            const q = c === 0x27 ? Q.Single : Q.Double;
            ptr++;
            if (!escape && quoted === q) { state = S.SkipWs; tagArgLen = 0; next = S.TagArg; }
            else tagValPush(0x22);
          } else if (isSpace(c) || c === 0x3e) {
            if (quoted === Q.None) { state = S.SkipWs; tagArgLen = 0; next = S.TagArg; }
            else {
              tagValPush(isSpace(c) ? 0x20 : 0x3e);
              state = S.SkipWs; escape = false; quoted = Q.None; next = S.Rfc2397Type; ptr++;
            }
          } else if (c === 0x2c) {
            tagVal[tagValLen] = 0;
            state = S.Rfc2397Init; escape = false; next = S.Bad; ptr++;
          } else { tagValPush(lower(c)); ptr++; }
          escape = L[ptr] === 0x5c;
          break;
        case S.Rfc2397Init: {
          closeData();
          const f = new Out();
          f.str(ascii('From html-normalise\n'));
          f.str(ascii('Content-type: '));
          f.str(tagVal.subarray(0, tagValLen));
          f.c(0x0a);
          const z = tagVal.indexOf(0);
          const typeText = String.fromCharCode(...tagVal.subarray(0, z < 0 ? tagValLen : Math.min(z, tagValLen)));
          if (typeText.includes(';base64')) f.str(ascii('Content-transfer-encoding: base64\n'));
          f.c(0x0a);
          dataFile = f;
          state = S.Rfc2397Data; binary = true;
          break;
        }
        case S.Rfc2397Data:
          if (c === 0x26) { state = S.CharRef; next = S.Rfc2397Data; ptr++; }
          else if (c === 0x25) { length = 0; value = 0n; state = S.EscapeChar; next = S.Rfc2397Esc; ptr++; }
          else if (c === 0x27 || c === 0x22) {
            const q = c === 0x27 ? Q.Single : Q.Double;
            if (!escape && quoted === q) state = S.Rfc2397Finish;
            else dataFile?.c(c);
            ptr++;
          } else if (isSpace(c) || c === 0x3e) {
            if (quoted === Q.None) state = S.Rfc2397Finish;
            else dataFile?.c(c);
            ptr++;
          } else { dataFile?.c(c); ptr++; }
          escape = L[ptr] === 0x5c;
          break;
        case S.Rfc2397Finish:
          closeData();
          state = S.SkipWs; escape = false; quoted = Q.None; next = S.TagArg; binary = false;
          break;
        case S.Rfc2397Esc:
          if (length === 2) dataFile?.c(Number(value & 0xffn));
          else if (length === 1) { dataFile?.c(0x25); dataFile?.c(Number((value + 0x30n) & 0xffn)); }
          else dataFile?.c(0x25);
          state = S.Rfc2397Data;
          break;
        case S.EscapeChar:
          value *= 16n;
          length++;
          if (isXDigit(c)) value += BigInt(isDigit(c) ? c - 0x30 : lower(c) - 0x61 + 10);
          else state = next;
          if (length === 2) state = next;
          ptr++;
          break;
      }
    }
    if (js) {
      jsProcess(L, jsBegin, jsEnd, ptr);
      jsBegin = jsEnd = -1;
    }
    if (inTag === In.Style) {
      if (ptr < styleBegin) { aborted = true; break; }
      style ??= [];
      for (let i = styleBegin; i < ptr; i++) style.push(L[i]!);
    }
    if (lookForScrenc && ptrScrenc >= 0) {
      ptr = ptrScrenc; ptrScrenc = -1;
      state = S.JsDecodeLength; next = S.Bad;
      continue;
    }
    line = readChunk(src, area);
    ptr = 0;
    if (inTag === In.Style) styleBegin = 0;
    if (inScrenc) { state = S.JsDecodeDecrypt; next = S.Bad; }
    else if (lookForScrenc && ptrScrenc < 0 && state !== S.LookforScrenc) { savedNext = next; next = state; state = S.LookforScrenc; }
    if (next === state) next = S.Bad;
  }

  if (!aborted) {
    if (style) {
      const z = style.indexOf(0);
      const css = Buffer.from(z < 0 ? style : style.slice(0, z)).toString('utf8');
      styleImages.push(...cssImages(css));
    }
    // An entity left open at the end of the file.
    const cp = ENTITIES.get(String.fromCharCode(...entity));
    const norm = cp === undefined ? null : u16Normalise(cp);
    if (norm) for (const b of norm) o2.c(b);
    else if (entity.length) { o2.c(0x26); for (const e of entity) o2.c(lower(e)); }
  }
  if (js) jsOutput(js);
  closeData();
  const nocomment = o2.bytes();
  const notags = text.bytes();
  return {
    ...(nocomment.length > 0 ? { nocomment } : {}),
    ...(notags.length > 0 ? { notags } : {}),
    ...(jsWritten && jsOut.length > 0 ? { javascript: Uint8Array.from(jsOut) } : {}),
    rfc2397: rfc.filter((r) => r.data.length > 0),
    styleImages,
  };
}

function find(hay: Uint8Array, from: number, needle: number[]): number {
  const end = hay.indexOf(0, from);
  const stop = end < 0 ? hay.length : end;
  outer: for (let i = from; i + needle.length <= stop; i++) {
    for (let k = 0; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    return i;
  }
  return -1;
}

/** A UTF-16 unit as ClamAV writes it: below 0xFF as the byte, 0xFF and above as `&#xhhhh;` (three dots as '.'); NUL as nothing. */
function u16Normalise(u: number): number[] {
  u &= 0xffff;
  if (!u) return [];
  if (u < 0xff) return [u];
  if (u === 0x3002 || u === 0xff0e || u === 0xfe52) return [0x2e];
  return ascii(`&#x${u.toString(16).padStart(4, '0')};`);
}
