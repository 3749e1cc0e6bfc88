/**
 * The worker side of `vigil scan -j N`: each worker thread rebuilds the engine from the compiled
 * database the main thread hands over in a SharedArrayBuffer. The hash index — by far the largest
 * part with a full ClamAV database — is used in place as views into that shared memory, so the
 * workers share one copy; the body and logical signatures are rebuilt per worker from the same
 * bytes (their matchers are small).
 */
import { Engine } from '../engine/engine.js';
import { deserializeDatabase } from '../engine/serialize.js';
import { engineLimits } from './engine-loader.js';
import type { EngineScanResult, WorkerScanTask } from '../scan/engine-port.js';

export interface ScanWorkerInit {
  database: SharedArrayBuffer;
}

export function createWorkerScanner(init: unknown): (task: WorkerScanTask) => EngineScanResult {
  const { database } = init as ScanWorkerInit;
  const got = deserializeDatabase(new Uint8Array(database));
  if (!got) throw new Error('the compiled database handed to the worker is damaged');
  const engine = new Engine(got.set, got.indexes, got.body);
  return (task) => engine.scan(task.bytes, { allmatch: task.opts.allmatch, ...engineLimits(task.opts) });
}
