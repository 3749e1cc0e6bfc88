/**
 * The shield against the ransomware simulator running as a separate process over 1,000 mixed
 * documents (in place and into `.locked` copies, whole-file and intermittent), against a canary
 * touch alone, and the process-side pieces (finding a writer in /proc, never signalling PID 1,
 * this process or its parent, fatrace lines).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Shield, type AlertRecord, type ShieldAction } from './shield.js';
import { spawnSimulator, NOTE_NAME, type SimulatorOptions } from './simulator.js';
import { changedSince, hashTree, makeDocuments } from './testdocs.js';
import { parseFatraceLine, processState, scanProcesses, signalProcess } from './process.js';

const base = mkdtempSync(join(tmpdir(), 'vigil-shield-'));
const template = join(base, 'template');
const t0 = performance.now();
makeDocuments(template, 1000, { seed: 7, dirs: 20 });
const originals = hashTree(template);
const generateMs = performance.now() - t0;
test.after(() => rmSync(base, { recursive: true, force: true }));

const linux = process.platform === 'linux';

function waitAlert(shield: Shield, pred: (a: AlertRecord) => boolean, ms: number): Promise<AlertRecord | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    shield.onAlert((a) => {
      if (pred(a)) {
        clearTimeout(timer);
        resolve(a);
      }
    });
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

interface RunResult { alert: AlertRecord | null; encrypted: number; lockedCopies: number; notes: number; stateAfter: string | null; exit: { code: number | null; signal: NodeJS.Signals | null } }

/** Copies the template, protects it, lets the simulator loose, and counts the damage. */
async function attack(name: string, sim: Omit<SimulatorOptions, 'root'>, shieldOpts: { action: ShieldAction; canaries?: boolean; canaryDepth?: number }): Promise<RunResult> {
  const root = join(base, name);
  cpSync(template, root, { recursive: true });
  const shield = new Shield({ roots: [root], action: shieldOpts.action, canaries: shieldOpts.canaries ?? true, canaryDepth: shieldOpts.canaryDepth ?? 0, refreshMs: 0 });
  await shield.start();
  let child: ChildProcess | undefined;
  try {
    const alerted = waitAlert(shield, (a) => a.processes.length > 0, 40_000);
    child = spawnSimulator({ root, ...sim });
    const pid = child.pid!;
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const alert = await Promise.race([alerted, exited(child).then(() => null)]);
    const stateAfter = processState(pid);
    // Count before anything else runs: a stopped encryptor does no more harm, a running one would.
    const now = hashTree(root);
    const rebased = new Map([...originals].map(([p, h]) => [p.replace(template, root), h]));
    const encrypted = changedSince(rebased, now).length;
    const lockedCopies = [...now.keys()].filter((p) => p.endsWith('.locked')).length;
    const notes = [...now.keys()].filter((p) => p.endsWith(NOTE_NAME)).length;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    const exit = await exited(child);
    if (!alert) process.stderr.write(`simulator output: ${out}\n`);
    return { alert, encrypted, lockedCopies, notes, stateAfter, exit };
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await shield.close();
    rmSync(root, { recursive: true, force: true });
  }
}

function report(t: { diagnostic: (s: string) => void }, label: string, r: RunResult): void {
  const a = r.alert;
  t.diagnostic(`${label}: ${r.encrypted} of 1000 documents encrypted before the stop (${r.lockedCopies} .locked copies, ${r.notes} notes); ` +
    `alert ${a?.reason ?? 'none'}, stop ${a?.stopMs ?? '-'} ms after the alert, search ${a?.responseMs ?? '-'} ms, ` +
    `process ${a?.processes.map((p) => `${p.pid} ${p.action} via ${p.via}`).join(', ') ?? '-'}; signals ${a ? countKinds(a) : '-'}`);
}

function countKinds(a: AlertRecord): string {
  const m = new Map<string, number>();
  for (const s of a.signals) m.set(s.kind, (m.get(s.kind) ?? 0) + 1);
  return [...m].map(([k, n]) => `${k}×${n}`).join(' ');
}

test('documents generated', (t) => {
  assert.equal(originals.size, 1000);
  t.diagnostic(`1000 mixed documents generated in ${generateMs.toFixed(0)} ms`);
});

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Three (or five) attacks per mode: the bound is on the median (the issue's target is CryptoDrop's median
 * loss), so that one run slowed by a busy machine does not decide; every run must still be
 * detected, contained, and stopped long before the end.
 */
async function attacks(t: { diagnostic: (s: string) => void }, label: string, sim: Omit<SimulatorOptions, 'root'>,
  shieldOpts: { action: ShieldAction; canaryDepth?: number }, check: (r: RunResult) => void, runs = 3): Promise<number[]> {
  const counts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await attack(`${label.replace(/\W+/g, '-')}-${i}`, sim, shieldOpts);
    report(t, `${label} #${i + 1}`, r);
    assert.ok(r.alert, 'no alert');
    check(r);
    assert.ok(r.encrypted < 1000, 'it ran to the end');
    counts.push(r.encrypted);
  }
  t.diagnostic(`${label}: files encrypted before the stop ${counts.join(', ')}; median ${median(counts)}`);
  return counts;
}

test('in-place encryption at full speed is detected and the encryptor stopped (policy stop)', { skip: !linux && 'needs /proc' }, async (t) => {
  const counts = await attacks(t, 'in place, whole files, sorted walk', { mode: 'inplace' }, { action: 'stop' }, (r) => {
    assert.equal(r.stateAfter, 'T', 'the simulator is not stopped');
    assert.equal(r.alert!.processes[0]?.action, 'stopped');
    assert.match(r.alert!.processes[0]!.cmdline.join(' '), /simulator/);
  });
  assert.ok(median(counts) <= 50, `median ${median(counts)} files encrypted before the stop`);
});

test('encryption into .locked copies (originals deleted) is detected and the encryptor killed (policy kill)', { skip: !linux && 'needs /proc' }, async (t) => {
  const counts = await attacks(t, '.locked copies, sorted walk', { mode: 'rename' }, { action: 'kill' }, (r) => {
    assert.equal(r.exit.signal, 'SIGKILL');
    assert.equal(r.alert!.processes[0]?.action, 'killed');
  }, 5);
  assert.ok(median(counts) <= 50, `median ${median(counts)} files encrypted before the stop`);
});

test('intermittent encryption (first 4 KiB, in place) in readdir order, canaries in every folder', { skip: !linux && 'needs /proc' }, async (t) => {
  // Ten times faster per file than whole-file encryption and walking in an order where canaries
  // are not first: the bound is looser (see the figures printed).
  const counts = await attacks(t, 'intermittent 4 KiB, readdir walk', { mode: 'inplace', partialKB: 4, order: 'readdir' }, { action: 'stop', canaryDepth: 1 }, (r) => {
    assert.equal(r.stateAfter, 'T');
  });
  assert.ok(median(counts) <= 250, `median ${median(counts)} files encrypted before the stop`);
});

test('without canaries nor notes, the rate of per-file signals detects and stops it (slowed to 200 files/s)', { skip: !linux && 'needs /proc' }, async (t) => {
  const r = await attack('nocanary', { mode: 'inplace', delayMs: 5, notes: false }, { action: 'stop', canaries: false });
  report(t, 'no canaries, no notes, 200 files/s', r);
  assert.ok(r.alert, 'no alert');
  assert.match(r.alert.reason, /^rate: [3-9] files/);
  assert.equal(r.stateAfter, 'T');
  assert.ok(r.encrypted < 1000, 'it ran to the end');
});

test('a canary touch alone raises an alert and stops the writer holding it', { skip: !linux && 'needs /proc' }, async (t) => {
  const root = mkdtempSync(join(base, 'canary-'));
  const shield = new Shield({ roots: [root], action: 'stop', refreshMs: 0 });
  const { canaries } = await shield.start();
  assert.equal(canaries, 6);
  const names = readdirSync(root).sort();
  assert.ok(names[0]!.startsWith('!'), names.join());
  assert.ok(names.some((n) => n.startsWith('.')), 'no hidden canary');
  const target = shield.canaries!.list().find((c) => c.path.endsWith('.docx'))!.path;
  // Reading the canaries (a backup, tar, an indexer) is no touch.
  spawn('sh', ['-c', 'cat "$ROOT"/* "$ROOT"/.* > /dev/null 2>&1'], { env: { ...process.env, ROOT: root }, stdio: 'ignore' }).on('exit', () => undefined);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(shield.alerts.length, 0);
  const alerted = waitAlert(shield, () => true, 10_000);
  const t1 = performance.now();
  const writer = spawn('sh', ['-c', 'exec 3>>"$CANARY"; printf x >&3; exec sleep 30'], { env: { ...process.env, CANARY: target }, stdio: 'ignore' });
  const alert = await alerted;
  const ms = performance.now() - t1;
  try {
    assert.ok(alert);
    assert.equal(alert.reason, 'canary');
    assert.deepEqual(alert.files, [target]);
    const p = alert.processes.find((x) => x.pid === writer.pid);
    assert.ok(p, JSON.stringify(alert.processes));
    assert.equal(p.action, 'stopped');
    assert.equal(processState(writer.pid!), 'T');
    t.diagnostic(`canary touch to alert with the writer stopped: ${ms.toFixed(0)} ms (including the shell's start)`);
    // The canary is planted again after the alert.
    await shield.idle();
    assert.equal(await shield.canaries!.verify(target), null);
    assert.ok(existsSync(target));
  } finally {
    writer.kill('SIGKILL');
    await shield.close();
  }
});

test('finding a writer in /proc; PID 1, this process and its parent are never signalled', { skip: !linux && 'needs /proc' }, async () => {
  const root = mkdtempSync(join(base, 'proc-'));
  const holder = spawn('sh', ['-c', 'exec 3>"$ROOT/out.bin"; exec 4<"/etc/hostname"; exec sleep 30'], { env: { ...process.env, ROOT: root }, stdio: 'ignore' });
  try {
    let found: ReturnType<typeof scanProcesses> = [];
    for (let i = 0; i < 100 && found.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      found = scanProcesses({ roots: [root] }).filter((p) => p.pid === holder.pid);
    }
    assert.equal(found.length, 1);
    assert.deepEqual(found[0]!.files.map((f) => [f.path, f.write]), [[`${root}/out.bin`, true]]);
    // A read-only descriptor matches only when the alert names the file.
    const reader = scanProcesses({ roots: ['/etc'], files: ['/etc/hostname'] }).find((p) => p.pid === holder.pid);
    assert.ok(reader);
    assert.equal(scanProcesses({ roots: ['/etc'] }).find((p) => p.pid === holder.pid), undefined);
    assert.equal(signalProcess(1, 'SIGSTOP'), 'refused');
    assert.equal(signalProcess(process.pid, 'SIGSTOP'), 'refused');
    assert.equal(signalProcess(process.ppid, 'SIGSTOP'), 'refused');
    assert.equal(signalProcess(holder.pid!, 'SIGSTOP', [holder.pid!]), 'refused');
  } finally {
    holder.kill('SIGKILL');
  }
});

test('fatrace lines are parsed', () => {
  assert.deepEqual(parseFatraceLine('14:32:03.123456 rsyslogd(561): W /var/log/syslog'),
    { comm: 'rsyslogd', pid: 561, types: 'W', path: '/var/log/syslog' });
  assert.deepEqual(parseFatraceLine('a (b)(42): CW /tmp/x y'), { comm: 'a (b)', pid: 42, types: 'CW', path: '/tmp/x y' });
  assert.equal(parseFatraceLine('garbage'), null);
});
