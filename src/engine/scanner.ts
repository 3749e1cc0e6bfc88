/**
 * Scanning one layer: bytes → detections, in ClamAV's order.
 *
 * In: a compiled engine (body signatures, hash index, logical signatures) and the bytes of a layer.
 * Out: the detections of that layer, each with its evidence (signature origin, offset, matched
 * bytes). One pass of the atom index finds every body match; offsets, multi-part chains and
 * logical expressions are resolved afterwards from the recorded matches.
 *
 * Order (reference §1.12): within a layer ClamAV reports body signatures first (as the file streams
 * by in 128 KiB windows; per window the type-specific signatures before the generic ones, and
 * plain Boyer-Moore signatures before Aho-Corasick ones), then hash signatures, then logical
 * signatures. Text files get a second pass over their normalised form with target 0 and 7
 * signatures, after the raw pass. Without allmatch only the first detection is kept.
 */
import { toHex } from '../core/bytes.js';
import { execInfo, resolveExecOffset, type ExecInfo, type ExecKind } from '../formats/exec.js';
import type { HashAlgo, OffsetSpec } from '../signatures/clamav/types.js';
import type { BodyDatabase, BodySig, PartMatch } from './bodydb.js';
import type { Detection } from './result.js';
import { createHash } from 'node:crypto';

/** ClamAV's scan window (SCANBUFF); used only to order detections as ClamAV reports them. */
const SCAN_WINDOW = 131072;

export interface HashHit { name: string; db: string; line: number }

/** What the scanner needs from the hash index (whole-layer hashes and the allow list). */
export interface HashPort {
  /** Algorithms worth computing for a layer of this size (empty: skip hashing). */
  algorithmsFor(size: number): readonly HashAlgo[];
  lookup(algo: HashAlgo, digest: Uint8Array, size: number): readonly HashHit[];
}

/** What the scanner needs from the logical signatures. */
export interface LogicalPort {
  /** Logical signatures applicable to a layer with these targets, evaluated from the recorded subsig matches. */
  evaluate(ctx: LogicalContext): readonly Detection[];
}

export interface LogicalContext {
  bytes: Uint8Array;
  targets: ReadonlySet<number>;
  fileType: string;
  exec: ExecInfo | undefined;
  /** Offsets (start) of every match of each ldb content subsignature, keyed `${ldb}:${subsig}`. */
  subsigMatches: Map<string, number[]>;
  layer: string[];
}

/** One pass of body signatures over a layer, as ClamAV makes it (see `formats/filetype.ts` `scanPasses`). */
export interface Pass {
  input: 'raw' | 'normalised-text' | 'html-nocomment' | 'html-notags' | 'html-javascript';
  targets: number[];
}

export interface TypeInfo {
  /** ClamAV's CL_TYPE name of the layer. */
  type: string;
  /** The passes ClamAV makes over a layer of this type, in order. */
  passes: Pass[];
}

export interface EnginePorts {
  body: BodyDatabase;
  hashes?: HashPort;
  logical?: LogicalPort;
  typeOf(bytes: Uint8Array): TypeInfo;
  /** The normalised text buffers ClamAV's script scanner matches, each with its offset. */
  normaliseBlocks?(bytes: Uint8Array): { bytes: Uint8Array; offset: number }[];
}

export interface LayerOptions {
  allmatch: boolean;
  /** Path of this layer inside containers ([] for the file itself). */
  layer: string[];
}

interface Candidate { d: Detection; key: number[] }

const EXEC_KIND: Record<number, ExecKind> = { 1: 'pe', 6: 'elf', 9: 'macho' };

/**
 * Scans one layer; returns its detections (all of them with allmatch, else at most one).
 * Each pass: body signatures, then (raw passes only) whole-layer hashes, then logical signatures.
 */
export function scanLayer(engine: EnginePorts, bytes: Uint8Array, opts: LayerOptions): Detection[] {
  const info = engine.typeOf(bytes);
  const out: Detection[] = [];
  const done = () => !opts.allmatch && out.length > 0;
  // Executable headers are read once, for the layer's own target.
  let exec: ExecInfo | undefined;
  let execFailed = false;
  let execTarget: number | undefined;
  for (const pass of info.passes) {
    const t = pass.targets[0];
    if (pass.input === 'raw' && t !== undefined && EXEC_KIND[t] && execTarget === undefined) {
      execTarget = t;
      exec = execInfo(bytes, EXEC_KIND[t]!);
      execFailed = exec === undefined;
    }
  }

  for (const pass of info.passes) {
    const targets = new Set(pass.targets);
    const typeTarget = pass.targets[0] !== 0 ? pass.targets[0] : undefined;
    if (pass.input === 'normalised-text') {
      if (!engine.normaliseBlocks) continue;
      const blocks = engine.normaliseBlocks(bytes);
      const subsigMatches = new Map<string, number[]>();
      let total = 0;
      for (const block of blocks) {
        const np = bodyPass(engine.body, block.bytes, targets, typeTarget, undefined, false, opts, block.offset);
        for (const [k, v] of np.subsigMatches) {
          const list = subsigMatches.get(k);
          if (list) list.push(...v); else subsigMatches.set(k, [...v]);
        }
        total += block.bytes.length;
        out.push(...np.detections);
        if (done()) return out.slice(0, 1);
      }
      if (engine.logical && blocks.length > 0) {
        const joined = blocks.length === 1 ? blocks[0]!.bytes : Buffer.concat(blocks.map((b) => b.bytes));
        void total;
        const found = engine.logical.evaluate({ bytes: joined, targets, fileType: 'CL_TYPE_TEXT_ASCII', exec: undefined, subsigMatches, layer: opts.layer });
        for (const d of found) {
          out.push(d);
          if (done()) return out;
        }
      }
      continue;
    }
    // Raw passes; the HTML normaliser's outputs are approximated by the raw bytes for now.
    const raw = bodyPass(engine.body, bytes, targets, typeTarget, exec, execFailed && typeTarget === execTarget, opts, 0);
    out.push(...raw.detections);
    if (done()) return out.slice(0, 1);
    if (engine.hashes && pass.input === 'raw') {
      for (const algo of engine.hashes.algorithmsFor(bytes.length)) {
        const digest = createHash(algo).update(bytes).digest();
        for (const h of engine.hashes.lookup(algo, digest, bytes.length)) {
          out.push({ name: h.name, kind: 'hash', db: h.db, line: h.line, layer: opts.layer });
          if (done()) return out;
        }
      }
    }
    if (engine.logical) {
      const found = engine.logical.evaluate({ bytes, targets, fileType: info.type, exec, subsigMatches: raw.subsigMatches, layer: opts.layer });
      for (const d of found) {
        out.push(d);
        if (done()) return out;
      }
    }
  }
  return out;
}

/** Resolves a signature's offset for this layer: 'any', a [min,max] window, or null (never matches). */
function resolveOffset(off: OffsetSpec, size: number, exec: ExecInfo | undefined, execFailed: boolean): 'any' | { min: number; max: number } | null {
  switch (off.kind) {
    case 'any': return 'any';
    case 'abs': return { min: off.n, max: off.n + off.shift };
    case 'eof':
      if (execFailed || off.n > size) return null;
      return { min: size - off.n, max: size - off.n + off.shift };
    case 'ep': case 'section': case 'sectionEntire': case 'lastSection':
      if (!exec) return null;
      return resolveExecOffset(exec, off) ?? null;
    case 'versionInfo': return null; // needs the PE VERSIONINFO parse (file-formats work)
    case 'macro': return null; // macro groups are matched through their logical signature
  }
}

interface PassResult { detections: Detection[]; subsigMatches: Map<string, number[]> }

function bodyPass(
  body: BodyDatabase, bytes: Uint8Array, targets: ReadonlySet<number>, typeTarget: number | undefined,
  exec: ExecInfo | undefined, execFailed: boolean, opts: LayerOptions, base: number,
): PassResult {
  const matches: PartMatch[] = [];
  // Offsets of normalised blocks are those ClamAV gives them; each block is matched on its own.
  const subject = { data: bytes, base: 0, layerLength: bytes.length };
  void base;
  body.scan(subject, 0, bytes.length, targets, matches);

  // Group matches by signature; resolve each signature's offset once.
  const bySig = new Map<number, PartMatch[]>();
  for (const m of matches) {
    const sig = body.parts[m.part]!.sig;
    let list = bySig.get(sig);
    if (!list) bySig.set(sig, (list = []));
    list.push(m);
  }
  const cands: Candidate[] = [];
  const subsigMatches = new Map<string, number[]>();
  for (const [sigId, list] of bySig) {
    const sig = body.sigs[sigId]!;
    const range = resolveOffset(sig.offset, bytes.length, exec, execFailed);
    if (range === null) continue;
    const found = sig.parts.length === 1 ? singlePart(list, range) : chain(body, sig, list, range);
    if (found.length === 0) continue;
    if (sig.owner) {
      // Several variants (`::wa`) of one subsignature add to the same list.
      const key = `${sig.owner.ldb}:${sig.owner.subsig}`;
      const prev = subsigMatches.get(key);
      subsigMatches.set(key, prev ? [...prev, ...found.map((f) => f.start)].sort((a, b) => a - b) : found.map((f) => f.start));
      continue;
    }
    // ClamAV reports a body signature once per occurrence (visible with --allmatch).
    const root = sig.target !== 0 && sig.target === typeTarget ? 0 : 1;
    for (const m of found) {
      cands.push({
        d: {
          name: sig.name, kind: 'body', db: sig.origin.db, line: sig.origin.line, layer: opts.layer,
          offset: m.start, matched: toHex(bytes.subarray(m.start, Math.min(m.end, m.start + 256))),
        },
        key: [Math.floor(m.end / SCAN_WINDOW), root, sig.boyerMoore ? 0 : 1, m.end, sigId],
      });
      if (!opts.allmatch) break;
    }
  }
  cands.sort((a, b) => {
    for (let i = 0; i < a.key.length; i++) if (a.key[i] !== b.key[i]) return a.key[i]! - b.key[i]!;
    return 0;
  });
  return { detections: cands.map((c) => c.d), subsigMatches };
}

function inRange(start: number, range: 'any' | { min: number; max: number }): boolean {
  return range === 'any' || (start >= range.min && start <= range.max);
}

function singlePart(list: PartMatch[], range: 'any' | { min: number; max: number }): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  const seen = new Set<number>();
  for (const m of list) {
    if (!inRange(m.start, range) || seen.has(m.start)) continue;
    seen.add(m.start);
    out.push({ start: m.start, end: m.end });
  }
  out.sort((a, b) => a.end - b.end || a.start - b.start);
  return out;
}

/**
 * Multi-part signatures: part k+1 must start between gap.min and gap.max bytes after part k ends
 * (max Infinity for `*`). The offset applies to the first part. Returns the whole-signature
 * matches (start of the first part, end of the last), earliest end first.
 */
function chain(body: BodyDatabase, sig: BodySig, list: PartMatch[], range: 'any' | { min: number; max: number }): { start: number; end: number }[] {
  const perPart: PartMatch[][] = sig.parts.map(() => []);
  for (const m of list) perPart[body.parts[m.part]!.partNo]!.push(m);
  // reach[k]: for each feasible end of part k, the earliest start of part 0 that leads to it.
  let reach = new Map<number, number>();
  for (const m of perPart[0]!) {
    if (!inRange(m.start, range)) continue;
    const prev = reach.get(m.end);
    if (prev === undefined || m.start < prev) reach.set(m.end, m.start);
  }
  for (let k = 1; k < sig.parts.length && reach.size > 0; k++) {
    const gap = sig.gaps[k - 1]!;
    const ends = [...reach.entries()].sort((a, b) => a[0] - b[0]);
    const next = new Map<number, number>();
    for (const m of perPart[k]!) {
      for (const [end, origin] of ends) {
        if (end > m.start) break;
        const d = m.start - end;
        if (d < gap.min || d > gap.max) continue;
        const prev = next.get(m.end);
        if (prev === undefined || origin < prev) next.set(m.end, origin);
      }
    }
    reach = next;
  }
  return [...reach.entries()].map(([end, start]) => ({ start, end })).sort((a, b) => a.end - b.end);
}
