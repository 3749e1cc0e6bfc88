/**
 * Compiled YARA regex → matches over raw bytes, by a Pike VM (no backtracking).
 *
 * In: the forward and reversed programs built by `compile.ts`, and a byte buffer.
 * Out: `matchAt` (length of the match YARA reports at one start, −1 if none) and `findAll` (every
 * match YARA's `-s` reports for a string `$a = /re/`).
 *
 * Why this shape: each VM step visits every program instruction at most once (a generation mark
 * per instruction), so one `matchAt` costs O(window × program size) and never blows up,
 * whatever the nesting of quantifiers. Threads are kept in priority order and a thread reaching
 * MATCH cuts every lower-priority thread, which yields the leftmost-first match (greedy or lazy as
 * the quantifiers say), as YARA's fiber VM does.
 *
 * `findAll` first runs the reversed program backwards over the data once, carrying for each NFA
 * state the nearest possible match end, which marks exactly the positions where a match of at
 * most REGEX_MAX_MATCH bytes can start; `matchAt` then runs only at those positions. YARA reports
 * a match at every such position whose match is non-empty, overlapping ones included (measured
 * with yara 4.2.3: `/a+b/` over `aaab` gives `0x0: aaab`, `0x1: aab`, `0x2: ab`; empty matches, as
 * `/b*\/` at a position without `b`, are never reported).
 *
 * Where this differs from yara 4.2.3 (found by the differential test):
 * - Start offsets agree. The reported length can differ for some regexes whose alternatives or
 *   repetitions contain literals (about 5% of random regexes, 1.4% of matches): yara verifies
 *   from the atom it found, backwards to the start and forwards from the atom, and different
 *   atom hits for one start can give different lengths (`/\w{1,3}c*\S((bb)+)/` over `axbbbbbc`:
 *   leftmost-first gives `axbbbb`, yara `axbbbbb`, via the atom `bb` one byte later). Here the
 *   length is always the leftmost-first match from the start, independent of atoms.
 * - yara's bug where `.{n,}?` and `[^\n]{n,}?` (lazy, open-ended) match `\n` without `s` is not
 *   reproduced.
 * - yara gives up on a string whose VM needs more than 1,024 fibers (error 46); this VM has no
 *   such limit (its thread list is bounded by the program size).
 */

import { YARA_LIMITS } from '../../core/limits.js';
import { isWordByte } from './parse.js';
import {
  ASSERT_BOL,
  ASSERT_EOL,
  ASSERT_WIDE_NOTWORD,
  ASSERT_WIDE_WORD,
  ASSERT_WORD,
  OP_ASSERT,
  OP_JMP,
  OP_MATCH,
  OP_SPLIT,
  type Program,
  type RegexAtom,
} from './compile.js';

/** Longest match, in bytes (YARA's RE_SCAN_LIMIT: matching forward from a start stops after 4096 bytes). */
export const REGEX_MAX_MATCH = YARA_LIMITS.scanLimit;
/** Matches reported per string by one `findAll` (YARA's YR_MAX_STRING_MATCHES, 1,000,000). */
export const REGEX_MAX_MATCHES = YARA_LIMITS.maxStringMatches;
/** States kept in the lazily built DFA of one regex; when full, the cache is cleared and rebuilt (bounds memory). */
export const REGEX_DFA_MAX_STATES = 4096;

/**
 * Whether a zero-width assertion holds at `pos`. The wide forms (for `wide` strings) look at
 * characters of two bytes, a character being a word character when its first byte is one and its
 * second is zero, as YARA's `_yr_re_is_word_char` does with a character size of 2; what lies
 * outside the data is a non-word character (YARA 4.5, YARA-X).
 */
export function assertHolds(kind: number, data: Uint8Array, pos: number): boolean {
  switch (kind) {
    case ASSERT_BOL:
      return pos === 0;
    case ASSERT_EOL:
      return pos === data.length;
    case ASSERT_WIDE_WORD:
    case ASSERT_WIDE_NOTWORD: {
      const before = pos >= 2 && isWordByte(data[pos - 2] as number) && data[pos - 1] === 0;
      const after = pos + 1 < data.length && isWordByte(data[pos] as number) && data[pos + 1] === 0;
      return (before !== after) === (kind === ASSERT_WIDE_WORD);
    }
    default: {
      const before = pos > 0 && isWordByte(data[pos - 1] as number);
      const after = pos < data.length && isWordByte(data[pos] as number);
      return (before !== after) === (kind === ASSERT_WORD);
    }
  }
}

/** Scratch space for one program: two thread lists, marks and a DFS stack. */
class Scratch {
  list0: Int32Array;
  list1: Int32Array;
  end0: Int32Array;
  end1: Int32Array;
  mark: Uint32Array;
  stack: Int32Array;
  gen = 0;
  constructor(n: number) {
    this.list0 = new Int32Array(n);
    this.list1 = new Int32Array(n);
    this.end0 = new Int32Array(n);
    this.end1 = new Int32Array(n);
    this.mark = new Uint32Array(n);
    this.stack = new Int32Array(2 * n + 2);
  }
  nextGen(): void {
    if (++this.gen === 0xffffffff) {
      this.mark.fill(0);
      this.gen = 1;
    }
  }
}

export type MatchCallback = (offset: number, length: number) => boolean | void;

export class CompiledRegex {
  private readonly fs: Scratch;
  private readonly rs: Scratch;
  /** Set by `addThreads` when a MATCH instruction was reached; its carried end (reverse) or -1. */
  private matchEnd = -1;
  /** Lazy DFA over ordered thread lists (only for programs without assertions); see `matchAtDfa`. */
  private readonly dfaUsable: boolean;
  private dfaKeys = new Map<string, number>();
  private dfaLists: Int32Array[] = [];
  private dfaMatch: boolean[] = [];
  private dfaNext = new Int32Array(0);

  constructor(
    readonly source: string,
    readonly forward: Program,
    readonly reverse: Program,
    /** Literal bytes every match starts with (possibly empty). */
    readonly literalPrefix: Uint8Array,
    /** The longest literal run (≤ 4 bytes) every match contains, with its offset when fixed. */
    readonly atom: RegexAtom | undefined,
  ) {
    this.fs = new Scratch(forward.length);
    this.rs = new Scratch(reverse.length);
    this.dfaUsable = !forward.op.includes(OP_ASSERT);
  }

  /** Atoms for the index: currently at most one (see `atom`). */
  atoms(): RegexAtom[] {
    return this.atom ? [this.atom] : [];
  }

  /**
   * Epsilon closure from `pc` at `pos`, appended to `list` in priority order (depth-first,
   * preferred branch first). Only SET and MATCH instructions enter the list. Returns the new
   * list length.
   */
  private addThreads(
    p: Program,
    s: Scratch,
    list: Int32Array,
    ends: Int32Array,
    n: number,
    pc0: number,
    end: number,
    data: Uint8Array,
    pos: number,
  ): number {
    const { op, a, b } = p;
    const mark = s.mark;
    const stack = s.stack;
    const gen = s.gen;
    let sp = 0;
    stack[sp++] = pc0;
    while (sp > 0) {
      const pc = stack[--sp] as number;
      if (mark[pc] === gen) continue;
      mark[pc] = gen;
      switch (op[pc]) {
        case OP_JMP:
          stack[sp++] = a[pc] as number;
          break;
        case OP_SPLIT:
          stack[sp++] = b[pc] as number;
          stack[sp++] = a[pc] as number;
          break;
        case OP_ASSERT:
          if (assertHolds(a[pc] as number, data, pos)) stack[sp++] = pc + 1;
          break;
        case OP_MATCH:
          if (this.matchEnd < 0) this.matchEnd = end;
          list[n] = pc;
          ends[n++] = end;
          break;
        default:
          list[n] = pc;
          ends[n++] = end;
      }
    }
    return n;
  }

  /**
   * Length of the match starting exactly at `start` (−1 if none), as YARA reports it: the
   * leftmost-first match, at most REGEX_MAX_MATCH bytes, not extending past `limit`
   * (default: end of data). Anchors and `\b` look at the real neighbouring bytes.
   */
  matchAt(data: Uint8Array, start: number, limit: number = data.length): number {
    if (this.dfaUsable) return this.matchAtDfa(data, start, limit);
    return this.matchAtPike(data, start, limit);
  }

  /** DFA state for an ordered thread list (cut after its first MATCH), created on first use. */
  private dfaState(list: Int32Array, n: number): number {
    let cut = n;
    for (let i = 0; i < n; i++) {
      if (this.forward.op[list[i] as number] === OP_MATCH) {
        cut = i + 1;
        break;
      }
    }
    const ids = list.slice(0, cut);
    const key = ids.join(',');
    const known = this.dfaKeys.get(key);
    if (known !== undefined) return known;
    if (this.dfaLists.length >= REGEX_DFA_MAX_STATES) {
      // Full: start over. States built before are dropped; the caller holds only ids it re-resolves.
      this.dfaKeys.clear();
      this.dfaLists = [];
      this.dfaMatch = [];
    }
    const id = this.dfaLists.length;
    if (this.dfaNext.length < (id + 1) * 256) {
      const grown = new Int32Array(Math.max(256 * 16, this.dfaNext.length * 2));
      grown.set(this.dfaNext);
      grown.fill(-1, this.dfaNext.length);
      this.dfaNext = grown;
    }
    this.dfaNext.fill(-1, id * 256, id * 256 + 256);
    this.dfaLists.push(ids);
    this.dfaMatch.push(cut > 0 && this.forward.op[ids[cut - 1] as number] === OP_MATCH);
    this.dfaKeys.set(key, id);
    return id;
  }

  /**
   * The same leftmost-first semantics as `matchAtPike`, with each step's ordered thread list
   * memoised as a DFA state: after warm-up a byte costs one table look-up. Used only when the
   * program has no assertions (their outcome depends on the position, not only on the state).
   */
  private matchAtDfa(data: Uint8Array, start: number, limit: number): number {
    if (start < 0 || start > data.length) return -1;
    const p = this.forward;
    const s = this.fs;
    const stop = Math.min(limit, data.length, start + REGEX_MAX_MATCH);
    s.nextGen();
    let n = this.addThreads(p, s, s.list0, s.end0, 0, 0, 0, data, start);
    const epoch = this.dfaLists;
    let st = this.dfaState(s.list0, n);
    let result = this.dfaMatch[st] ? 0 : -1;
    for (let pos = start; pos < stop; pos++) {
      const byte = data[pos] as number;
      let nx = this.dfaNext[st * 256 + byte] as number;
      if (nx < 0 || this.dfaLists !== epoch) {
        const list = this.dfaLists !== epoch ? undefined : this.dfaLists[st];
        if (!list) return this.matchAtPike(data, start, limit); // cache was reset mid-run
        s.nextGen();
        n = 0;
        for (let i = 0; i < list.length; i++) {
          const pc = list[i] as number;
          if (p.op[pc] === OP_MATCH) break;
          if (p.sets[(p.a[pc] as number) * 256 + byte] === 1) n = this.addThreads(p, s, s.list1, s.end1, n, pc + 1, 0, data, pos + 1);
        }
        const before = this.dfaLists;
        nx = this.dfaState(s.list1, n);
        if (this.dfaLists !== before) return this.matchAtPike(data, start, limit); // cache was reset mid-run
        this.dfaNext[st * 256 + byte] = nx;
      }
      st = nx;
      const list = this.dfaLists[st] as Int32Array;
      if (list.length === 0) break;
      if (this.dfaMatch[st]) {
        result = pos + 1 - start;
        if (list.length === 1) break; // only MATCH is left: nothing can extend it
      }
    }
    return result;
  }

  private matchAtPike(data: Uint8Array, start: number, limit: number): number {
    const p = this.forward;
    const s = this.fs;
    const op = p.op;
    const sets = p.sets;
    const a = p.a;
    const stop = Math.min(limit, data.length, start + REGEX_MAX_MATCH);
    if (start < 0 || start > data.length) return -1;
    let clist = s.list0;
    let nlist = s.list1;
    s.nextGen();
    let cn = this.addThreads(p, s, clist, s.end0, 0, 0, 0, data, start);
    let result = -1;
    let pos = start;
    while (cn > 0) {
      s.nextGen();
      let nn = 0;
      const byte = pos < stop ? (data[pos] as number) : -1;
      for (let i = 0; i < cn; i++) {
        const pc = clist[i] as number;
        if (op[pc] === OP_MATCH) {
          result = pos - start;
          break; // lower-priority threads lose to this match
        }
        if (byte >= 0 && sets[(a[pc] as number) * 256 + byte] === 1) {
          nn = this.addThreads(p, s, nlist, s.end1, nn, pc + 1, 0, data, pos + 1);
        }
      }
      if (byte < 0) break;
      const t = clist;
      clist = nlist;
      nlist = t;
      cn = nn;
      pos++;
    }
    return result;
  }

  /**
   * Marks in `out` (indexed by position − from) every start in [from, to) from which some match
   * of at most REGEX_MAX_MATCH bytes exists, by running the reversed program backwards once.
   * Each state carries the nearest match end that reaches it; lists stay sorted by that end, so
   * the first visit of a state is its best one.
   */
  private candidateStarts(data: Uint8Array, from: number, to: number, out: Uint8Array): number {
    const p = this.reverse;
    const s = this.rs;
    const op = p.op;
    const sets = p.sets;
    const a = p.a;
    const hi = Math.min(data.length, to - 1 + REGEX_MAX_MATCH);
    let clist = s.list0;
    let cend = s.end0;
    let nlist = s.list1;
    let nend = s.end1;
    let count = 0;
    s.nextGen();
    this.matchEnd = -1;
    let cn = this.addThreads(p, s, clist, cend, 0, 0, hi, data, hi);
    for (let pos = hi; ; pos--) {
      if (this.matchEnd >= 0 && pos < to && pos >= from) {
        out[pos - from] = 1;
        count++;
      }
      if (pos <= from) break;
      s.nextGen();
      this.matchEnd = -1;
      const q = pos - 1;
      // A match may end at q: the restart thread has the nearest end, so it goes first.
      let nn = this.addThreads(p, s, nlist, nend, 0, 0, q, data, q);
      const byte = data[q] as number;
      for (let i = 0; i < cn; i++) {
        const pc = clist[i] as number;
        if (op[pc] === OP_MATCH) continue;
        const end = cend[i] as number;
        if (end - q > REGEX_MAX_MATCH) break; // ends only grow along the list
        if (sets[(a[pc] as number) * 256 + byte] === 1) nn = this.addThreads(p, s, nlist, nend, nn, pc + 1, end, data, q);
      }
      let t = clist;
      clist = nlist;
      nlist = t;
      t = cend;
      cend = nend;
      nend = t;
      cn = nn;
    }
    return count;
  }

  /**
   * Every match with a start in [from, to), in increasing start order, as YARA's `-s` lists them
   * for `$a = /re/`: one per start position whose match is non-empty (overlaps included), at most
   * REGEX_MAX_MATCHES. `cb` returning `false` stops the scan. Returns the number reported.
   */
  findAll(data: Uint8Array, from: number, to: number, cb: MatchCallback): number {
    from = Math.max(0, from);
    to = Math.min(to, data.length);
    if (to <= from) return 0;
    const cand = new Uint8Array(to - from);
    if (this.candidateStarts(data, from, to, cand) === 0) return 0;
    let reported = 0;
    for (let i = 0; i < cand.length; i++) {
      if (!cand[i]) continue;
      const start = from + i;
      const len = this.matchAt(data, start);
      if (len > 0) {
        reported++;
        if (cb(start, len) === false || reported >= REGEX_MAX_MATCHES) break;
      }
    }
    return reported;
  }
}
