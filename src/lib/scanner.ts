/**
 * The library's scanner: databases in (as `vigil scan -d` takes them), a `Scanner` out whose
 * `scanFile`, `scanBuffer` and `scanStream` answer with a three-valued verdict.
 *
 * Fail-closed: a file a limit stopped (anywhere in its layers), a read error or an engine error is
 * `not-scanned` with its reason, never `clean`. A scanner is only made from a database that loaded
 * without error: `createScanner` rejects otherwise.
 *
 * Scans run on the calling thread (the engine is synchronous); `reload` builds the new database
 * first and swaps it in only once it loaded.
 */
import { readFile, stat } from 'node:fs/promises';
import { fstat as fstatCb } from 'node:fs';
import { readDescriptor } from '../core/descriptor.js';
import { promisify } from 'node:util';
import { DEFAULT_LIMITS, LIMIT_NAMES, type ParseOptions, type ScanLimits } from '../core/limits.js';
import type { UnpackOptions } from '../formats/unpack.js';
import { engineFromSet, loadErrors, loadWithCache, resolveLoad } from '../cli/engine-loader.js';
import { VERSION, CLAMAV_COMPAT } from '../cli/version.js';
import type { LoadedEngine, ScanCallOptions, EngineScanResult, WorkerScanTask } from '../scan/engine-port.js';
import { WorkerPool } from '../scan/pool.js';
import type { Detection, Verdict } from '../engine/result.js';
import type { ScanService, ServiceResult, ServiceScanOptions } from '../daemon/service.js';

export type { Detection, Verdict };

export interface ScannerOptions {
  /** Database files or directories (`.hdb .ndb .ldb .cvd .yar …`); default: the user's database directory plus the package's `db/`. */
  databases?: string[];
  /** Scan limits (ClamAV's names and defaults); unset ones keep their defaults. */
  limits?: Partial<ScanLimits>;
  /** Report every detection instead of stopping at the first (clamscan `--allmatch`). */
  allmatch?: boolean;
  /** Load `PUA.*` signatures too. */
  detectPua?: boolean;
  /** Use and write the compiled-database cache in `$VIGIL_HOME/cache` (default true, as `vigil scan`). */
  cache?: boolean;
  /**
   * Scan in this many worker threads sharing one compiled database (default 0: on the calling
   * thread, which the scan blocks). Files above the engine's streaming size are still scanned on the
   * calling thread, from their descriptor.
   */
  threads?: number;
  /** Heuristic switches of the container readers (clamscan's `--alert-*`, `--heuristic-alerts`…); ClamAV's defaults when absent. */
  unpack?: Partial<UnpackOptions>;
  /** Which kinds of readers run (clamscan's `--scan-*`); all when absent. */
  parse?: ParseOptions;
  /** Report the first limit a file hits as `Heuristics.Limits.Exceeded.<Limit>` (AlertExceedsMax). */
  alertExceedsMax?: boolean;
}

export interface PerScanOptions {
  /** Overrides the scanner's `allmatch` for this scan. */
  allmatch?: boolean;
  /** Name of the scanned object, echoed in the result (a path, an upload's file name). */
  name?: string;
  /**
   * `scanBuffer` only: the buffer's memory may move to a scanning thread instead of being copied
   * (when the view spans a whole, unshared ArrayBuffer). The caller must not use it afterwards: it
   * is detached once the scan starts in a worker.
   */
  transfer?: boolean;
}

export interface DatabaseInfo {
  /** Signatures loaded (clamscan's "Known viruses"). */
  signatures: number;
  /** The official daily database's version and build time (seconds since the epoch), when one is loaded. */
  daily?: { version: number; time: number };
  /** Each database file with the number of signatures it gave. */
  files: { path: string; kind: string; signatures: number }[];
  /** When this database was loaded (ISO 8601). */
  loadedAt: string;
}

export interface VersionInfo {
  /** vigil's engine version, e.g. `vigil-0.1.0`. */
  engine: string;
  /** The ClamAV release whose behaviour the engine follows. */
  clamavCompatible: string;
  database: DatabaseInfo;
  /** One line as clamd's VERSION reply carries it: `vigil 0.1.0/<daily>/<date>` (without a daily: `vigil 0.1.0`). */
  line: string;
}

export interface ScanReport {
  /** `clean` only when every layer was scanned and nothing matched. */
  verdict: Verdict;
  /** Why the scan is `not-scanned`: a limit's name (`MaxFileSize`, `MaxFiles (a.zip/b)`) or an error. */
  reason?: string;
  /** Every detection with its evidence (signature file and line, layer, offset, matched bytes). */
  detections: Detection[];
  /** Layers a limit stopped, with the limit's name. */
  limits?: { layer: string[]; limit: string }[];
  name?: string;
  /** Bytes of the object, and bytes fed to the matcher (all layers). */
  size: number;
  bytesScanned: number;
  durationMs: number;
  engine: string;
  database: { signatures: number; daily?: number };
}

/** Anything `scanStream` reads: a Node readable, a web stream, any async iterable of bytes. */
export type ByteSource = AsyncIterable<Uint8Array | string>;

export interface Scanner {
  scanBuffer(bytes: Uint8Array, opts?: PerScanOptions): Promise<ScanReport>;
  scanFile(path: string, opts?: PerScanOptions): Promise<ScanReport>;
  /**
   * The file behind an open descriptor, from offset 0 (its own offset is left alone; it stays the
   * caller's to close): what a process that may read a file but not open it can hand over (clamd's
   * FILDES). Not a regular file, or over the size limits: `not-scanned` with the reason.
   */
  scanDescriptor(fd: number, opts?: PerScanOptions): Promise<ScanReport>;
  /** Reads the stream into memory up to `limits.maxFileSize`; beyond it stops reading (and destroys a Node stream) and answers `not-scanned` (`MaxFileSize`). */
  scanStream(stream: ByteSource, opts?: PerScanOptions): Promise<ScanReport>;
  version(): VersionInfo;
  /** The scan limits in force. */
  readonly limits: Readonly<ScanLimits>;
  /** Loads the databases again and swaps them in; on a load error the old ones stay and it rejects. */
  reload(): Promise<void>;
  /** This scanner as the daemon's `ScanService` (clamd protocol, HTTP API). */
  service(): ScanService;
  /** Releases the database; later scans answer `not-scanned` (`scanner closed`). */
  close(): Promise<void>;
}

/** A loaded engine and what is known about its database. */
export interface LoadedDatabase {
  engine: LoadedEngine;
  info: DatabaseInfo;
}

/** Loads databases as `vigil scan` does (compiled cache, then parse); rejects with the load's error lines. */
export async function loadDatabase(opts: Pick<ScannerOptions, 'databases' | 'detectPua' | 'cache'> = {}): Promise<LoadedDatabase> {
  await Promise.resolve();
  const load = resolveLoad(opts.databases ?? [], opts.detectPua ?? false);
  const cache = opts.cache ?? true;
  const { set, indexes, body } = loadWithCache(load, { useCache: cache, writeCache: cache });
  if (!set.ok) throw new Error(`database load failed: ${loadErrors(set).join('; ')}`);
  const engine = engineFromSet(set, indexes, body);
  return {
    engine,
    info: {
      signatures: set.known,
      ...(set.daily ? { daily: { ...set.daily } } : {}),
      files: set.files.map((f) => ({ path: f.path, kind: f.kind, signatures: f.signatures })),
      loadedAt: new Date().toISOString(),
    },
  };
}

/** Loads the databases and returns a scanner over them. */
export async function createScanner(options: ScannerOptions = {}): Promise<Scanner> {
  const db = await loadDatabase(options);
  return scannerFromEngine(db, options, () => loadDatabase(options));
}

/**
 * A scanner over an engine already loaded (the daemon's, or a test's). `reloader` gives `reload`
 * its new database; without one `reload` rejects.
 */
export function scannerFromEngine(db: LoadedDatabase, options: Pick<ScannerOptions, 'limits' | 'allmatch' | 'threads' | 'unpack' | 'parse' | 'alertExceedsMax'> = {}, reloader?: () => Promise<LoadedDatabase>): Scanner {
  const limits: ScanLimits = Object.freeze({ ...DEFAULT_LIMITS, ...definedOnly(options.limits ?? {}) });
  let current: LoadedDatabase | undefined = db;
  const threads = Math.max(0, Math.floor(options.threads ?? 0));
  type Pool = WorkerPool<WorkerScanTask, EngineScanResult>;
  /** Each database's worker pool (started on first use); undefined when it cannot have one. */
  const pools = new Map<LoadedDatabase, Promise<Pool | undefined>>();
  const poolOf = (d: LoadedDatabase): Promise<Pool | undefined> => {
    let p = pools.get(d);
    if (!p) {
      const spec = threads > 0 ? d.engine.parallel : undefined;
      // A pool that cannot start leaves scanning on this thread (the verdicts are the same).
      p = spec ? WorkerPool.create<WorkerScanTask, EngineScanResult>({ module: spec.module, exportName: spec.exportName ?? 'createWorkerScanner', init: spec.init, size: threads }).catch(() => undefined) : Promise.resolve(undefined);
      pools.set(d, p);
    }
    return p;
  };
  const closePool = (d: LoadedDatabase): void => {
    const p = pools.get(d);
    pools.delete(d);
    void p?.then((pool) => pool?.close());
  };

  const callOpts = (name: string, allmatch: boolean): ScanCallOptions => ({
    name, limits, allmatch, alertExceedsMax: !!options.alertExceedsMax,
    ...(options.unpack ? { unpack: options.unpack } : {}), ...(options.parse ? { parse: options.parse } : {}),
  });

  /** A limit met before any scanning (the object's own size), as the CLI checks it. */
  const sizeLimit = (size: number): string | undefined => {
    if (limits.maxFileSize > 0 && size > limits.maxFileSize) return LIMIT_NAMES.maxFileSize;
    if (limits.maxScanSize > 0 && size > limits.maxScanSize) return LIMIT_NAMES.maxScanSize;
    return undefined;
  };

  const report = (d: LoadedDatabase | undefined, started: number, size: number, opts: PerScanOptions, fields: { verdict: Verdict; reason?: string; detections?: Detection[]; r?: EngineScanResult }): ScanReport => {
    const r = fields.r;
    const detections = fields.detections ?? r?.detections ?? [];
    let verdict = fields.verdict;
    let reason = fields.reason;
    // Detections decide; otherwise any layer a limit stopped makes the whole not-scanned.
    if (detections.length > 0) {
      verdict = 'infected';
      reason = undefined;
    } else if (verdict === 'clean' && r?.limits && r.limits.length > 0) {
      verdict = 'not-scanned';
      reason = r.limits.map((l) => `${l.limit}${l.layer.length > 0 ? ` (${l.layer.join('/')})` : ''}`).join(', ');
    } else if (verdict === 'infected') {
      verdict = 'not-scanned'; // an engine's "infected" without a detection is not trusted
      reason ??= 'infected without a detection';
    }
    return {
      verdict, ...(reason !== undefined ? { reason } : {}), detections,
      ...(r?.limits && r.limits.length > 0 ? { limits: r.limits.map((l) => ({ layer: [...l.layer], limit: l.limit })) } : {}),
      ...(opts.name !== undefined ? { name: opts.name } : {}),
      size, bytesScanned: r?.bytesScanned ?? 0, durationMs: Date.now() - started,
      engine: d?.engine.engineVersion ?? `vigil-${VERSION}`,
      database: { signatures: d?.info.signatures ?? 0, ...(d?.info.daily ? { daily: d.info.daily.version } : {}) },
    };
  };

  const runEngine = async (d: LoadedDatabase, started: number, size: number, opts: PerScanOptions, scan: (e: LoadedEngine, o: ScanCallOptions) => EngineScanResult | Promise<EngineScanResult>): Promise<ScanReport> => {
    try {
      const r = await scan(d.engine, callOpts(opts.name ?? 'stream', opts.allmatch ?? options.allmatch ?? false));
      if (!r || !Array.isArray(r.detections)) return report(d, started, size, opts, { verdict: 'not-scanned', reason: 'error: the engine gave no result' });
      return report(d, started, size, opts, { verdict: r.verdict, ...(r.reason !== undefined ? { reason: r.reason } : {}), r });
    } catch (e) {
      return report(d, started, size, opts, { verdict: 'not-scanned', reason: `error: ${e instanceof Error ? e.message : String(e)}` });
    }
  };

  const scanBuffer = async (bytes: Uint8Array, opts: PerScanOptions = {}): Promise<ScanReport> => {
    await Promise.resolve();
    const started = Date.now();
    const d = current;
    if (!d) return report(d, started, bytes.byteLength, opts, { verdict: 'not-scanned', reason: 'scanner closed' });
    const over = sizeLimit(bytes.byteLength);
    if (over) return report(d, started, bytes.byteLength, opts, { verdict: 'not-scanned', reason: over });
    const pool = await poolOf(d);
    // Without a transfer list the bytes are copied to the worker: the caller's buffer stays usable.
    const transfer = opts.transfer === true && movable(bytes) ? [bytes.buffer as ArrayBuffer] : [];
    return runEngine(d, started, bytes.byteLength, opts, (e, o) => (pool ? pool.run({ bytes, opts: o }, transfer) : e.scan(bytes, o)));
  };

  const scanDescriptor = async (fd: number, opts: PerScanOptions = {}): Promise<ScanReport> => {
    const started = Date.now();
    const d = current;
    if (!d) return report(d, started, 0, opts, { verdict: 'not-scanned', reason: 'scanner closed' });
    let size: number;
    try {
      const st = await fstatAsync(fd);
      if (!st.isFile()) return report(d, started, 0, opts, { verdict: 'not-scanned', reason: 'not a regular file' });
      size = st.size;
    } catch (e) {
      return report(d, started, 0, opts, { verdict: 'not-scanned', reason: `can't stat descriptor: ${errText(e)}` });
    }
    const over = sizeLimit(size);
    if (over) return report(d, started, size, opts, { verdict: 'not-scanned', reason: over });
    let bytes: Uint8Array;
    try {
      bytes = await readDescriptor(fd, size);
    } catch (e) {
      return report(d, started, size, opts, { verdict: 'not-scanned', reason: `can't read descriptor: ${errText(e)}` });
    }
    return scanBuffer(bytes, { ...opts, transfer: true });
  };

  const scanFile = async (path: string, opts: PerScanOptions = {}): Promise<ScanReport> => {
    const started = Date.now();
    const named = { ...opts, name: opts.name ?? path };
    const d = current;
    if (!d) return report(d, started, 0, named, { verdict: 'not-scanned', reason: 'scanner closed' });
    let size: number;
    try {
      const st = await stat(path);
      if (!st.isFile()) return report(d, started, 0, named, { verdict: 'not-scanned', reason: 'not a regular file' });
      size = st.size;
    } catch (e) {
      return report(d, started, 0, named, { verdict: 'not-scanned', reason: `can't open file: ${errText(e)}` });
    }
    const over = sizeLimit(size);
    if (over) return report(d, started, size, named, { verdict: 'not-scanned', reason: over });
    const engine = d.engine;
    if (engine.scanPath && size > (engine.streamAbove ?? Infinity)) {
      // Large files are streamed from the descriptor by the engine: memory stays bounded.
      return runEngine(d, started, size, named, (e, o) => e.scanPath!(Buffer.from(path), size, o));
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (e) {
      return report(d, started, size, named, { verdict: 'not-scanned', reason: `can't read file: ${errText(e)}` });
    }
    const pool = await poolOf(d);
    // The file's bytes are this call's own: they move to the worker rather than being copied.
    const transfer = movable(bytes) ? [bytes.buffer as ArrayBuffer] : [];
    return runEngine(d, started, bytes.byteLength, named, (e, o) => (pool ? pool.run({ bytes, opts: o }, transfer) : e.scan(bytes, o)));
  };

  const scanStream = async (stream: ByteSource, opts: PerScanOptions = {}): Promise<ScanReport> => {
    const started = Date.now();
    const cap = Math.min(...[limits.maxFileSize, limits.maxScanSize].filter((n) => n > 0), Number.MAX_SAFE_INTEGER);
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of stream) {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        size += b.byteLength;
        if (size > cap) {
          // Reading stops here (leaving the loop destroys a Node stream): the object is not scanned.
          return report(current, started, size, opts, { verdict: 'not-scanned', reason: sizeLimit(size) ?? LIMIT_NAMES.maxFileSize });
        }
        chunks.push(b);
      }
    } catch (e) {
      return report(current, started, size, opts, { verdict: 'not-scanned', reason: `read error: ${errText(e)}` });
    }
    return scanBuffer(Buffer.concat(chunks, size), opts);
  };

  const version = (): VersionInfo => {
    const d = current ?? db;
    const daily = d.info.daily;
    return {
      engine: d.engine.engineVersion, clamavCompatible: CLAMAV_COMPAT, database: { ...d.info, files: d.info.files.map((f) => ({ ...f })) },
      line: daily ? `vigil ${VERSION}/${daily.version}/${new Date(daily.time * 1000).toUTCString()}` : `vigil ${VERSION}`,
    };
  };

  const reload = async (): Promise<void> => {
    if (!reloader) throw new Error('this scanner has no database to reload from');
    if (!current) throw new Error('scanner closed');
    const next = await reloader();
    // The new database's worker threads are started before it is swapped in, so that no scan waits for them.
    await poolOf(next);
    if (!current) { closePool(next); throw new Error('scanner closed'); }
    const old = current;
    // New scans take the new database; those in flight finish on the old one (its pool closes once they have).
    current = next;
    closePool(old);
  };

  const scanner: Scanner = {
    scanBuffer, scanFile, scanDescriptor, scanStream, version, limits, reload,
    service: () => serviceOf(scanner),
    close: async () => {
      const d = current;
      current = undefined;
      const p = d ? pools.get(d) : undefined;
      if (d) pools.delete(d);
      await (await p)?.close();
    },
  };
  return scanner;
}

/** A scanner as the daemon's `ScanService`: detections keep their evidence (extra fields), the verdict and reason are the scanner's. */
export function serviceOf(scanner: Scanner): ScanService {
  const limitNames = new Set<string>(Object.values(LIMIT_NAMES));
  const toService = (r: ScanReport): ServiceResult & { detections: Detection[] } => {
    // Not scanned because of a limit (its name leads the reason), as opposed to an error.
    const limit = r.verdict === 'not-scanned' ? /^(\w+)/.exec(r.reason ?? '')?.[1] : undefined;
    return {
      verdict: r.verdict, detections: r.detections, ...(r.reason !== undefined ? { reason: r.reason } : {}),
      ...(limit !== undefined && limitNames.has(limit) ? { limit } : {}),
    };
  };
  return {
    version: () => scanner.version().line,
    scanBuffer: async (bytes: Uint8Array, opts?: ServiceScanOptions) => toService(await scanner.scanBuffer(bytes, {
      ...(opts?.allmatch !== undefined ? { allmatch: opts.allmatch } : {}), ...(opts?.transfer ? { transfer: true } : {}),
    })),
    scanPath: async (path: string, opts?: ServiceScanOptions) => toService(await scanner.scanFile(path, opts?.allmatch !== undefined ? { allmatch: opts.allmatch } : {})),
    scanFd: async (fd: number, opts?: ServiceScanOptions) => toService(await scanner.scanDescriptor(fd, opts?.allmatch !== undefined ? { allmatch: opts.allmatch } : {})),
    reload: () => scanner.reload(),
  };
}

const fstatAsync = promisify(fstatCb);

/** Whether a view is all of an ArrayBuffer that can be transferred (not shared, not a pool slab). */
function movable(bytes: Uint8Array): boolean {
  return bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.byteLength > 0;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function errText(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : e instanceof Error ? e.message : String(e);
}
