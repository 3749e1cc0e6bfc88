/**
 * `.ldb`/`.ldu` logical signatures → LdbSig[] (reference §1.3; ClamAV `cli_loadldb`,
 * `load_oneldb`, `init_tdb`, `lsigattribs`, `readdb_parse_ldb_subsignature`, `cli_ac_chklsig`,
 * `cli_pcre_addpatt`, `cli_bcomp_addpatt`, `cli_sigopts_handler`).
 *
 * line := Name ";" TargetDescriptionBlock ";" LogicalExpression ( ";" Subsig ){1,64}
 *
 * In: the bytes of one database file. Out: the signatures ClamAV 1.4 would load from it, and a
 * diagnostic (file, line, column, stable code) for every line ClamAV would refuse. ClamAV stops at
 * the first bad line and fails the whole file; we report them all and let the caller fail the file.
 *
 * Built as an emulation rather than a grammar: ClamAV's readers are hand-written C whose quirks
 * decide what loads (which field wins, what is silently skipped, how `a&b|c` groups), and a
 * database that loads in one engine and not the other is an incompatibility. So each reader here
 * reproduces the behaviour of its ClamAV counterpart, C library calls included (`fgets` line
 * pieces, `sscanf("%u")` wrap-around, `strtol` bases and saturation), and the comments name the
 * quirk each step keeps. The order of checks is ClamAV's: an ignored signature is dropped before its
 * expression is read; the expression is checked before the target block; subsignatures are parsed
 * only for signatures that are neither skipped (unknown attribute or type, FLEVEL, target ≥ 15)
 * nor in error.
 *
 * The logical expression parser lives here (the engine evaluates what it builds; `engine/lsig.ts`
 * re-exports it). PCRE syntax is checked through `ctx.checkPcre`, which the database loader wires to
 * `engine/pcre.ts`'s `pcreProblems` (this layer may not import the engine).
 */
import type { Diagnostic, Location } from '../../core/diagnostics.js';
import { ENGINE_LIMITS } from '../../core/limits.js';
import { parseBodyPattern, parseOffset, type BodySigContext } from './bodysig.js';
import { isLdbClType } from './ldb-cltypes.js';
import type { LdbByteCmpSubsig, LdbContentSubsig } from './ldb-types.js';
import { ENGINE_FLEVEL } from './lines.js';
import type { BodyPattern, LdbModifiers, LdbSig, LogicalExpr, OffsetSpec, PatternNode, Range, Subsig, Tdb } from './types.js';

// ───────────────────────────── public types ─────────────────────────────

/** A finding of the PCRE checker about a regex, `at` being an index in the regex text. */
export interface PcreProblem {
  /** `error`: PCRE2 itself refuses the regex (ClamAV then fails the whole database).
   *  `warning`: valid PCRE that vigil cannot match exactly; the signature is not loaded. */
  severity: 'error' | 'warning';
  code: string;
  message: string;
  at: number;
}

export interface LdbContext {
  /** Database name for diagnostics and origins (`daily.cvd:daily.ldb` for a container member). */
  file: string;
  /** True for content of a verified `.cvd`/`.cld`; the engine uses it for `.UNOFFICIAL`. Parsing does not depend on it. */
  official: boolean;
  /** `.ign`/`.ign2` lists: raw name and the whole line (for the `:md5` form). */
  ignore?: { ignores(rawName: string, line: string): boolean };
  /** Checks a PCRE subsignature's regex and flags; without it regexes are not checked here. */
  checkPcre?: (pattern: string, flags: string) => readonly PcreProblem[];
}

export interface LdbResult {
  sigs: LdbSig[];
  /** Signatures loaded (ClamAV's contribution to "Known viruses"). */
  count: number;
  diagnostics: Diagnostic[];
}

/** Longest piece `fgets` hands to the `.ldb` reader (CLI_DEFAULT_LSIG_BUFSIZE). */
export const LDB_LINE_BUFFER = ENGINE_LIMITS.maxLdbLine;
/** Tokens `load_oneldb` splits a line into: name, block, expression and up to 65 subsignatures. */
const LDB_TOKENS = ENGINE_LIMITS.maxLdbSubsigs + 4;

// ───────────────────────────── C library behaviour ─────────────────────────────

const isCSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
const isCDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const U64 = (1n << 64n) - 1n;
const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);

/** `cli_isnumber`: only decimal digits; the empty string counts as a number. */
const isNumber = (s: string): boolean => /^\d*$/.test(s);

/**
 * `sscanf(s + pos, "%u")`: blanks, an optional sign, decimal digits; the value wraps to 32 bits the
 * way glibc stores `strtoul`'s result into an `unsigned int` ("-1" is 4294967295).
 */
export function scanU32(s: string, pos: number): { value: number; end: number } | undefined {
  let i = pos;
  while (isCSpace(s[i])) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') { neg = s[i] === '-'; i++; }
  const d0 = i;
  while (isCDigit(s[i])) i++;
  if (i === d0) return undefined;
  let v = BigInt(s.slice(d0, i));
  if (v > U64) v = U64;
  if (neg) v = (-v) & U64;
  return { value: Number(v & 0xffffffffn), end: i };
}

/** `sscanf(s + pos, "%u,%u")`: the number of conversions made (0, 1 or 2) and their values. */
function scanU32Pair(s: string, pos: number): { count: number; a?: number; b?: number; end: number } {
  const a = scanU32(s, pos);
  if (!a) return { count: 0, end: pos };
  if (s[a.end] !== ',') return { count: 1, a: a.value, end: a.end };
  const b = scanU32(s, a.end + 1);
  if (!b) return { count: 1, a: a.value, end: a.end };
  return { count: 2, a: a.value, b: b.value, end: b.end };
}

/**
 * `strtol(s + pos, &end, base)` for base 0 or 10 on a 64-bit `long`: blanks, a sign, `0x` (base 0
 * and a hex digit after it) or a leading `0` (octal); saturates at LONG_MIN/LONG_MAX. `end` is
 * the index after the digits, or `pos` when there are none.
 */
export function cStrtol(s: string, pos: number, base: 0 | 10): { value: bigint; end: number } {
  let i = pos;
  while (isCSpace(s[i])) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') { neg = s[i] === '-'; i++; }
  let radix = 10;
  if (base === 0) {
    if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && /[0-9a-fA-F]/.test(s[i + 2] ?? '')) { radix = 16; i += 2; }
    else if (s[i] === '0') radix = 8;
  }
  const digit = (c: string | undefined): number => {
    if (c === undefined) return 99;
    const v = parseInt(c, 36);
    return Number.isNaN(v) ? 99 : v;
  };
  const d0 = i;
  let v = 0n;
  const big = BigInt(radix);
  while (digit(s[i]) < radix) {
    if (v <= LONG_MAX) v = v * big + BigInt(digit(s[i])); // past LONG_MAX only saturation matters
    i++;
  }
  if (i === d0) return { value: 0n, end: pos };
  if (neg) v = -v;
  if (v > LONG_MAX) v = LONG_MAX;
  if (v < LONG_MIN) v = LONG_MIN;
  return { value: v, end: i };
}

/** `atoi` on a string of decimal digits stored into a `uint32_t` (glibc: `(int) strtol`). */
function atoiU32(digits: string): number {
  if (digits === '') return 0;
  let v = BigInt(digits);
  if (v > LONG_MAX) v = LONG_MAX;
  return Number(v & 0xffffffffn);
}

// ───────────────────────────── tokenizers ─────────────────────────────

interface Tok { text: string; start: number }

/**
 * `cli_strtokenize`: split on `delim` into at most `max` fields. When there are more, the last
 * field still ends at its delimiter and the rest of the text is dropped.
 */
function strTokenize(s: string, delim: string, max: number): Tok[] {
  const out: Tok[] = [];
  let start = 0;
  while (out.length < max) {
    const i = s.indexOf(delim, start);
    if (i < 0) { out.push({ text: s.slice(start), start }); return out; }
    out.push({ text: s.slice(start, i), start });
    start = i + 1;
  }
  return out;
}

/**
 * `cli_ldbtokenize`: like `strTokenize`, but from token number `skip` on, an unescaped `/`
 * toggles a "inside a regex" state in which `delim` does not split (so `;` and `:` may appear in
 * a PCRE). "Unescaped" means the previous character is not `\`, nothing more.
 */
function ldbTokenize(s: string, delim: string, max: number, skip: number): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let inRegex = false;
  while (out.length < max) {
    const start = i;
    const found = out.length + 1;
    while (i < s.length) {
      const c = s[i];
      if (!inRegex && c === delim) break;
      if (found > skip && i > 0 && s[i - 1] !== '\\' && c === '/') inRegex = !inRegex;
      i++;
    }
    out.push({ text: s.slice(start, i), start });
    if (i >= s.length) return out;
    i++;
  }
  return out;
}

/**
 * The pieces `fgets(buf, 32769)` returns: a line with its newline, or the first 32768 bytes of a
 * longer one (the rest comes back as the next piece, and ClamAV counts it as the next line).
 */
function linePieces(text: string): { raw: string; line: number; column0: number; split: boolean }[] {
  const out: { raw: string; line: number; column0: number; split: boolean }[] = [];
  let pos = 0;
  let line = 1;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const lineEnd = nl < 0 ? text.length : nl + 1;
    const split = lineEnd - pos > LDB_LINE_BUFFER;
    let column0 = 0;
    while (pos < lineEnd) {
      const take = Math.min(lineEnd - pos, LDB_LINE_BUFFER);
      out.push({ raw: text.slice(pos, pos + take), line, column0, split });
      pos += take;
      column0 += take;
    }
    line++;
  }
  return out;
}

// ───────────────────────────── diagnostics ─────────────────────────────

interface Where { file: string; line: number; sourceLine?: string; help?: string }

function diag(w: Where, severity: 'error' | 'warning', code: string, message: string, column: number, length: number, help?: string): Diagnostic {
  const location: Location = { file: w.file, line: w.line, column: Math.max(1, column), length: Math.max(1, length) };
  const h = help ?? w.help;
  return { code, severity, message, location, ...(w.sourceLine !== undefined ? { sourceLine: w.sourceLine } : {}), ...(h ? { help: h } : {}) };
}

// ───────────────────────────── logical expressions ─────────────────────────────

/** Where a logical expression sits, for diagnostics: `column` is the 1-based column of its first character. */
export interface ExprLocation { file: string; line: number; column: number; sourceLine?: string }

export interface LogicParse {
  expr?: LogicalExpr;
  /** Highest subsignature index the expression names (ClamAV's "number of subsignatures" is this + 1); -1 on error. */
  maxIndex: number;
  diagnostics: Diagnostic[];
}

class LogicError { constructor(readonly message: string, readonly at: number, readonly code = 'clamav.ldb.logic') {} }

/**
 * Nesting we follow before giving up. ClamAV recurses without a limit; real expressions are a
 * few levels deep, and the cap keeps a hostile line from exhausting the stack (at most 32768
 * characters × this many levels of scanning).
 */
const MAX_LOGIC_DEPTH = 1000;

/**
 * Parses a logical expression exactly as `cli_ac_chklsig` reads it. There is no grammar with
 * precedence; the text is split recursively:
 *
 *   expr := the first `&`/`|` outside parentheses splits it into left and right, so a chain
 *           groups to the right: `0&1|2` is `0&(1|2)`;
 *         | otherwise, if some `(`…`)` at depth 0 holds an operator at depth 1, the *last* such
 *           operator splits the block, so inside parentheses a chain groups to the left:
 *           `(0&1|2)` is `(0&1)|2`. A `=N`, `>N`, `<N` and optional `,M` straight after the
 *           closing parenthesis applies to the block, and only if it ends the text;
 *         | otherwise `(`…`)` around the whole text is stripped, `(0)>1` being an error;
 *         | otherwise a leaf: a decimal index read with `%u` (blanks, sign and trailing junk
 *           allowed: `0abc` is 0), and if the text contains `=`, `>`, `<` or `)`, the last of
 *           them and the number after it form a count condition (`,M` is ignored on a leaf). A
 *           leaf ending in `)…N`, as in `0(1)5`, parses but is never true.
 */
export function parseLogicalExpr(text: string, loc?: ExprLocation): LogicParse {
  const where: Where = { file: loc?.file ?? '', line: loc?.line ?? 0, ...(loc?.sourceLine !== undefined ? { sourceLine: loc.sourceLine } : {}) };
  const col0 = loc?.column ?? 1;
  const diagnostics: Diagnostic[] = [];
  const warn = (at: number, message: string) => diagnostics.push(diag(where, 'warning', 'clamav.ldb.logic-never-true', message, col0 + at, 1));
  try {
    const r = splitLogic(text, 0, text.length, warn, 0);
    return { expr: r.node, maxIndex: r.max, diagnostics };
  } catch (caught) {
    const e = caught instanceof RangeError ? new LogicError('the expression is nested too deeply', 0, 'clamav.ldb.logic-too-deep') : caught;
    if (!(e instanceof LogicError)) throw e;
    diagnostics.push(diag(where, 'error', e.code, `invalid logical expression: ${e.message}`, col0 + Math.min(e.at, Math.max(0, text.length - 1)), 1));
    return { maxIndex: -1, diagnostics };
  }
}

/** One step of `cli_ac_chklsig` over `s[start, end)`; reads past `end` where the C code does (it scans a C string). */
function splitLogic(s: string, start: number, end: number, warn: (at: number, m: string) => void, level: number): { node: LogicalExpr; max: number } {
  if (level > MAX_LOGIC_DEPTH) throw new LogicError(`the expression is nested more than ${MAX_LOGIC_DEPTH} levels deep`, start, 'clamav.ldb.logic-too-deep');
  const len = end - start;
  let depth = 0;
  let op = '';
  let opoff = 0;
  let op1 = '';
  let op1off = 0;
  let mod = '';
  let modoff = 0;
  let blkend = 0;
  let blkmod = '';
  let modval1 = 0;
  let modval2 = 0;
  for (let i = 0; i < len; i++) {
    const c = s[start + i];
    if (c === '(') depth++;
    else if (c === ')') {
      if (depth === 0) throw new LogicError('missing opening parenthesis', start + i);
      depth--;
      mod = ')';
      modoff = i;
    } else if (c === '>' || c === '<' || c === '=') {
      mod = c;
      modoff = i;
    } else if (c === '&' || c === '|') {
      if (depth === 0) { op = c; opoff = i; } else if (depth === 1) { op1 = c; op1off = i; }
    }
    if (op) break;
    if (op1 && depth === 0) {
      blkend = i;
      const n = s[start + i + 1];
      if (n === '>' || n === '<' || n === '=') {
        blkmod = n;
        const p = scanU32Pair(s, start + i + 2);
        if (p.count === 2) { modval1 = p.a!; modval2 = p.b!; } else {
          const one = scanU32(s, start + i + 2);
          if (!one) throw new LogicError(`missing number after '${n}'`, start + i + 1);
          modval1 = one.value;
        }
        for (i += 2; i + 1 < len && (isCDigit(s[start + i + 1]) || s[start + i + 1] === ','); i++);
      }
      if (start + i + 1 === end) break;
      blkmod = '';
    }
  }
  if (depth !== 0) throw new LogicError('missing closing parenthesis', start + len);

  if (!op && !op1) {
    if (s[start] === '(') return splitLogic(s, start + 1, end - 1, warn, level + 1);
    const id = scanU32(s, start);
    if (!id) throw new LogicError(`can't read a subsignature index in "${s.slice(start, Math.max(start + 1, end))}"`, start);
    // The index is returned as a C int: 4294967295 reads as -1, ClamAV's error value; larger
    // "negative" indices load in ClamAV and crash it at scan time, so we refuse them.
    if (id.value === 0xffffffff) throw new LogicError('subsignature index 4294967295 is out of range', start);
    if (id.value >= 0x80000000) {
      throw new LogicError(`subsignature index ${id.value} is out of range (ClamAV loads it and then crashes evaluating it)`, start, 'clamav.ldb.logic-index-range');
    }
    let node: LogicalExpr = { k: 'sub', index: id.value };
    if (mod) {
      const v = scanU32(s, start + modoff + 1);
      if (!v) throw new LogicError(`missing number after '${mod}'`, start + modoff);
      if (mod === ')') {
        warn(start, `"${s.slice(start, end)}" is read by ClamAV as a condition that is never true`);
        node = { k: 'count', expr: node, op: '<', value: 0 };
      } else {
        node = { k: 'count', expr: node, op: mod as '=' | '>' | '<', value: v.value };
      }
    }
    return { node, max: id.value };
  }

  let lstart = start;
  let rend = end;
  if (!op) {
    op = op1;
    opoff = op1off;
    lstart = start + 1;
    rend = start + blkend;
  }
  if (opoff === 0) throw new LogicError(`missing left argument of '${op}'`, start);
  if (opoff + 1 === len) throw new LogicError(`missing right argument of '${op}'`, start + opoff);
  const l = splitLogic(s, lstart, start + opoff, warn, level + 1);
  const r = splitLogic(s, start + opoff + 1, rend, warn, level + 1);
  let node: LogicalExpr = { k: op === '&' ? 'and' : 'or', left: l.node, right: r.node };
  if (blkmod) {
    node = { k: 'count', expr: node, op: blkmod as '=' | '>' | '<', value: modval1, ...(modval2 ? { distinct: modval2 } : {}) };
  }
  return { node, max: Math.max(l.max, r.max) };
}

/** Highest subsignature index named in an expression. */
export function logicalMaxIndex(e: LogicalExpr): number {
  switch (e.k) {
    case 'sub': return e.index;
    case 'and': case 'or': return Math.max(logicalMaxIndex(e.left), logicalMaxIndex(e.right));
    case 'count': return logicalMaxIndex(e.expr);
  }
}

// ───────────────────────────── target description block ─────────────────────────────

type AttrType = 'uint' | 'range' | 'str' | 'ftype' | 'ftypes';
const ATTRIBUTES = new Map<string, AttrType>([
  ['Target', 'uint'], ['Engine', 'range'], ['FileSize', 'range'], ['EntryPoint', 'range'], ['NumberOfSections', 'range'],
  ['IconGroup1', 'str'], ['IconGroup2', 'str'], ['Container', 'ftype'], ['HandlerType', 'ftype'], ['Intermediates', 'ftypes'],
]);
/** Attributes per block that `lsigattribs` reads; more are silently dropped. */
const TDB_TOKENS = 10;
/** Types per `Intermediates` list that are read; more are silently dropped. */
const INTERMEDIATES_MAX = 16;
/** An `Engine` minimum of at least this is required by every attribute other than Target (0.96). */
const NEW_ATTRIBUTES_MIN_FLEVEL = 51;

type TdbResult =
  | { kind: 'ok'; tdb: Tdb }
  | { kind: 'skip'; reason: string }
  | { kind: 'error'; code: string; message: string; at: number; length: number };

/**
 * tdb  := attr ( "," attr ){0,9}           (further attributes are ignored)
 * attr := Key ":" Value                    (Value runs to the next ","; a second ":" is part of it)
 * Evaluated left to right: the first unknown key or type name skips the signature, so errors
 * after it are not seen; a repeated key keeps its last value.
 */
function parseTdb(text: string): TdbResult {
  const tdb: Partial<Tdb> & { engine?: Range } = {};
  let newAttributes = false;
  const tokens = strTokenize(text, ',', TDB_TOKENS);
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    const colon = tok.text.indexOf(':');
    if (colon < 0) {
      return { kind: 'error', code: 'clamav.ldb.tdb-format', message: `attribute "${tok.text}" is not Key:Value`, at: tok.start, length: tok.text.length };
    }
    const key = tok.text.slice(0, colon);
    const value = tok.text.slice(colon + 1);
    const vat = tok.start + colon + 1;
    const type = ATTRIBUTES.get(key);
    if (!type) return { kind: 'skip', reason: `unknown attribute "${key}"` };
    if (key === 'Engine') {
      if (i > 0) {
        return { kind: 'error', code: 'clamav.ldb.engine-position', message: 'the Engine attribute must come first in the target description block', at: tok.start, length: tok.text.length };
      }
    } else if (key !== 'Target') newAttributes = true;
    switch (type) {
      case 'uint':
        if (!isNumber(value)) return { kind: 'error', code: 'clamav.ldb.tdb-value', message: `${key} must be a decimal number, not "${value}"`, at: vat, length: value.length };
        tdb.target = atoiU32(value);
        break;
      case 'range': {
        const dash = value.indexOf('-');
        if (dash < 0) return { kind: 'error', code: 'clamav.ldb.tdb-range', message: `${key} must be a range min-max, not "${value}"`, at: vat, length: value.length };
        const a = value.slice(0, dash);
        const b = value.slice(dash + 1);
        if (!isNumber(a) || !isNumber(b)) return { kind: 'error', code: 'clamav.ldb.tdb-value', message: `${key} range "${value}" must be two decimal numbers`, at: vat, length: value.length };
        const r: Range = { min: atoiU32(a), max: atoiU32(b) };
        if (key === 'Engine') tdb.engine = r;
        else if (key === 'FileSize') tdb.fileSize = r;
        else if (key === 'EntryPoint') tdb.entryPoint = r;
        else tdb.numberOfSections = r;
        break;
      }
      case 'str':
        if (key === 'IconGroup1') tdb.iconGroup1 = value; else tdb.iconGroup2 = value;
        break;
      case 'ftype':
        if (!isLdbClType(value)) return { kind: 'skip', reason: `unknown file type "${value}" in ${key}` };
        if (key === 'Container') tdb.container = value; else tdb.handlerType = value;
        break;
      case 'ftypes': {
        const names = strTokenize(value, '>', INTERMEDIATES_MAX).map((t) => t.text);
        const bad = names.find((n) => !isLdbClType(n));
        if (bad !== undefined) return { kind: 'skip', reason: `unknown file type "${bad}" in ${key}` };
        tdb.intermediates = names;
        break;
      }
    }
  }
  if (newAttributes && (!tdb.engine || tdb.engine.min < NEW_ATTRIBUTES_MIN_FLEVEL)) {
    return {
      kind: 'error', code: 'clamav.ldb.engine-required',
      message: `attributes other than Target need Engine:${NEW_ATTRIBUTES_MIN_FLEVEL}-… or higher as the first attribute (and the whole file fails to load in ClamAV)`,
      at: 0, length: text.length,
    };
  }
  if (tdb.engine && (tdb.engine.min > ENGINE_FLEVEL || tdb.engine.max < ENGINE_FLEVEL)) {
    return { kind: 'skip', reason: `Engine range ${tdb.engine.min}-${tdb.engine.max} excludes functionality level ${ENGINE_FLEVEL}` };
  }
  if (tdb.target === undefined) {
    return { kind: 'error', code: 'clamav.ldb.no-target', message: 'the target description block has no Target attribute', at: 0, length: text.length };
  }
  if (tdb.target >= 15) return { kind: 'skip', reason: `unsupported target ${tdb.target}` };
  if ((tdb.iconGroup1 !== undefined || tdb.iconGroup2 !== undefined) && tdb.target !== 1) {
    return { kind: 'error', code: 'clamav.ldb.icon-target', message: 'IconGroup1/IconGroup2 need Target:1 (PE)', at: 0, length: text.length };
  }
  if ((tdb.entryPoint || tdb.numberOfSections) && tdb.target !== 1 && tdb.target !== 6 && tdb.target !== 9) {
    return { kind: 'error', code: 'clamav.ldb.exec-target', message: 'EntryPoint/NumberOfSections need Target 1 (PE), 6 (ELF) or 9 (Mach-O)', at: 0, length: text.length };
  }
  return { kind: 'ok', tdb: tdb as Tdb };
}

// ───────────────────────────── content subsignatures and modifiers ─────────────────────────────

type TextResult = { text: string } | { error: string; at: number };

/**
 * The text ClamAV matches for `::f`: `(W)` + hex + `(W)`, and every `[` … `]` edge range turned
 * into a `{` … `}` gap (so the anchored byte becomes a part of its own).
 */
export function fullwordHexText(hex: string): TextResult {
  const chars = `(W)${hex}(W)`.split('');
  let i = 0;
  for (;;) {
    const open = chars.indexOf('[', i);
    if (open < 0) break;
    chars[open] = '{';
    const close = chars.indexOf(']', open);
    if (close < 0) return { error: "unmatched '[' in the pattern", at: open - 3 };
    chars[close] = '}';
    i = close;
  }
  return { text: chars.join('') };
}

/**
 * The text ClamAV matches for `::w` (`cli_sigopts_handler`): every two-character element
 * (`hh`, `??`, `a?`, `?a`) is followed by `00`; `*`, `|`, `)` and `{…}` are copied as they are
 * (so `{n}` keeps its width); `[x-y]` becomes `{x-y}`; `(B)`, `(L)`, `(W)` are copied. A `(` whose
 * next character is `B`, `L` or `W` is taken for a class, so `(B0|B1)` is refused while
 * `(b0|b1)` is fine; a `(` or `!` among the last two characters is refused.
 */
export function widenHexText(hex: string): TextResult {
  let out = '';
  const n = hex.length;
  for (let i = 0; i < n; i++) {
    const c = hex[i]!;
    if (c === '*' || c === '|' || c === ')') out += c;
    else if (c === '[') {
      out += '{';
      i++;
      while (i < n && hex[i] !== ']') out += hex[i++];
      out += '}';
    } else if (c === '{') {
      while (i < n && hex[i] !== '}') out += hex[i++];
      out += '}';
    } else if (c === '!' || c === '(') {
      if (c === '!') out += hex[i++]!;
      if (i < n) out += hex[i];
      if (i + 2 >= n) return { error: `'${c}' too close to the end of the pattern`, at: i };
      const k = hex[i + 1];
      if (k === 'B' || k === 'L' || k === 'W') {
        i++;
        out += hex[i++];
        if (hex[i] !== ')') return { error: `"(${k}" is read as a character class but is not followed by ')'`, at: i };
        out += ')';
      }
    } else {
      // snprintf("%c%c%02x"): an odd last character is kept alone (its pair is the terminating NUL)
      if (i + 1 >= n) { out += c; break; }
      out += c + hex[i + 1]! + '00';
      i++;
    }
  }
  return { text: out };
}

function modifierText(m: LdbModifiers): string {
  return `${m.nocase ? 'i' : ''}${m.wide ? 'w' : ''}${m.ascii ? 'a' : ''}${m.fullword ? 'f' : ''}`;
}

function hasNegatedAlternative(nodes: readonly PatternNode[]): boolean {
  for (const n of nodes) {
    if (n.k === 'alt' && (n.negated || n.branches.some(hasNegatedAlternative))) return true;
  }
  return false;
}

function markWide(p: BodyPattern): BodyPattern {
  const mark = (n: PatternNode): PatternNode => (n.k === 'class' && n.cls === 'W' && n.edge ? { ...n, wide: true } : n);
  return { ...p, parts: p.parts.map((part) => part.map(mark)) };
}

/**
 * Builds every pattern ClamAV adds for a content subsignature with modifiers, from its hex text:
 * `f` wraps it (see `fullwordHexText`), `w` widens that (see `widenHexText`) and `a` with `w` adds
 * the unwidened text as a second pattern; `i` makes literal bytes ASCII-case-insensitive. With
 * any modifier ClamAV makes every alternative "generic", and generic alternatives cannot be
 * negated, so `!(…)` is refused. On the wide form, `(W)` edge classes get `wide` (the neighbour
 * test then skips a `00` after an alphanumeric byte). Every variant keeps `source` = the hex text
 * as written, so that evidence shows what the signature says and `applyModifiers` can rebuild it.
 */
export function buildContentVariants(hex: string, mods: LdbModifiers, ctx: BodySigContext): { variants: BodyPattern[]; diagnostics: Diagnostic[] } {
  const where: Where = { file: ctx.file, line: ctx.line, ...(ctx.sourceLine !== undefined ? { sourceLine: ctx.sourceLine } : {}) };
  const any = mods.nocase || mods.wide || mods.ascii || mods.fullword;
  if (!any) {
    const r = parseBodyPattern(hex, ctx);
    return { variants: r.pattern ? [r.pattern] : [], diagnostics: r.diagnostics };
  }
  const modText = modifierText(mods);
  const fail = (code: string, message: string, at = 0) =>
    ({ variants: [], diagnostics: [diag(where, 'error', code, message, ctx.column + Math.max(0, Math.min(at, hex.length - 1)), at > 0 ? 1 : hex.length)] });
  let base = hex;
  if (mods.fullword) {
    const fw = fullwordHexText(hex);
    if ('error' in fw) return fail('clamav.ldb.modifier-text', `with ::${modText}: ${fw.error}`, fw.at);
    base = fw.text;
  }
  const forms: { text: string; wide: boolean }[] = [];
  if (mods.wide) {
    const w = widenHexText(base);
    if ('error' in w) return fail('clamav.ldb.modifier-text', `with ::${modText}: ${w.error}`, mods.fullword ? 0 : w.at);
    forms.push({ text: w.text, wide: true });
    if (mods.ascii) forms.push({ text: base, wide: false });
  } else forms.push({ text: base, wide: false });

  const variants: BodyPattern[] = [];
  for (const f of forms) {
    const r = parseBodyPattern(f.text, ctx, { nocase: mods.nocase });
    if (!r.pattern) {
      const rewritten = f.text !== hex;
      const shown = f.text.length > 80 ? `${f.text.slice(0, 80)}…` : f.text;
      return {
        variants: [],
        diagnostics: r.diagnostics.map((d) => (rewritten
          ? { ...d, message: `${d.message} (in ${shown}, the pattern ClamAV builds for ::${modText})`, location: { file: ctx.file, line: ctx.line, column: ctx.column, length: Math.max(1, hex.length) } }
          : d)),
      };
    }
    if (hasNegatedAlternative(r.pattern.parts.flat())) {
      return fail('clamav.ldb.modifier-negation', `with ::${modText} every alternative is generic, and a generic alternative cannot be negated`);
    }
    const p = f.wide ? markWide(r.pattern) : r.pattern;
    variants.push({ ...p, source: hex });
  }
  return { variants, diagnostics: [] };
}

/**
 * Applies `::i ::w ::a ::f` to a content pattern: every pattern ClamAV matches for it, the wide
 * form first when `w` is set and, with `w` and `a`, the ASCII form second; no modifiers gives
 * `[pattern]`. ClamAV rewrites the hex text and parses it again, so this works from
 * `pattern.source` (the text as written) and is idempotent: applied to a content subsignature's
 * `pattern` as `parseLdb` stores it, it returns that subsignature's variants. Returns `[]` if the
 * rewritten text is not a valid pattern (`parseLdb` has reported that as an error).
 */
export function applyModifiers(pattern: BodyPattern, mods: LdbModifiers): BodyPattern[] {
  if (!mods.nocase && !mods.wide && !mods.ascii && !mods.fullword) return [pattern];
  return buildContentVariants(pattern.source, mods, { file: '', line: 0, column: 1 }).variants;
}

// ───────────────────────────── byte compare ─────────────────────────────

/** Longest raw integer (`i`) field and hex text (`h`) field, in bytes (CLI_BCOMP_MAX_BIN_BLEN, CLI_BCOMP_MAX_HEX_BLEN). */
const BCOMP_MAX_BIN = 8;
const BCOMP_MAX_HEX = 18;

export type ByteCmpParse = { subsig: LdbByteCmpSubsig } | { error: { code: string; message: string; at: number; length: number } };

/**
 * bytecmp := Trigger "(" Offset "#" Options "#" Comparisons ")" anything
 * Trigger  := strtol base 10 (blanks and sign allowed), kept as a signed 16-bit value ≤ 64
 * Offset   := ( ">>" | "<<" ) strtol-base-0 number (may be empty: 0) | "0" anything | ""
 * Options  := [hdia lb e]* Length     (h, d, i, a exclusive; l, b exclusive; d excludes l, implies b)
 * Length   := strtol base 0, ≠ 0; i: 1, 2, 4 or 8; h: ≤ 18
 * Comparisons := Cmp [ "," Cmp ]      Cmp := ( "<" | ">" | "=" ) strtoll-base-0 (may be empty: 0)
 * (`cli_bcomp_addpatt`; the text after the first `)` is ignored.)
 */
export function parseByteCompare(text: string): ByteCmpParse {
  const err = (code: string, message: string, at: number, length = 1): ByteCmpParse => ({ error: { code, message, at, length } });
  const refNum = cStrtol(text, 0, 10);
  if (text[refNum.end] !== '(') {
    return err('clamav.ldb.bytecmp-trigger', 'byte compare: the trigger must be a subsignature index directly followed by (', refNum.end);
  }
  const ref = Number(BigInt.asIntN(16, refNum.value));
  if (ref > ENGINE_LIMITS.maxLdbSubsigs) return err('clamav.ldb.bytecmp-trigger', `byte compare: trigger subsignature ${ref} exceeds ${ENGINE_LIMITS.maxLdbSubsigs}`, 0, refNum.end);
  const open = refNum.end;
  const close = text.indexOf(')', open + 1);
  if (close < 0) return err('clamav.ldb.bytecmp-syntax', 'byte compare: missing )', open);
  const params = text.slice(open + 1, close);
  const p0 = open + 1;
  const fields = strTokenize(params, '#', 4);
  if (fields.length !== 3) {
    return err('clamav.ldb.bytecmp-syntax', `byte compare: expected 3 #-separated parameters (offset#options#comparison), found ${fields.length === 4 ? '4 or more' : fields.length}`, p0, params.length);
  }
  const [offF, optF, cmpF] = fields as [Tok, Tok, Tok];

  // offset
  let dir: '>>' | '<<' = '>>';
  let off = 0n;
  const o = offF.text;
  if (o[0] === '<' || o[0] === '>') {
    if (o[1] !== o[0]) return err('clamav.ldb.bytecmp-offset', `byte compare: shift operator must be >> or <<, not "${o.slice(0, 2)}"`, p0 + offF.start, 2);
    dir = o[0] === '<' ? '<<' : '>>';
    const v = cStrtol(o, 2, 0);
    if (v.end !== o.length) return err('clamav.ldb.bytecmp-offset', `byte compare: invalid offset "${o.slice(2)}"`, p0 + offF.start + 2, o.length - 2);
    off = dir === '<<' ? BigInt.asIntN(64, -v.value) : v.value;
  } else if (o !== '' && o[0] !== '0') {
    return err('clamav.ldb.bytecmp-offset', `byte compare: the offset must start with >> or << (or be 0), not "${o}"`, p0 + offF.start, o.length);
  }

  // options and length
  let base: 'h' | 'd' | 'a' | 'i' | undefined;
  let endian: 'l' | 'b' | undefined;
  let exact = false;
  const opt = optF.text;
  let k = 0;
  for (; !isCDigit(opt[k]); k++) {
    const c = opt[k];
    let ok = true;
    switch (c) {
      case 'h': case 'i': case 'a':
        if (base && base !== c) ok = false; else base = c;
        break;
      case 'd':
        if ((base && base !== 'd') || endian === 'l') ok = false; else { base = 'd'; endian = 'b'; }
        break;
      case 'l':
        if (endian === 'b' || base === 'd') ok = false; else endian = 'l';
        break;
      case 'b':
        if (endian === 'l') ok = false; else endian = 'b';
        break;
      case 'e':
        exact = true;
        break;
      default:
        ok = false;
    }
    if (!ok) {
      return err('clamav.ldb.bytecmp-options', c === undefined
        ? 'byte compare: the options field has no length'
        : `byte compare: option '${c}' is unknown or conflicts with an earlier one (h, d, i, a exclude each other; l, b exclude each other; d excludes l)`,
      p0 + optF.start + Math.min(k, Math.max(0, opt.length - 1)));
    }
  }
  const lenV = cStrtol(opt, k, 0);
  if (lenV.end !== opt.length || lenV.value === 0n) {
    return err('clamav.ldb.bytecmp-length', `byte compare: invalid length "${opt.slice(k)}"`, p0 + optF.start + k, Math.max(1, opt.length - k));
  }
  if (base === 'i' && (lenV.value > BigInt(BCOMP_MAX_BIN) || BigInt(BCOMP_MAX_BIN) % lenV.value !== 0n)) {
    return err('clamav.ldb.bytecmp-length', `byte compare: a raw integer is 1, 2, 4 or 8 bytes, not ${lenV.value}`, p0 + optF.start + k, opt.length - k);
  }
  if (base === 'h' && lenV.value > BigInt(BCOMP_MAX_HEX)) {
    return err('clamav.ldb.bytecmp-length', `byte compare: a hex field is at most ${BCOMP_MAX_HEX} bytes, not ${lenV.value}`, p0 + optF.start + k, opt.length - k);
  }

  // comparisons
  const cmpText = cmpF.text;
  const commas = cmpText.split(',').length - 1;
  if (commas > 1) return err('clamav.ldb.bytecmp-compare', 'byte compare: at most two comparisons (one comma)', p0 + cmpF.start, cmpText.length);
  const cmps: { op: '<' | '>' | '='; value: bigint }[] = [];
  let pos = 0;
  for (const piece of cmpText.split(',')) {
    const sym = piece[0];
    if (sym !== '<' && sym !== '>' && sym !== '=') {
      return err('clamav.ldb.bytecmp-compare', `byte compare: comparison must start with <, > or =, not "${piece}"`, p0 + cmpF.start + pos, Math.max(1, piece.length));
    }
    const v = cStrtol(piece, 1, 0);
    if (v.end !== piece.length) {
      return err('clamav.ldb.bytecmp-compare', `byte compare: invalid comparison value "${piece.slice(1)}"`, p0 + cmpF.start + pos + 1, Math.max(1, piece.length - 1));
    }
    cmps.push({ op: sym, value: v.value });
    pos += piece.length + 1;
  }
  const offNum = Number(off);
  return {
    subsig: {
      k: 'bytecmp', trigger: { k: 'sub', index: ref }, ref, dir,
      off: Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, offNum)),
      ...(base ? { base } : {}), ...(endian ? { endian } : {}), exact,
      len: Number(BigInt.asUintN(32, lenV.value)),
      cmps,
    },
  };
}

// ───────────────────────────── one line ─────────────────────────────

const PCRE_COMPILE_FLAGS = 'ismxAEU';
const PCRE_MATCH_FLAGS = 'gre';

interface LineEnv {
  ctx: LdbContext;
  where: Where;
  /** Column (1-based) of character 0 of the piece's text in its physical line. */
  col: number;
  out: Diagnostic[];
}

function err(env: LineEnv, code: string, message: string, at: number, length: number, help?: string): void {
  env.out.push(diag(env.where, 'error', code, message, env.col + at, length, help));
}

/**
 * subsig := "$" "{" min "-" max "}" group "$"                  macro
 *         | [ Offset ":" ] Trigger "/" regex "/" [ flags ]      PCRE (any "/" makes it one)
 *         | Trigger "(" … "#" … "#" … ")"                       byte compare ("(" and two "#")
 *         | "fuzzy_img#" hash16 [ "#" distance ]              image fuzzy hash
 *         | [ Offset ":" ] HexSig [ "::" modifiers ]            content
 */
function parseSubsig(env: LineEnv, tok: Tok, index: number, name: string, target: number): Subsig | 'drop' | undefined {
  const text = tok.text;
  const at = tok.start;
  if (text[0] === '$') return parseMacro(env, text, at, index);
  if (text.includes('/')) return parsePcreSubsig(env, text, at, index, name, target);
  const hash = text.indexOf('#');
  if (text.includes('(') && hash >= 0 && hash !== text.lastIndexOf('#')) {
    const r = parseByteCompare(text);
    if ('error' in r) { err(env, r.error.code, r.error.message, at + r.error.at, r.error.length); return undefined; }
    // types.ts declares base and endian as always present; ClamAV loads byte compares without
    // them (they never match), which LdbByteCmpSubsig says with optional fields.
    return r.subsig as unknown as Subsig;
  }
  if (text.startsWith('fuzzy_img#')) return parseFuzzy(env, text, at);
  return parseContent(env, text, at, target);
}

/** macro := "${" %u "-" %u "}" %u …"$"  (`sscanf` semantics; the text must end with `$`; group < 32) */
function parseMacro(env: LineEnv, text: string, at: number, index: number): Subsig | undefined {
  if (text[text.length - 1] !== '$') {
    err(env, 'clamav.ldb.macro', 'macro subsignature must end with $', at, text.length, 'write ${min-max}group$');
    return undefined;
  }
  let ok = text[1] === '{';
  const a = ok ? scanU32(text, 2) : undefined;
  const b = a && text[a.end] === '-' ? scanU32(text, a.end + 1) : undefined;
  const g = b && text[b.end] === '}' ? scanU32(text, b.end + 1) : undefined;
  ok = ok && g !== undefined;
  if (!ok || !a || !b || !g) {
    err(env, 'clamav.ldb.macro', `invalid macro subsignature "${text}"`, at, text.length, 'write ${min-max}group$');
    return undefined;
  }
  if (g.value >= 32) {
    err(env, 'clamav.ldb.macro', `macro group ${g.value} is out of range: only 32 groups (0-31) exist`, at, text.length);
    return undefined;
  }
  if (index === 0) {
    env.out.push(diag(env.where, 'warning', 'clamav.ldb.macro-first', 'a macro subsignature refers to the previous subsignature; as subsignature 0 it never matches', env.col + at, text.length));
  }
  return { k: 'macro', min: a.value, max: b.value, group: g.value };
}

/** pcre := [ Offset ":" ] Trigger "/" regex "/" flags   (the regex runs from the first to the last "/") */
function parsePcreSubsig(env: LineEnv, text: string, at: number, index: number, name: string, target: number): Subsig | 'drop' | undefined {
  let offText = '*';
  const offAt = at;
  let sig = text;
  let sigAt = at;
  if (!name.startsWith('YARA')) {
    // Names starting with YARA are not split on ':' (ClamAV's YARA-compiled sigs use that path).
    const toks = ldbTokenize(text, ':', 5, 0);
    if (toks.length === 2) {
      offText = toks[0]!.text;
      sig = toks[1]!.text;
      sigAt = at + toks[1]!.start;
    } else sig = toks[0]!.text;
  }
  const first = sig.indexOf('/');
  const last = sig.lastIndexOf('/');
  if (first === last) {
    err(env, 'clamav.ldb.pcre-delimiter', "PCRE subsignature needs Trigger/regex/: mismatched '/' delimiter", sigAt + Math.max(0, first), 1);
    return undefined;
  }
  if (text[0] === '/') {
    err(env, 'clamav.ldb.pcre-trigger', 'PCRE subsignature must start with a logical trigger (e.g. 0/regex/)', at, 1);
    return undefined;
  }
  const triggerText = sig.slice(0, first);
  const pattern = sig.slice(first + 1, last);
  const flags = sig.slice(last + 1);
  if (triggerText === '' || pattern === '') {
    err(env, 'clamav.ldb.pcre-empty', triggerText === '' ? 'PCRE trigger cannot be empty' : 'PCRE regex cannot be empty', sigAt + (triggerText === '' ? 0 : first), 1);
    return undefined;
  }
  const t = parseLogicalExpr(triggerText, { file: env.where.file, line: env.where.line, column: env.col + sigAt, ...(env.where.sourceLine !== undefined ? { sourceLine: env.where.sourceLine } : {}) });
  env.out.push(...t.diagnostics);
  if (!t.expr) return undefined;
  if (t.maxIndex > index) {
    err(env, 'clamav.ldb.pcre-trigger', `the trigger of PCRE subsignature ${index} refers to a later subsignature (${t.maxIndex})`, sigAt, triggerText.length);
    return undefined;
  }
  if (t.maxIndex === index) {
    err(env, 'clamav.ldb.pcre-trigger', `the trigger of PCRE subsignature ${index} refers to itself`, sigAt, triggerText.length);
    return undefined;
  }
  const off = parseOffset(offText, target, { file: env.where.file, line: env.where.line, column: env.col + offAt, ...(env.where.sourceLine !== undefined ? { sourceLine: env.where.sourceLine } : {}) });
  env.out.push(...off.diagnostics);
  if (!off.offset) return undefined;
  for (let i = 0; i < flags.length; i++) {
    const c = flags[i]!;
    if (!PCRE_COMPILE_FLAGS.includes(c) && !PCRE_MATCH_FLAGS.includes(c)) {
      err(env, 'clamav.ldb.pcre-flag', `unknown PCRE flag '${c}' (flags: g r e i s m x A E U)`, sigAt + last + 1 + i, 1);
      return undefined;
    }
  }
  if (env.ctx.checkPcre) {
    let fatal = false;
    let unsupported = false;
    for (const p of env.ctx.checkPcre(pattern, flags)) {
      env.out.push(diag(env.where, p.severity, p.code, p.message, env.col + sigAt + first + 1 + Math.max(0, Math.min(p.at, pattern.length - 1)), 1));
      if (p.severity === 'error') fatal = true; else unsupported = true;
    }
    if (fatal) return undefined;
    if (unsupported) return 'drop';
  }
  return { k: 'pcre', trigger: t.expr, offset: off.offset, source: pattern, flags };
}

/** fuzzy := "fuzzy_img#" 16 hex digits [ "#" distance ]   (distance must be 0; further "#…" fields are ignored) */
function parseFuzzy(env: LineEnv, text: string, at: number): Subsig | undefined {
  const parts = text.split('#');
  const hash = parts[1] ?? '';
  const dist = parts[2];
  if (dist !== undefined) {
    if (!/^\+?\d+$/.test(dist) || BigInt(dist.replace('+', '')) > 0xffffffffn) {
      err(env, 'clamav.ldb.fuzzy', `invalid hamming distance "${dist}"`, at, text.length);
      return undefined;
    }
    if (BigInt(dist.replace('+', '')) !== 0n) {
      err(env, 'clamav.ldb.fuzzy', 'non-zero hamming distances for image fuzzy hashes are not supported', at, text.length);
      return undefined;
    }
  }
  if (!/^[0-9a-fA-F]{16}$/.test(hash)) {
    err(env, 'clamav.ldb.fuzzy', `image fuzzy hash must be 16 hex digits, not "${hash}"`, at + 'fuzzy_img#'.length, Math.max(1, hash.length));
    return undefined;
  }
  return { k: 'fuzzyImg', hash: hash.toLowerCase(), distance: 0 };
}

/**
 * content := HexSig | Offset ":" HexSig | HexSig ":" any ":" mods | Offset ":" HexSig ":" any ":" mods
 * (split on ':' into at most 5 fields; an odd count means no offset; only 3 or 4 fields carry
 * modifiers, and the field before them may hold anything)
 */
function parseContent(env: LineEnv, text: string, at: number, target: number): Subsig | undefined {
  const toks = ldbTokenize(text, ':', 5, 0);
  const n = toks.length;
  const offTok: Tok | undefined = n % 2 === 0 ? toks[0] : undefined;
  const sigTok = (n % 2 === 1 ? toks[0] : toks[1])!;
  const modTok: Tok | undefined = n === 3 ? toks[2] : n === 4 ? toks[3] : undefined;
  const mods: LdbModifiers = { nocase: false, wide: false, ascii: false, fullword: false };
  if (modTok) {
    for (let i = 0; i < modTok.text.length; i++) {
      const c = modTok.text[i];
      if (c === 'i') mods.nocase = true;
      else if (c === 'w') mods.wide = true;
      else if (c === 'a') mods.ascii = true;
      else if (c === 'f') mods.fullword = true;
      else {
        err(env, 'clamav.ldb.modifier', `unknown subsignature modifier '${c}' (modifiers: i w a f)`, at + modTok.start + i, 1);
        return undefined;
      }
    }
  }
  const loc = { file: env.where.file, line: env.where.line, ...(env.where.sourceLine !== undefined ? { sourceLine: env.where.sourceLine } : {}) };
  const pats = buildContentVariants(sigTok.text, mods, { ...loc, column: env.col + at + sigTok.start });
  env.out.push(...pats.diagnostics);
  if (pats.variants.length === 0) return undefined;
  let offset: OffsetSpec = { kind: 'any' };
  if (offTok) {
    const off = parseOffset(offTok.text, target, { ...loc, column: env.col + at + offTok.start });
    env.out.push(...off.diagnostics);
    if (!off.offset) return undefined;
    offset = off.offset;
  }
  const sub: LdbContentSubsig = { k: 'content', offset, pattern: pats.variants[0]!, mods, variants: pats.variants };
  return sub;
}

// ───────────────────────────── the file ─────────────────────────────

/**
 * Parses a whole `.ldb`/`.ldu` file. Lines are read as ClamAV's `fgets` reads them (pieces of at
 * most 32768 bytes, so a line of 32768 bytes or more is split and fails); a first byte `#` makes
 * a comment; trailing CR/LF are removed; text after a NUL byte is ignored.
 */
export function parseLdb(data: Uint8Array | string, ctx: LdbContext): LdbResult {
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
  const sigs: LdbSig[] = [];
  const diagnostics: Diagnostic[] = [];
  const pieces = linePieces(text);
  if (pieces.length === 0) {
    diagnostics.push({ code: 'clamav.db.empty', severity: 'error', message: 'empty database file', location: { file: ctx.file, line: 0, column: 0 } });
    return { sigs, count: 0, diagnostics };
  }
  for (const piece of pieces) {
    let lineText = piece.raw;
    const nul = lineText.indexOf('\0');
    if (nul >= 0) lineText = lineText.slice(0, nul);
    if (lineText[0] === '#') continue;
    let end = lineText.length;
    while (end > 0 && (lineText[end - 1] === '\n' || lineText[end - 1] === '\r')) end--;
    lineText = lineText.slice(0, end);
    const sig = parseLine(lineText, piece, ctx, diagnostics);
    if (sig) sigs.push(sig);
  }
  return { sigs, count: sigs.length, diagnostics };
}

function parseLine(text: string, piece: { line: number; column0: number; split: boolean }, ctx: LdbContext, diagnostics: Diagnostic[]): LdbSig | undefined {
  const where: Where = {
    file: ctx.file, line: piece.line, sourceLine: text,
    ...(piece.split ? { help: `this line is longer than ${LDB_LINE_BUFFER - 1} bytes; ClamAV reads it in pieces of ${LDB_LINE_BUFFER} bytes and parses each piece as a line` } : {}),
  };
  const env: LineEnv = { ctx, where, col: piece.column0 + 1, out: diagnostics };
  const tokens = ldbTokenize(text, ';', LDB_TOKENS, 2);
  if (tokens.length < 4) {
    err(env, 'clamav.ldb.field-count',
      `expected Name;TargetDescriptionBlock;LogicalExpression;Subsig…, found ${tokens.length} field${tokens.length === 1 ? '' : 's'}${text === '' ? ' (blank line)' : ''}`,
      0, Math.max(1, text.length));
    return undefined;
  }
  const [nameTok, tdbTok, logicTok] = tokens as [Tok, Tok, Tok];
  const name = nameTok.text;
  if (ctx.ignore?.ignores(name, text)) return undefined;

  const logic = parseLogicalExpr(logicTok.text, { file: ctx.file, line: piece.line, column: env.col + logicTok.start, sourceLine: text });
  diagnostics.push(...logic.diagnostics);
  if (!logic.expr) return undefined;
  const count = logic.maxIndex + 1;
  const fields = tokens.length - 3;
  if (count !== fields) {
    const trailing = tokens[tokens.length - 1]!.text === '' ? ' (a trailing ";" adds an empty subsignature)' : '';
    err(env, 'clamav.ldb.subsig-count',
      `the logical expression uses subsignatures 0-${logic.maxIndex} (${count}), but the line has ${fields} subsignature field${fields === 1 ? '' : 's'}${trailing}`,
      logicTok.start, Math.max(1, logicTok.text.length));
    return undefined;
  }
  if (count > ENGINE_LIMITS.maxLdbSubsigs) {
    err(env, 'clamav.ldb.too-many-subsigs', `${count} subsignatures; at most ${ENGINE_LIMITS.maxLdbSubsigs}`, logicTok.start, Math.max(1, logicTok.text.length));
    return undefined;
  }

  const tdb = parseTdb(tdbTok.text);
  if (tdb.kind === 'skip') return undefined;
  if (tdb.kind === 'error') {
    err(env, tdb.code, tdb.message, tdbTok.start + tdb.at, Math.max(1, tdb.length));
    return undefined;
  }
  const cut = name.indexOf(' (Clam)');
  if ((cut >= 0 ? name.slice(0, cut) : name) === '') {
    err(env, 'clamav.ldb.empty-name', 'empty signature name', 0, 1);
    return undefined;
  }

  const subsigs: Subsig[] = [];
  let failed = false;
  let dropped = false;
  for (let i = 0; i < count; i++) {
    const r = parseSubsig(env, tokens[3 + i]!, i, name, tdb.tdb.target);
    if (r === undefined) failed = true;
    else if (r === 'drop') dropped = true;
    else subsigs.push(r);
  }
  if (failed || dropped) return undefined;
  return { name, tdb: tdb.tdb, expr: logic.expr, subsigs, origin: { db: ctx.file, line: piece.line } };
}
