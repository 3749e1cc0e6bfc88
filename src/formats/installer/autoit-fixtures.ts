/**
 * Compiled AutoIt EA06 scripts built by code, for the tests of this folder and the differential
 * tests: no tool makes them here.
 *
 * In: tokens, one call each (keywords and functions by name or index, numbers, named tokens from
 * text or raw UTF-16 code units, operators, line ends, raw bytes for damage). Out: the token
 * stream ClamAV decompiles (a 32-bit line count, then the tokens), and, for plain input, the text
 * it should print, written down here independently of the decompiler (doubles excepted: their
 * text is C's `%g`, given by the caller). `randomAutoitScript` draws a seeded script with every
 * kind of token; `buildAutoit` (`./fixtures.ts`) wraps a stream into an EA06 container entry
 * whose magic is `>>>AUTOIT SCRIPT<<<`.
 */
import { AUTOIT_FUNCTIONS, AUTOIT_KEYWORDS, AUTOIT_OPERATORS, OP } from './autoit-script.js';

/** The magic string of the entry holding the script. */
export const SCRIPT_MAGIC = '>>>AUTOIT SCRIPT<<<';

export class AutoitScriptWriter {
  private readonly parts: number[] = [];
  private text = '';
  private lines = 0;
  /** False once a token whose text is not written down here was added. */
  exact = true;

  private u8(v: number): void { this.parts.push(v & 0xff); }
  private u32(v: number): void { for (let i = 0; i < 4; i++) this.parts.push((v >>> (8 * i)) & 0xff); }

  keyword(k: string | number): this {
    const id = typeof k === 'number' ? k : AUTOIT_KEYWORDS.indexOf(k);
    if (id < 0) throw new Error(`no keyword ${String(k)}`);
    this.u8(OP.keyword); this.u32(id);
    this.text += `${AUTOIT_KEYWORDS[id] ?? '?'} `;
    return this;
  }

  func(f: string | number): this {
    const id = typeof f === 'number' ? f : AUTOIT_FUNCTIONS.indexOf(f);
    if (id < 0) throw new Error(`no function ${String(f)}`);
    this.u8(OP.function); this.u32(id);
    this.text += `${AUTOIT_FUNCTIONS[id] ?? '?'} `;
    return this;
  }

  int32(v: number): this {
    this.u8(OP.int32); this.u32(v);
    this.text += `0x${(v >>> 0).toString(16).padStart(8, '0')} `;
    return this;
  }

  int64(v: bigint): this {
    const u = BigInt.asUintN(64, v);
    this.u8(OP.int64); this.u32(Number(u & 0xffffffffn)); this.u32(Number(u >> 32n));
    // ClamAV adds the low half as a signed number: one less in the high half when its top bit is set.
    const shown = u & 0x80000000n ? BigInt.asUintN(64, u - 0x100000000n) : u;
    this.text += `0x${shown.toString(16).padStart(16, '0')} `;
    return this;
  }

  /** A double from its 8 bytes (little-endian) or a number; `printed` is its `%g` text. */
  double(v: number | Uint8Array, printed: string): this {
    const b = new Uint8Array(8);
    if (typeof v === 'number') new DataView(b.buffer).setFloat64(0, v, true);
    else b.set(v.subarray(0, 8));
    this.u8(OP.double);
    for (const x of b) this.u8(x);
    this.text += `${printed} `;
    return this;
  }

  /**
   * A named token (op 0x30..0x37) from ASCII text (its text is known) or raw UTF-16 code units
   * (`exact` turns false: ClamAV's guess at UTF-16 decides the text).
   */
  named(op: number, value: string | readonly number[]): this {
    const units = typeof value === 'string' ? Array.from(value, (c) => c.charCodeAt(0)) : value;
    const n = units.length;
    this.u8(op); this.u32(n);
    for (const u of units) { this.u8((u ^ n) & 0xff); this.u8(((u >>> 8) ^ (n >>> 8)) & 0xff); }
    if (typeof value === 'string' && units.every((u) => u >= 1 && u <= 0x7f)) {
      const pre = ({ [OP.macro]: '@', [OP.variable]: '$', [OP.object]: '.', [OP.string]: '"' } as Record<number, string>)[op] ?? '';
      this.text += `${pre}${value}${op === OP.string ? '"' : ''}${op === OP.userFunction ? '' : ' '}`;
    } else this.exact = false;
    return this;
  }

  macro(name: string): this { return this.named(OP.macro, name); }
  variable(name: string): this { return this.named(OP.variable, name); }
  userFunction(name: string): this { return this.named(OP.userFunction, name); }
  object(name: string): this { return this.named(OP.object, name); }
  string(value: string | readonly number[]): this { return this.named(OP.string, value); }

  operator(o: string): this {
    const i = AUTOIT_OPERATORS.indexOf(o);
    if (i < 0) throw new Error(`no operator ${o}`);
    this.u8(OP.operator + i);
    this.text += `${o} `;
    return this;
  }

  lineEnd(): this {
    this.u8(OP.lineEnd);
    this.text += '\n';
    this.lines++;
    return this;
  }

  /** Bytes as they are (damage, unknown ops). */
  raw(bytes: readonly number[]): this {
    for (const b of bytes) this.u8(b);
    this.exact = false;
    return this;
  }

  /** The stream: the line count (`lines`, else the line ends written), then the tokens. */
  bytes(lines?: number): Uint8Array {
    const out = new Uint8Array(4 + this.parts.length);
    new DataView(out.buffer).setUint32(0, (lines ?? this.lines) >>> 0, true);
    out.set(this.parts, 4);
    return out;
  }

  /** The line ends written. */
  get lineCount(): number { return this.lines; }

  /** The text ClamAV prints for the stream, when `exact`. */
  get expected(): string { return this.text; }
}

/** A source of uniform 32-bit numbers. */
export type Rand = () => number;

const int = (r: Rand, lo: number, hi: number): number => lo + ((r() >>> 0) % (hi - lo + 1));
const pick = <T>(r: Rand, a: readonly T[]): T => a[(r() >>> 0) % a.length]!;

const IDENT = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789';
const ident = (r: Rand): string => {
  let s = pick(r, ['A', 'B', 'S', 'H', 'TMP', 'VAL', 'X']);
  for (let i = int(r, 0, 10); i > 0; i--) s += IDENT[(r() >>> 0) % IDENT.length];
  return s;
};

/** Doubles whose `%g` text is worth checking: ties, exponent switches, subnormals, NaN and infinity. */
export const SPECIAL_DOUBLES: readonly (readonly number[])[] = [
  [0, 0, 0, 0, 0, 0, 0, 0], // 0
  [0, 0, 0, 0, 0, 0, 0, 0x80], // -0
  [0, 0, 0, 0, 0, 0, 0xf8, 0x7f], // nan
  [0, 0, 0, 0, 0, 0, 0xf8, 0xff], // -nan
  [0, 0, 0, 0, 0, 0, 0xf0, 0x7f], // inf
  [0, 0, 0, 0, 0, 0, 0xf0, 0xff], // -inf
  [1, 0, 0, 0, 0, 0, 0, 0], // the smallest subnormal
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xef, 0x7f], // the largest double
];
export const SAMPLE_DOUBLES: readonly number[] = [
  1, -1, 0.5, 3.14159, 3.141592653589793, 2.5, 1234565, 1234575, 123456, 999999.5, 999999.4, 1e6, 1e-4, 0.0001234565,
  1e-5, 0.00001, 123.456789, -98765.4321, 1e21, 1e100, 5e-324, 0.1, 0.30000000000000004, 100, 65536.5, 1.5e-7, 7.0000005,
];

/**
 * A seeded script using every kind of token: declarations, calls of built-in and user functions,
 * macros, object members, strings (`plant` ones among them), integers, 64-bit integers, doubles
 * (`formatG` gives their text), operators and line ends; each of `extra` writes one more line
 * (without its line end) at a seeded place.
 */
export function randomAutoitScript(source: Rand, plant: readonly string[], formatG: (x: number) => string, extra: readonly ((w: AutoitScriptWriter) => void)[] = []): AutoitScriptWriter {
  const r: Rand = () => source() >>> 0;
  const w = new AutoitScriptWriter();
  const dbl = (): void => {
    if (r() % 4 === 0) {
      const raw = new Uint8Array(pick(r, SPECIAL_DOUBLES));
      w.double(raw, formatG(new DataView(raw.buffer).getFloat64(0, true)));
    } else {
      let x = r() % 3 === 0 ? pick(r, SAMPLE_DOUBLES) : (r() / 0x100000000) * 10 ** int(r, -12, 14) * (r() % 2 ? -1 : 1);
      if (r() % 5 === 0) {
        const b = new Uint8Array(8);
        for (let i = 0; i < 8; i++) b[i] = r() & 0xff;
        x = new DataView(b.buffer).getFloat64(0, true);
      }
      w.double(x, formatG(x));
    }
  };
  const value = (): void => {
    switch (r() % 9) {
      case 0: w.int32(r()); break;
      case 1: w.int32(int(r, 0, 100)); break;
      case 2: w.int64((BigInt(r()) << 32n) | BigInt(r())); break;
      case 3: dbl(); break;
      case 4: w.string(r() % 3 === 0 && plant.length ? pick(r, plant) : `text ${ident(r).toLowerCase()} ${r() % 1000}`); break;
      case 5: w.variable(ident(r)); break;
      case 6: w.macro(pick(r, ['SCRIPTDIR', 'TEMPDIR', 'CRLF', 'ERROR', 'SYSTEMDIR', 'APPDATADIR'])); break;
      case 7: w.keyword(pick(r, ['TRUE', 'FALSE', 'DEFAULT', 'NULL'])); break;
      default: w.variable(ident(r)).operator('[').int32(int(r, 0, 9)).operator(']');
    }
  };
  const expr = (depth: number): void => {
    value();
    for (let i = int(r, 0, 2); i > 0; i--) {
      w.operator(pick(r, ['+', '-', '*', '/', '&', '^', '=', '==', '<>', '>', '<', '>=', '<=']));
      if (depth < 2 && r() % 4 === 0) { w.operator('('); expr(depth + 1); w.operator(')'); } else value();
    }
  };
  const call = (): void => {
    if (r() % 3 === 0) w.userFunction(`_${ident(r)}`);
    else w.func(int(r, 0, AUTOIT_FUNCTIONS.length - 1));
    w.operator('(');
    for (let i = int(r, 0, 3); i > 0; i--) { expr(1); if (i > 1) w.operator(','); }
    w.operator(')');
  };
  const total = int(r, 8, 60);
  const at = extra.map(() => int(r, 0, total - 1));
  for (let line = 0; line < total; line++) {
    extra.forEach((x, i) => { if (at[i] === line) { x(w); w.lineEnd(); } });
    switch (r() % 12) {
      case 0: w.keyword(pick(r, ['GLOBAL', 'LOCAL', 'DIM', 'STATIC'])).variable(ident(r)).operator('='); expr(0); break;
      case 1: w.keyword('IF'); expr(0); w.keyword('THEN'); call(); break;
      case 2: w.keyword(pick(r, ['ENDIF', 'WEND', 'NEXT', 'ENDFUNC', 'ENDSELECT', 'ENDSWITCH', 'EXITLOOP', 'CONTINUELOOP', 'ELSE'])); break;
      case 3: w.keyword('FUNC').userFunction(`_${ident(r)}`).operator('(').keyword('BYREF').variable(ident(r)).operator(')'); break;
      case 4: w.keyword('FOR').variable(ident(r)).operator('=').int32(0).keyword('TO').int32(int(r, 1, 99)).keyword('STEP').int32(1); break;
      case 5: w.variable(ident(r)).operator(pick(r, ['+=', '-=', '*=', '/=', '&='])); expr(0); break;
      case 6: w.variable(ident(r)).object(pick(r, ['Run', 'Name', 'Item', 'Value'])).operator('('); value(); w.operator(')'); break;
      case 7: w.variable(ident(r)).operator('=').variable(ident(r)).operator('?'); value(); w.operator(':'); value(); break;
      case 8: w.named(pick(r, [OP.construct, OP.command, OP.directive]), pick(r, ['#NoTrayIcon', 'RequireAdmin', 'include-once', 'OnAutoItStartRegister'])); break;
      case 9: w.keyword(int(r, 0, AUTOIT_KEYWORDS.length - 1)); expr(0); break;
      case 10: w.keyword('RETURN'); expr(0); break;
      default: call();
    }
    w.lineEnd();
  }
  return w;
}

/** Damage `damagedAutoitScript` can do to a token stream. */
export const SCRIPT_DAMAGE = [
  'none', 'cut', 'unknown-op', 'keyword-id', 'function-id', 'fewer-lines', 'no-lines', 'string-wrap', 'string-long',
  'operand-at-end', 'utf16', 'bom', 'nul-string', 'many-lines',
] as const;
export type ScriptDamage = (typeof SCRIPT_DAMAGE)[number];

/**
 * A seeded script (as `randomAutoitScript`) with one kind of damage or oddity: the stream cut
 * short, an unknown op, a keyword or function index past its table, a line count below or above
 * the line ends, a string whose doubled length wraps or runs past the end, an operand ending
 * exactly at the end, strings that are not ASCII (ClamAV's UTF-16 guess), a byte-order mark.
 */
export function damagedAutoitScript(source: Rand, plant: readonly string[], formatG: (x: number) => string, damage: ScriptDamage, extra: readonly ((w: AutoitScriptWriter) => void)[] = []): Uint8Array {
  const r: Rand = () => source() >>> 0;
  const w = randomAutoitScript(r, plant, formatG, extra);
  const lines = w.lineCount;
  switch (damage) {
    case 'cut': { const b = w.bytes(); return b.subarray(0, int(r, 4, b.length - 1)); }
    case 'unknown-op': w.raw([pick(r, [0x02, 0x03, 0x04, 0x06, 0x11, 0x21, 0x38, 0x59, 0x60, 0x7e, 0x80, 0xff])]).int32(1).lineEnd(); break;
    case 'keyword-id': w.raw([OP.keyword, ...le32(pick(r, [AUTOIT_KEYWORDS.length, 0xffffffff, 1000]))]).lineEnd(); break;
    case 'function-id': w.raw([OP.function, ...le32(pick(r, [AUTOIT_FUNCTIONS.length, 0x80000000, 5000]))]).lineEnd(); break;
    case 'fewer-lines': return w.bytes(int(r, 1, Math.max(1, lines - 1)));
    case 'no-lines': return w.bytes(0);
    case 'many-lines': return w.bytes(lines + int(r, 1, 1000));
    case 'string-wrap': w.raw([pick(r, [OP.string, OP.variable, OP.userFunction]), ...le32(0x80000000 + int(r, 0, 3)), 0x41, 0, 0x42, 0, 0x43, 0, 0x44, 0, 0x7f, 0x7f]); break;
    case 'string-long': w.raw([OP.string, ...le32(int(r, 5, 400)), 0x41, 0]); break;
    case 'operand-at-end': {
      // The stream ends with the operand's last byte: ClamAV wants one byte more.
      const b = w.bytes(lines + 1);
      const tail = pick(r, [[OP.int32, 1, 2, 3, 4], [OP.keyword, 4, 0, 0, 0], [OP.int64, 1, 2, 3, 4, 5, 6, 7, 8], [OP.double, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f], [OP.string, 1, 0, 0, 0, 0x40, 0]]);
      const out = new Uint8Array(b.length + tail.length);
      out.set(b);
      out.set(tail, b.length);
      return out;
    }
    case 'utf16': {
      const units: number[] = [];
      for (let i = int(r, 1, 30); i > 0; i--) units.push(r() % 3 === 0 ? int(r, 0x100, 0xffff) : r() % 5 === 0 ? 0 : int(r, 0x20, 0x7e));
      w.string(units).variable(ident(r)).named(pick(r, [OP.macro, OP.object, OP.userFunction]), units.slice(0, 5)).lineEnd();
      break;
    }
    case 'bom': {
      const text = Array.from(pick(r, plant.length ? plant : ['bom text']), (c) => c.charCodeAt(0));
      w.string([0xfeff, ...text]).string([0xfeff, 0x41]).string([0xfeff, 0x41, 0x42]).string([0xfeff, 0, 0x41]).lineEnd();
      break;
    }
    case 'nul-string': w.string('').string([0, 0, 0x41, 0, 0]).variable('').lineEnd(); break;
    default: break;
  }
  return w.bytes(lines + (damage === 'none' ? 0 : 1));
}

function le32(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; }
