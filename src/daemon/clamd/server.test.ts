/**
 * The clamd protocol server against a fake ScanService: every command, both terminators, old-style
 * requests, sessions, INSTREAM limits and malformed input. Each test sends raw bytes and reads the
 * whole reply until the server closes the connection (or a 5 s guard, which fails the test).
 *
 * The fake: content containing `EICAR` is `Eicar-Test-Signature` (and also `Second.Sig` with
 * allmatch), content containing `BROKEN` is not scanned (`Exceeded time limit`), the rest is clean.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScanService, ServiceResult, ServiceScanOptions } from '../service.js';
import { ClamdServer } from './server.js';
import { defaultConfig, type ClamdConfig } from './config.js';

class FakeService implements ScanService {
  reloads = 0;
  active = 0;
  maxActive = 0;
  delayMs = 0;
  version(): string { return 'ClamAV 1.4.6/27000/Sun Nov 29 10:00:00 2026'; }
  async scanBuffer(bytes: Uint8Array, opts: ServiceScanOptions = {}): Promise<ServiceResult> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      const text = Buffer.from(bytes).toString('latin1');
      if (text.includes('BROKEN')) return { verdict: 'not-scanned', detections: [], reason: 'Exceeded time limit' };
      if (text.includes('EICAR')) {
        const d = [{ name: 'Eicar-Test-Signature', layer: [] }];
        if (opts.allmatch) d.push({ name: 'Second.Sig', layer: [] });
        return { verdict: 'infected', detections: d };
      }
      return { verdict: 'clean', detections: [] };
    } finally {
      this.active--;
    }
  }
  paths: string[] = [];
  scanPath(path: string, opts?: ServiceScanOptions): Promise<ServiceResult> { this.paths.push(path); return this.scanBuffer(readFileSync(path), opts); }
  reload(): Promise<void> { this.reloads++; return Promise.resolve(); }
}

let dir: string;

async function startServer(over: Partial<ClamdConfig> = {}, svc = new FakeService()): Promise<{ server: ClamdServer; sock: string; svc: FakeService; shutdowns: number[] }> {
  const sock = join(dir, `s${Math.random().toString(36).slice(2)}.sock`);
  const shutdowns: number[] = [];
  const server = new ClamdServer({ service: svc, config: { ...defaultConfig(), localSocket: sock, ...over }, onShutdown: () => shutdowns.push(1) });
  await server.listen();
  return { server, sock, svc, shutdowns };
}

/** Sends `parts` (written one after the other, `gapMs` apart) and returns all bytes until the server closes. */
function exchange(sock: string, parts: (string | Buffer)[], opts: { gapMs?: number; halfClose?: boolean; destroyAfter?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(sock);
    const got: Buffer[] = [];
    const guard = setTimeout(() => { c.destroy(); reject(new Error(`no close within 5 s; got ${JSON.stringify(Buffer.concat(got).toString('latin1'))}`)); }, 5000);
    c.on('data', (d) => got.push(d));
    c.on('error', () => undefined);
    c.on('close', () => { clearTimeout(guard); resolve(Buffer.concat(got).toString('latin1')); });
    c.on('connect', () => {
      void (async () => {
        for (const p of parts) {
          c.write(p);
          if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
        }
        if (opts.destroyAfter) c.destroy();
        else if (opts.halfClose) c.end();
      })();
    });
  });
}

function chunk(data: string | Buffer): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data) : data;
  const h = Buffer.alloc(4);
  h.writeUInt32BE(b.length);
  return Buffer.concat([h, b]);
}
const ZERO = Buffer.alloc(4);

describe('clamd protocol server', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let tree: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-clamd-'));
    tree = join(dir, 'tree');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    mkdirSync(join(dir, 'clean'));
    mkdirSync(join(dir, 'empty'));
    writeFileSync(join(tree, 'a.txt'), 'hello');
    writeFileSync(join(tree, 'eicar.com'), 'xxEICARxx');
    writeFileSync(join(tree, 'sub', 'b.com'), 'EICAR again');
    writeFileSync(join(tree, 'sub', 'zero'), '');
    writeFileSync(join(dir, 'clean', 'c.txt'), 'clean');
    writeFileSync(join(dir, 'broken.bin'), 'BROKEN');
    symlinkSync(join(tree, 'eicar.com'), join(dir, 'clean', 'link'));
    s = await startServer({ maxThreads: 4 });
  });
  after(async () => {
    await s.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('PING, VERSION, VERSIONCOMMANDS in both framings and old style', async () => {
    assert.equal(await exchange(s.sock, ['zPING\0']), 'PONG\0');
    assert.equal(await exchange(s.sock, ['nPING\n']), 'PONG\n');
    assert.equal(await exchange(s.sock, ['nPING\r\n']), 'PONG\n');
    assert.equal(await exchange(s.sock, ['PING']), 'PONG\n');
    assert.equal(await exchange(s.sock, ['PING\n']), 'PONG\n');
    assert.equal(await exchange(s.sock, ['zVERSION\0']), 'ClamAV 1.4.6/27000/Sun Nov 29 10:00:00 2026\0');
    assert.equal(await exchange(s.sock, ['nVERSIONCOMMANDS\n']),
      'ClamAV 1.4.6/27000/Sun Nov 29 10:00:00 2026| COMMANDS: SCAN QUIT RELOAD PING CONTSCAN VERSIONCOMMANDS VERSION END SHUTDOWN MULTISCAN FILDES STATS IDSESSION INSTREAM DETSTATSCLEAR DETSTATS ALLMATCHSCAN\n');
    assert.equal(await exchange(s.sock, ['VERSIONCOMMANDS']), 'UNKNOWN COMMAND\n');
  });

  it('unknown commands, trailing garbage, lower case, missing argument', async () => {
    for (const req of ['nFOO\n', 'nping\n', 'nPING foo\n', 'nSCAN\n', 'nEND\n', 'STATS', 'INSTREAM', 'IDSESSION']) {
      assert.equal(await exchange(s.sock, [req]), 'UNKNOWN COMMAND\n', req);
    }
    assert.equal(await exchange(s.sock, ['zFOO\0']), 'UNKNOWN COMMAND\0');
  });

  it('one command per connection outside a session', async () => {
    assert.equal(await exchange(s.sock, ['zPING\0zPING\0']), 'PONG\0');
    assert.equal(await exchange(s.sock, ['nPING\ngarbage']), 'PONG\n');
  });

  it('a client that never closes is disconnected after its reply', async () => {
    const t0 = Date.now();
    assert.equal(await exchange(s.sock, ['zPING\0', 'more data, never closed']), 'PONG\0');
    assert.ok(Date.now() - t0 < 4000);
  });

  it('a command split across writes', async () => {
    assert.equal(await exchange(s.sock, ['zPI', 'NG\0'], { gapMs: 20 }), 'PONG\0');
  });

  it('client closing with a partial command, or at once: no reply, no hang', async () => {
    assert.equal(await exchange(s.sock, ['zPIN'], { halfClose: true }), '');
    assert.equal(await exchange(s.sock, [], { halfClose: true }), '');
  });

  it('SCAN: file, directory stopping at the first infected, clean dir, missing path, trailing slash', async () => {
    assert.equal(await exchange(s.sock, [`zSCAN ${tree}/eicar.com\0`]), `${tree}/eicar.com: Eicar-Test-Signature FOUND\0`);
    assert.equal(await exchange(s.sock, [`nSCAN ${tree}/a.txt\n`]), `${tree}/a.txt: OK\n`);
    assert.equal(await exchange(s.sock, [`SCAN ${tree}/a.txt`]), `${tree}/a.txt: OK\n`);
    const r = await exchange(s.sock, [`nSCAN ${tree}\n`]);
    assert.equal(r.split('\n').filter(Boolean).length, 1);
    assert.match(r, /: Eicar-Test-Signature FOUND\n$/);
    assert.equal(await exchange(s.sock, [`zSCAN ${dir}/clean/\0`]), `${dir}/clean: OK\0`);
    assert.equal(await exchange(s.sock, [`zSCAN ${dir}/empty\0`]), `${dir}/empty: OK\0`);
    assert.equal(await exchange(s.sock, [`nSCAN ${dir}/nope.txt\n`]), `${dir}/nope.txt: File path check failure: No such file or directory. ERROR\n`);
    assert.equal(await exchange(s.sock, ['zSCAN \0']), ': File path check failure: No such file or directory. ERROR\0');
    assert.equal(await exchange(s.sock, [`nSCANX${tree}/a.txt\n`]), `${tree}/a.txt: OK\n`);
    assert.equal(await exchange(s.sock, [`nSCAN ${tree}/sub/zero\n`]), `${tree}/sub/zero: OK\n`);
  });

  it('SCAN: a scan error is reported and is not OK', async () => {
    assert.equal(await exchange(s.sock, [`nSCAN ${dir}/broken.bin\n`]), `${dir}/broken.bin: Exceeded time limit ERROR\n`);
  });

  it('CONTSCAN and MULTISCAN report every infected file; ALLMATCHSCAN every alert of the first', async () => {
    const expect = [`${tree}/eicar.com: Eicar-Test-Signature FOUND`, `${tree}/sub/b.com: Eicar-Test-Signature FOUND`];
    assert.deepEqual((await exchange(s.sock, [`nCONTSCAN ${tree}\n`])).split('\n').filter(Boolean).sort(), expect);
    assert.deepEqual((await exchange(s.sock, [`zMULTISCAN ${tree}\0`])).split('\0').filter(Boolean).sort(), expect);
    assert.equal(await exchange(s.sock, [`zMULTISCAN ${tree}/a.txt\0`]), `${tree}/a.txt: OK\0`);
    assert.equal(await exchange(s.sock, [`zALLMATCHSCAN ${tree}/eicar.com\0`]),
      `${tree}/eicar.com: Eicar-Test-Signature FOUND\0${tree}/eicar.com: Second.Sig FOUND\0`);
    assert.equal(await exchange(s.sock, [`ALLMATCHSCAN ${tree}`]), 'UNKNOWN COMMAND\n');
    // Symlinks inside a directory are not followed (the link points at an infected file).
    assert.equal(await exchange(s.sock, [`nCONTSCAN ${dir}/clean\n`]), `${dir}/clean: OK\n`);
  });

  it('INSTREAM: clean, infected, empty, many chunks, old style refused', async () => {
    assert.equal(await exchange(s.sock, ['zINSTREAM\0', chunk('hello world\n'), ZERO]), 'stream: OK\0');
    assert.equal(await exchange(s.sock, ['nINSTREAM\n', chunk('xEIC'), chunk('ARx'), ZERO]), 'stream: Eicar-Test-Signature FOUND\n');
    assert.equal(await exchange(s.sock, [Buffer.concat([Buffer.from('zINSTREAM\0'), ZERO])]), 'stream: OK\0');
    assert.equal(await exchange(s.sock, ['zINSTREAM\0', chunk('BROKEN'), ZERO]), 'stream: Exceeded time limit ERROR\0');
    assert.equal(await exchange(s.sock, ['INSTREAM']), 'UNKNOWN COMMAND\n');
    // Header and data byte by byte.
    const all = Buffer.concat([Buffer.from('zINSTREAM\0'), chunk('EICAR'), ZERO]);
    assert.equal(await exchange(s.sock, [...all].map((b) => Buffer.from([b]))), 'stream: Eicar-Test-Signature FOUND\0');
  });

  it('INSTREAM: StreamMaxLength, exact limit accepted, over it refused at the header', async () => {
    const t = await startServer({ streamMaxLength: 1024 });
    try {
      assert.equal(await exchange(t.sock, ['zINSTREAM\0', chunk(Buffer.alloc(1024)), ZERO]), 'stream: OK\0');
      assert.equal(await exchange(t.sock, ['zINSTREAM\0', chunk(Buffer.alloc(1000)), chunk(Buffer.alloc(25)), ZERO]), 'INSTREAM size limit exceeded. ERROR\0');
      const h = Buffer.alloc(4);
      h.writeUInt32BE(0xffffffff);
      assert.equal(await exchange(t.sock, ['nINSTREAM\n', h]), 'INSTREAM size limit exceeded. ERROR\n');
    } finally {
      await t.server.close();
    }
  });

  it('INSTREAM: client closing mid-stream gets no reply and no crash', async () => {
    const h = Buffer.alloc(4);
    h.writeUInt32BE(100);
    assert.equal(await exchange(s.sock, ['zINSTREAM\0', h, 'abc'], { halfClose: true }), '');
    assert.equal(await exchange(s.sock, ['zINSTREAM\0', Buffer.from([0, 0])], { halfClose: true }), '');
    await exchange(s.sock, ['zINSTREAM\0', h, 'abc'], { destroyAfter: true }).catch(() => '');
    assert.equal(await exchange(s.sock, ['zPING\0']), 'PONG\0');
  });

  it('IDSESSION: numbered replies, pipelining, END, half-close', async () => {
    assert.equal(await exchange(s.sock, ['zIDSESSION\0zPING\0zPING\0zEND\0']), '1: PONG\x002: PONG\0');
    const got = await exchange(s.sock, [
      'zIDSESSION\0', 'zPING\0', 'zVERSION\0', `zSCAN ${tree}/eicar.com\0`,
      Buffer.concat([Buffer.from('zINSTREAM\0'), chunk('EICAR'), ZERO]),
      Buffer.concat([Buffer.from('zINSTREAM\0'), chunk('ok'), ZERO]), `zSCAN ${tree}/a.txt\0`, 'zEND\0',
    ], { gapMs: 5 });
    assert.equal(got, `1: PONG\x002: ClamAV 1.4.6/27000/Sun Nov 29 10:00:00 2026\x003: ${tree}/eicar.com: Eicar-Test-Signature FOUND\x004: stream: Eicar-Test-Signature FOUND\x005: stream: OK\x006: ${tree}/a.txt: OK\0`);
    assert.equal(await exchange(s.sock, ['nIDSESSION\nnPING\n'], { halfClose: true }), '1: PONG\n');
  });

  it('IDSESSION: forbidden and old-style commands end it with an error', async () => {
    assert.equal(await exchange(s.sock, ['zIDSESSION\0zPING\0zCONTSCAN /tmp\0zPING\0']), '1: PONG\x002: Command invalid inside IDSESSION. ERROR\0');
    assert.equal(await exchange(s.sock, ['zIDSESSION\0zPING\0zFOO\0']), '1: PONG\x002: Command invalid inside IDSESSION. ERROR\0');
    assert.equal(await exchange(s.sock, ['zIDSESSION\0zPING\0', 'PING'], { gapMs: 30 }),
      '1: PONG\x002: Only nCMDS\\n and zCMDS\\0 are accepted inside IDSESSION. ERROR\x002: Error processing command. ERROR\0');
    const t = await startServer({ streamMaxLength: 10 });
    try {
      assert.equal(await exchange(t.sock, ['zIDSESSION\0zINSTREAM\0', chunk(Buffer.alloc(11))]), '1: INSTREAM size limit exceeded. ERROR\0');
    } finally {
      await t.server.close();
    }
  });

  it('STATS: clamd shape, in and out of a session', async () => {
    const r = await exchange(s.sock, ['zSTATS\0']);
    assert.match(r, /^POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live \d+ {2}idle \d+ max 4 idle-timeout 30\nQUEUE: 0 items\n(\t\w+ \d+\.\d{6} \n)+\nMEMSTATS: heap N\/A mmap N\/A used N\/A free N\/A releasable N\/A pools 1 pools_used [\d.]+M pools_total [\d.]+M\nEND\0$/);
    const r2 = await exchange(s.sock, ['nIDSESSION\nnSTATS\nnEND\n']);
    assert.match(r2, /^1: POOLS: 1\n\n[^]*\nEND\n$/);
  });

  it('DETSTATS, DETSTATSCLEAR: no reply; FILDES: no descriptor received', async () => {
    assert.equal(await exchange(s.sock, ['nDETSTATSCLEAR\n']), '');
    assert.equal(await exchange(s.sock, ['zDETSTATS\0']), '');
    assert.equal(await exchange(s.sock, ['zFILDES\0X']), 'No file descriptor received. ERROR\0');
    assert.equal(await exchange(s.sock, ['nFILDES\n', '\0'], { gapMs: 20 }), 'No file descriptor received. ERROR\n');
    assert.equal(await exchange(s.sock, ['zFILDES\0'], { halfClose: true }), '');
  });

  it('RELOAD replies RELOADING and reloads', async () => {
    const before = s.svc.reloads;
    assert.equal(await exchange(s.sock, ['nRELOAD\n']), 'RELOADING\n');
    assert.equal(s.svc.reloads, before + 1);
  });

  it('ALLMATCHSCAN disabled, MULTISCAN without threads', async () => {
    const t = await startServer({ allowAllMatchScan: false, maxThreads: 1 });
    try {
      assert.equal(await exchange(t.sock, [`nALLMATCHSCAN ${tree}/\n`]), `${tree}/: ALLMATCHSCAN command disabled by clamd configuration. ERROR\n`);
      assert.equal(await exchange(t.sock, [`nMULTISCAN ${tree}\n`]), `${tree}: Not enough threads for multiscan. Increase MaxThreads. ERROR\n`);
    } finally {
      await t.server.close();
    }
  });

  it('timeouts: idle connection, partial command, stalled INSTREAM, idle session', async () => {
    const t = await startServer({ commandReadTimeout: 150, readTimeout: 150 });
    try {
      assert.equal(await exchange(t.sock, []), 'COMMAND READ TIMED OUT\n');
      assert.equal(await exchange(t.sock, ['zPIN']), 'COMMAND READ TIMED OUT\n');
      assert.equal(await exchange(t.sock, ['zINSTREAM\0', Buffer.from([0, 0, 0, 9]), 'abc']), 'COMMAND READ TIMED OUT\n');
      assert.equal(await exchange(t.sock, ['zIDSESSION\0zPING\0']), '1: PONG\0COMMAND READ TIMED OUT\n');
    } finally {
      await t.server.close();
    }
  });

  it('an over-long command without terminator closes the connection', async () => {
    assert.equal(await exchange(s.sock, ['zSCAN ' + 'a'.repeat(5000)]), '');
  });

  it('MaxThreads bounds concurrent scans; later requests wait', async () => {
    const svc = new FakeService();
    svc.delayMs = 60;
    const t = await startServer({ maxThreads: 2 }, svc);
    try {
      const replies = await Promise.all(Array.from({ length: 6 }, () => exchange(t.sock, ['zINSTREAM\0', chunk('x'), ZERO])));
      assert.deepEqual(replies, Array.from({ length: 6 }, () => 'stream: OK\0'));
      assert.equal(svc.maxActive, 2);
    } finally {
      await t.server.close();
    }
  });

  it('SHUTDOWN and QUIT: no reply, server closes and removes its socket', async () => {
    for (const cmd of ['nSHUTDOWN\n', 'QUIT']) {
      const t = await startServer();
      assert.equal(await exchange(t.sock, [cmd]), '');
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(t.shutdowns, [1]);
      assert.equal(existsSync(t.sock), false);
    }
  });

  it('INSTREAM beyond the stream memory spools to a private file, scanned and then removed', async () => {
    const spoolDir = mkdtempSync(join(dir, 'spool-'));
    const svc = new FakeService();
    svc.delayMs = 50;
    const sock = join(dir, 'spool.sock');
    const server = new ClamdServer({ service: svc, config: { ...defaultConfig(), localSocket: sock, temporaryDirectory: spoolDir }, streamMemory: 300_000 });
    await server.listen();
    try {
      const body = (marker: string, i: number): Buffer => Buffer.concat([Buffer.alloc(200_000 + i, 0x41), Buffer.from(marker)]);
      const stream = (b: Buffer): Buffer[] => [Buffer.from('zINSTREAM\0'), chunk(b.subarray(0, 100_000)), chunk(b.subarray(100_000)), ZERO];
      const markers = ['EICAR', 'clean', 'EICAR', 'clean', 'EICAR', 'clean'];
      const replies = await Promise.all(markers.map((m, i) => exchange(sock, stream(body(m, i)), { gapMs: 5 })));
      assert.deepEqual(replies, markers.map((m) => (m === 'EICAR' ? 'stream: Eicar-Test-Signature FOUND\0' : 'stream: OK\0')));
      // 6 streams of 200 KB against 300 KB of memory: most of them went through files.
      assert.ok(svc.paths.length >= 3, `spooled streams: ${svc.paths.length}`);
      assert.ok(svc.paths.every((p) => p.startsWith(spoolDir)));
      // A stream cut off while spooling leaves no file behind.
      await exchange(sock, [Buffer.from('zINSTREAM\0'), chunk(Buffer.alloc(400_000)), Buffer.from([0, 0, 1, 0]), 'abc'], { destroyAfter: true, gapMs: 20 });
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(readdirSync(spoolDir), []);
    } finally {
      await server.close();
    }
  });

  it('TCP listening works the same', async () => {
    const svc = new FakeService();
    const server = new ClamdServer({ service: svc, config: { ...defaultConfig(), tcpSocket: 0, tcpAddr: ['127.0.0.1'] } });
    const info = await server.listen();
    try {
      const port = info.tcp[0]?.port ?? 0;
      const got = await new Promise<string>((resolve) => {
        const c = net.createConnection(port, '127.0.0.1', () => c.write(Buffer.concat([Buffer.from('zINSTREAM\0'), chunk('EICAR'), ZERO])));
        const parts: Buffer[] = [];
        c.on('data', (d) => parts.push(d));
        c.on('close', () => resolve(Buffer.concat(parts).toString()));
      });
      assert.equal(got, 'stream: Eicar-Test-Signature FOUND\0');
    } finally {
      await server.close();
    }
  });
});
