/**
 * The parsed form of ClamAV signatures: what every `src/signatures/clamav/*` parser produces and
 * what `src/engine/` compiles. Plain data (no classes), so that it can be inspected, tested
 * against golden files and serialised.
 *
 * Reference: ../shared/reference/clamav.md §1. Field names follow ClamAV's terms where they exist.
 */

/** Where a signature came from, for evidence: the database file (or `container:member`) and line. */
export interface SigOrigin {
  /** Database file as the user named it, or `daily.cvd:daily.ndb` for a member of a container. */
  db: string;
  /** 1-based line in that file. */
  line: number;
}

/** Target types of `.ndb`/`.ldb` (reference §1.2). Values ≥ 15 are skipped at load time. */
export const enum Target {
  Any = 0, PE = 1, OLE2 = 2, HTML = 3, Mail = 4, Graphics = 5, ELF = 6, Ascii = 7,
  Unused = 8, MachO = 9, PDF = 10, Flash = 11, Java = 12, Internal = 13, Other = 14,
}

// ───────────────────────────── body patterns ─────────────────────────────

/**
 * One element of a body-signature part.
 * - `byte`: one byte; `mask` selects the bits that must equal `value` (0xff exact, 0xf0 `a?`,
 *   0x0f `?a`, 0x00 `??`). `nocase`: ASCII letters compare case-insensitively (ldb `::i`).
 * - `alt`: alternatives `(..|..)`; each branch is a sequence. `negated` only for single-byte or
 *   fixed-length alternatives (`!(..)`), which then match any byte string of that length not in the set.
 * - `class`: `(B)`, `(L)`, `(W)` and their negations. At the very start or end of a part it is a
 *   zero-width assertion about the neighbouring byte (`edge` says which side); in the middle it
 *   consumes one byte of the class (reference §1.2 table).
 * - `skip`: `min..max` arbitrary bytes inside a part; produced by the edge ranges `hh[x-y]`
 *   (`min`/`max` ≤ 32, only next to a single anchored byte at the start or end).
 */
export type PatternNode =
  | { k: 'byte'; value: number; mask: number; nocase?: boolean }
  | { k: 'alt'; negated: boolean; branches: PatternNode[][] }
  | { k: 'class'; cls: 'B' | 'L' | 'W'; negated: boolean; edge?: 'left' | 'right'; wide?: boolean }
  | { k: 'skip'; min: number; max: number };

/** A gap between two parts: `*` is {min 0, max Infinity}, `{n}` (n ≥ 128) {n,n}, `{-n}` {0,n}, `{n-}` {n,∞}, `{n-m}`. */
export interface Gap { min: number; max: number }

/**
 * A body signature: one or more parts matched in order with the gaps between them.
 * `parts.length === gaps.length + 1`. Every part has at least two consecutive fixed bytes
 * (ClamAV's minimum static content), which the engine uses as its atom.
 */
export interface BodyPattern {
  parts: PatternNode[][];
  gaps: Gap[];
  /** The hex text as written, for evidence and `db info`. */
  source: string;
}

// ───────────────────────────── offsets ─────────────────────────────

/** `Offset` of `.ndb` and `.ldb` subsignatures (reference §1.2 offset grammar). `shift` is MaxShift (0 if absent). */
export type OffsetSpec =
  | { kind: 'any' }
  | { kind: 'abs'; n: number; shift: number }
  | { kind: 'eof'; n: number; shift: number }
  | { kind: 'ep'; n: number; shift: number } // n may be negative (EP-n)
  | { kind: 'section'; index: number; n: number; shift: number } // Sx+n
  | { kind: 'sectionEntire'; index: number; shift: number } // SEx
  | { kind: 'lastSection'; n: number; shift: number } // SL+n
  | { kind: 'versionInfo' } // VI
  | { kind: 'macro'; group: number }; // $G$

// ───────────────────────────── signatures ─────────────────────────────

export type HashAlgo = 'md5' | 'sha1' | 'sha256';

/** `.hdb .hsb .hdu .hsu .fp .sfp` (whole layer), `.mdb .msb` (PE section), `.imp` (import table). */
export type HashScope = 'file' | 'section' | 'import';

export interface HashSig {
  algo: HashAlgo;
  /** Lower-case hex. */
  hash: string;
  /** Size in bytes, or null for `*` (any size). */
  size: number | null;
  name: string;
  scope: HashScope;
  /** True for `.fp`/`.sfp` allow-list entries. */
  allow: boolean;
  origin: SigOrigin;
}

export interface NdbSig {
  name: string;
  target: number;
  offset: OffsetSpec;
  pattern: BodyPattern;
  origin: SigOrigin;
}

/** Logical expression of `.ldb` (reference §1.3). */
export type LogicalExpr =
  | { k: 'sub'; index: number }
  | { k: 'and'; left: LogicalExpr; right: LogicalExpr }
  | { k: 'or'; left: LogicalExpr; right: LogicalExpr }
  /** `A=X`, `A>X`, `A<X` on the match count of A, optionally `,Y` distinct subsigs. */
  | { k: 'count'; expr: LogicalExpr; op: '=' | '>' | '<'; value: number; distinct?: number };

export interface LdbModifiers { nocase: boolean; wide: boolean; ascii: boolean; fullword: boolean }

export type Subsig =
  | { k: 'content'; offset: OffsetSpec; pattern: BodyPattern; mods: LdbModifiers }
  | { k: 'macro'; min: number; max: number; group: number }
  | { k: 'pcre'; trigger: LogicalExpr | null; offset: OffsetSpec; source: string; flags: string }
  | { k: 'bytecmp'; trigger: LogicalExpr; dir: '>>' | '<<'; off: number; base: 'h' | 'd' | 'a' | 'i'; endian: 'l' | 'b'; exact: boolean; len: number; cmps: { op: '<' | '>' | '='; value: bigint }[] }
  | { k: 'fuzzyImg'; hash: string; distance: number };

export interface Range { min: number; max: number }

/** Target description block of `.ldb`. */
export interface Tdb {
  engine?: Range;
  target: number;
  fileSize?: Range;
  entryPoint?: Range;
  numberOfSections?: Range;
  container?: string; // CL_TYPE_*
  intermediates?: string[];
  iconGroup1?: string;
  iconGroup2?: string;
  handlerType?: string;
}

export interface LdbSig {
  name: string;
  tdb: Tdb;
  expr: LogicalExpr;
  subsigs: Subsig[];
  origin: SigOrigin;
}

/** `.cdb` container metadata signature (reference §1.4). Sizes and positions: null = `*`. */
export interface CdbSig {
  name: string;
  containerType: string | null;
  containerSize: Range | null;
  fileNameRegex: string | null;
  fileSizeInContainer: Range | null;
  fileSizeReal: Range | null;
  encrypted: boolean | null;
  filePos: Range | null;
  origin: SigOrigin;
}

/** `.ign`/`.ign2` entry: exact raw name, optionally only the database line with this MD5. */
export interface IgnoreEntry { name: string; lineMd5?: string }
