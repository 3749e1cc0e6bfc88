/**
 * `vigil yara [options] RULES_FILE... TARGET`: scan a file or directory with YARA rules, printing
 * what `yara` 4.x prints.
 *
 * In: arguments and output streams. Out: `rule target` lines (with `-g` tags, `-s` the matched
 * strings as `0xOFFSET:$id: data`), `-n` for the rules that did not match; compilation errors and
 * warnings on stderr in yara's `file(line): error: message` format; exit code 0, or 1 on any error
 * (as yara). Options supported so far: -s -g -n -r -w -d --strict-escape -v; the others are refused
 * with a message rather than silently ignored.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ExternalValue } from '../signatures/yara/check.js';
import { renderYaraDiagnostics } from '../signatures/yara/render.js';
import { compileYara, scanYara, type YaraSource } from '../engine/yara/rules.js';
import type { StringMatch } from '../engine/yara/strings.js';

export interface YaraDeps {
  stdout: { write(s: string | Uint8Array): unknown };
  stderr: { write(s: string): unknown };
  version: string;
}

const USAGE = 'usage:  vigil yara [OPTION]... [NAMESPACE:]RULES_FILE... FILE | DIR\n';

/** yara's -s data column: printable ASCII as is, other bytes as \xHH; hex strings as hex pairs. */
function formatData(data: Uint8Array, hex: boolean): string {
  if (hex) {
    const shown = Array.from(data.subarray(0, 64), (b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');
    return data.length > 64 ? `${shown} ...` : shown;
  }
  let out = '';
  for (const b of data.subarray(0, 512)) out += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

function parseExternal(text: string): [string, ExternalValue] | undefined {
  const eq = text.indexOf('=');
  if (eq <= 0) return undefined;
  const name = text.slice(0, eq);
  const v = text.slice(eq + 1);
  if (v === 'true' || v === 'false') return [name, v === 'true'];
  if (/^-?\d+$/.test(v)) return [name, BigInt(v)];
  if (/^-?\d+\.\d*$/.test(v)) return [name, Number(v)];
  return [name, v];
}

export async function runYara(argv: string[], deps: YaraDeps): Promise<number> {
  const flags = new Set<string>();
  const externals: Record<string, ExternalValue> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { positional.push(...argv.slice(i + 1)); break; }
    if (a === '-v' || a === '--version') { deps.stdout.write(`${deps.version}\n`); return 0; }
    if (a === '-h' || a === '--help') { deps.stdout.write(USAGE); return 0; }
    if (a === '-d' || a.startsWith('--define=')) {
      const v = a === '-d' ? argv[++i] : a.slice('--define='.length);
      const e = v === undefined ? undefined : parseExternal(v);
      if (!e) { deps.stderr.write(`error: wrong syntax for \`-d\` option.\n`); return 1; }
      externals[e[0]] = e[1];
      continue;
    }
    if (a === '--strict-escape') { flags.add('strict'); continue; }
    if (/^-[sgnrw]+$/.test(a)) { for (const c of a.slice(1)) flags.add(c); continue; }
    if (a.startsWith('-') && a !== '-') {
      deps.stderr.write(`vigil yara: option ${a} is not supported yet\n${USAGE}`);
      return 1;
    }
    positional.push(a);
  }
  if (positional.length < 2) { deps.stderr.write(USAGE); return 1; }
  const target = positional[positional.length - 1]!;
  const sources: YaraSource[] = [];
  for (const file of positional.slice(0, -1)) {
    try {
      sources.push({ file, text: readFileSync(file) });
    } catch {
      deps.stderr.write(`error: could not open file: ${file}\n`);
      return 1;
    }
  }
  const compiled = compileYara(sources, { externals, strictEscape: flags.has('strict') });
  const errors = compiled.diagnostics.filter((d) => d.severity === 'error');
  const shown = flags.has('w') ? errors : compiled.diagnostics;
  for (const p of compiled.parsed) {
    const mine = shown.filter((d) => d.location?.file === p.file);
    if (mine.length > 0) deps.stderr.write(renderYaraDiagnostics(mine, p.text, p.ast));
  }
  const orphan = shown.filter((d) => !compiled.parsed.some((p) => p.file === d.location?.file));
  if (orphan.length > 0) deps.stderr.write(renderYaraDiagnostics(orphan));
  if (!compiled.compiled) return 1;

  let files: string[];
  try {
    files = listTargets(target, flags.has('r'));
  } catch {
    deps.stderr.write(`error: could not open file: ${target}\n`);
    return 1;
  }
  let code = 0;
  for (const file of files) {
    let data: Uint8Array;
    try {
      data = readFileSync(file);
    } catch {
      deps.stderr.write(`error scanning ${file}: could not open file\n`);
      code = 1;
      continue;
    }
    const r = scanYara(compiled.compiled, data, { output: (line) => deps.stdout.write(Buffer.from(`${line}\n`, 'latin1')) });
    if (flags.has('n')) {
      for (const rule of r.notMatched) deps.stdout.write(`${ruleLine(rule.name, rule.tags, flags)} ${file}\n`);
      continue;
    }
    for (const m of r.matched) {
      deps.stdout.write(`${ruleLine(m.rule.name, m.rule.tags, flags)} ${file}\n`);
      if (!flags.has('s')) continue;
      m.rule.strings.forEach((s, i) => {
        if (s.isPrivate) return;
        const list: StringMatch[] = m.strings[i] ?? [];
        const hex = s.def.kind === 'hex';
        for (const x of list) {
          const id = s.name.startsWith('$') ? s.name : `$${s.name}`;
          deps.stdout.write(`0x${x.offset.toString(16)}:${id}: ${formatData(data.subarray(x.offset, x.offset + x.length), hex)}\n`);
        }
      });
    }
  }
  return code;
}

function ruleLine(name: string, tags: readonly string[], flags: ReadonlySet<string>): string {
  return flags.has('g') ? `${name} [${tags.join(',')}]` : name;
}

/** The file itself, or a directory's files in directory order (recursively with -r). */
function listTargets(target: string, recursive: boolean): string[] {
  const st = statSync(target);
  if (!st.isDirectory()) return [target];
  const out: string[] = [];
  for (const name of readdirSync(target)) {
    const p = join(target, name);
    let s;
    try { s = statSync(p); } catch { continue; }
    if (s.isDirectory()) { if (recursive) out.push(...listTargets(p, true)); } else if (s.isFile()) out.push(p);
  }
  return out;
}
