/**
 * `vigil quarantine`: what is in the quarantine vault, and getting it back out.
 *
 *   vigil quarantine [--vault DIR] list [--json]
 *   vigil quarantine [--vault DIR] show ID [--json]
 *   vigil quarantine [--vault DIR] restore ID [--force] [--to PATH]
 *   vigil quarantine [--vault DIR] delete ID...
 *   vigil quarantine [--vault DIR] export ID... --out FILE.zip [--password P]
 *   vigil quarantine [--vault DIR] add FILE...
 *   vigil quarantine [--vault DIR] rebuild
 *
 * In: arguments, output streams. Out: exit code 0 when done, 1 when a record is not found or an
 * operation is refused (a file in the way, a damaged vault copy), 2 for usage errors and when the
 * vault itself cannot be used (its directory, key or database). `list --json` prints an array of
 * records (`id`, `originalPath`, `sha256`, `detections`, … plus `state` and `problems`); `export`
 * writes a ZIP encrypted with the password (`infected` by default, as malware researchers use).
 * `add` quarantines files as an operator's decision, scanning nothing (reason `manual`).
 * `rebuild` sets a damaged `vault.db` aside and re-indexes the vault files from the records they
 * carry (exit 1 when some could not be).
 * Why: an operator must be able to see what was taken, why, and undo it without losing anything.
 */
import { recordAudit } from './audit.js';
import { Command, CommanderError } from 'commander';
import { openVault, rebuildVault, Vault, VaultError, type VaultEntry } from '../protect/vault/index.js';
import { vigilHome } from './home.js';
import { join } from 'node:path';

export interface QuarantineDeps {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

function describe(e: VaultEntry): string {
  const lines = [
    `id:            ${e.id}`,
    `original path: ${JSON.stringify(e.originalPath)}`,
    `state:         ${e.state}`,
    `reason:        ${e.reason}`,
    `size:          ${e.size}`,
    `mode:          ${octal(e.mode)}`,
    `owner:         ${e.uid}:${e.gid}`,
    `modified:      ${Number.isFinite(e.mtimeMs) ? new Date(e.mtimeMs).toISOString() : '?'}`,
    `sha256:        ${e.sha256}`,
    `quarantined:   ${e.quarantinedAt}`,
    `engine:        ${e.engine} (${e.database.signatures} signatures${e.database.daily !== undefined ? `, daily ${e.database.daily}` : ''})`,
  ];
  if (e.detections.length === 0) lines.push('detections:    none');
  for (const d of e.detections) {
    const where = [d.db ? `${d.db}${d.line !== undefined ? `:${d.line}` : ''}` : '', d.layer.length > 0 ? `in ${d.layer.join(' > ')}` : '', d.offset !== undefined ? `at offset ${d.offset}` : ''].filter(Boolean).join(' ');
    lines.push(`detection:     ${d.name} (${d.kind})${where ? ` ${where}` : ''}${d.matched ? ` matched ${d.matched}` : ''}`);
  }
  for (const p of e.problems) lines.push(`PROBLEM:       ${p}`);
  return `${lines.join('\n')}\n`;
}

export async function runQuarantine(args: string[], deps: QuarantineDeps): Promise<number> {
  let code = 0;
  let vault: Vault | undefined;
  const program = new Command('vigil quarantine')
    .description('the quarantine vault: list, show, restore, delete, export, add')
    .exitOverride()
    .helpOption('-h, --help', 'show this help')
    .option('--vault <dir>', 'the vault directory (default: $VIGIL_HOME/quarantine)')
    .configureOutput({ writeOut: (s) => { deps.stdout.write(s); }, writeErr: (s) => { deps.stderr.write(s); } });
  const open = (): Vault => {
    const dir = program.opts<{ vault?: string }>().vault;
    vault = openVault(dir ?? join(vigilHome(), 'quarantine'));
    for (const r of vault.recovered) deps.stderr.write(`recovered: ${r}\n`);
    return vault;
  };

  program.command('list').description('every record, with its problems').option('--json', 'print a JSON array').action((o: { json?: boolean }) => {
    const entries = open().list();
    if (o.json) {
      deps.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
    } else {
      for (const e of entries) {
        const names = e.detections.map((d) => d.name).join(',') || e.reason;
        deps.stdout.write(`${e.id}  ${e.quarantinedAt || '?'}  ${String(e.size).padStart(10)}  ${names}  ${JSON.stringify(e.originalPath)}${e.state !== 'stored' ? `  [${e.state}]` : ''}\n`);
        for (const p of e.problems) deps.stdout.write(`  PROBLEM: ${p}\n`);
      }
      if (entries.length === 0) deps.stdout.write('the vault is empty\n');
    }
    if (entries.some((e) => e.problems.length > 0)) deps.stderr.write(`${entries.filter((e) => e.problems.length > 0).length} record(s) with problems (see PROBLEM lines)\n`);
  });
  program.command('show').description('one record, its detections and evidence; checks its vault copy').argument('<id>').option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const v = open();
      const e = v.show(id);
      const bad = await v.verify(id);
      if (bad && !e.problems.includes(bad)) e.problems.push(bad);
      deps.stdout.write(o.json ? `${JSON.stringify({ ...e, intact: bad === null }, null, 2)}\n` : `${describe(e)}integrity:     ${bad === null ? 'ok (decrypts, SHA-256 matches)' : 'DAMAGED'}\n`);
      if (bad) code = 1;
    });
  program.command('restore').description('put a file back where it was (or --to PATH)').argument('<id>')
    .option('--force', 'replace a file that is in the way')
    .option('--to <path>', 'restore there instead (into it if a directory)')
    .action(async (id: string, o: { force?: boolean; to?: string }) => {
      const to = await open().restore(id, { ...(o.force ? { force: true } : {}), ...(o.to ? { to: o.to } : {}) });
      deps.stdout.write(`${id}: restored to ${to}\n`);
      recordAudit('quarantine-restore', { id, to, force: !!o.force }, deps.stderr);
    });
  program.command('delete').description('remove records and their vault copies for good').argument('<id...>').action(async (ids: string[]) => {
    const v = open();
    for (const id of ids) {
      try {
        await v.delete(id);
        deps.stdout.write(`${id}: deleted\n`);
        recordAudit('quarantine-delete', { id }, deps.stderr);
      } catch (e) {
        if (!(e instanceof VaultError) || e.code === 'VAULT') throw e;
        deps.stderr.write(`ERROR: ${e.message}\n`);
        code = 1;
      }
    }
  });
  program.command('export').description('a password-protected ZIP of the original files and a manifest, for an analyst').argument('<id...>')
    .requiredOption('--out <file.zip>', 'the ZIP to write (must not exist)')
    .option('--password <p>', 'the ZIP password', 'infected')
    .action(async (ids: string[], o: { out: string; password: string }) => {
      const n = await open().export(ids, o.out, o.password);
      deps.stdout.write(`${o.out}: ${ids.length} file(s) and manifest.json, ${n} bytes, password ${JSON.stringify(o.password)}\n`);
      recordAudit('quarantine-export', { ids, out: o.out }, deps.stderr);
    });
  program.command('add').description('quarantine files as an operator decision (scans nothing)').argument('<file...>').action(async (files: string[]) => {
    const v = open();
    for (const f of files) {
      try {
        const r = await v.quarantine(f, { detections: [], engine: 'manual', database: { signatures: 0 } }, { reason: 'manual' });
        deps.stdout.write(`${r.id}: ${r.originalPath} quarantined\n`);
        recordAudit('quarantine', { id: r.id, path: r.originalPath, sha256: r.sha256, reason: 'manual' }, deps.stderr);
      } catch (e) {
        if (!(e instanceof VaultError) || e.code === 'VAULT') throw e;
        deps.stderr.write(`ERROR: ${e.message}\n`);
        code = 1;
      }
    }
  });

  program.command('rebuild').description('set a damaged vault.db aside and re-index the vault files from the records they carry').action(() => {
    const r = rebuildVault(program.opts<{ vault?: string }>().vault ?? join(vigilHome(), 'quarantine'));
    if (r.movedAside) deps.stdout.write(`the damaged database was set aside as ${r.movedAside}\n`);
    for (const line of r.recovered) deps.stderr.write(`recovered: ${line}\n`);
    for (const line of r.indexed) deps.stdout.write(`indexed ${line}\n`);
    for (const line of r.skipped) deps.stderr.write(`ERROR: not indexed: ${line}\n`);
    deps.stdout.write(`${r.indexed.length} record(s) re-indexed, ${r.skipped.length} vault file(s) unreadable\n`);
    if (r.skipped.length > 0) code = 1;
  });

  try {
    if (args.length === 0) {
      deps.stderr.write(program.helpInformation());
      return 2;
    }
    await program.parseAsync(args, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' ? 0 : 2;
    if (e instanceof VaultError) {
      deps.stderr.write(`ERROR: ${e.message}\n`);
      return e.code === 'VAULT' ? 2 : 1;
    }
    deps.stderr.write(`ERROR: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  } finally {
    vault?.close();
  }
}
