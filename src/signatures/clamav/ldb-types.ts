/**
 * Types of `.ldb` subsignatures that `types.ts` does not (yet) describe precisely enough.
 *
 * In: nothing. Out: the shapes `parseLdb` produces for content and byte-compare subsignatures.
 * They are supersets of the corresponding `Subsig` members, so an `LdbSig` built from them is
 * still a valid `LdbSig`; code that needs the extra facts narrows to these types.
 *
 * Why they exist:
 * - A content subsignature with `::w`, `::f` or `::wa` is, in ClamAV, one or two patterns built
 *   from rewritten hex text (`(W)…(W)`, `00` after every byte, `[x-y]` → `{x-y}`); the text as
 *   written may not even parse (`41::w` is valid, `41` alone is too short). `variants` holds every
 *   pattern ClamAV adds for the subsignature, wide form first; `pattern` is `variants[0]`.
 * - A byte-compare subsignature may lack a base or an endianness (`0(>>2#2#=1)` loads) and then
 *   never matches; its offset is signed and its length is what ClamAV uses at match time.
 */
import type { BodyPattern, LdbModifiers, LogicalExpr, OffsetSpec } from './types.js';

/** `[Offset:]HexSig[::Modifiers]` with every form ClamAV matches for it. */
export interface LdbContentSubsig {
  k: 'content';
  offset: OffsetSpec;
  /** The first of `variants` (the wide form when `w` is set). */
  pattern: BodyPattern;
  mods: LdbModifiers;
  /**
   * Every pattern added for this subsignature; a match of any of them is a match of the
   * subsignature. Each keeps `source` = the hex text as written, so `applyModifiers(pattern, mods)`
   * rebuilds exactly this list.
   */
  variants: BodyPattern[];
}

/** `Trigger(Dir Off#Opts#Cmp[,Cmp])`, as `cli_bcomp_addpatt` stores it. */
export interface LdbByteCmpSubsig {
  k: 'bytecmp';
  /** `{ k: 'sub', index: ref }`: the referenced subsignature must have matched. */
  trigger: LogicalExpr;
  /** The referenced subsignature index as ClamAV keeps it (a signed 16-bit value, ≤ 64). */
  ref: number;
  /** As written; `>>` when the offset field is `0…` or empty. */
  dir: '>>' | '<<';
  /** Signed distance from the referenced subsignature's last match to the first byte read (`<<n` gives -n). */
  off: number;
  /** `h` hex text, `d` decimal text, `a` hex-or-decimal text, `i` raw integer; absent: never matches. */
  base?: 'h' | 'd' | 'a' | 'i';
  /** `l` little or `b` big endian (`d` implies `b`); absent: never matches (except with `d`). */
  endian?: 'l' | 'b';
  /** `e`: the whole field must be the number, with no leading blanks. */
  exact: boolean;
  /** Bytes read, as used at match time (ClamAV keeps the low 32 bits). */
  len: number;
  /** One or two comparisons, all of which must hold; values are 64-bit signed. */
  cmps: { op: '<' | '>' | '='; value: bigint }[];
}
