/**
 * Decrypting encrypted files with a recovered key, proving each result, writing only new files.
 *
 * In: encrypted file paths, a key, the ransomware's extension (optional), an output directory
 * (optional), whether to keep results that could not be verified. Out: per file, a report:
 * verified (structure check passed, written), unverified (no check applies; written only when the
 * key verified some other file in the run and failed none, or when asked), wrong key (structure
 * check failed, or passed while most checkable files of the run failed: nothing written unless
 * asked), keystream too short (only the first N bytes recoverable: nothing
 * written unless asked), error (unreadable, too large, no free output name).
 * Why: decryption is where data could be lost: the encrypted file is only read, results go to new
 * names (the encrypted name minus the extension, else `+ .decrypted`), `writeNewFile` fails rather
 * than replace anything, and a wrong key is caught by structure before a byte is written.
 */
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { writeNewFile } from '../../core/newfile.js';
import { applyKey, type RansomKey } from './keystream.js';
import { checkPrefix, checkStructure, typeFromName, type FileType } from './headers.js';

/** Files larger than this are refused (read whole into memory). */
export const MAX_FILE_BYTES = 1 << 30;

export type FileStatus = 'verified' | 'unverified' | 'wrong-key' | 'keystream-too-short' | 'error';

export interface FileReport {
  file: string;
  status: FileStatus;
  /** The type checked (from the magic, else the name), or `unknown`. */
  type: FileType | 'unknown';
  detail: string;
  size: number;
  /** Bytes decrypted from the start (all of them unless the keystream is too short). */
  recoverable: number;
  /** Where the result was written, if it was. */
  written?: string;
}

export interface DecryptOptions {
  /** The ransomware's extension, stripped from the encrypted name. */
  suffix?: string;
  outDir?: string;
  keepUnverified?: boolean;
}

function exists(path: string): boolean {
  try { lstatSync(path); return true; } catch { return false; }
}

/**
 * The original name an encrypted file had: minus the ransomware's extension when one is known
 * (undefined when the name does not end with it), else minus its last extension when an
 * extension remains (`photo.png.locked` → `photo.png`).
 */
export function originalName(encrypted: string, suffix?: string): string | undefined {
  const base = basename(encrypted);
  if (suffix) return base.length > suffix.length && base.toLowerCase().endsWith(suffix.toLowerCase()) ? base.slice(0, base.length - suffix.length) : undefined;
  const m = /^(.+\.[A-Za-z0-9]{1,8})\.[^.]+$/.exec(base);
  return m ? m[1] : undefined;
}

/** Where the decryption of `file` goes: a name nothing has, or undefined. */
export function targetPath(file: string, opts: DecryptOptions): string | undefined {
  const dir = opts.outDir ?? dirname(file);
  const name = originalName(file, opts.suffix);
  const first = name !== undefined ? join(dir, name) : undefined;
  const self = resolve(file);
  if (first !== undefined && resolve(first) !== self && !exists(first)) return first;
  const second = join(dir, `${name ?? basename(file)}.decrypted`);
  if (resolve(second) !== self && !exists(second)) return second;
  return undefined;
}

function readBounded(file: string): Uint8Array {
  const st = statSync(file);
  if (!st.isFile()) throw new Error('not a regular file');
  if (st.size > MAX_FILE_BYTES) throw new Error(`${st.size} bytes: larger than the ${MAX_FILE_BYTES}-byte limit`);
  return readFileSync(file);
}

interface Outcome { report: FileReport; plain?: Uint8Array }

function decryptOne(file: string, key: RansomKey, opts: DecryptOptions): Outcome {
  let data: Uint8Array;
  try { data = readBounded(file); } catch (e) {
    return { report: { file, status: 'error', type: 'unknown', detail: `cannot read: ${(e as Error).message}`, size: 0, recoverable: 0 } };
  }
  const name = originalName(file, opts.suffix) ?? basename(file);
  const expected = typeFromName(name);
  const applied = applyKey(key, data);
  const base = { file, size: data.length, recoverable: applied.covered };
  if (!applied.complete) {
    const c = checkPrefix(applied.plain.subarray(0, applied.covered), expected, data.length);
    if (c.ok === false) return { report: { ...base, status: 'wrong-key', type: c.type, detail: `the decrypted first ${applied.covered} bytes fail the check: ${c.detail}` } };
    return {
      report: { ...base, status: 'keystream-too-short', type: c.type, detail: `only the first ${applied.covered} of ${data.length} bytes are recoverable with this keystream (${c.detail})` },
      plain: applied.plain,
    };
  }
  const c = checkStructure(applied.plain, expected);
  if (c.ok === true) return { report: { ...base, status: 'verified', type: c.type, detail: c.detail }, plain: applied.plain };
  if (c.ok === false) return { report: { ...base, status: 'wrong-key', type: c.type, detail: `structure check fails (wrong key, or a file damaged before encryption): ${c.detail}` }, plain: applied.plain };
  return { report: { ...base, status: 'unverified', type: 'unknown', detail: c.detail }, plain: applied.plain };
}

function write(report: FileReport, plain: Uint8Array, opts: DecryptOptions): void {
  const target = targetPath(report.file, opts);
  if (target === undefined) {
    report.detail += '; not written: both output names exist';
    if (report.status === 'verified' || report.status === 'unverified') report.status = 'error';
    return;
  }
  try {
    writeNewFile(target, plain);
    report.written = target;
  } catch (e) {
    report.detail += `; not written: ${target}: ${(e as Error).message}`;
    report.status = 'error';
  }
}

/**
 * Decrypts every file (each once, however often it is named), in two passes. The first decrypts and checks each file and writes nothing.
 * Then the run is judged: when more checkable files fail their structure check than pass it, the
 * key is wrong for this run (a key with one wrong byte still lets some formats, like plain ASCII
 * text, pass) and nothing is written. Otherwise the second pass writes the verified results, and
 * the results no check applies to when the key verified some file and failed none.
 * `keepUnverified` writes everything decrypted.
 */
export function decryptFiles(files: string[], key: RansomKey, opts: DecryptOptions = {}): FileReport[] {
  const seen = new Set<string>();
  const unique = files.filter((f) => { const r = resolve(f); if (seen.has(r)) return false; seen.add(r); return true; });
  const reports = unique.map((file) => decryptOne(file, key, opts).report);
  const verified = reports.filter((r) => r.status === 'verified').length;
  const failed = reports.filter((r) => r.status === 'wrong-key').length;
  const keyWrong = failed > verified;
  for (const report of reports) {
    const s = report.status;
    if (s === 'error') continue;
    let why: string | undefined;
    if (!opts.keepUnverified) {
      if (keyWrong) why = `the key failed the structure check of ${failed} of ${failed + verified} checkable files: judged wrong for this run`;
      else if (s === 'wrong-key' || s === 'keystream-too-short') why = '--keep-unverified writes it';
      else if (s === 'unverified' && verified === 0) why = 'the key verified no file in this run (--keep-unverified writes it)';
      else if (s === 'unverified' && failed > 0) why = `the key failed the structure check of ${failed} other file(s), so an unchecked result is not trusted (--keep-unverified writes it)`;
    }
    if (why !== undefined) {
      if (keyWrong && s === 'verified') report.status = 'wrong-key';
      report.detail += `; not written: ${why}`;
      continue;
    }
    const again = decryptOne(report.file, key, opts);
    if (again.plain && again.report.status === s) {
      write(report, again.plain, opts);
      if (report.written && s === 'keystream-too-short') report.detail += `; written with the bytes after ${report.recoverable} still encrypted`;
    }
    else { report.status = 'error'; report.detail += '; not written: the file changed during decryption'; }
  }
  return reports;
}

export interface Summary { verified: number; unverified: number; wrongKey: number; tooShort: number; errors: number; written: number }

export function summarise(reports: FileReport[]): Summary {
  const s: Summary = { verified: 0, unverified: 0, wrongKey: 0, tooShort: 0, errors: 0, written: 0 };
  for (const r of reports) {
    if (r.status === 'verified') s.verified++;
    else if (r.status === 'unverified') s.unverified++;
    else if (r.status === 'wrong-key') s.wrongKey++;
    else if (r.status === 'keystream-too-short') s.tooShort++;
    else s.errors++;
    if (r.written) s.written++;
  }
  return s;
}

/** 0: every file verified; 1: some not; 2: errors. */
export function exitCode(reports: FileReport[]): number {
  const s = summarise(reports);
  if (s.errors > 0) return 2;
  return s.verified === reports.length ? 0 : 1;
}
