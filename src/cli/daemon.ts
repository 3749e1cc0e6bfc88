/**
 * `vigil daemon`: clamd's protocol on a Unix socket and/or TCP, and the HTTP API, over one loaded
 * database.
 *
 *   vigil daemon [--config FILE] [--socket PATH] [--tcp HOST:PORT] [-d PATH]...
 *                [--http HOST:PORT] [--http-token TOKEN] [--threads N] [--self-check SECONDS]
 *                [--watch PATH]... [--watch-action report|quarantine|delete] [--watch-exclude GLOB]...
 *                [--shield PATH]... [--shield-action stop|kill|alert] [--snapshot-every SECONDS]
 *                [--update-mirror URL... --update-pubkey FILE [--update-log-pubkey FILE]
 *                 [--update-every SECONDS] [--update-db DIR]]   scheduled signed updates, picked
 *                                                               up without a restart
 *
 * In: arguments (a clamd.conf-format file and flags; flags win), output streams. Out: runs until
 * a client sends SHUTDOWN or the process gets SIGTERM/SIGINT, then closes the listeners and
 * returns 0; 2 when the configuration or the database does not load, or nothing is to be
 * listened on. It prints where it listens (`clamd protocol on unix:PATH`, `HTTP API on
 * http://HOST:PORT`) once ready, so that scripts and tests can wait for it.
 */
import { availableParallelism } from 'node:os';
import { Command, CommanderError } from 'commander';
import { defaultConfig, readConfigFile, type ClamdConfig } from '../daemon/clamd/config.js';
import { ClamdServer } from '../daemon/clamd/server.js';
import { ClamdLog } from '../daemon/clamd/log.js';
import { ctime } from '../daemon/clamd/engine-service.js';
import type { ScanService, ServiceResult, ServiceScanOptions } from '../daemon/service.js';
import { recordAudit, recordSettings } from './audit.js';
import { startWatchService, type WatchService } from './watch.js';
import type { WatchAction } from '../protect/types.js';
import { startProtection, type ProtectionService } from './protection.js';
import type { ShieldAction } from '../protect/shield/shield.js';
import { createScanner, serviceOf } from '../lib/scanner.js';
import { parseHostPort, startHttpServer, type HttpServerHandle } from '../http/server.js';
import { watchDatabases } from '../daemon/selfcheck.js';
import { SCAN_CONFIG_KEYS, scanConfig, type ScanConfig } from '../daemon/scan-config.js';
import { readFileSync } from 'node:fs';
import { resolveLoad } from './engine-loader.js';
import { resolve as resolvePath } from 'node:path';
import { defaultClamavDb, defaultUpdateDb, scheduleClamavUpdates, scheduleUpdates, type UpdateSchedule } from './update.js';

export interface DaemonDeps {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** Resolves when the daemon should stop (tests); default: SIGTERM or SIGINT. */
  stopSignal?: Promise<void>;
}

interface DaemonFlags {
  config?: string;
  socket?: string;
  tcp?: string;
  database: string[];
  http?: string;
  httpToken?: string;
  threads?: string;
  watch: string[];
  watchAction: string;
  watchExclude: string[];
  shield: string[];
  shieldAction: string;
  snapshotEvery: string;
  selfCheck: string;
  updateMirror: string[];
  updatePubkey?: string;
  updateLogPubkey?: string;
  updateEvery: string;
  updateDb?: string;
  updateClamavMirror: string[];
  updateClamavDb: string;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export async function runDaemon(args: string[], deps: DaemonDeps): Promise<number> {
  const program = new Command('vigil daemon')
    .description("clamd's protocol and the HTTP API over one loaded database")
    .exitOverride()
    .helpOption('-h, --help', 'show this help')
    .option('-c, --config <file>', 'a clamd.conf-format configuration file')
    .option('--socket <path>', 'listen on this Unix socket (clamd LocalSocket)')
    .option('--tcp <host:port>', 'listen on this TCP address (clamd TCPAddr and TCPSocket)')
    .option('-d, --database <path>', 'database file or directory (repeatable; default: DatabaseDirectory, else the default databases)', collect, [] as string[])
    .option('--http <host:port>', 'serve the HTTP API on this address')
    .option('--http-token <token>', 'bearer token the HTTP API requires (mandatory off loopback)')
    .option('--self-check <seconds>', 'reload when the database files change, looking this often (clamd SelfCheck; 0: never)', '600')
    .option('--threads <n>', 'scanning threads sharing the database (default: MaxThreads, at most the cores; 0 scans on the main thread)')
    .option('--watch <path>', 'also scan files under PATH as they are written, as vigil watch does (repeatable)', collect, [] as string[])
    .option('--watch-action <action>', 'what --watch does with an infected file: report, quarantine or delete', 'quarantine')
    .option('--watch-exclude <glob>', 'do not scan paths matching GLOB under --watch (repeatable)', collect, [] as string[])
    .option('--shield <path>', 'ransomware shield over PATH: canaries, change signals, stopping the writer, versioned copies for vigil rollback; implies real-time scanning of PATH (repeatable)', collect, [] as string[])
    .option('--shield-action <action>', 'what the shield does to the writing process: stop (SIGSTOP), kill (SIGSTOP then SIGKILL) or alert', 'stop')
    .option('--snapshot-every <seconds>', 'how often the shield snapshots its folders (0: only at start)', '600')
    .option('--update-mirror <url>', 'install signed signature bundles from this mirror on a schedule, as vigil update does (repeatable)', collect, [] as string[])
    .option('--update-pubkey <file>', "with --update-mirror: the publisher's public key")
    .option('--update-log-pubkey <file>', "with --update-mirror: the transparency log's public key")
    .option('--update-every <seconds>', 'with --update-mirror: seconds between updates', '3600')
    .option('--update-db <dir>', 'with --update-mirror: the managed database path (default $VIGIL_HOME/db)')
    .option('--update-clamav-mirror <url>', "also fetch ClamAV's official databases from this mirror on the same schedule, as freshclam does, into $VIGIL_HOME/clamav (repeatable)", collect, [] as string[])
    .option('--update-clamav-db <names>', 'with --update-clamav-mirror: the databases, comma-separated', 'daily,main,bytecode')
    .configureOutput({ writeOut: (s) => { deps.stdout.write(s); }, writeErr: (s) => { deps.stderr.write(s); } });
  let flags: DaemonFlags;
  try {
    program.parse(args, { from: 'user' });
    flags = program.opts<DaemonFlags>();
  } catch (e) {
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' ? 0 : 2;
    throw e;
  }

  let config: ClamdConfig = defaultConfig();
  let scanOpts: ScanConfig | undefined;
  if (flags.config) {
    const parsed = readConfigFile(flags.config);
    let text = '';
    try { text = readFileSync(flags.config, 'latin1'); } catch { /* the protocol's parser reported it */ }
    scanOpts = scanConfig(text);
    // The scan options are read here; the protocol's parser only knows its own keys.
    const scanKey = /unsupported option (\S+)$/;
    for (const w of parsed.warnings) if (!SCAN_CONFIG_KEYS.has(scanKey.exec(w)?.[1] ?? '')) deps.stderr.write(`WARNING: ${w}\n`);
    const errors = [...parsed.errors, ...scanOpts.errors];
    if (errors.length > 0) {
      for (const e of errors) deps.stderr.write(`ERROR: ${e}\n`);
      return 2;
    }
    config = parsed.config;
  }
  if (flags.socket) config = { ...config, localSocket: flags.socket };
  if (flags.tcp) {
    const hp = parseHostPort(flags.tcp);
    if (!hp) { deps.stderr.write(`ERROR: --tcp wants HOST:PORT, got ${flags.tcp}\n`); return 2; }
    config = { ...config, tcpAddr: [hp.host], tcpSocket: hp.port };
  }
  const http = flags.http ? parseHostPort(flags.http) : undefined;
  if (flags.http && !http) { deps.stderr.write(`ERROR: --http wants HOST:PORT, got ${flags.http}\n`); return 2; }
  if (!['report', 'quarantine', 'delete'].includes(flags.watchAction)) {
    deps.stderr.write(`ERROR: --watch-action wants report, quarantine or delete, got ${flags.watchAction}\n`);
    return 2;
  }
  if (!['stop', 'kill', 'alert'].includes(flags.shieldAction)) {
    deps.stderr.write(`ERROR: --shield-action wants stop, kill or alert, got ${flags.shieldAction}\n`);
    return 2;
  }
  const snapshotEvery = Number(flags.snapshotEvery);
  if (!(Number.isInteger(snapshotEvery) && snapshotEvery >= 0)) {
    deps.stderr.write(`ERROR: --snapshot-every wants a number of seconds, got ${flags.snapshotEvery}\n`);
    return 2;
  }
  if (!config.localSocket && config.tcpSocket === undefined && !http && flags.watch.length === 0 && flags.shield.length === 0) {
    deps.stderr.write('ERROR: nothing to listen on: give --socket, --tcp, --http, --watch, --shield, or LocalSocket/TCPSocket in --config\n');
    return 2;
  }
  const threads = flags.threads !== undefined ? Number(flags.threads) : undefined;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0)) {
    deps.stderr.write(`ERROR: --threads wants a number, got ${flags.threads}\n`);
    return 2;
  }

  const updateEvery = Number(flags.updateEvery);
  if (flags.updateMirror.length > 0 && !flags.updatePubkey) {
    deps.stderr.write('ERROR: --update-mirror needs --update-pubkey\n');
    return 2;
  }
  if ((flags.updateMirror.length > 0 || flags.updateClamavMirror.length > 0) && !(Number.isInteger(updateEvery) && updateEvery > 0)) {
    deps.stderr.write(`ERROR: --update-every wants a positive number of seconds, got ${flags.updateEvery}\n`);
    return 2;
  }
  const databases = flags.database.length > 0 ? flags.database : config.databaseDirectory ? [config.databaseDirectory] : [];
  // Scheduled updates: the first runs before the database is loaded, so that a machine starts
  // on the newest signatures it can get; a mirror that is down only delays that.
  let updates: UpdateSchedule | undefined;
  let afterInstall: () => Promise<void> = async () => {};
  if (flags.updateMirror.length > 0) {
    const updateDb = flags.updateDb ?? defaultUpdateDb();
    try {
      updates = scheduleUpdates({
        mirrors: flags.updateMirror, pubkeyFile: flags.updatePubkey!, db: updateDb, everyMs: updateEvery * 1000,
        ...(flags.updateLogPubkey ? { logPubkeyFile: flags.updateLogPubkey } : {}),
        onInstalled: () => afterInstall(), log: (line) => { deps.stderr.write(`${line}\n`); },
      });
    } catch (e) {
      deps.stderr.write(`ERROR: ${e instanceof Error ? e.message : String(e)}\n`);
      return 2;
    }
    await updates.runNow();
  }
  let clamavUpdates: UpdateSchedule | undefined;
  if (flags.updateClamavMirror.length > 0) {
    clamavUpdates = scheduleClamavUpdates({
      mirrors: flags.updateClamavMirror, dbDir: defaultClamavDb(), names: flags.updateClamavDb.split(',').map((n) => n.trim()).filter(Boolean),
      everyMs: updateEvery * 1000, onInstalled: () => afterInstall(), log: (line) => { deps.stderr.write(`${line}\n`); },
    });
    await clamavUpdates.runNow();
  }
  if (flags.updateMirror.length > 0) {
    const updateDb = flags.updateDb ?? defaultUpdateDb();
    if (databases.length > 0 && !databases.some((d) => resolvePath(d) === resolvePath(updateDb))) {
      deps.stderr.write(`WARNING: --update-db ${updateDb} is not among the databases loaded (-d); updates are installed but not used\n`);
    }
  }
  let scanner;
  try {
    // Scans run in worker threads by default, so that a long scan never holds up other clients.
    const workers = threads ?? Math.max(1, Math.min(config.maxThreads, availableParallelism()));
    scanner = await createScanner({
      ...(databases.length > 0 ? { databases } : {}), threads: workers,
      ...(scanOpts ? { limits: scanOpts.limits, unpack: scanOpts.unpack, parse: scanOpts.parse } : {}),
      ...(scanOpts?.alertExceedsMax !== undefined ? { alertExceedsMax: scanOpts.alertExceedsMax } : {}),
      ...(scanOpts?.detectPua !== undefined ? { detectPua: scanOpts.detectPua } : {}),
    });
  } catch (e) {
    updates?.stop();
    clamavUpdates?.stop();
    deps.stderr.write(`ERROR: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  let scanLog: ClamdLog | undefined;
  if (config.logFile) {
    try {
      scanLog = new ClamdLog({ file: config.logFile, time: config.logTime, clean: config.logClean, maxSize: config.logFileMaxSize, rotate: config.logRotate });
    } catch (e) {
      deps.stderr.write(`ERROR: can't open the log file ${config.logFile}: ${e instanceof Error ? e.message : String(e)}\n`);
      await scanner.close();
      return 2;
    }
    scanLog.info(`+++ Started at ${ctime(Math.floor(Date.now() / 1000))}`);
    scanLog.info(`Reading databases from ${databases.length > 0 ? databases.join(', ') : 'the default database directories'}`);
  }
  const base = serviceOf(scanner);
  // Detections go to the audit log; RELOAD and SelfCheck are logged as clamd logs them.
  const audited = async (what: string, r: Promise<ServiceResult>): Promise<ServiceResult> => {
    const res = await r;
    if (res.verdict === 'infected') recordAudit('detection', { source: 'daemon', object: what, detections: res.detections }, deps.stderr);
    return res;
  };
  const service: ScanService = {
    ...base,
    scanBuffer: (bytes, opts) => audited('stream', base.scanBuffer(bytes, opts)),
    scanPath: (path, opts) => audited(path, base.scanPath(path, opts)),
    ...(base.scanFd ? { scanFd: (fd: number, opts?: ServiceScanOptions) => audited(`fd[${fd}]`, base.scanFd!(fd, opts)) } : {}),
    reload: async () => {
      scanLog?.info(`Reading databases from ${databases.length > 0 ? databases.join(', ') : 'the default database directories'}`);
      await base.reload();
      scanLog?.info(`Database correctly reloaded (${scanner.version().database.signatures} signatures)`);
      recordAudit('database-reload', { signatures: scanner.version().database.signatures }, deps.stderr);
    },
  };
  // --self-check wins over the configuration's SelfCheck when given.
  const selfCheck = program.getOptionValueSource('selfCheck') === 'default' && scanOpts?.selfCheck !== undefined ? scanOpts.selfCheck : Number(flags.selfCheck);
  const stopWatching = Number.isFinite(selfCheck) && selfCheck > 0
    ? watchDatabases(resolveLoad(databases, false).paths, selfCheck * 1000, async () => {
      deps.stderr.write('SelfCheck: Database modification detected. Forcing reload.\n');
      scanLog?.info('SelfCheck: Database modification detected. Forcing reload.');
      await service.reload();
    })
    : undefined;

  afterInstall = () => service.reload();

  let stopRequested!: () => void;
  const stopped = new Promise<void>((resolve) => { stopRequested = resolve; });
  const clamd = config.localSocket || config.tcpSocket !== undefined
    ? new ClamdServer({ service, config, onShutdown: () => stopRequested(), log: (m) => { deps.stderr.write(`${m}\n`); scanLog?.info(m); }, ...(scanLog ? { scanLog } : {}) })
    : undefined;
  let web: HttpServerHandle | undefined;
  let realtime: WatchService | undefined;
  let protection: ProtectionService | undefined;
  /** Stops whatever was started, in reverse dependency order (the scanner last). */
  const shutdown = async (): Promise<void> => {
    updates?.stop();
    clamavUpdates?.stop();
    stopWatching?.();
    await realtime?.stop();
    await protection?.stop();
    await clamd?.close();
    await web?.close();
    await scanner.close();
  };
  try {
    if (flags.shield.length > 0) {
      protection = await startProtection({
        paths: flags.shield, scanner, shieldAction: flags.shieldAction as ShieldAction, watchAction: flags.watchAction as WatchAction,
        snapshotEvery, stdout: deps.stdout, stderr: deps.stderr,
      });
      deps.stdout.write(`ransomware shield over ${protection.shield.roots.join(', ')} (action ${flags.shieldAction}; versioned copies every ${snapshotEvery} s and on each change)\n`);
    }
    if (flags.watch.length > 0) {
      // Real-time scanning shares the daemon's scanner (and follows its reloads).
      realtime = await startWatchService({
        paths: flags.watch, scanner, action: flags.watchAction as WatchAction, exclude: { globs: flags.watchExclude },
        stdout: deps.stdout, stderr: deps.stderr,
      });
      deps.stdout.write(`real-time scanning of ${realtime.watcher.watched.join(', ')} (action ${flags.watchAction})\n`);
    }
    if (clamd) {
      const where = await clamd.listen();
      if (where.unix) deps.stdout.write(`clamd protocol on unix:${where.unix}\n`);
      for (const t of where.tcp) deps.stdout.write(`clamd protocol on tcp:${t.address}:${t.port}\n`);
    }
    if (http) {
      web = await startHttpServer({
        host: http.host, port: http.port, service, ...(flags.httpToken ? { token: flags.httpToken } : {}),
        maxBodySize: config.streamMaxLength, versionDetails: () => ({ ...scanner.version() }),
      });
      deps.stdout.write(`HTTP API on http://${web.host.includes(':') ? `[${web.host}]` : web.host}:${web.port}\n`);
    }
  } catch (e) {
    deps.stderr.write(`ERROR: ${e instanceof Error ? e.message : String(e)}\n`);
    await shutdown();
    scanLog?.close();
    return 2;
  }

  recordSettings('daemon', {
    config: flags.config ?? null, clamd: config, databases, http: flags.http ?? null, httpToken: flags.httpToken ? 'set' : null,
    threads: flags.threads ?? null, selfCheck, watch: flags.watch, watchAction: flags.watchAction, watchExclude: flags.watchExclude,
    shield: flags.shield, shieldAction: flags.shieldAction, snapshotEvery, scan: scanOpts ? { ...scanOpts, errors: undefined } : null,
    updateMirror: flags.updateMirror, updatePubkey: flags.updatePubkey ?? null, updateLogPubkey: flags.updateLogPubkey ?? null, updateEvery: flags.updateMirror.length > 0 || flags.updateClamavMirror.length > 0 ? updateEvery : null,
    updateClamavMirror: flags.updateClamavMirror, updateClamavDb: flags.updateClamavMirror.length > 0 ? flags.updateClamavDb : null,
  }, deps.stderr);
  recordAudit('daemon-start', {
    pid: process.pid, signatures: scanner.version().database.signatures, clamd: config.localSocket ?? (config.tcpSocket !== undefined ? `tcp:${config.tcpSocket}` : null),
    http: flags.http ?? null, watch: flags.watch, shield: flags.shield,
  }, deps.stderr);
  const onSignal = (): void => stopRequested();
  if (!deps.stopSignal) {
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  await Promise.race([stopped, ...(deps.stopSignal ? [deps.stopSignal] : [])]);
  process.removeListener('SIGTERM', onSignal);
  process.removeListener('SIGINT', onSignal);
  await shutdown();
  scanLog?.info(`--- Stopped at ${ctime(Math.floor(Date.now() / 1000))}`);
  recordAudit('daemon-stop', { pid: process.pid }, deps.stderr);
  scanLog?.close();
  return 0;
}
