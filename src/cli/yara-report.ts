/**
 * One file scanned with compiled YARA rules, rendered as yara 4.2.3's command line prints it.
 *
 * In: the compiled rules (with their sources, for rule file and line), the file's path and bytes,
 * and the output options. Out: a `FileReport`: the stdout bytes printed before the rule lines
 * (`-D` module data, `console.log` lines), the stderr warnings (too many matches), one event per
 * rule message in yara's callback order (every non-private rule, in rule order, matching or not;
 * only those that are matching or printed are kept) with its rendered text, and the scan error if
 * any (`scanning timed out`, …). `--json` renders one JSON object instead.
 *
 * Why events rather than finished text: yara's `-l` counts matching rules over the whole run and
 * aborts a file at the first rule message once the count is reached, and `-c` counts the messages
 * before that abort. Reports are built where the scan runs (in a worker with `-p`), while the
 * count is applied by the one thread that prints, in file order, so that `-l` and `-c` give the
 * same output whatever the number of threads. The report is plain data (structured-cloneable).
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { YARA_LIMITS } from '../core/limits.js';
import { LineIndex } from '../core/diagnostics.js';
import { YaraScanTimeout, scanYara, scanYaraBlocks, type CompiledYara, type YaraCompileResult, type YaraFileSource } from '../engine/yara/rules.js';
import { YARA_MAX_STRING_MATCHES, type StringMatch } from '../engine/yara/strings.js';
import type { MetaEntry } from '../signatures/yara/ast.js';
import type { CheckedRule } from '../signatures/yara/ir.js';
import { getModule, scanContext } from '../engine/yara/modules/index.js';
import { printModuleData } from '../engine/yara/modules/print.js';
import { YARA_4_2_MODULES } from '../signatures/yara/modules-catalog.js';

/**
 * Paths are handled as byte strings (one character per byte, latin1) so that file names that are
 * not UTF-8 are opened and printed byte for byte, as yara prints them.
 */
export function pathBytes(path: string): Buffer {
  return Buffer.from(path, 'latin1');
}

/** A command-line word (decoded from UTF-8 by Node) as a byte string. */
export function toByteString(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** Bytes of a match kept for printing (YR_CONFIG_MAX_MATCH_DATA); `-L` prints this capped length too. */
export const YARA_MAX_MATCH_DATA = 512;
/** Bytes of a hex-string match printed by `-s` before ` ...`. */
const HEX_SHOWN = 64;

export interface RenderOptions {
  printNamespace: boolean;
  printTags: boolean;
  printMeta: boolean;
  printStrings: boolean;
  printStringLength: boolean;
  printModuleData: boolean;
  negate: boolean;
  tags: readonly string[];
  identifiers: readonly string[];
  fastScan: boolean;
  noWarnings: boolean;
  failOnWarnings: boolean;
  json: boolean;
}

export interface RuleEvent {
  /** Position of the message among the file's rule messages (non-private rules, in rule order). */
  i: number;
  /** The rule matched (counts for `-c` and `-l`). */
  m: boolean;
  /** The text printed for this message (rule line and string lines, a byte string), when it is printed. */
  t?: string;
  /** `--json`: the rule's entry, when it is printed. */
  j?: Record<string, unknown>;
}

export interface FileReport {
  /** stdout bytes before the rule lines: `-D` module data and `console.log` lines. */
  pre: Uint8Array;
  /** stderr text printed before the rule lines (too-many-matches warnings). */
  warnings: string;
  events: RuleEvent[];
  /** What follows `error scanning PATH: ` on stderr. */
  error?: string;
  /** The file was not scanned because the `-a` deadline had passed (directory scans: silent). */
  skipped?: boolean;
  /** `--json`: `console.log` lines, kept out of stdout so that each file stays one JSON line. */
  console?: string[];
}

/** Per rule, what the renderer needs besides the rule: namespace, source file and line. */
export interface RuleInfo {
  rule: CheckedRule;
  namespace: string;
  file: string;
  line: number;
  /** Where its string matchers are: `compiled.groups[group].matchers[pos]`. */
  group: number;
  pos: number;
  /**
   * Per string: yara's STRING_FLAGS_SINGLE_MATCH, i.e. the condition only asks whether the string
   * is found, so `-f` keeps one match of it.
   */
  singleMatch: boolean[];
}

/** The compiled rules with everything rendering needs, built once per process. */
export interface ScanSetup {
  compiled: CompiledYara;
  /** Non-private rules in yara's callback order. */
  rules: RuleInfo[];
  /** Each non-private rule's position in `rules`. */
  ruleIndex: Map<CheckedRule, number>;
  /** Each rule's first string in yara's string order over all rules (for warning order). */
  stringOrder: Map<CheckedRule, number>;
  /** Modules imported, in first-import order (what `-D` prints). */
  modules: string[];
}

/** Builds the setup from a successful compilation (groups are then one per source, in order). */
export function scanSetup(result: YaraCompileResult): ScanSetup | undefined {
  const compiled = result.compiled;
  if (!compiled) return undefined;
  const rules: RuleInfo[] = [];
  const modules: string[] = [];
  const ruleIndex = new Map<CheckedRule, number>();
  const stringOrder = new Map<CheckedRule, number>();
  let order = 0;
  compiled.groups.forEach((g, k) => {
    const p = result.parsed[k];
    const bytes = p ? (typeof p.text === 'string' ? new TextEncoder().encode(p.text) : p.text) : new Uint8Array(0);
    const lines = new LineIndex(bytes);
    for (const imp of p?.ast.imports ?? []) if (!modules.includes(imp.module)) modules.push(imp.module);
    g.rules.forEach((rule, pos) => {
      stringOrder.set(rule, order);
      order += rule.strings.length;
      if (rule.isPrivate) return;
      ruleIndex.set(rule, rules.length);
      rules.push({ rule, namespace: g.namespace, file: p?.file ?? '', line: lines.at(rule.span.start).line, group: k, pos, singleMatch: singleMatchStrings(rule) });
    });
  });
  return { compiled, rules, modules, ruleIndex, stringOrder };
}

/**
 * Which strings of a rule yara marks single-match: all, except those its condition reads with
 * `#`, `@`, `!`, `at` or `in`; such a use of the anonymous `$` inside `for … of` unmarks every
 * string of the rule (as yara's parser does). Uses inside `of` keep the mark.
 */
export function singleMatchStrings(rule: CheckedRule): boolean[] {
  const single = rule.strings.map(() => true);
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object' || node instanceof Uint8Array) return;
    if (Array.isArray(node)) {
      for (const x of node) visit(x);
      return;
    }
    const n = node as { kind?: unknown; string?: unknown; at?: unknown; range?: unknown };
    const k = n.kind;
    const reads = k === 'count' || k === 'offset' || k === 'length' || (k === 'match' && (n.at !== undefined || n.range !== undefined));
    if (reads) {
      if (typeof n.string === 'number') single[n.string] = false;
      else if (n.string === null) single.fill(false);
    }
    for (const [key, v] of Object.entries(node)) if (key !== 'span' && key !== 'type') visit(v);
  };
  visit(rule.condition);
  return single;
}

/** yara's print_escaped: the meta string up to its first NUL, C-escaped, octal for the rest. */
export function escapeMeta(value: Uint8Array): string {
  const C: Record<number, string> = { 7: 'a', 8: 'b', 9: 't', 10: 'n', 11: 'v', 12: 'f', 13: 'r' };
  let out = '';
  for (const b of value) {
    if (b === 0) break;
    if (b === 0x22 || b === 0x27 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b >= 127) out += `\\${b.toString(8).padStart(3, '0')}`;
    else if (b >= 32) out += String.fromCharCode(b);
    else if (C[b]) out += `\\${C[b]}`;
    else out += `\\${b.toString(8).padStart(3, '0')}`;
  }
  return out;
}

/** One `-m` entry: `key="text"`, `key =42` (yara puts a space before `=` for integers), `key=true`. */
export function formatMeta(m: MetaEntry): string {
  const v = m.value;
  if (v.kind === 'int') return `${m.key.name} =${BigInt.asIntN(64, v.value)}`;
  if (v.kind === 'bool') return `${m.key.name}=${v.value ? 'true' : 'false'}`;
  return `${m.key.name}="${escapeMeta(v.value)}"`;
}

/** yara's -s data column: printable ASCII as is, other bytes as \xHH; hex strings as hex pairs. */
export function formatMatchData(data: Uint8Array, hex: boolean): string {
  if (hex) {
    const shown = Array.from(data.subarray(0, HEX_SHOWN), (b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');
    return data.length > HEX_SHOWN ? `${shown} ...` : shown;
  }
  let out = '';
  for (const b of data) out += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

function stringId(name: string): string {
  return name.startsWith('$') ? name : `$${name}`;
}

function hexOf(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
}

/**
 * What `-D` prints for a module the rules import (yr_object_print_data, then a newline): its name
 * and every data member with its value for this file.
 */
function moduleData(name: string, data: Uint8Array): string {
  const m = getModule(name);
  const root = YARA_4_2_MODULES[name];
  if (!m || !root) return name;
  const loaded = m.load ? m.load(scanContext(data, { output: () => undefined })) : undefined;
  return printModuleData(name, root, loaded);
}

/** The rule is printed (before `-n`): yara's `-t` (any tag listed) then `-i` (name listed, overrides `-t`). */
function selected(rule: CheckedRule, o: RenderOptions): boolean {
  let show = true;
  if (o.tags.length > 0) show = rule.tags.some((t) => o.tags.includes(t));
  if (o.identifiers.length > 0) show = o.identifiers.includes(rule.name);
  return show;
}

function ruleText(info: RuleInfo, strings: readonly StringMatch[][] | undefined, data: Uint8Array, path: string, o: RenderOptions): string {
  const { rule } = info;
  let s = o.printNamespace ? `${toByteString(info.namespace)}:` : '';
  s += `${rule.name} `;
  if (o.printTags) s += `[${rule.tags.join(',')}] `;
  if (o.printMeta) s += `[${rule.meta.map(formatMeta).join(',')}] `;
  s += `${path}\n`;
  if ((o.printStrings || o.printStringLength) && strings) {
    rule.strings.forEach((str, k) => {
      if (str.isPrivate) return;
      const hex = str.def.kind === 'hex';
      const id = stringId(str.name);
      for (const x of strings[k] ?? []) {
        const len = Math.min(x.length, YARA_MAX_MATCH_DATA);
        let line = `0x${x.offset.toString(16)}`;
        if (o.printStringLength) line += `:${len}`;
        line += `:${id}`;
        if (o.printStrings) line += `: ${formatMatchData(matchBytes(x, data, len), hex)}`;
        s += `${line}\n`;
      }
    });
  }
  return s;
}

function ruleJson(info: RuleInfo, matched: boolean, strings: readonly StringMatch[][] | undefined, data: Uint8Array): Record<string, unknown> {
  const { rule } = info;
  const out: { id: string; offset: number; length: number; data: string }[] = [];
  rule.strings.forEach((str, k) => {
    if (str.isPrivate) return;
    for (const x of strings?.[k] ?? []) {
      out.push({ id: stringId(str.name), offset: x.offset, length: x.length, data: hexOf(matchBytes(x, data, Math.min(x.length, YARA_MAX_MATCH_DATA))) });
    }
  });
  return {
    rule: rule.name,
    namespace: info.namespace,
    matched,
    tags: rule.tags,
    meta: rule.meta.map((m) => ({
      key: m.key.name,
      value: m.value.kind === 'string' ? Buffer.from(m.value.value).toString('utf8') : m.value.kind === 'int' ? Number(m.value.value) : m.value.value,
    })),
    ruleFile: info.file,
    line: info.line,
    strings: out,
  };
}

/**
 * Scans one file's bytes. `deadline` is a `performance.now()` value; a scan that passes it is
 * reported as yara reports its timeouts (yara checks the clock while it scans; vigil's engine
 * checks it between strings, and the whole scan is checked once more at the end).
 */
export function scanFile(setup: ScanSetup, path: string, target: ScanTarget, o: RenderOptions, deadline?: number): FileReport {
  const consoleLines: string[] = [];
  // A file too large to hold is scanned in blocks: match bytes then come with each match, and
  // strings of rules that did not match (-n -s) are not searched again.
  const data = target instanceof Uint8Array ? target : new Uint8Array(0);
  let result;
  try {
    // yara's fast mode stops looking for a single-match string after its first match, which
    // changes no verdict (the condition only asks whether it is found): scan fully, and keep one
    // match of such strings for printing below.
    const scanOpts = { output: (line: string) => { consoleLines.push(line); }, ...(deadline !== undefined ? { deadline } : {}) };
    result = target instanceof Uint8Array ? scanYara(setup.compiled, target, scanOpts) : scanYaraBlocks(setup.compiled, target, scanOpts);
  } catch (e) {
    if (e instanceof YaraScanTimeout) return { pre: new Uint8Array(0), warnings: '', events: [], error: 'scanning timed out' };
    throw e;
  }
  if (deadline !== undefined && performance.now() > deadline) return { pre: new Uint8Array(0), warnings: '', events: [], error: 'scanning timed out' };

  const byRule = new Map<CheckedRule, StringMatch[][]>();
  for (const m of result.matched) byRule.set(m.rule, m.strings);

  // Strings that reached YR_MAX_STRING_MATCHES: yara warns in scanning order (where the last kept
  // match lies; strings sharing an atom are listed last-defined first).
  let warnings = '';
  if (!o.noWarnings) {
    const full: { rule: string; id: string; at: number; order: number }[] = [];
    for (const { rule, strings } of result.matched) {
      const single = o.fastScan ? singleMatchStrings(rule) : undefined;
      const base = setup.stringOrder.get(rule) ?? 0;
      rule.strings.forEach((str, k) => {
        const list = strings[k];
        if (single?.[k]) return;
        if (list && list.length >= YARA_MAX_STRING_MATCHES) full.push({ rule: rule.name, id: stringId(str.name), at: list[list.length - 1]!.offset, order: base + k + 1 });
      });
    }
    full.sort((a, b) => a.at - b.at || b.order - a.order);
    for (const f of full) {
      warnings += `warning: rule "${f.rule}": too many matches for ${f.id}, results for this rule may be incorrect\n`;
      if (o.failOnWarnings) return { pre: new Uint8Array(0), warnings, events: [], error: `string "${f.id}" in rule "${f.rule}" caused too many matches` };
    }
  }

  const preText: Buffer[] = [];
  if (o.printModuleData && !o.json) for (const m of setup.modules) preText.push(Buffer.from(`${moduleData(m, data)}\n`, 'latin1'));
  if (!o.json) for (const line of consoleLines) preText.push(Buffer.from(`${line}\n`, 'latin1'));

  const events: RuleEvent[] = [];
  // Without -n only matching rules print: visit those alone (in rule order), not every rule.
  const visit: [RuleInfo, number][] = o.negate
    ? setup.rules.map((info, i) => [info, i])
    : result.matched.flatMap((m) => { const i = setup.ruleIndex.get(m.rule); return i === undefined ? [] : [[setup.rules[i]!, i] as [RuleInfo, number]]; });
  visit.forEach(([info, i]) => {
    let strings = byRule.get(info.rule);
    const matching = strings !== undefined;
    const show = selected(info.rule, o) && matching !== o.negate;
    if (!show && !matching) return;
    const ev: RuleEvent = { i, m: matching };
    if (show) {
      const wantStrings = o.json || o.printStrings || o.printStringLength;
      // yara prints the string matches of a rule that did not match too (with -n); the engine
      // reports matches for matching rules only, so those strings are searched here.
      if (!strings && wantStrings) strings = stringMatches(setup, info, data);
      if (strings && o.fastScan) strings = strings.map((list, k) => (info.singleMatch[k] && list.length > 1 ? list.slice(0, 1) : list));
      if (o.json) ev.j = ruleJson(info, matching, strings, data);
      else ev.t = ruleText(info, strings, data, path, o);
    }
    events.push(ev);
  });
  const report: FileReport = { pre: Buffer.concat(preText), warnings, events };
  if (o.json && consoleLines.length > 0) report.console = consoleLines;
  return report;
}

/** The matches of each string of a rule, searched directly (for rules the engine did not report). */
function stringMatches(setup: ScanSetup, info: RuleInfo, data: Uint8Array): StringMatch[][] {
  const matchers = setup.compiled.groups[info.group]?.matchers[info.pos] ?? [];
  return info.rule.strings.map((_, k) => {
    const all = matchers[k]?.findAll(data) ?? [];
    return all.length > YARA_MAX_STRING_MATCHES ? all.slice(0, YARA_MAX_STRING_MATCHES) : all;
  });
}

/** An empty report for a file that could not be scanned. */
export function failedReport(error: string): FileReport {
  return { pre: new Uint8Array(0), warnings: '', events: [], error };
}

/**
 * One file of a directory or list scan, under yara's run deadline: `deadlineSec` is whole seconds
 * since the epoch (yara's `time(NULL) + timeout`); once it has passed no file is started, and a
 * file started earlier gets the whole seconds left.
 */
export function scanListedFile(setup: ScanSetup, path: string, o: RenderOptions, deadlineSec: number): FileReport {
  const nowSec = Math.floor(Date.now() / 1000);
  if (nowSec >= deadlineSec) return { pre: new Uint8Array(0), warnings: '', events: [], skipped: true };
  let target: ScanTarget;
  try {
    target = openTarget(pathBytes(path));
  } catch {
    return failedReport('could not open file');
  }
  try {
    return scanFile(setup, path, target, o, performance.now() + (deadlineSec - nowSec) * 1000);
  } finally {
    if (!(target instanceof Uint8Array)) target.close();
  }
}

/** What is scanned: a file's bytes, or, above `YARA_LIMITS.wholeFileMax`, the file read in blocks. */
export type ScanTarget = Uint8Array | (YaraFileSource & { close(): void });

/** Opens a file to scan (throws as `readFileSync` does when it cannot be read). */
export function openTarget(path: Buffer | string): ScanTarget {
  const fd = openSync(path, 'r');
  let keep = false;
  try {
    const size = fstatSync(fd).size;
    if (size <= YARA_LIMITS.wholeFileMax) return readFileSync(fd);
    keep = true;
    return {
      size,
      read(offset: number, length: number): Uint8Array {
        const buf = Buffer.allocUnsafe(Math.max(0, Math.min(length, size - offset)));
        let got = 0;
        while (got < buf.length) {
          const n = readSync(fd, buf, got, buf.length - got, offset + got);
          if (n === 0) break;
          got += n;
        }
        return buf.subarray(0, got);
      },
      close: () => closeSync(fd),
    };
  } finally {
    if (!keep) closeSync(fd);
  }
}

/** The bytes of a match: kept with it (block scans) or taken from the file's bytes. */
function matchBytes(x: StringMatch, data: Uint8Array, len: number): Uint8Array {
  return x.data ? x.data.subarray(0, len) : data.subarray(x.offset, x.offset + len);
}

/** Reads the file of an `include` as yara opens it; undefined when it cannot be read. */
export function readInclude(path: string): Uint8Array | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}
