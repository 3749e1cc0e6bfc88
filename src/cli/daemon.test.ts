import { test } from 'node:test';
import assert from 'node:assert/strict';
import { instream, talk } from '../../test/helpers/clamd.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDaemon } from './daemon.js';

const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');


test('vigil daemon: clamd protocol on a Unix socket and the HTTP API over one database; SHUTDOWN ends it with 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-daemon-'));
  try {
    const db = join(dir, 'eicar.ndb');
    writeFileSync(db, `Eicar.Test:0:*:${EICAR.toString('hex')}\n`);
    const sock = join(dir, 'clamd.sock');
    let out = '';
    let err = '';
    let ready!: () => void;
    const isReady = new Promise<void>((r) => { ready = r; });
    const stdout = { write: (s: string) => { out += s; if (out.includes('HTTP API on')) ready(); return true; } };
    const stderr = { write: (s: string) => { err += s; return true; } };
    const running = runDaemon(['--socket', sock, '--http', '127.0.0.1:0', '-d', db], { stdout, stderr });
    await Promise.race([isReady, running.then((code) => { throw new Error(`the daemon ended early (${code}): ${err}`); })]);
    assert.match(out, new RegExp(`clamd protocol on unix:${sock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

    assert.equal(await talk(sock, Buffer.from('zPING\0')), 'PONG\0');
    assert.equal(await talk(sock, Buffer.from('nPING\n')), 'PONG\n');
    assert.equal(await talk(sock, instream(EICAR)), 'stream: Eicar.Test.UNOFFICIAL FOUND\0');
    assert.equal(await talk(sock, instream(Buffer.from('nothing to see here'))), 'stream: OK\0');
    const infected = join(dir, 'eicar.com');
    writeFileSync(infected, EICAR);
    assert.equal(await talk(sock, Buffer.from(`nSCAN ${infected}\n`)), `${infected}: Eicar.Test.UNOFFICIAL FOUND\n`);

    const port = Number(/HTTP API on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]);
    const res = await fetch(`http://127.0.0.1:${port}/v1/scan`, { method: 'POST', body: EICAR });
    const json = await res.json() as { verdict: string; detections: { name: string }[] };
    assert.equal(json.verdict, 'infected');
    assert.equal(json.detections[0]?.name, 'Eicar.Test.UNOFFICIAL');
    const clean = await (await fetch(`http://127.0.0.1:${port}/v1/scan`, { method: 'POST', body: 'hello' })).json() as { verdict: string };
    assert.equal(clean.verdict, 'clean');

    await talk(sock, Buffer.from('zSHUTDOWN\0'));
    assert.equal(await running, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vigil daemon refuses a configuration with errors, bad addresses and nothing to listen on (exit 2)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-daemon-'));
  try {
    const io = () => { const o = { out: '', err: '' }; return { o, deps: { stdout: { write: (s: string) => { o.out += s; return true; } }, stderr: { write: (s: string) => { o.err += s; return true; } } } }; };
    const none = io();
    assert.equal(await runDaemon([], none.deps), 2);
    assert.match(none.o.err, /nothing to listen on/);
    const bad = io();
    assert.equal(await runDaemon(['--tcp', 'nowhere'], bad.deps), 2);
    assert.match(bad.o.err, /--tcp wants HOST:PORT/);
    const conf = join(dir, 'clamd.conf');
    writeFileSync(conf, 'MaxThreads notanumber\n');
    const broken = io();
    assert.equal(await runDaemon(['--config', conf, '--socket', join(dir, 's')], broken.deps), 2);
    assert.match(broken.o.err, /ERROR: .*MaxThreads/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vigil daemon reloads when its database changes (SelfCheck) and scans on with the new one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-daemon-'));
  try {
    const dbDir = join(dir, 'db');
    mkdirSync(dbDir);
    writeFileSync(join(dbDir, 'other.ndb'), 'Other.Sig:0:*:6b65737472656c2d706c6f766572\n');
    const sock = join(dir, 'clamd.sock');
    let out = '';
    let err = '';
    let ready!: () => void;
    const isReady = new Promise<void>((r) => { ready = r; });
    const stdout = { write: (s: string) => { out += s; if (out.includes('clamd protocol on')) ready(); return true; } };
    const stderr = { write: (s: string) => { err += s; return true; } };
    const running = runDaemon(['--socket', sock, '-d', dbDir, '--self-check', '1', '--threads', '0'], { stdout, stderr });
    await Promise.race([isReady, running.then((code) => { throw new Error(`the daemon ended early (${code}): ${err}`); })]);
    assert.equal(await talk(sock, instream(EICAR)), 'stream: OK\0');
    writeFileSync(join(dbDir, 'eicar.ndb'), `Eicar.Test:0:*:${EICAR.toString('hex')}\n`);
    let reply = '';
    for (let i = 0; i < 40 && !reply.includes('FOUND'); i++) {
      await new Promise((r) => setTimeout(r, 250));
      reply = await talk(sock, instream(EICAR));
    }
    assert.equal(reply, 'stream: Eicar.Test.UNOFFICIAL FOUND\0');
    assert.match(err, /SelfCheck: Database modification detected\. Forcing reload\./);
    await talk(sock, Buffer.from('zSHUTDOWN\0'));
    assert.equal(await running, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a file over clamd.conf's MaxFileSize is OK on clamd's protocol (as clamd replies) and not-scanned over HTTP", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-daemon-'));
  try {
    const db = join(dir, 'eicar.ndb');
    writeFileSync(db, `Eicar.Test:0:*:${EICAR.toString('hex')}\n`);
    const sock = join(dir, 'clamd.sock');
    const conf = join(dir, 'clamd.conf');
    writeFileSync(conf, `LocalSocket ${sock}\nMaxFileSize 100\n`);
    let out = '';
    let ready!: () => void;
    const isReady = new Promise<void>((r) => { ready = r; });
    const stdout = { write: (s: string) => { out += s; if (out.includes('HTTP API on')) ready(); return true; } };
    const running = runDaemon(['--config', conf, '-d', db, '--http', '127.0.0.1:0', '--threads', '0'], { stdout, stderr: { write: () => true } });
    await isReady;
    const big = Buffer.concat([EICAR, Buffer.alloc(100, 0x20)]);
    assert.equal(await talk(sock, instream(big)), 'stream: OK\0');
    assert.equal(await talk(sock, instream(EICAR)), 'stream: Eicar.Test.UNOFFICIAL FOUND\0');
    const port = Number(/HTTP API on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]);
    const json = await (await fetch(`http://127.0.0.1:${port}/v1/scan`, { method: 'POST', body: big })).json() as { verdict: string; reason?: string };
    assert.equal(json.verdict, 'not-scanned');
    assert.match(json.reason ?? '', /MaxFileSize/);
    await talk(sock, Buffer.from('zSHUTDOWN\0'));
    assert.equal(await running, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
