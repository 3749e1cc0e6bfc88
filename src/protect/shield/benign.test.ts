/**
 * Heavy benign writers in a protected folder of 1,000 documents (canaries in it and in every
 * sub-folder) must raise no alert: `tar czf` of the folder into itself, a build writing gzip and
 * brotli files (twice, and cleaned in between), compressing documents in place (gzip, brotli),
 * `git init/add/commit/gc`, copying in 1,000 JPEG and ZIP files, and editor-style atomic saves
 * of 200 documents. The false-positive count (alerts) and the signals seen are reported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { Shield } from './shield.js';
import { makeDocument, makeDocuments } from './testdocs.js';
import { makeZip, prng } from './formats.js';

const base = mkdtempSync(join(tmpdir(), 'vigil-shield-benign-'));
const root = join(base, 'Documents');
const docs = makeDocuments(root, 1000, { seed: 3, dirs: 20 });
let shield: Shield;

test.before(async () => {
  // Files must have been there a while to count as documents that could be lost (as in real use).
  shield = new Shield({ roots: [root], action: 'alert', canaryDepth: 1, refreshMs: 0 });
  await shield.start();
});
test.after(async () => {
  await shield.close();
  rmSync(base, { recursive: true, force: true });
});

/** Lets the watcher deliver and the detector judge what happened so far. */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 800));
  await shield.idle();
}

function signalsSeen(): string {
  return [...shield.detector.counts].map(([k, n]) => `${k}×${n}`).join(' ') || 'none';
}

const sh = (cmd: string, args: string[], cwd = root): void => {
  execFileSync(cmd, args, {
    cwd, stdio: 'ignore',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.org', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.org' },
  });
};

test('tar czf of the folder into itself', async (t) => {
  const t0 = performance.now();
  try {
    sh('tar', ['czf', join(root, 'backup.tar.gz'), '--exclude=./backup.tar.gz', '.']);
  } catch (e) {
    // GNU tar exits 1 when a file changed while read; anything else is a failure of the test.
    if ((e as { status?: number }).status !== 1) throw e;
  }
  await settle();
  t.diagnostic(`tar czf: ${(performance.now() - t0).toFixed(0)} ms; alerts ${shield.alerts.length}; signals ${signalsSeen()}`);
  assert.equal(shield.alerts.length, 0);
});

test('a build writing gzip and brotli files, rebuilt and cleaned', async (t) => {
  const rnd = prng(5);
  const build = (): void => {
    const out = join(root, 'build', 'dist');
    mkdirSync(out, { recursive: true });
    for (let i = 0; i < 300; i++) {
      const js = Buffer.from(`// module ${i}\n` + Array.from({ length: 200 }, (_, k) => `export const v${k} = ${Math.floor(rnd() * 1e6)};`).join('\n'));
      writeFileSync(join(out, `chunk-${i}.js`), js);
      writeFileSync(join(out, `chunk-${i}.js.gz`), gzipSync(js));
      writeFileSync(join(out, `chunk-${i}.js.br`), brotliCompressSync(js));
    }
  };
  build();
  await settle();
  build();
  await settle();
  rmSync(join(root, 'build'), { recursive: true });
  build();
  await settle();
  t.diagnostic(`build (3 × 900 files): alerts ${shield.alerts.length}; signals ${signalsSeen()}`);
  assert.equal(shield.alerts.length, 0);
});

test('documents compressed in place: gzip (original removed) and brotli copies replacing originals', async (t) => {
  const texts = docs.filter((p) => /\.(txt|csv|md|json|html)$/.test(p));
  const gz = texts.slice(0, 100);
  sh('gzip', gz);
  for (const p of texts.slice(100, 200)) {
    writeFileSync(p + '.br', brotliCompressSync(readFileSync(p)));
    unlinkSync(p);
  }
  await settle();
  t.diagnostic(`gzip of 100 and brotli of 100 documents in place: alerts ${shield.alerts.length}; signals ${signalsSeen()}`);
  assert.equal(shield.alerts.length, 0);
});

test('git init, add, commit and gc in the folder', async (t) => {
  const t0 = performance.now();
  sh('git', ['init', '-q']);
  sh('git', ['add', '.']);
  sh('git', ['commit', '-q', '-m', 'documents']);
  sh('git', ['gc', '-q', '--prune=now']);
  await settle();
  t.diagnostic(`git init/add/commit/gc: ${(performance.now() - t0).toFixed(0)} ms; alerts ${shield.alerts.length}; signals ${signalsSeen()}`);
  assert.equal(shield.alerts.length, 0);
});

test('copying in 1,000 JPEG and ZIP files', async (t) => {
  const src = join(base, 'camera');
  mkdirSync(src);
  const rnd = prng(9);
  for (let i = 0; i < 500; i++) {
    writeFileSync(join(src, `IMG_${String(i).padStart(4, '0')}.jpg`), makeDocument('jpg', rnd));
    writeFileSync(join(src, `archive-${i}.zip`), makeZip([
      { name: `report-${i}.txt`, data: makeDocument('txt', rnd) },
      { name: `photo-${i}.jpg`, data: makeDocument('jpg', rnd), store: true },
    ]));
  }
  sh('cp', ['-r', src, join(root, 'Imported photos')]);
  await settle();
  t.diagnostic(`cp of 500 JPEG + 500 ZIP: alerts ${shield.alerts.length}; signals ${signalsSeen()}`);
  assert.equal(shield.alerts.length, 0);
});

test('editor-style atomic saves of 200 documents (write a temporary file, rename over)', async (t) => {
  const rnd = prng(13);
  const targets = docs.filter((p) => readdirSync(dirname(p)).includes(basename(p))).slice(0, 200);
  assert.equal(targets.length, 200);
  for (const p of targets) {
    const tmpName = join(dirname(p), `.${basename(p)}.${Math.floor(rnd() * 1e9).toString(36)}.tmp`);
    writeFileSync(tmpName, makeDocument(extname(p).slice(1), rnd));
    renameSync(tmpName, p);
  }
  await settle();
  t.diagnostic(`200 atomic saves: alerts ${shield.alerts.length}; signals ${signalsSeen()}`);
  assert.equal(shield.alerts.length, 0);
});

test('false positives over all benign writers', (t) => {
  t.diagnostic(`false positives (alerts): ${shield.alerts.length}; per-file signals seen: ${signalsSeen()}`);
  assert.equal(shield.alerts.length, 0);
});

test('control: the shield was live all along (3 documents encrypted in place raise an alert)', async () => {
  const victims = docs.filter((p) => p.endsWith('.pdf')).slice(0, 3);
  for (const p of victims) writeFileSync(p, createCipheriv('aes-256-ctr', randomBytes(32), randomBytes(16)).update(readFileSync(p)));
  await settle();
  assert.equal(shield.alerts.length, 1);
  assert.match(shield.alerts[0]!.reason, /^rate: 3 files/);
  assert.deepEqual(new Set(shield.alerts[0]!.files), new Set(victims));
});
