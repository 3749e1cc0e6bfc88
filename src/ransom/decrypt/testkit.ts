/**
 * Shared set-up of the decryption tests (not a test itself).
 *
 * In: a seed and a mode. Out: a temporary victim: the original corpus kept aside (`orig/`), a
 * copy (`victim/`) the test ransomware encrypts, helpers to run the CLI in process and to compare
 * results with the originals. Why: three simulator tests need the same 500-file scene.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createHash } from 'node:crypto';
import { generateCorpus, type CorpusFile } from './simulator.js';

export interface Scene { root: string; orig: string; victim: string; files: CorpusFile[]; cleanup(): void }

export function makeScene(seed: number, count = 500): Scene {
  const root = mkdtempSync(join(tmpdir(), 'vigil-ransom-'));
  const orig = join(root, 'orig'), victim = join(root, 'victim');
  mkdirSync(orig);
  const files = generateCorpus(orig, { count, seed });
  cpSync(orig, victim, { recursive: true });
  return { root, orig, victim, files, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** The victim-side path of an original corpus file. */
export const victimPath = (s: Scene, f: CorpusFile): string => join(s.victim, relative(s.orig, f.path));

export function listFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) listFiles(p, out); else out.push(p);
  }
  return out.sort();
}

export const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

export function capture(): { out: string[]; err: string[]; deps: { stdout: { write(s: string): boolean }; stderr: { write(s: string): boolean } } } {
  const out: string[] = [], err: string[] = [];
  return { out, err, deps: { stdout: { write: (s: string) => out.push(s) > 0 }, stderr: { write: (s: string) => err.push(s) > 0 } } };
}

/**
 * After a decryption run: every original is back byte-identical (beside a pre-created file of the
 * same name: as `.decrypted`), the pre-created files still hold `kept`, and no encrypted file
 * changed. Returns how many originals were checked.
 */
export function assertRecovered(scene: Scene, taken: readonly CorpusFile[], kept: string, encHashes: ReadonlyMap<string, string>): number {
  let identical = 0;
  for (const f of scene.files) {
    const v = victimPath(scene, f);
    const out = taken.includes(f) ? `${v}.decrypted` : v;
    assert.ok(readFileSync(out).equals(readFileSync(f.path)), `${out} differs from the original`);
    identical++;
  }
  for (const f of taken) assert.equal(readFileSync(victimPath(scene, f), 'utf8'), kept, `${victimPath(scene, f)} was overwritten`);
  for (const [p, h] of encHashes) assert.equal(sha(p), h, `${p} was modified`);
  return identical;
}
