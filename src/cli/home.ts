/**
 * Where vigil keeps its state: `$VIGIL_HOME` (default `/var/lib/vigil` for root, else
 * `~/.local/share/vigil`), its database directories (`db`, `clamav`, `local` under it), its
 * compiled-database cache, and the database shipped inside the package.
 */
import { existsSync } from 'node:fs';
import { packagedDbDir, vigilHome } from '../core/home.js';

import { join } from 'node:path';

export { packagedDbDir, vigilHome };

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
