/**
 * Canary (decoy) documents planted in protected folders, and tripwires on them.
 *
 * In: folders to plant in; optionally a manifest file to remember what was planted across
 * restarts. Out: real small documents (XLSX, PDF, DOCX, JPEG, freshly generated so each install has
 * its own hashes) under names that directory walkers meet first (`!`, `$`, `0` sort before
 * letters; one `~` name for walkers going backwards) and a hidden dotfile copy (some walkers skip
 * dotfiles, others walk only them first); `verify(path)` says whether one changed; `arm()` puts an
 * inotify/FSEvents watch (`fs.watch`) on each so that a write, move or delete is reported within
 * milliseconds — independent of the debounced tree watcher — through `onTouch`.
 * Why: a canary is the cheapest, most precise ransomware signal (reference §4.1): nothing but an
 * encryptor or a careless tool has reason to modify a file nobody uses. Planting never overwrites
 * a user's file: an existing file of a canary's name is adopted as is (when it is a document of
 * the right format) or the name is skipped. Reads (backup, indexing, `tar`) are not touches: a
 * touch is a content, identity or presence change, checked by hash.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { lstatSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { lstat, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { makeDocx, makeJpeg, makePdf, makeXlsx, prng, prose } from './formats.js';
import { expectedMagic, sniffMagic } from './sniff.js';
import type { CanaryOracle } from './detector.js';

export interface CanarySpec {
  name: string;
  make: (rnd: () => number) => Buffer;
  /** A small variant, for sub-folders (where a large decoy in every folder would cost disk). */
  makeSmall?: (rnd: () => number) => Buffer;
}

const year = new Date().getFullYear();

const docx = (title: string) => (rnd: () => number): Buffer =>
  makeDocx(Array.from({ length: 12 + Math.floor(rnd() * 12) }, () => prose(rnd, 30 + Math.floor(rnd() * 60))), { title, author: 'Finance' });
const pdf = (title: string) => (rnd: () => number): Buffer =>
  makePdf([title, '', ...Array.from({ length: 30 }, () => prose(rnd, 12))], { title });
const xlsx = (rnd: () => number): Buffer =>
  makeXlsx([
    ['Date', 'Account', 'Description', 'Amount', 'Balance'],
    ...Array.from({ length: 40 + Math.floor(rnd() * 40) }, (_, i) => [
      `${year}-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + Math.floor(rnd() * 28)).padStart(2, '0')}`,
      `ACC-${1000 + Math.floor(rnd() * 9000)}`,
      prose(rnd, 4).replace(/\.$/, ''),
      Math.round(rnd() * 1_000_000) / 100,
      Math.round(rnd() * 10_000_000) / 100,
    ]),
  ], { title: 'Accounts', author: 'Finance' });
const jpeg = (rnd: () => number): Buffer => makeJpeg(480 + 8 * Math.floor(rnd() * 20), 360 + 8 * Math.floor(rnd() * 15), Math.floor(rnd() * 2 ** 31));

/**
 * A scanned contract of about 1.5 MiB, the first name in sort order: an encryptor walking in order
 * meets it first and spends milliseconds on it with the file open — time for the tripwire to fire
 * and for the search to find it holding the descriptor — before it reaches a real document.
 */
const scannedPdf = (rnd: () => number): Buffer => {
  const width = 1240;
  const height = 1240;
  const rows = new Uint8Array(height);
  for (let y = 0; y < height; y++) rows[y] = y > 120 && y < 1100 && y % 28 < 14 && rnd() < 0.9 ? 1 : 0;
  return makePdf(['Service agreement', '', ...Array.from({ length: 20 }, () => prose(rnd, 12))], {
    title: 'Service agreement (signed)',
    scan: { width, height, pixel: (x, y) => (rows[y] && x > 100 && x < 1140 && ((x * 7 + y * 3) % 11) < 5 ? 40 : 250) },
  });
};

/** The default decoys: early in every common sort order, plus a hidden copy and a late one. */
export const DEFAULT_CANARIES: CanarySpec[] = [
  { name: `!Accounts ${year}.xlsx`, make: xlsx },
  { name: '!0 Contract signed.pdf', make: scannedPdf, makeSmall: pdf('Service agreement (signed)') },
  { name: '$Payroll summary.docx', make: docx('Payroll summary') },
  { name: '0000 Scan passport.jpg', make: jpeg },
  { name: '.~Budget draft.docx', make: docx('Budget draft') },
  { name: `~Receipts ${year}.pdf`, make: pdf(`Receipts ${year}`) },
];

export interface CanaryRecord {
  path: string;
  sha256: string;
  size: number;
  ino: number;
  /** Modification time when planted (a changed one is a touch, found without reading the file). */
  mtimeMs?: number;
  /** Set once a touch was reported, until the canary is planted again. */
  touched?: string;
}

export interface CanaryOptions {
  specs?: CanarySpec[];
  /** JSON file remembering what was planted (so that a restart recognises its canaries). */
  manifest?: string;
  /** Called once per touch (change, move, deletion) seen by a tripwire. */
  onTouch?: (path: string, detail: string) => void;
}

/** Temporary names used while planting; the detector ignores them. */
export const CANARY_TEMP = /(^|[\\/])\.vigil-canary-[0-9a-f]+\.tmp$/;

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export class Canaries implements CanaryOracle {
  private readonly specs: CanarySpec[];
  private readonly manifest: string | undefined;
  private readonly records = new Map<string, CanaryRecord>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly dirs = new Set<string>();
  private readonly small = new Set<string>();
  private armed = false;
  onTouch: ((path: string, detail: string) => void) | undefined;

  constructor(opts: CanaryOptions = {}) {
    this.specs = opts.specs ?? DEFAULT_CANARIES;
    this.manifest = opts.manifest;
    this.onTouch = opts.onTouch;
  }

  /** Reads the manifest, if any (a corrupt or missing one is treated as empty). */
  async load(): Promise<void> {
    if (!this.manifest) return;
    try {
      const data = JSON.parse(await readFile(this.manifest, 'utf8')) as unknown;
      if (!Array.isArray(data)) return;
      for (const r of data as unknown[]) {
        const rec = r as Partial<CanaryRecord>;
        if (typeof rec.path === 'string' && typeof rec.sha256 === 'string' && typeof rec.size === 'number' && typeof rec.ino === 'number') {
          this.records.set(rec.path, {
            path: rec.path, sha256: rec.sha256, size: rec.size, ino: rec.ino,
            ...(typeof rec.mtimeMs === 'number' ? { mtimeMs: rec.mtimeMs } : {}),
          });
        }
      }
    } catch {
      // No manifest yet, or unreadable: start afresh.
    }
  }

  private async save(): Promise<void> {
    if (!this.manifest) return;
    await mkdir(dirname(this.manifest), { recursive: true });
    const tmp = `${this.manifest}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify([...this.records.values()].map(({ touched: _t, ...r }) => r), null, 1));
    await rename(tmp, this.manifest);
  }

  isCanary(path: string): boolean {
    return this.records.has(path);
  }

  list(): CanaryRecord[] {
    return [...this.records.values()];
  }

  /**
   * Plants (or re-plants) the canaries of `dir`. A canary already there and intact is kept; a
   * missing or changed one is written anew (atomically, through a temporary file); a file of a
   * canary's name that is not ours is adopted when it is a document of the expected format and
   * otherwise left alone.
   */
  async plant(dir: string, opts: { small?: boolean } = {}): Promise<CanaryRecord[]> {
    if (opts.small) this.small.add(dir);
    const small = this.small.has(dir);
    this.dirs.add(dir);
    const out: CanaryRecord[] = [];
    for (const spec of this.specs) {
      const path = join(dir, spec.name);
      const known = this.records.get(path);
      const st = await lstat(path).catch(() => null);
      if (st && known && !known.touched) {
        const change = await this.verifyQuiet(path);
        if (change === null) {
          out.push(known);
          continue;
        }
        // Changed while no tripwire saw it (not armed, or the watcher missed it): report, then re-plant.
        known.touched = change;
        this.onTouch?.(path, change);
      } else if (!st && known && !known.touched) {
        known.touched = 'deleted or moved away';
        this.onTouch?.(path, known.touched);
      }
      if (st && !known) {
        // Not planted by us (or the manifest was lost): adopt a plausible document, never overwrite.
        if (!st.isFile() || st.size > 4 * 1024 * 1024) continue;
        const content = await readFile(path).catch(() => null);
        if (!content) continue;
        const magic = sniffMagic(content.subarray(0, 1024));
        if (!magic || !(expectedMagic(path) ?? []).includes(magic)) continue;
        const rec: CanaryRecord = { path, sha256: sha256(content), size: content.length, ino: st.ino, mtimeMs: st.mtimeMs };
        this.records.set(path, rec);
        out.push(rec);
        continue;
      }
      const content = ((small && spec.makeSmall) || spec.make)(prng(randomBytes(4).readUInt32LE(0)));
      const tmp = join(dir, `.vigil-canary-${randomBytes(6).toString('hex')}.tmp`);
      try {
        const fh = await open(tmp, 'wx', 0o644);
        try {
          await fh.writeFile(content);
          await fh.sync();
        } finally {
          await fh.close();
        }
        // The record goes first, so that the watcher's event for the rename finds the new content.
        const rec: CanaryRecord = { path, sha256: sha256(content), size: content.length, ino: -1 };
        this.records.set(path, rec);
        await rename(tmp, path);
        const st2 = await lstat(path);
        rec.ino = st2.ino;
        rec.mtimeMs = st2.mtimeMs;
        out.push(rec);
        hide(path);
      } catch {
        await rm(tmp, { force: true }).catch(() => undefined);
        if (!known) this.records.delete(path);
      }
    }
    await this.save().catch(() => undefined);
    if (this.armed) this.arm();
    return out;
  }

  /** Re-plants every canary that is missing or changed (after an alert, or periodically). */
  async refresh(): Promise<number> {
    let replanted = 0;
    for (const dir of this.dirs) {
      const before = this.list().filter((r) => dirname(r.path) === dir).map((r) => `${r.path}:${r.sha256}`).join();
      await this.plant(dir);
      const after = this.list().filter((r) => dirname(r.path) === dir).map((r) => `${r.path}:${r.sha256}`).join();
      if (before !== after) replanted++;
    }
    return replanted;
  }

  /**
   * Resolves a description of how the canary at `path` changed, or null when it is intact. A
   * touch is reported once (later calls resolve null) until the canary is planted again.
   */
  async verify(path: string): Promise<string | null> {
    const rec = this.records.get(path);
    if (!rec || rec.touched) return null;
    const change = await this.verifyQuiet(path);
    if (change === null || rec.touched) return null;
    rec.touched = change;
    return change;
  }

  private async verifyQuiet(path: string): Promise<string | null> {
    const rec = this.records.get(path);
    if (!rec) return null;
    const st = await lstat(path).catch(() => null);
    if (!st) return 'deleted or moved away';
    if (!st.isFile()) return 'replaced by a non-file';
    if (st.size > 64 * 1024 * 1024) return `grew to ${st.size} bytes`;
    const content = await readFile(path).catch(() => null);
    if (!content) return 'unreadable';
    const h = sha256(content);
    if (h !== rec.sha256) {
      const magic = sniffMagic(content.subarray(0, 1024));
      return `content changed (${rec.size} -> ${content.length} bytes, ${magic ?? 'no signature'})`;
    }
    if (rec.ino !== -1 && st.ino !== rec.ino) return 'replaced (same content, new inode)';
    return null;
  }

  /** `verifyQuiet`, synchronously (canaries are small: one stat, one read, one hash). */
  private verifySync(path: string): string | null {
    const rec = this.records.get(path);
    if (!rec) return null;
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return 'deleted or moved away';
    }
    if (!st.isFile()) return 'replaced by a non-file';
    if (st.size !== rec.size) return `content changed (${rec.size} -> ${st.size} bytes)`;
    if (rec.mtimeMs !== undefined && st.mtimeMs !== rec.mtimeMs) return `modified (size kept, ${new Date(st.mtimeMs).toISOString()})`;
    if (rec.ino !== -1 && st.ino !== rec.ino) return 'replaced (new inode)';
    // Same size, time and inode (an access-time update, or a write that restored the time): compare content.
    let content: Buffer;
    try {
      content = readFileSync(path);
    } catch {
      return 'unreadable';
    }
    if (sha256(content) !== rec.sha256) {
      return `content changed (${rec.size} -> ${content.length} bytes, ${sniffMagic(content.subarray(0, 1024)) ?? 'no signature'})`;
    }
    if (rec.ino !== -1 && st.ino !== rec.ino) return 'replaced (same content, new inode)';
    return null;
  }

  /**
   * Watches each canary file directly. A tripwire fires on the first write, attribute change,
   * move or deletion; the canary is then verified by hash (an access-time update is no touch).
   */
  arm(): void {
    this.armed = true;
    for (const rec of this.records.values()) {
      if (this.watchers.has(rec.path) || rec.touched) continue;
      try {
        const w = watch(rec.path, { persistent: false }, () => {
          // Synchronously, in this very callback: the response must not wait for the thread pool.
          if (rec.touched) return;
          const change = this.verifySync(rec.path);
          if (change === null) return;
          rec.touched = change;
          this.disarm(rec.path);
          this.onTouch?.(rec.path, change);
        });
        w.on('error', () => this.disarm(rec.path));
        this.watchers.set(rec.path, w);
      } catch {
        // Vanished between planting and arming: the periodic refresh plants it again.
      }
    }
  }

  private disarm(path: string): void {
    const w = this.watchers.get(path);
    if (w) {
      w.close();
      this.watchers.delete(path);
    }
  }

  /** Stops all tripwires. */
  close(): void {
    this.armed = false;
    for (const p of [...this.watchers.keys()]) this.disarm(p);
  }

  /** Removes the canaries of every planted folder (uninstall), only those still intact. */
  async remove(): Promise<void> {
    this.close();
    for (const rec of this.list()) {
      if ((await this.verifyQuiet(rec.path)) === null) await rm(rec.path, { force: true });
      this.records.delete(rec.path);
    }
    await this.save().catch(() => undefined);
  }
}

/** Sets the platform's hidden attribute where it has one besides the dot (best effort). */
function hide(path: string): void {
  if (!basename(path).startsWith('.')) return;
  if (process.platform === 'win32') execFile('attrib', ['+h', path], () => undefined);
  else if (process.platform === 'darwin') execFile('chflags', ['hidden', path], () => undefined);
}
