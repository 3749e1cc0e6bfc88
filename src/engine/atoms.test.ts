import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AtomIndex, chooseAtom, type AtomSource } from './atoms.js';
import type { PatternNode } from '../signatures/clamav/types.js';

/** A small deterministic generator (xorshift32), so failures reproduce. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

function naive(data: Uint8Array, sources: AtomSource[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < data.length; i++) {
    for (const s of sources) {
      for (const v of s.atom.variants) {
        if (i + v.length <= data.length && v.every((b, k) => data[i + k] === b)) out.push(`${s.part}@${i}`);
      }
    }
  }
  return out.sort();
}

for (const lengths of [[4], [2, 3, 4], [2], [3]]) {
  test(`AtomIndex finds exactly the occurrences a naive search finds (atom lengths ${lengths.join('/')})`, () => {
    const r = rng(lengths.length * 7919 + lengths[0]!);
    // A small alphabet makes atoms occur often, including overlapping and at the very end.
    const data = Uint8Array.from({ length: 5000 }, () => 0x61 + (r() % 4));
    const sources: AtomSource[] = [];
    for (let p = 0; p < 60; p++) {
      const len = lengths[r() % lengths.length]!;
      const v = Array.from({ length: len }, () => 0x61 + (r() % 4));
      sources.push({ part: p, atom: { index: 0, length: len, variants: [v] } });
    }
    const idx = new AtomIndex(sources);
    const got: string[] = [];
    idx.scan(data, 0, data.length, (part, pos) => got.push(`${part}@${pos}`));
    assert.deepEqual(got.sort(), naive(data, sources));
  });
}

test('AtomIndex honours the scanned range and reports atoms reaching past it', () => {
  const data = Buffer.from('xxabcdxxabcdxx');
  const idx = new AtomIndex([{ part: 1, atom: { index: 0, length: 4, variants: [[0x61, 0x62, 0x63, 0x64]] } }]);
  const got: number[] = [];
  idx.scan(data, 3, 9, (_p, pos) => got.push(pos));
  assert.deepEqual(got, [8]);
});

test('chooseAtom prefers four rare fixed bytes over common ones and wildcards', () => {
  const b = (v: number, mask = 0xff): PatternNode => ({ k: 'byte', value: v, mask });
  const nodes = [b(0), b(0), b(0), b(0), b(0, 0), b(0x4d), b(0x5a), b(0x90), b(0x33)];
  const a = chooseAtom(nodes)!;
  assert.equal(a.index, 5);
  assert.equal(a.length, 4);
  const nocase: PatternNode[] = [{ k: 'byte', value: 0x61, mask: 0xff, nocase: true }, { k: 'byte', value: 0x62, mask: 0xff, nocase: true }];
  assert.deepEqual(chooseAtom(nocase)!.variants.map((v) => String.fromCharCode(...v)).sort(), ['AB', 'Ab', 'aB', 'ab']);
});
