/**
 * `vigil ransom import-misp FILE [--out FILE] [--no-facts] [--json]`: the MISP ransomware galaxy
 * → the ransomware knowledge base identification reads.
 *
 * In: the arguments after `ransom import-misp` (a MISP galaxy cluster file, `clusters/ransomware.json`),
 * output streams, the clock. Out: the knowledge base written atomically to FILE (default
 * `$VIGIL_HOME/ransom/kb.json`, which identification prefers over the shipped one); on stdout the
 * counts (families, extension values kept/normalised/dropped, note names, note texts, decryptor
 * links, merged families) and every value that could not be normalised with its JSON path;
 * `--json` prints the same as one JSON object. Exit 0 when written, 2 when the input cannot be
 * read or is no galaxy, or the output cannot be written (nothing is replaced then).
 * Why: the galaxy moves on; a user can rebuild the knowledge base from a newer copy offline.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { commandGroup, parseCommand } from './program.js';
import { importMispGalaxy, type ImportReport } from '../ransom/kb/misp.js';
import { saveKnowledgeBase, userKnowledgeBasePath } from '../ransom/kb/store.js';

export interface RansomImportDeps {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  now?: () => Date;
}

/** Larger inputs are refused unread (the galaxy is about 3 MB). */
export const MAX_GALAXY_BYTES = 256 * 1024 * 1024;

function jsonError(text: string, e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const m = /position (\d+)/.exec(msg);
  if (!m) return msg;
  const before = text.slice(0, Number(m[1]));
  return `line ${before.split('\n').length}, column ${Number(m[1]) - before.lastIndexOf('\n')}: ${msg}`;
}

function summary(r: ImportReport, out: string): string {
  const e = r.extensions;
  const lines = [
    `Families: ${r.families} (${r.identifiable} with an identifying signal), ${r.decryptors} decryptor links`,
    `Extension values: ${e.kept + e.normalised + e.dropped} read: ${e.kept} kept as they were, ${e.normalised} normalised, ${e.dropped} dropped; ${r.fromDescriptions} more read from descriptions`,
    `Note names: ${r.noteNames}; note texts hashed: ${r.notes}`,
  ];
  if (r.renamedKeys.length > 0) lines.push(`Misspelt keys read under their right name: ${r.renamedKeys.length} (${[...new Set(r.renamedKeys.map((k) => `${k.key} → ${k.as}`))].join(', ')})`);
  const merged = r.merged.filter((m) => m.entries.length > 0);
  if (merged.length > 0) lines.push(`Added facts merged with galaxy entries: ${merged.map((m) => `${m.family} (${m.entries.join(', ')})`).join('; ')}`);
  const facts = r.merged.filter((m) => m.entries.length === 0);
  if (facts.length > 0) lines.push(`Added facts without a galaxy entry: ${facts.map((m) => m.family).join(', ')}`);
  if (r.problems.length > 0) {
    lines.push(`Not normalised or skipped: ${r.problems.length}`);
    for (const p of r.problems) lines.push(`  ${p.at}: ${p.message}`);
  }
  lines.push(`Wrote ${out}`);
  return lines.join('\n') + '\n';
}

interface ImportOptions {
  out?: string;
  facts: boolean;
  json: boolean;
}

/** The command's work: read, import, write, report. Returns the exit code. */
function importAction(file: string, o: ImportOptions, deps: RansomImportDeps): number {
  const out = o.out ?? userKnowledgeBasePath();
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_GALAXY_BYTES) throw new Error(`${size} bytes exceeds the limit of ${MAX_GALAXY_BYTES}`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    deps.stderr.write(`vigil ransom import-misp: ${file}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  let json: unknown;
  try {
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    deps.stderr.write(`vigil ransom import-misp: ${file}: not JSON: ${jsonError(text, e)}\n`);
    return 2;
  }
  const { kb, report } = importMispGalaxy(json, { facts: o.facts, at: deps.now ? deps.now() : new Date() });
  const fatal = report.problems.filter((p) => p.at === '$' || p.at === '$.values' || p.at.startsWith('(knowledge base)'));
  const galaxyFamilies = kb.families.filter((f) => f.sources.some((s) => s.startsWith('misp:'))).length;
  if (fatal.length > 0 || galaxyFamilies === 0) {
    for (const p of fatal) deps.stderr.write(`vigil ransom import-misp: ${file} ${p.at}: ${p.message}\n`);
    if (galaxyFamilies === 0) deps.stderr.write(`vigil ransom import-misp: ${file}: no galaxy entries read; nothing written\n`);
    return 2;
  }
  try {
    saveKnowledgeBase(kb, out);
  } catch (e) {
    deps.stderr.write(`vigil ransom import-misp: ${out}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  if (o.json) deps.stdout.write(JSON.stringify({ ok: true, out, built: kb.built, report }) + '\n');
  else deps.stdout.write(summary(report, out));
  return 0;
}

function define(cmd: Command, deps: RansomImportDeps, result: { code: number }): Command {
  return cmd
    .description('build the ransomware knowledge base from the MISP ransomware galaxy (clusters/ransomware.json)')
    .argument('<file>', 'the MISP galaxy cluster file')
    .option('--out <file>', 'where to write the knowledge base (default: $VIGIL_HOME/ransom/kb.json)')
    .option('--no-facts', 'do not merge the added facts about major families')
    .option('--json', 'print the report as JSON', false)
    .action((file: string, o: ImportOptions) => { result.code = importAction(file, o, deps); });
}

/** Adds `import-misp` to a `vigil ransom` group; the exit code is written to `out.code`. */
export function addImportMispCommand(program: Command, deps: RansomImportDeps, out: { code: number }): void {
  define(program.command('import-misp'), deps, out);
}

/** `vigil ransom import-misp …` on its own: `args` are the arguments after `import-misp`. */
export async function runRansomImport(args: string[], deps: RansomImportDeps): Promise<number> {
  const result = { code: 0 };
  const program = define(commandGroup('vigil ransom import-misp', deps), deps, result);
  return (await parseCommand(program, args)) ?? result.code;
}
