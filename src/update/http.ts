/**
 * One HTTP exchange with an untrusted server: a hard deadline over the whole of it (connect,
 * headers, body) and a cap on the reply.
 *
 * In: a URL (http: or https:), the method and body, the reply cap for a 200 and for anything else,
 * the deadline, a label for messages, and how to make an error. Out: the status and the body, or
 * that error (the socket destroyed).
 * Why node:http rather than fetch: fetch's abort signal can be lost while a body is being read
 * (Node 20), leaving a stalled reply hanging for the HTTP client's 300 s default; here the deadline
 * destroys the socket itself. No redirects, no connection reuse.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface ExchangeOptions {
  method?: string;
  body?: Uint8Array;
  /** Largest reply accepted with status 200. */
  cap: number;
  /** Largest reply accepted with another status (an error page). */
  errorCap?: number;
  timeoutMs: number;
  /** Names the exchange in messages, e.g. `GET http://…`. */
  where: string;
  accept?: string;
  fail: (message: string) => Error;
}

export function httpExchange(url: URL, o: ExchangeOptions): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const chunks: Buffer[] = [];
    let total = 0;
    const finish = (err: Error | undefined, status = 0): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else {
        resolve({ status, body: Buffer.concat(chunks, total) });
      }
    };
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      reject(o.fail(`${o.where}: only http: and https: addresses are supported`));
      return;
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, {
      method: o.method ?? 'GET',
      agent: false,
      headers: {
        accept: o.accept ?? 'application/json, application/octet-stream',
        connection: 'close',
        ...(o.body ? { 'content-type': 'application/octet-stream', 'content-length': String(o.body.length) } : {}),
      },
    }, (res) => {
      const status = res.statusCode ?? 0;
      const limit = status === 200 ? o.cap : o.errorCap ?? (1 << 20);
      const declared = res.headers['content-length'];
      if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > limit) {
        finish(o.fail(`${o.where}: reply of ${declared} bytes exceeds the limit of ${limit}`));
        return;
      }
      res.on('data', (c: Buffer) => {
        total += c.length;
        if (total > limit) { finish(o.fail(`${o.where}: reply exceeds the limit of ${limit} bytes`)); return; }
        chunks.push(c);
      });
      res.on('end', () => finish(undefined, status));
      res.on('error', (e) => finish(o.fail(`${o.where}: ${e.message}`)));
      res.on('close', () => finish(o.fail(`${o.where}: the connection closed before the reply was complete`)));
    });
    const timer = setTimeout(() => finish(o.fail(`${o.where}: timed out after ${o.timeoutMs} ms`)), o.timeoutMs);
    req.on('error', (e) => finish(o.fail(`${o.where}: ${e.message}`)));
    req.end(o.body);
  });
}
