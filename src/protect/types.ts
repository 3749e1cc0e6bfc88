/**
 * What the protection components (real-time watcher, quarantine vault, ransomware shield, versioned
 * copies for rollback) exchange. Each component owns its folder under `src/protect/`; these types
 * are the seams between them, so that the watcher can hand a detection to the vault, the shield can
 * read the watcher's events, and rollback can restore from the versioned copies.
 */
import type { Detection } from '../engine/result.js';

/** A change seen in a watched tree, after its writes settled (or a deletion / rename). */
export interface FileEvent {
  type: 'create' | 'update' | 'delete';
  /** Absolute path. */
  path: string;
  /** When the event was observed (ms since the epoch). */
  time: number;
}

/** What the scanner knew when it decided to quarantine a file. */
export interface QuarantineInfo {
  detections: Detection[];
  /** Engine version (`vigil-0.1.0`). */
  engine: string;
  database: { signatures: number; daily?: number };
}

/** One quarantined file, as `vigil quarantine list --json` prints it. */
export interface QuarantineRecord {
  /** Random id (hex), also the vault's file name for the defanged content. */
  id: string;
  originalPath: string;
  size: number;
  /** Permission bits (e.g. 0o644) and owner of the original file. */
  mode: number;
  uid: number;
  gid: number;
  /** Modification time of the original file (ms since the epoch). */
  mtimeMs: number;
  /** SHA-256 of the original content (hex). */
  sha256: string;
  detections: Detection[];
  engine: string;
  database: { signatures: number; daily?: number };
  /** When it was quarantined (ISO 8601). */
  quarantinedAt: string;
}

/** Where infected files go: the vault (`src/protect/vault/`). */
export interface QuarantineSink {
  /**
   * Moves the file into the vault. Resolves once the file is durably in the vault and gone from
   * its place; rejects (leaving the file in place) when that cannot be done.
   */
  quarantine(path: string, info: QuarantineInfo): Promise<QuarantineRecord>;
}

/** What a real-time scan does with an infected file. */
export type WatchAction = 'report' | 'quarantine' | 'delete';

/** A file that `rollback` would restore or remove, and from which copy. */
export interface RollbackItem {
  path: string;
  action: 'restore' | 'remove';
  /** SHA-256 of the content it is restored to (for `restore`). */
  sha256?: string;
  /** When the copy it is restored from was taken (ms since the epoch). */
  versionTime?: number;
}

/** Versioned copies of protected folders (`src/protect/versions/`). */
export interface VersionSource {
  /** Records the current content of every file under `root` (a periodic snapshot). */
  snapshot(root: string): Promise<{ files: number; newBytes: number }>;
  /** Records the current content of one file after a settled change (or its deletion). */
  recordChange(event: FileEvent): Promise<void>;
  /**
   * Restores every file under `paths` (all protected roots when empty) to its last version from
   * before `since`: changed files get their old content back, deleted files come back, files created
   * since are removed. With `dryRun` nothing is touched.
   */
  rollback(opts: { since: number; paths?: string[]; dryRun?: boolean }): Promise<RollbackItem[]>;
}
