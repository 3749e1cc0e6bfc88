/**
 * Where vigil keeps its state: `$VIGIL_HOME`, by default `/var/lib/vigil` for root and
 * `~/.local/share/vigil` for anyone else. The database directory, the compiled-database cache, the
 * quarantine vault, the versioned copies and the watcher's state all live below it.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function vigilHome(): string {
  const env = process.env['VIGIL_HOME'];
  if (env) return resolve(env);
  if (typeof process.getuid === 'function' && process.getuid() === 0) return '/var/lib/vigil';
  return join(homedir(), '.local', 'share', 'vigil');
}
