/**
 * The engine-backed ScanService: loading a database, scanning bytes and paths, allmatch, reload,
 * and the VERSION text.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ctime, EngineScanService } from './engine-service.js';

const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

describe('EngineScanService', () => {
  it('scans bytes and paths with the loaded database, allmatch included; reloads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-engsvc-'));
    try {
      writeFileSync(join(dir, 'a.hdb'), '44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n');
      writeFileSync(join(dir, 'b.ndb'), `Test.EICAR.NDB:0:*:${Buffer.from(EICAR).toString('hex')}\n`);
      const svc = new EngineScanService({ databases: [dir] });
      assert.equal(svc.version(), 'ClamAV 1.4.6');
      assert.equal((await svc.scanBuffer(Buffer.from('hello'))).verdict, 'clean');
      const one = await svc.scanBuffer(Buffer.from(EICAR));
      assert.equal(one.verdict, 'infected');
      assert.equal(one.detections.length, 1);
      const all = await svc.scanBuffer(Buffer.from(EICAR), { allmatch: true });
      assert.equal(all.detections.length, 2);
      writeFileSync(join(dir, 'x.com'), `-- ${EICAR}`);
      assert.deepEqual((await svc.scanPath(join(dir, 'x.com'))).detections.map((d) => d.name), ['Test.EICAR.NDB.UNOFFICIAL']);
      await assert.rejects(svc.scanPath(join(dir, 'missing')));
      rmSync(join(dir, 'b.ndb'));
      await svc.reload();
      assert.equal((await svc.scanPath(join(dir, 'x.com'))).verdict, 'clean');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a database that does not load', () => {
    assert.throws(() => new EngineScanService({ databases: ['/nonexistent/db'] }), /database load failed/);
  });

  it('formats ctime as C does, day padded with a space', () => {
    const t = new Date(2025, 0, 7, 3, 4, 5).getTime() / 1000;
    assert.equal(ctime(t), 'Tue Jan  7 03:04:05 2025');
  });
});
