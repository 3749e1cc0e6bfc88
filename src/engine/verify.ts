/**
 * Verification of one body-pattern part at a candidate position.
 *
 * In: a part's nodes (from `signatures/clamav/types.ts`), the bytes of the layer (or of a window
 * of it), and the index of the node where the atom was found. Out: every (start, end) at which the
 * whole part matches around that atom. The atom index finds candidates in one pass; this module
 * runs only on them, so it favours exactness over speed: it walks forward from the atom and
 * backward from it, branching on alternatives, skips and `(L)` (which may take `\r\n`), which makes
 * variable-length elements before or after the atom cost nothing special.
 *
 * Character classes follow ClamAV's tables (reference §1.2): `(B)` has different byte sets on its
 * left and right edges; at a part's edge a class is zero-width; in the middle it consumes a byte.
 */
import type { PatternNode } from '../signatures/clamav/types.js';

/** ClamAV's boundary table: bit 1 = valid left boundary, bit 2 = valid right boundary. */
const BOUNDARY = new Uint8Array(256);
for (const [b, v] of [[0x0a, 2], [0x0d, 2], [0x20, 3], [0x22, 2], [0x27, 2], [0x2d, 3], [0x2e, 1], [0x2f, 3], [0x3c, 1], [0x3d, 2], [0x3e, 2], [0x40, 1], [0x5f, 3]] as const) BOUNDARY[b] = v;

const ALNUM = new Uint8Array(256);
for (let c = 0; c < 256; c++) ALNUM[c] = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ? 1 : 0;

export interface Subject {
  /** Bytes available for matching: the layer, or a window of it. */
  data: Uint8Array;
  /** Offset in the layer of `data[0]` (windows start after 0). */
  base: number;
  /** Length of the whole layer; a position equal to it is end of file for right-edge classes. */
  layerLength: number;
}

/** A continuation: receives a position, returns true to stop the search. */
type K = (pos: number) => boolean;

export function byteMatches(n: { value: number; mask: number; nocase?: boolean }, b: number): boolean {
  if (n.nocase) return ((b >= 0x41 && b <= 0x5a) ? b | 0x20 : b) === n.value;
  return (b & n.mask) === n.value;
}

function leftEdge(n: { cls: 'B' | 'L' | 'W'; negated: boolean; wide?: boolean }, s: Subject, pos: number): boolean {
  const abs = s.base + pos;
  let ok: boolean;
  if (abs === 0) ok = true;
  else if (pos <= 0) ok = false; // not enough context in this window
  else {
    const p = s.data[pos - 1]!;
    if (n.cls === 'B') ok = (BOUNDARY[p]! & 1) !== 0;
    else if (n.cls === 'L') ok = p === 0x0a;
    else if (n.wide) ok = abs === 1 || pos < 2 || !(ALNUM[s.data[pos - 2]!] && p === 0);
    else ok = !ALNUM[p];
  }
  return ok !== n.negated;
}

function rightEdge(n: { cls: 'B' | 'L' | 'W'; negated: boolean; wide?: boolean }, s: Subject, pos: number): boolean {
  const abs = s.base + pos;
  let ok: boolean;
  if (abs >= s.layerLength) ok = true;
  else if (pos >= s.data.length) ok = false;
  else {
    const c = s.data[pos]!;
    if (n.cls === 'B') ok = (BOUNDARY[c]! & 2) !== 0;
    else if (n.cls === 'L') ok = c === 0x0a || (c === 0x0d && pos + 1 < s.data.length && s.data[pos + 1] === 0x0a);
    else if (n.wide && pos + 1 < s.data.length) ok = !(ALNUM[c] && s.data[pos + 1] === 0);
    else ok = !ALNUM[c];
  }
  return ok !== n.negated;
}

/** Matches nodes[idx..] forward from `pos`; calls k(end) for each way it matches. */
export function matchForward(nodes: readonly PatternNode[], idx: number, s: Subject, pos: number, k: K): boolean {
  const d = s.data;
  for (;;) {
    if (idx >= nodes.length) return k(pos);
    const n = nodes[idx]!;
    switch (n.k) {
      case 'byte':
        if (pos >= d.length || !byteMatches(n, d[pos]!)) return false;
        pos++; idx++;
        continue;
      case 'skip': {
        for (let j = n.min; j <= n.max; j++) {
          if (pos + j > d.length) return false;
          if (matchForward(nodes, idx + 1, s, pos + j, k)) return true;
        }
        return false;
      }
      case 'class': {
        if (n.edge === 'left') { if (!leftEdge(n, s, pos)) return false; idx++; continue; }
        if (n.edge === 'right') { if (!rightEdge(n, s, pos)) return false; idx++; continue; }
        if (pos >= d.length) return false;
        const c = d[pos]!;
        if (n.cls === 'L') {
          if (!n.negated) {
            if (c === 0x0a) { pos++; idx++; continue; }
            if (c === 0x0d && pos + 1 < d.length && d[pos + 1] === 0x0a) { pos += 2; idx++; continue; }
            return false;
          }
          if (c === 0x0a || (c === 0x0d && pos + 1 < d.length && d[pos + 1] === 0x0a)) return false;
          pos++; idx++;
          continue;
        }
        const inClass = n.cls === 'B' ? BOUNDARY[c]! !== 0 : !ALNUM[c];
        if (inClass === n.negated) return false;
        pos++; idx++;
        continue;
      }
      case 'alt': {
        if (n.negated) {
          const len = n.branches[0]?.length ?? 0;
          if (pos + len > d.length) return false;
          for (const br of n.branches) {
            if (matchForward(br, 0, s, pos, (e) => e === pos + len)) return false;
          }
          pos += len; idx++;
          continue;
        }
        const next = idx + 1;
        for (const br of n.branches) {
          if (matchForward(br, 0, s, pos, (e) => matchForward(nodes, next, s, e, k))) return true;
        }
        return false;
      }
    }
  }
}

/** Matches nodes[..idx] backward, ending just before `pos`; calls k(start) for each way it matches. */
export function matchBackward(nodes: readonly PatternNode[], idx: number, s: Subject, pos: number, k: K): boolean {
  const d = s.data;
  for (;;) {
    if (idx < 0) return k(pos);
    const n = nodes[idx]!;
    switch (n.k) {
      case 'byte':
        if (pos <= 0 || !byteMatches(n, d[pos - 1]!)) return false;
        pos--; idx--;
        continue;
      case 'skip': {
        for (let j = n.min; j <= n.max; j++) {
          if (pos - j < 0) return false;
          if (matchBackward(nodes, idx - 1, s, pos - j, k)) return true;
        }
        return false;
      }
      case 'class': {
        if (n.edge === 'left') { if (!leftEdge(n, s, pos)) return false; idx--; continue; }
        if (n.edge === 'right') { if (!rightEdge(n, s, pos)) return false; idx--; continue; }
        if (pos <= 0) return false;
        const c = d[pos - 1]!;
        if (n.cls === 'L') {
          if (!n.negated) {
            if (c !== 0x0a) return false;
            if (pos >= 2 && d[pos - 2] === 0x0d && matchBackward(nodes, idx - 1, s, pos - 2, k)) return true;
            pos--; idx--;
            continue;
          }
          if (c === 0x0a || (c === 0x0d && pos < d.length && d[pos] === 0x0a)) return false;
          pos--; idx--;
          continue;
        }
        const inClass = n.cls === 'B' ? BOUNDARY[c]! !== 0 : !ALNUM[c];
        if (inClass === n.negated) return false;
        pos--; idx--;
        continue;
      }
      case 'alt': {
        if (n.negated) {
          const len = n.branches[0]?.length ?? 0;
          if (pos - len < 0) return false;
          for (const br of n.branches) {
            if (matchForward(br, 0, s, pos - len, (e) => e === pos)) return false;
          }
          pos -= len; idx--;
          continue;
        }
        const prev = idx - 1;
        for (const br of n.branches) {
          if (matchBackward(br, br.length - 1, s, pos, (st) => matchBackward(nodes, prev, s, st, k))) return true;
        }
        return false;
      }
    }
  }
}

/**
 * All (start, end) matches of a part whose atom (nodes[atomIndex..atomIndex+atomLength)) sits at
 * `atomPos`, in data coordinates. `leftSkip`: number of leading nodes (anchor byte and its skip)
 * that are not part of the reported match start, as ClamAV reports the start after an edge range.
 * At most `limit` pairs are returned.
 */
export function verifyPart(
  nodes: readonly PatternNode[], atomIndex: number, s: Subject, atomPos: number, leftSkip: number, limit = 8,
): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  const ends: number[] = [];
  matchForward(nodes, atomIndex, s, atomPos, (e) => { if (!ends.includes(e)) ends.push(e); return ends.length >= limit; });
  if (ends.length === 0) return out;
  // The reported start is where node `leftSkip` begins (after an edge anchor and its range, as
  // ClamAV reports it); the anchor nodes must still match behind it.
  const starts: number[] = [];
  const core = leftSkip === 0 ? nodes : nodes.slice(leftSkip);
  matchBackward(core, atomIndex - leftSkip - 1, s, atomPos, (st) => {
    if ((leftSkip === 0 || matchBackward(nodes, leftSkip - 1, s, st, () => true)) && !starts.includes(st)) starts.push(st);
    return starts.length >= limit;
  });
  for (const st of starts) for (const e of ends) { out.push({ start: st, end: e }); if (out.length >= limit) return out; }
  return out;
}
