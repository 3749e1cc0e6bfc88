/**
 * The engine: a loaded `SignatureSet` → compiled matchers → `scan(bytes)` → `ScanResult`.
 *
 * In: signatures from `signatures/clamav/loader.ts` and, when the loader streamed them there, the
 * compact hash indexes. Out: an object shared by every scan, whose `scan` applies ClamAV's rules
 * for one file: the passes its type gets, detections in ClamAV's order, allow lists checked before
 * anything is reported, `--allmatch`.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { DEFAULT_LIMITS, ENGINE_LIMITS, LIMIT_NAMES, parses, type ParseOptions } from '../core/limits.js';
import type { SignatureSet } from '../signatures/clamav/loader.js';
import type { HashAlgo, OffsetSpec } from '../signatures/clamav/types.js';
import { usesBoyerMoore } from '../signatures/clamav/bodysig.js';
import { BodyDatabase } from './bodydb.js';
import { scanLayerCounted, wholeSource, type Source, type EnginePorts, type HashHit, type HashPort, type TypeInfo, type TypeOptions, type LayerOptions } from './scanner.js';
import type { Detection, ScanResult } from './result.js';
import { detectFileType, findEmbeddedTypes, matchTypeSignatures, scanPasses } from '../formats/filetype.js';
import { normaliseText, scriptScanBlocks, scriptNormalisationApplies } from './textnorm.js';
import { SCAN_WINDOW } from './scanner.js';
import { LogicalSignatures } from './logical.js';
import { HashIndex, HashIndexBuilder } from './hashindex.js';
import { YaraRules } from './yaraport.js';
import { CONTAINERS, EMBEDDED } from '../formats/registry.js';
import { htmlNormalise, htmlUtf16Squeeze } from '../formats/html/index.js';
import { parsePe, peClamavView } from '../formats/pe.js';
import { peHashHits } from '../formats/pefull/clamav.js';
import { isZstd, scanZstd } from '../formats/compress/zstd.js';
import { mailFoundInText } from '../formats/mail/index.js';
import { matchCdbAll } from '../signatures/clamav/cdb.js';
import { CHILD_REFUSED, DEFAULT_UNPACK_OPTIONS, isAlert, isLimited, isMeta, type MetaReport, type UnpackContext, type UnpackItem, type UnpackOptions } from '../formats/unpack.js';
import type { ClType } from '../formats/cltypes.js';
import type { AtomSource } from './atoms.js';

/** Layers this small are never scanned, as in ClamAV. */
const TINY_FILE = 5;

/** The hash index as the scanner's port: ClamAV reports at most one exact-size and one wildcard match per algorithm. */
class IndexPort implements HashPort {
  constructor(readonly index: HashIndex) {}
  algorithmsFor(size: number): readonly HashAlgo[] {
    return HashIndex.hashesNeeded(size, this.index);
  }
  lookup(algo: HashAlgo, digest: Uint8Array, size: number): readonly HashHit[] {
    return this.index.lookupClamav(algo, digest, size).map((id) => {
      const o = this.index.origin(id);
      return { name: this.index.name(id), db: o.db, line: o.line };
    });
  }
}

export interface HashIndexes {
  /** Whole-layer hash signatures (`.hdb .hsb …`). */
  file: HashIndex;
  /** Allow list (`.fp .sfp`). */
  allow: HashIndex;
  /** PE section hashes (`.mdb .msb`). */
  section?: HashIndex;
  /** PE import-table hashes (`.imp`). */
  import?: HashIndex;
}

/** Builds the indexes from hashes a loader collected as objects. */
export function indexesFromSet(set: SignatureSet): HashIndexes {
  const file = new HashIndexBuilder();
  const allow = new HashIndexBuilder();
  const section = new HashIndexBuilder();
  const imports = new HashIndexBuilder();
  for (const h of set.hashes) {
    if (h.scope !== 'file' && h.allow) continue;
    const b = h.scope === 'section' ? section : h.scope === 'import' ? imports : h.allow ? allow : file;
    b.beginFile(h.db);
    b.add(h.algo, h.hash, h.size, b.internName(h.name), h.line);
  }
  return { file: file.build(), allow: allow.build(), section: section.build(), import: imports.build() };
}

export interface ScanOptions {
  allmatch?: boolean;
  layer?: string[];
  /** Containers nested deeper than this are not opened (ClamAV's MaxRecursion). */
  maxRecursion?: number;
  /** Layers inside containers larger than this are not scanned (ClamAV's MaxFileSize). */
  maxFileSize?: number;
  /** Bytes of all layers of one file together (ClamAV's MaxScanSize); 0 for no limit. */
  maxScanSize?: number;
  /** Layers of one file, itself included (ClamAV's MaxFiles); 0 for no limit. */
  maxFiles?: number;
  /** A PE inside another layer is scanned only when the rest of the layer is this size or less (MaxEmbeddedPE). */
  maxEmbeddedPE?: number;
  /** Milliseconds for one file, its layers together; 0 for no limit (MaxScanTime). */
  maxScanTime?: number;
  /** HTML larger than this is not normalised (MaxHTMLNormalize). */
  maxHtmlNormalize?: number;
  /** HTML larger than this gets no tag-stripped copy (MaxHTMLNoTags). */
  maxHtmlNoTags?: number;
  /** Types of the enclosing layers, outermost first (set by the engine for the layers it opens). */
  containers?: readonly string[];
  /** Keep clamscan's `--archive-verbose` chain (returned as `chain` with a detection). */
  archiveVerbose?: boolean;
  /** Alert the first limit met as `Heuristics.Limits.Exceeded.<Limit>` (ClamAV's AlertExceedsMax). */
  alertExceedsMax?: boolean;
  /** Heuristic switches of the container readers (ClamAV's defaults when absent). */
  unpack?: Partial<UnpackOptions>;
  /** `scanFile`: stream files larger than this many bytes (default `ENGINE_LIMITS.wholeFileRead`). */
  streamAbove?: number;
  /** Which kinds of readers run (ClamAV's parse switches); all when absent. */
  parse?: ParseOptions;
  /** Text larger than this gets no normalised copy (MaxScriptNormalize). */
  maxScriptNormalize?: number;
}

export class Engine {
  readonly ports: EnginePorts;
  readonly known: number;
  private readonly allow: HashIndex;
  readonly hashIndex: HashIndex;

  readonly body: BodyDatabase;
  /** `.mdb .msb` and `.imp` lookups for PE layers (absent when the database has none). */
  private readonly sectionPort: IndexPort | undefined;
  private readonly importPort: IndexPort | undefined;
  readonly sectionIndex: HashIndex | undefined;
  readonly importIndex: HashIndex | undefined;
  /** The database's YARA rules, compiled (absent when it has none). */
  readonly yara: YaraRules | undefined;

  constructor(readonly set: SignatureSet, indexes: HashIndexes = indexesFromSet(set), compiledBody?: BodyDatabase) {
    this.hashIndex = indexes.file;
    const logical = new LogicalSignatures(set.ldb);
    // YARA rules compile from their text (also with a compiled cache: their atom entries are in
    // the cached index, numbered the same way for the same files).
    const yara = set.yara.length > 0 ? YaraRules.for(set.yara) : undefined;
    this.yara = yara;
    const yaraAtoms = yara ? yara.atoms() : [];
    // A compiled body comes with a set whose body signatures were stripped (they live in the body):
    // it must carry these YARA rules' atoms, or nothing can be rebuilt here.
    if (compiledBody && !compiledMatchesYara(compiledBody, yaraAtoms)) throw new Error('the compiled database does not hold the atoms of its YARA rules; compile it again');
    const body = compiledBody ?? new BodyDatabase([
      ...set.ndb.map((s) => ({
        name: s.name, target: s.target, offset: s.offset, pattern: s.pattern, origin: s.origin,
        boyerMoore: usesBoyerMoore(s.pattern.source, offsetText(s.offset), s.target),
      })),
      ...LogicalSignatures.contentInputs(set.ldb),
    ], undefined, yaraAtoms);
    this.body = body;
    // The normaliser's overlap is the longest target-7 pattern (ClamAV's maxpatlen of that root);
    // target-7 signatures with relative offsets make ClamAV scan the normalised text as a layer.
    const maxPatLen7 = body.maxPatLen([7]);
    const relative7 = body.sigs.some((s) => s.target === 7 && !['any', 'abs', 'macro'].includes(s.offset.kind));
    this.allow = indexes.allow;
    this.sectionIndex = indexes.section;
    this.importIndex = indexes.import;
    this.sectionPort = indexes.section && indexes.section.count > 0 ? new IndexPort(indexes.section) : undefined;
    this.importPort = indexes.import && indexes.import.count > 0 ? new IndexPort(indexes.import) : undefined;
    this.known = set.known;
    this.ports = {
      body,
      ...(indexes.file.count > 0 ? { hashes: new IndexPort(indexes.file) } : {}),
      logical,
      typeOf: (bytes: Uint8Array, known?: string, layer?: TypeOptions): TypeInfo => {
        const type = known ?? detectFileType(bytes);
        // For text, the raw pass's own type search over the whole layer may find HTML or mail.
        const found = type === 'CL_TYPE_TEXT_ASCII' || type === 'CL_TYPE_GIF' ? matchTypeSignatures(bytes, type) : undefined;
        const parse = layer?.parse;
        let passes = scanPasses(type, found, { normalize: parse?.html !== false, mail: parse?.mail !== false });
        if (!scriptNormalisationApplies(layer?.size ?? bytes.length, layer?.maxScriptNormalize)) passes = passes.filter((p) => p.input !== 'normalised-text');
        return { type, passes };
      },
      html: (bytes: Uint8Array, type: string, limits?: { maxHtmlNormalize?: number; maxHtmlNoTags?: number }) => htmlNormalise(type === 'CL_TYPE_HTML_UTF16' ? htmlUtf16Squeeze(bytes) : bytes, limits ?? {}),
      ...(indexes.allow.count > 0 ? { allow: new IndexPort(indexes.allow) } : {}),
      ...(yara && yara.ruleCount > 0 ? { yara } : {}),
      normalise: (bytes: Uint8Array) => relative7
        ? { layer: normaliseText(bytes, { blockSize: SCAN_WINDOW + maxPatLen7 }) }
        : { blocks: scriptScanBlocks(bytes, maxPatLen7) },
    };
  }

  /** Scans one file's bytes. */
  scan(bytes: Uint8Array, opts: ScanOptions = {}): ScanResult & { scannedBlocks: number } {
    return this.scanSource(wholeSource(bytes), opts);
  }

  /**
   * Scans a file without holding it in memory: the matcher reads it window by window (128 KiB),
   * hashes are fed the same windows, and memory stays bounded whatever the file's size. Files up
   * to `ENGINE_LIMITS.wholeFileRead` are read whole instead (byte compares and PCRE subsignatures
   * need the whole layer; see docs/roadmap.md).
   */
  scanFile(path: string | Buffer, size: number, opts: ScanOptions = {}): ScanResult & { scannedBlocks: number } {
    if (size <= (opts.streamAbove ?? this.streamAbove)) return this.scan(readFileSync(path), opts);
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(SCAN_WINDOW);
      const src: Source = {
        size,
        read(offset: number, length: number): Uint8Array {
          const want = Math.min(length, buf.length);
          let got = 0;
          while (got < want) {
            const n = readSync(fd, buf, got, want - got, offset + got);
            if (n === 0) break; // the file shrank while being scanned: what was read is what is scanned
            got += n;
          }
          return buf.subarray(0, got);
        },
      };
      return this.scanSource(src, opts);
    } finally {
      closeSync(fd);
    }
  }

  private scanSource(src: Source, opts: ScanOptions, depth = 0, budget: LayerBudget = newBudget(opts), forcedType?: string): LayerResult {
    const top = depth === 0;
    // ClamAV does not look at files of 5 bytes or fewer at all (no hash, no pattern).
    if (src.size <= TINY_FILE) return { verdict: 'clean', detections: [], bytesScanned: 0, scannedBlocks: 0 };
    // Each layer counts against the file's limits before it is scanned (ClamAV's cli_updatelimits).
    if (top) {
      const ms = opts.maxScanTime ?? DEFAULT_LIMITS.maxScanTime;
      budget.deadline = ms > 0 ? Date.now() + ms : Infinity;
    }
    const hit = this.timeIsUp(opts, budget) ? LIMIT_NAMES.maxScanTime : overLimit(src.size, budget, opts);
    let result: LayerResult;
    if (hit) {
      if (hit !== LIMIT_NAMES.maxScanTime) this.limitReached(hit, opts, budget);
      result = { verdict: 'clean', detections: [], bytesScanned: 0, scannedBlocks: 0, refused: hit };
    } else {
      // A child its container types is scanned as a buffer (cli_scan_desc): checked against the limits, not counted.
      if (!forcedType || forcedType.startsWith('CL_TYPE_PART_')) {
        budget.files++;
        budget.size += src.size;
      }
      // A child seen clean before (same bytes, same options) is not scanned again: ClamAV's clean cache.
      const cacheKey = depth > 0 && src.whole && !this.containerDependent ? this.cleanKey(src.whole, forcedType, opts) : undefined;
      if (cacheKey !== undefined && this.cleanCache.has(cacheKey)) {
        // clamscan's pre-cache callback has already counted the layer, and no post-scan callback
        // follows a cache hit: its `-a` level stays one higher for the rest of the file.
        if (budget.chain) budget.chain.level++;
        return { verdict: 'clean', detections: [], bytesScanned: 0, scannedBlocks: 0 };
      }
      const limitsBefore = budget.limits.length, puaBefore = budget.pua.length;
      if (budget.chain) budget.chain.level++;
      result = this.scanLayers(src, opts, depth, budget, forcedType);
      if (cacheKey !== undefined && result.detections.length === 0 && budget.limits.length === limitsBefore && budget.pua.length === puaBefore && !budget.timedOut) this.remember(cacheKey);
      if (result.detections.length > 0) budget.detected = result.detections[result.detections.length - 1]!.name;
      if (budget.chain) chainPost(budget.chain, budget.detected);
    }
    return top ? finish(result, budget, opts) : result;
  }

  /** Some logical signature depends on the enclosing layers: a layer's result is not its bytes' alone, so nothing is cached (as ClamAV's dont_cache_flag). */
  private get containerDependent(): boolean {
    return (this.containerDep ??= this.set.ldb.some((l) => l.tdb.container !== undefined || l.tdb.intermediates !== undefined));
  }
  private containerDep: boolean | undefined;

  /** Layers found clean, by content and options (ClamAV's CacheSize: 65536), oldest first. */
  private readonly cleanCache = new Set<string>();

  private cleanKey(bytes: Uint8Array, forcedType: string | undefined, opts: ScanOptions): string {
    const o = [opts.maxFileSize, opts.maxScanSize, opts.maxFiles, opts.maxRecursion, opts.maxEmbeddedPE, JSON.stringify(opts.unpack ?? {}), JSON.stringify(opts.parse ?? {}), opts.maxScriptNormalize, forcedType ?? ''].join(',');
    return `${createHash('md5').update(bytes).digest('hex')}:${bytes.length}:${o}`;
  }

  private remember(key: string): void {
    if (this.cleanCache.size >= CLEAN_CACHE_SIZE) this.cleanCache.delete(this.cleanCache.values().next().value as string);
    this.cleanCache.add(key);
  }

  /** Whether the file's scan time is over; the first time, the limit is noted (ClamAV aborts the scan). */
  private timeIsUp(opts: ScanOptions, budget: LayerBudget): boolean {
    if (budget.timedOut) return true;
    if (Date.now() <= budget.deadline) return false;
    budget.timedOut = true;
    this.limitReached(LIMIT_NAMES.maxScanTime, opts, budget);
    return true;
  }

  /** A limit stopped a layer: noted for the result, and alerted once per file with `alertExceedsMax` (ClamAV's `limit_exceeded`). */
  private limitReached(limit: string, opts: ScanOptions, budget: LayerBudget): void {
    budget.limits.push({ layer: opts.layer ?? [], limit });
    if (budget.limitAlerted) return;
    budget.limitAlerted = true;
    if (opts.alertExceedsMax) budget.pua.push({ name: `Heuristics.Limits.Exceeded.${limit}`, kind: 'limit', layer: opts.layer ?? [] });
  }

  private scanLayers(src: Source, opts: ScanOptions, depth: number, budget: LayerBudget, forcedType?: string): LayerResult {
    // Containers are opened first and their layers scanned, then the container's own bytes (ClamAV's order).
    // The layer's type, detected once for the container checks and the scan passes.
    const detected = forcedType ?? (src.whole ? detectFileType(src.whole) : undefined);
    // A child its container types is scanned as a plain buffer of that type: one raw pass, nothing opened.
    if (forcedType) {
      // A partition typed HFS+ is read as one first (ClamAV's partition scan), then scanned raw.
      const partReader = forcedType === 'CL_TYPE_PART_HFSPLUS' && src.whole && parses(opts.parse, 'CL_TYPE_PART_HFSPLUS') ? CONTAINERS.get('CL_TYPE_PART_HFSPLUS') : undefined;
      const inner = partReader ? this.openContainer(partReader(src.whole!, this.unpackContext(opts, budget)), opts, depth, budget, forcedType, src.size) : undefined;
      if (inner && inner.detections.length > 0 && !opts.allmatch) return inner;
      const plain = scanLayerCounted(this.ports, src, { ...layerOptions(opts), type: forcedType, plain: true });
      const detections = [...(inner?.detections ?? []), ...plain.detections];
      return {
        verdict: detections.length > 0 ? 'infected' : 'clean', detections,
        bytesScanned: src.size + (inner?.bytesScanned ?? 0), scannedBlocks: plain.scannedBlocks + (inner?.scannedBlocks ?? 0),
      };
    }
    const type = src.whole && src.whole[0] === 0x1f && src.whole[1] === 0x8b ? 'CL_TYPE_GZ' : detected;
    // zstd has no type in ClamAV (it does not open zstd); vigil opens a layer that starts with a frame.
    const anyReader = src.whole && type ? CONTAINERS.get(type as ClType) ?? (isZstd(src.whole) ? scanZstd : undefined) : undefined;
    // A parse switch turned off leaves the layer to its raw scan (zstd counts as an archive).
    const reader = anyReader && parses(opts.parse, CONTAINERS.has(type as ClType) ? type : undefined) ? anyReader : undefined;
    const open = (): LayerResult | undefined => (reader && src.whole ? this.openContainer(reader(src.whole, this.unpackContext(opts, budget)), opts, depth, budget, type, src.size) : undefined);
    // Most containers are opened before the layer's own scan; PDF and executables after it (ClamAV's order).
    const afterRaw = type !== undefined && AFTER_RAW.has(type);
    const before = afterRaw ? undefined : open();
    if (before && before.detections.length > 0 && !opts.allmatch) return before;
    // The HTML scan's own files (style images, data: URIs) are files one deeper; its normalised copies are layers one deeper.
    // UTF-16 HTML is first squeezed into a layer of its own, so everything of its HTML scan is one level deeper still.
    const htmlDepth = detected === 'CL_TYPE_HTML_UTF16' ? depth + 1 : depth;
    const children = (items: { name: string; data: Uint8Array }[]) => {
      const r = this.openContainer(items, opts, htmlDepth, budget, 'CL_TYPE_HTML');
      return { detections: r.detections, scannedBlocks: r.scannedBlocks };
    };
    const pushNormalised = (): boolean => {
      if (this.belowRecursionLimit(opts, htmlDepth)) return true;
      this.limitReached(LIMIT_NAMES.maxRecursion, opts, budget);
      return false;
    };
    const htmlLimits = opts.maxHtmlNormalize !== undefined || opts.maxHtmlNoTags !== undefined
      ? { ...(opts.maxHtmlNormalize !== undefined ? { maxHtmlNormalize: opts.maxHtmlNormalize } : {}), ...(opts.maxHtmlNoTags !== undefined ? { maxHtmlNoTags: opts.maxHtmlNoTags } : {}) }
      : undefined;
    const scan = scanLayerCounted(this.ports, src, { ...layerOptions(opts), children, pushNormalised, ...(htmlLimits ? { htmlLimits } : {}), ...(detected ? { type: detected } : {}) });
    // Types found inside the layer's bytes (self-extractors, installers, PE in PE), after its own scan.
    const embedded = src.whole && type && (opts.allmatch || scan.detections.length === 0) ? this.scanEmbedded(src.whole, type, opts, depth, budget) : undefined;
    // Text (or MHTML in binary data) the raw scan finds to be mail is read as mail after it (ClamAV's scanraw).
    const mailAs = !anyReader && src.whole && detected && opts.parse?.mail !== false && mayBeMail(src.whole) ? mailFoundInText(src.whole, detected as ClType) : undefined;
    const mail = mailAs && (opts.allmatch || (scan.detections.length === 0 && !embedded?.detections.length))
      ? this.openContainer(CONTAINERS.get('CL_TYPE_MAIL')!(src.whole!, this.unpackContext(opts, budget)), opts, depth, budget, mailAs, src.size)
      : undefined;
    // A PE's section and import hashes (`.mdb .msb .imp`), after its raw scan, before its unpackers.
    const peHits = type === 'CL_TYPE_MSEXE' && src.whole && (this.sectionPort || this.importPort) && opts.parse?.pe !== false && (opts.allmatch || (scan.detections.length === 0 && !embedded?.detections.length))
      ? peHashHits(src.whole, this.sectionPort, this.importPort, !!opts.allmatch)
      : undefined;
    const peHashes = (peHits?.hits ?? []).map((h): Detection => ({ name: h.name, kind: 'hash', db: h.db, line: h.line, layer: opts.layer ?? [] }));
    // A PE whose import table ClamAV fails to hash ends its PE processing there: no unpacking.
    const after = afterRaw && !peHits?.impError && (opts.allmatch || (scan.detections.length === 0 && !embedded?.detections.length && peHashes.length === 0)) ? open() : undefined;
    const inner = before ?? after;
    const detections: Detection[] = [...(before?.detections ?? []), ...scan.detections, ...(embedded?.detections ?? []), ...(mail?.detections ?? []), ...peHashes, ...(after?.detections ?? [])];
    const innerBytes = (inner?.bytesScanned ?? 0) + (embedded?.bytesScanned ?? 0) + (mail?.bytesScanned ?? 0);
    const innerBlocks = (inner?.scannedBlocks ?? 0) + (embedded?.scannedBlocks ?? 0) + (mail?.scannedBlocks ?? 0);
    if (scan.detections.length > 0 && this.allow.count > 0 && this.allowed(src)) {
      return { verdict: detections.length > scan.detections.length ? 'infected' : 'clean', detections: inner?.detections ?? [], bytesScanned: src.size + innerBytes, scannedBlocks: scan.scannedBlocks + innerBlocks };
    }
    return { verdict: detections.length > 0 ? 'infected' : 'clean', detections, bytesScanned: src.size + innerBytes, scannedBlocks: scan.scannedBlocks + innerBlocks };
  }

  private unpackContext(opts: ScanOptions, budget: LayerBudget): UnpackContext {
    return {
      limits: {
        maxFileSize: opts.maxFileSize ?? DEFAULT_LIMITS.maxFileSize,
        maxFiles: opts.maxFiles ?? DEFAULT_LIMITS.maxFiles,
        maxScanSize: opts.maxScanSize ?? DEFAULT_LIMITS.maxScanSize,
        maxRecursion: opts.maxRecursion ?? DEFAULT_LIMITS.maxRecursion,
      },
      options: { ...DEFAULT_UNPACK_OPTIONS, ...opts.unpack, alertExceedsMax: !!opts.alertExceedsMax },
      scannedFiles: () => budget.files,
      scannedSize: () => budget.size,
    };
  }

  /**
   * ClamAV's embedded-type scan: the types its raw scan found inside a layer that is not itself an
   * archive (ZIP entries, cabinets, installers…), each read from its offset by the reader of that
   * type, after the layer's own scan; undefined when nothing could be read.
   */
  private scanEmbedded(bytes: Uint8Array, type: string, opts: ScanOptions, depth: number, budget: LayerBudget): LayerResult | undefined {
    const found = findEmbeddedTypes(bytes, type, opts.maxFiles ?? DEFAULT_LIMITS.maxFiles)
      .filter((f) => f.offset > 0 && (EMBEDDED.has(f.type) || f.type === 'CL_TYPE_MSEXE') && parses(opts.parse, f.type) && embeddedApplies(f.type, type, f.offset));
    if (found.length === 0) return undefined;
    const ctx = this.unpackContext(opts, budget);
    const maxEmbeddedPE = opts.maxEmbeddedPE ?? DEFAULT_LIMITS.maxEmbeddedPE;
    const detections: Detection[] = [];
    let bytesScanned = 0, scannedBlocks = 0, any = false;
    // The view ClamAV pushes sits between the layer and the embedded file's members.
    const view = { ...opts, containers: [...(opts.containers ?? []), type] };
    for (const f of found) {
      // The embedded data is a layer of its own (ClamAV pushes a view from the offset), its files one deeper.
      if (!IN_PLACE.has(f.type) && !this.belowRecursionLimit(opts, depth)) break;
      let items: Iterable<UnpackItem>;
      let last = false;
      if (f.type === 'CL_TYPE_MSEXE') {
        // A PE header at the offset: the rest of the layer is scanned as a file; later PEs are reached from it.
        if (bytes.length - f.offset > maxEmbeddedPE) continue;
        const rest = bytes.subarray(f.offset);
        const pe = parsePe(rest).pe;
        if (!pe || !peClamavView(pe).ok) continue;
        items = [{ name: `pe@${f.offset}`, data: rest }];
        last = true;
      } else {
        items = EMBEDDED.get(f.type)!(bytes, f.offset, ctx);
      }
      // Some types ClamAV reads in the layer itself, retyping it (no view of their own): their files are one level deeper only.
      const r = IN_PLACE.has(f.type)
        ? this.openContainer(items, opts, depth, budget, f.type, bytes.length - f.offset)
        : this.openContainer(items, view, depth + 1, budget, EMBEDDED_AS[f.type] ?? f.type, bytes.length - f.offset);
      any ||= r.bytesScanned > 0 || r.detections.length > 0;
      detections.push(...r.detections);
      bytesScanned += r.bytesScanned;
      scannedBlocks += r.scannedBlocks;
      if ((detections.length > 0 && !opts.allmatch) || last || budget.timedOut) break;
    }
    return any ? { verdict: detections.length > 0 ? 'infected' : 'clean', detections, bytesScanned, scannedBlocks } : undefined;
  }

  /**
   * Scans a container's items in order: child layers one level deeper (the first detection ends it
   * unless allmatch), limits noted, heuristic alerts held as potentially unwanted. A container at the
   * recursion limit is not opened at all (ClamAV refuses to push its children).
   */
  private openContainer(items: Iterable<UnpackItem>, opts: ScanOptions, depth: number, budget: LayerBudget, containerType?: string, containerSize = 0): LayerResult {
    const perChildMeta = !!containerType && META_TYPES.has(containerType);
    const detections: Detection[] = [];
    let position = 0;
    // Each member's metadata, as ClamAV's cli_matchmeta sees it: clamscan's -a chain and `.cdb` signatures.
    const metadata = (m: MetaReport): boolean => {
      if (budget.chain && containerType) chainMeta(budget.chain, containerType, m.meta);
      if (this.set.cdb.length === 0 || !containerType) return false;
      const hits = matchCdbAll(this.set.cdb, {
        containerType, containerSize, fileName: m.meta, fileSizeInContainer: m.compressedSize ?? m.size ?? 0,
        fileSizeReal: m.size ?? 0, encrypted: !!m.encrypted, filePos: m.position ?? 0,
      });
      // Without allmatch ClamAV's first alert ends the listing.
      for (const h of opts.allmatch ? hits : hits.slice(0, 1)) detections.push({ name: h.name, kind: 'metadata', db: h.origin.db, line: h.origin.line, layer: opts.layer ?? [] });
      return hits.length > 0 && !opts.allmatch;
    };
    let bytesScanned = 0, scannedBlocks = 0;
    const atLimit = !this.belowRecursionLimit(opts, depth);
    // A reader is told when a child was refused for a limit (ClamAV's unzip stops there).
    const it = items[Symbol.iterator]() as Iterator<UnpackItem, unknown, unknown>;
    let feedback: unknown;
    for (;;) {
      const step = it.next(feedback);
      feedback = undefined;
      if (step.done) break;
      const item = step.value;
      if (this.timeIsUp(opts, budget)) break;
      if (isMeta(item)) {
        if (metadata(item)) break;
        continue;
      }
      if (isAlert(item)) {
        if (item.alert.startsWith('Heuristics.') || item.alert.startsWith('PUA.')) budget.pua.push({ name: item.alert, kind: 'heuristic', layer: opts.layer ?? [], ...(item.offset !== undefined ? { offset: item.offset } : {}) });
        else detections.push({ name: item.alert, kind: 'heuristic', layer: opts.layer ?? [] });
        continue;
      }
      const layer = [...(opts.layer ?? []), item.name];
      if (perChildMeta) {
        const size = isLimited(item) ? item.size ?? 0 : item.data.length;
        if (metadata({ meta: metaName(containerType!, item.name), size, position: ++position })) break;
      }
      if (atLimit) {
        this.limitReached(LIMIT_NAMES.maxRecursion, { ...opts, layer }, budget);
        break;
      }
      if (isLimited(item)) {
        // The size a reader gives is checked as ClamAV checks it (scan size before file size).
        this.limitReached((item.size !== undefined ? overLimit(item.size, budget, opts) : undefined) ?? item.limit, { ...opts, layer }, budget);
        continue;
      }
      const containers = containerType ? [...(opts.containers ?? []), containerType] : opts.containers;
      const r = this.scanSource(wholeSource(item.data), { ...opts, layer, ...(containers ? { containers } : {}) }, depth + 1, budget, item.type);
      if (r.refused && r.refused !== LIMIT_NAMES.maxFileSize) feedback = CHILD_REFUSED;
      // ClamAV's installer readers end their listing at a child a limit refused.
      if (r.refused && containerType && STOP_ON_REFUSAL.has(containerType)) break;
      detections.push(...r.detections);
      bytesScanned += r.bytesScanned;
      scannedBlocks += r.scannedBlocks;
      if (detections.length > 0 && !opts.allmatch) break;
    }
    return { verdict: detections.length > 0 ? 'infected' : 'clean', detections, bytesScanned, scannedBlocks };
  }

  /** Whether a container's children (one level deeper) may be scanned: ClamAV refuses to push a layer at the limit. */
  private belowRecursionLimit(opts: ScanOptions, depth: number): boolean {
    return depth + 1 < (opts.maxRecursion ?? DEFAULT_LIMITS.maxRecursion);
  }

  get allowIndex(): HashIndex { return this.allow; }

  /**
   * Above which size `scanFile` streams. Byte compares and PCRE subsignatures need the whole
   * layer, so with such signatures loaded files are read whole up to PCREMaxFileSize (100 MiB,
   * ClamAV's own bound for PCRE), and streamed above it.
   */
  get streamAbove(): number {
    const needsWhole = this.set.ldb.some((l) => l.subsigs.some((x) => x.k === 'pcre' || x.k === 'bytecmp'));
    return needsWhole ? Math.max(ENGINE_LIMITS.wholeFileRead, DEFAULT_LIMITS.pcreMaxFileSize) : ENGINE_LIMITS.wholeFileRead;
  }

  private allowed(src: Source): boolean {
    for (const algo of HashIndex.hashesNeeded(src.size, this.allow)) {
      const h = createHash(algo);
      if (src.whole) h.update(src.whole);
      else for (let off = 0; off < src.size; off += SCAN_WINDOW) h.update(src.read(off, Math.min(SCAN_WINDOW, src.size - off)));
      if (this.allow.lookup(algo, h.digest(), src.size).length > 0) return true;
    }
    return false;
  }
}

/** What every scan of a layer's own bytes is told: allmatch, the layer's path and its enclosing types. */
function layerOptions(opts: ScanOptions): LayerOptions {
  return {
    allmatch: !!opts.allmatch, layer: opts.layer ?? [], ...(opts.containers ? { containers: opts.containers } : {}),
    ...(opts.parse ? { parse: opts.parse } : {}), ...(opts.maxScriptNormalize !== undefined ? { maxScriptNormalize: opts.maxScriptNormalize } : {}),
  };
}

/** A layer's scan result with ClamAV's count of scanned blocks, and the limit that refused it, if one did. */
type LayerResult = ScanResult & { scannedBlocks: number; refused?: string };

/** Entries of the clean-layer cache (ClamAV's default CacheSize). */
const CLEAN_CACHE_SIZE = 65536;

/** What the layers of one file have used of its limits, the limits met, and the alerts held until the end. */
interface LayerBudget {
  files: number;
  size: number;
  /** Each layer a limit stopped, with the limit's name. */
  limits: { layer: string[]; limit: string }[];
  /** Set once a limit was alerted (ClamAV alerts the first only). */
  limitAlerted: boolean;
  /** Potentially unwanted alerts (heuristics, limits): reported only when no signature matched, or with allmatch. */
  pua: Detection[];
  /** The name of the last detection so far in the file (ClamAV's verdict for every later layer). */
  detected?: string;
  /** clamscan's `--archive-verbose` chain, kept when asked for. */
  chain?: MetaChain;
  /** When the file's scan time ends (ms since the epoch), and whether it has. */
  deadline: number;
  timedOut: boolean;
}

function newBudget(opts: ScanOptions = {}): LayerBudget {
  return { ...(opts.archiveVerbose ? { chain: { links: [], lastadd: 0, lastvir: 0, level: 0 } } : {}), files: 0, size: 0, limits: [], limitAlerted: false, pua: [], deadline: Infinity, timedOut: false };
}

/** The file's result: held alerts lose to signatures unless allmatch; limits met are listed. */
function finish(r: LayerResult, budget: LayerBudget, opts: ScanOptions): LayerResult {
  let detections = r.detections;
  // ClamAV keeps potentially unwanted alerts by name: each is reported once per file.
  budget.pua = budget.pua.filter((d, i) => budget.pua.findIndex((e) => e.name === d.name) === i);
  if (budget.pua.length > 0) {
    if (opts.allmatch) detections = [...detections, ...budget.pua];
    else if (detections.length === 0) detections = [budget.pua[0]!];
  }
  const chain = budget.chain && detections.length > 0 ? { chain: { links: budget.chain.links, lastvir: budget.chain.lastvir } } : {};
  return { ...r, verdict: detections.length > 0 ? 'infected' : r.verdict, detections, ...(budget.limits.length > 0 ? { limits: budget.limits } : {}), ...chain };
}

/**
 * clamscan's `--archive-verbose` bookkeeping (its pre-scan, post-scan and metadata callbacks):
 * `level` counts the layers being scanned, each container member reported with its metadata sets
 * the chain's entry for the container's level, and a container that ends clean drops its entry.
 * The first entry, the file's own name, is the caller's.
 */
export interface MetaChain {
  /** `TYPE:name` of the members on the way down (the file's name is prepended by the caller). */
  links: string[];
  lastadd: number;
  lastvir: number;
  level: number;
}

function chainMeta(c: MetaChain, containerType: string, name: string): void {
  const type = containerType.startsWith('CL_TYPE_') ? containerType.slice(8) : containerType;
  const link = type === 'ANY' ? name : `${type}:${name}`;
  if (c.lastadd !== c.level) {
    c.links.push(link);
    c.lastadd = c.level;
  } else if (c.links.length > 0) {
    c.links[c.links.length - 1] = link;
  } else {
    c.links.push(link);
  }
}

function chainPost(c: MetaChain, virname: string | undefined): void {
  if (c.links.length > 0 && c.level === c.lastadd && !virname) c.links.pop();
  if (virname && !c.lastvir) c.lastvir = c.level;
  c.level--;
}

/**
 * ClamAV's conditions on an embedded type (`scanraw`): an archive's self-extractor form is not read
 * inside that archive, and installers are read only inside PE layers (NSIS from 4 bytes before its
 * signature, so not at the very start).
 */
function embeddedApplies(found: string, host: string, offset: number): boolean {
  switch (found) {
    case 'CL_TYPE_NULSFT': return host === 'CL_TYPE_MSEXE' && offset > 4;
    case 'CL_TYPE_AUTOIT': case 'CL_TYPE_ISHIELD_MSI': return host === 'CL_TYPE_MSEXE';
    default: {
      const archive = EMBEDDED_AS[found];
      return archive === undefined || archive !== host;
    }
  }
}

/** Every mail or MHTML type signature needs one of these: a native search rules most layers out cheaply. */
const MAIL_HINTS = [Buffer.from('ontent-'), Buffer.from('eceived:')];

function mayBeMail(bytes: Uint8Array): boolean {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return MAIL_HINTS.some((h) => b.includes(h));
}

/** Containers whose ClamAV reader stops at the first child a limit refuses. */
const STOP_ON_REFUSAL: ReadonlySet<string> = new Set(['CL_TYPE_NULSFT', 'CL_TYPE_ISHIELD_MSI', 'CL_TYPE_SIS', 'CL_TYPE_AUTOIT']);

/** Types whose reader ClamAV runs after the layer's raw scan (`cli_magic_scan`'s second switch). */
const AFTER_RAW: ReadonlySet<string> = new Set(['CL_TYPE_PDF', 'CL_TYPE_MSEXE', 'CL_TYPE_ELF', 'CL_TYPE_MACHO', 'CL_TYPE_MACHO_UNIBIN']);

/**
 * Containers whose readers report each member's metadata in ClamAV (`cli_matchmeta`) as they extract it,
 * which clamscan's `-a` chain shows. ZIP lists every member first: its reader yields `MetaReport`s.
 */
const META_TYPES: ReadonlySet<string> = new Set([
  'CL_TYPE_POSIX_TAR', 'CL_TYPE_OLD_TAR', 'CL_TYPE_CPIO_OLD', 'CL_TYPE_CPIO_ODC', 'CL_TYPE_CPIO_NEWC', 'CL_TYPE_CPIO_CRC',
  'CL_TYPE_7Z', 'CL_TYPE_MSCAB', 'CL_TYPE_MSCHM', 'CL_TYPE_ISO9660', 'CL_TYPE_RAR', 'CL_TYPE_ARJ', 'CL_TYPE_ISHIELD_MSI',
  'CL_TYPE_MAIL', 'CL_TYPE_TNEF', 'CL_TYPE_UUENCODED', 'CL_TYPE_BINHEX', 'CL_TYPE_LHA_LZH',
]);

/** ISO 9660 reports a member by its directory record's name, without the path the reader gives it. */
const metaName = (containerType: string, name: string): string => (containerType === 'CL_TYPE_ISO9660' ? name.slice(name.lastIndexOf('/') + 1) : name);

/** The type ClamAV gives the view it pushes for an embedded type (what its reader sees as the container). */
const EMBEDDED_AS: Partial<Record<string, string>> = {
  CL_TYPE_ZIPSFX: 'CL_TYPE_ZIP', CL_TYPE_CABSFX: 'CL_TYPE_MSCAB', CL_TYPE_RARSFX: 'CL_TYPE_RAR', CL_TYPE_ARJSFX: 'CL_TYPE_ARJ',
  CL_TYPE_7ZSFX: 'CL_TYPE_7Z', CL_TYPE_EGGSFX: 'CL_TYPE_EGG', CL_TYPE_NULSFT: 'CL_TYPE_NULSFT', CL_TYPE_AUTOIT: 'CL_TYPE_AUTOIT',
  CL_TYPE_ISHIELD_MSI: 'CL_TYPE_ISHIELD_MSI',
};

/** Types found inside a layer that ClamAV's scanraw reads in that layer, changing its type, instead of pushing a view. */
const IN_PLACE: ReadonlySet<string> = new Set(['CL_TYPE_XDP', 'CL_TYPE_XML_WORD', 'CL_TYPE_XML_XL', 'CL_TYPE_XML_HWP', 'CL_TYPE_DMG', 'CL_TYPE_ISO9660', 'CL_TYPE_UDF', 'CL_TYPE_MBR']);

/** ClamAV's checks before a layer is scanned: scan size first, then file size, then file count. */
function overLimit(size: number, budget: LayerBudget, opts: ScanOptions): string | undefined {
  const maxScanSize = opts.maxScanSize ?? DEFAULT_LIMITS.maxScanSize;
  const maxFileSize = opts.maxFileSize ?? DEFAULT_LIMITS.maxFileSize;
  const maxFiles = opts.maxFiles ?? DEFAULT_LIMITS.maxFiles;
  if (maxScanSize > 0 && maxScanSize - budget.size < size) return LIMIT_NAMES.maxScanSize;
  if (maxFileSize > 0 && maxFileSize < size) return LIMIT_NAMES.maxFileSize;
  if (maxFiles > 0 && budget.files >= maxFiles) return LIMIT_NAMES.maxFiles;
  return undefined;
}

/** Whether a compiled body holds exactly these YARA atom entries (a cache from other rules or another version does not). */
export function compiledMatchesYara(body: BodyDatabase, yaraAtoms: readonly AtomSource[]): boolean {
  const count = yaraAtoms.reduce((n, a) => Math.max(n, a.part + 1), 0);
  return body.foreignCount === count && body.foreignDigest === BodyDatabase.foreignDigest(yaraAtoms);
}

/** The offset as written, enough to tell which matcher ClamAV would give a plain signature. */
function offsetText(o: OffsetSpec): string {
  switch (o.kind) {
    case 'any': return '*';
    case 'abs': return o.shift ? `${o.n},${o.shift}` : `${o.n}`;
    case 'eof': return o.shift ? `EOF-${o.n},${o.shift}` : `EOF-${o.n}`;
    case 'versionInfo': return 'VI';
    case 'macro': return `$${o.group}$`;
    default: return 'EP+0,1';
  }
}
