/**
 * `vigil audit verify|list` and what the commands record: a manual quarantine, its restore and a
 * deletion land in the chain; an edited line makes `verify` exit 1 and name it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAudit, defaultAuditLog, recordSettings } from './audit.js';
import { runQuarantine } from './quarantine.js';

const sink = (): { write(s: string): boolean; text: () => string } => {
  let all = '';
  return { write: (s: string) => { all += s; return true; }, text: () => all };
};

describe('vigil audit', () => {
  it('records quarantine actions and finds an edited entry', async () => {
    const home = mkdtempSync(join(tmpdir(), 'vigil-audit-cli-'));
    const saved = process.env['VIGIL_HOME'];
    process.env['VIGIL_HOME'] = home;
    try {
      const file = join(home, 'sample.txt');
      writeFileSync(file, 'operator says: suspicious');
      const q = sink();
      assert.equal(await runQuarantine(['add', file], { stdout: q, stderr: sink() }), 0);
      const id = /^([0-9a-f]+): /.exec(q.text())?.[1] ?? '';
      assert.notEqual(id, '');
      assert.equal(await runQuarantine(['restore', id], { stdout: sink(), stderr: sink() }), 0);
      assert.equal(readFileSync(file, 'utf8'), 'operator says: suspicious');
      const out = sink();
      assert.equal(await runAudit(['list'], { stdout: out, stderr: sink() }), 0);
      assert.match(out.text(), /^1\t\S+\tquarantine\t.*"reason":"manual"/m);
      assert.match(out.text(), /^2\t\S+\tquarantine-restore\t/m);
      const ok = sink();
      assert.equal(await runAudit(['verify'], { stdout: ok, stderr: sink() }), 0);
      assert.match(ok.text(), /^OK: 2 entries, chain intact/);
      // Rewrite history: the first entry now claims another file.
      const log = defaultAuditLog();
      writeFileSync(log, readFileSync(log, 'utf8').replace('sample.txt', 'other.txt'));
      const bad = sink();
      assert.equal(await runAudit(['verify'], { stdout: bad, stderr: sink() }), 1);
      assert.match(bad.text(), /audit\.ndjson:2: does not chain to line 1/);
      assert.equal(await runAudit(['verify', '--log', join(home, 'none.ndjson')], { stdout: sink(), stderr: sink() }), 2);
    } finally {
      if (saved === undefined) delete process.env['VIGIL_HOME']; else process.env['VIGIL_HOME'] = saved;
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('records setting changes: every key the first time, then only what changed, with old and new values', async () => {
    const home = mkdtempSync(join(tmpdir(), 'vigil-audit-cli-'));
    const saved = process.env['VIGIL_HOME'];
    process.env['VIGIL_HOME'] = home;
    try {
      assert.deepEqual(recordSettings('daemon', { socket: '/run/a.sock', threads: 2, exclude: [/\.iso$/] }), ['exclude', 'socket', 'threads']);
      assert.deepEqual(recordSettings('daemon', { socket: '/run/a.sock', threads: 2, exclude: [/\.iso$/] }), []);
      assert.deepEqual(recordSettings('daemon', { socket: '/run/b.sock', threads: 2, exclude: [/\.iso$/], publisherKey: 'ab12' }), ['publisherKey', 'socket']);
      const lines = readFileSync(defaultAuditLog(), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; data: { component: string; first: boolean; changed: Record<string, { from: unknown; to: unknown }> } });
      assert.equal(lines.length, 2);
      assert.equal(lines[0]!.kind, 'setting-change');
      assert.equal(lines[0]!.data.first, true);
      assert.deepEqual(lines[0]!.data.changed['exclude'], { from: null, to: ['\\.iso$'] });
      assert.deepEqual(lines[1]!.data.changed, { publisherKey: { from: null, to: 'ab12' }, socket: { from: '/run/a.sock', to: '/run/b.sock' } });
      const v = sink();
      assert.equal(await runAudit(['verify'], { stdout: v, stderr: sink() }), 0);
      assert.match(v.text(), /OK: 2 entries, chain intact/);
    } finally {
      if (saved === undefined) delete process.env['VIGIL_HOME']; else process.env['VIGIL_HOME'] = saved;
      rmSync(home, { recursive: true, force: true });
    }
  });
});
