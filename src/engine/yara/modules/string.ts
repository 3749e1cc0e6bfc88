/**
 * YARA's `string` module (YARA 4.3+; 4.2 has no such module): `to_int(s)`, `to_int(s, base)` and
 * `length(s)`.
 *
 * In: byte strings and an integer base. Out: int64 as `bigint`, or undefined. `to_int` follows
 * C's `strtoll` as YARA uses it: the string is read as a C string (up to its first NUL byte);
 * leading white space (space, \t, \n, \v, \f, \r) is skipped; an optional sign; with base 0 a
 * `0x`/`0X` prefix selects 16 and a leading `0` selects 8, otherwise 10; with base 16 a `0x`
 * prefix is allowed. The conversion must consume the whole C string and produce at least one digit,
 * and must not overflow int64; otherwise the result is undefined. A base other than 0 or 2..36 is
 * undefined. `length` counts every byte, NUL bytes included. Written by hand rather than with
 * `parseInt`, whose prefix, white-space and overflow rules differ from `strtoll`'s.
 */
import { fn, type YaraModule } from './types.js';

const INT64_MAX = (1n << 63n) - 1n;

function isCSpace(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}

function digitValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x7a) return b - 0x61 + 10;
  if (b >= 0x41 && b <= 0x5a) return b - 0x41 + 10;
  return 99;
}

/** `strtoll`-style conversion of a whole C string; undefined when YARA's would be. */
export function stringToInt(s: Uint8Array, base = 0n): bigint | undefined {
  if (!(base === 0n || (base >= 2n && base <= 36n))) return undefined;
  let end = s.indexOf(0);
  if (end < 0) end = s.length;
  let i = 0;
  while (i < end && isCSpace(s[i] as number)) i++;
  let negative = false;
  if (i < end && (s[i] === 0x2b || s[i] === 0x2d)) {
    negative = s[i] === 0x2d;
    i++;
  }
  let b = Number(base);
  const hasHexPrefix =
    i + 1 < end && s[i] === 0x30 && (s[i + 1] === 0x78 || s[i + 1] === 0x58) && i + 2 < end && digitValue(s[i + 2] as number) < 16;
  if ((b === 0 || b === 16) && hasHexPrefix) {
    b = 16;
    i += 2;
  } else if (b === 0) {
    b = i < end && s[i] === 0x30 ? 8 : 10;
  }
  const start = i;
  let value = 0n;
  const big = BigInt(b);
  while (i < end && digitValue(s[i] as number) < b) {
    value = value * big + BigInt(digitValue(s[i] as number));
    i++;
  }
  if (i === start || i !== end) return undefined;
  if (negative) value = -value;
  if (value > INT64_MAX || value < -INT64_MAX - 1n) return undefined;
  return value;
}

export const stringModule: YaraModule = {
  name: 'string',
  since: '4.3',
  declarations: {
    to_int: fn(
      { args: ['string'], returns: 'integer', impl: (_ctx, a) => stringToInt(a[0] as Uint8Array) },
      {
        args: ['string', 'integer'],
        returns: 'integer',
        impl: (_ctx, a) => stringToInt(a[0] as Uint8Array, a[1] as bigint),
      },
    ),
    length: fn({ args: ['string'], returns: 'integer', impl: (_ctx, a) => BigInt((a[0] as Uint8Array).length) }),
  },
};
