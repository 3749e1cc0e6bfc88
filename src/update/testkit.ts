/**
 * Test fixtures for updates: a publisher with its key, a transparency log, signature sets that
 * grow from version to version, and signed, logged bundles of them.
 *
 * In: a temporary directory. Out: keys (PEM), bundle files with or without log proofs, the log.
 * Why: the update, mirror, delta and end-to-end tests all need the same publisher's world.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle } from './bundle.js';
import { LogStore } from './log-store.js';
import { attachProof } from './transparency.js';

export interface KeyPair { priv: string; pub: string }

export function keyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { priv: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, pub: publicKey.export({ type: 'spki', format: 'pem' }) as string };
}

export function tempDir(prefix: string): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The content that version `v` detects: `sample-1` .. `sample-v` (by MD5) plus a body signature. */
export function sampleContent(i: number): Buffer {
  return Buffer.from(`vigil update test sample number ${i}: this file is flagged from version ${i} on\n`);
}

/**
 * The database files of version `v`: `vigil.hdb` holds 2,000 hash signatures of version 0 and
 * grows by one per version (the samples); `vigil.ndb` does not change.
 */
export function versionFiles(v: number): Record<string, string> {
  const hdb: string[] = [];
  for (let i = 0; i < 2000; i++) hdb.push(`${createHash('md5').update(`filler ${i}`).digest('hex')}:${1000 + i}:Vigil.Test.Filler-${i}`);
  for (let i = 1; i <= v; i++) {
    const c = sampleContent(i);
    hdb.push(`${createHash('md5').update(c).digest('hex')}:${c.length}:Vigil.Test.Sample-${i}`);
  }
  return {
    'vigil.hdb': `${hdb.join('\n')}\n`,
    'vigil.ndb': 'Vigil.Test.Body:0:*:7669676c6c2d626f64792d6d61726b6572\n',
  };
}

export const DAY = 86_400_000;

export interface Publisher {
  keys: KeyPair;
  logKeys: KeyPair;
  log: LogStore;
  /** Builds version v (signed at `at`, valid `days`), logs it unless `unlogged`; returns the bundle file. */
  publish(v: number, opts?: { at?: Date; days?: number; unlogged?: boolean; files?: Record<string, string> }): Buffer;
}

export function publisher(root: string, logKeys: KeyPair = keyPair(), logDir = join(root, 'log')): Publisher {
  const keys = keyPair();
  return publisherWith(root, keys, logKeys, logDir);
}

export function publisherWith(root: string, keys: KeyPair, logKeys: KeyPair, logDir: string): Publisher {
  const log = new LogStore({ dir: logDir, key: logKeys.priv, publishers: [keys.pub] });
  let n = 0;
  return {
    keys, logKeys, log,
    publish(v, opts = {}) {
      const src = join(root, `src-${v}-${n++}`);
      mkdirSync(src, { recursive: true });
      for (const [name, text] of Object.entries(opts.files ?? versionFiles(v))) writeFileSync(join(src, name), text);
      const at = opts.at ?? new Date();
      const b = buildBundle(src, { key: keys.priv, version: v, publisher: 'Vigil Test Signatures', expiresInDays: opts.days ?? 30, now: at });
      rmSync(src, { recursive: true, force: true });
      if (opts.unlogged) return b.bytes;
      return attachProof(b.bytes, log.add(b.bytes));
    },
  };
}

/** The repository root: the nearest ancestor with vigil's package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'vigil') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the vigil repository root');
    dir = up;
  }
}

/** ClamAV's unit-test databases (`../shared/data/clamav`): test-1..6.cvd, test-2..6.cdiff. */
export const CLAMAV_DATA = join(repoRoot(), '..', 'shared', 'data', 'clamav');
/** The skip reason of tests that need them, or false. */
export const clamavDataSkip: string | false = existsSync(join(CLAMAV_DATA, 'test-6.cvd')) ? false : `ClamAV test data not found at ${CLAMAV_DATA}`;
export const readClamavData = (name: string): Buffer => readFileSync(join(CLAMAV_DATA, name));

/** The files a database path gives the scanner, by name. */
export function installedFiles(db: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of readdirSync(db).sort()) out[n] = readFileSync(join(db, n), 'utf8');
  return out;
}
