/**
 * clamd's log file: what `LogFile` receives, in clamd's line formats.
 *
 * In: the clamd.conf keys LogFile (an absolute path; the file is opened for appending, created
 * with mode 0640, never through a symlink), LogTime (each line prefixed with the local time as
 * `ctime` prints it, then ` -> `), LogClean (clean objects are logged too), LogFileMaxSize and
 * LogRotate: a line written once the file is over the size first rotates it, as clamd 1.4 does
 * (renamed to its name with the last four characters replaced by `-YYYYMMDD_HHMMSS.log`, then a
 * new file; without LogRotate the old file first gets clamd's notice that rotation is forced).
 * Out: `found(name, virus)` → `name: virus FOUND`, `clean(name)` → `name: OK` (with LogClean),
 * `error(name, reason)` → `name: reason ERROR`, `info`/`warning` for the daemon's own messages
 * (`WARNING: ` prefix as clamd's). Scan lines name a SCAN's object by its path as replied and a
 * stream as `instream(local)` / `instream(IP@port)`, as clamd does.
 * Why: mail gateways and operators read clamd's log; the same lines keep their tooling working.
 * Writes are appends from the main thread, one `write` per line, so lines never interleave.
 */
import { closeSync, constants, fstatSync, openSync, renameSync, writeSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { ctime } from './engine-service.js';

export interface ClamdLogOptions {
  file: string;
  time?: boolean;
  clean?: boolean;
  /** Bytes; 0 or undefined: unlimited. */
  maxSize?: number;
  rotate?: boolean;
  /** The clock (seconds since the epoch), for tests. */
  now?: () => number;
}

export class ClamdLog {
  private fd: number | undefined;
  private size: number;
  private rotate: boolean;

  /** Throws with the reason when the file cannot be opened (clamd refuses to start then). */
  constructor(private readonly opts: ClamdLogOptions) {
    if (!isAbsolute(opts.file)) throw new Error(`LogFile requires an absolute path, got ${opts.file}`);
    this.rotate = opts.rotate ?? false;
    this.fd = ClamdLog.open(opts.file);
    this.size = fstatSync(this.fd).size;
  }

  private static open(file: string): number {
    return openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW, 0o640);
  }

  found(name: string, virus: string): void { this.line(`${name}: ${virus} FOUND`); }
  clean(name: string): void { if (this.opts.clean) this.line(`${name}: OK`); }
  error(name: string, reason: string): void { this.line(`${name}: ${reason} ERROR`); }
  info(message: string): void { this.line(message); }
  warning(message: string): void { this.line(`WARNING: ${message}`); }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private line(text: string): void {
    if (this.fd === undefined) return;
    const now = this.opts.now?.() ?? Math.floor(Date.now() / 1000);
    const max = this.opts.maxSize ?? 0;
    try {
      if (max > 0 && this.size > max) this.rotateFile(now, max);
      this.size += writeSync(this.fd, `${this.opts.time ? `${ctime(now)} -> ` : ''}${text}\n`);
    } catch {
      // A log that cannot be written never stops scanning.
    }
  }

  private rotateFile(now: number, max: number): void {
    const fd = this.fd!;
    if (!this.rotate) {
      writeSync(fd, `Log size = ${this.size}, max = ${max}\nWARNING: Log size limit met but log file rotation turned off. Forcing log file rotation anyways.\n`);
      this.rotate = true;
    }
    const d = new Date(now * 1000);
    const p2 = (n: number): string => String(n).padStart(2, '0');
    const stamp = `-${d.getFullYear()}${p2(d.getMonth() + 1)}${p2(d.getDate())}_${p2(d.getHours())}${p2(d.getMinutes())}${p2(d.getSeconds())}.log`;
    const file = this.opts.file;
    closeSync(fd);
    this.fd = undefined;
    try {
      renameSync(file, file.slice(0, Math.max(0, file.length - 4)) + stamp);
    } finally {
      this.fd = ClamdLog.open(file);
      this.size = fstatSync(this.fd).size;
    }
  }
}
