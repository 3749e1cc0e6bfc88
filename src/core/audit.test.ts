/**
 * The audit log: the chain holds across appends (also from concurrent processes), and editing,
 * removing, inserting, reordering or cutting any line is found and located.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditLog, verifyAuditLog } from './audit.js';

function withLog(fn: (file: string, dir: string) => void | Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-audit-'));
  return Promise.resolve(fn(join(dir, 'audit.ndjson'), dir)).finally(() => rmSync(dir, { recursive: true, force: true }));
}

function fill(file: string, n: number): string[] {
  const log = new AuditLog(file);
  for (let i = 0; i < n; i++) log.append(i % 3 === 0 ? 'detection' : i % 3 === 1 ? 'quarantine' : 'update', { path: `/srv/f${i}`, name: `Sig.${i}`, ü: 'ünïcode' }, new Date(Date.UTC(2026, 10, 29, 12, 0, i)));
  return readFileSync(file, 'utf8').split('\n').slice(0, -1);
}

describe('audit log', () => {
  it('chains every entry and verifies', () => withLog((file) => {
    const lines = fill(file, 40);
    assert.equal(lines.length, 40);
    const v = verifyAuditLog(file);
    assert.deepEqual(v, { ok: true, entries: 40, problems: [] });
    const first = JSON.parse(lines[0]!) as { seq: number; prev: string; kind: string };
    assert.equal(first.seq, 1);
    assert.equal(first.prev, '0'.repeat(64));
  }));

  it('finds an edit, a removal, an insertion, a swap and a cut at every position', () => withLog((file) => {
    const lines = fill(file, 12);
    const head = readFileSync(`${file}.head`, 'utf8');
    const check = (label: string, changed: string[], expectLine: number): void => {
      writeFileSync(file, changed.map((l) => `${l}\n`).join(''));
      writeFileSync(`${file}.head`, head);
      const v = verifyAuditLog(file);
      assert.equal(v.ok, false, `${label}: not detected`);
      assert.ok(v.problems.some((p) => p.line === expectLine || (expectLine > changed.length && p.line === changed.length)), `${label}: problems ${JSON.stringify(v.problems)} do not point at line ${expectLine}`);
    };
    for (let i = 0; i < lines.length; i++) {
      // An edit inside the data keeps the line valid JSON: only the chain shows it (at the next line, or the head for the last).
      const edited = [...lines];
      edited[i] = edited[i]!.replace(`"name":"Sig.${i}"`, `"name":"Sig.${i}x"`);
      assert.notEqual(edited[i], lines[i]);
      check(`edit line ${i + 1}`, edited, i + 2);
      check(`remove line ${i + 1}`, lines.filter((_, k) => k !== i), i + 1);
      check(`repeat line ${i + 1}`, [...lines.slice(0, i), lines[i]!, ...lines.slice(i)], i + 2);
      if (i + 1 < lines.length) check(`swap lines ${i + 1} and ${i + 2}`, [...lines.slice(0, i), lines[i + 1]!, lines[i]!, ...lines.slice(i + 2)], i + 1);
      if (i > 0) check(`cut from line ${i + 1}`, lines.slice(0, i), i);
    }
    // Untouched, it verifies again.
    writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
    writeFileSync(`${file}.head`, head);
    assert.equal(verifyAuditLog(file).ok, true);
  }));

  it('a damaged line or a missing head is reported, never thrown', () => withLog((file) => {
    const lines = fill(file, 5);
    writeFileSync(file, [...lines.slice(0, 2), '{not json', ...lines.slice(3)].map((l) => `${l}\n`).join(''));
    const v = verifyAuditLog(file);
    assert.equal(v.ok, false);
    assert.equal(v.problems[0]?.line, 3);
    rmSync(`${file}.head`);
    assert.ok(verifyAuditLog(file).problems.some((p) => /missing/.test(p.message)));
    assert.match(verifyAuditLog(join(file, 'nope')).problems[0]?.message ?? '', /no audit log/);
  }));

  it('appends from two processes at once keep one chain', () => withLog(async (file) => {
    const self = fileURLToPath(import.meta.url);
    const isTs = self.endsWith('.ts');
    const mod = self.replace(/audit\.test\.(ts|js)$/, isTs ? 'audit.ts' : 'audit.js');
    const code = `import { AuditLog } from ${JSON.stringify(mod)}; const l = new AuditLog(${JSON.stringify(file)}); for (let i = 0; i < 100; i++) l.append('detection', { i, pid: process.pid });`;
    const run = (): Promise<number | null> => new Promise((resolve) => {
      const c = spawn(process.execPath, [...(isTs ? ['--import', 'tsx'] : []), '--input-type=module', '-e', code], { stdio: 'ignore' });
      c.on('exit', (code) => resolve(code));
    });
    assert.deepEqual(await Promise.all([run(), run()]), [0, 0]);
    const v = verifyAuditLog(file);
    assert.deepEqual(v.problems, []);
    assert.equal(v.entries, 200);
  }));
});
