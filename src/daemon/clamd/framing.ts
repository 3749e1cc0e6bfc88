/**
 * Reading clamd requests from a byte stream.
 *
 * `z<CMD>\0` (reply ends in NUL), `n<CMD>\n` (a trailing `\r` is dropped; reply ends in `\n`), or
 * old style: no prefix, the command is the received data up to the first `\n` (or all of it).
 * INSTREAM's binary chunks are read with `readExact`. Node delivers no packet boundaries, so "one
 * packet" for old-style commands means "what has arrived so far".
 */

/** clamd's per-connection command buffer is PATH_MAX + 8 bytes; a fuller buffer drops the connection. */
export const MAX_COMMAND_BYTES = 4096 + 8;

export type Terminator = '\0' | '\n';

export interface Frame { kind: 'command'; text: string; term: Terminator; oldStyle: boolean }
export type ReadResult = Frame | { kind: 'eof' } | { kind: 'timeout' } | { kind: 'overflow' };

/** Extracts one command from the front of `buf`, or `undefined` if none is complete yet. */
export function takeCommand(buf: Buffer): { frame: Frame; used: number } | undefined {
  if (buf.length === 0) return undefined;
  const first = buf[0];
  if (first === 0x7a /* z */ || first === 0x6e /* n */) {
    const termByte = first === 0x7a ? 0 : 0x0a;
    const end = buf.indexOf(termByte, 1);
    if (end < 0) return undefined;
    let text = buf.subarray(1, end).toString('utf8');
    if (termByte === 0x0a) text = chomp(text);
    return { frame: { kind: 'command', text, term: termByte === 0 ? '\0' : '\n', oldStyle: false }, used: end + 1 };
  }
  const nl = buf.indexOf(0x0a);
  const end = nl < 0 ? buf.length : nl;
  // clamd's old-style parse stops at a NUL too (it works on a C string).
  const raw = buf.subarray(0, end);
  const nul = raw.indexOf(0);
  const text = chomp((nul < 0 ? raw : raw.subarray(0, nul)).toString('utf8'));
  return { frame: { kind: 'command', text, term: '\n', oldStyle: true }, used: nl < 0 ? buf.length : nl + 1 };
}

/** Drops trailing `\r`/`\n`, as clamd's `cli_chomp`. */
function chomp(s: string): string {
  let e = s.length;
  while (e > 0 && (s[e - 1] === '\n' || s[e - 1] === '\r')) e--;
  return s.slice(0, e);
}

/** The events of a connection the reader listens to (a `net.Socket`, or a socket that also receives descriptors). */
export interface ByteSource {
  on(event: 'data', listener: (d: Buffer) => void): unknown;
  on(event: 'end' | 'close' | 'error', listener: () => void): unknown;
}

/**
 * Buffers a socket's data and hands it out as commands or exact byte counts. Received chunks are
 * queued as they came: a read inside one chunk is a view of it, and only reads that straddle
 * chunks (or a command split across them) copy.
 */
export class RequestReader {
  private chunks: Buffer[] = [];
  private size = 0;
  private used = 0;
  private ended = false;
  private wake: (() => void) | undefined;
  private stopped = false;

  constructor(socket: ByteSource) {
    socket.on('data', (d: Buffer) => {
      if (this.stopped || d.length === 0) return;
      this.chunks.push(d);
      this.size += d.length;
      this.notify();
    });
    socket.on('end', () => { this.ended = true; this.notify(); });
    socket.on('close', () => { this.ended = true; this.notify(); });
    socket.on('error', () => { this.ended = true; this.notify(); });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Waits for new data, the end of the stream or `ms`; returns false on timeout. */
  private waitData(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.wake = undefined; resolve(false); }, Math.max(0, ms));
      this.wake = () => { clearTimeout(t); resolve(true); };
    });
  }

  /** Drops what is buffered and everything that arrives from now on (the connection is finishing). */
  stop(): void {
    this.stopped = true;
    this.chunks = [];
    this.size = 0;
  }

  get pending(): number { return this.size; }
  /** Stream bytes handed out so far (commands, counts, parts): where a received descriptor's carrier byte sits. */
  get consumed(): number { return this.used; }
  get isEnded(): boolean { return this.ended; }

  /** The first `n` buffered bytes (at most what is buffered) as one buffer, merging front chunks if needed. */
  private front(n: number): Buffer {
    const want = Math.min(n, this.size);
    const first = this.chunks[0];
    if (!first) return Buffer.alloc(0);
    if (first.length >= want) return first;
    // Copy exactly `want` bytes: whole chunks, then the needed part of the next (its rest stays).
    const parts: Buffer[] = [];
    let got = 0;
    while (got < want) {
      const c = this.chunks.shift()!;
      const take = Math.min(c.length, want - got);
      parts.push(take === c.length ? c : c.subarray(0, take));
      if (take < c.length) this.chunks.unshift(c.subarray(take));
      got += take;
    }
    const merged = Buffer.concat(parts, got);
    this.chunks.unshift(merged);
    return merged;
  }

  /** Removes `n` bytes (at most what is buffered) from the front. */
  private consume(n: number): void {
    this.size -= n;
    this.used += n;
    while (n > 0) {
      const c = this.chunks[0]!;
      if (c.length <= n) { this.chunks.shift(); n -= c.length; } else { this.chunks[0] = c.subarray(n); n = 0; }
    }
  }

  /** The next command; `timeoutMs` bounds the whole wait for a complete one. */
  async readCommand(timeoutMs: number): Promise<ReadResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const head = this.front(MAX_COMMAND_BYTES);
      const got = takeCommand(head);
      if (got) {
        this.consume(got.used);
        return got.frame;
      }
      if (this.size >= MAX_COMMAND_BYTES) return { kind: 'overflow' };
      if (this.ended) return { kind: 'eof' };
      if (!(await this.waitData(deadline - Date.now())) && !takeCommand(this.front(MAX_COMMAND_BYTES))) {
        return this.ended ? { kind: 'eof' } : { kind: 'timeout' };
      }
    }
  }

  /** Exactly `n` bytes; `timeoutMs` bounds each wait for more data. */
  async readExact(n: number, timeoutMs: number): Promise<Buffer | 'eof' | 'timeout'> {
    while (this.size < n) {
      if (this.ended) return 'eof';
      if (!(await this.waitData(timeoutMs))) return this.ended ? 'eof' : 'timeout';
    }
    return this.take(n);
  }

  /**
   * Exactly `n` bytes as the list of views they arrived in (no copy); `timeoutMs` bounds each wait
   * for more data. For bulk data whose reader assembles it once.
   */
  async readParts(n: number, timeoutMs: number, into: Buffer[]): Promise<'ok' | 'eof' | 'timeout'> {
    let left = n;
    while (left > 0) {
      if (this.size === 0) {
        if (this.ended) return 'eof';
        if (!(await this.waitData(timeoutMs))) return this.ended ? 'eof' : 'timeout';
        continue;
      }
      const c = this.chunks[0]!;
      const k = Math.min(c.length, left);
      into.push(k === c.length ? c : c.subarray(0, k));
      this.consume(k);
      left -= k;
    }
    return 'ok';
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      this.consume(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      this.consume(k);
      at += k;
    }
    return out;
  }
}
