/**
 * `vigil log keygen|serve|submit|audit`: run, feed and audit the transparency log of signature bundles.
 *
 *   keygen --out NAME                        the log's Ed25519 key pair (NAME.key 0600, NAME.pub); never overwrites
 *   serve --dir DIR --key LOG.key --publisher-pubkey P.pub [...] --listen HOST:PORT
 *                                            serve the log in DIR until SIGINT or SIGTERM (port 0: any free port)
 *   submit BUNDLE --log URL --out OUT [--log-pubkey LOG.pub]
 *                                            log a bundle; write it with its proof to OUT (a new file)
 *   audit URL --log-pubkey LOG.pub [--pubkey P.pub ...] [--state FILE] [--json]
 *                                            replay the whole log and list every signature it ever published
 *
 * In: arguments (after `log`) and output streams. Out: an exit code: 0 when everything checks, 2
 * with the reason on stderr otherwise (a usage error, a refused bundle, a missing bundle, a root
 * mismatch, a fork). Audit lines: `INDEX LOGGED PUBLISHER vVERSION FILE SIGNATURE-NAME`, one per
 * signature (a field with spaces is JSON-quoted; files without per-line names show `(N lines)`);
 * with --json one object per entry. Lines are printed as entries are checked; the root is
 * compared at the end, so the exit status, not the listing, is the audit's verdict.
 * Why: a log only protects users if someone replays it: the auditor sees every signature a
 * publisher pushed, to anyone, and with --state notices a log that rewrote its history.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { BundleError, keyFingerprint, keygen, verifyBundleOrThrow } from '../update/bundle.js';
import { LogStore } from '../update/log-store.js';
import { startLogServer } from '../update/log-server.js';
import { auditLog, readBundleUnverified, submitBundle, type AuditedEntry } from '../update/log-client.js';
import { attachProof, checkLogged, LogError, logId, verifyTreeHead, type TreeHead } from '../update/transparency.js';
import { writeFileAtomic, writeNewFile } from '../core/newfile.js';
import { parseYara } from '../signatures/yara/parser.js';

export interface LogDeps {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  now?: () => Date;
  /** Stops `serve` (besides SIGINT and SIGTERM); for tests and embedding. */
  signal?: AbortSignal;
}

const STATE_FORMAT = 'vigil-log-audit-state/1';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

// eslint-disable-next-line no-control-regex
const clean = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
/** A field of an audit line: printed as is, or JSON-quoted when it has spaces or is empty. */
const field = (s: string): string => (s.length === 0 || /\s/.test(s) ? JSON.stringify(s) : clean(s));

/** Parses HOST:PORT or [V6]:PORT. */
export function parseListen(v: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(v) ?? /^([^:[\]]+):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new BundleError('bad-input', `--listen must be HOST:PORT (port 0..65535), not ${JSON.stringify(v)}`);
  return { host: m[1] ?? '', port };
}

const HASH_FIELD3 = new Set(['hdb', 'hdu', 'hsb', 'hsu', 'mdb', 'mdu', 'msb', 'msu']);
const FIELD1 = new Set(['ndb', 'ndu', 'cdb']);

/**
 * The signature names a database file defines: `.hdb/.hsb/.mdb/.msb` (and their `u` forms) the
 * 3rd `:` field, `.ndb`/`.cdb` the 1st, `.ldb` the 1st `;` field, YARA files their rule names.
 * Other files have no per-line names: `names` is undefined and `lines` counts their lines.
 */
export function signatureNames(file: string, data: Uint8Array): { names?: string[]; lines: number } {
  const ext = file.slice(file.lastIndexOf('.') + 1).toLowerCase();
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  if (ext === 'yar' || ext === 'yara') {
    return { names: parseYara(text, file).ast.rules.map((r) => r.name.name), lines: lines.length };
  }
  let pick: ((l: string) => string | undefined) | undefined;
  if (HASH_FIELD3.has(ext)) pick = (l) => l.split(':')[2];
  else if (FIELD1.has(ext)) pick = (l) => l.split(':')[0];
  else if (ext === 'ldb' || ext === 'ldu') pick = (l) => l.split(';')[0];
  if (!pick) return { lines: lines.length };
  const names: string[] = [];
  for (const l of lines) {
    if (l.trim() === '' || l.startsWith('#')) continue;
    const n = pick(l);
    names.push(n === undefined || n === '' ? '(unnamed)' : n);
  }
  return { names, lines: lines.length };
}

function readState(path: string, logPub: string): TreeHead | undefined {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let v: unknown;
  try { v = JSON.parse(text); } catch (e) { throw new LogError('bad-sth', `${path}: not JSON: ${(e as Error).message}`); }
  const r = v as { format?: unknown; sth?: unknown };
  if (typeof v !== 'object' || v === null || r.format !== STATE_FORMAT) throw new LogError('bad-sth', `${path}: not a vigil log audit state (${STATE_FORMAT})`);
  return verifyTreeHead(r.sth, logPub, `${path}: the previous audit's tree head`);
}

export async function runLog(args: string[], deps: LogDeps): Promise<number> {
  let code = 0;
  const now = (): Date => (deps.now ? deps.now() : new Date());
  const out = (s: string): void => { deps.stdout.write(s); };
  const fail = (e: unknown, what = 'vigil log'): void => {
    const err = e as NodeJS.ErrnoException;
    const reason = e instanceof BundleError || e instanceof LogError
      ? `${e.code}: ${e.message}`
      : err.code === 'EEXIST' ? `${err.path ?? 'file'} already exists; not overwriting it` : err.message;
    deps.stderr.write(`${what}: ${reason}\n`);
    code = 2;
  };
  const program = new Command('vigil log')
    .exitOverride()
    .helpCommand(false)
    .configureOutput({ writeOut: (s) => { deps.stdout.write(s); }, writeErr: (s) => { deps.stderr.write(s); } });

  program
    .command('keygen')
    .description("write the log's Ed25519 key pair: NAME.key (private, 0600) and NAME.pub")
    .requiredOption('--out <name>', 'path prefix of the two files')
    .action((o: { out: string }) => {
      try {
        const k = keygen(o.out);
        out(`Private key: ${k.keyPath} (keep it secret)\nPublic key: ${k.pubPath}\nLog id: ${logId(readFileSync(k.pubPath, 'utf8'))}\n`);
      } catch (e) { fail(e, 'vigil log keygen'); }
    });

  program
    .command('serve')
    .description('serve the transparency log kept in a directory, until SIGINT or SIGTERM')
    .requiredOption('--dir <dir>', 'the log directory (created if missing)')
    .requiredOption('--key <file>', "the log's Ed25519 private key (PKCS#8 PEM)")
    .option('--publisher-pubkey <file>', 'a publisher key whose bundles the log accepts (repeat for several)', collect, [] as string[])
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8405')
    .action(async (o: { dir: string; key: string; publisherPubkey: string[]; listen: string }) => {
      let store: LogStore | undefined;
      try {
        if (o.publisherPubkey.length === 0) throw new BundleError('bad-input', 'give at least one --publisher-pubkey: the log accepts only bundles of known publishers');
        const { host, port } = parseListen(o.listen);
        const key = readFileSync(o.key, 'utf8');
        const publishers = o.publisherPubkey.map((p) => readFileSync(p, 'utf8'));
        store = new LogStore({ dir: o.dir, key, publishers, now });
        const server = await startLogServer({ store, host, port });
        out(`Listening on ${server.url} (log id ${logId(key)}, size ${store.size})\n`);
        for (const p of publishers) out(`Accepting bundles signed by ${keyFingerprint(p)}\n`);
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            deps.signal?.removeEventListener('abort', stop);
            resolve();
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          if (deps.signal?.aborted) stop();
          else deps.signal?.addEventListener('abort', stop);
        });
        await server.close();
        out(`Stopped (size ${store.size})\n`);
      } catch (e) {
        fail(e, 'vigil log serve');
      } finally {
        store?.close();
      }
    });

  program
    .command('submit')
    .description('log a bundle and write it, with the proof the log returns, to a new file')
    .argument('<bundle>', 'the signed bundle')
    .requiredOption('--log <url>', "the log's address, e.g. http://127.0.0.1:8405")
    .requiredOption('--out <file>', 'the bundle with its proof (must not exist)')
    .option('--log-pubkey <file>', "the log's public key: check the returned proof with it")
    .action(async (path: string, o: { log: string; out: string; logPubkey?: string }) => {
      try {
        const bytes = readFileSync(path);
        const info = readBundleUnverified(bytes, path);
        const logPub = o.logPubkey === undefined ? undefined : readFileSync(o.logPubkey, 'utf8');
        const proof = await submitBundle(o.log, bytes);
        if (logPub !== undefined) {
          const { publisher, version } = info.manifest;
          if (typeof publisher !== 'string' || typeof version !== 'number') throw new BundleError('manifest-invalid', `${path}: the manifest names no publisher and version`);
          await checkLogged(proof, { manifestHash: info.manifestHash, publisher, version }, logPub);
        }
        writeNewFile(o.out, attachProof(bytes, proof));
        out(`Logged ${path} as entry ${proof.leaf_index} (${proof.entry.publisher} v${proof.entry.version}, logged ${proof.entry.logged}) in log ${proof.sth.log_id.slice(0, 16)}…, tree size ${proof.sth.tree_size}\n`);
        out(logPub !== undefined ? 'Proof checked with the log key\n' : 'Proof not checked (give --log-pubkey to check it)\n');
        out(`Wrote ${o.out}\n`);
      } catch (e) { fail(e, 'vigil log submit'); }
    });

  program
    .command('audit')
    .description('replay a whole log: check its tree, its history and every bundle, and list every signature it published')
    .argument('<url>', "the log's address")
    .requiredOption('--log-pubkey <file>', "the log's public key")
    .option('--pubkey <file>', 'a publisher key: check each bundle is signed by one of these (repeat for several)', collect, [] as string[])
    .option('--state <file>', 'the tree head of the previous audit: the log must extend it; updated on success')
    .option('--json', 'one JSON object per entry instead of one line per signature')
    .action(async (url: string, o: { logPubkey: string; pubkey: string[]; state?: string; json?: boolean }) => {
      try {
        const logPub = readFileSync(o.logPubkey, 'utf8');
        const publishers = o.pubkey.map((p) => ({ pub: readFileSync(p, 'utf8'), fp: keyFingerprint(readFileSync(p, 'utf8')) }));
        const previous = o.state === undefined ? undefined : readState(o.state, logPub);
        let signatures = 0;
        const onEntry = ({ index, entry, bundle }: AuditedEntry): void => {
          const where = `entry ${index} (bundle ${entry.manifest_sha256.slice(0, 16)}…)`;
          const u = readBundleUnverified(bundle, where);
          let files: { name: string; data: Uint8Array }[] = u.files;
          let signedBy: string | undefined;
          if (publishers.length > 0) {
            let last: BundleError | undefined;
            for (const p of publishers) {
              try {
                // Valid when it was logged: an audit of history does not expire old bundles.
                const v = verifyBundleOrThrow(bundle, p.pub, { now: new Date(Date.parse(entry.logged)) });
                files = v.files;
                signedBy = p.fp;
                break;
              } catch (e) {
                if (!(e instanceof BundleError)) throw e;
                last = e;
                if (e.code !== 'signature-invalid') break;
              }
            }
            if (signedBy === undefined) {
              throw new LogError('bad-proof', `${where}: ${last?.code === 'signature-invalid' ? 'not signed by any of the given publisher keys' : `${last?.code}: ${last?.message}`}`);
            }
          }
          if (u.manifest.publisher !== entry.publisher || u.manifest.version !== entry.version) {
            throw new LogError('bad-proof', `${where}: the entry says ${entry.publisher} v${entry.version}, the bundle's manifest ${String(u.manifest.publisher)} v${String(u.manifest.version)}`);
          }
          const described = files.map((f) => ({ name: f.name, size: f.data.length, ...signatureNames(f.name, f.data) }));
          if (o.json) {
            out(`${JSON.stringify({
              index, logged: entry.logged, publisher: entry.publisher, version: entry.version, manifest_sha256: entry.manifest_sha256,
              ...(signedBy ? { signed_by: signedBy } : {}),
              files: described.map((f) => (f.names ? { name: f.name, size: f.size, signatures: f.names } : { name: f.name, size: f.size, lines: f.lines })),
            })}\n`);
          }
          const head = `${index} ${entry.logged} ${field(entry.publisher)} v${entry.version}`;
          for (const f of described) {
            if (f.names) {
              signatures += f.names.length;
              if (!o.json) for (const n of f.names) out(`${head} ${field(f.name)} ${field(n)}\n`);
            } else if (!o.json) {
              out(`${head} ${field(f.name)} (${f.lines} line${f.lines === 1 ? '' : 's'})\n`);
            }
          }
        };
        const { sth } = await auditLog(url, logPub, { ...(previous ? { previous } : {}), onEntry });
        if (o.state !== undefined) writeFileAtomic(o.state, `${JSON.stringify({ format: STATE_FORMAT, url, sth })}\n`);
        const summary = `Audit OK: ${sth.tree_size} entr${sth.tree_size === 1 ? 'y' : 'ies'}, ${signatures} named signature${signatures === 1 ? '' : 's'}, root ${sth.root_hash}, tree head of ${new Date(sth.timestamp).toISOString()}${previous ? `, extends the previous audit (size ${previous.tree_size})` : ''}\n`;
        if (o.json) deps.stderr.write(summary); else out(summary);
      } catch (e) { fail(e, 'vigil log audit'); }
    });

  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' ? 0 : 2;
    throw e;
  }
  return code;
}
