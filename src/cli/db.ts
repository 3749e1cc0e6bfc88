/**
 * `vigil db`: the signature databases.
 *
 *   vigil db compile [-d PATH]... [--detect-pua]   parse, then write the compiled cache that
 *                                                    `vigil scan` loads instead of the text
 *   vigil db info [-d PATH]... [--detect-pua] [--json]
 *                                                    what is loaded: each file, its kind, how many
 *                                                    signatures, official or not; containers with
 *                                                    their header and signature status; totals
 *   vigil db keygen --out NAME                    an Ed25519 publisher key pair (NAME.key, NAME.pub)
 *   vigil db build SRC_DIR --key NAME.key --version N --out BUNDLE [--expires-days D] [--publisher P]
 *   vigil db verify BUNDLE --pubkey NAME.pub
 *   vigil db diff OLD NEW --pubkey NAME.pub --out DELTA   (./dbsign.ts)
 *   vigil db import FILE... [--out DIR] [--name NAME] [--json]
 *                                                    MISP, STIX 2.1, hash lists → databases with
 *                                                    provenance (./dbimport.ts)
 *
 * In: arguments and output streams. Out: an exit code (0, or 2 when a database does not load,
 * with every diagnostic printed).
 */
import { commandGroup, parseCommand } from './program.js';
import { runDbSign } from './dbsign.js';
import { runDbImport } from './dbimport.js';
import { readFileSync } from 'node:fs';
import { cvdInfo, formatCvdInfo } from '../signatures/clamav/cvd.js';
import { loadErrors, loadWithCache, resolveLoad, writeCache } from './engine-loader.js';

export interface DbDeps {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export async function runDb(args: string[], deps: DbDeps): Promise<number> {
  if (args[0] === 'import') return runDbImport(args.slice(1), deps);
  if (['keygen', 'build', 'verify', 'diff'].includes(args[0] ?? '')) return runDbSign(args, deps);
  let code = 0;
  const program = commandGroup('vigil db', deps).addHelpText('after', `
Also:
  keygen --out NAME                                 an Ed25519 publisher key pair
  build SRC_DIR --key NAME.key --version N --out B  a signed bundle of a directory's databases
  verify BUNDLE --pubkey NAME.pub                   check a bundle
  diff OLD NEW --pubkey NAME.pub --out DELTA        a delta between two bundles
  import FILE... [--out DIR] [--name N] [--json]    MISP, STIX 2.1, hash lists with provenance
(each: vigil db COMMAND --help)`);

  program
    .command('compile')
    .description('parse the databases and write the compiled cache used by vigil scan')
    .option('-d, --database <path>', 'database file or directory (repeatable; default: the default databases)', collect, [] as string[])
    .option('--detect-pua', 'load PUA signatures too', false)
    .action((o: { database: string[]; detectPua: boolean }) => {
      const load = resolveLoad(o.database, o.detectPua);
      const t = performance.now();
      const { set, indexes, body, cachePath } = loadWithCache(load, { useCache: false, writeCache: false });
      for (const line of loadErrors(set)) deps.stderr.write(line + '\n');
      if (!set.ok || !body) { code = 2; return; }
      if (!writeCache(cachePath, set, indexes, body)) {
        deps.stderr.write(`vigil db compile: can't write ${cachePath}\n`);
        code = 2;
        return;
      }
      const ms = performance.now() - t;
      deps.stdout.write(`Compiled ${set.known} signatures from ${set.files.length} files in ${ms.toFixed(0)} ms\n`);
      deps.stdout.write(`  body: ${set.ndb.length} (${body.parts.length} pattern parts), logical: ${set.ldb.length}, hash: ${indexes.file.count}, allow-list: ${indexes.allow.count}, container metadata: ${set.cdb.length}, yara: ${set.yara.reduce((n, y) => n + y.rules, 0)} rules\n`);
      deps.stdout.write(`Cache: ${cachePath}\n`);
    });

  program
    .command('info')
    .description('list the loaded databases with counts per type')
    .option('-d, --database <path>', 'database file or directory (repeatable; default: the default databases)', collect, [] as string[])
    .option('--detect-pua', 'load PUA signatures too', false)
    .option('--json', 'print JSON', false)
    .action((o: { database: string[]; detectPua: boolean; json: boolean }) => {
      const load = resolveLoad(o.database, o.detectPua);
      const { set, indexes, fromCache, cachePath } = loadWithCache(load, { useCache: true, writeCache: false });
      for (const line of loadErrors(set)) deps.stderr.write(line + '\n');
      if (!set.ok) code = 2;
      const containers = load.paths.flatMap((p) => (/\.(cvd|cld|cud)$/i.test(p) ? [p] : [])).map((p) => {
        try { return { path: p, info: cvdInfo(readFileSync(p), p) }; } catch (e) { return { path: p, error: (e as Error).message }; }
      });
      const perKind = new Map<string, number>();
      for (const f of set.files) perKind.set(f.kind, (perKind.get(f.kind) ?? 0) + f.signatures);
      if (o.json) {
        deps.stdout.write(JSON.stringify({
          paths: load.paths, known: set.known, fromCache, cache: cachePath, files: set.files,
          perKind: Object.fromEntries(perKind), hashIndex: indexes.file.count, allowIndex: indexes.allow.count,
          containers, yara: set.yara.map((y) => ({ file: y.file, rules: y.rules })),
        }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n');
        return;
      }
      deps.stdout.write(`Databases: ${load.paths.join(', ')}${fromCache ? ` (compiled cache ${cachePath})` : ''}\n`);
      for (const f of set.files) {
        deps.stdout.write(`  ${f.path}  ${f.kind}  ${f.signatures} signature${f.signatures === 1 ? '' : 's'}${f.official ? '  official' : ''}\n`);
      }
      for (const c of containers) {
        if ('info' in c && c.info) deps.stdout.write(formatCvdInfo(c.info).replace(/^/gm, '  ').replace(/\s*$/, '') + '\n');
        else if ('error' in c) deps.stdout.write(`  ${c.path}: ${c.error}\n`);
      }
      deps.stdout.write('Per type:\n');
      for (const [k, n] of [...perKind.entries()].sort()) deps.stdout.write(`  ${k}: ${n}\n`);
      deps.stdout.write(`Known viruses: ${set.known}\n`);
    });

  return (await parseCommand(program, args)) ?? code;
}
