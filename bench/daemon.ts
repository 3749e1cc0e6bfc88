/**
 * The daemon benchmark: `vigil daemon` against clamd 1.4, in the same run, with the same database,
 * under the same load.
 *
 * In: options (`--clients N` (default 16), `--seconds T` (10), `--seed S`, `--hashes N` (100000),
 * `--bodies N` (5000)). Out: a report on stdout: the database and the load, then per daemon the
 * requests completed, errors, throughput (requests/s and MB/s of INSTREAM data), p50/p99 latency,
 * and peak RSS, with the ratios vigil/clamd. It asserts nothing and exits 0 once it has run.
 *
 * Load: N clients on loopback (Unix socket), each sending INSTREAM requests back to back for T
 * seconds, files of mixed sizes (1 KiB to 4 MiB, seeded), one in 20 carrying EICAR; every reply is
 * checked against what the file holds (an error or a wrong verdict counts as an error).
 * Memory: the daemon's peak RSS (VmHWM of /proc/PID/status) after the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { repoRoot } from './util.js';
import { waitForClamd } from '../src/daemon/clamd/client.js';

const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? Number(process.argv[i + 1]) : dflt;
}

/** A small seeded generator (xorshift32). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 0x100000000; };
}

interface Sample { bytes: Buffer; infected: boolean }

function samples(seed: number, count: number): Sample[] {
  const r = rng(seed);
  const out: Sample[] = [];
  for (let i = 0; i < count; i++) {
    const size = Math.floor(1024 * Math.pow(4096, r())); // 1 KiB .. 4 MiB, log-uniform
    const bytes = Buffer.alloc(size);
    for (let k = 0; k < size; k += 4096) bytes.writeUInt32LE((r() * 0xffffffff) >>> 0, k);
    const infected = r() < 0.05;
    if (infected) EICAR.copy(bytes, Math.floor(r() * (size - EICAR.length)));
    out.push({ bytes, infected });
  }
  return out;
}

function instream(sock: string, body: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(sock);
    let got = '';
    c.on('data', (d) => { got += d.toString('latin1'); });
    c.on('close', () => resolve(got));
    c.on('error', reject);
    const chunk = 64 * 1024;
    c.write('zINSTREAM\0');
    for (let at = 0; at < body.length; at += chunk) {
      const part = body.subarray(at, at + chunk);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(part.length);
      c.write(len);
      c.write(part);
    }
    c.write(Buffer.alloc(4));
  });
}


function peakRss(pid: number | undefined): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

interface Run { requests: number; errors: number; bytes: number; seconds: number; latencies: number[]; rss: number }

async function load(sock: string, pid: number | undefined, files: Sample[], clients: number, seconds: number): Promise<Run> {
  const latencies: number[] = [];
  let errors = 0, bytes = 0, next = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < end) {
      const s = files[next++ % files.length]!;
      const t0 = performance.now();
      try {
        const reply = await instream(sock, s.bytes);
        const ok = s.infected ? /^stream: \S+ FOUND\0$/.test(reply) : reply === 'stream: OK\0';
        if (!ok) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t0);
      bytes += s.bytes.length;
    }
  }));
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, errors, bytes, seconds: (performance.now() - started) / 1000, latencies, rss: peakRss(pid) };
}

const pct = (v: number[], p: number): number => v[Math.min(v.length - 1, Math.floor((v.length - 1) * p))] ?? NaN;

async function main(): Promise<void> {
  const clients = arg('clients', 16), seconds = arg('seconds', 10), seed = arg('seed', 1);
  const hashes = arg('hashes', 100000), bodies = arg('bodies', 5000);
  const clamd = ['/usr/sbin/clamd', '/usr/bin/clamd'].find((p) => existsSync(p));
  if (!clamd) { console.log('clamd (clamav-daemon) is not installed: the daemon benchmark needs it'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-daemon-'));
  const procs: ChildProcess[] = [];
  try {
    // The database: random hashes (none matching) and body signatures, plus EICAR.
    const db = join(dir, 'db');
    mkdirSync(db);
    const r = rng(seed);
    const hdb: string[] = [];
    for (let i = 0; i < hashes; i++) hdb.push(`${createHash('md5').update(String(r())).digest('hex')}:${1000 + i}:Bench.Hash.${i}`);
    writeFileSync(join(db, 'bench.hdb'), hdb.join('\n') + '\n');
    const ndb: string[] = [`Eicar.Bench:0:*:${EICAR.toString('hex')}`];
    for (let i = 0; i < bodies; i++) ndb.push(`Bench.Body.${i}:0:*:${randomBytes(12).toString('hex')}`);
    writeFileSync(join(db, 'bench.ndb'), ndb.join('\n') + '\n');
    const files = samples(seed, 200);
    const total = files.reduce((n, s) => n + s.bytes.length, 0);
    console.log('Daemon benchmark: vigil daemon against clamd, same database, same load');
    console.log(`  database: ${hashes} hash + ${bodies + 1} body signatures`);
    console.log(`  load: ${clients} concurrent INSTREAM clients for ${seconds} s over a Unix socket; ${files.length} files of 1 KiB..4 MiB (${(total / 2 ** 20).toFixed(1)} MiB), 5% with EICAR; seed ${seed}`);
    const results: [string, Run][] = [];
    for (const name of ['clamd', 'vigil'] as const) {
      const sock = join(dir, `${name}.sock`);
      const conf = join(dir, `${name}.conf`);
      writeFileSync(conf, [`LocalSocket ${sock}`, `DatabaseDirectory ${db}`, 'Foreground yes', 'MaxThreads 10', 'StreamMaxLength 10M', 'LogFile /dev/null', `TemporaryDirectory ${dir}`, ''].join('\n'));
      const proc = name === 'clamd'
        ? spawn(clamd, ['-c', conf], { stdio: 'ignore' })
        : spawn(process.execPath, [join(repoRoot(), 'bin', 'vigil.js'), 'daemon', '--config', conf, '--self-check', '0'], { stdio: 'ignore' });
      procs.push(proc);
      const t0 = performance.now();
      await waitForClamd(sock, 120_000);
      console.log(`  ${name}: ready in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      const run = await load(sock, proc.pid, files, clients, seconds);
      results.push([name, run]);
      proc.kill('SIGTERM');
    }
    console.log('');
    console.log('  daemon   requests  errors   req/s      MB/s   p50 ms   p99 ms   peak RSS');
    for (const [name, run] of results) {
      console.log(`  ${name.padEnd(7)} ${String(run.requests).padStart(9)} ${String(run.errors).padStart(7)} ${(run.requests / run.seconds).toFixed(1).padStart(7)} ${(run.bytes / run.seconds / 1e6).toFixed(1).padStart(9)} ${pct(run.latencies, 0.5).toFixed(1).padStart(8)} ${pct(run.latencies, 0.99).toFixed(1).padStart(8)} ${(run.rss / 2 ** 20).toFixed(0).padStart(7)} MiB`);
    }
    const [c, v] = [results[0]![1], results[1]![1]];
    console.log('');
    console.log(`  vigil/clamd: throughput ${((v.bytes / v.seconds) / (c.bytes / c.seconds)).toFixed(2)}x, p50 ${(pct(v.latencies, 0.5) / pct(c.latencies, 0.5)).toFixed(2)}x, p99 ${(pct(v.latencies, 0.99) / pct(c.latencies, 0.99)).toFixed(2)}x, peak RSS ${(v.rss / c.rss).toFixed(2)}x`);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
