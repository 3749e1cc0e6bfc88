/**
 * Tests of FdSocket and the fd-passing addon (native/fdpass) on real Unix sockets: descriptors
 * passed with SCM_RIGHTS arrive (from the addon's own sender, from Python's socket.send_fds and
 * from the real `clamdscan --fdpass`), byte-exact large transfers with backpressure, half-close,
 * descriptor and connection cleanup (counted in /proc/self/fd), and misuse that must not crash.
 * Skipped, with the reason, when the addon is not built (`node scripts/build-native.mjs`).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { type ByteConnection, FdSocket, fdPassAddonPath, fdPassingAvailable, MAX_PENDING_FDS, sendWithFd, socketFd } from './fdsocket.js';
import { RequestReader } from './framing.js';

// Compile-time: the server can hold either kind of connection.
export const connectionKinds: ((s: net.Socket) => ByteConnection)[] = [(s) => s, (s) => new FdSocket(s)];

const skip = !fdPassingAvailable()
  ? 'the fd-passing addon is unavailable (build it: node scripts/build-native.mjs; or VIGIL_DISABLE_FDPASS=1 is set)'
  : process.platform !== 'linux' ? 'these tests count descriptors in /proc (Linux only)' : false;
/** Per-test limit: a hang fails one test instead of stalling the run. */
const T = 30_000;
const PYTHON = '/usr/bin/python3';
const CLAMDSCAN = '/usr/bin/clamdscan';
const ADDON = fdPassAddonPath() ?? '';

const dir = mkdtempSync(join(tmpdir(), 'vigil-fdsocket-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** The descriptor count once closes still in flight (earlier tests, peers) have settled. */
async function settledFdCount(): Promise<number> {
  let last = fdCount();
  for (let same = 0, i = 0; same < 3 && i < 100; i++) {
    await delay(10);
    const n = fdCount();
    same = n === last ? same + 1 : 0;
    last = n;
  }
  return last;
}

/** Waits until no more descriptors are open than `before` (a leak fails after 3 s). */
async function noMoreFdsThan(before: number, what: string): Promise<void> {
  await until(() => fdCount() <= before, `${what}: ${fdCount()} descriptors open, ${before} before`, 3000);
}

function isOpen(fd: number): boolean {
  return existsSync(`/proc/self/fd/${fd}`);
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

/** Everything a test opened, closed after the run so a failed test cannot keep the process alive. */
const opened: { servers: net.Server[]; sockets: (FdSocket | net.Socket)[] } = { servers: [], sockets: [] };
after(() => {
  for (const s of opened.sockets) s.destroy();
  for (const s of opened.servers) s.close();
});

/** A Unix listener whose connections are FdSockets. */
async function listen(onConn: (s: FdSocket) => void): Promise<{ path: string; server: net.Server; close: () => Promise<void> }> {
  const path = join(dir, `s${++seq}.sock`);
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (sock) => {
    const s = new FdSocket(sock);
    opened.sockets.push(s);
    onConn(s);
  });
  opened.servers.push(server);
  await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(path, () => res()); });
  return { path, server, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function connect(path: string): Promise<net.Socket> {
  const c = net.createConnection({ path, allowHalfOpen: true });
  opened.sockets.push(c);
  await new Promise<void>((res, rej) => { c.once('connect', () => res()); c.once('error', rej); });
  return c;
}

/** Everything the client receives until the server closes its side. */
function collect(c: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  c.on('data', (d: Buffer) => parts.push(d));
  return new Promise((res, rej) => { c.once('end', () => res(Buffer.concat(parts))); c.once('error', rej); });
}

function tempFile(content: string | Buffer): string {
  const p = join(dir, `f${++seq}.txt`);
  writeFileSync(p, content);
  return p;
}

/** The content behind a received descriptor, read from offset 0. */
function readFd(fd: number): string {
  const buf = Buffer.alloc(1 << 16);
  let n = 0;
  for (;;) {
    const k = readSync(fd, buf, n, buf.length - n, n);
    if (k === 0) return buf.subarray(0, n).toString('utf8');
    n += k;
  }
}

/**
 * A tiny clamd speaking only FILDES (and PING / VERSION / IDSESSION / END): for each FILDES it takes
 * the descriptor that came with the carrier byte, reads it and replies `fd[N]: OK` with the
 * content's first line, so a client can prove which file arrived. Logs every byte it receives.
 */
function fildesServer(log: Buffer[], opts: { ok?: boolean } = {}) {
  return (s: FdSocket): void => {
    let buf = Buffer.alloc(0);
    let consumed = 0;
    let session = false;
    let id = 0;
    s.on('error', () => undefined);
    s.on('end', () => s.end());
    s.on('data', (d) => {
      log.push(d);
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const first = buf[0];
        if (first === undefined) return;
        const term = first === 0x7a ? 0 : 0x0a;
        const end = buf.indexOf(term);
        if (end < 0) return;
        const cmd = buf.subarray(1, end).toString('latin1');
        const t = term === 0 ? '\0' : '\n';
        if (cmd === 'FILDES' && buf.length < end + 2) return; // wait for the carrier byte
        const pre = session && cmd !== 'END' ? `${++id}: ` : '';
        if (cmd === 'FILDES') {
          buf = buf.subarray(end + 2);
          consumed += end + 2;
          const fd = s.takeFd(consumed);
          if (fd === undefined) s.write(`${pre}No file descriptor received. ERROR${t}`);
          else {
            const text = readFd(fd);
            closeSync(fd);
            s.write(opts.ok ? `${pre}fd[${fd}]: OK${t}` : `${pre}fd[${fd}]: ${text.split('\n')[0]} OK${t}`);
          }
        } else {
          buf = buf.subarray(end + 1);
          consumed += end + 1;
          if (cmd === 'IDSESSION') { session = true; continue; }
          if (cmd === 'END') { s.end(); return; }
          if (cmd === 'PING') s.write(`${pre}PONG${t}`);
          else if (cmd === 'VERSION') s.write(`${pre}ClamAV 1.4.6${t}`);
          else s.write(`${pre}UNKNOWN COMMAND${t}`);
        }
        if (!session) { s.end(); return; }
      }
    });
  };
}

function runPython(code: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const p = spawn(PYTHON, ['-c', code, ...args]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('close', (code) => res({ code, out }));
  });
}

test('FILDES: the descriptor sent with the carrier byte arrives, close-on-exec, readable', { skip, timeout: T }, async () => {
  const file = tempFile('the file content\nsecond line\n');
  const seen: { fd?: number; flags?: number; text?: string; pendingAfter?: number } = {};
  const srv = await listen((s) => {
    let got = Buffer.alloc(0);
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length < 9) return;
      assert.equal(got.toString('latin1'), 'zFILDES\0\0');
      const fd = s.takeFd();
      assert.ok(fd !== undefined);
      seen.fd = fd;
      seen.pendingAfter = s.pendingFds;
      const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
      seen.flags = parseInt(/flags:\s*([0-7]+)/.exec(info)?.[1] ?? '0', 8);
      seen.text = readFd(fd);
      closeSync(fd);
      s.write(`fd[${fd}]: OK\0`);
      s.end();
    });
  });
  const c = await connect(srv.path);
  const reply = collect(c);
  const cfd = socketFd(c);
  assert.ok(cfd !== undefined);
  const fileFd = openSync(file, 'r');
  try {
    assert.equal(sendWithFd(cfd, 'zFILDES\0'), 8);
    assert.equal(sendWithFd(cfd, Buffer.from([0]), fileFd), 1);
  } finally {
    closeSync(fileFd); // the receiver holds its own reference to the open file
  }
  c.end();
  assert.equal((await reply).toString('latin1'), `fd[${seen.fd}]: OK\0`);
  assert.equal(seen.text, 'the file content\nsecond line\n');
  assert.equal(seen.pendingAfter, 0);
  assert.ok(((seen.flags ?? 0) & 0o2000000) !== 0, 'received descriptor is O_CLOEXEC');
  c.destroy();
  await srv.close();
});

test('FILDES from Python socket.send_fds: z and n forms, separate and same-packet carriers, two fds', { skip: skip || (!existsSync(PYTHON) && `${PYTHON} is missing`), timeout: T }, async () => {
  const log: Buffer[] = [];
  const srv = await listen(fildesServer(log));
  const file = tempFile('python passed this\n');
  const code = [
    'import socket, sys, os',
    'path, f, mode = sys.argv[1], sys.argv[2], sys.argv[3]',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(path)',
    'fd = os.open(f, os.O_RDONLY)',
    'if mode == "z": s.sendall(b"zFILDES\\0"); socket.send_fds(s, [b"\\0"], [fd])',
    'elif mode == "n": s.sendall(b"nFILDES\\n"); socket.send_fds(s, [b"x"], [fd])',
    'elif mode == "two": s.sendall(b"zFILDES\\0"); socket.send_fds(s, [b"\\0"], [os.open("/dev/null", os.O_RDONLY), fd])',
    'else: socket.send_fds(s, [b"zFILDES\\0\\0"], [fd])',
    'os.close(fd); s.shutdown(socket.SHUT_WR)',
    'out = b""',
    'while True:',
    '    d = s.recv(4096)',
    '    if not d: break',
    '    out += d',
    'sys.stdout.write(repr(out))',
  ].join('\n');
  // "two": two descriptors with one carrier byte; the last one counts, the other is closed.
  const before = await settledFdCount();
  for (const [mode, term] of [['z', '\\x00'], ['n', '\\n'], ['same', '\\x00'], ['two', '\\x00']] as const) {
    const r = await runPython(code, [srv.path, file, mode]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`^b'fd\\[\\d+\\]: python passed this OK${term.replace(/\\/g, '\\\\')}'$`), `${mode}: ${r.out}`);
  }
  await noMoreFdsThan(before, 'received descriptors closed');
  await srv.close();
});

test('pipelined FILDES in one IDSESSION: each descriptor goes with its own carrier byte', { skip: skip || (!existsSync(PYTHON) && `${PYTHON} is missing`), timeout: T }, async () => {
  const log: Buffer[] = [];
  const files = [tempFile('first\n'), tempFile('second\n'), tempFile('third\n')];
  const srv = await listen((s) => {
    // Let the whole pipeline reach the socket before reading anything.
    setTimeout(() => fildesServer(log)(s), 150);
  });
  const code = [
    'import socket, sys, os',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1])',
    's.sendall(b"zIDSESSION\\0")',
    'for f in sys.argv[2:]:',
    '    fd = os.open(f, os.O_RDONLY); s.sendall(b"zFILDES\\0"); socket.send_fds(s, [b"\\0"], [fd]); os.close(fd)',
    's.sendall(b"zPING\\0zEND\\0"); s.shutdown(socket.SHUT_WR)',
    'out = b""',
    'while True:',
    '    d = s.recv(4096)',
    '    if not d: break',
    '    out += d',
    'sys.stdout.write(repr(out))',
  ].join('\n');
  const r = await runPython(code, [srv.path, ...files]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^b'1: fd\[\d+\]: first OK\\x002: fd\[\d+\]: second OK\\x003: fd\[\d+\]: third OK\\x004: PONG\\x00'$/);
  // Reads end at each descriptor-carrying byte (Linux): one chunk per descriptor, then the rest.
  assert.ok(log.length >= 3, `chunks: ${log.map((b) => JSON.stringify(b.toString('latin1'))).join(' ')}`);
  await srv.close();
});

test('RequestReader (framing.ts) reads an FdSocket as it reads a net.Socket', { skip, timeout: T }, async () => {
  const file = tempFile('via the request reader\n');
  const out: { text?: string; cmd?: string; carrier?: string; eof?: string } = {};
  const srv = await listen((s) => {
    const reader = new RequestReader(s as unknown as net.Socket);
    void (async () => {
      const r = await reader.readCommand(2000);
      out.cmd = r.kind === 'command' ? `${r.text}|${JSON.stringify(r.term)}` : r.kind;
      const b = await reader.readExact(1, 2000);
      out.carrier = typeof b === 'string' ? b : b.toString('hex');
      const fd = s.takeFd();
      if (fd !== undefined) { out.text = readFd(fd); closeSync(fd); }
      s.write(`fd[${fd}]: OK\0`);
      out.eof = (await reader.readCommand(2000)).kind;
      s.end();
    })();
  });
  const c = await connect(srv.path);
  const reply = collect(c);
  const fd = openSync(file, 'r');
  sendWithFd(socketFd(c) ?? -1, 'zFILDES\0');
  sendWithFd(socketFd(c) ?? -1, '\0', fd);
  closeSync(fd);
  c.end();
  assert.match((await reply).toString('latin1'), /^fd\[\d+\]: OK\0$/);
  assert.deepEqual(out, { cmd: 'FILDES|"\\u0000"', carrier: '00', text: 'via the request reader\n', eof: 'eof' });
  c.destroy();
  await srv.close();
});

test('takeFd(): the most recent descriptor wins, older untaken ones are closed', { skip, timeout: T }, async () => {
  let server: FdSocket | undefined;
  const srv = await listen((s) => { server = s; s.on('data', () => undefined); });
  const c = await connect(srv.path);
  const cfd = socketFd(c) ?? -1;
  const a = openSync(tempFile('a'), 'r');
  const b = openSync(tempFile('b'), 'r');
  sendWithFd(cfd, 'x', a);
  sendWithFd(cfd, 'y', b);
  closeSync(a);
  closeSync(b);
  await until(() => (server?.pendingFds ?? 0) === 2, 'two descriptors');
  const s = server as FdSocket;
  const fd = s.takeFd();
  assert.ok(fd !== undefined);
  assert.equal(readFd(fd), 'b');
  assert.equal(s.pendingFds, 0);
  assert.equal(s.takeFd(), undefined);
  closeSync(fd);
  // Position-based: the descriptor that came with the carrier byte at position - 1.
  const d = openSync(tempFile('d'), 'r');
  sendWithFd(cfd, 'zz', d); // stream bytes 2..3
  closeSync(d);
  await until(() => s.pendingFds === 1, 'one descriptor');
  assert.deepEqual(s.pendingFdPositions, [4]);
  assert.equal(s.takeFd(2), undefined, 'byte 1 came without a descriptor');
  assert.equal(s.pendingFds, 1, 'a later descriptor is kept');
  const got = s.takeFd(3); // a multi-byte carrier: any of its bytes claims the descriptor
  assert.ok(got !== undefined);
  assert.equal(readFd(got), 'd');
  closeSync(got);
  // A descriptor nobody claimed before a later position is closed (clamd closes it at its next read).
  const ePath = tempFile('e');
  const e = openSync(ePath, 'r');
  sendWithFd(cfd, 'e', e); // byte 4
  closeSync(e);
  await until(() => s.pendingFds === 1, 'one more descriptor');
  const received = readdirSync('/proc/self/fd').map(Number).filter((fd) => safeReadlink(fd) === ePath);
  assert.equal(received.length, 1);
  assert.equal(s.takeFd(6), undefined);
  assert.equal(s.pendingFds, 0);
  assert.equal(safeReadlink(received[0] ?? -1), '', 'the unclaimed descriptor was closed');
  c.destroy();
  s.destroy();
  await srv.close();
});

test('20 MiB echoed byte-exact, with backpressure on both sides', { skip, timeout: T }, async () => {
  const payload = randomBytes(20 * 1024 * 1024);
  let drains = 0;
  let pauses = 0;
  let closed = false;
  const srv = await listen((s) => {
    s.on('error', (e) => assert.fail(e));
    s.on('data', (d) => {
      if (!s.write(d)) { pauses++; s.pause(); }
    });
    s.on('drain', () => { drains++; s.resume(); });
    s.on('end', () => s.end());
    s.on('close', () => { closed = true; });
  });
  const c = await connect(srv.path);
  const hash = createHash('sha256');
  let received = 0;
  c.on('data', (d: Buffer) => { hash.update(d); received += d.length; });
  const ended = new Promise<void>((r) => c.once('end', () => r()));
  // A slow reader at first, so the server's queue fills and it must pause reading.
  c.pause();
  setTimeout(() => c.resume(), 300);
  c.end(payload);
  await ended;
  assert.equal(received, payload.length);
  assert.equal(hash.digest('hex'), createHash('sha256').update(payload).digest('hex'));
  assert.ok(pauses > 0 && drains > 0, `backpressure exercised (pauses ${pauses}, drains ${drains})`);
  await until(() => closed, 'server close');
  c.destroy();
  await srv.close();
});

test('half-close both ways: end() waits for the peer; data after the peer ends still goes out', { skip, timeout: T }, async () => {
  const events: string[] = [];
  let server: FdSocket | undefined;
  const srv = await listen((s) => {
    server = s;
    s.on('data', (d) => events.push(`data:${d.toString()}`));
    s.on('end', () => { events.push('end'); setTimeout(() => s.end('bye'), 20); });
    s.on('close', () => events.push('close'));
  });
  // The client half-closes first; the server answers after its 'end'.
  const c = await connect(srv.path);
  const reply = collect(c);
  c.end('hello');
  assert.equal((await reply).toString(), 'bye');
  await until(() => events.includes('close'), 'server close');
  assert.deepEqual(events, ['data:hello', 'end', 'close']);
  c.destroy();

  // The server half-closes first: it stays open, still reading, until the client ends.
  events.length = 0;
  const c2 = await connect(srv.path);
  const reply2 = collect(c2);
  await until(() => server !== undefined && events.length === 0 && srv.server.listening, 'accept');
  c2.write('ping');
  await until(() => events.includes('data:ping'), 'ping');
  const s2 = server as FdSocket;
  s2.removeAllListeners('end');
  s2.on('end', () => events.push('end'));
  s2.end('pong');
  assert.equal(s2.writable, false);
  assert.equal((await reply2).toString(), 'pong');
  c2.write('late');
  await until(() => events.includes('data:late'), 'data after the server ended');
  assert.equal(s2.destroyed, false);
  c2.end();
  await until(() => events.includes('close'), 'server close');
  assert.deepEqual(events, ['data:ping', 'data:late', 'end', 'close']);
  c2.destroy();
  await srv.close();
});

test('end() then destroy() after a grace period is safe; close is emitted once', { skip, timeout: T }, async () => {
  let closes = 0;
  let server: FdSocket | undefined;
  const srv = await listen((s) => { server = s; s.on('data', () => undefined); s.on('close', () => closes++); });
  const c = await connect(srv.path);
  const reply = collect(c);
  await until(() => server !== undefined, 'accept');
  const s = server as FdSocket;
  s.end('last words');
  assert.equal((await reply).toString(), 'last words');
  await delay(30);
  assert.equal(s.destroyed, false, 'waits for the peer to close');
  s.destroy();
  s.destroy();
  s.end();
  await delay(20);
  assert.equal(closes, 1);
  c.destroy();
  await srv.close();
});

test('destroy() closes untaken descriptors and the connection', { skip, timeout: T }, async () => {
  const warm = await listen((s) => s.destroy());
  await connect(warm.path).then((c) => c.destroy());
  await warm.close();
  const before = await settledFdCount();
  let server: FdSocket | undefined;
  const srv = await listen((s) => { server = s; s.on('data', () => undefined); });
  const c = await connect(srv.path);
  const cfd = socketFd(c) ?? -1;
  const received: number[] = [];
  const names = [0, 1, 2].map((i) => tempFile(`x${i}`));
  for (const name of names) {
    const f = openSync(name, 'r');
    sendWithFd(cfd, 'q', f);
    closeSync(f);
  }
  await until(() => (server?.pendingFds ?? 0) === 3, 'three descriptors');
  const s = server as FdSocket;
  for (const fd of readdirSync('/proc/self/fd').map(Number)) {
    if (names.includes(safeReadlink(fd))) received.push(fd);
  }
  assert.equal(received.length, 3);
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  s.destroy();
  await closed;
  for (const fd of received) assert.equal(isOpen(fd) && names.includes(safeReadlink(fd)), false, `fd ${fd} closed`);
  // The peer sees the end of the stream (it keeps its own side open: allowHalfOpen).
  const gone = new Promise<void>((r) => c.once('end', () => r()));
  c.on('error', () => undefined);
  c.resume();
  await gone;
  c.destroy();
  await srv.close();
  await noMoreFdsThan(before, 'connection and descriptors closed');
});

function safeReadlink(fd: number): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return '';
  }
}

test('at most MAX_PENDING_FDS untaken descriptors are kept', { skip, timeout: T }, async () => {
  let server: FdSocket | undefined;
  const srv = await listen((s) => { server = s; s.on('data', () => undefined); });
  const c = await connect(srv.path);
  const cfd = socketFd(c) ?? -1;
  const f = openSync(tempFile('many'), 'r');
  for (let i = 0; i < MAX_PENDING_FDS + 5; i++) sendWithFd(cfd, 'q', f);
  closeSync(f);
  await until(() => (server?.bytesRead ?? 0) === MAX_PENDING_FDS + 5, 'all carriers');
  assert.equal(server?.pendingFds, MAX_PENDING_FDS);
  server?.destroy();
  c.destroy();
  await srv.close();
});

test('200 connections open and close without leaking descriptors', { skip, timeout: T }, async () => {
  const srv = await listen((s) => {
    s.on('data', (d) => { s.write(d); s.end(); });
    s.on('error', () => undefined);
  });
  const one = async (): Promise<void> => {
    const c = await connect(srv.path);
    const reply = collect(c);
    c.end('ping');
    assert.equal((await reply).toString(), 'ping');
    await new Promise<void>((r) => { c.once('close', () => r()); c.destroy(); });
  };
  await one();
  const before = await settledFdCount();
  for (let batch = 0; batch < 10; batch++) await Promise.all(Array.from({ length: 20 }, one));
  await noMoreFdsThan(before, 'after 200 connections');
  await srv.close();
});

test('writes after destroy or end do not crash; their callbacks get an error', { skip, timeout: T }, async () => {
  let server: FdSocket | undefined;
  const srv = await listen((s) => { server = s; });
  const c = await connect(srv.path);
  c.on('data', () => undefined);
  await until(() => server !== undefined, 'accept');
  const s = server as FdSocket;
  const errs: string[] = [];
  s.end();
  assert.equal(s.write('after end', (e) => errs.push(String((e as NodeJS.ErrnoException | null)?.code))), false);
  s.destroy();
  assert.equal(s.write(Buffer.from('after destroy'), (e) => errs.push(String((e as NodeJS.ErrnoException | null)?.code))), false);
  s.pause();
  s.resume();
  assert.equal(s.takeFd(), undefined);
  await delay(10);
  assert.deepEqual(errs, ['ERR_STREAM_WRITE_AFTER_END', 'ERR_STREAM_DESTROYED']);
  c.destroy();
  await srv.close();
});

test('a peer that resets mid-write gives an error and a close, no crash', { skip, timeout: T }, async () => {
  const result: { error?: string; closed?: boolean; cbErrors: number } = { cbErrors: 0 };
  const srv = await listen((s) => {
    s.on('error', (e: NodeJS.ErrnoException) => { result.error = e.code; });
    s.on('close', () => { result.closed = true; });
    s.on('data', () => undefined);
    const chunk = Buffer.alloc(1 << 20, 0x61);
    for (let i = 0; i < 32; i++) s.write(chunk, (e) => { if (e) result.cbErrors++; });
  });
  const c = await connect(srv.path);
  let got = 0;
  await new Promise<void>((r) => c.on('data', (d: Buffer) => { got += d.length; if (got > 256 * 1024) { c.destroy(); r(); } }));
  await until(() => result.closed === true, 'server close');
  assert.ok(result.error === 'EPIPE' || result.error === 'ECONNRESET', `error ${result.error}`);
  assert.ok(result.cbErrors > 0, 'pending write callbacks got errors');
  await srv.close();
});

test('the addon survives misuse: bad arguments, bad descriptors, double close', { skip, timeout: T }, async () => {
  const addon = createRequire(import.meta.url)(ADDON) as {
    open(fd: unknown, a: unknown, b: unknown): object | number;
    send(h: unknown, b: unknown, o: unknown): number;
    poll(h: unknown, r: unknown, w: unknown): number;
    shutdown(h: unknown): number;
    close(h: unknown): number;
    sendWithFd(fd: unknown, b: unknown, p: unknown): number;
  };
  const noop = (): void => undefined;
  assert.throws(() => addon.open('x', noop, noop), TypeError);
  assert.throws(() => addon.open(1, 'x', noop), TypeError);
  assert.throws(() => addon.send({}, 'str', 0), TypeError);
  assert.ok((addon.open(-1, noop, noop) as number) < 0);
  assert.ok((addon.open(999999, noop, noop) as number) < 0);
  const file = openSync(tempFile('regular'), 'r');
  assert.equal(typeof addon.open(file, noop, noop), 'number', 'a regular file cannot be polled');
  closeSync(file);
  assert.ok(addon.send({}, Buffer.from('x'), 0) < 0);
  assert.ok(addon.send(noop, Buffer.from('x'), 0) < 0);
  assert.ok(addon.poll({}, true, true) < 0);
  assert.ok(addon.shutdown(42) < 0);
  assert.equal(addon.close(undefined), 0);
  assert.ok(addon.sendWithFd(-1, Buffer.from('x'), -1) < 0);
  assert.ok(addon.sendWithFd(999999, Buffer.from('x'), 0) < 0);
  assert.ok(addon.sendWithFd(0, Buffer.alloc(0), -1) < 0);
  // A real handle: closed twice, then used.
  const path = join(dir, `m${++seq}.sock`);
  const accepted = new Promise<net.Socket>((r) => {
    const server = net.createServer({ pauseOnConnect: true }, (sock) => { server.close(); r(sock); });
    server.listen(path);
  });
  const c = net.createConnection(path);
  c.on('error', () => undefined);
  const sock = await accepted;
  const h = addon.open(socketFd(sock), noop, noop);
  sock.destroy();
  assert.equal(typeof h, 'object');
  assert.equal(addon.send(h, Buffer.from('hi'), 5), -22 /* EINVAL: offset past the end */);
  assert.equal(addon.close(h), 0);
  assert.equal(addon.close(h), 0);
  assert.ok(addon.send(h, Buffer.from('x'), 0) < 0);
  assert.ok(addon.poll(h, true, false) < 0);
  assert.ok(addon.shutdown(h) < 0);
  c.destroy();
});

test('a worker that exits with open connections tears down cleanly', { skip, timeout: T }, async () => {
  const path = join(dir, `w${++seq}.sock`);
  const worker = new Worker(`
    const { createRequire } = require('node:module');
    const { parentPort } = require('node:worker_threads');
    const net = require('node:net');
    const addon = createRequire(${JSON.stringify(ADDON)})(${JSON.stringify(ADDON)});
    const srv = net.createServer({ pauseOnConnect: true }, (sock) => {
      const h = addon.open(sock._handle.fd, () => {}, () => {});
      sock.destroy();
      parentPort.postMessage(typeof h);
    });
    srv.listen(${JSON.stringify(path)}, () => { net.createConnection(${JSON.stringify(path)}); });
  `, { eval: true });
  const msg = await new Promise((r) => worker.once('message', r));
  assert.equal(msg, 'object');
  const code = await worker.terminate();
  assert.equal(code, 1);
});

test('clamdscan --fdpass: the real client\'s descriptors arrive (one file; -m: IDSESSION)', { skip: skip || (!existsSync(CLAMDSCAN) && `${CLAMDSCAN} is missing`), timeout: T }, async () => {
  const log: Buffer[] = [];
  const srv = await listen(fildesServer(log, { ok: true }));
  const conf = join(dir, `clamd${++seq}.conf`);
  writeFileSync(conf, `LocalSocket ${srv.path}\n`);
  const clamdscan = (args: string[]): Promise<{ code: number | null; out: string }> => new Promise((res) => {
    const p = spawn(CLAMDSCAN, ['--fdpass', `--config-file=${conf}`, '--no-summary', ...args]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('close', (code) => res({ code, out }));
  });
  const file = tempFile('scanned through a passed descriptor\n');
  let r = await clamdscan([file]);
  assert.equal(r.code, 0, r.out);
  assert.equal(r.out.trim(), `${file}: OK`);
  // What clamdscan sent: the command, then the carrier byte with the descriptor.
  assert.equal(Buffer.concat(log).toString('latin1'), 'zFILDES\0\0');

  log.length = 0;
  const sub = join(dir, `d${++seq}`);
  mkdirSync(sub);
  for (const n of ['a', 'b', 'c']) writeFileSync(join(sub, n), `${n}\n`);
  r = await clamdscan(['-m', sub]);
  assert.equal(r.code, 0, r.out);
  assert.equal(r.out.trim(), `${sub}: OK`);
  assert.equal(Buffer.concat(log).toString('latin1'), 'zIDSESSION\0' + 'zFILDES\0\0'.repeat(3) + 'zEND\0');
  await srv.close();
});
