/**
 * The contract between YARA modules and the condition evaluator.
 *
 * In: a module declares its structure once (`YaraModule.declarations`: plain values, structures,
 * arrays, dictionaries and overloaded functions, each overload typed argument types → return type)
 * and, per scan, is handed a `ScanContext` (the scanned bytes, the file size, lazily parsed format
 * data and an output sink). Out: values, or `undefined` standing for YARA's UNDEFINED.
 *
 * Why this shape: the semantic checker needs only the declarations (no scan), and the evaluator
 * needs only `load` (per-scan data for structure fields) and the overload implementations. Modules
 * that describe a file format (`pe`, `elf`, `macho`, `dotnet`) fill `load` from `src/formats/`
 * through `ScanContext.formats`, which parses on first use so a rule that never touches a module
 * costs nothing. Value representation follows YARA's types exactly: integers are int64, kept as
 * `bigint` so that 64-bit arithmetic, unsigned comparisons and hex output are exact; floats are
 * IEEE doubles (`number`); strings are byte strings (`Uint8Array`), since YARA strings may hold any
 * byte; YARA's booleans are integers 0/1 but are declared apart so the checker can type `and`/`or`.
 * Implementations never throw on user input: anything YARA would leave undefined (ranges outside
 * the data, NaN results) is returned as `undefined`.
 */

/**
 * The value types of YARA's type system as seen by module declarations. `regexp` occurs only as a
 * function argument type (`pe.exports(/re/)`, `cuckoo.network.dns_lookup(/re/)`), never as a
 * member or a return type.
 */
export type YaraType = 'integer' | 'float' | 'string' | 'boolean' | 'regexp';

/** A runtime value; the variant matches the declared `YaraType`. */
export type YaraValue = bigint | number | Uint8Array | boolean;

/**
 * A regular expression handed to a module function: its source (for messages and caching) and a
 * test with the semantics of YARA's `matches` (some match, possibly empty, starting inside `s`).
 */
export interface YaraRegexp {
  readonly kind: 'regexp';
  readonly source: string;
  test(s: Uint8Array): boolean;
}

/** A function argument: a value, or a regular expression for `r` parameters. */
export type YaraArg = YaraValue | YaraRegexp;

/** Maps a declared type to its runtime representation. */
export interface YaraTypeMap {
  integer: bigint;
  float: number;
  string: Uint8Array;
  boolean: boolean;
  regexp: YaraRegexp;
}

/** Per-scan inputs a module sees. */
export interface ScanContext {
  /**
   * The scanned bytes: the whole file, or, for a file scanned in blocks, its first bytes only
   * (then `read` gives the rest).
   */
  readonly data: Uint8Array;
  /** `filesize` as YARA sees it; normally `data.length`. */
  readonly fileSize: number;
  /**
   * For a file scanned in blocks: bytes [start, end) of the file (undefined when the range is
   * too large to hold, see `YARA_LIMITS.maxRangeRead`).
   */
  readonly read?: (start: number, end: number) => Uint8Array | undefined;
  /** Lazily parsed format data, keyed by format name; each getter parses at most once. */
  readonly formats: LazyFormats;
  /**
   * Where `console` writes its lines (one call per line, without the trailing newline; one
   * character per byte, to be written as Latin-1).
   */
  readonly output: (line: string) => void;
  /** Seconds since the Unix epoch, for `time.now()`; injectable so tests are deterministic. */
  readonly now: () => bigint;
}

/** Lazily parsed format data. A module asks for what it needs; the first request parses. */
export interface LazyFormats {
  get<T>(key: string, parse: (data: Uint8Array) => T): T;
}

/** Builds a `LazyFormats` that memoises each parse by key. */
export function lazyFormats(data: Uint8Array): LazyFormats {
  const cache = new Map<string, unknown>();
  return {
    get<T>(key: string, parse: (d: Uint8Array) => T): T {
      if (cache.has(key)) return cache.get(key) as T;
      const value = parse(data);
      cache.set(key, value);
      return value;
    },
  };
}

/** A scan context over bytes with defaults: output to stdout, clock from the system. */
export function scanContext(data: Uint8Array, options: Partial<Omit<ScanContext, 'data'>> = {}): ScanContext {
  return {
    data,
    fileSize: options.fileSize ?? data.length,
    ...(options.read ? { read: options.read } : {}),
    formats: options.formats ?? lazyFormats(data),
    output: options.output ?? ((line) => process.stdout.write(Buffer.from(`${line}\n`, 'latin1'))),
    now: options.now ?? (() => BigInt(Math.floor(Date.now() / 1000))),
  };
}

/** One overload of a module function: argument types, return type, implementation. */
export interface Overload {
  readonly args: readonly YaraType[];
  readonly returns: YaraType;
  /** YARA version that introduced this overload, when later than the module's `since`. */
  readonly since?: string;
  /**
   * Arguments arrive already typed per `args` (the checker guarantees it) and defined (YARA does
   * not call a function with an undefined argument: the call is undefined). `data` is what the
   * module's `load` returned for this scan.
   */
  readonly impl: (ctx: ScanContext, args: readonly YaraArg[], data: unknown) => YaraValue | undefined;
}

/** A declared member of a module's structure. */
export type Declaration =
  | { readonly kind: 'value'; readonly type: YaraType }
  | { readonly kind: 'struct'; readonly fields: Readonly<Record<string, Declaration>> }
  | { readonly kind: 'array'; readonly element: Declaration }
  | { readonly kind: 'dictionary'; readonly element: Declaration }
  | { readonly kind: 'function'; readonly overloads: readonly Overload[] };

/**
 * Runtime data for a module's non-function members, shaped like its declarations: a value, a
 * record for a struct, an array, a Map for a dictionary; `undefined` anywhere is UNDEFINED.
 */
export type ModuleData =
  | YaraValue
  | undefined
  | { readonly [field: string]: ModuleData }
  | readonly ModuleData[]
  | ReadonlyMap<string, ModuleData>;

export interface YaraModule {
  /** The name used in `import "name"`. */
  readonly name: string;
  /** YARA version that introduced the module (for compatibility notes and version gating). */
  readonly since: string;
  readonly declarations: Readonly<Record<string, Declaration>>;
  /** Per-scan data for the module's fields; modules with only functions omit it. */
  readonly load?: (ctx: ScanContext) => ModuleData;
}

/** Declares a function member from its overloads. */
export function fn(...overloads: Overload[]): Declaration {
  return { kind: 'function', overloads };
}

/**
 * Finds the overload whose argument types equal `args` exactly (YARA resolves overloads by exact
 * argument signature, with integers never promoted to floats).
 */
export function resolveOverload(decl: Declaration, args: readonly YaraType[]): Overload | undefined {
  if (decl.kind !== 'function') return undefined;
  return decl.overloads.find((o) => o.args.length === args.length && o.args.every((t, i) => t === args[i]));
}

/** Calls a module function by name with typed arguments; `undefined` if no overload fits. */
export function callFunction(
  mod: YaraModule,
  name: string,
  ctx: ScanContext,
  args: readonly YaraArg[],
  data?: unknown,
): YaraValue | undefined {
  const decl = mod.declarations[name];
  if (!decl) return undefined;
  const overload = resolveOverload(decl, args.map(typeOfValue));
  if (!overload) return undefined;
  return overload.impl(ctx, args, data);
}

/** The YARA type of a runtime value (numbers are floats, bigints integers). */
export function typeOfValue(v: YaraArg): YaraType {
  if (typeof v === 'bigint') return 'integer';
  if (typeof v === 'number') return 'float';
  if (typeof v === 'boolean') return 'boolean';
  if (v instanceof Uint8Array) return 'string';
  return 'regexp';
}

/** Encodes text as a YARA byte string (UTF-8). */
export function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** A float result as YARA stores it: NaN is how YARA represents an undefined float. */
export function floatResult(x: number): number | undefined {
  return Number.isNaN(x) ? undefined : x;
}

/**
 * Resolves YARA's `(offset, size)` range over the data the way its data functions do: a negative
 * offset or size, or an offset not inside the data (so any offset on empty data), is undefined;
 * a range running past the end is clamped to the end. Returns [start, end) as numbers.
 */
export function resolveRange(ctx: ScanContext, offset: bigint, size: bigint): [number, number] | undefined {
  const len = BigInt(ctx.read ? ctx.fileSize : ctx.data.length);
  if (offset < 0n || size < 0n || offset >= len) return undefined;
  const end = offset + size > len ? len : offset + size;
  return [Number(offset), Number(end)];
}

/** Bytes [start, end) of the scanned file, from `data` or, beyond it, from `read`. */
export function bytesIn(ctx: ScanContext, start: number, end: number): Uint8Array | undefined {
  if (end <= ctx.data.length) return ctx.data.subarray(start, end);
  return ctx.read ? ctx.read(start, end) : ctx.data.subarray(start, end);
}

/** The whole scanned file (undefined when it is scanned in blocks and too large to hold). */
export function allBytes(ctx: ScanContext): Uint8Array | undefined {
  return ctx.read ? bytesIn(ctx, 0, ctx.fileSize) : ctx.data;
}
