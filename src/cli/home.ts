/**
 * Where vigil keeps its state: `$VIGIL_HOME` (default `/var/lib/vigil` for root, else
 * `~/.local/share/vigil`), its database directory `$VIGIL_HOME/db`, its compiled-database cache,
 * and the database shipped inside the package.
 */
import { existsSync } from 'node:fs';
import { vigilHome } from '../core/home.js';

export { vigilHome };
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's own database directory (`db/` at the package root). */
export function packagedDbDir(): string {
  // This file is dist/src/cli/home.js (or src/cli/home.ts under a TypeScript runner).
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'db'))) return join(dir, 'db');
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'db');
}

/** The default `-d`: the user's database directory (if it exists) plus the packaged database. */
export function defaultDatabases(): string[] {
  const user = join(vigilHome(), 'db');
  const out = [packagedDbDir()];
  if (existsSync(user)) out.unshift(user);
  return out;
}

export function cacheDir(): string {
  return join(vigilHome(), 'cache');
}
