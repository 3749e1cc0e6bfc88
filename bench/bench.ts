/**
 * The benchmark: vigil against clamscan, in the same run, on the same generated corpus and the
 * same generated signature set.
 *
 * In: options (`--size 64M --seed 1 --hashes N --bodies N --logicals N --runs N
 * --only clamscan|vigil --keep --yara-only --no-yara --yara-rules N --yara-size SIZE`). Out: a report on stdout: what was generated, how each figure
 * is measured, a table of figures with the ratio vigil/clamscan, and whether both scanners
 * reported the same detections (and the planted ones). It asserts nothing and always exits 0
 * once it has run: a benchmark informs, it does not gate a build.
 *
 * Figures:
 * - database load: each tool scans one tiny clean file with the full signature set
 *   (`--no-summary`); the median wall time of `--runs` runs is the load time (process start,
 *   reading and compiling the databases, one trivial scan, exit). vigil is measured cold (a fresh
 *   `VIGIL_HOME` each run, so it parses the text databases and writes its compiled cache) and
 *   warm (the cache written by a first run is present).
 * - scan throughput: one process scans the whole corpus recursively (`-r -i --no-summary`), one
 *   thread; throughput = corpus bytes / (wall time − that tool's load time), in MB/s (10^6
 *   bytes). vigil runs warm, so its warm load time is subtracted. With `-j 2` (when `vigil scan
 *   --help` lists `--jobs`) vigil is measured again with two scanning threads.
 * - peak RSS: the kernel's maximum resident set size of each process (GNU time's %M).
 * - detections: the sets of `path: Name FOUND` lines are compared with each other and with the
 *   planted hits the generator recorded.
 *
 * - YARA (bench/yara.ts; `--yara-only` runs only this part, `--no-yara` skips it): `yara -r` and
 *   `vigil yara -r`, one and two threads, with 2,000 generated rules over the first 256 MiB of
 *   the corpus: throughput, peak RSS, ratios, and whether both print the same `rule file` lines.
 * - One pass (after both parts): `vigil scan` over those 256 MiB with the ClamAV body and logical
 *   signatures, with the YARA rules, and with both at once (one atom index), to compare both
 *   together with the sum of the two apart.
 *
 * Each scan runs once (at 1 GiB a scan takes minutes, and its noise is small next to the gap
 * between tools); the loads, short and noisy, are repeated. The corpus is read once before timing
 * so that both tools find it in the page cache; which tool runs first then does not matter.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { corpusFilesDir, ensureCorpus, type CorpusManifest } from './corpus.js';
import { ensureSignatures, type SigSet } from './sigs.js';
import { runOnePassBench, runYaraBench } from './yara.js';
import { formatBytes, median, parseSize, repoRoot, rssMethod, runMeasured, type Measured } from './util.js';

interface Options {
  size: number;
  seed: number;
  hashes: number;
  bodies: number;
  logicals: number;
  runs: number;
  only: 'clamscan' | 'vigil' | undefined;
  keep: boolean;
  /** The YARA part: 'also' after the ClamAV part, 'only', or 'no'. */
  yara: 'also' | 'only' | 'no';
  yaraRules: number;
  yaraSize: number;
}

const USAGE = `usage: npm run bench -- [options]     (or: npx tsx bench/bench.ts [options])

  --size SIZE       corpus size, e.g. 64M, 1G (default 1G)
  --seed N          seed of the corpus and signature generators (default 1)
  --hashes N        hash signatures, .hdb MD5 and .hsb SHA-256 (default 1000000)
  --bodies N        body signatures, .ndb (default 50000)
  --logicals N      logical signatures, .ldb (default 5000)
  --runs N          runs of each database-load measurement; the median is reported (default 5)
  --only TOOL       measure only clamscan or only vigil
  --keep            keep the scratch directory (each run's output, vigil's VIGIL_HOMEs)
  --yara-only       run only the YARA part (yara against vigil yara)
  --no-yara         skip the YARA part
  --yara-rules N    generated YARA rules (default 2000)
  --yara-size SIZE  corpus bytes the YARA part scans: the first files up to SIZE (default 256M)
  -h, --help        this text

Generated corpora and signature sets are cached in bench/out/ and reused when the seed and
sizes match; delete that directory to reclaim the space.`;

function parseOptions(argv: string[]): Options | string {
  const o: Options = {
    size: 1024 ** 3, seed: 1, hashes: 1_000_000, bodies: 50_000, logicals: 5_000, runs: 5, only: undefined, keep: false,
    yara: 'also', yaraRules: 2000, yaraSize: 256 * 1024 * 1024,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    const count = (min: number): number => {
      const v = value();
      const n = Number(v.replace(/_/g, ''));
      if (!Number.isInteger(n) || n < min) throw new Error(`${name}: expected an integer ≥ ${min}, got '${v}'`);
      return n;
    };
    try {
      switch (name) {
        case '--size': {
          const v = value();
          o.size = parseSize(v);
          if (!Number.isFinite(o.size) || o.size < 1024 * 1024) return `--size: expected a size of at least 1M, e.g. 64M or 1G, got '${v}'`;
          break;
        }
        case '--seed': o.seed = count(0); break;
        case '--hashes': o.hashes = count(0); break;
        case '--bodies': o.bodies = count(0); break;
        case '--logicals': o.logicals = count(0); break;
        case '--runs': o.runs = count(1); break;
        case '--only': {
          const v = value();
          if (v !== 'clamscan' && v !== 'vigil') return `--only: expected clamscan or vigil, got '${v}'`;
          o.only = v;
          break;
        }
        case '--keep': o.keep = true; break;
        case '--yara-only': o.yara = 'only'; break;
        case '--no-yara': o.yara = 'no'; break;
        case '--yara-rules': o.yaraRules = count(1); break;
        case '--yara-size': {
          const v = value();
          o.yaraSize = parseSize(v);
          if (!Number.isFinite(o.yaraSize) || o.yaraSize < 1024 * 1024) return `--yara-size: expected a size of at least 1M, got '${v}'`;
          break;
        }
        case '-h': case '--help': return '';
        default: return `unknown option '${arg}'`;
      }
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }
  return o;
}

const log = (s = ''): void => { process.stdout.write(`${s}\n`); };

function tail(text: string, lines: number): string {
  const all = text.trimEnd().split('\n');
  const cut = all.slice(-lines);
  return (all.length > lines ? [`… (${all.length - lines} earlier lines)`, ...cut] : cut).map((l) => `      | ${l}`).join('\n');
}

/** A run counts when it exited 0 (clean) or 1 (something found) within its time. */
function ok(m: Measured): boolean {
  return !m.timedOut && (m.exitCode === 0 || m.exitCode === 1);
}

function describeFailure(label: string, m: Measured): void {
  const why = m.timedOut ? 'timed out' : m.exitCode === -1 ? 'could not be started' : m.exitCode > 128 ? `was killed by signal ${m.exitCode - 128}` : `exited with status ${m.exitCode}`;
  log(`    ${label} ${why}; its stderr:`);
  log(m.stderr.trim() ? tail(m.stderr, 25) : '      | (empty)');
}

function noteStderr(label: string, m: Measured): void {
  const text = m.stderr.replace(/\n?\(bench: no resource report from the wrapper\)/, '').trim();
  if (!text) return;
  log(`    ${label} wrote to stderr:`);
  log(tail(text, 8));
}

interface LoadFigure {
  runs: Measured[];
  /** Median wall seconds of the successful runs. */
  sec: number;
  rss: number;
  failed?: Measured;
}

async function measureLoad(label: string, runs: number, run: (k: number) => Promise<Measured>): Promise<LoadFigure> {
  const done: Measured[] = [];
  for (let k = 0; k < runs; k++) {
    const m = await run(k);
    if (!ok(m)) {
      describeFailure(`${label} (run ${k + 1})`, m);
      return { runs: done, sec: NaN, rss: NaN, failed: m };
    }
    if (k === 0) noteStderr(label, m);
    done.push(m);
  }
  const fig: LoadFigure = { runs: done, sec: median(done.map((m) => m.wallSec)), rss: median(done.map((m) => m.maxRssBytes ?? NaN)) };
  log(`    ${label}: ${done.map((m) => m.wallSec.toFixed(3)).join(' ')} s → median ${fig.sec.toFixed(3)} s, peak RSS ${mib(fig.rss)}`);
  return fig;
}

interface ScanFigure {
  m: Measured;
  ok: boolean;
  loadSec: number;
  mbps: number;
  found: Map<string, string[]>;
  errors: string[];
}

function scanFigure(label: string, m: Measured, loadSec: number, corpusBytes: number, filesDir: string): ScanFigure {
  const good = ok(m);
  if (!good) describeFailure(label, m);
  else noteStderr(label, m);
  const found = new Map<string, string[]>();
  const errors: string[] = [];
  const prefix = `${filesDir}/`;
  for (const line of m.stdout.split('\n')) {
    const f = /^(.*): (\S+) FOUND$/.exec(line);
    if (f) {
      const rel = (f[1] ?? '').startsWith(prefix) ? (f[1] ?? '').slice(prefix.length) : (f[1] ?? '');
      found.set(rel, [...(found.get(rel) ?? []), f[2] ?? '']);
    } else if (/ ERROR$/.test(line)) errors.push(line.startsWith(prefix) ? line.slice(prefix.length) : line);
  }
  const scanSec = m.wallSec - loadSec;
  const mbps = good && Number.isFinite(loadSec) && scanSec > 0 ? corpusBytes / 1e6 / scanSec : NaN;
  if (good) {
    log(`    ${label}: wall ${m.wallSec.toFixed(2)} s, CPU ${m.cpuSec?.toFixed(2) ?? '?'} s, peak RSS ${mib(m.maxRssBytes)}, ` +
      `${[...found.values()].reduce((a, v) => a + v.length, 0)} FOUND lines, ${errors.length} ERROR lines, exit ${m.exitCode}` +
      (Number.isFinite(mbps) ? ` → ${mbps.toFixed(1)} MB/s` : ''));
  }
  return { m, ok: good, loadSec, mbps, found, errors };
}

const mib = (b: number | undefined): string => (b === undefined || !Number.isFinite(b) ? 'n/a' : `${(b / 1024 / 1024).toFixed(0)} MiB`);

/** Reads every file once so that the first tool timed does not pay for the disk. */
function warmPageCache(dir: string): number {
  let bytes = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) bytes += readFileSync(p).length;
    }
  };
  walk(dir);
  return bytes;
}

function lineSet(found: Map<string, string[]>): Set<string> {
  const s = new Set<string>();
  for (const [file, names] of found) for (const n of names) s.add(`${file}: ${n} FOUND`);
  return s;
}

function compareSets(aLabel: string, a: Set<string>, bLabel: string, b: Set<string>): void {
  const onlyA = [...a].filter((x) => !b.has(x)).sort();
  const onlyB = [...b].filter((x) => !a.has(x)).sort();
  if (onlyA.length === 0 && onlyB.length === 0) {
    log(`  ${aLabel} and ${bLabel}: the same ${a.size} FOUND lines.`);
    return;
  }
  log(`  ${aLabel} and ${bLabel} differ: ${a.size - onlyA.length} lines in common, ${onlyA.length} only in ${aLabel}, ${onlyB.length} only in ${bLabel}` +
    `${onlyA.length + onlyB.length > 20 ? ' (first 20 shown)' : ''}:`);
  const shown = [...onlyA.map((x) => `only ${aLabel}: ${x}`), ...onlyB.map((x) => `only ${bLabel}: ${x}`)].slice(0, 20);
  for (const s of shown) log(`    ${s}`);
}

function compareExpected(label: string, found: Map<string, string[]>, sigs: SigSet, corpus: CorpusManifest): void {
  const expected = sigs.expected;
  let hit = 0;
  const missing: string[] = [];
  const wrong: string[] = [];
  const unexpected: string[] = [];
  for (const [file, name] of Object.entries(expected)) {
    const got = found.get(file);
    if (!got) missing.push(file);
    else if (got.includes(name)) hit++;
    else wrong.push(`${file}: expected ${name}, got ${got.join(', ')}`);
  }
  for (const [file, names] of found) if (!(file in expected)) unexpected.push(`${file}: ${names.join(', ')}`);
  const total = Object.keys(expected).length;
  log(`  ${label} vs the planted hits: ${hit} of ${total} found with the expected name, ${missing.length} missed, ${wrong.length} with another name, ${unexpected.length} files detected that carry no plant.`);
  const what = new Map(corpus.plants.map((p) => [p.file, p.what]));
  const list = [...missing.map((f) => `missed ${f} (${what.get(f) ?? '?'})`), ...wrong.map((w) => `other name ${w}`), ...unexpected.map((u) => `unplanted ${u}`)];
  for (const s of list.slice(0, 20)) log(`    ${s}`);
  if (list.length > 20) log(`    … and ${list.length - 20} more`);
}

function fmt(v: number, digits: number, unit = ''): string {
  return Number.isFinite(v) ? `${v.toFixed(digits)}${unit}` : 'n/a';
}

function ratio(v: number, c: number): string {
  return Number.isFinite(v) && Number.isFinite(c) && c > 0 ? `${(v / c).toFixed(2)}×` : 'n/a';
}

function table(rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  rows.forEach((r, k) => {
    log(`  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('   ')}`);
    if (k === 0) log(`  ${widths.map((w) => '─'.repeat(w)).join('   ')}`);
  });
}

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2));
  if (typeof parsed === 'string') {
    if (!parsed) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    process.stderr.write(`bench: ${parsed}\n\n${USAGE}\n`);
    return 2;
  }
  const o = parsed;
  const root = repoRoot();
  const outDir = join(root, 'bench', 'out');
  mkdirSync(outDir, { recursive: true });

  log('vigil benchmark: clamscan and vigil on the same corpus and signatures, in one run');
  log(`  machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} CPUs; Node ${process.version}`);
  log(`  options: --size ${formatBytes(o.size)} --seed ${o.seed} --hashes ${o.hashes} --bodies ${o.bodies} --logicals ${o.logicals} --runs ${o.runs}${o.only ? ` --only ${o.only}` : ''}`);
  log();

  log('Corpus');
  const corpus = ensureCorpus(outDir, o.seed, o.size, log);
  const filesDir = corpusFilesDir(corpus.dir);
  const byKind = new Map<string, { n: number; bytes: number }>();
  for (const f of corpus.files) {
    const k = byKind.get(f.kind) ?? { n: 0, bytes: 0 };
    k.n++;
    k.bytes += f.size;
    byKind.set(f.kind, k);
  }
  const large = corpus.files.filter((f) => f.size >= 16 * 1024 * 1024).length;
  log(`  ${corpus.reused ? 'reused' : 'new'}: ${filesDir}`);
  log(`  ${corpus.files.length} files, ${formatBytes(corpus.totalBytes)} (${corpus.totalBytes} bytes); ${large} of 16 MiB or more, ${corpus.files.filter((f) => f.size < 64 * 1024).length} under 64 KiB`);
  log(`  by kind: ${[...byKind].map(([k, v]) => `${k} ${v.n} files/${formatBytes(v.bytes)}`).join(', ')}`);
  log();

  const scratch = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  const yaraPart = async (): Promise<{ rulesPath: string; dir: string; bytes: number }> => {
    return runYaraBench(
      { seed: o.seed, rules: o.yaraRules, size: o.yaraSize, runs: o.runs, keep: o.keep },
      { root, outDir, scratch, filesDir, corpus, log },
    );
  };
  if (o.yara === 'only') {
    await yaraPart();
    if (o.keep) log(`Scratch directory kept: ${scratch}`);
    else rmSync(scratch, { recursive: true, force: true });
    return 0;
  }

  log('Signatures');
  const sigs = await ensureSignatures(outDir, o.seed, { hashes: o.hashes, bodies: o.bodies, logicals: o.logicals }, corpus, log);
  const dbBytes = Object.keys(sigs.files).reduce((a, f) => a + (existsSync(join(sigs.dir, f)) ? statSync(join(sigs.dir, f)).size : 0), 0);
  log(`  ${sigs.reused ? 'reused' : 'new'}: ${sigs.dir} (${formatBytes(dbBytes)})`);
  log(`  ${Object.entries(sigs.files).map(([f, n]) => `${f} ${n} lines`).join(', ')}`);
  log(`  planted in the corpus and present in this set: ${sigs.planted.bodies} body, ${sigs.planted.logicals} logical, ${sigs.planted.hashes} hash → ${Object.keys(sigs.expected).length} files expected to be detected`);
  log();

  const tiny = join(scratch, 'tiny.txt');
  writeFileSync(tiny, 'a tiny clean file for timing database loads\n');
  let statsN = 0;
  const stats = (): string => join(scratch, `rusage-${statsN++}.txt`);
  const keepOutput = (name: string, m: Measured): void => {
    if (!o.keep) return;
    writeFileSync(join(scratch, `${name}.stdout`), m.stdout);
    writeFileSync(join(scratch, `${name}.stderr`), m.stderr);
  };
  const loadTimeout = 10 * 60_000;
  const scanTimeout = 10 * 60_000 + Math.ceil(corpus.totalBytes / 0.5e6) * 1000; // floor of 0.5 MB/s

  log('How it is measured');
  const rss = rssMethod();
  log(`  wall time: measured by the benchmark around each process (start to exit). Peak RSS and CPU time: ${rss === 'gnu-time' ? "GNU time's %M, %U, %S (the kernel's ru_maxrss of the child)" : rss === 'python-rusage' ? "Python's getrusage(RUSAGE_CHILDREN) after the child exits (GNU time is not installed)" : 'unavailable (neither /usr/bin/time nor python3 is installed)'}.`);
  log(`  load: scan of one ${statSync(tiny).size}-byte file with the full signature set, --no-summary, ${o.runs} runs, median.`);
  log(`  scan: -r -i --no-summary over ${formatBytes(corpus.totalBytes)} in one process; throughput = corpus bytes / (wall − load median), MB = 10^6 bytes.`);
  log(`  page cache: reading the corpus once before timing …`);
  const warmed = warmPageCache(filesDir);
  log(`  … ${formatBytes(warmed)} read.`);
  log();

  const wantClam = o.only !== 'vigil';
  const wantVigil = o.only !== 'clamscan';
  let clamLoad: LoadFigure | undefined;
  let clamScan: ScanFigure | undefined;
  let vigilCold: LoadFigure | undefined;
  let vigilWarm: LoadFigure | undefined;
  let vigilScan1: ScanFigure | undefined;
  let vigilScan2: ScanFigure | undefined;
  let nodeStart: number | undefined;
  let clamVersion = '';
  let vigilVersion = '';

  if (wantClam) {
    log('clamscan');
    const v = spawnSync('clamscan', ['--version'], { encoding: 'utf8' });
    if (v.status !== 0) log(`  clamscan is not available (${(v.error?.message ?? v.stderr).trim()}); skipping it.`);
    else {
      clamVersion = v.stdout.trim();
      log(`  ${clamVersion}`);
      clamLoad = await measureLoad('load', o.runs, async (k) => {
        const m = await runMeasured('clamscan', ['-d', sigs.dir, '--no-summary', tiny], { timeoutMs: loadTimeout, statsFile: stats() });
        keepOutput(`clamscan-load-${k}`, m);
        return m;
      });
      if (clamLoad.failed === undefined) {
        const m = await runMeasured('clamscan', ['-d', sigs.dir, '-r', '-i', '--no-summary', filesDir], { timeoutMs: scanTimeout, statsFile: stats() });
        keepOutput('clamscan-scan', m);
        clamScan = scanFigure('scan', m, clamLoad.sec, corpus.totalBytes, filesDir);
      }
    }
    log();
  }

  if (wantVigil) {
    log('vigil');
    const bin = join(root, 'bin', 'vigil.js');
    const vigil = (args: string[], home: string, timeoutMs: number): Promise<Measured> =>
      runMeasured(process.execPath, [bin, 'scan', ...args], { env: { VIGIL_HOME: home }, timeoutMs, statsFile: stats() });
    const help = spawnSync(process.execPath, [bin, 'scan', '--help'], { encoding: 'utf8', env: { ...process.env, VIGIL_HOME: join(scratch, 'home-help') } });
    const ver = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', env: { ...process.env, VIGIL_HOME: join(scratch, 'home-help') } });
    if (help.status !== 0) {
      log(`  vigil scan --help failed (status ${help.status}); is the project built (npm run build)? stderr:`);
      log(tail(`${help.stderr}${help.error ? String(help.error) : ''}`, 15));
    } else {
      vigilVersion = (ver.stdout || ver.stderr).trim().split('\n')[0] ?? '';
      const jobs = /--jobs\b/.test(help.stdout);
      log(`  ${vigilVersion || 'vigil'} (${process.execPath} ${bin} scan); --jobs ${jobs ? 'supported' : 'not listed in --help'}`);
      const starts: number[] = [];
      for (let k = 0; k < o.runs; k++) starts.push((await runMeasured(process.execPath, ['-e', '0'], { timeoutMs: 60_000, statsFile: stats() })).wallSec);
      nodeStart = median(starts);
      vigilCold = await measureLoad('load, cold (fresh VIGIL_HOME each run)', o.runs, async (k) => {
        const m = await vigil(['-d', sigs.dir, '--no-summary', tiny], join(scratch, `home-cold-${k}`), loadTimeout);
        keepOutput(`vigil-load-cold-${k}`, m);
        return m;
      });
      const warmHome = join(scratch, 'home-warm');
      if (vigilCold.failed === undefined) {
        const prime = await vigil(['-d', sigs.dir, '--no-summary', tiny], warmHome, loadTimeout);
        const cacheDir = join(warmHome, 'cache');
        const cached = existsSync(cacheDir) ? readdirSync(cacheDir).map((f) => statSync(join(cacheDir, f)).size) : [];
        log(`    compiled cache after a first run: ${cached.length ? `${cached.length} file(s), ${formatBytes(cached.reduce((a, b) => a + b, 0))}` : 'none written (warm loads then equal cold ones)'}${ok(prime) ? '' : ' (that run failed)'}`);
        vigilWarm = await measureLoad('load, warm (compiled cache present)', o.runs, async (k) => {
          const m = await vigil(['-d', sigs.dir, '--no-summary', tiny], warmHome, loadTimeout);
          keepOutput(`vigil-load-warm-${k}`, m);
          return m;
        });
      }
      const load = vigilWarm && vigilWarm.failed === undefined ? vigilWarm.sec : vigilCold.sec;
      // Even when loading failed, try the scan: its stderr tells what is missing.
      const m1 = await vigil(['-d', sigs.dir, '-r', '-i', '--no-summary', ...(jobs ? ['-j', '1'] : []), filesDir], warmHome, scanTimeout);
      keepOutput('vigil-scan-j1', m1);
      vigilScan1 = scanFigure(`scan${jobs ? ' -j 1' : ''}`, m1, load, corpus.totalBytes, filesDir);
      if (jobs && vigilScan1.ok) {
        const m2 = await vigil(['-d', sigs.dir, '-r', '-i', '--no-summary', '-j', '2', filesDir], warmHome, scanTimeout);
        keepOutput('vigil-scan-j2', m2);
        vigilScan2 = scanFigure('scan -j 2', m2, load, corpus.totalBytes, filesDir);
      }
    }
    log();
  }

  log('Results');
  log(`  tools: ${clamVersion || 'clamscan not run'}; ${vigilVersion || 'vigil not run'}`);
  log(`  corpus ${formatBytes(corpus.totalBytes)} in ${corpus.files.length} files; signatures: ${sigs.counts.hashes} hash, ${sigs.counts.bodies} body, ${sigs.counts.logicals} logical`);
  log('  ratio = vigil / clamscan: below 1× is better for vigil on times and memory, above 1× is better on throughput.');
  log();
  const cl = clamLoad && clamLoad.failed === undefined ? clamLoad : undefined;
  const cs = clamScan?.ok ? clamScan : undefined;
  const vc = vigilCold && vigilCold.failed === undefined ? vigilCold : undefined;
  const vw = vigilWarm && vigilWarm.failed === undefined ? vigilWarm : undefined;
  const v1 = vigilScan1?.ok ? vigilScan1 : undefined;
  const v2 = vigilScan2?.ok ? vigilScan2 : undefined;
  const rows: string[][] = [['figure', 'clamscan', 'vigil', 'vigil/clamscan']];
  const sec = (f: { sec: number } | undefined): string => fmt(f?.sec ?? NaN, 3, ' s');
  rows.push(['database load, cold (median)', sec(cl), sec(vc), ratio(vc?.sec ?? NaN, cl?.sec ?? NaN)]);
  rows.push(['database load, warm cache (median)', sec(cl), sec(vw), ratio(vw?.sec ?? NaN, cl?.sec ?? NaN)]);
  rows.push(['peak RSS, load cold', mib(cl?.rss), mib(vc?.rss), ratio(vc?.rss ?? NaN, cl?.rss ?? NaN)]);
  rows.push(['peak RSS, load warm', mib(cl?.rss), mib(vw?.rss), ratio(vw?.rss ?? NaN, cl?.rss ?? NaN)]);
  rows.push(['scan wall time, 1 thread', fmt(cs?.m.wallSec ?? NaN, 2, ' s'), fmt(v1?.m.wallSec ?? NaN, 2, ' s'), ratio(v1?.m.wallSec ?? NaN, cs?.m.wallSec ?? NaN)]);
  rows.push(['scan CPU time, 1 thread', fmt(cs?.m.cpuSec ?? NaN, 2, ' s'), fmt(v1?.m.cpuSec ?? NaN, 2, ' s'), ratio(v1?.m.cpuSec ?? NaN, cs?.m.cpuSec ?? NaN)]);
  rows.push(['scan throughput, 1 thread', fmt(cs?.mbps ?? NaN, 1, ' MB/s'), fmt(v1?.mbps ?? NaN, 1, ' MB/s'), ratio(v1?.mbps ?? NaN, cs?.mbps ?? NaN)]);
  rows.push(['peak RSS, scan 1 thread', mib(cs?.m.maxRssBytes), mib(v1?.m.maxRssBytes), ratio(v1?.m.maxRssBytes ?? NaN, cs?.m.maxRssBytes ?? NaN)]);
  if (vigilScan2 !== undefined) {
    rows.push(['scan wall time, vigil -j 2', fmt(cs?.m.wallSec ?? NaN, 2, ' s'), fmt(v2?.m.wallSec ?? NaN, 2, ' s'), ratio(v2?.m.wallSec ?? NaN, cs?.m.wallSec ?? NaN)]);
    rows.push(['scan throughput, vigil -j 2', fmt(cs?.mbps ?? NaN, 1, ' MB/s'), fmt(v2?.mbps ?? NaN, 1, ' MB/s'), ratio(v2?.mbps ?? NaN, cs?.mbps ?? NaN)]);
    rows.push(['scan CPU time, vigil -j 2', fmt(cs?.m.cpuSec ?? NaN, 2, ' s'), fmt(v2?.m.cpuSec ?? NaN, 2, ' s'), ratio(v2?.m.cpuSec ?? NaN, cs?.m.cpuSec ?? NaN)]);
    rows.push(['peak RSS, scan vigil -j 2', mib(cs?.m.maxRssBytes), mib(v2?.m.maxRssBytes), ratio(v2?.m.maxRssBytes ?? NaN, cs?.m.maxRssBytes ?? NaN)]);
  }
  table(rows);
  log('  (clamscan has no compiled cache and one thread: its figures repeat on the cold/warm and the -j 2 rows.)');
  if (v2?.m.cpuSec !== undefined && v2.m.wallSec > 0) {
    const par = v2.m.cpuSec / v2.m.wallSec;
    log(`  vigil -j 2 kept ${par.toFixed(2)} cores busy on average (CPU time ÷ wall time)${par < 1.2 ? ': it scanned essentially in one thread' : ''}.`);
  }
  if (nodeStart !== undefined) log(`  Node.js start-up alone (node -e 0, median of ${o.runs}): ${nodeStart.toFixed(3)} s, included in vigil's load times.`);
  log();

  log('Detections');
  // A scan that failed printed its stderr above; its partial output is not compared.
  for (const [label, f] of [['clamscan', clamScan], ['vigil', vigilScan1], ['vigil -j 2', vigilScan2]] as const) {
    if (f && !f.ok) log(`  ${label}: the scan failed (see its stderr above); its detections are not compared.`);
  }
  if (cs) compareExpected('clamscan', cs.found, sigs, corpus);
  if (v1) compareExpected(`vigil${v2 ? ' -j 1' : ''}`, v1.found, sigs, corpus);
  if (cs && v1) compareSets('clamscan', lineSet(cs.found), 'vigil', lineSet(v1.found));
  if (v1 && v2) compareSets('vigil -j 1', lineSet(v1.found), 'vigil -j 2', lineSet(v2.found));
  for (const [label, f] of [['clamscan', cs], ['vigil', v1]] as const) {
    if (f && f.errors.length) {
      log(`  ${label} reported ${f.errors.length} ERROR lines${f.errors.length > 10 ? ' (first 10)' : ''}:`);
      for (const e of f.errors.slice(0, 10)) log(`    ${e}`);
    }
  }
  if (!cs && !v1) log('  no scan completed.');
  log();

  if (o.yara === 'also') {
    const y = await yaraPart();
    await runOnePassBench({ root, scratch, log }, ['bench.ndb', 'bench.ldb'].map((f) => join(sigs.dir, f)).filter((f) => existsSync(f)), y);
  }

  if (o.keep) log(`Scratch directory kept: ${scratch}`);
  else rmSync(scratch, { recursive: true, force: true });
  return 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
