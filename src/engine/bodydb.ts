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
import { ByteReaderStrict, ByteWriter, decodeNodes, encodeNodes } from './bodycodec.js';
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

export interface BodySig {
  name: string;
  target: number;
  offset: OffsetSpec;
  origin: SigOrigin;
  owner?: { ldb: number; subsig: number };
  boyerMoore?: boolean;
  parts: number[];
  gaps: Gap[];
}

/** A part whose nodes may still be encoded: they are decoded the first time its atom hits. */
class LazyPart implements CompiledPart {
  private decoded: PatternNode[] | undefined;
  constructor(
    readonly sig: number, readonly partNo: number, readonly atomIndex: number, readonly leftSkip: number,
    readonly clamOrderOffset: number, private readonly blob: Uint8Array, private readonly at: number,
  ) {}
  get nodes(): PatternNode[] {
    if (!this.decoded) {
      const r = new ByteReaderStrict(this.blob);
      r.pos = this.at;
      this.decoded = decodeNodes(r);
    }
    return this.decoded;
  }
}

/** One verified match of one part. Positions are offsets in the layer. */
export interface PartMatch { part: number; start: number; end: number }

export class BodyDatabase {
  readonly sigs: BodySig[];
  readonly parts: CompiledPart[];
  readonly index: AtomIndex;
  /** Targets that have at least one signature, so a layer can skip what cannot match. */
  readonly targets = new Set<number>();
  /** Longest part per target (ClamAV's per-root `maxpatlen`), for window overlaps. */
  private readonly maxLenByTarget: Map<number, number> = new Map();
  /**
   * Entries of other matchers (YARA strings) sharing the index: index part ids from `parts.length`
   * on are foreign entry `id - parts.length`, handed to `scan`'s `onForeign`.
   */
  readonly foreignCount: number;
  /** A digest of the foreign entries (ids and atom bytes), so a cache built from other rules is not reused. */
  readonly foreignDigest: number;

  /** FNV-1a over the foreign entries' ids and atom bytes. */
  static foreignDigest(foreign: readonly AtomSource[]): number {
    let h = 0x811c9dc5;
    const mix = (b: number) => { h = Math.imul(h ^ (b & 0xff), 0x01000193); };
    for (const f of foreign) {
      mix(f.part); mix(f.part >>> 8); mix(f.part >>> 16); mix(f.atom.length);
      for (const v of f.atom.variants) for (const b of v) mix(b);
    }
    return h >>> 0;
  }

  constructor(
    inputs: readonly BodySigInput[],
    prebuilt?: { sigs: BodySig[]; parts: CompiledPart[]; index: AtomIndex; maxLen: Map<number, number>; foreignCount: number; foreignDigest: number },
    foreign: readonly AtomSource[] = [],
  ) {
    if (prebuilt) {
      this.sigs = prebuilt.sigs;
      this.parts = prebuilt.parts;
      this.index = prebuilt.index;
      this.maxLenByTarget = prebuilt.maxLen;
      this.foreignCount = prebuilt.foreignCount;
      this.foreignDigest = prebuilt.foreignDigest;
      for (const s of this.sigs) this.targets.add(s.target);
      return;
    }
    this.sigs = [];
    this.parts = [];
    const sources: AtomSource[] = [];
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
        this.maxLenByTarget.set(input.target, Math.max(this.maxLenByTarget.get(input.target) ?? 0, len));
      });
      if (partIds.length !== input.pattern.parts.length) continue;
      this.sigs.push({
        name: input.name, target: input.target, offset: input.offset, origin: input.origin,
        ...(input.owner ? { owner: input.owner } : {}), ...(input.boyerMoore ? { boyerMoore: true } : {}),
        parts: partIds, gaps: input.pattern.gaps,
      });
      this.targets.add(input.target);
    }
    const base = this.parts.length;
    let count = 0;
    for (const f of foreign) {
      sources.push({ part: base + f.part, atom: f.atom });
      count = Math.max(count, f.part + 1);
    }
    this.foreignCount = count;
    this.foreignDigest = BodyDatabase.foreignDigest(foreign);
    this.index = new AtomIndex(sources);
  }

  /**
   * The compiled form, for the cache: string table, signatures, parts with their encoded nodes,
   * and the atom index's arrays. `deserialize` rebuilds it without parsing or hashing anything.
   */
  serialize(): Uint8Array {
    const w = new ByteWriter();
    const strings: string[] = [];
    const ids = new Map<string, number>();
    const str = (x: string) => { let i = ids.get(x); if (i === undefined) { i = strings.length; strings.push(x); ids.set(x, i); } return i; };
    const sigw = new ByteWriter();
    for (const sg of this.sigs) {
      sigw.u32(str(sg.name)); sigw.u8(sg.target); sigw.u32(str(sg.origin.db)); sigw.u32(sg.origin.line);
      sigw.u32(sg.owner ? sg.owner.ldb : 0xffffffff); sigw.u32(sg.owner ? sg.owner.subsig : 0); sigw.u8(sg.boyerMoore ? 1 : 0);
      encodeOffset(sg.offset, sigw);
      sigw.u16(sg.parts.length);
      for (const id of sg.parts) sigw.u32(id);
      for (const g of sg.gaps) { sigw.f64(g.min); sigw.f64(g.max === Infinity ? -1 : g.max); }
    }
    const partw = new ByteWriter();
    const blob = new ByteWriter();
    for (const p of this.parts) {
      partw.u32(p.sig); partw.u16(p.partNo); partw.u16(p.atomIndex); partw.u8(p.leftSkip); partw.u32(p.clamOrderOffset); partw.u32(blob.length);
      encodeNodes(p.nodes, blob);
    }
    w.u32(strings.length);
    for (const x of strings) w.str(x);
    w.u32(this.sigs.length); w.block(sigw.done());
    w.u32(this.parts.length); w.block(partw.done()); w.block(blob.done());
    w.u32(this.maxLenByTarget.size);
    for (const [t, n] of this.maxLenByTarget) { w.u8(t); w.u32(n); }
    w.u32(this.foreignCount);
    w.u32(this.foreignDigest);
    const arrays = this.index.toArrays();
    const names = Object.keys(arrays);
    w.u32(names.length);
    for (const k of names) {
      const a = arrays[k]!;
      w.str(k);
      w.block(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    }
    return w.done();
  }

  static deserialize(bytes: Uint8Array): BodyDatabase {
    const r = new ByteReaderStrict(bytes);
    const strings: string[] = [];
    for (let i = r.u32(); i > 0; i--) strings.push(r.str());
    const s = (i: number) => { const v = strings[i]; if (v === undefined) throw new RangeError('bad string id'); return v; };
    const nsigs = r.u32();
    const sr = new ByteReaderStrict(r.block());
    const sigs: BodySig[] = [];
    for (let i = 0; i < nsigs; i++) {
      const name = s(sr.u32()), target = sr.u8(), db = s(sr.u32()), line = sr.u32();
      const ldb = sr.u32(), subsig = sr.u32(), bm = sr.u8() === 1;
      const offset = decodeOffset(sr);
      const np = sr.u16();
      const parts: number[] = [];
      for (let k = 0; k < np; k++) parts.push(sr.u32());
      const gaps: Gap[] = [];
      for (let k = 1; k < np; k++) { const min = sr.f64(); const max = sr.f64(); gaps.push({ min, max: max === -1 ? Infinity : max }); }
      sigs.push({ name, target, offset, origin: { db, line }, ...(ldb !== 0xffffffff ? { owner: { ldb, subsig } } : {}), ...(bm ? { boyerMoore: true } : {}), parts, gaps });
    }
    const nparts = r.u32();
    const pr = new ByteReaderStrict(r.block());
    const blob = r.block();
    const parts: CompiledPart[] = [];
    for (let i = 0; i < nparts; i++) {
      const sig = pr.u32(), partNo = pr.u16(), atomIndex = pr.u16(), leftSkip = pr.u8(), clamOrderOffset = pr.u32(), at = pr.u32();
      if (sig >= nsigs || at >= blob.length) throw new RangeError('bad part');
      parts.push(new LazyPart(sig, partNo, atomIndex, leftSkip, clamOrderOffset, blob, at));
    }
    const maxLen = new Map<number, number>();
    for (let i = r.u32(); i > 0; i--) { const t = r.u8(); maxLen.set(t, r.u32()); }
    const foreignCount = r.u32();
    const foreignDigest = r.u32();
    const arrays: Record<string, Int32Array> = {};
    for (let i = r.u32(); i > 0; i--) {
      const k = r.str();
      const b = r.block();
      // Int32Array views need 4-byte alignment: copy when the block is not aligned.
      arrays[k] = b.byteOffset % 4 === 0 ? new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4) : new Int32Array(Uint8Array.from(b).buffer);
    }
    for (const k of ['entryPart']) for (const v of arrays[k] ?? []) if (v < 0 || v >= nparts + foreignCount) throw new RangeError('bad atom entry');
    return new BodyDatabase([], { sigs, parts, index: AtomIndex.fromArrays(arrays), maxLen, foreignCount, foreignDigest });
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
  scan(subject: Subject, from: number, to: number, targets: ReadonlySet<number>, out: PartMatch[], limitPerPart = 8, onForeign?: (entry: number, pos: number) => void): void {
    const parts = this.parts;
    const sigs = this.sigs;
    const base = parts.length;
    this.index.scan(subject.data, from, to, (partId, pos) => {
      if (partId >= base) {
        // A foreign entry: its position in the layer, not in the window.
        if (onForeign) onForeign(partId - base, subject.base + pos);
        return;
      }
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

const OFFSET_KINDS = ['any', 'abs', 'eof', 'ep', 'section', 'sectionEntire', 'lastSection', 'versionInfo', 'macro'] as const;

function encodeOffset(o: OffsetSpec, w: ByteWriter): void {
  w.u8(OFFSET_KINDS.indexOf(o.kind));
  const n = 'n' in o ? o.n : 0;
  const shift = 'shift' in o ? o.shift : 0;
  const index = 'index' in o ? o.index : 'group' in o ? o.group : 0;
  w.f64(n); w.f64(shift); w.u32(index);
}

function decodeOffset(r: ByteReaderStrict): OffsetSpec {
  const kind = OFFSET_KINDS[r.u8()];
  const n = r.f64(), shift = r.f64(), index = r.u32();
  switch (kind) {
    case 'any': return { kind };
    case 'abs': case 'eof': case 'ep': case 'lastSection': return { kind, n, shift };
    case 'section': return { kind, index, n, shift };
    case 'sectionEntire': return { kind, index, shift };
    case 'versionInfo': return { kind };
    case 'macro': return { kind, group: index };
    default: throw new RangeError('bad offset kind');
  }
}
