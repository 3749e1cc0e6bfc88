/**
 * `vigil daemon --shield PATH...`: the ransomware shield over protected folders, with the versioned
 * copies that make rollback possible and real-time scanning of the same folders.
 *
 * In: the protected folders, the daemon's scanner, the shield's policy (`stop`, `kill`, `alert`),
 * the real-time action, how often to snapshot. Out: a running service; each alert printed as one
 * JSON line (the shield's evidence, the processes found and what was done to them, and the
 * `vigil rollback` command that undoes the incident), the alert log in `$VIGIL_HOME/shield`.
 * Why here: the pieces live in `src/protect/` (shield, versions, watch, vault) and may not import
 * each other's shells; the CLI wires them. The order matters: the shield's canaries exist before the
 * first snapshot (and are left out of it); a settled change is copied only once the scanner passed
 * the file, so that rollback never brings back something the watcher quarantined; an alert holds
 * the copies (no pruning) for a week, so the pre-attack versions cannot age out before a rollback.
 */
import { identifyIncident, preloadIncidentKb, type IncidentIdentification } from '../ransom/identify/incident.js';
import { join } from 'node:path';
import type { Scanner } from '../lib/scanner.js';
import { Shield, type AlertRecord, type ShieldAction } from '../protect/shield/shield.js';
import { openVersionStore, type VersionStore } from '../protect/versions/index.js';
import type { WatchAction } from '../protect/types.js';
import { startWatchService, type WatchService } from './watch.js';
import { vigilHome } from './home.js';
import { recordAudit } from './audit.js';

export interface ProtectionOptions {
  paths: string[];
  scanner: Scanner;
  shieldAction?: ShieldAction;
  watchAction?: WatchAction;
  /** Seconds between snapshots of the protected folders (default 600; 0: only at start). */
  snapshotEvery?: number;
  /** State directories (defaults below `$VIGIL_HOME`). */
  versionsDir?: string;
  shieldDir?: string;
  watchState?: string;
  vault?: string;
  settleMs?: number;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** Every alert, besides the printed line (tests). */
  onAlert?: (a: AlertRecord, rollback: string, identification: IncidentIdentification) => void;
}

export interface ProtectionService {
  shield: Shield;
  versions: VersionStore;
  watch: WatchService;
  /** Resolves once the first snapshot of every folder is stored. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * How far before the first signal a rollback reaches, besides the settle delay: the watcher's
 * delivery latency. Earlier would pass over copies taken just before the attack (and, without a
 * snapshot from before that time, rollback cannot tell new files from old); later would take
 * copies of content the attack had already changed.
 */
const ROLLBACK_MARGIN_MS = 1_000;

/** The command that undoes an incident: back to before its first signal. */
export function rollbackCommand(a: AlertRecord, settleMs: number): string {
  const since = new Date(a.firstSignalAt - settleMs - ROLLBACK_MARGIN_MS).toISOString();
  return `vigil rollback --since ${since} ${JSON.stringify(a.root)}`;
}

export async function startProtection(o: ProtectionOptions): Promise<ProtectionService> {
  const home = vigilHome();
  const shieldDir = o.shieldDir ?? join(home, 'shield');
  const settleMs = o.settleMs ?? 200;
  const shield = new Shield({
    roots: o.paths, action: o.shieldAction ?? 'stop', stateDir: shieldDir, alertLog: join(shieldDir, 'alerts.ndjson'),
  });
  let versions: VersionStore | undefined;
  let watch: WatchService | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await shield.start();
    versions = await openVersionStore({
      roots: o.paths, exclude: (p: string) => shield.isCanary(p), ...(o.versionsDir !== undefined ? { dir: o.versionsDir } : {}),
    });
    const store = versions;
    // Identification at alert time must not hold up the shield: the knowledge base is ready first.
    preloadIncidentKb();
    shield.onAlert((a) => {
      store.hold(Date.now() + 7 * 24 * 3600 * 1000);
      // The writer is already stopped; the shield goes on judging events before this runs.
      setImmediate(() => report(a));
    });
    const report = (a: AlertRecord): void => {
      const cmd = rollbackCommand(a, settleMs);
      // Say what the attack probably was (offline, from the files it changed and the notes it
      // left) and whether a decryptor is known.
      const identification = identifyIncident({ files: a.files, notes: a.signals.filter((x) => x.kind === 'note').map((x) => x.path) });
      o.stdout.write(`${JSON.stringify({ shield: a, rollback: cmd, identification })}\n`);
      recordAudit('shield-alert', {
        root: a.root, reason: a.reason, files: a.files.length, processes: a.processes.map((p) => ({ pid: p.pid, exe: p.exe, action: p.action })), rollback: cmd,
        identification: identification.candidates.map((c) => ({ family: c.name, confidence: c.confidence })),
      }, o.stderr);
      o.onAlert?.(a, cmd, identification);
    };
    watch = await startWatchService({
      paths: o.paths, scanner: o.scanner, action: o.watchAction ?? 'quarantine', settleMs,
      ...(o.vault !== undefined ? { vault: o.vault } : {}), ...(o.watchState !== undefined ? { state: o.watchState } : {}),
      stdout: o.stdout, stderr: o.stderr,
      onReport: (r) => {
        // Only content the scanner passed becomes a version to roll back to.
        if (r.verdict === 'clean') void store.recordChange({ type: r.event, path: r.path, time: Date.now() }).catch((e: unknown) => warn(o, e));
      },
    });
    watch.watcher.onEvent((e) => {
      if (e.type === 'delete') void store.recordChange(e).catch((err: unknown) => warn(o, err));
    });
    const snapshotAll = async (): Promise<void> => {
      for (const root of o.paths) await store.snapshot(root).catch((e: unknown) => warn(o, e));
      await store.prune().catch((e: unknown) => warn(o, e));
    };
    const ready = snapshotAll();
    const every = (o.snapshotEvery ?? 600) * 1000;
    if (every > 0) {
      let running: Promise<void> = ready;
      timer = setInterval(() => { running = running.then(snapshotAll); }, every);
      timer.unref();
    }
    const w = watch;
    let stopped: Promise<void> | undefined;
    return {
      shield, versions: store, watch: w, ready,
      stop: () => (stopped ??= (async () => {
        if (timer) clearInterval(timer);
        await ready.catch(() => undefined);
        await w.stop();
        await shield.close();
        store.close();
      })()),
    };
  } catch (e) {
    if (timer) clearInterval(timer);
    await watch?.stop().catch(() => undefined);
    await shield.close().catch(() => undefined);
    versions?.close();
    throw e;
  }
}

function warn(o: ProtectionOptions, e: unknown): void {
  o.stderr.write(`WARNING: ${e instanceof Error ? e.message : String(e)}\n`);
}
