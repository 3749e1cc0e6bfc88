/**
 * Real clients of clamd against `vigil daemon` and against a real clamd loading the same database:
 * python3-pyclamd (Unix socket), the Perl ClamAV::Client (Unix socket; its scan_scalar uses the
 * STREAM command clamd no longer has, so only its path scans are compared), and the npm packages
 * `clamscan` (socket) and `clamdjs` (TCP). Each client asks both daemons the same questions — ping,
 * a clean and an infected stream, files and a directory by path, a stream over StreamMaxLength —
 * and must get the same answers (the version string is compared by its shape only).
 *
 * Skips with a message when clamd or a client is absent (CI installs them all).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vigilBin } from './run-vigil.js';
import { waitForClamd } from '../../src/daemon/clamd/client.js';

const CLAMD = ['/usr/sbin/clamd', '/usr/bin/clamd'].find((p) => existsSync(p));
const PY = '/usr/bin/python3';
const hasPy = existsSync(PY) && spawnSync(PY, ['-c', 'import pyclamd'], { stdio: 'ignore' }).status === 0;
const hasPerl = spawnSync('perl', ['-MClamAV::Client', '-e', '1'], { stdio: 'ignore' }).status === 0;
const require = createRequire(import.meta.url);
const hasNpm = (() => { try { require.resolve('clamscan'); require.resolve('clamdjs'); return true; } catch { return false; } })();
const SKIP = !CLAMD ? 'clamd (clamav-daemon) is not installed: client differential skipped' : false;

const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}


interface Daemon { name: string; sock: string; port: number; proc: ChildProcess }

test('clamd clients get the same answers from vigil daemon and from clamd', { skip: SKIP, timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clients-'));
  const daemons: Daemon[] = [];
  try {
    const db = join(dir, 'db');
    mkdirSync(db);
    writeFileSync(join(db, 'test.ndb'), `Eicar.Test:0:*:${Buffer.from(EICAR, 'latin1').toString('hex')}\n`);
    const files = join(dir, 'files');
    mkdirSync(files);
    writeFileSync(join(files, 'clean.txt'), 'nothing to see here\n'.repeat(20));
    writeFileSync(join(files, 'eicar.com'), EICAR);
    const start = async (name: string, extra: string[] = []): Promise<Daemon> => {
      const sock = join(dir, `${name}.sock`);
      const port = await freePort();
      const conf = join(dir, `${name}.conf`);
      writeFileSync(conf, [
        `LocalSocket ${sock}`, `TCPSocket ${port}`, 'TCPAddr 127.0.0.1', `DatabaseDirectory ${db}`, 'Foreground yes',
        'StreamMaxLength 1M', `TemporaryDirectory ${dir}`, 'MaxThreads 4', 'LogFile /dev/null', ...extra, '',
      ].join('\n'));
      const proc = name === 'clamd'
        ? spawn(CLAMD!, ['-c', conf], { stdio: 'ignore' })
        : spawn(process.execPath, [vigilBin(), 'daemon', '--config', conf], { stdio: 'ignore' });
      const d = { name, sock, port, proc };
      daemons.push(d);
      await waitForClamd(sock, 60_000);
      return d;
    };
    const both = [await start('clamd'), await start('vigil')];
    const big = Buffer.alloc(2 * 1024 * 1024, 0x41);
    writeFileSync(join(dir, 'big.bin'), big);

    // An oversized stream is refused by both; whether the client reads clamd's reply or a reset
    // first depends on timing (clamd closes with unread data pending), so only the refusal is compared.
    const refusal = (s: string): string => s
      .replace(/^(big|clamdjs big) (raised (BufferTooLongError|ConnectionResetError|BrokenPipeError)|rejected .*|INSTREAM size limit exceeded\. ERROR.*)$/gm, '$1 refused');
    const compare = (client: string, raw: string[]): void => {
      const answers = raw.map(refusal);
      assert.equal(answers.length, 2);
      assert.equal(answers[1], answers[0], `${client}: vigil answers as clamd does`);
      t.diagnostic(`${client}: ${answers[0]!.split('\n').filter(Boolean).length} answers identical`);
    };

    if (hasPy) {
      const script = `
import sys, pyclamd
cd = pyclamd.ClamdUnixSocket(filename=sys.argv[1])
print('ping', cd.ping())
v = cd.version()
print('version', v.split(' ')[0], len(v.split('/')) in (1, 3))
print('clean stream', cd.scan_stream(b'hello world, nothing here'))
print('eicar stream', cd.scan_stream(cd.EICAR()))
print('eicar file', cd.scan_file(sys.argv[2] + '/eicar.com'))
print('clean file', cd.scan_file(sys.argv[2] + '/clean.txt'))
print('multiscan', sorted(cd.multiscan_file(sys.argv[2]).items()))
print('contscan', sorted(cd.contscan_file(sys.argv[2]).items()))
print('allmatch', cd.allmatchscan(sys.argv[2] + '/eicar.com'))
try:
    print('big', cd.scan_stream(open(sys.argv[3], 'rb').read()))
except Exception as e:
    print('big raised', type(e).__name__)
`;
      compare('pyclamd', both.map((d) => {
        const r = spawnSync(PY, ['-c', script, d.sock, files, join(dir, 'big.bin')], { encoding: 'utf8' });
        return `${r.stdout}${r.stderr ? `stderr: ${r.stderr.split('\n').slice(-2).join(' ')}` : ''}`.replace(/version (\S+)/, (_m, v: string) => `version ${v === 'ClamAV' || v === 'vigil' ? 'NAME' : v}`);
      }));
    } else {
      t.diagnostic('python3-pyclamd is not installed: pyclamd not compared');
    }

    if (hasPerl) {
      const script = `
use ClamAV::Client;
my $s = ClamAV::Client->new(socket_name => $ARGV[0]);
print "ping ", ($s->ping ? 1 : 0), "\\n";
my @r = $s->scan_path("$ARGV[1]/eicar.com"); print "eicar path ", join("|", map { defined $_ ? $_ : "undef" } @r), "\\n";
@r = $s->scan_path("$ARGV[1]/clean.txt"); print "clean path ", join("|", map { defined $_ ? $_ : "undef" } @r), "\\n";
@r = $s->scan_path($ARGV[1]); print "directory ", join("|", map { defined $_ ? $_ : "undef" } @r), "\\n";
print "version ", ($s->version =~ /^(ClamAV|vigil) / ? "NAME" : "other"), "\\n";
`;
      compare('ClamAV::Client', both.map((d) => {
        const r = spawnSync('perl', ['-e', script, d.sock, files], { encoding: 'utf8' });
        return r.stdout + (r.status !== 0 ? `exit ${r.status} ${r.stderr}` : '');
      }));
    } else {
      t.diagnostic('libclamav-client-perl is not installed: ClamAV::Client not compared');
    }

    if (hasNpm) {
      const NodeClam = require('clamscan') as new () => { init(o: unknown): Promise<{ isInfected(p: string): Promise<{ isInfected: boolean | null; viruses: string[] }>; scanStream(s: NodeJS.ReadableStream): Promise<{ isInfected: boolean | null; viruses: string[] }> }> };
      const clamdjs = require('clamdjs') as { createScanner(host: string, port: number): { scanBuffer(b: Buffer, timeout?: number, chunk?: number): Promise<string> }; ping(host: string, port: number): Promise<boolean>; isCleanReply(r: string): boolean };
      const { Readable } = await import('node:stream');
      const answers: string[] = [];
      for (const d of both) {
        const lines: string[] = [];
        const clam = await new NodeClam().init({ removeInfected: false, clamscan: { active: false }, clamdscan: { socket: d.sock, localFallback: false, active: true }, preference: 'clamdscan' });
        const inf = await clam.isInfected(join(files, 'eicar.com'));
        lines.push(`clamscan isInfected eicar ${inf.isInfected} ${inf.viruses.join(',')}`);
        const cl = await clam.isInfected(join(files, 'clean.txt'));
        lines.push(`clamscan isInfected clean ${cl.isInfected} ${cl.viruses.join(',')}`);
        const st = await clam.scanStream(Readable.from([Buffer.from(EICAR, 'latin1')]));
        lines.push(`clamscan scanStream eicar ${st.isInfected} ${st.viruses.join(',')}`);
        const scanner = clamdjs.createScanner('127.0.0.1', d.port);
        lines.push(`clamdjs ping ${await clamdjs.ping('127.0.0.1', d.port)}`);
        lines.push(`clamdjs eicar ${await scanner.scanBuffer(Buffer.from(EICAR, 'latin1'), 3000, 1024)}`);
        lines.push(`clamdjs clean ${await scanner.scanBuffer(Buffer.from('hello'), 3000, 1024)}`);
        lines.push(`clamdjs big ${await scanner.scanBuffer(big, 10000, 65536).catch((e: Error) => `rejected ${e.message}`)}`);
        answers.push(lines.join('\n'));
      }
      compare('npm clamscan and clamdjs', answers);
    } else {
      t.diagnostic('the npm packages clamscan and clamdjs are not installed: not compared');
    }

    // clamd.conf's scan options apply to every scan: both daemons again with limits, alerts and switches.
    if (hasPy) {
      for (const d of both.splice(0)) d.proc.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      const options = ['MaxFileSize 100', 'AlertExceedsMax yes', 'ScanArchive no', 'AlertEncrypted yes'];
      const again = [await start('clamd2', options), await start('vigil2', options)];
      const zip = spawnSync(PY, ['-c', `import zipfile,io,sys\nb=io.BytesIO()\nz=zipfile.ZipFile(b,'w',zipfile.ZIP_DEFLATED)\nz.writestr('e.com', sys.argv[1].encode('latin1'))\nz.close()\nsys.stdout.buffer.write(b.getvalue())`, EICAR]).stdout;
      writeFileSync(join(dir, 'e.zip'), zip);
      const script = `
import sys, pyclamd
cd = pyclamd.ClamdUnixSocket(filename=sys.argv[1])
e = cd.EICAR()
print('over MaxFileSize', cd.scan_stream(e + b' ' * 100))
print('under MaxFileSize', cd.scan_stream(e))
print('zip with ScanArchive no', cd.scan_stream(open(sys.argv[2], 'rb').read()))
`;
      compare('pyclamd with clamd.conf scan options', again.map((d) => {
        const r = spawnSync(PY, ['-c', script, d.sock, join(dir, 'e.zip')], { encoding: 'utf8' });
        return `${r.stdout}${r.stderr}`;
      }));
      both.push(...again);
    }
  } finally {
    for (const d of daemons) d.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
  }
});
