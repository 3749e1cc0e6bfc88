/**
 * Ignore lists: `.ign` / `.ign2` bytes → an `IgnoreSet` that later loaders ask, per signature,
 * whether to drop it (reference §1.5).
 *
 *   line := Name | Name:MD5 | DbName:Line:Name      (1, 2 or 3 fields; 4 or more is an error)
 *
 * Both extensions go through the same ClamAV loader (`cli_loadign`), so all three forms are
 * accepted in both. What ClamAV 1.4 actually does, reproduced here:
 * - Matching is exact and whole-name, on the name the loader passes (the raw name for hash,
 *   ndb and ldb lines; the name with `.UNOFFICIAL` for `.cdb`), after ClamAV's normalisation
 *   (`cli_signorm`): a trailing `.{…}` clause or one `.UNOFFICIAL` suffix is removed, and a name
 *   shorter than 3 characters is padded with spaces to 3 (the Boyer-Moore minimum). Entries are
 *   padded the same way, but never stripped.
 * - With an MD5, only the database line whose MD5 (of the line without its end-of-line bytes)
 *   equals it is dropped. Upper-case hex is accepted.
 * - The MD5 field is remembered across lines: `cli_loadign` keeps a pointer to the MD5 text of the
 *   last two-field line and reads it again for every later one- or three-field line, at the same
 *   offset of the line buffer. Usually that text is now part of another line and the load fails
 *   with "Malformed MD5 string"; when it still reads as 32 hex digits the entry silently gets that
 *   MD5. A two-field line whose name is shorter than 3 characters always fails, because padding
 *   the name overwrites the start of its MD5. We model the 8192-byte line buffer to get these
 *   cases exactly right, and say what happened in the diagnostic.
 * - When several entries have the same name, ClamAV's Boyer-Moore scan finds all of them and the
 *   one found last decides (its MD5, or none). Which one is last depends on where each entry was
 *   filed in the matcher's hash buckets, which we model too (`IgnoreSet.add`).
 * - An empty `.ign2` file is fine (unlike every signature database).
 *
 * Cost: one Map look-up per `ignores()` call, plus one MD5 only for a name that has an MD5 entry.
 */

import { createHash } from 'node:crypto';
import type { Diagnostic } from '../../core/diagnostics.js';
import { error, warning } from '../../core/diagnostics.js';
import type { IgnoreEntry } from './types.js';
import { DbLineReader, FGETS_BUFFER, latin1, latin1Bytes } from './hash.js';

/** The database line, as text, bytes, or a function producing either when it is needed. */
export type LineText = string | Uint8Array | (() => string | Uint8Array);

interface Slot {
  /** Every entry with this (padded) name, in load order. */
  entries: IgnoreEntry[];
  /** The entry ClamAV's scan finds last: the greatest bucket position, the oldest among equals. */
  effPrefix: number;
  effMd5: string | null;
}

const BM_MIN = 3;

/** Bucket of a 3-byte window in ClamAV's Boyer-Moore matcher (`HASH(a,b,c)`). */
function bmBucket(p: Uint8Array, i: number): number {
  return 211 * p[i]! + 37 * p[i + 1]! + p[i + 2]!;
}

/** A name as ClamAV's ignore matcher stores it: padded with spaces to 3 characters. */
function padName(name: string): string {
  return name.length < BM_MIN ? name.padEnd(BM_MIN, ' ') : name;
}

/** `cli_signorm`: the form of a signature name that is looked up in the ignore matcher. */
export function normalizeSigName(name: string): string {
  const nul = name.indexOf('\0');
  const s = nul >= 0 ? name.slice(0, nul) : name;
  let n = s.length;
  if (n > 3 && s.charCodeAt(n - 1) === 0x7d /* } */) {
    const dot = s.indexOf('.{');
    if (dot < 0) return s;
    n = dot;
  } else if (n > 11) {
    if (!s.endsWith('.UNOFFICIAL')) return s;
    n -= 11;
  } else if (n > 2) {
    return s;
  }
  return padName(s.slice(0, n));
}

function md5Hex(line: string | Uint8Array): string {
  const h = createHash('md5');
  if (typeof line === 'string') {
    const nul = line.indexOf('\0');
    h.update(Buffer.from(nul >= 0 ? line.slice(0, nul) : line, 'latin1'));
  } else {
    const nul = line.indexOf(0);
    h.update(nul >= 0 ? line.subarray(0, nul) : line);
  }
  return h.digest('hex');
}

/**
 * The ignore list of one engine: every `.ign`/`.ign2` file loaded into it, in load order.
 */
export class IgnoreSet {
  /** Which Boyer-Moore buckets already hold a pattern (ClamAV files a new one by this). */
  private readonly occupied = new Uint8Array(65536);
  private readonly slots = new Map<string, Slot>();
  private total = 0;

  /** Number of entries. */
  get size(): number {
    return this.total;
  }

  /**
   * Adds an entry as `cli_loadign` does: the name is padded to 3 characters and filed in the
   * first Boyer-Moore bucket, scanning its 3-byte windows from the left, that is still empty
   * (or the first window's bucket if none is). `md5` is 32 hex digits or undefined.
   */
  add(name: string, md5?: string): void {
    const pattern = padName(name);
    const bytes = latin1Bytes(pattern);
    let prefix = 0;
    for (let i = 0; i + BM_MIN <= bytes.length; i++) {
      if (!this.occupied[bmBucket(bytes, i)]) {
        prefix = i;
        break;
      }
    }
    this.occupied[bmBucket(bytes, prefix)] = 1;
    const entry: IgnoreEntry = md5 === undefined ? { name: pattern } : { name: pattern, lineMd5: md5.toLowerCase() };
    const slot = this.slots.get(pattern);
    if (!slot) {
      this.slots.set(pattern, { entries: [entry], effPrefix: prefix, effMd5: entry.lineMd5 ?? null });
    } else {
      slot.entries.push(entry);
      // The scan meets entries in order of bucket position; within one bucket the newest comes
      // first. The last one met decides, so a later entry wins only from a later position.
      if (prefix > slot.effPrefix) {
        slot.effPrefix = prefix;
        slot.effMd5 = entry.lineMd5 ?? null;
      }
    }
    this.total++;
  }

  /**
   * `cli_chkign`: true when a signature with this name, on this database line, is to be dropped.
   * `name` is what the loader passes (see the file comment); `line` is the line without its
   * end-of-line bytes, only read when the deciding entry has an MD5.
   */
  ignores(name: string, line: LineText): boolean {
    if (this.total === 0) return false;
    const slot = this.slots.get(normalizeSigName(name));
    if (!slot) return false;
    if (slot.effMd5 === null) return true;
    const text = typeof line === 'function' ? line() : line;
    return md5Hex(text) === slot.effMd5;
  }

  /** All entries in load order (names as stored, padded). */
  entries(): IgnoreEntry[] {
    const out: IgnoreEntry[] = [];
    for (const slot of this.slots.values()) out.push(...slot.entries);
    return out;
  }
}

export interface IgnContext {
  file: string;
  /** Add to this set (several ignore files share one list); a new set otherwise. */
  into?: IgnoreSet;
}

const IGN_MAX_FIELDS = 3;

function isHex32(b: Uint8Array, s: number, e: number): number {
  // Returns -1 when b[s..e) is 32 hex digits, else the offset of the first offending byte
  // (or e when the length is wrong and every byte is hex).
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    const hex = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
    if (!hex) return i;
  }
  return e - s === 32 ? -1 : e;
}

function cstrlen(b: Uint8Array, at: number): number {
  const z = b.indexOf(0, at);
  return (z < 0 ? b.length : z) - at;
}

/**
 * Parses one `.ign`/`.ign2` file into `ctx.into` (or a new set). Every bad line is reported; the
 * load fails, as in ClamAV, when any diagnostic is an error. Entries of bad lines are not added.
 */
export function parseIgn(data: Uint8Array, ctx: IgnContext): { set: IgnoreSet; count: number; diagnostics: Diagnostic[] } {
  const set = ctx.into ?? new IgnoreSet();
  const diags: Diagnostic[] = [];
  const r = new DbLineReader(data);
  // The C line buffer. Bytes past the current line keep what earlier lines left there, which
  // is what the remembered MD5 pointer reads.
  const buf = new Uint8Array(FGETS_BUFFER + 2);
  let md5At = -1; // offset of the remembered MD5 text, -1 before any two-field line
  let md5Line = 0; // physical line that set it
  let count = 0;

  const at = (col: number, len: number) => ({ file: ctx.file, line: r.line, column: r.column + col, length: len });
  const extra = (help?: string): Partial<Diagnostic> => {
    const x: Partial<Diagnostic> = { sourceLine: r.physicalLineText() };
    if (help) x.help = help;
    return x;
  };

  while (r.next()) {
    // fgets: the segment's bytes, then a NUL
    const segLen = r.segEnd - r.start;
    buf.set(data.subarray(r.start, r.segEnd), 0);
    buf[segLen] = 0;
    if (r.splitStarts) {
      diags.push(warning('clamav.ign.long-line', `line is longer than ${FGETS_BUFFER - 1} bytes: ClamAV reads the rest of it as another line`, at(FGETS_BUFFER - 1, 0), extra()));
    }
    if (buf[0] === 0x23) continue;
    // cli_chomp
    let len = cstrlen(buf, 0);
    while (len > 0 && (buf[len - 1] === 0x0a || buf[len - 1] === 0x0d)) buf[--len] = 0;
    if (r.nulAt >= 0) {
      diags.push(warning('clamav.ign.nul-byte', 'NUL byte in line: ClamAV ignores everything from here to the end of the line', at(r.nulAt - r.start, 1), extra()));
    }
    // cli_strtokenize(buf, ':', 4), writing NULs over the separators
    const tok: number[] = [];
    let p = 0;
    while (tok.length < IGN_MAX_FIELDS + 1) {
      tok.push(p);
      let q = p;
      while (q < len && buf[q] !== 0x3a) q++;
      if (q >= len) break;
      buf[q] = 0;
      p = q + 1;
    }
    if (tok.length > IGN_MAX_FIELDS) {
      diags.push(error('clamav.ign.too-many-fields', `too many fields: expected Name, Name:MD5 or DbName:Line:Name, found ${tok.length === IGN_MAX_FIELDS + 1 && cstrlen(buf, tok[3]!) + tok[3]! < len ? 'more than 4' : tok.length}`, at(tok[3]! - 1, len - tok[3]! + 1), extra()));
      continue;
    }
    let nameAt: number;
    let twoField = false;
    if (tok.length === 1) nameAt = 0;
    else if (tok.length === 2) {
      nameAt = tok[0]!;
      md5At = tok[1]!;
      md5Line = r.line;
      twoField = true;
    } else nameAt = tok[2]!;
    let nameLen = cstrlen(buf, nameAt);
    if (nameLen === 0) {
      diags.push(error('clamav.ign.empty-name', 'no signature name', at(nameAt, 0), extra(len === 0 ? 'blank lines are not allowed; delete the line or start it with #' : undefined)));
      continue;
    }
    const shortName = nameLen < BM_MIN;
    if (shortName) {
      // ClamAV pads in place: the name moves to the start of the buffer and byte 3 becomes NUL,
      // which is where a two-field line's MD5 begins (or its second character).
      if (nameAt !== 0) buf.copyWithin(0, nameAt, nameAt + nameLen);
      nameAt = 0;
      buf[BM_MIN] = 0;
      for (let i = nameLen; i < BM_MIN; i++) buf[i] = 0x20;
      nameLen = BM_MIN;
    }
    const name = latin1(buf, nameAt, nameAt + nameLen);
    let md5: string | undefined;
    if (md5At >= 0) {
      const mlen = cstrlen(buf, md5At);
      const bad = isHex32(buf, md5At, md5At + mlen);
      const text = latin1(buf, md5At, md5At + mlen);
      if (bad >= 0) {
        let msg: string;
        let col: number;
        let help: string | undefined;
        if (!twoField) {
          msg = `ClamAV 1.4 reads the MD5 field of line ${md5Line} again for this line, and finds '${text}' there, which is not 32 hex digits`;
          col = nameAt;
          help = 'cli_loadign remembers the MD5 of the last Name:MD5 line; put lines without an MD5 before the first line with one, or give them an MD5 too';
        } else if (shortName) {
          msg = 'a name shorter than 3 characters cannot have an MD5 in ClamAV 1.4: padding the name overwrites the start of the MD5 field';
          col = tok[1]!;
          help = 'ignore the name without an MD5';
        } else {
          msg = bad < md5At + mlen
            ? `invalid hex digit '${String.fromCharCode(buf[bad]!)}' in MD5; expected 32 hex digits (the MD5 of the database line)`
            : `MD5 has ${mlen} characters; expected 32 hex digits (the MD5 of the database line)`;
          col = bad < md5At + mlen ? bad : md5At;
        }
        diags.push(error('clamav.ign.bad-md5', msg, at(col, twoField && !shortName ? Math.max(1, bad < md5At + mlen ? 1 : mlen) : nameLen), extra(help)));
        continue;
      }
      md5 = text;
      if (!twoField) {
        diags.push(warning('clamav.ign.inherited-md5', `ClamAV 1.4 gives this entry the MD5 ${text.toLowerCase()} left over from line ${md5Line}: it ignores '${name}' only on the database line with that MD5`, at(nameAt, nameLen), extra('put lines without an MD5 before the first line with one')));
      }
    }
    set.add(name, md5);
    count++;
  }
  return { set, count, diagnostics: diags };
}
