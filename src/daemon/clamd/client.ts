/**
 * The smallest clamd client: is a daemon answering on this socket? For scripts, benchmarks and
 * tests that start a daemon (vigil's or clamd) and wait for it.
 *
 * In: a Unix socket path (or a TCP `{ host, port }`). Out: whether `nPING` got `PONG`; or, waiting,
 * nothing once it does, an error when it does not within the time given.
 */
import net from 'node:net';

export type ClamdAddress = string | { host: string; port: number };

export function clamdPing(address: ClamdAddress): Promise<boolean> {
  return new Promise((resolve) => {
    const c = typeof address === 'string' ? net.createConnection(address) : net.createConnection(address.port, address.host);
    let got = '';
    c.on('data', (d) => { got += d.toString('latin1'); });
    c.on('close', () => resolve(got === 'PONG\n'));
    c.on('error', () => resolve(false));
    c.write('nPING\n');
  });
}

export async function waitForClamd(address: ClamdAddress, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await clamdPing(address)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no daemon answered on ${typeof address === 'string' ? address : `${address.host}:${address.port}`}`);
}
