/**
 * YARA's `console` module: `log` and `hex` write one line to the scan's output sink and are always
 * true.
 *
 * In: `log(string)`, `log(int)`, `log(float)`, each also with a leading message string, and
 * `hex(int)`, `hex(message, int)`. Out: `true`, and a line shaped exactly like `yara`'s stdout:
 * the message is written as given (raw bytes, up to its first NUL), string values with bytes outside printable ASCII (0x20..0x7e)
 * as `\xNN` (lower-case hex), integers in signed decimal, floats as C's `%f` (six decimals,
 * round-half-even on the exact binary value, which `toFixed` does not do), hex as `0x` and the
 * unsigned 64-bit value in lower-case hex. A call with an undefined argument is not made at all
 * (the evaluator's rule for every module function), so nothing is printed for it. Lines are
 * JavaScript strings with one character per byte (Latin-1): write them with the `latin1`
 * encoding to reproduce yara's bytes.
 */
import { fn, type ScanContext, type YaraArg, type YaraModule } from './types.js';

/** Escapes a YARA string value as `console.log` prints it. */
export function escapeForConsole(s: Uint8Array): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const b = s[i] as number;
    out += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/**
 * The message prefix as printed: its bytes unescaped, one character per byte (Latin-1), and, as
 * YARA prints it as a C string, only up to its first NUL byte.
 */
function messageText(s: Uint8Array): string {
  let out = '';
  for (let i = 0; i < s.length && s[i] !== 0; i++) out += String.fromCharCode(s[i] as number);
  return out;
}

/**
 * C's `printf("%.*f", digits, x)` for a finite or non-finite double: exact decimal expansion of
 * the binary value, rounded half to even at `digits` decimals.
 */
export function formatFixed(x: number, digits = 6): string {
  if (Number.isNaN(x)) return x < 0 ? '-nan' : 'nan';
  if (!Number.isFinite(x)) return x < 0 ? '-inf' : 'inf';
  const negative = x < 0 || Object.is(x, -0);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const expBits = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let exp: number;
  if (expBits === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = expBits - 1075;
  }
  // value = mant * 2^exp; scaled = value * 10^digits, as num / den.
  let num = mant * 10n ** BigInt(digits);
  let den = 1n;
  if (exp >= 0) num <<= BigInt(exp);
  else den <<= BigInt(-exp);
  let q = num / den;
  const r = num - q * den;
  if (r * 2n > den || (r * 2n === den && q % 2n === 1n)) q += 1n;
  let s = q.toString().padStart(digits + 1, '0');
  if (digits > 0) s = `${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`;
  return negative ? `-${s}` : s;
}

function print(ctx: ScanContext, line: string): true {
  ctx.output(line);
  return true;
}

const str = (v: YaraArg | undefined): Uint8Array => v as Uint8Array;
const hex = (v: YaraArg | undefined): string => `0x${BigInt.asUintN(64, v as bigint).toString(16)}`;

export const consoleModule: YaraModule = {
  name: 'console',
  since: '4.2',
  declarations: {
    log: fn(
      { args: ['string'], returns: 'boolean', impl: (ctx, a) => print(ctx, escapeForConsole(str(a[0]))) },
      {
        args: ['string', 'string'],
        returns: 'boolean',
        impl: (ctx, a) => print(ctx, messageText(str(a[0])) + escapeForConsole(str(a[1]))),
      },
      { args: ['integer'], returns: 'boolean', impl: (ctx, a) => print(ctx, (a[0] as bigint).toString()) },
      {
        args: ['string', 'integer'],
        returns: 'boolean',
        impl: (ctx, a) => print(ctx, messageText(str(a[0])) + (a[1] as bigint).toString()),
      },
      { args: ['float'], returns: 'boolean', impl: (ctx, a) => print(ctx, formatFixed(a[0] as number)) },
      {
        args: ['string', 'float'],
        returns: 'boolean',
        impl: (ctx, a) => print(ctx, messageText(str(a[0])) + formatFixed(a[1] as number)),
      },
    ),
    hex: fn(
      { args: ['integer'], returns: 'boolean', impl: (ctx, a) => print(ctx, hex(a[0])) },
      {
        args: ['string', 'integer'],
        returns: 'boolean',
        impl: (ctx, a) => print(ctx, messageText(str(a[0])) + hex(a[1])),
      },
    ),
  },
};
