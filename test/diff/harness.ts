/**
 * Shared plumbing of the differential tests: choosing the seed, writing the corpus to a temporary
 * directory, scanning every group with a Runner, and comparing results either with the
 * generator's expectations (oracle.test.ts) or with another scanner's (clamav-diff.test.ts).
 *
 * In: a seed (env VIGIL_DIFF_SEED: a number, any text, or `random`), a scale (env
 * VIGIL_DIFF_SCALE, default 1). Out: lists of disagreements, each rendered with the file, the
 * signatures involved, the generator's notes and a one-line repro command. The temporary
 * directory is kept when something disagrees (or with VIGIL_DIFF_KEEP=1) so the repro works.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashString } from '../helpers/prng.js';
import { errorLines, scanTree, shellQuote, treeScanArgs, type RunResult, type Runner, type TreeScan } from './clamscan.js';
import { fileCount, generateCorpus, signatureCount, writeCorpus, type Corpus, type FileCase, type Group, type WrittenCorpus, type WrittenGroup } from './gen-clamav.js';

export const DEFAULT_SEED = 20261129;

export function resolveSeed(): number {
  const env = process.env.VIGIL_DIFF_SEED;
  if (env === undefined || env === '') return DEFAULT_SEED;
  if (env === 'random') return (Math.random() * 0x100000000) >>> 0;
  return /^\d+$/.test(env) ? Number(env) >>> 0 : hashString(env);
}

export function resolveScale(): number {
  const v = Number(process.env.VIGIL_DIFF_SCALE ?? '1');
  return Number.isFinite(v) && v > 0 ? v : 1;
}

export interface Prepared {
  seed: number;
  corpus: Corpus;
  written: WrittenCorpus;
  genMs: number;
  /** Removes the directory unless keep (or VIGIL_DIFF_KEEP=1). Returns the kept path, if any. */
  cleanup(keep: boolean): string | undefined;
}

export function prepare(seed: number, scale = resolveScale()): Prepared {
  const t0 = Date.now();
  const corpus = generateCorpus({ seed, scale });
  const dir = mkdtempSync(join(tmpdir(), `vigil-diff-${seed}-`));
  const written = writeCorpus(corpus, dir);
  const genMs = Date.now() - t0;
  return {
    seed,
    corpus,
    written,
    genMs,
    cleanup(keep) {
      if (keep || process.env.VIGIL_DIFF_KEEP === '1') return dir;
      rmSync(dir, { recursive: true, force: true });
      return undefined;
    },
  };
}

export function corpusStats(p: Prepared): string {
  const files = p.corpus.groups.flatMap((g) => g.files);
  const bytes = files.reduce((a, f) => a + f.bytes.length, 0);
  const hit = files.filter((f) => f.hits.length > 0).length;
  const counted = files.filter((f) => f.counts).length;
  const named = files.filter((f) => f.expectDefault).length;
  const probes = files.filter((f) => f.probe).length;
  return (
    `seed ${p.seed}: ${signatureCount(p.corpus)} signatures, ${fileCount(p.corpus)} files (${(bytes / 1048576).toFixed(1)} MiB) in ${p.corpus.groups.length} groups, ${p.corpus.malformed.length} malformed databases; generated in ${p.genMs} ms. ` +
    `${hit} files expect detections; ${counted} have exact --allmatch counts, ${named} an exact default-mode name, ${probes} are probes of window/buffer behaviour`
  );
}

export function pathOf(wg: WrittenGroup, f: FileCase): string {
  return join(wg.filesDir, f.name);
}

export interface GroupScans {
  wg: WrittenGroup;
  allmatch: TreeScan;
  normal: TreeScan;
}

/** Scans every group twice (--allmatch, and default mode with the summary), two processes at a time. */
export async function scanGroups(run: Runner, written: WrittenCorpus): Promise<GroupScans[]> {
  const jobs: (() => Promise<void>)[] = [];
  const out: GroupScans[] = [];
  for (const wg of written.groups) {
    const known = wg.group.files.map((f) => pathOf(wg, f));
    const slot: Partial<GroupScans> = { wg };
    out.push(slot as GroupScans);
    jobs.push(async () => {
      slot.allmatch = await scanTree(run, { dbPaths: wg.dbPaths, target: wg.filesDir, allmatch: true }, known);
    });
    jobs.push(async () => {
      slot.normal = await scanTree(run, { dbPaths: wg.dbPaths, target: wg.filesDir, allmatch: false, summary: true }, known);
    });
  }
  // Largest first, two at a time.
  const queue = jobs.slice();
  const worker = async (): Promise<void> => {
    for (let j = queue.shift(); j; j = queue.shift()) await j();
  };
  await Promise.all([worker(), worker()]);
  return out;
}

export interface MalformedRun {
  id: string;
  form: string;
  dbPath: string;
  expectError: string | null;
  args: string[];
  result: RunResult;
}

export async function runMalformed(run: Runner, written: WrittenCorpus): Promise<MalformedRun[]> {
  const out: MalformedRun[] = [];
  const queue = written.malformed.slice();
  const worker = async (): Promise<void> => {
    for (let m = queue.shift(); m; m = queue.shift()) {
      const args = ['--no-summary', '-d', m.dbPath, written.probeFile];
      out.push({ id: m.mc.id, form: m.mc.form, dbPath: m.dbPath, expectError: m.mc.expectError, args, result: await run(args) });
    }
  };
  await Promise.all([worker(), worker()]);
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

// ---------------------------------------------------------------------------------------------
// Disagreements

export interface Disagreement {
  group: string;
  file?: FileCase;
  wg?: WrittenGroup;
  mode: 'allmatch' | 'default' | 'exit' | 'summary' | 'malformed';
  what: string;
}

function foundNames(statuses: readonly string[]): string[] {
  return statuses.filter((s) => s.endsWith(' FOUND')).map((s) => s.slice(0, -' FOUND'.length));
}

/** Compares one group's clamscan results with the generator's expectations. */
export function checkExpectations(gs: GroupScans): Disagreement[] {
  const out: Disagreement[] = [];
  const { wg } = gs;
  const g = wg.group;
  const d = (file: FileCase | undefined, mode: Disagreement['mode'], what: string): void => {
    out.push({ group: g.id, ...(file ? { file, wg } : {}), mode, what });
  };
  let anyHit = false;
  for (const f of g.files) {
    const path = pathOf(wg, f);
    const empty = f.kind === 'empty';
    if (f.hits.length > 0) anyHit = true;
    // --allmatch: the set of names, and multiplicities where known.
    const all = gs.allmatch.output.files.get(path);
    if (!all) d(f, 'allmatch', 'no output line for this file');
    else {
      const bad = all.filter((s) => !s.endsWith(' FOUND') && s !== 'OK' && s !== 'Empty file');
      if (bad.length) d(f, 'allmatch', `unexpected status ${bad.join(', ')}`);
      if (empty && !(all.length === 1 && all[0] === 'Empty file')) d(f, 'allmatch', `expected "Empty file", got ${all.join(' | ')}`);
      const got = foundNames(all);
      const gotSet = new Set(got);
      const want = new Set(f.hits);
      const missing = [...want].filter((n) => !gotSet.has(n));
      const extra = [...gotSet].filter((n) => !want.has(n));
      if (missing.length) d(f, 'allmatch', `missing ${missing.join(', ')}`);
      if (extra.length) d(f, 'allmatch', `unexpected ${extra.join(', ')}`);
      if (got.length === 0 && !empty && !all.includes('OK')) d(f, 'allmatch', `no detection but no OK either: ${all.join(' | ')}`);
      if (f.counts && missing.length === 0 && extra.length === 0) {
        for (const [name, n] of Object.entries(f.counts)) {
          const c = got.filter((x) => x === name).length;
          if (c !== n) d(f, 'allmatch', `${name} reported ${c} times, expected ${n}`);
        }
      }
    }
    // Default mode: exactly one line.
    const one = gs.normal.output.files.get(path);
    if (!one) d(f, 'default', 'no output line for this file');
    else if (one.length !== 1) d(f, 'default', `expected one line, got ${one.length}: ${one.join(' | ')}`);
    else {
      const s = one[0] as string;
      if (empty) {
        if (s !== 'Empty file') d(f, 'default', `expected "Empty file", got "${s}"`);
      } else if (f.hits.length === 0) {
        if (s !== 'OK') d(f, 'default', `expected OK, got "${s}"`);
      } else if (!s.endsWith(' FOUND')) d(f, 'default', `expected one of ${f.hits.join(', ')}, got "${s}"`);
      else {
        const name = s.slice(0, -' FOUND'.length);
        if (f.expectDefault !== undefined && name !== f.expectDefault) d(f, 'default', `expected ${f.expectDefault}, got ${name}`);
        else if (!f.hits.includes(name)) d(f, 'default', `reported ${name}, not among the expected ${f.hits.join(', ')}`);
      }
    }
  }
  const wantExit = anyHit ? 1 : 0;
  for (const [mode, scan] of [
    ['allmatch', gs.allmatch],
    ['default', gs.normal],
  ] as const) {
    if (scan.result.exitCode !== wantExit) d(undefined, 'exit', `${mode}: exit code ${scan.result.exitCode}${scan.result.signal ? ` (${scan.result.signal})` : ''}, expected ${wantExit}; stderr: ${scan.result.stderr.trim().split('\n').slice(-3).join(' / ')}`);
    const paths = new Set(scan.output.files.keys());
    if (paths.size !== g.files.length) d(undefined, 'exit', `${mode}: ${paths.size} files in the output, ${g.files.length} in the group`);
  }
  return out;
}

/** Compares two scanners' results for one group (a = reference, b = candidate). */
export function compareScans(a: GroupScans, b: GroupScans, names: [string, string]): Disagreement[] {
  const out: Disagreement[] = [];
  const { wg } = a;
  const g = wg.group;
  const [na, nb] = names;
  for (const f of g.files) {
    const path = pathOf(wg, f);
    for (const mode of ['allmatch', 'default'] as const) {
      const sa = (mode === 'allmatch' ? a.allmatch : a.normal).output.files.get(path) ?? [];
      const sb = (mode === 'allmatch' ? b.allmatch : b.normal).output.files.get(path) ?? [];
      const la = mode === 'allmatch' ? sa.slice().sort() : sa;
      const lb = mode === 'allmatch' ? sb.slice().sort() : sb;
      if (la.join('\n') !== lb.join('\n')) {
        out.push({ group: g.id, file: f, wg, mode, what: `${na}: ${show(la)}\n      ${nb}: ${show(lb)}` });
      }
    }
  }
  for (const mode of ['allmatch', 'default'] as const) {
    const ra = (mode === 'allmatch' ? a.allmatch : a.normal).result;
    const rb = (mode === 'allmatch' ? b.allmatch : b.normal).result;
    if (ra.exitCode !== rb.exitCode) out.push({ group: g.id, mode: 'exit', what: `${mode}: ${na} exited ${ra.exitCode}, ${nb} exited ${rb.exitCode}${rb.stderr ? `; ${nb} stderr: ${rb.stderr.trim().split('\n').slice(-3).join(' / ')}` : ''}` });
    const extra = [...(mode === 'allmatch' ? b.allmatch : b.normal).output.files.keys()].filter((p) => !(mode === 'allmatch' ? a.allmatch : a.normal).output.files.has(p));
    if (extra.length) out.push({ group: g.id, mode: 'exit', what: `${mode}: ${nb} printed lines for paths ${na} did not: ${extra.slice(0, 5).join(', ')}` });
  }
  // Every summary field that does not depend on the clock.
  for (const key of ['Known viruses', 'Scanned directories', 'Scanned files', 'Infected files', 'Total errors', 'Data scanned', 'Data read']) {
    const va = a.normal.output.summary.get(key);
    const vb = b.normal.output.summary.get(key);
    if (va !== vb) out.push({ group: g.id, mode: 'summary', what: `summary "${key}": ${na} ${va ?? '(absent)'}, ${nb} ${vb ?? '(absent)'}` });
  }
  return out;
}

function show(lines: readonly string[]): string {
  if (lines.length === 0) return '(no line)';
  if (lines.length <= 6) return lines.join(' | ');
  return `${lines.slice(0, 6).join(' | ')} | ... (${lines.length} lines)`;
}

/** clamscan's `ERROR:` line and exit code for a malformed database, checked against the expectation. */
export function checkMalformed(runs: readonly MalformedRun[]): Disagreement[] {
  const out: Disagreement[] = [];
  for (const m of runs) {
    const errs = errorLines(m.result.stderr);
    if (m.expectError === null) {
      if (m.result.exitCode !== 0 || errs.length) out.push({ group: 'malformed', mode: 'malformed', what: `${m.id} (${m.form}) should load: exit ${m.result.exitCode}, ${errs.join(' / ') || 'no ERROR line'}\n      repro: ${reproLine('clamscan', m.args)}` });
    } else if (m.result.exitCode !== 2 || !errs.includes(m.expectError)) {
      out.push({ group: 'malformed', mode: 'malformed', what: `${m.id} (${m.form}): expected exit 2 and "${m.expectError}", got exit ${m.result.exitCode} and ${errs.join(' / ') || 'no ERROR line'}\n      repro: ${reproLine('clamscan', m.args)}` });
    }
  }
  return out;
}

/** The same check between two scanners: same exit code, same ERROR line. */
export function compareMalformed(a: readonly MalformedRun[], b: readonly MalformedRun[], names: [string, string]): Disagreement[] {
  const out: Disagreement[] = [];
  const byId = new Map(b.map((m) => [m.id, m]));
  for (const ma of a) {
    const mb = byId.get(ma.id);
    if (!mb) continue;
    const ea = errorLines(ma.result.stderr);
    const eb = errorLines(mb.result.stderr);
    const lineOk = ea.length === 0 ? eb.length === 0 : ea.every((l) => eb.includes(l));
    if (ma.result.exitCode !== mb.result.exitCode || !lineOk) {
      out.push({
        group: 'malformed',
        mode: 'malformed',
        what: `${ma.id} (${ma.form}): ${names[0]} exit ${ma.result.exitCode} ${ea.join(' / ') || '(no ERROR line)'}; ${names[1]} exit ${mb.result.exitCode} ${eb.join(' / ') || '(no ERROR line)'}\n      repro: ${reproLine(names[1], mb.args)}`,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reports

export function reproLine(program: string, args: readonly string[]): string {
  return [program, ...args.map(shellQuote)].join(' ');
}

/** The command that re-runs one file of a group. */
export function reproFor(program: string, wg: WrittenGroup, f: FileCase, allmatch: boolean): string {
  const args = treeScanArgs({ dbPaths: wg.dbPaths, target: pathOf(wg, f), allmatch }).filter((a) => a !== '-r');
  return reproLine(program, args);
}

function sigLines(g: Group, names: readonly string[]): string[] {
  const set = new Set(names);
  return g.sigs.filter((s) => set.has(s.name)).map((s) => `${s.db}: ${s.line.length > 300 ? `${s.line.slice(0, 300)}...` : s.line}`);
}

/** Renders disagreements; at most `max` in full, then a tally by group, mode and family. */
export function formatReport(title: string, list: readonly Disagreement[], program: string, max = 30): string {
  if (list.length === 0) return `${title}: no disagreement`;
  const lines: string[] = [`${title}: ${list.length} disagreement(s)`];
  const tally = new Map<string, number>();
  for (const d of list) {
    const fam = d.file ? d.file.name.replace(/^\d+-/, '').replace(/\.\w+$/, '') : '-';
    const key = `${d.group} ${d.mode} ${fam}${d.file?.probe ? ` [probe: ${d.file.probe}]` : ''}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
  }
  lines.push('  by group / mode / file family:');
  for (const [k, n] of [...tally].sort((x, y) => y[1] - x[1])) lines.push(`    ${String(n).padStart(5)}  ${k}`);
  for (const d of list.slice(0, max)) {
    lines.push('');
    if (!d.file || !d.wg) {
      lines.push(`  [${d.group}] ${d.mode}: ${d.what}`);
      continue;
    }
    const f = d.file;
    lines.push(`  [${d.group}] ${f.name} (${f.kind}, ${f.bytes.length} bytes) ${d.mode}: ${d.what}`);
    lines.push(`      expected hits: ${f.hits.join(', ') || '(none)'}${f.expectDefault ? `; default: ${f.expectDefault}` : ''}${f.counts && Object.keys(f.counts).length ? `; counts: ${JSON.stringify(f.counts)}` : ''}`);
    for (const l of sigLines(d.wg.group, f.sigs)) lines.push(`      sig ${l}`);
    for (const n of f.notes) lines.push(`      note: ${n}`);
    if (f.probe) lines.push(`      probe: ${f.probe}`);
    lines.push(`      repro: ${reproFor(program, d.wg, f, d.mode === 'allmatch')}`);
  }
  if (list.length > max) lines.push('', `  ... and ${list.length - max} more`);
  return lines.join('\n');
}
