#!/usr/bin/env node
/**
 * Builds the optional fd-passing addon (native/fdpass → native/fdpass/build/Release/fdpass.node)
 * with the node-gyp that npm bundles, offline, against the installed Node headers.
 *
 * In: environment only. `VIGIL_SKIP_NATIVE=1` skips the build; `VIGIL_NATIVE_VERBOSE=1` shows
 * node-gyp's output; `npm_config_nodedir` (npm's `nodedir` setting) chooses the headers, else the
 * headers next to this Node binary or in /usr are used; nothing is downloaded.
 * Out: one line on stdout saying whether the addon was built and loads. Always exits 0: vigil works
 * without the addon, and its daemon then answers FILDES as a clamd that received no descriptor.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const addonDir = join(root, 'native', 'fdpass');
const output = join(addonDir, 'build', 'Release', 'fdpass.node');
const FALLBACK = 'the daemon will answer FILDES with "No file descriptor received"';

function say(line) {
  process.stdout.write(`vigil: ${line}\n`);
}

/** npm's bundled node-gyp: the lifecycle variable, else next to npm itself. */
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) {
    candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  const prefix = dirname(dirname(process.execPath));
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push('/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  candidates.push('/usr/share/nodejs/node-gyp/bin/node-gyp.js');
  for (const c of candidates) {
    try {
      if (c.endsWith('.js') && existsSync(c)) return realpathSync(c);
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** Headers to build against: never a download. */
function findNodeDir() {
  const hasHeaders = (d) => existsSync(join(d, 'include', 'node', 'node_api.h'));
  const configured = process.env.npm_config_nodedir;
  if (configured && hasHeaders(configured)) return configured;
  const prefix = dirname(dirname(process.execPath));
  if (hasHeaders(prefix)) return prefix;
  if (hasHeaders('/usr')) return '/usr';
  return undefined;
}

function lastErrorLine(text) {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const compiler = lines.find((l) => /: (fatal )?error:/.test(l));
  const gyp = lines.filter((l) => /error/i.test(l) && !/^gyp (info|ERR! (stack|System|command|cwd|node|not ok))/.test(l));
  return (compiler ?? gyp.at(-1) ?? lines.at(-1) ?? '').slice(0, 200);
}

function main() {
  if (process.env.VIGIL_SKIP_NATIVE === '1') {
    say(`fd-passing addon skipped (VIGIL_SKIP_NATIVE=1); ${FALLBACK}`);
    return;
  }
  if (process.platform !== 'linux' && process.platform !== 'darwin') {
    say(`fd-passing addon not built (not supported on ${process.platform}); ${FALLBACK}`);
    return;
  }
  if (!existsSync(join(addonDir, 'binding.gyp'))) {
    say(`fd-passing addon not built (no sources in ${addonDir}); ${FALLBACK}`);
    return;
  }
  const gyp = findNodeGyp();
  if (!gyp) {
    say(`fd-passing addon not built (npm's node-gyp not found); ${FALLBACK}`);
    return;
  }
  const nodedir = findNodeDir();
  if (!nodedir) {
    say(`fd-passing addon not built (no Node headers found; set npm's nodedir); ${FALLBACK}`);
    return;
  }
  const verbose = process.env.VIGIL_NATIVE_VERBOSE === '1';
  const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`], {
    cwd: addonDir,
    encoding: 'utf8',
    stdio: verbose ? 'inherit' : 'pipe',
    timeout: 180_000,
    env: { ...process.env, npm_config_nodedir: nodedir },
  });
  if (r.error || r.status !== 0 || !existsSync(output)) {
    const why = r.error ? r.error.message : lastErrorLine(`${r.stdout ?? ''}\n${r.stderr ?? ''}`);
    say(`fd-passing addon not built (node-gyp failed: ${why || `exit ${r.status}`}); ${FALLBACK}`);
    return;
  }
  try {
    const addon = createRequire(import.meta.url)(output);
    if (typeof addon.open !== 'function') throw new Error('unexpected exports');
  } catch (e) {
    say(`fd-passing addon built but does not load (${e instanceof Error ? e.message : String(e)}); ${FALLBACK}`);
    return;
  }
  say(`fd-passing addon built: ${output} (FILDES / clamdscan --fdpass supported)`);
}

try {
  main();
} catch (e) {
  say(`fd-passing addon not built (${e instanceof Error ? e.message : String(e)}); ${FALLBACK}`);
}
process.exitCode = 0;
