/**
 * Script text → ClamAV 1.4's normalised JavaScript (the `javascript` file its HTML normaliser writes).
 *
 * In: the bytes of one `<script>` block, fed in the pieces the HTML normaliser hands over. Out: the
 * block's normalised form, `<script>…</script>`, lower-cased, with:
 * - comments and whitespace dropped (one space only between two alphanumeric tokens);
 * - string literals unescaped (`\n`, `\xHH`, `\uHHHH` as UTF-8) and always double-quoted, and
 *   `"a" + "b"` folded into `"ab"`;
 * - declared names (`var`, function parameters, function names) renamed `n000`, `n001`… in order
 *   of declaration, looked up through the enclosing function scopes; member names after `.` kept;
 * - integers re-printed as C `%ld` of `atoi`, other numbers as `%g`;
 * - `unescape("…")` folded, `eval("…")` replaced by the tokens of its string, and the
 *   Dean Edwards packer (`function(p,a,c,k,e,d)`) and scriptasylum's `dF("…")` decoded.
 * Why: ClamAV scans this text with HTML and text signatures, so signatures are written against it.
 * Never throws; work is linear in the input apart from the decoders, which are bounded by ClamAV's
 * recursion limit (16).
 */

const T = {
  FUTURE: 1, ERROR: 2, IDENT: 3, TRUE: 4, FALSE: 5, NULL: 6, BR_OPEN: 7, BR_CLOSE: 8, COMMA: 9, CURLY_OPEN: 10,
  CURLY_CLOSE: 11, PAR_OPEN: 12, PAR_CLOSE: 13, DOT: 14, SEMI: 15, COLON: 16, NEW: 17, INT: 18, FLOAT: 19, STRING: 20,
  PLUS: 34, VAR: 56, FUNCTION: 73, UNNORM: 74, OTHER: 100,
} as const;

const KEYWORDS: ReadonlyMap<string, number> = new Map<string, number>([
  ...'break case catch continue default delete do else finally for if in instanceof new return switch this throw try typeof void while with'
    .split(' ').map((k) => [k, T.OTHER] as [string, number]),
  ['var', T.VAR], ['function', T.FUNCTION], ['null', T.NULL], ['true', T.TRUE], ['false', T.FALSE], ['new', T.NEW],
  ...'abstract boolean byte char class const debugger double enum export extends final float goto implements import int interface long native package private protected public short static super synchronized throws transient volatile'
    .split(' ').map((k) => [k, T.FUTURE] as [string, number]),
]);

const OPERATORS: ReadonlyMap<string, number> = new Map<string, number>([
  ...'= === >>> !== << <= == >= >> || -- != && ++ *= /= %= += -= <<= >>= >>>= &= ^= |= & : / ! > < - * | % ? ~ ^'
    .split(' ').map((o) => [o, o === ':' ? T.COLON : T.OTHER] as [string, number]),
  ['+', T.PLUS],
]);

// Character classes of the tokenizer.
const WS = 0, SL = 1, OP = 2, DQ = 3, SQ = 4, DG = 5, ID = 6, NA = 7, SPECIAL = 8;
const CLASS = new Uint8Array(256).fill(NA);
const SPECIAL_TYPE = new Uint8Array(256);
for (const c of [0x09, 0x0a, 0x0b, 0x0d, 0x20]) CLASS[c] = WS;
for (const c of '!%&*+-:<=>?^|~') CLASS[c.charCodeAt(0)] = OP;
for (let c = 0x30; c <= 0x39; c++) CLASS[c] = DG;
for (let c = 0x41; c <= 0x5a; c++) CLASS[c] = ID;
for (let c = 0x61; c <= 0x7a; c++) CLASS[c] = ID;
for (const c of '$_\\') CLASS[c.charCodeAt(0)] = ID;
CLASS[0x22] = DQ; CLASS[0x27] = SQ; CLASS[0x2f] = SL;
for (const [c, t] of [['[', T.BR_OPEN], [']', T.BR_CLOSE], [',', T.COMMA], ['{', T.CURLY_OPEN], ['}', T.CURLY_CLOSE], ['(', T.PAR_OPEN], [')', T.PAR_CLOSE], ['.', T.DOT], [';', T.SEMI]] as const) {
  CLASS[c.charCodeAt(0)] = SPECIAL;
  SPECIAL_TYPE[c.charCodeAt(0)] = t;
}
/** Inside an identifier: letters, digits, `$`, `_`; a backslash is looked at. */
const ID_CHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) ID_CHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) ID_CHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) ID_CHAR[c] = 1;
ID_CHAR[0x24] = 1; ID_CHAR[0x5f] = 1; ID_CHAR[0x5c] = 2;

const enum Lex { Initial, DQString, SQString, Identifier, MultiComment, Number, LineComment }
const enum Fsm { Base, InsideVar, InsideInitializer, WaitFunctionName, WaitParameterList, InsideFunctionDecl }

interface Scope {
  ids: Map<string, number>;
  parent: Scope | null;
  fsm: Fsm;
  lastToken: number;
  brackets: number;
  blocks: number;
}

/** A token; strings are byte strings (one char per byte). `scope` marks a function start (a scope) or end (null). */
interface Token {
  type: number;
  s?: string | null;
  /** True when `s` is the token's own string (ClamAV's vtype string), false for a name or keyword. */
  own?: boolean;
  ival?: number;
  dval?: number;
  scope?: Scope | null;
}

const isAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const hexVal = (c: number): number => (isDigit(c) ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1);

/** A UTF-16 unit as UTF-8 bytes, NUL as 0x01 (ClamAV never stores NUL in a string). */
function utf8(u: number, out: number[]): void {
  if (u === 0) out.push(1);
  else if (u < 0x80) out.push(u);
  else if (u < 0x800) out.push(0xc0 | (u >> 6), 0x80 | (u & 0x3f));
  else out.push(0xe0 | (u >> 12), 0x80 | ((u >> 6) & 0x3f), 0x80 | (u & 0x3f));
}

const bytesToStr = (b: number[]): string => {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.slice(i, i + 8192));
  return s;
};

/** JavaScript's `unescape` as ClamAV does it (`%uHHHH` → UTF-8, `%HH` → byte, NUL → 0x01); stops at a NUL. */
export function jsUnescape(str: string): string {
  const nul = str.indexOf('\0');
  if (nul >= 0) str = str.slice(0, nul);
  const out: number[] = [];
  const len = str.length;
  const at = (k: number): number => str.charCodeAt(k);
  for (let k = 0; k < len; k++) {
    let c = at(k);
    if (c === 0x25) {
      if (k + 5 >= len || at(k + 1) !== 0x75 || hexVal(at(k + 2)) < 0 || hexVal(at(k + 3)) < 0 || hexVal(at(k + 4)) < 0 || hexVal(at(k + 5)) < 0) {
        if (k + 2 < len && hexVal(at(k + 1)) >= 0 && hexVal(at(k + 2)) >= 0) {
          c = (hexVal(at(k + 1)) << 4) | hexVal(at(k + 2));
          k += 2;
        }
      } else {
        utf8((hexVal(at(k + 2)) << 12) | (hexVal(at(k + 3)) << 8) | (hexVal(at(k + 4)) << 4) | hexVal(at(k + 5)), out);
        k += 5;
        continue;
      }
    }
    out.push(c === 0 ? 1 : c);
  }
  return bytesToStr(out);
}

/** Appends a string literal's text with its escapes resolved (ClamAV's `cli_textbuffer_append_normalize`). */
function appendUnescaped(src: Uint8Array, from: number, len: number, out: number[]): void {
  for (let i = 0; i < len; i++) {
    let c = src[from + i]!;
    if (c === 0x5c && i + 1 < len) {
      i++;
      switch (src[from + i]) {
        case 0x30: c = 0; break;
        case 0x62: c = 8; break;
        case 0x74: c = 9; break;
        case 0x6e: c = 10; break;
        case 0x76: c = 11; break;
        case 0x66: c = 12; break;
        case 0x72: c = 13; break;
        case 0x78:
          if (i + 2 < len) {
            const hi = hexVal(src[from + i + 1]!), lo = hexVal(src[from + i + 2]!);
            c = ((hi < 0 ? 0 : hi) << 4 | lo) & 0xff;
          }
          i += 2;
          break;
        case 0x75:
          if (i + 4 < len) {
            const h = (k: number): number => hexVal(src[from + i + k]!);
            const u = (((h(1) < 0 ? 0 : h(1)) << 12) | ((h(2) < 0 ? 0 : h(2)) << 8) | ((h(3) < 0 ? 0 : h(3)) << 4) | h(4)) & 0xffff;
            utf8(u, out);
            i += 4;
            continue;
          }
          break;
        default: c = src[from + i]!; break;
      }
    }
    out.push(c === 0 ? 1 : c);
  }
}

/** C's `%g`. */
function formatG(v: number): string {
  if (Number.isNaN(v)) return v < 0 ? '-nan' : 'nan';
  if (!Number.isFinite(v)) return v < 0 ? '-inf' : 'inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const exp = Math.floor(Math.log10(Math.abs(Number(v.toPrecision(6)))));
  if (exp < -4 || exp >= 6) {
    const [m, e] = v.toExponential(5).split('e') as [string, string];
    const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m;
    const n = Number(e);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const f = v.toFixed(Math.max(0, 5 - exp));
  return f.includes('.') ? f.replace(/0+$/, '').replace(/\.$/, '') : f;
}

/** glibc `atoi`: `(int)strtol(s, 0, 10)`. */
function atoi(s: string): number {
  const m = /^[\t\n\v\f\r ]*([+-]?)(\d+)/.exec(s);
  if (!m) return 0;
  let v = BigInt(m[2]!);
  if (m[1] === '-') v = -v;
  const max = (1n << 63n) - 1n;
  if (v > max) v = max;
  if (v < -max - 1n) v = -max - 1n;
  return Number(BigInt.asIntN(32, v));
}

/** glibc `atof` for the digits, dot and exponent the tokenizer collects. */
function atof(s: string): number {
  const m = /^(\d*\.?\d*(?:[eE][+-]?\d+)?)/.exec(s);
  const v = m ? Number.parseFloat(m[1]!) : 0;
  return Number.isNaN(v) ? 0 : v;
}

class Scanner {
  state = Lex.Initial;
  in: Uint8Array = new Uint8Array(0);
  pos = 0;
  lastPos = -1;
  lastState = -1;
  buf: number[] = [];
  text = '';

  scan(bytes: Uint8Array): void {
    this.in = bytes;
    this.pos = 0;
    this.lastPos = -1;
    this.lastState = -1;
  }

  private operator(): Token {
    const len = Math.min(5, this.in.length - this.pos);
    for (let l = len; l > 0; l--) {
      let s = '';
      for (let k = 0; k < l; k++) s += String.fromCharCode(this.in[this.pos + k]!);
      const t = OPERATORS.get(s);
      if (t !== undefined) {
        this.pos += l;
        return { type: t, s };
      }
    }
    this.pos++;
    return { type: T.ERROR, s: null };
  }

  private string(q: number, to: Lex): Token | null {
    const start = this.pos, n = this.in.length;
    let end = start;
    let found = -1;
    for (;;) {
      const at = this.in.indexOf(q, end);
      if (at >= 0 && at > start && this.in[at - 1] === 0x5c) { end = at + 1; continue; }
      found = at;
      break;
    }
    const len = found >= start ? found - start : n - this.pos;
    appendUnescaped(this.in, start, len, this.buf);
    if (found >= 0) {
      this.pos += len + 1;
      const s = bytesToStr(this.buf);
      this.buf = [];
      this.text = s;
      this.state = Lex.Initial;
      return { type: T.STRING, s, own: true };
    }
    this.pos += len;
    this.state = to;
    return null;
  }

  private number(): Token | null {
    const inp = this.in;
    let isFloat = this.buf.includes(0x2e);
    while (this.pos < inp.length) {
      let c = inp[this.pos++]!;
      if (isDigit(c)) { this.buf.push(c); continue; }
      if (c === 0x2e && !isFloat) { isFloat = true; this.buf.push(c); continue; }
      if ((c === 0x65 || c === 0x45) && isFloat) {
        this.buf.push(c);
        if (this.pos < inp.length) {
          c = inp[this.pos++]!;
          if (c === 0x2b || c === 0x2d || isDigit(c)) { this.buf.push(c); continue; }
        }
      }
      this.pos--;
      this.state = Lex.Initial;
      const s = bytesToStr(this.buf);
      this.text = s;
      if (isFloat) return { type: T.FLOAT, dval: atof(s) };
      return { type: T.INT, ival: atoi(s) };
    }
    this.state = Lex.Number;
    return null;
  }

  private ident(): Token | null {
    const inp = this.in;
    this.state = Lex.Initial;
    while (this.pos < inp.length) {
      const c = inp[this.pos++]!;
      const k = ID_CHAR[c]!;
      if (k === 1) { this.buf.push(c); continue; }
      if (k === 2) {
        if (this.pos < inp.length && inp[this.pos++] === 0x75) { this.buf.push(c); continue; }
        if (this.pos === inp.length) this.pos++;
      }
      this.pos--;
      const s = bytesToStr(this.buf);
      this.text = s;
      const kw = KEYWORDS.get(s);
      if (kw !== undefined) return { type: kw, s };
      return { type: T.IDENT, s: null };
    }
    this.state = Lex.Identifier;
    return null;
  }

  /** The next token, or null at the end of this piece. */
  next(): Token | null {
    const inp = this.in;
    this.text = '';
    if (this.pos === this.lastPos && this.lastState === this.state) this.pos++;
    this.lastPos = this.pos;
    this.lastState = this.state;
    while (this.pos < inp.length) {
      switch (this.state) {
        case Lex.Initial: {
          this.buf = [];
          const c = inp[this.pos++]!;
          const cls = CLASS[c]!;
          switch (cls) {
            case WS: case NA: continue;
            case SL:
              if (this.pos < inp.length) {
                const la = inp[this.pos];
                if (la === 0x2a) { this.state = Lex.MultiComment; this.pos++; continue; }
                if (la === 0x2f) { this.state = Lex.LineComment; this.pos++; continue; }
              }
              this.pos--;
              return this.operator();
            case OP: this.pos--; return this.operator();
            case DQ: return this.string(0x22, Lex.DQString);
            case SQ: return this.string(0x27, Lex.SQString);
            case DG: this.pos--; return this.number();
            case ID: this.pos--; return this.ident();
            default: return { type: SPECIAL_TYPE[c]!, s: String.fromCharCode(c) };
          }
        }
        case Lex.DQString: return this.string(0x22, Lex.DQString);
        case Lex.SQString: return this.string(0x27, Lex.SQString);
        case Lex.Identifier: return this.ident();
        case Lex.Number: return this.number();
        case Lex.MultiComment:
          while (this.pos + 1 < inp.length) {
            if (inp[this.pos] === 0x2a && inp[this.pos + 1] === 0x2f) { this.state = Lex.Initial; this.pos++; break; }
            this.pos++;
          }
          this.pos++;
          break;
        case Lex.LineComment:
          while (this.pos < inp.length && inp[this.pos] !== 0x0a && inp[this.pos] !== 0x20) this.pos++;
          this.state = Lex.Initial;
          break;
      }
    }
    return null;
  }
}

/**
 * Bounds on the decoders for hostile scripts (ClamAV has none short of its 1 GiB allocation limit,
 * and its token splicing is quadratic): decoded text per packer call, and decodings per block.
 */
const DECODED_LIMIT = 8 * 1024 * 1024;
const MAX_DECODES = 256;

const newScope = (parent: Scope | null): Scope => ({ ids: new Map(), parent, fsm: Fsm.Base, lastToken: 0, brackets: 0, blocks: 0 });

/** The normaliser of one script block: feed it pieces, then `finish()` for its output. */
export class JsNormaliser {
  private uniq = 0;
  private readonly global: Scope = newScope(null);
  private current: Scope = this.global;
  private readonly scanner = new Scanner();
  private tokens: Token[] = [];
  private rec = 0;
  private decodes = 0;

  /** Feeds a piece of script (ClamAV's `cli_js_process_buffer`). */
  process(bytes: Uint8Array): void {
    let current = this.current;
    const sc = this.scanner;
    sc.scan(bytes);
    for (let tok = sc.next(); tok; tok = sc.next()) {
      const yv = tok.type;
      switch (yv) {
        case T.VAR: current.fsm = Fsm.InsideVar; break;
        case T.IDENT: {
          const text = sc.text;
          if (current.lastToken === T.DOT) {
            tok = { type: T.UNNORM, s: text, own: true };
          } else {
            switch (current.fsm) {
              case Fsm.WaitParameterList: case Fsm.Base: case Fsm.InsideInitializer:
                if (!current.ids.has(text)) current.ids.set(text, -1);
                break;
              case Fsm.InsideVar: case Fsm.InsideFunctionDecl:
                current.ids.set(text, this.uniq++);
                current.fsm = Fsm.InsideInitializer;
                current.brackets = 0;
                break;
              case Fsm.WaitFunctionName:
                current.ids.set(text, this.uniq++);
                current.fsm = Fsm.WaitParameterList;
                break;
            }
            tok.s = text;
          }
          break;
        }
        case T.PAR_OPEN:
          if (current.fsm === Fsm.WaitFunctionName || current.fsm === Fsm.WaitParameterList) current.fsm = Fsm.InsideFunctionDecl;
          break;
        case T.PAR_CLOSE:
          if (current.fsm === Fsm.WaitParameterList) current.fsm = Fsm.Base;
          break;
        case T.CURLY_OPEN:
          if (current.fsm === Fsm.WaitFunctionName || current.fsm === Fsm.WaitParameterList || current.fsm === Fsm.InsideFunctionDecl) current.fsm = Fsm.Base;
          current.blocks++;
          break;
        case T.CURLY_CLOSE:
          if (current.blocks > 0) current.blocks--;
          if (!current.blocks && current.parent) {
            this.tokens.push({ type: T.CURLY_CLOSE, s: '}' });
            tok = { type: T.FUNCTION, scope: null };
            this.current = current = current.parent;
          }
          break;
        case T.BR_OPEN: current.brackets++; break;
        case T.BR_CLOSE: if (current.brackets > 0) current.brackets--; break;
        case T.COMMA:
          if (current.fsm === Fsm.InsideInitializer && current.brackets === 0 && current.blocks === 0) current.fsm = Fsm.InsideVar;
          break;
        case T.SEMI:
          if (current.brackets === 0 && current.blocks === 0) current.fsm = Fsm.Base;
          break;
        case T.FUNCTION:
          current = newScope(this.current);
          this.current = current;
          current.fsm = Fsm.WaitFunctionName;
          tok = { type: T.FUNCTION, scope: current };
          break;
        case T.STRING: {
          const n = this.tokens.length;
          if (n > 1 && this.tokens[n - 1]!.type === T.PLUS) {
            const prev = this.tokens[n - 2]!;
            if (prev.type === T.STRING) {
              this.tokens.pop();
              prev.s = (prev.s ?? '') + (tok.s ?? '');
              prev.own = true;
              continue;
            }
          }
          break;
        }
      }
      this.tokens.push(tok);
      current.lastToken = yv;
    }
  }

  private parseDone(): void {
    const st = this.scanner.state;
    if (st === Lex.DQString) this.process(Uint8Array.of(0x22));
    else if (st === Lex.SQString) this.process(Uint8Array.of(0x27));
    let bal = 0;
    for (const t of this.tokens) {
      if (t.type === T.PAR_OPEN) bal++;
      else if (t.type === T.PAR_CLOSE && bal > 0) bal--;
    }
    while (bal-- > 0) this.tokens.push({ type: T.PAR_CLOSE, s: ')' });
    this.runFolders();
    this.runDecoders();
  }

  /** `unescape("…")` → the unescaped string, in one pass (each match replaces its four tokens). */
  private runFolders(): void {
    const t = this.tokens;
    const out: Token[] = [];
    for (let i = 0; i < t.length; i++) {
      const tok = t[i]!;
      if (i + 3 < t.length && tok.type === T.IDENT && tok.s === 'unescape' && t[i + 1]!.type === T.PAR_OPEN && t[i + 2]!.type === T.STRING) {
        out.push({ type: T.STRING, s: jsUnescape(t[i + 2]!.s ?? ''), own: true });
        i += 3;
        continue;
      }
      out.push(tok);
    }
    this.tokens = out;
  }

  private static matchParameters(t: Token[], at: number, names: readonly string[]): boolean {
    let idx = at + 1, ni = 0, n = names.length;
    if (t[at]?.type !== T.PAR_OPEN) return false;
    if (idx >= t.length) return false;
    while (ni < n) {
      n--;
      const tok = t[idx];
      if (!tok || tok.s == null || tok.type !== T.IDENT) return false;
      idx++;
      if (tok.s !== names[ni]) return false;
      ni++;
      const sep = t[idx];
      if (!sep || (n > 0 && sep.type !== T.COMMA) || (n === 0 && sep.type !== T.PAR_CLOSE)) return false;
      idx++;
    }
    return true;
  }

  /** The packer's decoder: the payload `p` with each base-`a` word replaced by its entry in `k`. */
  private static decodeDe(params: Token[], out: number[]): void {
    const p = params[0]!.s;
    const a = params[1]!.type === T.INT ? params[1]!.ival! : -1;
    const kTok = params[3]!;
    const k = kTok.own ? kTok.s : null;
    if (p == null || k == null) return;
    const pCut = p.indexOf('\0');
    const pp = pCut >= 0 ? p.slice(0, pCut) : p;
    const kCut = k.indexOf('\0');
    const kk = kCut >= 0 ? k.slice(0, kCut) : k;
    const words = kk.split('|');
    // ClamAV splits the string in place: the token keeps only its first word.
    kTok.s = words[0]!;
    let i = 0;
    const n = pp.length;
    do {
      while (i < n && !isAlnum(pp.charCodeAt(i))) {
        if (pp.charCodeAt(i) === 0x5c && (pp[i + 1] === "'" || pp[i + 1] === '"')) i++;
        else out.push(pp.charCodeAt(i++));
      }
      if (i >= n) break;
      let val = 0;
      const o = i;
      while (i < n && isAlnum(pp.charCodeAt(i))) {
        const v = pp.charCodeAt(i++);
        const x = v >= 0x61 ? 10 + v - 0x61 : v >= 0x41 ? 36 + v - 0x41 : v - 0x30;
        val = ((Math.imul(val, a) >>> 0) + x) >>> 0;
      }
      const w = val < words.length ? words[val] : undefined;
      if (!w) for (let j = o; j < i; j++) out.push(pp.charCodeAt(j));
      else for (let j = 0; j < w.length; j++) out.push(w.charCodeAt(j));
      if (out.length > DECODED_LIMIT) return;
    } while (i < n);
  }

  private static handleDe(t: Token[], start: number, name: string | null, res: { out: number[]; begin: number; end: number }): void {
    let i = start, nesting = 1;
    for (; i < t.length; i++) {
      if (t[i]!.type === T.FUNCTION) {
        if (t[i]!.scope) nesting++;
        else nesting--;
        if (!nesting) break;
      }
    }
    if (nesting) return;
    let first = -1, last = -1;
    const collect = (): void => {
      const params: Token[] = [];
      const at: number[] = [];
      let j = 0;
      for (; j < 6 && i < t.length; j++) {
        at.push(i);
        params.push(t[i++]!);
        const stop = j !== 5 ? T.COMMA : T.PAR_CLOSE;
        while (i < t.length && t[i]!.type !== stop) i++;
        i++;
      }
      if (j === 6) {
        if (first < 0) first = at[0]!;
        last = at[5]!;
        JsNormaliser.decodeDe(params, res.out);
      }
    };
    if (name !== null) {
      for (; i + 2 < t.length; i++) {
        if (t[i]!.type === T.IDENT && t[i]!.s === name && t[i + 1]!.type === T.PAR_OPEN) {
          i += 2;
          collect();
        }
      }
    } else {
      while (i < t.length && t[i]!.type !== T.PAR_OPEN) i++;
      ++i;
      if (i >= t.length) return;
      collect();
    }
    if (first >= 0 && last >= 0) {
      res.begin = first;
      res.end = last + 1;
      if (res.end + 2 < t.length && t[res.end]!.type === T.BR_OPEN && t[res.end + 1]!.type === T.BR_CLOSE && t[res.end + 2]!.type === T.PAR_CLOSE) res.end += 3;
      else if (res.end < t.length) res.end++;
    }
  }

  private updateScope(tok: Token | undefined): void {
    if (tok?.type !== T.FUNCTION) return;
    if (tok.scope) this.current = tok.scope;
    else if (this.current.parent) this.current = this.current.parent;
  }

  private runDecoders(): void {
    for (let i = 0; i < this.tokens.length; i++) {
      const t = this.tokens;
      const res = { out: [] as number[], begin: 0, end: 0, append: false, text: null as string | null };
      const tok = t[i]!;
      if (tok.type === T.FUNCTION && i + 13 < t.length) {
        let name: string | null = null;
        ++i;
        if (t[i]!.type === T.IDENT) { name = t[i]!.s ?? null; ++i; }
        if (JsNormaliser.matchParameters(t, i, ['p', 'a', 'c', 'k', 'e', 'r']) || JsNormaliser.matchParameters(t, i, ['p', 'a', 'c', 'k', 'e', 'd'])) {
          JsNormaliser.handleDe(t, i, name, res);
        }
        if (res.end > res.begin) res.text = bytesToStr(res.out);
      } else if (i + 2 < t.length && tok.type === T.IDENT && tok.s === 'dF' && t[i + 1]!.type === T.PAR_OPEN) {
        const s = t[i + 2]!;
        if (s.type === T.STRING && s.own && s.s) {
          const str = s.s.split('\0')[0]!;
          if (str.length > 0) {
            const clast = (str.charCodeAt(str.length - 1) - 0x30) & 0xff;
            s.s = str.slice(0, -1);
            const s1 = jsUnescape(s.s);
            let shifted = '';
            for (let k = 0; k < s1.length; k++) shifted += String.fromCharCode((s1.charCodeAt(k) - clast) & 0xff);
            res.text = jsUnescape(shifted);
            res.begin = i;
            res.end = i + 4;
            res.append = true;
          }
        }
      } else if (i + 2 < t.length && tok.type === T.IDENT && tok.s === 'eval' && t[i + 1]!.type === T.PAR_OPEN) {
        const start = i + 2;
        const s = t[start]!;
        if (start + 1 < t.length && s.own && s.s != null && t[start + 1]!.type === T.PAR_CLOSE) {
          res.text = s.s.split('\0')[0]!;
          s.s = null;
          s.own = false;
          res.begin = start - 2;
          res.end = start + 2;
        }
      }
      if (res.end > res.begin && res.text !== null && this.decodes++ < MAX_DECODES) {
        if (res.end < t.length && t[res.end]!.type === T.SEMI) res.end++;
        const parent = this.tokens;
        this.tokens = [];
        if (++this.rec <= 16) {
          this.process(Buffer.from(res.text, 'latin1'));
          --this.rec;
        }
        const inner = this.tokens;
        this.tokens = parent;
        const valid = res.begin < parent.length && res.end <= parent.length;
        if (!res.append) {
          if (valid) parent.splice(res.begin, res.end - res.begin, ...inner);
        } else {
          if (valid) parent.splice(res.begin, res.end - res.begin);
          parent.push(...inner);
        }
      }
      this.updateScope(this.tokens[i]);
    }
  }

  /** Ends the block: closes what is open, runs the decoders and returns the normalised text. */
  finish(): Uint8Array {
    this.parseDone();
    const out: number[] = [];
    // ClamAV's 64 KiB output buffer: only its current content is checked for a closing tag.
    let pos = 0;
    const outc = (c: number): void => { if (pos >= 65536) pos = 0; out.push(c); pos++; };
    const outs = (s: string): void => {
      for (let k = 0; k < s.length; k++) {
        const c = s.charCodeAt(k) & 0xff;
        if (c === 0) break;
        out.push(isSpace(c) ? 0x20 : c >= 0x41 && c <= 0x5a ? c + 32 : c);
        if (++pos === 65536) pos = 0;
      }
    };
    const space = (last: number, cur: number): void => { if (isAlnum(last) && isAlnum(cur)) outc(0x20); };
    outs('<script>');
    this.current = this.global;
    let last = 0;
    for (const tok of this.tokens) {
      if (tok.type === T.FUNCTION && !tok.scope) { this.updateScope(tok); continue; }
      this.updateScope(tok);
      switch (tok.type) {
        case T.STRING:
          outc(0x22);
          if (tok.s) outs(tok.s);
          outc(0x22);
          last = 0x22;
          break;
        case T.INT: space(last, 0x30); outs(String(tok.ival ?? -1)); last = 0x30; break;
        case T.FLOAT: space(last, 0x30); outs(formatG(tok.dval ?? -1)); last = 0x30; break;
        case T.IDENT: {
          space(last, 0x61);
          if (tok.s != null) {
            const id = this.lookup(tok.s);
            outs(id < 0 ? tok.s : `n${String(id).padStart(3, '0')}`);
          }
          last = 0x61;
          break;
        }
        case T.FUNCTION: space(last, 0x61); outs('function'); last = 0x61; break;
        default: {
          const s = tok.s;
          if (s != null) {
            const cut = s.indexOf('\0');
            const v = cut >= 0 ? s.slice(0, cut) : s;
            space(last, v.length > 0 ? v.charCodeAt(0) : 0);
            outs(v);
            last = v.length > 0 ? v.charCodeAt(v.length - 1) : 0;
          } else last = 0;
        }
      }
    }
    const tail = '</script>';
    let ends = pos >= 9;
    if (ends) for (let k = 0; k < 9; k++) if (out[out.length - 9 + k] !== tail.charCodeAt(k)) { ends = false; break; }
    if (!ends) outs(tail);
    return Uint8Array.from(out);
  }

  private lookup(name: string): number {
    for (let s: Scope | null = this.current; s; s = s.parent) {
      const id = s.ids.get(name);
      if (id !== undefined && id !== -1) return id;
    }
    return -1;
  }
}

/** Normalises one whole script (a convenience for callers with the script in one piece). */
export function normaliseJs(script: Uint8Array): Uint8Array {
  const n = new JsNormaliser();
  n.process(script);
  return n.finish();
}
