/**
 * `vigil ransom recover-key` and `vigil ransom decrypt`: decryption of what generic ransomware
 * flaws allow, on the victim's machine, uploading nothing.
 *
 * In: the arguments after the subcommand, output streams. `recover-key --cipher ENC (--plain ORIG
 * | --type TYPE) [--kind auto|xor|keystream|partial] [--out KEYFILE] [--json]`: a key from one
 * original/encrypted pair, or from the known header of the original's type (given, or read from
 * the original extension inside the encrypted name). `decrypt --key KEYFILE [--suffix S] [--out
 * DIR] [--keep-unverified] [--json] FILES...`: decrypts each file beside it (or into DIR) under a
 * new name. Out: what was derived and what it recovers / per file verified, unverified, wrong key,
 * keystream too short, error; the key file (never over an existing file). Exit codes:
 * recover-key 0 key written, 1 no key derivable, 2 error or usage; decrypt 0 all verified, 1 some
 * not, 2 errors.
 * Why: the command front of src/ransom/decrypt/.
 */
import { statSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { commandGroup, parseCommand } from './program.js';
import { parseFileType, typeFromName, type FileType } from '../ransom/decrypt/headers.js';
import { recoverFromHeader, recoverFromPair, type Recovery, type WantKind } from '../ransom/decrypt/recover.js';
import { describeSource, KeyFileError, readKeyFile, writeKeyFile, type SourceFile } from '../ransom/decrypt/keyfile.js';
import { decryptFiles, exitCode, MAX_FILE_BYTES, originalName, summarise } from '../ransom/decrypt/decrypt.js';
import { coverageText } from '../ransom/decrypt/keystream.js';

export interface RansomDecryptDeps {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  now?: () => Date;
}

class UsageError extends Error {}

function readInput(path: string, what: string): Uint8Array {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new UsageError(`${what} ${path}: not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${what} ${path}: ${(e as Error).message}`);
  }
  if (size > MAX_FILE_BYTES) throw new UsageError(`${what} ${path}: ${size} bytes, larger than the ${MAX_FILE_BYTES}-byte limit`);
  return readFileSync(path);
}

const KINDS: readonly WantKind[] = ['auto', 'xor', 'keystream', 'partial'];

function recoverKeyCommand(program: Command, deps: RansomDecryptDeps, out: { code: number }): void {
  const setCode = (c: number): void => { out.code = c; };
  program
    .description('derive a decryption key from one original/encrypted pair, or from the known header of the original\'s file type')
    .requiredOption('--cipher <file>', 'an encrypted file')
    .option('--plain <file>', 'the same file before encryption (a backup, an e-mail attachment, a sample picture)')
    .option('--type <type>', 'the original\'s type when no original is at hand: png, pdf, zip, docx, xlsx, pptx, jpeg, gif, bmp (default: from the name, e.g. photo.png.locked)')
    .option('--kind <kind>', 'what to look for: auto, xor, keystream, partial', 'auto')
    .option('--out <keyfile>', 'the key file to write (default: ENC.vigil-key.json; never overwritten)')
    .option('--json', 'print the key file as JSON', false)
    .action((o: { cipher: string; plain?: string; type?: string; kind: string; out?: string; json: boolean }) => {
      try {
        if (!(KINDS as readonly string[]).includes(o.kind)) throw new UsageError(`--kind ${o.kind}: expected one of ${KINDS.join(', ')}`);
        const want = o.kind as WantKind;
        const cipher = readInput(o.cipher, 'encrypted file');
        const from: SourceFile[] = [];
        let recovery: Recovery;
        let suffix: string | undefined;
        if (o.plain !== undefined) {
          if (o.type !== undefined) throw new UsageError('give either --plain or --type, not both');
          const plain = readInput(o.plain, 'original');
          from.push(describeSource('original', o.plain, plain));
          const pb = basename(o.plain), cb = basename(o.cipher);
          if (cb.length > pb.length && cb.startsWith(pb)) suffix = cb.slice(pb.length);
          recovery = recoverFromPair(plain, cipher, want);
        } else {
          let type: FileType | undefined;
          if (o.type !== undefined) {
            type = parseFileType(o.type);
            if (!type) throw new UsageError(`--type ${o.type}: unknown type (png, pdf, zip, docx, xlsx, pptx, jpeg, gif, bmp, text)`);
          } else {
            const orig = originalName(o.cipher);
            type = orig !== undefined ? typeFromName(orig) : undefined;
            if (!type) throw new UsageError(`${o.cipher}: no original extension in the name; give --plain ORIGINAL or --type TYPE`);
            suffix = basename(o.cipher).slice((orig as string).length);
          }
          recovery = recoverFromHeader(cipher, type, want);
        }
        from.push(describeSource('encrypted', o.cipher, cipher));
        if (!recovery.ok) {
          deps.stderr.write(`vigil ransom recover-key: no key: ${recovery.reason}\n`);
          setCode(1);
          return;
        }
        const out = o.out ?? `${o.cipher}.vigil-key.json`;
        const json = writeKeyFile(out, recovery.key, {
          method: recovery.method, at: (deps.now ? deps.now() : new Date()).toISOString(),
          ...(recovery.variant ? { variant: recovery.variant } : {}), ...(recovery.check ? { check: recovery.check } : {}), notes: recovery.notes,
        }, from, suffix);
        if (o.json) { deps.stdout.write(JSON.stringify(json) + '\n'); return; }
        const k = recovery.key;
        const what = k.kind === 'xor' ? `static XOR key, period ${k.key.length}: ${Buffer.from(k.key.subarray(0, 64)).toString('hex')}${k.key.length > 64 ? '…' : ''}`
          : k.kind === 'keystream' ? `keystream of ${k.stream.length} bytes`
            : `partial encryption of the first ${k.encryptedBytes} bytes (${k.inner === 'xor' ? `XOR key of ${k.key.length} bytes` : 'keystream'})`;
        deps.stdout.write(`Key: ${what}\nRecovers: ${coverageText(k)}\nDerived: ${recovery.method}${recovery.variant ? ` (${recovery.variant})` : ''}\n`);
        for (const n of recovery.notes) deps.stdout.write(`  ${n}\n`);
        deps.stdout.write(`Wrote ${out}${json.keystreamFile ? ` and ${json.keystreamFile}` : ''}\n`);
      } catch (e) {
        deps.stderr.write(`vigil ransom recover-key: ${e instanceof Error ? e.message : String(e)}\n`);
        setCode(2);
      }
    });
}

const STATUS_LABEL = {
  verified: 'decrypted and verified', unverified: 'decrypted, unverified', 'wrong-key': 'WRONG KEY', 'keystream-too-short': 'keystream too short', error: 'ERROR',
} as const;

function decryptCommand(program: Command, deps: RansomDecryptDeps, out: { code: number }): void {
  const setCode = (c: number): void => { out.code = c; };
  program
    .description('decrypt files with a recovered key; each result is checked (type and structure) and written under a new name, never over a file')
    .requiredOption('--key <keyfile>', 'a key file from `vigil ransom recover-key`')
    .option('--suffix <ext>', 'the extension the ransomware appended (default: from the key file, else the last extension)')
    .option('--out <dir>', 'write the results here instead of beside the encrypted files')
    .option('--keep-unverified', 'also write results whose structure check failed or that are only partly decrypted', false)
    .option('--json', 'print the per-file report as JSON', false)
    .argument('<files...>', 'encrypted files')
    .action((files: string[], o: { key: string; suffix?: string; out?: string; keepUnverified: boolean; json: boolean }) => {
      try {
        const { key, json } = readKeyFile(o.key);
        if (o.out !== undefined) {
          let dir = false;
          try { dir = statSync(o.out).isDirectory(); } catch { /* reported below */ }
          if (!dir) throw new UsageError(`--out ${o.out}: not a directory`);
        }
        const suffix = o.suffix ?? json.suffix;
        const reports = decryptFiles(files, key, { ...(suffix ? { suffix } : {}), ...(o.out !== undefined ? { outDir: o.out } : {}), keepUnverified: o.keepUnverified });
        setCode(exitCode(reports));
        if (o.json) { deps.stdout.write(JSON.stringify({ key: o.key, files: reports, summary: summarise(reports) }) + '\n'); return; }
        for (const r of reports) {
          const line = `${r.file}: ${STATUS_LABEL[r.status]} (${r.type}): ${r.detail}${r.written ? `\n  wrote ${r.written}` : ''}\n`;
          (r.status === 'error' || r.status === 'wrong-key' ? deps.stderr : deps.stdout).write(line);
        }
        const s = summarise(reports);
        deps.stdout.write(`${reports.length} files: ${s.verified} verified, ${s.unverified} unverified, ${s.wrongKey} wrong key, ${s.tooShort} keystream too short, ${s.errors} errors; ${s.written} written\n`);
      } catch (e) {
        deps.stderr.write(`vigil ransom decrypt: ${e instanceof KeyFileError || e instanceof Error ? e.message : String(e)}\n`);
        setCode(2);
      }
    });
}

/** Adds `recover-key` to a `vigil ransom` group; the exit code is written to `out.code`. */
export function addRecoverKeyCommand(program: Command, deps: RansomDecryptDeps, out: { code: number }): void {
  recoverKeyCommand(program.command('recover-key'), deps, out);
}

/** Adds `decrypt` to a `vigil ransom` group; the exit code is written to `out.code`. */
export function addDecryptCommand(program: Command, deps: RansomDecryptDeps, out: { code: number }): void {
  decryptCommand(program.command('decrypt'), deps, out);
}

/** `vigil ransom recover-key …` (the words after `recover-key`): the exit code. */
export async function runRecoverKey(args: string[], deps: RansomDecryptDeps): Promise<number> {
  const out = { code: 0 };
  const program = commandGroup('vigil ransom recover-key', deps);
  recoverKeyCommand(program, deps, out);
  return (await parseCommand(program, args)) ?? out.code;
}

/** `vigil ransom decrypt …` (the words after `decrypt`): the exit code. */
export async function runDecrypt(args: string[], deps: RansomDecryptDeps): Promise<number> {
  const out = { code: 0 };
  const program = commandGroup('vigil ransom decrypt', deps);
  decryptCommand(program, deps, out);
  return (await parseCommand(program, args)) ?? out.code;
}
