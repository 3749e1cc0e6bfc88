/**
 * Test fixtures for versioned copies: a mixed tree of files (text, random binaries, empty files,
 * unicode names, spaces, leading dashes, nested directories, assorted modes and mtimes), a digest
 * of a tree (content hash, mode, mtime of every regular file), and a ransomware simulator that
 * AES-encrypts files in place or into `.locked` copies, drops ransom notes and deletes files.
 *
 * In: a directory and a seed. Out: the files written, digests to compare, what the simulator did.
 * Why here: the store's tests and the `rollback` command's tests share them.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, open, readFile, readdir, rename, unlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { mulberry32 } from '../../core/random.js';

/** A small deterministic PRNG (mulberry32), so that a failing tree can be rebuilt. */
export const rng = mulberry32;

const WORDS = ['invoice', 'report', 'draft', 'notes', 'budget', 'photo', 'été', 'naïve', 'Grüße', '日本語', 'данные', 'résumé', '🚀', 'a b', '-rf', '--help', 'x'];
const DIRS = ['docs', 'docs/2024', 'docs/2024/q1', 'média', 'média/été 2023', 'projects/vigil/src', 'projects/-dash', 'deep/a/b/c/d', '空白 dir'];

export interface Entry { path: string; sha256: string; mode: number; mtimeMs: number; size: number }

/** Writes `n` mixed files under `root`; returns their relative paths. */
export async function makeTree(root: string, n: number, seed = 1): Promise<string[]> {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const out: string[] = [];
  const modes = [0o644, 0o600, 0o640, 0o755, 0o444, 0o664];
  for (let i = 0; i < n; i++) {
    const dir = r() < 0.15 ? '' : pick(DIRS);
    const kind = i % 10;
    const ext = kind < 4 ? '.txt' : kind < 8 ? '.bin' : kind === 8 ? '' : '.docx';
    const rel = join(dir, `${pick(WORDS)} ${i}${ext}`);
    let data: Buffer;
    if (kind === 8) data = Buffer.alloc(0);
    else if (kind < 4) data = Buffer.from(Array.from({ length: 5 + Math.floor(r() * 400) }, () => pick(WORDS)).join(' ') + '\n');
    else if (kind === 9 && i % 20 === 9) data = Buffer.alloc(0);
    else data = randomBytes(Math.floor(r() * 48 * 1024) + 1);
    const p = join(root, rel);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, data);
    await chmod(p, pick(modes));
    const t = Date.now() / 1000 - r() * 86400 * 400;
    await utimes(p, t, t);
    out.push(rel);
  }
  return out;
}

/** Every regular file below `root` (links and special files are not followed). */
export async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const p = join(rel, e.name);
    if (e.isDirectory()) out.push(...await listFiles(root, p));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

export async function digest(root: string): Promise<Map<string, Entry>> {
  const m = new Map<string, Entry>();
  for (const rel of await listFiles(root)) {
    const p = join(root, rel);
    const st = await lstat(p);
    const sha256 = createHash('sha256').update(await readFile(p)).digest('hex');
    m.set(rel, { path: rel, sha256, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs, size: st.size });
  }
  return m;
}

/**
 * Differences between two digests: missing or extra files, content, mode, size, and mtime beyond
 * a microsecond (Node cannot set nanoseconds). Empty when they match.
 */
export function treeDiff(actual: Map<string, Entry>, expected: Map<string, Entry>): string[] {
  const out: string[] = [];
  for (const [p, e] of expected) {
    const a = actual.get(p);
    if (!a) { out.push(`missing: ${p}`); continue; }
    if (a.sha256 !== e.sha256) out.push(`content: ${p}`);
    if (a.mode !== e.mode) out.push(`mode: ${p} ${a.mode.toString(8)} != ${e.mode.toString(8)}`);
    if (a.size !== e.size) out.push(`size: ${p}`);
    if (Math.abs(a.mtimeMs - e.mtimeMs) >= 0.001) out.push(`mtime: ${p} ${a.mtimeMs} != ${e.mtimeMs}`);
  }
  for (const p of actual.keys()) if (!expected.has(p)) out.push(`extra: ${p}`);
  return out;
}

function encrypt(data: Buffer): Buffer {
  const key = randomBytes(32);
  const iv = randomBytes(16);
  const c = createCipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([iv, c.update(data), c.final()]);
}

/** Encrypts one file in place (same inode), as most ransomware does. */
export async function encryptInPlace(p: string): Promise<void> {
  const st = await lstat(p);
  if ((st.mode & 0o200) === 0) await chmod(p, st.mode | 0o200);
  const enc = encrypt(await readFile(p));
  const fh = await open(p, 'r+');
  try {
    await fh.write(enc, 0, enc.length, 0);
    await fh.truncate(enc.length);
  } finally {
    await fh.close();
  }
}

export interface IncidentPlan { encrypt: number; locked: number; delete: number; note?: string }
export interface IncidentResult { encrypted: string[]; locked: string[]; deleted: string[]; notes: string[] }

/**
 * Runs the simulated attack over `files` (relative paths under root), at full speed: encrypts
 * `encrypt` files in place; turns `locked` files into `NAME.locked` — half written as new
 * encrypted copies with the original deleted, half renamed then encrypted in place; drops a
 * ransom note in every directory; deletes `delete` more files.
 */
export async function incident(root: string, files: string[], plan: IncidentPlan, seed = 7): Promise<IncidentResult> {
  const r = rng(seed);
  const order = [...files];
  for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [order[i], order[j]] = [order[j]!, order[i]!]; }
  const res: IncidentResult = { encrypted: [], locked: [], deleted: [], notes: [] };
  let k = 0;
  for (; k < plan.encrypt; k++) { const f = order[k]!; await encryptInPlace(join(root, f)); res.encrypted.push(f); }
  for (let i = 0; i < plan.locked; i++, k++) {
    const f = order[k]!;
    const p = join(root, f);
    if (i % 2 === 0) {
      await writeFile(`${p}.locked`, encrypt(await readFile(p)));
      await unlink(p);
    } else {
      await rename(p, `${p}.locked`);
      await encryptInPlace(`${p}.locked`);
    }
    res.locked.push(`${f}.locked`);
  }
  const dirs = new Set<string>(['']);
  for (const f of files) { let d = dirname(f); while (d !== '.' && !dirs.has(d)) { dirs.add(d); d = dirname(d); } }
  for (const d of dirs) {
    const n = join(d === '.' ? '' : d, plan.note ?? 'HOW_TO_DECRYPT.txt');
    await writeFile(join(root, n), 'Your files are encrypted. Send 1 BTC.\n');
    res.notes.push(n);
  }
  for (let i = 0; i < plan.delete; i++, k++) { const f = order[k]!; await unlink(join(root, f)); res.deleted.push(f); }
  return res;
}
