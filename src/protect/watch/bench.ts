/**
 * Measures the two watcher backends this platform offers for the real-time scanner:
 * @parcel/watcher 2 (`subscribe`) and Node's `fs.watch(dir, { recursive: true })`.
 *
 *   node --import tsx src/protect/watch/bench.ts [DIRS=100000] [WRITES=10000]
 *
 * In: the number of directories to create (a tree of 100-wide fan-out plus one 20-deep chain) and
 * the number of files to write across them. Out: for each backend (each in its own child process, so
 * that the RSS figures do not mix), the time until a write in the deepest directory is reported
 * ("ready"), the RSS growth, and how many events and distinct written paths were delivered. Why:
 * the watcher's backend is chosen by these figures, not by reputation; the script stays so that the
 * choice can be checked again on another machine.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Figures { backend: string; dirs: number; readyMs: number; rssDeltaMb: number; events: number; distinctWritten: number; writes: number; error?: string }

/** Creates `n` directories under `root`; returns all of them (deepest last). */
export function makeTree(root: string, n: number): string[] {
  const dirs: string[] = [];
  const width = 100;
  for (let i = 0; dirs.length < n - 20; i++) {
    const top = join(root, `d${i}`);
    mkdirSync(top);
    dirs.push(top);
    for (let j = 0; j < width - 1 && dirs.length < n - 20; j++) {
      const sub = join(top, `s${j}`);
      mkdirSync(sub);
      dirs.push(sub);
    }
  }
  let deep = root;
  for (let k = 0; k < 20; k++) {
    deep = join(deep, `deep${k}`);
    mkdirSync(deep);
    dirs.push(deep);
  }
  return dirs;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function child(backend: string, root: string, dirsFile: string, writes: number): Promise<Figures> {
  const { readFileSync } = await import('node:fs');
  const dirs = readFileSync(dirsFile, 'utf8').split('\n').filter(Boolean);
  const deepest = dirs[dirs.length - 1]!;
  const seen = new Set<string>();
  let events = 0;
  const onPath = (p: string) => { events++; seen.add(p); };
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  let stop: () => Promise<void>;
  if (backend === 'parcel') {
    const parcel = await import('@parcel/watcher');
    const sub = await parcel.subscribe(root, (err, evs) => { if (!err) for (const e of evs) onPath(e.path); });
    stop = () => sub.unsubscribe();
  } else {
    const w = watch(root, { recursive: true }, (_t, name) => { if (name) onPath(join(root, name.toString())); });
    stop = async () => { w.close(); await Promise.resolve(); };
  }
  // Ready: a write in the deepest directory is reported.
  let readyMs = -1;
  for (let i = 0; readyMs < 0 && performance.now() - t0 < 120_000; i++) {
    const probe = join(deepest, `probe${i}`);
    writeFileSync(probe, 'x');
    for (let k = 0; k < 10; k++) {
      await sleep(20);
      if (seen.has(probe)) { readyMs = performance.now() - t0; break; }
    }
  }
  global.gc?.();
  const rssDeltaMb = (process.memoryUsage().rss - rss0) / 1048576;
  events = 0;
  seen.clear();
  const written: string[] = [];
  const step = Math.max(1, Math.floor(dirs.length / writes));
  for (let i = 0; i < dirs.length && written.length < writes; i += step) {
    const f = join(dirs[i]!, 'w.txt');
    writeFileSync(f, 'hello');
    written.push(f);
  }
  await sleep(3000);
  const distinctWritten = written.filter((f) => seen.has(f)).length;
  await stop();
  return { backend, dirs: dirs.length, readyMs: Math.round(readyMs), rssDeltaMb: Math.round(rssDeltaMb * 10) / 10, events, distinctWritten, writes: written.length };
}

async function main(): Promise<void> {
  const [, , a1, a2, a3, a4, a5] = process.argv;
  if (a1 === '--child') {
    const figures = await child(a2!, a3!, a4!, Number(a5));
    process.stdout.write(JSON.stringify(figures) + '\n');
    process.exit(0);
  }
  const n = Number(a1 ?? 100_000);
  const writes = Number(a2 ?? 10_000);
  const base = mkdtempSync(join(tmpdir(), 'vigil-watch-bench-'));
  try {
    const root = join(base, 'tree');
    mkdirSync(root);
    let t = performance.now();
    const dirs = makeTree(root, n);
    const dirsFile = join(base, 'dirs.txt');
    writeFileSync(dirsFile, dirs.join('\n'));
    process.stdout.write(`created ${dirs.length} directories in ${Math.round(performance.now() - t)} ms\n`);
    for (const backend of ['parcel', 'fs.watch']) {
      t = performance.now();
      const out = await new Promise<string>((resolve) => {
        const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--child', backend, root, dirsFile, String(writes)], { stdio: ['ignore', 'pipe', 'inherit'] });
        let s = '';
        p.stdout.on('data', (d: Buffer) => { s += d.toString(); });
        p.on('close', (code) => resolve(s || JSON.stringify({ backend, error: `exit ${code}` })));
      });
      process.stdout.write(out.trim() + '\n');
      rmSync(join(root, 'unused'), { force: true });
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) void main();
