/**
 * Parsing and framing of clamd requests, and clamd.conf parsing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { commandsList, parseCommand } from './commands.js';
import { EventEmitter } from 'node:events';
import { RequestReader, takeCommand } from './framing.js';
import { parseConfig, parseSize } from './config.js';

describe('parseCommand', () => {
  it('matches in table order, VERSIONCOMMANDS before VERSION', () => {
    assert.deepEqual(parseCommand('VERSIONCOMMANDS', false), { name: 'VERSIONCOMMANDS' });
    assert.deepEqual(parseCommand('VERSION', false), { name: 'VERSION' });
  });
  it('rejects trailing text after an argument-less command', () => {
    assert.deepEqual(parseCommand('PING foo', false), { name: 'UNKNOWN' });
    assert.deepEqual(parseCommand('PINGX', false), { name: 'UNKNOWN' });
  });
  it('takes the argument after exactly one separator byte, whatever it is', () => {
    assert.deepEqual(parseCommand('SCAN /a b', false), { name: 'SCAN', arg: '/a b' });
    assert.deepEqual(parseCommand('SCANX/path', false), { name: 'SCAN', arg: '/path' });
    assert.deepEqual(parseCommand('SCAN ', false), { name: 'SCAN', arg: '' });
    assert.deepEqual(parseCommand('SCAN', false), { name: 'UNKNOWN' });
  });
  it('accepts only the old-style commands without prefix', () => {
    assert.deepEqual(parseCommand('PING', true), { name: 'PING' });
    for (const c of ['INSTREAM', 'STATS', 'IDSESSION', 'END', 'VERSIONCOMMANDS']) assert.deepEqual(parseCommand(c, true), { name: 'UNKNOWN' });
    assert.deepEqual(parseCommand('ALLMATCHSCAN /x', true), { name: 'UNKNOWN' });
  });
  it('is case-sensitive', () => {
    assert.deepEqual(parseCommand('ping', false), { name: 'UNKNOWN' });
  });
  it('lists the commands as clamd 1.4 does', () => {
    assert.equal(commandsList(), ' COMMANDS: SCAN QUIT RELOAD PING CONTSCAN VERSIONCOMMANDS VERSION END SHUTDOWN MULTISCAN FILDES STATS IDSESSION INSTREAM DETSTATSCLEAR DETSTATS ALLMATCHSCAN');
  });
});

describe('takeCommand', () => {
  it('z: NUL-terminated, waits for the NUL', () => {
    assert.equal(takeCommand(Buffer.from('zPIN')), undefined);
    const got = takeCommand(Buffer.from('zPING\0zVERSION\0'));
    assert.deepEqual(got, { frame: { kind: 'command', text: 'PING', term: '\0', oldStyle: false }, used: 6 });
  });
  it('n: newline-terminated, trailing CR dropped', () => {
    assert.equal(takeCommand(Buffer.from('nPING')), undefined);
    assert.deepEqual(takeCommand(Buffer.from('nPING\r\n'))?.frame, { kind: 'command', text: 'PING', term: '\n', oldStyle: false });
  });
  it('old style: up to the newline or all that arrived', () => {
    assert.deepEqual(takeCommand(Buffer.from('PING')), { frame: { kind: 'command', text: 'PING', term: '\n', oldStyle: true }, used: 4 });
    assert.deepEqual(takeCommand(Buffer.from('SCAN /x\nrest'))?.frame.text, 'SCAN /x');
  });
});

describe('parseConfig', () => {
  it('reads values, sizes, booleans, repeated keys; warns on unknown keys', () => {
    const { config, warnings, errors } = parseConfig([
      '# comment', 'LocalSocket /tmp/x.sock', 'TCPSocket 3310', 'TCPAddr 127.0.0.1', 'TCPAddr ::1',
      'StreamMaxLength 25M', 'MaxThreads 4', 'ReadTimeout 3', 'CommandReadTimeout 2', 'AllowAllMatchScan no',
      'LocalSocketMode 660', 'ExcludePath ^/proc/', 'LogSyslog yes', 'Foreground yes',
    ].join('\n'));
    assert.deepEqual(errors, []);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /LogSyslog/);
    assert.equal(config.localSocket, '/tmp/x.sock');
    assert.equal(config.tcpSocket, 3310);
    assert.deepEqual(config.tcpAddr, ['127.0.0.1', '::1']);
    assert.equal(config.streamMaxLength, 25 * 1024 * 1024);
    assert.equal(config.maxThreads, 4);
    assert.equal(config.readTimeout, 3000);
    assert.equal(config.commandReadTimeout, 2000);
    assert.equal(config.allowAllMatchScan, false);
    assert.equal(config.localSocketMode, 0o660);
    assert.equal(config.excludePath.length, 1);
    assert.equal(config.foreground, true);
  });
  it('defaults as clamd', () => {
    const { config } = parseConfig('');
    assert.equal(config.streamMaxLength, 100 * 1024 * 1024);
    assert.equal(config.maxThreads, 10);
    assert.equal(config.commandReadTimeout, 30_000);
    assert.equal(config.readTimeout, 120_000);
    assert.equal(config.maxConnectionQueueLength, 200);
  });
  it('errors on bad values and the Example line', () => {
    assert.equal(parseConfig('MaxThreads many').errors.length, 1);
    assert.equal(parseConfig('AllowAllMatchScan maybe').errors.length, 1);
    assert.equal(parseConfig('Example').errors.length, 1);
    assert.equal(parseSize('10k'), 10240);
    assert.equal(parseSize('1M'), 1048576);
    assert.equal(parseSize('1g'), 1024 ** 3);
    assert.equal(parseSize('1T'), undefined);
  });
});

describe('RequestReader', () => {
  it('reads commands and exact counts across chunk boundaries, views within one chunk', async () => {
    const src = new EventEmitter();
    const reader = new RequestReader(src as unknown as ConstructorParameters<typeof RequestReader>[0]);
    const payload = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
    const whole = Buffer.concat([Buffer.from('zINS'), Buffer.from('TREAM\0'), Buffer.from([0, 0, 1]), Buffer.concat([Buffer.from([44]), payload.subarray(0, 100)]), payload.subarray(100, 300), Buffer.from('nPING\n')]);
    // Delivered in uneven chunks, some before and some after the reads ask for them.
    const cuts = [3, 7, 11, 13, 120, 410, whole.length];
    let at = 0;
    for (const c of cuts.slice(0, 3)) { src.emit('data', whole.subarray(at, c)); at = c; }
    const cmd = await reader.readCommand(1000);
    assert.deepEqual(cmd, { kind: 'command', text: 'INSTREAM', term: '\0', oldStyle: false });
    const pendingHeader = reader.readExact(4, 1000);
    for (const c of cuts.slice(3)) { src.emit('data', whole.subarray(at, c)); at = c; }
    const h = await pendingHeader;
    assert.ok(Buffer.isBuffer(h));
    assert.equal(h.readUInt32BE(0), 300);
    const parts: Buffer[] = [];
    assert.equal(await reader.readParts(300, 1000, parts), 'ok');
    assert.ok(parts.length >= 2, 'the payload arrived in several chunks and is handed out as views');
    assert.deepEqual(Buffer.concat(parts), payload);
    assert.deepEqual(await reader.readCommand(1000), { kind: 'command', text: 'PING', term: '\n', oldStyle: false });
    assert.equal(reader.pending, 0);
    src.emit('end');
    assert.deepEqual(await reader.readCommand(1000), { kind: 'eof' });
    assert.equal(await reader.readExact(1, 1000), 'eof');
  });

  it('times out a read that never completes, and reports a command buffer overflow', async () => {
    const src = new EventEmitter();
    const reader = new RequestReader(src as unknown as ConstructorParameters<typeof RequestReader>[0]);
    src.emit('data', Buffer.from('zPI'));
    assert.deepEqual(await reader.readCommand(30), { kind: 'timeout' });
    assert.equal(await reader.readParts(10, 30, []), 'timeout');
    const big = new EventEmitter();
    const r2 = new RequestReader(big as unknown as ConstructorParameters<typeof RequestReader>[0]);
    for (let i = 0; i < 5; i++) big.emit('data', Buffer.alloc(1000, 0x7a));
    assert.deepEqual(await r2.readCommand(1000), { kind: 'overflow' });
  });
});
