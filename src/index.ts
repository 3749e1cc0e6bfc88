/**
 * vigil as a library: `import { createScanner } from 'vigil'`.
 *
 * ```ts
 * const scanner = await createScanner();            // the user's database directory + the package's db/
 * const r = await scanner.scanFile('/tmp/upload');  // or scanBuffer(bytes), scanStream(readable)
 * if (r.verdict !== 'clean') reject(r.reason ?? r.detections[0]?.name);
 * ```
 *
 * createScanner(options?) → Promise<Scanner>; rejects when the databases do not load.
 *   options.databases  files or directories (`.hdb .hsb .ndb .ldb .cdb .fp .cvd .cld .yar …`);
 *                      default: `$VIGIL_HOME/db` when it exists, plus the package's `db/` (EICAR test signatures)
 *   options.limits     Partial<ScanLimits>: maxFileSize, maxScanSize, maxRecursion, maxFiles, maxScanTime…
 *                      (ClamAV's names and defaults: 100 MiB, 400 MiB, 17, 10000, 120 s)
 *   options.allmatch   report every detection; options.detectPua; options.cache (compiled cache, default true)
 *   options.threads    scan in N worker threads sharing one compiled database (default 0: the calling thread)
 *
 * Scanner
 *   scanBuffer(bytes, { name?, allmatch? })  → Promise<ScanReport>
 *   scanFile(path, …)                        → Promise<ScanReport> (large files streamed from disk)
 *   scanStream(asyncIterable | Readable, …)  → Promise<ScanReport> (read into memory up to MaxFileSize;
 *                                              beyond it, reading stops: `not-scanned`, reason `MaxFileSize`)
 *   version()  → { engine, clamavCompatible, database: { signatures, daily?, files, loadedAt }, line }
 *   reload()   → loads the databases again and swaps them in (the old ones stay on failure)
 *   service()  → the daemon's ScanService (clamd protocol and HTTP API front ends)
 *   close()
 *
 * ScanReport: { verdict: 'clean' | 'infected' | 'not-scanned', reason?, detections: Detection[], limits?,
 *   name?, size, bytesScanned, durationMs, engine, database: { signatures, daily? } }
 *   - never `clean` on an error, a read failure or a limit met in any layer: `not-scanned` with `reason`
 *     (`MaxFileSize`, `MaxFiles (a.zip/x)`, `error: …`, `can't open file: ENOENT`)
 *   - Detection: { name, kind, db?, line?, layer, offset?, matched? } — the signature's file and line,
 *     the layer path inside containers, the offset and matched bytes (hex) of body matches
 *
 * Upload middleware (422 with `{ error, verdict, reason?, detections, parts }` for an infected or
 * unscannable upload; a clean request continues with `req.vigil` set):
 *   expressUploadGuard(scanner, { maxBodySize?, status?, onResult? })  → (req, res, next)
 *   fastifyUploadGuard(scanner, …)                                      → async preHandler(request, reply)
 *   vigilFastifyPlugin                                                  → fastify.register(vigilFastifyPlugin, { scanner })
 *
 * HTTP API (what `vigil daemon --http HOST:PORT` serves):
 *   startHttpServer({ host, port, token?, maxBodySize?, service, versionDetails? }) → { port, metrics, close() }
 *   POST /v1/scan (raw or multipart), GET /v1/health, GET /v1/version, GET /metrics;
 *   a bearer token is required off loopback; bodies over maxBodySize get 413.
 */
export {
  createScanner, loadDatabase, scannerFromEngine, serviceOf,
  type ScannerOptions, type PerScanOptions, type Scanner, type ScanReport, type VersionInfo, type DatabaseInfo,
  type LoadedDatabase, type ByteSource, type Detection, type Verdict,
} from './lib/scanner.js';
export {
  expressUploadGuard, fastifyUploadGuard, vigilFastifyPlugin, scanUploads, rejection,
  type UploadGuardOptions, type UploadScan, type UploadScanner, type ExpressMiddleware, type ExpressLikeRequest, type ExpressNext,
  type MulterLikeFile, type FastifyPreHandler, type FastifyLikeRequest, type FastifyLikeReply, type FastifyLikeInstance,
} from './lib/middleware.js';
export { startHttpServer, isLoopback, parseHostPort, DEFAULT_MAX_BODY, type HttpServerOptions, type HttpServerHandle } from './http/server.js';
export { Metrics } from './http/metrics.js';
export { MultipartParser, MultipartError, multipartBoundary, type PartInfo } from './http/multipart.js';
export type { ScanLimits } from './core/limits.js';
export type { DetectionKind } from './engine/result.js';
export type { ScanService, ServiceResult, ServiceDetection, ServiceScanOptions } from './daemon/service.js';
