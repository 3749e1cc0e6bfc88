/**
 * Unix-socket connections that can receive file descriptors (clamd's FILDES, `clamdscan --fdpass`).
 *
 * Node reads sockets with read(2), and the kernel closes a descriptor passed with SCM_RIGHTS when
 * its carrier byte is read that way. So the daemon's Unix listener is created with
 * `pauseOnConnect: true` (Node never reads), and each accepted socket is handed to `FdSocket`,
 * which duplicates its descriptor into the optional native addon (native/fdpass; built by
 * scripts/build-native.mjs) and destroys the Node socket. The addon reads with recvmsg() on the
 * Node event loop; this class adds what a `net.Socket` offers the clamd server: a write queue with
 * backpressure ('drain'), `end()` (half-close, then close once the peer has closed too, as with
 * `allowHalfOpen`), `destroy()`, and the 'data' / 'end' / 'close' / 'error' events.
 *
 * In:  an accepted, never-read `net.Socket` (Unix domain, `pauseOnConnect: true`).
 * Out: 'data' (Buffer) events, plus descriptors through `takeFd()` / `pendingFds`.
 *
 * Descriptors: on Linux a recvmsg() stops after the chunk that carried descriptors, so a
 * descriptor arrives with the chunk whose last byte is its carrier byte (the last byte of the
 * sendmsg() that passed it). Each one is recorded with its chunk's stream positions. `takeFd()`
 * hands out the most recent untaken descriptor and closes older ones (clamd keeps only the last
 * one); `takeFd(position)`, where position counts the stream bytes consumed so far (the FILDES
 * carrier byte included), hands out the descriptor that came with the carrier byte, which keeps
 * pipelined FILDES commands inside an IDSESSION apart, and closes untaken ones that came earlier
 * (clamd closes an unclaimed descriptor at its next read). Untaken descriptors are closed by
 * `destroy()`; at most MAX_PENDING_FDS are kept (older ones are closed). Taken descriptors belong
 * to the caller, who must close them.
 *
 * Without the addon (not built, failed to load, other platforms, or VIGIL_DISABLE_FDPASS=1)
 * `fdPassingAvailable()` is false and the daemon keeps using plain `net.Socket`s.
 */
import { EventEmitter } from 'node:events';
import { closeSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';

/** The addon's surface (native/fdpass/fdpass.c). Failures are negative errno values. */
interface FdPassAddon {
  open(fd: number, onRead: (buf: Buffer | null, fds: number[], errno: number) => void, onWritable: () => void): object | number;
  send(handle: object, buf: Buffer, offset: number): number;
  poll(handle: object, wantRead: boolean, wantWrite: boolean): number;
  shutdown(handle: object): number;
  close(handle: object): number;
  sendWithFd(fd: number, buf: Buffer, passFd: number): number;
}

/** Untaken descriptors kept per connection; older ones are closed. */
export const MAX_PENDING_FDS = 16;

const EAGAIN = osConstants.errno.EAGAIN;
const EWOULDBLOCK = osConstants.errno.EWOULDBLOCK;
const ENOTCONN = osConstants.errno.ENOTCONN;

let cached: FdPassAddon | null | undefined;

/** The package root: the nearest directory upwards holding vigil's package.json. */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 10; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'vigil') return dir;
    } catch {
      // no (readable) package.json here: keep walking up
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
  return undefined;
}

/** Where the addon is expected (whether or not it is built), or `undefined` outside the package. */
export function fdPassAddonPath(): string | undefined {
  const root = packageRoot();
  return root === undefined ? undefined : join(root, 'native', 'fdpass', 'build', 'Release', 'fdpass.node');
}

function loadAddon(): FdPassAddon | undefined {
  if (cached !== undefined) return cached ?? undefined;
  cached = null;
  try {
    if (process.platform !== 'linux' && process.platform !== 'darwin') return undefined;
    if (process.env.VIGIL_DISABLE_FDPASS === '1') return undefined;
    const path = fdPassAddonPath();
    if (!path) return undefined;
    const mod = createRequire(import.meta.url)(path) as Partial<FdPassAddon>;
    const names = ['open', 'send', 'poll', 'shutdown', 'close', 'sendWithFd'] as const;
    if (names.every((n) => typeof mod[n] === 'function')) cached = mod as FdPassAddon;
  } catch {
    cached = null;
  }
  return cached ?? undefined;
}

/** Whether descriptors can be received (the addon is built and loads); never throws. */
export function fdPassingAvailable(): boolean {
  return loadAddon() !== undefined;
}

/** A Node-style system error (`code`, `errno` negative as in Node, `syscall`) from a positive errno. */
function sysError(errno: number, syscall: string): NodeJS.ErrnoException {
  let code: string;
  try { code = getSystemErrorName(-errno); } catch { code = `E${errno}`; }
  const e: NodeJS.ErrnoException = new Error(`${syscall} ${code}`);
  e.code = code;
  e.errno = -errno;
  e.syscall = syscall;
  return e;
}

function streamError(code: string, message: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(message);
  e.code = code;
  return e;
}

function closeQuietly(fd: number): void {
  try { closeSync(fd); } catch { /* already closed */ }
}

/**
 * Sends `data` on a connected Unix stream socket in one non-blocking sendmsg(), with `passFd`
 * (if given) as SCM_RIGHTS. Returns the bytes sent; throws a system error (EAGAIN included).
 * For a socket a `net.Socket` also writes to, call it only when that socket has no pending writes.
 */
export function sendWithFd(socketFd: number, data: Buffer | string, passFd?: number): number {
  const addon = loadAddon();
  if (!addon) throw streamError('ERR_FDPASS_UNAVAILABLE', 'the fd-passing addon is not built');
  const n = addon.sendWithFd(socketFd, typeof data === 'string' ? Buffer.from(data) : data, passFd ?? -1);
  if (n < 0) throw sysError(-n, 'sendmsg');
  return n;
}

/** The descriptor of a Node socket (`undefined` if it has none, e.g. already destroyed). */
export function socketFd(sock: Socket): number | undefined {
  const fd = (sock as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * What the clamd server and RequestReader use of a connection; both `net.Socket` and `FdSocket`
 * satisfy it (checked in fdsocket.test.ts), so either can be served.
 */
export interface ByteConnection {
  on(event: 'data', listener: (data: Buffer) => void): unknown;
  on(event: 'end' | 'close' | 'error', listener: () => void): unknown;
  once(event: 'close', listener: () => void): unknown;
  write(data: string | Buffer): boolean;
  end(): unknown;
  destroy(): unknown;
  readonly destroyed: boolean;
  readonly writable: boolean;
}

export interface FdSocketEvents {
  data: [Buffer];
  end: [];
  drain: [];
  error: [Error];
  close: [hadError: boolean];
}

interface FdRecord { fd: number; start: number; end: number }

interface Pending { buf: Buffer; off: number; cb: ((err?: Error | null) => void) | undefined }

export interface FdSocketOptions {
  /** Keep the writable side open after the peer's end (default true, as the clamd server uses). */
  allowHalfOpen?: boolean;
  /** `write()` returns false once this many bytes are queued (default 64 KiB). */
  highWaterMark?: number;
}

/**
 * A connection read with recvmsg(). Reading starts when a 'data' listener is added (or `resume()`
 * is called), as with a flowing stream. Differences from `net.Socket`: `write()` after `end()` or
 * `destroy()` does not emit 'error' (the callback, if any, gets the error), and an 'error' with no
 * listener is dropped instead of thrown (the connection is closed either way).
 */
export class FdSocket extends EventEmitter<FdSocketEvents> {
  private readonly addon: FdPassAddon;
  private readonly handle: object;
  private readonly allowHalfOpen: boolean;
  readonly writableHighWaterMark: number;
  private readonly queue: Pending[] = [];
  private queuedBytes = 0;
  /** Untaken descriptors, in arrival order, with the stream range [start, end) of their chunk. */
  private fds: FdRecord[] = [];
  private flowing = false;
  private paused = false;
  private readEnded = false;
  private ending = false;
  private shutDown = false;
  private needDrain = false;
  private pollRead = true; // the addon starts reading on open
  private pollWrite = false;
  private closeEmitted = false;
  private isDestroyed = false;
  private nRead = 0;
  private nWritten = 0;

  /**
   * Adopts `sock` (accepted with `pauseOnConnect: true`, never read): its descriptor is duplicated
   * and the Node socket destroyed. Throws if the addon is missing or the socket has no descriptor;
   * `sock` is then left as it was.
   */
  constructor(sock: Socket, opts: FdSocketOptions = {}) {
    super();
    const addon = loadAddon();
    if (!addon) throw streamError('ERR_FDPASS_UNAVAILABLE', 'the fd-passing addon is not built');
    const fd = socketFd(sock);
    if (fd === undefined) throw streamError('ERR_SOCKET_CLOSED', 'the socket has no descriptor');
    const h = addon.open(fd, (buf, fds, errno) => this.onRead(buf, fds, errno), () => this.flush());
    if (typeof h === 'number') throw sysError(-h, 'open');
    this.addon = addon;
    this.handle = h;
    this.allowHalfOpen = opts.allowHalfOpen ?? true;
    this.writableHighWaterMark = opts.highWaterMark ?? 64 * 1024;
    sock.destroy();
    this.updatePoll(); // not flowing yet: stop reading until a 'data' listener comes
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event === 'data' && !this.flowing) { this.flowing = true; this.updatePoll(); }
    });
  }

  get destroyed(): boolean { return this.isDestroyed; }
  /** Stream bytes received so far (the positions `takeFd(position)` speaks of). */
  get bytesRead(): number { return this.nRead; }
  get bytesWritten(): number { return this.nWritten; }
  get writable(): boolean { return !this.destroyed && !this.ending; }
  get readable(): boolean { return !this.destroyed && !this.readEnded; }
  get writableLength(): number { return this.queuedBytes; }
  get writableNeedDrain(): boolean { return this.needDrain; }
  /** Received descriptors not yet taken. */
  get pendingFds(): number { return this.fds.length; }
  /**
   * For each untaken descriptor, the stream position just after the chunk that carried it. A
   * descriptor whose chunk ends right after a command's terminator came without a carrier byte
   * (clamd: "PROTOCOL ERROR: ancillary data sent without FILDES").
   */
  get pendingFdPositions(): number[] { return this.fds.map((r) => r.end); }

  /**
   * Without `position`: the most recent received descriptor not yet taken; older untaken ones are
   * closed. With `position` (stream bytes consumed so far, the carrier byte included): the
   * descriptor that arrived with the byte at `position - 1`, or `undefined`; untaken descriptors
   * that arrived before it are closed, later ones are kept. The caller owns (and closes) the result.
   */
  takeFd(position?: number): number | undefined {
    const pos = position ?? this.fds.at(-1)?.end;
    if (pos === undefined) return undefined;
    let chosen: number | undefined;
    const keep: FdRecord[] = [];
    for (const r of this.fds) {
      if (r.start >= pos) { keep.push(r); continue; } // arrived after the carrier byte
      if (chosen !== undefined) closeQuietly(chosen); // several in one chunk: the last one counts
      chosen = undefined;
      if (pos <= r.end) chosen = r.fd; else closeQuietly(r.fd);
    }
    this.fds = keep;
    return chosen;
  }

  write(data: string | Buffer, cb?: (err?: Error | null) => void): boolean;
  write(data: string | Buffer, encoding: BufferEncoding, cb?: (err?: Error | null) => void): boolean;
  write(data: string | Buffer, encOrCb?: BufferEncoding | ((err?: Error | null) => void), maybeCb?: (err?: Error | null) => void): boolean {
    const cb = typeof encOrCb === 'function' ? encOrCb : maybeCb;
    if (this.destroyed || this.ending) {
      const err = this.destroyed
        ? streamError('ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed')
        : streamError('ERR_STREAM_WRITE_AFTER_END', 'write after end');
      if (cb) process.nextTick(cb, err);
      return false;
    }
    const buf = typeof data === 'string' ? Buffer.from(data, typeof encOrCb === 'string' ? encOrCb : 'utf8') : data;
    this.queue.push({ buf, off: 0, cb });
    this.queuedBytes += buf.length;
    if (this.queue.length === 1) this.flush();
    if (this.destroyed) return false;
    const ok = this.queuedBytes < this.writableHighWaterMark;
    if (!ok) this.needDrain = true;
    return ok;
  }

  /**
   * Half-closes once queued data is written; the socket closes when the peer has closed too (or at
   * once with `allowHalfOpen: false`). `cb` runs on 'close'. Calling `destroy()` later is safe.
   */
  end(data?: string | Buffer, cb?: () => void): this {
    if (data !== undefined && data.length > 0) this.write(data);
    if (cb) this.once('close', () => cb());
    if (this.destroyed || this.ending) return this;
    this.ending = true;
    if (this.queue.length === 0) this.shutdownWrite();
    return this;
  }

  /** Closes now: the connection, queued writes (their callbacks get an error) and untaken descriptors. */
  destroy(err?: Error): this {
    if (this.destroyed) return this;
    this.isDestroyed = true;
    this.addon.close(this.handle);
    for (const r of this.fds) closeQuietly(r.fd);
    this.fds = [];
    const failed = this.queue.splice(0).map((p) => p.cb).filter((cb) => cb !== undefined);
    this.queuedBytes = 0;
    process.nextTick(() => {
      const werr = streamError('ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed');
      for (const cb of failed) cb(werr);
      if (err && this.listenerCount('error') > 0) this.emit('error', err);
      if (!this.closeEmitted) { this.closeEmitted = true; this.emit('close', err !== undefined); }
    });
    return this;
  }

  /** Stops reading (backpressure); `resume()` restarts. */
  pause(): this { this.paused = true; this.updatePoll(); return this; }
  resume(): this { this.paused = false; this.flowing = true; this.updatePoll(); return this; }
  get isPaused(): boolean { return this.paused; }

  private updatePoll(): void {
    if (this.destroyed) return;
    const r = this.flowing && !this.paused && !this.readEnded;
    const w = this.queue.length > 0;
    if (r === this.pollRead && w === this.pollWrite) return;
    const rc = this.addon.poll(this.handle, r, w);
    if (rc < 0) { this.destroy(sysError(-rc, 'poll')); return; }
    this.pollRead = r;
    this.pollWrite = w;
  }

  private onRead(buf: Buffer | null, fds: number[], errno: number): void {
    if (this.destroyed) { for (const fd of fds) closeQuietly(fd); return; }
    const start = this.nRead;
    const end = start + (buf?.length ?? 0);
    for (const fd of fds) this.fds.push({ fd, start, end });
    while (this.fds.length > MAX_PENDING_FDS) closeQuietly(this.fds.shift()?.fd ?? -1);
    if (buf) {
      this.nRead += buf.length;
      this.emit('data', buf);
      return;
    }
    if (errno !== 0) { this.destroy(sysError(errno, 'recvmsg')); return; }
    this.readEnded = true;
    this.pollRead = false; // the addon stops reading at EOF
    this.emit('end');
    if (this.destroyed) return;
    if (!this.allowHalfOpen) this.end();
    else if (this.shutDown) this.destroy();
  }

  /** Writes as much of the queue as the socket takes; polls for writability while some is left. */
  private flush(): void {
    const done: ((err?: Error | null) => void)[] = [];
    while (!this.destroyed) {
      const p = this.queue[0];
      if (!p) break;
      const n = p.off < p.buf.length ? this.addon.send(this.handle, p.buf, p.off) : 0;
      if (n < 0) {
        if (-n === EAGAIN || -n === EWOULDBLOCK) break;
        this.destroy(sysError(-n, 'send'));
        return;
      }
      p.off += n;
      this.nWritten += n;
      this.queuedBytes -= n;
      if (p.off < p.buf.length) break; // the socket buffer is full
      this.queue.shift();
      if (p.cb) done.push(p.cb);
    }
    if (this.destroyed) return;
    this.updatePoll();
    if (done.length > 0) process.nextTick(() => { for (const cb of done) cb(null); });
    if (this.queue.length > 0) return;
    if (this.needDrain) { this.needDrain = false; process.nextTick(() => { if (!this.destroyed) this.emit('drain'); }); }
    if (this.ending) this.shutdownWrite();
  }

  private shutdownWrite(): void {
    if (this.shutDown || this.destroyed) return;
    this.shutDown = true;
    const rc = this.addon.shutdown(this.handle);
    if (rc < 0) {
      // The peer is gone already (ENOTCONN): nothing is left to say, close quietly.
      this.destroy(-rc === ENOTCONN ? undefined : sysError(-rc, 'shutdown'));
      return;
    }
    if (this.readEnded) this.destroy();
  }
}
