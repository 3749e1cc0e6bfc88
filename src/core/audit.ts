/**
 * The audit log: an append-only, hash-chained NDJSON file of what vigil did (detections, quarantine
 * actions, updates, setting changes, daemon start and stop).
 *
 * In: events (`kind` and a JSON object of details). Out: one line per event,
 *   {"seq":N,"time":"ISO 8601","kind":"…","data":{…},"prev":"<SHA-256 of the previous line>"}
 * (the first line's `prev` is 64 zeros), and `verifyAuditLog(file)`, which names the first line that
 * was edited, removed, inserted or moved. A head file beside the log (`<log>.head`: the last line's
 * number and hash, replaced atomically after each append) also shows lines cut from the end.
 * Why: a user must be able to check afterwards what their antivirus did, and an intruder who edits
 * the record must leave a trace. The chain proves order and integrity; it does not stop someone who
 * can rewrite the whole file and its head (that needs a copy kept elsewhere, or a signed head).
 * Appends from several processes (the daemon, the CLI) are serialised by a lock file.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeFileSync, writeSync, constants, mkdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';

export interface AuditEntry {
  seq: number;
  time: string;
  kind: string;
  data: Record<string, unknown>;
  prev: string;
}

const ZERO = '0'.repeat(64);
const LOCK_STALE_MS = 10_000;

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** Sleeps synchronously (the lock wait): no busy loop. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class AuditLog {
  constructor(readonly file: string) {}

  get headFile(): string { return `${this.file}.head`; }

  /** Appends one event; returns the entry written. Throws when the log cannot be written. */
  append(kind: string, data: Record<string, unknown>, now = new Date()): AuditEntry {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const lock = `${this.file}.lock`;
    this.acquire(lock);
    try {
      const last = lastLine(this.file);
      let seq = 1;
      let prev = ZERO;
      if (last !== undefined) {
        const parsed = parseEntry(last);
        seq = (parsed?.seq ?? 0) + 1;
        prev = sha256(last);
      }
      const entry: AuditEntry = { seq, time: now.toISOString(), kind, data, prev };
      const line = JSON.stringify(entry);
      const fd = openSync(this.file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
      try {
        const buf = Buffer.from(`${line}\n`, 'utf8');
        for (let at = 0; at < buf.length;) at += writeSync(fd, buf, at);
      } finally {
        closeSync(fd);
      }
      const tmp = `${this.headFile}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify({ seq, hash: sha256(line) })}\n`, { mode: 0o600 });
      renameSync(tmp, this.headFile);
      return entry;
    } finally {
      try { unlinkSync(lock); } catch { /* already gone */ }
    }
  }

  private acquire(lock: string): void {
    for (let tries = 0; ; tries++) {
      try {
        closeSync(openSync(lock, 'wx', 0o600));
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        try {
          if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) unlinkSync(lock);
        } catch { /* released meanwhile */ }
        if (tries > 2000) throw new Error(`audit log: ${lock} stays locked`);
        pause(5);
      }
    }
  }
}

/** The last complete line of a file (its final newline excluded), or undefined for an empty file. */
function lastLine(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return undefined;
    // Read backwards in growing blocks until a line start is found.
    for (let block = 64 * 1024; ; block *= 2) {
      const start = Math.max(0, size - block);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      let end = buf.length;
      while (end > 0 && buf[end - 1] === 0x0a) end--;
      const nl = buf.lastIndexOf(0x0a, end - 1);
      if (nl >= 0 || start === 0) return buf.subarray(nl + 1, end).toString('utf8');
    }
  } finally {
    closeSync(fd);
  }
}

function parseEntry(line: string): AuditEntry | undefined {
  try {
    const v = JSON.parse(line) as Partial<AuditEntry>;
    if (typeof v.seq !== 'number' || typeof v.time !== 'string' || typeof v.kind !== 'string' || typeof v.prev !== 'string' || typeof v.data !== 'object' || v.data === null) return undefined;
    return v as AuditEntry;
  } catch {
    return undefined;
  }
}

export interface AuditProblem {
  /** 1-based line number in the file (0: the file or its head as a whole). */
  line: number;
  message: string;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  problems: AuditProblem[];
}

/**
 * Checks the chain: every line parses, numbers follow from 1 without a gap, each line's `prev` is
 * the hash of the line before, and the head file names the last line. Lists every problem found
 * (the first one is where the tampering starts).
 */
export function verifyAuditLog(file: string): AuditVerification {
  const problems: AuditProblem[] = [];
  if (!existsSync(file)) return { ok: false, entries: 0, problems: [{ line: 0, message: `${file}: no audit log` }] };
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else if (lines.length > 0) problems.push({ line: lines.length, message: 'the last line is incomplete (no newline): cut or still being written' });
  let prevLine: string | undefined;
  let expectSeq = 1;
  lines.forEach((line, i) => {
    const n = i + 1;
    const e = parseEntry(line);
    if (!e) {
      problems.push({ line: n, message: 'not an audit entry (edited or damaged)' });
    } else {
      if (e.seq !== expectSeq) problems.push({ line: n, message: `entry number ${e.seq} where ${expectSeq} was expected (a line was removed, inserted or moved)` });
      const want = prevLine === undefined ? ZERO : sha256(prevLine);
      if (e.prev !== want) problems.push({ line: n, message: n === 1 ? 'the first entry does not start the chain (lines were removed before it)' : `does not chain to line ${n - 1} (that line was edited, or lines were removed or moved)` });
      expectSeq = e.seq + 1;
    }
    prevLine = line;
  });
  const headFile = `${file}.head`;
  if (existsSync(headFile)) {
    try {
      const head = JSON.parse(readFileSync(headFile, 'utf8')) as { seq?: unknown; hash?: unknown };
      const last = lines[lines.length - 1];
      const lastEntry = last !== undefined ? parseEntry(last) : undefined;
      if (head.seq !== (lastEntry?.seq ?? 0) || head.hash !== (last !== undefined ? sha256(last) : undefined)) {
        problems.push({ line: lines.length, message: `the log ends at entry ${lastEntry?.seq ?? 0} but its head names entry ${String(head.seq)}: lines were cut from the end or the last one was edited` });
      }
    } catch {
      problems.push({ line: 0, message: `${headFile}: damaged` });
    }
  } else if (lines.length > 0) {
    problems.push({ line: 0, message: `${headFile}: missing, so lines cut from the end cannot be told` });
  }
  return { ok: problems.length === 0, entries: lines.length, problems };
}
