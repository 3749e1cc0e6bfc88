/**
 * Embedded types: `vigil scan` against `clamscan` on files that carry other files inside them —
 * a ZIP appended to a PE or to data (self-extractors), a PE appended to a PE (droppers), and the
 * same below a ZIP or gzip layer — with marks planted in the embedded files only. The same `FOUND`
 * lines in default mode, with `--allmatch`, at low recursion limits and with a small
 * `--max-embeddedpe`. PEs are built with mingw-w64; skips with a message when clamscan or the
 * compiler is absent.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';
import { buildPe } from '../helpers/exe-builders.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const CC = 'x86_64-w64-mingw32-gcc';
const HAVE = spawnSync(CC, ['--version']).status === 0 && spawnSync('zip', ['-v']).status === 0;

function compile(dir: string, name: string, body: string): Buffer {
  writeFileSync(join(dir, `${name}.c`), body);
  const r = spawnSync(CC, ['-O1', '-s', '-o', join(dir, `${name}.exe`), join(dir, `${name}.c`)]);
  if (r.status !== 0) throw new Error(`${CC} failed: ${r.stderr.toString()}`);
  return readFileSync(join(dir, `${name}.exe`));
}

function zipOf(dir: string, files: Record<string, Buffer>): Buffer {
  const d = mkdtempSync(join(dir, 'z-'));
  for (const [n, b] of Object.entries(files)) writeFileSync(join(d, n), b);
  spawnSync('zip', ['-q', 'out.zip', ...Object.keys(files)], { cwd: d });
  return readFileSync(join(d, 'out.zip'));
}

test(`embedded files: SFX ZIPs and PEs inside PEs agree with clamscan (seed ${SEED})`, { skip: CLAMSCAN_SKIP || (!HAVE && `${CC} or zip is not installed`) }, async (t) => {
  const rng = new Prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-emb-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const stub = compile(dir, 'stub', 'int main(void){return 0;}\n');
  const hashes: string[] = [];
  const payload = (f: number): Buffer => {
    const b = Buffer.concat([Buffer.from(rng.bytes(rng.int(20, 300))), Buffer.from(rng.pick(MARKS), 'latin1'), Buffer.from(rng.bytes(rng.int(0, 300)))]);
    if (rng.chance(0.4)) hashes.push(`${createHash('md5').update(b).digest('hex')}:${b.length}:Inner.Hash.${f}`);
    return b;
  };
  // PEs built by code carry no stray `MZ`: ClamAV's ten embedded-type slots reach the dropped PE.
  const codePe = (seed: number, mark?: string): Buffer => {
    const b = Buffer.from(buildPe({ seed, sections: [{ rawSize: 0x400 }, { rawSize: 0x200 }], entry: { section: 0, offset: 0 } }).bytes);
    for (let i = 0; i + 1 < b.length; i++) if (b[i] === 0x4d && b[i + 1] === 0x5a && i > 0) b[i] = 0; // no stray MZ in the random sections
    if (mark) b.write(mark, 0x400 + 16, 'latin1');
    return b;
  };
  for (let f = 36; f < 48; f++) {
    let bytes: Buffer;
    const dropped = codePe(f * 7 + 1, rng.pick(MARKS));
    switch (f % 4) {
      case 0: bytes = Buffer.concat([codePe(f * 7), dropped]); break;
      case 1: bytes = Buffer.concat([codePe(f * 7), codePe(f * 7 + 2), dropped]); break;
      case 2: bytes = zipOf(dir, { 'drop.exe': Buffer.concat([codePe(f * 7), dropped]) }); break;
      default: bytes = Buffer.concat([codePe(f * 7), zipOf(dir, { [`s${f}.bin`]: Buffer.concat([codePe(f * 7 + 3), dropped]) })]); break;
    }
    if (rng.chance(0.5)) hashes.push(`${createHash('md5').update(dropped).digest('hex')}:${dropped.length}:Dropped.Hash.${f}`);
    writeFileSync(join(data, `c${String(f).padStart(2, '0')}.bin`), bytes);
  }
  for (let f = 0; f < 36; f++) {
    const marked = compile(dir, `m${f}`, `const char *s = "${rng.pick(MARKS)}"; int main(void){return s[0];}\n`);
    let bytes: Buffer;
    switch (f % 6) {
      case 0: bytes = Buffer.concat([stub, zipOf(dir, { [`p${f}.bin`]: payload(f) })]); break; // ZIP self-extractor
      case 1: bytes = Buffer.concat([stub, marked]); break; // PE dropper
      case 2: bytes = Buffer.concat([stub, Buffer.from(rng.bytes(rng.int(0, 2000))), marked, zipOf(dir, { [`q${f}.bin`]: payload(f) })]); break;
      case 3: bytes = Buffer.concat([Buffer.from(rng.bytes(rng.int(100, 900))), zipOf(dir, { [`r${f}.bin`]: payload(f) })]); break; // data + ZIP
      case 4: bytes = zipOf(dir, { 'setup.exe': Buffer.concat([stub, marked]) }); break;
      default: bytes = gzipSync(Buffer.concat([stub, stub, marked])); break;
    }
    writeFileSync(join(data, `e${String(f).padStart(2, '0')}.bin`), bytes);
  }
  await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['--max-recursion=2'], ['--allmatch', '--max-recursion=3'], ['--max-embeddedpe=20000', '--allmatch'], ['-a']]);
});
