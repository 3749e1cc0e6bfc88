/**
 * Versioned copies of protected folders and rollback (see `store.ts`).
 *
 * In/Out: re-exports the store, its options and results, and the object-store errors callers may
 * want to recognise. Why: one import path for the daemon and the CLI.
 */
export { VersionStore, openVersionStore, defaultVersionsDir } from './store.js';
export type { Retention, VersionStoreOptions, SnapshotResult, VersionRollbackItem, PruneResult } from './store.js';
export type { VersionRow } from './db.js';
export { CorruptObjectError, MissingObjectError } from './objects.js';
