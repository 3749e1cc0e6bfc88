/**
 * `vigil watch`: real-time scanning of directory trees.
 *
 *   vigil watch PATH... [--action report|quarantine|delete] [--exclude GLOB]... [--exclude-ext EXT]...
 *               [--exclude-path PATH]... [--max-size N] [--settle MS] [--max-wait MS] [-d DB]...
 *               [--vault DIR] [--state DIR] [--threads N] [--json] [--verbose]
 *
 * In: arguments, output streams, and in tests an AbortSignal in place of SIGINT/SIGTERM. Out: one
 * line per infected or not-scanned file (every scanned file with `--verbose`) on stdout, NDJSON
 * with `--json`; a ready line and warnings on stderr; the state `vigil status` reads in `--state`
 * (default `$VIGIL_HOME/watch`). Exit 0 when stopped by a signal, 2 when it cannot start (bad
 * arguments, a database or vault that does not load, a path that is not a directory, the inotify
 * limit). Why: the CLI only wires the pieces: the scanner (worker threads), the vault (the default
 * action moves infected files there) and the watcher in `src/protect/watch`.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { createScanner, type Scanner } from '../lib/scanner.js';
import { Watcher, type ExclusionSettings, type WatchReport } from '../protect/watch/index.js';
import { defaultVaultDir, openVault, type Vault } from '../protect/vault/index.js';
import type { WatchAction } from '../protect/types.js';
import { vigilHome } from './home.js';
import { parseSize } from '../daemon/clamd/config.js';
import { recordAudit, recordSettings } from './audit.js';

export interface WatchDeps {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** Stops the watch when aborted (tests); default: SIGINT or SIGTERM. */
  signal?: AbortSignal;
}

interface WatchFlags {
  action: string;
  exclude: string[];
  excludeExt: string[];
  excludePath: string[];
  maxSize?: string;
  settle: string;
  maxWait: string;
  database: string[];
  vault?: string;
  state?: string;
  threads?: string;
  json?: boolean;
  verbose?: boolean;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** `25M`, `1G`, `4096`, `100k` → bytes (clamd.conf's size syntax); undefined when it is not a size. */
export { parseSize };

/** One report as a human line: `PATH: NAME FOUND (quarantined as ID, 312 ms)`. */
export function formatReport(r: WatchReport): string {
  const tail = (what: string) => ` (${what}${r.catchUp ? ', catch-up' : ''}, ${r.latencyMs} ms)`;
  if (r.verdict === 'infected') {
    const names = [...new Set(r.detections.map((d) => d.name))].join(', ');
    const what = r.action === 'quarantined' ? `quarantined as ${r.quarantineId}` : r.action === 'deleted' ? 'deleted' : r.action === 'failed' ? `NOT handled: ${r.error}` : 'reported only';
    return `${r.time} ${r.path}: ${names} FOUND${tail(what)}\n`;
  }
  if (r.verdict === 'not-scanned') return `${r.time} ${r.path}: not scanned: ${r.reason ?? 'unknown reason'}${tail('no action')}\n`;
  return `${r.time} ${r.path}: OK${tail(r.event)}\n`;
}

export interface WatchServiceOptions {
  paths: string[];
  /** The scanner to use (the caller owns it: `stop()` does not close it). */
  scanner: Scanner;
  action?: WatchAction;
  exclude?: ExclusionSettings;
  settleMs?: number;
  maxWaitMs?: number;
  concurrency?: number;
  /** Vault directory (default `$VIGIL_HOME/quarantine`) and state directory (default `$VIGIL_HOME/watch`). */
  vault?: string;
  state?: string;
  /** Reports as NDJSON rather than human lines; clean files reported too. */
  json?: boolean;
  verbose?: boolean;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** Every report, clean files included, besides what is printed (the shield's versioned copies take the clean ones). */
  onReport?: (r: WatchReport) => void;
}

export interface WatchService {
  watcher: Watcher;
  /** Stops watching (final snapshot, pending recorded) and closes the vault it opened. */
  stop(): Promise<void>;
}

/**
 * Starts real-time scanning over an existing scanner: opens the vault for the quarantine action,
 * prints reports to `stdout` and warnings to `stderr`. `vigil watch` and `vigil daemon --watch`
 * both use it. Rejects (with nothing left open) when a path, the vault or the watch cannot start.
 */
export async function startWatchService(o: WatchServiceOptions): Promise<WatchService> {
  const action = o.action ?? 'quarantine';
  let vault: Vault | undefined;
  if (action === 'quarantine') {
    vault = openVault(o.vault);
    for (const line of vault.recovered) o.stderr.write(`vault: ${line}\n`);
  }
  const closeVault = () => { try { vault?.close(); } catch { /* already closed */ } };
  let watcher: Watcher;
  try {
    watcher = new Watcher({
      roots: o.paths, scanner: o.scanner, action, ...(vault ? { sink: vault } : {}),
      vaultDir: vault?.dir ?? o.vault ?? defaultVaultDir(),
      stateDir: o.state ?? join(vigilHome(), 'watch'),
      internalDirs: [vigilHome()], // databases, cache, versioned copies: vigil's own files are never acted upon
      ...(o.settleMs !== undefined ? { settleMs: o.settleMs } : {}), ...(o.maxWaitMs !== undefined ? { maxWaitMs: o.maxWaitMs } : {}),
      ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}), ...(o.exclude ? { exclude: o.exclude } : {}),
      onReport: (r) => {
        if (r.verdict !== 'clean' || o.verbose) o.stdout.write(o.json ? `${JSON.stringify(r)}\n` : formatReport(r));
        if (r.verdict === 'infected') {
          recordAudit('detection', {
            source: 'watch', path: r.path, detections: r.detections, action: r.action,
            ...(r.quarantineId ? { quarantineId: r.quarantineId } : {}), engine: r.engine, database: r.database,
          }, o.stderr);
        }
        o.onReport?.(r);
      },
      reportClean: !!o.verbose || o.onReport !== undefined,
      onError: (e) => { o.stderr.write(`WARNING: ${e.message}\n`); },
    });
    await watcher.start();
  } catch (e) {
    closeVault();
    throw e;
  }
  let stopped: Promise<void> | undefined;
  return {
    watcher,
    stop: () => (stopped ??= watcher.stop().catch((e: unknown) => { o.stderr.write(`WARNING: ${e instanceof Error ? e.message : String(e)}\n`); }).finally(closeVault)),
  };
}

export async function runWatch(args: string[], deps: WatchDeps): Promise<number> {
  const program = new Command('vigil watch')
    .description('scan new and changed files under PATH... as they are written (detection after the write)')
    .exitOverride()
    .helpOption('-h, --help', 'show this help')
    .argument('<paths...>', 'directories to watch (recursively)')
    .option('--action <action>', 'what to do with an infected file: report, quarantine (into the vault) or delete', 'quarantine')
    .option('--exclude <glob>', 'do not scan paths matching GLOB (relative to the watched directory at any depth, or absolute with a leading /; repeatable)', collect, [] as string[])
    .option('--exclude-ext <ext>', 'do not scan files with this extension (repeatable)', collect, [] as string[])
    .option('--exclude-path <path>', 'do not watch nor scan below this directory (repeatable)', collect, [] as string[])
    .option('--max-size <n>', 'do not scan files larger than N bytes (suffixes K, M, G)')
    .option('--settle <ms>', 'a file is scanned once no change was seen for this long', '200')
    .option('--max-wait <ms>', 'a file changing without pause is scanned anyway this often', '10000')
    .option('-d, --database <path>', 'database file or directory (repeatable; default: the default databases)', collect, [] as string[])
    .option('--vault <dir>', 'quarantine vault directory (default: $VIGIL_HOME/quarantine)')
    .option('--state <dir>', "the watcher's state directory (default: $VIGIL_HOME/watch)")
    .option('--threads <n>', 'scanning threads (default: the cores, at most 4)')
    .option('--json', 'print one JSON object per line (NDJSON) for each report')
    .option('--verbose', 'report clean files too')
    .configureOutput({ writeOut: (s) => { deps.stdout.write(s); }, writeErr: (s) => { deps.stderr.write(s); } });
  let flags: WatchFlags;
  let paths: string[];
  try {
    program.parse(args, { from: 'user' });
    flags = program.opts<WatchFlags>();
    paths = program.args;
  } catch (e) {
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' ? 0 : 2;
    throw e;
  }
  const err = (s: string) => { deps.stderr.write(`ERROR: ${s}\n`); return 2; };
  if (!['report', 'quarantine', 'delete'].includes(flags.action)) return err(`--action wants report, quarantine or delete, got ${flags.action}`);
  const action = flags.action as WatchAction;
  const settle = Number(flags.settle);
  if (!(Number.isInteger(settle) && settle >= 0)) return err(`--settle wants milliseconds, got ${flags.settle}`);
  const maxWait = Number(flags.maxWait);
  if (!(Number.isInteger(maxWait) && maxWait > 0)) return err(`--max-wait wants milliseconds, got ${flags.maxWait}`);
  const maxSize = flags.maxSize !== undefined ? parseSize(flags.maxSize) : undefined;
  if (flags.maxSize !== undefined && maxSize === undefined) return err(`--max-size wants a size (4096, 25M, 1G), got ${flags.maxSize}`);
  const threads = flags.threads !== undefined ? Number(flags.threads) : Math.max(1, Math.min(4, availableParallelism()));
  if (!(Number.isInteger(threads) && threads >= 1)) return err(`--threads wants a number of at least 1, got ${flags.threads}`);

  let scanner: Scanner | undefined;
  let service: WatchService | undefined;
  try {
    scanner = await createScanner({ ...(flags.database.length > 0 ? { databases: flags.database } : {}), threads });
    service = await startWatchService({
      paths, scanner, action, settleMs: settle, maxWaitMs: maxWait, concurrency: threads, json: !!flags.json, verbose: !!flags.verbose,
      exclude: { globs: flags.exclude, extensions: flags.excludeExt, paths: flags.excludePath, ...(maxSize !== undefined ? { maxSize } : {}) },
      ...(flags.vault !== undefined ? { vault: flags.vault } : {}), ...(flags.state !== undefined ? { state: flags.state } : {}),
      stdout: deps.stdout, stderr: deps.stderr,
    });
  } catch (e) {
    await scanner?.close().catch(() => undefined);
    return err(e instanceof Error ? e.message : String(e));
  }
  recordSettings('watch', {
    paths, action, settle, maxWait, threads, databases: flags.database, exclude: flags.exclude, excludeExt: flags.excludeExt,
    excludePath: flags.excludePath, maxSize: maxSize ?? null, vault: flags.vault ?? null, state: flags.state ?? null,
  }, deps.stderr);
  const watcher = service.watcher;
  const cleanup = async () => {
    await service.stop();
    await scanner.close().catch(() => undefined);
  };
  deps.stderr.write(`vigil watch: watching ${watcher.watched.join(', ')} (action ${action}, settle ${settle} ms); detection happens after a file is written\n`);

  await new Promise<void>((resolve) => {
    if (deps.signal) {
      if (deps.signal.aborted) resolve();
      else deps.signal.addEventListener('abort', () => resolve(), { once: true });
      return;
    }
    const onSig = () => {
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
      resolve();
    };
    process.on('SIGINT', onSig);
    process.on('SIGTERM', onSig);
  });
  const s = watcher.stats();
  await cleanup();
  deps.stderr.write(`vigil watch: stopped; ${s.eventsSeen} events, ${s.scanned} file${s.scanned === 1 ? '' : 's'} scanned, ${s.infected} infected, ${s.actions} acted upon${s.failedActions ? `, ${s.failedActions} actions FAILED` : ''}\n`);
  return 0;
}
