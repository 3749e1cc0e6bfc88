/**
 * A `ScanService` over the project's engine, in this thread: loads the ClamAV databases at the
 * given paths (files or directories), scans with `Engine.scan`/`Engine.scanFile`, reloads on
 * request. Scans run synchronously on the event loop; the daemon's worker-pool service replaces
 * this where throughput matters.
 */
import { statSync } from 'node:fs';
import { Engine } from '../../engine/engine.js';
import { pcreProblems } from '../../engine/pcre.js';
import { loadSignatures, type SignatureSet } from '../../signatures/clamav/loader.js';
import type { ScanResult } from '../../engine/result.js';
import type { ScanService, ServiceResult, ServiceScanOptions } from '../service.js';

export interface EngineServiceOptions {
  databases: string[];
  detectPua?: boolean;
  /** The ClamAV version the VERSION reply claims (the shell passes its `CLAMAV_COMPAT`). */
  clamavVersion?: string;
}

/** The ClamAV level vigil is compatible with (the shell's `CLAMAV_COMPAT`, which this layer may not import). */
export const DEFAULT_CLAMAV_VERSION = '1.4.6';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** C's `ctime()` without its newline, in local time: `Wed Jun 23 01:34:05 2021`, `Tue Jan  7 …`. */
export function ctime(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()] ?? ''} ${MONTHS[d.getMonth()] ?? ''} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

/** clamd's VERSION text for a loaded set: `ClamAV 1.4.6`, or `ClamAV 1.4.6/<daily>/<ctime>` with a daily database. */
export function versionText(set: SignatureSet, clamavVersion = DEFAULT_CLAMAV_VERSION): string {
  return set.daily ? `ClamAV ${clamavVersion}/${set.daily.version}/${ctime(set.daily.time)}` : `ClamAV ${clamavVersion}`;
}

function toService(r: ScanResult): ServiceResult {
  return {
    verdict: r.verdict,
    detections: r.detections.map((d) => ({ name: d.name, layer: d.layer })),
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
  };
}

export class EngineScanService implements ScanService {
  private engine: Engine;
  private set: SignatureSet;

  /** Throws when the databases do not load (the message lists the first errors). */
  constructor(private readonly opts: EngineServiceOptions) {
    const { set, engine } = EngineScanService.load(opts);
    this.set = set;
    this.engine = engine;
  }

  private static load(opts: EngineServiceOptions): { set: SignatureSet; engine: Engine } {
    const set = loadSignatures({ paths: opts.databases, detectPua: opts.detectPua ?? false, checkPcre: pcreProblems });
    if (!set.ok) {
      const errs = set.diagnostics.filter((d) => d.severity === 'error').slice(0, 3).map((d) => d.message);
      throw new Error(`database load failed: ${errs.join('; ')}`);
    }
    return { set, engine: new Engine(set) };
  }

  version(): string {
    return versionText(this.set, this.opts.clamavVersion);
  }

  scanBuffer(bytes: Uint8Array, opts: ServiceScanOptions = {}): Promise<ServiceResult> {
    try {
      return Promise.resolve(toService(this.engine.scan(bytes, { allmatch: opts.allmatch ?? false })));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  scanPath(path: string, opts: ServiceScanOptions = {}): Promise<ServiceResult> {
    try {
      const size = statSync(path).size;
      return Promise.resolve(toService(this.engine.scanFile(path, size, { allmatch: opts.allmatch ?? false })));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  reload(): Promise<void> {
    try {
      const { set, engine } = EngineScanService.load(this.opts);
      this.set = set;
      this.engine = engine;
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }
}
