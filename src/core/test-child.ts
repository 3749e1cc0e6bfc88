/**
 * Running a test driver script as a child process (fault-injection tests: a real SIGKILL).
 *
 * In: the driver's path (`.ts` under the TypeScript runner, `.js` when compiled), its arguments
 * and environment, and optionally a delay after which it is SIGKILLed. Out: its exit code or
 * signal and its output.
 * Why: only a separate process killed for real leaves the state a crash leaves.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ChildRun { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** The driver beside `testFileUrl` (a test's `import.meta.url`), as `.ts` or `.js` like the test. */
export function driverBeside(testFileUrl: string, name: string): string {
  const here = fileURLToPath(testFileUrl);
  return join(dirname(here), `${name}${here.endsWith('.ts') ? '.ts' : '.js'}`);
}

export function runDriver(driver: string, args: string[], env: Record<string, string> = {}, opts: { cwd?: string; killAfterMs?: number } = {}): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(driver.endsWith('.ts') ? ['--import', 'tsx'] : []), driver, ...args], {
      ...(opts.cwd ? { cwd: opts.cwd } : {}), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    const timer = opts.killAfterMs !== undefined ? setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs) : undefined;
    child.on('close', (code, signal) => { if (timer) clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}
