/**
 * Parallel work for the shells: a worker-thread pool and an order-keeping concurrent map.
 *
 * In: for `WorkerPool`, a module (URL or absolute path) exporting a factory, an init payload for it
 * (structured-cloneable; SharedArrayBuffers inside it are shared with every worker, not copied),
 * and a pool size; then tasks (with an optional transfer list, so file bytes move without a copy).
 * For `orderedMap`, a source of items, an async function and a sink.
 * Out: each task's result as a promise; for `orderedMap`, the sink called once per item **in source
 * order**, whatever order the work finishes in.
 *
 * Why: `vigil scan -j N` must print exactly what a sequential run prints, line for line, while
 * reading and scanning several files at once. The pool knows nothing about ordering and the map
 * knows nothing about threads; together they give parallel work with deterministic output. A
 * worker that crashes fails only its current task and is replaced; a task that throws inside the
 * worker rejects with the worker's message and leaves the worker running.
 *
 * Worker side: this same file is the worker's entry point. It imports the module, calls
 * `factory(init)` once, and then answers one task at a time with `handler(task)`.
 */

import { Worker, isMainThread, parentPort, workerData, type TransferListItem } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { isAbsolute } from 'node:path';

const POOL_MARK = '__vigilWorkerPool';

export interface WorkerPoolOptions {
  /** A `file:` URL or an absolute path of an ES module exporting the factory. */
  module: string | URL;
  /** Name of the exported factory `(init) => handler | Promise<handler>`. */
  exportName: string;
  /** Handed to the factory in every worker. */
  init: unknown;
  /** Number of workers (at least 1). */
  size: number;
  /**
   * Jobs sent ahead to each worker (default 2). More when the thread that feeds the pool also
   * does long work of its own, during which it cannot answer a worker that ran dry.
   */
  jobsPerWorker?: number;
}

interface WorkerBoot {
  [POOL_MARK]: true;
  module: string;
  exportName: string;
  init: unknown;
}

type FromWorker =
  | { kind: 'ready' }
  | { kind: 'init-error'; message: string }
  | { kind: 'result'; id: number; value: unknown }
  | { kind: 'error'; id: number; message: string };

interface Job {
  id: number;
  task: unknown;
  transfer: readonly TransferListItem[];
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  /** Jobs sent to this worker, oldest (the one running) first. */
  jobs: Job[];
}

/**
 * Jobs sent ahead to each worker: while it runs one, the next is already in its message queue,
 * so it never idles for a round trip to the main thread between small tasks.
 */
const JOBS_PER_WORKER = 2;

/**
 * How to start a worker running this file. From compiled JavaScript, the file itself. From
 * TypeScript sources (development and `node --import tsx --test`), Node 20 does not apply the
 * parent's loader hooks inside workers, so a tiny bootstrap registers tsx's hooks first.
 */
function workerEntry(): { entry: URL | string; evalCode: boolean } {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return { entry: new URL(self), evalCode: false };
  let api: string | undefined;
  try {
    api = import.meta.resolve('tsx/esm/api');
  } catch {
    api = undefined;
  }
  const pre = api ? `const { register } = await import(${JSON.stringify(api)}); register();` : '';
  return { entry: `(async () => { ${pre} await import(${JSON.stringify(self)}); })();`, evalCode: true };
}

function moduleUrl(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (module.startsWith('file:')) return module;
  if (!isAbsolute(module)) throw new Error(`worker module must be a file: URL or an absolute path: ${module}`);
  return pathToFileURL(module).href;
}

/** A fixed-size pool of worker threads running one module's handler. */
export class WorkerPool<Task, Result> {
  private readonly slots: Slot[] = [];
  /** Every live worker, ready or still initialising, so that closing stops them all. */
  private readonly workers = new Set<Worker>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closing = false;
  private fatal: Error | undefined;

  private constructor(private readonly boot: WorkerBoot, readonly size: number, private readonly jobsPerWorker: number) {}

  /** Starts `size` workers and resolves once every one has run its factory. */
  static async create<Task, Result>(options: WorkerPoolOptions): Promise<WorkerPool<Task, Result>> {
    const size = Math.max(1, Math.floor(options.size));
    const boot: WorkerBoot = { [POOL_MARK]: true, module: moduleUrl(options.module), exportName: options.exportName, init: options.init };
    const pool = new WorkerPool<Task, Result>(boot, size, Math.max(1, Math.floor(options.jobsPerWorker ?? JOBS_PER_WORKER)));
    try {
      await Promise.all(Array.from({ length: size }, () => pool.spawn()));
    } catch (e) {
      await pool.terminateAll();
      throw e;
    }
    return pool;
  }

  /** Runs one task on the next free worker. Objects in `transfer` are moved to the worker. */
  run(task: Task, transfer: readonly TransferListItem[] = []): Promise<Result> {
    if (this.closing) return Promise.reject(new Error('worker pool is closed'));
    if (this.fatal) return Promise.reject(this.fatal);
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, transfer, resolve: resolve as (v: unknown) => void, reject });
      this.dispatch();
    });
  }

  /** Waits for queued and running tasks, then stops every worker. */
  async close(): Promise<void> {
    while (this.queue.length > 0 || this.slots.some((s) => s.jobs.length > 0)) {
      await new Promise((r) => setTimeout(r, 5));
      if (this.fatal) break;
    }
    this.closing = true;
    await this.terminateAll();
  }

  private async terminateAll(): Promise<void> {
    this.closing = true;
    this.slots.splice(0);
    const workers = [...this.workers];
    this.workers.clear();
    await Promise.all(workers.map((w) => w.terminate().catch(() => 0)));
  }

  private spawn(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const { entry, evalCode } = workerEntry();
      const worker = new Worker(entry, { eval: evalCode, workerData: this.boot });
      this.workers.add(worker);
      let ready = false;
      const slot: Slot = { worker, jobs: [] };
      worker.on('message', (msg: FromWorker) => {
        if (msg.kind === 'ready') {
          ready = true;
          if (this.closing) {
            this.workers.delete(worker);
            void worker.terminate();
            resolve();
            return;
          }
          this.slots.push(slot);
          resolve();
          this.dispatch();
        } else if (msg.kind === 'init-error') {
          reject(new Error(`worker initialisation failed: ${msg.message}`));
          void worker.terminate();
        } else {
          const at = slot.jobs.findIndex((j) => j.id === msg.id);
          if (at < 0) return;
          const job = slot.jobs.splice(at, 1)[0]!;
          if (msg.kind === 'result') job.resolve(msg.value);
          else job.reject(new Error(msg.message));
          this.dispatch();
        }
      });
      worker.on('error', (err) => {
        if (!ready) {
          reject(err);
          return;
        }
        // The running job fails; the ones sent after it go back to the queue.
        const [job, ...rest] = slot.jobs.splice(0);
        job?.reject(new Error(`worker crashed: ${err.message}`));
        this.queue.unshift(...rest);
      });
      worker.on('exit', () => {
        this.workers.delete(worker);
        if (!ready) {
          reject(new Error('worker exited during initialisation'));
          return;
        }
        const i = this.slots.indexOf(slot);
        if (i >= 0) this.slots.splice(i, 1);
        const [job, ...rest] = slot.jobs.splice(0);
        job?.reject(new Error('worker exited while running a task'));
        // Tasks whose memory moved to the dead worker cannot run again: they fail instead.
        for (const j of rest) if (j.transfer.length > 0) j.reject(new Error('worker exited before running a task'));
        this.queue.unshift(...rest.filter((j) => j.transfer.length === 0));
        if (!this.closing) {
          this.spawn().then(
            () => this.dispatch(),
            (e: unknown) => {
              this.fatal = e instanceof Error ? e : new Error(String(e));
              for (const j of this.queue.splice(0)) j.reject(this.fatal);
            },
          );
        }
      });
    });
  }

  private dispatch(): void {
    // Fill every worker to one job first, then to jobsPerWorker, so that work spreads evenly.
    for (let depth = 1; depth <= this.jobsPerWorker; depth++) {
      for (const slot of this.slots) {
        if (slot.jobs.length >= depth) continue;
        const job = this.queue.shift();
        if (!job) return;
        slot.jobs.push(job);
        try {
          slot.worker.postMessage({ id: job.id, task: job.task }, job.transfer as TransferListItem[]);
        } catch (e) {
          slot.jobs.pop();
          job.reject(e instanceof Error ? e : new Error(String(e)));
        }
      }
    }
  }
}

export interface OrderedMapOptions {
  /** Items whose `fn` may run at the same time. */
  concurrency: number;
  /** Items started but not yet handed to the sink (bounds memory); default `concurrency * 4`, at least `concurrency`. */
  window?: number;
}

/**
 * Calls `fn` on each item with up to `concurrency` calls in flight and hands the results to `sink`
 * in source order. A rejection from `fn` rejects the whole map when that item's turn comes; the
 * sink is awaited before the next item is emitted.
 */
export async function orderedMap<T, R>(
  source: Iterable<T> | AsyncIterable<T>,
  fn: (item: T, index: number) => R | Promise<R>,
  sink: (result: R, item: T, index: number) => void | Promise<void>,
  options: OrderedMapOptions,
): Promise<void> {
  const concurrency = Math.max(1, Math.floor(options.concurrency));
  const window = Math.max(concurrency, Math.floor(options.window ?? concurrency * 4));
  const iterator: AsyncIterator<T> | Iterator<T> =
    Symbol.asyncIterator in source ? (source as AsyncIterable<T>)[Symbol.asyncIterator]() : (source as Iterable<T>)[Symbol.iterator]();

  interface Pending { item: T; index: number; settled: boolean; ok: boolean; value: R | undefined; error: unknown; done: Promise<void> }
  const pending: Pending[] = [];
  let running = 0;
  let index = 0;
  let exhausted = false;
  let wake: () => void = () => undefined;
  let woken = new Promise<void>((r) => { wake = r; });
  const signal = (): void => {
    const w = wake;
    woken = new Promise<void>((r) => { wake = r; });
    w();
  };

  try {
    for (;;) {
      while (!exhausted && pending.length < window && running < concurrency) {
        const step = await iterator.next();
        if (step.done) { exhausted = true; break; }
        const entry: Pending = { item: step.value, index: index++, settled: false, ok: false, value: undefined, error: undefined, done: Promise.resolve() };
        running++;
        entry.done = (async () => {
          try {
            entry.value = await fn(entry.item, entry.index);
            entry.ok = true;
          } catch (e) {
            entry.error = e;
          } finally {
            entry.settled = true;
            running--;
            signal();
          }
        })();
        pending.push(entry);
      }
      const head = pending[0];
      if (!head) {
        if (exhausted) return;
        continue;
      }
      if (!head.settled) {
        const canStartMore = !exhausted && pending.length < window;
        await (canStartMore ? Promise.race([head.done, woken]) : head.done);
        continue;
      }
      pending.shift();
      if (!head.ok) throw head.error;
      await sink(head.value as R, head.item, head.index);
    }
  } finally {
    if (!exhausted) await iterator.return?.();
  }
}

// ---------------------------------------------------------------------------------------------
// Worker side

async function workerMain(boot: WorkerBoot): Promise<void> {
  const port = parentPort;
  if (!port) return;
  let handler: (task: unknown) => unknown;
  try {
    const mod = (await import(boot.module)) as Record<string, unknown>;
    const factory = mod[boot.exportName];
    if (typeof factory !== 'function') throw new Error(`${boot.module} does not export a function named ${boot.exportName}`);
    handler = (await (factory as (init: unknown) => unknown)(boot.init)) as (task: unknown) => unknown;
    if (typeof handler !== 'function') throw new Error(`${boot.exportName}() did not return a function`);
  } catch (e) {
    port.postMessage({ kind: 'init-error', message: e instanceof Error ? e.message : String(e) } satisfies FromWorker);
    return;
  }
  port.on('message', (msg: { id: number; task: unknown }) => {
    void (async () => {
      try {
        const value = await handler(msg.task);
        port.postMessage({ kind: 'result', id: msg.id, value } satisfies FromWorker);
      } catch (e) {
        port.postMessage({ kind: 'error', id: msg.id, message: e instanceof Error ? e.message : String(e) } satisfies FromWorker);
      }
    })();
  });
  port.postMessage({ kind: 'ready' } satisfies FromWorker);
}

if (!isMainThread && (workerData as Partial<WorkerBoot> | null)?.[POOL_MARK] === true) {
  void workerMain(workerData as WorkerBoot);
}
