/**
 * Scanning one layer: bytes → detections, in ClamAV's order and multiplicity.
 *
 * In: a compiled engine (body signatures, hash index, logical signatures) and the bytes of a layer.
 * Out: the detections of that layer, each with its evidence (signature origin, offset, matched
 * bytes). The atom index finds every body match; offsets, multi-part chains and logical
 * expressions are resolved from the recorded matches.
 *
 * ClamAV's observable behaviour is reproduced on purpose (reference §1.12; test/diff/FINDINGS.md):
 * - a layer gets the passes its type calls for (`Pass`): text is scanned raw with generic
 *   signatures, then normalised with targets 7 and 0; binary data twice; each raw pass runs body
 *   signatures, then whole-layer hashes, then logical signatures;
 * - a raw pass reads the layer in 128 KiB windows overlapping by the longest pattern (M): a match
 *   inside an overlap is reported once per window, a right-edge class ending at a window's end
 *   holds, a left-edge class at a later window's start does not;
 * - a body signature is reported once per occurrence (visible with --allmatch);
 * - without allmatch the first detection wins: by window, then type-specific before generic
 *   signatures, then plain (Boyer-Moore) before wildcard ones, then the earliest match end.
 */
import { toHex } from '../core/bytes.js';
import { execInfo, resolveExecOffset, type ExecInfo, type ExecKind } from '../formats/exec.js';
import type { HashAlgo, OffsetSpec } from '../signatures/clamav/types.js';
import type { BodyDatabase, BodySig, PartMatch } from './bodydb.js';
import type { Detection } from './result.js';
import type { YaraPort } from './yaraport.js';
import { createHash } from 'node:crypto';
import type { HtmlOutputs } from '../formats/html/index.js';
import type { ParseOptions } from '../core/limits.js';

/** ClamAV's scan window (SCANBUFF). */
export const SCAN_WINDOW = 131072;

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
  /** Types of the enclosing layers, outermost first (empty for a file itself): `Container` and `Intermediates`. */
  containers?: readonly string[];
  /** The layer's bytes when held whole (empty for a streamed layer); `size` is always its length. */
  bytes: Uint8Array;
  size: number;
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
  /** Allow list: a hit silences the layer (or, for a normalised layer, that pass). */
  allow?: HashPort;
  logical?: LogicalPort;
  /** `known`: the layer's type when the caller already detected it (`detectFileType`). */
  typeOf(bytes: Uint8Array, known?: string, layer?: TypeOptions): TypeInfo;
  /**
   * Normalised text: either the buffers ClamAV's script scanner matches one by one (`blocks`),
   * or, when target-7 signatures have relative offsets, the whole normalised text scanned as a
   * layer of its own (`layer`).
   */
  normalise?(bytes: Uint8Array): { blocks: { bytes: Uint8Array; offset: number }[] } | { layer: Uint8Array };
  /** The HTML normaliser's files for a layer scanned as HTML (`formats/html` `htmlNormalise`). */
  html?(bytes: Uint8Array, type: string, limits?: { maxHtmlNormalize?: number; maxHtmlNoTags?: number }): HtmlOutputs;
  /** YARA rules, run like ClamAV's logical signatures of target 0; their atoms share `body`'s index. */
  yara?: YaraPort;
}

/**
 * The bytes of a layer: all of them (`whole`), or random access for a large file streamed in
 * windows (`read` may reuse its buffer between calls, so callers copy what they keep).
 */
export interface Source {
  size: number;
  whole?: Uint8Array;
  read(offset: number, length: number): Uint8Array;
}

export function wholeSource(bytes: Uint8Array): Source {
  return { size: bytes.length, whole: bytes, read: (o, n) => bytes.subarray(o, o + n) };
}

export interface LayerOptions {
  allmatch: boolean;
  /** Path of this layer inside containers ([] for the file itself). */
  layer: string[];
  /** The layer's type when already detected (`detectFileType`), so it is not detected again. */
  type?: string;
  /** One raw pass only (ClamAV's `cli_scan_desc` with a type: no normalised or second pass). */
  plain?: boolean;
  /** Types of the enclosing layers, outermost first, for `Container`/`Intermediates`. */
  containers?: readonly string[];
  /** MaxHTMLNormalize and MaxHTMLNoTags when not ClamAV's defaults. */
  htmlLimits?: { maxHtmlNormalize?: number; maxHtmlNoTags?: number };
  /** Scans files the layer's HTML normaliser produced as files of their own (style images, `data:` URIs). */
  children?: (items: { name: string; data: Uint8Array }[]) => { detections: Detection[]; scannedBlocks: number };
  /** Whether a normalised copy may be scanned as a layer one deeper (false, and the limit noted, at MaxRecursion). */
  pushNormalised?: () => boolean;
  /** Which kinds of readers run (ClamAV's parse switches): HTML and text normalisation, mail in text. */
  parse?: ParseOptions;
  /** Text larger than this gets no normalised copy (MaxScriptNormalize). */
  maxScriptNormalize?: number;
}

/** What decides a layer's passes besides its bytes. */
export interface TypeOptions {
  parse?: ParseOptions;
  maxScriptNormalize?: number;
  /** The layer's whole size when only its head is given. */
  size?: number;
}

interface Candidate { d: Detection; key: number[] }

const EXEC_KIND: Record<number, ExecKind> = { 1: 'pe', 6: 'elf', 9: 'macho' };

/** ClamAV's unit for "Data scanned" (CL_COUNT_PRECISION): whole 4 KiB blocks per window or buffer. */
export const COUNT_PRECISION = 4096;

export interface LayerScan {
  detections: Detection[];
  /** "Data scanned" as ClamAV counts it, in 4 KiB blocks. */
  scannedBlocks: number;
}

/** Scans one layer; returns its detections (all of them with allmatch, else at most one). */
export function scanLayer(engine: EnginePorts, bytes: Uint8Array, opts: LayerOptions): Detection[] {
  return scanLayerCounted(engine, wholeSource(bytes), opts).detections;
}

/** How much of a streamed layer is read up front for typing and executable headers. */
const STREAM_HEAD = 4 * 1024 * 1024;

export function scanLayerCounted(engine: EnginePorts, src: Source, opts: LayerOptions): LayerScan {
  // A streamed layer is typed, and its executable headers read, from its first 4 MiB.
  const head = src.whole ?? Uint8Array.from(src.read(0, Math.min(src.size, STREAM_HEAD)));
  const bytes = head;
  const typed = engine.typeOf(head, opts.type, {
    size: src.size, ...(opts.parse ? { parse: opts.parse } : {}), ...(opts.maxScriptNormalize !== undefined ? { maxScriptNormalize: opts.maxScriptNormalize } : {}),
  });
  const info = opts.plain ? { ...typed, passes: typed.passes.filter((p) => p.input === 'raw').slice(0, 1) } : typed;
  const out: Detection[] = [];
  const counter = { blocks: 0 };
  // YARA detections per source: a second raw pass over the same bytes gives the same ones.
  const yaraMemo = new Map<Source, Detection[]>();
  // A detection in a style image does not end the HTML scan (ClamAV ignores what its normaliser returns).
  let styleHits = 0;
  const first = () => !opts.allmatch && out.length > styleHits;
  const result = (): LayerScan => ({ detections: opts.allmatch ? out : out.slice(0, styleHits + 1), scannedBlocks: counter.blocks });
  let htmlDone = false;
  // Executable headers are read once, for the layer's own target.
  let exec: ExecInfo | undefined;
  let execFailed = false;
  let execTarget: number | undefined;
  // Several raw passes over the layer's own bytes (binary data has two) share one atom pass and one
  // digest per hash: the first pass matches the parts of every raw pass's targets, later passes
  // take their own from what it recorded.
  const rawPasses = info.passes.filter((p) => p.input === 'raw');
  const shared: PassMemo | undefined = rawPasses.length > 1
    ? { targets: new Set(rawPasses.flatMap((p) => p.targets)), windows: new Map(), digests: new Map() }
    : undefined;
  for (const pass of info.passes) {
    const t = pass.targets[0];
    if (pass.input === 'raw' && t !== undefined && EXEC_KIND[t] && execTarget === undefined) {
      execTarget = t;
      exec = execInfo(bytes, EXEC_KIND[t]!);
      execFailed = exec === undefined;
    }
  }

  for (const pass of info.passes) {
    if (pass.input === 'normalised-text') {
      // Text larger than MaxScriptNormalize (20 MiB) is never normalised, so a streamed layer never gets here.
      if (!engine.normalise || !src.whole) continue;
      const norm = engine.normalise(src.whole);
      if ('layer' in norm) {
        // Normalised text scanned like a file of type TEXT_ASCII: targets 7 and 0, hashes, logical.
        const found = rawPass(engine, wholeSource(norm.layer), [7, 0], 'CL_TYPE_TEXT_ASCII', undefined, false, opts, counter, yaraMemo);
        if (found.length > 0 && engine.allow && allowed(engine.allow, norm.layer)) continue;
        out.push(...found);
      } else {
        out.push(...blockPass(engine, norm.blocks, pass.targets, opts, counter));
      }
      if (first()) return result();
      continue;
    }
    // Raw passes. The HTML normaliser's outputs are approximated by the raw bytes for now.
    const typeTarget = pass.targets[0] !== 0 ? pass.targets[0] : undefined;
    const useExec = typeTarget !== undefined && typeTarget === execTarget;
    if (pass.input !== 'raw') {
      // The HTML passes, as one group (ClamAV's cli_scanhtml): the style images, each normalised file
      // as a layer of its own, then the data: URIs.
      if (htmlDone) continue;
      htmlDone = true;
      if (!engine.html || !src.whole) continue;
      const h = engine.html(src.whole, info.type, opts.htmlLimits);
      if (opts.children && h.styleImages.length > 0) {
        const r = opts.children(h.styleImages.map((data, i) => ({ name: `style-image-${i}`, data })));
        counter.blocks += r.scannedBlocks;
        out.push(...r.detections);
        styleHits = opts.allmatch ? 0 : r.detections.length;
      }
      let stopped = false;
      for (const p of info.passes) {
        const data = p.input === 'html-nocomment' ? h.nocomment : p.input === 'html-notags' ? h.notags : p.input === 'html-javascript' ? h.javascript : undefined;
        if (!data || data.length === 0) continue;
        // Each file is a layer one deeper: at the recursion limit the HTML scan ends here (the layer's other passes go on).
        if (opts.pushNormalised && !opts.pushNormalised()) { stopped = true; break; }
        const asType = p.targets[0] === 7 ? 'CL_TYPE_TEXT_ASCII' : 'CL_TYPE_HTML';
        const found = rawPass(engine, wholeSource(data), p.targets, asType, undefined, false, opts, counter, yaraMemo);
        if (found.length > 0 && engine.allow && allowed(engine.allow, data)) continue;
        out.push(...found);
        if (first()) return result();
      }
      // After a detection ClamAV aborts its full scans (not its scans of the normalised files): the data: URIs are left.
      if (!stopped && opts.children && h.rfc2397.length > 0 && styleHits === 0) {
        const r = opts.children(h.rfc2397);
        counter.blocks += r.scannedBlocks;
        out.push(...r.detections);
        if (first()) return result();
      }
      continue;
    }
    out.push(...rawPass(engine, src, pass.targets, info.type, useExec ? exec : undefined, useExec && execFailed, opts, counter, yaraMemo, true, shared));
    if (first()) return result();
  }
  return result();
}

/** A raw pass: windowed body matching (with YARA's atoms in the same pass), then hashes, then logical signatures, then YARA rules. */
function rawPass(
  engine: EnginePorts, src: Source, targetList: number[], fileType: string,
  exec: ExecInfo | undefined, execFailed: boolean, opts: LayerOptions, counter: { blocks: number },
  yaraMemo: Map<Source, Detection[]>, withHashes = true, memo?: PassMemo,
): Detection[] {
  const targets = new Set(targetList);
  const typeTarget = targetList[0] !== 0 ? targetList[0] : undefined;
  const out: Detection[] = [];
  const first = () => !opts.allmatch && out.length > 0;
  // YARA rules are target-0 signatures: a layer held whole feeds them from the shared atom pass.
  const yara = engine.yara && targets.has(0) ? engine.yara : undefined;
  const yaraLayer = yara && src.whole && !yaraMemo.has(src) ? yara.layer(src.whole) : undefined;
  // Hashes are fed the same windows as the matcher (each byte once), as ClamAV does.
  const algos = engine.hashes && withHashes ? engine.hashes.algorithmsFor(src.size) : [];
  const hashers = src.whole ? [] : algos.map((a) => createHash(a));
  const body = windowedBody(engine.body, src, targets, typeTarget, exec, execFailed, opts, hashers.length > 0 ? (chunk) => { for (const h of hashers) h.update(chunk); } : undefined, yaraLayer?.onHit, memo);
  out.push(...body.detections);
  // ClamAV counts each window as it reads it and stops at the first detection's window.
  const upTo = first() ? body.firstWindow + 1 : body.windowBlocks.length;
  for (let w = 0; w < upTo; w++) counter.blocks += body.windowBlocks[w]!;
  if (first()) return out.slice(0, 1);
  if (engine.hashes && withHashes) {
    for (let i = 0; i < algos.length; i++) {
      const algo = algos[i]!;
      let digest = memo?.digests.get(algo);
      if (!digest) {
        digest = src.whole ? createHash(algo).update(src.whole).digest() : hashers[i]!.digest();
        memo?.digests.set(algo, digest);
      }
      for (const h of engine.hashes.lookup(algo, digest, src.size)) {
        out.push({ name: h.name, kind: 'hash', db: h.db, line: h.line, layer: opts.layer });
        if (first()) return out;
      }
    }
  }
  if (engine.logical) {
    // A streamed layer has no whole buffer: byte compares and PCRE subsignatures see nothing.
    const bytes = src.whole ?? new Uint8Array(0);
    for (const d of engine.logical.evaluate({ bytes, size: src.size, targets, fileType, exec, subsigMatches: body.subsigMatches, layer: opts.layer, ...(opts.containers ? { containers: opts.containers } : {}) })) {
      out.push(d);
      if (first()) return out;
    }
  }
  if (yara) {
    let found = yaraMemo.get(src);
    if (!found) {
      found = yaraLayer ? yaraLayer.detections(opts.layer) : yara.scanBlocks({ size: src.size, read: (o, n) => readRange(src, o, n) }, opts.layer);
      yaraMemo.set(src, found);
    }
    for (const d of found) {
      out.push(d);
      if (first()) return out;
    }
  }
  return out;
}

/** Bytes [offset, offset + length) of a streamed layer in a buffer of their own. */
function readRange(src: Source, offset: number, length: number): Uint8Array {
  const n = Math.max(0, Math.min(length, src.size - offset));
  const out = new Uint8Array(n);
  for (let got = 0; got < n;) {
    const chunk = src.read(offset + got, Math.min(SCAN_WINDOW, n - got));
    if (chunk.length === 0) return out.subarray(0, got);
    out.set(chunk, got);
    got += chunk.length;
  }
  return out;
}

/** Normalised text in buffers (ClamAV `cli_scanscript` without relative offsets): body, then logical. */
function blockPass(engine: EnginePorts, blocks: { bytes: Uint8Array; offset: number }[], targetList: number[], opts: LayerOptions, counter: { blocks: number }): Detection[] {
  const targets = new Set(targetList);
  const out: Detection[] = [];
  const subsigMatches = new Map<string, number[]>();
  const collector = newCollector();
  for (let k = 0; k < blocks.length; k++) {
    const block = blocks[k]!;
    const subject = { data: block.bytes, base: 0, layerLength: block.bytes.length };
    const matches: PartMatch[] = [];
    engine.body.scan(subject, 0, block.bytes.length, targets, matches);
    // Offsets inside a buffer count from the buffer's own offset; `EOF-n` cannot match here.
    for (const m of matches) { m.start += block.offset; m.end += block.offset; }
    collect(engine.body, matches, collector, k, block.bytes, block.offset, 7, undefined, false, true, opts);
    // ClamAV counts a buffer after matching it, and stops at the first detection.
    if (!opts.allmatch && matches.length > 0 && finish(engine.body, collector, opts).length > 0) break;
    counter.blocks += Math.floor(block.bytes.length / COUNT_PRECISION);
  }
  out.push(...finish(engine.body, collector, opts));
  for (const [k, v] of collector.subsig) subsigMatches.set(k, v);
  if (!opts.allmatch && out.length > 0) return out.slice(0, 1);
  if ((engine.logical || engine.yara) && blocks.length > 0) {
    const joined = Buffer.concat(blocks.map((b) => b.bytes));
    if (engine.logical) out.push(...engine.logical.evaluate({ bytes: joined, size: joined.length, targets, fileType: 'CL_TYPE_TEXT_ASCII', exec: undefined, subsigMatches, layer: opts.layer, ...(opts.containers ? { containers: opts.containers } : {}) }));
    if (engine.yara && targets.has(0)) out.push(...engine.yara.scan(joined, opts.layer));
  }
  return out;
}

function allowed(allow: HashPort, bytes: Uint8Array): boolean {
  for (const algo of allow.algorithmsFor(bytes.length)) {
    if (allow.lookup(algo, createHash(algo).update(bytes).digest(), bytes.length).length > 0) return true;
  }
  return false;
}

/** Resolves a signature's offset for this layer: 'any', a [min,max] window, or null (never matches). */
function resolveOffset(off: OffsetSpec, size: number, exec: ExecInfo | undefined, execFailed: boolean, inBlocks: boolean): 'any' | { min: number; max: number } | null {
  switch (off.kind) {
    case 'any': return 'any';
    case 'abs': return { min: off.n, max: off.n + off.shift };
    case 'eof':
      if (execFailed || inBlocks || off.n > size) return null;
      return { min: size - off.n, max: size - off.n + off.shift };
    case 'ep': case 'section': case 'sectionEntire': case 'lastSection':
      if (!exec) return null;
      return resolveExecOffset(exec, off) ?? null;
    case 'versionInfo': return null; // needs the PE VERSIONINFO parse (file-formats work)
    case 'macro': return null; // macro groups are matched through their logical signature
  }
}

/** An occurrence of a signature's final part, with its window and the matched bytes (hex, ≤ 256 bytes). */
interface Final { m: PartMatch; window: number; hex: string }

interface Collector {
  /** Per signature, the matches of each non-final part (deduplicated) and every final-part occurrence. */
  parts: Map<number, { earlier: PartMatch[][]; finals: Final[] }>;
  subsig: Map<string, number[]>;
  size: number;
  exec: ExecInfo | undefined;
  execFailed: boolean;
  typeTarget: number | undefined;
  inBlocks: boolean;
}

function newCollector(): Collector {
  return { parts: new Map(), subsig: new Map(), size: 0, exec: undefined, execFailed: false, typeTarget: undefined, inBlocks: true };
}

function collect(
  body: BodyDatabase, matches: PartMatch[], c: Collector, window: number, data: Uint8Array, base: number,
  typeTarget: number | undefined, exec: ExecInfo | undefined, execFailed: boolean, inBlocks: boolean, _opts: LayerOptions,
): void {
  c.typeTarget = typeTarget; c.exec = exec; c.execFailed = execFailed; c.inBlocks = inBlocks;
  for (const m of matches) {
    const p = body.parts[m.part]!;
    const sig = body.sigs[p.sig]!;
    let entry = c.parts.get(p.sig);
    if (!entry) c.parts.set(p.sig, (entry = { earlier: sig.parts.map(() => []), finals: [] }));
    if (p.partNo === sig.parts.length - 1) {
      const local = m.start - base;
      entry.finals.push({ m, window, hex: sig.owner ? '' : toHex(data.subarray(Math.max(0, local), Math.min(m.end - base, local + 256))) });
    }
    else {
      const list = entry.earlier[p.partNo]!;
      if (!list.some((x) => x.start === m.start && x.end === m.end)) list.push(m);
    }
  }
}

/** Turns collected matches into detections (and logical-subsignature offsets), in ClamAV's order. */
function finish(body: BodyDatabase, c: Collector, opts: LayerOptions): Detection[] {
  return finishWithWindows(body, c, opts).detections;
}

function finishWithWindows(body: BodyDatabase, c: Collector, opts: LayerOptions): { detections: Detection[]; firstWindow: number } {
  const cands: Candidate[] = [];
  for (const [sigId, entry] of c.parts) {
    const sig = body.sigs[sigId]!;
    const range = resolveOffset(sig.offset, c.size, c.exec, c.execFailed, c.inBlocks);
    if (range === null) continue;
    const hits = sig.parts.length === 1
      ? entry.finals.filter((f) => inRange(f.m.start, range)).map((f) => ({ ...f, start: f.m.start }))
      : chainFinals(sig, entry, range);
    if (hits.length === 0) continue;
    if (sig.owner) {
      // Several variants (`::wa`) of one subsignature add to the same list, in match order.
      const key = `${sig.owner.ldb}:${sig.owner.subsig}`;
      const starts = hits.map((h) => h.start);
      const prev = c.subsig.get(key);
      c.subsig.set(key, prev ? [...prev, ...starts].sort((a, b) => a - b) : starts);
      continue;
    }
    const root = sig.target !== 0 && sig.target === c.typeTarget ? 0 : 1;
    for (const h of hits) {
      cands.push({
        d: {
          // `matched`: the bytes of the (last) part; `offset`: where the whole match starts.
          name: sig.name, kind: 'body', db: sig.origin.db, line: sig.origin.line, layer: opts.layer,
          offset: h.start, matched: h.hex,
        },
        // ClamAV: per window, the type's signatures before generic ones, Boyer-Moore (by start)
        // before Aho-Corasick (by where its trie prefix ends), then part number and load order.
        key: [h.window, root, sig.boyerMoore ? 0 : 1, sig.boyerMoore ? h.m.start : h.m.start + body.parts[h.m.part]!.clamOrderOffset, body.parts[h.m.part]!.partNo, sigId],
      });
    }
  }
  cands.sort((a, b) => {
    for (let i = 0; i < a.key.length; i++) if (a.key[i] !== b.key[i]) return a.key[i]! - b.key[i]!;
    return 0;
  });
  return { detections: cands.map((x) => x.d), firstWindow: cands[0]?.key[0] ?? -1 };
}

/**
 * What the raw passes over one layer share: the part matches of each window (for the union of
 * their targets; a pass keeps those of its own targets) and each hash's digest of the layer.
 */
interface PassMemo {
  targets: ReadonlySet<number>;
  /** Keyed by `offset:length`: passes whose windows differ (another overlap) scan their own. */
  windows: Map<string, PartMatch[]>;
  digests: Map<HashAlgo, Buffer>;
}

/** Windowed raw body pass over a layer (ClamAV `cli_scan_fmap`'s loop); `feed` gets each byte once. */
function windowedBody(
  body: BodyDatabase, src: Source, targets: ReadonlySet<number>, typeTarget: number | undefined,
  exec: ExecInfo | undefined, execFailed: boolean, opts: LayerOptions, feed?: (chunk: Uint8Array) => void,
  onForeign?: (entry: number, pos: number) => void, memo?: PassMemo,
): { detections: Detection[]; subsigMatches: Map<string, number[]>; windowBlocks: number[]; firstWindow: number } {
  const c = newCollector();
  const windowBlocks: number[] = [];
  c.size = src.size;
  const overlap = Math.max(32, body.maxPatLen(targets));
  let offset = 0;
  let window = 0;
  let fed = 0;
  while (offset < src.size) {
    const n = Math.min(src.size - offset, SCAN_WINDOW);
    const data = src.read(offset, n);
    if (feed && offset + n > fed) { feed(data.subarray(fed - offset)); fed = offset + n; }
    // The window's end counts as end of data for right-edge classes, as in ClamAV.
    const subject = { data, base: offset, layerLength: offset + n };
    let matches: PartMatch[];
    const key = memo ? `${offset}:${n}` : '';
    const known = memo?.windows.get(key);
    if (known) {
      matches = known.filter((m) => targets.has(body.sigs[body.parts[m.part]!.sig]!.target));
    } else if (memo) {
      const all: PartMatch[] = [];
      body.scan(subject, 0, n, memo.targets, all, undefined, onForeign);
      memo.windows.set(key, all);
      matches = all.filter((m) => targets.has(body.sigs[body.parts[m.part]!.sig]!.target));
    } else {
      matches = [];
      body.scan(subject, 0, n, targets, matches, undefined, onForeign);
    }
    collect(body, matches, c, window, data, offset, typeTarget, exec, execFailed, false, opts);
    windowBlocks.push(Math.floor(n / COUNT_PRECISION));
    if (n < SCAN_WINDOW) break;
    offset += n - overlap;
    window++;
  }
  const f = finishWithWindows(body, c, opts);
  return { detections: f.detections, subsigMatches: c.subsig, windowBlocks, firstWindow: f.firstWindow };
}

function inRange(start: number, range: 'any' | { min: number; max: number }): boolean {
  return range === 'any' || (start >= range.min && start <= range.max);
}

/**
 * Multi-part signatures: part k+1 must start between gap.min and gap.max bytes after part k ends
 * (max Infinity for `*`); the offset applies to the first part. Every occurrence of the final part
 * that completes a chain is a match (so one found in two windows counts twice, as in ClamAV).
 */
function chainFinals(
  sig: BodySig, entry: { earlier: PartMatch[][]; finals: Final[] },
  range: 'any' | { min: number; max: number },
): (Final & { start: number })[] {
  // reach: for each feasible end of the previous part, the earliest start of part 0 leading to it.
  let reach = new Map<number, number>();
  for (const m of entry.earlier[0]!) {
    if (!inRange(m.start, range)) continue;
    const prev = reach.get(m.end);
    if (prev === undefined || m.start < prev) reach.set(m.end, m.start);
  }
  const step = (cands: PartMatch[], gapIndex: number): Map<number, number> => {
    const gap = sig.gaps[gapIndex]!;
    const ends = [...reach.entries()].sort((a, b) => a[0] - b[0]);
    const next = new Map<number, number>();
    for (const m of cands) {
      for (const [end, origin] of ends) {
        if (end > m.start) break;
        const d = m.start - end;
        if (d < gap.min || d > gap.max) continue;
        const prev = next.get(m.end);
        if (prev === undefined || origin < prev) next.set(m.end, origin);
      }
    }
    return next;
  };
  const last = sig.parts.length - 1;
  for (let k = 1; k < last && reach.size > 0; k++) reach = step(entry.earlier[k]!, k - 1);
  if (reach.size === 0) return [];
  const out: (Final & { start: number })[] = [];
  const gap = sig.gaps[last - 1]!;
  const ends = [...reach.entries()].sort((a, b) => a[0] - b[0]);
  for (const f of entry.finals) {
    let best: number | undefined;
    for (const [end, origin] of ends) {
      if (end > f.m.start) break;
      const d = f.m.start - end;
      if (d < gap.min || d > gap.max) continue;
      if (best === undefined || origin < best) best = origin;
    }
    if (best !== undefined) out.push({ ...f, start: best });
  }
  return out;
}
