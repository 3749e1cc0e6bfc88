/**
 * vigil's compile diagnostics against `yara` 4.2.3's stderr, on every golden rule file of the
 * yara-parse, yara-check and yara-warnings suites: the same lines (file, line, rule prefix,
 * severity, message) in the same order. Each file of the check and warnings suites is also run
 * "exploded", one token per line, so that a line number pins the exact token yara reports at
 * (one-line rules would hide an off-by-one-token error). Skips when yara is absent.
 *
 * In: the golden `.yar` files. Out: one test per file and form; a failure shows both outputs.
 *
 * What is comparable: yara stops a rule at its first error (and a file at some lexical errors)
 * where vigil reports every error, so a vigil line yara did not print passes when yara printed an
 * error earlier in the same rule or stopped the file (line 0, the end of the input, counts as
 * after every line). A file with a syntax error is checked and its strings compiled as yara does
 * (and as `compileYara` does), so yara's errors and warnings around a syntax error are expected
 * too. Deliberate or known differences are listed below, each with its reason: for those the
 * message is not compared (only that an error was reported at the same line in the same rule),
 * or the line is allowed on one side only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goldenDir, listGoldenCases } from '../helpers/golden.js';
import { yaraFileDiagnostics } from '../../src/engine/yara/warnings.js';
import { renderYaraDiagnostics } from '../../src/signatures/yara/render.js';
import { tokenize } from '../../src/signatures/yara/lexer.js';
import { YARA_4_2_MODULES } from '../../src/signatures/yara/modules-catalog.js';

const YARA = spawnSync('yara', ['--version'], { encoding: 'utf8' });
const SKIP = YARA.status === 0 ? false : 'yara is not installed: differential test skipped';

/** Golden files not compared at all. */
const SKIPPED_FILES: Record<string, string> = {
  'yara-check/with-duplicated-and-out-of-scope': '`with` is YARA 4.3+ syntax; yara 4.2.3 reads `with` as an undefined identifier',
  'yara-parse/strict-escape': 'yara 4.2.3 has no --strict-escape; the warnings are 4.3+ behaviour',
  'yara-check/enumeration-of-strings': 'string enumerations are YARA 4.3+; yara 4.2.3 refuses them (wrong type for enumeration item)',
};

/** yara messages whose wording vigil does not share: only the error's line and rule are compared. */
const WORDING: { yara: RegExp; reason: string }[] = [
  { yara: /^invalid regular expression "[^"]*": bad character range$/, reason: 'regex/parse.ts says "invalid range in character class"' },
];

/** yara lines vigil does not print (in one rule of one file, when `file` is set). */
const YARA_ONLY: { yara: RegExp; file?: string; rule?: string; reason: string }[] = [
  {
    yara: /^syntax error$/,
    reason: 'yara adds a bare "syntax error" after a lexical error (unterminated string, integer overflow…), where vigil reports the lexical error once; and yara 4.2.3 refuses `~` in hex strings, 4.3 syntax vigil accepts',
  },
  {
    yara: /^string "\$a" may slow down scanning$/,
    file: 'modifiers-errors.yar',
    rule: 'm1',
    reason:
      'a hex string followed by `wide`: yara ends the declaration (and warns about the string) before it finds the modifier wrong, where the parser keeps the modifier in the string and marks the rule broken inside it, so the string is not compiled',
  },
];

/** vigil lines yara does not print. */
const VIGIL_ONLY: { vigil: RegExp; reason: string }[] = [
  { vigil: /^expression nested deeper than \d+ levels$/, reason: 'vigil limits nesting (parser DEFAULT_MAX_EXPR_DEPTH); yara has no such limit' },
  { vigil: /^regular expression is too large$/, reason: "vigil's regex program limit is lower than yara's for nested counted repeats" },
  { vigil: /^unterminated comment$/, reason: 'yara 4.2.3 silently accepts a comment left open at the end of the file' },
];

interface Line {
  text: string;
  severity: string;
  rule: string;
  line: number;
  message: string;
}

function parseLine(text: string): Line {
  let m = /^(error|warning): rule "([^"]*)" in .*\((\d+)\): (.*)$/.exec(text);
  if (m) return { text, severity: m[1] as string, rule: m[2] as string, line: Number(m[3]), message: m[4] as string };
  m = /^.*\((\d+)\): (error|warning): (.*)$/.exec(text);
  if (m) return { text, severity: m[2] as string, rule: '', line: Number(m[1]), message: m[3] as string };
  return { text, severity: 'error', rule: '', line: 0, message: text };
}

/** One token per line (a `*` glued to the name before it, and an include's path, stay on their line); comments dropped. */
function explode(source: string): string {
  const bytes = new TextEncoder().encode(source);
  const toks = tokenize(bytes).tokens.filter((t) => t.kind !== 'eof');
  const dec = new TextDecoder('latin1');
  let out = '';
  toks.forEach((t, i) => {
    const s = dec.decode(bytes.subarray(t.span.start, t.span.end)).replace(/\n/g, ' ');
    const prev = toks[i - 1];
    if (prev && prev.span.end === t.span.start && t.text === '*') out += s;
    else if (prev?.kind === 'keyword' && prev.text === 'include') out += ' ' + s; // yara's lexer reads `include "path"` as one token
    else out += (i ? '\n' : '') + s;
  });
  return out + '\n';
}

function compare(file: string, source: string, dir: string): void {
  const path = join(dir, file);
  writeFileSync(path, source);
  const y = spawnSync('yara', [file, '/dev/null'], { cwd: dir, encoding: 'utf8' });
  const yara = y.stderr.split('\n').filter(Boolean).map(parseLine);
  const { ast, diagnostics } = yaraFileDiagnostics(source, file, {
    modules: YARA_4_2_MODULES,
    include: (p) => (existsSync(join(dir, p)) ? readFileSync(join(dir, p)) : undefined),
  });
  const vigil = renderYaraDiagnostics(diagnostics, source, ast).split('\n').filter(Boolean).map(parseLine);
  const problems: string[] = [];
  const used = new Set<number>();
  let last = -1;
  for (const l of yara) {
    const same = (v: Line) => v.severity === l.severity && v.rule === l.rule && v.line === l.line;
    let k = vigil.findIndex((v, i) => !used.has(i) && same(v) && v.message === l.message);
    if (k < 0 && WORDING.some((w) => w.yara.test(l.message))) k = vigil.findIndex((v, i) => !used.has(i) && same(v));
    if (k < 0) {
      if (YARA_ONLY.some((w) => w.yara.test(l.message) && (w.file ?? file) === file && (w.rule ?? l.rule) === l.rule)) continue;
      problems.push(`yara printed, vigil did not: ${l.text}`);
      continue;
    }
    if (k < last) problems.push(`out of yara's order: ${vigil[k]?.text}`);
    last = k;
    used.add(k);
  }
  const failedRules = yara.filter((l) => l.severity === 'error');
  // Line 0 is the end of the input (yara's lexer has no line left there): after every other line.
  const at = (l: Line) => (l.line === 0 ? Infinity : l.line);
  vigil.forEach((v, i) => {
    if (used.has(i)) return;
    if (VIGIL_ONLY.some((w) => w.vigil.test(v.message))) return;
    // yara stops a rule at its first error, and the file at some errors.
    const stoppedBefore = failedRules.some((e) => (e.rule === v.rule && e.rule !== '' && at(e) <= at(v)) || (e.rule === '' && at(e) <= at(v)));
    const yaraStoppedFile = y.status !== 0 && failedRules.length > 0 && failedRules.every((e) => at(e) <= at(v));
    if (stoppedBefore || yaraStoppedFile) return;
    problems.push(`vigil printed, yara did not: ${v.text}`);
  });
  assert.deepEqual(
    problems,
    [],
    `${file}\n--- yara\n${yara.map((l) => l.text).join('\n')}\n--- vigil\n${vigil.map((l) => l.text).join('\n')}`,
  );
}

const work = SKIP ? '' : mkdtempSync(join(tmpdir(), 'vigil-yara-diag-'));
// Files the golden cases include (`.yara`) sit beside them, for yara and vigil alike.
if (work) {
  const inc = goldenDir('yara-warnings');
  for (const f of readdirSync(inc)) if (f.endsWith('.yara')) copyFileSync(join(inc, f), join(work, f));
}

for (const suite of ['yara-parse', 'yara-check', 'yara-warnings']) {
  for (const c of listGoldenCases(goldenDir(suite), '.yar')) {
    if (c.name.endsWith('-v45')) continue; // yara 4.5 dialect: no 4.5 binary to compare with
    const skipped = SKIPPED_FILES[`${suite}/${c.name}`];
    test(`yara diagnostics equal yara's: ${suite}/${c.name}`, { skip: SKIP || skipped || false }, () => {
      compare(`${c.name}.yar`, readFileSync(c.inPath, 'utf8'), work);
    });
    if (suite === 'yara-parse') continue; // exploding would change what a syntax error is about
    test(`yara diagnostics equal yara's, one token per line: ${suite}/${c.name}`, { skip: SKIP || skipped || false }, () => {
      compare(`${c.name}.yar`, explode(readFileSync(c.inPath, 'utf8')), work);
    });
  }
}
