/**
 * The ransomware shield of protected folders: canaries, change detection, and containment.
 *
 * In: protected roots and a policy (`stop`: SIGSTOP the writer; `kill`: SIGSTOP then SIGKILL;
 * `alert`: only report), settled `FileEvent`s (from its own @parcel/watcher subscription, or fed
 * through `onEvent` by the real-time watcher). Out: `AlertRecord`s (JSON: time, root, files,
 * signals, the processes found and what was done to them) to `onAlert` listeners and appended to
 * an optional JSON-lines log; the alert's time is what `rollback --since` needs.
 * Why: detection is only worth its latency. Canary tripwires (direct inotify watches, no debounce)
 * fire on the first touch, and the response then looks for the writer in `/proc` straight away
 * and stops it the moment it is found; the slower, debounced per-file signals (entropy rise, magic
 * loss, encrypted copies replacing documents, notes) catch encryptors that skip or miss the
 * canaries. Rollback is not done here: the alert carries what the versions component needs.
 */
import { appendFile, mkdir, readdir } from 'node:fs/promises';
import { getPriority, setPriority } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import type { FileEvent } from '../types.js';
import { Canaries, CANARY_TEMP, type CanarySpec } from './canary.js';
import { Detector, type Alert, type Signal } from './detector.js';
import {
  FatraceFeed, canAttribute, describe, hunt, signalProcess, type OpenFile, type ProcessInfo,
} from './process.js';

export type ShieldAction = 'stop' | 'kill' | 'alert';

/** Parses `--shield-action`; throws a readable error for anything else. */
export function parseShieldAction(s: string): ShieldAction {
  if (s === 'stop' || s === 'kill' || s === 'alert') return s;
  throw new Error(`--shield-action: expected stop, kill or alert, got '${s}'`);
}

export interface ShieldProcess extends ProcessInfo {
  /** How it was found. */
  via: 'proc-fd' | 'fatrace';
  /** What was done: `stopped` (SIGSTOP), `killed` (SIGSTOP then SIGKILL), `none` (policy alert). */
  action: 'stopped' | 'killed' | 'none' | 'refused' | 'gone' | 'denied';
}

export interface AlertRecord {
  /** ISO 8601 time of detection. */
  time: string;
  /** Detection time (ms since the epoch): roll back to before the earliest signal, not this. */
  detectedAt: number;
  /** Earliest signal's time (ms since the epoch). */
  firstSignalAt: number;
  root: string;
  reason: string;
  files: string[];
  signals: { kind: Signal['kind']; path: string; time: string; detail: string; related?: string }[];
  processes: ShieldProcess[];
  policy: ShieldAction;
  /** How writers were looked for: `proc-fd`, `proc-fd+fatrace`, or `unavailable` (not Linux). */
  attribution: string;
  /** From the alert to the end of the search for the writer (ms). */
  responseMs: number;
  /** From the alert (or the canary's tripwire) to the first process stopped (ms), when one was. */
  stopMs?: number;
  /** Later alerts of the same attack whose evidence was added here (nothing new to stop). */
  followUps?: number;
}

/** Alerts on the same root within this time after one that stopped a process are the same attack. */
const INCIDENT_MS = 30_000;

export interface ShieldOptions {
  roots: string[];
  action?: ShieldAction;
  /** Sliding window (ms) and score that raise a rate alert (defaults 10,000 and 3 files). */
  windowMs?: number;
  threshold?: number;
  /** Plant canaries (default true), or these decoys. */
  canaries?: boolean | CanarySpec[];
  /** Also plant in sub-folders down to this depth (default 0: the roots only). */
  canaryDepth?: number;
  /** Subscribe to @parcel/watcher on the roots (default true); false when fed through `onEvent`. */
  watch?: boolean;
  /** JSON-lines file receiving every alert record. */
  alertLog?: string;
  /** Where the canary manifest is kept (default: none, canaries remembered in memory). */
  stateDir?: string;
  /** Use fatrace for attribution when installed and root (default true). */
  fatrace?: boolean;
  /** PIDs never signalled, besides PID 1, this process and its parent. */
  exclude?: number[];
  /** How long to look for the writer after an alert (ms, default 3,000). */
  attributionMs?: number;
  /** How often canaries are checked and re-planted (ms, default 60,000; 0: never). */
  refreshMs?: number;
  /**
   * Scheduling priority (nice value) to run at when allowed (root), so that the response is not
   * starved by the very process it must stop on a busy machine; default -5; null leaves it.
   */
  nice?: number | null;
}

interface Subscription { unsubscribe(): Promise<void> }

export class Shield {
  readonly roots: string[];
  readonly action: ShieldAction;
  readonly detector: Detector;
  readonly canaries: Canaries | undefined;
  readonly alerts: AlertRecord[] = [];
  private readonly opts: ShieldOptions;
  private readonly listeners: ((a: AlertRecord) => void)[] = [];
  private readonly subs: Subscription[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private responding: Promise<unknown> = Promise.resolve();
  private fatrace: FatraceFeed | undefined;
  /** Processes contained by a tripwire before its alert was answered. */
  private early = new Map<number, { proc: ShieldProcess; at: number }>();
  /** The last alert answered, for coalescing the late signals of the same attack. */
  private last: { record: AlertRecord; at: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(opts: ShieldOptions) {
    if (opts.roots.length === 0) throw new Error('shield: no protected folder given');
    this.opts = opts;
    this.roots = opts.roots.map((r) => resolve(r));
    this.action = opts.action ?? 'stop';
    const own = [opts.alertLog, opts.stateDir].filter((p): p is string => !!p).map((p) => resolve(p));
    const ignore = (p: string): boolean => CANARY_TEMP.test(p) || own.some((o) => p === o || p.startsWith(o + sep));
    if (opts.canaries !== false) {
      this.canaries = new Canaries({
        specs: Array.isArray(opts.canaries) ? opts.canaries : undefined,
        manifest: opts.stateDir ? join(resolve(opts.stateDir), 'canaries.json') : undefined,
        onTouch: (path, detail) => {
          this.containNow([path]);
          this.detector.canaryTouched(path, detail);
        },
      });
    }
    this.detector = new Detector({
      roots: this.roots,
      windowMs: opts.windowMs,
      threshold: opts.threshold,
      canaries: this.canaries && {
        isCanary: (p: string) => this.canaries!.isCanary(p),
        // A touch seen first through the tree watcher gets the same immediate search as a tripwire's.
        verify: async (p: string) => {
          const change = await this.canaries!.verify(p);
          if (change) this.containNow([p]);
          return change;
        },
      },
      ignore,
    });
    this.detector.onAlert((a) => {
      this.responding = this.responding.then(() => this.respond(a)).catch(() => undefined);
    });
  }

  onAlert(fn: (a: AlertRecord) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Plants the canaries, learns the current look of every file, arms the tripwires and starts
   * watching. Resolves when protection is active.
   */
  async start(): Promise<{ canaries: number; files: number }> {
    const nice = this.opts.nice === undefined ? -5 : this.opts.nice;
    if (nice !== null && process.getuid?.() === 0) {
      try {
        if (getPriority() > nice) setPriority(nice);
      } catch {
        // Not allowed (container without CAP_SYS_NICE): run at the normal priority.
      }
    }
    let planted = 0;
    if (this.canaries) {
      await this.canaries.load();
      for (const root of this.roots) {
        for (const dir of await foldersTo(root, this.opts.canaryDepth ?? 0)) {
          planted += (await this.canaries.plant(dir, { small: dir !== root })).length;
        }
      }
    }
    let files = 0;
    for (const root of this.roots) files += await this.detector.prime(root);
    this.canaries?.arm();
    // Warm the search up (code paths compiled, /proc entries cached): its first real run is the one
    // that counts.
    if (canAttribute()) for (let i = 0; i < 5; i++) hunt({ roots: this.roots, files: [], exclude: this.excluded() }, 2);
    if (this.opts.watch !== false) {
      const watcher = await import('@parcel/watcher');
      for (const root of this.roots) {
        this.subs.push(await watcher.subscribe(root, (err, events) => {
          if (err || this.closed) return;
          const time = Date.now();
          for (const e of events) this.onEvent({ type: e.type, path: e.path, time });
        }));
      }
    }
    if (this.opts.fatrace !== false && FatraceFeed.available()) {
      this.fatrace = new FatraceFeed(this.roots, this.detector.windowMs);
      if (!this.fatrace.start()) this.fatrace = undefined;
    }
    const every = this.opts.refreshMs ?? 60_000;
    if (every > 0 && this.canaries) {
      this.timer = setInterval(() => { void this.canaries?.refresh().catch(() => undefined); }, every);
      this.timer.unref();
    }
    return { canaries: planted, files };
  }

  /** Feeds one settled event (the real-time watcher calls this). Events are judged in order. */
  onEvent(ev: FileEvent): void {
    if (this.closed) return;
    this.queue = this.queue.then(() => this.detector.feed(ev)).catch(() => undefined);
  }

  /** Resolves once every event fed so far has been judged and every alert answered. */
  async idle(): Promise<void> {
    await this.queue;
    await this.responding;
  }

  /** Whether `path` is one of the shield's canaries (the scanner and versions should leave them be). */
  isCanary(path: string): boolean {
    return this.canaries?.isCanary(path) ?? false;
  }

  private excluded(): number[] {
    return [...(this.opts.exclude ?? []), ...(this.fatrace?.pid !== undefined ? [this.fatrace.pid] : [])];
  }

  /** Applies the policy's first step to a process: SIGSTOP, unless the policy is `alert`. */
  private contain(pid: number): ShieldProcess['action'] {
    if (this.action === 'alert') return 'none';
    const r = signalProcess(pid, 'SIGSTOP', this.excluded());
    return r === 'ok' ? 'stopped' : r;
  }

  /**
   * A tripwire fired: look for the writer at once, synchronously, for up to 30 ms, before anything
   * else runs (the alert's full search follows).
   */
  private containNow(files: string[]): void {
    // Already stopped by an earlier tripwire of this attack: its alert will search again.
    if ([...this.early.values()].some((e) => e.proc.action === 'stopped')) return;
    const t0 = performance.now();
    const hits = hunt({
      roots: this.roots,
      files,
      exclude: this.excluded(),
      onMatch: (pid) => {
        if (!this.early.has(pid)) {
          const action = this.contain(pid);
          this.early.set(pid, { proc: { ...describe(pid), files: [], via: 'proc-fd', action }, at: performance.now() - t0 });
        }
      },
    }, 30);
    for (const h of hits) {
      const e = this.early.get(h.pid);
      if (e) e.proc.files = mergeFiles(e.proc.files, h.files);
    }
  }

  /** Finds the writer, applies the policy, records and publishes the alert. */
  private async respond(alert: Alert): Promise<void> {
    const t0 = performance.now();
    const named = new Set<string>();
    for (const s of alert.signals) {
      named.add(s.path);
      if (s.related) named.add(s.related);
    }
    const found = new Map<number, ShieldProcess>();
    let stopMs: number | undefined;
    for (const [pid, e] of this.early) {
      found.set(pid, e.proc);
      if (e.proc.action === 'stopped') stopMs = Math.min(stopMs ?? Infinity, e.at);
    }
    this.early.clear();
    const exclude = this.excluded();
    const pending = new Map<number, ShieldProcess['action']>();
    for (const pid of this.fatrace?.writers() ?? []) {
      if (found.has(pid)) continue;
      found.set(pid, { ...describe(pid), files: [], via: 'fatrace', action: this.contain(pid) });
    }
    // Late signals of an attack already answered get one short look, not a full search.
    const followUp = this.last !== undefined && alert.time - this.last.at < INCIDENT_MS && this.last.record.root === alert.root &&
      this.last.record.processes.some((p) => p.action === 'stopped' || p.action === 'killed');
    if (canAttribute()) {
      const deadline = performance.now() + (followUp ? 20 : this.opts.attributionMs ?? 3000);
      let rounds = 0;
      while (!this.closed && performance.now() < deadline) {
        const hits = hunt({
          roots: this.roots,
          files: named,
          exclude,
          onMatch: (pid) => {
            if (found.has(pid) || pending.has(pid)) return;
            pending.set(pid, this.contain(pid));
            stopMs ??= performance.now() - t0;
          },
        }, Math.min(20, Math.max(1, deadline - performance.now())));
        for (const p of hits) {
          const prev = found.get(p.pid);
          if (prev) prev.files = mergeFiles(prev.files, p.files);
          else found.set(p.pid, { ...p, via: 'proc-fd', action: pending.get(p.pid) ?? 'none' });
        }
        // Once something was found, two more rounds catch helpers working beside it.
        if (found.size > 0) rounds++;
        if (rounds >= 3) break;
        await new Promise((r) => setImmediate(r));
      }
    }
    if (this.action === 'kill') {
      for (const p of found.values()) {
        if (p.action !== 'stopped') continue;
        const r = signalProcess(p.pid, 'SIGKILL', exclude);
        p.action = r === 'ok' ? 'killed' : r === 'gone' ? 'gone' : p.action;
      }
    }
    const signals = alert.signals.map((s) => ({
      kind: s.kind, path: s.path, time: new Date(s.time).toISOString(), detail: s.detail,
      ...(s.related !== undefined ? { related: s.related } : {}),
    }));
    if (followUp && found.size === 0 && this.last) {
      // Same attack, nothing new to stop: the evidence joins the alert already published.
      const rec = this.last.record;
      rec.signals.push(...signals);
      for (const f of alert.files) if (!rec.files.includes(f)) rec.files.push(f);
      rec.followUps = (rec.followUps ?? 0) + 1;
      this.last.at = alert.time;
      return;
    }
    const record: AlertRecord = {
      time: new Date(alert.time).toISOString(),
      detectedAt: alert.time,
      firstSignalAt: Math.min(...alert.signals.map((s) => s.time)),
      root: alert.root,
      reason: alert.reason,
      files: alert.files,
      signals,
      processes: [...found.values()],
      policy: this.action,
      attribution: canAttribute() ? (this.fatrace ? 'proc-fd+fatrace' : 'proc-fd') : 'unavailable',
      responseMs: Math.round((performance.now() - t0) * 10) / 10,
      ...(stopMs !== undefined ? { stopMs: Math.round(stopMs * 10) / 10 } : {}),
    };
    this.alerts.push(record);
    this.last = { record, at: alert.time };
    if (this.opts.alertLog) {
      await mkdir(dirname(this.opts.alertLog), { recursive: true }).catch(() => undefined);
      await appendFile(this.opts.alertLog, JSON.stringify(record) + '\n').catch(() => undefined);
    }
    for (const fn of this.listeners) {
      try {
        fn(record);
      } catch {
        // A listener's failure is its own.
      }
    }
    if (alert.signals.some((s) => s.kind === 'canary') && !this.closed) {
      // Put the decoys back for the next attempt (the stopped writer can no longer touch them).
      await this.canaries?.refresh().catch(() => undefined);
    }
  }

  /** Stops watching and the tripwires; canaries stay in place (use `canaries.remove()` to uninstall). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.canaries?.close();
    this.fatrace?.stop();
    await Promise.all(this.subs.splice(0).map((s) => s.unsubscribe().catch(() => undefined)));
    await this.queue.catch(() => undefined);
    await this.responding.catch(() => undefined);
  }
}

function mergeFiles(a: OpenFile[], b: OpenFile[]): OpenFile[] {
  const key = (f: OpenFile): string => `${f.fd}:${f.path}`;
  const seen = new Set(a.map(key));
  return [...a, ...b.filter((f) => !seen.has(key(f)))];
}

/** `root` and its sub-folders down to `depth` (hidden ones and symbolic links excluded). */
async function foldersTo(root: string, depth: number): Promise<string[]> {
  const out = [root];
  let level = [root];
  for (let d = 0; d < depth; d++) {
    const next: string[] = [];
    for (const dir of level) {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.')) next.push(join(dir, e.name));
    }
    out.push(...next);
    level = next;
  }
  return out;
}
