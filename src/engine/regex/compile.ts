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

import { error, type Diagnostic } from '../../core/diagnostics.js';
import { parseRegex, type AssertKind, type RegexFlags, type RegexNode } from './parse.js';
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
  return k === 'bol' ? ASSERT_BOL : k === 'eol' ? ASSERT_EOL : k === 'word' ? ASSERT_WORD : ASSERT_NOTWORD;
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

function onlyByte(s: Uint8Array): number | undefined {
  let found: number | undefined;
  for (let b = 0; b < 256; b++) {
    if (s[b]) {
      if (found !== undefined) return undefined;
      found = b;
    }
  }
  return found;
}

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
    const b = item.kind === 'set' ? onlyByte(item.bytes) : undefined;
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

/** The literal bytes every match starts with (possibly empty). */
export function extractPrefix(ast: RegexNode): Uint8Array {
  const items: RegexNode[] = [];
  flatten(ast, items);
  const out: number[] = [];
  for (const item of items) {
    if (item.kind === 'assert') continue;
    const b = item.kind === 'set' ? onlyByte(item.bytes) : undefined;
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
