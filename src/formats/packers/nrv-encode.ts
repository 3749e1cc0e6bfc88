/**
 * NRV2B, NRV2D and NRV2E encoding with a greedy matcher, for building UPX-style samples.
 *
 * In: bytes and a method. Out: a stream `nrvDecode` (./nrv.ts) and the UPX loader decode back to
 * the same bytes, ended by the end marker. Not tuned for ratio: matches are found through a hash
 * of 3 bytes with a short chain, the previous offset is reused when it matches.
 *
 * Why: no packer is installed where the samples are made; tests and differentials build packed
 * executables from code.
 */
import type { NrvMethod } from './nrv.js';

class BitWriter {
  out: number[] = [];
  private slot = -1;
  private word = 0;
  private n = 32;
  bit(b: number): void {
    if (this.n === 32) {
      this.flushWord();
      this.slot = this.out.length;
      this.out.push(0, 0, 0, 0);
      this.word = 0;
      this.n = 0;
    }
    this.word = (this.word | ((b & 1) << (31 - this.n))) >>> 0;
    this.n++;
  }
  byte(v: number): void {
    this.out.push(v & 0xff);
  }
  flushWord(): void {
    if (this.slot < 0) return;
    const w = this.word >>> 0;
    this.out[this.slot] = w & 0xff;
    this.out[this.slot + 1] = (w >>> 8) & 0xff;
    this.out[this.slot + 2] = (w >>> 16) & 0xff;
    this.out[this.slot + 3] = w >>> 24;
  }
  /** Gamma of v ≥ 2 as the 2B decoder reads it: each bit after the leading one, then 1 to stop or 0 to go on. */
  gamma(v: number): void {
    const bits = Math.floor(Math.log2(v));
    for (let i = bits - 1; i >= 0; i--) {
      this.bit(Math.floor(v / 2 ** i) & 1);
      this.bit(i === 0 ? 1 : 0);
    }
  }
  /**
   * Gamma of v ≥ 2 as the 2D/2E offset decoder reads it: v = v*2 + bit, then a stop bit; on 0,
   * v = (v-1)*2 + bit and again. Worked out backwards from v: the last step's bit is v's low bit;
   * what came before it is 1 (the start) or came from a (v-1)*2 + bit step.
   */
  gammaD(v: number): void {
    // Bits in reverse: a step's data bit, preceded (in reverse) by the continue step's bit.
    const steps: number[] = [];
    let u = v;
    for (;;) {
      steps.push(u & 1);
      u = Math.floor(u / 2);
      if (u === 1) break;
      steps.push(u & 1);
      u = Math.floor(u / 2) + 1;
    }
    steps.reverse();
    // Now: data bit, [continue bit, data bit, ...]: emit each data bit, then 0 and the continue
    // step's bit while more follow, 1 after the last.
    for (let i = 0; i < steps.length; i += 2) {
      this.bit(steps[i]!);
      if (i + 1 >= steps.length) { this.bit(1); break; }
      this.bit(0);
      this.bit(steps[i + 1]!);
    }
  }
  finish(): Uint8Array {
    this.flushWord();
    return Uint8Array.from(this.out);
  }
}

function lengthBits(w: BitWriter, method: NrvMethod, lc: number): void {
  if (method === '2e') {
    // lc 0..1: 1, b; 2..3: 0, 1, b; ≥4: 0, 0, gamma(lc - 2).
    if (lc < 2) { w.bit(1); w.bit(lc); } else if (lc < 4) { w.bit(0); w.bit(1); w.bit(lc - 2); } else { w.bit(0); w.bit(0); w.gamma(lc - 2); }
  } else if (lc < 4) {
    w.bit(lc >> 1);
    w.bit(lc & 1);
  } else {
    w.bit(0);
    w.bit(0);
    w.gamma(lc - 2);
  }
}

/** Encodes `data`; the stream ends with the end marker (`nrvDecode` returns `data.length`). */
export function nrvEncode(method: NrvMethod, data: Uint8Array): Uint8Array {
  const w = new BitWriter();
  const far = method === '2b' ? 0xd00 : 0x500;
  const HASH = 1 << 15, WINDOW = 0x20000, CHAIN = 24, MAXLEN = 2048;
  const head = new Int32Array(HASH).fill(-1);
  const prev = new Int32Array(data.length).fill(-1);
  const hash = (p: number): number => ((data[p]! << 10) ^ (data[p + 1]! << 5) ^ data[p + 2]!) & (HASH - 1);
  const insert = (p: number): void => {
    if (p + 2 >= data.length) return;
    const h = hash(p);
    prev[p] = head[h]!;
    head[h] = p;
  };
  const gamma = (v: number): void => (method === '2b' ? w.gamma(v) : w.gammaD(v));
  let lastDist = 1;
  let p = 0;
  while (p < data.length) {
    let bestLen = 0, bestDist = 0;
    if (p + 2 < data.length) {
      const limit = Math.min(MAXLEN, data.length - p);
      // The previous offset first: it costs fewest bits.
      if (p - lastDist >= 0) {
        let l = 0;
        while (l < limit && data[p - lastDist + l] === data[p + l]) l++;
        if (l >= 3) { bestLen = l; bestDist = lastDist; }
      }
      let c = head[hash(p)]!;
      for (let k = 0; c >= 0 && k < CHAIN && p - c <= WINDOW; k++, c = prev[c]!) {
        let l = 0;
        while (l < limit && data[c + l] === data[p + l]) l++;
        if (l > bestLen + 1) { bestLen = l; bestDist = p - c; }
      }
    }
    const minLen = bestDist > far ? 3 : 2;
    if (bestLen >= Math.max(3, minLen)) {
      w.bit(0);
      const extra = bestDist > far ? 1 : 0;
      if (bestDist === lastDist) {
        gamma(2);
        if (method !== '2b') {
          // The length's first bit travels alone when the offset is reused.
          const lc = bestLen - 2 - extra;
          const lcb = method === '2d' ? bestLen - 1 - extra : lc;
          if (method === '2d') lengthD(w, lcb, true);
          else lengthE(w, lcb, true);
        } else {
          lengthBits(w, method, bestLen - 1 - extra);
        }
      } else {
        // 2B: n = dist - 1; 2D/2E: n = (dist - 1) * 2 + (1 - first length bit).
        if (method === '2b') {
          const n = bestDist - 1;
          gamma(Math.floor(n / 256) + 3);
          w.byte(n & 0xff);
          lengthBits(w, method, bestLen - 1 - extra);
        } else {
          const lc = method === '2d' ? bestLen - 1 - extra : bestLen - 2 - extra;
          const first = method === '2d' ? (lc < 4 ? lc >> 1 : 0) : (lc < 2 ? 1 : 0);
          const n = (bestDist - 1) * 2 + (1 - first);
          gamma(Math.floor(n / 256) + 3);
          w.byte(n & 0xff);
          if (method === '2d') lengthD(w, lc, false);
          else lengthE(w, lc, false);
        }
      }
      lastDist = bestDist;
      for (let i = 0; i < bestLen; i++) insert(p + i);
      p += bestLen;
    } else {
      w.bit(1);
      w.byte(data[p]!);
      insert(p);
      p++;
    }
  }
  // End marker: offset prefix 0x1000002 and byte 0xff.
  w.bit(0);
  gamma(0x1000002);
  w.byte(0xff);
  return w.finish();
}

/** 2D length bits after the offset; `withFirst` when the first bit is not carried by the offset. */
function lengthD(w: BitWriter, lc: number, withFirst: boolean): void {
  if (lc < 4) {
    if (withFirst) w.bit(lc >> 1);
    w.bit(lc & 1);
  } else {
    if (withFirst) w.bit(0);
    w.bit(0);
    w.gamma(lc - 2);
  }
}

/** 2E length bits after the offset; `withFirst` when the first bit is not carried by the offset. */
function lengthE(w: BitWriter, lc: number, withFirst: boolean): void {
  if (lc < 2) {
    if (withFirst) w.bit(1);
    w.bit(lc);
  } else {
    if (withFirst) w.bit(0);
    if (lc < 4) { w.bit(1); w.bit(lc - 2); } else { w.bit(0); w.gamma(lc - 2); }
  }
}
