/**
 * PDF → the objects ClamAV 1.4 dumps and scans: decoded streams, JavaScript, action objects, the
 * objects of object streams, the text of page contents; and the PDF heuristics.
 *
 * In: the bytes of a CL_TYPE_PDF layer (or of a layer from where `%PDF-` was found in another)
 * and the scan's limits and options. Out, lazily and in ClamAV's order: `Heuristics.Encrypted.PDF`
 * first (AlertEncryptedDoc, when the file is encrypted and the empty password does not open it),
 * then one child per dumped object (`pdf obj N G`, followed by `pdf obj N G contents` for page
 * contents), then `Heuristics.PDF.ObfuscatedNameObject` (HeuristicAlerts, when a common name such
 * as /JavaScript was written with `#xx` escapes). Never throws.
 *
 * How, after libclamav/pdf.c and pdfdecode.c (read for behaviour, not copied):
 * - The header `%PDF-` is searched in the first 1032 bytes; everything before it is ignored.
 * - Objects are found by scanning the text for `obj` preceded by whitespace and two numbers (the
 *   xref table is never trusted), each ending at the next `endobj` or the end of the file. An
 *   update glued to `%%EOF` (`%%EOF12 0 obj`) is read as ClamAV reads it: one digit short (object
 *   1 here; a one-digit object is lost). At most 65536 objects.
 * - Each object's dictionary is parsed for names, which set flags through a small state machine
 *   (`/Filter` then filter names, `/JavaScript`, `/OpenAction`, `/Contents` possibly moving their
 *   flag to the object they reference), and for a `stream`…`endstream` pair.
 * - What is dumped: unfiltered streams; filtered ones only with Flate, ASCIIHex, ASCII85 or DCT
 *   among their filters or another dump reason; non-stream objects with /JavaScript (their `/JS`
 *   string), an action, or a filter name. Images are dumped only as DCT.
 * - A stream's length is its distance to `endstream` (line end included) unless /Length (direct
 *   or indirect) is at most 2 bytes shorter; ClamAV reads `/Length N >>` as a failed `N G R` and
 *   so mostly uses the distance. Filters are applied in order and the chain stops at the first
 *   that fails, scanning the last good stage (the raw stream when none succeeded).
 * - JavaScript strings are copied without processing escapes (unless the file is decrypted), cut
 *   at a NUL, and followed by ClamAV's odd tail (from the string's last byte to the next token).
 * - `/Type/ObjStm` streams (written without a space, as ClamAV requires) add their objects,
 *   which are then parsed and dumped after all the others.
 * - Encryption: `/Encrypt` in the last 2048 bytes marks the file encrypted; with the Standard
 *   handler and the empty password, streams and JavaScript strings are decrypted (RC4, AES-128,
 *   AES-256) before their filters.
 * - Limits: decoded output beyond MaxFileSize is not produced (`{ limit: 'MaxFileSize' }`), as
 *   ClamAV's decoders stop there; the chain then falls back as on any failure.
 * ClamAV scans the PDF's own bytes before these children (its parser runs after the raw scan).
 */
import type { UnpackContext, UnpackItem } from '../unpack.js';
import { asciiHexDecode, ascii85Decode, flateDecode, hexValue, lzwDecode, runLengthDecode, type FilterResult } from './filters.js';
import { Enc, decryptObject, emptyPasswordKey } from './crypt.js';
import { at, isDigit, isPdfWs, isSpace, latin1, memchr, memstr, nextObject, strntol } from './text.js';

/** Object flags (ClamAV's `enum pdf_objflags`, as bit numbers). */
const enum F {
  STREAM = 0, DICT, EMBEDDED_FILE, FILTER_AH, FILTER_A85, FILTER_FLATE, FILTER_LZW, FILTER_RL, FILTER_FAX,
  FILTER_JBIG2, FILTER_DCT, FILTER_JPX, FILTER_CRYPT, FILTER_UNKNOWN, JAVASCRIPT, OPENACTION, HASFILTERS,
  SIGNED, IMAGE, TRUNCATED, FORCEDUMP, FILTER_STANDARD, LAUNCHACTION, PAGE, CONTENTS,
}
const bit = (f: F): number => 1 << f;

const DUMP_MASK = bit(F.CONTENTS) | bit(F.FILTER_FLATE) | bit(F.FILTER_DCT) | bit(F.FILTER_AH) | bit(F.FILTER_A85)
  | bit(F.EMBEDDED_FILE) | bit(F.JAVASCRIPT) | bit(F.OPENACTION) | bit(F.LAUNCHACTION);
const KNOWN_FILTERS = bit(F.FILTER_AH) | bit(F.FILTER_RL) | bit(F.FILTER_A85) | bit(F.FILTER_FLATE) | bit(F.FILTER_LZW)
  | bit(F.FILTER_FAX) | bit(F.FILTER_DCT) | bit(F.FILTER_JPX) | bit(F.FILTER_CRYPT);

const MAX_PDF_OBJECTS = 64 * 1024;
const FILTERLIST_MAX = 64;

const enum S { NONE, S, FILTER, JAVASCRIPT, OPENACTION, LINEARIZED, LAUNCHACTION, CONTENTS, ANY }

interface NameAction { flag: F; from: S; to: S; heuristic: boolean }

const act = (flag: F, from: S, to: S, heuristic = true): NameAction => ({ flag, from, to, heuristic });
/** ClamAV's `pdfname_actions`: what a name does to the object's flags and the parser state. */
const NAME_ACTIONS: ReadonlyMap<string, NameAction> = new Map([
  ['ASCIIHexDecode', act(F.FILTER_AH, S.FILTER, S.FILTER)],
  ['ASCII85Decode', act(F.FILTER_A85, S.FILTER, S.FILTER)],
  ['A85', act(F.FILTER_A85, S.FILTER, S.FILTER)],
  ['AHx', act(F.FILTER_AH, S.FILTER, S.FILTER)],
  ['EmbeddedFile', act(F.EMBEDDED_FILE, S.NONE, S.NONE)],
  ['FlateDecode', act(F.FILTER_FLATE, S.FILTER, S.FILTER)],
  ['Fl', act(F.FILTER_FLATE, S.FILTER, S.FILTER)],
  ['Image', act(F.IMAGE, S.NONE, S.NONE)],
  ['LZWDecode', act(F.FILTER_LZW, S.FILTER, S.FILTER)],
  ['LZW', act(F.FILTER_LZW, S.FILTER, S.FILTER)],
  ['RunLengthDecode', act(F.FILTER_RL, S.FILTER, S.FILTER)],
  ['RL', act(F.FILTER_RL, S.FILTER, S.FILTER)],
  ['CCITTFaxDecode', act(F.FILTER_FAX, S.FILTER, S.FILTER)],
  ['CCF', act(F.FILTER_FAX, S.FILTER, S.FILTER)],
  ['JBIG2Decode', act(F.FILTER_DCT, S.FILTER, S.FILTER)],
  ['DCTDecode', act(F.FILTER_DCT, S.FILTER, S.FILTER)],
  ['DCT', act(F.FILTER_DCT, S.FILTER, S.FILTER)],
  ['JPXDecode', act(F.FILTER_JPX, S.FILTER, S.FILTER)],
  ['Crypt', act(F.FILTER_CRYPT, S.FILTER, S.NONE)],
  ['Standard', act(F.FILTER_STANDARD, S.FILTER, S.FILTER)],
  ['Sig', act(F.SIGNED, S.ANY, S.NONE)],
  ['V', act(F.SIGNED, S.ANY, S.NONE)],
  ['R', act(F.SIGNED, S.ANY, S.NONE)],
  ['Linearized', act(F.DICT, S.NONE, S.LINEARIZED)],
  ['Filter', act(F.HASFILTERS, S.ANY, S.FILTER)],
  ['JavaScript', act(F.JAVASCRIPT, S.ANY, S.JAVASCRIPT)],
  ['Length', act(F.DICT, S.FILTER, S.NONE)],
  ['S', act(F.DICT, S.NONE, S.S)],
  ['Type', act(F.DICT, S.NONE, S.NONE)],
  ['OpenAction', act(F.OPENACTION, S.ANY, S.OPENACTION)],
  ['Launch', act(F.LAUNCHACTION, S.ANY, S.LAUNCHACTION)],
  ['Page', act(F.PAGE, S.NONE, S.NONE)],
  ['Contents', act(F.CONTENTS, S.NONE, S.CONTENTS)],
  ...['Author', 'Producer', 'CreationDate', 'ModDate', 'Creator', 'Title', 'Keywords', 'Subject', 'Pages', 'Colors', 'RichMedia', 'AcroForm', 'XFA']
    .map((n): [string, NameAction] => [n, act(F.DICT, S.NONE, S.NONE, false)]),
]);

interface ObjStm {
  first: number;
  n: number;
  buf: Uint8Array;
  currentPair: number;
  found: number;
}

interface PdfObj {
  /** Object number << 8 | generation & 0xff, as a uint32. */
  id: number;
  /** Offset just after `obj` (or of the object in its object stream's buffer). */
  start: number;
  size: number;
  flags: number;
  filters: F[];
  /** Offset of the stream data in the map, or -1. */
  stream: number;
  streamSize: number;
  objstm?: ObjStm | undefined;
  extracted: boolean;
  /** Position in the reader's list. */
  index: number;
}

const K = {
  obj: latin1('obj'), endobj: latin1('endobj'), stream: latin1('stream'), endstream: latin1('endstream'),
  pdf: latin1('%PDF-'), eof: latin1('%%EOF'), startxref: latin1('startxref'), encrypt: latin1('/Encrypt'),
  encryptMetadata: latin1('/EncryptMetadata'), length: latin1('/Length'), xref: latin1('/XRef'),
  javascript: latin1('/JavaScript'), standard: latin1('/Standard'), js: latin1('/JS'),
};

const DEC = new TextDecoder('latin1');

class PdfReader {
  readonly m: Uint8Array;
  readonly size: number;
  objs: PdfObj[] = [];
  offset = 0;
  encrypted = false;
  decryptable = false;
  escapedName = false;
  encObjId = -1;
  fileId: Uint8Array | undefined;
  key: Uint8Array | undefined;
  encStream = Enc.Unknown;
  encString = Enc.Unknown;
  encEmbedded = Enc.Unknown;

  constructor(m: Uint8Array, readonly ctx: UnpackContext) {
    this.m = m;
    this.size = m.length;
  }

  bufOf(o: PdfObj): Uint8Array { return o.objstm ? o.objstm.buf : this.m; }

  /** Positions of the objects of each id, in list order. */
  private byId = new Map<number, number[]>();

  addObj(o: PdfObj): void {
    o.index = this.objs.length;
    this.objs.push(o);
    const list = this.byId.get(o.id);
    if (list) list.push(o.index); else this.byId.set(o.id, [o.index]);
  }

  /** `find_obj`: the first object with this id at or after `from` in the list, else the first before it. */
  findObj(from: PdfObj | undefined, id: number): PdfObj | undefined {
    const list = this.byId.get(id);
    if (!list) return undefined;
    const i = from ? from.index : 0;
    let lo = 0, hi = list.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (list[mid]! < i) lo = mid + 1; else hi = mid; }
    return this.objs[lo < list.length ? list[lo]! : list[0]!];
  }

  /** `pdf_findobj`: the next `N G obj` … `endobj`; false when there are no more. */
  findNextObject(): boolean {
    const m = this.m;
    while (true) {
      if (this.objs.length >= MAX_PDF_OBJECTS) return false;
      const start = this.offset;
      let idx = start + 1;
      let bytesLeft = this.size - this.offset;
      let objBegin = -1;
      while (bytesLeft > 4) {
        idx = memstr(m, idx, bytesLeft - 1, K.obj);
        if (idx < 0) return false;
        idx--;
        bytesLeft = (this.size - this.offset) - (idx - start);
        if (!isPdfWs(at(m, idx))) {
          idx += 4;
          bytesLeft -= 4;
          continue;
        }
        objBegin = idx;
        break;
      }
      if (objBegin < 0) return false;
      const objEnd = objBegin + 4;
      const skip = (): void => { this.offset = objEnd; };
      // generation number before "obj"
      let g = objBegin - 1;
      while (g > start && isPdfWs(at(m, g))) g--;
      while (g > start && isDigit(at(m, g))) g--;
      const gen = strntol(m, g, objBegin - g);
      if (!gen || gen.value < 0) { skip(); continue; }
      // object number before that
      let o = g - 1;
      while (o > start && isPdfWs(at(m, o))) o--;
      while (o > start && isDigit(at(m, o))) o--;
      let num = strntol(m, o, g - o);
      if (!num) {
        // `%%EOF1 0 obj`: an incremental update glued to the previous end marker
        if (o - 4 > start) {
          if (Buffer.compare(Buffer.from(m.subarray(o - 4, o + 1)), Buffer.from(K.eof)) !== 0) { skip(); continue; }
          o++;
        } else { skip(); continue; }
        num = strntol(m, o, (g - 1) - o);
        if (!num || num.value < 0) { skip(); continue; }
      } else if (num.value < 0) { skip(); continue; }
      const obj: PdfObj = {
        id: ((num.low32 * 256) + (gen.low32 & 0xff)) % 4294967296,
        start: objEnd, size: 0, flags: 0, filters: [], stream: -1, streamSize: 0, extracted: false, index: 0,
      };
      const end = memstr(m, objEnd, this.size - objEnd, K.endobj);
      if (end < 0) {
        obj.flags |= bit(F.TRUNCATED);
        obj.size = this.size - objEnd;
        this.offset = this.size;
      } else {
        obj.size = end - objEnd;
        this.offset = end + 6;
      }
      this.addObj(obj);
      return true;
    }
  }

  /** `find_stream_bounds` with ClamAV's CR LF LF allowance. */
  streamBounds(o: PdfObj): void {
    const m = this.m;
    const s = memstr(m, o.start, o.size, K.stream);
    if (s < 0) return;
    let idx = s + 6;
    let left = o.size;
    if (idx - o.start >= left) return;
    left -= idx - o.start;
    if (left >= 2 && at(m, idx) === 0x0d && at(m, idx + 1) === 0x0a) {
      idx += 2; left -= 2;
      if (left > 2 && at(m, idx) === 0x0a) { idx++; left--; }
    } else if (left && at(m, idx) === 0x0a) {
      idx++; left--;
    }
    const e = memstr(m, idx, left, K.endstream);
    o.flags |= bit(F.STREAM);
    o.stream = idx;
    o.streamSize = (e < 0 ? o.start + o.size : e) - idx;
  }

  handleName(o: PdfObj, name: string, escapes: boolean, state: { s: S }): void {
    const a = NAME_ACTIONS.get(name);
    if (!a) return;
    if (o.filters.length < FILTERLIST_MAX && state.s === S.FILTER && (bit(a.flag) & KNOWN_FILTERS)) o.filters.push(a.flag);
    if (a.heuristic && escapes) this.escapedName = true;
    if (a.from === state.s || a.from === S.ANY) {
      state.s = a.to;
      o.flags |= bit(a.flag);
    } else if (state.s === S.S) {
      state.s = S.NONE;
    }
  }

  /** `pdf_parseobj`: stream bounds, dictionary names and the flags they set. */
  parseObject(o: PdfObj): void {
    const b = this.bufOf(o);
    const bufLen = b.length;
    if (o.start > bufLen) return;
    if (o.size <= 0) return;
    const start = o.start;
    let q = start;
    let bytesLeft = Math.min(o.size, bufLen - o.start);
    if (!o.objstm) this.streamBounds(o);

    // the dictionary's opening "<<"
    let q3 = -1;
    do {
      const nextobj = nextObject(b, q, bytesLeft);
      if (nextobj < 0) return;
      bytesLeft -= nextobj - q;
      if (bytesLeft < 0) return;
      q3 = q === 0 ? memchr(b, q, nextobj - q, 0x3c) : memchr(b, q - 1, nextobj - q + 1, 0x3c);
      q = nextobj + 1;
      bytesLeft--;
    } while (q3 < 0 || at(b, q3 + 1) !== 0x3c);
    const dict = q3 + 2;
    q = dict;
    let blockOpens = 1;
    bytesLeft = o.size - (q - start);
    if (bytesLeft < 0) return;
    const endDict0 = q + bytesLeft - 1;
    let nextClose = -1;
    while (q < endDict0 - 1 && blockOpens > 0) {
      nextClose = memchr(b, q, endDict0 - q, 0x3e);
      if (nextClose >= 0 && at(b, nextClose + 1) === 0x3e) {
        for (;;) {
          const nextOpen = memchr(b, q - 1, nextClose - q + 1, 0x3c);
          if (nextOpen < 0) break;
          if (at(b, nextOpen + 1) === 0x3c) blockOpens++;
          q = nextOpen + 2;
        }
        blockOpens--;
        q = nextClose + 2;
      } else if (nextClose >= 0) {
        q = nextClose + 2;
      } else {
        break;
      }
    }
    if (blockOpens) return;
    o.flags |= bit(F.DICT);
    const fullDictLength = nextClose - dict;
    let dictLength = fullDictLength;
    const state = { s: S.NONE };

    for (q = dict; dictLength > 0;) {
      const q2 = memchr(b, q, dictLength, 0x2f);
      if (q2 < 0) break;
      dictLength -= q2 - q;
      q = q2;
      let escapes = false;
      let name = '';
      let i = 0;
      for (; dictLength > 0 && i < 63; i++) {
        q++;
        dictLength--;
        const c = at(b, q);
        if (c === 0x23) {
          const hi = hexValue(at(b, q + 1)), lo = hexValue(at(b, q + 2));
          if (hi < 0 || lo < 0) break;
          name += String.fromCharCode((hi << 4) | lo);
          q += 2;
          dictLength -= 2;
          escapes = true;
          continue;
        }
        if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a || c === 0x2f || c === 0x3e || c === 0x5b || c === 0x5d || c === 0x3c || c === 0x28) break;
        name += String.fromCharCode(c);
      }
      const nul = name.indexOf('\0');
      if (nul >= 0) name = name.slice(0, nul);
      this.handleName(o, name, escapes, state);
      if (state.s === S.LINEARIZED) {
        state.s = S.NONE;
        const h = readInt(b, dict, fullDictLength, '/H');
        if (h > 0 && h < this.size) {
          const t = Math.max(0, h - 1024);
          this.parseTrailer(t, h - t);
        }
      }
      if (dictLength > 0 && (state.s === S.JAVASCRIPT || state.s === S.OPENACTION || state.s === S.CONTENTS)) {
        let rem = dictLength;
        let r = nextObject(b, q, rem);
        if (r >= 0 && isDigit(at(b, r))) {
          rem -= r - q;
          const num = strntol(b, r, rem);
          if (!num || num.value < 0) return;
          while (rem > 0 && isDigit(at(b, r))) { r++; rem--; }
          const old = r;
          r = nextObject(b, r, rem);
          if (r >= 0 && isDigit(at(b, r))) {
            rem -= r - old;
            const gen = strntol(b, r, rem);
            if (!gen || gen.value < 0) return;
            const id = ((num.low32 * 256) + (gen.low32 & 0xff)) % 4294967296;
            r = nextObject(b, r, rem);
            if (r >= 0 && at(b, r) === 0x52) {
              const other = this.findObj(o, id);
              if (other) {
                const f = state.s === S.JAVASCRIPT ? F.JAVASCRIPT : state.s === S.OPENACTION ? F.OPENACTION : F.CONTENTS;
                o.flags &= ~bit(f);
                other.flags |= bit(f);
              }
            }
          }
        }
        state.s = S.NONE;
      }
    }
  }

  /** `pdf_parse_trailer`: `/Encrypt` (and the file ID) in a trailer region of the map. */
  parseTrailer(s: number, length: number): void {
    const m = this.m;
    const enc = memstr(m, s, length, K.encrypt);
    if (enc < 0) return;
    this.encrypted = true;
    this.parseEncrypt(enc, s + length - enc);
    const id = readString(m, s, length, '/ID', false);
    if (id) this.fileId = id.data;
  }

  parseEncrypt(enc: number, len: number): void {
    const m = this.m;
    if (len >= 16 && Buffer.compare(Buffer.from(m.subarray(enc, enc + 16)), Buffer.from(K.encryptMetadata)) === 0) {
      const q = memstr(m, enc + 16, len - 16, K.encrypt);
      if (q < 0) return;
      len -= q - enc;
      enc = q;
    }
    let q = enc + 8;
    len -= 8;
    let q2 = nextObject(m, q, len);
    if (q2 < 0 || !isDigit(at(m, q2))) return;
    len -= q2 - q;
    q = q2;
    const num = strntol(m, q2, len);
    if (!num || num.value < 0) return;
    q2 = nextObject(m, q, len);
    if (q2 < 0 || !isDigit(at(m, q2))) return;
    len -= q2 - q;
    q = q2;
    const gen = strntol(m, q2, len);
    if (!gen || gen.value < 0) return;
    q2 = nextObject(m, q, len);
    if (q2 < 0 || at(m, q2) !== 0x52) return;
    this.encObjId = ((num.low32 * 256) + (gen.low32 & 0xff)) % 4294967296;
  }

  /** `pdf_handle_enc`: the Standard handler's key for the empty password, if it opens the file. */
  handleEncryption(): void {
    if (this.encObjId < 0 || !this.fileId || this.objs.length === 0) return;
    const o = this.findObj(this.objs[0], this.encObjId);
    if (!o) return;
    const b = this.bufOf(o);
    const q = o.start;
    const len = o.size;
    if (q + len > b.length) return;
    this.encString = this.encStream = this.encEmbedded = Enc.Unknown;
    const q2 = memstr(b, q, len, K.standard);
    if (q2 < 0) return;
    let length = readInt(b, q2, len - (q2 - q), '/Length') >>> 0;
    if (length === 0xffffffff) length = readInt(b, q, len, '/Length') >>> 0;
    if (length < 40) length = 40;
    const R = readInt(b, q, len, '/R') >>> 0;
    if (R === 0xffffffff || R > 6 || R < 2) return;
    const P = readInt(b, q, len, '/P');
    if (R < 6 && P === -1) return;
    const ouLen = R < 5 ? 32 : 48;
    let em = true;
    let OE: Uint8Array | undefined, UE: Uint8Array | undefined;
    if (R === 2 || R === 3) {
      this.encStream = this.encString = this.encEmbedded = Enc.V2;
    } else {
      em = readBool(b, q, len, '/EncryptMetadata', true);
      const stmF = readVal(b, q, len, '/StmF');
      const strF = readVal(b, q, len, '/StrF');
      const eff = readVal(b, q, len, '/EFF');
      const cf = getDict(b, q, len, '/CF');
      const method = (key: string | undefined, def: Enc): Enc => encMethod(b, cf, key, def);
      this.encStream = method(stmF, Enc.Identity);
      this.encString = method(strF, Enc.Identity);
      this.encEmbedded = method(eff, this.encStream);
      if (R === 4) length = 128;
      else {
        length = 256;
        UE = readString(b, q, len, '/UE', false)?.data;
        OE = readString(b, q, len, '/OE', false)?.data;
      }
    }
    const O = readString(b, q, len, '/O', false)?.data;
    if (!O || O.length < ouLen || O.subarray(ouLen).some((c) => c !== 0)) return;
    const U = readString(b, q, len, '/U', false)?.data;
    if (!U || U.length < ouLen || U.subarray(ouLen).some((c) => c !== 0)) return;
    if (length % 8) return;
    const key = emptyPasswordKey({ R, P, O, U, OE, UE, length, encryptMetadata: em, fileId: this.fileId });
    if (key) {
      this.key = key;
      this.decryptable = true;
    }
  }

  encFor(o: PdfObj): Enc {
    if (o.flags & bit(F.EMBEDDED_FILE)) return this.encEmbedded;
    if (o.flags & bit(F.STREAM)) return this.encStream;
    return this.encString;
  }

  /** `find_length`: the stream's /Length, direct or indirect, clipped to the file. */
  findLength(o: PdfObj, dictStart: number, dictLen: number): number {
    const m = this.m;
    if (dictLen < 8) return 0;
    let index = memstr(m, dictStart, dictLen, K.length);
    if (index < 0) return 0;
    let rem = dictLen - (index - dictStart);
    if (rem < 1) return 0;
    index++;
    rem--;
    const valueAt = nextObject(m, index, rem);
    if (valueAt < 0) return 0;
    if (rem < valueAt - index) return 0;
    rem -= valueAt - index;
    index = valueAt;
    const first = strntol(m, index, rem);
    if (!first || first.value < 0) return 0;
    let length = first.value;
    while (rem > 0 && isDigit(at(m, index))) { index++; rem--; }
    if (rem > 0 && at(m, index) === 0x20) {
      index++;
      rem--;
      const gen = strntol(m, index, rem);
      if (!gen || gen.value < 0) return 0;
      while (rem > 0 && isDigit(at(m, index))) { index++; rem--; }
      if (rem < 2) return 0;
      if (at(m, index) === 0x20 && at(m, index + 1) === 0x52) {
        const target = this.findObj(o, ((first.low32 * 256) + (gen.low32 & 0xff)) % 4294967296);
        if (!target) return 0;
        const tb = this.bufOf(target);
        if (target.start + target.size > tb.length) return 0;
        let trem = tb.length - target.start;
        const v = nextObject(tb, target.start, trem);
        if (v < 0) return 0;
        trem -= v - target.start;
        const n = strntol(tb, v, trem);
        if (!n || n.value < 0) return 0;
        length = n.value;
      }
    }
    if (valueAt + length + 5 > this.size) length = valueAt + 5 > this.size ? Number.MAX_SAFE_INTEGER : this.size - valueAt - 5;
    return length;
  }

  /** `pdf_extract_obj`: the children one object gives. */
  *extract(o: PdfObj): Generator<UnpackItem> {
    if (o.extracted) return;
    o.extracted = true;
    const fl = o.flags;
    let dump = true;
    if ((!(fl & bit(F.STREAM)) || (fl & bit(F.HASFILTERS))) && !(fl & DUMP_MASK)) dump = false;
    if ((fl & bit(F.IMAGE)) && !(fl & bit(F.FILTER_DCT))) dump = false;
    if (!dump) return;
    const name = `pdf obj ${o.id >>> 8} ${o.id & 0xff}`;
    let out: Uint8Array | undefined;
    const limited: UnpackItem[] = [];

    if (!o.objstm && (fl & bit(F.STREAM))) {
      const m = this.m;
      const start = o.start;
      const dictLen = o.stream - start;
      let length = this.findLength(o, start, dictLen);
      if (length > o.streamSize) length = o.streamSize;
      if (!(fl & bit(F.FILTER_FLATE)) && length === 0) {
        length = o.streamSize;
        // (ClamAV looks at the bytes before start + streamSize, not at the stream's end)
        let q = start + o.streamSize - 1;
        if (length > 0) {
          if (at(m, q) === 0x0a) {
            q--;
            length--;
            if (length > 0 && at(m, q) === 0x0d) length--;
          } else if (at(m, q) === 0x0d) {
            length--;
          }
        }
      } else if (o.streamSize > length + 2) {
        length = o.streamSize;
      }
      if (length === 0) length = o.streamSize;
      if (length === 0) return;
      const xref = memstr(m, start, dictLen, K.xref) >= 0;
      const earlyChange = this.earlyChange(start, dictLen);
      let isObjStm = false;
      let first = -1, n = -1;
      if (getDict(m, start, dictLen, '/Type/ObjStm') >= 0) {
        first = readInt(m, start, dictLen, '/First');
        const len = first === -1 ? -1 : readInt(m, start, dictLen, '/Length');
        n = len === -1 ? -1 : readInt(m, start, dictLen, '/N');
        isObjStm = first !== -1 && len !== -1 && n !== -1;
      }
      const r = this.decodeStream(o, m.subarray(o.stream, o.stream + length), xref, earlyChange, limited);
      out = r.out;
      if (isObjStm && r.ok) this.parseObjStm(first, n, r.content);
    } else if (fl & bit(F.JAVASCRIPT)) {
      out = this.extractJs(o);
    } else {
      const b = this.bufOf(o);
      out = b.subarray(o.start, o.start + o.size);
    }
    yield* limited;
    if (!out || out.length === 0) return;
    yield { name, data: out };
    if (o.flags & bit(F.CONTENTS)) {
      const text = contentsText(out);
      if (text.length > 0) yield { name: `${name} contents`, data: text };
    }
  }

  earlyChange(start: number, dictLen: number): boolean {
    const m = this.m;
    let p = getDict(m, start, dictLen, '/DecodeParms');
    if (p < 0) p = getDict(m, start, dictLen, '/DP');
    if (p < 0) return true;
    const end = start + dictLen;
    while (p < end && at(m, p) !== 0x3c) p++;
    if (end - p <= 4 || at(m, p + 1) !== 0x3c) return true;
    // the parameters dictionary: up to its matching ">>"
    let depth = 0, q = p;
    for (; q + 1 < end; q++) {
      if (at(m, q) === 0x3c && at(m, q + 1) === 0x3c) { depth++; q++; } else if (at(m, q) === 0x3e && at(m, q + 1) === 0x3e) { if (--depth === 0) break; q++; }
    }
    const k = memstr(m, p, q - p, latin1('/EarlyChange'));
    if (k < 0) return true;
    let v = k + 12;
    while (v < q && isSpace(at(m, v))) v++;
    const num = strntol(m, v, q - v);
    return num ? num.value !== 0 : true;
  }

  /** `pdf_decodestream`: decryption, the filter chain, and what is scanned. */
  decodeStream(o: PdfObj, raw: Uint8Array, xref: boolean, earlyChange: boolean, limited: UnpackItem[]): { out: Uint8Array | undefined; ok: boolean; content: Uint8Array } {
    const maxFileSize = this.ctx.limits.maxFileSize;
    const name = `pdf obj ${o.id >>> 8} ${o.id & 0xff}`;
    const fitsLimit = (n: number): boolean => {
      if (maxFileSize > 0 && n > maxFileSize) { limited.push({ name, limit: 'MaxFileSize', size: n }); return false; }
      return true;
    };
    if (raw.length === 0) return { out: undefined, ok: false, content: raw };
    let content: Uint8Array = raw;
    let success = 0;
    let ok = true;
    let decryptFailed = false;
    if (this.decryptable && !(o.flags & bit(F.FILTER_CRYPT)) && !xref) {
      const d = decryptObject(this.key!, o.id, content, this.encFor(o));
      if (!d) { ok = false; decryptFailed = true; } else content = d;
    }
    if (!decryptFailed) {
      for (const f of o.filters) {
        let r: FilterResult;
        switch (f) {
          case F.FILTER_A85: r = ascii85Decode(content); break;
          case F.FILTER_RL: r = runLengthDecode(content, maxFileSize); break;
          case F.FILTER_FLATE: r = flateDecode(content, maxFileSize); break;
          case F.FILTER_AH: r = asciiHexDecode(content); break;
          case F.FILTER_LZW: r = lzwDecode(content, earlyChange, maxFileSize); break;
          case F.FILTER_CRYPT: {
            const d = this.key ? decryptObject(this.key, o.id, content, Enc.Identity) : undefined;
            r = d ? { status: 'ok', data: d } : { status: 'error' };
            break;
          }
          default: r = { status: 'ok', data: content }; break;
        }
        if (r.status === 'empty') { content = new Uint8Array(0); break; }
        if (r.status === 'limit') limited.push({ name, limit: 'MaxFileSize' });
        if (r.status === 'error' || r.status === 'limit') { ok = false; break; }
        if (f === F.FILTER_DCT || f === F.FILTER_JPX || f === F.FILTER_FAX || f === F.FILTER_JBIG2) break;
        content = r.data;
        if (content.length === 0) break;
        success++;
      }
    }
    let out: Uint8Array | undefined;
    if (success > 0 && !decryptFailed) {
      if (fitsLimit(content.length)) out = content;
    }
    if (success === 0) {
      if (fitsLimit(raw.length)) out = raw;
    }
    return { out, ok, content };
  }

  /** `pdf_find_and_parse_objs_in_objstm`: the objects an object stream holds, parsed now. */
  parseObjStm(first: number, n: number, buf: Uint8Array): void {
    if (first === 0 || buf.length === 0 || n === 0) return;
    const firstU = first < 0 ? first + 4294967296 * 4294967296 : first;
    const nU = n < 0 ? Number.MAX_SAFE_INTEGER : n;
    if (firstU >= buf.length) return;
    const stm: ObjStm = { first: firstU, n: nU, buf, currentPair: 0, found: 0 };
    for (let i = 0; i < stm.n; i++) {
      const o = this.findInObjStm(stm);
      if (!o) break;
      this.parseObject(o);
    }
  }

  findInObjStm(stm: ObjStm): PdfObj | undefined {
    if (this.objs.length >= MAX_PDF_OBJECTS) return undefined;
    const b = stm.buf;
    const len = b.length;
    let index = stm.currentPair;
    const id = strntol(b, index, len - index);
    if (!id || id.value < 0) return undefined;
    while (index < len && isDigit(at(b, index))) index++;
    index = skipWs(b, index, stm.first);
    const off = strntol(b, index, len - index);
    if (!off || off.value < 0) return undefined;
    const objoff = off.value;
    if (stm.first + objoff > len) return undefined;
    const o: PdfObj = {
      id: (id.low32 * 256) % 4294967296, start: stm.first + objoff, size: 0, flags: 0, filters: [],
      stream: -1, streamSize: 0, objstm: stm, extracted: false, index: 0,
    };
    stm.found++;
    while (index < len && isDigit(at(b, index))) index++;
    stm.currentPair = skipWs(b, index, stm.first);
    if (stm.found < stm.n && index < len) {
      index = stm.currentPair;
      while (index < len && isDigit(at(b, index))) index++;
      index = skipWs(b, index, stm.first);
      const next = strntol(b, index, len - index);
      if (!next || next.value < 0) return undefined;
      if (next.value <= objoff || stm.first + next.value > len) return undefined;
      o.size = next.value - objoff;
    } else {
      o.size = len - o.start;
    }
    this.addObj(o);
    return o;
  }

  /** The `/JS` strings after each `/JavaScript` of a non-stream object, as ClamAV writes them. */
  extractJs(o: PdfObj): Uint8Array | undefined {
    const b = this.bufOf(o);
    let q = o.start;
    let bytesLeft = o.size;
    const parts: Uint8Array[] = [];
    let sum = 0;
    const maxFileSize = this.ctx.limits.maxFileSize;
    const write = (d: Uint8Array): void => {
      if (maxFileSize > 0 && sum > maxFileSize) return;
      parts.push(d);
      sum += d.length;
    };
    // Where the next "/JS" is: once none is left, no later "/JavaScript" can give a string
    // (the search result is reused while it lies ahead, keeping hostile objects linear).
    let nextJs = -2;
    do {
      const q2 = memstr(b, q, bytesLeft, K.javascript);
      if (q2 < 0) break;
      bytesLeft -= q2 - q + 11;
      q = q2 + 11;
      if (nextJs !== -1 && nextJs < q) nextJs = memstr(b, q, bytesLeft, K.js);
      if (nextJs < 0) break;
      const js = readString(b, q, bytesLeft, '/JS', !this.decryptable);
      const qend = js ? js.end : q;
      bytesLeft -= qend - q;
      q = qend;
      if (js) {
        let data = js.data;
        const nul = data.indexOf(0);
        if (nul >= 0) data = data.subarray(0, nul);
        if (this.decryptable && data.length > 0) {
          const d = decryptObject(this.key!, o.id, data, this.encString);
          if (d) data = d;
        }
        write(data);
        if (bytesLeft > 0) {
          let e = nextObject(b, q, bytesLeft);
          if (e < 0) e = q + bytesLeft - 1;
          const paren = memchr(b, q, bytesLeft, 0x29);
          if (paren >= 0 && paren < e) e = paren;
          while (e > q && at(b, e - 1) === 0x20) e--;
          if (e > q) write(b.subarray(q - 1, e));
        }
      }
    } while (bytesLeft > 0);
    return parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }
}

function skipWs(b: Uint8Array, p: number, end: number): number {
  while (p < end && isPdfWs(at(b, p))) p++;
  return p;
}

/** `pdf_getdict`: where the value of `key` starts (brackets of a dictionary included), or -1. */
function getDict(b: Uint8Array, q0: number, len: number, key: string): number {
  return getDictLen(b, q0, len, key)?.at ?? -1;
}

function getDictLen(b: Uint8Array, q0: number, len: number, key: string): { at: number; len: number } | undefined {
  if (len <= 0) return undefined;
  const k = memstr(b, q0, len, latin1(key));
  if (k < 0) return undefined;
  len -= k - q0;
  let q = nextObject(b, k + 1, len - 1);
  if (q < 0) return undefined;
  while (q > k && (at(b, q - 1) === 0x3c || at(b, q - 1) === 0x0a)) q--;
  len -= q - k;
  return { at: q, len };
}

/** `pdf_readint`: the integer value of `key`, or -1 (as a C int). */
function readInt(b: Uint8Array, q0: number, len: number, key: string): number {
  const v = getDictLen(b, q0, len, key);
  if (!v) return -1;
  const n = strntol(b, v.at, v.len);
  if (!n) return -1;
  return n.low32 | 0;
}

function readBool(b: Uint8Array, q0: number, len: number, key: string, def: boolean): boolean {
  const v = getDictLen(b, q0, len, key);
  if (!v || v.len < 5) return def;
  const s = DEC.decode(b.subarray(v.at, v.at + 5));
  if (s.startsWith('true')) return true;
  if (s === 'false') return false;
  return def;
}

/** `pdf_readval`: a name value (without its slash), or undefined. */
function readVal(b: Uint8Array, q0: number, len0: number, key: string): string | undefined {
  const v = getDictLen(b, q0, len0, key);
  if (!v || v.len <= 0) return undefined;
  let q = v.at;
  let len = v.len;
  while (len > 0 && at(b, q) === 0x20) { q++; len--; }
  if (at(b, q) !== 0x2f) return undefined;
  q++;
  len--;
  let end = q;
  while (len > 0 && at(b, end) !== 0 && !(at(b, end) === 0x2f || (len > 1 && at(b, end) === 0x3e && at(b, end + 1) === 0x3e))) { end++; len--; }
  while (len < len0 && end > q && isSpace(at(b, end - 1))) { end--; len++; }
  return DEC.decode(b.subarray(q, end));
}

/** `parse_enc_method`: the crypt filter method a /StmF, /StrF or /EFF name selects in /CF. */
function encMethod(b: Uint8Array, cf: number, key: string | undefined, def: Enc): Enc {
  if (key === undefined) return def;
  if (key === 'Identity') return Enc.Identity;
  if (cf < 0) return def;
  const v = getDictLen(b, cf, b.length - cf, key);
  if (!v) return def;
  const cfm = readVal(b, v.at, v.len, '/CFM');
  if (cfm === undefined) return Enc.Unknown;
  if (cfm.startsWith('V2')) return Enc.V2;
  if (cfm.startsWith('AESV2')) return Enc.AESV2;
  if (cfm.startsWith('AESV3')) return Enc.AESV3;
  if (cfm.startsWith('None')) return Enc.None;
  return Enc.Unknown;
}

/**
 * `pdf_readstring`: the string value of `key` (literal with its escapes unless `noEscape`, or
 * hex), and where reading stopped; undefined when ClamAV's reader gives NULL.
 */
function readString(b: Uint8Array, q0: number, len0: number, key: string, noEscape: boolean): { data: Uint8Array; end: number } | undefined {
  const v = getDictLen(b, q0, len0, key);
  if (!v || v.len <= 0) return undefined;
  let q = v.at;
  let len = v.len;
  if (at(b, q) === 0x28) {
    let paren = 1;
    const start = ++q;
    len--;
    for (; paren > 0 && len > 0; q++, len--) {
      const c = at(b, q);
      if (c === 0x28) paren++;
      else if (c === 0x29) paren--;
      else if (c === 0x5c) { q++; len--; }
    }
    if (len <= 0) return undefined;
    const end = q;
    const contentEnd = q - 1;
    if (noEscape) return { data: b.subarray(start, contentEnd), end };
    const out = new Uint8Array(Math.max(0, contentEnd - start));
    let j = 0;
    for (let p = start; p < contentEnd; p++) {
      const c = at(b, p);
      if (c !== 0x5c) { out[j++] = c; continue; }
      p++;
      const e = at(b, p);
      switch (e) {
        case 0x6e: out[j++] = 0x0a; break;
        case 0x72: out[j++] = 0x0d; break;
        case 0x74: out[j++] = 0x09; break;
        case 0x62: out[j++] = 0x08; break;
        case 0x66: out[j++] = 0x0c; break;
        case 0x28: case 0x29: case 0x5c: out[j++] = e; break;
        case 0x0a: break;
        case 0x0d: if (p + 1 < contentEnd && at(b, p + 1) === 0x0a) p++; break;
        default:
          if (isDigit(e)) {
            if (p + 2 < contentEnd) {
              out[j++] = (64 * (e - 0x30) + 8 * (at(b, p + 1) - 0x30) + (at(b, p + 2) - 0x30)) & 0xff;
              p += 2;
            }
          } else {
            out[j++] = 0x5c;
            p--;
          }
      }
    }
    return { data: out.subarray(0, j), end };
  }
  if (at(b, q) === 0x3c && len >= 3) {
    let start = ++q;
    len -= 1;
    while (len > 0 && at(b, start) === 0x0a) { start = ++q; len -= 1; }
    const close = memchr(b, q + 1, len - 1, 0x3e);
    if (close < 0) return undefined;
    const n = close - start;
    const out = new Uint8Array(n >> 1);
    for (let i = 0; i < n; i += 2) {
      const hi = hexValue(at(b, start + i)), lo = hexValue(at(b, start + i + 1));
      if (hi < 0 || lo < 0) return undefined;
      out[i >> 1] = (hi << 4) | lo;
    }
    return { data: out, end: close };
  }
  return undefined;
}

const NORM = (() => {
  // ClamAV's text normalisation: A-Z lowered, 0x21-0x7f kept, whitespace runs → one space, the rest dropped.
  const t = new Uint8Array(256); // 0 skip, 1 copy, 2 space, 3 lower
  for (let c = 0x21; c <= 0x7f; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 3;
  for (const c of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]) t[c] = 2;
  return t;
})();

/**
 * `pdf_scan_contents`: the text inside `( )` after the first `[` of a content stream, normalised,
 * read as ClamAV reads it (8 KiB at a time, a line skipped when it does not start with `[`, one
 * byte lost each time the 8 KiB output buffer is flushed).
 */
export function contentsText(src: Uint8Array): Uint8Array {
  const OUT = 8192, IN = 8192;
  const parts: Uint8Array[] = [];
  let buf = new Uint8Array(OUT);
  let pos = 0;
  let space = false;
  let st = 0; // 0 none, 1 in TJ array, 2 in a string of it
  for (let chunk = 0; chunk < src.length; chunk += IN) {
    const end = Math.min(src.length, chunk + IN);
    let p = chunk;
    let length = end - chunk;
    do {
      const c = src[p]!;
      if (st === 0) {
        if (c === 0x5b) st = 1;
        else {
          const nl = memchr(src, p, length, 0x0a);
          if (nl < 0) break;
          length -= nl - p;
          p = nl;
        }
      } else if (st === 1) {
        if (c === 0x28) st = 2;
      } else if (c === 0x29) {
        st = 1;
      } else {
        if (pos >= OUT) {
          parts.push(buf);
          buf = new Uint8Array(OUT);
          pos = 0;
          space = false;
        } else {
          const a = NORM[c]!;
          if (a === 2) { if (!space) buf[pos++] = 0x20; space = true; } else if (a !== 0) { space = false; buf[pos++] = a === 3 ? c + 32 : c; }
        }
      }
      p++;
      if (length > 0) length--;
    } while (length > 0);
  }
  parts.push(buf.subarray(0, pos));
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** The items of a PDF layer; see the module comment. */
export function* pdfItems(bytes: Uint8Array, ctx: UnpackContext): Generator<UnpackItem> {
  const verSize = Math.min(bytes.length, 1032);
  const hdr = memstr(bytes, 0, verSize, K.pdf);
  if (hdr < 0 || verSize - hdr < 8) return;
  const m = bytes.subarray(hdr);
  const pdf = new PdfReader(m, ctx);

  // Trailer: %%EOF, startxref and /Encrypt in the last 2048 bytes of the whole layer.
  const tail = Math.max(0, bytes.length - 2048);
  const tailLen = bytes.length - tail;
  let q = tail + tailLen - 5;
  for (; q > tail; q--) if (bytes[q] === 0x25 && memstr(bytes, q, 5, K.eof) === q) break;
  if (q > tail) {
    q -= 9;
    for (; q > tail; q--) if (bytes[q] === 0x73 && memstr(bytes, q, 9, K.startxref) === q) break;
    if (q > tail) {
      if (tail >= hdr) pdf.parseTrailer(tail - hdr, tailLen);
      else parseTrailerBefore(pdf, bytes, tail, tailLen);
    }
  }

  while (pdf.findNextObject()) { /* all objects first */ }
  for (const o of pdf.objs.slice()) pdf.parseObject(o);
  pdf.handleEncryption();
  if (ctx.options.alertEncryptedDoc && pdf.encrypted && !pdf.decryptable) yield { alert: 'Heuristics.Encrypted.PDF' };
  for (let i = 0; i < pdf.objs.length; i++) yield* pdf.extract(pdf.objs[i]!);
  if (ctx.options.heuristicAlerts && pdf.escapedName) yield { alert: 'Heuristics.PDF.ObfuscatedNameObject' };
}

/** A trailer region that begins before the header: read from a copy holding it. */
function parseTrailerBefore(pdf: PdfReader, bytes: Uint8Array, tail: number, tailLen: number): void {
  const r = new PdfReader(bytes, pdf.ctx);
  r.parseTrailer(tail, tailLen);
  pdf.encrypted = r.encrypted;
  pdf.encObjId = r.encObjId;
  pdf.fileId = r.fileId;
}
