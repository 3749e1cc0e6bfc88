/**
 * A small seeded pseudo-random generator for tests: a 32-bit seed (or a string hashed to one) in,
 * a deterministic stream of numbers, bytes, words and choices out.
 *
 * The core is sfc32 (Chris Doty-Humphrey's "small fast chaotic" generator, 128 bits of state),
 * seeded through splitmix32 so that nearby seeds give unrelated streams. It is not cryptographic;
 * it is fast, portable and reproducible on every platform, which is what a differential suite
 * needs: a failing seed printed in a test name replays exactly. `fork(label)` derives an
 * independent stream, so adding draws to one part of a generator does not shift every value
 * drawn after it in another part.
 */

/** Hashes a string to 32 bits (FNV-1a), for seeds given as text and for fork labels. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz';

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** The seed this stream was created from (after hashing a string seed). */
  readonly seed: number;

  constructor(seed: number | string) {
    this.seed = typeof seed === 'string' ? hashString(seed) : seed >>> 0;
    const mix = splitmix32(this.seed);
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    // Discard the first outputs: sfc32 mixes its state during its first rounds.
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Next 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    if (max < min) throw new RangeError(`int(${min}, ${max}): empty range`);
    const span = max - min + 1;
    if (span <= 0x100000000) {
      // Rejection sampling keeps the distribution exact for spans that do not divide 2^32.
      const limit = Math.floor(0x100000000 / span) * span;
      let x = this.next();
      while (x >= limit) x = this.next();
      return min + (x % span);
    }
    return min + Math.floor(this.float() * span);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array');
    return items[this.int(0, items.length - 1)] as T;
  }

  /** One element chosen by weight; weights need not sum to 1. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let x = this.float() * total;
    for (const [item, w] of items) {
      x -= w;
      if (x < 0) return item;
    }
    const last = items[items.length - 1];
    if (!last) throw new RangeError('weighted pick from an empty array');
    return last[0];
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const t = out[i] as T;
      out[i] = out[j] as T;
      out[j] = t;
    }
    return out;
  }

  /** k distinct elements, in random order. */
  sample<T>(items: readonly T[], k: number): T[] {
    return this.shuffle(items).slice(0, Math.min(k, items.length));
  }

  /** n uniformly random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let i = 0;
    while (i + 4 <= n) {
      const x = this.next();
      out[i++] = x & 0xff;
      out[i++] = (x >>> 8) & 0xff;
      out[i++] = (x >>> 16) & 0xff;
      out[i++] = x >>> 24;
    }
    while (i < n) out[i++] = this.next() & 0xff;
    return out;
  }

  /** n bytes drawn from an alphabet (a byte list); the alphabet must not be empty. */
  bytesFrom(n: number, alphabet: Uint8Array | readonly number[]): Uint8Array {
    const out = new Uint8Array(n);
    const len = alphabet.length;
    if (len === 0) throw new RangeError('bytesFrom an empty alphabet');
    // Multiply-shift instead of rejection sampling: the bias (< len / 2^32) does not matter for
    // filler, and this is the generator's hottest loop.
    for (let i = 0; i < n; i++) out[i] = alphabet[Math.floor((this.next() / 4294967296) * len)] as number;
    return out;
  }

  /** A lower-case ASCII word of a length in [minLen, maxLen]. */
  word(minLen = 2, maxLen = 8, letters: string = LOWER): string {
    const n = this.int(minLen, maxLen);
    let s = '';
    for (let i = 0; i < n; i++) s += letters[this.int(0, letters.length - 1)];
    return s;
  }

  /** count words joined by single spaces. */
  words(count: number, minLen = 2, maxLen = 8): string {
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push(this.word(minLen, maxLen));
    return out.join(' ');
  }

  /** An independent stream derived from this one's seed and a label; does not advance this one. */
  fork(label: string): Prng {
    return new Prng((Math.imul(this.seed ^ hashString(label), 0x9e3779b1) ^ hashString(`${label}#`)) >>> 0);
  }
}

/** mulberry32 (`src/core/random.ts`): a tiny seeded generator of floats in [0, 1). */
export { mulberry32 } from '../../src/core/random.js';
