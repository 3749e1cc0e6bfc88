/**
 * Differential test of the clamd protocol: the real clamd (1.4) and vigil's server, started on the
 * same database (an .hdb and an .ndb with EICAR) and configuration, get identical raw requests;
 * their replies must be identical except the version text (whose shape is compared). Then
 * `clamdscan` runs against each (plain, --stream, --multiscan) and its output (times and dates
 * aside) and exit code must agree.
 *
 * Skipped with a message when /usr/sbin/clamd is not installed; clamdscan's part is skipped when
 * clamdscan is not. Every figure compared is printed on failure.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClamdServer } from '../../src/daemon/clamd/server.js';
import { parseConfig } from '../../src/daemon/clamd/config.js';
import { EngineScanService } from '../../src/daemon/clamd/engine-service.js';
import { ClamdLog } from '../../src/daemon/clamd/log.js';
import { createScanner, serviceOf } from '../../src/lib/scanner.js';

const CLAMD = '/usr/sbin/clamd';
const CLAMDSCAN = spawnSync('sh', ['-c', 'command -v clamdscan']).stdout.toString().trim();
const skip = existsSync(CLAMD) ? false : `${CLAMD} is not installed (package clamav-daemon): nothing to compare with`;

const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

function confText(dir: string, sock: string): string {
  // Each daemon's VirusEvent appends to its own file: the variables, and %v / %f substituted.
  const events = `${sock}.events`;
  return [
    `VirusEvent echo "[%v] [%f] [$CLAM_VIRUSEVENT_VIRUSNAME] [$CLAM_VIRUSEVENT_FILENAME] [$HOME]" >> ${events}`,
    `LocalSocket ${sock}`, `DatabaseDirectory ${join(dir, 'db')}`, 'Foreground yes', `TemporaryDirectory ${dir}`,
    'StreamMaxLength 64K', 'CommandReadTimeout 2', 'ReadTimeout 2', 'MaxThreads 4', `LogFile ${sock}.log`, 'LogClean yes', '',
  ].join('\n');
}

function exchange(sock: string, parts: (string | Buffer)[], gapMs = 0): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(sock);
    const got: Buffer[] = [];
    const guard = setTimeout(() => { c.destroy(); reject(new Error('no close within 10 s')); }, 10_000);
    c.on('data', (d) => got.push(d));
    c.on('error', () => undefined);
    c.on('close', () => { clearTimeout(guard); resolve(Buffer.concat(got)); });
    c.on('connect', () => {
      void (async () => {
        for (const p of parts) {
          c.write(p);
          if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
        }
      })();
    });
  });
}

function chunk(data: string | Buffer): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const h = Buffer.alloc(4);
  h.writeUInt32BE(b.length);
  return Buffer.concat([h, b]);
}
const ZERO = Buffer.alloc(4);

/** The version text replaced by its shape: `ClamAV <x.y.z>[/<n>/<date>]` → `ClamAV V[/N/D]`. */
function normalise(reply: Buffer): string {
  return reply.toString('latin1').replace(/ClamAV \d+\.\d+\.\d+(?:\/\d+\/[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4})?/g, (m) => (m.includes('/') ? 'ClamAV V/N/D' : 'ClamAV V'));
}

describe('vigil clamd protocol agrees with clamd', { skip }, () => {
  let dir: string;
  let tree: string;
  let clamdSock: string;
  let vigilSock: string;
  let clamd: ChildProcess | undefined;
  let server: ClamdServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-clamd-diff-'));
    mkdirSync(join(dir, 'db'));
    // EICAR by hash (68 bytes) and by body (anywhere).
    writeFileSync(join(dir, 'db', 'test.hdb'), '44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n');
    writeFileSync(join(dir, 'db', 'test.ndb'), `Test.EICAR.NDB:0:*:${Buffer.from(EICAR).toString('hex')}\n`);
    tree = join(dir, 'tree');
    mkdirSync(join(tree, 'sub', 'deeper'), { recursive: true });
    mkdirSync(join(tree, 'sp ace'));
    mkdirSync(join(dir, 'clean_dir'));
    mkdirSync(join(dir, 'empty_dir'));
    writeFileSync(join(tree, 'clean.txt'), 'hello world\n');
    writeFileSync(join(tree, 'eicar.com'), EICAR);
    writeFileSync(join(tree, 'sub', 'embedded.bin'), `prefix ${EICAR} suffix`);
    writeFileSync(join(tree, 'sub', 'deeper', 'clean.bin'), Buffer.alloc(5000, 7));
    writeFileSync(join(tree, 'sp ace', 'ei car.com'), EICAR);
    writeFileSync(join(tree, 'empty'), '');
    writeFileSync(join(dir, 'clean_dir', 'a.txt'), 'a');
    writeFileSync(join(dir, 'clean_dir', 'b.txt'), 'b');
    symlinkSync(join(tree, 'eicar.com'), join(dir, 'clean_dir', 'link-to-eicar'));
    symlinkSync(join(tree, 'sub'), join(dir, 'clean_dir', 'link-to-sub'));
    writeFileSync(join(dir, 'big_eicar_end.bin'), Buffer.concat([Buffer.alloc(100_000, 1), Buffer.from(EICAR)]));

    clamdSock = join(dir, 'clamd.sock');
    vigilSock = join(dir, 'vigil.sock');
    writeFileSync(join(dir, 'clamd.conf'), confText(dir, clamdSock));
    writeFileSync(join(dir, 'vigil.conf'), confText(dir, vigilSock));
    clamd = spawn(CLAMD, ['-c', join(dir, 'clamd.conf')], { stdio: 'ignore' });
    const parsed = parseConfig(confText(dir, vigilSock));
    assert.deepEqual(parsed.errors, []);
    server = new ClamdServer({
      service: new EngineScanService({ databases: [join(dir, 'db')] }), config: parsed.config,
      scanLog: new ClamdLog({ file: `${vigilSock}.log`, clean: true }),
    });
    await server.listen();
    const t0 = Date.now();
    while (!existsSync(clamdSock)) {
      if (Date.now() - t0 > 60_000) throw new Error('clamd did not create its socket within 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    // The socket exists before clamd accepts: wait for a PONG.
    while ((await exchange(clamdSock, ['zPING\0']).catch(() => Buffer.alloc(0))).toString() !== 'PONG\0') {
      if (Date.now() - t0 > 60_000) throw new Error('clamd did not answer PING within 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    clamd?.kill('SIGTERM');
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const same = async (label: string, parts: (string | Buffer)[], opts: { sorted?: boolean; gapMs?: number } = {}): Promise<string> => {
    const [a, b] = await Promise.all([exchange(clamdSock, parts, opts.gapMs), exchange(vigilSock, parts, opts.gapMs)]);
    let x = normalise(a);
    let y = normalise(b);
    if (opts.sorted) {
      const term = x.includes('\0') ? '\0' : '\n';
      x = x.split(term).sort().join(term);
      y = y.split(term).sort().join(term);
    }
    assert.equal(y, x, `${label}: vigil ${JSON.stringify(y)} vs clamd ${JSON.stringify(x)}`);
    return x;
  };

  it('PING, VERSION, VERSIONCOMMANDS, framings and old style', async () => {
    for (const r of ['zPING\0', 'nPING\n', 'nPING\r\n', 'PING', 'PING\n', 'zVERSION\0', 'VERSION', 'nVERSIONCOMMANDS\n', 'VERSIONCOMMANDS', 'zPING\0zPING\0']) await same(r, [r]);
  });

  it('unknown commands and malformed requests', async () => {
    for (const r of ['nFOO\n', 'zFOO\0', 'nping\n', 'nPING foo\n', 'nSCAN\n', 'nEND\n', 'STATS', 'INSTREAM', 'IDSESSION', 'ALLMATCHSCAN /x', 'zSCAN \0']) await same(r, [r]);
    await same('DETSTATSCLEAR', ['nDETSTATSCLEAR\n']);
  });

  it('INSTREAM: clean, EICAR, empty, exactly the limit, over the limit', async () => {
    await same('clean', ['zINSTREAM\0', chunk('hello world\n'), ZERO]);
    await same('eicar', ['nINSTREAM\n', chunk(EICAR.slice(0, 10)), chunk(EICAR.slice(10)), ZERO]);
    await same('embedded', ['zINSTREAM\0', chunk(`abc ${EICAR} def`), ZERO]);
    await same('empty', [Buffer.concat([Buffer.from('zINSTREAM\0'), ZERO])]);
    await same('exact', ['zINSTREAM\0', chunk(Buffer.alloc(32 * 1024)), chunk(Buffer.alloc(32 * 1024)), ZERO]);
    // Only the header of the chunk that overflows: clamd closes without reading the rest, and
    // unread data would make its kernel reset the connection before the reply is read.
    await same('over', ['zINSTREAM\0', chunk(Buffer.alloc(32 * 1024)), chunk(Buffer.alloc(32 * 1024 + 1)).subarray(0, 4)]);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(0x00200000);
    await same('header over', ['nINSTREAM\n', h]);
  });

  it('SCAN, CONTSCAN, MULTISCAN, ALLMATCHSCAN on a tree', async () => {
    for (const p of [`${tree}/eicar.com`, `${tree}/clean.txt`, `${tree}/empty`, `${dir}/clean_dir`, `${dir}/clean_dir/`, `${dir}/empty_dir`, `${dir}/nope.txt`, `${tree}/sp ace/ei car.com`, `${tree}/sub`, `${dir}/clean_dir/link-to-eicar`, `${dir}/clean_dir/link-to-sub`, `//${tree}`]) {
      await same(`SCAN ${p}`, [`zSCAN ${p}\0`]);
      await same(`nSCAN ${p}`, [`nSCAN ${p}\n`]);
      await same(`CONTSCAN ${p}`, [`zCONTSCAN ${p}\0`]);
      await same(`MULTISCAN ${p}`, [`zMULTISCAN ${p}\0`], { sorted: true });
      await same(`ALLMATCHSCAN ${p}`, [`nALLMATCHSCAN ${p}\n`]);
    }
    await same('SCAN tree', [`nSCAN ${tree}\n`]);
    // Not vacuous: clamd finds the three infected files of the tree.
    assert.equal((await same('CONTSCAN tree', [`nCONTSCAN ${tree}\n`])).split('FOUND').length - 1, 3);
    await same('MULTISCAN tree', [`nMULTISCAN ${tree}\n`], { sorted: true });
    await same('ALLMATCHSCAN tree', [`zALLMATCHSCAN ${tree}\0`]);
    await same('old-style SCAN', [`SCAN ${tree}/eicar.com`]);
    // As the npm `clamscan` package sends it over a Unix socket.
    await same('old-style MULTISCAN', [`MULTISCAN ${tree}`], { sorted: true });
    await same('old-style CONTSCAN', [`CONTSCAN ${tree}\n`]);
    await same('SCANX', [`nSCANX${tree}/eicar.com\n`]);
  });

  it('IDSESSION sequences', async () => {
    await same('pipelined', ['zIDSESSION\0zPING\0zPING\0zEND\0']);
    await same('mixed', ['zIDSESSION\0', 'zPING\0', 'zVERSION\0', `zSCAN ${tree}/eicar.com\0`,
      Buffer.concat([Buffer.from('zINSTREAM\0'), chunk(EICAR), ZERO]),
      Buffer.concat([Buffer.from('zINSTREAM\0'), chunk('clean'), ZERO]), `zSCAN ${tree}/clean.txt\0`, 'zEND\0'], { gapMs: 30 });
    await same('forbidden', ['zIDSESSION\0zPING\0zCONTSCAN /tmp\0']);
    await same('unknown inside', ['zIDSESSION\0zPING\0zFOO\0']);
    await same('over limit inside', ['nIDSESSION\nnINSTREAM\n', chunk(Buffer.alloc(70_000))]);
    await same('old style inside', ['zIDSESSION\0zPING\0', 'PING'], { gapMs: 50 });
  });

  it('IDSESSION replies as scans finish: a PING overtakes a slow SCAN, with the request numbers', async () => {
    // A 20 MiB file (under MaxFileSize) takes both daemons a while; the PING read after it does not.
    const slow = join(dir, 'slow.bin');
    const bytes = Buffer.alloc(20 * 1024 * 1024);
    let x = 20261129;
    for (let i = 0; i < bytes.length; i += 4) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; bytes.writeInt32LE(x | 0, i); }
    writeFileSync(slow, bytes);
    // vigil with scans in a worker thread (the shared server above scans on its own thread).
    const sock = join(dir, 'vigil-threads.sock');
    const scanner = await createScanner({ databases: [join(dir, 'db')], threads: 1, cache: false });
    const threaded = new ClamdServer({ service: serviceOf(scanner), config: parseConfig(confText(dir, sock)).config });
    await threaded.listen();
    try {
      const req = ['zIDSESSION\0', `zSCAN ${slow}\0zPING\0zEND\0`];
      const [a, b] = await Promise.all([exchange(clamdSock, req), exchange(sock, req)]);
      assert.equal(a.toString('latin1'), `2: PONG\0` + `1: ${slow}: OK\0`, 'clamd answers the PING first');
      assert.equal(b.toString('latin1'), a.toString('latin1'));
    } finally {
      await threaded.close();
      await scanner.close();
    }
  });

  it('VirusEvent: the same command lines, environment and names as clamd, before the reply', async () => {
    for (const f of [`${clamdSock}.events`, `${vigilSock}.events`]) rmSync(f, { force: true });
    await same('SCAN', [`zSCAN ${tree}/eicar.com\0`]);
    await same('INSTREAM', [Buffer.concat([Buffer.from('zINSTREAM\0'), chunk(EICAR), ZERO])]);
    await same('CONTSCAN', [`zCONTSCAN ${tree}/sub\0`]);
    await same('clean', [`zSCAN ${tree}/clean.txt\0`]);
    const a = readFileSync(`${clamdSock}.events`, 'utf8');
    const b = readFileSync(`${vigilSock}.events`, 'utf8');
    assert.equal(a.split('\n').filter(Boolean).length, 3, a);
    assert.match(a, /^\[Test\.EICAR\.NDB\.UNOFFICIAL\] \[The filename format character has been disabled.*\] \[Test\.EICAR\.NDB\.UNOFFICIAL\] \[instream\(local\)\] \[\]$/m);
    assert.equal(b, a);
  });

  it('LogFile with LogClean: the same scan lines as clamd writes', async () => {
    const from = [statSync(`${clamdSock}.log`).size, statSync(`${vigilSock}.log`).size];
    await same('SCAN', [`zSCAN ${tree}/eicar.com\0`]);
    await same('SCAN clean', [`zSCAN ${tree}/clean.txt\0`]);
    await same('INSTREAM', [Buffer.concat([Buffer.from('zINSTREAM\0'), chunk(EICAR), ZERO])]);
    await same('INSTREAM clean', [Buffer.concat([Buffer.from('zINSTREAM\0'), chunk('clean'), ZERO])]);
    await same('CONTSCAN', [`zCONTSCAN ${tree}/sub\0`]);
    const lines = (file: string, at: number): string[] => readFileSync(file).subarray(at).toString('utf8').split('\n')
      .filter((l) => /: (\S+ FOUND|OK|.* ERROR)$/.test(l));
    const a = lines(`${clamdSock}.log`, from[0]!);
    const b = lines(`${vigilSock}.log`, from[1]!);
    assert.deepEqual(a.slice(0, 4), [`${tree}/eicar.com: Test.EICAR.NDB.UNOFFICIAL FOUND`, `${tree}/clean.txt: OK`, 'instream(local): Test.EICAR.NDB.UNOFFICIAL FOUND', 'instream(local): OK']);
    assert.deepEqual(b, a);
  });

  it('STATS shape, FILDES without a descriptor, RELOAD', async () => {
    const shape = /^POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live \d+ {2}idle \d+ max 4 idle-timeout 30\nQUEUE: 0 items\n(\t\w+ \d+\.\d{6} \n)+\nMEMSTATS: heap N\/A mmap N\/A used N\/A free N\/A releasable N\/A pools 1 pools_used [\d.]+M pools_total [\d.]+M\nEND\0$/;
    for (const sock of [clamdSock, vigilSock]) assert.match((await exchange(sock, ['zSTATS\0'])).toString('latin1'), shape, sock);
    await same('FILDES', ['zFILDES\0X']);
    await same('RELOAD', ['nRELOAD\n']);
    // Let clamd finish its reload before the next requests.
    await new Promise((r) => setTimeout(r, 1500));
  });

  it('timeouts', async () => {
    await same('idle', []);
    await same('partial', ['nPIN']);
    await same('stalled INSTREAM', ['zINSTREAM\0', Buffer.from([0, 0, 0, 9]), 'abc']);
  });

  describe('clamdscan', { skip: CLAMDSCAN ? false : 'clamdscan is not installed' }, () => {
    /** Runs clamdscan asynchronously: vigil's server answers from this process's event loop. */
    const run = (conf: string, args: string[]): Promise<{ out: string; err: string; code: number | null }> => new Promise((resolve) => {
      const p = spawn(CLAMDSCAN, [`--config-file=${conf}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const guard = setTimeout(() => p.kill('SIGKILL'), 60_000);
      p.stdout.on('data', (d: Buffer) => out.push(d));
      p.stderr.on('data', (d: Buffer) => err.push(d));
      const clean = (b: Buffer[]): string => Buffer.concat(b).toString('utf8').split('\n').filter((l) => !/^(Time|Start Date|End Date):/.test(l)).join('\n');
      p.on('close', (code) => { clearTimeout(guard); resolve({ out: clean(out), err: clean(err), code }); });
    });
    for (const args of [[], ['--stream'], ['--multiscan'], ['--allmatch'], ['--fdpass'], ['--fdpass', '--multiscan']]) {
      for (const target of ['tree', 'clean_dir', 'big_eicar_end.bin', 'nope']) {
        it(`clamdscan ${args.join(' ')} ${target}`, async () => {
          const a = await run(join(dir, 'clamd.conf'), [...args, join(dir, target)]);
          const b = await run(join(dir, 'vigil.conf'), [...args, join(dir, target)]);
          const sortIf = (s: string): string => (args.includes('--multiscan') ? s.split('\n').sort().join('\n') : s);
          assert.equal(sortIf(b.out), sortIf(a.out), `stdout: vigil ${JSON.stringify(b.out)} vs clamd ${JSON.stringify(a.out)}`);
          assert.equal(b.code, a.code, `exit code: vigil ${b.code} vs clamd ${a.code}`);
          assert.equal(b.err, a.err, `stderr: vigil ${JSON.stringify(b.err)} vs clamd ${JSON.stringify(a.err)}`);
          if (target !== 'nope') assert.match(a.out, /SCAN SUMMARY/);
        });
      }
    }
  });
});
