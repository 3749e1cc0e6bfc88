/**
 * Parsing and framing of clamd requests, and clamd.conf parsing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { commandsList, parseCommand } from './commands.js';
import { takeCommand } from './framing.js';
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
      'LocalSocketMode 660', 'ExcludePath ^/proc/', 'LogFile /var/log/x', 'Foreground yes',
    ].join('\n'));
    assert.deepEqual(errors, []);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /LogFile/);
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
