/**
 * A child process for the update fault-injection test: installs one bundle file and SIGKILLs
 * itself at the named step, the way a crash, a power cut or `kill -9` would stop it.
 *
 * In: argv `DB BUNDLE PUBKEY_FILE LOGPUBKEY_FILE`; env `VIGIL_UPDATE_KILL_AT` (the step at which
 * to die; none: run to the end) and `VIGIL_UPDATE_STEPS` (a file to which every step reached is
 * appended, one per line). Out: the installed version on stdout, exit 0; exit 3 on an error.
 * Why a separate process: only a real SIGKILL leaves the state a crash leaves.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { DbStore } from './install.js';

const [db, bundle, pubFile, logPubFile] = process.argv.slice(2);
const killAt = process.env['VIGIL_UPDATE_KILL_AT'];
const stepsFile = process.env['VIGIL_UPDATE_STEPS'];

async function main(): Promise<void> {
  if (!db || !bundle || !pubFile || !logPubFile) throw new Error('usage: install-fault-driver DB BUNDLE PUBKEY LOGPUBKEY');
  const r = await new DbStore(db).install(readFileSync(bundle), {
    pubkey: readFileSync(pubFile, 'utf8'),
    logPubkey: readFileSync(logPubFile, 'utf8'),
    step: (step) => {
      if (stepsFile) appendFileSync(stepsFile, `${step}\n`);
      if (step === killAt) process.kill(process.pid, 'SIGKILL');
    },
  });
  process.stdout.write(`${r.status} ${r.installed.version}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 3;
});
