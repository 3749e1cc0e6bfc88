/**
 * One update run: gather the candidates offered by the mirrors (and offline bundle files), try
 * them newest first, and install the first that passes every check.
 *
 * In: the managed database path, mirror URLs and/or bundle files, the publisher's key, the log's
 * key. Out: what was installed (or that nothing newer was offered), every candidate refused with
 * its source and reason, and warnings (a mirror down, a mirror behind, an installed database past
 * its expiry with nothing newer offered: a freeze).
 * Why: mirrors are untrusted; one serving a tampered, unlogged, replayed or expired bundle must not
 * stop a client from getting the genuine newest one from another, and must never replace what works.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BundleError } from './bundle.js';
import { applyDelta, isDelta, readDeltaHeader } from './delta.js';
import { DbStore, UpdateError, type InstalledVersion, type InstallOptions } from './install.js';
import { describeFile, download, fetchIndex, fileUrl, MAX_DOWNLOAD, type MirrorFile } from './mirror.js';
import { LogError } from './transparency.js';

/** Where to update and from where; every install option (keys, clock, test-load, steps) applies. */
export interface UpdateOptions extends InstallOptions {
  db: string;
  mirrors?: string[];
  /** Offline bundle or delta files. */
  files?: string[];
}

export interface Refusal { source: string; version: number; reason: string }

export interface UpdateReport {
  status: 'installed' | 'current' | 'refused';
  installed?: InstalledVersion;
  previous?: InstalledVersion;
  logChecked: boolean;
  refused: Refusal[];
  warnings: string[];
}

interface Candidate {
  source: string;
  version: number;
  kind: 'bundle' | 'delta';
  size: number;
  order: number;
  get: () => Promise<Buffer>;
}

export function reasonOf(e: unknown): string {
  if (e instanceof BundleError || e instanceof LogError || e instanceof UpdateError) return `${e.code}: ${e.message}`;
  return (e as Error).message;
}

function baseFiles(dir: string): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const n of readdirSync(dir)) m.set(n, readFileSync(join(dir, n)));
  return m;
}

export async function runUpdate(o: UpdateOptions): Promise<UpdateReport> {
  const store = new DbStore(o.db);
  const now = o.now ?? (() => new Date());
  const state = store.state();
  const cur = store.current();
  const warnings: string[] = [];
  const refused: Refusal[] = [];
  const candidates: Candidate[] = [];
  let order = 0;

  const consider = (f: MirrorFile, source: string, get: () => Promise<Buffer>): void => {
    if (cur && f.manifest_sha256 === cur.manifest_sha256) return;
    if (f.version <= state.highest_version) return; // older: never installed, nothing to download
    if (f.kind === 'delta' && (!cur || f.base_manifest_sha256 !== cur.manifest_sha256)) return;
    candidates.push({ source, version: f.version, kind: f.kind, size: f.size, order: order++, get });
  };

  for (const path of o.files ?? []) {
    const d = describeFile('', path);
    if (!d) { refused.push({ source: path, version: 0, reason: 'not a vigil bundle or delta' }); continue; }
    if (state.rolled_back.includes(d.manifest_sha256)) {
      refused.push({ source: path, version: d.version, reason: `rolled-back: version ${d.version} (${d.manifest_sha256.slice(0, 16)}…) was rolled back here; waiting for a newer one` });
      continue;
    }
    if (d.version <= state.highest_version && !(cur && d.manifest_sha256 === cur.manifest_sha256)) {
      refused.push({ source: path, version: d.version, reason: `rollback: bundle version ${d.version} is not newer than version ${state.highest_version}, already installed here (a replayed or older bundle)` });
      continue;
    }
    consider(d, path, async () => readFileSync(path));
  }
  for (const base of o.mirrors ?? []) {
    let index: MirrorFile[];
    try {
      index = await fetchIndex(base);
    } catch (e) {
      warnings.push(`mirror ${base}: ${(e as Error).message}`);
      continue;
    }
    const newest = Math.max(0, ...index.filter((f) => f.kind === 'bundle').map((f) => f.version));
    if (index.length > 0 && newest < state.highest_version) warnings.push(`mirror ${base} is behind: its newest bundle is version ${newest}, version ${state.highest_version} is installed here`);
    for (const f of index) consider(f, fileUrl(base, f), () => download(fileUrl(base, f), Math.min(MAX_DOWNLOAD, Math.max(f.size, 1) * 2 + 4096)));
  }
  // Newest first; for one version, a delta (smaller) before whole bundles; then mirror order.
  candidates.sort((a, b) => b.version - a.version || (a.kind === b.kind ? 0 : a.kind === 'delta' ? -1 : 1) || a.order - b.order);

  const install: InstallOptions = { ...o, now };
  for (const c of candidates) {
    try {
      let bytes = await c.get();
      if (isDelta(bytes)) {
        if (!cur) throw new UpdateError('no-base', 'a delta needs an installed version');
        const h = readDeltaHeader(bytes).header;
        if (h.version !== c.version) throw new UpdateError('mismatch', `the delta is for version ${h.version}, the index said ${c.version}`);
        bytes = applyDelta(bytes, { manifestHash: cur.manifest_sha256, files: baseFiles(cur.dir) });
      }
      const r = await store.install(bytes, install);
      if (r.status === 'installed') {
        return { status: 'installed', installed: r.installed, ...(r.previous ? { previous: r.previous } : {}), logChecked: r.logChecked, refused, warnings };
      }
    } catch (e) {
      if (!(e instanceof BundleError || e instanceof LogError || e instanceof UpdateError || e instanceof Error)) throw e;
      if (e instanceof UpdateError && e.code === 'locked') throw e;
      refused.push({ source: c.source, version: c.version, reason: reasonOf(e) });
    }
  }
  const after = store.current();
  if (after && Date.parse(after.expires) < now().getTime()) {
    warnings.push(`the installed version ${after.version} expired at ${after.expires} and nothing newer and valid was offered: the mirrors may be withholding updates (a freeze); its signatures are still used`);
  }
  if (refused.length > 0) return { status: 'refused', ...(after ? { installed: after } : {}), logChecked: false, refused, warnings };
  return { status: 'current', ...(after ? { installed: after } : {}), logChecked: false, refused, warnings };
}
