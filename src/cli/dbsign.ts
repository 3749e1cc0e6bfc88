/**
 * `vigil db keygen|build|verify`: make and check signed signature bundles.
 *
 *   keygen --out NAME                          write NAME.key (0600) and NAME.pub; never overwrite
 *   build SRC_DIR --key NAME.key --version N --out BUNDLE [--expires-days D] [--publisher P]
 *                                              bundle the database files of SRC_DIR, signed
 *   verify BUNDLE --pubkey NAME.pub            check it; print publisher, version, files
 *   diff OLD NEW --pubkey NAME.pub --out DELTA  a delta from OLD to NEW (src/update/delta.ts)
 *
 * In: arguments (after `db`) and output streams. Out: an exit code: 0 on success, 2 when a bundle
 * is refused (the reason on stderr), on a usage error, or when a file can't be read or written.
 * Why: the publisher's side and a user's manual check of the format in src/update/bundle.ts.
 */
import { commandGroup, parseCommand } from './program.js';
import { readFileSync } from 'node:fs';
import { makeDelta } from '../update/delta.js';
import { writeNewFile } from '../core/newfile.js';
import { BundleError, buildBundle, keyFingerprint, keygen, verifyBundle } from '../update/bundle.js';

export interface DbSignDeps {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  now?: () => Date;
}

function intArg(name: string, v: string): number {
  if (!/^\d+$/.test(v)) throw new BundleError('bad-input', `${name} must be a positive integer, not ${JSON.stringify(v)}`);
  return Number(v);
}

export async function runDbSign(args: string[], deps: DbSignDeps): Promise<number> {
  let code = 0;
  const now = (): Date => (deps.now ? deps.now() : new Date());
  const fail = (e: unknown): void => {
    const err = e as NodeJS.ErrnoException;
    const reason = e instanceof BundleError ? `${e.code}: ${e.message}` : err.code === 'EEXIST' ? `${err.path ?? 'file'} already exists; not overwriting it` : err.message;
    deps.stderr.write(`vigil db: ${reason}\n`);
    code = 2;
  };
  const program = commandGroup('vigil db', deps);

  program
    .command('keygen')
    .description('write an Ed25519 key pair: NAME.key (private, 0600) and NAME.pub')
    .requiredOption('--out <name>', 'path prefix of the two files')
    .action((o: { out: string }) => {
      try {
        const k = keygen(o.out);
        deps.stdout.write(`Private key: ${k.keyPath} (keep it secret)\nPublic key: ${k.pubPath}\nFingerprint: ${k.fingerprint}\n`);
      } catch (e) { fail(e); }
    });

  program
    .command('build')
    .description('bundle and sign the database files of a directory')
    .argument('<src_dir>', 'directory of database files (not recursive)')
    .requiredOption('--key <file>', 'Ed25519 private key (PKCS#8 PEM)')
    .requiredOption('--version <n>', 'bundle version, a positive integer that increases with each release')
    .requiredOption('--out <file>', 'the bundle to write (must not exist)')
    .option('--expires-days <d>', 'days until the bundle expires', '30')
    .option('--publisher <name>', 'publisher name recorded in the manifest', 'vigil')
    .action((src: string, o: { key: string; version: string; out: string; expiresDays: string; publisher: string }) => {
      try {
        const b = buildBundle(src, {
          key: readFileSync(o.key, 'utf8'), version: intArg('--version', o.version), publisher: o.publisher,
          expiresInDays: intArg('--expires-days', o.expiresDays), now: now(),
        });
        writeNewFile(o.out, b.bytes);
        deps.stdout.write(`Wrote ${o.out}: ${b.bytes.length} bytes, ${b.manifest.files.length} file${b.manifest.files.length === 1 ? '' : 's'}, version ${b.manifest.version}, expires ${b.manifest.expires}\n`);
        deps.stdout.write(`Manifest SHA-256: ${b.manifestHash}\n`);
      } catch (e) { fail(e); }
    });

  program
    .command('verify')
    .description('check a bundle against a public key')
    .argument('<bundle>', 'the bundle file')
    .requiredOption('--pubkey <file>', 'Ed25519 public key (SPKI PEM)')
    .action((path: string, o: { pubkey: string }) => {
      try {
        const pub = readFileSync(o.pubkey, 'utf8');
        const r = verifyBundle(readFileSync(path), pub, { now: now() });
        if (!r.ok) {
          deps.stderr.write(`vigil db verify: ${path}: REFUSED: ${r.error.code}: ${r.error.message}\n`);
          code = 2;
          return;
        }
        const m = r.manifest;
        deps.stdout.write(`${path}: OK (key ${keyFingerprint(pub)})\n`);
        deps.stdout.write(`Publisher: ${m.publisher}\nVersion: ${m.version}\nCreated: ${m.created}\nExpires: ${m.expires}\nManifest SHA-256: ${r.manifestHash}\n`);
        deps.stdout.write(`Files (${m.files.length}):\n`);
        for (const f of m.files) deps.stdout.write(`  ${f.name}  ${f.size}  ${f.sha256}\n`);
      } catch (e) { fail(e); }
    });

  program
    .command('diff')
    .description('a delta from one bundle to a newer one (carries the newer one\'s signature; no key needed)')
    .argument('<old>', 'the older bundle')
    .argument('<new>', 'the newer bundle')
    .requiredOption('--pubkey <file>', "the publisher's public key (both bundles are verified first)")
    .requiredOption('--out <file>', 'the delta to write (must not exist)')
    .action((oldPath: string, newPath: string, o: { pubkey: string; out: string }) => {
      try {
        const newBytes = readFileSync(newPath);
        const d = makeDelta(readFileSync(oldPath), newBytes, readFileSync(o.pubkey, 'utf8'), now());
        writeNewFile(o.out, d);
        deps.stdout.write(`Wrote ${o.out}: ${d.length} bytes (the whole bundle is ${newBytes.length})\n`);
      } catch (e) { fail(e); }
    });

  return (await parseCommand(program, args)) ?? code;
}
