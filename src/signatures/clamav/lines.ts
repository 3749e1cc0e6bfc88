/**
 * Line reading and the rules common to every line-based ClamAV database (reference §1.0).
 *
 * In: the bytes of one database file. Out: its lines with their 1-based numbers, comments
 * (first byte `#`) dropped, trailing CR/LF removed. Blank lines are kept: they are malformed in
 * every format, and each parser reports them in its own words.
 */

import { createHash } from 'node:crypto';

/** The functionality level we claim, the same as ClamAV 1.4.6's (so FLEVEL filtering agrees). */
export const ENGINE_FLEVEL = 216;

export interface DbLine {
  /** The line without its terminator. */
  text: string;
  /** 1-based line number in the file. */
  line: number;
}

/**
 * Splits a database into lines. The text is decoded as Latin-1 so that every byte maps to one
 * character and columns are byte columns.
 */
export function dbLines(data: Uint8Array | string): DbLine[] {
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
  const out: DbLine[] = [];
  let start = 0;
  let line = 0;
  while (start < text.length) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = text.length;
    line++;
    let t = text.slice(start, nl);
    start = nl + 1;
    if (t.charCodeAt(0) === 0x23 /* # */) continue;
    // cli_chomp strips every trailing CR and LF
    let end = t.length;
    while (end > 0 && (t.charCodeAt(end - 1) === 0x0d || t.charCodeAt(end - 1) === 0x0a)) end--;
    if (end !== t.length) t = t.slice(0, end);
    out.push({ text: t, line });
  }
  return out;
}

/** Number of physical lines (comments included): ClamAV's "Empty database file" test is on this. */
export function countPhysicalLines(data: Uint8Array | string): number {
  const n = data.length;
  if (n === 0) return 0;
  let count = 0;
  if (typeof data === 'string') {
    for (let i = 0; i < n; i++) if (data.charCodeAt(i) === 0x0a) count++;
    if (data.charCodeAt(n - 1) !== 0x0a) count++;
  } else {
    for (let i = 0; i < n; i++) if (data[i] === 0x0a) count++;
    if (data[n - 1] !== 0x0a) count++;
  }
  return count;
}

/**
 * `cli_strtokenize`: split on `delim` into at most `max` fields. Like ClamAV, the last field ends
 * at the next delimiter too (text after it is dropped), so callers detect "too many fields" by
 * asking for one field more than they accept.
 */
export function tokenize(text: string, delim: string, max: number): string[] {
  const out: string[] = [];
  let start = 0;
  while (out.length < max) {
    const i = text.indexOf(delim, start);
    if (i < 0) {
      out.push(text.slice(start));
      break;
    }
    out.push(text.slice(start, i));
    start = i + 1;
  }
  return out;
}

/** C `atoi`: leading whitespace, optional sign, digits; 0 when there are none. */
export function atoi(text: string | undefined): number {
  if (text === undefined) return 0;
  const m = /^[ \t\n\r\f\v]*([+-]?\d+)/.exec(text);
  if (!m) return 0;
  const v = parseInt(m[1]!, 10);
  if (v > 2147483647) return 2147483647;
  if (v < -2147483648) return -2147483648;
  return v;
}

/** True when a signature with these optional `MinFL[:MaxFL]` fields loads on our engine. */
export function flevelAllows(minField: string | undefined, maxField: string | undefined): boolean {
  if (minField !== undefined && atoi(minField) > ENGINE_FLEVEL) return false;
  if (maxField !== undefined && atoi(maxField) < ENGINE_FLEVEL) return false;
  return true;
}

/** MD5 (hex) of a chomped database line, as `.ign2` entries with `:md5` compare it. */
export function lineMd5(text: string): string {
  return createHash('md5').update(Buffer.from(text, 'latin1')).digest('hex');
}

/**
 * ClamAV's reported name (`cli_virname`): the name ends at ` (Clam)` if that occurs; `.UNOFFICIAL`
 * is appended unless the signature came from a verified container or is a heuristic.
 */
export function reportedName(raw: string, official: boolean): string {
  const cut = raw.indexOf(' (Clam)');
  const name = cut >= 0 ? raw.slice(0, cut) : raw;
  if (official || name.startsWith('Heuristics.')) return name;
  return `${name}.UNOFFICIAL`;
}
