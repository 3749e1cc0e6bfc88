import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { instream, talk } from '../../test/helpers/clamd.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDaemon } from './daemon.js';

const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');


async function startDaemon(dir: string, args: string[]): Promise<{ sock: string; running: Promise<number> }> {
  const sock = join(dir, 'clamd.sock');
  let out = '';
  let ready!: () => void;
  const isReady = new Promise<void>((r) => { ready = r; });
  const running = runDaemon(['--socket', sock, ...args], { stdout: { write: (s: string) => { out += s; if (out.includes('clamd protocol on')) ready(); return true; } }, stderr: { write: () => true } });
  await Promise.race([isReady, running.then((c) => { throw new Error(`the daemon ended (${c})`); })]);
  return { sock, running };
}

test('250 concurrent connections all get their replies, and the daemon keeps serving', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-load-'));
  try {
    const db = join(dir, 'eicar.ndb');
    writeFileSync(db, `Eicar.Test:0:*:${EICAR.toString('hex')}\n`);
    const { sock, running } = await startDaemon(dir, ['-d', db, '--threads', '2']);
    // 250 connections open at once (opened in turn, as a listen backlog would take them), then all
    // their requests sent together.
    const conns: net.Socket[] = [];
    for (let i = 0; i < 250; i++) {
      conns.push(await new Promise<net.Socket>((resolve, reject) => {
        const c = net.createConnection(sock, () => resolve(c));
        c.on('error', reject);
      }));
    }
    const replies = await Promise.all(conns.map((c, i) => new Promise<boolean>((resolve) => {
      let got = '';
      c.on('data', (d) => { got += d.toString('latin1'); });
      const infected = i % 3 === 1;
      const want = i % 3 === 0 ? 'PONG\0' : infected ? 'stream: Eicar.Test.UNOFFICIAL FOUND\0' : 'stream: OK\0';
      c.on('close', () => resolve(got === want));
      if (i % 3 === 0) c.write('zPING\0');
      else c.write(instream(infected ? Buffer.concat([Buffer.alloc(i * 10, 0x41), EICAR]) : Buffer.alloc(i * 10 + 1, 0x42)));
    })));
    assert.equal(replies.filter((ok) => !ok).length, 0, 'every connection got the right reply');
    // Half-sent frames and garbage on more connections do not stop it.
    const broken = Array.from({ length: 20 }, (_, i) => new Promise<void>((resolve) => {
      const c = net.createConnection(sock);
      c.on('error', () => resolve());
      c.on('close', () => resolve());
      c.write(i % 2 ? Buffer.from('zINSTREAM\0\x00\x00\x10') : Buffer.from('\xff\xfegarbage\n', 'latin1'));
      setTimeout(() => c.destroy(), 50);
    }));
    await Promise.all(broken);
    assert.equal(await talk(sock, Buffer.from('nPING\n')), 'PONG\n');
    await talk(sock, Buffer.from('zSHUTDOWN\0'));
    assert.equal(await running, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('RELOAD under load: no request fails and no verdict is wrong while the database is swapped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-load-'));
  try {
    const db = join(dir, 'eicar.ndb');
    writeFileSync(db, `Eicar.Test:0:*:${EICAR.toString('hex')}\n`);
    const { sock, running } = await startDaemon(dir, ['-d', db, '--threads', '2', '--self-check', '0']);
    let stop = false;
    let done = 0;
    const wrong: string[] = [];
    const clients = Array.from({ length: 8 }, async (_, k) => {
      for (let i = 0; !stop; i++) {
        const infected = (i + k) % 2 === 0;
        const reply = await talk(sock, instream(infected ? EICAR : Buffer.from(`clean request ${k}/${i}`)));
        const want = infected ? 'stream: Eicar.Test.UNOFFICIAL FOUND\0' : 'stream: OK\0';
        if (reply !== want) wrong.push(JSON.stringify(reply));
        done++;
      }
    });
    const reloads: string[] = [];
    for (let r = 0; r < 5; r++) {
      await new Promise((res) => setTimeout(res, 400));
      // The same signature rewritten: a reload that must not change a single verdict.
      writeFileSync(db, `Eicar.Test:0:*:${EICAR.toString('hex')}\n`);
      reloads.push(await talk(sock, Buffer.from('zRELOAD\0')));
    }
    await new Promise((res) => setTimeout(res, 600));
    stop = true;
    await Promise.all(clients);
    assert.deepEqual(reloads, Array(5).fill('RELOADING\0'));
    assert.deepEqual(wrong, []);
    t.diagnostic(`${done} requests served by 8 clients across 5 reloads, none wrong`);
    assert.ok(done >= 8, `requests served during the reloads: ${done}`);
    // And after the reloads, the new database answers.
    assert.equal(await talk(sock, instream(EICAR)), 'stream: Eicar.Test.UNOFFICIAL FOUND\0');
    assert.equal(await talk(sock, instream(Buffer.from('after the reloads'))), 'stream: OK\0');
    await talk(sock, Buffer.from('zSHUTDOWN\0'));
    assert.equal(await running, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
