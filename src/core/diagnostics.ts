/**
 * Diagnostics: what parsers return instead of throwing.
 *
 * In: a parser's findings about user input (a signature line, a rule file, a container).
 * Out: plain data with a stable code, a message and a location; one renderer per audience
 * (clamscan-style `LibClamAV Error:` lines, yara-style `file(line): error:`, or our own
 * rustc-style text with the offending column marked).
 *
 * Parsers never throw on bad input: they collect every diagnostic so that a broken file reports
 * all of its errors at once, and the caller decides the policy (ClamAV fails the whole load).
 */

export type Severity = 'error' | 'warning' | 'note';

export interface Location {
  /** Path of the file (or `name` of a member inside a container, e.g. `test-6.cvd:test.ndb`). */
  file: string;
  /** 1-based line number; 0 when the diagnostic is about the whole file. */
  line: number;
  /** 1-based column of the first offending character; 0 when unknown. */
  column: number;
  /** Length in characters of the offending text, for underlining; 0 when unknown. */
  length?: number;
}

export interface Diagnostic {
  /** Stable identifier, e.g. `clamav.hash.bad-size`; tests and docs refer to it. */
  code: string;
  severity: Severity;
  message: string;
  location?: Location;
  /** The full source line, kept so that renderers can show it without re-reading the file. */
  sourceLine?: string;
  /** An optional suggestion, e.g. "write EP+0 instead of EP". */
  help?: string;
}

export function error(code: string, message: string, location?: Location, extra?: Partial<Diagnostic>): Diagnostic {
  return { code, severity: 'error', message, ...(location ? { location } : {}), ...extra };
}

export function warning(code: string, message: string, location?: Location, extra?: Partial<Diagnostic>): Diagnostic {
  return { code, severity: 'warning', message, ...(location ? { location } : {}), ...extra };
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}

/** `file:line:column: error: message [code]`, then the source line with a caret under the column. */
export function renderDiagnostic(d: Diagnostic): string {
  const loc = d.location;
  const where = loc ? `${loc.file}${loc.line > 0 ? `:${loc.line}` : ''}${loc.line > 0 && loc.column > 0 ? `:${loc.column}` : ''}: ` : '';
  let out = `${where}${d.severity}: ${d.message} [${d.code}]`;
  if (d.sourceLine !== undefined && loc && loc.column > 0) {
    const shown = d.sourceLine.length > 200 ? d.sourceLine.slice(0, 200) + '…' : d.sourceLine;
    const col = Math.min(loc.column, shown.length + 1);
    const len = Math.max(1, Math.min(loc.length ?? 1, 200 - col + 1));
    out += `\n  | ${shown}\n  | ${' '.repeat(col - 1)}${'^'.repeat(len)}`;
  }
  if (d.help) out += `\n  = help: ${d.help}`;
  return out;
}

/** Line starts of a text, for turning byte offsets into 1-based lines and columns. */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(source: string | Uint8Array) {
    const bytes = typeof source === 'string' ? new TextEncoder().encode(source) : source;
    for (let k = 0; k < bytes.length; k++) if (bytes[k] === 0x0a) this.starts.push(k + 1);
  }

  /** The 1-based line and column of a byte offset. */
  at(offset: number): { line: number; column: number } {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  }
}
