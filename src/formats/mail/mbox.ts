/**
 * E-mail (RFC 822 / MIME, mbox, MHTML) → the files ClamAV 1.4 extracts from it.
 *
 * In: the bytes of a CL_TYPE_MAIL or CL_TYPE_MHTML layer. Out: child layers in ClamAV's order:
 * first those its mail reader scans as soon as it writes them (decoded attachments and parts of
 * multipart messages, in message order), then those it only leaves in its work directory for the
 * directory scan that follows (text bodies saved without a transfer encoding, uudecoded files,
 * the text copy written before base64 is tried on an unencoded named part), in the order
 * written. A limit met (MaxRecursion of nested parts, MaxFiles) ends the listing as ClamAV does,
 * dropping the directory's files. ClamAV's e-mail parser limits (1024 MIME headers, 256 KiB of
 * header text, 262144 folded lines in a row, 256 parameters in a header) stop the reading; with
 * AlertExceedsMax (`alertExceedsMax` in the options) they end it with
 * `Heuristics.Limits.Exceeded.Email…` instead.
 *
 * What is a child: the body of a single-part message (headers not included, lines ending in
 * `\n`), each part of a multipart message decoded (base64 with ClamAV's tolerance of bad
 * characters and missing padding, quoted-printable, anything else as text), a nested
 * `message/rfc822` part only when its text carries a transfer encoding (then the nested message's
 * text is a child, read again as mail), a uuencoded file met in a body, a body that starts with a
 * BinHex banner (read again as BinHex). An mbox (`From ` first line) is split at `From ` lines
 * that follow an empty line.
 *
 * Why a line-by-line model: which bytes end up in a child depends on ClamAV's line handling
 * (lines cut at 999 bytes, NUL bytes dropped, repeated empty lines merged outside text parts,
 * white-space-only lines turned into one space, headers folded by its own rules, boundaries
 * matched loosely, the text of multipart/related written out again). See `message.ts` for the
 * entity model. Bounced messages found in a text body are extracted as ClamAV does; yEnc is
 * decoded; the changes ClamAV's URL check makes to a message before it is saved are reproduced
 * (`checkUrls`). Not modelled: RFC 2047 encoded header words (they only change names), the
 * phishing check itself, `message/partial` reassembly (off in ClamAV by default).
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { BUILTIN_FTM } from '../filetype.js';
import {
  Bytes, equalsCI, exportMessage, field, fmapGets, isBlank, isSpace, isUuencodeBegin, LINE_MAX, Message, messageToText, startsWithCI, stripEnd, textBytes, trimStart,
  type ExportedFile, type Line,
} from './message.js';
import { uudecodeLines } from './uuencode.js';

/**
 * Nesting of MIME parts ClamAV follows: `engine->max_recursion_level`, i.e. MaxRecursion (17 by
 * default). Taken from the limits when the engine gives it there (`maxRecursion`).
 */
const MAIL_MAX_RECURSION = 17;
const maxRecursionOf = (ctx: UnpackContext): number => {
  const v = (ctx.limits as { maxRecursion?: unknown }).maxRecursion;
  return typeof v === 'number' && v >= 0 ? v : MAIL_MAX_RECURSION;
};

/** ClamAV's e-mail parser limits (`HEURISTIC_EMAIL_MAX_*`): reading stops there; with AlertExceedsMax it is an alert. */
const MAX_LINE_FOLDS = 256 * 1024, MAX_HEADER_BYTES = 256 * 1024, MAX_HEADERS = 1024, MAX_ARGUMENTS = 256;

/** A limit alert ends the reading of the mail (ClamAV's `heuristicFound`, a virus-like result). */
class MailHeuristic {
  constructor(readonly alert: string) {}
}

type Rc = 'FAIL' | 'OK' | 'OK_ATTACHMENTS_NOT_SAVED' | 'VIRUS' | 'MAXREC' | 'MAXFILES';

const CONTENT_TYPE = 1, CONTENT_TRANSFER_ENCODING = 2, CONTENT_DISPOSITION = 3;
const PLAIN = 1, MIXED = 5, ALTERNATIVE = 6, DIGEST = 7, SIGNED = 8, PARALLEL = 9, RELATED = 10, REPORT = 11, APPLEDOUBLE = 12, ENCRYPTED = 13, KNOWBOT = 14;
const SUBTYPES: ReadonlyMap<string, number> = new Map([
  ['plain', PLAIN], ['enriched', 2], ['html', 3], ['richtext', 4], ['mixed', MIXED], ['alternative', ALTERNATIVE],
  ['digest', DIGEST], ['signed', SIGNED], ['parallel', PARALLEL], ['related', RELATED], ['report', REPORT],
  ['appledouble', APPLEDOUBLE], ['fax-message', MIXED], ['encrypted', ENCRYPTED], ['x-bfile', RELATED],
  ['knowbot', KNOWBOT], ['knowbot-metadata', KNOWBOT], ['knowbot-code', KNOWBOT], ['knowbot-state', KNOWBOT],
]);
const subtypeCode = (s: string): number => SUBTYPES.get(s.toLowerCase()) ?? -1;

function headerCode(cmd: string): number {
  if (equalsCI(cmd, 'Content-Type')) return CONTENT_TYPE;
  if (equalsCI(cmd, 'Content-Transfer-Encoding')) return CONTENT_TRANSFER_ENCODING;
  if (equalsCI(cmd, 'Content-Disposition')) return CONTENT_DISPOSITION;
  return -1;
}

// ───────────────────────────── reading lines ─────────────────────────────

/** `getline_from_mbox`: a line ended by `\n`, `\r`, `\r\n` or `\n\r`, NULs dropped, 999 bytes at most. */
function getlineFromMbox(b: Uint8Array, at: number): { line: string; next: number } | undefined {
  let inputLen = Math.min(b.length - at, LINE_MAX + 2);
  if (inputLen <= 0) return undefined;
  let p = at;
  const chars: number[] = [];
  for (let i = 0; i < LINE_MAX; i++) {
    if (!inputLen--) {
      if (chars.length === 0) return undefined;
      break;
    }
    const c = b[p++]!;
    if (c === 0) continue;
    if (c === 0x0a || c === 0x0d) {
      chars.push(c);
      const other = c === 0x0a ? 0x0d : 0x0a;
      if (inputLen && b[p] === other) { i++; p++; }
      break;
    }
    chars.push(c);
  }
  return { line: String.fromCharCode(...chars), next: p };
}

/** `cli_chomp`: the line without its trailing CR/LF characters. */
function chomp(s: string): string {
  let e = s.length;
  while (e > 0 && (s.charCodeAt(e - 1) === 0x0a || s.charCodeAt(e - 1) === 0x0d)) e--;
  return s.slice(0, e);
}

// ───────────────────────────── header helpers ─────────────────────────────

/** RFC 822 comments removed (`rfc822comments`); undefined when there is no `(`. */
function rfc822comments(input: string): string | undefined {
  if (!input.includes('(')) return undefined;
  const s = trimStart(input);
  let out = '';
  let backslash = false, inquote = false, level = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (backslash) {
      if (level === 0) out += c;
      backslash = false;
    } else if (c === '\\') backslash = true;
    else if (c === '"') { out += '"'; inquote = !inquote; }
    else if (c === '(') { if (inquote) out += '('; else level++; }
    else if (c === ')') { if (inquote) out += ')'; else if (level > 0) level--; }
    else if (level === 0) out += c;
  }
  if (backslash) out += '\\';
  return out;
}

const countQuotes = (s: string): number => {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 0x22) n++;
  return n;
};

/** `parseEmailHeader`: `name: value` (or `=`/space as separator) applied to `m`; false when not a header. */
function parseEmailHeader(m: Message, line: string, limit?: (name: string) => void): boolean {
  let sep = '';
  for (const c of [':', '=', ' ']) if (line.includes(c)) { sep = c; break; }
  if (!sep) return false;
  let i = 0;
  while (i < line.length && line[i] === sep) i++;
  if (i >= line.length) return false;
  const j = line.indexOf(sep, i);
  if (j < 0) return false;
  const arg = line.slice(j + 1);
  if (arg === '') return false;
  const cmd = stripEnd(line.slice(i, j));
  if (cmd === '') return false;
  parseMimeHeader(m, cmd, arg, limit);
  return true;
}

/** `parseMimeHeader`: Content-Type, Content-Transfer-Encoding and Content-Disposition. */
function parseMimeHeader(m: Message, cmd: string, arg: string, limit?: (name: string) => void): void {
  const code = headerCode(rfc822comments(cmd) ?? cmd);
  let ptr = rfc822comments(arg) ?? arg;
  if (code === CONTENT_TYPE) {
    if (!ptr.includes('/')) return;
    if (arg[0] === '/') {
      m.setMimeType('application');
      m.subtype = 'octet-stream';
    } else {
      let q = 0;
      while (q < ptr.length && isSpace(ptr.charCodeAt(q))) q++;
      if (ptr[q] === '"') q++;
      ptr = ptr.slice(q);
      if (ptr[0] !== '/') {
        const s = field(ptr, 0, ';');
        if (s) typeAndSubtype(m, s);
      }
    }
    for (let k = 1; ; k++) {
      const f = field(ptr, k, ';');
      if (f === undefined) break;
      if (k >= MAX_ARGUMENTS) {
        limit?.('EmailMIMEArguments');
        break;
      }
      m.addArguments(f);
    }
  } else if (code === CONTENT_TRANSFER_ENCODING) {
    m.setEncoding(ptr);
  } else if (code === CONTENT_DISPOSITION) {
    const p = field(ptr, 0, ';');
    if (p) {
      m.setDisposition(p);
      m.addArgument(field(ptr, 1, ';'));
    }
    if (!m.hasFilename()) m.addArgument('filename=unknown');
  }
}

/** The `type/subtype` words of a Content-Type value, as ClamAV's strtok loop reads them (also `foo/bar multipart/mixed`). */
function typeAndSubtype(m: Message, value: string): void {
  let s = value;
  for (let guard = 0; guard < 64; guard++) {
    // strtok(s, "/"): skip leading '/', the type runs to the next '/'
    let i = 0;
    while (i < s.length && s[i] === '/') i++;
    if (i >= s.length) return;
    const slash = s.indexOf('/', i);
    const type = s.slice(i, slash < 0 ? s.length : slash);
    const set = m.setMimeType(type);
    if (slash < 0 || slash + 1 >= s.length) return;
    let rest = s.slice(slash + 1);
    if (set) {
      rest = stripEnd(rest);
      if (rest.endsWith('"')) rest = stripEnd(rest.slice(0, -1));
      if (rest.length) m.subtype = rest.includes(' ') ? field(rest, 0, ' ') ?? '' : rest;
    }
    let k = 0;
    while (k < rest.length && !isSpace(rest.charCodeAt(k))) k++;
    if (k >= rest.length) return;
    k++;
    if (k >= rest.length) return;
    s = rest.slice(k);
  }
}

/** A run of blanks and `;` after another such line is skipped (`doContinueMultipleEmptyOptions`). */
class OnlySemi {
  last = false;
  skip(line: Line): boolean {
    if (line === null) return false;
    let only = true;
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      if (!isBlank(c) && c !== 0x3b) { only = false; break; }
    }
    if (only) {
      if (this.last) return true;
      this.last = true;
    } else this.last = false;
    return false;
  }
}

const usefulHeader = (code: number, cmd: string): boolean =>
  code > 0 || equalsCI(cmd, 'From') || equalsCI(cmd, 'Received') || equalsCI(cmd, 'De');

const newlineInHeader = (line: string): boolean => line.startsWith('Message-Id: ') || line.startsWith('Date: ');

/** Whether the line after `t` continues the header at `t` (`next_is_folded_header`). */
function nextIsFolded(body: readonly Line[], t: number): boolean {
  const next = body[t + 1];
  if (next === undefined || next === null) return false;
  if (isBlank(next.charCodeAt(0))) return true;
  if (!next.includes('=')) return false;
  const data = body[t] ?? '';
  for (let p = data.length - 1; p > 0; p--) {
    const c = data[p];
    if (c === ';') return true;
    if (c === '\n' || c === ' ' || c === '\r' || c === '\t') continue;
    return false;
  }
  return false;
}

/** `boundaryStart`: whether `line` opens a part of the multipart with `boundary` (loosely, as ClamAV matches). */
export function boundaryStart(line: Line, boundary: string | undefined): boolean {
  if (!line || boundary === undefined) return false;
  let e = line.length;
  while (e > 0 && line[e - 1] === ' ') e--;
  const newline = chomp(line.slice(0, e));
  if (newline[0] !== '-' && newline[0] !== '(') return false;
  if (!newline.includes('-')) return false;
  const ptr = rfc822comments(newline) ?? newline;
  if (ptr[0] !== '-' || ptr.length < 2) return false;
  if (ptr.slice(2).includes(boundary) || newline.includes(boundary)) {
    for (let k = 2; ; k++) {
      if (ptr.slice(k) === boundary) return true;
      if (ptr[k] !== '-') break;
    }
    for (let k = 2; ; k++) {
      if (line.slice(k) === boundary) return true;
      if (line[k] !== '-') break;
    }
    return false;
  }
  if (ptr[1] !== '-') return false;
  return equalsCI(ptr.slice(2), boundary);
}

/** `boundaryEnd`: whether `line` is `--boundary--` (case-insensitive, trailing text allowed). */
export function boundaryEnd(line: Line, boundary: string): boolean {
  if (!line) return false;
  let e = line.length;
  while (e > 0 && line[e - 1] === ' ') e--;
  const s = line.slice(0, e);
  if (s[0] !== '-' || s[1] !== '-') return false;
  const rest = s.slice(2);
  if (!equalsCI(rest.slice(0, boundary.length), boundary)) return false;
  if (rest.length < boundary.length + 2) return false;
  return rest[boundary.length] === '-' && rest[boundary.length + 1] === '-';
}

// ───────────────────────────── the reader ─────────────────────────────

interface Child { name: string; data: Bytes }

class MailReader {
  /** Files scanned as soon as written, in order. */
  readonly now: Child[] = [];
  /** Files left for the scan of the work directory. */
  readonly dir: Child[] = [];
  /** `mctx->files`: parts saved so far. */
  files = 0;
  constructor(readonly bytes: Uint8Array, readonly ctx: UnpackContext) {}

  get limit(): number {
    return this.ctx.limits.maxFileSize + 1;
  }

  /** An e-mail parser limit met: with AlertExceedsMax the reading ends with its alert; else the caller just stops. */
  readonly exceeded = (name: string): void => {
    if ((this.ctx.options as { alertExceedsMax?: boolean }).alertExceedsMax) throw new MailHeuristic(`Heuristics.Limits.Exceeded.${name}`);
  };

  /** Counts header folds (`hitLineFoldCnt`): true when too many lines in a row start with a blank. */
  private folds(line: Line, state: { n: number }): boolean {
    if (line === null) return false;
    state.n = isBlank(line.charCodeAt(0)) ? state.n + 1 : 0;
    if (state.n < MAX_LINE_FOLDS) return false;
    this.exceeded('EmailLineFoldCnt');
    return true;
  }

  /**
   * Keeps a written file. The engine scans at most MaxFiles layers of a file, so past that many
   * (in either list) files are counted by the reading but not held.
   */
  private keep(list: Child[], c: Child): void {
    const max = this.ctx.limits.maxFiles;
    if (c.data.length === 0 || (max > 0 && list.length > max)) return;
    list.push(c);
  }

  /** Records exported files: all but the last go to the directory; the last is scanned now when `scanNow` (or forced). */
  emit(files: ExportedFile[] | undefined, force = false): boolean {
    if (!files || files.length === 0) return false;
    files.forEach((f, i) => {
      const last = i === files.length - 1;
      this.keep(last && (force || f.scanNow) ? this.now : this.dir, { name: f.name, data: f.data });
    });
    return true;
  }

  /** `uudecodeFile`: the uuencoded file starting after `first`, read from the raw bytes at `at`; undefined when the begin line has no name. */
  uudecode(first: string, at: number): number | undefined {
    const name = field(first, 2, ' ');
    if (name === undefined) return undefined;
    const r = uudecodeLines(this.bytes, at, this.limit);
    this.keep(this.dir, { name, data: r.data });
    return r.next;
  }

  saveTextPart(m: Message): void {
    m.addArgument('filename=textportion');
    if (this.emit(exportMessage(m, this.limit))) this.files++;
  }

  exportBinhex(m: Message): void {
    if (m.encoding === 'NOENCODING') m.setEncoding('x-binhex');
    if (this.emit(exportMessage(m, this.limit))) this.files++;
  }

  /** `parseEmailFile`: the single message of the file, headers parsed, body lines kept; null when no header was seen. */
  parseEmailFile(first: string, at: number): Message | null {
    const b = this.bytes;
    const ret = new Message(false);
    let inHeader = true, bodyIsEmpty = true, lastWasBlank = false, lastBodyLineWasBlank = false, anyHeadersFound = false;
    let boundary: string | undefined;
    let head = '';
    const semi = new OnlySemi();
    const fold = { n: 0 };
    let headerBytes = 0, headerCount = 0;
    const tooManyHeaders = (): boolean => {
      if (++headerCount <= MAX_HEADERS) return false;
      this.exceeded('EmailHeaders');
      return true;
    };
    let buffer: string | undefined = first;
    for (; buffer !== undefined; buffer = ((): string | undefined => {
      const r = getlineFromMbox(b, at);
      if (!r) return undefined;
      at = r.next;
      return r.line;
    })()) {
      const buf = chomp(buffer);
      const line: Line = buf === '' ? null : buf;
      if (semi.skip(line)) continue;
      if (this.folds(line, fold)) break;
      if (lastWasBlank) {
        lastWasBlank = false;
        if (boundaryStart(buf, boundary)) inHeader = false;
      }
      if (inHeader) {
        if (line !== null && isSpace(line.charCodeAt(0)) && stripEnd(line) === '') {
          if (head !== '') {
            const h = head;
            head = '';
            if (tooManyHeaders()) break;
            if (!parseEmailHeader(ret, h, this.exceeded)) continue;
          }
          boundary ??= ret.findArgument('boundary');
          if (boundary !== undefined) { lastWasBlank = true; continue; }
        }
        if (line === null && head === '') {
          if (!anyHeadersFound) continue;
          inHeader = false;
          bodyIsEmpty = true;
        } else {
          if (head === '') {
            if (line === null || isBlank(line.charCodeAt(0))) continue;
            const cmd = line.includes(':') ? field(line, 0, ':') : undefined;
            if (cmd === undefined) {
              if (line.startsWith('From ')) anyHeadersFound = true;
              continue;
            }
            const code = headerCode(rfc822comments(cmd) ?? cmd);
            if (code > 0) anyHeadersFound = true;
            else {
              if (!anyHeadersFound) anyHeadersFound = usefulHeader(code, cmd);
              continue;
            }
            head = line;
          } else if (line !== null) head += line;
          if (line !== null) {
            headerBytes += line.length;
            if (headerBytes > MAX_HEADER_BYTES) { this.exceeded('EmailHeaderBytes'); break; }
          }
          if (at < b.length && isBlank(b[at]!)) continue;
          const needContinue = head.endsWith(';') || (line !== null && (countQuotes(head) & 1) === 1);
          if (needContinue) continue;
          if (tooManyHeaders()) break;
          if (!parseEmailHeader(ret, head, this.exceeded)) continue;
          head = '';
        }
      } else if (line !== null && isUuencodeBegin(line)) {
        bodyIsEmpty = false;
        const next = this.uudecode(line, at);
        if (next === undefined) ret.addStr(line);
        else at = next;
      } else {
        if (line === null) {
          if (lastBodyLineWasBlank && ret.mimeType !== 'TEXT') continue;
          lastBodyLineWasBlank = true;
        } else {
          if (bodyIsEmpty) {
            if (newlineInHeader(line)) continue;
            bodyIsEmpty = false;
          }
          lastBodyLineWasBlank = false;
        }
        ret.addStr(line);
      }
    }
    return anyHeadersFound ? ret : null;
  }

  /** `parseEmailHeaders`: a message whose body holds a whole message → that message (headers parsed); null when none. */
  parseEmailHeaders(m: Message): Message | null {
    const ret = new Message(false);
    let inHeader = true, bodyIsEmpty = true, anyHeadersFound = false;
    let full: string | null = null;
    const semi = new OnlySemi();
    const fold = { n: 0 };
    let headerCount = 0;
    const body = m.body;
    for (let t = 0; t < body.length; t++) {
      const line = body[t]!;
      if (semi.skip(line)) continue;
      if (this.folds(line, fold)) break;
      if (inHeader) {
        if (line === null) {
          if (!anyHeadersFound) break;
          inHeader = false;
          bodyIsEmpty = true;
          continue;
        }
        if (full === null) {
          if (isBlank(line.charCodeAt(0))) continue;
          const cmd = line.includes(':') ? field(line, 0, ':') : undefined;
          if (cmd === undefined) {
            if (line.startsWith('From ')) anyHeadersFound = true;
            continue;
          }
          const code = headerCode(rfc822comments(cmd) ?? cmd);
          if (code > 0) anyHeadersFound = true;
          else {
            if (!anyHeadersFound) anyHeadersFound = usefulHeader(code, cmd);
            continue;
          }
          full = line;
        } else full += line;
        if (full.length + 1 > MAX_HEADER_BYTES) { this.exceeded('EmailHeaderBytes'); break; }
        if (nextIsFolded(body, t)) continue;
        if (countQuotes(full) & 1) continue;
        full = rfc822comments(full) ?? full;
        if (++headerCount > MAX_HEADERS) { this.exceeded('EmailHeaders'); break; }
        if (!parseEmailHeader(ret, full, this.exceeded)) continue;
        full = null;
      } else {
        if (bodyIsEmpty) {
          if (line === null || newlineInHeader(line)) continue;
          bodyIsEmpty = false;
        }
        ret.body = body.slice(t);
        for (let k = 1; k < ret.body.length; k++) if (ret.body[k] !== null) ret.markLine(k);
        break;
      }
    }
    return anyHeadersFound ? ret : null;
  }

  /** `parseEmailBody`: what one message (or part) yields, by its MIME type. */
  parseEmailBody(messageIn: Message | null, textIn: Line[] | null, level: number): Rc {
    const maxRec = maxRecursionOf(this.ctx);
    if (maxRec && level > maxRec) return 'MAXREC';
    const maxFiles = this.ctx.limits.maxFiles;
    if (maxFiles && this.files >= maxFiles) return 'MAXFILES';
    let rc: Rc = 'OK';
    const main: Message | null = messageIn;
    let aText: Line[] | null = textIn;
    if (main && main.body.length > 0) {
      let mimeType = main.mimeType;
      let mimeSubtype = main.subtype;
      const subtype = subtypeCode(mimeSubtype);
      if (mimeType === 'TEXT' && subtype === PLAIN) {
        mimeType = 'NOMIME';
        main.subtype = '';
      } else if (mimeType === 'MESSAGE' && equalsCI(mimeSubtype, 'rfc822-headers')) {
        mimeType = 'NOMIME';
        main.subtype = '';
      }
      switch (mimeType) {
        case 'NOMIME':
          // the text list is shared with the caller, which may write it out (`textAdd` appends in place)
          if (aText) append(aText, textOf(main));
          else aText = textOf(main);
          checkUrls(main);
          break;
        case 'TEXT':
          checkUrls(main);
          break;
        case 'AUDIO':
        case 'VIDEO':
        case 'IMAGE':
          break;
        case 'MULTIPART': {
          const b = main.findArgument('boundary');
          if (b === undefined) { mimeType = 'NOMIME'; break; }
          const boundary = chomp(b);
          if (mimeSubtype === '') { mimeSubtype = 'alternative'; main.subtype = 'alternative'; }
          const body = main.body;
          let t = 0;
          for (; t < body.length; t++) {
            if (body[t] === null) continue;
            if (boundaryStart(body[t]!, boundary)) break;
            if (main.binhexLine === t) this.exportBinhex(main);
            else if (t + 1 < body.length && main.encodingLine === t + 1 && main.encoding === 'NOENCODING') break;
          }
          if (t >= body.length) { mimeType = 'NOMIME'; break; }
          return this.multipart(main, messageIn, textIn, aText, body, t, boundary, mimeSubtype, level);
        }
        case 'MESSAGE': {
          rc = 'FAIL';
          if (equalsCI(mimeSubtype, 'rfc822') || equalsCI(mimeSubtype, 'delivery-status')) {
            const m = this.parseEmailHeaders(main);
            if (m) {
              main.clearBody();
              if (m.body.length > 0) rc = this.parseEmailBody(m, null, level + 1);
            }
          } else if (equalsCI(mimeSubtype, 'disposition-notification')) rc = 'OK';
          return rc;
        }
        default:
          if (this.emit(exportMessage(main, this.limit))) {
            this.files++;
            main.clearBody();
            main.mimeType = 'NOMIME';
          }
      }
    }
    if (aText && textIn === null) {
      this.bouncesInText(aText);
      aText = null;
    }
    if (main) {
      if (main.body.length > 0 && main.encodingLine >= 0 && main.bounceLine >= 0) {
        this.exportBounce(main.body, main.bounceLine);
      } else {
        let saveIt: boolean;
        if (main.mimeType === 'MESSAGE') saveIt = main.encodingLine >= 0;
        else if (main.body.length > 0 && main.encodingLine >= 0) {
          const out = new Bytes(this.limit);
          out.text('Received: by clamd (bounce)\n');
          const rest = textBytes(main.body, this.limit, main.encodingLine).view();
          for (let i = 0; i < rest.length && !out.overflowed; i++) out.push(rest[i]!);
          this.keep(this.dir, { name: 'bounce', data: out });
          this.files++;
          saveIt = false;
        } else saveIt = true;
        if (saveIt) {
          this.saveTextPart(main);
          main.clearBody();
        }
      }
    }
    return rc;
  }

  /** `exportBounceMessage`: the bounced message from its last `From`/`Received` line, when a non-text Content-Type or an encoding follows. */
  private exportBounce(body: readonly Line[], start: number): void {
    let t = start;
    let found = false;
    for (; t < body.length; t++) {
      const txt = body[t];
      if (txt === null || txt === undefined) continue;
      const cmd = field(txt, 0, ':');
      if (cmd === undefined) continue;
      const code = headerCode(cmd);
      if (code === CONTENT_TRANSFER_ENCODING) {
        if (!txt.includes('7bit') && !txt.includes('8bit')) { found = true; break; }
        continue;
      }
      if (code === CONTENT_DISPOSITION) { found = true; break; }
      if (code === CONTENT_TYPE) { found = !txt.includes('text/plain'); break; }
      if (equalsCI(cmd, 'From') || equalsCI(cmd, 'Received')) start = t;
    }
    if (!found) return;
    this.keep(this.dir, { name: 'bounce', data: textBytes(body, this.limit, start) });
    this.files++;
  }

  /** The bounce search over a message's text: each bounced message found is saved (with a `Received` line on top) and scanned. */
  private bouncesInText(text: readonly Line[]): void {
    const len = text.length;
    let definitely = false;
    for (let t = 0; t < len; t++) {
      const l = text[t];
      if (l === null || l === undefined) continue;
      if (definitely) definitely = false;
      else if (!isBounceStart(l)) continue;
      let look = t + 1;
      if (look < len) {
        if (isBounceStart(text[look] ?? null)) { definitely = true; continue; }
      } else break;
      for (; look < len; look++) {
        const s = text[look];
        if (s === null || s === undefined) break;
        if (startsWithCI(s, 'Content-Type:')) {
          const low = s.toLowerCase();
          if (low.includes('text/plain') || low.includes('text/html')) continue;
          break;
        }
      }
      if (look < len && text[look] === null) { t = look; continue; }
      for (; look < len; look++) {
        const s = text[look];
        if (s && startsWithCI(s, 'Content-Type:') && !s.includes('multipart/') && !s.includes('message/rfc822') && !s.includes('text/plain')) break;
      }
      if (look >= len) break;
      const out = new Bytes(this.limit);
      out.text('Received: by clamd (bounce)\n');
      let inheader = true, top = -1;
      for (;;) {
        const cur = text[t];
        if (cur === null || cur === undefined) {
          if (inheader) { inheader = false; top = t; }
        } else out.text(cur);
        out.push(0x0a);
        if (t + 1 >= len) break;
        t++;
        const next = text[t];
        if (!inheader && next && isBounceStart(next)) { definitely = true; break; }
      }
      this.keep(this.now, { name: 'bounce', data: out });
      this.files++;
      if (top >= 0) t = top;
    }
  }

  /** The multipart branch of `parseEmailBody`: parts cut at boundaries, each handled by `doMultipart`. */
  private multipart(main0: Message, messageIn: Message | null, textIn: Line[] | null, aText0: Line[] | null, body: readonly Line[], t0: number, boundary: string, mimeSubtype0: string, level: number): Rc {
    let main: Message | null = main0;
    let aText = aText0;
    let rc: Rc = 'OK';
    let mimeSubtype = mimeSubtype0;
    const subtype = subtypeCode(mimeSubtype);
    const messages: (Message | null)[] = [];
    let t = t0;
    let inhead = true;
    let infected = false;
    for (; t < body.length && !infected;) {
      const a = new Message(true);
      messages.push(a);
      t++;
      while (t < body.length && body[t] === null) t++;
      if (t >= body.length) {
        if (main && main.binhexLine < 0) messages.pop();
        break;
      }
      do {
        const line = body[t]!;
        if (inhead) {
          if (line === null) {
            const next = body[t + 1];
            if (next !== undefined && next !== null) {
              if (a.encoding === 'NOENCODING' && a.mimeType === 'APPLICATION' && next.includes('base64')) {
                a.setEncoding('base64');
                continue;
              }
              if (next.startsWith('Content') || next.startsWith('filename=')) continue;
            }
            inhead = false;
            continue;
          }
          if (isSpace(line.charCodeAt(0))) {
            a.addArgument(line);
            if (a.mimeType === 'NOMIME') a.setMimeType('application');
            continue;
          }
          if (line.length > 1000) continue;
          let full = rfc822comments(line) ?? line;
          while (t < body.length && nextIsFolded(body, t)) {
            t++;
            const data = body[t]!;
            if (data === null || data.length <= 1) { inhead = false; break; }
            full += data;
          }
          parseEmailHeader(a, full, this.exceeded);
        } else if (boundaryEnd(line, boundary)) break;
        else if (boundaryStart(line, boundary)) { inhead = true; break; }
        else a.addLine(line);
      } while (++t < body.length);
      switch (subtype) {
        case MIXED: case ALTERNATIVE: case REPORT: case DIGEST: case APPLEDOUBLE: case KNOWBOT: case -1: {
          const old = rc;
          const r = this.doMultipart(main, messageIn, messages, messages.length - 1, rc, aText, level);
          main = r.main;
          rc = r.rc;
          if (rc === 'OK_ATTACHMENTS_NOT_SAVED' && old === 'OK') rc = 'OK';
          messages.pop();
          if (rc === 'VIRUS') infected = true;
          break;
        }
        case RELATED: case ENCRYPTED: case SIGNED: case PARALLEL:
          break;
        default:
          messages.pop();
      }
    }
    if (subtype === KNOWBOT || subtype === -1) mimeSubtype = 'mixed';
    if (main && main !== messageIn) main = null;
    if (infected || (messages.length === 0 && aText === null)) return rc === 'MAXREC' ? 'MAXREC' : 'OK_ATTACHMENTS_NOT_SAVED';
    const n = messages.length;
    const second = subtypeCode(mimeSubtype);
    const eachPart = (): void => {
      if (aText) main = null;
      for (let i = 0; i < n; i++) {
        const r = this.doMultipart(main, messageIn, messages, i, rc, aText, level + 1);
        main = r.main;
        rc = r.rc;
        if (rc === 'MAXREC') break;
        if (rc === 'OK_ATTACHMENTS_NOT_SAVED') rc = 'OK';
      }
    };
    switch (second) {
      case RELATED: {
        let h = textPart(messages);
        if (h >= 0) {
          const part = messages[h]!;
          if (part.body.length > 0) {
            if (aText) append(aText, textOf(part));
            else aText = textOf(part);
          }
        } else h = messages.findIndex((m) => m?.mimeType === 'MULTIPART');
        if (h >= 0) {
          rc = this.parseEmailBody(messages[h]!, aText, level + 1);
          if (rc === 'OK') messages[h] = null;
          else if (rc === 'VIRUS') { infected = true; break; }
        }
        eachPart();
        break;
      }
      case DIGEST: case ALTERNATIVE: case REPORT: case ENCRYPTED: case MIXED: case APPLEDOUBLE:
        eachPart();
        break;
      case SIGNED: case PARALLEL: {
        let h = textPart(messages);
        if (h === -1) h = 0;
        rc = this.parseEmailBody(messages[h] ?? null, aText, level + 1);
        break;
      }
      default:
        rc = 'OK';
    }
    if (aText && textIn === null && !infected) {
      this.keep(this.dir, { name: 'textpart', data: textBytes(aText, this.limit) });
      this.files++;
    }
    return rc;
  }

  /** `do_multipart`: one part of a multipart message. */
  private doMultipart(main: Message | null, messageIn: Message | null, messages: (Message | null)[], i: number, rc: Rc, aText: Line[] | null, level: number): { main: Message | null; rc: Rc } {
    const a = messages[i];
    if (!a || rc !== 'OK') return { main, rc };
    let addToText = false;
    switch (a.mimeType) {
      case 'APPLICATION': case 'AUDIO': case 'IMAGE': case 'VIDEO':
        break;
      case 'NOMIME':
        if (main) {
          if (a.binhexLine >= 0) this.exportBinhex(main);
          main = null;
        } else if (a.binhexLine >= 0) {
          this.exportBinhex(a);
          const fresh = new Message(true);
          messages[i] = fresh;
          return this.finishPart(main, messages, i, fresh, true, rc);
        }
        addToText = true;
        break;
      case 'TEXT': {
        const d = a.disposition;
        if (equalsCI(d, 'attachment')) break;
        if (d === '' || equalsCI(d, 'inline')) {
          main = null;
          if (subtypeCode(a.subtype) === PLAIN && a.encoding === 'NOENCODING') {
            if (!a.hasFilename()) addToText = true;
          } else {
            checkUrls(a);
            a.addArgument('filename=mixedtextportion');
          }
          break;
        }
        return { main, rc };
      }
      case 'MESSAGE': {
        const e = a.encoding;
        if ((e === 'NOENCODING' || e === 'EIGHTBIT' || e === 'BINARY') && a.encodingLine < 0) {
          messages[i] = null;
          return { main, rc };
        }
        this.saveTextPart(a);
        messages[i] = null;
        return { main, rc };
      }
      case 'MULTIPART':
        rc = this.parseEmailBody(a, aText, level + 1);
        messages[i] = null;
        return { main, rc };
      default:
        break;
    }
    void messageIn;
    return this.finishPart(main, messages, i, a, addToText, rc);
  }

  private finishPart(main: Message | null, messages: (Message | null)[], i: number, a: Message, addToText: boolean, rc: Rc): { main: Message | null; rc: Rc } {
    if (this.emit(exportMessage(a, this.limit), true) && !addToText) this.files++;
    messages[i] = null;
    return { main, rc };
  }

  /** The alert that ended the reading, if one did. */
  heuristic: string | undefined;

  /** `cli_parse_mbox`, with an e-mail limit alert ending it. */
  run(): 'OK' | 'FORMAT' | 'MAXREC' | 'MAXFILES' | 'ALERT' {
    try {
      return this.parseMbox();
    } catch (e) {
      if (!(e instanceof MailHeuristic)) throw e;
      this.heuristic = e.alert;
      return 'ALERT';
    }
  }

  /** `cli_parse_mbox`: one message, or an mbox of several. */
  private parseMbox(): 'OK' | 'FORMAT' | 'MAXREC' | 'MAXFILES' {
    const b = this.bytes;
    const first = fmapGets(b, 0);
    if (!first) return 'OK';
    let at = first.next;
    let body: Message | null = null;
    if (first.line.startsWith('From ')) {
      let m = new Message(true);
      let lastLineWasEmpty = false;
      let buffer: string | undefined = first.line;
      while (buffer !== undefined) {
        const buf = chomp(buffer);
        let skipAdd = false;
        if (lastLineWasEmpty && buf.startsWith('From ')) {
          const parsed = this.parseEmailHeaders(m);
          if (parsed === null) {
            m = new Message(true);
            skipAdd = true;
          } else {
            parsed.ctx = true;
            const rc = parsed.body.length > 0 ? this.parseEmailBody(parsed, null, 0) : 'OK';
            m = new Message(true);
            if (rc === 'FAIL') skipAdd = true;
          }
        } else lastLineWasEmpty = buf === '';
        if (!skipAdd) {
          if (isUuencodeBegin(buf)) {
            const next = this.uudecode(buf, at);
            if (next === undefined) m.addStr(buf);
            else at = next;
          } else m.addStr(buf);
        }
        const r = fmapGets(b, at);
        if (!r) break;
        at = r.next;
        buffer = r.line;
      }
      body = this.parseEmailHeaders(m);
    } else {
      let buffer = first.line;
      if (buffer.startsWith('P I ')) {
        for (;;) {
          const r = fmapGets(b, at);
          if (!r) break;
          at = r.next;
          buffer = r.line;
          if (buffer === '' || buffer[0] === '\r' || buffer[0] === '\n') break;
        }
      }
      while (buffer === '' || buffer[0] === '\r' || buffer[0] === '\n') {
        const r = getlineFromMbox(b, at);
        if (!r) break;
        at = r.next;
        buffer = r.line;
      }
      body = this.parseEmailFile(buffer, at);
    }
    if (body && body.body.length > 0) {
      body.ctx = true;
      const rc = this.parseEmailBody(body, null, 0);
      if (rc === 'FAIL') return 'FORMAT';
      if (rc === 'MAXREC') return 'MAXREC';
      if (rc === 'MAXFILES') return 'MAXFILES';
    }
    return 'OK';
  }
}

/** The magic of the file types ClamAV gives mail (`.ftm` lines of type 0 at offset 0). */
const MAIL_MAGIC: readonly string[] = BUILTIN_FTM
  .map((l) => l.split(':'))
  .filter((f) => f[0] === '0' && f[1] === '0' && f[5] === 'CL_TYPE_MAIL')
  .map((f) => Buffer.from(f[2]!, 'hex').toString('latin1'));

/** `isBounceStart`: an mbox `From ` line with a date, or a line ClamAV would type as mail. */
function isBounceStart(line: Line): boolean {
  if (!line) return false;
  const len = line.length;
  if (len < 6 || len >= 72) return false;
  if (line.startsWith('From ') || line.startsWith('>From ')) {
    let spaces = 0, digits = 0;
    for (let i = 4; i < len; i++) {
      const c = line.charCodeAt(i);
      if (c === 0x20) spaces++;
      else if (c >= 0x30 && c <= 0x39) digits++;
    }
    return spaces >= 6 && digits >= 11;
  }
  return MAIL_MAGIC.some((m) => line.startsWith(m));
}

/** `getTextPart`: the HTML part, else the last text part, else -1. */
function textPart(messages: readonly (Message | null)[]): number {
  let found = -1;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (m && m.mimeType === 'TEXT') {
      if (equalsCI(m.subtype, 'html')) return i;
      found = i;
    }
  }
  return found;
}

/**
 * ClamAV's URL check for phishing (`checkURLs`, on by default in clamscan): it exports the
 * message once more, into memory, before the reader saves it, and that export changes the
 * message (an argument `name=attachment`, `7-bit`/base64 added to an unencoded named part, the
 * yEnc mark used up). Only those changes are kept here; no URL is checked.
 */
function checkUrls(m: Message): void {
  exportMessage(m, 1);
}

/** Appends `more` to `list` in place (no spread: bodies can have millions of lines). */
function append(list: Line[], more: readonly Line[]): void {
  for (const l of more) list.push(l);
}

/** `textAddMessage`: a part's lines, decoded first when it has a transfer encoding. */
function textOf(m: Message): Line[] {
  if (m.encoding === 'NOENCODING') return [...m.body];
  return messageToText(m) ?? [];
}

/** What the mail reader writes: files scanned at once, files left in the directory, and how the reading ended. */
export interface MailFiles {
  now: { name: string; data: Uint8Array; overflowed: boolean }[];
  dir: { name: string; data: Uint8Array; overflowed: boolean }[];
  /** OK: the directory is scanned; otherwise it is not (and a limit is reported for MAXREC/MAXFILES, an alert for ALERT). */
  status: 'OK' | 'FORMAT' | 'MAXREC' | 'MAXFILES' | 'ALERT';
  /** With ALERT: `Heuristics.Limits.Exceeded.Email…`. */
  alert?: string;
}

/** Runs ClamAV's mail reading over `bytes` and returns every file it writes, empty ones left out. */
export function readMail(bytes: Uint8Array, ctx: UnpackContext): MailFiles {
  const r = new MailReader(bytes, ctx);
  let status: MailFiles['status'];
  try {
    status = r.run();
  } catch {
    status = 'FORMAT'; // defensive: a reader never throws out
  }
  // copies trimmed to their length, so that many small parts do not hold their growth room
  const conv = (c: Child): MailFiles['now'][number] => ({ name: c.name, data: c.data.view().slice(), overflowed: c.data.overflowed || c.data.length > ctx.limits.maxFileSize });
  return {
    now: r.now.filter((c) => c.data.length > 0).map(conv), dir: r.dir.filter((c) => c.data.length > 0).map(conv), status,
    ...(r.heuristic ? { alert: r.heuristic } : {}),
  };
}

/** Reads a CL_TYPE_MAIL (or MHTML) layer: its extracted files, in the order ClamAV scans them. */
export function* unpackMail(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  const files = readMail(bytes, ctx);
  const give = function* (c: MailFiles['now'][number]): Generator<UnpackItem> {
    if (c.overflowed) yield { name: c.name, limit: 'MaxFileSize' };
    else yield { name: c.name, data: c.data };
  };
  for (const c of files.now) yield* give(c);
  if (files.status === 'OK') for (const c of files.dir) yield* give(c);
  else if (files.status === 'MAXREC') yield { name: 'mail', limit: 'MaxRecursion' };
  else if (files.status === 'MAXFILES') yield { name: 'mail', limit: 'MaxFiles' };
  else if (files.alert) yield { alert: files.alert };
}
