/**
 * `vigil yara` command-line parsing, with the rules of yara 4.2.3's own parser (cli/args.c).
 *
 * In: the words after `vigil yara`. Out: the options and the positional words, or the one line
 * yara prints on stderr before exiting with 1 (`unknown option `-Q``, `option `-a` requires an
 * integer argument`, `too many `-s` options`).
 *
 * Why a parser of its own rather than a generic one: a drop-in must accept and refuse exactly
 * what yara does. yara's rules, reproduced here: short flags combine (`-sgm`); a short option that
 * takes a value takes the next word only when it is the last letter of its group (`-sa 5` is an
 * error); long options take a value only as `--name=value`, and a long name matches when the word
 * starts with it followed by the end or `=` (first option in table order wins); a boolean given
 * twice is an error, not a toggle back; string options repeat up to 32 times; integers are read
 * like C `strtol(s, &end, 0)` (decimal, `0x` hex, `0` octal, leading blanks and a sign allowed,
 * an empty value reads as 0); every other word, `-` and `--` included, is positional. vigil adds
 * `--json` and `--strict-escape` at the end of the table.
 */

export interface YaraOptions {
  atomQualityTable?: string;
  compiledRules: boolean;
  count: boolean;
  defines: string[];
  failOnWarnings: boolean;
  fastScan: boolean;
  help: boolean;
  identifiers: string[];
  maxProcessMemoryChunk: number;
  /** yara's `-l`: 0 means no limit. */
  maxRules: number;
  maxStringsPerRule: number;
  moduleData: string[];
  negate: boolean;
  noFollowSymlinks: boolean;
  noWarnings: boolean;
  printMeta: boolean;
  printModuleData: boolean;
  printNamespace: boolean;
  printStats: boolean;
  printStrings: boolean;
  printStringLength: boolean;
  printTags: boolean;
  recursive: boolean;
  scanList: boolean;
  /** yara's `-z`: 0 or less means no limit. */
  skipLarger: number;
  stackSize: number;
  tags: string[];
  /** yara's `-p`; undefined when not given (vigil then scans in the main thread). */
  threads: number | undefined;
  /** Seconds (yara's default is 1,000,000). */
  timeout: number;
  version: boolean;
  /** vigil only: one JSON object per file. */
  json: boolean;
  /** vigil only: refuse unknown escape sequences in regular expressions. */
  strictEscape: boolean;
}

export const YARA_DEFAULT_TIMEOUT = 1_000_000;
export const YARA_DEFAULT_STACK_SIZE = 16384;
export const YARA_DEFAULT_MAX_STRINGS_PER_RULE = 10000;
export const YARA_DEFAULT_MAX_PROCESS_MEMORY_CHUNK = 1073741824;
/** YR_MAX_THREADS: the most `-p` accepts, and yara's default thread count. */
export const YARA_MAX_THREADS = 32;
/** MAX_ARGS_TAG, MAX_ARGS_IDENTIFIER, MAX_ARGS_EXT_VAR, MAX_ARGS_MODULE_DATA. */
const MAX_MULTI = 32;

type Kind = 'bool' | 'long' | 'string';
type Key = keyof YaraOptions;

interface OptionSpec {
  short?: string;
  long: string;
  kind: Kind;
  key: Key;
  multi?: boolean;
  help: string;
  arg?: string;
}

/** yara's option table, in yara's order (it decides which long name matches first and the help). */
export const YARA_OPTION_TABLE: readonly OptionSpec[] = [
  { long: 'atom-quality-table', kind: 'string', key: 'atomQualityTable', help: 'path to a file with the atom quality table', arg: 'FILE' },
  { short: 'C', long: 'compiled-rules', kind: 'bool', key: 'compiledRules', help: 'load compiled rules' },
  { short: 'c', long: 'count', kind: 'bool', key: 'count', help: 'print only number of matches' },
  { short: 'd', long: 'define', kind: 'string', multi: true, key: 'defines', help: 'define external variable', arg: 'VAR=VALUE' },
  { long: 'fail-on-warnings', kind: 'bool', key: 'failOnWarnings', help: 'fail on warnings' },
  { short: 'f', long: 'fast-scan', kind: 'bool', key: 'fastScan', help: 'fast matching mode' },
  { short: 'h', long: 'help', kind: 'bool', key: 'help', help: 'show this help and exit' },
  { short: 'i', long: 'identifier', kind: 'string', multi: true, key: 'identifiers', help: 'print only rules named IDENTIFIER', arg: 'IDENTIFIER' },
  { long: 'max-process-memory-chunk', kind: 'long', key: 'maxProcessMemoryChunk', help: 'set maximum chunk size while reading process memory (default=1073741824)', arg: 'NUMBER' },
  { short: 'l', long: 'max-rules', kind: 'long', key: 'maxRules', help: 'abort scanning after matching a NUMBER of rules', arg: 'NUMBER' },
  { long: 'max-strings-per-rule', kind: 'long', key: 'maxStringsPerRule', help: 'set maximum number of strings per rule (default=10000)', arg: 'NUMBER' },
  { short: 'x', long: 'module-data', kind: 'string', multi: true, key: 'moduleData', help: "pass FILE's content as extra data to MODULE", arg: 'MODULE=FILE' },
  { short: 'n', long: 'negate', kind: 'bool', key: 'negate', help: 'print only not satisfied rules (negate)' },
  { short: 'N', long: 'no-follow-symlinks', kind: 'bool', key: 'noFollowSymlinks', help: 'do not follow symlinks when scanning' },
  { short: 'w', long: 'no-warnings', kind: 'bool', key: 'noWarnings', help: 'disable warnings' },
  { short: 'm', long: 'print-meta', kind: 'bool', key: 'printMeta', help: 'print metadata' },
  { short: 'D', long: 'print-module-data', kind: 'bool', key: 'printModuleData', help: 'print module data' },
  { short: 'e', long: 'print-namespace', kind: 'bool', key: 'printNamespace', help: "print rules' namespace" },
  { short: 'S', long: 'print-stats', kind: 'bool', key: 'printStats', help: "print rules' statistics (not available in vigil)" },
  { short: 's', long: 'print-strings', kind: 'bool', key: 'printStrings', help: 'print matching strings' },
  { short: 'L', long: 'print-string-length', kind: 'bool', key: 'printStringLength', help: 'print length of matched strings' },
  { short: 'g', long: 'print-tags', kind: 'bool', key: 'printTags', help: 'print tags' },
  { short: 'r', long: 'recursive', kind: 'bool', key: 'recursive', help: 'recursively search directories' },
  { long: 'scan-list', kind: 'bool', key: 'scanList', help: 'scan files listed in FILE, one per line' },
  { short: 'z', long: 'skip-larger', kind: 'long', key: 'skipLarger', help: 'skip files larger than the given size when scanning a directory', arg: 'NUMBER' },
  { short: 'k', long: 'stack-size', kind: 'long', key: 'stackSize', help: 'set maximum stack size (default=16384)', arg: 'SLOTS' },
  { short: 't', long: 'tag', kind: 'string', multi: true, key: 'tags', help: 'print only rules tagged as TAG', arg: 'TAG' },
  { short: 'p', long: 'threads', kind: 'long', key: 'threads', help: 'use the specified NUMBER of threads to scan a directory', arg: 'NUMBER' },
  { short: 'a', long: 'timeout', kind: 'long', key: 'timeout', help: 'abort scanning after the given number of SECONDS', arg: 'SECONDS' },
  { short: 'v', long: 'version', kind: 'bool', key: 'version', help: 'show version information' },
  { long: 'json', kind: 'bool', key: 'json', help: 'vigil: print one JSON object per file, with every match' },
  { long: 'strict-escape', kind: 'bool', key: 'strictEscape', help: 'vigil: refuse unknown escape sequences in regular expressions' },
];

export function defaultYaraOptions(): YaraOptions {
  return {
    compiledRules: false, count: false, defines: [], failOnWarnings: false, fastScan: false, help: false,
    identifiers: [], maxProcessMemoryChunk: YARA_DEFAULT_MAX_PROCESS_MEMORY_CHUNK, maxRules: 0,
    maxStringsPerRule: YARA_DEFAULT_MAX_STRINGS_PER_RULE, moduleData: [], negate: false, noFollowSymlinks: false,
    noWarnings: false, printMeta: false, printModuleData: false, printNamespace: false, printStats: false,
    printStrings: false, printStringLength: false, printTags: false, recursive: false, scanList: false, skipLarger: 0,
    stackSize: YARA_DEFAULT_STACK_SIZE, tags: [], threads: undefined, timeout: YARA_DEFAULT_TIMEOUT, version: false,
    json: false, strictEscape: false,
  };
}

const LONG_MAX = 2n ** 63n - 1n;
const LONG_MIN = -(2n ** 63n);

/**
 * C `strtol(text, &end, 0)` with the check `*end == '\0'`: the value, or undefined when characters
 * remain after the number. Out-of-range values saturate as strtol's do.
 */
export function parseCLong(text: string): number | undefined {
  let i = 0;
  while (i < text.length && ' \t\n\v\f\r'.includes(text[i]!)) i++;
  let neg = false;
  if (text[i] === '+' || text[i] === '-') { neg = text[i] === '-'; i++; }
  let base = 10;
  if (text[i] === '0' && (text[i + 1] === 'x' || text[i + 1] === 'X') && /[0-9a-fA-F]/.test(text[i + 2] ?? '')) { base = 16; i += 2; }
  else if (text[i] === '0') base = 8;
  const digits = base === 16 ? /[0-9a-fA-F]/ : base === 8 ? /[0-7]/ : /[0-9]/;
  const start = i;
  let v = 0n;
  while (i < text.length && digits.test(text[i]!)) { v = v * BigInt(base) + BigInt(parseInt(text[i]!, 16)); i++; }
  // No digits at all: strtol leaves `end` at the start of the text, so only "" passes the check.
  if (i === start) return text.length === 0 ? 0 : undefined;
  if (i !== text.length) return undefined;
  if (neg) v = -v;
  if (v > LONG_MAX) v = LONG_MAX;
  if (v < LONG_MIN) v = LONG_MIN;
  return Number(v);
}

export type ParsedYaraArgs = { ok: true; options: YaraOptions; positional: string[] } | { ok: false; stderr: string };

function errorText(kind: 'unknown' | 'too-many' | 'integer' | 'string', arg: string): string {
  switch (kind) {
    case 'unknown': return `unknown option \`${arg}\`\n`;
    case 'too-many': return `too many \`${arg}\` options\n`;
    case 'integer': return `option \`${arg}\` requires an integer argument\n`;
    case 'string': return `option \`${arg}\` requires a string argument\n`;
  }
}

/** Parses `argv` as yara 4.2.3 does; on the first error, the line yara prints (exit code 1). */
export function parseYaraArgs(argv: readonly string[]): ParsedYaraArgs {
  const options = defaultYaraOptions();
  const counts = new Map<OptionSpec, number>();
  const positional: string[] = [];
  const rec = options as unknown as Record<string, unknown>;

  /** Applies one option; returns an error kind, or whether `value` was consumed. */
  const apply = (spec: OptionSpec, value: string | undefined): 'too-many' | 'integer' | 'string' | boolean => {
    const n = counts.get(spec) ?? 0;
    if (n === (spec.multi ? MAX_MULTI : 1)) return 'too-many';
    let used = false;
    if (spec.kind === 'bool') {
      rec[spec.key] = !rec[spec.key];
    } else if (spec.kind === 'long') {
      if (value === undefined) return 'integer';
      const v = parseCLong(value);
      if (v === undefined) return 'integer';
      rec[spec.key] = v;
      used = true;
    } else {
      if (value === undefined) return 'string';
      if (spec.multi) (rec[spec.key] as string[]).push(value);
      else rec[spec.key] = value;
      used = true;
    }
    counts.set(spec, n + 1);
    return used;
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--') && arg.length > 2) {
      const body = arg.slice(2);
      const spec = YARA_OPTION_TABLE.find((o) => body.startsWith(o.long) && (body.length === o.long.length || body[o.long.length] === '='));
      if (!spec) return { ok: false, stderr: errorText('unknown', arg) };
      const eq = arg.indexOf('=');
      const r = apply(spec, eq >= 0 ? arg.slice(eq + 1) : undefined);
      if (typeof r === 'string') return { ok: false, stderr: errorText(r, arg) };
    } else if (arg.startsWith('-') && arg.length > 1 && arg[1] !== '-') {
      for (let j = 1; j < arg.length; j++) {
        const spec = YARA_OPTION_TABLE.find((o) => o.short === arg[j]);
        if (!spec) return { ok: false, stderr: errorText('unknown', arg) };
        const last = j === arg.length - 1;
        const r = apply(spec, last ? argv[i + 1] : undefined);
        if (typeof r === 'string') return { ok: false, stderr: errorText(r, arg) };
        if (r && last) i++;
      }
    } else {
      positional.push(arg);
    }
  }
  return { ok: true, options, positional };
}

/** `vigil yara --help`: yara's help text, with vigil's name and its two extra options. */
export function yaraHelp(version: string): string {
  const lines = [
    `vigil yara ${version}: YARA rules, scanned as yara 4.2.3 does.`,
    'Usage: vigil yara [OPTION]... [NAMESPACE:]RULES_FILE... FILE | DIR',
    '',
    'Mandatory arguments to long options are mandatory for short options too.',
    '',
  ];
  for (const o of YARA_OPTION_TABLE) {
    let left = `  ${o.short ? `-${o.short}` : '     '}${o.short ? ',  ' : ''}--${o.long}`;
    if (o.kind !== 'bool') left += `=${o.arg ?? ''}`;
    lines.push(left.padEnd(43) + o.help);
  }
  return lines.join('\n') + '\n';
}
