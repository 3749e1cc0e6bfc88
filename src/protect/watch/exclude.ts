/**
 * What the real-time scanner leaves alone.
 *
 * In: exclusion settings (path prefixes, globs, extensions, a maximum size) and the directories
 * that are always excluded (the vault, the watcher's own state). Out: `excluded(path)` (by name:
 * decided before any disk access) and `tooLarge(size)`, each answering with the reason so that a
 * skipped file can be reported as skipped rather than silently passed. Why: exclusions are
 * security configuration; every one of them is explicit and explainable.
 */
import { relative, resolve, sep } from 'node:path';
import { ExclusionGlob } from './glob.js';

export interface ExclusionSettings {
  /** Absolute path prefixes (a directory excludes everything below it; matched on whole segments). */
  paths?: string[];
  /** Globs (see `ExclusionGlob`): `**\/*.tmp`, `node_modules/**`, `/abs/*.log`. */
  globs?: string[];
  /** File extensions, with or without the dot, case-insensitive (`tmp`, `.iso`). */
  extensions?: string[];
  /** Files larger than this many bytes are not scanned (0 or absent: no limit of our own). */
  maxSize?: number;
}

export class Exclusions {
  private readonly paths: string[];
  private readonly always: string[];
  private readonly globs: ExclusionGlob[];
  private readonly exts: Set<string>;
  readonly maxSize: number;

  /** `always`: directories never watched nor scanned (the vault, the watcher's state). */
  constructor(settings: ExclusionSettings = {}, always: string[] = []) {
    this.paths = (settings.paths ?? []).map((p) => stripSep(resolve(p)));
    this.always = always.map((p) => stripSep(resolve(p)));
    this.globs = (settings.globs ?? []).map((g) => new ExclusionGlob(g));
    this.exts = new Set((settings.extensions ?? []).map((e) => e.replace(/^\./, '').toLowerCase()).filter(Boolean));
    this.maxSize = settings.maxSize ?? 0;
  }

  /** The path prefixes never to watch at all (always-excluded directories and excluded paths). */
  ignoredDirs(): string[] {
    return [...this.always, ...this.paths];
  }

  /** Whether `path` is below (or is) one of the always-excluded directories. */
  isInternal(path: string): boolean {
    return this.always.some((p) => under(path, p));
  }

  /**
   * Why `path` (absolute, under `root`) is excluded by name, or undefined when it is not.
   * Reasons: `internal` (vault/state), `path PREFIX`, `glob PATTERN`, `extension EXT`.
   */
  excluded(path: string, root: string): string | undefined {
    if (this.isInternal(path)) return 'internal';
    for (const p of this.paths) if (under(path, p)) return `path ${p}`;
    if (this.exts.size > 0) {
      const base = path.slice(path.lastIndexOf(sep) + 1);
      const dot = base.lastIndexOf('.');
      if (dot > 0 && this.exts.has(base.slice(dot + 1).toLowerCase())) return `extension ${base.slice(dot + 1)}`;
    }
    if (this.globs.length > 0) {
      const rel = relative(root, path).split(sep).join('/');
      for (const g of this.globs) if (g.matches(path, rel)) return `glob ${g.pattern}`;
    }
    return undefined;
  }

  /** `MaxSize N` when a file of `size` bytes is over the limit. */
  tooLarge(size: number): string | undefined {
    return this.maxSize > 0 && size > this.maxSize ? `max-size ${this.maxSize}` : undefined;
  }
}

/** Whether `path` is `dir` or below it (whole segments). */
export function under(path: string, dir: string): boolean {
  if (dir === sep) return path.startsWith(sep);
  return path === dir || (path.startsWith(dir) && path[dir.length] === sep);
}

function stripSep(p: string): string {
  return p.length > 1 && p.endsWith(sep) ? p.slice(0, -1) : p;
}
