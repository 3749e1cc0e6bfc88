/**
 * `.ndb`/`.ndu`/`.sdb` extended body signatures → NdbSig[] (reference §1.2; ClamAV `cli_loadndb`).
 *
 * line := Name ":" Target ":" Offset ":" HexSignature [ ":" MinFL [ ":" MaxFL ] ]
 *
 * Policy as ClamAV's: a malformed line fails the whole file; FLEVEL and target filters skip lines
 * before their pattern is parsed (so out-of-range lines may contain anything); phishing names are
 * skipped unless phishing signatures are on; ignore lists apply to the raw name. Unlike ClamAV we
 * report every bad line, each with its column.
 */
import type { Diagnostic } from '../../core/diagnostics.js';
import { parseBodyPattern, parseOffset, usesBoyerMoore } from './bodysig.js';
import { countPhysicalLines, dbLines, tokenize } from './lines.js';
import type { NdbSig } from './types.js';

export interface IgnoreCheck { ignores(rawName: string, lineText: string): boolean }

export interface NdbContext {
  file: string;
  ignore?: IgnoreCheck;
  /** Load `HTML.Phishing*` / `Email.Phishing*` lines (ClamAV: only with phishing signatures on). */
  phishing?: boolean;
}

export interface NdbResult {
  sigs: NdbSig[];
  diagnostics: Diagnostic[];
}

const NUMBER = /^\d*$/; // cli_isnumber: the empty string counts as a number

export function parseNdb(data: Uint8Array | string, ctx: NdbContext): NdbResult {
  const sigs: NdbSig[] = [];
  const diagnostics: Diagnostic[] = [];
  if (countPhysicalLines(data) === 0) {
    diagnostics.push({ code: 'clamav.db.empty', severity: 'error', message: 'empty database file', location: { file: ctx.file, line: 0, column: 0 } });
    return { sigs, diagnostics };
  }
  for (const { text, line } of dbLines(data)) {
    const at = (column: number, length: number) => ({ file: ctx.file, line, column, length });
    const err = (code: string, message: string, column: number, length: number, help?: string) =>
      diagnostics.push({ code, severity: 'error', message, location: at(column, length), sourceLine: text, ...(help ? { help } : {}) });
    if (!ctx.phishing && (text.startsWith('HTML.Phishing') || text.startsWith('Email.Phishing'))) continue;
    if (text.length >= 8192) {
      err('clamav.db.line-too-long', 'line longer than 8191 bytes', 1, 1);
      continue;
    }
    const f = tokenize(text, ':', 7);
    if (f.length < 4 || f.length > 6) {
      err('clamav.ndb.field-count', `expected 4 to 6 fields (Name:Target:Offset:HexSignature[:MinFL[:MaxFL]]), found ${f.length}${text === '' ? ' (blank line)' : ''}`, 1, Math.max(1, text.length));
      continue;
    }
    const [name, targetText, offsetText, hex, minFl, maxFl] = f as [string, string, string, string, string?, string?];
    const col = [1];
    for (let i = 0; i < f.length - 1; i++) col.push(col[i]! + f[i]!.length + 1);
    if (ctx.ignore?.ignores(name, text)) continue;
    if (minFl !== undefined) {
      if (!NUMBER.test(minFl)) { err('clamav.ndb.bad-flevel', `minimum functionality level "${minFl}" is not a number`, col[4]!, minFl.length || 1); continue; }
      if (Number(minFl || '0') > 216) continue;
      if (maxFl !== undefined) {
        if (!NUMBER.test(maxFl)) { err('clamav.ndb.bad-flevel', `maximum functionality level "${maxFl}" is not a number`, col[5]!, maxFl.length || 1); continue; }
        if (Number(maxFl || '0') < 216) continue;
      }
    }
    if (targetText !== '*' && !NUMBER.test(targetText)) {
      err('clamav.ndb.bad-target', `target type "${targetText}" is not a number or *`, col[1]!, targetText.length || 1);
      continue;
    }
    const target = targetText === '*' || targetText === '' ? 0 : Number(targetText);
    if (target >= 15) continue; // unsupported target types are skipped, as ClamAV does
    const bctx = { file: ctx.file, line, column: col[3]!, sourceLine: text };
    const off = parseOffset(offsetText, target, { ...bctx, column: col[2]! });
    const pat = parseBodyPattern(hex, bctx);
    diagnostics.push(...off.diagnostics, ...pat.diagnostics);
    if (!off.offset || !pat.pattern) continue;
    if (usesBoyerMoore(hex, offsetText, target) && hex.length < 6) {
      err('clamav.ndb.too-short', `signature for ${name} is too short: a plain signature needs at least 3 bytes`, col[3]!, hex.length || 1);
      continue;
    }
    sigs.push({ name, target, offset: off.offset, pattern: pat.pattern, origin: { db: ctx.file, line } });
  }
  return { sigs, diagnostics };
}
