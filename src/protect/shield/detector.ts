/**
 * The ransomware detector: per-file change signals from settled file events, scored over a sliding
 * window into alerts.
 *
 * In: `FileEvent`s (create/update/delete of absolute paths, from any watcher) through `feed`, the
 * protected roots (`prime` walks them once to learn each file's entropy and magic), and canary
 * touches. Out: `Signal`s per file and, when the window holds enough of them (default: 3 files
 * within 10 s) or any canary is touched, an `Alert` with the evidence, to the `onAlert` listeners.
 * Why: a file-notify watcher gives no PID and no "before" content, so the detector keeps a small
 * cache of what each file looked like (at `prime` or at first sight) and judges transitions, the
 * signals of reference §4.1:
 *   - entropy-rise: a sample region that was structured content (< 6 bits/byte) is now as random as
 *     ciphertext;
 *   - magic-lost: a file that began with a format signature no longer does;
 *   - type-mismatch: a file first seen with random content and no signature under an extension that
 *     promises one (a `.pdf` that is not a PDF, a `.txt` that is random);
 *   - new-extension / delete-after-encrypted: a new random file without a signature (that does not
 *     decode as the compressed format its extension claims) appears in a directory where a known
 *     document (structured or with a signature, there for at least 5 s) is deleted within the window — read, encrypt to a
 *     new name, delete the original; `new-extension` when its extension was not in the tree before;
 *   - note: a ransom note (name and text);
 *   - canary: a planted decoy changed, moved or deleted.
 * A new compressed file alone is never a signal (entropy cannot tell compression from encryption,
 * reference §4.2), nor is a rewrite that keeps a file's format (editors' atomic saves, builds).
 */
import { readdir, open } from 'node:fs/promises';
import { basename, dirname, extname, join, sep } from 'node:path';
import type { FileEvent } from '../types.js';
import {
  decodesAsCompressed, entropyRise, expectedMagic, extOf, isHigh, isLow, isTextExtension, lookAtFile,
  type FileLook,
} from './sniff.js';
import { isNote, matchNote, noteName } from './notes.js';

export type SignalKind =
  | 'canary' | 'entropy-rise' | 'magic-lost' | 'type-mismatch' | 'new-extension' | 'delete-after-encrypted' | 'note';

export interface Signal {
  kind: SignalKind;
  /** The file the signal is about (for pairs, the document that was lost). */
  path: string;
  /** When its event was observed (ms since the epoch). */
  time: number;
  /** Human-readable facts: entropies, magics, the paired file. */
  detail: string;
  /** Contribution to the score; a canary's is Infinity. */
  weight: number;
  /** The other file of a pair (the encrypted copy). */
  related?: string;
}

export interface Alert {
  /** When the threshold was crossed (ms since the epoch). */
  time: number;
  /** The protected root most signals fell under. */
  root: string;
  /** Why: `canary`, `note` or `rate` (N files in W ms). */
  reason: string;
  files: string[];
  signals: Signal[];
}

/** Answers whether a canary's current state differs from what was planted. */
export interface CanaryOracle {
  isCanary(path: string): boolean;
  /** Resolves a description of the change, or null when the canary is intact. */
  verify(path: string): Promise<string | null>;
}

export interface DetectorOptions {
  roots: string[];
  /** Sliding window (ms). Default 10,000. */
  windowMs?: number;
  /** Score that raises an alert: distinct files with signals (weights summed). Default 3. */
  threshold?: number;
  canaries?: CanaryOracle;
  /** Files whose look is remembered (oldest forgotten first). Default 200,000. */
  maxCache?: number;
  /** Paths never judged (the shield's own state and logs). */
  ignore?: (path: string) => boolean;
}

interface NewFile { path: string; dir: string; time: number; newExt: boolean; matched: boolean }
interface Deleted { path: string; dir: string; time: number; look: FileLook; matched: boolean }

/** A deleted file counts as a lost document only if it existed this long (ms). */
const MIN_AGE_MS = 5000;

/** Note-like files are small text; no need to read more. */
const NOTE_HEAD = 16384;

export class Detector {
  readonly roots: string[];
  readonly windowMs: number;
  readonly threshold: number;
  private readonly canaries: CanaryOracle | undefined;
  private readonly maxCache: number;
  private readonly ignore: (path: string) => boolean;
  private readonly cache = new Map<string, FileLook>();
  /** When each remembered file was first seen (0: at `prime`). */
  private readonly since = new Map<string, number>();
  private readonly knownExts = new Set<string>();
  private readonly extFirstSeen = new Map<string, number>();
  private newFiles: NewFile[] = [];
  private deleted: Deleted[] = [];
  private window: Signal[] = [];
  private readonly listeners: ((a: Alert) => void)[] = [];
  private readonly signalListeners: ((s: Signal) => void)[] = [];
  /** Signals seen since construction, by kind (for status and tests). */
  readonly counts = new Map<SignalKind, number>();

  constructor(opts: DetectorOptions) {
    this.roots = opts.roots.map((r) => r.replace(/[\\/]+$/, '') || sep);
    this.windowMs = opts.windowMs ?? 10_000;
    this.threshold = opts.threshold ?? 3;
    this.canaries = opts.canaries;
    this.maxCache = opts.maxCache ?? 200_000;
    this.ignore = opts.ignore ?? (() => false);
  }

  onAlert(fn: (a: Alert) => void): void {
    this.listeners.push(fn);
  }

  onSignal(fn: (s: Signal) => void): void {
    this.signalListeners.push(fn);
  }

  /** The protected root holding `path`, or undefined. */
  rootOf(path: string): string | undefined {
    let best: string | undefined;
    for (const r of this.roots) {
      if ((path === r || path.startsWith(r.endsWith(sep) ? r : r + sep)) && (!best || r.length > best.length)) best = r;
    }
    return best;
  }

  /** What the detector remembers of a file (for tests and status). */
  lookOf(path: string): FileLook | undefined {
    return this.cache.get(path);
  }

  /**
   * Walks `root` (not following symbolic links) and remembers the look of every regular file and
   * the extensions present. Resolves the number of files seen. Unreadable entries are skipped.
   */
  async prime(root: string, opts: { concurrency?: number } = {}): Promise<number> {
    const files: string[] = [];
    const stack = [root];
    while (stack.length > 0 && files.length < this.maxCache) {
      const dir = stack.pop()!;
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) stack.push(p);
        else if (e.isFile() && !this.ignore(p) && !this.canaries?.isCanary(p)) files.push(p);
      }
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < files.length) {
        const p = files[next++]!;
        const look = await lookAtFile(p);
        if (look) {
          this.remember(p, look);
          this.since.set(p, 0);
          this.knownExts.add(extOf(p));
        }
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, worker));
    return files.length;
  }

  /**
   * Judges one settled event. Resolves the signals it gave (possibly none). Never rejects: a file
   * that vanished or cannot be read gives no signal.
   */
  async feed(ev: FileEvent): Promise<Signal[]> {
    const root = this.rootOf(ev.path);
    if (!root || this.ignore(ev.path)) return [];
    if (this.canaries?.isCanary(ev.path)) {
      const change = await this.canaries.verify(ev.path).catch((e: unknown) => `unverifiable: ${String(e)}`);
      return change ? [this.canaryTouched(ev.path, change, ev.time)] : [];
    }
    const out: Signal[] = [];
    if (ev.type === 'delete') {
      const prev = this.cache.get(ev.path);
      const since = this.since.get(ev.path) ?? ev.time;
      this.cache.delete(ev.path);
      this.since.delete(ev.path);
      // A document that had been there a while (temporary files of atomic saves live milliseconds).
      if (prev && (isLow(prev) || prev.magic !== null) && ev.time - since >= MIN_AGE_MS) {
        const d: Deleted = { path: ev.path, dir: dirname(ev.path), time: ev.time, look: prev, matched: false };
        this.deleted.push(d);
        this.pair(out);
      }
      return this.emit(out);
    }
    const look = await lookAtFile(ev.path);
    if (!look) return [];
    const prev = this.cache.get(ev.path);
    const ext = extOf(ev.path);
    if (!this.knownExts.has(ext) && !this.extFirstSeen.has(ext)) this.extFirstSeen.set(ext, ev.time);

    // Notes: small structured text under a note-like name, or any small text we can cheaply read.
    if (look.size > 0 && look.size <= 256 * 1024 && (noteName(ev.path) || (isLow(look) && /^\.(txt|html?|hta|rtf)$/.test(ext)))) {
      const head = await readHead(ev.path, NOTE_HEAD);
      if (head) {
        const m = matchNote(ev.path, head);
        const verdict = isNote(m);
        if (verdict !== 'none') {
          out.push(this.signal('note', ev.path, ev.time,
            `${m.name ? 'note-like name; ' : ''}phrases: ${m.text.join(', ')}`,
            verdict === 'strong' ? this.threshold : 1));
        }
      }
    }

    const high = isHigh(look);
    if (prev) {
      const rise = entropyRise(prev, look);
      if (rise.length > 0) {
        out.push(this.signal('entropy-rise', ev.path, ev.time,
          `entropy ${fmt(prev.entropy)} -> ${fmt(look.entropy)} bits/byte (${rise.map((i) => ['head', 'middle', 'tail'][i] ?? i).join(', ')})`, 1));
      }
      if (prev.magic !== null && look.magic === null && look.size > 0) {
        out.push(this.signal('magic-lost', ev.path, ev.time,
          `was ${prev.magic}, now no known signature (entropy ${fmt(look.entropy)})`, 1));
      }
    } else if (high && look.magic === null) {
      const promised = expectedMagic(ev.path);
      if (promised || isTextExtension(ev.path)) {
        out.push(this.signal('type-mismatch', ev.path, ev.time,
          `${extname(ev.path)} file with random content and no signature (entropy ${fmt(look.entropy)})`, 1));
      } else if (ev.type === 'create' && !(await decodesAsCompressed(ev.path))) {
        this.newFiles.push({ path: ev.path, dir: dirname(ev.path), time: ev.time, newExt: this.isNewExt(ext, ev.time), matched: false });
        this.pair(out);
      }
    }
    this.remember(ev.path, look);
    if (!this.since.has(ev.path)) this.since.set(ev.path, ev.time);
    return this.emit(out);
  }

  /** A canary changed: an alert on its own. */
  canaryTouched(path: string, detail: string, time = Date.now()): Signal {
    const s = this.signal('canary', path, time, detail, Infinity);
    this.emit([s]);
    return s;
  }

  private isNewExt(ext: string, now: number): boolean {
    if (this.knownExts.has(ext)) return false;
    const first = this.extFirstSeen.get(ext);
    // An extension that has been around for an hour is part of the tree.
    if (first !== undefined && now - first > 3_600_000) {
      this.knownExts.add(ext);
      return false;
    }
    return true;
  }

  /** Matches new random files with deleted documents of the same directory, one to one. */
  private pair(out: Signal[]): void {
    const horizon = Math.max(...this.newFiles.map((n) => n.time), ...this.deleted.map((d) => d.time), 0) - this.windowMs;
    this.newFiles = this.newFiles.filter((n) => n.time >= horizon && !n.matched);
    this.deleted = this.deleted.filter((d) => d.time >= horizon && !d.matched);
    for (const n of this.newFiles) {
      if (n.matched) continue;
      const nb = basename(n.path);
      const candidates = this.deleted.filter((d) => !d.matched && d.dir === n.dir);
      if (candidates.length === 0) continue;
      const d = candidates.find((c) => nb.startsWith(basename(c.path)) || nb.startsWith(basename(c.path, extname(c.path)) + '.'))
        ?? candidates[0]!;
      n.matched = true;
      d.matched = true;
      const named = nb.startsWith(basename(d.path, extname(d.path)));
      out.push(this.signal(n.newExt ? 'new-extension' : 'delete-after-encrypted', d.path, Math.max(n.time, d.time),
        `${basename(d.path)} (${d.look.magic ?? `entropy ${fmt(d.look.entropy)}`}) deleted; random file ${nb} appeared` +
        `${named ? ' under its name' : ''}${n.newExt ? ` with a new extension ${extname(n.path) || '(none)'}` : ''}`, 1, n.path));
    }
  }

  private signal(kind: SignalKind, path: string, time: number, detail: string, weight: number, related?: string): Signal {
    const s: Signal = { kind, path, time, detail, weight };
    if (related !== undefined) s.related = related;
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    return s;
  }

  private remember(path: string, look: FileLook): void {
    this.cache.delete(path);
    this.cache.set(path, look);
    if (this.cache.size > this.maxCache) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) {
        this.cache.delete(oldest);
        this.since.delete(oldest);
      }
    }
  }

  /** Adds signals to the window and raises an alert when it scores enough. */
  private emit(signals: Signal[]): Signal[] {
    if (signals.length === 0) return signals;
    for (const s of signals) for (const fn of this.signalListeners) fn(s);
    this.window.push(...signals);
    const now = Math.max(...this.window.map((s) => s.time));
    this.window = this.window.filter((s) => s.time >= now - this.windowMs);
    const perFile = new Map<string, number>();
    for (const s of this.window) perFile.set(s.path, Math.max(perFile.get(s.path) ?? 0, s.weight));
    let score = 0;
    for (const w of perFile.values()) score += w;
    if (score >= this.threshold) {
      const inWindow = this.window;
      this.window = [];
      const canary = inWindow.find((s) => s.kind === 'canary');
      const note = inWindow.find((s) => s.kind === 'note' && s.weight >= this.threshold);
      const rootVotes = new Map<string, number>();
      for (const s of inWindow) {
        const r = this.rootOf(s.path);
        if (r) rootVotes.set(r, (rootVotes.get(r) ?? 0) + 1);
      }
      const root = [...rootVotes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? this.roots[0] ?? '';
      const alert: Alert = {
        time: now,
        root,
        reason: canary ? 'canary' : note ? 'note' : `rate: ${perFile.size} files in ${this.windowMs} ms`,
        files: [...perFile.keys()],
        signals: inWindow,
      };
      for (const fn of this.listeners) fn(alert);
    }
    return signals;
  }
}

function fmt(e: number[]): string {
  return e.map((h) => h.toFixed(2)).join('/');
}

async function readHead(path: string, n: number): Promise<Buffer | null> {
  try {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}
