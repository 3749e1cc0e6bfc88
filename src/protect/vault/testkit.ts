/**
 * Helpers for the vault's tests: a seeded random generator, file digests, temp directories.
 * In: a seed, paths. Out: reproducible random bytes and names; SHA-256 of files.
 * Why: the round-trip and fault-injection tests must be reproducible from their seed.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QuarantineInfo } from '../types.js';
import { mulberry32 } from '../../../test/helpers/prng.js';

/** A small seeded generator, [0, 1) (mulberry32, shared with the other tests). */
export const seeded = mulberry32;

export function randomBytesSeeded(rnd: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i += 4) {
    const v = Math.floor(rnd() * 4294967296);
    b[i] = v & 0xff;
    if (i + 1 < n) b[i + 1] = (v >>> 8) & 0xff;
    if (i + 2 < n) b[i + 2] = (v >>> 16) & 0xff;
    if (i + 3 < n) b[i + 3] = (v >>> 24) & 0xff;
  }
  return b;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(path: string): string {
  return sha256(readFileSync(path));
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `vigil-vault-${prefix}-`));
}

export const INFO: QuarantineInfo = {
  detections: [{ name: 'Eicar-Test-Signature', kind: 'body', db: 'main.ndb', line: 1, layer: [], offset: 0, matched: '58354f' }],
  engine: 'vigil-0.1.0',
  database: { signatures: 1, daily: 27000 },
};

export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
