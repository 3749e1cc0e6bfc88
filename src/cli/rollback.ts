/**
 * `vigil rollback` and `vigil versions`: bring protected folders back to their state before an
 * incident, from the versioned copies the daemon keeps (`src/protect/versions/`).
 *
 *   vigil rollback --since TIME [PATH...] [--dry-run] [--json] [--store DIR]
 *       TIME: ISO 8601 (`2026-11-29T14:05:00Z`; without an offset, local time) or relative to now
 *       (`90s`, `10m`, `2h`, `1d`, `1w`). Restores each file under PATH (default: every protected
 *       root) to its last copy from before TIME and removes the files that appeared since;
 *       `--dry-run` lists the same plan and touches nothing.
 *   vigil versions snapshot PATH...            copy the current state of these folders now
 *   vigil versions list PATH [--json]          every version of the files at or below PATH
 *   vigil versions verify [--json]             read back every stored copy, check its hash
 *   vigil versions prune [--max-age DUR] [--max-size SIZE] [--force]
 *                                              apply the retention (default 30 days, no size limit)
 *   (each takes --store DIR; default `$VIGIL_HOME/versions`)
 *
 * In: arguments and output streams. Out: one line per file restored or removed (or JSON) and an
 * exit code: 0 done, 1 when some files were refused (each printed with its reason), a snapshot
 * could not read everything or a stored copy is damaged, 2 on a usage error or when the store
 * cannot be opened.
 *
 * Why: rollback is the last step of an incident and is run by a person under stress; it says what
 * it is going to do (`--dry-run`), what it did, and what it could not do, file by file, and says
 * honestly that files changed after their last copy cannot be brought back to that change.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { openVersionStore, type VersionRollbackItem, type VersionStore } from '../protect/versions/index.js';
import { vigilHome } from './home.js';

export interface RollbackDeps {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** The current time (tests). */
  now?: () => number;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Parses `--since`: ISO 8601, or a duration before `now` (`10m`, `2h`, `1d`). Throws with the reason. */
export function parseSince(text: string, now: number): number {
  const s = text.trim();
  const rel = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(s);
  if (rel) return now - Number(rel[1]) * UNITS[rel[2]!.toLowerCase()]!;
  if (ISO.test(s)) {
    const t = Date.parse(s.replace(' ', 'T'));
    if (Number.isFinite(t)) {
      if (t > now) throw new Error(`--since ${text} is in the future`);
      return t;
    }
  }
  throw new Error(`--since wants an ISO 8601 time (2026-11-29T14:05:00Z) or a duration before now (10m, 2h, 1d), got "${text}"`);
}

/** A duration (`30d`, `12h`) in ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(text.trim());
  if (!m) throw new Error(`a duration is a number and a unit (s, m, h, d, w), got "${text}"`);
  return Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
}

/** A size (`500M`, `10G`, `4096`) in bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(text.trim());
  if (!m) throw new Error(`a size is a number with an optional K, M, G or T, got "${text}"`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase()]!;
  return Math.floor(Number(m[1]) * mult);
}

function defaultStore(): string {
  return join(vigilHome(), 'versions');
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

const REASONS: Record<NonNullable<VersionRollbackItem['reason']>, string> = {
  'deleted-before': 'did not exist before',
  'created-since': 'created since',
  'renamed-since': 'an original renamed since',
};

function line(i: VersionRollbackItem, dryRun: boolean): string {
  if (i.error) return `REFUSED  ${i.action} ${i.path}: ${i.error}\n`;
  const verb = i.action === 'restore' ? (dryRun ? 'would restore' : 'restored') : dryRun ? 'would remove ' : 'removed ';
  const why = i.action === 'restore'
    ? `copy of ${i.versionTime !== undefined ? iso(i.versionTime) : '?'}, sha256 ${i.sha256?.slice(0, 16) ?? '?'}`
    : i.reason ? REASONS[i.reason] : '';
  return `${verb.padEnd(14)}${i.path}${why ? `  (${why})` : ''}${i.note ? `  [${i.note}]` : ''}\n`;
}

async function openExisting(dir: string, deps: RollbackDeps): Promise<VersionStore | undefined> {
  if (!existsSync(join(dir, 'index.sqlite'))) {
    deps.stderr.write(`ERROR: no version store at ${dir} (vigil versions snapshot PATH creates one; --store DIR names another)\n`);
    return undefined;
  }
  try {
    return await openVersionStore({ dir });
  } catch (e) {
    deps.stderr.write(`ERROR: can't open the version store ${dir}: ${e instanceof Error ? e.message : String(e)}\n`);
    return undefined;
  }
}

function parseOrCode(program: Command, args: string[]): number | undefined {
  try {
    program.parse(args, { from: 'user' });
    return undefined;
  } catch (e) {
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' ? 0 : 2;
    throw e;
  }
}

export async function runRollback(args: string[], deps: RollbackDeps): Promise<number> {
  const now = deps.now ?? Date.now;
  const program = new Command('vigil rollback')
    .description('restore protected files to their last copy from before a time, and remove what appeared since')
    .exitOverride()
    .helpOption('-h, --help', 'show this help')
    .requiredOption('--since <time>', 'ISO 8601 time, or a duration before now (10m, 2h, 1d)')
    .option('--dry-run', 'list what would be restored and removed; touch nothing', false)
    .option('--json', 'print JSON', false)
    .option('--store <dir>', 'the version store (default: $VIGIL_HOME/versions)')
    .argument('[paths...]', 'files or folders inside the protected roots (default: all of them)')
    .configureOutput({ writeOut: (s) => { deps.stdout.write(s); }, writeErr: (s) => { deps.stderr.write(s); } });
  const early = parseOrCode(program, args);
  if (early !== undefined) return early;
  const o = program.opts<{ since: string; dryRun: boolean; json: boolean; store?: string }>();
  const paths = program.args;
  let since: number;
  try {
    since = parseSince(o.since, now());
  } catch (e) {
    deps.stderr.write(`ERROR: ${(e as Error).message}\n`);
    return 2;
  }
  const dir = o.store ?? defaultStore();
  const store = await openExisting(dir, deps);
  if (!store) return 2;
  try {
    if (store.roots().length === 0) {
      deps.stderr.write(`ERROR: the version store ${dir} protects no folder yet\n`);
      return 2;
    }
    let items: VersionRollbackItem[];
    try {
      items = await store.rollback({ since, paths, dryRun: o.dryRun, warn: (m) => { deps.stderr.write(`WARNING: ${m}\n`); } });
    } catch (e) {
      deps.stderr.write(`ERROR: ${(e as Error).message}\n`);
      return 2;
    }
    const restored = items.filter((i) => !i.error && i.action === 'restore').length;
    const removed = items.filter((i) => !i.error && i.action === 'remove').length;
    const refused = items.filter((i) => i.error).length;
    if (o.json) {
      deps.stdout.write(JSON.stringify({ since: iso(since), dryRun: o.dryRun, store: store.dir, items, restored, removed, refused }, null, 2) + '\n');
    } else {
      for (const i of items) deps.stdout.write(line(i, o.dryRun));
      const verb = o.dryRun ? 'would be ' : '';
      deps.stdout.write(`${items.length === 0 ? 'Nothing to do: every file matches its copy from before ' + iso(since) + '. ' : ''}${restored} files ${verb}restored, ${removed} ${verb}removed, ${refused} refused (copies from before ${iso(since)})\n`);
    }
    return refused > 0 ? 1 : 0;
  } finally {
    store.close();
  }
}

export async function runVersions(args: string[], deps: RollbackDeps): Promise<number> {
  let code = 0;
  const out = (s: string): void => { deps.stdout.write(s); };
  const program = new Command('vigil versions')
    .description('versioned copies of protected folders')
    .exitOverride()
    .helpCommand(false)
    .helpOption('-h, --help', 'show this help')
    .configureOutput({ writeOut: out, writeErr: (s) => { deps.stderr.write(s); } });

  program
    .command('snapshot')
    .description('copy the current state of these folders into the store (they become protected roots)')
    .argument('<paths...>')
    .option('--store <dir>', 'the version store (default: $VIGIL_HOME/versions)')
    .option('--json', 'print JSON', false)
    .exitOverride()
    .action(async (paths: string[], o: { store?: string; json: boolean }) => {
      let store: VersionStore;
      try {
        store = await openVersionStore({ dir: o.store ?? defaultStore() });
      } catch (e) {
        deps.stderr.write(`ERROR: can't open the version store: ${(e as Error).message}\n`);
        code = 2;
        return;
      }
      try {
        const results = [];
        for (const p of paths) {
          const t = performance.now();
          try {
            const r = await store.snapshot(p);
            results.push({ path: p, ...r, ms: Math.round(performance.now() - t) });
            for (const e of r.errors) deps.stderr.write(`WARNING: ${e.path}: ${e.message}\n`);
            if (r.errors.length > 0) code = Math.max(code, 1);
            if (!o.json) out(`${p}: ${r.files} files, ${r.changed} versions recorded (${r.deleted} deletions), ${r.newBytes} new bytes, ${r.errors.length} not copied, ${Math.round(performance.now() - t)} ms\n`);
          } catch (e) {
            deps.stderr.write(`ERROR: ${p}: ${(e as Error).message}\n`);
            code = 2;
          }
        }
        if (o.json) out(JSON.stringify(results, null, 2) + '\n');
      } finally {
        store.close();
      }
    });

  program
    .command('list')
    .description('every version of the files at or below PATH')
    .argument('<path>')
    .option('--store <dir>', 'the version store (default: $VIGIL_HOME/versions)')
    .option('--json', 'print JSON', false)
    .exitOverride()
    .action(async (path: string, o: { store?: string; json: boolean }) => {
      const store = await openExisting(o.store ?? defaultStore(), deps);
      if (!store) { code = 2; return; }
      try {
        const rows = store.list(path);
        if (o.json) {
          out(JSON.stringify(rows.map((r) => ({
            path: r.path, time: iso(r.time), sha256: r.sha256, deleted: r.sha256 === null, size: r.size,
            mode: `0${r.mode.toString(8)}`, mtime: iso(r.mtime_ms), origin: r.origin,
          })), null, 2) + '\n');
          return;
        }
        if (rows.length === 0) out(`no versions of ${path}\n`);
        for (const r of rows) {
          out(`${iso(r.time)}  ${r.sha256 === null ? 'deleted         ' : r.sha256.slice(0, 16)}  ${String(r.size).padStart(10)}  0${r.mode.toString(8).padStart(3, '0')}  ${r.origin.padEnd(12)}  ${r.path}\n`);
        }
      } finally {
        store.close();
      }
    });

  program
    .command('verify')
    .description('read back every stored copy and check it against its hash')
    .option('--store <dir>', 'the version store (default: $VIGIL_HOME/versions)')
    .option('--json', 'print JSON', false)
    .exitOverride()
    .action(async (o: { store?: string; json: boolean }) => {
      const store = await openExisting(o.store ?? defaultStore(), deps);
      if (!store) { code = 2; return; }
      try {
        const r = await store.verify();
        if (o.json) out(JSON.stringify(r, null, 2) + '\n');
        else {
          for (const b of r.bad) out(`DAMAGED  ${b.error}\n         used by: ${b.paths.join(', ') || '(no version)'}\n`);
          out(`${r.objects} stored copies checked (${r.bytes} bytes), ${r.bad.length} damaged\n`);
        }
        if (r.bad.length > 0) code = 1;
      } finally {
        store.close();
      }
    });

  program
    .command('prune')
    .description('apply the retention: versions older than --max-age, then the oldest above --max-size; never the latest version of a live file')
    .option('--store <dir>', 'the version store (default: $VIGIL_HOME/versions)')
    .option('--max-age <duration>', 'keep versions this long (e.g. 30d)', '30d')
    .option('--max-size <size>', 'keep the stored copies under this size (e.g. 10G; default: no limit)')
    .option('--force', 'prune even while an alert holds pruning', false)
    .option('--json', 'print JSON', false)
    .exitOverride()
    .action(async (o: { store?: string; maxAge: string; maxSize?: string; force: boolean; json: boolean }) => {
      let retention;
      try {
        retention = { maxAgeMs: parseDuration(o.maxAge), maxBytes: o.maxSize ? parseSize(o.maxSize) : 0 };
      } catch (e) {
        deps.stderr.write(`ERROR: ${(e as Error).message}\n`);
        code = 2;
        return;
      }
      const dir = o.store ?? defaultStore();
      if (!existsSync(join(dir, 'index.sqlite'))) { deps.stderr.write(`ERROR: no version store at ${dir}\n`); code = 2; return; }
      let store: VersionStore;
      try {
        store = await openVersionStore({ dir, retention });
      } catch (e) {
        deps.stderr.write(`ERROR: can't open the version store ${dir}: ${(e as Error).message}\n`);
        code = 2;
        return;
      }
      try {
        const r = await store.prune({ force: o.force });
        if (o.json) out(JSON.stringify({ ...r, storedBytes: store.storedBytes() }, null, 2) + '\n');
        else if (r.heldUntil !== undefined) out(`pruning is held until ${iso(r.heldUntil)} (an alert is being handled); --force prunes anyway\n`);
        else out(`pruned ${r.versions} versions and ${r.objects} stored copies (${r.bytes} bytes); ${store.storedBytes()} bytes kept\n`);
      } finally {
        store.close();
      }
    });

  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    // `commander.help` is the usage printed for a missing subcommand: an error.
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' ? 0 : 2;
    throw e;
  }
  return code;
}
