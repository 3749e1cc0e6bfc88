/**
 * Body-signature grammar: hex text → BodyPattern (reference §1.2). Implementation in progress.
 */
import type { Diagnostic } from '../../core/diagnostics.js';
import type { BodyPattern, OffsetSpec } from './types.js';

export interface BodySigContext {
  /** File and line for diagnostics. */
  file: string;
  line: number;
  /** 1-based column where the hex text starts in the line. */
  column: number;
  /** The whole source line, for diagnostics. */
  sourceLine?: string;
}

/** Parses the hex body of an `.ndb` signature or an `.ldb` content subsignature. */
export function parseBodyPattern(hex: string, ctx: BodySigContext): { pattern?: BodyPattern; diagnostics: Diagnostic[] } {
  void hex; void ctx;
  return { diagnostics: [] };
}

/** Parses an offset field (`*`, `n`, `n,shift`, `EOF-n`, `EP+n`, `Sx+n`, `SEx`, `SL+n`, `VI`, `$G$`). */
export function parseOffset(text: string, target: number, ctx: BodySigContext): { offset?: OffsetSpec; diagnostics: Diagnostic[] } {
  void text; void target; void ctx;
  return { diagnostics: [] };
}
