/**
 * YARA rules end to end: source text → parsed → checked → compiled string matchers; then
 * bytes → one pass over the atoms of every string → verified string matches → evaluated
 * conditions → the rules that matched, with their evidence.
 *
 * In: rule files (text or bytes) and the bytes of a file to scan. Out: every diagnostic of the
 * compilation (all files, all errors), and per scan the matching rules with the matches of each
 * of their strings.
 *
 * Scanning, as YARA does it: every string contributes atoms (≤ 4 bytes, chosen by quality in
 * strings.ts); all atoms of all rules sit in one `AtomIndex`, so the data is read once whatever
 * the number of rules; each atom hit is verified by its string's matcher. `YaraLayer` holds the
 * matches of one scan and accepts hits from any index that holds the entries of `yaraAtoms`: the
 * rules' own index (`scanYara`), or the index shared with ClamAV's body signatures (`vigil scan`).
 */
import type { Diagnostic } from '../../core/diagnostics.js';
import { YARA_LIMITS } from '../../core/limits.js';
import { checkYara, type ExternalValue, type NamespaceScope } from '../../signatures/yara/check.js';
import type { CheckedRule } from '../../signatures/yara/ir.js';
import { DEFAULT_MODULES } from '../../signatures/yara/modules-catalog.js';
import { parseYara } from '../../signatures/yara/parser.js';
import type { HexToken, RuleFile } from '../../signatures/yara/ast.js';
import { evaluateGroups, YaraScanTimeout } from './eval.js';
import { scanContext } from './modules/types.js';
import { AtomIndex, type AtomSource } from '../atoms.js';
import { compileString, normalizeMatches, YARA_MAX_STRING_MATCHES, type StringMatch, type StringMatcher } from './strings.js';
import { fixedOffsets, needsStringMatch } from './prefilter.js';
import { yaraStringErrors, yaraWarnings } from './warnings.js';

export interface YaraSource {
  file: string;
  text: string | Uint8Array;
  /** yara's `NAMESPACE:RULES_FILE`; `default` when absent. */
  namespace?: string;
}

/**
 * The rules of one source file. Rule references reach the rules of the namespace's earlier
 * files of the same compilation (`prior` of them, numbered first) and this file's.
 */
export interface CompiledGroup {
  namespace: string;
  rules: CheckedRule[];
  /** Rules the namespace's earlier sources define; 0 or absent when this file starts it. */
  prior?: number;
  /** `matchers[rule][string]`; undefined where a string could not be compiled. */
  matchers: (StringMatcher | undefined)[][];
}

export interface CompiledYara {
  groups: CompiledGroup[];
  externals: Record<string, ExternalValue>;
}

export interface YaraCompileResult {
  compiled?: CompiledYara;
  diagnostics: Diagnostic[];
  /** Per source, for rendering diagnostics in yara's format. */
  parsed: { file: string; text: string | Uint8Array; ast: RuleFile }[];
}

/**
 * Compiles several rule files as one set (as `yara` does with several rule arguments): the files
 * of one namespace share their rules, imports and wildcard rule sets, a later file seeing the
 * earlier ones'; files of different namespaces are separate.
 */
export interface CompileYaraOptions {
  externals?: Record<string, ExternalValue>;
  strictEscape?: boolean;
  /** Reads the file of an `include` (the path yara would open); without it includes are not followed. */
  include?: (path: string) => string | Uint8Array | undefined;
  /**
   * Compute yara's performance warnings (slow strings, …); default true. A second compile of
   * sources already compiled once with warnings (a scanning thread's) skips them.
   */
  warnings?: boolean;
}

export function compileYara(sources: readonly YaraSource[], opts: CompileYaraOptions = {}): YaraCompileResult {
  const diagnostics: Diagnostic[] = [];
  const parsed: YaraCompileResult['parsed'] = [];
  const groups: CompiledGroup[] = [];
  const externals = opts.externals ?? {};
  const scopes = new Map<string, NamespaceScope>();
  for (const src of sources) {
    const namespace = src.namespace ?? 'default';
    const mine: Diagnostic[] = [];
    const p = parseYara(src.text, src.file, { strictEscape: !!opts.strictEscape, ...(opts.include ? { include: opts.include } : {}) });
    parsed.push({ file: src.file, text: src.text, ast: p.ast });
    mine.push(...p.diagnostics);
    // The checker runs even after a syntax error: yara reports the semantic errors of the rules
    // it read before and after it.
    const prior = scopes.get(namespace);
    const c = checkYara(p.ast, { modules: DEFAULT_MODULES, externals, source: src.text, file: src.file, ...(prior ? { prior } : {}) });
    scopes.set(namespace, c.scope);
    mine.push(...c.diagnostics);
    const matchers = c.rules.map((rule) => rule.strings.map((s) => {
      const r = compileString(s.def);
      mine.push(...yaraStringErrors(s.def, r.diagnostics, rule.origin?.file ?? src.file, rule.origin?.source ?? src.text));
      return r.matcher;
    }));
    // yara compiles every string it reads, so its string warnings come even from a file with a
    // syntax error; of a broken rule only the strings before the error (the checker kept those).
    const syntaxFailed = p.diagnostics.some((d) => d.severity === 'error');
    const ast = syntaxFailed ? { ...p.ast, rules: p.ast.rules.map((r) => (r.broken ? { ...r, condition: null } : r)) } : p.ast;
    if (opts.warnings !== false) mine.push(...yaraWarnings({ file: src.file, ast, rules: c.rules, matchers, source: src.text }));
    diagnostics.push(...inSourceOrder(mine, src.file));
    if (syntaxFailed) continue;
    groups.push({ namespace, rules: c.rules, matchers, prior: prior?.rules.length ?? 0 });
  }
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics, parsed };
  return { compiled: { groups, externals }, diagnostics, parsed };
}

/**
 * One source's diagnostics (parser, checker, strings, warnings) in source order, so that the first
 * error is the one yara meets first. Diagnostics located in another file (an included one) keep
 * their place after the diagnostic of this file that preceded them; ties keep their order.
 */
function inSourceOrder(ds: readonly Diagnostic[], file: string): Diagnostic[] {
  let line = 0;
  let column = 0;
  const keyed = ds.map((d, seq) => {
    if (d.location?.file === file) ({ line, column } = d.location);
    return { d, line, column, seq };
  });
  keyed.sort((a, b) => a.line - b.line || a.column - b.column || a.seq - b.seq);
  return keyed.map((k) => k.d);
}

export interface YaraRuleMatch {
  rule: CheckedRule;
  /** The namespace of the rule's source. */
  namespace: string;
  /** Matches of each string of the rule, by string index (private strings included). */
  strings: StringMatch[][];
}

export interface ScanYaraOptions {
  /** Where `console.log` lines go. */
  output?: (line: string) => void;
  /** yara's `-f`: a string stops being searched after its first match (so `#a` is at most 1). */
  fastMode?: boolean;
  /** `performance.now()` value after which the scan stops with `YaraScanTimeout` (yara's `-a`). */
  deadline?: number;
  /** Matches kept per string (yara's YR_MAX_STRING_MATCHES unless lowered). */
  maxMatchesPerString?: number;
}

/** Thrown by `scanYara` when `deadline` passes (during matching or evaluation). */
export { YaraScanTimeout };

export interface YaraScanResult { matched: YaraRuleMatch[]; notMatched: CheckedRule[] }

/** Scans bytes with compiled rules in one pass over the data; returns every rule with its verdict. */
export function scanYara(compiled: CompiledYara, data: Uint8Array, opts: ScanYaraOptions = {}): YaraScanResult {
  const layer = new YaraLayer(compiled, data, opts);
  yaraIndex(compiled).scan(data, 0, data.length, layer.onHit);
  return layer.finish();
}

/** A file read by ranges (for files too large to hold whole). */
export interface YaraFileSource {
  size: number;
  /** Bytes [offset, offset + length) of the file (a fresh buffer; shorter only at the end). */
  read(offset: number, length: number): Uint8Array;
}

/**
 * Scans a file in blocks of `YARA_LIMITS.blockSize`, each read with `overlap` bytes on both sides
 * (the longest match a string of these rules can have, capped at `YARA_LIMITS.maxBlockOverlap`),
 * so that a match across a block border is found from the block holding its atom, and found once.
 * Conditions see the first block as `data` and read the rest of the file as they need it
 * (integers anywhere; module ranges up to `YARA_LIMITS.maxRangeRead` bytes).
 */
export function scanYaraBlocks(compiled: CompiledYara, file: YaraFileSource, opts: ScanYaraOptions = {}, block: number = YARA_LIMITS.blockSize): YaraScanResult {
  const overlap = blockOverlap(compiled);
  const head = file.read(0, Math.min(file.size, block));
  const layer = new YaraLayer(compiled, head, opts, true);
  const index = yaraIndex(compiled);
  for (let start = 0; start < file.size; start += block) {
    const end = Math.min(file.size, start + block);
    const lo = Math.max(0, start - overlap);
    const hi = Math.min(file.size, end + overlap);
    const data = lo === 0 && hi <= head.length ? head : file.read(lo, hi - lo);
    layer.window(data, lo);
    index.scan(data, start - lo, end - lo, (entry, pos) => layer.onHit(entry, lo + pos));
    layer.side(start, end, end === file.size);
  }
  return layer.finish({
    size: file.size,
    read: (s, e) => (e - s <= YARA_LIMITS.maxRangeRead ? file.read(s, e - s) : undefined),
  });
}

/** The longest span a match of these rules' strings can have (bounded), for block overlaps. */
function blockOverlap(compiled: CompiledYara): number {
  let most: number = YARA_LIMITS.scanLimit;
  for (const g of compiled.groups) {
    for (const rule of g.rules) {
      for (const s of rule.strings) {
        const def = s.def;
        let span = 0;
        if (def.kind === 'text') {
          const wide = def.modifiers.some((m) => m.kind === 'wide' || m.kind === 'base64wide') ? 2 : 1;
          const b64 = def.modifiers.some((m) => m.kind === 'base64' || m.kind === 'base64wide') ? 2 : 1;
          span = def.value.length * wide * b64;
        } else if (def.kind === 'hex') {
          span = hexSpan(def.tokens);
        }
        // Two bytes more on each side for `fullword` and word-boundary checks.
        most = Math.max(most, span + 4);
      }
    }
  }
  return Math.min(most, YARA_LIMITS.maxBlockOverlap);
}

function hexSpan(tokens: readonly HexToken[]): number {
  let n = 0;
  for (const t of tokens) {
    if (t.kind === 'byte') n += 1;
    else if (t.kind === 'jump') n += t.max === null ? YARA_LIMITS.maxBlockOverlap : t.max;
    else n += Math.max(0, ...t.alternatives.map(hexSpan));
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Atoms: every string's atoms as entries of one index, so that one pass finds them all.

/** One string of one rule, flattened over groups: the unit matches are collected for. */
interface FlatString { group: number; rule: number; string: number; matcher: StringMatcher }

/**
 * The atoms of all strings, numbered as entries. Entries of 2–4 bytes go to an `AtomIndex` (the
 * one of `vigil yara`, or the shared one with ClamAV's body signatures, where they are foreign
 * parts); 1-byte atoms are looked up per byte value; strings whose atom is empty are verified at
 * every position, as YARA does for them.
 */
export interface YaraAtoms {
  /** Entries for an AtomIndex: `part` is the entry id. */
  indexed: AtomSource[];
  /** Entry id → flat string, and → atom number within that string's matcher. */
  entryString: Int32Array;
  entryAtom: Int32Array;
  /** Byte value → entry ids of 1-byte atoms. */
  single: (number[] | undefined)[];
  /** Entry ids of empty atoms. */
  everywhere: number[];
  count: number;
}

/** What a compilation needs for scanning, built once: flat strings, atom entries, empty match rows. */
interface Prepared {
  flat: FlatString[];
  atoms: YaraAtoms;
  index?: AtomIndex;
  /** Per group, per rule: a frozen row of empty match lists (shared by every scan). */
  emptyRows: (readonly (readonly StringMatch[])[])[][];
  /** Per group, per rule: the condition cannot hold without a string match (`prefilter.ts`). */
  needsMatch: boolean[][];
  /** Per group, the rules evaluated on every scan (those that may hold without a match), ascending. */
  alwaysEvaluate: number[][];
  /** Per group, rule, string: the only offset a fixed-offset string is looked for at (`prefilter.ts`). */
  fixed: (number | undefined)[][][];
}

const EMPTY_MATCHES: readonly StringMatch[] = Object.freeze([]);

const atomCache = new WeakMap<CompiledYara, Prepared>();

function prepared(compiled: CompiledYara): Prepared {
  let p = atomCache.get(compiled);
  if (p) return p;
  const flat: FlatString[] = [];
  compiled.groups.forEach((g, gi) => g.matchers.forEach((ms, ri) => ms.forEach((m, si) => { if (m) flat.push({ group: gi, rule: ri, string: si, matcher: m }); })));
  const indexed: AtomSource[] = [];
  const entryString: number[] = [];
  const entryAtom: number[] = [];
  const single: (number[] | undefined)[] = new Array<number[] | undefined>(256).fill(undefined);
  const everywhere: number[] = [];
  flat.forEach((f, k) => f.matcher.atoms.forEach((a, ai) => {
    const id = entryString.length;
    entryString.push(k);
    entryAtom.push(ai);
    if (a.bytes.length >= 2) indexed.push({ part: id, atom: { index: 0, length: a.bytes.length, variants: [a.bytes] } });
    else if (a.bytes.length === 1) (single[a.bytes[0]!] ??= []).push(id);
    else everywhere.push(id);
  }));
  p = {
    flat,
    atoms: { indexed, entryString: Int32Array.from(entryString), entryAtom: Int32Array.from(entryAtom), single, everywhere, count: entryString.length },
    emptyRows: compiled.groups.map((g) => g.rules.map((r) => Object.freeze(r.strings.map(() => EMPTY_MATCHES)))),
    needsMatch: compiled.groups.map((g) => g.rules.map((r) => needsStringMatch(r))),
    alwaysEvaluate: [],
    fixed: compiled.groups.map((g) => g.rules.map((r) => fixedOffsets(r))),
  };
  p.alwaysEvaluate = p.needsMatch.map((rows) => rows.flatMap((needs, i) => (needs ? [] : [i])));
  atomCache.set(compiled, p);
  return p;
}

/** The atoms of compiled rules, for building a shared index (entry ids are stable for given sources). */
export function yaraAtoms(compiled: CompiledYara): YaraAtoms {
  return prepared(compiled).atoms;
}

/** The index of the rules' own atoms (for scanning with YARA rules alone). */
function yaraIndex(compiled: CompiledYara): AtomIndex {
  const p = prepared(compiled);
  return (p.index ??= new AtomIndex(p.atoms.indexed));
}

const DEADLINE_EVERY = YARA_LIMITS.deadlineCheckEvery;

/**
 * The matches of one scan of one layer. Feed it every atom hit (`onHit`, from any index holding
 * the entries of `yaraAtoms`), in increasing position order per entry; a hit seen twice (from
 * overlapping windows) is ignored. `finish` runs the 1-byte and empty atoms, then the conditions.
 */
export class YaraLayer {
  private readonly flat: FlatString[];
  private readonly atoms: YaraAtoms;
  /** Matches per flat string (sparse: only strings that matched), and which strings those are. */
  private readonly found: (StringMatch[] | undefined)[] = [];
  private readonly touched: number[] = [];
  /** Per group, the rules with at least one matching string. */
  private readonly touchedRules: (Set<number> | undefined)[] = [];
  /** Strings that reached the cap (sparse). */
  private readonly full: (true | undefined)[] = [];
  /** Last position seen per entry, when hits may repeat (overlapping windows). */
  private readonly last: Int32Array | undefined;
  private readonly cap: number;
  private ticks = 0;

  private readonly prep: Prepared;

  /**
   * `overlapping`: hits may arrive twice for one position (the windows of a shared pass overlap);
   * they are then deduplicated per entry.
   */
  /** The bytes verification reads (the whole layer, or the current block's window) and where they start. */
  private data: Uint8Array;
  private base = 0;
  /** Scanned in blocks: the side atoms run per block (`side`), match bytes are kept with each match. */
  private blocked = false;

  constructor(private readonly compiled: CompiledYara, private readonly head: Uint8Array, private readonly opts: ScanYaraOptions = {}, overlapping = false) {
    this.data = head;
    const p = prepared(compiled);
    this.prep = p;
    this.flat = p.flat;
    this.atoms = p.atoms;
    this.last = overlapping ? new Int32Array(p.atoms.count).fill(-1) : undefined;
    this.cap = opts.fastMode ? 1 : Math.max(1, Math.min(opts.maxMatchesPerString ?? YARA_MAX_STRING_MATCHES, YARA_MAX_STRING_MATCHES));
  }

  /** An atom hit: entry `entry` at position `pos` of the layer's data. */
  readonly onHit: (entry: number, pos: number) => void = (entry, pos) => {
    const last = this.last;
    if (last) {
      if (pos <= last[entry]!) return;
      last[entry] = pos;
    }
    this.verify(entry, pos);
  };

  private verify(entry: number, pos: number): void {
    if (++this.ticks % DEADLINE_EVERY === 0) this.checkDeadline();
    const k = this.atoms.entryString[entry]!;
    if (this.full[k]) return;
    const got = this.flat[k]!.matcher.verify(this.data, pos - this.base, this.atoms.entryAtom[entry]!);
    if (got.length === 0) return;
    if (this.blocked) {
      // Offsets in the file, and the matched bytes kept while the block is at hand.
      for (const m of got) {
        m.data = this.data.slice(m.offset, m.offset + Math.min(m.length, YARA_LIMITS.maxMatchData));
        m.offset += this.base;
      }
    }
    let list = this.found[k];
    if (!list) {
      this.found[k] = list = [];
      this.touched.push(k);
      const f = this.flat[k]!;
      (this.touchedRules[f.group] ??= new Set()).add(f.rule);
    }
    for (const m of got) list.push(m);
    if (list.length >= this.cap) {
      // Keep at most `cap` distinct offsets; later matches are dropped, as YARA drops them.
      const kept = normalizeMatches(list);
      this.found[k] = kept.length > this.cap ? kept.slice(0, this.cap) : kept;
      if (kept.length >= this.cap) this.full[k] = true;
    }
  }

  private checkDeadline(): void {
    if (this.opts.deadline !== undefined && performance.now() > this.opts.deadline) throw new YaraScanTimeout();
  }

  /** Runs the atoms no index holds, evaluates every rule, and returns the verdicts. */
  /** Block scanning: the next window of the file (`data` holds bytes from file offset `base`). */
  window(data: Uint8Array, base: number): void {
    this.blocked = true;
    this.data = data;
    this.base = base;
  }

  /**
   * The atoms no index holds, for atom positions [from, to) of the layer (file offsets, inside the
   * current window); `atEnd` adds the position just past the data (where an empty atom's string
   * may still match).
   */
  side(from: number, to: number, atEnd: boolean): void {
    const { single, everywhere } = this.atoms;
    const base = this.base, data = this.data;
    // 1-byte atoms: each byte value's occurrences by the native search (few values are used).
    for (let v = 0; v < 256; v++) {
      const ids = single[v];
      if (!ids) continue;
      for (let i = data.indexOf(v, from - base); i !== -1 && i < to - base; i = data.indexOf(v, i + 1)) {
        for (const id of ids) this.verify(id, i + base);
      }
      this.checkDeadline();
    }
    const last = atEnd ? to : to - 1;
    for (const id of everywhere) {
      for (let i = from; i <= last; i++) this.verify(id, i);
    }
    this.checkDeadline();
  }

  /**
   * Evaluates every rule and returns the verdicts. For a layer held whole, the atoms no index
   * holds run first; for a file scanned in blocks (`file`), `head` holds its first bytes and
   * conditions read the rest through `file.read`.
   */
  finish(file?: { size: number; read: (start: number, end: number) => Uint8Array | undefined }): YaraScanResult {
    if (!this.blocked) this.side(0, this.head.length, true);
    const data = this.head;
    const matched: YaraRuleMatch[] = [];
    const scan = scanContext(data, { ...(this.opts.output ? { output: this.opts.output } : {}), ...(file ? { fileSize: file.size, read: file.read } : {}) });
    // Rows of rules with no match stay the shared empty rows; a rule whose condition needs a
    // string match and that has none is false without evaluation (not a candidate below).
    const { emptyRows, fixed } = this.prep;
    const matchesOf = emptyRows.map((rows) => rows.slice());
    for (const k of this.touched) {
      const list = this.found[k]!;
      const f = this.flat[k]!;
      const rows = matchesOf[f.group]!;
      let row = rows[f.rule]!;
      if (row === emptyRows[f.group]![f.rule]) rows[f.rule] = row = row.slice();
      let kept = normalizeMatches(list);
      const at = fixed[f.group]![f.rule]![f.string];
      if (at !== undefined) kept = kept.filter((m) => m.offset === at);
      (row as StringMatch[][])[f.string] = kept.length > this.cap ? kept.slice(0, this.cap) : kept;
    }
    // Per group, the rules to evaluate: those that may hold without a match, and those with one.
    const candidates = this.prep.alwaysEvaluate.map((always, gi) => {
      const hit = this.touchedRules[gi];
      if (!hit || hit.size === 0) return always;
      const all = new Set(always);
      for (const r of hit) all.add(r);
      return [...all].sort((x, y) => x - y);
    });
    const verdictsOf = evaluateGroups(
      this.compiled.groups.map((g, gi) => ({
        namespace: g.namespace, rules: g.rules, matches: matchesOf[gi]!, ...(g.prior ? { prior: g.prior } : {}),
        candidates: candidates[gi]!,
      })),
      { data, fileSize: file ? file.size : data.length, externals: this.compiled.externals, scan, ...(this.opts.deadline !== undefined ? { deadline: this.opts.deadline } : {}) },
    );
    this.compiled.groups.forEach((g, gi) => {
      const matches = matchesOf[gi]!;
      const verdicts = verdictsOf[gi]!;
      for (let i = 0; i < verdicts.length; i++) {
        if (!verdicts[i]) continue;
        const rule = g.rules[i]!;
        if (!rule.isPrivate) matched.push({ rule, namespace: g.namespace, strings: (matches[i] ?? []) as StringMatch[][] });
      }
    });
    // Most rules do not match: the list of those is built only when asked for.
    const groups = this.compiled.groups;
    let notMatched: CheckedRule[] | undefined;
    return {
      matched,
      get notMatched(): CheckedRule[] {
        notMatched ??= groups.flatMap((g, gi) => g.rules.filter((rule, i) => !rule.isPrivate && !verdictsOf[gi]![i]));
        return notMatched;
      },
    };
  }
}
