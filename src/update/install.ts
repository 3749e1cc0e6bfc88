/**
 * The installed signature database of `vigil update`: verified bundles installed side by side and
 * switched atomically, the last known-good kept, the update state remembered.
 *
 * In: the path the scanner reads (`--db DIR`, by default `$VIGIL_HOME/db`); bundle files with the
 * publisher's key and, where configured, the log's key. Out: an installed version, or the reason a
 * bundle was refused; `rollback` to the previous version; the state (installed version, highest
 * version ever installed, the last log tree head seen).
 * Why: an update must never leave a machine without a working database, never go back to an
 * older (replayed) bundle, and never accept what the public log does not hold.
 *
 * Layout: DIR is a symbolic link to `.DIR.d/versions/V-HASH12` (relative); beside it
 *   .DIR.d/state.json         {format, highest_version, last_head?, log_id?, history, rolled_back}
 *   .DIR.d/versions/V-HASH12/ the files of bundle version V (manifest hash prefix HASH12)
 *   .DIR.d/versions/V-HASH12.json  its manifest, manifest hash, log proof, install time
 *   .DIR.d/lock               held (O_EXCL, with the pid) while installing
 * Install order: verify, extract into a new directory (fsynced), test-load it, record the log
 * head, write the version's record, switch the link with one rename, then the state. A SIGKILL at
 * any point leaves DIR pointing at a complete version: the old one until the rename, the new one
 * after it; the link is the truth about what is installed, and the state is repaired from it.
 */
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fsyncDir, writeFileAtomic } from '../core/newfile.js';
import { basename, dirname, join } from 'node:path';
import { BundleError, extractBundle, verifyBundleOrThrow, type BundleManifest, type KeyInput, type VerifiedBundle } from './bundle.js';
import { checkLogged, LogError, logId, type BundleProof, type ConsistencySource, type SeenHead } from './transparency.js';

export const STATE_FORMAT = 'vigil-update-state/1';
/** Versions kept on disk: the installed one and the ones before it (known-good). */
export const KEEP_VERSIONS = 3;

export interface InstalledVersion {
  version: number;
  manifest_sha256: string;
  publisher: string;
  created: string;
  expires: string;
  installed: string;
  dir: string;
  proof?: BundleProof;
}

export interface UpdateState {
  format: string;
  highest_version: number;
  last_head?: SeenHead;
  log_id?: string;
  history: { version: number; manifest_sha256: string; installed: string; action: 'install' | 'rollback' }[];
  rolled_back: string[];
}

export class UpdateError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'UpdateError';
  }
}

export interface InstallOptions {
  pubkey: KeyInput;
  /** The log's public key: the bundle must carry a proof of inclusion consistent with the last head. */
  logPubkey?: KeyInput;
  fetchConsistency?: ConsistencySource;
  now?: () => Date;
  /** Test-loads an extracted version; returns why it can't be used, or undefined. */
  validate?: (dir: string) => string | undefined;
  /** Called at each step (fault-injection tests). */
  step?: (name: string) => void;
}

export type InstallResult =
  | { status: 'installed'; installed: InstalledVersion; previous?: InstalledVersion; logChecked: boolean }
  | { status: 'current'; installed: InstalledVersion; logChecked: boolean };


function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

export class DbStore {
  readonly db: string;
  readonly root: string;
  readonly versions: string;

  constructor(db: string) {
    this.db = db;
    this.root = join(dirname(db), `.${basename(db)}.d`);
    this.versions = join(this.root, 'versions');
  }

  /** Takes the install lock (a stale lock of a dead process is taken over); returns its release. */
  lock(): () => void {
    mkdirSync(this.versions, { recursive: true, mode: 0o755 });
    const path = join(this.root, 'lock');
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o644);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return () => rmSync(path, { force: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        let pid = NaN;
        try { pid = Number(readFileSync(path, 'utf8').trim()); } catch { /* removed meanwhile */ }
        if (Number.isSafeInteger(pid) && pid > 0 && pidAlive(pid)) throw new UpdateError('locked', `another update (pid ${pid}) is installing into ${this.db}`);
        rmSync(path, { force: true });
      }
    }
    throw new UpdateError('locked', `can't take the update lock ${path}`);
  }

  /** The installed version, from the link; undefined when nothing is installed. */
  current(): InstalledVersion | undefined {
    let st;
    try { st = lstatSync(this.db); } catch { return undefined; }
    if (!st.isSymbolicLink()) {
      throw new UpdateError('unmanaged', `${this.db} is not managed by vigil update (it is a ${st.isDirectory() ? 'directory' : 'file'}, not a link it made); move it aside or choose another --db`);
    }
    const target = readlinkSync(this.db);
    const name = basename(target);
    return this.#record(name);
  }

  #record(name: string): InstalledVersion {
    const path = join(this.versions, `${name}.json`);
    let v: unknown;
    try { v = JSON.parse(readFileSync(path, 'utf8')); } catch (e) {
      throw new UpdateError('damaged', `${path}: the record of the installed version can't be read: ${(e as Error).message}`);
    }
    const r = v as InstalledVersion;
    if (typeof r.version !== 'number' || typeof r.manifest_sha256 !== 'string') throw new UpdateError('damaged', `${path}: not a version record`);
    return { ...r, dir: join(this.versions, name) };
  }

  /** Installed versions on disk, newest install first (from the state's history). */
  kept(): InstalledVersion[] {
    const out: InstalledVersion[] = [];
    if (!existsSync(this.versions)) return out;
    for (const n of readdirSync(this.versions)) {
      if (!n.endsWith('.json') || n.includes('.tmp-')) continue;
      const name = n.slice(0, -5);
      if (!existsSync(join(this.versions, name))) continue;
      try { out.push(this.#record(name)); } catch { /* a damaged record is not a usable version */ }
    }
    return out.sort((a, b) => b.installed.localeCompare(a.installed) || b.version - a.version);
  }

  state(): UpdateState {
    const path = join(this.root, 'state.json');
    const fresh: UpdateState = { format: STATE_FORMAT, highest_version: 0, history: [], rolled_back: [] };
    let s: UpdateState = fresh;
    if (existsSync(path)) {
      try {
        const v = JSON.parse(readFileSync(path, 'utf8')) as UpdateState;
        if (v.format !== STATE_FORMAT || typeof v.highest_version !== 'number') throw new Error('not an update state');
        s = { ...fresh, ...v };
      } catch (e) {
        throw new UpdateError('damaged', `${path}: ${(e as Error).message}; the update state is damaged (remove it to start afresh, which forgets the highest version and the log head seen)`);
      }
    }
    // The link is the truth about what is installed: a crash between the switch and the state
    // write leaves the state one version behind.
    const cur = this.current();
    if (cur && cur.version > s.highest_version) s.highest_version = cur.version;
    return s;
  }

  #saveState(s: UpdateState): void {
    writeFileAtomic(join(this.root, 'state.json'), `${JSON.stringify(s, null, 1)}\n`);
  }

  #switch(name: string): void {
    const tmp = join(dirname(this.db), `.${basename(this.db)}.link-${randomBytes(6).toString('hex')}`);
    symlinkSync(join(basename(this.root), 'versions', name), tmp);
    try {
      renameSync(tmp, this.db);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    fsyncDir(dirname(this.db));
  }

  /** Checks a bundle file and installs it; throws `BundleError`, `LogError` or `UpdateError`. */
  async install(file: Uint8Array, opts: InstallOptions): Promise<InstallResult> {
    const step = opts.step ?? ((): void => {});
    const now = opts.now ?? (() => new Date());
    mkdirSync(dirname(this.db), { recursive: true });
    const release = this.lock();
    try {
      step('locked');
      const state = this.state();
      const cur = this.current();
      const v = verifyBundleOrThrow(file, opts.pubkey, { now: now() });
      if (cur && v.manifestHash === cur.manifest_sha256) {
        const logChecked = opts.logPubkey !== undefined ? await this.#checkLog(v, state, opts) !== undefined : false;
        return { status: 'current', installed: cur, logChecked };
      }
      if (state.rolled_back.includes(v.manifestHash)) {
        throw new UpdateError('rolled-back', `version ${v.manifest.version} (${v.manifestHash.slice(0, 16)}…) was rolled back here; waiting for a newer one`);
      }
      if (v.manifest.version <= state.highest_version) {
        throw new BundleError('rollback', `bundle version ${v.manifest.version} is not newer than version ${state.highest_version}, already installed here (a replayed or older bundle)`);
      }
      let head: SeenHead | undefined;
      if (opts.logPubkey !== undefined) {
        head = await this.#checkLog(v, state, opts);
        step('log-checked');
      }
      const name = `${v.manifest.version}-${v.manifestHash.slice(0, 12)}`;
      const dir = join(this.versions, name);
      rmSync(dir, { recursive: true, force: true }); // a leftover of an interrupted attempt; never the current one
      rmSync(`${dir}.json`, { force: true });
      extractBundle(file, opts.pubkey, dir, { now: now() });
      step('extracted');
      const problem = opts.validate?.(dir);
      if (problem !== undefined) {
        rmSync(dir, { recursive: true, force: true });
        throw new UpdateError('unusable', `version ${v.manifest.version} does not load: ${problem}`);
      }
      step('validated');
      const record: InstalledVersion = {
        version: v.manifest.version, manifest_sha256: v.manifestHash, publisher: v.manifest.publisher,
        created: v.manifest.created, expires: v.manifest.expires, installed: new Date(now()).toISOString(), dir: name,
        ...(v.proof ? { proof: v.proof } : {}),
      };
      writeFileAtomic(`${dir}.json`, `${JSON.stringify(record)}\n`);
      step('recorded');
      if (head) {
        state.last_head = head;
        state.log_id = logId(opts.logPubkey!);
        this.#saveState(state);
        step('head-saved');
      }
      this.#switch(name);
      step('switched');
      state.highest_version = Math.max(state.highest_version, v.manifest.version);
      state.history.push({ version: v.manifest.version, manifest_sha256: v.manifestHash, installed: record.installed, action: 'install' });
      if (state.history.length > 1000) state.history.splice(0, state.history.length - 1000);
      this.#saveState(state);
      step('state-saved');
      this.#prune(name, cur ? basename(cur.dir) : undefined);
      step('pruned');
      return { status: 'installed', installed: { ...record, dir }, ...(cur ? { previous: cur } : {}), logChecked: head !== undefined };
    } finally {
      release();
    }
  }

  async #checkLog(v: VerifiedBundle, state: UpdateState, opts: InstallOptions): Promise<SeenHead> {
    if (v.proofError) throw v.proofError;
    const id = logId(opts.logPubkey!);
    const lastSeen = state.log_id === id ? state.last_head : undefined;
    const r = await checkLogged(v.proof, { manifestHash: v.manifestHash, publisher: v.manifest.publisher, version: v.manifest.version }, opts.logPubkey!, lastSeen, opts.fetchConsistency);
    return r.head;
  }

  /** Keeps the installed version, the one before it, and the newest others up to KEEP_VERSIONS. */
  #prune(current: string, previous: string | undefined): void {
    const keep = new Set([current, ...(previous ? [previous] : [])]);
    for (const k of this.kept()) {
      if (keep.size >= KEEP_VERSIONS) break;
      keep.add(basename(k.dir));
    }
    for (const n of readdirSync(this.versions)) {
      const name = n.endsWith('.json') ? n.slice(0, -5) : n;
      if (keep.has(name)) continue;
      rmSync(join(this.versions, n), { recursive: true, force: true });
    }
  }

  /**
   * Goes back to the version installed before the current one (the last known-good); the
   * current one is remembered as rolled back and not installed again.
   */
  rollback(now: () => Date = () => new Date()): { from: InstalledVersion; to: InstalledVersion } {
    const release = this.lock();
    try {
      const state = this.state();
      const cur = this.current();
      if (!cur) throw new UpdateError('nothing', `nothing is installed in ${this.db}`);
      const candidates = this.kept().filter((k) => k.manifest_sha256 !== cur.manifest_sha256 && !state.rolled_back.includes(k.manifest_sha256));
      // The previous install in the history, else the newest other version kept.
      const hist = [...state.history].reverse().map((h) => h.manifest_sha256);
      candidates.sort((a, b) => {
        const ia = hist.indexOf(a.manifest_sha256);
        const ib = hist.indexOf(b.manifest_sha256);
        return (ia < 0 ? Infinity : ia) - (ib < 0 ? Infinity : ib) || b.version - a.version;
      });
      const to = candidates[0];
      if (!to) throw new UpdateError('nothing', `no earlier version is kept in ${this.versions} to go back to`);
      this.#switch(basename(to.dir));
      state.rolled_back.push(cur.manifest_sha256);
      state.history.push({ version: to.version, manifest_sha256: to.manifest_sha256, installed: now().toISOString(), action: 'rollback' });
      this.#saveState(state);
      return { from: cur, to };
    } finally {
      release();
    }
  }
}

export type { BundleManifest, LogError };
