/**
 * The YARA part of the benchmark: `vigil yara` against `yara` 4.x on the same generated rules and
 * the same files, in the same run.
 *
 * In: the benchmark corpus (bench/corpus.ts, cached under bench/out/), a seed, a rule count
 * (default 2,000) and a size (default 256 MiB): the first corpus files in manifest order up to
 * that size are hard-linked into `bench/out/yara-<corpus>-z<size>/` (no copy; regular files for
 * both tools). Out: a report on stdout: the rule set's make-up, then for `yara -r -p 1`,
 * `yara -r -p 2`, `vigil yara -r` and `vigil yara -r -p 2` the wall time, CPU time, throughput
 * (bytes ÷ (wall − load time), MB/s; the load time is the median of scanning one tiny file with
 * the same rules), peak RSS and the ratio to yara with the same thread count; and whether each
 * printed the same set of `rule file` lines as `yara -p 1`.
 *
 * The rules have the shapes of real rule sets: text strings (with nocase, wide, ascii wide,
 * fullword, small xor ranges, base64), hex strings with wildcards, nibbles, alternatives and short
 * jumps, a few regular expressions with literal parts, and conditions over `any`/`all`/`N of`,
 * counts, offsets, ranges, `filesize` and header integers. None is slow on purpose: every string
 * has a literal of at least four bytes to anchor it. About 5% of the rules use words taken from
 * the corpus's own text, so that matches are found and compared. Written to
 * `bench/out/yara-rules-s<seed>-n<count>.yar`, regenerated when missing.
 */
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { Prng } from '../test/helpers/prng.js';
import type { CorpusManifest } from './corpus.js';
import { formatBytes, median, runMeasured, type Measured } from './util.js';

export interface YaraBenchOptions {
  seed: number;
  rules: number;
  /** Bytes of corpus to scan (at least this much, whole files). */
  size: number;
  runs: number;
  keep: boolean;
}

const TOKENS = [
  'CreateRemoteThread', 'VirtualAllocEx', 'WriteProcessMemory', 'GetProcAddress', 'LoadLibraryA', 'URLDownloadToFile',
  'ShellExecuteW', 'RegSetValueEx', 'InternetOpenUrl', 'WinHttpSendRequest', 'CryptEncrypt', 'IsDebuggerPresent',
  'powershell -enc', 'cmd.exe /c', 'rundll32.exe', 'schtasks /create', 'vssadmin delete', 'bcdedit /set',
  'Software\\Microsoft\\Windows\\CurrentVersion\\Run', 'HKEY_LOCAL_MACHINE', 'User-Agent: Mozilla', 'Content-Type:',
  'eval(base64_decode', 'document.write(unescape', 'FromBase64String', 'System.Reflection.Assembly',
  '/bin/sh -c', 'chmod 777', 'wget http', 'curl -s', '/etc/passwd', 'LD_PRELOAD', 'stratum+tcp', 'xmrig',
  'mimikatz', 'sekurlsa', 'lsass.exe', 'NtQueryInformationProcess', 'ZwUnmapViewOfSection', 'SeDebugPrivilege',
];

function hexByte(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}

function escapeText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/** A literal unlikely to be in the corpus by chance: a token with a random tag around it. */
function literal(rng: Prng): string {
  const t = rng.pick(TOKENS);
  const tag = rng.word(3, 6);
  return rng.int(0, 1) ? `${t}_${tag}` : `${tag}${t}`;
}

function textString(rng: Prng, words: readonly string[]): string {
  const fromCorpus = words.length > 0 && rng.int(0, 99) < 5;
  const value = fromCorpus ? rng.pick(words) : literal(rng);
  const mod = fromCorpus
    ? rng.pick(['', ' fullword', ' nocase'])
    : rng.pick(['', '', '', ' nocase', ' wide', ' ascii wide', ' fullword', ' wide nocase', ' xor(1-8)', ' base64', ' ascii wide nocase']);
  return `"${escapeText(value)}"${mod}`;
}

function hexString(rng: Prng): string {
  const parts: string[] = [];
  // A fixed run of 4–6 bytes first: the atom.
  const lead = rng.int(4, 6);
  for (let i = 0; i < lead; i++) parts.push(hexByte(rng.int(0, 255)));
  const more = rng.int(2, 5);
  for (let i = 0; i < more; i++) {
    const k = rng.int(0, 9);
    if (k < 4) parts.push(hexByte(rng.int(0, 255)));
    else if (k < 6) parts.push('??');
    else if (k < 7) parts.push(`${hexByte(rng.int(0, 255))[0]}?`);
    else if (k < 8) parts.push(`[${rng.int(1, 4)}-${rng.int(5, 16)}]`);
    else if (k < 9) parts.push(`( ${hexByte(rng.int(0, 255))} | ${hexByte(rng.int(0, 255))} ${hexByte(rng.int(0, 255))} )`);
    else parts.push(hexByte(rng.int(0, 255)));
  }
  parts.push(hexByte(rng.int(0, 255)));
  return `{ ${parts.join(' ')} }`;
}

function regexString(rng: Prng): string {
  const w = rng.word(4, 7);
  return rng.pick([
    `/${w}[0-9]{2,6}\\.(exe|dll|sys)/`,
    `/https?:\\/\\/[a-z0-9]{3,12}\\.${w}\\.(com|net|org)/`,
    `/${w}_[A-Za-z]{4,10}\\(/`,
    `/[A-Z]{2}${w}[0-9a-f]{8}/ nocase`,
    `/\\\\[a-z]{3,8}\\\\${w}/`,
  ]);
}

function condition(rng: Prng, n: number): string {
  const base = rng.pick(['any of them', 'any of them', 'all of them', n >= 2 ? '2 of them' : 'any of them', '#s0 > 1 and all of them', '$s0 and any of them']);
  const extra = rng.pick([
    '', '', '',
    ' and filesize < 20MB',
    ' and @s0[1] < 1048576',
    ` and $s0 in (0..${rng.int(4096, 1 << 20)})`,
    ' and (uint16(0) == 0x5A4D or uint32(0) == 0x464C457F)',
    ' and for any i in (1..#s0) : (@s0[i] > 16)',
    ' and not $s0 at 0',
  ]);
  return `${base}${extra}`;
}

/** Deterministic rule set of `count` rules; `words` are taken from the corpus (for hits). */
export function generateYaraRules(seed: number, count: number, words: readonly string[]): { text: string; stats: Record<string, number> } {
  const rng = new Prng(seed).fork('yara-rules');
  const stats = { rules: count, text: 0, hex: 0, regex: 0 };
  const out: string[] = [];
  for (let r = 0; r < count; r++) {
    const n = rng.int(1, 4);
    const strings: string[] = [];
    for (let i = 0; i < n; i++) {
      const k = rng.int(0, 99);
      let s: string;
      if (k < 60) { s = textString(rng, words); stats.text++; }
      else if (k < 92) { s = hexString(rng); stats.hex++; }
      else { s = regexString(rng); stats.regex++; }
      strings.push(`    $s${i} = ${s}`);
    }
    const tags = rng.int(0, 2) === 0 ? ` : ${rng.pick(['trojan', 'dropper', 'miner', 'webshell', 'apt'])}` : '';
    out.push([
      `rule bench_${String(r).padStart(4, '0')}${tags} {`,
      '  meta:',
      `    author = "bench"`,
      `    id = ${r}`,
      '  strings:',
      ...strings,
      '  condition:',
      `    ${condition(rng, n)}`,
      '}',
    ].join('\n'));
  }
  return { text: out.join('\n\n') + '\n', stats };
}

/** Words of 7–14 letters from the corpus's first text files, for rules that find something. */
function corpusWords(filesDir: string, corpus: CorpusManifest): string[] {
  const seen = new Set<string>();
  for (const f of corpus.files.filter((x) => x.kind === 'text' || x.kind === 'source').slice(0, 4)) {
    const text = readFileSync(join(filesDir, f.path)).subarray(0, 65536).toString('latin1');
    for (const w of text.match(/\b[a-z]{7,14}\b/g) ?? []) seen.add(w);
  }
  return [...seen].sort().slice(0, 400);
}

/** The first files of the corpus up to `size` bytes, hard-linked (copied across file systems). */
function subset(outDir: string, filesDir: string, corpus: CorpusManifest, size: number): { dir: string; bytes: number; files: number } {
  const dir = join(outDir, `yara-${corpus.key}-z${size}`);
  const done = join(dir, '.complete');
  let bytes = 0;
  const chosen: string[] = [];
  for (const f of corpus.files) {
    if (bytes >= size) break;
    chosen.push(f.path);
    bytes += f.size;
  }
  if (!existsSync(done)) {
    rmSync(dir, { recursive: true, force: true });
    for (const rel of chosen) {
      const to = join(dir, 'files', rel);
      mkdirSync(dirname(to), { recursive: true });
      try { linkSync(join(filesDir, rel), to); } catch { copyFileSync(join(filesDir, rel), to); }
    }
    writeFileSync(done, `${chosen.length} ${bytes}\n`);
  }
  return { dir: join(dir, 'files'), bytes, files: chosen.length };
}

/** `rule path` lines (yara's default output), as a set. */
function ruleLines(stdout: string): Set<string> {
  return new Set(stdout.split('\n').filter((l) => l.length > 0 && !l.startsWith('warning') && !l.startsWith('error')));
}

interface Run {
  label: string;
  threads: number;
  tool: 'yara' | 'vigil';
  m?: Measured;
  load: number;
  mbps: number;
  lines?: Set<string>;
}

function fmt(v: number | undefined, digits: number, unit = ''): string {
  return v === undefined || !Number.isFinite(v) ? '—' : `${v.toFixed(digits)}${unit}`;
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? '—' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

/** Runs the YARA comparison and prints its report through `log`. */
export async function runYaraBench(o: YaraBenchOptions, ctx: { root: string; outDir: string; scratch: string; filesDir: string; corpus: CorpusManifest; log: (s?: string) => void }): Promise<{ rulesPath: string; dir: string; bytes: number }> {
  const { log } = ctx;
  log('YARA: yara and vigil yara on the same rules and files');
  const yv = spawnSync('yara', ['--version'], { encoding: 'utf8' });
  const haveYara = yv.status === 0;
  log(`  yara: ${haveYara ? yv.stdout.trim() : 'not installed (only vigil is measured)'}`);
  const words = corpusWords(ctx.filesDir, ctx.corpus);
  const rulesPath = join(ctx.outDir, `yara-rules-s${o.seed}-n${o.rules}.yar`);
  const gen = generateYaraRules(o.seed, o.rules, words);
  if (!existsSync(rulesPath) || readFileSync(rulesPath, 'utf8') !== gen.text) {
    writeFileSync(`${rulesPath}.tmp`, gen.text);
    renameSync(`${rulesPath}.tmp`, rulesPath);
  }
  log(`  rules: ${rulesPath} — ${gen.stats.rules} rules, ${gen.stats.text} text, ${gen.stats.hex} hex, ${gen.stats.regex} regex strings (${formatBytes(statSync(rulesPath).size)})`);
  const sub = subset(ctx.outDir, ctx.filesDir, ctx.corpus, o.size);
  log(`  files: ${sub.dir} — ${sub.files} files, ${formatBytes(sub.bytes)} (the first corpus files, hard-linked)`);
  const tiny = join(ctx.scratch, 'yara-tiny.txt');
  writeFileSync(tiny, 'a tiny file for timing rule loading\n');
  let statsN = 0;
  const stats = (): string => join(ctx.scratch, `yara-rusage-${statsN++}.txt`);
  const bin = join(ctx.root, 'bin', 'vigil.js');
  const cmd = (tool: 'yara' | 'vigil', args: string[]): [string, string[]] =>
    tool === 'yara' ? ['yara', ['-w', ...args]] : [process.execPath, [bin, 'yara', '-w', ...args]];
  const timeoutMs = 60 * 60_000;
  log('  load: median wall time of scanning one tiny file with the rules; throughput = bytes / (wall − load), MB = 10^6 bytes.');

  const loads = new Map<string, number>();
  for (const tool of ['yara', 'vigil'] as const) {
    if (tool === 'yara' && !haveYara) continue;
    const times: number[] = [];
    for (let k = 0; k < o.runs; k++) {
      const [p, a] = cmd(tool, [rulesPath, tiny]);
      const m = await runMeasured(p, a, { timeoutMs, statsFile: stats() });
      if (m.exitCode !== 0) {
        log(`  ${tool} load failed (exit ${m.exitCode}): ${m.stderr.split('\n').slice(0, 5).join(' | ')}`);
        break;
      }
      times.push(m.wallSec);
    }
    if (times.length > 0) loads.set(tool, median(times));
    log(`  ${tool} load: ${fmt(loads.get(tool), 3, ' s')}`);
  }

  const runs: Run[] = [];
  const plan: { tool: 'yara' | 'vigil'; threads: number; label: string }[] = [
    { tool: 'yara', threads: 1, label: 'yara -r -p 1' },
    { tool: 'yara', threads: 2, label: 'yara -r -p 2' },
    { tool: 'vigil', threads: 1, label: 'vigil yara -r' },
    { tool: 'vigil', threads: 2, label: 'vigil yara -r -p 2' },
  ];
  for (const p of plan) {
    if (!loads.has(p.tool)) continue;
    const args = p.tool === 'vigil' && p.threads === 1 ? ['-r', rulesPath, sub.dir] : ['-r', '-p', String(p.threads), rulesPath, sub.dir];
    const [prog, a] = cmd(p.tool, args);
    log(`  running ${p.label} …`);
    const m = await runMeasured(prog, a, { timeoutMs, statsFile: stats() });
    if (o.keep) writeFileSync(join(ctx.scratch, `${p.label.replace(/\W+/g, '_')}.stdout`), m.stdout);
    const load = loads.get(p.tool) ?? 0;
    const run: Run = { ...p, m, load, mbps: sub.bytes / 1e6 / Math.max(1e-3, m.wallSec - load) };
    if (m.exitCode === 0 && !m.timedOut) run.lines = ruleLines(m.stdout);
    else log(`    failed (exit ${m.exitCode}${m.timedOut ? ', timed out' : ''}): ${m.stderr.split('\n').slice(0, 5).join(' | ')}`);
    runs.push(run);
  }

  log();
  log(`  ${formatBytes(sub.bytes)} in ${sub.files} files, ${o.rules} rules; ratio = vigil / yara with the same thread count (above 1× is better for vigil on throughput, below 1× on memory).`);
  const rows: string[][] = [['run', 'wall', 'CPU', 'throughput', 'peak RSS', 'ratio MB/s', 'ratio RSS', 'lines']];
  const byLabel = (l: string): Run | undefined => runs.find((r) => r.label === l);
  for (const r of runs) {
    const peer = r.tool === 'vigil' ? byLabel(r.threads === 1 ? 'yara -r -p 1' : 'yara -r -p 2') : undefined;
    const ok = r.lines !== undefined;
    rows.push([
      r.label,
      fmt(r.m?.wallSec, 2, ' s'),
      fmt(r.m?.cpuSec, 2, ' s'),
      ok ? fmt(r.mbps, 1, ' MB/s') : 'failed',
      mib(r.m?.maxRssBytes),
      peer?.lines && ok ? `${(r.mbps / peer.mbps).toFixed(3)}×` : '—',
      peer?.m?.maxRssBytes && r.m?.maxRssBytes ? `${(r.m.maxRssBytes / peer.m.maxRssBytes).toFixed(2)}×` : '—',
      ok ? String(r.lines!.size) : '—',
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  for (const row of rows) log(`  ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')}`);
  log();
  const ref = byLabel('yara -r -p 1') ?? byLabel('vigil yara -r');
  if (ref?.lines) {
    for (const r of runs) {
      if (r === ref || !r.lines) continue;
      const missing = [...ref.lines].filter((l) => !r.lines!.has(l));
      const extra = [...r.lines].filter((l) => !ref.lines!.has(l));
      if (missing.length === 0 && extra.length === 0) log(`  ${r.label}: the same ${r.lines.size} \`rule file\` lines as ${ref.label}.`);
      else {
        log(`  ${r.label}: DIFFERENT from ${ref.label}: ${missing.length} missing, ${extra.length} extra`);
        for (const l of missing.slice(0, 5)) log(`    missing: ${l}`);
        for (const l of extra.slice(0, 5)) log(`    extra:   ${l}`);
      }
    }
  }
  log();
  return { rulesPath, dir: sub.dir, bytes: sub.bytes };
}

/**
 * One pass for both kinds of signatures: `vigil scan` with the ClamAV body and logical signatures
 * alone, with the YARA rules alone, and with both (their atoms share one index), over the same
 * files: the time of both together against the sum of the two.
 */
export async function runOnePassBench(
  ctx: { root: string; scratch: string; log: (s?: string) => void },
  clamFiles: string[], yara: { rulesPath: string; dir: string; bytes: number },
): Promise<void> {
  const { log } = ctx;
  log('One pass: vigil scan with ClamAV signatures and YARA rules, apart and together');
  const bin = join(ctx.root, 'bin', 'vigil.js');
  const home = join(ctx.scratch, 'home-onepass');
  const timeoutMs = 60 * 60_000;
  let statsN = 0;
  const sets: { label: string; db: string[] }[] = [
    { label: 'ClamAV body + logical', db: clamFiles },
    { label: 'YARA rules', db: [yara.rulesPath] },
    { label: 'both', db: [...clamFiles, yara.rulesPath] },
  ];
  const wall: number[] = [];
  for (const set of sets) {
    const dbArgs = set.db.flatMap((d) => ['-d', d]);
    // Compile the cache first, so that every run loads warm.
    spawnSync(process.execPath, [bin, 'db', 'compile', ...dbArgs], { env: { ...process.env, VIGIL_HOME: home } });
    const m = await runMeasured(process.execPath, [bin, 'scan', ...dbArgs, '-r', '-i', '--no-summary', yara.dir], { env: { VIGIL_HOME: home }, timeoutMs, statsFile: join(ctx.scratch, `onepass-${statsN++}.txt`) });
    wall.push(m.wallSec);
    log(`  ${set.label.padEnd(22)} ${fmt(m.wallSec, 2, ' s')}  ${fmt(yara.bytes / 1e6 / Math.max(1e-3, m.wallSec), 1, ' MB/s')}  peak RSS ${mib(m.maxRssBytes)}  exit ${m.exitCode}`);
  }
  if (wall.length === 3) log(`  both together: ${fmt(wall[2], 2, ' s')} against ${fmt(wall[0]! + wall[1]!, 2, ' s')} apart (${(wall[2]! / (wall[0]! + wall[1]!)).toFixed(2)}×)`);
  log();
}
