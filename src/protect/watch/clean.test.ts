/**
 * Clean files are never touched: 1,000 files of various types (text, random bytes, images, archives,
 * documents, executables' headers, empty files; names with unicode, spaces and leading dashes)
 * written into a watched tree are each scanned, none is acted upon, and every one keeps its content
 * and mtime.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Watcher, type WatchReport } from './watcher.js';
import { RecordingSink, eicarScanner, sleep, until } from './testkit.js';

const HEADERS: [string, Buffer][] = [
  ['txt', Buffer.from('Plain text, nothing to see.\n')],
  ['png', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex')],
  ['jpg', Buffer.from('ffd8ffe000104a464946', 'hex')],
  ['zip', Buffer.from('504b0304140000000000', 'hex')],
  ['pdf', Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1')],
  ['elf', Buffer.from('7f454c46020101000000', 'hex')],
  ['exe', Buffer.from('4d5a90000300000004000000ffff', 'hex')],
  ['gz', Buffer.from('1f8b0800000000000003', 'hex')],
  ['json', Buffer.from('{"a": [1, 2, 3], "b": "ü"}')],
  ['bin', Buffer.alloc(0)],
];
const NAMES = ['doc', 'ünïcødé 文件', 'with space', '-leading-dash', '--double', 'émoji 😀', '.hidden'];

test('1,000 clean files of various types are scanned and never touched', { timeout: 60_000 }, async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'vigil-watch-clean-'));
  const scanner = await eicarScanner(join(base, 'db'));
  const root = join(base, 'tree');
  mkdirSync(root);
  const sink = new RecordingSink(join(base, 'vault'));
  const reports: WatchReport[] = [];
  const w = new Watcher({ roots: [root], scanner, stateDir: join(base, 'state'), sink, checkpointMs: 0, reportClean: true, onReport: (r) => reports.push(r) });
  await w.start();
  try {
    const files = new Map<string, { sha: string; mtimeMs: number }>();
    const t0 = Date.now();
    for (let i = 0; i < 1000; i++) {
      const [ext, head] = HEADERS[i % HEADERS.length]!;
      const dir = join(root, `d${i % 10}`, i % 3 === 0 ? 'nested' : '');
      mkdirSync(dir, { recursive: true });
      const p = join(dir, `${NAMES[i % NAMES.length]} ${i}.${ext}`);
      const body = ext === 'bin' && i % 20 === 9 ? Buffer.alloc(0) : Buffer.concat([head, randomBytes(i % 7 === 0 ? 64 * 1024 : 200 + (i % 500))]);
      writeFileSync(p, body);
      files.set(p, { sha: createHash('sha256').update(body).digest('hex'), mtimeMs: statSync(p).mtimeMs });
    }
    const written = Date.now() - t0;
    await until(() => reports.length >= 1000, 30_000, `1000 scan reports (have ${reports.length})`);
    await sleep(300);
    await w.idle();
    t.diagnostic(`1000 clean files written in ${written} ms, all scanned ${Date.now() - t0} ms after the first write`);
    assert.equal(sink.calls.length, 0, 'no quarantine');
    assert.ok(reports.every((r) => r.verdict === 'clean' && r.action === 'none'), JSON.stringify(reports.find((r) => r.verdict !== 'clean')));
    assert.equal(new Set(reports.map((r) => r.path)).size, 1000, 'each file scanned');
    for (const [p, before] of files) {
      const st = statSync(p);
      assert.equal(st.mtimeMs, before.mtimeMs, `${p}: mtime changed`);
      assert.equal(createHash('sha256').update(readFileSync(p)).digest('hex'), before.sha, `${p}: content changed`);
    }
  } finally {
    await w.stop();
    await scanner.close();
    rmSync(base, { recursive: true, force: true });
  }
});
