/**
 * Where vigil keeps its state: `$VIGIL_HOME`, by default `/var/lib/vigil` for root and
 * `~/.local/share/vigil` for anyone else. The database directory, the compiled-database cache, the
 * quarantine vault, the versioned copies and the watcher's state all live below it. Also the
 * database shipped inside the package (`db/`).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function vigilHome(): string {
  const env = process.env['VIGIL_HOME'];
  if (env) return resolve(env);
  if (typeof process.getuid === 'function' && process.getuid() === 0) return '/var/lib/vigil';
  return join(homedir(), '.local', 'share', 'vigil');
}
/** The package's own database directory (`db/` at the package root). */
export function packagedDbDir(): string {
  // This file is dist/src/core/home.js (or src/core/home.ts under a TypeScript runner).
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'db'))) return join(dir, 'db');
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'db');
}

