/**
 * vigil against `yara` 4.2.3 on two public rule collections, Neo23x0/signature-base and
 * Yara-Rules/rules: every rule file compiles in vigil exactly where it compiles in yara (with the
 * same first error), and the rules of both collections match the same generated files.
 *
 * In: the collections, unpacked under `$VIGIL_YARA_COLLECTIONS` (default `/work/ext`) as
 * `Neo23x0+signature-base` and `Yara-Rules+rules`; `yara` on the PATH. Out: two tests, which skip
 * with a message saying how to get what is missing (nothing is downloaded at run time).
 *
 * Method. Compilation: each `.yar`/`.yara` file is given alone to `yara -w FILE EMPTY` and to
 * `compileYara`; signature-base gets the external variables its README names (`filename`,
 * `filepath`, `extension`, `filetype`, `owner`, defined as strings, `-d` for yara). yara resolves
 * `include "path"` while lexing, relative to the including file, and the included rules share the
 * includer's namespace; the test does the same by splicing included files into the text before
 * handing it to vigil, so for a file with includes only the message of the first error is
 * compared, not its line. Matching: all files yara compiles (index files aside, their rules are
 * the included ones) are loaded as one set per collection, one namespace per file on both sides;
 * a seeded corpus (test/helpers/prng.ts) embeds the literal text and hex strings of a few rules
 * per file (in their ascii, wide, nocase and xor forms), plus literals of other rules, random bytes
 * and words, and starts some files with `MZ` (never a complete PE, ELF, Mach-O or DEX header, so
 * the format modules see what they see on any other file). `yara -s` and `scanYara` must then
 * give the same `rule file` lines and the same `0xOFFSET:$id` match lines; yara 4.2.3 searches a
 * literal string that the condition uses only as `$a at N` at offset N alone, so vigil's other
 * matches of such strings are left out of the comparison (see `fixedOffsetStrings`).
 * `VIGIL_YARA_CORPUS_FILES` sets the files per collection (default 100).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { compileYara, scanYara, type YaraSource } from '../../src/engine/yara/rules.js';
import type { ExternalValue } from '../../src/signatures/yara/check.js';
import type { CheckedExpr, CheckedRule } from '../../src/signatures/yara/ir.js';
import type { StringDef } from '../../src/signatures/yara/ast.js';
import { renderYaraDiagnostics } from '../../src/signatures/yara/render.js';
import { Prng } from '../helpers/prng.js';

const ROOT = process.env['VIGIL_YARA_COLLECTIONS'] ?? '/work/ext';
const CORPUS_FILES = Number(process.env['VIGIL_YARA_CORPUS_FILES'] ?? '100');
const SEED = process.env['VIGIL_YARA_COLLECTIONS_SEED'] ?? '20261129';

interface Collection {
  dir: string;
  url: string;
  externals: Record<string, ExternalValue>;
}

const COLLECTIONS: Collection[] = [
  {
    dir: 'Neo23x0+signature-base',
    url: 'https://github.com/Neo23x0/signature-base',
    externals: { filename: 'x', filepath: 'x', extension: 'x', filetype: 'x', owner: 'x' },
  },
  { dir: 'Yara-Rules+rules', url: 'https://github.com/Yara-Rules/rules', externals: {} },
];

function skipReason(): string | false {
  const missing = COLLECTIONS.filter((c) => !existsSync(join(ROOT, c.dir)));
  if (missing.length > 0) {
    return `rule collections not found under ${ROOT}: ${missing
      .map((c) => `git clone ${c.url} "${join(ROOT, c.dir)}"`)
      .join(' ; ')} (or set VIGIL_YARA_COLLECTIONS to the directory holding both)`;
  }
  if (spawnSync('yara', ['--version'], { encoding: 'utf8' }).status !== 0) return 'yara is not installed: differential test skipped';
  return false;
}
const SKIP = skipReason();

/** Every `.yar`/`.yara` file under `dir`, sorted. */
function ruleFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(yar|yara)$/.test(name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

const INCLUDE = /^[ \t]*include[ \t]+"([^"]+)"/gm;
const hasIncludes = (file: string): boolean => /^[ \t]*include[ \t]+"/m.test(latin1(readFileSync(file)));
const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** The file's bytes with every `include "p"` replaced by p's text (relative to the includer), recursively. */
function spliceIncludes(file: string, depth = 0): string {
  const text = latin1(readFileSync(file));
  if (depth > 16) return text;
  return text.replace(INCLUDE, (_m, p: string) => spliceIncludes(resolve(dirname(file), p), depth + 1));
}

function defines(externals: Record<string, ExternalValue>): string[] {
  return Object.entries(externals).flatMap(([k, v]) => ['-d', `${k}=${String(v)}`]);
}

/** yara's first stderr line for a file compiled alone (undefined when it compiles). */
function yaraCompile(file: string, externals: Record<string, ExternalValue>, empty: string): Promise<string | undefined> {
  return new Promise((done) => {
    execFile('yara', ['-w', ...defines(externals), file, empty], { encoding: 'latin1', maxBuffer: 1 << 26 }, (_err, _out, stderr) => {
      const first = stderr.split('\n').find((l) => l.trim() !== '');
      done(first);
    });
  });
}

/** vigil's first error for a file compiled alone, in yara's format (undefined when it compiles). */
function vigilCompile(file: string, externals: Record<string, ExternalValue>): string | undefined {
  const source = hasIncludes(file) ? Buffer.from(spliceIncludes(file), 'latin1') : readFileSync(file);
  const r = compileYara([{ file, text: source }], { externals });
  const error = r.diagnostics.find((d) => d.severity === 'error');
  if (!error) return undefined;
  const p = r.parsed.find((x) => x.file === error.location?.file);
  return renderYaraDiagnostics([error], p?.text, p?.ast).trim();
}

/** Runs `jobs` with at most `width` at a time. */
async function pool<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const k = next++;
      out[k] = await (jobs[k] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return out;
}

/** The message of a yara error line, without its location. */
const messageOf = (line: string): string => line.replace(/^error: rule "[^"]*" in .*?\(\d+\): /, '').replace(/^.*?\(\d+\): error: /, '');

interface Verdicts {
  files: string[];
  yara: (string | undefined)[];
}
const verdictCache = new Map<string, Promise<Verdicts>>();

/** yara's verdict on every file of a collection, computed once per run. */
function yaraVerdicts(c: Collection, empty: string): Promise<Verdicts> {
  let v = verdictCache.get(c.dir);
  if (!v) {
    const files = ruleFiles(join(ROOT, c.dir));
    v = pool(files.map((f) => () => yaraCompile(f, c.externals, empty)), 2).then((yara) => ({ files, yara }));
    verdictCache.set(c.dir, v);
  }
  return v;
}

function emptyFile(): { dir: string; empty: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-yara-collections-'));
  const empty = join(dir, 'empty');
  writeFileSync(empty, '');
  return { dir, empty };
}

test('every file of the public rule collections compiles in vigil exactly where it compiles in yara 4.2.3', { skip: SKIP }, async (t) => {
  const { dir, empty } = emptyFile();
  try {
    for (const c of COLLECTIONS) {
      const { files, yara } = await yaraVerdicts(c, empty);
      let yaraOk = 0;
      let vigilOk = 0;
      const disagreements: string[] = [];
      files.forEach((file, k) => {
        const y = yara[k];
        const v = vigilCompile(file, c.externals);
        if (y === undefined) yaraOk++;
        if (v === undefined) vigilOk++;
        const same = y === undefined || v === undefined ? y === v : hasIncludes(file) ? messageOf(y) === messageOf(v) : y === v;
        if (!same) disagreements.push(`${file}\n  yara:  ${y ?? '(compiles)'}\n  vigil: ${v ?? '(compiles)'}`);
      });
      t.diagnostic(`${c.dir}: ${files.length} files, yara compiles ${yaraOk}, vigil compiles ${vigilOk}, ${files.length - disagreements.length} agree`);
      assert.deepEqual(disagreements, [], `${c.dir}: ${disagreements.length} disagreements`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Bytes that a string definition matches (one of its forms), or undefined for regexps and base64. */
function literalOf(def: StringDef, rng: Prng): Uint8Array | undefined {
  const mods = new Set(def.modifiers.map((m) => m.kind));
  if (def.kind === 'regex' || mods.has('base64') || mods.has('base64wide')) return undefined;
  let bytes: number[] = [];
  if (def.kind === 'text') bytes = [...def.value];
  else {
    const emit = (tokens: typeof def.tokens): void => {
      for (const tok of tokens) {
        if (tok.kind === 'byte') bytes.push(tok.negated ? (tok.value ^ 0xff) & 0xff : (tok.value & tok.mask) | (rng.int(0, 255) & ~tok.mask & 0xff));
        else if (tok.kind === 'jump') for (let k = 0; k < tok.min; k++) bytes.push(rng.int(0, 255));
        else emit(rng.pick(tok.alternatives));
      }
    };
    emit(def.tokens);
  }
  if (mods.has('nocase')) bytes = bytes.map((b) => (rng.chance(0.3) && ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7a) ? b ^ 0x20 : b));
  const xor = def.modifiers.find((m) => m.kind === 'xor');
  if (xor) {
    const key = xor.xorRange ? rng.int(xor.xorRange.min, xor.xorRange.max) : rng.int(0, 255);
    bytes = bytes.map((b) => b ^ key);
  }
  if (mods.has('wide') && (!mods.has('ascii') || rng.chance(0.5))) bytes = bytes.flatMap((b) => [b, 0]);
  return Uint8Array.from(bytes);
}

/** Seeded files that make the given rules fire or nearly fire. */
function corpus(rules: CheckedRule[], seed: string, count: number): Uint8Array[] {
  const withStrings = rules.filter((r) => r.strings.length > 0);
  const files: Uint8Array[] = [];
  for (let f = 0; f < count; f++) {
    const rng = new Prng(`${seed}/${f}`);
    const parts: Uint8Array[] = [];
    if (rng.chance(0.4)) parts.push(Uint8Array.of(0x4d, 0x5a), rng.bytes(rng.int(0, 60)));
    else parts.push(Uint8Array.of(0x20 + rng.int(0, 90)));
    for (const rule of rng.sample(withStrings, rng.int(1, 3))) {
      for (const s of rule.strings) {
        if (!rng.chance(0.85)) continue;
        const lit = literalOf(s.def, rng);
        if (!lit) continue;
        parts.push(lit, rng.chance(0.5) ? rng.bytes(rng.int(0, 40)) : Buffer.from(` ${rng.words(rng.int(0, 4))} `, 'latin1'));
      }
    }
    for (let k = 0; k < 3; k++) {
      const s = rng.pick(rng.pick(withStrings).strings);
      const lit = literalOf(s.def, rng);
      if (lit) parts.push(rng.bytes(rng.int(0, 8)), lit);
    }
    parts.push(rng.bytes(rng.int(0, 200)));
    files.push(Buffer.concat(parts));
  }
  return files;
}

/**
 * String indices of a rule that yara 4.2.3 searches at one offset only, with that offset: literal
 * strings (text, or hex without wildcards, jumps or alternatives) whose every use in the condition
 * is `$a at N` with the same constant N. Any other use (`$a`, `#a`, `@a`, `!a`, `in`, sets, `them`)
 * lifts the restriction.
 */
function fixedOffsetStrings(rule: CheckedRule): Map<number, number> {
  const at = new Map<number, number | null>();
  const clear = (s: number | null): void => {
    if (s !== null) at.set(s, null);
  };
  const walk = (e: CheckedExpr | undefined): void => {
    if (!e) return;
    switch (e.kind) {
      case 'match':
        if (e.at && e.at.kind === 'const' && typeof e.at.value === 'bigint' && e.string !== null) {
          const prev = at.get(e.string);
          const off = Number(e.at.value);
          at.set(e.string, prev === undefined || prev === off ? off : null);
        } else clear(e.string);
        walk(e.at);
        walk(e.range?.lo);
        walk(e.range?.hi);
        return;
      case 'count':
      case 'offset':
      case 'length':
        clear(e.string);
        if (e.kind === 'count') {
          walk(e.range?.lo);
          walk(e.range?.hi);
        } else walk(e.index);
        return;
      case 'of':
        if (!e.rules) e.members.forEach(clear);
        walk(e.at);
        walk(e.range?.lo);
        walk(e.range?.hi);
        if (e.quantifier.kind === 'count' || e.quantifier.kind === 'percent') walk(e.quantifier.expr);
        return;
      case 'forOf':
        e.members.forEach(clear);
        walk(e.body);
        if (e.quantifier.kind === 'count' || e.quantifier.kind === 'percent') walk(e.quantifier.expr);
        return;
      default:
        for (const v of Object.values(e)) {
          if (v && typeof v === 'object' && 'kind' in v && 'span' in v) walk(v as CheckedExpr);
          else if (Array.isArray(v)) for (const x of v) if (x && typeof x === 'object' && 'kind' in x && 'span' in x) walk(x as CheckedExpr);
          else if (v && typeof v === 'object') for (const x of Object.values(v)) if (x && typeof x === 'object' && 'kind' in x && 'span' in x) walk(x as CheckedExpr);
        }
    }
  };
  walk(rule.condition ?? undefined);
  const out = new Map<number, number>();
  for (const [s, off] of at) {
    const def = rule.strings[s]?.def;
    const literal = def?.kind === 'text' || (def?.kind === 'hex' && def.tokens.every((t) => t.kind === 'byte' && t.mask === 0xff && !t.negated));
    if (off !== null && off !== undefined && literal) out.set(s, off);
  }
  return out;
}

/** A multiset of lines: `rule path` alone, or with its sorted `0xOFF:$id` match lines after `|`. */
function tally(blocks: string[][], withStrings: boolean): Map<string, number> {
  const m = new Map<string, number>();
  for (const b of blocks) {
    const key = withStrings ? [b[0], ...b.slice(1).sort()].join('|') : (b[0] as string);
    m.set(key, (m.get(key) ?? 0) + 1);
  }
  return m;
}

function difference(a: Map<string, number>, b: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [k, n] of a) for (let i = b.get(k) ?? 0; i < n; i++) out.push(k);
  return out;
}

test('rules of the public collections match the same generated files in vigil and yara 4.2.3', { skip: SKIP }, async (t) => {
  const { dir, empty } = emptyFile();
  try {
    for (const c of COLLECTIONS) {
      const { files, yara } = await yaraVerdicts(c, empty);
      const usable = files.filter((f, k) => yara[k] === undefined && !hasIncludes(f));
      const sources: YaraSource[] = usable.map((file, k) => ({ file, text: readFileSync(file), namespace: `n${k}` }));
      const compiled = compileYara(sources, { externals: c.externals }).compiled;
      assert.ok(compiled, `${c.dir}: vigil refuses the set of files yara compiles`);
      const rules = compiled.groups.flatMap((g) => g.rules);
      const target = mkdtempSync(join(dir, 'corpus-'));
      const data = corpus(rules, `${SEED}/${c.dir}`, CORPUS_FILES);
      const paths = data.map((d, k) => {
        const p = join(target, `f${String(k).padStart(3, '0')}.bin`);
        writeFileSync(p, d);
        return p;
      });

      const fixed = new Map<CheckedRule, Map<number, number>>();
      const vigil: string[][] = [];
      data.forEach((bytes, k) => {
        for (const m of scanYara(compiled, bytes, { output: () => {} }).matched) {
          let f = fixed.get(m.rule);
          if (!f) fixed.set(m.rule, (f = fixedOffsetStrings(m.rule)));
          const block = [`${m.rule.name} ${paths[k] as string}`];
          m.rule.strings.forEach((s, i) => {
            if (s.isPrivate) return;
            const only = f.get(i);
            for (const x of m.strings[i] ?? []) if (only === undefined || x.offset === only) block.push(`0x${x.offset.toString(16)}:${s.name}`);
          });
          vigil.push(block);
        }
      });

      const y = spawnSync('yara', ['-w', '-s', '-p', '1', ...defines(c.externals), ...usable.map((f, k) => `n${k}:${f}`), target], {
        encoding: 'latin1',
        maxBuffer: 1 << 30,
      });
      assert.equal(y.status, 0, `yara failed: ${y.stderr.slice(0, 500)}`);
      const yaraBlocks: string[][] = [];
      for (const line of y.stdout.split('\n')) {
        if (line === '') continue;
        const s = /^0x([0-9a-f]+):(\$[^:]*):/.exec(line);
        if (s && yaraBlocks.length > 0) (yaraBlocks[yaraBlocks.length - 1] as string[]).push(`0x${s[1]}:${s[2]}`);
        else yaraBlocks.push([line]);
      }

      const yRules = tally(yaraBlocks, false);
      const vRules = tally(vigil, false);
      const onlyYara = difference(yRules, vRules);
      const onlyVigil = difference(vRules, yRules);
      const yStrings = tally(yaraBlocks, true);
      const vStrings = tally(vigil, true);
      const stringDiff = [...difference(yStrings, vStrings).map((l) => `yara:  ${l}`), ...difference(vStrings, yStrings).map((l) => `vigil: ${l}`)];
      t.diagnostic(
        `${c.dir}: ${usable.length} files, ${rules.length} rules, ${CORPUS_FILES} generated files; rule lines yara ${yaraBlocks.length}, ` +
          `vigil ${vigil.length}, only yara ${onlyYara.length}, only vigil ${onlyVigil.length}; match lines differ in ${stringDiff.length} blocks`,
      );
      assert.deepEqual({ onlyYara, onlyVigil }, { onlyYara: [], onlyVigil: [] }, `${c.dir}: rule lines differ`);
      assert.deepEqual(stringDiff, [], `${c.dir}: -s match lines differ`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
