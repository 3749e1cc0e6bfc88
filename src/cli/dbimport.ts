/**
 * `vigil db import FILE... [--out DIR] [--name NAME] [--json]`: threat intelligence → databases.
 *
 * In: the arguments after `db import` (MISP event files, MISP feed directories or manifests, STIX
 * 2.1 bundles, hash lists, MalwareBazaar CSV exports; the format is read from the content), output
 * streams, the clock. Out: per source, `NAME.hdb`/`NAME.hsb`/`NAME.yar` and
 * `NAME.provenance.json` in DIR (default `$VIGIL_HOME/local`); per input what was imported and
 * what was skipped and why, each problem with its location; exit 0, or 2 when an input could not
 * be read, a source could not be written, or on a usage error.
 * Why: the command front of src/update/tiimport.ts.
 */
import { commandGroup, parseCommand } from './program.js';
import { join } from 'node:path';
import { vigilHome } from '../core/home.js';
import { importThreatIntel, ImportWriteError, type ImportProblem, type ImportReport, type ParsedInput } from '../update/tiimport.js';

export interface DbImportDeps {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  now?: () => Date;
}

const FORMAT_LABEL: Readonly<Record<ParsedInput['format'], string>> = {
  misp: 'MISP', 'misp-feed': 'MISP feed', stix: 'STIX 2.1', hashlist: 'hash list', 'malwarebazaar-csv': 'MalwareBazaar CSV', unknown: 'unknown format',
};

const UNIT: Readonly<Record<ParsedInput['format'], string>> = {
  misp: 'event', 'misp-feed': 'event', stix: 'indicator', hashlist: 'line', 'malwarebazaar-csv': 'row', unknown: 'item',
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : /(s|sh|ch|x)$/.test(word) ? 'es' : 's'}`;
}

function problemLine(q: ImportProblem): string {
  return `  ${q.file}${q.at ? ` ${q.at}` : ''}: ${q.severity}: ${q.message} [${q.code}]\n`;
}

function inputLine(p: ParsedInput): string {
  const skipped = Object.entries(p.skipped).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const total = skipped.reduce((n, [, c]) => n + c, 0);
  const what = `${plural(p.hashes.length, 'hash')}, ${plural(p.yara.length - (p.skipped['YARA rule refused'] ?? 0), 'YARA source')}`;
  const skip = total > 0 ? `; skipped ${total} (${skipped.map(([r, c]) => `${r}: ${c}`).join(', ')})` : '';
  return `${p.file}: ${FORMAT_LABEL[p.format]}${p.format === 'unknown' ? '' : `, ${plural(p.units, UNIT[p.format])}`}: ${p.ok ? what : 'not imported'}${skip}\n`;
}

function jsonReport(r: ImportReport): unknown {
  return {
    ok: r.ok,
    sources: r.sources.map((s) => ({
      name: s.name, written: s.written, counts: s.counts, ...(s.error ? { error: s.error } : {}),
      inputs: s.inputs.map((p) => ({
        file: p.file, format: p.format, units: p.units, ok: p.ok, hashes: p.hashes.length, yara: p.yara.length,
        skipped: p.skipped, problems: p.problems, ...(p.sha256 ? { sha256: p.sha256 } : {}),
      })),
    })),
  };
}

export async function runDbImport(args: string[], deps: DbImportDeps): Promise<number> {
  let code = 0;
  const program = commandGroup('vigil db import', deps)
    .description('import threat intelligence (MISP, STIX 2.1, hash lists, MalwareBazaar CSV) as signature databases with provenance')
    .argument('<file...>', 'input files, or MISP feed directories')
    .option('--out <dir>', 'output directory (default: $VIGIL_HOME/local)')
    .option('--name <name>', 'import every input as this one source (default: one source per input, named after it)')
    .option('--json', 'print the report as JSON', false)
    .action((files: string[], o: { out?: string; name?: string; json: boolean }) => {
      const out = o.out ?? join(vigilHome(), 'local');
      let report: ImportReport;
      try {
        report = importThreatIntel(files, { out, now: deps.now ? deps.now() : new Date(), ...(o.name !== undefined ? { name: o.name } : {}) });
      } catch (e) {
        deps.stderr.write(`vigil db import: ${e instanceof ImportWriteError || e instanceof Error ? e.message : String(e)}\n`);
        code = 2;
        return;
      }
      if (!report.ok) code = 2;
      if (o.json) {
        deps.stdout.write(JSON.stringify(jsonReport(report)) + '\n');
        return;
      }
      for (const s of report.sources) {
        for (const p of s.inputs) {
          deps.stdout.write(inputLine(p));
          for (const q of p.problems) (q.severity === 'error' ? deps.stderr : deps.stdout).write(problemLine(q));
        }
        const c = s.counts;
        const hashes = c.md5 + c.sha1 + c.sha256;
        const summary = `${plural(hashes, 'hash signature')} (SHA-256 ${c.sha256}, SHA-1 ${c.sha1}, MD5 ${c.md5}${c.merged > 0 ? `; ${plural(c.merged, 'duplicate')} merged` : ''}), ${plural(c.yaraRules, 'YARA rule')}`;
        if (s.error) deps.stderr.write(`Source ${s.name}: ${s.error}\n`);
        else deps.stdout.write(`Source ${s.name}: ${summary}\n${s.written.map((w) => `  wrote ${w}\n`).join('')}`);
      }
    });
  return (await parseCommand(program, args)) ?? code;
}
