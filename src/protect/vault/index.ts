/**
 * The quarantine vault: where infected files go, defanged, and from where they come back.
 *
 * In: a vault directory (default `$VIGIL_HOME/quarantine`, mode 0700, owned by the current user),
 * files to quarantine with what the scanner knew of them, ids to restore, delete or export.
 * Out: `<vault>/key` (32 random bytes, 0600, the per-installation AES-256-GCM key),
 * `<vault>/files/<id>` (the content, encrypted, followed by its record, encrypted: see `crypto.ts`),
 * `<vault>/vault.db` (SQLite, WAL: one row per record, which is also the journal of the operation
 * in progress on it; and the (path, SHA-256) pairs the operator restored, which a real-time
 * detection does not quarantine again). A lost `vault.db` is rebuilt from the vault files
 * (`rebuildVault`); a damaged record or vault file is reported by id, with what is wrong.
 *
 * Why a journal: a kill at any point of a quarantine or a restore must leave the file either in its
 * place or in the vault, decryptable and hash-correct, never lost and never as two half copies.
 * The row's `state` says how far an operation got; `recover()` (run at open) finishes or rolls
 * back what a dead process left:
 *
 *   quarantine: row `writing` → encrypted copy written and fsynced (file and directory) → the
 *     original re-checked unchanged (size, mtime, ctime, inode) → row `moving` → original unlinked,
 *     its directory fsynced → row `stored`.
 *     recover: `writing` → drop the partial copy and the row (the original never moved);
 *     `moving` → the copy is complete: unlink the original if it is still the same file → `stored`.
 *   restore: row `restoring` (target, temporary name) → decrypt into `.vigil-restore-<id>` beside
 *     the target (O_EXCL) → GCM tag and SHA-256 checked → owner, mode, mtime set → fsync → link()
 *     into place (rename() with force) → directory fsynced → row `restored` → vault copy unlinked →
 *     row deleted.
 *     recover: temporary file present and linked at the target → finish; present otherwise →
 *     remove it, back to `stored`; absent → finish if the target holds the original bytes, else
 *     back to `stored`. `restored`/`deleting` → remove the vault copy and the row.
 *
 * The vault copy is written by copying, never by rename, so the vault and the quarantined file need
 * not share a filesystem; a restore's temporary file is beside its target, so the final rename or
 * link never crosses one either. Rows of operations whose process is still alive are left alone.
 */
import { vigilHome } from '../../core/home.js';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync, closeSync, constants, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, unlinkSync, type BigIntStats, type Stats,
} from 'node:fs';
import { link, lstat, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import Database from 'better-sqlite3';
import type { Detection } from '../../engine/result.js';
import type { QuarantineInfo, QuarantineRecord, QuarantineSink } from '../types.js';
import { decryptFrom, encryptTo, layoutSync, loadKey, readMetaSync, VaultFileError } from './crypto.js';
import { writeEncryptedZip, type ZipEntry } from './zip.js';
import { crc32 } from '../../core/crc32.js';

export type VaultState = 'writing' | 'moving' | 'stored' | 'restoring' | 'restored' | 'deleting';

/** A record as the vault knows it: the record, where it stands, and what is wrong with it. */
export interface VaultEntry extends QuarantineRecord {
  state: VaultState | string;
  /** `detected` (the scanner found something) or `manual` (`vigil quarantine add`). */
  reason: string;
  /** What is wrong with the record or its vault file (empty when nothing is). */
  problems: string[];
}

export interface VaultOptions {
  /** Called at every step of an operation, by name (`q.row-moving`…); fault-injection tests. */
  onStep?: (step: string) => void;
}

export interface RestoreOptions {
  /** Replace an existing file at the target. */
  force?: boolean;
  /** Restore there instead of the original path (into it, under the original name, if a directory). */
  to?: string;
}

export type VaultErrorCode = 'NOT_FOUND' | 'REFUSED' | 'CORRUPT' | 'VAULT';

/**
 * What the vault reports: `NOT_FOUND` (no such id), `REFUSED` (would overwrite, file changed, not a
 * regular file), `CORRUPT` (the stored copy cannot give back the original), `VAULT` (the vault
 * itself: its directory, key or database).
 */
export class VaultError extends Error {
  /** Set when `vault.db` itself cannot be opened (see `rebuildVault`). */
  damagedDb = false;
  constructor(readonly code: VaultErrorCode, message: string) {
    super(message);
  }
}

const ID_RE = /^[0-9a-f]{32}$/;
/** Ids with an operation in progress in this process (recover() leaves them alone). */
const inFlight = new Set<string>();

const errCode = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try { await h.sync(); } finally { await h.close(); }
}

async function unlinkIfExists(path: string): Promise<void> {
  try { await unlink(path); } catch (e) { if (errCode(e) !== 'ENOENT') throw e; }
}

async function lstatOrNull(path: string): Promise<BigIntStats | null> {
  try { return await lstat(path, { bigint: true }); } catch (e) { if (errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') return null; throw e; }
}

/** Modification time in ms, with the sub-millisecond part. */
function msOf(st: BigIntStats): number {
  return Number(st.mtimeNs) / 1e6;
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try { process.kill(pid, 0); return true; } catch (e) { return errCode(e) === 'EPERM'; }
}

/** Checks (and, when missing, creates) the vault directory: a real directory, ours, closed to others. */
function checkVaultDir(dir: string, what: string): void {
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch (e) {
    if (errCode(e) !== 'ENOENT') throw new VaultError('VAULT', `${dir}: cannot use as the ${what}: ${message(e)}`);
    try { mkdirSync(dir, { recursive: true, mode: 0o700 }); } catch (e2) { throw new VaultError('VAULT', `${dir}: cannot create the ${what}: ${message(e2)}`); }
    st = lstatSync(dir);
  }
  if (st.isSymbolicLink()) throw new VaultError('VAULT', `${dir}: the ${what} is a symbolic link; refusing it`);
  if (!st.isDirectory()) throw new VaultError('VAULT', `${dir}: the ${what} is not a directory`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new VaultError('VAULT', `${dir}: the ${what} is owned by uid ${st.uid}, not by the current user (${process.getuid()}); refusing it`);
  if ((st.mode & 0o022) !== 0) throw new VaultError('VAULT', `${dir}: the ${what} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}); refusing it`);
}

interface Row {
  id: string;
  originalPath: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  dev: string | null;
  ino: string | null;
  sha256: string | null;
  detections: string | null;
  engine: string | null;
  database: string | null;
  quarantinedAt: string | null;
  reason: string | null;
  state: string;
  pid: number | null;
  restoreTarget: string | null;
  restoreTemp: string | null;
  restoreForce: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  id TEXT PRIMARY KEY,
  originalPath TEXT NOT NULL,
  size INTEGER NOT NULL,
  mode INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  gid INTEGER NOT NULL,
  mtimeMs REAL NOT NULL,
  dev TEXT,
  ino TEXT,
  sha256 TEXT,
  detections TEXT,
  engine TEXT,
  database TEXT,
  quarantinedAt TEXT,
  reason TEXT,
  state TEXT NOT NULL,
  pid INTEGER,
  restoreTarget TEXT,
  restoreTemp TEXT,
  restoreForce INTEGER
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS restored (
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  id TEXT NOT NULL,
  restoredAt TEXT NOT NULL,
  PRIMARY KEY (path, sha256)
);
`;

/** Builds the record from a row, noting what does not parse instead of failing. */
function entryOf(row: Row): VaultEntry {
  const problems: string[] = [];
  let detections: Detection[] = [];
  try {
    const d: unknown = JSON.parse(row.detections ?? '[]');
    if (Array.isArray(d)) detections = d as Detection[];
    else problems.push('detections: not a JSON array');
  } catch (e) { problems.push(`detections: unreadable JSON (${message(e)})`); }
  let database: QuarantineRecord['database'] = { signatures: 0 };
  try {
    const d: unknown = JSON.parse(row.database ?? '{"signatures":0}');
    if (d && typeof d === 'object' && typeof (d as { signatures?: unknown }).signatures === 'number') database = d as QuarantineRecord['database'];
    else problems.push('database: not a {signatures} object');
  } catch (e) { problems.push(`database: unreadable JSON (${message(e)})`); }
  const num = (k: keyof Row): number => {
    const v = row[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    problems.push(`${k}: not a number (${JSON.stringify(v)})`);
    return 0;
  };
  const sha256 = typeof row.sha256 === 'string' && /^[0-9a-f]{64}$/.test(row.sha256) ? row.sha256 : '';
  if (!sha256 && row.state !== 'writing') problems.push(`sha256: missing or malformed (${JSON.stringify(row.sha256)})`);
  if (typeof row.id !== 'string' || !ID_RE.test(row.id)) problems.push(`id: malformed (${JSON.stringify(row.id)})`);
  if (typeof row.originalPath !== 'string' || row.originalPath === '') problems.push('originalPath: missing');
  return {
    id: String(row.id),
    originalPath: typeof row.originalPath === 'string' ? row.originalPath : '',
    size: num('size'),
    mode: num('mode'),
    uid: num('uid'),
    gid: num('gid'),
    mtimeMs: num('mtimeMs'),
    sha256,
    detections,
    engine: typeof row.engine === 'string' ? row.engine : '',
    database,
    quarantinedAt: typeof row.quarantinedAt === 'string' ? row.quarantinedAt : '',
    state: String(row.state),
    reason: typeof row.reason === 'string' ? row.reason : 'detected',
    problems,
  };
}

/** A row from the record kept in a vault file's trailer (`rebuild`, orphans in `list`). */
function rowFromMeta(meta: unknown, id: string): Row {
  if (!meta || typeof meta !== 'object') throw new Error('the record in the vault file is not an object');
  const m = meta as Record<string, unknown>;
  if (m['id'] !== id) throw new Error(`the record in the vault file is for id ${JSON.stringify(m['id'])}`);
  return {
    id, originalPath: m['originalPath'] as string, size: m['size'] as number, mode: m['mode'] as number, uid: m['uid'] as number,
    gid: m['gid'] as number, mtimeMs: m['mtimeMs'] as number, dev: null, ino: null, sha256: m['sha256'] as string,
    detections: JSON.stringify(m['detections'] ?? []), engine: m['engine'] as string, database: JSON.stringify(m['database'] ?? { signatures: 0 }),
    quarantinedAt: m['quarantinedAt'] as string, reason: (m['reason'] as string | undefined) ?? 'detected', state: 'stored',
    pid: null, restoreTarget: null, restoreTemp: null, restoreForce: null,
  };
}

function strip(e: VaultEntry): QuarantineRecord {
  return {
    id: e.id, originalPath: e.originalPath, size: e.size, mode: e.mode, uid: e.uid, gid: e.gid, mtimeMs: e.mtimeMs,
    sha256: e.sha256, detections: e.detections, engine: e.engine, database: e.database, quarantinedAt: e.quarantinedAt,
  };
}

export class Vault implements QuarantineSink {
  readonly dir: string;
  readonly filesDir: string;
  private readonly db: Database.Database;
  private readonly key: Buffer;
  private readonly step: (name: string) => void;
  /** What recover() did at open, one line each (`<id>: …`). */
  readonly recovered: string[] = [];

  /** Use `openVault`. */
  constructor(dir: string, opts: VaultOptions = {}) {
    this.dir = resolve(dir);
    this.filesDir = join(this.dir, 'files');
    this.step = opts.onStep ?? (() => undefined);
    checkVaultDir(this.dir, 'vault directory');
    checkVaultDir(this.filesDir, 'vault files directory');
    const dbPath = join(this.dir, 'vault.db');
    let db: Database.Database | undefined;
    try {
      db = new Database(dbPath, { timeout: 10_000 });
      chmodSync(dbPath, 0o600);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(SCHEMA);
      db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('format', '1')").run();
      const format = (db.prepare("SELECT value FROM meta WHERE key = 'format'").get() as { value: string } | undefined)?.value;
      if (format !== '1') throw new Error(`unknown vault format ${JSON.stringify(format)}`);
    } catch (e) {
      db?.close();
      const err = new VaultError('VAULT', `${dbPath}: the vault database is damaged or unreadable: ${message(e)} (\`vigil quarantine rebuild\` sets it aside and re-indexes the vault files)`);
      err.damagedDb = true;
      throw err;
    }
    this.db = db;
    try {
      const stored = (db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
      this.key = loadKey(this.dir, stored === 0);
    } catch (e) {
      db.close();
      throw new VaultError('VAULT', message(e));
    }
  }

  close(): void {
    this.db.close();
  }

  private row(id: string): Row | undefined {
    try {
      return this.db.prepare('SELECT * FROM records WHERE id = ?').get(id) as Row | undefined;
    } catch (e) {
      throw new VaultError('VAULT', `${join(this.dir, 'vault.db')}: cannot read record ${id}: ${message(e)}`);
    }
  }

  private setState(id: string, state: VaultState, extra: Partial<Row> = {}): void {
    const cols = Object.keys(extra);
    const sets = ['state = @state', 'pid = @pid', ...cols.map((c) => `${c} = @${c}`)].join(', ');
    this.db.prepare(`UPDATE records SET ${sets} WHERE id = @id`).run({ ...extra, state, pid: process.pid, id });
  }

  /** Moves a record from state `from` to `to`, atomically (another process or call may be at it). */
  private claim(id: string, from: VaultState, to: VaultState, extra: Partial<Row> = {}): void {
    const cols = Object.keys(extra);
    const sets = ['state = @to', 'pid = @pid', ...cols.map((c) => `${c} = @${c}`)].join(', ');
    const r = this.db.prepare(`UPDATE records SET ${sets} WHERE id = @id AND state = @from`).run({ ...extra, to, from, pid: process.pid, id });
    if (r.changes !== 1) throw new VaultError('REFUSED', `${id}: another operation is in progress on this record, or it is gone`);
  }

  private deleteRow(id: string): void {
    this.db.prepare('DELETE FROM records WHERE id = ?').run(id);
  }

  private vaultPath(id: string): string {
    return join(this.filesDir, id);
  }

  /**
   * Moves `path` into the vault (see the file's comment for the steps). Rejects, with the file left
   * in place, when it is not a regular file, changes while being read, cannot be removed, or is a
   * file the operator restored from the vault (same path and content; `reason: 'manual'` quarantines
   * it anyway).
   */
  async quarantine(path: string, info: QuarantineInfo, opts: { reason?: 'detected' | 'manual' } = {}): Promise<QuarantineRecord> {
    const abs = resolve(path);
    if (abs === this.dir || abs.startsWith(`${this.dir}${sep}`)) throw new VaultError('REFUSED', `${abs}: inside the vault itself; refusing to quarantine it`);
    this.step('q.begin');
    let fh: FileHandle;
    try {
      fh = await open(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      if (errCode(e) === 'ENOENT') throw new VaultError('NOT_FOUND', `${abs}: no such file`);
      if (errCode(e) === 'ELOOP') throw new VaultError('REFUSED', `${abs}: a symbolic link; quarantine what it points to instead`);
      throw new VaultError('REFUSED', `${abs}: cannot open: ${message(e)}`);
    }
    const id = randomBytes(16).toString('hex');
    const vpath = this.vaultPath(id);
    inFlight.add(id);
    let phase: 'open' | 'row' | 'moving' | 'gone' = 'open';
    try {
      const st = await fh.stat({ bigint: true });
      if (!st.isFile()) throw new VaultError('REFUSED', `${abs}: not a regular file; left in place`);
      const busy = this.db.prepare("SELECT id, pid FROM records WHERE dev = ? AND ino = ? AND state IN ('writing', 'moving')").all(String(st.dev), String(st.ino)) as { id: string; pid: number }[];
      if (busy.some((b) => (b.pid === process.pid ? inFlight.has(b.id) : pidAlive(b.pid)))) {
        throw new VaultError('REFUSED', `${abs}: already being quarantined`);
      }
      const quarantinedAt = new Date().toISOString();
      const base = {
        id, originalPath: abs, size: Number(st.size), mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid),
        mtimeMs: msOf(st), dev: String(st.dev), ino: String(st.ino),
        detections: JSON.stringify(info.detections), engine: info.engine, database: JSON.stringify(info.database),
        quarantinedAt, reason: opts.reason ?? 'detected', pid: process.pid,
      };
      this.db.prepare(`INSERT INTO records (id, originalPath, size, mode, uid, gid, mtimeMs, dev, ino, detections, engine, database, quarantinedAt, reason, state, pid)
        VALUES (@id, @originalPath, @size, @mode, @uid, @gid, @mtimeMs, @dev, @ino, @detections, @engine, @database, @quarantinedAt, @reason, 'writing', @pid)`).run(base);
      phase = 'row';
      this.step('q.row-writing');
      const out = await open(vpath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      let result: { sha256: string; size: number };
      try {
        this.step('q.vault-file-created');
        let first = true;
        result = await encryptTo(fh, out, this.key, id, (r) => ({
          id, originalPath: abs, size: r.size, mode: base.mode, uid: base.uid, gid: base.gid, mtimeMs: base.mtimeMs, sha256: r.sha256,
          detections: info.detections, engine: info.engine, database: info.database, quarantinedAt, reason: base.reason,
        }), () => { if (first) { first = false; this.step('q.write-chunk'); } });
        this.step('q.vault-file-written');
        await out.sync();
        this.step('q.vault-file-synced');
      } finally {
        await out.close();
      }
      await fsyncDir(this.filesDir);
      this.step('q.files-dir-synced');
      // Someone writing the file while it was read: refuse, leave it in place.
      const after = await fh.stat({ bigint: true });
      const now = await lstatOrNull(abs);
      const same = (s: BigIntStats | null): boolean => s !== null && s.dev === st.dev && s.ino === st.ino && s.size === st.size && s.mtimeNs === st.mtimeNs && s.ctimeNs === st.ctimeNs;
      if (!same(after) || !same(now) || BigInt(result.size) !== st.size) {
        throw new VaultError('REFUSED', `${abs}: changed while being quarantined (size, time or inode); left in place`);
      }
      if (opts.reason !== 'manual' && this.wasRestored(abs, result.sha256)) {
        throw new VaultError('REFUSED', `${abs}: restored from the vault by the operator (same content); left in place (\`vigil quarantine add\` quarantines it anyway)`);
      }
      this.setState(id, 'moving', { sha256: result.sha256 });
      phase = 'moving';
      this.step('q.row-moving');
      await fh.close().catch(() => undefined);
      this.step('q.original-closed');
      try {
        await unlink(abs);
      } catch (e) {
        throw new VaultError('REFUSED', `${abs}: cannot remove it from its place (${message(e)}); left in place`);
      }
      phase = 'gone';
      this.step('q.original-unlinked');
      try { await fsyncDir(dirname(abs)); } catch { /* the unlink stands; some filesystems refuse fsync on directories */ }
      this.step('q.original-dir-synced');
      this.setState(id, 'stored');
      this.step('q.row-stored');
      return strip(entryOf({ ...base, sha256: result.sha256, state: 'stored', restoreTarget: null, restoreTemp: null, restoreForce: null }));
    } catch (e) {
      // Before the original is gone, roll back: the file stays where it was.
      if (phase !== 'gone') {
        try {
          if (phase !== 'open') {
            await unlinkIfExists(vpath);
            await fsyncDir(this.filesDir).catch(() => undefined);
            this.deleteRow(id);
          }
        } catch { /* recover() at the next open finishes the rollback */ }
        if (e instanceof VaultError) throw e;
        throw new VaultError('REFUSED', `${abs}: cannot quarantine: ${message(e)}; left in place`);
      }
      throw new VaultError('VAULT', `${abs}: moved into the vault as ${id} but the record could not be marked stored (${message(e)}); opening the vault again completes it`);
    } finally {
      inFlight.delete(id);
      await fh.close().catch(() => undefined);
    }
  }

  /** Every record (all states), with the problems found in it and in its vault file; orphan vault files too. */
  list(): VaultEntry[] {
    const out: VaultEntry[] = [];
    const known = new Set<string>();
    try {
      for (const row of this.db.prepare('SELECT * FROM records ORDER BY quarantinedAt, id').iterate() as IterableIterator<Row>) {
        let e: VaultEntry;
        try {
          e = entryOf(row);
        } catch (err) {
          e = { ...entryOf({} as Row), id: String(row?.id), problems: [`unreadable record: ${message(err)}`] };
        }
        known.add(e.id);
        e.problems.push(...this.fileProblems(e));
        out.push(e);
      }
    } catch (err) {
      out.push({ ...entryOf({ id: '', originalPath: '', state: 'unknown' } as unknown as Row), id: '', problems: [`vault database damaged after ${out.length} records: ${message(err)}`] });
    }
    try {
      for (const name of readdirSync(this.filesDir)) {
        if (ID_RE.test(name) && !known.has(name)) {
          let e: VaultEntry;
          try {
            e = entryOf(rowFromMeta(readMetaSync(this.vaultPath(name), this.key, name), name));
            e.problems.push('vault file without a record in vault.db (`vigil quarantine rebuild` re-indexes it)');
          } catch (err) {
            e = { ...entryOf({ id: name, originalPath: '', sha256: '' } as unknown as Row), problems: [`vault file without a record in vault.db, and its own record is unreadable: ${message(err)}`] };
          }
          e.state = 'orphan';
          out.push(e);
        }
      }
    } catch (err) {
      out.push({ ...entryOf({ id: '', state: 'unknown' } as unknown as Row), problems: [`cannot list ${this.filesDir}: ${message(err)}`] });
    }
    return out;
  }

  private fileProblems(e: VaultEntry): string[] {
    if (e.state === 'writing') return [];
    try {
      const l = layoutSync(this.vaultPath(e.id));
      if (l.contentLen !== e.size) return [`vault file holds ${l.contentLen} bytes of content, the record says ${e.size} (truncated or replaced)`];
      return [];
    } catch (err) {
      if (errCode(err) === 'ENOENT') return [`vault file ${this.vaultPath(e.id)} is missing`];
      return [err instanceof VaultFileError ? err.message : `vault file unreadable: ${message(err)}`];
    }
  }

  /** One record; `NOT_FOUND` when there is none with this id. */
  show(id: string): VaultEntry {
    const row = this.row(id);
    if (!row) throw new VaultError('NOT_FOUND', `${id}: no such record in the vault`);
    const e = entryOf(row);
    e.problems.push(...this.fileProblems(e));
    return e;
  }

  /** Decrypts a record's vault copy without writing it anywhere: null when intact, else what is wrong. */
  async verify(id: string): Promise<string | null> {
    const e = this.show(id);
    try {
      const fh = await open(this.vaultPath(id), constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        const r = await decryptFrom(fh, this.key, id);
        if (r.size !== e.size) return `content is ${r.size} bytes, the record says ${e.size}`;
        if (r.sha256 !== e.sha256) return `content SHA-256 ${r.sha256} differs from the record's ${e.sha256}`;
        return null;
      } finally { await fh.close(); }
    } catch (err) {
      if (errCode(err) === 'ENOENT') return `vault file ${this.vaultPath(id)} is missing`;
      return message(err);
    }
  }

  private storedEntry(id: string): VaultEntry {
    if (!ID_RE.test(id)) throw new VaultError('NOT_FOUND', `${JSON.stringify(id)}: not a vault id (32 hex digits)`);
    const e = this.show(id);
    if (e.state !== 'stored') throw new VaultError('REFUSED', `${id}: an operation is in progress on this record (state ${e.state})`);
    if (!e.sha256) throw new VaultError('CORRUPT', `${id}: the record is damaged (${e.problems.join('; ')})`);
    return e;
  }

  /**
   * Puts a record's file back: at its original path, or `to`. Refuses to replace an existing file
   * unless `force`, and refuses (writing nothing) when the vault copy fails authentication or its
   * SHA-256 differs from the record's. Returns the path restored to.
   */
  async restore(id: string, opts: RestoreOptions = {}): Promise<string> {
    const e = this.storedEntry(id);
    let target = resolve(opts.to ?? e.originalPath);
    if (opts.to) {
      const st = await lstatOrNull(target);
      if (st?.isDirectory()) target = join(target, basename(e.originalPath));
    }
    const existing = await lstatOrNull(target);
    if (existing && !opts.force) throw new VaultError('REFUSED', `${target}: a file is already there; not overwriting it (use --force, or --to PATH)`);
    if (existing?.isDirectory()) throw new VaultError('REFUSED', `${target}: a directory is there; not replacing it`);
    const dir = dirname(target);
    try { await mkdir(dir, { recursive: true }); } catch (err) { throw new VaultError('REFUSED', `${dir}: cannot create the directory to restore into: ${message(err)}`); }
    const temp = join(dir, `.vigil-restore-${id}`);
    const force = opts.force === true;
    this.claim(id, 'stored', 'restoring', { restoreTarget: target, restoreTemp: temp, restoreForce: force ? 1 : 0 });
    inFlight.add(id);
    try {
      this.step('r.row-restoring');
      let placed = false;
      try {
        await this.decryptInto(e, temp);
        if (force) {
          await rename(temp, target);
          placed = true;
          this.step('r.renamed');
        } else {
          const linked = await this.placeNoReplace(temp, target);
          placed = true;
          if (linked) {
            this.step('r.linked');
            await unlink(temp);
            this.step('r.temp-unlinked');
          }
        }
        await fsyncDir(dir).catch(() => undefined);
        this.step('r.target-dir-synced');
      } catch (err) {
        if (!placed) {
          await unlinkIfExists(temp).catch(() => undefined);
          this.setState(id, 'stored', { restoreTarget: null, restoreTemp: null, restoreForce: null });
        }
        throw err;
      }
      await this.finishRestore(id);
      return target;
    } finally {
      inFlight.delete(id);
    }
  }

  /** Decrypts the vault copy of `e` into `temp` (created exclusively), checks it, sets its metadata, fsyncs it. */
  private async decryptInto(e: VaultEntry, temp: string): Promise<void> {
    let src: FileHandle;
    try {
      src = await open(this.vaultPath(e.id), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      throw new VaultError('CORRUPT', `${e.id}: cannot read the vault copy: ${errCode(err) === 'ENOENT' ? `${this.vaultPath(e.id)} is missing` : message(err)}; nothing restored`);
    }
    try {
      let out: FileHandle;
      try {
        out = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      } catch (err) {
        if (errCode(err) !== 'EEXIST') throw new VaultError('REFUSED', `${temp}: cannot create: ${message(err)}`);
        // A leftover of an earlier attempt by this vault (a regular file under our reserved name).
        const st = await lstat(temp);
        if (!st.isFile()) throw new VaultError('REFUSED', `${temp}: something that is not a regular file is in the way`);
        await unlink(temp);
        out = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      }
      try {
        this.step('r.temp-created');
        let pos = 0;
        let first = true;
        let r: { sha256: string; size: number };
        try {
          r = await decryptFrom(src, this.key, e.id, async (chunk) => {
            let off = 0;
            while (off < chunk.length) {
              const { bytesWritten } = await out.write(chunk, off, chunk.length - off, pos);
              off += bytesWritten;
              pos += bytesWritten;
            }
            if (first) { first = false; this.step('r.write-chunk'); }
          });
        } catch (err) {
          if (err instanceof VaultFileError) throw new VaultError('CORRUPT', `${e.id}: ${err.message}; nothing restored`);
          throw err;
        }
        if (r.size !== e.size || r.sha256 !== e.sha256) {
          throw new VaultError('CORRUPT', `${e.id}: the decrypted content (${r.size} bytes, SHA-256 ${r.sha256}) differs from the record's (${e.size} bytes, ${e.sha256}); nothing restored`);
        }
        this.step('r.temp-written');
        if (typeof process.getuid === 'function' && process.getuid() === 0) {
          await out.chown(e.uid, e.gid);
          this.step('r.temp-owned');
        }
        await out.chmod(e.mode & 0o7777); // after chown, which clears set-id bits
        this.step('r.temp-mode-set');
        await out.utimes(new Date(), e.mtimeMs / 1000);
        this.step('r.temp-times-set');
        await out.sync();
        this.step('r.temp-synced');
      } finally {
        await out.close();
      }
    } finally {
      await src.close();
    }
  }

  /**
   * Puts `temp` at `target` unless something is there: link() (atomic, never replaces; true: the
   * caller then unlinks `temp`), or on a filesystem without hard links, a check and rename() (false).
   */
  private async placeNoReplace(temp: string, target: string): Promise<boolean> {
    try {
      await link(temp, target);
    } catch (err) {
      if (errCode(err) === 'EEXIST') throw new VaultError('REFUSED', `${target}: a file appeared there; not overwriting it (use --force)`);
      if (errCode(err) !== 'EPERM' && errCode(err) !== 'ENOTSUP' && errCode(err) !== 'EOPNOTSUPP' && errCode(err) !== 'EMLINK') throw err;
      // A filesystem without hard links: check, then rename (the window between is unavoidable there).
      if (await lstatOrNull(target)) throw new VaultError('REFUSED', `${target}: a file appeared there; not overwriting it (use --force)`);
      await rename(temp, target);
      this.step('r.renamed');
      return false;
    }
    return true;
  }

  /**
   * Marks the record restored and remembers (target, SHA-256) as restored by the operator, so that
   * a real-time scan does not quarantine it again (see `quarantine`).
   */
  private markRestored(id: string): void {
    this.db.transaction(() => {
      const row = this.row(id);
      if (row?.sha256) {
        this.db.prepare('INSERT OR REPLACE INTO restored (path, sha256, id, restoredAt) VALUES (?, ?, ?, ?)')
          .run(row.restoreTarget ?? row.originalPath, row.sha256, id, new Date().toISOString());
      }
      this.setState(id, 'restored');
    })();
  }

  /** Whether this content at this path was restored from the vault (an operator's decision). */
  wasRestored(path: string, sha256: string): boolean {
    return this.db.prepare('SELECT 1 FROM restored WHERE path = ? AND sha256 = ?').get(resolve(path), sha256) !== undefined;
  }

  /** The restored file is durable at its target: drop the vault copy, then the record. */
  private async finishRestore(id: string): Promise<void> {
    this.markRestored(id);
    this.step('r.row-restored');
    await unlinkIfExists(this.vaultPath(id));
    this.step('r.vault-file-unlinked');
    await fsyncDir(this.filesDir).catch(() => undefined);
    this.deleteRow(id);
    this.step('r.row-deleted');
  }

  /** Removes a record and its vault copy for good (also a damaged one). */
  async delete(id: string): Promise<void> {
    if (!ID_RE.test(id)) throw new VaultError('NOT_FOUND', `${JSON.stringify(id)}: not a vault id (32 hex digits)`);
    const row = this.row(id);
    if (!row) {
      // An orphan vault file (its record lost) can be deleted too.
      try { await unlink(this.vaultPath(id)); return; } catch (err) {
        if (errCode(err) === 'ENOENT') throw new VaultError('NOT_FOUND', `${id}: no such record in the vault`);
        throw new VaultError('VAULT', `${id}: cannot remove the vault file: ${message(err)}`);
      }
    }
    if (row.state !== 'stored') throw new VaultError('REFUSED', `${id}: an operation is in progress on this record (state ${row.state})`);
    this.claim(id, 'stored', 'deleting');
    this.step('d.row-deleting');
    await unlinkIfExists(this.vaultPath(id));
    await fsyncDir(this.filesDir).catch(() => undefined);
    this.deleteRow(id);
    this.step('d.row-deleted');
  }

  /**
   * Writes the records' original content, and a `manifest.json` of the records, into a ZIP at
   * `outZip` encrypted with `password` (traditional PKWARE encryption). Every copy is decrypted and
   * checked before anything is written; the ZIP appears at `outZip` only when complete, and never
   * replaces an existing file. Returns the number of bytes written.
   */
  async export(ids: string[], outZip: string, password: string): Promise<number> {
    if (ids.length === 0) throw new VaultError('REFUSED', 'nothing to export: no ids given');
    const entries: ZipEntry[] = [];
    const records: QuarantineRecord[] = [];
    const used = new Set<string>();
    for (const id of [...new Set(ids)]) {
      const e = this.storedEntry(id);
      let crc = 0;
      const r = await this.readPlain(e, (c) => { crc = crc32(c, crc); });
      if (r) throw new VaultError('CORRUPT', `${id}: ${r}; not exported`);
      let name = `${e.id}/${sanitize(basename(e.originalPath)) || 'file'}`;
      while (used.has(name)) name += '_';
      used.add(name);
      records.push(strip(e));
      entries.push({
        name, size: e.size, crc,
        produce: async (put) => {
          const err = await this.readPlain(e, undefined, put);
          if (err) throw new VaultError('CORRUPT', `${e.id}: ${err}; not exported`);
        },
      });
    }
    const manifest = Buffer.from(`${JSON.stringify({ exportedAt: new Date().toISOString(), records }, null, 2)}\n`, 'utf8');
    entries.push({ name: 'manifest.json', size: manifest.length, crc: crc32(manifest), produce: (put) => put(manifest) });

    const out = resolve(outZip);
    if (await lstatOrNull(out)) throw new VaultError('REFUSED', `${out}: already exists; not overwriting it`);
    const temp = join(dirname(out), `.${basename(out)}.${randomBytes(6).toString('hex')}.tmp`);
    let fh: FileHandle;
    try {
      fh = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      throw new VaultError('REFUSED', `${out}: cannot write: ${message(err)}`);
    }
    try {
      let n: number;
      try {
        n = await writeEncryptedZip(fh, entries, password);
        await fh.sync();
      } finally {
        await fh.close();
      }
      try {
        await link(temp, out);
      } catch (err) {
        if (errCode(err) === 'EEXIST') throw new VaultError('REFUSED', `${out}: appeared while exporting; not overwriting it`);
        throw new VaultError('REFUSED', `${out}: cannot write: ${message(err)}`);
      }
      return n;
    } finally {
      await unlinkIfExists(temp).catch(() => undefined);
    }
  }

  /** Decrypts `e`'s copy to `onPlain`/`put`; null when it is intact, else what is wrong. */
  private async readPlain(e: VaultEntry, onPlain?: (c: Buffer) => void, put?: (c: Buffer) => Promise<void>): Promise<string | null> {
    let fh: FileHandle;
    try {
      fh = await open(this.vaultPath(e.id), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      return errCode(err) === 'ENOENT' ? `vault file ${this.vaultPath(e.id)} is missing` : `cannot read the vault copy: ${message(err)}`;
    }
    try {
      const r = await decryptFrom(fh, this.key, e.id, async (c) => { onPlain?.(c); if (put) await put(c); });
      if (r.size !== e.size || r.sha256 !== e.sha256) return `the decrypted content (${r.size} bytes, SHA-256 ${r.sha256}) differs from the record's (${e.size} bytes, ${e.sha256})`;
      return null;
    } catch (err) {
      if (err instanceof VaultFileError) return err.message;
      throw err;
    } finally {
      await fh.close();
    }
  }

  /**
   * Adds a record for every vault file that has none, from the record kept in the file itself
   * (after `vault.db` was lost). Returns what was indexed and what could not be, one line each.
   */
  indexOrphans(): { indexed: string[]; skipped: string[] } {
    const known = new Set((this.db.prepare('SELECT id FROM records').all() as { id: string }[]).map((r) => r.id));
    const indexed: string[] = [];
    const skipped: string[] = [];
    const insert = this.db.prepare(`INSERT INTO records (id, originalPath, size, mode, uid, gid, mtimeMs, dev, ino, sha256, detections, engine, database, quarantinedAt, reason, state, pid)
      VALUES (@id, @originalPath, @size, @mode, @uid, @gid, @mtimeMs, @dev, @ino, @sha256, @detections, @engine, @database, @quarantinedAt, @reason, 'stored', NULL)`);
    for (const name of readdirSync(this.filesDir).sort()) {
      if (!ID_RE.test(name) || known.has(name)) continue;
      try {
        const row = rowFromMeta(readMetaSync(this.vaultPath(name), this.key, name), name);
        const e = entryOf(row);
        if (e.problems.length > 0) throw new Error(e.problems.join('; '));
        const l = layoutSync(this.vaultPath(name));
        if (l.contentLen !== e.size) throw new Error(`holds ${l.contentLen} bytes of content, its record says ${e.size}`);
        insert.run(row);
        indexed.push(`${name}: ${e.originalPath}`);
      } catch (err) {
        skipped.push(`${name}: ${message(err)}`);
      }
    }
    return { indexed, skipped };
  }

  /**
   * Finishes or rolls back the operations a dead process left half done (see the file's comment).
   * Run by `openVault` (synchronously, so that the vault it returns is consistent); returns what it
   * did, one line per record.
   */
  recover(): string[] {
    const done: string[] = [];
    let rows: Row[];
    try {
      rows = this.db.prepare("SELECT * FROM records WHERE state <> 'stored'").all() as Row[];
    } catch (e) {
      throw new VaultError('VAULT', `${join(this.dir, 'vault.db')}: cannot read the journal: ${message(e)}`);
    }
    for (const row of rows) {
      if (!ID_RE.test(String(row.id))) continue;
      if (row.pid === process.pid ? inFlight.has(row.id) : pidAlive(row.pid ?? 0)) continue;
      try {
        const what = this.recoverOne(row);
        if (what) done.push(`${row.id}: ${what}`);
      } catch (e) {
        done.push(`${row.id}: could not recover (${message(e)}); left as it was`);
      }
    }
    this.recovered.push(...done);
    return done;
  }

  private recoverOne(row: Row): string {
    const id = row.id;
    const vpath = this.vaultPath(id);
    switch (row.state) {
      case 'writing': {
        unlinkIfExistsSync(vpath);
        trySync(() => fsyncDirSync(this.filesDir));
        this.deleteRow(id);
        return `interrupted quarantine rolled back: ${row.originalPath} left in place`;
      }
      case 'moving': {
        const st = lstatOrNullSync(row.originalPath);
        let note = '';
        if (st && String(st.dev) === row.dev && String(st.ino) === row.ino && Number(st.size) === row.size && Math.abs(msOf(st) - row.mtimeMs) < 0.001) {
          unlinkSync(row.originalPath);
          trySync(() => fsyncDirSync(dirname(row.originalPath)));
        } else if (st) {
          note = ' (another file is now at the original path; left alone)';
        }
        this.setState(id, 'stored');
        return `interrupted quarantine completed: ${row.originalPath} is in the vault${note}`;
      }
      case 'restoring': {
        const target = row.restoreTarget ?? row.originalPath;
        const temp = row.restoreTemp ?? join(dirname(target), `.vigil-restore-${id}`);
        const t = lstatOrNullSync(temp);
        const g = lstatOrNullSync(target);
        let finished = false;
        if (t) {
          finished = g !== null && g.dev === t.dev && g.ino === t.ino; // linked in place, temp not yet removed
          unlinkSync(temp);
        } else if (g?.isFile() && Number(g.size) === row.size) {
          finished = hashFileSync(target) === row.sha256;
        }
        if (finished) {
          trySync(() => fsyncDirSync(dirname(target)));
          this.finishRestoreSync(id);
          return `interrupted restore completed: ${target} restored`;
        }
        this.setState(id, 'stored', { restoreTarget: null, restoreTemp: null, restoreForce: null });
        return 'interrupted restore rolled back: the file is still in the vault';
      }
      case 'restored': {
        this.finishRestoreSync(id);
        return 'restore completed: vault copy removed';
      }
      case 'deleting': {
        unlinkIfExistsSync(vpath);
        trySync(() => fsyncDirSync(this.filesDir));
        this.deleteRow(id);
        return 'interrupted delete completed';
      }
      default:
        return `unknown state ${JSON.stringify(row.state)}; left as it is`;
    }
  }

  private finishRestoreSync(id: string): void {
    this.markRestored(id);
    unlinkIfExistsSync(this.vaultPath(id));
    trySync(() => fsyncDirSync(this.filesDir));
    this.deleteRow(id);
  }
}

function trySync(f: () => void): void {
  try { f(); } catch { /* best effort (some filesystems refuse fsync on directories) */ }
}

function unlinkIfExistsSync(path: string): void {
  try { unlinkSync(path); } catch (e) { if (errCode(e) !== 'ENOENT') throw e; }
}

function lstatOrNullSync(path: string): BigIntStats | null {
  try { return lstatSync(path, { bigint: true }); } catch (e) { if (errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') return null; throw e; }
}

function hashFileSync(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally { closeSync(fd); }
  return h.digest('hex');
}

/** A file name safe in a ZIP listing: no control characters or backslashes. */
function sanitize(name: string): string {
  let out = '';
  for (const ch of name) out += ch === '\\' || ch.charCodeAt(0) < 0x20 ? '_' : ch;
  return out;
}

/**
 * `$VIGIL_HOME/quarantine`: the same rule as the CLI's home (`$VIGIL_HOME`, else `/var/lib/vigil`
 * for root, else `~/.local/share/vigil`), restated here because the protection layer does not
 * import the CLI.
 */
export function defaultVaultDir(): string {
  return join(vigilHome(), 'quarantine');
}

/**
 * Rebuilds the vault's index: when `vault.db` cannot be opened it is set aside
 * (`vault.db.damaged-<time>`, with its -wal and -shm) and a new one created; then every vault file
 * without a record is indexed from the record it carries. The key must be there (without it
 * nothing can be read back, and a new one is not made).
 */
export function rebuildVault(dir: string = defaultVaultDir()): { movedAside: string | null; indexed: string[]; skipped: string[]; recovered: string[] } {
  const abs = resolve(dir);
  checkVaultDir(abs, 'vault directory');
  try {
    loadKey(abs, false);
  } catch (e) {
    throw new VaultError('VAULT', message(e));
  }
  let movedAside: string | null = null;
  let v: Vault;
  try {
    v = openVault(abs);
  } catch (e) {
    if (!(e instanceof VaultError) || !e.damagedDb) throw e;
    movedAside = join(abs, `vault.db.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    for (const suffix of ['', '-wal', '-shm']) {
      try { renameSync(join(abs, `vault.db${suffix}`), `${movedAside}${suffix}`); } catch (err) { if (errCode(err) !== 'ENOENT') throw new VaultError('VAULT', `cannot set the damaged database aside: ${message(err)}`); }
    }
    fsyncDirSync(abs);
    v = openVault(abs);
  }
  try {
    return { movedAside, ...v.indexOrphans(), recovered: [...v.recovered] };
  } finally {
    v.close();
  }
}

/**
 * Opens (creating when needed) the vault at `dir` and recovers what interrupted operations left
 * (`vault.recovered` says what). Throws `VaultError` ('VAULT') when the directory is a symlink, not
 * ours or open to others, the database is damaged, or the key is missing while records exist.
 */
export function openVault(dir: string = defaultVaultDir(), opts: VaultOptions = {}): Vault {
  const v = new Vault(dir, opts);
  try {
    v.recover();
  } catch (e) {
    v.close();
    throw e;
  }
  return v;
}
