/**
 * YARA's `math` module: statistics over a byte range of the scanned data or over a string, and a
 * few integer/float helpers.
 *
 * In: `(offset, size)` ranges (resolved by `resolveRange`: negative values or an offset outside
 * the data give undefined, a size past the end is clamped) or byte strings; integers as `bigint`,
 * floats as `number`. Out: the values YARA 4.2 computes in C `double`, bit for bit (checked
 * against `yara` with exact `<=`/`>=` comparisons; YARA's own float `==` is approximate), so
 * every formula keeps YARA's operation order. A NaN result (a mean over zero bytes,
 * `monte_carlo_pi` with fewer than six bytes) is what YARA stores for an undefined float, so it
 * comes back as `undefined`.
 *
 * Behaviours reproduced on purpose, each confirmed against yara 4.2.3:
 * - `entropy` and range `deviation` sum over byte values 0..255 weighted by counts (a histogram),
 *   not in file order; the string form of `deviation` sums in string order.
 * - `serial_correlation` closes the cycle with last·last, where ent uses last·first.
 * - `percentage` is a single-precision quotient.
 * - the string forms of `mean`, `deviation`, `serial_correlation` read bytes as signed `char`,
 *   and `monte_carlo_pi("…")` as signed `char` stored in an unsigned 32-bit slot.
 * - `max`/`min` compare as unsigned 64-bit integers.
 * One known residue: `entropy` uses a correctly rounded `log2`, and glibc's is not always
 * correctly rounded (about 0.2% of arguments are one ulp off), so rarely the last bits differ.
 */
import { log2 } from './log2.js';
import { allBytes, bytesIn, fn, floatResult, resolveRange, type Overload, type ScanContext, type YaraArg, type YaraModule } from './types.js';

/** Byte-value histogram of `bytes`. */
export function histogram(bytes: Uint8Array): Uint32Array {
  const h = new Uint32Array(256);
  for (let i = 0; i < bytes.length; i++) h[bytes[i] as number]! += 1;
  return h;
}

/** Shannon entropy in bits per byte; 0 for no bytes. */
export function entropy(bytes: Uint8Array): number {
  const h = histogram(bytes);
  const n = bytes.length;
  let e = 0;
  for (let i = 0; i < 256; i++) {
    const c = h[i] as number;
    if (c !== 0) {
      const x = c / n;
      e -= x * log2(x);
    }
  }
  return e;
}

/** Arithmetic mean of the byte values; NaN for no bytes. Sums of small integers are exact in any order. */
export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] as number;
  return sum / values.length;
}

/** Mean absolute deviation from `m` over a range: summed per byte value 0..255, weighted by counts. */
export function deviation(bytes: Uint8Array, m: number): number {
  const h = histogram(bytes);
  let sum = 0;
  for (let i = 0; i < 256; i++) sum += Math.abs(i - m) * (h[i] as number);
  return sum / bytes.length;
}

/** Mean absolute deviation from `m` over a string's values, summed in string order. */
export function deviationInOrder(values: ArrayLike<number>, m: number): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.abs((values[i] as number) - m);
  return sum / values.length;
}

/** Serial correlation coefficient as YARA computes it; -100000 when undefined by the formula (no variance). */
export function serialCorrelation(bytes: ArrayLike<number>): number {
  const n = bytes.length;
  let t1 = 0;
  let t2 = 0;
  let t3 = 0;
  let last = 0;
  for (let i = 0; i < n; i++) {
    const u = bytes[i] as number;
    t1 += last * u;
    t2 += u;
    t3 += u * u;
    last = u;
  }
  // YARA closes the cycle with the last byte times itself (ent uses the first byte there).
  t1 += last * last;
  t2 = t2 * t2;
  let scc = n * t3 - t2;
  if (scc === 0) scc = -100000;
  else scc = (n * t1 - t2) / scc;
  return scc;
}

const MONTE_N = 6;
/** (256^3 - 1)^2: the squared radius of the quarter circle in 24-bit coordinates. */
const IN_CIRCLE = Math.pow(Math.pow(256, MONTE_N / 2) - 1, 2);

/**
 * Relative error of the Monte Carlo estimate of pi from consecutive 6-byte groups (two 24-bit
 * coordinates each), as `|pi_est - pi| / pi`; NaN when there is no complete group.
 */
export function monteCarloPi(bytes: ArrayLike<number>): number {
  let groups = 0;
  let inside = 0;
  const n = bytes.length - (bytes.length % MONTE_N);
  for (let i = 0; i < n; i += MONTE_N) {
    groups++;
    let x = 0;
    let y = 0;
    for (let j = 0; j < MONTE_N / 2; j++) {
      x = x * 256 + (bytes[i + j] as number);
      y = y * 256 + (bytes[i + j + MONTE_N / 2] as number);
    }
    if (x * x + y * y <= IN_CIRCLE) inside++;
  }
  const estimate = 4 * (inside / groups);
  return Math.abs((estimate - Math.PI) / Math.PI);
}

/** The most frequent byte value (the smallest on ties; 0 for no bytes). */
export function mode(bytes: Uint8Array): number {
  const h = histogram(bytes);
  let best = 0;
  for (let i = 1; i < 256; i++) if ((h[i] as number) > (h[best] as number)) best = i;
  return best;
}

/** Occurrences of `byte` in `bytes`. */
export function countByte(bytes: Uint8Array, byte: number): number {
  let c = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === byte) c++;
  return c;
}

function range(ctx: ScanContext, offset: YaraArg | undefined, size: YaraArg | undefined): Uint8Array | undefined {
  const r = resolveRange(ctx, offset as bigint, size as bigint);
  return r ? bytesIn(ctx, r[0], r[1]) : undefined;
}

/**
 * YARA reads string arguments as C `char`, which is signed: in the string forms of `mean`,
 * `deviation`, `serial_correlation` and `monte_carlo_pi` the bytes 0x80..0xff count as -128..-1.
 */
export function signedChars(s: Uint8Array): Int8Array {
  return new Int8Array(s.buffer, s.byteOffset, s.length);
}

/**
 * In the string form of `monte_carlo_pi` YARA stores each signed `char` in an unsigned 32-bit
 * slot, so 0x80..0xff become 2^32-128..2^32-1 and put their point far outside the circle.
 */
export function charAsUnsigned32(b: number): number {
  return b < 0x80 ? b : b + 0xffffff00;
}

/** `f(offset, size)` and `f(string)` overloads of a float statistic. */
function floatStat(compute: (bytes: ArrayLike<number>) => number, signedString = true): Overload[] {
  return [
    {
      args: ['integer', 'integer'],
      returns: 'float',
      impl: (ctx, a) => {
        const b = range(ctx, a[0], a[1]);
        return b ? floatResult(compute(b)) : undefined;
      },
    },
    {
      args: ['string'],
      returns: 'float',
      impl: (_ctx, a) => {
        const str = a[0] as Uint8Array;
        return floatResult(compute(signedString ? signedChars(str) : str));
      },
    },
  ];
}

/**
 * YARA 4.2 computes the percentage in single precision (a C `float` quotient widened to double):
 * 1/5 gives 0.20000000298023224, not 0.2. Dividing the rounded operands in double and rounding
 * once more to single is exact (a double holds more than twice a float's precision).
 */
export function percentage(count: number, total: number): number | undefined {
  if (total === 0) return undefined;
  return Math.fround(Math.fround(count) / Math.fround(total));
}

/** A byte argument outside 0..255 is undefined (YARA 4.2 reads past its histogram there). */
function byteArg(v: YaraArg | undefined): number | undefined {
  const b = v as bigint;
  return b >= 0n && b <= 255n ? Number(b) : undefined;
}

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** Formats an int64 in base 8, 10 or 16 as C's `%lo`/`%ld`/`%lx` do (8 and 16 unsigned). */
function intToString(v: bigint, base: bigint): string | undefined {
  if (base === 10n) return v.toString(10);
  if (base === 8n) return U64(v).toString(8);
  if (base === 16n) return U64(v).toString(16);
  return undefined;
}

export const mathModule: YaraModule = {
  name: 'math',
  since: '3.3',
  load: () => ({ MEAN_BYTES: 127.5 }),
  declarations: {
    MEAN_BYTES: { kind: 'value', type: 'float' },
    entropy: fn(...floatStat((b) => entropy(b as Uint8Array), false)),
    mean: fn(...floatStat(mean)),
    serial_correlation: fn(...floatStat(serialCorrelation)),
    monte_carlo_pi: fn(
      ...floatStat(monteCarloPi).slice(0, 1),
      {
        args: ['string'],
        returns: 'float',
        impl: (_ctx, a) => floatResult(monteCarloPi(Array.from(a[0] as Uint8Array, charAsUnsigned32))),
      },
    ),
    deviation: fn(
      {
        args: ['integer', 'integer', 'float'],
        returns: 'float',
        impl: (ctx, a) => {
          const b = range(ctx, a[0], a[1]);
          return b ? floatResult(deviation(b, a[2] as number)) : undefined;
        },
      },
      {
        args: ['string', 'float'],
        returns: 'float',
        impl: (_ctx, a) => floatResult(deviationInOrder(signedChars(a[0] as Uint8Array), a[1] as number)),
      },
    ),
    in_range: fn({
      args: ['float', 'float', 'float'],
      returns: 'boolean',
      impl: (_ctx, a) => (a[0] as number) >= (a[1] as number) && (a[0] as number) <= (a[2] as number),
    }),
    // YARA compares the two as unsigned 64-bit integers: max(-1, 2) is -1.
    max: fn({
      args: ['integer', 'integer'],
      returns: 'integer',
      impl: (_ctx, a) => (U64(a[0] as bigint) > U64(a[1] as bigint) ? (a[0] as bigint) : (a[1] as bigint)),
    }),
    min: fn({
      args: ['integer', 'integer'],
      returns: 'integer',
      impl: (_ctx, a) => (U64(a[0] as bigint) < U64(a[1] as bigint) ? (a[0] as bigint) : (a[1] as bigint)),
    }),
    to_number: fn({ args: ['boolean'], returns: 'integer', impl: (_ctx, a) => (a[0] ? 1n : 0n) }),
    // Two's complement: abs(INT64_MIN) stays INT64_MIN, as in C.
    abs: fn({
      args: ['integer'],
      returns: 'integer',
      impl: (_ctx, a) => BigInt.asIntN(64, (a[0] as bigint) < 0n ? -(a[0] as bigint) : (a[0] as bigint)),
    }),
    count: fn(
      {
        args: ['integer', 'integer', 'integer'],
        returns: 'integer',
        impl: (ctx, a) => {
          const byte = byteArg(a[0]);
          const b = range(ctx, a[1], a[2]);
          return byte === undefined || !b ? undefined : BigInt(countByte(b, byte));
        },
      },
      {
        args: ['integer'],
        returns: 'integer',
        impl: (ctx, a) => {
          const byte = byteArg(a[0]);
          // Over the whole data, YARA has nothing to count on empty data: undefined, not 0.
          const all = allBytes(ctx);
          return byte === undefined || !all || all.length === 0 ? undefined : BigInt(countByte(all, byte));
        },
      },
    ),
    percentage: fn(
      {
        args: ['integer', 'integer', 'integer'],
        returns: 'float',
        impl: (ctx, a) => {
          const byte = byteArg(a[0]);
          const b = range(ctx, a[1], a[2]);
          return byte === undefined || !b ? undefined : percentage(countByte(b, byte), b.length);
        },
      },
      {
        args: ['integer'],
        returns: 'float',
        impl: (ctx, a) => {
          const byte = byteArg(a[0]);
          const all = allBytes(ctx);
          return byte === undefined || !all ? undefined : percentage(countByte(all, byte), all.length);
        },
      },
    ),
    mode: fn(
      {
        args: ['integer', 'integer'],
        returns: 'integer',
        impl: (ctx, a) => {
          const b = range(ctx, a[0], a[1]);
          return b ? BigInt(mode(b)) : undefined;
        },
      },
      {
        args: [],
        returns: 'integer',
        impl: (ctx) => { const all = allBytes(ctx); return !all || all.length === 0 ? undefined : BigInt(mode(all)); },
      },
    ),
    // YARA 4.3+ only; 4.2 rejects the name.
    to_string: fn(
      { args: ['integer'], returns: 'string', since: '4.3', impl: (_ctx, a) => bytes(intToString(a[0] as bigint, 10n)) },
      {
        args: ['integer', 'integer'],
        returns: 'string',
        since: '4.3',
        impl: (_ctx, a) => bytes(intToString(a[0] as bigint, a[1] as bigint)),
      },
    ),
  },
};

function bytes(s: string | undefined): Uint8Array | undefined {
  return s === undefined ? undefined : new TextEncoder().encode(s);
}
