/**
 * Versioned copies of protected folders, and rollback from them.
 *
 * In: protected roots (directories), periodic `snapshot(root)` calls and the watcher's settled
 * `recordChange(event)` calls; `rollback({ since, paths, dryRun })` after an incident.
 * Out: a store directory (default `$VIGIL_HOME/versions`, mode 0700) holding content-addressed
 * objects (`objects.ts`) and an SQLite index of versions (`db.ts`); rollback restores files
 * byte-identical with their mode, owner (as root) and mtime (to the microsecond: Node cannot set
 * nanoseconds), removes what appeared since, and
 * returns what it did (or would do) as `RollbackItem`s.
 *
 * The window, stated plainly. A user-space watcher is told of a write after it happened, so the
 * store can only hold what a file contained at the last copy: the last periodic snapshot, or the
 * last on-change copy, which is taken once the file's writes have settled. Whatever a file
 * received after its last copy and before the attack reached it has no copy and is lost to
 * rollback: a file created (or edited) and encrypted within the settle delay, or within the
 * snapshot period while the watcher is not running (daemon stopped, event queue overflowed).
 * Rollback then restores the last copy before `since` — an older content, or nothing for a file
 * that never had one — and says so per file. `window.test.ts` measures the loss for a fast
 * encryptor: with on-change copies after a 0.5 s settle delay, the changes lost were those written
 * up to 0.65-1.0 s before the attack: the settle delay, plus @parcel/watcher's batching (under
 * continuous writes it delivers events up to 0.5 s late), plus the copy; with snapshots alone,
 * every change since the last snapshot began. Only native file-system snapshots or pre-write
 * interception (fanotify permission events) close that window; this store does not pretend to.
 *
 * What the daemon must take care of: call `recordChange` only for files the scanner passed (a copy
 * of an infected file would come back with a rollback to before its quarantine), keep the store
 * out of what it scans and watches, call `hold` when the shield raises an alert, and `prune` now
 * and then.
 *
 * Further choices:
 * - A file is taken to be unchanged when size, mtime, ctime, inode and mode match its latest
 *   version (ctime cannot be set back by a program, unlike mtime), except when its mtime was
 *   within 2 s of the last check ("racy" files are hashed again), so an unchanged tree costs one
 *   `lstat` per file and no read.
 * - Rollback never destroys data: before it overwrites or removes a file it copies the file's
 *   current content into the store (a later rollback can bring it back), and it refuses to remove
 *   a file it could not copy. A restore is a temporary file renamed over the target, so a rollback
 *   killed at any point leaves each file either as it was or restored; running it again finishes
 *   the work and removes the temporary files the killed run left.
 * - Rollback's own copies (of what it overwrites or removes) are versions of the time they were
 *   taken: a `since` that falls inside an earlier rollback brings back the state at that moment,
 *   half rolled back. Pick a `since` before the incident, or after the earlier rollback.
 * - A file with no version from before `since` is removed when it did not exist then: the store
 *   recorded its deletion before `since`, or — where a snapshot had finished walking its folder before
 *   `since` — its birth time (ctime where the file system keeps none) is after `since`, or it
 *   carries the inode of another path's pre-`since` version (the original renamed, e.g. to
 *   `.locked`). A file that existed but has no copy is left in place and reported as not
 *   restorable. Without a snapshot from before `since` nothing is removed on a guess (`warn`).
 * - Retention prunes versions older than `maxAgeMs` and, above `maxBytes` of stored objects, the
 *   oldest versions first — never the latest version of a live file. An attack creates many new
 *   versions, which would push the good old ones out first: `hold(untilMs)` (called when an alert
 *   is raised) suspends pruning until then.
 * - Operations of one store run concurrently (copies, snapshots, rollback) but never alongside a
 *   prune, which takes the store for itself. Two processes may share a store (SQLite serializes
 *   the index), but a prune in one while the other copies can drop an object the other just
 *   deduplicated onto: run `prune` from the process that copies (the daemon).
 */
import { vigilHome } from '../../core/home.js';
import type { Stats } from 'node:fs';
import { lstat, mkdir, realpath, chmod, unlink, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { FileEvent, RollbackItem, VersionSource } from '../types.js';
import { VersionIndex, type NewVersion, type VersionRow } from './db.js';
import { ObjectStore, sha256Hex, type PutResult } from './objects.js';
import { RESTORE_TMP_PREFIX, checkParents, ensureParents, hashFile, isInside, openRegular, readStable, sameWrite, walkTree, writeAtomic } from './fsutil.js';

export interface Retention {
  /** Versions older than this are pruned (the latest version of a live file is always kept). Default 30 days; 0: no limit. */
  maxAgeMs?: number;
  /** Stored objects above this size make the oldest versions go first. Default 0: no limit. */
  maxBytes?: number;
}

export interface VersionStoreOptions {
  /** Store directory; default `$VIGIL_HOME/versions`. */
  dir?: string;
  /** Protected roots (added to those the store already knows). */
  roots?: string[];
  retention?: Retention;
  /** Files larger than this are not copied (reported as skipped). Default 16 GiB. */
  maxFileSize?: number;
  /** Files larger than this are streamed rather than read whole into memory. Default 16 MiB. */
  streamAbove?: number;
  /**
   * Files the store leaves alone: not copied, not restored, not removed (the shield's canaries,
   * which it plants and checks itself; a restored old canary would look like an attack on it).
   */
  exclude?: (path: string) => boolean;
}

export interface SnapshotResult {
  files: number;
  newBytes: number;
  /** Versions recorded (new or changed files, deletions). */
  changed: number;
  deleted: number;
  /** Files or directories that could not be read or copied, with the reason. */
  errors: { path: string; message: string }[];
}

export interface VersionRollbackItem extends RollbackItem {
  /** Why this item was not (or would not be) carried out; the file was left as it is. */
  error?: string;
  /** What else was done (e.g. a symbolic link found in place of a directory was removed). */
  note?: string;
  /** Why a file is removed. */
  reason?: 'deleted-before' | 'created-since' | 'renamed-since';
}

export interface PruneResult {
  versions: number;
  objects: number;
  bytes: number;
  /** Set when pruning is suspended by `hold`. */
  heldUntil?: number;
}

const DAY = 86_400_000;
const RACY_MS = 2000;
const DEFAULT_MAX_FILE = 16 * 1024 * 1024 * 1024;
const BATCH = 256;
const BIG_FILE = 16 * 1024 * 1024;

/** `$VIGIL_HOME/versions`, with `$VIGIL_HOME` defaulted as `src/cli/home.ts` does (the layer rule keeps `protect` from importing `cli`). */
export function defaultVersionsDir(): string {
  return join(vigilHome(), 'versions');
}

/** A shared/exclusive lock: copies and rollbacks share the store, a prune takes it alone. */
class SharedLock {
  private readers = 0;
  private writer = false;
  private waiting: (() => void)[] = [];

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writer) await new Promise<void>((r) => this.waiting.push(r));
    this.readers++;
    try { return await fn(); } finally { this.readers--; this.wake(); }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writer || this.readers > 0) await new Promise<void>((r) => this.waiting.push(r));
    this.writer = true;
    try { return await fn(); } finally { this.writer = false; this.wake(); }
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = [];
    for (const r of w) r();
  }
}

/** Runs at most `n` tasks at once. */
class Limiter {
  private active = 0;
  private queue: (() => void)[] = [];
  constructor(private readonly n: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try { return await fn(); } finally { this.active--; this.queue.shift()?.(); }
  }
}

type Capture =
  | { kind: 'new'; row: NewVersion; object?: { sha256: string; size: number; storedSize: number; codec: number }; newBytes: number }
  | { kind: 'same'; touch: { id: number; checked: number; dev: number; ino: number; ctime_ms: number } }
  | { kind: 'gone' }
  | { kind: 'skipped'; reason: string };

/**
 * Node sets times from a double of seconds and libuv keeps microseconds of it, so a restored
 * mtime equals the original to the microsecond (within 0.5 µs), not to the nanosecond.
 */
export const MTIME_PRECISION_MS = 0.001;

function sameMtime(a: number, b: number): boolean {
  return Math.abs(a - b) < MTIME_PRECISION_MS;
}

function birthOf(st: Stats): number {
  return st.birthtimeMs > 0 ? st.birthtimeMs : st.ctimeMs;
}

function unchanged(v: VersionRow, st: Stats): boolean {
  return v.sha256 !== null && v.size === st.size && v.mtime_ms === st.mtimeMs && v.ctime_ms === st.ctimeMs
    && v.ino === st.ino && v.dev === st.dev && v.mode === (st.mode & 0o7777) && v.mtime_ms < v.checked - RACY_MS;
}

function deletionRow(path: string, prev: VersionRow | undefined, time: number, origin: string): NewVersion {
  return {
    path, time, sha256: null, size: 0, mode: prev?.mode ?? 0, uid: prev?.uid ?? 0, gid: prev?.gid ?? 0,
    mtime_ms: prev?.mtime_ms ?? 0, ctime_ms: 0, dev: 0, ino: 0, checked: time, origin,
  };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class VersionStore implements VersionSource {
  private readonly lock = new SharedLock();
  private readonly io = new Limiter(4);
  private readonly big = new Limiter(1);
  private readonly onChange = new Limiter(2);
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly objects: ObjectStore,
    private readonly index: VersionIndex,
    private readonly retention: Required<Retention>,
    private readonly maxFileSize: number,
    private readonly streamAbove: number,
    private readonly exclude: (path: string) => boolean,
  ) {}

  static async open(opts: VersionStoreOptions = {}): Promise<VersionStore> {
    const dir = resolve(opts.dir ?? defaultVersionsDir());
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const st = await lstat(dir);
    if (!st.isDirectory()) throw new Error(`${dir}: the version store must be a directory`);
    if ((st.mode & 0o077) !== 0 && (typeof process.getuid !== 'function' || st.uid === process.getuid())) await chmod(dir, 0o700);
    const real = await realpath(dir);
    const objects = new ObjectStore(real);
    await objects.init();
    const index = new VersionIndex(real);
    const store = new VersionStore(real, objects, index, {
      maxAgeMs: opts.retention?.maxAgeMs ?? 30 * DAY,
      maxBytes: opts.retention?.maxBytes ?? 0,
    }, opts.maxFileSize ?? DEFAULT_MAX_FILE, opts.streamAbove ?? BIG_FILE, opts.exclude ?? (() => false));
    try {
      for (const r of opts.roots ?? []) await store.protect(r);
    } catch (e) {
      index.close();
      throw e;
    }
    return store;
  }

  /** Adds a protected root (a directory; recorded by its real path). Returns that path. */
  async protect(root: string): Promise<string> {
    const real = await realpath(resolve(root));
    const st = await lstat(real);
    if (!st.isDirectory()) throw new Error(`${root}: a protected root must be a directory`);
    if (isInside(real, this.dir)) throw new Error(`${root}: lies inside the version store ${this.dir}`);
    // A folder inside a protected root is protected already (and checked from that root down).
    if (!this.rootOf(real)) this.index.addRoot(real);
    return real;
  }

  roots(): string[] {
    return this.index.roots();
  }

  /** The outermost protected root containing `path` (absolute), if any. */
  rootOf(path: string): string | undefined {
    let best: string | undefined;
    for (const r of this.index.roots()) if (isInside(path, r) && (!best || r.length < best.length)) best = r;
    return best;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.index.close();
  }

  /** Records a version of every new or changed file under `root`, and the deletions since the last snapshot. */
  async snapshot(root: string): Promise<SnapshotResult> {
    // A folder already protected is taken as it is named: if it was replaced by a link since, the
    // link is not followed (resolving it could make a snapshot of `/`).
    const abs = resolve(root);
    let real: string;
    if (this.rootOf(abs)) {
      const chk = await checkParents(join(abs, '_'), this.rootOf(abs)!);
      if (chk.bad) throw new Error(`${root}: ${chk.bad} is ${chk.kind === 'missing' ? 'missing' : `now a ${chk.kind}, not a directory`}; not followed`);
      real = abs;
    } else real = await this.protect(root);
    return this.lock.shared(async () => {
      const started = Date.now();
      const res = await this.scanTree(real, 'snapshot');
      this.index.addSnapshot(real, started, Date.now(), res.files, res.newBytes, res.errors.length);
      return res;
    });
  }

  private async scanTree(top: string, origin: string): Promise<SnapshotResult> {
    const latest = new Map(this.index.latestBelow(top).map((v) => [v.path, v]));
    const seen = new Set<string>();
    const res: SnapshotResult = { files: 0, newBytes: 0, changed: 0, deleted: 0, errors: [] };
    const unreadable = new Set<string>();
    let rows: NewVersion[] = [];
    let objs: NonNullable<Extract<Capture, { kind: 'new' }>['object']>[] = [];
    let touches: Extract<Capture, { kind: 'same' }>['touch'][] = [];
    const flush = (): void => {
      if (rows.length > 0 || objs.length > 0) this.index.record(rows, objs);
      if (touches.length > 0) this.index.touch(touches);
      res.changed += rows.length;
      rows = []; objs = []; touches = [];
    };
    const pending = new Set<Promise<void>>();
    const failedDirs = await walkTree(top, {
      skip: (p) => isInside(p, this.dir),
      error: (p, e) => { res.errors.push({ path: p, message: message(e) }); unreadable.add(p); },
      file: async (p, st) => {
        if (this.exclude(p)) return;
        seen.add(p);
        res.files++;
        const prev = latest.get(p);
        if (prev && unchanged(prev, st)) return;
        // Keep the walk only a little ahead of the copies (a first snapshot of a large tree).
        while (pending.size >= 32) await Promise.race(pending);
        const task = this.io.run(async () => {
          // A file that cannot be copied (disk full, I/O error) is reported; the others go on.
          const c = await this.capture(p, prev, origin).catch((e: unknown): Capture => ({ kind: 'skipped', reason: message(e) }));
          if (c.kind === 'new') { rows.push(c.row); if (c.object) objs.push(c.object); res.newBytes += c.newBytes; }
          else if (c.kind === 'same') touches.push(c.touch);
          else if (c.kind === 'skipped') { res.errors.push({ path: p, message: c.reason }); unreadable.add(p); }
          else seen.delete(p);
          if (rows.length + touches.length >= BATCH) flush();
        });
        pending.add(task);
        void task.finally(() => pending.delete(task)).catch(() => undefined);
      },
    });
    await Promise.all(pending);
    const now = Date.now();
    for (const [p, v] of latest) {
      if (v.sha256 === null || seen.has(p) || unreadable.has(p) || this.exclude(p)) continue;
      if ([...failedDirs].some((d) => isInside(p, d))) continue;
      rows.push(deletionRow(p, v, now, origin));
      res.deleted++;
    }
    flush();
    return res;
  }

  /**
   * Reads `path` and prepares its version (storing the object) unless it equals `prev`. Files up
   * to 16 MiB are read whole into memory (four at a time); larger ones are streamed in 1 MiB chunks
   * into the object store, one at a time, so that memory stays bounded whatever the file sizes.
   */
  private async capture(path: string, prev: VersionRow | undefined, origin: string): Promise<Capture> {
    const size = (await lstat(path).catch(() => undefined))?.size ?? 0;
    return size > this.streamAbove ? this.big.run(() => this.captureNow(path, prev, origin)) : this.captureNow(path, prev, origin);
  }

  private async captureNow(path: string, prev: VersionRow | undefined, origin: string): Promise<Capture> {
    const size = (await lstat(path).catch(() => undefined))?.size ?? 0;
    let st: Stats;
    let sha: string;
    let put: PutResult;
    const small = size <= this.streamAbove ? await readStable(path, Math.min(this.maxFileSize, this.streamAbove)) : undefined;
    // Grown past the in-memory bound since the lstat: streamed instead.
    if (!small || (small.kind === 'skipped' && small.tooLarge && this.maxFileSize > this.streamAbove)) {
      const r = await this.readLarge(path);
      if (r.kind !== 'ok') return r;
      ({ st, put } = r);
      sha = put.sha256;
    } else {
      const r = small;
      if (r.kind !== 'ok') return r;
      st = r.st;
      sha = sha256Hex(r.data);
      const mode = st.mode & 0o7777;
      if (prev && prev.sha256 === sha && prev.mode === mode && prev.mtime_ms === st.mtimeMs && prev.uid === st.uid && prev.gid === st.gid) {
        return { kind: 'same', touch: { id: prev.id, checked: Date.now(), dev: st.dev, ino: st.ino, ctime_ms: st.ctimeMs } };
      }
      put = await this.objects.put(r.data, sha);
    }
    const time = Date.now();
    const mode = st.mode & 0o7777;
    if (prev && prev.sha256 === sha && prev.mode === mode && prev.mtime_ms === st.mtimeMs && prev.uid === st.uid && prev.gid === st.gid) {
      return { kind: 'same', touch: { id: prev.id, checked: time, dev: st.dev, ino: st.ino, ctime_ms: st.ctimeMs } };
    }
    return {
      kind: 'new',
      row: { path, time, sha256: sha, size: st.size, mode, uid: st.uid, gid: st.gid, mtime_ms: st.mtimeMs, ctime_ms: st.ctimeMs, dev: st.dev, ino: st.ino, checked: time, origin },
      object: { sha256: sha, size: st.size, storedSize: put.storedSize, codec: put.codec },
      newBytes: put.created ? st.size : 0,
    };
  }

  /** A file too large to hold in memory: streamed into the object store, retried while it changes. */
  private async readLarge(path: string): Promise<{ kind: 'ok'; st: Stats; put: PutResult } | { kind: 'gone' } | { kind: 'skipped'; reason: string }> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const o = await openRegular(path, this.maxFileSize);
      if (o.kind !== 'ok') return o;
      try {
        const before = o.st;
        const put = await this.objects.putFrom(o.fh, before.size, async () => sameWrite(before, await o.fh.stat()));
        if (put) return { kind: 'ok', st: before, put };
      } catch (e) {
        return { kind: 'skipped', reason: message(e) };
      } finally {
        await o.fh.close().catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
    }
    return { kind: 'skipped', reason: 'still being written' };
  }

  /** Records the current content of one file after a settled change, or its deletion. Paths outside the protected roots are ignored. */
  async recordChange(event: FileEvent): Promise<void> {
    const path = resolve(event.path);
    const root = this.rootOf(path);
    if (!root || isInside(path, this.dir) || basename(path).startsWith(RESTORE_TMP_PREFIX) || this.exclude(path)) return;
    await this.lock.shared(async () => {
      const parents = await checkParents(path, root).catch(() => ({ bad: path }));
      let st: Stats | undefined;
      if (!parents.bad) st = await lstat(path).catch(() => undefined);
      if (st?.isDirectory()) {
        // A directory created or renamed into the tree: copy what it holds.
        await this.scanTree(path, 'change');
        return;
      }
      if (st?.isFile()) {
        const prev = this.index.latest(path);
        // Its own lane: an on-change copy must not wait behind a running snapshot's copies.
        const c = await this.onChange.run(() => this.capture(path, prev, 'change'));
        if (c.kind === 'new') { this.index.record([c.row], c.object ? [c.object] : []); return; }
        if (c.kind === 'same') { this.index.touch([c.touch]); return; }
        if (c.kind === 'skipped') return;
      }
      // Gone (or no longer a regular file): the path, and any live file below it that is gone too.
      const now = Date.now();
      const rows: NewVersion[] = [];
      for (const v of this.index.latestBelow(path)) {
        if (v.sha256 === null) continue;
        if (v.path !== path) {
          const chk = await checkParents(v.path, root).catch(() => ({ bad: v.path }));
          const s = chk.bad ? undefined : await lstat(v.path).catch(() => undefined);
          if (s?.isFile()) continue;
        }
        rows.push(deletionRow(v.path, v, now, 'change'));
      }
      if (rows.length > 0) this.index.record(rows);
    });
  }

  /** Every version of the files at or below `path`, oldest first per path. */
  list(path: string): VersionRow[] {
    return this.index.history(resolve(path));
  }

  /**
   * Reads back every stored object and checks it against its hash: damage is found before a
   * rollback needs the copy. Returns how many were checked and the damaged ones, with the paths
   * whose versions use them.
   */
  async verify(): Promise<{ objects: number; bytes: number; bad: { sha256: string; error: string; paths: string[] }[] }> {
    return this.lock.shared(async () => {
      const rows = this.index.db.prepare('SELECT sha256 FROM objects ORDER BY sha256').all() as { sha256: string }[];
      const paths = this.index.db.prepare('SELECT DISTINCT path FROM versions WHERE sha256 = ? ORDER BY path');
      const bad: { sha256: string; error: string; paths: string[] }[] = [];
      let bytes = 0;
      for (const { sha256 } of rows) {
        try {
          bytes += await this.objects.copyTo(sha256, undefined);
        } catch (e) {
          bad.push({ sha256, error: message(e), paths: (paths.all(sha256) as { path: string }[]).map((r) => r.path) });
        }
      }
      return { objects: rows.length, bytes, bad };
    });
  }

  /** Suspends pruning until `untilMs` (an alert is being handled). */
  hold(untilMs: number): void {
    const cur = Number(this.index.getMeta('prune-hold') ?? 0);
    if (untilMs > cur) this.index.setMeta('prune-hold', String(untilMs));
  }

  /** Bytes the stored objects take. */
  storedBytes(): number {
    return (this.index.db.prepare('SELECT COALESCE(SUM(stored_size), 0) AS n FROM objects').get() as { n: number }).n;
  }

  /** Applies the retention: by age, then by total size (oldest first); never the latest version of a live file. */
  async prune(opts: { now?: number; force?: boolean } = {}): Promise<PruneResult> {
    const now = opts.now ?? Date.now();
    const held = Number(this.index.getMeta('prune-hold') ?? 0);
    if (held > now && !opts.force) return { versions: 0, objects: 0, bytes: 0, heldUntil: held };
    return this.lock.exclusive(async () => {
      const db = this.index.db;
      let versions = 0;
      // Candidates: every version but the latest of a live path, oldest first.
      const candidates = db.prepare(`SELECT v.id, v.path, v.time, v.sha256 FROM versions v
        LEFT JOIN latest l ON l.version_id = v.id
        WHERE l.version_id IS NULL OR v.sha256 IS NULL ORDER BY v.time, v.id`).all() as { id: number; path: string; time: number; sha256: string | null }[];
      const refs = new Map<string, number>();
      for (const r of db.prepare('SELECT sha256, COUNT(*) AS n FROM versions WHERE sha256 IS NOT NULL GROUP BY sha256').all() as { sha256: string; n: number }[]) refs.set(r.sha256, r.n);
      const sizes = new Map<string, number>();
      let total = 0;
      for (const r of db.prepare('SELECT sha256, stored_size FROM objects').all() as { sha256: string; stored_size: number }[]) {
        sizes.set(r.sha256, r.stored_size);
        if ((refs.get(r.sha256) ?? 0) > 0) total += r.stored_size;
      }
      const drop: typeof candidates = [];
      const { maxAgeMs, maxBytes } = this.retention;
      for (const c of candidates) {
        const old = maxAgeMs > 0 && c.time < now - maxAgeMs;
        const big = maxBytes > 0 && total > maxBytes;
        if (!old && !big) {
          if (maxBytes <= 0) break; // sorted by time: no older ones follow
          continue;
        }
        // A deletion costs nothing to keep, and dropping it while older versions of the path stay
        // would make rollback bring back a file that was deleted: deletions go by age only.
        if (c.sha256 === null && !old) continue;
        drop.push(c);
        if (c.sha256) {
          const n = (refs.get(c.sha256) ?? 1) - 1;
          refs.set(c.sha256, n);
          if (n === 0) total -= sizes.get(c.sha256) ?? 0;
        }
      }
      const delVersion = db.prepare('DELETE FROM versions WHERE id = ?');
      const delLatest = db.prepare('DELETE FROM latest WHERE version_id = ?');
      db.transaction(() => {
        for (const c of drop) { delVersion.run(c.id); delLatest.run(c.id); versions++; }
      })();
      // Objects no version names any more: the index row first, then the file.
      const orphans = db.prepare('SELECT o.sha256, o.stored_size FROM objects o WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.sha256 = o.sha256)').all() as { sha256: string; stored_size: number }[];
      db.transaction(() => {
        const del = db.prepare('DELETE FROM objects WHERE sha256 = ?');
        for (const o of orphans) del.run(o.sha256);
      })();
      let objects = 0;
      let bytes = 0;
      for (const o of orphans) { await this.objects.remove(o.sha256); objects++; bytes += o.stored_size; }
      // Files a crash left without an index row (written, not yet recorded), after an hour's grace.
      for await (const f of this.objects.list()) {
        if (now - f.mtimeMs < 3_600_000 || this.index.hasObject(f.sha256)) continue;
        await this.objects.remove(f.sha256);
        objects++;
        bytes += f.size;
      }
      await this.objects.sweepTemp(3_600_000);
      return { versions, objects, bytes };
    });
  }

  /** Resolves rollback targets to absolute paths inside a protected root. */
  private async targets(paths: string[] | undefined): Promise<{ path: string; root: string }[]> {
    const roots = this.index.roots();
    if (!paths || paths.length === 0) return roots.map((r) => ({ path: r, root: r }));
    const out: { path: string; root: string }[] = [];
    for (const p of paths) {
      const abs = resolve(p);
      let root = this.rootOf(abs);
      let path = abs;
      if (!root) {
        // A path given through a link to the protected tree (e.g. /home -> /usr/home).
        const real = await realpath(abs).catch(() => undefined);
        if (real) { root = this.rootOf(real); path = real; }
      }
      if (!root) throw new Error(`${p}: outside the protected roots (${roots.join(', ') || 'none'}); refusing to touch it`);
      if (isInside(path, this.dir)) throw new Error(`${p}: inside the version store; refusing to touch it`);
      out.push({ path, root });
    }
    return out;
  }

  /**
   * Restores every file under `paths` (all protected roots when empty) to its last version from
   * before `since`, removes the files that appeared since, and returns the plan (what was done, or
   * with `dryRun` what would be done: the same list, nothing touched). An item with `error` was
   * refused and left as it is; the others proceed.
   */
  async rollback(opts: { since: number; paths?: string[]; dryRun?: boolean; warn?: (message: string) => void }): Promise<VersionRollbackItem[]> {
    const { since } = opts;
    const dryRun = opts.dryRun === true;
    if (!Number.isFinite(since)) throw new Error('rollback: since must be a time (ms since the epoch)');
    const targets = await this.targets(opts.paths);
    return this.lock.shared(async () => {
      const items: VersionRollbackItem[] = [];
      const done = new Set<string>();
      for (const t of targets) {
        const candidates = new Set(this.index.pathsBelow(t.path));
        const top = await checkParents(join(t.path, '_'), t.root).catch(() => ({ bad: t.path, kind: 'missing' as const }));
        if (top.bad && top.bad === t.root && top.kind === 'link') {
          opts.warn?.(`the protected root ${t.root} is now a symbolic link: nothing below it is touched; replace it with the directory, then run rollback again`);
          continue;
        }
        if (!top.bad) {
          await walkTree(t.path, {
            skip: (p) => isInside(p, this.dir),
            error: () => undefined,
            file: (p) => { candidates.add(p); },
            leftover: dryRun ? undefined : (p) => unlink(p).catch(() => undefined),
          }).catch(() => undefined);
        }
        // Where no snapshot had finished walking the tree before `since`, the store cannot tell a file that
        // appeared since from one it never saw: such files are kept, and the caller is told.
        const known = this.index.snapshotRootsBefore(since).filter((r) => isInside(t.path, r) || isInside(r, t.path));
        const covered = (p: string): boolean => known.some((r) => isInside(p, r));
        if (!covered(t.path)) {
          opts.warn?.(`${known.length === 0 ? 'no snapshot' : 'no snapshot of all'} of ${t.path} from before ${new Date(since).toISOString()}: `
            + 'files without a copy from then cannot be told new or old and are kept; files with one are restored');
        }
        const inodes = new Map<string, string>();
        for (const r of this.index.preInodes(t.root, since)) inodes.set(`${r.dev}:${r.ino}`, r.path);
        const todo = [...candidates].sort().filter((p) => !done.has(p) && !isInside(p, this.dir) && !this.exclude(p));
        for (const p of todo) done.add(p);
        // Files are independent: a few at once hide the fsync latency of each.
        const limit = new Limiter(4);
        const bigLimit = new Limiter(1);
        // Large files are restored one at a time (each is held in memory while verified and written).
        const one = (p: string): Promise<VersionRollbackItem | undefined> => this.rollbackOne(p, t.root, since, inodes, covered(p), dryRun)
          .catch((e: unknown): VersionRollbackItem => ({ path: p, action: 'restore', error: message(e) }));
        const results = await Promise.all(todo.map((p) => limit.run(() => ((this.index.before(p, since)?.size ?? 0) > this.streamAbove ? bigLimit.run(() => one(p)) : one(p)))));
        for (const r of results) if (r) items.push(r);
      }
      return items;
    });
  }

  private async rollbackOne(p: string, root: string, since: number, inodes: Map<string, string>, covered: boolean, dryRun: boolean): Promise<VersionRollbackItem | undefined> {
    const pre = this.index.before(p, since);
    const parents = await checkParents(p, root);
    // Never look through a link planted in place of a directory: what is behind it is not ours.
    const cur = parents.kind === 'link' || parents.kind === 'file' || parents.kind === 'missing' ? undefined : await lstat(p).catch(() => undefined);

    if (pre && pre.sha256 !== null) {
      const item: VersionRollbackItem = { path: p, action: 'restore', sha256: pre.sha256, versionTime: pre.time };
      if (cur?.isFile() && cur.size === pre.size && (cur.mode & 0o7777) === pre.mode && sameMtime(cur.mtimeMs, pre.mtime_ms)) {
        if (await hashFile(p) === pre.sha256) return undefined;
      }
      if (cur?.isDirectory()) return { ...item, error: 'a directory now stands at this path; not restored' };
      // The copy is verified before anything is touched (large ones again while they are written).
      const sha = pre.sha256;
      let data: Buffer | ((fh: FileHandle) => Promise<unknown>);
      try {
        if (pre.size > this.streamAbove) {
          await this.objects.copyTo(sha, undefined);
          data = (fh) => this.objects.copyTo(sha, fh);
        } else data = await this.objects.get(sha);
      } catch (e) {
        return { ...item, error: `${message(e)}; not restored` };
      }
      if (parents.kind === 'file') return { ...item, error: `${parents.bad} is a file where a directory was; not restored` };
      if (parents.kind === 'link') item.note = `symbolic link ${parents.bad} in place of a directory replaced by the directory`;
      if (dryRun) return item;
      if (cur?.isFile()) {
        const saved = await this.keepCurrent(p);
        if (saved) return { ...item, error: `could not copy the current content first (${saved}); not restored` };
      }
      await ensureParents(p, root);
      await writeAtomic(p, root, data, { mode: pre.mode, mtimeMs: pre.mtime_ms, uid: pre.uid, gid: pre.gid });
      const st = await lstat(p);
      const time = Date.now();
      this.index.record([{ ...pre, time, checked: time, mtime_ms: st.mtimeMs, ctime_ms: st.ctimeMs, dev: st.dev, ino: st.ino, origin: 'rollback' }].map(({ id: _id, ...r }) => r));
      return item;
    }

    if (!cur || cur.isDirectory() || cur.isSymbolicLink()) return undefined;
    let reason: VersionRollbackItem['reason'];
    if (pre) reason = 'deleted-before';
    else if (!covered) return undefined;
    else if (birthOf(cur) >= since) reason = 'created-since';
    else {
      const orig = inodes.get(`${cur.dev}:${cur.ino}`);
      if (orig !== undefined && orig !== p) reason = 'renamed-since';
    }
    if (!reason) {
      if (cur.isFile() && (cur.mtimeMs >= since || cur.ctimeMs >= since)) {
        return { path: p, action: 'restore', error: `changed since ${new Date(since).toISOString()} and no copy from before: left as it is` };
      }
      return undefined;
    }
    const item: VersionRollbackItem = { path: p, action: 'remove', reason };
    if (dryRun) return item;
    if (cur.isFile()) {
      const saved = await this.keepCurrent(p);
      if (saved) return { ...item, error: `could not copy it first (${saved}); not removed` };
    }
    const again = await checkParents(p, root);
    if (again.bad) return { ...item, error: `${again.bad} changed into a ${again.kind}; not removed` };
    await unlink(p);
    const time = Date.now();
    this.index.record([deletionRow(p, this.index.latest(p), time, 'rollback')]);
    return item;
  }

  /** Copies a file's current content into the store before rollback replaces it; returns an error message, or undefined when done. */
  private async keepCurrent(p: string): Promise<string | undefined> {
    const prev = this.index.latest(p);
    const c = await this.capture(p, prev, 'pre-rollback');
    if (c.kind === 'new') { this.index.record([c.row], c.object ? [c.object] : []); return undefined; }
    if (c.kind === 'same' || c.kind === 'gone') return undefined;
    return c.reason;
  }
}

export async function openVersionStore(opts: VersionStoreOptions = {}): Promise<VersionStore> {
  return VersionStore.open(opts);
}

