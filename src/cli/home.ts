/**
 * Where vigil keeps its state: `$VIGIL_HOME` (default `/var/lib/vigil` for root, else
 * `~/.local/share/vigil`), its database directories (`db`, `clamav`, `local` under it), its
 * compiled-database cache, and the database shipped inside the package.
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

/**
 * The default `-d`: those of the user's database directories that exist — `db` (signed bundles
 * installed by `vigil update`), `clamav` (ClamAV's official databases, `vigil update
 * --clamav-mirror`), `local` (imported threat intelligence, `vigil db import`) — plus the
 * packaged database.
 */
export function defaultDatabases(): string[] {
  const home = vigilHome();
  const out = ['db', 'clamav', 'local'].map((d) => join(home, d)).filter((p) => existsSync(p));
  out.push(packagedDbDir());
  return out;
}

export function cacheDir(): string {
  return join(vigilHome(), 'cache');
}
