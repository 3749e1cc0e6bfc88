/**
 * `vigil status`: what protection this machine has, honestly.
 *
 *   vigil status [--json] [--state DIR] [--vault DIR] [-d DB]...
 *
 * In: arguments, output streams. Out: what this platform can and cannot do in real time (Linux:
 * inotify, detection after the write, no blocking without fanotify permission events; the inotify
 * limits read from /proc and what they allow; whether running as root; the macOS and Windows
 * equivalents), what is watched (from the watcher's state directory: roots, since when, whether a
 * watcher is running, events seen, the last scan), the database that would be loaded (signatures,
 * versions), the vault (records), and the privacy promise. Exit 0; 2 on bad arguments. Why: users
 * of real-time protection ask first what it really covers; this answers from the machine itself,
 * reading state, never changing it (the vault is only opened when it exists).
 */
import { DbStore } from '../update/install.js';
import { defaultUpdateDb } from './update.js';
import { existsSync } from 'node:fs';
import { arch, release } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { loadDatabase } from '../lib/scanner.js';
import { inotifyLimits, processAlive, readAllStates, type InotifyLimits } from '../protect/watch/index.js';
import { defaultVaultDir, openVault } from '../protect/vault/index.js';
import { vigilHome } from './home.js';

export interface StatusDeps {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

interface StatusFlags { json?: boolean; state?: string; vault?: string; database: string[] }

export const PRIVACY = 'no file and no file name leaves this machine; the only network access is vigil update (and the daemon\'s scheduled updates) reaching the mirrors and log given to it';

export interface PlatformStatus {
  os: string;
  release: string;
  arch: string;
  root: boolean;
  /** Each line: what works, what does not, and why. */
  realtime: { method: string; can: string[]; cannot: string[] };
  inotify?: InotifyLimits;
  fanotifyInKernel?: boolean;
  otherPlatforms: Record<string, string>;
}

const OTHER: Record<string, string> = {
  linux: 'inotify via @parcel/watcher: detection after the write; one watch per directory (fs.inotify.max_user_watches); blocking before open needs fanotify permission events and root (not provided)',
  darwin: 'FSEvents via @parcel/watcher: whole trees without per-directory limits; detection after the write; blocking needs an Endpoint Security system extension (not provided)',
  win32: 'ReadDirectoryChangesW via @parcel/watcher: detection after the write; blocking needs a file-system minifilter driver (not provided)',
};

export function platformStatus(): PlatformStatus {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const os = process.platform;
  const others = Object.fromEntries(Object.entries(OTHER).filter(([k]) => k !== os));
  if (os === 'linux') {
    const lim = inotifyLimits();
    const fan = existsSync('/proc/sys/fs/fanotify');
    const can = [
      'scan new, changed and moved-in files once their writes settle (inotify through @parcel/watcher), and quarantine, delete or report what is infected',
      'scan what changed while the watcher was stopped, at its next start (snapshots)',
    ];
    const cannot = [
      'block a file before it is opened or executed: detection happens after the write, so another process can read an infected file in the moments before it is scanned (blocking needs fanotify permission events, root and a kernel built with CONFIG_FANOTIFY_ACCESS_PERMISSIONS; vigil does not use them)',
      'tell which process wrote a file (inotify does not say)',
    ];
    if (lim.maxUserWatches !== undefined) {
      const free = lim.maxUserWatches - (lim.watchesInUse ?? 0);
      (free > 0 ? can : cannot).push(`watch about ${free.toLocaleString('en')} more directories as this user (fs.inotify.max_user_watches ${lim.maxUserWatches.toLocaleString('en')}, ${(lim.watchesInUse ?? 0).toLocaleString('en')} in use; one watch per directory)`);
    }
    if (lim.maxUserInstances !== undefined) {
      can.push(`run ${Math.max(0, lim.maxUserInstances - (lim.instancesInUse ?? 0))} more watching processes as this user (fs.inotify.max_user_instances ${lim.maxUserInstances}, ${lim.instancesInUse ?? 0} in use)`);
    }
    if (lim.maxQueuedEvents !== undefined) {
      cannot.push(`keep more than ${lim.maxQueuedEvents.toLocaleString('en')} unread events (fs.inotify.max_queued_events): a burst beyond it loses events until the next restart's catch-up`);
    }
    return { os, release: release(), arch: arch(), root, realtime: { method: 'inotify (@parcel/watcher)', can, cannot }, inotify: lim, fanotifyInKernel: fan, otherPlatforms: others };
  }
  const method = os === 'darwin' ? 'FSEvents (@parcel/watcher)' : os === 'win32' ? 'ReadDirectoryChangesW (@parcel/watcher)' : 'brute force polling (@parcel/watcher)';
  return {
    os, release: release(), arch: arch(), root,
    realtime: {
      method,
      can: ['scan new, changed and moved-in files once their writes settle, and quarantine, delete or report what is infected', 'scan what changed while the watcher was stopped, at its next start'],
      cannot: [os === 'darwin' ? 'block a file before it is opened (needs an Endpoint Security system extension)' : os === 'win32' ? 'block a file before it is opened (needs a minifilter driver)' : 'block a file before it is opened', 'tell which process wrote a file'],
    },
    otherPlatforms: others,
  };
}

export async function runStatus(args: string[], deps: StatusDeps): Promise<number> {
  const program = new Command('vigil status')
    .description('what real-time protection covers here: platform, watched folders, database, vault')
    .exitOverride()
    .helpOption('-h, --help', 'show this help')
    .option('--json', 'print one JSON object')
    .option('--state <dir>', "the watcher's state directory (default: $VIGIL_HOME/watch)")
    .option('--vault <dir>', 'the quarantine vault (default: $VIGIL_HOME/quarantine)')
    .option('-d, --database <path>', 'database file or directory (repeatable; default: the default databases)', (v: string, p: string[]) => [...p, v], [] as string[])
    .configureOutput({ writeOut: (s) => { deps.stdout.write(s); }, writeErr: (s) => { deps.stderr.write(s); } });
  let flags: StatusFlags;
  try {
    program.parse(args, { from: 'user' });
    flags = program.opts<StatusFlags>();
  } catch (e) {
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' ? 0 : 2;
    throw e;
  }

  const platform = platformStatus();

  const stateDir = flags.state ?? join(vigilHome(), 'watch');
  const st = readAllStates(stateDir);
  const roots = st.states.map((s) => ({
    root: s.root, since: s.since,
    status: s.running && processAlive(s.pid) ? 'watching' : s.running ? 'not running (the watcher ended without stopping)' : 'not running',
    pid: s.pid, updatedAt: s.updatedAt, eventsSeen: s.eventsSeen, scanned: s.scanned, infected: s.infected,
    ...(s.lastScan ? { lastScan: s.lastScan } : {}), ...(s.snapshotAt ? { snapshotAt: s.snapshotAt } : {}), pending: s.pending.length,
  }));

  let database: { signatures: number; daily?: { version: number; time: number }; files: { path: string; kind: string; signatures: number }[] } | { error: string };
  try {
    const db = await loadDatabase(flags.database.length > 0 ? { databases: flags.database } : {});
    database = { signatures: db.info.signatures, ...(db.info.daily ? { daily: db.info.daily } : {}), files: db.info.files };
  } catch (e) {
    database = { error: e instanceof Error ? e.message : String(e) };
  }

  const vaultDir = flags.vault ?? defaultVaultDir();
  let vault: { dir: string; records: number; problems: number } | { dir: string; error: string } | { dir: string; absent: true };
  if (!existsSync(vaultDir)) {
    vault = { dir: vaultDir, absent: true };
  } else {
    try {
      const v = openVault(vaultDir);
      try {
        const list = v.list();
        vault = { dir: vaultDir, records: list.length, problems: list.filter((x) => x.problems.length > 0).length };
      } finally {
        v.close();
      }
    } catch (e) {
      vault = { dir: vaultDir, error: e instanceof Error ? e.message : String(e) };
    }
  }

  // Signed updates (vigil update): what is installed, whether the log vouched for it.
  let updates: { db: string; version?: number; publisher?: string; expires?: string; logged?: boolean; logHead?: number; error?: string } = { db: defaultUpdateDb() };
  try {
    const store = new DbStore(updates.db);
    const cur = store.current();
    if (cur) {
      const state = store.state();
      updates = { ...updates, version: cur.version, publisher: cur.publisher, expires: cur.expires, logged: cur.proof !== undefined && state.last_head !== undefined, ...(state.last_head ? { logHead: state.last_head.tree_size } : {}) };
    }
  } catch (e) {
    updates = { ...updates, error: e instanceof Error ? e.message : String(e) };
  }

  if (flags.json) {
    deps.stdout.write(`${JSON.stringify({ platform, watch: { stateDir, roots, errors: st.errors }, database, updates, vault, privacy: PRIVACY })}\n`);
    return 0;
  }
  const w = (s: string) => { deps.stdout.write(`${s}\n`); };
  w(`Platform: ${platform.os} ${platform.release} (${platform.arch}), ${platform.root ? 'running as root' : 'not running as root'}`);
  w(`  real-time scanning: ${platform.realtime.method}`);
  for (const c of platform.realtime.can) w(`  can:    ${c}`);
  for (const c of platform.realtime.cannot) w(`  cannot: ${c}`);
  if (platform.fanotifyInKernel !== undefined) w(`  fanotify in this kernel: ${platform.fanotifyInKernel ? 'present (not used by vigil)' : 'absent'}`);
  for (const [os, line] of Object.entries(platform.otherPlatforms)) w(`  on ${os === 'darwin' ? 'macOS' : os === 'win32' ? 'Windows' : 'Linux'}: ${line}`);
  w(`Watched (state in ${stateDir}):`);
  if (roots.length === 0) w('  nothing (start with: vigil watch PATH...)');
  for (const r of roots) {
    w(`  ${r.root}: ${r.status === 'watching' ? `watching (pid ${r.pid})` : r.status}, since ${r.since}; ${r.eventsSeen} events, ${r.scanned} scanned, ${r.infected} infected${r.pending ? `, ${r.pending} waiting to be scanned` : ''}`);
    w(`    last scan: ${r.lastScan ? `${r.lastScan.time} ${r.lastScan.path} (${r.lastScan.verdict})` : 'none'}; last snapshot: ${r.snapshotAt ?? 'none'}`);
  }
  for (const e of st.errors) w(`  unreadable: ${e}`);
  if ('error' in database) {
    w(`Database: not loaded: ${database.error}`);
  } else {
    w(`Database: ${database.signatures.toLocaleString('en')} signatures${database.daily ? `, daily ${database.daily.version} built ${new Date(database.daily.time * 1000).toISOString()}` : ''}`);
    for (const f of database.files) w(`  ${f.path} (${f.kind}): ${f.signatures.toLocaleString('en')}`);
  }
  if (updates.error) w(`Signed updates: ${updates.error}`);
  else if (updates.version === undefined) w(`Signed updates: none installed in ${updates.db} (vigil update --mirror URL --pubkey KEY --log-pubkey LOGKEY)`);
  else w(`Signed updates: version ${updates.version} from ${updates.publisher} in ${updates.db}, expires ${updates.expires}; ${updates.logged ? `checked against the transparency log (tree size ${updates.logHead})` : 'NOT checked against a transparency log'}`);
  if ('absent' in vault) w(`Vault: empty (${vault.dir} not created yet)`);
  else if ('error' in vault) w(`Vault: unreadable: ${vault.error}`);
  else w(`Vault: ${vault.records} quarantined file${vault.records === 1 ? '' : 's'}${vault.problems ? ` (${vault.problems} with problems: see vigil quarantine list)` : ''} in ${vault.dir}`);
  w(`Privacy: ${PRIVACY}.`);
  return 0;
}
