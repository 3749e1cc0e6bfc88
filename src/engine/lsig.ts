/**
 * Logical-signature evaluation that needs no byte-pattern matcher: the logical expression over
 * subsignature match counts, and byte-compare subsignatures.
 *
 * In: an expression from `parseLogicalExpr` (re-exported here) and the count of matches of each
 * subsignature; a byte-compare subsignature, the layer's bytes and where its trigger matched.
 * Out: whether the expression holds; whether the comparison holds.
 *
 * Both follow ClamAV 1.4 exactly (`cli_ac_chklsig` in evaluation mode, `cli_bcomp_scanbuf` and
 * `cli_bcomp_compare_check`), because their corner cases decide detections:
 * - a `(…)` block's count is the sum of the counts its true parts contribute; `,M` counts the
 *   distinct subsignatures among them, where a leaf with a satisfied condition (`0=0` too) counts
 *   as present and a nested block with a condition contributes its count but no subsignatures;
 * - a byte compare reads at the *last* recorded match of its trigger, never at file offset 0, and
 *   parses text the way ClamAV's own `strntol` and little-endian "normalisation" do.
 */
import type { LogicalExpr, Subsig } from '../signatures/clamav/types.js';
import type { LdbByteCmpSubsig } from '../signatures/clamav/ldb-types.js';

export { parseLogicalExpr, logicalMaxIndex, type LogicParse, type ExprLocation } from '../signatures/clamav/ldb.js';

// ───────────────────────────── logical expressions ─────────────────────────────

interface Eval { ok: boolean; count: number; lo: number; hi: number }
const FALSE: Eval = { ok: false, count: 0, lo: 0, hi: 0 };

function compare(v: number, op: '=' | '>' | '<', x: number): boolean {
  return op === '=' ? v === x : op === '>' ? v > x : v < x;
}

function popcount32(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v; v &= v - 1) n++;
  return n;
}

/** Bit for subsignature `i` in a 64-bit set kept as two 32-bit halves (x86 shifts take the count mod 64). */
function bit(i: number): { lo: number; hi: number } {
  const b = i & 63;
  return b < 32 ? { lo: (1 << b) >>> 0, hi: 0 } : { lo: 0, hi: (1 << (b - 32)) >>> 0 };
}

function ev(e: LogicalExpr, counts: ArrayLike<number>): Eval {
  switch (e.k) {
    case 'sub': {
      const v = counts[e.index] ?? 0;
      if (!v) return FALSE;
      const b = bit(e.index);
      return { ok: true, count: v >>> 0, lo: b.lo, hi: b.hi };
    }
    case 'and':
    case 'or': {
      const l = ev(e.left, counts);
      const r = ev(e.right, counts);
      const ok = e.k === 'and' ? l.ok && r.ok : l.ok || r.ok;
      if (!ok) return FALSE;
      return { ok: true, count: (l.count + r.count) >>> 0, lo: (l.lo | r.lo) >>> 0, hi: (l.hi | r.hi) >>> 0 };
    }
    case 'count': {
      if (e.expr.k === 'sub') {
        // A leaf condition: the subsignature joins the block's set whenever the condition holds.
        const v = (counts[e.expr.index] ?? 0) >>> 0;
        if (!compare(v, e.op, e.value)) return FALSE;
        const b = bit(e.expr.index);
        return { ok: true, count: v, lo: b.lo, hi: b.hi };
      }
      const inner = ev(e.expr, counts);
      const total = inner.ok ? inner.count : 0;
      if (!compare(total, e.op, e.value)) return FALSE;
      if (e.distinct && (inner.ok ? popcount32(inner.lo) + popcount32(inner.hi) : 0) < e.distinct) return FALSE;
      // ClamAV passes the block's count up but not its subsignatures.
      return { ok: true, count: total, lo: 0, hi: 0 };
    }
  }
}

/**
 * Evaluates a logical expression on the match counts of a signature's subsignatures (index →
 * count; missing indices count 0). `N` holds when subsignature N matched; `A=X`, `A>X`, `A<X`
 * compare the count of A (for a block, the sum over the parts that hold); `,Y` on a block also
 * needs Y distinct subsignatures among them. `&` and `|` evaluate both sides.
 */
export function evalLogical(expr: LogicalExpr, counts: ArrayLike<number>): boolean {
  return ev(expr, counts).ok;
}

// ───────────────────────────── byte compare ─────────────────────────────

type ByteCmp = LdbByteCmpSubsig | Extract<Subsig, { k: 'bytecmp' }>;

const isSpace = (b: number): boolean => b === 0x20 || (b >= 0x09 && b <= 0x0d);
const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;
const isAlpha = (b: number): boolean => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
const isXDigit = (b: number): boolean => isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
const X = 0x78;
const ZERO = 0x30;
const LONG_MAX = (1n << 63n) - 1n;

/**
 * ClamAV's `cli_strntol`: at most `n` bytes of `buf` (NUL beyond its end), blanks, a sign, `0x`
 * for base 16 only when there is no sign, then digits; returns the value, the index after the
 * digits (0 when there are none) and whether it overflowed 64 bits.
 */
function strntol(buf: ArrayLike<number>, n: number, base: 10 | 16): { value: bigint; end: number; overflow: boolean } {
  const at = (i: number): number => (i < buf.length ? buf[i]! : 0);
  const none = { value: 0n, end: 0, overflow: false };
  if (n === 0) return none;
  let s = 0;
  let c = at(s);
  while (isSpace(c)) { s++; if (s >= n) return none; c = at(s); }
  let neg = false;
  if (c === 0x2d || c === 0x2b) {
    neg = c === 0x2d;
    s++;
    if (s >= n) return none;
  } else if (base === 16 && c === ZERO && s + 1 < n && (at(s + 1) | 0x20) === X) {
    if (s + 2 >= n) return none;
    s += 2;
  }
  const cutoff = neg ? LONG_MAX + 1n : LONG_MAX;
  let acc = 0n;
  let any = 0;
  const b = BigInt(base);
  for (; s < n; s++) {
    const ch = at(s);
    let d: number;
    if (isDigit(ch)) d = ch - 0x30;
    else if (isAlpha(ch)) d = (ch | 0x20) - 0x61 + 10;
    else break;
    if (d >= base) break;
    if (any < 0 || acc * b + BigInt(d) > cutoff) any = -1;
    else { any = 1; acc = acc * b + BigInt(d); }
  }
  if (any < 0) return { value: neg ? -(LONG_MAX + 1n) : LONG_MAX, end: s, overflow: true };
  return { value: neg ? -acc : acc, end: any ? s : 0, overflow: false };
}

/** True when the text starts with `0x`/`0X` and is at least 3 bytes long (`cli_bcomp_chk_hex`). */
function looksHex(buf: readonly number[], len: number): boolean {
  return len >= 3 && buf[0] === ZERO && ((buf[1] ?? 0) | 0x20) === X;
}

/**
 * ClamAV's little-endian "normalisation" of hex text: pad an odd length with a leading `0` (after
 * the `0x`, which becomes `x0`), then reverse the order of the 2-character pairs. A pair with a
 * character that is neither a hex digit nor `x` resets everything written so far to `0`s and
 * the reversal continues.
 */
function littleEndianHex(buf: readonly number[], len: number): number[] {
  const norm = len % 2 === 0 ? len : len + 1;
  const tmp = new Array<number>(norm + 1).fill(ZERO);
  const hex = new Array<number>(norm + 1).fill(ZERO);
  if (len === 1) {
    tmp[0] = buf[0] ?? 0;
  } else {
    if (norm === len + 1) {
      if (looksHex(buf, len)) {
        for (let i = 0; i < len - 2; i++) hex[3 + i] = buf[2 + i] ?? 0;
        hex[0] = X;
      } else {
        for (let i = 0; i < len; i++) hex[1 + i] = buf[i] ?? 0;
      }
    } else {
      for (let i = 0; i < len; i++) hex[i] = buf[i] ?? 0;
      if (looksHex(buf, len)) hex[0] = X;
    }
    const ok = (ch: number): boolean => isXDigit(ch) || (ch | 0x20) === X;
    for (let i = 0; i < norm; i += 2) {
      const a = hex[norm - i - 2]!;
      if (ok(a)) tmp[i] = a;
      else { tmp.fill(ZERO, 0, norm + 1); continue; }
      const b = hex[norm - i - 1]!;
      if (ok(b)) tmp[i + 1] = b;
      else tmp.fill(ZERO, 0, norm + 1);
    }
  }
  tmp[norm] = 0;
  return tmp;
}

/**
 * The comparison of a byte-compare subsignature at one trigger offset (`cli_bcomp_compare_check`).
 * `offset` is where the trigger matched; the field starts at `offset + off`, which must be > 0
 * (a field at file offset 0 never matches) and leave `len` bytes in `buffer`.
 */
export function byteCompareAt(sub: ByteCmp, buffer: Uint8Array, offset: number): boolean {
  const byteLen0 = sub.len >>> 0;
  const pos = (offset | 0) + sub.off;
  if (!(pos + byteLen0 <= buffer.length)) return false;
  if (!(pos > 0)) return false;
  const base = (sub as { base?: string }).base;
  const endian = (sub as { endian?: string }).endian;

  let value = 0n;
  if (base === 'i') {
    if (byteLen0 !== 1 && byteLen0 !== 2 && byteLen0 !== 4 && byteLen0 !== 8) return false;
    if (endian !== 'l' && endian !== 'b') return false;
    let v = 0n;
    for (let i = 0; i < byteLen0; i++) {
      const b = BigInt(buffer[pos + (endian === 'b' ? i : byteLen0 - 1 - i)]!);
      v = (v << 8n) | b;
    }
    value = BigInt.asIntN(64, v);
  } else {
    // Leading blanks are skipped (and remembered: `e` then fails).
    let pad = 0;
    while (pad < byteLen0 && isSpace(buffer[pos + pad]!)) pad++;
    const len = byteLen0 - pad;
    const text = Array.from(buffer.subarray(pos + pad, pos + byteLen0));
    let kind = base;
    const le = endian === 'l';
    const leText = le && (kind === 'h' || kind === 'a') ? littleEndianHex(text, len) : undefined;
    if (kind === 'a') {
      if (len < 3) return false; // stays "auto", which ClamAV then rejects
      kind = looksHex(text, len) ? 'h' : 'd';
    }
    let r: { value: bigint; end: number; overflow: boolean };
    if (kind === 'h' && le) {
      const norm = len === 1 ? 1 : len % 2 === 0 ? len : len + 1;
      r = strntol(leText!, norm, 16);
    } else if (kind === 'h' && endian === 'b') {
      r = strntol(text, len, 16);
    } else if (kind === 'd' && endian === 'b') {
      r = strntol(text, len, 10);
    } else {
      return false; // decimal little-endian, or no base/endianness: never matches
    }
    if (r.overflow) return false;
    if (sub.exact && (r.end !== len || pad !== 0)) return false;
    value = r.value;
  }
  for (const c of sub.cmps) {
    const v = BigInt.asIntN(64, c.value);
    if (!(c.op === '>' ? value > v : c.op === '<' ? value < v : value === v)) return false;
  }
  return true;
}

/**
 * Evaluates a byte-compare subsignature for a layer (`cli_bcomp_scanbuf`): its trigger
 * subsignature must have matched (`triggerCount` ≥ 1; by default the number of offsets), and the
 * comparison is made at the trigger's last recorded match (0 if it has none recorded, as for a
 * trigger that is itself a byte compare). True means ClamAV adds one to this subsignature's count.
 *
 * ClamAV runs byte compares after each 128 KiB scan window, with `buffer` = that window but
 * offsets counted from the start of the file, and before PCRE subsignatures (so a byte compare
 * triggered by a PCRE subsignature never fires). The caller decides which buffer to pass; for a
 * layer that fits one window, it is the whole layer.
 */
export function evalByteCompare(sub: ByteCmp, buffer: Uint8Array, triggerMatchOffsets: readonly number[], triggerCount = triggerMatchOffsets.length): boolean {
  if (sub.trigger.k !== 'sub' || sub.trigger.index < 0 || triggerCount < 1) return false;
  const last = triggerMatchOffsets.length ? triggerMatchOffsets[triggerMatchOffsets.length - 1]! : 0;
  return byteCompareAt(sub, buffer, last);
}
