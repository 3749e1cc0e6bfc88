/**
 * clamd's protocol over a Unix socket and/or TCP, dispatching scans to a `ScanService`.
 *
 * API (for the `vigil daemon` command):
 *   const { config, warnings, errors } = readConfigFile('clamd.conf');     // ./config.ts
 *   const server = new ClamdServer({ service, config, onShutdown, log });
 *   const where = await server.listen();   // { unix?: path, tcp: [{ address, port }] }
 *   ...
 *   await server.close();                  // stops listening, ends connections, removes the socket file
 * `onShutdown` is called after a SHUTDOWN/QUIT command has closed the server (the caller exits).
 * RELOAD replies `RELOADING` and calls `service.reload()` in the background.
 * Concurrency: at most `config.maxThreads` commands execute at once; later ones wait. Inside
 * IDSESSION a scan runs while the next commands are read, and its reply, numbered with its request,
 * goes out when it ends (a PING can overtake a slow SCAN, as with clamd); at most `MaxQueue` of a
 * session's commands are pending, and END closes the connection once every reply is sent.
 * FILDES: on the Unix socket, when the native addon is built (`./fdsocket.ts`), connections are read
 * with recvmsg() and the descriptor sent with FILDES's carrier byte is scanned from its first byte
 * (`fd[N]: …` replies, N being the descriptor's number here, as clamd's); without the addon, or on
 * TCP, FILDES answers `No file descriptor received. ERROR` as a clamd that received none.
 */
import net from 'node:net';
import { spawn } from 'node:child_process';
import { access, lstat, open, readdir, readlink, realpath, stat, unlink, type FileHandle } from 'node:fs/promises';
import { close as closeCb, fstat as fstatCb } from 'node:fs';
import { readDescriptor } from '../../core/descriptor.js';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { constants as fsConstants, existsSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import type { ScanService, ServiceResult } from '../service.js';
import type { ClamdConfig } from './config.js';
import { commandsList, parseCommand, SESSION_COMMANDS, type ParsedCommand } from './commands.js';
import { RequestReader, type Terminator } from './framing.js';
import type { ClamdLog } from './log.js';
import { FdSocket, fdPassingAvailable, type ByteConnection } from './fdsocket.js';

export interface ClamdServerOptions {
  service: ScanService;
  config: ClamdConfig;
  onShutdown?: () => void;
  log?: (message: string) => void;
  /** clamd's log file, when LogFile is configured: scan results are written there as clamd writes them. */
  scanLog?: ClamdLog;
  /** Bytes of INSTREAM data held in memory across all connections before streams spool to files (default 256 MiB). */
  streamMemory?: number;
}

/** A byte budget: what is taken must be given back. */
class Budget {
  private used = 0;
  constructor(readonly limit: number) {}
  get inUse(): number { return this.used; }
  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }
  give(n: number): void { this.used = Math.max(0, this.used - n); }
}

/** What clamd puts in place of `%f` in VirusEvent. */
const FILENAME_DISABLED = "The filename format character has been disabled due to security concerns, use the 'CLAM_VIRUSEVENT_FILENAME' environment variable instead.";

/** How long a finished connection may stay half-open before it is destroyed. */
const CLOSE_GRACE_MS = 2000;

export interface ListenInfo { unix?: string; tcp: { address: string; port: number }[] }

/** A counting semaphore: clamd's thread pool bound. */
class Pool {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  readonly running = new Map<number, { name: string; start: bigint }>();
  private nextId = 0;
  constructor(readonly max: number) {}
  get queued(): number { return this.queue.length; }
  get live(): number { return this.active; }
  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.queue.push(r));
    else this.active++;
    const id = this.nextId++;
    this.running.set(id, { name, start: process.hrtime.bigint() });
    try {
      return await fn();
    } finally {
      this.running.delete(id);
      const next = this.queue.shift();
      if (next) next(); else this.active--;
    }
  }
}

/** A client connection: a `net.Socket`, or an `FdSocket` that also receives descriptors. */
type ClientSocket = ByteConnection & Partial<Pick<net.Socket, 'remoteFamily' | 'remoteAddress' | 'remotePort'>> & {
  takeFd?(position?: number): number | undefined;
  readonly pendingFdPositions?: readonly number[];
};

interface Conn { sock: ClientSocket; reader: RequestReader; term: Terminator; id: number }
/** Where one command's replies go: its connection, terminator and session id, fixed when it is read. */
type ReplyTo = Pick<Conn, 'sock' | 'term' | 'id'>;

export class ClamdServer {
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<ClientSocket>();
  private readonly pool: Pool;
  private readonly streamMemory: Budget;
  private closing = false;

  constructor(private readonly opts: ClamdServerOptions) {
    this.pool = new Pool(Math.max(1, opts.config.maxThreads));
    this.streamMemory = new Budget(opts.streamMemory ?? 256 * 1024 * 1024);
  }

  async listen(): Promise<ListenInfo> {
    const c = this.opts.config;
    const info: ListenInfo = { tcp: [] };
    const backlog = c.maxConnectionQueueLength;
    if (c.localSocket) {
      if (existsSync(c.localSocket) && c.fixStaleSocket) await unlink(c.localSocket).catch(() => undefined);
      const s = this.makeServer(true);
      await new Promise<void>((res, rej) => { s.once('error', rej); s.listen({ path: c.localSocket, backlog }, () => res()); });
      if (c.localSocketMode !== undefined) {
        const { chmod } = await import('node:fs/promises');
        await chmod(c.localSocket, c.localSocketMode);
      }
      info.unix = c.localSocket;
    }
    if (c.tcpSocket !== undefined) {
      const addrs = c.tcpAddr.length > 0 ? c.tcpAddr : [undefined];
      for (const host of addrs) {
        const s = this.makeServer(false);
        await new Promise<void>((res, rej) => { s.once('error', rej); s.listen({ port: c.tcpSocket, host, backlog }, () => res()); });
        const a = s.address();
        if (a && typeof a === 'object') info.tcp.push({ address: a.address, port: a.port });
      }
    }
    return info;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    const p = this.opts.config.localSocket;
    if (p && existsSync(p)) await unlink(p).catch(() => undefined);
  }

  /** A listener; on a Unix socket with the addon, connections are read with recvmsg() (FILDES). */
  private makeServer(unix: boolean): net.Server {
    const fdPassing = unix && fdPassingAvailable();
    const s = net.createServer({ allowHalfOpen: true, pauseOnConnect: fdPassing }, (raw) => {
      if (this.closing) { raw.destroy(); return; }
      let sock: ClientSocket = raw;
      if (fdPassing) {
        try {
          sock = new FdSocket(raw);
        } catch {
          raw.resume();
        }
      }
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
      sock.on('error', () => undefined);
      void this.handle(sock).catch((e: unknown) => {
        this.opts.log?.(`connection error: ${String(e)}`);
      }).finally(() => {
        if (sock.destroyed) return;
        // Close gracefully so the client reads the last reply, but never wait on it for long.
        sock.end();
        const t = setTimeout(() => sock.destroy(), CLOSE_GRACE_MS);
        t.unref();
        sock.once('close', () => clearTimeout(t));
      });
    });
    this.servers.push(s);
    return s;
  }

  private send(conn: ReplyTo, text: string, term: Terminator = conn.term): void {
    if (conn.sock.destroyed || !conn.sock.writable) return;
    conn.sock.write(conn.id > 0 ? `${conn.id}: ${text}${term}` : `${text}${term}`);
  }

  private async handle(sock: ClientSocket): Promise<void> {
    const reader = new RequestReader(sock);
    try {
      await this.converse(sock, reader);
    } finally {
      reader.stop();
    }
  }

  private async converse(sock: ClientSocket, reader: RequestReader): Promise<void> {
    const conn: Conn = { sock, reader, term: '\n', id: 0 };
    // Inside IDSESSION, scans run while later commands are read: replies come as they finish, each
    // with its request's number (clamd's interleaved replies). The session ends once all are sent.
    const inflight = new Set<Promise<void>>();
    try {
      await this.commands(conn, inflight);
    } finally {
      await Promise.allSettled([...inflight]);
    }
  }

  private async commands(conn: Conn, inflight: Set<Promise<void>>): Promise<void> {
    const cfg = this.opts.config;
    const reader = conn.reader;
    let session = false;
    let seq = 0;
    for (;;) {
      const r = await reader.readCommand(session ? cfg.readTimeout : cfg.commandReadTimeout);
      if (r.kind === 'eof' || r.kind === 'overflow') return;
      if (r.kind === 'timeout') { conn.id = 0; this.send(conn, 'COMMAND READ TIMED OUT', '\n'); return; }
      if (!(session && r.oldStyle)) conn.term = r.term;
      if (session) {
        conn.id = ++seq;
        if (r.oldStyle) {
          this.send(conn, 'Only nCMDS\\n and zCMDS\\0 are accepted inside IDSESSION. ERROR');
          this.send(conn, 'Error processing command. ERROR');
          return;
        }
      }
      const cmd = parseCommand(r.text, r.oldStyle);
      if (session && (cmd.name === 'UNKNOWN' || !SESSION_COMMANDS.has(cmd.name))) {
        this.send(conn, 'Command invalid inside IDSESSION. ERROR');
        return;
      }
      if (cmd.name === 'IDSESSION' && !session) { session = true; continue; }
      if (cmd.name === 'END' && session) return;
      // At most MaxQueue of a session's commands wait or run at once; reading pauses until one ends.
      while (session && inflight.size >= Math.max(1, cfg.maxQueue)) await Promise.race(inflight);
      const keepGoing = await this.execute(conn, cmd, session ? inflight : undefined);
      if (!session || !keepGoing) return;
    }
  }

  /** Runs a scan job now (awaited), or inside a session in the background, tracked in `inflight`. */
  private async dispatch(name: string, job: () => Promise<void>, inflight: Set<Promise<void>> | undefined): Promise<void> {
    const run = this.pool.run(name, job).catch((e: unknown) => { this.opts.log?.(`${name} failed: ${String(e)}`); });
    if (!inflight) { await run; return; }
    const tracked = run.finally(() => inflight.delete(tracked));
    inflight.add(tracked);
  }

  /** Runs one command; returns false when the connection must close. */
  private async execute(conn: Conn, cmd: ParsedCommand, inflight?: Set<Promise<void>>): Promise<boolean> {
    const svc = this.opts.service;
    const to: ReplyTo = { sock: conn.sock, term: conn.term, id: conn.id };
    switch (cmd.name) {
      case 'UNKNOWN': case 'END': case 'IDSESSION':
        this.send(conn, 'UNKNOWN COMMAND');
        return false;
      case 'PING': this.send(conn, 'PONG'); return true;
      case 'VERSION': this.send(conn, svc.version()); return true;
      case 'VERSIONCOMMANDS': this.send(conn, svc.version() + '|' + commandsList()); return true;
      case 'DETSTATS': case 'DETSTATSCLEAR': return false;
      case 'STATS': this.send(conn, this.stats()); return true;
      case 'RELOAD':
        this.send(conn, 'RELOADING');
        void svc.reload().catch((e: unknown) => this.opts.log?.(`reload failed: ${String(e)}`));
        return false;
      case 'SHUTDOWN': case 'QUIT':
        void this.close().then(() => this.opts.onShutdown?.());
        return false;
      case 'FILDES': {
        // The descriptor travels as ancillary data with a carrier byte after the command.
        const b = await conn.reader.readExact(1, this.opts.config.readTimeout);
        if (b === 'timeout') { conn.id = 0; this.send(conn, 'COMMAND READ TIMED OUT', '\n'); return false; }
        if (b === 'eof') return false;
        const fd = conn.sock.takeFd?.(conn.reader.consumed);
        if (fd === undefined) { this.send(conn, 'No file descriptor received. ERROR'); return true; }
        await this.dispatch('FILDES', () => this.scanDescriptor(to, fd), inflight);
        return true;
      }
      case 'INSTREAM': return this.instream(conn, to, inflight);
      case 'SCAN': case 'CONTSCAN': case 'MULTISCAN': case 'ALLMATCHSCAN':
        await this.dispatch(cmd.name, () => this.scanCommand(to, cmd.name, cmd.arg ?? ''), inflight);
        return true;
    }
  }

  /**
   * INSTREAM: chunks until a zero length, at most StreamMaxLength in all. Streams are held in
   * memory while every stream in flight fits the server's stream memory; one that does not is
   * spooled to a private file in TemporaryDirectory (as clamd spools every stream), scanned from
   * there and removed. Memory held by streams stays bounded however many clients send at once.
   */
  private async instream(conn: Conn, to: ReplyTo, inflight: Set<Promise<void>> | undefined): Promise<boolean> {
    const cfg = this.opts.config;
    let quota = cfg.streamMaxLength;
    const parts: Buffer[] = [];
    let total = 0;
    let held = 0;
    let spool: { path: string; file: FileHandle } | undefined;
    let handedOver = false;
    const release = (): void => { this.streamMemory.give(held); held = 0; };
    try {
      for (;;) {
        const h = await conn.reader.readExact(4, cfg.readTimeout);
        if (h === 'eof') return false;
        if (h === 'timeout') { conn.id = 0; this.send(conn, 'COMMAND READ TIMED OUT', '\n'); return false; }
        const len = h.readUInt32BE(0);
        if (len === 0) break;
        if (len > quota) { this.send(conn, 'INSTREAM size limit exceeded. ERROR'); return false; }
        quota -= len;
        total += len;
        if (!spool && !this.streamMemory.take(len)) {
          spool = await this.openSpool();
          await writeAll(spool.file, parts);
          parts.length = 0;
          release();
        } else if (!spool) {
          held += len;
        }
        const got: Buffer[] = spool ? [] : parts;
        const d = await conn.reader.readParts(len, cfg.readTimeout, got);
        if (d === 'eof') return false;
        if (d === 'timeout') { conn.id = 0; this.send(conn, 'COMMAND READ TIMED OUT', '\n'); return false; }
        if (spool) await writeAll(spool.file, got);
      }
      // clamd's name for a stream in VirusEvent and the log: its IPv4 peer, or `local`.
      const s = conn.sock;
      const peer = s.remoteFamily === 'IPv4' && s.remoteAddress ? `instream(${s.remoteAddress}@${s.remotePort ?? 0})` : 'instream(local)';
      if (spool) {
        const { path, file } = spool;
        await file.close();
        handedOver = true;
        await this.dispatch('INSTREAM', async () => {
          try {
            const res = await this.opts.service.scanPath(path).catch(errorResult);
            await this.reportOne(to, 'stream', res, false, peer, peer);
          } finally {
            await unlink(path).catch(() => undefined);
          }
        }, inflight);
        return true;
      }
      // One copy into memory of its own, which moves to the scanning thread without another.
      const data = new Uint8Array(total);
      let at = 0;
      for (const p of parts) { data.set(p, at); at += p.length; }
      parts.length = 0;
      const mine = held;
      held = 0;
      await this.dispatch('INSTREAM', async () => {
        try {
          const res = await this.opts.service.scanBuffer(data, { transfer: true }).catch(errorResult);
          await this.reportOne(to, 'stream', res, false, peer, peer);
        } finally {
          this.streamMemory.give(mine);
        }
      }, inflight);
      return true;
    } finally {
      release();
      if (spool && !handedOver) {
        await spool.file.close().catch(() => undefined);
        await unlink(spool.path).catch(() => undefined);
      }
    }
  }

  /**
   * FILDES's scan: the received descriptor's file from its first byte, replied as `fd[N]: …`, logged
   * and passed to VirusEvent under the file's path when it has one; the descriptor is closed after.
   */
  private async scanDescriptor(to: ReplyTo, fd: number): Promise<void> {
    const name = `fd[${fd}]`;
    try {
      const st = await fstatAsync(fd).catch(() => undefined);
      if (!st || !st.isFile()) {
        this.send(to, `${name}: Not a regular file ERROR`);
        this.opts.scanLog?.info(`${name}: Not a regular file. ERROR`);
        return;
      }
      const path = await readlink(`/proc/self/fd/${fd}`).catch(() => name);
      const res = await (this.opts.service.scanFd ? this.opts.service.scanFd(fd) : readDescriptor(fd, st.size).then((b) => this.opts.service.scanBuffer(b, { transfer: true })))
        .catch(errorResult);
      await this.reportOne(to, name, res, false, path, path, true);
    } finally {
      await closeAsync(fd).catch(() => undefined);
    }
  }

  /** A new private file for a spooled stream (created exclusively, mode 0600). */
  private async openSpool(): Promise<{ path: string; file: FileHandle }> {
    const dir = this.opts.config.temporaryDirectory ?? tmpdir();
    const path = join(dir, `vigil-instream-${randomBytes(12).toString('hex')}`);
    return { path, file: await open(path, 'wx', 0o600) };
  }

  /**
   * Replies for one scanned object; returns whether it was infected and whether it errored. An
   * infected object first runs VirusEvent, naming it `eventName` (by default the file's real path).
   */
  private async reportOne(conn: ReplyTo, path: string, res: ServiceResult, allmatch: boolean, eventName?: string, logName = path, okLine = path === 'stream'): Promise<{ found: boolean; error: boolean }> {
    const log = this.opts.scanLog;
    if (res.verdict === 'infected' && res.detections.length > 0) {
      const list = allmatch ? res.detections : res.detections.slice(0, 1);
      if (this.opts.config.virusEvent) await this.virusEvent(eventName ?? await realpath(fsPath(path)).catch(() => path), list[0]!.name);
      for (const d of list) {
        this.send(conn, `${path}: ${d.name} FOUND`);
        log?.found(logName, d.name);
      }
      return { found: true, error: false };
    }
    // A scan a limit stopped is clean to clamd (libclamav returns CL_CLEAN past its limits).
    if (res.verdict === 'not-scanned' && res.limit === undefined) {
      const reason = res.reason ?? 'Unknown error';
      this.send(conn, `${path}: ${reason} ERROR`);
      log?.error(logName, reason);
      return { found: false, error: true };
    }
    if (okLine) this.send(conn, `${path}: OK`);
    log?.clean(logName);
    return { found: false, error: false };
  }

  private multiscans = 0;

  /**
   * SCAN, CONTSCAN, MULTISCAN, ALLMATCHSCAN: clamd's walk (files before subdirectories, then by
   * inode; symlinks skipped unless followed; leading `//` and trailing `/` trimmed) and its tally:
   * `<path>: OK` closes the reply when nothing was infected and not every visited entry errored.
   */
  private async scanCommand(conn: ReplyTo, name: string, argIn: string): Promise<void> {
    const cfg = this.opts.config;
    let path = argIn;
    if (path.length > 1) {
      while (path.startsWith('//')) path = path.slice(1);
      while (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    }
    if (name === 'ALLMATCHSCAN' && !cfg.allowAllMatchScan) {
      this.send(conn, `${argIn}: ALLMATCHSCAN command disabled by clamd configuration. ERROR`);
      return;
    }
    if (name === 'MULTISCAN') {
      const st = await stat(fsPath(path)).catch(() => undefined);
      if (st && !st.isDirectory()) name = 'CONTSCAN';
      else if (this.multiscans + 1 >= cfg.maxThreads) {
        this.send(conn, `${argIn}: Not enough threads for multiscan. Increase MaxThreads. ERROR`);
        return;
      }
    }
    const allmatch = name === 'ALLMATCHSCAN';
    const stopOnResult = name === 'SCAN' || name === 'ALLMATCHSCAN';
    const multi = name === 'MULTISCAN';
    const svc = this.opts.service;
    const tally = { total: 0, errors: 0, infected: 0 };
    let stop = false;
    const files: string[] = [];
    const follow = (isDir: boolean): boolean => (isDir ? cfg.followDirectorySymlinks : cfg.followFileSymlinks);
    const excluded = (p: string): boolean => {
      if (!cfg.excludePath.some((re) => re.test(p))) return false;
      if (!multi) this.send(conn, `${p}: Excluded`);
      return true;
    };
    /** A regular file: scan now (or queue it for MULTISCAN). */
    const visitFile = async (p: string, size: number): Promise<void> => {
      tally.total++;
      if (size === 0) return;
      if (multi) { tally.total--; files.push(p); return; }
      try { await access(fsPath(p), fsConstants.R_OK); } catch {
        this.send(conn, `${p}: Access denied. ERROR`);
        tally.errors++;
        return;
      }
      const res = await svc.scanPath(fsPath(p), { allmatch }).catch(errorResult);
      const r = await this.reportOne(conn, p, res, allmatch);
      if (r.found) tally.infected++;
      if (r.error) tally.errors++;
      if (stopOnResult && (r.found || r.error)) stop = true;
    };
    const walkDir = async (dir: string, depth: number): Promise<void> => {
      if (depth > (cfg.maxDirectoryRecursion || Infinity)) return;
      let names: string[];
      try { names = await readdir(fsPath(dir)); } catch (e) {
        tally.total++;
        tally.errors++;
        this.send(conn, `${dir}: File path check failure: ${errnoText(e)}. ERROR`);
        return;
      }
      const entries: { p: string; isDir: boolean; ino: number; size: number; skipped?: 'link' | 'special' }[] = [];
      for (const n of names) {
        const p = dir === '/' ? `/${n}` : `${dir}/${n}`;
        try {
          let st = await lstat(fsPath(p));
          let skipped: 'link' | 'special' | undefined;
          if (st.isSymbolicLink()) {
            const t = await stat(fsPath(p)).catch(() => undefined);
            if (!t || !follow(t.isDirectory())) skipped = 'link';
            else st = t;
          }
          if (!skipped && !st.isDirectory() && !st.isFile()) skipped = 'special';
          entries.push({ p, isDir: !skipped && st.isDirectory(), ino: st.ino, size: st.size, skipped });
        } catch (e) {
          tally.total++;
          tally.errors++;
          this.send(conn, `${p}: File path check failure: ${errnoText(e)}. ERROR`);
        }
      }
      entries.sort((a, b) => (Number(a.isDir) - Number(b.isDir)) || (a.ino - b.ino));
      for (const e of entries) {
        if (stop) return;
        if (excluded(e.p)) continue;
        if (e.skipped) { tally.total++; continue; }
        if (e.isDir) await walkDir(e.p, depth + 1);
        else await visitFile(e.p, e.size);
      }
    };
    // The top-level path.
    if (!excluded(path)) {
      try {
        let st = await lstat(fsPath(path));
        let skipped = false;
        if (st.isSymbolicLink()) {
          const t = await stat(fsPath(path));
          if (!follow(t.isDirectory())) skipped = true;
          else st = t;
        }
        if (skipped) tally.total++;
        else if (st.isDirectory()) { tally.total++; await walkDir(path, 1); }
        else if (st.isFile()) await visitFile(path, st.size);
        else { tally.total++; this.send(conn, `${path}: Not supported file type ERROR`); }
      } catch (e) {
        tally.total++;
        tally.errors++;
        this.send(conn, `${path}: File path check failure: ${errnoText(e)}. ERROR`);
      }
    } else {
      return;
    }
    if (multi) {
      // MULTISCAN counts only the files it dispatched.
      tally.total = files.length;
      tally.errors = 0;
      this.multiscans++;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < files.length) {
          const p = files[next++] ?? '';
          const res = await svc.scanPath(fsPath(p), {}).catch(errorResult);
          const r = await this.reportOne(conn, p, res, false);
          if (r.found) tally.infected++;
          if (r.error) tally.errors++;
        }
      };
      try {
        await Promise.all(Array.from({ length: Math.max(1, Math.min(cfg.maxThreads - 1, files.length)) }, worker));
      } finally {
        this.multiscans--;
      }
    }
    if (tally.infected === 0 && tally.errors !== tally.total) this.send(conn, `${path}: OK`);
  }

  /**
   * clamd's VirusEvent: `/bin/sh -c` the configured command, `%v` replaced by the virus name and
   * `%f` by clamd's notice that it is disabled (a file name in a shell command is an injection),
   * with PATH, CLAM_VIRUSEVENT_FILENAME and CLAM_VIRUSEVENT_VIRUSNAME as its only environment.
   * The reply waits for the command to end, as clamd's does.
   */
  private virusEvent(filename: string, virname: string): Promise<void> {
    const cmd = this.opts.config.virusEvent;
    if (!cmd) return Promise.resolve();
    const line = cmd.replace(/%([vf])/g, (_m, c: string) => (c === 'v' ? virname : FILENAME_DISABLED));
    const env: Record<string, string> = { CLAM_VIRUSEVENT_FILENAME: filename, CLAM_VIRUSEVENT_VIRUSNAME: virname };
    if (process.env.PATH !== undefined) env.PATH = process.env.PATH;
    return new Promise((resolve) => {
      const child = spawn('/bin/sh', ['-c', line], { env, stdio: 'ignore' });
      child.on('error', (e) => { this.opts.log?.(`VirusEvent: ${e.message}`); resolve(); });
      child.on('close', () => resolve());
    });
  }

  /** clamd's STATS block, with this server's figures (memory figures are not tracked: N/A). */
  private stats(): string {
    const now = process.hrtime.bigint();
    const lines: string[] = [];
    for (const j of this.pool.running.values()) lines.push(`\t${j.name} ${(Number(now - j.start) / 1e9).toFixed(6)} \n`);
    const idle = Math.max(0, this.pool.max - this.pool.live);
    for (let i = 0; i < idle; i++) lines.push('\tIDLE 0.000000 \n');
    const mem = process.memoryUsage();
    const mb = (n: number): string => (n / (1024 * 1024)).toFixed(3) + 'M';
    return 'POOLS: 1\n\nSTATE: VALID PRIMARY\n' +
      `THREADS: live ${this.pool.live}  idle ${idle} max ${this.pool.max} idle-timeout ${Math.round(this.opts.config.idleTimeout / 1000)}\n` +
      `QUEUE: ${this.pool.queued} items\n` + lines.join('') +
      `\nMEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 pools_used ${mb(mem.heapUsed)} pools_total ${mb(mem.heapTotal)}\nEND`;
  }
}

const fstatAsync = promisify(fstatCb);
const closeAsync = promisify(closeCb);

/** Writes every byte of `bufs` at the file's position (a short write continues where it stopped). */
async function writeAll(file: FileHandle, bufs: Buffer[]): Promise<void> {
  if (bufs.length === 0) return;
  const all = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
  for (let at = 0; at < all.length;) at += (await file.write(all, at, all.length - at)).bytesWritten;
}

/** The path to open: relative to the cwd; an empty path stays empty (and fails as clamd's does). */
function fsPath(p: string): string {
  return p === '' ? '' : resolvePath(p);
}

function errorResult(e: unknown): ServiceResult {
  return { verdict: 'not-scanned', detections: [], reason: e instanceof Error ? e.message : String(e) };
}

function errnoText(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') return 'No such file or directory';
  if (code === 'EACCES') return 'Permission denied';
  if (code === 'ENOTDIR') return 'Not a directory';
  return e instanceof Error ? e.message : String(e);
}
