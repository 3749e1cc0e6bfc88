/**
 * End to end on loopback, every part a separate `vigil` process: a publisher makes keys, builds
 * v1..v3, logs each in `vigil log serve` and puts it on `vigil mirror serve`; a client follows
 * with `vigil update` and `vigil scan` detects what each version adds; a running `vigil daemon`
 * picks each version up without a restart. A tampered, an unlogged and a replayed bundle, and a
 * mirror serving a bundle from a forked log, are each refused with the reason while the installed
 * database keeps working; `vigil log audit` lists every signature the log ever published.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clamavDataSkip, readClamavData, sampleContent, tempDir, versionFiles } from '../update/testkit.js';
import { createServer } from 'node:http';

function root(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'bin', 'vigil.js'))) dir = dirname(dir);
  return dir;
}
const BIN = join(root(), 'bin', 'vigil.js');
const built = existsSync(join(root(), 'dist', 'src', 'cli', 'main.js'));

interface Run { code: number | null; stdout: string; stderr: string }

function vigil(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts a long-running vigil command; resolves with the process and the first line matching `ready`. */
function start(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${args.join(' ')}: not ready in 60 s:\n${out}`)); }, 60_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, match: m, output: () => out }); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${args.join(' ')} exited ${code}:\n${out}`)); });
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

/** One clamd command over a Unix socket; the reply without its terminator. */
function clamd(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let reply = '';
    s.on('connect', () => s.write(`z${command}\0`));
    s.on('data', (d) => { reply += d.toString(); });
    s.on('end', () => resolve(reply.replace(/\0$/, '')));
    s.on('error', reject);
  });
}

async function waitFor(what: string, ms: number, probe: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await probe()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

test('signed, logged updates end to end: publish v1..v3, clients and a running daemon follow, attacks are refused, the log is audited', { skip: built ? false : 'dist/ is not built (npx tsc -p .)', timeout: 240_000 }, async (t) => {
  const { dir, done } = tempDir('vigil-e2e-update-');
  t.after(done);
  const env = { VIGIL_HOME: join(dir, 'home') };
  const pubEnv = { VIGIL_HOME: join(dir, 'publisher-home') };
  const ok = (r: Run, what: string): Run => { assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`); return r; };
  const children: ChildProcess[] = [];
  t.after(async () => { for (const c of children) await stop(c); });

  // Publisher and log keys.
  ok(await vigil(['db', 'keygen', '--out', join(dir, 'publisher')], pubEnv), 'db keygen');
  ok(await vigil(['log', 'keygen', '--out', join(dir, 'log')], pubEnv), 'log keygen');
  const pubkey = join(dir, 'publisher.pub');
  const logPubkey = join(dir, 'log.pub');
  const logServer = await start(['log', 'serve', '--dir', join(dir, 'logdir'), '--key', join(dir, 'log.key'), '--publisher-pubkey', pubkey, '--listen', '127.0.0.1:0'], pubEnv, /Listening on (http:\/\/\S+)/);
  children.push(logServer.child);
  const logUrl = logServer.match[1]!;
  const mirrorDir = join(dir, 'mirror');
  mkdirSync(mirrorDir);
  const mirror = await start(['mirror', 'serve', mirrorDir, '--listen', '127.0.0.1:0'], pubEnv, /Serving .* on (http:\/\/\S+)/);
  children.push(mirror.child);
  const mirrorUrl = mirror.match[1]!;

  const build = async (v: number, name: string, files: Record<string, string> = versionFiles(v)): Promise<string> => {
    const src = join(dir, `src-${name}`);
    mkdirSync(src);
    for (const [n, text] of Object.entries(files)) writeFileSync(join(src, n), text);
    const out = join(dir, `${name}.raw`);
    ok(await vigil(['db', 'build', src, '--key', join(dir, 'publisher.key'), '--version', String(v), '--publisher', 'Vigil Test Signatures', '--out', out], pubEnv), `db build ${name}`);
    return out;
  };
  const publish = async (v: number): Promise<string> => {
    const raw = await build(v, `v${v}`);
    const out = join(mirrorDir, `vigil-${v}.vbundle`);
    ok(await vigil(['log', 'submit', raw, '--log', logUrl, '--log-pubkey', logPubkey, '--out', out], pubEnv), `log submit v${v}`);
    return out;
  };
  const samples = join(dir, 'samples');
  mkdirSync(samples);
  for (let i = 1; i <= 4; i++) writeFileSync(join(samples, `sample-${i}.bin`), sampleContent(i));
  const update = (extra: string[] = []): Promise<Run> => vigil(['update', '--mirror', mirrorUrl, '--pubkey', pubkey, '--log-pubkey', logPubkey, ...extra], env);
  const detected = async (): Promise<string[]> => {
    const r = await vigil(['scan', '--no-summary', '--infected', samples], env);
    return [...r.stdout.matchAll(/sample-(\d)\.bin: Vigil\.Test\.Sample-\d\.UNOFFICIAL FOUND/g)].map((m) => m[1]!).sort();
  };

  // v1, then a daemon with scheduled updates.
  await publish(1);
  const u1 = ok(await update(), 'update v1');
  assert.match(u1.stdout, /^Installed version 1 \(Vigil Test Signatures, manifest [0-9a-f]{64}/m);
  assert.match(u1.stdout, /Log: entry 0 of a tree of 1, inclusion and consistency checked/);
  assert.doesNotMatch(u1.stderr, /WARNING: no --log-pubkey/);
  assert.deepEqual(await detected(), ['1']);
  const socket = join(dir, 'clamd.sock');
  const daemon = await start(['daemon', '--socket', socket, '--threads', '0', '--update-mirror', mirrorUrl, '--update-pubkey', pubkey, '--update-log-pubkey', logPubkey, '--update-every', '1'], env, /clamd protocol on unix:/);
  children.push(daemon.child);
  assert.match(await clamd(socket, `SCAN ${join(samples, 'sample-1.bin')}`), /Vigil\.Test\.Sample-1\.UNOFFICIAL FOUND/);
  assert.match(await clamd(socket, `SCAN ${join(samples, 'sample-2.bin')}`), /: OK$/);

  for (const v of [2, 3]) {
    await publish(v);
    const took = await waitFor(`daemon picks up v${v}`, 30_000, async () => /FOUND/.test(await clamd(socket, `SCAN ${join(samples, `sample-${v}.bin`)}`)));
    t.diagnostic(`the running daemon detected what v${v} adds ${took} ms after it was published (updates every 1 s)`);
    // The daemon installed it; the command-line client finds itself up to date.
    const u = ok(await update(), `update v${v}`);
    assert.match(u.stdout, new RegExp(`^Up to date: version ${v} `, 'm'));
    assert.deepEqual(await detected(), ['1', '2', '3'].slice(0, v));
  }
  assert.match(daemon.output(), /update: installed version 3/);

  // Attacks: each refused with its reason; version 3 stays in use.
  const refused = async (what: string, file: Buffer, reason: RegExp): Promise<void> => {
    const path = join(mirrorDir, 'vigil-4.vbundle');
    writeFileSync(path, file);
    const r = await update();
    assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr, reason, what);
    assert.match(r.stdout, /^Kept version 3 /m, what);
    assert.deepEqual(await detected(), ['1', '2', '3'], `${what}: the installed database stopped working`);
    t.diagnostic(`${what}: ${r.stderr.split('\n').find((l) => l.startsWith('REFUSED'))}`);
    rmSync(path);
  };
  const raw4 = await build(4, 'v4');
  const logged4 = join(dir, 'v4.logged');
  ok(await vigil(['log', 'submit', raw4, '--log', logUrl, '--out', logged4], pubEnv), 'log submit v4');
  const tampered = readFileSync(logged4);
  const at = tampered.indexOf('Vigil.Test.Sample-4');
  tampered[at] = tampered[at]! ^ 0x20;
  await refused('tampered', tampered, /REFUSED \S+ \(version 4\): hash-mismatch: vigil\.hdb: SHA-256 does not match the manifest/);
  await refused('unlogged', readFileSync(await build(4, 'v4-unlogged')), /REFUSED \S+ \(version 4\): not-logged: the bundle carries no log proof/);
  // Replayed: an older bundle handed over offline.
  const replay = await vigil(['update', '--bundle', join(mirrorDir, 'vigil-2.vbundle'), '--pubkey', pubkey, '--log-pubkey', logPubkey], env);
  assert.equal(replay.code, 2);
  assert.match(replay.stderr, /REFUSED \S+vigil-2\.vbundle \(version 2\): rollback: bundle version 2 is not newer than version 3/);
  // A forked log: the log's key signs a second history (v1, then a targeted bundle, then v4).
  const fork = await start(['log', 'serve', '--dir', join(dir, 'forkdir'), '--key', join(dir, 'log.key'), '--publisher-pubkey', pubkey, '--listen', '127.0.0.1:0'], pubEnv, /Listening on (http:\/\/\S+)/);
  children.push(fork.child);
  const forkUrl = fork.match[1]!;
  ok(await vigil(['log', 'submit', join(dir, 'v1.raw'), '--log', forkUrl, '--out', join(dir, 'f1')], pubEnv), 'fork v1');
  const evil = await build(2, 'evil', { 'targeted.hdb': `${'0'.repeat(31)}1:1234:Targeted.Document\n` });
  ok(await vigil(['log', 'submit', evil, '--log', forkUrl, '--out', join(dir, 'f2')], pubEnv), 'fork evil');
  ok(await vigil(['log', 'submit', raw4, '--log', forkUrl, '--out', join(dir, 'f4')], pubEnv), 'fork v4');
  await refused('forked log', readFileSync(join(dir, 'f4')), /REFUSED \S+ \(version 4\): fork: the log forked: tree head of size 3 .* is not consistent with the one seen before, size 3/);

  // Without a log key: the warning, on every run.
  const nolog = await vigil(['update', '--mirror', mirrorUrl, '--pubkey', pubkey], env);
  assert.match(nolog.stderr, /WARNING: no --log-pubkey: nothing was checked against a transparency log/);

  // Rollback to the last known-good, then the audit log has it all.
  const rb = ok(await vigil(['update', '--rollback'], env), 'rollback');
  assert.match(rb.stdout, /Rolled back .* from version 3 to version 2/);
  assert.deepEqual(await detected(), ['1', '2']);
  const status = JSON.parse(ok(await vigil(['status', '--json'], env), 'status').stdout) as { updates: { version: number; logged: boolean; logHead: number }; privacy: string };
  assert.equal(status.updates.version, 2);
  assert.equal(status.updates.logged, true);
  assert.equal(status.updates.logHead, 3);
  assert.match(status.privacy, /no file and no file name leaves this machine/);
  const audit = ok(await vigil(['audit', 'verify'], env), 'audit verify');
  t.diagnostic(audit.stdout.trim());
  const list = ok(await vigil(['audit', 'list'], env), 'audit list').stdout;
  for (const kind of ['update-install', 'update-refused', 'update-rollback']) assert.match(list, new RegExp(kind), `${kind} not in the audit log`);

  // The public log, replayed by anyone: every signature ever published, with its bundle and time.
  const replayed = ok(await vigil(['log', 'audit', logUrl, '--log-pubkey', logPubkey, '--pubkey', pubkey], pubEnv), 'log audit').stdout;
  for (let i = 1; i <= 4; i++) assert.match(replayed, new RegExp(`Vigil\\.Test\\.Sample-${i}\\b`));
  assert.doesNotMatch(replayed, /Targeted\.Document/);
  const forkAudit = ok(await vigil(['log', 'audit', forkUrl, '--log-pubkey', logPubkey], pubEnv), 'fork audit').stdout;
  assert.match(forkAudit, /Targeted\.Document/, 'the forked history shows its targeted signature to whoever audits it');
});

test("the daemon follows ClamAV's official channel on a schedule: .cvd first, then .cdiffs, reloading each time", { skip: !built ? 'dist/ is not built (npx tsc -p .)' : clamavDataSkip, timeout: 120_000 }, async (t) => {
  const { dir, done } = tempDir('vigil-e2e-clamav-');
  t.after(done);
  const env = { VIGIL_HOME: join(dir, 'home') };
  // A mirror: whatever `files` holds, by name (freshclam's layout: test.cvd, test-N.cdiff).
  const files = new Map<string, Buffer>([['test.cvd', readClamavData('test-1.cvd')]]);
  const server = createServer((req, res) => {
    const f = files.get(decodeURIComponent((req.url ?? '/').slice(1)));
    if (!f) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-length': f.length }).end(f);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const socket = join(dir, 'clamd.sock');
  const daemon = await start(['daemon', '--socket', socket, '--threads', '0', '--update-clamav-mirror', url, '--update-clamav-db', 'test', '--update-every', '1'], env, /clamd protocol on unix:/);
  t.after(() => stop(daemon.child));
  assert.match(daemon.output(), /clamav update: test\.cvd updated \(version: 1, /);
  assert.ok(existsSync(join(dir, 'home', 'clamav', 'test.cvd')));
  for (let n = 2; n <= 6; n++) files.set(`test-${n}.cdiff`, readClamavData(`test-${n}.cdiff`));
  files.set('test.cvd', readClamavData('test-6.cvd'));
  const took = await waitFor('the daemon applies the cdiffs', 30_000, async () => /test\.cld updated \(version: 6, /.test(daemon.output()));
  await waitFor('the daemon reloads', 30_000, async () => readFileSync(join(dir, 'home', 'audit.ndjson'), 'utf8').includes('"database-reload"'));
  t.diagnostic(`test.cld version 6 built from test.cvd version 1 and five cdiffs ${took} ms after they appeared`);
  assert.ok(existsSync(join(dir, 'home', 'clamav', 'test.cld')));
  assert.ok(!existsSync(join(dir, 'home', 'clamav', 'test.cvd')), 'the older test.cvd stays beside the newer test.cld');
  assert.equal(await clamd(socket, 'PING'), 'PONG');
});
