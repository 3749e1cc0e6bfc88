/**
 * Reading clamd requests from a byte stream.
 *
 * `z<CMD>\0` (reply ends in NUL), `n<CMD>\n` (a trailing `\r` is dropped; reply ends in `\n`), or
 * old style: no prefix, the command is the received data up to the first `\n` (or all of it).
 * INSTREAM's binary chunks are read with `readExact`. Node delivers no packet boundaries, so "one
 * packet" for old-style commands means "what has arrived so far".
 */
import type { Socket } from 'node:net';

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

/** Buffers a socket's data and hands it out as commands or exact byte counts. */
export class RequestReader {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      if (this.stopped) return;
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
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
    this.buf = Buffer.alloc(0);
  }

  get pending(): number { return this.buf.length; }
  get isEnded(): boolean { return this.ended; }

  /** The next command; `timeoutMs` bounds the whole wait for a complete one. */
  async readCommand(timeoutMs: number): Promise<ReadResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = takeCommand(this.buf);
      if (got) {
        this.buf = this.buf.subarray(got.used);
        return got.frame;
      }
      if (this.buf.length >= MAX_COMMAND_BYTES) return { kind: 'overflow' };
      if (this.ended) return { kind: 'eof' };
      if (!(await this.waitData(deadline - Date.now())) && !takeCommand(this.buf)) {
        return this.ended ? { kind: 'eof' } : { kind: 'timeout' };
      }
    }
  }

  /** Exactly `n` bytes; `timeoutMs` bounds each wait for more data. */
  async readExact(n: number, timeoutMs: number): Promise<Buffer | 'eof' | 'timeout'> {
    while (this.buf.length < n) {
      if (this.ended) return 'eof';
      if (!(await this.waitData(timeoutMs))) return this.ended ? 'eof' : 'timeout';
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
}
