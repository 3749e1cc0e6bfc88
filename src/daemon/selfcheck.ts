/**
 * clamd's SelfCheck: every so often, look whether the database files changed, and reload when
 * they did ("SelfCheck: Database modification detected. Forcing reload.").
 *
 * In: the database paths (files or directories; a directory's own entries, not deeper, as clamd
 * reads them), the interval, and what to do on a change. Out: a function that stops watching.
 * A change is any difference in the entries' names, sizes or modification times; a path that
 * cannot be read counts as empty, so it vanishing or coming back is a change too.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** What the database paths hold now: names, sizes and modification times. */
export function databaseFingerprint(paths: readonly string[]): string {
  const parts: string[] = [];
  for (const p of paths) {
    try {
      const st = statSync(p);
      if (!st.isDirectory()) { parts.push(`${p}:${st.size}:${st.mtimeMs}`); continue; }
      for (const name of readdirSync(p).sort()) {
        try {
          const s = statSync(join(p, name));
          if (s.isFile()) parts.push(`${p}/${name}:${s.size}:${s.mtimeMs}`);
        } catch {
          // vanished between the listing and the stat: the next check sees it gone
        }
      }
    } catch {
      parts.push(`${p}:missing`);
    }
  }
  return parts.join('\n');
}

/** Checks every `intervalMs` and calls `onChange` (awaited, one at a time) when the databases changed. */
export function watchDatabases(paths: readonly string[], intervalMs: number, onChange: () => Promise<void> | void): () => void {
  let last = databaseFingerprint(paths);
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    const now = databaseFingerprint(paths);
    if (now === last) return;
    last = now;
    busy = true;
    Promise.resolve(onChange()).catch(() => undefined).finally(() => { busy = false; });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
