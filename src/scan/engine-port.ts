/**
 * The engine port: the one interface through which the command-line shells reach a signature engine.
 *
 * In: where the databases are (`LoadOptions`), then bytes plus per-scan options.
 * Out: a `LoadedEngine` (or rendered load diagnostics), then one `ScanResult` per buffer.
 *
 * Why a port rather than a direct import of the engine: the shell (tree walking, output, summary,
 * exit codes) is developed and tested against a fake engine with real hash semantics, and the real
 * loader is plugged in at one place (`loadEngine` in `src/cli/main.ts`). The port is deliberately
 * small and synchronous per buffer; parallelism is the shell's business, and an engine that can run
 * in worker threads says how to rebuild itself there (`parallel`), typically from a compiled
 * database in a SharedArrayBuffer so that workers share one copy.
 */

import type { ParseOptions, ScanLimits } from '../core/limits.js';
import type { UnpackOptions } from '../formats/unpack.js';
import type { ScanResult } from '../engine/result.js';

export interface LoadOptions {
  /** `-d` paths, files or directories, in command-line order; empty means the default database directory. */
  databases: string[];
  /** `--detect-pua`: load `PUA.*` signatures too. */
  detectPua: boolean;
  /** `--official-db-only`: load only signed (official) content. */
  officialOnly?: boolean;
}

/** Options for one scan call; built once per run by the shell. */
export interface ScanCallOptions {
  /** Name used in diagnostics and in layer paths; the path as the user sees it, or `stdin`. */
  name: string;
  limits: ScanLimits;
  /** `-z/--allmatch`: report every detection instead of stopping at the first. */
  allmatch: boolean;
  /** `--alert-exceeds-max`: turn the first limit hit into `Heuristics.Limits.Exceeded.<Name>`. */
  alertExceedsMax: boolean;
  /** Heuristic switches of the container readers (`--heuristic-alerts`, `--alert-encrypted*`, `--alert-macros`); defaults when absent. */
  unpack?: Partial<UnpackOptions>;
  /** `-a`: keep clamscan's archive chain for the result. */
  archiveVerbose?: boolean;
  /** `--scan-*`: which kinds of readers run; all when absent. */
  parse?: ParseOptions;
}

/**
 * What `scan` returns. `scannedBlocks` is optional: an engine that counts the bytes it feeds to its
 * matchers the way libclamav 1.4 does (whole 4096-byte blocks per 128 KiB window, every pass and
 * every layer) reports it here so that clamscan's "Data scanned" line matches exactly; otherwise the
 * shell uses `floor(bytesScanned / 4096)`.
 */
export type EngineScanResult = ScanResult & { scannedBlocks?: number };

/** How to rebuild an engine inside a worker thread. */
export interface ParallelSpec {
  /** URL (`file:`) or absolute path of an ES module that exports the factory below. */
  module: string;
  /** Name of the exported factory; default `createWorkerScanner`. */
  exportName?: string;
  /** Structured-cloneable payload handed to the factory; may contain SharedArrayBuffers. */
  init: unknown;
}

/** One unit of work sent to a worker: the file's bytes (transferred, not copied) and the scan options. */
export interface WorkerScanTask {
  bytes: Uint8Array;
  opts: ScanCallOptions;
}

/** The factory a `ParallelSpec.module` exports: payload in, per-task scan function out. */
export type WorkerScannerFactory = (
  init: unknown,
) => ((task: WorkerScanTask) => EngineScanResult) | Promise<(task: WorkerScanTask) => EngineScanResult>;

export interface LoadedEngine {
  /** Signatures loaded; clamscan's "Known viruses:". */
  knownSignatures: number;
  /** Printed verbatim on the summary's "Engine version:" line, e.g. `vigil-0.1.0`. */
  engineVersion: string;
  /** Scans one buffer. May throw on an internal failure; the shell reports `<path>: <message> ERROR`. */
  scan(bytes: Uint8Array, opts: ScanCallOptions): EngineScanResult;
  /**
   * Scans a large file by path without reading it whole (bounded memory). The shell uses it for
   * files above `streamAbove` bytes; absent means every file is read whole.
   */
  scanPath?(path: Buffer, size: number, opts: ScanCallOptions): EngineScanResult;
  streamAbove?: number;
  /** Present when the engine can be rebuilt in worker threads (`-j N`); absent means scan in-thread. */
  parallel?: ParallelSpec;
}

/**
 * Loads the databases. `engine` absent means the load failed (the shell exits 2 after the summary,
 * as clamscan does); `errors` are rendered diagnostics, printed one per line to stderr and the log
 * whether or not an engine came back.
 */
export type EngineLoader = (opts: LoadOptions) => Promise<{ engine?: LoadedEngine; errors: string[] }>;
