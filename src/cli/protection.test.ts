/**
 * The shield end to end, as `vigil daemon --shield` runs it: 1,000 mixed documents in a protected
 * folder, a ransomware simulator (a separate process encrypting at full speed, in place or into
 * `.locked` copies, dropping notes) is detected and stopped; then `vigil rollback --since` (the
 * command the alert prints) brings every document back byte-identical and removes what the attack
 * left. Prints the number of documents the simulator had encrypted when it was stopped.
 */
import type { IncidentIdentification } from '../ransom/identify/incident.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScanner } from '../lib/scanner.js';
import { startProtection } from './protection.js';
import { runRollback } from './rollback.js';
import { spawnSimulator } from '../protect/shield/simulator.js';
import { changedSince, hashTree, makeDocuments } from '../protect/shield/testdocs.js';
import type { AlertRecord } from '../protect/shield/shield.js';

const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

const sink = (): { write(s: string): boolean; text: () => string } => {
  let all = '';
  return { write: (s: string) => { all += s; return true; }, text: () => all };
};

describe('vigil daemon --shield: detect, stop, roll back', () => {
  for (const mode of ['inplace', 'rename'] as const) {
    it(`a ${mode} encryptor over 1,000 documents is stopped and rolled back byte-identical`, async (t) => {
      const work = mkdtempSync(join(tmpdir(), 'vigil-protection-'));
      const root = join(work, 'Documents');
      const state = join(work, 'state');
      mkdirSync(root);
      mkdirSync(state);
      writeFileSync(join(state, 'eicar.ndb'), `Eicar:0:*:${Buffer.from(EICAR).toString('hex')}\n`);
      const scanner = await createScanner({ databases: [join(state, 'eicar.ndb')], threads: 1, cache: false });
      const out = sink();
      const err = sink();
      let onAlert!: (a: AlertRecord, cmd: string, id: IncidentIdentification) => void;
      const alerted = new Promise<{ a: AlertRecord; cmd: string; id: IncidentIdentification }>((resolve) => { onAlert = (a, cmd, id) => resolve({ a, cmd, id }); });
      try {
        makeDocuments(root, 1000, { seed: mode === 'inplace' ? 7 : 8 });
        const svc = await startProtection({
          paths: [root], scanner, shieldAction: 'kill', watchAction: 'report', snapshotEvery: 0,
          versionsDir: join(state, 'versions'), shieldDir: join(state, 'shield'), watchState: join(state, 'watch'), vault: join(state, 'vault'),
          stdout: out, stderr: err, onAlert,
        });
        let stopped = false;
        try {
          await svc.ready;
          const before = new Map([...hashTree(root)].filter(([p]) => !svc.shield.isCanary(p)));
          assert.equal(before.size, 1000);
          // Let the watchers settle after the snapshot, then attack.
          await new Promise((r) => setTimeout(r, 2500));
          const started = Date.now();
          const child = spawnSimulator({ root, mode });
          const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
          // The shield kills the writer before it reports: after an exit, give the alert a moment.
          const late = (ms: number) => new Promise<undefined>((r) => setTimeout(() => r(undefined), ms));
          const first = await Promise.race([alerted, exited.then(() => Promise.race([alerted, late(5000)])), late(60_000)]);
          if (!first) child.kill('SIGKILL');
          assert.ok(first, `no alert; the simulator ran to its end or for 60 s (stderr: ${err.text().slice(0, 500)})`);
          const ended = await exited;
          assert.equal(ended.signal, 'SIGKILL', `the simulator was killed by the shield (exit ${ended.code}, ${ended.signal})`);
          await svc.shield.idle();
          const hit = changedSince(before, hashTree(root));
          t.diagnostic(`${mode}: alert ${first.a.detectedAt - started} ms after the start (${first.a.reason}); ${hit.length} of 1,000 documents encrypted or removed when the simulator was stopped; rollback: ${first.cmd}`);
          // The target is at most 10 (CryptoDrop's median); the bound leaves room for a loaded machine.
          assert.ok(hit.length <= 100, `${hit.length} documents lost before the stop`);
          assert.match(out.text(), /"rollback":"vigil rollback --since /);
          // The alert says what the attack probably was: identification ran on the files it changed.
          assert.equal(first.id.error, undefined);
          assert.ok(first.id.looked.names + first.id.looked.notes > 0, `identification looked at the files of the alert: ${JSON.stringify(first.id)}`);
          for (const c of first.id.candidates) assert.ok(c.evidence.length > 0, `${c.name} named without evidence`);
          t.diagnostic(`${mode}: identification looked at ${JSON.stringify(first.id.looked)}; top: ${first.id.candidates.map((c) => `${c.name} ${c.confidence}`).join(', ') || 'none'}; ambiguous: ${first.id.ambiguous.slice(0, 2).join('; ')}`);
          await svc.stop();
          stopped = true;
          // The printed command, pointed at this test's store.
          const since = /--since (\S+)/.exec(first.cmd)?.[1] ?? '';
          const rb = sink();
          const rbErr = sink();
          const code = await runRollback(['--since', since, '--store', join(state, 'versions'), root], { stdout: rb, stderr: rbErr });
          assert.equal(code, 0, `rollback exit ${code}: ${rbErr.text().slice(0, 800)}`);
          const after = new Map([...hashTree(root)].filter(([p]) => !svc.shield.isCanary(p)));
          assert.deepEqual(changedSince(before, after), [], `every document byte-identical after rollback; rollback said: ${rb.text().slice(0, 2000)} ${rbErr.text().slice(0, 1000)}`);
          assert.deepEqual([...after.keys()].filter((p) => !before.has(p)), [], `nothing the attack created is left; rollback said: ${rb.text().slice(0, 3000)} ${rbErr.text().slice(0, 1000)}`);
        } finally {
          if (!stopped) await svc.stop();
        }
      } finally {
        await scanner.close();
        rmSync(work, { recursive: true, force: true });
      }
    });
  }
});
