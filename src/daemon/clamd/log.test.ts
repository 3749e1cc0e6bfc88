/**
 * clamd's log file: line formats, LogTime, LogClean, rotation at LogFileMaxSize, refusals.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClamdLog } from './log.js';
import { ctime } from './engine-service.js';

const withDir = (fn: (dir: string) => void): void => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clamdlog-'));
  try { fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
};

describe('ClamdLog', () => {
  it('writes clamd\'s scan lines, with the time prefix and clean objects only when asked', () => {
    withDir((dir) => {
      const file = join(dir, 'clamd.log');
      const t = 1_764_400_000;
      const log = new ClamdLog({ file, time: true, clean: false, now: () => t });
      log.found('/x/eicar.com', 'Eicar-Test-Signature');
      log.clean('/x/clean.txt');
      log.error('/x/locked', 'Access denied.');
      log.warning('something odd');
      log.close();
      const p = `${ctime(t)} -> `;
      assert.equal(readFileSync(file, 'utf8'), `${p}/x/eicar.com: Eicar-Test-Signature FOUND\n${p}/x/locked: Access denied. ERROR\n${p}WARNING: something odd\n`);
      const again = new ClamdLog({ file, clean: true });
      again.clean('instream(local)');
      again.close();
      assert.match(readFileSync(file, 'utf8'), /\ninstream\(local\): OK\n$/);
    });
  });

  it('rotates past LogFileMaxSize as clamd 1.4 does, with its notice when LogRotate is off', () => {
    withDir((dir) => {
      const file = join(dir, 'clamd.log');
      const t = 1_764_400_000;
      const log = new ClamdLog({ file, maxSize: 120, now: () => t });
      for (let i = 0; i < 5; i++) log.found(`/some/long/path/name/${i}`, 'Eicar-Test-Signature');
      log.close();
      const rotated = readdirSync(dir).filter((n) => n !== 'clamd.log');
      assert.equal(rotated.length, 1, `one rotated file: ${rotated.join(', ')}`);
      assert.match(rotated[0]!, /^clamd-\d{8}_\d{6}\.log$/);
      const old = readFileSync(join(dir, rotated[0]!), 'utf8');
      assert.match(old, /^\/some\/long\/path\/name\/0: .* FOUND\n\/some\/long\/path\/name\/1: .* FOUND\n\/some\/long\/path\/name\/2: .* FOUND\nLog size = 1\d\d, max = 120\nWARNING: Log size limit met but log file rotation turned off\. Forcing log file rotation anyways\.\n$/);
      assert.equal(readFileSync(file, 'utf8'), '/some/long/path/name/3: Eicar-Test-Signature FOUND\n/some/long/path/name/4: Eicar-Test-Signature FOUND\n');
    });
  });

  it('refuses a relative path and a symlink, and appends to an existing log', () => {
    withDir((dir) => {
      assert.throws(() => new ClamdLog({ file: 'relative.log' }), /absolute path/);
      writeFileSync(join(dir, 'target'), 'keep\n');
      symlinkSync(join(dir, 'target'), join(dir, 'link.log'));
      assert.throws(() => new ClamdLog({ file: join(dir, 'link.log') }), /ELOOP/);
      const log = new ClamdLog({ file: join(dir, 'target') });
      log.info('+++ Started');
      log.close();
      log.info('after close is ignored');
      assert.equal(readFileSync(join(dir, 'target'), 'utf8'), 'keep\n+++ Started\n');
    });
  });
});
