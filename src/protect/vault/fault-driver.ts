/**
 * A child process for the vault's fault-injection test: runs one vault operation and SIGKILLs
 * itself at the named step, the way a crash or `kill -9` would stop it.
 *
 * In: argv `quarantine VAULT PATH` | `restore VAULT ID [force]`; env `VIGIL_VAULT_KILL_AT` (the
 * step at which to die; none: run to the end) and `VIGIL_VAULT_STEPS` (a file to which every step
 * reached is appended, one per line, so that the test learns the steps there are).
 * Out: on completion, the operation's result as JSON on stdout, exit 0; exit 3 on an error.
 * Why a separate process: only a real SIGKILL leaves the state a crash leaves (no finally blocks,
 * no flushed buffers).
 */
import { appendFileSync } from 'node:fs';
import { openVault } from './index.js';

const [op, dir, arg, flag] = process.argv.slice(2);
const killAt = process.env['VIGIL_VAULT_KILL_AT'];
const stepsFile = process.env['VIGIL_VAULT_STEPS'];

async function main(): Promise<void> {
  if (!op || !dir || !arg) throw new Error('usage: fault-driver quarantine VAULT PATH | restore VAULT ID [force]');
  const vault = openVault(dir, {
    onStep: (step) => {
      if (stepsFile) appendFileSync(stepsFile, `${step}\n`);
      if (step === killAt) process.kill(process.pid, 'SIGKILL');
    },
  });
  let result: unknown;
  if (op === 'quarantine') result = await vault.quarantine(arg, { detections: [{ name: 'Test.Fault', kind: 'body', layer: [], offset: 0, matched: '00' }], engine: 'vigil-0.1.0', database: { signatures: 1 } });
  else if (op === 'restore') result = await vault.restore(arg, flag === 'force' ? { force: true } : {});
  else throw new Error(`unknown operation ${op}`);
  vault.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 3;
});
