/**
 * A correctly rounded base-2 logarithm for doubles.
 *
 * In: a positive finite double. Out: log2(x) rounded to the nearest double. `Math.log2` in V8 is
 * accurate to about one ulp but not correctly rounded, while glibc's `log2` (which YARA's
 * `math.entropy` calls) is correctly rounded in all but astronomically rare cases; entropy is
 * compared exactly in rules, so the last bit matters. The value is computed in double-double
 * arithmetic (about 104 bits): x = m·2^e with m in [√½, √2), ln m = 2·atanh(s) with
 * s = (m−1)/(m+1), |s| ≤ 0.172, summed as an odd power series to 2^-110, then scaled by
 * log2(e) and e added. Rounding the double-double to a double gives the correctly rounded result.
 */

type DD = [number, number];

function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bb = s - a;
  return [s, a - (s - bb) + (b - bb)];
}

function quickTwoSum(a: number, b: number): DD {
  const s = a + b;
  return [s, b - (s - a)];
}

const SPLITTER = 134217729; // 2^27 + 1

function twoProd(a: number, b: number): DD {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

function add(a: DD, b: DD): DD {
  const [s, e] = twoSum(a[0], b[0]);
  const [t, f] = twoSum(a[1], b[1]);
  let [hi, lo] = quickTwoSum(s, e + t);
  [hi, lo] = quickTwoSum(hi, lo + f);
  return [hi, lo];
}

function mul(a: DD, b: DD): DD {
  const [p, e] = twoProd(a[0], b[0]);
  return quickTwoSum(p, e + (a[0] * b[1] + a[1] * b[0]));
}

function div(a: DD, b: DD): DD {
  const q1 = a[0] / b[0];
  let r = add(a, neg(mul(b, [q1, 0])));
  const q2 = r[0] / b[0];
  r = add(r, neg(mul(b, [q2, 0])));
  const q3 = r[0] / b[0];
  const [hi, lo] = quickTwoSum(q1, q2);
  return add([hi, lo], [q3, 0]);
}

function neg(a: DD): DD {
  return [-a[0], -a[1]];
}

/** log2(e) as a double-double. */
const LOG2E: DD = [1.4426950408889634, 2.0355273740931033e-17];

const view = new DataView(new ArrayBuffer(8));

/** log2 of a positive finite double, correctly rounded; NaN, ±Infinity and 0 as `Math.log2`. */
export function log2(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return Math.log2(x);
  // Decompose x = m · 2^e with m in [1, 2), normalising subnormals first.
  let e = 0;
  let y = x;
  if (y < 2.2250738585072014e-308) {
    y *= 2 ** 64;
    e -= 64;
  }
  view.setFloat64(0, y);
  const hi = view.getUint32(0);
  e += ((hi >>> 20) & 0x7ff) - 1023;
  view.setUint32(0, (hi & 0x800fffff) | (1023 << 20));
  let m = view.getFloat64(0);
  if (m > Math.SQRT2) {
    m /= 2;
    e += 1;
  }
  if (m === 1) return e;
  // s = (m - 1) / (m + 1); m - 1 is exact (Sterbenz), m + 1 is carried as a double-double.
  const s = div([m - 1, 0], twoSum(m, 1));
  const s2 = mul(s, s);
  let term = s;
  let sum: DD = s;
  for (let k = 3; k < 80; k += 2) {
    term = mul(term, s2);
    const t = div(term, [k, 0]);
    sum = add(sum, t);
    if (Math.abs(t[0]) < Math.abs(sum[0]) * 2 ** -110) break;
  }
  const lnm = mul(sum, [2, 0]);
  const r = add([e, 0], mul(lnm, LOG2E));
  return r[0] + r[1];
}
