/**
 * Tests for the worker pool and the order-keeping map.
 *
 * This file is also the worker module of its own tests: it exports the factories the pool loads in
 * each worker, and registers tests only on the main thread.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isMainThread, threadId } from 'node:worker_threads';
import { WorkerPool, orderedMap } from './pool.js';

/** Factory: a handler that sums the bytes of a task, reading a multiplier from a shared table. */
export function createSummer(init: { table: SharedArrayBuffer }): (task: { bytes: Uint8Array; delayMs?: number }) => Promise<{ sum: number; thread: number; byteLength: number }> {
  const table = new Int32Array(init.table);
  return async (task) => {
    if (task.delayMs) await new Promise((r) => setTimeout(r, task.delayMs));
    Atomics.add(table, 1, 1); // count tasks in shared memory: every worker sees the same table
    let sum = 0;
    for (const b of task.bytes) sum += b;
    return { sum: sum * (table[0] ?? 0), thread: threadId, byteLength: task.bytes.byteLength };
  };
}

/** Factory: a handler that throws on demand or kills its worker. */
export function createFaulty(): (task: { mode: 'ok' | 'throw' | 'crash'; bytes?: Uint8Array }) => string {
  return (task) => {
    if (task.mode === 'throw') throw new Error('task failed on purpose');
    if (task.mode === 'crash') process.exit(3);
    return task.bytes ? `ok ${task.bytes.byteLength}` : 'ok';
  };
}

/** Factory that fails, to test initialisation errors. */
export function createBroken(): never {
  throw new Error('cannot initialise');
}

if (isMainThread) {
  describe('orderedMap', () => {
    it('orderedMap emits results in source order whatever order the work finishes in', async () => {
      const delays = [30, 5, 20, 1, 15, 0, 25, 2];
      const out: number[] = [];
      let maxRunning = 0;
      let running = 0;
      await orderedMap(
        delays,
        async (d, i) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await new Promise((r) => setTimeout(r, d));
          running--;
          return i;
        },
        (r) => { out.push(r); },
        { concurrency: 3 },
      );
      assert.deepEqual(out, [0, 1, 2, 3, 4, 5, 6, 7]);
      assert.equal(maxRunning, 3);
    });

    it('orderedMap with concurrency 1 runs strictly one item at a time', async () => {
      const log: string[] = [];
      async function* src(): AsyncGenerator<number> {
        for (let i = 0; i < 4; i++) { log.push(`pull ${i}`); yield i; }
      }
      await orderedMap(src(), async (i) => { log.push(`run ${i}`); await new Promise((r) => setTimeout(r, 1)); return i; }, (i) => { log.push(`emit ${i}`); }, { concurrency: 1, window: 1 });
      assert.deepEqual(log, ['pull 0', 'run 0', 'emit 0', 'pull 1', 'run 1', 'emit 1', 'pull 2', 'run 2', 'emit 2', 'pull 3', 'run 3', 'emit 3']);
    });

    it('orderedMap bounds the number of items started but not yet emitted by its window', async () => {
      let started = 0;
      let emitted = 0;
      let maxAhead = 0;
      await orderedMap(
        Array.from({ length: 50 }, (_, i) => i),
        async (i) => { started++; maxAhead = Math.max(maxAhead, started - emitted); await new Promise((r) => setTimeout(r, i % 3)); return i; },
        () => { emitted++; },
        { concurrency: 4, window: 6 },
      );
      assert.equal(emitted, 50);
      assert.ok(maxAhead <= 6, `maxAhead ${maxAhead}`);
    });

    it('orderedMap rejects with the first failing item in source order', async () => {
      const seen: number[] = [];
      await assert.rejects(
        orderedMap([0, 1, 2, 3], async (i) => { if (i === 2) throw new Error('boom 2'); if (i === 3) throw new Error('boom 3'); return i; }, (r) => { seen.push(r); }, { concurrency: 4 }),
        /boom 2/,
      );
      assert.deepEqual(seen, [0, 1]);
    });
  });

  describe('WorkerPool', () => {
    const self = new URL(import.meta.url);

    it('WorkerPool shares a SharedArrayBuffer from the init payload with every worker', async () => {
      const table = new SharedArrayBuffer(8);
      const view = new Int32Array(table);
      view[0] = 2;
      const pool = await WorkerPool.create<{ bytes: Uint8Array; delayMs?: number }, { sum: number; thread: number; byteLength: number }>({
        module: self, exportName: 'createSummer', init: { table }, size: 3,
      });
      try {
        const jobs = Array.from({ length: 12 }, (_, i) => new Uint8Array([i, 1, 1]));
        const results = await Promise.all(jobs.map((bytes, i) => pool.run({ bytes, delayMs: (i * 7) % 11 })));
        assert.deepEqual(results.map((r) => r.sum), jobs.map((_, i) => (i + 2) * 2));
        assert.equal(Atomics.load(view, 1), 12);
        assert.ok(new Set(results.map((r) => r.thread)).size > 1, 'tasks ran on more than one worker');
      } finally {
        await pool.close();
      }
    });

    it('WorkerPool moves transferred buffers instead of copying them', async () => {
      const table = new SharedArrayBuffer(8);
      new Int32Array(table)[0] = 1;
      const pool = await WorkerPool.create<{ bytes: Uint8Array }, { sum: number; byteLength: number }>({ module: self, exportName: 'createSummer', init: { table }, size: 1 });
      try {
        const bytes = new Uint8Array(1024).fill(1);
        const r = await pool.run({ bytes }, [bytes.buffer]);
        assert.equal(r.sum, 1024);
        assert.equal(r.byteLength, 1024);
        assert.equal(bytes.byteLength, 0, 'the sender no longer owns the buffer');
      } finally {
        await pool.close();
      }
    });

    it('WorkerPool rejects a task that throws and keeps the worker serving', async () => {
      const pool = await WorkerPool.create<{ mode: 'ok' | 'throw' | 'crash' }, string>({ module: self.href, exportName: 'createFaulty', init: null, size: 1 });
      try {
        await assert.rejects(pool.run({ mode: 'throw' }), /task failed on purpose/);
        assert.equal(await pool.run({ mode: 'ok' }), 'ok');
      } finally {
        await pool.close();
      }
    });

    it('WorkerPool replaces a crashed worker and fails only the task it was running', async () => {
      const pool = await WorkerPool.create<{ mode: 'ok' | 'throw' | 'crash' }, string>({ module: self, exportName: 'createFaulty', init: null, size: 2 });
      try {
        const crash = pool.run({ mode: 'crash' });
        await assert.rejects(crash, /exited|crashed/);
        const results = await Promise.all([pool.run({ mode: 'ok' }), pool.run({ mode: 'ok' }), pool.run({ mode: 'ok' })]);
        assert.deepEqual(results, ['ok', 'ok', 'ok']);
      } finally {
        await pool.close();
      }
    });

    it('WorkerPool fails, never runs empty, a task whose bytes had moved to a worker that died', async () => {
      const pool = await WorkerPool.create<{ mode: 'ok' | 'throw' | 'crash'; bytes?: Uint8Array }, string>({ module: self, exportName: 'createFaulty', init: null, size: 1 });
      try {
        const crash = pool.run({ mode: 'crash' });
        const bytes = new Uint8Array(1000).fill(7);
        const moved = pool.run({ mode: 'ok', bytes }, [bytes.buffer]);
        const copied = pool.run({ mode: 'ok', bytes: new Uint8Array(500) });
        await assert.rejects(crash, /exited/);
        assert.equal(bytes.byteLength, 0, 'the buffer was transferred');
        // Queued behind the crash on the same worker: it fails; a copied task runs again elsewhere.
        await assert.rejects(moved, /before running a task/);
        assert.equal(await copied, 'ok 500');
        assert.equal(await pool.run({ mode: 'ok' }), 'ok');
      } finally {
        await pool.close();
      }
    });

    it('WorkerPool.create reports a factory that fails', async () => {
      await assert.rejects(WorkerPool.create({ module: self, exportName: 'createBroken', init: null, size: 2 }), /cannot initialise/);
      await assert.rejects(WorkerPool.create({ module: self, exportName: 'noSuchExport', init: null, size: 1 }), /does not export/);
    });

    it('WorkerPool refuses a relative module path', async () => {
      await assert.rejects(WorkerPool.create({ module: 'relative/module.js', exportName: 'x', init: null, size: 1 }), /absolute path/);
    });
  });
}
