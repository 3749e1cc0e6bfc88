/**
 * Talking to a clamd-protocol server in tests: one request per connection, and INSTREAM framing.
 */
import net from 'node:net';

/** Sends `request` on a new connection and collects the reply until the server closes it (or `until` is seen). */
export function talk(path: string, request: Buffer, until?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(path);
    let got = '';
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (until !== undefined && got.includes(until)) sock.end();
    });
    sock.on('end', () => resolve(got));
    sock.on('close', () => resolve(got));
    sock.on('error', reject);
    sock.write(request);
  });
}

/** `zINSTREAM` with `body` as one chunk, then the zero-length end. */
export function instream(body: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([Buffer.from('zINSTREAM\0'), len, body, Buffer.alloc(4)]);
}
