/**
 * The real engine behind `vigil scan`: database paths → (compiled cache or parse) → Engine →
 * the shell's `LoadedEngine` port.
 *
 * The compiled cache lives in `$VIGIL_HOME/cache/<key>.vdb`, where the key hashes every source
 * file's path, size and modification time plus the load options; any change to a source makes a
 * new key, so a cache is only ever used when it is newer than (and made from) its sources.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderDiagnostic } from '../core/diagnostics.js';
import { compiledMatchesYara, Engine } from '../engine/engine.js';
import { YaraRules } from '../engine/yaraport.js';
import { pcreProblems } from '../engine/pcre.js';
import { CLAMAV_LOAD_ERROR } from '../signatures/clamav/hash.js';
import { CDB_LOAD_ERROR } from '../signatures/clamav/cdb.js';
import { deserializeDatabase, serializeDatabase } from '../engine/serialize.js';
import { HashIndexBuilder } from '../engine/hashindex.js';
import type { HashIndexes, ScanOptions } from '../engine/engine.js';
import type { BodyDatabase } from '../engine/bodydb.js';
import { isDbFile, loadSignatures, type SignatureSet } from '../signatures/clamav/loader.js';
import type { EngineLoader, LoadedEngine, ScanCallOptions } from '../scan/engine-port.js';
import { cacheDir, defaultDatabases, packagedDbDir } from './home.js';
import { VERSION } from './version.js';

export interface ResolvedLoad {
  paths: string[];
  detectPua: boolean;
  officialOnly: boolean;
}

/** The cache key of a load: every source file's identity and the options. */
export function cacheKey(load: ResolvedLoad): string {
  const h = createHash('sha256');
  h.update(`v1\0${VERSION}\0${load.detectPua}\0${load.officialOnly}\0`);
  for (const p of load.paths) {
    const abs = resolve(p);
    try {
      const st = statSync(abs);
      if (st.isDirectory()) {
        h.update(`D${abs}\0`);
        for (const n of readdirSync(abs).filter(isDbFile).sort()) {
          const s = statSync(join(abs, n));
          h.update(`${n}\0${s.size}\0${s.mtimeMs}\0`);
        }
      } else h.update(`F${abs}\0${st.size}\0${st.mtimeMs}\0`);
    } catch {
      h.update(`M${abs}\0`);
    }
  }
  return h.digest('hex').slice(0, 32);
}

export function resolveLoad(databases: string[], detectPua: boolean, officialOnly = false): ResolvedLoad {
  return { paths: databases.length > 0 ? databases : defaultDatabases(), detectPua, officialOnly };
}

/** Loads signatures, from the compiled cache when it is current; writes the cache after a parse. */
export function loadWithCache(load: ResolvedLoad, opts: { useCache: boolean; writeCache: boolean }): { set: SignatureSet; indexes: HashIndexes; body?: BodyDatabase; fromCache: boolean; cachePath: string } {
  const cachePath = join(cacheDir(), `${cacheKey(load)}.vdb`);
  if (opts.useCache) {
    try {
      const got = deserializeDatabase(readFileSync(cachePath));
      // A cache whose YARA atoms are not those of today's compilation (another version) is rebuilt.
      const yaraAtoms = got && got.set.yara.length > 0 ? YaraRules.for(got.set.yara).atoms() : [];
      if (got && compiledMatchesYara(got.body, yaraAtoms)) return { ...got, fromCache: true, cachePath };
    } catch { /* no cache yet */ }
  }
  // Hash signatures stream straight into the compact indexes: no object per signature.
  const file = new HashIndexBuilder();
  const allow = new HashIndexBuilder();
  const section = new HashIndexBuilder();
  const imports = new HashIndexBuilder();
  const ignored = new HashIndexBuilder(); // section and import hashes in allow lists: ClamAV has no such lists
  const set = loadSignatures({
    paths: load.paths, detectPua: load.detectPua, officialOnly: load.officialOnly, trustedPaths: [packagedDbDir()],
    checkPcre: pcreProblems,
    hashSink: (scope, isAllow) => (scope === 'section' ? (isAllow ? ignored : section) : scope === 'import' ? (isAllow ? ignored : imports) : isAllow ? allow : file),
  });
  const indexes = { file: file.build(), allow: allow.build(), section: section.build(), import: imports.build() };
  if (!set.ok) return { set, indexes, fromCache: false, cachePath };
  const body = new Engine(set, indexes).body;
  if (opts.writeCache) writeCache(cachePath, set, indexes, body);
  return { set, indexes, body, fromCache: false, cachePath };
}

export function writeCache(cachePath: string, set: SignatureSet, indexes: HashIndexes, body: BodyDatabase): boolean {
  try {
    mkdirSync(join(cachePath, '..'), { recursive: true });
    const tmp = `${cachePath}.${process.pid}.tmp`;
    writeFileSync(tmp, serializeDatabase(set, indexes, body));
    renameSync(tmp, cachePath);
    return true;
  } catch {
    return false; // a cache is an optimisation: failing to write one is not an error
  }
}

/** Error lines as clamscan prints them, preceded by our detailed diagnostics. */
export function loadErrors(set: SignatureSet): string[] {
  const lines = set.diagnostics.map(renderDiagnostic);
  const first = set.diagnostics.find((d) => d.severity === 'error');
  if (first) {
    // clamscan prints the cl_strerror() text of the first failure's return code.
    const text = first.code === 'clamav.db.open' ? "Can't open file or directory" : LOAD_ERROR_TEXT[first.code] ?? 'Malformed database';
    lines.push(`ERROR: ${text}`);
  }
  return lines;
}

const LOAD_ERROR_TEXT: Readonly<Record<string, string>> = { ...CLAMAV_LOAD_ERROR, ...CDB_LOAD_ERROR };

export function engineFromSet(set: SignatureSet, indexes?: HashIndexes, body?: BodyDatabase): LoadedEngine {
  const engine = new Engine(set, indexes, body);
  let shared: SharedArrayBuffer | undefined;
  const ix = indexes ?? { file: engine.hashIndex, allow: engine.allowIndex, ...(engine.sectionIndex ? { section: engine.sectionIndex } : {}), ...(engine.importIndex ? { import: engine.importIndex } : {}) };
  return {
    knownSignatures: set.known,
    engineVersion: `vigil-${VERSION}`,
    scan(bytes: Uint8Array, opts: ScanCallOptions) {
      return engine.scan(bytes, { allmatch: opts.allmatch, ...engineLimits(opts) });
    },
    scanPath(path: Buffer, size: number, opts: ScanCallOptions) {
      return engine.scanFile(path, size, { allmatch: opts.allmatch, ...engineLimits(opts) });
    },
    streamAbove: engine.streamAbove,
    // Workers get the compiled database once, in shared memory (built on first use).
    get parallel() {
      if (!shared) {
        const bytes = serializeDatabase(set, ix, engine.body);
        shared = new SharedArrayBuffer(bytes.length);
        new Uint8Array(shared).set(bytes);
      }
      return { module: new URL('./scan-worker.js', import.meta.url).href, exportName: 'createWorkerScanner', init: { database: shared } };
    },
  };
}

export const realEngineLoader: EngineLoader = async (opts) => {
  const load = resolveLoad(opts.databases, opts.detectPua, opts.officialOnly ?? false);
  const { set, indexes, body } = loadWithCache(load, { useCache: true, writeCache: true });
  const errors = loadErrors(set);
  if (!set.ok) return { errors };
  return { engine: engineFromSet(set, indexes, body), errors };
};

/** The limits the engine applies inside a file (containers), from the scan's options. */
export function engineLimits(opts: ScanCallOptions): Pick<ScanOptions, 'maxRecursion' | 'maxFileSize' | 'maxScanSize' | 'maxFiles' | 'maxEmbeddedPE' | 'maxScanTime' | 'maxHtmlNormalize' | 'maxHtmlNoTags' | 'maxScriptNormalize' | 'alertExceedsMax' | 'unpack' | 'archiveVerbose' | 'parse'> {
  return {
    maxRecursion: opts.limits.maxRecursion, maxFileSize: opts.limits.maxFileSize, maxScanSize: opts.limits.maxScanSize, maxFiles: opts.limits.maxFiles,
    maxEmbeddedPE: opts.limits.maxEmbeddedPE, maxScanTime: opts.limits.maxScanTime,
    maxHtmlNormalize: opts.limits.maxHtmlNormalize, maxHtmlNoTags: opts.limits.maxHtmlNoTags, maxScriptNormalize: opts.limits.maxScriptNormalize,
    alertExceedsMax: opts.alertExceedsMax, ...(opts.unpack ? { unpack: opts.unpack } : {}), ...(opts.archiveVerbose ? { archiveVerbose: true } : {}),
    ...(opts.parse && Object.values(opts.parse).includes(false) ? { parse: opts.parse } : {}),
  };
}
