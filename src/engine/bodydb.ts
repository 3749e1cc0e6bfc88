/**
 * Compiled body signatures: `.ndb` signatures and `.ldb` content subsignatures → parts with atoms,
 * one shared atom index, and the per-signature data the scanner needs (offsets, gaps, owners).
 *
 * In: parsed signatures. Out: a `BodyDatabase` that scans a layer's bytes in one pass and returns
 * every verified match with its position, so that the scanner can apply offsets, chain multi-part
 * signatures, count logical subsignatures and order detections as ClamAV does.
 */
import type { BodyPattern, Gap, OffsetSpec, PatternNode, SigOrigin } from '../signatures/clamav/types.js';
import { AtomIndex, chooseAtom, type AtomSource } from './atoms.js';
import { verifyPart, type Subject } from './verify.js';

export interface BodySigInput {
  /** Name as reported. */
  name: string;
  target: number;
  offset: OffsetSpec;
  pattern: BodyPattern;
  origin: SigOrigin;
  /** For ldb content subsignatures: the logical signature and subsignature index. */
  owner?: { ldb: number; subsig: number };
  /** True when ClamAV would put this signature in its Boyer-Moore matcher (plain hex, fixed offset). */
  boyerMoore?: boolean;
}

export interface CompiledPart {
  sig: number;
  partNo: number;
  nodes: PatternNode[];
  atomIndex: number;
  leftSkip: number;
  /**
   * Bytes from the reported match start to the last byte of the prefix ClamAV puts in its
   * Aho-Corasick trie for this part. ClamAV reports matches in the order its trie meets them,
   * so this orders detections as it does.
   */
  clamOrderOffset: number;
}

export interface BodySig extends BodySigInput {
  parts: number[];
  gaps: Gap[];
}

/** One verified match of one part. Positions are offsets in the layer. */
export interface PartMatch { part: number; start: number; end: number }

export class BodyDatabase {
  readonly sigs: BodySig[] = [];
  readonly parts: CompiledPart[] = [];
  readonly index: AtomIndex;
  /** Targets that have at least one signature, so a layer can skip what cannot match. */
  readonly targets = new Set<number>();
  /** Longest span a part can cover before and after its atom, for windows over large files. */
  readonly maxPartSpan: number;
  /** Longest part per target (ClamAV's per-root `maxpatlen`), for window overlaps. */
  private readonly maxLenByTarget = new Map<number, number>();

  constructor(inputs: readonly BodySigInput[]) {
    const sources: AtomSource[] = [];
    let maxSpan = 0;
    for (const input of inputs) {
      const sigId = this.sigs.length;
      const partIds: number[] = [];
      input.pattern.parts.forEach((nodes, partNo) => {
        const atom = chooseAtom(nodes);
        if (!atom) return; // the parser guarantees an atom; a part without one cannot match
        const leftSkip = nodes.length > 1 && nodes[1]!.k === 'skip' && nodes[0]!.k === 'byte' ? 2 : 0;
        const id = this.parts.length;
        this.parts.push({ sig: sigId, partNo, nodes, atomIndex: atom.index, leftSkip, clamOrderOffset: clamTrieOffset(nodes, leftSkip) });
        partIds.push(id);
        sources.push({ part: id, atom });
        const len = maxLength(nodes);
        maxSpan = Math.max(maxSpan, len);
        this.maxLenByTarget.set(input.target, Math.max(this.maxLenByTarget.get(input.target) ?? 0, len));
      });
      if (partIds.length !== input.pattern.parts.length) continue;
      this.sigs.push({ ...input, parts: partIds, gaps: input.pattern.gaps });
      this.targets.add(input.target);
    }
    this.maxPartSpan = maxSpan;
    this.index = new AtomIndex(sources);
  }

  /** The longest pattern part among signatures of these targets. */
  maxPatLen(targets: Iterable<number>): number {
    let m = 0;
    for (const t of targets) m = Math.max(m, this.maxLenByTarget.get(t) ?? 0);
    return m;
  }

  /**
   * Finds every part match whose atom starts in [from, to) of the subject's data, for signatures
   * whose target is in `targets`. Matches are returned in atom-position order.
   */
  scan(subject: Subject, from: number, to: number, targets: ReadonlySet<number>, out: PartMatch[], limitPerPart = 8): void {
    const parts = this.parts;
    const sigs = this.sigs;
    this.index.scan(subject.data, from, to, (partId, pos) => {
      const p = parts[partId]!;
      if (!targets.has(sigs[p.sig]!.target)) return;
      const found = verifyPart(p.nodes, p.atomIndex, subject, pos, p.leftSkip, limitPerPart);
      for (const m of found) out.push({ part: partId, start: subject.base + m.start, end: subject.base + m.end });
    });
  }
}

/** Upper bound of the bytes a node sequence can span (Infinity never occurs inside a part). */
export function maxLength(nodes: readonly PatternNode[]): number {
  let n = 0;
  for (const x of nodes) {
    if (x.k === 'byte') n += 1;
    else if (x.k === 'skip') n += x.max;
    else if (x.k === 'class') n += x.edge ? 0 : x.cls === 'L' ? 2 : 1;
    else n += Math.max(0, ...x.branches.map(maxLength));
  }
  return n;
}

/**
 * Where ClamAV's trie prefix of a part ends, in bytes from the match start (`cli_ac_addsig`'s
 * prefix shift, then `cli_ac_addpatt`'s depth): the first up to three fixed elements, or, when the
 * part starts with a wildcard or with zero bytes, the best run of fixed elements further in.
 * Elements of variable width count with their shortest width; only ordering depends on this.
 */
export function clamTrieOffset(nodes: readonly PatternNode[], leftSkip: number): number {
  const core = nodes.slice(leftSkip).filter((n) => !(n.k === 'class' && n.edge));
  // A right edge range and its anchor byte are not elements of the trie pattern.
  const last = core.length >= 2 ? core[core.length - 2] : undefined;
  const e = last && last.k === 'skip' ? core.slice(0, -2) : core;
  const wild = (n: PatternNode | undefined) => n === undefined || n.k !== 'byte' || n.mask !== 0xff;
  const zero = (n: PatternNode | undefined) => n !== undefined && n.k === 'byte' && n.mask === 0xff && !n.nocase && n.value === 0;
  const len = e.length;
  let wprefix = false;
  let zprefix = true;
  for (let i = 0; i < 3 && i < len; i++) {
    if (wild(e[i])) { wprefix = true; break; }
    if (zprefix && !zero(e[i])) zprefix = false;
  }
  let ppos = 0;
  if (wprefix || zprefix) {
    const pend = len - 2 + 1;
    let plen = 0, nzplen = 0, nzpos = 0;
    for (let i = 0; i < pend; i++) {
      for (let j = i; j < i + 3 && j < len; j++) {
        if (wild(e[j])) break;
        if (j - i + 1 >= plen) { plen = j - i + 1; ppos = i; }
        if (!zero(e[ppos]) || (len > ppos + 1 && !zero(e[ppos + 1]))) {
          if (plen >= 3) break;
          if (plen >= 2 && plen > nzplen) { nzplen = plen; nzpos = ppos; }
        }
      }
      if (plen >= 3 && (!zero(e[ppos]) || !zero(e[ppos + 1]))) break;
    }
    if (nzplen !== 0 && len > ppos + 1 && zero(e[ppos]) && zero(e[ppos + 1])) { ppos = nzpos; }
  }
  let depth = 0;
  while (depth < 3 && ppos + depth < len && !wild(e[ppos + depth])) depth++;
  let width = 0;
  for (let i = 0; i < ppos; i++) width += minLength(e[i]!);
  return width + Math.max(1, depth) - 1;
}

function minLength(n: PatternNode): number {
  if (n.k === 'byte') return 1;
  if (n.k === 'skip') return n.min;
  if (n.k === 'class') return n.edge ? 0 : 1;
  if (n.negated) return n.branches[0]?.length ?? 0;
  return Math.min(...n.branches.map((b) => b.reduce((a, x) => a + minLength(x), 0)));
}
