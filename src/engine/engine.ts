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
import { DEFAULT_LIMITS, ENGINE_LIMITS, LIMIT_NAMES } from '../core/limits.js';
import type { SignatureSet } from '../signatures/clamav/loader.js';
import type { HashAlgo, OffsetSpec } from '../signatures/clamav/types.js';
import { usesBoyerMoore } from '../signatures/clamav/bodysig.js';
import { BodyDatabase } from './bodydb.js';
import { scanLayerCounted, wholeSource, type Source, type EnginePorts, type HashHit, type HashPort, type TypeInfo } from './scanner.js';
import type { Detection, ScanResult } from './result.js';
import { detectFileType, matchTypeSignatures, scanPasses } from '../formats/filetype.js';
import { normaliseText, scriptScanBlocks, scriptNormalisationApplies } from './textnorm.js';
import { SCAN_WINDOW } from './scanner.js';
import { LogicalSignatures } from './logical.js';
import { HashIndex, HashIndexBuilder } from './hashindex.js';
import { YaraRules } from './yaraport.js';
import { gunzipLayer } from '../formats/gzip.js';
import { tarLayers } from '../formats/untar.js';
import { extractEntry, extractLocalEntry, readZip } from '../formats/zip.js';
import type { AtomSource } from './atoms.js';

/** Layers this small are never scanned, as in ClamAV. */
const TINY_FILE = 5;
/** The signature of a ZIP local file header. */
const ZIP_LOCAL = Buffer.from('PK\x03\x04', 'latin1');
/** Types ClamAV does not search for embedded files (archives it opens itself). */
const NO_EMBEDDED_SCAN = new Set(['CL_TYPE_GZ', 'CL_TYPE_ZIP', 'CL_TYPE_ZIPSFX', 'CL_TYPE_ARJSFX', 'CL_TYPE_RARSFX', 'CL_TYPE_EGGSFX', 'CL_TYPE_CABSFX', 'CL_TYPE_7ZSFX', 'CL_TYPE_OLD_TAR', 'CL_TYPE_POSIX_TAR', 'CL_TYPE_CPIO_OLD']);

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
}

/** Builds the indexes from hashes a loader collected as objects. */
export function indexesFromSet(set: SignatureSet): HashIndexes {
  const file = new HashIndexBuilder();
  const allow = new HashIndexBuilder();
  for (const h of set.hashes) {
    if (h.scope !== 'file') continue;
    const b = h.allow ? allow : file;
    b.beginFile(h.db);
    b.add(h.algo, h.hash, h.size, b.internName(h.name), h.line);
  }
  return { file: file.build(), allow: allow.build() };
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
  /** `scanFile`: stream files larger than this many bytes (default `ENGINE_LIMITS.wholeFileRead`). */
  streamAbove?: number;
}

export class Engine {
  readonly ports: EnginePorts;
  readonly known: number;
  private readonly allow: HashIndex;
  readonly hashIndex: HashIndex;

  readonly body: BodyDatabase;
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
    this.known = set.known;
    this.ports = {
      body,
      ...(indexes.file.count > 0 ? { hashes: new IndexPort(indexes.file) } : {}),
      logical,
      typeOf: (bytes: Uint8Array, known?: string): TypeInfo => {
        const type = known ?? detectFileType(bytes);
        // For text, the raw pass's own type search over the whole layer may find HTML or mail.
        const found = type === 'CL_TYPE_TEXT_ASCII' ? matchTypeSignatures(bytes, type) : undefined;
        let passes = scanPasses(type, found);
        if (!scriptNormalisationApplies(bytes.length)) passes = passes.filter((p) => p.input !== 'normalised-text');
        return { type, passes };
      },
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

  private scanSource(src: Source, opts: ScanOptions, depth = 0, budget: LayerBudget = { files: 0, size: 0 }): ScanResult & { scannedBlocks: number } {
    // ClamAV does not look at files of 5 bytes or fewer at all (no hash, no pattern).
    if (src.size <= TINY_FILE) return { verdict: 'clean', detections: [], bytesScanned: 0, scannedBlocks: 0 };
    // Each layer counts against the file's limits before it is scanned (ClamAV's cli_updatelimits).
    const hit = overLimit(src.size, budget, opts);
    if (hit) return { verdict: 'clean', detections: [], bytesScanned: 0, scannedBlocks: 0 };
    budget.files++;
    budget.size += src.size;
    return this.scanLayers(src, opts, depth, budget);
  }

  private scanLayers(src: Source, opts: ScanOptions, depth: number, budget: LayerBudget): ScanResult & { scannedBlocks: number } {
    // Containers are opened first and their layers scanned, then the container's own bytes (ClamAV's order).
    // The layer's type, detected once for the container checks and the scan passes.
    const detected = src.whole ? detectFileType(src.whole) : undefined;
    const type = src.whole && src.whole[0] === 0x1f && src.whole[1] === 0x8b ? 'CL_TYPE_GZ' : detected;
    const inner = src.whole && type ? this.scanContainer(src.whole, type, opts, depth, budget) : undefined;
    if (inner && inner.detections.length > 0 && !opts.allmatch) return inner;
    const scan = scanLayerCounted(this.ports, src, { allmatch: !!opts.allmatch, layer: opts.layer ?? [], ...(detected ? { type: detected } : {}) });
    // ZIP entries found inside other data (self-extractors), after the layer's own bytes.
    const embedded = src.whole && type && !inner && (opts.allmatch || scan.detections.length === 0) ? this.scanEmbeddedZips(src.whole, type, opts, depth, budget) : undefined;
    const detections: Detection[] = [...(inner?.detections ?? []), ...scan.detections, ...(embedded?.detections ?? [])];
    const innerBytes = (inner?.bytesScanned ?? 0) + (embedded?.bytesScanned ?? 0);
    const innerBlocks = (inner?.scannedBlocks ?? 0) + (embedded?.scannedBlocks ?? 0);
    if (scan.detections.length > 0 && this.allow.count > 0 && this.allowed(src)) {
      return { verdict: detections.length > scan.detections.length ? 'infected' : 'clean', detections: inner?.detections ?? [], bytesScanned: src.size + innerBytes, scannedBlocks: scan.scannedBlocks + innerBlocks };
    }
    return { verdict: detections.length > 0 ? 'infected' : 'clean', detections, bytesScanned: src.size + innerBytes, scannedBlocks: scan.scannedBlocks + innerBlocks };
  }

  /**
   * ClamAV's "embedded ZIP" scan: in a layer that is not itself an archive, every `PK\3\4` starts
   * a ZIP entry read from its local header alone, scanned as a layer of its own; undefined when no
   * entry could be read.
   */
  private scanEmbeddedZips(bytes: Uint8Array, type: string, opts: ScanOptions, depth: number, budget: LayerBudget): LayerResult | undefined {
    if (NO_EMBEDDED_SCAN.has(type) || !this.belowRecursionLimit(opts, depth)) return undefined;
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const maxFileSize = opts.maxFileSize ?? DEFAULT_LIMITS.maxFileSize;
    function* entries(): Generator<{ name: string; data: Uint8Array }> {
      for (let at = buf.indexOf(ZIP_LOCAL); at !== -1; at = buf.indexOf(ZIP_LOCAL, at + 1)) {
        const data = extractLocalEntry(bytes, at, maxFileSize);
        if (data) yield { name: `zip@${at}`, data };
      }
    }
    const r = this.scanChildren(entries(), opts, depth, budget);
    return r.count > 0 ? r.result : undefined;
  }

  /** The layers inside a container (gzip, tar, zip), scanned; undefined when the layer is not one. */
  private scanContainer(bytes: Uint8Array, type: string, opts: ScanOptions, depth: number, budget: LayerBudget): LayerResult | undefined {
    if (type !== 'CL_TYPE_GZ' && type !== 'CL_TYPE_POSIX_TAR' && type !== 'CL_TYPE_OLD_TAR' && type !== 'CL_TYPE_ZIP') return undefined;
    if (!this.belowRecursionLimit(opts, depth)) return undefined;
    const maxFileSize = opts.maxFileSize ?? DEFAULT_LIMITS.maxFileSize;
    let children: { name: string; data: Uint8Array }[];
    if (type === 'CL_TYPE_GZ') {
      const out = gunzipLayer(bytes, maxFileSize);
      if (!('data' in out)) return undefined;
      children = [{ name: 'gzip', data: out.data }];
    } else if (type === 'CL_TYPE_ZIP') {
      children = zipLayers(bytes, maxFileSize);
    } else {
      children = tarLayers(bytes, type === 'CL_TYPE_POSIX_TAR').map((data, k) => ({ name: `tar${String(k).padStart(2, '0')}`, data }));
    }
    return this.scanChildren(children, opts, depth, budget).result;
  }

  /** A layer at the recursion limit is not scanned at all (ClamAV refuses to push it). */
  private belowRecursionLimit(opts: ScanOptions, depth: number): boolean {
    return depth + 1 < (opts.maxRecursion ?? DEFAULT_LIMITS.maxRecursion);
  }

  /** Scans child layers in order (the first detection ends it unless allmatch); `count` is how many were taken. */
  private scanChildren(children: Iterable<{ name: string; data: Uint8Array }>, opts: ScanOptions, depth: number, budget: LayerBudget): { result: LayerResult; count: number } {
    const detections: Detection[] = [];
    let bytesScanned = 0, scannedBlocks = 0, count = 0;
    for (const child of children) {
      count++;
      const r = this.scanSource(wholeSource(child.data), { ...opts, layer: [...(opts.layer ?? []), child.name] }, depth + 1, budget);
      detections.push(...r.detections);
      bytesScanned += r.bytesScanned;
      scannedBlocks += r.scannedBlocks;
      if (detections.length > 0 && !opts.allmatch) break;
    }
    return { result: { verdict: detections.length > 0 ? 'infected' : 'clean', detections, bytesScanned, scannedBlocks }, count };
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

/** A layer's scan result with ClamAV's count of scanned blocks. */
type LayerResult = ScanResult & { scannedBlocks: number };

/** What the layers of one file have used of its limits. */
interface LayerBudget { files: number; size: number }

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

/**
 * The files of a ZIP as ClamAV's unzip gives them: the central directory's entries in the order of
 * their local headers, a repeated entry (same header, same size) once, directories, encrypted
 * entries and methods other than stored and deflate left out. ClamAV takes the directory's offsets
 * as written: an archive whose offsets only work shifted (bytes prepended) gives nothing here, and
 * without a central directory nothing is extracted (ClamAV's walk of local headers does not run
 * then); such files are reached through the embedded-ZIP scan instead.
 */
function zipLayers(bytes: Uint8Array, maxFileSize: number): { name: string; data: Uint8Array }[] {
  const listing = readZip(bytes, { maxFiles: DEFAULT_LIMITS.maxFiles }, { localScan: 'never' });
  if (listing.prefixBytes > 0) return [];
  const entries = listing.entries.filter((e) => e.source === 'central').sort((x, y) => x.localHeaderOffset - y.localHeaderOffset);
  const out: { name: string; data: Uint8Array }[] = [];
  let prev: (typeof entries)[number] | undefined;
  for (const e of entries) {
    const duplicate = prev && prev.localHeaderOffset === e.localHeaderOffset && prev.compressedSize === e.compressedSize;
    prev = e;
    if (duplicate || e.encrypted || e.isDirectory) continue;
    const r = extractEntry(bytes, e, { maxEntrySize: maxFileSize });
    const data = 'data' in r ? r.data : r.data;
    if (data) out.push({ name: e.name.text, data });
  }
  return out;
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
