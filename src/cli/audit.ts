/**
 * `vigil audit verify [--log FILE] [--json]` and `vigil audit list [--log FILE] [--json]`: the
 * hash-chained audit log (`src/core/audit.ts`, default `$VIGIL_HOME/audit.ndjson`).
 *
 * In: arguments. Out: `verify` prints `OK: N entries, chain intact` (exit 0) or each problem with
 * its line (exit 1; 2 when there is no log or the arguments are wrong); `list` prints the entries.
 * Also `recordAudit(kind, data)`, which the other commands call: a failure to write the log is a
 * warning on stderr, never the end of a scan; and `recordSettings(component, settings)`, which
 * appends a `setting-change` entry naming each setting that differs from the last run's.
 */
import { commandGroup, parseCommand } from './program.js';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog, verifyAuditLog } from '../core/audit.js';
import { vigilHome } from './home.js';

export interface AuditDeps {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export function defaultAuditLog(): string {
  return join(vigilHome(), 'audit.ndjson');
}

/** Appends one event to the default audit log; a log that cannot be written is only reported. */
export function recordAudit(kind: string, data: Record<string, unknown>, stderr?: { write(s: string): unknown }): void {
  try {
    new AuditLog(defaultAuditLog()).append(kind, data);
  } catch (e) {
    stderr?.write(`WARNING: audit log: ${e instanceof Error ? e.message : String(e)}\n`);
  }
}

/** A JSON-safe copy of a settings value (regular expressions as their source). */
function plain(v: unknown): unknown {
  if (v instanceof RegExp) return v.source;
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, plain(x)]));
  return v;
}

/**
 * Compares a component's effective settings with those it ran with last time
 * (`$VIGIL_HOME/settings/COMPONENT.json`) and records what changed: `setting-change` with each
 * changed key's old and new value (every key the first time). Returns the changed keys.
 */
export function recordSettings(component: string, settings: Record<string, unknown>, stderr?: { write(s: string): unknown }): string[] {
  try {
    const dir = join(vigilHome(), 'settings');
    const path = join(dir, `${component}.json`);
    const now = plain(settings) as Record<string, unknown>;
    let before: Record<string, unknown> | undefined;
    try { before = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>; } catch { before = undefined; }
    const changed: Record<string, { from: unknown; to: unknown }> = {};
    for (const k of [...new Set([...Object.keys(before ?? {}), ...Object.keys(now)])].sort()) {
      const a = JSON.stringify(before?.[k]);
      const b = JSON.stringify(now[k]);
      if (a !== b) changed[k] = { from: before?.[k] ?? null, to: now[k] ?? null };
    }
    const keys = Object.keys(changed);
    if (keys.length === 0) return [];
    recordAudit('setting-change', { component, first: before === undefined, changed }, stderr);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(`${path}.tmp`, `${JSON.stringify(now)}\n`, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
    return keys;
  } catch (e) {
    stderr?.write(`WARNING: audit log: settings of ${component}: ${e instanceof Error ? e.message : String(e)}\n`);
    return [];
  }
}

export async function runAudit(args: string[], deps: AuditDeps): Promise<number> {
  let code = 0;
  const program = commandGroup('vigil audit', deps)
    .description('the hash-chained audit log of detections, quarantine actions, updates and daemon runs')
    .helpOption('-h, --help', 'show this help');
  program.command('verify')
    .description('check that no entry was edited, removed, inserted, moved or cut')
    .option('--log <file>', 'the audit log (default: $VIGIL_HOME/audit.ndjson)')
    .option('--json', 'print the result as JSON')
    .action((o: { log?: string; json?: boolean }) => {
      const file = o.log ?? defaultAuditLog();
      const v = verifyAuditLog(file);
      if (o.json) deps.stdout.write(`${JSON.stringify(v)}\n`);
      else if (v.ok) deps.stdout.write(`OK: ${v.entries} entries, chain intact (${file})\n`);
      else for (const p of v.problems) deps.stdout.write(`${file}:${p.line}: ${p.message}\n`);
      code = v.ok ? 0 : existsSync(file) ? 1 : 2;
    });
  program.command('list')
    .description('print the entries')
    .option('--log <file>', 'the audit log (default: $VIGIL_HOME/audit.ndjson)')
    .option('--json', 'print the raw NDJSON lines')
    .action((o: { log?: string; json?: boolean }) => {
      const file = o.log ?? defaultAuditLog();
      if (!existsSync(file)) { deps.stderr.write(`ERROR: ${file}: no audit log\n`); code = 2; return; }
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line === '') continue;
        if (o.json) { deps.stdout.write(`${line}\n`); continue; }
        try {
          const e = JSON.parse(line) as { seq: number; time: string; kind: string; data: unknown };
          deps.stdout.write(`${e.seq}\t${e.time}\t${e.kind}\t${JSON.stringify(e.data)}\n`);
        } catch {
          deps.stdout.write(`?\t(damaged line)\t${line.slice(0, 200)}\n`);
        }
      }
    });
  return (await parseCommand(program, args)) ?? code;
}
