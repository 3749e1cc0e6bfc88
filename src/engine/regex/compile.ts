/**
 * YARA regex AST → NFA program over bytes (forward and reversed), plus the literal atoms every
 * match must contain.
 *
 * In: the regex source and flags (parsed by `parse.ts`).
 * Out: `compileRegex` returns a `CompiledRegex` (see `vm.ts`) or error diagnostics.
 *
 * Why this shape: a Thompson-style program of five instructions (byte-set, split, jump,
 * zero-width assertion, match) kept in typed arrays, so the Pike VM runs in time
 * O(input × program size) whatever the pattern. Counted repetitions `{n,m}` are expanded into
 * copies, as YARA does, so the program size is capped (REGEX_MAX_PROGRAM). The same AST is also
 * compiled with every concatenation reversed: running that program backwards over the data finds,
 * in one linear pass, every position where a match can start, which is how `findAll` avoids
 * trying each position in turn. Split priority (first branch preferred) encodes greedy versus
 * lazy quantifiers, giving the leftmost-first match YARA reports.
 */

import { YARA_LIMITS } from '../../core/limits.js';
import { error, type Diagnostic } from '../../core/diagnostics.js';
import { parseRegex, singleMember, type AssertKind, type RegexFlags, type RegexNode } from './parse.js';
import { CompiledRegex } from './vm.js';

/** Most instructions in one compiled regex (bounds memory and VM work per byte; YARA's RE_MAX_CODE_SIZE is 32 KiB of code). */
export const REGEX_MAX_PROGRAM = 65536;

export const OP_SET = 0;
export const OP_SPLIT = 1;
export const OP_JMP = 2;
export const OP_ASSERT = 3;
export const OP_MATCH = 4;

export const ASSERT_BOL = 0;
export const ASSERT_EOL = 1;
export const ASSERT_WORD = 2;
export const ASSERT_NOTWORD = 3;
/** `\b` / `\B` of a `wide` string: on two-byte characters (see `assertHolds` in vm.ts). */
export const ASSERT_WIDE_WORD = 4;
export const ASSERT_WIDE_NOTWORD = 5;

/** An NFA program; instruction i is (op[i], a[i], b[i]). Entry is instruction 0. */
export interface Program {
  op: Uint8Array;
  /** SET: set index; SPLIT: preferred target; JMP: target; ASSERT: kind. */
  a: Int32Array;
  /** SPLIT: other target. */
  b: Int32Array;
  /** Byte sets, 256 entries each, concatenated. */
  sets: Uint8Array;
  length: number;
}

class TooBig extends Error {}

class Emitter {
  op: number[] = [];
  a: number[] = [];
  b: number[] = [];
  sets: Uint8Array[] = [];
  setIndex = new Map<string, number>();
  constructor(readonly reverse: boolean) {}

  emit(op: number, a = 0, b = 0): number {
    if (this.op.length >= REGEX_MAX_PROGRAM) throw new TooBig();
    this.op.push(op);
    this.a.push(a);
    this.b.push(b);
    return this.op.length - 1;
  }

  set(bytes: Uint8Array): number {
    const key = Buffer.from(bytes).toString('latin1');
    let i = this.setIndex.get(key);
    if (i === undefined) {
      i = this.sets.length;
      this.sets.push(bytes);
      this.setIndex.set(key, i);
    }
    return i;
  }

  node(n: RegexNode): void {
    switch (n.kind) {
      case 'empty':
        return;
      case 'set':
        this.emit(OP_SET, this.set(n.bytes));
        return;
      case 'assert':
        this.emit(OP_ASSERT, assertCode(n.what));
        return;
      case 'cat':
        if (this.reverse) for (let i = n.items.length - 1; i >= 0; i--) this.node(n.items[i] as RegexNode);
        else for (const item of n.items) this.node(item);
        return;
      case 'alt': {
        // split L1, next; L1: x1; jmp end; next: split L2, ... ; last: xn; end:
        const jumps: number[] = [];
        for (let i = 0; i < n.items.length; i++) {
          const item = n.items[i] as RegexNode;
          if (i < n.items.length - 1) {
            const sp = this.emit(OP_SPLIT);
            this.a[sp] = sp + 1;
            this.node(item);
            jumps.push(this.emit(OP_JMP));
            this.b[sp] = this.op.length;
          } else this.node(item);
        }
        for (const j of jumps) this.a[j] = this.op.length;
        return;
      }
      case 'rep': {
        for (let i = 0; i < n.min; i++) this.node(n.sub);
        if (n.max === -1) {
          // L: split body, end; body; jmp L; end:
          const sp = this.emit(OP_SPLIT);
          this.node(n.sub);
          this.emit(OP_JMP, sp);
          this.branch(sp, sp + 1, this.op.length, n.greedy);
        } else {
          // (x(x(x)?)?)? : each optional copy may skip to the common end.
          const splits: number[] = [];
          for (let i = n.min; i < n.max; i++) {
            splits.push(this.emit(OP_SPLIT));
            this.node(n.sub);
          }
          for (const sp of splits) this.branch(sp, sp + 1, this.op.length, n.greedy);
        }
        return;
      }
    }
  }

  branch(sp: number, body: number, skip: number, greedy: boolean): void {
    this.a[sp] = greedy ? body : skip;
    this.b[sp] = greedy ? skip : body;
  }

  finish(): Program {
    this.emit(OP_MATCH);
    const sets = new Uint8Array(this.sets.length * 256);
    this.sets.forEach((s, i) => sets.set(s, i * 256));
    return {
      op: Uint8Array.from(this.op),
      a: Int32Array.from(this.a),
      b: Int32Array.from(this.b),
      sets,
      length: this.op.length,
    };
  }
}

function assertCode(k: AssertKind): number {
  switch (k) {
    case 'bol': return ASSERT_BOL;
    case 'eol': return ASSERT_EOL;
    case 'word': return ASSERT_WORD;
    case 'notword': return ASSERT_NOTWORD;
    case 'wideword': return ASSERT_WIDE_WORD;
    case 'widenotword': return ASSERT_WIDE_NOTWORD;
  }
}

/** Compiles an AST to a program; undefined when it would exceed REGEX_MAX_PROGRAM instructions. */
export function compileNode(ast: RegexNode, reverse: boolean): Program | undefined {
  const e = new Emitter(reverse);
  try {
    e.node(ast);
    return e.finish();
  } catch (err) {
    if (err instanceof TooBig) return undefined;
    throw err;
  }
}

/** Literal bytes every match contains, for the atom index. */
export interface RegexAtom {
  /** Up to 4 bytes. */
  bytes: Uint8Array;
  /** Distance from the match start to the first atom byte, when it is the same for every match. */
  offset?: number;
}

const ATOM_MAX = 4;

/** Fixed width of a node (bytes consumed by every match of it), or undefined when it varies. */
function fixedWidth(n: RegexNode): number | undefined {
  switch (n.kind) {
    case 'empty':
    case 'assert':
      return 0;
    case 'set':
      return 1;
    case 'cat': {
      let w = 0;
      for (const i of n.items) {
        const x = fixedWidth(i);
        if (x === undefined) return undefined;
        w += x;
      }
      return w;
    }
    case 'alt': {
      let w: number | undefined;
      for (const i of n.items) {
        const x = fixedWidth(i);
        if (x === undefined || (w !== undefined && w !== x)) return undefined;
        w = x;
      }
      return w ?? 0;
    }
    case 'rep': {
      if (n.min !== n.max) return undefined;
      const x = fixedWidth(n.sub);
      return x === undefined ? undefined : x * n.min;
    }
  }
}

/** Flattens the top-level concatenation into a sequence of items every match passes through in order. */
function flatten(n: RegexNode, out: RegexNode[]): void {
  if (n.kind === 'cat') for (const i of n.items) flatten(i, out);
  else if (n.kind === 'rep' && n.min === n.max && n.min <= 8) for (let k = 0; k < n.min; k++) flatten(n.sub, out);
  else out.push(n);
}

/**
 * The best literal atom: the longest run (up to 4 bytes) of single-byte items in the top-level
 * sequence; among equal lengths the first with a fixed offset wins.
 */
export function extractAtom(ast: RegexNode): RegexAtom | undefined {
  const items: RegexNode[] = [];
  flatten(ast, items);
  let best: { bytes: number[]; offset: number | undefined } | undefined;
  let run: number[] = [];
  let runOffset: number | undefined = 0;
  let offset: number | undefined = 0;
  const close = () => {
    if (run.length > 0 && (!best || run.length > best.bytes.length)) best = { bytes: run.slice(0, ATOM_MAX), offset: runOffset };
    run = [];
  };
  for (const item of items) {
    const b = item.kind === 'set' ? singleMember(item.bytes) : undefined;
    if (item.kind === 'assert') continue; // zero-width: does not break a literal run
    if (b === undefined) {
      close();
    } else {
      if (run.length === 0) runOffset = offset;
      run.push(b);
      if (run.length === ATOM_MAX) close();
    }
    const w = fixedWidth(item);
    offset = offset === undefined || w === undefined ? undefined : offset + w;
  }
  close();
  if (!best) return undefined;
  return { bytes: Uint8Array.from(best.bytes), ...(best.offset !== undefined ? { offset: best.offset } : {}) };
}

/**
 * Atoms for an index: the best run (up to 4 positions) of the top-level sequence, where a position
 * is one byte or a letter in either case; every spelling of the run is a variant (at most
 * `maxVariants`). The run lies `offset` to `maxOffset` bytes after the match start (equal when
 * the prefix before it has a fixed width; `maxOffset` is capped at REGEX_SCAN_LIMIT, the longest
 * match). Runs are ranked as YARA ranks atoms: longer first; then a fixed distance, a narrower
 * range, fewer variants. Undefined when no position qualifies (the string is then verified at
 * every position).
 */
export function extractAtomVariants(ast: RegexNode, maxVariants = 16): { variants: number[][]; offset: number; maxOffset: number } | undefined {
  const items: RegexNode[] = [];
  flatten(ast, items);
  // Per item: the range of its distance from the match start, and its byte choices.
  const slots: { min: number; max: number; choices: number[] | undefined }[] = [];
  let min = 0;
  let max = 0;
  for (const item of items) {
    const [wmin, wmax] = widthRange(item);
    if (item.kind !== 'assert') slots.push({ min, max: Math.min(max, REGEX_SCAN_LIMIT), choices: item.kind === 'set' ? caseChoices(item.bytes) : undefined });
    min += wmin;
    max += wmax;
  }
  let best: { start: number; len: number; variants: number; span: number } | undefined;
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i]!;
    if (!slot.choices || slot.min > REGEX_SCAN_LIMIT) continue;
    let variants = 1;
    let len = 0;
    while (len < ATOM_MAX && i + len < slots.length) {
      const c = slots[i + len]!.choices;
      if (!c || variants * c.length > maxVariants) break;
      variants *= c.length;
      len++;
    }
    const span = slot.max - slot.min;
    if (!best || len > best.len || (len === best.len && (span < best.span || (span === best.span && variants < best.variants)))) {
      best = { start: i, len, variants, span };
    }
  }
  if (!best) return undefined;
  let variants: number[][] = [[]];
  for (let k = 0; k < best.len; k++) {
    const c = slots[best.start + k]!.choices!;
    variants = variants.flatMap((v) => c.map((b) => [...v, b]));
  }
  const at = slots[best.start]!;
  return { variants, offset: at.min, maxOffset: at.max };
}

/** Longest regex match (YARA's RE_SCAN_LIMIT): an atom lies at most this far from the start. */
const REGEX_SCAN_LIMIT = YARA_LIMITS.scanLimit;

/** Least and most bytes a node consumes (Infinity when unbounded). */
function widthRange(n: RegexNode): [number, number] {
  switch (n.kind) {
    case 'empty':
    case 'assert':
      return [0, 0];
    case 'set':
      return [1, 1];
    case 'cat': {
      let lo = 0, hi = 0;
      for (const i of n.items) { const [a, b] = widthRange(i); lo += a; hi += b; }
      return [lo, hi];
    }
    case 'alt': {
      let lo = Infinity, hi = 0;
      for (const i of n.items) { const [a, b] = widthRange(i); lo = Math.min(lo, a); hi = Math.max(hi, b); }
      return [lo === Infinity ? 0 : lo, hi];
    }
    case 'rep': {
      const [a, b] = widthRange(n.sub);
      return [n.min * a, n.max < 0 ? (b === 0 ? 0 : Infinity) : n.max * b];
    }
  }
}

/** The bytes of a set when it is one byte, or one letter in both cases; undefined otherwise. */
function caseChoices(s: Uint8Array): number[] | undefined {
  const members: number[] = [];
  for (let b = 0; b < 256; b++) {
    if (!s[b]) continue;
    if (members.length === 2) return undefined;
    members.push(b);
  }
  if (members.length === 1) return members;
  const [a, b] = members as [number, number];
  return members.length === 2 && b === a + 32 && a >= 0x41 && a <= 0x5a ? members : undefined;
}

/** The literal bytes every match starts with (possibly empty). */
export function extractPrefix(ast: RegexNode): Uint8Array {
  const items: RegexNode[] = [];
  flatten(ast, items);
  const out: number[] = [];
  for (const item of items) {
    if (item.kind === 'assert') continue;
    const b = item.kind === 'set' ? singleMember(item.bytes) : undefined;
    if (b === undefined) break;
    out.push(b);
  }
  return Uint8Array.from(out);
}

export interface CompileResult {
  regex?: CompiledRegex;
  diagnostics: Diagnostic[];
}

/** YARA regex source (between the slashes) + flags → compiled regex or diagnostics. Never throws on user input. */
export function compileRegex(source: string, flags: RegexFlags = {}): CompileResult {
  const parsed = parseRegex(source, flags);
  if (!parsed.ast) return { diagnostics: parsed.diagnostics };
  const fwd = compileNode(parsed.ast, false);
  const rev = fwd && compileNode(parsed.ast, true);
  if (!fwd || !rev) {
    return {
      diagnostics: [
        ...parsed.diagnostics,
        error('yara.regex.too-large', 'regular expression too large', { file: '', line: 0, column: 1, length: source.length }),
      ],
    };
  }
  const regex = new CompiledRegex(source, fwd, rev, extractPrefix(parsed.ast), extractAtom(parsed.ast));
  return { regex, diagnostics: parsed.diagnostics };
}
