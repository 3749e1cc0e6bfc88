/**
 * Privacy: scanning opens no socket. Each command runs under `strace -f` (every thread and child
 * process), recording socket(), socketpair() and connect() calls; the recording must hold none.
 * A control run that does open a socket proves the recording sees one. `vigil update` connects to
 * its configured mirror and nowhere else (no name lookup, no other address); `vigil db import`
 * opens no socket; nor do ransomware identification, key recovery and decryption. Skipped with a
 * message where strace is not installed (CI installs it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const STRACE = ['/usr/bin/strace', '/bin/strace'].find((p) => existsSync(p));
const skip = STRACE ? false : 'strace is not installed (Debian package strace): nothing can watch for sockets';

/** The package root (bin/vigil.js lives there), from src/cli or dist/src/cli. */
function root(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'bin', 'vigil.js'))) dir = dirname(dir);
  return dir;
}

const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

/** Runs `node args` under strace; returns the socket-related calls it recorded. */
function socketCalls(work: string, args: string[]): { calls: string[]; status: number | null } {
  const out = join(work, `strace-${Math.random().toString(36).slice(2)}.txt`);
  const r = spawnSync(STRACE!, ['-f', '-qq', '-e', 'trace=socket,socketpair,connect', '-o', out, process.execPath, ...args], {
    encoding: 'utf8', env: { ...process.env, VIGIL_HOME: join(work, 'home') }, timeout: 120_000,
  });
  const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
  return { calls: text.split('\n').filter((l) => /\b(socket|socketpair|connect)\(/.test(l)), status: r.status };
}

describe('privacy: nothing leaves the machine', { skip }, () => {
  it('vigil scan (threads, archives, JSON), vigil yara, vigil db info: no socket; a control that connects: seen', () => {
    const work = mkdtempSync(join(tmpdir(), 'vigil-privacy-'));
    try {
      const vigil = join(root(), 'bin', 'vigil.js');
      const tree = join(work, 'tree');
      mkdirSync(join(tree, 'sub'), { recursive: true });
      writeFileSync(join(tree, 'eicar.com'), EICAR);
      writeFileSync(join(tree, 'sub', 'clean.txt'), 'nothing to see\n');
      // A small ZIP (deflate) holding EICAR, so a container is opened too.
      const data = Buffer.from(EICAR);
      const packed = deflateRawSync(data);
      const name = Buffer.from('inner.com');
      const crc = (() => { let c = ~0 >>> 0; for (const b of data) { c ^= b; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; } return ~c >>> 0; })();
      const local = Buffer.alloc(30); local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(8, 8);
      local.writeUInt32LE(crc, 14); local.writeUInt32LE(packed.length, 18); local.writeUInt32LE(data.length, 22); local.writeUInt16LE(name.length, 26);
      const central = Buffer.alloc(46); central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt16LE(8, 10);
      central.writeUInt32LE(crc, 16); central.writeUInt32LE(packed.length, 20); central.writeUInt32LE(data.length, 24); central.writeUInt16LE(name.length, 28);
      const body = Buffer.concat([local, name, packed]);
      const end = Buffer.alloc(22); end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(1, 8); end.writeUInt16LE(1, 10);
      end.writeUInt32LE(46 + name.length, 12); end.writeUInt32LE(body.length, 16);
      writeFileSync(join(tree, 'sub', 'packed.zip'), Buffer.concat([body, central, name, end]));
      const db = join(work, 'test.ndb');
      writeFileSync(db, `Privacy.Eicar:0:*:${data.toString('hex')}\n`);
      const rules = join(work, 'r.yar');
      writeFileSync(rules, 'rule eicar { strings: $a = "EICAR-STANDARD" condition: $a }\n');

      const runs: [string, string[], number][] = [
        ['vigil scan -r -j 2', [vigil, 'scan', '-r', '-j', '2', '-d', db, tree], 1],
        ['vigil scan --json', [vigil, 'scan', '--json', '-d', db, tree], 1],
        ['vigil yara -r', [vigil, 'yara', '-r', rules, tree], 0],
        ['vigil db info', [vigil, 'db', 'info', '-d', db], 0],
      ];
      for (const [label, args, status] of runs) {
        const r = socketCalls(work, args);
        assert.equal(r.status, status, `${label}: exit ${r.status}`);
        assert.deepEqual(r.calls, [], `${label} opened sockets: ${r.calls.join(' | ')}`);
      }
      // The control: the same recording sees a process that does connect.
      const control = socketCalls(work, ['-e', "require('net').connect(9, '127.0.0.1').on('error', () => {})"]);
      assert.ok(control.calls.some((l) => /socket\(AF_INET/.test(l)) && control.calls.some((l) => /connect\(/.test(l)), `control not seen: ${control.calls.join(' | ')}`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('vigil update connects only to its mirror; vigil db import opens no socket', async () => {
    const work = mkdtempSync(join(tmpdir(), 'vigil-privacy-'));
    const vigil = join(root(), 'bin', 'vigil.js');
    const mirrorDir = join(work, 'mirror');
    mkdirSync(mirrorDir);
    const { publisher } = await import('../update/testkit.js');
    const pub = publisher(work);
    writeFileSync(join(mirrorDir, 'v1.vbundle'), pub.publish(1));
    writeFileSync(join(work, 'pub.pem'), pub.keys.pub);
    writeFileSync(join(work, 'log.pem'), pub.logKeys.pub);
    // The mirror is another process: this one blocks while strace runs.
    const mirror = spawn(process.execPath, [vigil, 'mirror', 'serve', mirrorDir, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        mirror.stdout.on('data', (d: Buffer) => { out += d.toString(); const m = /on (http:\/\/\S+)/.exec(out); if (m) resolve(m[1]!); });
        mirror.on('exit', (code) => reject(new Error(`mirror exited ${code}`)));
      });
      const port = new URL(url).port;
      const r = socketCalls(work, [vigil, 'update', '--mirror', url, '--pubkey', join(work, 'pub.pem'), '--log-pubkey', join(work, 'log.pem')]);
      assert.equal(r.status, 0);
      const connects = r.calls.filter((l) => /connect\(/.test(l));
      assert.ok(connects.length > 0, 'the update did not reach its mirror');
      for (const c of connects) assert.match(c, new RegExp(`sin_port=htons\\(${port}\\), sin_addr=inet_addr\\("127\\.0\\.0\\.1"\\)`), `a connection elsewhere than the mirror: ${c}`);
      const other = r.calls.filter((l) => /socket\(/.test(l) && !/socket\(AF_INET, SOCK_STREAM/.test(l));
      assert.deepEqual(other, [], `sockets other than TCP to the mirror: ${other.join(' | ')}`);
      writeFileSync(join(work, 'list.txt'), `${'ab'.repeat(32)}\n`);
      const imp = socketCalls(work, [vigil, 'db', 'import', join(work, 'list.txt')]);
      assert.equal(imp.status, 0);
      assert.deepEqual(imp.calls, [], `vigil db import opened sockets: ${imp.calls.join(' | ')}`);
    } finally {
      mirror.kill('SIGTERM');
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('vigil ransom identify, recover-key and decrypt open no socket', async () => {
    const work = mkdtempSync(join(tmpdir(), 'vigil-privacy-'));
    try {
      const vigil = join(root(), 'bin', 'vigil.js');
      const { generateCorpus, encryptTreeXor } = await import('../ransom/decrypt/simulator.js');
      const victim = join(work, 'victim');
      const originals = join(work, 'originals');
      generateCorpus(originals, { count: 12, seed: 5, maxSize: 64 * 1024 });
      generateCorpus(victim, { count: 12, seed: 5, maxSize: 64 * 1024 });
      const encrypted = encryptTreeXor(victim, Buffer.from('privacy-key-17'));
      writeFileSync(join(victim, 'HOW_TO_DECRYPT.txt'), 'Your files are encrypted. Write to restore@example.com with your ID 4f2a9c1d.\n');
      const pdf = encrypted.find((f) => f.endsWith('.pdf.xor1'))!;
      const plain = join(originals, pdf.slice(victim.length + 1, -'.xor1'.length));
      const key = join(work, 'key.json');
      const runs: [string, string[], number[]][] = [
        ['vigil ransom identify --dir', [vigil, 'ransom', 'identify', '--dir', victim, '--json'], [0, 1]],
        ['vigil ransom recover-key', [vigil, 'ransom', 'recover-key', '--plain', plain, '--cipher', pdf, '--out', key], [0]],
        ['vigil ransom decrypt', [vigil, 'ransom', 'decrypt', '--key', key, ...encrypted], [0, 1]],
      ];
      for (const [label, args, codes] of runs) {
        const r = socketCalls(work, args);
        assert.ok(codes.includes(r.status ?? -1), `${label}: exit ${r.status}`);
        assert.deepEqual(r.calls, [], `${label} opened sockets: ${r.calls.join(' | ')}`);
      }
      assert.ok(existsSync(key), 'recover-key wrote the key');
      assert.ok(readFileSync(pdf.slice(0, -'.xor1'.length)).equals(readFileSync(plain)), 'decrypt wrote the original beside the encrypted file');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
