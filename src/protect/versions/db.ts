/**
 * The index of versioned copies: an SQLite database (`index.sqlite`, WAL journal, synchronous
 * FULL) with one row per version of a file (path, time, SHA-256 or null for a deletion, size,
 * mode, owner, mtime, and the inode/ctime used to tell an unchanged file without reading it), the
 * latest version of every path, the stored objects, the protected roots and the snapshots taken.
 *
 * In: rows to record. Out: the versions a snapshot, a rollback or a prune needs, by path prefix
 * and time.
 *
 * Why SQLite rather than an append-only log: rollback asks "the last version of each path under P
 * before T", prune asks "the oldest versions that are not the latest of a live file": both are
 * indexed queries here, where a log would have to be replayed into memory on every run. SQLite's
 * WAL journal gives the crash recovery an own log would need (a transaction is either entirely in
 * the index or not at all, after a power loss too with synchronous FULL), and lets `vigil rollback`
 * read while the daemon writes (busy timeout 10 s). Objects are written and fsynced before the row
 * naming them is committed, so the index never names an object that was not durably stored.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';

export interface VersionRow {
  id: number;
  path: string;
  /** When the copy was taken: the end of the read (ms since the epoch). */
  time: number;
  /** Null for a deletion. */
  sha256: string | null;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime_ms: number;
  ctime_ms: number;
  dev: number;
  ino: number;
  /** Last time the content was found unchanged (for the "racy mtime" rule). */
  checked: number;
  origin: string;
}

export type NewVersion = Omit<VersionRow, 'id'>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (path TEXT PRIMARY KEY, added INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (
  id INTEGER PRIMARY KEY, root TEXT NOT NULL, started INTEGER NOT NULL, finished INTEGER NOT NULL,
  files INTEGER NOT NULL, new_bytes INTEGER NOT NULL, errors INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
  sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, stored_size INTEGER NOT NULL, codec INTEGER NOT NULL,
  created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
  id INTEGER PRIMARY KEY, path TEXT NOT NULL, time INTEGER NOT NULL, sha256 TEXT,
  size INTEGER NOT NULL, mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,
  mtime_ms REAL NOT NULL, ctime_ms REAL NOT NULL, dev INTEGER NOT NULL, ino INTEGER NOT NULL, checked INTEGER NOT NULL,
  origin TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS versions_path_time ON versions (path, time);
CREATE INDEX IF NOT EXISTS versions_time ON versions (time);
CREATE INDEX IF NOT EXISTS versions_sha ON versions (sha256);
CREATE TABLE IF NOT EXISTS latest (path TEXT PRIMARY KEY, version_id INTEGER NOT NULL);
`;

/** The upper bound of the paths below `dir`: '/' + 1 is '0' (byte order of UTF-8 in SQLite). */
function below(dir: string): [string, string] {
  const base = dir.endsWith('/') ? dir : `${dir}/`;
  return [base, `${base.slice(0, -1)}0`];
}

export class VersionIndex {
  readonly db: Database.Database;
  private readonly st;

  constructor(dir: string) {
    const file = join(dir, 'index.sqlite');
    this.db = new Database(file);
    try {
      this.db.pragma('busy_timeout = 10000');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.exec(SCHEMA);
      const integrity = this.db.pragma('quick_check', { simple: true });
      if (integrity !== 'ok') throw new Error(String(integrity));
    } catch (e) {
      this.db.close();
      throw new Error(`the version index ${file} is damaged or not an index: ${e instanceof Error ? e.message : String(e)}`);
    }
    const db = this.db;
    this.st = {
      insert: db.prepare(`INSERT INTO versions (path, time, sha256, size, mode, uid, gid, mtime_ms, ctime_ms, dev, ino, checked, origin)
        VALUES (@path, @time, @sha256, @size, @mode, @uid, @gid, @mtime_ms, @ctime_ms, @dev, @ino, @checked, @origin)`),
      setLatest: db.prepare('INSERT INTO latest (path, version_id) VALUES (?, ?) ON CONFLICT(path) DO UPDATE SET version_id = excluded.version_id'),
      latest: db.prepare('SELECT v.* FROM latest l JOIN versions v ON v.id = l.version_id WHERE l.path = ?'),
      latestBelow: db.prepare('SELECT v.* FROM latest l JOIN versions v ON v.id = l.version_id WHERE l.path = ? OR (l.path >= ? AND l.path < ?)'),
      touch: db.prepare('UPDATE versions SET checked = ?, dev = ?, ino = ?, ctime_ms = ? WHERE id = ?'),
      before: db.prepare('SELECT * FROM versions WHERE path = ? AND time < ? ORDER BY time DESC, id DESC LIMIT 1'),
      pathsBelow: db.prepare('SELECT path FROM latest WHERE path = ? OR (path >= ? AND path < ?)'),
      history: db.prepare('SELECT * FROM versions WHERE path = ? OR (path >= ? AND path < ?) ORDER BY path, time, id'),
      preInodes: db.prepare(`SELECT v.path, v.dev, v.ino FROM versions v JOIN (
          SELECT path, MAX(id) AS id FROM versions WHERE time < ? AND (path = ? OR (path >= ? AND path < ?)) GROUP BY path) m ON v.id = m.id
        WHERE v.sha256 IS NOT NULL`),
      addObject: db.prepare('INSERT OR IGNORE INTO objects (sha256, size, stored_size, codec, created) VALUES (?, ?, ?, ?, ?)'),
      hasObject: db.prepare('SELECT 1 FROM objects WHERE sha256 = ?'),
      addRoot: db.prepare('INSERT OR IGNORE INTO roots (path, added) VALUES (?, ?)'),
      roots: db.prepare('SELECT path FROM roots ORDER BY path'),
      addSnapshot: db.prepare('INSERT INTO snapshots (root, started, finished, files, new_bytes, errors) VALUES (?, ?, ?, ?, ?, ?)'),
      snapshotRoots: db.prepare('SELECT DISTINCT root FROM snapshots WHERE finished < ?'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    };
  }

  close(): void {
    this.db.close();
  }

  /** Records versions (and their objects) in one transaction; returns their ids. */
  record(rows: NewVersion[], objects: { sha256: string; size: number; storedSize: number; codec: number }[] = []): number[] {
    const ids: number[] = [];
    this.db.transaction(() => {
      const now = Date.now();
      for (const o of objects) this.st.addObject.run(o.sha256, o.size, o.storedSize, o.codec, now);
      for (const r of rows) {
        const id = Number(this.st.insert.run(r).lastInsertRowid);
        this.st.setLatest.run(r.path, id);
        ids.push(id);
      }
    })();
    return ids;
  }

  touch(rows: { id: number; checked: number; dev: number; ino: number; ctime_ms: number }[]): void {
    this.db.transaction(() => {
      for (const r of rows) this.st.touch.run(r.checked, r.dev, r.ino, r.ctime_ms, r.id);
    })();
  }

  latest(path: string): VersionRow | undefined {
    return this.st.latest.get(path) as VersionRow | undefined;
  }

  latestBelow(dir: string): VersionRow[] {
    return this.st.latestBelow.all(dir, ...below(dir)) as VersionRow[];
  }

  /** The last version of `path` taken strictly before `time`. */
  before(path: string, time: number): VersionRow | undefined {
    return this.st.before.get(path, time) as VersionRow | undefined;
  }

  pathsBelow(dir: string): string[] {
    return (this.st.pathsBelow.all(dir, ...below(dir)) as { path: string }[]).map((r) => r.path);
  }

  history(dir: string): VersionRow[] {
    return this.st.history.all(dir, ...below(dir)) as VersionRow[];
  }

  /** Inode of the last pre-`time` version of every path below `dir` that was then a live file. */
  preInodes(dir: string, time: number): { path: string; dev: number; ino: number }[] {
    return this.st.preInodes.all(time, dir, ...below(dir)) as { path: string; dev: number; ino: number }[];
  }

  hasObject(sha: string): boolean {
    return this.st.hasObject.get(sha) !== undefined;
  }

  addRoot(path: string): void {
    this.st.addRoot.run(path, Date.now());
  }

  roots(): string[] {
    return (this.st.roots.all() as { path: string }[]).map((r) => r.path);
  }

  addSnapshot(root: string, started: number, finished: number, files: number, newBytes: number, errors: number): void {
    this.st.addSnapshot.run(root, started, finished, files, newBytes, errors);
  }

  /** The folders a snapshot had walked completely before `time`. */
  snapshotRootsBefore(time: number): string[] {
    return (this.st.snapshotRoots.all(time) as { root: string }[]).map((r) => r.root);
  }

  getMeta(key: string): string | undefined {
    return (this.st.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.st.setMeta.run(key, value);
  }
}
