/**
 * Tests for `vigil scan`: option parsing, output lines, summary, exit codes, log, file lists, stdin,
 * limits, JSON (golden files in test/golden/scan-json), progress, parallel runs, and a differential
 * suite that runs the real `clamscan` and vigil on the same generated tree and compares everything
 * but times, dates and the engine version.
 *
 * The engine is a fake with real hash semantics: it loads `.hdb` lines `md5:size:Name` (and, for
 * the JSON goldens, `.ndb` lines `Name:0:*:<hex literal>`) and reports `Name.UNOFFICIAL` when a
 * buffer's MD5 and size (or literal) match, body matches before hash matches, as ClamAV orders them.
 * Like libclamav it keeps a clean cache: a buffer already found clean is not scanned (or counted in
 * "Data scanned") again.
 * This file is also the worker module of the fake (`createFakeWorkerScanner`) and the entry of
 * child processes run as another user (`runFakeCli`); tests are registered only on the main thread
 * of a normal test run.
 */

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { isMainThread } from 'node:worker_threads';
import type { Detection } from '../engine/result.js';
import type { EngineLoader, EngineScanResult, LoadedEngine, ScanCallOptions, WorkerScanTask } from '../scan/engine-port.js';
import { Prng } from '../../test/helpers/prng.js';
import { expectGolden, goldenDir, listGoldenCases } from '../../test/helpers/golden.js';
import { main, packageVersion } from './main.js';
import {
  formatBlocksMB, formatFixed2, formatClamDate, parseScanArgs, runScan, summaryLines, versionLine, type OutStream, type ScanDeps,
} from './scan.js';

// ---------------------------------------------------------------------------------------------
// The fake engine

export interface FakeSig {
  kind: 'hash' | 'body';
  name: string;
  db: string;
  line: number;
  /** hash: `md5:size`; body: lower-case hex literal. */
  key: string;
}

export function parseFakeDatabases(paths: string[]): { sigs: FakeSig[]; errors: string[] } {
  const sigs: FakeSig[] = [];
  const errors: string[] = [];
  const files: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      errors.push(`LibClamAV Error: cl_load(): No such file or directory: ${p}`);
      continue;
    }
    if (isDir) for (const f of readdirSync(p).sort()) { if (/\.(hdb|ndb)$/.test(f)) files.push(join(p, f)); }
    else files.push(p);
  }
  for (const f of files) {
    const lines = readFileSync(f, 'latin1').split('\n');
    lines.forEach((raw, i) => {
      const line = raw.replace(/\r$/, '');
      if (line === '') return;
      if (f.endsWith('.hdb')) {
        const m = /^([0-9a-fA-F]{32}):([0-9]+):([^:]+)$/.exec(line);
        if (!m) errors.push(`LibClamAV Error: cli_loadhash: Malformed hash string at line ${i + 1}`);
        else sigs.push({ kind: 'hash', name: `${m[3]}.UNOFFICIAL`, db: f, line: i + 1, key: `${(m[1] as string).toLowerCase()}:${m[2]}` });
      } else {
        const m = /^([^:]+):0:\*:([0-9a-fA-F]+)$/.exec(line);
        if (!m || (m[2] as string).length % 2 !== 0) errors.push(`LibClamAV Error: cli_loadndb: Malformed line ${i + 1}`);
        else sigs.push({ kind: 'body', name: `${m[1]}.UNOFFICIAL`, db: f, line: i + 1, key: (m[2] as string).toLowerCase() });
      }
    });
  }
  if (files.length === 0 && errors.length === 0) errors.push('LibClamAV Error: cli_loaddbdir(): No supported database files found');
  return { sigs, errors };
}

export class FakeEngine implements LoadedEngine {
  readonly knownSignatures: number;
  readonly engineVersion = 'fake-0.0.0';
  private readonly body: FakeSig[];
  private readonly hashes = new Map<string, FakeSig[]>();
  parallel?: LoadedEngine['parallel'];

  constructor(sigs: FakeSig[]) {
    this.knownSignatures = sigs.length;
    this.body = sigs.filter((s) => s.kind === 'body');
    for (const s of sigs) {
      if (s.kind !== 'hash') continue;
      const list = this.hashes.get(s.key) ?? [];
      list.unshift(s); // the signature loaded last is reported first, as libclamav does
      this.hashes.set(s.key, list);
    }
  }

  /** libclamav's clean cache: a buffer already found clean is not scanned again (and not counted). */
  private readonly cleanCache = new Set<string>();

  scan(bytes: Uint8Array, opts: ScanCallOptions): EngineScanResult {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const key = `${createHash('md5').update(buf).digest('hex')}:${buf.length}`;
    if (this.cleanCache.has(key)) return { verdict: 'clean', detections: [], bytesScanned: 0 };
    const found: Detection[] = [];
    for (const s of this.body) {
      const at = buf.indexOf(Buffer.from(s.key, 'hex'));
      if (at < 0) continue;
      found.push({ name: s.name, kind: 'body', db: s.db, line: s.line, layer: [], offset: at, matched: s.key });
      if (!opts.allmatch) break;
    }
    if (opts.allmatch || found.length === 0) {
      for (const s of this.hashes.get(key) ?? []) {
        found.push({ name: s.name, kind: 'hash', db: s.db, line: s.line, layer: [] });
        if (!opts.allmatch) break;
      }
    }
    if (found.length === 0) this.cleanCache.add(key);
    return { verdict: found.length > 0 ? 'infected' : 'clean', detections: found, bytesScanned: buf.length };
  }
}

/** Loads the fake's databases; with `parallel`, the engine can also be rebuilt in worker threads. */
export function makeFakeLoader(parallel = true): EngineLoader {
  return async (opts) => {
    const { sigs, errors } = parseFakeDatabases(opts.databases);
    if (errors.length > 0) return { errors };
    const engine = new FakeEngine(sigs);
    if (parallel) engine.parallel = { module: import.meta.url, exportName: 'createFakeWorkerScanner', init: { sigs } };
    return { engine, errors: [] };
  };
}

/** The worker-side factory named in the fake engine's `parallel` spec. */
export function createFakeWorkerScanner(init: { sigs: FakeSig[] }): (task: WorkerScanTask) => EngineScanResult {
  const engine = new FakeEngine(init.sigs);
  return (task) => engine.scan(task.bytes, task.opts);
}

/** Entry for child processes (the differential run as an unprivileged user). */
export async function runFakeCli(args: string[]): Promise<number> {
  return runScan(args, { loader: makeFakeLoader(), stdout: process.stdout, stderr: process.stderr, version: '0.1.0' });
}

// ---------------------------------------------------------------------------------------------
// Helpers

class Capture implements OutStream {
  private chunks: Buffer[] = [];
  constructor(readonly isTTY = false, readonly columns = 80) {}
  write(c: string | Uint8Array): boolean {
    this.chunks.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c));
    return true;
  }
  get buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
  get text(): string {
    return this.buffer.toString('utf8');
  }
}

const FIXED_DATE = new Date(2026, 10, 29, 4, 5, 6);

interface RunOptions {
  cwd?: string;
  stdin?: Buffer;
  loader?: EngineLoader;
  readFile?: ScanDeps['readFile'];
  canRead?: ScanDeps['canRead'];
  ttyStderr?: boolean;
  clock?: () => Date;
}

interface RunResult {
  code: number;
  out: string;
  err: string;
  outBytes: Buffer;
  errBytes: Buffer;
}

async function vigil(args: string[], o: RunOptions = {}): Promise<RunResult> {
  const stdout = new Capture();
  const stderr = new Capture(o.ttyStderr ?? false, 60);
  const prev = process.cwd();
  if (o.cwd) process.chdir(o.cwd);
  try {
    const deps: ScanDeps = {
      loader: o.loader ?? makeFakeLoader(),
      stdout,
      stderr,
      now: o.clock ?? ((): Date => FIXED_DATE),
      version: '0.1.0',
      stdin: Readable.from(o.stdin ? [o.stdin] : []),
    };
    if (o.readFile) deps.readFile = o.readFile;
    if (o.canRead) deps.canRead = o.canRead;
    const code = await runScan(args, deps);
    return { code, out: stdout.text, err: stderr.text, outBytes: stdout.buffer, errBytes: stderr.buffer };
  } finally {
    process.chdir(prev);
  }
}

function md5(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

function hdbLine(content: Buffer | string, name: string): string {
  const b = Buffer.from(content);
  return `${md5(b)}:${b.length}:${name}\n`;
}

type Entry = string | Buffer | { link: string } | { dir: true } | { mode: number; data: string | Buffer };

function build(root: string, entries: Record<string, Entry>): void {
  for (const [rel, e] of Object.entries(entries)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof e === 'string' || Buffer.isBuffer(e)) writeFileSync(p, e);
    else if ('link' in e) symlinkSync(e.link, p);
    else if ('dir' in e) mkdirSync(p, { recursive: true });
    else {
      writeFileSync(p, e.data);
      chmodSync(p, e.mode);
    }
  }
}

function tmp(label: string): string {
  return mkdtempSync(join(tmpdir(), `vigil-scan-${label}-`));
}

/** The per-path lines of a clamscan-style report (everything before the summary), sorted. */
function fileLines(out: string): string[] {
  const cut = out.indexOf('\n----------- SCAN SUMMARY -----------');
  return (cut >= 0 ? out.slice(0, cut) : out).split('\n').filter((l) => l !== '').sort();
}

function summaryOf(out: string): string[] {
  const cut = out.indexOf('----------- SCAN SUMMARY -----------');
  return cut >= 0 ? out.slice(cut).split('\n').filter((l) => l !== '') : [];
}

const RUN_TESTS = isMainThread && process.env.VIGIL_SCAN_TEST_CHILD !== '1';

// A small fixed tree shared by the unit tests.
const MALWARE = 'malware-bytes\n';
function smallTree(root: string): void {
  build(root, {
    'tree/a.txt': 'hello world\n',
    'tree/bad.bin': MALWARE,
    'tree/empty': '',
    'tree/tiny': 'abc',
    'tree/link': { link: 'a.txt' },
    'tree/sub/bad2.bin': MALWARE,
    'tree/sub/big.bin': Buffer.alloc(5000, 0x78),
    'tree/sub/deeper/x.bin': 'deeper-content',
    'db/test.hdb': hdbLine(MALWARE, 'Test.Bad') + hdbLine('abc', 'Test.Tiny'),
  });
}

// ---------------------------------------------------------------------------------------------

if (RUN_TESTS) {
  describe('parseScanArgs', () => {
    it('parseScanArgs accepts options after paths, clusters, attached arguments and repeats', () => {
      const r = parseScanArgs(['dir', '-ri', '-ddb1', '--database', 'db2', 'file', '--max-filesize=10M', '-l', 'log.txt', '--exclude=a', '--exclude=b']);
      assert.ok(r.ok);
      assert.deepEqual(r.args.operands, ['dir', 'file']);
      assert.equal(r.args.bools.get('recursive'), true);
      assert.equal(r.args.bools.get('infected'), true);
      assert.deepEqual(r.args.strings.get('database'), ['db1', 'db2']);
      assert.deepEqual(r.args.strings.get('exclude'), ['a', 'b']);
      assert.deepEqual(r.args.strings.get('log'), ['log.txt']);
      assert.equal(r.args.numbers.get('max-filesize'), 10 * 1024 * 1024);
    });

    it('parseScanArgs reads booleans as --opt, --opt=yes and --opt=no without taking the next path', () => {
      const r = parseScanArgs(['--recursive', 'x', '--allmatch=no', '--infected=true', '--no-summary=0']);
      assert.ok(r.ok);
      assert.deepEqual(r.args.operands, ['x']);
      assert.equal(r.args.bools.get('recursive'), true);
      assert.equal(r.args.bools.get('allmatch'), false);
      assert.equal(r.args.bools.get('infected'), true);
      assert.equal(r.args.bools.get('no-summary'), false);
    });

    it('parseScanArgs resolves unambiguous prefixes and rejects ambiguous ones', () => {
      const r = parseScanArgs(['--recurs', '--no-sum', '--max-files=3']);
      assert.ok(r.ok);
      assert.equal(r.args.bools.get('recursive'), true);
      assert.equal(r.args.bools.get('no-summary'), true);
      assert.equal(r.args.numbers.get('max-files'), 3);
      const amb = parseScanArgs(['--max-file=3']);
      assert.ok(!amb.ok);
      assert.deepEqual(amb.messages, ["vigil scan: option `--max-file=3' is ambiguous", 'ERROR: Unknown option passed']);
    });

    it('parseScanArgs reads sizes like strtoll with base 0: suffixes and leading-zero octal', () => {
      const size = (v: string): number | undefined => {
        const r = parseScanArgs([`--max-filesize=${v}`]);
        return r.ok ? r.args.numbers.get('max-filesize') : undefined;
      };
      assert.equal(size('100'), 100);
      assert.equal(size('1k'), 1024);
      assert.equal(size('2G'), 2 * 1024 ** 3);
      assert.equal(size('010'), 8);
      assert.equal(size('016'), 14);
      assert.equal(size('09'), undefined);
      assert.deepEqual(parseScanArgs(['--max-filesize=09']), { ok: false, messages: ["ERROR: Can't parse numerical argument for option --max-filesize"] });
      assert.deepEqual(parseScanArgs(['--max-filesize=10X']), { ok: false, messages: ['ERROR: Incorrect argument format for option --max-filesize'] });
      assert.deepEqual(parseScanArgs(['--max-files=1k']), { ok: false, messages: ['ERROR: Incorrect argument format for option --max-files'] });
    });

    it('parseScanArgs reports clamscan\'s messages for unknown options and missing arguments', () => {
      assert.deepEqual(parseScanArgs(['--bogus']), { ok: false, messages: ["vigil scan: unrecognized option `--bogus'", 'ERROR: Unknown option passed'] });
      assert.deepEqual(parseScanArgs(['-x']), { ok: false, messages: ['vigil scan: illegal option -- x', 'ERROR: Unknown option passed'] });
      assert.deepEqual(parseScanArgs(['-d']), { ok: false, messages: ['vigil scan: option requires an argument -- d', 'ERROR: Incomplete option passed (missing argument)'] });
      assert.deepEqual(parseScanArgs(['--log']), { ok: false, messages: ["vigil scan: option `--log' requires an argument", 'ERROR: Incomplete option passed (missing argument)'] });
      assert.deepEqual(parseScanArgs(['--database=']), { ok: false, messages: ['ERROR: Option --database (-d) requires a non-empty string argument'] });
      assert.deepEqual(parseScanArgs(['-r=yes']), { ok: false, messages: ['vigil scan: illegal option -- =', 'ERROR: Unknown option passed'] });
      assert.deepEqual(parseScanArgs(['--recursive=maybe']), { ok: false, messages: ['ERROR: Incorrect argument format for option --recursive (-r)'] });
    });

    it('parseScanArgs treats "--" as the end of options and "-" as a path', () => {
      const r = parseScanArgs(['-', '--', '-r', '--x']);
      assert.ok(r.ok);
      assert.deepEqual(r.args.operands, ['-', '-r', '--x']);
      assert.equal(r.args.bools.get('recursive'), undefined);
    });

    it('parseScanArgs separates implemented, ignored, refused and deprecated clamscan options', () => {
      const r = parseScanArgs(['--scan-pe=no', '--remove', '--no-pe', '--unzip', '--heuristic-alerts', '--alert-broken', '--scan-pe', '--dev-ac-only']);
      assert.ok(r.ok);
      assert.deepEqual(r.args.ignored, ['alert-broken', 'dev-ac-only']);
      assert.equal(r.args.bools.get('scan-pe'), true);
      assert.deepEqual(r.args.refused, ['remove']);
    });
  });

  describe('summary formatting', () => {
    it('formatBlocksMB prints 4096-byte blocks as clamscan 1.4 does, ties to even', () => {
      assert.equal(formatBlocksMB(0), '0.00');
      assert.equal(formatBlocksMB(1), '0.00');
      assert.equal(formatBlocksMB(2), '0.01');
      assert.equal(formatBlocksMB(32), '0.12'); // 0.125 exactly: C rounds to even
      assert.equal(formatBlocksMB(96), '0.38'); // 0.375 exactly
      assert.equal(formatBlocksMB(256), '1.00');
      assert.equal(formatBlocksMB(1321), '5.16');
      assert.equal(formatBlocksMB(10240), '40.00');
    });

    it('formatFixed2 rounds exact binary ties to even like printf', () => {
      assert.equal(formatFixed2(0), '0.00');
      assert.equal(formatFixed2(1.1), '1.10');
      assert.equal(formatFixed2(0.125), '0.12');
      assert.equal(formatFixed2(0.375), '0.38');
      assert.equal(formatFixed2(2 / 3), '0.67');
      assert.equal(formatFixed2(1.515625), '1.52');
    });

    it('summaryLines builds the block byte for byte, with Total errors only when there are errors', () => {
      const st = { knownSignatures: 3, engineVersion: 'vigil-0.1.0', dirs: 2, files: 5, infected: 1, errors: 0, blocks: 3, rblocks: 2, bytesScanned: 0, bytesRead: 0 };
      const start = new Date(2026, 0, 2, 3, 4, 5, 0);
      const end = new Date(2026, 0, 2, 3, 5, 7, 42);
      assert.deepEqual(summaryLines(st, start, end), [
        '', '----------- SCAN SUMMARY -----------', 'Known viruses: 3', 'Engine version: vigil-0.1.0', 'Scanned directories: 2',
        'Scanned files: 5', 'Infected files: 1', 'Data scanned: 0.01 MB', 'Data read: 0.01 MB (ratio 1.50:1)',
        'Time: 62.042 sec (1 m 2 s)', 'Start Date: 2026:01:02 03:04:05', 'End Date:   2026:01:02 03:05:07',
      ]);
      assert.ok(summaryLines({ ...st, errors: 4 }, start, end).includes('Total errors: 4'));
      assert.equal(formatClamDate(new Date(2026, 10, 9, 1, 2, 3)), '2026:11:09 01:02:03');
    });
  });

  describe('runScan', () => {
    let root = '';
    before(() => { root = tmp('unit'); smallTree(root); });
    after(() => { rmSync(root, { recursive: true, force: true }); });

    it('runScan prints one line per path and the summary, and exits 1 when something is infected', async () => {
      const r = await vigil(['-d', 'db', '-r', 'tree'], { cwd: root });
      assert.equal(r.code, 1);
      assert.deepEqual(fileLines(r.out), [
        'tree/a.txt: OK', 'tree/bad.bin: Test.Bad.UNOFFICIAL FOUND', 'tree/empty: Empty file', 'tree/link: Symbolic link',
        'tree/sub/bad2.bin: Test.Bad.UNOFFICIAL FOUND', 'tree/sub/big.bin: OK', 'tree/sub/deeper/x.bin: OK', 'tree/tiny: OK',
      ]);
      assert.deepEqual(summaryOf(r.out), [
        '----------- SCAN SUMMARY -----------', 'Known viruses: 2', 'Engine version: fake-0.0.0', 'Scanned directories: 3',
        'Scanned files: 6', 'Infected files: 2', 'Data scanned: 0.00 MB', 'Data read: 0.00 MB (ratio 1.00:1)',
        'Time: 0.000 sec (0 m 0 s)', 'Start Date: 2026:11:29 04:05:06', 'End Date:   2026:11:29 04:05:06',
      ]);
      assert.equal(r.err, '');
    });

    it('runScan without -r lists the top directory only and still counts it', async () => {
      const r = await vigil(['-d', 'db', '--no-summary', 'tree/'], { cwd: root });
      assert.deepEqual(fileLines(r.out), ['tree/a.txt: OK', 'tree/bad.bin: Test.Bad.UNOFFICIAL FOUND', 'tree/empty: Empty file', 'tree/link: Symbolic link', 'tree/tiny: OK']);
    });

    it('runScan follows symlinks named on the command line and reports files of 5 bytes or fewer as OK', async () => {
      const r = await vigil(['-d', 'db', '--no-summary', 'tree/link', 'tree/tiny'], { cwd: root });
      assert.equal(r.out, 'tree/link: OK\ntree/tiny: OK\n');
      assert.equal(r.code, 0);
    });

    it('runScan -i prints only infected files and -o drops only OK lines', async () => {
      const i = await vigil(['-d', 'db', '-r', '-i', '--no-summary', 'tree'], { cwd: root });
      assert.deepEqual(fileLines(i.out), ['tree/bad.bin: Test.Bad.UNOFFICIAL FOUND', 'tree/sub/bad2.bin: Test.Bad.UNOFFICIAL FOUND']);
      const o = await vigil(['-d', 'db', '-r', '-o', '--no-summary', 'tree'], { cwd: root });
      assert.deepEqual(fileLines(o.out), ['tree/bad.bin: Test.Bad.UNOFFICIAL FOUND', 'tree/empty: Empty file', 'tree/link: Symbolic link', 'tree/sub/bad2.bin: Test.Bad.UNOFFICIAL FOUND']);
    });

    it('runScan reports a missing path on stderr and exits 2, or 1 when something else is infected', async () => {
      const missing = await vigil(['-d', 'db', '--no-summary', 'tree/a.txt', 'nonexistent'], { cwd: root });
      assert.equal(missing.code, 2);
      assert.equal(missing.out, 'tree/a.txt: OK\n');
      assert.equal(missing.err, "nonexistent: No such file or directory\nWARNING: nonexistent: Can't access file\n");
      const both = await vigil(['-d', 'db', 'nonexistent', 'tree/bad.bin'], { cwd: root });
      assert.equal(both.code, 1);
      assert.ok(!both.out.includes('Total errors'), 'a missing path is not counted in Total errors');
    });

    it('runScan --stdout sends warnings to stdout but the C-library message stays on stderr', async () => {
      const r = await vigil(['-d', 'db', '--no-summary', '--stdout', 'nonexistent'], { cwd: root });
      assert.equal(r.out, "WARNING: nonexistent: Can't access file\n");
      assert.equal(r.err, 'nonexistent: No such file or directory\n');
    });

    it('runScan -l appends every logged line except OK lines to the log file', async () => {
      const log = join(root, 'scan.log');
      rmSync(log, { force: true });
      await vigil(['-d', 'db', '-l', log, 'tree', 'nonexistent'], { cwd: root });
      await vigil(['-d', 'db', '-l', log, '--no-summary', 'tree/a.txt'], { cwd: root });
      const text = readFileSync(log, 'utf8');
      const sep = '\n-------------------------------------------------------------------------------\n\n';
      assert.ok(text.startsWith(sep));
      assert.equal(text.split(sep).length, 3, 'two runs, two separators');
      assert.ok(!text.includes(': OK'));
      assert.ok(text.includes('tree/bad.bin: Test.Bad.UNOFFICIAL FOUND\n'));
      assert.ok(text.includes("WARNING: nonexistent: Can't access file\n"));
      assert.ok(!text.includes('No such file or directory'), 'perror output is not logged');
      assert.ok(text.includes('----------- SCAN SUMMARY -----------\nKnown viruses: 2\n'));
      assert.ok(text.endsWith(sep), 'the second run logged only its separator');
    });

    it('runScan --json writes JSON to stdout and the text report to the log', async () => {
      const log = join(root, 'json.log');
      rmSync(log, { force: true });
      const r = await vigil(['-d', 'db', '--json', '-l', log, 'tree/bad.bin', 'tree/empty', 'tree/a.txt'], { cwd: root });
      const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(lines.slice(0, 3).map((l) => [l.path, l.verdict]), [['tree/bad.bin', 'infected'], ['tree/empty', 'not-scanned'], ['tree/a.txt', 'clean']]);
      assert.ok('summary' in (lines[3] as object));
      const text = readFileSync(log, 'utf8');
      assert.ok(text.includes('tree/bad.bin: Test.Bad.UNOFFICIAL FOUND\ntree/empty: Empty file\n\n----------- SCAN SUMMARY -----------\n'));
    });

    it('runScan fails with clamscan\'s messages when the log file cannot be opened', async () => {
      const r = await vigil(['-d', 'db', '-l', join(root, 'no/such/dir/log'), 'tree'], { cwd: root });
      assert.equal(r.code, 2);
      assert.equal(r.out, `ERROR: Failed to open log file ${join(root, 'no/such/dir/log')}: No such file or directory\n`);
      assert.equal(r.err, 'ERROR: Problem with internal logger.\n');
    });

    it('runScan -f scans the listed paths, strips CR, skips blank lines and warns about command-line paths', async () => {
      writeFileSync(join(root, 'list.txt'), 'tree/a.txt\r\n\ntree/bad.bin\ntree/sub\nnonexistent\n');
      const r = await vigil(['-d', 'db', '--no-summary', '-f', 'list.txt', 'tree/tiny'], { cwd: root });
      assert.equal(r.out, 'tree/a.txt: OK\ntree/bad.bin: Test.Bad.UNOFFICIAL FOUND\n' + fileLines(r.out).filter((l) => l.startsWith('tree/sub/')).join('\n') + '\n');
      assert.equal(r.err, "WARNING: Only scanning files from --file-list (files passed at cmdline are ignored)\nnonexistent: No such file or directory\nWARNING: nonexistent: Can't access file\n");
      assert.equal(r.code, 1);
      const none = await vigil(['-d', 'db', '--no-summary', '-f', 'nolist.txt'], { cwd: root });
      assert.equal(none.code, 2);
      assert.equal(none.err, "ERROR: --file-list: Can't open file nolist.txt\n");
    });

    it('runScan scans standard input for "-"', async () => {
      const r = await vigil(['-d', 'db', '-'], { cwd: root, stdin: Buffer.from(MALWARE) });
      assert.equal(r.code, 1);
      assert.ok(r.out.startsWith('stdin: Test.Bad.UNOFFICIAL FOUND\n'));
      assert.ok(r.out.includes('Scanned directories: 0\nScanned files: 1\nInfected files: 1\n'));
      const empty = await vigil(['-d', 'db', '--no-summary', '-'], { cwd: root, stdin: Buffer.alloc(0) });
      assert.equal(empty.out, 'stdin: OK\n');
    });

    it('runScan skips files over --max-filesize without reading them, and alerts with --alert-exceeds-max', async () => {
      let reads = 0;
      const readFile = async (p: Buffer): Promise<Uint8Array> => { reads++; return readFileSync(p); };
      const r = await vigil(['-d', 'db', '--no-summary', '--max-filesize=13', 'tree/bad.bin', 'tree/a.txt'], { cwd: root, readFile });
      assert.equal(r.out, 'tree/bad.bin: OK\ntree/a.txt: OK\n');
      assert.equal(reads, 1, 'only a.txt (12 bytes) was read');
      assert.equal(r.code, 0);
      const alert = await vigil(['-d', 'db', '--no-summary', '--max-filesize=13', '--alert-exceeds-max', 'tree/bad.bin', 'tree/a.txt'], { cwd: root });
      assert.equal(alert.out, 'tree/bad.bin: Heuristics.Limits.Exceeded.MaxFileSize FOUND\ntree/a.txt: OK\n');
      assert.equal(alert.code, 1);
      const zero = await vigil(['-d', 'db', '--no-summary', '--max-filesize=0', 'tree/bad.bin'], { cwd: root });
      assert.equal(zero.out, 'tree/bad.bin: Test.Bad.UNOFFICIAL FOUND\n', '0 disables the limit');
    });

    it('runScan reports unreadable files as Access denied and read failures as errors, with Total errors', async () => {
      const fail = (code: string) => async (p: Buffer): Promise<Uint8Array> => {
        if (p.toString().endsWith('a.txt')) throw Object.assign(new Error(`${code}: failure, open '${p.toString()}'`), { code });
        return readFileSync(p);
      };
      const denied = await vigil(['-d', 'db', 'tree/a.txt', 'tree/bad.bin'], { cwd: root, readFile: fail('EACCES') });
      assert.ok(denied.out.startsWith('tree/a.txt: Access denied\ntree/bad.bin: Test.Bad.UNOFFICIAL FOUND\n'));
      assert.ok(denied.out.includes('Scanned files: 1\nInfected files: 1\nTotal errors: 1\n'));
      assert.equal(denied.code, 1);
      const eio = await vigil(['-d', 'db', 'tree/a.txt'], { cwd: root, readFile: fail('EIO') });
      assert.ok(eio.out.startsWith("tree/a.txt: Can't read file ERROR\n"));
      assert.equal(eio.code, 2);
      const enxio = await vigil(['-d', 'db', '--no-summary', 'tree/a.txt'], { cwd: root, readFile: fail('ENXIO') });
      assert.equal(enxio.err, "WARNING: Can't open file tree/a.txt: No such device or address\n");
      assert.equal(enxio.code, 2);
      const tinyDenied = await vigil(['-d', 'db', '--no-summary', 'tree/tiny'], {
        cwd: root, canRead: async () => { throw Object.assign(new Error('EACCES'), { code: 'EACCES' }); },
      });
      assert.equal(tinyDenied.out, 'tree/tiny: Access denied\n', 'files skipped for their size are still checked for access');
    });

    it('runScan reports an engine failure on one file as an ERROR line and goes on', async () => {
      const loader: EngineLoader = async () => ({
        engine: {
          knownSignatures: 0, engineVersion: 'x',
          scan: (b) => { if (b.length === 12) throw new Error('Can\'t allocate memory'); return { verdict: 'clean', detections: [], bytesScanned: b.length }; },
        },
        errors: [],
      });
      const r = await vigil(['--no-summary', 'tree/a.txt', 'tree/sub/big.bin'], { cwd: root, loader });
      assert.equal(r.out, "tree/a.txt: Can't allocate memory ERROR\ntree/sub/big.bin: OK\n");
      assert.equal(r.code, 2);
    });

    it('runScan prints the loader\'s diagnostics and exits 2 with a summary when no engine loads', async () => {
      writeFileSync(join(root, 'bad.hdb'), 'not a hash line\n');
      const r = await vigil(['-d', 'bad.hdb', 'tree'], { cwd: root });
      assert.equal(r.code, 2);
      assert.equal(r.err, 'LibClamAV Error: cli_loadhash: Malformed hash string at line 1\n');
      assert.ok(r.out.startsWith('\n----------- SCAN SUMMARY -----------\nKnown viruses: 0\nEngine version: vigil-0.1.0\n'));
      const thrown = await vigil(['tree'], { cwd: root, loader: async () => { throw new Error('engine not available'); } });
      assert.equal(thrown.code, 2);
      assert.equal(thrown.err, 'ERROR: engine not available\n');
    });

    it('runScan -z prints one FOUND line per detection', async () => {
      const loader: EngineLoader = async () => ({
        engine: {
          knownSignatures: 2, engineVersion: 'x',
          scan: () => ({ verdict: 'infected', detections: [{ name: 'A', kind: 'hash', layer: [] }, { name: 'B', kind: 'body', layer: [], offset: 0, matched: '61' }], bytesScanned: 1 }),
        },
        errors: [],
      });
      const r = await vigil(['--no-summary', '-z', 'tree/a.txt'], { cwd: root, loader });
      assert.equal(r.out, 'tree/a.txt: A FOUND\ntree/a.txt: B FOUND\n');
    });

    it('runScan refuses actions on infected files and warns about options it ignores', async () => {
      const refused = await vigil(['-d', 'db', '--remove', 'tree'], { cwd: root });
      assert.equal(refused.code, 2);
      assert.match(refused.err, /^ERROR: --remove is not supported by vigil/);
      assert.equal(refused.out, '');
      const ignored = await vigil(['-d', 'db', '--no-summary', '--alert-broken', 'tree/a.txt'], { cwd: root });
      assert.equal(ignored.err, 'WARNING: Ignoring unsupported option --alert-broken\n');
      assert.equal(ignored.out, 'tree/a.txt: OK\n');
    });

    it('runScan -V and --help print and exit 0 without loading an engine', async () => {
      const loader: EngineLoader = async () => { throw new Error('must not load'); };
      const v = await vigil(['-V'], { loader });
      assert.deepEqual([v.code, v.out], [0, `${versionLine('0.1.0')}\n`]);
      const h = await vigil(['--help', 'x'], { loader });
      assert.equal(h.code, 0);
      assert.match(h.out, /Usage: vigil scan \[options\]/);
      const bad = await vigil(['--bogus'], { loader });
      assert.deepEqual([bad.code, bad.err], [2, "vigil scan: unrecognized option `--bogus'\nERROR: Unknown option passed\nERROR: Can't parse command line options\n"]);
    });

    it('runScan warns about an invalid --exclude pattern, which then matches nothing', async () => {
      const r = await vigil(['-d', 'db', '--no-summary', '--exclude=*.txt', 'tree/a.txt'], { cwd: root });
      assert.equal(r.out, 'tree/a.txt: OK\n');
      assert.equal(r.err, "WARNING: --exclude: '*.txt' is not a valid regular expression (repetition-operator operand invalid); it matches nothing\n");
    });

    it('runScan --exclude matches the resolved path and --exclude-dir the path as walked', async () => {
      const r = await vigil(['-d', 'db', '--no-summary', '-r', '--exclude=a\\.txt$', '--exclude-dir=^tree/sub$', 'tree'], { cwd: root });
      assert.deepEqual(fileLines(r.out), [
        'tree/a.txt: Excluded', 'tree/bad.bin: Test.Bad.UNOFFICIAL FOUND', 'tree/empty: Empty file', 'tree/link: Symbolic link', 'tree/sub: Excluded', 'tree/tiny: OK',
      ]);
      const viaLink = await vigil(['-d', 'db', '--no-summary', '--exclude=a\\.txt$', 'tree/link'], { cwd: root });
      assert.equal(viaLink.out, 'tree/link: Excluded\n');
    });

    it('runScan gives the same output with -j 4, in threads or in workers, as with -j 1', async () => {
      const one = await vigil(['-d', 'db', '-r', 'tree'], { cwd: root });
      const inThread = await vigil(['-d', 'db', '-r', '-j', '4', 'tree'], { cwd: root, loader: makeFakeLoader(false) });
      const workers = await vigil(['-d', 'db', '-r', '--jobs=3', 'tree'], { cwd: root });
      assert.equal(inThread.out, one.out);
      assert.equal(workers.out, one.out);
      assert.equal(workers.err, '');
    });

    it('runScan draws a progress line only on a terminal stderr and erases it', async () => {
      let t = 0;
      const clock = (): Date => new Date(FIXED_DATE.getTime() + (t += 150));
      const tty = await vigil(['-d', 'db', '-r', '--no-summary', 'tree'], { cwd: root, ttyStderr: true, clock });
      assert.ok(tty.err.includes('\r\u001b[KScanning: '), JSON.stringify(tty.err));
      assert.match(tty.err, /Scanning: \d+ files, \d+ infected, 0 errors/);
      assert.ok(tty.err.endsWith('\r\x1b[K'), 'the last thing written to stderr erases the line');
      const off = await vigil(['-d', 'db', '-r', '--no-summary', '--progress=no', 'tree'], { cwd: root, ttyStderr: true, clock });
      assert.equal(off.err, '');
      const pipe = await vigil(['-d', 'db', '-r', '--no-summary', '--progress', 'tree'], { cwd: root, clock });
      assert.equal(pipe.err, '', 'never on a pipe, even when asked');
    });

    it('runScan scans files whose names are not valid UTF-8 and prints their bytes unchanged', async () => {
      const dir = join(root, 'raw');
      mkdirSync(dir, { recursive: true });
      const name = Buffer.concat([Buffer.from(`${dir}/bad`), Buffer.from([0xff, 0xfe]), Buffer.from('.bin')]);
      writeFileSync(name, MALWARE);
      const r = await vigil(['-d', 'db', '--no-summary', 'raw'], { cwd: root });
      assert.deepEqual(r.outBytes, Buffer.concat([Buffer.from('raw/bad'), Buffer.from([0xff, 0xfe]), Buffer.from('.bin: Test.Bad.UNOFFICIAL FOUND\n')]));
      const j = await vigil(['-d', 'db', '--no-summary', '--json', 'raw'], { cwd: root });
      const rec = JSON.parse(j.out) as { path: string; pathHex: string };
      assert.equal(rec.pathHex, Buffer.from('raw/bad\xff\xfe.bin', 'latin1').toString('hex'));
      rmSync(dir, { recursive: true, force: true });
    });

    it('runScan reports a directory loop once when following directory symlinks', async () => {
      build(root, { 'loop/a/f.bin': 'loop-file-content', 'loop/a/up': { link: '..' } });
      const r = await vigil(['-d', 'db', '-r', '--no-summary', '--follow-dir-symlinks=2', 'loop'], { cwd: root });
      assert.equal(r.out, 'loop/a/f.bin: OK\n');
      assert.equal(r.err, 'WARNING: loop/a/up: Directory loop detected, not entered again\n');
      assert.equal(r.code, 0);
      rmSync(join(root, 'loop'), { recursive: true, force: true });
    });
  });

  describe('main', () => {
    let root = '';
    before(() => { root = tmp('main'); smallTree(root); writeFileSync(join(root, '-dash.bin'), MALWARE); });
    after(() => { rmSync(root, { recursive: true, force: true }); });

    async function runMain(argv: string[]): Promise<{ code: number; out: string; err: string }> {
      const stdout = new Capture();
      const stderr = new Capture();
      const prev = process.cwd();
      process.chdir(root);
      try {
        const code = await main(argv, { stdout, stderr, loader: makeFakeLoader(), stdin: Readable.from([]) });
        return { code, out: stdout.text, err: stderr.text };
      } finally {
        process.chdir(prev);
      }
    }

    it('main prints the version for -V at the top level and in scan', async () => {
      const top = await runMain(['-V']);
      assert.deepEqual([top.code, top.out], [0, `${versionLine(packageVersion())}\n`]);
      const sub = await runMain(['scan', '-V']);
      assert.deepEqual([sub.code, sub.out], [0, `${versionLine(packageVersion())}\n`]);
    });

    it('main passes scan its arguments untouched, "--" included', async () => {
      const r = await runMain(['scan', '-d', 'db', '--no-summary', '--', '-dash.bin']);
      assert.deepEqual([r.code, r.out, r.err], [1, '-dash.bin: Test.Bad.UNOFFICIAL FOUND\n', '']);
    });

    it('main passes daemon its arguments; with nothing to listen on it exits 2 and says so', async () => {
      const r = await runMain(['daemon', '-d', 'db']);
      assert.equal(r.code, 2);
      assert.match(r.err, /nothing to listen on/);
      assert.equal((await runMain(['daemon', '--bogus'])).code, 2);
    });

    it('main refuses an unknown db subcommand with exit code 2', async () => {
      const r = await runMain(['db', 'anything']);
      assert.equal(r.code, 2);
      assert.match(r.err, /unknown command 'anything'/);
    });

    it('main exits 2 with usage for no command or an unknown one, and 0 for --help', async () => {
      const none = await runMain([]);
      assert.equal(none.code, 2);
      assert.match(none.err, /Usage: vigil \[options\] \[command\]/);
      assert.equal((await runMain(['bogus'])).code, 2);
      const help = await runMain(['--help']);
      assert.equal(help.code, 0);
      assert.match(help.out, /scan \[args\.\.\.\]/);
    });
  });

  describe('vigil scan --json golden files', () => {
    for (const c of listGoldenCases(goldenDir('scan-json'))) {
      it(`vigil scan --json output matches ${c.name}.out`, async () => {
        const spec = parseGoldenInput(readFileSync(c.inPath, 'utf8'));
        const root = tmp('golden');
        try {
          spec.setup(root);
          const clock = (): Date => new Date(Date.UTC(2026, 10, 29, 4, 5, 6));
          const r = await vigil(['-d', 'db', ...spec.args], { cwd: root, stdin: spec.stdin, clock });
          // Records are sorted by their text (readdir order differs between file systems); the
          // summary object stays last.
          const lines = r.out.split('\n').filter((l) => l !== '');
          const records = lines.filter((l) => !l.startsWith('{"summary"')).sort();
          let actual = [...records, ...lines.filter((l) => l.startsWith('{"summary"'))].map((l) => `${l}\n`).join('');
          if (r.err !== '') actual += `--- stderr\n${r.err}`;
          actual += `--- exit ${r.code}\n`;
          expectGolden(c.outPath, actual);
        } finally {
          rmSync(root, { recursive: true, force: true });
        }
      });
    }
  });

  describe('differential: vigil scan against clamscan 1.4.6', () => {
    const version = spawnSync('clamscan', ['--version'], { encoding: 'utf8' });
    const haveClamscan = version.status === 0 && /^ClamAV /.test(version.stdout);
    const skip = haveClamscan ? false : 'clamscan is not installed: install clamav to run the differential suite';
    let work = '';
    let gen: GeneratedTree | undefined;
    before(() => {
      if (!haveClamscan) return;
      work = tmp('diff');
      chmodSync(work, 0o755);
      gen = generateTree(work, Number(process.env.VIGIL_DIFF_SEED ?? 20261129));
    });
    after(() => {
      if (!work) return;
      try { chmodSync(join(work, 'tree/d1/closed'), 0o755); } catch { /* already gone */ }
      rmSync(work, { recursive: true, force: true });
    });

    const scenarios: Scenario[] = [
      { name: 'recursive scan of the whole tree', args: ['-r', 'tree'] },
      { name: 'non-recursive scan of the top directory', args: ['tree'] },
      { name: 'recursive scan with -i', args: ['-r', '-i', 'tree'] },
      { name: 'recursive scan with -o', args: ['-r', '-o', 'tree'] },
      { name: 'recursive scan with -z', args: ['-r', '-z', 'tree'] },
      { name: 'no summary, a missing path and a trailing slash', args: ['-r', '--no-summary', 'tree/', 'missing-path', 'tree/d0'] },
      { name: 'missing path with --stdout', args: ['--stdout', 'missing-path', 'tree/d0'] },
      { name: 'exclude and exclude-dir patterns', args: ['-r', '--exclude=skip', '--exclude=\\.dat$', '--exclude-dir=ignored', 'tree'] },
      { name: 'include and include-dir patterns', args: ['-r', '--include=(?i)KEEP|\\.bin$', '--include-dir=^tree($|/d[0-2])', 'tree'] },
      { name: 'log file', args: ['-r', '-l', '@LOG@', 'tree'], log: true },
      { name: 'log file with -i and --no-summary', args: ['-r', '-i', '--no-summary', '-l', '@LOG@', 'tree', 'missing-path'], log: true },
      { name: 'file list', args: ['-f', 'list.txt'] },
      { name: 'file list plus ignored command-line paths', args: ['-f', 'list.txt', 'tree'] },
      { name: 'file limits without alert', args: ['-r', '--max-filesize=20000', 'tree'] },
      { name: 'file limits with alert', args: ['-r', '--max-filesize=20k', '--alert-exceeds-max', 'tree'] },
      { name: 'top-level symlinks, special files and files', args: ['top/file-link', 'top/dir-link', 'top/fifo', 'top/broken-link', 'tree/d1/'] },
      { name: 'never follow symlinks', args: ['--follow-file-symlinks=0', '--follow-dir-symlinks=0', 'top/file-link', 'top/dir-link'] },
      { name: 'always follow symlinks', args: ['-r', '--follow-file-symlinks=2', '--follow-dir-symlinks=2', 'tree/d0'] },
      { name: 'directory depth limit', args: ['-r', '--max-dir-recursion=3', 'tree'] },
      { name: 'standard input', args: ['-', 'tree/d0'], stdin: 'malware' },
      { name: 'bad option value', args: ['--max-filesize=12X', 'tree'] },
      { name: 'unknown option', args: ['--bogus', 'tree'] },
      { name: 'parallel vigil against sequential clamscan', args: ['-r', 'tree'], vigilExtra: ['-j', '4'] },
    ];

    for (const sc of scenarios) {
      it(`vigil scan matches clamscan: ${sc.name}`, { skip }, async () => {
        const g = gen as GeneratedTree;
        const r = await compareWithClamscan(work, g, sc, false);
        assert.deepEqual(r.vigil, r.clam);
      });
    }

    const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const setpriv = spawnSync('setpriv', ['--version']).status === 0;
    const nobodySkip = skip || (!asRoot ? 'needs root to run both scanners as another user' : !setpriv ? 'setpriv is not installed' : false);
    it('vigil scan matches clamscan as an unprivileged user: Access denied and unreadable directories', { skip: nobodySkip }, async () => {
      const g = gen as GeneratedTree;
      const r = await compareWithClamscan(work, g, { name: 'as nobody', args: ['-r', 'tree'] }, true);
      assert.deepEqual(r.vigil, r.clam);
      assert.match(r.clam.stdout, /: Access denied\n/);
      assert.match(r.clam.stdout, /: Can't open directory\.\n/);
    });

    it('as root clamscan scans a chmod 000 file like any other, and so does vigil', { skip }, async () => {
      const g = gen as GeneratedTree;
      if (!asRoot) return;
      const r = await compareWithClamscan(work, g, { name: 'unreadable as root', args: [g.unreadable] }, false);
      assert.deepEqual(r.vigil, r.clam);
      assert.doesNotMatch(r.clam.stdout, /Access denied/);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Golden input format
//
// One directive per line; `#` starts a comment line. Content fields take the rest of the line and
// understand the escapes \n \r \t \\ and \xHH.
//   args <arg> <arg> ...     arguments after `-d db` (split on spaces)
//   hdb <Name> <content>     a .hdb signature for a file with exactly this content
//   ndb <Name> <hex>         a body signature: this literal anywhere in the file
//   file <path> [content]    a file (empty without content)
//   fill <path> <size>       a file of <size> bytes (0x80, 0x81, ... repeating)
//   link <path> <target>     a symbolic link
//   dir <path>               an empty directory
//   stdin <content>          standard input for `-`

interface GoldenSpec {
  args: string[];
  stdin: Buffer | undefined;
  setup(root: string): void;
}

function unescape(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c !== '\\') { out.push(...Buffer.from(c, 'utf8')); continue; }
    const e = text[++i];
    if (e === 'n') out.push(10);
    else if (e === 'r') out.push(13);
    else if (e === 't') out.push(9);
    else if (e === 'x') { out.push(parseInt(text.slice(i + 1, i + 3), 16)); i += 2; }
    else out.push(...Buffer.from(e ?? '\\', 'utf8'));
  }
  return Buffer.from(out);
}

function parseGoldenInput(text: string): GoldenSpec {
  let args: string[] = [];
  let stdin: Buffer | undefined;
  const hdb: string[] = [];
  const ndb: string[] = [];
  const entries: Record<string, Entry> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.indexOf(' ');
    const op = sp < 0 ? line : line.slice(0, sp);
    const rest = sp < 0 ? '' : line.slice(sp + 1);
    const [first = '', ...more] = rest.split(' ');
    const tail = more.join(' ');
    switch (op) {
      case 'args': args = rest.split(' ').filter((a) => a !== ''); break;
      case 'stdin': stdin = unescape(rest); break;
      case 'hdb': hdb.push(hdbLine(unescape(tail), first)); break;
      case 'ndb': ndb.push(`${first}:0:*:${tail}\n`); break;
      case 'file': entries[first] = unescape(tail); break;
      case 'fill': entries[first] = Buffer.from(Array.from({ length: Number(tail) }, (_, i) => 0x80 + (i % 64))); break;
      case 'link': entries[first] = { link: tail }; break;
      case 'dir': entries[first] = { dir: true }; break;
      default: throw new Error(`unknown golden directive: ${op}`);
    }
  }
  return {
    args,
    stdin,
    setup(root: string): void {
      mkdirSync(join(root, 'db'), { recursive: true });
      if (hdb.length > 0) writeFileSync(join(root, 'db', 'test.hdb'), hdb.join(''));
      if (ndb.length > 0) writeFileSync(join(root, 'db', 'test.ndb'), ndb.join(''));
      build(root, entries);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Differential suite: the generated tree and the comparison

interface GeneratedTree {
  /** Path (relative to the work directory) of a chmod 000 file. */
  unreadable: string;
}

interface Scenario {
  name: string;
  args: string[];
  /** `@LOG@` in args is replaced by a per-scanner log path, and the logs are compared. */
  log?: boolean;
  /** Standard input: `malware` feeds one of the signatures' contents. */
  stdin?: 'malware';
  /** Extra vigil-only arguments (e.g. `-j 4`). */
  vigilExtra?: string[];
}

interface Observed {
  code: number;
  stdout: string;
  stderr: string;
  log: string;
}

const MALWARE_ALPHABET = Array.from({ length: 64 }, (_, i) => 0x80 + i);

/**
 * A seeded tree of a few hundred files. Contents are bytes 0x80–0xbf only, so that libclamav sees
 * plain binary data (no text normalisation, no file-type magic) and scans each file exactly once;
 * sizes stay at or below 128 KiB so that its block count is floor(size / 4096), as the fake reports.
 */
export function generateTree(work: string, seed: number): GeneratedTree {
  const rng = new Prng(seed);
  const samples = Array.from({ length: 6 }, () => rng.bytesFrom(rng.int(6, 9000), MALWARE_ALPHABET));
  writeFileSync(join(work, 'sigs.hdb'), samples.map((s, i) => hdbLine(Buffer.from(s), `Diff.Sample${i}`)).join(''));
  writeFileSync(join(work, 'stdin.bin'), samples[0] as Uint8Array);
  const dirs = ['tree'];
  const mk = (p: string): void => { mkdirSync(join(work, p), { recursive: true }); };
  mk('tree');
  for (let i = 0; i < 40; i++) {
    const parent = rng.pick(dirs);
    const depth = parent.split('/').length;
    if (depth > 6) continue;
    const kind = rng.weighted([['d', 6], ['ignored', 1], ['KEEP', 1]] as const);
    const name = `${kind}${i}${rng.chance(0.1) ? ' spaced' : ''}`;
    const p = `${parent}/${name}`;
    mk(p);
    dirs.push(p);
  }
  if (!dirs.includes('tree/d0')) { mk('tree/d0'); dirs.push('tree/d0'); }
  if (!dirs.includes('tree/d1')) { mk('tree/d1'); dirs.push('tree/d1'); }
  const files: string[] = [];
  for (let i = 0; i < 320; i++) {
    const dir = rng.pick(dirs);
    const ext = rng.pick(['.bin', '.dat', '.txt', '', '.skip.bin', '.KEEP']);
    const name = `${rng.word(2, 7)}${i}${ext}`;
    const kind = rng.weighted([['empty', 8], ['tiny', 5], ['infected', 15], ['clean', 72]] as const);
    let data: Uint8Array;
    if (kind === 'empty') data = new Uint8Array(0);
    else if (kind === 'tiny') data = rng.bytesFrom(rng.int(1, 5), MALWARE_ALPHABET);
    else if (kind === 'infected') data = rng.pick(samples);
    else data = rng.bytesFrom(rng.chance(0.1) ? rng.int(20000, 131072) : rng.int(6, 20000), MALWARE_ALPHABET);
    const rel = `${dir}/${name}`;
    writeFileSync(join(work, rel), data);
    files.push(rel);
  }
  // A name that is not valid UTF-8.
  writeFileSync(Buffer.from(`${work}/tree/d0/latin1-\xe9.bin`, 'latin1'), samples[1] as Uint8Array);
  // Symlinks inside the tree: to files, to directories, broken, and one pointing back up.
  for (let i = 0; i < 12; i++) {
    const from = rng.pick(dirs);
    const target = rng.pick(files);
    symlinkSync(join(work, target), join(work, from, `flink${i}`));
  }
  symlinkSync(join(work, 'tree/d1'), join(work, 'tree/d0/dlink'));
  symlinkSync('no-such-target', join(work, 'tree/d0/broken'));
  // A link back up, away from tree/d0 so that following links from there meets no loop (vigil
  // reports loops once where clamscan re-enters them up to --max-dir-recursion).
  mk('tree/loop');
  symlinkSync('..', join(work, 'tree/loop/up'));
  spawnSync('mkfifo', [join(work, 'tree/d0/fifo')]);
  // Unreadable file and directory (they matter only to an unprivileged scanner).
  const unreadable = 'tree/d0/unreadable.bin';
  writeFileSync(join(work, unreadable), samples[2] as Uint8Array);
  chmodSync(join(work, unreadable), 0o000);
  mk('tree/d1/closed');
  writeFileSync(join(work, 'tree/d1/closed/inside.bin'), samples[3] as Uint8Array);
  chmodSync(join(work, 'tree/d1/closed'), 0o000);
  // Top-level oddities.
  mk('top');
  symlinkSync(join(work, rng.pick(files)), join(work, 'top/file-link'));
  symlinkSync(join(work, 'tree/d0'), join(work, 'top/dir-link'));
  symlinkSync('nowhere', join(work, 'top/broken-link'));
  spawnSync('mkfifo', [join(work, 'top/fifo')]);
  // A file list: files, a directory, a missing path, a symlink, a CRLF line.
  const listed = rng.sample(files, 12);
  writeFileSync(join(work, 'list.txt'), `${listed.slice(0, 6).join('\n')}\ntree/d1\nmissing-in-list\ntop/file-link\r\n${listed.slice(6).join('\n')}\n`);
  mk('logs');
  for (const p of dirs) if (!p.endsWith('closed')) chmodSync(join(work, p), 0o755);
  return { unreadable };
}

function normalise(text: string): string {
  return text
    .replace(/^Engine version: .*$/gm, 'Engine version: <version>')
    .replace(/^Time: .*$/gm, 'Time: <time>')
    .replace(/^Start Date: .*$/gm, 'Start Date: <date>')
    .replace(/^End Date: {3}.*$/gm, 'End Date:   <date>')
    .replace(/^clamscan: /gm, 'vigil scan: ');
}

/** vigil's deliberate stderr additions (see the doc comment of src/cli/scan.ts), removed before comparing. */
const VIGIL_ONLY_STDERR = [/^WARNING: .*: Can't follow symbolic link: .*\n/gm, /^WARNING: .*: Directory loop detected, not entered again\n/gm];

export async function compareWithClamscan(work: string, _g: GeneratedTree, sc: Scenario, asNobody: boolean): Promise<{ clam: Observed; vigil: Observed }> {
  const argsFor = (who: 'clam' | 'vigil'): string[] => ['-d', 'sigs.hdb', ...sc.args.map((a) => (a === '@LOG@' ? `logs/${who}.log` : a))];
  const stdin = sc.stdin ? readFileSync(join(work, 'stdin.bin')) : Buffer.alloc(0);
  const readLog = (who: string): string => {
    const p = join(work, 'logs', `${who}.log`);
    if (!existsSync(p)) return '';
    const t = readFileSync(p, 'latin1');
    rmSync(p);
    return normalise(t);
  };
  const nobody = ['--reuid=nobody', '--regid=nogroup', '--clear-groups'];

  const c = asNobody
    ? spawnSync('setpriv', [...nobody, 'clamscan', ...argsFor('clam')], { cwd: work, input: stdin })
    : spawnSync('clamscan', argsFor('clam'), { cwd: work, input: stdin });
  const clam: Observed = {
    code: c.status ?? -1, stdout: normalise(c.stdout.toString('latin1')), stderr: normalise(c.stderr.toString('latin1')), log: sc.log ? readLog('clam') : '',
  };

  let v: RunResult;
  if (asNobody) {
    const code = `const m = await import(${JSON.stringify(import.meta.url)}); process.exitCode = await m.runFakeCli(process.argv.slice(1));`;
    // Loader flags such as `--import tsx` are resolved here: the child runs in the work directory.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--test')).map((a, i, all) =>
      i > 0 && (all[i - 1] === '--import' || all[i - 1] === '--require') && !a.startsWith('.') && !a.startsWith('/') && !a.includes(':') ? import.meta.resolve(a) : a);
    const p = spawnSync('setpriv', [...nobody, process.execPath, ...execArgv, '--input-type=module', '-e', code, '--', ...argsFor('vigil')], {
      cwd: work, input: stdin, env: { ...process.env, VIGIL_SCAN_TEST_CHILD: '1' },
    });
    v = { code: p.status ?? -1, out: p.stdout.toString('latin1'), err: p.stderr.toString('latin1'), outBytes: p.stdout, errBytes: p.stderr };
  } else {
    v = await vigil([...(sc.vigilExtra ?? []), ...argsFor('vigil')], { cwd: work, stdin, clock: () => new Date() });
  }
  let err = v.errBytes.toString('latin1');
  for (const re of VIGIL_ONLY_STDERR) err = err.replace(re, '');
  const vig: Observed = { code: v.code, stdout: normalise(v.outBytes.toString('latin1')), stderr: normalise(err), log: sc.log ? readLog('vigil') : '' };
  return { clam, vigil: vig };
}
