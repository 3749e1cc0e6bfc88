/**
 * The `vigil` command: argument vector in, exit code out.
 *
 * In: the arguments after the program name (`process.argv.slice(2)` from `bin/vigil.js`), and in
 * tests optional streams and an engine loader. Out: the subcommand's output and its exit code
 * (0 clean, 1 infected, 2 error), returned rather than passed to `process.exit` so that callers and
 * tests stay in control.
 *
 * Why it is built this way: commander dispatches the subcommands (`scan`, `db`, `yara` and
 * `daemon`) and handles `-V`/`--help` at
 * the top level; each subcommand parses its own arguments. `scan` in particular receives its raw
 * argument vector untouched (including a `--` terminator), because it must accept clamscan's exact
 * option syntax. The real signature engine is wired in one place, `loadEngine` below.
 */

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import type { EngineLoader, LoadedEngine, LoadOptions } from '../scan/engine-port.js';
import { runScan, versionLine, type OutStream } from './scan.js';
import { realEngineLoader } from './engine-loader.js';
import { runDb } from './db.js';
import { runYara } from './yara.js';
import { runDaemon } from './daemon.js';
import { runQuarantine } from './quarantine.js';
import { runMirror, runUpdateCli } from './update.js';
import { runLog } from './log.js';
import { runRansom } from './ransom.js';
import { runAudit } from './audit.js';
import { runWatch } from './watch.js';
import { runStatus } from './status.js';
import { runRollback, runVersions } from './rollback.js';

/**
 * Loads the signature databases for `vigil scan`. This is the one place where the real loader and
 * engine are plugged in: it parses the `-d` paths (or the default database directories), compiles,
 * and returns `{ engine, errors }` as `EngineLoader` describes. Tests pass their own loader instead.
 */
export async function loadEngine(opts: LoadOptions): Promise<{ engine?: LoadedEngine; errors: string[] }> {
  return realEngineLoader(opts);
}

export interface MainDeps {
  stdout: OutStream;
  stderr: OutStream;
  stdin: AsyncIterable<Uint8Array | string>;
  loader: EngineLoader;
}

/** vigil's version from the nearest package.json named "vigil" above this module (source or dist). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'vigil' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here; look one level up
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return '0.0.0';
}

export async function main(argv: string[], deps: Partial<MainDeps> = {}): Promise<number> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  if (stdout === process.stdout) {
    // A closed pipe (`vigil scan … | head`) ends the run, as SIGPIPE ends clamscan.
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(2);
    });
  }
  const version = packageVersion();
  let code = 0;

  const program = new Command('vigil')
    .description('An open, auditable antivirus: ClamAV and YARA signatures, clamd\'s protocol, explained detections.')
    .version(versionLine(version), '-V, --version', 'show the version')
    .helpOption('-h, --help', 'show this help')
    .helpCommand(false)
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: (s) => { stdout.write(s); }, writeErr: (s) => { stderr.write(s); } });

  // Each subcommand parses its own arguments (the raw words after the command: commander would
  // drop a leading `--` and knows none of clamscan's or yara's option syntax).
  const passThrough = (name: string, description: string, run: (args: string[]) => Promise<number>) => {
    program
      .command(name)
      .description(description)
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .passThroughOptions()
      .argument('[args...]')
      .action(async () => { code = await run(argv.slice(argv.indexOf(name) + 1)); });
  };

  passThrough('scan', 'scan files and directories, clamscan-compatible (see: vigil scan --help)', (args) => runScan(args, {
    loader: deps.loader ?? loadEngine,
    stdout,
    stderr,
    ...(deps.stdin ? { stdin: deps.stdin } : {}),
    version,
  }));
  passThrough('db', 'signature databases: compile, info, signed bundles (keygen, build, verify, diff), threat-intelligence import (see: vigil db --help)', (args) => runDb(args, { stdout, stderr }));
  passThrough('yara', 'scan with YARA rules, yara-compatible (vigil yara [options] RULES_FILE... TARGET)', (args) => runYara(args, { stdout, stderr, version }));
  passThrough('daemon', "clamd's protocol and the HTTP API (see: vigil daemon --help)", (args) => runDaemon(args, { stdout, stderr }));
  passThrough('watch', 'scan files as they are written into directories (see: vigil watch --help)', (args) => runWatch(args, { stdout, stderr }));
  passThrough('status', 'what real-time protection covers on this machine (see: vigil status --help)', (args) => runStatus(args, { stdout, stderr }));
  passThrough('rollback', 'restore protected folders to their state before a time (see: vigil rollback --help)', (args) => runRollback(args, { stdout, stderr }));
  passThrough('versions', 'versioned copies of protected folders: snapshot, list, verify, prune (see: vigil versions --help)', (args) => runVersions(args, { stdout, stderr }));
  passThrough('audit', 'the hash-chained audit log: verify, list (see: vigil audit --help)', (args) => runAudit(args, { stdout, stderr }));
  passThrough('update', 'install the newest valid signed signature bundle from mirrors or files (see: vigil update --help)', (args) => runUpdateCli(args, { stdout, stderr }));
  passThrough('log', 'the transparency log of signature bundles: keygen, serve, submit, audit (see: vigil log --help)', (args) => runLog(args, { stdout, stderr }));
  passThrough('mirror', 'serve signed bundles to clients: vigil mirror serve DIR --listen HOST:PORT', (args) => runMirror(args, { stdout, stderr }));
  passThrough('ransom', 'offline ransomware help: identify the family, what to do, decrypt what generic flaws allow (see: vigil ransom --help)', (args) => runRansom(args, { stdout, stderr }));
  passThrough('quarantine', 'the quarantine vault: list, show, restore, delete, export, add, rebuild (see: vigil quarantine --help)', (args) => runQuarantine(args, { stdout, stderr }));

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.version' || e.code === 'commander.helpDisplayed') return 0;
      return 2;
    }
    throw e;
  }
  return code;
}
