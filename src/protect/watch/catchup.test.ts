/**
 * Restarts: what changed while the watcher was down is scanned at the next start (snapshot), what
 * was seen but not yet scanned at stop is too (pending list), a damaged state file does not keep the
 * watcher from starting, and the periodic checkpoint writes the state `vigil status` reads.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Scanner } from '../../lib/scanner.js';
import type { FileEvent } from '../types.js';
import { Watcher, type WatchReport } from './watcher.js';
import { readAllStates, statePath } from './state.js';
import { EICAR, RecordingSink, eicarScanner, sleep, until } from './testkit.js';

let base: string;
let scanner: Scanner;

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'vigil-watch-catchup-'));
  scanner = await eicarScanner(join(base, 'db'));
});

after(async () => {
  await scanner.close();
  rmSync(base, { recursive: true, force: true });
});

test('catch-up: EICAR dropped in while the watcher was stopped is quarantined at the next start', { timeout: 30_000 }, async (t) => {
  const root = join(base, 'c1', 'tree');
  const state = join(base, 'c1', 'state');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'sub', 'doc.txt'), 'a clean document\n');
  writeFileSync(join(root, 'gone.txt'), 'removed while down\n');
  const sink = new RecordingSink(join(base, 'c1', 'vault'));
  const mk = (reports: WatchReport[]) => new Watcher({ roots: [root], scanner, stateDir: state, sink, checkpointMs: 0, onReport: (r) => reports.push(r) });
  const w1 = mk([]);
  await w1.start();
  await sleep(100);
  await w1.stop();
  // While down: a new infected file, a clean file overwritten with EICAR, a new directory with one inside, a deletion.
  const newFile = join(root, 'dropped.com');
  writeFileSync(newFile, EICAR);
  await sleep(20);
  writeFileSync(join(root, 'sub', 'doc.txt'), EICAR);
  mkdirSync(join(root, 'newdir', 'deeper'), { recursive: true });
  writeFileSync(join(root, 'newdir', 'deeper', 'x.com'), EICAR);
  unlinkSync(join(root, 'gone.txt'));
  const reports: WatchReport[] = [];
  const events: FileEvent[] = [];
  const w2 = mk(reports);
  w2.onEvent((e) => events.push(e));
  const t0 = Date.now();
  await w2.start();
  try {
    for (const p of [newFile, join(root, 'sub', 'doc.txt'), join(root, 'newdir', 'deeper', 'x.com')]) await sink.waitFor(p, 3000);
    t.diagnostic(`catch-up: 3 infected files changed while down quarantined ${Date.now() - t0} ms after start`);
    await until(() => events.find((e) => e.type === 'delete' && e.path === join(root, 'gone.txt')), 2000, 'delete event');
    assert.ok(reports.filter((r) => r.action === 'quarantined').every((r) => r.catchUp === true));
    const docReport = reports.find((r) => r.path === join(root, 'sub', 'doc.txt'));
    assert.equal(docReport?.event, 'update');
    assert.equal(sink.calls.length, 3);
  } finally {
    await w2.stop();
  }
});

test('catch-up: a file seen but not yet scanned at stop is scanned at the next start', { timeout: 30_000 }, async () => {
  const root = join(base, 'c2', 'tree');
  const state = join(base, 'c2', 'state');
  mkdirSync(root, { recursive: true });
  const sink = new RecordingSink(join(base, 'c2', 'vault'));
  // A long settle interval: the file is still settling when the watcher stops.
  const w1 = new Watcher({ roots: [root], scanner, stateDir: state, sink, checkpointMs: 0, settleMs: 5000 });
  await w1.start();
  const p = join(root, 'late.com');
  writeFileSync(p, EICAR);
  await until(() => w1.stats().settling > 0, 2000, 'the event');
  await w1.stop();
  assert.equal(sink.calls.length, 0);
  const st = readAllStates(state);
  assert.deepEqual(st.states[0]?.pending, [p]);
  assert.equal(st.states[0]?.running, false);
  const w2 = new Watcher({ roots: [root], scanner, stateDir: state, sink, checkpointMs: 0 });
  await w2.start();
  try {
    await sink.waitFor(p, 2000);
    await sleep(100);
    await w2.idle(); // the deletion the quarantine caused has settled too
  } finally {
    await w2.stop();
  }
  assert.deepEqual(readAllStates(state).states[0]?.pending, []);
});

test('a damaged state file is reported and replaced; the periodic checkpoint writes the state', { timeout: 30_000 }, async () => {
  const root = join(base, 'c3', 'tree');
  const state = join(base, 'c3', 'state');
  mkdirSync(root, { recursive: true });
  mkdirSync(state, { recursive: true });
  const sink = new RecordingSink(join(base, 'c3', 'vault'));
  const { realpathSync } = await import('node:fs');
  writeFileSync(statePath(state, realpathSync(root)), '{"version":1,"root":');
  const errors: Error[] = [];
  const w = new Watcher({ roots: [root], scanner, stateDir: state, sink, checkpointMs: 150, onError: (e) => errors.push(e) });
  await w.start();
  try {
    assert.match(errors[0]?.message ?? '', /watch state unreadable, starting afresh: .*\.json: /);
    writeFileSync(join(root, 'a.txt'), 'x');
    writeFileSync(join(root, 'b.com'), EICAR);
    await sink.waitFor(join(root, 'b.com'), 2000);
    await sleep(400);
    const s = readAllStates(state);
    assert.deepEqual(s.errors, []);
    const r = s.states[0]!;
    assert.equal(r.root, realpathSync(root));
    assert.equal(r.running, true);
    assert.equal(r.pid, process.pid);
    assert.ok(r.eventsSeen >= 2, `eventsSeen ${r.eventsSeen}`);
    assert.ok(r.scanned >= 2);
    assert.equal(r.infected, 1);
    assert.ok(r.snapshot && existsSync(join(state, r.snapshot)));
    assert.ok(r.lastScan?.path);
    assert.ok(JSON.parse(readFileSync(statePath(state, r.root), 'utf8')));
  } finally {
    await w.stop();
  }
});

test('a second watcher on a root another live process watches refuses to start', { timeout: 30_000 }, async () => {
  const root = join(base, 'c4', 'tree');
  const state = join(base, 'c4', 'state');
  mkdirSync(root, { recursive: true });
  mkdirSync(state, { recursive: true });
  const { realpathSync } = await import('node:fs');
  const real = realpathSync(root);
  const live = process.ppid; // a live process that is not this one
  writeFileSync(statePath(state, real), JSON.stringify({ version: 1, root: real, since: new Date().toISOString(), pid: live, running: true, updatedAt: new Date().toISOString(), eventsSeen: 0, scanned: 0, infected: 0, pending: [] }));
  const w = new Watcher({ roots: [root], scanner, stateDir: state, action: 'report', checkpointMs: 0 });
  await assert.rejects(w.start(), new RegExp(`already watched by process ${live}`));
  // Once that process has stopped watching (running: false), the root can be watched again.
  writeFileSync(statePath(state, real), JSON.stringify({ version: 1, root: real, since: new Date().toISOString(), pid: live, running: false, updatedAt: new Date().toISOString(), eventsSeen: 0, scanned: 0, infected: 0, pending: [] }));
  await w.start();
  await w.stop();
});
