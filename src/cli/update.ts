/**
 * `vigil update` and `vigil mirror serve`.
 *
 *   vigil update --mirror URL... | --bundle FILE...  --pubkey PUB [--log-pubkey LOGPUB] [--log URL]
 *                [--db DIR] [--json]
 *       fetch the newest valid signed bundle (or delta) and install it atomically into DIR
 *       (default $VIGIL_HOME/db); older, tampered, unlogged, expired bundles are refused
 *   vigil update --rollback [--db DIR]      go back to the previous (known-good) version
 *   vigil update --show [--db DIR]          what is installed, the versions kept, the log head seen
 *   vigil update --clamav-mirror URL... [--clamav-db NAMES] [--db DIR]
 *       ClamAV's official databases as freshclam fetches them (.cvd and .cdiff, every signature
 *       checked) into DIR (default $VIGIL_HOME/clamav) under their official names; freshclam's
 *       exit codes (src/update/freshclam.ts)
 *   vigil mirror serve DIR --listen HOST:PORT
 *       serve every bundle and delta in DIR (GET /index.json, GET /files/NAME)
 *
 * In: arguments and output streams. Out: exit code 0 (installed, or already up to date), 1 (the
 * installed version has expired and nothing newer was offered), 2 (every newer candidate refused,
 * or an error), with each refusal's source and reason on stderr.
 * Why: the client side of signed, publicly logged updates (src/update/).
 */
import { commandGroup, parseCommand } from './program.js';
import { readFileSync } from 'node:fs';
import { databaseFingerprint } from '../daemon/selfcheck.js';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { vigilHome } from '../core/home.js';
import { DbStore, UpdateError } from '../update/install.js';
import { startMirror } from '../update/mirror.js';
import { consistencySource } from '../update/log-client.js';
import { updateClamav } from '../update/freshclam.js';
import { reasonOf, runUpdate, type UpdateReport } from '../update/update.js';
import { recordAudit, recordSettings } from './audit.js';
import { createHash } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import { keyFingerprint } from '../update/bundle.js';
import { logId } from '../update/transparency.js';
import { loadErrors, loadWithCache, resolveLoad } from './engine-loader.js';

export interface UpdateDeps {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  now?: () => Date;
  fetch?: typeof fetch;
  /** Resolves when `mirror serve` should stop (tests); SIGINT/SIGTERM otherwise. */
  stopSignal?: Promise<void>;
  step?: (name: string) => void;
}

export function defaultUpdateDb(): string {
  return join(vigilHome(), 'db');
}

export function defaultClamavDb(): string {
  return join(vigilHome(), 'clamav');
}

/** Test-loads a version directory as the scanner would: every file parses and compiles. */
export function validateDatabase(dir: string): string | undefined {
  try {
    const { set, body } = loadWithCache(resolveLoad([dir], false), { useCache: false, writeCache: false });
    if (!set.ok || !body) return loadErrors(set).slice(0, 5).join('; ') || 'the database does not load';
    if (set.known === 0) return 'no signatures in it';
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface UpdateFlags {
  mirror: string[];
  bundle: string[];
  pubkey?: string;
  logPubkey?: string;
  log?: string;
  db?: string;
  json: boolean;
  rollback: boolean;
  show: boolean;
  clamavMirror: string[];
  clamavDb?: string;
}

function readKey(path: string, what: string): string {
  try { return readFileSync(path, 'utf8'); } catch (e) { throw new UpdateError('bad-key', `can't read the ${what} ${path}: ${(e as Error).message}`); }
}

/** Writes an update's report; returns its exit code. */
export function reportUpdate(r: UpdateReport, db: string, logKeyGiven: boolean, deps: Pick<UpdateDeps, 'stdout' | 'stderr'>, json: boolean): number {
  const code = r.status === 'refused' ? 2 : r.warnings.some((w) => w.includes('expired')) && r.status !== 'installed' ? 1 : 0;
  if (json) {
    deps.stdout.write(`${JSON.stringify({ db, ...r, logChecked: r.logChecked, exitCode: code })}\n`);
  } else {
    for (const x of r.refused) deps.stderr.write(`REFUSED ${x.source}${x.version ? ` (version ${x.version})` : ''}: ${x.reason}\n`);
    for (const w of r.warnings) deps.stderr.write(`WARNING: ${w}\n`);
    const i = r.installed;
    if (r.status === 'installed' && i) {
      deps.stdout.write(`Installed version ${i.version} (${i.publisher}, manifest ${i.manifest_sha256}, expires ${i.expires}) into ${db}${r.previous ? `; version ${r.previous.version} kept as the last known-good` : ''}\n`);
      if (i.proof) deps.stdout.write(`Log: entry ${i.proof.leaf_index} of a tree of ${i.proof.sth.tree_size}, ${r.logChecked ? 'inclusion and consistency checked' : 'not checked (no --log-pubkey)'}\n`);
    } else if (i) {
      deps.stdout.write(`${r.status === 'refused' ? 'Kept' : 'Up to date:'} version ${i.version} (${i.publisher}, expires ${i.expires}) in ${db}\n`);
    } else {
      deps.stdout.write(`Nothing installed in ${db}\n`);
    }
  }
  if (!logKeyGiven) deps.stderr.write('WARNING: no --log-pubkey: nothing was checked against a transparency log; a bundle that was never published could be installed\n');
  return code;
}

export async function runUpdateCli(args: string[], deps: UpdateDeps): Promise<number> {
  let code = 0;
  const program = new Command('vigil update')
    .description('install the newest valid signed signature bundle from mirrors or files')
    .exitOverride()
    .helpOption('-h, --help', 'show this help')
    .option('--mirror <url>', 'a mirror (vigil mirror serve); repeatable, tried in order', collect, [] as string[])
    .option('--bundle <file>', 'an offline bundle or delta file (repeatable)', collect, [] as string[])
    .option('--pubkey <file>', "the publisher's Ed25519 public key")
    .option('--log-pubkey <file>', "the transparency log's public key: refuse bundles not in the log, or in a forked one")
    .option('--log <url>', 'the transparency log, for consistency proofs a bundle does not carry')
    .option('--db <dir>', 'the database path to manage (a link to the installed version)')
    .option('--json', 'one JSON object with the outcome', false)
    .addOption(new Option('--rollback', 'go back to the version installed before this one').default(false).conflicts(['mirror', 'bundle']))
    .option('--clamav-mirror <url>', "fetch ClamAV's official databases from this mirror, as freshclam does (repeatable)", collect, [] as string[])
    .option('--clamav-db <names>', 'with --clamav-mirror: the databases, comma-separated', 'daily,main,bytecode')
    .addOption(new Option('--show', 'show what is installed and kept').default(false))
    .configureOutput({ writeOut: (s) => { deps.stdout.write(s); }, writeErr: (s) => { deps.stderr.write(s); } })
    .action(async (o: UpdateFlags) => {
      if (o.clamavMirror.length > 0) {
        if (o.mirror.length > 0 || o.bundle.length > 0 || o.rollback) {
          deps.stderr.write('vigil update: --clamav-mirror updates ClamAV databases; run it apart from --mirror, --bundle and --rollback\n');
          code = 2;
          return;
        }
        const dbDir = o.db ?? defaultClamavDb();
        const names = (o.clamavDb ?? 'daily,main,bytecode').split(',').map((n) => n.trim()).filter(Boolean);
        code = await updateClamav({ mirrors: o.clamavMirror, dbDir, names, ...(deps.fetch ? { fetch: deps.fetch } : {}), ...(deps.now ? { now: deps.now } : {}) }, deps);
        recordAudit('update-clamav', { db: dbDir, mirrors: o.clamavMirror, names, exit: code }, deps.stderr);
        return;
      }
      const db = o.db ?? defaultUpdateDb();
      const store = new DbStore(db);
      try {
        if (o.rollback) {
          const r = store.rollback(deps.now);
          deps.stdout.write(`Rolled back ${db} from version ${r.from.version} to version ${r.to.version}; version ${r.from.version} will not be installed again\n`);
          recordAudit('update-rollback', { db, from: r.from.version, to: r.to.version, from_manifest: r.from.manifest_sha256, to_manifest: r.to.manifest_sha256 }, deps.stderr);
          return;
        }
        if (o.show) {
          const cur = store.current();
          const st = store.state();
          deps.stdout.write(cur ? `Installed: version ${cur.version} (${cur.publisher}), manifest ${cur.manifest_sha256}, created ${cur.created}, expires ${cur.expires}\n` : 'Installed: nothing\n');
          deps.stdout.write(`Highest version installed: ${st.highest_version}\n`);
          deps.stdout.write(`Log head seen: ${st.last_head ? `size ${st.last_head.tree_size}, root ${st.last_head.root_hash}` : 'none'}\n`);
          for (const k of store.kept()) deps.stdout.write(`Kept: version ${k.version} (${k.manifest_sha256.slice(0, 16)}…) installed ${k.installed}${cur && k.manifest_sha256 === cur.manifest_sha256 ? ' [in use]' : ''}\n`);
          for (const h of st.rolled_back) deps.stdout.write(`Rolled back: ${h}\n`);
          return;
        }
        if (o.mirror.length === 0 && o.bundle.length === 0) throw new UpdateError('usage', 'give --mirror URL or --bundle FILE (or --rollback, --show)');
        if (!o.pubkey) throw new UpdateError('usage', "--pubkey is required: the publisher's public key");
        const pubkey = readKey(o.pubkey, 'public key');
        const logPubkey = o.logPubkey ? readKey(o.logPubkey, 'log public key') : undefined;
        const fetchConsistency = o.log ? consistencySource(o.log) : undefined;
        // Which keys are trusted is a setting whose every change the audit log keeps.
        recordSettings(`update-${createHash('sha256').update(resolvePath(db)).digest('hex').slice(0, 12)}`, {
          db: resolvePath(db), mirrors: o.mirror, log: o.log ?? null,
          publisherKey: keyFingerprint(pubkey), logKey: logPubkey !== undefined ? logId(logPubkey) : null,
        }, deps.stderr);
        const r = await runUpdate({
          db, mirrors: o.mirror, files: o.bundle, pubkey, validate: validateDatabase,
          ...(logPubkey !== undefined ? { logPubkey } : {}),
          ...(fetchConsistency ? { fetchConsistency } : {}),
          ...(deps.now ? { now: deps.now } : {}),
          ...(deps.step ? { step: deps.step } : {}),
        });
        code = reportUpdate(r, db, logPubkey !== undefined, deps, o.json);
        if (r.status === 'installed' && r.installed) {
          recordAudit('update-install', { db, version: r.installed.version, manifest: r.installed.manifest_sha256, publisher: r.installed.publisher, previous: r.previous?.version ?? null, log_checked: r.logChecked }, deps.stderr);
        }
        for (const x of r.refused) recordAudit('update-refused', { db, source: x.source, version: x.version, reason: x.reason }, deps.stderr);
      } catch (e) {
        deps.stderr.write(`vigil update: ${reasonOf(e)}\n`);
        code = 2;
      }
    });
  return (await parseCommand(program, args)) ?? code;
}

export interface UpdateSchedule {
  /** Runs one update now (after the one in progress, if any). */
  runNow(): Promise<void>;
  stop(): void;
}

/** Runs `job` every `everyMs` and on `runNow`, never two at once; nothing after `stop`. */
function schedule(everyMs: number, job: () => Promise<void>): UpdateSchedule {
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;
  const once = (): Promise<void> => (stopped ? Promise.resolve() : job());
  const runNow = (): Promise<void> => {
    chain = chain.then(once, once);
    return chain;
  };
  const timer = setInterval(() => { void runNow(); }, everyMs);
  timer.unref();
  return { runNow, stop: () => { stopped = true; clearInterval(timer); } };
}

/**
 * The daemon's scheduled updates: every `everyMs`, one update run (never two at once); after an
 * install, `onInstalled` (the daemon reloads its database). Each outcome is logged and audited.
 */
export function scheduleUpdates(o: {
  mirrors: string[]; pubkeyFile: string; logPubkeyFile?: string; db: string; everyMs: number;
  onInstalled: () => Promise<void>; log: (line: string) => void;
}): UpdateSchedule {
  const pubkey = readKey(o.pubkeyFile, 'public key');
  const logPubkey = o.logPubkeyFile ? readKey(o.logPubkeyFile, 'log public key') : undefined;
  return schedule(o.everyMs, async () => {
    try {
      const r = await runUpdate({
        db: o.db, mirrors: o.mirrors, pubkey, validate: validateDatabase,
        ...(logPubkey !== undefined ? { logPubkey } : {}),
      });
      for (const x of r.refused) {
        o.log(`update: REFUSED ${x.source}${x.version ? ` (version ${x.version})` : ''}: ${x.reason}`);
        recordAudit('update-refused', { db: o.db, source: x.source, version: x.version, reason: x.reason });
      }
      for (const w of r.warnings) o.log(`update: WARNING: ${w}`);
      if (logPubkey === undefined) o.log('update: WARNING: no log key: nothing was checked against a transparency log');
      if (r.status === 'installed' && r.installed) {
        o.log(`update: installed version ${r.installed.version} (${r.installed.manifest_sha256.slice(0, 16)}…) into ${o.db}`);
        recordAudit('update-install', { db: o.db, version: r.installed.version, manifest: r.installed.manifest_sha256, publisher: r.installed.publisher, previous: r.previous?.version ?? null, log_checked: r.logChecked });
        await o.onInstalled();
      }
    } catch (e) {
      o.log(`update: ${reasonOf(e)}`);
    }
  });
}

/**
 * The daemon's scheduled ClamAV updates (freshclam's job): every `everyMs`, `updateClamav` into
 * `dbDir`; when its files changed, `onInstalled` (the daemon reloads). freshclam's lines go to `log`.
 */
export function scheduleClamavUpdates(o: {
  mirrors: string[]; dbDir: string; names: string[]; everyMs: number;
  onInstalled: () => Promise<void>; log: (line: string) => void;
}): UpdateSchedule {
  const lines = { write: (s: string) => { for (const l of s.split('\n')) if (l.trim()) o.log(`clamav update: ${l}`); return true; } };
  return schedule(o.everyMs, async () => {
    const before = databaseFingerprint([o.dbDir]);
    try {
      const code = await updateClamav({ mirrors: o.mirrors, dbDir: o.dbDir, names: o.names }, { stdout: lines, stderr: lines });
      recordAudit('update-clamav', { db: o.dbDir, mirrors: o.mirrors, names: o.names, exit: code });
      if (databaseFingerprint([o.dbDir]) !== before) await o.onInstalled();
    } catch (e) {
      o.log(`clamav update: ${reasonOf(e)}`);
    }
  });
}

export async function runMirror(args: string[], deps: UpdateDeps): Promise<number> {
  let code = 0;
  const program = commandGroup('vigil mirror', deps);
  program
    .command('serve')
    .description('serve every bundle and delta in DIR over HTTP')
    .argument('<dir>', 'directory of bundles and deltas')
    .requiredOption('--listen <host:port>', 'address to listen on (port 0: any free port)')
    .action(async (dir: string, o: { listen: string }) => {
      const m = /^(.*):(\d+)$/.exec(o.listen);
      if (!m) { deps.stderr.write(`vigil mirror: --listen wants HOST:PORT, got ${o.listen}\n`); code = 2; return; }
      const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
      let server;
      try {
        server = await startMirror({ dir, host, port: Number(m[2]) });
      } catch (e) {
        deps.stderr.write(`vigil mirror: ${(e as Error).message}\n`);
        code = 2;
        return;
      }
      deps.stdout.write(`Serving ${dir} on ${server.url}\n`);
      const stop = deps.stopSignal ?? new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await stop;
      await server.close();
    });
  return (await parseCommand(program, args)) ?? code;
}
